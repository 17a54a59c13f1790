//! The `users` table: accounts and invited addresses.

use crate::db::Tx;
use crate::error::Result;
use crate::{exec_tx, on_tx, Millis};

/// A user as stored.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub language: String,
    /// `None` for an invited address that has no account yet.
    pub password_hash: Option<String>,
    pub is_operator: bool,
    pub created_at: Millis,
}

type Tuple = (String, String, String, String, Option<String>, bool, i64);
const COLUMNS: &str = "id, email, name, language, password_hash, is_operator, created_at";

fn from_tuple(t: Tuple) -> UserRow {
    UserRow {
        id: t.0,
        email: t.1,
        name: t.2,
        language: t.3,
        password_hash: t.4,
        is_operator: t.5,
        created_at: t.6,
    }
}

/// Inserts a user; a taken email is `Conflict("users_email_key")`.
pub async fn insert_user(tx: &mut Tx, u: &UserRow) -> Result<()> {
    exec_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO users (id, email, name, language, password_hash, is_operator, created_at, password_changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)"
    )
    .bind(&u.id)
    .bind(&u.email)
    .bind(&u.name)
    .bind(&u.language)
    .bind(&u.password_hash)
    .bind(u.is_operator)
    .bind(u.created_at)
    .execute(c)
    .await
    })?;
    Ok(())
}

pub async fn user_by_email(tx: &mut Tx, email: &str) -> Result<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    let row: Option<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(email)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(from_tuple))
}

/// Locks a user's row until the end of `tx` (PostgreSQL; SQLite's write
/// transactions are serial anyway), so changes to the account's factors
/// happen one at a time.
pub async fn lock(tx: &mut Tx, id: &str) -> Result<()> {
    if tx.backend() == crate::Backend::Postgres {
        on_tx!(tx, |c| sqlx::query(
            "SELECT id FROM users WHERE id = $1 FOR UPDATE"
        )
        .bind(id)
        .execute(c)
        .await
        .map(|_| ()))?;
    }
    Ok(())
}

pub async fn user_by_id(tx: &mut Tx, id: &str) -> Result<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    let row: Option<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(from_tuple))
}

/// Sets a new password hash.
pub async fn set_password(tx: &mut Tx, id: &str, hash: &str, at: Millis) -> Result<()> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE users SET password_hash = $2, password_changed_at = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(hash)
    .bind(at)
    .execute(c)
    .await)?;
    Ok(())
}

/// Turns an invited address into an account: sets its name and password.
/// Returns false when the address already has a password (another request
/// made the account first).
pub async fn complete_account(
    tx: &mut Tx,
    id: &str,
    name: &str,
    hash: &str,
    at: Millis,
) -> Result<bool> {
    let n = exec_tx!(tx, |c| {
        sqlx::query(
        "UPDATE users SET name = $2, password_hash = $3, password_changed_at = $4 WHERE id = $1 AND password_hash IS NULL"
    )
    .bind(id)
    .bind(name)
    .bind(hash)
    .bind(at)
    .execute(c)
    .await
    })?;
    Ok(n == 1)
}

/// Makes an existing account a platform operator.
pub async fn set_operator(tx: &mut Tx, id: &str) -> Result<()> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE users SET is_operator = $2 WHERE id = $1"
    )
    .bind(id)
    .bind(true)
    .execute(c)
    .await)?;
    Ok(())
}

/// Sets a user's display name and language.
pub async fn set_profile(tx: &mut Tx, id: &str, name: &str, language: &str) -> Result<()> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE users SET name = $2, language = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(name)
    .bind(language)
    .execute(c)
    .await)?;
    Ok(())
}

/// Changes a user's email; a taken address is `Conflict("users_email_key")`.
pub async fn set_email(tx: &mut Tx, id: &str, email: &str) -> Result<()> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE users SET email = $2 WHERE id = $1"
    )
    .bind(id)
    .bind(email)
    .execute(c)
    .await)?;
    Ok(())
}

/// Orders the making of operators in every process, so that "no operator
/// exists yet" stays true until this transaction ends: on SQLite the
/// write transaction's lock does it already; on PostgreSQL an advisory
/// lock held until the transaction ends.
pub async fn lock_operators(tx: &mut Tx) -> Result<()> {
    if tx.backend() == crate::db::Backend::Postgres {
        crate::exec_tx!(tx, |c| sqlx::query(
            "SELECT pg_advisory_xact_lock(7357420003)"
        )
        .execute(c)
        .await)?;
    }
    Ok(())
}

/// Whether any platform operator exists (the first-run set-up is offered
/// only while none does).
pub async fn operator_exists(tx: &mut Tx) -> Result<bool> {
    let found: Option<(String,)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id FROM users WHERE is_operator LIMIT 1"
    )
    .fetch_optional(c)
    .await)?;
    Ok(found.is_some())
}

/// Every operator's address and language (for platform notices such as a
/// failed restore drill).
pub async fn operator_addresses(tx: &mut Tx) -> Result<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT email, language FROM users WHERE is_operator ORDER BY email"
    )
    .fetch_all(c)
    .await)?;
    Ok(rows)
}
