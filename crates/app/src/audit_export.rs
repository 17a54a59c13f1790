//! Exporting the audit log: events in API.md's shape, as JSON lines or CSV,
//! streamed in batches (never all in memory). Used by `GET
//! /companies/{cid}/audit?format=…`, `GET /admin/audit?format=…` and `turva
//! audit export`. Every export is itself an event (`audit.export`),
//! recorded before the first line is written.
//!
//! Values that came from users (emails, user agents, ids typed into
//! filters) can hold anything; both formats encode them so that no value can
//! end a line or start a new record: JSON escapes every control character
//! (and the Unicode line and paragraph separators, here), CSV quotes cells
//! and writes control characters and backslashes as backslash escapes, and
//! defuses cells that a spreadsheet would run as a formula.

use std::collections::HashMap;

use serde::Serialize;
use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_store::audit::{self as store, AuditRow, EventFilter, Page};
use turva_store::keys::DataKey;
use turva_store::Tx;

use crate::audit::{self, Event, Personal};
use crate::audit_read::{self, Query, Whose};
use crate::{keyring, Actor, App, AppError, Ctx};

/// One event as the API and exports show it (API.md, "Audit log").
#[derive(Debug, Clone, Serialize)]
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
    /// One event with its personal part (None once erased).
    pub fn of(row: AuditRow, personal: Option<Personal>) -> Exported {
        Exported {
            seq: row.seq,
            time: crate::clock::rfc3339(row.time),
            actor_id: row.actor_id,
            actor_email: personal.as_ref().and_then(|p| p.email.clone()),
            company_id: row.company_id,
            object_type: row.object_type,
            object_id: row.object_id,
            object_version: row.object_version,
            action: row.action,
            outcome: row.outcome,
            ip: personal.as_ref().map(|p| p.ip.clone()),
            user_agent: personal.as_ref().map(|p| p.user_agent.clone()),
            request_id: row.request_id,
            credential: row.credential,
            reason: row.reason,
        }
    }

    /// One CSV line, without its line break.
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

    /// One JSON line, without its line break.
    pub fn json_line(&self) -> Result<String, AppError> {
        let line = serde_json::to_string(self).map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(escape_separators(&line))
    }
}

/// JSON leaves U+0085, U+2028 and U+2029 raw inside strings; some readers
/// end lines at them. They can only occur inside strings, where `\uXXXX`
/// means the same.
fn escape_separators(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for ch in line.chars() {
        match ch {
            '\u{85}' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(ch)))
            }
            c => out.push(c),
        }
    }
    out
}

/// A CSV cell: control characters and backslashes escaped (so a value never
/// spans lines, even for readers that ignore quoting), a leading formula
/// character defused with `'`, and RFC 4180 quoting where needed.
fn csv_cell(v: &str) -> String {
    let mut text = String::with_capacity(v.len());
    if v.starts_with(['=', '+', '-', '@', '\t', '\r', '|']) {
        text.push('\'');
    }
    for ch in v.chars() {
        match ch {
            '\\' => text.push_str("\\\\"),
            '\n' => text.push_str("\\n"),
            '\r' => text.push_str("\\r"),
            '\t' => text.push_str("\\t"),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                text.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => text.push(c),
        }
    }
    if text.contains([',', '"', ';']) || text.starts_with(' ') || text.ends_with(' ') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// Data keys read while opening events, so each is unwrapped once per batch.
#[derive(Default)]
pub(crate) struct Keys(HashMap<String, Option<DataKey>>);

impl Keys {
    /// Opens the personal part of `row` (None once its key is destroyed).
    pub(crate) async fn open(
        &mut self,
        app: &App,
        tx: &mut Tx,
        row: &AuditRow,
    ) -> Result<Option<Personal>, AppError> {
        let (Some(sealed), Some(key_id)) = (&row.personal, &row.personal_key_id) else {
            return Ok(None);
        };
        if !self.0.contains_key(key_id) {
            let key = keyring::key_by_id(app, tx, key_id).await?;
            self.0.insert(key_id.clone(), key);
        }
        let Some(Some(key)) = self.0.get(key_id) else {
            return Ok(None);
        };
        let plain = turva_store::crypt::open(key, &audit::personal_aad(row.seq), sealed)?;
        Ok(serde_json::from_slice(&plain).ok())
    }

    /// Opens every row of a batch.
    pub(crate) async fn open_all(
        &mut self,
        app: &App,
        tx: &mut Tx,
        rows: Vec<AuditRow>,
    ) -> Result<Vec<Exported>, AppError> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let personal = self.open(app, tx, &row).await?;
            out.push(Exported::of(row, personal));
        }
        Ok(out)
    }
}

/// Who asks for an export.
#[derive(Clone, Copy)]
pub enum Exporter<'a> {
    /// A signed-in user through the API (decided by the policy).
    User(&'a Actor),
    /// The machine's administrator through the CLI.
    Cli,
}

/// An export under way: call [`Export::next_batch`] until it is empty.
pub struct Export {
    whose: Whose,
    filter: EventFilter,
    after: i64,
    keys: Keys,
    done: bool,
}

/// Events per batch.
const BATCH: i64 = 1000;

/// Starts an export of `whose` events that pass `query`, oldest first:
/// decides (recent auth), records the export, and returns the cursor.
pub async fn start(
    app: &App,
    ctx: &Ctx,
    who: Exporter<'_>,
    whose: Whose,
    query: &Query,
) -> Result<Export, AppError> {
    if let Exporter::User(actor) = who {
        audit_read::authorize(app, ctx, actor, &whose, true).await?;
    }
    let mut tx = app.db().write().await?;
    let filter = audit_read::resolve(app, &mut tx, query).await?;
    let mut ev = Event::new(AuditAction::AuditExport, Outcome::Allowed);
    match who {
        Exporter::User(actor) => ev = ev.actor(actor),
        Exporter::Cli => ev.credential = Some("cli"),
    }
    if let Whose::Company(cid) = &whose {
        ev = ev.company(cid).object(ObjectType::Company, cid);
    }
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    crate::audit_writer::flush(app).await?;
    Ok(Export {
        whose,
        filter,
        after: 0,
        keys: Keys::default(),
        done: false,
    })
}

impl Export {
    /// The next batch of events, oldest first; empty at the end.
    pub async fn next_batch(&mut self, app: &App) -> Result<Vec<Exported>, AppError> {
        if self.done {
            return Ok(Vec::new());
        }
        let mut tx = app.db().read().await?;
        let rows = store::find_events(
            &mut tx,
            self.whose.scope(),
            &self.filter,
            Page::After(self.after),
            BATCH,
        )
        .await?;
        if (rows.len() as i64) < BATCH {
            self.done = true;
        }
        if let Some(last) = rows.last() {
            self.after = last.seq;
        }
        self.keys.open_all(app, &mut tx, rows).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_escaped_and_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("a\nb\r\nc"), "a\\nb\\r\\nc");
        assert_eq!(csv_cell("back\\slash"), "back\\\\slash");
        assert_eq!(csv_cell("bell\u{7}\u{2028}"), "bell\\u{7}\\u{2028}");
        assert!(!csv_cell("x\n1,2,3,forged").contains('\n'));
    }

    #[test]
    fn json_lines_never_break() {
        let mut e = Exported::of(AuditRow::default(), None);
        e.user_agent = Some("ua\n{\"seq\":1}\u{2028}\u{85}".into());
        let line = e.json_line().unwrap();
        assert!(!line.contains(['\n', '\r', '\u{2028}', '\u{85}']), "{line}");
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["user_agent"], "ua\n{\"seq\":1}\u{2028}\u{85}");
    }
}
