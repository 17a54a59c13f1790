//! HTML pages: server-rendered from the same `turva_app` operations the
//! API calls, with askama templates (`crates/web/templates/`, checked at
//! compile time, HTML auto-escaped) and one embedded style sheet.
//!
//! Invariants:
//! - The session cookie is a page's only credential; every form that
//!   changes something carries the session's CSRF token, and the sign-in
//!   form (before any session) is accepted only from this origin.
//! - No inline script or style: the default CSP applies to every page.
//! - A failure shows a page in the user's language (never JSON, never a
//!   blank page); the 404, 403 and 500 pages are designed.

mod account;
mod audit;
mod documents;
mod edit;
mod folder_settings;
mod folder_templates_admin;
mod history;
pub mod i18n;
mod members;
mod new_folder;
mod platform;
mod profile;
mod sharing;
mod sign_in;
mod templates_admin;
mod trash;
mod usage;

use std::sync::LazyLock;

use askama::Template;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use turva_app::folders::{self, Child};
use turva_app::{companies, Actor, App, AppError, Ctx};

use crate::extract::{client_ctx, SESSION_COOKIE};
use i18n::Texts;

/// The pages' routes (the API's are under `/api/v1`).
pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(home))
        .route("/sign-in", get(sign_in::page).post(sign_in::password))
        .route("/sign-in/code", post(sign_in::code))
        .route("/sign-out", post(sign_in::sign_out))
        .route(
            "/accept-invite",
            get(account::accept_page).post(account::accept),
        )
        .route(
            "/forgot-password",
            get(account::forgot_page).post(account::forgot),
        )
        .route(
            "/reset-password",
            get(account::reset_page).post(account::reset),
        )
        .route(
            "/confirm-email",
            get(account::confirm_page).post(account::confirm),
        )
        .route("/setup", get(account::setup_page).post(account::setup))
        .route("/c/{cid}", get(company_page))
        .route("/c/{cid}/tree", get(tree_page))
        .route("/c/{cid}/folders", post(edit::new_top_folder))
        .route(
            "/c/{cid}/new-folder",
            get(new_folder::top_page).post(new_folder::create_top),
        )
        .route(
            "/folders/{fid}/new-folder",
            get(new_folder::sub_page).post(new_folder::create_sub),
        )
        .route("/c/{cid}/members", get(members::page).post(members::invite))
        .route("/c/{cid}/members/{uid}/role", post(members::change_role))
        .route("/c/{cid}/members/{uid}/remove", post(members::remove))
        .route("/c/{cid}/members/{uid}/reset-mfa", post(members::reset_mfa))
        .route("/c/{cid}/settings", post(members::settings))
        .route("/c/{cid}/audit", get(audit::page))
        .route("/c/{cid}/usage", get(usage::page))
        .route(
            "/c/{cid}/templates",
            get(templates_admin::list_page).post(templates_admin::create),
        )
        .route(
            "/templates/{id}/edit",
            get(templates_admin::edit_page).post(templates_admin::save),
        )
        .route(
            "/c/{cid}/folder-templates",
            post(folder_templates_admin::create),
        )
        .route(
            "/folder-templates/{id}/edit",
            get(folder_templates_admin::edit_page).post(folder_templates_admin::save),
        )
        .route("/c/{cid}/audit/export", get(audit::export))
        .route("/reauth", get(audit::reauth_page).post(audit::reauth))
        .route("/profile", get(profile::page).post(profile::save))
        .route("/profile/password", post(profile::password))
        .route("/profile/email", post(profile::email))
        .route("/profile/totp", post(profile::start_totp))
        .route("/profile/totp/confirm", post(profile::confirm_totp))
        .route("/profile/recovery-codes", post(profile::renew_codes))
        .route("/profile/factors/{id}/remove", post(profile::remove_factor))
        .route("/profile/sessions/{id}/end", post(profile::end_session))
        .route("/profile/tokens", post(profile::create_token))
        .route("/profile/tokens/{id}/revoke", post(profile::revoke_token))
        .route("/documents/{did}/history", get(history::page))
        .route(
            "/documents/{did}/versions/{n}/restore",
            post(history::restore),
        )
        .route("/search", get(trash::search_page))
        .route("/c/{cid}/trash", get(trash::trash_page))
        .route("/trash/{id}/restore", post(trash::restore))
        .route("/folders/{fid}/trash", post(trash::trash_folder))
        .route("/documents/{did}/trash", post(trash::trash_document))
        .route("/admin", get(platform::page))
        .route("/admin/companies", post(platform::create_company))
        .route(
            "/admin/companies/{cid}/delete",
            post(platform::schedule_deletion),
        )
        .route("/folders/{fid}", get(folder_page))
        .route("/folders/{fid}/folders", post(edit::new_sub_folder))
        .route("/folders/{fid}/settings", get(folder_settings::page))
        .route("/folders/{fid}/rename", post(folder_settings::rename))
        .route("/folders/{fid}/access", post(folder_settings::access))
        .route(
            "/folders/{fid}/move",
            get(folder_settings::move_browser).post(folder_settings::move_folder),
        )
        .route(
            "/folders/{fid}/new-document",
            get(edit::new_document_page).post(edit::new_document),
        )
        .route(
            "/folders/{fid}/sharing",
            get(sharing::folder_page).post(sharing::share_folder),
        )
        .route(
            "/documents/{did}/sharing",
            get(sharing::document_page).post(sharing::share_document),
        )
        .route("/shares/{sid}/change", post(sharing::change))
        .route("/shares/{sid}/revoke", post(sharing::revoke))
        .route("/documents/{did}", get(documents::page))
        // Attachments stream past the form limit; the file size limit and
        // the company quota are enforced while the bytes arrive.
        .route(
            "/documents/{did}/files",
            post(documents::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/documents/{did}/edit",
            get(edit::edit_page).post(edit::edit),
        )
        .route("/static/turva.css", get(css))
        .route("/static/turva.js", get(js))
        .route("/sign-in/passkey", post(sign_in::passkey))
        .route("/profile/passkey", post(profile::add_passkey))
}

