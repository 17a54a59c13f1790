//! Backups: `turva backup run`, `list`, `verify`, `restore`, `drill`
//! (issue 7; the design is `docs/design/0004-backups.md`).
//!
//! A backup is a logical copy of one snapshot of the database, plus the
//! attachments its rows name:
//! - rows are grouped by owner (each company, each person, the platform's
//!   audit log; `turva_store::backup::TABLES`), serialised as JSON lines and
//!   cut into chunks where a row's hash says so (so a changed row changes
//!   one chunk, and an unchanged chunk is not written again);
//! - a chunk is named by HMAC-SHA256 of its plaintext under a key derived
//!   from its owner's data key (equal content, same name, nothing revealed)
//!   and sealed with AES-256-GCM under another key derived from it, with
//!   its owner and name as associated data: destroying a company's or a
//!   person's key makes every chunk of theirs unreadable in every retained
//!   backup at once;
//! - attachments are copied as they are stored (already AES-256-GCM under
//!   per-file keys wrapped by the company key), once: a later backup names
//!   the same object;
//! - the manifest lists every chunk and file with the SHA-256 of its stored
//!   bytes, the schema version and the audit tree's size and root, and is
//!   signed with the audit signing key (Ed25519, outside the database). It
//!   is written last, so a backup killed half-way is never listed;
//! - wrapped keys are not in backups: each backup writes a copy of the key
//!   ring (`keyring.json` and every `data_keys` row) to `[backup]
//!   keyring_target`, kept `keyring_retention_days`.
//!
//! Layout of the target: `manifests/<id>` (a signature line, a summary
//! line, the manifest), `chunks/<owner>/<name>`, `files/<object name>`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use turva_model::audit::{AuditAction, Outcome};
use turva_store::backup::{self as sql, Group, Table, TABLES};
use turva_store::backup_target::{Target, TargetError};
use turva_store::data_keys::KeyRow;
use turva_store::keys::{DataKey, KeyRingFile, MasterKey, WrappedKey};
use turva_store::{crypt, Backend, Db, StoreError, Tx};

use crate::audit::{self, Event};
use crate::checkpoint::{self, Signer};
use crate::keyring::{self, KeyKind};
use crate::{App, AppError, Config, Ctx};

/// The backup format this Turva writes; it restores every earlier one.
/// 2: the manifest's signature signs the SHA-256 of its body
/// ([`manifest_signed`]); 1 signed the body itself.
pub const FORMAT: u32 = 2;

/// A chunk is cut after a row whose hash has these low bits clear, once it
/// holds `CHUNK_MIN` bytes; never later than `CHUNK_MAX`.
const CUT_MASK: u64 = 7;
const CHUNK_MIN: usize = 8 << 10;
const CHUNK_MAX: usize = 1 << 20;
/// Chunks a restore opens ahead of the one it inserts.
const OPEN_AHEAD: usize = 4;
/// Batches of rows a restore gathers ahead of the one being inserted.
const LOAD_AHEAD: usize = 4;
/// Rows inserted by one statement at restore (bytes of JSON).
const INSERT_BATCH: usize = 1 << 20;
/// The same for the full-text rows of a restore's index build
/// (`feed_search`): each statement writes the index entries gathered so
/// far as a segment of their own (a savepoint), and small segments cost
/// merging.
const SEARCH_INSERT_BATCH: usize = 64 << 20;
/// The summary line of a manifest is read from its first bytes.
const HEAD_BYTES: u64 = 4096;
/// Objects no manifest names are deleted only when older than this (a
/// backup still running has not written its manifest yet).
const ORPHAN_GRACE_MS: i64 = 86_400_000;

/// A failed backup command, as one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The request cannot be done as asked (unknown id, a target that is
    /// not empty, a newer format): nothing was changed.
    #[error("{0}")]
    Refused(String),
    /// The backup is damaged or incomplete; every fault is named.
    #[error("{}", .0.join("; "))]
    Damaged(Vec<String>),
    #[error("{0}")]
    Target(#[from] TargetError),
    #[error("{0}")]
    App(#[from] AppError),
}

impl From<StoreError> for BackupError {
    fn from(e: StoreError) -> Self {
        BackupError::App(e.into())
    }
}

/// A chunk as the manifest names it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChunkRef {
    pub id: String,
    /// Bytes stored (sealed).
    pub size: u64,
    /// SHA-256 of the stored bytes, hex.
    pub sha256: String,
    /// The pack holding it (`packs/<name>`), at `offset`; none for a chunk
    /// stored as an object of its own (`chunks/<owner>/<id>`, the first
    /// layout, still read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub offset: u64,
    /// For a chunk of an append-only segment of the log: which rows it
    /// holds, so that a later backup can name it instead of reading them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<Span>,
}

/// The rows of one segment of an append-only table that a chunk holds:
/// every row with key in `first ..= last` (and no other row).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Span {
    pub table: String,
    /// The tree level, for `audit_nodes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<i64>,
    pub first: i64,
    pub last: i64,
    pub rows: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One owner's rows: whose, in which chunks, how many per table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OwnerPart {
    /// `company:<id>`, `user:<id>` or `platform`.
    pub owner: String,
    pub chunks: Vec<ChunkRef>,
    pub rows: BTreeMap<String, u64>,
    /// The id of the data key the chunks are sealed under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// A chunk (sealed like the others) saying which objects each chunk's
    /// rows concern, so that one object is restored without reading the
    /// whole part ([`Locator`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locator: Option<ChunkRef>,
}

impl OwnerPart {
    /// Every chunk the part names: its rows' and its locator.
    fn stored(&self) -> impl Iterator<Item = &ChunkRef> {
        self.chunks.iter().chain(self.locator.iter())
    }
}

/// An attachment as the manifest names it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileRef {
    pub company: String,
    /// The object's name in the file store (and under `files/` here).
    pub key: String,
    pub size: u64,
    pub sha256: String,
}

/// What a backup holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub id: String,
    pub created_at: i64,
    pub turva_version: String,
    /// `sqlite` or `postgres`: a backup restores into the same kind.
    pub backend: String,
    pub schema_version: i64,
    pub audit_size: u64,
    /// Hex of the audit tree's root at `audit_size`.
    pub audit_root: String,
    /// The key-ring copy written with it.
    pub keyring_copy: String,
    /// SQLite: the change tracking's lineage and the generation this
    /// backup started (changes marked with it or later came after its
    /// snapshot began), so the next one reads only the buckets marked
    /// since ([`sql::tracked`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// The rowids per bucket of its bucket chunks, as a shift
    /// ([`sql::BUCKET_SHIFT`]): a later Turva with another builds on none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_shift: Option<u32>,
    pub owners: Vec<OwnerPart>,
    pub files: Vec<FileRef>,
}

/// The line `list` and status read without fetching the whole manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    pub id: String,
    pub created_at: i64,
    pub companies: usize,
    pub users: usize,
    pub rows: u64,
    pub files: usize,
    /// Bytes the backup names (chunks and files).
    pub bytes: u64,
    /// Bytes this backup wrote that no earlier one had.
    pub new_bytes: u64,
    pub audit_size: u64,
}

/// A copy of the key ring at one moment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRingCopy {
    pub id: String,
    pub created_at: i64,
    /// The text of `keyring.json` (the database key, wrapped).
    pub keyring: String,
    pub data_keys: Vec<KeyRow>,
}

/// The backup targets of a configuration over the data directory `dir`.
pub fn targets(config: &Config, dir: &Path) -> Result<(Target, Target), BackupError> {
    let open = |spec: &Option<String>, default: PathBuf| -> Result<Target, BackupError> {
        match spec.as_deref() {
            None | Some("") => Ok(Target::local(&default)?),
            Some(s) if s.starts_with("s3://") => Ok(Target::s3(s)?),
            Some(s) if s.contains("://") => Err(BackupError::Refused(format!(
                "backup target {}: a directory or an s3:// URL",
                s.split('?').next().unwrap_or_default()
            ))),
            Some(d) => Ok(Target::local(Path::new(d))?),
        }
    };
    let spec = |s: &Option<String>, default: &str| -> String {
        let s = s
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| dir.join(default).to_string_lossy().into_owned());
        let s = s
            .split('?')
            .next()
            .unwrap_or_default()
            .trim_end_matches('/');
        format!("{s}/")
    };
    let (data, ring) = (
        spec(&config.backup.target, "backups"),
        spec(&config.backup.keyring_target, "keyring-copies"),
    );
    if data.starts_with(&ring) || ring.starts_with(&data) {
        return Err(BackupError::Refused(format!(
            "[backup] target and keyring_target must not contain each other ({} and {})",
            data.trim_end_matches('/'),
            ring.trim_end_matches('/')
        )));
    }
    Ok((
        open(&config.backup.target, dir.join("backups"))?,
        open(&config.backup.keyring_target, dir.join("keyring-copies"))?,
    ))
}

/// Tables of the schema that a backup neither holds nor leaves out for a
/// stated reason (`turva_store::backup`): a backup refuses to run while
/// there is one, so a new table is never silently left out.
pub async fn unclassified_tables(app: &App) -> Result<Vec<String>, AppError> {
    let mut tx = app.db().read().await?;
    unclassified(&mut tx).await
}

async fn unclassified(tx: &mut Tx) -> Result<Vec<String>, AppError> {
    Ok(sql::schema_tables(tx)
        .await?
        .into_iter()
        .filter(|name| {
            !TABLES.iter().any(|t| t.name == name)
                && !sql::NOT_BACKED_UP.iter().any(|(n, _)| n == name)
        })
        .collect())
}

/// For each master-key version, how many retained key-ring copies hold a
/// key (or the database key) wrapped by it.
pub async fn versions_in_copies(app: &App) -> Result<BTreeMap<u32, usize>, BackupError> {
    let (_, ring_target) = targets(app.config(), app.data_dir())?;
    let mut out: BTreeMap<u32, usize> = BTreeMap::new();
    for c in keyring_copies(&ring_target).await? {
        let bytes = ring_target.get(&c.name).await?;
        let Ok(copy) = serde_json::from_slice::<KeyRingCopy>(&bytes) else {
            continue;
        };
        let mut versions: HashSet<u32> = copy
            .data_keys
            .iter()
            .filter(|k| k.wrapped.is_some())
            .filter_map(|k| u32::try_from(k.kek_version).ok())
            .collect();
        if let Some(v) = serde_json::from_str::<serde_json::Value>(&copy.keyring)
            .ok()
            .and_then(|r| r["database"]["kek_version"].as_u64())
            .and_then(|v| u32::try_from(v).ok())
        {
            versions.insert(v);
        }
        for v in versions {
            *out.entry(v).or_default() += 1;
        }
    }
    Ok(out)
}

/// The key-ring copies in `ring_target` (only `copy-<id>.json`: anything
/// else there is not ours to read or delete).
async fn keyring_copies(
    ring_target: &Target,
) -> Result<Vec<turva_store::backup_target::Listed>, BackupError> {
    Ok(ring_target
        .list("")
        .await?
        .into_iter()
        .filter(|c| {
            c.name
                .strip_prefix("copy-")
                .and_then(|r| r.strip_suffix(".json"))
                .is_some_and(valid_id)
        })
        .collect())
}

/// The keys a chunk of one owner is named and sealed with.
#[derive(Clone)]
struct OwnerKeys {
    seal: DataKey,
    name: DataKey,
}

impl OwnerKeys {
    fn of(data_key: &DataKey) -> OwnerKeys {
        OwnerKeys {
            seal: crypt::derive(data_key, "turva/backup/chunk-seal"),
            name: crypt::derive(data_key, "turva/backup/chunk-name"),
        }
    }
    fn chunk_id(&self, plain: &[u8]) -> String {
        // HMAC takes a key of any length: the error cannot happen, and an
        // empty name would only make the chunk fail to verify.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(self.name.as_bytes()) else {
            return String::new();
        };
        mac.update(plain);
        hex::encode(mac.finalize().into_bytes())
    }
}

fn chunk_aad(owner: &str, id: &str) -> String {
    format!("turva/backup/chunk/{owner}/{id}")
}

/// Where an owner's chunks live on the target.
fn chunk_path(owner: &str, id: &str) -> String {
    let dir = match owner.split_once(':') {
        Some(("company", id)) => format!("c/{id}"),
        Some(("user", id)) => format!("u/{id}"),
        _ => "p".to_string(),
    };
    format!("chunks/{dir}/{id}")
}

fn pack_path(name: &str) -> String {
    format!("packs/{name}")
}

/// Sealed chunks are stored together in packs of about this size (fewer,
/// larger objects: a file or a PUT per chunk was most of a backup's time).
const PACK_TARGET: usize = 16 << 20;

/// The pack being filled: sealed chunks of any owner (each sealed under
/// its owner's key, so erasure still reaches it), written when full.
struct Packer {
    target: Target,
    name: String,
    buf: Vec<u8>,
    written: u64,
}

impl Packer {
    fn new(target: &Target) -> Packer {
        Packer {
            target: target.clone(),
            name: random_name(),
            buf: Vec::new(),
            written: 0,
        }
    }

    /// Adds a sealed chunk; returns its pack and offset.
    async fn add(&mut self, sealed: &[u8]) -> Result<(String, u64), BackupError> {
        if self.buf.capacity() == 0 {
            // A pack's buffer at its full size at once: growing it by
            // doubling had the kernel zero four times its size each pack.
            self.buf = Vec::with_capacity(PACK_TARGET + sealed.len().max(CHUNK_MAX + 64));
        }
        let at = (self.name.clone(), self.buf.len() as u64);
        self.buf.extend_from_slice(sealed);
        if self.buf.len() >= PACK_TARGET {
            self.finish().await?;
        }
        Ok(at)
    }

    /// Writes the pack being filled, if any.
    async fn finish(&mut self) -> Result<(), BackupError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let bytes = Bytes::from(std::mem::take(&mut self.buf));
        self.written += bytes.len() as u64;
        self.target.put(&pack_path(&self.name), bytes).await?;
        self.name = random_name();
        Ok(())
    }
}

fn random_name() -> String {
    let mut b = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    hex::encode(b)
}

/// Reads chunks, keeping the last pack read (chunks are read in order),
/// or, for a few chunks here and there, each chunk's bytes alone.
struct PackReader {
    target: Target,
    /// The packs read last, the newest at the back: an incremental
    /// backup's part interleaves chunks of old packs with its new ones,
    /// and each switch would otherwise read a whole pack again.
    cached: std::collections::VecDeque<(String, Bytes)>,
    ranged: bool,
}

/// How many whole packs a [`PackReader`] keeps (about 16 MiB each).
const PACKS_KEPT: usize = 4;

impl PackReader {
    fn new(target: &Target) -> PackReader {
        PackReader {
            target: target.clone(),
            cached: std::collections::VecDeque::new(),
            ranged: false,
        }
    }

    fn ranged(target: &Target) -> PackReader {
        PackReader {
            ranged: true,
            ..PackReader::new(target)
        }
    }

    /// The stored bytes of chunk `c` of `owner`, and where they were.
    async fn sealed(&mut self, owner: &str, c: &ChunkRef) -> Result<(Bytes, String), String> {
        let Some(pack) = &c.pack else {
            let path = chunk_path(owner, &c.id);
            return match self.target.get(&path).await {
                Ok(b) => Ok((b, path)),
                Err(TargetError::Missing(_)) => Err(format!("{path} ({owner}) is missing")),
                Err(e) => Err(format!("{path} ({owner}): {e}")),
            };
        };
        let path = pack_path(pack);
        if self.ranged {
            let where_ = format!("{path} at {} (chunk {} of {owner})", c.offset, c.id);
            return match self
                .target
                .get_range(&path, c.offset, c.offset.saturating_add(c.size))
                .await
            {
                Ok(b) if b.len() as u64 == c.size => Ok((b, where_)),
                Ok(_) => Err(format!("{where_} is missing: the pack is too short")),
                Err(TargetError::Missing(_)) => Err(format!(
                    "{path} (with chunk {} of {owner}) is missing",
                    c.id
                )),
                Err(e) => Err(format!("{where_}: {e}")),
            };
        }
        let bytes = if let Some(i) = self.cached.iter().position(|(n, _)| n == pack) {
            let hit = self.cached.remove(i).unwrap_or_default();
            let bytes = hit.1.clone();
            self.cached.push_back(hit);
            bytes
        } else {
            let bytes = match self.target.get(&path).await {
                Ok(b) => b,
                Err(TargetError::Missing(_)) => {
                    return Err(format!(
                        "{path} (with chunk {} of {owner}) is missing",
                        c.id
                    ))
                }
                Err(e) => return Err(format!("{path}: {e}")),
            };
            if self.cached.len() >= PACKS_KEPT {
                self.cached.pop_front();
            }
            self.cached.push_back((pack.clone(), bytes.clone()));
            bytes
        };
        let where_ = format!("{path} at {} (chunk {} of {owner})", c.offset, c.id);
        let (start, end) = (
            usize::try_from(c.offset).unwrap_or(usize::MAX),
            usize::try_from(c.offset.saturating_add(c.size)).unwrap_or(usize::MAX),
        );
        if end > bytes.len() || start > end {
            return Err(format!("{where_} is missing: the pack is too short"));
        }
        Ok((bytes.slice(start..end), where_))
    }
}

fn file_path(key: &str) -> String {
    format!("files/{key}")
}

fn manifest_path(id: &str) -> String {
    format!("manifests/{id}")
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// FNV-1a: where to cut chunks (not a security function).
fn cut_hash(line: &[u8]) -> u64 {
    line.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Reports how a long command goes, at most once a second, as a
/// `turva::progress` event (the CLI shows them on a terminal).
struct Progress {
    what: &'static str,
    last: std::time::Instant,
}

impl Progress {
    fn new(what: &'static str) -> Progress {
        Progress {
            what,
            last: std::time::Instant::now(),
        }
    }
    fn tick(&mut self, done: impl FnOnce() -> String) {
        if self.last.elapsed() >= std::time::Duration::from_secs(1) {
            self.last = std::time::Instant::now();
            tracing::info!(target: "turva::progress", "{}: {}", self.what, done());
        }
    }
}

/// A new backup id: its time, sortable, and a random tail.
fn new_id(now: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let mut tail = [0u8; 3];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut tail);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        hex::encode(tail)
    )
}

