//! The pages in headless Chromium: this test starts the server and fills
//! it, then runs `e2e/pages.mjs` (playwright-core) against it, which signs
//! in through the page, walks to a document, checks that a script payload
//! never runs and runs axe-core at phone and desktop width.
//!
//! Needs `node`, Debian's `/usr/bin/chromium` (or `CHROMIUM`) and
//! `npm ci --prefix e2e`; without them it is skipped with a notice, and
//! `TURVA_REQUIRE_BROWSER=1` (set by `.ci/run`) makes a skip a failure.
//! `TURVA_SCREENSHOTS=DIR` saves the screenshots there.

use std::path::PathBuf;

use serde_json::json;
use turva_testkit::{Backend, TestApp, PASSWORD};

fn e2e_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .join("../../e2e")
}

/// What is missing for a browser run, if anything.
fn missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !std::path::Path::new(&chromium).exists() {
        return Some(format!("{chromium} (apt-get install chromium)"));
    }
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Some("node".into());
    }
    if !e2e_dir().join("node_modules/playwright-core").exists() {
        return Some("e2e/node_modules (npm ci --prefix e2e)".into());
    }
    None
}

/// Whether the browser tests must be skipped (with a notice); a skip is
/// a failure under `TURVA_REQUIRE_BROWSER=1`.
fn skipped() -> bool {
    let Some(what) = missing() else {
        return false;
    };
    assert!(
        std::env::var("TURVA_REQUIRE_BROWSER").as_deref() != Ok("1"),
        "TURVA_REQUIRE_BROWSER=1 but {what} is missing"
    );
    eprintln!("NOTICE: browser test skipped: {what} is missing");
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_work_in_a_real_browser() {
    if skipped() {
        return;
    }
    let Some(t) = TestApp::start(Backend::Sqlite).await else {
        panic!("the test app did not start");
    };
    let email = "browser.owner@example.test";
    let (cid, owner) = t.company_with_owner("Rakennus Oy", email).await;
    let payload = "<img src=x onerror=alert(1)>";
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({ "name": payload }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let folder = r.body["id"].as_str().unwrap_or_default().to_string();
    // A few more folders, for the tree and the listings.
    for (name, parent) in [
        ("Kuvat", Some(folder.as_str())),
        ("Raportit", Some(folder.as_str())),
        ("Työmaa Itäkatu 5", None),
    ] {
        let r = owner
            .post(
                &format!("/api/v1/companies/{cid}/folders"),
                json!({ "name": name, "parent_id": parent }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/templates"),
            json!({
                "name": "Tarkastus",
                "fields": [
                    {"key": "kohde", "type": "text", "label": "Kohde", "required": true},
                    {"key": "ala", "type": "number", "label": "Pinta-ala", "unit": "m²"},
                    {"key": "huom", "type": "long_text", "label": "Huomiot"}
                ]
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let template = r.body["id"].as_str().unwrap_or_default().to_string();
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folder-templates"),
            json!({
                "name": "Työmaa",
                "identifiers": [{"key": "numero", "label": "Site number", "required": true, "names_folder": true}],
                "folders": [{"name": "Kuvat"}],
                "documents": [{"title": "Tarkastus", "template_id": template}]
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = owner
        .post(
            &format!("/api/v1/folders/{folder}/documents"),
            json!({
                "title": "Tarkastus 1",
                "template_id": template,
                "fields": {"kohde": payload, "ala": 120.5, "huom": "Katto kunnossa.\nRäystäät puhdistettava."}
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let document = r.body["id"].as_str().unwrap_or_default().to_string();

    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(e2e_dir().join("pages.mjs"))
        .env("TURVA_URL", &t.base)
        .env("TURVA_EMAIL", email)
        .env("TURVA_PASSWORD", PASSWORD)
        .env("TURVA_COMPANY", &cid)
        .env("TURVA_FOLDER", &folder)
        .env("TURVA_DOCUMENT", &document)
        .env("TURVA_PAYLOAD", payload)
        .kill_on_drop(true);
    // A relative screenshot directory is the repository's.
    if let Ok(dir) = std::env::var("TURVA_SCREENSHOTS") {
        cmd.env("TURVA_SCREENSHOTS", e2e_dir().join("..").join(dir));
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(180), cmd.output())
        .await
        .expect("the browser run took over 3 minutes")
        .expect("node did not start");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("browser checks passed"), "{text}");
    // The views the browser made are on record, like the API's.
    let views = t
        .audit_rows_where(&format!(
            "action = 'document.view' AND object_id = '{document}'"
        ))
        .await;
    assert!(!views.is_empty(), "the document's page view is audited");
}

/// Issue 8's journey through the pages alone (`e2e/journey.mjs`), with
/// this test answering what only the server's side knows: the first-run
/// set-up link, the TOTP code of the moment, the emailed invitation links,
/// and the owner's templates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_journey_through_the_pages() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    if skipped() {
        return;
    }
    let Some(t) = TestApp::start(Backend::Sqlite).await else {
        panic!("the test app did not start");
    };
    let operator_email = "journey.operator@example.test";
    // A fresh installation: the link `turva serve` would print.
    let setup = turva_app::operators::first_run_token(&t.app)
        .await
        .expect("read the users")
        .expect("no operator yet");

    let mut child = tokio::process::Command::new("node")
        .arg(e2e_dir().join("journey.mjs"))
        .env("TURVA_URL", &t.base)
        .env("TURVA_PASSWORD", PASSWORD)
        .env("TURVA_OPERATOR", operator_email)
        .env("TURVA_SETUP", format!("/setup?token={setup}"))
        .envs(
            std::env::var("TURVA_SCREENSHOTS")
                .map(|dir| ("TURVA_SCREENSHOTS", e2e_dir().join("..").join(dir)))
                .ok(),
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node did not start");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut said = String::new();
    let talk = async {
        while let Some(line) = lines.next_line().await.expect("read node's output") {
            said.push_str(&line);
            said.push('\n');
            let Some(rest) = line.strip_prefix("NEED ") else {
                continue;
            };
            let (what, arg) = rest.split_once(' ').unwrap_or((rest, ""));
            let answer = match what {
                "code" => {
                    // A code not used before: the next 30-second step.
                    t.clock.advance_secs(30);
                    t.totp_now(arg)
                }
                "invite" => t
                    .token_arriving(arg, "accept-invite")
                    .await
                    .unwrap_or_else(|| panic!("no invitation to {arg}")),
                "templates" => {
                    owners_templates(&t, arg).await;
                    "ok".to_string()
                }
                other => panic!("the journey asked for {other}"),
            };
            stdin
                .write_all(format!("{answer}\n").as_bytes())
                .await
                .expect("answer node");
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(240), talk)
        .await
        .expect("the journey took over 4 minutes");
    let out = child.wait_with_output().await.expect("node ended");
    let text = format!("{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("journey passed"), "{text}");
}

/// The templates the journey's owner uses, made through the API.
async fn owners_templates(t: &TestApp, cid: &str) {
    let owner = t.client();
    owner.login("journey.owner@example.test", PASSWORD).await;
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/templates"),
            json!({
                "name": "Kuvaus",
                "fields": [
                    {"key": "kohde", "type": "text", "label": "Kohde", "required": true},
                    {"key": "kuvat", "type": "file", "label": "Kuvat"},
                    {"key": "kuittaus", "type": "signature", "label": "Kuittaus"}
                ]
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folder-templates"),
            json!({
                "name": "Työmaa",
                "identifiers": [
                    {"key": "numero", "label": "Site number", "required": true, "names_folder": true}
                ],
                "folders": [{"name": "Kuvat"}, {"name": "Raportit"}]
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

/// A passkey added on the profile page, then used to sign in, with
/// Chromium's virtual authenticator (`e2e/passkeys.mjs`) at
/// `https://localhost:PORT`, the server's relying party.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_is_added_and_signs_in_through_the_pages() {
    if skipped() {
        return;
    }
    // Listening where the relying party (the public URL) says it is.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let Some(t) = TestApp::start_with(Backend::Sqlite, |c| {
        c.server.listen = format!("127.0.0.1:{port}");
    })
    .await
    else {
        panic!("the test app did not start");
    };
    let email = "passkey.owner@example.test";
    t.company_with_owner("Avain Oy", email).await;
    let url = t.app.config().public_url();
    assert_eq!(url, format!("https://localhost:{port}"));
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(e2e_dir().join("passkeys.mjs"))
        .env("TURVA_URL", &url)
        .env("TURVA_EMAIL", email)
        .env("TURVA_PASSWORD", PASSWORD)
        .kill_on_drop(true);
    let out = tokio::time::timeout(std::time::Duration::from_secs(180), cmd.output())
        .await
        .expect("the browser run took over 3 minutes")
        .expect("node did not start");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("passkeys passed"), "{text}");
    // Two sign-ins on record: the password's, then the passkey's.
    let signed_in = t
        .audit_rows_where("action = 'auth.login' AND outcome = 'allowed'")
        .await;
    assert!(signed_in.len() >= 2, "{signed_in:?}");
}
