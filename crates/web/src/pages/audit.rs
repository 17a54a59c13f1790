//! A company's audit log for its owners and admins: filters, pages of
//! events newest first, and a CSV export (recent auth), all through
//! `app::audit_read` and `app::audit_export` like the API's; and the
//! re-authentication page that sensitive actions send the user to.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use turva_app::audit_export::{self, Exporter};
use turva_app::audit_read::{self, Whose};
use turva_app::{auth, App, AppError};

use super::i18n::Texts;
use super::{
    csrf_checked, encode, error_page, render, safe_next, value, Bar, CompanyLink, Fields, Viewer,
    ASSET_VERSION,
};

/// The filters as the form sends them (dates as `YYYY-MM-DD`).
#[derive(Deserialize, Default)]
pub struct Filters {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    object: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    ip: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    after: Option<String>,
}

fn given(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// A day's start (`since`) or the next day's start (`until`, exclusive),
/// in RFC 3339; anything else is passed on for the operation to refuse.
fn day_bound(date: &str, next: bool) -> Option<String> {
    let d = given(date)?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Some(match time::Date::parse(&d, &format) {
        Ok(day) => {
            let day = if next {
                day.next_day().unwrap_or(day)
            } else {
                day
            };
            format!("{day}T00:00:00Z")
        }
        Err(_) => d,
    })
}

impl Filters {
    fn query(&self) -> audit_read::Query {
        audit_read::Query {
            actor: given(&self.actor),
            object: given(&self.object),
            action: given(&self.action),
            outcome: given(&self.outcome),
            ip: given(&self.ip),
            since: day_bound(&self.since, false),
            until: day_bound(&self.until, true),
        }
    }

    /// The filters again, for the links of the next page and the export.
    fn as_query_string(&self) -> String {
        [
            ("actor", &self.actor),
            ("action", &self.action),
            ("object", &self.object),
            ("outcome", &self.outcome),
            ("ip", &self.ip),
            ("since", &self.since),
            ("until", &self.until),
        ]
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
    }
}

pub struct EventLine {
    time: String,
    who: String,
    action: String,
    object: String,
    outcome: &'static str,
    denied: bool,
    ip: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    company: CompanyLink,
    q: &'a Filters,
    filters: String,
    events: Vec<EventLine>,
    paged: bool,
    next: Option<String>,
    error: Option<String>,
}

fn moment(t: &Texts, rfc3339: &str) -> String {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|d| i64::try_from(d.unix_timestamp_nanos() / 1_000_000).ok())
        .map_or_else(|| rfc3339.to_string(), |ms| t.moment(ms))
}

/// `GET /c/{cid}/audit`.
pub async fn page(
    State(app): State<App>,
    viewer: Viewer,
    Path(cid): Path<String>,
    Query(f): Query<Filters>,
) -> Response {
    let frame = match viewer.frame(&app, Some(&cid)).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = frame.t;
    let got = audit_read::list(
        &app,
        &viewer.ctx,
        &viewer.actor,
        Whose::Company(cid.clone()),
        &f.query(),
        f.after.as_deref(),
        50,
    )
    .await;
    let (events, next, error) = match got {
        Ok(p) => (p.items, p.next_cursor, None),
        // A filter the log refuses: said above the (empty) list.
        Err(AppError::Malformed { field, reason }) => {
            (Vec::new(), None, Some(format!("{field}: {reason}")))
        }
        Err(AppError::Invalid { field, reason }) => {
            (Vec::new(), None, Some(format!("{field}: {reason}")))
        }
        Err(e) => return error_page(&frame, &e),
    };
    let events = events
        .into_iter()
        .map(|e| EventLine {
            time: moment(t, &e.time),
            who: e
                .actor_email
                .or(e.actor_id)
                .unwrap_or_else(|| "—".to_string()),
            object: match (e.object_type, e.object_id) {
                (Some(kind), Some(id)) => format!("{kind} {id}"),
                _ => String::new(),
            },
            denied: e.outcome == "denied",
            outcome: if e.outcome == "denied" {
                t.denied
            } else {
                t.allowed
            },
            action: e.action,
            ip: e.ip.unwrap_or_default(),
        })
        .collect();
    let company = frame.company_link(&cid);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &AuditPage {
            t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            company,
            q: &f,
            filters: f.as_query_string(),
            events,
            paged: f.after.is_some(),
            next,
            error,
        },
    )
}

/// `GET /c/{cid}/audit/export`: every matching event as CSV, streamed;
/// without a recent sign-in, to the re-authentication page first.
pub async fn export(
    State(app): State<App>,
    viewer: Viewer,
    Path(cid): Path<String>,
    Query(f): Query<Filters>,
) -> Response {
    let whose = Whose::Company(cid.clone());
    match audit_export::start(
        &app,
        &viewer.ctx,
        Exporter::User(&viewer.actor),
        whose,
        &f.query(),
    )
    .await
    {
        Ok(export) => crate::api::audit::export_response(
            app,
            export,
            crate::api::audit::Format::Csv,
            &format!("audit-{cid}"),
        ),
        Err(AppError::ReauthRequired) => {
            let here = format!("/c/{cid}/audit/export?{}", f.as_query_string());
            Redirect::to(&format!("/reauth?next={}", encode(&here))).into_response()
        }
        Err(e) => error_page(&viewer.bare(), &e),
    }
}

#[derive(Template)]
#[template(path = "reauth.html")]
struct ReauthPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    next: &'a str,
    error: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct Next {
    #[serde(default)]
    next: String,
}

/// `GET /reauth?next=…`: the password again before a sensitive action.
pub async fn reauth_page(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<Next>,
) -> Response {
    let frame = match viewer.frame(&app, None).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    render(
        StatusCode::OK,
        &ReauthPage {
            t: frame.t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            next: safe_next(&q.next),
            error: None,
        },
    )
}

/// `POST /reauth`: on to `next` once the password is right.
pub async fn reauth(State(app): State<App>, viewer: Viewer, Form(form): Form<Fields>) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let next = safe_next(value(&form, "next").unwrap_or("/")).to_string();
    let password = value(&form, "password").unwrap_or_default();
    match auth::reauth(
        &app,
        &viewer.ctx,
        &viewer.actor,
        auth::ReauthWith::Password(password),
    )
    .await
    {
        Ok(()) => Redirect::to(&next).into_response(),
        Err(e) => {
            let frame = match viewer.frame(&app, None).await {
                Ok(f) => f,
                Err(r) => return r,
            };
            let t = frame.t;
            let (status, message) = match e {
                AppError::RateLimited { .. } => {
                    (StatusCode::TOO_MANY_REQUESTS, t.too_many_attempts)
                }
                _ => (StatusCode::UNAUTHORIZED, t.wrong_credentials),
            };
            render(
                status,
                &ReauthPage {
                    t,
                    bar: frame.bar.as_ref(),
                    asset_version: &ASSET_VERSION,
                    next: &next,
                    error: Some(message),
                },
            )
        }
    }
}
