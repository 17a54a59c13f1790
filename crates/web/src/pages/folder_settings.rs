//! A folder's settings: rename (edit), members' access and moving
//! (manage). Moving is a small browser of the destinations: open a folder,
//! then "Move here". Everything goes through `app::folders::update`, which
//! decides (manage on the folder, edit on the new parent, never into its
//! own sub-tree) and audits; the listings the browser shows are the same
//! audited listings as the folder pages'.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use turva_app::folders::{self, Child, FolderChanges, FolderView};
use turva_app::{App, AppError};
use turva_model::access::Right;

use super::i18n::Texts;
use super::{
    csrf_checked, error_page, refused_value, render, value, Bar, CompanyLink, Fields, Viewer,
    ASSET_VERSION,
};

#[derive(Template)]
#[template(path = "folder_settings.html")]
struct SettingsPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    csrf: &'a str,
    id: &'a str,
    company: CompanyLink,
    name: &'a str,
    /// What was typed, when a rename was refused.
    typed_name: &'a str,
    name_error: Option<String>,
    can_manage: bool,
    /// The folder's own setting: `inherit`, `none`, `view` or `edit`.
    access: &'a str,
    /// (value, label): "as the folder above" only below the top level.
    accesses: Vec<(&'static str, &'static str)>,
    access_error: Option<String>,
    /// Where it is now: the parent's name, or the company's.
    location: String,
    notice: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "folder_move.html")]
struct MovePage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    csrf: &'a str,
    id: &'a str,
    company: CompanyLink,
    name: &'a str,
    /// The destination being looked at: `None` is the company's top level.
    to: Option<&'a str>,
    to_name: String,
    /// The destination's own parent, to go up (`Some(None)`: the top).
    up: Option<Option<String>>,
    /// The destination's folders, as (id, name), without the one moved.
    folders: Vec<(String, String)>,
    more: Option<String>,
    /// Already there: no button.
    here_already: bool,
    error: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

#[derive(Deserialize)]
pub struct MoveQuery {
    to: Option<String>,
    after: Option<String>,
}

/// The folder, for someone who may at least edit it (else the designed
/// error page).
async fn editable(app: &App, viewer: &Viewer, fid: &str) -> Result<FolderView, Response> {
    let bare = viewer.bare();
    if turva_model::Id::<()>::parse("fid", fid).is_err() {
        return Err(error_page(&bare, &AppError::NotFound));
    }
    let view = folders::get(app, &viewer.ctx, &viewer.actor, fid)
        .await
        .map_err(|e| error_page(&bare, &e))?;
    if view.right < Right::Edit {
        return Err(error_page(
            &bare,
            &AppError::Forbidden("you may not change this folder"),
        ));
    }
    Ok(view)
}

/// A form post on the folder: its CSRF token checked, then as `editable`.
async fn posted(
    app: &App,
    viewer: &Viewer,
    fid: &str,
    form: &Fields,
) -> Result<FolderView, Response> {
    csrf_checked(app, viewer, form).await?;
    editable(app, viewer, fid).await
}

async fn settings_page(
    app: &App,
    viewer: &Viewer,
    view: &FolderView,
    typed: Option<(&str, String)>,
    access_error: Option<String>,
    notice: Option<&'static str>,
) -> Response {
    let folder = &view.folder;
    let frame = match viewer.frame(app, Some(&folder.company_id)).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = frame.t;
    let company = frame.company_link(&folder.company_id);
    let location = match &folder.parent_id {
        Some(p) => match folders::get(app, &viewer.ctx, &viewer.actor, p).await {
            Ok(v) => v.folder.name,
            // A parent the user cannot see (reached through a share).
            Err(_) => t.top_level.to_string(),
        },
        None => company.name.clone(),
    };
    let (status, typed_name, name_error) = match &typed {
        Some((name, why)) => (StatusCode::UNPROCESSABLE_ENTITY, *name, Some(why.clone())),
        None if access_error.is_some() => {
            (StatusCode::UNPROCESSABLE_ENTITY, folder.name.as_str(), None)
        }
        None => (StatusCode::OK, folder.name.as_str(), None),
    };
    let mut accesses = vec![
        ("inherit", t.access_inherit),
        ("edit", t.access_edit),
        ("view", t.access_view),
        ("none", t.access_none),
    ];
    if folder.parent_id.is_none() {
        accesses.remove(0);
    }
    render(
        status,
        &SettingsPage {
            t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            csrf: &viewer.actor.csrf_token,
            id: &folder.id,
            company,
            name: &folder.name,
            typed_name,
            name_error,
            can_manage: view.right >= Right::Manage,
            access: &folder.member_access,
            accesses,
            access_error,
            location,
            notice,
        },
    )
}

/// `GET /folders/{fid}/settings`.
pub async fn page(
    State(app): State<App>,
    viewer: Viewer,
    Path(fid): Path<String>,
    Query(q): Query<Done>,
) -> Response {
    let view = match editable(&app, &viewer, &fid).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let notice = match q.done.as_deref() {
        Some("access") => Some(viewer.t.access_saved),
        _ => None,
    };
    settings_page(&app, &viewer, &view, None, None, notice).await
}

/// `POST /folders/{fid}/rename`.
pub async fn rename(
    State(app): State<App>,
    viewer: Viewer,
    Path(fid): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    let view = match posted(&app, &viewer, &fid, &form).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let name = value(&form, "name").unwrap_or_default();
    let ch = FolderChanges {
        name: Some(name),
        ..Default::default()
    };
    match folders::update(&app, &viewer.ctx, &viewer.actor, &fid, ch).await {
        Ok(_) => Redirect::to(&format!("/folders/{fid}?done=renamed")).into_response(),
        Err(AppError::Invalid { reason, .. } | AppError::Malformed { reason, .. }) => {
            let why = format!("{}: {}", viewer.t.name, viewer.t.reason(&reason));
            settings_page(&app, &viewer, &view, Some((name, why)), None, None).await
        }
        Err(e) => error_page(&viewer.bare(), &e),
    }
}

