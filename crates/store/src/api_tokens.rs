//! The `api_tokens` table: named, company-scoped credentials for
//! integrations, looked up by the SHA-256 of their secret.

use crate::db::{Db, Tx};
use crate::error::Result;
use crate::sessions::SessionUser;
use crate::{exec_tx, on_db, on_tx, Millis};

#[derive(Debug, Clone)]
pub struct ApiTokenRow {
    pub id: String,
    pub user_id: String,
    pub company_id: String,
    pub name: String,
    pub read_only: bool,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
    pub expires_at: Millis,
}

type Tuple = (
    String,
    String,
    String,
    String,
    bool,
    Millis,
    Option<Millis>,
    Millis,
);
const COLUMNS: &str =
    "t.id, t.user_id, t.company_id, t.name, t.read_only, t.created_at, t.last_used_at, t.expires_at";

fn from_tuple(t: Tuple) -> ApiTokenRow {
    ApiTokenRow {
        id: t.0,
        user_id: t.1,
        company_id: t.2,
        name: t.3,
        read_only: t.4,
        created_at: t.5,
        last_used_at: t.6,
        expires_at: t.7,
    }
}

pub async fn insert(tx: &mut Tx, t: &ApiTokenRow, token_hash: &str) -> Result<()> {
    exec_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO api_tokens (id, token_hash, user_id, company_id, name, read_only, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    )
    .bind(&t.id)
    .bind(token_hash)
    .bind(&t.user_id)
    .bind(&t.company_id)
    .bind(&t.name)
    .bind(t.read_only)
    .bind(t.created_at)
    .bind(t.expires_at)
    .execute(c)
    .await
    })?;
    Ok(())
}

/// The user's tokens that are neither revoked nor expired at `now`, newest
/// first, after the cursor `(created_at, id)`.
pub async fn live_of_user(
    tx: &mut Tx,
    user_id: &str,
    now: Millis,
    after: Option<(Millis, &str)>,
    limit: i64,
) -> Result<Vec<ApiTokenRow>> {
    let (after_at, after_id) = after.unwrap_or((Millis::MAX, ""));
    let sql = format!(
        "SELECT {COLUMNS} FROM api_tokens t
         WHERE t.user_id = $1 AND t.revoked_at IS NULL AND t.expires_at > $2
           AND (t.created_at < $3 OR (t.created_at = $3 AND t.id < $4))
         ORDER BY t.created_at DESC, t.id DESC LIMIT $5"
    );
    let rows: Vec<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(user_id)
        .bind(now)
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(from_tuple).collect())
}

/// How many of the user's tokens are neither revoked nor expired at `now`.
pub async fn count_live(tx: &mut Tx, user_id: &str, now: Millis) -> Result<i64> {
    let (n,): (i64,) = on_tx!(tx, |c| sqlx::query_as(
        "SELECT COUNT(*) FROM api_tokens
         WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2"
    )
    .bind(user_id)
    .bind(now)
    .fetch_one(c)
    .await)?;
    Ok(n)
}

/// Revokes one of the user's live tokens; answers its company, or `None`
/// when there is no such live token of theirs.
pub async fn revoke(tx: &mut Tx, user_id: &str, id: &str, at: Millis) -> Result<Option<String>> {
    let row: Option<(String,)> = on_tx!(tx, |c| sqlx::query_as(
        "UPDATE api_tokens SET revoked_at = $3
         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3
         RETURNING company_id"
    )
    .bind(id)
    .bind(user_id)
    .bind(at)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|r| r.0))
}

/// Revokes every token of the user (a password change or reset, an MFA
/// reset); answers how many were live.
pub async fn revoke_all_of_user(tx: &mut Tx, user_id: &str, at: Millis) -> Result<u64> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL"
    )
    .bind(user_id)
    .bind(at)
    .execute(c)
    .await)
    .map_err(Into::into)
}

/// What authenticating a token needs besides the row.
#[derive(Debug, Clone)]
pub struct TokenUser {
    pub user: SessionUser,
    /// The user is, at `now`, an active member of the token's company or a
    /// guest there with a live share.
    pub belongs: bool,
}

type WithUserTuple = (
    String,
    String,
    String,
    String,
    bool,
    Millis,
    Option<Millis>,
    Millis,
    String,
    String,
    String,
    bool,
    bool,
    bool,
    bool,
);

/// A token that is not revoked, with its user, in one statement outside any
/// transaction (it runs on every request made with a token). Whether a
/// second factor is required, and whether the user still belongs to the
/// token's company, are answered at `now` too.
pub async fn live_token_with_user(
    db: &Db,
    token_hash: &str,
    now: Millis,
) -> Result<Option<(ApiTokenRow, TokenUser)>> {
    let sql = format!(
        "SELECT {COLUMNS}, u.email, u.name, u.language, u.is_operator,
            EXISTS (SELECT 1 FROM mfa_factors f WHERE f.user_id = u.id AND f.confirmed_at IS NOT NULL),
            {},
            (EXISTS (SELECT 1 FROM memberships m JOIN companies c ON c.id = m.company_id
                     WHERE m.user_id = u.id AND m.company_id = t.company_id
                       AND m.status = 'active' AND c.deletion_scheduled_at IS NULL)
             OR EXISTS (SELECT 1 FROM shares s LEFT JOIN shares v ON v.id = s.via_share_id
                     JOIN companies c ON c.id = s.company_id
                     WHERE s.grantee_id = u.id AND s.company_id = t.company_id
                       AND c.deletion_scheduled_at IS NULL AND {}))
         FROM api_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
        crate::mfa::REQUIRED_SQL,
        crate::shares::live("$2")
    );
    let row: Option<WithUserTuple> = on_db!(db, |c| sqlx::query_as(&sql)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(|t| {
        let token = from_tuple((t.0, t.1, t.2, t.3, t.4, t.5, t.6, t.7));
        let user = SessionUser {
            email: t.8,
            name: t.9,
            language: t.10,
            is_operator: t.11,
            has_mfa: t.12,
            mfa_required: t.13,
        };
        (
            token,
            TokenUser {
                user,
                belongs: t.14,
            },
        )
    }))
}

/// Records that a token was used.
pub async fn touch(tx: &mut Tx, id: &str, at: Millis) -> Result<()> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1"
    )
    .bind(id)
    .bind(at)
    .execute(c)
    .await)?;
    Ok(())
}
