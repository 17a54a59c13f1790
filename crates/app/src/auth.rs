//! Sign-in, sessions, password reset, invitation acceptance, re-auth.
//!
//! Threats: password guessing (throttled, see `throttle`), account
//! enumeration (an unknown email, an invited address without a password and
//! a wrong password get the same answer after the same work: a full argon2
//! verification), session theft (256-bit tokens stored hashed, idle and
//! absolute lifetimes, revocation server-side, a new token on every
//! sign-in), and token replay (one-time tokens are consumed by a single
//! conditional update, only on success).
//!
//! Session states: live → (idle too long | past its absolute lifetime |
//! signed out | revoked by the user | password changed or reset) → dead.

use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_model::{password as pw_rule, validate, Language};
use turva_store::sessions::SessionRow;
use turva_store::{api_tokens, members, sessions, tokens, users};

use crate::audit::{self, Event};
use crate::keyring::{self, KeyKind};
use crate::secret::{ct_eq, hash_token, new_id, new_token};
use crate::throttle;
use crate::{mail, Actor, App, AppError, Ctx};

/// A password longer than this is refused before hashing (hashing huge
/// inputs is a denial-of-service lever).
pub const PASSWORD_INPUT_MAX: usize = 1024;

/// A successful sign-in.
#[derive(Debug)]
pub struct LoginOk {
    pub token: String,
    pub user: users::UserRow,
    pub expires_at: i64,
    pub has_mfa: bool,
    /// A second factor is required and the user has none: the session
    /// reaches only enrolment until they enrol.
    pub mfa_enrolment_required: bool,
}

/// What the password step of a sign-in answers.
#[derive(Debug)]
pub enum Login {
    /// Signed in.
    Session(LoginOk),
    /// The account has a second factor: `POST /auth/mfa` with this token
    /// and a code (or an answer to `passkey`, the WebAuthn options offered
    /// when the user has passkeys) completes the sign-in.
    SecondFactor {
        mfa_token: String,
        passkey: Option<serde_json::Value>,
    },
}

/// A session as its owner sees it.
#[derive(Debug)]
pub struct SessionInfo {
    pub row: SessionRow,
    pub current: bool,
}

/// What `GET /me` shows.
#[derive(Debug)]
pub struct Me {
    pub user: users::UserRow,
    pub memberships: Vec<members::MembershipOfUser>,
    pub csrf_token: String,
    pub has_mfa: bool,
    /// A second factor is required and the user has none yet.
    pub mfa_enrolment_required: bool,
}

fn check_password_input(password: &str) -> Result<(), AppError> {
    if password.is_empty() || password.chars().count() > PASSWORD_INPUT_MAX {
        return Err(AppError::malformed(
            "password",
            "must be between 1 and 1024 characters",
        ));
    }
    Ok(())
}

/// Signs in with email and password.
pub async fn login(app: &App, ctx: &Ctx, email: &str, password: &str) -> Result<Login, AppError> {
    let email = validate::email("email", email)?;
    check_password_input(password)?;
    let ip = ctx.ip.to_string();
    let limits = throttle::login_limits(app, &email, &ip);

    // 1. Reserve an attempt (or refuse, audited), before any slow work.
    let mut tx = app.db().write().await?;
    let user = users::user_by_email(&mut tx, &email).await?;
    let reservation = match throttle::reserve(app, &mut tx, &limits).await {
        Ok(ids) => ids,
        Err(e) => {
            let mut ev =
                Event::new(AuditAction::AuthLoginFailed, Outcome::Denied).reason("rate_limited");
            ev.email = Some(&email);
            ev.subject_id = user.as_ref().map(|u| u.id.as_str());
            audit::record(app, &mut tx, ctx, ev).await?;
            let mails = match &user {
                Some(u) => crate::alerts::failed_signin(app, &mut tx, ctx, &u.id, &email).await?,
                None => Vec::new(),
            };
            tx.commit().await?;
            crate::alerts::send(app, &mails).await;
            return Err(e);
        }
    };
    tx.commit().await?;

    // 2. The slow check, outside any transaction.
    let ok = app
        .hasher()
        .verify(
            user.as_ref().and_then(|u| u.password_hash.as_deref()),
            password,
        )
        .await?;

    let mut tx = app.db().write().await?;
    let subject = user.as_ref().map(|u| u.id.clone());
    let Some(user) = user.filter(|_| ok) else {
        let mut ev =
            Event::new(AuditAction::AuthLoginFailed, Outcome::Denied).reason("invalid_credentials");
        ev.email = Some(&email);
        ev.subject_id = subject.as_deref();
        audit::record(app, &mut tx, ctx, ev).await?;
        let mails = match &subject {
            Some(uid) => crate::alerts::failed_signin(app, &mut tx, ctx, uid, &email).await?,
            None => Vec::new(),
        };
        tx.commit().await?;
        crate::alerts::send(app, &mails).await;
        return Err(AppError::InvalidCredentials);
    };
    ensure_password_unchanged(&mut tx, &user).await?;
    if crate::mfa::has_factor(&mut tx, &user.id).await? {
        // The password was right, but failures at this address are not
        // forgotten until the second factor is right too.
        throttle::release(&mut tx, &reservation, None).await?;
        let (mfa_token, passkey) = crate::mfa::challenge(app, &mut tx, &user).await?;
        let mut ev = Event::new(AuditAction::AuthMfaChallenge, Outcome::Allowed)
            .object(ObjectType::User, &user.id);
        ev.subject_id = Some(&user.id);
        ev.email = Some(&user.email);
        audit::record(app, &mut tx, ctx, ev).await?;
        tx.commit().await?;
        return Ok(Login::SecondFactor { mfa_token, passkey });
    }
    throttle::release(&mut tx, &reservation, limits.first()).await?;
    let notice = new_device_notice(&mut tx, ctx, &user).await?;
    let (token, row) = new_session(app, ctx, &user.id, "password");
    sessions::insert_session(&mut tx, &row).await?;
    let mut ev =
        Event::new(AuditAction::AuthLogin, Outcome::Allowed).object(ObjectType::Session, &row.id);
    ev.actor_id = Some(&user.id);
    ev.email = Some(&user.email);
    ev.credential = Some("session");
    audit::record(app, &mut tx, ctx, ev).await?;
    let required = turva_store::mfa::required(&mut tx, &user.id, app.now()).await?;
    tx.commit().await?;
    if let Some(m) = notice {
        send_quietly(app, &m).await;
    }
    Ok(Login::Session(LoginOk {
        token,
        expires_at: row.expires_at,
        user,
        has_mfa: false,
        mfa_enrolment_required: required,
    }))
}

