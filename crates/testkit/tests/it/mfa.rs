//! Second factors: TOTP enrolment and sign-in, replay, recovery codes, the
//! sign-in challenge's life, re-auth with a code, MFA a company requires,
//! operators who must enrol.

use serde_json::json;
use turva_testkit::{totp_code, Client, TestApp, PASSWORD};

use crate::both;

async fn sign_in_first_step(c: &Client, email: &str) -> String {
    let r = c
        .post(
            "/api/v1/auth/login",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["mfa_required"], json!(true), "{}", r.body);
    assert!(r.body.get("token").is_none(), "no session before the code");
    assert!(
        r.header("set-cookie").is_none(),
        "no cookie before the code"
    );
    r.body["mfa_token"].as_str().unwrap_or_default().to_string()
}

both!(totp_enrolment_sign_in_replay_and_recovery_codes);
async fn totp_enrolment_sign_in_replay_and_recovery_codes(t: TestApp) {
    let (_cid, owner) = t
        .company_with_owner("Rakennus Oy", "owner@example.test")
        .await;

    // Start: the secret, its URL and a QR code; nothing counts yet.
    let r = owner
        .post("/api/v1/me/mfa/totp", json!({"name": "Phone"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let secret = r.body["secret"].as_str().unwrap().to_string();
    let url = r.body["otpauth_url"].as_str().unwrap();
    assert!(
        url.starts_with("otpauth://totp/Turva:owner%40example.test?"),
        "{url}"
    );
    assert!(url.contains(&format!("secret={secret}")), "{url}");
    assert!(r.body["qr"]
        .as_str()
        .unwrap()
        .starts_with("data:image/svg+xml;base64,"));
    let me = owner.get("/api/v1/me").await;
    assert_eq!(me.body["has_mfa"], json!(false));

    // A wrong code does not confirm it.
    let wrong = format!(
        "{:06}",
        (t.totp_now(&secret).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    let path = format!("/api/v1/me/mfa/totp/{id}/confirm");
    let r = owner.post(&path, json!({"code": wrong})).await;
    assert_eq!((r.status, r.code()), (422, "invalid_input"), "{}", r.body);
    // The right one does, and the first factor brings ten recovery codes.
    let r = owner
        .post(&path, json!({"code": t.totp_now(&secret)}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let codes: Vec<String> = r.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    let r = owner
        .post(&path, json!({"code": t.totp_now(&secret)}))
        .await;
    assert_eq!(r.status, 404, "a confirmed enrolment is not pending");

    let me = owner.get("/api/v1/me").await;
    assert_eq!(me.body["has_mfa"], json!(true));
    let mfa = owner.get("/api/v1/me/mfa").await;
    assert_eq!(mfa.body["recovery_codes_left"], json!(10));
    assert_eq!(mfa.body["factors"][0]["id"], json!(id));
    assert_eq!(mfa.body["factors"][0]["type"], json!("totp"));
    assert_eq!(mfa.body["factors"][0]["name"], json!("Phone"));
    assert!(t
        .outbox()
        .iter()
        .any(|m| m.to == "owner@example.test" && m.subject.contains("second factor was added")));

    // Sign-in now asks for the code; the code used to confirm (same step)
    // is refused as a replay.
    let c = t.client();
    let token = sign_in_first_step(&c, "owner@example.test").await;
    let r = c
        .post(
            "/api/v1/auth/mfa",
            json!({"mfa_token": token, "code": t.totp_now(&secret)}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (401, "invalid_credentials"),
        "replay: {}",
        r.body
    );
    // The next step's code signs in.
    t.clock.advance_secs(30);
    let code = t.totp_now(&secret);
    let r = c
        .post(
            "/api/v1/auth/mfa",
            json!({"mfa_token": token, "code": code}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("set-cookie").is_some());
    assert_eq!(r.body["user"]["has_mfa"], json!(true));
    c.refresh_csrf().await;
    let sessions = c.get("/api/v1/me/sessions").await;
    let current = sessions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == json!(true))
        .cloned()
        .unwrap();
    assert_eq!(current["method"], json!("totp"));
    // The token died with its success.
    let r = c
        .post(
            "/api/v1/auth/mfa",
            json!({"mfa_token": token, "code": code}),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "unauthenticated"));
    // The same code on a fresh challenge: refused, it was used.
    let c2 = t.client();
    let token2 = sign_in_first_step(&c2, "owner@example.test").await;
    let r = c2
        .post(
            "/api/v1/auth/mfa",
            json!({"mfa_token": token2, "code": code}),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "invalid_credentials"));

    // A recovery code works once (any case, with or without dashes).
    let r = c2
        .post(
            "/api/v1/auth/mfa",
            json!({"mfa_token": token2, "code": codes[0].to_uppercase()}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c3 = t.client();
    let token3 = sign_in_first_step(&c3, "owner@example.test").await;
    let r = c3
        .post(
            "/api/v1/auth/mfa",
            json!({"mfa_token": token3, "code": codes[0]}),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "invalid_credentials"));
    assert!(t.outbox().iter().any(|m| m.to == "owner@example.test"
        && m.subject.contains("recovery code")
        && m.text.contains("9 unused codes")));
    let mfa = owner.get("/api/v1/me/mfa").await;
    assert_eq!(mfa.body["recovery_codes_left"], json!(9));

    // Every step is in the log.
    let actions: Vec<String> = t
        .audit_rows_where("action LIKE 'auth.%'")
        .await
        .into_iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e.action,
                e.outcome,
                e.reason.unwrap_or_default()
            )
        })
        .collect();
    for want in [
        "auth.mfa_enrol allowed totp started",
        "auth.mfa_enrol denied invalid_code",
        "auth.mfa_enrol allowed totp confirmed",
        "auth.mfa_challenge allowed ",
        "auth.mfa_failed denied invalid_code",
        "auth.login allowed totp",
        "auth.mfa_failed denied mfa_token",
        "auth.recovery_code_used allowed ",
        "auth.login allowed recovery_code",
    ] {
        assert!(actions.iter().any(|a| a == want), "{want} in {actions:#?}");
    }
}

both!(a_challenge_survives_five_wrong_codes_and_five_minutes);
async fn a_challenge_survives_five_wrong_codes_and_five_minutes(t: TestApp) {
    let (_cid, owner) = t
        .company_with_owner("Rakennus Oy", "owner@example.test")
        .await;
    owner.enrol_totp(&t).await;
    let secret = owner.totp_secret();
    t.clock.advance_secs(30);

    let c = t.client();
    let token = sign_in_first_step(&c, "owner@example.test").await;
    let right = t.totp_now(&secret);
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 7) % 1_000_000);
    for _ in 0..5 {
        let r = c
            .post(
                "/api/v1/auth/mfa",
                json!({"mfa_token": token, "code": wrong}),
            )
            .await;
        assert_eq!((r.status, r.code()), (401, "invalid_credentials"));
    }
    // Five wrong codes survived: the right one still signs in.
    let r = c
        .post(
            "/api/v1/auth/mfa",
            json!({"mfa_token": token, "code": right}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A sixth wrong code kills the token.
    t.clock.advance_secs(30);
    let token = sign_in_first_step(&c, "owner@example.test").await;
    for _ in 0..6 {
        c.post(
            "/api/v1/auth/mfa",
            json!({"mfa_token": token, "code": wrong}),
        )
        .await;
    }
    let r = c
        .post(
            "/api/v1/auth/mfa",
            json!({"mfa_token": token, "code": t.totp_now(&secret)}),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "unauthenticated"));

    // After five minutes it is dead too.
    let token = sign_in_first_step(&c, "owner@example.test").await;
    t.clock.advance_secs(301);
    let r = c
        .post(
            "/api/v1/auth/mfa",
            json!({"mfa_token": token, "code": t.totp_now(&secret)}),
        )
        .await;
    assert_eq!((r.status, r.code()), (401, "unauthenticated"));

    // Malformed input changes nothing.
    let r = c
        .post("/api/v1/auth/mfa", json!({"mfa_token": token}))
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_input"));
    let r = c
        .post(
            "/api/v1/auth/mfa",
            json!({"mfa_token": "x", "code": "1".repeat(65)}),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_input"));
}

both!(the_same_code_twice_at_once_signs_in_once);
async fn the_same_code_twice_at_once_signs_in_once(t: TestApp) {
    let (_cid, owner) = t
        .company_with_owner("Rakennus Oy", "owner@example.test")
        .await;
    owner.enrol_totp(&t).await;
    let secret = owner.totp_secret();
    t.clock.advance_secs(30);
    let code = t.totp_now(&secret);
    let (a, b) = (t.client(), t.client());
    let ta = sign_in_first_step(&a, "owner@example.test").await;
    let tb = sign_in_first_step(&b, "owner@example.test").await;
    let (ra, rb) = tokio::join!(
        a.post("/api/v1/auth/mfa", json!({"mfa_token": ta, "code": code})),
        b.post("/api/v1/auth/mfa", json!({"mfa_token": tb, "code": code})),
    );
    let mut statuses = [ra.status, rb.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "{} / {}", ra.body, rb.body);
}

both!(parallel_wrong_codes_share_the_challenges_limit);
async fn parallel_wrong_codes_share_the_challenges_limit(t: TestApp) {
    let (_cid, owner) = t
        .company_with_owner("Rakennus Oy", "owner@example.test")
        .await;
    owner.enrol_totp(&t).await;
    let c = t.client();
    let token = sign_in_first_step(&c, "owner@example.test").await;
    let guesses = (0..8).map(|i| {
        let body = json!({"mfa_token": token, "code": format!("00000{i}")});
        let c = &c;
        async move { c.post("/api/v1/auth/mfa", body).await }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let mut codes: Vec<&str> = answers.iter().map(|r| r.code()).collect();
    codes.sort_unstable();
    // Six attempts were checked (five wrong codes survived, the sixth
    // killed the challenge); the other two found it dead.
    assert_eq!(
        codes,
        [vec!["invalid_credentials"; 6], vec!["unauthenticated"; 2]].concat()
    );
}

both!(factor_changes_need_recent_auth_which_a_code_gives);
async fn factor_changes_need_recent_auth_which_a_code_gives(t: TestApp) {
    let (_cid, owner) = t
        .company_with_owner("Rakennus Oy", "owner@example.test")
        .await;
    owner.enrol_totp(&t).await;
    let secret = owner.totp_secret();
    let id = owner.get("/api/v1/me/mfa").await.body["factors"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Eleven minutes later the sign-in is no longer recent.
    t.clock.advance_secs(11 * 60);
    let r = owner.post("/api/v1/me/mfa/totp", json!({})).await;
    assert_eq!((r.status, r.code()), (403, "reauthentication_required"));
    let r = owner.delete(&format!("/api/v1/me/mfa/{id}")).await;
    assert_eq!((r.status, r.code()), (403, "reauthentication_required"));
    let r = owner.post("/api/v1/me/mfa/recovery-codes", json!({})).await;
    assert_eq!((r.status, r.code()), (403, "reauthentication_required"));
    assert_eq!(
        owner.get("/api/v1/me/mfa").await.body["factors"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // A wrong code is refused; a current one re-authenticates.
    let right = t.totp_now(&secret);
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 3) % 1_000_000);
    let r = owner
        .post("/api/v1/auth/reauth", json!({"code": wrong}))
        .await;
    assert_eq!((r.status, r.code()), (401, "invalid_credentials"));
    let r = owner
        .post(
            "/api/v1/auth/reauth",
            json!({"code": right, "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "invalid_input"),
        "one or the other"
    );
    let r = owner
        .post("/api/v1/auth/reauth", json!({"code": right}))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);

    // A new set of recovery codes voids the old one.
    let r = owner.post("/api/v1/me/mfa/recovery-codes", json!({})).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["recovery_codes"].as_array().map(Vec::len), Some(10));

    // Removing the last factor: no MFA, no recovery codes.
    let r = owner.delete(&format!("/api/v1/me/mfa/{id}")).await;
    assert_eq!(r.status, 204);
    let mfa = owner.get("/api/v1/me/mfa").await;
    assert_eq!(mfa.body["factors"], json!([]));
    assert_eq!(mfa.body["recovery_codes_left"], json!(0));
    assert!(t
        .outbox()
        .iter()
        .any(|m| m.to == "owner@example.test" && m.subject.contains("second factor was removed")));
    // The password alone signs in again.
    let c = t.client();
    let r = c.login("owner@example.test", PASSWORD).await;
    assert!(r.body["token"].is_string());
    assert_eq!(
        t.audit_rows_where("action = 'auth.mfa_remove' AND outcome = 'allowed'")
            .await
            .len(),
        1
    );
}

both!(a_company_that_requires_mfa_holds_members_to_enrolment);
async fn a_company_that_requires_mfa_holds_members_to_enrolment(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Rakennus Oy", "owner@example.test")
        .await;
    let (member, _) = t
        .member(&owner, &cid, "worker@example.test", "member")
        .await;
    let settings = format!("/api/v1/companies/{cid}");

    // Turning it on needs a factor of one's own.
    let r = owner
        .patch(&settings, json!({"settings": {"require_mfa": true}}))
        .await;
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.body);
    owner.enrol_totp(&t).await;
    let r = owner
        .patch(&settings, json!({"settings": {"require_mfa": true}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let members = owner.get(&format!("/api/v1/companies/{cid}/members")).await;
    let has: Vec<(String, bool)> = members.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap().to_string(),
                m["has_mfa"] == json!(true),
            )
        })
        .collect();
    assert!(
        has.contains(&("owner@example.test".into(), true)),
        "{has:?}"
    );
    assert!(
        has.contains(&("worker@example.test".into(), false)),
        "{has:?}"
    );

    // The member's live session is held at once, and so is a new one.
    let r = member.get(&settings).await;
    assert_eq!((r.status, r.code()), (403, "mfa_enrolment_required"));
    let c = t.client();
    let r = c.login("worker@example.test", PASSWORD).await;
    assert_eq!(r.body["mfa_enrolment_required"], json!(true));
    for path in [
        settings.clone(),
        format!("/api/v1/companies/{cid}/folders"),
        "/api/v1/companies".to_string(),
        "/api/v1/me/sessions".to_string(),
    ] {
        let r = c.get(&path).await;
        assert_eq!(
            (r.status, r.code()),
            (403, "mfa_enrolment_required"),
            "{path}"
        );
    }
    let me = c.get("/api/v1/me").await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["mfa_enrolment_required"], json!(true));
    assert_eq!(c.get("/api/v1/me/mfa").await.status, 200);
    assert!(!t
        .audit_rows_where("action = 'request.denied' AND reason = 'mfa_enrolment_required'")
        .await
        .is_empty());

    // Enrolling lifts it at once.
    c.enrol_totp(&t).await;
    assert_eq!(c.get(&settings).await.status, 200);
    assert_eq!(
        c.get("/api/v1/me").await.body["mfa_enrolment_required"],
        json!(false)
    );

    // Turned off again: the other session is free too.
    let r = owner
        .patch(&settings, json!({"settings": {"require_mfa": false}}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(member.get(&settings).await.status, 200);
}

both!(an_operator_without_a_factor_can_only_enrol);
async fn an_operator_without_a_factor_can_only_enrol(t: TestApp) {
    let r =
        turva_app::operators::create(&t.app, &turva_app::Ctx::cli(), "op@example.test", PASSWORD)
            .await;
    assert!(r.is_ok());
    let c = t.client();
    let r = c.login("op@example.test", PASSWORD).await;
    assert_eq!(r.body["mfa_enrolment_required"], json!(true));
    let r = c.get("/api/v1/admin/audit").await;
    assert_eq!((r.status, r.code()), (403, "mfa_enrolment_required"));
    let r = c
        .post(
            "/api/v1/companies",
            json!({"name": "X Oy", "owner_email": "x@example.test"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "mfa_enrolment_required"));
    assert_eq!(t.count("companies").await, 0);
    c.enrol_totp(&t).await;
    assert_eq!(c.get("/api/v1/admin/audit").await.status, 200);
    // An independent computation of the code: the helper's own.
    assert_eq!(
        totp_code("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 59),
        "287082",
        "RFC 6238's first SHA-1 vector, last six digits"
    );
}

both!(an_admin_resets_the_factors_of_a_member_who_is_only_theirs);
async fn an_admin_resets_the_factors_of_a_member_who_is_only_theirs(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Rakennus Oy", "owner@example.test")
        .await;
    let (admin, admin_id) = t.member(&owner, &cid, "admin@example.test", "admin").await;
    let (worker, worker_id) = t
        .member(&owner, &cid, "worker@example.test", "member")
        .await;
    worker.enrol_totp(&t).await;
    let owner_id = owner.get("/api/v1/me").await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reset = |uid: &str| format!("/api/v1/companies/{cid}/members/{uid}/reset-mfa");

    // An admin may not reset an owner; a member may reset nobody.
    let r = admin.post(&reset(&owner_id), json!({})).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let r = worker.post(&reset(&admin_id), json!({})).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    // Not without recent auth.
    t.clock.advance_secs(11 * 60);
    let r = admin.post(&reset(&worker_id), json!({})).await;
    assert_eq!((r.status, r.code()), (403, "reauthentication_required"));
    let r = admin
        .post("/api/v1/auth/reauth", json!({"password": PASSWORD}))
        .await;
    assert_eq!(r.status, 204);
    let r = admin.post(&reset(&worker_id), json!({})).await;
    assert_eq!(r.status, 204, "{}", r.body);

    // The worker's sessions ended; the password alone signs in; emailed.
    assert_eq!(worker.get("/api/v1/me").await.status, 401);
    let c = t.client();
    let r = c.login("worker@example.test", PASSWORD).await;
    assert!(r.body["token"].is_string(), "{}", r.body);
    assert!(t
        .outbox()
        .iter()
        .any(|m| m.to == "worker@example.test" && m.subject.contains("were reset")));
    let events = t
        .audit_rows_where("action = 'auth.mfa_reset' AND outcome = 'allowed'")
        .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].object_id.as_deref(), Some(worker_id.as_str()));
    assert_eq!(events[0].actor_id.as_deref(), Some(admin_id.as_str()));

    // Someone who belongs to another company too: only the operator CLI.
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
    // A pending invitation elsewhere is a tie already.
    let r = admin.post(&reset(&worker_id), json!({})).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    c.accept(&t, "worker@example.test").await;
    let r = admin.post(&reset(&worker_id), json!({})).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));

    // Someone only invited is not the company's account to reset.
    let r = admin
        .post(
            &format!("/api/v1/companies/{cid}/members"),
            json!({"email": "invitee@example.test", "role": "member"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let invitee = r.body["user_id"].as_str().unwrap().to_string();
    let r = admin.post(&reset(&invitee), json!({})).await;
    assert_eq!((r.status, r.code()), (404, "not_found"), "{}", r.body);
}

both!(a_sign_in_from_a_new_address_or_device_is_emailed);
async fn a_sign_in_from_a_new_address_or_device_is_emailed(t: TestApp) {
    let (_cid, _owner) = t
        .company_with_owner("Rakennus Oy", "owner@example.test")
        .await;
    let notices = |t: &TestApp| {
        t.outbox()
            .iter()
            .filter(|m| m.to == "owner@example.test" && m.subject.contains("New sign-in"))
            .count()
    };
    // The first sign-in of the account and a repeat from the same device:
    // nothing to tell.
    assert_eq!(notices(&t), 0);
    t.client().login("owner@example.test", PASSWORD).await;
    assert_eq!(notices(&t), 0);
    let c = t.client();
    c.set_user_agent("Firefox on a new laptop\tv2");
    c.login("owner@example.test", PASSWORD).await;
    assert_eq!(notices(&t), 1);
    let mail = t
        .outbox()
        .into_iter()
        .find(|m| m.subject.contains("New sign-in"))
        .unwrap();
    assert!(
        mail.text.contains("Device: Firefox on a new laptopv2"),
        "{}",
        mail.text
    );
    assert!(mail.text.contains("Address: 127.0.0.1"), "{}", mail.text);
    assert!(!mail.text.contains('\t'), "control characters are dropped");
}
