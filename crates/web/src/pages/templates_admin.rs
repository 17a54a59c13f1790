//! Document templates for a company's admins: the list (with the folder
//! templates, edited in `folder_templates_admin.rs`), a new template,
//! and the field editor (add, reorder, type, required, unit, choices,
//! help; remove) without a script: each field is a row of the form, its
//! place a number. Saving makes a new template version through
//! `app::templates`, which checks the fields and audits.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use turva_app::{templates, App};
use turva_model::template::{Field, FieldType};

use super::i18n::{Texts, FIELD_TYPES};
use super::{
    csrf_checked, error_page, refused_value, render, value, Bar, CompanyLink, Fields, Viewer,
    ASSET_VERSION,
};

#[derive(Template)]
#[template(path = "templates.html")]
struct ListPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    csrf: &'a str,
    company: CompanyLink,
    admin: bool,
    /// (id, name, version, fields)
    templates: Vec<(String, String, i64, usize)>,
    /// (id, name, version, identifier fields)
    folder_templates: Vec<(String, String, i64, usize)>,
    error: Option<String>,
}

/// `GET /c/{cid}/templates` (members see, admins change).
pub async fn list_page(
    State(app): State<App>,
    viewer: Viewer,
    Path(cid): Path<String>,
) -> Response {
    let frame = match viewer.frame(&app, Some(&cid)).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let list = match templates::list(&app, &viewer.ctx, &viewer.actor, &cid, None, 200).await {
        Ok(p) => p.items,
        Err(e) => return error_page(&frame, &e),
    };
    let listed =
        templates::list_folder_templates(&app, &viewer.ctx, &viewer.actor, &cid, None, 200);
    let folder_list = match listed.await {
        Ok(p) => p.items,
        Err(e) => return error_page(&frame, &e),
    };
    let company = frame.company_link(&cid);
    render(
        StatusCode::OK,
        &ListPage {
            t: frame.t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            csrf: &viewer.actor.csrf_token,
            admin: company.admin,
            company,
            templates: list
                .into_iter()
                .map(|v| (v.row.id, v.row.name, v.row.version, v.fields.len()))
                .collect(),
            folder_templates: folder_list
                .into_iter()
                .map(|v| {
                    let n = v.definition.identifiers.len();
                    (v.row.id, v.row.name, v.row.version, n)
                })
                .collect(),
            error: None,
        },
    )
}

/// `POST /c/{cid}/templates`: a new template, then its editor.
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
    match templates::create(
        &app,
        &viewer.ctx,
        &viewer.actor,
        &cid,
        name,
        None,
        Vec::new(),
    )
    .await
    {
        Ok(v) => Redirect::to(&format!("/templates/{}/edit", v.row.id)).into_response(),
        Err(e) => error_page(&viewer.bare(), &e),
    }
}

/// One row of the editor.
pub struct Row {
    is_new: bool,
    pos: usize,
    key: String,
    label: String,
    kind: &'static str,
    unit: String,
    options: String,
    help: String,
    required: bool,
}

#[derive(Template)]
#[template(path = "template_edit.html")]
struct EditPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    csrf: &'a str,
    id: &'a str,
    company_id: &'a str,
    name: &'a str,
    description: &'a str,
    version: i64,
    rows: Vec<Row>,
    types: Vec<(&'static str, &'static str)>,
    notice: Option<&'static str>,
    error: Option<String>,
}

fn kind_name(kind: FieldType) -> &'static str {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .and_then(|k| FIELD_TYPES.iter().find(|t| **t == k).copied())
        .unwrap_or("text")
}

fn rows_of(fields: &[Field]) -> Vec<Row> {
    let mut rows: Vec<Row> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| Row {
            is_new: false,
            pos: i + 1,
            key: f.key.clone(),
            label: f.label.clone(),
            kind: kind_name(f.kind),
            unit: f.unit.clone().unwrap_or_default(),
            options: f.options.join(", "),
            help: f.help.clone(),
            required: f.required,
        })
        .collect();
    rows.push(Row {
        is_new: true,
        pos: fields.len() + 1,
        key: String::new(),
        label: String::new(),
        kind: "text",
        unit: String::new(),
        options: String::new(),
        help: String::new(),
        required: false,
    });
    rows
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

