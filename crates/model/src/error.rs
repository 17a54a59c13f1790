//! The one error type of the model layer, named for what a caller can do.

/// What went wrong, in terms a caller can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The actor may see the object but may not do this to it.
    #[error("denied: {0}")]
    Denied(&'static str),
    /// The object does not exist, or the actor may not know it exists.
    #[error("not found")]
    NotFound,
    /// A value broke a rule; `field` names the input field.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// A value broke a rule, for a field named at run time (a document's
    /// field key, an item of a list), answer 422.
    #[error("invalid {field}: {reason}")]
    InvalidValue { field: String, reason: String },
    /// Input that is malformed: missing, over its length limit, with
    /// control characters, not of the expected shape (answer 400).
    #[error("malformed {field}: {reason}")]
    Malformed { field: &'static str, reason: String },
    /// The change conflicts with the current state.
    #[error("conflict: {0}")]
    Conflict(&'static str),
}

impl ModelError {
    pub fn malformed(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Malformed {
            field,
            reason: reason.into(),
        }
    }

    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
