//! Backups' SQL: which tables a backup holds and under whose key, how
//! their rows are read out of one snapshot, and how they are written back.
//!
//! A backup is logical (`docs/design/0004-backups.md`): each company's rows
//! go under that company's key, each person's under theirs, the audit log
//! under the platform's backup key, so destroying a key makes exactly that
//! data unreadable in every retained backup. Every table of the schema is
//! either in [`TABLES`] or in [`NOT_BACKED_UP`] with the reason; a test
//! fails when a new table is in neither.
//!
//! Rows travel as JSON objects (column name to value). On SQLite a BLOB
//! column's value is its hex text; on PostgreSQL `row_to_json` and
//! `json_populate_recordset` convert every type both ways. A backup is
//! restored into a database migrated to the backup's own schema version,
//! so the columns match; newer migrations run afterwards.

use std::collections::{HashMap, HashSet};

use futures_util::TryStreamExt;
use tokio::sync::mpsc;

use crate::db::{Backend, Db, Tx};
use crate::error::{Result, StoreError};
use crate::{exec_tx, on_tx};

/// Whose key a table's rows are sealed under in a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// A company's data, under the company's key; `$1` is its id.
    Company,
    /// A person's account, under their user key; `$1` is the user's id.
    User,
    /// The audit log, under the platform's backup key.
    Platform,
}

/// A table in backups.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub group: Group,
    /// The SQLite schema holding it (`main`, or `audit` for the log).
    sqlite_schema: &'static str,
    /// The rows of one owner (`$1`), or every row for the platform.
    filter: &'static str,
    /// Restore order within the table: parents before children.
    order: &'static str,
    /// Only on this backend.
    only: Option<Backend>,
    /// On SQLite, read in rowid order (the table's own order on disk)
    /// instead of `order`: reading a large table through an index visits
    /// its pages at random. Rowids do not change when a row does, so the
    /// order is as stable between backups, and a restore inserts in it.
    by_rowid: bool,
}

const fn owned(
    group: Group,
    name: &'static str,
    filter: &'static str,
    order: &'static str,
) -> Table {
    Table {
        name,
        group,
        sqlite_schema: "main",
        filter,
        order,
        only: None,
        by_rowid: true,
    }
}

/// A company table whose rows must be restored in `order` (parents first).
const fn ordered(name: &'static str, filter: &'static str, order: &'static str) -> Table {
    Table {
        by_rowid: false,
        ..owned(Group::Company, name, filter, order)
    }
}

const fn company(name: &'static str, filter: &'static str, order: &'static str) -> Table {
    owned(Group::Company, name, filter, order)
}

const fn user(name: &'static str, filter: &'static str, order: &'static str) -> Table {
    owned(Group::User, name, filter, order)
}

const fn log(name: &'static str, order: &'static str) -> Table {
    Table {
        name,
        group: Group::Platform,
        sqlite_schema: "audit",
        filter: "TRUE",
        order,
        only: None,
        by_rowid: false,
    }
}

/// The tables a backup holds, in restore order (users, then companies,
/// then the log; within a group, referenced rows first).
pub const TABLES: &[Table] = &[
    user("users", "id = $1", "id"),
    user("mfa_factors", "user_id = $1", "id"),
    user("recovery_codes", "user_id = $1", "code_hash"),
    company("companies", "id = $1", "id"),
    company("memberships", "company_id = $1", "user_id"),
    company("templates", "company_id = $1", "id"),
    company(
        "template_versions",
        "template_id IN (SELECT id FROM templates WHERE company_id = $1)",
        "template_id, version",
    ),
    company("folder_templates", "company_id = $1", "id"),
    // Parents before children: by the number of ancestors.
    ordered(
        "folders",
        "company_id = $1",
        "(SELECT count(*) FROM folder_paths p WHERE p.folder_id = folders.id), id",
    ),
    company(
        "folder_paths",
        "folder_id IN (SELECT id FROM folders WHERE company_id = $1)",
        "folder_id, ancestor_id",
    ),
    company("documents", "company_id = $1", "id"),
    company(
        "document_versions",
        "document_id IN (SELECT id FROM documents WHERE company_id = $1)",
        "document_id, version",
    ),
    company("files", "company_id = $1", "id"),
    // A share made through another comes after it.
    ordered(
        "shares",
        "company_id = $1",
        "via_share_id IS NOT NULL, created_at, id",
    ),
    company("search_entries", "company_id = $1", "object_id"),
    // Appended to, so a new backup changes only the chunks at their end
    // (and a few of the tree's levels); the one changing row comes last.
    log("audit_events", "seq"),
    log("audit_links", "seq, company_id"),
    log("audit_checkpoints", "size"),
    log("audit_nodes", "level, idx"),
    log("audit_head", "id"),
    // Events of changes not yet moved into the log (SQLite): moved when
    // the restored system opens.
    Table {
        name: "audit_pending",
        group: Group::Platform,
        sqlite_schema: "main",
        filter: "TRUE",
        order: "id",
        only: Some(Backend::Sqlite),
        by_rowid: false,
    },
];

/// Tables a backup leaves out, and why.
pub const NOT_BACKED_UP: &[(&str, &str)] = &[
    (
        "data_keys",
        "wrapped keys go to the key-ring copies, apart from the data",
    ),
    (
        "sessions",
        "a whole restore ends every session (API.md, backup restore)",
    ),
    ("api_tokens", "a whole restore ends every API token"),
    ("one_time_tokens", "credentials: invitations are sent again"),
    ("email_changes", "credentials that expire within hours"),
    ("mfa_challenges", "sign-in steps that expire within minutes"),
    (
        "audit_journal_marks",
        "marks in the audit journal's files, which a backup does not hold (it moves the journal into the log first)",
    ),
    ("webauthn_ceremonies", "passkey ceremonies of minutes"),
    ("throttle_events", "counters of minutes"),
    (
        "schema_migrations",
        "the restore migrates to the backup's version itself",
    ),
    ("sqlite_sequence", "SQLite's counters, raised again at open"),
    (
        "backup_lineage",
        "change tracking of this database: a restored one starts its own lineage",
    ),
    (
        "backup_changes",
        "marks of changed rowids, which mean nothing in a restored database",
    ),
    (
        "backup_owner_changes",
        "marks of changed owners, which mean nothing in a restored database",
    ),
    // SQLite's full-text index: its text travels with `search_entries`.
    ("search_text", "carried in search_entries' rows"),
    ("search_text_data", "FTS5 shadow table"),
    ("search_text_idx", "FTS5 shadow table"),
    ("search_text_content", "FTS5 shadow table"),
    ("search_text_docsize", "FTS5 shadow table"),
    ("search_text_config", "FTS5 shadow table"),
];

impl Table {
    /// Whether the table exists on `backend`.
    pub fn on(&self, backend: Backend) -> bool {
        self.only.is_none_or(|b| b == backend)
    }
}

/// Every table of the schema the database holds now (both SQLite files).
pub async fn schema_tables(tx: &mut Tx) -> Result<Vec<String>> {
    let sql = match tx.backend() {
        Backend::Sqlite => {
            "SELECT name FROM main.sqlite_master WHERE type = 'table'
             UNION SELECT name FROM audit.sqlite_master WHERE type = 'table' ORDER BY 1"
        }
        Backend::Postgres => {
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
        }
    };
    let rows: Vec<(String,)> = on_tx!(tx, |c| sqlx::query_as(sql).fetch_all(c).await)?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

/// Begins the snapshot a backup reads: on PostgreSQL one `REPEATABLE
/// READ` transaction; on SQLite one read transaction that opens
/// `turva.db`'s snapshot first and the log's file right after, so every
/// event that left `audit_pending` before the first is in the second
/// (what moved in between is skipped by the marks at restore).
pub async fn snapshot(db: &Db) -> Result<Tx> {
    let mut tx = db.read().await?;
    match tx.backend() {
        Backend::Postgres => {
            exec_tx!(&mut tx, |c| sqlx::query(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
            )
            .execute(c)
            .await)?;
        }
        Backend::Sqlite => {
            for sql in [
                "SELECT count(*) FROM main.schema_migrations",
                "SELECT count(*) FROM audit.audit_head",
            ] {
                let _: (i64,) = on_tx!(&mut tx, |c| sqlx::query_as(sql).fetch_one(c).await)?;
            }
        }
    }
    Ok(tx)
}

/// The ids of every company (including those scheduled for deletion).
pub async fn company_ids(tx: &mut Tx) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id FROM companies ORDER BY id"
    )
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

/// Each company's number of documents, and all of them: a company with
/// most of them is read in whole-table passes ([`dump`]'s `large`).
pub async fn document_counts(tx: &mut Tx) -> Result<(HashMap<String, i64>, i64)> {
    let rows: Vec<(String, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT company_id, count(*) FROM documents GROUP BY company_id"
    )
    .fetch_all(c)
    .await)?;
    let total = rows.iter().map(|(_, n)| n).sum();
    Ok((rows.into_iter().collect(), total))
}

/// The ids of every user.
pub async fn user_ids(tx: &mut Tx) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = on_tx!(tx, |c| sqlx::query_as("SELECT id FROM users ORDER BY id")
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

/// Users who have no key yet (nothing was sealed for them): a backup makes
/// one first, so their account is under a key an erasure can destroy.
pub async fn users_without_key(tx: &mut Tx) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id FROM users u WHERE NOT EXISTS
           (SELECT 1 FROM data_keys k WHERE k.kind = 'user' AND k.owner_id = u.id)
         ORDER BY id"
    )
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

