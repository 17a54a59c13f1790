//! Reading the audit log: a company's events for its owners and admins,
//! the platform's for operators, filtered and paged newest first; usage
//! figures per day; signed checkpoints and the inclusion and consistency
//! proofs a third party verifies with the public key alone. Every read of
//! events is itself an event (`audit.view`, `audit.analytics`,
//! `audit.proof`; exports are `audit.export`, see `audit_export.rs`).
//!
//! A company's events are those about its data, and the sign-in events of
//! the people who were its members when they signed in (linked when the
//! event is written, `audit_links`). The platform's events are those that
//! belong to no company: operator actions, company creation, sign-ins.

use std::net::IpAddr;

use turva_model::access::{self, Action, ActorFacts, Reason};
use turva_model::audit::{AuditAction, ObjectType, Outcome, Usage};
use turva_model::merkle::{self, Hash};
use turva_model::{Id, Role};
use turva_store::audit::{self as store, CheckpointRow, EventFilter, Page, Scope};
use turva_store::companies::CompanyRow;
use turva_store::{data_keys, members, users, Tx};

use crate::audit::{self, Event};
use crate::audit_export::{Exported, Keys};
use crate::cursor;
use crate::{checkpoint, Actor, App, AppError, Ctx};

/// Whose events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whose {
    /// A company's (its owners and admins).
    Company(String),
    /// The platform's (operators).
    Platform,
    /// Every event (the CLI only).
    All,
}

impl Whose {
    pub(crate) fn scope(&self) -> Scope<'_> {
        match self {
            Whose::Company(cid) => Scope::Company(cid),
            Whose::Platform => Scope::Platform(PLATFORM_ACTIONS),
            Whose::All => Scope::All,
        }
    }
}

/// Events about a company that are also the platform's.
const PLATFORM_ACTIONS: &[&str] = &[
    AuditAction::CompanyCreate.as_str(),
    AuditAction::CompanyDelete.as_str(),
    AuditAction::CompanyDeleteCancel.as_str(),
    AuditAction::CompanyDestroy.as_str(),
];

/// Filters as given (query parameters or CLI flags); each given one must
/// hold.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// A user id or an email address: events by that user, or whose personal
    /// data is theirs (failed sign-ins to their account).
    pub actor: Option<String>,
    /// An object id.
    pub object: Option<String>,
    /// An action name (`document.view`), or a family (`auth.*`).
    pub action: Option<String>,
    /// `allowed` or `denied`.
    pub outcome: Option<String>,
    /// A client address.
    pub ip: Option<String>,
    /// RFC 3339, inclusive.
    pub since: Option<String>,
    /// RFC 3339, exclusive.
    pub until: Option<String>,
}