/// Whether `id` has the shape of a backup id (so it names an object safely).
fn valid_id(id: &str) -> bool {
    id.len() <= 40 && !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

// ---------------------------------------------------------------- writing

/// What reaches the chunk writer from the reader of the snapshot.
enum Feed {
    /// Rows as JSON lines; a line `#name` starts the rows of table `name`.
    Lines(Vec<String>),
    /// A segment starts, in a chunk of its own: of an append-only table,
    /// or (`bucketed`) a tracked table of a large company, whose rows come
    /// keyed by rowid, one bucket per chunk ([`sql::dump_buckets`]).
    Segment {
        table: &'static str,
        level: Option<i64>,
        bucketed: bool,
    },
    /// Rows of the segment, with their keys.
    Keyed(Vec<(i64, String)>),
    /// An earlier backup's chunks holding the segment's next rows.
    Reuse(Vec<ChunkRef>),
    /// The segment ends (its last chunk ends with it).
    EndSegment,
    /// The earlier backup's chunks of the part ([`Earlier`]) with these
    /// indexes hold the next buckets' rows.
    Earlier(Vec<usize>),
}

impl From<sql::BucketFeed> for Feed {
    fn from(f: sql::BucketFeed) -> Feed {
        match f {
            sql::BucketFeed::Rows(rows) => Feed::Keyed(rows),
            sql::BucketFeed::Reuse(run) => Feed::Earlier(run),
        }
    }
}

/// An earlier backup's chunks of one owner's tracked tables that a new one
/// may name again: the generation it started, and each chunk of its part
/// with the locator's tags of it.
struct Earlier {
    generation: i64,
    chunks: Vec<(ChunkRef, Vec<u32>)>,
    /// The part's rows per table.
    rows: BTreeMap<String, u64>,
}

impl Earlier {
    /// The chunks of `table` that hold one bucket each, as (bucket, index),
    /// in order; none when they do not hold every row of the table the
    /// part has (it was written before the company was large): then the
    /// table is read whole.
    fn buckets(&self, table: &str) -> Option<Vec<(i64, usize)>> {
        let mut held = 0;
        let list: Vec<(i64, usize)> = self
            .chunks
            .iter()
            .enumerate()
            .filter_map(|(i, (c, _))| {
                let s = c.span.as_ref()?;
                let bucket = s.first >> sql::BUCKET_SHIFT;
                let whole = s.table == table
                    && s.level.is_none()
                    && s.first <= s.last
                    && s.last >> sql::BUCKET_SHIFT == bucket;
                held += if whole { s.rows } else { 0 };
                whole.then_some((bucket, i))
            })
            .collect();
        (held == self.rows.get(table).copied().unwrap_or(0)).then_some(list)
    }
}

impl From<Vec<String>> for Feed {
    fn from(lines: Vec<String>) -> Feed {
        Feed::Lines(lines)
    }
}

/// The segment being written and the keys of its rows in the open chunk.
struct Segment {
    table: &'static str,
    level: Option<i64>,
    /// One bucket of rowids per chunk (a tracked table), not cut by content.
    bucketed: bool,
    first: Option<i64>,
    last: i64,
    rows: u64,
}

/// Seals and stores one owner's chunks as rows arrive.
struct ChunkWriter {
    owner: String,
    keys: OwnerKeys,
    /// Chunks the previous backup names (known to exist).
    known: HashMap<String, ChunkRef>,
    /// The previous backup's chunks of the part, to name again by bucket
    /// (each taken when named).
    earlier: Vec<Option<(ChunkRef, Vec<u32>)>>,
    buf: Vec<u8>,
    table: String,
    segment: Option<Segment>,
    /// The tags of the objects each chunk's rows concern (the locator).
    locator: Vec<Vec<u32>>,
    part: OwnerPart,
    new_bytes: u64,
    progress: Progress,
    packer: Packer,
}

impl ChunkWriter {
    async fn feed(&mut self, feed: Feed) -> Result<(), BackupError> {
        match feed {
            Feed::Lines(lines) => {
                for line in lines {
                    self.line(line).await?;
                }
            }
            Feed::Segment {
                table,
                level,
                bucketed,
            } => {
                self.flush().await?;
                self.table = table.to_string();
                self.part.rows.entry(self.table.clone()).or_default();
                self.segment = Some(Segment {
                    table,
                    level,
                    bucketed,
                    first: None,
                    last: 0,
                    rows: 0,
                });
            }
            Feed::Earlier(run) => {
                self.flush().await?;
                for i in run {
                    // Each earlier chunk is named again once: taken, not copied.
                    let Some((c, tags)) = self.earlier.get_mut(i).and_then(Option::take) else {
                        return Err(AppError::Internal(format!("no earlier chunk {i}")).into());
                    };
                    self.name_again(c, tags);
                }
            }
            Feed::Keyed(rows) => {
                for (key, line) in rows {
                    let next_bucket = self.segment.as_ref().is_some_and(|s| {
                        s.bucketed
                            && s.first.is_some()
                            && s.last >> sql::BUCKET_SHIFT != key >> sql::BUCKET_SHIFT
                    });
                    if next_bucket {
                        self.flush().await?;
                    }
                    if let Some(s) = &mut self.segment {
                        s.first.get_or_insert(key);
                        s.last = key;
                        s.rows += 1;
                    }
                    self.row(&line).await?;
                }
            }
            Feed::Reuse(chunks) => {
                self.flush().await?;
                for c in chunks {
                    self.name_again(c, Vec::new());
                }
            }
            Feed::EndSegment => {
                self.flush().await?;
                self.segment = None;
            }
        }
        Ok(())
    }

    /// Names an earlier backup's chunk again, counting the rows its span
    /// holds.
    fn name_again(&mut self, c: ChunkRef, tags: Vec<u32>) {
        if let Some(span) = &c.span {
            match self.part.rows.get_mut(&span.table) {
                Some(n) => *n += span.rows,
                None => {
                    self.part.rows.insert(span.table.clone(), span.rows);
                }
            }
        }
        self.part.chunks.push(c);
        self.locator.push(tags);
    }

    async fn line(&mut self, line: String) -> Result<(), BackupError> {
        if let Some(table) = line.strip_prefix('#') {
            self.table = table.to_string();
            self.part.rows.entry(self.table.clone()).or_default();
            if !self.buf.is_empty() {
                self.buf.extend_from_slice(line.as_bytes());
                self.buf.push(b'\n');
            }
            return Ok(());
        }
        self.row(&line).await
    }

    async fn row(&mut self, line: &str) -> Result<(), BackupError> {
        if self.buf.is_empty() {
            // Every chunk says which table its first rows belong to.
            self.buf.push(b'#');
            self.buf.extend_from_slice(self.table.as_bytes());
            self.buf.push(b'\n');
        }
        self.buf.extend_from_slice(line.as_bytes());
        self.buf.push(b'\n');
        if let Some(n) = self.part.rows.get_mut(&self.table) {
            *n += 1;
        }
        let (owner, part, new_bytes) = (&self.owner, &self.part, self.new_bytes);
        self.progress.tick(|| {
            format!(
                "{owner}: {} rows, {} chunks, {:.1} MB new",
                part.rows.values().sum::<u64>(),
                part.chunks.len(),
                new_bytes as f64 / 1e6
            )
        });
        let by_content = !self.segment.as_ref().is_some_and(|s| s.bucketed);
        if self.buf.len() >= CHUNK_MAX
            || by_content
                && self.buf.len() >= CHUNK_MIN
                && cut_hash(line.as_bytes()) & CUT_MASK == 0
        {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), BackupError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let span = self.segment.as_mut().and_then(|s| {
            let first = s.first.take()?;
            let span = Span {
                table: s.table.to_string(),
                level: s.level,
                first,
                last: s.last,
                rows: s.rows,
            };
            s.rows = 0;
            Some(span)
        });
        let plain = std::mem::take(&mut self.buf);
        let mut chunk = self.store(&plain).await?;
        chunk.span = span;
        let tags = chunk_tags(&plain);
        self.part.chunks.push(chunk);
        self.locator.push(tags);
        Ok(())
    }

    /// Names, seals and stores a chunk, unless an earlier backup has it.
    async fn store(&mut self, plain: &[u8]) -> Result<ChunkRef, BackupError> {
        let id = self.keys.chunk_id(plain);
        if let Some(c) = self.known.get(&id) {
            return Ok(c.clone());
        }
        let sealed = crypt::seal(&self.keys.seal, &chunk_aad(&self.owner, &id), plain);
        let (pack, offset) = self.packer.add(&sealed).await?;
        let c = ChunkRef {
            id: id.clone(),
            size: sealed.len() as u64,
            sha256: sha256_hex(&sealed),
            pack: Some(pack),
            offset,
            span: None,
        };
        self.new_bytes += c.size;
        self.known.insert(id, c.clone());
        Ok(c)
    }

    /// Stores the locator of the part, when its rows concern any object.
    async fn finish_locator(&mut self) -> Result<(), BackupError> {
        if self.locator.iter().all(Vec::is_empty) {
            return Ok(());
        }
        let plain = Locator::encode(&self.locator);
        self.part.locator = Some(self.store(&plain).await?);
        Ok(())
    }
}

/// The columns of a row that name the folders and documents it concerns.
#[derive(Deserialize)]
struct ObjectIds<'a> {
    #[serde(borrow, default)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    folder_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    ancestor_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    document_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    object_id: Option<std::borrow::Cow<'a, str>>,
}

impl ObjectIds<'_> {
    /// The value of the id column `name` ([`ID_COLUMNS`]).
    fn column(&self, name: &str) -> Option<&str> {
        match name {
            "id" => self.id.as_deref(),
            "folder_id" => self.folder_id.as_deref(),
            "ancestor_id" => self.ancestor_id.as_deref(),
            "document_id" => self.document_id.as_deref(),
            "object_id" => self.object_id.as_deref(),
            _ => None,
        }
    }
}

/// Every column of [`ObjectIds`].
const ID_COLUMNS: [&str; 5] = ["id", "folder_id", "ancestor_id", "document_id", "object_id"];

/// The columns naming the objects a row of `table` concerns: what a
/// restore of one folder sub-tree or document looks them up by.
fn object_columns(table: &str) -> &'static [&'static str] {
    match table {
        "folders" => &["id"],
        "folder_paths" => &["folder_id", "ancestor_id"],
        "documents" => &["id", "folder_id"],
        "document_versions" | "files" => &["document_id"],
        "shares" | "search_entries" => &["object_id"],
        _ => &[],
    }
}

/// Adds the tags of the objects a row of `table` concerns.
fn object_tags(table: &str, line: &str, out: &mut Vec<u32>) {
    let columns = object_columns(table);
    if columns.is_empty() {
        return;
    }
    let mut found = [None; 2];
    if top_level_strings(line.as_bytes(), columns, &mut found).is_some() {
        out.extend(found.iter().flatten().map(|id| object_tag(id)));
        return;
    }
    // Anything the quick reading does not take (an escape in a key or a
    // wanted value, a value of another kind) is parsed in full.
    parsed_object_tags(table, line, out);
}

/// [`object_tags`] by a full parse of the row.
fn parsed_object_tags(table: &str, line: &str, out: &mut Vec<u32>) {
    let columns = object_columns(table);
    if columns.is_empty() {
        return;
    }
    let Ok(ids) = serde_json::from_str::<ObjectIds>(line) else {
        return;
    };
    out.extend(columns.iter().filter_map(|c| ids.column(c)).map(object_tag));
}

/// Reads the string values of `keys` (at most two) at the top level of
/// the JSON object `b` into `found` (`None` where a key is missing or
/// null), skipping every other value without decoding it: a row's large
/// text costs a `memchr` per escape, not a parse. `None` when it cannot
/// answer exactly as a full parse into [`ObjectIds`] would (an escape in a
/// key or in a wanted value, an id column that is not a string or null,
/// malformed JSON); trailing bytes after the object are not looked at
/// (a row is one object).
fn top_level_strings<'a>(
    b: &'a [u8],
    keys: &[&str],
    found: &mut [Option<&'a str>; 2],
) -> Option<()> {
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return Some(());
    }
    loop {
        let (key, next) = plain_string(b, i)?;
        i = skip_ws(b, next);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        match keys.iter().position(|k| k.as_bytes() == key) {
            Some(k) => {
                if b[i..].starts_with(b"null") {
                    i += 4;
                } else {
                    let (value, next) = plain_string(b, i)?;
                    *found.get_mut(k)? = Some(std::str::from_utf8(value).ok()?);
                    i = next;
                }
            }
            // The other id columns must still be strings or null, as a
            // full parse into `ObjectIds` requires.
            None if ID_COLUMNS.iter().any(|k| k.as_bytes() == key)
                && !(b.get(i) == Some(&b'"') || b[i..].starts_with(b"null")) =>
            {
                return None
            }
            None => i = skip_value(b, i)?,
        }
        i = skip_ws(b, i);
        match b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            b'}' => return Some(()),
            _ => return None,
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
    {
        i += 1;
    }
    i
}

/// The bytes of the string starting at `b[i]` (a `"`) and the index after
/// it; `None` when it holds an escape (or is not a string).
fn plain_string(b: &[u8], i: usize) -> Option<(&[u8], usize)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let len = memchr::memchr2(b'"', b'\\', b.get(i + 1..)?)?;
    if b[i + 1 + len] != b'"' {
        return None;
    }
    Some((&b[i + 1..i + 1 + len], i + len + 2))
}

/// The index after the string starting at `b[i]` (a `"`), escapes and all.
fn skip_string(b: &[u8], i: usize) -> Option<usize> {
    let mut at = i + 1;
    loop {
        at += memchr::memchr2(b'"', b'\\', b.get(at..)?)?;
        if b[at] == b'"' {
            return Some(at + 1);
        }
        // An escape: the byte after the backslash is never the end.
        at += 2;
    }
}

/// The index after the JSON value starting at `b[i]`.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut at = i;
            loop {
                match b.get(at)? {
                    b'"' => {
                        at = skip_string(b, at)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(at + 1);
                        }
                    }
                    _ => {}
                }
                at += 1;
            }
        }
        // A number, true, false or null: up to the next delimiter.
        _ => {
            let len = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(b.len() - i);
            (len > 0).then_some(i + len)
        }
    }
}

/// The lines of an opened chunk (a `#name` line, then rows as JSON), empty
/// ones left out; found a `memchr` at a time.
fn chunk_lines(plain: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', plain)
        .chain([plain.len()])
        .map(move |end| {
            let line = &plain[start..end];
            start = end + 1;
            line
        })
        .filter(|l| !l.is_empty())
}

/// The sorted tags of the objects a chunk's rows concern: its lines are
/// rows of the table named by the `#name` line before them.
fn chunk_tags(plain: &[u8]) -> Vec<u32> {
    let mut tags = Vec::new();
    let mut table = "";
    for line in chunk_lines(plain) {
        if let Some(name) = line.strip_prefix(b"#") {
            table = std::str::from_utf8(name).unwrap_or_default();
        } else if !object_columns(table).is_empty() {
            if let Ok(line) = std::str::from_utf8(line) {
                object_tags(table, line, &mut tags);
            }
        }
    }
    tags.sort_unstable();
    tags.dedup();
    tags
}

/// A short hash of an object id (the locator is sealed: not keyed).
fn object_tag(id: &str) -> u32 {
    let h = cut_hash(id.as_bytes());
    (h ^ (h >> 32)) as u32
}

/// Which of a part's chunks hold rows concerning which objects: for each
/// chunk, the sorted tags of those objects. Stored as a chunk of the part:
/// for each chunk a little-endian u32 count, then its tags.
struct Locator {
    tags: Vec<Vec<u32>>,
}

impl Locator {
    fn encode(tags: &[Vec<u32>]) -> Vec<u8> {
        let mut out = Vec::with_capacity(tags.iter().map(|t| 4 + 4 * t.len()).sum());
        for t in tags {
            out.extend_from_slice(&u32::try_from(t.len()).unwrap_or(0).to_le_bytes());
            for tag in t {
                out.extend_from_slice(&tag.to_le_bytes());
            }
        }
        out
    }

    fn decode(bytes: &[u8], chunks: usize) -> Option<Locator> {
        let mut words = bytes
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
        if !bytes.len().is_multiple_of(4) {
            return None;
        }
        let mut tags = Vec::with_capacity(chunks);
        for _ in 0..chunks {
            let n = usize::try_from(words.next()?).ok()?;
            let t: Vec<u32> = words.by_ref().take(n).collect();
            if t.len() != n {
                return None;
            }
            tags.push(t);
        }
        words.next().is_none().then_some(Locator { tags })
    }

    /// The chunks holding rows that concern any of `ids` (and a few that
    /// only share a tag with one).
    fn chunks_for<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> BTreeSet<usize> {
        let wanted: Vec<u32> = ids.into_iter().map(object_tag).collect();
        self.tags
            .iter()
            .enumerate()
            .filter(|(_, t)| wanted.iter().any(|w| t.binary_search(w).is_ok()))
            .map(|(i, _)| i)
            .collect()
    }
}

/// What of the previous backup's log a new one may name again: the
/// chunks of its platform part, every event above `pruned_through` up to
/// `size` (the tree size the previous backup recorded, whose root the
/// live tree still has), and every tree node within that size.
struct LogReuse {
    chunks: Vec<ChunkRef>,
    pruned_through: i64,
    size: u64,
}

impl LogReuse {
    /// The keys of segment (`table`, `level`) the previous backup's rows
    /// are still the live ones for: `(above, through]`.
    fn window(&self, table: &str, level: Option<i64>) -> (i64, i64) {
        let size = i64::try_from(self.size).unwrap_or(0);
        match level {
            None if table == "audit_events" => (self.pruned_through, size),
            // A node (level, idx) of a tree of `size` leaves is complete
            // once idx < size >> level, and never changes afterwards.
            Some(level) if (0..63).contains(&level) => (-1, (size >> level) - 1),
            _ => (0, 0),
        }
    }

    /// The previous chunks of the segment that hold only rows inside its
    /// window: a run of consecutive keys, from the first chunk above it.
    fn chunks(&self, table: &str, level: Option<i64>) -> Vec<ChunkRef> {
        let (above, through) = self.window(table, level);
        let mut out: Vec<ChunkRef> = Vec::new();
        let mut next = None;
        for c in &self.chunks {
            let Some(s) = &c.span else { continue };
            if s.table != table || s.level != level {
                continue;
            }
            if next.is_none() && s.first <= above {
                continue;
            }
            if next.is_some_and(|n| s.first != n) || s.first > s.last || s.last > through {
                break;
            }
            next = Some(s.last + 1);
            out.push(c.clone());
        }
        out
    }
}

/// Whether an opened chunk holds as many rows as its span says (a chunk
/// without a span says nothing).
fn span_holds(c: &ChunkRef, plain: &[u8]) -> bool {
    let Some(span) = &c.span else {
        return true;
    };
    let rows = chunk_lines(plain).filter(|l| !l.starts_with(b"#")).count();
    rows as u64 == span.rows && span.first <= span.last
}

