//! Starts the whole application in-process — the real router behind the
//! real TLS listener — on a throwaway SQLite or PostgreSQL database, and
//! gives tests a client and helpers (the outbox, signed-in users).

// Test support: a failed set-up step is a failed test, so panicking is the
// right answer here (and only here).
#![allow(clippy::panic)]

pub mod authenticator;
pub mod pg;
pub mod s3;

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};
use turva_app::{App, Config, Ctx, ManualClock};

pub use reqwest::{Response, StatusCode};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running Turva for one test.
pub struct TestApp {
    pub app: App,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub backend: Backend,
    running: Option<turva_web::Running>,
}

/// A strong password every test user may share.
pub const PASSWORD: &str = "Lumiukko sulaa keväällä 2026!";

impl TestApp {
    /// Starts Turva on `backend`. `None` when PostgreSQL is not available
    /// here (the skip is printed; with `TURVA_REQUIRE_POSTGRES=1` it fails).
    pub async fn start(backend: Backend) -> Option<TestApp> {
        Self::start_with(backend, |_| {}).await
    }

    /// Like `start`, with the configuration adjusted first.
    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
        capture_logs();
        let mut config = Config::default();
        if backend == Backend::Postgres {
            let url = pg::fresh_database().await?;
            config.database.url = Some(turva_app::config::Secret::new(url));
        }
        // The server's daily backup would start on its own once a test ran
        // a minute past today's slot (the clock starts at the real time),
        // writing packs and a drill beside what the test is checking; a
        // test of the schedule turns it on and calls it itself.
        config.backup.schedule = "off".into();
        adjust(&mut config);
        // Any free port, unless the test asked for one (so that the
        // default public URL, https://localhost:<port>, is where it listens).
        let listen: Option<std::net::SocketAddr> =
            if config.server.listen == Config::default().server.listen {
                "127.0.0.1:0".parse().ok()
            } else {
                config.listen_addr().ok()
            };
        let dir = tempfile::tempdir().ok()?;
        let data = dir.path().join("data");
        let start = turva_app::Clock::now_millis(&turva_app::SystemClock);
        let clock = Arc::new(ManualClock::new(start));
        let (app, _) = App::open(config, &data, clock.clone()).await.ok()?;
        let (files, _) = turva_web::tls::files(None, None, &data).ok()?;
        let listen = listen?;
        let running = turva_web::serve(app.clone(), listen, files).await.ok()?;
        let base = format!("https://127.0.0.1:{}", running.addr.port());
        Some(TestApp {
            app,
            base,
            dir,
            clock,
            backend,
            running: Some(running),
        })
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A new client (its own cookie jar) that trusts the self-signed
    /// certificate.
    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// Stops the server gracefully.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            let _ = r.shutdown().await;
        }
    }

    /// Stops the server and closes the database, keeping the data
    /// directory: returns it with the configuration, to reopen.
    pub async fn stop_keep(mut self) -> (tempfile::TempDir, Config) {
        let config = self.app.config().clone();
        if let Some(r) = self.running.take() {
            let _ = r.shutdown().await;
        }
        (self.dir, config)
    }

    /// Stops the server and opens its data directory again as a new process
    /// would (the system clock, no server): the data directory (keep it
    /// alive) and the reopened app.
    pub async fn stop_and_reopen(self) -> (tempfile::TempDir, App) {
        let (dir, config) = self.stop_keep().await;
        let data = dir.path().join("data");
        let (app, _) = App::open(config, &data, Arc::new(turva_app::SystemClock))
            .await
            .unwrap_or_else(|e| panic!("reopen: {e}"));
        (dir, app)
    }

    /// Every email in the outbox, oldest first.
    pub fn outbox(&self) -> Vec<Mail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.data_dir().join("outbox"))
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .filter_map(|b| Mail::parse(&b))
            .collect()
    }

    /// Waits (up to 5 s) until the outbox holds at least `n` emails, then a
    /// moment longer so that one more would show; returns the count. For
    /// mail that is sent in the background.
    pub async fn settled_outbox(&self, n: usize) -> usize {
        for _ in 0..100 {
            if self.outbox().len() >= n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        self.outbox().len()
    }

    /// Like `token_for`, waiting up to 5 s for mail sent in the background.
    pub async fn token_arriving(&self, to: &str, path: &str) -> Option<String> {
        for _ in 0..100 {
            if let Some(t) = self.token_for(to, path) {
                return Some(t);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        None
    }

    /// The `token` of the newest email to `to` whose link path contains `path`.
    pub fn token_for(&self, to: &str, path: &str) -> Option<String> {
        self.outbox()
            .into_iter()
            .rev()
            .filter(|m| m.to == to)
            .find_map(|m| m.token(path))
    }

    /// Creates an operator with `email`, signs them in and enrols a TOTP
    /// factor (operators must have one); the secret is in `c.totp_secret()`.
    pub async fn operator(&self, email: &str) -> Client {
        let r = turva_app::operators::create(&self.app, &Ctx::cli(), email, PASSWORD).await;
        assert!(r.is_ok(), "operator create: {r:?}");
        let c = self.client();
        c.login(email, PASSWORD).await;
        c.enrol_totp(self).await;
        c
    }

    /// A software passkey authenticator used from this server's origin.
    pub fn authenticator(&self) -> authenticator::SoftAuthenticator {
        authenticator::SoftAuthenticator::new(&self.app.config().public_url())
    }

    /// The app clock's time in Unix seconds.
    pub fn now_secs(&self) -> u64 {
        u64::try_from(turva_app::Clock::now_millis(&*self.clock) / 1000).unwrap_or(0)
    }

    /// The current TOTP code of a base32 secret, by the app's clock.
    pub fn totp_now(&self, secret_b32: &str) -> String {
        totp_code(secret_b32, self.now_secs())
    }

    /// Creates a company from the CLI with `owner` as its owner, who
    /// accepts and signs in. Returns the company id and the owner's client.
    pub async fn company_with_owner(&self, name: &str, owner: &str) -> (String, Client) {
        let r = turva_app::companies::create(
            &self.app,
            &Ctx::cli(),
            turva_app::companies::Creator::Cli,
            name,
            owner,
        )
        .await;
        let company = match r {
            Ok(c) => c,
            Err(e) => panic!("company create: {e:?}"),
        };
        let c = self.client();
        c.accept(self, owner).await;
        c.login(owner, PASSWORD).await;
        (company.id, c)
    }

    /// Invites `email` as `role` through `admin`, has them accept, signs
    /// them in. Returns their client and user id.
    pub async fn member(
        &self,
        admin: &Client,
        cid: &str,
        email: &str,
        role: &str,
    ) -> (Client, String) {
        let r = admin
            .post(
                &format!("/api/v1/companies/{cid}/members"),
                json!({"email": email, "role": role}),
            )
            .await;
        assert_eq!(r.status, 201, "invite {email}: {}", r.body);
        let uid = r.body["user_id"].as_str().unwrap_or_default().to_string();
        let c = self.client();
        c.accept(self, email).await;
        c.login(email, PASSWORD).await;
        (c, uid)
    }

    /// Audit events (as stored) with `seq > after`, all companies.
    pub async fn audit_rows(&self) -> Vec<AuditRow> {
        self.audit_rows_where("1=1").await
    }

    /// Audit events matching a SQL condition (test-only raw access).
    pub async fn audit_rows_where(&self, cond: &str) -> Vec<AuditRow> {
        // Events of reads are staged first on SQLite: move them in.
        if let Err(e) = self.app.flush_audit().await {
            panic!("moving staged audit events: {e}");
        }
        let sql = format!(
            "SELECT seq, action, outcome, company_id, actor_id, object_id, reason FROM audit_events WHERE {cond} ORDER BY seq"
        );
        let rows: Vec<AuditTuple> = match self.app.db() {
            turva_store_db::Db::Sqlite { read, .. } => sqlx::query_as(&sql)
                .fetch_all(read)
                .await
                .unwrap_or_default(),
            turva_store_db::Db::Postgres(p) => {
                sqlx::query_as(&sql).fetch_all(p).await.unwrap_or_default()
            }
        };
        rows.into_iter()
            .map(|r| AuditRow {
                seq: r.0,
                action: r.1,
                outcome: r.2,
                company_id: r.3,
                actor_id: r.4,
                object_id: r.5,
                reason: r.6,
            })
            .collect()
    }

    /// Counts rows of a table (test-only raw access).
    pub async fn count(&self, table: &str) -> i64 {
        if let Err(e) = self.app.flush_audit().await {
            panic!("moving staged audit events: {e}");
        }
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let r: Option<(i64,)> = match self.app.db() {
            turva_store_db::Db::Sqlite { read, .. } => {
                sqlx::query_as(&sql).fetch_one(read).await.ok()
            }
            turva_store_db::Db::Postgres(p) => sqlx::query_as(&sql).fetch_one(p).await.ok(),
        };
        r.map_or(-1, |r| r.0)
    }
}

static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

/// A writer that appends to the process-wide log capture.
struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut l) = LOGS.lock() {
            l.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends every log line of the test process (Turva's crates at debug) to
/// a buffer, once, so tests can check what logs contain.
fn capture_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::new(
            "info,turva_web=debug,turva_app=debug,turva_store=debug",
        );
        let _ = tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(|| Capture)
            .try_init();
    });
}

