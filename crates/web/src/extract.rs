//! Extractors: they establish *who is asking* and parse input, nothing
//! more. Roles are never checked here.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, Method};
use serde::de::DeserializeOwned;
use turva_app::{Actor, App, Ctx};

use crate::error::ApiError;
use crate::middleware::RequestId;

/// Name of the session cookie. `__Host-` binds it to this origin, Secure,
/// path /.
pub const SESSION_COOKIE: &str = "__Host-turva_session";

/// The `Set-Cookie` value that carries a new session: `__Host-`, secure,
/// not readable by scripts, sent on top-level navigation from elsewhere
/// (`Lax`) so that a link into Turva finds the user signed in.
pub fn session_cookie(app: &App, token: &str) -> String {
    let max_age = app.config().auth.session_absolute_seconds;
    format!("{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={max_age}")
}

/// Where the request comes from.
pub struct ClientCtx(pub Ctx);

impl<S> FromRequestParts<S> for ClientCtx
where
    App: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = App::from_ref(state);
        Ok(ClientCtx(client_ctx(&app, parts)))
    }
}

/// Builds the client context: the peer address, or — only when the peer is
/// a configured trusted proxy — the nearest untrusted address in
/// `X-Forwarded-For`.
pub fn client_ctx(app: &App, parts: &Parts) -> Ctx {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let mut ip = peer;
    if app.config().is_trusted_proxy(peer) {
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        // Walk from the right: the last entries were added by our proxies.
        // An entry that does not parse ends the walk at the last trusted
        // hop, so nothing a client wrote to its left is believed.
        for entry in forwarded.iter().rev() {
            let Ok(addr) = entry.parse::<IpAddr>() else {
                break;
            };
            ip = addr;
            if !app.config().is_trusted_proxy(addr) {
                break;
            }
        }
    }
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(512)
        .collect();
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    Ctx {
        ip,
        user_agent,
        request_id,
    }
}

/// A signed-in caller: from `Authorization: Bearer <token>` or the session
/// cookie. A state-changing request authenticated by the cookie must carry
/// the session's `X-CSRF-Token`.
pub struct Auth(pub Actor);

impl<S> FromRequestParts<S> for Auth
where
    App: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = App::from_ref(state);
        let found = credentials(parts);
        let actor = match found.as_ref() {
            Some((token, _)) => turva_app::auth::authenticate(&app, token).await,
            None => Err(turva_app::AppError::Unauthenticated),
        };
        let actor = match actor {
            Ok(a) => a,
            Err(turva_app::AppError::Unauthenticated) => {
                app.count_unauthenticated();
                return Err(ApiError::App(turva_app::AppError::Unauthenticated));
            }
            Err(e) => return Err(e.into()),
        };
        let by_cookie = found.is_some_and(|(_, c)| c);
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if by_cookie && !safe {
            let header = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok());
            if !turva_app::auth::csrf_ok(&actor, header) {
                let ctx = client_ctx(&app, parts);
                return Err(
                    match turva_app::auth::csrf_denied(&app, &ctx, &actor).await {
                        turva_app::AppError::Forbidden(_) => ApiError::Csrf,
                        other => ApiError::App(other),
                    },
                );
            }
        }
        if actor.token.is_some() {
            let ctx = client_ctx(&app, parts);
            turva_app::api_tokens::gate(&app, &ctx, &actor, parts.uri.path(), safe).await?;
        }
        if actor.must_enrol && !open_before_enrolment(&parts.method, parts.uri.path()) {
            let ctx = client_ctx(&app, parts);
            return Err(turva_app::auth::enrolment_denied(&app, &ctx, &actor)
                .await
                .into());
        }
        Ok(Auth(actor))
    }
}

/// What a user who must enrol a second factor may still call (API.md,
/// "Second factors required"): `GET /me`, `/me/mfa…`, re-auth, sign-out.
fn open_before_enrolment(method: &Method, path: &str) -> bool {
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    (path == "/me" && method == Method::GET)
        || path == "/me/mfa"
        || path.starts_with("/me/mfa/")
        || path == "/auth/reauth"
        || path == "/auth/logout"
}

