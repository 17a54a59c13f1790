//! Master-key versions and their rotation (`turva keys status` · `keys
//! rotate`, and the schedule of `[keys] rotate_days`).
//!
//! Rotation adds a master-key version and rewraps every data key under it:
//! the database key in `keyring.json` and every live row of `data_keys`.
//! No data is re-encrypted (a data key stays the same key, only its
//! wrapping changes), so it runs while the server serves: a process that
//! meets a key wrapped by a version it has not read yet re-reads the
//! master-key file ([`MasterSlot`]), and the server's housekeeping rewraps
//! any key that a process still holding the old version made in between.
//! Old versions stay in the file: `keys status` says what still needs each
//! (retiring one waits for backups, whose retention may still need it).
//!
//! Order, so that a crash at any point loses nothing: the new version is
//! written to the master-key file first; then the key ring is rewrapped;
//! then the rows, with the audit event, in one transaction. Each step only
//! needs versions the file already holds.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use turva_model::audit::{AuditAction, Outcome};
use turva_store::keys::{KeyRingFile, MasterKey, WrappedKey};
use turva_store::{data_keys, Tx};

use crate::audit::{self, Event};
use crate::keyring::KeyKind;
use crate::{App, AppError, Ctx};

/// Keys rewrapped per statement batch.
const BATCH: i64 = 500;

/// The master key in memory, and where it came from.
pub struct MasterSlot {
    key: RwLock<Arc<MasterKey>>,
    path: PathBuf,
    /// The file's modification time when it was last read.
    read_at: Mutex<Option<SystemTime>>,
}

impl std::fmt::Debug for MasterSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterSlot({})", self.path.display())
    }
}

impl MasterSlot {
    pub(crate) fn new(key: MasterKey, path: PathBuf) -> Self {
        let read_at = modified(&path);
        MasterSlot {
            key: RwLock::new(Arc::new(key)),
            path,
            read_at: Mutex::new(read_at),
        }
    }

