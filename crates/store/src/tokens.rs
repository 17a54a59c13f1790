//! The `one_time_tokens` table: invitation and password-reset tokens,
//! stored as SHA-256. A token is consumed by one conditional UPDATE, so two
//! concurrent uses cannot both succeed.

use crate::db::Tx;
use crate::error::Result;
use crate::{exec_tx, on_tx, Millis};

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub token_hash: String,
    /// `invite` or `password_reset`.
    pub purpose: String,
    pub user_id: String,
    pub company_id: Option<String>,
    /// For an invitation to a share rather than a membership.
    pub share_id: Option<String>,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
}

pub async fn insert_token(tx: &mut Tx, t: &TokenRow) -> Result<()> {
    exec_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO one_time_tokens (token_hash, purpose, user_id, company_id, created_at, expires_at, share_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(&t.token_hash)
    .bind(&t.purpose)
    .bind(&t.user_id)
    .bind(&t.company_id)
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(&t.share_id)
    .execute(c)
    .await
    })?;
    Ok(())
}

type TokenTuple = (
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
    Option<i64>,
    Option<String>,
);

pub async fn token_by_hash(
    tx: &mut Tx,
    purpose: &str,
    token_hash: &str,
) -> Result<Option<TokenRow>> {
    let row: Option<TokenTuple> = on_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT token_hash, purpose, user_id, company_id, created_at, expires_at, used_at, share_id
         FROM one_time_tokens WHERE token_hash = $1 AND purpose = $2"
    )
    .bind(token_hash)
    .bind(purpose)
    .fetch_optional(c)
    .await
    })?;
    Ok(row.map(|t| TokenRow {
        token_hash: t.0,
        purpose: t.1,
        user_id: t.2,
        company_id: t.3,
        created_at: t.4,
        expires_at: t.5,
        used_at: t.6,
        share_id: t.7,
    }))
}

/// Marks a token used if it is unused and unexpired at `now`; returns
/// whether this call consumed it.
pub async fn consume(tx: &mut Tx, token_hash: &str, now: Millis) -> Result<bool> {
    let r = exec_tx!(tx, |c| {
        sqlx::query(
        "UPDATE one_time_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2"
    )
    .bind(token_hash)
    .bind(now)
    .execute(c)
    .await
    })?;
    Ok(r == 1)
}

/// Voids every unused token of a user for `purpose` (e.g. older reset links
/// once one was used, or invitations when a membership is removed).
pub async fn void_all(
    tx: &mut Tx,
    user_id: &str,
    purpose: &str,
    company_id: Option<&str>,
    now: Millis,
) -> Result<()> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE one_time_tokens SET used_at = $4 WHERE user_id = $1 AND purpose = $2
         AND used_at IS NULL AND ($3 = '' OR company_id = $3)"
    )
    .bind(user_id)
    .bind(purpose)
    .bind(company_id.unwrap_or(""))
    .bind(now)
    .execute(c)
    .await)?;
    Ok(())
}

/// A pending email change.
#[derive(Debug, Clone)]
pub struct EmailChangeRow {
    pub token_hash: String,
    pub user_id: String,
    pub new_email: String,
    pub expires_at: Millis,
    pub used_at: Option<Millis>,
}

pub async fn insert_email_change(tx: &mut Tx, e: &EmailChangeRow, at: Millis) -> Result<()> {
    exec_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO email_changes (token_hash, user_id, new_email, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(&e.token_hash)
    .bind(&e.user_id)
    .bind(&e.new_email)
    .bind(at)
    .bind(e.expires_at)
    .execute(c)
    .await
    })?;
    Ok(())
}

pub async fn email_change_by_hash(tx: &mut Tx, token_hash: &str) -> Result<Option<EmailChangeRow>> {
    let row: Option<(String, String, String, i64, Option<i64>)> = on_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT token_hash, user_id, new_email, expires_at, used_at FROM email_changes WHERE token_hash = $1"
    )
    .bind(token_hash)
    .fetch_optional(c)
    .await
    })?;
    Ok(row.map(|t| EmailChangeRow {
        token_hash: t.0,
        user_id: t.1,
        new_email: t.2,
        expires_at: t.3,
        used_at: t.4,
    }))
}

/// Uses a pending change if it is unused and unexpired at `now`, voiding
/// the user's other pending changes; returns whether this call used it.
pub async fn consume_email_change(
    tx: &mut Tx,
    token_hash: &str,
    user_id: &str,
    now: Millis,
) -> Result<bool> {
    let n = exec_tx!(tx, |c| {
        sqlx::query(
        "UPDATE email_changes SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2"
    )
    .bind(token_hash)
    .bind(now)
    .execute(c)
    .await
    })?;
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE email_changes SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL"
    )
    .bind(user_id)
    .bind(now)
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// Voids every pending email change of a user (their password was reset
/// or changed: a change requested from a stolen session must not survive).
pub async fn void_email_changes(tx: &mut Tx, user_id: &str, now: Millis) -> Result<()> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE email_changes SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL"
    )
    .bind(user_id)
    .bind(now)
    .execute(c)
    .await)?;
    Ok(())
}
