//! Search with the matches marked, moving folders and documents to the
//! trash, and the trash with restore: through `app::search`,
//! `app::folders::delete`, `app::documents::delete` and `app::trash`,
//! which decide and audit.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use turva_app::trash::{self, Trashed};
use turva_app::{documents, folders, search, App, AppError};

use super::i18n::Texts;
use super::{csrf_checked, error_page, render, Bar, CompanyLink, Fields, Viewer, ASSET_VERSION};

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    q: &'a str,
    /// (document id, title, snippet: HTML-safe, `<mark>` around matches)
    hits: Vec<(String, String, String)>,
    next: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    after: Option<String>,
}

/// `GET /search?q=…`: documents the user may see whose title, values or
/// attachment names match (audited as a search).
pub async fn search_page(
    State(app): State<App>,
    viewer: Viewer,
    Query(q): Query<SearchQuery>,
) -> Response {
    let frame = match viewer.frame(&app, None).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let text = q.q.trim();
    let (hits, next, error) = if text.is_empty() {
        (Vec::new(), None, None)
    } else {
        match search::search(
            &app,
            &viewer.ctx,
            &viewer.actor,
            text,
            q.after.as_deref(),
            20,
        )
        .await
        {
            Ok(p) => (p.items, p.next_cursor, None),
            Err(AppError::Malformed { field, reason } | AppError::Invalid { field, reason }) => {
                (Vec::new(), None, Some(format!("{field}: {reason}")))
            }
            Err(e) => return error_page(&frame, &e),
        }
    };
    render(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &SearchPage {
            t: frame.t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            q: text,
            hits: hits
                .into_iter()
                .map(|h| (h.document_id, h.title, h.snippet))
                .collect(),
            next,
            error,
        },
    )
}

#[derive(Template)]
#[template(path = "trash.html")]
struct TrashPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    csrf: &'a str,
    company: CompanyLink,
    /// (id, name, kind, deleted)
    items: Vec<(String, String, &'static str, String)>,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// `GET /c/{cid}/trash`: what the user may manage there, newest first.
pub async fn trash_page(
    State(app): State<App>,
    viewer: Viewer,
    Path(cid): Path<String>,
    Query(q): Query<Done>,
) -> Response {
    let frame = match viewer.frame(&app, Some(&cid)).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = frame.t;
    let items = match trash::list(&app, &viewer.ctx, &viewer.actor, &cid, None, 200).await {
        Ok(page) => page.items,
        Err(e) => return error_page(&frame, &e),
    };
    let items = items
        .into_iter()
        .map(|i| match i {
            Trashed::Folder(f) => (
                f.id,
                f.name,
                t.kind_folder,
                f.deleted_at.map(|d| t.moment(d)).unwrap_or_default(),
            ),
            Trashed::Document(d) => (
                d.id,
                d.title,
                t.kind_document,
                d.deleted_at.map(|at| t.moment(at)).unwrap_or_default(),
            ),
        })
        .collect();
    render(
        StatusCode::OK,
        &TrashPage {
            t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            csrf: &viewer.actor.csrf_token,
            company: frame.company_link(&cid),
            items,
            notice: (q.done.as_deref() == Some("restored")).then_some(t.restored),
        },
    )
}

/// `POST /trash/{id}/restore`: back where it was.
pub async fn restore(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    match trash::restore(&app, &viewer.ctx, &viewer.actor, &id).await {
        Ok(Trashed::Folder(f)) => Redirect::to(&format!("/folders/{}", f.id)).into_response(),
        Ok(Trashed::Document(d)) => Redirect::to(&format!("/documents/{}", d.id)).into_response(),
        Err(e) => error_page(&viewer.bare(), &e),
    }
}

/// `POST /folders/{fid}/trash`: it and everything beneath, to the trash.
pub async fn trash_folder(
    State(app): State<App>,
    viewer: Viewer,
    Path(fid): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let frame = viewer.bare();
    // Back to where it was: its parent, or the company's top level.
    let back = match folders::get(&app, &viewer.ctx, &viewer.actor, &fid).await {
        Ok(v) => match v.folder.parent_id {
            Some(p) => format!("/folders/{p}"),
            None => format!("/c/{}", v.folder.company_id),
        },
        Err(e) => return error_page(&frame, &e),
    };
    match folders::delete(&app, &viewer.ctx, &viewer.actor, &fid).await {
        Ok(()) => Redirect::to(&format!("{back}?done=trashed")).into_response(),
        Err(e) => error_page(&frame, &e),
    }
}

/// `POST /documents/{did}/trash`.
pub async fn trash_document(
    State(app): State<App>,
    viewer: Viewer,
    Path(did): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let frame = viewer.bare();
    let folder = match documents::get(&app, &viewer.ctx, &viewer.actor, &did).await {
        Ok(v) => v.doc.folder_id,
        Err(e) => return error_page(&frame, &e),
    };
    match documents::delete(&app, &viewer.ctx, &viewer.actor, &did).await {
        Ok(()) => Redirect::to(&format!("/folders/{folder}?done=trashed")).into_response(),
        Err(e) => error_page(&frame, &e),
    }
}
