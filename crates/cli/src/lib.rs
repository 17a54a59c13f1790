//! The `turva` command line (API.md §1): a thin layer over `turva_app` and
//! `turva_web` that parses arguments, loads the configuration, calls one
//! operation and prints one line. `main.rs` only starts the runtime; the
//! library form lets tests run every command in-process.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand};
use turva_app::{App, Config, Ctx, SystemClock};

#[derive(Parser)]
#[command(name = "turva", version, about = "Turva: a secure document workspace")]
pub struct Cli {
    /// The data directory.
    #[arg(long, global = true, default_value = "./turva-data")]
    data: PathBuf,
    /// The configuration file (TOML).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTPS server.
    Serve {
        /// Address and port to listen on (overrides server.listen).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Platform operators.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Companies.
    Company {
        #[command(subcommand)]
        command: CompanyCommand,
    },
    /// User accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Encrypted backups: take, list, verify, restore, drill.
    Backup {
        #[command(subcommand)]
        command: BackupCommand,
    },
    /// Master-key versions and their rotation.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Print the OpenAPI description of the HTTP API.
    Openapi,
}

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Take a backup now (works while the server runs; audited).
    Run,
    /// List complete backups, one id a line, oldest first.
    List,
    /// Read every chunk and file of a backup and check it; names every
    /// damaged or missing object.
    Verify { id: String },
    /// Restore a backup: the whole system, or one object.
    Restore {
        id: String,
        /// One folder sub-tree or document (with versions and files) back
        /// into the live system.
        #[arg(long)]
        object: Option<String>,
        /// The whole system into this new data directory.
        #[arg(long)]
        into: Option<PathBuf>,
        /// With --into: the empty PostgreSQL database to restore into.
        #[arg(long = "database-url", requires = "into")]
        database_url: Option<String>,
        /// Replace the data directory's system (the server stopped).
        #[arg(long)]
        force: bool,
    },
    /// Restore the newest backup into a scratch location and check it.
    Drill,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// List master-key versions, one a line: the version, its age and what
    /// still needs it.
    Status,
    /// Add a master-key version and rewrap every data key under it (works
    /// while the server runs; audited).
    Rotate,
    /// Remove the versions nothing needs any more: no data key, not the key
    /// ring, no retained key-ring copy (audited; the server does it too).
    Retire,
}

