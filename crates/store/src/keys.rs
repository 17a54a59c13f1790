//! The key hierarchy (see docs/design/0001-keys-and-erasure.md).
//!
//! Threat: a stolen disk, database dump or backup. Every data key (the
//! SQLCipher database key, each company's key, each user's key, the
//! platform index key) is random and stored only *wrapped* — sealed with
//! AES-256-GCM under a version of the master key, with associated data
//! naming what the key is for, so a wrapped key cannot be swapped into
//! another slot. The master key itself never enters the database.
//!
//! State: the master-key file holds one or more versions (`v<N> <64 hex>`
//! a line); the newest wraps new keys, older ones still unwrap what they
//! wrapped until rotation (a later issue) rewraps everything. The key ring
//! file beside it holds the wrapped database key, which cannot live inside
//! the database it unlocks.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::Path;

use rand::RngCore;
use zeroize::Zeroizing;

use crate::crypt;
use crate::error::StoreError;

/// A 256-bit secret key. Zeroed on drop; its `Debug` prints no bytes.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    pub fn random() -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(k.as_mut());
        DataKey(k)
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; 32] = bytes.try_into().ok()?;
        Some(DataKey(Zeroizing::new(arr)))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Hex form, for SQLCipher's raw-key pragma only.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0.as_ref()))
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// A data key as stored: sealed by master-key version `kek_version`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WrappedKey {
    pub kek_version: u32,
    #[serde(with = "hex_bytes")]
    pub sealed: Vec<u8>,
}

/// The master key: every version this installation has, and when each was
/// made (seconds since the epoch; unknown for a version written before
/// Turva recorded it).
pub struct MasterKey {
    versions: BTreeMap<u32, DataKey>,
    created: BTreeMap<u32, i64>,
    /// Versions removed because nothing needed them (`retired v<N>`
    /// lines), so a process holding one knows the file lost it on purpose.
    retired: std::collections::BTreeSet<u32>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MasterKey(versions={:?})",
            self.versions.keys().collect::<Vec<_>>()
        )
    }
}

