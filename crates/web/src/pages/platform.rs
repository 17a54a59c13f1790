//! The operators' page: the platform's status (backups, the last drill,
//! master-key versions; no company content) and a form that creates a
//! company and invites its owner. Through `app::admin::status` and
//! `app::companies::create`, which decide (operators only, with a second
//! factor and recent auth where the contract says so) and audit.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use turva_app::companies::{self, Creator};
use turva_app::{admin, App, AppError};

use super::i18n::Texts;
use super::{csrf_checked, error_page, render, value, Bar, Fields, Viewer, ASSET_VERSION};

#[derive(Template)]
#[template(path = "platform.html")]
struct PlatformPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    version: &'a str,
    backups: usize,
    backup_error: Option<String>,
    last_backup: Option<String>,
    last_drill: Option<String>,
    /// (version, created, data keys wrapped, newest)
    keys: Vec<(u32, String, i64, bool)>,
    companies: Vec<CompanyLine>,
    name: &'a str,
    owner_email: &'a str,
    notice: Option<&'static str>,
    error: Option<String>,
}

/// A company in the operators' list.
struct CompanyLine {
    id: String,
    name: String,
    created: String,
    members: i64,
    /// When a scheduled deletion destroys it.
    destroy_at: Option<String>,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

async fn platform_page(
    app: &App,
    viewer: &Viewer,
    typed: (&str, &str),
    notice: Option<&'static str>,
    error: Option<String>,
) -> Response {
    let frame = match viewer.frame(app, None).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = frame.t;
    let status = match admin::status(app, &viewer.ctx, &viewer.actor).await {
        Ok(s) => s,
        Err(AppError::ReauthRequired) => {
            return Redirect::to("/reauth?next=/admin").into_response();
        }
        Err(e) => return error_page(&frame, &e),
    };
    let minutes = |ms: i64| format!("{:.1} min", ms as f64 / 60_000.0);
    let code = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        code,
        &PlatformPage {
            t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            version: status.version,
            backups: status.backups,
            backup_error: status.backup_error,
            last_backup: status.last_backup.map(|b| {
                format!(
                    "{} · {} · {}",
                    b.id,
                    t.moment(b.created_at),
                    t.size(b.bytes)
                )
            }),
            last_drill: status.last_drill.map(|d| {
                format!(
                    "{} · {} · {} · RTO {} · RPO {}",
                    t.moment(d.at),
                    d.backup,
                    if d.passed {
                        t.drill_passed
                    } else {
                        t.drill_failed
                    },
                    minutes(d.rto_ms),
                    minutes(d.rpo_ms)
                )
            }),
            keys: status
                .key_versions
                .iter()
                .map(|k| {
                    (
                        k.version,
                        k.created_at.map(|c| t.moment(c)).unwrap_or_default(),
                        k.data_keys,
                        k.newest,
                    )
                })
                .collect(),
            companies: status
                .companies
                .into_iter()
                .map(|c| CompanyLine {
                    created: t.moment(c.created_at),
                    destroy_at: c
                        .deletion_scheduled_at
                        .map(|at| t.moment(at + companies::DELETION_GRACE_DAYS * 86_400_000)),
                    id: c.id,
                    name: c.name,
                    members: c.members,
                })
                .collect(),
            name: typed.0,
            owner_email: typed.1,
            notice,
            error,
        },
    )
}

/// `GET /admin` (operators).
pub async fn page(State(app): State<App>, viewer: Viewer, Query(q): Query<Done>) -> Response {
    let notice = match q.done.as_deref() {
        Some("company") => Some(viewer.t.company_created),
        Some("deletion") => Some(viewer.t.deletion_scheduled),
        _ => None,
    };
    platform_page(&app, &viewer, ("", ""), notice, None).await
}

/// `POST /admin/companies`: a company, and an invitation to its owner.
pub async fn create_company(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let name = value(&form, "name").unwrap_or_default();
    let owner = value(&form, "owner_email").unwrap_or_default();
    match companies::create(
        &app,
        &viewer.ctx,
        Creator::Operator(&viewer.actor),
        name,
        owner,
    )
    .await
    {
        Ok(_) => Redirect::to("/admin?done=company").into_response(),
        Err(AppError::ReauthRequired) => Redirect::to("/reauth?next=/admin").into_response(),
        Err(AppError::Invalid { field, reason } | AppError::Malformed { field, reason }) => {
            let label = match field {
                "name" => viewer.t.company_name,
                "owner_email" | "email" => viewer.t.owner_email,
                other => other,
            };
            let why = format!("{label}: {}", viewer.t.reason(&reason));
            platform_page(&app, &viewer, (name, owner), None, Some(why)).await
        }
        Err(e) => error_page(&viewer.bare(), &e),
    }
}

/// `POST /admin/companies/{cid}/delete`: schedules a company's deletion
/// (7 days ahead, as `DELETE /companies/{cid}`) once the operator has
/// typed its name; recent auth first.
pub async fn schedule_deletion(
    State(app): State<App>,
    viewer: Viewer,
    Path(cid): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let typed = value(&form, "confirm").unwrap_or_default();
    let done = companies::schedule_deletion(&app, &viewer.ctx, &viewer.actor, &cid, Some(typed));
    match done.await {
        Ok(_) => Redirect::to("/admin?done=deletion").into_response(),
        Err(AppError::ReauthRequired) => Redirect::to("/reauth?next=/admin").into_response(),
        Err(AppError::Invalid {
            field: "confirm", ..
        }) => {
            let why = viewer.t.name_mismatch.to_string();
            platform_page(&app, &viewer, ("", ""), None, Some(why)).await
        }
        Err(e) => error_page(&viewer.bare(), &e),
    }
}