/// Sends the rows of one segment of an append-only table with keys in
/// `(after, through]`.
async fn send_range(
    tx: &mut Tx,
    table: &Table,
    level: Option<i64>,
    mut after: i64,
    through: i64,
    send: &mpsc::Sender<Feed>,
) -> Result<(), BackupError> {
    loop {
        let page = sql::segment_page(tx, table, level, after, through).await?;
        let Some((last, _)) = page.last() else {
            return Ok(());
        };
        after = *last;
        if send.send(Feed::Keyed(page)).await.is_err() {
            return Ok(());
        }
    }
}

/// Sends one segment: its rows, or the previous backup's chunks of them
/// where `reuse` allows, and the rows around those.
async fn send_segment(
    tx: &mut Tx,
    table: &'static Table,
    level: Option<i64>,
    reuse: Option<&LogReuse>,
    send: &mpsc::Sender<Feed>,
) -> Result<(), BackupError> {
    let start = Feed::Segment {
        table: table.name,
        level,
        bucketed: false,
    };
    if send.send(start).await.is_err() {
        return Ok(());
    }
    let reused = reuse
        .map(|r| r.chunks(table.name, level))
        .unwrap_or_default();
    let bounds = reused
        .first()
        .and_then(|c| c.span.as_ref())
        .zip(reused.last().and_then(|c| c.span.as_ref()))
        .map(|(a, b)| (a.first, b.last));
    let mut after = i64::MIN;
    if let Some((first, last)) = bounds {
        // Rows before the reused run (where retention cut a chunk).
        send_range(tx, table, level, i64::MIN, first - 1, send).await?;
        if send.send(Feed::Reuse(reused)).await.is_err() {
            return Ok(());
        }
        after = last;
    }
    send_range(tx, table, level, after, i64::MAX, send).await?;
    let _ = send.send(Feed::EndSegment).await;
    Ok(())
}

/// Streams one owner's tables from the snapshot into a [`ChunkWriter`]
/// running beside it; returns the owner's part and the bytes written.
#[allow(clippy::too_many_arguments)]
async fn write_owner(
    tx: &mut Tx,
    group: Group,
    owner: &str,
    (owner_id, large): (Option<&str>, bool),
    (key_id, data_key): (&str, &DataKey),
    packer: Packer,
    known: HashMap<String, ChunkRef>,
    reuse: Option<&LogReuse>,
    earlier: Option<Earlier>,
) -> Result<(OwnerPart, u64, Packer), BackupError> {
    let (send, mut recv) = mpsc::channel::<Feed>(8);
    let backend = tx.backend();
    // A large company's tracked tables go one bucket per chunk (SQLite).
    let by_bucket = backend == Backend::Sqlite && large && group == Group::Company;
    let mut since: HashMap<String, Vec<(i64, usize)>> = HashMap::new();
    if let Some(e) = &earlier {
        for t in TABLES.iter().filter(|t| sql::tracked(t)) {
            if let Some(list) = e.buckets(t.name) {
                since.insert(t.name.to_string(), list);
            }
        }
    }
    let generation = earlier.as_ref().map(|e| e.generation);
    let mut writer = ChunkWriter {
        owner: owner.to_string(),
        keys: OwnerKeys::of(data_key),
        packer,
        known,
        earlier: earlier
            .map(|e| e.chunks.into_iter().map(Some).collect())
            .unwrap_or_default(),
        buf: Vec::with_capacity(CHUNK_MAX + 4096),
        table: String::new(),
        segment: None,
        locator: Vec::new(),
        part: OwnerPart {
            owner: owner.to_string(),
            chunks: Vec::new(),
            rows: BTreeMap::new(),
            key_id: Some(key_id.to_string()),
            locator: None,
        },
        new_bytes: 0,
        progress: Progress::new("backup"),
    };
    let consume = tokio::spawn(async move {
        while let Some(feed) = recv.recv().await {
            writer.feed(feed).await?;
        }
        writer.flush().await?;
        writer.finish_locator().await?;
        writer.part.rows.retain(|_, n| *n > 0);
        Ok::<_, BackupError>((writer.part, writer.new_bytes, writer.packer))
    });
    let mut produced: Result<(), BackupError> = Ok(());
    let tables: Vec<&'static Table> = TABLES
        .iter()
        .filter(|t| t.group == group && t.on(backend))
        .collect();
    for table in tables {
        let sent = if by_bucket && sql::tracked(table) {
            let owner_id = owner_id.unwrap_or_default();
            let prior = generation.zip(since.get(table.name).map(Vec::as_slice));
            if send
                .send(Feed::Segment {
                    table: table.name,
                    level: None,
                    bucketed: true,
                })
                .await
                .is_err()
            {
                break;
            }
            let r = sql::dump_buckets(tx, table, owner_id, prior, &send).await;
            if r.is_ok() && send.send(Feed::EndSegment).await.is_err() {
                break;
            }
            r.map(|_| ()).map_err(BackupError::from)
        } else if sql::append_only(table) {
            match sql::segments(tx, table).await {
                Ok(levels) => {
                    let mut r = Ok(());
                    for level in levels {
                        r = send_segment(tx, table, level, reuse, &send).await;
                        if r.is_err() {
                            break;
                        }
                    }
                    r
                }
                Err(e) => Err(e.into()),
            }
        } else if send
            .send(Feed::Lines(vec![format!("#{}", table.name)]))
            .await
            .is_err()
        {
            break;
        } else {
            sql::dump(tx, table, owner_id, large, &send)
                .await
                .map(|_| ())
                .map_err(BackupError::from)
        };
        if let Err(e) = sent {
            produced = Err(e);
            break;
        }
    }
    drop(send);
    let consumed = consume
        .await
        .map_err(|e| AppError::Internal(format!("the backup writer failed: {e}")))?;
    // The writer's own error explains a producer that found it gone.
    let part = consumed?;
    produced?;
    Ok(part)
}

/// What a backup did.
#[derive(Debug, Clone)]
pub struct Ran {
    pub summary: Summary,
    pub erased_skipped: usize,
}

/// Takes a backup (see the module's comment); audited as `backup.run` by
/// `credential` (`cli` or `system`).
pub async fn run(app: &App, ctx: &Ctx, credential: &str) -> Result<Ran, BackupError> {
    let (target, ring_target) = targets(app.config(), app.data_dir())?;
    // Every person gets a key before the snapshot, so their account goes
    // under a key an erasure can destroy; the log gets the backup key.
    let lineage = {
        let mut tx = app.db().write().await.map_err(AppError::from)?;
        for user in sql::users_without_key(&mut tx).await? {
            keyring::ensure_key(app, &mut tx, KeyKind::User, &user).await?;
        }
        keyring::ensure_key(app, &mut tx, KeyKind::Platform, "backup").await?;
        // Changes from here on are marked with a new generation.
        let lineage = sql::new_generation(&mut tx).await?;
        tx.commit().await.map_err(AppError::from)?;
        lineage
    };
    app.flush_audit().await?;
    let previous = newest_manifest(app, &target).await?;
    let mut known: HashMap<String, HashMap<String, ChunkRef>> = HashMap::new();
    let mut known_files: HashMap<String, FileRef> = HashMap::new();
    if let Some(prev) = &previous {
        for part in &prev.owners {
            let map = known.entry(part.owner.clone()).or_default();
            for c in part.stored() {
                map.insert(c.id.clone(), c.clone());
            }
        }
        for f in &prev.files {
            known_files.insert(f.key.clone(), f.clone());
        }
    }

    let now = app.now();
    let id = new_id(now);
    let mut tx = sql::snapshot(app.db()).await?;
    let backend = tx.backend();
    let unknown = unclassified(&mut tx).await?;
    if !unknown.is_empty() {
        return Err(AppError::Internal(format!(
            "tables {} are neither backed up nor left out on purpose",
            unknown.join(", ")
        ))
        .into());
    }
    let schema_version = turva_store::migrate::current_version(&mut tx).await?;
    // What the previous backup's tracked chunks may be named again on:
    // same database lineage and schema, marks kept since its generation.
    let since = match (&previous, sql::lineage(&mut tx).await?) {
        (Some(prev), Some(seen))
            if prev.lineage.as_deref() == Some(seen.id.as_str())
                && prev.schema_version == schema_version
                && prev.backend == backend_name(backend)
                && prev.bucket_shift == Some(sql::BUCKET_SHIFT)
                && prev
                    .generation
                    .is_some_and(|g| g >= seen.forgotten_below && g < seen.generation) =>
        {
            prev.generation
        }
        _ => None,
    };
    // Owners with a row changed since; every other owner's part of the
    // previous backup is named again unread.
    let changed = match since {
        Some(generation) => Some(sql::changed_owners(&mut tx, generation).await?),
        None => None,
    };
    let previous_parts: HashMap<&str, &OwnerPart> = previous
        .iter()
        .flat_map(|p| &p.owners)
        .map(|o| (o.owner.as_str(), o))
        .collect();
    let unchanged = |owner: &str, key_id: &str| -> Option<OwnerPart> {
        if changed.as_ref()?.contains(owner) {
            return None;
        }
        let part = previous_parts.get(owner)?;
        (part.key_id.as_deref() == Some(key_id)).then(|| (*part).clone())
    };
    let audit_size = turva_store::audit::tree_size(&mut tx).await?;
    let audit_size = u64::try_from(audit_size).unwrap_or(0);
    let audit_root = if audit_size > 0 {
        hex::encode(turva_store::audit::root_at(&mut tx, audit_size).await?)
    } else {
        String::new()
    };

    // The key ring as the snapshot sees it, copied apart from the data.
    let copy = KeyRingCopy {
        id: id.clone(),
        created_at: now,
        keyring: std::fs::read_to_string(app.data_dir().join("keyring.json"))
            .map_err(|e| AppError::Unavailable(format!("cannot read the key ring: {e}")))?,
        data_keys: turva_store::data_keys::all_rows(&mut tx).await?,
    };
    let copy_json =
        serde_json::to_vec(&copy).map_err(|e| AppError::Internal(format!("key-ring copy: {e}")))?;
    ring_target
        .put(&format!("copy-{id}.json"), Bytes::from(copy_json))
        .await?;

    let mut owners = Vec::new();
    let mut new_bytes = 0u64;
    let mut packer = Packer::new(&target);
    let mut erased = 0usize;
    let users = sql::user_ids(&mut tx).await?;
    let companies = sql::company_ids(&mut tx).await?;
    // Which companies are large: counted for a full backup; an incremental
    // one takes the counts its previous backup recorded (counting a
    // million documents again cost more than reading the changes), so a
    // company also keeps the layout of the chunks it builds on.
    let (doc_counts, doc_total) = match (since, &previous) {
        (Some(_), Some(prev)) => recorded_document_counts(&prev.owners),
        _ => sql::document_counts(&mut tx).await?,
    };
    for user in &users {
        let Some((key_id, key)) = keyring::get_key(app, &mut tx, KeyKind::User, user).await? else {
            erased += 1;
            continue;
        };
        let owner = format!("user:{user}");
        let k = known.remove(&owner).unwrap_or_default();
        if let Some(part) = unchanged(&owner, &key_id) {
            owners.push(part);
            continue;
        }
        let (part, n, p) = write_owner(
            &mut tx,
            Group::User,
            &owner,
            (Some(user), false),
            (&key_id, &key),
            packer,
            k,
            None,
            None,
        )
        .await?;
        packer = p;
        new_bytes += n;
        owners.push(part);
    }
    let mut files = Vec::new();
    let mut files_of: HashMap<&str, Vec<FileRef>> = HashMap::new();
    for f in previous.iter().flat_map(|p| &p.files) {
        files_of.entry(&f.company).or_default().push(f.clone());
    }
    for company in &companies {
        let Some((key_id, key)) = keyring::get_key(app, &mut tx, KeyKind::Company, company).await?
        else {
            erased += 1;
            continue;
        };
        let owner = format!("company:{company}");
        let k = known.remove(&owner).unwrap_or_default();
        if let Some(part) = unchanged(&owner, &key_id) {
            // Its `files` rows are unchanged, so are its attachments.
            owners.push(part);
            files.extend(files_of.remove(company.as_str()).unwrap_or_default());
            continue;
        }
        // A company with a quarter of all documents or more is read in
        // passes over whole tables.
        let large = doc_counts.get(company).is_some_and(|n| n * 4 >= doc_total);
        let earlier = match (since, &previous) {
            (Some(generation), Some(prev)) if large => {
                earlier_of(&target, prev, &owner, (&key_id, &key), generation).await?
            }
            _ => None,
        };
        // The company's new attachments are copied while its rows are
        // read (the snapshot names them; a blob is never changed in place).
        let blob_keys = sql::blob_keys(&mut tx, company).await?;
        let (rows, copied) = tokio::join!(
            write_owner(
                &mut tx,
                Group::Company,
                &owner,
                (Some(company), large),
                (&key_id, &key),
                packer,
                k,
                None,
                earlier,
            ),
            copy_files(app, &target, company, &blob_keys, &known_files)
        );
        let (part, n, p) = rows?;
        let (copied, copied_bytes) = copied?;
        packer = p;
        new_bytes += n + copied_bytes;
        owners.push(part);
        files.extend(copied);
    }
    let (platform_key_id, platform_key) =
        keyring::get_key(app, &mut tx, KeyKind::Platform, "backup")
            .await?
            .ok_or_else(|| AppError::Internal("the platform backup key is missing".into()))?;
    let reuse = match &previous {
        Some(prev) => {
            log_reuse(
                &mut tx,
                prev,
                (backend, schema_version, audit_size),
                &platform_key_id,
            )
            .await?
        }
        None => None,
    };
    let k = known.remove("platform").unwrap_or_default();
    let (part, n, mut packer) = write_owner(
        &mut tx,
        Group::Platform,
        "platform",
        (None, false),
        (&platform_key_id, &platform_key),
        packer,
        k,
        reuse.as_ref(),
        None,
    )
    .await?;
    new_bytes += n;
    owners.push(part);
    packer.finish().await?;
    drop(tx);

    let manifest = Manifest {
        format: FORMAT,
        id: id.clone(),
        created_at: now,
        turva_version: env!("CARGO_PKG_VERSION").to_string(),
        backend: backend_name(backend).to_string(),
        schema_version,
        audit_size,
        audit_root,
        keyring_copy: id.clone(),
        lineage: lineage.as_ref().map(|l| l.id.clone()),
        generation: lineage.as_ref().map(|l| l.generation),
        bucket_shift: lineage.as_ref().map(|_| sql::BUCKET_SHIFT),
        owners,
        files,
    };
    let summary = Summary {
        id: id.clone(),
        created_at: now,
        companies: manifest
            .owners
            .iter()
            .filter(|o| o.owner.starts_with("company:"))
            .count(),
        users: manifest
            .owners
            .iter()
            .filter(|o| o.owner.starts_with("user:"))
            .count(),
        rows: manifest.owners.iter().flat_map(|o| o.rows.values()).sum(),
        files: manifest.files.len(),
        bytes: manifest
            .owners
            .iter()
            .flat_map(|o| o.chunks.iter().map(|c| c.size))
            .sum::<u64>()
            + manifest.files.iter().map(|f| f.size).sum::<u64>(),
        new_bytes,
        audit_size,
    };
    write_manifest(app.signer(), &target, &manifest, &summary).await?;
    remember_names(app, &id, &named_objects(&manifest));
    // The next backup builds on this one: older marks are not needed.
    if let Some(l) = &lineage {
        if let Err(e) = sql::forget_changes(app.db(), l.generation).await {
            tracing::warn!(error = %e, "old change marks were not forgotten; they are kept");
        }
    }

    let why = format!(
        "backup {id}: {} companies, {} people, {} rows, {} files, {} bytes ({} new)",
        summary.companies, summary.users, summary.rows, summary.files, summary.bytes, new_bytes
    );
    record(
        app,
        ctx,
        credential,
        AuditAction::BackupRun,
        Outcome::Allowed,
        &why,
    )
    .await?;
    // Retention runs after the new backup is safe.
    if let Err(e) = prune(app, &target, &ring_target).await {
        tracing::error!(error = %e, "pruning old backups failed; they are kept");
    }
    Ok(Ran {
        summary,
        erased_skipped: erased,
    })
}

/// Each company's number of documents as a backup's parts recorded them,
/// and all of them.
fn recorded_document_counts(owners: &[OwnerPart]) -> (HashMap<String, i64>, i64) {
    let counts: HashMap<String, i64> = owners
        .iter()
        .filter_map(|o| {
            let company = o.owner.strip_prefix("company:")?;
            let n = o.rows.get("documents").copied().unwrap_or(0);
            Some((company.to_string(), i64::try_from(n).unwrap_or(i64::MAX)))
        })
        .collect();
    let total = counts.values().fold(0i64, |a, n| a.saturating_add(*n));
    (counts, total)
}

/// The attachments `keys` of `company`: those an earlier backup holds are
/// named again, the others copied to the target as they are stored
/// (sealed under their file keys) with their hashes; returns them and the
/// bytes copied.
async fn copy_files(
    app: &App,
    target: &Target,
    company: &str,
    keys: &[String],
    known: &HashMap<String, FileRef>,
) -> Result<(Vec<FileRef>, u64), BackupError> {
    let mut files = Vec::with_capacity(keys.len());
    let mut copied = 0u64;
    for key in keys {
        if let Some(f) = known.get(key) {
            files.push(f.clone());
            continue;
        }
        let bytes = app.blobs().get_raw(key).await.map_err(|e| {
            AppError::Unavailable(format!("attachment {key} could not be read: {e}"))
        })?;
        let f = FileRef {
            company: company.to_string(),
            key: key.clone(),
            size: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
        };
        target.put(&file_path(key), bytes).await?;
        copied += f.size;
        files.push(f);
    }
    Ok((files, copied))
}

/// The previous backup's chunks of `owner` with their locator's tags, when
/// they are under the same key: what [`write_owner`] may name again for
/// the buckets not marked since `generation`.
async fn earlier_of(
    target: &Target,
    prev: &Manifest,
    owner: &str,
    (key_id, key): (&str, &DataKey),
    generation: i64,
) -> Result<Option<Earlier>, BackupError> {
    let Some(part) = prev.owners.iter().find(|o| o.owner == owner) else {
        return Ok(None);
    };
    if part.key_id.as_deref() != Some(key_id) {
        return Ok(None);
    }
    let tags = match load_locator(target, &OwnerKeys::of(key), part).await? {
        Some(l) => l.tags,
        // No locator: none of the part's rows concern an object.
        None => vec![Vec::new(); part.chunks.len()],
    };
    Ok(Some(Earlier {
        generation,
        chunks: part.chunks.iter().cloned().zip(tags).collect(),
        rows: part.rows.clone(),
    }))
}

