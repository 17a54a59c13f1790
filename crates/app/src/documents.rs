//! Documents: create in a folder (from a template or blank), read, change
//! (each change a new version; a stale version is refused), history,
//! compare, restore an earlier version, delete to the trash.

use serde_json::{Map, Value};
use turva_model::access::{ObjectAction, Right};
use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_model::template::{self, Field};
use turva_model::validate;
use turva_store::documents::{self, DocumentRow, VersionRow};
use turva_store::files::{self, FileRow};
use turva_store::{search, Tx};

use crate::audit::{self, Event};
use crate::cursor::{self, Page};
use crate::objects::{self, DocFacts};
use crate::secret::new_id;
use crate::{folders, templates, Actor, App, AppError, Ctx};

/// A document as the caller sees it.
#[derive(Debug, Clone)]
pub struct DocumentView {
    pub doc: DocumentRow,
    pub fields: Map<String, Value>,
    /// Its attachments in this version.
    pub files: Vec<FileRow>,
    /// The caller's effective right on it.
    pub right: Right,
}

/// Longest document title, in characters.
pub const TITLE_MAX: usize = 200;

fn title(text: &str) -> Result<String, AppError> {
    let t = validate::name("title", text)?;
    if t.chars().count() > TITLE_MAX {
        return Err(AppError::malformed("title", "is too long"));
    }
    Ok(t)
}

fn parse_map(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).unwrap_or_default()
}

fn parse_ids(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, AppError> {
    serde_json::to_string(v).map_err(|e| AppError::Internal(e.to_string()))
}

/// Puts a document's text (title, field values, attachment names) in the
/// search index.
pub(crate) async fn reindex(
    tx: &mut Tx,
    d: &DocumentRow,
    files: &[FileRow],
) -> Result<(), AppError> {
    fn text_of(v: &Value, out: &mut String) {
        match v {
            Value::String(s) if !s.starts_with("data:") => {
                out.push_str(s);
                out.push(' ');
            }
            Value::Number(n) => {
                out.push_str(&n.to_string());
                out.push(' ');
            }
            Value::Array(a) => a.iter().for_each(|i| text_of(i, out)),
            Value::Object(o) => o.values().for_each(|i| text_of(i, out)),
            _ => {}
        }
    }
    let mut body = String::new();
    for v in parse_map(&d.fields).values() {
        text_of(v, &mut body);
    }
    let current = parse_ids(&d.files);
    for f in files.iter().filter(|f| current.contains(&f.id)) {
        body.push_str(&f.name);
        body.push(' ');
    }
    search::index_document(tx, &d.company_id, &d.id, &d.title, &body).await?;
    Ok(())
}

/// The template fields a document follows (none for a blank document).
async fn fields_of(tx: &mut Tx, d: &DocumentRow) -> Result<Vec<Field>, AppError> {
    match &d.template_id {
        Some(tid) => Ok(
            templates::for_document(tx, &d.company_id, tid, d.template_version)
                .await?
                .map(|t| t.fields)
                .unwrap_or_default(),
        ),
        None => Ok(Vec::new()),
    }
}

async fn current_files(tx: &mut Tx, d: &DocumentRow) -> Result<Vec<FileRow>, AppError> {
    let ids = parse_ids(&d.files);
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(files::files_of_document(tx, &d.company_id, &d.id)
        .await?
        .into_iter()
        .filter(|f| ids.contains(&f.id))
        .collect())
}

/// What a new document is made of.
#[derive(Debug, Clone, Default)]
pub struct NewDocument<'a> {
    pub title: &'a str,
    pub template_id: Option<&'a str>,
    pub fields: Option<&'a Map<String, Value>>,
}

