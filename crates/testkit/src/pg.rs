//! A throwaway PostgreSQL cluster for the test run.
//!
//! When `initdb` is on the PATH, the first PostgreSQL test starts one
//! cluster for the whole test process (as the unprivileged user `nobody`
//! when running as root, since PostgreSQL refuses root), listening only on
//! 127.0.0.1, with durability off for speed. Each test gets a database of
//! its own. A small watchdog shell stops the cluster and deletes its
//! directory when the test process exits. Without `initdb` the tests print
//! a notice and skip, unless `TURVA_REQUIRE_POSTGRES=1`, which makes the
//! skip a failure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

struct Cluster {
    port: u16,
}

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();

fn required() -> bool {
    std::env::var("TURVA_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// A URL of a new, empty database; `None` (after printing why) when
/// PostgreSQL is not available and not required.
pub async fn fresh_database() -> Option<String> {
    let cluster = CLUSTER.get_or_init(start);
    let port = match cluster {
        Ok(c) => c.port,
        Err(why) => {
            if required() {
                panic!("PostgreSQL tests are required (TURVA_REQUIRE_POSTGRES=1) but cannot run: {why}");
            }
            eprintln!("NOTICE: PostgreSQL tests skipped: {why}");
            return None;
        }
    };
    let name = format!("t_{}", turva_app::secret::new_id().replace('-', ""));
    let admin = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let mut last = String::new();
    for _ in 0..50 {
        match sqlx::PgPool::connect(&admin).await {
            Ok(pool) => {
                let r = sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&pool)
                    .await;
                pool.close().await;
                match r {
                    Ok(_) => return Some(format!("postgres://postgres@127.0.0.1:{port}/{name}")),
                    Err(e) => last = e.to_string(),
                }
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("cannot create a PostgreSQL test database: {last}");
}

fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(cmd))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs `args` as `nobody` when we are root, else as ourselves.
fn as_postgres_user(args: &[&str]) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--"]).args(args);
        c
    } else {
        let mut c = Command::new(args[0]);
        c.args(&args[1..]);
        c
    }
}

fn start() -> Result<Cluster, String> {
    let initdb = which("initdb").ok_or("initdb is not on the PATH")?;
    let postgres = which("postgres").ok_or("postgres is not on the PATH")?;
    let dir = std::env::temp_dir().join(format!("turva-pg-{}", turva_app::secret::new_id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if is_root() {
        let ok = Command::new("chown")
            .args(["nobody", &dir.to_string_lossy()])
            .status()
            .map_err(|e| e.to_string())?;
        if !ok.success() {
            return Err("cannot chown the cluster directory to nobody".into());
        }
    }
    let data = dir.join("data");
    let (data_s, dir_s) = (
        data.to_string_lossy().to_string(),
        dir.to_string_lossy().to_string(),
    );
    let out = as_postgres_user(&[
        &initdb.to_string_lossy(),
        "-D",
        &data_s,
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
    ])
    .stdout(Stdio::null())
    .output()
    .map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    // The watchdog: runs postgres, and stops it (and removes the cluster)
    // once this test process is gone.
    let script = format!(
        "{pg} -D {data} -p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=400 -c shared_buffers=64MB >{dir}/log 2>&1 & PG=$!; \
         while kill -0 $PG 2>/dev/null && [ -d /proc/{me} ]; do sleep 0.5; done; \
         kill -INT $PG 2>/dev/null; wait $PG; rm -rf {dir}",
        pg = postgres.to_string_lossy(),
        data = data_s,
        dir = dir_s,
        me = std::process::id(),
    );
    as_postgres_user(&["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting postgres: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(Cluster { port });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
    Err(format!("postgres did not start: {log}"))
}
