//! The HTTPS listener: serves the router, reloads the certificate when its
//! files change, and shuts down gracefully (stop accepting, finish
//! in-flight requests, close the database).

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;
use turva_app::App;

use crate::tls::{self, TlsFiles};

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    handle: Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    app: App,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish (up to 30 s), then
    /// closes the database.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.handle.graceful_shutdown(Some(Duration::from_secs(30)));
        let result = self
            .task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        self.app.close().await;
        result
    }
}

/// Starts serving `app` on `listen` with the certificate in `files`.
pub async fn serve(app: App, listen: SocketAddr, files: TlsFiles) -> Result<Running, String> {
    let rustls = RustlsConfig::from_config(tls::server_config(&files)?);
    let handle: Handle<SocketAddr> = Handle::new();
    let router = crate::routes::router(app.clone());
    let server = axum_server::bind_rustls(listen, rustls.clone()).handle(handle.clone());
    let task = tokio::spawn(async move {
        server
            .serve(router.into_make_service_with_connect_info::<SocketAddr>())
            .await
    });
    let addr = handle
        .listening()
        .await
        .ok_or_else(|| format!("cannot listen on {listen}"))?;
    tokio::spawn(watch_certificate(rustls, files));
    tokio::spawn(report_unauthenticated(app.clone()));
    tokio::spawn(housekeeping(app.clone()));
    tokio::spawn(backup_schedule(app.clone()));
    Ok(Running {
        addr,
        handle,
        task,
        app,
    })
}

/// Logs, once a minute, how many requests came without valid credentials
/// (they are counted, not audited one by one).
async fn report_unauthenticated(app: App) {
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let n = app.take_unauthenticated();
        if n > 0 {
            tracing::info!(
                count = n,
                "requests without valid credentials in the last minute"
            );
        }
    }
}

/// Every ten minutes: deletes expired throttle counters, ended sign-in
/// challenges and WebAuthn ceremonies, companies whose deletion grace is
/// over, and what has been in the trash (or detached from its document)
/// for 30 days; rotates the master key when `[keys] rotate_days` have
/// passed, and rewraps keys made under an older version meanwhile.
async fn housekeeping(app: App) {
    loop {
        tokio::time::sleep(Duration::from_secs(600)).await;
        if let Err(e) = turva_app::throttle::purge_old(&app).await {
            tracing::warn!(error = %e, "housekeeping failed");
        }
        if let Err(e) = turva_app::mfa::purge_expired(&app).await {
            tracing::warn!(error = %e, "purging ended sign-in challenges failed");
        }
        if let Err(e) = turva_app::companies::destroy_due(&app).await {
            tracing::warn!(error = %e, "destroying deleted companies failed");
        }
        if let Err(e) = turva_app::trash::purge(&app).await {
            tracing::warn!(error = %e, "purging the trash failed");
        }
        match turva_app::keys::housekeeping(&app).await {
            Ok(Some(r)) => tracing::info!(
                version = r.version,
                keys = r.rewrapped,
                "master key rotated on schedule"
            ),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "master key rotation failed"),
        }
    }
}

/// Every minute: the daily backup at `[backup] schedule` (UTC) and, after
/// it, the weekly restore drill (`turva_app::backup::scheduled`).
async fn backup_schedule(app: App) {
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        match turva_app::backup::scheduled(&app).await {
            Ok(Some(ran)) => tracing::info!(
                backup = %ran.summary.id,
                bytes = ran.summary.bytes,
                new_bytes = ran.summary.new_bytes,
                "daily backup taken"
            ),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "the daily backup failed; the previous backups are kept")
            }
        }
    }
}

/// Reloads the certificate and key when either file changes.
async fn watch_certificate(config: RustlsConfig, files: TlsFiles) {
    let stamp = |f: &TlsFiles| -> Option<(SystemTime, SystemTime)> {
        Some((
            std::fs::metadata(&f.cert).ok()?.modified().ok()?,
            std::fs::metadata(&f.key).ok()?.modified().ok()?,
        ))
    };
    let mut last = stamp(&files);
    loop {
        // Two stat calls: cheap enough to notice a renewal within seconds.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = stamp(&files);
        if now != last {
            match tls::server_config(&files) {
                Ok(c) => {
                    config.reload_from_config(c);
                    tracing::info!("TLS certificate reloaded");
                    last = now;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "TLS certificate changed but does not load; keeping the old one")
                }
            }
        }
    }
}
