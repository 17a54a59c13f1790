//! A throwaway S3-compatible server for the test run: moto's server mode
//! (`pip install 'moto[server]'`).
//!
//! When `moto_server` is on the PATH (or `TURVA_MOTO_SERVER` names it),
//! the first S3 test starts one server on 127.0.0.1 for the whole test
//! process; a watchdog shell stops it when the process exits. Each test
//! gets a bucket of its own. Without moto the tests print a notice and
//! skip, unless `TURVA_REQUIRE_S3=1`, which makes the skip a failure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

static SERVER: OnceLock<Result<u16, String>> = OnceLock::new();

fn required() -> bool {
    std::env::var("TURVA_REQUIRE_S3").is_ok_and(|v| v == "1")
}

fn moto() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TURVA_MOTO_SERVER") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join("moto_server"))
        .find(|p| p.is_file())
}

fn start() -> Result<u16, String> {
    let moto = moto().ok_or("moto_server is not on the PATH (pip install 'moto[server]')")?;
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let script = format!(
        "{moto} -H 127.0.0.1 -p {port} >/dev/null 2>&1 & M=$!; \
         while kill -0 $M 2>/dev/null && [ -d /proc/{me} ]; do sleep 0.5; done; kill $M 2>/dev/null",
        moto = moto.to_string_lossy(),
        me = std::process::id(),
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting moto_server: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("moto_server did not start".into())
}

/// An `s3://` target URL in a new, empty bucket; `None` (after printing
/// why) when moto is not available and not required.
pub async fn fresh_bucket(name: &str) -> Option<String> {
    let port = match SERVER.get_or_init(start) {
        Ok(p) => *p,
        Err(why) => {
            if required() {
                panic!("S3 tests are required (TURVA_REQUIRE_S3=1) but cannot run: {why}");
            }
            eprintln!("NOTICE: S3 tests skipped: {why}");
            return None;
        }
    };
    let bucket = format!(
        "{name}-{}",
        &turva_app::secret::new_id().replace('-', "")[..12]
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    // moto takes an unsigned request to create a bucket.
    let r = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .ok()?;
    assert!(
        r.status().is_success(),
        "creating bucket {bucket}: {}",
        r.status()
    );
    Some(format!(
        "s3://{bucket}/turva?endpoint={endpoint}&region=us-east-1&allow_http=true&access_key_id=test&secret_access_key=test"
    ))
}

/// Where the S3 server listens, when one is running.
pub fn endpoint() -> Option<String> {
    match SERVER.get() {
        Some(Ok(port)) => Some(format!("http://127.0.0.1:{port}")),
        _ => None,
    }
}
