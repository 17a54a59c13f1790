//! The `documents` and `document_versions` tables. The row in `documents`
//! is the newest version; every version, the newest included, is also a row
//! in `document_versions`, written in the same transaction.

use turva_model::access::{Action, Allowed, ObjectAction};

use crate::db::Tx;
use crate::error::{require, Result, StoreError};
use crate::folders::{live_grant_on, trash_condition, After, ListScope, Order, TrashScope};
use crate::{exec_tx, on_tx, Millis};

/// A document as of its newest version.
#[derive(Debug, Clone)]
pub struct DocumentRow {
    pub id: String,
    pub company_id: String,
    pub folder_id: String,
    pub title: String,
    pub template_id: Option<String>,
    pub template_version: Option<i64>,
    /// JSON object keyed by field key.
    pub fields: String,
    /// JSON array of the ids of its attachments.
    pub files: String,
    /// `draft` or `completed`.
    pub status: String,
    pub version: i64,
    pub created_by: String,
    pub created_at: Millis,
    pub updated_by: String,
    pub updated_at: Millis,
    pub deleted_at: Option<Millis>,
}

type Tuple = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    String,
    String,
    String,
    i64,
    String,
    i64,
    String,
    i64,
    Option<i64>,
);

const COLUMNS: &str = "d.id, d.company_id, d.folder_id, d.title, d.template_id, d.template_version, d.fields, d.files, d.status, d.version, d.created_by, d.created_at, d.updated_by, d.updated_at, d.deleted_at";

fn from_tuple(t: Tuple) -> DocumentRow {
    DocumentRow {
        id: t.0,
        company_id: t.1,
        folder_id: t.2,
        title: t.3,
        template_id: t.4,
        template_version: t.5,
        fields: t.6,
        files: t.7,
        status: t.8,
        version: t.9,
        created_by: t.10,
        created_at: t.11,
        updated_by: t.12,
        updated_at: t.13,
        deleted_at: t.14,
    }
}

/// One version of a document.
#[derive(Debug, Clone)]
pub struct VersionRow {
    pub version: i64,
    pub title: String,
    pub fields: String,
    pub files: String,
    pub status: String,
    pub author_id: String,
    pub created_at: Millis,
    /// JSON array of what changed (`title`, `status`, `fields.<key>`, `files`).
    pub changes: String,
    pub restored_from: Option<i64>,
}

/// A document with what decides access to it: its folder's member access
/// in force, whether the folder is in the trash, and the caller's active
/// role in its company.
#[derive(Debug, Clone)]
pub struct DocumentFacts {
    pub doc: DocumentRow,
    pub access_in_force: String,
    pub folder_in_trash: bool,
    pub role: Option<String>,
    /// The user's grants on the document and the folders above it.
    pub grants: Vec<turva_model::access::Grant>,
}

/// A document by id alone (its company is not known before it is read),
/// with its access facts for `user_id`: one statement. Not found in a
/// company scheduled for deletion.
pub async fn document_with_facts(
    tx: &mut Tx,
    id: &str,
    user_id: &str,
) -> Result<Option<DocumentFacts>> {
    let grants = crate::shares::grants_json(tx.backend(), "d.id", "d.folder_id", "$2");
    let sql = format!(
        "SELECT {COLUMNS}, f.access_in_force, f.in_trash, m.role, {grants} FROM documents d
         JOIN folders f ON f.id = d.folder_id
         JOIN companies co ON co.id = d.company_id AND co.deletion_scheduled_at IS NULL
         LEFT JOIN memberships m ON m.company_id = d.company_id AND m.user_id = $2 AND m.status = 'active'
         WHERE d.id = $1"
    );
    type Row = (Tuple, String, bool, Option<String>, Option<String>);
    let row: Option<sqlx_row::Wide> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .bind(user_id)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(|w| {
        let (t, access_in_force, folder_in_trash, role, grants): Row = w.split();
        DocumentFacts {
            doc: from_tuple(t),
            access_in_force,
            folder_in_trash,
            role,
            grants: crate::shares::grants_from_json(grants.as_deref().unwrap_or("[]")),
        }
    }))
}

/// sqlx reads tuples of at most 16 columns; the document with its facts is
/// 19, so it is read as a row type of its own.
mod sqlx_row {
    use super::Tuple;
    use sqlx::Row;

    pub struct Wide(Tuple, String, bool, Option<String>, Option<String>);

    impl Wide {
        pub fn split(self) -> (Tuple, String, bool, Option<String>, Option<String>) {
            (self.0, self.1, self.2, self.3, self.4)
        }
    }