/// The attachments' object names and owners in the snapshot.
pub async fn blob_keys(tx: &mut Tx, company_id: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT blob_key FROM files WHERE company_id = $1 ORDER BY blob_key"
    )
    .bind(company_id)
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

/// A column of a SQLite table: its name and whether it holds BLOBs.
async fn sqlite_columns(tx: &mut Tx, table: &Table) -> Result<Vec<(String, bool)>> {
    let rows: Vec<(String, String)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT name, upper(type) FROM pragma_table_info($1, $2) ORDER BY cid"
    )
    .bind(table.name)
    .bind(table.sqlite_schema)
    .fetch_all(c)
    .await)?;
    if rows.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "the table {} is missing",
            table.name
        )));
    }
    Ok(rows
        .into_iter()
        .map(|(name, ty)| (name, ty == "BLOB"))
        .collect())
}

/// The columns of a PostgreSQL table that can be written (not generated).
async fn pg_columns(tx: &mut Tx, table: &Table) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER'
         ORDER BY ordinal_position"
    )
    .bind(table.name)
    .fetch_all(c)
    .await)?;
    if rows.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "the table {} is missing",
            table.name
        )));
    }
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

/// The writable columns of a PostgreSQL table, quoted and comma-separated.
async fn pg_column_list(tx: &mut Tx, table: &Table) -> Result<String> {
    let cols: Vec<String> = pg_columns(tx, table)
        .await?
        .iter()
        .map(|c| ident(c))
        .collect();
    Ok(cols.join(", "))
}

/// A column name as an SQL identifier (names come from the schema itself).
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Where one owner's rows of a table come from on SQLite: the JSON of a
/// row, the FROM clause, the filter, and the key that orders and pages it.
struct SqliteSource {
    json: String,
    from: String,
    filter: String,
    /// Unique integer columns in reading order (paged on), or none (the
    /// table is read in `order` as one stream; small tables only).
    keys: Vec<String>,
    order: String,
}

async fn sqlite_source(tx: &mut Tx, table: &Table) -> Result<SqliteSource> {
    if table.name == "search_entries" {
        // The full-text rows travel inside search_entries' rows.
        return Ok(SqliteSource {
            json: "json_object('rowid', e.rowid, 'object_id', e.object_id,
                'company_id', e.company_id, 'title', t.title, 'body', t.body, 'scope', t.scope)"
                .into(),
            // CROSS JOIN: the company's entries first (through their
            // index), then each one's text; not every text in turn.
            from: "search_entries e CROSS JOIN search_text t ON t.rowid = e.rowid".into(),
            filter: "e.company_id = $1".into(),
            keys: Vec::new(),
            order: "e.rowid".into(),
        });
    }
    let cols = sqlite_columns(tx, table).await?;
    let pairs: Vec<String> = cols
        .iter()
        .map(|(name, blob)| {
            let value = if *blob {
                format!(
                    "CASE WHEN {0} IS NULL THEN NULL ELSE hex({0}) END",
                    ident(name)
                )
            } else {
                ident(name)
            };
            format!("'{}', {value}", name.replace('\'', "''"))
        })
        .collect();
    // Paged: the log's two big tables, on their primary keys. A company's
    // tables are filtered through an index or a sub-query, which a page
    // query would repeat for every page (quadratic on a big company), so
    // they stream in rowid order.
    let keys: Vec<String> = match table.name {
        "audit_events" => vec!["seq".into()],
        "audit_nodes" => vec!["level".into(), "idx".into()],
        _ => Vec::new(),
    };
    Ok(SqliteSource {
        json: format!("json_object({})", pairs.join(", ")),
        from: format!("{}.{}", table.sqlite_schema, table.name),
        filter: table.filter.to_string(),
        order: if !keys.is_empty() {
            keys.join(", ")
        } else if table.by_rowid {
            "rowid".to_string()
        } else {
            table.order.to_string()
        },
        keys,
    })
}

/// The statement that reads one owner's rows of `table` as JSON text
/// (PostgreSQL, and SQLite tables read as one stream).
async fn select_sql(tx: &mut Tx, table: &Table, large: bool) -> Result<String> {
    match tx.backend() {
        Backend::Sqlite => {
            let mut src = sqlite_source(tx, table).await?;
            if large && table.filter.contains(" IN (SELECT") {
                // Most of the table is the owner's: one pass in rowid
                // order beats a probe per parent and a sort of the rows.
                src.from.push_str(" NOT INDEXED");
            }
            Ok(format!(
                "SELECT {} FROM {} WHERE {} ORDER BY {}",
                src.json, src.from, src.filter, src.order
            ))
        }
        Backend::Postgres => {
            let cols = pg_column_list(tx, table).await?;
            Ok(format!(
                "SELECT row_to_json(x)::text FROM (SELECT {} FROM {} WHERE {} ORDER BY {}) x",
                cols, table.name, table.filter, table.order
            ))
        }
    }
}

/// Rows handed over at once (a message per row cost more than the row).
const BATCH: usize = 512;
/// Rows SQLite returns as one result row (a result row crosses from
/// SQLite's thread to ours: per row of a table, that was most of the time).
const PAGE: i64 = 2000;

/// Sends every row of `table` that belongs to `owner` (none for the
/// platform's tables), as JSON text, in restore order; returns how many.
/// Rows stream from the snapshot: memory stays bounded by the channel.
pub async fn dump<T: From<Vec<String>> + Send>(
    tx: &mut Tx,
    table: &Table,
    owner: Option<&str>,
    large: bool,
    out: &mpsc::Sender<T>,
) -> Result<u64> {
    if tx.backend() == Backend::Sqlite {
        let src = sqlite_source(tx, table).await?;
        if !src.keys.is_empty() {
            return dump_paged(tx, &src, owner, out).await;
        }
    }
    let sql = select_sql(tx, table, large).await?;
    let mut n = 0u64;
    let closed = || StoreError::Corrupt("the backup writer stopped".into());
    let mut batch = Vec::with_capacity(BATCH);
    on_tx!(tx, |c| {
        let mut q = sqlx::query_scalar::<_, String>(&sql);
        if let Some(owner) = owner {
            q = q.bind(owner);
        }
        let mut rows = q.fetch(c);
        while let Some(row) = rows.try_next().await? {
            batch.push(row);
            n += 1;
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                out.send(T::from(full)).await.map_err(|_| closed())?;
            }
        }
    });
    if !batch.is_empty() {
        out.send(T::from(batch)).await.map_err(|_| closed())?;
    }
    Ok(n)
}

/// SQLite: `PAGE` rows at a time, each page one result row (the rows'
/// JSON joined by newlines, which JSON text never holds raw), paged on the
/// source's unique integer key within the one read transaction.
async fn dump_paged<T: From<Vec<String>> + Send>(
    tx: &mut Tx,
    src: &SqliteSource,
    owner: Option<&str>,
    out: &mpsc::Sender<T>,
) -> Result<u64> {
    let first = if owner.is_some() { 2 } else { 1 };
    let params: Vec<String> = (0..src.keys.len())
        .map(|i| format!("${}", first + i))
        .collect();
    let aliases: Vec<String> = (0..src.keys.len()).map(|i| format!("_k{i}")).collect();
    let selected: Vec<String> = src
        .keys
        .iter()
        .zip(&aliases)
        .map(|(k, a)| format!("{k} AS {a}"))
        .collect();
    let descending: Vec<String> = aliases.iter().map(|a| format!("{a} DESC")).collect();
    let sql = format!(
        "WITH page AS MATERIALIZED (
           SELECT {json} AS j, {selected} FROM {from}
           WHERE ({filter}) AND ({keys}) > ({params}) ORDER BY {keys} LIMIT {PAGE})
         SELECT group_concat(j, char(10) ORDER BY {aliases}), count(*),
                (SELECT json_array({aliases}) FROM page ORDER BY {descending} LIMIT 1)
         FROM page",
        json = src.json,
        selected = selected.join(", "),
        from = src.from,
        filter = src.filter,
        keys = src.keys.join(", "),
        params = params.join(", "),
        aliases = aliases.join(", "),
        descending = descending.join(", "),
    );
    let mut after = vec![i64::MIN; src.keys.len()];
    let mut n = 0u64;
    loop {
        let (text, count, last): (Option<String>, i64, Option<String>) = on_tx!(tx, |c| {
            let mut q = sqlx::query_as(&sql);
            if let Some(owner) = owner {
                q = q.bind(owner);
            }
            for v in &after {
                q = q.bind(*v);
            }
            q.fetch_one(c).await
        })?;
        if count == 0 {
            break;
        }
        let rows: Vec<String> = text
            .unwrap_or_default()
            .split('\n')
            .map(str::to_string)
            .collect();
        n += rows.len() as u64;
        out.send(T::from(rows))
            .await
            .map_err(|_| StoreError::Corrupt("the backup writer stopped".into()))?;
        after = serde_json::from_str(last.as_deref().unwrap_or("[]"))
            .map_err(|_| StoreError::Corrupt("a page's last key is not a number".into()))?;
        if count < PAGE || after.len() != src.keys.len() {
            break;
        }
    }
    Ok(n)
}

