//! Second factors (`mfa_factors`), recovery codes (`recovery_codes`) and
//! the pending second step of a sign-in (`mfa_challenges`). Every one-time
//! use (a TOTP time step, a recovery code, a challenge) is claimed by one
//! conditional UPDATE, so two concurrent requests cannot both succeed.

use crate::db::Tx;
use crate::error::Result;
use crate::{exec_tx, on_tx, Millis};

/// Whether the user `u` must have a second factor: an operator, or an
/// active member or a guest with a live share (`$2` is now) of a company
/// that requires one (and is not scheduled for deletion). A SQL expression over the alias `u` of `users`.
pub(crate) const REQUIRED_SQL: &str = "(u.is_operator
    OR EXISTS (SELECT 1 FROM memberships m JOIN companies c ON c.id = m.company_id
               WHERE m.user_id = u.id AND m.status = 'active' AND c.require_mfa
                 AND c.deletion_scheduled_at IS NULL)
    OR EXISTS (SELECT 1 FROM shares sh JOIN companies c ON c.id = sh.company_id
               WHERE sh.grantee_id = u.id AND sh.status = 'active' AND c.require_mfa
                 AND c.deletion_scheduled_at IS NULL
                 AND (sh.expires_at IS NULL OR sh.expires_at > $2)))";

/// Whether `user_id` must have a second factor at `now`.
pub async fn required(tx: &mut Tx, user_id: &str, now: Millis) -> Result<bool> {
    let sql = format!("SELECT {REQUIRED_SQL} FROM users u WHERE u.id = $1");
    let row: Option<(bool,)> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(user_id)
        .bind(now)
        .fetch_optional(c)
        .await)?;
    Ok(row.is_some_and(|(r,)| r))
}

/// A stored factor. `secret` is sealed by the caller.
#[derive(Debug, Clone)]
pub struct FactorRow {
    pub id: String,
    pub user_id: String,
    /// `totp` or `passkey`.
    pub kind: String,
    pub name: String,
    pub secret: Option<Vec<u8>>,
    pub created_at: Millis,
    pub confirmed_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
    pub last_step: Option<i64>,
    /// Passkeys: a keyed hash of the WebAuthn credential id (unique).
    pub credential_id: Option<String>,
}

type FactorTuple = (
    String,
    String,
    String,
    String,
    Option<Vec<u8>>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

fn factor_row(t: FactorTuple) -> FactorRow {
    FactorRow {
        id: t.0,
        user_id: t.1,
        kind: t.2,
        name: t.3,
        secret: t.4,
        created_at: t.5,
        confirmed_at: t.6,
        last_used_at: t.7,
        last_step: t.8,
        credential_id: t.9,
    }
}

const FACTOR_COLS: &str =
    "id, user_id, kind, name, secret, created_at, confirmed_at, last_used_at, last_step, credential_id";

pub async fn insert_factor(tx: &mut Tx, f: &FactorRow) -> Result<()> {
    exec_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO mfa_factors (id, user_id, kind, name, secret, created_at, confirmed_at, last_used_at, last_step, credential_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    )
    .bind(&f.id)
    .bind(&f.user_id)
    .bind(&f.kind)
    .bind(&f.name)
    .bind(&f.secret)
    .bind(f.created_at)
    .bind(f.confirmed_at)
    .bind(f.last_used_at)
    .bind(f.last_step)
    .bind(&f.credential_id)
    .execute(c)
    .await
    })?;
    Ok(())
}

/// The user's factors, confirmed or not, oldest first.
pub async fn factors_of(tx: &mut Tx, user_id: &str) -> Result<Vec<FactorRow>> {
    let sql =
        format!("SELECT {FACTOR_COLS} FROM mfa_factors WHERE user_id = $1 ORDER BY created_at, id");
    let rows: Vec<FactorTuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(user_id)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(factor_row).collect())
}

/// One factor of the user.
pub async fn factor(tx: &mut Tx, user_id: &str, id: &str) -> Result<Option<FactorRow>> {
    let sql = format!("SELECT {FACTOR_COLS} FROM mfa_factors WHERE user_id = $1 AND id = $2");
    let row: Option<FactorTuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(user_id)
        .bind(id)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(factor_row))
}

