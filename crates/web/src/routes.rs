//! The route table: every route of Turva in one place. The API lives under
//! `/api/v1`; `/healthz` and `/readyz` at the root. The OpenAPI description
//! is generated from the handlers' annotations, so it covers every route.

use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use turva_app::App;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{
    admin, audit, auth, companies, documents, files, folders, health, me, mfa, search, shares,
    templates, tokens,
};
use crate::error::ApiError;
use crate::middleware;

/// Largest JSON body accepted.
pub const JSON_LIMIT: usize = 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "Turva", description = "The Turva HTTP API (contract: API.md). Errors are application/problem+json with a stable `code`."),
    modifiers(&Security),
    tags((name = "auth"), (name = "me"), (name = "companies"), (name = "members"), (name = "folders"), (name = "documents"), (name = "templates"), (name = "shares"), (name = "files"), (name = "search"), (name = "trash"), (name = "audit"), (name = "admin"), (name = "health"))
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::extract::SESSION_COOKIE,
            ))),
        );
    }
}

/// The API routes with their OpenAPI description.
fn api() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::password_reset))
        .routes(routes!(auth::password_reset_confirm))
        .routes(routes!(auth::accept_invite))
        .routes(routes!(auth::reauth))
        .routes(routes!(auth::mfa))
        .routes(routes!(auth::passkey_start))
        .routes(routes!(auth::passkey_finish))
        .routes(routes!(auth::reauth_passkey_start))
        .routes(routes!(auth::confirm_email))
        .routes(routes!(me::get_me, me::patch_me))
        .routes(routes!(me::change_password))
        .routes(routes!(me::list_sessions))
        .routes(routes!(me::revoke_session))
        .routes(routes!(mfa::overview))
        .routes(routes!(mfa::start_totp))
        .routes(routes!(mfa::confirm_totp))
        .routes(routes!(mfa::remove, mfa::rename))
        .routes(routes!(mfa::start_passkey))
        .routes(routes!(mfa::finish_passkey))
        .routes(routes!(mfa::renew_recovery_codes))
        .routes(routes!(tokens::list_tokens, tokens::create_token))
        .routes(routes!(tokens::revoke_token))
        .routes(routes!(
            companies::create_company,
            companies::list_companies
        ))
        .routes(routes!(
            companies::get_company,
            companies::patch_company,
            companies::delete_company
        ))
        .routes(routes!(companies::cancel_deletion))
        .routes(routes!(companies::list_members, companies::invite_member))
        .routes(routes!(companies::patch_member, companies::remove_member))
        .routes(routes!(companies::reset_member_mfa))
        .routes(routes!(folders::create_folder, folders::list_folders))
        .routes(routes!(
            folders::get_folder,
            folders::patch_folder,
            folders::delete_folder
        ))
        .routes(routes!(folders::list_children))
        .routes(routes!(documents::create_document))
        .routes(routes!(
            documents::get_document,
            documents::patch_document,
            documents::delete_document
        ))
        .routes(routes!(documents::list_versions))
        .routes(routes!(documents::get_version))
        .routes(routes!(documents::compare_versions))
        .routes(routes!(documents::restore_version))
        .routes(routes!(
            templates::create_template,
            templates::list_templates
        ))
        .routes(routes!(templates::get_template, templates::patch_template))
        .routes(routes!(
            templates::create_folder_template,
            templates::list_folder_templates
        ))
        .routes(routes!(templates::patch_folder_template))
        .routes(routes!(shares::share_folder, shares::list_folder_shares))
        .routes(routes!(
            shares::share_document,
            shares::list_document_shares
        ))
        .routes(routes!(shares::patch_share, shares::revoke_share))
        .routes(routes!(shares::shared_with_me))
        .routes(routes!(audit::public_key))
        .routes(routes!(audit::company_audit))
        .routes(routes!(audit::analytics))
        .routes(routes!(audit::platform_audit))
        .routes(routes!(admin::status))
        .routes(routes!(audit::latest_checkpoint))
        .routes(routes!(audit::list_checkpoints))
        .routes(routes!(audit::inclusion_proof))
        .routes(routes!(audit::consistency_proof))
        .routes(routes!(search::search))
        .routes(routes!(search::list_trash))
        .routes(routes!(search::restore))
        .routes(routes!(files::download, files::delete))
        .routes(routes!(files::inline))
        // Uploads stream past the JSON limit; the file size limit and the
        // company quota are enforced while the bytes arrive.
        .merge(
            OpenApiRouter::new()
                .routes(routes!(files::upload))
                .layer(DefaultBodyLimit::disable()),
        )
}

/// The OpenAPI description of every route, as served: problem documents
/// are described as `application/problem+json`, and every operation has a
/// `default` problem answer for the statuses any request may get (413,
/// 415, 429, 503 …).
pub fn openapi() -> serde_json::Value {
    let mut doc = serde_json::to_value(openapi_doc()).unwrap_or_default();
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for op in item.values_mut() {
                let Some(responses) = op.get_mut("responses").and_then(|r| r.as_object_mut())
                else {
                    continue;
                };
                for resp in responses.values_mut() {
                    let Some(content) = resp.get_mut("content").and_then(|c| c.as_object_mut())
                    else {
                        continue;
                    };
                    let is_problem = content
                        .get("application/json")
                        .and_then(|j| j.pointer("/schema/$ref"))
                        .and_then(|r| r.as_str())
                        .is_some_and(|r| r.ends_with("/Problem"));
                    if is_problem {
                        if let Some(v) = content.remove("application/json") {
                            content.insert("application/problem+json".into(), v);
                        }
                    }
                }
                responses.entry("default").or_insert_with(|| {
                    serde_json::json!({
                        "description": "an error: a problem document with a stable `code`",
                        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
                    })
                });
            }
        }
    }
    doc
}

fn openapi_doc() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = api().split_for_parts();
    doc.paths.paths.insert(
        "/api/v1/openapi.json".into(),
        utoipa::openapi::path::PathItem::new(
            utoipa::openapi::HttpMethod::Get,
            utoipa::openapi::path::OperationBuilder::new()
                .summary(Some("This OpenAPI description"))
                .tag("health")
                .response(
                    "200",
                    utoipa::openapi::Response::new("the OpenAPI 3.1 description"),
                ),
        ),
    );
    doc
}

/// The whole application router with its middleware.
pub fn router(app: App) -> Router {
    let (routes, _) = api().split_for_parts();
    let doc = openapi();
    routes
        .route(
            "/api/v1/openapi.json",
            get(move || async move { Json(doc.clone()) }),
        )
        .merge(crate::pages::routes())
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(JSON_LIMIT))
        .layer(axum::middleware::from_fn(middleware::security_headers))
        .layer(axum::middleware::from_fn(middleware::request_context))
        .with_state(app)
}

/// Unknown paths: a problem document under the API, the designed 404
/// page elsewhere.
async fn no_route(uri: axum::http::Uri, headers: axum::http::HeaderMap) -> Response {
    if uri.path().starts_with("/api/") {
        middleware::no_route().await
    } else {
        crate::pages::not_found(headers).await
    }
}

async fn method_not_allowed() -> Response {
    ApiError::MethodNotAllowed.into_response()
}
