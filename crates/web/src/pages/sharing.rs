//! Sharing a folder or document: the dialog (email, right, expiry,
//! notify, invitation language), the list of current shares with change
//! and revoke. Everything goes through `app::shares`, which requires
//! `manage` on the object and audits each step.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use turva_app::shares::{self, Kind, NewShare};
use turva_app::{folders, App, AppError};

use super::i18n::Texts;
use super::{
    csrf_checked, error_page, render, safe_next, value, Bar, Fields, Viewer, ASSET_VERSION,
};

pub struct ShareLine {
    id: String,
    email: String,
    right: String,
    expires: String,
    status: &'static str,
}

#[derive(Template)]
#[template(path = "sharing.html")]
struct SharingPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    csrf: &'a str,
    here: String,
    back: String,
    name: String,
    restricted: bool,
    shares: Vec<ShareLine>,
    languages: [(&'static str, &'static str); 3],
    email: &'a str,
    expires: &'a str,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

fn kind_of(kind: &str) -> Option<Kind> {
    match kind {
        "folders" => Some(Kind::Folder),
        "documents" => Some(Kind::Document),
        _ => None,
    }
}

/// `YYYY-MM-DD` from a date input: the end of that day (UTC).
fn expiry(date: &str) -> Option<String> {
    let ok = date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    ok.then(|| format!("{date}T23:59:59Z"))
}

fn day(unix_ms: Option<i64>) -> String {
    unix_ms
        .and_then(|ms| {
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
        })
        .map(|t| format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_default()
}

async fn sharing_page(
    app: &App,
    viewer: &Viewer,
    kind: &str,
    id: &str,
    typed: (&str, &str),
    notice: Option<&'static str>,
    error: Option<String>,
) -> Response {
    let bare = viewer.bare();
    let Some(k) = kind_of(kind) else {
        return error_page(&bare, &AppError::NotFound);
    };
    if turva_model::Id::<()>::parse("id", id).is_err() {
        return error_page(&bare, &AppError::NotFound);
    }
    let list = match shares::list(app, &viewer.ctx, &viewer.actor, k, id, None, 200).await {
        Ok(p) => p.items,
        Err(e) => return error_page(&bare, &e),
    };
    let (name, company, restricted) = match k {
        Kind::Folder => match folders::get(app, &viewer.ctx, &viewer.actor, id).await {
            Ok(v) => (
                v.folder.name,
                v.folder.company_id,
                v.folder.member_access == "none",
            ),
            Err(e) => return error_page(&bare, &e),
        },
        Kind::Document => {
            match turva_app::documents::get(app, &viewer.ctx, &viewer.actor, id).await {
                Ok(v) => (v.doc.title, v.doc.company_id, false),
                Err(e) => return error_page(&bare, &e),
            }
        }
    };
    let frame = match viewer.frame(app, Some(&company)).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = frame.t;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &SharingPage {
            t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            csrf: &viewer.actor.csrf_token,
            here: format!("/{kind}/{id}/sharing"),
            back: format!("/{kind}/{id}"),
            name,
            restricted,
            shares: list
                .into_iter()
                .map(|s| ShareLine {
                    status: if s.status == "active" {
                        t.status_active
                    } else {
                        t.status_pending
                    },
                    expires: day(s.expires_at),
                    id: s.id,
                    email: s.email,
                    right: s.right,
                })
                .collect(),
            languages: [("en", "English"), ("fi", "Suomi"), ("de", "Deutsch")],
            email: typed.0,
            expires: typed.1,
            notice,
            error,
        },
    )
}

/// `GET /folders/{id}/sharing` (manage).
pub async fn folder_page(
    state: State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    q: Query<Done>,
) -> Response {
    page(state, viewer, "folders", id, q).await
}

/// `GET /documents/{id}/sharing` (manage).
pub async fn document_page(
    state: State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    q: Query<Done>,
) -> Response {
    page(state, viewer, "documents", id, q).await
}

/// `POST /folders/{id}/sharing`.
pub async fn share_folder(
    state: State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    form: Form<Fields>,
) -> Response {
    share(state, viewer, "folders", id, form).await
}

/// `POST /documents/{id}/sharing`.
pub async fn share_document(
    state: State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    form: Form<Fields>,
) -> Response {
    share(state, viewer, "documents", id, form).await
}

