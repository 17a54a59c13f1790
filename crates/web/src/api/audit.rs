//! The audit log over HTTP: a company's events and usage for its admins,
//! the platform's events for operators, exports, checkpoints, proofs, and
//! the public key that verifies them.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use futures_util::stream;
use serde::{Deserialize, Serialize};
use turva_app::audit_export::{self, Exported, Exporter};
use turva_app::audit_read::{self, hex, Query, Whose};
use turva_app::rows::CheckpointRow;
use turva_app::{App, AppError, Ctx};
use utoipa::{IntoParams, ToSchema};

use super::{List, PageQuery};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{id, ApiPath, ApiQuery, Auth, ClientCtx};

/// The key that signs the audit log's checkpoints.
#[derive(Serialize, ToSchema)]
pub struct PublicKey {
    /// The log's name: the origin line of every checkpoint and the key's
    /// name in its signature line.
    pub name: String,
    /// Always `Ed25519`.
    pub algorithm: &'static str,
    /// The raw 32-byte public key, base64.
    pub public_key: String,
    /// The C2SP signed-note verifier key (`<name>+<key id>+<base64(0x01 ‖ key)>`),
    /// for standard tools that read `tlog-checkpoint` notes.
    pub verifier_key: String,
}

/// The checkpoint signing key (anyone may fetch it: checkpoints and proofs
/// are verifiable with it alone).
#[utoipa::path(get, path = "/api/v1/audit/public-key", tag = "audit", responses(
    (status = 200, description = "the signing key", body = PublicKey)))]
pub async fn public_key(State(app): State<App>) -> Json<PublicKey> {
    let s = app.signer();
    Json(PublicKey {
        name: s.name().to_string(),
        algorithm: "Ed25519",
        public_key: B64.encode(s.public_key()),
        verifier_key: s.verifier_key(),
    })
}

/// One audit event (API.md, "Audit log"). Personal fields read `null`
/// once the person's key was destroyed (erasure).
#[derive(Serialize, ToSchema)]
pub struct EventJson {
    pub seq: i64,
    pub time: String,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub company_id: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub object_version: Option<i64>,
    pub action: String,
    /// `allowed` or `denied`.
    pub outcome: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// `session`, `token:<id>` or `cli`.
    pub credential: Option<String>,
    /// Why a denied request was denied.
    pub reason: Option<String>,
}

fn event_json(e: Exported) -> EventJson {
    EventJson {
        seq: e.seq,
        time: e.time,
        actor_id: e.actor_id,
        actor_email: e.actor_email,
        company_id: e.company_id,
        object_type: e.object_type,
        object_id: e.object_id,
        object_version: e.object_version,
        action: e.action,
        outcome: e.outcome,
        ip: e.ip,
        user_agent: e.user_agent,
        request_id: e.request_id,
        credential: e.credential,
        reason: e.reason,
    }
}

/// Filters, paging and the export format.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// How many events (1–200, default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// A user id or an email address: events by that user, or about their
    /// account (failed sign-ins).
    pub actor: Option<String>,
    /// An object id.
    pub object: Option<String>,
    /// An action (`document.view`) or a family (`auth.*`).
    pub action: Option<String>,
    /// `allowed` or `denied`.
    pub outcome: Option<String>,
    /// A client address.
    pub ip: Option<String>,
    /// RFC 3339 time or date, inclusive.
    pub since: Option<String>,
    /// RFC 3339 time or date, exclusive.
    pub until: Option<String>,
    /// `jsonl` or `csv`: stream every matching event, oldest first, as a
    /// download (recent authentication needed). Absent: a JSON page.
    pub format: Option<String>,
}

impl AuditQuery {
    fn split(self) -> (PageQuery, Query, Option<String>) {
        (
            PageQuery {
                limit: self.limit,
                cursor: self.cursor,
            },
            Query {
                actor: self.actor,
                object: self.object,
                action: self.action,
                outcome: self.outcome,
                ip: self.ip,
                since: self.since,
                until: self.until,
            },
            self.format,
        )
    }
}

#[derive(Clone, Copy)]
pub(crate) enum Format {
    Jsonl,
    Csv,
}

