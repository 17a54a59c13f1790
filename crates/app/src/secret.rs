//! Random tokens and their stored form.
//!
//! Threat: a database reader replaying tokens. Session, invitation and reset
//! tokens carry 256 random bits from the OS generator, are shown to their
//! owner once and stored only as SHA-256 (enough for values with this much
//! entropy: there is nothing to guess). Comparisons of secrets are constant
//! time.

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use turva_store::keys::DataKey;

/// A fresh token (URL-safe base64 of 32 random bytes) and its stored hash.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// The stored form of a token: lowercase hex SHA-256.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// 16 random bytes, for ids.
pub fn random_16() -> [u8; 16] {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// A new random id as text.
pub fn new_id() -> String {
    turva_model::Id::<()>::from_random(random_16()).as_text()
}

/// Constant-time equality of two secrets.
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A keyed hash (HMAC-SHA256, hex) of low-entropy personal data such as an
/// address, so it can be counted or searched without being readable.
pub fn keyed_hash(key: &DataKey, domain: &str, value: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(domain.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(ha, hash_token(&a));
        assert_eq!(ha.len(), 64);
        assert!(!ha.contains(&a));
    }

    #[test]
    fn constant_time_compare_is_still_a_compare() {
        assert!(ct_eq("abc", "abc"));
        assert!(!ct_eq("abc", "abd"));
        assert!(!ct_eq("abc", "abcd"));
    }

    #[test]
    fn keyed_hashes_depend_on_key_and_domain() {
        let k = DataKey::random();
        assert_eq!(
            keyed_hash(&k, "ip", "1.2.3.4"),
            keyed_hash(&k, "ip", "1.2.3.4")
        );
        assert_ne!(
            keyed_hash(&k, "ip", "1.2.3.4"),
            keyed_hash(&k, "email", "1.2.3.4")
        );
        assert_ne!(
            keyed_hash(&k, "ip", "1.2.3.4"),
            keyed_hash(&DataKey::random(), "ip", "1.2.3.4")
        );
    }
}