/// Before a new session of `user` is stored: the email to send when the
/// account has signed in before, but never from this address and device.
pub(crate) async fn new_device_notice(
    tx: &mut turva_store::Tx,
    ctx: &Ctx,
    user: &users::UserRow,
) -> Result<Option<mail::Mail>, AppError> {
    let ip = ctx.ip.to_string();
    let agent: String = ctx.user_agent.chars().take(512).collect();
    let (before, same) = sessions::seen_from(tx, &user.id, &ip, &agent).await?;
    Ok((before > 0 && same == 0).then(|| {
        let lang = Language::parse("language", &user.language).unwrap_or_default();
        mail::new_signin(lang, &user.email, &ip, &agent)
    }))
}

pub(crate) fn new_session(
    app: &App,
    ctx: &Ctx,
    user_id: &str,
    method: &str,
) -> (String, SessionRow) {
    let now = app.now();
    let (token, token_hash) = new_token();
    let (csrf, _) = new_token();
    let abs =
        i64::try_from(app.config().auth.session_absolute_seconds).unwrap_or(i64::MAX / 2000) * 1000;
    let row = SessionRow {
        id: new_id(),
        token_hash,
        user_id: user_id.to_string(),
        csrf_token: csrf,
        method: method.to_string(),
        created_at: now,
        last_seen_at: now,
        auth_at: now,
        expires_at: now.saturating_add(abs),
        ip: ctx.ip.to_string(),
        user_agent: ctx.user_agent.chars().take(512).collect(),
    };
    (token, row)
}

/// Establishes who holds `token` (a session token). Missing, malformed,
/// expired, idle or revoked: `Unauthenticated`.
pub async fn authenticate(app: &App, token: &str) -> Result<Actor, AppError> {
    if token.starts_with(crate::api_tokens::PREFIX) {
        return crate::api_tokens::authenticate(app, token).await;
    }
    if token.len() != 43
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(AppError::Unauthenticated);
    }
    let now = app.now();
    let idle =
        i64::try_from(app.config().auth.session_idle_seconds).unwrap_or(i64::MAX / 2000) * 1000;
    let Some((s, user)) =
        sessions::live_session_with_user(app.db(), &hash_token(token), now).await?
    else {
        return Err(AppError::Unauthenticated);
    };
    if now >= s.expires_at || now >= s.last_seen_at.saturating_add(idle) {
        return Err(AppError::Unauthenticated);
    }
    // Record use at most once a minute: enough for the idle timeout.
    if now - s.last_seen_at > 60_000 {
        let mut tx = app.db().write().await?;
        sessions::touch(&mut tx, &s.id, now).await?;
        tx.commit().await?;
    }
    Ok(Actor {
        user_id: s.user_id,
        email: user.email,
        name: user.name,
        language: user.language,
        is_operator: user.is_operator,
        session_id: s.id,
        csrf_token: s.csrf_token,
        auth_at: s.auth_at,
        has_mfa: user.has_mfa,
        must_enrol: user.mfa_required && !user.has_mfa,
        credential: "session".into(),
        token: None,
    })
}

