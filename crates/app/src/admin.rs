//! The platform's status for operators (`GET /admin/status`): the version,
//! the last backup and drill, the master-key versions, and the companies
//! (names, member counts, scheduled deletions). No company content.

use turva_model::access::{self, Action, ActorFacts, Reason};
use turva_model::audit::{AuditAction, Outcome};

use crate::audit::{self, Event};
use crate::backup::{self, Drilled, Summary};
use crate::keys::VersionStatus;
use crate::{Actor, App, AppError, Ctx};

/// What an operator sees.
#[derive(Debug, Clone)]
pub struct PlatformStatus {
    pub version: &'static str,
    pub backups: usize,
    pub last_backup: Option<Summary>,
    pub last_drill: Option<Drilled>,
    /// Why the backup figures are missing (the target unreachable).
    pub backup_error: Option<String>,
    pub key_versions: Vec<VersionStatus>,
    /// Every company, newest first.
    pub companies: Vec<turva_store::companies::CompanySummary>,
}

/// The platform's status, for operators (audited as `admin.status`).
pub async fn status(app: &App, ctx: &Ctx, actor: &Actor) -> Result<PlatformStatus, AppError> {
    let facts = ActorFacts {
        is_operator: actor.is_operator,
        role: None,
        recent_auth: crate::auth::recent_auth(app, actor),
        is_guest: false,
    };
    if let Err(reason) = access::decide(&facts, Action::ViewPlatformStatus) {
        let ev = Event::new(AuditAction::AdminStatus, Outcome::Denied)
            .actor(actor)
            .reason(match reason {
                Reason::NotVisible => "not visible",
                Reason::ReauthRequired => "recent authentication required",
                Reason::Forbidden => "operators only",
            });
        return Err(audit::deny(app, ctx, ev, AppError::Forbidden("operators only")).await);
    }
    let (backups, last_backup, last_drill, backup_error) = match backup::status(app).await {
        Ok(s) => (s.backups, s.last_backup, s.last_drill, None),
        Err(e) => (0, None, None, Some(e.to_string())),
    };
    let key_versions = crate::keys::status(app).await?;
    let companies = {
        let mut tx = app.db().read().await?;
        let all = turva_store::companies::all_companies(&mut tx).await?;
        tx.commit().await?;
        all
    };
    audit::record_read(
        app,
        ctx,
        Event::new(AuditAction::AdminStatus, Outcome::Allowed).actor(actor),
    )
    .await?;
    Ok(PlatformStatus {
        version: env!("CARGO_PKG_VERSION"),
        backups,
        last_backup,
        last_drill,
        backup_error,
        key_versions,
        companies,
    })
}