/// Everything logged so far in this test process.
pub fn captured_logs() -> String {
    LOGS.lock()
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .unwrap_or_default()
}

/// The last `n` lines logged at the error level in this test process.
pub fn last_errors(n: usize) -> String {
    let logs = captured_logs();
    let errors: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("\"level\":\"ERROR\""))
        .collect();
    errors[errors.len().saturating_sub(n)..].join("\n")
}

/// The store's database handle, for raw test queries.
pub use turva_app::store_db as turva_store_db;

type AuditTuple = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// An audit row as a test reads it.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub seq: i64,
    pub action: String,
    pub outcome: String,
    pub company_id: Option<String>,
    pub actor_id: Option<String>,
    pub object_id: Option<String>,
    pub reason: Option<String>,
}

/// A decoded email.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

impl Mail {
    fn parse(raw: &[u8]) -> Option<Mail> {
        let m = mail_parser::MessageParser::default().parse(raw)?;
        let to = m.to()?.first()?.address()?.to_string();
        Some(Mail {
            to,
            subject: m.subject().unwrap_or("").to_string(),
            text: m.body_text(0)?.to_string(),
        })
    }

    /// The `token` query parameter of the first link whose path contains `path`.
    pub fn token(&self, path: &str) -> Option<String> {
        self.text
            .split_whitespace()
            .filter(|w| w.contains(path))
            .find_map(|w| {
                let (_, t) = w.split_once("token=")?;
                Some(
                    t.chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                        .collect(),
                )
            })
    }
}

