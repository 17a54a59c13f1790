//! The `shares` table: grants on a folder or document to one user.

use turva_model::access::{Action, Allowed, Grant, ObjectAction, Right};

use crate::db::Tx;
use crate::error::{require, Result};
use crate::{exec_tx, on_tx, Millis};

/// One share.
#[derive(Debug, Clone)]
pub struct ShareRow {
    pub id: String,
    pub company_id: String,
    /// `folder` or `document`.
    pub object_type: String,
    pub object_id: String,
    pub grantee_id: String,
    /// The grantee's email (read with the row, not stored in it).
    pub email: String,
    pub right: String,
    pub expires_at: Option<Millis>,
    /// `pending` (waiting for the guest to accept) or `active`.
    pub status: String,
    pub via_share_id: Option<String>,
    pub notify: bool,
    pub language: String,
    pub created_by: String,
    pub created_at: Millis,
}

type Tuple = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    String,
    Option<String>,
    bool,
    String,
    String,
    i64,
);

const SELECT: &str =
    "SELECT s.id, s.company_id, s.object_type, s.object_id, s.grantee_id, u.email, s.grant_right,
    s.expires_at, s.status, s.via_share_id, s.notify, s.language, s.created_by, s.created_at
    FROM shares s JOIN users u ON u.id = s.grantee_id";

fn from_tuple(t: Tuple) -> ShareRow {
    ShareRow {
        id: t.0,
        company_id: t.1,
        object_type: t.2,
        object_id: t.3,
        grantee_id: t.4,
        email: t.5,
        right: t.6,
        expires_at: t.7,
        status: t.8,
        via_share_id: t.9,
        notify: t.10,
        language: t.11,
        created_by: t.12,
        created_at: t.13,
    }
}

/// The SQL condition that the share `s` (joined with the share it rests
/// on as `v`, `LEFT JOIN shares v ON v.id = s.via_share_id`) is in force at
/// `now` (a column or parameter): accepted, unexpired, and resting on a
/// share that is too. The SQL twin of `Grant::live`.
pub(crate) fn live(now: &str) -> String {
    format!(
        "s.status = 'active' AND (s.expires_at IS NULL OR s.expires_at > {now})
         AND (v.id IS NULL OR (v.status = 'active' AND (v.expires_at IS NULL OR v.expires_at > {now})))"
    )
}

/// A column expression: the grants of the user in parameter `user` on the
/// object `obj` and on every folder at or above `folder`, as a JSON array
/// of `[id, right, status, expires_at, via_id, via_status, via_expires_at]`
/// (read with [`grants_from_json`]), so a statement loading an object
/// brings its grants along.
pub(crate) fn grants_json(backend: crate::Backend, obj: &str, folder: &str, user: &str) -> String {
    let from = format!(
        "FROM shares s LEFT JOIN shares v ON v.id = s.via_share_id
         WHERE s.grantee_id = {user}
           AND (s.object_id = {obj} OR s.object_id IN (SELECT fp.ancestor_id FROM folder_paths fp WHERE fp.folder_id = {folder}))"
    );
    match backend {
        crate::Backend::Sqlite => format!(
            "(SELECT json_group_array(json_array(s.id, s.grant_right, s.status, s.expires_at, v.id, v.status, v.expires_at)) {from})"
        ),
        crate::Backend::Postgres => format!(
            "(SELECT COALESCE(json_agg(json_build_array(s.id, s.grant_right, s.status, s.expires_at, v.id, v.status, v.expires_at)), '[]'::json)::text {from})"
        ),
    }
}

/// A grant as read: id, right, status, expiry, and the share it rests on
/// (id, status, expiry).
type GrantRow = (
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

/// The grants of a [`grants_json`] column.
pub(crate) fn grants_from_json(text: &str) -> Vec<Grant> {
    let rows: Vec<GrantRow> = serde_json::from_str(text).unwrap_or_default();
    rows.into_iter().filter_map(grant_of).collect()
}

fn grant_of((id, right, status, exp, via, via_status, via_exp): GrantRow) -> Option<Grant> {
    let right = Right::parse(&right)?;
    let active = status == "active" && (via.is_none() || via_status.as_deref() == Some("active"));
    let until = match (exp, via_exp) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Some(Grant {
        id,
        right,
        active,
        until,
    })
}

/// Inserts a share; one for the same person on the same object is `Conflict`.
pub async fn insert_share(tx: &mut Tx, proof: &Allowed, s: &ShareRow) -> Result<()> {
    require(proof, |a| {
        matches!(a, Action::Object(ObjectAction::Share { .. }))
    })?;
    exec_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO shares (id, company_id, object_type, object_id, grantee_id, grant_right, expires_at,
            status, via_share_id, notify, language, created_by, created_at, accepted_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, CASE WHEN $8 = 'active' THEN $13 ELSE NULL END)"
    )
    .bind(&s.id)
    .bind(&s.company_id)
    .bind(&s.object_type)
    .bind(&s.object_id)
    .bind(&s.grantee_id)
    .bind(&s.right)
    .bind(s.expires_at)
    .bind(&s.status)
    .bind(&s.via_share_id)
    .bind(s.notify)
    .bind(&s.language)
    .bind(&s.created_by)
    .bind(s.created_at)
    .execute(c)
    .await
    })?;
    Ok(())
}

