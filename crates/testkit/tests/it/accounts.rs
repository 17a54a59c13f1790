//! Accounts and sign-in: invitations, sessions, CSRF, password reset and
//! change, throttling, no account enumeration.

use serde_json::json;
use turva_testkit::{TestApp, PASSWORD};

use crate::both;

both!(an_invited_owner_accepts_signs_in_and_sees_the_company);
async fn an_invited_owner_accepts_signs_in_and_sees_the_company(t: TestApp) {
    let cid = turva_app::companies::create(
        &t.app,
        &turva_app::Ctx::cli(),
        turva_app::companies::Creator::Cli,
        "Rakennus Oy",
        "Owner@Example.test",
    )
    .await
    .map(|c| c.id)
    .unwrap_or_default();
    let mail = t.outbox().pop();
    let mail = mail.as_ref();
    assert_eq!(mail.map(|m| m.to.as_str()), Some("owner@example.test"));
    assert!(mail.is_some_and(|m| m.subject.contains("Rakennus Oy")));
    let link = mail.map(|m| m.text.clone()).unwrap_or_default();
    assert!(
        link.contains("https://localhost:8443/accept-invite?token="),
        "links start at public_url: {link}"
    );

    // Before accepting, the address cannot sign in.
    let c = t.client();
    let r = c
        .post(
            "/api/v1/auth/login",
            json!({"email": "owner@example.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "invalid_credentials"));

    let r = c.accept(&t, "owner@example.test").await;
    assert_eq!(r.body["company_id"], json!(cid));
    assert_eq!(r.body["created_account"], json!(true));
    let r = c.login("owner@example.test", PASSWORD).await;
    let cookie = r.header("set-cookie").unwrap_or("");
    for attr in [
        "__Host-turva_session=",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/",
    ] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert_eq!(r.body["token"].as_str().map(str::len), Some(43));
    let me = c.get("/api/v1/me").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["email"], json!("owner@example.test"));
    assert_eq!(
        me.body["memberships"],
        json!([{"company_id": cid, "company_name": "Rakennus Oy", "role": "owner"}])
    );
    assert_eq!(me.body["has_mfa"], json!(false));
    assert!(me.body["csrf_token"]
        .as_str()
        .is_some_and(|s| s.len() >= 32));

    // The invitation is single-use.
    let token = t
        .token_for("owner@example.test", "accept-invite")
        .unwrap_or_default();
    let again = c
        .post(
            "/api/v1/auth/accept-invite",
            json!({"token": token, "password": PASSWORD, "name": "X"}),
        )
        .await;
    assert_eq!((again.status, again.code()), (422, "invalid_input"));
}

both!(wrong_password_and_unknown_email_answer_the_same);
async fn wrong_password_and_unknown_email_answer_the_same(t: TestApp) {
    let _ = t.company_with_owner("A", "a@example.test").await;
    let c = t.client();
    let wrong = c
        .post(
            "/api/v1/auth/login",
            json!({"email": "a@example.test", "password": "not the password at all"}),
        )
        .await;
    let unknown = c
        .post(
            "/api/v1/auth/login",
            json!({"email": "nobody@example.test", "password": "not the password at all"}),
        )
        .await;
    assert_eq!((wrong.status, wrong.code()), (401, "invalid_credentials"));
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.body["detail"], unknown.body["detail"]);
    let failed = t.audit_rows_where("action = 'auth.login_failed'").await;
    assert_eq!(failed.len(), 2);
    assert!(failed
        .iter()
        .all(|e| e.outcome == "denied" && e.company_id.is_none()));
}

both!(
    a_login_storm_is_throttled_while_the_owner_gets_in_from_elsewhere,
    |c| {
        c.server.trusted_proxies = vec!["127.0.0.1".into()];
    }
);
async fn a_login_storm_is_throttled_while_the_owner_gets_in_from_elsewhere(t: TestApp) {
    let _ = t.company_with_owner("A", "a@example.test").await;
    let attacker = t.client();
    let url = attacker.url("/api/v1/auth/login");
    let mut storm = Vec::new();
    for _ in 0..20 {
        let req = attacker
            .raw()
            .post(&url)
            .header("x-forwarded-for", "203.0.113.9")
            .json(&json!({"email": "a@example.test", "password": "guess guess guess guess"}));
        storm.push(tokio::spawn(req.send()));
    }
    let mut statuses = Vec::new();
    let mut retry_after = Vec::new();
    for h in storm {
        if let Some(r) = h.await.ok().and_then(|r| r.ok()) {
            statuses.push(r.status().as_u16());
            if let Some(v) = r.headers().get("retry-after").and_then(|v| v.to_str().ok()) {
                retry_after.push(v.parse::<u64>().unwrap_or(0));
            }
        }
    }
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(statuses.len(), 20);
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );
    assert_eq!(
        throttled, 10,
        "10 guesses per account and address, then 429: {statuses:?}"
    );
    assert!(
        retry_after.iter().all(|s| (1..=900).contains(s)),
        "{retry_after:?}"
    );

    // Even the right password is refused from the attacker's address ...
    let r = attacker
        .send(
            attacker
                .raw()
                .post(&url)
                .header("x-forwarded-for", "203.0.113.9")
                .json(&json!({"email": "a@example.test", "password": PASSWORD})),
        )
        .await;
    assert_eq!((r.status, r.code()), (429, "rate_limited"));
    // ... but the owner at another address gets in.
    let owner = t.client();
    let r = owner
        .send(
            owner
                .raw()
                .post(&url)
                .header("x-forwarded-for", "198.51.100.7")
                .json(&json!({"email": "a@example.test", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // After the window, the address may try again.
    t.clock.advance_secs(16 * 60);
    let r = attacker
        .send(
            attacker
                .raw()
                .post(&url)
                .header("x-forwarded-for", "203.0.113.9")
                .json(&json!({"email": "a@example.test", "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200);
    // Throttled attempts are audited too.
    let denied = t
        .audit_rows_where("action = 'auth.login_failed' AND reason = 'rate_limited'")
        .await;
    assert!(denied.len() >= 10);
}

both!(forwarded_for_is_ignored_from_an_untrusted_peer);
async fn forwarded_for_is_ignored_from_an_untrusted_peer(t: TestApp) {
    let _ = t.company_with_owner("A", "a@example.test").await;
    let c = t.client();
    let url = c.url("/api/v1/auth/login");
    // Rotating X-Forwarded-For does not escape the per-address limit when
    // the peer is not a trusted proxy.
    let mut last = 0;
    for i in 0..21 {
        let r = c
            .send(
                c.raw()
                    .post(&url)
                    .header("x-forwarded-for", format!("192.0.2.{i}"))
                    .json(&json!({"email": "a@example.test", "password": "wrong wrong wrong"})),
            )
            .await;
        last = r.status;
    }
    assert_eq!(last, 429);
}

both!(sessions_end_on_logout_idle_and_absolute_timeouts);
async fn sessions_end_on_logout_idle_and_absolute_timeouts(t: TestApp) {
    let (_, owner) = t.company_with_owner("A", "a@example.test").await;
    // Logout ends the session server-side: the bearer token stops working.
    let token = owner.login("a@example.test", PASSWORD).await.body["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let bearer = t.client();
    bearer.use_bearer(&token);
    assert_eq!(bearer.get("/api/v1/me").await.status, 200);
    assert_eq!(
        bearer.post("/api/v1/auth/logout", json!({})).await.status,
        204
    );
    let r = bearer.get("/api/v1/me").await;
    assert_eq!((r.status, r.code()), (401, "unauthenticated"));

    // Idle timeout (12 h by default).
    let c = t.client();
    c.login("a@example.test", PASSWORD).await;
    t.clock.advance_secs(11 * 3600);
    assert_eq!(c.get("/api/v1/me").await.status, 200);
    t.clock.advance_secs(11 * 3600);
    assert_eq!(
        c.get("/api/v1/me").await.status,
        200,
        "use keeps a session alive"
    );
    t.clock.advance_secs(12 * 3600 + 1);
    assert_eq!(c.get("/api/v1/me").await.status, 401);

    // Absolute lifetime (7 days) even when used.
    let c = t.client();
    c.login("a@example.test", PASSWORD).await;
    for _ in 0..16 {
        t.clock.advance_secs(11 * 3600);
        let _ = c.get("/api/v1/me").await;
    }
    assert_eq!(c.get("/api/v1/me").await.status, 401);
    for bad in ["", "x", "Bearer", &"A".repeat(43), &"!".repeat(43)] {
        let b = t.client();
        b.use_bearer(bad);
        assert_eq!(b.get("/api/v1/me").await.status, 401, "{bad:?}");
    }
}

both!(a_user_lists_and_revokes_their_sessions_but_not_others);
async fn a_user_lists_and_revokes_their_sessions_but_not_others(t: TestApp) {
    let (cid, owner) = t.company_with_owner("A", "a@example.test").await;
    let laptop = t.client();
    laptop.login("a@example.test", PASSWORD).await;
    let list = owner.get("/api/v1/me/sessions").await;
    let items = list.body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2);
    assert_eq!(
        items.iter().filter(|s| s["current"] == json!(true)).count(),
        1
    );
    assert!(items
        .iter()
        .all(|s| s["ip"] == json!("127.0.0.1") && s["method"] == json!("password")));
    let other = items
        .iter()
        .find(|s| s["current"] == json!(false))
        .map(|s| s["id"].as_str().unwrap_or("").to_string())
        .unwrap_or_default();
    // Another user cannot revoke it: 404.
    let (bob, _) = t.member(&owner, &cid, "bob@example.test", "member").await;
    let r = bob.delete(&format!("/api/v1/me/sessions/{other}")).await;
    assert_eq!((r.status, r.code()), (404, "not_found"));
    assert_eq!(laptop.get("/api/v1/me").await.status, 200);
    let r = owner.delete(&format!("/api/v1/me/sessions/{other}")).await;
    assert_eq!(r.status, 204);
    assert_eq!(laptop.get("/api/v1/me").await.status, 401);
}

both!(cookie_writes_need_the_csrf_token_bearer_writes_do_not);
async fn cookie_writes_need_the_csrf_token_bearer_writes_do_not(t: TestApp) {
    let (_, owner) = t.company_with_owner("A", "a@example.test").await;
    owner.drop_csrf();
    let r = owner.patch("/api/v1/me", json!({"name": "Changed"})).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    assert_eq!(
        owner.get("/api/v1/me").await.body["name"],
        json!("Test Person")
    );
    owner.refresh_csrf().await;
    let r = owner.patch("/api/v1/me", json!({"name": "Changed"})).await;
    assert_eq!((r.status, r.body["name"].as_str()), (200, Some("Changed")));

    let token = t.client().login("a@example.test", PASSWORD).await.body["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let b = t.client();
    b.use_bearer(&token);
    let r = b.patch("/api/v1/me", json!({"language": "fi"})).await;
    assert_eq!((r.status, r.body["language"].as_str()), (200, Some("fi")));
}

both!(a_password_reset_sets_the_password_once_and_ends_sessions);
async fn a_password_reset_sets_the_password_once_and_ends_sessions(t: TestApp) {
    let (_, owner) = t.company_with_owner("A", "a@example.test").await;
    let c = t.client();
    let before = t.outbox().len();
    for email in ["a@example.test", "nobody@example.test"] {
        let r = c
            .post("/api/v1/auth/password-reset", json!({"email": email}))
            .await;
        assert_eq!(r.status, 202);
    }
    assert_eq!(
        t.settled_outbox(before + 1).await,
        before + 1,
        "only the existing account gets mail"
    );
    let token = t
        .token_for("a@example.test", "reset-password")
        .unwrap_or_default();
    assert_eq!(token.len(), 43);

    // A weak password is refused and does not use up the token.
    let r = c
        .post(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "password": "password1234"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid_input"));
    let new = "Uusi salasana talvella 2026!";
    let r = c
        .post(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "password": new}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        owner.get("/api/v1/me").await.status,
        401,
        "every session ended"
    );
    let r = c
        .post(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "password": "Toinen salasana keväällä!"}),
        )
        .await;
    assert_eq!(r.status, 422, "single use");
    c.login("a@example.test", new).await;
    let old = t
        .client()
        .post(
            "/api/v1/auth/login",
            json!({"email": "a@example.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(old.status, 401);
    assert!(t
        .outbox()
        .iter()
        .any(|m| m.to == "a@example.test" && m.subject.contains("changed")));

    // A reset link expires after 30 minutes.
    let _ = c
        .post(
            "/api/v1/auth/password-reset",
            json!({"email": "a@example.test"}),
        )
        .await;
    let sent = t.outbox().len();
    t.settled_outbox(sent + 1).await;
    let token = t
        .token_for("a@example.test", "reset-password")
        .unwrap_or_default();
    t.clock.advance_secs(31 * 60);
    let r = c
        .post(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "password": "Kolmas salasana kesällä!"}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        t.audit_rows_where("action = 'auth.password_reset'")
            .await
            .len(),
        1
    );
}

both!(an_existing_account_accepts_with_its_own_password);
async fn an_existing_account_accepts_with_its_own_password(t: TestApp) {
    let (_, a) = t.company_with_owner("A", "a@example.test").await;
    let (cid_b, b_owner) = t.company_with_owner("B", "b@example.test").await;
    let r = b_owner
        .post(
            &format!("/api/v1/companies/{cid_b}/members"),
            json!({"email": "a@example.test", "role": "member"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (201, Some("invited"))
    );
    // Invited is not a member: no access yet.
    assert_eq!(
        a.get(&format!("/api/v1/companies/{cid_b}")).await.status,
        404
    );
    let token = t
        .token_for("a@example.test", "accept-invite")
        .unwrap_or_default();
    let c = t.client();
    let r = c
        .post(
            "/api/v1/auth/accept-invite",
            json!({"token": token, "password": "not my password at all"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "invalid_credentials"));
    let r = c
        .post(
            "/api/v1/auth/accept-invite",
            json!({"token": token, "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["created_account"].as_bool()),
        (200, Some(false)),
        "the failed try did not use the token"
    );
    assert_eq!(
        a.get(&format!("/api/v1/companies/{cid_b}")).await.status,
        200
    );
    assert_eq!(
        a.get("/api/v1/companies").await.body["items"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

both!(a_password_change_ends_the_other_sessions);
async fn a_password_change_ends_the_other_sessions(t: TestApp) {
    let (_, owner) = t.company_with_owner("A", "a@example.test").await;
    let phone = t.client();
    phone.login("a@example.test", PASSWORD).await;
    let r = owner.post("/api/v1/me/password", json!({"current_password": "wrong wrong wrong", "new_password": "Uusi salasana talvella 2026!"})).await;
    assert_eq!(r.status, 401);
    let r = owner
        .post(
            "/api/v1/me/password",
            json!({"current_password": PASSWORD, "new_password": "short"}),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = owner
        .post(
            "/api/v1/me/password",
            json!({"current_password": PASSWORD, "new_password": "Uusi salasana talvella 2026!"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        owner.get("/api/v1/me").await.status,
        200,
        "this session stays"
    );
    assert_eq!(
        phone.get("/api/v1/me").await.status,
        401,
        "the other one ends"
    );
}

both!(weak_and_personal_passwords_are_refused_at_sign_up);
async fn weak_and_personal_passwords_are_refused_at_sign_up(t: TestApp) {
    let _ = turva_app::companies::create(
        &t.app,
        &turva_app::Ctx::cli(),
        turva_app::companies::Creator::Cli,
        "A",
        "aija.virtanen@example.test",
    )
    .await;
    let token = t
        .token_for("aija.virtanen@example.test", "accept-invite")
        .unwrap_or_default();
    let c = t.client();
    for pw in [
        "short",
        "password123456",
        "aija.virtanen2026",
        "qwertyuiopasdf",
    ] {
        let r = c
            .post(
                "/api/v1/auth/accept-invite",
                json!({"token": token, "password": pw, "name": "Aija Virtanen"}),
            )
            .await;
        assert_eq!((r.status, r.code()), (422, "invalid_input"), "{pw}");
    }
    let r = c
        .post(
            "/api/v1/auth/accept-invite",
            json!({"token": token, "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (400, Some("name")),
        "a new account needs a name"
    );
    // A 128-character password is fine and used exactly as typed.
    let long = "Pitkä salasana ".repeat(9)[..128].to_string();
    let r = c
        .post(
            "/api/v1/auth/accept-invite",
            json!({"token": token, "password": long, "name": "Aija"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    c.login("aija.virtanen@example.test", &long).await;
    let r = t
        .client()
        .post(
            "/api/v1/auth/login",
            json!({"email": "aija.virtanen@example.test", "password": format!(" {long}")}),
        )
        .await;
    assert_eq!(r.status, 401);
}

both!(operators_are_created_once);
async fn operators_are_created_once(t: TestApp) {
    let op = t.operator("op@example.test").await;
    assert_eq!(op.get("/api/v1/me").await.body["is_operator"], json!(true));
    let again =
        turva_app::operators::create(&t.app, &turva_app::Ctx::cli(), "op@example.test", PASSWORD)
            .await;
    assert!(matches!(again, Err(turva_app::AppError::Conflict(_))));
    let weak = turva_app::operators::create(
        &t.app,
        &turva_app::Ctx::cli(),
        "op2@example.test",
        "password",
    )
    .await;
    assert!(matches!(weak, Err(turva_app::AppError::Invalid { .. })));
    assert_eq!(
        t.audit_rows_where("action = 'operator.create'").await.len(),
        1
    );
}

both!(an_email_change_needs_recent_auth_and_the_new_address_to_confirm);
async fn an_email_change_needs_recent_auth_and_the_new_address_to_confirm(t: TestApp) {
    let (cid, owner) = t.company_with_owner("A", "old@example.test").await;
    let _ = t.member(&owner, &cid, "taken@example.test", "member").await;
    t.clock.advance_secs(601);
    let r = owner
        .patch("/api/v1/me", json!({"email": "new@example.test"}))
        .await;
    assert_eq!((r.status, r.code()), (403, "reauthentication_required"));
    assert!(t.token_for("new@example.test", "confirm-email").is_none());
    assert_eq!(
        owner
            .post("/api/v1/auth/reauth", json!({"password": PASSWORD}))
            .await
            .status,
        204
    );
    let r = owner
        .patch("/api/v1/me", json!({"email": "New@Example.test"}))
        .await;
    assert_eq!(
        (r.status, r.body["email"].as_str()),
        (200, Some("old@example.test")),
        "unchanged until confirmed"
    );
    let token = t
        .token_for("new@example.test", "confirm-email")
        .unwrap_or_default();
    // A change to a taken address answers the same, and fails only at confirmation.
    let r = owner
        .patch("/api/v1/me", json!({"email": "taken@example.test"}))
        .await;
    assert_eq!(r.status, 200);
    let taken = t
        .token_for("taken@example.test", "confirm-email")
        .unwrap_or_default();
    let c = t.client();
    let r = c
        .post("/api/v1/auth/confirm-email", json!({"token": taken}))
        .await;
    assert_eq!((r.status, r.code()), (409, "conflict"));
    // A failed confirmation uses up nothing: the first link still works.
    let r = c
        .post("/api/v1/auth/confirm-email", json!({"token": token}))
        .await;
    assert_eq!(
        (r.status, r.body["email"].as_str()),
        (200, Some("new@example.test"))
    );
    assert!(
        t.outbox()
            .iter()
            .any(|m| m.to == "old@example.test" && m.text.contains("new@example.test")),
        "the old address is told"
    );
    c.login("new@example.test", PASSWORD).await;
    let r = t
        .client()
        .post(
            "/api/v1/auth/login",
            json!({"email": "old@example.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 401);
    let r = c
        .post("/api/v1/auth/confirm-email", json!({"token": token}))
        .await;
    assert_eq!(r.status, 422, "single use");
    let r = c
        .post("/api/v1/auth/confirm-email", json!({"token": taken}))
        .await;
    assert_eq!(r.status, 422, "a change voids the other pending links");
    assert_eq!(
        t.audit_rows_where("action = 'user.email_change'")
            .await
            .len(),
        1
    );
}

both!(invitations_expire_after_seven_days);
async fn invitations_expire_after_seven_days(t: TestApp) {
    let (cid, owner) = t.company_with_owner("A", "owner@example.test").await;
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/members"),
            json!({"email": "late@example.test", "role": "member"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let token = t
        .token_for("late@example.test", "accept-invite")
        .unwrap_or_default();
    t.clock.advance_secs(7 * 24 * 3600 + 1);
    let r = t
        .client()
        .post(
            "/api/v1/auth/accept-invite",
            json!({"token": token, "password": PASSWORD, "name": "Late"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid_input"));
    // A new invitation works.
    let owner2 = t.client();
    owner2.login("owner@example.test", PASSWORD).await;
    assert_eq!(
        owner2
            .post(
                &format!("/api/v1/companies/{cid}/members"),
                json!({"email": "late@example.test", "role": "member"})
            )
            .await
            .status,
        201
    );
    owner2.accept(&t, "late@example.test").await;
}

both!(short_lists_page_like_long_ones);
async fn short_lists_page_like_long_ones(t: TestApp) {
    let (_, owner) = t.company_with_owner("A", "a@example.test").await;
    for _ in 0..3 {
        t.client().login("a@example.test", PASSWORD).await;
    }
    let all = owner.get("/api/v1/me/sessions").await.body["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(all.len(), 4);
    let first = owner.get("/api/v1/me/sessions?limit=3").await;
    let next = first.body["next_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(first.body["items"].as_array().map(Vec::len), Some(3));
    let second = owner
        .get(&format!("/api/v1/me/sessions?limit=3&cursor={next}"))
        .await;
    assert_eq!(second.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(second.body["next_cursor"], json!(null));
    assert_eq!(second.body["items"][0]["id"], all[3]["id"]);
    assert_eq!(owner.get("/api/v1/me/sessions?limit=201").await.status, 400);
    let r = owner
        .get("/api/v1/companies?cursor=6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b")
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_input"));
    let r = owner.get("/api/v1/companies?limit=1").await;
    assert_eq!(
        (
            r.body["items"].as_array().map(Vec::len),
            r.body["next_cursor"].clone()
        ),
        (Some(1), json!(null))
    );
}

both!(a_whole_office_accepts_from_one_address_but_token_guessing_is_throttled);
async fn a_whole_office_accepts_from_one_address_but_token_guessing_is_throttled(t: TestApp) {
    let (cid, owner) = t.company_with_owner("A", "owner@example.test").await;
    // Successful acceptances do not use up the per-address limit.
    for i in 0..24 {
        let email = format!("worker{i}@example.test");
        let r = owner
            .post(
                &format!("/api/v1/companies/{cid}/members"),
                json!({"email": email, "role": "member"}),
            )
            .await;
        assert_eq!(r.status, 201);
        t.client().accept(&t, &email).await;
    }
    // Failed ones do, even though each fails before changing anything.
    let c = t.client();
    let mut statuses = Vec::new();
    for _ in 0..21 {
        let r = c
            .post(
                "/api/v1/auth/accept-invite",
                json!({"token": "x".repeat(43), "password": PASSWORD, "name": "X"}),
            )
            .await;
        statuses.push(r.status);
    }
    assert!(statuses[..20].iter().all(|s| *s == 422), "{statuses:?}");
    assert_eq!(statuses[20], 429);
    let r = c
        .post(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": "y".repeat(43), "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 422, "a separate counter");
}

both!(a_password_reset_voids_a_pending_email_change);
async fn a_password_reset_voids_a_pending_email_change(t: TestApp) {
    let (_, owner) = t.company_with_owner("A", "owner@example.test").await;
    // Someone with the session (signed in just now, so recent auth holds)
    // asks to move the account to their address.
    let r = owner
        .patch("/api/v1/me", json!({"email": "intruder@example.test"}))
        .await;
    assert_eq!(r.status, 200);
    let change = t
        .token_for("intruder@example.test", "confirm-email")
        .unwrap_or_default();
    // The owner resets the password.
    let c = t.client();
    assert_eq!(
        c.post(
            "/api/v1/auth/password-reset",
            json!({"email": "owner@example.test"})
        )
        .await
        .status,
        202
    );
    let reset = t
        .token_arriving("owner@example.test", "reset-password")
        .await
        .unwrap_or_default();
    let r = c
        .post(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": reset, "password": "Uusi salasana talvella 2026!"}),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = c
        .post("/api/v1/auth/confirm-email", json!({"token": change}))
        .await;
    assert_eq!(r.status, 422, "the intruder's link died with the reset");
}

both!(concurrent_sign_ins_to_one_account_all_succeed);
/// Sign-ins to one account from one address, at once: each clears the
/// same throttle counter, and none may fail for it (on PostgreSQL they
/// once deadlocked).
async fn concurrent_sign_ins_to_one_account_all_succeed(t: TestApp) {
    let _ = t.operator("rinnakkain@example.test").await;
    for round in 0..3 {
        let mut running = Vec::new();
        for _ in 0..6 {
            let c = t.client();
            running.push(tokio::spawn(async move {
                c.post(
                    "/api/v1/auth/login",
                    json!({"email": "rinnakkain@example.test", "password": turva_testkit::PASSWORD}),
                )
                .await
            }));
        }
        for r in running {
            let r = r.await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.status, 200, "round {round}: {}", r.body);
        }
    }
}

both!(refusals_by_the_rate_limit_are_audited);
async fn refusals_by_the_rate_limit_are_audited(t: TestApp) {
    let (_cid, owner) = t.company_with_owner("A", "a@example.test").await;
    // Password-reset requests: 20 per address, then 429, recorded.
    let c = t.client();
    let mut last = 0;
    for _ in 0..21 {
        let r = c
            .post(
                "/api/v1/auth/password-reset",
                json!({"email": "nobody@example.test"}),
            )
            .await;
        last = r.status;
    }
    assert_eq!(last, 429);
    let refused = t
        .audit_rows_where(
            "action = 'auth.password_reset_request' AND outcome = 'denied' AND reason = 'rate_limited'",
        )
        .await;
    assert_eq!(refused.len(), 1);
    // Password changes with a wrong current password: 10 per session.
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let r = owner
            .post(
                "/api/v1/me/password",
                json!({"current_password": "not the password at all", "new_password": "another long passphrase 42"}),
            )
            .await;
        statuses.push(r.status);
    }
    assert_eq!(statuses[10], 429, "{statuses:?}");
    let refused = t
        .audit_rows_where(
            "action = 'auth.password_change' AND outcome = 'denied' AND reason = 'rate_limited'",
        )
        .await;
    assert_eq!(refused.len(), 1);
}
