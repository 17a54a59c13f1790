//! `/auth/…`: sign-in, sign-out, password reset, invitations, re-auth.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use turva_app::{auth, App};
use utoipa::ToSchema;

use super::time;
use crate::error::{ApiResult, Problem};
use crate::extract::{ApiJson, Auth, ClientCtx, SESSION_COOKIE};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// A user as shown to themselves and in sign-in answers.
#[derive(Serialize, ToSchema)]
pub struct UserJson {
    pub id: String,
    pub email: String,
    pub name: String,
    pub language: String,
    pub is_operator: bool,
    pub has_mfa: bool,
}

impl From<&turva_app::auth::LoginOk> for UserJson {
    fn from(l: &turva_app::auth::LoginOk) -> Self {
        user_json(&l.user)
    }
}

pub fn user_json(u: &turva_app::rows::UserRow) -> UserJson {
    UserJson {
        id: u.id.clone(),
        email: u.email.clone(),
        name: u.name.clone(),
        language: u.language.clone(),
        is_operator: u.is_operator,
        has_mfa: false,
    }
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// The session token: send it as `Authorization: Bearer <token>`, or
    /// rely on the cookie set with this answer.
    pub token: String,
    pub user: UserJson,
    pub expires_at: String,
}

/// Signs in with email and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, description = "signed in; sets the session cookie", body = LoginResponse),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "wrong email or password (`invalid_credentials`)", body = Problem),
    (status = 429, description = "too many attempts (`rate_limited`, with Retry-After)", body = Problem)))]
pub async fn login(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let ok = auth::login(&app, &ctx, &req.email, &req.password).await?;
    let max_age = app.config().auth.session_absolute_seconds;
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age}",
        ok.token
    );
    let body = LoginResponse {
        user: UserJson::from(&ok),
        token: ok.token,
        expires_at: time(ok.expires_at),
    };
    let mut res = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// Ends the current session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses(
    (status = 204, description = "signed out; the cookie is cleared"),
    (status = 401, description = "not signed in", body = Problem)))]
pub async fn logout(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
) -> ApiResult<Response> {
    auth::logout(&app, &ctx, &actor).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    let clear = format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&clear) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

/// Emails a password-reset link if the account exists; always 202.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = ResetRequest, responses(
    (status = 202, description = "accepted (whether or not the account exists)"),
    (status = 400, description = "malformed input", body = Problem),
    (status = 429, description = "too many requests", body = Problem)))]
pub async fn password_reset(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    ApiJson(req): ApiJson<ResetRequest>,
) -> ApiResult<StatusCode> {
    auth::request_password_reset(&app, &ctx, &req.email).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    pub token: String,
    pub password: String,
}

/// Sets a new password with a reset token; ends every session.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirm, responses(
    (status = 204, description = "password set"),
    (status = 400, description = "malformed input", body = Problem),
    (status = 422, description = "token invalid, used or expired, or password too weak", body = Problem),
    (status = 429, description = "too many requests", body = Problem)))]
pub async fn password_reset_confirm(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    ApiJson(req): ApiJson<ResetConfirm>,
) -> ApiResult<StatusCode> {
    auth::confirm_password_reset(&app, &ctx, &req.token, &req.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvite {
    pub token: String,
    /// For a new account, its password; for an existing one, its own.
    pub password: String,
    /// Required when the address has no account yet.
    pub name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub user: UserJson,
    pub company_id: String,
    pub created_account: bool,
}

/// Accepts an invitation (creating the account when there is none).
#[utoipa::path(post, path = "/api/v1/auth/accept-invite", tag = "auth", request_body = AcceptInvite, responses(
    (status = 200, description = "the membership began", body = Accepted),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "wrong password of the existing account", body = Problem),
    (status = 422, description = "token invalid, used or expired, or password too weak", body = Problem),
    (status = 429, description = "too many requests", body = Problem)))]
pub async fn accept_invite(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    ApiJson(req): ApiJson<AcceptInvite>,
) -> ApiResult<Json<Accepted>> {
    let a = auth::accept_invite(&app, &ctx, &req.token, &req.password, req.name.as_deref()).await?;
    Ok(Json(Accepted {
        user: user_json(&a.user),
        company_id: a.company_id,
        created_account: a.created_account,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmEmail {
    pub token: String,
}

/// Confirms a new email address with the token from the link sent to it.
#[utoipa::path(post, path = "/api/v1/auth/confirm-email", tag = "auth", request_body = ConfirmEmail, responses(
    (status = 200, description = "the address changed; the old one was told", body = UserJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 409, description = "the address belongs to another account", body = Problem),
    (status = 422, description = "token invalid, used or expired", body = Problem),
    (status = 429, description = "too many requests", body = Problem)))]
pub async fn confirm_email(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    ApiJson(req): ApiJson<ConfirmEmail>,
) -> ApiResult<Json<UserJson>> {
    let user = auth::confirm_email_change(&app, &ctx, &req.token).await?;
    Ok(Json(user_json(&user)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reauth {
    pub password: String,
}

/// Confirms the password for sensitive actions (recent auth).
#[utoipa::path(post, path = "/api/v1/auth/reauth", tag = "auth", request_body = Reauth, responses(
    (status = 204, description = "confirmed"),
    (status = 401, description = "wrong password or not signed in", body = Problem),
    (status = 429, description = "too many attempts", body = Problem)))]
pub async fn reauth(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<Reauth>,
) -> ApiResult<StatusCode> {
    auth::reauth(&app, &ctx, &actor, &req.password).await?;
    Ok(StatusCode::NO_CONTENT)
}
