//! `turva-bench-append [--data DIR] [--config FILE] [--seconds N] [--tasks N]`:
//! the audit log's sustained append rate. `--tasks` tasks (default 64)
//! record events of reads as fast as they can for `--seconds` (default 10),
//! each event durable before the next (as a request waits for its own);
//! then everything journalled is moved into the log and the tree. Prints the
//! rate of durable events, the rate including the move, and the rate of
//! `turva audit verify` over the whole log. Without `--data` it works in a
//! fresh temporary directory.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use turva_app::audit::{self, Event};
use turva_app::model::audit::{AuditAction, ObjectType, Outcome};
use turva_app::{App, Config, Ctx, SystemClock};

#[tokio::main]
async fn main() -> Result<()> {
    let mut data = None;
    let mut config_file = None;
    let mut seconds = 10u64;
    let mut tasks = 64usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| anyhow!("{a} needs a value"));
        match a.as_str() {
            "--data" => data = Some(PathBuf::from(value()?)),
            "--config" => config_file = Some(PathBuf::from(value()?)),
            "--seconds" => seconds = value()?.parse()?,
            "--tasks" => tasks = value()?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    let temp = std::env::temp_dir().join(format!("turva-append-{}", uuid::Uuid::new_v4()));
    let dir = data.unwrap_or_else(|| temp.clone());
    let config = Config::load(config_file.as_deref(), std::env::vars()).map_err(|e| anyhow!(e))?;
    let (app, _) = App::open(config.0, &dir, Arc::new(SystemClock))
        .await
        .map_err(|e| anyhow!(e))?;
    let before = app_events(&app).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut running = Vec::new();
    for t in 0..tasks {
        let (app, stop, done) = (app.clone(), stop.clone(), done.clone());
        running.push(tokio::spawn(async move {
            // A thousand people in one company, like the view benchmark.
            let company = uuid::Uuid::new_v4().to_string();
            let people: Vec<String> = (0..1000)
                .map(|_| uuid::Uuid::new_v4().to_string())
                .collect();
            let document = uuid::Uuid::new_v4().to_string();
            let ctx = Ctx::cli();
            let mut i = t;
            while !stop.load(Ordering::Relaxed) {
                let actor = &people[i % people.len()];
                let mut ev = Event::new(AuditAction::DocumentView, Outcome::Allowed)
                    .company(company.as_str())
                    .object(ObjectType::Document, &document);
                ev.actor_id = Some(actor);
                ev.email = Some("bench@example.test");
                ev.credential = Some("session");
                audit::record_read(&app, &ctx, ev).await?;
                done.fetch_add(1, Ordering::Relaxed);
                i += tasks;
            }
            Ok::<(), turva_app::AppError>(())
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for r in running {
        r.await??;
    }
    let durable = started.elapsed();
    let n = done.load(Ordering::Relaxed);
    app.flush_audit().await?;
    let moved = started.elapsed();
    println!(
        "appended {n} events with {tasks} tasks: {:.0} events/s durable, {:.0} events/s moved into the log and its tree ({:.1} s + {:.1} s)",
        n as f64 / durable.as_secs_f64(),
        n as f64 / moved.as_secs_f64(),
        durable.as_secs_f64(),
        (moved - durable).as_secs_f64()
    );
    let after = app_events(&app).await?;
    if after != before + n {
        bail!("the log holds {after} events, expected {}", before + n);
    }
    let t = Instant::now();
    let verified = turva_app::audit_verify::verify(&app)
        .await
        .map_err(|e| anyhow!("{e:?}"))?;
    println!(
        "verified {} events in {:.1} s: {:.0} events/s",
        verified.events,
        t.elapsed().as_secs_f64(),
        verified.events as f64 / t.elapsed().as_secs_f64()
    );
    app.close().await;
    if dir == temp {
        let _ = std::fs::remove_dir_all(&temp);
    }
    Ok(())
}

/// How many events the log holds (after moving what waits).
async fn app_events(app: &App) -> Result<u64> {
    app.flush_audit().await?;
    let mut tx = app.db().read().await?;
    let n = turva_store::audit::tree_size(&mut tx).await?;
    Ok(u64::try_from(n)?)
}
