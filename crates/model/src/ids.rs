//! Opaque identifiers: random UUIDv4 values (122 random bits), written as
//! lowercase hyphenated text, never sequential.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use crate::ModelError;

/// A typed identifier. The type parameter only keeps ids of different kinds
/// apart at compile time.
pub struct Id<K> {
    uuid: uuid::Uuid,
    kind: PhantomData<fn() -> K>,
}

impl<K> Id<K> {
    /// A fresh identifier from the given random bytes (the caller owns the
    /// random source, see STYLE.md §6).
    pub fn from_random(bytes: [u8; 16]) -> Self {
        Self {
            uuid: uuid::Builder::from_random_bytes(bytes).into_uuid(),
            kind: PhantomData,
        }
    }

    /// Parses the canonical text form; anything else is `Invalid`.
    pub fn parse(field: &'static str, text: &str) -> Result<Self, ModelError> {
        // Only the canonical lowercase hyphenated form is accepted, so one id
        // has exactly one spelling.
        let ok = text.len() == 36
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-');
        let uuid = uuid::Uuid::parse_str(text)
            .ok()
            .filter(|_| ok)
            .ok_or_else(|| ModelError::malformed(field, "is not a valid id"))?;
        Ok(Self {
            uuid,
            kind: PhantomData,
        })
    }

    pub fn as_text(&self) -> String {
        self.uuid.hyphenated().to_string()
    }
}

impl<K> Clone for Id<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for Id<K> {}
impl<K> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.uuid == other.uuid
    }
}
impl<K> Eq for Id<K> {}
impl<K> std::hash::Hash for Id<K> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.uuid.hash(state)
    }
}
impl<K> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.uuid.hyphenated())
    }
}
impl<K> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.uuid.hyphenated())
    }
}
impl<K> FromStr for Id<K> {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse("id", s)
    }
}
impl<K> serde::Serialize for Id<K> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.uuid.hyphenated())
    }
}

/// Marker types for the kinds of id.
pub mod kind {
    pub enum User {}
    pub enum Company {}
    pub enum Session {}
}

pub type UserId = Id<kind::User>;
pub type CompanyId = Id<kind::Company>;
pub type SessionId = Id<kind::Session>;

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, ok: bool) {
        assert_eq!(UserId::parse("id", text).is_ok(), ok, "{text}");
    }

    #[test]
    fn only_the_canonical_form_parses() {
        check("6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b", true);
        check("6F1C2A8E-3B4D-4E5F-8A9B-0C1D2E3F4A5B", false);
        check("6f1c2a8e3b4d4e5f8a9b0c1d2e3f4a5b", false);
        check("{6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b}", false);
        check("1", false);
        check("", false);
        check("6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5\0", false);
    }

    #[test]
    fn a_random_id_round_trips() {
        let id = UserId::from_random([7; 16]);
        assert_eq!(UserId::parse("id", &id.as_text()), Ok(id));
    }
}