/// `POST /folders/{fid}/access`.
pub async fn access(
    State(app): State<App>,
    viewer: Viewer,
    Path(fid): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    let view = match posted(&app, &viewer, &fid, &form).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let ch = FolderChanges {
        member_access: Some(value(&form, "member_access").unwrap_or_default()),
        ..Default::default()
    };
    match folders::update(&app, &viewer.ctx, &viewer.actor, &fid, ch).await {
        Ok(_) => Redirect::to(&format!("/folders/{fid}/settings?done=access")).into_response(),
        Err(e) => match refused_value(viewer.t, &e) {
            Some(why) => settings_page(&app, &viewer, &view, None, Some(why), None).await,
            None => error_page(&viewer.bare(), &e),
        },
    }
}

async fn move_page(
    app: &App,
    viewer: &Viewer,
    view: &FolderView,
    q: &MoveQuery,
    error: Option<(StatusCode, &'static str)>,
) -> Response {
    let folder = &view.folder;
    let bare = viewer.bare();
    let to = q.to.as_deref().filter(|s| !s.is_empty());
    let (up, to_name, page) = match to {
        Some(target) => {
            if turva_model::Id::<()>::parse("to", target).is_err() {
                return error_page(&bare, &AppError::NotFound);
            }
            let dest = match folders::get(app, &viewer.ctx, &viewer.actor, target).await {
                Ok(d) if d.folder.company_id == folder.company_id => d,
                Ok(_) => return error_page(&bare, &AppError::NotFound),
                Err(e) => return error_page(&bare, &e),
            };
            let list = folders::children(
                app,
                &viewer.ctx,
                &viewer.actor,
                target,
                folders::Order::Name,
                q.after.as_deref(),
                super::PAGE_SIZE,
            )
            .await;
            let page = match list {
                Ok(p) => {
                    // Folders come before documents: once a document is
                    // listed, no folder follows, and there is no next page
                    // to offer here.
                    let past_folders = p.items.iter().any(|c| matches!(c, Child::Document(_)));
                    let folders = p
                        .items
                        .into_iter()
                        .filter_map(|c| match c {
                            Child::Folder(f) => Some((f.id, f.name)),
                            Child::Document(_) => None,
                        })
                        .collect::<Vec<_>>();
                    (folders, p.next_cursor.filter(|_| !past_folders))
                }
                Err(e) => return error_page(&bare, &e),
            };
            (Some(dest.folder.parent_id), dest.folder.name, page)
        }
        None => {
            let list = folders::list_top(
                app,
                &viewer.ctx,
                &viewer.actor,
                &folder.company_id,
                folders::Order::Name,
                q.after.as_deref(),
                super::PAGE_SIZE,
            )
            .await;
            let page = match list {
                Ok(p) => (
                    p.items.into_iter().map(|f| (f.id, f.name)).collect(),
                    p.next_cursor,
                ),
                Err(e) => return error_page(&bare, &e),
            };
            (None, String::new(), page)
        }
    };
    let frame = match viewer.frame(app, Some(&folder.company_id)).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let company = frame.company_link(&folder.company_id);
    let to_name = if to.is_some() {
        to_name
    } else {
        company.name.clone()
    };
    render(
        error.map_or(StatusCode::OK, |e| e.0),
        &MovePage {
            t: frame.t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            csrf: &viewer.actor.csrf_token,
            id: &folder.id,
            company,
            name: &folder.name,
            to,
            to_name,
            up,
            folders: page
                .0
                .into_iter()
                .filter(|(id, _)| *id != folder.id)
                .collect(),
            more: page.1,
            here_already: to == folder.parent_id.as_deref(),
            error: error.map(|e| e.1),
        },
    )
}

/// `GET /folders/{fid}/move?to=…`: the destination browser.
pub async fn move_browser(
    State(app): State<App>,
    viewer: Viewer,
    Path(fid): Path<String>,
    Query(q): Query<MoveQuery>,
) -> Response {
    let view = match editable(&app, &viewer, &fid).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    // Moving needs manage: an editor is not offered what would be refused.
    if view.right < Right::Manage {
        let e = AppError::Forbidden("moving a folder needs the manage right");
        return error_page(&viewer.bare(), &e);
    }
    move_page(&app, &viewer, &view, &q, None).await
}

/// `POST /folders/{fid}/move`: into `parent` (empty: the top level).
pub async fn move_folder(
    State(app): State<App>,
    viewer: Viewer,
    Path(fid): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    let view = match posted(&app, &viewer, &fid, &form).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let parent = value(&form, "parent").filter(|p| !p.is_empty());
    let ch = FolderChanges {
        parent_id: Some(parent),
        ..Default::default()
    };
    let again = MoveQuery {
        to: parent.map(str::to_string),
        after: None,
    };
    match folders::update(&app, &viewer.ctx, &viewer.actor, &fid, ch).await {
        Ok(_) => Redirect::to(&format!("/folders/{fid}?done=moved")).into_response(),
        Err(AppError::Conflict(_)) => {
            move_page(
                &app,
                &viewer,
                &view,
                &again,
                Some((StatusCode::CONFLICT, viewer.t.move_into_itself)),
            )
            .await
        }
        Err(AppError::Forbidden(_)) => {
            move_page(
                &app,
                &viewer,
                &view,
                &again,
                Some((StatusCode::FORBIDDEN, viewer.t.cannot_move_there)),
            )
            .await
        }
        Err(e) => error_page(&viewer.bare(), &e),
    }
}
