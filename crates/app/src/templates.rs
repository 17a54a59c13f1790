//! Document templates (typed, versioned fields) and folder templates
//! (project skeletons), and stamping a folder template out.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use turva_model::access::{self, Action, Allowed, ObjectAction};
use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_model::template::{self, Field};
use turva_model::validate;
use turva_store::folders::{self, FolderRow};
use turva_store::templates::{self as store, FolderTemplateRow, TemplateRow};
use turva_store::{documents, Tx};

use crate::audit::{self, Event};
use crate::companies;
use crate::cursor::{self, Page};
use crate::objects::{self, Denial};
use crate::secret::new_id;
use crate::{Actor, App, AppError, Ctx};

/// A document template version with its fields parsed.
#[derive(Debug, Clone)]
pub struct TemplateView {
    pub row: TemplateRow,
    pub fields: Vec<Field>,
}

fn view(row: TemplateRow) -> Result<TemplateView, AppError> {
    let fields: Vec<Field> = serde_json::from_str(&row.fields)
        .map_err(|e| AppError::Internal(format!("template {} fields: {e}", row.id)))?;
    Ok(TemplateView { row, fields })
}

/// Loads the company facts and decides a company-level template action.
async fn company_gate(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
    action: Action,
    audit_action: AuditAction,
    tx: &mut Option<Tx>,
) -> Result<Allowed, AppError> {
    let Some(t) = tx.as_mut() else {
        return Err(AppError::Internal("no transaction".into()));
    };
    let (company, facts) = companies::facts(app, t, actor, company_id).await?;
    match access::decide(&facts, action) {
        Ok(p) => Ok(p),
        Err(reason) => {
            drop(tx.take());
            Err(objects::denied(
                app,
                ctx,
                actor,
                Denial {
                    action: audit_action,
                    company_id: company.as_ref().map(|c| c.id.as_str()),
                    object: (ObjectType::Company, company_id),
                    reason,
                },
            )
            .await)
        }
    }
}

fn check_description(d: &str) -> Result<String, AppError> {
    if d.chars().count() > 2_000 {
        return Err(AppError::malformed("description", "is too long"));
    }
    if d.chars().any(|c| c.is_control() && c != '\n') {
        return Err(AppError::malformed(
            "description",
            "contains control characters",
        ));
    }
    Ok(d.to_string())
}

/// Creates a document template (admins).
pub async fn create(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
    name: &str,
    description: Option<&str>,
    fields: Vec<Field>,
) -> Result<TemplateView, AppError> {
    let name = validate::name("name", name)?;
    let description = check_description(description.unwrap_or(""))?;
    template::check_fields(&fields)?;
    let mut tx = Some(app.db().write().await?);
    let proof = company_gate(
        app,
        ctx,
        actor,
        company_id,
        Action::ManageTemplates,
        AuditAction::TemplateCreate,
        &mut tx,
    )
    .await?;
    let mut tx = tx.ok_or_else(|| AppError::Internal("no transaction".into()))?;
    let now = app.now();
    let row = TemplateRow {
        id: new_id(),
        company_id: company_id.to_string(),
        name,
        description,
        version: 1,
        fields: serde_json::to_string(&fields).map_err(|e| AppError::Internal(e.to_string()))?,
        created_by: actor.user_id.clone(),
        created_at: now,
        updated_at: now,
    };
    store::insert_template(&mut tx, &proof, &row).await?;
    let mut ev = Event::new(AuditAction::TemplateCreate, Outcome::Allowed)
        .actor(actor)
        .company(company_id)
        .object(ObjectType::Template, &row.id);
    ev.object_version = Some(1);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(TemplateView { row, fields })
}

