//! Property test of the object policy: for random folder trees, member
//! access settings, actors, grants (pending, expired, re-shares under a
//! share that may itself have ended) and times, `decide_object` on facts
//! built the way the store builds them agrees with a reference written
//! straight from the rules (API.md "Rights model"), which walks the tree
//! itself and calls neither `resolve_member_access` nor `effective_right`.

use proptest::prelude::*;
use proptest::sample::Index;

use super::objects::{resolve_member_access, Grant, MemberAccess, ObjectFacts, Right};
use super::{decide_object, ObjectAction, Reason};
use crate::Role;

/// Folders nest at most this deep (a top-level folder is at depth 1).
const MAX_DEPTH: usize = 4;

#[derive(Debug, Clone)]
struct FolderSpec {
    parent: Option<usize>,
    /// The folder's own setting (never `Inherit` at the top level).
    access: MemberAccess,
    /// Deleted itself (moved to the trash).
    deleted: bool,
    /// The actor created it.
    creator: bool,
}

#[derive(Debug, Clone)]
struct DocSpec {
    folder: usize,
    deleted: bool,
    creator: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Folder(usize),
    Doc(usize),
}

/// A share to the actor. `parent`: for a guest's re-share, the share it
/// was made under (accepted?, its expiry).
#[derive(Debug, Clone)]
struct ShareSpec {
    target: Target,
    right: Right,
    accepted: bool,
    expires: Option<i64>,
    parent: Option<(bool, Option<i64>)>,
}

#[derive(Debug, Clone)]
struct World {
    folders: Vec<FolderSpec>,
    docs: Vec<DocSpec>,
    shares: Vec<ShareSpec>,
    role: Option<Role>,
    now: i64,
}

impl World {
    fn objects(&self) -> impl Iterator<Item = Target> + '_ {
        (0..self.folders.len())
            .map(Target::Folder)
            .chain((0..self.docs.len()).map(Target::Doc))
    }
}

// ------------------------------------------------------------ strategies

fn access_top() -> impl Strategy<Value = MemberAccess> {
    prop_oneof![
        Just(MemberAccess::None),
        Just(MemberAccess::View),
        Just(MemberAccess::Edit),
    ]
}

fn access_below() -> impl Strategy<Value = MemberAccess> {
    prop_oneof![
        3 => Just(MemberAccess::Inherit),
        1 => Just(MemberAccess::None),
        1 => Just(MemberAccess::View),
        1 => Just(MemberAccess::Edit),
    ]
}

fn right() -> impl Strategy<Value = Right> {
    prop_oneof![Just(Right::View), Just(Right::Edit), Just(Right::Manage)]
}

fn role() -> impl Strategy<Value = Option<Role>> {
    prop_oneof![
        1 => Just(Some(Role::Owner)),
        1 => Just(Some(Role::Admin)),
        2 => Just(Some(Role::Member)),
        1 => Just(Some(Role::Reader)),
        2 => Just(None),
    ]
}

/// Times are small so that "expires exactly now" comes up often.
fn expiry() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![1 => Just(None), 3 => (0i64..=40).prop_map(Some)]
}

type RawFolder = (Option<Index>, MemberAccess, MemberAccess, bool, bool);

/// Each folder picks its parent among the earlier folders that are not
/// yet at the deepest level (or none: the top level).
fn build_folders(raw: Vec<RawFolder>) -> Vec<FolderSpec> {
    let mut out: Vec<FolderSpec> = Vec::with_capacity(raw.len());
    let mut depth: Vec<usize> = Vec::with_capacity(raw.len());
    for (pick, top, below, deleted, creator) in raw {
        let candidates: Vec<usize> = (0..out.len()).filter(|&j| depth[j] < MAX_DEPTH).collect();
        let parent = match pick {
            Some(ix) if !candidates.is_empty() => Some(candidates[ix.index(candidates.len())]),
            _ => None,
        };
        depth.push(parent.map_or(1, |p| depth[p] + 1));
        out.push(FolderSpec {
            parent,
            access: if parent.is_some() { below } else { top },
            deleted,
            creator,
        });
    }
    out
}

prop_compose! {
    fn world()(
        raw_folders in prop::collection::vec(
            (
                prop::option::weighted(0.75, any::<Index>()),
                access_top(),
                access_below(),
                prop::bool::weighted(0.1),
                prop::bool::weighted(0.2),
            ),
            1..=12,
        ),
        raw_docs in prop::collection::vec(
            (any::<Index>(), prop::bool::weighted(0.1), prop::bool::weighted(0.2)),
            0..=12,
        ),
        raw_shares in prop::collection::vec(
            (
                any::<Index>(),
                right(),
                prop::bool::weighted(0.8),
                expiry(),
                prop::option::weighted(0.3, (prop::bool::weighted(0.8), expiry())),
            ),
            0..=8,
        ),
        role in role(),
        now in 0i64..=40,
    ) -> World {
        let folders = build_folders(raw_folders);
        let docs: Vec<DocSpec> = raw_docs
            .into_iter()
            .map(|(f, deleted, creator)| DocSpec {
                folder: f.index(folders.len()),
                deleted,
                creator,
            })
            .collect();
        let objects = folders.len() + docs.len();
        let shares = raw_shares
            .into_iter()
            .map(|(t, right, accepted, expires, parent)| {
                let i = t.index(objects);
                ShareSpec {
                    target: if i < folders.len() {
                        Target::Folder(i)
                    } else {
                        Target::Doc(i - folders.len())
                    },
                    right,
                    accepted,
                    expires,
                    parent,
                }
            })
            .collect();
        World { folders, docs, shares, role, now }
    }
}

