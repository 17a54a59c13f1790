//! Making and changing content through forms: a new folder, a new
//! document (from a template or blank), and a document's form generated
//! from its template version, each field typed. A refused value is said
//! next to its field; an edit that meets a newer version (409) shows the
//! user's values with the newest saved ones beside them, and loses nothing.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde_json::{Map, Value};
use turva_app::documents::{self, DocumentChanges, DocumentView, NewDocument};
use turva_app::folders::{self, NewFolder};
use turva_app::{templates, App, AppError};
use turva_model::template::{Field, FieldType};

use super::i18n::Texts;
use super::{
    csrf_checked, error_page, render, value, values, Bar, Fields, Frame, Viewer, ASSET_VERSION,
};

/// `POST /c/{cid}/folders` (top level) and `POST /folders/{fid}/folders`.
async fn new_folder(
    app: &App,
    viewer: &Viewer,
    company: Option<&str>,
    parent: Option<&str>,
    form: &Fields,
    back: &str,
) -> Response {
    if let Err(r) = csrf_checked(app, viewer, form).await {
        return r;
    }
    let frame = viewer.bare();
    // The parent's company, through a view the caller may have.
    let company = match (company, parent) {
        (Some(c), _) => c.to_string(),
        (None, Some(p)) => match folders::get(app, &viewer.ctx, &viewer.actor, p).await {
            Ok(v) => v.folder.company_id,
            Err(e) => return error_page(&frame, &e),
        },
        (None, None) => return error_page(&frame, &AppError::NotFound),
    };
    let new = NewFolder {
        name: value(form, "name"),
        parent_id: parent,
        ..NewFolder::default()
    };
    match folders::create(app, &viewer.ctx, &viewer.actor, &company, new).await {
        Ok(v) => Redirect::to(&format!("/folders/{}", v.folder.id)).into_response(),
        // A bad name: back to where the form was, which says why.
        Err(AppError::Invalid { .. } | AppError::Malformed { .. }) => {
            Redirect::to(&format!("{back}?error=name")).into_response()
        }
        Err(e) => error_page(&frame, &e),
    }
}

pub async fn new_top_folder(
    State(app): State<App>,
    viewer: Viewer,
    Path(cid): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    let back = format!("/c/{cid}");
    new_folder(&app, &viewer, Some(&cid), None, &form, &back).await
}

pub async fn new_sub_folder(
    State(app): State<App>,
    viewer: Viewer,
    Path(fid): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    let back = format!("/folders/{fid}");
    new_folder(&app, &viewer, None, Some(&fid), &form, &back).await
}

#[derive(Template)]
#[template(path = "new_document.html")]
struct NewDocumentPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    folder_id: &'a str,
    folder_name: &'a str,
    templates: Vec<(String, String)>,
    title: &'a str,
    error: Option<String>,
}

/// `GET /folders/{fid}/new-document`: title and template.
pub async fn new_document_page(
    State(app): State<App>,
    viewer: Viewer,
    Path(fid): Path<String>,
) -> Response {
    new_document_form(&app, &viewer, &fid, "", None).await
}

async fn new_document_form(
    app: &App,
    viewer: &Viewer,
    fid: &str,
    title: &str,
    error: Option<String>,
) -> Response {
    let bare = viewer.bare();
    let folder = match folders::get(app, &viewer.ctx, &viewer.actor, fid).await {
        Ok(v) => v.folder,
        Err(e) => return error_page(&bare, &e),
    };
    // Guests have no templates to choose from: a blank document.
    let list = templates::list(
        app,
        &viewer.ctx,
        &viewer.actor,
        &folder.company_id,
        None,
        200,
    )
    .await
    .map(|p| p.items)
    .unwrap_or_default();
    let frame = match viewer.frame(app, Some(&folder.company_id)).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &NewDocumentPage {
            t: frame.t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            folder_id: fid,
            folder_name: &folder.name,
            templates: list
                .into_iter()
                .map(|tv| (tv.row.id, tv.row.name))
                .collect(),
            title,
            error,
        },
    )
}

/// `POST /folders/{fid}/new-document`.
pub async fn new_document(
    State(app): State<App>,
    viewer: Viewer,
    Path(fid): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let title = value(&form, "title").unwrap_or_default();
    let template = value(&form, "template_id").filter(|v| !v.is_empty());
    let new = NewDocument {
        title,
        template_id: template,
        fields: None,
    };
    match documents::create(&app, &viewer.ctx, &viewer.actor, &fid, new).await {
        Ok(v) => Redirect::to(&format!("/documents/{}/edit", v.doc.id)).into_response(),
        Err(e @ (AppError::Invalid { .. } | AppError::Malformed { .. })) => {
            new_document_form(&app, &viewer, &fid, title, Some(e.to_string())).await
        }
        Err(e) => error_page(&viewer.bare(), &e),
    }
}

/// How a field is edited.
pub enum Input {
    Text(String),
    LongText(String),
    /// (value, unit)
    Number(String, String),
    Date(String),
    Checkbox(bool),
    /// (option, selected)
    Choice(Vec<(String, bool)>),
    Multi(Vec<(String, bool)>),
    /// (file id, name, selected)
    Files(Vec<(String, String, bool)>),
    /// (signer, image as a PNG data URL): drawn on the page by the script.
    Signature(String, String),
}