/// Checks the filters and turns them into the store's terms.
pub(crate) async fn resolve(app: &App, tx: &mut Tx, q: &Query) -> Result<EventFilter, AppError> {
    let mut f = EventFilter::default();
    if let Some(actor) = q.actor.as_deref() {
        let uid = if let Ok(id) = Id::<()>::parse("actor", actor) {
            Some(id.as_text())
        } else if actor.contains('@') {
            let email = turva_model::validate::email("actor", actor)?;
            users::user_by_email(tx, &email).await?.map(|u| u.id)
        } else {
            return Err(AppError::malformed(
                "actor",
                "must be a user id or an email address",
            ));
        };
        f.user = Some(match uid {
            Some(uid) => {
                let key = data_keys::key_of(tx, "user", &uid).await?.map(|k| k.id);
                (uid, key)
            }
            // Nobody has that address: nothing matches.
            None => (String::new(), None),
        });
    }
    if let Some(object) = q.object.as_deref() {
        if object.is_empty() || object.len() > 200 || object.chars().any(char::is_control) {
            return Err(AppError::malformed("object", "is not an object id"));
        }
        f.object_id = Some(object.to_string());
    }
    if let Some(action) = q.action.as_deref() {
        match action.strip_suffix('*') {
            Some(prefix)
                if prefix.ends_with('.')
                    && prefix.len() > 1
                    && prefix
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.') =>
            {
                f.action_prefix = Some(prefix.to_string());
            }
            Some(_) => {
                return Err(AppError::malformed(
                    "action",
                    "a family of actions is written like auth.*",
                ))
            }
            None => match AuditAction::parse(action) {
                Some(a) => f.action = Some(a.as_str().to_string()),
                None => {
                    return Err(AppError::malformed(
                        "action",
                        "is not an audit action (e.g. document.view, or auth.*)",
                    ))
                }
            },
        }
    }
    if let Some(outcome) = q.outcome.as_deref() {
        if outcome != "allowed" && outcome != "denied" {
            return Err(AppError::malformed("outcome", "must be allowed or denied"));
        }
        f.outcome = Some(outcome.to_string());
    }
    if let Some(ip) = q.ip.as_deref() {
        let ip: IpAddr = ip
            .trim()
            .parse()
            .map_err(|_| AppError::malformed("ip", "is not an IP address"))?;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        f.ip_index = Some(crate::secret::keyed_hash(
            app.index_key(),
            "ip",
            &ip.to_string(),
        ));
    }
    f.since = time_param("since", q.since.as_deref())?;
    f.until = time_param("until", q.until.as_deref())?;
    Ok(f)
}

/// An RFC 3339 time, or a date (midnight UTC).
fn time_param(field: &'static str, text: Option<&str>) -> Result<Option<i64>, AppError> {
    let Some(text) = text else { return Ok(None) };
    let parsed = crate::clock::parse_rfc3339(text).or_else(|| {
        (text.len() == 10)
            .then(|| crate::clock::parse_rfc3339(&format!("{text}T00:00:00Z")))
            .flatten()
    });
    parsed.map(Some).ok_or_else(|| {
        AppError::malformed(
            field,
            "is not an RFC 3339 time or a date (e.g. 2026-11-22T08:00:00Z or 2026-11-22)",
        )
    })
}

/// The policy's answer for reading `whose` events with the company-level
/// action `company_action` or the platform-level `platform_action`; on a
/// denial, the company (when it exists) the denial belongs to.
async fn decide(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    whose: &Whose,
    company_action: Action,
    platform_action: Action,
) -> Result<Result<(), (Option<CompanyRow>, Reason)>, AppError> {
    Ok(match whose {
        Whose::Company(cid) => {
            let (company, facts) = crate::companies::facts(app, tx, actor, cid).await?;
            access::decide(&facts, company_action)
                .map(|_| ())
                .map_err(|r| (company, r))
        }
        Whose::Platform => {
            let facts = ActorFacts {
                is_operator: actor.is_operator,
                role: None,
                recent_auth: crate::auth::recent_auth(app, actor),
                is_guest: false,
            };
            access::decide(&facts, platform_action)
                .map(|_| ())
                .map_err(|r| (None, r))
        }
        // Every event at once is for the machine's administrator (CLI).
        Whose::All => Err((None, Reason::Forbidden)),
    })
}

/// Decides whether `actor` may read (or, with `export`, export) `whose`
/// events; a denial is recorded and returned as the answer.
pub(crate) async fn authorize(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    whose: &Whose,
    export: bool,
) -> Result<(), AppError> {
    let (company_action, platform_action, event) = if export {
        (
            Action::ExportAudit,
            Action::ExportPlatformAudit,
            AuditAction::AuditExport,
        )
    } else {
        (
            Action::ReadAudit,
            Action::ReadPlatformAudit,
            AuditAction::AuditView,
        )
    };
    let decision = {
        let mut tx = app.db().read().await?;
        decide(app, &mut tx, actor, whose, company_action, platform_action).await?
    };
    match decision {
        Ok(()) => Ok(()),
        Err((company, reason)) => {
            let object = match whose {
                Whose::Company(cid) => Some(cid.as_str()),
                _ => None,
            };
            Err(denied(app, ctx, actor, event, company.as_ref(), object, reason).await)
        }
    }
}