async fn edit_page_of(
    app: &App,
    viewer: &Viewer,
    id: &str,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Response {
    let bare = viewer.bare();
    let view = match templates::get(app, &viewer.ctx, &viewer.actor, id, None).await {
        Ok(v) => v,
        Err(e) => return error_page(&bare, &e),
    };
    let frame = match viewer.frame(app, Some(&view.row.company_id)).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = frame.t;
    render(
        if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &EditPage {
            t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            csrf: &viewer.actor.csrf_token,
            id,
            company_id: &view.row.company_id,
            name: &view.row.name,
            description: &view.row.description,
            version: view.row.version,
            rows: rows_of(&view.fields),
            types: FIELD_TYPES.iter().copied().zip(t.field_types).collect(),
            notice,
            error,
        },
    )
}

/// `GET /templates/{id}/edit`.
pub async fn edit_page(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Response {
    let notice = (q.done.as_deref() == Some("saved")).then_some(viewer.t.template_saved);
    edit_page_of(&app, &viewer, &id, notice, None).await
}

/// The fields the form describes, in the order of their numbers; a new
/// row counts only when it has a key or a label.
fn fields_of(form: &Fields) -> Result<Vec<Field>, String> {
    let count: usize = value(form, "count")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut placed: Vec<(f64, usize, Field)> = Vec::new();
    for i in 0..count.min(300) {
        let get = |name: &str| {
            value(form, &format!("f{i}.{name}"))
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        if get("remove") == "true" {
            continue;
        }
        let (key, label) = (get("key"), get("label"));
        if key.is_empty() && label.is_empty() {
            continue;
        }
        let kind: FieldType = serde_json::from_value(serde_json::Value::String(get("type")))
            .map_err(|_| format!("{}: {}", key, get("type")))?;
        let unit = get("unit");
        let options: Vec<String> = get("options")
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .collect();
        let pos = get("pos").parse::<f64>().unwrap_or(i as f64 + 1.0);
        placed.push((
            pos,
            i,
            Field {
                key,
                kind,
                label,
                help: get("help"),
                required: get("required") == "true",
                unit: (!unit.is_empty() && kind == FieldType::Number).then_some(unit),
                options: if matches!(kind, FieldType::Choice | FieldType::MultiChoice) {
                    options
                } else {
                    Vec::new()
                },
            },
        ));
    }
    placed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    Ok(placed.into_iter().map(|(_, _, f)| f).collect())
}

/// `POST /templates/{id}/edit`: a new version with these fields.
pub async fn save(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let fields = match fields_of(&form) {
        Ok(f) => f,
        Err(why) => return edit_page_of(&app, &viewer, &id, None, Some(why)).await,
    };
    match templates::update(
        &app,
        &viewer.ctx,
        &viewer.actor,
        &id,
        value(&form, "name"),
        value(&form, "description"),
        Some(fields),
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/templates/{id}/edit?done=saved")).into_response(),
        Err(e) => match refused_value(viewer.t, &e) {
            Some(why) => edit_page_of(&app, &viewer, &id, None, Some(why)).await,
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
    fn rows_become_fields_in_the_order_of_their_numbers() {
        let f = form(&[
            ("count", "3"),
            ("f0.key", "a"),
            ("f0.label", "A"),
            ("f0.type", "number"),
            ("f0.unit", "m²"),
            ("f0.pos", "2"),
            ("f1.key", "b"),
            ("f1.label", "B"),
            ("f1.type", "choice"),
            ("f1.options", "x, y,,z"),
            ("f1.required", "true"),
            ("f1.pos", "1"),
            ("f2.key", ""),
            ("f2.label", ""),
            ("f2.type", "text"),
        ]);
        let fields = fields_of(&f).unwrap();
        assert_eq!(fields.len(), 2, "the empty new row is not a field");
        assert_eq!(fields[0].key, "b");
        assert!(fields[0].required);
        assert_eq!(fields[0].options, ["x", "y", "z"]);
        assert_eq!(fields[1].unit.as_deref(), Some("m²"));
        let removed = form(&[
            ("count", "1"),
            ("f0.key", "a"),
            ("f0.label", "A"),
            ("f0.type", "text"),
            ("f0.remove", "true"),
        ]);
        assert!(fields_of(&removed).unwrap().is_empty());
        let bad = form(&[
            ("count", "1"),
            ("f0.key", "a"),
            ("f0.label", "A"),
            ("f0.type", "video"),
        ]);
        assert!(fields_of(&bad).is_err());
    }
}
