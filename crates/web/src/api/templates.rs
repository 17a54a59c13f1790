//! `/companies/{cid}/templates`, `/templates/{id}`, and folder templates.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use turva_app::model::template::Field;
use turva_app::templates::{self, Definition, DefinitionChanges, FolderTemplateView, TemplateView};
use turva_app::{App, AppError};
use utoipa::ToSchema;

use super::{List, PageQuery};
use crate::error::{ApiResult, Problem};
use crate::extract::{id, ApiJson, ApiPath, ApiQuery, Auth, ClientCtx};

#[derive(Serialize, ToSchema)]
pub struct TemplateJson {
    pub id: String,
    pub company_id: String,
    pub name: String,
    pub description: String,
    pub version: i64,
    /// Ordered fields: `{"key","type","label","help","required","unit","options"}`;
    /// types `text`, `long_text`, `number`, `date`, `checkbox`, `choice`,
    /// `multi_choice`, `file`, `signature`.
    #[schema(value_type = Vec<Object>)]
    pub fields: Value,
    pub created_at: String,
    pub updated_at: String,
}

fn template_json(t: TemplateView) -> TemplateJson {
    TemplateJson {
        fields: serde_json::to_value(&t.fields).unwrap_or(Value::Array(vec![])),
        id: t.row.id,
        company_id: t.row.company_id,
        name: t.row.name,
        description: t.row.description,
        version: t.row.version,
        created_at: super::time(t.row.created_at),
        updated_at: super::time(t.row.updated_at),
    }
}

fn parse_fields(v: Vec<Value>) -> Result<Vec<Field>, AppError> {
    v.into_iter()
        .enumerate()
        .map(|(i, f)| {
            serde_json::from_value::<Field>(f).map_err(|e| AppError::InvalidValue {
                field: format!("fields[{i}]"),
                reason: e.to_string(),
            })
        })
        .collect()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTemplate {
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub fields: Vec<Value>,
}

/// Creates a document template (admins).
#[utoipa::path(post, path = "/api/v1/companies/{cid}/templates", tag = "templates", params(("cid" = String, Path, description = "company id")), request_body = CreateTemplate, responses(
    (status = 201, description = "created (version 1)", body = TemplateJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not an admin", body = Problem),
    (status = 404, description = "no such company, or not yours", body = Problem),
    (status = 422, description = "a field definition breaks a rule", body = Problem)))]
pub async fn create_template(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(cid): ApiPath<String>,
    ApiJson(req): ApiJson<CreateTemplate>,
) -> ApiResult<Response> {
    let cid = id("cid", &cid)?;
    let fields = parse_fields(req.fields)?;
    let t = templates::create(
        &app,
        &ctx,
        &actor,
        &cid,
        &req.name,
        req.description.as_deref(),
        fields,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(template_json(t))).into_response())
}

/// A company's document templates (members).
#[utoipa::path(get, path = "/api/v1/companies/{cid}/templates", tag = "templates", params(("cid" = String, Path, description = "company id"), PageQuery), responses(
    (status = 200, description = "templates, newest versions", body = List<TemplateJson>),
    (status = 400, description = "malformed id or paging", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 404, description = "no such company, or not yours", body = Problem)))]
pub async fn list_templates(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(cid): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<List<TemplateJson>>> {
    let cid = id("cid", &cid)?;
    let page = templates::list(&app, &ctx, &actor, &cid, q.opaque_cursor(), q.limit()?).await?;
    Ok(Json(super::list(page, template_json)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// A version other than the newest.
    pub version: Option<i64>,
}

/// One document template (members).
#[utoipa::path(get, path = "/api/v1/templates/{id}", tag = "templates", params(("id" = String, Path, description = "template id"), VersionQuery), responses(
    (status = 200, description = "the template", body = TemplateJson),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 404, description = "no such template, or not yours", body = Problem)))]
