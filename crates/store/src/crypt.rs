//! Authenticated encryption for everything Turva stores encrypted.
//!
//! Threat: someone who reads or changes stored bytes (a disk, a backup, a
//! database dump). AES-256-GCM gives confidentiality and detects changes;
//! the associated data names what the ciphertext belongs to (its purpose and
//! owner), so a ciphertext moved to another row or key slot fails to open
//! instead of decrypting in the wrong place. Nonces are 96 random bits from
//! the OS generator; a key seals far fewer than 2^32 messages.
//!
//! Layout of a sealed value: `nonce (12 bytes) || ciphertext || tag (16)`.

use aes_gcm::aead::{Aead, AeadInPlace, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

use crate::error::StoreError;
use crate::keys::DataKey;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Encrypts `plaintext` under `key`, bound to `aad`.
pub fn seal(key: &DataKey, aad: &str, plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.as_bytes().into());
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    // Sealed in place in the output, allocated once at its final size.
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    // Encryption with a valid 32-byte key cannot fail for inputs of this
    // size; an error would mean a broken library, so it yields empty output
    // that `open` refuses.
    match cipher.encrypt_in_place_detached(
        Nonce::from_slice(&nonce),
        aad.as_bytes(),
        &mut out[NONCE_LEN..],
    ) {
        Ok(tag) => out.extend_from_slice(&tag),
        Err(_) => out.clear(),
    }
    out
}

/// Decrypts a value made by `seal` with the same key and `aad`.
pub fn open(key: &DataKey, aad: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(StoreError::Corrupt(format!(
            "sealed value for {aad} is too short"
        )));
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let cipher = Aes256Gcm::new(key.as_bytes().into());
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ct,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| {
            StoreError::Corrupt(format!(
                "value for {aad} does not decrypt (wrong key or altered)"
            ))
        })
}

/// A key derived from `key` for one use named by `info` (HKDF-SHA256, no
/// salt: `key` is already uniformly random). Keys derived for different
/// uses are independent, and destroying `key` destroys them all.
pub fn derive(key: &DataKey, info: &str) -> DataKey {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, key.as_bytes());
    let mut out = zeroize::Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's limit of 8,160, so expand
    // cannot fail; an all-zero key would only follow a broken library.
    let _ = hk.expand(info.as_bytes(), out.as_mut());
    DataKey::from_bytes(out.as_ref()).unwrap_or_else(DataKey::random)
}

/// AES-256-GCM for one append-only sequence of values under one key (an
/// audit journal segment), the nonce being the value's position in the
/// sequence (its offset), which never repeats under the key: no nonce is
/// drawn from the OS or stored, and the key is expanded once. Layout of a
/// sealed value: `ciphertext || tag (16)`. The caller must never seal two
/// values at the same position under one key.
pub struct Sequence {
    cipher: Aes256Gcm,
}

impl Sequence {
    pub fn new(key: &DataKey) -> Sequence {
        Sequence {
            cipher: Aes256Gcm::new(key.as_bytes().into()),
        }
    }

    fn nonce(position: u64) -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        nonce[4..].copy_from_slice(&position.to_be_bytes());
        nonce
    }

    /// Encrypts `plaintext` at `position`, bound to `aad`.
    pub fn seal(&self, position: u64, aad: &str, plaintext: &[u8]) -> Vec<u8> {
        self.cipher
            .encrypt(
                Nonce::from_slice(&Self::nonce(position)),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            // As in `seal`: cannot fail for these sizes; empty output
            // would be refused by `open`.
            .unwrap_or_default()
    }

    /// Decrypts a value sealed at `position` with the same key and `aad`.
    pub fn open(&self, position: u64, aad: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.cipher
            .decrypt(
                Nonce::from_slice(&Self::nonce(position)),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| {
                StoreError::Corrupt(format!(
                    "value for {aad} does not decrypt (wrong key, place or altered)"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_of_a_sequence_opens_only_at_its_position_with_its_key_and_aad() {
        let k = DataKey::random();
        let seq = Sequence::new(&k);
        let sealed = seq.seal(16, "turva/test/a", b"hello");
        assert_eq!(
            seq.open(16, "turva/test/a", &sealed).ok().as_deref(),
            Some(&b"hello"[..])
        );
        assert!(seq.open(17, "turva/test/a", &sealed).is_err());
        assert!(seq.open(16, "turva/test/b", &sealed).is_err());
        assert!(Sequence::new(&DataKey::random())
            .open(16, "turva/test/a", &sealed)
            .is_err());
        assert_ne!(sealed, seq.seal(17, "turva/test/a", b"hello"));
        assert!(seq.open(16, "turva/test/a", &[]).is_err());
    }

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_aad() {
        let k = DataKey::random();
        let sealed = seal(&k, "turva/test/a", b"hello");
        assert_eq!(
            open(&k, "turva/test/a", &sealed).ok().as_deref(),
            Some(&b"hello"[..])
        );
        assert!(open(&k, "turva/test/b", &sealed).is_err());
        assert!(open(&DataKey::random(), "turva/test/a", &sealed).is_err());
        let mut flipped = sealed.clone();
        if let Some(b) = flipped.last_mut() {
            *b ^= 1;
        }
        assert!(open(&k, "turva/test/a", &flipped).is_err());
        assert!(open(&k, "turva/test/a", &sealed[..20]).is_err());
    }

    #[test]
    fn two_seals_of_the_same_text_differ() {
        let k = DataKey::random();
        assert_ne!(seal(&k, "a", b"x"), seal(&k, "a", b"x"));
    }
}