/// Changes a document template: a new version (documents keep theirs).
pub async fn update(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    name: Option<&str>,
    description: Option<&str>,
    fields: Option<Vec<Field>>,
) -> Result<TemplateView, AppError> {
    let name = name.map(|n| validate::name("name", n)).transpose()?;
    let description = description.map(check_description).transpose()?;
    if let Some(f) = &fields {
        template::check_fields(f)?;
    }
    let mut t = app.db().write().await?;
    let current = store::template_by_id(&mut t, id).await?;
    let company_id = current
        .as_ref()
        .map(|c| c.company_id.clone())
        .unwrap_or_default();
    let mut tx = Some(t);
    let proof = company_gate(
        app,
        ctx,
        actor,
        &company_id,
        Action::ManageTemplates,
        AuditAction::TemplateUpdate,
        &mut tx,
    )
    .await?;
    let mut tx = tx.ok_or_else(|| AppError::Internal("no transaction".into()))?;
    let mut row = current.ok_or(AppError::NotFound)?;
    if let Some(n) = name {
        row.name = n;
    }
    if let Some(d) = description {
        row.description = d;
    }
    if let Some(f) = &fields {
        row.fields = serde_json::to_string(f).map_err(|e| AppError::Internal(e.to_string()))?;
    }
    row.version += 1;
    row.updated_at = app.now();
    store::add_version(&mut tx, &proof, &row, &actor.user_id).await?;
    let mut ev = Event::new(AuditAction::TemplateUpdate, Outcome::Allowed)
        .actor(actor)
        .company(&company_id)
        .object(ObjectType::Template, id);
    ev.object_version = Some(row.version);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    view(row)
}

/// A company's document templates (members).
pub async fn list(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<TemplateView>, AppError> {
    let after = cursor.map(|c| cursor::decode(c, 2)).transpose()?;
    let mut tx = Some(app.db().read().await?);
    company_gate(
        app,
        ctx,
        actor,
        company_id,
        Action::ViewTemplates,
        AuditAction::TemplateList,
        &mut tx,
    )
    .await?;
    let mut tx = tx.ok_or_else(|| AppError::Internal("no transaction".into()))?;
    let after_ref = after.as_ref().map(|a| (a[0].as_str(), a[1].as_str()));
    let mut rows = store::templates_of(&mut tx, company_id, after_ref, limit + 1).await?;
    let next_cursor = crate::folders::next(&mut rows, limit, |t| cursor::encode(&[&t.name, &t.id]));
    let ev = Event::new(AuditAction::TemplateList, Outcome::Allowed)
        .actor(actor)
        .company(company_id)
        .object(ObjectType::Company, company_id);
    tx.commit().await?;
    audit::record_read(app, ctx, ev).await?;
    Ok(Page {
        items: rows.into_iter().map(view).collect::<Result<_, _>>()?,
        next_cursor,
    })
}

/// One document template, newest version or `version` (members).
pub async fn get(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    version: Option<i64>,
) -> Result<TemplateView, AppError> {
    let mut t = app.db().read().await?;
    let current = store::template_by_id(&mut t, id).await?;
    let company_id = current
        .as_ref()
        .map(|c| c.company_id.clone())
        .unwrap_or_default();
    let mut tx = Some(t);
    company_gate(
        app,
        ctx,
        actor,
        &company_id,
        Action::ViewTemplates,
        AuditAction::TemplateView,
        &mut tx,
    )
    .await?;
    let mut tx = tx.ok_or_else(|| AppError::Internal("no transaction".into()))?;
    let row = store::template(&mut tx, &company_id, id, version)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut ev = Event::new(AuditAction::TemplateView, Outcome::Allowed)
        .actor(actor)
        .company(&company_id)
        .object(ObjectType::Template, id);
    ev.object_version = Some(row.version);
    tx.commit().await?;
    audit::record_read(app, ctx, ev).await?;
    view(row)
}

/// A template version for making a document in `company_id` (the caller
/// already has edit on the folder; templates of other companies do not
/// exist for them).
pub(crate) async fn for_document(
    tx: &mut Tx,
    company_id: &str,
    id: &str,
    version: Option<i64>,
) -> Result<Option<TemplateView>, AppError> {
    store::template(tx, company_id, id, version)
        .await?
        .map(view)
        .transpose()
}

// ---------------------------------------------------------------- folder templates

/// An identifier field of a folder template (e.g. a project number).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifierField {
    pub key: String,
    pub label: String,
    #[serde(default)]
    pub required: bool,
    /// This identifier's value names the folder when no name is given.
    #[serde(default)]
    pub names_folder: bool,
}

/// A sub-folder a folder template creates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubFolder {
    pub name: String,
}

/// A document a folder template creates, from a document template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubDocument {
    pub title: String,
    pub template_id: String,
}

/// What a folder template makes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    #[serde(default)]
    pub identifiers: Vec<IdentifierField>,
    #[serde(default)]
    pub folders: Vec<SubFolder>,
    #[serde(default)]
    pub documents: Vec<SubDocument>,
}

