//! The audit journal (SQLite): append-only, encrypted files where the
//! events of reads are written before the request is answered, and from
//! which they are moved into the log in batches.
//!
//! Why a file and not a table: an event of a read must be durable before
//! the answer, and at thousands of views a second even a one-row commit to
//! a SQLite file per batch of views (a hand-off to the connection's
//! thread, a statement, a page encrypted into the WAL, the WAL
//! checkpointed, the row deleted after the move) was most of what
//! auditing a view cost. Appending a record here is one `write` on the
//! request's own thread. Its durability is that of SQLite's
//! `synchronous = NORMAL` in WAL mode, which the staging file had: the
//! bytes are in the operating system's cache when the answer leaves, so
//! they survive the process crashing, not the machine losing power.
//!
//! Layout: `DIR/audit-journal/<segment>.seg`, each segment written by one
//! process, which holds an exclusive `flock` on it while it may append (so
//! a reader can tell a live segment from one whose writer has gone), and
//! starts a new segment every [`ROTATE_AT`] bytes. A segment is
//! [`MAGIC`], then records: a little-endian `u32` length, then the event
//! sealed with AES-256-GCM (`crypt::Sequence`) under the segment's key,
//! which is derived from the key the caller gives and the segment's name,
//! with the record's offset as its nonce (offsets never repeat in a
//! segment: a segment whose write failed is never appended to again) and
//! bound to the segment's name and the offset (a record copied to another
//! place or segment does not open). A record that does not open is
//! where the segment ends for now: the writer may be in the middle of it,
//! or, in a segment whose writer has gone, a crash cut its write short
//! (so it was never acknowledged).
//!
//! Exactly once: the log's file holds, per segment, the offset up to which
//! its events are moved (`audit_journal_marks`), updated in the move's own
//! transaction. A segment whose writer has gone and which is moved to its
//! end is deleted after that commit; its mark row goes later.

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use std::collections::HashMap;

use crate::crypt;
use crate::db::Tx;
use crate::error::{Result, StoreError};
use crate::keys::DataKey;
use crate::on_tx;

/// The first bytes of every segment.
pub const MAGIC: &[u8; 16] = b"turva-journal-1\n";

/// A segment this long is closed and a new one started.
pub const ROTATE_AT: u64 = 16 << 20;

/// No event is longer (a longer length is a torn or altered record).
const MAX_RECORD: usize = 1 << 20;

/// The directory of the journal of the data directory `data_dir`.
pub fn dir_of(data_dir: &Path) -> PathBuf {
    data_dir.join("audit-journal")
}

fn io(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{what} {}: {e}", path.display()))
}

/// The key of segment `name`, from the journal's root key.
fn segment_key(root: &DataKey, name: &str) -> DataKey {
    crypt::derive(root, &format!("turva/audit-journal/{name}"))
}

/// The associated data of the record at `offset` of segment `name`.
fn aad(name: &str, offset: u64) -> String {
    format!("turva/audit-journal/{name}/{offset}")
}

/// The appending side: this process's segment.
pub struct Journal {
    dir: PathBuf,
    root: DataKey,
    current: Mutex<Option<Segment>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("dir", &self.dir).finish()
    }
}

/// A segment open for appending, locked.
struct Segment {
    name: String,
    file: File,
    len: u64,
    sealer: crypt::Sequence,
}

impl Journal {
    /// The journal in `dir` (created with the first event), its segments'
    /// keys derived from `root`.
    pub fn new(dir: PathBuf, root: DataKey) -> Journal {
        Journal {
            dir,
            root,
            current: Mutex::new(None),
        }
    }

    /// Appends one event; when this returns `Ok`, the event is in the
    /// file (see the module's note on durability).
    pub fn append(&self, event: &[u8]) -> Result<()> {
        let mut current = self
            .current
            .lock()
            .map_err(|_| StoreError::Io("the audit journal's lock was poisoned".into()))?;
        if current.as_ref().is_none_or(|s| s.len >= ROTATE_AT) {
            // The old segment (if any) is closed and unlocked here, so the
            // mover deletes it once its events are moved.
            *current = None;
            *current = Some(self.create()?);
        }
        let Some(seg) = current.as_mut() else {
            return Err(StoreError::Io("no audit journal segment".into()));
        };
        let sealed = seg.sealer.seal(seg.len, &aad(&seg.name, seg.len), event);
        let len = u32::try_from(sealed.len())
            .ok()
            .filter(|n| (*n as usize) <= MAX_RECORD)
            .ok_or_else(|| StoreError::Io("an audit event is too large".into()))?;
        let mut record = Vec::with_capacity(4 + sealed.len());
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(&sealed);
        if let Err(e) = seg.file.write_all(&record) {
            // Part of the record may be written: readers stop there, and
            // nothing more goes into this segment.
            let path = self.dir.join(&seg.name);
            *current = None;
            return Err(io("cannot append to", &path, e));
        }
        seg.len += record.len() as u64;
        Ok(())
    }

