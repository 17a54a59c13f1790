//! Data keys of companies, users and periods: created random, stored
//! wrapped by the master key (see `turva_store::keys`), unwrapped on use.
//! Nothing is cached, so a destroyed key is gone at once.

use turva_store::keys::{purpose, DataKey};
use turva_store::{data_keys, Tx};

use crate::{App, AppError};

/// The kinds of data key and the purpose (associated data) of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Company,
    User,
    /// For personal data about nobody known (e.g. a sign-in attempt for an
    /// unknown address); one per month, destroyed when it leaves retention.
    Period,
    Platform,
}

impl KeyKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            KeyKind::Company => "company",
            KeyKind::User => "user",
            KeyKind::Period => "period",
            KeyKind::Platform => "platform",
        }
    }
    /// The kind stored as `s`.
    pub(crate) fn parse(s: &str) -> Option<KeyKind> {
        Some(match s {
            "company" => KeyKind::Company,
            "user" => KeyKind::User,
            "period" => KeyKind::Period,
            "platform" => KeyKind::Platform,
            _ => return None,
        })
    }
    pub(crate) fn purpose(self, owner: &str) -> String {
        match self {
            KeyKind::Company => purpose::company(owner),
            KeyKind::User => purpose::user(owner),
            KeyKind::Period => purpose::period(owner),
            KeyKind::Platform => format!("turva/dek/platform/{owner}"),
        }
    }
}

/// Creates the key of (`kind`, `owner`) if it does not exist, and returns
/// its id and the key.
pub async fn ensure_key(
    app: &App,
    tx: &mut Tx,
    kind: KeyKind,
    owner: &str,
) -> Result<(String, DataKey), AppError> {
    if let Some(k) = get_key(app, tx, kind, owner).await? {
        return Ok(k);
    }
    let key = DataKey::random();
    // Under the newest version, re-read if a rotation wrote the file.
    let wrapped = app.master_slot().fresh().wrap(&kind.purpose(owner), &key);
    data_keys::insert_key(
        tx,
        &crate::secret::new_id(),
        kind.as_str(),
        owner,
        &wrapped,
        app.now(),
    )
    .await?;
    get_key(app, tx, kind, owner)
        .await?
        .ok_or_else(|| AppError::Internal(format!("{} key of {owner} vanished", kind.as_str())))
}

/// The key of (`kind`, `owner`) to seal something new under: made when
/// missing, but `None` when it was destroyed (the owner was erased, and
/// nothing new about them may be readable). An audit event about an erased
/// person keeps no personal fields.
pub async fn key_unless_erased(
    app: &App,
    tx: &mut Tx,
    kind: KeyKind,
    owner: &str,
) -> Result<Option<(String, DataKey)>, AppError> {
    if let Some(stored) = data_keys::key_of(tx, kind.as_str(), owner).await? {
        let Some(wrapped) = stored.wrapped else {
            return Ok(None);
        };
        let key = unwrap(app, &kind.purpose(owner), &wrapped)?;
        return Ok(Some((stored.id, key)));
    }
    ensure_key(app, tx, kind, owner).await.map(Some)
}

/// A key by its id, if it exists and was not destroyed.
pub async fn key_by_id(app: &App, tx: &mut Tx, id: &str) -> Result<Option<DataKey>, AppError> {
    let Some((kind, owner, wrapped)) = data_keys::key_by_id(tx, id).await? else {
        return Ok(None);
    };
    let Some(wrapped) = wrapped else {
        return Ok(None);
    };
    let Some(kind) = KeyKind::parse(&kind) else {
        return Ok(None);
    };
    Ok(Some(unwrap(app, &kind.purpose(&owner), &wrapped)?))
}

/// The key of (`kind`, `owner`), if it exists and was not destroyed.
pub async fn get_key(
    app: &App,
    tx: &mut Tx,
    kind: KeyKind,
    owner: &str,
) -> Result<Option<(String, DataKey)>, AppError> {
    let Some(stored) = data_keys::key_of(tx, kind.as_str(), owner).await? else {
        return Ok(None);
    };
    let Some(wrapped) = stored.wrapped else {
        return Ok(None);
    };
    let key = unwrap(app, &kind.purpose(owner), &wrapped)?;
    Ok(Some((stored.id, key)))
}

/// A user's key, which must exist (they have something sealed under it).
pub(crate) async fn user_key(app: &App, tx: &mut Tx, user_id: &str) -> Result<DataKey, AppError> {
    get_key(app, tx, KeyKind::User, user_id)
        .await?
        .map(|(_, key)| key)
        .ok_or_else(|| AppError::Internal("the user's key is missing".into()))
}

/// Unwraps a stored key, re-reading the master-key file first when the key
/// names a version this process has not read (a rotation by another one).
fn unwrap(
    app: &App,
    purpose: &str,
    wrapped: &turva_store::keys::WrappedKey,
) -> Result<DataKey, AppError> {
    let master = app.master_slot().with_version(wrapped.kek_version)?;
    Ok(master.unwrap(purpose, wrapped)?)
}
