//! What a request made with an API token may reach, before any object is
//! looked at.
//!
//! Threat: a token leaks from an integration's configuration. It must then
//! open as little as possible: never the account (its password, factors,
//! sessions, other tokens, sign-in), never another company (`reaches`, in
//! the app's fact loaders, makes other companies look absent), and with
//! `read_only` nothing but reads. Inside its company the token holds
//! exactly its user's current rights, decided by [`super::decide`] and
//! [`super::decide_object`] like any other request.

/// Which part of the API a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// `GET /me`: who the token belongs to.
    WhoAmI,
    /// The account and signing in: `/me…` (but `GET /me`) and `/auth/…`.
    Account,
    /// Everything else: company data and the audit log.
    Company,
}

impl Surface {
    /// The surface of an API path (with or without the `/api/v1` prefix).
    pub fn of(path: &str, is_read: bool) -> Surface {
        let path = path.strip_prefix("/api/v1").unwrap_or(path);
        if path == "/me" && is_read {
            Surface::WhoAmI
        } else if path == "/me" || path.starts_with("/me/") || path.starts_with("/auth/") {
            Surface::Account
        } else {
            Surface::Company
        }
    }
}

/// Why a token request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// The account is not a token's to touch: 401, as if no credential.
    NotForTokens,
    /// A write with a read-only token: 403.
    ReadOnly,
}

/// Decides whether a token (read-only or not) may make a request that
/// reads (`is_read`: GET or HEAD) or writes, on `surface`.
pub fn token_request(read_only: bool, is_read: bool, surface: Surface) -> Result<(), TokenRefusal> {
    match surface {
        Surface::Account => Err(TokenRefusal::NotForTokens),
        Surface::WhoAmI => Ok(()),
        Surface::Company if read_only && !is_read => Err(TokenRefusal::ReadOnly),
        Surface::Company => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        use Surface::*;
        use TokenRefusal::*;
        // (path, is_read, read_only, expected)
        let cases: &[(&str, bool, bool, Result<(), TokenRefusal>)] = &[
            ("/api/v1/me", true, true, Ok(())),
            ("/api/v1/me", false, false, Err(NotForTokens)),
            ("/api/v1/me/tokens", true, false, Err(NotForTokens)),
            ("/api/v1/me/tokens", false, false, Err(NotForTokens)),
            ("/api/v1/me/mfa", true, false, Err(NotForTokens)),
            ("/api/v1/me/mfa/totp", false, false, Err(NotForTokens)),
            ("/api/v1/me/password", false, false, Err(NotForTokens)),
            ("/api/v1/me/sessions", true, false, Err(NotForTokens)),
            ("/api/v1/auth/logout", false, false, Err(NotForTokens)),
            ("/api/v1/auth/reauth", false, false, Err(NotForTokens)),
            ("/api/v1/companies/c/folders", true, true, Ok(())),
            ("/api/v1/companies/c/folders", false, true, Err(ReadOnly)),
            ("/api/v1/companies/c/folders", false, false, Ok(())),
            ("/api/v1/documents/d", false, true, Err(ReadOnly)),
            ("/api/v1/documents/d", true, true, Ok(())),
            ("/api/v1/meetings", true, true, Ok(())),
        ];
        for (path, is_read, read_only, want) in cases {
            let surface = Surface::of(path, *is_read);
            assert_eq!(
                token_request(*read_only, *is_read, surface),
                *want,
                "{path} read={is_read} read_only={read_only}"
            );
        }
        assert_eq!(Surface::of("/me", true), WhoAmI);
        assert_eq!(Surface::of("/auth/mfa", false), Account);
        assert_eq!(Surface::of("/companies", true), Company);
    }
}