fn format_of(f: Option<&str>) -> Result<Option<Format>, ApiError> {
    match f {
        None | Some("json") => Ok(None),
        Some("jsonl") => Ok(Some(Format::Jsonl)),
        Some("csv") => Ok(Some(Format::Csv)),
        Some(_) => Err(ApiError::BadInput {
            field: Some("format".into()),
            detail: "format must be jsonl or csv".into(),
        }),
    }
}

async fn read_log(
    app: App,
    ctx: Ctx,
    actor: turva_app::Actor,
    whose: Whose,
    q: AuditQuery,
) -> ApiResult<Response> {
    let (page, query, format) = q.split();
    match format_of(format.as_deref())? {
        None => {
            let got = audit_read::list(
                &app,
                &ctx,
                &actor,
                whose,
                &query,
                page.opaque_cursor(),
                page.limit()?,
            )
            .await?;
            Ok(Json(List {
                items: got.items.into_iter().map(event_json).collect(),
                next_cursor: got.next_cursor,
            })
            .into_response())
        }
        Some(format) => {
            let name = match &whose {
                Whose::Company(cid) => format!("audit-{cid}"),
                _ => "audit-platform".to_string(),
            };
            let export =
                audit_export::start(&app, &ctx, Exporter::User(&actor), whose, &query).await?;
            Ok(export_response(app, export, format, &name))
        }
    }
}

/// Streams an export, batch by batch.
pub(crate) fn export_response(
    app: App,
    export: audit_export::Export,
    format: Format,
    name: &str,
) -> Response {
    let head = match format {
        Format::Csv => Some(format!("{}\n", audit_export::CSV_HEADER)),
        Format::Jsonl => None,
    };
    let state = (app, export, head);
    let body = stream::unfold(Some(state), move |state| async move {
        let (app, mut export, head) = state?;
        if let Some(head) = head {
            return Some((Ok(head), Some((app, export, None))));
        }
        match export.next_batch(&app).await {
            Ok(batch) if batch.is_empty() => None,
            Ok(batch) => {
                let mut chunk = String::new();
                for e in batch {
                    let line = match format {
                        Format::Jsonl => match e.json_line() {
                            Ok(l) => l,
                            Err(err) => return Some((Err(io_error(err)), None)),
                        },
                        Format::Csv => e.csv_row(),
                    };
                    chunk.push_str(&line);
                    chunk.push('\n');
                }
                Some((Ok(chunk), Some((app, export, None))))
            }
            // The status line is gone: end the body abruptly, so the client
            // sees a failed transfer, not a short export.
            Err(err) => Some((Err(io_error(err)), None)),
        }
    });
    let mut res = Response::new(Body::from_stream(body));
    let (ct, ext) = match format {
        Format::Jsonl => ("application/x-ndjson", "jsonl"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.{ext}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

fn io_error(e: AppError) -> std::io::Error {
    tracing::error!(error = %e, "audit export failed part-way");
    std::io::Error::other("the export failed")
}

/// A company's audit log (owners and admins), newest first; with
/// `?format=jsonl|csv` an export of every matching event.
#[utoipa::path(get, path = "/api/v1/companies/{cid}/audit", tag = "audit", params(("cid" = String, Path, description = "company id"), AuditQuery), responses(
    (status = 200, description = "a page of events, or the export", body = List<EventJson>),
    (status = 400, description = "malformed filter or paging", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not an admin, or (export) recent authentication needed", body = Problem),
    (status = 404, description = "no such company, or not yours", body = Problem)))]
pub async fn company_audit(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(cid): ApiPath<String>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Response> {
    let cid = id("cid", &cid)?;
    read_log(app, ctx, actor, Whose::Company(cid), q).await
}

/// The platform's audit log (operators): events of no company — operator
/// actions, company creation and deletion, sign-ins, denials of unknown
/// objects.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "audit", params(AuditQuery), responses(
    (status = 200, description = "a page of events, or the export", body = List<EventJson>),
    (status = 400, description = "malformed filter or paging", body = Problem),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "not an operator, or (export) recent authentication needed", body = Problem)))]
pub async fn platform_audit(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Response> {
    read_log(app, ctx, actor, Whose::Platform, q).await
}

/// `?since=&until=` of the usage figures.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SpanQuery {
    /// The first day (RFC 3339 time or date; default 30 days before `until`).
    pub since: Option<String>,
    /// The end, exclusive (default: the end of today, UTC).
    pub until: Option<String>,
}