pub struct FieldInput {
    id: String,
    name: String,
    label: String,
    help: String,
    required: bool,
    input: Input,
    error: Option<String>,
    /// In a conflict: the newest saved value, when it differs.
    newest: Option<String>,
}

#[derive(Template)]
#[template(path = "document_edit.html")]
struct EditPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    csrf: &'a str,
    id: &'a str,
    original_title: &'a str,
    title: &'a str,
    title_error: Option<String>,
    version: i64,
    completed: bool,
    fields: Vec<FieldInput>,
    conflict: bool,
    error: Option<String>,
}

/// A value as plain text (numbers and dates as typed back into a form).
fn plain(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        Value::Object(o) => o
            .get("signer")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        other => other.to_string(),
    }
}

fn input(f: &Field, v: Option<&Value>, files: &[(String, String)]) -> Input {
    let v = v.unwrap_or(&Value::Null);
    let chosen = |o: &str| match v {
        Value::Array(items) => items.iter().any(|i| i.as_str() == Some(o)),
        Value::String(s) => s == o,
        _ => false,
    };
    match f.kind {
        FieldType::Text => Input::Text(plain(v)),
        FieldType::LongText => Input::LongText(plain(v)),
        FieldType::Number => Input::Number(plain(v), f.unit.clone().unwrap_or_default()),
        FieldType::Date => Input::Date(plain(v)),
        FieldType::Checkbox => Input::Checkbox(v.as_bool().unwrap_or(false)),
        FieldType::Choice => {
            Input::Choice(f.options.iter().map(|o| (o.clone(), chosen(o))).collect())
        }
        FieldType::MultiChoice => {
            Input::Multi(f.options.iter().map(|o| (o.clone(), chosen(o))).collect())
        }
        FieldType::File => Input::Files(
            files
                .iter()
                .map(|(id, name)| (id.clone(), name.clone(), chosen(id)))
                .collect(),
        ),
        FieldType::Signature => {
            let part = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default();
            Input::Signature(part("signer").to_string(), part("image").to_string())
        }
    }
}

