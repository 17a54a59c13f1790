//! Attachments ("blobs"): files kept in an object store, encrypted at rest
//! and streamed both ways.
//!
//! Threat: someone who reads or changes the stored objects (a disk, a
//! bucket, a backup). Every object is sealed with the STREAM construction
//! (`aead::stream`, big-endian 32-bit counter and last-segment flag) over
//! AES-256-GCM, in segments of 64 KiB of plaintext. Each segment carries its
//! own tag, so a download can hand out plaintext as it goes and still never
//! yields a byte that was not authenticated; the counter in the nonce makes
//! reordered segments fail, and the flag on the final segment makes a
//! truncated object fail. The caller's associated data (naming the company
//! and the object) is bound to every segment, so an object copied under
//! another name does not open.
//!
//! A data key may seal a great many objects, and STREAM leaves only 7 bytes
//! of random nonce per object: too few to rule out a repeat. So each object
//! gets a random 32-byte salt, and its segments are sealed under a key
//! derived from the data key and that salt with HKDF-SHA256 (as Tink's
//! streaming AEAD does); a repeated nonce prefix under different keys is
//! harmless.
//!
//! Layout of an object:
//! `"TVB1" || format (1 byte, = 1) || salt (32) || nonce prefix (7)`, then the
//! sealed segments: every one but the last is 64 KiB + 16 bytes of tag, the
//! last (sealed as last) is 16 to 64 KiB + 16 bytes. An empty file is one
//! empty final segment.
//!
//! Uploads go through the store's multipart upload, so at most a few parts
//! are in memory at once; a failed upload (too large, a broken input stream,
//! a store error) is aborted, and the object store only makes the object
//! visible when the upload completes, so nothing is left behind. A download
//! that fails half-way has already handed out the authenticated segments
//! before the failure: callers that answer HTTP must abort the response on
//! an error item rather than end it cleanly.

use std::path::Path;
use std::sync::Arc;

use aead::generic_array::GenericArray;
use aead::stream::{DecryptorBE32, EncryptorBE32};
use aead::{KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use bytes::{Bytes, BytesMut};
use futures_util::stream::{BoxStream, Stream, StreamExt};
use hkdf::Hkdf;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::StoreError;
use crate::keys::DataKey;

/// Where encrypted attachments live. Cloning is cheap (one `Arc`).
#[derive(Debug, Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Size of the parts a multipart upload sends. S3 needs at least 5 MiB
    /// for every part but the last; local files take any size.
    part_size: usize,
}

/// What `put_encrypted` learned about the plaintext while storing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Plaintext length in bytes.
    pub size: u64,
    /// SHA-256 of the plaintext, lowercase hex.
    pub sha256: String,
    /// The first 8 KiB of plaintext (all of it when shorter), for sniffing
    /// the content type.
    pub head: Vec<u8>,
}

/// A failed blob operation.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The upload passed its size limit; nothing was stored.
    #[error("the file is larger than allowed")]
    TooLarge,
    /// The client's input stream failed; nothing was stored.
    #[error("the upload was interrupted: {0}")]
    Input(String),
    /// A stored object does not open (tampered, truncated, reordered, wrong
    /// key or associated data, or missing), or the caller passed a key that
    /// is not a valid object name (a bug).
    #[error("stored blob is unreadable: {0}")]
    Corrupt(String),
    /// The object store could not be reached or failed. The cause goes to
    /// the log, never to a client.
    #[error("blob store unavailable: {0}")]
    Unavailable(String),
}

