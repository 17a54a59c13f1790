//! Start-up: the data directory, the master key, the database and its
//! migrations, the mailer. Everything here fails with a message a person
//! can act on; nothing is half-created on failure that a second start
//! cannot use.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use turva_store::keys::{KeyRingFile, MasterKey};
use turva_store::Db;

use crate::keyring::{self, KeyKind};
use crate::{App, Clock, Config, Inner};

/// What start-up found or made, for the operator's eyes.
#[derive(Debug, Default)]
pub struct StartReport {
    pub created_data_dir: bool,
    pub created_master_key: bool,
    pub master_key_in_data_dir: bool,
    pub migrations_applied: usize,
}

impl App {
    /// Opens (creating on first start) the data directory `dir`.
    pub async fn open(
        config: Config,
        dir: &Path,
        clock: Arc<dyn Clock>,
    ) -> Result<(App, StartReport), String> {
        Self::open_with(config, dir, clock, false).await
    }

    /// Opens `dir` to inspect it (`turva audit verify`): the audit log is
    /// read as it is. No staged event is moved, the tree is not caught up,
    /// no writer or mover task starts, and no checkpoint is signed, not even
    /// at close, so a tampered copy is verified without being changed.
    pub async fn open_to_inspect(
        config: Config,
        dir: &Path,
        clock: Arc<dyn Clock>,
    ) -> Result<App, String> {
        Self::open_with(config, dir, clock, true)
            .await
            .map(|(app, _)| app)
    }

    async fn open_with(
        config: Config,
        dir: &Path,
        clock: Arc<dyn Clock>,
        inspect_only: bool,
    ) -> Result<(App, StartReport), String> {
        let mut report = StartReport {
            created_data_dir: ensure_private_dir(dir)?,
            ..Default::default()
        };
        for sub in ["outbox", "files"] {
            ensure_private_dir(&dir.join(sub))?;
        }
        let key_path: PathBuf = config
            .keys
            .master_key_file
            .clone()
            .unwrap_or_else(|| dir.join("master.key"));
        report.master_key_in_data_dir = config.keys.master_key_file.is_none();
        // A master key is only ever created beside a new database: a missing
        // key file next to existing data is an error, not a fresh start.
        let fresh = !dir.join("turva.db").exists() && config.database.url.is_none()
            || config.database.url.is_some() && !dir.join("keyring.json").exists();
        let (master, created) =
            MasterKey::load_or_create(&key_path, fresh || report.created_data_dir)
                .map_err(|e| e.to_string())?;
        report.created_master_key = created;

        let db = match &config.database.url {
            Some(url) => Db::open_postgres(url.expose())
                .await
                .map_err(|e| format!("PostgreSQL: {e}"))?,
            None => {
                let db_path = dir.join("turva.db");
                let ring_path = dir.join("keyring.json");
                if db_path.exists() && !ring_path.exists() {
                    return Err(format!(
                        "{} exists but its key ring {} is missing: restore the key ring (it cannot be recreated)",
                        db_path.display(),
                        ring_path.display()
                    ));
                }
                let (db_key, _) =
                    KeyRingFile::load_or_create(&ring_path, &master).map_err(|e| e.to_string())?;
                if !db_path.exists() {
                    // SQLite gives the -wal and -shm files the main file's mode.
                    turva_store::keys::write_private_file(&db_path, b"")
                        .map_err(|e| e.to_string())?;
                }
                Db::open_sqlite(&db_path, &db_key)
                    .await
                    .map_err(|e| e.to_string())?
            }
        };
        if config.database.url.is_some() && !dir.join("keyring.json").exists() {
            // PostgreSQL keeps its own encryption at rest; the key ring file
            // still marks the data directory as initialised.
            KeyRingFile::load_or_create(&dir.join("keyring.json"), &master)
                .map_err(|e| e.to_string())?;
        }
        report.migrations_applied = turva_store::migrate::run(&db)
            .await
            .map_err(|e| e.to_string())?;

        // The checkpoint signing key lives beside the master key, never in
        // the database; it is created only while no checkpoint exists.
        let signer = {
            let mut tx = db.write().await.map_err(|e| e.to_string())?;
            let signed = turva_store::audit::latest_checkpoint(&mut tx)
                .await
                .map_err(|e| e.to_string())?
                .is_some();
            drop(tx);
            crate::checkpoint::Signer::load_or_create(
                &key_path.with_file_name("audit-signing.key"),
                !signed,
            )?
        };
        let mailer = crate::mail::Mailer::from_config(
            config.smtp.url.as_ref().map(|s| s.expose()),
            dir.join("outbox"),
        )?;
        let hasher = crate::password::Hasher::new().map_err(|e| e.to_string())?;
        let files_dir = match &config.storage.url {
            Some(d) => PathBuf::from(d),
            None => dir.join("files"),
        };
        let blobs = turva_store::blobs::BlobStore::local(&files_dir)
            .map_err(|e| format!("file store {}: {e}", files_dir.display()))?;
        let webauthn = crate::passkeys::relying_party(&config.public_url());
        if let Err(why) = &webauthn {
            tracing::warn!("passkeys are off: {why}");
        }
        let mut app = App {
            inner: Arc::new(Inner {
                db,
                master: crate::keys::MasterSlot::new(master, key_path.clone()),
                index_key: turva_store::keys::DataKey::random(),
                config,
                data_dir: dir.to_path_buf(),
                mailer,
                hasher,
                clock,
                blobs,
                audit_writer: Default::default(),
                signer,
                unauthenticated: Default::default(),
                downloads: Default::default(),
                inspect_only,
                webauthn,
                first_run: Default::default(),
            }),
        };
        // The platform index key: created once; unwrapping it proves the
        // master key is the right one (on PostgreSQL too).
        let index_key = {
            let mut tx = app.db().write().await.map_err(|e| e.to_string())?;
            let (_, key) = keyring::ensure_key(&app, &mut tx, KeyKind::Platform, "index")
                .await
                .map_err(|e| format!("{e} (is this the master key of this data directory?)"))?;
            tx.commit().await.map_err(|e| e.to_string())?;
            key
        };
        if let Some(inner) = Arc::get_mut(&mut app.inner) {
            inner.index_key = index_key;
        }
        if inspect_only {
            return Ok((app, report));
        }
        // Events written before the Merkle tree existed join it first.
        loop {
            let mut tx = app.db().write().await.map_err(|e| e.to_string())?;
            let n = turva_store::audit::catch_up_tree(&mut tx, 10_000)
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
        }
        // Waiting events' ids never fall back to ones already moved (after
        // a power loss that kept the log's file but not turva.db's last
        // commits, reused ids would be skipped by the marks).
        turva_store::audit_stage::guard_ids(app.db())
            .await
            .map_err(|e| e.to_string())?;
        // Audit events of reads left staged by a process that stopped
        // before moving them (a crash) join the log now.
        app.flush_audit().await.map_err(|e| e.to_string())?;
        // The writer and the mover (which also signs checkpoints) start now.
        let _ = app.audit_writer();
        Ok((app, report))
    }
}

/// Creates `dir` with mode 0700 if missing; returns whether it did.
fn ensure_private_dir(dir: &Path) -> Result<bool, String> {
    if dir.is_dir() {
        return Ok(false);
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(true)
}
