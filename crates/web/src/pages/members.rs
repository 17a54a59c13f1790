//! Company administration: members (invite, change role, remove, who has
//! a second factor, reset it) and settings (`require_mfa`, members' access
//! to new top-level folders). Through `app::members` and
//! `app::companies::update`, which decide (admins; owners for owners;
//! recent auth where the contract says so) and audit.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use serde_json::{Map, Value};
use turva_app::{companies, members, App, AppError};

use super::i18n::Texts;
use super::{
    csrf_checked, error_page, refused_value, render, value, Bar, CompanyLink, Fields, Viewer,
    ASSET_VERSION,
};

pub struct MemberLine {
    id: String,
    name: String,
    email: String,
    role: String,
    role_text: &'static str,
    status: &'static str,
    has_mfa: bool,
    me: bool,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    csrf: &'a str,
    company: CompanyLink,
    members: Vec<MemberLine>,
    roles: [(&'static str, &'static str); 4],
    email: &'a str,
    require_mfa: bool,
    default_access: String,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn role_text(t: &Texts, role: &str) -> &'static str {
    match role {
        "owner" => t.role_owner,
        "admin" => t.role_admin,
        "reader" => t.role_reader,
        _ => t.role_member,
    }
}

async fn members_page(
    app: &App,
    viewer: &Viewer,
    cid: &str,
    email: &str,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Response {
    let frame = match viewer.frame(app, Some(cid)).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = frame.t;
    let list = match members::list(app, &viewer.ctx, &viewer.actor, cid, None, 200).await {
        Ok(p) => p.items,
        Err(e) => return error_page(&frame, &e),
    };
    let company = match companies::get(app, &viewer.ctx, &viewer.actor, cid).await {
        Ok(c) => c,
        Err(e) => return error_page(&frame, &e),
    };
    let settings: Map<String, Value> = serde_json::from_str(&company.settings).unwrap_or_default();
    render(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &MembersPage {
            t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            csrf: &viewer.actor.csrf_token,
            company: frame.company_link(cid),
            members: list
                .into_iter()
                .map(|m| MemberLine {
                    me: m.user_id == viewer.actor.user_id,
                    role_text: role_text(t, &m.role),
                    status: if m.status == "active" {
                        t.member_status_active
                    } else {
                        t.member_status_invited
                    },
                    id: m.user_id,
                    name: m.name,
                    email: m.email,
                    role: m.role,
                    has_mfa: m.has_mfa,
                })
                .collect(),
            roles: [
                ("owner", t.role_owner),
                ("admin", t.role_admin),
                ("member", t.role_member),
                ("reader", t.role_reader),
            ],
            email,
            require_mfa: settings.get("require_mfa").and_then(Value::as_bool) == Some(true),
            default_access: settings
                .get("default_member_access")
                .and_then(Value::as_str)
                .unwrap_or("edit")
                .to_string(),
            notice,
            error,
        },
    )
}

/// `GET /c/{cid}/members` (admins).
pub async fn page(
    State(app): State<App>,
    viewer: Viewer,
    Path(cid): Path<String>,
    Query(q): Query<Done>,
) -> Response {
    let t = viewer.t;
    let notice = match q.done.as_deref() {
        Some("invited") => Some(t.member_invited),
        Some("changed") => Some(t.member_changed),
        Some("removed") => Some(t.member_removed),
        Some("mfa") => Some(t.mfa_reset_done),
        Some("settings") => Some(t.settings_saved),
        _ => None,
    };
    members_page(&app, &viewer, &cid, "", notice, None).await
}

/// What became of an admin's step: on to the page with a notice, to
/// `/reauth` when a recent sign-in is needed, or the page with the reason.
async fn outcome(
    app: &App,
    viewer: &Viewer,
    cid: &str,
    r: Result<(), AppError>,
    done: &str,
    typed_email: &str,
) -> Response {
    let here = format!("/c/{cid}/members");
    match r {
        Ok(()) => Redirect::to(&format!("{here}?done={done}")).into_response(),
        Err(AppError::ReauthRequired) => {
            Redirect::to(&format!("/reauth?next={}", super::encode(&here))).into_response()
        }
        Err(
            e @ (AppError::Invalid { .. }
            | AppError::Malformed { .. }
            | AppError::InvalidValue { .. }),
        ) => {
            let why = refused_value(viewer.t, &e).unwrap_or_default();
            members_page(app, viewer, cid, typed_email, None, Some(why)).await
        }
        Err(AppError::Conflict(why)) => {
            members_page(app, viewer, cid, typed_email, None, Some(why.to_string())).await
        }
        // Refused for a reason the admin can act on (requiring a second
        // factor without one, an owner's step): said on the page.
        Err(AppError::Forbidden(why)) if done == "settings" => {
            let mut r =
                members_page(app, viewer, cid, typed_email, None, Some(why.to_string())).await;
            *r.status_mut() = StatusCode::FORBIDDEN;
            r
        }
        Err(e) => error_page(&viewer.bare(), &e),
    }
}

/// `POST /c/{cid}/members`: an invitation.
pub async fn invite(
    State(app): State<App>,
    viewer: Viewer,
    Path(cid): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let email = value(&form, "email").unwrap_or_default();
    let r = members::invite(
        &app,
        &viewer.ctx,
        &viewer.actor,
        &cid,
        email,
        value(&form, "role").unwrap_or("member"),
        None,
    )
    .await
    .map(|_| ());
    outcome(&app, &viewer, &cid, r, "invited", email).await
}

/// `POST /c/{cid}/members/{uid}/role`.
pub async fn change_role(
    State(app): State<App>,
    viewer: Viewer,
    Path((cid, uid)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let role = value(&form, "role").unwrap_or_default();
    let r = members::change_role(&app, &viewer.ctx, &viewer.actor, &cid, &uid, role)
        .await
        .map(|_| ());
    outcome(&app, &viewer, &cid, r, "changed", "").await
}

/// `POST /c/{cid}/members/{uid}/remove`.
pub async fn remove(
    State(app): State<App>,
    viewer: Viewer,
    Path((cid, uid)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let r = members::remove(&app, &viewer.ctx, &viewer.actor, &cid, &uid).await;
    outcome(&app, &viewer, &cid, r, "removed", "").await
}

/// `POST /c/{cid}/members/{uid}/reset-mfa`.
pub async fn reset_mfa(
    State(app): State<App>,
    viewer: Viewer,
    Path((cid, uid)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let r = members::reset_mfa(&app, &viewer.ctx, &viewer.actor, &cid, &uid).await;
    outcome(&app, &viewer, &cid, r, "mfa", "").await
}

/// `POST /c/{cid}/settings`: `require_mfa` and the default member access.
pub async fn settings(
    State(app): State<App>,
    viewer: Viewer,
    Path(cid): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let mut settings = Map::new();
    settings.insert(
        "require_mfa".into(),
        Value::Bool(value(&form, "require_mfa") == Some("true")),
    );
    if let Some(access) = value(&form, "default_member_access") {
        settings.insert(
            "default_member_access".into(),
            Value::String(access.to_string()),
        );
    }
    let r = companies::update(
        &app,
        &viewer.ctx,
        &viewer.actor,
        &cid,
        None,
        Some(&settings),
    )
    .await
    .map(|_| ());
    outcome(&app, &viewer, &cid, r, "settings", "").await
}