#[derive(Subcommand)]
pub enum OperatorCommand {
    /// Create an operator; the password is read from stdin (one line) or TURVA_PASSWORD.
    Create {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Remove every second factor of a user and end their sessions and API
    /// tokens (audited; the user is emailed).
    ResetMfa {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Verify every event, the Merkle tree and every signed and external
    /// checkpoint; prints the count verified, or names the first bad event.
    Verify,
    /// Write audit events to stdout, oldest first.
    Export {
        /// Only this company's events (and its members' sign-in events).
        #[arg(long)]
        company: Option<String>,
        /// Only events at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Only events before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// Only events by (or about) this user: an id or an email address.
        #[arg(long)]
        actor: Option<String>,
        /// Only events about this object id.
        #[arg(long)]
        object: Option<String>,
        /// Only this action (e.g. document.view), or a family (auth.*).
        #[arg(long)]
        action: Option<String>,
        /// Only allowed or denied events.
        #[arg(long)]
        outcome: Option<String>,
        /// Only events from this client address.
        #[arg(long)]
        ip: Option<String>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

#[derive(Subcommand)]
pub enum CompanyCommand {
    /// Create a company; prints its id. The owner is emailed an invitation.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long = "owner-email")]
        owner_email: String,
    },
    /// Delete a company for good, at once: its data and its key are
    /// destroyed, so no backup can bring it back (asks first unless --yes)
    Delete {
        #[arg(long)]
        id: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// One line of `keys status`: `v2 age 3d newest needs: key ring, 41 data keys`.
fn status_line(v: &turva_app::keys::VersionStatus, now: i64) -> String {
    let age = match v.created_at {
        Some(at) => format!("age {}d", (now - at).max(0) / 86_400_000),
        None => "age unknown".to_string(),
    };
    let mut needs = Vec::new();
    if v.key_ring {
        needs.push("key ring".to_string());
    }
    if v.data_keys > 0 {
        needs.push(data_keys(v.data_keys));
    }
    match v.key_ring_copies {
        0 => {}
        1 => needs.push("1 key-ring copy".to_string()),
        n => needs.push(format!("{n} key-ring copies")),
    }
    let needs = if needs.is_empty() {
        "nothing".to_string()
    } else {
        needs.join(", ")
    };
    let newest = if v.newest { " newest" } else { "" };
    format!("v{} {age}{newest} needs: {needs}", v.version)
}

/// `1 data key`, `2 data keys`.
fn data_keys(n: i64) -> String {
    if n == 1 {
        "1 data key".to_string()
    } else {
        format!("{n} data keys")
    }
}

/// Megabytes, for people.
fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

/// Shows `turva::progress` events on one terminal line (stderr), when
/// stderr is a terminal; otherwise nothing.
fn show_progress() {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    if !std::io::stderr().is_terminal() {
        return;
    }
    struct Line;
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Line {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            struct Message(String);
            impl tracing::field::Visit for Message {
                fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                    if f.name() == "message" {
                        self.0 = format!("{v:?}");
                    }
                }
            }
            let mut m = Message(String::new());
            event.record(&mut m);
            let mut err = std::io::stderr();
            let _ = write!(err, "\r\x1b[K{}", m.0);
            let _ = err.flush();
        }
    }
    let only = tracing_subscriber::filter::Targets::new()
        .with_target("turva::progress", tracing::Level::INFO);
    let _ = tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(tracing_subscriber::Layer::with_filter(Line, only)),
    );
}

/// Ends the progress line, if one was shown.
fn end_progress() {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K");
    }
}

async fn backup(
    config: Config,
    data: &Path,
    command: BackupCommand,
    out: &mut dyn Write,
) -> Result<()> {
    show_progress();
    let result = backup_command(config, data, command, out).await;
    end_progress();
    result
}

async fn backup_command(
    config: Config,
    data: &Path,
    command: BackupCommand,
    out: &mut dyn Write,
) -> Result<()> {
    use turva_app::backup as b;
    let fail = |e: b::BackupError| anyhow!("{e}");
    match command {
        BackupCommand::Run => {
            let app = open(config, data).await?;
            let ran = b::run(&app, &Ctx::cli(), "cli").await;
            app.close().await;
            let s = ran.map_err(fail)?.summary;
            writeln!(
                out,
                "backup {}: {} companies, {} people, {} rows, {} files, {} ({} new)",
                s.id,
                s.companies,
                s.users,
                s.rows,
                s.files,
                mb(s.bytes),
                mb(s.new_bytes)
            )?;
        }
        BackupCommand::List => {
            let app = open(config, data).await?;
            let list = b::list(&app).await;
            app.close().await;
            for s in list.map_err(fail)? {
                writeln!(out, "{}", s.id)?;
            }
        }
        BackupCommand::Verify { id } => {
            let app = open(config, data).await?;
            let v = b::verify(&app, &Ctx::cli(), &id).await;
            app.close().await;
            let v = v.map_err(fail)?;
            let erased = if v.erased.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} owners erased since (their keys destroyed)",
                    v.erased.len()
                )
            };
            writeln!(
                out,
                "backup {id} is sound: {} chunks and {} files, {}{erased}",
                v.chunks,
                v.files,
                mb(v.bytes)
            )?;
        }
        BackupCommand::Restore {
            id,
            object: Some(object),
            into,
            ..
        } => {
            if into.is_some() {
                return Err(anyhow!(
                    "--object restores into the live system; --into takes the whole system"
                ));
            }
            let app = open(config, data).await?;
            let r = b::restore_object(&app, &Ctx::cli(), &id, &object).await;
            app.close().await;
            let r = r.map_err(fail)?;
            let what = if r.is_folder { "folder" } else { "document" };
            writeln!(
                out,
                "restored {what} {} from backup {id}{}: {} folders, {} documents, {} files, {} shares{}{}",
                r.object,
                r.copy
                    .as_ref()
                    .map(|c| format!(" as a copy, {c}"))
                    .unwrap_or_default(),
                r.folders,
                r.documents,
                r.files,
                r.shares,
                if r.shares_skipped > 0 {
                    format!(" ({} left out: their grantee is gone)", r.shares_skipped)
                } else {
                    String::new()
                },
                if r.replaced_trashed {
                    "; it replaced the version in the trash"
                } else if r.copy.is_some() {
                    "; the live one (or the one in the trash, which holds newer content) is unchanged"
                } else {
                    ""
                }
            )?;
        }
        BackupCommand::Restore {
            id,
            object: None,
            into,
            database_url,
            force,
        } => {
            let r = match into {
                Some(into) => {
                    let to = b::RestoreTo {
                        dir: into,
                        database_url,
                    };
                    let live = data.join("turva.db").exists()
                        || config.database.url.is_some() && data.join("keyring.json").exists();
                    if live {
                        let app = open(config.clone(), data).await?;
                        let r = b::restore_into(&config, data, Some(&app), &id, &to).await;
                        app.close().await;
                        r
                    } else {
                        b::restore_into(&config, data, None, &id, &to).await
                    }
                }
                None => b::restore_in_place(&config, data, &id, force).await,
            }
            .map_err(fail)?;
            let erased = if r.erased.is_empty() {
                String::new()
            } else {
                format!("; {} erased owners left out", r.erased.len())
            };
            writeln!(
                out,
                "restored backup {}: {} rows, {} files in {:.1} s (keys from {}){erased}; everyone signs in again",
                r.id,
                r.rows,
                r.files,
                r.millis as f64 / 1000.0,
                r.keys_from
            )?;
        }
        BackupCommand::Drill => {
            let app = open(config, data).await?;
            let d = b::drill(&app, &Ctx::cli(), "cli").await;
            app.close().await;
            let d = d.map_err(fail)?;
            if !d.passed {
                return Err(anyhow!(
                    "drill of backup {} FAILED: {}",
                    d.backup,
                    d.faults.join("; ")
                ));
            }
            writeln!(
                out,
                "drill of backup {} passed: restored in {:.1} s (RTO), data {:.1} h old (RPO), {} rows, {} audit events verified, {} files decrypted, {} erased owners",
                d.backup,
                d.rto_ms as f64 / 1000.0,
                d.rpo_ms as f64 / 3_600_000.0,
                d.rows,
                d.audit_events,
                d.files_checked,
                d.erased
            )?;
        }
    }
    Ok(())
}