    macro_rules! wide_from_row {
        ($row:ty) => {
            impl<'r> sqlx::FromRow<'r, $row> for Wide {
                fn from_row(r: &'r $row) -> Result<Self, sqlx::Error> {
                    Ok(Wide(
                        (
                            r.try_get(0)?,
                            r.try_get(1)?,
                            r.try_get(2)?,
                            r.try_get(3)?,
                            r.try_get(4)?,
                            r.try_get(5)?,
                            r.try_get(6)?,
                            r.try_get(7)?,
                            r.try_get(8)?,
                            r.try_get(9)?,
                            r.try_get(10)?,
                            r.try_get(11)?,
                            r.try_get(12)?,
                            r.try_get(13)?,
                            r.try_get(14)?,
                        ),
                        r.try_get(15)?,
                        r.try_get(16)?,
                        r.try_get(17)?,
                        r.try_get(18)?,
                    ))
                }
            }
        };
    }
    wide_from_row!(sqlx::sqlite::SqliteRow);
    wide_from_row!(sqlx::postgres::PgRow);
}

/// A document of a company by id (in the trash or not).
pub async fn document(tx: &mut Tx, company_id: &str, id: &str) -> Result<Option<DocumentRow>> {
    let sql = format!("SELECT {COLUMNS} FROM documents d WHERE d.id = $1 AND d.company_id = $2");
    let row: Option<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .bind(company_id)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(from_tuple))
}

async fn insert_version(
    tx: &mut Tx,
    d: &DocumentRow,
    changes: &str,
    restored_from: Option<i64>,
) -> Result<()> {
    exec_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO document_versions (document_id, version, title, fields, files, status, author_id, created_at, changes, restored_from)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    )
    .bind(&d.id)
    .bind(d.version)
    .bind(&d.title)
    .bind(&d.fields)
    .bind(&d.files)
    .bind(&d.status)
    .bind(&d.updated_by)
    .bind(d.updated_at)
    .bind(changes)
    .bind(restored_from)
    .execute(c)
    .await
    })?;
    Ok(())
}

/// Inserts a new document (version 1) in a folder the caller may edit.
pub async fn insert_document(tx: &mut Tx, proof: &Allowed, d: &DocumentRow) -> Result<()> {
    require(proof, |a| matches!(a, Action::Object(ObjectAction::Edit)))?;
    exec_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO documents (id, company_id, folder_id, title, template_id, template_version, fields, files,
            status, version, created_by, created_at, updated_by, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    )
    .bind(&d.id)
    .bind(&d.company_id)
    .bind(&d.folder_id)
    .bind(&d.title)
    .bind(&d.template_id)
    .bind(d.template_version)
    .bind(&d.fields)
    .bind(&d.files)
    .bind(&d.status)
    .bind(d.version)
    .bind(&d.created_by)
    .bind(d.created_at)
    .bind(&d.updated_by)
    .bind(d.updated_at)
    .execute(c)
    .await
    })?;
    insert_version(tx, d, "[\"created\"]", None).await
}

/// Stores `d` as the newest version, which must follow `previous`; a
/// concurrent change (the row is no longer at `previous`) is `Conflict`.
pub async fn update_document(
    tx: &mut Tx,
    proof: &Allowed,
    d: &DocumentRow,
    previous: i64,
    changes: &str,
    restored_from: Option<i64>,
) -> Result<()> {
    require(proof, |a| matches!(a, Action::Object(ObjectAction::Edit)))?;
    let n = exec_tx!(tx, |c| sqlx::query(
        "UPDATE documents SET title = $3, fields = $4, files = $5, status = $6, version = $7,
            updated_by = $8, updated_at = $9
         WHERE id = $1 AND company_id = $2 AND version = $10"
    )
    .bind(&d.id)
    .bind(&d.company_id)
    .bind(&d.title)
    .bind(&d.fields)
    .bind(&d.files)
    .bind(&d.status)
    .bind(d.version)
    .bind(&d.updated_by)
    .bind(d.updated_at)
    .bind(previous)
    .execute(c)
    .await)?;
    if n == 0 {
        return Err(StoreError::Conflict("documents_version".into()));
    }
    insert_version(tx, d, changes, restored_from).await
}

/// Moves a document to the trash (`Some`) or back (`None`).
pub async fn set_deleted(
    tx: &mut Tx,
    proof: &Allowed,
    company_id: &str,
    id: &str,
    deleted: Option<(Millis, &str)>,
) -> Result<()> {
    require(proof, |a| {
        matches!(
            a,
            Action::Object(ObjectAction::Manage | ObjectAction::Restore)
        )
    })?;
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE documents SET deleted_at = $3, deleted_by = $4 WHERE id = $1 AND company_id = $2"
    )
    .bind(id)
    .bind(company_id)
    .bind(deleted.map(|d| d.0))
    .bind(deleted.map(|d| d.1))
    .execute(c)
    .await)?;
    Ok(())
}