/// Parts of a folder template's definition to replace; absent parts stay.
#[derive(Debug, Clone, Default)]
pub struct DefinitionChanges {
    pub identifiers: Option<Vec<IdentifierField>>,
    pub folders: Option<Vec<SubFolder>>,
    pub documents: Option<Vec<SubDocument>>,
}

/// A folder template with its definition parsed.
#[derive(Debug, Clone)]
pub struct FolderTemplateView {
    pub row: FolderTemplateRow,
    pub definition: Definition,
}

fn ft_view(row: FolderTemplateRow) -> Result<FolderTemplateView, AppError> {
    let definition = serde_json::from_str(&row.definition)
        .map_err(|e| AppError::Internal(format!("folder template {}: {e}", row.id)))?;
    Ok(FolderTemplateView { row, definition })
}

async fn check_definition(tx: &mut Tx, company_id: &str, d: &Definition) -> Result<(), AppError> {
    let bad = |field: String, reason: &str| AppError::InvalidValue {
        field,
        reason: reason.into(),
    };
    if d.identifiers.len() > 50 || d.folders.len() > 100 || d.documents.len() > 100 {
        return Err(AppError::invalid(
            "definition",
            "at most 50 identifiers, 100 folders and 100 documents",
        ));
    }
    let mut keys = std::collections::HashSet::new();
    let mut namers = 0;
    for (i, f) in d.identifiers.iter().enumerate() {
        let key_ok = (1..=64).contains(&f.key.len())
            && f.key.starts_with(|c: char| c.is_ascii_lowercase())
            && f.key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !key_ok || !keys.insert(f.key.as_str()) {
            return Err(bad(
                format!("identifiers[{i}].key"),
                "must be a unique key of a-z, 0-9 and _",
            ));
        }
        validate::name("label", &f.label).map_err(|_| {
            bad(
                format!("identifiers[{i}].label"),
                "is required, at most 200 characters",
            )
        })?;
        namers += usize::from(f.names_folder);
    }
    if namers > 1 {
        return Err(AppError::invalid(
            "identifiers",
            "only one identifier may name the folder",
        ));
    }
    for (i, f) in d.folders.iter().enumerate() {
        validate::name("name", &f.name).map_err(|_| {
            bad(
                format!("folders[{i}].name"),
                "is required, at most 200 characters",
            )
        })?;
    }
    for (i, doc) in d.documents.iter().enumerate() {
        validate::name("title", &doc.title).map_err(|_| {
            bad(
                format!("documents[{i}].title"),
                "is required, at most 200 characters",
            )
        })?;
        if store::template(tx, company_id, &doc.template_id, None)
            .await?
            .is_none()
        {
            return Err(bad(
                format!("documents[{i}].template_id"),
                "is not a document template of this company",
            ));
        }
    }
    Ok(())
}

/// Creates a folder template (admins).
pub async fn create_folder_template(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
    name: &str,
    definition: Definition,
) -> Result<FolderTemplateView, AppError> {
    let name = validate::name("name", name)?;
    let mut tx = Some(app.db().write().await?);
    let proof = company_gate(
        app,
        ctx,
        actor,
        company_id,
        Action::ManageTemplates,
        AuditAction::FolderTemplateCreate,
        &mut tx,
    )
    .await?;
    let mut tx = tx.ok_or_else(|| AppError::Internal("no transaction".into()))?;
    check_definition(&mut tx, company_id, &definition).await?;
    let now = app.now();
    let row = FolderTemplateRow {
        id: new_id(),
        company_id: company_id.to_string(),
        name,
        version: 1,
        definition: serde_json::to_string(&definition)
            .map_err(|e| AppError::Internal(e.to_string()))?,
        created_by: actor.user_id.clone(),
        created_at: now,
        updated_at: now,
    };
    store::insert_folder_template(&mut tx, &proof, &row).await?;
    let mut ev = Event::new(AuditAction::FolderTemplateCreate, Outcome::Allowed)
        .actor(actor)
        .company(company_id)
        .object(ObjectType::FolderTemplate, &row.id);
    ev.object_version = Some(1);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(FolderTemplateView { row, definition })
}

