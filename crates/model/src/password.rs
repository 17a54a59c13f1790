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
        return Err(ModelError::invalid(
            "password",
            format!("must be at least {MIN_CHARS} characters"),
        ));
    }
    if n > MAX_CHARS {
        return Err(ModelError::invalid(
            "password",
            format!("must be at most {MAX_CHARS} characters"),
        ));
    }
    if password.contains('\0') {
        return Err(ModelError::invalid("password", "must not contain NUL"));
    }
    let mut words: Vec<&str> = Vec::new();
    for c in context {
        words.push(c);
        words.extend(
            c.split(|ch: char| !ch.is_alphanumeric())
                .filter(|w| w.len() >= 3),
        );
    }
    // A password made of the user's own words plus digits or punctuation
    // ("aija.virtanen2026") is guessable whatever its length.
    let mut rest = password.to_lowercase();
    let mut own: Vec<String> = words
        .iter()
        .filter(|w| w.chars().count() >= 3)
        .map(|w| w.to_lowercase())
        .collect();
    own.sort_by_key(|w| std::cmp::Reverse(w.len()));
    let mut used_own = false;
    for w in &own {
        if rest.contains(w.as_str()) {
            used_own = true;
            rest = rest.replace(w.as_str(), "");
        }
    }
    if used_own && rest.chars().filter(|c| c.is_alphabetic()).count() < 6 {
        return Err(ModelError::invalid(
            "password",
            "is too close to your email or name",
        ));
    }
    // zxcvbn scores 0..=4; 3 means "safely unguessable" (about 10^8 guesses
    // or more). It also knows the common-password lists.
    let score = zxcvbn::zxcvbn(password, &words).score();
    if (score as u8) < 3 {
        return Err(ModelError::invalid(
            "password",
            "is too common or easy to guess",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pw: &str, ok: bool) {
        assert_eq!(
            check_new(pw, &["aija.virtanen@example.test", "Aija Virtanen"]).is_ok(),
            ok,
            "{pw:?}"
        );
    }

    /// A password of `n` characters with no pattern zxcvbn can shorten.
    fn varied(n: usize) -> String {
        let s: String = (0..n)
            .map(|i| format!("{:x}{}", (i * 7919) % 251, ["ä", "Q", "z", "!"][i % 4]))
            .collect();
        s.chars().take(n).collect()
    }

    #[test]
    fn long_unusual_passwords_pass() {
        check("correct horse battery staple", true);
        check("Kuusi kissaa kiipesi puuhun!", true);
        check(&varied(MAX_CHARS), true);
    }

    #[test]
    fn short_common_or_personal_passwords_fail() {
        check("short1!", false);
        check("password1234", false);
        check("aaaaaaaaaaaaaaaa", false);
        check("aijavirtanen123", false);
        check("qwertyuiop123", false);
        check(&varied(MAX_CHARS + 1), false);
        check("aija.virtanen2026", false);
        check("Virtanen!Aija#99", false);
    }
}
