//! `/folders/{fid}/documents`, `/documents/{did}…`: documents and their
//! versions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use turva_app::documents::{self, DocumentChanges, DocumentView, NewDocument};
use turva_app::rows::{FileRow, VersionRow};
use turva_app::App;
use utoipa::ToSchema;

use super::{List, PageQuery};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{id, ApiJson, ApiPath, ApiQuery, Auth, ClientCtx};

#[derive(Serialize, ToSchema)]
pub struct FileJson {
    pub id: String,
    pub name: String,
    pub size: i64,
    pub sha256: String,
    pub content_type: String,
}

pub fn file_json(f: FileRow) -> FileJson {
    FileJson {
        id: f.id,
        name: f.name,
        size: f.size,
        sha256: f.sha256,
        content_type: f.content_type,
    }
}

#[derive(Serialize, ToSchema)]
pub struct DocumentJson {
    pub id: String,
    pub company_id: String,
    pub folder_id: String,
    pub title: String,
    pub template_id: Option<String>,
    pub template_version: Option<i64>,
    /// Values keyed by field key.
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
    pub files: Vec<FileJson>,
    /// `draft` or `completed`.
    pub status: String,
    pub version: i64,
    pub created_by: String,
    pub created_at: String,
    pub updated_by: String,
    pub updated_at: String,
    /// The caller's right on it: `view`, `edit` or `manage`.
    pub right: String,
}

fn doc_json(v: DocumentView) -> DocumentJson {
    let d = v.doc;
    DocumentJson {
        id: d.id,
        company_id: d.company_id,
        folder_id: d.folder_id,
        title: d.title,
        template_id: d.template_id,
        template_version: d.template_version,
        fields: v.fields,
        files: v.files.into_iter().map(file_json).collect(),
        status: d.status,
        version: d.version,
        created_by: d.created_by,
        created_at: super::time(d.created_at),
        updated_by: d.updated_by,
        updated_at: super::time(d.updated_at),
        right: v.right.as_str().into(),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDocument {
    pub title: String,
    /// A document template of the company; absent: a blank document.
    pub template_id: Option<String>,
    /// Initial values, keyed by field key.
    #[schema(value_type = Option<Object>)]
    pub fields: Option<Map<String, Value>>,
}

/// Creates a document in a folder (edit on the folder).
#[utoipa::path(post, path = "/api/v1/folders/{fid}/documents", tag = "documents", params(("fid" = String, Path, description = "folder id")), request_body = CreateDocument, responses(
    (status = 201, description = "created (version 1, draft)", body = DocumentJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "may not edit the folder", body = Problem),
    (status = 404, description = "no such folder, or not visible", body = Problem),
    (status = 422, description = "a field value breaks its template (field names it)", body = Problem)))]
pub async fn create_document(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(fid): ApiPath<String>,
    ApiJson(req): ApiJson<CreateDocument>,
) -> ApiResult<Response> {
    let fid = id("fid", &fid)?;
    let tid = req
        .template_id
        .as_deref()
        .map(|t| id("template_id", t))
        .transpose()?;
    let new = NewDocument {
        title: &req.title,
        template_id: tid.as_deref(),
        fields: req.fields.as_ref(),
    };
    let v = documents::create(&app, &ctx, &actor, &fid, new).await?;
    Ok((StatusCode::CREATED, Json(doc_json(v))).into_response())
}

/// One document (view).
#[utoipa::path(get, path = "/api/v1/documents/{did}", tag = "documents", params(("did" = String, Path, description = "document id")), responses(
    (status = 200, description = "the document", body = DocumentJson),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 404, description = "no such document, or not visible", body = Problem)))]
pub async fn get_document(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(did): ApiPath<String>,
) -> ApiResult<Json<DocumentJson>> {
    let did = id("did", &did)?;
    Ok(Json(doc_json(
        documents::get(&app, &ctx, &actor, &did).await?,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchDocument {
    /// The version this change was made against (409 when not the newest).
    pub version: i64,
    pub title: Option<String>,
    /// Values to change; others stay; `null` clears one.
    #[schema(value_type = Option<Object>)]
    pub fields: Option<Map<String, Value>>,
    /// `draft` or `completed` (completing needs every required field).
    pub status: Option<String>,
}

/// Changes a document (edit): a new version.
#[utoipa::path(patch, path = "/api/v1/documents/{did}", tag = "documents", params(("did" = String, Path, description = "document id")), request_body = PatchDocument, responses(
    (status = 200, description = "changed", body = DocumentJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "may not edit it", body = Problem),
    (status = 404, description = "no such document, or not visible", body = Problem),
    (status = 409, description = "a stale version", body = Problem),
    (status = 422, description = "a field value breaks its template (field names it)", body = Problem)))]
pub async fn patch_document(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(did): ApiPath<String>,
    ApiJson(req): ApiJson<PatchDocument>,
) -> ApiResult<Json<DocumentJson>> {
    let did = id("did", &did)?;
    let ch = DocumentChanges {
        version: req.version,
        title: req.title.as_deref(),
        fields: req.fields.as_ref(),
        status: req.status.as_deref(),
    };
    Ok(Json(doc_json(
        documents::update(&app, &ctx, &actor, &did, ch).await?,
    )))
}

/// Moves a document to the trash (manage).
#[utoipa::path(delete, path = "/api/v1/documents/{did}", tag = "documents", params(("did" = String, Path, description = "document id")), responses(
    (status = 204, description = "in the trash"),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not allowed", body = Problem),
    (status = 404, description = "no such document, or not visible", body = Problem)))]
