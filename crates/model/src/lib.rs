//! Plain types and rules of Turva: identifiers, roles, the access policy,
//! audit event types and input validation.
//!
//! Invariant: this crate does no IO, is not async and reads no clock; time
//! and facts come in as arguments.

pub mod access;
pub mod audit;
pub mod error;
pub mod exif;
pub mod ids;
pub mod merkle;
pub mod password;
pub mod role;
pub mod template;
pub mod validate;

pub use error::ModelError;
pub use ids::{CompanyId, Id, SessionId, UserId};
pub use role::{Language, Role};
