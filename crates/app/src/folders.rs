//! Folders: create (blank or from a folder template), read, list, rename,
//! move, change member access, delete to the trash.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};
use turva_model::access::{self, Action, MemberAccess, ObjectAction, Reason, Right};
use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_model::{validate, Role};
use turva_store::documents::{self, DocumentRow};
pub use turva_store::folders::Order;
use turva_store::folders::{self, After, FolderRow, ListScope};
use turva_store::{shares, Tx};

use crate::audit::{self, Event};
use crate::companies;
use crate::cursor::{self, Page};
use crate::objects::{self, Denial, FolderFacts};
use crate::secret::new_id;
use crate::{templates, Actor, App, AppError, Ctx};

/// A folder as the caller sees it.
#[derive(Debug, Clone)]
pub struct FolderView {
    pub folder: FolderRow,
    /// The caller's effective right on it.
    pub right: Right,
}

/// What a new folder is made of.
#[derive(Debug, Clone, Default)]
pub struct NewFolder<'a> {
    pub name: Option<&'a str>,
    pub parent_id: Option<&'a str>,
    pub member_access: Option<&'a str>,
    pub template_id: Option<&'a str>,
    pub identifiers: Option<&'a Map<String, Value>>,
}

fn parse_access(text: &str) -> Result<MemberAccess, AppError> {
    MemberAccess::parse(text)
        .ok_or_else(|| AppError::invalid("member_access", "must be none, view, edit or inherit"))
}

fn folder_name(text: &str) -> Result<String, AppError> {
    let n = validate::name("name", text)?;
    if n.contains('/') || n.contains('\\') {
        return Err(AppError::invalid("name", "must not contain / or \\"));
    }
    Ok(n)
}

/// The company's `default_member_access` for new top-level folders.
fn default_access(settings: &str) -> MemberAccess {
    serde_json::from_str::<Value>(settings)
        .ok()
        .and_then(|v| {
            v.get("default_member_access")
                .and_then(Value::as_str)
                .and_then(MemberAccess::parse)
        })
        .filter(|a| *a != MemberAccess::Inherit)
        .unwrap_or(MemberAccess::Edit)
}

/// Creates a folder at the top level of a company or inside a folder, from
/// a folder template when `template_id` is given (its whole structure in
/// the same transaction).
pub async fn create(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
    new: NewFolder<'_>,
) -> Result<FolderView, AppError> {
    let name = new.name.map(folder_name).transpose()?;
    let access = new.member_access.map(parse_access).transpose()?;
    let mut tx = app.db().write().await?;
    // Where it goes, and whether the caller may create there.
    let (proof, role, default, parent) = match new.parent_id {
        Some(pid) => {
            let found = objects::folder_facts(app, &mut tx, actor, pid)
                .await?
                .filter(|f| f.folder.company_id == company_id);
            let (t, proof) = objects::decide(
                app,
                ctx,
                actor,
                tx,
                found
                    .as_ref()
                    .map(|f| (f.folder.company_id.as_str(), &f.facts)),
                (AuditAction::FolderCreate, ObjectType::Folder, pid),
                ObjectAction::Edit,
            )
            .await?;
            tx = t;
            let f = found.ok_or(AppError::NotFound)?;
            (proof, f.facts.role, MemberAccess::Inherit, Some(f.folder))
        }
        None => {
            let (company, facts) = companies::facts(app, &mut tx, actor, company_id).await?;
            let proof = match access::decide(&facts, Action::CreateTopFolder) {
                Ok(p) => p,
                Err(reason) => {
                    drop(tx);
                    return Err(objects::denied(
                        app,
                        ctx,
                        actor,
                        Denial {
                            action: AuditAction::FolderCreate,
                            company_id: company.as_ref().map(|c| c.id.as_str()),
                            object: (ObjectType::Company, company_id),
                            reason,
                        },
                    )
                    .await);
                }
            };
            let company = company.ok_or(AppError::NotFound)?;
            (proof, facts.role, default_access(&company.settings), None)
        }
    };
    let access = access.unwrap_or(default);
    if parent.is_none() && access == MemberAccess::Inherit {
        return Err(AppError::invalid(
            "member_access",
            "a top-level folder has nothing to inherit from: none, view or edit",
        ));
    }
    if role.is_none() && access != MemberAccess::Inherit {
        return Err(AppError::Forbidden(
            "only members of the company set member access",
        ));
    }
    let template = match new.template_id {
        Some(tid) => Some(
            templates::folder_template_for_use(&mut tx, company_id, tid)
                .await?
                .ok_or_else(|| {
                    AppError::invalid("template_id", "is not a folder template of this company")
                })?,
        ),
        None => None,
    };
    let (name, identifiers) = match &template {
        Some(t) => templates::identifiers_for(t, name.as_deref(), new.identifiers)?,
        None => {
            if new.identifiers.is_some() {
                return Err(AppError::invalid(
                    "identifiers",
                    "are given by a folder template: name template_id",
                ));
            }
            (
                name.ok_or_else(|| AppError::malformed("name", "is required"))?,
                None,
            )
        }
    };
    let now = app.now();
    let row = FolderRow {
        id: new_id(),
        company_id: company_id.to_string(),
        parent_id: parent.as_ref().map(|p| p.id.clone()),
        name,
        member_access: access.as_str().to_string(),
        access_in_force: String::new(),
        template_id: template.as_ref().map(|t| t.row.id.clone()),
        identifiers: identifiers.map(|m| Value::Object(m).to_string()),
        created_by: actor.user_id.clone(),
        created_at: now,
        updated_at: now,
        deleted_at: None,
        in_trash: false,
    };
    let row = folders::insert_folder(&mut tx, &proof, &row).await?;
    keep_sight_of_own_folder(&mut tx, &proof, actor, role, &row).await?;
    let ev = Event::new(AuditAction::FolderCreate, Outcome::Allowed)
        .actor(actor)
        .company(company_id)
        .object(ObjectType::Folder, &row.id);
    audit::record(app, &mut tx, ctx, ev).await?;
    if let Some(t) = &template {
        templates::stamp(app, &mut tx, ctx, actor, &proof, &row, t).await?;
    }
    let view = view_after_create(app, &mut tx, actor, row).await?;
    tx.commit().await?;
    Ok(view)
}

