//! The `sessions` table: server-side sessions, looked up by the SHA-256 of
//! their token.

use crate::db::Db;
use crate::db::Tx;
use crate::error::Result;
use crate::{exec_tx, on_db, on_tx, Millis};

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub token_hash: String,
    pub user_id: String,
    pub csrf_token: String,
    pub method: String,
    pub created_at: Millis,
    pub last_seen_at: Millis,
    pub auth_at: Millis,
    pub expires_at: Millis,
    pub ip: String,
    pub user_agent: String,
}

type Tuple = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    String,
    String,
);
const COLUMNS: &str =
    "id, token_hash, user_id, csrf_token, method, created_at, last_seen_at, auth_at, expires_at, ip, user_agent";

fn from_tuple(t: Tuple) -> SessionRow {
    SessionRow {
        id: t.0,
        token_hash: t.1,
        user_id: t.2,
        csrf_token: t.3,
        method: t.4,
        created_at: t.5,
        last_seen_at: t.6,
        auth_at: t.7,
        expires_at: t.8,
        ip: t.9,
        user_agent: t.10,
    }
}

pub async fn insert_session(tx: &mut Tx, s: &SessionRow) -> Result<()> {
    exec_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO sessions (id, token_hash, user_id, csrf_token, method, created_at, last_seen_at, auth_at, expires_at, ip, user_agent)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    )
    .bind(&s.id)
    .bind(&s.token_hash)
    .bind(&s.user_id)
    .bind(&s.csrf_token)
    .bind(&s.method)
    .bind(s.created_at)
    .bind(s.last_seen_at)
    .bind(s.auth_at)
    .bind(s.expires_at)
    .bind(&s.ip)
    .bind(&s.user_agent)
    .execute(c)
    .await
    })?;
    Ok(())
}

/// A user's sessions that are neither revoked nor past `now`.
pub async fn live_sessions_of_user(
    tx: &mut Tx,
    user_id: &str,
    now: Millis,
) -> Result<Vec<SessionRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
         ORDER BY last_seen_at DESC"
    );
    let rows: Vec<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(user_id)
        .bind(now)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(from_tuple).collect())
}

/// How many sessions the user ever had (those not yet purged), and how
/// many of them came from this address with this user agent.
pub async fn seen_from(
    tx: &mut Tx,
    user_id: &str,
    ip: &str,
    user_agent: &str,
) -> Result<(i64, i64)> {
    let row: (i64, i64) = on_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT count(*), COALESCE(SUM(CASE WHEN ip = $2 AND user_agent = $3 THEN 1 ELSE 0 END), 0)
         FROM sessions WHERE user_id = $1"
    )
    .bind(user_id)
    .bind(ip)
    .bind(user_agent)
    .fetch_one(c)
    .await
    })?;
    Ok(row)
}

/// Records use of a session.
pub async fn touch(tx: &mut Tx, id: &str, at: Millis) -> Result<()> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE sessions SET last_seen_at = $2 WHERE id = $1"
    )
    .bind(id)
    .bind(at)
    .execute(c)
    .await)?;
    Ok(())
}

/// Records a re-authentication in a session.
pub async fn set_auth_at(tx: &mut Tx, id: &str, at: Millis) -> Result<()> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE sessions SET auth_at = $2 WHERE id = $1"
    )
    .bind(id)
    .bind(at)
    .execute(c)
    .await)?;
    Ok(())
}

/// Revokes one session of a user; returns whether it was live.
pub async fn revoke(tx: &mut Tx, user_id: &str, id: &str, at: Millis) -> Result<bool> {
    let r = exec_tx!(tx, |c| {
        sqlx::query(
        "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND id = $2 AND revoked_at IS NULL"
    )
    .bind(user_id)
    .bind(id)
    .bind(at)
    .execute(c)
    .await
    })?;
    Ok(r == 1)
}

/// Revokes every live session of a user except `keep`.
pub async fn revoke_all_of_user(
    tx: &mut Tx,
    user_id: &str,
    keep: Option<&str>,
    at: Millis,
) -> Result<u64> {
    let r = exec_tx!(tx, |c| {
        sqlx::query(
        "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND revoked_at IS NULL AND id <> $2"
    )
    .bind(user_id)
    .bind(keep.unwrap_or(""))
    .bind(at)
    .execute(c)
    .await
    })?;
    Ok(r)
}

/// The user a live session belongs to, as far as authentication needs.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub email: String,
    pub name: String,
    pub language: String,
    pub is_operator: bool,
    /// A confirmed second factor exists.
    pub has_mfa: bool,
    /// A second factor is required: an operator, or a member or guest of a
    /// company with `require_mfa`.
    pub mfa_required: bool,
}

type WithUserTuple = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    bool,
    bool,
    bool,
);

/// A session that is not revoked, with its user, in one statement outside
/// any transaction (it runs on every authenticated request).
/// Whether a second factor is required is answered here too (`now` decides
/// which shares are live), so the rule is checked on every request.
pub async fn live_session_with_user(
    db: &Db,
    token_hash: &str,
    now: Millis,
) -> Result<Option<(SessionRow, SessionUser)>> {
    let sql = format!(
        "SELECT s.id, s.user_id, s.csrf_token, s.method, s.created_at, s.last_seen_at, s.auth_at,
            s.expires_at, s.ip, s.user_agent, u.email, u.name, u.language, u.is_operator,
            EXISTS (SELECT 1 FROM mfa_factors f WHERE f.user_id = u.id AND f.confirmed_at IS NOT NULL),
            {}
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.revoked_at IS NULL",
        crate::mfa::REQUIRED_SQL
    );
    let row: Option<WithUserTuple> = on_db!(db, |c| sqlx::query_as(&sql)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(|t| {
        let session = from_tuple((
            t.0,
            token_hash.to_string(),
            t.1,
            t.2,
            t.3,
            t.4,
            t.5,
            t.6,
            t.7,
            t.8,
            t.9,
        ));
        (
            session,
            SessionUser {
                email: t.10,
                name: t.11,
                language: t.12,
                is_operator: t.13,
                has_mfa: t.14,
                mfa_required: t.15,
            },
        )
    }))
}
