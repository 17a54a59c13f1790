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
    // Few statements: each is a round trip to the connection's thread.
    for chunk in rows.chunks(512) {
        let mut sql = String::from(
            "INSERT INTO audit_events (seq, time, company_id, actor_id, credential, object_type, object_id, object_version,
            action, outcome, reason, request_id, personal_key_id, personal, ip_index) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            let params: Vec<String> = (1..=COLS).map(|c| tx.param(i * COLS + c)).collect();
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
    leaf_fields(e).leaf_hash()
}

/// The Merkle leaf bytes of a stored event.
pub fn leaf_bytes(e: &AuditRow) -> Vec<u8> {
    leaf_fields(e).encode()
}

fn leaf_fields(e: &AuditRow) -> LeafFields<'_> {
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
            .map(|i| {
                format!(
                    "(level = {} AND idx = {})",
                    tx.param(2 * i + 1),
                    tx.param(2 * i + 2)
                )
            })
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
    for chunk in made.chunks(1000) {
        let values = (0..chunk.len())
            .map(|i| {
                format!(
                    "({}, {}, {})",
                    tx.param(3 * i + 1),
                    tx.param(3 * i + 2),
                    tx.param(3 * i + 3)
                )
            })
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

const COLUMNS: &str = "e.seq, e.time, e.company_id, e.actor_id, e.credential, e.object_type, e.object_id,
    e.object_version, e.action, e.outcome, e.reason, e.request_id, e.personal_key_id, e.personal, e.ip_index";

fn row_of(t: Tuple) -> AuditRow {
    AuditRow {
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
    }
}

/// Events with `seq > after`, oldest first, at most `limit`.
pub async fn events_after(tx: &mut Tx, after: i64, limit: i64) -> Result<Vec<AuditRow>> {
    let sql =
        format!("SELECT {COLUMNS} FROM audit_events e WHERE e.seq > $1 ORDER BY e.seq LIMIT $2");
    let rows: Vec<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(after)
        .bind(limit)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(row_of).collect())
}

/// One event.
pub async fn event(tx: &mut Tx, seq: i64) -> Result<Option<AuditRow>> {
    let sql = format!("SELECT {COLUMNS} FROM audit_events e WHERE e.seq = $1");
    let row: Option<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(seq)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(row_of))
}

/// Links sign-in events (which belong to no company) to every company
/// their user is an active member of now: `(seq, user id)` pairs.
pub async fn link_to_companies(tx: &mut Tx, events: &[(i64, &str)]) -> Result<()> {
    for (seq, user_id) in events {
        exec_tx!(tx, |c| sqlx::query(
            "INSERT INTO audit_links (company_id, seq)
             SELECT company_id, $1 FROM memberships WHERE user_id = $2 AND status = 'active'"
        )
        .bind(*seq)
        .bind(*user_id)
        .execute(c)
        .await)?;
    }
    Ok(())
}

/// The companies a sign-in event is linked to.
pub async fn links_of(tx: &mut Tx, seq: i64) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT company_id FROM audit_links WHERE seq = $1"
    )
    .bind(seq)
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().map(|(c,)| c).collect())
}

/// Whose events to read.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// A company's: those about its data, and the sign-in events linked to it.
    Company(&'a str),
    /// The platform's: events that belong to no company, and those of the
    /// given actions (company creation and deletion) whatever their company.
    Platform(&'a [&'a str]),
    /// Every event.
    All,
}

/// Conditions on events; all given ones must hold.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Events by this user, or whose personal data is theirs (a failed
    /// sign-in to their account): their id and their key's id.
    pub user: Option<(String, Option<String>)>,
    pub object_id: Option<String>,
    pub action: Option<String>,
    /// Actions starting with this (e.g. `auth.`).
    pub action_prefix: Option<String>,
    pub outcome: Option<String>,
    pub ip_index: Option<String>,
    /// Inclusive, milliseconds.
    pub since: Option<Millis>,
    /// Exclusive, milliseconds.
    pub until: Option<Millis>,
}