const CSS: &str = include_str!("../../static/turva.css");
const JS: &str = include_str!("../../static/turva.js");

/// Changes whenever the style sheet does, so it can be cached for good.
static ASSET_VERSION: LazyLock<String> = LazyLock::new(|| {
    // FNV-1a: a cache key, not a security property.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in CSS.bytes().chain(JS.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08x}", h >> 32)
});

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        CSS,
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        JS,
    )
        .into_response()
}

/// The signed-in user's bar at the top of every page.
pub struct Bar {
    pub name: String,
    pub csrf: String,
    /// A platform operator: the platform page is offered.
    pub operator: bool,
    /// Held to enrolling a second factor: the bar offers only the profile
    /// and signing out.
    pub enrolling: bool,
    pub companies: Vec<CompanyLink>,
}

pub struct CompanyLink {
    pub id: String,
    pub name: String,
    pub current: bool,
    /// The user is an owner or admin there.
    pub admin: bool,
}

/// A page's language and (when signed in) its bar.
pub struct Frame {
    pub t: &'static Texts,
    pub bar: Option<Bar>,
}

impl Frame {
    /// The company for the breadcrumbs: named from the switcher, or
    /// plainly "Company" for a guest's.
    fn company_link(&self, id: &str) -> CompanyLink {
        let known = self
            .bar
            .as_ref()
            .and_then(|b| b.companies.iter().find(|c| c.id == id));
        CompanyLink {
            id: id.to_string(),
            name: known.map_or_else(|| self.t.company.to_string(), |c| c.name.clone()),
            current: true,
            admin: known.is_some_and(|c| c.admin),
        }
    }
}

fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!DOCTYPE html><title>Error</title><p>Something went wrong.</p>"),
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    title: &'a str,
    body: &'a str,
}

/// The designed page for a failure, in the user's language.
pub fn error_page(frame: &Frame, e: &AppError) -> Response {
    let t = frame.t;
    let (status, title, body) = match e {
        AppError::NotFound => (StatusCode::NOT_FOUND, t.not_found_title, t.not_found_body),
        AppError::Forbidden(_) | AppError::ReauthRequired | AppError::MfaEnrolmentRequired => {
            (StatusCode::FORBIDDEN, t.forbidden_title, t.forbidden_body)
        }
        AppError::RateLimited { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            t.error_title,
            t.too_many_attempts,
        ),
        AppError::Unavailable(why) => {
            tracing::warn!(error = %why, "a page's operation was unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                t.error_title,
                t.unavailable_body,
            )
        }
        AppError::Internal(why) => {
            tracing::error!(error = %why, "a page's operation failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                t.error_title,
                t.error_body,
            )
        }
        AppError::Unauthenticated => return Redirect::to("/sign-in").into_response(),
        _ => (StatusCode::BAD_REQUEST, t.error_title, t.error_body),
    };
    render(
        status,
        &ErrorPage {
            t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            title,
            body,
        },
    )
}

