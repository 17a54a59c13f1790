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