/// Whether the user has a confirmed factor.
pub async fn has_factor(tx: &mut Tx, user_id: &str) -> Result<bool> {
    let (n,): (i64,) = on_tx!(tx, |c| sqlx::query_as(
        "SELECT count(*) FROM mfa_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL"
    )
    .bind(user_id)
    .fetch_one(c)
    .await)?;
    Ok(n > 0)
}

/// Confirms a pending factor whose code for time step `step` was right;
/// false when it was confirmed meanwhile.
pub async fn confirm_factor(tx: &mut Tx, id: &str, step: i64, at: Millis) -> Result<bool> {
    let n = exec_tx!(tx, |c| sqlx::query(
        "UPDATE mfa_factors SET confirmed_at = $2, last_used_at = $2, last_step = $3
         WHERE id = $1 AND confirmed_at IS NULL"
    )
    .bind(id)
    .bind(at)
    .bind(step)
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// Claims TOTP time step `step` of a confirmed factor: true only when no
/// step at or after it was accepted before (so a code works once).
pub async fn claim_step(tx: &mut Tx, id: &str, step: i64, at: Millis) -> Result<bool> {
    let n = exec_tx!(tx, |c| sqlx::query(
        "UPDATE mfa_factors SET last_step = $2, last_used_at = $3
         WHERE id = $1 AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < $2)"
    )
    .bind(id)
    .bind(step)
    .bind(at)
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// Deletes one factor of the user; whether it existed.
pub async fn delete_factor(tx: &mut Tx, user_id: &str, id: &str) -> Result<bool> {
    let n = exec_tx!(tx, |c| sqlx::query(
        "DELETE FROM mfa_factors WHERE user_id = $1 AND id = $2"
    )
    .bind(user_id)
    .bind(id)
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// Deletes the user's pending factors started before `before`.
pub async fn delete_stale_pending(tx: &mut Tx, user_id: &str, before: Millis) -> Result<()> {
    exec_tx!(tx, |c| sqlx::query(
        "DELETE FROM mfa_factors WHERE user_id = $1 AND confirmed_at IS NULL AND created_at < $2"
    )
    .bind(user_id)
    .bind(before)
    .execute(c)
    .await)?;
    Ok(())
}

/// Deletes every factor and recovery code of the user (an MFA reset).
pub async fn delete_all(tx: &mut Tx, user_id: &str) -> Result<u64> {
    let n = exec_tx!(tx, |c| sqlx::query(
        "DELETE FROM mfa_factors WHERE user_id = $1"
    )
    .bind(user_id)
    .execute(c)
    .await)?;
    delete_recovery_codes(tx, user_id).await?;
    Ok(n)
}

/// Voids every recovery code of the user.
pub async fn delete_recovery_codes(tx: &mut Tx, user_id: &str) -> Result<()> {
    exec_tx!(tx, |c| sqlx::query(
        "DELETE FROM recovery_codes WHERE user_id = $1"
    )
    .bind(user_id)
    .execute(c)
    .await)?;
    Ok(())
}

/// Replaces the user's recovery codes with `hashes` (the old set is void).
pub async fn replace_recovery_codes(
    tx: &mut Tx,
    user_id: &str,
    hashes: &[String],
    at: Millis,
) -> Result<()> {
    delete_recovery_codes(tx, user_id).await?;
    for h in hashes {
        exec_tx!(tx, |c| sqlx::query(
            "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)"
        )
        .bind(user_id)
        .bind(h)
        .bind(at)
        .execute(c)
        .await)?;
    }
    Ok(())
}

/// Uses an unused recovery code; whether it was one.
pub async fn use_recovery_code(tx: &mut Tx, user_id: &str, hash: &str, at: Millis) -> Result<bool> {
    let n = exec_tx!(tx, |c| sqlx::query(
        "UPDATE recovery_codes SET used_at = $3
         WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL"
    )
    .bind(user_id)
    .bind(hash)
    .bind(at)
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// How many unused recovery codes the user has.
pub async fn recovery_codes_left(tx: &mut Tx, user_id: &str) -> Result<i64> {
    let (n,): (i64,) = on_tx!(tx, |c| sqlx::query_as(
        "SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL"
    )
    .bind(user_id)
    .fetch_one(c)
    .await)?;
    Ok(n)
}

/// A pending second step of a sign-in.
#[derive(Debug, Clone)]
pub struct ChallengeRow {
    pub token_hash: String,
    pub user_id: String,
    pub password_fp: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub failures: i64,
    pub used_at: Option<Millis>,
    /// The state of the WebAuthn ceremony offered with it, when the user
    /// has passkeys.
    pub passkey_state: Option<String>,
}

type ChallengeTuple = (
    String,
    String,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<String>,
);

fn challenge_row(t: ChallengeTuple) -> ChallengeRow {
    ChallengeRow {
        token_hash: t.0,
        user_id: t.1,
        password_fp: t.2,
        created_at: t.3,
        expires_at: t.4,
        failures: t.5,
        used_at: t.6,
        passkey_state: t.7,
    }
}

pub async fn insert_challenge(tx: &mut Tx, c: &ChallengeRow) -> Result<()> {
    exec_tx!(tx, |conn| {
        sqlx::query(
        "INSERT INTO mfa_challenges (token_hash, user_id, password_fp, created_at, expires_at, failures, passkey_state)
         VALUES ($1, $2, $3, $4, $5, 0, $6)"
    )
    .bind(&c.token_hash)
    .bind(&c.user_id)
    .bind(&c.password_fp)
    .bind(c.created_at)
    .bind(c.expires_at)
    .bind(&c.passkey_state)
    .execute(conn)
    .await
    })?;
    Ok(())
}

pub async fn challenge(tx: &mut Tx, token_hash: &str) -> Result<Option<ChallengeRow>> {
    let row: Option<ChallengeTuple> = on_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT token_hash, user_id, password_fp, created_at, expires_at, failures, used_at, passkey_state
         FROM mfa_challenges WHERE token_hash = $1"
    )
    .bind(token_hash)
    .fetch_optional(c)
    .await
    })?;
    Ok(row.map(challenge_row))
}

/// Claims one attempt at a live challenge (unused, unexpired, fewer than
/// `max_attempts` attempts so far) by counting it first, and answers the
/// challenge; `None` when it is not live. One conditional UPDATE, so
/// concurrent attempts are counted one by one and none gets past the limit.
pub async fn claim_attempt(
    tx: &mut Tx,
    token_hash: &str,
    at: Millis,
    max_attempts: i64,
) -> Result<Option<ChallengeRow>> {
    let row: Option<ChallengeTuple> = on_tx!(tx, |c| {
        sqlx::query_as(
        "UPDATE mfa_challenges SET failures = failures + 1
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 AND failures < $3
         RETURNING token_hash, user_id, password_fp, created_at, expires_at, failures, used_at, passkey_state"
    )
    .bind(token_hash)
    .bind(at)
    .bind(max_attempts)
    .fetch_optional(c)
    .await
    })?;
    Ok(row.map(challenge_row))
}

/// Uses a challenge whose attempt was claimed in this transaction; true
/// for exactly one caller.
pub async fn use_challenge(tx: &mut Tx, token_hash: &str, at: Millis) -> Result<bool> {
    let n = exec_tx!(tx, |c| sqlx::query(
        "UPDATE mfa_challenges SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL"
    )
    .bind(token_hash)
    .bind(at)
    .execute(c)
    .await)?;
    Ok(n == 1)
}

/// Deletes challenges that ended before `before` (housekeeping).
pub async fn purge_challenges(tx: &mut Tx, before: Millis) -> Result<u64> {
    exec_tx!(tx, |c| sqlx::query(
        "DELETE FROM mfa_challenges WHERE expires_at < $1"
    )
    .bind(before)
    .execute(c)
    .await)
    .map_err(Into::into)
}

/// The passkey whose credential id hashes to `credential_id`, whoever owns it.
pub async fn factor_by_credential(tx: &mut Tx, credential_id: &str) -> Result<Option<FactorRow>> {
    let sql = format!(
        "SELECT {FACTOR_COLS} FROM mfa_factors WHERE credential_id = $1 AND kind = 'passkey'"
    );
    let row: Option<FactorTuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(credential_id)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(factor_row))
}

/// Whether a credential id (hashed) is registered already, to anyone.
pub async fn credential_taken(tx: &mut Tx, credential_id: &str) -> Result<bool> {
    let (n,): (i64,) = on_tx!(tx, |c| sqlx::query_as(
        "SELECT count(*) FROM mfa_factors WHERE credential_id = $1"
    )
    .bind(credential_id)
    .fetch_one(c)
    .await)?;
    Ok(n > 0)
}

/// Records a use of a passkey: its new sealed state (signature counter,
/// flags) when it changed, and the time.
pub async fn passkey_used(tx: &mut Tx, id: &str, secret: Option<&[u8]>, at: Millis) -> Result<()> {
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE mfa_factors SET secret = COALESCE($2, secret), last_used_at = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(secret)
    .bind(at)
    .execute(c)
    .await)?;
    Ok(())
}

/// Renames a confirmed factor of the user; whether it existed.
pub async fn rename_factor(tx: &mut Tx, user_id: &str, id: &str, name: &str) -> Result<bool> {
    let n = exec_tx!(tx, |c| {
        sqlx::query(
        "UPDATE mfa_factors SET name = $3 WHERE user_id = $1 AND id = $2 AND confirmed_at IS NOT NULL"
    )
    .bind(user_id)
    .bind(id)
    .bind(name)
    .execute(c)
    .await
    })?;
    Ok(n == 1)
}

/// A WebAuthn ceremony in progress.
#[derive(Debug, Clone)]
pub struct CeremonyRow {
    pub challenge_hash: String,
    /// `register`, `login` or `reauth`.
    pub kind: String,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    /// The name a registration gives the passkey.
    pub name: Option<String>,
    /// The ceremony's state (webauthn-rs JSON).
    pub state: String,
    pub expires_at: Millis,
}

type CeremonyTuple = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    i64,
);

pub async fn insert_ceremony(tx: &mut Tx, r: &CeremonyRow) -> Result<()> {
    exec_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO webauthn_ceremonies (challenge_hash, kind, user_id, session_id, name, state, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(&r.challenge_hash)
    .bind(&r.kind)
    .bind(&r.user_id)
    .bind(&r.session_id)
    .bind(&r.name)
    .bind(&r.state)
    .bind(r.expires_at)
    .execute(c)
    .await
    })?;
    Ok(())
}

