//! The audit writer: the one function that records an audit event.
//!
//! It runs inside the caller's transaction, so an event commits together
//! with the change it describes, or not at all. The sequence number comes
//! from the database under the log's write lock (gap-free, never forked by
//! two processes): in that transaction on PostgreSQL, when the event is
//! moved into the log's own file on SQLite. Personal data (email, client address, user agent) is sealed
//! under the data key of the person it is about (or of the current month
//! when nobody is known), so that erasing a person later means destroying
//! their key; opaque ids stay in the clear. A keyed hash of the address
//! allows filtering by it.

use serde::Serialize;
use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_store::{audit as store, Tx};

use crate::keyring::{self, KeyKind};
use crate::{App, AppError, Ctx};

/// One event to record.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub action: AuditAction,
    pub outcome: Outcome,
    pub company_id: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    /// `session`, `token:<id>`, `cli`.
    pub credential: Option<&'a str>,
    pub object: Option<(ObjectType, &'a str)>,
    pub object_version: Option<i64>,
    /// Why it was denied (the real reason, even when the client saw 404).
    pub reason: Option<&'a str>,
    /// The email the event is about when no actor is known (a failed
    /// sign-in for an address), or the actor's.
    pub email: Option<&'a str>,
    /// The user the personal data is about, when it is not the actor (a
    /// failed sign-in to a known account): their key seals it.
    pub subject_id: Option<&'a str>,
}

impl<'a> Event<'a> {
    pub fn new(action: AuditAction, outcome: Outcome) -> Self {
        Event {
            action,
            outcome,
            company_id: None,
            actor_id: None,
            credential: None,
            object: None,
            object_version: None,
            reason: None,
            email: None,
            subject_id: None,
        }
    }
    pub fn company(mut self, id: &'a str) -> Self {
        self.company_id = Some(id);
        self
    }
    pub fn actor(mut self, actor: &'a crate::Actor) -> Self {
        self.actor_id = Some(&actor.user_id);
        self.email = Some(&actor.email);
        self.credential = Some(&actor.credential);
        self
    }
    pub fn object(mut self, kind: ObjectType, id: &'a str) -> Self {
        self.object = Some((kind, id));
        self
    }
    pub fn reason(mut self, why: &'a str) -> Self {
        self.reason = Some(why);
        self
    }
}

/// The personal part of an event, sealed before it is stored.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Personal {
    pub email: Option<String>,
    pub ip: String,
    pub user_agent: String,
}

/// Records `event` in `tx`, the transaction of the change it describes, so
/// that the two commit together or not at all. On PostgreSQL the event
/// goes straight into `audit_events` with its sequence number; on SQLite,
/// where the log is a file of its own, it is pended in `turva.db` and moved
/// into the log with the events of reads (`audit_writer`). (Events of reads
/// go through [`record_read`], which batches them.)
pub async fn record(app: &App, tx: &mut Tx, ctx: &Ctx, event: Event<'_>) -> Result<(), AppError> {
    if turva_store::audit_stage::stages(app.db()) {
        return crate::audit_writer::pend(app, tx, ctx, event).await;
    }
    record_in_log(app, tx, ctx, event).await
}

/// Records `event` straight into `audit_events` in `tx`, which holds the
/// write lock on the log: a change's event on PostgreSQL, or an event
/// about the log itself (retention's), whose change is in the log's file.
pub(crate) async fn record_in_log(
    app: &App,
    tx: &mut Tx,
    ctx: &Ctx,
    event: Event<'_>,
) -> Result<(), AppError> {
    let seq = store::next_seq(tx).await?;
    let now = app.now();
    let (kind, owner) = match event.subject_id.or(event.actor_id) {
        Some(uid) => (KeyKind::User, uid.to_string()),
        None => (KeyKind::Period, period_of(now)),
    };
    let key = keyring::key_unless_erased(app, tx, kind, &owner).await?;
    let personal = Personal {
        email: event.email.map(str::to_string),
        ip: ctx.ip.to_string(),
        user_agent: ctx.user_agent.chars().take(512).collect(),
    };
    let (personal_key_id, personal, ip_index) = seal_personal(app, key, seq, &personal)?;
    let credential = event.credential.map(str::to_string);
    let row = store::AuditRow {
        seq,
        time: now,
        company_id: event.company_id.map(str::to_string),
        actor_id: event.actor_id.map(str::to_string),
        credential,
        object_type: event.object.map(|(k, _)| k.as_str().to_string()),
        object_id: event.object.map(|(_, id)| id.to_string()),
        object_version: event.object_version,
        action: event.action.as_str().to_string(),
        outcome: event.outcome.as_str().to_string(),
        reason: event.reason.map(str::to_string),
        request_id: Some(ctx.request_id.clone()),
        personal_key_id,
        personal,
        ip_index,
    };
    store::insert_event(tx, &row).await?;
    if let Some(user) = linked_user(&row, event.subject_id.or(event.actor_id)) {
        store::link_to_companies(tx, &[(seq, user)]).await?;
    }
    Ok(())
}