/// Changes a folder template; folders made from it earlier stay as they are.
pub async fn update_folder_template(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    name: Option<&str>,
    changes: DefinitionChanges,
) -> Result<FolderTemplateView, AppError> {
    let name = name.map(|n| validate::name("name", n)).transpose()?;
    let mut t = app.db().write().await?;
    let current = store::folder_template_by_id(&mut t, id).await?;
    let company_id = current
        .as_ref()
        .map(|c| c.company_id.clone())
        .unwrap_or_default();
    let mut tx = Some(t);
    let proof = company_gate(
        app,
        ctx,
        actor,
        &company_id,
        Action::ManageTemplates,
        AuditAction::FolderTemplateUpdate,
        &mut tx,
    )
    .await?;
    let mut tx = tx.ok_or_else(|| AppError::Internal("no transaction".into()))?;
    let mut row = current.ok_or(AppError::NotFound)?;
    let mut d = ft_view(row.clone())?.definition;
    if let Some(i) = changes.identifiers {
        d.identifiers = i;
    }
    if let Some(f) = changes.folders {
        d.folders = f;
    }
    if let Some(docs) = changes.documents {
        d.documents = docs;
    }
    check_definition(&mut tx, &company_id, &d).await?;
    row.definition = serde_json::to_string(&d).map_err(|e| AppError::Internal(e.to_string()))?;
    if let Some(n) = name {
        row.name = n;
    }
    row.version += 1;
    row.updated_at = app.now();
    store::update_folder_template(&mut tx, &proof, &row).await?;
    let mut ev = Event::new(AuditAction::FolderTemplateUpdate, Outcome::Allowed)
        .actor(actor)
        .company(&company_id)
        .object(ObjectType::FolderTemplate, id);
    ev.object_version = Some(row.version);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    ft_view(row)
}

/// One folder template (members), audited as a view.
pub async fn get_folder_template(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
) -> Result<FolderTemplateView, AppError> {
    let mut t = app.db().read().await?;
    let current = store::folder_template_by_id(&mut t, id).await?;
    let company_id = current
        .as_ref()
        .map(|c| c.company_id.clone())
        .unwrap_or_default();
    let mut tx = Some(t);
    company_gate(
        app,
        ctx,
        actor,
        &company_id,
        Action::ViewTemplates,
        AuditAction::FolderTemplateView,
        &mut tx,
    )
    .await?;
    let tx = tx.ok_or_else(|| AppError::Internal("no transaction".into()))?;
    let row = current.ok_or(AppError::NotFound)?;
    let mut ev = Event::new(AuditAction::FolderTemplateView, Outcome::Allowed)
        .actor(actor)
        .company(&company_id)
        .object(ObjectType::FolderTemplate, id);
    ev.object_version = Some(row.version);
    tx.commit().await?;
    audit::record_read(app, ctx, ev).await?;
    ft_view(row)
}

