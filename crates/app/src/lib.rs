//! Operations: one function per thing a user or operator can do. Each opens
//! a transaction, loads the facts the policy needs, asks
//! `turva_model::access::decide`, changes data through `turva_store`,
//! records the audit event and commits.
//!
//! Invariants:
//! - A state change commits together with its audit event, or not at all.
//! - Handlers (in `web`) never write audit events; operations do, through
//!   [`audit::record`].
//! - Roles and rights are re-read from the database on every request.

pub mod admin;
pub mod alerts;
pub mod api_tokens;
pub mod audit;
pub mod audit_export;
pub mod audit_read;
pub mod audit_retention;
pub mod audit_verify;
mod audit_writer;
pub use audit_writer::UNAUDITED;
pub mod auth;
pub mod backup;
pub mod checkpoint;
pub mod clock;
pub mod companies;
pub mod config;
pub mod context;
pub mod cursor;
pub mod documents;
pub mod error;
pub mod files;
pub mod folders;
pub mod keyring;
pub mod keys;
pub mod mail;
pub mod members;
pub mod mfa;
pub(crate) mod objects;
pub mod operators;
pub mod passkeys;
pub mod password;
pub mod recovery;
pub mod search;
pub mod secret;
pub mod setup;
pub mod shares;
pub mod templates;
pub mod throttle;
pub mod totp;
pub mod trash;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Config;
pub use context::{Actor, Ctx};
pub use error::AppError;
pub use turva_model as model;

/// Stored rows that operations return, for the web layer to render.
/// Writes a file readable only by its owner, atomically.
pub use turva_store::keys::write_private_file;

/// The database handle, for tests that read tables directly (the web layer
/// must not use it).
pub mod store_db {
    pub use turva_store::backup::{Group, BUCKET_SHIFT, TABLES};
    pub use turva_store::db::Db;
}

/// This process's appender to the audit journal (see `App::audit_journal`).
pub use turva_store::audit_journal::Journal as AuditJournal;

pub mod rows {
    pub use turva_store::api_tokens::ApiTokenRow;
    pub use turva_store::audit::{AuditRow, CheckpointRow};
    pub use turva_store::companies::CompanyRow;
    pub use turva_store::documents::{DocumentRow, VersionRow};
    pub use turva_store::files::FileRow;
    pub use turva_store::folders::FolderRow;
    pub use turva_store::members::{MemberRow, MembershipOfUser};
    pub use turva_store::mfa::FactorRow;
    pub use turva_store::sessions::SessionRow;
    pub use turva_store::shares::ShareRow;
    pub use turva_store::users::UserRow;
}

use turva_store::keys::DataKey;
use turva_store::Db;

/// The running application: cheap to clone, shared by every request.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    /// The master key, re-read when its file changes (a rotation by
    /// another process) or names a version this one lacks.
    master: keys::MasterSlot,
    /// HMAC key for throttle keys and search indexes over personal data.
    index_key: DataKey,
    config: Config,
    data_dir: PathBuf,
    mailer: mail::Mailer,
    hasher: password::Hasher,
    clock: Arc<dyn Clock>,
    /// The batching writer of events that describe no change.
    audit_writer: std::sync::OnceLock<audit_writer::Writer>,
    /// Signs the audit log's checkpoints.
    signer: checkpoint::Signer,
    /// Where attachments are stored (encrypted).
    blobs: turva_store::blobs::BlobStore,
    /// Requests without valid credentials since the last report: counted,
    /// not audited one by one (API.md, "Audit log").
    unauthenticated: std::sync::atomic::AtomicU64,
    /// Recent downloads per person and company, for alerts.
    downloads: alerts::DownloadCounter,
    /// Opened to inspect (`App::open_to_inspect`): the audit log is never
    /// written.
    inspect_only: bool,
    /// The WebAuthn relying party from `[server] public_url`, or why
    /// passkeys are off.
    webauthn: Result<webauthn_rs::Webauthn, String>,
    /// The hash of the one-time first-run set-up token, while no operator
    /// exists and `turva serve` has printed its link.
    first_run: std::sync::Mutex<Option<String>>,
}

