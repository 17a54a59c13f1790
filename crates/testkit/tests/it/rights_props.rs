//! The rights model as a property, through the real server (API.md "Rights
//! model"): a random company history — folders and documents made by
//! whoever may, member access set, folders moved, shares to members and
//! guests (some expiring, some never accepted, guests' re-shares), shares
//! revoked, roles changed, objects trashed, the clock moved on — runs
//! against the server while a reference model written here, straight from
//! the rules, follows along. Every request's status must be the model's;
//! at the end every user reads every object, lists every folder they may
//! view and the company's top level, and searches, and sees exactly what
//! the model says, no more and no less.
//!
//! One server per backend serves every case (a new company per case).
//! `TURVA_PROPS_TRACE=1` prints each case's operations and final state;
//! `TURVA_PROPS_CASES=n` runs n cases instead of 40.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::{json, Value};
use turva_app::Clock;
use turva_testkit::{Answer, Backend, Client, TestApp, PASSWORD};

use crate::content::{ids, items, mails_to, new_token, staff, text, user_id};

// ------------------------------------------------------------- the users

const OWNER: usize = 0;
/// Users: 0 the owner, 1 an admin, 2 and 3 members, 4 a reader (the
/// owner turns 2-4 into readers and back), 5 and 6 guests.
const USERS: usize = 7;
const NAMES: [&str; USERS] = [
    "owner", "admin", "member1", "member2", "reader", "guest1", "guest2",
];

/// A word in every document title, for the search check.
const WORD: &str = "kvartsi";

/// Share lifetimes and clock steps, in seconds.
const EXPIRIES: [i64; 4] = [600, 3600, 2 * 3600, 6 * 3600];
const STEPS: [i64; 5] = [300, 1800, 3600, 3 * 3600, 5 * 3600];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Owner,
    Admin,
    Member,
    Reader,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Reader => "reader",
        }
    }
}

// Rights as numbers.
const NONE: u8 = 0;
const VIEW: u8 = 1;
const EDIT: u8 = 2;
const MANAGE: u8 = 3;

fn right_str(r: u8) -> &'static str {
    match r {
        VIEW => "view",
        EDIT => "edit",
        _ => "manage",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Inherit,
    No,
    View,
    Edit,
}

impl Access {
    fn as_str(self) -> &'static str {
        match self {
            Access::Inherit => "inherit",
            Access::No => "none",
            Access::View => "view",
            Access::Edit => "edit",
        }
    }
}

// -------------------------------------------------------------- the model

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Obj {
    F(usize),
    D(usize),
}

#[derive(Debug, Clone)]
struct MFolder {
    id: String,
    parent: Option<usize>,
    access: Access,
    creator: usize,
    deleted: bool,
}

#[derive(Debug, Clone)]
struct MDoc {
    id: String,
    folder: usize,
    creator: usize,
    deleted: bool,
    version: i64,
}

#[derive(Debug, Clone)]
struct MShare {
    id: String,
    obj: Obj,
    grantee: usize,
    right: u8,
    expires: Option<i64>,
    accepted: bool,
    /// A guest's re-share: the share it was made under.
    via: Option<String>,
    by: usize,
}

/// The whole state of one company, as the rules see it.
#[derive(Debug, Clone)]
struct Model {
    roles: [Option<Role>; USERS],
    /// The user has an account with a password (guests: after accepting).
    account: [bool; USERS],
    folders: Vec<MFolder>,
    docs: Vec<MDoc>,
    /// Shares not revoked (a revoked share is deleted with its re-shares).
    shares: Vec<MShare>,
    now: i64,
    start: i64,
}

impl Model {
    fn objects(&self) -> Vec<Obj> {
        (0..self.folders.len())
            .map(Obj::F)
            .chain((0..self.docs.len()).map(Obj::D))
            .collect()
    }

    fn folder_of(&self, o: Obj) -> usize {
        match o {
            Obj::F(i) => i,
            Obj::D(j) => self.docs[j].folder,
        }
    }

    /// A folder and every folder above it, nearest first.
    fn up(&self, f: usize) -> Vec<usize> {
        let mut out = vec![f];
        let mut at = f;
        while let Some(p) = self.folders[at].parent {
            out.push(p);
            at = p;
        }
        out
    }

    fn within(&self, f: usize, ancestor: usize) -> bool {
        self.up(f).contains(&ancestor)
    }

    fn trashed(&self, o: Obj) -> bool {
        let own = match o {
            Obj::F(_) => false,
            Obj::D(j) => self.docs[j].deleted,
        };
        own || self
            .up(self.folder_of(o))
            .iter()
            .any(|&f| self.folders[f].deleted)
    }

    /// The member access in force: the nearest setting at or above the
    /// object's folder.
    fn member_level(&self, o: Obj) -> u8 {
        for f in self.up(self.folder_of(o)) {
            match self.folders[f].access {
                Access::Inherit => continue,
                Access::No => return NONE,
                Access::View => return VIEW,
                Access::Edit => return EDIT,
            }
        }
        NONE
    }

    fn ends_after_now(&self, e: Option<i64>) -> bool {
        e.is_none_or(|t| t > self.now)
    }

    /// Accepted, not expired, and the share it was made under too.
    fn live(&self, s: &MShare) -> bool {
        let basis_ok = match &s.via {
            None => true,
            Some(v) => self
                .shares
                .iter()
                .find(|p| &p.id == v)
                .is_some_and(|p| p.accepted && self.ends_after_now(p.expires)),
        };
        s.accepted && self.ends_after_now(s.expires) && basis_ok
    }

    /// On the object or on a folder above it.
    fn reaches(&self, s: &MShare, o: Obj) -> bool {
        s.obj == o || matches!(s.obj, Obj::F(f) if self.up(self.folder_of(o)).contains(&f))
    }