/// Creates a document in a folder (edit on the folder).
pub async fn create(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    folder_id: &str,
    new: NewDocument<'_>,
) -> Result<DocumentView, AppError> {
    let title = title(new.title)?;
    let (mut tx, f, proof) = folders::load(
        app,
        ctx,
        actor,
        folder_id,
        AuditAction::DocumentCreate,
        ObjectAction::Edit,
    )
    .await?;
    let company_id = f.folder.company_id.clone();
    let tv = match new.template_id {
        Some(tid) => Some(
            templates::for_document(&mut tx, &company_id, tid, None)
                .await?
                .ok_or_else(|| {
                    AppError::invalid("template_id", "is not a template of this company")
                })?,
        ),
        None => None,
    };
    let field_defs = tv.as_ref().map(|t| t.fields.clone()).unwrap_or_default();
    let mut values = Map::new();
    if let Some(given) = new.fields {
        template::apply_values(&field_defs, &mut values, given, &|_| false)?;
    }
    let now = app.now();
    let row = DocumentRow {
        id: new_id(),
        company_id: company_id.clone(),
        folder_id: folder_id.to_string(),
        title,
        template_id: tv.as_ref().map(|t| t.row.id.clone()),
        template_version: tv.as_ref().map(|t| t.row.version),
        fields: to_json(&values)?,
        files: "[]".into(),
        status: "draft".into(),
        version: 1,
        created_by: actor.user_id.clone(),
        created_at: now,
        updated_by: actor.user_id.clone(),
        updated_at: now,
        deleted_at: None,
    };
    documents::insert_document(&mut tx, &proof, &row).await?;
    reindex(&mut tx, &row, &[]).await?;
    let mut ev = Event::new(AuditAction::DocumentCreate, Outcome::Allowed)
        .actor(actor)
        .company(&company_id)
        .object(ObjectType::Document, &row.id);
    ev.object_version = Some(1);
    audit::record(app, &mut tx, ctx, ev).await?;
    let right = objects::doc_facts(app, &mut tx, actor, &row.id)
        .await?
        .and_then(|d| objects::right_of(&d.facts))
        .unwrap_or(Right::View);
    tx.commit().await?;
    Ok(DocumentView {
        doc: row,
        fields: values,
        files: Vec::new(),
        right,
    })
}

/// Loads a document and decides `action` on it (recording a denial).
pub(crate) async fn load(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    audit_action: AuditAction,
    action: ObjectAction,
) -> Result<(Tx, DocFacts, turva_model::access::Allowed), AppError> {
    // A view only reads: a pooled reader, no transaction, no write lock.
    let mut tx = if action == ObjectAction::View {
        app.db().reader().await?
    } else {
        app.db().write().await?
    };
    let found = objects::doc_facts(app, &mut tx, actor, id).await?;
    let (tx, proof) = objects::decide(
        app,
        ctx,
        actor,
        tx,
        found
            .as_ref()
            .map(|d| (d.doc.company_id.as_str(), &d.facts)),
        (audit_action, ObjectType::Document, id),
        action,
    )
    .await?;
    let d = found.ok_or(AppError::NotFound)?;
    Ok((tx, d, proof))
}

/// One document (audited as a view of its version).
pub async fn get(app: &App, ctx: &Ctx, actor: &Actor, id: &str) -> Result<DocumentView, AppError> {
    let (mut tx, d, _) = load(
        app,
        ctx,
        actor,
        id,
        AuditAction::DocumentView,
        ObjectAction::View,
    )
    .await?;
    let files = current_files(&mut tx, &d.doc).await?;
    let mut ev = Event::new(AuditAction::DocumentView, Outcome::Allowed)
        .actor(actor)
        .company(&d.doc.company_id)
        .object(ObjectType::Document, id);
    ev.object_version = Some(d.doc.version);
    tx.commit().await?;
    audit::record_read(app, ctx, ev).await?;
    let right = objects::right_of(&d.facts).unwrap_or(Right::View);
    Ok(DocumentView {
        fields: parse_map(&d.doc.fields),
        doc: d.doc,
        files,
        right,
    })
}

