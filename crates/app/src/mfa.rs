//! Second factors: enrolment and removal by their owner, recovery codes,
//! and the second step of a sign-in (`POST /auth/mfa`).
//!
//! Sign-in with a factor: password (throttled) → a challenge (`mfa_token`:
//! 256 bits, stored hashed, 5 minutes, bound to the password hash of that
//! step, so a password change kills it; it carries a WebAuthn ceremony when
//! the user has passkeys) → a TOTP code, a recovery code or a passkey's
//! answer → the session. No session exists before the code. A wrong code counts against
//! the same throttle as a wrong password and against the challenge, which
//! survives 5 wrong codes and dies at the sixth, or at its first success.
//! The checks themselves are in `totp`, `recovery` and
//! `passkeys`.

use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_model::{validate, Language};
use turva_store::mfa::{self as store, ChallengeRow, FactorRow};
use turva_store::{sessions, users, Tx};

use crate::audit::{self, Event};
use crate::auth::{self, LoginOk};
use crate::keyring::{self, KeyKind};
use crate::mail::{self, FactorChange};
use crate::secret::{hash_token, new_id, new_token};
use crate::{passkeys, recovery, throttle, totp, Actor, App, AppError, Ctx};

/// How long a sign-in challenge lives.
const CHALLENGE_MS: i64 = 5 * 60 * 1000;
/// Attempts a challenge allows: it survives 5 wrong codes.
const CHALLENGE_ATTEMPTS: i64 = 6;
/// How long a started TOTP enrolment waits for its confirmation.
const ENROL_MS: i64 = 10 * 60 * 1000;
/// A code longer than this is refused before any check.
const CODE_MAX: usize = 64;

/// The caller's factors (confirmed ones) and unused recovery codes.
#[derive(Debug)]
pub struct Overview {
    pub factors: Vec<FactorRow>,
    pub recovery_codes_left: i64,
}

/// A started TOTP enrolment, shown once.
#[derive(Debug)]
pub struct TotpStart {
    pub id: String,
    pub secret: String,
    pub otpauth_url: String,
    pub qr: String,
}

/// Which second factor was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Used {
    Totp,
    RecoveryCode,
    Passkey,
}

impl Used {
    /// How a session signed in with it is described.
    pub fn method(self) -> &'static str {
        match self {
            Used::Totp => "totp",
            Used::RecoveryCode => "recovery_code",
            Used::Passkey => "passkey",
        }
    }
}

fn check_code_input(code: &str) -> Result<(), AppError> {
    if code.is_empty() || code.chars().count() > CODE_MAX {
        return Err(AppError::malformed(
            "code",
            "must be between 1 and 64 characters",
        ));
    }
    Ok(())
}

fn language(s: &str) -> Language {
    Language::parse("language", s).unwrap_or_default()
}

/// `GET /me/mfa`.
pub async fn overview(app: &App, actor: &Actor) -> Result<Overview, AppError> {
    let mut tx = app.db().read().await?;
    let factors = store::factors_of(&mut tx, &actor.user_id)
        .await?
        .into_iter()
        .filter(|f| f.confirmed_at.is_some())
        .collect();
    let recovery_codes_left = store::recovery_codes_left(&mut tx, &actor.user_id).await?;
    Ok(Overview {
        factors,
        recovery_codes_left,
    })
}

/// Refuses (audited) a self-service action without recent auth.
pub(crate) async fn require_recent(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    action: AuditAction,
) -> Result<(), AppError> {
    if auth::recent_auth(app, actor) {
        return Ok(());
    }
    let ev = Event::new(action, Outcome::Denied)
        .actor(actor)
        .object(ObjectType::User, &actor.user_id)
        .reason("reauthentication_required");
    Err(audit::deny(app, ctx, ev, AppError::ReauthRequired).await)
}

