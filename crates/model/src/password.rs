//! The password rule (NIST SP 800-63B): at least 12 characters, up to 256,
//! no composition rules, refused when common or guessable. The password is
//! used exactly as typed: never trimmed or normalised.

use crate::ModelError;

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 256;

/// Checks a new password. `context` holds the user's own words (email, its
/// parts, name), which make a password guessable.
pub fn check_new(password: &str, context: &[&str]) -> Result<(), ModelError> {
    let n = password.chars().count();
    if n < MIN_CHARS {
        return Err(ModelError::invalid("password", format!("must be at least {MIN_CHARS} characters")));
    }
    if n > MAX_CHARS {
        return Err(ModelError::invalid("password", format!("must be at most {MAX_CHARS} characters")));
    }
    if password.contains('\0') {
        return Err(ModelError::invalid("password", "must not contain NUL"));
    }
    let mut words: Vec<&str> = Vec::new();
    for c in context {
        words.push(c);
        words.extend(c.split(|ch: char| !ch.is_alphanumeric()).filter(|w| w.len() >= 3));
    }
    let lower = password.to_lowercase();
    if words.iter().any(|w| w.len() >= 4 && lower.contains(&w.to_lowercase()) && w.len() * 2 >= n) {
        return Err(ModelError::invalid("password", "is too close to your email or name"));
    }
    // zxcvbn scores 0..=4; 3 means "safely unguessable" (about 10^8 guesses
    // or more). It also knows the common-password lists.
    let score = zxcvbn::zxcvbn(password, &words).score();
    if (score as u8) < 3 {
        return Err(ModelError::invalid("password", "is too common or easy to guess"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pw: &str, ok: bool) {
        assert_eq!(check_new(pw, &["aija.virtanen@example.test", "Aija Virtanen"]).is_ok(), ok, "{pw:?}");
    }

    #[test]
    fn long_unusual_passwords_pass() {
        check("correct horse battery staple", true);
        check("Kuusi kissaa kiipesi puuhun!", true);
        check(&"x7Q!".repeat(64), true);
    }

    #[test]
    fn short_common_or_personal_passwords_fail() {
        check("short1!", false);
        check("password1234", false);
        check("aaaaaaaaaaaaaaaa", false);
        check("aijavirtanen123", false);
        check("qwertyuiop123", false);
        check(&"x7Q!".repeat(65), false);
    }
}