/// An event's personal columns: key id, ciphertext, keyed hash of the IP.
pub(crate) type SealedPersonal = (Option<String>, Option<Vec<u8>>, Option<String>);

/// The sealed personal part of event `seq` under `key` (its id, the
/// ciphertext and the keyed hash of the address), or nothing at all when
/// the person's key was destroyed: an event about an erased person keeps
/// no personal field, not even the address's hash.
pub(crate) fn seal_personal(
    app: &App,
    key: Option<(String, turva_store::keys::DataKey)>,
    seq: i64,
    personal: &Personal,
) -> Result<SealedPersonal, AppError> {
    let Some((key_id, key)) = key else {
        return Ok((None, None, None));
    };
    let plain = serde_json::to_vec(personal).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok((
        Some(key_id),
        Some(turva_store::crypt::seal(&key, &personal_aad(seq), &plain)),
        Some(crate::secret::keyed_hash(
            app.index_key(),
            "ip",
            &personal.ip,
        )),
    ))
}

/// Opens the personal part of a stored event, if its key still exists
/// (after erasure it does not, and the fields read as erased).
pub async fn open_personal(
    app: &App,
    tx: &mut Tx,
    row: &store::AuditRow,
) -> Result<Option<Personal>, AppError> {
    let (Some(sealed), Some(key_id)) = (&row.personal, &row.personal_key_id) else {
        return Ok(None);
    };
    let Some(key) = keyring::key_by_id(app, tx, key_id).await? else {
        return Ok(None);
    };
    let plain = turva_store::crypt::open(&key, &personal_aad(row.seq), sealed)?;
    Ok(serde_json::from_slice(&plain).ok())
}

/// The Merkle leaf hash of a stored event (for tools and tests that
/// recompute the tree).
pub fn leaf_hash(row: &store::AuditRow) -> turva_model::merkle::Hash {
    store::leaf_of(row)
}

/// A stored event with its personal part opened (None once erased).
#[derive(Debug)]
pub struct EventView {
    pub row: store::AuditRow,
    pub personal: Option<Personal>,
}

/// Events after `after` (oldest first, at most `limit`), of every company
/// and the platform, with their personal parts opened. For operators'
/// tools and tests; the per-company audit API is a later issue.
pub async fn events(app: &App, after: i64, limit: i64) -> Result<Vec<EventView>, AppError> {
    crate::audit_writer::flush(app).await?;
    let mut tx = app.db().read().await?;
    let rows = store::events_after(&mut tx, after, limit).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let personal = open_personal(app, &mut tx, &row).await?;
        out.push(EventView { row, personal });
    }
    Ok(out)
}

/// Records a denied request through the audit writer (the operation's own
/// transaction is rolled back), then returns the error to answer with.
pub async fn deny(app: &App, ctx: &Ctx, event: Event<'_>, answer: AppError) -> AppError {
    // A denial changes nothing: it goes through the batching writer.
    let result = crate::audit_writer::record(app, ctx, event).await;
    match result.map(|_| ()) {
        Ok(()) => answer,
        // Without its audit event the request must not be acknowledged.
        Err(e) => e,
    }
}

/// The user whose companies a stored event is shown to besides its own:
/// sign-in events (`auth.*`) belong to no company and are shown in the
/// audit of every company their user is a member of when they happen.
pub(crate) fn linked_user<'a>(row: &store::AuditRow, user: Option<&'a str>) -> Option<&'a str> {
    if row.company_id.is_none() && row.action.starts_with("auth.") {
        user
    } else {
        None
    }
}

pub(crate) fn personal_aad(seq: i64) -> String {
    format!("turva/audit/{seq}/personal")
}

/// `YYYY-MM` of a timestamp: the period key's owner.
pub(crate) fn period_of(millis: i64) -> String {
    crate::clock::rfc3339(millis).chars().take(7).collect()
}

/// Records an event that describes no change (a view, a listing, a search,
/// a download) through the batching writer; returns once it is durable.
pub async fn record_read(app: &App, ctx: &Ctx, event: Event<'_>) -> Result<(), AppError> {
    crate::audit_writer::record(app, ctx, event).await
}
