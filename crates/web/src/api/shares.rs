//! `/{folders|documents}/{id}/shares`, `/shares/{sid}`, `/shared-with-me`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use turva_app::rows::ShareRow;
use turva_app::shares::{self, Kind, NewShare, SharedItem};
use turva_app::App;
use utoipa::ToSchema;

use super::{List, PageQuery};
use crate::error::{ApiResult, Problem};
use crate::extract::{id, ApiJson, ApiPath, ApiQuery, Auth, ClientCtx};

#[derive(Serialize, ToSchema)]
pub struct ShareJson {
    pub id: String,
    /// `folder` or `document`.
    pub object_type: String,
    pub object_id: String,
    pub email: String,
    /// `view`, `edit` or `manage`.
    pub right: String,
    pub expires_at: Option<String>,
    /// `pending` until an invited guest accepts, then `active`.
    pub status: String,
    pub created_by: String,
    pub created_at: String,
}

fn share_json(s: ShareRow) -> ShareJson {
    ShareJson {
        expires_at: shares::expiry_text(&s),
        id: s.id,
        object_type: s.object_type,
        object_id: s.object_id,
        email: s.email,
        right: s.right,
        status: s.status,
        created_by: s.created_by,
        created_at: super::time(s.created_at),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateShare {
    pub email: String,
    /// `view`, `edit` or `manage` (a guest re-shares with view or edit only).
    pub right: String,
    /// RFC 3339; absent: until revoked.
    pub expires_at: Option<String>,
    /// Email later notices (default true); an invitation always goes out.
    pub notify: Option<bool>,
    /// `en`, `fi` or `de`: the language of the email.
    pub language: Option<String>,
}

async fn create(
    app: App,
    ctx: turva_app::Ctx,
    actor: turva_app::Actor,
    kind: Kind,
    oid: String,
    req: CreateShare,
) -> ApiResult<Response> {
    let new = NewShare {
        email: &req.email,
        right: &req.right,
        expires_at: req.expires_at.as_deref(),
        notify: req.notify,
        language: req.language.as_deref(),
    };
    let s = shares::create(&app, &ctx, &actor, kind, &oid, new).await?;
    Ok((StatusCode::CREATED, Json(share_json(s))).into_response())
}

/// Shares a folder (manage on it).
#[utoipa::path(post, path = "/api/v1/folders/{id}/shares", tag = "shares", params(("id" = String, Path, description = "folder id")), request_body = CreateShare, responses(
    (status = 201, description = "shared (pending until an invited guest accepts)", body = ShareJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "may not share it (or not with that right)", body = Problem),
    (status = 404, description = "no such folder, or not visible", body = Problem),
    (status = 409, description = "already shared with that person", body = Problem),
    (status = 422, description = "a value breaks a rule", body = Problem),
    (status = 429, description = "mail limit reached", body = Problem)))]
pub async fn share_folder(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(oid): ApiPath<String>,
    ApiJson(req): ApiJson<CreateShare>,
) -> ApiResult<Response> {
    let oid = id("id", &oid)?;
    create(app, ctx, actor, Kind::Folder, oid, req).await
}

/// Shares a document (manage on it).
#[utoipa::path(post, path = "/api/v1/documents/{id}/shares", tag = "shares", params(("id" = String, Path, description = "document id")), request_body = CreateShare, responses(
    (status = 201, description = "shared (pending until an invited guest accepts)", body = ShareJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "may not share it (or not with that right)", body = Problem),
    (status = 404, description = "no such document, or not visible", body = Problem),
    (status = 409, description = "already shared with that person", body = Problem),
    (status = 422, description = "a value breaks a rule", body = Problem),
    (status = 429, description = "mail limit reached", body = Problem)))]
pub async fn share_document(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(oid): ApiPath<String>,
    ApiJson(req): ApiJson<CreateShare>,
) -> ApiResult<Response> {
    let oid = id("id", &oid)?;
    create(app, ctx, actor, Kind::Document, oid, req).await
}

