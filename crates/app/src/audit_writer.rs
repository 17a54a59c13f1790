//! The audit writer for events that carry no change: views, listings,
//! searches, downloads and denied requests. Each is durable before the
//! request's answer is sent. Events that describe a change are not written
//! here: they commit in the change's own transaction (`audit::record`).
//!
//! On SQLite a request appends its event to this process's audit journal
//! (`turva_store::audit_journal`: an encrypted, append-only file) on its
//! own thread and goes on; a second task, the mover, moves journalled
//! events and the events of changes (pended in `turva.db` with their
//! change) into `audit_events` every `[audit] checkpoint_seconds`, with
//! their sequence numbers, personal keys and sealing, in one commit to the
//! log's file, and signs a checkpoint of the grown tree in that commit.
//! A view thus writes no database at all: the readers' page caches stay
//! warm, and no connection's thread is woken per view. Whoever reads the
//! log moves what waits first ([`flush`]), so a read of the log sees every
//! acknowledged event. Events of reads that an older version staged in
//! `turva-audit-stage.db` are moved the same way.
//!
//! On PostgreSQL a request hands its event to one writer task and waits
//! until it is committed; the task inserts every event waiting at that
//! moment in one transaction (API.md: "several requests may share one
//! commit").

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, Notify};
use turva_store::audit as store;
use turva_store::audit_journal::{self, Journal};
use turva_store::audit_stage;
use turva_store::db::Tx;
use turva_store::keys::DataKey;

use crate::audit::{period_of, Event, Personal};
use crate::keyring::{self, KeyKind};
use crate::{App, AppError, Ctx};

/// A benchmark-only build (feature `bench-unaudited`) that writes no
/// event of a read, to measure what auditing a view costs.
pub const UNAUDITED: bool = cfg!(feature = "bench-unaudited");

/// Most events committed together.
const MAX_BATCH: usize = 256;

/// Times the writer yields to gather more events before a commit.
const GATHER_YIELDS: usize = 3;

/// Under load, commits are at least this far apart (PostgreSQL): the
/// events of the meantime share the next one; an idle server commits at
/// once.
const COMMIT_SPACING: Duration = Duration::from_millis(1);

/// Events the mover seals between two yields to the runtime.
const YIELD_EVERY: usize = 64;

/// Most waiting events read and inserted in one go.
const MOVE_BATCH: i64 = 512;

/// Most waiting events moved in one transaction. Every commit to the main
/// file makes each reader connection drop its page cache, so a turn's
/// events go in as few commits as possible.
const MOVE_TX: usize = 32_768;

/// An event with owned fields, as it waits to be moved into the log
/// (journalled, pended or staged): everything its row is made of once it
/// has a sequence number.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Waiting {
    time: i64,
    action: String,
    outcome: String,
    company_id: Option<String>,
    actor_id: Option<String>,
    credential: Option<String>,
    object_type: Option<String>,
    object_id: Option<String>,
    object_version: Option<i64>,
    reason: Option<String>,
    email: Option<String>,
    subject_id: Option<String>,
    ip: String,
    user_agent: String,
    request_id: String,
}

type Reply = oneshot::Sender<Result<(), String>>;

/// The handle requests send events through.
#[derive(Debug)]
pub(crate) struct Writer {
    /// PostgreSQL: the writer task's queue.
    queue: Option<mpsc::Sender<(Waiting, Reply)>>,
    /// SQLite: this process's audit journal.
    journal: Option<Journal>,
    /// SQLite: how far the mover is behind, shared with it.
    backlog: Arc<Backlog>,
}

/// Bytes journalled but not yet moved, beyond which requests wait for the
/// mover (and it runs at once) instead of filling the disk: at most a few
/// seconds of views at full speed.
const JOURNAL_LIMIT: u64 = 256 << 20;

/// How long a request waits for the mover to make room in the journal
/// before it fails (the mover is then failing too, and the error says so).
const JOURNAL_WAIT: Duration = Duration::from_secs(30);

/// The journal's backlog: what the mover found left after its last turn
/// plus what was appended since, and the signals between the two sides.
#[derive(Debug, Default)]
struct Backlog {
    bytes: AtomicU64,
    /// Wakes the mover before its next tick.
    wake_mover: Notify,
    /// Wakes requests waiting for room, after each turn.
    turned: Notify,
}

