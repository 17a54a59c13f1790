//! Rights on folders and documents (API.md, "Rights model").
//!
//! An actor's effective right on an object is computed from facts the store
//! gathers in a few statements: the actor's role in the object's company,
//! the member access the object inherits (already resolved down the folder
//! tree, see [`resolve_member_access`]), whether the actor created it, and
//! the actor's grants on the object and on every folder above it. This
//! module turns those facts into a right and a decision; it does no IO and
//! takes the time as an argument, so expiry is checked on every request.

use crate::Role;

/// A right on an object, lowest first, so rights compare with `<`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Right {
    View,
    Edit,
    Manage,
}

impl Right {
    pub const ALL: [Right; 3] = [Right::View, Right::Edit, Right::Manage];

    pub fn as_str(self) -> &'static str {
        match self {
            Right::View => "view",
            Right::Edit => "edit",
            Right::Manage => "manage",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Right::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// A folder's `member_access`: the right every company member holds on it
/// and below it, or `Inherit` (take the parent's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberAccess {
    Inherit,
    None,
    View,
    Edit,
}

impl MemberAccess {
    pub const ALL: [MemberAccess; 4] = [
        MemberAccess::Inherit,
        MemberAccess::None,
        MemberAccess::View,
        MemberAccess::Edit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MemberAccess::Inherit => "inherit",
            MemberAccess::None => "none",
            MemberAccess::View => "view",
            MemberAccess::Edit => "edit",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        MemberAccess::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// The right it gives a member (`Inherit` resolved first).
    pub fn right(self) -> Option<Right> {
        match self {
            MemberAccess::View => Some(Right::View),
            MemberAccess::Edit => Some(Right::Edit),
            MemberAccess::Inherit | MemberAccess::None => None,
        }
    }
}

/// The member access in force on a folder whose own setting is `own`, below
/// a parent whose access in force is `parent` (`None` at the top level, where
/// `Inherit` gives no access). The result is never `Inherit`.
pub fn resolve_member_access(parent: Option<MemberAccess>, own: MemberAccess) -> MemberAccess {
    match (own, parent) {
        (MemberAccess::Inherit, Some(p)) if p != MemberAccess::Inherit => p,
        (MemberAccess::Inherit, _) => MemberAccess::None,
        (own, _) => own,
    }
}

/// One grant (share) the actor holds on the object or on a folder above it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    pub right: Right,
    /// Accepted by the grantee (a share to a guest begins on acceptance).
    pub active: bool,
    /// When it ends: the earlier of its own expiry and, for a guest's
    /// re-share, the expiry of the share it was made under. `None`: never.
    pub until: Option<i64>,
}

impl Grant {
    /// In force at `now` (milliseconds).
    pub fn live(&self, now: i64) -> bool {
        self.active && self.until.is_none_or(|t| t > now)
    }
}

/// What the policy needs to know about one object and one actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectFacts {
    /// The actor's active role in the object's company; `None` for a guest
    /// (or anyone else outside the company).
    pub role: Option<Role>,
    /// The member access in force on the object (for a document: on its
    /// folder), resolved down the tree; never `Inherit`.
    pub member_access: MemberAccess,
    /// The actor created the object.
    pub is_creator: bool,
    /// The actor's grants on the object and on every folder above it.
    pub grants: Vec<Grant>,
    /// The object or a folder above it is in the trash.
    pub trashed: bool,
    /// The time the decision is made (milliseconds).
    pub now: i64,
}

/// The actor's effective right on the object, ignoring the trash: the
/// highest of the creator's `manage` (while they can view it by other
/// means), any live grant, and the member access; then capped by the role.
/// `None`: they may not know it exists.
pub fn effective_right(f: &ObjectFacts) -> Option<Right> {
    let grant = f
        .grants
        .iter()
        .filter(|g| g.live(f.now))
        .map(|g| g.right)
        .max();
    match f.role {
        Some(Role::Owner | Role::Admin) => Some(Right::Manage),
        Some(role) => {
            let base = grant.max(f.member_access.right())?;
            let base = if f.is_creator { Right::Manage } else { base };
            Some(if role == Role::Reader {
                base.min(Right::View)
            } else {
                base
            })
        }
        // A guest holds exactly what was shared with them.
        None => grant,
    }
}

/// The live grant a guest's re-share is made under: their longest-lasting
/// live `manage` grant (a re-share never outlives it).
pub fn reshare_basis(f: &ObjectFacts) -> Option<&Grant> {
    f.grants
        .iter()
        .filter(|g| g.live(f.now) && g.right == Right::Manage)
        .max_by_key(|g| g.until.map_or(i64::MAX, |t| t))
}

/// Which items of a listing an actor sees, for the store to apply inside
/// its query: every item, or (`member`) those whose member access in force
/// is not `none`; items with a live grant of their own are always seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingScope {
    pub all: bool,
    pub member: bool,
}

/// The scope of listing what is in a folder the actor may view, whose
/// grants on it and above it are `grants` (none for the company's top
/// level): owners and admins, and anyone holding a live grant there, see
/// everything beneath.
pub fn listing_scope(role: Option<Role>, grants: &[Grant], now: i64) -> ListingScope {
    ListingScope {
        all: role.is_some_and(Role::is_admin) || grants.iter().any(|g| g.live(now)),
        member: role.is_some(),
    }
}

