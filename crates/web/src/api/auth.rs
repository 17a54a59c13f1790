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
        UserJson {
            has_mfa: l.has_mfa,
            ..user_json(&l.user)
        }
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
    /// Present (true) when a second factor is required and the user has
    /// none: the session reaches only enrolment until they enrol.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub mfa_enrolment_required: bool,
}

/// The password was right and the account has a second factor.
#[derive(Serialize, ToSchema)]
pub struct MfaRequired {
    /// Always true.
    pub mfa_required: bool,
    /// For `POST /auth/mfa`: lives 5 minutes, survives 5 wrong codes.
    pub mfa_token: String,
    /// When the user has passkeys: WebAuthn options for
    /// `navigator.credentials.get` (`{"publicKey": {...}}`); the answer goes
    /// to `POST /auth/mfa` as `passkey`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub passkey: Option<serde_json::Value>,
}

fn session_answer(app: &App, ok: auth::LoginOk) -> Response {
    let cookie = crate::extract::session_cookie(app, &ok.token);
    let body = LoginResponse {
        user: UserJson::from(&ok),
        mfa_enrolment_required: ok.mfa_enrolment_required,
        token: ok.token,
        expires_at: time(ok.expires_at),
    };
    let mut res = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// Signs in with email and password. An account with a second factor gets
/// `{"mfa_required": true, "mfa_token"}` and no session yet.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, description = "signed in (sets the session cookie), or `MfaRequired` when a second factor must follow", body = LoginResponse),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "wrong email or password (`invalid_credentials`)", body = Problem),
    (status = 429, description = "too many attempts (`rate_limited`, with Retry-After)", body = Problem)))]
pub async fn login(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    match auth::login(&app, &ctx, &req.email, &req.password).await? {
        auth::Login::Session(ok) => Ok(session_answer(&app, ok)),
        auth::Login::SecondFactor { mfa_token, passkey } => Ok(Json(MfaRequired {
            mfa_required: true,
            mfa_token,
            passkey,
        })
        .into_response()),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaRequest {
    pub mfa_token: String,
    /// A current TOTP code, or an unused recovery code; or
    pub code: Option<String>,
    /// a passkey's answer (`PublicKeyCredential.toJSON()`) to the options
    /// the sign-in offered.
    #[schema(value_type = Option<Object>)]
    pub passkey: Option<serde_json::Value>,
}

/// Completes a sign-in with a second factor.
#[utoipa::path(post, path = "/api/v1/auth/mfa", tag = "auth", request_body = MfaRequest, responses(
    (status = 200, description = "signed in; sets the session cookie", body = LoginResponse),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "wrong or reused code (`invalid_credentials`), or a dead `mfa_token` (`unauthenticated`)", body = Problem),
    (status = 429, description = "too many attempts (`rate_limited`, with Retry-After)", body = Problem)))]
pub async fn mfa(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    ApiJson(req): ApiJson<MfaRequest>,
) -> ApiResult<Response> {
    let step = match (&req.code, &req.passkey) {
        (Some(c), None) => turva_app::mfa::SecondStep::Code(c),
        (None, Some(p)) => turva_app::mfa::SecondStep::Passkey(p),
        _ => {
            return Err(
                turva_app::AppError::malformed("code", "give either code or passkey").into(),
            )
        }
    };
    let ok = turva_app::mfa::complete_login(&app, &ctx, &req.mfa_token, step).await?;
    Ok(session_answer(&app, ok))
}

/// Starts a passwordless sign-in with a passkey: WebAuthn options for
/// `navigator.credentials.get` (the browser offers the user's passkeys
/// for this site). The challenge lives 5 minutes.
#[utoipa::path(post, path = "/api/v1/auth/passkey/start", tag = "auth", responses(
    (status = 200, description = "options (`{\"publicKey\": {...}}`)", body = Object),
    (status = 409, description = "passkeys are off (`[server] public_url` is no host name)", body = Problem),
    (status = 429, description = "too many starts from this address", body = Problem)))]
pub async fn passkey_start(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(turva_app::passkeys::start_login(&app, &ctx).await?))
}

/// Finishes a passwordless sign-in: the body is the browser's answer
/// (`PublicKeyCredential.toJSON()`). User verification is required, so
/// this counts as signing in with MFA.
#[utoipa::path(post, path = "/api/v1/auth/passkey/finish", tag = "auth", request_body = Object, responses(
    (status = 200, description = "signed in; sets the session cookie", body = LoginResponse),
    (status = 400, description = "not a WebAuthn answer", body = Problem),
    (status = 401, description = "unknown passkey, bad signature, or a spent or expired challenge (`invalid_credentials`)", body = Problem),
    (status = 409, description = "passkeys are off", body = Problem),
    (status = 429, description = "too many attempts (`rate_limited`, with Retry-After)", body = Problem)))]
pub async fn passkey_finish(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    ApiJson(answer): ApiJson<serde_json::Value>,
) -> ApiResult<Response> {
    let ok = turva_app::passkeys::finish_login(&app, &ctx, &answer).await?;
    Ok(session_answer(&app, ok))
}

/// Starts a re-authentication with one of the caller's passkeys: WebAuthn
/// options; the answer goes to `POST /auth/reauth` as `passkey`.
#[utoipa::path(post, path = "/api/v1/auth/reauth/passkey", tag = "auth", responses(
    (status = 200, description = "options (`{\"publicKey\": {...}}`)", body = Object),
    (status = 401, description = "not signed in", body = Problem),
    (status = 409, description = "you have no passkey, or passkeys are off", body = Problem),
    (status = 429, description = "too many starts in this session", body = Problem)))]
pub async fn reauth_passkey_start(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(
        turva_app::passkeys::start_reauth(&app, &ctx, &actor).await?,
    ))
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
    /// The account's password; or
    pub password: Option<String>,
    /// a TOTP code or a recovery code; or
    pub code: Option<String>,
    /// a passkey's answer to the options of `POST /auth/reauth/passkey`.
    #[schema(value_type = Option<Object>)]
    pub passkey: Option<serde_json::Value>,
}

/// Confirms the password or a second factor for sensitive actions (recent
/// auth).
#[utoipa::path(post, path = "/api/v1/auth/reauth", tag = "auth", request_body = Reauth, responses(
    (status = 204, description = "confirmed"),
    (status = 400, description = "not exactly one of password, code and passkey", body = Problem),
    (status = 401, description = "wrong password, code or passkey, or not signed in", body = Problem),
    (status = 429, description = "too many attempts", body = Problem)))]
pub async fn reauth(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<Reauth>,
) -> ApiResult<StatusCode> {
    let with = match (&req.password, &req.code, &req.passkey) {
        (Some(p), None, None) => auth::ReauthWith::Password(p),
        (None, Some(c), None) => auth::ReauthWith::Code(c),
        (None, None, Some(k)) => auth::ReauthWith::Passkey(k),
        _ => {
            return Err(turva_app::AppError::malformed(
                "password",
                "give one of password, code or passkey",
            )
            .into())
        }
    };
    auth::reauth(&app, &ctx, &actor, with).await?;
    Ok(StatusCode::NO_CONTENT)
}
