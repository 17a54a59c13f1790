//! Passkeys and security keys (WebAuthn, verified by `webauthn-rs`).
//!
//! Threats: phishing (the browser binds every answer to the origin and the
//! relying-party id, both taken from `[server] public_url`, and webauthn-rs
//! checks both), a replayed answer (every challenge is random, its state is
//! kept server-side and taken by the one request that finishes it, so a
//! signed answer works once), a cloned authenticator (a signature counter
//! that does not grow is refused), a stolen database (only public keys are
//! stored, sealed under the user's key, and nothing stored can sign), one
//! credential claimed by two accounts (credential ids are unique), and
//! guessing (a failed use counts against the same throttles as a failed
//! password, and is audited).
//!
//! States of a registration: started (recent auth; its ceremony lives 5
//! minutes, bound to the session that started it) → finished (an active
//! factor; the user's first factor brings recovery codes) or expired. A
//! passkey then serves as the second step after the password (the sign-in
//! challenge carries its ceremony), as a passwordless sign-in (a
//! discoverable credential with user verification, so it counts as MFA on
//! its own), and as re-authentication; it is renamed and removed like any
//! factor, and an MFA reset removes it.

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_model::validate;
use turva_store::keys::DataKey;
use turva_store::mfa::{self as store, CeremonyRow, FactorRow};
use turva_store::{sessions, users, Tx};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use crate::audit::{self, Event};
use crate::auth::{self, LoginOk};
use crate::keyring::{self, KeyKind};
use crate::secret::{keyed_hash, new_id};
use crate::{mfa, throttle, Actor, App, AppError, Ctx};

/// How long a ceremony waits for its answer.
const CEREMONY_MS: i64 = 5 * 60 * 1000;
/// Passkeys one user may register.
const MAX_PER_USER: usize = 20;
/// Passwordless sign-ins one address may start in 15 minutes.
const STARTS_PER_ADDRESS: i64 = 100;

/// The relying party described by `public_url`: its host is the RP id and
/// its origin the only origin accepted. An IP address cannot be an RP id.
pub(crate) fn relying_party(public_url: &str) -> Result<Webauthn, String> {
    let url = Url::parse(public_url).map_err(|e| format!("[server] public_url: {e}"))?;
    let host = match url.host_str() {
        Some(h) if h.starts_with('[') || h.parse::<std::net::IpAddr>().is_ok() => {
            return Err(format!(
                "passkeys need a host name in [server] public_url, not an IP address ({public_url})"
            ))
        }
        Some(h) => h.to_string(),
        None => return Err(format!("[server] public_url has no host ({public_url})")),
    };
    let origin = Url::parse(&url.origin().ascii_serialization())
        .map_err(|e| format!("[server] public_url: {e}"))?;
    WebauthnBuilder::new(&host, &origin)
        .and_then(|b| {
            b.rp_name("Turva")
                .timeout(std::time::Duration::from_millis(CEREMONY_MS as u64))
                .build()
        })
        .map_err(|e| format!("passkeys cannot use [server] public_url {public_url}: {e}"))
}

fn webauthn(app: &App) -> Result<&Webauthn, AppError> {
    app.webauthn().map_err(|_| {
        AppError::Conflict(
            "passkeys are off: [server] public_url must name this server by a host name",
        )
    })
}

fn internal(what: &str) -> impl Fn(String) -> AppError + '_ {
    move |e| AppError::Internal(format!("{what}: {e}"))
}

fn aad(factor_id: &str) -> String {
    format!("turva/mfa/{factor_id}/passkey")
}

fn seal(key: &DataKey, id: &str, pk: &Passkey) -> Result<Vec<u8>, AppError> {
    let json = serde_json::to_vec(pk).map_err(|e| internal("passkey")(e.to_string()))?;
    Ok(turva_store::crypt::seal(key, &aad(id), &json))
}

