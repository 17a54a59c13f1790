//! The `folders` and `folder_paths` tables: folder trees.
//!
//! `folder_paths` is the closure of the tree (every folder with each folder
//! above it, itself at depth 0), so "everything beneath" and "everything
//! above" are one indexed join. `access_in_force` and `in_trash` are derived
//! from the tree; every change to the tree calls [`refresh_subtree`] in the
//! same transaction, so they are never stale.

use turva_model::access::{resolve_member_access, Action, Allowed, MemberAccess, ObjectAction};

use crate::db::Tx;
use crate::error::{require, Result, StoreError};
use crate::{exec_tx, on_tx, Millis};

/// One folder.
#[derive(Debug, Clone)]
pub struct FolderRow {
    pub id: String,
    pub company_id: String,
    pub parent_id: Option<String>,
    pub name: String,
    /// The folder's own setting: `inherit`, `none`, `view` or `edit`.
    pub member_access: String,
    /// The setting resolved down the tree: `none`, `view` or `edit`.
    pub access_in_force: String,
    pub template_id: Option<String>,
    /// JSON object of identifier values (from a folder template), or None.
    pub identifiers: Option<String>,
    pub created_by: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub deleted_at: Option<Millis>,
    /// This folder or one above it is in the trash.
    pub in_trash: bool,
}

type Tuple = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
    Option<i64>,
    bool,
);

/// A folder's columns, a role and grants (JSON).
type WithRole = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
    Option<i64>,
    bool,
    Option<String>,
    Option<String>,
);

pub(crate) const COLUMNS: &str = "f.id, f.company_id, f.parent_id, f.name, f.member_access, f.access_in_force, f.template_id, f.identifiers, f.created_by, f.created_at, f.updated_at, f.deleted_at, f.in_trash";

fn from_tuple(t: Tuple) -> FolderRow {
    FolderRow {
        id: t.0,
        company_id: t.1,
        parent_id: t.2,
        name: t.3,
        member_access: t.4,
        access_in_force: t.5,
        template_id: t.6,
        identifiers: t.7,
        created_by: t.8,
        created_at: t.9,
        updated_at: t.10,
        deleted_at: t.11,
        in_trash: t.12,
    }
}

fn creates_folders(a: Action) -> bool {
    matches!(
        a,
        Action::CreateTopFolder | Action::Object(ObjectAction::Edit)
    )
}

/// Inserts a folder (its parent, if any, exists in the same company) with
/// its closure rows; `access_in_force` and `in_trash` are derived here.
pub async fn insert_folder(tx: &mut Tx, proof: &Allowed, f: &FolderRow) -> Result<FolderRow> {
    require(proof, creates_folders)?;
    let parent = match &f.parent_id {
        Some(p) => Some(
            folder(tx, &f.company_id, p)
                .await?
                .ok_or(StoreError::NotFound)?,
        ),
        None => None,
    };
    let own = MemberAccess::parse(&f.member_access)
        .ok_or_else(|| StoreError::Corrupt("member_access".into()))?;
    let inherited = parent
        .as_ref()
        .and_then(|p| MemberAccess::parse(&p.access_in_force));
    let mut row = f.clone();
    row.access_in_force = resolve_member_access(inherited, own).as_str().to_string();
    row.in_trash = parent.as_ref().is_some_and(|p| p.in_trash);
    exec_tx!(tx, |c| sqlx::query(
        "INSERT INTO folders (id, company_id, parent_id, name, member_access, access_in_force,
            template_id, identifiers, created_by, created_at, updated_at, deleted_at, in_trash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, $12)"
    )
    .bind(&row.id)
    .bind(&row.company_id)
    .bind(&row.parent_id)
    .bind(&row.name)
    .bind(&row.member_access)
    .bind(&row.access_in_force)
    .bind(&row.template_id)
    .bind(&row.identifiers)
    .bind(&row.created_by)
    .bind(row.created_at)
    .bind(row.updated_at)
    .bind(row.in_trash)
    .execute(c)
    .await)?;
    exec_tx!(tx, |c| sqlx::query(
        "INSERT INTO folder_paths (folder_id, ancestor_id, depth)
         SELECT $1, ancestor_id, depth + 1 FROM folder_paths WHERE folder_id = $2
         UNION ALL SELECT $1, $1, 0"
    )
    .bind(&row.id)
    .bind(row.parent_id.as_deref().unwrap_or(""))
    .execute(c)
    .await)?;
    Ok(row)
}