/// An error as one line for stderr.
pub fn one_line(e: &anyhow::Error) -> String {
    e.chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
        .replace('\n', " ")
}

/// Runs one command. `input` is where passwords are read from; `out` gets
/// what the command prints on stdout.
pub async fn run(cli: Cli, input: &mut dyn BufRead, out: &mut dyn Write) -> Result<()> {
    let (mut config, warnings) =
        Config::load(cli.config.as_deref(), std::env::vars()).map_err(|e| anyhow!(e))?;
    if !matches!(cli.command, Command::Serve { .. }) {
        for w in &warnings {
            eprintln!("turva: warning: {w}");
        }
    }
    match cli.command {
        Command::Serve { listen } => {
            if let Some(l) = listen {
                config.server.listen = l;
                config.validate().map_err(|e| anyhow!(e))?;
            }
            init_logging(&config);
            for w in warnings {
                tracing::warn!("{w}");
            }
            serve(config, &cli.data, out).await
        }
        Command::Operator {
            command: OperatorCommand::Create { email },
        } => {
            let password = read_password(input)?;
            let app = open(config, &cli.data).await?;
            let user = turva_app::operators::create(&app, &Ctx::cli(), &email, &password)
                .await
                .map_err(app_error)?;
            app.close().await;
            writeln!(out, "{}", user.id)?;
            Ok(())
        }
        Command::User {
            command: UserCommand::ResetMfa { email },
        } => {
            let app = open(config, &cli.data).await?;
            let done = turva_app::mfa::reset_by_operator(&app, &Ctx::cli(), &email).await;
            app.close().await;
            match done {
                Ok(()) => {
                    writeln!(
                        out,
                        "reset the second factors of {email}; their sessions and API tokens ended"
                    )?;
                    Ok(())
                }
                Err(turva_app::AppError::NotFound) => Err(anyhow!("no user has the email {email}")),
                Err(e) => Err(app_error(e)),
            }
        }
        Command::Audit {
            command:
                AuditCommand::Export {
                    company,
                    since,
                    until,
                    format,
                    actor,
                    object,
                    action,
                    outcome,
                    ip,
                },
        } => {
            let whose = match company {
                Some(c) => turva_app::audit_read::Whose::Company(
                    turva_app::model::Id::<()>::parse("company", &c)
                        .map(|i| i.as_text())
                        .map_err(|_| anyhow!("--company is not a company id"))?,
                ),
                None => turva_app::audit_read::Whose::All,
            };
            let query = turva_app::audit_read::Query {
                actor,
                object,
                action,
                outcome,
                ip,
                since,
                until,
            };
            let app = open(config, &cli.data).await?;
            let written = export_audit(&app, whose, &query, format, out)
                .await
                .map_err(|e| match e.downcast::<turva_app::AppError>() {
                    // Every filter the app names is a flag of this command.
                    Ok(turva_app::AppError::Malformed { field, reason }) => {
                        anyhow!("--{field} {reason}")
                    }
                    Ok(e) => app_error(e),
                    Err(e) => e,
                });
            app.close().await;
            written
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let app = App::open_to_inspect(config, &cli.data, Arc::new(SystemClock))
                .await
                .map_err(|e| anyhow!(e))?;
            let result = turva_app::audit_verify::verify(&app).await;
            app.close().await;
            match result {
                Ok(v) => {
                    writeln!(
                        out,
                        "verified {} events against {} signed checkpoints ({} in the external file)",
                        v.events, v.checkpoints, v.external_checkpoints
                    )?;
                    Ok(())
                }
                Err(Ok(t)) => Err(anyhow!("audit log tampered with: {t}")),
                Err(Err(e)) => Err(app_error(e)),
            }
        }
        Command::Keys {
            command: KeysCommand::Status,
        } => {
            let app = open(config, &cli.data).await?;
            let status = turva_app::keys::status(&app).await;
            let now = app.now();
            app.close().await;
            for v in status.map_err(app_error)? {
                writeln!(out, "{}", status_line(&v, now))?;
            }
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate,
        } => {
            let app = open(config, &cli.data).await?;
            let done = turva_app::keys::rotate(&app, &Ctx::cli(), "cli").await;
            app.close().await;
            let r = done.map_err(app_error)?;
            writeln!(
                out,
                "master key version {} is the newest; {} and the key ring rewrapped under it",
                r.version,
                data_keys(i64::try_from(r.rewrapped).unwrap_or(i64::MAX))
            )?;
            Ok(())
        }
        Command::Backup { command } => backup(config, &cli.data, command, out).await,
        Command::Keys {
            command: KeysCommand::Retire,
        } => {
            let app = open(config, &cli.data).await?;
            let done = turva_app::keys::retire_unneeded(&app, &Ctx::cli(), "cli").await;
            app.close().await;
            let v = done.map_err(app_error)?;
            if v.is_empty() {
                writeln!(out, "no master key version can be retired: each is needed")?;
            } else {
                let list: Vec<String> = v.iter().map(|v| format!("v{v}")).collect();
                writeln!(
                    out,
                    "retired master key versions {}; back up the master key file again",
                    list.join(", ")
                )?;
            }
            Ok(())
        }
        Command::Openapi => {
            let doc = turva_web::routes::openapi();
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
            Ok(())
        }
        Command::Company {
            command: CompanyCommand::Create { name, owner_email },
        } => {
            let app = open(config, &cli.data).await?;
            let company = turva_app::companies::create(
                &app,
                &Ctx::cli(),
                turva_app::companies::Creator::Cli,
                &name,
                &owner_email,
            )
            .await
            .map_err(app_error)?;
            app.close().await;
            writeln!(out, "{}", company.id)?;
            Ok(())
        }
        Command::Company {
            command: CompanyCommand::Delete { id, yes },
        } => {
            let app = open(config, &cli.data).await?;
            let done = delete_company(&app, &id, yes, input).await;
            app.close().await;
            let gone = done?;
            writeln!(
                out,
                "deleted company \"{}\" ({}): its data, {} and its key destroyed",
                gone.company.name,
                gone.company.id,
                match gone.files {
                    1 => "1 file".to_string(),
                    n => format!("{n} files"),
                }
            )?;
            Ok(())
        }
    }
}