impl Writer {
    /// Starts the mover task (which on SQLite moves waiting events, and on
    /// either backend signs checkpoints) and, without a `journal`
    /// (PostgreSQL), the writer task, for the app whose state is `inner`;
    /// the tasks end when the app is dropped.
    pub(crate) fn start<T: Send + Sync + 'static>(
        inner: Weak<T>,
        app_of: fn(Arc<T>) -> App,
        move_every: Duration,
        journal: Option<Journal>,
    ) -> Writer {
        let queue = journal.is_none().then(|| {
            let (queue, rx) = mpsc::channel(4096);
            tokio::spawn(run(rx, inner.clone(), app_of));
            queue
        });
        let backlog = Arc::new(Backlog::default());
        tokio::spawn(mover(inner, app_of, move_every, backlog.clone()));
        Writer {
            queue,
            journal,
            backlog,
        }
    }

    /// Closes this process's journal segment (at shutdown), so that the
    /// last move deletes it.
    pub(crate) fn close_journal(&self) {
        if let Some(j) = &self.journal {
            j.close();
        }
    }
}

/// The key the journal's segment keys derive from (each segment's own is
/// derived from it and the segment's name): from the platform index key,
/// which every process of the data directory holds.
pub(crate) fn journal_root(app: &App) -> DataKey {
    turva_store::crypt::derive(app.index_key(), "turva/audit-journal")
}

/// The journal of `app`'s data directory, to append to (SQLite).
pub(crate) fn journal_of(app: &App) -> Option<Journal> {
    (audit_stage::stages(app.db()) && !app.inspect_only())
        .then(|| Journal::new(audit_journal::dir_of(app.data_dir()), journal_root(app)))
}

async fn run<T: Send + Sync + 'static>(
    mut rx: mpsc::Receiver<(Waiting, Reply)>,
    inner: Weak<T>,
    app_of: fn(Arc<T>) -> App,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut last_commit: Option<tokio::time::Instant> = None;
    loop {
        if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        if let Some(wait) = last_commit.and_then(|t| COMMIT_SPACING.checked_sub(t.elapsed())) {
            tokio::time::sleep(wait).await;
        }
        // Let requests that are about to hand in their events do so, so
        // they share this commit (at 32 clients batches were mostly of 1
        // to 3 events; yielding costs nothing when no task is waiting).
        for _ in 0..GATHER_YIELDS {
            tokio::task::yield_now().await;
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
        }
        let Some(app) = inner.upgrade().map(app_of) else {
            return;
        };
        let (events, replies): (Vec<Waiting>, Vec<Reply>) = batch.drain(..).unzip();
        last_commit = Some(tokio::time::Instant::now());
        match commit(&app, &events).await {
            Ok(()) => {
                for reply in replies {
                    let _ = reply.send(Ok(()));
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

/// Commits `events` in one transaction (PostgreSQL).
async fn commit(app: &App, events: &[Waiting]) -> Result<(), AppError> {
    let mut tx = app.db().write().await?;
    insert(app, &mut tx, events, &mut Keys::new()).await?;
    tx.commit().await?;
    Ok(())
}

/// How often events past retention are looked for.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Moves waiting events into `audit_events` and signs a checkpoint `every`
/// so often; prunes the log by retention hourly.
async fn mover<T: Send + Sync + 'static>(
    inner: Weak<T>,
    app_of: fn(Arc<T>) -> App,
    every: Duration,
    backlog: Arc<Backlog>,
) {
    let mut pruned_at: Option<tokio::time::Instant> = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = backlog.wake_mover.notified() => {}
        }
        let Some(app) = inner.upgrade().map(app_of) else {
            return;
        };
        // An app being closed (a drill's scratch system, a command ending)
        // makes its own last checkpoint: a turn now would only fail on
        // its closed pools.
        if app.db().is_closed() {
            return;
        }
        // The segment journalled since the last turn is closed first, so
        // that this turn moves it to its end and deletes it: journalled
        // events stay in a file for about one turn, and segments stay
        // small (the next event starts a new one).
        app.audit_writer().close_journal();
        // Every turn moves what waits and signs a checkpoint whenever the
        // tree grew (on PostgreSQL events are inserted directly).
        let made = crate::checkpoint::make(&app).await;
        if app.db().is_closed() {
            return;
        }
        if let Err(e) = made {
            tracing::error!(error = %e, "audit events could not be moved and checkpointed");
        }
        if audit_stage::stages(app.db()) {
            let dir = audit_journal::dir_of(app.data_dir());
            match tokio::task::spawn_blocking(move || audit_journal::size(&dir)).await {
                Ok(Ok(left)) => backlog.bytes.store(left, Ordering::Relaxed),
                Ok(Err(e)) => tracing::error!(error = %e, "the audit journal's size is unknown"),
                Err(e) => tracing::error!(error = %e, "the audit journal's size is unknown"),
            }
            backlog.turned.notify_waiters();
        }
        match crate::checkpoint::mail_daily(&app).await {
            Err(_) if app.db().is_closed() => return,
            Err(e) => tracing::error!(error = %e, "the daily checkpoint email could not be sent"),
            Ok(_) => {}
        }
        if pruned_at.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            pruned_at = Some(tokio::time::Instant::now());
            match crate::audit_retention::prune(&app).await {
                Err(_) if app.db().is_closed() => return,
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "audit events past retention deleted"),
                Err(e) => tracing::error!(error = %e, "audit retention could not prune"),
            }
        }
        drop(app);
    }
}