/// Records a denied read of the log and returns the answer.
pub(crate) async fn denied(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    action: AuditAction,
    company: Option<&CompanyRow>,
    company_object: Option<&str>,
    reason: Reason,
) -> AppError {
    match company_object {
        Some(cid) => {
            crate::companies::denied(
                app,
                ctx,
                actor,
                action,
                company,
                (ObjectType::Company, cid),
                reason,
            )
            .await
        }
        None => {
            let answer =
                crate::companies::answer_for(reason, "only operators read the platform's log");
            let ev = Event::new(action, Outcome::Denied)
                .actor(actor)
                .reason(reason.as_str());
            audit::deny(app, ctx, ev, answer).await
        }
    }
}

/// A page of `whose` events that pass `query`, newest first.
pub async fn list(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    whose: Whose,
    query: &Query,
    cursor: Option<&str>,
    limit: i64,
) -> Result<cursor::Page<Exported>, AppError> {
    let before = match cursor {
        Some(c) => cursor::decode(c, 1)?
            .first()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| AppError::malformed("cursor", "is not a cursor of this list"))?,
        None => i64::MAX,
    };
    authorize(app, ctx, actor, &whose, false).await?;
    crate::audit_writer::flush(app).await?;
    let mut tx = app.db().read().await?;
    let filter = resolve(app, &mut tx, query).await?;
    let mut rows = store::find_events(
        &mut tx,
        whose.scope(),
        &filter,
        Page::Before(before),
        limit + 1,
    )
    .await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        rows.last().map(|r| cursor::encode(&[&r.seq.to_string()]))
    } else {
        None
    };
    let items = Keys::default().open_all(app, &mut tx, rows).await?;
    drop(tx);
    let mut ev = Event::new(AuditAction::AuditView, Outcome::Allowed).actor(actor);
    if let Whose::Company(cid) = &whose {
        ev = ev.company(cid).object(ObjectType::Company, cid);
    }
    audit::record_read(app, ctx, ev).await?;
    Ok(cursor::Page { items, next_cursor })
}

/// One day of a company's usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayUsage {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// People who did anything that was allowed.
    pub active_users: i64,
    /// Views of folders, documents, versions and files, and searches.
    pub views: i64,
    /// Creations, changes, deletions and restores of folders, documents and
    /// files.
    pub edits: i64,
    pub sign_ins: i64,
    pub failed_sign_ins: i64,
}

const DAY: i64 = 86_400_000;

/// The longest span the analytics answer for at once.
const MAX_DAYS: i64 = 400;