/// Unknown paths outside the API: the designed 404 page.
pub async fn not_found(headers: HeaderMap) -> Response {
    let frame = Frame {
        t: i18n::choose(None, &headers),
        bar: None,
    };
    error_page(&frame, &AppError::NotFound)
}

/// The session token from the cookie (pages take no other credential).
fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

/// A signed-in visitor of a page: else the page answers with a redirect
/// to the sign-in page, which returns here afterwards.
pub struct Viewer {
    pub actor: Actor,
    pub ctx: Ctx,
    pub t: &'static Texts,
}

impl FromRequestParts<App> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let ctx = client_ctx(app, parts);
        let actor = match session_token(&parts.headers) {
            Some(token) => turva_app::auth::authenticate(app, &token).await,
            None => Err(AppError::Unauthenticated),
        };
        let t = i18n::choose(
            actor.as_ref().ok().map(|a| a.language.as_str()),
            &parts.headers,
        );
        match actor {
            // A second factor is required and there is none: only the
            // enrolment part of the profile (and signing out) is open.
            Ok(actor) if actor.must_enrol && !open_before_enrolment(parts.uri.path()) => {
                Err(Redirect::to("/profile").into_response())
            }
            Ok(actor) => Ok(Viewer { actor, ctx, t }),
            Err(AppError::Unauthenticated) => {
                app.count_unauthenticated();
                let here = parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_string();
                Err(Redirect::to(&format!("/sign-in?next={}", encode(&here))).into_response())
            }
            Err(e) => Err(error_page(&Frame { t, bar: None }, &e)),
        }
    }
}

impl Viewer {
    /// A page's frame without the bar: for an error page before the
    /// companies are loaded.
    fn bare(&self) -> Frame {
        Frame {
            t: self.t,
            bar: None,
        }
    }

    /// The frame of a page, with the companies for the switcher.
    async fn frame(&self, app: &App, current: Option<&str>) -> Result<Frame, Response> {
        let bare = Frame {
            t: self.t,
            bar: None,
        };
        let mine = companies::mine_with_roles(app, &self.actor)
            .await
            .map_err(|e| error_page(&bare, &e))?;
        Ok(Frame {
            t: self.t,
            bar: Some(Bar {
                name: self.actor.name.clone(),
                csrf: self.actor.csrf_token.clone(),
                operator: self.actor.is_operator,
                enrolling: self.actor.must_enrol,
                companies: mine
                    .into_iter()
                    .map(|c| CompanyLink {
                        current: current == Some(c.id.as_str()),
                        admin: c.is_admin,
                        id: c.id,
                        name: c.name,
                    })
                    .collect(),
            }),
        })
    }
}

/// `field: reason` for a refused value (`Invalid`, `Malformed`,
/// `InvalidValue`), in the page's language as far as it is known: what a
/// form shows above itself; `None` for any other failure.
pub(crate) fn refused_value(t: &Texts, e: &AppError) -> Option<String> {
    let (field, reason) = match e {
        AppError::Invalid { field, reason } | AppError::Malformed { field, reason } => {
            (*field, reason)
        }
        AppError::InvalidValue { field, reason } => (field.as_str(), reason),
        _ => return None,
    };
    Some(format!("{}: {}", t.field_name(field), t.reason(reason)))
}

/// A form post's fields as sent, in order (a list can repeat a name).
pub(crate) type Fields = Vec<(String, String)>;

/// A form field's value: the last one sent, so that a checkbox after the
/// hidden default of the same name wins.
pub(crate) fn value<'a>(form: &'a Fields, name: &str) -> Option<&'a str> {
    form.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Every non-empty value sent under `name` (a multiple choice).
pub(crate) fn values<'a>(form: &'a Fields, name: &str) -> Vec<&'a str> {
    form.iter()
        .filter(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
        .collect()
}

/// A form's CSRF token checked against the session's; a wrong one is
/// audited and answered with the 403 page.
pub(crate) async fn csrf_checked(
    app: &App,
    viewer: &Viewer,
    form: &Fields,
) -> Result<(), Response> {
    if turva_app::auth::csrf_ok(&viewer.actor, value(form, "csrf")) {
        return Ok(());
    }
    let e = turva_app::auth::csrf_denied(app, &viewer.ctx, &viewer.actor).await;
    Err(error_page(&viewer.bare(), &e))
}

