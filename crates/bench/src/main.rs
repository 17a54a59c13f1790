//! `turva-bench-seed --data DIR [--config FILE] --out FILE [--docs N]`:
//! fills a data directory with the benchmark's data shape — one company
//! with 10,000 folders, 1,000,000 documents (each with its version row and
//! search entry), 1,000 members and 10,000 shares, plus 99 small
//! companies — in bulk through the store, then writes what the load
//! scripts need (ids, the bench users' emails and password, search words)
//! as JSON to FILE.
//!
//! Companies are created by the real operation (keys, owner invitation);
//! the bulk rows follow every rule the operations keep (closure rows,
//! derived access columns, one version row and one search entry per
//! document).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;
use turva_app::companies::{self, Creator};
use turva_app::{App, Config, Ctx, SystemClock};
use turva_store::bulk::{self, Val};
use turva_store::Tx;

/// The password of every seeded user.
const PASSWORD: &str = "bench-Kivi-Laasti-Harja-42";

/// A small deterministic generator (xorshift64*), so runs seed alike.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }
}

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "tu", "vo", "sa", "ne", "hi", "pa", "ke", "ju", "to", "li", "mu", "ve",
];

/// A vocabulary of made-up words: two to three syllables each.
fn vocabulary(n: usize) -> Vec<String> {
    let mut rng = Rng(0x5eed);
    let mut words = std::collections::BTreeSet::new();
    while words.len() < n {
        let parts = 2 + rng.below(2);
        let w: String = (0..parts)
            .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
            .collect();
        words.insert(w);
    }
    words.into_iter().collect()
}

fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

struct Args {
    data: PathBuf,
    config: Option<PathBuf>,
    out: PathBuf,
    docs: usize,
}

fn args() -> Result<Args> {
    let mut data = None;
    let mut config = None;
    let mut out = None;
    let mut docs = 1_000_000;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| anyhow!("{a} needs a value"));
        match a.as_str() {
            "--data" => data = Some(PathBuf::from(val()?)),
            "--config" => config = Some(PathBuf::from(val()?)),
            "--out" => out = Some(PathBuf::from(val()?)),
            "--docs" => docs = val()?.parse().context("--docs")?,
            _ => bail!("unknown argument {a}"),
        }
    }
    Ok(Args {
        data: data.ok_or_else(|| anyhow!("--data DIR is required"))?,
        config,
        out: out.ok_or_else(|| anyhow!("--out FILE is required"))?,
        docs,
    })
}

/// The shape of one seeded company.
struct Shape {
    tops: usize,
    subs_per_top: usize,
    docs: usize,
    members: usize,
    shares: usize,
    guests: usize,
}

struct Seeded {
    company_id: String,
    member_emails: Vec<String>,
    /// Documents every member may view.
    viewable_docs: Vec<String>,
    /// Folders (with documents) every member may view.
    viewable_folders: Vec<String>,
}