// ------------------------------------------- facts, as the store builds them

/// `access_in_force` and `in_trash` of every folder, derived top down like
/// `folders::refresh_subtree` (parents come before their children here).
fn derived(w: &World) -> Vec<(MemberAccess, bool)> {
    let mut out: Vec<(MemberAccess, bool)> = Vec::with_capacity(w.folders.len());
    for f in &w.folders {
        let (access, trash) = match f.parent {
            Some(p) => {
                let (pa, pt) = out[p];
                (resolve_member_access(Some(pa), f.access), pt || f.deleted)
            }
            None => (resolve_member_access(None, f.access), f.deleted),
        };
        out.push((access, trash));
    }
    out
}

/// A folder and every folder above it (the closure rows of `folder_paths`).
fn closure(w: &World, folder: usize) -> Vec<usize> {
    let mut out = vec![folder];
    let mut at = folder;
    while let Some(p) = w.folders[at].parent {
        out.push(p);
        at = p;
    }
    out
}

/// Like `objects::folder_facts` / `objects::doc_facts` with
/// `shares::grants_on_path`.
fn store_facts(w: &World, d: &[(MemberAccess, bool)], obj: Target) -> ObjectFacts {
    let (folder, member_access, is_creator, trashed) = match obj {
        Target::Folder(i) => (i, d[i].0, w.folders[i].creator, d[i].1),
        Target::Doc(j) => {
            let doc = &w.docs[j];
            (
                doc.folder,
                d[doc.folder].0,
                doc.creator,
                doc.deleted || d[doc.folder].1,
            )
        }
    };
    let path = closure(w, folder);
    let grants = w
        .shares
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s.target == obj || matches!(s.target, Target::Folder(f) if path.contains(&f))
        })
        .map(|(k, s)| {
            let (via_active, via_exp) = s.parent.unwrap_or((true, None));
            let until = match (s.expires, via_exp) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            Grant {
                id: format!("s{k}"),
                right: s.right,
                active: s.accepted && via_active,
                until,
            }
        })
        .collect();
    ObjectFacts {
        role: w.role,
        member_access,
        is_creator,
        grants,
        trashed,
        now: w.now,
    }
}

// ------------------------------------------------------------ the reference

/// Rights as numbers: 0 nothing, 1 view, 2 edit, 3 manage.
fn level(r: Right) -> u8 {
    match r {
        Right::View => 1,
        Right::Edit => 2,
        Right::Manage => 3,
    }
}

fn ends_after(expiry: Option<i64>, now: i64) -> bool {
    match expiry {
        None => true,
        Some(t) => t > now,
    }
}

/// A share is in force: accepted, not expired, and (for a re-share) the
/// share it rests on is accepted and not expired either.
fn in_force(s: &ShareSpec, now: i64) -> bool {
    let parent_ok = match s.parent {
        None => true,
        Some((accepted, exp)) => accepted && ends_after(exp, now),
    };
    s.accepted && ends_after(s.expires, now) && parent_ok
}

/// The folder an object sits in (itself for a folder) and whether the
/// object, or any folder above it, is deleted.
fn home(w: &World, obj: Target) -> (usize, bool) {
    match obj {
        Target::Folder(i) => (i, w.folders[i].deleted),
        Target::Doc(j) => (w.docs[j].folder, w.docs[j].deleted),
    }
}

/// The shares in force that reach `obj`: on it, or on any folder above it
/// (for a folder, itself included). Walks the tree upwards.
fn reaching(w: &World, obj: Target) -> Vec<&ShareSpec> {
    let (mut at, _) = home(w, obj);
    let mut out: Vec<&ShareSpec> = w
        .shares
        .iter()
        .filter(|s| s.target == obj && in_force(s, w.now))
        .collect();
    loop {
        let here = Target::Folder(at);
        if here != obj {
            out.extend(
                w.shares
                    .iter()
                    .filter(|s| s.target == here && in_force(s, w.now)),
            );
        }
        match w.folders[at].parent {
            Some(p) => at = p,
            None => return out,
        }
    }
}

fn is_trashed(w: &World, obj: Target) -> bool {
    let (mut at, mut trashed) = home(w, obj);
    loop {
        trashed |= w.folders[at].deleted;
        match w.folders[at].parent {
            Some(p) => at = p,
            None => return trashed,
        }
    }
}