/// The fields of the template version a document was made from, in
/// order (empty for a document without a template): what a page needs to
/// show its values with their labels. Taking the view is the proof that
/// the caller may see the document; nothing more is audited.
pub async fn form(app: &App, view: &DocumentView) -> Result<Vec<Field>, AppError> {
    let (Some(id), Some(version)) = (&view.doc.template_id, view.doc.template_version) else {
        return Ok(Vec::new());
    };
    let mut tx = app.db().read().await?;
    let row =
        turva_store::templates::template(&mut tx, &view.doc.company_id, id, Some(version)).await?;
    tx.commit().await?;
    match row {
        Some(r) => serde_json::from_str(&r.fields)
            .map_err(|e| AppError::Internal(format!("template {id} fields: {e}"))),
        None => Ok(Vec::new()),
    }
}

/// The names of the authors of a page of a document's history (taking the
/// page is the proof that the caller may read that history); an author
/// whose account is gone has no name.
pub async fn authors(
    app: &App,
    history: &Page<VersionRow>,
) -> Result<std::collections::HashMap<String, String>, AppError> {
    let mut names = std::collections::HashMap::new();
    let mut tx = app.db().read().await?;
    for v in &history.items {
        if names.contains_key(&v.author_id) {
            continue;
        }
        if let Some(u) = turva_store::users::user_by_id(&mut tx, &v.author_id).await? {
            names.insert(v.author_id.clone(), u.name);
        }
    }
    tx.commit().await?;
    Ok(names)
}

/// Changes to a document, made against `version`.
#[derive(Debug, Clone, Default)]
pub struct DocumentChanges<'a> {
    pub version: i64,
    pub title: Option<&'a str>,
    pub fields: Option<&'a Map<String, Value>>,
    pub status: Option<&'a str>,
}

/// Changes a document: a new version, or 409 when `version` is not the
/// newest.
pub async fn update(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    ch: DocumentChanges<'_>,
) -> Result<DocumentView, AppError> {
    let new_title = ch.title.map(title).transpose()?;
    let status = match ch.status {
        None => None,
        Some(s @ ("draft" | "completed")) => Some(s),
        Some(_) => return Err(AppError::invalid("status", "must be draft or completed")),
    };
    let (mut tx, d, proof) = load(
        app,
        ctx,
        actor,
        id,
        AuditAction::DocumentUpdate,
        ObjectAction::Edit,
    )
    .await?;
    let mut doc = d.doc;
    if ch.version != doc.version {
        return Err(AppError::Conflict(
            "the document changed since that version: read it again",
        ));
    }
    let defs = fields_of(&mut tx, &doc).await?;
    let attached = parse_ids(&doc.files);
    let mut values = parse_map(&doc.fields);
    let mut changes: Vec<String> = Vec::new();
    if let Some(given) = ch.fields {
        changes.extend(template::apply_values(&defs, &mut values, given, &|fid| {
            attached.iter().any(|a| a == fid)
        })?);
    }
    if let Some(t) = new_title.filter(|t| t != &doc.title) {
        doc.title = t;
        changes.push("title".into());
    }
    if let Some(s) = status.filter(|s| *s != doc.status) {
        doc.status = s.to_string();
        changes.push("status".into());
    }
    if doc.status == "completed" {
        if let Some(f) = template::missing_required(&defs, &values) {
            return Err(AppError::InvalidValue {
                field: format!("fields.{}", f.key),
                reason: "is required to complete the document".into(),
            });
        }
    }
    let files = current_files(&mut tx, &doc).await?;
    if changes.is_empty() {
        tx.commit().await?;
        return Ok(DocumentView {
            fields: values,
            files,
            right: objects::right_of(&d.facts).unwrap_or(Right::View),
            doc,
        });
    }
    let previous = doc.version;
    doc.fields = to_json(&values)?;
    doc.version += 1;
    doc.updated_by = actor.user_id.clone();
    doc.updated_at = app.now();
    documents::update_document(&mut tx, &proof, &doc, previous, &to_json(&changes)?, None).await?;
    reindex(&mut tx, &doc, &files).await?;
    let mut ev = Event::new(AuditAction::DocumentUpdate, Outcome::Allowed)
        .actor(actor)
        .company(&doc.company_id)
        .object(ObjectType::Document, id);
    ev.object_version = Some(doc.version);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(DocumentView {
        fields: values,
        files,
        right: objects::right_of(&d.facts).unwrap_or(Right::View),
        doc,
    })
}