async fn in_tx<F>(app: &App, f: F) -> Result<()>
where
    F: for<'a> FnOnce(
        &'a mut Tx,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + 'a>>,
{
    let mut tx = app.db().write().await?;
    f(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

#[allow(clippy::too_many_lines)]
async fn seed_company(
    app: &App,
    hash: &str,
    tag: &str,
    shape: &Shape,
    words: &[String],
    rng: &mut Rng,
    rowid: &mut i64,
) -> Result<Seeded> {
    let owner_email = format!("owner@{tag}.bench.test");
    let company = companies::create(
        app,
        &Ctx::cli(),
        Creator::Cli,
        &format!("{tag} Oy"),
        &owner_email,
    )
    .await
    .map_err(|e| anyhow!("{e}"))?;
    let cid = company.id.clone();
    let now = app.now();
    // The invited owner: an account with the bench password, active.
    let hash_owned = hash.to_string();
    let (cid2, owner2) = (cid.clone(), owner_email.clone());
    in_tx(app, move |tx| {
        Box::pin(async move {
            bulk::exec(
                tx,
                "UPDATE users SET password_hash = $1, name = 'Bench Owner', password_changed_at = $2 WHERE email = $3",
                &[Val::Text(hash_owned), Val::Int(now), Val::Text(owner2)],
            )
            .await?;
            bulk::exec(
                tx,
                "UPDATE memberships SET status = 'active', joined_at = $2 WHERE company_id = $1",
                &[Val::Text(cid2), Val::Int(now)],
            )
            .await?;
            Ok(())
        })
    })
    .await?;

    // Members (a tenth of them readers) and guests.
    let mut users = Vec::new();
    let mut members = Vec::new();
    let mut member_ids = Vec::new();
    let mut member_emails = Vec::new();
    for i in 0..shape.members {
        let uid = id();
        let email = format!("m{i}@{tag}.bench.test");
        users.push(vec![
            Val::Text(uid.clone()),
            Val::Text(email.clone()),
            Val::Text(format!("Member {i}")),
            Val::Text("fi".into()),
            Val::Text(hash.into()),
            Val::Bool(false),
            Val::Int(now),
            Val::Int(now),
        ]);
        let role = if i % 10 == 9 { "reader" } else { "member" };
        members.push(vec![
            Val::Text(cid.clone()),
            Val::Text(uid.clone()),
            Val::Text(role.into()),
            Val::Text("active".into()),
            Val::Text("fi".into()),
            Val::Int(now),
            Val::Int(now),
        ]);
        member_ids.push(uid);
        if role == "member" {
            member_emails.push(email);
        }
    }
    let mut guest_ids = Vec::new();
    for i in 0..shape.guests {
        let uid = id();
        users.push(vec![
            Val::Text(uid.clone()),
            Val::Text(format!("g{i}@{tag}.guest.test")),
            Val::Text(format!("Guest {i}")),
            Val::Text("en".into()),
            Val::Text(hash.into()),
            Val::Bool(false),
            Val::Int(now),
            Val::Int(now),
        ]);
        guest_ids.push(uid);
    }
    in_tx(app, move |tx| {
        Box::pin(async move {
            bulk::insert(
                tx,
                "users",
                &[
                    "id",
                    "email",
                    "name",
                    "language",
                    "password_hash",
                    "is_operator",
                    "created_at",
                    "password_changed_at",
                ],
                &users,
                500,
            )
            .await?;
            bulk::insert(
                tx,
                "memberships",
                &[
                    "company_id",
                    "user_id",
                    "role",
                    "status",
                    "language",
                    "created_at",
                    "joined_at",
                ],
                &members,
                500,
            )
            .await?;
            Ok(())
        })
    })
    .await?;

    // A template with a text field, so documents carry field values.
    let tid = id();
    let fields = json!([{"key": "notes", "type": "long_text", "label": "Notes"}]).to_string();
    let (cid3, tid2) = (cid.clone(), tid.clone());
    in_tx(app, move |tx| {
        Box::pin(async move {
            bulk::insert(
                tx,
                "templates",
                &[
                    "id",
                    "company_id",
                    "name",
                    "version",
                    "created_by",
                    "created_at",
                    "updated_at",
                ],
                &[vec![
                    Val::Text(tid2.clone()),
                    Val::Text(cid3),
                    Val::Text("Site diary".into()),
                    Val::Int(1),
                    Val::Text("bench".into()),
                    Val::Int(now),
                    Val::Int(now),
                ]],
                1,
            )
            .await?;
            bulk::insert(
                tx,
                "template_versions",
                &[
                    "template_id",
                    "version",
                    "name",
                    "description",
                    "fields",
                    "created_by",
                    "created_at",
                ],
                &[vec![
                    Val::Text(tid2),
                    Val::Int(1),
                    Val::Text("Site diary".into()),
                    Val::Text(String::new()),
                    Val::Text(fields),
                    Val::Text("bench".into()),
                    Val::Int(now),
                ]],
                1,
            )
            .await?;
            Ok(())
        })
    })
    .await?;

    // Folders: top-level projects (every tenth restricted), each with
    // sub-folders that inherit.
    let creator = member_ids
        .first()
        .cloned()
        .unwrap_or_else(|| "bench".into());
    let mut folder_rows = Vec::new();
    let mut path_rows = Vec::new();
    let mut leaf_folders: Vec<(String, bool)> = Vec::new();
    let mut restricted_tops = Vec::new();
    for t in 0..shape.tops {
        let top = id();
        let restricted = t % 10 == 9;
        let access = if restricted { "none" } else { "edit" };
        if restricted {
            restricted_tops.push(top.clone());
        }
        let folder = |fid: &str, parent: Option<&str>, name: String, own: &str, in_force: &str| {
            vec![
                Val::Text(fid.into()),
                Val::Text(cid.clone()),
                Val::OptText(parent.map(str::to_string)),
                Val::Text(name),
                Val::Text(own.into()),
                Val::Text(in_force.into()),
                Val::Text(creator.clone()),
                Val::Int(now),
                Val::Int(now),
                Val::Bool(false),
            ]
        };
        folder_rows.push(folder(
            &top,
            None,
            format!("Project {t:04}"),
            access,
            access,
        ));
        path_rows.push(vec![
            Val::Text(top.clone()),
            Val::Text(top.clone()),
            Val::Int(0),
        ]);
        for s in 0..shape.subs_per_top {
            let sub = id();
            folder_rows.push(folder(
                &sub,
                Some(&top),
                format!("Section {s:02}"),
                "inherit",
                access,
            ));
            path_rows.push(vec![
                Val::Text(sub.clone()),
                Val::Text(sub.clone()),
                Val::Int(0),
            ]);
            path_rows.push(vec![
                Val::Text(sub.clone()),
                Val::Text(top.clone()),
                Val::Int(1),
            ]);
            leaf_folders.push((sub, !restricted));
        }
    }
    in_tx(app, move |tx| {
        Box::pin(async move {
            bulk::insert(
                tx,
                "folders",
                &[
                    "id",
                    "company_id",
                    "parent_id",
                    "name",
                    "member_access",
                    "access_in_force",
                    "created_by",
                    "created_at",
                    "updated_at",
                    "in_trash",
                ],
                &folder_rows,
                500,
            )
            .await?;
            bulk::insert(
                tx,
                "folder_paths",
                &["folder_id", "ancestor_id", "depth"],
                &path_rows,
                1000,
            )
            .await?;
            Ok(())
        })
    })
    .await?;

    // Documents with their version rows and search entries, in batches.
    let backend = app.db().backend();
    let per_folder = shape.docs.div_ceil(leaf_folders.len().max(1));
    let mut viewable_docs = Vec::new();
    let mut all_docs = Vec::new();
    let mut made = 0usize;
    let started = Instant::now();
    for chunk in leaf_folders.chunks(200) {
        let mut docs = Vec::new();
        let mut versions = Vec::new();
        let mut entries = Vec::new();
        let mut texts = Vec::new();
        for (fid, open) in chunk {
            for d in 0..per_folder {
                if made >= shape.docs {
                    break;
                }
                made += 1;
                let did = id();
                let w = |rng: &mut Rng| words[rng.below(words.len())].clone();
                let title = format!("Diary {d:03} {}", w(rng));
                let notes: Vec<String> = (0..12).map(|_| w(rng)).collect();
                let notes = notes.join(" ");
                let fields = json!({ "notes": notes }).to_string();
                docs.push(vec![
                    Val::Text(did.clone()),
                    Val::Text(cid.clone()),
                    Val::Text(fid.clone()),
                    Val::Text(title.clone()),
                    Val::Text(tid.clone()),
                    Val::Int(1),
                    Val::Text(fields.clone()),
                    Val::Text("[]".into()),
                    Val::Text("draft".into()),
                    Val::Int(1),
                    Val::Text(creator.clone()),
                    Val::Int(now),
                    Val::Text(creator.clone()),
                    Val::Int(now),
                ]);
                versions.push(vec![
                    Val::Text(did.clone()),
                    Val::Int(1),
                    Val::Text(title.clone()),
                    Val::Text(fields),
                    Val::Text("[]".into()),
                    Val::Text("draft".into()),
                    Val::Text(creator.clone()),
                    Val::Int(now),
                    Val::Text("[\"created\"]".into()),
                ]);
                match backend {
                    turva_store::Backend::Sqlite => {
                        entries.push(vec![
                            Val::Int(*rowid),
                            Val::Text(did.clone()),
                            Val::Text(cid.clone()),
                        ]);
                        texts.push(vec![
                            Val::Int(*rowid),
                            Val::Text(title),
                            Val::Text(notes),
                            Val::Text(turva_store::search::scope_token(&cid)),
                        ]);
                        *rowid += 1;
                    }
                    turva_store::Backend::Postgres => {
                        entries.push(vec![
                            Val::Text(did.clone()),
                            Val::Text(cid.clone()),
                            Val::Text(title),
                            Val::Text(notes),
                        ]);
                    }
                }
                if *open && viewable_docs.len() < 20_000 && rng.below(20) == 0 {
                    viewable_docs.push(did.clone());
                }
                all_docs.push(did);
            }
        }
        in_tx(app, move |tx| {
            Box::pin(async move {
                bulk::insert(
                    tx,
                    "documents",
                    &[
                        "id",
                        "company_id",
                        "folder_id",
                        "title",
                        "template_id",
                        "template_version",
                        "fields",
                        "files",
                        "status",
                        "version",
                        "created_by",
                        "created_at",
                        "updated_by",
                        "updated_at",
                    ],
                    &docs,
                    1000,
                )
                .await?;
                bulk::insert(
                    tx,
                    "document_versions",
                    &[
                        "document_id",
                        "version",
                        "title",
                        "fields",
                        "files",
                        "status",
                        "author_id",
                        "created_at",
                        "changes",
                    ],
                    &versions,
                    1000,
                )
                .await?;
                match backend {
                    turva_store::Backend::Sqlite => {
                        bulk::insert(
                            tx,
                            "search_entries",
                            &["rowid", "object_id", "company_id"],
                            &entries,
                            2000,
                        )
                        .await?;
                        bulk::insert(
                            tx,
                            "search_text",
                            &["rowid", "title", "body", "scope"],
                            &texts,
                            2000,
                        )
                        .await?;
                    }
                    turva_store::Backend::Postgres => {
                        bulk::insert(
                            tx,
                            "search_entries",
                            &["object_id", "company_id", "title", "body"],
                            &entries,
                            1000,
                        )
                        .await?;
                    }
                }
                Ok(())
            })
        })
        .await?;
        if made % 100_000 < per_folder * 200 {
            eprintln!(
                "  {tag}: {made} documents ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }

    // Shares: most to members on documents and restricted folders, the
    // rest to guests (accepted), some of them expiring.
    let mut share_rows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let guest_shares = shape.shares / 5;
    while share_rows.len() < shape.shares && !all_docs.is_empty() {
        let to_guest = share_rows.len() < guest_shares && !guest_ids.is_empty();
        let grantee = if to_guest {
            guest_ids[rng.below(guest_ids.len())].clone()
        } else {
            member_ids[rng.below(member_ids.len())].clone()
        };
        let (kind, object) = if rng.below(4) == 0 && !restricted_tops.is_empty() {
            (
                "folder",
                restricted_tops[rng.below(restricted_tops.len())].clone(),
            )
        } else {
            ("document", all_docs[rng.below(all_docs.len())].clone())
        };
        if !seen.insert((object.clone(), grantee.clone())) {
            continue;
        }
        let right = ["view", "edit", "manage"][rng.below(3)];
        let expires = (rng.below(4) == 0).then(|| now + 30 * 24 * 3600 * 1000);
        share_rows.push(vec![
            Val::Text(id()),
            Val::Text(cid.clone()),
            Val::Text(kind.into()),
            Val::Text(object),
            Val::Text(grantee),
            Val::Text(right.into()),
            Val::OptInt(expires),
            Val::Text("active".into()),
            Val::Bool(false),
            Val::Text("fi".into()),
            Val::Text(creator.clone()),
            Val::Int(now),
            Val::Int(now),
        ]);
    }
    in_tx(app, move |tx| {
        Box::pin(async move {
            bulk::insert(
                tx,
                "shares",
                &[
                    "id",
                    "company_id",
                    "object_type",
                    "object_id",
                    "grantee_id",
                    "grant_right",
                    "expires_at",
                    "status",
                    "notify",
                    "language",
                    "created_by",
                    "created_at",
                    "accepted_at",
                ],
                &share_rows,
                1000,
            )
            .await?;
            Ok(())
        })
    })
    .await?;
    let viewable_folders = leaf_folders
        .iter()
        .filter(|(_, open)| *open)
        .map(|(f, _)| f.clone())
        .take(5_000)
        .collect();
    Ok(Seeded {
        company_id: cid,
        member_emails,
        viewable_docs,
        viewable_folders,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let a = args()?;
    if a.data.join("turva.db").exists() {
        bail!(
            "{} already holds a database: seed a fresh directory",
            a.data.display()
        );
    }
    let (config, _) =
        Config::load(a.config.as_deref(), std::env::vars()).map_err(|e| anyhow!(e))?;
    let (app, _) = App::open(config, &a.data, Arc::new(SystemClock))
        .await
        .map_err(|e| anyhow!(e))?;
    let hash = turva_app::password::Hasher::new()
        .map_err(|e| anyhow!("{e}"))?
        .hash(PASSWORD)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let words = vocabulary(4_000);
    let mut rng = Rng(0x7075_7276_6121);
    let started = Instant::now();
    let big = Shape {
        tops: 200,
        subs_per_top: 49,
        docs: a.docs,
        members: 1_000,
        shares: 10_000,
        guests: 500,
    };
    // SQLite search rows are numbered here (the database starts empty).
    let mut rowid: i64 = 1;
    let seeded = seed_company(&app, &hash, "big", &big, &words, &mut rng, &mut rowid).await?;
    eprintln!(
        "big company seeded in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    for i in 0..99 {
        let small = Shape {
            tops: 2,
            subs_per_top: 4,
            docs: 100,
            members: 5,
            shares: 10,
            guests: 2,
        };
        seed_company(
            &app,
            &hash,
            &format!("small{i:02}"),
            &small,
            &words,
            &mut rng,
            &mut rowid,
        )
        .await?;
    }
    eprintln!("all seeded in {:.0} s", started.elapsed().as_secs_f64());
    // Search words of middling frequency: each in roughly 0.3% of titles and notes.
    let search_words: Vec<&String> = words.iter().step_by(97).take(40).collect();
    let out = json!({
        "company_id": seeded.company_id,
        "password": PASSWORD,
        "member_emails": seeded.member_emails.iter().take(50).collect::<Vec<_>>(),
        "documents": seeded.viewable_docs,
        "folders": seeded.viewable_folders,
        "search_words": search_words,
    });
    std::fs::write(&a.out, serde_json::to_vec_pretty(&out)?)?;
    app.close().await;
    Ok(())
}
