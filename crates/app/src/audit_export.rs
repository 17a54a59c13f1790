//! `turva audit export`: every event, oldest first, with its personal
//! fields opened (or empty once erased), in API.md's event shape, as JSON
//! lines or CSV. The export itself is audited (`audit.export`).

use serde::Serialize;
use turva_model::audit::{AuditAction, Outcome};
use turva_store::{audit as store, members};

use crate::audit::{self, Event};
use crate::{App, AppError, Ctx};

/// Which events to export.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// A company's events: those about its data, and the sign-in events
    /// (`auth.*`, which belong to no company) of its members.
    pub company: Option<String>,
    /// Milliseconds since the epoch, inclusive.
    pub since: Option<i64>,
    /// Milliseconds since the epoch, exclusive.
    pub until: Option<i64>,
}

/// One exported event (API.md, "Audit log").
#[derive(Debug, Serialize)]
pub struct Exported {
    pub seq: i64,
    pub time: String,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub company_id: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub object_version: Option<i64>,
    pub action: String,
    pub outcome: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub credential: Option<String>,
    /// Why a denied event was denied.
    pub reason: Option<String>,
}

/// The CSV header, in the column order of `Exported::csv_row`.
pub const CSV_HEADER: &str = "seq,time,actor_id,actor_email,company_id,object_type,object_id,object_version,action,outcome,ip,user_agent,request_id,credential,reason";

impl Exported {
    /// One CSV line (RFC 4180 quoting; cells that a spreadsheet would run
    /// as a formula are prefixed with `'`).
    pub fn csv_row(&self) -> String {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let cells = [
            self.seq.to_string(),
            self.time.clone(),
            opt(&self.actor_id),
            opt(&self.actor_email),
            opt(&self.company_id),
            opt(&self.object_type),
            opt(&self.object_id),
            self.object_version
                .map(|v| v.to_string())
                .unwrap_or_default(),
            self.action.clone(),
            self.outcome.clone(),
            opt(&self.ip),
            opt(&self.user_agent),
            opt(&self.request_id),
            opt(&self.credential),
            opt(&self.reason),
        ];
        cells
            .iter()
            .map(|c| csv_cell(c))
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn csv_cell(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// Passes every matching event to `out`, oldest first, in batches (never
/// all in memory), then records the export. Returns how many it passed.
pub async fn export(
    app: &App,
    ctx: &Ctx,
    filter: &Filter,
    mut out: impl FnMut(Exported) -> Result<(), AppError>,
) -> Result<u64, AppError> {
    let members: Vec<String> = match &filter.company {
        Some(cid) => {
            let mut tx = app.db().read().await?;
            members::members_of_company(&mut tx, cid, None, i64::MAX)
                .await?
                .into_iter()
                .map(|m| m.user_id)
                .collect()
        }
        None => Vec::new(),
    };
    let mut after = 0;
    let mut count = 0;
    loop {
        let batch = audit::events(app, after, 1000).await?;
        let Some(last) = batch.last() else { break };
        after = last.row.seq;
        for e in batch {
            if !matches(filter, &members, &e.row) {
                continue;
            }
            let p = e.personal;
            out(Exported {
                seq: e.row.seq,
                time: crate::clock::rfc3339(e.row.time),
                actor_id: e.row.actor_id,
                actor_email: p.as_ref().and_then(|p| p.email.clone()),
                company_id: e.row.company_id,
                object_type: e.row.object_type,
                object_id: e.row.object_id,
                object_version: e.row.object_version,
                action: e.row.action,
                outcome: e.row.outcome,
                ip: p.as_ref().map(|p| p.ip.clone()),
                user_agent: p.as_ref().map(|p| p.user_agent.clone()),
                request_id: e.row.request_id,
                credential: e.row.credential,
                reason: e.row.reason,
            })?;
            count += 1;
        }
    }
    let mut tx = app.db().write().await?;
    let mut ev = Event::new(AuditAction::AuditExport, Outcome::Allowed);
    ev.credential = Some("cli");
    ev.company_id = filter.company.as_deref();
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(count)
}

fn matches(filter: &Filter, members: &[String], row: &store::AuditRow) -> bool {
    if filter.since.is_some_and(|s| row.time < s) || filter.until.is_some_and(|u| row.time >= u) {
        return false;
    }
    match &filter.company {
        None => true,
        Some(cid) => {
            row.company_id.as_deref() == Some(cid.as_str())
                || (row.company_id.is_none()
                    && row.action.starts_with("auth.")
                    && row.actor_id.as_ref().is_some_and(|a| members.contains(a)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1"), "'-1");
    }
}