    /// The master key file.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    pub(crate) fn current(&self) -> Arc<MasterKey> {
        match self.key.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Takes `key` unless it lacks a version the one in memory has (a file
    /// that lost a version, or an older read finishing after a newer one).
    fn set(&self, key: MasterKey) -> Result<(), AppError> {
        let read_at = modified(&self.path);
        let mut slot = match self.key.write() {
            Ok(k) => k,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((v, _)) = slot
            .versions()
            .into_iter()
            .find(|(v, _)| !key.has(*v) && !key.is_retired(*v))
        {
            return Err(AppError::Internal(format!(
                "the master key file {} lacks version {v}; keeping the key in memory",
                self.path.display()
            )));
        }
        *slot = Arc::new(key);
        if let Ok(mut at) = self.read_at.lock() {
            *at = read_at;
        }
        Ok(())
    }

    /// Re-reads the file. A file that cannot be read or parsed, or lacks a
    /// version this process has, leaves the key in memory as it was.
    pub(crate) fn reload(&self) -> Result<Arc<MasterKey>, AppError> {
        let (key, _) = MasterKey::load_or_create(&self.path, false)?;
        self.set(key)?;
        Ok(self.current())
    }

    /// The key, re-read first when its file changed since it was read.
    pub(crate) fn fresh(&self) -> Arc<MasterKey> {
        let changed = self
            .read_at
            .lock()
            .map(|at| *at != modified(&self.path))
            .unwrap_or(false);
        if changed {
            if let Err(e) = self.reload() {
                tracing::error!(error = %e, "the master key file changed but could not be read");
            }
        }
        self.current()
    }

    /// The key, re-read first when it lacks `version`.
    pub(crate) fn with_version(&self, version: u32) -> Result<Arc<MasterKey>, AppError> {
        let key = self.current();
        if key.has(version) {
            return Ok(key);
        }
        self.reload()
    }
}

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// One master-key version and what still needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionStatus {
    pub version: u32,
    /// When it was made (milliseconds), if known.
    pub created_at: Option<i64>,
    pub newest: bool,
    /// Live data keys (companies, people, periods, the platform) it wraps.
    pub data_keys: i64,
    /// Whether it wraps the database key in `keyring.json`.
    pub key_ring: bool,
    /// Retained key-ring copies (`[backup] keyring_target`) holding a key
    /// wrapped by it: the backups they open need it.
    pub key_ring_copies: usize,
}

/// Every master-key version, oldest first, with what still needs it.
pub async fn status(app: &App) -> Result<Vec<VersionStatus>, AppError> {
    let master = app.master_slot().fresh();
    let mut tx = app.db().read().await?;
    let counts = data_keys::count_by_version(&mut tx).await?;
    drop(tx);
    let ring = KeyRingFile::version_at(&ring_path(app)).ok();
    // Unreadable copies are not fatal to a status report; they show as
    // needing nothing and the backup commands name the fault.
    let copies = crate::backup::versions_in_copies(app)
        .await
        .unwrap_or_default();
    let newest = master.newest_version();
    Ok(master
        .versions()
        .into_iter()
        .map(|(version, created)| VersionStatus {
            version,
            created_at: created.map(|s| s.saturating_mul(1000)),
            newest: version == newest,
            data_keys: counts
                .iter()
                .find(|(v, _)| *v == version)
                .map_or(0, |(_, n)| *n),
            key_ring: ring == Some(version),
            key_ring_copies: copies.get(&version).copied().unwrap_or(0),
        })
        .collect())
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub version: u32,
    /// Data keys rewrapped (the key ring's database key besides).
    pub rewrapped: usize,
}

/// Adds a master-key version and rewraps every data key under it (see the
/// module's comment); audited as `key.rotate` by `credential` (`cli` or
/// `system`).
pub async fn rotate(app: &App, ctx: &Ctx, credential: &str) -> Result<Rotated, AppError> {
    rotate_if(app, ctx, credential, None)
        .await?
        .ok_or_else(|| AppError::Internal("the rotation did not run".into()))
}

/// Rotates; with `due_days`, only when the newest version (read under the
/// lock, so two processes do not both rotate) is at least that old.
async fn rotate_if(
    app: &App,
    ctx: &Ctx,
    credential: &str,
    due_days: Option<i64>,
) -> Result<Option<Rotated>, AppError> {
    // The write lock orders rotations (and key creation) of every process.
    let mut tx = app.db().write().await?;
    data_keys::lock_for_rewrap(&mut tx).await?;
    let slot = app.master_slot();
    let (mut master, _) = MasterKey::load_or_create(&slot.path, false)?;
    if let Some(days) = due_days {
        if !is_due(&master, app.now(), days) {
            return Ok(None);
        }
    }
    let version = master.add_version(app.now() / 1000);
    master.save(&slot.path)?;
    slot.set(master)?;
    let master = slot.current();
    KeyRingFile::rewrap(&ring_path(app), &master)?;
    let rewrapped = rewrap_in(app, &mut tx, &master).await?;
    let why = format!("master key version {version}; {rewrapped} data keys rewrapped");
    let mut ev = Event::new(AuditAction::KeyRotate, Outcome::Allowed).reason(&why);
    ev.credential = Some(credential);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    tracing::warn!(
        version,
        keys = rewrapped,
        "the master key has a new version: back up the master key file again"
    );
    Ok(Some(Rotated { version, rewrapped }))
}

/// Whether the newest version is `days` old (0: never). A version of
/// unknown age (written before Turva recorded it) is not: the schedule
/// starts with the first version it made, and `turva keys rotate` is the
/// operator's.
fn is_due(master: &MasterKey, now: i64, days: i64) -> bool {
    let newest = master.newest_version();
    let made = master
        .versions()
        .into_iter()
        .find(|(v, _)| *v == newest)
        .and_then(|(_, at)| at);
    days > 0 && made.is_some_and(|at| now / 1000 - at >= days * 86_400)
}

/// Rewraps under the newest version every key that another one wraps (a
/// key made by a process that had not yet read a rotation's new version);
/// returns how many.
pub async fn rewrap_stale(app: &App) -> Result<usize, AppError> {
    // Under the lock that rotations take, so the ring is written by one
    // process at a time.
    let mut tx = app.db().write().await?;
    data_keys::lock_for_rewrap(&mut tx).await?;
    let master = app.master_slot().fresh();
    let ring = ring_path(app);
    if KeyRingFile::version_at(&ring).is_ok_and(|v| v != master.newest_version()) {
        KeyRingFile::rewrap(&ring, &master)?;
    }
    let n = rewrap_in(app, &mut tx, &master).await?;
    tx.commit().await?;
    Ok(n)
}

/// Rotates when the newest version is older than `[keys] rotate_days`,
/// then rewraps stale keys. For the server's housekeeping.
/// Retires every master-key version but the newest that nothing needs
/// any more: no live data key and not the key ring are wrapped by it, and
/// no retained key-ring copy (which a backup may be restored with) holds a
/// key wrapped by it. The file keeps a `retired v<N>` line, so every
/// process lets the version go. Audited as `key.retire`. Returns the
/// versions retired.
pub async fn retire_unneeded(app: &App, ctx: &Ctx, credential: &str) -> Result<Vec<u32>, AppError> {
    // The copies are read before the lock: a backup writing a new copy
    // meanwhile wraps under the newest version, which is never retired.
    let copies = crate::backup::versions_in_copies(app)
        .await
        .map_err(|e| AppError::Unavailable(format!("key-ring copies: {e}")))?;
    let mut tx = app.db().write().await?;
    data_keys::lock_for_rewrap(&mut tx).await?;
    let slot = app.master_slot();
    let (mut master, _) = MasterKey::load_or_create(&slot.path, false)?;
    let counts = data_keys::count_by_version(&mut tx).await?;
    let ring = KeyRingFile::version_at(&ring_path(app))?;
    let newest = master.newest_version();
    let unneeded: Vec<u32> = master
        .versions()
        .into_iter()
        .map(|(v, _)| v)
        .filter(|v| {
            *v != newest
                && *v != ring
                && !counts.iter().any(|(c, n)| c == v && *n > 0)
                && copies.get(v).copied().unwrap_or(0) == 0
        })
        .collect();
    if unneeded.is_empty() {
        return Ok(unneeded);
    }
    for v in &unneeded {
        master.retire(*v);
    }
    master.save(&slot.path)?;
    slot.set(master)?;
    let why = format!(
        "master key versions {} retired: nothing needs them",
        unneeded
            .iter()
            .map(|v| format!("v{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut ev = Event::new(AuditAction::KeyRetire, Outcome::Allowed).reason(&why);
    ev.credential = Some(credential);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    tracing::warn!(versions = ?unneeded, "master key versions retired: back up the master key file again");
    Ok(unneeded)
}

pub async fn housekeeping(app: &App) -> Result<Option<Rotated>, AppError> {
    let days = i64::from(app.config().keys.rotate_days);
    let rotated = if is_due(&app.master_slot().fresh(), app.now(), days) {
        rotate_if(app, &Ctx::cli(), "system", Some(days)).await?
    } else {
        None
    };
    let n = rewrap_stale(app).await?;
    if n > 0 {
        tracing::info!(
            keys = n,
            "data keys rewrapped under the newest master-key version"
        );
    }
    retire_unneeded(app, &Ctx::cli(), "system").await?;
    Ok(rotated)
}

async fn rewrap_in(app: &App, tx: &mut Tx, master: &MasterKey) -> Result<usize, AppError> {
    let newest = master.newest_version();
    let mut n = 0;
    loop {
        let stale = data_keys::not_under(tx, newest, BATCH).await?;
        if stale.is_empty() {
            return Ok(n);
        }
        for (id, kind, owner, wrapped) in &stale {
            let purpose = KeyKind::parse(kind)
                .map(|k| k.purpose(owner))
                .ok_or_else(|| AppError::Internal(format!("a data key of unknown kind {kind}")))?;
            let opener = app.master_slot().with_version(wrapped.kek_version)?;
            let key = opener.unwrap(&purpose, wrapped)?;
            // Under `master`'s newest, the version this pass selects by.
            let again: WrappedKey = master.wrap(&purpose, &key);
            data_keys::rewrap(tx, id, &again).await?;
        }
        n += stale.len();
    }
}

fn ring_path(app: &App) -> PathBuf {
    app.data_dir().join("keyring.json")
}