fn open(key: &DataKey, f: &FactorRow) -> Result<Passkey, AppError> {
    let json = turva_store::crypt::open(key, &aad(&f.id), f.secret.as_deref().unwrap_or_default())
        .map_err(|_| AppError::Internal(format!("passkey {} is unreadable", f.id)))?;
    serde_json::from_slice(&json).map_err(|e| internal("passkey")(e.to_string()))
}

/// The stored form of a credential id: a keyed hash, so the column names
/// no credential and a lookup needs the platform index key.
fn credential_hash(app: &App, credential_id: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(credential_id);
    keyed_hash(app.index_key(), "passkey_credential", &b64)
}

fn challenge_hash(challenge: &[u8]) -> String {
    hex::encode(Sha256::digest(challenge))
}

/// The hash of the challenge an answer signed, read from its client data;
/// `None` when the client data is not JSON with a base64url challenge.
fn answered_challenge(client_data_json: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(client_data_json).ok()?;
    let text = v.get("challenge")?.as_str()?.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()?;
    Some(challenge_hash(&bytes))
}

fn user_handle(user_id: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(user_id).map_err(|e| internal("user id")(e.to_string()))
}

/// The user's passkeys with their stored rows.
async fn of_user(
    app: &App,
    tx: &mut Tx,
    user_id: &str,
) -> Result<Vec<(FactorRow, Passkey)>, AppError> {
    let rows: Vec<FactorRow> = store::factors_of(tx, user_id)
        .await?
        .into_iter()
        .filter(|f| f.kind == "passkey" && f.confirmed_at.is_some())
        .collect();
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let key = keyring::user_key(app, tx, user_id).await?;
    rows.into_iter()
        .map(|f| open(&key, &f).map(|p| (f, p)))
        .collect()
}

/// Records a successful use of `factor`: the counter and flags the answer
/// showed, and the time.
async fn record_use(
    app: &App,
    tx: &mut Tx,
    key: &DataKey,
    factor: &FactorRow,
    mut pk: Passkey,
    result: &webauthn_rs::prelude::AuthenticationResult,
) -> Result<(), AppError> {
    let sealed = if pk.update_credential(result) == Some(true) {
        Some(seal(key, &factor.id, &pk)?)
    } else {
        None
    };
    store::passkey_used(tx, &factor.id, sealed.as_deref(), app.now()).await?;
    Ok(())
}

fn parse_registration(credential: &Value) -> Result<RegisterPublicKeyCredential, AppError> {
    serde_json::from_value(credential.clone()).map_err(|_| {
        AppError::malformed(
            "credential",
            "is not a WebAuthn registration answer (PublicKeyCredential.toJSON())",
        )
    })
}

/// An authentication answer and the hash of the challenge it signed.
pub(crate) fn parse_assertion(
    field: &'static str,
    credential: &Value,
) -> Result<(PublicKeyCredential, String), AppError> {
    let malformed = || {
        AppError::malformed(
            field,
            "is not a WebAuthn authentication answer (PublicKeyCredential.toJSON())",
        )
    };
    let cred: PublicKeyCredential =
        serde_json::from_value(credential.clone()).map_err(|_| malformed())?;
    let challenge = answered_challenge(&cred.response.client_data_json).ok_or_else(malformed)?;
    Ok((cred, challenge))
}

