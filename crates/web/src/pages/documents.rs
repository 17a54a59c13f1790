//! A document's page: its values under their template's labels, in the
//! template's order, and its attachments (downloaded through the API's
//! streamed, audited `GET /api/v1/files/{id}`).

use std::collections::HashMap;

use askama::Template;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::StreamExt;
use serde_json::Value;
use turva_app::documents::{self, DocumentView};
use turva_app::App;
use turva_app::{auth, files, folders, AppError};
use turva_model::template::{Field, FieldType};

use super::i18n::Texts;
use super::{error_page, render, Bar, CompanyLink, Frame, Viewer, ASSET_VERSION};

/// A value as the page shows it.
pub enum Shown {
    Empty,
    Text(String),
    /// (file id, name)
    Files(Vec<(String, String)>),
    /// (signer, PNG data URL)
    Signature(String, String),
}

pub struct FieldLine {
    label: String,
    required: bool,
    long: bool,
    value: Shown,
}

pub struct FileLine {
    id: String,
    name: String,
    size: String,
    /// Shown as a picture, through the sandboxed inline path.
    image: bool,
}

#[derive(Template)]
#[template(path = "document.html")]
struct DocumentPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    company: CompanyLink,
    id: String,
    can_edit: bool,
    can_manage: bool,
    /// The document's folder and those above it that the user may view:
    /// (id, name), top first.
    path: Vec<(String, String)>,
    title: String,
    status: &'static str,
    version: i64,
    updated: String,
    fields: Vec<FieldLine>,
    files: Vec<FileLine>,
    /// File fields: (key, label), each with a photo form.
    photo_fields: Vec<(String, String)>,
    upload_error: Option<&'static str>,
}

#[derive(serde::Deserialize)]
pub struct PageQuery {
    /// `failed` or `too-large`: what became of an upload.
    upload: Option<String>,
}

/// One value shown as its field's type says; anything that does not fit
/// the type (an older template version's value) is shown as text.
fn shown(t: &Texts, field: &Field, value: Option<&Value>, names: &HashMap<&str, &str>) -> Shown {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Shown::Empty;
    };
    match (field.kind, value) {
        (_, Value::String(s)) if s.is_empty() => Shown::Empty,
        (FieldType::Checkbox, Value::Bool(b)) => Shown::Text(if *b { t.yes } else { t.no }.into()),
        (FieldType::Number, Value::Number(n)) => Shown::Text(match &field.unit {
            Some(unit) => format!("{n}\u{a0}{unit}"),
            None => n.to_string(),
        }),
        (FieldType::MultiChoice, Value::Array(items)) if items.is_empty() => Shown::Empty,
        (FieldType::MultiChoice, Value::Array(items)) => Shown::Text(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (FieldType::File, Value::Array(ids)) if ids.is_empty() => Shown::Empty,
        (FieldType::File, Value::Array(ids)) => Shown::Files(
            ids.iter()
                .filter_map(Value::as_str)
                .map(|id| {
                    let name = names.get(id).copied().unwrap_or(id);
                    (id.to_string(), name.to_string())
                })
                .collect(),
        ),
        (FieldType::Signature, Value::Object(o)) => {
            let signer = o.get("signer").and_then(Value::as_str).unwrap_or_default();
            match o.get("image").and_then(Value::as_str) {
                // Only a PNG data URL is ever shown as an image.
                Some(img) if img.starts_with("data:image/png;base64,") => {
                    Shown::Signature(signer.to_string(), img.to_string())
                }
                _ => Shown::Text(signer.to_string()),
            }
        }
        (_, Value::String(s)) => Shown::Text(s.clone()),
        (_, other) => Shown::Text(other.to_string()),
    }
}

/// A document the viewer may see (audited as a view of its version, as
/// the API's), its template version's fields, and the page's frame.
pub(super) async fn load(
    app: &App,
    viewer: &Viewer,
    did: &str,
) -> Result<(DocumentView, Vec<Field>, Frame), Response> {
    let bare = viewer.bare();
    if turva_model::Id::<()>::parse("did", did).is_err() {
        return Err(error_page(&bare, &turva_app::AppError::NotFound));
    }
    let view = documents::get(app, &viewer.ctx, &viewer.actor, did)
        .await
        .map_err(|e| error_page(&bare, &e))?;
    let form = documents::form(app, &view)
        .await
        .map_err(|e| error_page(&bare, &e))?;
    let frame = viewer.frame(app, Some(&view.doc.company_id)).await?;
    Ok((view, form, frame))
}

