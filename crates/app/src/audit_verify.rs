//! `turva audit verify`: recomputes the audit log's Merkle tree from the
//! events themselves and checks it against the stored tree and against
//! every signed checkpoint, in the database and in the external file.
//!
//! What it catches, and how:
//! - an edited event or a reordered pair: its leaf (which covers every
//!   column and its own `seq`) differs from the stored leaf, or, when the
//!   stored tree was recomputed too, the root differs from the next signed
//!   checkpoint;
//! - a deleted event: a gap in `seq`;
//! - a truncated tail, or a database rolled back to an older copy: a
//!   checkpoint (the external file's above all) covers more events than the
//!   database holds;
//! - a chain recomputed without the signing key: its checkpoints do not
//!   verify, or the genuine ones do not match it.

use std::collections::{BTreeMap, HashMap};

use turva_model::merkle::{self, Frontier, Hash};
use turva_store::audit as store;

use crate::checkpoint::{self, verify_note};
use crate::{App, AppError};

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub events: u64,
    pub checkpoints: usize,
    pub external_checkpoints: usize,
}

/// The first thing found wrong: the first bad sequence number and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {seq}: {why}")]
pub struct Tampered {
    pub seq: i64,
    pub why: String,
}

/// A checkpoint to check: where it came from, its size and root.
#[derive(Debug, Clone)]
struct Signed {
    source: &'static str,
    size: u64,
    root: Hash,
}

/// Verifies the whole log. `Err(Ok(t))` is tampering, `Err(Err(e))` a
/// failure to read.
pub async fn verify(app: &App) -> Result<Verified, Result<Tampered, AppError>> {
    crate::audit_writer::flush(app).await.map_err(Err)?;
    let name = app.signer().name().to_string();
    let public = app.signer().public_key().to_vec();
    let bad = |seq: i64, why: String| Err(Ok(Tampered { seq, why }));

    // Every checkpoint must verify with the public key and match its row.
    let mut tx = app.db().read().await.map_err(|e| Err(e.into()))?;
    let mut signed: BTreeMap<u64, Vec<Signed>> = BTreeMap::new();
    let mut db_count = 0;
    let mut after = 0;
    loop {
        let rows = store::checkpoints_after(&mut tx, after, 1000)
            .await
            .map_err(|e| Err(e.into()))?;
        let Some(last) = rows.last() else { break };
        after = last.size;
        for row in rows {
            let size = u64::try_from(row.size).unwrap_or(0);
            let Some((s, root)) = verify_note(&row.note, &name, &public) else {
                return bad(
                    row.size,
                    "a stored checkpoint's signature does not verify".into(),
                );
            };
            if s != size || root[..] != row.root[..] {
                return bad(
                    row.size,
                    "a stored checkpoint differs from its signed note".into(),
                );
            }
            db_count += 1;
            signed.entry(size).or_default().push(Signed {
                source: "stored checkpoint",
                size,
                root,
            });
        }
    }
    let mut external_count = 0;
    let path = checkpoint::external_file(app.data_dir());
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    for (n, line) in text.lines().enumerate() {
        let value: serde_json::Value = serde_json::from_str(line).map_err(|_| {
            Err(AppError::Internal(format!(
                "{} line {} is not a checkpoint",
                path.display(),
                n + 1
            )))
        })?;
        let note = value["note"].as_str().unwrap_or_default();
        let Some((size, root)) = verify_note(note, &name, &public) else {
            return bad(
                i64::try_from(value["size"].as_u64().unwrap_or(0)).unwrap_or(0),
                format!("checkpoint {} of {} does not verify", n + 1, path.display()),
            );
        };
        external_count += 1;
        signed.entry(size).or_default().push(Signed {
            source: "external checkpoint",
            size,
            root,
        });
    }

    // Stream the events, recomputing leaves and the tree.
    let mut frontier = Frontier::default();
    let mut checked_through: i64 = 0; // the last seq covered by a matching checkpoint
    let mut pending = signed.iter().peekable();
    loop {
        let rows = store::events_after(&mut tx, i64::try_from(frontier.size()).unwrap_or(0), 5000)
            .await
            .map_err(|e| Err(e.into()))?;
        if rows.is_empty() {
            break;
        }
        let first = u64::try_from(rows[0].seq - 1).unwrap_or(0);
        let ids: Vec<merkle::NodeId> = (first..first + rows.len() as u64).map(|i| (0, i)).collect();
        let stored: HashMap<merkle::NodeId, Hash> = store::nodes(&mut tx, &ids)
            .await
            .map_err(|e| Err(e.into()))?;
        for row in rows {
            let expect = i64::try_from(frontier.size()).unwrap_or(0) + 1;
            if row.seq != expect {
                return bad(expect, format!("missing (the next event is {})", row.seq));
            }
            let leaf = store::leaf_of(&row);
            let index = frontier.size();
            if stored.get(&(0, index)) != Some(&leaf) {
                return bad(
                    row.seq,
                    "the event does not match its leaf in the tree".into(),
                );
            }
            frontier.push(leaf);
            while let Some((&size, list)) = pending.peek() {
                if size > frontier.size() {
                    break;
                }
                let root = frontier.root();
                if let Some(s) = list.iter().find(|s| s.root != root) {
                    return bad(
                        checked_through + 1,
                        format!(
                            "the events up to {} do not give the root of the {} of size {}",
                            s.size, s.source, s.size
                        ),
                    );
                }
                checked_through = i64::try_from(size).unwrap_or(0);
                pending.next();
            }
        }
    }
    let events = frontier.size();
    if let Some((&size, list)) = pending.peek() {
        let source = list.first().map_or("checkpoint", |s| s.source);
        return bad(
            i64::try_from(events).unwrap_or(0) + 1,
            format!(
                "missing: a {source} covers {size} events but the log holds {events} (truncated, or an older copy of the database)"
            ),
        );
    }
    let tree = store::tree_size(&mut tx).await.map_err(|e| Err(e.into()))?;
    if u64::try_from(tree).unwrap_or(0) != events {
        return bad(
            i64::try_from(events.min(u64::try_from(tree).unwrap_or(0))).unwrap_or(0) + 1,
            format!("the tree holds {tree} events but the log {events}"),
        );
    }
    let stored_root = store::root_at(&mut tx, events)
        .await
        .map_err(|e| Err(e.into()))?;
    if stored_root != frontier.root() {
        return bad(
            checked_through + 1,
            "the stored tree's root differs from the events' root".into(),
        );
    }
    Ok(Verified {
        events,
        checkpoints: db_count,
        external_checkpoints: external_count,
    })
}
