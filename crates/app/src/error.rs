//! The app layer's error: what the web layer maps to a status and code.

use turva_model::ModelError;
use turva_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// A value that breaks a rule, for a field named at run time (422).
    #[error("invalid {field}: {reason}")]
    InvalidValue { field: String, reason: String },
    /// Malformed input (400 `invalid_input`).
    #[error("malformed {field}: {reason}")]
    Malformed { field: &'static str, reason: String },
    /// No valid credentials (401 `unauthenticated`).
    #[error("unauthenticated")]
    Unauthenticated,
    /// Wrong email or password (401 `invalid_credentials`), the same for both.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The caller sees the object but may not do this (403).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The object does not exist or the caller may not know it does (404).
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// An upload past the file size limit or the company's quota (413).
    #[error("too large: {0}")]
    TooLarge(&'static str),
    /// Throttled: retry after this many seconds (429).
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// A recent password or second factor is needed (403).
    #[error("reauthentication required")]
    ReauthRequired,
    /// A second factor is required and the user has none yet (403
    /// `mfa_enrolment_required`): only enrolment is open to them.
    #[error("second factor enrolment required")]
    MfaEnrolmentRequired,
    /// A store or mail failure the client cannot fix (503); the cause is logged.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or broken invariant (500); the cause is logged, never shown.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<ModelError> for AppError {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::Denied(why) => AppError::Forbidden(why),
            ModelError::NotFound => AppError::NotFound,
            ModelError::Invalid { field, reason } => AppError::Invalid { field, reason },
            ModelError::Malformed { field, reason } => AppError::Malformed { field, reason },
            ModelError::InvalidValue { field, reason } => AppError::InvalidValue { field, reason },
            ModelError::Conflict(why) => AppError::Conflict(why),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Conflict(_) => {
                AppError::Conflict("the change conflicts with existing data")
            }
            StoreError::Unavailable(e) => AppError::Unavailable(e.to_string()),
            StoreError::Corrupt(e) => AppError::Internal(e),
            StoreError::Io(e) => AppError::Unavailable(e),
        }
    }
}

impl AppError {
    pub fn malformed(field: &'static str, reason: impl Into<String>) -> Self {
        AppError::Malformed {
            field,
            reason: reason.into(),
        }
    }

    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        AppError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