/// Rowids per bucket of change tracking: a bucket is `rowid >> BUCKET_SHIFT`
/// (migration 0017: SQLite marks the bucket of every row inserted,
/// updated or deleted in a [`tracked`] table with the current generation).
pub const BUCKET_SHIFT: u32 = 5;

/// Whether a table's changes are tracked by bucket (SQLite): the large
/// tables of a company, which a backup of a large company writes one
/// bucket per chunk, so that the next one names again every chunk whose
/// bucket is unmarked instead of reading its rows.
pub fn tracked(table: &Table) -> bool {
    matches!(
        table.name,
        "documents" | "document_versions" | "folder_paths" | "files" | "search_entries"
    )
}

/// The change tracking of this database (SQLite): its lineage (new in
/// every database, a restored one included), the current generation, and
/// the generation below which marks were forgotten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    pub id: String,
    pub generation: i64,
    pub forgotten_below: i64,
}

/// The lineage as `tx` sees it; none on PostgreSQL.
pub async fn lineage(tx: &mut Tx) -> Result<Option<Lineage>> {
    if tx.backend() != Backend::Sqlite {
        return Ok(None);
    }
    let row: Option<(String, i64, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT lineage, generation, forgotten_below FROM backup_lineage WHERE id = 1"
    )
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|(id, generation, forgotten_below)| Lineage {
        id,
        generation,
        forgotten_below,
    }))
}

/// Starts a new generation (before a backup's snapshot: every change
/// after this is marked with it); returns the lineage with it.
pub async fn new_generation(tx: &mut Tx) -> Result<Option<Lineage>> {
    if tx.backend() != Backend::Sqlite {
        return Ok(None);
    }
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE backup_lineage SET generation = generation + 1 WHERE id = 1"
    )
    .execute(c)
    .await)?;
    lineage(tx).await
}

/// Forgets the marks older than `generation` once a backup of it is safe
/// (the next backup builds on that one); a backup built on an older
/// generation than what was forgotten reads everything.
pub async fn forget_changes(db: &Db, generation: i64) -> Result<()> {
    let mut tx = db.write().await?;
    if tx.backend() != Backend::Sqlite {
        return Ok(());
    }
    exec_tx!(&mut tx, |c| sqlx::query(
        "DELETE FROM backup_changes WHERE generation < $1"
    )
    .bind(generation)
    .execute(c)
    .await)?;
    exec_tx!(&mut tx, |c| sqlx::query(
        "DELETE FROM backup_owner_changes WHERE generation < $1"
    )
    .bind(generation)
    .execute(c)
    .await)?;
    exec_tx!(&mut tx, |c| sqlx::query(
        "UPDATE backup_lineage SET forgotten_below = max(forgotten_below, $1) WHERE id = 1"
    )
    .bind(generation)
    .execute(c)
    .await)?;
    tx.commit().await
}

/// What [`dump_buckets`] sends: rows as (rowid, JSON text), in rowid
/// order, or the indexes of the previous chunks to name again in their
/// place (every unmarked bucket between two marked ones in one message:
/// a message per bucket cost more than the buckets read).
#[derive(Debug)]
pub enum BucketFeed {
    Rows(Vec<(i64, String)>),
    Reuse(Vec<usize>),
}

/// The owners (`user:<id>`, `company:<id>`) with a row inserted, updated
/// or deleted since `generation` (SQLite); every other owner's part is
/// as the backup of that generation holds it.
pub async fn changed_owners(tx: &mut Tx, generation: i64) -> Result<HashSet<String>> {
    let rows: Vec<(String,)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT owner FROM backup_owner_changes WHERE generation >= $1"
    )
    .bind(generation)
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().map(|(o,)| o).collect())
}

/// The buckets of `table` marked since `generation`, in order.
async fn changed_buckets(tx: &mut Tx, table: &Table, generation: i64) -> Result<Vec<i64>> {
    let rows: Vec<(i64,)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT bucket FROM backup_changes WHERE tbl = $1 AND generation >= $2 ORDER BY bucket"
    )
    .bind(table.name)
    .bind(generation)
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().map(|(b,)| b).collect())
}

/// The source of a tracked table's rows with their rowids: the JSON, the
/// FROM clause (the table as `r`, or `e` for search entries), the rowid,
/// and the owner's filter for a whole pass and for a few rows.
fn bucket_source(src: &SqliteSource, table: &Table) -> (String, String, String, String) {
    if table.name == "search_entries" {
        return (
            src.json.clone(),
            src.from.clone(),
            "e.rowid".into(),
            src.filter.clone(),
        );
    }
    // `col IN (SELECT id FROM parent WHERE company_id = $1)` is one pass
    // over the parent for a whole table, a probe per row for a few rows.
    let per_row = table
        .filter
        .split_once(" IN (SELECT id FROM ")
        .and_then(|(col, rest)| {
            let (parent, cond) = rest.split_once(" WHERE ")?;
            let cond = cond.strip_suffix(')')?;
            let cond = cond.replace("company_id", "p.company_id");
            Some(format!(
                "EXISTS (SELECT 1 FROM {parent} p WHERE p.id = r.{col} AND {cond})"
            ))
        })
        .unwrap_or_else(|| table.filter.to_string());
    (
        src.json.clone(),
        format!("{} AS r", src.from),
        "r.rowid".into(),
        per_row,
    )
}

/// Sends the rows of a [`tracked`] table that belong to `owner`, with
/// their rowids, in rowid order: all of them, or, given the generation of
/// the backup built on and that backup's chunks of the table by bucket
/// (in order), only the rows of buckets marked since, and in place of
/// every other bucket its earlier chunks ([`BucketFeed::Reuse`]).
pub async fn dump_buckets<T: From<BucketFeed> + Send>(
    tx: &mut Tx,
    table: &Table,
    owner: &str,
    since: Option<(i64, &[(i64, usize)])>,
    out: &mpsc::Sender<T>,
) -> Result<u64> {
    let src = sqlite_source(tx, table).await?;
    let Some((generation, earlier)) = since else {
        if !table.filter.contains(" IN (SELECT") {
            return dump_buckets_paged(tx, &src, table, owner, out).await;
        }
        // Through the parent: one pass over it (a page would read it again
        // each time), the rows streamed.
        let sql = format!(
            "SELECT rowid, {json} FROM {from} NOT INDEXED WHERE {filter} ORDER BY rowid",
            json = src.json,
            from = src.from,
            filter = src.filter,
        );
        let mut feed = Interleave::new(Vec::new(), out);
        on_tx!(tx, |c| {
            let mut rows = sqlx::query_as::<_, (i64, String)>(&sql)
                .bind(owner)
                .fetch(c);
            while let Some((id, line)) = rows.try_next().await? {
                feed.row(id, line).await?;
            }
            Ok::<_, StoreError>(())
        })?;
        return feed.finish().await;
    };
    let (json, from, rowid, per_row) = bucket_source(&src, table);
    let dirty = changed_buckets(tx, table, generation).await?;
    // The earlier chunks of unmarked buckets, in bucket order.
    let reuse: Vec<(i64, usize)> = earlier
        .iter()
        .copied()
        .filter(|(b, _)| dirty.binary_search(b).is_err())
        .collect();
    // The marked buckets' rows, a page of buckets (at most `PAGE` rows)
    // per statement and per result row.
    let sql = format!(
        "SELECT group_concat(k || ' ' || j, char(10)), count(*) FROM (
           SELECT {rowid} AS k, {json} AS j FROM backup_changes c CROSS JOIN {from}
           WHERE c.tbl = '{name}' AND c.generation >= $2 AND c.bucket BETWEEN $3 AND $4
             AND {rowid} BETWEEN c.bucket << {BUCKET_SHIFT}
                 AND (c.bucket << {BUCKET_SHIFT}) + {last}
             AND ({per_row}))",
        last = (1i64 << BUCKET_SHIFT) - 1,
        name = table.name,
    );
    let per_page = usize::try_from(PAGE >> BUCKET_SHIFT).unwrap_or(1).max(1);
    let mut feed = Interleave::new(reuse, out);
    for page in dirty.chunks(per_page) {
        let (Some(first), Some(last)) = (page.first(), page.last()) else {
            continue;
        };
        let (text, count): (Option<String>, i64) = on_tx!(tx, |c| {
            sqlx::query_as(&sql)
                .bind(owner)
                .bind(generation)
                .bind(*first)
                .bind(*last)
                .fetch_one(c)
                .await
        })?;
        for (id, line) in page_rows(table, text, count)? {
            feed.row(id, line).await?;
        }
    }
    feed.finish().await
}

/// The rows of one page read by [`dump_buckets_paged`] or
/// [`dump_buckets`]: "rowid json" lines joined by newlines, `count` of
/// them.
fn page_rows(table: &Table, text: Option<String>, count: i64) -> Result<Vec<(i64, String)>> {
    let bad = || StoreError::Corrupt(format!("a page of {} is malformed", table.name));
    let mut rows = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    if count == 0 {
        return Ok(rows);
    }
    for line in text.unwrap_or_default().split('\n') {
        let (id, json) = line.split_once(' ').ok_or_else(bad)?;
        rows.push((id.parse::<i64>().map_err(|_| bad())?, json.to_string()));
    }
    if i64::try_from(rows.len()) != Ok(count) {
        return Err(bad());
    }
    Ok(in_key_order(rows))
}