/// `POST /me/mfa/passkeys/start` (recent auth): the options for the
/// browser's `navigator.credentials.create`.
pub async fn start_registration(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    name: Option<&str>,
) -> Result<Value, AppError> {
    let name = match name {
        Some(n) => validate::name("name", n)?,
        None => "Passkey".to_string(),
    };
    let wa = webauthn(app)?;
    mfa::require_recent(app, ctx, actor, AuditAction::AuthMfaEnrol).await?;
    let mut tx = app.db().write().await?;
    let existing = of_user(app, &mut tx, &actor.user_id).await?;
    if existing.len() >= MAX_PER_USER {
        drop(tx);
        let ev = Event::new(AuditAction::AuthMfaEnrol, Outcome::Denied)
            .actor(actor)
            .object(ObjectType::User, &actor.user_id)
            .reason("too_many_passkeys");
        let err = AppError::Conflict("20 passkeys is the most one account may have");
        return Err(audit::deny(app, ctx, ev, err).await);
    }
    let exclude = existing.iter().map(|(_, p)| p.cred_id().clone()).collect();
    let display = if actor.name.trim().is_empty() {
        actor.email.as_str()
    } else {
        actor.name.as_str()
    };
    let (options, state) = wa
        .start_passkey_registration(
            user_handle(&actor.user_id)?,
            &actor.email,
            display,
            Some(exclude),
        )
        .map_err(|e| internal("passkey registration")(e.to_string()))?;
    let row = CeremonyRow {
        challenge_hash: challenge_hash(&options.public_key.challenge),
        kind: "register".into(),
        user_id: Some(actor.user_id.clone()),
        session_id: Some(actor.session_id.clone()),
        name: Some(name),
        state: serde_json::to_string(&state)
            .map_err(|e| internal("passkey registration")(e.to_string()))?,
        expires_at: app.now() + CEREMONY_MS,
    };
    store::insert_ceremony(&mut tx, &row).await?;
    let ev = Event::new(AuditAction::AuthMfaEnrol, Outcome::Allowed)
        .actor(actor)
        .object(ObjectType::User, &actor.user_id)
        .reason("passkey started");
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    let mut options = serde_json::to_value(&options)
        .map_err(|e| internal("passkey registration")(e.to_string()))?;
    // Discoverable where the authenticator can, so the passkey also
    // serves a passwordless sign-in; never required, since some security
    // keys have no room for it. (The ceremony's state does not depend on it.)
    if let Some(sel) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(Value::as_object_mut)
    {
        sel.insert("residentKey".into(), Value::from("preferred"));
    }
    Ok(options)
}

/// A finished registration.
#[derive(Debug)]
pub struct Registered {
    pub id: String,
    pub name: String,
    /// For the user's first factor: ten recovery codes, shown once.
    pub recovery_codes: Option<Vec<String>>,
}

