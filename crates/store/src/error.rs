//! The store's error type: what a caller can do about a failed statement.

/// A failed storage operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No row where one was required.
    #[error("not found")]
    NotFound,
    /// A named unique or foreign-key constraint refused the change.
    #[error("conflict on {0}")]
    Conflict(String),
    /// The database could not be reached or answered with an error. The cause
    /// goes to the log, never to a client.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// Stored bytes did not decrypt or parse: wrong key or tampering.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// A file outside the database (the audit journal) could not be
    /// written or read.
    #[error("file unavailable: {0}")]
    Io(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db)
                if db.is_unique_violation() || db.is_foreign_key_violation() =>
            {
                StoreError::Conflict(db.constraint().unwrap_or("unique").to_string())
            }
            _ => StoreError::Unavailable(e),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Checks that a change to company data comes with the policy's proof for
/// the right kind of action (a wrong proof is a bug, not a user error).
pub fn require(
    proof: &turva_model::access::Allowed,
    fits: fn(turva_model::access::Action) -> bool,
) -> Result<()> {
    if fits(proof.action()) {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!(
            "a change was attempted with the proof for {:?}",
            proof.action()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use turva_model::access::{decide, Action, ActorFacts};
    use turva_model::Role;

    #[test]
    fn a_change_needs_the_proof_for_its_own_kind_of_action() {
        let owner = ActorFacts {
            is_operator: false,
            role: Some(Role::Owner),
            recent_auth: true,
            is_guest: false,
        };
        let view = decide(&owner, Action::ViewCompany).ok();
        let update = decide(&owner, Action::UpdateCompany).ok();
        let fits = |a: Action| matches!(a, Action::UpdateCompany);
        assert!(update.as_ref().is_some_and(|p| require(p, fits).is_ok()));
        assert!(view.as_ref().is_some_and(|p| require(p, fits).is_err()));
    }
}