/// A folder of a company (in the trash or not).
pub async fn folder(tx: &mut Tx, company_id: &str, id: &str) -> Result<Option<FolderRow>> {
    let sql = format!("SELECT {COLUMNS} FROM folders f WHERE f.id = $1 AND f.company_id = $2");
    let row: Option<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .bind(company_id)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(from_tuple))
}

/// A folder by id alone, with the caller's active role in its company and
/// the caller's grants on it and every folder above it: the first (and
/// only) statement of every decision on a folder (its company is not known
/// before it is read). Not found in a company scheduled for deletion.
pub async fn folder_with_role(
    tx: &mut Tx,
    id: &str,
    user_id: &str,
) -> Result<Option<(FolderRow, Option<String>, Vec<turva_model::access::Grant>)>> {
    let grants = crate::shares::grants_json(tx.backend(), "f.id", "f.id", "$2");
    let sql = format!(
        "SELECT {COLUMNS}, m.role, {grants} FROM folders f
         JOIN companies co ON co.id = f.company_id AND co.deletion_scheduled_at IS NULL
         LEFT JOIN memberships m ON m.company_id = f.company_id AND m.user_id = $2 AND m.status = 'active'
         WHERE f.id = $1"
    );
    let row: Option<WithRole> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .bind(user_id)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(|t| {
        let role = t.13.clone();
        let grants = crate::shares::grants_from_json(t.14.as_deref().unwrap_or("[]"));
        (
            from_tuple((
                t.0, t.1, t.2, t.3, t.4, t.5, t.6, t.7, t.8, t.9, t.10, t.11, t.12,
            )),
            role,
            grants,
        )
    }))
}

/// Whether `folder_id` is `ancestor_id` or lies beneath it.
pub async fn is_within(tx: &mut Tx, folder_id: &str, ancestor_id: &str) -> Result<bool> {
    let row: Option<(i64,)> = on_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT CAST(depth AS BIGINT) FROM folder_paths WHERE folder_id = $1 AND ancestor_id = $2"
    )
    .bind(folder_id)
    .bind(ancestor_id)
    .fetch_optional(c)
    .await
    })?;
    Ok(row.is_some())
}

/// Renames a folder and/or sets its own member access (then re-derives the
/// access in force beneath it).
pub async fn update_folder(
    tx: &mut Tx,
    proof: &Allowed,
    f: &FolderRow,
    name: &str,
    member_access: &str,
    at: Millis,
) -> Result<()> {
    require(proof, |a| {
        matches!(a, Action::Object(ObjectAction::Edit | ObjectAction::Manage))
    })?;
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE folders SET name = $3, member_access = $4, updated_at = $5
         WHERE id = $1 AND company_id = $2"
    )
    .bind(&f.id)
    .bind(&f.company_id)
    .bind(name)
    .bind(member_access)
    .bind(at)
    .execute(c)
    .await)?;
    // The caller may pass `f` already changed: derive again whenever a
    // setting is written (only rows whose derived values change are
    // updated).
    refresh_subtree(tx, &f.company_id, &f.id).await
}

/// Moves a folder (and everything beneath it) under `new_parent`, which
/// must not lie within it (the caller checked with [`is_within`]).
pub async fn move_folder(
    tx: &mut Tx,
    proof: &Allowed,
    f: &FolderRow,
    new_parent: Option<&str>,
    at: Millis,
) -> Result<()> {
    require(proof, |a| matches!(a, Action::Object(ObjectAction::Manage)))?;
    // Detach the sub-tree from everything above the folder …
    exec_tx!(tx, |c| {
        sqlx::query(
        "DELETE FROM folder_paths
         WHERE folder_id IN (SELECT folder_id FROM folder_paths WHERE ancestor_id = $1)
           AND ancestor_id IN (SELECT ancestor_id FROM folder_paths WHERE folder_id = $1 AND depth > 0)"
    )
    .bind(&f.id)
    .execute(c)
    .await
    })?;
    // … and hang it below the new parent's path.
    if let Some(p) = new_parent {
        attach_subtree(tx, &f.id, p).await?;
    }
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE folders SET parent_id = $3, updated_at = $4 WHERE id = $1 AND company_id = $2"
    )
    .bind(&f.id)
    .bind(&f.company_id)
    .bind(new_parent)
    .bind(at)
    .execute(c)
    .await)?;
    refresh_subtree(tx, &f.company_id, &f.id).await
}

