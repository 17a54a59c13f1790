//! The `audit_events` table. Rows are only ever appended: there is no
//! UPDATE or DELETE statement on it in Turva (retention, a later issue,
//! will be the one exception). `seq` comes from `audit_head` in the same
//! transaction, so it is gap-free and two processes never take the same one.

use crate::db::Tx;
use crate::error::Result;
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
    Ok(())
}

pub async fn insert_event(tx: &mut Tx, e: &AuditRow) -> Result<()> {
    exec_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO audit_events (seq, time, company_id, actor_id, credential, object_type, object_id, object_version,
            action, outcome, reason, request_id, personal_key_id, personal, ip_index)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    )
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
    .bind(&e.ip_index)
    .execute(c)
    .await
    })?;
    Ok(())
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