    /// Closes this process's segment (at shutdown), so that the next move
    /// takes it to its end and deletes it. A later event starts a new one.
    pub fn close(&self) {
        if let Ok(mut current) = self.current.lock() {
            *current = None;
        }
    }

    /// Creates, locks and names a new segment. It is written under a
    /// temporary name first, so no reader ever sees a segment that is not
    /// yet locked.
    fn create(&self) -> Result<Segment> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| io("cannot create", &self.dir, e))?;
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let mut nonce = [0u8; 8];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let name = format!(
            "{millis:015}-{:08x}-{}.seg",
            std::process::id(),
            hex::encode(nonce)
        );
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let mut file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| io("cannot create", &tmp, e))?;
        file.try_lock()
            .map_err(|e| StoreError::Io(format!("cannot lock {}: {e}", tmp.display())))?;
        file.write_all(MAGIC)
            .map_err(|e| io("cannot write", &tmp, e))?;
        let path = self.dir.join(&name);
        fs::rename(&tmp, &path).map_err(|e| io("cannot name", &path, e))?;
        let sealer = crypt::Sequence::new(&segment_key(&self.root, &name));
        Ok(Segment {
            name,
            file,
            len: MAGIC.len() as u64,
            sealer,
        })
    }
}

/// The names of the segments in `dir`, oldest first (names begin with
/// their creation time).
pub fn segments(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("cannot list", dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io("cannot list", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".seg") && !name.starts_with('.') {
            names.push(name);
        } else if name.starts_with('.') && name.ends_with(".tmp") {
            // A segment whose creation a crash cut short (it never held
            // an event): deleted once no process holds it.
            let path = entry.path();
            if let Ok(f) = File::open(&path) {
                if f.try_lock().is_ok() {
                    let _ = fs::remove_file(&path);
                }
            }
        }
    }
    names.sort();
    Ok(names)
}

/// How many bytes the segments in `dir` hold (what waits to be moved).
pub fn size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for name in segments(dir)? {
        match fs::metadata(dir.join(&name)) {
            Ok(m) => total += m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("cannot read", &dir.join(name), e)),
        }
    }
    Ok(total)
}

/// What [`read`] found in a segment.
pub struct Batch {
    /// The events from the offset asked for, in order.
    pub events: Vec<Vec<u8>>,
    /// The offset after the last of them (the new mark).
    pub through: u64,
    /// Whether more whole events follow (the limit was reached).
    pub more: bool,
    /// Whether the segment is done: its writer has gone and every event in
    /// it is read. It is then deleted with [`Read::remove`] once its events
    /// are moved.
    pub finished: bool,
    /// Bytes after the last whole event of a finished segment: a write a
    /// crash cut short (never acknowledged), or damage.
    pub lost: u64,
    path: PathBuf,
    /// The segment's lock, held from the check that its writer has gone
    /// until it is deleted.
    _lock: Option<File>,
}

impl Batch {
    /// Deletes a finished segment (after its events are moved).
    pub fn remove(self) -> Result<()> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("cannot delete", &self.path, e)),
        }
    }
}

/// Reads the events of segment `name` in `dir` from offset `from` (0: its
/// start), at most `limit`. Blocking: the caller runs it off the async
/// threads.
pub fn read(dir: &Path, root: &DataKey, name: &str, from: u64, limit: usize) -> Result<Batch> {
    let path = dir.join(name);
    let mut file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Deleted by another process's move meanwhile.
            return Ok(Batch {
                events: Vec::new(),
                through: from,
                more: false,
                finished: false,
                lost: 0,
                path,
                _lock: None,
            });
        }
        Err(e) => return Err(io("cannot open", &path, e)),
    };
    // Whether the writer has gone, asked before reading: a segment found
    // unlocked is never appended to again.
    let gone = file.try_lock().is_ok();
    let mut magic = [0u8; 16];
    file.read_exact(&mut magic)
        .map_err(|e| io("cannot read", &path, e))?;
    if &magic != MAGIC {
        return Err(StoreError::Corrupt(format!(
            "{} is not an audit journal segment",
            path.display()
        )));
    }
    let start = from.max(MAGIC.len() as u64);
    file.seek(SeekFrom::Start(start))
        .map_err(|e| io("cannot read", &path, e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| io("cannot read", &path, e))?;
    let opener = crypt::Sequence::new(&segment_key(root, name));
    let mut events = Vec::new();
    let mut at = 0usize;
    let mut more = false;
    loop {
        if events.len() >= limit {
            more = at < bytes.len();
            break;
        }
        let Some(len) = bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(|b: [u8; 4]| u32::from_le_bytes(b) as usize)
        else {
            break;
        };
        if len > MAX_RECORD {
            break;
        }
        let Some(sealed) = bytes.get(at + 4..at + 4 + len) else {
            break;
        };
        let offset = start + at as u64;
        let Ok(event) = opener.open(offset, &aad(name, offset), sealed) else {
            break;
        };
        events.push(event);
        at += 4 + len;
    }
    let finished = gone && !more;
    Ok(Batch {
        events,
        through: start + at as u64,
        more,
        finished,
        lost: if finished {
            (bytes.len() - at) as u64
        } else {
            0
        },
        path,
        _lock: gone.then_some(file),
    })
}

