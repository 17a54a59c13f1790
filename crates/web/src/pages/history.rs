//! A document's version history: who and when, two versions compared,
//! and an earlier one made the newest again, through
//! `app::documents::{versions, compare, restore_version}`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use serde_json::Value;
use turva_app::documents;
use turva_app::App;

use super::i18n::Texts;
use super::{csrf_checked, error_page, render, Bar, Fields, Viewer, ASSET_VERSION};

#[derive(Template)]
#[template(path = "history.html")]
struct HistoryPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    csrf: &'a str,
    id: &'a str,
    title: &'a str,
    can_edit: bool,
    /// (version, author, when, is the newest)
    versions: Vec<(i64, String, String, bool)>,
    a: i64,
    b: i64,
    compared: bool,
    /// (what, before, after)
    differences: Vec<(String, String, String)>,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct Chosen {
    a: Option<i64>,
    b: Option<i64>,
    done: Option<String>,
}

fn shown(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `GET /documents/{did}/history?a=&b=`.
pub async fn page(
    State(app): State<App>,
    viewer: Viewer,
    Path(did): Path<String>,
    Query(q): Query<Chosen>,
) -> Response {
    let (view, form, frame) = match super::documents::load(&app, &viewer, &did).await {
        Ok(loaded) => loaded,
        Err(r) => return r,
    };
    let t = frame.t;
    let history = match documents::versions(&app, &viewer.ctx, &viewer.actor, &did, None, 200).await
    {
        Ok(h) => h,
        Err(e) => return error_page(&frame, &e),
    };
    let names = match documents::authors(&app, &history).await {
        Ok(n) => n,
        Err(e) => return error_page(&frame, &e),
    };
    let newest = view.doc.version;
    let (a, b) = (q.a.unwrap_or((newest - 1).max(1)), q.b.unwrap_or(newest));
    let compared = q.a.is_some() && q.b.is_some();
    let differences = if compared {
        match documents::compare(&app, &viewer.ctx, &viewer.actor, &did, a, b).await {
            Ok(d) => d
                .into_iter()
                .map(|d| {
                    // A field by its label; the title, status and files as
                    // the page names them.
                    let what = match d.what.strip_prefix("fields.") {
                        Some(key) => form
                            .iter()
                            .find(|f| f.key == key)
                            .map_or_else(|| key.to_string(), |f| f.label.clone()),
                        None => match d.what.as_str() {
                            "title" => t.title_label.to_string(),
                            "status" => t.status.to_string(),
                            "files" => t.attachments.to_string(),
                            other => other.to_string(),
                        },
                    };
                    (what, shown(&d.before), shown(&d.after))
                })
                .collect(),
            Err(e) => return error_page(&frame, &e),
        }
    } else {
        Vec::new()
    };
    render(
        StatusCode::OK,
        &HistoryPage {
            t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            csrf: &viewer.actor.csrf_token,
            id: &did,
            title: &view.doc.title,
            can_edit: view.right >= turva_model::access::Right::Edit,
            versions: history
                .items
                .iter()
                .map(|v| {
                    (
                        v.version,
                        names
                            .get(&v.author_id)
                            .cloned()
                            .unwrap_or_else(|| t.unknown_author.to_string()),
                        t.moment(v.created_at),
                        v.version == newest,
                    )
                })
                .collect(),
            a,
            b,
            compared,
            differences,
            notice: (q.done.as_deref() == Some("restored")).then_some(t.version_restored),
        },
    )
}

/// `POST /documents/{did}/versions/{n}/restore`: version `n` becomes the
/// newest again.
pub async fn restore(
    State(app): State<App>,
    viewer: Viewer,
    Path((did, n)): Path<(String, i64)>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    match documents::restore_version(&app, &viewer.ctx, &viewer.actor, &did, n).await {
        Ok(_) => Redirect::to(&format!("/documents/{did}/history?done=restored")).into_response(),
        Err(e) => error_page(&viewer.bare(), &e),
    }
}