/// Where a page starts, by `seq`.
#[derive(Debug, Clone, Copy)]
pub enum Page {
    /// Newest first, below this seq.
    Before(i64),
    /// Oldest first, above this seq.
    After(i64),
}

enum Arg {
    Int(i64),
    Text(String),
}

/// A WHERE clause under construction: each condition names its parameter
/// as `?`, numbered as it is added.
#[derive(Default)]
struct Clause {
    conds: Vec<String>,
    args: Vec<Arg>,
}

impl Clause {
    /// Adds `cond`, whose `?`s take `args` in order.
    fn add(&mut self, cond: &str, args: Vec<Arg>) {
        let mut args = args.into_iter();
        let mut out = String::with_capacity(cond.len() + 8);
        for part in cond.split_inclusive('?') {
            match (part.strip_suffix('?'), args.next()) {
                (Some(before), Some(arg)) => {
                    self.args.push(arg);
                    out.push_str(before);
                    out.push_str(&format!("${}", self.args.len()));
                }
                (Some(before), None) => out.push_str(before),
                (None, _) => out.push_str(part),
            }
        }
        self.conds.push(out);
    }

    fn sql(&self) -> String {
        if self.conds.is_empty() {
            "TRUE".into()
        } else {
            self.conds.join(" AND ")
        }
    }
}

fn filter_clause(c: &mut Clause, f: &EventFilter) {
    use Arg::{Int, Text};
    match &f.user {
        Some((user, Some(key))) => c.add(
            "(e.actor_id = ? OR e.personal_key_id = ?)",
            vec![Text(user.clone()), Text(key.clone())],
        ),
        Some((user, None)) => c.add("e.actor_id = ?", vec![Text(user.clone())]),
        None => {}
    }
    if let Some(v) = &f.object_id {
        c.add("e.object_id = ?", vec![Text(v.clone())]);
    }
    if let Some(v) = &f.action {
        c.add("e.action = ?", vec![Text(v.clone())]);
    }
    if let Some(v) = &f.action_prefix {
        // `_` in action names is a LIKE wildcard: compare the prefix itself.
        let len = i64::try_from(v.len()).unwrap_or(0);
        c.add(
            "SUBSTR(e.action, 1, CAST(? AS INTEGER)) = ?",
            vec![Int(len), Text(v.clone())],
        );
    }
    if let Some(v) = &f.outcome {
        c.add("e.outcome = ?", vec![Text(v.clone())]);
    }
    if let Some(v) = &f.ip_index {
        c.add("e.ip_index = ?", vec![Text(v.clone())]);
    }
    if let Some(v) = f.since {
        c.add("e.time >= ?", vec![Int(v)]);
    }
    if let Some(v) = f.until {
        c.add("e.time < ?", vec![Int(v)]);
    }
}

async fn fetch_rows(tx: &mut Tx, sql: &str, args: &[Arg]) -> Result<Vec<AuditRow>> {
    let rows: Vec<Tuple> = on_tx!(tx, |c| {
        let mut q = sqlx::query_as(sql);
        for a in args {
            q = match a {
                Arg::Int(i) => q.bind(*i),
                Arg::Text(t) => q.bind(t.as_str()),
            };
        }
        q.fetch_all(c).await
    })?;
    Ok(rows.into_iter().map(row_of).collect())
}

