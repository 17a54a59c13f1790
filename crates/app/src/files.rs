//! Attachments: upload (streamed, location data stripped from photos,
//! encrypted under a key of the file's own), download (streamed,
//! decrypted), delete (a new document version; the file stays restorable
//! from the history).
//!
//! An upload holds no database lock while bytes arrive: the right to edit
//! is checked before, and again in the short transaction that records the
//! file, so a right revoked during an upload still refuses it (and the
//! stored bytes are deleted).

use bytes::Bytes;
use futures_util::stream::{self, Stream, StreamExt};
use turva_model::access::ObjectAction;
use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_model::exif::LocationStripper;
use turva_store::blobs::BlobError;
use turva_store::files::{self, FileRow};
use turva_store::keys::DataKey;
use turva_store::{crypt, Tx};

use crate::audit::{self, Event};
use crate::keyring::{self, KeyKind};
use crate::objects;
use crate::secret::new_id;
use crate::{documents, Actor, App, AppError, Ctx};

/// Longest file name kept, in characters.
pub const NAME_MAX: usize = 255;

/// Makes a client's file name safe to store and show: the last path
/// segment, without control characters, at most [`NAME_MAX`] characters.
pub fn clean_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let name: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(NAME_MAX)
        .collect();
    let name = name.trim().trim_start_matches('.').to_string();
    if name.is_empty() {
        "file".into()
    } else {
        name
    }
}

/// The content type, from the bytes (never from the client).
pub fn sniff(head: &[u8]) -> String {
    if let Some(t) = infer::get(head) {
        return t.mime_type().to_string();
    }
    if head.is_empty() {
        return "application/octet-stream".into();
    }
    // Text when it is UTF-8 (a cut at the end of the head is fine) and has
    // no NUL.
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() >= 8 * 1024,
    };
    if valid && !head.contains(&0) {
        "text/plain; charset=utf-8".into()
    } else {
        "application/octet-stream".into()
    }
}