/// A member (not an owner or admin) who makes a folder no member may see
/// would lose sight of it at once: they get a `manage` grant on it, shown
/// among its shares like any other.
async fn keep_sight_of_own_folder(
    tx: &mut Tx,
    proof: &access::Allowed,
    actor: &Actor,
    role: Option<Role>,
    row: &FolderRow,
) -> Result<(), AppError> {
    let restricted = row.access_in_force == MemberAccess::None.as_str();
    if !(restricted && matches!(role, Some(Role::Member))) {
        return Ok(());
    }
    let held = folders::folder_with_role(tx, &row.id, &actor.user_id)
        .await?
        .map(|(_, _, grants)| grants)
        .unwrap_or_default();
    // A live grant above keeps it in sight; an expired or pending one does not.
    if held.iter().any(|g| g.live(row.created_at)) {
        return Ok(());
    }
    let share = shares::ShareRow {
        id: new_id(),
        company_id: row.company_id.clone(),
        object_type: "folder".into(),
        object_id: row.id.clone(),
        grantee_id: actor.user_id.clone(),
        email: actor.email.clone(),
        right: Right::Manage.as_str().into(),
        expires_at: None,
        status: "active".into(),
        via_share_id: None,
        notify: false,
        language: actor.language.clone(),
        created_by: actor.user_id.clone(),
        created_at: row.created_at,
    };
    shares::insert_creator_grant(tx, proof, &share).await?;
    Ok(())
}

async fn view_after_create(
    app: &App,
    tx: &mut Tx,
    actor: &Actor,
    row: FolderRow,
) -> Result<FolderView, AppError> {
    let right = objects::folder_facts(app, tx, actor, &row.id)
        .await?
        .and_then(|f| objects::right_of(&f.facts))
        .unwrap_or(Right::View);
    Ok(FolderView { folder: row, right })
}

/// Loads a folder and decides `action` on it (recording a denial).
pub(crate) async fn load(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    audit_action: AuditAction,
    action: ObjectAction,
) -> Result<(Tx, FolderFacts, access::Allowed), AppError> {
    // A view only reads: a pooled reader, no transaction, no write lock.
    let mut tx = if action == ObjectAction::View {
        app.db().reader().await?
    } else {
        app.db().write().await?
    };
    let found = objects::folder_facts(app, &mut tx, actor, id).await?;
    let (tx, proof) = objects::decide(
        app,
        ctx,
        actor,
        tx,
        found
            .as_ref()
            .map(|f| (f.folder.company_id.as_str(), &f.facts)),
        (audit_action, ObjectType::Folder, id),
        action,
    )
    .await?;
    let f = found.ok_or(AppError::NotFound)?;
    Ok((tx, f, proof))
}

