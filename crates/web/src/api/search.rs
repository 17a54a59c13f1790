//! `/search` and the trash.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use turva_app::trash::{self, Trashed};
use turva_app::{search, App};
use utoipa::ToSchema;

use super::{List, PageQuery};
use crate::error::{ApiResult, Problem};
use crate::extract::{id, ApiPath, ApiQuery, Auth, ClientCtx};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Words to find (as prefixes, all of them); quotes and operators are
    /// plain text.
    pub q: String,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct HitJson {
    /// `document`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub company_id: String,
    pub folder_id: String,
    pub title: String,
    /// HTML-escaped text around the matches, with `<mark>` around each.
    pub snippet: String,
}

/// Full-text search over titles, field values and attachment names of what
/// the caller may view, best first.
#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchQuery), responses(
    (status = 200, description = "results", body = List<HitJson>),
    (status = 400, description = "malformed query or paging", body = Problem),
    (status = 401, description = "not signed in", body = Problem)))]
pub async fn search(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> ApiResult<Json<List<HitJson>>> {
    let page_q = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let page = search::search(
        &app,
        &ctx,
        &actor,
        &q.q,
        page_q.opaque_cursor(),
        page_q.limit()?,
    )
    .await?;
    Ok(Json(super::list(page, |h| HitJson {
        kind: "document".into(),
        id: h.document_id,
        company_id: h.company_id,
        folder_id: h.folder_id,
        title: h.title,
        snippet: h.snippet,
    })))
}

#[derive(Serialize, ToSchema)]
pub struct TrashJson {
    /// `folder` or `document`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub deleted_at: Option<String>,
    /// When it is gone for good.
    pub purge_at: Option<String>,
}

fn trash_json(t: Trashed) -> TrashJson {
    let purge = |d: Option<i64>| d.map(|d| super::time(d + trash::KEEP_DAYS * 24 * 3600 * 1000));
    match t {
        Trashed::Folder(f) => TrashJson {
            kind: "folder".into(),
            id: f.id,
            name: Some(f.name),
            title: None,
            deleted_at: f.deleted_at.map(super::time),
            purge_at: purge(f.deleted_at),
        },
        Trashed::Document(d) => TrashJson {
            kind: "document".into(),
            id: d.id,
            name: None,
            title: Some(d.title),
            deleted_at: d.deleted_at.map(super::time),
            purge_at: purge(d.deleted_at),
        },
    }
}

/// Deleted folders and documents the caller may manage (members).
#[utoipa::path(get, path = "/api/v1/companies/{cid}/trash", tag = "trash", params(("cid" = String, Path, description = "company id"), PageQuery), responses(
    (status = 200, description = "the trash, newest first", body = List<TrashJson>),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 404, description = "no such company, or not yours", body = Problem)))]
pub async fn list_trash(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(cid): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<List<TrashJson>>> {
    let cid = id("cid", &cid)?;
    let page = trash::list(&app, &ctx, &actor, &cid, q.opaque_cursor(), q.limit()?).await?;
    Ok(Json(List {
        items: page.items.into_iter().map(trash_json).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Restores a folder (with everything beneath it) or a document (manage).
#[utoipa::path(post, path = "/api/v1/trash/{id}/restore", tag = "trash", params(("id" = String, Path, description = "folder or document id")), responses(
    (status = 200, description = "restored", body = TrashJson),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "may not manage it", body = Problem),
    (status = 404, description = "not in the trash, or not visible", body = Problem),
    (status = 409, description = "its folder is in the trash", body = Problem)))]
pub async fn restore(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(oid): ApiPath<String>,
) -> ApiResult<Json<TrashJson>> {
    let oid = id("id", &oid)?;
    Ok(Json(trash_json(
        trash::restore(&app, &ctx, &actor, &oid).await?,
    )))
}
