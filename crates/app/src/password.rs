//! Password hashing.
//!
//! Threat: offline guessing after a database leak, and CPU exhaustion by a
//! flood of sign-ins. Passwords are hashed with argon2id at OWASP's
//! parameters (19 MiB, 2 passes, 1 lane), on worker threads of their own so
//! the async executor never stalls, at most one per core at a time (others
//! queue). Verification of an unknown account runs against a
//! dummy hash so it takes as long as a wrong password.

use std::sync::{Arc, Mutex};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use crate::AppError;

/// Hashes and verifies passwords on a pool of worker threads of its own,
/// one per core: a hash never runs on the async executor, at most one per
/// core runs at a time (the rest queue), and the 19 MiB each hash needs is
/// reused by the same few threads instead of spreading over the blocking
/// pool's many threads (whose per-thread allocator arenas keep it).
pub struct Hasher {
    jobs: std::sync::mpsc::Sender<Job>,
    /// A hash of a random password, verified when the account is unknown.
    dummy: String,
}

type Job = Box<dyn FnOnce() + Send>;

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
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..cores {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("turva-hash-{i}"))
                .spawn(move || loop {
                    // The lock is held only while taking a job, not while running it.
                    let job = match queue.lock() {
                        Ok(q) => q.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return, // the Hasher is gone
                    }
                })
                .map_err(|e| AppError::Internal(format!("hash worker: {e}")))?;
        }
        let (dummy_password, _) = crate::secret::new_token();
        Ok(Hasher {
            jobs,
            dummy: hash_sync(dummy_password.as_bytes())?,
        })
    }

    /// Runs `work` on a hash worker and waits for its result.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(work());
        });
        self.jobs
            .send(job)
            .map_err(|_| AppError::Internal("hash workers stopped".into()))?;
        rx.await
            .map_err(|_| AppError::Internal("hash worker failed".into()))
    }

    pub async fn hash(&self, password: &str) -> Result<String, AppError> {
        let pw = Zeroizing::new(password.as_bytes().to_vec());
        self.run(move || hash_sync(&pw)).await?
    }

    /// Verifies `password` against `hash`, or against the dummy hash when
    /// there is none (then always false), taking the same time either way.
    pub async fn verify(&self, hash: Option<&str>, password: &str) -> Result<bool, AppError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.dummy).to_string();
        let pw = Zeroizing::new(password.as_bytes().to_vec());
        let ok = self.run(move || verify_sync(&hash, &pw)).await?;
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