impl BlobStore {
    /// Files under `dir` (created 0700 if missing).
    pub fn local(dir: &Path) -> Result<Self, StoreError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir).map_err(|e| {
            StoreError::Corrupt(format!(
                "cannot create the blob directory {}: {e}",
                dir.display()
            ))
        })?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| {
                StoreError::Corrupt(format!(
                    "cannot open the blob directory {}: {e}",
                    dir.display()
                ))
            })?
            // Deleting the last object of a folder removes the folder too.
            .with_automatic_cleanup(true);
        Ok(BlobStore {
            store: Arc::new(store),
            part_size: LOCAL_PART_SIZE,
        })
    }

    /// Streams `data` into the object `key`, encrypted under `data_key` with
    /// `aad` bound to every segment.
    ///
    /// Never holds the whole file in memory: plaintext is sealed 64 KiB at a
    /// time and at most `PARTS_IN_FLIGHT` upload parts wait for the store.
    /// Counts plaintext bytes; past `limit` it aborts the upload, leaves
    /// nothing behind and returns [`BlobError::TooLarge`]. An error in the
    /// input stream also aborts and leaves nothing ([`BlobError::Input`]).
    /// An existing object under `key` is replaced only when the upload
    /// succeeds.
    pub async fn put_encrypted<S, E>(
        &self,
        key: &str,
        data_key: &DataKey,
        aad: &str,
        limit: u64,
        data: S,
    ) -> Result<Stored, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: std::fmt::Display,
    {
        let path = object_path(key)?;
        let upload = self.store.put_multipart(&path).await.map_err(unavailable)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_size);
        match seal_stream(&mut writer, data_key, aad, limit, data).await {
            // `finish` aborts the upload itself when completing fails.
            Ok(stored) => writer.finish().await.map(|_| stored).map_err(unavailable),
            Err(e) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(error = %abort, "aborting a failed blob upload failed");
                }
                Err(e)
            }
        }
    }

    /// The decrypted plaintext of `key` as a stream of segments.
    ///
    /// A segment that fails authentication (tampered, truncated, reordered,
    /// wrong key or aad) ends the stream with an error item; unauthenticated
    /// plaintext is never yielded. A missing object or a bad header fails
    /// before any stream is returned.
    pub async fn get_decrypted(
        &self,
        key: &str,
        data_key: &DataKey,
        aad: &str,
    ) -> Result<impl Stream<Item = Result<Bytes, BlobError>> + Send + 'static, BlobError> {
        let got = self.get_object(key).await?;
        let mut body = got.into_stream();
        let mut buffer = BytesMut::new();
        while buffer.len() < HEADER_LEN {
            match body.next().await {
                Some(Ok(bytes)) => buffer.extend_from_slice(&bytes),
                Some(Err(e)) => return Err(unavailable(e)),
                None => {
                    return Err(BlobError::Corrupt(format!(
                        "blob {key} is shorter than its header"
                    )))
                }
            }
        }
        let header = Header::parse(&buffer.split_to(HEADER_LEN))
            .ok_or_else(|| BlobError::Corrupt(format!("blob {key} has an unknown header")))?;
        let decryptor = DecryptorBE32::from_aead(header.cipher(data_key)?, &header.nonce_prefix());
        let opener = Opener {
            key: key.to_string(),
            aad: aad.as_bytes().to_vec(),
            body,
            buffer,
            decryptor: Some(decryptor),
        };
        Ok(futures_util::stream::unfold(
            opener,
            |mut opener| async move {
                let item = opener.next_segment().await?;
                Some((item, opener))
            },
        ))
    }

    /// The stored (encrypted) bytes of `key`, as they are: backups copy
    /// attachments without opening them.
    pub async fn get_raw(&self, key: &str) -> Result<Bytes, BlobError> {
        let got = self.get_object(key).await?;
        got.bytes().await.map_err(unavailable)
    }

    async fn get_object(&self, key: &str) -> Result<object_store::GetResult, BlobError> {
        let path = object_path(key)?;
        self.store.get(&path).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => {
                BlobError::Corrupt(format!("blob {key} is missing"))
            }
            e => unavailable(e),
        })
    }

    /// Stores already encrypted bytes under `key` (a restore puts back what
    /// [`BlobStore::get_raw`] gave).
    pub async fn put_raw(&self, key: &str, bytes: Bytes) -> Result<(), BlobError> {
        let path = object_path(key)?;
        self.store
            .put(&path, object_store::PutPayload::from_bytes(bytes))
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    /// Removes the object `key`; a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = object_path(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Whether the object `key` exists.
    pub async fn exists(&self, key: &str) -> Result<bool, BlobError> {
        let path = object_path(key)?;
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// For `/readyz`: the store answers. It asks for the metadata of a probe
    /// object that need not exist, which costs the same however many objects
    /// the store holds; "not found" is an answer.
    pub async fn ping(&self) -> Result<(), BlobError> {
        match self.store.head(&ObjectPath::from(PROBE_KEY)).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

const MAGIC: &[u8; 4] = b"TVB1";
/// Format 1: HKDF-SHA256 subkey, AES-256-GCM, STREAM BE32, 64 KiB segments.
const FORMAT: u8 = 1;
const SALT_LEN: usize = 32;
/// AES-GCM's 12-byte nonce less STREAM's 4-byte counter and 1-byte flag.
const NONCE_PREFIX_LEN: usize = 7;
const HEADER_LEN: usize = MAGIC.len() + 1 + SALT_LEN + NONCE_PREFIX_LEN;
const SEGMENT: usize = 64 * 1024;
const TAG_LEN: usize = 16;
const SEALED_SEGMENT: usize = SEGMENT + TAG_LEN;
const HEAD_LEN: usize = 8 * 1024;
const KDF_INFO: &[u8] = b"turva/blob/v1";
/// Local parts stay small; an S3 backend will need 5 MiB.
const LOCAL_PART_SIZE: usize = 1024 * 1024;
/// Parts being written while the next one fills: bounds memory per upload
/// to about `(PARTS_IN_FLIGHT + 1) * part_size`.
const PARTS_IN_FLIGHT: usize = 2;
const PROBE_KEY: &str = "turva-readyz-probe";
const MAX_KEY_LEN: usize = 512;

/// Reads the input, seals it segment by segment and hands the ciphertext to
/// `writer`. The caller completes or aborts the upload.
async fn seal_stream<S, E>(
    writer: &mut WriteMultipart,
    data_key: &DataKey,
    aad: &str,
    limit: u64,
    mut data: S,
) -> Result<Stored, BlobError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let header = Header::random();
    let mut encryptor = EncryptorBE32::from_aead(header.cipher(data_key)?, &header.nonce_prefix());
    writer.put(Bytes::copy_from_slice(&header.to_bytes()));

    let mut size: u64 = 0;
    let mut sha = Sha256::new();
    let mut head = Vec::new();
    let mut pending = Vec::with_capacity(SEGMENT);
    while let Some(item) = data.next().await {
        let mut chunk = item.map_err(|e| BlobError::Input(e.to_string()))?;
        size = size.saturating_add(chunk.len() as u64);
        if size > limit {
            return Err(BlobError::TooLarge);
        }
        sha.update(&chunk);
        let wanted = HEAD_LEN.saturating_sub(head.len()).min(chunk.len());
        head.extend_from_slice(&chunk[..wanted]);
        while !chunk.is_empty() {
            // A full segment is sealed as "next" only once a byte after it
            // has arrived: the final one must be sealed as last.
            if pending.len() == SEGMENT {
                let sealed = encryptor
                    .encrypt_next(Payload {
                        msg: &pending,
                        aad: aad.as_bytes(),
                    })
                    // Only the 2^32 segment counter can run out (256 TiB).
                    .map_err(|_| BlobError::TooLarge)?;
                pending.clear();
                put_part(writer, sealed).await?;
            }
            let take = (SEGMENT - pending.len()).min(chunk.len());
            pending.extend_from_slice(&chunk.split_to(take));
        }
    }
    let sealed = encryptor
        .encrypt_last(Payload {
            msg: &pending,
            aad: aad.as_bytes(),
        })
        .map_err(|_| BlobError::TooLarge)?;
    put_part(writer, sealed).await?;
    Ok(Stored {
        size,
        sha256: hex::encode(sha.finalize()),
        head,
    })
}

/// Queues ciphertext for upload, first waiting until few enough parts are
/// in flight (back pressure on the client's stream).
async fn put_part(writer: &mut WriteMultipart, sealed: Vec<u8>) -> Result<(), BlobError> {
    writer
        .wait_for_capacity(PARTS_IN_FLIGHT)
        .await
        .map_err(unavailable)?;
    writer.put(Bytes::from(sealed));
    Ok(())
}

/// The state of a download: the ciphertext still to come and the
/// decryptor, `None` once the stream has ended (or failed).
struct Opener {
    key: String,
    aad: Vec<u8>,
    body: BoxStream<'static, object_store::Result<Bytes>>,
    buffer: BytesMut,
    decryptor: Option<DecryptorBE32<Aes256Gcm>>,
}

impl Opener {
    /// The next authenticated plaintext segment, an error (after which the
    /// stream ends), or `None` at the end.
    async fn next_segment(&mut self) -> Option<Result<Bytes, BlobError>> {
        loop {
            // More than one sealed segment buffered: the first is not the
            // last one.
            if self.buffer.len() > SEALED_SEGMENT {
                let sealed = self.buffer.split_to(SEALED_SEGMENT);
                let decryptor = self.decryptor.as_mut()?;
                let opened = decryptor.decrypt_next(Payload {
                    msg: &sealed,
                    aad: &self.aad,
                });
                return Some(match opened {
                    Ok(plain) => Ok(Bytes::from(plain)),
                    Err(_) => Err(self.fail()),
                });
            }
            self.decryptor.as_ref()?;
            match self.body.next().await {
                Some(Ok(bytes)) => self.buffer.extend_from_slice(&bytes),
                Some(Err(e)) => {
                    self.decryptor = None;
                    return Some(Err(unavailable(e)));
                }
                None => {
                    let decryptor = self.decryptor.take()?;
                    let sealed = std::mem::take(&mut self.buffer);
                    return match decryptor.decrypt_last(Payload {
                        msg: &sealed,
                        aad: &self.aad,
                    }) {
                        Ok(plain) if plain.is_empty() => None,
                        Ok(plain) => Some(Ok(Bytes::from(plain))),
                        Err(_) => Some(Err(self.fail())),
                    };
                }
            }
        }
    }

    fn fail(&mut self) -> BlobError {
        self.decryptor = None;
        BlobError::Corrupt(format!(
            "blob {} does not authenticate (altered, truncated, reordered, or wrong key or aad)",
            self.key
        ))
    }
}

/// The per-object header: everything but the key needed to open it.
struct Header {
    salt: [u8; SALT_LEN],
    nonce_prefix: [u8; NONCE_PREFIX_LEN],
}

impl Header {
    fn random() -> Self {
        let mut salt = [0u8; SALT_LEN];
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        rand::rngs::OsRng.fill_bytes(&mut nonce_prefix);
        Header { salt, nonce_prefix }
    }

    fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let (magic, rest) = out.split_at_mut(MAGIC.len());
        magic.copy_from_slice(MAGIC);
        let (format, rest) = rest.split_at_mut(1);
        format[0] = FORMAT;
        let (salt, nonce_prefix) = rest.split_at_mut(SALT_LEN);
        salt.copy_from_slice(&self.salt);
        nonce_prefix.copy_from_slice(&self.nonce_prefix);
        out
    }

    /// `None` for anything but a format-1 header.
    fn parse(bytes: &[u8]) -> Option<Self> {
        let rest = bytes.strip_prefix(MAGIC)?.strip_prefix(&[FORMAT])?;
        let (salt, nonce_prefix) = rest.split_at_checked(SALT_LEN)?;
        Some(Header {
            salt: salt.try_into().ok()?,
            nonce_prefix: nonce_prefix.try_into().ok()?,
        })
    }

    /// AES-256-GCM under this object's subkey of `data_key`.
    fn cipher(&self, data_key: &DataKey) -> Result<Aes256Gcm, BlobError> {
        let mut subkey = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(&self.salt), data_key.as_bytes())
            .expand(KDF_INFO, subkey.as_mut())
            // Only an output longer than 255 hashes is refused.
            .map_err(|_| BlobError::Corrupt("key derivation failed".into()))?;
        let subkey: &[u8; 32] = &subkey;
        Ok(Aes256Gcm::new(subkey.into()))
    }

    fn nonce_prefix(&self) -> GenericArray<u8, aead::consts::U7> {
        GenericArray::from(self.nonce_prefix)
    }
}