/// A page's rows in key order. The pages' `group_concat`s carry no
/// `ORDER BY` (SQLite sorted every page through a temporary B-tree for it,
/// a tenth of the reading thread's time): the rows come in key order from
/// the plan, and are sorted here if they ever do not. Two aggregates of one
/// query see their rows in the same order, so keys and rows still pair.
fn in_key_order(mut rows: Vec<(i64, String)>) -> Vec<(i64, String)> {
    if !rows.windows(2).all(|w| w[0].0 < w[1].0) {
        rows.sort_by_key(|r| r.0);
    }
    rows
}

/// Hands a tracked table's rows (in rowid order) to the backup writer in
/// batches, and in place of every bucket not read its earlier chunks
/// ([`BucketFeed::Reuse`]), each where its bucket falls in the order.
struct Interleave<'a, T> {
    reuse: Vec<(i64, usize)>,
    next: usize,
    batch: Vec<(i64, String)>,
    n: u64,
    out: &'a mpsc::Sender<T>,
}

impl<'a, T: From<BucketFeed> + Send> Interleave<'a, T> {
    fn new(reuse: Vec<(i64, usize)>, out: &'a mpsc::Sender<T>) -> Self {
        Interleave {
            reuse,
            next: 0,
            batch: Vec::with_capacity(BATCH),
            n: 0,
            out,
        }
    }

    async fn send(&self, feed: BucketFeed) -> Result<()> {
        self.out
            .send(T::from(feed))
            .await
            .map_err(|_| StoreError::Corrupt("the backup writer stopped".into()))
    }

    async fn send_batch(&mut self) -> Result<()> {
        if !self.batch.is_empty() {
            let full = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            self.send(BucketFeed::Rows(full)).await?;
        }
        Ok(())
    }

    /// Sends the earlier chunks of the unread buckets before `bucket`.
    async fn reuse_before(&mut self, bucket: i64) -> Result<()> {
        let from = self.next;
        while self.reuse.get(self.next).is_some_and(|&(b, _)| b < bucket) {
            self.next += 1;
        }
        if self.next > from {
            self.send_batch().await?;
            let run = self.reuse[from..self.next]
                .iter()
                .map(|&(_, i)| i)
                .collect();
            self.send(BucketFeed::Reuse(run)).await?;
        }
        Ok(())
    }

    async fn row(&mut self, id: i64, line: String) -> Result<()> {
        self.reuse_before(id >> BUCKET_SHIFT).await?;
        self.batch.push((id, line));
        self.n += 1;
        if self.batch.len() == BATCH {
            self.send_batch().await?;
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<u64> {
        self.reuse_before(i64::MAX).await?;
        self.send_batch().await?;
        Ok(self.n)
    }
}

/// Every row of a [`tracked`] table filtered on its owner directly (not
/// through a parent) with its rowid, in rowid order: `PAGE` rows a
/// statement, each page one result row ("rowid json" lines joined by
/// newlines, which JSON text never holds raw). A row crossing from
/// SQLite's thread one at a time cost more than reading it. A table
/// filtered through its parent streams instead ([`dump_buckets`]): a page
/// would read the parent's rows again each time.
async fn dump_buckets_paged<T: From<BucketFeed> + Send>(
    tx: &mut Tx,
    src: &SqliteSource,
    table: &Table,
    owner: &str,
    out: &mpsc::Sender<T>,
) -> Result<u64> {
    let rowid = if table.name == "search_entries" {
        "e.rowid"
    } else {
        "rowid"
    };
    let sql = format!(
        "WITH page AS MATERIALIZED (
           SELECT {rowid} AS k, {json} AS j FROM {from}
           WHERE ({filter}) AND {rowid} > $2 ORDER BY {rowid} LIMIT {PAGE})
         SELECT group_concat(k || ' ' || j, char(10)), count(*) FROM page",
        json = src.json,
        from = src.from,
        filter = src.filter,
    );
    let mut after = i64::MIN;
    let mut feed = Interleave::new(Vec::new(), out);
    loop {
        let (text, count): (Option<String>, i64) = on_tx!(tx, |c| {
            sqlx::query_as(&sql)
                .bind(owner)
                .bind(after)
                .fetch_one(c)
                .await
        })?;
        let rows = page_rows(table, text, count)?;
        // In key order: the last row's key is where the next page starts.
        let Some(&(last, _)) = rows.last() else {
            break;
        };
        for (id, line) in rows {
            feed.row(id, line).await?;
        }
        after = last;
        if count < PAGE {
            break;
        }
    }
    feed.finish().await
}

/// Drops the change-tracking triggers of a database about to be
/// bulk-loaded by a restore (a restored database starts a lineage of its
/// own, so marks of the load would only cost time); returns the
/// statements that create them again after the load.
pub async fn drop_change_triggers(tx: &mut Tx) -> Result<Vec<String>> {
    if tx.backend() != Backend::Sqlite {
        return Ok(Vec::new());
    }
    let found: Vec<(String, String)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT name, sql FROM main.sqlite_master
         WHERE type = 'trigger' AND name LIKE 'backup_changes_%'"
    )
    .fetch_all(c)
    .await)?;
    let mut creates = Vec::new();
    for (name, sql) in found {
        let drop = format!("DROP TRIGGER main.{}", ident(&name));
        exec_tx!(tx, |c| sqlx::query(&drop).execute(c).await)?;
        creates.push(sql);
    }
    Ok(creates)
}

/// Whether `table` only ever grows at the end of its key order: nothing
/// updates or deletes its rows, except retention, which removes a prefix
/// of `audit_events` (the tree's nodes are kept). A backup reads such a
/// table in segments (`audit_events` as one, keyed by `seq`; `audit_nodes`
/// one tree level at a time, keyed by `idx`) and may name an earlier
/// backup's chunks of a segment instead of reading those rows again.
pub fn append_only(table: &Table) -> bool {
    matches!(table.name, "audit_events" | "audit_nodes")
}

/// The segments of an append-only table: `None` for `audit_events`, each
/// stored level of the tree for `audit_nodes` (0 to the highest).
pub async fn segments(tx: &mut Tx, table: &Table) -> Result<Vec<Option<i64>>> {
    if table.name != "audit_nodes" {
        return Ok(vec![None]);
    }
    let (top,): (Option<i64>,) = on_tx!(tx, |c| sqlx::query_as(
        "SELECT CAST(max(level) AS BIGINT) FROM audit_nodes"
    )
    .fetch_one(c)
    .await)?;
    Ok(top.map_or_else(Vec::new, |top| (0..=top).map(Some).collect()))
}

/// One page of a segment of an append-only table: its rows with key in
/// `(after, through]`, in key order, as (key, JSON text) pairs; fewer than
/// a page only at the end of the range.
pub async fn segment_page(
    tx: &mut Tx,
    table: &Table,
    level: Option<i64>,
    after: i64,
    through: i64,
) -> Result<Vec<(i64, String)>> {
    let (key, level_cond) = match (table.name, level) {
        ("audit_events", None) => ("seq", ""),
        ("audit_nodes", Some(_)) => ("idx", "level = $3 AND "),
        _ => {
            return Err(StoreError::Corrupt(format!(
                "{} is not read in segments",
                table.name
            )))
        }
    };
    let bind_level = i32::try_from(level.unwrap_or(0)).unwrap_or(i32::MAX);
    match tx.backend() {
        Backend::Sqlite => {
            let src = sqlite_source(tx, table).await?;
            let sql = format!(
                "WITH page AS MATERIALIZED (
                   SELECT {json} AS j, {key} AS k FROM {from}
                   WHERE {level_cond}{key} > $1 AND {key} <= $2 ORDER BY {key} LIMIT {PAGE})
                 SELECT group_concat(j, char(10)), group_concat(k, ',') FROM page",
                json = src.json,
                from = src.from,
            );
            let (text, keys): (Option<String>, Option<String>) = on_tx!(tx, |c| {
                let mut q = sqlx::query_as(&sql).bind(after).bind(through);
                if level.is_some() {
                    q = q.bind(bind_level);
                }
                q.fetch_one(c).await
            })?;
            let (Some(text), Some(keys)) = (text, keys) else {
                return Ok(Vec::new());
            };
            let keys = keys
                .split(',')
                .map(|k| {
                    k.parse::<i64>()
                        .map_err(|_| StoreError::Corrupt(format!("{} has a key {k}", table.name)))
                })
                .collect::<Result<Vec<i64>>>()?;
            let rows: Vec<String> = text.split('\n').map(str::to_string).collect();
            if rows.len() != keys.len() {
                return Err(StoreError::Corrupt(format!(
                    "a page of {} has {} rows and {} keys",
                    table.name,
                    rows.len(),
                    keys.len()
                )));
            }
            Ok(in_key_order(keys.into_iter().zip(rows).collect()))
        }
        Backend::Postgres => {
            let cols = pg_column_list(tx, table).await?;
            let sql = format!(
                "SELECT CAST(x.{key} AS BIGINT), row_to_json(x)::text FROM (
                   SELECT {cols} FROM {name}
                   WHERE {level_cond}{key} > $1 AND {key} <= $2 ORDER BY {key} LIMIT {PAGE}) x
                 ORDER BY 1",
                name = table.name,
            );
            let rows: Vec<(i64, String)> = on_tx!(tx, |c| {
                let mut q = sqlx::query_as(&sql).bind(after).bind(through);
                if level.is_some() {
                    q = q.bind(bind_level);
                }
                q.fetch_all(c).await
            })?;
            Ok(rows)
        }
    }
}