/// `POST /me/mfa/passkeys/finish`: checks the browser's answer against the
/// ceremony this session started and stores the passkey.
pub async fn finish_registration(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    credential: &Value,
) -> Result<Registered, AppError> {
    let reg = parse_registration(credential)?;
    let challenge = answered_challenge(&reg.response.client_data_json).ok_or_else(|| {
        AppError::malformed("credential", "has no readable clientDataJSON challenge")
    })?;
    let wa = webauthn(app)?;
    let limits = [
        throttle::session_limit("mfa_confirm_session", &actor.session_id),
        throttle::address_limit(app, "mfa_confirm_ip", &ctx.ip.to_string()),
    ];
    let refused = || {
        Event::new(AuditAction::AuthMfaEnrol, Outcome::Denied)
            .actor(actor)
            .object(ObjectType::User, &actor.user_id)
    };
    let tx = app.db().write().await?;
    let (mut tx, reservation) = throttle::reserve_audited(app, ctx, tx, &limits, refused()).await?;
    users::lock(&mut tx, &actor.user_id).await?;
    let now = app.now();
    let ceremony = store::take_ceremony(
        &mut tx,
        &challenge,
        "register",
        Some(&actor.session_id),
        now,
    )
    .await?;
    // A refusal keeps the attempt counted and the ceremony spent.
    let refuse = |reason: &'static str| refused().reason(reason);
    let Some(ceremony) = ceremony else {
        audit::record(app, &mut tx, ctx, refuse("no_ceremony")).await?;
        tx.commit().await?;
        return Err(AppError::invalid(
            "credential",
            "answers no registration of this session that is still open; start a new one",
        ));
    };
    let state: PasskeyRegistration = serde_json::from_str(&ceremony.state)
        .map_err(|e| internal("passkey registration")(e.to_string()))?;
    let pk = match wa.finish_passkey_registration(&reg, &state) {
        Ok(pk) => pk,
        Err(e) => {
            audit::record(app, &mut tx, ctx, refuse("invalid_credential")).await?;
            tx.commit().await?;
            return Err(AppError::invalid(
                "credential",
                format!("was not accepted ({e}); start a new registration"),
            ));
        }
    };
    // Checked again here: two registrations may have started side by side.
    if of_user(app, &mut tx, &actor.user_id).await?.len() >= MAX_PER_USER {
        audit::record(app, &mut tx, ctx, refuse("too_many_passkeys")).await?;
        tx.commit().await?;
        return Err(AppError::Conflict(
            "20 passkeys is the most one account may have",
        ));
    }
    let cred_hash = credential_hash(app, pk.cred_id());
    if store::credential_taken(&mut tx, &cred_hash).await? {
        audit::record(app, &mut tx, ctx, refuse("duplicate_credential")).await?;
        tx.commit().await?;
        return Err(AppError::Conflict("this passkey is registered already"));
    }
    let first = !store::has_factor(&mut tx, &actor.user_id).await?;
    let (_, key) = keyring::ensure_key(app, &mut tx, KeyKind::User, &actor.user_id).await?;
    let id = new_id();
    let name = ceremony.name.unwrap_or_else(|| "Passkey".into());
    store::insert_factor(
        &mut tx,
        &FactorRow {
            id: id.clone(),
            user_id: actor.user_id.clone(),
            kind: "passkey".into(),
            name: name.clone(),
            secret: Some(seal(&key, &id, &pk)?),
            created_at: now,
            confirmed_at: Some(now),
            last_used_at: None,
            last_step: None,
            credential_id: Some(cred_hash),
        },
    )
    .await?;
    let recovery_codes = mfa::enrolled(
        app,
        ctx,
        actor,
        tx,
        first,
        &reservation,
        "passkey registered",
    )
    .await?;
    Ok(Registered {
        id,
        name,
        recovery_codes,
    })
}

/// For the second step of a sign-in: the options to offer and the state to
/// keep with the challenge, when the user has passkeys (and passkeys are
/// on).
pub(crate) async fn second_step_options(
    app: &App,
    tx: &mut Tx,
    user_id: &str,
) -> Result<Option<(Value, String)>, AppError> {
    let Ok(wa) = app.webauthn() else {
        return Ok(None);
    };
    let pks: Vec<Passkey> = of_user(app, tx, user_id)
        .await?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    if pks.is_empty() {
        return Ok(None);
    }
    let (options, state) = wa
        .start_passkey_authentication(&pks)
        .map_err(|e| internal("passkey sign-in")(e.to_string()))?;
    let options =
        serde_json::to_value(&options).map_err(|e| internal("passkey sign-in")(e.to_string()))?;
    let state =
        serde_json::to_string(&state).map_err(|e| internal("passkey sign-in")(e.to_string()))?;
    Ok(Some((options, state)))
}

/// Checks an answer to the options offered with a sign-in challenge
/// (`state`), or to a re-authentication ceremony: true when it is a valid
/// signature of one of `user_id`'s passkeys (whose use is then recorded).
pub(crate) async fn verify_answer(
    app: &App,
    tx: &mut Tx,
    user_id: &str,
    state: Option<&str>,
    cred: &PublicKeyCredential,
) -> Result<bool, AppError> {
    let (Some(state), Ok(wa)) = (state, app.webauthn()) else {
        return Ok(false);
    };
    let state: PasskeyAuthentication =
        serde_json::from_str(state).map_err(|e| internal("passkey sign-in")(e.to_string()))?;
    let Ok(result) = wa.finish_passkey_authentication(cred, &state) else {
        return Ok(false);
    };
    let hash = credential_hash(app, result.cred_id());
    let Some(factor) = store::factor_by_credential(tx, &hash)
        .await?
        .filter(|f| f.user_id == user_id && f.confirmed_at.is_some())
    else {
        return Ok(false);
    };
    let key = keyring::user_key(app, tx, user_id).await?;
    let pk = open(&key, &factor)?;
    record_use(app, tx, &key, &factor, pk, &result).await?;
    Ok(true)
}