    fn granted(&self, u: usize, o: Obj) -> u8 {
        self.shares
            .iter()
            .filter(|s| s.grantee == u && self.reaches(s, o) && self.live(s))
            .map(|s| s.right)
            .max()
            .unwrap_or(NONE)
    }

    fn creator(&self, o: Obj) -> usize {
        match o {
            Obj::F(i) => self.folders[i].creator,
            Obj::D(j) => self.docs[j].creator,
        }
    }

    /// The rules: owners and admins manage everything; members and readers
    /// hold the best of their live grants and the member access (and
    /// manage what they created while they see it so), readers capped at
    /// view; guests exactly their live grants.
    fn right(&self, u: usize, o: Obj) -> u8 {
        let granted = self.granted(u, o);
        match self.roles[u] {
            Some(Role::Owner | Role::Admin) => MANAGE,
            None => granted,
            Some(role) => {
                let seen = granted.max(self.member_level(o));
                if seen == NONE {
                    return NONE;
                }
                let r = if self.creator(o) == u { MANAGE } else { seen };
                if role == Role::Reader {
                    r.min(VIEW)
                } else {
                    r
                }
            }
        }
    }

    /// 200, or the status of a refusal (404 unseen or trashed, 403 seen).
    fn decide(&self, u: usize, o: Obj, need: u8) -> u16 {
        if self.trashed(o) {
            return 404;
        }
        match self.right(u, o) {
            NONE => 404,
            r if r < need => 403,
            _ => 200,
        }
    }

    fn visible(&self, u: usize, o: Obj) -> bool {
        self.decide(u, o, VIEW) == 200
    }

    /// A member, or a guest with an account and a live share here: a new
    /// share to them begins at once.
    fn established(&self, u: usize) -> bool {
        self.roles[u].is_some()
            || (self.account[u] && self.shares.iter().any(|s| s.grantee == u && self.live(s)))
    }

    /// Whether the user may list the company's top level at all.
    fn may_list(&self, u: usize) -> bool {
        self.roles[u].is_some() || self.shares.iter().any(|s| s.grantee == u && self.live(s))
    }

    /// For a guest's re-share: the `until` of each live `manage` share of
    /// theirs that reaches the object.
    fn manage_bases(&self, u: usize, o: Obj) -> Vec<(String, Option<i64>)> {
        self.shares
            .iter()
            .filter(|s| s.grantee == u && s.right == MANAGE && self.reaches(s, o) && self.live(s))
            .map(|s| (s.id.clone(), s.expires))
            .collect()
    }

    fn label(&self, o: Obj) -> String {
        match o {
            Obj::F(i) => format!("F{i}"),
            Obj::D(j) => format!("D{j}"),
        }
    }

    fn path(&self, o: Obj) -> String {
        match o {
            Obj::F(i) => format!("/api/v1/folders/{}", self.folders[i].id),
            Obj::D(j) => format!("/api/v1/documents/{}", self.docs[j].id),
        }
    }

    fn id(&self, o: Obj) -> &str {
        match o {
            Obj::F(i) => &self.folders[i].id,
            Obj::D(j) => &self.docs[j].id,
        }
    }

    fn hours(&self, t: Option<i64>) -> String {
        t.map_or("never".into(), |t| {
            format!("{:+.3}h", (t - self.start) as f64 / 3_600_000.0)
        })
    }

    /// The state, for a failure message.
    fn describe(&self) -> String {
        let mut out = format!("now {}\nroles:", self.hours(Some(self.now)));
        for (u, r) in self.roles.iter().enumerate() {
            out.push_str(&format!(
                " {}={}",
                NAMES[u],
                r.map_or("guest", Role::as_str)
            ));
        }
        for (i, f) in self.folders.iter().enumerate() {
            out.push_str(&format!(
                "\nF{i}: parent {}, member_access {}, by {}{}",
                f.parent.map_or("-".into(), |p| format!("F{p}")),
                f.access.as_str(),
                NAMES[f.creator],
                if f.deleted { ", deleted" } else { "" }
            ));
        }
        for (j, d) in self.docs.iter().enumerate() {
            out.push_str(&format!(
                "\nD{j}: in F{}, by {}{}",
                d.folder,
                NAMES[d.creator],
                if d.deleted { ", deleted" } else { "" }
            ));
        }
        for s in &self.shares {
            out.push_str(&format!(
                "\nshare {}: {} {} to {} by {}, ends {}, {}{}",
                &s.id[..8],
                self.label(s.obj),
                right_str(s.right),
                NAMES[s.grantee],
                NAMES[s.by],
                self.hours(s.expires),
                if s.accepted { "accepted" } else { "pending" },
                s.via
                    .as_ref()
                    .map_or(String::new(), |v| format!(", under {}", &v[..8]))
            ));
        }
        out
    }
}

// ---------------------------------------------------------- the scenarios

#[derive(Debug, Clone)]
enum Op {
    /// By any user; a parent folder, or the top level. `guided`: the
    /// parent is one the model says they may create in (if any).
    CreateFolder {
        actor: Maker,
        parent: Option<Index>,
        access: Option<Access>,
        guided: bool,
    },
    CreateDoc {
        actor: Maker,
        folder: Index,
        guided: bool,
    },
    /// By the owner.
    SetAccess { folder: Index, access: Access },
    /// By the owner; `into_own`: a target within the folder itself (409).
    Move {
        folder: Index,
        target: Option<Index>,
        into_own: bool,
    },
    /// A share to anyone but the owner and the sharer; guests accept by
    /// email (unless `accept` is false: the share stays pending).
    /// `guided`: an object the sharer manages (if any).
    Share {
        actor: Sharer,
        object: Index,
        grantee: Index,
        right: u8,
        expiry: Option<usize>,
        accept: bool,
        guided: bool,
    },
    /// By the owner.
    Revoke { share: Index },
    /// The owner changes when a share ends (`None`: never); `basis`: one
    /// a re-share was made under, if there is one.
    Extend {
        share: Index,
        expiry: Option<usize>,
        basis: bool,
    },
    /// The owner turns a member into a reader or back.
    ChangeRole { user: Index },
    /// To the trash, by anyone. `guided`: an object they manage (if any).
    Delete {
        actor: Index,
        object: Index,
        guided: bool,
    },
    /// The clock moves on.
    Advance { step: usize },
}

