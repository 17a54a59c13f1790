//! Company members: list, invite, change role, remove. Nobody becomes a
//! member without accepting an invitation (see `auth::accept_invite`); a
//! removed or demoted member loses access on their next request, because
//! every operation re-reads the role.

use turva_model::access::{self, Action, ActorFacts, Allowed};
use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_model::{validate, Language, Role};
use turva_store::companies::CompanyRow;
use turva_store::{members, tokens, users, Tx};

use crate::audit::{self, Event};
use crate::companies::{denied, facts, invitation_mail};
use crate::keyring::{self, KeyKind};
use crate::secret::{new_id, new_token};
use crate::{auth, mail, throttle, Actor, App, AppError, Ctx};

pub use turva_store::members::MemberRow;

/// A membership as an admin sees it: an invited address's name is not
/// shown (it would tell the admin that the address has an account, and
/// whose), only once the person accepted.
fn as_seen(mut m: MemberRow) -> MemberRow {
    if m.status != "active" {
        m.name = String::new();
    }
    m
}

/// Invitations are valid this long.
pub const INVITE_SECS: i64 = 7 * 24 * 3600;

/// A page of members.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<MemberRow>,
    pub next_cursor: Option<String>,
}

/// Members and pending invitations of a company (admins).
pub async fn list(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page, AppError> {
    let mut tx = app.db().write().await?;
    let (company, facts) = facts(app, &mut tx, actor, company_id).await?;
    let obj = (ObjectType::Company, company_id);
    if let Err(reason) = access::decide(&facts, Action::ListMembers) {
        drop(tx);
        return Err(denied(
            app,
            ctx,
            actor,
            AuditAction::MemberList,
            company.as_ref(),
            obj,
            reason,
        )
        .await);
    }
    let mut items = members::members_of_company(&mut tx, company_id, cursor, limit + 1).await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(usize::try_from(limit).unwrap_or(0));
        items.last().map(|m| m.user_id.clone())
    } else {
        None
    };
    let ev = Event::new(AuditAction::MemberList, Outcome::Allowed)
        .actor(actor)
        .company(company_id)
        .object(obj.0, obj.1);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(Page {
        items: items.into_iter().map(as_seen).collect(),
        next_cursor,
    })
}

/// Invites `email` as `role` (admins; owners and admins need recent auth,
/// owners are invited only by owners).
pub async fn invite(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
    email: &str,
    role: &str,
    language: Option<&str>,
) -> Result<MemberRow, AppError> {
    let email = validate::email("email", email)?;
    let role = Role::parse("role", role)?;
    let language = language
        .map(|l| Language::parse("language", l))
        .transpose()?
        .unwrap_or_default();
    let mut tx = app.db().write().await?;
    let (company, facts) = facts(app, &mut tx, actor, company_id).await?;
    let proof = match access::decide(&facts, Action::InviteMember { role }) {
        Ok(proof) => proof,
        Err(reason) => {
            drop(tx);
            let obj = (ObjectType::Company, company_id);
            return Err(denied(
                app,
                ctx,
                actor,
                AuditAction::MemberInvite,
                company.as_ref(),
                obj,
                reason,
            )
            .await);
        }
    };
    let company = company.ok_or(AppError::NotFound)?;
    // Inviting again changes a pending invitation's role: that is a role
    // change too (only owners may touch an owner's).
    if let Some(user) = users::user_by_email(&mut tx, &email).await? {
        let pending = members::membership(&mut tx, company_id, &user.id)
            .await?
            .filter(|m| m.status == "invited");
        if let Some(from) = pending
            .and_then(|m| Role::parse("role", &m.role).ok())
            .filter(|from| *from != role)
        {
            if let Err(reason) = access::decide(
                &facts,
                Action::ChangeRole {
                    from,
                    to: role,
                    is_self: false,
                },
            ) {
                drop(tx);
                let obj = (ObjectType::Member, user.id.as_str());
                return Err(denied(
                    app,
                    ctx,
                    actor,
                    AuditAction::MemberInvite,
                    Some(&company),
                    obj,
                    reason,
                )
                .await);
            }
        }
    }
    let invite = Invite {
        actor: Some(actor),
        company: &company,
        email: &email,
        role,
        language,
        inviter: &actor.name,
        mail_reserved: false,
    };
    let mail = invite_in_tx(app, &mut tx, &proof, ctx, invite).await?;
    let user = users::user_by_email(&mut tx, &email)
        .await?
        .ok_or(AppError::NotFound)?;
    let row = members::membership(&mut tx, company_id, &user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    auth::send_quietly(app, &mail).await;
    Ok(as_seen(row))
}

/// Who invites whom, where, as what.
pub(crate) struct Invite<'a> {
    /// `None` when the command line creates a company.
    pub actor: Option<&'a Actor>,
    pub company: &'a CompanyRow,
    pub email: &'a str,
    pub role: Role,
    pub language: Language,
    /// The name the email gives as the inviter.
    pub inviter: &'a str,
    /// The caller already counted the email against the mail limits
    /// (before its own audit event: throttle locks come first).
    pub mail_reserved: bool,
}