/// `company delete`: names the company and asks (unless `yes`), then
/// destroys it.
async fn delete_company(
    app: &App,
    id: &str,
    yes: bool,
    input: &mut dyn BufRead,
) -> Result<turva_app::companies::Destroyed> {
    let unknown = |e| match e {
        turva_app::AppError::NotFound => anyhow!("no company has the id {id}"),
        other => app_error(other),
    };
    let company = turva_app::companies::for_cli(app, id)
        .await
        .map_err(unknown)?;
    if !yes {
        eprint!(
            "Delete the company \"{}\" ({}) for good? Its documents, files and key are destroyed \
             at once, and no backup can restore them. [y/N] ",
            company.name, company.id
        );
        let mut answer = String::new();
        input
            .read_line(&mut answer)
            .context("reading the confirmation from stdin")?;
        if !matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
            return Err(anyhow!(
                "not deleted: not confirmed (answer y, or pass --yes)"
            ));
        }
    }
    turva_app::companies::destroy_now(app, &Ctx::cli(), id)
        .await
        .map_err(unknown)
}

async fn open(config: Config, dir: &Path) -> Result<App> {
    let (app, _) = App::open(config, dir, Arc::new(SystemClock))
        .await
        .map_err(|e| anyhow!(e))?;
    Ok(app)
}

