//! Passkeys: registration (and what it refuses), the second step after the
//! password, passwordless sign-in, re-authentication, renaming, removal,
//! and the attacks a relying party must stop: another origin, a replayed
//! answer, a cloned authenticator, a credential registered twice.

use serde_json::{json, Value};
use turva_testkit::authenticator::SoftAuthenticator;
use turva_testkit::{Client, TestApp, PASSWORD};

use crate::both;

/// Registers a passkey for `c` with `auth`; answers the finish answer.
async fn register(c: &Client, auth: &mut SoftAuthenticator, name: &str) -> Value {
    let r = c
        .post("/api/v1/me/mfa/passkeys/start", json!({"name": name}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let answer = auth.register(&r.body);
    let r = c.post("/api/v1/me/mfa/passkeys/finish", answer).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

async fn passwordless(t: &TestApp, auth: &mut SoftAuthenticator) -> (u16, Value) {
    let c = t.client();
    let r = c.post("/api/v1/auth/passkey/start", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let answer = auth.assert(&r.body);
    let r = c.post("/api/v1/auth/passkey/finish", answer).await;
    (r.status, r.body)
}

both!(passkey_registration_second_step_and_passwordless);
async fn passkey_registration_second_step_and_passwordless(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Rakennus Oy", "owner@example.test")
        .await;
    let mut auth = t.authenticator();

    // The options name this server as the relying party, require user
    // verification and prefer a discoverable credential.
    let r = owner
        .post("/api/v1/me/mfa/passkeys/start", json!({"name": "Laptop"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let pk = &r.body["publicKey"];
    assert_eq!(pk["rp"]["id"], json!("localhost"), "{}", r.body);
    assert_eq!(
        pk["authenticatorSelection"]["userVerification"],
        json!("required")
    );
    assert_eq!(
        pk["authenticatorSelection"]["residentKey"],
        json!("preferred")
    );
    assert_eq!(pk["attestation"], json!("none"));

    // An answer made for another origin (a phishing site) is refused, and
    // spends the ceremony: the right answer to it is refused after.
    let options = r.body.clone();
    let mut phished = SoftAuthenticator::new("https://turva.example.evil");
    let r = owner
        .post("/api/v1/me/mfa/passkeys/finish", phished.register(&options))
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid_input"), "{}", r.body);
    let r = owner
        .post("/api/v1/me/mfa/passkeys/finish", auth.register(&options))
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid_input"), "{}", r.body);
    auth.credentials.clear();
    assert_eq!(owner.get("/api/v1/me").await.body["has_mfa"], json!(false));

    // A real registration: the first factor brings ten recovery codes.
    let r = owner
        .post("/api/v1/me/mfa/passkeys/start", json!({"name": "Laptop"}))
        .await;
    let answer = auth.register(&r.body);
    let done = owner
        .post("/api/v1/me/mfa/passkeys/finish", answer.clone())
        .await;
    assert_eq!(done.status, 201, "{}", done.body);
    assert_eq!(done.body["name"], json!("Laptop"));
    assert_eq!(done.body["recovery_codes"].as_array().unwrap().len(), 10);
    let id = done.body["id"].as_str().unwrap().to_string();
    // The same answer again: its ceremony is spent.
    let r = owner.post("/api/v1/me/mfa/passkeys/finish", answer).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let me = owner.get("/api/v1/me").await;
    assert_eq!(me.body["has_mfa"], json!(true));
    let mfa = owner.get("/api/v1/me/mfa").await;
    assert_eq!(mfa.body["factors"][0]["type"], json!("passkey"));
    assert_eq!(mfa.body["factors"][0]["name"], json!("Laptop"));
    assert!(t
        .outbox()
        .iter()
        .any(|m| m.to == "owner@example.test" && m.subject.contains("second factor was added")));

    // A second registration lists the first credential to exclude; an
    // authenticator that registers it anyway is refused.
    let r = owner
        .post("/api/v1/me/mfa/passkeys/start", json!({"name": "Again"}))
        .await;
    let excluded = r.body["publicKey"]["excludeCredentials"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(excluded, 1, "{}", r.body);
    let r = owner
        .post("/api/v1/me/mfa/passkeys/finish", auth.attest(&r.body, 0))
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid_input"), "{}", r.body);
    // Nor may another account claim that credential.
    let (member, _) = t
        .member(&owner, &cid, "member@example.test", "member")
        .await;
    let r = member
        .post("/api/v1/me/mfa/passkeys/start", json!({"name": "Borrowed"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = member
        .post("/api/v1/me/mfa/passkeys/finish", auth.attest(&r.body, 0))
        .await;
    assert_eq!((r.status, r.code()), (409, "conflict"), "{}", r.body);
    assert_eq!(member.get("/api/v1/me").await.body["has_mfa"], json!(false));

    // Renamed by its owner; an unknown id is 404.
    let r = owner
        .patch(
            &format!("/api/v1/me/mfa/{id}"),
            json!({"name": "Work laptop"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let mfa = owner.get("/api/v1/me/mfa").await;
    assert_eq!(mfa.body["factors"][0]["name"], json!("Work laptop"));
    let r = owner
        .patch(
            "/api/v1/me/mfa/00000000-0000-4000-8000-000000000000",
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(r.status, 404);

    // After the password, the challenge offers the passkey, and its answer
    // completes the sign-in.
    let c = t.client();
    let r = c
        .post(
            "/api/v1/auth/login",
            json!({"email": "owner@example.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.body["mfa_required"], json!(true), "{}", r.body);
    let token = r.body["mfa_token"].as_str().unwrap().to_string();
    let options = r.body["passkey"].clone();
    let allowed = options["publicKey"]["allowCredentials"].as_array().unwrap();
    assert_eq!(allowed.len(), 1, "{options}");
    let first_answer = auth.assert(&options);
    let r = c
        .post(
            "/api/v1/auth/mfa",
            json!({"mfa_token": token, "passkey": first_answer}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["user"]["has_mfa"], json!(true));
    c.refresh_csrf().await;
    let sessions = c.get("/api/v1/me/sessions").await;
    let current = sessions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == json!(true))
        .unwrap()
        .clone();
    assert_eq!(current["method"], json!("passkey"));

    // That answer does not sign in again: it signed another challenge.
    let c2 = t.client();
    let r = c2
        .post(
            "/api/v1/auth/login",
            json!({"email": "owner@example.test", "password": PASSWORD}),
        )
        .await;
    let token2 = r.body["mfa_token"].as_str().unwrap().to_string();
    let r = c2
        .post(
            "/api/v1/auth/mfa",
            json!({"mfa_token": token2, "passkey": first_answer}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (401, "invalid_credentials"),
        "{}",
        r.body
    );
    // Neither code nor passkey, or both: malformed.
    let r = c2
        .post("/api/v1/auth/mfa", json!({"mfa_token": token2}))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);

    // Passwordless: the passkey alone signs in, as MFA.
    let (status, body) = passwordless(&t, &mut auth).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["email"], json!("owner@example.test"));
    assert_eq!(body["user"]["has_mfa"], json!(true));
    let pc = t.client();
    pc.use_bearer(body["token"].as_str().unwrap());
    assert_eq!(pc.get("/api/v1/companies").await.status, 200);

    // A replayed passwordless answer is refused.
    let c3 = t.client();
    let r = c3.post("/api/v1/auth/passkey/start", json!({})).await;
    let answer = auth.assert(&r.body);
    assert_eq!(
        c3.post("/api/v1/auth/passkey/finish", answer.clone())
            .await
            .status,
        200
    );
    let r = c3.post("/api/v1/auth/passkey/finish", answer).await;
    assert_eq!(
        (r.status, r.code()),
        (401, "invalid_credentials"),
        "{}",
        r.body
    );

    // Signed for another origin: refused.
    auth.origin = "https://turva.example.evil".into();
    let (status, _) = passwordless(&t, &mut auth).await;
    assert_eq!(status, 401);
    auth.origin = t.app.config().public_url();

    // A counter that went back (a cloned authenticator): refused.
    let counter = auth.credentials[0].counter;
    auth.credentials[0].counter = 1;
    let (status, _) = passwordless(&t, &mut auth).await;
    assert_eq!(status, 401);
    auth.credentials[0].counter = counter + 5;
    let (status, body) = passwordless(&t, &mut auth).await;
    assert_eq!(status, 200, "{body}");

    // Failures and successes are audited.
    let rows = t
        .audit_rows_where("action IN ('auth.login', 'auth.login_failed')")
        .await;
    assert!(rows
        .iter()
        .any(|r| r.action == "auth.login" && r.reason.as_deref() == Some("passkey")));
    assert!(rows.iter().any(
        |r| r.action == "auth.login_failed" && r.reason.as_deref() == Some("passkey_challenge")
    ));
    assert!(
        rows.iter()
            .any(|r| r.action == "auth.login_failed"
                && r.reason.as_deref() == Some("invalid_passkey"))
    );
    let renamed = t.audit_rows_where("action = 'auth.mfa_rename'").await;
    assert_eq!(renamed.len(), 2, "one allowed, one not found: {renamed:?}");

    // Removed: it signs in no more.
    let r = owner.delete(&format!("/api/v1/me/mfa/{id}")).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let (status, _) = passwordless(&t, &mut auth).await;
    assert_eq!(status, 401);
    assert_eq!(owner.get("/api/v1/me").await.body["has_mfa"], json!(false));
}

both!(passkey_reauthentication);
async fn passkey_reauthentication(t: TestApp) {
    let (_cid, owner) = t
        .company_with_owner("Rakennus Oy", "owner@example.test")
        .await;
    let mut auth = t.authenticator();
    register(&owner, &mut auth, "Phone").await;

    // Twenty minutes on, a sensitive action needs re-authentication.
    t.clock.advance_secs(20 * 60);
    let r = owner
        .post("/api/v1/me/mfa/passkeys/start", json!({"name": "Key"}))
        .await;
    assert_eq!((r.status, r.code()), (403, "reauthentication_required"));

    // Another session of the same user (signed in with the passkey alone).
    let (status, body) = passwordless(&t, &mut auth).await;
    assert_eq!(status, 200, "{body}");
    let other = t.client();
    other.use_bearer(body["token"].as_str().unwrap());

    let r = owner.post("/api/v1/auth/reauth/passkey", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let options = r.body.clone();
    // The other session cannot finish this session's ceremony.
    let stolen = auth.assert(&options);
    auth.credentials[0].counter -= 1;
    let r = other
        .post("/api/v1/auth/reauth", json!({"passkey": stolen}))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (401, "invalid_credentials"),
        "{}",
        r.body
    );
    let r = owner
        .post(
            "/api/v1/auth/reauth",
            json!({"passkey": auth.assert(&options)}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // Spent: the same answer once more is refused.
    let again = auth.assert(&options);
    let r = owner
        .post("/api/v1/auth/reauth", json!({"passkey": again}))
        .await;
    assert_eq!((r.status, r.code()), (401, "invalid_credentials"));
    let r = owner
        .post("/api/v1/me/mfa/passkeys/start", json!({"name": "Key"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let reauths = t
        .audit_rows_where("action = 'auth.reauth' AND reason = 'passkey'")
        .await;
    assert_eq!(reauths.len(), 1, "{reauths:?}");
}

both!(passkey_input_is_checked);
async fn passkey_input_is_checked(t: TestApp) {
    let (_cid, owner) = t
        .company_with_owner("Rakennus Oy", "owner@example.test")
        .await;
    let c = t.client();
    for bad in [
        json!({}),
        json!({"id": "x", "rawId": "x", "type": "public-key"}),
        json!({"id": "AA", "rawId": "AA", "type": "public-key", "response": {
            "authenticatorData": "AA", "clientDataJSON": "bm90IGpzb24", "signature": "AA"}}),
    ] {
        let r = c.post("/api/v1/auth/passkey/finish", bad.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_input"),
            "{bad}: {}",
            r.body
        );
        let r = owner
            .post("/api/v1/me/mfa/passkeys/finish", bad.clone())
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_input"),
            "{bad}: {}",
            r.body
        );
    }
    let r = owner
        .post("/api/v1/me/mfa/passkeys/start", json!({"name": ""}))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // A passkey the server never saw: 401, nothing created.
    let mut stranger = t.authenticator();
    let r = owner
        .post("/api/v1/me/mfa/passkeys/start", json!({"name": "Stray"}))
        .await;
    stranger.register(&r.body);
    let (status, _) = passwordless(&t, &mut stranger).await;
    assert_eq!(status, 401);
    // Nor does a made-up user handle mint a key for a made-up user.
    stranger.credentials[0].user_handle = vec![0x42; 16];
    let keys = t.count("data_keys").await;
    let (status, _) = passwordless(&t, &mut stranger).await;
    assert_eq!(status, 401);
    assert_eq!(t.count("data_keys").await, keys);
    let logins = t
        .audit_rows_where("action = 'auth.login' AND reason = 'passkey'")
        .await;
    assert!(logins.is_empty(), "{logins:?}");
    // Without passkeys on the account, re-auth by passkey has nothing to offer.
    let r = owner.post("/api/v1/auth/reauth/passkey", json!({})).await;
    assert_eq!((r.status, r.code()), (409, "conflict"), "{}", r.body);
}

both!(passkeys_need_a_host_name, |c| {
    c.server.public_url = Some("https://127.0.0.1:8443".into());
});
async fn passkeys_need_a_host_name(t: TestApp) {
    let (_cid, owner) = t
        .company_with_owner("Rakennus Oy", "owner@example.test")
        .await;
    let r = t
        .client()
        .post("/api/v1/auth/passkey/start", json!({}))
        .await;
    assert_eq!((r.status, r.code()), (409, "conflict"), "{}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("public_url"));
    let r = owner.post("/api/v1/me/mfa/passkeys/start", json!({})).await;
    assert_eq!((r.status, r.code()), (409, "conflict"), "{}", r.body);
}
