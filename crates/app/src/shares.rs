//! Sharing a folder or document with someone: members of the company are
//! granted at once; anyone else is invited by email and becomes a guest on
//! acceptance. Changing and revoking take effect on the next request (every
//! request re-reads grants).

use turva_model::access::{self, ObjectAction, ObjectFacts, Right};
use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_model::{validate, Language};
use turva_store::shares::{self, ShareRow};
use turva_store::{companies as company_store, documents, folders, members, tokens, users, Tx};

use crate::audit::{self, Event};
use crate::clock::{parse_rfc3339, rfc3339};
use crate::cursor::{self, Page};
use crate::keyring::{self, KeyKind};
use crate::members::INVITE_SECS;
use crate::objects::{self};
use crate::secret::{new_id, new_token};
use crate::{auth, mail, throttle, Actor, App, AppError, Ctx};

/// The kind of object a share is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Folder,
    Document,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Folder => "folder",
            Kind::Document => "document",
        }
    }
    fn object_type(self) -> ObjectType {
        match self {
            Kind::Folder => ObjectType::Folder,
            Kind::Document => ObjectType::Document,
        }
    }
}

/// An object being shared: its company, its name, the caller's facts.
struct Target {
    company_id: String,
    name: String,
    facts: ObjectFacts,
}

async fn target(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    kind: Kind,
    id: &str,
) -> Result<Option<Target>, AppError> {
    Ok(match kind {
        Kind::Folder => objects::folder_facts(app, tx, actor, id)
            .await?
            .map(|f| Target {
                company_id: f.folder.company_id,
                name: f.folder.name,
                facts: f.facts,
            }),
        Kind::Document => objects::doc_facts(app, tx, actor, id)
            .await?
            .map(|d| Target {
                company_id: d.doc.company_id,
                name: d.doc.title,
                facts: d.facts,
            }),
    })
}

/// Loads the object and decides `action` on it.
async fn load(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    kind: Kind,
    id: &str,
    audit_action: AuditAction,
    action: ObjectAction,
) -> Result<(Tx, Target, access::Allowed), AppError> {
    let mut tx = app.db().write().await?;
    let found = target(app, &mut tx, actor, kind, id).await?;
    let (tx, proof) = objects::decide(
        app,
        ctx,
        actor,
        tx,
        found.as_ref().map(|t| (t.company_id.as_str(), &t.facts)),
        (audit_action, kind.object_type(), id),
        action,
    )
    .await?;
    Ok((tx, found.ok_or(AppError::NotFound)?, proof))
}

fn parse_right(text: &str) -> Result<Right, AppError> {
    Right::parse(text).ok_or_else(|| AppError::invalid("right", "must be view, edit or manage"))
}

fn parse_expiry(app: &App, text: &str) -> Result<i64, AppError> {
    let t = parse_rfc3339(text)
        .ok_or_else(|| AppError::malformed("expires_at", "must be an RFC 3339 time"))?;
    if t <= app.now() {
        return Err(AppError::invalid("expires_at", "must be in the future"));
    }
    Ok(t)
}

/// A guest's re-share never outlasts the share it rests on.
fn clamp_to_basis(
    facts: &ObjectFacts,
    proof: &access::Allowed,
    expires_at: Option<i64>,
) -> Option<i64> {
    let basis = proof
        .via()
        .and_then(|id| facts.grants.iter().find(|g| g.id == id))
        .and_then(|g| g.until);
    match (expires_at, basis) {
        (Some(e), Some(b)) => Some(e.min(b)),
        (e, b) => e.or(b),
    }
}

/// A new share.
#[derive(Debug, Clone)]
pub struct NewShare<'a> {
    pub email: &'a str,
    pub right: &'a str,
    pub expires_at: Option<&'a str>,
    pub notify: Option<bool>,
    pub language: Option<&'a str>,
}

