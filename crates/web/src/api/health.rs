//! Liveness and readiness.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use turva_app::App;

use crate::error::ApiResult;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "alive", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the database and the file store answer.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "ready", body = Health),
    (status = 503, description = "database or file store unreachable", body = crate::error::Problem)))]
pub async fn readyz(State(app): State<App>) -> ApiResult<Json<Health>> {
    app.ready().await?;
    Ok(Json(Health { status: "ready" }))
}