/// The invitation itself, inside a transaction: the address's account (or
/// a placeholder until it accepts), the invited membership, a token, the
/// audit event and the email to send after commit.
pub(crate) async fn invite_in_tx(
    app: &App,
    tx: &mut Tx,
    proof: &Allowed,
    ctx: &Ctx,
    invite: Invite<'_>,
) -> Result<mail::Mail, AppError> {
    let Invite {
        actor,
        company,
        email,
        role,
        language,
        inviter,
        mail_reserved,
    } = invite;
    let now = app.now();
    if !mail_reserved {
        throttle::reserve(
            app,
            tx,
            &throttle::mail_limits(app, email, Some(&company.id)),
        )
        .await?;
    }
    let user = match users::user_by_email(tx, email).await? {
        Some(u) => u,
        None => {
            let u = users::UserRow {
                id: new_id(),
                email: email.to_string(),
                name: String::new(),
                language: language.as_str().to_string(),
                password_hash: None,
                is_operator: false,
                created_at: now,
            };
            users::insert_user(tx, &u).await?;
            u
        }
    };
    keyring::ensure_key(app, tx, KeyKind::User, &user.id).await?;
    match members::membership(tx, &company.id, &user.id).await? {
        Some(m) if m.status == "active" => {
            return Err(AppError::Conflict("already a member of this company"))
        }
        Some(_) => {
            // The earlier links stop working: only the newest invitation counts.
            tokens::void_all(tx, &user.id, "invite", Some(&company.id), now).await?;
            members::update_invitation(
                tx,
                proof,
                &company.id,
                &user.id,
                role.as_str(),
                language.as_str(),
            )
            .await?
        }
        None => {
            members::insert_membership(
                tx,
                proof,
                &members::NewMembership {
                    company_id: &company.id,
                    user_id: &user.id,
                    role: role.as_str(),
                    status: "invited",
                    language: language.as_str(),
                    invited_by: actor.map(|a| a.user_id.as_str()),
                    at: now,
                },
            )
            .await?
        }
    }
    let (token, token_hash) = new_token();
    tokens::insert_token(
        tx,
        &tokens::TokenRow {
            token_hash,
            purpose: "invite".into(),
            user_id: user.id.clone(),
            company_id: Some(company.id.clone()),
            share_id: None,
            created_at: now,
            expires_at: now + INVITE_SECS * 1000,
            used_at: None,
        },
    )
    .await?;
    let mut ev = Event::new(AuditAction::MemberInvite, Outcome::Allowed)
        .company(&company.id)
        .object(ObjectType::Member, &user.id);
    match actor {
        Some(a) => ev = ev.actor(a),
        None => ev.credential = Some("cli"),
    }
    audit::record(app, tx, ctx, ev).await?;
    Ok(invitation_mail(
        app, language, email, company, inviter, &token,
    ))
}

/// A member someone wants to change, and what the policy needs to know.
struct Target {
    company: Option<CompanyRow>,
    facts: ActorFacts,
    member: Option<MemberRow>,
}

impl Target {
    async fn load(
        app: &App,
        tx: &mut Tx,
        actor: &Actor,
        company_id: &str,
        user_id: &str,
    ) -> Result<Self, AppError> {
        let (company, facts) = facts(app, tx, actor, company_id).await?;
        let member = match &company {
            Some(_) => members::membership(tx, company_id, user_id).await?,
            None => None,
        };
        Ok(Target {
            company,
            facts,
            member,
        })
    }

    /// The member's current role (`Reader` when there is no such member;
    /// the decision then never allows anything).
    fn role(&self) -> Role {
        self.member
            .as_ref()
            .and_then(|m| Role::parse("role", &m.role).ok())
            .unwrap_or(Role::Reader)
    }

    /// The policy's decision; a member who does not exist is as invisible
    /// as another company.
    fn decide(&self, action: Action) -> access::Decision {
        match (&self.member, self.facts.role) {
            (None, Some(_)) => Err(access::Reason::NotVisible),
            _ => access::decide(&self.facts, action),
        }
    }

    /// Refuses a change that would leave the company without an active owner.
    async fn keep_an_owner(&self, tx: &mut Tx, stays_owner: bool) -> Result<(), AppError> {
        let Some(m) = self.member.as_ref().filter(|m| m.status == "active") else {
            return Ok(());
        };
        let owners = members::count_active_owners(tx, &m.company_id).await?;
        if access::owner_remains(owners, self.role() == Role::Owner, stays_owner) {
            Ok(())
        } else {
            Err(AppError::Conflict("a company must keep at least one owner"))
        }
    }
}