/// A page of at most `limit` events of `scope` that pass `filter`, from
/// `page` on. A company's events come from two ordered index scans (its
/// own events, and the sign-in events linked to it) merged here.
pub async fn find_events(
    tx: &mut Tx,
    scope: Scope<'_>,
    filter: &EventFilter,
    page: Page,
    limit: i64,
) -> Result<Vec<AuditRow>> {
    let (seq_cond, order) = match page {
        Page::Before(s) => (("e.seq < ?", s), "DESC"),
        Page::After(s) => (("e.seq > ?", s), "ASC"),
    };
    let query = |scope_cond: &str, company: Option<&str>, from: &str| {
        let mut c = Clause::default();
        c.add(
            scope_cond,
            company
                .map(|id| vec![Arg::Text(id.to_string())])
                .unwrap_or_default(),
        );
        c.add(seq_cond.0, vec![Arg::Int(seq_cond.1)]);
        filter_clause(&mut c, filter);
        c.args.push(Arg::Int(limit));
        let sql = format!(
            "SELECT {COLUMNS} FROM {from} WHERE {} ORDER BY e.seq {order} LIMIT ${}",
            c.sql(),
            c.args.len()
        );
        (sql, c.args)
    };
    match scope {
        Scope::All => {
            let (sql, args) = query("TRUE", None, "audit_events e");
            fetch_rows(tx, &sql, &args).await
        }
        Scope::Platform(actions) => {
            let names = actions
                .iter()
                .filter(|n| {
                    n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_')
                })
                .map(|n| format!("'{n}'"))
                .chain(std::iter::once("''".to_string()))
                .collect::<Vec<_>>()
                .join(", ");
            let cond = format!("(e.company_id IS NULL OR e.action IN ({names}))");
            let (sql, args) = query(&cond, None, "audit_events e");
            fetch_rows(tx, &sql, &args).await
        }
        Scope::Company(company) => {
            let (sql, args) = query("e.company_id = ?", Some(company), "audit_events e");
            let own = fetch_rows(tx, &sql, &args).await?;
            let (sql, args) = query(
                "l.company_id = ?",
                Some(company),
                "audit_links l JOIN audit_events e ON e.seq = l.seq",
            );
            let linked = fetch_rows(tx, &sql, &args).await?;
            let mut all: Vec<AuditRow> = own.into_iter().chain(linked).collect();
            match page {
                Page::Before(_) => all.sort_by_key(|a| std::cmp::Reverse(a.seq)),
                Page::After(_) => all.sort_by_key(|a| a.seq),
            }
            all.dedup_by_key(|e| e.seq);
            all.truncate(usize::try_from(limit).unwrap_or(0));
            Ok(all)
        }
    }
}

/// One day of a company's usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayUsage {
    /// Days since the Unix epoch (UTC).
    pub day: i64,
    pub active_users: i64,
    pub views: i64,
    pub edits: i64,
    pub sign_ins: i64,
    pub failed_sign_ins: i64,
}

/// A company's usage per day in `[since, until)` (days with no event are
/// left out): distinct actors of allowed events, and allowed events of the
/// given kinds (action names).
pub async fn daily_usage(
    tx: &mut Tx,
    company: &str,
    since: Millis,
    until: Millis,
    kinds: &UsageKinds<'_>,
) -> Result<Vec<DayUsage>> {
    let list = |names: &[&str]| {
        if names.is_empty() {
            "''".to_string()
        } else {
            names
                .iter()
                .filter(|n| {
                    n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_')
                })
                .map(|n| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let sql = format!(
        "SELECT e.time / 86400000 AS day,
            COUNT(DISTINCT CASE WHEN e.outcome = 'allowed' THEN e.actor_id END),
            SUM(CASE WHEN e.outcome = 'allowed' AND e.action IN ({views}) THEN 1 ELSE 0 END),
            SUM(CASE WHEN e.outcome = 'allowed' AND e.action IN ({edits}) THEN 1 ELSE 0 END),
            SUM(CASE WHEN e.outcome = 'allowed' AND e.action IN ({sign_ins}) THEN 1 ELSE 0 END),
            SUM(CASE WHEN e.action IN ({failed}) THEN 1 ELSE 0 END)
         FROM (
            SELECT e.time, e.actor_id, e.outcome, e.action FROM audit_events e
            WHERE e.company_id = $1 AND e.time >= $2 AND e.time < $3
            UNION ALL
            SELECT e.time, e.actor_id, e.outcome, e.action
            FROM audit_links l JOIN audit_events e ON e.seq = l.seq
            WHERE l.company_id = $1 AND e.time >= $2 AND e.time < $3
         ) e
         GROUP BY e.time / 86400000 ORDER BY day",
        views = list(kinds.views),
        edits = list(kinds.edits),
        sign_ins = list(kinds.sign_ins),
        failed = list(kinds.failed_sign_ins),
    );
    let rows: Vec<(i64, i64, i64, i64, i64, i64)> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(company)
        .bind(since)
        .bind(until)
        .fetch_all(c)
        .await)?;
    Ok(rows
        .into_iter()
        .map(|r| DayUsage {
            day: r.0,
            active_users: r.1,
            views: r.2,
            edits: r.3,
            sign_ins: r.4,
            failed_sign_ins: r.5,
        })
        .collect())
}

/// Which action names count as what in [`daily_usage`].
#[derive(Debug, Clone, Copy)]
pub struct UsageKinds<'a> {
    pub views: &'a [&'a str],
    pub edits: &'a [&'a str],
    pub sign_ins: &'a [&'a str],
    pub failed_sign_ins: &'a [&'a str],
}