/// Image types that may be shown inline (through the sandboxed path).
pub fn is_inline_image(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// The associated data binding a file's ciphertext and key to its company
/// and object, so a blob moved elsewhere does not open.
fn file_aad(company_id: &str, document_id: &str, file_id: &str) -> String {
    format!("turva/file/{company_id}/{document_id}/{file_id}")
}

fn key_aad(company_id: &str, file_id: &str) -> String {
    format!("turva/file-key/{company_id}/{file_id}")
}

fn blob_key(company_id: &str, file_id: &str) -> String {
    format!("c/{company_id}/{file_id}")
}

/// Whether the company strips location data from photos (on unless turned
/// off in its settings).
async fn strips_location(tx: &mut Tx, company_id: &str) -> Result<bool, AppError> {
    let company = turva_store::companies::company_by_id(tx, company_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(serde_json::from_str::<serde_json::Value>(&company.settings)
        .ok()
        .and_then(|s| s.get("strip_photo_location").and_then(|v| v.as_bool()))
        .unwrap_or(true))
}

/// Passes a byte stream through the location stripper.
fn stripped<S, E>(input: S) -> impl Stream<Item = Result<Bytes, E>> + Send + Unpin
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
    E: Send,
{
    let state = (input, Some(LocationStripper::new()));
    Box::pin(stream::unfold(
        state,
        |(mut input, mut stripper)| async move {
            let s = stripper.as_mut()?;
            match input.next().await {
                Some(Ok(chunk)) => {
                    let out = Bytes::from(s.push(&chunk));
                    Some((Ok(out), (input, stripper)))
                }
                Some(Err(e)) => Some((Err(e), (input, None))),
                None => {
                    let rest = stripper
                        .take()
                        .map(LocationStripper::finish)
                        .unwrap_or_default();
                    Some((Ok(Bytes::from(rest)), (input, None)))
                }
            }
        },
    ))
}

/// Uploads a file to a document (edit on it): a new document version with
/// the file attached.
pub async fn upload<S, E>(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    document_id: &str,
    raw_name: &str,
    data: S,
) -> Result<FileRow, AppError>
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
    E: std::fmt::Display + Send,
{
    let name = clean_name(raw_name);
    // Before any byte is stored: may they, and how much room is left?
    let (company_id, strip, room) = {
        let (mut tx, d, _) = documents::load(
            app,
            ctx,
            actor,
            document_id,
            AuditAction::FileUpload,
            ObjectAction::Edit,
        )
        .await?;
        let company_id = d.doc.company_id.clone();
        let used = u64::try_from(files::company_usage(&mut tx, &company_id).await?).unwrap_or(0);
        let strip = strips_location(&mut tx, &company_id).await?;
        tx.commit().await?;
        let quota = app.config().storage.company_quota_bytes;
        (company_id, strip, quota.saturating_sub(used))
    };
    let max = app.config().storage.max_file_bytes;
    let limit = max.min(room);
    let file_id = new_id();
    let key = blob_key(&company_id, &file_id);
    let file_key = DataKey::random();
    let aad = file_aad(&company_id, document_id, &file_id);
    let put = if strip {
        app.blobs()
            .put_encrypted(&key, &file_key, &aad, limit, stripped(data))
            .await
    } else {
        app.blobs()
            .put_encrypted(&key, &file_key, &aad, limit, data)
            .await
    };
    let stored = match put {
        Ok(s) => s,
        Err(BlobError::TooLarge) if room < max => {
            return Err(AppError::TooLarge("the company's storage quota is full"))
        }
        Err(BlobError::TooLarge) => {
            return Err(AppError::TooLarge("the file is larger than allowed"))
        }
        Err(BlobError::Input(e)) => {
            return Err(AppError::malformed(
                "file",
                format!("the upload did not complete: {e}"),
            ))
        }
        Err(e) => return Err(AppError::Unavailable(e.to_string())),
    };
    let recorded = record_upload(
        app,
        ctx,
        actor,
        document_id,
        &file_id,
        &name,
        &file_key,
        &stored,
    )
    .await;
    if recorded.is_err() {
        // Nothing points at the bytes: they go.
        let _ = app.blobs().delete(&key).await;
    }
    recorded
}

#[allow(clippy::too_many_arguments)]
async fn record_upload(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    document_id: &str,
    file_id: &str,
    name: &str,
    file_key: &DataKey,
    stored: &turva_store::blobs::Stored,
) -> Result<FileRow, AppError> {
    // The right is checked again: it may have changed during the upload.
    let (mut tx, d, proof) = documents::load(
        app,
        ctx,
        actor,
        document_id,
        AuditAction::FileUpload,
        ObjectAction::Edit,
    )
    .await?;
    let mut doc = d.doc;
    let company_id = doc.company_id.clone();
    let (kek_id, company_key) =
        keyring::ensure_key(app, &mut tx, KeyKind::Company, &company_id).await?;
    let now = app.now();
    let row = FileRow {
        id: file_id.to_string(),
        company_id: company_id.clone(),
        document_id: document_id.to_string(),
        name: name.to_string(),
        size: i64::try_from(stored.size).unwrap_or(i64::MAX),
        sha256: stored.sha256.clone(),
        content_type: sniff(&stored.head),
        blob_key: blob_key(&company_id, file_id),
        kek_id,
        wrapped_key: crypt::seal(
            &company_key,
            &key_aad(&company_id, file_id),
            file_key.as_bytes(),
        ),
        created_by: actor.user_id.clone(),
        created_at: now,
        detached_at: None,
    };
    files::insert_file(&mut tx, &proof, &row).await?;
    let mut ids: Vec<String> = serde_json::from_str(&doc.files).unwrap_or_default();
    ids.push(file_id.to_string());
    documents::store_new_version(
        &mut tx,
        &proof,
        &mut doc,
        actor,
        now,
        ids,
        &["files".to_string()],
        None,
    )
    .await?;
    let mut ev = Event::new(AuditAction::FileUpload, Outcome::Allowed)
        .actor(actor)
        .company(&company_id)
        .object(ObjectType::File, file_id);
    ev.object_version = Some(doc.version);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(row)
}

/// Loads a file and decides `action` on its document.
async fn load(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    audit_action: AuditAction,
    action: ObjectAction,
) -> Result<(Tx, FileRow, objects::DocFacts, turva_model::access::Allowed), AppError> {
    let mut tx = if action == ObjectAction::View {
        app.db().read().await?
    } else {
        app.db().write().await?
    };
    let file = files::file_by_id(&mut tx, id).await?;
    let found = match &file {
        Some(f) => objects::doc_facts(app, &mut tx, actor, &f.document_id).await?,
        None => None,
    };
    let (tx, proof) = objects::decide(
        app,
        ctx,
        actor,
        tx,
        found
            .as_ref()
            .map(|d| (d.doc.company_id.as_str(), &d.facts)),
        (audit_action, ObjectType::File, id),
        action,
    )
    .await?;
    Ok((
        tx,
        file.ok_or(AppError::NotFound)?,
        found.ok_or(AppError::NotFound)?,
        proof,
    ))
}

/// A file ready to stream to its reader.
pub struct Download {
    pub file: FileRow,
    pub body: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, BlobError>> + Send>>,
}

/// Opens a file of a document the caller may view (audited).
pub async fn download(app: &App, ctx: &Ctx, actor: &Actor, id: &str) -> Result<Download, AppError> {
    let (mut tx, file, d, _) = load(
        app,
        ctx,
        actor,
        id,
        AuditAction::FileDownload,
        ObjectAction::View,
    )
    .await?;
    let kek = keyring::key_by_id(app, &mut tx, &file.kek_id)
        .await?
        .ok_or_else(|| AppError::Internal(format!("the key of file {id} is gone")))?;
    let plain = crypt::open(
        &kek,
        &key_aad(&file.company_id, &file.id),
        &file.wrapped_key,
    )?;
    let file_key = DataKey::from_bytes(&plain)
        .ok_or_else(|| AppError::Internal(format!("the key of file {id} is malformed")))?;
    let mut ev = Event::new(AuditAction::FileDownload, Outcome::Allowed)
        .actor(actor)
        .company(&file.company_id)
        .object(ObjectType::File, id);
    ev.object_version = Some(d.doc.version);
    tx.commit().await?;
    audit::record_read(app, ctx, ev).await?;
    if let Err(e) = crate::alerts::downloaded(app, ctx, actor, &file.company_id).await {
        tracing::error!(error = %e, "a download alert could not be raised");
    }
    let aad = file_aad(&file.company_id, &file.document_id, &file.id);
    let body = app
        .blobs()
        .get_decrypted(&file.blob_key, &file_key, &aad)
        .await
        .map_err(|e| match e {
            BlobError::Unavailable(e) => AppError::Unavailable(e),
            other => AppError::Internal(other.to_string()),
        })?;
    Ok(Download {
        file,
        body: Box::pin(body),
    })
}

/// Opens a stored file with its keys and checks its plaintext against the
/// Where an attachment belongs: its key and bytes are bound to these ids.
pub(crate) struct FilePlace<'a> {
    pub company_id: &'a str,
    pub document_id: &'a str,
    pub file_id: &'a str,
}

/// The attachment a copy restored from a backup gets: `sealed` (the stored
/// bytes of `from`, whose key is `wrapped` under the company key `kek_id`)
/// opened and sealed again under a new key of its own for `to`, and
/// stored. Returns the copy's blob key, company key id and wrapped key.
/// Nothing is named in the database here; a failure leaves at most an
/// unnamed object.
pub(crate) async fn reseal_copy(
    app: &App,
    tx: &mut Tx,
    from: &FilePlace<'_>,
    kek_id: &str,
    wrapped: &[u8],
    sealed: Bytes,
    to: &FilePlace<'_>,
) -> Result<(String, String, Vec<u8>), AppError> {
    let kek = keyring::key_by_id(app, tx, kek_id)
        .await?
        .ok_or_else(|| AppError::Internal(format!("the key of file {} is gone", from.file_id)))?;
    let plain = crypt::open(&kek, &key_aad(from.company_id, from.file_id), wrapped)?;
    let old_key = DataKey::from_bytes(&plain).ok_or_else(|| {
        AppError::Internal(format!("the key of file {} is malformed", from.file_id))
    })?;
    let (new_kek_id, company_key) =
        keyring::ensure_key(app, tx, KeyKind::Company, to.company_id).await?;
    let new_key = DataKey::random();
    let key = blob_key(to.company_id, to.file_id);
    let staged = format!("{key}.restoring");
    let blob_err = |e: BlobError| match e {
        BlobError::Unavailable(e) => AppError::Unavailable(e),
        other => AppError::Internal(other.to_string()),
    };
    app.blobs()
        .put_raw(&staged, sealed)
        .await
        .map_err(blob_err)?;
    let copied = async {
        let plaintext = app
            .blobs()
            .get_decrypted(
                &staged,
                &old_key,
                &file_aad(from.company_id, from.document_id, from.file_id),
            )
            .await?;
        app.blobs()
            .put_encrypted(
                &key,
                &new_key,
                &file_aad(to.company_id, to.document_id, to.file_id),
                u64::MAX,
                Box::pin(plaintext),
            )
            .await
    }
    .await;
    if let Err(e) = app.blobs().delete(&staged).await {
        tracing::warn!(error = %e, "a staged copy of an attachment was not deleted");
    }
    copied.map_err(blob_err)?;
    let wrapped = crypt::seal(
        &company_key,
        &key_aad(to.company_id, to.file_id),
        new_key.as_bytes(),
    );
    Ok((key, new_kek_id, wrapped))
}

/// SHA-256 recorded at upload (a restore drill's sample). No caller's
/// rights are involved: only the operator's drill uses it, on a scratch
/// copy.
pub(crate) async fn check_plaintext(app: &App, id: &str) -> Result<(), String> {
    let mut tx = app.db().read().await.map_err(|e| e.to_string())?;
    let file = files::file_by_id(&mut tx, id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("file {id} is gone"))?;
    let kek = keyring::key_by_id(app, &mut tx, &file.kek_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("the key of file {id} is gone"))?;
    drop(tx);
    let plain = crypt::open(
        &kek,
        &key_aad(&file.company_id, &file.id),
        &file.wrapped_key,
    )
    .map_err(|_| format!("the key of file {id} does not open"))?;
    let file_key =
        DataKey::from_bytes(&plain).ok_or_else(|| format!("the key of file {id} is malformed"))?;
    let aad = file_aad(&file.company_id, &file.document_id, &file.id);
    let mut body = Box::pin(
        app.blobs()
            .get_decrypted(&file.blob_key, &file_key, &aad)
            .await
            .map_err(|e| format!("file {id}: {e}"))?,
    );
    let mut hash = <sha2::Sha256 as sha2::Digest>::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| format!("file {id}: {e}"))?;
        sha2::Digest::update(&mut hash, &chunk);
    }
    let got = hex::encode(sha2::Digest::finalize(hash));
    if got == file.sha256 {
        Ok(())
    } else {
        Err(format!(
            "file {id} decrypts to other bytes than were uploaded"
        ))
    }
}