pub async fn get_template(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(tid): ApiPath<String>,
    ApiQuery(q): ApiQuery<VersionQuery>,
) -> ApiResult<Json<TemplateJson>> {
    let tid = id("id", &tid)?;
    Ok(Json(template_json(
        templates::get(&app, &ctx, &actor, &tid, q.version).await?,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTemplate {
    pub name: Option<String>,
    pub description: Option<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub fields: Option<Vec<Value>>,
}

/// Changes a document template (admins): a new version; documents keep
/// the version they were made from.
#[utoipa::path(patch, path = "/api/v1/templates/{id}", tag = "templates", params(("id" = String, Path, description = "template id")), request_body = PatchTemplate, responses(
    (status = 200, description = "the new version", body = TemplateJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not an admin", body = Problem),
    (status = 404, description = "no such template, or not yours", body = Problem),
    (status = 422, description = "a field definition breaks a rule", body = Problem)))]
pub async fn patch_template(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(tid): ApiPath<String>,
    ApiJson(req): ApiJson<PatchTemplate>,
) -> ApiResult<Json<TemplateJson>> {
    let tid = id("id", &tid)?;
    let fields = req.fields.map(parse_fields).transpose()?;
    Ok(Json(template_json(
        templates::update(
            &app,
            &ctx,
            &actor,
            &tid,
            req.name.as_deref(),
            req.description.as_deref(),
            fields,
        )
        .await?,
    )))
}

#[derive(Serialize, ToSchema)]
pub struct FolderTemplateJson {
    pub id: String,
    pub company_id: String,
    pub name: String,
    pub version: i64,
    /// `identifiers` (`[{"key","label","required","names_folder"}]`),
    /// `folders` (`[{"name"}]`), `documents` (`[{"title","template_id"}]`).
    #[schema(value_type = Object)]
    pub identifiers: Value,
    #[schema(value_type = Vec<Object>)]
    pub folders: Value,
    #[schema(value_type = Vec<Object>)]
    pub documents: Value,
    pub created_at: String,
    pub updated_at: String,
}

fn ft_json(t: FolderTemplateView) -> FolderTemplateJson {
    let d = t.definition;
    FolderTemplateJson {
        identifiers: serde_json::to_value(&d.identifiers).unwrap_or_default(),
        folders: serde_json::to_value(&d.folders).unwrap_or_default(),
        documents: serde_json::to_value(&d.documents).unwrap_or_default(),
        id: t.row.id,
        company_id: t.row.company_id,
        name: t.row.name,
        version: t.row.version,
        created_at: super::time(t.row.created_at),
        updated_at: super::time(t.row.updated_at),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFolderTemplate {
    pub name: String,
    #[schema(value_type = Option<Vec<Object>>)]
    pub identifiers: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub folders: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub documents: Option<Value>,
}

fn definition(
    identifiers: Option<Value>,
    folders: Option<Value>,
    documents: Option<Value>,
) -> Result<Definition, AppError> {
    let mut m = serde_json::Map::new();
    for (k, v) in [
        ("identifiers", identifiers),
        ("folders", folders),
        ("documents", documents),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), v);
        }
    }
    serde_json::from_value(Value::Object(m)).map_err(|e| AppError::InvalidValue {
        field: "definition".into(),
        reason: e.to_string(),
    })
}

/// One part of a definition, parsed alone.
fn definition_part(name: &str, v: Value) -> Result<Definition, AppError> {
    let mut m = serde_json::Map::new();
    m.insert(name.into(), v);
    serde_json::from_value(Value::Object(m)).map_err(|e| AppError::InvalidValue {
        field: name.into(),
        reason: e.to_string(),
    })
}

/// Creates a folder template (admins).
#[utoipa::path(post, path = "/api/v1/companies/{cid}/folder-templates", tag = "templates", params(("cid" = String, Path, description = "company id")), request_body = CreateFolderTemplate, responses(
    (status = 201, description = "created", body = FolderTemplateJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not an admin", body = Problem),
    (status = 404, description = "no such company, or not yours", body = Problem),
    (status = 422, description = "the definition breaks a rule", body = Problem)))]
pub async fn create_folder_template(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(cid): ApiPath<String>,
    ApiJson(req): ApiJson<CreateFolderTemplate>,
) -> ApiResult<Response> {
    let cid = id("cid", &cid)?;
    let d = definition(req.identifiers, req.folders, req.documents)?;
    let t = templates::create_folder_template(&app, &ctx, &actor, &cid, &req.name, d).await?;
    Ok((StatusCode::CREATED, Json(ft_json(t))).into_response())
}

/// A company's folder templates (members).
#[utoipa::path(get, path = "/api/v1/companies/{cid}/folder-templates", tag = "templates", params(("cid" = String, Path, description = "company id"), PageQuery), responses(
    (status = 200, description = "folder templates", body = List<FolderTemplateJson>),
    (status = 400, description = "malformed id or paging", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 404, description = "no such company, or not yours", body = Problem)))]
pub async fn list_folder_templates(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(cid): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<List<FolderTemplateJson>>> {
    let cid = id("cid", &cid)?;
    let page =
        templates::list_folder_templates(&app, &ctx, &actor, &cid, q.opaque_cursor(), q.limit()?)
            .await?;
    Ok(Json(super::list(page, ft_json)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchFolderTemplate {
    pub name: Option<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub identifiers: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub folders: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub documents: Option<Value>,
}

/// Changes a folder template (admins); folders made earlier stay as they are.
#[utoipa::path(patch, path = "/api/v1/folder-templates/{id}", tag = "templates", params(("id" = String, Path, description = "folder template id")), request_body = PatchFolderTemplate, responses(
    (status = 200, description = "changed", body = FolderTemplateJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not an admin", body = Problem),
    (status = 404, description = "no such folder template, or not yours", body = Problem),
    (status = 422, description = "the definition breaks a rule", body = Problem)))]
pub async fn patch_folder_template(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(tid): ApiPath<String>,
    ApiJson(req): ApiJson<PatchFolderTemplate>,
) -> ApiResult<Json<FolderTemplateJson>> {
    let tid = id("id", &tid)?;
    // Each part given replaces that part; the others stay.
    let part = |v: Option<Value>, name: &str| -> Result<Option<Definition>, AppError> {
        v.map(|v| definition_part(name, v)).transpose()
    };
    let changes = DefinitionChanges {
        identifiers: part(req.identifiers, "identifiers")?.map(|d| d.identifiers),
        folders: part(req.folders, "folders")?.map(|d| d.folders),
        documents: part(req.documents, "documents")?.map(|d| d.documents),
    };
    Ok(Json(ft_json(
        templates::update_folder_template(&app, &ctx, &actor, &tid, req.name.as_deref(), changes)
            .await?,
    )))
}