type VersionTuple = (
    i64,
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    Option<i64>,
);

fn version_from(t: VersionTuple) -> VersionRow {
    VersionRow {
        version: t.0,
        title: t.1,
        fields: t.2,
        files: t.3,
        status: t.4,
        author_id: t.5,
        created_at: t.6,
        changes: t.7,
        restored_from: t.8,
    }
}

/// Versions of a document, newest first, below `before` (a cursor).
pub async fn versions(
    tx: &mut Tx,
    document_id: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<VersionRow>> {
    let rows: Vec<VersionTuple> = on_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT version, title, fields, files, status, author_id, created_at, changes, restored_from
         FROM document_versions WHERE document_id = $1 AND version < $2 ORDER BY version DESC LIMIT $3"
    )
    .bind(document_id)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(c)
    .await
    })?;
    Ok(rows.into_iter().map(version_from).collect())
}

/// One version of a document.
pub async fn version(tx: &mut Tx, document_id: &str, n: i64) -> Result<Option<VersionRow>> {
    let row: Option<VersionTuple> = on_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT version, title, fields, files, status, author_id, created_at, changes, restored_from
         FROM document_versions WHERE document_id = $1 AND version = $2"
    )
    .bind(document_id)
    .bind(n)
    .fetch_optional(c)
    .await
    })?;
    Ok(row.map(version_from))
}

/// Documents in `folder_id`, not in the trash, that the scope may view,
/// in `order` by title or time of change (the id breaks ties), after
/// `after` (which must fit the order: else from the start). Their member
/// access in force is the folder's: `folder_open` says whether it is not
/// `none`.
#[allow(clippy::too_many_arguments)]
pub async fn child_documents(
    tx: &mut Tx,
    company_id: &str,
    folder_id: &str,
    scope: ListScope<'_>,
    folder_open: bool,
    order: Order,
    after: Option<After<'_>>,
    limit: i64,
) -> Result<Vec<DocumentRow>> {
    let (from, order_by) = order.keyset("d.title", "d.updated_at", "d.id");
    let sql = format!(
        "SELECT {COLUMNS} FROM documents d
         WHERE d.company_id = $1 AND d.folder_id = $2 AND d.deleted_at IS NULL
           AND ($3 OR $4 OR {grant})
           AND {from}
         ORDER BY {order_by} LIMIT $9",
        grant = live_grant_on("d.id", "$5", "$6"),
    );
    let after = after.filter(|a| order.fits(a));
    let rows: Vec<Tuple> = on_tx!(tx, |c| {
        let q = sqlx::query_as(&sql)
            .bind(company_id)
            .bind(folder_id)
            .bind(scope.all)
            .bind(scope.member && folder_open)
            .bind(scope.user_id)
            .bind(scope.now);
        let q = match after {
            Some(After::Updated(at, id)) => q.bind(at).bind(id),
            Some(After::Name(title, id)) => q.bind(title).bind(id),
            None if matches!(order, Order::Updated | Order::UpdatedDesc) => q.bind(0_i64).bind(""),
            None => q.bind("").bind(""),
        };
        q.bind(limit).bind(after.is_some()).fetch_all(c).await
    })?;
    Ok(rows.into_iter().map(from_tuple).collect())
}

/// Documents in the trash themselves (their folder is not) of a company
/// that the scope may manage, newest first (then by id), after the cursor
/// `(deleted_at, id)`.
pub async fn trashed_documents(
    tx: &mut Tx,
    company_id: &str,
    scope: TrashScope<'_>,
    after: Option<(Millis, &str)>,
    limit: i64,
) -> Result<Vec<DocumentRow>> {
    let (after_at, after_id) = after.unwrap_or((Millis::MAX, ""));
    let sql = format!(
        "SELECT {COLUMNS} FROM documents d JOIN folders f ON f.id = d.folder_id
         WHERE d.company_id = $1 AND d.deleted_at IS NOT NULL AND NOT f.in_trash
           AND {cond}
           AND (d.deleted_at < $7 OR (d.deleted_at = $7 AND d.id > $8))
         ORDER BY d.deleted_at DESC, d.id LIMIT $6",
        cond = trash_condition("d.id", "d.folder_id", "f.access_in_force", "d.created_by"),
    );
    let rows: Vec<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(company_id)
        .bind(scope.all)
        .bind(scope.member)
        .bind(scope.user_id)
        .bind(scope.now)
        .bind(limit)
        .bind(after_at)
        .bind(after_id)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(from_tuple).collect())
}