/// Who makes something: member1 or member2 (whatever their role is now),
/// or anyone signed in.
#[derive(Debug, Clone)]
enum Maker {
    Member(bool),
    Anyone(Index),
}

fn maker() -> impl Strategy<Value = Maker> {
    prop_oneof![
        any::<bool>().prop_map(Maker::Member),
        any::<Index>().prop_map(Maker::Anyone),
    ]
}

/// Who shares: the owner, anyone, or a guest (when one has signed in).
#[derive(Debug, Clone)]
enum Sharer {
    Owner,
    Anyone(Index),
    Guest(Index),
}

#[derive(Debug, Clone)]
struct Scenario {
    /// Top-level folders the owner makes first (each with a document).
    seeds: Vec<Access>,
    /// The owner first shares the first folder with guest1 (right, expiry).
    guest_seed: Option<(u8, Option<usize>)>,
    /// And with member1.
    member_seed: Option<(u8, Option<usize>)>,
    ops: Vec<Op>,
    /// The clock moves on once more before the checks.
    last_step: Option<usize>,
    /// Picks which objects each user tries to edit at the end.
    edits: u64,
}

fn access_top() -> impl Strategy<Value = Access> {
    prop_oneof![Just(Access::No), Just(Access::View), Just(Access::Edit)]
}

fn access_any() -> impl Strategy<Value = Access> {
    prop_oneof![
        1 => Just(Access::Inherit),
        2 => Just(Access::No),
        1 => Just(Access::View),
        1 => Just(Access::Edit),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (
            maker(),
            prop::option::weighted(0.7, any::<Index>()),
            prop::option::weighted(0.6, access_any()),
            prop::bool::weighted(0.7),
        )
            .prop_map(|(actor, parent, access, guided)| Op::CreateFolder {
                actor,
                parent,
                access,
                guided,
            }),
        // A member makes a restricted folder where they may (the creator's
        // manage share).
        2 => (any::<bool>(), any::<Index>()).prop_map(|(second, parent)| Op::CreateFolder {
            actor: Maker::Member(second),
            parent: Some(parent),
            access: Some(Access::No),
            guided: true,
        }),
        3 => (maker(), any::<Index>(), prop::bool::weighted(0.7))
            .prop_map(|(actor, folder, guided)| Op::CreateDoc { actor, folder, guided }),
        2 => (any::<Index>(), access_any())
            .prop_map(|(folder, access)| Op::SetAccess { folder, access }),
        2 => (
            any::<Index>(),
            prop::option::weighted(0.8, any::<Index>()),
            prop::bool::weighted(0.2),
        )
            .prop_map(|(folder, target, into_own)| Op::Move { folder, target, into_own }),
        5 => (
            prop_oneof![
                4 => Just(Sharer::Owner),
                3 => any::<Index>().prop_map(Sharer::Anyone),
                3 => any::<Index>().prop_map(Sharer::Guest),
            ],
            any::<Index>(),
            any::<Index>(),
            VIEW..=MANAGE,
            prop::option::weighted(0.5, 0..EXPIRIES.len()),
            prop::bool::weighted(0.85),
            prop::bool::weighted(0.7),
        )
            .prop_map(|(actor, object, grantee, right, expiry, accept, guided)| Op::Share {
                actor,
                object,
                grantee,
                right,
                expiry,
                accept,
                guided,
            }),
        1 => any::<Index>().prop_map(|share| Op::Revoke { share }),
        1 => (
            any::<Index>(),
            prop::option::weighted(0.7, 0..EXPIRIES.len()),
            prop::bool::weighted(0.7),
        )
            .prop_map(|(share, expiry, basis)| Op::Extend { share, expiry, basis }),
        1 => any::<Index>().prop_map(|user| Op::ChangeRole { user }),
        1 => (any::<Index>(), any::<Index>(), prop::bool::weighted(0.5))
            .prop_map(|(actor, object, guided)| Op::Delete { actor, object, guided }),
        3 => (0..STEPS.len()).prop_map(|step| Op::Advance { step }),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(access_top(), 1..=3),
        prop::option::weighted(
            0.7,
            (
                prop_oneof![1 => Just(VIEW), 1 => Just(EDIT), 2 => Just(MANAGE)],
                prop::option::weighted(0.5, 0..EXPIRIES.len()),
            ),
        ),
        prop::option::weighted(
            0.5,
            (
                VIEW..=MANAGE,
                prop::option::weighted(0.7, 0..EXPIRIES.len()),
            ),
        ),
        prop::collection::vec(op(), 8..=20),
        prop::option::weighted(0.5, 0..STEPS.len()),
        any::<u64>(),
    )
        .prop_map(
            |(seeds, guest_seed, member_seed, ops, last_step, edits)| Scenario {
                seeds,
                guest_seed,
                member_seed,
                ops,
                last_step,
                edits,
            },
        )
}

// ----------------------------------------------------------- one run

/// One case: the company, its users' clients, and the model.
struct Run<'a> {
    t: &'a TestApp,
    cid: String,
    emails: Vec<String>,
    uids: Vec<String>,
    clients: Vec<Option<Client>>,
    m: Model,
    log: Vec<String>,
    names: usize,
}

