//! Storage: every SQL statement, the migrations for SQLite and PostgreSQL,
//! transactions, keys and encryption at rest.
//!
//! Invariants:
//! - All SQL of Turva lives in this crate, one module per table or aggregate.
//! - Every query on company data takes the company id and filters by it.
//! - Keys are only ever stored wrapped by a master-key version.

pub mod api_tokens;
pub mod audit;
pub mod audit_journal;
pub mod audit_stage;
pub mod backup;
pub mod backup_target;
pub mod blobs;
pub mod bulk;
pub mod companies;
pub mod crypt;
pub mod data_keys;
pub mod db;
pub mod documents;
pub mod error;
pub mod files;
pub mod folders;
pub mod keys;
pub mod members;
pub mod mfa;
pub mod migrate;
pub mod purge;
pub mod search;
pub mod sessions;
pub mod shares;
pub mod templates;
pub mod throttle;
pub mod tokens;
pub mod users;

pub use db::{Backend, Db, Tx};
pub use error::StoreError;

/// Milliseconds since the Unix epoch, UTC: how every time is stored.
pub type Millis = i64;
