//! Companies: create (operators and the CLI), read, change settings,
//! delete (scheduled through the API, at once from the CLI).

use serde_json::{Map, Value};
use turva_model::access::{self, Action, ActorFacts, Reason};
use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_model::{validate, Language, Role};
use turva_store::companies::{self, CompanyRow};
use turva_store::{members, Tx};

use crate::audit::{self, Event};
use crate::keyring::{self, KeyKind};
use crate::{auth, mail, members as member_ops, throttle, Actor, App, AppError, Ctx};

/// Who creates a company: an operator through the API, or the machine's
/// administrator through the CLI.
#[derive(Clone, Copy)]
pub enum Creator<'a> {
    Cli,
    Operator(&'a Actor),
}

/// The settings every company has, with their defaults.
pub fn default_settings() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("require_mfa".into(), Value::Bool(false));
    m.insert("default_member_access".into(), Value::String("edit".into()));
    m.insert("strip_photo_location".into(), Value::Bool(true));
    m
}

/// The command line runs as the machine's administrator: an operator who
/// has just authenticated.
fn cli_facts() -> ActorFacts {
    ActorFacts {
        is_operator: true,
        role: None,
        recent_auth: true,
        is_guest: false,
    }
}

/// Loads the company and what the policy needs to know about the actor in
/// it. A company that does not exist (or is scheduled for deletion) gives
/// `None` and no role.
pub(crate) async fn facts(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    company_id: &str,
) -> Result<(Option<CompanyRow>, ActorFacts), AppError> {
    // A company an API token does not reach is as absent as any other.
    let found = match actor.reaches(company_id) {
        true => companies::company_with_active_role(tx, company_id, &actor.user_id).await?,
        false => None,
    };
    let (company, role) = match found {
        Some((c, role)) => (Some(c), role.and_then(|r| Role::parse("role", &r).ok())),
        None => (None, None),
    };
    let facts = ActorFacts {
        is_operator: actor.is_operator,
        role,
        recent_auth: auth::recent_auth(app, actor),
        is_guest: false,
    };
    Ok((company, facts))
}

/// [`facts`], and for a non-member whether they are a guest there (hold a
/// live share on something in the company).
pub(crate) async fn facts_with_guest(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    company_id: &str,
) -> Result<(Option<CompanyRow>, ActorFacts), AppError> {
    let (company, mut facts) = facts(app, tx, actor, company_id).await?;
    if facts.role.is_none() && company.is_some() {
        facts.is_guest =
            turva_store::shares::is_guest(tx, company_id, &actor.user_id, app.now()).await?;
    }
    Ok((company, facts))
}

/// Turns a policy denial into the answer, recording the denied request.
/// The event belongs to the company when it exists, else to the platform.
pub(crate) async fn denied(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    action: AuditAction,
    company: Option<&CompanyRow>,
    object: (ObjectType, &str),
    reason: Reason,
) -> AppError {
    let answer = answer_for(reason, "your role does not allow this");
    let mut ev = Event::new(action, Outcome::Denied)
        .actor(actor)
        .object(object.0, object.1)
        .reason(reason.as_str());
    ev.company_id = company.map(|c| c.id.as_str());
    audit::deny(app, ctx, ev, answer).await
}

/// The answer to a denial: 404 for what the caller may not know exists,
/// 403 with `forbidden` as the detail, or 403 asking for re-authentication.
pub(crate) fn answer_for(reason: Reason, forbidden: &'static str) -> AppError {
    match reason {
        Reason::NotVisible => AppError::NotFound,
        Reason::Forbidden => AppError::Forbidden(forbidden),
        Reason::ReauthRequired => AppError::ReauthRequired,
    }
}