/// Adds the closure rows that hang the sub-tree of `root` (whose own
/// rows are in place) below `parent`'s path; the caller sets `parent_id`
/// and then calls [`refresh_subtree`].
pub async fn attach_subtree(tx: &mut Tx, root: &str, parent: &str) -> Result<()> {
    exec_tx!(tx, |c| sqlx::query(
        "INSERT INTO folder_paths (folder_id, ancestor_id, depth)
         SELECT sub.folder_id, up.ancestor_id, sub.depth + up.depth + 1
         FROM folder_paths sub, folder_paths up
         WHERE sub.ancestor_id = $1 AND up.folder_id = $2"
    )
    .bind(root)
    .bind(parent)
    .execute(c)
    .await)?;
    Ok(())
}

/// Moves a folder to the trash (`deleted_at` set) or back (`None`).
pub async fn set_deleted(
    tx: &mut Tx,
    proof: &Allowed,
    f: &FolderRow,
    deleted: Option<(Millis, &str)>,
) -> Result<()> {
    require(proof, |a| {
        matches!(
            a,
            Action::Object(ObjectAction::Manage | ObjectAction::Restore)
        )
    })?;
    exec_tx!(tx, |c| sqlx::query(
        "UPDATE folders SET deleted_at = $3, deleted_by = $4 WHERE id = $1 AND company_id = $2"
    )
    .bind(&f.id)
    .bind(&f.company_id)
    .bind(deleted.map(|d| d.0))
    .bind(deleted.map(|d| d.1))
    .execute(c)
    .await)?;
    refresh_subtree(tx, &f.company_id, &f.id).await
}

/// Re-derives `access_in_force` and `in_trash` for a folder and everything
/// beneath it, top down, from each folder's own setting and its parent's
/// derived values. Writes only the rows that change.
pub async fn refresh_subtree(tx: &mut Tx, company_id: &str, folder_id: &str) -> Result<()> {
    type Node = (
        String,
        Option<String>,
        String,
        Option<i64>,
        String,
        bool,
        Option<String>,
        bool,
    );
    // Each folder of the sub-tree with its parent's current derived values;
    // top-down order, so a parent is handled before its children.
    let rows: Vec<Node> = on_tx!(tx, |c| {
        sqlx::query_as(
        "SELECT f.id, f.parent_id, f.member_access, f.deleted_at, f.access_in_force, f.in_trash,
                p.access_in_force, COALESCE(p.in_trash, FALSE)
         FROM folder_paths fp
         JOIN folders f ON f.id = fp.folder_id
         LEFT JOIN folders p ON p.id = f.parent_id
         WHERE fp.ancestor_id = $1 AND f.company_id = $2
         ORDER BY fp.depth"
    )
    .bind(folder_id)
    .bind(company_id)
    .fetch_all(c)
    .await
    })?;
    let mut derived: std::collections::HashMap<String, (MemberAccess, bool)> =
        std::collections::HashMap::with_capacity(rows.len());
    for (id, parent_id, own, deleted_at, old_access, old_trash, p_access, p_trash) in rows {
        let (parent_access, parent_trash) = match parent_id.as_ref().and_then(|p| derived.get(p)) {
            Some(&(a, t)) => (Some(a), t),
            None => (p_access.as_deref().and_then(MemberAccess::parse), p_trash),
        };
        let own = MemberAccess::parse(&own)
            .ok_or_else(|| StoreError::Corrupt(format!("member_access of folder {id}")))?;
        let access = resolve_member_access(parent_access, own);
        let trash = deleted_at.is_some() || parent_trash;
        if access.as_str() != old_access || trash != old_trash {
            exec_tx!(tx, |c| sqlx::query(
                "UPDATE folders SET access_in_force = $2, in_trash = $3 WHERE id = $1"
            )
            .bind(&id)
            .bind(access.as_str())
            .bind(trash)
            .execute(c)
            .await)?;
        }
        derived.insert(id, (access, trash));
    }
    Ok(())
}

/// Visibility of the items of one listing, decided by the policy for the
/// folder being listed and passed into the query, so rows are filtered in
/// SQL, never loaded and dropped.
#[derive(Debug, Clone, Copy)]
pub struct ListScope<'a> {
    /// The caller sees every item (an owner or admin, or a grant on the
    /// listed folder or above it).
    pub all: bool,
    /// The caller is a member: items whose member access in force is not
    /// `none` are visible.
    pub member: bool,
    pub user_id: &'a str,
    pub now: Millis,
}

/// How a folder listing is ordered: by name or by the time of the last
/// change, either way; the id breaks ties, so pages never skip or repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Name,
    NameDesc,
    /// Oldest change first.
    Updated,
    /// Newest change first.
    UpdatedDesc,
}

/// Where a page of a listing starts: after this item's key and id.
#[derive(Debug, Clone, Copy)]
pub enum After<'a> {
    /// A name (or title) and an id, for `Order::Name` and `NameDesc`.
    Name(&'a str, &'a str),
    /// A time of change and an id, for `Order::Updated` and `UpdatedDesc`.
    Updated(Millis, &'a str),
}