/// Shares an object with an email address (`manage` on it).
pub async fn create(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    kind: Kind,
    object_id: &str,
    new: NewShare<'_>,
) -> Result<ShareRow, AppError> {
    let email = validate::email("email", new.email)?;
    let right = parse_right(new.right)?;
    let expires_at = new.expires_at.map(|e| parse_expiry(app, e)).transpose()?;
    let language = new
        .language
        .map(|l| Language::parse("language", l))
        .transpose()?;
    let notify = new.notify.unwrap_or(true);
    if email == actor.email {
        return Err(AppError::invalid("email", "is your own address"));
    }
    let (mut tx, t, proof) = load(
        app,
        ctx,
        actor,
        kind,
        object_id,
        AuditAction::ShareCreate,
        ObjectAction::Share { right },
    )
    .await?;
    let expires_at = clamp_to_basis(&t.facts, &proof, expires_at);
    let now = app.now();
    let grantee = match users::user_by_email(&mut tx, &email).await? {
        Some(u) => u,
        None => {
            let u = users::UserRow {
                id: new_id(),
                email: email.clone(),
                name: String::new(),
                language: language.unwrap_or_default().as_str().to_string(),
                password_hash: None,
                is_operator: false,
                created_at: now,
            };
            users::insert_user(&mut tx, &u).await?;
            u
        }
    };
    let language = language
        .or_else(|| Language::parse("language", &grantee.language).ok())
        .unwrap_or_default();
    keyring::ensure_key(app, &mut tx, KeyKind::User, &grantee.id).await?;
    let is_member = members::membership(&mut tx, &t.company_id, &grantee.id)
        .await?
        .is_some_and(|m| m.status == "active");
    let established = is_member
        || (grantee.password_hash.is_some()
            && shares::is_guest(&mut tx, &t.company_id, &grantee.id, now).await?);
    let share = ShareRow {
        id: new_id(),
        company_id: t.company_id.clone(),
        object_type: kind.as_str().into(),
        object_id: object_id.to_string(),
        grantee_id: grantee.id.clone(),
        email: grantee.email.clone(),
        right: right.as_str().into(),
        expires_at,
        status: if established { "active" } else { "pending" }.into(),
        via_share_id: proof.via().map(str::to_string),
        notify,
        language: language.as_str().into(),
        created_by: actor.user_id.clone(),
        created_at: now,
    };
    let link_base = app.config().public_url();
    let mut pending_token = None;
    let mail = if established {
        notify.then(|| {
            let link = format!("{link_base}/{}s/{object_id}", kind.as_str());
            mail::share_notice(language, &email, &actor.name, &t.name, &link)
        })
    } else {
        // Someone outside the company who has not accepted a share here
        // yet: always invited, whatever `notify` says.
        let company = company_store::company_by_id(&mut tx, &t.company_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let (token, token_hash) = new_token();
        pending_token = Some(token_hash);
        let link = format!("{link_base}/accept-invite?token={token}");
        Some(mail::share_invitation(
            language,
            &email,
            &company.name,
            &actor.name,
            &t.name,
            &link,
        ))
    };
    if mail.is_some() {
        throttle::reserve(
            app,
            &mut tx,
            &throttle::mail_limits(app, &email, Some(&t.company_id)),
        )
        .await?;
    }
    match shares::insert_share(&mut tx, &proof, &share).await {
        Err(turva_store::StoreError::Conflict(_)) => {
            return Err(AppError::Conflict(
                "this object is already shared with that person: change that share instead",
            ))
        }
        r => r?,
    }
    if let Some(hash) = pending_token.take() {
        tokens::insert_token(
            &mut tx,
            &tokens::TokenRow {
                token_hash: hash,
                purpose: "invite".into(),
                user_id: grantee.id.clone(),
                company_id: Some(t.company_id.clone()),
                share_id: Some(share.id.clone()),
                created_at: now,
                expires_at: now + INVITE_SECS * 1000,
                used_at: None,
            },
        )
        .await?;
    }
    let ev = Event::new(AuditAction::ShareCreate, Outcome::Allowed)
        .actor(actor)
        .company(&t.company_id)
        .object(ObjectType::Share, &share.id);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    if let Some(m) = &mail {
        auth::send_quietly(app, m).await;
    }
    Ok(share)
}

/// The shares on an object (`manage` on it).
pub async fn list(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    kind: Kind,
    object_id: &str,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<ShareRow>, AppError> {
    let after = cursor.map(|c| cursor::decode(c, 1)).transpose()?;
    let (mut tx, t, _) = load(
        app,
        ctx,
        actor,
        kind,
        object_id,
        AuditAction::ShareList,
        ObjectAction::Manage,
    )
    .await?;
    let mut items = shares::shares_on(
        &mut tx,
        &t.company_id,
        object_id,
        after.as_ref().map(|a| a[0].as_str()),
        limit + 1,
    )
    .await?;
    let next_cursor = crate::folders::next(&mut items, limit, |s| cursor::encode(&[&s.id]));
    let ev = Event::new(AuditAction::ShareList, Outcome::Allowed)
        .actor(actor)
        .company(&t.company_id)
        .object(kind.object_type(), object_id);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(Page { items, next_cursor })
}

fn kind_of(s: &ShareRow) -> Kind {
    if s.object_type == "folder" {
        Kind::Folder
    } else {
        Kind::Document
    }
}

/// Loads a share and decides `action` on its object; a share the caller
/// may not manage (or cannot see the object of) is 404 or 403 like its
/// object.
async fn load_share(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    audit_action: AuditAction,
    action: impl Fn(&ShareRow) -> ObjectAction,
) -> Result<(Tx, ShareRow, Target, access::Allowed), AppError> {
    let mut tx = app.db().write().await?;
    let share = shares::share(&mut tx, id).await?;
    let found = match &share {
        Some(s) => target(app, &mut tx, actor, kind_of(s), &s.object_id).await?,
        None => None,
    };
    let decision = match (&share, &found) {
        (Some(s), Some(t)) => access::decide_object(&t.facts, action(s)),
        _ => Err(access::Reason::NotVisible),
    };
    match decision {
        Ok(proof) => Ok((
            tx,
            share.ok_or(AppError::NotFound)?,
            found.ok_or(AppError::NotFound)?,
            proof,
        )),
        Err(reason) => {
            drop(tx);
            Err(objects::denied(
                app,
                ctx,
                actor,
                objects::Denial {
                    action: audit_action,
                    company_id: found.as_ref().map(|t| t.company_id.as_str()),
                    object: (ObjectType::Share, id),
                    reason,
                },
            )
            .await)
        }
    }
}

/// Changes a share's right and/or expiry (`expires_at: Some(None)` makes it
/// last until revoked).
pub async fn update(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    right: Option<&str>,
    expires_at: Option<Option<&str>>,
) -> Result<ShareRow, AppError> {
    let right = right.map(parse_right).transpose()?;
    let expires_at = match expires_at {
        Some(Some(e)) => Some(Some(parse_expiry(app, e)?)),
        Some(None) => Some(None),
        None => None,
    };
    let (mut tx, mut share, t, proof) =
        load_share(app, ctx, actor, id, AuditAction::ShareUpdate, |s| {
            ObjectAction::Share {
                right: right
                    .or_else(|| Right::parse(&s.right))
                    .unwrap_or(Right::Manage),
            }
        })
        .await?;
    if let Some(r) = right {
        share.right = r.as_str().into();
    }
    if let Some(e) = expires_at {
        share.expires_at = clamp_to_basis(&t.facts, &proof, e);
    }
    shares::update_share(&mut tx, &proof, &share, &share.right, share.expires_at).await?;
    let ev = Event::new(AuditAction::ShareUpdate, Outcome::Allowed)
        .actor(actor)
        .company(&t.company_id)
        .object(ObjectType::Share, id);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(share)
}

/// Revokes a share (re-shares made under it end with it).
pub async fn revoke(app: &App, ctx: &Ctx, actor: &Actor, id: &str) -> Result<(), AppError> {
    let (mut tx, share, t, proof) =
        load_share(app, ctx, actor, id, AuditAction::ShareRevoke, |_| {
            ObjectAction::Manage
        })
        .await?;
    shares::delete_share(&mut tx, &proof, &share).await?;
    let ev = Event::new(AuditAction::ShareRevoke, Outcome::Allowed)
        .actor(actor)
        .company(&t.company_id)
        .object(ObjectType::Share, id);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(())
}

/// A share to the caller, with the name of what it is on.
#[derive(Debug, Clone)]
pub struct SharedItem {
    pub share: ShareRow,
    pub name: String,
}

/// What is shared with the caller now.
pub async fn shared_with_me(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<SharedItem>, AppError> {
    let after = cursor.map(cursor::decode_time_id).transpose()?;
    let after = after.as_ref().map(|(at, id)| (*at, id.as_str()));
    let mut tx = app.db().read().await?;
    let mut rows = shares::shared_with(
        &mut tx,
        &actor.user_id,
        actor.token_company(),
        app.now(),
        after,
        limit + 1,
    )
    .await?;
    let next_cursor = crate::folders::next(&mut rows, limit, |s| {
        cursor::encode(&[&s.created_at.to_string(), &s.id])
    });
    let mut items = Vec::with_capacity(rows.len());
    for share in rows {
        let name = match kind_of(&share) {
            Kind::Folder => folders::folder(&mut tx, &share.company_id, &share.object_id)
                .await?
                .map(|f| f.name),
            Kind::Document => documents::document(&mut tx, &share.company_id, &share.object_id)
                .await?
                .map(|d| d.title),
        };
        items.push(SharedItem {
            share,
            name: name.unwrap_or_default(),
        });
    }
    let ev = Event::new(AuditAction::SharedWithMe, Outcome::Allowed).actor(actor);
    tx.commit().await?;
    audit::record_read(app, ctx, ev).await?;
    Ok(Page { items, next_cursor })
}

/// Starts a pending share whose invitation was accepted (called by the
/// invitation acceptance, in its transaction). False when the share is
/// gone or not pending.
pub(crate) async fn accept(tx: &mut Tx, share_id: &str, now: i64) -> Result<bool, AppError> {
    Ok(shares::activate(tx, share_id, now).await? == 1)
}

/// The time a share ends, as shown (RFC 3339), or None.
pub fn expiry_text(s: &ShareRow) -> Option<String> {
    s.expires_at.map(rfc3339)
}
