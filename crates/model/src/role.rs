//! Company roles and the languages Turva speaks.

use crate::ModelError;

/// A member's role in a company, highest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Reader,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Reader];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Reader => "reader",
        }
    }

    pub fn parse(field: &'static str, text: &str) -> Result<Self, ModelError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| ModelError::invalid(field, "must be owner, admin, member or reader"))
    }

    /// Owners and admins administer the company.
    pub fn is_admin(self) -> bool {
        self >= Role::Admin
    }

    /// Granting or taking away these roles needs a recent authentication.
    pub fn is_privileged(self) -> bool {
        self >= Role::Admin
    }
}

/// The language of a user's interface and of the emails sent to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    En,
    Fi,
    De,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Fi => "fi",
            Language::De => "de",
        }
    }

    pub fn parse(field: &'static str, text: &str) -> Result<Self, ModelError> {
        match text {
            "en" => Ok(Language::En),
            "fi" => Ok(Language::Fi),
            "de" => Ok(Language::De),
            _ => Err(ModelError::invalid(field, "must be en, fi or de")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_highest_first_and_round_trip() {
        assert!(
            Role::Owner > Role::Admin && Role::Admin > Role::Member && Role::Member > Role::Reader
        );
        for r in Role::ALL {
            assert_eq!(Role::parse("role", r.as_str()), Ok(r));
        }
        assert!(Role::parse("role", "Owner").is_err());
        assert!(Role::parse("role", "operator").is_err());
    }

    #[test]
    fn only_three_languages_parse() {
        for l in ["en", "fi", "de"] {
            assert_eq!(Language::parse("language", l).map(|l| l.as_str()), Ok(l));
        }
        assert!(Language::parse("language", "sv").is_err());
    }
}
