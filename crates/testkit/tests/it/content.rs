//! Content through the real server: folders and the trash, document
//! templates, documents with every field type and their versions,
//! attachments, search, and the audit of views and changes (API.md §3
//! "Resources", "Shapes", "Audit log"). Who may do what is in `rights`;
//! the helpers here are shared with it.

use serde_json::{json, Map, Value};
use turva_testkit::{Answer, Client, TestApp, PASSWORD};

use crate::both;

// ---------------------------------------------------------------- helpers

/// The text of a JSON string ("" for anything else).
pub(crate) fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// The `items` of a list answer.
pub(crate) fn items(a: &Answer) -> Vec<Value> {
    a.body["items"].as_array().cloned().unwrap_or_default()
}

/// The ids of a list answer's items, sorted.
pub(crate) fn ids(a: &Answer) -> Vec<String> {
    let mut v: Vec<String> = items(a).iter().map(|i| text(&i["id"])).collect();
    v.sort();
    v
}

/// Sorted copies of ids, to compare with `ids`.
pub(crate) fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

pub(crate) async fn user_id(c: &Client) -> String {
    text(&c.get("/api/v1/me").await.body["id"])
}

/// A company with one signed-in user of each role.
pub(crate) struct Staff {
    pub cid: String,
    pub owner: Client,
    pub admin: Client,
    pub member: Client,
    pub reader: Client,
    pub owner_id: String,
    pub member_id: String,
}

/// Makes company `tag` with `<tag>.<role>@example.test` as owner, admin,
/// member and reader, each accepted and signed in.
pub(crate) async fn staff(t: &TestApp, tag: &str) -> Staff {
    let (cid, owner) = t
        .company_with_owner(&format!("{tag} Oy"), &format!("{tag}.owner@example.test"))
        .await;
    let (admin, _) = t
        .member(&owner, &cid, &format!("{tag}.admin@example.test"), "admin")
        .await;
    let (member, member_id) = t
        .member(
            &owner,
            &cid,
            &format!("{tag}.member@example.test"),
            "member",
        )
        .await;
    let (reader, _) = t
        .member(
            &owner,
            &cid,
            &format!("{tag}.reader@example.test"),
            "reader",
        )
        .await;
    let owner_id = user_id(&owner).await;
    Staff {
        cid,
        owner,
        admin,
        member,
        reader,
        owner_id,
        member_id,
    }
}

/// Creates a folder in company `cid`; returns its id.
pub(crate) async fn folder(c: &Client, cid: &str, body: Value) -> String {
    let r = c
        .post(&format!("/api/v1/companies/{cid}/folders"), body.clone())
        .await;
    assert_eq!(r.status, 201, "create folder {body}: {}", r.body);
    text(&r.body["id"])
}

/// Creates a document in folder `fid`; returns it.
pub(crate) async fn document(c: &Client, fid: &str, body: Value) -> Value {
    let r = c
        .post(&format!("/api/v1/folders/{fid}/documents"), body.clone())
        .await;
    assert_eq!(r.status, 201, "create document {body}: {}", r.body);
    r.body
}

/// Creates a document with just a title; returns its id.
pub(crate) async fn doc(c: &Client, fid: &str, title: &str) -> String {
    text(&document(c, fid, json!({ "title": title })).await["id"])
}

/// Creates a document template; returns it.
pub(crate) async fn template(c: &Client, cid: &str, body: Value) -> Value {
    let r = c
        .post(&format!("/api/v1/companies/{cid}/templates"), body.clone())
        .await;
    assert_eq!(r.status, 201, "create template {body}: {}", r.body);
    r.body
}

/// How many emails went to `to`.
pub(crate) fn mails_to(t: &TestApp, to: &str) -> usize {
    t.outbox().iter().filter(|m| m.to == to).count()
}

