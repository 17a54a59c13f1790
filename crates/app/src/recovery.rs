//! Recovery codes: ten single-use codes that stand in for a lost second
//! factor.
//!
//! Threats: a stolen database (codes are stored only as keyed hashes under
//! the platform index key, so a copy of the database alone cannot test
//! guesses; each code carries 80 random bits anyway), replay (a code is
//! claimed by one conditional UPDATE and never works again), and silent use
//! (every use is audited and emailed to the user).
//!
//! States: a set is issued when the first factor is confirmed, or renewed
//! on request (recent auth), which voids every code of the old set; each
//! code is unused → used; an MFA reset deletes the set.

use rand::Rng;

use crate::secret::keyed_hash;
use crate::App;

/// Codes in a set.
pub const SET_SIZE: usize = 10;

/// Letters and digits that cannot be mistaken for one another.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A new set of codes, as shown to the user (`xxxx-xxxx-xxxx-xxxx`).
pub fn new_set() -> Vec<String> {
    let mut rng = rand::rngs::OsRng;
    (0..SET_SIZE)
        .map(|_| {
            let chars: Vec<char> = (0..16)
                .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                .collect();
            chars
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// A code as typed, normalised (case, spaces and dashes ignored), or
/// `None` when it cannot be one.
pub fn normalise(code: &str) -> Option<String> {
    let s: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    (s.len() == 16 && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
}

/// The stored form of a (normalised) code.
pub fn hash(app: &App, normalised: &str) -> String {
    keyed_hash(app.index_key(), "recovery_code", normalised)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_normalise() {
        let set = new_set();
        assert_eq!(set.len(), SET_SIZE);
        let mut unique = set.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), SET_SIZE);
        for c in &set {
            assert_eq!(c.len(), 19);
            let n = normalise(c).unwrap();
            assert_eq!(normalise(&c.to_uppercase()), Some(n.clone()));
            assert_eq!(normalise(&n), Some(n.clone()));
        }
        assert_eq!(normalise("123456"), None);
        assert_eq!(normalise("abcd-efgh-jkmn-pqr0"), None);
    }
}
