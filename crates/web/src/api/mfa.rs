//! `/me/mfa…`: the caller's second factors and recovery codes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use turva_app::{mfa, App};
use utoipa::ToSchema;

use super::time;
use crate::error::{ApiResult, Problem};
use crate::extract::{id, ApiJson, ApiJsonOrEmpty, ApiPath, Auth, ClientCtx};

#[derive(Serialize, ToSchema)]
pub struct FactorJson {
    pub id: String,
    /// `totp` or `passkey`.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MfaJson {
    pub factors: Vec<FactorJson>,
    pub recovery_codes_left: i64,
}

/// The caller's second factors and how many recovery codes are unused.
#[utoipa::path(get, path = "/api/v1/me/mfa", tag = "me", responses(
    (status = 200, description = "factors", body = MfaJson),
    (status = 401, description = "not signed in", body = Problem)))]
pub async fn overview(State(app): State<App>, Auth(actor): Auth) -> ApiResult<Json<MfaJson>> {
    let o = mfa::overview(&app, &actor).await?;
    Ok(Json(MfaJson {
        factors: o
            .factors
            .into_iter()
            .map(|f| FactorJson {
                id: f.id,
                kind: f.kind,
                name: f.name,
                created_at: time(f.created_at),
                last_used_at: f.last_used_at.map(time),
            })
            .collect(),
        recovery_codes_left: o.recovery_codes_left,
    }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct StartTotp {
    /// What to call it (default "Authenticator app").
    pub name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TotpStartJson {
    pub id: String,
    /// Base32, for typing into an app by hand.
    pub secret: String,
    pub otpauth_url: String,
    /// The URL as a QR code (an SVG `data:` URL).
    pub qr: String,
}

/// Starts a TOTP enrolment (recent auth); confirm it with a current code
/// within 10 minutes.
#[utoipa::path(post, path = "/api/v1/me/mfa/totp", tag = "me", request_body = StartTotp, responses(
    (status = 201, description = "started", body = TotpStartJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "no recent password or second factor (`reauthentication_required`)", body = Problem)))]
pub async fn start_totp(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiJsonOrEmpty(req): ApiJsonOrEmpty<StartTotp>,
) -> ApiResult<(StatusCode, Json<TotpStartJson>)> {
    let s = mfa::start_totp(&app, &ctx, &actor, req.name.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(TotpStartJson {
            id: s.id,
            secret: s.secret,
            otpauth_url: s.otpauth_url,
            qr: s.qr,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Code {
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct ConfirmedJson {
    pub id: String,
    /// For the first factor only: ten single-use codes, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

/// Activates a started TOTP enrolment with a current code.
#[utoipa::path(post, path = "/api/v1/me/mfa/totp/{id}/confirm", tag = "me", request_body = Code,
    params(("id" = String, Path, description = "the enrolment's id")), responses(
    (status = 200, description = "active", body = ConfirmedJson),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 404, description = "no such pending enrolment", body = Problem),
    (status = 422, description = "not the current code, or the enrolment expired", body = Problem),
    (status = 429, description = "too many attempts", body = Problem)))]
pub async fn confirm_totp(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(fid): ApiPath<String>,
    ApiJson(req): ApiJson<Code>,
) -> ApiResult<Json<ConfirmedJson>> {
    let fid = id("id", &fid)?;
    let codes = mfa::confirm_totp(&app, &ctx, &actor, &fid, &req.code).await?;
    Ok(Json(ConfirmedJson {
        id: fid,
        recovery_codes: codes,
    }))
}

/// Removes a second factor (recent auth).
#[utoipa::path(delete, path = "/api/v1/me/mfa/{id}", tag = "me",
    params(("id" = String, Path, description = "the factor's id")), responses(
    (status = 204, description = "removed"),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "no recent password or second factor (`reauthentication_required`)", body = Problem),
    (status = 404, description = "no such factor of yours", body = Problem)))]
pub async fn remove(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(fid): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let fid = id("id", &fid)?;
    mfa::remove(&app, &ctx, &actor, &fid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodesJson {
    /// Ten single-use codes, shown this once; the old set is void.
    pub recovery_codes: Vec<String>,
}

/// A new set of recovery codes (recent auth).
#[utoipa::path(post, path = "/api/v1/me/mfa/recovery-codes", tag = "me", responses(
    (status = 201, description = "the new set", body = RecoveryCodesJson),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "no recent password or second factor (`reauthentication_required`)", body = Problem),
    (status = 409, description = "no second factor yet", body = Problem)))]
pub async fn renew_recovery_codes(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
) -> ApiResult<(StatusCode, Json<RecoveryCodesJson>)> {
    let codes = mfa::renew_recovery_codes(&app, &ctx, &actor).await?;
    Ok((
        StatusCode::CREATED,
        Json(RecoveryCodesJson {
            recovery_codes: codes,
        }),
    ))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct StartPasskey {
    /// What to call it (default "Passkey").
    pub name: Option<String>,
}

/// Starts registering a passkey or security key (recent auth): WebAuthn
/// options for `navigator.credentials.create` (`{"publicKey": {...}}`);
/// finish within 5 minutes, from the same session.
#[utoipa::path(post, path = "/api/v1/me/mfa/passkeys/start", tag = "me", request_body = StartPasskey, responses(
    (status = 200, description = "options", body = Object),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "no recent password or second factor (`reauthentication_required`)", body = Problem),
    (status = 409, description = "20 passkeys already, or passkeys are off", body = Problem)))]
pub async fn start_passkey(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiJsonOrEmpty(req): ApiJsonOrEmpty<StartPasskey>,
) -> ApiResult<Json<serde_json::Value>> {
    let options =
        turva_app::passkeys::start_registration(&app, &ctx, &actor, req.name.as_deref()).await?;
    Ok(Json(options))
}

#[derive(Serialize, ToSchema)]
pub struct PasskeyJson {
    pub id: String,
    pub name: String,
    /// For the first factor only: ten single-use codes, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

/// Finishes registering a passkey: the body is the browser's answer
/// (`PublicKeyCredential.toJSON()`).
#[utoipa::path(post, path = "/api/v1/me/mfa/passkeys/finish", tag = "me", request_body = Object, responses(
    (status = 201, description = "registered", body = PasskeyJson),
    (status = 400, description = "not a WebAuthn answer", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 409, description = "this passkey is registered already, or passkeys are off", body = Problem),
    (status = 422, description = "no open registration of this session, or the answer was not accepted", body = Problem),
    (status = 429, description = "too many attempts", body = Problem)))]
pub async fn finish_passkey(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiJson(answer): ApiJson<serde_json::Value>,
) -> ApiResult<(StatusCode, Json<PasskeyJson>)> {
    let r = turva_app::passkeys::finish_registration(&app, &ctx, &actor, &answer).await?;
    Ok((
        StatusCode::CREATED,
        Json(PasskeyJson {
            id: r.id,
            name: r.name,
            recovery_codes: r.recovery_codes,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    pub name: String,
}

/// Renames a second factor.
#[utoipa::path(patch, path = "/api/v1/me/mfa/{id}", tag = "me", request_body = Rename,
    params(("id" = String, Path, description = "the factor's id")), responses(
    (status = 204, description = "renamed"),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 404, description = "no such factor of yours", body = Problem)))]
pub async fn rename(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(fid): ApiPath<String>,
    ApiJson(req): ApiJson<Rename>,
) -> ApiResult<StatusCode> {
    let fid = id("id", &fid)?;
    mfa::rename(&app, &ctx, &actor, &fid, &req.name).await?;
    Ok(StatusCode::NO_CONTENT)
}