/// An HTTP answer: status, headers, JSON body (Null when not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    /// The body as text (exports, notes).
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The problem document's `code`.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// A client with its own cookie jar; signs in with the session cookie and
/// sends the CSRF token like a browser app would.
pub struct Client {
    base: String,
    http: reqwest::Client,
    csrf: std::sync::Mutex<Option<String>>,
    bearer: std::sync::Mutex<Option<String>>,
    ua: std::sync::Mutex<String>,
    totp: std::sync::Mutex<Option<String>>,
}

impl Client {
    /// Sends this `User-Agent` from now on.
    pub fn set_user_agent(&self, ua: &str) {
        if let Ok(mut u) = self.ua.lock() {
            *u = ua.to_string();
        }
    }

    pub fn new(base: &str) -> Client {
        turva_web::tls::install_provider();
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .cookie_store(true)
            .build()
            .unwrap_or_default();
        Client {
            base: base.to_string(),
            http,
            csrf: Default::default(),
            bearer: Default::default(),
            ua: std::sync::Mutex::new("turva-tests".into()),
            totp: Default::default(),
        }
    }

    /// Uses `Authorization: Bearer` from now on instead of the cookie.
    pub fn use_bearer(&self, token: &str) {
        if let Ok(mut b) = self.bearer.lock() {
            *b = Some(token.to_string());
        }
    }

