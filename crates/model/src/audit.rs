//! Audit event types. An event is written by the `app` operation in the same
//! transaction as the change it describes; this module only names things.

/// What happened, as a dotted `<object>.<verb>` name (API.md, "Audit log").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    AuthLogin,
    AuthLoginFailed,
    AuthLogout,
    AuthPasswordReset,
    AuthPasswordResetRequest,
    AuthPasswordChange,
    MemberAccept,
    AuthSessionRevoke,
    AuthReauth,
    /// The password was right; the second factor is asked for.
    AuthMfaChallenge,
    /// A wrong, reused or expired second factor.
    AuthMfaFailed,
    /// A second factor was started or confirmed.
    AuthMfaEnrol,
    /// A second factor was removed.
    AuthMfaRemove,
    /// A second factor was renamed.
    AuthMfaRename,
    /// A recovery code stood in for a second factor.
    AuthRecoveryCodeUsed,
    /// A new set of recovery codes; the old set is void.
    AuthRecoveryCodesRenew,
    UserUpdate,
    UserEmailChangeRequest,
    UserEmailChange,
    OperatorCreate,
    CompanyCreate,
    CompanyView,
    CompanyUpdate,
    /// A company's deletion was asked for (it is destroyed 7 days later).
    CompanyDelete,
    /// A scheduled deletion was cancelled.
    CompanyDeleteCancel,
    /// A company's data and keys were destroyed.
    CompanyDestroy,
    /// A new master-key version, every data key rewrapped under it.
    KeyRotate,
    /// Master-key versions nothing needed were removed from the file.
    KeyRetire,
    /// A backup was taken.
    BackupRun,
    /// A backup was verified.
    BackupVerify,
    /// The whole system, or one object, was restored from a backup.
    BackupRestore,
    /// A restore drill ran (its outcome and figures in `reason`).
    BackupDrill,
    /// The platform's status was read (operators).
    AdminStatus,
    MemberList,
    MemberInvite,
    MemberRoleChange,
    MemberRemove,
    /// Every second factor of a user was removed (by an admin or the CLI).
    AuthMfaReset,
    /// An API token was created.
    TokenCreate,
    /// An API token was revoked by its user.
    TokenRevoke,
    /// A request the caller was not allowed to make, on no known object kind.
    AuditExport,
    RequestDenied,
    FolderView,
    FolderList,
    FolderCreate,
    FolderUpdate,
    FolderMove,
    FolderDelete,
    FolderRestore,
    DocumentView,
    DocumentCreate,
    DocumentUpdate,
    DocumentDelete,
    DocumentRestore,
    DocumentHistory,
    DocumentVersionView,
    DocumentVersionRestore,
    TemplateList,
    TemplateView,
    TemplateCreate,
    TemplateUpdate,
    FolderTemplateList,
    FolderTemplateView,
    FolderTemplateCreate,
    FolderTemplateUpdate,
    FileUpload,
    FileDownload,
    FileDelete,
    ShareList,
    ShareCreate,
    ShareUpdate,
    ShareRevoke,
    ShareAccept,
    SharedWithMe,
    SearchQuery,
    TrashList,
    /// A page of a company's audit log (or the platform's) was read.
    AuditView,
    /// Usage figures derived from the log were read.
    AuditAnalytics,
    /// Checkpoints or a proof were read.
    AuditProof,
    /// Events past their retention were deleted (the tree's hashes stay).
    AuditPrune,
    /// Security alerts sent to a company's owners and admins.
    AlertPrivilegedMember,
    AlertRequireMfaOff,
    AlertFailedSignins,
    AlertDownloads,
}

