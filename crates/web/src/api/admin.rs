//! Operators' view of the platform.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use turva_app::App;
use utoipa::ToSchema;

use super::time;
use crate::error::ApiResult;
use crate::extract::{Auth, ClientCtx};

/// The newest backup (counts only: no company content).
#[derive(Serialize, ToSchema)]
pub struct BackupJson {
    pub id: String,
    pub created_at: String,
    pub companies: usize,
    pub users: usize,
    pub rows: u64,
    pub files: usize,
    pub bytes: u64,
    pub new_bytes: u64,
}

/// The newest restore drill.
#[derive(Serialize, ToSchema)]
pub struct DrillJson {
    pub id: String,
    pub backup: String,
    pub at: String,
    pub passed: bool,
    /// Time the whole restore took, in seconds.
    pub rto_seconds: f64,
    /// Age of the restored data, in seconds.
    pub rpo_seconds: f64,
    pub faults: Vec<String>,
}

/// A master-key version and what needs it.
#[derive(Serialize, ToSchema)]
pub struct KeyVersionJson {
    pub version: u32,
    pub created_at: Option<String>,
    pub age_days: Option<i64>,
    pub newest: bool,
    pub data_keys: i64,
    pub key_ring: bool,
    /// Retained key-ring copies (which backups need) holding keys it wraps.
    pub key_ring_copies: usize,
}

/// A company in the platform's list (no content).
#[derive(Serialize, ToSchema)]
pub struct CompanySummaryJson {
    pub id: String,
    pub name: String,
    pub created_at: String,
    /// Active members.
    pub members: i64,
    /// When its deletion was scheduled, if it was.
    pub deletion_scheduled_at: Option<String>,
    /// When a scheduled deletion destroys it.
    pub destroy_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct StatusJson {
    pub version: String,
    pub backups: usize,
    pub last_backup: Option<BackupJson>,
    pub last_drill: Option<DrillJson>,
    /// Why the backup figures are missing, when the target cannot be read.
    pub backup_error: Option<String>,
    pub key_versions: Vec<KeyVersionJson>,
    /// Every company, newest first (an extension of the contract).
    pub companies: Vec<CompanySummaryJson>,
}

/// The platform's status (operators): version, last backup, last drill,
/// key versions and their ages, the companies. No company content.
#[utoipa::path(get, path = "/api/v1/admin/status", tag = "admin", responses(
    (status = 200, description = "the status", body = StatusJson),
    (status = 401, description = "not signed in", body = crate::error::Problem),
    (status = 403, description = "not an operator", body = crate::error::Problem)))]
pub async fn status(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    Auth(actor): Auth,
) -> ApiResult<Json<StatusJson>> {
    let s = turva_app::admin::status(&app, &ctx, &actor).await?;
    let now = app.now();
    Ok(Json(StatusJson {
        version: s.version.to_string(),
        backups: s.backups,
        last_backup: s.last_backup.map(|b| BackupJson {
            id: b.id,
            created_at: time(b.created_at),
            companies: b.companies,
            users: b.users,
            rows: b.rows,
            files: b.files,
            bytes: b.bytes,
            new_bytes: b.new_bytes,
        }),
        last_drill: s.last_drill.map(|d| DrillJson {
            id: d.id,
            backup: d.backup,
            at: time(d.at),
            passed: d.passed,
            rto_seconds: d.rto_ms as f64 / 1000.0,
            rpo_seconds: d.rpo_ms as f64 / 1000.0,
            faults: d.faults,
        }),
        backup_error: s.backup_error,
        key_versions: s
            .key_versions
            .into_iter()
            .map(|v| KeyVersionJson {
                version: v.version,
                created_at: v.created_at.map(time),
                age_days: v.created_at.map(|at| (now - at).max(0) / 86_400_000),
                newest: v.newest,
                data_keys: v.data_keys,
                key_ring: v.key_ring,
                key_ring_copies: v.key_ring_copies,
            })
            .collect(),
        companies: s
            .companies
            .into_iter()
            .map(|c| CompanySummaryJson {
                created_at: time(c.created_at),
                deletion_scheduled_at: c.deletion_scheduled_at.map(time),
                destroy_at: c
                    .deletion_scheduled_at
                    .map(|at| time(at + turva_app::companies::DELETION_GRACE_DAYS * 86_400_000)),
                id: c.id,
                name: c.name,
                members: c.members,
            })
            .collect(),
    }))
}