async fn page(
    State(app): State<App>,
    viewer: Viewer,
    kind: &str,
    id: String,
    Query(q): Query<Done>,
) -> Response {
    let notice = match q.done.as_deref() {
        Some("shared") => Some(viewer.t.share_saved),
        Some("revoked") => Some(viewer.t.share_revoked),
        Some("changed") => Some(viewer.t.share_changed),
        _ => None,
    };
    sharing_page(&app, &viewer, kind, &id, ("", ""), notice, None).await
}

/// The message for a refused share, on the form.
fn refused(t: &Texts, e: &AppError) -> Option<String> {
    match e {
        AppError::Invalid { field, reason } | AppError::Malformed { field, reason } => {
            let label = match *field {
                "email" => t.email,
                "expires_at" => t.expires,
                "right" => t.right_label,
                other => other,
            };
            Some(format!("{label}: {}", t.reason(reason)))
        }
        AppError::InvalidValue { field, reason } => {
            Some(format!("{}: {}", t.field_name(field), t.reason(reason)))
        }
        AppError::Conflict(why) => Some((*why).to_string()),
        AppError::RateLimited { .. } => Some(t.too_many_attempts.to_string()),
        _ => None,
    }
}

/// A new share.
async fn share(
    State(app): State<App>,
    viewer: Viewer,
    kind: &str,
    id: String,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let Some(k) = kind_of(kind) else {
        return error_page(&viewer.bare(), &AppError::NotFound);
    };
    let email = value(&form, "email").unwrap_or_default();
    let date = value(&form, "expires").unwrap_or_default();
    let expires_at = if date.is_empty() {
        None
    } else {
        match expiry(date) {
            Some(e) => Some(e),
            None => {
                let why = format!("{}: {date}", viewer.t.expires);
                return sharing_page(&app, &viewer, kind, &id, (email, date), None, Some(why))
                    .await;
            }
        }
    };
    let new = NewShare {
        email,
        right: value(&form, "right").unwrap_or("view"),
        expires_at: expires_at.as_deref(),
        notify: Some(value(&form, "notify") == Some("true")),
        language: value(&form, "language"),
    };
    match shares::create(&app, &viewer.ctx, &viewer.actor, k, &id, new).await {
        Ok(_) => Redirect::to(&format!("/{kind}/{id}/sharing?done=shared")).into_response(),
        Err(e) => match refused(viewer.t, &e) {
            Some(why) => {
                sharing_page(&app, &viewer, kind, &id, (email, date), None, Some(why)).await
            }
            None => error_page(&viewer.bare(), &e),
        },
    }
}

/// `POST /shares/{sid}/change`: its right and expiry (an empty date: none).
pub async fn change(
    State(app): State<App>,
    viewer: Viewer,
    Path(sid): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let back = safe_next(value(&form, "back").unwrap_or("/")).to_string();
    let date = value(&form, "expires").unwrap_or_default();
    let expires = if date.is_empty() { None } else { expiry(date) };
    let r = shares::update(
        &app,
        &viewer.ctx,
        &viewer.actor,
        &sid,
        value(&form, "right"),
        Some(expires.as_deref()),
    )
    .await;
    let frame = viewer.bare();
    match r {
        Ok(_) => Redirect::to(&format!("{back}?done=changed")).into_response(),
        Err(e) => error_page(&frame, &e),
    }
}

/// `POST /shares/{sid}/revoke`: at once.
pub async fn revoke(
    State(app): State<App>,
    viewer: Viewer,
    Path(sid): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let back = safe_next(value(&form, "back").unwrap_or("/")).to_string();
    match shares::revoke(&app, &viewer.ctx, &viewer.actor, &sid).await {
        Ok(()) => Redirect::to(&format!("{back}?done=revoked")).into_response(),
        Err(e) => error_page(&viewer.bare(), &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_input_is_the_end_of_that_day() {
        assert_eq!(
            expiry("2027-01-31").as_deref(),
            Some("2027-01-31T23:59:59Z")
        );
        assert_eq!(expiry("31.1.2027"), None);
        assert_eq!(expiry("2027-01-3x"), None);
        assert_eq!(day(Some(1_801_439_999_000)), "2027-01-31");
        assert_eq!(day(None), "");
    }
}
