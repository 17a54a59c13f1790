//! `/companies/{cid}/folders`, `/folders/{fid}…`: folders and their
//! contents.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use turva_app::folders::{self, Child, FolderChanges, FolderView, NewFolder, Order};
use turva_app::rows::FolderRow;
use turva_app::App;
use utoipa::ToSchema;

use super::{List, PageQuery};
use crate::error::ApiError;
use crate::error::{ApiResult, Problem};
use crate::extract::{id, ApiJson, ApiPath, ApiQuery, Auth, ClientCtx};

#[derive(Serialize, ToSchema)]
pub struct FolderJson {
    pub id: String,
    pub company_id: String,
    pub parent_id: Option<String>,
    pub name: String,
    /// The folder's own setting: `none`, `view`, `edit` or `inherit`.
    pub member_access: String,
    /// The setting in force (resolved down the tree): `none`, `view`, `edit`.
    pub member_access_in_force: String,
    pub template_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub identifiers: Option<Value>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    /// The caller's right on it: `view`, `edit` or `manage` (absent in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub right: Option<String>,
}

pub fn folder_json(f: FolderRow, right: Option<&str>) -> FolderJson {
    FolderJson {
        identifiers: f
            .identifiers
            .as_deref()
            .and_then(|i| serde_json::from_str(i).ok()),
        id: f.id,
        company_id: f.company_id,
        parent_id: f.parent_id,
        name: f.name,
        member_access: f.member_access,
        member_access_in_force: f.access_in_force,
        template_id: f.template_id,
        created_by: f.created_by,
        created_at: super::time(f.created_at),
        updated_at: super::time(f.updated_at),
        right: right.map(str::to_string),
    }
}

fn view_json(v: FolderView) -> FolderJson {
    let right = v.right.as_str();
    folder_json(v.folder, Some(right))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFolder {
    /// Required unless a folder template's naming identifier gives it.
    pub name: Option<String>,
    /// The folder to create it in; absent: the top level.
    pub parent_id: Option<String>,
    /// `none`, `view`, `edit` or `inherit` (below the top level, the default).
    pub member_access: Option<String>,
    /// A folder template to stamp out.
    pub template_id: Option<String>,
    /// Identifier values for the folder template.
    #[schema(value_type = Option<Object>)]
    pub identifiers: Option<Map<String, Value>>,
}

/// Creates a folder (edit where it is made; at the top level any member
/// but a reader).
#[utoipa::path(post, path = "/api/v1/companies/{cid}/folders", tag = "folders", params(("cid" = String, Path, description = "company id")), request_body = CreateFolder, responses(
    (status = 201, description = "created", body = FolderJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "may not create there", body = Problem),
    (status = 404, description = "no such company or parent, or not visible", body = Problem),
    (status = 422, description = "a value breaks a rule", body = Problem)))]
pub async fn create_folder(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(cid): ApiPath<String>,
    ApiJson(req): ApiJson<CreateFolder>,
) -> ApiResult<Response> {
    let cid = id("cid", &cid)?;
    let parent = req
        .parent_id
        .as_deref()
        .map(|p| id("parent_id", p))
        .transpose()?;
    let template = req
        .template_id
        .as_deref()
        .map(|t| id("template_id", t))
        .transpose()?;
    let new = NewFolder {
        name: req.name.as_deref(),
        parent_id: parent.as_deref(),
        member_access: req.member_access.as_deref(),
        template_id: template.as_deref(),
        identifiers: req.identifiers.as_ref(),
    };
    let v = folders::create(&app, &ctx, &actor, &cid, new).await?;
    Ok((StatusCode::CREATED, Json(view_json(v))).into_response())
}

/// `?limit=&cursor=&sort=` of a folder listing.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListingQuery {
    /// How many items (1–200, default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page (of the same `sort`).
    pub cursor: Option<String>,
    /// `name` (the default), `-name`, `updated` (oldest change first) or
    /// `-updated` (newest first); folders come before documents either way.
    pub sort: Option<String>,
}

impl ListingQuery {
    fn page(&self) -> PageQuery {
        PageQuery {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
    }
    fn order(&self) -> Result<Order, ApiError> {
        parse_order(self.sort.as_deref()).ok_or_else(|| ApiError::BadInput {
            field: Some("sort".into()),
            detail: "sort must be name, -name, updated or -updated".into(),
        })
    }
}

/// A listing's order from its `sort` word (none: by name).
pub fn parse_order(sort: Option<&str>) -> Option<Order> {
    match sort.unwrap_or("name") {
        "name" => Some(Order::Name),
        "-name" => Some(Order::NameDesc),
        "updated" => Some(Order::Updated),
        "-updated" => Some(Order::UpdatedDesc),
        _ => None,
    }
}

/// Top-level folders the caller may view (members and guests).
#[utoipa::path(get, path = "/api/v1/companies/{cid}/folders", tag = "folders", params(("cid" = String, Path, description = "company id"), ListingQuery), responses(
    (status = 200, description = "folders", body = List<FolderJson>),
    (status = 400, description = "malformed id or paging", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 404, description = "no such company, or not yours", body = Problem)))]
