//! The command line, run in-process against the data directory (and
//! database) of a running server: every command works while it serves.

use serde_json::json;
use turva_testkit::{TestApp, PASSWORD};

use crate::both;

/// `--data` and, on PostgreSQL, a config file naming the same database.
fn base_args(t: &TestApp) -> Vec<String> {
    let mut args = vec![
        "--data".to_string(),
        t.data_dir().to_string_lossy().into_owned(),
    ];
    if let Some(url) = &t.app.config().database.url {
        let path = t.dir.path().join("turva.toml");
        let _ = std::fs::write(&path, format!("[database]\nurl = \"{}\"\n", url.expose()));
        args.push("--config".into());
        args.push(path.to_string_lossy().into_owned());
    }
    args
}

pub(crate) async fn turva(t: &TestApp, args: &[&str], input: &str) -> Result<String, String> {
    let mut all = base_args(t);
    all.extend(args.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    turva::run_args(&refs, input.as_bytes()).await
}

fn is_id(s: &str) -> bool {
    turva_app::model::Id::<()>::parse("id", s).is_ok()
}

both!(commands_work_while_the_server_runs);
async fn commands_work_while_the_server_runs(t: TestApp) {
    let out = turva(
        &t,
        &["operator", "create", "--email", "op@example.test"],
        &format!("{PASSWORD}\n"),
    )
    .await;
    let out = out.unwrap_or_else(|e| panic!("{e}"));
    assert!(is_id(out.trim()) && out.lines().count() == 1, "{out:?}");
    let out = turva(
        &t,
        &[
            "company",
            "create",
            "--name",
            "Rakennus Oy",
            "--owner-email",
            "owner@example.test",
        ],
        "",
    )
    .await;
    let out = out.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.lines().count(), 1, "the id is the only line: {out:?}");
    let cid = out.trim().to_string();
    assert!(is_id(&cid));
    // The running server sees both at once.
    let op = t.client();
    op.login("op@example.test", PASSWORD).await;
    assert_eq!(op.get("/api/v1/me").await.body["is_operator"], json!(true));
    let owner = t.client();
    owner.accept(&t, "owner@example.test").await;
    owner.login("owner@example.test", PASSWORD).await;
    assert_eq!(
        owner.get(&format!("/api/v1/companies/{cid}")).await.body["name"],
        json!("Rakennus Oy")
    );
}

both!(command_errors_are_one_line_and_change_nothing);
async fn command_errors_are_one_line_and_change_nothing(t: TestApp) {
    let users = t.count("users").await;
    for (args, input, needle) in [
        (
            vec!["operator", "create", "--email", "not-an-email"],
            format!("{PASSWORD}\n"),
            "email",
        ),
        (
            vec!["operator", "create", "--email", "op@example.test"],
            "password\n".to_string(),
            "password",
        ),
        (
            vec!["operator", "create", "--email", "op@example.test"],
            String::new(),
            "no password",
        ),
        (
            vec![
                "company",
                "create",
                "--name",
                "",
                "--owner-email",
                "o@example.test",
            ],
            String::new(),
            "name",
        ),
        (
            vec!["company", "create", "--name", "X", "--owner-email", "nope"],
            String::new(),
            "owner_email",
        ),
        (vec!["company", "frobnicate"], String::new(), "frobnicate"),
    ] {
        let err = turva(&t, &args, &input).await.err().unwrap_or_default();
        assert!(err.contains(needle), "{args:?}: {err:?}");
        assert_eq!(err.lines().count(), 1, "{err:?}");
    }
    assert_eq!(t.count("users").await, users);
    assert_eq!(t.count("companies").await, 0);
}

#[tokio::test]
async fn a_bad_config_file_is_named_in_one_line() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("t.toml");
    std::fs::write(&path, "[server]\nlisen = \"x\"\n").unwrap_or_default();
    let data = dir.path().join("d");
    let args = [
        "--data",
        data.to_str().unwrap_or(""),
        "--config",
        path.to_str().unwrap_or(""),
        "openapi",
    ];
    let err = turva::run_args(&args, b"").await.err().unwrap_or_default();
    assert!(err.contains("lisen") && err.lines().count() == 1, "{err}");
    assert!(!data.exists(), "nothing was created");
}

#[tokio::test]
async fn openapi_prints_the_description() {
    let out = turva::run_args(&["openapi"], b"").await.unwrap_or_default();
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    assert!(doc["paths"]["/api/v1/auth/login"]["post"].is_object());
}