impl AuditAction {
    /// Every action.
    pub const ALL: &'static [AuditAction] = &[
        AuditAction::AuthLogin,
        AuditAction::AuthLoginFailed,
        AuditAction::AuthLogout,
        AuditAction::AuthPasswordReset,
        AuditAction::AuthPasswordResetRequest,
        AuditAction::AuthPasswordChange,
        AuditAction::MemberAccept,
        AuditAction::AuthSessionRevoke,
        AuditAction::AuthReauth,
        AuditAction::AuthMfaChallenge,
        AuditAction::AuthMfaFailed,
        AuditAction::AuthMfaEnrol,
        AuditAction::AuthMfaRemove,
        AuditAction::AuthMfaRename,
        AuditAction::AuthRecoveryCodeUsed,
        AuditAction::AuthRecoveryCodesRenew,
        AuditAction::UserUpdate,
        AuditAction::UserEmailChangeRequest,
        AuditAction::UserEmailChange,
        AuditAction::OperatorCreate,
        AuditAction::CompanyCreate,
        AuditAction::CompanyView,
        AuditAction::CompanyUpdate,
        AuditAction::CompanyDelete,
        AuditAction::CompanyDeleteCancel,
        AuditAction::CompanyDestroy,
        AuditAction::KeyRotate,
        AuditAction::KeyRetire,
        AuditAction::BackupRun,
        AuditAction::BackupVerify,
        AuditAction::BackupRestore,
        AuditAction::BackupDrill,
        AuditAction::AdminStatus,
        AuditAction::MemberList,
        AuditAction::MemberInvite,
        AuditAction::MemberRoleChange,
        AuditAction::MemberRemove,
        AuditAction::AuthMfaReset,
        AuditAction::TokenCreate,
        AuditAction::TokenRevoke,
        AuditAction::AuditExport,
        AuditAction::RequestDenied,
        AuditAction::FolderView,
        AuditAction::FolderList,
        AuditAction::FolderCreate,
        AuditAction::FolderUpdate,
        AuditAction::FolderMove,
        AuditAction::FolderDelete,
        AuditAction::FolderRestore,
        AuditAction::DocumentView,
        AuditAction::DocumentCreate,
        AuditAction::DocumentUpdate,
        AuditAction::DocumentDelete,
        AuditAction::DocumentRestore,
        AuditAction::DocumentHistory,
        AuditAction::DocumentVersionView,
        AuditAction::DocumentVersionRestore,
        AuditAction::TemplateList,
        AuditAction::TemplateView,
        AuditAction::TemplateCreate,
        AuditAction::TemplateUpdate,
        AuditAction::FolderTemplateList,
        AuditAction::FolderTemplateView,
        AuditAction::FolderTemplateCreate,
        AuditAction::FolderTemplateUpdate,
        AuditAction::FileUpload,
        AuditAction::FileDownload,
        AuditAction::FileDelete,
        AuditAction::ShareList,
        AuditAction::ShareCreate,
        AuditAction::ShareUpdate,
        AuditAction::ShareRevoke,
        AuditAction::ShareAccept,
        AuditAction::SharedWithMe,
        AuditAction::SearchQuery,
        AuditAction::TrashList,
        AuditAction::AuditView,
        AuditAction::AuditAnalytics,
        AuditAction::AuditProof,
        AuditAction::AuditPrune,
        AuditAction::AlertPrivilegedMember,
        AuditAction::AlertRequireMfaOff,
        AuditAction::AlertFailedSignins,
        AuditAction::AlertDownloads,
    ];

    /// The action named `name`, if there is one.
    pub fn parse(name: &str) -> Option<AuditAction> {
        AuditAction::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == name)
    }

    /// What the action counts as in usage figures.
    pub fn usage(self) -> Usage {
        use AuditAction::*;
        match self {
            AuthLogin => Usage::SignIn,
            AuthLoginFailed | AuthMfaFailed => Usage::FailedSignIn,
            FolderView | FolderList | DocumentView | DocumentHistory | DocumentVersionView
            | FileDownload | SearchQuery => Usage::View,
            FolderCreate
            | FolderUpdate
            | FolderMove
            | FolderDelete
            | FolderRestore
            | DocumentCreate
            | DocumentUpdate
            | DocumentDelete
            | DocumentRestore
            | DocumentVersionRestore
            | FileUpload
            | FileDelete => Usage::Edit,
            _ => Usage::Other,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            AuditAction::AuthLogin => "auth.login",
            AuditAction::AuthLoginFailed => "auth.login_failed",
            AuditAction::AuthLogout => "auth.logout",
            AuditAction::AuthPasswordReset => "auth.password_reset",
            AuditAction::AuthPasswordResetRequest => "auth.password_reset_request",
            AuditAction::AuthPasswordChange => "auth.password_change",
            AuditAction::MemberAccept => "member.accept",
            AuditAction::AuthSessionRevoke => "auth.session_revoke",
            AuditAction::AuthReauth => "auth.reauth",
            AuditAction::AuthMfaChallenge => "auth.mfa_challenge",
            AuditAction::AuthMfaFailed => "auth.mfa_failed",
            AuditAction::AuthMfaEnrol => "auth.mfa_enrol",
            AuditAction::AuthMfaRemove => "auth.mfa_remove",
            AuditAction::AuthMfaRename => "auth.mfa_rename",
            AuditAction::AuthRecoveryCodeUsed => "auth.recovery_code_used",
            AuditAction::AuthRecoveryCodesRenew => "auth.recovery_codes_renew",
            AuditAction::UserUpdate => "user.update",
            AuditAction::UserEmailChangeRequest => "user.email_change_request",
            AuditAction::UserEmailChange => "user.email_change",
            AuditAction::OperatorCreate => "operator.create",
            AuditAction::CompanyCreate => "company.create",
            AuditAction::CompanyView => "company.view",
            AuditAction::CompanyUpdate => "company.update",
            AuditAction::CompanyDelete => "company.delete",
            AuditAction::CompanyDeleteCancel => "company.delete_cancel",
            AuditAction::CompanyDestroy => "company.destroy",
            AuditAction::KeyRotate => "key.rotate",
            AuditAction::KeyRetire => "key.retire",
            AuditAction::BackupRun => "backup.run",
            AuditAction::BackupVerify => "backup.verify",
            AuditAction::BackupRestore => "backup.restore",
            AuditAction::BackupDrill => "backup.drill",
            AuditAction::AdminStatus => "admin.status",
            AuditAction::MemberList => "member.list",
            AuditAction::MemberInvite => "member.invite",
            AuditAction::MemberRoleChange => "member.role_change",
            AuditAction::MemberRemove => "member.remove",
            AuditAction::AuthMfaReset => "auth.mfa_reset",
            AuditAction::TokenCreate => "token.create",
            AuditAction::TokenRevoke => "token.revoke",
            AuditAction::AuditExport => "audit.export",
            AuditAction::RequestDenied => "request.denied",
            AuditAction::FolderView => "folder.view",
            AuditAction::FolderList => "folder.list",
            AuditAction::FolderCreate => "folder.create",
            AuditAction::FolderUpdate => "folder.update",
            AuditAction::FolderMove => "folder.move",
            AuditAction::FolderDelete => "folder.delete",
            AuditAction::FolderRestore => "folder.restore",
            AuditAction::DocumentView => "document.view",
            AuditAction::DocumentCreate => "document.create",
            AuditAction::DocumentUpdate => "document.update",
            AuditAction::DocumentDelete => "document.delete",
            AuditAction::DocumentRestore => "document.restore",
            AuditAction::DocumentHistory => "document.history",
            AuditAction::DocumentVersionView => "document.version_view",
            AuditAction::DocumentVersionRestore => "document.version_restore",
            AuditAction::TemplateList => "template.list",
            AuditAction::TemplateView => "template.view",
            AuditAction::TemplateCreate => "template.create",
            AuditAction::TemplateUpdate => "template.update",
            AuditAction::FolderTemplateList => "folder_template.list",
            AuditAction::FolderTemplateView => "folder_template.view",
            AuditAction::FolderTemplateCreate => "folder_template.create",
            AuditAction::FolderTemplateUpdate => "folder_template.update",
            AuditAction::FileUpload => "file.upload",
            AuditAction::FileDownload => "file.download",
            AuditAction::FileDelete => "file.delete",
            AuditAction::ShareList => "share.list",
            AuditAction::ShareCreate => "share.create",
            AuditAction::ShareUpdate => "share.update",
            AuditAction::ShareRevoke => "share.revoke",
            AuditAction::ShareAccept => "share.accept",
            AuditAction::SharedWithMe => "share.list_mine",
            AuditAction::SearchQuery => "search.query",
            AuditAction::TrashList => "trash.list",
            AuditAction::AuditView => "audit.view",
            AuditAction::AuditAnalytics => "audit.analytics",
            AuditAction::AuditProof => "audit.proof",
            AuditAction::AuditPrune => "audit.prune",
            AuditAction::AlertPrivilegedMember => "alert.privileged_member",
            AuditAction::AlertRequireMfaOff => "alert.require_mfa_off",
            AuditAction::AlertFailedSignins => "alert.failed_signins",
            AuditAction::AlertDownloads => "alert.downloads",
        }
    }
}

