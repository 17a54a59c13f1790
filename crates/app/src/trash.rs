//! The trash: deleted folders and documents, kept 30 days, restorable by
//! whoever may manage them.

use turva_model::access::{self, Action, ObjectAction};
use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_store::documents::{self, DocumentRow};
use turva_store::folders::{self, FolderRow, TrashScope};

use crate::audit::{self, Event};
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

/// The company's trash: what the caller may manage, newest first.
pub async fn list(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
    limit: i64,
) -> Result<Vec<Trashed>, AppError> {
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
    let mut items: Vec<(i64, Trashed)> = Vec::new();
    for f in folders::trashed_folders(&mut tx, company_id, scope, limit).await? {
        items.push((f.deleted_at.unwrap_or(0), Trashed::Folder(f)));
    }
    for d in documents::trashed_documents(&mut tx, company_id, scope, limit).await? {
        items.push((d.deleted_at.unwrap_or(0), Trashed::Document(d)));
    }
    items.sort_by_key(|b| std::cmp::Reverse(b.0));
    items.truncate(usize::try_from(limit).unwrap_or(50));
    let ev = Event::new(AuditAction::TrashList, Outcome::Allowed)
        .actor(actor)
        .company(company_id)
        .object(ObjectType::Company, company_id);
    tx.commit().await?;
    audit::record_read(app, ctx, ev).await?;
    Ok(items.into_iter().map(|(_, t)| t).collect())
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
