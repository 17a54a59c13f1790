//! Bad input: a battery of malformed requests gets only 4xx problem
//! documents and changes nothing.

use serde_json::json;
use turva_testkit::TestApp;

use crate::both;

both!(malformed_requests_get_4xx_problems_and_change_nothing);
async fn malformed_requests_get_4xx_problems_and_change_nothing(t: TestApp) {
    let (cid, owner) = t.company_with_owner("A", "owner@example.test").await;
    let tables = [
        "users",
        "companies",
        "memberships",
        "sessions",
        "one_time_tokens",
        "data_keys",
    ];
    let mut before = Vec::new();
    for table in tables {
        before.push(t.count(table).await);
    }
    let members = format!("/api/v1/companies/{cid}/members");
    let big = "x".repeat(2 * 1024 * 1024);
    let cases: Vec<(&str, String, &str, Vec<u8>, u16)> = vec![
        (
            "POST",
            members.clone(),
            "application/json",
            b"{not json".to_vec(),
            400,
        ),
        (
            "POST",
            members.clone(),
            "application/json",
            b"[]".to_vec(),
            400,
        ),
        (
            "POST",
            members.clone(),
            "application/json",
            br#"{"email":"a@example.test","role":"member","admin":true}"#.to_vec(),
            400,
        ),
        (
            "POST",
            members.clone(),
            "application/json",
            br#"{"email":"a@example.test"}"#.to_vec(),
            400,
        ),
        (
            "POST",
            members.clone(),
            "application/json",
            br#"{"email":5,"role":"member"}"#.to_vec(),
            400,
        ),
        (
            "POST",
            members.clone(),
            "application/json",
            br#"{"email":"a\u0000@example.test","role":"member"}"#.to_vec(),
            400,
        ),
        (
            "POST",
            members.clone(),
            "application/json",
            format!(
                r#"{{"email":"{}@example.test","role":"member"}}"#,
                "a".repeat(300)
            )
            .into_bytes(),
            400,
        ),
        (
            "POST",
            members.clone(),
            "application/json",
            br#"{"email":"not-an-email","role":"member"}"#.to_vec(),
            400,
        ),
        (
            "POST",
            members.clone(),
            "application/json",
            br#"{"email":"a@example.test","role":"emperor"}"#.to_vec(),
            422,
        ),
        (
            "POST",
            members.clone(),
            "application/json",
            br#"{"email":"a@example.test","role":"member","language":"sv"}"#.to_vec(),
            422,
        ),
        (
            "POST",
            members.clone(),
            "text/plain",
            br#"{"email":"a@example.test","role":"member"}"#.to_vec(),
            415,
        ),
        (
            "POST",
            members.clone(),
            "application/x-www-form-urlencoded",
            b"email=a@example.test&role=member".to_vec(),
            415,
        ),
        (
            "POST",
            members.clone(),
            "application/json",
            format!(r#"{{"email":"{big}"}}"#).into_bytes(),
            413,
        ),
        (
            "POST",
            "/api/v1/companies/not-an-id/members".into(),
            "application/json",
            br#"{"email":"a@example.test","role":"member"}"#.to_vec(),
            400,
        ),
        (
            "POST",
            "/api/v1/companies/6F1C2A8E-3B4D-4E5F-8A9B-0C1D2E3F4A5B/members".into(),
            "application/json",
            br#"{"email":"a@example.test","role":"member"}"#.to_vec(),
            400,
        ),
        (
            "PATCH",
            format!("/api/v1/companies/{cid}"),
            "application/json",
            format!(r#"{{"name":"{}"}}"#, "n".repeat(201)).into_bytes(),
            400,
        ),
        (
            "PATCH",
            format!("/api/v1/companies/{cid}"),
            "application/json",
            br#"{"name":"   "}"#.to_vec(),
            400,
        ),
        (
            "PATCH",
            format!("/api/v1/companies/{cid}"),
            "application/json",
            br#"{"name":"a\u0007b"}"#.to_vec(),
            400,
        ),
        (
            "POST",
            "/api/v1/auth/login".into(),
            "application/json",
            br#"{"email":"owner@example.test"}"#.to_vec(),
            400,
        ),
        (
            "POST",
            "/api/v1/auth/login".into(),
            "application/json",
            format!(
                r#"{{"email":"owner@example.test","password":"{}"}}"#,
                "p".repeat(2000)
            )
            .into_bytes(),
            400,
        ),
        (
            "POST",
            "/api/v1/auth/accept-invite".into(),
            "application/json",
            br#"{"token":"abc","password":"x","name":"n","extra":1}"#.to_vec(),
            400,
        ),
        ("GET", format!("{members}?limit=0"), "", Vec::new(), 400),
        ("GET", format!("{members}?limit=abc"), "", Vec::new(), 400),
        (
            "GET",
            format!("{members}?cursor=../../etc"),
            "",
            Vec::new(),
            400,
        ),
        (
            "DELETE",
            "/api/v1/me/sessions/1".into(),
            "",
            Vec::new(),
            400,
        ),
        ("GET", "/api/v1/companies/%FF".into(), "", Vec::new(), 400),
        ("DELETE", format!("{members}/%C3%28"), "", Vec::new(), 400),
        (
            "PUT",
            "/api/v1/me".into(),
            "application/json",
            b"{}".to_vec(),
            405,
        ),
    ];
    for (method, path, ct, body, want) in cases {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut req = owner.raw().request(m, owner.url(&path));
        if !ct.is_empty() {
            req = req.header("content-type", ct).body(body);
        }
        let r = owner.send(req).await;
        assert_eq!(r.status, want, "{method} {path} {ct}: {}", r.body);
        assert_eq!(
            r.header("content-type"),
            Some("application/problem+json"),
            "{method} {path}"
        );
        let text = r.body.to_string();
        for leak in ["SELECT", "sqlx", "/root", "/tmp", "panicked", "src/"] {
            assert!(!text.contains(leak), "{method} {path} leaks {leak}: {text}");
        }
        assert!(r.body["code"].is_string() && r.body["status"] == json!(want));
    }
    for (table, n) in tables.iter().zip(before) {
        assert_eq!(t.count(table).await, n, "{table} changed");
    }
    assert!(
        t.outbox().iter().all(|m| m.to != "a@example.test"),
        "no invitation went out"
    );
}

both!(a_client_that_disconnects_mid_request_breaks_nothing);
async fn a_client_that_disconnects_mid_request_breaks_nothing(t: TestApp) {
    let (cid, owner) = t.company_with_owner("A", "owner@example.test").await;
    // Clients that give up after a millisecond, many times over.
    let quick = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(std::time::Duration::from_millis(3))
        .build()
        .unwrap_or_default();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let req = quick
            .post(owner.url("/api/v1/auth/login"))
            .json(&json!({"email": format!("u{i}@example.test"), "password": "whatever whatever"}));
        tasks.push(tokio::spawn(req.send()));
    }
    for task in tasks {
        let _ = task.await;
    }
    // The database is not wedged: writes keep working.
    for i in 0..20 {
        let r = owner
            .post(
                &format!("/api/v1/companies/{cid}/members"),
                json!({"email": format!("after{i}@example.test"), "role": "reader"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
}
