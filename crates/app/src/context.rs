//! Who is asking and from where.

use std::net::IpAddr;

/// Where a request comes from: filled in by the web layer (or the CLI).
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The client address (a trusted proxy's X-Forwarded-For, else the peer).
    pub ip: IpAddr,
    pub user_agent: String,
    pub request_id: String,
}

impl Ctx {
    /// The context of a command run on the server's own machine.
    pub fn cli() -> Self {
        Ctx {
            ip: IpAddr::from([127, 0, 0, 1]),
            user_agent: "turva-cli".into(),
            request_id: "cli".into(),
        }
    }
}

/// A signed-in caller, as established from a session token. Carries no
/// roles: those are re-read by every operation.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub language: String,
    pub is_operator: bool,
    pub session_id: String,
    /// Compared with the `X-CSRF-Token` header on cookie-authenticated writes.
    pub csrf_token: String,
    /// When the password (or a second factor) was last given in this session.
    pub auth_at: i64,
    /// The user has a confirmed second factor.
    pub has_mfa: bool,
    /// A second factor is required and the user has none: until they enrol,
    /// only enrolment, `GET /me`, re-auth and sign-out are open to them.
    pub must_enrol: bool,
    /// How the caller authenticated, as the audit log names it: `session`,
    /// or `token:<id>` for an API token.
    pub credential: String,
    /// Set when the caller came with an API token: what it is limited to.
    pub token: Option<TokenScope>,
}

/// The limits of an API token: one company, and perhaps reads only. The
/// rights inside that company are always the user's own, re-read on
/// every request.
#[derive(Debug, Clone)]
pub struct TokenScope {
    pub id: String,
    pub company_id: String,
    pub read_only: bool,
}

impl Actor {
    /// Whether the caller's credential reaches `company_id` at all: a
    /// session reaches every company of its user, a token only its own.
    /// Everywhere else the company is as if it did not exist.
    pub fn reaches(&self, company_id: &str) -> bool {
        self.token
            .as_ref()
            .is_none_or(|t| t.company_id == company_id)
    }

    /// The one company a token is limited to (`None`: a session).
    pub fn token_company(&self) -> Option<&str> {
        self.token.as_ref().map(|t| t.company_id.as_str())
    }
}
