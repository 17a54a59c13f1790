//! API tokens: scoped to one company, read-only or not, shown once,
//! revocable, expiring, never more than their user holds now, never the
//! account; audited with the token's id.

use serde_json::{json, Value};
use turva_testkit::{Client, TestApp, PASSWORD};

use crate::both;
use crate::content::{doc, folder};

const DAY: i64 = 86_400_000;

fn rfc3339(t: &TestApp, ahead_ms: i64) -> String {
    let now = i64::try_from(t.now_secs()).unwrap() * 1000;
    turva_web::api::time(now + ahead_ms)
}

async fn create(c: &Client, body: Value) -> turva_testkit::Answer {
    c.post("/api/v1/me/tokens", body).await
}

/// Creates a token and answers a client that uses it, and the token's id.
async fn token_client(t: &TestApp, c: &Client, cid: &str, read_only: bool) -> (Client, String) {
    let r = create(
        c,
        json!({"name": "Integration", "company_id": cid,
               "expires_at": rfc3339(t, 30 * DAY), "read_only": read_only}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = r.body["token"].as_str().unwrap().to_string();
    let tc = t.client();
    tc.use_bearer(&secret);
    (tc, r.body["id"].as_str().unwrap().to_string())
}

both!(a_token_reaches_its_company_with_its_users_rights_and_nothing_else);
async fn a_token_reaches_its_company_with_its_users_rights_and_nothing_else(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Rakennus Oy", "owner@example.test")
        .await;
    let (worker, worker_id) = t
        .member(&owner, &cid, "worker@example.test", "member")
        .await;
    // The worker belongs to a second company too.
    let (cid2, owner2) = t
        .company_with_owner("Toinen Oy", "owner2@example.test")
        .await;
    let r = owner2
        .post(
            &format!("/api/v1/companies/{cid2}/members"),
            json!({"email": "worker@example.test", "role": "member"}),
        )
        .await;
    assert_eq!(r.status, 201);
    worker.accept(&t, "worker@example.test").await;
    let other_folder = folder(&owner2, &cid2, json!({"name": "Toinen"})).await;
    doc(&owner2, &other_folder, "Pouta raportti").await;
    let mine = folder(&owner, &cid, json!({"name": "Työmaa"})).await;
    doc(&owner, &mine, "Pouta muistio").await;

    // Created: shown once, listed without the secret.
    let r = create(
        &worker,
        json!({"name": "ERP", "company_id": cid, "expires_at": rfc3339(&t, 30 * DAY)}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = r.body["token"].as_str().unwrap().to_string();
    assert!(secret.starts_with("turva_pat_"), "{secret}");
    assert_eq!(r.body["read_only"], json!(false));
    let token_id = r.body["id"].as_str().unwrap().to_string();
    let list = worker.get("/api/v1/me/tokens").await;
    assert_eq!(list.status, 200);
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], json!(token_id));
    assert_eq!(items[0]["company_id"], json!(cid));
    assert_eq!(items[0]["last_used_at"], Value::Null);
    assert!(
        items[0].get("token").is_none(),
        "the secret is never listed"
    );
    assert!(!list.text.contains(&secret));

    let tc = t.client();
    tc.use_bearer(&secret);
    // Its company: the user's rights.
    let r = tc.get(&format!("/api/v1/companies/{cid}/folders")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = tc
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({"name": "From the ERP"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let made = r.body["id"].as_str().unwrap().to_string();
    // Another company: absent, by path and by id; search stays inside.
    let r = tc.get(&format!("/api/v1/companies/{cid2}/folders")).await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    let r = tc.get(&format!("/api/v1/folders/{other_folder}")).await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    assert_eq!(
        worker
            .get(&format!("/api/v1/folders/{other_folder}"))
            .await
            .status,
        200
    );
    let hits = tc.get("/api/v1/search?q=pouta").await;
    assert_eq!(hits.status, 200, "{}", hits.body);
    let companies: Vec<&str> = hits.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["company_id"].as_str().unwrap())
        .collect();
    assert_eq!(companies, [cid.as_str()], "{}", hits.body);
    let all = worker.get("/api/v1/search?q=pouta").await;
    assert_eq!(
        all.body["items"].as_array().unwrap().len(),
        2,
        "{}",
        all.body
    );
    let r = tc.get("/api/v1/companies").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.body);
    // Who it is: GET /me, with the one company.
    let me = tc.get("/api/v1/me").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["memberships"].as_array().unwrap().len(), 1);
    // Never the account: 401.
    for (method, path) in [
        ("GET", "/api/v1/me/tokens"),
        ("POST", "/api/v1/me/tokens"),
        ("GET", "/api/v1/me/mfa"),
        ("POST", "/api/v1/me/password"),
        ("GET", "/api/v1/me/sessions"),
        ("PATCH", "/api/v1/me"),
        ("POST", "/api/v1/auth/logout"),
        ("POST", "/api/v1/auth/reauth"),
    ] {
        let body = json!({"password": PASSWORD});
        let r = match method {
            "GET" => tc.get(path).await,
            "PATCH" => tc.patch(path, json!({"name": "x"})).await,
            _ => tc.post(path, body).await,
        };
        assert_eq!(
            (r.status, r.code()),
            (401, "unauthenticated"),
            "{method} {path}"
        );
    }

    // A role change applies at once: as a reader, no new folders.
    let r = owner
        .patch(
            &format!("/api/v1/companies/{cid}/members/{worker_id}"),
            json!({"role": "reader"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = tc
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({"name": "No more"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));

    // Requests are audited with the token's id.
    let cond = format!("credential = 'token:{token_id}'");
    let events = t.audit_rows_where(&cond).await;
    assert!(
        events
            .iter()
            .any(|e| e.action == "folder.create" && e.object_id.as_deref() == Some(made.as_str())),
        "{events:#?}"
    );
    assert!(events
        .iter()
        .any(|e| e.action == "request.denied" && e.reason.as_deref() == Some("not_for_tokens")));
    let created = t
        .audit_rows_where(&format!(
            "action = 'token.create' AND object_id = '{token_id}'"
        ))
        .await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].company_id.as_deref(), Some(cid.as_str()));
    // Used: the list says when.
    let list = worker.get("/api/v1/me/tokens").await;
    assert!(
        list.body["items"][0]["last_used_at"].is_string(),
        "{}",
        list.body
    );

    // Removed from the company: the token stops at once.
    let r = owner
        .delete(&format!("/api/v1/companies/{cid}/members/{worker_id}"))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = tc.get(&format!("/api/v1/companies/{cid}/folders")).await;
    assert_eq!((r.status, r.code()), (401, "unauthenticated"));
}

both!(a_read_only_token_only_reads);
async fn a_read_only_token_only_reads(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Rakennus Oy", "owner@example.test")
        .await;
    let fid = folder(&owner, &cid, json!({"name": "Työmaa"})).await;
    let (tc, id) = token_client(&t, &owner, &cid, true).await;
    let folders_before = t.count("folders").await;
    assert_eq!(tc.get(&format!("/api/v1/folders/{fid}")).await.status, 200);
    let r = tc
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({"name": "No"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.body);
    let r = tc.delete(&format!("/api/v1/folders/{fid}")).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    assert_eq!(t.count("folders").await, folders_before);
    let denied = t
        .audit_rows_where(&format!(
            "credential = 'token:{id}' AND action = 'request.denied' AND reason = 'read_only_token'"
        ))
        .await;
    assert_eq!(denied.len(), 2);
}

both!(a_token_stops_when_revoked_expired_or_the_password_changes);
async fn a_token_stops_when_revoked_expired_or_the_password_changes(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Rakennus Oy", "owner@example.test")
        .await;
    let path = format!("/api/v1/companies/{cid}/folders");

    // Revoked.
    let (tc, id) = token_client(&t, &owner, &cid, false).await;
    assert_eq!(tc.get(&path).await.status, 200);
    // A token is never recent authentication.
    let r = tc
        .post(
            &format!("/api/v1/companies/{cid}/members"),
            json!({"email": "x@example.test", "role": "admin"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "reauthentication_required"));
    let r = tc
        .post(
            &format!("/api/v1/companies/{cid}/members"),
            json!({"email": "x@example.test", "role": "reader"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        owner
            .delete(&format!("/api/v1/me/tokens/{id}"))
            .await
            .status,
        204
    );
    assert_eq!(tc.get(&path).await.status, 401);
    let r = owner.delete(&format!("/api/v1/me/tokens/{id}")).await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    let revoked = t
        .audit_rows_where(&format!(
            "action = 'token.revoke' AND outcome = 'allowed' AND object_id = '{id}'"
        ))
        .await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].company_id.as_deref(), Some(cid.as_str()));
    assert_eq!(
        owner.get("/api/v1/me/tokens").await.body["items"],
        json!([])
    );

    // Expired.
    let r = create(
        &owner,
        json!({"name": "Short", "company_id": cid, "expires_at": rfc3339(&t, 60_000)}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let short = t.client();
    short.use_bearer(r.body["token"].as_str().unwrap());
    assert_eq!(short.get(&path).await.status, 200);
    t.clock.advance_secs(61);
    assert_eq!(short.get(&path).await.status, 401);

    // A password change ends every token.
    let (tc, _) = {
        owner
            .post("/api/v1/auth/reauth", json!({"password": PASSWORD}))
            .await;
        token_client(&t, &owner, &cid, false).await
    };
    assert_eq!(tc.get(&path).await.status, 200);
    let r = owner
        .post(
            "/api/v1/me/password",
            json!({"current_password": PASSWORD, "new_password": "another long passphrase 42"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(tc.get(&path).await.status, 401);

    // So does an MFA reset.
    let (tc, _) = token_client(&t, &owner, &cid, false).await;
    assert_eq!(tc.get(&path).await.status, 200);
    let r = turva_app::mfa::reset_by_operator(&t.app, &turva_app::Ctx::cli(), "owner@example.test")
        .await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(tc.get(&path).await.status, 401);
}

both!(creating_a_token_needs_recent_auth_a_company_of_ones_own_and_a_sane_expiry);
async fn creating_a_token_needs_recent_auth_a_company_of_ones_own_and_a_sane_expiry(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Rakennus Oy", "owner@example.test")
        .await;
    let (cid2, _owner2) = t
        .company_with_owner("Toinen Oy", "owner2@example.test")
        .await;
    let body = |company: &str, ahead: i64| json!({"name": "ERP", "company_id": company, "expires_at": rfc3339(&t, ahead)});
    // Another's company, or none: as if it did not exist.
    let r = create(&owner, body(&cid2, DAY)).await;
    assert_eq!((r.status, r.code()), (404, "not_found"), "{}", r.body);
    let r = create(&owner, body("0190a0b0-0000-7000-8000-000000000000", DAY)).await;
    assert_eq!(r.status, 404, "{}", r.body);
    // Expiry: in the future, at most token_max_days (365) ahead.
    let r = create(&owner, body(&cid, -1000)).await;
    assert_eq!((r.status, r.code()), (422, "invalid_input"), "{}", r.body);
    let r = create(&owner, body(&cid, 366 * DAY)).await;
    assert_eq!((r.status, r.code()), (422, "invalid_input"), "{}", r.body);
    let r = create(
        &owner,
        json!({"name": "ERP", "company_id": cid, "expires_at": "next week"}),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "invalid_input"), "{}", r.body);
    let r = create(&owner, json!({"name": "ERP", "company_id": cid})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    // Recent auth.
    t.clock.advance_secs(11 * 60);
    let r = create(&owner, body(&cid, DAY)).await;
    assert_eq!((r.status, r.code()), (403, "reauthentication_required"));
    assert_eq!(t.count("api_tokens").await, 0);
    let r = owner
        .post("/api/v1/auth/reauth", json!({"password": PASSWORD}))
        .await;
    assert_eq!(r.status, 204);
    let r = create(&owner, body(&cid, 365 * DAY)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(t.count("api_tokens").await, 1);
}