/// Creates a company and invites its first owner by email.
pub async fn create(
    app: &App,
    ctx: &Ctx,
    creator: Creator<'_>,
    name: &str,
    owner_email: &str,
) -> Result<CompanyRow, AppError> {
    let name = validate::name("name", name)?;
    let owner_email = validate::email("owner_email", owner_email)?;
    let facts = match creator {
        Creator::Operator(actor) => ActorFacts {
            is_operator: actor.is_operator,
            role: None,
            recent_auth: auth::recent_auth(app, actor),
            is_guest: false,
        },
        Creator::Cli => cli_facts(),
    };
    let proof = match (access::decide(&facts, Action::CreateCompany), creator) {
        (Ok(proof), _) => proof,
        (Err(reason), Creator::Operator(actor)) => {
            let ev = Event::new(AuditAction::CompanyCreate, Outcome::Denied)
                .actor(actor)
                .reason(reason.as_str());
            return Err(audit::deny(
                app,
                ctx,
                ev,
                AppError::Forbidden("only operators create companies"),
            )
            .await);
        }
        (Err(_), Creator::Cli) => {
            return Err(AppError::Forbidden("only operators create companies"))
        }
    };
    let now = app.now();
    let company = CompanyRow {
        id: crate::secret::new_id(),
        name,
        settings: Value::Object(default_settings()).to_string(),
        created_at: now,
    };
    let actor = match creator {
        Creator::Operator(a) => Some(a),
        Creator::Cli => None,
    };
    let mut tx = app.db().write().await?;
    // Throttle counters before the audit head, as everywhere.
    throttle::reserve(
        app,
        &mut tx,
        &throttle::mail_limits(app, &owner_email, Some(&company.id)),
    )
    .await?;
    companies::insert_company(&mut tx, &proof, &company, actor.map(|a| a.user_id.as_str())).await?;
    keyring::ensure_key(app, &mut tx, KeyKind::Company, &company.id).await?;
    let mut ev = Event::new(AuditAction::CompanyCreate, Outcome::Allowed)
        .company(&company.id)
        .object(ObjectType::Company, &company.id);
    if let Some(a) = actor {
        ev = ev.actor(a);
    } else {
        ev.credential = Some("cli");
    }
    audit::record(app, &mut tx, ctx, ev).await?;
    let inviter = actor.map_or("Turva", |a| a.name.as_str()).to_string();
    let invite = member_ops::Invite {
        actor,
        company: &company,
        email: &owner_email,
        role: Role::Owner,
        language: Language::En,
        inviter: &inviter,
        mail_reserved: true,
    };
    let mail = member_ops::invite_in_tx(app, &mut tx, &proof, ctx, invite).await?;
    tx.commit().await?;
    auth::send_quietly(app, &mail).await;
    Ok(company)
}

/// Companies the caller is an active member of.
pub async fn list_mine(app: &App, actor: &Actor) -> Result<Vec<CompanyRow>, AppError> {
    let mut tx = app.db().read().await?;
    let mut out = Vec::new();
    for m in members::memberships_of_user(&mut tx, &actor.user_id).await? {
        if m.status != "active" || !actor.reaches(&m.company_id) {
            continue;
        }
        if let Some(c) = companies::company_by_id(&mut tx, &m.company_id).await? {
            out.push(c);
        }
    }
    Ok(out)
}

/// A company of the caller's with their role in it.
pub struct MyCompany {
    pub id: String,
    pub name: String,
    /// `owner`, `admin`, `member` or `reader`.
    pub role: String,
    /// An owner or an admin (the audit log, members, templates, settings).
    pub is_admin: bool,
}

/// The companies the caller is an active member of, with their role: what
/// a page needs to offer only what the role allows (the operations still
/// decide).
pub async fn mine_with_roles(app: &App, actor: &Actor) -> Result<Vec<MyCompany>, AppError> {
    let mut tx = app.db().read().await?;
    let rows = members::memberships_of_user(&mut tx, &actor.user_id).await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .filter(|m| m.status == "active" && actor.reaches(&m.company_id))
        .map(|m| MyCompany {
            is_admin: turva_model::Role::parse("role", &m.role).is_ok_and(|r| r.is_admin()),
            id: m.company_id,
            name: m.company_name,
            role: m.role,
        })
        .collect())
}

/// One company, for its members (audited as a view).
pub async fn get(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
) -> Result<CompanyRow, AppError> {
    let mut tx = app.db().read().await?;
    let (company, facts) = facts(app, &mut tx, actor, company_id).await?;
    let obj = (ObjectType::Company, company_id);
    if let Err(reason) = access::decide(&facts, Action::ViewCompany) {
        drop(tx);
        return Err(denied(
            app,
            ctx,
            actor,
            AuditAction::CompanyView,
            company.as_ref(),
            obj,
            reason,
        )
        .await);
    }
    let company = company.ok_or(AppError::NotFound)?;
    let ev = Event::new(AuditAction::CompanyView, Outcome::Allowed)
        .actor(actor)
        .company(company_id)
        .object(obj.0, obj.1);
    tx.commit().await?;
    audit::record_read(app, ctx, ev).await?;
    Ok(company)
}