/// The pages a user who must enrol a second factor may still use.
fn open_before_enrolment(path: &str) -> bool {
    matches!(
        path,
        "/profile"
            | "/profile/totp"
            | "/profile/totp/confirm"
            | "/profile/recovery-codes"
            | "/reauth"
            | "/sign-out"
    )
}

/// Percent-encodes a value for a query string.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where to go after signing in: a path on this site, never elsewhere.
fn safe_next(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.bytes().any(|b| b.is_ascii_control());
    if ok {
        next
    } else {
        "/"
    }
}

#[derive(Template)]
#[template(path = "companies.html")]
struct CompaniesPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    companies: &'a [CompanyLink],
    shared: Vec<Row>,
}

/// The front page: the user's one company, or the companies to choose
/// from and what is shared with them (a guest's home).
async fn home(State(app): State<App>, viewer: Viewer) -> Response {
    let frame = match viewer.frame(&app, None).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = frame.t;
    let shared = match turva_app::shares::shared_with_me(
        &app,
        &viewer.ctx,
        &viewer.actor,
        None,
        100,
    )
    .await
    {
        Ok(p) => p.items,
        Err(e) => return error_page(&frame, &e),
    };
    let companies = frame.bar.as_ref().map_or(&[][..], |b| &b.companies[..]);
    if let ([only], true) = (companies, shared.is_empty()) {
        return Redirect::to(&format!("/c/{}", only.id)).into_response();
    }
    let shared = shared
        .into_iter()
        .map(|item| {
            let s = item.share;
            let folder = s.object_type == "folder";
            Row {
                href: format!(
                    "/{}/{}",
                    if folder { "folders" } else { "documents" },
                    s.object_id
                ),
                name: item.name,
                kind: if folder {
                    t.kind_folder
                } else {
                    t.kind_document
                },
                status: match s.right.as_str() {
                    "manage" => t.right_manage,
                    "edit" => t.right_edit,
                    _ => t.right_view,
                },
                updated: s
                    .expires_at
                    .map_or_else(|| t.no_expiry.to_string(), |e| t.moment(e)),
                restricted: false,
            }
        })
        .collect();
    render(
        StatusCode::OK,
        &CompaniesPage {
            t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            companies,
            shared,
        },
    )
}

/// One line of a folder listing.
struct Row {
    href: String,
    name: String,
    kind: &'static str,
    status: &'static str,
    updated: String,
    restricted: bool,
}

#[derive(Template)]
#[template(path = "folder.html")]
struct FolderPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    company: CompanyLink,
    heading: String,
    in_folder: bool,
    restricted: bool,
    /// The folders above, that the user may view: (id, name), top first.
    path: Vec<(String, String)>,
    rows: Vec<Row>,
    paged: bool,
    next: Option<String>,
    can_edit: bool,
    /// The page for a new folder from a template (or with more choices).
    new_folder_page: String,
    /// Rename, move, members' access (edit on the folder).
    settings_href: Option<String>,
    /// The sharing dialog's address, for those who manage the folder.
    sharing_href: Option<String>,
    new_folder_action: String,
    new_document_href: Option<String>,
    name_error: bool,
    notice: Option<&'static str>,
    /// Moving this folder to the trash (manage on it).
    can_trash: bool,
    trash_action: String,
    sorting: Sorting,
}

/// A listing's sortable columns: the current order, and each column's
/// `aria-sort` and the address that sorts by it (or turns it around).
struct Sorting {
    /// The `sort` word of this page, kept by the pager's links.
    current: &'static str,
    name_aria: &'static str,
    name_href: &'static str,
    updated_aria: &'static str,
    updated_href: &'static str,
}

impl Sorting {
    fn of(order: folders::Order) -> Sorting {
        use folders::Order::*;
        let (current, name_aria, updated_aria) = match order {
            Name => ("name", "ascending", "none"),
            NameDesc => ("-name", "descending", "none"),
            Updated => ("updated", "none", "ascending"),
            UpdatedDesc => ("-updated", "none", "descending"),
        };
        Sorting {
            current,
            name_aria,
            name_href: if order == Name {
                "?sort=-name"
            } else {
                "?sort=name"
            },
            updated_aria,
            // Newest first on the first click, then oldest first.
            updated_href: if order == UpdatedDesc {
                "?sort=updated"
            } else {
                "?sort=-updated"
            },
        }
    }
}