pub async fn list_folders(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(cid): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListingQuery>,
) -> ApiResult<Json<List<FolderJson>>> {
    let cid = id("cid", &cid)?;
    let (order, p) = (q.order()?, q.page());
    let page = folders::list_top(
        &app,
        &ctx,
        &actor,
        &cid,
        order,
        p.opaque_cursor(),
        p.limit()?,
    )
    .await?;
    Ok(Json(super::list(page, |f| folder_json(f, None))))
}

/// One folder (view).
#[utoipa::path(get, path = "/api/v1/folders/{fid}", tag = "folders", params(("fid" = String, Path, description = "folder id")), responses(
    (status = 200, description = "the folder", body = FolderJson),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 404, description = "no such folder, or not visible", body = Problem)))]
pub async fn get_folder(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(fid): ApiPath<String>,
) -> ApiResult<Json<FolderJson>> {
    let fid = id("fid", &fid)?;
    Ok(Json(view_json(
        folders::get(&app, &ctx, &actor, &fid).await?,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchFolder {
    pub name: Option<String>,
    /// Move it under another folder; `null`: to the top level.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub parent_id: Option<Option<String>>,
    pub member_access: Option<String>,
}

/// Renames (edit), moves (manage here and edit on the new parent) or
/// changes member access (manage); a move into its own sub-tree is 409.
#[utoipa::path(patch, path = "/api/v1/folders/{fid}", tag = "folders", params(("fid" = String, Path, description = "folder id")), request_body = PatchFolder, responses(
    (status = 200, description = "changed", body = FolderJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not allowed", body = Problem),
    (status = 404, description = "no such folder, or not visible", body = Problem),
    (status = 409, description = "a move into its own sub-tree", body = Problem),
    (status = 422, description = "a value breaks a rule", body = Problem)))]
pub async fn patch_folder(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(fid): ApiPath<String>,
    ApiJson(req): ApiJson<PatchFolder>,
) -> ApiResult<Json<FolderJson>> {
    let fid = id("fid", &fid)?;
    let parent = match &req.parent_id {
        Some(Some(p)) => Some(Some(id("parent_id", p)?)),
        Some(None) => Some(None),
        None => None,
    };
    let ch = FolderChanges {
        name: req.name.as_deref(),
        parent_id: parent.as_ref().map(|p| p.as_deref()),
        member_access: req.member_access.as_deref(),
    };
    Ok(Json(view_json(
        folders::update(&app, &ctx, &actor, &fid, ch).await?,
    )))
}

/// Moves a folder and everything beneath it to the trash (manage).
#[utoipa::path(delete, path = "/api/v1/folders/{fid}", tag = "folders", params(("fid" = String, Path, description = "folder id")), responses(
    (status = 204, description = "in the trash"),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not allowed", body = Problem),
    (status = 404, description = "no such folder, or not visible", body = Problem)))]
pub async fn delete_folder(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(fid): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let fid = id("fid", &fid)?;
    folders::delete(&app, &ctx, &actor, &fid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One item of a folder listing.
#[derive(Serialize, ToSchema)]
pub struct ChildJson {
    /// `folder` or `document`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    /// Folders: the name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Documents: the title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Documents: `draft` or `completed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Documents: the newest version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Folders: their own member access.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_access: Option<String>,
    pub updated_at: String,
}

/// Folders and documents in a folder that the caller may view.
#[utoipa::path(get, path = "/api/v1/folders/{fid}/children", tag = "folders", params(("fid" = String, Path, description = "folder id"), ListingQuery), responses(
    (status = 200, description = "folders first, then documents, each in the order asked for (by name unless `sort` says otherwise)", body = List<ChildJson>),
    (status = 400, description = "malformed id or paging", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 404, description = "no such folder, or not visible", body = Problem)))]
pub async fn list_children(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(fid): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListingQuery>,
) -> ApiResult<Json<List<ChildJson>>> {
    let fid = id("fid", &fid)?;
    let (order, p) = (q.order()?, q.page());
    let page = folders::children(
        &app,
        &ctx,
        &actor,
        &fid,
        order,
        p.opaque_cursor(),
        p.limit()?,
    )
    .await?;
    Ok(Json(super::list(page, |c| match c {
        Child::Folder(f) => ChildJson {
            kind: "folder".into(),
            id: f.id,
            name: Some(f.name),
            title: None,
            status: None,
            version: None,
            member_access: Some(f.member_access),
            updated_at: super::time(f.updated_at),
        },
        Child::Document(d) => ChildJson {
            kind: "document".into(),
            id: d.id,
            name: None,
            title: Some(d.title),
            status: Some(d.status),
            version: Some(d.version),
            member_access: None,
            updated_at: super::time(d.updated_at),
        },
    })))
}
