//! Companies and members: creation, the closed operating environment,
//! roles, recent auth, the last owner, invitation mail.

use serde_json::json;
use turva_testkit::{TestApp, PASSWORD};

use crate::both;

both!(operators_create_companies_but_cannot_see_inside);
async fn operators_create_companies_but_cannot_see_inside(t: TestApp) {
    let op = t.operator("op@example.test").await;
    let r = op
        .post(
            "/api/v1/companies",
            json!({"name": "Rakennus Oy", "owner_email": "owner@example.test"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let cid = r.body["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        r.body["settings"],
        json!({"require_mfa": false, "default_member_access": "edit", "strip_photo_location": true})
    );
    let r = op.get(&format!("/api/v1/companies/{cid}")).await;
    assert_eq!(
        (r.status, r.code()),
        (404, "not_found"),
        "an operator is not a member"
    );
    assert_eq!(
        op.get(&format!("/api/v1/companies/{cid}/members"))
            .await
            .status,
        404
    );
    assert!(t.token_for("owner@example.test", "accept-invite").is_some());
    let events = t.audit_rows_where("action = 'company.create'").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].company_id.as_deref(), Some(cid.as_str()));

    // A company member is no operator.
    let owner = t.client();
    owner.accept(&t, "owner@example.test").await;
    owner.login("owner@example.test", PASSWORD).await;
    let r = owner
        .post(
            "/api/v1/companies",
            json!({"name": "Mine", "owner_email": "x@example.test"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    assert_eq!(
        t.audit_rows_where("action = 'company.create' AND outcome = 'denied'")
            .await
            .len(),
        1
    );
}

both!(a_member_probing_another_company_gets_404_and_is_audited);
async fn a_member_probing_another_company_gets_404_and_is_audited(t: TestApp) {
    let (cid_a, alice) = t.company_with_owner("A", "alice@example.test").await;
    let (cid_b, _bob) = t.company_with_owner("B", "bob@example.test").await;
    let alice_id = alice.get("/api/v1/me").await.body["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let probes = [
        alice.get(&format!("/api/v1/companies/{cid_b}")).await,
        alice
            .get(&format!("/api/v1/companies/{cid_b}/members"))
            .await,
        alice
            .patch(
                &format!("/api/v1/companies/{cid_b}"),
                json!({"name": "Mine now"}),
            )
            .await,
        alice
            .post(
                &format!("/api/v1/companies/{cid_b}/members"),
                json!({"email": "evil@example.test", "role": "owner"}),
            )
            .await,
    ];
    for p in &probes {
        assert_eq!((p.status, p.code()), (404, "not_found"), "{}", p.body);
    }
    // The same answer as for a company that does not exist.
    let ghost = "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
    let r = alice.get(&format!("/api/v1/companies/{ghost}")).await;
    assert_eq!(
        (r.status, r.body["detail"].clone()),
        (404, probes[0].body["detail"].clone())
    );

    let denied = t
        .audit_rows_where(&format!("outcome = 'denied' AND actor_id = '{alice_id}'"))
        .await;
    assert_eq!(denied.len(), 5, "{denied:?}");
    assert!(denied[..4]
        .iter()
        .all(|e| e.company_id.as_deref() == Some(cid_b.as_str())
            && e.reason.as_deref() == Some("not_visible")));
    assert_eq!(
        denied[4].company_id, None,
        "a probe of nothing belongs to the platform"
    );
    // B is unchanged, and nobody was invited.
    let b = t
        .audit_rows_where(&format!(
            "company_id = '{cid_b}' AND outcome = 'allowed' AND action = 'member.invite'"
        ))
        .await;
    assert_eq!(b.len(), 1);
    assert_eq!(
        alice
            .get(&format!("/api/v1/companies/{cid_a}"))
            .await
            .status,
        200
    );
}

both!(roles_decide_who_administers_members);
async fn roles_decide_who_administers_members(t: TestApp) {
    let (cid, owner) = t.company_with_owner("A", "owner@example.test").await;
    let (member, _) = t
        .member(&owner, &cid, "member@example.test", "member")
        .await;
    let (reader, reader_id) = t
        .member(&owner, &cid, "reader@example.test", "reader")
        .await;
    let members = format!("/api/v1/companies/{cid}/members");
    for c in [&member, &reader] {
        assert_eq!(
            c.get(&format!("/api/v1/companies/{cid}")).await.status,
            200,
            "members see the company"
        );
        let r = c.get(&members).await;
        assert_eq!((r.status, r.code()), (403, "forbidden"));
        let r = c
            .post(
                &members,
                json!({"email": "x@example.test", "role": "reader"}),
            )
            .await;
        assert_eq!(r.status, 403);
        let r = c
            .patch(&format!("/api/v1/companies/{cid}"), json!({"name": "X"}))
            .await;
        assert_eq!(r.status, 403);
    }
    let list = owner.get(&members).await;
    let items = list.body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 3);
    assert!(items
        .iter()
        .all(|m| m["status"] == json!("active") && m["has_mfa"] == json!(false)));
    // Pagination.
    let page = owner.get(&format!("{members}?limit=2")).await;
    assert_eq!(page.body["items"].as_array().map(Vec::len), Some(2));
    let next = page.body["next_cursor"].as_str().unwrap_or_default();
    let rest = owner.get(&format!("{members}?limit=2&cursor={next}")).await;
    assert_eq!(
        (
            rest.body["items"].as_array().map(Vec::len),
            rest.body["next_cursor"].clone()
        ),
        (Some(1), json!(null))
    );

    // Promote the reader: takes effect on the very next request.
    let r = owner
        .patch(&format!("{members}/{reader_id}"), json!({"role": "member"}))
        .await;
    assert_eq!((r.status, r.body["role"].as_str()), (200, Some("member")));
    let r = owner
        .patch(&format!("{members}/{reader_id}"), json!({"role": "admin"}))
        .await;
    assert_eq!(r.status, 200, "signing in just now counts as recent auth");
    assert_eq!(reader.get(&members).await.status, 200);
    let r = owner
        .patch(&format!("{members}/{reader_id}"), json!({"role": "reader"}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        reader.get(&members).await.status,
        403,
        "a demoted admin loses access at once"
    );
    let r = owner.delete(&format!("{members}/{reader_id}")).await;
    assert_eq!(r.status, 204);
    assert_eq!(
        reader.get(&format!("/api/v1/companies/{cid}")).await.status,
        404,
        "a removed member loses access at once"
    );
    let actions: Vec<String> = t
        .audit_rows_where(&format!("company_id = '{cid}' AND outcome = 'allowed'"))
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in [
        "member.invite",
        "member.role_change",
        "member.remove",
        "member.accept",
        "member.list",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

both!(privileged_roles_need_recent_auth);
async fn privileged_roles_need_recent_auth(t: TestApp) {
    let (cid, owner) = t.company_with_owner("A", "owner@example.test").await;
    let members = format!("/api/v1/companies/{cid}/members");
    t.clock.advance_secs(601);
    let r = owner
        .post(
            &members,
            json!({"email": "adm@example.test", "role": "admin"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "reauthentication_required"));
    let r = owner
        .post(
            &members,
            json!({"email": "m@example.test", "role": "member"}),
        )
        .await;
    assert_eq!(r.status, 201, "plain members need no re-auth");
    let r = owner
        .post(
            "/api/v1/auth/reauth",
            json!({"password": "wrong wrong wrong"}),
        )
        .await;
    assert_eq!(r.status, 401);
    let r = owner
        .post("/api/v1/auth/reauth", json!({"password": PASSWORD}))
        .await;
    assert_eq!(r.status, 204);
    let r = owner
        .post(
            &members,
            json!({"email": "adm@example.test", "role": "admin"}),
        )
        .await;
    assert_eq!(r.status, 201);
    // An admin may not make owners.
    let (admin, _) = t.member(&owner, &cid, "adm2@example.test", "admin").await;
    let r = admin
        .post(
            &members,
            json!({"email": "o2@example.test", "role": "owner"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
}

both!(a_company_always_keeps_an_owner);
async fn a_company_always_keeps_an_owner(t: TestApp) {
    let (cid, owner) = t.company_with_owner("A", "owner@example.test").await;
    let me = owner.get("/api/v1/me").await.body["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let path = format!("/api/v1/companies/{cid}/members/{me}");
    let r = owner.patch(&path, json!({"role": "admin"})).await;
    assert_eq!((r.status, r.code()), (409, "conflict"));
    let r = owner.delete(&path).await;
    assert_eq!((r.status, r.code()), (409, "conflict"));
    let (second, second_id) = t.member(&owner, &cid, "second@example.test", "owner").await;
    let r = owner.patch(&path, json!({"role": "admin"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = second
        .delete(&format!("/api/v1/companies/{cid}/members/{second_id}"))
        .await;
    assert_eq!(r.status, 409, "the last owner cannot leave");
}

both!(inviting_twice_resends_and_a_member_is_a_conflict);
async fn inviting_twice_resends_and_a_member_is_a_conflict(t: TestApp) {
    let (cid, owner) = t.company_with_owner("A", "owner@example.test").await;
    let members = format!("/api/v1/companies/{cid}/members");
    let r = owner
        .post(
            &members,
            json!({"email": "fi@example.test", "role": "member", "language": "fi"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let mail = t
        .outbox()
        .into_iter()
        .rev()
        .find(|m| m.to == "fi@example.test");
    assert!(
        mail.as_ref()
            .is_some_and(|m| m.subject.starts_with("Kutsu") && m.text.contains("Hyväksy")),
        "{mail:?}"
    );
    let r = owner
        .post(
            &members,
            json!({"email": "de@example.test", "role": "member", "language": "de"}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert!(t
        .outbox()
        .iter()
        .any(|m| m.to == "de@example.test" && m.subject.starts_with("Einladung")));
    let r = owner
        .post(
            &members,
            json!({"email": "fi@example.test", "role": "reader"}),
        )
        .await;
    assert_eq!((r.status, r.body["role"].as_str()), (201, Some("reader")));
    let r = owner
        .post(
            &members,
            json!({"email": "owner@example.test", "role": "member"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "conflict"));
    // A withdrawn invitation cannot be accepted.
    let uid = owner.get(&members).await.body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .find(|m| m["email"] == json!("fi@example.test"))
        .map(|m| m["user_id"].as_str().unwrap_or("").to_string())
        .unwrap_or_default();
    assert_eq!(owner.delete(&format!("{members}/{uid}")).await.status, 204);
    let token = t
        .token_for("fi@example.test", "accept-invite")
        .unwrap_or_default();
    let r = t
        .client()
        .post(
            "/api/v1/auth/accept-invite",
            json!({"token": token, "password": PASSWORD, "name": "F"}),
        )
        .await;
    assert_eq!(r.status, 422);
}

both!(mail_to_one_address_is_rate_limited, |c| {
    c.smtp.per_recipient_per_hour = 3;
});
async fn mail_to_one_address_is_rate_limited(t: TestApp) {
    let (cid, owner) = t.company_with_owner("A", "owner@example.test").await;
    let members = format!("/api/v1/companies/{cid}/members");
    for _ in 0..3 {
        assert_eq!(
            owner
                .post(
                    &members,
                    json!({"email": "x@example.test", "role": "member"})
                )
                .await
                .status,
            201
        );
    }
    let sent = t.outbox().len();
    let r = owner
        .post(
            &members,
            json!({"email": "x@example.test", "role": "member"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (429, "rate_limited"));
    assert!(r.header("retry-after").is_some());
    assert_eq!(
        t.outbox().len(),
        sent,
        "refused, not silently dropped or sent"
    );
    assert_eq!(
        owner
            .post(
                &members,
                json!({"email": "y@example.test", "role": "member"})
            )
            .await
            .status,
        201
    );
    t.clock.advance_secs(3601);
    assert_eq!(
        owner
            .post(
                &members,
                json!({"email": "x@example.test", "role": "member"})
            )
            .await
            .status,
        201
    );
}

both!(settings_are_validated_and_merged);
async fn settings_are_validated_and_merged(t: TestApp) {
    let (cid, owner) = t.company_with_owner("A", "owner@example.test").await;
    let path = format!("/api/v1/companies/{cid}");
    let r = owner
        .patch(
            &path,
            json!({"settings": {"default_member_access": "view"}}),
        )
        .await;
    assert_eq!(
        r.body["settings"],
        json!({"require_mfa": false, "default_member_access": "view", "strip_photo_location": true})
    );
    let r = owner.patch(&path, json!({"name": "Uusi nimi"})).await;
    assert_eq!(
        (
            r.body["name"].as_str(),
            r.body["settings"]["default_member_access"].as_str()
        ),
        (Some("Uusi nimi"), Some("view"))
    );
    for (bad, status) in [
        (json!({"settings": {"default_member_access": "all"}}), 422),
        (json!({"settings": {"colour": "red"}}), 400),
        (json!({"settings": {"require_mfa": "yes"}}), 400),
    ] {
        let r = owner.patch(&path, bad.clone()).await;
        assert_eq!((r.status, r.code()), (status, "invalid_input"), "{bad}");
    }
    let r = owner
        .patch(&path, json!({"settings": {"require_mfa": true}}))
        .await;
    assert_eq!(
        r.status, 403,
        "require_mfa needs the admin's own second factor"
    );
    assert_eq!(
        owner.get(&path).await.body["settings"]["require_mfa"],
        json!(false)
    );
}

both!(admins_cannot_rewrite_an_owner_invitation_and_invited_names_stay_hidden);
async fn admins_cannot_rewrite_an_owner_invitation_and_invited_names_stay_hidden(t: TestApp) {
    let (cid, owner) = t.company_with_owner("A", "owner@example.test").await;
    let (admin, _) = t.member(&owner, &cid, "admin@example.test", "admin").await;
    let members = format!("/api/v1/companies/{cid}/members");
    assert_eq!(
        owner
            .post(
                &members,
                json!({"email": "next.owner@example.test", "role": "owner"})
            )
            .await
            .status,
        201
    );
    let r = admin
        .post(
            &members,
            json!({"email": "next.owner@example.test", "role": "reader"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let list = owner.get(&members).await.body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let pending = list
        .iter()
        .find(|m| m["email"] == json!("next.owner@example.test"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(pending["role"], json!("owner"));
    // An invited address with an account elsewhere: its name stays hidden.
    let (_, _b) = t.company_with_owner("B", "known@example.test").await;
    let r = owner
        .post(
            &members,
            json!({"email": "known@example.test", "role": "member"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["name"].as_str(), r.body["status"].as_str()),
        (201, Some(""), Some("invited"))
    );
    // Re-inviting voids the first link.
    let first = t
        .token_for("known@example.test", "accept-invite")
        .unwrap_or_default();
    assert_eq!(
        owner
            .post(
                &members,
                json!({"email": "known@example.test", "role": "member"})
            )
            .await
            .status,
        201
    );
    let r = t
        .client()
        .post(
            "/api/v1/auth/accept-invite",
            json!({"token": first, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 422);
}