/// The order a listing page asks for (`?sort=`).
fn order_of(sort: Option<&str>) -> Result<folders::Order, AppError> {
    crate::api::folders::parse_order(sort).ok_or_else(|| AppError::Malformed {
        field: "sort",
        reason: "must be name, -name, updated or -updated".into(),
    })
}

#[derive(Deserialize)]
struct Paging {
    after: Option<String>,
    /// `name`, `-name`, `updated` or `-updated`.
    sort: Option<String>,
    /// `name`: the new folder's name was refused.
    error: Option<String>,
    /// `trashed`: something here went to the trash.
    done: Option<String>,
}

const PAGE_SIZE: i64 = 50;

fn folder_row(t: &Texts, f: &turva_app::rows::FolderRow) -> Row {
    Row {
        href: format!("/folders/{}", f.id),
        name: f.name.clone(),
        kind: t.kind_folder,
        status: "",
        updated: t.moment(f.updated_at),
        restricted: f.member_access == "none",
    }
}

#[derive(Template)]
#[template(path = "tree.html")]
struct TreePage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    company: CompanyLink,
    lines: Vec<TreeLine>,
    /// The depth of the last line: the levels left open at the end.
    last_depth: usize,
    cut: bool,
}

/// One folder of the tree, with what the list needs before it: a nested
/// list opened in the line above (`nest`), or `up` levels closed.
struct TreeLine {
    id: String,
    name: String,
    restricted: bool,
    nest: bool,
    up: usize,
}

/// `GET /c/{cid}/tree`: the company's folders that the user may see, as
/// one nested list.
async fn tree_page(State(app): State<App>, viewer: Viewer, Path(cid): Path<String>) -> Response {
    let frame = match viewer.frame(&app, Some(&cid)).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (tree, cut) = match folders::tree(&app, &viewer.ctx, &viewer.actor, &cid).await {
        Ok(t) => t,
        Err(e) => return error_page(&frame, &e),
    };
    let mut lines = Vec::with_capacity(tree.len());
    let mut prev: Option<usize> = None;
    for node in tree {
        let d = node.depth;
        let (nest, up) = match prev {
            Some(p) if d > p => (true, 0),
            Some(p) => (false, p - d),
            None => (false, 0),
        };
        prev = Some(d);
        lines.push(TreeLine {
            restricted: node.folder.member_access == "none",
            id: node.folder.id,
            name: node.folder.name,
            nest,
            up,
        });
    }
    render(
        StatusCode::OK,
        &TreePage {
            t: frame.t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            company: frame.company_link(&cid),
            lines,
            last_depth: prev.unwrap_or(0),
            cut,
        },
    )
}

/// A company's top-level folders that the user may see.
async fn company_page(
    State(app): State<App>,
    viewer: Viewer,
    Path(cid): Path<String>,
    Query(paging): Query<Paging>,
) -> Response {
    let frame = match viewer.frame(&app, Some(&cid)).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(company) = frame
        .bar
        .as_ref()
        .and_then(|b| b.companies.iter().find(|c| c.id == cid))
        .map(|c| CompanyLink {
            id: c.id.clone(),
            name: c.name.clone(),
            current: true,
            admin: c.admin,
        })
    else {
        return error_page(&frame, &AppError::NotFound);
    };
    let t = frame.t;
    let order = match order_of(paging.sort.as_deref()) {
        Ok(o) => o,
        Err(e) => return error_page(&frame, &e),
    };
    let page = match folders::list_top(
        &app,
        &viewer.ctx,
        &viewer.actor,
        &cid,
        order,
        paging.after.as_deref(),
        PAGE_SIZE,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return error_page(&frame, &e),
    };
    render(
        StatusCode::OK,
        &FolderPage {
            t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            heading: company.name.clone(),
            company,
            in_folder: false,
            restricted: false,
            path: Vec::new(),
            rows: page.items.iter().map(|f| folder_row(t, f)).collect(),
            paged: paging.after.is_some(),
            next: page.next_cursor,
            can_edit: true,
            new_folder_page: format!("/c/{cid}/new-folder"),
            sharing_href: None,
            settings_href: None,
            new_folder_action: format!("/c/{cid}/folders"),
            new_document_href: None,
            name_error: paging.error.as_deref() == Some("name"),
            notice: (paging.done.as_deref() == Some("trashed")).then_some(t.moved_to_trash),
            can_trash: false,
            trash_action: String::new(),
            sorting: Sorting::of(order),
        },
    )
}

