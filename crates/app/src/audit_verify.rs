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

use crate::checkpoint::{self, verify_note, verify_restore_note};
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
    // The external file, in order. A signed restore record says the log
    // was rolled back on purpose to its size: a checkpoint written before
    // it covering more is of the abandoned history and is not held
    // against the log (a rollback without such a record still fails).
    let mut external_count = 0;
    let path = checkpoint::external_file(app.data_dir());
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut lines: Vec<(u64, Hash, bool)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let value: serde_json::Value = serde_json::from_str(line).map_err(|_| {
            Err(AppError::Internal(format!(
                "{} line {} is not a checkpoint",
                path.display(),
                n + 1
            )))
        })?;
        let note = value["note"].as_str().unwrap_or_default();
        let parsed = if value.get("restore").is_some() {
            verify_restore_note(note, &name, &public).map(|(size, root, _)| (size, root, true))
        } else {
            verify_note(note, &name, &public).map(|(size, root)| (size, root, false))
        };
        let Some(entry) = parsed else {
            return bad(
                i64::try_from(value["size"].as_u64().unwrap_or(0)).unwrap_or(0),
                format!("checkpoint {} of {} does not verify", n + 1, path.display()),
            );
        };
        lines.push(entry);
    }
    let mut floor = u64::MAX; // the smallest restore at or after a line
    let mut kept = Vec::with_capacity(lines.len());
    for (size, root, restore) in lines.into_iter().rev() {
        if restore {
            floor = floor.min(size);
            if size == 0 {
                continue; // rolled back to an empty log: nothing to match
            }
        } else if size > floor {
            continue;
        }
        kept.push(Signed {
            source: if restore {
                "restore record"
            } else {
                "external checkpoint"
            },
            size,
            root,
        });
    }
    for s in kept.into_iter().rev() {
        external_count += 1;
        signed.entry(s.size).or_default().push(s);
    }

    // Events up to `pruned` were deleted by retention: their subtrees'
    // hashes stay, the checkpoints over them must agree with those hashes,
    // and the tree goes on from them (so a changed hash would show at the
    // next checkpoint above). The prune must be on record in the log.
    let pruned = store::pruned_through(&mut tx)
        .await
        .map_err(|e| Err(e.into()))?;
    let pruned_size = u64::try_from(pruned).unwrap_or(0);
    let mut frontier = if pruned > 0 {
        let edge = store::nodes(&mut tx, &merkle::perfect_pieces(0, pruned_size))
            .await
            .map_err(|e| Err(e.into()))?;
        match Frontier::from_nodes(pruned_size, &edge) {
            Some(f) => f,
            None => {
                return bad(
                    pruned,
                    "the tree's hashes of the pruned events are missing".into(),
                )
            }
        }
    } else {
        Frontier::default()
    };
    let mut pending = signed.iter().peekable();
    while let Some((&size, list)) = pending.peek() {
        if size > pruned_size {
            break;
        }
        let root = store::root_at(&mut tx, size).await.ok();
        if list.iter().any(|s| Some(s.root) != root) {
            return bad(
                i64::try_from(size).unwrap_or(0),
                format!("the tree's stored hashes of pruned events do not give the root of the checkpoint of size {size}"),
            );
        }
        pending.next();
    }
    if pruned > 0
        && !prune_on_record(&mut tx, pruned)
            .await
            .map_err(|e| Err(e.into()))?
    {
        return bad(
            pruned + 1,
            format!("events up to {pruned} are gone, but no retention prune of the log says so"),
        );
    }
    // Stream the events, recomputing leaves and the tree.
    let mut checked_through: i64 = pruned; // the last seq covered by a matching checkpoint
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
    if events == pruned_size && pruned > 0 {
        return bad(
            pruned + 1,
            "missing: the log is empty after the pruned events".into(),
        );
    }
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
        events: events - pruned_size,
        checkpoints: db_count,
        external_checkpoints: external_count,
    })
}

/// Whether the newest `audit.prune` event in the log says it pruned
/// through `pruned`.
async fn prune_on_record(
    tx: &mut turva_store::Tx,
    pruned: i64,
) -> Result<bool, turva_store::StoreError> {
    let filter = store::EventFilter {
        action: Some(
            turva_model::audit::AuditAction::AuditPrune
                .as_str()
                .to_string(),
        ),
        ..Default::default()
    };
    let newest = store::find_events(
        tx,
        store::Scope::All,
        &filter,
        store::Page::Before(i64::MAX),
        1,
    )
    .await?;
    Ok(newest
        .first()
        .and_then(|e| e.reason.as_deref())
        .and_then(crate::audit_retention::through_of)
        == Some(pruned))
}
