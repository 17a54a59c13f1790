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
}

impl ObjectType {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::User => "user",
            ObjectType::Company => "company",
            ObjectType::Member => "member",
            ObjectType::Session => "session",
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
        ] {
            let name = a.as_str();
            let (object, verb) = name.split_once('.').unwrap_or_default();
            assert!(!object.is_empty() && !verb.is_empty(), "{name}");
            assert_eq!(name, name.to_lowercase());
        }
    }
}