both!(audit_export_shows_a_cross_company_probe);
async fn audit_export_shows_a_cross_company_probe(t: TestApp) {
    let (cid_a, alice) = t.company_with_owner("A", "alice@example.test").await;
    let (cid_b, _) = t.company_with_owner("B", "bob@example.test").await;
    let alice_id = alice.get("/api/v1/me").await.body["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        alice
            .get(&format!("/api/v1/companies/{cid_b}/members"))
            .await
            .status,
        404
    );

    let out = turva(&t, &["audit", "export", "--company", &cid_b], "")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_default())
        .collect();
    let probe = events.iter().find(|e| e["outcome"] == json!("denied"));
    let probe = probe.unwrap_or_else(|| panic!("no denied event in {out}"));
    assert_eq!(probe["actor_id"], json!(alice_id));
    assert_eq!(probe["actor_email"], json!("alice@example.test"));
    assert_eq!(probe["company_id"], json!(cid_b));
    assert_eq!(probe["action"], json!("member.list"));
    assert_eq!(probe["ip"], json!("127.0.0.1"));
    assert_eq!(probe["credential"], json!("session"));
    for key in [
        "seq",
        "time",
        "object_type",
        "object_id",
        "object_version",
        "user_agent",
        "request_id",
    ] {
        assert!(probe.get(key).is_some(), "{key}");
    }
    // Company B's export holds nothing of company A, but B's owner's sign-ins.
    assert!(events.iter().all(|e| e["company_id"] != json!(cid_a)));
    assert!(events.iter().any(
        |e| e["action"] == json!("auth.login") && e["actor_email"] == json!("bob@example.test")
    ));
    assert!(events.iter().all(
        |e| e["actor_email"] != json!("alice@example.test") || e["outcome"] == json!("denied")
    ));

    let csv = turva(&t, &["audit", "export", "--format", "csv"], "")
        .await
        .unwrap_or_default();
    assert!(csv.starts_with("seq,time,actor_id,actor_email,company_id"));
    assert!(csv.lines().count() > events.len());
    let later = turva(
        &t,
        &["audit", "export", "--since", "2999-01-01T00:00:00Z"],
        "",
    )
    .await
    .unwrap_or_default();
    assert!(later.is_empty());
    let err = turva(&t, &["audit", "export", "--since", "yesterday"], "")
        .await
        .err()
        .unwrap_or_default();
    assert!(err.contains("--since") && err.lines().count() == 1, "{err}");
    assert_eq!(
        t.audit_rows_where("action = 'audit.export'").await.len(),
        3,
        "exports are audited"
    );
}

both!(audit_verify_reads_a_stopped_data_directory_and_changes_nothing);
/// `turva audit verify` on a stopped server's data directory: passes
/// untouched, fails on an edited event naming it, and in neither case
/// signs a checkpoint or moves anything (a tampered copy stays as it was).
async fn audit_verify_reads_a_stopped_data_directory_and_changes_nothing(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Tarkastus Oy", "tarkastus@example.test")
        .await;
    for _ in 0..3 {
        let _ = owner.get(&format!("/api/v1/companies/{cid}")).await;
    }
    let args = base_args(&t);
    let external = turva_app::checkpoint::external_file(&t.data_dir());
    let data = t.data_dir();
    let (_dir, config) = t.stop_keep().await;
    let run = |extra: &[&str]| {
        let mut all: Vec<String> = args.clone();
        all.extend(extra.iter().map(|s| s.to_string()));
        async move {
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            turva::run_args(&refs, &b""[..]).await
        }
    };
    let lines = || {
        std::fs::read_to_string(&external)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let before = lines();
    assert!(before > 0);
    let out = run(&["audit", "verify"])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.starts_with("verified ") && out.contains("signed checkpoints"),
        "{out}"
    );
    let app =
        turva_app::App::open_to_inspect(config, &data, std::sync::Arc::new(turva_app::SystemClock))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    crate::audit::tamper(
        &app,
        &["UPDATE audit_events SET action = 'company.update' WHERE seq = 3"],
    )
    .await;
    app.close().await;
    let err = run(&["audit", "verify"]).await.err().unwrap_or_default();
    assert!(err.contains("event 3") && err.lines().count() == 1, "{err}");
    assert_eq!(lines(), before, "verifying signed nothing");
}

both!(user_reset_mfa_removes_every_factor_of_anyone);
async fn user_reset_mfa_removes_every_factor_of_anyone(t: TestApp) {
    let (_cid, owner) = t
        .company_with_owner("Rakennus Oy", "owner@example.test")
        .await;
    owner.enrol_totp(&t).await;
    let out = turva(
        &t,
        &["user", "reset-mfa", "--email", "owner@example.test"],
        "",
    )
    .await;
    assert_eq!(
        out.as_deref().map(str::trim),
        Ok("reset the second factors of owner@example.test; their sessions and API tokens ended")
    );
    // Sessions ended; the password alone signs in again.
    assert_eq!(owner.get("/api/v1/me").await.status, 401);
    let c = t.client();
    let r = c.login("owner@example.test", PASSWORD).await;
    assert!(r.body["token"].is_string(), "{}", r.body);
    assert_eq!(c.get("/api/v1/me").await.body["has_mfa"], json!(false));
    assert!(t
        .outbox()
        .iter()
        .any(|m| m.to == "owner@example.test" && m.subject.contains("were reset")));
    assert_eq!(
        t.audit_rows_where("action = 'auth.mfa_reset'").await.len(),
        1
    );
    let out = turva(
        &t,
        &["user", "reset-mfa", "--email", "nobody@example.test"],
        "",
    )
    .await;
    assert_eq!(
        out,
        Err("no user has the email nobody@example.test".to_string())
    );
}