/// Waits for an email to `to` beyond the first `seen` and returns the
/// `token` of its link.
pub(crate) async fn new_token(t: &TestApp, to: &str, seen: usize) -> String {
    for _ in 0..100 {
        let mails: Vec<_> = t.outbox().into_iter().filter(|m| m.to == to).collect();
        if mails.len() > seen {
            if let Some(token) = mails.iter().rev().find_map(|m| m.token("token=")) {
                return token;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no new email with a token to {to}");
}

/// `by` shares `/api/v1/{kind}/{id}` (kind `folders` or `documents`) with
/// `email` (someone outside the company) as `extra` says (at least
/// `right`); the guest accepts the emailed invitation on a new client and
/// signs in. Returns the share and the guest's client.
pub(crate) async fn share_to_guest(
    t: &TestApp,
    by: &Client,
    kind: &str,
    id: &str,
    email: &str,
    extra: Value,
) -> (Value, Client) {
    let seen = mails_to(t, email);
    let mut body = json!({ "email": email });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let r = by.post(&format!("/api/v1/{kind}/{id}/shares"), body).await;
    assert_eq!(r.status, 201, "share {kind} {id} to {email}: {}", r.body);
    assert_eq!(r.body["status"], json!("pending"), "{}", r.body);
    let token = new_token(t, email, seen).await;
    let guest = t.client();
    let a = guest
        .post(
            "/api/v1/auth/accept-invite",
            json!({"token": token, "password": PASSWORD, "name": "Vieras Henkilö"}),
        )
        .await;
    assert_eq!(a.status, 200, "accept share {email}: {}", a.body);
    guest.login(email, PASSWORD).await;
    (r.body, guest)
}

/// Uploads `bytes` as the multipart part `file` to document `did`.
pub(crate) async fn upload(c: &Client, did: &str, name: &str, ctype: &str, bytes: &[u8]) -> Answer {
    let boundary = "turva-test-7f3a9c2e51d04b8a";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    c.post_raw(
        &format!("/api/v1/documents/{did}/files"),
        &format!("multipart/form-data; boundary={boundary}"),
        body,
    )
    .await
}

/// Downloads a file: status, `Content-Disposition`, bytes.
pub(crate) async fn download(c: &Client, file_id: &str) -> (u16, String, Vec<u8>) {
    let res = c
        .raw()
        .get(c.url(&format!("/api/v1/files/{file_id}")))
        .send()
        .await
        .unwrap_or_else(|e| panic!("download: {e}"));
    let status = res.status().as_u16();
    let disposition = res
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (
        status,
        disposition,
        res.bytes().await.unwrap_or_default().to_vec(),
    )
}

/// Searches as `c`; the answer must be 200.
pub(crate) async fn search(c: &Client, q: &str) -> Answer {
    let r = c
        .send(c.raw().get(c.url("/api/v1/search")).query(&[("q", q)]))
        .await;
    assert_eq!(r.status, 200, "search {q:?}: {}", r.body);
    assert!(r.body["items"].is_array(), "search {q:?}: {}", r.body);
    r
}

/// A field of every type.
fn every_field() -> Value {
    json!([
        {"key": "kohde", "type": "text", "label": "Kohde", "required": true},
        {"key": "kuvaus", "type": "long_text", "label": "Kuvaus", "help": "Vapaa teksti"},
        {"key": "pinta_ala", "type": "number", "label": "Pinta-ala", "unit": "m²"},
        {"key": "pvm", "type": "date", "label": "Päivämäärä"},
        {"key": "valmis", "type": "checkbox", "label": "Valmis"},
        {"key": "laji", "type": "choice", "label": "Laji", "options": ["uusi", "korjaus"]},
        {"key": "tarkastukset", "type": "multi_choice", "label": "Tarkastukset",
         "options": ["sähkö", "vesi", "ilmanvaihto"]},
        {"key": "liitteet", "type": "file", "label": "Liitteet"},
        {"key": "allekirjoitus", "type": "signature", "label": "Allekirjoitus"}
    ])
}

/// `(key, type)` of each field of a template, in order.
fn keys_and_types(fields: &Value) -> Vec<(String, String)> {
    fields
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|f| (text(&f["key"]), text(&f["type"])))
        .collect()
}

const ATTACHMENT: &[u8] = "Turva liite: tarkastuspöytäkirja 2026, kohde Keskuskoulu.\n".as_bytes();
const ATTACHMENT_SHA256: &str = "df8d3d7710cdb1e5e8fc364de4f7fcc870f4b9c11cc631680bc9d63c5ebfbce2";

// ------------------------------------------------------------------ tests

both!(folders_are_created_renamed_moved_trashed_and_restored);
async fn folders_are_created_renamed_moved_trashed_and_restored(t: TestApp) {
    let s = staff(&t, "kansio").await;
    let (cid, owner) = (s.cid.as_str(), &s.owner);
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({"name": "Projektit"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let top = text(&r.body["id"]);
    assert!(top.len() >= 32, "an opaque id of 128 bits or more: {top}");
    assert_eq!(
        (
            text(&r.body["company_id"]),
            r.body["parent_id"].clone(),
            r.body["name"].clone(),
            r.body["member_access"].clone(),
            text(&r.body["created_by"]),
        ),
        (
            cid.to_string(),
            Value::Null,
            json!("Projektit"),
            json!("edit"),
            s.owner_id.clone()
        ),
        "a new top-level folder takes the company's default_member_access"
    );
    assert!(turva_app::clock::parse_rfc3339(&text(&r.body["created_at"])).is_some());
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({"name": "Työmaa 1", "parent_id": top}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        (r.body["parent_id"].clone(), r.body["member_access"].clone()),
        (json!(top), json!("inherit"))
    );
    let site = text(&r.body["id"]);
    let photos = folder(owner, cid, json!({"name": "Kuvat", "parent_id": site})).await;
    let archive = folder(owner, cid, json!({"name": "Arkisto"})).await;
    let facade = doc(owner, &photos, "Julkisivu").await;

    // Listings: the top level, and one folder's children.
    let r = owner.get(&format!("/api/v1/companies/{cid}/folders")).await;
    assert_eq!(r.status, 200);
    assert_eq!(ids(&r), sorted(&[&top, &archive]));
    assert_eq!(r.body["next_cursor"], Value::Null);
    let r = owner.get(&format!("/api/v1/folders/{site}/children")).await;
    assert_eq!(
        items(&r)
            .iter()
            .map(|i| (text(&i["type"]), text(&i["id"]), text(&i["name"])))
            .collect::<Vec<_>>(),
        vec![("folder".to_string(), photos.clone(), "Kuvat".to_string())]
    );
    let r = owner
        .get(&format!("/api/v1/folders/{photos}/children"))
        .await;
    assert_eq!(
        items(&r)
            .iter()
            .map(|i| (text(&i["type"]), text(&i["id"]), text(&i["title"])))
            .collect::<Vec<_>>(),
        vec![(
            "document".to_string(),
            facade.clone(),
            "Julkisivu".to_string()
        )]
    );

    // Bad input creates nothing.
    let folders_before = t.count("folders").await;
    let ghost = "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
    let bad: [(Value, &[u16]); 6] = [
        (json!({"name": ""}), &[400, 422]),
        (json!({"name": "x".repeat(10_000)}), &[400]),
        (json!({"name": "X", "colour": "red"}), &[400]),
        (json!({"name": "X", "member_access": "everyone"}), &[422]),
        (json!({"name": "X", "parent_id": "not-an-id"}), &[400]),
        (json!({"name": "X", "parent_id": ghost}), &[404]),
    ];
    for (body, want) in bad {
        let r = owner
            .post(&format!("/api/v1/companies/{cid}/folders"), body.clone())
            .await;
        assert!(want.contains(&r.status), "{body}: {} {}", r.status, r.body);
        let code = if r.status == 404 {
            "not_found"
        } else {
            "invalid_input"
        };
        assert_eq!(r.code(), code, "{body}");
    }
    assert_eq!(t.count("folders").await, folders_before);

    // Rename and move.
    let path = |id: &str| format!("/api/v1/folders/{id}");
    let r = owner.patch(&path(&site), json!({"name": "Työmaa A"})).await;
    assert_eq!((r.status, text(&r.body["name"])), (200, "Työmaa A".into()));
    assert_eq!(
        owner.get(&path(&site)).await.body["name"],
        json!("Työmaa A")
    );
    let r = owner
        .patch(&path(&site), json!({"parent_id": archive}))
        .await;
    assert_eq!(
        (r.status, text(&r.body["parent_id"])),
        (200, archive.clone())
    );
    let r = owner.get(&format!("/api/v1/folders/{top}/children")).await;
    assert!(ids(&r).is_empty(), "{}", r.body);
    let r = owner
        .get(&format!("/api/v1/folders/{archive}/children"))
        .await;
    assert_eq!(ids(&r), vec![site.clone()]);
    assert_eq!(
        text(&owner.get(&path(&photos)).await.body["parent_id"]),
        site
    );
    // A move into its own sub-tree (or into itself) is a conflict, and
    // changes nothing.
    for (moved, into) in [(&site, &photos), (&site, &site), (&archive, &photos)] {
        let r = owner.patch(&path(moved), json!({"parent_id": into})).await;
        assert_eq!(
            (r.status, r.code()),
            (409, "conflict"),
            "{moved} into {into}"
        );
    }
    assert_eq!(
        text(&owner.get(&path(&site)).await.body["parent_id"]),
        archive
    );
    assert_eq!(
        owner.get(&path(&archive)).await.body["parent_id"],
        Value::Null
    );

    // The company default decides a new top-level folder's member access.
    let r = owner
        .patch(
            &format!("/api/v1/companies/{cid}"),
            json!({"settings": {"default_member_access": "view"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({"name": "Hallinto"}),
        )
        .await;
    assert_eq!(r.body["member_access"], json!("view"), "{}", r.body);
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({"name": "Palkat", "member_access": "none"}),
        )
        .await;
    assert_eq!(r.body["member_access"], json!("none"), "{}", r.body);

    // Delete: the folder and everything beneath go to the trash.
    assert_eq!(owner.delete(&path(&site)).await.status, 204);
    for p in [
        path(&site),
        path(&photos),
        format!("/api/v1/documents/{facade}"),
        format!("/api/v1/folders/{photos}/children"),
    ] {
        let r = owner.get(&p).await;
        assert_eq!((r.status, r.code()), (404, "not_found"), "{p}");
    }
    let r = owner
        .patch(&path(&photos), json!({"name": "Still here?"}))
        .await;
    assert_eq!(r.status, 404, "trashed objects answer 404 everywhere else");
    let r = owner
        .post(
            &format!("/api/v1/folders/{photos}/documents"),
            json!({"title": "X"}),
        )
        .await;
    assert_eq!(r.status, 404);
    assert!(ids(&owner
        .get(&format!("/api/v1/folders/{archive}/children"))
        .await)
    .is_empty());
    let trash = format!("/api/v1/companies/{cid}/trash");
    let r = owner.get(&trash).await;
    assert_eq!(r.status, 200);
    let entry = items(&r)
        .into_iter()
        .find(|i| text(&i["id"]) == site)
        .unwrap_or_default();
    assert_eq!(
        (entry["type"].clone(), entry["name"].clone()),
        (json!("folder"), json!("Työmaa A")),
        "{}",
        r.body
    );
    assert!(turva_app::clock::parse_rfc3339(&text(&entry["deleted_at"])).is_some());
    // The member may edit there but not manage it: not in their trash, and
    // they cannot restore it.
    let r = s.member.get(&trash).await;
    assert_eq!(r.status, 200);
    assert!(!ids(&r).contains(&site), "{}", r.body);
    let r = s
        .member
        .post(&format!("/api/v1/trash/{site}/restore"), json!({}))
        .await;
    assert!([403, 404].contains(&r.status), "{} {}", r.status, r.body);
    assert_eq!(owner.get(&path(&site)).await.status, 404);

    // Restore brings back the whole sub-tree.
    let r = owner
        .post(&format!("/api/v1/trash/{site}/restore"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = owner.get(&path(&site)).await;
    assert_eq!(
        (r.status, text(&r.body["parent_id"])),
        (200, archive.clone())
    );
    assert_eq!(owner.get(&path(&photos)).await.status, 200);
    let r = owner.get(&format!("/api/v1/documents/{facade}")).await;
    assert_eq!(
        (r.status, r.body["title"].clone()),
        (200, json!("Julkisivu"))
    );
    assert!(!ids(&owner.get(&trash).await).contains(&site));
    assert_eq!(
        ids(&owner
            .get(&format!("/api/v1/folders/{archive}/children"))
            .await),
        vec![site.clone()]
    );

    let actions: Vec<String> = t
        .audit_rows_where(&format!("object_id = '{site}' AND outcome = 'allowed'"))
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in [
        "folder.create",
        "folder.update",
        "folder.delete",
        "folder.view",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

both!(the_trash_is_read_a_page_at_a_time);
async fn the_trash_is_read_a_page_at_a_time(t: TestApp) {
    let s = staff(&t, "sivut").await;
    let owner = &s.owner;
    let cid = s.cid.as_str();
    let live = folder(owner, cid, json!({ "name": "Elävä" })).await;
    // Folders and documents, some deleted at the same moment: a page ends
    // between equal times too.
    let mut trashed = Vec::new();
    for i in 0..7 {
        let (id, path) = if i % 2 == 0 {
            let id = folder(owner, cid, json!({ "name": format!("Kansio {i}") })).await;
            (id.clone(), format!("/api/v1/folders/{id}"))
        } else {
            let id = doc(owner, &live, &format!("Asiakirja {i}")).await;
            (id.clone(), format!("/api/v1/documents/{id}"))
        };
        assert_eq!(owner.delete(&path).await.status, 204, "{path}");
        trashed.push(id);
        if i % 3 == 2 {
            t.clock.advance_secs(60);
        }
    }
    let trash = format!("/api/v1/companies/{cid}/trash");
    // In the answer's order.
    let in_order = |a: &turva_testkit::Answer| -> Vec<String> {
        items(a).iter().map(|i| text(&i["id"])).collect()
    };
    let whole = owner.get(&trash).await;
    assert_eq!(whole.body["next_cursor"], json!(null), "{}", whole.body);
    let all = in_order(&whole);
    let mut expected = trashed.clone();
    expected.sort();
    assert_eq!(ids(&whole), expected, "one page holds all seven");
    let times: Vec<String> = items(&whole)
        .iter()
        .map(|i| text(&i["deleted_at"]))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    assert_ne!(times.first(), times.last());

    // Two at a time: the same items in the same order, each once.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let url = match &cursor {
            Some(c) => format!("{trash}?limit=2&cursor={c}"),
            None => format!("{trash}?limit=2"),
        };
        let r = owner.get(&url).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let page = in_order(&r);
        assert!(page.len() <= 2, "{}", r.body);
        paged.extend(page);
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(paged, all);

    // A cursor that is not one of this list's: 400, not a wrong page.
    let r = owner.get(&format!("{trash}?cursor=bm9wZQ")).await;
    assert_eq!((r.status, r.code()), (400, "invalid_input"), "{}", r.body);
}

both!(templates_are_made_by_admins_and_versioned);
async fn templates_are_made_by_admins_and_versioned(t: TestApp) {
    let s = staff(&t, "pohja").await;
    let cid = s.cid.as_str();
    let list = format!("/api/v1/companies/{cid}/templates");
    let body = json!({
        "name": "Tarkastus",
        "description": "Vuositarkastus",
        "fields": [{"key": "kohde", "type": "text", "label": "Kohde", "required": true}]
    });
    // A member or a reader may not make one; an admin may.
    for c in [&s.member, &s.reader] {
        let r = c.post(&list, body.clone()).await;
        assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.body);
    }
    let r = s.admin.post(&list, body.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        (r.body["version"].clone(), r.body["name"].clone()),
        (json!(1), json!("Tarkastus"))
    );
    assert_eq!(
        keys_and_types(&r.body["fields"]),
        vec![("kohde".to_string(), "text".to_string())]
    );
    let tid = text(&r.body["id"]);
    // Broken templates are refused and make nothing.
    let bad = [
        json!({"name": "X", "fields": [
            {"key": "a", "type": "text", "label": "A"},
            {"key": "a", "type": "number", "label": "B"}]}),
        json!({"name": "X", "fields": [{"key": "c", "type": "choice", "label": "C"}]}),
        json!({"name": "X", "fields": [{"key": "Iso Avain", "type": "text", "label": "C"}]}),
        json!({"name": "X", "fields": [{"key": "t", "type": "text", "label": "T", "unit": "m"}]}),
        json!({"name": "X", "fields": [{"key": "t", "type": "colour", "label": "T"}]}),
    ];
    for b in bad {
        let r = s.admin.post(&list, b.clone()).await;
        assert!([400, 422].contains(&r.status), "{b}: {}", r.body);
        assert_eq!(r.code(), "invalid_input", "{b}");
    }
    // Every member lists them.
    for c in [&s.owner, &s.admin, &s.member, &s.reader] {
        let r = c.get(&list).await;
        assert_eq!((r.status, ids(&r)), (200, vec![tid.clone()]), "{}", r.body);
    }

    let open = folder(&s.owner, cid, json!({"name": "Kohteet"})).await;
    let before = document(
        &s.member,
        &open,
        json!({"title": "Ennen", "template_id": tid, "fields": {"kohde": "Koulu"}}),
    )
    .await;
    assert_eq!(before["template_version"], json!(1));
    let did = text(&before["id"]);

    let tpath = format!("/api/v1/templates/{tid}");
    let v2_fields = json!([
        {"key": "kohde", "type": "text", "label": "Kohde", "required": true},
        {"key": "lisatieto", "type": "long_text", "label": "Lisätieto"}
    ]);
    let r = s.member.patch(&tpath, json!({"fields": v2_fields})).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let r = s.admin.patch(&tpath, json!({"fields": v2_fields})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["version"], json!(2));
    assert_eq!(keys_and_types(&r.body["fields"]).len(), 2);
    let r = s.admin.patch(&tpath, json!({"name": "Tarkastus 2"})).await;
    assert_eq!(
        (r.status, r.body["version"].clone()),
        (200, json!(3)),
        "{}",
        r.body
    );
    let listed = items(&s.member.get(&list).await);
    assert_eq!(listed.first().map(|x| x["version"].clone()), Some(json!(3)));

    // The document made before keeps the version it was made from.
    let r = s.member.get(&format!("/api/v1/documents/{did}")).await;
    assert_eq!(
        (r.body["template_version"].clone(), r.body["fields"].clone()),
        (json!(1), json!({"kohde": "Koulu"}))
    );
    let r = s
        .member
        .patch(
            &format!("/api/v1/documents/{did}"),
            json!({"version": r.body["version"], "fields": {"kohde": "Päiväkoti"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["template_version"], json!(1));
    let after = document(
        &s.member,
        &open,
        json!({"title": "Jälkeen", "template_id": tid, "fields": {"lisatieto": "Uusi kenttä"}}),
    )
    .await;
    assert_eq!(after["template_version"], json!(3));
}

both!(documents_take_every_field_type_and_keep_their_versions);
async fn documents_take_every_field_type_and_keep_their_versions(t: TestApp) {
    let s = staff(&t, "kentat").await;
    let cid = s.cid.as_str();
    let tpl = template(
        &s.admin,
        cid,
        json!({"name": "Kaikki", "fields": every_field()}),
    )
    .await;
    assert_eq!(
        keys_and_types(&tpl["fields"]),
        keys_and_types(&every_field())
    );
    let tid = text(&tpl["id"]);
    let open = folder(&s.owner, cid, json!({"name": "Kohteet"})).await;
    let r = s
        .member
        .post(
            &format!("/api/v1/folders/{open}/documents"),
            json!({"title": "Tarkastus", "template_id": tid, "fields": {"kohde": "Koulu"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let did = text(&r.body["id"]);
    assert_eq!(
        (
            text(&r.body["company_id"]),
            text(&r.body["folder_id"]),
            text(&r.body["template_id"]),
            r.body["template_version"].clone(),
            r.body["version"].clone(),
            r.body["status"].clone(),
            r.body["fields"].clone(),
            r.body["files"].clone(),
            text(&r.body["updated_by"]),
        ),
        (
            cid.to_string(),
            open.clone(),
            tid.clone(),
            json!(1),
            json!(1),
            json!("draft"),
            json!({"kohde": "Koulu"}),
            json!([]),
            s.member_id.clone(),
        )
    );
    assert!(turva_app::clock::parse_rfc3339(&text(&r.body["updated_at"])).is_some());
    // A document is not created with bad values either.
    let docs_before = t.count("documents").await;
    let r = s
        .member
        .post(
            &format!("/api/v1/folders/{open}/documents"),
            json!({"title": "X", "template_id": tid, "fields": {"pvm": "eilen"}}),
        )
        .await;
    assert_eq!(
        (r.status, r.code(), text(&r.body["field"])),
        (422, "invalid_input", "fields.pvm".into())
    );
    assert_eq!(t.count("documents").await, docs_before);

    // An attachment, and one on another document.
    let up = upload(&s.member, &did, "poytakirja.txt", "text/plain", ATTACHMENT).await;
    assert_eq!(up.status, 201, "{}", up.body);
    let file_id = text(&up.body["id"]);
    let other = doc(&s.member, &open, "Toinen").await;
    let up = upload(&s.member, &other, "muu.txt", "text/plain", b"muu").await;
    assert_eq!(up.status, 201, "{}", up.body);
    let foreign_file = text(&up.body["id"]);

    let dpath = format!("/api/v1/documents/{did}");
    let current = |b: &Value| b["version"].as_i64().unwrap_or(-1);
    let r = s.member.get(&dpath).await;
    let v = current(&r.body);

    // Valid values of every type.
    let signature =
        json!({"signer": "Aino Virtanen", "image": "data:image/png;base64,iVBORw0KGgo="});
    let values = json!({
        "kuvaus": "Rivi 1\nRivi 2\tsisennetty",
        "pinta_ala": 1234.5,
        "pvm": "2024-02-29",
        "valmis": true,
        "laji": "korjaus",
        "tarkastukset": ["vesi", "sähkö"],
        "liitteet": [file_id],
        "allekirjoitus": signature
    });
    let r = s
        .member
        .patch(&dpath, json!({"version": v, "fields": values}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(current(&r.body), v + 1);
    let mut expected: Map<String, Value> = values.as_object().cloned().unwrap_or_default();
    expected.insert("kohde".into(), json!("Koulu"));
    assert_eq!(r.body["fields"], Value::Object(expected.clone()));
    let good = s.member.get(&dpath).await.body;
    assert_eq!(good["fields"], Value::Object(expected.clone()));
    let v = current(&good);

    // Each bad value is refused naming its field, and changes nothing.
    let cases: Vec<(&str, Value)> = vec![
        ("kohde", json!(5)),
        ("kohde", json!("x".repeat(1001))),
        ("kuvaus", json!(false)),
        ("pinta_ala", json!("12")),
        ("pvm", json!("2023-02-29")),
        ("pvm", json!("31.12.2024")),
        ("valmis", json!("true")),
        ("laji", json!("purku")),
        ("tarkastukset", json!("vesi")),
        ("tarkastukset", json!(["vesi", "vesi"])),
        ("tarkastukset", json!(["kaasu"])),
        ("liitteet", json!([foreign_file])),
        ("liitteet", json!(["6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"])),
        ("liitteet", json!(file_id)),
        (
            "allekirjoitus",
            json!({"signer": "Aino", "image": "javascript:alert(1)"}),
        ),
        (
            "allekirjoitus",
            json!({"signer": " ", "image": "data:image/png;base64,iVBORw0KGgo="}),
        ),
        ("allekirjoitus", json!("Aino Virtanen")),
        ("tuntematon", json!("x")),
    ];
    for (key, bad) in cases {
        let mut fields = Map::new();
        fields.insert(key.to_string(), bad.clone());
        let r = s
            .member
            .patch(&dpath, json!({"version": v, "fields": fields}))
            .await;
        assert_eq!(
            (r.status, r.code(), text(&r.body["field"])),
            (422, "invalid_input", format!("fields.{key}")),
            "{key} = {bad}: {}",
            r.body
        );
        assert_eq!(s.member.get(&dpath).await.body, good, "{key} = {bad}");
    }
    // One bad value spoils the whole change.
    let r = s
        .member
        .patch(
            &dpath,
            json!({"version": v, "title": "Uusi", "fields": {"kohde": "Uusi", "pinta_ala": "x"}}),
        )
        .await;
    assert_eq!(
        (r.status, text(&r.body["field"])),
        (422, "fields.pinta_ala".into())
    );
    assert_eq!(s.member.get(&dpath).await.body, good);

    // null clears a value.
    let r = s
        .member
        .patch(&dpath, json!({"version": v, "fields": {"kuvaus": null}}))
        .await;
    assert_eq!((r.status, current(&r.body)), (200, v + 1), "{}", r.body);
    assert!(r.body["fields"].get("kuvaus").is_none_or(Value::is_null));
    assert_eq!(r.body["fields"]["pinta_ala"], json!(1234.5));
    let v = v + 1;

    // A stale version is a conflict.
    let r = s
        .member
        .patch(&dpath, json!({"version": v - 1, "title": "Myöhässä"}))
        .await;
    assert_eq!((r.status, r.code()), (409, "conflict"));
    let r = s.member.get(&dpath).await;
    assert_eq!(
        (current(&r.body), r.body["title"].clone()),
        (v, json!("Tarkastus"))
    );

    // History, newest first.
    let r = s.reader.get(&format!("{dpath}/versions")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let history = items(&r);
    let numbers: Vec<i64> = history
        .iter()
        .map(|h| h["version"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(numbers, (1..=v).rev().collect::<Vec<_>>());
    for h in &history {
        assert_eq!(text(&h["author_id"]), s.member_id);
        assert!(turva_app::clock::parse_rfc3339(&text(&h["created_at"])).is_some());
        assert!(!h["changes"].is_null(), "{h}");
    }
    assert!(history
        .iter()
        .any(|h| h["changes"].to_string().contains("pinta_ala")));
    let r = s.reader.get(&format!("{dpath}/versions/1")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (
            r.body["title"].clone(),
            r.body["fields"].clone(),
            r.body["status"].clone()
        ),
        (
            json!("Tarkastus"),
            json!({"kohde": "Koulu"}),
            json!("draft")
        )
    );
    assert_eq!(
        s.reader
            .get(&format!("{dpath}/versions/{}", v + 1))
            .await
            .status,
        404
    );
    // Restoring needs edit: a reader may not.
    let r = s
        .reader
        .post(&format!("{dpath}/versions/1/restore"), json!({}))
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    assert_eq!(current(&s.member.get(&dpath).await.body), v);
    let r = s
        .member
        .post(&format!("{dpath}/versions/1/restore"), json!({}))
        .await;
    assert!([200, 201].contains(&r.status), "{}", r.body);
    let r = s.member.get(&dpath).await;
    assert_eq!(
        (
            current(&r.body),
            r.body["title"].clone(),
            r.body["fields"].clone()
        ),
        (v + 1, json!("Tarkastus"), json!({"kohde": "Koulu"}))
    );
    let v = v + 1;
    let r = s.member.get(&format!("{dpath}/versions")).await;
    assert_eq!(
        items(&r).first().map(|h| h["version"].clone()),
        Some(json!(v))
    );
    assert_eq!(items(&r).len() as i64, v, "the restored-over versions stay");

    // Completion needs every required field.
    let r = s
        .member
        .patch(&dpath, json!({"version": v, "fields": {"kohde": null}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = v + 1;
    let r = s
        .member
        .patch(&dpath, json!({"version": v, "status": "completed"}))
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid_input"), "{}", r.body);
    let r = s.member.get(&dpath).await;
    assert_eq!(
        (current(&r.body), r.body["status"].clone()),
        (v, json!("draft"))
    );
    let r = s
        .member
        .patch(
            &dpath,
            json!({"version": v, "fields": {"kohde": "Koulu"}, "status": "completed"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["status"].clone()),
        (200, json!("completed")),
        "{}",
        r.body
    );
    let r = s
        .member
        .patch(&dpath, json!({"version": v + 1, "status": "archived"}))
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid_input"));
}

both!(attachments_are_uploaded_downloaded_and_encrypted_at_rest);
async fn attachments_are_uploaded_downloaded_and_encrypted_at_rest(t: TestApp) {
    let s = staff(&t, "liite").await;
    let cid = s.cid.as_str();
    let open = folder(&s.owner, cid, json!({"name": "Kohteet"})).await;
    let secret = folder(
        &s.owner,
        cid,
        json!({"name": "Salainen", "member_access": "none"}),
    )
    .await;
    let did = doc(&s.member, &open, "Pöytäkirja").await;
    let hidden = doc(&s.owner, &secret, "Palkat").await;

    // A reader may not upload; a member with edit may.
    let r = upload(&s.reader, &did, "x.txt", "text/plain", b"x").await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let r = upload(&s.member, &hidden, "x.txt", "text/plain", b"x").await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    assert_eq!(t.count("files").await, 0);
    let r = upload(&s.member, &did, "pöytäkirja.txt", "text/plain", ATTACHMENT).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let fid = text(&r.body["id"]);
    assert_eq!(
        (
            r.body["name"].clone(),
            r.body["size"].clone(),
            r.body["sha256"].clone()
        ),
        (
            json!("pöytäkirja.txt"),
            json!(ATTACHMENT.len()),
            json!(ATTACHMENT_SHA256)
        )
    );
    assert!(text(&r.body["content_type"]).starts_with("text/plain"));
    let meta = r.body.clone();
    // The document lists its attachments in the same shape.
    let listed = |doc: &Value| -> Vec<Value> {
        doc["files"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|f| {
                json!([
                    f["id"],
                    f["name"],
                    f["size"],
                    f["sha256"],
                    f["content_type"]
                ])
            })
            .collect()
    };
    let expected = vec![json!([
        meta["id"],
        meta["name"],
        meta["size"],
        meta["sha256"],
        meta["content_type"]
    ])];
    let r = s.member.get(&format!("/api/v1/documents/{did}")).await;
    assert_eq!(listed(&r.body), expected);
    let v = r.body["version"].as_i64().unwrap_or(-1);

    // Whoever may view the document downloads it, as an attachment.
    for c in [&s.member, &s.reader, &s.admin] {
        let (status, disposition, bytes) = download(c, &fid).await;
        assert_eq!(status, 200);
        assert!(disposition.starts_with("attachment"), "{disposition}");
        assert_eq!(bytes, ATTACHMENT);
    }
    let up = upload(&s.owner, &hidden, "palkat.txt", "text/plain", b"salaista").await;
    assert_eq!(up.status, 201);
    let (status, _, bytes) = download(&s.member, &text(&up.body["id"])).await;
    assert_eq!(status, 404);
    assert!(!bytes.windows(8).any(|w| w == b"salaista"));

    // At rest the bytes are encrypted.
    fn walk(dir: &std::path::Path, out: &mut Vec<Vec<u8>>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push(b);
            }
        }
    }
    let mut blobs = Vec::new();
    walk(&t.data_dir().join("files"), &mut blobs);
    assert!(blobs.len() >= 2, "the blobs are under <data>/files");
    let needle = "tarkastuspöytäkirja".as_bytes();
    assert!(blobs
        .iter()
        .all(|b| !b.windows(needle.len()).any(|w| w == needle)));

    // A delete makes a new version; the old version still has the file.
    let r = s.reader.delete(&format!("/api/v1/files/{fid}")).await;
    assert_eq!(r.status, 403);
    let r = s.member.delete(&format!("/api/v1/files/{fid}")).await;
    assert!([200, 204].contains(&r.status), "{}", r.body);
    let r = s.member.get(&format!("/api/v1/documents/{did}")).await;
    assert_eq!(
        (r.body["version"].as_i64(), r.body["files"].clone()),
        (Some(v + 1), json!([]))
    );
    let r = s
        .member
        .post(
            &format!("/api/v1/documents/{did}/versions/{v}/restore"),
            json!({}),
        )
        .await;
    assert!([200, 201].contains(&r.status), "{}", r.body);
    let r = s.member.get(&format!("/api/v1/documents/{did}")).await;
    assert_eq!(listed(&r.body), expected);
    let (status, _, bytes) = download(&s.reader, &fid).await;
    assert_eq!((status, bytes.as_slice()), (200, ATTACHMENT));

    let actions: Vec<String> = t
        .audit_rows_where(&format!(
            "object_id IN ('{fid}', '{did}') AND outcome = 'allowed'"
        ))
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.iter().any(|a| a == "file.upload"), "{actions:?}");
    assert!(actions.iter().any(|a| a == "file.download"), "{actions:?}");
}

both!(search_pages_through_many_matches_once_each);
/// More matches than the first ranked tier (256): paging with the cursor
/// yields each visible match exactly once, better matches first within a
/// tier, and another company's newer matches never crowd out a small
/// company's older one.
async fn search_pages_through_many_matches_once_each(t: TestApp) {
    let (small_cid, small_owner) = t.company_with_owner("Pieni Oy", "pieni@example.test").await;
    let small_folder = folder(&small_owner, &small_cid, json!({"name": "Arkisto"})).await;
    let old = doc(&small_owner, &small_folder, "Laattatyö pohjakerros").await;

    let s = staff(&t, "sivut").await;
    let top = folder(&s.owner, &s.cid, json!({"name": "Laatat"})).await;
    let hidden = folder(
        &s.owner,
        &s.cid,
        json!({"name": "Rajattu", "member_access": "none"}),
    )
    .await;
    let mut visible = std::collections::HashSet::new();
    for i in 0..300 {
        // Every third title says the word twice (ranked higher); every
        // tenth document is in a folder the member may not see.
        let title = if i % 3 == 0 {
            format!("Laattatyö {i} laattatyö")
        } else {
            format!("Laattatyö {i}")
        };
        let fid = if i % 10 == 0 { &hidden } else { &top };
        let id = doc(&s.owner, fid, &title).await;
        if i % 10 != 0 {
            visible.insert(id);
        }
    }
    assert_eq!(ids(&search(&small_owner, "laattatyö").await), vec![old]);

    let mut seen = Vec::new();
    let mut titles = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let mut q = vec![("q", "laattatyö".to_string()), ("limit", "40".to_string())];
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let r = s
            .member
            .send(s.member.raw().get(s.member.url("/api/v1/search")).query(&q))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        seen.extend(ids(&r));
        titles.extend(items(&r).iter().map(|h| text(&h["title"])));
        cursor = r.body["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    let unique: std::collections::HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no result twice");
    assert_eq!(unique, visible, "every visible match, nothing hidden");
    // Within the first tier (the newest 256 matches), better matches come
    // first: the titles with the word twice lead the first page.
    let first: Vec<&String> = titles.iter().take(20).collect();
    assert!(
        first.iter().all(|t| t.matches("aattatyö").count() == 2),
        "{first:?}"
    );
}

both!(search_finds_only_what_the_caller_may_view);
async fn search_finds_only_what_the_caller_may_view(t: TestApp) {
    let s = staff(&t, "haku").await;
    let cid = s.cid.as_str();
    let tpl = template(
        &s.admin,
        cid,
        json!({"name": "Huolto", "fields": [
            {"key": "osoite", "type": "text", "label": "Osoite"},
            {"key": "kuvaus", "type": "long_text", "label": "Kuvaus"}
        ]}),
    )
    .await;
    let tid = text(&tpl["id"]);
    let open = folder(&s.owner, cid, json!({"name": "Yleinen"})).await;
    let secret = folder(
        &s.owner,
        cid,
        json!({"name": "Rajattu", "member_access": "none"}),
    )
    .await;
    let roof = doc(&s.owner, &open, "Kattoremontti Keskuskoulu").await;
    let manual = text(
        &document(
            &s.owner,
            &open,
            json!({"title": "Huoltokirja", "template_id": tid,
                   "fields": {"osoite": "Pihlajakatu 7"}}),
        )
        .await["id"],
    );
    let quartz = doc(&s.owner, &secret, "Kvartsiittilaatoitus").await;
    let diary = doc(&s.owner, &open, "Työmaan päiväkirja").await;
    let brick = text(
        &document(
            &s.owner,
            &open,
            json!({"title": "Muuraus", "template_id": tid,
                   "fields": {"kuvaus": "<script>alert(1)</script> tiilimuuraus & laasti"}}),
        )
        .await["id"],
    );

    let found = |a: &Answer| ids(a);
    // Title and field values are searched; results carry their place.
    let r = search(&s.member, "kattoremontti").await;
    assert_eq!(found(&r), vec![roof.clone()]);
    let hit = items(&r).first().cloned().unwrap_or_default();
    assert_eq!(
        (
            hit["type"].clone(),
            hit["title"].clone(),
            text(&hit["folder_id"]),
            text(&hit["company_id"])
        ),
        (
            json!("document"),
            json!("Kattoremontti Keskuskoulu"),
            open.clone(),
            cid.to_string()
        )
    );
    let snippet = text(&hit["snippet"]);
    assert!(
        snippet.contains("<mark>") && snippet.contains("</mark>"),
        "{snippet}"
    );
    let r = search(&s.member, "pihlajakatu").await;
    assert_eq!(found(&r), vec![manual.clone()]);
    assert_eq!(found(&search(&s.member, "työmaa").await), vec![diary]);
    // Snippets are escaped text with only <mark> as markup.
    let r = search(&s.member, "tiilimuuraus").await;
    assert_eq!(found(&r), vec![brick]);
    let snippet = text(&items(&r).first().cloned().unwrap_or_default()["snippet"]);
    assert!(
        !snippet.contains("<script") && snippet.contains("<mark>"),
        "{snippet}"
    );
    let stripped = snippet.replace("<mark>", "").replace("</mark>", "");
    assert!(!stripped.contains('<'), "{snippet}");

    // The restricted folder: its grantees and the admins find it, the
    // members and readers do not.
    for (who, c, want) in [
        ("owner", &s.owner, vec![quartz.clone()]),
        ("admin", &s.admin, vec![quartz.clone()]),
        ("member", &s.member, vec![]),
        ("reader", &s.reader, vec![]),
    ] {
        assert_eq!(
            found(&search(c, "kvartsiittilaatoitus").await),
            want,
            "{who}"
        );
    }
    assert_eq!(
        found(&search(&s.reader, "kattoremontti").await),
        vec![roof.clone()]
    );

    // A guest finds what is shared with them and nothing else.
    let (_, guest) = share_to_guest(
        &t,
        &s.owner,
        "documents",
        &roof,
        "haku.guest@example.test",
        json!({"right": "view"}),
    )
    .await;
    assert_eq!(
        found(&search(&guest, "kattoremontti").await),
        vec![roof.clone()]
    );
    for q in [
        "pihlajakatu",
        "kvartsiittilaatoitus",
        "tiilimuuraus",
        "huoltokirja",
    ] {
        assert!(found(&search(&guest, q).await).is_empty(), "{q}");
    }

    // Changes reach the index at once; the trash hides from search.
    let r = s.member.get(&format!("/api/v1/documents/{manual}")).await;
    let r = s
        .member
        .patch(
            &format!("/api/v1/documents/{manual}"),
            json!({"version": r.body["version"], "fields": {"osoite": "Vaahterakuja 3"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(found(&search(&s.member, "pihlajakatu").await).is_empty());
    assert_eq!(
        found(&search(&s.member, "vaahterakuja").await),
        vec![manual.clone()]
    );
    assert_eq!(
        s.owner
            .delete(&format!("/api/v1/documents/{roof}"))
            .await
            .status,
        204
    );
    assert!(found(&search(&s.member, "kattoremontti").await).is_empty());
    assert!(found(&search(&s.owner, "kattoremontti").await).is_empty());
    let r = s
        .owner
        .post(&format!("/api/v1/trash/{roof}/restore"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(found(&search(&s.member, "kattoremontti").await), vec![roof]);

    // Query syntax is data: odd input answers 200, never a server error.
    let odd = [
        "\"",
        "*",
        "OR",
        "NEAR(",
        "NEAR(kattoremontti huoltokirja, 2)",
        "'; DROP TABLE documents; --",
        "kattoremontti OR 1=1",
        "title:kvartsiittilaatoitus",
        "\"kvartsiittilaatoitus\"",
        "kvartsiitti*",
        "(",
        ")",
        "-",
        "^",
        "!",
        "&",
        "|",
        ":*",
        "\\",
        "työmaa",
        "ÅÄÖ åäö",
        "😀",
        "x",
    ];
    for q in odd {
        for c in [&s.member, &guest] {
            let r = search(c, q).await;
            assert!(
                !ids(&r).contains(&quartz),
                "{q:?} must not reach the restricted document"
            );
        }
    }
    let r = search(&s.member, &"kattoremontti ".repeat(30)).await;
    assert_eq!(r.status, 200);
}

both!(views_and_changes_of_documents_are_audited_with_their_version);
async fn views_and_changes_of_documents_are_audited_with_their_version(t: TestApp) {
    let s = staff(&t, "loki").await;
    let cid = s.cid.as_str();
    let open = folder(&s.owner, cid, json!({"name": "Yleinen"})).await;
    let secret = folder(
        &s.owner,
        cid,
        json!({"name": "Rajattu", "member_access": "none"}),
    )
    .await;
    let did = doc(&s.owner, &open, "Pöytäkirja").await;
    let hidden = doc(&s.owner, &secret, "Palkat").await;
    let path = format!("/api/v1/documents/{did}");
    assert_eq!(s.member.get(&path).await.status, 200);
    let r = s
        .member
        .patch(&path, json!({"version": 1, "title": "Pöytäkirja 2"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .reader
        .patch(&path, json!({"version": 2, "title": "Lukija"}))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        s.member
            .get(&format!("/api/v1/documents/{hidden}"))
            .await
            .status,
        404
    );
    let member_id = s.member_id.as_str();
    let reader_id = user_id(&s.reader).await;

    let events = turva_app::audit::events(&t.app, 0, 100_000)
        .await
        .unwrap_or_default();
    let of = |action: &str, object: &str| {
        events
            .iter()
            .filter(|e| e.row.action == action && e.row.object_id.as_deref() == Some(object))
            .map(|e| {
                (
                    e.row.outcome.clone(),
                    e.row.actor_id.clone().unwrap_or_default(),
                    e.row.object_version,
                    e.row.company_id.clone().unwrap_or_default(),
                    e.row.object_type.clone().unwrap_or_default(),
                )
            })
            .collect::<Vec<_>>()
    };
    let row = |outcome: &str, actor: &str, version: Option<i64>| {
        (
            outcome.to_string(),
            actor.to_string(),
            version,
            cid.to_string(),
            "document".to_string(),
        )
    };
    assert_eq!(
        of("document.create", &did),
        vec![row("allowed", &s.owner_id, Some(1))]
    );
    assert!(
        of("document.view", &did).contains(&row("allowed", member_id, Some(1))),
        "{:?}",
        of("document.view", &did)
    );
    let updates = of("document.update", &did);
    assert_eq!(updates.len(), 2, "{updates:?}");
    assert_eq!(updates[0], row("allowed", member_id, Some(2)));
    assert_eq!(
        (updates[1].0.as_str(), updates[1].1.as_str()),
        ("denied", reader_id.as_str())
    );
    let probes = of("document.view", &hidden);
    assert!(
        probes
            .iter()
            .any(|p| p.0 == "denied" && p.1 == member_id && p.3 == cid),
        "{probes:?}"
    );
    // The same, as the raw table shows it.
    let rows = t
        .audit_rows_where(&format!(
            "action = 'document.update' AND object_id = '{did}' AND outcome = 'allowed'"
        ))
        .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].actor_id.as_deref(), Some(member_id));
}

both!(a_folder_lists_in_the_order_asked_for_page_by_page);
async fn a_folder_lists_in_the_order_asked_for_page_by_page(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Järjestys Oy", "order.owner@example.test")
        .await;
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({"name": "Kaikki"}),
        )
        .await;
    let top = text(&r.body["id"]);
    // Made a second apart, in this order: folders b, a, c; documents Y, X, Z.
    for name in ["b", "a", "c"] {
        t.clock.advance_secs(1);
        let r = owner
            .post(
                &format!("/api/v1/companies/{cid}/folders"),
                json!({"name": name, "parent_id": top}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    for title in ["Y", "X", "Z"] {
        t.clock.advance_secs(1);
        let r = owner
            .post(
                &format!("/api/v1/folders/{top}/documents"),
                json!({"title": title}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    // Every page of two, in the order `sort` asks for.
    let walk = |sort: &'static str| {
        let owner = &owner;
        let top = &top;
        async move {
            let mut names = Vec::new();
            let mut cursor: Option<String> = None;
            for _ in 0..10 {
                let mut q = vec![("limit", "2".to_string()), ("sort", sort.to_string())];
                if let Some(c) = &cursor {
                    q.push(("cursor", c.clone()));
                }
                let url = owner.url(&format!("/api/v1/folders/{top}/children"));
                let r = owner.send(owner.raw().get(url).query(&q)).await;
                assert_eq!(r.status, 200, "{sort}: {}", r.body);
                for item in items(&r) {
                    let name = item["name"].as_str().or(item["title"].as_str());
                    names.push(name.unwrap_or_default().to_string());
                }
                cursor = r.body["next_cursor"].as_str().map(str::to_string);
                if cursor.is_none() {
                    break;
                }
            }
            (names.join(" "), cursor)
        }
    };
    assert_eq!(walk("name").await.0, "a b c X Y Z");
    assert_eq!(walk("-name").await.0, "c b a Z Y X");
    assert_eq!(walk("updated").await.0, "b a c Y X Z");
    assert_eq!(walk("-updated").await.0, "c a b Z X Y");

    // A change moves it in the order of changes.
    let r = owner
        .get(&format!("/api/v1/folders/{top}/children?sort=name"))
        .await;
    let a = items(&r)
        .iter()
        .find(|i| i["name"] == json!("a"))
        .map(|i| text(&i["id"]))
        .unwrap_or_default();
    t.clock.advance_secs(1);
    let r = owner
        .patch(&format!("/api/v1/folders/{a}"), json!({"name": "a2"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(walk("-updated").await.0, "a2 c b Z X Y");

    // The top level too.
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({"name": "Arkisto"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = owner
        .get(&format!("/api/v1/companies/{cid}/folders?sort=-name"))
        .await;
    let names: Vec<String> = items(&r).iter().map(|i| text(&i["name"])).collect();
    assert_eq!(names, ["Kaikki", "Arkisto"]);
    let r = owner
        .get(&format!(
            "/api/v1/companies/{cid}/folders?sort=-updated&limit=1"
        ))
        .await;
    assert_eq!(items(&r)[0]["name"], json!("Arkisto"), "{}", r.body);

    // Bad input: an unknown order, or one order's cursor under another.
    let r = owner
        .get(&format!("/api/v1/folders/{top}/children?sort=size"))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["field"], json!("sort"), "{}", r.body);
    let r = owner
        .get(&format!("/api/v1/folders/{top}/children?sort=name&limit=2"))
        .await;
    let by_name = text(&r.body["next_cursor"]);
    let r = owner
        .get(&format!(
            "/api/v1/folders/{top}/children?sort=-updated&cursor={by_name}"
        ))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = owner
        .get(&format!(
            "/api/v1/companies/{cid}/folders?sort=-updated&cursor={by_name}"
        ))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
}
