//! The `throttle_events` table: timestamps per (bucket, key) for sliding
//! windows (sign-in failures, mail sent).

use crate::db::Tx;
use crate::error::Result;
use crate::{exec_tx, on_tx, Millis};

/// How many events a key has since `since`, and the oldest of them.
pub async fn window(
    tx: &mut Tx,
    bucket: &str,
    key: &str,
    since: Millis,
) -> Result<(i64, Option<Millis>)> {
    let row: (i64, Option<i64>) = on_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT COUNT(*), MIN(at) FROM throttle_events WHERE bucket = $1 AND key = $2 AND at > $3"
    )
    .bind(bucket)
    .bind(key)
    .bind(since)
    .fetch_one(c)
    .await
    })?;
    Ok(row)
}

/// Records one event; `id` (random) lets a reservation be taken back.
pub async fn record(tx: &mut Tx, id: &str, bucket: &str, key: &str, at: Millis) -> Result<()> {
    exec_tx!(tx, |c| sqlx::query(
        "INSERT INTO throttle_events (id, bucket, key, at) VALUES ($1, $2, $3, $4)"
    )
    .bind(id)
    .bind(bucket)
    .bind(key)
    .bind(at)
    .execute(c)
    .await)?;
    Ok(())
}

/// Forgets a key's events in a bucket (after a successful sign-in).
pub async fn clear(tx: &mut Tx, bucket: &str, key: &str) -> Result<()> {
    exec_tx!(tx, |c| sqlx::query(
        "DELETE FROM throttle_events WHERE bucket = $1 AND key = $2"
    )
    .bind(bucket)
    .bind(key)
    .execute(c)
    .await)?;
    Ok(())
}

/// Takes back recorded events by id (a reservation that turned out fine).
pub async fn remove(tx: &mut Tx, ids: &[String]) -> Result<()> {
    for id in ids {
        exec_tx!(tx, |c| sqlx::query(
            "DELETE FROM throttle_events WHERE id = $1"
        )
        .bind(id)
        .execute(c)
        .await)?;
    }
    Ok(())
}

/// Deletes events older than `before` (housekeeping).
pub async fn purge(tx: &mut Tx, before: Millis) -> Result<u64> {
    let r = exec_tx!(tx, |c| sqlx::query(
        "DELETE FROM throttle_events WHERE at < $1"
    )
    .bind(before)
    .execute(c)
    .await)?;
    Ok(r)
}

/// Serialises reservations on one (bucket, key) until the transaction ends:
/// without it, concurrent PostgreSQL transactions would each count the
/// window before the others' reservations commit. On SQLite the write
/// transaction already holds the database's single write lock.
pub async fn lock(tx: &mut Tx, bucket: &str, key: &str) -> Result<()> {
    if tx.backend() == crate::Backend::Postgres {
        let name = format!("{bucket}\n{key}");
        on_tx!(tx, |c| sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
        )
        .bind(&name)
        .execute(c)
        .await
        .map(|_| ()))?;
    }
    Ok(())
}