impl App {
    pub fn db(&self) -> &Db {
        &self.inner.db
    }
    pub fn config(&self) -> &Config {
        &self.inner.config
    }
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }
    /// The directory attachments are stored in (encrypted).
    pub fn files_dir(&self) -> PathBuf {
        match &self.inner.config.storage.url {
            Some(dir) => PathBuf::from(dir),
            None => self.inner.data_dir.join("files"),
        }
    }
    pub(crate) fn master_slot(&self) -> &keys::MasterSlot {
        &self.inner.master
    }
    pub(crate) fn index_key(&self) -> &DataKey {
        &self.inner.index_key
    }
    pub(crate) fn mailer(&self) -> &mail::Mailer {
        &self.inner.mailer
    }
    pub(crate) fn hasher(&self) -> &password::Hasher {
        &self.inner.hasher
    }
    pub(crate) fn audit_writer(&self) -> &audit_writer::Writer {
        self.inner.audit_writer.get_or_init(|| {
            audit_writer::Writer::start(
                Arc::downgrade(&self.inner),
                |inner| App { inner },
                std::time::Duration::from_secs(u64::from(
                    self.inner.config.audit.checkpoint_seconds.max(1),
                )),
                audit_writer::journal_of(self),
            )
        })
    }
    /// The WebAuthn relying party, or why passkeys are off.
    pub(crate) fn webauthn(&self) -> Result<&webauthn_rs::Webauthn, &str> {
        self.inner.webauthn.as_ref().map_err(String::as_str)
    }
    pub(crate) fn download_counter(&self) -> &alerts::DownloadCounter {
        &self.inner.downloads
    }
    /// The first-run set-up token's hash (see `operators::first_run_token`).
    pub(crate) fn first_run(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.inner
            .first_run
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    /// Opened only to inspect: nothing moves, nothing is signed.
    pub(crate) fn inspect_only(&self) -> bool {
        self.inner.inspect_only
    }
    /// The audit checkpoint signer (its public key and the log's name).
    pub fn signer(&self) -> &checkpoint::Signer {
        &self.inner.signer
    }
    pub(crate) fn blobs(&self) -> &turva_store::blobs::BlobStore {
        &self.inner.blobs
    }
    /// Milliseconds since the epoch, from the app's clock.
    pub fn now(&self) -> i64 {
        self.inner.clock.now_millis()
    }

    /// Checks the database and file store answer (for `/readyz`).
    pub async fn ready(&self) -> Result<(), AppError> {
        self.inner.db.ping().await?;
        let files = self.files_dir();
        tokio::fs::metadata(&files)
            .await
            .map_err(|_| AppError::Unavailable("file store unreachable".into()))?;
        self.inner
            .blobs
            .ping()
            .await
            .map_err(|_| AppError::Unavailable("file store unreachable".into()))?;
        Ok(())
    }

    /// Counts a request that came without valid credentials.
    pub fn count_unauthenticated(&self) {
        self.inner
            .unauthenticated
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Takes the count of unauthenticated requests since the last call.
    pub fn take_unauthenticated(&self) -> u64 {
        self.inner
            .unauthenticated
            .swap(0, std::sync::atomic::Ordering::Relaxed)
    }

    /// A new appender to this data directory's audit journal (SQLite; see
    /// `turva_store::audit_journal`), with segments of its own, as another
    /// process of the data directory has: for tools and tests.
    pub fn audit_journal(&self) -> Option<AuditJournal> {
        audit_writer::journal_of(self)
    }

    /// Moves the audit events still waiting (journalled reads and pended
    /// changes, SQLite; see `audit_writer`) into `audit_events`, so that a
    /// read of the table sees every acknowledged event.
    pub async fn flush_audit(&self) -> Result<(), AppError> {
        audit_writer::flush(self).await
    }

    /// Closes the database cleanly (at shutdown), after moving the audit
    /// events still waiting.
    pub async fn close(&self) {
        if self.inspect_only() {
            self.inner.db.close().await;
            return;
        }
        // What waits is moved into the log (this process's journal segment
        // closed first, so that the move deletes it), and a checkpoint made
        // at shutdown, so that a truncated tail is detectable.
        if let Some(writer) = self.inner.audit_writer.get() {
            writer.close_journal();
        }
        if let Err(e) = checkpoint::make(self).await {
            tracing::error!(error = %e, "the audit checkpoint could not be made at shutdown");
        }
        self.inner.db.close().await;
    }
}
