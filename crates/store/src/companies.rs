//! The `companies` table.

use crate::db::Tx;
use turva_model::access::{Action, Allowed};

use crate::error::{require, Result};
use crate::{exec_tx, on_tx, Millis};

#[derive(Debug, Clone)]
pub struct CompanyRow {
    pub id: String,
    pub name: String,
    /// JSON object of company settings.
    pub settings: String,
    pub created_at: Millis,
}

type Tuple = (String, String, String, i64);

pub async fn insert_company(
    tx: &mut Tx,
    proof: &Allowed,
    c: &CompanyRow,
    created_by: Option<&str>,
) -> Result<()> {
    require(proof, |a| matches!(a, Action::CreateCompany))?;
    exec_tx!(tx, |conn| {
        sqlx::query(
        "INSERT INTO companies (id, name, settings, created_at, created_by) VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(&c.id)
    .bind(&c.name)
    .bind(&c.settings)
    .bind(c.created_at)
    .bind(created_by)
    .execute(conn)
    .await
    })?;
    Ok(())
}

pub async fn company_by_id(tx: &mut Tx, id: &str) -> Result<Option<CompanyRow>> {
    let row: Option<Tuple> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id, name, settings, created_at FROM companies WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|t| CompanyRow {
        id: t.0,
        name: t.1,
        settings: t.2,
        created_at: t.3,
    }))
}

/// Sets a company's name and settings (the caller merged them).
pub async fn update_company(
    tx: &mut Tx,
    proof: &Allowed,
    id: &str,
    name: &str,
    settings: &str,
    require_mfa: bool,
) -> Result<()> {
    require(proof, |a| matches!(a, Action::UpdateCompany))?;
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE companies SET name = $2, settings = $3, require_mfa = $4 WHERE id = $1"
    )
    .bind(id)
    .bind(name)
    .bind(settings)
    .bind(require_mfa)
    .execute(c)
    .await)?;
    Ok(())
}

/// A company with `user_id`'s active role in it (None when not an active
/// member), in one statement: every company-scoped operation starts here.
/// A company scheduled for deletion is not found.
pub async fn company_with_active_role(
    tx: &mut Tx,
    company_id: &str,
    user_id: &str,
) -> Result<Option<(CompanyRow, Option<String>)>> {
    let row = with_role(tx, company_id, user_id, false).await?;
    Ok(row.map(|(c, role, _)| (c, role)))
}

/// A company scheduled for deletion, with `user_id`'s active role in it and
/// when its deletion was asked for.
pub async fn scheduled_with_role(
    tx: &mut Tx,
    company_id: &str,
    user_id: &str,
) -> Result<Option<(CompanyRow, Option<String>, Millis)>> {
    let row = with_role(tx, company_id, user_id, true).await?;
    Ok(row.and_then(|(c, role, at)| at.map(|at| (c, role, at))))
}

/// A company that is (`scheduled`) or is not scheduled for deletion, with
/// `user_id`'s active role and the time its deletion was asked for.
async fn with_role(
    tx: &mut Tx,
    company_id: &str,
    user_id: &str,
    scheduled: bool,
) -> Result<Option<(CompanyRow, Option<String>, Option<Millis>)>> {
    type Row = (String, String, String, i64, Option<String>, Option<i64>);
    let row: Option<Row> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT c.id, c.name, c.settings, c.created_at, m.role, c.deletion_scheduled_at
         FROM companies c
         LEFT JOIN memberships m ON m.company_id = c.id AND m.user_id = $2 AND m.status = 'active'
         WHERE c.id = $1 AND (c.deletion_scheduled_at IS NOT NULL) = $3"
    )
    .bind(company_id)
    .bind(user_id)
    .bind(scheduled)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|t| {
        let company = CompanyRow {
            id: t.0,
            name: t.1,
            settings: t.2,
            created_at: t.3,
        };
        (company, t.4, t.5)
    }))
}

/// Schedules a company's deletion (asked for at `at`); false when it was
/// scheduled already.
pub async fn schedule_deletion(tx: &mut Tx, proof: &Allowed, id: &str, at: Millis) -> Result<bool> {
    require(proof, |a| matches!(a, Action::DeleteCompany))?;
    let n = exec_tx!(tx, |c| {
        sqlx::query(
        "UPDATE companies SET deletion_scheduled_at = $2 WHERE id = $1 AND deletion_scheduled_at IS NULL"
    )
    .bind(id)
    .bind(at)
    .execute(c)
    .await
    })?;
    Ok(n == 1)
}

/// Cancels a scheduled deletion; false when none was scheduled.
pub async fn cancel_deletion(tx: &mut Tx, proof: &Allowed, id: &str) -> Result<bool> {
    require(proof, |a| matches!(a, Action::CancelCompanyDeletion))?;
    let n = exec_tx!(tx, |c| {
        sqlx::query(
        "UPDATE companies SET deletion_scheduled_at = NULL WHERE id = $1 AND deletion_scheduled_at IS NOT NULL"
    )
    .bind(id)
    .execute(c)
    .await
    })?;
    Ok(n == 1)
}

/// Companies whose deletion was asked for before `before`.
pub async fn due_for_deletion(tx: &mut Tx, before: Millis) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = on_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT id FROM companies WHERE deletion_scheduled_at IS NOT NULL AND deletion_scheduled_at <= $1
         ORDER BY deletion_scheduled_at, id"
    )
    .bind(before)
    .fetch_all(c)
    .await
    })?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// A company as operators see it in the platform's list: no content, only
/// its name, age, size in members and whether its deletion is scheduled.
#[derive(Debug, Clone)]
pub struct CompanySummary {
    pub id: String,
    pub name: String,
    pub created_at: Millis,
    /// Active members (guests are not members).
    pub members: i64,
    pub deletion_scheduled_at: Option<Millis>,
}

/// Every company, newest first.
pub async fn all_companies(tx: &mut Tx) -> Result<Vec<CompanySummary>> {
    type Row = (String, String, i64, i64, Option<i64>);
    let rows: Vec<Row> = on_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT c.id, c.name, c.created_at,
                (SELECT COUNT(*) FROM memberships m WHERE m.company_id = c.id AND m.status = 'active'),
                c.deletion_scheduled_at
         FROM companies c
         ORDER BY c.created_at DESC, c.id"
    )
    .fetch_all(c)
    .await
    })?;
    Ok(rows
        .into_iter()
        .map(|r| CompanySummary {
            id: r.0,
            name: r.1,
            created_at: r.2,
            members: r.3,
            deletion_scheduled_at: r.4,
        })
        .collect())
}