/// Checks that `key` is a plain object name: segments of ASCII letters,
/// digits, `-`, `_` and `.` separated by `/`, none empty or starting with a
/// dot. Keys are made by Turva, never by clients, so anything else is a bug.
fn object_path(key: &str) -> Result<ObjectPath, BlobError> {
    let plain = key.len() <= MAX_KEY_LEN
        && key.split('/').all(|segment| {
            !segment.is_empty()
                && !segment.starts_with('.')
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    if !plain {
        return Err(BlobError::Corrupt(format!(
            "{key:?} is not a valid blob key"
        )));
    }
    ObjectPath::parse(key)
        .map_err(|e| BlobError::Corrupt(format!("{key:?} is not a valid blob key: {e}")))
}

fn unavailable(e: object_store::Error) -> BlobError {
    BlobError::Unavailable(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    const MARKER: &[u8; 64] = b"<<TURVA-PLAINTEXT-MARKER-do-not-store-in-clear-0123456789abcdef>";
    const AAD: &str = "turva/blob/company/c1/document/d1";
    /// Odd input chunk sizes, used in turn.
    const CHUNKS: &[usize] = &[1, 7, 4093, 65_537, 333, 100_000, 65_535];

    fn setup() -> (tempfile::TempDir, BlobStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::local(dir.path()).unwrap();
        (dir, store)
    }

    /// Deterministic noise with the marker written at the start, the
    /// middle and the end (where it fits).
    fn plaintext(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ len as u64;
        let mut out: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        if len >= MARKER.len() {
            for at in [0, len / 2 - MARKER.len() / 2, len - MARKER.len()] {
                let at = at.min(len - MARKER.len());
                out[at..at + MARKER.len()].copy_from_slice(MARKER);
            }
        }
        out
    }

    fn chunked(data: &[u8]) -> Vec<Bytes> {
        let mut out = Vec::new();
        let mut rest = data;
        for size in CHUNKS.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (now, later) = rest.split_at((*size).min(rest.len()));
            out.push(Bytes::copy_from_slice(now));
            rest = later;
        }
        out
    }

    fn input(data: &[u8]) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + Unpin {
        futures_util::stream::iter(chunked(data).into_iter().map(Ok))
    }

    async fn put(store: &BlobStore, key: &str, data: &[u8]) -> Stored {
        store
            .put_encrypted(key, &data_key(), AAD, u64::MAX, input(data))
            .await
            .unwrap()
    }

    /// Everything a download yields: the plaintext before the first error,
    /// and that error (from the call or from the stream).
    async fn download(
        store: &BlobStore,
        key: &str,
        data_key: &DataKey,
        aad: &str,
    ) -> (Vec<u8>, Option<BlobError>) {
        let mut stream = match store.get_decrypted(key, data_key, aad).await {
            Ok(stream) => Box::pin(stream),
            Err(e) => return (Vec::new(), Some(e)),
        };
        let mut out = Vec::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(bytes) => out.extend_from_slice(&bytes),
                Err(e) => {
                    assert!(stream.next().await.is_none(), "the stream ends at an error");
                    return (out, Some(e));
                }
            }
        }
        (out, None)
    }

    /// One fixed key, so tests can seal and open with "the" key.
    fn data_key() -> DataKey {
        DataKey::from_bytes(&[0x42; 32]).unwrap()
    }

    /// Every regular file under `dir`, recursively.
    fn files(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(files(&path));
            } else {
                out.push(path);
            }
        }
        out
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    /// Stores a file of three full segments and a short one, lets `damage`
    /// change the object on disk, and returns what a download then gives.
    async fn check_damage(damage: impl FnOnce(&mut Vec<u8>)) -> (Vec<u8>, Vec<u8>, BlobError) {
        let (dir, store) = setup();
        let data = plaintext(3 * SEGMENT + 1000);
        put(&store, "doc", &data).await;
        let path = dir.path().join("doc");
        let mut stored = std::fs::read(&path).unwrap();
        damage(&mut stored);
        std::fs::write(&path, &stored).unwrap();
        let (got, err) = download(&store, "doc", &data_key(), AAD).await;
        (data, got, err.expect("a damaged object must fail"))
    }

    fn segment_range(i: usize) -> std::ops::Range<usize> {
        HEADER_LEN + i * SEALED_SEGMENT..HEADER_LEN + (i + 1) * SEALED_SEGMENT
    }

    #[tokio::test]
    async fn files_of_every_boundary_size_round_trip() {
        for len in [0, 1, 65_535, 65_536, 65_537, 3 * 1024 * 1024] {
            let (dir, store) = setup();
            let data = plaintext(len);
            let stored = put(&store, "company-1/doc-1", &data).await;
            assert_eq!(stored.size, len as u64);
            assert_eq!(stored.sha256, hex::encode(Sha256::digest(&data)));
            assert_eq!(stored.head, data[..len.min(HEAD_LEN)]);

            let on_disk = std::fs::read(dir.path().join("company-1/doc-1")).unwrap();
            let segments = len.div_ceil(SEGMENT).max(1);
            assert_eq!(
                on_disk.len(),
                HEADER_LEN + len + segments * TAG_LEN,
                "len {len}"
            );
            assert!(on_disk.starts_with(b"TVB1\x01"));
            if len >= MARKER.len() {
                assert!(contains(&data, MARKER));
                assert!(!contains(&on_disk, MARKER), "plaintext on disk, len {len}");
            }

            let (got, err) = download(&store, "company-1/doc-1", &data_key(), AAD).await;
            assert!(err.is_none(), "len {len}: {err:?}");
            assert_eq!(got.len(), data.len());
            assert!(got == data, "len {len}: round trip differs");
        }
    }

    #[tokio::test]
    async fn two_uploads_of_the_same_file_differ_on_disk() {
        let (dir, store) = setup();
        let data = plaintext(1000);
        put(&store, "a", &data).await;
        put(&store, "b", &data).await;
        let a = std::fs::read(dir.path().join("a")).unwrap();
        let b = std::fs::read(dir.path().join("b")).unwrap();
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn an_upload_over_the_limit_is_refused_and_leaves_nothing() {
        let (dir, store) = setup();
        let data = plaintext(3 * SEGMENT);
        let limit = data.len() as u64 - 1;
        let result = store
            .put_encrypted("big", &data_key(), AAD, limit, input(&data))
            .await;
        assert!(matches!(result, Err(BlobError::TooLarge)), "{result:?}");
        assert_eq!(files(dir.path()), Vec::<std::path::PathBuf>::new());
        assert!(!store.exists("big").await.unwrap());

        // Exactly at the limit is fine.
        let stored = store
            .put_encrypted("big", &data_key(), AAD, limit + 1, input(&data))
            .await
            .unwrap();
        assert_eq!(stored.size, limit + 1);
    }

    #[tokio::test]
    async fn a_failing_input_stream_aborts_and_leaves_nothing() {
        let (dir, store) = setup();
        let data = plaintext(2 * 1024 * 1024);
        let items = chunked(&data)
            .into_iter()
            .map(Ok)
            .chain([Err("connection reset".to_string())]);
        let result = store
            .put_encrypted(
                "doc",
                &data_key(),
                AAD,
                u64::MAX,
                futures_util::stream::iter(items),
            )
            .await;
        assert!(
            matches!(&result, Err(BlobError::Input(m)) if m == "connection reset"),
            "{result:?}"
        );
        assert_eq!(files(dir.path()), Vec::<std::path::PathBuf>::new());
    }

    #[tokio::test]
    async fn a_failed_upload_keeps_the_previous_object() {
        let (_dir, store) = setup();
        let old = plaintext(5000);
        put(&store, "doc", &old).await;
        let new = plaintext(3 * SEGMENT);
        let result = store
            .put_encrypted("doc", &data_key(), AAD, 10, input(&new))
            .await;
        assert!(matches!(result, Err(BlobError::TooLarge)));
        let (got, err) = download(&store, "doc", &data_key(), AAD).await;
        assert!(err.is_none());
        assert!(got == old);
    }

    #[tokio::test]
    async fn a_flipped_byte_in_a_segment_fails_before_that_segment() {
        let (data, got, err) = check_damage(|s| s[segment_range(1).start + 100] ^= 1).await;
        assert!(matches!(err, BlobError::Corrupt(_)), "{err:?}");
        assert!(
            got == data[..SEGMENT],
            "only the first segment is handed out"
        );
    }

    #[tokio::test]
    async fn a_flipped_tag_byte_in_the_last_segment_fails() {
        let (data, got, err) = check_damage(|s| {
            if let Some(b) = s.last_mut() {
                *b ^= 0x80;
            }
        })
        .await;
        assert!(matches!(err, BlobError::Corrupt(_)));
        assert!(got == data[..3 * SEGMENT]);
    }

    #[tokio::test]
    async fn a_changed_header_fails_before_any_plaintext() {
        for at in [0, 4, 5, 20, HEADER_LEN - 1] {
            let (_, got, err) = check_damage(|s| s[at] ^= 1).await;
            assert!(matches!(err, BlobError::Corrupt(_)), "at {at}: {err:?}");
            assert!(got.is_empty(), "at {at}");
        }
    }

    #[tokio::test]
    async fn a_truncated_last_segment_fails() {
        // The last segment cut short.
        let (data, got, err) = check_damage(|s| s.truncate(s.len() - 1)).await;
        assert!(matches!(err, BlobError::Corrupt(_)));
        assert!(got == data[..3 * SEGMENT]);
        // The last segment removed whole: the one before it was not sealed
        // as last.
        let (data, got, err) = check_damage(|s| s.truncate(segment_range(3).start)).await;
        assert!(matches!(err, BlobError::Corrupt(_)));
        assert!(got == data[..2 * SEGMENT]);
        // Only the header left.
        let (_, got, err) = check_damage(|s| s.truncate(HEADER_LEN)).await;
        assert!(matches!(err, BlobError::Corrupt(_)));
        assert!(got.is_empty());
        // Not even a header.
        let (_, got, err) = check_damage(|s| s.truncate(10)).await;
        assert!(matches!(err, BlobError::Corrupt(_)));
        assert!(got.is_empty());
    }

    #[tokio::test]
    async fn appended_bytes_fail() {
        let (data, got, err) = check_damage(|s| s.extend_from_slice(&[0; 17])).await;
        assert!(matches!(err, BlobError::Corrupt(_)));
        assert!(got == data[..3 * SEGMENT]);
    }

    #[tokio::test]
    async fn swapped_segments_fail() {
        let (data, got, err) = check_damage(|s| {
            let second = s[segment_range(1)].to_vec();
            let third = s[segment_range(2)].to_vec();
            s[segment_range(1)].copy_from_slice(&third);
            s[segment_range(2)].copy_from_slice(&second);
        })
        .await;
        assert!(matches!(err, BlobError::Corrupt(_)));
        assert!(got == data[..SEGMENT]);
    }

    #[tokio::test]
    async fn a_wrong_key_or_aad_yields_no_plaintext() {
        let (_dir, store) = setup();
        let data = plaintext(2 * SEGMENT + 5);
        put(&store, "doc", &data).await;

        let (got, err) = download(&store, "doc", &DataKey::random(), AAD).await;
        assert!(matches!(err, Some(BlobError::Corrupt(_))), "{err:?}");
        assert!(got.is_empty());

        let other_aad = "turva/blob/company/c2/document/d1";
        let (got, err) = download(&store, "doc", &data_key(), other_aad).await;
        assert!(matches!(err, Some(BlobError::Corrupt(_))), "{err:?}");
        assert!(got.is_empty());

        // An object copied under another name still needs its own aad.
        let empty = plaintext(0);
        put(&store, "empty", &empty).await;
        let (got, err) = download(&store, "empty", &data_key(), other_aad).await;
        assert!(matches!(err, Some(BlobError::Corrupt(_))), "{err:?}");
        assert!(got.is_empty());
    }

    #[tokio::test]
    async fn delete_exists_and_ping() {
        let (dir, store) = setup();
        store.ping().await.unwrap();
        assert!(!store.exists("a/b").await.unwrap());
        put(&store, "a/b", b"hello").await;
        assert!(store.exists("a/b").await.unwrap());
        store.delete("a/b").await.unwrap();
        assert!(!store.exists("a/b").await.unwrap());
        store.delete("a/b").await.unwrap();
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
        let (_, err) = download(&store, "a/b", &data_key(), AAD).await;
        assert!(matches!(err, Some(BlobError::Corrupt(_))), "{err:?}");
    }

    #[tokio::test]
    async fn keys_that_are_not_plain_names_are_refused() {
        let (_dir, store) = setup();
        for key in [
            "", "/a", "a/", "a//b", "../a", "a/../b", ".hidden", "a b", "a#1", "ä",
        ] {
            let result = store.exists(key).await;
            assert!(matches!(result, Err(BlobError::Corrupt(_))), "{key:?}");
        }
        assert!(store.exists("company-1/doc_2.v3").await.is_ok());
    }

    #[test]
    fn the_local_directory_is_created_private() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = dir.path().join("files");
        BlobStore::local(&blobs).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&blobs).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }

    #[test]
    fn uploads_and_downloads_can_move_between_threads() {
        fn send<T: Send>(_: &T) {}
        let (_dir, store) = setup();
        let key = data_key();
        send(&store.put_encrypted("a", &key, AAD, 1, input(b"x")));
        send(&store.get_decrypted("a", &key, AAD));
    }
}