/// A company's usage per day from `since` (default: 30 days ago) until
/// `until` (default: the end of today), every day of the span listed.
pub async fn analytics(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
    since: Option<&str>,
    until: Option<&str>,
) -> Result<Vec<DayUsage>, AppError> {
    let whose = Whose::Company(company_id.to_string());
    {
        let mut tx = app.db().read().await?;
        match decide(
            app,
            &mut tx,
            actor,
            &whose,
            Action::ReadAudit,
            Action::ReadAudit,
        )
        .await?
        {
            Ok(()) => {}
            Err((company, reason)) => {
                return Err(denied(
                    app,
                    ctx,
                    actor,
                    AuditAction::AuditAnalytics,
                    company.as_ref(),
                    Some(company_id),
                    reason,
                )
                .await)
            }
        }
    }
    let today = app.now().div_euclid(DAY);
    let until = time_param("until", until)?.map_or((today + 1) * DAY, |t| {
        // A partial day counts as the whole day.
        (t + DAY - 1).div_euclid(DAY) * DAY
    });
    let since = time_param("since", since)?.map_or(until - 30 * DAY, |t| t.div_euclid(DAY) * DAY);
    if since >= until {
        return Err(AppError::invalid("until", "must be after since"));
    }
    if until - since > MAX_DAYS * DAY {
        return Err(AppError::invalid(
            "since",
            format!("at most {MAX_DAYS} days at once"),
        ));
    }
    crate::audit_writer::flush(app).await?;
    let names = |u: Usage| -> Vec<&'static str> {
        AuditAction::ALL
            .iter()
            .filter(|a| a.usage() == u)
            .map(|a| a.as_str())
            .collect()
    };
    let (views, edits, sign_ins, failed) = (
        names(Usage::View),
        names(Usage::Edit),
        names(Usage::SignIn),
        names(Usage::FailedSignIn),
    );
    let kinds = store::UsageKinds {
        views: &views,
        edits: &edits,
        sign_ins: &sign_ins,
        failed_sign_ins: &failed,
    };
    let rows = {
        let mut tx = app.db().read().await?;
        store::daily_usage(&mut tx, company_id, since, until, &kinds).await?
    };
    let mut rows = rows.into_iter().peekable();
    let mut out = Vec::new();
    let mut day = since / DAY;
    while day < until / DAY {
        let found = rows.next_if(|r| r.day == day);
        let r = found.unwrap_or(store::DayUsage {
            day,
            active_users: 0,
            views: 0,
            edits: 0,
            sign_ins: 0,
            failed_sign_ins: 0,
        });
        out.push(DayUsage {
            day: crate::clock::rfc3339(day * DAY).chars().take(10).collect(),
            active_users: r.active_users,
            views: r.views,
            edits: r.edits,
            sign_ins: r.sign_ins,
            failed_sign_ins: r.failed_sign_ins,
        });
        day += 1;
    }
    let ev = Event::new(AuditAction::AuditAnalytics, Outcome::Allowed)
        .actor(actor)
        .company(company_id)
        .object(ObjectType::Company, company_id);
    audit::record_read(app, ctx, ev).await?;
    Ok(out)
}

/// Operators, and owners and admins of any company, read checkpoints and
/// consistency proofs.
async fn may_read_proofs(app: &App, ctx: &Ctx, actor: &Actor) -> Result<(), AppError> {
    let mut tx = app.db().read().await?;
    let best = members::memberships_of_user(&mut tx, &actor.user_id)
        .await?
        .into_iter()
        .filter(|m| m.status == "active" && actor.reaches(&m.company_id))
        .filter_map(|m| Role::parse("role", &m.role).ok())
        .max();
    drop(tx);
    let facts = ActorFacts {
        is_operator: actor.is_operator,
        role: best,
        recent_auth: crate::auth::recent_auth(app, actor),
        is_guest: false,
    };
    match access::decide(&facts, Action::ReadAuditProofs) {
        Ok(_) => Ok(()),
        Err(reason) => {
            let ev = Event::new(AuditAction::AuditProof, Outcome::Denied)
                .actor(actor)
                .reason(reason.as_str());
            Err(audit::deny(
                app,
                ctx,
                ev,
                AppError::Forbidden("only operators and company admins read the log's proofs"),
            )
            .await)
        }
    }
}

/// The newest checkpoint, made now if the log grew since the last one.
pub async fn latest_checkpoint(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
) -> Result<CheckpointRow, AppError> {
    may_read_proofs(app, ctx, actor).await?;
    current_checkpoint(app).await
}

/// Moves what is staged, signs a checkpoint when the tree grew, and
/// returns the newest one.
async fn current_checkpoint(app: &App) -> Result<CheckpointRow, AppError> {
    crate::audit_writer::flush(app).await?;
    checkpoint::make(app).await?;
    let mut tx = app.db().read().await?;
    store::latest_checkpoint(&mut tx)
        .await?
        .ok_or(AppError::NotFound)
}