/// One folder (audited as a view).
pub async fn get(app: &App, ctx: &Ctx, actor: &Actor, id: &str) -> Result<FolderView, AppError> {
    let (tx, f, _) = load(
        app,
        ctx,
        actor,
        id,
        AuditAction::FolderView,
        ObjectAction::View,
    )
    .await?;
    let ev = Event::new(AuditAction::FolderView, Outcome::Allowed)
        .actor(actor)
        .company(&f.folder.company_id)
        .object(ObjectType::Folder, id);
    tx.commit().await?;
    audit::record_read(app, ctx, ev).await?;
    let right = objects::right_of(&f.facts).unwrap_or(Right::View);
    Ok(FolderView {
        folder: f.folder,
        right,
    })
}

/// What the caller may see of a listing, for the store's queries: the
/// policy's `listing_scope` of their role and the grants above it.
fn scope_of<'a>(
    role: Option<Role>,
    grants: &[access::Grant],
    actor: &'a Actor,
    now: i64,
) -> ListScope<'a> {
    let seen = access::listing_scope(role, grants, now);
    ListScope {
        all: seen.all,
        member: seen.member,
        user_id: &actor.user_id,
        now,
    }
}

/// Whether the caller may list a company's folders (a member or a guest):
/// the transaction back with their facts, or (the transaction ended
/// first) the denial, recorded.
async fn listing_gate(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
    mut tx: Tx,
) -> Result<(Tx, access::ActorFacts), AppError> {
    let (company, facts) = companies::facts_with_guest(app, &mut tx, actor, company_id).await?;
    match access::decide(&facts, Action::ListFolders) {
        Ok(_) => Ok((tx, facts)),
        Err(reason) => Err({
            drop(tx);
            objects::denied(
                app,
                ctx,
                actor,
                Denial {
                    action: AuditAction::FolderList,
                    company_id: company.as_ref().map(|c| c.id.as_str()),
                    object: (ObjectType::Company, company_id),
                    reason,
                },
            )
            .await
        }),
    }
}

/// At most this many folders are read for the tree.
pub const TREE_LIMIT: i64 = 2_000;

/// A folder of the tree and how deep it sits under the tree's roots.
#[derive(Debug, Clone)]
pub struct TreeFolder {
    pub folder: FolderRow,
    pub depth: usize,
}

/// The company's folders that the caller may view, as a tree in reading
/// order (a folder, then what is beneath it; each level by name). A folder
/// whose parent the caller may not view (a guest's shared sub-folder) is a
/// root, and its parent is never named. Which folders the caller may view
/// is decided in the store's query, as for every listing; the whole is
/// audited as one listing of the company. `true` when more than
/// `TREE_LIMIT` folders exist and the tree is cut.
pub async fn tree(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
) -> Result<(Vec<TreeFolder>, bool), AppError> {
    let tx = app.db().reader().await?;
    let (mut tx, facts) = listing_gate(app, ctx, actor, company_id, tx).await?;
    let now = app.now();
    let scope = scope_of(facts.role, &[], actor, now);
    let mut seen = folders::visible_folders(&mut tx, company_id, scope, TREE_LIMIT + 1).await?;
    let ev = Event::new(AuditAction::FolderList, Outcome::Allowed)
        .actor(actor)
        .company(company_id)
        .object(ObjectType::Company, company_id);
    tx.commit().await?;
    audit::record_read(app, ctx, ev).await?;
    let limit = usize::try_from(TREE_LIMIT).unwrap_or(usize::MAX);
    let cut = seen.len() > limit;
    seen.truncate(limit);
    // Children by parent, each list already by name (the rows are).
    let ids: HashSet<&str> = seen.iter().map(|f| f.id.as_str()).collect();
    let mut under: HashMap<Option<&str>, Vec<&FolderRow>> = HashMap::new();
    for f in &seen {
        let parent = f.parent_id.as_deref().filter(|p| ids.contains(p));
        under.entry(parent).or_default().push(f);
    }
    let mut out = Vec::with_capacity(seen.len());
    let mut stack: Vec<(&FolderRow, usize)> = under
        .get(&None)
        .map(|roots| roots.iter().rev().map(|f| (*f, 0)).collect())
        .unwrap_or_default();
    while let Some((f, depth)) = stack.pop() {
        out.push(TreeFolder {
            folder: f.clone(),
            depth,
        });
        if let Some(children) = under.get(&Some(f.id.as_str())) {
            stack.extend(children.iter().rev().map(|c| (*c, depth + 1)));
        }
    }
    Ok((out, cut))
}