type Checked = Result<(), TestCaseError>;

impl<'a> Run<'a> {
    async fn start(t: &'a TestApp, tag: &str) -> Run<'a> {
        let s = staff(t, tag).await;
        let (member2, member2_id) = t
            .member(
                &s.owner,
                &s.cid,
                &format!("{tag}.member2@example.test"),
                "member",
            )
            .await;
        let admin_id = user_id(&s.admin).await;
        let reader_id = user_id(&s.reader).await;
        let emails = vec![
            format!("{tag}.owner@example.test"),
            format!("{tag}.admin@example.test"),
            format!("{tag}.member@example.test"),
            format!("{tag}.member2@example.test"),
            format!("{tag}.reader@example.test"),
            format!("{tag}.guest1@outside.example.test"),
            format!("{tag}.guest2@outside.example.test"),
        ];
        let uids = vec![
            s.owner_id.clone(),
            admin_id,
            s.member_id.clone(),
            member2_id,
            reader_id,
            String::new(),
            String::new(),
        ];
        let now = t.clock.now_millis();
        let cid = s.cid.clone();
        let clients = vec![
            Some(s.owner),
            Some(s.admin),
            Some(s.member),
            Some(member2),
            Some(s.reader),
            None,
            None,
        ];
        Run {
            t,
            cid,
            emails,
            uids,
            clients,
            m: Model {
                roles: [
                    Some(Role::Owner),
                    Some(Role::Admin),
                    Some(Role::Member),
                    Some(Role::Member),
                    Some(Role::Reader),
                    None,
                    None,
                ],
                account: [true, true, true, true, true, false, false],
                folders: Vec::new(),
                docs: Vec::new(),
                shares: Vec::new(),
                now,
                start: now,
            },
            log: Vec::new(),
            names: 0,
        }
    }

    fn client(&self, u: usize) -> &Client {
        match &self.clients[u] {
            Some(c) => c,
            None => panic!("{} has no account", NAMES[u]),
        }
    }

    /// The users who can sign in (guests once they accepted a share).
    fn signed_in(&self) -> Vec<usize> {
        (0..USERS).filter(|&u| self.clients[u].is_some()).collect()
    }

    fn fail(&self, what: String) -> TestCaseError {
        TestCaseError::fail(format!(
            "{what}\n--- operations:\n{}\n--- model state:\n{}",
            self.log.join("\n"),
            self.m.describe()
        ))
    }

    fn expect(&self, what: &str, got: &Answer, want: u16) -> Checked {
        if got.status == want {
            Ok(())
        } else {
            Err(self.fail(format!(
                "{what}: the server answered {} {}, the model says {want}",
                got.status, got.body
            )))
        }
    }

    fn note(&mut self, line: String) {
        self.log.push(line);
    }

    fn fresh_name(&mut self) -> usize {
        self.names += 1;
        self.names
    }

    // ------------------------------------------------------- operations

    async fn create_folder(
        &mut self,
        u: usize,
        parent: Option<usize>,
        access: Option<Access>,
    ) -> Checked {
        let n = self.fresh_name();
        let mut body = json!({ "name": format!("kansio {n}") });
        if let Some(p) = parent {
            body["parent_id"] = json!(self.m.folders[p].id);
        }
        if let Some(a) = access {
            body["member_access"] = json!(a.as_str());
        }
        let want = match parent {
            None => match self.m.roles[u] {
                None => 404,
                Some(Role::Reader) => 403,
                _ if access == Some(Access::Inherit) => 422,
                _ => 201,
            },
            Some(p) => match self.m.decide(u, Obj::F(p), EDIT) {
                200 if self.m.roles[u].is_none()
                    && access.is_some_and(|a| a != Access::Inherit) =>
                {
                    403
                }
                200 => 201,
                s => s,
            },
        };
        let what = format!(
            "F{} = {} creates a folder in {} (member_access {})",
            self.m.folders.len(),
            NAMES[u],
            parent.map_or("the top level".into(), |p| format!("F{p}")),
            access.map_or("not given", Access::as_str)
        );
        let r = self
            .client(u)
            .post(&format!("/api/v1/companies/{}/folders", self.cid), body)
            .await;
        self.note(format!("{what} -> {}", r.status));
        self.expect(&what, &r, want)?;
        if r.status != 201 {
            return Ok(());
        }
        // Live shares the member holds on the folders above the new one.
        let path = parent.map(|p| self.m.up(p)).unwrap_or_default();
        let above = |s: &&MShare| s.grantee == u && matches!(s.obj, Obj::F(f) if path.contains(&f));
        let live_above = self.m.shares.iter().filter(above).any(|s| self.m.live(s));
        let own = match (access, parent) {
            (Some(a), _) => a,
            (None, Some(_)) => Access::Inherit,
            (None, None) => Access::Edit,
        };
        let fi = self.m.folders.len();
        self.m.folders.push(MFolder {
            id: text(&r.body["id"]),
            parent,
            access: own,
            creator: u,
            deleted: false,
        });
        // A member who makes a folder no member may see gets a manage
        // share on it, so that they keep sight of it (not needed when a
        // live share above already keeps it in sight).
        let restricted =
            self.m.roles[u] == Some(Role::Member) && self.m.member_level(Obj::F(fi)) == NONE;
        let auto = restricted && !live_above;
        if restricted && live_above {
            self.note(format!(
                "   ({} sees it through a live share above)",
                NAMES[u]
            ));
        }
        let shares = self
            .client(OWNER)
            .get(&format!("{}/shares", self.m.path(Obj::F(fi))))
            .await;
        self.expect("the owner lists the new folder's shares", &shares, 200)?;
        let listed = items(&shares);
        if listed.len() != usize::from(auto) {
            return Err(self.fail(format!(
                "{what}: shares on it {}, the model expects {} (a member's manage share on a restricted folder)",
                shares.body,
                usize::from(auto)
            )));
        }
        if let Some(s) = listed.first() {
            let seen = (
                text(&s["email"]),
                text(&s["right"]),
                text(&s["status"]),
                s["expires_at"].clone(),
            );
            let want = (
                self.emails[u].clone(),
                "manage".to_string(),
                "active".to_string(),
                Value::Null,
            );
            if seen != want {
                return Err(self.fail(format!("{what}: its share {s}")));
            }
            self.note(format!(
                "   with {}'s own manage share {}",
                NAMES[u],
                &text(&s["id"])[..8]
            ));
            self.m.shares.push(MShare {
                id: text(&s["id"]),
                obj: Obj::F(fi),
                grantee: u,
                right: MANAGE,
                expires: None,
                accepted: true,
                via: None,
                by: u,
            });
        }
        Ok(())
    }

    async fn create_doc(&mut self, u: usize, f: usize) -> Checked {
        let n = self.fresh_name();
        let want = match self.m.decide(u, Obj::F(f), EDIT) {
            200 => 201,
            s => s,
        };
        let what = format!(
            "D{} = {} creates a document in F{f}",
            self.m.docs.len(),
            NAMES[u]
        );
        let r = self
            .client(u)
            .post(
                &format!("/api/v1/folders/{}/documents", self.m.folders[f].id),
                json!({ "title": format!("{WORD} {n}") }),
            )
            .await;
        self.note(format!("{what} -> {}", r.status));
        self.expect(&what, &r, want)?;
        if r.status == 201 {
            self.m.docs.push(MDoc {
                id: text(&r.body["id"]),
                folder: f,
                creator: u,
                deleted: false,
                version: r.body["version"].as_i64().unwrap_or(1),
            });
        }
        Ok(())
    }

    async fn set_access(&mut self, f: usize, a: Access) -> Checked {
        let want = if self.m.trashed(Obj::F(f)) {
            404
        } else if self.m.folders[f].parent.is_none() && a == Access::Inherit {
            422
        } else {
            200
        };
        let what = format!("the owner sets member_access of F{f} to {}", a.as_str());
        let r = self
            .client(OWNER)
            .patch(
                &self.m.path(Obj::F(f)),
                json!({ "member_access": a.as_str() }),
            )
            .await;
        self.note(format!("{what} -> {}", r.status));
        self.expect(&what, &r, want)?;
        if r.status == 200 {
            self.m.folders[f].access = a;
        }
        Ok(())
    }

    async fn move_folder(&mut self, f: usize, target: Option<usize>) -> Checked {
        let current = self.m.folders[f].parent;
        let want = if self.m.trashed(Obj::F(f)) {
            404
        } else if target == current {
            200
        } else {
            match target {
                None => 200,
                Some(p) if self.m.trashed(Obj::F(p)) => 404,
                Some(p) if self.m.within(p, f) => 409,
                Some(_) => 200,
            }
        };
        let what = format!(
            "the owner moves F{f} to {}",
            target.map_or("the top level".into(), |p| format!("F{p}"))
        );
        let body = json!({ "parent_id": target.map(|p| self.m.folders[p].id.clone()) });
        let r = self
            .client(OWNER)
            .patch(&self.m.path(Obj::F(f)), body)
            .await;
        self.note(format!("{what} -> {}", r.status));
        self.expect(&what, &r, want)?;
        if r.status == 200 && target != current {
            self.m.folders[f].parent = target;
            if target.is_none() && self.m.folders[f].access == Access::Inherit {
                // A top-level folder takes the company's default.
                self.m.folders[f].access = Access::Edit;
            }
        }
        Ok(())
    }

    async fn share(
        &mut self,
        by: usize,
        o: Obj,
        to: usize,
        right: u8,
        expiry: Option<usize>,
        accept: bool,
    ) -> Checked {
        let requested = expiry.map(|i| self.m.now + EXPIRIES[i] * 1000);
        // A guest's re-share rests on their longest-lasting live manage
        // share; when two tie, which one the server takes is not defined,
        // so such a step is left out.
        let mut basis: Option<(String, Option<i64>)> = None;
        let mut want = match self.m.decide(by, o, MANAGE) {
            200 if self.m.roles[by].is_none() && right == MANAGE => 403,
            200 if self.m.roles[by].is_none() => {
                let bases = self.m.manage_bases(by, o);
                let longest = bases.iter().map(|b| b.1.unwrap_or(i64::MAX)).max();
                let top: Vec<_> = bases
                    .iter()
                    .filter(|b| Some(b.1.unwrap_or(i64::MAX)) == longest)
                    .collect();
                if top.len() != 1 {
                    self.note(format!(
                        "({} would re-share {} on one of {} equally long shares: left out)",
                        NAMES[by],
                        self.m.label(o),
                        top.len()
                    ));
                    return Ok(());
                }
                basis = top.first().map(|b| (*b).clone());
                201
            }
            200 => 201,
            s => s,
        };
        if want == 201 && self.m.shares.iter().any(|s| s.obj == o && s.grantee == to) {
            want = 409;
        }
        // Sent as RFC 3339 to the second.
        let sent = requested.map(|t| t.div_euclid(1000) * 1000);
        let expires = match (sent, basis.as_ref().and_then(|b| b.1)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let active = self.m.established(to);
        let what = format!(
            "{} shares {} with {} ({}, ends {}{})",
            NAMES[by],
            self.m.label(o),
            NAMES[to],
            right_str(right),
            self.m.hours(sent),
            if basis.is_some() { ", a re-share" } else { "" }
        );
        let mut body = json!({ "email": self.emails[to], "right": right_str(right) });
        if let Some(t) = requested {
            body["expires_at"] = json!(turva_app::clock::rfc3339(t));
        }
        let seen = mails_to(self.t, &self.emails[to]);
        let r = self
            .client(by)
            .post(&format!("{}/shares", self.m.path(o)), body)
            .await;
        self.note(format!(
            "{what} -> {} {}",
            r.status,
            text(&r.body["status"])
        ));
        self.expect(&what, &r, want)?;
        if r.status != 201 {
            return Ok(());
        }
        let got = (
            text(&r.body["status"]),
            r.body["expires_at"]
                .as_str()
                .and_then(turva_app::clock::parse_rfc3339),
        );
        let model = (
            if active { "active" } else { "pending" }.to_string(),
            expires,
        );
        if got != model {
            return Err(self.fail(format!(
                "{what}: the share is {}, the model expects {model:?}",
                r.body
            )));
        }
        let sid = text(&r.body["id"]);
        self.m.shares.push(MShare {
            id: sid.clone(),
            obj: o,
            grantee: to,
            right,
            expires,
            accepted: active,
            via: basis.map(|b| b.0),
            by,
        });
        if active || !accept {
            return Ok(());
        }
        // The guest accepts the emailed invitation (an existing account
        // with its own password).
        let token = new_token(self.t, &self.emails[to], seen).await;
        let mut body = json!({ "token": token, "password": PASSWORD });
        if !self.m.account[to] {
            body["name"] = json!("Vieras Henkilö");
        }
        let a = self
            .t
            .client()
            .post("/api/v1/auth/accept-invite", body)
            .await;
        self.note(format!("   {} accepts -> {}", NAMES[to], a.status));
        self.expect(&format!("{} accepts the share", NAMES[to]), &a, 200)?;
        self.m.account[to] = true;
        if let Some(s) = self.m.shares.iter_mut().find(|s| s.id == sid) {
            s.accepted = true;
        }
        if self.clients[to].is_none() {
            let c = self.t.client();
            c.login(&self.emails[to], PASSWORD).await;
            self.clients[to] = Some(c);
        }
        Ok(())
    }

    async fn revoke(&mut self, k: usize) -> Checked {
        let s = self.m.shares[k].clone();
        let want = if self.m.trashed(s.obj) { 404 } else { 204 };
        let what = format!(
            "the owner revokes share {} ({} to {})",
            &s.id[..8],
            self.m.label(s.obj),
            NAMES[s.grantee]
        );
        let r = self
            .client(OWNER)
            .delete(&format!("/api/v1/shares/{}", s.id))
            .await;
        self.note(format!("{what} -> {}", r.status));
        self.expect(&what, &r, want)?;
        if r.status == 204 {
            // Re-shares made under it go with it.
            self.m
                .shares
                .retain(|x| x.id != s.id && x.via.as_deref() != Some(s.id.as_str()));
        }
        Ok(())
    }

    async fn extend(&mut self, k: usize, expiry: Option<usize>) -> Checked {
        let s = self.m.shares[k].clone();
        let requested = expiry.map(|i| self.m.now + EXPIRIES[i] * 1000);
        let sent = requested.map(|t| t.div_euclid(1000) * 1000);
        let want = if self.m.trashed(s.obj) { 404 } else { 200 };
        let what = format!(
            "the owner makes share {} ({} to {}) end {}",
            &s.id[..8],
            self.m.label(s.obj),
            NAMES[s.grantee],
            self.m.hours(sent)
        );
        let r = self
            .client(OWNER)
            .patch(
                &format!("/api/v1/shares/{}", s.id),
                json!({ "expires_at": requested.map(turva_app::clock::rfc3339) }),
            )
            .await;
        self.note(format!("{what} -> {}", r.status));
        self.expect(&what, &r, want)?;
        if r.status == 200 {
            let got = r.body["expires_at"]
                .as_str()
                .and_then(turva_app::clock::parse_rfc3339);
            if got != sent {
                return Err(self.fail(format!("{what}: the share is {}", r.body)));
            }
            self.m.shares[k].expires = sent;
        }
        Ok(())
    }

    async fn change_role(&mut self, u: usize) -> Checked {
        let to = match self.m.roles[u] {
            Some(Role::Member) => Role::Reader,
            _ => Role::Member,
        };
        let what = format!("the owner makes {} a {}", NAMES[u], to.as_str());
        let r = self
            .client(OWNER)
            .patch(
                &format!("/api/v1/companies/{}/members/{}", self.cid, self.uids[u]),
                json!({ "role": to.as_str() }),
            )
            .await;
        self.note(format!("{what} -> {}", r.status));
        self.expect(&what, &r, 200)?;
        self.m.roles[u] = Some(to);
        Ok(())
    }

    async fn delete(&mut self, u: usize, o: Obj) -> Checked {
        let want = match self.m.decide(u, o, MANAGE) {
            200 => 204,
            s => s,
        };
        let what = format!("{} deletes {}", NAMES[u], self.m.label(o));
        let r = self.client(u).delete(&self.m.path(o)).await;
        self.note(format!("{what} -> {}", r.status));
        self.expect(&what, &r, want)?;
        if r.status == 204 {
            match o {
                Obj::F(i) => self.m.folders[i].deleted = true,
                Obj::D(j) => self.m.docs[j].deleted = true,
            }
        }
        Ok(())
    }

    fn advance(&mut self, secs: i64) {
        self.t.clock.advance_secs(secs);
        self.m.now = self.t.clock.now_millis();
        self.note(format!(
            "the clock moves on {secs} s (now {})",
            self.m.hours(Some(self.m.now))
        ));
    }

    /// The objects to pick from: when `guided`, those on which the model
    /// gives `u` the right `need` (if there are any), else all of them.
    fn candidates(
        &self,
        u: usize,
        guided: bool,
        need: u8,
        all: impl Iterator<Item = Obj>,
    ) -> Vec<Obj> {
        let all: Vec<Obj> = all.collect();
        let allowed: Vec<Obj> = all
            .iter()
            .copied()
            .filter(|&o| self.m.decide(u, o, need) == 200)
            .collect();
        if guided && !allowed.is_empty() {
            allowed
        } else {
            all
        }
    }

    async fn apply(&mut self, op: &Op) -> Checked {
        let nf = self.m.folders.len();
        let objects = self.m.objects();
        let users = self.signed_in();
        let pick_user = |i: &Index| users[i.index(users.len())];
        match op {
            Op::CreateFolder {
                actor,
                parent,
                access,
                guided,
            } => {
                let u = match actor {
                    Maker::Member(second) => 2 + usize::from(*second),
                    Maker::Anyone(i) => pick_user(i),
                };
                let folders = self.candidates(u, *guided, EDIT, (0..nf).map(Obj::F));
                let parent = parent
                    .as_ref()
                    .filter(|_| !folders.is_empty())
                    .map(|p| self.m.folder_of(folders[p.index(folders.len())]));
                self.create_folder(u, parent, *access).await
            }
            Op::CreateDoc {
                actor,
                folder,
                guided,
            } if nf > 0 => {
                let u = match actor {
                    Maker::Member(second) => 2 + usize::from(*second),
                    Maker::Anyone(i) => pick_user(i),
                };
                let folders = self.candidates(u, *guided, EDIT, (0..nf).map(Obj::F));
                let f = self.m.folder_of(folders[folder.index(folders.len())]);
                self.create_doc(u, f).await
            }
            Op::SetAccess { folder, access } if nf > 0 => {
                self.set_access(folder.index(nf), *access).await
            }
            Op::Move {
                folder,
                target,
                into_own,
            } if nf > 0 => {
                let f = folder.index(nf);
                let inside: Vec<usize> = (0..nf).filter(|&g| self.m.within(g, f)).collect();
                let outside: Vec<usize> = (0..nf).filter(|&g| !self.m.within(g, f)).collect();
                // `inside` holds at least the folder itself.
                let target = if *into_own {
                    Some(inside[target.as_ref().map_or(0, |t| t.index(inside.len()))])
                } else {
                    match target {
                        Some(t) if !outside.is_empty() => Some(outside[t.index(outside.len())]),
                        _ => None,
                    }
                };
                self.move_folder(f, target).await
            }
            Op::Share {
                actor,
                object,
                grantee,
                right,
                expiry,
                accept,
                guided,
            } if !objects.is_empty() => {
                let guests: Vec<usize> = users.iter().copied().filter(|&u| u >= 5).collect();
                let by = match actor {
                    Sharer::Owner => OWNER,
                    Sharer::Anyone(i) => pick_user(i),
                    Sharer::Guest(i) if !guests.is_empty() => guests[i.index(guests.len())],
                    Sharer::Guest(_) => OWNER,
                };
                let to: Vec<usize> = (1..USERS).filter(|&u| u != by).collect();
                let objects = self.candidates(by, *guided, MANAGE, objects.into_iter());
                let o = objects[object.index(objects.len())];
                self.share(by, o, to[grantee.index(to.len())], *right, *expiry, *accept)
                    .await
            }
            Op::Revoke { share } if !self.m.shares.is_empty() => {
                self.revoke(share.index(self.m.shares.len())).await
            }
            Op::Extend {
                share,
                expiry,
                basis,
            } if !self.m.shares.is_empty() => {
                let all: Vec<usize> = (0..self.m.shares.len()).collect();
                let bases: Vec<usize> = all
                    .iter()
                    .copied()
                    .filter(|&k| {
                        let id = &self.m.shares[k].id;
                        self.m.shares.iter().any(|s| s.via.as_ref() == Some(id))
                    })
                    .collect();
                let pool = if *basis && !bases.is_empty() {
                    bases
                } else {
                    all
                };
                self.extend(pool[share.index(pool.len())], *expiry).await
            }
            Op::ChangeRole { user } => self.change_role(2 + user.index(3)).await,
            Op::Delete {
                actor,
                object,
                guided,
            } if !objects.is_empty() => {
                let u = pick_user(actor);
                let objects = self.candidates(u, *guided, MANAGE, objects.into_iter());
                let o = objects[object.index(objects.len())];
                self.delete(u, o).await
            }
            Op::Advance { step } => {
                self.advance(STEPS[*step]);
                Ok(())
            }
            _ => {
                self.note(format!("({op:?}: nothing to do it to)"));
                Ok(())
            }
        }
    }

    // ------------------------------------------------------- the checks

    /// Every user against the model: each object's status, each visible
    /// folder's listing, the top level, search; then a sample of edits.
    async fn check_everything(&mut self, edits: u64) -> Checked {
        let objects = self.m.objects();
        for u in self.signed_in() {
            let c = self.client(u);
            for &o in &objects {
                let want = if self.m.visible(u, o) { 200 } else { 404 };
                let r = c.get(&self.m.path(o)).await;
                self.expect(&format!("{} reads {}", NAMES[u], self.m.label(o)), &r, want)?;
            }
            for f in 0..self.m.folders.len() {
                if !self.m.visible(u, Obj::F(f)) {
                    continue;
                }
                let want: BTreeSet<String> = (0..self.m.folders.len())
                    .filter(|&g| self.m.folders[g].parent == Some(f))
                    .map(Obj::F)
                    .chain(
                        (0..self.m.docs.len())
                            .filter(|&d| self.m.docs[d].folder == f)
                            .map(Obj::D),
                    )
                    .filter(|&o| self.m.visible(u, o))
                    .map(|o| self.m.id(o).to_string())
                    .collect();
                let r = c.get(&format!("{}/children", self.m.path(Obj::F(f)))).await;
                let what = format!("{} lists F{f}", NAMES[u]);
                self.expect(&what, &r, 200)?;
                self.same(&what, &r, want)?;
            }
            let top = c
                .get(&format!("/api/v1/companies/{}/folders", self.cid))
                .await;
            let what = format!("{} lists the top level", NAMES[u]);
            if self.m.may_list(u) {
                self.expect(&what, &top, 200)?;
                let want = (0..self.m.folders.len())
                    .filter(|&f| self.m.folders[f].parent.is_none())
                    .filter(|&f| self.m.visible(u, Obj::F(f)))
                    .map(|f| self.m.folders[f].id.clone())
                    .collect();
                self.same(&what, &top, want)?;
            } else {
                self.expect(&what, &top, 404)?;
            }
            let found = c
                .send(c.raw().get(c.url("/api/v1/search")).query(&[("q", WORD)]))
                .await;
            self.expect(&format!("{} searches", NAMES[u]), &found, 200)?;
            let want = (0..self.m.docs.len())
                .filter(|&d| self.m.visible(u, Obj::D(d)))
                .map(|d| self.m.docs[d].id.clone())
                .collect();
            self.same(&format!("{} searches", NAMES[u]), &found, want)?;
        }
        // Edits last: they change titles and versions.
        for u in self.signed_in() {
            for (i, &o) in objects.iter().enumerate() {
                // About a quarter of the objects, a different set per user.
                let pick = edits.rotate_left(u32::try_from(i * 7 + u * 13).unwrap_or(0) % 64);
                if pick & 3 != 0 {
                    continue;
                }
                let n = self.fresh_name();
                let body = match o {
                    Obj::F(_) => json!({ "name": format!("kansio {n}") }),
                    Obj::D(j) => json!({
                        "version": self.m.docs[j].version,
                        "title": format!("{WORD} {n}"),
                    }),
                };
                let want = self.m.decide(u, o, EDIT);
                let r = self.client(u).patch(&self.m.path(o), body).await;
                self.expect(&format!("{} edits {}", NAMES[u], self.m.label(o)), &r, want)?;
                if let (Obj::D(j), 200) = (o, r.status) {
                    self.m.docs[j].version = r.body["version"].as_i64().unwrap_or(0);
                }
            }
        }
        Ok(())
    }

    /// The ids of a list answer are exactly `want`.
    fn same(&self, what: &str, r: &Answer, want: BTreeSet<String>) -> Checked {
        if r.body["next_cursor"].is_string() {
            return Err(self.fail(format!("{what}: more than one page: {}", r.body)));
        }
        let got: BTreeSet<String> = ids(r).into_iter().collect();
        if got == want {
            return Ok(());
        }
        let name = |id: &String| {
            self.m
                .objects()
                .into_iter()
                .find(|&o| self.m.id(o) == id)
                .map_or(format!("unknown {id}"), |o| self.m.label(o))
        };
        let extra: Vec<String> = got.difference(&want).map(name).collect();
        let missing: Vec<String> = want.difference(&got).map(name).collect();
        Err(self.fail(format!(
            "{what}: the server lists {extra:?} that the model hides, and hides {missing:?} that the model lists"
        )))
    }
}

async fn run_case(t: &TestApp, tag: &str, s: &Scenario) -> Checked {
    let mut run = Run::start(t, tag).await;
    for &access in &s.seeds {
        run.create_folder(OWNER, None, Some(access)).await?;
        let f = run.m.folders.len() - 1;
        run.create_doc(OWNER, f).await?;
    }
    if let Some((right, expiry)) = s.guest_seed {
        run.share(OWNER, Obj::F(0), 5, right, expiry, true).await?;
    }
    if let Some((right, expiry)) = s.member_seed {
        run.share(OWNER, Obj::F(0), 2, right, expiry, true).await?;
    }
    for op in &s.ops {
        run.apply(op).await?;
    }
    if let Some(step) = s.last_step {
        run.advance(STEPS[step]);
    }
    let checked = run.check_everything(s.edits).await;
    if std::env::var_os("TURVA_PROPS_TRACE").is_some() {
        eprintln!(
            "--- case {tag}\n{}\n{}",
            run.log.join("\n"),
            run.m.describe()
        );
    }
    checked
}

/// Runs the property on one backend; PostgreSQL is skipped (with a
/// notice) when it is not installed, unless `TURVA_REQUIRE_POSTGRES=1`.
fn property(backend: Backend) {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("tokio runtime: {e}"),
    };
    let started = Instant::now();
    let app = rt.block_on(TestApp::start_with(backend, |c| {
        // The clock moves on by hours: keep sessions and mail limits out
        // of the way, and the nightly backup off.
        c.auth.session_idle_seconds = 60 * 24 * 3600;
        c.auth.session_absolute_seconds = 60 * 24 * 3600;
        c.smtp.per_recipient_per_hour = 10_000;
        c.smtp.per_company_per_hour = 10_000;
        c.backup.schedule = "off".into();
    }));
    let Some(t) = app else {
        if backend == Backend::Sqlite {
            panic!("the SQLite test app did not start");
        }
        return;
    };
    let cases = std::env::var("TURVA_PROPS_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        max_shrink_iters: 32,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let case = AtomicUsize::new(0);
    let result = runner.run(&scenario(), |s| {
        let n = case.fetch_add(1, Ordering::Relaxed);
        rt.block_on(run_case(&t, &format!("props{n}"), &s))
    });
    rt.block_on(t.stop());
    eprintln!(
        "rights_props on {backend:?}: {} cases in {:.1} s",
        case.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn sqlite() {
    property(Backend::Sqlite);
}

#[test]
fn postgres() {
    property(Backend::Postgres);
}
