//! Platform operators: created from the command line on the server's
//! machine. An operator runs the platform and sees no company content.

use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_model::{password as pw_rule, validate, Language};
use turva_store::users;

use crate::audit::{self, Event};
use crate::keyring::{self, KeyKind};
use crate::{App, AppError, Ctx};

/// Creates an operator account with `email` and `password`. An address
/// that already has an account is refused; an address that was only
/// invited becomes the operator's account.
pub async fn create(
    app: &App,
    ctx: &Ctx,
    email: &str,
    password: &str,
) -> Result<users::UserRow, AppError> {
    let email = validate::email("email", email)?;
    let name = email.split('@').next().unwrap_or("operator").to_string();
    pw_rule::check_new(password, &[&email])?;
    let hash = app.hasher().hash(password).await?;
    let now = app.now();
    let mut tx = app.db().write().await?;
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
    ev.credential = Some("cli");
    ev.subject_id = Some(&user.id);
    ev.email = Some(&email);
    audit::record(app, &mut tx, ctx, ev).await?;
    let user = users::user_by_id(&mut tx, &user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(user)
}
