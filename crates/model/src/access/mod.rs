//! The one place that decides access: "may this actor do this action to this
//! object?"
//!
//! `decide` is a pure function of facts (the actor, their role in the
//! company, how recently they authenticated) and the action. It does no IO
//! and reads no clock. It denies by default: an action it does not list for
//! a role is denied.
//!
//! A denial says *why* in its [`Reason`]; the caller turns
//! [`Reason::NotVisible`] into a 404 (so ids cannot be probed) and records
//! the real reason in the audit log.
//!
//! Store functions that change company data take an [`Allowed`] proof that
//! only `decide` can create, so a caller cannot skip the check.

use crate::Role;

pub mod objects;
#[cfg(test)]
mod props;
pub mod tokens;

pub use objects::{
    effective_right, listing_scope, resolve_member_access, trash_scope, Grant, ListingScope,
    MemberAccess, ObjectFacts, Right,
};

/// Who is asking, as far as the policy needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActorFacts {
    /// A platform operator (runs the platform, sees no company content).
    pub is_operator: bool,
    /// The actor's active role in the company the action concerns; `None`
    /// when they are not an active member (invited members are not yet).
    pub role: Option<Role>,
    /// A password or second factor was given within the recent-auth window.
    pub recent_auth: bool,
    /// Not a member, but holds a live share on something in the company.
    pub is_guest: bool,
}

/// What the actor wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Create a company (platform).
    CreateCompany,
    /// Read a company's name and settings.
    ViewCompany,
    /// Change a company's name or settings.
    UpdateCompany,
    /// Schedule a company's deletion: an owner, or an operator (who need
    /// not belong to it); recent auth.
    DeleteCompany,
    /// Cancel a scheduled deletion: an owner.
    CancelCompanyDeletion,
    /// List a company's members and invitations.
    ListMembers,
    /// Invite someone as `role`.
    InviteMember { role: Role },
    /// Change a member's role from `from` to `to`; `is_self` when the actor
    /// changes their own role.
    ChangeRole { from: Role, to: Role, is_self: bool },
    /// Remove a member holding `role`; `is_self` when the actor leaves.
    RemoveMember { role: Role, is_self: bool },
    /// Remove every second factor of a member holding `role`; `exclusive`
    /// when the member belongs to no other company and is no operator
    /// (anyone else only the operator CLI may reset).
    ResetMemberMfa { role: Role, exclusive: bool },
    /// Create an API token for oneself, reaching this company (a member or
    /// a guest there; recent auth).
    CreateToken,
    /// List the top-level folders (members and guests; filtered by rights).
    ListFolders,
    /// Create a folder at the top level of the company.
    CreateTopFolder,
    /// Read the company's folder and document templates.
    ViewTemplates,
    /// Create or change folder and document templates.
    ManageTemplates,
    /// List the company's trash (filtered to what the actor may manage).
    ViewTrash,
    /// Read a company's audit log and its usage figures (and the inclusion
    /// proof of an event in it).
    ReadAudit,
    /// Export a company's audit log (recent auth).
    ExportAudit,
    /// Read the platform's audit log (operators).
    ReadPlatformAudit,
    /// Export the platform's audit log (operators, recent auth).
    ExportPlatformAudit,
    /// Read the platform's status: version, backups, drills, key versions
    /// (operators; no company content).
    ViewPlatformStatus,
    /// Read the log's checkpoints and consistency proofs: operators, and
    /// whoever is an owner or admin of some company (`role` is then the
    /// actor's highest active role in any company).
    ReadAuditProofs,
    /// Something done to one folder or document; decided by
    /// [`decide_object`] from the object's facts.
    Object(ObjectAction),
}

/// What an actor wants to do to a folder or document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectAction {
    /// Read it (and list what is in a folder).
    View,
    /// Change its content, or create something inside a folder.
    Edit,
    /// Delete it, move it, change its `member_access`, list its shares.
    Manage,
    /// Share it with someone, with this right.
    Share { right: Right },
    /// Bring it back from the trash.
    Restore,
}

impl ObjectAction {
    /// The right the action needs.
    pub fn needs(self) -> Right {
        match self {
            ObjectAction::View => Right::View,
            ObjectAction::Edit => Right::Edit,
            ObjectAction::Manage | ObjectAction::Share { .. } | ObjectAction::Restore => {
                Right::Manage
            }
        }
    }
}

