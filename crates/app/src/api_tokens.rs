//! API tokens (`/me/tokens`): a user's named credentials for integrations.
//!
//! Threat: a token sits in some integration's configuration for months and
//! may leak from there. So a token is scoped to one company (everything
//! else looks absent to it), may be read-only, always expires (at most
//! `[auth] token_max_days` ahead), is shown once and stored as a SHA-256
//! hash, never reaches the account (`/me…` but `GET /me`, `/auth/…`), never
//! counts as recent authentication, and holds no rights of its own: each
//! request is decided on what its user holds in that company now, so a
//! role change applies at once and a user who leaves the company (member or
//! guest) leaves their tokens dead. Changing or resetting the password,
//! resetting MFA and a whole restore revoke every token of the user.
//!
//! States: live → revoked (by its user or by the events above) or expired.
//! Requests made with a token are audited with the credential `token:<id>`.

use turva_model::access::tokens::{self, TokenRefusal};
use turva_model::access::{self, Action};
use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_model::validate;
use turva_store::api_tokens::{self as store, ApiTokenRow};
use turva_store::users;

use crate::audit::{self, Event};
use crate::context::TokenScope;
use crate::cursor::{self, Page};
use crate::secret::{hash_token, new_id, new_token};
use crate::{companies, Actor, App, AppError, Ctx};

/// What every token's secret starts with, so that secret scanners and
/// people recognise a leaked one.
pub const PREFIX: &str = "turva_pat_";
/// Live tokens one user may hold.
const MAX_LIVE: i64 = 100;
const DAY_MS: i64 = 86_400_000;

/// A new token: the row and its secret, shown only once.
#[derive(Debug)]
pub struct Created {
    pub row: ApiTokenRow,
    pub token: String,
}

/// What `POST /me/tokens` asks for.
#[derive(Debug)]
pub struct NewToken<'a> {
    pub name: &'a str,
    pub company_id: &'a str,
    /// RFC 3339.
    pub expires_at: &'a str,
    pub read_only: bool,
}

/// Creates a token for the caller, reaching one company where they are a
/// member or a guest (recent auth).
pub async fn create(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    new: &NewToken<'_>,
) -> Result<Created, AppError> {
    let name = validate::name("name", new.name)?;
    let company_id = turva_model::Id::<()>::parse("company_id", new.company_id)?.as_text();
    let now = app.now();
    let expires_at = crate::clock::parse_rfc3339(new.expires_at)
        .ok_or_else(|| AppError::malformed("expires_at", "is not an RFC 3339 time"))?;
    let max_days = i64::try_from(app.config().auth.token_max_days).unwrap_or(i64::MAX / DAY_MS);
    if expires_at <= now {
        return Err(AppError::invalid("expires_at", "must be in the future"));
    }
    if expires_at > now.saturating_add(max_days.saturating_mul(DAY_MS)) {
        return Err(AppError::invalid(
            "expires_at",
            "is further ahead than this server allows ([auth] token_max_days)",
        ));
    }
    let mut tx = app.db().write().await?;
    // One creation at a time per user, so the cap on live tokens holds.
    users::lock(&mut tx, &actor.user_id).await?;
    let (company, facts) = companies::facts_with_guest(app, &mut tx, actor, &company_id).await?;
    if let Err(reason) = access::decide(&facts, Action::CreateToken) {
        drop(tx);
        return Err(companies::denied(
            app,
            ctx,
            actor,
            AuditAction::TokenCreate,
            company.as_ref(),
            (ObjectType::Company, &company_id),
            reason,
        )
        .await);
    }
    if store::count_live(&mut tx, &actor.user_id, now).await? >= MAX_LIVE {
        return Err(AppError::Conflict(
            "you hold the most live API tokens allowed; revoke one first",
        ));
    }
    let (secret, _) = new_token();
    let token = format!("{PREFIX}{secret}");
    let row = ApiTokenRow {
        id: new_id(),
        user_id: actor.user_id.clone(),
        company_id: company_id.clone(),
        name,
        read_only: new.read_only,
        created_at: now,
        last_used_at: None,
        expires_at,
    };
    store::insert(&mut tx, &row, &hash_token(&token)).await?;
    let ev = Event::new(AuditAction::TokenCreate, Outcome::Allowed)
        .actor(actor)
        .company(&company_id)
        .object(ObjectType::Token, &row.id)
        .reason(if row.read_only {
            "read_only"
        } else {
            "read_write"
        });
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(Created { row, token })
}

