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
    UserUpdate,
    UserEmailChangeRequest,
    UserEmailChange,
    OperatorCreate,
    CompanyCreate,
    CompanyView,
    CompanyUpdate,
    MemberList,
    MemberInvite,
    MemberRoleChange,
    MemberRemove,
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
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
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
            AuditAction::UserUpdate => "user.update",
            AuditAction::UserEmailChangeRequest => "user.email_change_request",
            AuditAction::UserEmailChange => "user.email_change",
            AuditAction::OperatorCreate => "operator.create",
            AuditAction::CompanyCreate => "company.create",
            AuditAction::CompanyView => "company.view",
            AuditAction::CompanyUpdate => "company.update",
            AuditAction::MemberList => "member.list",
            AuditAction::MemberInvite => "member.invite",
            AuditAction::MemberRoleChange => "member.role_change",
            AuditAction::MemberRemove => "member.remove",
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
        }
    }
}

/// Whether the action was carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
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
}

impl ObjectType {
    pub fn as_str(self) -> &'static str {
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_are_dotted_and_lowercase() {
        use AuditAction::*;
        for a in [
            AuthLogin,
            AuthLoginFailed,
            AuthLogout,
            AuthPasswordReset,
            AuthPasswordResetRequest,
            AuthPasswordChange,
            MemberAccept,
            AuthSessionRevoke,
            AuthReauth,
            UserUpdate,
            UserEmailChangeRequest,
            UserEmailChange,
            OperatorCreate,
            CompanyCreate,
            CompanyView,
            CompanyUpdate,
            MemberList,
            MemberInvite,
            MemberRoleChange,
            MemberRemove,
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
        ] {
            let name = a.as_str();
            let (object, verb) = name.split_once('.').unwrap_or_default();
            assert!(!object.is_empty() && !verb.is_empty(), "{name}");
            assert_eq!(name, name.to_lowercase());
        }
    }
}