/// The folders above `id` (and `id` itself `with_self`) that the caller
/// may view, the top-level one first, as (id, name): the breadcrumbs of a
/// folder or document the caller has just been shown (whose view is the
/// audited event). Folders the caller may not view are left out, never
/// named; decided in one query by the same rule as the tree.
pub async fn path(
    app: &App,
    actor: &Actor,
    company_id: &str,
    id: &str,
    with_self: bool,
) -> Result<Vec<(String, String)>, AppError> {
    let mut tx = app.db().reader().await?;
    let (_, facts) = companies::facts_with_guest(app, &mut tx, actor, company_id).await?;
    let now = app.now();
    let scope = scope_of(facts.role, &[], actor, now);
    let out = folders::visible_path(&mut tx, company_id, id, scope, with_self).await?;
    tx.commit().await?;
    Ok(out)
}

/// The order's code in a cursor, so a cursor of one order is refused by
/// another.
fn order_code(order: Order) -> &'static str {
    match order {
        Order::Name => "n",
        Order::NameDesc => "N",
        Order::Updated => "u",
        Order::UpdatedDesc => "U",
    }
}

/// The key of a listed item in a cursor: its name or its time of change.
fn order_key(order: Order, name: &str, updated_at: i64) -> String {
    match order {
        Order::Name | Order::NameDesc => name.to_string(),
        Order::Updated | Order::UpdatedDesc => updated_at.to_string(),
    }
}

/// A cursor's (order code, key, id) as the store's `After`, when it was
/// made for `order`.
fn after_of<'a>(order: Order, parts: &'a [String]) -> Result<After<'a>, AppError> {
    let bad = || AppError::malformed("cursor", "is not a cursor of this list");
    match parts {
        [code, key, id] if code == order_code(order) => match order {
            Order::Name | Order::NameDesc => Ok(After::Name(key, id)),
            Order::Updated | Order::UpdatedDesc => {
                Ok(After::Updated(key.parse().map_err(|_| bad())?, id))
            }
        },
        _ => Err(bad()),
    }
}