/// The rows of the JSON array `$1` as binary JSON, one each (`r.v`).
const ROWS: &str = "WITH r AS MATERIALIZED (SELECT jsonb(value) AS v FROM json_each($1))";

/// The statement that inserts the full-text rows of a JSON array of
/// `search_entries` rows (bound as `$1`) into `search_text` (SQLite).
fn search_text_insert() -> String {
    format!(
        "INSERT INTO search_text (rowid, title, body, scope) {ROWS}
         SELECT json_extract(v, '$.rowid'), json_extract(v, '$.title'),
                json_extract(v, '$.body'), json_extract(v, '$.scope') FROM r"
    )
}

/// The statement that inserts a JSON array of rows (bound as `$1`) into
/// `table`.
///
/// A whole restore's load (`bulk`, SQLite): `OR FAIL`, and no foreign
/// keys enforced during the load
/// ([`Db::enforce_foreign_keys`](crate::Db::enforce_foreign_keys)), so
/// that no statement can abort half-way and none needs a statement
/// journal (each page it changes copied aside first). A failed row fails
/// the whole restore, whose one transaction rolls back. Its full-text
/// rows are left out: a [`SearchBuild`] indexes them beside the load.
/// (An insert into the full-text table always opens a savepoint, which
/// writes FTS5's pending entries out as a segment: those rows go in few,
/// large statements.)
pub async fn insert_sql(tx: &mut Tx, table: &Table, bulk: bool) -> Result<Vec<String>> {
    // Not into a live database: `OR FAIL` would override the conflict
    // clauses of the change-tracking triggers' statements.
    let or_fail = if bulk { " OR FAIL" } else { "" };
    Ok(match tx.backend() {
        // Each row is turned into binary JSON once (`ROWS`), and each
        // column extracted from that: `json_each`'s `value` is text made
        // anew, and parsed again, for every column that names it.
        // A whole restore's full-text rows are a [`SearchBuild`]'s.
        Backend::Sqlite if table.name == "search_entries" => {
            let entries = format!(
                "INSERT{or_fail} INTO search_entries (rowid, object_id, company_id) {ROWS}
                 SELECT json_extract(v, '$.rowid'), json_extract(v, '$.object_id'),
                        json_extract(v, '$.company_id') FROM r"
            );
            if bulk {
                vec![entries]
            } else {
                vec![entries, search_text_insert()]
            }
        }
        Backend::Sqlite => {
            let cols = sqlite_columns(tx, table).await?;
            let names: Vec<String> = cols.iter().map(|(n, _)| ident(n)).collect();
            let values: Vec<String> = cols
                .iter()
                .map(|(name, blob)| {
                    let path = format!("'$.\"{}\"'", name.replace('\'', "''").replace('"', ""));
                    if *blob {
                        format!("unhex(json_extract(v, {path}))")
                    } else {
                        format!("json_extract(v, {path})")
                    }
                })
                .collect();
            vec![format!(
                "INSERT{or_fail} INTO {}.{} ({}) {ROWS} SELECT {} FROM r",
                table.sqlite_schema,
                table.name,
                names.join(", "),
                values.join(", ")
            )]
        }
        Backend::Postgres => {
            let cols = pg_column_list(tx, table).await?;
            vec![format!(
                "INSERT INTO {0} ({1}) SELECT {1} FROM json_populate_recordset(NULL::{0}, $1::json)",
                table.name, cols
            )]
        }
    })
}

/// Inserts `rows` (a JSON array of row objects) with the statements of
/// [`insert_sql`]; returns how many rows the first inserted.
pub async fn insert(tx: &mut Tx, statements: &[String], rows: &str) -> Result<u64> {
    let mut first = None;
    for sql in statements {
        let n = exec_tx!(tx, |c| sqlx::query(sql).bind(rows).execute(c).await)?;
        first.get_or_insert(n);
    }
    Ok(first.unwrap_or(0))
}

/// Whether the database holds no account and no company (a restore's
/// target must be empty).
pub async fn is_empty(tx: &mut Tx) -> Result<bool> {
    let (n,): (i64,) = on_tx!(tx, |c| sqlx::query_as(
        "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM companies)"
    )
    .fetch_one(c)
    .await)?;
    Ok(n == 0)
}

/// Empties what migrations seed (the log's one `audit_head` row), so the
/// backup's own rows take its place.
pub async fn clear_seeded(tx: &mut Tx) -> Result<()> {
    exec_tx!(tx, |c| sqlx::query("DELETE FROM audit_head")
        .execute(c)
        .await)?;
    Ok(())
}

/// Drops the non-unique secondary indexes of an empty database about to be
/// bulk-loaded; returns the statements that create them again (run by
/// [`create_indexes`] after the load: one sort per index instead of a
/// B-tree insertion per row). Unique indexes stay: they may be the parent
/// key of a foreign key.
pub async fn drop_secondary_indexes(tx: &mut Tx) -> Result<Vec<String>> {
    let found: Vec<(String, String, String)> = match tx.backend() {
        Backend::Sqlite => on_tx!(tx, |c| sqlx::query_as(
            "SELECT 'main', name, sql FROM main.sqlite_master
             WHERE type = 'index' AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'
             UNION ALL
             SELECT 'audit', name, sql FROM audit.sqlite_master
             WHERE type = 'index' AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'"
        )
        .fetch_all(c)
        .await)?,
        Backend::Postgres => on_tx!(tx, |c| sqlx::query_as(
            "SELECT i.schemaname::text, i.indexname::text, i.indexdef FROM pg_indexes i
             JOIN pg_class x ON x.relname = i.indexname
             JOIN pg_namespace n ON n.oid = x.relnamespace AND n.nspname = i.schemaname
             JOIN pg_index p ON p.indexrelid = x.oid
             WHERE i.schemaname = current_schema() AND NOT p.indisunique AND NOT p.indisprimary"
        )
        .fetch_all(c)
        .await)?,
    };
    let mut creates = Vec::new();
    for (schema, name, sql) in found {
        let create = match tx.backend() {
            // SQLite keeps the statement without the schema: the index
            // name gets it back (it names where the index goes).
            Backend::Sqlite => {
                let bare = format!(" {name} ");
                if !sql.contains(&bare) {
                    continue;
                }
                sql.replacen(&bare, &format!(" {schema}.{} ", ident(&name)), 1)
            }
            Backend::Postgres => sql,
        };
        let drop = format!("DROP INDEX {}.{}", ident(&schema), ident(&name));
        exec_tx!(tx, |c| sqlx::query(&drop).execute(c).await)?;
        creates.push(create);
    }
    Ok(creates)
}

/// The full-text table's own tables that hold its index and its text:
/// what [`SearchBuild::finish`] copies (its `_config` stays the new
/// database's).
const SEARCH_SHADOWS: [&str; 4] = [
    "search_text_data",
    "search_text_idx",
    "search_text_content",
    "search_text_docsize",
];

/// The full-text index of a whole restore's load (SQLite), built on a
/// connection of its own (a thread of its own: tokenising a million
/// documents was a third of the load on the one core it had) in a file
/// beside the new database, under the same key, and copied into the new
/// database once its load has committed.
///
/// The caller hands it batches of `search_entries` rows (JSON arrays) with
/// [`send`](SearchBuild::send) while the load inserts the entries
/// themselves ([`insert_sql`] with `bulk` leaves the full-text rows out);
/// the new database's full-text table is not touched until
/// [`finish`](SearchBuild::finish) writes its tables whole.
pub struct SearchBuild {
    rows: Option<mpsc::Sender<String>>,
    built: Option<tokio::task::JoinHandle<Result<(sqlx::SqliteConnection, u64)>>>,
    path: std::path::PathBuf,
    key: zeroize::Zeroizing<String>,
}

/// Batches of full-text rows waiting for the builder (a restore sends
/// tens of MiB of JSON at a time).
const SEARCH_BUILD_QUEUE: usize = 3;

