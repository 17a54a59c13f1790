//! Folder templates for a company's admins: a new one, and its editor
//! without a script: identifier fields as rows (place, key, label,
//! required, whether its value names the folder; remove), the sub-folders
//! as lines of a text area, the documents it makes as rows (title and
//! document template; remove). Saving goes through `app::templates`, which
//! checks the definition (one naming identifier, templates of this
//! company) and audits; folders made earlier stay as they are.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use turva_app::templates::{
    self, Definition, DefinitionChanges, IdentifierField, SubDocument, SubFolder,
};
use turva_app::{App, AppError};

use super::i18n::Texts;
use super::{
    csrf_checked, error_page, refused_value, render, value, Bar, Fields, Viewer, ASSET_VERSION,
};

/// `POST /c/{cid}/folder-templates`: a new, empty folder template, then
/// its editor.
pub async fn create(
    State(app): State<App>,
    viewer: Viewer,
    Path(cid): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let name = value(&form, "name").unwrap_or_default();
    let made = templates::create_folder_template(
        &app,
        &viewer.ctx,
        &viewer.actor,
        &cid,
        name,
        Definition::default(),
    );
    match made.await {
        Ok(v) => Redirect::to(&format!("/folder-templates/{}/edit", v.row.id)).into_response(),
        Err(e) => error_page(&viewer.bare(), &e),
    }
}

/// An identifier row of the editor.
pub struct IdRow {
    is_new: bool,
    pos: usize,
    key: String,
    label: String,
    required: bool,
    names_folder: bool,
}

/// A document row of the editor.
pub struct DocRow {
    is_new: bool,
    title: String,
    template_id: String,
}

#[derive(Template)]
#[template(path = "folder_template_edit.html")]
struct EditPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    csrf: &'a str,
    id: &'a str,
    company_id: &'a str,
    name: &'a str,
    version: i64,
    ids: Vec<IdRow>,
    folders: String,
    docs: Vec<DocRow>,
    /// The company's document templates: (id, name).
    doc_templates: Vec<(String, String)>,
    notice: Option<&'static str>,
    error: Option<String>,
}