/// The top-level folders of a company that the caller may view, in
/// `order`.
pub async fn list_top(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    company_id: &str,
    order: Order,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<FolderRow>, AppError> {
    let parts = cursor.map(|c| cursor::decode(c, 3)).transpose()?;
    let after = parts.as_deref().map(|p| after_of(order, p)).transpose()?;
    let tx = app.db().read().await?;
    let (mut tx, facts) = listing_gate(app, ctx, actor, company_id, tx).await?;
    let scope = scope_of(facts.role, &[], actor, app.now());
    let mut items =
        folders::child_folders(&mut tx, company_id, None, scope, order, after, limit + 1).await?;
    let next_cursor = next(&mut items, limit, |f| {
        let key = order_key(order, &f.name, f.updated_at);
        cursor::encode(&[order_code(order), &key, &f.id])
    });
    let ev = Event::new(AuditAction::FolderList, Outcome::Allowed)
        .actor(actor)
        .company(company_id)
        .object(ObjectType::Company, company_id);
    tx.commit().await?;
    audit::record_read(app, ctx, ev).await?;
    Ok(Page { items, next_cursor })
}

/// Cuts a list fetched with one item too many to `limit`, and gives the
/// cursor of the next page when there is one.
pub(crate) fn next<T>(
    items: &mut Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> String,
) -> Option<String> {
    let limit = usize::try_from(limit).unwrap_or(0);
    if items.len() > limit {
        items.truncate(limit);
        items.last().map(key)
    } else {
        None
    }
}

/// One item of a folder listing.
#[derive(Debug, Clone)]
pub enum Child {
    Folder(FolderRow),
    Document(DocumentRow),
}

/// What is in a folder that the caller may view: folders first, then
/// documents, each in `order` (by name or title, or by time of change).
pub async fn children(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    order: Order,
    cursor: Option<&str>,
    limit: i64,
) -> Result<Page<Child>, AppError> {
    let parts = cursor.map(|c| cursor::decode(c, 4)).transpose()?;
    // (in documents already, where the page starts)
    let start = match parts.as_deref() {
        None => None,
        Some([kind, rest @ ..]) if kind == "f" || kind == "d" => {
            Some((kind == "d", after_of(order, rest)?))
        }
        Some(_) => {
            return Err(AppError::malformed(
                "cursor",
                "is not a cursor of this list",
            ))
        }
    };
    let (mut tx, f, _) = load(
        app,
        ctx,
        actor,
        id,
        AuditAction::FolderList,
        ObjectAction::View,
    )
    .await?;
    let now = app.now();
    let scope = scope_of(f.facts.role, &f.facts.grants, actor, now);
    let company_id = f.folder.company_id.clone();
    let mut items: Vec<Child> = Vec::new();
    let in_docs = start.is_some_and(|(docs, _)| docs);
    if !in_docs {
        let after = start.map(|(_, a)| a);
        let sub = folders::child_folders(
            &mut tx,
            &company_id,
            Some(id),
            scope,
            order,
            after,
            limit + 1,
        )
        .await?;
        items.extend(sub.into_iter().map(Child::Folder));
    }
    let room = limit + 1 - i64::try_from(items.len()).unwrap_or(0);
    if room > 0 {
        let after = start.filter(|(docs, _)| *docs).map(|(_, a)| a);
        let open = f.folder.access_in_force != MemberAccess::None.as_str();
        let docs =
            documents::child_documents(&mut tx, &company_id, id, scope, open, order, after, room)
                .await?;
        items.extend(docs.into_iter().map(Child::Document));
    }
    let code = order_code(order);
    let next_cursor = next(&mut items, limit, |c| match c {
        Child::Folder(f) => {
            cursor::encode(&["f", code, &order_key(order, &f.name, f.updated_at), &f.id])
        }
        Child::Document(d) => {
            cursor::encode(&["d", code, &order_key(order, &d.title, d.updated_at), &d.id])
        }
    });
    let ev = Event::new(AuditAction::FolderList, Outcome::Allowed)
        .actor(actor)
        .company(&company_id)
        .object(ObjectType::Folder, id);
    tx.commit().await?;
    audit::record_read(app, ctx, ev).await?;
    Ok(Page { items, next_cursor })
}

/// Changes to a folder; `parent_id: Some(None)` moves it to the top level.
#[derive(Debug, Clone, Default)]
pub struct FolderChanges<'a> {
    pub name: Option<&'a str>,
    pub parent_id: Option<Option<&'a str>>,
    pub member_access: Option<&'a str>,
}

