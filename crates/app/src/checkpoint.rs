//! Signed checkpoints of the audit log: the Merkle tree's size and root,
//! signed with an Ed25519 key that is not in the database (a key file
//! beside the master key), stored in `audit_checkpoints` and appended to
//! `DIR/audit-checkpoints.log`, outside the database.
//!
//! A checkpoint is a C2SP `tlog-checkpoint` signed note:
//!
//! ```text
//! <origin>\n<tree size>\n<base64 root>\n\n— <key name> <base64(key id ‖ signature)>\n
//! ```
//!
//! with the key name equal to the origin and the key id the first four
//! bytes of `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)` (C2SP `signed-note`,
//! Ed25519). The signature covers the note's body (the three lines and
//! their newlines).

use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};
use turva_model::merkle::Hash;
use turva_store::audit::{self as store, CheckpointRow};

use crate::{App, AppError};

/// The checkpoint signer: the key pair and the log's name.
pub struct Signer {
    pair: Ed25519KeyPair,
    name: String,
    /// One checkpoint is made at a time in this process.
    pub(crate) making: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("name", &self.name).finish()
    }
}

const KEY_PREFIX: &str = "turva-audit-signing-key v1 ";

impl Signer {
    /// Loads the key at `path`; when it is missing, creates one only if
    /// `may_create` (no checkpoint was ever signed): a lost signing key
    /// must not be silently replaced, or a rewritten log could be signed
    /// anew.
    pub fn load_or_create(path: &Path, may_create: bool) -> Result<Signer, String> {
        let pkcs8 = match std::fs::read_to_string(path) {
            Ok(text) => {
                let b64 = text
                    .trim()
                    .strip_prefix(KEY_PREFIX)
                    .ok_or_else(|| format!("{} is not an audit signing key", path.display()))?;
                B64.decode(b64)
                    .map_err(|_| format!("{} is not an audit signing key", path.display()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && may_create => {
                let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                    .map_err(|_| "cannot generate the audit signing key".to_string())?;
                let text = format!("{KEY_PREFIX}{}\n", B64.encode(doc.as_ref()));
                turva_store::keys::write_private_file(path, text.as_bytes())
                    .map_err(|e| e.to_string())?;
                doc.as_ref().to_vec()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!(
                    "the audit signing key {} is missing, but checkpoints were signed with it: restore it (a new key would hide a rewritten log)",
                    path.display()
                ))
            }
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
            .map_err(|_| format!("{} is not a valid Ed25519 key", path.display()))?;
        let digest = Sha256::digest(pair.public_key().as_ref());
        let name = format!("turva.audit/{}", hex::encode(&digest[..8]));
        Ok(Signer {
            pair,
            name,
            making: tokio::sync::Mutex::new(()),
        })
    }

    /// The log's name (the checkpoints' origin and the key's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The public key as a C2SP verifier key:
    /// `<name>+<key id hex>+<base64(0x01 ‖ public key)>`.
    pub fn verifier_key(&self) -> String {
        let mut typed = vec![1u8];
        typed.extend_from_slice(self.public_key());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(key_id(&self.name, self.public_key())),
            B64.encode(typed)
        )
    }

    /// The signed note for a tree of `size` leaves with root `root`.
    pub fn sign(&self, size: u64, root: &Hash) -> String {
        self.sign_body(note_body(&self.name, size, root))
    }

    /// The signed restore record: a checkpoint note of the tree a restore
    /// rolled back to, with the extension line `restore <backup id>`, so
    /// it is never mistaken for a plain checkpoint (nor one for it).
    pub fn sign_restore(&self, size: u64, root: &Hash, backup: &str) -> String {
        self.sign_body(format!(
            "{}restore {backup}\n",
            note_body(&self.name, size, root)
        ))
    }

    /// An Ed25519 signature of `bytes` (backup manifests).
    pub fn sign_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        self.pair.sign(bytes).as_ref().to_vec()
    }

    /// Whether `sig` is this key's signature of `bytes`.
    pub fn verify_bytes(&self, bytes: &[u8], sig: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, self.public_key())
            .verify(bytes, sig)
            .is_ok()
    }

