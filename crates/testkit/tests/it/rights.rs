//! The rights model through the real server (API.md "Rights model"): roles
//! and member access, grants to members, creators, guests and their
//! re-shares, expiry and revocation, and the closed company. An object the
//! caller may not view answers 404, one they see but may not change 403,
//! and a refused request changes nothing.

use serde_json::{json, Value};
use turva_app::Clock;
use turva_testkit::{Client, TestApp, PASSWORD};

use crate::both;
use crate::content::{
    doc, document, folder, ids, items, mails_to, new_token, search, share_to_guest, sorted, staff,
    template, text, upload, user_id,
};

/// Expected statuses of view (GET), edit (PATCH) and manage (GET shares,
/// and DELETE when refused).
type Want = [u16; 3];
const FULL: Want = [200, 200, 200];
const EDIT: Want = [200, 200, 403];
const VIEW: Want = [200, 403, 403];
const HIDDEN: Want = [404, 404, 404];

fn code_of(status: u16) -> &'static str {
    match status {
        403 => "forbidden",
        404 => "not_found",
        _ => "",
    }
}

both!(roles_member_access_and_grants_decide_every_action);
async fn roles_member_access_and_grants_decide_every_action(t: TestApp) {
    let s = staff(&t, "oikeus").await;
    let cid = s.cid.as_str();
    let o = &s.owner;
    let new = |name: &str, parent: Option<&str>, access: Option<&str>| {
        let mut b = json!({ "name": name });
        if let Some(p) = parent {
            b["parent_id"] = json!(p);
        }
        if let Some(a) = access {
            b["member_access"] = json!(a);
        }
        b
    };
    let open = folder(o, cid, new("Avoin", None, Some("edit"))).await;
    let open_sub = folder(o, cid, new("Alikansio", Some(&open), None)).await;
    let open_doc = doc(o, &open_sub, "Avoin asiakirja").await;
    let closed = folder(o, cid, new("Suljettu", Some(&open), Some("none"))).await;
    let viewonly = folder(o, cid, new("Luku", None, Some("view"))).await;
    let view_doc = doc(o, &viewonly, "Luettava").await;
    let editable = folder(o, cid, new("Muokattava", Some(&viewonly), Some("edit"))).await;
    let secret = folder(o, cid, new("Rajattu", None, Some("none"))).await;
    let secret_doc = doc(o, &secret, "Salainen").await;
    let granted = folder(o, cid, new("Jaettu", Some(&secret), None)).await;
    let granted_doc = doc(o, &granted, "Jaettu asiakirja").await;

    // Grants to members begin at once, with no invitation to accept.
    let member_email = "oikeus.member@example.test";
    let reader_email = "oikeus.reader@example.test";
    for (email, right) in [(member_email, "view"), (reader_email, "edit")] {
        let r = o
            .post(
                &format!("/api/v1/folders/{granted}/shares"),
                json!({"email": email, "right": right}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(
            (
                r.body["status"].clone(),
                r.body["right"].clone(),
                r.body["object_type"].clone(),
                text(&r.body["object_id"])
            ),
            (
                json!("active"),
                json!(right),
                json!("folder"),
                granted.clone()
            )
        );
    }

    let objects: Vec<(&str, &str, &str)> = vec![
        ("open", "folders", &open),
        ("open/sub", "folders", &open_sub),
        ("open/sub/doc", "documents", &open_doc),
        ("open/closed", "folders", &closed),
        ("viewonly", "folders", &viewonly),
        ("viewonly/doc", "documents", &view_doc),
        ("viewonly/editable", "folders", &editable),
        ("secret", "folders", &secret),
        ("secret/doc", "documents", &secret_doc),
        ("secret/granted", "folders", &granted),
        ("secret/granted/doc", "documents", &granted_doc),
    ];
    // [owner, admin, member, reader] for each object; each allow beside
    // its deny twin. The member holds a view grant and the reader an edit
    // grant (capped at view by the role) on secret/granted.
    let table: Vec<(&str, [Want; 4])> = vec![
        ("open", [FULL, FULL, EDIT, VIEW]),
        ("open/sub", [FULL, FULL, EDIT, VIEW]),
        ("open/sub/doc", [FULL, FULL, EDIT, VIEW]),
        ("open/closed", [FULL, FULL, HIDDEN, HIDDEN]),
        ("viewonly", [FULL, FULL, VIEW, VIEW]),
        ("viewonly/doc", [FULL, FULL, VIEW, VIEW]),
        ("viewonly/editable", [FULL, FULL, EDIT, VIEW]),
        ("secret", [FULL, FULL, HIDDEN, HIDDEN]),
        ("secret/doc", [FULL, FULL, HIDDEN, HIDDEN]),
        ("secret/granted", [FULL, FULL, VIEW, VIEW]),
        ("secret/granted/doc", [FULL, FULL, VIEW, VIEW]),
    ];
    let users: [(&str, &Client); 4] = [
        ("owner", &s.owner),
        ("admin", &s.admin),
        ("member", &s.member),
        ("reader", &s.reader),
    ];
    for (label, wants) in &table {
        let (_, kind, id) = objects
            .iter()
            .find(|(l, _, _)| l == label)
            .copied()
            .unwrap_or_default();
        let path = format!("/api/v1/{kind}/{id}");
        for ((who, c), [view, edit, manage]) in users.iter().zip(wants) {
            let case = format!("{who} on {label}");
            let r = c.get(&path).await;
            assert_eq!(r.status, *view, "view: {case}: {}", r.body);
            if *view == 404 {
                assert_eq!(r.code(), "not_found", "{case}");
            } else {
                assert_eq!(text(&r.body["id"]), id, "{case}");
            }

            let before = o.get(&path).await.body;
            let name = format!("{} by {who}", label.replace('/', " > "));
            let change = if kind == "folders" {
                json!({ "name": name })
            } else {
                json!({"version": before["version"], "title": name})
            };
            let r = c.patch(&path, change).await;
            assert_eq!(r.status, *edit, "edit: {case}: {}", r.body);
            if *edit != 200 {
                assert_eq!(r.code(), code_of(*edit), "{case}");
                assert_eq!(o.get(&path).await.body, before, "a refused edit: {case}");
            }

            let r = c.get(&format!("{path}/shares")).await;
            assert_eq!(r.status, *manage, "manage (shares): {case}: {}", r.body);
            if *manage != 200 {
                assert_eq!(r.code(), code_of(*manage), "{case}");
                let r = c.delete(&path).await;
                assert_eq!(r.status, *manage, "manage (delete): {case}: {}", r.body);
                assert_eq!(o.get(&path).await.status, 200, "a refused delete: {case}");
            }
        }
    }

    // Listings show only what each may view.
    let top = format!("/api/v1/companies/{cid}/folders");
    for (who, c, want) in [
        ("admin", &s.admin, sorted(&[&open, &viewonly, &secret])),
        ("member", &s.member, sorted(&[&open, &viewonly])),
        ("reader", &s.reader, sorted(&[&open, &viewonly])),
    ] {
        let r = c.get(&top).await;
        assert_eq!((r.status, ids(&r)), (200, want), "{who}");
    }
    let children = |id: &str| format!("/api/v1/folders/{id}/children");
    assert_eq!(
        ids(&s.member.get(&children(&open)).await),
        vec![open_sub.clone()]
    );
    assert_eq!(
        ids(&s.admin.get(&children(&open)).await),
        sorted(&[&open_sub, &closed])
    );
    assert_eq!(
        ids(&s.member.get(&children(&viewonly)).await),
        sorted(&[&view_doc, &editable])
    );
    assert_eq!(
        ids(&s.member.get(&children(&granted)).await),
        vec![granted_doc.clone()]
    );
    assert_eq!(s.member.get(&children(&secret)).await.status, 404);

    // Creating inside needs edit there; at the top level, any member but a
    // reader. Refusals make nothing.
    let docs_before = t.count("documents").await;
    let folders_before = t.count("folders").await;
    for (who, c, fid, want) in [
        ("member", &s.member, &viewonly, 403),
        ("member", &s.member, &secret, 404),
        ("member", &s.member, &granted, 403),
        ("reader", &s.reader, &open, 403),
        ("reader", &s.reader, &granted, 403),
    ] {
        let r = c
            .post(
                &format!("/api/v1/folders/{fid}/documents"),
                json!({"title": "Ei"}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (want, code_of(want)),
            "{who} in {fid}"
        );
        let r = c.post(&top, json!({"name": "Ei", "parent_id": fid})).await;
        assert_eq!(r.status, want, "{who} folder in {fid}");
    }
    let r = s.reader.post(&top, json!({"name": "Lukijan"})).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    assert_eq!(t.count("documents").await, docs_before);
    assert_eq!(t.count("folders").await, folders_before);
    let _ = folder(&s.member, cid, json!({"name": "Jäsenen"})).await;
    let _ = doc(&s.member, &editable, "Muokattavassa").await;
    let _ = doc(&s.member, &open, "Avoimessa").await;

    // member_access and moves need manage.
    let r = s
        .member
        .patch(
            &format!("/api/v1/folders/{open}"),
            json!({"member_access": "none"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let r = s
        .member
        .patch(
            &format!("/api/v1/folders/{open_sub}"),
            json!({"parent_id": editable}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    assert_eq!(
        text(&o.get(&format!("/api/v1/folders/{open_sub}")).await.body["parent_id"]),
        open
    );
    let r = s
        .admin
        .patch(
            &format!("/api/v1/folders/{open_sub}"),
            json!({"parent_id": editable}),
        )
        .await;
    assert_eq!(
        (r.status, text(&r.body["parent_id"])),
        (200, editable.clone())
    );
    // Closing a folder takes effect on the very next request; a folder
    // below that sets its own access keeps it.
    let r = s
        .admin
        .patch(
            &format!("/api/v1/folders/{viewonly}"),
            json!({"member_access": "none"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["member_access"].clone()),
        (200, json!("none"))
    );
    for c in [&s.member, &s.reader] {
        assert_eq!(
            c.get(&format!("/api/v1/folders/{viewonly}")).await.status,
            404
        );
        assert_eq!(
            c.get(&format!("/api/v1/documents/{view_doc}")).await.status,
            404
        );
        assert_eq!(
            c.get(&format!("/api/v1/folders/{editable}")).await.status,
            200
        );
    }

    // Every refusal of a signed-in caller is audited.
    let member_id = s.member_id.as_str();
    let denied = t
        .audit_rows_where(&format!(
            "outcome = 'denied' AND actor_id = '{member_id}' AND object_id = '{secret}'"
        ))
        .await;
    assert!(denied.len() >= 3, "{denied:?}");
    assert!(denied.iter().all(|e| e.company_id.as_deref() == Some(cid)));
}

both!(a_creator_manages_what_they_made_and_other_members_do_not);
async fn a_creator_manages_what_they_made_and_other_members_do_not(t: TestApp) {
    let s = staff(&t, "tekija").await;
    let cid = s.cid.as_str();
    let (other, _) = t
        .member(&s.owner, cid, "tekija.other@example.test", "member")
        .await;
    let open = folder(
        &s.owner,
        cid,
        json!({"name": "Avoin", "member_access": "edit"}),
    )
    .await;
    let mine = doc(&s.member, &open, "Oma").await;
    let path = format!("/api/v1/documents/{mine}");
    // Another member edits it (the folder's edit) but may not manage it.
    let r = other.delete(&path).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let r = other
        .post(
            &format!("{path}/shares"),
            json!({"email": "tekija.outsider@example.test", "right": "view"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    assert_eq!(mails_to(&t, "tekija.outsider@example.test"), 0);
    assert_eq!(other.get(&path).await.status, 200);
    let r = other
        .patch(&path, json!({"version": 1, "title": "Muokattu"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The creator manages it: lists and makes shares, deletes, restores.
    assert_eq!(s.member.get(&format!("{path}/shares")).await.status, 200);
    let r = s
        .member
        .post(
            &format!("{path}/shares"),
            json!({"email": "tekija.outsider@example.test", "right": "view"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["status"].clone()),
        (201, json!("pending"))
    );
    assert_eq!(s.member.delete(&path).await.status, 204);
    assert_eq!(other.get(&path).await.status, 404);
    let trash = format!("/api/v1/companies/{cid}/trash");
    assert!(ids(&s.member.get(&trash).await).contains(&mine));
    assert!(!ids(&other.get(&trash).await).contains(&mine));
    let r = other
        .post(&format!("/api/v1/trash/{mine}/restore"), json!({}))
        .await;
    assert!([403, 404].contains(&r.status), "{}", r.body);
    let r = s
        .member
        .post(&format!("/api/v1/trash/{mine}/restore"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(other.get(&path).await.body["title"], json!("Muokattu"));
    // A reader who is granted more is still only a reader.
    let r = s
        .owner
        .post(
            &format!("/api/v1/folders/{open}/shares"),
            json!({"email": "tekija.reader@example.test", "right": "manage"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(s.reader.get(&path).await.status, 200);
    assert_eq!(s.reader.delete(&path).await.status, 403);
    let r = s
        .reader
        .patch(&path, json!({"version": 2, "title": "Lukija"}))
        .await;
    assert_eq!(r.status, 403);
}

both!(guests_see_exactly_what_is_shared_until_it_ends);
async fn guests_see_exactly_what_is_shared_until_it_ends(t: TestApp) {
    let (cid, o) = t
        .company_with_owner("Vieras Oy", "vieras.owner@example.test")
        .await;
    let owner_id = user_id(&o).await;
    let cid = cid.as_str();
    let project = folder(&o, cid, json!({"name": "Urakka"})).await;
    let drawings = folder(
        &o,
        cid,
        json!({"name": "Piirustukset", "parent_id": project}),
    )
    .await;
    let plan = doc(&o, &drawings, "Pohjapiirros").await;
    let contract = doc(&o, &project, "Sopimus").await;
    let other = folder(&o, cid, json!({"name": "Muu"})).await;
    let other_doc = doc(&o, &other, "Muu asiakirja").await;
    let email = "guest@outside.example.test";

    // Bad shares are refused and send nothing.
    for (body, want) in [
        (json!({"email": email, "right": "owner"}), 422),
        (json!({"email": "not-an-email", "right": "view"}), 400),
        (
            json!({"email": email, "right": "view", "expires_at": "tomorrow"}),
            400,
        ),
        (json!({"email": email, "right": "view", "admin": true}), 400),
    ] {
        let r = o
            .post(&format!("/api/v1/folders/{project}/shares"), body.clone())
            .await;
        assert_eq!((r.status, r.code()), (want, "invalid_input"), "{body}");
    }
    assert_eq!(mails_to(&t, email), 0);
    assert_eq!(t.count("shares").await, 0);

    let (share, guest) =
        share_to_guest(&t, &o, "folders", &project, email, json!({"right": "view"})).await;
    let sid = text(&share["id"]);
    assert_eq!(
        (
            share["object_type"].clone(),
            text(&share["object_id"]),
            share["email"].clone(),
            share["right"].clone(),
            share["expires_at"].clone(),
            text(&share["created_by"]),
        ),
        (
            json!("folder"),
            project.clone(),
            json!(email),
            json!("view"),
            Value::Null,
            owner_id
        )
    );
    let r = o.get(&format!("/api/v1/folders/{project}/shares")).await;
    assert_eq!((r.status, ids(&r)), (200, vec![sid.clone()]));

    // The shared folder and everything beneath it; nothing else.
    let f = |id: &str| format!("/api/v1/folders/{id}");
    let d = |id: &str| format!("/api/v1/documents/{id}");
    for (p, want) in [
        (f(&project), 200),
        (f(&drawings), 200),
        (d(&plan), 200),
        (d(&contract), 200),
        (format!("{}/children", f(&project)), 200),
        (f(&other), 404),
        (d(&other_doc), 404),
        (format!("{}/children", f(&other)), 404),
    ] {
        let r = guest.get(&p).await;
        assert_eq!(r.status, want, "guest GET {p}: {}", r.body);
    }
    let r = guest.get(&format!("/api/v1/companies/{cid}/folders")).await;
    assert_eq!((r.status, ids(&r)), (200, vec![project.clone()]));
    assert_eq!(
        ids(&guest.get(&format!("{}/children", f(&project))).await),
        sorted(&[&drawings, &contract])
    );
    let r = guest.get("/api/v1/shared-with-me").await;
    assert_eq!(r.status, 200);
    let listed = items(&r);
    assert_eq!(listed.len(), 1, "{}", r.body);
    assert_eq!(
        (
            listed[0]["object_type"].clone(),
            text(&listed[0]["object_id"]),
            listed[0]["right"].clone(),
            listed[0]["expires_at"].clone(),
            listed[0]["name"].clone()
        ),
        (
            json!("folder"),
            project.clone(),
            json!("view"),
            Value::Null,
            json!("Urakka")
        )
    );

    // A view share: no edits, no creating, no managing.
    let before = o.get(&d(&plan)).await.body;
    let r = guest
        .patch(&d(&plan), json!({"version": 1, "title": "Vieraan"}))
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let r = guest
        .post(
            &format!("{}/documents", f(&project)),
            json!({"title": "Vieraan"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    assert_eq!(guest.delete(&d(&plan)).await.status, 403);
    assert_eq!(
        guest.get(&format!("{}/shares", f(&project))).await.status,
        403
    );
    assert_eq!(o.get(&d(&plan)).await.body, before);

    // Raised to edit: at once.
    let r = o
        .patch(&format!("/api/v1/shares/{sid}"), json!({"right": "edit"}))
        .await;
    assert_eq!(
        (r.status, r.body["right"].clone()),
        (200, json!("edit")),
        "{}",
        r.body
    );
    let r = guest
        .patch(&d(&plan), json!({"version": 1, "title": "Vieraan"}))
        .await;
    assert_eq!(
        (r.status, r.body["version"].clone()),
        (200, json!(2)),
        "{}",
        r.body
    );
    let made = doc(&guest, &drawings, "Vieraan muistio").await;
    assert_eq!(guest.get(&d(&made)).await.status, 200);

    // Revoked: gone on the very next request.
    assert_eq!(o.delete(&format!("/api/v1/shares/{sid}")).await.status, 204);
    for p in [f(&project), d(&plan), d(&made)] {
        let r = guest.get(&p).await;
        assert_eq!((r.status, r.code()), (404, "not_found"), "{p}");
    }
    assert!(items(&guest.get("/api/v1/shared-with-me").await).is_empty());
    assert!(ids(&guest.get(&format!("/api/v1/companies/{cid}/folders")).await).is_empty());
    assert_eq!(
        o.get(&d(&made)).await.status,
        200,
        "what the guest made stays"
    );

    // An expiring share ends when the clock passes it.
    let until = t.clock.now_millis() + 3600 * 1000;
    let (share, guest) = share_to_guest(
        &t,
        &o,
        "folders",
        &other,
        email,
        json!({"right": "view", "expires_at": turva_app::clock::rfc3339(until)}),
    )
    .await;
    assert_eq!(
        turva_app::clock::parse_rfc3339(&text(&share["expires_at"])),
        Some(until / 1000 * 1000)
    );
    assert_eq!(guest.get(&d(&other_doc)).await.status, 200);
    let r = guest.get("/api/v1/shared-with-me").await;
    assert_eq!(
        items(&r)
            .iter()
            .map(|i| (text(&i["object_id"]), i["expires_at"].is_string()))
            .collect::<Vec<_>>(),
        vec![(other.clone(), true)]
    );
    t.clock.advance_secs(3590);
    assert_eq!(guest.get(&f(&other)).await.status, 200);
    t.clock.advance_secs(20);
    for p in [f(&other), d(&other_doc)] {
        let r = guest.get(&p).await;
        assert_eq!((r.status, r.code()), (404, "not_found"), "{p} after expiry");
    }

    // An existing account becomes a guest only by accepting.
    let (_, b_owner) = t
        .company_with_owner("Toinen Oy", "toinen.owner@example.test")
        .await;
    let seen = mails_to(&t, "toinen.owner@example.test");
    let r = o
        .post(
            &format!("/api/v1/documents/{contract}/shares"),
            json!({"email": "toinen.owner@example.test", "right": "view"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["status"].clone()),
        (201, json!("pending"))
    );
    assert_eq!(
        b_owner.get(&d(&contract)).await.status,
        404,
        "not before accepting"
    );
    let token = new_token(&t, "toinen.owner@example.test", seen).await;
    let r = t
        .client()
        .post(
            "/api/v1/auth/accept-invite",
            json!({"token": token, "password": "not the password at all"}),
        )
        .await;
    assert!(r.status >= 400, "the account's own password is needed");
    assert_eq!(b_owner.get(&d(&contract)).await.status, 404);
    let r = t
        .client()
        .post(
            "/api/v1/auth/accept-invite",
            json!({"token": token, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(b_owner.get(&d(&contract)).await.status, 200);
    assert_eq!(
        b_owner.get(&f(&project)).await.status,
        404,
        "a document share is that document"
    );
}

both!(a_guest_with_manage_reshares_within_their_own_share);
async fn a_guest_with_manage_reshares_within_their_own_share(t: TestApp) {
    let (cid, o) = t
        .company_with_owner("Jako Oy", "jako.owner@example.test")
        .await;
    let shared = folder(&o, &cid, json!({"name": "Yhteinen"})).await;
    let inside = doc(&o, &shared, "Yhteinen asiakirja").await;
    let (share, partner) = share_to_guest(
        &t,
        &o,
        "folders",
        &shared,
        "partner@outside.example.test",
        json!({"right": "manage"}),
    )
    .await;
    let sid = text(&share["id"]);
    let shares = format!("/api/v1/folders/{shared}/shares");

    // Beyond view or edit is refused, and no mail goes out.
    let r = partner
        .post(
            &shares,
            json!({"email": "friend@outside.example.test", "right": "manage"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.body);
    assert_eq!(mails_to(&t, "friend@outside.example.test"), 0);
    assert_eq!(ids(&o.get(&shares).await), vec![sid.clone()]);

    let (reshare, friend) = share_to_guest(
        &t,
        &partner,
        "folders",
        &shared,
        "friend@outside.example.test",
        json!({"right": "view"}),
    )
    .await;
    assert_eq!(reshare["right"], json!("view"));
    assert_eq!(
        friend
            .get(&format!("/api/v1/documents/{inside}"))
            .await
            .status,
        200
    );
    assert_eq!(
        sorted(&[&sid, &text(&reshare["id"])]),
        ids(&o.get(&shares).await)
    );
    // A view guest may not share onwards.
    let r = friend
        .post(
            &shares,
            json!({"email": "third@outside.example.test", "right": "view"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));

    // The re-share ends with the share it was made under.
    assert_eq!(o.delete(&format!("/api/v1/shares/{sid}")).await.status, 204);
    for c in [&partner, &friend] {
        assert_eq!(
            c.get(&format!("/api/v1/folders/{shared}")).await.status,
            404
        );
        assert_eq!(
            c.get(&format!("/api/v1/documents/{inside}")).await.status,
            404
        );
    }
    assert!(items(&friend.get("/api/v1/shared-with-me").await)
        .iter()
        .all(|i| text(&i["object_id"]) != shared));
}

both!(another_company_sees_nothing_of_a_company);
async fn another_company_sees_nothing_of_a_company(t: TestApp) {
    let a = staff(&t, "yhtioa").await;
    let b = staff(&t, "yhtiob").await;
    let cid = a.cid.as_str();
    let tpl = template(
        &a.admin,
        cid,
        json!({"name": "A:n pohja", "fields": [{"key": "kohde", "type": "text", "label": "Kohde"}]}),
    )
    .await;
    let tid = text(&tpl["id"]);
    let top = folder(&a.owner, cid, json!({"name": "A:n kansio"})).await;
    let sub = folder(
        &a.owner,
        cid,
        json!({"name": "A:n alikansio", "parent_id": top}),
    )
    .await;
    let did = text(
        &document(
            &a.owner,
            &sub,
            json!({"title": "Sinisiipi", "template_id": tid, "fields": {"kohde": "Sinisiipi"}}),
        )
        .await["id"],
    );
    let up = upload(&a.owner, &did, "a.txt", "text/plain", b"A:n liite").await;
    assert_eq!(up.status, 201, "{}", up.body);
    let file = text(&up.body["id"]);
    let r = a
        .owner
        .post(
            &format!("/api/v1/folders/{top}/shares"),
            json!({"email": "yhtioa.member@example.test", "right": "edit"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let sid = text(&r.body["id"]);
    let trashed = doc(&a.owner, &top, "Roskiin").await;
    assert_eq!(
        a.owner
            .delete(&format!("/api/v1/documents/{trashed}"))
            .await
            .status,
        204
    );
    // Made by B's member, who manages it as its creator.
    let b_folder = folder(&b.member, &b.cid, json!({"name": "B:n kansio"})).await;
    let before = (
        a.owner.get(&format!("/api/v1/documents/{did}")).await.body,
        a.owner.get(&format!("/api/v1/folders/{top}")).await.body,
        a.owner
            .get(&format!("/api/v1/folders/{top}/shares"))
            .await
            .body,
        a.owner
            .get(&format!("/api/v1/companies/{cid}/templates"))
            .await
            .body,
    );

    let e = json!({});
    let probes: Vec<(&str, String, Value)> = vec![
        ("GET", format!("/api/v1/companies/{cid}/folders"), e.clone()),
        (
            "POST",
            format!("/api/v1/companies/{cid}/folders"),
            json!({"name": "B:n"}),
        ),
        ("GET", format!("/api/v1/folders/{top}"), e.clone()),
        ("GET", format!("/api/v1/folders/{sub}/children"), e.clone()),
        (
            "PATCH",
            format!("/api/v1/folders/{top}"),
            json!({"name": "B:n nyt"}),
        ),
        ("DELETE", format!("/api/v1/folders/{sub}"), e.clone()),
        (
            "POST",
            format!("/api/v1/folders/{sub}/documents"),
            json!({"title": "B:n"}),
        ),
        ("GET", format!("/api/v1/folders/{top}/shares"), e.clone()),
        (
            "POST",
            format!("/api/v1/folders/{top}/shares"),
            json!({"email": "yhtiob.friend@example.test", "right": "manage"}),
        ),
        ("GET", format!("/api/v1/documents/{did}"), e.clone()),
        (
            "PATCH",
            format!("/api/v1/documents/{did}"),
            json!({"version": 1, "title": "B"}),
        ),
        ("DELETE", format!("/api/v1/documents/{did}"), e.clone()),
        (
            "GET",
            format!("/api/v1/documents/{did}/versions"),
            e.clone(),
        ),
        (
            "GET",
            format!("/api/v1/documents/{did}/versions/1"),
            e.clone(),
        ),
        (
            "POST",
            format!("/api/v1/documents/{did}/versions/1/restore"),
            e.clone(),
        ),
        ("GET", format!("/api/v1/files/{file}"), e.clone()),
        ("DELETE", format!("/api/v1/files/{file}"), e.clone()),
        (
            "PATCH",
            format!("/api/v1/shares/{sid}"),
            json!({"right": "view"}),
        ),
        ("DELETE", format!("/api/v1/shares/{sid}"), e.clone()),
        (
            "GET",
            format!("/api/v1/companies/{cid}/templates"),
            e.clone(),
        ),
        (
            "PATCH",
            format!("/api/v1/templates/{tid}"),
            json!({"name": "B:n pohja"}),
        ),
        ("GET", format!("/api/v1/companies/{cid}/trash"), e.clone()),
        (
            "POST",
            format!("/api/v1/trash/{trashed}/restore"),
            e.clone(),
        ),
        (
            "PATCH",
            format!("/api/v1/folders/{b_folder}"),
            json!({"parent_id": top}),
        ),
    ];
    for c in [&b.owner, &b.member] {
        for (method, path, body) in &probes {
            let r = match *method {
                "GET" => c.get(path).await,
                "POST" => c.post(path, body.clone()).await,
                "PATCH" => c.patch(path, body.clone()).await,
                _ => c.delete(path).await,
            };
            assert_eq!(
                (r.status, r.code()),
                (404, "not_found"),
                "{method} {path}: {}",
                r.body
            );
        }
    }
    // Using A's template in B's folder does not work either.
    let r = b
        .owner
        .post(
            &format!("/api/v1/folders/{b_folder}/documents"),
            json!({"title": "B", "template_id": tid}),
        )
        .await;
    assert!([404, 422].contains(&r.status), "{}", r.body);
    // The same answer as for nothing at all.
    let ghost = "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
    let real = b.member.get(&format!("/api/v1/documents/{did}")).await;
    let none = b.member.get(&format!("/api/v1/documents/{ghost}")).await;
    assert_eq!(
        (real.status, real.body["detail"].clone()),
        (none.status, none.body["detail"].clone())
    );
    // Search and the shared list show nothing of A.
    for q in ["sinisiipi", "A:n"] {
        assert!(ids(&search(&b.owner, q).await).is_empty(), "{q}");
    }
    assert!(items(&b.member.get("/api/v1/shared-with-me").await).is_empty());
    // And A is unchanged.
    let after = (
        a.owner.get(&format!("/api/v1/documents/{did}")).await.body,
        a.owner.get(&format!("/api/v1/folders/{top}")).await.body,
        a.owner
            .get(&format!("/api/v1/folders/{top}/shares"))
            .await
            .body,
        a.owner
            .get(&format!("/api/v1/companies/{cid}/templates"))
            .await
            .body,
    );
    assert_eq!(after, before);
    assert_eq!(
        text(
            &b.owner
                .get(&format!("/api/v1/folders/{b_folder}"))
                .await
                .body["parent_id"]
        ),
        ""
    );
    // The probes belong to A's audit, as denied.
    let b_member = user_id(&b.member).await;
    let denied = t
        .audit_rows_where(&format!(
            "outcome = 'denied' AND actor_id = '{b_member}' AND object_id = '{did}'"
        ))
        .await;
    assert!(!denied.is_empty());
    assert!(denied.iter().all(|e| e.company_id.as_deref() == Some(cid)));
}
