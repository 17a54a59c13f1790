//! Input rules shared by every client: emails, names, company names.
//! Each returns the normalised value or `Invalid` naming the field.

use crate::ModelError;

/// Longest accepted email address (RFC 5321 path limit).
pub const EMAIL_MAX: usize = 254;
/// Longest accepted person or company name, in characters.
pub const NAME_MAX: usize = 200;

/// Trims and lower-cases an email address and checks its shape. Turva does
/// not try to be a full RFC 5322 parser: one `@`, a non-empty local part, a
/// domain with a dot, no spaces or control characters.
pub fn email(field: &'static str, text: &str) -> Result<String, ModelError> {
    let e = text.trim().to_lowercase();
    if e.is_empty() {
        return Err(ModelError::malformed(field, "is required"));
    }
    if e.chars().count() > EMAIL_MAX {
        return Err(ModelError::malformed(field, "is too long"));
    }
    let bad_char = |c: char| {
        c.is_control() || c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '"' | '\\')
    };
    let Some((local, domain)) = e.split_once('@') else {
        return Err(ModelError::malformed(field, "is not an email address"));
    };
    let ok = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !e.chars().any(bad_char);
    if ok {
        Ok(e)
    } else {
        Err(ModelError::malformed(field, "is not an email address"))
    }
}

/// A display name: trimmed, 1..=NAME_MAX characters, no control characters.
pub fn name(field: &'static str, text: &str) -> Result<String, ModelError> {
    let n = text.trim();
    if n.is_empty() {
        return Err(ModelError::malformed(field, "is required"));
    }
    if n.chars().count() > NAME_MAX {
        return Err(ModelError::malformed(field, "is too long"));
    }
    if n.chars().any(char::is_control) {
        return Err(ModelError::malformed(field, "contains control characters"));
    }
    Ok(n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_or_refused() {
        assert_eq!(
            email("email", "  Aija@Example.TEST ").as_deref(),
            Ok("aija@example.test")
        );
        for bad in [
            "",
            "aija",
            "aija@",
            "@example.test",
            "a@b",
            "a b@example.test",
            "a@@example.test",
            "a@example..test",
            "a\0@example.test",
            "a@example.test.",
            "<a@example.test>",
        ] {
            assert!(email("email", bad).is_err(), "{bad:?}");
        }
        assert!(email("email", &format!("{}@example.test", "a".repeat(250))).is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            name("name", " Aija Virtanen ").as_deref(),
            Ok("Aija Virtanen")
        );
        assert!(name("name", "   ").is_err());
        assert!(name("name", "a\u{0}b").is_err());
        assert!(name("name", &"ä".repeat(NAME_MAX)).is_ok());
        assert!(name("name", &"ä".repeat(NAME_MAX + 1)).is_err());
    }
}
