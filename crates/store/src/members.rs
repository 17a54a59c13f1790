//! The `memberships` table: who belongs to which company, in which role.
//! Every statement filters by company id.

use crate::db::Tx;
use turva_model::access::{Action, Allowed};

use crate::error::{require, Result};
use crate::{exec_tx, on_tx, Millis};

/// A membership with the member's account fields.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub company_id: String,
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    /// `active` or `invited`.
    pub status: String,
    pub language: String,
    pub created_at: Millis,
    /// The member has a confirmed second factor.
    pub has_mfa: bool,
}

/// A user's membership as seen from the user: the company's name included.
#[derive(Debug, Clone)]
pub struct MembershipOfUser {
    pub company_id: String,
    pub company_name: String,
    pub role: String,
    pub status: String,
}

type Tuple = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    bool,
);
const SELECT: &str =
    "SELECT m.company_id, m.user_id, u.email, u.name, m.role, m.status, m.language, m.created_at,
        EXISTS (SELECT 1 FROM mfa_factors f WHERE f.user_id = u.id AND f.confirmed_at IS NOT NULL)
    FROM memberships m JOIN users u ON u.id = m.user_id";

fn from_tuple(t: Tuple) -> MemberRow {
    MemberRow {
        company_id: t.0,
        user_id: t.1,
        email: t.2,
        name: t.3,
        role: t.4,
        status: t.5,
        language: t.6,
        created_at: t.7,
        has_mfa: t.8,
    }
}

/// A membership to insert.
#[derive(Debug, Clone)]
pub struct NewMembership<'a> {
    pub company_id: &'a str,
    pub user_id: &'a str,
    pub role: &'a str,
    /// `active` or `invited`.
    pub status: &'a str,
    pub language: &'a str,
    pub invited_by: Option<&'a str>,
    pub at: Millis,
}

/// Inserts a membership; an existing one is `Conflict`.
pub async fn insert_membership(tx: &mut Tx, proof: &Allowed, m: &NewMembership<'_>) -> Result<()> {
    require(proof, |a| {
        matches!(a, Action::InviteMember { .. } | Action::CreateCompany)
    })?;
    exec_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO memberships (company_id, user_id, role, status, language, invited_by, created_at, joined_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $4 = 'active' THEN $7 ELSE NULL END)"
    )
    .bind(m.company_id)
    .bind(m.user_id)
    .bind(m.role)
    .bind(m.status)
    .bind(m.language)
    .bind(m.invited_by)
    .bind(m.at)
    .execute(c)
    .await
    })?;
    Ok(())
}

/// One membership (active or invited) in a company.
pub async fn membership(tx: &mut Tx, company_id: &str, user_id: &str) -> Result<Option<MemberRow>> {
    let sql = format!("{SELECT} WHERE m.company_id = $1 AND m.user_id = $2");
    let row: Option<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(company_id)
        .bind(user_id)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(from_tuple))
}

/// Members and invitations of a company, oldest first, after `after_user`
/// (a cursor) and at most `limit`.
pub async fn members_of_company(
    tx: &mut Tx,
    company_id: &str,
    after_user: Option<&str>,
    limit: i64,
) -> Result<Vec<MemberRow>> {
    let sql =
        format!("{SELECT} WHERE m.company_id = $1 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3");
    let rows: Vec<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(company_id)
        .bind(after_user.unwrap_or(""))
        .bind(limit)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(from_tuple).collect())
}

/// Every company a user is an active member of or invited to.
pub async fn memberships_of_user(tx: &mut Tx, user_id: &str) -> Result<Vec<MembershipOfUser>> {
    let rows: Vec<(String, String, String, String)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT m.company_id, co.name, m.role, m.status FROM memberships m
         JOIN companies co ON co.id = m.company_id
         WHERE m.user_id = $1 AND co.deletion_scheduled_at IS NULL ORDER BY co.name, m.company_id"
    )
    .bind(user_id)
    .fetch_all(c)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|t| MembershipOfUser {
            company_id: t.0,
            company_name: t.1,
            role: t.2,
            status: t.3,
        })
        .collect())
}