/// Changes a company's name and/or merges settings (admins).
pub async fn update(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
    name: Option<&str>,
    settings: Option<&Map<String, Value>>,
) -> Result<CompanyRow, AppError> {
    let name = name.map(|n| validate::name("name", n)).transpose()?;
    let mut tx = app.db().write().await?;
    let (company, facts) = facts(app, &mut tx, actor, company_id).await?;
    let obj = (ObjectType::Company, company_id);
    let proof = match access::decide(&facts, Action::UpdateCompany) {
        Ok(proof) => proof,
        Err(reason) => {
            drop(tx);
            return Err(denied(
                app,
                ctx,
                actor,
                AuditAction::CompanyUpdate,
                company.as_ref(),
                obj,
                reason,
            )
            .await);
        }
    };
    let mut company = company.ok_or(AppError::NotFound)?;
    let mut current: Map<String, Value> =
        serde_json::from_str(&company.settings).unwrap_or_else(|_| default_settings());
    let mfa_was_required = current.get("require_mfa") == Some(&Value::Bool(true));
    if let Some(changes) = settings {
        if let Err(e) = merge_settings(&mut current, changes, actor.has_mfa) {
            drop(tx);
            let AppError::Forbidden(why) = e else {
                return Err(e);
            };
            let ev = Event::new(AuditAction::CompanyUpdate, Outcome::Denied)
                .actor(actor)
                .company(company_id)
                .object(obj.0, obj.1)
                .reason(why);
            return Err(audit::deny(app, ctx, ev, AppError::Forbidden(why)).await);
        }
    }
    if let Some(n) = name {
        company.name = n;
    }
    let require_mfa = current.get("require_mfa") == Some(&Value::Bool(true));
    company.settings = Value::Object(current).to_string();
    companies::update_company(
        &mut tx,
        &proof,
        company_id,
        &company.name,
        &company.settings,
        require_mfa,
    )
    .await?;
    let ev = Event::new(AuditAction::CompanyUpdate, Outcome::Allowed)
        .actor(actor)
        .company(company_id)
        .object(obj.0, obj.1);
    audit::record(app, &mut tx, ctx, ev).await?;
    let mut mails = Vec::new();
    if mfa_was_required && current_mfa_off(&company.settings) {
        let alert = crate::alerts::Alert::RequireMfaOff {
            by: actor.email.clone(),
        };
        mails = crate::alerts::raise(app, &mut tx, ctx, company_id, None, &alert).await?;
    }
    tx.commit().await?;
    crate::alerts::send(app, &mails).await;
    Ok(company)
}

/// Whether stored settings leave `require_mfa` off.
fn current_mfa_off(settings: &str) -> bool {
    serde_json::from_str::<Map<String, Value>>(settings)
        .map(|m| m.get("require_mfa") != Some(&Value::Bool(true)))
        .unwrap_or(true)
}

/// Validates and merges setting changes. Unknown settings are refused.
fn merge_settings(
    current: &mut Map<String, Value>,
    changes: &Map<String, Value>,
    caller_has_mfa: bool,
) -> Result<(), AppError> {
    for (k, v) in changes {
        match (k.as_str(), v) {
            ("default_member_access", Value::String(s))
                if ["none", "view", "edit"].contains(&s.as_str()) =>
            {
                current.insert(k.clone(), v.clone());
            }
            ("default_member_access", _) => {
                return Err(AppError::invalid(
                    "settings.default_member_access",
                    "must be none, view or edit",
                ))
            }
            ("strip_photo_location", Value::Bool(_)) => {
                current.insert(k.clone(), v.clone());
            }
            ("strip_photo_location", _) => {
                return Err(AppError::malformed(
                    "settings.strip_photo_location",
                    "must be true or false",
                ))
            }
            ("require_mfa", Value::Bool(false)) => {
                current.insert(k.clone(), v.clone());
            }
            ("require_mfa", Value::Bool(true)) if caller_has_mfa => {
                current.insert(k.clone(), v.clone());
            }
            ("require_mfa", Value::Bool(true)) => {
                // Otherwise the admin would lock themselves into enrolment.
                return Err(AppError::Forbidden(
                    "turning require_mfa on requires you to have a second factor",
                ));
            }
            ("require_mfa", _) => {
                return Err(AppError::malformed(
                    "settings.require_mfa",
                    "must be true or false",
                ))
            }
            _ => {
                return Err(AppError::malformed(
                    "settings",
                    format!("unknown setting {k:?}"),
                ))
            }
        }
    }
    Ok(())
}