/// The token and whether it came from the cookie.
fn credentials(parts: &Parts) -> Option<(String, bool)> {
    if let Some(v) = parts.headers.get(header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))?;
        return Some((token.trim().to_string(), false));
    }
    for v in parts.headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for pair in v.split(';') {
            if let Some((k, val)) = pair.trim().split_once('=') {
                if k == SESSION_COOKIE {
                    return Some((val.to_string(), true));
                }
            }
        }
    }
    None
}

/// A JSON body: `Content-Type: application/json` (else 415), within the
/// body limit (else 413), well-formed, with no unknown fields, no NUL
/// characters and no string longer than 10,000 characters (else 400).
pub struct ApiJson<T>(pub T);

/// Longest string accepted anywhere in a JSON body; fields have their own,
/// tighter limits in `turva_model::validate`.
pub const STRING_MAX: usize = 10_000;

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime != "application/json" {
            return Err(ApiError::UnsupportedMediaType);
        }
        let _ = state;
        let bytes = read_limited(req.into_body(), crate::routes::JSON_LIMIT).await?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| ApiError::BadInput {
                field: None,
                detail: format!("malformed JSON: {}", strip_position(&e)),
            })?;
        check_strings(&value, "")?;
        let parsed = serde_json::from_value(value).map_err(|e| ApiError::BadInput {
            field: None,
            detail: format!("invalid body: {}", strip_position(&e)),
        })?;
        Ok(ApiJson(parsed))
    }
}

/// A JSON body that may also be left out entirely (no `Content-Type`, no
/// bytes): then `T::default()`.
pub struct ApiJsonOrEmpty<T>(pub T);

impl<S, T> FromRequest<S> for ApiJsonOrEmpty<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if req.headers().get(header::CONTENT_TYPE).is_none() {
            let bytes = read_limited(req.into_body(), crate::routes::JSON_LIMIT).await?;
            if bytes.is_empty() {
                return Ok(ApiJsonOrEmpty(T::default()));
            }
            return Err(ApiError::UnsupportedMediaType);
        }
        ApiJson::from_request(req, state)
            .await
            .map(|ApiJson(t)| ApiJsonOrEmpty(t))
    }
}

/// A request body longer than this is not read to its end: the connection
/// is just closed.
const DRAIN_MAX: usize = 16 * 1024 * 1024;

/// Reads a body of at most `limit` bytes. A longer one is read on (and
/// thrown away) up to `DRAIN_MAX` before the 413 goes out, so that the
/// client, still sending, gets the answer rather than a reset connection.
async fn read_limited(body: axum::body::Body, limit: usize) -> Result<Bytes, ApiError> {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut buf: Vec<u8> = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ApiError::BadInput {
            field: None,
            detail: "the request body could not be read".into(),
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen <= limit {
            buf.extend_from_slice(&data);
        } else if seen > DRAIN_MAX {
            break;
        }
    }
    if seen > limit {
        return Err(ApiError::PayloadTooLarge);
    }
    Ok(Bytes::from(buf))
}

fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.find(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn check_strings(v: &serde_json::Value, path: &str) -> Result<(), ApiError> {
    match v {
        serde_json::Value::String(s) => {
            if s.contains('\0') {
                return Err(ApiError::BadInput {
                    field: Some(path.into()),
                    detail: format!("{path} contains a NUL character"),
                });
            }
            if s.chars().count() > STRING_MAX {
                return Err(ApiError::BadInput {
                    field: Some(path.into()),
                    detail: format!("{path} is too long"),
                });
            }
            Ok(())
        }
        serde_json::Value::Array(a) => a.iter().try_for_each(|x| check_strings(x, path)),
        serde_json::Value::Object(m) => m.iter().try_for_each(|(k, x)| {
            if k.contains('\0') {
                return Err(ApiError::BadInput {
                    field: None,
                    detail: "a key contains a NUL character".into(),
                });
            }
            check_strings(x, k)
        }),
        _ => Ok(()),
    }
}

/// Query parameters, answered with a problem document when malformed.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::BadInput {
                field: None,
                detail: e.body_text(),
            })
    }
}

/// Parses an id from the path.
pub fn id(field: &'static str, text: &str) -> Result<String, ApiError> {
    turva_app::model::Id::<()>::parse(field, text)
        .map(|i| i.as_text())
        .map_err(|e| ApiError::App(e.into()))
}

/// Path parameters, answered with a problem document when malformed (bad
/// percent-encoding, not UTF-8).
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_| ApiError::BadInput {
                field: None,
                detail: "the path is malformed".into(),
            })
    }
}