impl Order {
    /// The `WHERE` part that starts after `$7` (key) and `$8` (id) when
    /// `$10` is true, and the `ORDER BY` list, for a table whose name
    /// column is `name` and time column `updated`, keyed by `id`.
    pub(crate) fn keyset(self, name: &str, updated: &str, id: &str) -> (String, String) {
        let (key, cmp, dir) = match self {
            Order::Name => (name, ">", ""),
            Order::NameDesc => (name, "<", " DESC"),
            Order::Updated => (updated, ">", ""),
            Order::UpdatedDesc => (updated, "<", " DESC"),
        };
        (
            format!("(NOT $10 OR {key} {cmp} $7 OR ({key} = $7 AND {id} {cmp} $8))"),
            format!("{key}{dir}, {id}{dir}"),
        )
    }

    /// Whether `after` is a key of this order.
    pub fn fits(self, after: &After<'_>) -> bool {
        matches!(
            (self, after),
            (Order::Name | Order::NameDesc, After::Name(..))
                | (Order::Updated | Order::UpdatedDesc, After::Updated(..))
        )
    }
}

/// A live grant of `$user` on the object in column `obj`: its own expiry
/// and, for a re-share, that of the share it rests on.
pub(crate) fn live_grant_on(obj: &str, user: &str, now: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM shares s LEFT JOIN shares v ON v.id = s.via_share_id
            WHERE s.object_id = {obj} AND s.grantee_id = {user} AND {live})",
        live = crate::shares::live(now)
    )
}

/// A live grant of `$user` on `obj` or on a folder at or above `folder`
/// (column expressions), holding one of `rights` (SQL list text).
pub(crate) fn live_grant_on_path(
    obj: &str,
    folder: &str,
    user: &str,
    now: &str,
    rights: &str,
) -> String {
    format!(
        "EXISTS (SELECT 1 FROM shares s LEFT JOIN shares v ON v.id = s.via_share_id
            WHERE s.grantee_id = {user} AND s.grant_right IN ({rights})
              AND (s.object_id = {obj} OR s.object_id IN (SELECT fp.ancestor_id FROM folder_paths fp WHERE fp.folder_id = {folder}))
              AND {live})",
        live = crate::shares::live(now)
    )
}

/// Who is asking for the trash: an owner or admin sees all of it; a member
/// what they may manage (what they created and can still view, or hold a
/// live `manage` grant on); a reader nothing.
#[derive(Debug, Clone, Copy)]
pub struct TrashScope<'a> {
    pub all: bool,
    pub member: bool,
    pub user_id: &'a str,
    pub now: Millis,
}

/// The SQL condition of a trash scope for an object `obj` in folder
/// `folder` whose member access in force is `access`, created by `creator`
/// (column expressions); the scope binds `$2` (all), `$3` (member), `$4`
/// (user) and `$5` (now).
pub(crate) fn trash_condition(obj: &str, folder: &str, access: &str, creator: &str) -> String {
    let any = live_grant_on_path(obj, folder, "$4", "$5", "'view', 'edit', 'manage'");
    let manage = live_grant_on_path(obj, folder, "$4", "$5", "'manage'");
    format!("($2 OR ($3 AND ({creator} = $4 AND ({access} <> 'none' OR {any}) OR {manage})))")
}

/// Whether the scope may view folder `f` when no listed parent decides:
/// owners and admins all (`$2`), members what their access in force opens
/// (`$3`), anyone a live grant of `$4` at `$5` on it or a folder above it.
fn visible_on_its_own() -> String {
    format!(
        "($2 OR ($3 AND f.access_in_force <> 'none') OR {grant})",
        grant = live_grant_on_path("f.id", "f.id", "$4", "$5", "'view', 'edit', 'manage'"),
    )
}

/// Every folder of a company, not in the trash, that the scope may view
/// (at most `limit`, by name then id): what the folder tree is made of.
/// Visibility is decided in the query, as in `child_folders`, except that
/// a grant counts on the folder or on any folder above it (there is no
/// listed parent whose grants decide for its children).
pub async fn visible_folders(
    tx: &mut Tx,
    company_id: &str,
    scope: ListScope<'_>,
    limit: i64,
) -> Result<Vec<FolderRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM folders f
         WHERE f.company_id = $1 AND NOT f.in_trash AND {visible}
         ORDER BY f.name, f.id LIMIT $6",
        visible = visible_on_its_own(),
    );
    let rows: Vec<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(company_id)
        .bind(scope.all)
        .bind(scope.member)
        .bind(scope.user_id)
        .bind(scope.now)
        .bind(limit)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(from_tuple).collect())
}

