//! The `audit_events` table. Rows are only ever appended: there is no
//! UPDATE or DELETE statement on it in Turva (retention, a later issue,
//! will be the one exception). `seq` comes from `audit_head` in the same
//! transaction, so it is gap-free and two processes never take the same one.

use std::collections::HashMap;

use turva_model::audit::LeafFields;
use turva_model::merkle::{self, Hash, NodeId};

use crate::db::Tx;
use crate::error::{Result, StoreError};
use crate::{exec_tx, on_tx, Millis};

/// One audit event as stored.
#[derive(Debug, Clone, Default)]
pub struct AuditRow {
    pub seq: i64,
    pub time: Millis,
    pub company_id: Option<String>,
    pub actor_id: Option<String>,
    pub credential: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub object_version: Option<i64>,
    pub action: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub personal_key_id: Option<String>,
    pub personal: Option<Vec<u8>>,
    pub ip_index: Option<String>,
}

/// Takes the next sequence number (locking the head row until commit).
pub async fn next_seq(tx: &mut Tx) -> Result<i64> {
    let (seq,): (i64,) = on_tx!(tx, |c| sqlx::query_as(
        "UPDATE audit_head SET next_seq = next_seq + 1 WHERE id = 1 RETURNING next_seq - 1"
    )
    .fetch_one(c)
    .await)?;
    Ok(seq)
}

/// Takes `n` consecutive sequence numbers; returns the first.
pub async fn take_seqs(tx: &mut Tx, n: i64) -> Result<i64> {
    let (seq,): (i64,) = on_tx!(tx, |c| sqlx::query_as(
        "UPDATE audit_head SET next_seq = next_seq + $1 WHERE id = 1 RETURNING next_seq - $1"
    )
    .bind(n)
    .fetch_one(c)
    .await)?;
    Ok(seq)
}

/// Inserts events in multi-row statements.
pub async fn insert_events(tx: &mut Tx, rows: &[AuditRow]) -> Result<()> {
    const COLS: usize = 15;
    for chunk in rows.chunks(64) {
        let mut sql = String::from(
            "INSERT INTO audit_events (seq, time, company_id, actor_id, credential, object_type, object_id, object_version,
            action, outcome, reason, request_id, personal_key_id, personal, ip_index) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            let params: Vec<String> = (1..=COLS).map(|c| format!("${}", i * COLS + c)).collect();
            sql.push('(');
            sql.push_str(&params.join(", "));
            sql.push(')');
        }
        exec_tx!(tx, |c| {
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q
                    .bind(e.seq)
                    .bind(e.time)
                    .bind(&e.company_id)
                    .bind(&e.actor_id)
                    .bind(&e.credential)
                    .bind(&e.object_type)
                    .bind(&e.object_id)
                    .bind(e.object_version)
                    .bind(&e.action)
                    .bind(&e.outcome)
                    .bind(&e.reason)
                    .bind(&e.request_id)
                    .bind(&e.personal_key_id)
                    .bind(&e.personal)
                    .bind(&e.ip_index);
            }
            q.execute(c).await
        })?;
    }
    if let Some(first) = rows.first() {
        let leaves: Vec<Hash> = rows.iter().map(leaf_of).collect();
        append_leaves(tx, first.seq, &leaves).await?;
    }
    Ok(())
}

/// Inserts one event (a change's, in the change's transaction).
pub async fn insert_event(tx: &mut Tx, e: &AuditRow) -> Result<()> {
    insert_events(tx, std::slice::from_ref(e)).await
}

/// The Merkle leaf hash of a stored event.
pub fn leaf_of(e: &AuditRow) -> Hash {
    LeafFields {
        seq: e.seq,
        time: e.time,
        company_id: e.company_id.as_deref(),
        actor_id: e.actor_id.as_deref(),
        credential: e.credential.as_deref(),
        object_type: e.object_type.as_deref(),
        object_id: e.object_id.as_deref(),
        object_version: e.object_version,
        action: &e.action,
        outcome: &e.outcome,
        reason: e.reason.as_deref(),
        request_id: e.request_id.as_deref(),
        personal_key_id: e.personal_key_id.as_deref(),
        personal: e.personal.as_deref(),
    }
    .leaf_hash()
}

/// How many leaves the Merkle tree holds.
pub async fn tree_size(tx: &mut Tx) -> Result<i64> {
    let (n,): (i64,) = on_tx!(tx, |c| sqlx::query_as(
        "SELECT tree_size FROM audit_head WHERE id = 1"
    )
    .fetch_one(c)
    .await)?;
    Ok(n)
}

/// The stored tree nodes `ids` (those missing are left out).
pub async fn nodes(tx: &mut Tx, ids: &[NodeId]) -> Result<HashMap<NodeId, Hash>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(200) {
        let cond = (0..chunk.len())
            .map(|i| format!("(level = ${} AND idx = ${})", 2 * i + 1, 2 * i + 2))
            .collect::<Vec<_>>()
            .join(" OR ");
        let sql = format!("SELECT level, idx, hash FROM audit_nodes WHERE {cond}");
        let rows: Vec<(i32, i64, Vec<u8>)> = on_tx!(tx, |c| {
            let mut q = sqlx::query_as(&sql);
            for (level, idx) in chunk {
                q = q
                    .bind(i32::try_from(*level).unwrap_or(i32::MAX))
                    .bind(i64::try_from(*idx).unwrap_or(i64::MAX));
            }
            q.fetch_all(c).await
        })?;
        for (level, idx, hash) in rows {
            let hash: Hash = hash.try_into().map_err(|_| {
                StoreError::Corrupt(format!("audit tree node ({level}, {idx}) is not 32 bytes"))
            })?;
            out.insert(
                (
                    u32::try_from(level).unwrap_or(u32::MAX),
                    u64::try_from(idx).unwrap_or(u64::MAX),
                ),
                hash,
            );
        }
    }
    Ok(out)
}