impl MasterKey {
    /// Reads the master-key file, or creates it with one fresh version (mode
    /// 0600, written atomically) when it does not exist and `create` is set.
    pub fn load_or_create(path: &Path, create: bool) -> Result<(Self, bool), StoreError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((Self::parse(&text)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let mut master = MasterKey {
                    versions: BTreeMap::new(),
                    created: BTreeMap::new(),
                    retired: Default::default(),
                };
                master.add_version(now_secs());
                master.save(path)?;
                Ok((master, true))
            }
            Err(e) => Err(StoreError::Corrupt(format!(
                "cannot read the master key file {}: {e}",
                path.display()
            ))),
        }
    }

    /// Parses `v<N> <64 hex digits>` lines; blank lines and `#` comments are
    /// allowed.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let bad = |n: usize| {
            StoreError::Corrupt(format!(
                "master key file: line {n} is not `v<N> <64 hex digits>`"
            ))
        };
        let mut versions = BTreeMap::new();
        let mut created = BTreeMap::new();
        let mut retired = std::collections::BTreeSet::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix("retired v") {
                let v: u32 = rest.trim().parse().map_err(|_| bad(i + 1))?;
                retired.insert(v);
                continue;
            }
            let mut fields = line.split_whitespace();
            let (Some(v), Some(hexkey)) = (fields.next(), fields.next()) else {
                return Err(bad(i + 1));
            };
            let version: u32 = v
                .strip_prefix('v')
                .and_then(|n| n.parse().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| bad(i + 1))?;
            let bytes = Zeroizing::new(hex::decode(hexkey).map_err(|_| bad(i + 1))?);
            let key = DataKey::from_bytes(&bytes).ok_or_else(|| bad(i + 1))?;
            for field in fields {
                let at = field
                    .strip_prefix("created=")
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| bad(i + 1))?;
                created.insert(version, at);
            }
            if versions.insert(version, key).is_some() {
                return Err(StoreError::Corrupt(format!(
                    "master key file: version {version} appears twice"
                )));
            }
        }
        if versions.is_empty() {
            return Err(StoreError::Corrupt("master key file holds no key".into()));
        }
        if let Some(v) = retired.iter().find(|v| versions.contains_key(v)) {
            return Err(StoreError::Corrupt(format!(
                "master key file: version {v} is both present and retired"
            )));
        }
        Ok(MasterKey {
            versions,
            created,
            retired,
        })
    }

    /// Adds a new random version, the newest, made at `created` (seconds
    /// since the epoch); returns its number. Nothing is written.
    pub fn add_version(&mut self, created: i64) -> u32 {
        let v = self.newest_version() + 1;
        self.versions.insert(v, DataKey::random());
        self.created.insert(v, created);
        v
    }

    /// Every version, oldest first, with when it was made (if known).
    pub fn versions(&self) -> Vec<(u32, Option<i64>)> {
        self.versions
            .keys()
            .map(|v| (*v, self.created.get(v).copied()))
            .collect()
    }

    /// Whether this key has version `v`.
    pub fn has(&self, v: u32) -> bool {
        self.versions.contains_key(&v)
    }

    /// Whether version `v` was retired.
    pub fn is_retired(&self, v: u32) -> bool {
        self.retired.contains(&v)
    }

    /// Removes version `v` (never the newest) and records it as retired;
    /// returns whether it was there. Nothing is written.
    pub fn retire(&mut self, v: u32) -> bool {
        if v == self.newest_version() || self.versions.remove(&v).is_none() {
            return false;
        }
        self.created.remove(&v);
        self.retired.insert(v);
        true
    }

    /// Writes every version to `path` (mode 0600, atomically), one
    /// `v<N> <64 hex digits> created=<seconds>` line each.
    pub fn save(&self, path: &Path) -> Result<(), StoreError> {
        let mut text = Zeroizing::new(String::from(
            "# Turva master key: every version, the newest last. Keep it secret and backed up apart from the data.\n",
        ));
        for (v, key) in &self.versions {
            text.push_str(&format!("v{v} {}", key.to_hex().as_str()));
            if let Some(at) = self.created.get(v) {
                text.push_str(&format!(" created={at}"));
            }
            text.push('\n');
        }
        for v in &self.retired {
            text.push_str(&format!("retired v{v}\n"));
        }
        write_private_file(path, text.as_bytes())
    }

    /// For tests: a master key with one random version.
    pub fn random() -> Self {
        let mut master = MasterKey {
            versions: BTreeMap::new(),
            created: BTreeMap::new(),
            retired: Default::default(),
        };
        master.add_version(now_secs());
        master
    }

    pub fn newest_version(&self) -> u32 {
        self.versions.keys().next_back().copied().unwrap_or(0)
    }

    /// Wraps `key` for `purpose` under the newest version.
    pub fn wrap(&self, purpose: &str, key: &DataKey) -> WrappedKey {
        let v = self.newest_version();
        let sealed = match self.versions.get(&v) {
            Some(kek) => crypt::seal(kek, purpose, key.as_bytes()),
            None => Vec::new(),
        };
        WrappedKey {
            kek_version: v,
            sealed,
        }
    }

    /// Unwraps a key made by `wrap` for the same `purpose`.
    pub fn unwrap(&self, purpose: &str, wrapped: &WrappedKey) -> Result<DataKey, StoreError> {
        let kek = self.versions.get(&wrapped.kek_version).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "master key version {} is needed for {purpose} but the master key file does not have it",
                wrapped.kek_version
            ))
        })?;
        let bytes = Zeroizing::new(crypt::open(kek, purpose, &wrapped.sealed).map_err(|_| {
            StoreError::Corrupt(format!(
                "the master key does not open {purpose} (wrong master key file?)"
            ))
        })?);
        DataKey::from_bytes(&bytes)
            .ok_or_else(|| StoreError::Corrupt(format!("{purpose} has a wrong length")))
    }
}

/// The key ring file (`DIR/keyring.json`): keys that cannot live in the
/// database, wrapped by the master key.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRingFile {
    pub format: u32,
    /// The SQLCipher key of `DIR/turva.db`.
    pub database: WrappedKey,
}

