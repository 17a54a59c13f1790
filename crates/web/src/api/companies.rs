//! `/companies…`: companies and their members.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use turva_app::companies::{self, Creator};
use turva_app::rows::{CompanyRow, MemberRow};
use turva_app::{members, App};
use utoipa::ToSchema;

use super::{time, List, PageQuery};
use crate::error::{ApiResult, Problem};
use crate::extract::{id, ApiJson, ApiPath, ApiQuery, Auth, ClientCtx};

#[derive(Serialize, ToSchema)]
pub struct CompanyJson {
    pub id: String,
    pub name: String,
    /// `require_mfa` (bool), `default_member_access` (`none`, `view`, `edit`),
    /// `strip_photo_location` (bool, default true: GPS and other EXIF/XMP
    /// data are removed from uploaded JPEG and PNG photos).
    #[schema(value_type = Object)]
    pub settings: Value,
    pub created_at: String,
}

fn company_json(c: CompanyRow) -> CompanyJson {
    CompanyJson {
        settings: serde_json::from_str(&c.settings).unwrap_or(Value::Object(Map::new())),
        id: c.id,
        name: c.name,
        created_at: super::time(c.created_at),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCompany {
    pub name: String,
    /// The first owner: invited by email.
    pub owner_email: String,
}

/// Creates a company and invites its owner (operators).
#[utoipa::path(post, path = "/api/v1/companies", tag = "companies", request_body = CreateCompany, responses(
    (status = 201, description = "created; the owner was emailed an invitation", body = CompanyJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not an operator", body = Problem),
    (status = 429, description = "mail limit reached", body = Problem)))]
pub async fn create_company(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<CreateCompany>,
) -> ApiResult<Response> {
    let c = companies::create(
        &app,
        &ctx,
        Creator::Operator(&actor),
        &req.name,
        &req.owner_email,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(company_json(c))).into_response())
}

/// Companies the caller is a member of.
#[utoipa::path(get, path = "/api/v1/companies", tag = "companies", params(PageQuery), responses(
    (status = 200, description = "the caller's companies", body = List<CompanyJson>),
    (status = 401, description = "not signed in", body = Problem)))]
pub async fn list_companies(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<List<CompanyJson>>> {
    let items = companies::list_mine(&app, &actor)
        .await?
        .into_iter()
        .map(company_json)
        .collect();
    Ok(Json(super::page(items, &q, |c| &c.id)?))
}

/// One company (members).
#[utoipa::path(get, path = "/api/v1/companies/{cid}", tag = "companies", params(("cid" = String, Path, description = "company id")), responses(
    (status = 200, description = "the company", body = CompanyJson),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 404, description = "no such company, or not yours", body = Problem)))]
pub async fn get_company(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(cid): ApiPath<String>,
) -> ApiResult<Json<CompanyJson>> {
    let cid = id("cid", &cid)?;
    Ok(Json(company_json(
        companies::get(&app, &ctx, &actor, &cid).await?,
    )))
}

#[derive(Serialize, ToSchema)]
pub struct DeletionJson {
    pub id: String,
    pub name: String,
    /// When the deletion was asked for.
    pub deletion_scheduled_at: String,
    /// When its data and keys are destroyed; until then an owner may
    /// cancel (`POST /companies/{cid}/cancel-deletion`).
    pub destroy_at: String,
}

/// Schedules the company's deletion in 7 days (an owner or an operator,
/// recent auth). From now on the company is hidden from everyone; then its
/// data and its key are destroyed, so retained backups cannot read it.
#[utoipa::path(delete, path = "/api/v1/companies/{cid}", tag = "companies", params(("cid" = String, Path, description = "company id")), responses(
    (status = 202, description = "deletion scheduled", body = DeletionJson),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not an owner, or no recent password or second factor (`reauthentication_required`)", body = Problem),
    (status = 404, description = "no such company, or not yours, or its deletion is scheduled already", body = Problem)))]
pub async fn delete_company(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(cid): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<DeletionJson>)> {
    let cid = id("cid", &cid)?;
    let s = companies::schedule_deletion(&app, &ctx, &actor, &cid, None).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(DeletionJson {
            id: s.company.id,
            name: s.company.name,
            deletion_scheduled_at: time(s.scheduled_at),
            destroy_at: time(s.destroy_at),
        }),
    ))
}

/// Cancels a scheduled deletion (an owner); the company is as it was.
#[utoipa::path(post, path = "/api/v1/companies/{cid}/cancel-deletion", tag = "companies", params(("cid" = String, Path, description = "company id")), responses(
    (status = 200, description = "the company, restored", body = CompanyJson),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not an owner", body = Problem),
    (status = 404, description = "no such company scheduled for deletion, or not yours", body = Problem)))]