/// Whether the previous backup's log is a prefix of the live one, so its
/// chunks of append-only segments may be named again: same backend, schema
/// version and platform key, and the live tree's root at the previous
/// backup's size is the root it recorded (the log is append-only, so the
/// events and nodes under that root are the ones it holds; a log rolled
/// back or replaced since has another root there).
async fn log_reuse(
    tx: &mut Tx,
    prev: &Manifest,
    (backend, schema_version, audit_size): (Backend, i64, u64),
    platform_key_id: &str,
) -> Result<Option<LogReuse>, BackupError> {
    let Some(part) = prev.owners.iter().find(|o| o.owner == "platform") else {
        return Ok(None);
    };
    if prev.backend != backend_name(backend)
        || prev.schema_version != schema_version
        || part.key_id.as_deref() != Some(platform_key_id)
        || prev.audit_size == 0
        || prev.audit_size > audit_size
    {
        return Ok(None);
    }
    let root = hex::encode(turva_store::audit::root_at(tx, prev.audit_size).await?);
    if root != prev.audit_root {
        tracing::warn!(
            backup = %prev.id,
            "the audit log is not the one the previous backup holds; reading all of it"
        );
        return Ok(None);
    }
    Ok(Some(LogReuse {
        chunks: part.chunks.clone(),
        pruned_through: turva_store::audit::pruned_through(tx).await?,
        size: prev.audit_size,
    }))
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

async fn record(
    app: &App,
    ctx: &Ctx,
    credential: &str,
    action: AuditAction,
    outcome: Outcome,
    why: &str,
) -> Result<(), AppError> {
    let mut tx = app.db().write().await?;
    let mut ev = Event::new(action, outcome).reason(why);
    ev.credential = Some(credential);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(())
}

/// The manifest object: a signature line (Ed25519 over everything after
/// it), the summary line, then the manifest.
async fn write_manifest(
    signer: &Signer,
    target: &Target,
    manifest: &Manifest,
    summary: &Summary,
) -> Result<(), BackupError> {
    // About 300 bytes a chunk or file named: the body is written once,
    // not grown by doubling through a large manifest.
    let named = manifest
        .owners
        .iter()
        .map(|o| o.chunks.len() + 1)
        .sum::<usize>()
        + manifest.files.len();
    let mut body = Vec::with_capacity(4096 + 320 * named);
    serde_json::to_writer(&mut body, summary)
        .map_err(|e| AppError::Internal(format!("manifest: {e}")))?;
    body.push(b'\n');
    serde_json::to_writer(&mut body, manifest)
        .map_err(|e| AppError::Internal(format!("manifest: {e}")))?;
    let sig = signer.sign_bytes(&manifest_signed(&body));
    let sig_line = serde_json::json!({
        "signer": signer.name(),
        "signed": "sha256",
        "signature": B64.encode(sig),
    })
    .to_string();
    let mut out = Vec::with_capacity(sig_line.len() + 1 + body.len());
    out.extend_from_slice(sig_line.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&body);
    target
        .put(&manifest_path(&manifest.id), Bytes::from(out))
        .await?;
    Ok(())
}

/// What a manifest's signature signs: the SHA-256 of its body, named.
/// Ed25519 hashes what it signs twice with SHA-512 (in software here): a
/// manifest of tens of megabytes cost a tenth of a second to sign; its
/// digest costs a hardware-hashed pass.
fn manifest_signed(body: &[u8]) -> Vec<u8> {
    let mut m = b"turva backup manifest sha256 ".to_vec();
    m.extend_from_slice(&Sha256::digest(body));
    m
}

/// Reads and checks a manifest: its signature must verify with the audit
/// signing key.
async fn read_manifest(
    signer: &Signer,
    target: &Target,
    id: &str,
) -> Result<Manifest, BackupError> {
    if !valid_id(id) {
        return Err(BackupError::Refused(format!("{id:?} is not a backup id")));
    }
    let bytes = match target.get(&manifest_path(id)).await {
        Ok(b) => b,
        Err(TargetError::Missing(_)) => {
            return Err(BackupError::Refused(format!(
                "no backup {id} in {}",
                target.describe()
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let damaged = |why: &str| BackupError::Damaged(vec![format!("manifest of {id}: {why}")]);
    let split = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| damaged("no signature line"))?;
    let (sig_line, body) = (&bytes[..split], &bytes[split + 1..]);
    let sig_line: serde_json::Value =
        serde_json::from_slice(sig_line).map_err(|_| damaged("the signature line is malformed"))?;
    let sig = sig_line["signature"]
        .as_str()
        .and_then(|s| B64.decode(s).ok())
        .ok_or_else(|| damaged("the signature line is malformed"))?;
    // Format 2 on signs the body's digest; format 1 signed the body.
    let verified = match sig_line.get("signed").and_then(|v| v.as_str()) {
        Some("sha256") => signer.verify_bytes(&manifest_signed(body), &sig),
        None => signer.verify_bytes(body, &sig),
        Some(_) => false,
    };
    if !verified {
        return Err(damaged(
            "its signature does not verify with the audit signing key (tampered, or another system's)",
        ));
    }
    let split = body
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| damaged("no summary line"))?;
    let manifest: Manifest =
        serde_json::from_slice(&body[split + 1..]).map_err(|_| damaged("it does not parse"))?;
    if manifest.format > FORMAT {
        return Err(BackupError::Refused(format!(
            "backup {id} has format {}, newer than this Turva reads ({FORMAT}): upgrade Turva",
            manifest.format
        )));
    }
    if manifest.id != id {
        return Err(damaged("it names another backup"));
    }
    Ok(manifest)
}

/// The summaries of every complete backup, oldest first.
pub async fn list_in(target: &Target) -> Result<Vec<Summary>, BackupError> {
    let mut out = Vec::new();
    for obj in target.list("manifests").await? {
        let Some(id) = obj.name.strip_prefix("manifests/") else {
            continue;
        };
        if !valid_id(id) {
            continue;
        }
        let head = target.get_head(&obj.name, HEAD_BYTES).await?;
        let mut lines = head.split(|b| *b == b'\n');
        let _sig = lines.next();
        if let Some(Ok(s)) = lines.next().map(serde_json::from_slice::<Summary>) {
            if s.id == id {
                out.push(s);
            }
        }
    }
    out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    Ok(out)
}

/// Every complete backup, oldest first.
pub async fn list(app: &App) -> Result<Vec<Summary>, BackupError> {
    let (target, _) = targets(app.config(), app.data_dir())?;
    list_in(&target).await
}

/// The newest backup's manifest, if any whose signature verifies.
async fn newest_manifest(app: &App, target: &Target) -> Result<Option<Manifest>, BackupError> {
    for s in list_in(target).await?.iter().rev() {
        match read_manifest(app.signer(), target, &s.id).await {
            Ok(m) => return Ok(Some(m)),
            Err(BackupError::Damaged(why)) => {
                tracing::warn!(backup = %s.id, why = %why.join("; "), "a damaged backup is not built upon");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// The objects a manifest names in its target: packs, attachments, and
/// chunks stored alone (the first format's). Pruning keeps them.
fn named_objects(m: &Manifest) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    for o in &m.owners {
        for c in o.stored() {
            named.insert(match &c.pack {
                Some(p) => pack_path(p),
                None => chunk_path(&o.owner, &c.id),
            });
        }
    }
    for f in &m.files {
        named.insert(file_path(&f.key));
    }
    named
}

/// What [`remember_names`] keeps of a backup in the data directory, so
/// that pruning reads a short list per retained backup instead of every
/// manifest (ninety of them by default, each as large as its owners'
/// chunk lists).
#[derive(Serialize, Deserialize)]
struct RememberedNames {
    id: String,
    names: BTreeSet<String>,
}

fn names_dir(app: &App) -> PathBuf {
    app.data_dir().join("backup-names")
}

/// Remembers what backup `id` names (written whole or not at all; a
/// failure only costs the next prune a read of the manifest).
fn remember_names(app: &App, id: &str, names: &BTreeSet<String>) {
    let dir = names_dir(app);
    let written = std::fs::create_dir_all(&dir)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            let body = serde_json::to_vec(&RememberedNames {
                id: id.to_string(),
                names: names.clone(),
            })
            .map_err(|e| e.to_string())?;
            turva_store::keys::write_private_file(&dir.join(format!("{id}.json")), &body)
                .map_err(|e| e.to_string())
        });
    if let Err(e) = written {
        tracing::warn!(backup = %id, error = %e, "what the backup names was not remembered");
    }
}

/// What backup `id` names in `target`: remembered, or read from its
/// (verified) manifest and remembered.
async fn names_of(app: &App, target: &Target, id: &str) -> Result<BTreeSet<String>, BackupError> {
    if valid_id(id) {
        if let Ok(bytes) = std::fs::read(names_dir(app).join(format!("{id}.json"))) {
            match serde_json::from_slice::<RememberedNames>(&bytes) {
                Ok(r) if r.id == id => return Ok(r.names),
                _ => {
                    tracing::warn!(backup = %id, "remembered names do not parse; reading the manifest")
                }
            }
        }
    }
    let names = named_objects(&read_manifest(app.signer(), target, id).await?);
    remember_names(app, id, &names);
    Ok(names)
}

/// Forgets what was remembered of backups no longer kept.
fn forget_names_except(app: &App, kept: &[String]) {
    let Ok(entries) = std::fs::read_dir(names_dir(app)) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".json") else {
            continue;
        };
        if !kept.iter().any(|k| k == id) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Deletes backups past `[backup] retention_days` (never the newest), the
/// chunks and files no remaining backup names, and key-ring copies past
/// `keyring_retention_days` (never the newest).
async fn prune(app: &App, target: &Target, ring_target: &Target) -> Result<(), BackupError> {
    let now = app.now();
    let keep_ms = i64::from(app.config().backup.retention_days) * 86_400_000;
    let all = list_in(target).await?;
    let mut kept = Vec::new();
    for (i, s) in all.iter().enumerate() {
        if i + 1 < all.len() && now - s.created_at > keep_ms {
            target.delete(&manifest_path(&s.id)).await?;
        } else {
            kept.push(s.id.clone());
        }
    }
    let mut named: HashSet<String> = HashSet::new();
    for id in &kept {
        named.extend(names_of(app, target, id).await?);
    }
    forget_names_except(app, &kept);
    for prefix in ["chunks", "packs", "files"] {
        for obj in target.list(prefix).await? {
            if !named.contains(&obj.name) && now - obj.modified > ORPHAN_GRACE_MS {
                target.delete(&obj.name).await?;
            }
        }
    }
    let mut drills = target.list("drills").await?;
    drills.sort_by(|a, b| a.modified.cmp(&b.modified).then(a.name.cmp(&b.name)));
    drills.pop(); // the newest report stays
    for d in drills {
        if now - d.modified > keep_ms {
            target.delete(&d.name).await?;
        }
    }
    let ring_ms = i64::from(app.config().backup.keyring_retention_days) * 86_400_000;
    let mut copies = keyring_copies(ring_target).await?;
    copies.sort_by(|a, b| a.modified.cmp(&b.modified).then(a.name.cmp(&b.name)));
    let newest = copies.last().map(|c| c.name.clone());
    for c in copies {
        if Some(&c.name) != newest.as_ref() && now - c.modified > ring_ms {
            ring_target.delete(&c.name).await?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- keys

/// The keys a restore or a verification opens owners with: the live key
/// ring when there is one (so a key destroyed since the backup stays
/// destroyed), else the newest copy.
pub struct KeySource {
    master: MasterKey,
    pub keyring: String,
    pub rows: Vec<KeyRow>,
    /// Where they came from, for the operator.
    pub from: String,
}

impl KeySource {
    /// From the running system.
    pub async fn live(app: &App) -> Result<KeySource, BackupError> {
        let mut tx = app.db().read().await.map_err(AppError::from)?;
        let rows = turva_store::data_keys::all_rows(&mut tx).await?;
        drop(tx);
        let keyring = std::fs::read_to_string(app.data_dir().join("keyring.json"))
            .map_err(|e| AppError::Unavailable(format!("cannot read the key ring: {e}")))?;
        let master = MasterKey::load_or_create(app.master_slot().path(), false)?.0;
        Ok(KeySource {
            master,
            keyring,
            rows,
            from: "the live key ring".into(),
        })
    }

    /// From the newest copy in `ring_target`, with the master key at
    /// `master_path`.
    pub async fn newest_copy(
        ring_target: &Target,
        master_path: &Path,
    ) -> Result<KeySource, BackupError> {
        let mut copies = keyring_copies(ring_target).await?;
        copies.sort_by(|a, b| a.modified.cmp(&b.modified).then(a.name.cmp(&b.name)));
        let Some(newest) = copies.last() else {
            return Err(BackupError::Refused(format!(
                "no key-ring copy in {}: without the key ring no backup can be opened",
                ring_target.describe()
            )));
        };
        let bytes = ring_target.get(&newest.name).await?;
        let copy: KeyRingCopy = serde_json::from_slice(&bytes).map_err(|_| {
            BackupError::Damaged(vec![format!(
                "key-ring copy {} does not parse",
                newest.name
            )])
        })?;
        let master = MasterKey::load_or_create(master_path, false)?.0;
        Ok(KeySource {
            master,
            keyring: copy.keyring,
            rows: copy.data_keys,
            from: format!("key-ring copy {}", newest.name),
        })
    }

    /// The live key of (`kind`, `owner`), or None when it never existed or
    /// was destroyed.
    fn key(&self, kind: KeyKind, owner: &str) -> Result<Option<DataKey>, BackupError> {
        let Some(row) = self
            .rows
            .iter()
            .find(|r| r.kind == kind.as_str() && r.owner_id == owner)
        else {
            // A destroyed key keeps its row; no row at all means these keys
            // are not this system's (or the copy is damaged).
            return Err(BackupError::Damaged(vec![format!(
                "{} holds no {} key of {owner}: not this system's key ring",
                self.from,
                kind.as_str()
            )]));
        };
        let Some(hex_wrapped) = &row.wrapped else {
            return Ok(None);
        };
        let sealed = hex::decode(hex_wrapped).map_err(|_| {
            BackupError::Damaged(vec![format!("the wrapped key {} is not hex", row.id)])
        })?;
        let wrapped = WrappedKey {
            kek_version: u32::try_from(row.kek_version).unwrap_or(0),
            sealed,
        };
        Ok(Some(
            self.master
                .unwrap(&kind.purpose(owner), &wrapped)
                .map_err(AppError::from)?,
        ))
    }

    /// The key an owner's chunks are under (`company:…`, `user:…`,
    /// `platform`).
    fn owner_key(&self, owner: &str) -> Result<Option<DataKey>, BackupError> {
        match owner.split_once(':') {
            Some(("company", id)) => self.key(KeyKind::Company, id),
            Some(("user", id)) => self.key(KeyKind::User, id),
            _ if owner == "platform" => self.key(KeyKind::Platform, "backup"),
            _ => Err(BackupError::Damaged(vec![format!("unknown owner {owner}")])),
        }
    }
}

/// Reads, checks and opens one chunk: its hash, its seal, its name.
async fn open_chunk(
    reader: &mut PackReader,
    owner: &str,
    keys: &OwnerKeys,
    c: &ChunkRef,
) -> Result<Vec<u8>, String> {
    let (sealed, path) = reader.sealed(owner, c).await?;
    check_chunk(owner, keys, c, &sealed, &path)
}

/// Checks a chunk's stored bytes (hash, seal, name) and opens them.
fn check_chunk(
    owner: &str,
    keys: &OwnerKeys,
    c: &ChunkRef,
    sealed: &[u8],
    path: &str,
) -> Result<Vec<u8>, String> {
    if sha256_hex(sealed) != c.sha256 {
        return Err(format!("{path} is damaged: its hash differs"));
    }
    let plain = crypt::open(&keys.seal, &chunk_aad(owner, &c.id), sealed)
        .map_err(|_| format!("{path} does not open"))?;
    if keys.chunk_id(&plain) != c.id {
        return Err(format!("{path} holds other content than its name"));
    }
    Ok(plain)
}

// ---------------------------------------------------------------- verify

/// What `backup verify` checked.
#[derive(Debug, Clone, Default)]
pub struct Verified {
    pub chunks: usize,
    pub files: usize,
    pub bytes: u64,
    /// Owners whose key was destroyed since (erased: not a fault).
    pub erased: Vec<String>,
}

/// Verifies backup `id`: the manifest's signature, then every chunk
/// (present, hash, seal, name) and file (present, hash). Every fault is
/// named; any fault fails it.
pub async fn verify(app: &App, ctx: &Ctx, id: &str) -> Result<Verified, BackupError> {
    let (target, _) = targets(app.config(), app.data_dir())?;
    let keys = KeySource::live(app).await?;
    let result = verify_in(app.signer(), &target, &keys, id).await;
    let (outcome, why) = match &result {
        Ok(v) => (
            Outcome::Allowed,
            format!(
                "backup {id}: {} chunks and {} files sound",
                v.chunks, v.files
            ),
        ),
        Err(e) => (Outcome::Allowed, format!("backup {id}: FAILED: {e}")),
    };
    if valid_id(id) {
        record(app, ctx, "cli", AuditAction::BackupVerify, outcome, &why).await?;
    }
    result
}

async fn verify_in(
    signer: &Signer,
    target: &Target,
    keys: &KeySource,
    id: &str,
) -> Result<Verified, BackupError> {
    let manifest = read_manifest(signer, target, id).await?;
    let mut v = Verified::default();
    let mut faults = Vec::new();
    let mut progress = Progress::new("verify");
    let mut reader = PackReader::new(target);
    for part in &manifest.owners {
        let Some(key) = keys.owner_key(&part.owner)? else {
            v.erased.push(part.owner.clone());
            continue;
        };
        let ok = OwnerKeys::of(&key);
        for c in &part.chunks {
            match open_chunk(&mut reader, &part.owner, &ok, c).await {
                Ok(plain) if !span_holds(c, &plain) => faults.push(format!(
                    "chunk {} of {} does not hold the rows its span names",
                    c.id, part.owner
                )),
                Ok(_) => {
                    v.chunks += 1;
                    v.bytes += c.size;
                    let (n, b) = (v.chunks, v.bytes);
                    progress.tick(|| format!("{n} chunks, {:.1} MB", b as f64 / 1e6));
                }
                Err(why) => faults.push(why),
            }
        }
        if let Some(c) = &part.locator {
            match open_chunk(&mut reader, &part.owner, &ok, c).await {
                Ok(plain) if Locator::decode(&plain, part.chunks.len()).is_none() => {
                    faults.push(format!(
                        "the locator {} of {} does not fit its chunks",
                        c.id, part.owner
                    ))
                }
                Ok(_) => {
                    v.chunks += 1;
                    v.bytes += c.size;
                }
                Err(why) => faults.push(why),
            }
        }
    }
    for f in &manifest.files {
        let path = file_path(&f.key);
        match target.get(&path).await {
            Ok(b) if sha256_hex(&b) == f.sha256 => {
                v.files += 1;
                v.bytes += f.size;
            }
            Ok(_) => faults.push(format!(
                "{path} (company:{}) is damaged: its hash differs",
                f.company
            )),
            Err(TargetError::Missing(_)) => {
                faults.push(format!("{path} (company:{}) is missing", f.company))
            }
            Err(e) => faults.push(format!("{path}: {e}")),
        }
    }
    if faults.is_empty() {
        Ok(v)
    } else {
        Err(BackupError::Damaged(faults))
    }
}

// ---------------------------------------------------------------- restore

/// Where a whole restore goes.
#[derive(Debug, Clone)]
pub struct RestoreTo {
    /// The new data directory (must not exist or be empty).
    pub dir: PathBuf,
    /// An empty PostgreSQL database, for a backup of a PostgreSQL system.
    pub database_url: Option<String>,
}

/// What a whole restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub id: String,
    pub rows: u64,
    pub files: usize,
    /// Owners whose key was destroyed since the backup: left out.
    pub erased: Vec<String>,
    pub keys_from: String,
    /// Milliseconds the restore took.
    pub millis: i64,
}

/// The paths of a live data directory's secrets, and of its checkpoint
/// log (which a restored system continues).
pub struct Secrets {
    pub master_key: PathBuf,
    pub signing_key: PathBuf,
    pub checkpoints: PathBuf,
}

impl Secrets {
    pub fn of(config: &Config, dir: &Path) -> Secrets {
        let master_key = config
            .keys
            .master_key_file
            .clone()
            .unwrap_or_else(|| dir.join("master.key"));
        let signing_key = master_key.with_file_name("audit-signing.key");
        Secrets {
            master_key,
            signing_key,
            checkpoints: checkpoint::external_file(dir),
        }
    }
}

/// Restores backup `id` from `target` as a whole system into `to`, with
/// the keys of `keys`. The new directory gets the master key, the key
/// ring, the signing key and the checkpoint log (with a signed restore
/// record), so `turva serve --data DIR` starts with no other input. It is
/// built beside `to.dir` and renamed into place only when complete.
pub async fn restore_whole(
    config: &Config,
    secrets: &Secrets,
    target: &Target,
    keys: &KeySource,
    id: &str,
    to: &RestoreTo,
    clock: Arc<dyn crate::Clock>,
) -> Result<Restored, BackupError> {
    let started = clock.now_millis();
    let signer =
        Signer::load_or_create(&secrets.signing_key, false).map_err(BackupError::Refused)?;
    let manifest = read_manifest(&signer, target, id).await?;
    let want_backend = if to.database_url.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    if manifest.backend != want_backend {
        return Err(BackupError::Refused(format!(
            "backup {id} is of a {} system; restore it into {}",
            manifest.backend,
            if manifest.backend == "postgres" {
                "an empty PostgreSQL database (--database-url)"
            } else {
                "a data directory without --database-url"
            }
        )));
    }
    if manifest.schema_version > turva_store::migrate::latest() {
        return Err(BackupError::Refused(format!(
            "backup {id} has schema version {}, newer than this Turva: upgrade Turva",
            manifest.schema_version
        )));
    }
    if to.dir.exists()
        && std::fs::read_dir(&to.dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(BackupError::Refused(format!(
            "{} is not empty: a whole restore goes into a new directory",
            to.dir.display()
        )));
    }
    let parent = to
        .dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = to
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "restore".into());
    std::fs::create_dir_all(parent)
        .map_err(|e| BackupError::Refused(format!("cannot create {}: {e}", parent.display())))?;
    let work = parent.join(format!(".{name}.restoring-{}", new_id(started)));
    let result = build(
        config,
        secrets,
        target,
        keys,
        &manifest,
        to,
        &work,
        &signer,
        clock.clone(),
    )
    .await;
    match result {
        Ok(mut r) => {
            if to.dir.exists() {
                let _ = std::fs::remove_dir(&to.dir);
            }
            std::fs::rename(&work, &to.dir).map_err(|e| {
                BackupError::Refused(format!("cannot move the restored system into place: {e}"))
            })?;
            r.millis = (clock.now_millis() - started).max(0);
            Ok(r)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&work);
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn build(
    config: &Config,
    secrets: &Secrets,
    target: &Target,
    keys: &KeySource,
    manifest: &Manifest,
    to: &RestoreTo,
    work: &Path,
    signer: &Signer,
    clock: Arc<dyn crate::Clock>,
) -> Result<Restored, BackupError> {
    let io = |what: &str, e: std::io::Error| BackupError::Refused(format!("{what}: {e}"));
    {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(work.join("files"))
            .map_err(|e| io("creating the new directory", e))?;
    }
    let write = |name: &str, bytes: &[u8]| {
        turva_store::keys::write_private_file(&work.join(name), bytes).map_err(BackupError::from)
    };
    write(
        "master.key",
        &std::fs::read(&secrets.master_key).map_err(|e| io("reading the master key", e))?,
    )?;
    write(
        "audit-signing.key",
        &std::fs::read(&secrets.signing_key).map_err(|e| io("reading the audit signing key", e))?,
    )?;
    write("keyring.json", keys.keyring.as_bytes())?;

    let (db, db_key) = match &to.database_url {
        Some(url) => (Db::open_postgres(url).await?, None),
        None => {
            let (db_key, _) =
                KeyRingFile::load_or_create(&work.join("keyring.json"), &keys.master)?;
            write("turva.db", b"")?;
            // Built apart and renamed into place only when complete: a
            // crash half-way leaves nothing to recover.
            let db =
                Db::open_sqlite_bulk(&work.join("turva.db"), &db_key, load_cache_kib(manifest))
                    .await?;
            (db, Some(db_key))
        }
    };
    let result = fill(&db, db_key.as_ref(), target, keys, manifest, work).await;
    db.close().await;
    let (rows, files, erased) = result?;

    // The checkpoint log goes with it, and a signed record of this restore
    // explains the rollback to `audit verify`.
    if secrets.checkpoints.exists() {
        std::fs::copy(&secrets.checkpoints, checkpoint::external_file(work))
            .map_err(|e| io("copying the checkpoint log", e))?;
    }
    let root: [u8; 32] = if manifest.audit_size == 0 {
        [0; 32]
    } else {
        hex::decode(&manifest.audit_root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| {
                BackupError::Damaged(vec!["the manifest's audit root is malformed".into()])
            })?
    };
    checkpoint::append_restore(
        work,
        signer,
        manifest.audit_size,
        &root,
        &manifest.id,
        clock.now_millis(),
    )
    .map_err(|e| io("writing the restore record", e))?;

    // The restored system opens once here: moved events, a checkpoint, and
    // the restore's own event.
    let mut config = config.clone();
    config.keys.master_key_file = None;
    config.storage.url = None;
    if let Some(url) = &to.database_url {
        config.database.url = Some(crate::config::Secret::new(url.clone()));
    }
    let (app, _) = App::open(config, work, clock)
        .await
        .map_err(BackupError::Refused)?;
    let why = format!(
        "backup {} restored as a whole ({} rows, {} files{})",
        manifest.id,
        rows,
        files,
        if erased.is_empty() {
            String::new()
        } else {
            format!(", {} erased owners left out", erased.len())
        }
    );
    let recorded = record(
        &app,
        &Ctx::cli(),
        "cli",
        AuditAction::BackupRestore,
        Outcome::Allowed,
        &why,
    )
    .await;
    app.close().await;
    recorded?;
    Ok(Restored {
        id: manifest.id.clone(),
        rows,
        files,
        erased,
        keys_from: keys.from.clone(),
        millis: 0,
    })
}

/// The page cache of a whole restore's load (SQLite): half again the
/// bytes of the backup's rows, so the database it builds stays in memory
/// until its commit (measured on 1,000,000 documents: 159 s against 201 s
/// with 256 MB), but no less than 256 MB and no more than half the memory
/// the machine has available.
fn load_cache_kib(manifest: &Manifest) -> u64 {
    const FLOOR: u64 = 256_000;
    let rows: u64 = manifest
        .owners
        .iter()
        .flat_map(|o| o.chunks.iter().map(|c| c.size))
        .sum();
    let wanted = (rows / 1024).saturating_mul(3) / 2;
    let ceiling = available_memory_kib().map_or(FLOOR, |kib| (kib / 2).max(FLOOR));
    wanted.clamp(FLOOR, ceiling)
}

/// `MemAvailable` of `/proc/meminfo` (Linux), in KiB.
fn available_memory_kib() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Migrates the empty database to the backup's version, inserts the key
/// rows and every owner's rows whose key still opens, puts back the files,
/// then migrates to this Turva's version.
async fn fill(
    db: &Db,
    db_key: Option<&turva_store::keys::DataKey>,
    target: &Target,
    keys: &KeySource,
    manifest: &Manifest,
    work: &Path,
) -> Result<(u64, usize, Vec<String>), BackupError> {
    turva_store::migrate::run_until(db, manifest.schema_version).await?;
    // References are checked once after the load (`check_references`),
    // not row by row.
    db.enforce_foreign_keys(false).await?;
    let mut tx = db.write().await?;
    if !sql::is_empty(&mut tx).await? {
        return Err(BackupError::Refused(
            "the target database is not empty: a whole restore goes into an empty one".into(),
        ));
    }
    sql::clear_seeded(&mut tx).await?;
    // Secondary indexes are built once after the load, not row by row;
    // the load marks no change (the restored database has a lineage of
    // its own).
    let indexes = sql::drop_secondary_indexes(&mut tx).await?;
    let triggers = sql::drop_change_triggers(&mut tx).await?;
    // SQLite: the full-text index is built on another connection (another
    // core), fed by a reader of its own, while this one loads the rest;
    // it is copied in at the end.
    let mut search = match db_key {
        Some(key) => {
            Some(sql::SearchBuild::start(&mut tx, &work.join("search-build.db"), key).await?)
        }
        None => None,
    };
    for row in &keys.rows {
        turva_store::data_keys::insert_row(&mut tx, row).await?;
    }
    let mut erased = Vec::new();
    let mut parts = Vec::new();
    for part in &manifest.owners {
        match keys.owner_key(&part.owner)? {
            Some(key) => parts.push((part, Arc::new(OwnerKeys::of(&key)))),
            None => erased.push(part.owner.clone()),
        }
    }
    let mut restored_companies = HashSet::new();
    let mut rows = 0u64;
    // This task gathers rows into batches while SQLite's thread inserts
    // the batch before: the two overlap.
    let (batches, mut gathered) = mpsc::channel::<RowBatch>(LOAD_AHEAD);
    let (parts_ref, companies) = (&parts, &mut restored_companies);
    let gather = async move {
        let mut progress = Progress::new("restore");
        let mut reader = PackReader::new(target);
        let total_chunks: usize = parts_ref.iter().map(|(p, _)| p.chunks.len()).sum();
        let mut chunks_done = 0usize;
        for (part, ok) in parts_ref {
            let mut batch = RowBatch {
                bulk: true,
                ..RowBatch::default()
            };
            let mut chunks = Opening::new(&part.owner, ok, part.chunks.iter());
            while let Some(plain) = chunks.next(&mut reader).await? {
                chunks_done += 1;
                progress.tick(|| format!("{chunks_done} of {total_chunks} chunks"));
                for line in chunk_lines(&plain) {
                    if let Some(name) = line.strip_prefix(b"#") {
                        let name = std::str::from_utf8(name).unwrap_or_default();
                        let table = TABLES.iter().find(|t| t.name == name).ok_or_else(|| {
                            BackupError::Damaged(vec![format!("unknown table {name}")])
                        })?;
                        if batch.table.is_some_and(|t| t.name != table.name) {
                            batch.hand_over(&batches).await?;
                        }
                        batch.table = Some(table);
                        continue;
                    }
                    batch.push(line);
                    if batch.json.len() >= INSERT_BATCH {
                        batch.hand_over(&batches).await?;
                    }
                }
            }
            batch.hand_over(&batches).await?;
            if let Some(("company", id)) = part.owner.split_once(':') {
                companies.insert(id.to_string());
            }
        }
        Ok::<_, BackupError>(())
    };
    let insert = async {
        let mut statements: HashMap<&'static str, Vec<String>> = HashMap::new();
        while let Some(mut batch) = gathered.recv().await {
            rows += batch.flush(&mut tx, &mut statements).await?;
        }
        Ok::<_, BackupError>(())
    };
    let load = async { tokio::try_join!(gather, insert).map(|_| ()) };
    match search.as_mut() {
        Some(build) => {
            tokio::try_join!(load, feed_search(target, &parts, build))?;
        }
        None => load.await?,
    }
    sql::create_indexes(&mut tx, &indexes).await?;
    sql::create_indexes(&mut tx, &triggers).await?;
    sql::check_references(&mut tx).await?;
    let files = match search {
        // SQLite: the attachments are copied while the load commits and
        // the full-text index is copied in (a failure discards the whole
        // new directory).
        Some(search) => {
            let entries = sql::search_entry_count(&mut tx).await?;
            let commit = async {
                tx.commit().await?;
                let indexed = search.finish(&work.join("turva.db")).await?;
                if indexed != entries {
                    return Err(BackupError::Damaged(vec![format!(
                        "{indexed} of {entries} search entries were indexed"
                    )]));
                }
                Ok(())
            };
            let ((), files) = tokio::try_join!(
                commit,
                restore_files(target, manifest, &restored_companies, work)
            )?;
            files
        }
        // PostgreSQL: nothing is committed unless every file is sound.
        None => {
            let files = restore_files(target, manifest, &restored_companies, work).await?;
            tx.commit().await?;
            files
        }
    };
    db.enforce_foreign_keys(true).await?;
    turva_store::migrate::run(db).await?;
    Ok((rows, files, erased))
}

/// Copies the attachments of the restored companies into the new
/// directory's file store, each checked against its hash; returns how many.
async fn restore_files(
    target: &Target,
    manifest: &Manifest,
    companies: &HashSet<String>,
    work: &Path,
) -> Result<usize, BackupError> {
    let blobs = turva_store::blobs::BlobStore::local(&work.join("files"))?;
    let mut files = 0;
    for f in manifest
        .files
        .iter()
        .filter(|f| companies.contains(&f.company))
    {
        let path = file_path(&f.key);
        let bytes = match target.get(&path).await {
            Ok(b) => b,
            Err(TargetError::Missing(_)) => {
                return Err(BackupError::Damaged(vec![format!("{path} is missing")]))
            }
            Err(e) => return Err(e.into()),
        };
        if sha256_hex(&bytes) != f.sha256 {
            return Err(BackupError::Damaged(vec![format!(
                "{path} is damaged: its hash differs"
            )]));
        }
        blobs
            .put_raw(&f.key, bytes)
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        files += 1;
    }
    Ok(files)
}

/// Feeds a whole restore's full-text build (SQLite) with the
/// `search_entries` rows of `parts`, read apart from the load (which reads
/// every chunk and inserts the entries themselves): from the chunks of a
/// segment of that table and those without a segment, each of which names
/// the table of its first rows.
async fn feed_search(
    target: &Target,
    parts: &[(&OwnerPart, Arc<OwnerKeys>)],
    build: &mut sql::SearchBuild,
) -> Result<(), BackupError> {
    let mut reader = PackReader::new(target);
    let mut json = Vec::new();
    for (part, ok) in parts {
        let searchable = part
            .chunks
            .iter()
            .filter(|c| c.span.as_ref().is_none_or(|s| s.table == "search_entries"));
        let mut chunks = Opening::new(&part.owner, ok, searchable);
        while let Some(plain) = chunks.next(&mut reader).await? {
            let mut searched = false;
            for line in chunk_lines(&plain) {
                if let Some(name) = line.strip_prefix(b"#") {
                    searched = name == b"search_entries";
                } else if searched {
                    json.push(if json.is_empty() { b'[' } else { b',' });
                    json.extend_from_slice(line);
                }
            }
            if json.len() >= SEARCH_INSERT_BATCH {
                send_search(build, &mut json).await?;
            }
        }
    }
    send_search(build, &mut json).await
}

/// A part's chunks (those `chunks` yields), checked and opened in order on
/// blocking threads, a few ([`OPEN_AHEAD`]) ahead of the one taken.
struct Opening<'a, I> {
    owner: Arc<str>,
    keys: &'a Arc<OwnerKeys>,
    chunks: I,
    opening: std::collections::VecDeque<tokio::task::JoinHandle<Result<Vec<u8>, String>>>,
}

impl<'a, I: Iterator<Item = &'a ChunkRef>> Opening<'a, I> {
    fn new(owner: &str, keys: &'a Arc<OwnerKeys>, chunks: I) -> Self {
        Opening {
            owner: owner.into(),
            keys,
            chunks,
            opening: std::collections::VecDeque::new(),
        }
    }

    /// The next chunk's plain text, or `None` after the last.
    async fn next(&mut self, reader: &mut PackReader) -> Result<Option<Vec<u8>>, BackupError> {
        while self.opening.len() < OPEN_AHEAD {
            let Some(c) = self.chunks.next() else { break };
            let (sealed, path) = reader
                .sealed(&self.owner, c)
                .await
                .map_err(|why| BackupError::Damaged(vec![why]))?;
            let (keys, owner, c) = (self.keys.clone(), self.owner.clone(), c.clone());
            self.opening.push_back(tokio::task::spawn_blocking(move || {
                check_chunk(&owner, &keys, &c, &sealed, &path)
            }));
        }
        let Some(opened) = self.opening.pop_front() else {
            return Ok(None);
        };
        let plain = opened
            .await
            .map_err(|e| AppError::Internal(format!("opening a chunk failed: {e}")))?
            .map_err(|why| BackupError::Damaged(vec![why]))?;
        Ok(Some(plain))
    }
}

/// Sends the JSON array of full-text rows begun in `json`, if any.
async fn send_search(build: &mut sql::SearchBuild, json: &mut Vec<u8>) -> Result<(), BackupError> {
    if json.is_empty() {
        return Ok(());
    }
    json.push(b']');
    let text = String::from_utf8(std::mem::take(json))
        .map_err(|_| BackupError::Damaged(vec!["rows of search_entries are not text".into()]))?;
    build.send(text).await?;
    Ok(())
}

/// Rows of one table waiting to be inserted together.
#[derive(Default)]
struct RowBatch {
    table: Option<&'static Table>,
    json: Vec<u8>,
    n: u64,
    /// Into a whole restore's new database (`sql::insert_sql`).
    bulk: bool,
}

impl RowBatch {
    /// Sends the rows gathered to be inserted, keeping the table.
    async fn hand_over(&mut self, to: &mpsc::Sender<RowBatch>) -> Result<(), BackupError> {
        if self.json.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(
            self,
            RowBatch {
                table: self.table,
                bulk: self.bulk,
                ..RowBatch::default()
            },
        );
        to.send(full)
            .await
            .map_err(|_| AppError::Internal("the restore's load stopped".into()).into())
    }

    fn push(&mut self, row: &[u8]) {
        self.json
            .push(if self.json.is_empty() { b'[' } else { b',' });
        self.json.extend_from_slice(row);
        self.n += 1;
    }

    async fn flush(
        &mut self,
        tx: &mut Tx,
        statements: &mut HashMap<&'static str, Vec<String>>,
    ) -> Result<u64, BackupError> {
        let Some(table) = self.table else {
            return Ok(0);
        };
        if self.json.is_empty() {
            return Ok(0);
        }
        self.json.push(b']');
        let text = std::str::from_utf8(&self.json).map_err(|_| {
            BackupError::Damaged(vec![format!("rows of {} are not text", table.name)])
        })?;
        if !statements.contains_key(table.name) {
            let s = sql::insert_sql(tx, table, self.bulk).await?;
            statements.insert(table.name, s);
        }
        let sqls = statements
            .get(table.name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let n = sql::insert(tx, sqls, text).await?;
        if n != self.n {
            return Err(BackupError::Damaged(vec![format!(
                "{} of {} rows of {} were restored",
                n, self.n, table.name
            )]));
        }
        self.json.clear();
        let done = self.n;
        self.n = 0;
        Ok(done)
    }
}

/// `turva backup restore ID --into DIR`: from the live system's targets
/// and keys (or, when `live` is None, the newest key-ring copy).
pub async fn restore_into(
    config: &Config,
    data_dir: &Path,
    live: Option<&App>,
    id: &str,
    to: &RestoreTo,
) -> Result<Restored, BackupError> {
    let (target, ring_target) = targets(config, data_dir)?;
    let secrets = Secrets::of(config, data_dir);
    let keys = match live {
        Some(app) => KeySource::live(app).await?,
        None => KeySource::newest_copy(&ring_target, &secrets.master_key).await?,
    };
    let r = restore_whole(
        config,
        &secrets,
        &target,
        &keys,
        id,
        to,
        Arc::new(crate::SystemClock),
    )
    .await?;
    if let Some(app) = live {
        let why = format!("backup {id} restored as a whole into {}", to.dir.display());
        record(
            app,
            &Ctx::cli(),
            "cli",
            AuditAction::BackupRestore,
            Outcome::Allowed,
            &why,
        )
        .await?;
    }
    Ok(r)
}

/// The files of a data directory that a whole restore in place replaces.
const REPLACED: &[&str] = &[
    "turva.db",
    "turva.db-wal",
    "turva.db-shm",
    "turva-audit.db",
    "turva-audit.db-wal",
    "turva-audit.db-shm",
    "turva-audit-stage.db",
    "turva-audit-stage.db-wal",
    "turva-audit-stage.db-shm",
    "audit-journal",
    "keyring.json",
    "audit-checkpoints.log",
    "files",
];

/// `turva backup restore ID` without `--into`: the whole system into the
/// data directory itself (the server stopped). Refused while it holds data
/// unless `force`; then the replaced files are kept in
/// `DIR/replaced-<time>/`. The keys are the live ones when there is a live
/// system, else the newest key-ring copy (a new machine with only the
/// master key and the signing key).
pub async fn restore_in_place(
    config: &Config,
    dir: &Path,
    id: &str,
    force: bool,
) -> Result<Restored, BackupError> {
    if !valid_id(id) {
        return Err(BackupError::Refused(format!("{id:?} is not a backup id")));
    }
    let pg = config.database.url.is_some();
    let holds_data = dir.join("turva.db").exists() || pg && dir.join("keyring.json").exists();
    if holds_data && !force {
        return Err(BackupError::Refused(format!(
            "{} holds a system: stop the server and add --force to replace it (its files are kept in {}/replaced-…), or restore --into a new directory",
            dir.display(),
            dir.display()
        )));
    }
    if holds_data && pg {
        return Err(BackupError::Refused(
            "a PostgreSQL system is restored into an empty database: use --into NEWDIR --database-url URL"
                .into(),
        ));
    }
    let (target, ring_target) = targets(config, dir)?;
    let secrets = Secrets::of(config, dir);
    let keys = if holds_data {
        let (app, _) = App::open(config.clone(), dir, Arc::new(crate::SystemClock))
            .await
            .map_err(BackupError::Refused)?;
        let k = KeySource::live(&app).await;
        app.close().await;
        k?
    } else {
        KeySource::newest_copy(&ring_target, &secrets.master_key).await?
    };
    let clock: Arc<dyn crate::Clock> = Arc::new(crate::SystemClock);
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "data".into());
    let staging = parent.join(format!(".{name}.restored-{id}"));
    let _ = std::fs::remove_dir_all(&staging);
    let to = RestoreTo {
        dir: staging.clone(),
        database_url: config.database.url.as_ref().map(|u| u.expose().to_string()),
    };
    let restored = restore_whole(config, &secrets, &target, &keys, id, &to, clock.clone()).await?;
    let io = |what: String, e: std::io::Error| BackupError::Refused(format!("{what}: {e}"));
    let keep = dir.join(format!("replaced-{}", new_id(clock.now_millis())));
    std::fs::create_dir_all(&keep).map_err(|e| io(format!("creating {}", keep.display()), e))?;
    for f in REPLACED {
        let old = dir.join(f);
        if old.exists() {
            std::fs::rename(&old, keep.join(f))
                .map_err(|e| io(format!("moving {} aside", old.display()), e))?;
        }
    }
    for f in REPLACED {
        let new = staging.join(f);
        if new.exists() {
            std::fs::rename(&new, dir.join(f))
                .map_err(|e| io(format!("moving the restored {f} into place"), e))?;
        }
    }
    for secret in [&secrets.master_key, &secrets.signing_key] {
        if let Some(f) = secret.file_name() {
            if !secret.exists() {
                let _ = std::fs::rename(staging.join(f), secret);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(restored)
}

// ---------------------------------------------------------------- drills

/// What a restore drill found; also stored as `drills/<id>.json` in the
/// target, and summed up in the `backup.drill` event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Drilled {
    pub id: String,
    pub backup: String,
    pub at: i64,
    pub passed: bool,
    /// Time to restore the whole system (recovery time), milliseconds.
    pub rto_ms: i64,
    /// Age of the data restored (recovery point), milliseconds.
    pub rpo_ms: i64,
    pub rows: u64,
    pub files_checked: usize,
    pub audit_events: u64,
    /// Owners whose key was destroyed since the backup (not a failure).
    pub erased: usize,
    pub faults: Vec<String>,
}

/// How many attachments a drill decrypts.
const DRILL_FILES: i64 = 5;

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> Option<String> {
    let scheme_end = url.find("://")? + 3;
    let authority_end = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |i| scheme_end + i);
    let query = url[authority_end..]
        .find('?')
        .map(|i| &url[authority_end + i..]);
    Some(format!(
        "{}/{name}{}",
        &url[..authority_end],
        query.unwrap_or_default()
    ))
}

/// Restores the newest backup into a scratch location (a directory in the
/// data directory; on PostgreSQL also a scratch database, which needs the
/// role to have CREATEDB), and checks it: every table's row count against
/// the manifest (owners erased since excepted), the audit log verified up
/// to and past the backup's tree, a sample of attachments decrypted and
/// compared with their upload hash. Measures RTO and RPO, stores the
/// report in the target, records `backup.drill`, and emails the operators
/// when it failed. The scratch copy is deleted afterwards.
pub async fn drill(app: &App, ctx: &Ctx, credential: &str) -> Result<Drilled, BackupError> {
    let (target, _) = targets(app.config(), app.data_dir())?;
    let newest = list_in(&target).await?.pop().ok_or_else(|| {
        BackupError::Refused("no backup to drill: take one with `turva backup run`".into())
    })?;
    let manifest = read_manifest(app.signer(), &target, &newest.id).await?;
    let now = app.now();
    let id = new_id(now);
    let scratch_root = app.data_dir().join("drill-scratch");
    let scratch = scratch_root.join(&id);
    let pg = app
        .config()
        .database
        .url
        .as_ref()
        .map(|u| u.expose().to_string());
    let mut to = RestoreTo {
        dir: scratch.clone(),
        database_url: None,
    };
    let scratch_db = format!("turva_drill_{}", id.to_lowercase().replace('-', "_"));
    if let Some(url) = &pg {
        turva_store::backup::create_scratch_database(app.db(), &scratch_db)
            .await
            .map_err(|e| {
                BackupError::Refused(format!(
                    "a drill needs a scratch database (the role needs CREATEDB): {e}"
                ))
            })?;
        to.database_url = with_database(url, &scratch_db);
    }
    let keys = KeySource::live(app).await?;
    let secrets = Secrets::of(app.config(), app.data_dir());
    let started = std::time::Instant::now();
    let restored = restore_whole(
        app.config(),
        &secrets,
        &target,
        &keys,
        &manifest.id,
        &to,
        Arc::new(crate::SystemClock),
    )
    .await;
    let rto_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let mut report = Drilled {
        id: id.clone(),
        backup: manifest.id.clone(),
        at: now,
        passed: false,
        rto_ms,
        rpo_ms: (now - manifest.created_at).max(0),
        rows: 0,
        files_checked: 0,
        audit_events: 0,
        erased: 0,
        faults: Vec::new(),
    };
    match restored {
        Ok(r) => {
            report.rows = r.rows;
            report.erased = r.erased.len();
            check_restored(app, &manifest, &r, &to, &mut report).await;
        }
        Err(e) => report.faults.push(format!("the restore failed: {e}")),
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let _ = std::fs::remove_dir(&scratch_root);
    if pg.is_some() {
        if let Err(e) = turva_store::backup::drop_scratch_database(app.db(), &scratch_db).await {
            tracing::warn!(error = %e, database = %scratch_db, "the drill's scratch database was not dropped");
        }
    }
    report.passed = report.faults.is_empty();

    let json = serde_json::to_vec(&report)
        .map_err(|e| AppError::Internal(format!("drill report: {e}")))?;
    target
        .put(&format!("drills/{id}.json"), Bytes::from(json))
        .await?;
    let why = if report.passed {
        format!(
            "drill of backup {}: passed; RTO {:.1} s, RPO {:.1} h, {} rows, {} audit events verified, {} files decrypted, {} erased owners",
            report.backup,
            report.rto_ms as f64 / 1000.0,
            report.rpo_ms as f64 / 3_600_000.0,
            report.rows,
            report.audit_events,
            report.files_checked,
            report.erased
        )
    } else {
        format!(
            "drill of backup {}: FAILED: {}",
            report.backup,
            report.faults.join("; ")
        )
    };
    record(
        app,
        ctx,
        credential,
        AuditAction::BackupDrill,
        Outcome::Allowed,
        &why,
    )
    .await?;
    if !report.passed {
        tracing::error!(backup = %report.backup, faults = %report.faults.join("; "), "restore drill failed");
        let to = {
            let mut tx = app.db().read().await.map_err(AppError::from)?;
            turva_store::users::operator_addresses(&mut tx).await?
        };
        for (email, lang) in &to {
            let lang = turva_model::Language::parse("language", lang).unwrap_or_default();
            let m =
                crate::mail::drill_failed(lang, email, &report.backup, &report.faults.join("\n"));
            crate::auth::send_quietly(app, &m).await;
        }
    }
    Ok(report)
}

/// The drill's checks on the restored copy.
async fn check_restored(
    app: &App,
    manifest: &Manifest,
    restored: &Restored,
    to: &RestoreTo,
    report: &mut Drilled,
) {
    let mut config = app.config().clone();
    config.keys.master_key_file = None;
    config.storage.url = None;
    config.database.url = to
        .database_url
        .as_ref()
        .map(|u| crate::config::Secret::new(u.clone()));
    let copy = match App::open_to_inspect(config, &to.dir, Arc::new(crate::SystemClock)).await {
        Ok(a) => a,
        Err(e) => {
            report
                .faults
                .push(format!("the restored copy does not open: {e}"));
            return;
        }
    };
    match crate::audit_verify::verify(&copy).await {
        Ok(v) if v.events >= manifest.audit_size => report.audit_events = v.events,
        Ok(v) => report.faults.push(format!(
            "the restored audit log holds {} events, the backup {}",
            v.events, manifest.audit_size
        )),
        Err(Ok(t)) => report
            .faults
            .push(format!("the restored audit log does not verify: {t}")),
        Err(Err(e)) => report
            .faults
            .push(format!("the restored audit log could not be read: {e}")),
    }
    let erased: HashSet<&String> = restored.erased.iter().collect();
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    for part in manifest
        .owners
        .iter()
        .filter(|p| !erased.contains(&p.owner))
    {
        for (table, n) in &part.rows {
            *expected.entry(table.as_str()).or_default() += n;
        }
    }
    match copy.db().read().await {
        Ok(mut tx) => {
            let tables: Vec<&'static Table> = TABLES
                .iter()
                .filter(|t| t.group != Group::Platform)
                .collect();
            for table in tables {
                let want = expected.get(table.name).copied().unwrap_or(0);
                match sql::count_rows(&mut tx, table).await {
                    Ok(n) if u64::try_from(n).unwrap_or(0) == want => {}
                    Ok(n) => report.faults.push(format!(
                        "{}: {n} rows restored, the backup has {want}",
                        table.name
                    )),
                    Err(e) => report.faults.push(format!("{}: {e}", table.name)),
                }
            }
            match sql::sample_file_ids(&mut tx, DRILL_FILES).await {
                Ok(ids) => {
                    drop(tx);
                    for id in ids {
                        match crate::files::check_plaintext(&copy, &id).await {
                            Ok(()) => report.files_checked += 1,
                            Err(why) => report.faults.push(why),
                        }
                    }
                }
                Err(e) => report.faults.push(format!("files: {e}")),
            }
        }
        Err(e) => report.faults.push(format!("the restored copy: {e}")),
    }
    copy.close().await;
}

/// The newest drill's report in `target`.
async fn last_drill(target: &Target) -> Result<Option<Drilled>, BackupError> {
    let mut drills = target.list("drills").await?;
    drills.sort_by(|a, b| a.modified.cmp(&b.modified).then(a.name.cmp(&b.name)));
    let Some(last) = drills.last() else {
        return Ok(None);
    };
    let bytes = target.get(&last.name).await?;
    Ok(serde_json::from_slice(&bytes).ok())
}

/// What operators see of backups (`GET /admin/status`): no company content.
#[derive(Debug, Clone, Default)]
pub struct Status {
    pub backups: usize,
    pub last_backup: Option<Summary>,
    pub last_drill: Option<Drilled>,
}

/// The backups' status.
pub async fn status(app: &App) -> Result<Status, BackupError> {
    let (target, _) = targets(app.config(), app.data_dir())?;
    let mut all = list_in(&target).await?;
    Ok(Status {
        backups: all.len(),
        last_backup: all.pop(),
        last_drill: last_drill(&target).await?,
    })
}

/// The server's schedule, called every minute: the daily backup at
/// `[backup] schedule` (UTC) once the newest backup is older than today's
/// slot, then a drill when the last one is a week old. A claim in the
/// database makes several processes run it once.
pub async fn scheduled(app: &App) -> Result<Option<Ran>, BackupError> {
    scheduled_at(app, &app.config().backup.schedule).await
}

/// [`scheduled`] at the time `schedule` (`HH:MM` UTC, or `off`) instead of
/// the configured one.
pub async fn scheduled_at(app: &App, schedule: &str) -> Result<Option<Ran>, BackupError> {
    const BUCKET: &str = "backup_schedule";
    let Some((h, m)) = crate::config::parse_hh_mm(schedule) else {
        return Ok(None);
    };
    let now = app.now();
    let slot = now - now.rem_euclid(86_400_000) + (i64::from(h) * 60 + i64::from(m)) * 60_000;
    if now < slot {
        return Ok(None);
    }
    let (target, _) = targets(app.config(), app.data_dir())?;
    if list_in(&target)
        .await?
        .last()
        .is_some_and(|s| s.created_at >= slot)
    {
        return Ok(None);
    }
    {
        let mut tx = app.db().write().await.map_err(AppError::from)?;
        turva_store::throttle::lock(&mut tx, BUCKET, "daily").await?;
        let (claimed, _) =
            turva_store::throttle::window(&mut tx, BUCKET, "daily", now - 3_600_000).await?;
        if claimed > 0 {
            return Ok(None);
        }
        turva_store::throttle::record(&mut tx, &crate::secret::new_id(), BUCKET, "daily", now)
            .await?;
        tx.commit().await.map_err(AppError::from)?;
    }
    let ran = run(app, &Ctx::cli(), "system").await?;
    let week = 7 * 86_400_000;
    if last_drill(&target)
        .await?
        .is_none_or(|d| now - d.at >= week)
    {
        let d = drill(app, &Ctx::cli(), "system").await?;
        tracing::info!(backup = %d.backup, passed = d.passed, rto_ms = d.rto_ms, "weekly restore drill");
    }
    Ok(Some(ran))
}

// ---------------------------------------------------------------- one object

/// What a restore of one folder sub-tree or document did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRestored {
    pub object: String,
    pub company: String,
    pub is_folder: bool,
    pub folders: usize,
    pub documents: usize,
    pub files: usize,
    pub shares: usize,
    /// Shares left out: their grantee no longer exists.
    pub shares_skipped: usize,
    /// It was in the trash: the backup's version took its place.
    pub replaced_trashed: bool,
    /// It is live (or its trashed version holds what the backup lacks): the
    /// backup's version came back as a copy with this id, named as
    /// restored, beside it.
    pub copy: Option<String>,
}

/// Calls `each(table, row)` for every row of an owner's part, in order;
/// only in the chunks `only` when given.
async fn each_row(
    target: &Target,
    keys: &OwnerKeys,
    part: &OwnerPart,
    only: Option<&BTreeSet<usize>>,
    mut each: impl FnMut(&str, &str) -> Result<(), BackupError>,
) -> Result<(), BackupError> {
    let mut reader = match only {
        Some(_) => PackReader::ranged(target),
        None => PackReader::new(target),
    };
    let chosen = part
        .chunks
        .iter()
        .enumerate()
        .filter(|(i, _)| only.is_none_or(|o| o.contains(i)))
        .map(|(_, c)| c);
    for c in chosen {
        let plain = open_chunk(&mut reader, &part.owner, keys, c)
            .await
            .map_err(|why| BackupError::Damaged(vec![why]))?;
        let text = std::str::from_utf8(&plain).map_err(|_| {
            BackupError::Damaged(vec![format!("a chunk of {} is not text", part.owner)])
        })?;
        let mut table = "";
        for line in text.lines() {
            if let Some(t) = line.strip_prefix('#') {
                table = t;
            } else if !line.is_empty() {
                each(table, line)?;
            }
        }
    }
    Ok(())
}

/// The locator of a part, if it has one (backups before it had none).
async fn load_locator(
    target: &Target,
    keys: &OwnerKeys,
    part: &OwnerPart,
) -> Result<Option<Locator>, BackupError> {
    let Some(c) = &part.locator else {
        return Ok(None);
    };
    let plain = open_chunk(&mut PackReader::ranged(target), &part.owner, keys, c)
        .await
        .map_err(|why| BackupError::Damaged(vec![why]))?;
    Locator::decode(&plain, part.chunks.len())
        .map(Some)
        .ok_or_else(|| {
            BackupError::Damaged(vec![format!(
                "the locator of {} does not fit its chunks",
                part.owner
            )])
        })
}

/// The chunks of a part to read for rows concerning `ids`: those the
/// locator names, or all of them without one.
fn chunks_for<'a>(
    locator: Option<&Locator>,
    ids: impl IntoIterator<Item = &'a str>,
) -> Option<BTreeSet<usize>> {
    locator.map(|l| l.chunks_for(ids))
}

fn parse_row(line: &str) -> Result<serde_json::Value, BackupError> {
    serde_json::from_str(line)
        .map_err(|_| BackupError::Damaged(vec!["a row in the backup does not parse".into()]))
}

fn text_of<'a>(row: &'a serde_json::Value, column: &str) -> &'a str {
    row[column].as_str().unwrap_or_default()
}

/// `turva backup restore ID --object OID`: one folder (with its sub-tree)
/// or one document, with their versions, files and shares (those whose
/// grantee still exists), back into the live system, in its company. In
/// place, with its ids, when it is gone, or in the trash holding nothing
/// the backup lacks (the trashed version is replaced); otherwise — it is
/// live, or its trashed version holds newer content — as a copy with new
/// ids, named as restored from the backup, so nothing live is lost. Either
/// goes where it was (a folder whose parent is gone or in the trash goes
/// to the top level). Audited as `backup.restore` in the object's company.
pub async fn restore_object(
    app: &App,
    ctx: &Ctx,
    id: &str,
    object: &str,
) -> Result<ObjectRestored, BackupError> {
    let oid = turva_model::Id::<()>::parse("object", object)
        .map_err(|_| BackupError::Refused(format!("{object:?} is not an object id")))?
        .as_text();
    let (target, _) = targets(app.config(), app.data_dir())?;
    let manifest = read_manifest(app.signer(), &target, id).await?;
    let keys = KeySource::live(app).await?;
    let live = {
        let mut tx = app.db().read().await.map_err(AppError::from)?;
        sql::live_object(&mut tx, &oid).await?
    };
    // Its company: the live one's, else the part of the backup holding it.
    let mut found = None;
    for part in manifest
        .owners
        .iter()
        .filter(|p| p.owner.starts_with("company:"))
    {
        if let Some(l) = &live {
            if part.owner == format!("company:{}", l.company_id) {
                found = Some(part);
                break;
            }
            continue;
        }
        let Some(key) = keys.owner_key(&part.owner)? else {
            continue;
        };
        let ok = OwnerKeys::of(&key);
        let locator = load_locator(&target, &ok, part).await?;
        let only = chunks_for(locator.as_ref(), [oid.as_str()]);
        if only.as_ref().is_some_and(BTreeSet::is_empty) {
            continue;
        }
        let mut here = false;
        each_row(&target, &ok, part, only.as_ref(), |table, line| {
            if (table == "folders" || table == "documents") && line.contains(oid.as_str()) {
                here |= text_of(&parse_row(line)?, "id") == oid;
            }
            Ok(())
        })
        .await?;
        if here {
            found = Some(part);
            break;
        }
    }
    let Some(part) = found else {
        return Err(BackupError::Refused(format!(
            "backup {id} does not hold {oid}"
        )));
    };
    let company = part.owner.trim_start_matches("company:").to_string();
    {
        let mut tx = app.db().read().await.map_err(AppError::from)?;
        if !sql::company_is_live(&mut tx, &company).await? {
            return Err(BackupError::Refused(format!(
                "the company of {oid} is gone or being deleted"
            )));
        }
    }
    let key = keys
        .owner_key(&part.owner)?
        .ok_or_else(|| BackupError::Refused(format!("the company of {oid} was erased")))?;
    let ok = OwnerKeys::of(&key);
    // With a locator only the chunks of rows about the object are read.
    let locator = load_locator(&target, &ok, part).await?;

    // First pass: the sub-tree's folders (their closure rows name it).
    let mut folders: HashSet<String> = HashSet::new();
    let mut is_doc = false;
    let only = chunks_for(locator.as_ref(), [oid.as_str()]);
    each_row(&target, &ok, part, only.as_ref(), |table, line| {
        if table == "folder_paths" && line.contains(oid.as_str()) {
            let row = parse_row(line)?;
            if text_of(&row, "ancestor_id") == oid {
                folders.insert(text_of(&row, "folder_id").to_string());
            }
        } else if table == "documents" && line.contains(oid.as_str()) {
            is_doc |= text_of(&parse_row(line)?, "id") == oid;
        }
        Ok(())
    })
    .await?;
    if folders.is_empty() && !is_doc {
        return Err(BackupError::Refused(format!(
            "backup {id} does not hold {oid}"
        )));
    }
    let is_folder = !folders.is_empty();
    // The documents in the sub-tree's folders, whose own rows (versions,
    // files, shares) the locator finds by their ids.
    let mut in_folders: HashSet<String> = HashSet::new();
    if is_folder && locator.is_some() {
        let only = chunks_for(locator.as_ref(), folders.iter().map(String::as_str));
        each_row(&target, &ok, part, only.as_ref(), |table, line| {
            if table == "documents" {
                let row = parse_row(line)?;
                if folders.contains(text_of(&row, "folder_id")) {
                    in_folders.insert(text_of(&row, "id").to_string());
                }
            }
            Ok(())
        })
        .await?;
    }
    let only = chunks_for(
        locator.as_ref(),
        folders
            .iter()
            .chain(in_folders.iter())
            .map(String::as_str)
            .chain([oid.as_str()]),
    );

    // Second pass: the rows.
    let mut docs: HashSet<String> = HashSet::new();
    let mut rows: BTreeMap<usize, Vec<serde_json::Value>> = BTreeMap::new();
    let mut search: Vec<(String, String, String)> = Vec::new();
    let order = |name: &str| TABLES.iter().position(|t| t.name == name);
    each_row(&target, &ok, part, only.as_ref(), |table, line| {
        let keep = match table {
            "folders" | "folder_paths" | "documents" | "document_versions" | "files" | "shares"
            | "search_entries" => parse_row(line)?,
            _ => return Ok(()),
        };
        let wanted = match table {
            "folders" => folders.contains(text_of(&keep, "id")),
            "folder_paths" => {
                folders.contains(text_of(&keep, "folder_id"))
                    && folders.contains(text_of(&keep, "ancestor_id"))
            }
            "documents" => {
                let hit = if is_folder {
                    folders.contains(text_of(&keep, "folder_id"))
                } else {
                    text_of(&keep, "id") == oid
                };
                if hit {
                    docs.insert(text_of(&keep, "id").to_string());
                }
                hit
            }
            "document_versions" | "files" => docs.contains(text_of(&keep, "document_id")),
            "shares" => {
                let o = text_of(&keep, "object_id");
                folders.contains(o) || docs.contains(o)
            }
            _ => {
                let o = text_of(&keep, "object_id");
                if docs.contains(o) || folders.contains(o) {
                    search.push((
                        text_of(&keep, "object_id").to_string(),
                        text_of(&keep, "title").to_string(),
                        text_of(&keep, "body").to_string(),
                    ));
                }
                false
            }
        };
        if wanted {
            if let Some(i) = order(table) {
                rows.entry(i).or_default().push(keep);
            }
        }
        Ok(())
    })
    .await?;

    let mut tx = app.db().write().await.map_err(AppError::from)?;
    // Where it goes back: its parent if that is live, else the top level;
    // a document needs its folder.
    let mut parent = None;
    if let Some(list) = order("folders").and_then(|i| rows.get_mut(&i)) {
        for row in list.iter_mut().filter(|r| text_of(r, "id") == oid) {
            let p = text_of(row, "parent_id").to_string();
            if !p.is_empty() && sql::folder_is_live(&mut tx, &company, &p).await? {
                parent = Some(p);
            } else {
                row["parent_id"] = serde_json::Value::Null;
            }
        }
    }
    if is_doc {
        let folder = order("documents")
            .and_then(|i| rows.get(&i))
            .and_then(|l| l.first())
            .map(|r| text_of(r, "folder_id").to_string())
            .unwrap_or_default();
        let exists = turva_store::folders::folder(&mut tx, &company, &folder)
            .await?
            .is_some();
        if !exists {
            return Err(BackupError::Refused(format!(
                "the folder {folder} of document {oid} is gone too: restore that folder"
            )));
        }
    }
    // Shares only where the grantee still exists (and what they came
    // through is restored too).
    let mut shares_skipped = 0;
    if let Some(list) = order("shares").and_then(|i| rows.get_mut(&i)) {
        let grantees: Vec<String> = list
            .iter()
            .map(|r| text_of(r, "grantee_id").to_string())
            .collect();
        let exist: HashSet<String> = sql::existing_users(&mut tx, &grantees)
            .await?
            .into_iter()
            .collect();
        let vias: Vec<String> = list
            .iter()
            .map(|r| text_of(r, "via_share_id").to_string())
            .filter(|v| !v.is_empty())
            .collect();
        // A share made through another still live (on a folder above) keeps
        // it, like one made through a share restored with it.
        let mut kept: HashSet<String> = sql::existing_shares(&mut tx, &vias)
            .await?
            .into_iter()
            .collect();
        let before = list.len();
        list.retain(|r| {
            let via = text_of(r, "via_share_id");
            let ok =
                exist.contains(text_of(r, "grantee_id")) && (via.is_empty() || kept.contains(via));
            if ok {
                kept.insert(text_of(r, "id").to_string());
            }
            ok
        });
        shares_skipped = before - list.len();
    }
    // In place when it is gone, or in the trash with nothing the backup
    // lacks; else as a copy with new ids beside it: what is live, and what
    // was added since the backup, is never deleted by a restore.
    let mut replaced_blobs = Vec::new();
    let mut copy = None;
    if let Some(l) = &live {
        let (live_folders, live_docs, live_blobs) =
            sql::live_subtree(&mut tx, &oid, l.is_folder).await?;
        let restored_files: HashSet<String> = order("files")
            .and_then(|i| rows.get(&i))
            .map(|list| {
                list.iter()
                    .map(|r| text_of(r, "blob_key").to_string())
                    .collect()
            })
            .unwrap_or_default();
        let newer = live_folders.iter().any(|f| !folders.contains(f))
            || live_docs.iter().any(|d| !docs.contains(d))
            || live_blobs.iter().any(|b| !restored_files.contains(b));
        if !l.in_trash || newer {
            copy = Some(crate::secret::new_id());
        } else {
            replaced_blobs = if l.is_folder {
                turva_store::purge::folder_subtree(&mut tx, &oid).await?
            } else {
                turva_store::purge::document(&mut tx, &oid).await?
            };
        }
    }
    let blob_keys: HashSet<String> = order("files")
        .and_then(|i| rows.get(&i))
        .map(|l| {
            l.iter()
                .map(|r| text_of(r, "blob_key").to_string())
                .collect()
        })
        .unwrap_or_default();
    if let Some(new_top) = &copy {
        let copying = Copying {
            target: &target,
            manifest: &manifest,
            backup: id,
            company: &company,
            top: &oid,
            new_top,
        };
        copying
            .prepare(app, &mut tx, &mut rows, &mut search)
            .await?;
    } else {
        // The files' bytes first: a failure leaves only unnamed objects.
        for f in manifest.files.iter().filter(|f| blob_keys.contains(&f.key)) {
            let bytes = target.get(&file_path(&f.key)).await?;
            if sha256_hex(&bytes) != f.sha256 {
                return Err(damaged_file(&f.key));
            }
            app.blobs()
                .put_raw(&f.key, bytes)
                .await
                .map_err(|e| AppError::Unavailable(e.to_string()))?;
        }
    }
    let top = copy.clone().unwrap_or_else(|| oid.clone());
    let mut statements: HashMap<&'static str, Vec<String>> = HashMap::new();
    for (i, list) in &rows {
        let Some(table) = TABLES.get(*i) else {
            continue;
        };
        if list.is_empty() {
            continue;
        }
        let mut batch = RowBatch {
            table: Some(table),
            json: Vec::new(),
            n: 0,
            bulk: false,
        };
        for row in list {
            batch.push(row.to_string().as_bytes());
        }
        batch.flush(&mut tx, &mut statements).await?;
    }
    if is_folder {
        if let Some(p) = &parent {
            turva_store::folders::attach_subtree(&mut tx, &top, p).await?;
        }
        turva_store::folders::refresh_subtree(&mut tx, &company, &top).await?;
    }
    for (doc, title, body) in &search {
        turva_store::search::index_document(&mut tx, &company, doc, title, body).await?;
    }
    let count = |name: &str| order(name).and_then(|i| rows.get(&i)).map_or(0, Vec::len);
    let done = ObjectRestored {
        object: oid.clone(),
        company: company.clone(),
        is_folder,
        folders: count("folders"),
        documents: count("documents"),
        files: count("files"),
        shares: count("shares"),
        shares_skipped,
        replaced_trashed: live.is_some() && copy.is_none(),
        copy: copy.clone(),
    };
    let why = format!(
        "from backup {id}: {} folders, {} documents, {} files, {} shares ({} left out: grantee gone){}",
        done.folders,
        done.documents,
        done.files,
        done.shares,
        done.shares_skipped,
        if done.replaced_trashed {
            "; the trashed version replaced".to_string()
        } else if copy.is_some() {
            format!("; a copy of {oid}, which is live or holds newer content")
        } else {
            String::new()
        }
    );
    let kind = if is_folder {
        turva_model::audit::ObjectType::Folder
    } else {
        turva_model::audit::ObjectType::Document
    };
    let mut ev = Event::new(AuditAction::BackupRestore, Outcome::Allowed)
        .company(&company)
        .object(kind, &top)
        .reason(&why);
    ev.credential = Some("cli");
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await.map_err(AppError::from)?;
    for key in replaced_blobs.iter().filter(|k| !blob_keys.contains(*k)) {
        if let Err(e) = app.blobs().delete(key).await {
            tracing::warn!(error = %e, "a replaced attachment's bytes were not deleted");
        }
    }
    Ok(done)
}

fn damaged_file(key: &str) -> BackupError {
    BackupError::Damaged(vec![format!(
        "{} is damaged: its hash differs",
        file_path(key)
    )])
}

/// An object restored beside its live self: every id in its rows is new,
/// its attachments are sealed again under keys bound to the new ids, and
/// its top folder or document is named as restored from the backup.
struct Copying<'a> {
    target: &'a Target,
    manifest: &'a Manifest,
    backup: &'a str,
    company: &'a str,
    top: &'a str,
    new_top: &'a str,
}

impl Copying<'_> {
    async fn prepare(
        &self,
        app: &App,
        tx: &mut Tx,
        rows: &mut BTreeMap<usize, Vec<serde_json::Value>>,
        search: &mut [(String, String, String)],
    ) -> Result<(), BackupError> {
        let order = |name: &str| TABLES.iter().position(|t| t.name == name);
        let mut ids: HashMap<String, String> = HashMap::new();
        ids.insert(self.top.to_string(), self.new_top.to_string());
        for table in ["folders", "documents", "files", "shares"] {
            for row in order(table)
                .and_then(|i| rows.get(&i))
                .into_iter()
                .flatten()
            {
                ids.entry(text_of(row, "id").to_string())
                    .or_insert_with(crate::secret::new_id);
            }
        }
        if let Some(files) = order("files").and_then(|i| rows.get_mut(&i)) {
            self.reseal(app, tx, files, &ids).await?;
        }
        for row in rows.values_mut().flatten() {
            remap_value(row, &ids);
        }
        for (object, _, _) in search.iter_mut() {
            if let Some(new) = ids.get(object.as_str()) {
                object.clone_from(new);
            }
        }
        // Named as restored, so the two are told apart.
        let named = |name: &str| restored_name(name, self.backup);
        if let Some(top) = order("folders")
            .and_then(|i| rows.get_mut(&i))
            .and_then(|l| l.iter_mut().find(|r| text_of(r, "id") == self.new_top))
        {
            top["name"] = named(text_of(top, "name")).into();
        }
        let mut newest = None;
        if let Some(top) = order("documents")
            .and_then(|i| rows.get_mut(&i))
            .and_then(|l| l.iter_mut().find(|r| text_of(r, "id") == self.new_top))
        {
            top["title"] = named(text_of(top, "title")).into();
            newest = top["version"].as_i64();
        }
        if let Some(v) = order("document_versions")
            .and_then(|i| rows.get_mut(&i))
            .and_then(|l| {
                l.iter_mut().find(|r| {
                    text_of(r, "document_id") == self.new_top && r["version"].as_i64() == newest
                })
            })
        {
            v["title"] = named(text_of(v, "title")).into();
        }
        for (object, title, _) in search.iter_mut() {
            if object == self.new_top {
                *title = named(title);
            }
        }
        Ok(())
    }

    /// Each attachment's bytes from the backup, opened with its old key and
    /// sealed under a new one; its row then names the new blob and key.
    async fn reseal(
        &self,
        app: &App,
        tx: &mut Tx,
        files: &mut [serde_json::Value],
        ids: &HashMap<String, String>,
    ) -> Result<(), BackupError> {
        let size: i64 = files.iter().filter_map(|r| r["size"].as_i64()).sum();
        let used = turva_store::files::company_usage(tx, self.company).await?;
        let quota = i64::try_from(app.config().storage.company_quota_bytes).unwrap_or(i64::MAX);
        if used.saturating_add(size) > quota {
            return Err(BackupError::Refused(format!(
                "a copy needs {size} bytes and the company's storage quota has {} left",
                quota.saturating_sub(used).max(0)
            )));
        }
        let new = |old: &str| ids.get(old).map_or("", String::as_str).to_string();
        let backend = tx.backend();
        for row in files.iter_mut() {
            let key = text_of(row, "blob_key").to_string();
            let stored = self
                .manifest
                .files
                .iter()
                .find(|f| f.key == key)
                .ok_or_else(|| {
                    BackupError::Damaged(vec![format!("{} is missing", file_path(&key))])
                })?;
            let sealed = self.target.get(&file_path(&key)).await?;
            if sha256_hex(&sealed) != stored.sha256 {
                return Err(damaged_file(&key));
            }
            let wrapped = column_bytes(text_of(row, "wrapped_key")).ok_or_else(|| {
                BackupError::Damaged(vec![format!("the key of {key} does not parse")])
            })?;
            let (file_id, document_id) = (text_of(row, "id"), text_of(row, "document_id"));
            let (new_file, new_doc) = (new(file_id), new(document_id));
            let from = crate::files::FilePlace {
                company_id: self.company,
                document_id,
                file_id,
            };
            let to = crate::files::FilePlace {
                company_id: self.company,
                document_id: &new_doc,
                file_id: &new_file,
            };
            let (blob, kek_id, wrapped) = crate::files::reseal_copy(
                app,
                tx,
                &from,
                text_of(row, "kek_id"),
                &wrapped,
                sealed,
                &to,
            )
            .await?;
            row["blob_key"] = blob.into();
            row["kek_id"] = kek_id.into();
            row["wrapped_key"] = column_text(backend, &wrapped).into();
        }
        Ok(())
    }
}

/// A BLOB column's value as a backup row holds it: hex text on SQLite,
/// `\x`-prefixed hex on PostgreSQL.
fn column_bytes(text: &str) -> Option<Vec<u8>> {
    hex::decode(text.strip_prefix("\\x").unwrap_or(text)).ok()
}

fn column_text(backend: Backend, bytes: &[u8]) -> String {
    match backend {
        Backend::Sqlite => hex::encode_upper(bytes),
        Backend::Postgres => format!("\\x{}", hex::encode(bytes)),
    }
}

/// `name (restored from backup ID)`, the name shortened to fit.
fn restored_name(name: &str, backup: &str) -> String {
    let tail = format!(" (restored from backup {backup})");
    let room = turva_model::validate::NAME_MAX.saturating_sub(tail.chars().count());
    let base: String = name.chars().take(room).collect();
    format!("{}{tail}", base.trim_end())
}

/// Every id in the strings of `value` (also inside JSON held as text, such
/// as a document's fields) that `ids` maps, replaced by its new id.
fn remap_value(value: &mut serde_json::Value, ids: &HashMap<String, String>) {
    match value {
        serde_json::Value::String(s) => {
            if let Some(new) = remap_ids(s, ids) {
                *s = new;
            }
        }
        serde_json::Value::Array(list) => list.iter_mut().for_each(|v| remap_value(v, ids)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| remap_value(v, ids)),
        _ => {}
    }
}

/// `text` with each id (canonical 36-character form) that `ids` maps
/// replaced; `None` when nothing changed.
fn remap_ids(text: &str, ids: &HashMap<String, String>) -> Option<String> {
    const LEN: usize = 36;
    let bytes = text.as_bytes();
    let looks_like_id = |w: &[u8]| {
        w.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(b),
        })
    };
    let mut out = String::new();
    let (mut last, mut i) = (0, 0);
    let mut changed = false;
    while i + LEN <= bytes.len() {
        let new = bytes
            .get(i..i + LEN)
            .filter(|w| looks_like_id(w))
            .and_then(|_| text.get(i..i + LEN))
            .and_then(|w| ids.get(w));
        if let Some(new) = new {
            out.push_str(text.get(last..i).unwrap_or_default());
            out.push_str(new);
            i += LEN;
            last = i;
            changed = true;
        } else {
            i += 1;
        }
    }
    changed.then(|| {
        out.push_str(text.get(last..).unwrap_or_default());
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chunk(table: &str, level: Option<i64>, first: i64, last: i64) -> ChunkRef {
        ChunkRef {
            id: format!("{table}-{level:?}-{first}"),
            size: 1,
            sha256: String::new(),
            pack: Some("p".into()),
            offset: 0,
            span: Some(Span {
                table: table.into(),
                level,
                first,
                last,
                rows: u64::try_from(last - first + 1).unwrap_or(0),
            }),
        }
    }

    fn firsts(chunks: &[ChunkRef]) -> Vec<i64> {
        chunks
            .iter()
            .filter_map(|c| c.span.as_ref().map(|s| s.first))
            .collect()
    }

    /// Reused: the run of chunks above what retention removed and within
    /// the previous tree; nothing of another segment, nothing past it.
    #[test]
    fn a_backup_names_again_only_chunks_inside_the_unchanged_log() {
        let chunks = vec![
            chunk("audit_events", None, 1, 10),
            chunk("audit_events", None, 11, 20),
            chunk("audit_events", None, 21, 30),
            chunk("audit_events", None, 31, 36),
            chunk("audit_nodes", Some(0), 0, 19),
            chunk("audit_nodes", Some(0), 20, 35),
            chunk("audit_nodes", Some(1), 0, 17),
            chunk("audit_nodes", Some(5), 0, 0),
        ];
        let reuse = |pruned_through, size| LogReuse {
            chunks: chunks.clone(),
            pruned_through,
            size,
        };
        // All of it while the log only grew.
        assert_eq!(
            firsts(&reuse(0, 36).chunks("audit_events", None)),
            [1, 11, 21, 31]
        );
        // Events up to 15 pruned since: the chunk that held 11..=20 is
        // read again (its rows from 16 on), the rest reused.
        assert_eq!(
            firsts(&reuse(15, 36).chunks("audit_events", None)),
            [21, 31]
        );
        assert_eq!(
            firsts(&reuse(10, 36).chunks("audit_events", None)),
            [11, 21, 31]
        );
        // The previous backup's last chunk held events beyond its tree.
        assert_eq!(
            firsts(&reuse(0, 33).chunks("audit_events", None)),
            [1, 11, 21]
        );
        // Level 0 has 36 complete nodes, level 1 has 18, level 5 has 1.
        assert_eq!(
            firsts(&reuse(0, 36).chunks("audit_nodes", Some(0))),
            [0, 20]
        );
        assert_eq!(firsts(&reuse(0, 36).chunks("audit_nodes", Some(1))), [0]);
        assert_eq!(firsts(&reuse(0, 36).chunks("audit_nodes", Some(5))), [0]);
        assert!(reuse(0, 31).chunks("audit_nodes", Some(5)).is_empty());
        assert!(reuse(0, 34).chunks("audit_nodes", Some(1)).is_empty());
        assert!(reuse(0, 36).chunks("audit_nodes", Some(2)).is_empty());
        // A gap in the keys ends the run.
        let gap = LogReuse {
            chunks: vec![
                chunk("audit_events", None, 1, 10),
                chunk("audit_events", None, 12, 20),
            ],
            pruned_through: 0,
            size: 20,
        };
        assert_eq!(firsts(&gap.chunks("audit_events", None)), [1]);
    }

    /// The locator names the chunks whose rows concern an object, through
    /// every column that names one, and fits only its own chunks.
    #[test]
    fn the_locator_finds_the_chunks_of_an_object() {
        let mut tags = vec![Vec::new(); 4];
        object_tags(
            "documents",
            r#"{"id":"d1","folder_id":"f1","title":"x"}"#,
            &mut tags[0],
        );
        object_tags(
            "document_versions",
            r#"{"document_id":"d2","version":1}"#,
            &mut tags[1],
        );
        object_tags(
            "folder_paths",
            r#"{"folder_id":"f2","ancestor_id":"f1"}"#,
            &mut tags[2],
        );
        object_tags("memberships", r#"{"user_id":"d1"}"#, &mut tags[3]);
        object_tags("documents", "not json", &mut tags[3]);
        for t in &mut tags {
            t.sort_unstable();
            t.dedup();
        }
        let plain = Locator::encode(&tags);
        let l = Locator::decode(&plain, 4).unwrap();
        assert_eq!(l.chunks_for(["d1"]), BTreeSet::from([0]));
        assert_eq!(l.chunks_for(["f1"]), BTreeSet::from([0, 2]));
        assert_eq!(l.chunks_for(["d2", "f2"]), BTreeSet::from([1, 2]));
        assert!(l.chunks_for(["nothing"]).is_empty());
        assert!(Locator::decode(&plain, 3).is_none(), "one chunk too few");
        assert!(Locator::decode(&plain, 5).is_none(), "one chunk too many");
        assert!(Locator::decode(&plain[..plain.len() - 1], 4).is_none());
    }

    /// A copy's rows: every mapped id is replaced wherever it stands, also
    /// inside JSON held as text; other ids and look-alikes stay.
    #[test]
    fn a_copy_gets_new_ids_everywhere_its_rows_name_them() {
        let old = "0b6f1e5a-9c1d-4c3e-8a7b-2d4f6e8a0c1e";
        let new = "7f3e2d1c-0b9a-4876-9543-210fedcba987";
        let other = "11111111-2222-4333-8444-555555555555";
        let ids = HashMap::from([(old.to_string(), new.to_string())]);
        let mut row = serde_json::json!({
            "id": old,
            "folder_id": other,
            "fields": format!(r#"{{"photo":["{old}"],"note":"see {old}."}}"#),
            "blob_key": format!("c/{other}/{old}"),
            "version": 3,
            "upper": old.to_uppercase(),
            "cut": &old[1..],
        });
        remap_value(&mut row, &ids);
        assert_eq!(row["id"], new);
        assert_eq!(row["folder_id"], other);
        assert_eq!(
            row["fields"],
            format!(r#"{{"photo":["{new}"],"note":"see {new}."}}"#)
        );
        assert_eq!(row["blob_key"], format!("c/{other}/{new}"));
        assert_eq!(row["version"], 3);
        assert_eq!(row["upper"], old.to_uppercase(), "not the canonical form");
        assert_eq!(row["cut"], &old[1..]);
        assert_eq!(remap_ids("ä€ no ids here, and more text", &ids), None);
        assert_eq!(
            remap_ids(&format!("ä{old}€"), &ids),
            Some(format!("ä{new}€"))
        );
    }

    #[test]
    fn a_copy_is_named_as_restored_and_fits() {
        let id = "20261203T174900Z-a1b2c3";
        assert_eq!(
            restored_name("Projekti", id),
            format!("Projekti (restored from backup {id})")
        );
        let long = "ö".repeat(300);
        let named = restored_name(&long, id);
        assert_eq!(
            named.chars().count(),
            turva_model::validate::NAME_MAX,
            "{named}"
        );
        assert!(named.ends_with(&format!("(restored from backup {id})")));
    }

    #[test]
    fn a_blob_column_reads_and_writes_in_each_backends_form() {
        let bytes = [0u8, 0xab, 0x10];
        assert_eq!(column_text(Backend::Sqlite, &bytes), "00AB10");
        assert_eq!(column_text(Backend::Postgres, &bytes), "\\x00ab10");
        assert_eq!(column_bytes("00AB10").as_deref(), Some(&bytes[..]));
        assert_eq!(column_bytes("\\x00ab10").as_deref(), Some(&bytes[..]));
        assert_eq!(column_bytes("zz"), None);
    }

    #[test]
    fn a_chunk_must_hold_the_rows_its_span_names() {
        let c = chunk("audit_events", None, 1, 2);
        assert!(span_holds(&c, b"#audit_events\n{\"seq\":1}\n{\"seq\":2}\n"));
        assert!(!span_holds(&c, b"#audit_events\n{\"seq\":1}\n"));
        let mut plain = c.clone();
        plain.span = None;
        assert!(span_holds(&plain, b"anything"));
    }

    fn empty_manifest(id: &str) -> (Manifest, Summary) {
        let manifest = Manifest {
            format: FORMAT,
            id: id.into(),
            created_at: 1,
            turva_version: "test".into(),
            backend: "sqlite".into(),
            schema_version: 1,
            audit_size: 0,
            audit_root: String::new(),
            keyring_copy: id.into(),
            lineage: None,
            generation: None,
            bucket_shift: None,
            owners: vec![OwnerPart {
                owner: "platform".into(),
                chunks: vec![chunk("audit_events", None, 1, 2)],
                rows: BTreeMap::from([("audit_events".to_string(), 2)]),
                key_id: Some("k".into()),
                locator: None,
            }],
            files: Vec::new(),
        };
        let summary = Summary {
            id: id.into(),
            created_at: 1,
            companies: 0,
            users: 0,
            rows: 2,
            files: 0,
            bytes: 1,
            new_bytes: 1,
            audit_size: 0,
        };
        (manifest, summary)
    }

    #[tokio::test]
    async fn a_manifest_is_signed_over_its_digest_and_the_first_format_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::load_or_create(&dir.path().join("signing.key"), true).unwrap();
        let target = Target::local(&dir.path().join("backups")).unwrap();
        let id = "20261205T010000Z-aaaaaa";
        let (manifest, summary) = empty_manifest(id);
        write_manifest(&signer, &target, &manifest, &summary)
            .await
            .unwrap();
        let path = dir.path().join("backups").join("manifests").join(id);
        let text = std::fs::read_to_string(&path).unwrap();
        let (sig_line, body) = text.split_once('\n').unwrap();
        let sig: serde_json::Value = serde_json::from_str(sig_line).unwrap();
        assert_eq!(sig["signed"], "sha256");
        let read = read_manifest(&signer, &target, id).await.unwrap();
        assert_eq!(read.format, 2);
        assert_eq!(read.owners[0].chunks, manifest.owners[0].chunks);

        // A body changed under the signature is refused.
        std::fs::write(&path, text.replacen("\"rows\":2", "\"rows\":3", 1)).unwrap();
        assert!(matches!(
            read_manifest(&signer, &target, id).await,
            Err(BackupError::Damaged(_))
        ));

        // The first format signed the body itself: it still reads.
        let first = body.replacen("\"format\":2", "\"format\":1", 1);
        let old_sig = B64.encode(signer.sign_bytes(first.as_bytes()));
        let old_line = serde_json::json!({"signer": signer.name(), "signature": old_sig});
        std::fs::write(&path, format!("{old_line}\n{first}")).unwrap();
        assert_eq!(read_manifest(&signer, &target, id).await.unwrap().format, 1);

        // That signature under a line claiming the digest form, or a form
        // this Turva does not know, is refused.
        for signed in ["sha256", "sha3"] {
            let line = serde_json::json!({"signer": signer.name(), "signed": signed, "signature": old_sig});
            std::fs::write(&path, format!("{line}\n{first}")).unwrap();
            assert!(matches!(
                read_manifest(&signer, &target, id).await,
                Err(BackupError::Damaged(_))
            ));
        }
    }

    #[test]
    fn a_chunks_tags_name_the_objects_of_each_tables_rows() {
        let plain = concat!(
            "#documents\n",
            "{\"id\":\"d1\",\"folder_id\":\"f1\",\"title\":\"#not a table\"}\n",
            "#memberships\n",
            "{\"id\":\"m1\",\"user_id\":\"u1\"}\n",
            "#document_versions\n",
            "{\"id\":\"v1\",\"document_id\":\"d2\"}\n",
            "{\"id\":\"v2\",\"document_id\":\"d1\"}\n",
        );
        let mut want: Vec<u32> = ["d1", "f1", "d2"].into_iter().map(object_tag).collect();
        want.sort_unstable();
        want.dedup();
        assert_eq!(chunk_tags(plain.as_bytes()), want);
        assert!(chunk_tags(b"#memberships\n{\"id\":\"m1\"}\n").is_empty());
    }

    /// A JSON value for the locator's property: objects whose keys include
    /// the id columns, strings that look like JSON, nesting.
    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let key = prop::sample::select(vec![
            "id",
            "folder_id",
            "ancestor_id",
            "document_id",
            "object_id",
            "title",
            "fields",
        ]);
        let text = prop::sample::select(vec![
            "",
            "d1",
            "\"id\":\"x\"",
            "a\\",
            "\\\"",
            "{\"id\":\"n\"}",
            "ä✓\n\t",
            "}",
        ]);
        let leaf = prop_oneof![
            text.prop_map(|t| serde_json::Value::String(t.to_string())),
            Just(serde_json::Value::Null),
            any::<i32>().prop_map(serde_json::Value::from),
            any::<bool>().prop_map(serde_json::Value::Bool),
        ];
        leaf.prop_recursive(3, 24, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::vec((key.clone(), inner), 0..6).prop_map(|pairs| {
                    serde_json::Value::Object(
                        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
                    )
                }),
            ]
        })
    }

    proptest! {
        /// The locator's quick reading of a row gives exactly the tags a full
        /// parse gives, whatever the row holds (keys unique, as the
        /// database's JSON functions make them).
        #[test]
        fn a_rows_tags_read_quickly_are_those_of_a_full_parse(
            value in json_value(),
            pretty in any::<bool>(),
        ) {
            let line = if pretty {
                serde_json::to_string_pretty(&value).unwrap_or_default()
            } else {
                serde_json::to_string(&value).unwrap_or_default()
            };
            for table in ["folders", "folder_paths", "documents", "document_versions", "shares", "memberships"] {
                let (mut quick, mut parsed) = (Vec::new(), Vec::new());
                object_tags(table, &line, &mut quick);
                parsed_object_tags(table, &line, &mut parsed);
                prop_assert_eq!(quick, parsed, "{} {}", table, line);
            }
        }
    }

    #[test]
    fn an_incremental_backup_takes_document_counts_from_the_parts_it_builds_on() {
        let part = |owner: &str, docs: Option<u64>| OwnerPart {
            owner: owner.into(),
            chunks: Vec::new(),
            rows: docs
                .map(|n| BTreeMap::from([("documents".to_string(), n), ("folders".into(), 7)]))
                .unwrap_or_default(),
            key_id: None,
            locator: None,
        };
        let (counts, total) = recorded_document_counts(&[
            part("company:a", Some(750)),
            part("company:b", Some(250)),
            part("company:c", None),
            part("user:a", Some(99)),
            part("platform", None),
        ]);
        assert_eq!(total, 1000);
        assert_eq!(counts.len(), 3);
        assert_eq!(counts.get("a"), Some(&750));
        assert_eq!(counts.get("b"), Some(&250));
        assert_eq!(counts.get("c"), Some(&0));
    }
}