/// `GET /documents/{did}`.
pub async fn page(
    State(app): State<App>,
    viewer: Viewer,
    Path(did): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let (view, form, frame) = match load(&app, &viewer, &did).await {
        Ok(loaded) => loaded,
        Err(r) => return r,
    };
    let t = frame.t;
    let names: HashMap<&str, &str> = view
        .files
        .iter()
        .map(|f| (f.id.as_str(), f.name.as_str()))
        .collect();
    let mut fields: Vec<FieldLine> = form
        .iter()
        .map(|f| FieldLine {
            label: f.label.clone(),
            required: f.required,
            long: f.kind == FieldType::LongText,
            value: shown(t, f, view.fields.get(&f.key), &names),
        })
        .collect();
    // Values whose field the template no longer has (or no template).
    for (key, value) in view
        .fields
        .iter()
        .filter(|(k, _)| !form.iter().any(|f| &f.key == *k))
    {
        let loose = Field {
            key: key.clone(),
            kind: FieldType::Text,
            label: key.clone(),
            help: String::new(),
            required: false,
            unit: None,
            options: Vec::new(),
        };
        fields.push(FieldLine {
            label: key.clone(),
            required: false,
            long: false,
            value: shown(t, &loose, Some(value), &names),
        });
    }
    let company = frame.company_link(&view.doc.company_id);
    let (cid, folder) = (&view.doc.company_id, &view.doc.folder_id);
    let path = match folders::path(&app, &viewer.actor, cid, folder, true).await {
        Ok(p) => p,
        Err(e) => return error_page(&frame, &e),
    };
    let photo_fields = form
        .iter()
        .filter(|f| f.kind == FieldType::File)
        .map(|f| (f.key.clone(), f.label.clone()))
        .collect();
    let upload_error = match q.upload.as_deref() {
        Some("too-large") => Some(t.too_large),
        Some(_) => Some(t.upload_failed),
        None => None,
    };
    render(
        StatusCode::OK,
        &DocumentPage {
            t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            company,
            id: view.doc.id.clone(),
            can_edit: view.right >= turva_model::access::Right::Edit,
            can_manage: view.right >= turva_model::access::Right::Manage,
            path,
            title: view.doc.title.clone(),
            status: if view.doc.status == "completed" {
                t.status_completed
            } else {
                t.status_draft
            },
            version: view.doc.version,
            updated: t.moment(view.doc.updated_at),
            fields,
            files: view
                .files
                .iter()
                .map(|f| FileLine {
                    id: f.id.clone(),
                    name: f.name.clone(),
                    size: t.size(u64::try_from(f.size).unwrap_or(0)),
                    image: files::is_inline_image(&f.content_type),
                })
                .collect(),
            photo_fields,
            upload_error,
        },
    )
}

/// `POST /documents/{did}/files` (multipart: `csrf`, optionally `field`,
/// then `file`): the attachment streamed in, as through the API; with
/// `field`, also added to that file field (a photo taken for it).
///
/// The page's script sends it with `Turva-Navigate: manual` to show the
/// upload's progress: then the redirect that ends it is answered as 200
/// with the address in `Turva-Location`, for the script to go to (an XHR
/// would follow it itself, and view the document once more).
pub async fn upload(
    State(app): State<App>,
    viewer: Viewer,
    Path(did): Path<String>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let done = receive(app, viewer, did, multipart).await;
    let manual = headers
        .get("turva-navigate")
        .is_some_and(|v| v.as_bytes() == b"manual");
    match done.headers().get(header::LOCATION) {
        Some(to) if manual && done.status().is_redirection() => {
            let mut answer = StatusCode::OK.into_response();
            answer.headers_mut().insert("turva-location", to.clone());
            answer
        }
        _ => done,
    }
}

async fn receive(
    app: App,
    viewer: Viewer,
    did: String,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let bare = viewer.bare();
    let back = |outcome: &str| {
        let q = if outcome.is_empty() {
            String::new()
        } else {
            format!("?upload={outcome}")
        };
        Redirect::to(&format!("/documents/{did}{q}")).into_response()
    };
    let Ok(mut parts) = multipart else {
        return back("failed");
    };
    let (mut csrf, mut field) = (None, None);
    loop {
        let part = match parts.next_field().await {
            Ok(Some(p)) => p,
            Ok(None) | Err(_) => return back("failed"),
        };
        match part.name() {
            Some("csrf") => csrf = part.text().await.ok(),
            Some("field") => field = part.text().await.ok().filter(|f| !f.is_empty()),
            Some("file") => {
                if !auth::csrf_ok(&viewer.actor, csrf.as_deref()) {
                    let e = auth::csrf_denied(&app, &viewer.ctx, &viewer.actor).await;
                    return error_page(&bare, &e);
                }
                let name = part.file_name().unwrap_or_default().to_string();
                if name.is_empty() {
                    return back("failed");
                }
                let stream = Box::pin(part.map(|c| c.map_err(|e| e.body_text())));
                return match files::upload(&app, &viewer.ctx, &viewer.actor, &did, &name, stream)
                    .await
                {
                    Ok(file) => match field {
                        Some(key) => attach(&app, &viewer, &did, &key, &file.id).await,
                        None => back(""),
                    },
                    Err(AppError::TooLarge(_)) => back("too-large"),
                    Err(AppError::NotFound) => error_page(&bare, &AppError::NotFound),
                    Err(AppError::Forbidden(w)) => error_page(&bare, &AppError::Forbidden(w)),
                    Err(e) => {
                        tracing::warn!(error = %e, "a page upload failed");
                        back("failed")
                    }
                };
            }
            _ => {}
        }
    }
}

/// Adds an uploaded file to a file field of the document's newest version.
async fn attach(app: &App, viewer: &Viewer, did: &str, key: &str, file_id: &str) -> Response {
    let bare = viewer.bare();
    let view = match documents::get(app, &viewer.ctx, &viewer.actor, did).await {
        Ok(v) => v,
        Err(e) => return error_page(&bare, &e),
    };
    let mut ids = match view.fields.get(key) {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    ids.push(Value::String(file_id.to_string()));
    let mut fields = serde_json::Map::new();
    fields.insert(key.to_string(), Value::Array(ids));
    let changes = documents::DocumentChanges {
        version: view.doc.version,
        fields: Some(&fields),
        ..documents::DocumentChanges::default()
    };
    match documents::update(app, &viewer.ctx, &viewer.actor, did, changes).await {
        Ok(_) => Redirect::to(&format!("/documents/{did}")).into_response(),
        // The file is attached; only the field was not set.
        Err(e) => {
            tracing::warn!(error = %e, "an uploaded photo was not set in its field");
            Redirect::to(&format!("/documents/{did}?upload=failed")).into_response()
        }
    }
}