/// A folder and what is in it that the user may see (each audited as a
/// view, as through the API).
async fn folder_page(
    State(app): State<App>,
    viewer: Viewer,
    Path(fid): Path<String>,
    Query(paging): Query<Paging>,
) -> Response {
    let bare = viewer.bare();
    if turva_model::Id::<()>::parse("fid", &fid).is_err() {
        return error_page(&bare, &AppError::NotFound);
    }
    let view = match folders::get(&app, &viewer.ctx, &viewer.actor, &fid).await {
        Ok(v) => v,
        Err(e) => return error_page(&bare, &e),
    };
    let can_edit = view.right >= turva_model::access::Right::Edit;
    let folder = view.folder.clone();
    let frame = match viewer.frame(&app, Some(&folder.company_id)).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = frame.t;
    let order = match order_of(paging.sort.as_deref()) {
        Ok(o) => o,
        Err(e) => return error_page(&frame, &e),
    };
    let page = match folders::children(
        &app,
        &viewer.ctx,
        &viewer.actor,
        &fid,
        order,
        paging.after.as_deref(),
        PAGE_SIZE,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return error_page(&frame, &e),
    };
    let company = frame.company_link(&folder.company_id);
    let path = match folders::path(&app, &viewer.actor, &folder.company_id, &fid, false).await {
        Ok(p) => p,
        Err(e) => return error_page(&frame, &e),
    };
    let rows = page
        .items
        .iter()
        .map(|c| match c {
            Child::Folder(f) => folder_row(t, f),
            Child::Document(d) => Row {
                href: format!("/documents/{}", d.id),
                name: d.title.clone(),
                kind: t.kind_document,
                status: if d.status == "completed" {
                    t.status_completed
                } else {
                    t.status_draft
                },
                updated: t.moment(d.updated_at),
                restricted: false,
            },
        })
        .collect();
    render(
        StatusCode::OK,
        &FolderPage {
            t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            company,
            heading: folder.name.clone(),
            in_folder: true,
            restricted: folder.member_access == "none",
            path,
            rows,
            paged: paging.after.is_some(),
            next: page.next_cursor,
            can_edit,
            new_folder_page: format!("/folders/{fid}/new-folder"),
            sharing_href: (view.right >= turva_model::access::Right::Manage)
                .then(|| format!("/folders/{fid}/sharing")),
            settings_href: can_edit.then(|| format!("/folders/{fid}/settings")),
            new_folder_action: format!("/folders/{fid}/folders"),
            new_document_href: can_edit.then(|| format!("/folders/{fid}/new-document")),
            name_error: paging.error.as_deref() == Some("name"),
            notice: match paging.done.as_deref() {
                Some("trashed") => Some(t.moved_to_trash),
                Some("renamed") => Some(t.folder_renamed),
                Some("moved") => Some(t.folder_moved),
                _ => None,
            },
            can_trash: view.right >= turva_model::access::Right::Manage,
            trash_action: format!("/folders/{fid}/trash"),
            sorting: Sorting::of(order),
        },
    )
}

/// Whether a form post comes from this site's own pages: browsers say so
/// in `Sec-Fetch-Site` or `Origin`; a post that names another site is
/// refused (a sign-in form has no session to carry a CSRF token yet).
fn same_origin(headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if let Some(site) = site {
        return matches!(site, "same-origin" | "none");
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(o), Some(h)) => o
            .split_once("://")
            .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(h)),
        // Neither header: not a browser's cross-site form post.
        (None, _) => true,
        (Some(_), None) => false,
    }
}

fn with_cookie(mut res: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_sign_in_only_a_path_on_this_site() {
        assert_eq!(safe_next("/folders/x?after=1"), "/folders/x?after=1");
        assert_eq!(safe_next("//evil.example/"), "/");
        assert_eq!(safe_next("https://evil.example/"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next("/a\nb"), "/");
        assert_eq!(safe_next(""), "/");
    }

    #[test]
    fn a_form_from_another_site_is_told_apart() {
        let mut h = HeaderMap::new();
        assert!(same_origin(&h), "no browser headers");
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8443"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://127.0.0.1:8443"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&h), "Sec-Fetch-Site is the browser's word");
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&h));
    }

    #[test]
    fn a_return_path_is_percent_encoded() {
        assert_eq!(encode("/folders/a b?x=1&y"), "/folders/a%20b%3Fx%3D1%26y");
    }
}