    pub fn raw(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, mut req: reqwest::RequestBuilder) -> Answer {
        if let Ok(b) = self.bearer.lock() {
            if let Some(t) = b.as_ref() {
                req = req.bearer_auth(t);
            }
        }
        if let Ok(c) = self.csrf.lock() {
            if let Some(t) = c.as_ref() {
                req = req.header("x-csrf-token", t);
            }
        }
        let ua = self.ua.lock().map(|u| u.clone()).unwrap_or_default();
        req = req.header("user-agent", ua);
        let res = match req.send().await {
            Ok(r) => r,
            Err(e) => panic!("request failed: {e}"),
        };
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status >= 500 {
            // The cause of a server error goes to the log, never to the
            // client: shown beside the failing test's output.
            eprintln!(
                "the server answered {status}; its last errors:\n{}",
                last_errors(5)
            );
        }
        Answer {
            status,
            headers,
            body,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.http.get(self.url(path))).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(self.http.post(self.url(path)).json(&body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.send(self.http.patch(self.url(path)).json(&body)).await
    }
    pub async fn delete(&self, path: &str) -> Answer {
        self.send(self.http.delete(self.url(path))).await
    }
    /// POST with a raw body and content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        self.send(
            self.http
                .post(self.url(path))
                .header("content-type", content_type)
                .body(body),
        )
        .await
    }

    /// Signs in and remembers the CSRF token; panics on failure.
    pub async fn login(&self, email: &str, password: &str) -> Answer {
        let r = self
            .post(
                "/api/v1/auth/login",
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(r.status, 200, "login {email}: {}", r.body);
        self.refresh_csrf().await;
        r
    }

    /// Reads the CSRF token from `/me`.
    pub async fn refresh_csrf(&self) {
        let me = self.get("/api/v1/me").await;
        if let Ok(mut c) = self.csrf.lock() {
            *c = me.body["csrf_token"].as_str().map(str::to_string);
        }
    }

    /// Forgets the CSRF token (to test its absence).
    pub fn drop_csrf(&self) {
        if let Ok(mut c) = self.csrf.lock() {
            *c = None;
        }
    }

    /// Enrols a TOTP factor for the signed-in caller (who signed in just
    /// now, so re-auth is recent): starts, confirms with a code computed
    /// here from the secret, remembers the secret. Returns the confirm
    /// answer (with the recovery codes of a first factor).
    pub async fn enrol_totp(&self, t: &TestApp) -> Answer {
        let r = self.post("/api/v1/me/mfa/totp", json!({})).await;
        assert_eq!(r.status, 201, "start TOTP: {}", r.body);
        let id = r.body["id"].as_str().unwrap_or_default().to_string();
        let secret = r.body["secret"].as_str().unwrap_or_default().to_string();
        let code = t.totp_now(&secret);
        let r = self
            .post(
                &format!("/api/v1/me/mfa/totp/{id}/confirm"),
                json!({"code": code}),
            )
            .await;
        assert_eq!(r.status, 200, "confirm TOTP: {}", r.body);
        if let Ok(mut s) = self.totp.lock() {
            *s = Some(secret);
        }
        r
    }

    /// The TOTP secret `enrol_totp` enrolled (base32).
    pub fn totp_secret(&self) -> String {
        self.totp
            .lock()
            .ok()
            .and_then(|s| s.clone())
            .unwrap_or_default()
    }

    /// Accepts the newest invitation to `email` with the shared password.
    pub async fn accept(&self, t: &TestApp, email: &str) -> Answer {
        let token = t.token_for(email, "accept-invite").unwrap_or_default();
        let r = self
            .post(
                "/api/v1/auth/accept-invite",
                json!({"token": token, "password": PASSWORD, "name": "Test Person"}),
            )
            .await;
        assert_eq!(r.status, 200, "accept {email}: {}", r.body);
        r
    }
}

/// An RFC 6238 code (HMAC-SHA-1, 6 digits, 30 s) computed here, apart from
/// the server's implementation, from a base32 secret at `unix_secs`.
pub fn totp_code(secret_b32: &str, unix_secs: u64) -> String {
    use aws_lc_rs::hmac;
    let secret = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, secret_b32)
        .unwrap_or_default();
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &secret);
    let tag = hmac::sign(&key, &(unix_secs / 30).to_be_bytes());
    let d = tag.as_ref();
    let off = usize::from(d[d.len() - 1] & 0x0f);
    let bin = (u32::from(d[off]) & 0x7f) << 24
        | u32::from(d[off + 1]) << 16
        | u32::from(d[off + 2]) << 8
        | u32::from(d[off + 3]);
    format!("{:06}", bin % 1_000_000)
}