/// Makes an invitation email for `company` (kept here so members.rs and
/// company creation word it the same way).
pub(crate) fn invitation_mail(
    app: &App,
    lang: Language,
    to: &str,
    company: &CompanyRow,
    inviter: &str,
    token: &str,
) -> mail::Mail {
    let link = format!("{}/accept-invite?token={token}", app.config().public_url());
    mail::invitation(lang, to, &company.name, inviter, &link)
}

/// Days between asking for a company's deletion and its destruction, in
/// which an owner may cancel it.
pub const DELETION_GRACE_DAYS: i64 = 7;

/// A company whose deletion is scheduled.
#[derive(Debug)]
pub struct Scheduled {
    pub company: CompanyRow,
    /// When the deletion was asked for.
    pub scheduled_at: i64,
    /// When its data and keys are destroyed (from then on, at the next
    /// housekeeping run).
    pub destroy_at: i64,
}

fn scheduled(company: CompanyRow, at: i64) -> Scheduled {
    Scheduled {
        company,
        scheduled_at: at,
        destroy_at: at + DELETION_GRACE_DAYS * 24 * 3600 * 1000,
    }
}

/// `DELETE /companies/{cid}`: schedules the company's deletion (an owner
/// or an operator, recent auth). From now on it is hidden from everyone;
/// an owner can cancel within the grace period. With `confirm_name` (the
/// pages ask for it), a name that is not the company's changes nothing
/// (`Invalid` on `confirm`).
pub async fn schedule_deletion(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
    confirm_name: Option<&str>,
) -> Result<Scheduled, AppError> {
    let mut tx = app.db().write().await?;
    let (company, facts) = facts(app, &mut tx, actor, company_id).await?;
    let obj = (ObjectType::Company, company_id);
    let decision = match company {
        Some(_) => access::decide(&facts, Action::DeleteCompany),
        None => Err(Reason::NotVisible),
    };
    let proof = match decision {
        Ok(proof) => proof,
        Err(reason) => {
            drop(tx);
            let action = AuditAction::CompanyDelete;
            return Err(denied(app, ctx, actor, action, company.as_ref(), obj, reason).await);
        }
    };
    let company = company.ok_or(AppError::NotFound)?;
    if confirm_name.is_some_and(|typed| typed.trim() != company.name.trim()) {
        return Err(AppError::Invalid {
            field: "confirm",
            reason: "is not the company's name".into(),
        });
    }
    let now = app.now();
    if !companies::schedule_deletion(&mut tx, &proof, company_id, now).await? {
        return Err(AppError::NotFound);
    }
    let ev = Event::new(AuditAction::CompanyDelete, Outcome::Allowed)
        .actor(actor)
        .company(company_id)
        .object(obj.0, obj.1);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(scheduled(company, now))
}

/// `POST /companies/{cid}/cancel-deletion`: an owner takes a scheduled
/// deletion back; the company is as it was.
pub async fn cancel_deletion(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
) -> Result<CompanyRow, AppError> {
    let mut tx = app.db().write().await?;
    let found = if actor.reaches(company_id) {
        companies::scheduled_with_role(&mut tx, company_id, &actor.user_id).await?
    } else {
        None
    };
    let facts = ActorFacts {
        is_operator: actor.is_operator,
        role: found
            .as_ref()
            .and_then(|(_, r, _)| r.as_deref())
            .and_then(|r| Role::parse("role", r).ok()),
        recent_auth: auth::recent_auth(app, actor),
        is_guest: false,
    };
    let obj = (ObjectType::Company, company_id);
    let decision = match &found {
        Some(_) => access::decide(&facts, Action::CancelCompanyDeletion),
        None => Err(Reason::NotVisible),
    };
    let (proof, company) = match (decision, found) {
        (Ok(proof), Some((company, _, _))) => (proof, company),
        (decision, found) => {
            drop(tx);
            let reason = decision.err().unwrap_or(Reason::NotVisible);
            let company = found.map(|(c, _, _)| c);
            let action = AuditAction::CompanyDeleteCancel;
            return Err(denied(app, ctx, actor, action, company.as_ref(), obj, reason).await);
        }
    };
    if !companies::cancel_deletion(&mut tx, &proof, company_id).await? {
        return Err(AppError::NotFound);
    }
    let ev = Event::new(AuditAction::CompanyDeleteCancel, Outcome::Allowed)
        .actor(actor)
        .company(company_id)
        .object(obj.0, obj.1);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(company)
}