/// Starts a TOTP enrolment: a new secret, shown once with its URL and QR
/// code; it counts for nothing until confirmed.
pub async fn start_totp(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    name: Option<&str>,
) -> Result<TotpStart, AppError> {
    let name = match name {
        Some(n) => validate::name("name", n)?,
        None => "Authenticator app".to_string(),
    };
    require_recent(app, ctx, actor, AuditAction::AuthMfaEnrol).await?;
    let secret = totp::new_secret();
    let url = totp::otpauth_url(&secret, &actor.email)?;
    let qr = totp::qr_data_url(&url)?;
    let now = app.now();
    let id = new_id();
    let mut tx = app.db().write().await?;
    store::delete_stale_pending(&mut tx, &actor.user_id, now - ENROL_MS).await?;
    let (_, key) = keyring::ensure_key(app, &mut tx, KeyKind::User, &actor.user_id).await?;
    store::insert_factor(
        &mut tx,
        &FactorRow {
            id: id.clone(),
            user_id: actor.user_id.clone(),
            kind: "totp".into(),
            name,
            secret: Some(totp::seal(&key, &id, &secret)),
            created_at: now,
            confirmed_at: None,
            last_used_at: None,
            last_step: None,
            credential_id: None,
        },
    )
    .await?;
    let ev = Event::new(AuditAction::AuthMfaEnrol, Outcome::Allowed)
        .actor(actor)
        .object(ObjectType::User, &actor.user_id)
        .reason("totp started");
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(TotpStart {
        id,
        secret: totp::secret_base32(&secret),
        otpauth_url: url,
        qr,
    })
}

/// Confirms a started TOTP enrolment with a current code. For the user's
/// first factor, answers a new set of recovery codes (shown once).
pub async fn confirm_totp(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    code: &str,
) -> Result<Option<Vec<String>>, AppError> {
    check_code_input(code)?;
    let limits = [
        throttle::session_limit("mfa_confirm_session", &actor.session_id),
        throttle::address_limit(app, "mfa_confirm_ip", &ctx.ip.to_string()),
    ];
    let now = app.now();
    let refused = || {
        Event::new(AuditAction::AuthMfaEnrol, Outcome::Denied)
            .actor(actor)
            .object(ObjectType::User, &actor.user_id)
    };
    let tx = app.db().write().await?;
    let (mut tx, reservation) = throttle::reserve_audited(app, ctx, tx, &limits, refused()).await?;
    // One enrolment at a time per user, so two confirmations cannot both
    // count as the first factor (and hand out two recovery sets).
    users::lock(&mut tx, &actor.user_id).await?;
    let factor = store::factor(&mut tx, &actor.user_id, id)
        .await?
        .filter(|f| f.kind == "totp" && f.confirmed_at.is_none());
    let factor = match factor {
        Some(f) if f.created_at + ENROL_MS >= now => f,
        found => {
            drop(tx);
            let (reason, err) = match found {
                None => ("not_found", AppError::NotFound),
                Some(_) => (
                    "expired",
                    AppError::invalid("id", "this enrolment expired; start a new one"),
                ),
            };
            return Err(audit::deny(app, ctx, refused().reason(reason), err).await);
        }
    };
    let key = keyring::user_key(app, &mut tx, &actor.user_id).await?;
    let sealed = factor.secret.as_deref().unwrap_or_default();
    let secret = totp::open(&key, &factor.id, sealed)?;
    let Some(step) = totp::matching_step(&secret, code, now)? else {
        // A wrong code at enrolment is no failed sign-in.
        let ev = refused().reason("invalid_code");
        audit::record(app, &mut tx, ctx, ev).await?;
        tx.commit().await?;
        return Err(AppError::invalid("code", "is not the current code"));
    };
    let first = !store::has_factor(&mut tx, &actor.user_id).await?;
    if !store::confirm_factor(&mut tx, &factor.id, step, now).await? {
        return Err(AppError::Conflict("this factor was confirmed already"));
    }
    enrolled(app, ctx, actor, tx, first, &reservation, "totp confirmed").await
}

/// The end of an enrolment whose factor is active in `tx`: recovery codes
/// when it is the user's `first` factor, the attempt given back, the
/// event, the commit, and the email to the user.
pub(crate) async fn enrolled(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    mut tx: Tx,
    first: bool,
    reservation: &[String],
    reason: &str,
) -> Result<Option<Vec<String>>, AppError> {
    let codes = if first {
        Some(new_recovery_set(app, &mut tx, &actor.user_id).await?)
    } else {
        None
    };
    throttle::release(&mut tx, reservation, None).await?;
    let ev = Event::new(AuditAction::AuthMfaEnrol, Outcome::Allowed)
        .actor(actor)
        .object(ObjectType::User, &actor.user_id)
        .reason(reason);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    tell(app, actor, FactorChange::Added).await;
    Ok(codes)
}

/// Emails the caller that their factors changed.
async fn tell(app: &App, actor: &Actor, change: FactorChange) {
    let m = mail::factor_notice(language(&actor.language), &actor.email, change, 0);
    auth::send_quietly(app, &m).await;
}