/// Whether the actor gave a password or second factor recently enough for
/// a sensitive action.
pub fn recent_auth(app: &App, actor: &Actor) -> bool {
    let window = i64::try_from(app.config().auth.reauth_seconds).unwrap_or(0) * 1000;
    app.now() - actor.auth_at <= window
}

/// Ends the caller's session.
pub async fn logout(app: &App, ctx: &Ctx, actor: &Actor) -> Result<(), AppError> {
    let mut tx = app.db().write().await?;
    sessions::revoke(&mut tx, &actor.user_id, &actor.session_id, app.now()).await?;
    let ev = Event::new(AuditAction::AuthLogout, Outcome::Allowed)
        .actor(actor)
        .object(ObjectType::Session, &actor.session_id);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(())
}

/// The caller's account and memberships.
pub async fn me(app: &App, actor: &Actor) -> Result<Me, AppError> {
    let mut tx = app.db().read().await?;
    let user = users::user_by_id(&mut tx, &actor.user_id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let memberships = members::memberships_of_user(&mut tx, &actor.user_id)
        .await?
        .into_iter()
        .filter(|m| m.status == "active" && actor.reaches(&m.company_id))
        .collect();
    Ok(Me {
        user,
        memberships,
        csrf_token: actor.csrf_token.clone(),
        has_mfa: actor.has_mfa,
        mfa_enrolment_required: actor.must_enrol,
    })
}

/// What `PATCH /me` may change.
#[derive(Debug, Default)]
pub struct MeChanges<'a> {
    pub name: Option<&'a str>,
    pub language: Option<&'a str>,
    /// A new address: needs recent auth, and takes effect only when the
    /// link sent to it is used (`confirm_email_change`).
    pub email: Option<&'a str>,
}

/// Email-change links are valid this long.
pub const EMAIL_CHANGE_SECS: i64 = 24 * 3600;

/// Changes the caller's name and/or language, and starts an email change.
pub async fn update_me(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    changes: MeChanges<'_>,
) -> Result<Me, AppError> {
    let name = changes
        .name
        .map(|n| validate::name("name", n))
        .transpose()?;
    let language = changes
        .language
        .map(|l| Language::parse("language", l))
        .transpose()?;
    let email = changes
        .email
        .map(|e| validate::email("email", e))
        .transpose()?
        .filter(|e| *e != actor.email);
    if email.is_some() && !recent_auth(app, actor) {
        let ev = Event::new(AuditAction::UserEmailChangeRequest, Outcome::Denied)
            .actor(actor)
            .object(ObjectType::User, &actor.user_id)
            .reason("reauthentication_required");
        return Err(audit::deny(app, ctx, ev, AppError::ReauthRequired).await);
    }
    let mut tx = app.db().write().await?;
    let user = users::user_by_id(&mut tx, &actor.user_id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let lang =
        language.unwrap_or_else(|| Language::parse("language", &user.language).unwrap_or_default());
    // Throttle counters are locked before the audit head (every operation
    // takes them in this order, so two cannot deadlock on PostgreSQL).
    if let Some(new_email) = &email {
        throttle::reserve(app, &mut tx, &throttle::mail_limits(app, new_email, None)).await?;
    }
    if name.is_some() || language.is_some() {
        users::set_profile(
            &mut tx,
            &actor.user_id,
            name.as_deref().unwrap_or(&user.name),
            lang.as_str(),
        )
        .await?;
        let ev = Event::new(AuditAction::UserUpdate, Outcome::Allowed)
            .actor(actor)
            .object(ObjectType::User, &actor.user_id);
        audit::record(app, &mut tx, ctx, ev).await?;
    }
    let mut mail_out = None;
    if let Some(new_email) = &email {
        // Whether the address is taken is checked only at confirmation, so
        // this answer says nothing about other accounts.
        let (token, token_hash) = new_token();
        let now = app.now();
        let row = tokens::EmailChangeRow {
            token_hash,
            user_id: actor.user_id.clone(),
            new_email: new_email.clone(),
            expires_at: now + EMAIL_CHANGE_SECS * 1000,
            used_at: None,
        };
        tokens::insert_email_change(&mut tx, &row, now).await?;
        let ev = Event::new(AuditAction::UserEmailChangeRequest, Outcome::Allowed)
            .actor(actor)
            .object(ObjectType::User, &actor.user_id);
        audit::record(app, &mut tx, ctx, ev).await?;
        let link = format!("{}/confirm-email?token={token}", app.config().public_url());
        mail_out = Some(mail::email_change(lang, new_email, &link));
    }
    tx.commit().await?;
    if let Some(m) = mail_out {
        send_quietly(app, &m).await;
    }
    me(app, actor).await
}

/// Completes an email change with the token from the link sent to the new
/// address; the old address is told.
pub async fn confirm_email_change(
    app: &App,
    ctx: &Ctx,
    token: &str,
) -> Result<users::UserRow, AppError> {
    let token_hash = hash_token(token);
    let now = app.now();
    let attempt = throttle::attempt(
        app,
        &[throttle::address_limit(
            app,
            "email_confirm_ip",
            &ctx.ip.to_string(),
        )],
    )
    .await?;
    let mut tx = app.db().write().await?;
    let change = tokens::email_change_by_hash(&mut tx, &token_hash)
        .await?
        .ok_or_else(bad_token)?;
    let user = users::user_by_id(&mut tx, &change.user_id)
        .await?
        .ok_or_else(bad_token)?;
    if !tokens::consume_email_change(&mut tx, &token_hash, &user.id, now).await? {
        return Err(bad_token());
    }
    if users::user_by_email(&mut tx, &change.new_email)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict(
            "that address belongs to another account",
        ));
    }
    users::set_email(&mut tx, &user.id, &change.new_email).await?;
    throttle::release(&mut tx, &attempt, None).await?;
    let mut ev = Event::new(AuditAction::UserEmailChange, Outcome::Allowed)
        .object(ObjectType::User, &user.id);
    ev.actor_id = Some(&user.id);
    ev.email = Some(&change.new_email);
    audit::record(app, &mut tx, ctx, ev).await?;
    let updated = users::user_by_id(&mut tx, &user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let lang = Language::parse("language", &user.language).unwrap_or_default();
    send_quietly(
        app,
        &mail::email_changed(lang, &user.email, &change.new_email),
    )
    .await;
    Ok(updated)
}

