//! Retention of the audit log: events older than `[audit] retention_days`
//! (at least 365, checked at start) are deleted, oldest first, while the
//! Merkle tree's hashes stay, so every checkpoint and every later proof
//! still verifies. Each deletion commits together with an `audit.prune`
//! event that names how far it went (`through seq N`), which `audit
//! verify` requires to match `audit_head.pruned_through`: a log cut short
//! by hand is told from a pruned one.
//!
//! The server prunes once an hour (from the audit mover task).

use turva_model::audit::{AuditAction, Outcome};
use turva_store::audit as store;

use crate::audit::{self, Event};
use crate::{App, AppError, Ctx};

const DAY_MS: i64 = 86_400_000;

/// Events deleted per transaction.
const BATCH: i64 = 10_000;

/// The reason text of a prune event, and how verification reads it back.
pub(crate) fn reason(through: i64) -> String {
    format!("retention: events through seq {through} were deleted")
}

/// The `through` of a prune event's reason.
pub(crate) fn through_of(reason: &str) -> Option<i64> {
    reason
        .strip_prefix("retention: events through seq ")?
        .strip_suffix(" were deleted")?
        .parse()
        .ok()
}

/// Deletes every event past retention; returns how many.
pub async fn prune(app: &App) -> Result<i64, AppError> {
    let days = i64::from(app.config().audit.retention_days).max(365);
    let cutoff = app.now() - days * DAY_MS;
    crate::audit_writer::flush(app).await?;
    let mut total = 0;
    loop {
        let mut tx = app.db().write().await?;
        let n = store::prune(&mut tx, cutoff, BATCH).await?;
        if n == 0 {
            return Ok(total);
        }
        let through = store::pruned_through(&mut tx).await?;
        let why = reason(through);
        let mut ev = Event::new(AuditAction::AuditPrune, Outcome::Allowed);
        ev.credential = Some("system");
        ev.reason = Some(&why);
        // In the log's own file, with the prune it describes.
        audit::record_in_log(app, &mut tx, &Ctx::cli(), ev).await?;
        tx.commit().await?;
        total += n;
        if n < BATCH {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_reads_back() {
        assert_eq!(through_of(&reason(12345)), Some(12345));
        assert_eq!(
            through_of("retention: events through seq x were deleted"),
            None
        );
        assert_eq!(through_of("forbidden"), None);
    }
}
