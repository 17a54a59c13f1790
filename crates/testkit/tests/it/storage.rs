//! Storage at rest: the SQLCipher file, the master key, schema versions.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use turva_app::{App, SystemClock};
use turva_testkit::{Backend, TestApp};

use crate::both;

async fn reopen(dir: &std::path::Path, config: turva_app::Config) -> Result<App, String> {
    App::open(config, dir, Arc::new(SystemClock))
        .await
        .map(|(a, _)| a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_database_is_unreadable_without_its_key() {
    let Some(t) = TestApp::start(Backend::Sqlite).await else {
        panic!("no app")
    };
    let _ = t
        .company_with_owner("Salainen Oy", "owner@example.test")
        .await;
    let (dir, _) = t.stop_keep().await;
    let db = dir.path().join("data/turva.db");
    let bytes = std::fs::read(&db).unwrap_or_default();
    assert!(bytes.len() > 4096);
    assert_ne!(
        &bytes[..16],
        b"SQLite format 3\0",
        "the file has no plaintext header"
    );
    let needle = b"Salainen Oy";
    assert!(
        !bytes.windows(needle.len()).any(|w| w == needle),
        "company names are not in the clear"
    );
    if let Ok(out) = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg("SELECT count(*) FROM sqlite_master")
        .output()
    {
        assert!(!out.status.success(), "sqlite3 must not read the file");
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a database"));
    }
    let mode = |p: &str| {
        std::fs::metadata(dir.path().join(p))
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    };
    assert_eq!(mode("data"), 0o700);
    assert_eq!(mode("data/master.key"), 0o600);
    assert_eq!(mode("data/keyring.json"), 0o600);
    assert_eq!(mode("data/turva.db"), 0o600);
    assert_eq!(mode("data/turva-audit.db"), 0o600);
    assert_eq!(mode("data/turva-audit-stage.db"), 0o600);
}

both!(a_wrong_master_key_is_refused_clearly);
async fn a_wrong_master_key_is_refused_clearly(t: TestApp) {
    let _ = t.company_with_owner("A", "owner@example.test").await;
    let (dir, config) = t.stop_keep().await;
    let data = dir.path().join("data");
    let right = std::fs::read(data.join("master.key")).unwrap_or_default();
    std::fs::write(data.join("master.key"), format!("v1 {}\n", "ab".repeat(32)))
        .unwrap_or_default();
    let err = reopen(&data, config.clone())
        .await
        .err()
        .unwrap_or_default();
    assert!(err.contains("master key"), "{err}");
    std::fs::write(data.join("master.key"), "not a key\n").unwrap_or_default();
    let err = reopen(&data, config.clone())
        .await
        .err()
        .unwrap_or_default();
    assert!(err.contains("master key file"), "{err}");
    // The right key still opens everything: nothing was damaged.
    std::fs::write(data.join("master.key"), right).unwrap_or_default();
    let app = reopen(&data, config).await;
    assert!(app.is_ok(), "{:?}", app.err());
    if let Ok(app) = app {
        app.close().await;
    }
}

both!(a_database_from_a_newer_turva_is_refused);
async fn a_database_from_a_newer_turva_is_refused(t: TestApp) {
    let sql = "INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future')";
    match t.app.db() {
        turva_testkit::turva_store_db::Db::Sqlite { write, .. } => {
            sqlx::query(sql).execute(write).await.map(|_| ())
        }
        turva_testkit::turva_store_db::Db::Postgres(p) => {
            sqlx::query(sql).execute(p).await.map(|_| ())
        }
    }
    .unwrap_or_default();
    let (dir, config) = t.stop_keep().await;
    let err = reopen(&dir.path().join("data"), config)
        .await
        .err()
        .unwrap_or_default();
    assert!(err.contains("newer") && err.contains("999"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_key_ring_is_reported_not_recreated() {
    let Some(t) = TestApp::start(Backend::Sqlite).await else {
        panic!("no app")
    };
    let (dir, config) = t.stop_keep().await;
    let data = dir.path().join("data");
    std::fs::remove_file(data.join("keyring.json")).unwrap_or_default();
    let err = reopen(&data, config).await.err().unwrap_or_default();
    assert!(err.contains("key ring"), "{err}");
    assert!(!data.join("keyring.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_reuses_keys_certificate_and_data() {
    let Some(t) = TestApp::start(Backend::Sqlite).await else {
        panic!("no app")
    };
    let (cid, _) = t.company_with_owner("A", "owner@example.test").await;
    let (dir, config) = t.stop_keep().await;
    let data = dir.path().join("data");
    let cert = std::fs::read(data.join("tls-cert.pem")).unwrap_or_default();
    let key = std::fs::read(data.join("master.key")).unwrap_or_default();
    let app = reopen(&data, config)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        std::fs::read(data.join("master.key")).unwrap_or_default(),
        key
    );
    let (files, created) =
        turva_web::tls::files(None, None, &data).unwrap_or_else(|e| panic!("{e}"));
    assert!(!created);
    assert_eq!(std::fs::read(&files.cert).unwrap_or_default(), cert);
    let running = turva_web::serve(
        app,
        "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
        files,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let c = turva_testkit::Client::new(&format!("https://127.0.0.1:{}", running.addr.port()));
    c.login("owner@example.test", turva_testkit::PASSWORD).await;
    let me = c.get("/api/v1/me").await;
    assert_eq!(
        me.body["memberships"][0]["company_id"].as_str(),
        Some(cid.as_str())
    );
    let _ = running.shutdown().await;
}