/// Takes (deletes and answers) the live ceremony of `kind` with this
/// challenge; for `register` and `reauth` only when `session_id` started
/// it. One DELETE, so a challenge is finished once at most.
pub async fn take_ceremony(
    tx: &mut Tx,
    challenge_hash: &str,
    kind: &str,
    session_id: Option<&str>,
    now: Millis,
) -> Result<Option<CeremonyRow>> {
    let row: Option<CeremonyTuple> = on_tx!(tx, |c| sqlx::query_as(
        "DELETE FROM webauthn_ceremonies
         WHERE challenge_hash = $1 AND kind = $2 AND expires_at > $3
           AND ($4 IS NULL OR session_id = $4)
         RETURNING challenge_hash, kind, user_id, session_id, name, state, expires_at"
    )
    .bind(challenge_hash)
    .bind(kind)
    .bind(now)
    .bind(session_id)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|t| CeremonyRow {
        challenge_hash: t.0,
        kind: t.1,
        user_id: t.2,
        session_id: t.3,
        name: t.4,
        state: t.5,
        expires_at: t.6,
    }))
}

/// Deletes ceremonies that ended before `before` (housekeeping).
pub async fn purge_ceremonies(tx: &mut Tx, before: Millis) -> Result<u64> {
    exec_tx!(tx, |c| sqlx::query(
        "DELETE FROM webauthn_ceremonies WHERE expires_at < $1"
    )
    .bind(before)
    .execute(c)
    .await)
    .map_err(Into::into)
}