/// The caller's live tokens, newest first.
pub async fn list(
    app: &App,
    actor: &Actor,
    cursor_text: Option<&str>,
    limit: i64,
) -> Result<Page<ApiTokenRow>, AppError> {
    let after = cursor_text.map(cursor::decode_time_id).transpose()?;
    let after = after.as_ref().map(|(at, id)| (*at, id.as_str()));
    let mut tx = app.db().read().await?;
    let mut items =
        store::live_of_user(&mut tx, &actor.user_id, app.now(), after, limit + 1).await?;
    let next_cursor = crate::folders::next(&mut items, limit, |t| {
        cursor::encode(&[&t.created_at.to_string(), &t.id])
    });
    Ok(Page { items, next_cursor })
}

/// Revokes one of the caller's tokens; it stops at once.
pub async fn revoke(app: &App, ctx: &Ctx, actor: &Actor, id: &str) -> Result<(), AppError> {
    let mut tx = app.db().write().await?;
    let Some(company_id) = store::revoke(&mut tx, &actor.user_id, id, app.now()).await? else {
        drop(tx);
        let ev = Event::new(AuditAction::TokenRevoke, Outcome::Denied)
            .actor(actor)
            .object(ObjectType::Token, id)
            .reason("not_found");
        return Err(audit::deny(app, ctx, ev, AppError::NotFound).await);
    };
    let ev = Event::new(AuditAction::TokenRevoke, Outcome::Allowed)
        .actor(actor)
        .company(&company_id)
        .object(ObjectType::Token, id);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(())
}

/// The caller behind a token: live (not revoked, not expired) and its user
/// still a member or guest of its company; otherwise `Unauthenticated`.
pub(crate) async fn authenticate(app: &App, token: &str) -> Result<Actor, AppError> {
    let Some(secret) = token.strip_prefix(PREFIX) else {
        return Err(AppError::Unauthenticated);
    };
    if secret.len() != 43
        || !secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(AppError::Unauthenticated);
    }
    let now = app.now();
    let Some((t, who)) = store::live_token_with_user(app.db(), &hash_token(token), now).await?
    else {
        return Err(AppError::Unauthenticated);
    };
    if now >= t.expires_at || !who.belongs {
        return Err(AppError::Unauthenticated);
    }
    // Record use at most once a minute.
    if t.last_used_at.is_none_or(|at| now - at > 60_000) {
        let mut tx = app.db().write().await?;
        store::touch(&mut tx, &t.id, now).await?;
        tx.commit().await?;
    }
    let user = who.user;
    Ok(Actor {
        user_id: t.user_id,
        email: user.email,
        name: user.name,
        language: user.language,
        // A token never carries the platform's powers.
        is_operator: false,
        session_id: t.id.clone(),
        csrf_token: String::new(),
        // A token is never recent authentication.
        auth_at: i64::MIN / 2,
        has_mfa: user.has_mfa,
        must_enrol: user.mfa_required && !user.has_mfa,
        credential: format!("token:{}", t.id),
        token: Some(TokenScope {
            id: t.id,
            company_id: t.company_id,
            read_only: t.read_only,
        }),
    })
}

/// The gate every request made with a token passes before its handler
/// (the rule is `turva_model::access::tokens`): the account is not a
/// token's (401) and a read-only token only reads (403). A refusal is
/// recorded as a denied request.
pub async fn gate(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    path: &str,
    is_read: bool,
) -> Result<(), AppError> {
    let Some(scope) = &actor.token else {
        return Ok(());
    };
    let surface = tokens::Surface::of(path, is_read);
    let (reason, answer) = match tokens::token_request(scope.read_only, is_read, surface) {
        Ok(()) => return Ok(()),
        Err(TokenRefusal::NotForTokens) => ("not_for_tokens", AppError::Unauthenticated),
        Err(TokenRefusal::ReadOnly) => (
            "read_only_token",
            AppError::Forbidden("this API token is read-only"),
        ),
    };
    let ev = Event::new(AuditAction::RequestDenied, Outcome::Denied)
        .actor(actor)
        .company(&scope.company_id)
        .reason(reason);
    Err(audit::deny(app, ctx, ev, answer).await)
}
