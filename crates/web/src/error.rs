//! The one mapping from errors to responses: RFC 9457 problem documents
//! with a stable machine `code`. Causes go to the log with the request id;
//! a body never shows a stack trace, SQL or a path.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use turva_app::AppError;

/// An error answered to a client.
#[derive(Debug)]
pub enum ApiError {
    App(AppError),
    /// 400 for malformed input that never reached the app.
    BadInput {
        field: Option<String>,
        detail: String,
    },
    PayloadTooLarge,
    UnsupportedMediaType,
    /// CSRF header missing or wrong on a cookie-authenticated write.
    Csrf,
    NoRoute,
    MethodNotAllowed,
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError::App(e)
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code.
    pub code: String,
    /// The input field at fault, for `invalid_input`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, detail, field, retry_after) = match self {
            ApiError::App(e) => match e {
                AppError::Invalid { field, reason } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_input",
                    format!("{field} {reason}"),
                    Some(field.to_string()),
                    None,
                ),
                AppError::InvalidValue { field, reason } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_input",
                    format!("{field} {reason}"),
                    Some(field),
                    None,
                ),
                AppError::Malformed { field, reason } => (
                    StatusCode::BAD_REQUEST,
                    "invalid_input",
                    format!("{field} {reason}"),
                    Some(field.to_string()),
                    None,
                ),
                AppError::Unauthenticated => (
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "missing, expired or revoked credentials".into(),
                    None,
                    None,
                ),
                AppError::InvalidCredentials => (
                    StatusCode::UNAUTHORIZED,
                    "invalid_credentials",
                    "wrong email or password".into(),
                    None,
                    None,
                ),
                AppError::Forbidden(why) => (
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    why.to_string(),
                    None,
                    None,
                ),
                AppError::NotFound => (
                    StatusCode::NOT_FOUND,
                    "not_found",
                    "no such object".into(),
                    None,
                    None,
                ),
                AppError::Conflict(why) => (
                    StatusCode::CONFLICT,
                    "conflict",
                    why.to_string(),
                    None,
                    None,
                ),
                AppError::TooLarge(why) => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    why.to_string(),
                    None,
                    None,
                ),
                AppError::RateLimited { retry_after_secs } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("too many attempts; retry after {retry_after_secs} seconds"),
                    None,
                    Some(retry_after_secs),
                ),
                AppError::ReauthRequired => (
                    StatusCode::FORBIDDEN,
                    "reauthentication_required",
                    "confirm your password first (POST /api/v1/auth/reauth)".into(),
                    None,
                    None,
                ),
                AppError::MfaEnrolmentRequired => (
                    StatusCode::FORBIDDEN,
                    "mfa_enrolment_required",
                    "a second factor is required: enrol one first (POST /api/v1/me/mfa/totp or /api/v1/me/mfa/passkeys/start)"
                        .into(),
                    None,
                    None,
                ),
                AppError::Unavailable(cause) => {
                    tracing::error!(%cause, "service unavailable");
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "temporarily unavailable; try again".into(),
                        None,
                        None,
                    )
                }
                AppError::Internal(cause) => {
                    tracing::error!(%cause, "internal error");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "internal error".into(),
                        None,
                        None,
                    )
                }
            },
            ApiError::BadInput { field, detail } => (
                StatusCode::BAD_REQUEST,
                "invalid_input",
                detail,
                field,
                None,
            ),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large".into(),
                None,
                None,
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send Content-Type: application/json".into(),
                None,
                None,
            ),
            ApiError::Csrf => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "the X-CSRF-Token header is missing or wrong (GET /api/v1/me returns it)".into(),
                None,
                None,
            ),
            ApiError::NoRoute => (
                StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint".into(),
                None,
                None,
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed here".into(),
                None,
                None,
            ),
        };
        problem(status, code, detail, field, retry_after)
    }
}

/// Builds a problem response.
pub fn problem(
    status: StatusCode,
    code: &str,
    detail: String,
    field: Option<String>,
    retry_after: Option<u64>,
) -> Response {
    let body = Problem {
        kind: format!("https://turva.invalid/problems/{code}"),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail,
        code: code.to_string(),
        field,
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut res = (status, bytes).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if let Some(secs) = retry_after {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    res
}

pub type ApiResult<T> = Result<T, ApiError>;