/// Inserts the `manage` grant a member gets on a restricted folder they
/// create (so that they keep sight of it).
pub async fn insert_creator_grant(tx: &mut Tx, proof: &Allowed, s: &ShareRow) -> Result<()> {
    require(proof, |a| {
        matches!(
            a,
            Action::CreateTopFolder | Action::Object(ObjectAction::Edit)
        )
    })?;
    exec_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO shares (id, company_id, object_type, object_id, grantee_id, grant_right, expires_at,
            status, via_share_id, notify, language, created_by, created_at, accepted_at)
         VALUES ($1, $2, $3, $4, $5, $6, NULL, 'active', NULL, FALSE, $7, $5, $8, $8)"
    )
    .bind(&s.id)
    .bind(&s.company_id)
    .bind(&s.object_type)
    .bind(&s.object_id)
    .bind(&s.grantee_id)
    .bind(&s.right)
    .bind(&s.language)
    .bind(s.created_at)
    .execute(c)
    .await
    })?;
    Ok(())
}

/// One share by id.
pub async fn share(tx: &mut Tx, id: &str) -> Result<Option<ShareRow>> {
    let sql = format!("{SELECT} WHERE s.id = $1");
    let row: Option<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(from_tuple))
}

/// The shares on one object of a company, oldest first, after `after` (a
/// share id cursor).
pub async fn shares_on(
    tx: &mut Tx,
    company_id: &str,
    object_id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<ShareRow>> {
    let sql = format!(
        "{SELECT} WHERE s.company_id = $1 AND s.object_id = $2 AND s.id > $3 ORDER BY s.id LIMIT $4"
    );
    let rows: Vec<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(company_id)
        .bind(object_id)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(from_tuple).collect())
}

/// Changes a share's right and expiry.
pub async fn update_share(
    tx: &mut Tx,
    proof: &Allowed,
    s: &ShareRow,
    right: &str,
    expires_at: Option<Millis>,
) -> Result<()> {
    require(proof, |a| {
        matches!(a, Action::Object(ObjectAction::Share { .. }))
    })?;
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE shares SET grant_right = $3, expires_at = $4 WHERE id = $1 AND company_id = $2"
    )
    .bind(&s.id)
    .bind(&s.company_id)
    .bind(right)
    .bind(expires_at)
    .execute(c)
    .await)?;
    Ok(())
}

/// Revokes a share (and with it every re-share made under it).
pub async fn delete_share(tx: &mut Tx, proof: &Allowed, s: &ShareRow) -> Result<()> {
    require(proof, |a| {
        matches!(
            a,
            Action::Object(ObjectAction::Manage | ObjectAction::Share { .. })
        )
    })?;
    exec_tx!(tx, |c| sqlx::query(
        "DELETE FROM shares WHERE id = $1 AND company_id = $2"
    )
    .bind(&s.id)
    .bind(&s.company_id)
    .execute(c)
    .await)?;
    Ok(())
}

/// Starts a pending share: its grantee accepted the invitation.
pub async fn activate(tx: &mut Tx, id: &str, at: Millis) -> Result<u64> {
    exec_tx!(tx, |c| {
        sqlx::query(
        "UPDATE shares SET status = 'active', accepted_at = $2 WHERE id = $1 AND status = 'pending'"
    )
    .bind(id)
    .bind(at)
    .execute(c)
    .await
    })
    .map_err(Into::into)
}

/// Whether `user_id` has accepted a share in the company that is still in
/// force at `now` (they are an established guest there).
pub async fn is_guest(tx: &mut Tx, company_id: &str, user_id: &str, now: Millis) -> Result<bool> {
    let sql = format!(
        "SELECT CAST(1 AS BIGINT) FROM shares s LEFT JOIN shares v ON v.id = s.via_share_id
         WHERE s.company_id = $1 AND s.grantee_id = $2 AND {live}
         LIMIT 1",
        live = live("$3")
    );
    let row: Option<(i64,)> = on_tx!(tx, |c| {
        sqlx::query_as(&sql)
            .bind(company_id)
            .bind(user_id)
            .bind(now)
            .fetch_optional(c)
            .await
    })?;
    Ok(row.is_some())
}

/// Shares to `user_id` in force at `now`, on objects not in the trash,
/// newest first, after `after` (`(created_at, id)` cursor).
/// With `only_company`, shares in that company alone (an API token's).
pub async fn shared_with(
    tx: &mut Tx,
    user_id: &str,
    only_company: Option<&str>,
    now: Millis,
    after: Option<(Millis, &str)>,
    limit: i64,
) -> Result<Vec<ShareRow>> {
    let sql = format!(
        "{SELECT} LEFT JOIN shares v ON v.id = s.via_share_id
         WHERE s.grantee_id = $1 AND {live}
           AND NOT EXISTS (SELECT 1 FROM folders f WHERE f.id = s.object_id AND f.in_trash)
           AND NOT EXISTS (SELECT 1 FROM documents d JOIN folders df ON df.id = d.folder_id
                           WHERE d.id = s.object_id AND (d.deleted_at IS NOT NULL OR df.in_trash))
           AND (s.created_at < $3 OR (s.created_at = $3 AND s.id < $4))
           AND ($6 = '' OR s.company_id = $6)
           AND NOT EXISTS (SELECT 1 FROM companies co
                           WHERE co.id = s.company_id AND co.deletion_scheduled_at IS NOT NULL)
         ORDER BY s.created_at DESC, s.id DESC LIMIT $5",
        live = live("$2")
    );
    let (at, ai) = after.unwrap_or((i64::MAX, ""));
    let rows: Vec<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(user_id)
        .bind(now)
        .bind(at)
        .bind(ai)
        .bind(limit)
        .bind(only_company.unwrap_or(""))
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(from_tuple).collect())
}