/// `POST /auth/reauth/passkey`: options for re-authenticating with one of
/// the caller's passkeys, bound to this session.
pub async fn start_reauth(app: &App, ctx: &Ctx, actor: &Actor) -> Result<Value, AppError> {
    webauthn(app)?;
    // Starts are counted and never given back: each one stores a ceremony.
    let limits = [throttle::session_limit(
        "passkey_reauth_session",
        &actor.session_id,
    )];
    let tx = app.db().write().await?;
    let refused = Event::new(AuditAction::AuthReauth, Outcome::Denied).actor(actor);
    let (mut tx, _) = throttle::reserve_audited(app, ctx, tx, &limits, refused).await?;
    let Some((options, state)) = second_step_options(app, &mut tx, &actor.user_id).await? else {
        return Err(AppError::Conflict("you have no passkey"));
    };
    let challenge = options
        .pointer("/publicKey/challenge")
        .and_then(Value::as_str)
        .and_then(|c| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c.trim_end_matches('='))
                .ok()
        })
        .ok_or_else(|| AppError::Internal("passkey options without a challenge".into()))?;
    let row = CeremonyRow {
        challenge_hash: challenge_hash(&challenge),
        kind: "reauth".into(),
        user_id: Some(actor.user_id.clone()),
        session_id: Some(actor.session_id.clone()),
        name: None,
        state,
        expires_at: app.now() + CEREMONY_MS,
    };
    store::insert_ceremony(&mut tx, &row).await?;
    tx.commit().await?;
    Ok(options)
}

/// Checks a re-authentication answer inside `tx` (whose throttle the
/// caller reserved): true when it answers this session's ceremony with a
/// valid signature of the caller's passkey.
pub(crate) async fn verify_reauth(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    cred: &PublicKeyCredential,
    challenge: &str,
) -> Result<bool, AppError> {
    let ceremony =
        store::take_ceremony(tx, challenge, "reauth", Some(&actor.session_id), app.now()).await?;
    match ceremony {
        Some(c) => verify_answer(app, tx, &actor.user_id, Some(&c.state), cred).await,
        None => Ok(false),
    }
}

/// `POST /auth/passkey/start`: options for a passwordless sign-in (the
/// browser lets the user pick one of their discoverable passkeys).
pub async fn start_login(app: &App, ctx: &Ctx) -> Result<Value, AppError> {
    let wa = webauthn(app)?;
    let ip = throttle::address(&ctx.ip.to_string());
    let limits = [throttle::Limit {
        bucket: "passkey_start_ip",
        key: keyed_hash(app.index_key(), "passkey_start_ip", &ip),
        max: STARTS_PER_ADDRESS,
        window_secs: 15 * 60,
    }];
    let tx = app.db().write().await?;
    let refused = Event::new(AuditAction::AuthLoginFailed, Outcome::Denied);
    // Starts are counted and never given back: each one stores a ceremony.
    let (mut tx, _) = throttle::reserve_audited(app, ctx, tx, &limits, refused).await?;
    let (mut options, state): (_, DiscoverableAuthentication) = wa
        .start_discoverable_authentication()
        .map_err(|e| internal("passkey sign-in")(e.to_string()))?;
    // A modal prompt by default; a page may still ask for conditional
    // mediation (autofill) itself.
    options.mediation = None;
    let row = CeremonyRow {
        challenge_hash: challenge_hash(&options.public_key.challenge),
        kind: "login".into(),
        user_id: None,
        session_id: None,
        name: None,
        state: serde_json::to_string(&state)
            .map_err(|e| internal("passkey sign-in")(e.to_string()))?,
        expires_at: app.now() + CEREMONY_MS,
    };
    store::insert_ceremony(&mut tx, &row).await?;
    tx.commit().await?;
    serde_json::to_value(&options).map_err(|e| internal("passkey sign-in")(e.to_string()))
}

