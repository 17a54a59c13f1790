//! A new folder, blank or from one of the company's folder templates
//! (its identifier fields asked on the page, its sub-folders and
//! documents made by `app::folders::create`). Choosing a template reloads
//! the page with its fields, so no script is needed.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use serde_json::{Map, Value};
use turva_app::folders::{self, NewFolder};
use turva_app::templates::{self, FolderTemplateView};
use turva_app::App;

use super::i18n::Texts;
use super::{
    csrf_checked, error_page, refused_value, render, value, Bar, Fields, Viewer, ASSET_VERSION,
};

#[derive(Template)]
#[template(path = "new_folder.html")]
struct NewFolderPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    here: &'a str,
    back: &'a str,
    where_name: &'a str,
    templates: Vec<(String, String)>,
    template_id: &'a str,
    named_by_identifier: bool,
    /// (key, label, required, value typed)
    identifiers: Vec<(String, String, bool, String)>,
    name: &'a str,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct Chosen {
    #[serde(default)]
    template: String,
}

/// Where the folder goes: a company's top level or inside a folder.
enum Place {
    Top(String),
    In(String),
}

impl Place {
    fn here(&self) -> String {
        match self {
            Place::Top(cid) => format!("/c/{cid}/new-folder"),
            Place::In(fid) => format!("/folders/{fid}/new-folder"),
        }
    }
    fn back(&self) -> String {
        match self {
            Place::Top(cid) => format!("/c/{cid}"),
            Place::In(fid) => format!("/folders/{fid}"),
        }
    }
}

/// The place's company and name (a folder is viewed, as on its page).
async fn resolve(app: &App, viewer: &Viewer, place: &Place) -> Result<(String, String), Response> {
    let bare = viewer.bare();
    match place {
        Place::Top(cid) => Ok((cid.clone(), String::new())),
        Place::In(fid) => folders::get(app, &viewer.ctx, &viewer.actor, fid)
            .await
            .map(|v| (v.folder.company_id, v.folder.name))
            .map_err(|e| error_page(&bare, &e)),
    }
}

async fn form_page(
    app: &App,
    viewer: &Viewer,
    place: &Place,
    template_id: &str,
    typed: Option<&Fields>,
    error: Option<String>,
) -> Response {
    let (company, folder_name) = match resolve(app, viewer, place).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let list: Vec<FolderTemplateView> =
        templates::list_folder_templates(app, &viewer.ctx, &viewer.actor, &company, None, 200)
            .await
            .map(|p| p.items)
            .unwrap_or_default();
    let frame = match viewer.frame(app, Some(&company)).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let chosen = list.iter().find(|v| v.row.id == template_id);
    let typed_value = |name: &str| {
        typed
            .and_then(|f| value(f, name))
            .unwrap_or_default()
            .to_string()
    };
    let identifiers = chosen
        .map(|v| {
            v.definition
                .identifiers
                .iter()
                .map(|i| {
                    (
                        i.key.clone(),
                        i.label.clone(),
                        i.required,
                        typed_value(&format!("i.{}", i.key)),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let where_name = match place {
        Place::Top(_) => frame.company_link(&company).name,
        Place::In(_) => folder_name,
    };
    let name = typed_value("name");
    render(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &NewFolderPage {
            t: frame.t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            here: &place.here(),
            back: &place.back(),
            where_name: &where_name,
            templates: list
                .iter()
                .map(|v| (v.row.id.clone(), v.row.name.clone()))
                .collect(),
            template_id: chosen.map_or("", |v| v.row.id.as_str()),
            named_by_identifier: chosen
                .is_some_and(|v| v.definition.identifiers.iter().any(|i| i.names_folder)),
            identifiers,
            name: &name,
            error,
        },
    )
}

async fn create(app: &App, viewer: &Viewer, place: Place, form: &Fields) -> Response {
    if let Err(r) = csrf_checked(app, viewer, form).await {
        return r;
    }
    let (company, _) = match resolve(app, viewer, &place).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let template = value(form, "template_id").filter(|v| !v.is_empty());
    let identifiers: Map<String, Value> = form
        .iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix("i.")?;
            let v = v.trim();
            (!v.is_empty()).then(|| (key.to_string(), Value::String(v.to_string())))
        })
        .collect();
    let name = value(form, "name").map(str::trim).filter(|n| !n.is_empty());
    let parent = match &place {
        Place::In(fid) => Some(fid.as_str()),
        Place::Top(_) => None,
    };
    let new = NewFolder {
        name,
        parent_id: parent,
        template_id: template,
        identifiers: template.map(|_| &identifiers),
        ..NewFolder::default()
    };
    match folders::create(app, &viewer.ctx, &viewer.actor, &company, new).await {
        Ok(v) => Redirect::to(&format!("/folders/{}", v.folder.id)).into_response(),
        Err(e) => match refused_value(viewer.t, &e) {
            Some(why) => {
                let place = &place;
                let template = template.unwrap_or("");
                form_page(app, viewer, place, template, Some(form), Some(why)).await
            }
            None => error_page(&viewer.bare(), &e),
        },
    }
}

/// `GET /c/{cid}/new-folder?template=…`.
pub async fn top_page(
    State(app): State<App>,
    viewer: Viewer,
    Path(cid): Path<String>,
    Query(q): Query<Chosen>,
) -> Response {
    form_page(&app, &viewer, &Place::Top(cid), &q.template, None, None).await
}

/// `GET /folders/{fid}/new-folder?template=…`.
pub async fn sub_page(
    State(app): State<App>,
    viewer: Viewer,
    Path(fid): Path<String>,
    Query(q): Query<Chosen>,
) -> Response {
    form_page(&app, &viewer, &Place::In(fid), &q.template, None, None).await
}

/// `POST /c/{cid}/new-folder`.
pub async fn create_top(
    State(app): State<App>,
    viewer: Viewer,
    Path(cid): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    create(&app, &viewer, Place::Top(cid), &form).await
}

/// `POST /folders/{fid}/new-folder`.
pub async fn create_sub(
    State(app): State<App>,
    viewer: Viewer,
    Path(fid): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    create(&app, &viewer, Place::In(fid), &form).await
}
