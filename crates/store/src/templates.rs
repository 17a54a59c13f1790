//! The `templates`, `template_versions` and `folder_templates` tables.
//! A document template's row holds its newest version number; each version
//! (the fields as JSON) is a row of its own and never changes.

use turva_model::access::{Action, Allowed};

use crate::db::Tx;
use crate::error::{require, Result};
use crate::{exec_tx, on_tx, Millis};

/// One version of a document template.
#[derive(Debug, Clone)]
pub struct TemplateRow {
    pub id: String,
    pub company_id: String,
    pub name: String,
    pub description: String,
    pub version: i64,
    /// JSON array of field definitions.
    pub fields: String,
    pub created_by: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

type Tuple = (
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    i64,
    i64,
);

fn from_tuple(t: Tuple) -> TemplateRow {
    TemplateRow {
        id: t.0,
        company_id: t.1,
        name: t.2,
        description: t.3,
        version: t.4,
        fields: t.5,
        created_by: t.6,
        created_at: t.7,
        updated_at: t.8,
    }
}

const SELECT: &str = "SELECT t.id, t.company_id, v.name, v.description, v.version, v.fields, t.created_by, t.created_at, t.updated_at
    FROM templates t JOIN template_versions v ON v.template_id = t.id";

async fn insert_version(tx: &mut Tx, t: &TemplateRow) -> Result<()> {
    exec_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO template_versions (template_id, version, name, description, fields, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(&t.id)
    .bind(t.version)
    .bind(&t.name)
    .bind(&t.description)
    .bind(&t.fields)
    .bind(&t.created_by)
    .bind(t.updated_at)
    .execute(c)
    .await
    })?;
    Ok(())
}

/// Inserts a new template at version 1.
pub async fn insert_template(tx: &mut Tx, proof: &Allowed, t: &TemplateRow) -> Result<()> {
    require(proof, |a| matches!(a, Action::ManageTemplates))?;
    exec_tx!(tx, |c| sqlx::query(
        "INSERT INTO templates (id, company_id, name, version, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(&t.id)
    .bind(&t.company_id)
    .bind(&t.name)
    .bind(t.version)
    .bind(&t.created_by)
    .bind(t.created_at)
    .bind(t.updated_at)
    .execute(c)
    .await)?;
    insert_version(tx, t).await
}

/// Stores `t` as the template's newest version (`t.version` one above the
/// current), by `author`.
pub async fn add_version(
    tx: &mut Tx,
    proof: &Allowed,
    t: &TemplateRow,
    author: &str,
) -> Result<()> {
    require(proof, |a| matches!(a, Action::ManageTemplates))?;
    exec_tx!(tx, |c| {
        sqlx::query(
        "UPDATE templates SET name = $3, version = $4, updated_at = $5 WHERE id = $1 AND company_id = $2"
    )
    .bind(&t.id)
    .bind(&t.company_id)
    .bind(&t.name)
    .bind(t.version)
    .bind(t.updated_at)
    .execute(c)
    .await
    })?;
    let mut v = t.clone();
    v.created_by = author.to_string();
    insert_version(tx, &v).await
}

/// A template of a company: its newest version, or version `version`.
pub async fn template(
    tx: &mut Tx,
    company_id: &str,
    id: &str,
    version: Option<i64>,
) -> Result<Option<TemplateRow>> {
    let sql = format!(
        "{SELECT} WHERE t.id = $1 AND t.company_id = $2 AND v.version = COALESCE($3, t.version)"
    );
    let row: Option<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .bind(company_id)
        .bind(version)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(from_tuple))
}

/// A template by id alone, newest version, with the company it belongs to.
pub async fn template_by_id(tx: &mut Tx, id: &str) -> Result<Option<TemplateRow>> {
    let sql = format!("{SELECT} WHERE t.id = $1 AND v.version = t.version");
    let row: Option<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(from_tuple))
}