/// The folders above `folder_id` (and it too, `with_self`) that the scope
/// may view, as (id, name), the top-level one first: one query, by the
/// same rule as the tree.
pub async fn visible_path(
    tx: &mut Tx,
    company_id: &str,
    folder_id: &str,
    scope: ListScope<'_>,
    with_self: bool,
) -> Result<Vec<(String, String)>> {
    let sql = format!(
        "SELECT f.id, f.name FROM folder_paths p JOIN folders f ON f.id = p.ancestor_id
         WHERE p.folder_id = $6 AND p.depth >= $7 AND f.company_id = $1
           AND NOT f.in_trash AND {visible}
         ORDER BY p.depth DESC",
        visible = visible_on_its_own(),
    );
    let rows: Vec<(String, String)> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(company_id)
        .bind(scope.all)
        .bind(scope.member)
        .bind(scope.user_id)
        .bind(scope.now)
        .bind(folder_id)
        .bind(if with_self { 0_i64 } else { 1_i64 })
        .fetch_all(c)
        .await)?;
    Ok(rows)
}

/// Sub-folders of `parent` (or the company's top-level folders when None),
/// not in the trash, that the scope may view, in `order` (the id breaks
/// ties), after `after` (which must fit the order: else from the start).
pub async fn child_folders(
    tx: &mut Tx,
    company_id: &str,
    parent: Option<&str>,
    scope: ListScope<'_>,
    order: Order,
    after: Option<After<'_>>,
    limit: i64,
) -> Result<Vec<FolderRow>> {
    let parent_cond = if parent.is_some() {
        "f.parent_id = $2"
    } else {
        "f.parent_id IS NULL AND $2 = ''"
    };
    let (from, order_by) = order.keyset("f.name", "f.updated_at", "f.id");
    let sql = format!(
        "SELECT {COLUMNS} FROM folders f
         WHERE f.company_id = $1 AND {parent_cond} AND f.deleted_at IS NULL
           AND ($3 OR ($4 AND f.access_in_force <> 'none') OR {grant})
           AND {from}
         ORDER BY {order_by} LIMIT $9",
        grant = live_grant_on("f.id", "$5", "$6"),
    );
    let after = after.filter(|a| order.fits(a));
    let rows: Vec<Tuple> = on_tx!(tx, |c| {
        let q = sqlx::query_as(&sql)
            .bind(company_id)
            .bind(parent.unwrap_or(""))
            .bind(scope.all)
            .bind(scope.member)
            .bind(scope.user_id)
            .bind(scope.now);
        let q = match after {
            Some(After::Updated(at, id)) => q.bind(at).bind(id),
            Some(After::Name(name, id)) => q.bind(name).bind(id),
            None if matches!(order, Order::Updated | Order::UpdatedDesc) => q.bind(0_i64).bind(""),
            None => q.bind("").bind(""),
        };
        q.bind(limit).bind(after.is_some()).fetch_all(c).await
    })?;
    Ok(rows.into_iter().map(from_tuple).collect())
}

/// Folders in the trash (deleted themselves, not just beneath a deleted
/// one) of a company that the scope may manage, newest first (then by id), after the cursor
/// `(deleted_at, id)`.
pub async fn trashed_folders(
    tx: &mut Tx,
    company_id: &str,
    scope: TrashScope<'_>,
    after: Option<(Millis, &str)>,
    limit: i64,
) -> Result<Vec<FolderRow>> {
    let (after_at, after_id) = after.unwrap_or((Millis::MAX, ""));
    let sql = format!(
        "SELECT {COLUMNS} FROM folders f
         WHERE f.company_id = $1 AND f.deleted_at IS NOT NULL
           AND (f.parent_id IS NULL OR NOT EXISTS (SELECT 1 FROM folders p WHERE p.id = f.parent_id AND p.in_trash))
           AND {cond}
           AND (f.deleted_at < $7 OR (f.deleted_at = $7 AND f.id > $8))
         ORDER BY f.deleted_at DESC, f.id LIMIT $6",
        cond = trash_condition("f.id", "f.id", "f.access_in_force", "f.created_by"),
    );
    let rows: Vec<Tuple> = on_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(company_id)
        .bind(scope.all)
        .bind(scope.member)
        .bind(scope.user_id)
        .bind(scope.now)
        .bind(limit)
        .bind(after_at)
        .bind(after_id)
        .fetch_all(c)
        .await)?;
    Ok(rows.into_iter().map(from_tuple).collect())
}
