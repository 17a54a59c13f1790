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
pub async fn company_with_active_role(
    tx: &mut Tx,
    company_id: &str,
    user_id: &str,
) -> Result<Option<(CompanyRow, Option<String>)>> {
    let row: Option<(String, String, String, i64, Option<String>)> =
        on_tx!(tx, |c| sqlx::query_as(
            "SELECT c.id, c.name, c.settings, c.created_at, m.role FROM companies c
         LEFT JOIN memberships m ON m.company_id = c.id AND m.user_id = $2 AND m.status = 'active'
         WHERE c.id = $1"
        )
        .bind(company_id)
        .bind(user_id)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(|t| {
        (
            CompanyRow {
                id: t.0,
                name: t.1,
                settings: t.2,
                created_at: t.3,
            },
            t.4,
        )
    }))
}
