//! The audit staging database (SQLite only): a small SQLCipher file beside
//! the main one where the events of reads are committed first, then moved
//! into `audit_events` in batches.
//!
//! Why: in WAL mode every commit to a database file makes every other
//! connection to it drop its whole page cache, so committing an event per
//! view (or per batch of views) to the main file made each read re-read and
//! re-decrypt its pages. Commits to this file leave the readers' caches of
//! the main file alone; the move commits to the main file a few times a
//! second.
//!
//! Exactly once: each staged event has an id that only grows
//! (`AUTOINCREMENT`, never reused), and `audit_head.staged_through` in the
//! audit file names the last one moved, updated in the move's own
//! transaction. A crash between the move and the deletion here leaves rows
//! that the next move skips. Only events that carry no change are staged.
//!
//! A change's event is pended instead: committed in the change's own
//! transaction to `audit_pending` in `turva.db` (the audit log is a file of
//! its own, `db.rs`, and a commit spanning two files is not atomic across
//! them), and moved the same way, `audit_head.pending_through` naming the
//! last one moved. Pending ids are taken under the write lock that the move
//! holds too, so a move never skips one that commits later.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use crate::db::{open_error, Db, Tx};
use crate::error::Result;
use crate::on_tx;

/// Opens (creating when missing) the staging database at `path` with the
/// main database's options (the same key, WAL, synchronous level).
pub(crate) async fn open(main: &SqliteConnectOptions, path: &Path) -> Result<SqlitePool> {
    let pool = SqlitePoolOptions::new()
        // One connection: staging and moving queue in-process rather than
        // in SQLite's busy handler.
        .max_connections(1)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire(false)
        .connect_with(main.clone().filename(path).pragma("cache_size", "-2000"))
        .await
        .map_err(open_error)?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS staged_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            event TEXT NOT NULL
        )",
    )
    .execute(&pool)
    .await
    .map_err(open_error)?;
    Ok(pool)
}

fn pool(db: &Db) -> Option<&SqlitePool> {
    match db {
        Db::Sqlite { stage, .. } => Some(stage),
        Db::Postgres(_) => None,
    }
}

/// Whether this database stages events (SQLite) or takes them directly.
pub fn stages(db: &Db) -> bool {
    pool(db).is_some()
}

/// Commits `events` (each an encoded JSON object) in one statement; on
/// PostgreSQL, where nothing is staged, does nothing.
///
/// The batch is bound as one JSON array and split by `json_each`, so the
/// statement is the same whatever the batch's size (one prepared statement,
/// one parameter).
pub async fn stage(db: &Db, events: &[String]) -> Result<()> {
    let Some(pool) = pool(db) else {
        return Ok(());
    };
    let mut array = String::with_capacity(events.iter().map(|e| e.len() + 1).sum::<usize>() + 2);
    array.push('[');
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            array.push(',');
        }
        array.push_str(e);
    }
    array.push(']');
    sqlx::query("INSERT INTO staged_events (event) SELECT value FROM json_each($1) ORDER BY key")
        .bind(array)
        .execute(pool)
        .await?;
    Ok(())
}

/// Staged events with an id above `after`, oldest first, at most `limit`:
/// the id of the last one and the events, or `None` when none waits.
///
/// They come back as one row (joined by newlines, which an encoded event
/// never holds): sqlx hands every row of SQLite's answer from the
/// connection's thread to the caller's separately, and moving events row
/// by row cost more than inserting them.
pub async fn staged_after(db: &Db, after: i64, limit: i64) -> Result<Option<(i64, Vec<String>)>> {
    let Some(pool) = pool(db) else {
        return Ok(None);
    };
    let (last, joined): (Option<i64>, Option<String>) = sqlx::query_as(
        "SELECT max(id), group_concat(event, char(10) ORDER BY id)
         FROM (SELECT id, event FROM staged_events WHERE id > $1 ORDER BY id LIMIT $2)",
    )
    .bind(after)
    .bind(limit)
    .fetch_one(pool)
    .await?;
    Ok(last
        .zip(joined)
        .map(|(last, joined)| (last, joined.split('\n').map(str::to_string).collect())))
}

/// Deletes the staged events up to `through` (already moved), a thousand
/// per statement: the writer's commits wait for the one staging
/// connection, and deleting a whole turn's 32,768 rows at once held them
/// up for tens of milliseconds (4,096 at a time still showed in the views'
/// p99).
pub async fn forget_through(db: &Db, through: i64) -> Result<()> {
    const CHUNK: i64 = 1024;
    if let Some(pool) = pool(db) {
        loop {
            let deleted = sqlx::query(
                "DELETE FROM staged_events WHERE id IN
                 (SELECT id FROM staged_events WHERE id <= $1 ORDER BY id LIMIT $2)",
            )
            .bind(through)
            .bind(CHUNK)
            .execute(pool)
            .await?
            .rows_affected();
            if deleted < u64::try_from(CHUNK).unwrap_or(0) {
                break;
            }
        }
    }
    Ok(())
}