fn rows_of(d: &Definition) -> (Vec<IdRow>, String, Vec<DocRow>) {
    let mut ids: Vec<IdRow> = d
        .identifiers
        .iter()
        .enumerate()
        .map(|(i, f)| IdRow {
            is_new: false,
            pos: i + 1,
            key: f.key.clone(),
            label: f.label.clone(),
            required: f.required,
            names_folder: f.names_folder,
        })
        .collect();
    ids.push(IdRow {
        is_new: true,
        pos: d.identifiers.len() + 1,
        key: String::new(),
        label: String::new(),
        required: false,
        names_folder: false,
    });
    let folders = d
        .folders
        .iter()
        .map(|f| f.name.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let mut docs: Vec<DocRow> = d
        .documents
        .iter()
        .map(|doc| DocRow {
            is_new: false,
            title: doc.title.clone(),
            template_id: doc.template_id.clone(),
        })
        .collect();
    docs.push(DocRow {
        is_new: true,
        title: String::new(),
        template_id: String::new(),
    });
    (ids, folders, docs)
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// The editor: of the stored template, or (`typed`) of what was sent and
/// refused, so that nothing typed is lost; its rows are in the order the
/// refusal's row numbers count.
async fn edit_page_of(
    app: &App,
    viewer: &Viewer,
    id: &str,
    typed: Option<(&str, &Definition)>,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Response {
    let bare = viewer.bare();
    if turva_model::Id::<()>::parse("id", id).is_err() {
        return error_page(&bare, &AppError::NotFound);
    }
    let view = match templates::get_folder_template(app, &viewer.ctx, &viewer.actor, id).await {
        Ok(v) => v,
        Err(e) => return error_page(&bare, &e),
    };
    let company_id = view.row.company_id.clone();
    let frame = match viewer.frame(app, Some(&company_id)).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    // Only admins change templates: anyone else gets the designed 403
    // here rather than a form that cannot be saved.
    if !frame.company_link(&company_id).admin {
        return error_page(&frame, &AppError::Forbidden("admins only"));
    }
    let listed = templates::list(app, &viewer.ctx, &viewer.actor, &company_id, None, 200).await;
    let mut doc_templates: Vec<(String, String)> = match listed {
        Ok(p) => p
            .items
            .into_iter()
            .map(|v| (v.row.id, v.row.name))
            .collect(),
        Err(e) => return error_page(&frame, &e),
    };
    let (name, definition) = typed.unwrap_or((&view.row.name, &view.definition));
    let (ids, folders, docs) = rows_of(definition);
    // A template the rows name beyond the first 200 is offered too, so
    // that saving never switches a document to another template.
    for d in &docs {
        let missing =
            !d.template_id.is_empty() && !doc_templates.iter().any(|(id, _)| *id == d.template_id);
        if missing {
            let got = templates::get(app, &viewer.ctx, &viewer.actor, &d.template_id, None).await;
            if let Ok(v) = got {
                doc_templates.push((v.row.id, v.row.name));
            }
        }
    }
    render(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &EditPage {
            t: frame.t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            csrf: &viewer.actor.csrf_token,
            id,
            company_id: &company_id,
            name,
            version: view.row.version,
            ids,
            folders,
            docs,
            doc_templates,
            notice,
            error,
        },
    )
}

/// `GET /folder-templates/{id}/edit`.
pub async fn edit_page(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Response {
    let notice = (q.done.as_deref() == Some("saved")).then_some(viewer.t.folder_template_saved);
    edit_page_of(&app, &viewer, &id, None, notice, None).await
}

/// The definition the form describes: identifier rows in the order of
/// their numbers (a new row counts only when it has a key or a label),
/// one sub-folder a non-empty line, document rows with a title.
fn definition_of(form: &Fields) -> Definition {
    let count = |name: &str| -> usize {
        value(form, name)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0usize)
            .min(300)
    };
    let get = |name: String| value(form, &name).unwrap_or_default().trim().to_string();
    let mut placed: Vec<(f64, usize, IdentifierField)> = Vec::new();
    for i in 0..count("icount") {
        let field = |n: &str| get(format!("i{i}.{n}"));
        let (key, label) = (field("key"), field("label"));
        if field("remove") == "true" || (key.is_empty() && label.is_empty()) {
            continue;
        }
        let pos = field("pos").parse::<f64>().unwrap_or(i as f64 + 1.0);
        placed.push((
            pos,
            i,
            IdentifierField {
                key,
                label,
                required: field("required") == "true",
                names_folder: field("names_folder") == "true",
            },
        ));
    }
    placed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let folders = value(form, "folders")
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|name| SubFolder { name: name.into() })
        .collect();
    let documents = (0..count("dcount"))
        .filter_map(|i| {
            let field = |n: &str| get(format!("d{i}.{n}"));
            let title = field("title");
            (field("remove") != "true" && !title.is_empty()).then(|| SubDocument {
                title,
                template_id: field("template_id"),
            })
        })
        .collect();
    Definition {
        identifiers: placed.into_iter().map(|(_, _, f)| f).collect(),
        folders,
        documents,
    }
}

/// `POST /folder-templates/{id}/edit`: a new version of the template.
pub async fn save(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let d = definition_of(&form);
    let changes = DefinitionChanges {
        identifiers: Some(d.identifiers.clone()),
        folders: Some(d.folders.clone()),
        documents: Some(d.documents.clone()),
    };
    let typed_name = value(&form, "name").unwrap_or_default();
    let saved = templates::update_folder_template(
        &app,
        &viewer.ctx,
        &viewer.actor,
        &id,
        value(&form, "name"),
        changes,
    );
    match saved.await {
        Ok(_) => Redirect::to(&format!("/folder-templates/{id}/edit?done=saved")).into_response(),
        Err(e) => match refused_value(viewer.t, &e) {
            Some(why) => {
                let typed = Some((typed_name, &d));
                edit_page_of(&app, &viewer, &id, typed, None, Some(why)).await
            }
            None => error_page(&viewer.bare(), &e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn rows_and_lines_become_a_definition() {
        let d = definition_of(&form(&[
            ("icount", "3"),
            ("i0.key", "numero"),
            ("i0.label", "Number"),
            ("i0.pos", "2"),
            ("i0.names_folder", "true"),
            ("i1.key", "asiakas"),
            ("i1.label", "Client"),
            ("i1.pos", "1"),
            ("i1.required", "true"),
            ("i2.key", ""),
            ("i2.label", ""),
            ("folders", "Kuvat\r\n\n  Raportit  \n"),
            ("dcount", "3"),
            ("d0.title", "Aloitus"),
            ("d0.template_id", "t1"),
            ("d1.title", "Pois"),
            ("d1.template_id", "t1"),
            ("d1.remove", "true"),
            ("d2.title", ""),
        ]));
        let keys: Vec<&str> = d.identifiers.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["asiakas", "numero"], "in the order of their numbers");
        assert!(d.identifiers[0].required && !d.identifiers[0].names_folder);
        assert!(d.identifiers[1].names_folder);
        let folders: Vec<&str> = d.folders.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(folders, ["Kuvat", "Raportit"], "blank lines are no folder");
        assert_eq!(d.documents.len(), 1, "removed and empty rows are none");
        assert_eq!(d.documents[0].template_id, "t1");
        let removed = definition_of(&form(&[
            ("icount", "1"),
            ("i0.key", "a"),
            ("i0.label", "A"),
            ("i0.remove", "true"),
        ]));
        assert!(removed.identifiers.is_empty());
    }
}
