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