/// Removes a file from its document (edit): a new version without it; the
/// file stays restorable from the version history.
pub async fn delete(app: &App, ctx: &Ctx, actor: &Actor, id: &str) -> Result<(), AppError> {
    let (mut tx, file, d, proof) = load(
        app,
        ctx,
        actor,
        id,
        AuditAction::FileDelete,
        ObjectAction::Edit,
    )
    .await?;
    let mut doc = d.doc;
    let ids: Vec<String> = serde_json::from_str(&doc.files).unwrap_or_default();
    if !ids.contains(&file.id) {
        return Err(AppError::NotFound);
    }
    let rest = ids.into_iter().filter(|f| f != &file.id).collect();
    documents::store_new_version(
        &mut tx,
        &proof,
        &mut doc,
        actor,
        app.now(),
        rest,
        &["files".to_string()],
        None,
    )
    .await?;
    let mut ev = Event::new(AuditAction::FileDelete, Outcome::Allowed)
        .actor(actor)
        .company(&file.company_id)
        .object(ObjectType::File, id);
    ev.object_version = Some(doc.version);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\x\\kuva\u{0}.jpg"), "kuva.jpg");
        assert_eq!(clean_name(".."), "file");
        assert_eq!(clean_name(""), "file");
        assert_eq!(clean_name(&"ä".repeat(300)).chars().count(), NAME_MAX);
    }

    #[test]
    fn content_type_comes_from_the_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(sniff(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(sniff("työmaa".as_bytes()), "text/plain; charset=utf-8");
        assert_eq!(sniff(b"\0\x01\x02"), "application/octet-stream");
        // Recognised, but never shown inline: downloads are attachments.
        assert_eq!(sniff(b"<html><script>"), "text/html");
        assert!(!is_inline_image("text/html") && !is_inline_image("image/svg+xml"));
    }
}