/// Checkpoints above tree size `since` (a number), or made at or after
/// `since` (an RFC 3339 time), smallest first.
pub async fn checkpoints(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    since: Option<&str>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<cursor::Page<CheckpointRow>, AppError> {
    may_read_proofs(app, ctx, actor).await?;
    let after_cursor = match cursor {
        Some(c) => cursor::decode(c, 1)?
            .first()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| AppError::malformed("cursor", "is not a cursor of this list"))?,
        None => 0,
    };
    let mut tx = app.db().read().await?;
    let mut rows = match since {
        None => store::checkpoints_after(&mut tx, after_cursor, limit + 1).await?,
        Some(s) => match s.parse::<i64>() {
            Ok(size) if size >= 0 => {
                store::checkpoints_after(&mut tx, size.max(after_cursor), limit + 1).await?
            }
            _ => {
                let time = time_param("since", Some(s)).map_err(|_| {
                    AppError::malformed("since", "must be a tree size or an RFC 3339 time")
                })?;
                store::checkpoints_since_time(&mut tx, time.unwrap_or(0), after_cursor, limit + 1)
                    .await?
            }
        },
    };
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        rows.last().map(|r| cursor::encode(&[&r.size.to_string()]))
    } else {
        None
    };
    Ok(cursor::Page {
        items: rows,
        next_cursor,
    })
}

/// An inclusion proof (RFC 9162 §2.1.3) of one event.
#[derive(Debug, Clone)]
pub struct InclusionProof {
    pub seq: i64,
    pub leaf_index: u64,
    pub tree_size: u64,
    /// The event's leaf bytes (`docs/design/0003-audit-log.md`, "Leaves").
    pub leaf: Vec<u8>,
    pub leaf_hash: Hash,
    pub proof: Vec<Hash>,
    pub root: Hash,
    /// The signed checkpoint of that size, when one was made.
    pub checkpoint: Option<String>,
    /// The event as the audit API shows it.
    pub event: Exported,
}

/// The inclusion proof of event `seq` in the tree of `size` leaves
/// (default: the newest checkpoint, made now if needed), for whoever may
/// read the event: an owner or admin of a company whose audit shows it,
/// an operator for a platform event. Anyone else gets 404.
pub async fn inclusion_proof(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    seq: i64,
    size: Option<i64>,
) -> Result<InclusionProof, AppError> {
    crate::audit_writer::flush(app).await?;
    let mut tx = app.db().read().await?;
    let row = store::event(&mut tx, seq).await?;
    let visible = match &row {
        Some(row) => may_read_event(app, &mut tx, actor, row).await?,
        None => false,
    };
    drop(tx);
    let Some(row) = row.filter(|_| visible) else {
        let ev = Event::new(AuditAction::AuditProof, Outcome::Denied)
            .actor(actor)
            .reason(Reason::NotVisible.as_str());
        return Err(audit::deny(app, ctx, ev, AppError::NotFound).await);
    };
    let size = match size {
        Some(s) => s,
        None => current_checkpoint(app).await?.size,
    };
    let mut tx = app.db().read().await?;
    let tree = store::tree_size(&mut tx).await?;
    if size < seq || size > tree {
        return Err(AppError::invalid(
            "size",
            format!("must be between the event's seq ({seq}) and the tree's size ({tree})"),
        ));
    }
    let (index, n) = (
        u64::try_from(seq - 1).unwrap_or(0),
        u64::try_from(size).unwrap_or(0),
    );
    let proof = hashes_of(&mut tx, &merkle::inclusion_ranges(index, n)).await?;
    let root = store::root_at(&mut tx, n).await?;
    let leaf = store::leaf_bytes(&row);
    let leaf_hash = merkle::leaf_hash(&leaf);
    if !merkle::verify_inclusion(index, n, &leaf_hash, &proof, &root) {
        return Err(AppError::Internal(format!(
            "the stored audit tree does not include event {seq} as stored: run turva audit verify"
        )));
    }
    let checkpoint = store::checkpoint_at(&mut tx, size).await?.map(|c| c.note);
    let personal = Keys::default().open(app, &mut tx, &row).await?;
    drop(tx);
    let mut ev = Event::new(AuditAction::AuditProof, Outcome::Allowed).actor(actor);
    ev.company_id = row.company_id.as_deref();
    audit::record_read(app, ctx, ev).await?;
    Ok(InclusionProof {
        seq,
        leaf_index: index,
        tree_size: n,
        leaf,
        leaf_hash,
        proof,
        root,
        checkpoint,
        event: Exported::of(row, personal),
    })
}