/// Moves every journalled, pended and staged event into `audit_events`
/// (ordered by time, up to `MOVE_TX` events per transaction, each with its
/// sequence numbers, the new marks of what is moved and a signed
/// checkpoint of the grown tree in that one commit, which writes only the
/// log's file), then deletes what is moved: journal segments whose writer
/// has gone, pended rows, staged rows. Safe from any number of tasks and
/// processes at once: the write lock orders them, and the marks say what is
/// already moved. A no-op on PostgreSQL.
pub(crate) async fn flush(app: &App) -> Result<(), AppError> {
    let db = app.db();
    if !audit_stage::stages(db) || app.inspect_only() {
        return Ok(());
    }
    let dir = audit_journal::dir_of(app.data_dir());
    let root = journal_root(app);
    // Keys read in an earlier batch: that batch committed, so they exist.
    let mut keys = Keys::new();
    loop {
        // The signer's lock before the write lock, as `checkpoint::make`
        // takes them: each turn signs what it moved in the same commit.
        let one_at_a_time = app.signer().making.lock().await;
        let mut tx = db.write().await?;
        let pending_from = audit_stage::pending_through(&mut tx).await?;
        let staged_from = audit_stage::staged_through(&mut tx).await?;
        let (mut pending, mut staged) = (pending_from, staged_from);
        let mut events = Vec::new();
        // Whether either source may hold more than this turn takes.
        let mut more_pending = true;
        while more_pending && events.len() < MOVE_TX {
            let batch = audit_stage::pending_after(&mut tx, pending, MOVE_BATCH).await?;
            more_pending = take(batch, &mut pending, &mut events)?;
        }
        let mut more_staged = true;
        while more_staged && events.len() < MOVE_TX {
            let batch = audit_stage::staged_after(db, staged, MOVE_BATCH).await?;
            more_staged = take(batch, &mut staged, &mut events)?;
        }
        let marks = audit_journal::marks(&mut tx).await?;
        let room = MOVE_TX.saturating_sub(events.len());
        let journal = read_journal(dir.clone(), root.clone(), marks.clone(), room).await?;
        let mut advanced = Vec::new();
        let mut done = Vec::new();
        let mut more_journal = false;
        for (name, batch) in journal.read {
            for bytes in &batch.events {
                events.push(serde_json::from_slice::<Waiting>(bytes).map_err(|e| {
                    AppError::Internal(format!(
                        "an audit event in journal segment {name} is unreadable: {e}"
                    ))
                })?);
            }
            more_journal |= batch.more;
            if !batch.events.is_empty() {
                advanced.push((name.clone(), batch.through));
            }
            if batch.finished {
                if batch.lost > 0 {
                    tracing::warn!(segment = %name, bytes = batch.lost,
                        "the end of an audit journal segment is not a whole event (a write a crash cut short, never acknowledged)");
                }
                done.push((name, batch));
            }
        }
        // Marks of segments deleted by a move that stopped before
        // forgetting them.
        let orphans: Vec<String> = marks
            .into_keys()
            .filter(|m| !journal.names.contains(m))
            .collect();
        let more = more_pending || more_staged || more_journal;
        if events.is_empty() {
            drop(tx);
            drop(one_at_a_time);
            retire_segments(app, done, orphans).await?;
            return Ok(());
        }
        // Changes and reads interleaved as they happened.
        events.sort_by_key(|e| e.time);
        for chunk in events.chunks(usize::try_from(MOVE_BATCH).unwrap_or(2048)) {
            insert(app, &mut tx, chunk, &mut keys).await?;
        }
        if pending != pending_from {
            audit_stage::set_pending_through(&mut tx, pending).await?;
        }
        if staged != staged_from {
            audit_stage::set_staged_through(&mut tx, staged).await?;
        }
        for (name, through) in &advanced {
            audit_journal::set_mark(&mut tx, name, *through).await?;
        }
        // Signed in the same commit: one commit to the log per turn. A
        // checkpoint that cannot be made does not hold back the move (the
        // mover's next `checkpoint::make` tries again).
        let checkpoint = match crate::checkpoint::sign_in(app, &mut tx).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "the audit checkpoint could not be made with the move");
                None
            }
        };
        tx.commit().await?;
        if let Some(row) = &checkpoint {
            crate::checkpoint::published(app, row)?;
        }
        drop(one_at_a_time);
        // Moved events are deleted afterwards (a crash in between leaves
        // what the marks skip); turva.db is written only when changes were
        // moved, so a server that only reads never empties its readers'
        // page caches.
        retire_segments(app, done, orphans).await?;
        if pending != pending_from {
            audit_stage::forget_pending_through(db, pending).await?;
        }
        if staged != staged_from {
            audit_stage::forget_through(db, staged).await?;
        }
        if !more {
            return Ok(());
        }
    }
}