impl SearchBuild {
    /// Creates `path` with the new database's full-text table (its
    /// definition read through `tx`) and starts the builder.
    pub async fn start(
        tx: &mut Tx,
        path: &std::path::Path,
        key: &crate::keys::DataKey,
    ) -> Result<SearchBuild> {
        let (definition,): (String,) = on_tx!(tx, |c| sqlx::query_as(
            "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = 'search_text'"
        )
        .fetch_one(c)
        .await)?;
        let key = crate::db::raw_key(key);
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .pragma("key", format!("\"{}\"", key.as_str()))
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Memory)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Off)
            .pragma("cache_size", "-65536");
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&opts).await?;
        sqlx::query(&definition).execute(&mut conn).await?;
        // Fewer, larger segments, and far less merging of them.
        sqlx::query("INSERT INTO search_text (search_text, rank) VALUES ('hashsize', $1)")
            .bind(SEARCH_HASH_BULK)
            .execute(&mut conn)
            .await?;
        sqlx::query("BEGIN").execute(&mut conn).await?;
        let (send, mut rows) = mpsc::channel::<String>(SEARCH_BUILD_QUEUE);
        let built = tokio::spawn(async move {
            let insert = search_text_insert();
            let mut n = 0;
            while let Some(json) = rows.recv().await {
                n += sqlx::query(&insert)
                    .bind(json)
                    .execute(&mut conn)
                    .await?
                    .rows_affected();
            }
            sqlx::query("COMMIT").execute(&mut conn).await?;
            Ok((conn, n))
        });
        Ok(SearchBuild {
            rows: Some(send),
            built: Some(built),
            path: path.to_path_buf(),
            key,
        })
    }

    /// Hands a JSON array of `search_entries` rows to the builder.
    pub async fn send(&mut self, json: String) -> Result<()> {
        let sent = match &self.rows {
            Some(rows) => rows.send(json).await.is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The builder stopped: its error says why.
        self.rows = None;
        match self.wait().await {
            Err(e) => Err(e),
            Ok(_) => Err(StoreError::Io("the full-text build stopped early".into())),
        }
    }

    async fn wait(&mut self) -> Result<(sqlx::SqliteConnection, u64)> {
        let built = self
            .built
            .take()
            .ok_or_else(|| StoreError::Io("the full-text build already ended".into()))?;
        built
            .await
            .map_err(|e| StoreError::Io(format!("the full-text build failed: {e}")))?
    }

    /// Waits for the builder and writes the index into the database at
    /// `into`, whose load has committed and which nothing else writes
    /// now; returns how many rows the index holds, and removes its file.
    pub async fn finish(mut self, into: &std::path::Path) -> Result<u64> {
        let copied = self.copy_into(into).await;
        let removed = std::fs::remove_file(&self.path)
            .map_err(|e| StoreError::Io(format!("removing {}: {e}", self.path.display())));
        let n = copied?;
        removed?;
        Ok(n)
    }

    async fn copy_into(&mut self, into: &std::path::Path) -> Result<u64> {
        self.rows = None;
        let (mut conn, n) = self.wait().await?;
        sqlx::query("ATTACH DATABASE $1 AS restored KEY $2")
            .bind(into.to_string_lossy().into_owned())
            .bind(self.key.as_str())
            .execute(&mut conn)
            .await?;
        sqlx::query("PRAGMA restored.journal_mode = MEMORY")
            .execute(&mut conn)
            .await?;
        sqlx::query("PRAGMA restored.synchronous = OFF")
            .execute(&mut conn)
            .await?;
        sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await?;
        for table in SEARCH_SHADOWS {
            // The new table's own first records (an empty index) give way;
            // `INSERT … SELECT *` into an empty table of the same shape
            // copies the records as they are.
            sqlx::query(&format!("DELETE FROM restored.{table}"))
                .execute(&mut conn)
                .await?;
            sqlx::query(&format!(
                "INSERT INTO restored.{table} SELECT * FROM main.{table}"
            ))
            .execute(&mut conn)
            .await?;
        }
        sqlx::query("COMMIT").execute(&mut conn).await?;
        sqlx::query("DETACH DATABASE restored")
            .execute(&mut conn)
            .await?;
        <sqlx::SqliteConnection as sqlx::Connection>::close(conn).await?;
        Ok(n)
    }
}

impl Drop for SearchBuild {
    /// A restore that fails stops its builder (its directory goes too).
    fn drop(&mut self) {
        if let Some(built) = &self.built {
            built.abort();
        }
    }
}

/// During a restore's full-text build (SQLite): fewer, larger segments
/// and far less merging of them than FTS5's default of 1 MiB of new
/// entries in memory before it writes a segment.
const SEARCH_HASH_BULK: i64 = 64 << 20;

/// How many search entries the database holds.
pub async fn search_entry_count(tx: &mut Tx) -> Result<u64> {
    let (n,): (i64,) = on_tx!(tx, |c| sqlx::query_as(
        "SELECT count(*) FROM search_entries"
    )
    .fetch_one(c)
    .await)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Creates the indexes [`drop_secondary_indexes`] dropped.
pub async fn create_indexes(tx: &mut Tx, creates: &[String]) -> Result<()> {
    for sql in creates {
        exec_tx!(tx, |c| sqlx::query(sql).execute(c).await)?;
    }
    Ok(())
}

/// Checks the foreign keys of every restored row (SQLite defers nothing,
/// so this is a final safety net; PostgreSQL checked each insert).
pub async fn check_references(tx: &mut Tx) -> Result<()> {
    if tx.backend() == Backend::Sqlite {
        let rows: Vec<(String,)> = on_tx!(tx, |c| sqlx::query_as(
            "SELECT \"table\" FROM pragma_foreign_key_check"
        )
        .fetch_all(c)
        .await)?;
        if let Some((table,)) = rows.first() {
            return Err(StoreError::Corrupt(format!(
                "restored rows of {table} refer to rows that are not there"
            )));
        }
    }
    Ok(())
}

/// How many rows `table` holds (a drill compares them with the manifest).
pub async fn count_rows(tx: &mut Tx, table: &Table) -> Result<i64> {
    let sql = match tx.backend() {
        Backend::Sqlite => format!(
            "SELECT count(*) FROM {}.{}",
            table.sqlite_schema, table.name
        ),
        Backend::Postgres => format!("SELECT count(*) FROM {}", table.name),
    };
    let (n,): (i64,) = on_tx!(tx, |c| sqlx::query_as(&sql).fetch_one(c).await)?;
    Ok(n)
}

/// A few attachments' ids, at random (a drill opens them).
pub async fn sample_file_ids(tx: &mut Tx, n: i64) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id FROM files ORDER BY random() LIMIT $1"
    )
    .bind(n)
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

/// A database name a drill may create and drop: its own prefix, then
/// letters and digits only.
fn scratch_name_ok(name: &str) -> bool {
    name.starts_with("turva_drill_")
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Creates the PostgreSQL database `name` for a restore drill (the role
/// needs CREATEDB).
pub async fn create_scratch_database(db: &Db, name: &str) -> Result<()> {
    if !scratch_name_ok(name) {
        return Err(StoreError::Corrupt(format!(
            "{name} is not a drill database name"
        )));
    }
    if let Db::Postgres(pool) = db {
        let sql = format!("CREATE DATABASE {name}");
        sqlx::Executor::execute(pool, sqlx::raw_sql(&sql)).await?;
    }
    Ok(())
}

/// Drops a drill's PostgreSQL database.
pub async fn drop_scratch_database(db: &Db, name: &str) -> Result<()> {
    if !scratch_name_ok(name) {
        return Err(StoreError::Corrupt(format!(
            "{name} is not a drill database name"
        )));
    }
    if let Db::Postgres(pool) = db {
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        sqlx::Executor::execute(pool, sqlx::raw_sql(&sql)).await?;
    }
    Ok(())
}

/// Where a folder or document stands in the live system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveObject {
    pub company_id: String,
    pub is_folder: bool,
    /// In the trash (itself or through a folder above it).
    pub in_trash: bool,
}

/// The live state of the folder or document `id`, if it exists.
pub async fn live_object(tx: &mut Tx, id: &str) -> Result<Option<LiveObject>> {
    let folder: Option<(String, bool)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT company_id, in_trash FROM folders WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(c)
    .await)?;
    if let Some((company_id, in_trash)) = folder {
        return Ok(Some(LiveObject {
            company_id,
            is_folder: true,
            in_trash,
        }));
    }
    let doc: Option<(String, bool)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT d.company_id, d.deleted_at IS NOT NULL OR f.in_trash
         FROM documents d JOIN folders f ON f.id = d.folder_id WHERE d.id = $1"
    )
    .bind(id)
    .fetch_optional(c)
    .await)?;
    Ok(doc.map(|(company_id, in_trash)| LiveObject {
        company_id,
        is_folder: false,
        in_trash,
    }))
}

/// Whether the company exists and is not scheduled for deletion.
pub async fn company_is_live(tx: &mut Tx, company_id: &str) -> Result<bool> {
    let row: Option<(String,)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id FROM companies WHERE id = $1 AND deletion_scheduled_at IS NULL"
    )
    .bind(company_id)
    .fetch_optional(c)
    .await)?;
    Ok(row.is_some())
}

/// Whether the folder exists in the company and is not in the trash.
pub async fn folder_is_live(tx: &mut Tx, company_id: &str, id: &str) -> Result<bool> {
    let row: Option<(bool,)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT in_trash FROM folders WHERE id = $1 AND company_id = $2"
    )
    .bind(id)
    .bind(company_id)
    .fetch_optional(c)
    .await)?;
    Ok(row.is_some_and(|(t,)| !t))
}

/// Which of `ids` exist in `users` or `shares` (`table`): one statement,
/// the ids bound as one JSON array.
async fn existing(tx: &mut Tx, table: &str, ids: &[String]) -> Result<Vec<String>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = serde_json::to_string(ids).map_err(|e| StoreError::Corrupt(format!("ids: {e}")))?;
    let sql = match tx.backend() {
        Backend::Sqlite => {
            format!("SELECT id FROM {table} WHERE id IN (SELECT value FROM json_each($1))")
        }
        Backend::Postgres => format!(
            "SELECT id FROM {table} WHERE id IN (SELECT json_array_elements_text($1::json))"
        ),
    };
    let rows: Vec<(String,)> = on_tx!(tx, |c| sqlx::query_as(&sql).bind(&list).fetch_all(c).await)?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Which of `ids` are users that exist.