/// Removes one of the caller's factors (recent auth). Removing the last
/// one voids the recovery codes too.
pub async fn remove(app: &App, ctx: &Ctx, actor: &Actor, id: &str) -> Result<(), AppError> {
    require_recent(app, ctx, actor, AuditAction::AuthMfaRemove).await?;
    let mut tx = app.db().write().await?;
    users::lock(&mut tx, &actor.user_id).await?;
    if !store::delete_factor(&mut tx, &actor.user_id, id).await? {
        drop(tx);
        let ev = Event::new(AuditAction::AuthMfaRemove, Outcome::Denied)
            .actor(actor)
            .object(ObjectType::User, &actor.user_id)
            .reason("not_found");
        return Err(audit::deny(app, ctx, ev, AppError::NotFound).await);
    }
    if !store::has_factor(&mut tx, &actor.user_id).await? {
        // Pending enrolments stay; they count for nothing until confirmed.
        store::delete_recovery_codes(&mut tx, &actor.user_id).await?;
    }
    let ev = Event::new(AuditAction::AuthMfaRemove, Outcome::Allowed)
        .actor(actor)
        .object(ObjectType::User, &actor.user_id);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    tell(app, actor, FactorChange::Removed).await;
    Ok(())
}

/// A new set of recovery codes (recent auth); the old set is void.
pub async fn renew_recovery_codes(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
) -> Result<Vec<String>, AppError> {
    require_recent(app, ctx, actor, AuditAction::AuthRecoveryCodesRenew).await?;
    let mut tx = app.db().write().await?;
    users::lock(&mut tx, &actor.user_id).await?;
    if !store::has_factor(&mut tx, &actor.user_id).await? {
        drop(tx);
        let ev = Event::new(AuditAction::AuthRecoveryCodesRenew, Outcome::Denied)
            .actor(actor)
            .object(ObjectType::User, &actor.user_id)
            .reason("no_factor");
        let err = AppError::Conflict("recovery codes need a second factor; enrol one first");
        return Err(audit::deny(app, ctx, ev, err).await);
    }
    let codes = new_recovery_set(app, &mut tx, &actor.user_id).await?;
    let ev = Event::new(AuditAction::AuthRecoveryCodesRenew, Outcome::Allowed)
        .actor(actor)
        .object(ObjectType::User, &actor.user_id);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(codes)
}

/// Replaces the user's recovery codes with a new set; answers the codes.
async fn new_recovery_set(app: &App, tx: &mut Tx, user_id: &str) -> Result<Vec<String>, AppError> {
    let codes = recovery::new_set();
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|c| recovery::normalise(c))
        .map(|c| recovery::hash(app, &c))
        .collect();
    store::replace_recovery_codes(tx, user_id, &hashes, app.now()).await?;
    Ok(codes)
}

/// Checks `code` (a TOTP code of a confirmed factor, or an unused recovery
/// code) for `user_id` and claims it, in `tx`: a code passes once.
pub(crate) async fn verify_code(
    app: &App,
    tx: &mut Tx,
    user_id: &str,
    code: &str,
) -> Result<Option<Used>, AppError> {
    let now = app.now();
    if totp::looks_like_code(code) {
        let factors = store::factors_of(tx, user_id).await?;
        let mut key = None;
        for f in factors
            .iter()
            .filter(|f| f.kind == "totp" && f.confirmed_at.is_some())
        {
            if key.is_none() {
                key = keyring::get_key(app, tx, KeyKind::User, user_id)
                    .await?
                    .map(|(_, k)| k);
            }
            let Some(k) = key.as_ref() else {
                return Ok(None);
            };
            let secret = totp::open(k, &f.id, f.secret.as_deref().unwrap_or_default())?;
            if let Some(step) = totp::matching_step(&secret, code, now)? {
                // The same step twice (replay), or an older one: refused.
                return Ok(store::claim_step(tx, &f.id, step, now)
                    .await?
                    .then_some(Used::Totp));
            }
        }
        return Ok(None);
    }
    let Some(normal) = recovery::normalise(code) else {
        return Ok(None);
    };
    let used = store::use_recovery_code(tx, user_id, &recovery::hash(app, &normal), now).await?;
    Ok(used.then_some(Used::RecoveryCode))
}

/// After a recovery code was used: the email that tells its owner.
pub(crate) async fn recovery_notice(
    tx: &mut Tx,
    user: &users::UserRow,
) -> Result<mail::Mail, AppError> {
    let left = store::recovery_codes_left(tx, &user.id).await?;
    Ok(mail::factor_notice(
        language(&user.language),
        &user.email,
        FactorChange::RecoveryCodeUsed,
        left,
    ))
}