/// A one-line message for an operation's error.
fn app_error(e: turva_app::AppError) -> anyhow::Error {
    use turva_app::AppError::*;
    match e {
        Invalid { field, reason } | Malformed { field, reason } => anyhow!("{field} {reason}"),
        Conflict(why) => anyhow!("{why}"),
        RateLimited { retry_after_secs } => {
            anyhow!("rate limited; retry after {retry_after_secs} s")
        }
        other => anyhow!("{other}"),
    }
}

fn read_password(input: &mut dyn BufRead) -> Result<String> {
    if let Ok(p) = std::env::var("TURVA_PASSWORD") {
        return Ok(p);
    }
    let mut line = String::new();
    input
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let p = line.strip_suffix('\n').unwrap_or(&line);
    let p = p.strip_suffix('\r').unwrap_or(p);
    if p.is_empty() {
        return Err(anyhow!(
            "no password given (one line on stdin, or TURVA_PASSWORD)"
        ));
    }
    Ok(p.to_string())
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(config: Config, dir: &Path, out: &mut dyn Write) -> Result<()> {
    let listen = config.listen_addr().map_err(|e| anyhow!(e))?;
    let (cert, key) = (
        config.server.tls_cert_file.clone(),
        config.server.tls_key_file.clone(),
    );
    let public_url = config.public_url();
    let (app, report) = App::open(config, dir, Arc::new(SystemClock))
        .await
        .map_err(|e| anyhow!(e))?;
    if report.created_data_dir {
        tracing::info!(dir = %dir.display(), "created the data directory");
    }
    if report.master_key_in_data_dir {
        tracing::warn!("the master key is in the data directory; in production keep it elsewhere ([keys] master_key_file)");
    }
    let (files, generated) =
        turva_web::tls::files(cert.as_deref(), key.as_deref(), dir).map_err(|e| anyhow!(e))?;
    if generated {
        tracing::info!("created a self-signed certificate for localhost");
    }
    let running = turva_web::serve(app.clone(), listen, files)
        .await
        .map_err(|e| anyhow!(e))?;
    if turva_app::UNAUDITED {
        tracing::error!("this is a benchmark-only build: views, listings, searches and downloads are NOT audited");
        writeln!(
            out,
            "WARNING: benchmark-only build (bench-unaudited): reads are not audited"
        )?;
    }
    writeln!(
        out,
        "Turva is listening on https://{} ({public_url})",
        running.addr
    )?;
    if let Some(line) = first_run_notice(&app).await? {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    shutdown_signal().await;
    tracing::info!("shutting down: finishing requests in flight");
    running.shutdown().await.context("shutting down")?;
    tracing::info!("stopped");
    Ok(())
}

/// What `turva serve` prints at start while no operator exists: a
/// one-time link to the first-run set-up page (`None` once one exists).
pub async fn first_run_notice(app: &App) -> Result<Option<String>> {
    let Some(token) = turva_app::operators::first_run_token(app)
        .await
        .map_err(|e| anyhow!(e))?
    else {
        return Ok(None);
    };
    Ok(Some(format!(
        "No operator yet: create the first one at {}/setup?token={token} \
         (this link works once, while this server runs and no operator exists; \
         or use `turva operator create`)",
        app.config().public_url().trim_end_matches('/')
    )))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Runs the command line `args` (without the program name) with `input` as
/// stdin; returns what it printed on stdout, or the one-line error. For
/// tests and embedding.
pub async fn run_args(args: &[&str], input: &[u8]) -> Result<String, String> {
    let cli = Cli::try_parse_from(std::iter::once("turva").chain(args.iter().copied()))
        .map_err(|e| e.to_string().lines().next().unwrap_or("").to_string())?;
    let mut out = Vec::new();
    let mut input = input;
    run(cli, &mut input, &mut out)
        .await
        .map_err(|e| one_line(&e))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Writes the export's lines to `out`, batch by batch.
async fn export_audit(
    app: &turva_app::App,
    whose: turva_app::audit_read::Whose,
    query: &turva_app::audit_read::Query,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<()> {
    use turva_app::audit_export::{self, Exporter};
    let mut export = audit_export::start(app, &Ctx::cli(), Exporter::Cli, whose, query).await?;
    if matches!(format, ExportFormat::Csv) {
        writeln!(out, "{}", audit_export::CSV_HEADER)?;
    }
    loop {
        let batch = export.next_batch(app).await?;
        if batch.is_empty() {
            return Ok(());
        }
        for e in batch {
            let line = match format {
                ExportFormat::Jsonl => e.json_line()?,
                ExportFormat::Csv => e.csv_row(),
            };
            writeln!(out, "{line}")?;
        }
    }
}
