//! Loading what the policy needs to decide about one folder or document,
//! and answering a denial. Shared by the folder, document, file, share and
//! trash operations.

use turva_model::access::{self, MemberAccess, ObjectAction, ObjectFacts, Reason, Right};
use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_model::Role;
use turva_store::documents::{self, DocumentRow};
use turva_store::folders::{self, FolderRow};
use turva_store::Tx;

use crate::audit::{self, Event};
use crate::{Actor, App, AppError, Ctx};

/// A folder with the caller's facts about it.
pub(crate) struct FolderFacts {
    pub folder: FolderRow,
    pub facts: ObjectFacts,
}

/// A document with the caller's facts about it.
pub(crate) struct DocFacts {
    pub doc: DocumentRow,
    pub facts: ObjectFacts,
}

fn role(text: Option<String>) -> Option<Role> {
    text.and_then(|r| Role::parse("role", &r).ok())
}

fn access_in_force(text: &str) -> MemberAccess {
    MemberAccess::parse(text).unwrap_or(MemberAccess::None)
}

/// A folder and the caller's facts about it; `None` when it does not exist.
pub(crate) async fn folder_facts(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    id: &str,
) -> Result<Option<FolderFacts>, AppError> {
    let Some((folder, role_text, grants)) =
        folders::folder_with_role(tx, id, &actor.user_id).await?
    else {
        return Ok(None);
    };
    if !actor.reaches(&folder.company_id) {
        return Ok(None);
    }
    let facts = ObjectFacts {
        role: role(role_text),
        member_access: access_in_force(&folder.access_in_force),
        is_creator: folder.created_by == actor.user_id,
        grants,
        trashed: folder.in_trash,
        now: app.now(),
    };
    Ok(Some(FolderFacts { folder, facts }))
}

/// A document and the caller's facts about it; `None` when it does not
/// exist.
pub(crate) async fn doc_facts(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    id: &str,
) -> Result<Option<DocFacts>, AppError> {
    let Some(d) = documents::document_with_facts(tx, id, &actor.user_id).await? else {
        return Ok(None);
    };
    if !actor.reaches(&d.doc.company_id) {
        return Ok(None);
    }
    // The grants came with the document, in the same statement.
    let facts = ObjectFacts {
        role: role(d.role),
        member_access: access_in_force(&d.access_in_force),
        is_creator: d.doc.created_by == actor.user_id,
        grants: d.grants,
        trashed: d.doc.deleted_at.is_some() || d.folder_in_trash,
        now: app.now(),
    };
    Ok(Some(DocFacts { doc: d.doc, facts }))
}

/// What a denied request was about, for its audit event.
pub(crate) struct Denial<'a> {
    pub action: AuditAction,
    /// The company whose object it is, when it exists.
    pub company_id: Option<&'a str>,
    pub object: (ObjectType, &'a str),
    pub reason: Reason,
}

/// Records a denied request (in its own transaction: the caller dropped
/// its own first) and gives the answer: 404 for what the caller may not
/// see, 403 for what they see but may not do.
pub(crate) async fn denied(app: &App, ctx: &Ctx, actor: &Actor, d: Denial<'_>) -> AppError {
    let answer = match d.reason {
        Reason::NotVisible => AppError::NotFound,
        Reason::Forbidden => AppError::Forbidden("you do not have the right to do this"),
        Reason::ReauthRequired => AppError::ReauthRequired,
    };
    let mut ev = Event::new(d.action, Outcome::Denied)
        .actor(actor)
        .object(d.object.0, d.object.1)
        .reason(d.reason.as_str());
    ev.company_id = d.company_id;
    audit::deny(app, ctx, ev, answer).await
}

/// Decides `action` on an object the caller loaded (or did not find), and
/// on a denial records it and returns the answer. The transaction is
/// dropped before the denial is written (SQLite has one writer).
pub(crate) async fn decide(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    tx: Tx,
    found: Option<(&str, &ObjectFacts)>,
    what: (AuditAction, ObjectType, &str),
    action: ObjectAction,
) -> Result<(Tx, access::Allowed), AppError> {
    let decision = match found {
        Some((_, facts)) => access::decide_object(facts, action),
        None => Err(Reason::NotVisible),
    };
    match decision {
        Ok(proof) => Ok((tx, proof)),
        Err(reason) => {
            drop(tx);
            Err(denied(
                app,
                ctx,
                actor,
                Denial {
                    action: what.0,
                    company_id: found.map(|(c, _)| c),
                    object: (what.1, what.2),
                    reason,
                },
            )
            .await)
        }
    }
}

/// The caller's effective right, for showing it beside an object.
pub(crate) fn right_of(facts: &ObjectFacts) -> Option<Right> {
    access::effective_right(facts)
}