/// Why an action was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The actor may not know the object exists (answer 404).
    NotVisible,
    /// The actor sees the object but may not do this (answer 403).
    Forbidden,
    /// Allowed only with a recent authentication (answer 403
    /// `reauthentication_required`).
    ReauthRequired,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NotVisible => "not_visible",
            Reason::Forbidden => "forbidden",
            Reason::ReauthRequired => "reauthentication_required",
        }
    }
}

/// Proof that `decide` allowed an action. It cannot be made elsewhere.
#[derive(Debug)]
pub struct Allowed {
    action: Action,
    via: Option<String>,
}

impl Allowed {
    pub fn action(&self) -> Action {
        self.action
    }

    /// For a guest's re-share: the id of the share it is made under (it
    /// ends when that one ends).
    pub fn via(&self) -> Option<&str> {
        self.via.as_deref()
    }
}

/// The decision: allowed (with proof) or denied (with the reason).
pub type Decision = Result<Allowed, Reason>;

/// Decides whether `actor` may do `action`.
pub fn decide(actor: &ActorFacts, action: Action) -> Decision {
    let allow = Ok(Allowed { action, via: None });
    if action == Action::CreateCompany {
        return if actor.is_operator {
            allow
        } else {
            Err(Reason::Forbidden)
        };
    }
    let needs_recent = |allowed: bool| match (allowed, actor.recent_auth) {
        (false, _) => Err(Reason::Forbidden),
        (true, false) => Err(Reason::ReauthRequired),
        (true, true) => Ok(Allowed { action, via: None }),
    };
    match action {
        Action::ReadPlatformAudit | Action::ViewPlatformStatus => {
            return allow_if(actor.is_operator, action)
        }
        Action::ExportPlatformAudit => return needs_recent(actor.is_operator),
        Action::ReadAuditProofs => {
            let admin = actor.role.is_some_and(Role::is_admin);
            return allow_if(actor.is_operator || admin, action);
        }
        _ => {}
    }
    // Everything else concerns one company: a non-member (an operator
    // included) may not learn that it exists.
    if action == Action::ListFolders && actor.is_guest && actor.role.is_none() {
        return allow;
    }
    if action == Action::CreateToken && actor.is_guest && actor.role.is_none() {
        return needs_recent(true);
    }
    // Operators run the platform: they delete a company without seeing it.
    if action == Action::DeleteCompany && actor.is_operator && actor.role != Some(Role::Owner) {
        return needs_recent(true);
    }
    let Some(role) = actor.role else {
        return Err(Reason::NotVisible);
    };
    match action {
        Action::CreateCompany => Err(Reason::Forbidden),
        Action::ViewCompany => allow,
        Action::DeleteCompany => needs_recent(role == Role::Owner),
        Action::CancelCompanyDeletion => allow_if(role == Role::Owner, action),
        Action::UpdateCompany | Action::ListMembers => {
            if role.is_admin() {
                allow
            } else {
                Err(Reason::Forbidden)
            }
        }
        Action::InviteMember { role: invited } => {
            let may = role.is_admin() && (invited != Role::Owner || role == Role::Owner);
            if invited.is_privileged() {
                needs_recent(may)
            } else if may {
                allow
            } else {
                Err(Reason::Forbidden)
            }
        }
        Action::ChangeRole { from, to, is_self } => {
            let touches_owner = from == Role::Owner || to == Role::Owner;
            let may = role.is_admin() && (!touches_owner || role == Role::Owner);
            // Stepping down yourself is always allowed (the last-owner rule
            // is checked on the data, see `owner_remains`).
            let stepping_down = is_self && to < from;
            if stepping_down {
                allow
            } else if to.is_privileged() || from.is_privileged() {
                needs_recent(may)
            } else if may {
                allow
            } else {
                Err(Reason::Forbidden)
            }
        }
        Action::RemoveMember {
            role: target,
            is_self,
        } => {
            if is_self || (role.is_admin() && (target != Role::Owner || role == Role::Owner)) {
                allow
            } else {
                Err(Reason::Forbidden)
            }
        }
        Action::ResetMemberMfa {
            role: target,
            exclusive,
        } => {
            let may = role.is_admin() && (target != Role::Owner || role == Role::Owner);
            if may && !exclusive {
                Err(Reason::Forbidden)
            } else {
                needs_recent(may)
            }
        }
        Action::CreateToken => needs_recent(true),
        Action::ListFolders | Action::ViewTemplates | Action::ViewTrash => allow,
        Action::CreateTopFolder => {
            if role > Role::Reader {
                allow
            } else {
                Err(Reason::Forbidden)
            }
        }
        Action::ManageTemplates | Action::ReadAudit => {
            if role.is_admin() {
                allow
            } else {
                Err(Reason::Forbidden)
            }
        }
        Action::ExportAudit => needs_recent(role.is_admin()),
        Action::ReadPlatformAudit
        | Action::ExportPlatformAudit
        | Action::ReadAuditProofs
        | Action::ViewPlatformStatus => Err(Reason::Forbidden),
        // Object actions need the object's facts: `decide_object`.
        Action::Object(_) => Err(Reason::Forbidden),
    }
}

