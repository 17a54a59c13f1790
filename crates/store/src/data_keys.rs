//! The `data_keys` table: company, user, period and platform keys, each
//! stored wrapped by a master-key version.

use crate::db::Tx;
use crate::error::Result;
use crate::keys::WrappedKey;
use crate::{exec_tx, on_tx, Millis};

/// A stored key: its id and, unless destroyed, its wrapped bytes.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub id: String,
    pub wrapped: Option<WrappedKey>,
}

/// Inserts a key for (`kind`, `owner_id`); if one exists already (another
/// process raced us), nothing changes and the caller reads it back.
pub async fn insert_key(
    tx: &mut Tx,
    id: &str,
    kind: &str,
    owner_id: &str,
    wrapped: &WrappedKey,
    at: Millis,
) -> Result<()> {
    exec_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO data_keys (id, kind, owner_id, kek_version, wrapped, created_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (kind, owner_id) DO NOTHING"
    )
    .bind(id)
    .bind(kind)
    .bind(owner_id)
    .bind(i64::from(wrapped.kek_version))
    .bind(&wrapped.sealed)
    .bind(at)
    .execute(c)
    .await
    })?;
    Ok(())
}

pub async fn key_of(tx: &mut Tx, kind: &str, owner_id: &str) -> Result<Option<StoredKey>> {
    let row: Option<(String, i64, Option<Vec<u8>>)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id, kek_version, wrapped FROM data_keys WHERE kind = $1 AND owner_id = $2"
    )
    .bind(kind)
    .bind(owner_id)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|(id, v, w)| StoredKey {
        id,
        wrapped: w.map(|sealed| WrappedKey {
            kek_version: u32::try_from(v).unwrap_or(0),
            sealed,
        }),
    }))
}

/// A key's kind, owner and (unless destroyed) wrapped bytes, by its id.
pub async fn key_by_id(
    tx: &mut Tx,
    id: &str,
) -> Result<Option<(String, String, Option<WrappedKey>)>> {
    let row: Option<(String, String, i64, Option<Vec<u8>>)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT kind, owner_id, kek_version, wrapped FROM data_keys WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|(kind, owner, v, w)| {
        let wrapped = w.map(|sealed| WrappedKey {
            kek_version: u32::try_from(v).unwrap_or(0),
            sealed,
        });
        (kind, owner, wrapped)
    }))
}

/// Destroys the key of (`kind`, `owner_id`): its wrapped bytes are
/// deleted, so nothing sealed under it (in the database or in any backup)
/// opens again. The row stays, marked with the time.
pub async fn destroy(tx: &mut Tx, kind: &str, owner_id: &str, at: Millis) -> Result<bool> {
    let n = exec_tx!(tx, |c| sqlx::query(
        "UPDATE data_keys SET wrapped = NULL, destroyed_at = $3
         WHERE kind = $1 AND owner_id = $2 AND wrapped IS NOT NULL"
    )
    .bind(kind)
    .bind(owner_id)
    .bind(at)
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// How many live (not destroyed) keys each master-key version wraps.
pub async fn count_by_version(tx: &mut Tx) -> Result<Vec<(u32, i64)>> {
    let rows: Vec<(i64, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT kek_version, count(*) FROM data_keys WHERE wrapped IS NOT NULL
         GROUP BY kek_version ORDER BY kek_version"
    )
    .fetch_all(c)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(v, n)| (u32::try_from(v).unwrap_or(0), n))
        .collect())
}

/// A live key wrapped by another version than the newest: its id, kind,
/// owner and wrapped bytes.
pub type StaleKey = (String, String, String, WrappedKey);

/// Live keys wrapped by a version other than `newest`, at most `limit`.
pub async fn not_under(tx: &mut Tx, newest: u32, limit: i64) -> Result<Vec<StaleKey>> {
    let rows: Vec<(String, String, String, i64, Vec<u8>)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id, kind, owner_id, kek_version, wrapped FROM data_keys
         WHERE wrapped IS NOT NULL AND kek_version <> $1 ORDER BY id LIMIT $2"
    )
    .bind(i64::from(newest))
    .bind(limit)
    .fetch_all(c)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(id, kind, owner, v, sealed)| {
            let wrapped = WrappedKey {
                kek_version: u32::try_from(v).unwrap_or(0),
                sealed,
            };
            (id, kind, owner, wrapped)
        })
        .collect())
}

/// Replaces a live key's wrapping (the key inside is the same); not a
/// destroyed one.
pub async fn rewrap(tx: &mut Tx, id: &str, wrapped: &WrappedKey) -> Result<()> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE data_keys SET kek_version = $2, wrapped = $3 WHERE id = $1 AND wrapped IS NOT NULL"
    )
    .bind(id)
    .bind(i64::from(wrapped.kek_version))
    .bind(&wrapped.sealed)
    .execute(c)
    .await)?;
    Ok(())
}

/// Orders rotations and rewraps of every process: on SQLite the write
/// transaction's lock does it already; on PostgreSQL an advisory lock
/// held until the transaction ends.
pub async fn lock_for_rewrap(tx: &mut Tx) -> Result<()> {
    if tx.backend() == crate::db::Backend::Postgres {
        exec_tx!(tx, |c| sqlx::query(
            "SELECT pg_advisory_xact_lock(7357420002)"
        )
        .execute(c)
        .await)?;
    }
    Ok(())
}

/// A `data_keys` row as it is, for the key ring's copies and restores.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyRow {
    pub id: String,
    pub kind: String,
    pub owner_id: String,
    pub kek_version: i64,
    /// Hex of the wrapped key; `None` once destroyed.
    pub wrapped: Option<String>,
    pub created_at: i64,
    pub destroyed_at: Option<i64>,
}

type KeyTuple = (
    String,
    String,
    String,
    i64,
    Option<Vec<u8>>,
    i64,
    Option<i64>,
);

/// Every row, destroyed keys included (their rows say when).
pub async fn all_rows(tx: &mut Tx) -> Result<Vec<KeyRow>> {
    let rows: Vec<KeyTuple> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id, kind, owner_id, kek_version, wrapped, created_at, destroyed_at
         FROM data_keys ORDER BY id"
    )
    .fetch_all(c)
    .await)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, kind, owner_id, kek_version, wrapped, created_at, destroyed_at)| KeyRow {
                id,
                kind,
                owner_id,
                kek_version,
                wrapped: wrapped.map(hex::encode),
                created_at,
                destroyed_at,
            },
        )
        .collect())
}

/// Inserts a row as a copy holds it (a restore into an empty database).
pub async fn insert_row(tx: &mut Tx, row: &KeyRow) -> Result<()> {
    let wrapped = match &row.wrapped {
        Some(h) => Some(hex::decode(h).map_err(|_| {
            crate::StoreError::Corrupt(format!("the wrapped key {} is not hex", row.id))
        })?),
        None => None,
    };
    exec_tx!(tx, |c| sqlx::query(
        "INSERT INTO data_keys (id, kind, owner_id, kek_version, wrapped, created_at, destroyed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(&row.id)
    .bind(&row.kind)
    .bind(&row.owner_id)
    .bind(row.kek_version)
    .bind(wrapped)
    .bind(row.created_at)
    .bind(row.destroyed_at)
    .execute(c)
    .await)?;
    Ok(())
}