/// Makes `doc` the newest version with `files` as its attachments (files
/// that leave are kept restorable; files that come back are attached
/// again), in the caller's transaction. Used by attachment changes and
/// version restores.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn store_new_version(
    tx: &mut Tx,
    proof: &turva_model::access::Allowed,
    doc: &mut DocumentRow,
    actor: &Actor,
    now: i64,
    new_files: Vec<String>,
    changes: &[String],
    restored_from: Option<i64>,
) -> Result<Vec<FileRow>, AppError> {
    let before = parse_ids(&doc.files);
    let gone: Vec<String> = before
        .iter()
        .filter(|f| !new_files.contains(f))
        .cloned()
        .collect();
    let back: Vec<String> = new_files
        .iter()
        .filter(|f| !before.contains(f))
        .cloned()
        .collect();
    files::set_detached(tx, proof, &doc.company_id, &gone, Some(now)).await?;
    files::set_detached(tx, proof, &doc.company_id, &back, None).await?;
    let previous = doc.version;
    doc.files = to_json(&new_files)?;
    doc.version += 1;
    doc.updated_by = actor.user_id.clone();
    doc.updated_at = now;
    documents::update_document(tx, proof, doc, previous, &to_json(&changes)?, restored_from)
        .await?;
    let files = current_files(tx, doc).await?;
    reindex(tx, doc, &files).await?;
    Ok(files)
}

/// Moves a document to the trash.
pub async fn delete(app: &App, ctx: &Ctx, actor: &Actor, id: &str) -> Result<(), AppError> {
    let (mut tx, d, proof) = load(
        app,
        ctx,
        actor,
        id,
        AuditAction::DocumentDelete,
        ObjectAction::Manage,
    )
    .await?;
    documents::set_deleted(
        &mut tx,
        &proof,
        &d.doc.company_id,
        id,
        Some((app.now(), &actor.user_id)),
    )
    .await?;
    let mut ev = Event::new(AuditAction::DocumentDelete, Outcome::Allowed)
        .actor(actor)
        .company(&d.doc.company_id)
        .object(ObjectType::Document, id);
    ev.object_version = Some(d.doc.version);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(())
}

/// A document's history, newest first.
pub async fn versions(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<VersionRow>, AppError> {
    let before = cursor
        .map(|c| {
            cursor::decode(c, 1)?[0]
                .parse::<i64>()
                .map_err(|_| AppError::malformed("cursor", "is not a cursor of this list"))
        })
        .transpose()?;
    let (mut tx, d, _) = load(
        app,
        ctx,
        actor,
        id,
        AuditAction::DocumentHistory,
        ObjectAction::View,
    )
    .await?;
    let mut rows = documents::versions(&mut tx, id, before, limit + 1).await?;
    let next_cursor = folders::next(&mut rows, limit, |v| {
        cursor::encode(&[&v.version.to_string()])
    });
    let mut ev = Event::new(AuditAction::DocumentHistory, Outcome::Allowed)
        .actor(actor)
        .company(&d.doc.company_id)
        .object(ObjectType::Document, id);
    ev.object_version = Some(d.doc.version);
    tx.commit().await?;
    audit::record_read(app, ctx, ev).await?;
    Ok(Page {
        items: rows,
        next_cursor,
    })
}

/// One earlier (or the newest) version of a document, with the files it
/// had that still exist.
pub async fn version(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    n: i64,
) -> Result<(VersionRow, Vec<FileRow>), AppError> {
    let (mut tx, d, _) = load(
        app,
        ctx,
        actor,
        id,
        AuditAction::DocumentVersionView,
        ObjectAction::View,
    )
    .await?;
    let v = documents::version(&mut tx, id, n)
        .await?
        .ok_or(AppError::NotFound)?;
    let ids = parse_ids(&v.files);
    let files = files::files_of_document(&mut tx, &d.doc.company_id, id)
        .await?
        .into_iter()
        .filter(|f| ids.contains(&f.id))
        .collect();
    let mut ev = Event::new(AuditAction::DocumentVersionView, Outcome::Allowed)
        .actor(actor)
        .company(&d.doc.company_id)
        .object(ObjectType::Document, id);
    ev.object_version = Some(n);
    tx.commit().await?;
    audit::record_read(app, ctx, ev).await?;
    Ok((v, files))
}

/// One difference between two versions.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// `title`, `status`, `files` or `fields.<key>`.
    pub what: String,
    pub before: Value,
    pub after: Value,
}