fn allow_if(allowed: bool, action: Action) -> Decision {
    if allowed {
        Ok(Allowed { action, via: None })
    } else {
        Err(Reason::Forbidden)
    }
}

/// Decides whether an actor whose facts about one object are `f` may do
/// `action` to it. An object they may not view (or that is in the trash,
/// unless they restore it) is `NotVisible`; one they see but may not
/// change is `Forbidden`.
pub fn decide_object(f: &ObjectFacts, action: ObjectAction) -> Decision {
    let right = effective_right(f);
    if f.trashed != (action == ObjectAction::Restore) {
        return Err(Reason::NotVisible);
    }
    let Some(right) = right else {
        return Err(Reason::NotVisible);
    };
    if right < action.needs() {
        return Err(Reason::Forbidden);
    }
    let mut via = None;
    if let ObjectAction::Share { right: shared } = action {
        if f.role.is_none() {
            // A guest re-shares with view or edit only, under their own
            // manage grant, and never for longer than it lasts.
            if shared == Right::Manage {
                return Err(Reason::Forbidden);
            }
            via = Some(
                objects::reshare_basis(f)
                    .ok_or(Reason::Forbidden)?
                    .id
                    .clone(),
            );
        }
    }
    Ok(Allowed {
        action: Action::Object(action),
        via,
    })
}

