//! Deleting for good what has been in the trash longer than it is kept,
//! and attachments removed from their documents as long ago. Returns the
//! blob keys whose bytes the caller deletes after the commit.

use crate::db::Tx;
use crate::error::Result;
use crate::{exec_tx, on_tx, search, Millis};

async fn ids(tx: &mut Tx, sql: &str, bind: &str) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = on_tx!(tx, |c| sqlx::query_as(sql).bind(bind).fetch_all(c).await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

async fn blob_keys_of_documents(tx: &mut Tx, docs: &[String]) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    for d in docs {
        keys.extend(ids(tx, "SELECT blob_key FROM files WHERE document_id = $1", d).await?);
    }
    Ok(keys)
}

async fn forget_objects(tx: &mut Tx, objects: &[String]) -> Result<()> {
    for o in objects {
        exec_tx!(tx, |c| sqlx::query(
            "DELETE FROM shares WHERE object_id = $1"
        )
        .bind(o)
        .execute(c)
        .await)?;
    }
    Ok(())
}

/// Deletes folders and documents that went to the trash before `cutoff`
/// (with everything beneath them, their versions, files, shares and search
/// entries). Returns the blob keys of their files.
pub async fn trash_before(tx: &mut Tx, cutoff: Millis) -> Result<Vec<String>> {
    let mut blobs = Vec::new();
    let old_folders: Vec<(String,)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id FROM folders WHERE deleted_at IS NOT NULL AND deleted_at < $1"
    )
    .bind(cutoff)
    .fetch_all(c)
    .await)?;
    for (fid,) in old_folders {
        blobs.extend(folder_subtree(tx, &fid).await?);
    }
    let old_docs: Vec<(String,)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id FROM documents WHERE deleted_at IS NOT NULL AND deleted_at < $1"
    )
    .bind(cutoff)
    .fetch_all(c)
    .await)?;
    for (d,) in old_docs {
        blobs.extend(document(tx, &d).await?);
    }
    Ok(blobs)
}

/// Deletes a folder for good, with everything beneath it, their versions,
/// files, shares and search entries. Returns the blob keys of its files.
pub async fn folder_subtree(tx: &mut Tx, fid: &str) -> Result<Vec<String>> {
    let folders = ids(
        tx,
        "SELECT folder_id FROM folder_paths WHERE ancestor_id = $1",
        fid,
    )
    .await?;
    let docs = ids(
        tx,
        "SELECT d.id FROM documents d JOIN folder_paths fp ON fp.folder_id = d.folder_id WHERE fp.ancestor_id = $1",
        fid,
    )
    .await?;
    let blobs = blob_keys_of_documents(tx, &docs).await?;
    for d in &docs {
        search::remove_document(tx, d).await?;
    }
    forget_objects(tx, &docs).await?;
    forget_objects(tx, &folders).await?;
    // The folder's sub-folders, documents, versions, files and closure
    // rows go with it (ON DELETE CASCADE).
    exec_tx!(tx, |c| sqlx::query("DELETE FROM folders WHERE id = $1")
        .bind(fid)
        .execute(c)
        .await)?;
    Ok(blobs)
}

/// Deletes a document for good, with its versions, files, shares and
/// search entry. Returns the blob keys of its files.
pub async fn document(tx: &mut Tx, did: &str) -> Result<Vec<String>> {
    let one = [did.to_string()];
    let blobs = blob_keys_of_documents(tx, &one).await?;
    search::remove_document(tx, did).await?;
    forget_objects(tx, &one).await?;
    exec_tx!(tx, |c| sqlx::query("DELETE FROM documents WHERE id = $1")
        .bind(did)
        .execute(c)
        .await)?;
    Ok(blobs)
}

/// Deletes attachments removed from their document's newest version
/// before `cutoff`. Returns their blob keys.
pub async fn detached_files_before(tx: &mut Tx, cutoff: Millis) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = on_tx!(tx, |c| {
        sqlx::query_as(
        "DELETE FROM files WHERE detached_at IS NOT NULL AND detached_at < $1 RETURNING blob_key"
    )
    .bind(cutoff)
    .fetch_all(c)
    .await
    })?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Deletes a company and everything in it: folders, documents, versions,
/// files, shares, templates, memberships, invitations, API tokens and
/// search entries (its audit events stay). Returns the blob keys of its
/// files, whose bytes the caller deletes after the commit.
pub async fn company(tx: &mut Tx, company_id: &str) -> Result<Vec<String>> {
    let blobs = ids(
        tx,
        "SELECT blob_key FROM files WHERE company_id = $1",
        company_id,
    )
    .await?;
    let docs = ids(
        tx,
        "SELECT id FROM documents WHERE company_id = $1",
        company_id,
    )
    .await?;
    for d in &docs {
        search::remove_document(tx, d).await?;
    }
    // The links of members' sign-in events to its log (the events stay).
    exec_tx!(tx, |c| sqlx::query(
        "DELETE FROM audit_links WHERE company_id = $1"
    )
    .bind(company_id)
    .execute(c)
    .await)?;
    // Everything else refers to the company ON DELETE CASCADE.
    exec_tx!(tx, |c| sqlx::query("DELETE FROM companies WHERE id = $1")
        .bind(company_id)
        .execute(c)
        .await)?;
    Ok(blobs)
}