pub async fn delete_document(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(did): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let did = id("did", &did)?;
    documents::delete(&app, &ctx, &actor, &did).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct VersionJson {
    pub version: i64,
    pub title: String,
    #[schema(value_type = Object)]
    pub fields: Value,
    /// Ids of the attachments of this version.
    pub file_ids: Vec<String>,
    pub status: String,
    pub author_id: String,
    pub created_at: String,
    /// What changed: `title`, `status`, `files`, `fields.<key>`, ….
    pub changes: Vec<String>,
    pub restored_from: Option<i64>,
}

fn version_json(v: VersionRow) -> VersionJson {
    VersionJson {
        version: v.version,
        title: v.title,
        fields: serde_json::from_str(&v.fields).unwrap_or(Value::Object(Map::new())),
        file_ids: serde_json::from_str(&v.files).unwrap_or_default(),
        status: v.status,
        author_id: v.author_id,
        created_at: super::time(v.created_at),
        changes: serde_json::from_str(&v.changes).unwrap_or_default(),
        restored_from: v.restored_from,
    }
}

/// A document's history, newest first (view).
#[utoipa::path(get, path = "/api/v1/documents/{did}/versions", tag = "documents", params(("did" = String, Path, description = "document id"), PageQuery), responses(
    (status = 200, description = "versions", body = List<VersionJson>),
    (status = 400, description = "malformed id or paging", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 404, description = "no such document, or not visible", body = Problem)))]
pub async fn list_versions(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(did): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<List<VersionJson>>> {
    let did = id("did", &did)?;
    let page = documents::versions(&app, &ctx, &actor, &did, q.opaque_cursor(), q.limit()?).await?;
    Ok(Json(super::list(page, version_json)))
}

fn version_number(n: &str) -> Result<i64, ApiError> {
    n.parse::<i64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| ApiError::BadInput {
            field: Some("n".into()),
            detail: "n must be a version number".into(),
        })
}

#[derive(Serialize, ToSchema)]
pub struct VersionDetailJson {
    #[serde(flatten)]
    pub version: VersionJson,
    pub files: Vec<FileJson>,
}

/// One version of a document (view).
#[utoipa::path(get, path = "/api/v1/documents/{did}/versions/{n}", tag = "documents", params(("did" = String, Path, description = "document id"), ("n" = i64, Path, description = "version")), responses(
    (status = 200, description = "the version", body = VersionDetailJson),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 404, description = "no such document or version, or not visible", body = Problem)))]
pub async fn get_version(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath((did, n)): ApiPath<(String, String)>,
) -> ApiResult<Json<VersionDetailJson>> {
    let did = id("did", &did)?;
    let n = version_number(&n)?;
    let (v, files) = documents::version(&app, &ctx, &actor, &did, n).await?;
    Ok(Json(VersionDetailJson {
        version: version_json(v),
        files: files.into_iter().map(file_json).collect(),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CompareQuery {
    /// The other version.
    pub with: i64,
}

#[derive(Serialize, ToSchema)]
pub struct DifferenceJson {
    /// `title`, `status`, `files` or `fields.<key>`.
    pub what: String,
    #[schema(value_type = Object)]
    pub before: Value,
    #[schema(value_type = Object)]
    pub after: Value,
}

/// What differs between version `n` and version `with` (view).
#[utoipa::path(get, path = "/api/v1/documents/{did}/versions/{n}/compare", tag = "documents", params(("did" = String, Path, description = "document id"), ("n" = i64, Path, description = "version"), CompareQuery), responses(
    (status = 200, description = "differences from n to with", body = Vec<DifferenceJson>),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 404, description = "no such document or version, or not visible", body = Problem)))]
pub async fn compare_versions(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath((did, n)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<CompareQuery>,
) -> ApiResult<Json<Vec<DifferenceJson>>> {
    let did = id("did", &did)?;
    let n = version_number(&n)?;
    let diffs = documents::compare(&app, &ctx, &actor, &did, n, q.with).await?;
    Ok(Json(
        diffs
            .into_iter()
            .map(|d| DifferenceJson {
                what: d.what,
                before: d.before,
                after: d.after,
            })
            .collect(),
    ))
}

/// Makes version `n` the newest again (edit).
#[utoipa::path(post, path = "/api/v1/documents/{did}/versions/{n}/restore", tag = "documents", params(("did" = String, Path, description = "document id"), ("n" = i64, Path, description = "version")), responses(
    (status = 200, description = "restored as a new version", body = DocumentJson),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "may not edit it", body = Problem),
    (status = 404, description = "no such document or version, or not visible", body = Problem)))]
pub async fn restore_version(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath((did, n)): ApiPath<(String, String)>,
) -> ApiResult<Json<DocumentJson>> {
    let did = id("did", &did)?;
    let n = version_number(&n)?;
    Ok(Json(doc_json(
        documents::restore_version(&app, &ctx, &actor, &did, n).await?,
    )))
}