/// What an action counts as in the usage figures (views, edits, sign-ins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    View,
    Edit,
    SignIn,
    FailedSignIn,
    Other,
}

/// Whether the action was carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    Denied,
}

impl Outcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
        }
    }
}

/// The kind of object an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    User,
    Company,
    Member,
    Session,
    Folder,
    Document,
    Template,
    FolderTemplate,
    File,
    Share,
    Token,
}

impl ObjectType {
    pub const fn as_str(self) -> &'static str {
        match self {
            ObjectType::User => "user",
            ObjectType::Company => "company",
            ObjectType::Member => "member",
            ObjectType::Session => "session",
            ObjectType::Folder => "folder",
            ObjectType::Document => "document",
            ObjectType::Template => "template",
            ObjectType::FolderTemplate => "folder_template",
            ObjectType::File => "file",
            ObjectType::Share => "share",
            ObjectType::Token => "token",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_are_dotted_lowercase_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for &a in AuditAction::ALL {
            let name = a.as_str();
            let (object, verb) = name.split_once('.').unwrap_or_default();
            assert!(!object.is_empty() && !verb.is_empty(), "{name}");
            assert_eq!(name, name.to_lowercase());
            assert!(seen.insert(name), "{name} twice");
            assert_eq!(AuditAction::parse(name), Some(a));
        }
        assert_eq!(AuditAction::parse("document.nonsense"), None);
        assert_eq!(AuditAction::DocumentView.usage(), Usage::View);
        assert_eq!(AuditAction::FileUpload.usage(), Usage::Edit);
        assert_eq!(AuditAction::AuthLoginFailed.usage(), Usage::FailedSignIn);
        assert_eq!(AuditAction::AuditView.usage(), Usage::Other);
    }
}

