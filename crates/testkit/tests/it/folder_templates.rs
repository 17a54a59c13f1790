//! Folder templates: a project skeleton stamped out in one transaction.

use serde_json::{json, Value};
use turva_testkit::TestApp;

use crate::both;
use crate::content::{staff, template, text};

fn names(children: &Value) -> Vec<String> {
    let mut v: Vec<String> = children["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|i| {
            let n = if i["type"] == "folder" {
                &i["name"]
            } else {
                &i["title"]
            };
            format!(
                "{}:{}",
                i["type"].as_str().unwrap_or_default(),
                n.as_str().unwrap_or_default()
            )
        })
        .collect();
    v.sort();
    v
}

async fn folder_templates_stamp_out_projects(t: TestApp) {
    let s = staff(&t, "skel").await;
    let diary = template(
        &s.admin,
        &s.cid,
        json!({"name": "Site diary", "fields": [{"key": "notes", "type": "long_text", "label": "Notes"}]}),
    )
    .await;
    let base = format!("/api/v1/companies/{}/folder-templates", s.cid);
    let body = json!({
        "name": "Project",
        "identifiers": [
            {"key": "project_number", "label": "Project number", "required": true, "names_folder": true},
            {"key": "site_address", "label": "Site address"}
        ],
        "folders": [{"name": "Photos"}, {"name": "Reports"}],
        "documents": [{"title": "Site diary", "template_id": text(&diary["id"])}]
    });
    // Admins make them; members read them.
    assert_eq!(s.member.post(&base, body.clone()).await.status, 403);
    let r = s.admin.post(&base, body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let tid = text(&r.body["id"]);
    let r = s.member.get(&base).await;
    assert_eq!(
        r.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.body
    );

    // A folder from it: named by its identifier, with the whole structure.
    let folders = format!("/api/v1/companies/{}/folders", s.cid);
    let before = t.count("folders").await;
    let r = s
        .member
        .post(
            &folders,
            json!({"template_id": tid, "identifiers": {"site_address": "Mannerheimintie 1"}}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (422, Some("identifiers.project_number")),
        "{}",
        r.body
    );
    let r = s
        .member
        .post(
            &folders,
            json!({"template_id": tid, "identifiers": {"project_number": "P-1", "colour": "red"}}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (422, Some("identifiers.colour")),
        "{}",
        r.body
    );
    assert_eq!(
        t.count("folders").await,
        before,
        "a refused creation leaves nothing"
    );
    let r = s
        .member
        .post(
            &folders,
            json!({"template_id": tid, "identifiers": {"project_number": "P-1"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(text(&r.body["name"]), "P-1");
    assert_eq!(r.body["identifiers"], json!({"project_number": "P-1"}));
    let p1 = text(&r.body["id"]);
    let kids = s
        .member
        .get(&format!("/api/v1/folders/{p1}/children"))
        .await;
    assert_eq!(
        names(&kids.body),
        ["document:Site diary", "folder:Photos", "folder:Reports"]
    );

    // A change affects only folders made afterwards; parts not given stay.
    let r = s
        .admin
        .patch(
            &format!("/api/v1/folder-templates/{tid}"),
            json!({"folders": [{"name": "Drawings"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.body["identifiers"].as_array().map(Vec::len), Some(2));
    assert_eq!(r.body["documents"].as_array().map(Vec::len), Some(1));
    let r = s
        .member
        .post(
            &folders,
            json!({"template_id": tid, "name": "Second", "identifiers": {"project_number": "P-2"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let p2 = text(&r.body["id"]);
    let kids = s
        .member
        .get(&format!("/api/v1/folders/{p2}/children"))
        .await;
    assert_eq!(
        names(&kids.body),
        ["document:Site diary", "folder:Drawings"]
    );
    let kids = s
        .member
        .get(&format!("/api/v1/folders/{p1}/children"))
        .await;
    assert_eq!(
        names(&kids.body),
        ["document:Site diary", "folder:Photos", "folder:Reports"]
    );
}
both!(folder_templates_stamp_out_projects);