/// Whether `actor` may read the event: an owner or admin of its company,
/// or (a sign-in event) of a company it is linked to; an operator for an
/// event of no company.
async fn may_read_event(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    row: &store::AuditRow,
) -> Result<bool, AppError> {
    let companies = match &row.company_id {
        Some(cid) => vec![cid.clone()],
        None => {
            if actor.is_operator {
                return Ok(true);
            }
            store::links_of(tx, row.seq).await?
        }
    };
    for cid in companies {
        let (_, facts) = crate::companies::facts(app, tx, actor, &cid).await?;
        if access::decide(&facts, Action::ReadAudit).is_ok() {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn hashes_of(tx: &mut Tx, ranges: &[(u64, u64)]) -> Result<Vec<Hash>, AppError> {
    let nodes = store::nodes(tx, &merkle::nodes_for_ranges(ranges)).await?;
    ranges
        .iter()
        .map(|&(a, b)| {
            merkle::range_hash(a, b, &nodes).ok_or_else(|| {
                AppError::Internal(format!("the audit tree lacks a node of [{a}, {b})"))
            })
        })
        .collect()
}

/// A consistency proof (RFC 9162 §2.1.4) between two tree sizes.
#[derive(Debug, Clone)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub from_root: Hash,
    pub to_root: Hash,
    pub proof: Vec<Hash>,
    /// The signed checkpoints of those sizes, when they were made.
    pub from_checkpoint: Option<String>,
    pub to_checkpoint: Option<String>,
}

/// The consistency proof between the trees of `from` and `to` leaves
/// (default `to`: the newest checkpoint).
pub async fn consistency_proof(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    from: i64,
    to: Option<i64>,
) -> Result<ConsistencyProof, AppError> {
    may_read_proofs(app, ctx, actor).await?;
    let to = match to {
        Some(t) => t,
        None => current_checkpoint(app).await?.size,
    };
    let mut tx = app.db().read().await?;
    let tree = store::tree_size(&mut tx).await?;
    if from < 1 || from > to {
        return Err(AppError::invalid(
            "from",
            format!("must be between 1 and to ({to})"),
        ));
    }
    if to > tree {
        return Err(AppError::invalid(
            "to",
            format!("must be at most the tree's size ({tree})"),
        ));
    }
    let (m, n) = (
        u64::try_from(from).unwrap_or(0),
        u64::try_from(to).unwrap_or(0),
    );
    let proof = hashes_of(&mut tx, &merkle::consistency_ranges(m, n)).await?;
    let from_root = store::root_at(&mut tx, m).await?;
    let to_root = store::root_at(&mut tx, n).await?;
    let from_checkpoint = store::checkpoint_at(&mut tx, from).await?.map(|c| c.note);
    let to_checkpoint = store::checkpoint_at(&mut tx, to).await?.map(|c| c.note);
    Ok(ConsistencyProof {
        from: m,
        to: n,
        from_root,
        to_root,
        proof,
        from_checkpoint,
        to_checkpoint,
    })
}

/// A hash as the API shows it (lowercase hex, API.md "Conventions").
pub fn hex(hash: &Hash) -> String {
    hex::encode(hash)
}