/// A company's folder templates (members).
pub async fn list_folder_templates(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<FolderTemplateView>, AppError> {
    let after = cursor.map(|c| cursor::decode(c, 2)).transpose()?;
    let mut tx = Some(app.db().read().await?);
    company_gate(
        app,
        ctx,
        actor,
        company_id,
        Action::ViewTemplates,
        AuditAction::FolderTemplateList,
        &mut tx,
    )
    .await?;
    let mut tx = tx.ok_or_else(|| AppError::Internal("no transaction".into()))?;
    let after_ref = after.as_ref().map(|a| (a[0].as_str(), a[1].as_str()));
    let mut rows = store::folder_templates_of(&mut tx, company_id, after_ref, limit + 1).await?;
    let next_cursor = crate::folders::next(&mut rows, limit, |t| cursor::encode(&[&t.name, &t.id]));
    let ev = Event::new(AuditAction::FolderTemplateList, Outcome::Allowed)
        .actor(actor)
        .company(company_id)
        .object(ObjectType::Company, company_id);
    tx.commit().await?;
    audit::record_read(app, ctx, ev).await?;
    Ok(Page {
        items: rows.into_iter().map(ft_view).collect::<Result<_, _>>()?,
        next_cursor,
    })
}

/// A folder template of the company, for creating a folder from it.
pub(crate) async fn folder_template_for_use(
    tx: &mut Tx,
    company_id: &str,
    id: &str,
) -> Result<Option<FolderTemplateView>, AppError> {
    store::folder_template(tx, company_id, id)
        .await?
        .map(ft_view)
        .transpose()
}

/// Checks identifier values against a folder template and works out the
/// folder's name (given, or the naming identifier's value).
pub(crate) fn identifiers_for(
    t: &FolderTemplateView,
    name: Option<&str>,
    values: Option<&Map<String, Value>>,
) -> Result<(String, Option<Map<String, Value>>), AppError> {
    let empty = Map::new();
    let values = values.unwrap_or(&empty);
    let mut out = Map::new();
    for (k, v) in values {
        if !t.definition.identifiers.iter().any(|f| &f.key == k) {
            return Err(AppError::InvalidValue {
                field: format!("identifiers.{}", k.chars().take(64).collect::<String>()),
                reason: "is not an identifier of the folder template".into(),
            });
        }
        let text = match v {
            Value::String(s) => s.trim().to_string(),
            Value::Null => continue,
            _ => {
                return Err(AppError::InvalidValue {
                    field: format!("identifiers.{k}"),
                    reason: "must be a string".into(),
                })
            }
        };
        if text.chars().count() > 200 || text.chars().any(char::is_control) {
            return Err(AppError::InvalidValue {
                field: format!("identifiers.{k}"),
                reason: "must be at most 200 characters, without control characters".into(),
            });
        }
        if !text.is_empty() {
            out.insert(k.clone(), Value::String(text));
        }
    }
    for f in &t.definition.identifiers {
        if f.required && !out.contains_key(&f.key) {
            return Err(AppError::InvalidValue {
                field: format!("identifiers.{}", f.key),
                reason: "is required by the folder template".into(),
            });
        }
    }
    let named_by = t
        .definition
        .identifiers
        .iter()
        .find(|f| f.names_folder)
        .and_then(|f| out.get(&f.key))
        .and_then(Value::as_str);
    let name = match (name, named_by) {
        (Some(n), _) => n.to_string(),
        (None, Some(v)) => validate::name("name", v)?,
        (None, None) => return Err(AppError::malformed("name", "is required")),
    };
    Ok((name, Some(out)))
}

/// Makes a folder template's sub-folders and documents inside `folder`, in
/// the caller's transaction.
pub(crate) async fn stamp(
    app: &App,
    tx: &mut Tx,
    ctx: &Ctx,
    actor: &Actor,
    create_proof: &Allowed,
    folder: &FolderRow,
    t: &FolderTemplateView,
) -> Result<(), AppError> {
    // Creating inside the new folder needs edit on it, which its creator
    // holds; the policy gives the proof.
    let facts = objects::folder_facts(app, tx, actor, &folder.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let edit = access::decide_object(&facts.facts, ObjectAction::Edit)
        .map_err(|_| AppError::Forbidden("you may not create inside this folder"))?;
    let now = app.now();
    for sub in &t.definition.folders {
        let row = FolderRow {
            id: new_id(),
            company_id: folder.company_id.clone(),
            parent_id: Some(folder.id.clone()),
            name: sub.name.clone(),
            member_access: "inherit".into(),
            access_in_force: String::new(),
            template_id: None,
            identifiers: None,
            created_by: actor.user_id.clone(),
            created_at: now,
            updated_at: now,
            deleted_at: None,
            in_trash: false,
        };
        folders::insert_folder(tx, create_proof, &row).await?;
        let ev = Event::new(AuditAction::FolderCreate, Outcome::Allowed)
            .actor(actor)
            .company(&folder.company_id)
            .object(ObjectType::Folder, &row.id);
        audit::record(app, tx, ctx, ev).await?;
    }
    for d in &t.definition.documents {
        let tv = for_document(tx, &folder.company_id, &d.template_id, None)
            .await?
            .ok_or(AppError::Conflict(
                "a document template of the folder template no longer exists",
            ))?;
        let row = documents::DocumentRow {
            id: new_id(),
            company_id: folder.company_id.clone(),
            folder_id: folder.id.clone(),
            title: d.title.clone(),
            template_id: Some(tv.row.id.clone()),
            template_version: Some(tv.row.version),
            fields: "{}".into(),
            files: "[]".into(),
            status: "draft".into(),
            version: 1,
            created_by: actor.user_id.clone(),
            created_at: now,
            updated_by: actor.user_id.clone(),
            updated_at: now,
            deleted_at: None,
        };
        documents::insert_document(tx, &edit, &row).await?;
        crate::documents::reindex(tx, &row, &[]).await?;
        let mut ev = Event::new(AuditAction::DocumentCreate, Outcome::Allowed)
            .actor(actor)
            .company(&folder.company_id)
            .object(ObjectType::Document, &row.id);
        ev.object_version = Some(1);
        audit::record(app, tx, ctx, ev).await?;
    }
    Ok(())
}