/// The scope of the trash listing: owners and admins see all of it
/// (`all`); members what they may manage (`member`: what they created and
/// can still view, or hold a live `manage` grant on); readers and guests
/// nothing — the same rule as [`effective_right`] ≥ manage, applied in SQL.
pub fn trash_scope(role: Option<Role>) -> ListingScope {
    ListingScope {
        all: role.is_some_and(Role::is_admin),
        member: role.is_some_and(|r| r > Role::Reader),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Right::*;
    use Role::*;

    const NOW: i64 = 1_000_000;

    fn grant(right: Right, until: Option<i64>) -> Grant {
        Grant {
            id: "g".into(),
            right,
            active: true,
            until,
        }
    }

    fn facts(role: Option<Role>, access: MemberAccess, grants: Vec<Grant>) -> ObjectFacts {
        ObjectFacts {
            role,
            member_access: access,
            is_creator: false,
            grants,
            trashed: false,
            now: NOW,
        }
    }

    #[test]
    fn listing_and_trash_scopes_by_role_and_grant() {
        let scope = |all, member| ListingScope { all, member };
        assert_eq!(listing_scope(Some(Admin), &[], NOW), scope(true, true));
        assert_eq!(listing_scope(Some(Member), &[], NOW), scope(false, true));
        let g = [grant(View, Some(NOW + 1))];
        assert_eq!(listing_scope(Some(Reader), &g, NOW), scope(true, true));
        assert_eq!(listing_scope(None, &g, NOW), scope(true, false));
        let expired = [grant(View, Some(NOW))];
        assert_eq!(listing_scope(None, &expired, NOW), scope(false, false));
        assert_eq!(trash_scope(Some(Owner)), scope(true, true));
        assert_eq!(trash_scope(Some(Member)), scope(false, true));
        assert_eq!(trash_scope(Some(Reader)), scope(false, false));
        assert_eq!(trash_scope(None), scope(false, false));
    }

    #[test]
    fn member_access_is_inherited_until_a_folder_sets_its_own() {
        use MemberAccess as M;
        assert_eq!(resolve_member_access(None, M::Inherit), M::None);
        assert_eq!(resolve_member_access(None, M::Edit), M::Edit);
        assert_eq!(resolve_member_access(Some(M::View), M::Inherit), M::View);
        assert_eq!(resolve_member_access(Some(M::View), M::None), M::None);
        assert_eq!(resolve_member_access(Some(M::None), M::Edit), M::Edit);
    }

    #[test]
    fn rights_by_role_and_member_access() {
        use MemberAccess as M;
        // (role, member access in force) -> right; each allow beside its deny twin.
        let table = [
            (Some(Owner), M::None, Some(Manage)),
            (Some(Admin), M::None, Some(Manage)),
            (Some(Member), M::None, None),
            (Some(Member), M::View, Some(View)),
            (Some(Member), M::Edit, Some(Edit)),
            (Some(Reader), M::Edit, Some(View)),
            (Some(Reader), M::None, None),
            (None, M::Edit, None),
        ];
        for (role, access, want) in table {
            assert_eq!(
                effective_right(&facts(role, access, vec![])),
                want,
                "{role:?} {access:?}"
            );
        }
    }

    #[test]
    fn grants_add_to_member_access_and_are_capped_by_the_role() {
        use MemberAccess as M;
        let table = [
            (Some(Member), M::None, Manage, Some(Manage)),
            (Some(Member), M::Edit, View, Some(Edit)),
            (Some(Reader), M::None, Manage, Some(View)),
            (None, M::Edit, View, Some(View)),
            (None, M::None, Manage, Some(Manage)),
        ];
        for (role, access, g, want) in table {
            let f = facts(role, access, vec![grant(g, None)]);
            assert_eq!(effective_right(&f), want, "{role:?} {access:?} {g:?}");
        }
    }

    #[test]
    fn expired_pending_and_future_grants() {
        let live = facts(None, MemberAccess::None, vec![grant(Edit, Some(NOW + 1))]);
        assert_eq!(effective_right(&live), Some(Edit));
        let expired = facts(None, MemberAccess::None, vec![grant(Edit, Some(NOW))]);
        assert_eq!(effective_right(&expired), None);
        let mut pending = grant(Edit, None);
        pending.active = false;
        assert_eq!(
            effective_right(&facts(None, MemberAccess::None, vec![pending])),
            None
        );
    }

    #[test]
    fn creators_manage_what_they_can_still_view() {
        let mut f = facts(Some(Member), MemberAccess::View, vec![]);
        f.is_creator = true;
        assert_eq!(effective_right(&f), Some(Manage));
        f.member_access = MemberAccess::None;
        assert_eq!(effective_right(&f), None);
        f.grants = vec![grant(View, None)];
        assert_eq!(effective_right(&f), Some(Manage));
        f.role = Some(Reader);
        assert_eq!(effective_right(&f), Some(View));
        // A guest who created something holds their share's right.
        f.role = None;
        assert_eq!(effective_right(&f), Some(View));
    }

    #[test]
    fn a_reshare_rests_on_the_longest_live_manage_grant() {
        let mut f = facts(None, MemberAccess::None, vec![]);
        f.grants = vec![
            Grant {
                id: "short".into(),
                ..grant(Manage, Some(NOW + 10))
            },
            Grant {
                id: "edit".into(),
                ..grant(Edit, None)
            },
            Grant {
                id: "long".into(),
                ..grant(Manage, Some(NOW + 100))
            },
        ];
        assert_eq!(reshare_basis(&f).map(|g| g.id.as_str()), Some("long"));
        f.grants.retain(|g| g.right != Manage);
        assert_eq!(reshare_basis(&f), None);
    }
}
