//! `/me…`: the caller's own account and sessions.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use turva_app::{auth, App};
use utoipa::ToSchema;

use super::time;
use crate::error::{ApiResult, Problem};
use crate::extract::{id, ApiJson, ApiPath, ApiQuery, Auth, ClientCtx};

#[derive(Serialize, ToSchema)]
pub struct MembershipJson {
    pub company_id: String,
    pub company_name: String,
    pub role: String,
}

#[derive(Serialize, ToSchema)]
pub struct MeJson {
    pub id: String,
    pub email: String,
    pub name: String,
    pub language: String,
    pub is_operator: bool,
    pub memberships: Vec<MembershipJson>,
    /// Send as `X-CSRF-Token` on state-changing calls made with the cookie.
    pub csrf_token: String,
    pub has_mfa: bool,
    /// A second factor is required and the user has none: only enrolment
    /// (`/me/mfa…`), `GET /me`, re-auth and sign-out answer until they enrol.
    pub mfa_enrolment_required: bool,
}

fn me_json(me: auth::Me) -> MeJson {
    MeJson {
        id: me.user.id,
        email: me.user.email,
        name: me.user.name,
        language: me.user.language,
        is_operator: me.user.is_operator,
        memberships: me
            .memberships
            .into_iter()
            .map(|m| MembershipJson {
                company_id: m.company_id,
                company_name: m.company_name,
                role: m.role,
            })
            .collect(),
        csrf_token: me.csrf_token,
        has_mfa: me.has_mfa,
        mfa_enrolment_required: me.mfa_enrolment_required,
    }
}

/// The caller: account, memberships, CSRF token.
#[utoipa::path(get, path = "/api/v1/me", tag = "me", responses(
    (status = 200, description = "the caller", body = MeJson),
    (status = 401, description = "not signed in", body = Problem)))]
pub async fn get_me(State(app): State<App>, Auth(actor): Auth) -> ApiResult<Json<MeJson>> {
    Ok(Json(me_json(auth::me(&app, &actor).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchMe {
    pub name: Option<String>,
    /// `en`, `fi` or `de`.
    pub language: Option<String>,
    /// A new address (recent auth): a confirmation link goes to it, and the
    /// change happens when it is used; the old address is then told.
    pub email: Option<String>,
}

/// Changes the caller's name or language.
#[utoipa::path(patch, path = "/api/v1/me", tag = "me", request_body = PatchMe, responses(
    (status = 200, description = "changed", body = MeJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 422, description = "a value breaks a rule", body = Problem)))]
pub async fn patch_me(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<PatchMe>,
) -> ApiResult<Json<MeJson>> {
    let me = auth::update_me(
        &app,
        &ctx,
        &actor,
        auth::MeChanges {
            name: req.name.as_deref(),
            language: req.language.as_deref(),
            email: req.email.as_deref(),
        },
    )
    .await?;
    Ok(Json(me_json(me)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// Changes the password; ends the caller's other sessions.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "me", request_body = ChangePassword, responses(
    (status = 204, description = "changed"),
    (status = 401, description = "wrong current password or not signed in", body = Problem),
    (status = 422, description = "new password too weak", body = Problem),
    (status = 429, description = "too many attempts", body = Problem)))]
pub async fn change_password(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<ChangePassword>,
) -> ApiResult<StatusCode> {
    auth::change_password(&app, &ctx, &actor, &req.current_password, &req.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct SessionJson {
    pub id: String,
    /// How it signed in (`password`).
    pub method: String,
    pub ip: String,
    pub user_agent: String,
    pub created_at: String,
    pub last_used_at: String,
    pub expires_at: String,
    /// The session making this request.
    pub current: bool,
}

/// The caller's active sessions.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "me", params(super::PageQuery), responses(
    (status = 200, description = "active sessions", body = super::List<SessionJson>),
    (status = 401, description = "not signed in", body = Problem)))]
pub async fn list_sessions(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<super::PageQuery>,
) -> ApiResult<Json<super::List<SessionJson>>> {
    let items = auth::list_sessions(&app, &actor)
        .await?
        .into_iter()
        .map(|s| SessionJson {
            id: s.row.id,
            method: s.row.method,
            ip: s.row.ip,
            user_agent: s.row.user_agent,
            created_at: time(s.row.created_at),
            last_used_at: time(s.row.last_seen_at),
            expires_at: time(s.row.expires_at),
            current: s.current,
        })
        .collect();
    Ok(Json(super::page(items, &q, |s: &SessionJson| &s.id)?))
}

/// Revokes one of the caller's sessions.
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "me", params(("id" = String, Path, description = "session id")), responses(
    (status = 204, description = "revoked"),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 404, description = "no such live session of yours", body = Problem)))]
pub async fn revoke_session(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(sid): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let sid = id("id", &sid)?;
    auth::revoke_session(&app, &ctx, &actor, &sid).await?;
    Ok(StatusCode::NO_CONTENT)
}