/// Purpose names (associated data) of wrapped keys.
pub mod purpose {
    pub const DATABASE: &str = "turva/dek/db";
    pub const PLATFORM_INDEX: &str = "turva/dek/platform/index";
    pub fn company(id: &str) -> String {
        format!("turva/dek/company/{id}")
    }
    pub fn user(id: &str) -> String {
        format!("turva/dek/user/{id}")
    }
    pub fn period(id: &str) -> String {
        format!("turva/dek/period/{id}")
    }
}

impl KeyRingFile {
    /// Reads the key ring, or creates one with a fresh database key.
    pub fn load_or_create(path: &Path, master: &MasterKey) -> Result<(DataKey, bool), StoreError> {
        match std::fs::read(path) {
            Ok(bytes) => {
                let ring: KeyRingFile = serde_json::from_slice(&bytes).map_err(|e| {
                    StoreError::Corrupt(format!("key ring {} is unreadable: {e}", path.display()))
                })?;
                if ring.format != 1 {
                    return Err(StoreError::Corrupt(format!(
                        "key ring format {} is newer than this Turva understands",
                        ring.format
                    )));
                }
                Ok((master.unwrap(purpose::DATABASE, &ring.database)?, false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = DataKey::random();
                let ring = KeyRingFile {
                    format: 1,
                    database: master.wrap(purpose::DATABASE, &key),
                };
                let json = serde_json::to_vec_pretty(&ring)
                    .map_err(|e| StoreError::Corrupt(format!("key ring: {e}")))?;
                write_private_file(path, &json)?;
                Ok((key, true))
            }
            Err(e) => Err(StoreError::Corrupt(format!(
                "cannot read the key ring {}: {e}",
                path.display()
            ))),
        }
    }
    /// The master-key version the database key in the ring at `path` is
    /// wrapped by.
    pub fn version_at(path: &Path) -> Result<u32, StoreError> {
        let bytes = std::fs::read(path).map_err(|e| {
            StoreError::Corrupt(format!("cannot read the key ring {}: {e}", path.display()))
        })?;
        let ring: KeyRingFile = serde_json::from_slice(&bytes).map_err(|e| {
            StoreError::Corrupt(format!("key ring {} is unreadable: {e}", path.display()))
        })?;
        Ok(ring.database.kek_version)
    }

    /// Rewraps the database key in the ring at `path` under `master`'s
    /// newest version (written atomically); the key itself is unchanged.
    pub fn rewrap(path: &Path, master: &MasterKey) -> Result<(), StoreError> {
        if !path.exists() {
            return Err(StoreError::Corrupt(format!(
                "the key ring {} is missing: nothing to rewrap",
                path.display()
            )));
        }
        let (key, _) = Self::load_or_create(path, master)?;
        let ring = KeyRingFile {
            format: 1,
            database: master.wrap(purpose::DATABASE, &key),
        };
        let json = serde_json::to_vec_pretty(&ring)
            .map_err(|e| StoreError::Corrupt(format!("key ring: {e}")))?;
        write_private_file(path, &json)
    }
}

/// Now, in seconds since the epoch: when a master-key version is made
/// (recorded for its age; nothing depends on it being exact).
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// Writes a file readable only by its owner (0600), atomically: a temporary
/// file is written, synced and renamed over the target.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let io =
        |e: std::io::Error| StoreError::Corrupt(format!("cannot write {}: {e}", path.display()));
    // A temporary name of its own (created exclusively), so two writers of
    // the same file never write into one temporary file.
    let mut suffix = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", hex::encode(suffix)));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(io)?;
    let written = f.write_all(bytes).and_then(|()| f.sync_all());
    drop(f);
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    // The rename itself is durable once the directory is synced.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
    }
    Ok(())
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retired_version_leaves_the_file_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let mut master = MasterKey::random();
        let v2 = master.add_version(1);
        assert!(!master.retire(v2), "never the newest");
        assert!(!master.retire(7), "not a version it has");
        assert!(master.retire(1));
        master.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("retired v1\n") && !text.contains("\nv1 "),
            "{text}"
        );
        let (back, _) = MasterKey::load_or_create(&path, false).unwrap();
        assert!(!back.has(1) && back.is_retired(1) && back.has(v2));
        // A version cannot be both there and retired.
        let both = format!("{text}v1 {}\n", DataKey::random().to_hex().as_str());
        assert!(MasterKey::parse(&both).is_err());
        assert!(MasterKey::parse("retired vx\nv1 00").is_err());
    }

    #[test]
    fn master_key_versions_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        // A file as an earlier Turva wrote it: no creation time.
        let old = DataKey::random();
        std::fs::write(&path, format!("v1 {}\n", old.to_hex().as_str())).unwrap();
        let (mut master, created) = MasterKey::load_or_create(&path, false).unwrap();
        assert!(!created);
        assert_eq!(master.versions(), vec![(1, None)]);
        let wrapped = master.wrap("p", &old);
        assert_eq!(wrapped.kek_version, 1);
        assert_eq!(master.add_version(1_700_000_000), 2);
        master.save(&path).unwrap();
        let (again, _) = MasterKey::load_or_create(&path, false).unwrap();
        assert_eq!(again.versions(), vec![(1, None), (2, Some(1_700_000_000))]);
        assert!(again.has(1) && again.has(2) && !again.has(3));
        // The old version still opens what it wrapped; new wrapping uses v2.
        assert_eq!(
            again.unwrap("p", &wrapped).unwrap().as_bytes(),
            old.as_bytes()
        );
        assert_eq!(again.wrap("p", &old).kek_version, 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Rewrapping needs an existing ring: it never makes a new database key.
        let ring = dir.path().join("keyring.json");
        assert!(KeyRingFile::rewrap(&ring, &again).is_err());
        assert!(!ring.exists());
        let (db_key, made) = KeyRingFile::load_or_create(&ring, &master).unwrap();
        assert!(made);
        assert_eq!(KeyRingFile::version_at(&ring).unwrap(), 2);
        KeyRingFile::rewrap(&ring, &again).unwrap();
        let (same, made) = KeyRingFile::load_or_create(&ring, &again).unwrap();
        assert!(!made);
        assert_eq!(same.as_bytes(), db_key.as_bytes());
        // No temporary file is left beside the written ones.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
        for bad in [
            "v1 00\n",
            "v0 {k}\n",
            "v1 {k} created=soon\n",
            "v1 {k}\nv1 {k}\n",
        ] {
            let text = bad.replace("{k}", old.to_hex().as_str());
            assert!(MasterKey::parse(&text).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_wrapped_key_unwraps_only_for_its_purpose_and_master() {
        let m = MasterKey::random();
        let k = DataKey::random();
        let w = m.wrap("turva/dek/company/a", &k);
        assert_eq!(w.kek_version, 1);
        assert_eq!(
            m.unwrap("turva/dek/company/a", &w)
                .ok()
                .map(|k| *k.as_bytes()),
            Some(*k.as_bytes())
        );
        assert!(m.unwrap("turva/dek/company/b", &w).is_err());
        assert!(MasterKey::random()
            .unwrap("turva/dek/company/a", &w)
            .is_err());
    }

    #[test]
    fn the_master_key_file_parses_versions_and_refuses_garbage() {
        let text = format!(
            "# comment\nv1 {}\nv2 {}\n",
            "11".repeat(32),
            "22".repeat(32)
        );
        let m = MasterKey::parse(&text).ok();
        assert_eq!(m.map(|m| m.newest_version()), Some(2));
        for bad in [
            "",
            "v1 abc",
            "x1 ".to_string().as_str(),
            &format!("v1 {}", "1".repeat(63)),
        ] {
            assert!(MasterKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_output_never_shows_key_bytes() {
        let k = DataKey::from_bytes(&[0xab; 32]);
        assert!(!format!("{k:?}").contains("ab"));
    }

    #[test]
    fn the_key_ring_is_created_once_and_needs_the_same_master_key() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let path = dir.path().join("keyring.json");
        let m = MasterKey::random();
        let (k1, created) = KeyRingFile::load_or_create(&path, &m)?;
        assert!(created);
        let (k2, created) = KeyRingFile::load_or_create(&path, &m)?;
        assert!(!created);
        assert_eq!(k1.as_bytes(), k2.as_bytes());
        let err = KeyRingFile::load_or_create(&path, &MasterKey::random()).err();
        assert!(err.is_some_and(|e| e.to_string().contains("wrong master key")));
        Ok(())
    }
}
