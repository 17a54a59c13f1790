//! The trash: deleted folders and documents, kept 30 days, restorable by
//! whoever may manage them.

use turva_model::access::{self, Action, ObjectAction};
use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_store::documents::{self, DocumentRow};
use turva_store::folders::{self, FolderRow, TrashScope};

use crate::audit::{self, Event};
use crate::cursor::{self, Page};
use crate::objects::{self, Denial};
use crate::{companies, Actor, App, AppError, Ctx};

/// How long deleted objects stay restorable.
pub const KEEP_DAYS: i64 = 30;

/// One item in the trash.
#[derive(Debug, Clone)]
pub enum Trashed {
    Folder(FolderRow),
    Document(DocumentRow),
}

impl Trashed {
    /// What the trash is sorted by: when it was deleted (newest first),
    /// then the id.
    fn sort_key(&self) -> (i64, &str) {
        match self {
            Trashed::Folder(f) => (f.deleted_at.unwrap_or(0), &f.id),
            Trashed::Document(d) => (d.deleted_at.unwrap_or(0), &d.id),
        }
    }
}

/// The company's trash: what the caller may manage, newest first (then by
/// id), a page of `limit` after `cursor`.
pub async fn list(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<Trashed>, AppError> {
    let after = cursor.map(cursor::decode_time_id).transpose()?;
    let after = after.as_ref().map(|(at, id)| (*at, id.as_str()));
    let mut tx = app.db().read().await?;
    let (company, facts) = companies::facts(app, &mut tx, actor, company_id).await?;
    if let Err(reason) = access::decide(&facts, Action::ViewTrash) {
        drop(tx);
        return Err(objects::denied(
            app,
            ctx,
            actor,
            Denial {
                action: AuditAction::TrashList,
                company_id: company.as_ref().map(|c| c.id.as_str()),
                object: (ObjectType::Company, company_id),
                reason,
            },
        )
        .await);
    }
    let seen = access::trash_scope(facts.role);
    let scope = TrashScope {
        all: seen.all,
        member: seen.member,
        user_id: &actor.user_id,
        now: app.now(),
    };
    // Each kind's next `limit + 1`, merged: one more than the page says
    // whether another follows.
    let mut items: Vec<Trashed> = Vec::new();
    for f in folders::trashed_folders(&mut tx, company_id, scope, after, limit + 1).await? {
        items.push(Trashed::Folder(f));
    }
    for d in documents::trashed_documents(&mut tx, company_id, scope, after, limit + 1).await? {
        items.push(Trashed::Document(d));
    }
    items.sort_by(|a, b| {
        let (a_at, a_id) = a.sort_key();
        let (b_at, b_id) = b.sort_key();
        b_at.cmp(&a_at).then_with(|| a_id.cmp(b_id))
    });
    let next_cursor = crate::folders::next(&mut items, limit, |t| {
        let (at, id) = t.sort_key();
        cursor::encode(&[&at.to_string(), id])
    });
    let ev = Event::new(AuditAction::TrashList, Outcome::Allowed)
        .actor(actor)
        .company(company_id)
        .object(ObjectType::Company, company_id);
    tx.commit().await?;
    audit::record_read(app, ctx, ev).await?;
    Ok(Page { items, next_cursor })
}

/// Brings a folder (with everything beneath it) or a document back from
/// the trash (`manage` on it).
pub async fn restore(app: &App, ctx: &Ctx, actor: &Actor, id: &str) -> Result<Trashed, AppError> {
    let mut tx = app.db().write().await?;
    // Only a trash item itself (not something beneath a deleted folder)
    // can be restored; within 30 days.
    let oldest = app.now() - KEEP_DAYS * 24 * 3600 * 1000;
    if let Some(f) = objects::folder_facts(app, &mut tx, actor, id).await? {
        let is_item = f.folder.deleted_at.is_some_and(|t| t > oldest);
        let facts = is_item.then_some((f.folder.company_id.as_str(), &f.facts));
        let (mut tx, proof) = objects::decide(
            app,
            ctx,
            actor,
            tx,
            facts,
            (AuditAction::FolderRestore, ObjectType::Folder, id),
            ObjectAction::Restore,
        )
        .await?;
        folders::set_deleted(&mut tx, &proof, &f.folder, None).await?;
        let ev = Event::new(AuditAction::FolderRestore, Outcome::Allowed)
            .actor(actor)
            .company(&f.folder.company_id)
            .object(ObjectType::Folder, id);
        audit::record(app, &mut tx, ctx, ev).await?;
        let row = folders::folder(&mut tx, &f.folder.company_id, id)
            .await?
            .ok_or(AppError::NotFound)?;
        tx.commit().await?;
        return Ok(Trashed::Folder(row));
    }
    let found = objects::doc_facts(app, &mut tx, actor, id).await?;
    let facts = found.as_ref().and_then(|d| {
        let own = d.doc.deleted_at.is_some_and(|t| t > oldest);
        // Its folder must not be in the trash: that one is restored instead.
        let folder_ok = d.facts.trashed && own;
        folder_ok.then_some((d.doc.company_id.as_str(), &d.facts))
    });
    let (mut tx, proof) = objects::decide(
        app,
        ctx,
        actor,
        tx,
        facts,
        (AuditAction::DocumentRestore, ObjectType::Document, id),
        ObjectAction::Restore,
    )
    .await?;
    let d = found.ok_or(AppError::NotFound)?;
    let trash_items = documents::trashed_documents(
        &mut tx,
        &d.doc.company_id,
        TrashScope {
            all: true,
            member: true,
            user_id: &actor.user_id,
            now: app.now(),
        },
        None,
        i64::MAX,
    )
    .await?;
    if !trash_items.iter().any(|t| t.id == id) {
        return Err(AppError::Conflict(
            "its folder is in the trash: restore the folder instead",
        ));
    }
    documents::set_deleted(&mut tx, &proof, &d.doc.company_id, id, None).await?;
    let mut ev = Event::new(AuditAction::DocumentRestore, Outcome::Allowed)
        .actor(actor)
        .company(&d.doc.company_id)
        .object(ObjectType::Document, id);
    ev.object_version = Some(d.doc.version);
    audit::record(app, &mut tx, ctx, ev).await?;
    let row = documents::document(&mut tx, &d.doc.company_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(Trashed::Document(row))
}

/// Deletes for good what has been in the trash longer than [`KEEP_DAYS`],
/// and attachments removed from their documents as long ago; then their
/// encrypted bytes. Returns how many blobs went. Run by the server's
/// housekeeping.
pub async fn purge(app: &App) -> Result<usize, AppError> {
    let cutoff = app.now() - KEEP_DAYS * 24 * 3600 * 1000;
    let mut tx = app.db().write().await?;
    let mut blobs = turva_store::purge::trash_before(&mut tx, cutoff).await?;
    blobs.extend(turva_store::purge::detached_files_before(&mut tx, cutoff).await?);
    tx.commit().await?;
    let mut gone = 0;
    for key in &blobs {
        match app.blobs().delete(key).await {
            Ok(()) => gone += 1,
            Err(e) => tracing::warn!(error = %e, "an attachment's bytes could not be deleted"),
        }
    }
    Ok(gone)
}