pub async fn cancel_deletion(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(cid): ApiPath<String>,
) -> ApiResult<Json<CompanyJson>> {
    let cid = id("cid", &cid)?;
    Ok(Json(company_json(
        companies::cancel_deletion(&app, &ctx, &actor, &cid).await?,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchCompany {
    pub name: Option<String>,
    /// Settings to change; others stay as they are.
    #[schema(value_type = Object)]
    pub settings: Option<Map<String, Value>>,
}

/// Renames a company or changes its settings (admins).
#[utoipa::path(patch, path = "/api/v1/companies/{cid}", tag = "companies", params(("cid" = String, Path, description = "company id")), request_body = PatchCompany, responses(
    (status = 200, description = "changed", body = CompanyJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not an admin of it", body = Problem),
    (status = 404, description = "no such company, or not yours", body = Problem),
    (status = 422, description = "a setting breaks a rule", body = Problem)))]
pub async fn patch_company(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(cid): ApiPath<String>,
    ApiJson(req): ApiJson<PatchCompany>,
) -> ApiResult<Json<CompanyJson>> {
    let cid = id("cid", &cid)?;
    let c = companies::update(
        &app,
        &ctx,
        &actor,
        &cid,
        req.name.as_deref(),
        req.settings.as_ref(),
    )
    .await?;
    Ok(Json(company_json(c)))
}

#[derive(Serialize, ToSchema)]
pub struct MemberJson {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    /// `active` or `invited`.
    pub status: String,
    pub language: String,
    pub has_mfa: bool,
    pub created_at: String,
}

fn member_json(m: MemberRow) -> MemberJson {
    MemberJson {
        user_id: m.user_id,
        email: m.email,
        name: m.name,
        role: m.role,
        status: m.status,
        language: m.language,
        has_mfa: m.has_mfa,
        created_at: super::time(m.created_at),
    }
}

/// Members and invitations (admins).
#[utoipa::path(get, path = "/api/v1/companies/{cid}/members", tag = "members", params(("cid" = String, Path, description = "company id"), PageQuery), responses(
    (status = 200, description = "members", body = List<MemberJson>),
    (status = 400, description = "malformed id or paging", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not an admin", body = Problem),
    (status = 404, description = "no such company, or not yours", body = Problem)))]
pub async fn list_members(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(cid): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<List<MemberJson>>> {
    let cid = id("cid", &cid)?;
    let page = members::list(&app, &ctx, &actor, &cid, q.cursor()?.as_deref(), q.limit()?).await?;
    Ok(Json(List {
        items: page.items.into_iter().map(member_json).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteMember {
    pub email: String,
    /// `owner`, `admin`, `member` or `reader`.
    pub role: String,
    /// Language of the invitation: `en` (default), `fi` or `de`.
    pub language: Option<String>,
}

/// Invites someone by email (admins; owners and admins: recent auth).
#[utoipa::path(post, path = "/api/v1/companies/{cid}/members", tag = "members", params(("cid" = String, Path, description = "company id")), request_body = InviteMember, responses(
    (status = 201, description = "invited; an email with the link was sent", body = MemberJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not allowed, or recent auth needed", body = Problem),
    (status = 404, description = "no such company, or not yours", body = Problem),
    (status = 409, description = "already a member", body = Problem),
    (status = 429, description = "mail limit reached", body = Problem)))]
pub async fn invite_member(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(cid): ApiPath<String>,
    ApiJson(req): ApiJson<InviteMember>,
) -> ApiResult<Response> {
    let cid = id("cid", &cid)?;
    let m = members::invite(
        &app,
        &ctx,
        &actor,
        &cid,
        &req.email,
        &req.role,
        req.language.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(member_json(m))).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchMember {
    pub role: String,
}

/// Changes a member's role (admins; owners by owners; to owner or admin:
/// recent auth).
#[utoipa::path(patch, path = "/api/v1/companies/{cid}/members/{uid}", tag = "members", params(("cid" = String, Path, description = "company id"), ("uid" = String, Path, description = "user id")), request_body = PatchMember, responses(
    (status = 200, description = "changed", body = MemberJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not allowed, or recent auth needed", body = Problem),
    (status = 404, description = "no such company or member", body = Problem),
    (status = 409, description = "the company would have no owner", body = Problem)))]
pub async fn patch_member(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath((cid, uid)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<PatchMember>,
) -> ApiResult<Json<MemberJson>> {
    let (cid, uid) = (id("cid", &cid)?, id("uid", &uid)?);
    Ok(Json(member_json(
        members::change_role(&app, &ctx, &actor, &cid, &uid, &req.role).await?,
    )))
}

/// Removes a member or withdraws an invitation.
#[utoipa::path(delete, path = "/api/v1/companies/{cid}/members/{uid}", tag = "members", params(("cid" = String, Path, description = "company id"), ("uid" = String, Path, description = "user id")), responses(
    (status = 204, description = "removed"),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not allowed", body = Problem),
    (status = 404, description = "no such company or member", body = Problem),
    (status = 409, description = "the company would have no owner", body = Problem)))]
pub async fn remove_member(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath((cid, uid)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let (cid, uid) = (id("cid", &cid)?, id("uid", &uid)?);
    members::remove(&app, &ctx, &actor, &cid, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes every second factor of a member who belongs to no other company
/// and is no operator, and ends their sessions (recent auth; an owner's
/// factors: owners only).
#[utoipa::path(post, path = "/api/v1/companies/{cid}/members/{uid}/reset-mfa", tag = "members", params(("cid" = String, Path, description = "company id"), ("uid" = String, Path, description = "user id")), responses(
    (status = 204, description = "reset; the member was emailed"),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not allowed (the member belongs elsewhere too: the operator CLI resets them), or no recent auth (`reauthentication_required`)", body = Problem),
    (status = 404, description = "no such company or member", body = Problem)))]
pub async fn reset_member_mfa(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath((cid, uid)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let (cid, uid) = (id("cid", &cid)?, id("uid", &uid)?);
    members::reset_mfa(&app, &ctx, &actor, &cid, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}