    fn sign_body(&self, body: String) -> String {
        let sig = self.pair.sign(body.as_bytes());
        let mut blob = key_id(&self.name, self.public_key()).to_vec();
        blob.extend_from_slice(sig.as_ref());
        format!("{body}\n\u{2014} {} {}\n", self.name, B64.encode(blob))
    }
}

/// The checkpoint body: origin, size and base64 root, each on a line.
pub fn note_body(origin: &str, size: u64, root: &Hash) -> String {
    format!("{origin}\n{size}\n{}\n", B64.encode(root))
}

/// The C2SP signed-note key id of an Ed25519 key.
pub fn key_id(name: &str, public: &[u8]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0A, 0x01]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// Checks a checkpoint note against the log's name and public key: the
/// size and root it signs, or None when it is malformed, of another log,
/// or its signature does not verify.
pub fn verify_note(note: &str, name: &str, public: &[u8]) -> Option<(u64, Hash)> {
    match parse_note(note, name, public)? {
        (size, root, None) => Some((size, root)),
        _ => None,
    }
}

/// Checks a restore record (see [`Signer::sign_restore`]): the size and
/// root the restore rolled back to, and the backup's id.
pub fn verify_restore_note(note: &str, name: &str, public: &[u8]) -> Option<(u64, Hash, String)> {
    match parse_note(note, name, public)? {
        (size, root, Some(backup)) => Some((size, root, backup)),
        _ => None,
    }
}

/// A note's size, root and restore extension (if any), when it is of this
/// log and its signature verifies.
fn parse_note(note: &str, name: &str, public: &[u8]) -> Option<(u64, Hash, Option<String>)> {
    let (body, sigs) = note.split_once("\n\n")?;
    let body = format!("{body}\n");
    let mut lines = body.lines();
    let (origin, size, root) = (lines.next()?, lines.next()?, lines.next()?);
    let restore = match lines.next() {
        None => None,
        Some(ext) => Some(ext.strip_prefix("restore ")?.to_string()),
    };
    if origin != name || lines.next().is_some() {
        return None;
    }
    let size: u64 = size.parse().ok()?;
    let root: Hash = B64.decode(root).ok()?.try_into().ok()?;
    let want_id = key_id(name, public);
    let ok = sigs.lines().any(|line| {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return false;
        };
        let Some((signer, b64)) = rest.split_once(' ') else {
            return false;
        };
        let Ok(blob) = B64.decode(b64) else {
            return false;
        };
        signer == name
            && blob.len() == 68
            && blob[..4] == want_id
            && UnparsedPublicKey::new(&ED25519, public)
                .verify(body.as_bytes(), &blob[4..])
                .is_ok()
    });
    ok.then_some((size, root, restore))
}

/// Where checkpoints are appended outside the database.
pub fn external_file(data_dir: &Path) -> PathBuf {
    data_dir.join("audit-checkpoints.log")
}

/// Moves what waits into the log (SQLite), then signs and stores a
/// checkpoint of the tree as it is now, when it grew since the last one
/// (the move signs what it moved itself); appends it to the external file.
/// Returns it, or `None` when nothing was left to sign.
pub async fn make(app: &App) -> Result<Option<CheckpointRow>, AppError> {
    crate::audit_writer::flush(app).await?;
    let _one_at_a_time = app.signer().making.lock().await;
    let mut tx = app.db().write().await?;
    let Some(row) = sign_in(app, &mut tx).await? else {
        return Ok(None);
    };
    tx.commit().await?;
    published(app, &row)?;
    Ok(Some(row))
}

/// Signs a checkpoint of the tree as `tx` holds it and stores it in `tx`,
/// when the tree grew since the newest one; the caller commits, then hands
/// the row to [`published`]. (The mover signs in its own transaction, so
/// that moving events and signing them is one commit to the main file.)
/// Callers hold `Signer::making`.
pub(crate) async fn sign_in(
    app: &App,
    tx: &mut turva_store::Tx,
) -> Result<Option<CheckpointRow>, AppError> {
    let size = store::tree_size(tx).await?;
    let latest = store::latest_checkpoint(tx).await?;
    if latest.as_ref().is_some_and(|c| c.size >= size) || size == 0 {
        return Ok(None);
    }
    let usize_ = u64::try_from(size).unwrap_or(0);
    let root = store::root_at(tx, usize_).await?;
    let row = CheckpointRow {
        size,
        time: app.now(),
        root: root.to_vec(),
        note: app.signer().sign(usize_, &root),
    };
    store::insert_checkpoint(tx, &row).await?;
    Ok(Some(row))
}