/// A company always keeps at least one active owner: `owners` is how many it
/// has now, `was_owner` whether the member being changed or removed is one,
/// and `stays_owner` whether they still will be.
pub fn owner_remains(owners: u64, was_owner: bool, stays_owner: bool) -> bool {
    !(was_owner && !stays_owner && owners <= 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use Role::*;

    const NO: Result<(), Reason> = Err(Reason::Forbidden);
    const HIDDEN: Result<(), Reason> = Err(Reason::NotVisible);
    const REAUTH: Result<(), Reason> = Err(Reason::ReauthRequired);
    const YES: Result<(), Reason> = Ok(());

    fn check(role: Option<Role>, recent_auth: bool, action: Action, want: Result<(), Reason>) {
        let actor = ActorFacts {
            is_operator: false,
            role,
            recent_auth,
            is_guest: false,
        };
        let got = decide(&actor, action).map(|_| ());
        assert_eq!(got, want, "{role:?} recent={recent_auth} {action:?}");
    }

    #[test]
    fn non_members_cannot_see_a_company() {
        check(None, true, ViewCompany, HIDDEN);
        check(None, true, ListMembers, HIDDEN);
        check(None, true, InviteMember { role: Reader }, HIDDEN);
        check(
            None,
            true,
            RemoveMember {
                role: Reader,
                is_self: false,
            },
            HIDDEN,
        );
        check(Some(Reader), false, ViewCompany, YES);
    }

    #[test]
    fn operators_create_companies_but_do_not_see_them() {
        let op = ActorFacts {
            is_operator: true,
            role: None,
            recent_auth: true,
            is_guest: false,
        };
        assert!(decide(&op, CreateCompany).is_ok());
        assert_eq!(decide(&op, ViewCompany).map(|_| ()), HIDDEN);
        assert_eq!(decide(&op, ListMembers).map(|_| ()), HIDDEN);
        let user = ActorFacts {
            is_operator: false,
            role: Some(Owner),
            recent_auth: true,
            is_guest: false,
        };
        assert_eq!(decide(&user, CreateCompany).map(|_| ()), NO);
    }

    #[test]
    fn owners_and_operators_delete_companies_with_recent_auth() {
        check(Some(Owner), true, DeleteCompany, YES);
        check(Some(Owner), false, DeleteCompany, REAUTH);
        check(Some(Admin), true, DeleteCompany, NO);
        check(None, true, DeleteCompany, HIDDEN);
        check(Some(Owner), false, CancelCompanyDeletion, YES);
        check(Some(Admin), true, CancelCompanyDeletion, NO);
        let op = |recent_auth| ActorFacts {
            is_operator: true,
            role: None,
            recent_auth,
            is_guest: false,
        };
        assert_eq!(decide(&op(true), DeleteCompany).map(|_| ()), YES);
        assert_eq!(decide(&op(false), DeleteCompany).map(|_| ()), REAUTH);
        assert_eq!(decide(&op(true), CancelCompanyDeletion).map(|_| ()), HIDDEN);
    }

    #[test]
    fn only_admins_list_members_and_change_settings() {
        for (role, want) in [(Owner, YES), (Admin, YES), (Member, NO), (Reader, NO)] {
            check(Some(role), false, ListMembers, want);
            check(Some(role), false, UpdateCompany, want);
        }
    }

    #[test]
    fn admins_invite_members_and_readers_without_reauth() {
        check(Some(Admin), false, InviteMember { role: Member }, YES);
        check(Some(Admin), false, InviteMember { role: Reader }, YES);
        check(Some(Member), false, InviteMember { role: Reader }, NO);
        check(Some(Reader), true, InviteMember { role: Reader }, NO);
    }

    #[test]
    fn inviting_admins_and_owners_needs_recent_auth_and_owners_only_by_owners() {
        check(Some(Admin), false, InviteMember { role: Admin }, REAUTH);
        check(Some(Admin), true, InviteMember { role: Admin }, YES);
        check(Some(Admin), true, InviteMember { role: Owner }, NO);
        check(Some(Owner), false, InviteMember { role: Owner }, REAUTH);
        check(Some(Owner), true, InviteMember { role: Owner }, YES);
        check(Some(Member), true, InviteMember { role: Admin }, NO);
    }

    #[test]
    fn admins_reset_the_mfa_of_members_only_theirs_alone_with_recent_auth() {
        let reset = |role, exclusive| ResetMemberMfa { role, exclusive };
        check(Some(Admin), true, reset(Member, true), YES);
        check(Some(Admin), false, reset(Member, true), REAUTH);
        check(Some(Admin), true, reset(Admin, true), YES);
        // An owner's factors: owners only.
        check(Some(Admin), true, reset(Owner, true), NO);
        check(Some(Owner), true, reset(Owner, true), YES);
        // Someone who belongs elsewhere too, or an operator: the CLI only.
        check(Some(Owner), true, reset(Member, false), NO);
        check(Some(Member), true, reset(Reader, true), NO);
        check(Some(Reader), true, reset(Reader, true), NO);
        check(None, true, reset(Reader, true), HIDDEN);
    }

    #[test]
    fn members_and_guests_create_tokens_for_their_company_with_recent_auth() {
        for role in [Owner, Admin, Member, Reader] {
            check(Some(role), true, CreateToken, YES);
            check(Some(role), false, CreateToken, REAUTH);
        }
        check(None, true, CreateToken, HIDDEN);
        let guest = |recent_auth| ActorFacts {
            is_operator: false,
            role: None,
            recent_auth,
            is_guest: true,
        };
        assert!(decide(&guest(true), CreateToken).is_ok());
        assert_eq!(
            decide(&guest(false), CreateToken).map(|_| ()),
            Err(Reason::ReauthRequired)
        );
        let operator = ActorFacts {
            is_operator: true,
            role: None,
            recent_auth: true,
            is_guest: false,
        };
        assert_eq!(
            decide(&operator, CreateToken).map(|_| ()),
            Err(Reason::NotVisible)
        );
    }

    #[test]
    fn only_owners_change_owners() {
        check(
            Some(Admin),
            true,
            ChangeRole {
                from: Owner,
                to: Admin,
                is_self: false,
            },
            NO,
        );
        check(
            Some(Owner),
            true,
            ChangeRole {
                from: Owner,
                to: Admin,
                is_self: false,
            },
            YES,
        );
        check(
            Some(Admin),
            true,
            ChangeRole {
                from: Member,
                to: Owner,
                is_self: false,
            },
            NO,
        );
        check(
            Some(Owner),
            false,
            ChangeRole {
                from: Member,
                to: Owner,
                is_self: false,
            },
            REAUTH,
        );
    }

    #[test]
    fn promoting_to_admin_needs_recent_auth() {
        check(
            Some(Admin),
            false,
            ChangeRole {
                from: Member,
                to: Admin,
                is_self: false,
            },
            REAUTH,
        );
        check(
            Some(Admin),
            true,
            ChangeRole {
                from: Member,
                to: Admin,
                is_self: false,
            },
            YES,
        );
        check(
            Some(Admin),
            false,
            ChangeRole {
                from: Member,
                to: Reader,
                is_self: false,
            },
            YES,
        );
        check(
            Some(Member),
            false,
            ChangeRole {
                from: Reader,
                to: Member,
                is_self: false,
            },
            NO,
        );
    }

    #[test]
    fn anyone_may_step_down_or_leave() {
        check(
            Some(Admin),
            false,
            ChangeRole {
                from: Admin,
                to: Member,
                is_self: true,
            },
            YES,
        );
        check(
            Some(Member),
            false,
            ChangeRole {
                from: Member,
                to: Admin,
                is_self: true,
            },
            NO,
        );
        check(
            Some(Reader),
            false,
            RemoveMember {
                role: Reader,
                is_self: true,
            },
            YES,
        );
    }

    #[test]
    fn only_owners_remove_owners() {
        check(
            Some(Admin),
            false,
            RemoveMember {
                role: Owner,
                is_self: false,
            },
            NO,
        );
        check(
            Some(Owner),
            false,
            RemoveMember {
                role: Owner,
                is_self: false,
            },
            YES,
        );
        check(
            Some(Admin),
            false,
            RemoveMember {
                role: Admin,
                is_self: false,
            },
            YES,
        );
        check(
            Some(Member),
            false,
            RemoveMember {
                role: Reader,
                is_self: false,
            },
            NO,
        );
    }

    #[test]
    fn company_audit_is_for_admins_and_export_needs_recent_auth() {
        for role in [Owner, Admin] {
            check(Some(role), false, ReadAudit, YES);
            check(Some(role), false, ExportAudit, REAUTH);
            check(Some(role), true, ExportAudit, YES);
        }
        for role in [Member, Reader] {
            check(Some(role), true, ReadAudit, NO);
            check(Some(role), true, ExportAudit, NO);
        }
        check(None, true, ReadAudit, HIDDEN);
        check(None, true, ExportAudit, HIDDEN);
    }

    #[test]
    fn platform_audit_is_for_operators_and_proofs_for_admins_anywhere() {
        let facts = |is_operator, role, recent_auth| ActorFacts {
            is_operator,
            role,
            recent_auth,
            is_guest: false,
        };
        let d = |f: ActorFacts, a| decide(&f, a).map(|_| ());
        assert_eq!(d(facts(true, None, false), ReadPlatformAudit), YES);
        assert_eq!(d(facts(true, None, false), ExportPlatformAudit), REAUTH);
        assert_eq!(d(facts(true, None, true), ExportPlatformAudit), YES);
        assert_eq!(d(facts(false, Some(Owner), true), ReadPlatformAudit), NO);
        assert_eq!(d(facts(true, None, false), ViewPlatformStatus), YES);
        assert_eq!(d(facts(false, Some(Owner), true), ViewPlatformStatus), NO);
        assert_eq!(d(facts(false, None, true), ViewPlatformStatus), NO);
        assert_eq!(d(facts(false, Some(Owner), true), ExportPlatformAudit), NO);
        assert_eq!(d(facts(true, None, false), ReadAuditProofs), YES);
        assert_eq!(d(facts(false, Some(Admin), false), ReadAuditProofs), YES);
        assert_eq!(d(facts(false, Some(Member), true), ReadAuditProofs), NO);
        assert_eq!(d(facts(false, None, true), ReadAuditProofs), NO);
        // An operator sees no company's audit.
        assert_eq!(d(facts(true, None, true), ReadAudit), HIDDEN);
    }

    #[test]
    fn the_last_owner_stays() {
        assert!(!owner_remains(1, true, false));
        assert!(owner_remains(2, true, false));
        assert!(owner_remains(1, true, true));
        assert!(owner_remains(1, false, false));
    }
}