/// `POST /auth/passkey/finish`: a passwordless sign-in. User verification
/// was required, so the session counts as signed in with MFA.
pub async fn finish_login(app: &App, ctx: &Ctx, credential: &Value) -> Result<LoginOk, AppError> {
    let (cred, challenge) = parse_assertion("credential", credential)?;
    let wa = webauthn(app)?;
    let ip = ctx.ip.to_string();
    let limits = [throttle::address_limit(app, "login_ip", &ip)];
    let tx = app.db().write().await?;
    let refused = Event::new(AuditAction::AuthLoginFailed, Outcome::Denied);
    let (mut tx, reservation) = throttle::reserve_audited(app, ctx, tx, &limits, refused).await?;
    let now = app.now();
    let ceremony = store::take_ceremony(&mut tx, &challenge, "login", None, now).await?;
    let identified = wa
        .identify_discoverable_authentication(&cred)
        .ok()
        .map(|(uuid, cred_id)| (uuid.hyphenated().to_string(), credential_hash(app, cred_id)));
    let factor = match &identified {
        Some((uid, hash)) => store::factor_by_credential(&mut tx, hash)
            .await?
            .filter(|f| &f.user_id == uid && f.confirmed_at.is_some()),
        None => None,
    };
    let user = match &factor {
        Some(f) => users::user_by_id(&mut tx, &f.user_id).await?,
        None => None,
    };
    // Only a passkey that exists names whose failure this is (a user handle
    // alone is the client's word, and would mint keys for made-up users).
    let subject = factor.as_ref().map(|f| f.user_id.clone());
    let checked = match (&ceremony, &factor, &user) {
        (Some(c), Some(f), Some(u)) => {
            let key = keyring::user_key(app, &mut tx, &u.id).await?;
            let pk = open(&key, f)?;
            let state: DiscoverableAuthentication = serde_json::from_str(&c.state)
                .map_err(|e| internal("passkey sign-in")(e.to_string()))?;
            match wa.finish_discoverable_authentication_v2(&cred, state, &pk) {
                Ok(result) => Some((key, pk, result)),
                Err(_) => None,
            }
        }
        _ => None,
    };
    let (Some((key, pk, result)), Some(factor), Some(user)) = (checked, factor, user) else {
        let reason = if ceremony.is_none() {
            "passkey_challenge"
        } else {
            "invalid_passkey"
        };
        let mut ev = Event::new(AuditAction::AuthLoginFailed, Outcome::Denied).reason(reason);
        ev.subject_id = subject.as_deref();
        audit::record(app, &mut tx, ctx, ev).await?;
        tx.commit().await?;
        return Err(AppError::InvalidCredentials);
    };
    record_use(app, &mut tx, &key, &factor, pk, &result).await?;
    let clear = throttle::login_limits(app, &user.email, &ip);
    throttle::release(&mut tx, &reservation, clear.first()).await?;
    let device = auth::new_device_notice(&mut tx, ctx, &user).await?;
    let (token, row) = auth::new_session(app, ctx, &user.id, "passkey");
    sessions::insert_session(&mut tx, &row).await?;
    let mut ev = Event::new(AuditAction::AuthLogin, Outcome::Allowed)
        .object(ObjectType::Session, &row.id)
        .reason("passkey");
    ev.actor_id = Some(&user.id);
    ev.email = Some(&user.email);
    ev.credential = Some("session");
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    if let Some(m) = device {
        auth::send_quietly(app, &m).await;
    }
    Ok(LoginOk {
        token,
        expires_at: row.expires_at,
        user,
        has_mfa: true,
        mfa_enrolment_required: false,
    })
}