/// Whether a user has any tie to a company other than `company_id`: a
/// membership or invitation of any status (also in a company scheduled for
/// deletion) or a pending or active share. Decides whether one company's
/// admin may act on the whole account (an MFA reset).
pub async fn tied_elsewhere(tx: &mut Tx, user_id: &str, company_id: &str) -> Result<bool> {
    let row: (bool,) = on_tx!(tx, |c| sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1 AND company_id <> $2)
             OR EXISTS (SELECT 1 FROM shares WHERE grantee_id = $1 AND company_id <> $2)"
    )
    .bind(user_id)
    .bind(company_id)
    .fetch_one(c)
    .await)?;
    Ok(row.0)
}

pub async fn set_role(
    tx: &mut Tx,
    proof: &Allowed,
    company_id: &str,
    user_id: &str,
    role: &str,
) -> Result<()> {
    require(proof, |a| matches!(a, Action::ChangeRole { .. }))?;
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE memberships SET role = $3 WHERE company_id = $1 AND user_id = $2"
    )
    .bind(company_id)
    .bind(user_id)
    .bind(role)
    .execute(c)
    .await)?;
    Ok(())
}

/// Updates an invitation (role, language) while it is pending.
pub async fn update_invitation(
    tx: &mut Tx,
    proof: &Allowed,
    company_id: &str,
    user_id: &str,
    role: &str,
    language: &str,
) -> Result<()> {
    require(proof, |a| {
        matches!(a, Action::InviteMember { .. } | Action::CreateCompany)
    })?;
    exec_tx!(tx, |c| {
        sqlx::query(
        "UPDATE memberships SET role = $3, language = $4 WHERE company_id = $1 AND user_id = $2 AND status = 'invited'"
    )
    .bind(company_id)
    .bind(user_id)
    .bind(role)
    .bind(language)
    .execute(c)
    .await
    })?;
    Ok(())
}

/// Activates an invited membership; returns whether one was waiting.
pub async fn activate(tx: &mut Tx, company_id: &str, user_id: &str, at: Millis) -> Result<bool> {
    let done = exec_tx!(tx, |c| sqlx::query(
        "UPDATE memberships SET status = 'active', joined_at = $3
         WHERE company_id = $1 AND user_id = $2 AND status = 'invited'"
    )
    .bind(company_id)
    .bind(user_id)
    .bind(at)
    .execute(c)
    .await)?;
    Ok(done == 1)
}

pub async fn delete_membership(
    tx: &mut Tx,
    proof: &Allowed,
    company_id: &str,
    user_id: &str,
) -> Result<()> {
    require(proof, |a| matches!(a, Action::RemoveMember { .. }))?;
    exec_tx!(tx, |c| sqlx::query(
        "DELETE FROM memberships WHERE company_id = $1 AND user_id = $2"
    )
    .bind(company_id)
    .bind(user_id)
    .execute(c)
    .await)?;
    Ok(())
}

/// Active owners of a company. On PostgreSQL the owner rows are locked, so
/// two concurrent demotions cannot both see "two owners left".
pub async fn count_active_owners(tx: &mut Tx, company_id: &str) -> Result<u64> {
    let sql = match tx.backend() {
        crate::Backend::Sqlite => {
            "SELECT user_id FROM memberships WHERE company_id = $1 AND role = 'owner' AND status = 'active'"
        }
        crate::Backend::Postgres => {
            "SELECT user_id FROM memberships WHERE company_id = $1 AND role = 'owner' AND status = 'active' FOR UPDATE"
        }
    };
    let rows: Vec<(String,)> = on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(company_id)
        .fetch_all(c)
        .await)?;
    Ok(rows.len() as u64)
}

/// Every address that is an active owner or admin of some company, once,
/// with the language of one of those memberships.
pub async fn privileged_addresses(tx: &mut Tx) -> Result<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT u.email, MIN(m.language) FROM memberships m
         JOIN users u ON u.id = m.user_id
         JOIN companies co ON co.id = m.company_id
         WHERE m.status = 'active' AND m.role IN ('owner', 'admin')
           AND co.deletion_scheduled_at IS NULL
         GROUP BY u.email ORDER BY u.email"
    )
    .fetch_all(c)
    .await)?;
    Ok(rows)
}