/// What one look at the journal found: each segment's new events (at most
/// `room` in all), and the names of every segment there.
struct JournalRead {
    read: Vec<(String, audit_journal::Batch)>,
    names: Vec<String>,
}

/// Reads the journal's segments in `dir` from their marks, off the async
/// threads (reading and opening a turn's events is CPU work). A segment
/// that cannot be read is left where it is, with an error in the log, so
/// that it does not hold back the others.
async fn read_journal(
    dir: PathBuf,
    root: DataKey,
    marks: HashMap<String, u64>,
    mut room: usize,
) -> Result<JournalRead, AppError> {
    tokio::task::spawn_blocking(move || {
        let names = audit_journal::segments(&dir)?;
        let mut read = Vec::new();
        for name in &names {
            let from = marks.get(name).copied().unwrap_or(0);
            match audit_journal::read(&dir, &root, name, from, room) {
                Ok(batch) => {
                    room -= batch.events.len().min(room);
                    read.push((name.clone(), batch));
                }
                Err(e) => {
                    tracing::error!(segment = %name, error = %e, "an audit journal segment cannot be read");
                }
            }
        }
        Ok(JournalRead { read, names })
    })
    .await
    .map_err(|e| AppError::Internal(format!("reading the audit journal: {e}")))?
}

/// Deletes journal segments whose events are all moved (`done`) and then
/// their marks, with the marks of segments already gone (`orphans`).
async fn retire_segments(
    app: &App,
    done: Vec<(String, audit_journal::Batch)>,
    mut orphans: Vec<String>,
) -> Result<(), AppError> {
    for (name, batch) in done {
        match batch.remove() {
            Ok(()) => orphans.push(name),
            Err(e) => {
                tracing::error!(segment = %name, error = %e, "a moved audit journal segment could not be deleted")
            }
        }
    }
    if orphans.is_empty() {
        return Ok(());
    }
    let mut tx = app.db().write().await?;
    for name in &orphans {
        audit_journal::forget_mark(&mut tx, name).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Decodes a batch of waiting events (pended or staged) onto `out` and
/// advances `through` to its last id; returns whether the batch was full
/// (so more may wait).
fn take(
    batch: Option<(i64, Vec<String>)>,
    through: &mut i64,
    out: &mut Vec<Waiting>,
) -> Result<bool, AppError> {
    let Some((last, batch)) = batch else {
        return Ok(false);
    };
    for text in &batch {
        out.push(serde_json::from_str::<Waiting>(text).map_err(|e| {
            AppError::Internal(format!(
                "an audit event waiting after {through} is unreadable: {e}"
            ))
        })?);
    }
    *through = last;
    Ok(i64::try_from(batch.len()).unwrap_or(0) == MOVE_BATCH)
}

/// Personal keys already read, by kind and owner (`None`: erased).
type Keys = HashMap<(KeyKind, String), Option<(String, DataKey)>>;

/// Inserts `events` into `audit_events` in `tx`: one sequence range, each
/// personal part sealed under its person's key (each key read once, kept in
/// `keys`).
async fn insert(
    app: &App,
    tx: &mut Tx,
    events: &[Waiting],
    keys: &mut Keys,
) -> Result<(), AppError> {
    let n = i64::try_from(events.len()).unwrap_or(0);
    let first = store::take_seqs(tx, n).await?;
    let mut rows = Vec::with_capacity(events.len());
    for (i, ev) in events.iter().enumerate() {
        if i % YIELD_EVERY == YIELD_EVERY - 1 {
            // Sealing a turn's events is CPU work on a runtime thread: let
            // the requests (and the writer, whose commits they wait for)
            // run between slices, instead of stalling them for the turn.
            tokio::task::yield_now().await;
        }
        let seq = first + i64::try_from(i).unwrap_or(0);
        let (kind, owner) = match ev.subject_id.as_ref().or(ev.actor_id.as_ref()) {
            Some(uid) => (KeyKind::User, uid.clone()),
            None => (KeyKind::Period, period_of(ev.time)),
        };
        let key = match keys.get(&(kind, owner.clone())) {
            Some(k) => k.clone(),
            None => {
                let k = keyring::key_unless_erased(app, tx, kind, &owner).await?;
                keys.insert((kind, owner), k.clone());
                k
            }
        };
        let personal = Personal {
            email: ev.email.clone(),
            ip: ev.ip.clone(),
            user_agent: ev.user_agent.chars().take(512).collect(),
        };
        let (personal_key_id, personal, ip_index) =
            crate::audit::seal_personal(app, key, seq, &personal)?;
        rows.push(store::AuditRow {
            seq,
            time: ev.time,
            company_id: ev.company_id.clone(),
            actor_id: ev.actor_id.clone(),
            credential: ev.credential.clone(),
            object_type: ev.object_type.clone(),
            object_id: ev.object_id.clone(),
            object_version: ev.object_version,
            action: ev.action.clone(),
            outcome: ev.outcome.clone(),
            reason: ev.reason.clone(),
            request_id: Some(ev.request_id.clone()),
            personal_key_id,
            personal,
            ip_index,
        });
    }
    store::insert_events(tx, &rows).await?;
    let links: Vec<(i64, &str)> = rows
        .iter()
        .zip(events)
        .filter_map(|(row, ev)| {
            let user = ev.subject_id.as_deref().or(ev.actor_id.as_deref());
            crate::audit::linked_user(row, user).map(|u| (row.seq, u))
        })
        .collect();
    store::link_to_companies(tx, &links).await?;
    Ok(())
}

/// Waits while the journal holds more than [`JOURNAL_LIMIT`] bytes that
/// the mover has not taken, waking it; fails after `wait`.
async fn make_room(backlog: &Backlog, wait: Duration) -> Result<(), AppError> {
    let started = tokio::time::Instant::now();
    while backlog.bytes.load(Ordering::Relaxed) > JOURNAL_LIMIT {
        // Registered before the mover is woken, so its signal is not missed.
        let turned = backlog.turned.notified();
        backlog.wake_mover.notify_one();
        let left = wait.saturating_sub(started.elapsed());
        if left.is_zero() || tokio::time::timeout(left, turned).await.is_err() {
            return Err(AppError::Unavailable(
                "the audit journal is full: its events are not being moved into the log".into(),
            ));
        }
    }
    Ok(())
}

/// `ev` as it waits to be moved, timed now.
fn waiting_of(app: &App, ctx: &Ctx, ev: &Event<'_>) -> Waiting {
    Waiting {
        time: app.now(),
        action: ev.action.as_str().to_string(),
        outcome: ev.outcome.as_str().to_string(),
        company_id: ev.company_id.map(str::to_string),
        actor_id: ev.actor_id.map(str::to_string),
        credential: ev.credential.map(str::to_string),
        object_type: ev.object.map(|(k, _)| k.as_str().to_string()),
        object_id: ev.object.map(|(_, id)| id.to_string()),
        object_version: ev.object_version,
        reason: ev.reason.map(str::to_string),
        email: ev.email.map(str::to_string),
        subject_id: ev.subject_id.map(str::to_string),
        ip: ctx.ip.to_string(),
        user_agent: ctx.user_agent.clone(),
        request_id: ctx.request_id.clone(),
    }
}

/// Pends the event of a change in `tx`, the change's transaction in
/// `turva.db` (SQLite): it commits with the change and is moved into the
/// log with the next turn.
pub(crate) async fn pend(app: &App, tx: &mut Tx, ctx: &Ctx, ev: Event<'_>) -> Result<(), AppError> {
    let encoded = serde_json::to_string(&waiting_of(app, ctx, &ev))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    audit_stage::pend(tx, &encoded).await?;
    Ok(())
}

/// Records an event that describes no change; returns once it is durable:
/// appended to the journal (SQLite: one `write`, on this thread), or
/// committed by the writer task (PostgreSQL).
pub(crate) async fn record(app: &App, ctx: &Ctx, ev: Event<'_>) -> Result<(), AppError> {
    if UNAUDITED {
        return Ok(());
    }
    let waiting = waiting_of(app, ctx, &ev);
    let writer = app.audit_writer();
    if let Some(journal) = &writer.journal {
        let encoded =
            serde_json::to_vec(&waiting).map_err(|e| AppError::Internal(e.to_string()))?;
        make_room(&writer.backlog, JOURNAL_WAIT).await?;
        journal.append(&encoded)?;
        writer
            .backlog
            .bytes
            .fetch_add(encoded.len() as u64 + 64, Ordering::Relaxed);
        // Nothing above waits, so a task that records events in a loop
        // would never let the runtime's timers (the mover's) run.
        tokio::task::coop::consume_budget().await;
        return Ok(());
    }
    let Some(queue) = &writer.queue else {
        return Err(AppError::Unavailable("the audit writer has stopped".into()));
    };
    let (reply, answer) = oneshot::channel();
    queue
        .send((waiting, reply))
        .await
        .map_err(|_| AppError::Unavailable("the audit writer has stopped".into()))?;
    match answer.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) => Err(AppError::Unavailable(why)),
        Err(_) => Err(AppError::Unavailable("the audit writer has stopped".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_journal_waits_for_the_mover_and_fails_when_it_never_comes() {
        let backlog = Arc::new(Backlog::default());
        make_room(&backlog, Duration::from_millis(10))
            .await
            .unwrap_or_else(|e| panic!("room: {e}"));

        // Over the limit: the request wakes the mover and waits for its turn.
        backlog.bytes.store(JOURNAL_LIMIT + 1, Ordering::Relaxed);
        let mover = {
            let backlog = backlog.clone();
            tokio::spawn(async move {
                backlog.wake_mover.notified().await;
                backlog.bytes.store(0, Ordering::Relaxed);
                backlog.turned.notify_waiters();
            })
        };
        make_room(&backlog, Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| panic!("room after the turn: {e}"));
        mover.await.unwrap_or_else(|e| panic!("{e}"));

        // A mover that never catches up: the request fails, nothing hangs.
        backlog.bytes.store(JOURNAL_LIMIT + 1, Ordering::Relaxed);
        let e = make_room(&backlog, Duration::from_millis(50)).await;
        assert!(
            matches!(&e, Err(AppError::Unavailable(why)) if why.contains("journal is full")),
            "{e:?}"
        );
    }
}