/// One day's usage (UTC).
#[derive(Serialize, ToSchema)]
pub struct DayJson {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// People who did anything allowed in the company.
    pub active_users: i64,
    /// Views of folders, documents, versions and files, and searches.
    pub views: i64,
    /// Changes to folders, documents and files.
    pub edits: i64,
    pub sign_ins: i64,
    pub failed_sign_ins: i64,
}

/// Usage per day.
#[derive(Serialize, ToSchema)]
pub struct Analytics {
    /// Every day of the span, oldest first.
    pub items: Vec<DayJson>,
}

/// A company's usage per day, derived from its audit log (owners and
/// admins).
#[utoipa::path(get, path = "/api/v1/companies/{cid}/audit/analytics", tag = "audit", params(("cid" = String, Path, description = "company id"), SpanQuery), responses(
    (status = 200, description = "usage per day", body = Analytics),
    (status = 400, description = "malformed span", body = Problem),
    (status = 403, description = "not an admin", body = Problem),
    (status = 404, description = "no such company, or not yours", body = Problem),
    (status = 422, description = "an empty span, or more than 400 days", body = Problem)))]
pub async fn analytics(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(cid): ApiPath<String>,
    ApiQuery(q): ApiQuery<SpanQuery>,
) -> ApiResult<Json<Analytics>> {
    let cid = id("cid", &cid)?;
    let days = audit_read::analytics(
        &app,
        &ctx,
        &actor,
        &cid,
        q.since.as_deref(),
        q.until.as_deref(),
    )
    .await?;
    Ok(Json(Analytics {
        items: days
            .into_iter()
            .map(|d| DayJson {
                day: d.day,
                active_users: d.active_users,
                views: d.views,
                edits: d.edits,
                sign_ins: d.sign_ins,
                failed_sign_ins: d.failed_sign_ins,
            })
            .collect(),
    }))
}

/// A signed checkpoint of the log's Merkle tree.
#[derive(Serialize, ToSchema)]
pub struct CheckpointJson {
    /// How many events the tree holds.
    pub size: i64,
    pub time: String,
    /// The tree's root hash (hex).
    pub root: String,
    /// The C2SP `tlog-checkpoint` signed note, as standard tools read it.
    pub note: String,
}

fn checkpoint_json(c: CheckpointRow) -> CheckpointJson {
    CheckpointJson {
        size: c.size,
        time: super::time(c.time),
        root: hex::encode(&c.root),
        note: c.note,
    }
}

/// The newest signed checkpoint (one is made now when the log grew since
/// the last): operators, and owners and admins of any company.
#[utoipa::path(get, path = "/api/v1/audit/checkpoints/latest", tag = "audit", responses(
    (status = 200, description = "the newest checkpoint", body = CheckpointJson),
    (status = 401, description = "not signed in", body = Problem),
    (status = 403, description = "neither an operator nor a company admin", body = Problem)))]
pub async fn latest_checkpoint(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
) -> ApiResult<Json<CheckpointJson>> {
    let c = audit_read::latest_checkpoint(&app, &ctx, &actor).await?;
    Ok(Json(checkpoint_json(c)))
}

/// `?since=` of the checkpoint list, with paging.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CheckpointQuery {
    /// A tree size (checkpoints above it) or an RFC 3339 time (checkpoints
    /// made since).
    pub since: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Signed checkpoints, smallest first.
#[utoipa::path(get, path = "/api/v1/audit/checkpoints", tag = "audit", params(CheckpointQuery), responses(
    (status = 200, description = "checkpoints", body = List<CheckpointJson>),
    (status = 400, description = "malformed since or paging", body = Problem),
    (status = 403, description = "neither an operator nor a company admin", body = Problem)))]
pub async fn list_checkpoints(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<CheckpointQuery>,
) -> ApiResult<Json<List<CheckpointJson>>> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let got = audit_read::checkpoints(
        &app,
        &ctx,
        &actor,
        q.since.as_deref(),
        page.opaque_cursor(),
        page.limit()?,
    )
    .await?;
    Ok(Json(List {
        items: got.items.into_iter().map(checkpoint_json).collect(),
        next_cursor: got.next_cursor,
    }))
}

/// `?size=` of an inclusion proof.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProofQuery {
    /// The tree size to prove inclusion in (default: the newest checkpoint).
    pub size: Option<i64>,
}