pub async fn existing_users(tx: &mut Tx, ids: &[String]) -> Result<Vec<String>> {
    existing(tx, "users", ids).await
}

/// Which of `ids` are shares that exist.
pub async fn existing_shares(tx: &mut Tx, ids: &[String]) -> Result<Vec<String>> {
    existing(tx, "shares", ids).await
}

/// The folders, documents and attachments' blob keys of a live folder's
/// sub-tree (or of one document), to compare with what a restore brings.
pub async fn live_subtree(
    tx: &mut Tx,
    id: &str,
    is_folder: bool,
) -> Result<(Vec<String>, Vec<String>, Vec<String>)> {
    let col = |rows: Vec<(String,)>| rows.into_iter().map(|(v,)| v).collect::<Vec<_>>();
    let (folders, docs): (Vec<(String,)>, Vec<(String,)>) = if is_folder {
        let f = on_tx!(tx, |c| sqlx::query_as(
            "SELECT folder_id FROM folder_paths WHERE ancestor_id = $1"
        )
        .bind(id)
        .fetch_all(c)
        .await)?;
        let d = on_tx!(tx, |c| sqlx::query_as(
            "SELECT d.id FROM documents d JOIN folder_paths p ON p.folder_id = d.folder_id
             WHERE p.ancestor_id = $1"
        )
        .bind(id)
        .fetch_all(c)
        .await)?;
        (f, d)
    } else {
        (Vec::new(), vec![(id.to_string(),)])
    };
    let docs = col(docs);
    let mut blobs = Vec::new();
    for d in &docs {
        let rows: Vec<(String,)> = on_tx!(tx, |c| sqlx::query_as(
            "SELECT blob_key FROM files WHERE document_id = $1"
        )
        .bind(d)
        .fetch_all(c)
        .await)?;
        blobs.extend(col(rows));
    }
    Ok((col(folders), docs, blobs))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::keys::DataKey;

    /// A migrated SQLite database in a directory of its own (kept while
    /// the directory lives).
    async fn migrated() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("turva.db"), &DataKey::random())
            .await
            .unwrap();
        crate::migrate::run(&db).await.unwrap();
        (dir, db)
    }

    #[test]
    fn a_page_comes_out_in_key_order_whatever_order_it_was_read_in() {
        let row = |k: i64| (k, format!("{{\"k\":{k}}}"));
        let sorted = vec![row(1), row(2), row(40)];
        assert_eq!(in_key_order(sorted.clone()), sorted);
        assert_eq!(in_key_order(vec![row(40), row(1), row(2)]), sorted);
        assert_eq!(in_key_order(Vec::new()), Vec::new());
    }

    /// The change triggers mark buckets of the size backups assume: every
    /// tracked table has its three, each marking `rowid >> BUCKET_SHIFT`,
    /// and a migrated database has no marks of another size.
    #[tokio::test]
    async fn the_change_triggers_mark_buckets_of_the_size_backups_read() {
        let (_dir, db) = migrated().await;
        let mut tx = db.read().await.unwrap();
        let triggers: Vec<(String, String)> = on_tx!(&mut tx, |c| sqlx::query_as(
            "SELECT name, sql FROM main.sqlite_master
             WHERE type = 'trigger' AND name LIKE 'backup\\_changes\\_%' ESCAPE '\\'
               AND name NOT LIKE 'backup\\_changes\\_owner\\_%' ESCAPE '\\'"
        )
        .fetch_all(c)
        .await)
        .unwrap();
        let tracked_tables: Vec<&Table> = TABLES.iter().filter(|t| tracked(t)).collect();
        assert_eq!(triggers.len(), 3 * tracked_tables.len(), "{triggers:?}");
        for (name, sql) in &triggers {
            assert!(
                sql.contains(&format!("rowid >> {BUCKET_SHIFT},")),
                "{name}: {sql}"
            );
            assert_eq!(sql.matches(">>").count(), 1, "{name}: {sql}");
        }
        for t in tracked_tables {
            for op in ["insert", "update", "delete"] {
                let name = format!("backup_changes_{}_{op}", t.name);
                assert!(triggers.iter().any(|(n, _)| *n == name), "{name} missing");
            }
        }
        let marks: (i64,) = on_tx!(&mut tx, |c| sqlx::query_as(
            "SELECT count(*) FROM backup_changes"
        )
        .fetch_one(c)
        .await)
        .unwrap();
        assert_eq!(marks.0, 0);
    }

    async fn index_list(tx: &mut Tx) -> Vec<(String, String)> {
        on_tx!(tx, |c| sqlx::query_as(
            "SELECT name, sql FROM main.sqlite_master WHERE type = 'index' AND sql IS NOT NULL
             UNION ALL
             SELECT 'audit.' || name, sql FROM audit.sqlite_master
             WHERE type = 'index' AND sql IS NOT NULL ORDER BY 1"
        )
        .fetch_all(c)
        .await)
        .unwrap()
    }

    /// A restore drops the secondary indexes before its load and creates
    /// the same ones, in the same files, afterwards.
    #[tokio::test]
    async fn secondary_indexes_come_back_as_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite_bulk(&dir.path().join("turva.db"), &DataKey::random(), 256_000)
            .await
            .unwrap();
        crate::migrate::run(&db).await.unwrap();
        let mut tx = db.write().await.unwrap();
        let before = index_list(&mut tx).await;
        assert!(before
            .iter()
            .any(|(n, _)| n == "audit.audit_events_company"));
        let creates = drop_secondary_indexes(&mut tx).await.unwrap();
        assert!(!creates.is_empty());
        let during = index_list(&mut tx).await;
        assert!(
            during
                .iter()
                .all(|(_, sql)| sql.starts_with("CREATE UNIQUE")),
            "{during:?}"
        );
        create_indexes(&mut tx, &creates).await.unwrap();
        let after = index_list(&mut tx).await;
        let normal = |v: &[(String, String)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(n, s)| (n.clone(), s.replace('"', "")))
                .collect()
        };
        assert_eq!(normal(&after), normal(&before));
        tx.commit().await.unwrap();
    }

    /// A restore loads with foreign keys unenforced and `OR FAIL` (no
    /// statement journal); a row that refers to a missing one is still
    /// refused, once, after the load. The bulk file (its journal in memory)
    /// opens normally afterwards, in WAL.
    #[tokio::test]
    async fn a_bulk_load_still_refuses_rows_that_refer_to_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("turva.db");
        let key = DataKey::random();
        let db = Db::open_sqlite_bulk(&path, &key, 256_000).await.unwrap();
        crate::migrate::run(&db).await.unwrap();
        db.enforce_foreign_keys(false).await.unwrap();
        let mut tx = db.write().await.unwrap();
        let folders = TABLES.iter().find(|t| t.name == "folders").unwrap();
        let sqls = insert_sql(&mut tx, folders, true).await.unwrap();
        assert!(sqls.iter().all(|s| s.starts_with("INSERT OR FAIL")));
        // Into a live database (one object), the triggers' own conflict
        // clauses must hold.
        let live = insert_sql(&mut tx, folders, false).await.unwrap();
        assert!(
            live.iter().all(|s| s.starts_with("INSERT INTO")),
            "{live:?}"
        );
        let row = r#"[{"id":"f1","company_id":"no-such-company","parent_id":null,
            "name":"Site","member_access":"inherit","access_in_force":"view",
            "template_id":null,"identifiers":null,"created_by":"u","created_at":1,
            "updated_at":1,"deleted_at":null,"deleted_by":null,"in_trash":0}]"#;
        let cols = sqlite_columns(&mut tx, folders).await.unwrap();
        assert!(
            cols.iter().all(|(c, _)| row.contains(&format!("\"{c}\""))),
            "{cols:?}"
        );
        assert_eq!(insert(&mut tx, &sqls, row).await.unwrap(), 1);
        let refused = check_references(&mut tx).await.unwrap_err();
        assert!(refused.to_string().contains("folders"), "{refused}");
        drop(tx);
        db.enforce_foreign_keys(true).await.unwrap();
        let mut tx = db.write().await.unwrap();
        let enforced = insert(&mut tx, &sqls, row).await;
        assert!(enforced.is_err(), "enforced again: {enforced:?}");
        drop(tx);
        db.close().await;

        let db = Db::open_sqlite(&path, &key).await.unwrap();
        let mut tx = db.read().await.unwrap();
        let (mode,): (String,) = on_tx!(&mut tx, |c| sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(c)
            .await)
        .unwrap();
        assert_eq!(mode, "wal");
        drop(tx);
        db.close().await;
    }

    /// A whole restore's full-text index, built on a connection of its own
    /// in a file beside the new database, is copied in whole: the new
    /// database finds its rows and FTS5 finds index and text agreeing. A
    /// row the builder refuses fails the build, and nothing is copied.
    #[tokio::test]
    async fn a_full_text_index_built_beside_the_load_is_copied_in_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("turva.db");
        let side = dir.path().join("search-build.db");
        let key = DataKey::random();
        let db = Db::open_sqlite_bulk(&path, &key, 64_000).await.unwrap();
        crate::migrate::run(&db).await.unwrap();
        let row = |rowid: i64, title: &str| {
            format!(r#"{{"rowid":{rowid},"title":"{title}","body":"runko","scope":"cabc"}}"#)
        };

        let mut tx = db.write().await.unwrap();
        let mut build = SearchBuild::start(&mut tx, &side, &key).await.unwrap();
        tx.commit().await.unwrap();
        build
            .send(format!(
                "[{},{}]",
                row(1, "Mittaus yksi"),
                row(2, "Mittaus kaksi")
            ))
            .await
            .unwrap();
        build
            .send(format!("[{}]", row(5, "Muistio")))
            .await
            .unwrap();
        assert_eq!(build.finish(&path).await.unwrap(), 3);
        assert!(!side.exists());
        let mut tx = db.write().await.unwrap();
        let hits: Vec<(i64,)> = on_tx!(&mut tx, |c| sqlx::query_as(
            "SELECT rowid FROM search_text WHERE search_text MATCH 'mittaus' ORDER BY rowid"
        )
        .fetch_all(c)
        .await)
        .unwrap();
        assert_eq!(hits, vec![(1,), (2,)]);
        exec_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO search_text (search_text, rank) VALUES ('integrity-check', 1)"
        )
        .execute(c)
        .await)
        .unwrap();
        tx.commit().await.unwrap();

        // Another build whose rows collide: it fails, and the index
        // copied before stays as it was.
        let mut tx = db.write().await.unwrap();
        let mut build = SearchBuild::start(&mut tx, &side, &key).await.unwrap();
        tx.commit().await.unwrap();
        let _ = build
            .send(format!("[{},{}]", row(7, "Toinen"), row(7, "Toinen")))
            .await;
        assert!(build.finish(&path).await.is_err());
        assert!(!side.exists());
        let mut tx = db.read().await.unwrap();
        let (n,): (i64,) = on_tx!(&mut tx, |c| sqlx::query_as(
            "SELECT count(*) FROM search_text"
        )
        .fetch_one(c)
        .await)
        .unwrap();
        assert_eq!(n, 3);
        drop(tx);
        db.close().await;
    }

    /// A company's or a person's rows are found through an index: a backup
    /// of a hundred companies must not read every company's rows a
    /// hundred times (a company holding most of them is read in passes).
    #[tokio::test]
    async fn an_owners_rows_are_found_through_an_index() {
        let (_dir, db) = migrated().await;
        let mut tx = db.read().await.unwrap();
        for t in TABLES.iter().filter(|t| t.group != Group::Platform) {
            let sql = select_sql(&mut tx, t, false).await.unwrap();
            let q = format!("EXPLAIN QUERY PLAN {sql}");
            let plan: Vec<(i64, i64, i64, String)> =
                on_tx!(&mut tx, |c| sqlx::query_as(&q).bind("x").fetch_all(c).await).unwrap();
            for (_, _, _, step) in &plan {
                // A full-text row found by its rowid is a lookup.
                let lookup = step.contains("VIRTUAL TABLE INDEX 0:=");
                assert!(!step.starts_with("SCAN") || lookup, "{}: {step}", t.name);
            }
        }
    }

    /// SQLite reads big tables a page of rows at a time, on their key:
    /// every row comes once, in key order, across page boundaries (a
    /// composite key here: the log's tree nodes).
    #[tokio::test]
    async fn paged_reads_give_every_row_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("turva.db");
        let db = Db::open_sqlite(&path, &DataKey::random()).await.unwrap();
        crate::migrate::run(&db).await.unwrap();
        let mut tx = db.write().await.unwrap();
        let n = PAGE * 2 + 17;
        for i in 0..n {
            let (level, idx) = (i % 3, i / 3);
            exec_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO audit_nodes (level, idx, hash) VALUES ($1, $2, $3)"
            )
            .bind(level)
            .bind(idx)
            .bind(vec![1u8; 32])
            .execute(c)
            .await)
            .unwrap();
        }
        tx.commit().await.unwrap();
        let nodes = TABLES.iter().find(|t| t.name == "audit_nodes").unwrap();
        let mut tx = snapshot(&db).await.unwrap();
        let (send, mut recv) = mpsc::channel::<Vec<String>>(1024);
        let reader = tokio::spawn(async move {
            let mut rows = Vec::new();
            while let Some(batch) = recv.recv().await {
                rows.extend(batch);
            }
            rows
        });
        let count = dump(&mut tx, nodes, None, false, &send).await.unwrap();
        drop(send);
        let rows = reader.await.unwrap();
        assert_eq!(count, u64::try_from(n).unwrap());
        let keys: Vec<(i64, i64)> = rows
            .iter()
            .map(|r| {
                let v: serde_json::Value = serde_json::from_str(r).unwrap();
                (v["level"].as_i64().unwrap(), v["idx"].as_i64().unwrap())
            })
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(keys, sorted, "in key order, none twice");
        assert_eq!(keys.len(), usize::try_from(n).unwrap());
        assert_eq!(
            rows[0],
            format!("{{\"level\":0,\"idx\":0,\"hash\":\"{}\"}}", "01".repeat(32))
        );
    }

    /// A full pass over a large company's tracked table filtered on the
    /// company comes a page at a time: every row of the owner once, in
    /// rowid order, with its rowid, across page boundaries; no other
    /// owner's row (the full-text rows travel inside their entries).
    #[tokio::test]
    async fn a_full_pass_over_a_tracked_table_pages_in_rowid_order() {
        let (_dir, db) = migrated().await;
        db.enforce_foreign_keys(false).await.unwrap();
        let mut tx = db.write().await.unwrap();
        let n = PAGE * 2 + 17;
        for i in 1..=n + 40 {
            // Every tenth of the first rows is another company's.
            let company = if i % 10 == 0 && i < 400 { "c2" } else { "c1" };
            let rowid = i * 3;
            exec_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO search_entries (rowid, object_id, company_id) VALUES ($1, $2, $3)"
            )
            .bind(rowid)
            .bind(format!("o{rowid}"))
            .bind(company)
            .execute(c)
            .await)
            .unwrap();
            exec_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO search_text (rowid, title, body, scope) VALUES ($1, $2, 'b', 's')"
            )
            .bind(rowid)
            .bind(format!("line\nbreak {rowid}"))
            .execute(c)
            .await)
            .unwrap();
        }
        tx.commit().await.unwrap();
        let entries = TABLES.iter().find(|t| t.name == "search_entries").unwrap();
        let mut tx = snapshot(&db).await.unwrap();
        let (send, mut recv) = mpsc::channel::<BucketFeed>(1024);
        let reader = tokio::spawn(async move {
            let mut rows = Vec::new();
            while let Some(feed) = recv.recv().await {
                match feed {
                    BucketFeed::Rows(r) => rows.extend(r),
                    BucketFeed::Reuse(_) => panic!("a full pass reuses nothing"),
                }
            }
            rows
        });
        let count = dump_buckets(&mut tx, entries, "c1", None, &send)
            .await
            .unwrap();
        drop(send);
        let rows = reader.await.unwrap();
        let expected: Vec<i64> = (1..=n + 40)
            .filter(|i| !(i % 10 == 0 && *i < 400))
            .map(|i| i * 3)
            .collect();
        assert_eq!(count, expected.len() as u64);
        assert!(expected.len() > usize::try_from(PAGE * 2).unwrap());
        let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, expected, "every row once, in rowid order");
        for (id, line) in &rows {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["rowid"], *id);
            assert_eq!(v["object_id"], format!("o{id}"));
            assert_eq!(v["company_id"], "c1");
            assert_eq!(v["title"], format!("line\nbreak {id}"));
        }

        // Every bucket was marked by the inserts: a later pass reads them
        // again, a page of buckets at a time (hundreds of buckets here),
        // the same rows in the same order, and names an unmarked bucket's
        // earlier chunk where that bucket falls (after the last row here).
        let generation = lineage(&mut tx).await.unwrap().unwrap().generation;
        let beyond = (expected.last().unwrap() >> BUCKET_SHIFT) + 1;
        let earlier = [(-1, 5usize), (beyond, 7), (beyond + 1, 8)];
        let (send, mut recv) = mpsc::channel::<BucketFeed>(1024);
        let reader = tokio::spawn(async move {
            let mut feeds = Vec::new();
            while let Some(feed) = recv.recv().await {
                match feed {
                    BucketFeed::Rows(r) => feeds.extend(r.into_iter().map(Ok)),
                    BucketFeed::Reuse(run) => feeds.extend(run.into_iter().map(Err)),
                }
            }
            feeds
        });
        let again = dump_buckets(&mut tx, entries, "c1", Some((generation, &earlier)), &send)
            .await
            .unwrap();
        drop(send);
        let feeds = reader.await.unwrap();
        assert_eq!(again, count);
        assert!(expected.len() > usize::try_from(PAGE).unwrap());
        assert_eq!(feeds.first(), Some(&Err(5)), "a bucket before every row");
        assert_eq!(
            feeds[feeds.len() - 2..],
            [Err(7), Err(8)],
            "the unmarked buckets' chunks come last"
        );
        let reread: Vec<(i64, String)> = feeds.into_iter().filter_map(Result::ok).collect();
        assert_eq!(reread, rows, "the same rows, in the same order");
    }
}