/// After the commit of a checkpoint made by [`sign_in`]: its copy in the
/// external file.
pub(crate) fn published(app: &App, row: &CheckpointRow) -> Result<(), AppError> {
    append_external(app.data_dir(), row)
        .map_err(|e| AppError::Unavailable(format!("audit checkpoint file: {e}")))
}

/// Appends one checkpoint to the external file as a JSON line.
fn append_external(dir: &Path, row: &CheckpointRow) -> std::io::Result<()> {
    let line = serde_json::json!({
        "size": row.size,
        "time": crate::clock::rfc3339(row.time),
        "note": row.note,
    });
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(external_file(dir))?;
    writeln!(f, "{line}")?;
    f.sync_data()
}

/// Appends a signed restore record to the checkpoint log of the data
/// directory `dir`: the audit log there was rolled back on purpose to the
/// tree of `size` leaves with root `root` (backup `backup`), and `audit
/// verify` accepts the rollback because of it.
pub fn append_restore(
    dir: &Path,
    signer: &Signer,
    size: u64,
    root: &Hash,
    backup: &str,
    at: i64,
) -> std::io::Result<()> {
    let line = serde_json::json!({
        "size": size,
        "time": crate::clock::rfc3339(at),
        "restore": backup,
        "note": signer.sign_restore(size, root, backup),
    });
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(external_file(dir))?;
    writeln!(f, "{line}")?;
    f.sync_data()
}

/// Once a day (when `[audit] email_checkpoints` is on), emails the newest
/// checkpoint to every company's owners and admins, so a copy of it lives
/// outside this machine. The day's send is claimed in the database, so
/// several processes send it once. Returns how many emails went out.
pub async fn mail_daily(app: &App) -> Result<usize, AppError> {
    const BUCKET: &str = "checkpoint_mail";
    if !app.config().audit.email_checkpoints {
        return Ok(0);
    }
    let now = app.now();
    let mut tx = app.db().write().await?;
    turva_store::throttle::lock(&mut tx, BUCKET, "daily").await?;
    let (sent, _) =
        turva_store::throttle::window(&mut tx, BUCKET, "daily", now - 86_400_000).await?;
    let Some(latest) = store::latest_checkpoint(&mut tx).await? else {
        return Ok(0);
    };
    if sent > 0 {
        return Ok(0);
    }
    turva_store::throttle::record(&mut tx, &crate::secret::new_id(), BUCKET, "daily", now).await?;
    let to = turva_store::members::privileged_addresses(&mut tx).await?;
    tx.commit().await?;
    let link = format!("{}/api/v1/audit/public-key", app.config().public_url());
    for (email, lang) in &to {
        let lang = turva_model::Language::parse("language", lang).unwrap_or_default();
        let m = crate::mail::daily_checkpoint(lang, email, &latest.note, &link);
        crate::auth::send_quietly(app, &m).await;
    }
    Ok(to.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_verify_with_their_key_only() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("audit-signing.key");
        assert!(
            Signer::load_or_create(&path, false).is_err(),
            "never created silently"
        );
        let s = Signer::load_or_create(&path, true).unwrap_or_else(|e| panic!("{e}"));
        let again = Signer::load_or_create(&path, false).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.public_key(), again.public_key(), "the same key is loaded");
        let root = [7u8; 32];
        let note = s.sign(42, &root);
        assert!(note.starts_with(&format!("{}\n42\n", s.name())), "{note}");
        assert_eq!(
            verify_note(&note, s.name(), s.public_key()),
            Some((42, root))
        );
        // Another size, root or key, or another log's name: refused.
        let forged = note.replacen("\n42\n", "\n43\n", 1);
        assert_eq!(verify_note(&forged, s.name(), s.public_key()), None);
        let other = Signer::load_or_create(&dir.path().join("other.key"), true)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(verify_note(&note, other.name(), other.public_key()), None);
        assert_eq!(verify_note(&note, s.name(), other.public_key()), None);
        let resigned = other.sign(42, &root);
        assert_eq!(verify_note(&resigned, s.name(), s.public_key()), None);
        assert!(s.verifier_key().starts_with(&format!("{}+", s.name())));
    }
}