/// The first step's answer for an account with a factor: a challenge
/// bound to the password hash just checked, and the WebAuthn options to
/// offer with it when the user has passkeys.
pub(crate) async fn challenge(
    app: &App,
    tx: &mut Tx,
    user: &users::UserRow,
) -> Result<(String, Option<serde_json::Value>), AppError> {
    let (token, token_hash) = new_token();
    let now = app.now();
    let (options, passkey_state) = match passkeys::second_step_options(app, tx, &user.id).await? {
        Some((o, s)) => (Some(o), Some(s)),
        None => (None, None),
    };
    store::insert_challenge(
        tx,
        &ChallengeRow {
            token_hash,
            user_id: user.id.clone(),
            password_fp: password_fp(user),
            created_at: now,
            expires_at: now + CHALLENGE_MS,
            failures: 0,
            used_at: None,
            passkey_state,
        },
    )
    .await?;
    Ok((token, options))
}

fn password_fp(user: &users::UserRow) -> String {
    hash_token(user.password_hash.as_deref().unwrap_or_default())
}

/// Whether a user has a confirmed second factor.
pub(crate) async fn has_factor(tx: &mut Tx, user_id: &str) -> Result<bool, AppError> {
    Ok(store::has_factor(tx, user_id).await?)
}

/// What the second step of a sign-in gives.
#[derive(Debug, Clone, Copy)]
pub enum SecondStep<'a> {
    /// A TOTP code or a recovery code.
    Code(&'a str),
    /// A passkey's answer (`PublicKeyCredential.toJSON()`) to the options
    /// offered with the challenge.
    Passkey(&'a serde_json::Value),
}

/// `POST /auth/mfa`: the second step of a sign-in.
pub async fn complete_login(
    app: &App,
    ctx: &Ctx,
    mfa_token: &str,
    step: SecondStep<'_>,
) -> Result<LoginOk, AppError> {
    if mfa_token.is_empty() || mfa_token.len() > 128 {
        return Err(AppError::malformed("mfa_token", "is not a sign-in token"));
    }
    let answer = match step {
        SecondStep::Code(code) => {
            check_code_input(code)?;
            None
        }
        SecondStep::Passkey(v) => Some(passkeys::parse_assertion("passkey", v)?.0),
    };
    let now = app.now();
    let token_hash = hash_token(mfa_token);
    let mut tx = app.db().write().await?;
    // The attempt is counted before anything is checked (committed also
    // when the code is wrong), so parallel guesses share the limit.
    let claimed = store::claim_attempt(&mut tx, &token_hash, now, CHALLENGE_ATTEMPTS).await?;
    let known = match &claimed {
        Some(c) => Some(c.clone()),
        None => store::challenge(&mut tx, &token_hash).await?,
    };
    let user = match &known {
        Some(c) => users::user_by_id(&mut tx, &c.user_id).await?,
        None => None,
    };
    let Some(user) = user else {
        drop(tx);
        let ev = Event::new(AuditAction::AuthMfaFailed, Outcome::Denied).reason("mfa_token");
        return Err(audit::deny(app, ctx, ev, AppError::Unauthenticated).await);
    };
    let live = claimed
        .as_ref()
        .is_some_and(|c| c.password_fp == password_fp(&user));
    if !live {
        let mut ev = Event::new(AuditAction::AuthMfaFailed, Outcome::Denied).reason("mfa_token");
        ev.subject_id = Some(&user.id);
        audit::record(app, &mut tx, ctx, ev).await?;
        tx.commit().await?;
        return Err(AppError::Unauthenticated);
    }
    let limits = throttle::login_limits(app, &user.email, &ctx.ip.to_string());
    let reservation = match throttle::reserve(app, &mut tx, &limits).await {
        Ok(r) => r,
        Err(e) => {
            let mut ev =
                Event::new(AuditAction::AuthMfaFailed, Outcome::Denied).reason("rate_limited");
            ev.subject_id = Some(&user.id);
            ev.email = Some(&user.email);
            audit::record(app, &mut tx, ctx, ev).await?;
            tx.commit().await?;
            return Err(e);
        }
    };
    let checked = match (step, &answer) {
        (SecondStep::Code(code), _) => verify_code(app, &mut tx, &user.id, code).await?,
        (SecondStep::Passkey(_), Some(cred)) => {
            let state = claimed.as_ref().and_then(|c| c.passkey_state.as_deref());
            passkeys::verify_answer(app, &mut tx, &user.id, state, cred)
                .await?
                .then_some(Used::Passkey)
        }
        (SecondStep::Passkey(_), None) => None,
    };
    let used = match checked {
        // Used now, in the transaction that holds the claimed attempt.
        Some(used) if store::use_challenge(&mut tx, &token_hash, now).await? => Some(used),
        _ => None,
    };
    let Some(used) = used else {
        let mut ev = Event::new(AuditAction::AuthMfaFailed, Outcome::Denied).reason("invalid_code");
        ev.subject_id = Some(&user.id);
        ev.email = Some(&user.email);
        audit::record(app, &mut tx, ctx, ev).await?;
        let mails = crate::alerts::failed_signin(app, &mut tx, ctx, &user.id, &user.email).await?;
        tx.commit().await?;
        crate::alerts::send(app, &mails).await;
        return Err(AppError::InvalidCredentials);
    };
    throttle::release(&mut tx, &reservation, limits.first()).await?;
    let device = auth::new_device_notice(&mut tx, ctx, &user).await?;
    let (token, row) = auth::new_session(app, ctx, &user.id, used.method());
    sessions::insert_session(&mut tx, &row).await?;
    let mut notice = None;
    if used == Used::RecoveryCode {
        let mut ev = Event::new(AuditAction::AuthRecoveryCodeUsed, Outcome::Allowed)
            .object(ObjectType::User, &user.id);
        ev.actor_id = Some(&user.id);
        ev.email = Some(&user.email);
        audit::record(app, &mut tx, ctx, ev).await?;
        notice = Some(recovery_notice(&mut tx, &user).await?);
    }
    let mut ev = Event::new(AuditAction::AuthLogin, Outcome::Allowed)
        .object(ObjectType::Session, &row.id)
        .reason(used.method());
    ev.actor_id = Some(&user.id);
    ev.email = Some(&user.email);
    ev.credential = Some("session");
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    for m in notice.iter().chain(device.iter()) {
        auth::send_quietly(app, m).await;
    }
    Ok(LoginOk {
        token,
        expires_at: row.expires_at,
        user,
        has_mfa: true,
        mfa_enrolment_required: false,
    })
}

/// Renames one of the caller's factors.
pub async fn rename(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    name: &str,
) -> Result<(), AppError> {
    let name = validate::name("name", name)?;
    let mut tx = app.db().write().await?;
    if !store::rename_factor(&mut tx, &actor.user_id, id, &name).await? {
        drop(tx);
        let ev = Event::new(AuditAction::AuthMfaRename, Outcome::Denied)
            .actor(actor)
            .object(ObjectType::User, &actor.user_id)
            .reason("not_found");
        return Err(audit::deny(app, ctx, ev, AppError::NotFound).await);
    }
    let ev = Event::new(AuditAction::AuthMfaRename, Outcome::Allowed)
        .actor(actor)
        .object(ObjectType::User, &actor.user_id);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes sign-in challenges and WebAuthn ceremonies that ended
/// (housekeeping).
pub async fn purge_expired(app: &App) -> Result<u64, AppError> {
    let now = app.now();
    let mut tx = app.db().write().await?;
    let n = store::purge_challenges(&mut tx, now).await?
        + store::purge_ceremonies(&mut tx, now).await?;
    tx.commit().await?;
    Ok(n)
}

/// Removes every factor and recovery code of `user_id` and ends all their
/// sessions and API tokens (an MFA reset), in `tx`.
pub(crate) async fn wipe(app: &App, tx: &mut Tx, user_id: &str) -> Result<(), AppError> {
    store::delete_all(tx, user_id).await?;
    sessions::revoke_all_of_user(tx, user_id, None, app.now()).await?;
    turva_store::api_tokens::revoke_all_of_user(tx, user_id, app.now()).await?;
    Ok(())
}

/// The email telling a user their factors were reset.
pub(crate) fn reset_notice(user: &users::UserRow) -> mail::Mail {
    mail::factor_notice(
        language(&user.language),
        &user.email,
        FactorChange::Reset,
        0,
    )
}

/// `turva user reset-mfa --email E`: the operator's reset of anyone's
/// factors; ends their sessions, audited, emailed.
pub async fn reset_by_operator(app: &App, ctx: &Ctx, email: &str) -> Result<(), AppError> {
    let email = validate::email("email", email)?;
    let mut tx = app.db().write().await?;
    let user = users::user_by_email(&mut tx, &email)
        .await?
        .ok_or(AppError::NotFound)?;
    wipe(app, &mut tx, &user.id).await?;
    let mut ev = Event::new(AuditAction::AuthMfaReset, Outcome::Allowed)
        .object(ObjectType::User, &user.id)
        .reason("operator command line");
    ev.subject_id = Some(&user.id);
    ev.credential = Some("cli");
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    auth::send_quietly(app, &reset_notice(&user)).await;
    Ok(())
}
