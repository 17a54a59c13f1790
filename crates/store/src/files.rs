//! The `files` table: attachments of documents. The bytes live in the blob
//! store, encrypted under the file's own data key, which is kept here
//! wrapped by the company's key.

use turva_model::access::{Action, Allowed, ObjectAction};

use crate::db::Tx;
use crate::error::{require, Result};
use crate::{exec_tx, on_tx, Millis};

/// One attachment.
#[derive(Debug, Clone)]
pub struct FileRow {
    pub id: String,
    pub company_id: String,
    pub document_id: String,
    pub name: String,
    pub size: i64,
    pub sha256: String,
    pub content_type: String,
    pub blob_key: String,
    /// The company key that wraps `wrapped_key`.
    pub kek_id: String,
    pub wrapped_key: Vec<u8>,
    pub created_by: String,
    pub created_at: Millis,
    pub detached_at: Option<Millis>,
}

type Tuple = (
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    Vec<u8>,
    String,
    i64,
    Option<i64>,
);

const SELECT: &str = "SELECT id, company_id, document_id, name, size, sha256, content_type, blob_key, kek_id, wrapped_key, created_by, created_at, detached_at FROM files";

fn from_tuple(t: Tuple) -> FileRow {
    FileRow {
        id: t.0,
        company_id: t.1,
        document_id: t.2,
        name: t.3,
        size: t.4,
        sha256: t.5,
        content_type: t.6,
        blob_key: t.7,
        kek_id: t.8,
        wrapped_key: t.9,
        created_by: t.10,
        created_at: t.11,
        detached_at: t.12,
    }
}

pub async fn insert_file(tx: &mut Tx, proof: &Allowed, f: &FileRow) -> Result<()> {
    require(proof, |a| matches!(a, Action::Object(ObjectAction::Edit)))?;
    exec_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO files (id, company_id, document_id, name, size, sha256, content_type, blob_key, kek_id,
            wrapped_key, created_by, created_at, detached_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL)"
    )
    .bind(&f.id)
    .bind(&f.company_id)
    .bind(&f.document_id)
    .bind(&f.name)
    .bind(f.size)
    .bind(&f.sha256)
    .bind(&f.content_type)
    .bind(&f.blob_key)
    .bind(&f.kek_id)
    .bind(&f.wrapped_key)
    .bind(&f.created_by)
    .bind(f.created_at)
    .execute(c)
    .await
    })?;
    Ok(())
}

/// A file by id alone (its company is read with it).
pub async fn file_by_id(tx: &mut Tx, id: &str) -> Result<Option<FileRow>> {
    let sql = format!("{SELECT} WHERE id = $1");
    let row: Option<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(from_tuple))
}

/// The files of a document (attached now or before).
pub async fn files_of_document(
    tx: &mut Tx,
    company_id: &str,
    document_id: &str,
) -> Result<Vec<FileRow>> {
    let sql =
        format!("{SELECT} WHERE company_id = $1 AND document_id = $2 ORDER BY created_at, id");
    let rows: Vec<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(company_id)
        .bind(document_id)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(from_tuple).collect())
}

/// Marks files as attached to the newest version (`None`) or removed from
/// it since `at`.
pub async fn set_detached(
    tx: &mut Tx,
    proof: &Allowed,
    company_id: &str,
    ids: &[String],
    at: Option<Millis>,
) -> Result<()> {
    require(proof, |a| matches!(a, Action::Object(ObjectAction::Edit)))?;
    for id in ids {
        exec_tx!(tx, |c| sqlx::query(
            "UPDATE files SET detached_at = $3 WHERE id = $1 AND company_id = $2"
        )
        .bind(id)
        .bind(company_id)
        .bind(at)
        .execute(c)
        .await)?;
    }
    Ok(())
}

/// Bytes of attachments a company stores (for its quota).
pub async fn company_usage(tx: &mut Tx, company_id: &str) -> Result<i64> {
    let (n,): (Option<i64>,) = on_tx!(tx, |c| sqlx::query_as(
        "SELECT CAST(SUM(size) AS BIGINT) FROM files WHERE company_id = $1"
    )
    .bind(company_id)
    .fetch_one(c)
    .await)?;
    Ok(n.unwrap_or(0))
}