/// The moved-through offset of every segment with a mark, read in the
/// move's transaction.
pub async fn marks(tx: &mut Tx) -> Result<HashMap<String, u64>> {
    let rows: Vec<(String, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT segment, through FROM audit_journal_marks"
    )
    .fetch_all(c)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(s, t)| (s, u64::try_from(t).unwrap_or(0)))
        .collect())
}

/// Records that segment `segment` is moved up to `through`.
pub async fn set_mark(tx: &mut Tx, segment: &str, through: u64) -> Result<()> {
    crate::exec_tx!(tx, |c| sqlx::query(
        "INSERT INTO audit_journal_marks (segment, through) VALUES ($1, $2)
         ON CONFLICT (segment) DO UPDATE SET through = excluded.through"
    )
    .bind(segment)
    .bind(i64::try_from(through).unwrap_or(i64::MAX))
    .execute(c)
    .await)?;
    Ok(())
}

/// Forgets the mark of a segment that no longer exists.
pub async fn forget_mark(tx: &mut Tx, segment: &str) -> Result<()> {
    crate::exec_tx!(tx, |c| sqlx::query(
        "DELETE FROM audit_journal_marks WHERE segment = $1"
    )
    .bind(segment)
    .execute(c)
    .await)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| format!("{{\"n\":{i}}}").into_bytes())
            .collect()
    }

    #[test]
    fn events_come_back_in_order_and_a_live_segment_is_not_finished() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path().join("j");
        let root = DataKey::random();
        let j = Journal::new(dir.clone(), root.clone());
        for e in events(5) {
            j.append(&e).unwrap_or_else(|e| panic!("{e}"));
        }
        let names = segments(&dir).unwrap_or_default();
        assert_eq!(names.len(), 1);
        let r = read(&dir, &root, &names[0], 0, 3).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.events, events(3));
        assert!(
            r.more && !r.finished,
            "the limit holds and the writer lives"
        );
        let r = read(&dir, &root, &names[0], r.through, 100).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.events, events(5)[3..].to_vec());
        assert!(!r.more && !r.finished, "a live segment is never finished");
        let end = r.through;
        drop(r);

        // Once its writer closes it, a read to its end finishes it.
        j.close();
        let r = read(&dir, &root, &names[0], end, 100).unwrap_or_else(|e| panic!("{e}"));
        assert!(r.events.is_empty() && r.finished && r.lost == 0);
        r.remove().unwrap_or_else(|e| panic!("{e}"));
        assert!(segments(&dir).unwrap_or_default().is_empty());

        // The next event starts a new segment.
        j.append(b"{}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(segments(&dir).unwrap_or_default().len(), 1);
    }

    #[test]
    fn a_torn_or_moved_record_ends_the_segment_and_the_wrong_key_reads_nothing() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path().join("j");
        let root = DataKey::random();
        let j = Journal::new(dir.clone(), root.clone());
        for e in events(3) {
            j.append(&e).unwrap_or_else(|e| panic!("{e}"));
        }
        j.close();
        let name = segments(&dir).unwrap_or_default().remove(0);
        let path = dir.join(&name);
        let bytes = fs::read(&path).unwrap_or_default();
        assert!(
            !bytes.windows(5).any(|w| w == b"\"n\":1"),
            "events are encrypted"
        );
        // A write cut short: half of a fourth record.
        let whole = bytes.len();
        let mut torn = bytes.clone();
        torn.extend_from_slice(&bytes[16..16 + 20]);
        fs::write(&path, &torn).unwrap_or_else(|e| panic!("{e}"));
        let r = read(&dir, &root, &name, 0, 100).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.events, events(3));
        assert!(r.finished);
        assert_eq!((r.through, r.lost), (whole as u64, 20));
        drop(r);

        // A whole record copied to the end does not open there.
        let mut copied = bytes.clone();
        let first_len = u32::from_le_bytes(bytes[16..20].try_into().unwrap_or([0; 4])) as usize;
        copied.extend_from_slice(&bytes[16..20 + first_len]);
        fs::write(&path, &copied).unwrap_or_else(|e| panic!("{e}"));
        let r = read(&dir, &root, &name, 0, 100).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.events, events(3), "the copy is not an event");
        drop(r);

        // Another root key opens nothing.
        let r = read(&dir, &DataKey::random(), &name, 0, 100).unwrap_or_else(|e| panic!("{e}"));
        assert!(r.events.is_empty());
        drop(r);

        // Not a segment at all: an error, not an empty read.
        fs::write(&path, b"something else entirely").unwrap_or_else(|e| panic!("{e}"));
        assert!(read(&dir, &root, &name, 0, 100).is_err());
    }
}