/// The columns of a stored event that its Merkle leaf covers: every column
/// of `audit_events` but the keyed index beside them (derived data, rebuilt,
/// not verified). Personal fields are only in `personal`, as ciphertext.
#[derive(Debug, Clone, Copy, Default)]
pub struct LeafFields<'a> {
    pub seq: i64,
    pub time: i64,
    pub company_id: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    pub credential: Option<&'a str>,
    pub object_type: Option<&'a str>,
    pub object_id: Option<&'a str>,
    pub object_version: Option<i64>,
    pub action: &'a str,
    pub outcome: &'a str,
    pub reason: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub personal_key_id: Option<&'a str>,
    pub personal: Option<&'a [u8]>,
}

impl LeafFields<'_> {
    /// The leaf's bytes: a version tag, then each column in a fixed order,
    /// absent as `0x00`, present as `0x01`, a 4-byte big-endian length
    /// and the bytes (integers as 8 bytes, big-endian). Unambiguous, so no
    /// two different events share a leaf.
    pub fn encode(&self) -> Vec<u8> {
        fn bytes(out: &mut Vec<u8>, v: Option<&[u8]>) {
            match v {
                None => out.push(0),
                Some(b) => {
                    out.push(1);
                    out.extend_from_slice(
                        &u32::try_from(b.len()).unwrap_or(u32::MAX).to_be_bytes(),
                    );
                    out.extend_from_slice(b);
                }
            }
        }
        let int = |v: i64| v.to_be_bytes();
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"turva-audit-leaf-v1\n");
        bytes(&mut out, Some(&int(self.seq)));
        bytes(&mut out, Some(&int(self.time)));
        bytes(&mut out, self.company_id.map(str::as_bytes));
        bytes(&mut out, self.actor_id.map(str::as_bytes));
        bytes(&mut out, self.credential.map(str::as_bytes));
        bytes(&mut out, self.object_type.map(str::as_bytes));
        bytes(&mut out, self.object_id.map(str::as_bytes));
        bytes(
            &mut out,
            self.object_version.map(int).as_ref().map(|b| &b[..]),
        );
        bytes(&mut out, Some(self.action.as_bytes()));
        bytes(&mut out, Some(self.outcome.as_bytes()));
        bytes(&mut out, self.reason.map(str::as_bytes));
        bytes(&mut out, self.request_id.map(str::as_bytes));
        bytes(&mut out, self.personal_key_id.map(str::as_bytes));
        bytes(&mut out, self.personal);
        out
    }

    /// The leaf hash (`H(0x00 || encode())`).
    pub fn leaf_hash(&self) -> crate::merkle::Hash {
        crate::merkle::leaf_hash(&self.encode())
    }
}

#[cfg(test)]
mod leaf_tests {
    use super::LeafFields;

    #[test]
    fn every_column_changes_the_leaf_and_absent_differs_from_empty() {
        let base = LeafFields {
            seq: 7,
            time: 1,
            company_id: Some("c"),
            actor_id: Some("a"),
            credential: Some("session"),
            object_type: Some("document"),
            object_id: Some("o"),
            object_version: Some(2),
            action: "document.view",
            outcome: "allowed",
            reason: None,
            request_id: Some("r"),
            personal_key_id: Some("k"),
            personal: Some(b"sealed"),
        };
        let h = base.leaf_hash();
        let variants = [
            LeafFields { seq: 8, ..base },
            LeafFields { time: 2, ..base },
            LeafFields {
                company_id: None,
                ..base
            },
            LeafFields {
                actor_id: Some("b"),
                ..base
            },
            LeafFields {
                credential: Some("token:x"),
                ..base
            },
            LeafFields {
                object_type: Some("folder"),
                ..base
            },
            LeafFields {
                object_id: Some("p"),
                ..base
            },
            LeafFields {
                object_version: None,
                ..base
            },
            LeafFields {
                action: "document.update",
                ..base
            },
            LeafFields {
                outcome: "denied",
                ..base
            },
            LeafFields {
                reason: Some(""),
                ..base
            },
            LeafFields {
                request_id: None,
                ..base
            },
            LeafFields {
                personal_key_id: Some("l"),
                ..base
            },
            LeafFields {
                personal: Some(b"sealeD"),
                ..base
            },
            // Moving a byte between neighbouring columns changes it too.
            LeafFields {
                company_id: Some("ca"),
                actor_id: Some(""),
                ..base
            },
        ];
        for (i, v) in variants.iter().enumerate() {
            assert_ne!(v.leaf_hash(), h, "variant {i}");
        }
    }
}