/// Removes every second factor of a member who belongs to no other company
/// and is no operator (admins, recent auth; an owner's: owners), and ends
/// their sessions; audited and emailed to the member.
pub async fn reset_mfa(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
    user_id: &str,
) -> Result<(), AppError> {
    let mut tx = app.db().write().await?;
    let target = Target::load(app, &mut tx, actor, company_id, user_id).await?;
    let user = users::user_by_id(&mut tx, user_id).await?;
    let elsewhere = members::tied_elsewhere(&mut tx, user_id, company_id).await?;
    let exclusive = !elsewhere && user.as_ref().is_some_and(|u| !u.is_operator);
    // Only an active member's account is the company's to reset; an
    // invitation is as invisible here as a stranger.
    let active = target.member.as_ref().is_some_and(|m| m.status == "active");
    let obj = (ObjectType::Member, user_id);
    let action = Action::ResetMemberMfa {
        role: target.role(),
        exclusive,
    };
    let decision = match target.decide(action) {
        Err(access::Reason::Forbidden) | Ok(_) if !active => Err(access::Reason::NotVisible),
        d => d,
    };
    let user = match (decision, user) {
        (Ok(_), Some(user)) => user,
        (decision, _) => {
            drop(tx);
            let reason = decision.err().unwrap_or(access::Reason::NotVisible);
            let company = target.company.as_ref();
            return Err(denied(
                app,
                ctx,
                actor,
                AuditAction::AuthMfaReset,
                company,
                obj,
                reason,
            )
            .await);
        }
    };
    crate::mfa::wipe(app, &mut tx, user_id).await?;
    let ev = Event::new(AuditAction::AuthMfaReset, Outcome::Allowed)
        .actor(actor)
        .company(company_id)
        .object(obj.0, obj.1);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    auth::send_quietly(app, &crate::mfa::reset_notice(&user)).await;
    Ok(())
}

/// Changes a member's role.
pub async fn change_role(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
    user_id: &str,
    role: &str,
) -> Result<MemberRow, AppError> {
    let to = Role::parse("role", role)?;
    let mut tx = app.db().write().await?;
    let target = Target::load(app, &mut tx, actor, company_id, user_id).await?;
    let obj = (ObjectType::Member, user_id);
    let action = Action::ChangeRole {
        from: target.role(),
        to,
        is_self: user_id == actor.user_id,
    };
    let proof = match target.decide(action) {
        Ok(proof) => proof,
        Err(reason) => {
            drop(tx);
            let company = target.company.as_ref();
            return Err(denied(
                app,
                ctx,
                actor,
                AuditAction::MemberRoleChange,
                company,
                obj,
                reason,
            )
            .await);
        }
    };
    target.keep_an_owner(&mut tx, to == Role::Owner).await?;
    members::set_role(&mut tx, &proof, company_id, user_id, to.as_str()).await?;
    let ev = Event::new(AuditAction::MemberRoleChange, Outcome::Allowed)
        .actor(actor)
        .company(company_id)
        .object(obj.0, obj.1);
    audit::record(app, &mut tx, ctx, ev).await?;
    let row = members::membership(&mut tx, company_id, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    // A new owner or admin (not one stepping between the two) is an alert.
    let mut mails = Vec::new();
    if to.is_admin() && !target.role().is_admin() && row.status == "active" {
        let alert = crate::alerts::Alert::PrivilegedMember {
            email: row.email.clone(),
            role: to,
        };
        mails = crate::alerts::raise(app, &mut tx, ctx, company_id, Some(user_id), &alert).await?;
    }
    tx.commit().await?;
    crate::alerts::send(app, &mails).await;
    Ok(as_seen(row))
}

/// Removes a member (or withdraws an invitation).
pub async fn remove(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
    user_id: &str,
) -> Result<(), AppError> {
    let mut tx = app.db().write().await?;
    let target = Target::load(app, &mut tx, actor, company_id, user_id).await?;
    let obj = (ObjectType::Member, user_id);
    let action = Action::RemoveMember {
        role: target.role(),
        is_self: user_id == actor.user_id,
    };
    let proof = match target.decide(action) {
        Ok(proof) => proof,
        Err(reason) => {
            drop(tx);
            let company = target.company.as_ref();
            return Err(denied(
                app,
                ctx,
                actor,
                AuditAction::MemberRemove,
                company,
                obj,
                reason,
            )
            .await);
        }
    };
    target.keep_an_owner(&mut tx, false).await?;
    members::delete_membership(&mut tx, &proof, company_id, user_id).await?;
    tokens::void_all(&mut tx, user_id, "invite", Some(company_id), app.now()).await?;
    let ev = Event::new(AuditAction::MemberRemove, Outcome::Allowed)
        .actor(actor)
        .company(company_id)
        .object(obj.0, obj.1);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(())
}
