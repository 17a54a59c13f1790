//! `/me/tokens`: the caller's API tokens for integrations.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use turva_app::api_tokens::{self, NewToken};
use turva_app::App;
use utoipa::ToSchema;

use super::time;
use crate::error::{ApiResult, Problem};
use crate::extract::{id, ApiJson, ApiPath, ApiQuery, Auth, ClientCtx};

#[derive(Serialize, ToSchema)]
pub struct TokenJson {
    pub id: String,
    pub name: String,
    /// The one company the token reaches.
    pub company_id: String,
    /// Only reads (GET) are allowed with it.
    pub read_only: bool,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: String,
}

impl From<turva_app::rows::ApiTokenRow> for TokenJson {
    fn from(t: turva_app::rows::ApiTokenRow) -> Self {
        TokenJson {
            id: t.id,
            name: t.name,
            company_id: t.company_id,
            read_only: t.read_only,
            created_at: time(t.created_at),
            last_used_at: t.last_used_at.map(time),
            expires_at: time(t.expires_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub token_info: TokenJson,
    /// The secret, sent as `Authorization: Bearer <token>`; shown only in
    /// this answer.
    pub token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    pub name: String,
    pub company_id: String,
    /// RFC 3339; at most `[auth] token_max_days` ahead.
    pub expires_at: String,
    /// Default false.
    pub read_only: Option<bool>,
}

/// The caller's live API tokens, newest first.
#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "me", params(super::PageQuery), responses(
    (status = 200, description = "live tokens", body = super::List<TokenJson>),
    (status = 400, description = "malformed cursor or limit", body = Problem),
    (status = 401, description = "not signed in, or an API token", body = Problem)))]
pub async fn list_tokens(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<super::PageQuery>,
) -> ApiResult<Json<super::List<TokenJson>>> {
    let page = api_tokens::list(&app, &actor, q.opaque_cursor(), q.limit()?).await?;
    Ok(Json(super::List {
        items: page.items.into_iter().map(TokenJson::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Creates an API token reaching one company where the caller is a member
/// or guest (recent auth). The secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/me/tokens", tag = "me", request_body = CreateToken, responses(
    (status = 201, description = "created; `token` is the secret", body = CreatedToken),
    (status = 400, description = "malformed input", body = Problem),
    (status = 401, description = "not signed in, or an API token", body = Problem),
    (status = 403, description = "reauthentication_required", body = Problem),
    (status = 404, description = "no such company of yours", body = Problem),
    (status = 409, description = "too many live tokens", body = Problem),
    (status = 422, description = "expiry in the past or too far ahead", body = Problem)))]
pub async fn create_token(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<CreateToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let new = NewToken {
        name: &req.name,
        company_id: &req.company_id,
        expires_at: &req.expires_at,
        read_only: req.read_only.unwrap_or(false),
    };
    let created = api_tokens::create(&app, &ctx, &actor, &new).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token_info: created.row.into(),
            token: created.token,
        }),
    ))
}

/// Revokes one of the caller's tokens; it stops at once.
#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", tag = "me", params(("id" = String, Path, description = "token id")), responses(
    (status = 204, description = "revoked"),
    (status = 400, description = "malformed id", body = Problem),
    (status = 401, description = "not signed in, or an API token", body = Problem),
    (status = 404, description = "no such live token of yours", body = Problem)))]
pub async fn revoke_token(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(tid): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let tid = id("id", &tid)?;
    api_tokens::revoke(&app, &ctx, &actor, &tid).await?;
    Ok(StatusCode::NO_CONTENT)
}