/// Pends one encoded event of a change in `tx`, the change's transaction.
pub async fn pend(tx: &mut Tx, event: &str) -> Result<()> {
    crate::exec_tx!(tx, |c| sqlx::query(
        "INSERT INTO audit_pending (event) VALUES ($1)"
    )
    .bind(event)
    .execute(c)
    .await)?;
    Ok(())
}

/// Pending events with an id above `after`, oldest first, at most `limit`,
/// read in the move's transaction (as [`staged_after`] returns them).
pub async fn pending_after(
    tx: &mut Tx,
    after: i64,
    limit: i64,
) -> Result<Option<(i64, Vec<String>)>> {
    let (last, joined): (Option<i64>, Option<String>) = on_tx!(tx, |c| sqlx::query_as(
        "SELECT max(id), group_concat(event, char(10) ORDER BY id)
         FROM (SELECT id, event FROM audit_pending WHERE id > $1 ORDER BY id LIMIT $2)"
    )
    .bind(after)
    .bind(limit)
    .fetch_one(c)
    .await)?;
    Ok(last
        .zip(joined)
        .map(|(last, joined)| (last, joined.split('\n').map(str::to_string).collect())))
}

/// Deletes the pending events up to `through` (already moved): a commit
/// to `turva.db`, made only when changes were moved.
pub async fn forget_pending_through(db: &Db, through: i64) -> Result<()> {
    if let Db::Sqlite { write, .. } = db {
        sqlx::query("DELETE FROM audit_pending WHERE id <= $1")
            .bind(through)
            .execute(write)
            .await?;
    }
    Ok(())
}

/// The id of the last pending event moved into `audit_events`.
pub async fn pending_through(tx: &mut Tx) -> Result<i64> {
    let (n,): (i64,) = on_tx!(tx, |c| sqlx::query_as(
        "SELECT pending_through FROM audit_head WHERE id = 1"
    )
    .fetch_one(c)
    .await)?;
    Ok(n)
}

/// Records that the pending events up to `through` are moved.
pub async fn set_pending_through(tx: &mut Tx, through: i64) -> Result<()> {
    crate::exec_tx!(tx, |c| sqlx::query(
        "UPDATE audit_head SET pending_through = $1 WHERE id = 1"
    )
    .bind(through)
    .execute(c)
    .await)?;
    Ok(())
}

/// The id of the last staged event moved into `audit_events` (read in the
/// move's transaction, which holds the write lock).
pub async fn staged_through(tx: &mut Tx) -> Result<i64> {
    let (n,): (i64,) = on_tx!(tx, |c| sqlx::query_as(
        "SELECT staged_through FROM audit_head WHERE id = 1"
    )
    .fetch_one(c)
    .await)?;
    Ok(n)
}

/// Records that the staged events up to `through` are moved.
pub async fn set_staged_through(tx: &mut Tx, through: i64) -> Result<()> {
    crate::exec_tx!(tx, |c| sqlx::query(
        "UPDATE audit_head SET staged_through = $1 WHERE id = 1"
    )
    .bind(through)
    .execute(c)
    .await)?;
    Ok(())
}

/// Makes the next ids of `audit_pending` (in `turva.db`) and of the stage
/// larger than the marks of what the log's file says is moved. The files
/// are synced on their own schedules: after a power loss the log's file
/// (synchronous FULL) may remember more than `turva.db` or the stage
/// (NORMAL) kept, and an id reused below a mark would be skipped for good.
/// Writes only when an id counter is behind.
pub async fn guard_ids(db: &Db) -> Result<()> {
    let Db::Sqlite { write, stage, .. } = db else {
        return Ok(());
    };
    let (pending, staged): (i64, i64) =
        sqlx::query_as("SELECT pending_through, staged_through FROM audit_head WHERE id = 1")
            .fetch_one(write)
            .await?;
    for (pool, table, mark) in [
        (write, "audit_pending", pending),
        (stage, "staged_events", staged),
    ] {
        let (seq,): (Option<i64>,) =
            sqlx::query_as("SELECT max(seq) FROM sqlite_sequence WHERE name = $1")
                .bind(table)
                .fetch_one(pool)
                .await?;
        match seq {
            Some(seq) if seq >= mark => {}
            Some(_) => {
                sqlx::query("UPDATE sqlite_sequence SET seq = $2 WHERE name = $1")
                    .bind(table)
                    .bind(mark)
                    .execute(pool)
                    .await?;
            }
            None if mark > 0 => {
                sqlx::query("INSERT INTO sqlite_sequence (name, seq) VALUES ($1, $2)")
                    .bind(table)
                    .bind(mark)
                    .execute(pool)
                    .await?;
            }
            None => {}
        }
    }
    Ok(())
}