/// Appends the leaves of the events `first_seq ..` to the Merkle tree, with
/// every perfect subtree they complete, in `tx`. The tree must hold exactly
/// the events before `first_seq`.
pub async fn append_leaves(tx: &mut Tx, first_seq: i64, leaves: &[Hash]) -> Result<()> {
    if leaves.is_empty() {
        return Ok(());
    }
    let size = tree_size(tx).await?;
    if size != first_seq - 1 {
        return Err(StoreError::Corrupt(format!(
            "the audit tree holds {size} events, but event {first_seq} is appended next"
        )));
    }
    let size = u64::try_from(size).unwrap_or(0);
    let edge = merkle::perfect_pieces(0, size);
    let known = nodes(tx, &edge).await?;
    let mut frontier = merkle::Frontier::from_nodes(size, &known).ok_or_else(|| {
        StoreError::Corrupt("a node on the audit tree's right edge is missing".into())
    })?;
    let mut made = Vec::with_capacity(leaves.len() * 2);
    for leaf in leaves {
        made.extend(frontier.push(*leaf));
    }
    for chunk in made.chunks(300) {
        let values = (0..chunk.len())
            .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("INSERT INTO audit_nodes (level, idx, hash) VALUES {values}");
        exec_tx!(tx, |c| {
            let mut q = sqlx::query(&sql);
            for ((level, idx), hash) in chunk {
                q = q
                    .bind(i32::try_from(*level).unwrap_or(i32::MAX))
                    .bind(i64::try_from(*idx).unwrap_or(i64::MAX))
                    .bind(hash.to_vec());
            }
            q.execute(c).await
        })?;
    }
    let new_size = i64::try_from(frontier.size()).unwrap_or(i64::MAX);
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE audit_head SET tree_size = $1 WHERE id = 1"
    )
    .bind(new_size)
    .execute(c)
    .await)?;
    Ok(())
}

/// The tree's root at `size` leaves, from the stored nodes.
pub async fn root_at(tx: &mut Tx, size: u64) -> Result<Hash> {
    let known = nodes(tx, &merkle::perfect_pieces(0, size)).await?;
    merkle::range_hash(0, size, &known)
        .ok_or_else(|| StoreError::Corrupt(format!("the audit tree lacks a node of size {size}")))
}

/// One stored checkpoint.
#[derive(Debug, Clone)]
pub struct CheckpointRow {
    pub size: i64,
    pub time: Millis,
    pub root: Vec<u8>,
    pub note: String,
}

/// The newest checkpoint.
pub async fn latest_checkpoint(tx: &mut Tx) -> Result<Option<CheckpointRow>> {
    let row: Option<CheckpointTuple> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT size, time, root, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1"
    )
    .fetch_optional(c)
    .await)?;
    Ok(row.map(checkpoint_row))
}

type CheckpointTuple = (i64, i64, Vec<u8>, String);

fn checkpoint_row((size, time, root, note): CheckpointTuple) -> CheckpointRow {
    CheckpointRow {
        size,
        time,
        root,
        note,
    }
}

/// Checkpoints of size above `after`, smallest first, at most `limit`.
pub async fn checkpoints_after(tx: &mut Tx, after: i64, limit: i64) -> Result<Vec<CheckpointRow>> {
    let rows: Vec<CheckpointTuple> = on_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT size, time, root, note FROM audit_checkpoints WHERE size > $1 ORDER BY size LIMIT $2"
    )
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
    })?;
    Ok(rows.into_iter().map(checkpoint_row).collect())
}

/// Stores a checkpoint.
pub async fn insert_checkpoint(tx: &mut Tx, c: &CheckpointRow) -> Result<()> {
    exec_tx!(tx, |conn| sqlx::query(
        "INSERT INTO audit_checkpoints (size, time, root, note) VALUES ($1, $2, $3, $4)"
    )
    .bind(c.size)
    .bind(c.time)
    .bind(&c.root)
    .bind(&c.note)
    .execute(conn)
    .await)?;
    Ok(())
}

/// Adds to the tree the events it does not hold yet (those written before
/// the tree existed), at most `limit`; returns how many.
pub async fn catch_up_tree(tx: &mut Tx, limit: i64) -> Result<usize> {
    let size = tree_size(tx).await?;
    let rows = events_after(tx, size, limit).await?;
    let Some(first) = rows.first() else {
        return Ok(0);
    };
    let leaves: Vec<Hash> = rows.iter().map(leaf_of).collect();
    append_leaves(tx, first.seq, &leaves).await?;
    Ok(rows.len())
}

type Tuple = (
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Vec<u8>>,
    Option<String>,
);

/// Events with `seq > after`, oldest first, at most `limit`.
pub async fn events_after(tx: &mut Tx, after: i64, limit: i64) -> Result<Vec<AuditRow>> {
    let sql = "SELECT seq, time, company_id, actor_id, credential, object_type, object_id, object_version, action, outcome,
            reason, request_id, personal_key_id, personal, ip_index
         FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2";
    let rows: Vec<Tuple> = on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(after)
        .bind(limit)
        .fetch_all(c)
        .await)?;
    Ok(rows
        .into_iter()
        .map(|t| AuditRow {
            seq: t.0,
            time: t.1,
            company_id: t.2,
            actor_id: t.3,
            credential: t.4,
            object_type: t.5,
            object_id: t.6,
            object_version: t.7,
            action: t.8,
            outcome: t.9,
            reason: t.10,
            request_id: t.11,
            personal_key_id: t.12,
            personal: t.13,
            ip_index: t.14,
        })
        .collect())
}