/// The form's value of one field, typed; `Err` says why it is not one.
fn typed(t: &Texts, f: &Field, form: &Fields) -> Option<Result<Value, String>> {
    let name = format!("f.{}", f.key);
    let one = value(form, &name).map(str::trim);
    Some(Ok(match f.kind {
        FieldType::Signature => {
            let part = |k: &str| value(form, &format!("{name}.{k}")).map(str::trim);
            return match (part("signer"), part("image")) {
                // Not in the form: left as it is.
                (None, None) => None,
                (Some("") | None, Some("") | None) => Some(Ok(Value::Null)),
                (Some(signer), Some(image)) if !signer.is_empty() && !image.is_empty() => {
                    Some(Ok(serde_json::json!({"signer": signer, "image": image})))
                }
                (Some(signer), _) if !signer.is_empty() => Some(Err(t.signature_missing.into())),
                _ => Some(Err(t.signer_missing.into())),
            };
        }
        FieldType::Checkbox => {
            let all = values(form, &name);
            Value::Bool(all.contains(&"true"))
        }
        FieldType::MultiChoice | FieldType::File => Value::Array(
            values(form, &name)
                .into_iter()
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
        FieldType::Number => match one {
            None | Some("") => Value::Null,
            Some(n) => match n
                .replace(',', ".")
                .replace([' ', '\u{a0}'], "")
                .parse::<f64>()
            {
                Ok(x) if x.is_finite() => {
                    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
                }
                _ => return Some(Err(t.not_a_number.to_string())),
            },
        },
        _ => match one {
            None | Some("") => Value::Null,
            Some(_) => {
                // Text keeps its own spacing (only blank is empty), with
                // the line breaks a browser sends (CRLF) as stored (LF).
                Value::String(value(form, &name).unwrap_or_default().replace("\r\n", "\n"))
            }
        },
    }))
}

fn page_of(
    frame: &Frame,
    csrf: &str,
    view: &DocumentView,
    form: &[Field],
    typed_in: Option<(&Fields, HashMap<String, String>)>,
    conflict: bool,
    error: Option<String>,
) -> Response {
    // The version the next save is made against: the newest after a
    // conflict (the user has seen it), else the one the form came from.
    let version = match &typed_in {
        Some((sent, _)) if !conflict => value(sent, "version")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(view.doc.version),
        _ => view.doc.version,
    };
    let t = frame.t;
    let files: Vec<(String, String)> = view
        .files
        .iter()
        .map(|f| (f.id.clone(), f.name.clone()))
        .collect();
    let (title, completed) = match &typed_in {
        Some((sent, _)) => (
            value(sent, "title").unwrap_or_default().to_string(),
            value(sent, "completed") == Some("true"),
        ),
        None => (view.doc.title.clone(), view.doc.status == "completed"),
    };
    let mut title_error = None;
    let fields = form
        .iter()
        .map(|f| {
            let saved = view.fields.get(&f.key);
            let (shown, error, newest) = match &typed_in {
                None => (saved.cloned(), None, None),
                Some((sent, errors)) => {
                    let mine = match typed(t, f, sent) {
                        Some(Ok(v)) => Some(v),
                        // A half-made signature: as it was given.
                        Some(Err(_)) if f.kind == FieldType::Signature => {
                            let part = |k: &str| {
                                value(sent, &format!("f.{}.{k}", f.key)).unwrap_or_default()
                            };
                            Some(serde_json::json!({"signer": part("signer"), "image": part("image")}))
                        }
                        // Not a number: keep the text as typed.
                        Some(Err(_)) => value(sent, &format!("f.{}", f.key))
                            .map(|s| Value::String(s.to_string())),
                        None => saved.cloned(),
                    };
                    let newest = conflict
                        .then(|| saved.cloned().unwrap_or(Value::Null))
                        .filter(|s| Some(s) != mine.as_ref() && f.kind != FieldType::Signature)
                        .map(|s| plain(&s))
                        .filter(|s| !s.is_empty());
                    (mine, errors.get(&f.key).cloned(), newest)
                }
            };
            FieldInput {
                id: format!("f-{}", f.key),
                name: format!("f.{}", f.key),
                label: f.label.clone(),
                help: f.help.clone(),
                required: f.required,
                input: input(f, shown.as_ref(), &files),
                error,
                newest,
            }
        })
        .collect();
    if let Some((_, errors)) = &typed_in {
        title_error = errors.get("title").cloned();
    }
    let status = if conflict {
        StatusCode::CONFLICT
    } else if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(
        status,
        &EditPage {
            t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            csrf,
            id: &view.doc.id,
            original_title: &view.doc.title,
            title: &title,
            title_error,
            version,
            completed,
            fields,
            conflict,
            error,
        },
    )
}

/// `GET /documents/{did}/edit`.
pub async fn edit_page(
    State(app): State<App>,
    viewer: Viewer,
    Path(did): Path<String>,
) -> Response {
    let (view, form, frame) = match super::documents::load(&app, &viewer, &did).await {
        Ok(loaded) => loaded,
        Err(r) => return r,
    };
    page_of(
        &frame,
        &viewer.actor.csrf_token,
        &view,
        &form,
        None,
        false,
        None,
    )
}

/// `POST /documents/{did}/edit`: a new version, or the form again with
/// what was wrong.
pub async fn edit(
    State(app): State<App>,
    viewer: Viewer,
    Path(did): Path<String>,
    Form(sent): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &sent).await {
        return r;
    }
    let t = viewer.t;
    // The newest version, for the form's fields and for a conflict.
    let (view, form, frame) = match super::documents::load(&app, &viewer, &did).await {
        Ok(loaded) => loaded,
        Err(r) => return r,
    };
    let csrf = viewer.actor.csrf_token.clone();
    let mut errors: HashMap<String, String> = HashMap::new();
    let mut fields = Map::new();
    for f in &form {
        match typed(t, f, &sent) {
            Some(Ok(v)) => {
                fields.insert(f.key.clone(), v);
            }
            Some(Err(why)) => {
                errors.insert(f.key.clone(), why);
            }
            None => {}
        }
    }
    if !errors.is_empty() {
        let why = Some(t.fix_errors.to_string());
        return page_of(
            &frame,
            &csrf,
            &view,
            &form,
            Some((&sent, errors)),
            false,
            why,
        );
    }
    let version = value(&sent, "version")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    let status = if value(&sent, "completed") == Some("true") {
        "completed"
    } else {
        "draft"
    };
    // The fields first, as a draft, so that completing checks the new
    // values; then the status.
    let changes = DocumentChanges {
        version,
        title: value(&sent, "title"),
        fields: Some(&fields),
        status: Some(status),
    };
    match documents::update(&app, &viewer.ctx, &viewer.actor, &did, changes).await {
        Ok(_) => Redirect::to(&format!("/documents/{did}")).into_response(),
        Err(AppError::Conflict(_)) => page_of(
            &frame,
            &csrf,
            &view,
            &form,
            Some((&sent, HashMap::new())),
            true,
            None,
        ),
        Err(AppError::InvalidValue { field, reason }) => {
            let key = field.strip_prefix("fields.").unwrap_or(&field).to_string();
            let message = if reason.contains("required") {
                t.required_msg.to_string()
            } else {
                t.reason(&reason)
            };
            errors.insert(key, message);
            let why = Some(t.fix_errors.to_string());
            page_of(
                &frame,
                &csrf,
                &view,
                &form,
                Some((&sent, errors)),
                false,
                why,
            )
        }
        Err(AppError::Invalid { field, reason } | AppError::Malformed { field, reason }) => {
            errors.insert(field.to_string(), t.reason(&reason));
            let why = Some(t.fix_errors.to_string());
            page_of(
                &frame,
                &csrf,
                &view,
                &form,
                Some((&sent, errors)),
                false,
                why,
            )
        }
        Err(e) => error_page(&frame, &e),
    }
}