/// Destroys every company whose grace period is over: its rows (folders,
/// documents, files, shares, templates, memberships, invitations, API
/// tokens, search entries), its data key (so its files, and its data in
/// every retained backup, never open again) and then its files' bytes.
/// Its audit events stay, and one more records the destruction. Run by the
/// server's housekeeping; returns how many companies went.
pub async fn destroy_due(app: &App) -> Result<usize, AppError> {
    let cutoff = app.now() - DELETION_GRACE_DAYS * 24 * 3600 * 1000;
    let due = {
        let mut tx = app.db().read().await?;
        let due = companies::due_for_deletion(&mut tx, cutoff).await?;
        tx.commit().await?;
        due
    };
    let mut destroyed = 0;
    for company_id in &due {
        // One company that fails (logged) does not hold back the others.
        match destroy_one(app, company_id, cutoff).await {
            Ok(true) => destroyed += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::error!(error = %e, company = %company_id, "a deleted company could not be destroyed")
            }
        }
    }
    Ok(destroyed)
}

/// Destroys one company whose grace is over (false: cancelled meanwhile).
async fn destroy_one(app: &App, company_id: &str, cutoff: i64) -> Result<bool, AppError> {
    let mut tx = app.db().write().await?;
    // Cancelled meanwhile: nothing to do.
    if companies::due_for_deletion(&mut tx, cutoff)
        .await?
        .iter()
        .all(|c| c != company_id)
    {
        return Ok(false);
    }
    let why = "deletion grace period over";
    destroy(app, &Ctx::cli(), tx, company_id, why, "system").await?;
    Ok(true)
}

/// A company destroyed from the command line.
#[derive(Debug)]
pub struct Destroyed {
    pub company: CompanyRow,
    /// How many of its files' bytes went with it.
    pub files: usize,
}

/// The company `company_id` as the command line names it before it asks
/// to delete it (scheduled for deletion or not).
pub async fn for_cli(app: &App, company_id: &str) -> Result<CompanyRow, AppError> {
    let mut tx = app.db().read().await?;
    let company = companies::company_by_id(&mut tx, company_id).await?;
    tx.commit().await?;
    company.ok_or(AppError::NotFound)
}

/// `turva company delete`: destroys a company at once, as the housekeeping
/// does when a scheduled deletion's grace is over (its rows, its key, then
/// its files' bytes), whether or not its deletion was scheduled.
pub async fn destroy_now(app: &App, ctx: &Ctx, company_id: &str) -> Result<Destroyed, AppError> {
    access::decide(&cli_facts(), Action::DeleteCompany)
        .map_err(|_| AppError::Forbidden("only operators delete companies"))?;
    let mut tx = app.db().write().await?;
    let company = companies::company_by_id(&mut tx, company_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let why = "deleted at once from the command line";
    let files = destroy(app, ctx, tx, company_id, why, "cli").await?;
    Ok(Destroyed { company, files })
}

/// Destroys a company in `tx`: its rows and its data key (so its files,
/// and its data in every retained backup, never open again), with one
/// audit event (its other events stay); commits, then deletes its files'
/// bytes. Returns how many files it had.
async fn destroy(
    app: &App,
    ctx: &Ctx,
    mut tx: Tx,
    company_id: &str,
    why: &str,
    credential: &'static str,
) -> Result<usize, AppError> {
    let blobs = turva_store::purge::company(&mut tx, company_id).await?;
    turva_store::data_keys::destroy(&mut tx, KeyKind::Company.as_str(), company_id, app.now())
        .await?;
    let mut ev = Event::new(AuditAction::CompanyDestroy, Outcome::Allowed)
        .company(company_id)
        .object(ObjectType::Company, company_id)
        .reason(why);
    ev.credential = Some(credential);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    for key in &blobs {
        if let Err(e) = app.blobs().delete(key).await {
            tracing::warn!(error = %e, "a deleted company's file could not be deleted (its key is destroyed)");
        }
    }
    Ok(blobs.len())
}