/// Renames, moves or changes the member access of a folder.
pub async fn update(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    id: &str,
    ch: FolderChanges<'_>,
) -> Result<FolderView, AppError> {
    let name = ch.name.map(folder_name).transpose()?;
    let access = ch.member_access.map(parse_access).transpose()?;
    // Renaming needs edit; moving and member access need manage.
    let needs = if ch.parent_id.is_some() || access.is_some() {
        ObjectAction::Manage
    } else {
        ObjectAction::Edit
    };
    let (mut tx, f, proof) = load(app, ctx, actor, id, AuditAction::FolderUpdate, needs).await?;
    let mut folder = f.folder;
    let company_id = folder.company_id.clone();
    let now = app.now();
    if let Some(new_parent) = ch.parent_id {
        if new_parent != folder.parent_id.as_deref() {
            let (t, move_proof, new_parent_row) =
                move_target(app, ctx, actor, tx, &folder, new_parent).await?;
            tx = t;
            if new_parent_row.is_none() && folder.member_access == MemberAccess::Inherit.as_str() {
                // A top-level folder needs a setting of its own.
                let company = turva_store::companies::company_by_id(&mut tx, &company_id)
                    .await?
                    .ok_or(AppError::NotFound)?;
                folder.member_access = default_access(&company.settings).as_str().to_string();
                folders::update_folder(
                    &mut tx,
                    &proof,
                    &folder,
                    &folder.name,
                    &folder.member_access,
                    now,
                )
                .await?;
            }
            folders::move_folder(&mut tx, &move_proof, &folder, new_parent, now).await?;
            folder.parent_id = new_parent.map(str::to_string);
            let ev = Event::new(AuditAction::FolderMove, Outcome::Allowed)
                .actor(actor)
                .company(&company_id)
                .object(ObjectType::Folder, id);
            audit::record(app, &mut tx, ctx, ev).await?;
        }
    }
    if let Some(a) = access {
        if folder.parent_id.is_none() && a == MemberAccess::Inherit {
            return Err(AppError::invalid(
                "member_access",
                "a top-level folder has nothing to inherit from: none, view or edit",
            ));
        }
        folder.member_access = a.as_str().to_string();
    }
    if let Some(n) = name {
        folder.name = n;
    }
    folders::update_folder(
        &mut tx,
        &proof,
        &folder,
        &folder.name,
        &folder.member_access,
        now,
    )
    .await?;
    let ev = Event::new(AuditAction::FolderUpdate, Outcome::Allowed)
        .actor(actor)
        .company(&company_id)
        .object(ObjectType::Folder, id);
    audit::record(app, &mut tx, ctx, ev).await?;
    let fresh = objects::folder_facts(app, &mut tx, actor, id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let right = objects::right_of(&fresh.facts).unwrap_or(Right::View);
    Ok(FolderView {
        folder: fresh.folder,
        right,
    })
}

/// Checks a move target: edit on the new parent (or the right to create at
/// the top level), in the same company, not within the folder itself.
async fn move_target(
    app: &App,
    ctx: &Ctx,
    actor: &Actor,
    mut tx: Tx,
    folder: &FolderRow,
    new_parent: Option<&str>,
) -> Result<(Tx, access::Allowed, Option<FolderRow>), AppError> {
    match new_parent {
        Some(pid) => {
            let found = objects::folder_facts(app, &mut tx, actor, pid)
                .await?
                .filter(|p| p.folder.company_id == folder.company_id);
            let (mut tx, _) = objects::decide(
                app,
                ctx,
                actor,
                tx,
                found
                    .as_ref()
                    .map(|f| (f.folder.company_id.as_str(), &f.facts)),
                (AuditAction::FolderMove, ObjectType::Folder, pid),
                ObjectAction::Edit,
            )
            .await?;
            if folders::is_within(&mut tx, pid, &folder.id).await? {
                return Err(AppError::Conflict(
                    "a folder cannot be moved into itself or a folder beneath it",
                ));
            }
            let proof = match access::decide_object(
                &objects::folder_facts(app, &mut tx, actor, &folder.id)
                    .await?
                    .ok_or(AppError::NotFound)?
                    .facts,
                ObjectAction::Manage,
            ) {
                Ok(p) => p,
                Err(_) => return Err(AppError::Forbidden("you do not have the right to do this")),
            };
            Ok((tx, proof, found.map(|f| f.folder)))
        }
        None => {
            let (company, facts) =
                companies::facts(app, &mut tx, actor, &folder.company_id).await?;
            if let Err(reason) = access::decide(&facts, Action::CreateTopFolder) {
                drop(tx);
                return Err(objects::denied(
                    app,
                    ctx,
                    actor,
                    Denial {
                        action: AuditAction::FolderMove,
                        company_id: company.as_ref().map(|c| c.id.as_str()),
                        object: (ObjectType::Folder, &folder.id),
                        reason: if reason == Reason::NotVisible {
                            Reason::Forbidden
                        } else {
                            reason
                        },
                    },
                )
                .await);
            }
            let proof = access::decide_object(
                &objects::folder_facts(app, &mut tx, actor, &folder.id)
                    .await?
                    .ok_or(AppError::NotFound)?
                    .facts,
                ObjectAction::Manage,
            )
            .map_err(|_| AppError::Forbidden("you do not have the right to do this"))?;
            Ok((tx, proof, None))
        }
    }
}

/// Moves a folder and everything beneath it to the trash.
pub async fn delete(app: &App, ctx: &Ctx, actor: &Actor, id: &str) -> Result<(), AppError> {
    let (mut tx, f, proof) = load(
        app,
        ctx,
        actor,
        id,
        AuditAction::FolderDelete,
        ObjectAction::Manage,
    )
    .await?;
    folders::set_deleted(
        &mut tx,
        &proof,
        &f.folder,
        Some((app.now(), &actor.user_id)),
    )
    .await?;
    let ev = Event::new(AuditAction::FolderDelete, Outcome::Allowed)
        .actor(actor)
        .company(&f.folder.company_id)
        .object(ObjectType::Folder, id);
    audit::record(app, &mut tx, ctx, ev).await?;
    tx.commit().await?;
    Ok(())
}