/// An inclusion proof (RFC 9162 §2.1.3): verify by hashing `leaf` as
/// `SHA-256(0x00 ‖ leaf)`, checking it equals `leaf_hash`, and folding
/// `proof` into `root`, which a checkpoint of `tree_size` signs.
#[derive(Serialize, ToSchema)]
pub struct InclusionJson {
    pub seq: i64,
    /// `seq - 1`.
    pub leaf_index: u64,
    pub tree_size: u64,
    /// The event's leaf bytes, base64 (format: docs/design/0003-audit-log.md).
    pub leaf: String,
    /// Hex.
    pub leaf_hash: String,
    /// The audit path, hex, in RFC 9162 order.
    pub proof: Vec<String>,
    /// The root of the tree of `tree_size` leaves, hex.
    pub root: String,
    /// The signed checkpoint of `tree_size`, when one was made.
    pub checkpoint: Option<String>,
    /// The event.
    pub event: EventJson,
}

/// The inclusion proof of one event, for whoever may read it (an owner or
/// admin of a company whose log shows it; an operator for an event of no
/// company).
#[utoipa::path(get, path = "/api/v1/audit/events/{seq}/proof", tag = "audit", params(("seq" = i64, Path, description = "the event's seq"), ProofQuery), responses(
    (status = 200, description = "the proof", body = InclusionJson),
    (status = 400, description = "malformed seq or size", body = Problem),
    (status = 404, description = "no such event, or not yours to read", body = Problem),
    (status = 422, description = "size is below the event or above the tree", body = Problem)))]
pub async fn inclusion_proof(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiPath(seq): ApiPath<String>,
    ApiQuery(q): ApiQuery<ProofQuery>,
) -> ApiResult<Json<InclusionJson>> {
    let seq = seq
        .parse::<i64>()
        .ok()
        .filter(|s| *s >= 1)
        .ok_or_else(|| ApiError::BadInput {
            field: Some("seq".into()),
            detail: "seq is a positive whole number".into(),
        })?;
    let p = audit_read::inclusion_proof(&app, &ctx, &actor, seq, q.size).await?;
    Ok(Json(InclusionJson {
        seq: p.seq,
        leaf_index: p.leaf_index,
        tree_size: p.tree_size,
        leaf: B64.encode(&p.leaf),
        leaf_hash: hex(&p.leaf_hash),
        proof: p.proof.iter().map(hex).collect(),
        root: hex(&p.root),
        checkpoint: p.checkpoint,
        event: event_json(p.event),
    }))
}

/// `?from=&to=` of a consistency proof.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The smaller tree size.
    pub from: i64,
    /// The larger tree size (default: the newest checkpoint).
    pub to: Option<i64>,
}

/// A consistency proof (RFC 9162 §2.1.4): the tree of `from` leaves is a
/// prefix of the tree of `to` leaves.
#[derive(Serialize, ToSchema)]
pub struct ConsistencyJson {
    pub from: u64,
    pub to: u64,
    /// Hex.
    pub from_root: String,
    /// Hex.
    pub to_root: String,
    /// Hex, in RFC 9162 order.
    pub proof: Vec<String>,
    /// The signed checkpoints of the two sizes, when they were made.
    pub from_checkpoint: Option<String>,
    pub to_checkpoint: Option<String>,
}

/// A consistency proof between two tree sizes: operators, and owners and
/// admins of any company.
#[utoipa::path(get, path = "/api/v1/audit/consistency", tag = "audit", params(ConsistencyQuery), responses(
    (status = 200, description = "the proof", body = ConsistencyJson),
    (status = 400, description = "malformed sizes", body = Problem),
    (status = 403, description = "neither an operator nor a company admin", body = Problem),
    (status = 422, description = "sizes out of order or above the tree", body = Problem)))]
pub async fn consistency_proof(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyJson>> {
    let p = audit_read::consistency_proof(&app, &ctx, &actor, q.from, q.to).await?;
    Ok(Json(ConsistencyJson {
        from: p.from,
        to: p.to,
        from_root: hex(&p.from_root),
        to_root: hex(&p.to_root),
        proof: p.proof.iter().map(hex).collect(),
        from_checkpoint: p.from_checkpoint,
        to_checkpoint: p.to_checkpoint,
    }))
}