/// What differs between versions `a` and `b` of a document.
pub async fn compare(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    a: i64,
    b: i64,
) -> Result<Vec<Difference>, AppError> {
    let (mut tx, d, _) = load(
        app,
        ctx,
        actor,
        id,
        AuditAction::DocumentVersionView,
        ObjectAction::View,
    )
    .await?;
    let va = documents::version(&mut tx, id, a)
        .await?
        .ok_or(AppError::NotFound)?;
    let vb = documents::version(&mut tx, id, b)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut out = Vec::new();
    let mut diff = |what: String, x: Value, y: Value| {
        if x != y {
            out.push(Difference {
                what,
                before: x,
                after: y,
            });
        }
    };
    diff(
        "title".into(),
        Value::String(va.title.clone()),
        Value::String(vb.title.clone()),
    );
    diff(
        "status".into(),
        Value::String(va.status.clone()),
        Value::String(vb.status.clone()),
    );
    let (fa, fb) = (parse_map(&va.fields), parse_map(&vb.fields));
    let mut keys: Vec<&String> = fa.keys().chain(fb.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        diff(
            format!("fields.{k}"),
            fa.get(k).cloned().unwrap_or(Value::Null),
            fb.get(k).cloned().unwrap_or(Value::Null),
        );
    }
    let ids = |t: &str| Value::from(parse_ids(t));
    diff("files".into(), ids(&va.files), ids(&vb.files));
    let mut ev = Event::new(AuditAction::DocumentVersionView, Outcome::Allowed)
        .actor(actor)
        .company(&d.doc.company_id)
        .object(ObjectType::Document, id);
    ev.object_version = Some(b);
    tx.commit().await?;
    audit::record_read(app, ctx, ev).await?;
    Ok(out)
}

/// Makes version `n` the newest version again (a new version with its
/// content; attachments it had come back if they still exist).
pub async fn restore_version(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    n: i64,
) -> Result<DocumentView, AppError> {
    let (mut tx, d, proof) = load(
        app,
        ctx,
        actor,
        id,
        AuditAction::DocumentVersionRestore,
        ObjectAction::Edit,
    )
    .await?;
    let mut doc = d.doc;
    let v = documents::version(&mut tx, id, n)
        .await?
        .ok_or(AppError::NotFound)?;
    let existing: Vec<String> = files::files_of_document(&mut tx, &doc.company_id, id)
        .await?
        .into_iter()
        .map(|f| f.id)
        .collect();
    let wanted: Vec<String> = parse_ids(&v.files)
        .into_iter()
        .filter(|f| existing.contains(f))
        .collect();
    doc.title = v.title.clone();
    doc.fields = v.fields.clone();
    doc.status = v.status.clone();
    let changes = vec![format!("restored version {n}")];
    let now = app.now();
    let files = store_new_version(
        &mut tx,
        &proof,
        &mut doc,
        actor,
        now,
        wanted,
        &changes,
        Some(n),
    )
    .await?;
    let mut ev = Event::new(AuditAction::DocumentVersionRestore, Outcome::Allowed)
        .actor(actor)
        .company(&doc.company_id)
        .object(ObjectType::Document, id);
    ev.object_version = Some(doc.version);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(DocumentView {
        fields: parse_map(&doc.fields),
        doc,
        files,
        right: objects::right_of(&d.facts).unwrap_or(Right::View),
    })
}