/// A company's templates (newest versions) by name, after `(name, id)`.
pub async fn templates_of(
    tx: &mut Tx,
    company_id: &str,
    after: Option<(&str, &str)>,
    limit: i64,
) -> Result<Vec<TemplateRow>> {
    let sql = format!(
        "{SELECT} WHERE t.company_id = $1 AND v.version = t.version
           AND (t.name > $2 OR (t.name = $2 AND t.id > $3))
         ORDER BY t.name, t.id LIMIT $4"
    );
    let (an, ai) = after.unwrap_or(("", ""));
    let rows: Vec<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(company_id)
        .bind(an)
        .bind(ai)
        .bind(limit)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(from_tuple).collect())
}

/// A folder template: identifier fields and one level of sub-folders and
/// documents, as JSON in `definition`.
#[derive(Debug, Clone)]
pub struct FolderTemplateRow {
    pub id: String,
    pub company_id: String,
    pub name: String,
    pub version: i64,
    pub definition: String,
    pub created_by: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

type FtTuple = (String, String, String, i64, String, String, i64, i64);

fn ft_from(t: FtTuple) -> FolderTemplateRow {
    FolderTemplateRow {
        id: t.0,
        company_id: t.1,
        name: t.2,
        version: t.3,
        definition: t.4,
        created_by: t.5,
        created_at: t.6,
        updated_at: t.7,
    }
}

const FT_SELECT: &str = "SELECT id, company_id, name, version, definition, created_by, created_at, updated_at FROM folder_templates";

pub async fn insert_folder_template(
    tx: &mut Tx,
    proof: &Allowed,
    t: &FolderTemplateRow,
) -> Result<()> {
    require(proof, |a| matches!(a, Action::ManageTemplates))?;
    exec_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO folder_templates (id, company_id, name, version, definition, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )
    .bind(&t.id)
    .bind(&t.company_id)
    .bind(&t.name)
    .bind(t.version)
    .bind(&t.definition)
    .bind(&t.created_by)
    .bind(t.created_at)
    .bind(t.updated_at)
    .execute(c)
    .await
    })?;
    Ok(())
}

pub async fn update_folder_template(
    tx: &mut Tx,
    proof: &Allowed,
    t: &FolderTemplateRow,
) -> Result<()> {
    require(proof, |a| matches!(a, Action::ManageTemplates))?;
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE folder_templates SET name = $3, version = $4, definition = $5, updated_at = $6
         WHERE id = $1 AND company_id = $2"
    )
    .bind(&t.id)
    .bind(&t.company_id)
    .bind(&t.name)
    .bind(t.version)
    .bind(&t.definition)
    .bind(t.updated_at)
    .execute(c)
    .await)?;
    Ok(())
}

pub async fn folder_template(
    tx: &mut Tx,
    company_id: &str,
    id: &str,
) -> Result<Option<FolderTemplateRow>> {
    let sql = format!("{FT_SELECT} WHERE id = $1 AND company_id = $2");
    let row: Option<FtTuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .bind(company_id)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(ft_from))
}

pub async fn folder_template_by_id(tx: &mut Tx, id: &str) -> Result<Option<FolderTemplateRow>> {
    let sql = format!("{FT_SELECT} WHERE id = $1");
    let row: Option<FtTuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(ft_from))
}

pub async fn folder_templates_of(
    tx: &mut Tx,
    company_id: &str,
    after: Option<(&str, &str)>,
    limit: i64,
) -> Result<Vec<FolderTemplateRow>> {
    let sql = format!(
        "{FT_SELECT} WHERE company_id = $1 AND (name > $2 OR (name = $2 AND id > $3))
         ORDER BY name, id LIMIT $4"
    );
    let (an, ai) = after.unwrap_or(("", ""));
    let rows: Vec<FtTuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(company_id)
        .bind(an)
        .bind(ai)
        .bind(limit)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(ft_from).collect())
}
