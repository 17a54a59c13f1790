//! Platform operators: created from the command line on the server's
//! machine, or the first one through the first-run set-up page with the
//! one-time link `turva serve` prints while no operator exists (whoever
//! can read the server's output is whoever could run the command line).
//! An operator runs the platform and sees no company content.

use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_model::{password as pw_rule, validate, Language};
use turva_store::users;

use crate::audit::{self, Event};
use crate::keyring::{self, KeyKind};
use crate::{secret, App, AppError, Ctx};

/// How an operator comes to be (recorded as the event's credential).
#[derive(Clone, Copy, PartialEq)]
enum Way {
    /// `turva operator create`.
    Cli,
    /// The first-run set-up page.
    FirstRun,
}

/// Creates an operator account with `email` and `password`. An address
/// that already has an account is refused; an address that was only
/// invited becomes the operator's account.
pub async fn create(
    app: &App,
    ctx: &Ctx,
    email: &str,
    password: &str,
) -> Result<users::UserRow, AppError> {
    create_as(app, ctx, email, password, Way::Cli).await
}

/// A new one-time first-run set-up token while no operator exists (`None`
/// once one does). Only its hash is kept, in this process's memory: it
/// ends with the server, with its first use, and when an operator appears
/// by any other way.
pub async fn first_run_token(app: &App) -> Result<Option<String>, AppError> {
    let mut tx = app.db().read().await?;
    let exists = users::operator_exists(&mut tx).await?;
    tx.commit().await?;
    if exists {
        *app.first_run() = None;
        return Ok(None);
    }
    let (token, hash) = secret::new_token();
    *app.first_run() = Some(hash);
    Ok(Some(token))
}

/// Whether the first-run set-up is open: a token is outstanding and no
/// operator exists yet.
pub async fn first_run_open(app: &App) -> Result<bool, AppError> {
    if app.first_run().is_none() {
        return Ok(false);
    }
    let mut tx = app.db().read().await?;
    let exists = users::operator_exists(&mut tx).await?;
    tx.commit().await?;
    if exists {
        *app.first_run() = None;
    }
    Ok(!exists)
}

/// Whether `token` is the outstanding first-run set-up token.
pub fn first_run_token_valid(app: &App, token: &str) -> bool {
    let hash = secret::hash_token(token);
    app.first_run()
        .as_deref()
        .is_some_and(|h| secret::ct_eq(h, &hash))
}

/// The first-run set-up: creates the first operator with the one-time
/// `token` that `turva serve` printed. A wrong or used token is
/// `Forbidden`; an operator made meanwhile (the command line) is a
/// `Conflict`, checked in the same transaction that creates this one.
pub async fn create_first(
    app: &App,
    ctx: &Ctx,
    token: &str,
    email: &str,
    password: &str,
) -> Result<users::UserRow, AppError> {
    // Taken out at once, so that a second post with the same link finds
    // none; given back only when this one changes nothing.
    let hash = secret::hash_token(token);
    let taken = {
        let mut slot = app.first_run();
        match slot.as_deref() {
            Some(h) if secret::ct_eq(h, &hash) => slot.take(),
            _ => None,
        }
    };
    let Some(taken) = taken else {
        return Err(AppError::Forbidden(
            "this set-up link is not valid (any more)",
        ));
    };
    match create_as(app, ctx, email, password, Way::FirstRun).await {
        Ok(user) => Ok(user),
        Err(e) => {
            if !matches!(e, AppError::Conflict("an operator already exists")) {
                let mut slot = app.first_run();
                if slot.is_none() {
                    *slot = Some(taken);
                }
            }
            Err(e)
        }
    }
}

async fn create_as(
    app: &App,
    ctx: &Ctx,
    email: &str,
    password: &str,
    way: Way,
) -> Result<users::UserRow, AppError> {
    let email = validate::email("email", email)?;
    let name = email.split('@').next().unwrap_or("operator").to_string();
    pw_rule::check_new(password, &[&email])?;
    let hash = app.hasher().hash(password).await?;
    let now = app.now();
    let mut tx = app.db().write().await?;
    users::lock_operators(&mut tx).await?;
    if way == Way::FirstRun && users::operator_exists(&mut tx).await? {
        *app.first_run() = None;
        return Err(AppError::Conflict("an operator already exists"));
    }
    let user = match users::user_by_email(&mut tx, &email).await? {
        Some(u) if u.password_hash.is_some() => {
            return Err(AppError::Conflict(
                "an account with this email already exists",
            ))
        }
        Some(u) => {
            if !users::complete_account(&mut tx, &u.id, &name, &hash, now).await? {
                return Err(AppError::Conflict(
                    "an account with this email already exists",
                ));
            }
            u
        }
        None => {
            let u = users::UserRow {
                id: crate::secret::new_id(),
                email: email.clone(),
                name: name.clone(),
                language: Language::En.as_str().into(),
                password_hash: Some(hash),
                is_operator: true,
                created_at: now,
            };
            users::insert_user(&mut tx, &u).await?;
            u
        }
    };
    users::set_operator(&mut tx, &user.id).await?;
    keyring::ensure_key(app, &mut tx, KeyKind::User, &user.id).await?;
    let mut ev = Event::new(AuditAction::OperatorCreate, Outcome::Allowed)
        .object(ObjectType::User, &user.id);
    ev.credential = Some(match way {
        Way::Cli => "cli",
        Way::FirstRun => "first_run",
    });
    ev.subject_id = Some(&user.id);
    ev.email = Some(&email);
    audit::record(app, &mut tx, ctx, ev).await?;
    let user = users::user_by_id(&mut tx, &user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(user)
}