/// Events up to this seq were pruned (retention).
pub async fn pruned_through(tx: &mut Tx) -> Result<i64> {
    let (n,): (i64,) = on_tx!(tx, |c| sqlx::query_as(
        "SELECT pruned_through FROM audit_head WHERE id = 1"
    )
    .fetch_one(c)
    .await)?;
    Ok(n)
}

/// Retention: deletes the oldest events, in seq order, that happened
/// before `cutoff`, at most `max` of them, with their links; the tree's
/// nodes stay (proofs and checkpoints keep verifying). This is the one
/// statement that deletes from `audit_events`. Returns how many it deleted.
pub async fn prune(tx: &mut Tx, cutoff: Millis, max: i64) -> Result<i64> {
    let from = pruned_through(tx).await?;
    let size = tree_size(tx).await?;
    let window_end = from.saturating_add(max).min(size);
    if window_end <= from {
        return Ok(0);
    }
    // The first event of the window that is still inside retention (events
    // of reads take their seq up to a few seconds after their time, so
    // seq order and time order differ slightly: only a whole prefix goes).
    let first_kept: Option<(i64,)> = on_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT seq FROM audit_events WHERE seq > $1 AND seq <= $2 AND time >= $3 ORDER BY seq LIMIT 1"
    )
    .bind(from)
    .bind(window_end)
    .bind(cutoff)
    .fetch_optional(c)
    .await
    })?;
    let through = first_kept.map_or(window_end, |(s,)| s - 1);
    if through <= from {
        return Ok(0);
    }
    for table in ["audit_links", "audit_events"] {
        let sql = format!("DELETE FROM {table} WHERE seq > $1 AND seq <= $2");
        exec_tx!(tx, |c| sqlx::query(&sql)
            .bind(from)
            .bind(through)
            .execute(c)
            .await)?;
    }
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE audit_head SET pruned_through = $1 WHERE id = 1"
    )
    .bind(through)
    .execute(c)
    .await)?;
    Ok(through - from)
}

/// The checkpoint of exactly `size` leaves, if one was made.
pub async fn checkpoint_at(tx: &mut Tx, size: i64) -> Result<Option<CheckpointRow>> {
    let row: Option<CheckpointTuple> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT size, time, root, note FROM audit_checkpoints WHERE size = $1"
    )
    .bind(size)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(checkpoint_row))
}

/// Checkpoints made at or after `time`, smallest first, at most `limit`,
/// above size `after`.
pub async fn checkpoints_since_time(
    tx: &mut Tx,
    time: Millis,
    after: i64,
    limit: i64,
) -> Result<Vec<CheckpointRow>> {
    let rows: Vec<CheckpointTuple> = on_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT size, time, root, note FROM audit_checkpoints WHERE time >= $1 AND size > $2 ORDER BY size LIMIT $3"
    )
    .bind(time)
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
    })?;
    Ok(rows.into_iter().map(checkpoint_row).collect())
}
