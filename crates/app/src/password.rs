//! Password hashing.
//!
//! Threat: offline guessing after a database leak, and CPU exhaustion by a
//! flood of sign-ins. Passwords are hashed with argon2id at OWASP's
//! parameters (19 MiB, 2 passes, 1 lane), on the blocking pool so the async
//! executor never stalls, with at most as many hashes at once as there are
//! cores (others queue). Verification of an unknown account runs against a
//! dummy hash so it takes as long as a wrong password.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::AppError;

pub struct Hasher {
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified when the account is unknown.
    dummy: String,
}

fn argon2() -> Result<Argon2<'static>, AppError> {
    let params =
        Params::new(19 * 1024, 2, 1, None).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_sync(password: &[u8]) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()?
        .hash_password(password, &salt)
        .map_err(|e| AppError::Internal(e.to_string()))?
        .to_string())
}

fn verify_sync(hash: &str, password: &[u8]) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    // Verification uses the parameters stored in the hash itself.
    Argon2::default().verify_password(password, &parsed).is_ok()
}

impl Hasher {
    pub fn new() -> Result<Self, AppError> {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let (dummy_password, _) = crate::secret::new_token();
        Ok(Hasher {
            permits: Arc::new(Semaphore::new(cores)),
            dummy: hash_sync(dummy_password.as_bytes())?,
        })
    }

    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let pw = Zeroizing::new(password.as_bytes().to_vec());
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || hash_sync(&pw))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
    }

    /// Verifies `password` against `hash`, or against the dummy hash when
    /// there is none (then always false), taking the same time either way.
    pub async fn verify(&self, hash: Option<&str>, password: &str) -> Result<bool, AppError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.dummy).to_string();
        let pw = Zeroizing::new(password.as_bytes().to_vec());
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let ok = tokio::task::spawn_blocking(move || verify_sync(&hash, &pw))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(ok && known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_own_password_exactly_as_typed() -> Result<(), AppError> {
        let h = Hasher::new()?;
        let hash = h.hash("Kuusi kissaa kiipesi").await?;
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(h.verify(Some(&hash), "Kuusi kissaa kiipesi").await?);
        assert!(!h.verify(Some(&hash), "Kuusi kissaa kiipesi ").await?);
        assert!(!h.verify(Some(&hash), "kuusi kissaa kiipesi").await?);
        assert!(!h.verify(None, "Kuusi kissaa kiipesi").await?);
        Ok(())
    }
}