/// The caller's live sessions, newest use first.
pub async fn list_sessions(app: &App, actor: &Actor) -> Result<Vec<SessionInfo>, AppError> {
    let mut tx = app.db().read().await?;
    let rows = sessions::live_sessions_of_user(&mut tx, &actor.user_id, app.now()).await?;
    Ok(rows
        .into_iter()
        .map(|row| SessionInfo {
            current: row.id == actor.session_id,
            row,
        })
        .collect())
}

/// Revokes one of the caller's sessions; another user's is `NotFound`.
pub async fn revoke_session(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    session_id: &str,
) -> Result<(), AppError> {
    let mut tx = app.db().write().await?;
    if !sessions::revoke(&mut tx, &actor.user_id, session_id, app.now()).await? {
        drop(tx);
        let ev = Event::new(AuditAction::AuthSessionRevoke, Outcome::Denied)
            .actor(actor)
            .object(ObjectType::Session, session_id)
            .reason("not_own_live_session");
        return Err(audit::deny(app, ctx, ev, AppError::NotFound).await);
    }
    let ev = Event::new(AuditAction::AuthSessionRevoke, Outcome::Allowed)
        .actor(actor)
        .object(ObjectType::Session, session_id);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(())
}

/// What a re-authentication gives.
#[derive(Debug, Clone, Copy)]
pub enum ReauthWith<'a> {
    Password(&'a str),
    /// A TOTP code or a recovery code.
    Code(&'a str),
    /// A passkey's answer to the options of `POST /auth/reauth/passkey`.
    Passkey(&'a serde_json::Value),
}

/// Confirms the caller's password or second factor for sensitive actions.
pub async fn reauth(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    with: ReauthWith<'_>,
) -> Result<(), AppError> {
    let password = match with {
        ReauthWith::Password(p) => {
            check_password_input(p)?;
            p
        }
        ReauthWith::Code(code) => return reauth_with_code(app, ctx, actor, code).await,
        ReauthWith::Passkey(answer) => return reauth_with_passkey(app, ctx, actor, answer).await,
    };
    let limits = reauth_limits(app, ctx, actor);
    let tx = app.db().write().await?;
    let refused = Event::new(AuditAction::AuthReauth, Outcome::Denied).actor(actor);
    let (mut tx, reservation) = throttle::reserve_audited(app, ctx, tx, &limits, refused).await?;
    let user = users::user_by_id(&mut tx, &actor.user_id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    tx.commit().await?;
    let ok = app
        .hasher()
        .verify(user.password_hash.as_deref(), password)
        .await?;
    let mut tx = app.db().write().await?;
    if !ok {
        let ev = Event::new(AuditAction::AuthReauth, Outcome::Denied)
            .actor(actor)
            .reason("invalid_credentials");
        audit::record(app, &mut tx, ctx, ev).await?;
        tx.commit().await?;
        return Err(AppError::InvalidCredentials);
    }
    ensure_password_unchanged(&mut tx, &user).await?;
    throttle::release(&mut tx, &reservation, None).await?;
    sessions::set_auth_at(&mut tx, &actor.session_id, app.now()).await?;
    let ev = Event::new(AuditAction::AuthReauth, Outcome::Allowed)
        .actor(actor)
        .reason("password");
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(())
}

fn reauth_limits(app: &App, ctx: &Ctx, actor: &Actor) -> [throttle::Limit; 2] {
    [
        throttle::session_limit("reauth_session", &actor.session_id),
        throttle::address_limit(app, "reauth_ip", &ctx.ip.to_string()),
    ]
}

async fn reauth_with_code(app: &App, ctx: &Ctx, actor: &Actor, code: &str) -> Result<(), AppError> {
    if code.is_empty() || code.chars().count() > 64 {
        return Err(AppError::malformed(
            "code",
            "must be between 1 and 64 characters",
        ));
    }
    let limits = reauth_limits(app, ctx, actor);
    let tx = app.db().write().await?;
    let refused = Event::new(AuditAction::AuthReauth, Outcome::Denied).actor(actor);
    let (mut tx, reservation) = throttle::reserve_audited(app, ctx, tx, &limits, refused).await?;
    let Some(used) = crate::mfa::verify_code(app, &mut tx, &actor.user_id, code).await? else {
        let ev = Event::new(AuditAction::AuthReauth, Outcome::Denied)
            .actor(actor)
            .reason("invalid_code");
        audit::record(app, &mut tx, ctx, ev).await?;
        tx.commit().await?;
        return Err(AppError::InvalidCredentials);
    };
    throttle::release(&mut tx, &reservation, None).await?;
    sessions::set_auth_at(&mut tx, &actor.session_id, app.now()).await?;
    let mut notice = None;
    if used == crate::mfa::Used::RecoveryCode {
        let ev = Event::new(AuditAction::AuthRecoveryCodeUsed, Outcome::Allowed)
            .actor(actor)
            .object(ObjectType::User, &actor.user_id);
        audit::record(app, &mut tx, ctx, ev).await?;
        if let Some(user) = users::user_by_id(&mut tx, &actor.user_id).await? {
            notice = Some(crate::mfa::recovery_notice(&mut tx, &user).await?);
        }
    }
    let ev = Event::new(AuditAction::AuthReauth, Outcome::Allowed)
        .actor(actor)
        .reason(used.method());
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    if let Some(m) = notice {
        send_quietly(app, &m).await;
    }
    Ok(())
}

async fn reauth_with_passkey(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    answer: &serde_json::Value,
) -> Result<(), AppError> {
    let (cred, challenge) = crate::passkeys::parse_assertion("passkey", answer)?;
    let limits = reauth_limits(app, ctx, actor);
    let tx = app.db().write().await?;
    let refused = Event::new(AuditAction::AuthReauth, Outcome::Denied).actor(actor);
    let (mut tx, reservation) = throttle::reserve_audited(app, ctx, tx, &limits, refused).await?;
    if !crate::passkeys::verify_reauth(app, &mut tx, actor, &cred, &challenge).await? {
        let ev = Event::new(AuditAction::AuthReauth, Outcome::Denied)
            .actor(actor)
            .reason("invalid_passkey");
        audit::record(app, &mut tx, ctx, ev).await?;
        tx.commit().await?;
        return Err(AppError::InvalidCredentials);
    }
    throttle::release(&mut tx, &reservation, None).await?;
    sessions::set_auth_at(&mut tx, &actor.session_id, app.now()).await?;
    let ev = Event::new(AuditAction::AuthReauth, Outcome::Allowed)
        .actor(actor)
        .reason("passkey");
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(())
}

/// Changes the caller's password (the current one is the re-auth) and ends
/// their other sessions.
pub async fn change_password(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    current: &str,
    new: &str,
) -> Result<(), AppError> {
    check_password_input(current)?;
    check_password_input(new)?;
    pw_rule::check_new(new, &[&actor.email, &actor.name])?;
    let limits = [
        throttle::session_limit("password_session", &actor.session_id),
        throttle::address_limit(app, "password_ip", &ctx.ip.to_string()),
    ];
    let tx = app.db().write().await?;
    let refused = Event::new(AuditAction::AuthPasswordChange, Outcome::Denied).actor(actor);
    let (mut tx, reservation) = throttle::reserve_audited(app, ctx, tx, &limits, refused).await?;
    let user = users::user_by_id(&mut tx, &actor.user_id)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    tx.commit().await?;
    if !app
        .hasher()
        .verify(user.password_hash.as_deref(), current)
        .await?
    {
        let mut tx = app.db().write().await?;
        let ev = Event::new(AuditAction::AuthPasswordChange, Outcome::Denied)
            .actor(actor)
            .reason("invalid_credentials");
        audit::record(app, &mut tx, ctx, ev).await?;
        tx.commit().await?;
        return Err(AppError::InvalidCredentials);
    }
    let hash = app.hasher().hash(new).await?;
    let now = app.now();
    let mut tx = app.db().write().await?;
    ensure_password_unchanged(&mut tx, &user).await?;
    throttle::release(&mut tx, &reservation, None).await?;
    users::set_password(&mut tx, &actor.user_id, &hash, now).await?;
    tokens::void_email_changes(&mut tx, &actor.user_id, now).await?;
    sessions::revoke_all_of_user(&mut tx, &actor.user_id, Some(&actor.session_id), now).await?;
    api_tokens::revoke_all_of_user(&mut tx, &actor.user_id, now).await?;
    sessions::set_auth_at(&mut tx, &actor.session_id, now).await?;
    let ev = Event::new(AuditAction::AuthPasswordChange, Outcome::Allowed)
        .actor(actor)
        .object(ObjectType::User, &actor.user_id);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    let lang = Language::parse("language", &user.language).unwrap_or_default();
    send_quietly(app, &mail::password_changed(lang, &user.email)).await;
    Ok(())
}

/// Starts a password reset: emails a link if the account exists. Answers
/// the same either way (no enumeration); throttled per address.
pub async fn request_password_reset(app: &App, ctx: &Ctx, email: &str) -> Result<(), AppError> {
    let email = validate::email("email", email)?;
    let mut limits = vec![throttle::address_limit(
        app,
        "reset_ip",
        &ctx.ip.to_string(),
    )];
    // The recipient limit is counted for unknown addresses too, so a 429
    // says nothing about whether an account exists.
    limits.extend(throttle::mail_limits(app, &email, None));
    let tx = app.db().write().await?;
    let mut refused = Event::new(AuditAction::AuthPasswordResetRequest, Outcome::Denied);
    refused.email = Some(&email);
    let (mut tx, _) = throttle::reserve_audited(app, ctx, tx, &limits, refused).await?;
    let user = users::user_by_email(&mut tx, &email)
        .await?
        .filter(|u| u.password_hash.is_some());
    let mut mail_out = None;
    if let Some(u) = &user {
        let (token, token_hash) = new_token();
        let now = app.now();
        tokens::insert_token(
            &mut tx,
            &tokens::TokenRow {
                token_hash,
                purpose: "password_reset".into(),
                user_id: u.id.clone(),
                company_id: None,
                share_id: None,
                created_at: now,
                expires_at: now + 30 * 60 * 1000,
                used_at: None,
            },
        )
        .await?;
        let link = format!("{}/reset-password?token={token}", app.config().public_url());
        let lang = Language::parse("language", &u.language).unwrap_or_default();
        mail_out = Some(mail::password_reset(lang, &u.email, &link));
    }
    let mut ev = Event::new(AuditAction::AuthPasswordResetRequest, Outcome::Allowed);
    ev.subject_id = user.as_ref().map(|u| u.id.as_str());
    ev.email = Some(&email);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    if let Some(m) = mail_out {
        // Sent in the background: awaiting it only for existing accounts
        // would tell by timing which addresses have one.
        let app = app.clone();
        tokio::spawn(async move { send_quietly(&app, &m).await });
    }
    Ok(())
}

/// Completes a password reset: sets the password and ends every session.
pub async fn confirm_password_reset(
    app: &App,
    ctx: &Ctx,
    token: &str,
    password: &str,
) -> Result<(), AppError> {
    check_password_input(password)?;
    let token_hash = hash_token(token);
    let attempt = throttle::attempt(
        app,
        &[throttle::address_limit(
            app,
            "reset_confirm_ip",
            &ctx.ip.to_string(),
        )],
    )
    .await?;
    let mut tx = app.db().write().await?;
    let t = live_token(app, &mut tx, "password_reset", &token_hash).await?;
    let user = users::user_by_id(&mut tx, &t.user_id)
        .await?
        .ok_or_else(bad_token)?;
    tx.commit().await?;
    pw_rule::check_new(password, &[&user.email, &user.name])?;
    let hash = app.hasher().hash(password).await?;
    let now = app.now();
    let mut tx = app.db().write().await?;
    if !tokens::consume(&mut tx, &token_hash, now).await? {
        return Err(bad_token());
    }
    tokens::void_all(&mut tx, &user.id, "password_reset", None, now).await?;
    throttle::release(&mut tx, &attempt, None).await?;
    users::set_password(&mut tx, &user.id, &hash, now).await?;
    sessions::revoke_all_of_user(&mut tx, &user.id, None, now).await?;
    api_tokens::revoke_all_of_user(&mut tx, &user.id, now).await?;
    // A pending email change may be an intruder's: a reset ends it too.
    tokens::void_email_changes(&mut tx, &user.id, now).await?;
    let mut ev = Event::new(AuditAction::AuthPasswordReset, Outcome::Allowed)
        .object(ObjectType::User, &user.id);
    ev.actor_id = Some(&user.id);
    ev.email = Some(&user.email);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    let lang = Language::parse("language", &user.language).unwrap_or_default();
    send_quietly(app, &mail::password_changed(lang, &user.email)).await;
    Ok(())
}

/// What accepting an invitation made.
#[derive(Debug)]
pub struct Accepted {
    pub user: users::UserRow,
    pub company_id: String,
    pub created_account: bool,
}

/// What an invitation is for, shown to whoever holds its link before they
/// accept: the address it was sent to, the company, and whether accepting
/// creates the account (so a name is needed) or proves an existing one.
/// Reads only; the token stays as it is.
pub struct Invitation {
    pub email: String,
    pub company_name: String,
    pub new_account: bool,
    pub is_share: bool,
}

/// The invitation behind a live token (a used, expired or unknown one is
/// the same `invalid` answer that accepting gives).
pub async fn invitation(app: &App, token: &str) -> Result<Invitation, AppError> {
    let mut tx = app.db().read().await?;
    let t = live_token(app, &mut tx, "invite", &hash_token(token)).await?;
    let company_id = t.company_id.clone().ok_or_else(bad_token)?;
    let user = users::user_by_id(&mut tx, &t.user_id)
        .await?
        .ok_or_else(bad_token)?;
    let company = turva_store::companies::company_by_id(&mut tx, &company_id)
        .await?
        .ok_or_else(bad_token)?;
    tx.commit().await?;
    Ok(Invitation {
        email: user.email,
        company_name: company.name,
        new_account: user.password_hash.is_none(),
        is_share: t.share_id.is_some(),
    })
}

/// Accepts an invitation. An invited address with no account gets one with
/// `password` and `name`; an existing account proves itself with its own
/// password. The token is consumed only when everything succeeds.
pub async fn accept_invite(
    app: &App,
    ctx: &Ctx,
    token: &str,
    password: &str,
    name: Option<&str>,
) -> Result<Accepted, AppError> {
    check_password_input(password)?;
    let name = name.map(|n| validate::name("name", n)).transpose()?;
    let token_hash = hash_token(token);
    let attempt = throttle::attempt(
        app,
        &[throttle::address_limit(
            app,
            "invite_ip",
            &ctx.ip.to_string(),
        )],
    )
    .await?;
    let mut tx = app.db().write().await?;
    let t = live_token(app, &mut tx, "invite", &token_hash).await?;
    let company_id = t.company_id.clone().ok_or_else(bad_token)?;
    let user = users::user_by_id(&mut tx, &t.user_id)
        .await?
        .ok_or_else(bad_token)?;
    let share_id = t.share_id.clone();
    let pending = match &share_id {
        Some(sid) => turva_store::shares::share(&mut tx, sid)
            .await?
            .is_some_and(|s| s.status == "pending" && s.grantee_id == user.id),
        None => members::membership(&mut tx, &company_id, &user.id)
            .await?
            .is_some_and(|m| m.status == "invited"),
    };
    // A company scheduled for deletion takes no one in (a cancellation
    // brings its invitations back).
    if !pending || !company_is_live(&mut tx, &company_id).await? {
        return Err(bad_token());
    }
    tx.commit().await?;

    let created_account = user.password_hash.is_none();
    let new_hash = if created_account {
        let name = name
            .as_deref()
            .ok_or_else(|| AppError::malformed("name", "is required for a new account"))?;
        pw_rule::check_new(password, &[&user.email, name])?;
        Some(app.hasher().hash(password).await?)
    } else {
        if !app
            .hasher()
            .verify(user.password_hash.as_deref(), password)
            .await?
        {
            let mut tx = app.db().write().await?;
            let mut ev = Event::new(AuditAction::MemberAccept, Outcome::Denied)
                .company(&company_id)
                .reason("invalid_credentials");
            ev.actor_id = Some(&user.id);
            ev.email = Some(&user.email);
            audit::record(app, &mut tx, ctx, ev).await?;
            tx.commit().await?;
            return Err(AppError::InvalidCredentials);
        }
        None
    };
    let now = app.now();
    let mut tx = app.db().write().await?;
    if !tokens::consume(&mut tx, &token_hash, now).await?
        || !company_is_live(&mut tx, &company_id).await?
    {
        return Err(bad_token());
    }
    match (&new_hash, &name) {
        (Some(hash), Some(name)) => {
            if !users::complete_account(&mut tx, &user.id, name, hash, now).await? {
                return Err(AppError::Conflict(
                    "the account was just created: accept again with its password",
                ));
            }
        }
        // The password checked above must still be the account's.
        _ => ensure_password_unchanged(&mut tx, &user).await?,
    }
    let mut ev = match &share_id {
        Some(sid) => {
            if !crate::shares::accept(&mut tx, sid, now).await? {
                return Err(bad_token());
            }
            Event::new(AuditAction::ShareAccept, Outcome::Allowed)
                .company(&company_id)
                .object(ObjectType::Share, sid)
        }
        None => {
            if !members::activate(&mut tx, &company_id, &user.id, now).await? {
                return Err(bad_token());
            }
            tokens::void_all(&mut tx, &user.id, "invite", Some(&company_id), now).await?;
            Event::new(AuditAction::MemberAccept, Outcome::Allowed)
                .company(&company_id)
                .object(ObjectType::Member, &user.id)
        }
    };
    throttle::release(&mut tx, &attempt, None).await?;
    keyring::ensure_key(app, &mut tx, KeyKind::User, &user.id).await?;
    ev.actor_id = Some(&user.id);
    ev.email = Some(&user.email);
    audit::record(app, &mut tx, ctx, ev).await?;
    let mut alert_mails = Vec::new();
    if share_id.is_none() {
        let role = members::membership(&mut tx, &company_id, &user.id)
            .await?
            .and_then(|m| turva_model::Role::parse("role", &m.role).ok());
        if let Some(role) = role.filter(|r| r.is_admin()) {
            let alert = crate::alerts::Alert::PrivilegedMember {
                email: user.email.clone(),
                role,
            };
            alert_mails =
                crate::alerts::raise(app, &mut tx, ctx, &company_id, Some(&user.id), &alert)
                    .await?;
        }
    }
    let user = users::user_by_id(&mut tx, &user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    crate::alerts::send(app, &alert_mails).await;
    Ok(Accepted {
        user,
        company_id,
        created_account,
    })
}

/// Fails when the user's password changed since `checked` was read: a
/// sign-in (or re-authentication) verified against an old hash must not
/// outlive a reset or change that committed while it was hashing.
async fn ensure_password_unchanged(
    tx: &mut turva_store::Tx,
    checked: &users::UserRow,
) -> Result<(), AppError> {
    let now = users::user_by_id(tx, &checked.id).await?;
    if now.is_some_and(|u| u.password_hash == checked.password_hash) {
        Ok(())
    } else {
        Err(AppError::InvalidCredentials)
    }
}

/// Whether the company exists and is not scheduled for deletion.
async fn company_is_live(tx: &mut turva_store::Tx, company_id: &str) -> Result<bool, AppError> {
    let found = turva_store::companies::company_with_active_role(tx, company_id, "").await?;
    Ok(found.is_some())
}

fn bad_token() -> AppError {
    AppError::invalid("token", "is invalid, used or expired")
}

async fn live_token(
    app: &App,
    tx: &mut turva_store::Tx,
    purpose: &str,
    token_hash: &str,
) -> Result<tokens::TokenRow, AppError> {
    let t = tokens::token_by_hash(tx, purpose, token_hash)
        .await?
        .ok_or_else(bad_token)?;
    if t.used_at.is_some() || t.expires_at <= app.now() {
        return Err(bad_token());
    }
    Ok(t)
}

/// Sends a notice whose failure must not undo what already committed.
pub(crate) async fn send_quietly(app: &App, m: &mail::Mail) {
    if let Err(e) = app.mailer().send(&app.config().smtp.from, m).await {
        tracing::warn!(kind = m.kind, error = %e, "email could not be sent");
    }
}

/// Compares the CSRF header of a cookie-authenticated write with the
/// session's token.
pub fn csrf_ok(actor: &Actor, header: Option<&str>) -> bool {
    header.is_some_and(|h| ct_eq(h, &actor.csrf_token))
}

/// Records a request of a user who must enrol a second factor first (a
/// denied request) and returns the answer.
pub async fn enrolment_denied(app: &App, ctx: &Ctx, actor: &Actor) -> AppError {
    let ev = Event::new(AuditAction::RequestDenied, Outcome::Denied)
        .actor(actor)
        .reason("mfa_enrolment_required");
    audit::deny(app, ctx, ev, AppError::MfaEnrolmentRequired).await
}

/// Records a cookie-authenticated write without the right CSRF token (a
/// denied request of a signed-in caller) and returns the answer.
pub async fn csrf_denied(app: &App, ctx: &Ctx, actor: &Actor) -> AppError {
    let ev = Event::new(AuditAction::RequestDenied, Outcome::Denied)
        .actor(actor)
        .reason("csrf_token");
    audit::deny(app, ctx, ev, AppError::Forbidden("csrf_token")).await
}
