//! Where backups (and the key ring's copies) are kept: a local directory,
//! through `object_store`, like the attachments. Every object is written
//! whole or not at all (the local store writes a temporary file and
//! renames it), so a backup killed half-way leaves only objects that no
//! manifest names.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// A failed operation on a backup target, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The object is not there.
    #[error("{0} is missing")]
    Missing(String),
    /// The target could not be reached, is full, or refused.
    #[error("backup target {0}")]
    Unavailable(String),
}

/// One object listed: its name, size and when it was written (ms).
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    pub size: u64,
    pub modified: i64,
}

/// A backup target. Cloning is cheap.
#[derive(Debug, Clone)]
pub struct Target {
    store: Arc<dyn ObjectStore>,
    describe: String,
}

fn fail(what: &str, e: object_store::Error) -> TargetError {
    match e {
        object_store::Error::NotFound { .. } => TargetError::Missing(what.to_string()),
        e => TargetError::Unavailable(format!("{what}: {e}")),
    }
}

fn path(name: &str) -> Result<ObjectPath, TargetError> {
    ObjectPath::parse(name).map_err(|e| TargetError::Unavailable(format!("bad name {name}: {e}")))
}

impl Target {
    /// The directory `dir`, created 0700 if missing.
    pub fn local(dir: &Path) -> Result<Target, TargetError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir).map_err(|e| {
            TargetError::Unavailable(format!("cannot create {}: {e}", dir.display()))
        })?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| TargetError::Unavailable(format!("{}: {e}", dir.display())))?
            .with_automatic_cleanup(true);
        Ok(Target {
            store: Arc::new(store),
            describe: dir.display().to_string(),
        })
    }

    /// An S3-compatible bucket: `s3://BUCKET[/PREFIX][?endpoint=URL&region=R&allow_http=true]`.
    /// Credentials come from the usual `AWS_*` environment variables (or
    /// `access_key_id` and `secret_access_key` in the query, for servers
    /// such as MinIO's or a test's).
    pub fn s3(url: &str) -> Result<Target, TargetError> {
        let bad = |why: &str| TargetError::Unavailable(format!("{}: {why}", redact(url)));
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| bad("not an s3:// URL"))?;
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket"));
        }
        let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            b = match k {
                "endpoint" => b.with_endpoint(v),
                "region" => b.with_region(v),
                "allow_http" => b.with_allow_http(v == "true"),
                "access_key_id" => b.with_access_key_id(v),
                "secret_access_key" => b.with_secret_access_key(v),
                _ => return Err(bad(&format!("unknown option {k}"))),
            };
        }
        let store = b.build().map_err(|e| bad(&e.to_string()))?;
        let store: Arc<dyn ObjectStore> = if prefix.trim_matches('/').is_empty() {
            Arc::new(store)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(
                store,
                prefix.trim_matches('/'),
            ))
        };
        Ok(Target {
            store,
            describe: redact(url),
        })
    }

    /// Where it is, for messages.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// Writes `name` whole (replacing it).
    pub async fn put(&self, name: &str, bytes: Bytes) -> Result<(), TargetError> {
        self.store
            .put(&path(name)?, PutPayload::from_bytes(bytes))
            .await
            .map(|_| ())
            .map_err(|e| fail(&format!("writing {name} in {}", self.describe), e))
    }

    /// Reads `name` whole.
    pub async fn get(&self, name: &str) -> Result<Bytes, TargetError> {
        let got = self
            .store
            .get(&path(name)?)
            .await
            .map_err(|e| fail(name, e))?;
        got.bytes().await.map_err(|e| fail(name, e))
    }

    /// Reads bytes `start .. end` of `name`.
    pub async fn get_range(&self, name: &str, start: u64, end: u64) -> Result<Bytes, TargetError> {
        self.store
            .get_range(&path(name)?, start..end)
            .await
            .map_err(|e| fail(name, e))
    }

    /// Reads at most the first `n` bytes of `name`.
    pub async fn get_head(&self, name: &str, n: u64) -> Result<Bytes, TargetError> {
        let p = path(name)?;
        let meta = self.store.head(&p).await.map_err(|e| fail(name, e))?;
        let end = meta.size.min(n);
        if end == 0 {
            return Ok(Bytes::new());
        }
        self.store
            .get_range(&p, 0..end)
            .await
            .map_err(|e| fail(name, e))
    }

    /// Whether `name` exists.
    pub async fn exists(&self, name: &str) -> Result<bool, TargetError> {
        match self.store.head(&path(name)?).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(fail(name, e)),
        }
    }

    /// Every object under `prefix`.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Listed>, TargetError> {
        let p = path(prefix)?;
        let metas: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&p))
            .try_collect()
            .await
            .map_err(|e| fail(&format!("listing {prefix} in {}", self.describe), e))?;
        Ok(metas
            .into_iter()
            .map(|m| Listed {
                name: m.location.to_string(),
                size: m.size,
                modified: m.last_modified.timestamp_millis(),
            })
            .collect())
    }

    /// Deletes `name` (a missing object is not an error).
    pub async fn delete(&self, name: &str) -> Result<(), TargetError> {
        match self.store.delete(&path(name)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(fail(name, e)),
        }
    }
}

/// A target URL without its query (which may hold a secret key).
fn redact(url: &str) -> String {
    url.split('?').next().unwrap_or_default().to_string()
}
