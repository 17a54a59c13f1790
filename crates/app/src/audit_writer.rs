//! The audit writer for events that carry no change: views, listings,
//! searches, downloads and denied requests.
//!
//! A request hands its event to one writer task and waits until the event
//! is committed, so it is durable before the answer is sent; the task
//! commits every event waiting at that moment in one transaction (one
//! sequence range, one multi-row insert). Reads thus never take the write
//! lock themselves, and many share one commit (API.md: "several requests
//! may share one commit"). Events that describe a change are not written
//! here: they commit in the change's own transaction (`audit::record`).

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use tokio::sync::{mpsc, oneshot};
use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_store::audit as store;
use turva_store::keys::DataKey;

use crate::audit::{period_of, personal_aad, Event, Personal};
use crate::keyring::{self, KeyKind};
use crate::{App, AppError, Ctx};

/// Most events committed together.
const MAX_BATCH: usize = 256;

/// An event with owned fields, waiting for the writer.
#[derive(Debug)]
struct Pending {
    action: AuditAction,
    outcome: Outcome,
    company_id: Option<String>,
    actor_id: Option<String>,
    credential: Option<String>,
    object: Option<(ObjectType, String)>,
    object_version: Option<i64>,
    reason: Option<String>,
    email: Option<String>,
    subject_id: Option<String>,
    ctx: Ctx,
}

type Reply = oneshot::Sender<Result<i64, String>>;

/// The handle requests send events through.
#[derive(Debug)]
pub(crate) struct Writer {
    queue: mpsc::Sender<(Pending, Reply)>,
}

impl Writer {
    /// Starts the writer task for the app whose state is `inner`; the task
    /// ends when the app is dropped.
    pub(crate) fn start<T: Send + Sync + 'static>(
        inner: Weak<T>,
        app_of: fn(Arc<T>) -> App,
    ) -> Writer {
        let (queue, rx) = mpsc::channel(4096);
        tokio::spawn(run(rx, inner, app_of));
        Writer { queue }
    }
}

async fn run<T: Send + Sync + 'static>(
    mut rx: mpsc::Receiver<(Pending, Reply)>,
    inner: Weak<T>,
    app_of: fn(Arc<T>) -> App,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let Some(app) = inner.upgrade().map(app_of) else {
            return;
        };
        let (events, replies): (Vec<Pending>, Vec<Reply>) = batch.drain(..).unzip();
        match commit(&app, &events).await {
            Ok(first) => {
                for (i, reply) in replies.into_iter().enumerate() {
                    let _ = reply.send(Ok(first + i64::try_from(i).unwrap_or(0)));
                }
            }
            Err(e) => {
                let why = e.to_string();
                tracing::error!(error = %why, events = events.len(), "audit events could not be written");
                for reply in replies {
                    let _ = reply.send(Err(why.clone()));
                }
            }
        }
        drop(app);
    }
}

/// Writes `events` in one transaction; returns the first sequence number.
async fn commit(app: &App, events: &[Pending]) -> Result<i64, AppError> {
    let mut tx = app.db().write().await?;
    let n = i64::try_from(events.len()).unwrap_or(0);
    let first = store::take_seqs(&mut tx, n).await?;
    let now = app.now();
    // A key is read once per batch (never kept beyond it).
    let mut keys: HashMap<(KeyKind, String), (String, DataKey)> = HashMap::new();
    let mut rows = Vec::with_capacity(events.len());
    for (i, ev) in events.iter().enumerate() {
        let seq = first + i64::try_from(i).unwrap_or(0);
        let (kind, owner) = match ev.subject_id.as_ref().or(ev.actor_id.as_ref()) {
            Some(uid) => (KeyKind::User, uid.clone()),
            None => (KeyKind::Period, period_of(now)),
        };
        let (key_id, key) = match keys.get(&(kind, owner.clone())) {
            Some(k) => k.clone(),
            None => {
                let k = keyring::ensure_key(app, &mut tx, kind, &owner).await?;
                keys.insert((kind, owner), k.clone());
                k
            }
        };
        let personal = Personal {
            email: ev.email.clone(),
            ip: ev.ctx.ip.to_string(),
            user_agent: ev.ctx.user_agent.chars().take(512).collect(),
        };
        let plain = serde_json::to_vec(&personal).map_err(|e| AppError::Internal(e.to_string()))?;
        rows.push(store::AuditRow {
            seq,
            time: now,
            company_id: ev.company_id.clone(),
            actor_id: ev.actor_id.clone(),
            credential: ev.credential.clone(),
            object_type: ev.object.as_ref().map(|(k, _)| k.as_str().to_string()),
            object_id: ev.object.as_ref().map(|(_, id)| id.clone()),
            object_version: ev.object_version,
            action: ev.action.as_str().to_string(),
            outcome: ev.outcome.as_str().to_string(),
            reason: ev.reason.clone(),
            request_id: Some(ev.ctx.request_id.clone()),
            personal_key_id: Some(key_id),
            personal: Some(turva_store::crypt::seal(&key, &personal_aad(seq), &plain)),
            ip_index: Some(crate::secret::keyed_hash(
                app.index_key(),
                "ip",
                &ev.ctx.ip.to_string(),
            )),
        });
    }
    store::insert_events(&mut tx, &rows).await?;
    tx.commit().await?;
    Ok(first)
}

/// Records an event that describes no change, through the writer; returns
/// once it is committed.
pub(crate) async fn record(app: &App, ctx: &Ctx, ev: Event<'_>) -> Result<i64, AppError> {
    let pending = Pending {
        action: ev.action,
        outcome: ev.outcome,
        company_id: ev.company_id.map(str::to_string),
        actor_id: ev.actor_id.map(str::to_string),
        credential: ev.credential.map(str::to_string),
        object: ev.object.map(|(k, id)| (k, id.to_string())),
        object_version: ev.object_version,
        reason: ev.reason.map(str::to_string),
        email: ev.email.map(str::to_string),
        subject_id: ev.subject_id.map(str::to_string),
        ctx: ctx.clone(),
    };
    let (reply, answer) = oneshot::channel();
    app.audit_writer()
        .queue
        .send((pending, reply))
        .await
        .map_err(|_| AppError::Unavailable("the audit writer has stopped".into()))?;
    match answer.await {
        Ok(Ok(seq)) => Ok(seq),
        Ok(Err(why)) => Err(AppError::Unavailable(why)),
        Err(_) => Err(AppError::Unavailable("the audit writer has stopped".into())),
    }
}