/// The shares on a folder (manage).
#[utoipa::path(get, path = "/api/v1/folders/{id}/shares", tag = "shares", params(("id" = String, Path, description = "folder id"), PageQuery), responses(
    (status = 200, description = "shares", body = List<ShareJson>),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "may not manage it", body = Problem),
    (status = 404, description = "no such folder, or not visible", body = Problem)))]
pub async fn list_folder_shares(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(oid): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<List<ShareJson>>> {
    let oid = id("id", &oid)?;
    let page = shares::list(
        &app,
        &ctx,
        &actor,
        Kind::Folder,
        &oid,
        q.opaque_cursor(),
        q.limit()?,
    )
    .await?;
    Ok(Json(super::list(page, share_json)))
}

/// The shares on a document (manage).
#[utoipa::path(get, path = "/api/v1/documents/{id}/shares", tag = "shares", params(("id" = String, Path, description = "document id"), PageQuery), responses(
    (status = 200, description = "shares", body = List<ShareJson>),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "may not manage it", body = Problem),
    (status = 404, description = "no such document, or not visible", body = Problem)))]
pub async fn list_document_shares(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(oid): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<List<ShareJson>>> {
    let oid = id("id", &oid)?;
    let page = shares::list(
        &app,
        &ctx,
        &actor,
        Kind::Document,
        &oid,
        q.opaque_cursor(),
        q.limit()?,
    )
    .await?;
    Ok(Json(super::list(page, share_json)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchShare {
    pub right: Option<String>,
    /// RFC 3339; `null`: until revoked.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Option<String>>,
}

/// Changes a share's right or expiry (manage on its object); in force at once.
#[utoipa::path(patch, path = "/api/v1/shares/{sid}", tag = "shares", params(("sid" = String, Path, description = "share id")), request_body = PatchShare, responses(
    (status = 200, description = "changed", body = ShareJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not allowed", body = Problem),
    (status = 404, description = "no such share, or not visible", body = Problem),
    (status = 422, description = "a value breaks a rule", body = Problem)))]
pub async fn patch_share(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(sid): ApiPath<String>,
    ApiJson(req): ApiJson<PatchShare>,
) -> ApiResult<Json<ShareJson>> {
    let sid = id("sid", &sid)?;
    let exp = req.expires_at.as_ref().map(|e| e.as_deref());
    Ok(Json(share_json(
        shares::update(&app, &ctx, &actor, &sid, req.right.as_deref(), exp).await?,
    )))
}

/// Revokes a share (manage on its object); in force at once.
#[utoipa::path(delete, path = "/api/v1/shares/{sid}", tag = "shares", params(("sid" = String, Path, description = "share id")), responses(
    (status = 204, description = "revoked"),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not allowed", body = Problem),
    (status = 404, description = "no such share, or not visible", body = Problem)))]
pub async fn revoke_share(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(sid): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let sid = id("sid", &sid)?;
    shares::revoke(&app, &ctx, &actor, &sid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct SharedJson {
    pub share_id: String,
    pub company_id: String,
    /// `folder` or `document`.
    pub object_type: String,
    pub object_id: String,
    /// The folder's name or the document's title.
    pub name: String,
    pub right: String,
    pub expires_at: Option<String>,
}

/// Objects shared with the caller now, with right and expiry.
#[utoipa::path(get, path = "/api/v1/shared-with-me", tag = "shares", params(PageQuery), responses(
    (status = 200, description = "shared objects", body = List<SharedJson>),
    (status = 400, description = "malformed paging", body = Problem),
    (status = 401, description = "not signed in", body = Problem)))]
pub async fn shared_with_me(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<List<SharedJson>>> {
    let page = shares::shared_with_me(&app, &ctx, &actor, q.opaque_cursor(), q.limit()?).await?;
    Ok(Json(super::list(page, |SharedItem { share, name }| {
        SharedJson {
            expires_at: shares::expiry_text(&share),
            share_id: share.id,
            company_id: share.company_id,
            object_type: share.object_type,
            object_id: share.object_id,
            name,
            right: share.right,
        }
    })))
}