/// Member access in force: the first folder, walking up from the object's
/// folder, that sets its own; none if nothing does.
fn member_level(w: &World, obj: Target) -> u8 {
    let (mut at, _) = home(w, obj);
    loop {
        match w.folders[at].access {
            MemberAccess::None => return 0,
            MemberAccess::View => return 1,
            MemberAccess::Edit => return 2,
            MemberAccess::Inherit => match w.folders[at].parent {
                Some(p) => at = p,
                None => return 0,
            },
        }
    }
}

fn creator(w: &World, obj: Target) -> bool {
    match obj {
        Target::Folder(i) => w.folders[i].creator,
        Target::Doc(j) => w.docs[j].creator,
    }
}

/// The reference right (0: may not know it exists), ignoring the trash.
fn reference_level(w: &World, obj: Target) -> u8 {
    let granted = reaching(w, obj)
        .iter()
        .map(|s| level(s.right))
        .max()
        .unwrap_or(0);
    match w.role {
        Some(Role::Owner) | Some(Role::Admin) => 3,
        None => granted,
        Some(role) => {
            let other = granted.max(member_level(w, obj));
            if other == 0 {
                return 0;
            }
            let mine = if creator(w, obj) { 3 } else { other };
            if role == Role::Reader {
                mine.min(1)
            } else {
                mine
            }
        }
    }
}

/// The reference decision.
fn reference(w: &World, obj: Target, action: ObjectAction) -> Result<(), Reason> {
    let restoring = action == ObjectAction::Restore;
    // In the trash: invisible to everything but a restore; out of it,
    // there is nothing to restore.
    if is_trashed(w, obj) != restoring {
        return Err(Reason::NotVisible);
    }
    let have = reference_level(w, obj);
    if have == 0 {
        return Err(Reason::NotVisible);
    }
    let need = match action {
        ObjectAction::View => 1,
        ObjectAction::Edit => 2,
        ObjectAction::Manage | ObjectAction::Share { .. } | ObjectAction::Restore => 3,
    };
    if have < need {
        return Err(Reason::Forbidden);
    }
    if let (None, ObjectAction::Share { right }) = (w.role, action) {
        // A guest re-shares with view or edit only.
        if right == Right::Manage {
            return Err(Reason::Forbidden);
        }
    }
    Ok(())
}

/// For a guest's re-share: when the longest-lasting `manage` share in
/// force ends (`None`: never), if there is one.
fn longest_manage(w: &World, obj: Target) -> Option<Option<i64>> {
    reaching(w, obj)
        .iter()
        .filter(|s| s.right == Right::Manage)
        .map(|s| match (s.expires, s.parent.and_then(|p| p.1)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
        .max_by_key(|u| u.unwrap_or(i64::MAX))
}

const ACTIONS: [ObjectAction; 7] = [
    ObjectAction::View,
    ObjectAction::Edit,
    ObjectAction::Manage,
    ObjectAction::Share { right: Right::View },
    ObjectAction::Share { right: Right::Edit },
    ObjectAction::Share {
        right: Right::Manage,
    },
    ObjectAction::Restore,
];

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn decide_object_agrees_with_the_rules(w in world()) {
        let d = derived(&w);
        for obj in w.objects() {
            let facts = store_facts(&w, &d, obj);
            for action in ACTIONS {
                let got = decide_object(&facts, action);
                let want = reference(&w, obj, action);
                prop_assert_eq!(
                    got.as_ref().map(|_| ()).map_err(|r| *r),
                    want,
                    "{:?} {:?} with {:?}",
                    obj,
                    action,
                    facts
                );
                let via = got.as_ref().ok().and_then(|a| a.via());
                if w.role.is_none() && got.is_ok() && matches!(action, ObjectAction::Share { .. }) {
                    // A guest's share rests on their longest-lasting
                    // manage share in force.
                    let basis = via
                        .and_then(|id| facts.grants.iter().find(|g| g.id == id))
                        .map(|g| (g.right, g.live(w.now), g.until));
                    let longest = longest_manage(&w, obj).map(|u| (Right::Manage, true, u));
                    prop_assert!(longest.is_some(), "{:?} {:?}: no manage share", obj, action);
                    prop_assert_eq!(basis, longest, "{:?} {:?} via {:?}", obj, action, via);
                } else {
                    prop_assert_eq!(via, None, "{:?} {:?}", obj, action);
                }
            }
        }
    }

    /// Member access in force, resolved level by level as the store does,
    /// is the first setting found walking up the tree.
    #[test]
    fn member_access_resolves_to_the_nearest_setting(w in world()) {
        let d = derived(&w);
        for (i, (access, _)) in d.iter().enumerate() {
            prop_assert_ne!(*access, MemberAccess::Inherit);
            let level = access.right().map_or(0, level);
            prop_assert_eq!(level, member_level(&w, Target::Folder(i)), "folder {}", i);
            prop_assert_eq!(d[i].1, is_trashed(&w, Target::Folder(i)), "folder {}", i);
        }
    }
}
