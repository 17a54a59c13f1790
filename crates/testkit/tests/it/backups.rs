//! Backups (issue 7): a backup taken while the server serves, verified,
//! restored as a whole into a new directory (or an empty PostgreSQL
//! database) that answers as the system did at the backup; damage named;
//! no plaintext in the target; a company destroyed since stays unreadable.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;
use turva_app::{App, Config};
use turva_testkit::{Client, TestApp, PASSWORD};

use crate::attachments::files_under;
use crate::both;
use crate::cli::turva;
use crate::content::{doc, download, folder, search, share_to_guest, staff, text, upload};

/// A restored system, served.
struct Served {
    running: turva_web::Running,
    base: String,
}

impl Served {
    async fn open(config: Config, dir: &Path) -> Served {
        let (app, _) = App::open(config, dir, Arc::new(turva_app::SystemClock))
            .await
            .unwrap_or_else(|e| panic!("the restored system does not open: {e}"));
        let (files, _) = turva_web::tls::files(None, None, dir).unwrap();
        let running = turva_web::serve(app.clone(), "127.0.0.1:0".parse().unwrap(), files)
            .await
            .unwrap();
        let base = format!("https://127.0.0.1:{}", running.addr.port());
        Served { running, base }
    }
    fn client(&self) -> Client {
        Client::new(&self.base)
    }
    async fn stop(self) {
        let _ = self.running.shutdown().await;
    }
}

/// The configuration of a restore into `dir` (and, on PostgreSQL, a fresh
/// database), and the CLI arguments that name it.
async fn restore_target(t: &TestApp, name: &str) -> (PathBuf, Config, Vec<String>) {
    let dir = t.dir.path().join(name);
    let mut config = Config::default();
    let mut args = vec!["--into".to_string(), dir.to_string_lossy().into_owned()];
    if t.app.config().database.url.is_some() {
        let url = turva_testkit::pg::fresh_database().await.unwrap();
        args.push("--database-url".into());
        args.push(url.clone());
        config.database.url = Some(turva_app::config::Secret::new(url));
    }
    (dir, config, args)
}

/// Runs `turva` against another data directory (with its database).
async fn turva_at(dir: &Path, config: &Config, args: &[&str]) -> Result<String, String> {
    let mut all = vec!["--data".to_string(), dir.to_string_lossy().into_owned()];
    let mut toml = String::new();
    if let Some(url) = &config.database.url {
        toml.push_str(&format!("[database]\nurl = \"{}\"\n", url.expose()));
    }
    let mut backup = String::new();
    if let Some(target) = &config.backup.target {
        backup.push_str(&format!("target = \"{target}\"\n"));
    }
    if let Some(ring) = &config.backup.keyring_target {
        backup.push_str(&format!("keyring_target = \"{ring}\"\n"));
    }
    if !backup.is_empty() {
        toml.push_str(&format!("[backup]\n{backup}"));
    }
    if !toml.is_empty() {
        let path = dir.with_extension("toml");
        std::fs::write(&path, toml).unwrap();
        all.push("--config".into());
        all.push(path.to_string_lossy().into_owned());
    }
    all.extend(args.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    turva::run_args(&refs, b"").await
}

async fn backup_id(t: &TestApp) -> String {
    let out = turva(t, &["backup", "run"], "").await.unwrap();
    assert!(out.starts_with("backup "), "{out}");
    out.split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(':')
        .to_string()
}

both!(a_whole_restore_answers_as_the_system_did_at_the_backup);
async fn a_whole_restore_answers_as_the_system_did_at_the_backup(t: TestApp) {
    assert_eq!(
        turva(&t, &["backup", "list"], "").await.unwrap(),
        "",
        "no backups yet: list prints nothing"
    );
    let s = staff(&t, "kivi").await;
    let fid = folder(&s.member, &s.cid, json!({ "name": "Työmaa Xyzzyfolder" })).await;
    let did = doc(&s.member, &fid, "Päiväkirja Xyzzytitle").await;
    let bytes = b"attachment plaintext marker QWERTYPLAIN77 ".repeat(2000);
    let up = upload(
        &s.member,
        &did,
        "kuva.bin",
        "application/octet-stream",
        &bytes,
    )
    .await;
    assert_eq!(up.status, 201, "{}", up.body);
    let file_id = text(&up.body["id"]);
    let other = staff(&t, "toinen").await;
    let ofid = folder(&other.owner, &other.cid, json!({ "name": "Toinen" })).await;
    let odid = doc(&other.owner, &ofid, "Toisen dokumentti").await;

    let id = backup_id(&t).await;
    assert_eq!(
        turva(&t, &["backup", "list"], "").await.unwrap(),
        format!("{id}\n")
    );

    // After the backup: a new document, the first one deleted.
    let later = doc(&s.member, &fid, "Myöhempi").await;
    assert_eq!(
        s.member
            .delete(&format!("/api/v1/documents/{did}"))
            .await
            .status,
        204
    );

    let out = turva(&t, &["backup", "verify", &id], "").await.unwrap();
    assert!(out.starts_with(&format!("backup {id} is sound: ")), "{out}");

    // Nothing in the target is plaintext of a title, a name, an email or
    // a file.
    let target = t.data_dir().join("backups");
    let stored = files_under(&target);
    assert!(
        stored
            .iter()
            .any(|p| p.to_string_lossy().contains("/packs/"))
            && stored.len() >= 3,
        "{stored:?}"
    );
    for f in stored
        .iter()
        .chain(files_under(&t.data_dir().join("keyring-copies")).iter())
    {
        let b = std::fs::read(f).unwrap();
        for needle in [
            "Xyzzy".as_bytes(),
            b"QWERTYPLAIN77",
            "Päiväkirja".as_bytes(),
            b"kivi.owner@example.test",
            b"Toisen",
        ] {
            assert!(
                !b.windows(needle.len()).any(|w| w == needle),
                "{} holds plaintext {:?}",
                f.display(),
                String::from_utf8_lossy(needle)
            );
        }
    }

    // Restored into a new directory (and database), it answers as the
    // system did at the backup; everyone signs in again.
    let (dir, config, args) = restore_target(&t, "restored").await;
    let mut restore = vec!["backup", "restore", id.as_str()];
    restore.extend(args.iter().map(String::as_str));
    let out = turva(&t, &restore, "").await.unwrap();
    assert!(out.starts_with(&format!("restored backup {id}: ")), "{out}");
    assert!(out.contains("keys from the live key ring"), "{out}");
    let served = Served::open(config.clone(), &dir).await;
    let member = served.client();
    let r = member.login("kivi.member@example.test", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = member.get(&format!("/api/v1/documents/{did}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["title"], "Päiväkirja Xyzzytitle");
    assert_eq!(
        member
            .get(&format!("/api/v1/documents/{later}"))
            .await
            .status,
        404,
        "made after the backup"
    );
    let (status, _, got) = download(&member, &file_id).await;
    assert_eq!(status, 200);
    assert!(got == bytes, "the file is byte-identical");
    let hits = search(&member, "Xyzzytitle").await;
    assert_eq!(
        hits.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        hits.body
    );
    let owner2 = served.client();
    owner2.login("toinen.owner@example.test", PASSWORD).await;
    let r = owner2.get(&format!("/api/v1/documents/{odid}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The restore is on record there, and its log verifies: the signed
    // restore record explains the rollback.
    served.stop().await;
    let out = turva_at(&dir, &config, &["audit", "verify"]).await.unwrap();
    assert!(out.starts_with("verified "), "{out}");
    let log = std::fs::read_to_string(dir.join("audit-checkpoints.log")).unwrap();
    assert!(log.contains(&format!("\"restore\":\"{id}\"")), "{log}");
    // And the live system's log still verifies too.
    let out = turva(&t, &["audit", "verify"], "").await.unwrap();
    assert!(out.starts_with("verified "), "{out}");
    let runs = t.audit_rows_where("action = 'backup.run'").await;
    assert_eq!(runs.len(), 1);
    assert!(runs[0].company_id.is_none(), "a platform event");

    // A target directory that is not empty is refused.
    let mut again = vec!["backup", "restore", id.as_str()];
    again.extend(args.iter().map(String::as_str));
    let err = turva(&t, &again, "").await.unwrap_err();
    assert!(err.contains("not empty"), "{err}");
}

both!(damage_is_named_and_a_damaged_backup_is_not_restored);
async fn damage_is_named_and_a_damaged_backup_is_not_restored(t: TestApp) {
    let s = staff(&t, "vika").await;
    let fid = folder(&s.owner, &s.cid, json!({ "name": "Kansio" })).await;
    let did = doc(&s.owner, &fid, "Dokumentti").await;
    let up = upload(&s.owner, &did, "a.txt", "text/plain", b"hello there").await;
    assert_eq!(up.status, 201);
    let id = backup_id(&t).await;
    let target = t.data_dir().join("backups");

    // A flipped bit in a chunk (in its pack), and a missing file.
    let chunk = files_under(&target.join("packs"))
        .into_iter()
        .next()
        .unwrap();
    let mut b = std::fs::read(&chunk).unwrap();
    b[20] ^= 1;
    std::fs::write(&chunk, b).unwrap();
    let file = files_under(&target.join("files"))
        .into_iter()
        .next()
        .unwrap();
    std::fs::remove_file(&file).unwrap();

    let err = turva(&t, &["backup", "verify", &id], "").await.unwrap_err();
    let chunk_name = chunk.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        err.contains(&chunk_name) && err.contains("damaged"),
        "{err}"
    );
    assert!(err.contains("is missing"), "{err}");
    // Restore refuses, and leaves nothing.
    let (dir, _, args) = restore_target(&t, "never").await;
    let mut restore = vec!["backup", "restore", id.as_str()];
    restore.extend(args.iter().map(String::as_str));
    let err = turva(&t, &restore, "").await.unwrap_err();
    assert!(err.contains("damaged"), "{err}");
    assert!(!dir.exists());
    let leftovers: Vec<_> = std::fs::read_dir(t.dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("restoring"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A tampered manifest is refused before anything is read.
    let manifest = target.join("manifests").join(&id);
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replacen("\"rows\":", "\"rows\": ", 1)).unwrap();
    let err = turva(&t, &["backup", "verify", &id], "").await.unwrap_err();
    assert!(err.contains("signature does not verify"), "{err}");
    // Targets that contain each other are refused (retention of one
    // would delete the other's objects).
    let mut config = t.app.config().clone();
    config.backup.target = Some(t.data_dir().join("b").to_string_lossy().into_owned());
    config.backup.keyring_target = Some(t.data_dir().join("b/ring").to_string_lossy().into_owned());
    let err = turva_at(&t.data_dir(), &config, &["backup", "run"])
        .await
        .unwrap_err();
    assert!(err.contains("must not contain each other"), "{err}");
    // Unknown and malformed ids are refused.
    let err = turva(&t, &["backup", "verify", "20200101T000000Z-000000"], "")
        .await
        .unwrap_err();
    assert!(err.contains("no backup"), "{err}");
    let err = turva(&t, &["backup", "verify", "../x"], "")
        .await
        .unwrap_err();
    assert!(err.contains("is not a backup id"), "{err}");
}

both!(a_company_destroyed_after_a_backup_is_unreadable_in_it);
async fn a_company_destroyed_after_a_backup_is_unreadable_in_it(t: TestApp) {
    let gone = staff(&t, "poistuva").await;
    let gfid = folder(&gone.owner, &gone.cid, json!({ "name": "Pois" })).await;
    let gdid = doc(&gone.owner, &gfid, "Poistuva").await;
    let stays = staff(&t, "pysyva").await;
    let sfid = folder(&stays.owner, &stays.cid, json!({ "name": "Jää" })).await;
    let sdid = doc(&stays.owner, &sfid, "Pysyvä").await;
    let id = backup_id(&t).await;

    // A second backup writes no chunk of the unchanged companies and
    // people again: only the audit log grew, into one new pack.
    let packs = t.data_dir().join("backups").join("packs");
    let before = files_under(&packs).len();
    let second = turva_app::backup::run(&t.app, &turva_app::Ctx::cli(), "cli")
        .await
        .unwrap()
        .summary;
    assert_eq!(files_under(&packs).len(), before + 1);
    assert!(second.new_bytes < second.bytes, "{second:?}");

    let r = gone
        .owner
        .delete(&format!("/api/v1/companies/{}", gone.cid))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    t.clock.advance_secs(8 * 24 * 3600);
    assert_eq!(turva_app::companies::destroy_due(&t.app).await.unwrap(), 1);

    // Its chunks are still in the backup, but its key is gone: verify
    // counts it as erased, not as damage.
    let out = turva(&t, &["backup", "verify", &id], "").await.unwrap();
    assert!(out.contains("1 owners erased since"), "{out}");
    let (dir, config, args) = restore_target(&t, "after-erasure").await;
    let mut restore = vec!["backup", "restore", id.as_str()];
    restore.extend(args.iter().map(String::as_str));
    let out = turva(&t, &restore, "").await.unwrap();
    assert!(out.contains("1 erased owners left out"), "{out}");
    let served = Served::open(config, &dir).await;
    let c = served.client();
    assert_eq!(
        c.login("pysyva.owner@example.test", PASSWORD).await.status,
        200
    );
    assert_eq!(
        c.get(&format!("/api/v1/documents/{sdid}")).await.status,
        200
    );
    let g = served.client();
    assert_eq!(
        g.login("poistuva.owner@example.test", PASSWORD)
            .await
            .status,
        200
    );
    assert_eq!(
        g.get(&format!("/api/v1/documents/{gdid}")).await.status,
        404
    );
    assert_eq!(
        g.get(&format!("/api/v1/companies/{}", gone.cid))
            .await
            .status,
        404
    );
    served.stop().await;
}

both!(every_table_is_backed_up_or_left_out_on_purpose);
async fn every_table_is_backed_up_or_left_out_on_purpose(t: TestApp) {
    let unknown = turva_app::backup::unclassified_tables(&t.app)
        .await
        .unwrap();
    assert!(unknown.is_empty(), "{unknown:?}");
    // On SQLite every table of a person's or a company's part marks its
    // owner on every change: a backup names an unmarked owner's previous
    // part again unread.
    if let turva_testkit::turva_store_db::Db::Sqlite { write, .. } = t.app.db() {
        use turva_testkit::turva_store_db::{Group, TABLES};
        let found: Vec<(String,)> = sqlx::query_as(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'
             AND name LIKE 'backup_changes_owner_%'",
        )
        .fetch_all(write)
        .await
        .unwrap();
        let found: Vec<String> = found.into_iter().map(|(n,)| n).collect();
        for table in TABLES
            .iter()
            .filter(|t| matches!(t.group, Group::User | Group::Company))
        {
            for op in ["insert", "update", "delete"] {
                let name = format!("backup_changes_owner_{}_{op}", table.name);
                assert!(found.contains(&name), "{name} is missing");
            }
        }
    }
}

both!(a_drill_restores_the_newest_backup_and_is_on_record);
async fn a_drill_restores_the_newest_backup_and_is_on_record(t: TestApp) {
    let op = t.operator("drill.op@example.test").await;
    let err = turva(&t, &["backup", "drill"], "").await.unwrap_err();
    assert!(err.contains("no backup to drill"), "{err}");
    let s = staff(&t, "harjoitus").await;
    let fid = folder(&s.owner, &s.cid, json!({ "name": "Kansio" })).await;
    let did = doc(&s.owner, &fid, "Dokumentti").await;
    for i in 0..3 {
        let up = upload(
            &s.owner,
            &did,
            &format!("f{i}.txt"),
            "text/plain",
            format!("file {i}").as_bytes(),
        )
        .await;
        assert_eq!(up.status, 201);
    }
    let id = backup_id(&t).await;
    let out = turva(&t, &["backup", "drill"], "").await.unwrap();
    assert!(
        out.starts_with(&format!("drill of backup {id} passed: ")),
        "{out}"
    );
    assert!(out.contains("3 files decrypted"), "{out}");
    let drills = t.audit_rows_where("action = 'backup.drill'").await;
    assert_eq!(drills.len(), 1);
    assert!(
        drills[0]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("passed; RTO"),
        "{:?}",
        drills[0].reason
    );
    // Nothing of the scratch copy is left.
    assert!(!t.data_dir().join("drill-scratch").exists());

    // Operators see it in the platform status; nobody else does.
    let r = op.get("/api/v1/admin/status").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["backups"], 1);
    assert_eq!(r.body["last_backup"]["id"], id.as_str());
    assert_eq!(r.body["last_drill"]["backup"], id.as_str());
    assert_eq!(r.body["last_drill"]["passed"], true);
    assert!(r.body["last_drill"]["rto_seconds"].as_f64().is_some());
    assert_eq!(r.body["key_versions"][0]["version"], 1);
    assert!(!r.body.to_string().contains("Dokumentti"));
    let r = s.owner.get("/api/v1/admin/status").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(t.audit_rows_where("action = 'admin.status'").await.len(), 2);

    // A damaged backup fails its drill, and the operators are told.
    let target = t.data_dir().join("backups");
    let file = files_under(&target.join("files"))
        .into_iter()
        .next()
        .unwrap();
    std::fs::write(&file, b"not the file").unwrap();
    let err = turva(&t, &["backup", "drill"], "").await.unwrap_err();
    assert!(err.contains("FAILED") && err.contains("damaged"), "{err}");
    assert!(
        t.outbox()
            .iter()
            .any(|m| m.to == "drill.op@example.test" && m.subject.contains("FAILED")),
        "the operator is emailed"
    );
    let r = op.get("/api/v1/admin/status").await;
    assert_eq!(r.body["last_drill"]["passed"], false, "{}", r.body);
}

both!(the_daily_backup_runs_once_at_its_time_and_old_ones_go);
async fn the_daily_backup_runs_once_at_its_time_and_old_ones_go(t: TestApp) {
    // The test server's own schedule is off (it would race this test);
    // the test runs the schedule, at midnight, itself.
    let scheduled = || turva_app::backup::scheduled_at(&t.app, "00:00");
    assert!(turva_app::backup::scheduled(&t.app)
        .await
        .unwrap()
        .is_none());
    let s = staff(&t, "ajastus").await;
    let fid = folder(&s.owner, &s.cid, json!({ "name": "Kansio" })).await;
    let _ = doc(&s.owner, &fid, "Dokumentti").await;
    let first = scheduled().await.unwrap();
    assert!(
        first.is_some(),
        "past today's slot and no backup: one is taken"
    );
    assert!(scheduled().await.unwrap().is_none());
    // The first scheduled backup is followed by a drill.
    assert_eq!(t.audit_rows_where("action = 'backup.drill'").await.len(), 1);
    t.clock.advance_secs(24 * 3600);
    assert!(scheduled().await.unwrap().is_some());
    // The drill is weekly.
    assert_eq!(t.audit_rows_where("action = 'backup.drill'").await.len(), 1);
    let listed = turva(&t, &["backup", "list"], "").await.unwrap();
    assert_eq!(listed.lines().count(), 2, "{listed}");

    // 91 days on, the two are past retention; the new one stays, and with
    // it only the newest key-ring copy.
    t.clock.advance_secs(91 * 24 * 3600);
    let third = turva_app::backup::run(&t.app, &turva_app::Ctx::cli(), "cli")
        .await
        .unwrap();
    assert!(third.summary.bytes > 0);
    let listed = turva(&t, &["backup", "list"], "").await.unwrap();
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert_eq!(files_under(&t.data_dir().join("keyring-copies")).len(), 1);
    let id = listed.trim();
    let out = turva(&t, &["backup", "verify", id], "").await.unwrap();
    assert!(out.contains("is sound"), "{out}");
    // What each kept backup names is remembered beside the data, so a
    // prune reads no manifest; only the kept one's is.
    let names = t.data_dir().join("backup-names");
    assert_eq!(files_under(&names), vec![names.join(format!("{id}.json"))]);
    // Lost (a new machine), it is read from the manifests again: the next
    // day's backup builds on this one, and pruning keeps what both name.
    std::fs::remove_dir_all(&names).unwrap();
    t.clock.advance_secs(24 * 3600);
    turva_app::backup::run(&t.app, &turva_app::Ctx::cli(), "cli")
        .await
        .unwrap();
    assert_eq!(files_under(&names).len(), 2);
    let listed = turva(&t, &["backup", "list"], "").await.unwrap();
    for id in listed.lines() {
        let out = turva(&t, &["backup", "verify", id], "").await.unwrap();
        assert!(out.contains("is sound"), "{out}");
    }
}

both!(a_backup_from_before_a_key_rotation_still_restores);
async fn a_backup_from_before_a_key_rotation_still_restores(t: TestApp) {
    let s = staff(&t, "kierto").await;
    let fid = folder(&s.owner, &s.cid, json!({ "name": "Kansio" })).await;
    let did = doc(&s.owner, &fid, "Ennen kiertoa").await;
    let id = backup_id(&t).await;
    let out = turva(&t, &["keys", "rotate"], "").await.unwrap();
    assert!(out.starts_with("master key version 2"), "{out}");
    // Version 1 wraps no live key now, but the backup's key-ring copy
    // needs it.
    let out = turva(&t, &["keys", "status"], "").await.unwrap();
    assert!(
        out.starts_with("v1 age 0d needs: 1 key-ring copy\nv2 age 0d newest needs: key ring, "),
        "{out}"
    );
    let (dir, config, args) = restore_target(&t, "rotated").await;
    let mut restore = vec!["backup", "restore", id.as_str()];
    restore.extend(args.iter().map(String::as_str));
    let out = turva(&t, &restore, "").await.unwrap();
    assert!(out.starts_with("restored backup"), "{out}");
    let served = Served::open(config, &dir).await;
    let c = served.client();
    assert_eq!(
        c.login("kierto.owner@example.test", PASSWORD).await.status,
        200
    );
    let r = c.get(&format!("/api/v1/documents/{did}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    served.stop().await;

    // Version 1 is retired only once no retained key-ring copy needs it.
    let out = turva(&t, &["keys", "retire"], "").await.unwrap();
    assert!(
        out.starts_with("no master key version can be retired"),
        "{out}"
    );
    t.clock.advance_secs(8 * 24 * 3600);
    turva_app::backup::run(&t.app, &turva_app::Ctx::cli(), "cli")
        .await
        .unwrap();
    let out = turva(&t, &["keys", "retire"], "").await.unwrap();
    assert!(out.starts_with("retired master key versions v1;"), "{out}");
    let file = std::fs::read_to_string(t.data_dir().join("master.key")).unwrap();
    assert!(
        file.contains("retired v1") && !file.contains("\nv1 "),
        "{file}"
    );
    let out = turva(&t, &["keys", "status"], "").await.unwrap();
    assert!(out.starts_with("v2 ") && out.lines().count() == 1, "{out}");
    assert_eq!(t.audit_rows_where("action = 'key.retire'").await.len(), 1);
    // The running server lets the version go and serves on.
    let owner = t.client();
    assert_eq!(
        owner
            .login("kierto.owner@example.test", PASSWORD)
            .await
            .status,
        200
    );
    assert_eq!(
        owner.get(&format!("/api/v1/documents/{did}")).await.status,
        200
    );
    let _ = t
        .company_with_owner("Uudempi Oy", "uudempi@example.test")
        .await;
}

both!(a_restore_in_place_replaces_the_system_only_when_told);
async fn a_restore_in_place_replaces_the_system_only_when_told(t: TestApp) {
    let s = staff(&t, "paikka").await;
    let fid = folder(&s.owner, &s.cid, json!({ "name": "Kansio" })).await;
    let before = doc(&s.owner, &fid, "Ennen").await;
    let id = backup_id(&t).await;
    let after = doc(&s.owner, &fid, "Jälkeen").await;
    let err = turva(&t, &["backup", "restore", &id], "")
        .await
        .unwrap_err();
    assert!(err.contains("add --force"), "{err}");
    let postgres = t.app.config().database.url.is_some();
    let (dir, config) = t.stop_keep().await;
    let data = dir.path().join("data");
    let out = turva_at(&data, &config, &["backup", "restore", &id, "--force"]).await;
    if postgres {
        let err = out.unwrap_err();
        assert!(err.contains("empty database"), "{err}");
        return;
    }
    let out = out.unwrap();
    assert!(out.starts_with(&format!("restored backup {id}")), "{out}");
    let kept: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("replaced-"))
        .collect();
    assert_eq!(kept.len(), 1, "the replaced files are kept");
    let served = Served::open(config.clone(), &data).await;
    let c = served.client();
    assert_eq!(
        c.login("paikka.owner@example.test", PASSWORD).await.status,
        200
    );
    assert_eq!(
        c.get(&format!("/api/v1/documents/{before}")).await.status,
        200
    );
    assert_eq!(
        c.get(&format!("/api/v1/documents/{after}")).await.status,
        404
    );
    served.stop().await;
    let out = turva_at(&data, &config, &["audit", "verify"])
        .await
        .unwrap();
    assert!(out.starts_with("verified "), "{out}");
}

both!(one_deleted_folder_comes_back_with_its_files_byte_identical);
async fn one_deleted_folder_comes_back_with_its_files_byte_identical(t: TestApp) {
    let s = staff(&t, "kohde").await;
    let top = folder(&s.owner, &s.cid, json!({ "name": "Projekti" })).await;
    let sub = folder(
        &s.owner,
        &s.cid,
        json!({ "name": "Alakansio", "parent_id": top }),
    )
    .await;
    let d1 = doc(&s.owner, &top, "Pöytäkirja").await;
    let d2 = doc(&s.owner, &sub, "Mittaukset").await;
    let photo = b"\x89PNG not really, but bytes ".repeat(500);
    let up = upload(
        &s.owner,
        &d2,
        "kuva.bin",
        "application/octet-stream",
        &photo,
    )
    .await;
    assert_eq!(up.status, 201, "{}", up.body);
    let file_id = text(&up.body["id"]);
    let (_, guest) = share_to_guest(
        &t,
        &s.owner,
        "folders",
        &top,
        "kohde.guest@example.test",
        json!({"right": "view"}),
    )
    .await;
    let elsewhere = folder(&s.owner, &s.cid, json!({ "name": "Muu" })).await;
    let other = doc(&s.owner, &elsewhere, "Muualla").await;
    let id = backup_id(&t).await;

    // A live object comes back as a copy beside it, with new ids, its
    // files sealed again and byte-identical, its shares kept; the live one
    // is untouched.
    let out = turva(&t, &["backup", "restore", &id, "--object", &top], "")
        .await
        .unwrap();
    let head = format!("restored folder {top} from backup {id} as a copy, ");
    assert!(out.starts_with(&head), "{out}");
    let copy = out[head.len()..head.len() + 36].to_string();
    assert!(
        out.contains(": 2 folders, 2 documents, 1 files, 1 shares"),
        "{out}"
    );
    let r = s.owner.get(&format!("/api/v1/folders/{copy}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["name"],
        format!("Projekti (restored from backup {id})")
    );
    assert_eq!(r.body["parent_id"], serde_json::Value::Null);
    let kids = s
        .owner
        .get(&format!("/api/v1/folders/{copy}/children"))
        .await;
    let kids = kids.body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(kids.len(), 2, "{kids:?}");
    let sub_copy = kids
        .iter()
        .find(|k| k["type"] == "folder")
        .map(|k| text(&k["id"]))
        .unwrap();
    assert_ne!(sub_copy, sub);
    let kids = s
        .owner
        .get(&format!("/api/v1/folders/{sub_copy}/children"))
        .await;
    let d2_copy = text(&kids.body["items"][0]["id"]);
    assert_ne!(d2_copy, d2);
    let r = s.owner.get(&format!("/api/v1/documents/{d2_copy}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["title"], "Mittaukset");
    let copied_file = r.body["files"][0]["id"]
        .as_str()
        .map(str::to_string)
        .or_else(|| r.body["files"][0].as_str().map(str::to_string))
        .unwrap_or_default();
    assert!(
        !copied_file.is_empty() && copied_file != file_id,
        "{}",
        r.body
    );
    let (status, _, got) = download(&s.owner, &copied_file).await;
    assert_eq!(status, 200);
    assert!(got == photo, "the copy's file is byte-identical");
    let (status, _, got) = download(&s.owner, &file_id).await;
    assert_eq!(status, 200);
    assert!(got == photo, "the live file is untouched");
    assert_eq!(
        guest.get(&format!("/api/v1/folders/{copy}")).await.status,
        200,
        "the copy keeps the share"
    );
    assert_eq!(
        s.owner
            .delete(&format!("/api/v1/folders/{copy}"))
            .await
            .status,
        204
    );
    let err = turva(&t, &["backup", "restore", &id, "--object", "nonsense"], "")
        .await
        .unwrap_err();
    assert!(err.contains("is not an object id"), "{err}");

    // Edited, then deleted: from the trash, the backup's version returns.
    let r = s
        .owner
        .patch(
            &format!("/api/v1/documents/{d1}"),
            json!({"title": "Muutettu", "version": 1}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        s.owner
            .delete(&format!("/api/v1/folders/{top}"))
            .await
            .status,
        204
    );
    let out = turva(&t, &["backup", "restore", &id, "--object", &top], "")
        .await
        .unwrap();
    assert!(
        out.starts_with(&format!(
            "restored folder {top} from backup {id}: 2 folders, 2 documents, 1 files, 1 shares"
        )),
        "{out}"
    );
    assert!(out.contains("replaced the version in the trash"), "{out}");
    let r = s.owner.get(&format!("/api/v1/documents/{d1}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["title"], "Pöytäkirja");
    let (status, _, got) = download(&s.owner, &file_id).await;
    assert_eq!(status, 200);
    assert!(got == photo, "byte-identical");
    assert_eq!(
        guest.get(&format!("/api/v1/folders/{top}")).await.status,
        200,
        "the share is back"
    );
    assert_eq!(
        s.owner.get(&format!("/api/v1/folders/{sub}")).await.status,
        200
    );
    assert_eq!(
        s.owner
            .get(&format!("/api/v1/documents/{other}"))
            .await
            .status,
        200
    );
    let hits = search(&s.owner, "Mittaukset").await;
    assert_eq!(
        hits.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        hits.body
    );

    // Deleted for good (past the trash's 30 days): it returns in place.
    assert_eq!(
        s.owner
            .delete(&format!("/api/v1/folders/{top}"))
            .await
            .status,
        204
    );
    t.clock.advance_secs(31 * 24 * 3600);
    assert!(turva_app::trash::purge(&t.app).await.unwrap() >= 1);
    let owner = t.client();
    owner.login("kohde.owner@example.test", PASSWORD).await;
    assert_eq!(
        owner.get(&format!("/api/v1/documents/{d2}")).await.status,
        404
    );
    let out = turva(&t, &["backup", "restore", &id, "--object", &top], "")
        .await
        .unwrap();
    assert!(!out.contains("replaced"), "{out}");
    let (status, _, got) = download(&owner, &file_id).await;
    assert_eq!(status, 200);
    assert!(got == photo);

    // One document alone.
    assert_eq!(
        owner
            .delete(&format!("/api/v1/documents/{d2}"))
            .await
            .status,
        204
    );
    let out = turva(&t, &["backup", "restore", &id, "--object", &d2], "")
        .await
        .unwrap();
    assert!(out.starts_with(&format!("restored document {d2}")), "{out}");
    assert_eq!(
        owner.get(&format!("/api/v1/documents/{d2}")).await.status,
        200
    );

    // What was added since the backup is never deleted by a restore: a
    // trashed folder holding a newer document stays in the trash, and the
    // backup's version comes back as a copy.
    let newer = doc(&owner, &top, "Uudempi").await;
    assert_eq!(
        owner.delete(&format!("/api/v1/folders/{top}")).await.status,
        204
    );
    let out = turva(&t, &["backup", "restore", &id, "--object", &top], "")
        .await
        .unwrap();
    assert!(out.contains("as a copy"), "{out}");
    let trash = owner
        .get(&format!("/api/v1/companies/{}/trash", s.cid))
        .await;
    assert!(
        trash.body.to_string().contains(&top),
        "still in the trash: {}",
        trash.body
    );
    let r = owner
        .get(&format!("/api/v1/companies/{}/folders", s.cid))
        .await;
    let copies: Vec<_> = r.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["name"] == format!("Projekti (restored from backup {id})"))
        .collect();
    assert_eq!(copies.len(), 1, "{}", r.body);
    let kids = owner
        .get(&format!(
            "/api/v1/folders/{}/children",
            text(&copies[0]["id"])
        ))
        .await;
    assert!(!kids.body.to_string().contains("Uudempi"), "{}", kids.body);
    assert!(
        kids.body.to_string().contains("Pöytäkirja"),
        "{}",
        kids.body
    );
    let _ = newer;

    // A live document comes back as a copy in its folder, its newest
    // version named like it.
    let out = turva(&t, &["backup", "restore", &id, "--object", &other], "")
        .await
        .unwrap();
    let head = format!("restored document {other} from backup {id} as a copy, ");
    assert!(out.starts_with(&head), "{out}");
    let other_copy = out[head.len()..head.len() + 36].to_string();
    let named = format!("Muualla (restored from backup {id})");
    let r = owner.get(&format!("/api/v1/documents/{other_copy}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["title"], named.as_str());
    assert_eq!(r.body["folder_id"], elsewhere.as_str());
    let r = owner
        .get(&format!("/api/v1/documents/{other_copy}/versions"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.to_string().contains(&named), "{}", r.body);
    let r = owner.get(&format!("/api/v1/documents/{other}")).await;
    assert_eq!(r.body["title"], "Muualla", "the live one is untouched");

    let restores = t.audit_rows_where("action = 'backup.restore'").await;
    assert_eq!(restores.len(), 6);
    assert!(restores
        .iter()
        .any(|e| e.object_id.as_deref() == Some(copy.as_str())));
    assert!(restores
        .iter()
        .all(|e| e.company_id.as_deref() == Some(s.cid.as_str())));
    let out = turva(&t, &["audit", "verify"], "").await.unwrap();
    assert!(out.starts_with("verified "), "{out}");
}

both!(backups_go_to_an_s3_bucket_and_restore_from_it);
async fn backups_go_to_an_s3_bucket_and_restore_from_it(t: TestApp) {
    let Some(url) = turva_testkit::s3::fresh_bucket("turva").await else {
        return;
    };
    let s = staff(&t, "pilvi").await;
    let fid = folder(&s.owner, &s.cid, json!({ "name": "Pilvikansio" })).await;
    let did = doc(&s.owner, &fid, "Pilvidokumentti Zyxwtitle").await;
    let up = upload(
        &s.owner,
        &did,
        "a.txt",
        "text/plain",
        b"cloud bytes PLAINCLOUD42",
    )
    .await;
    assert_eq!(up.status, 201);
    let mut config = t.app.config().clone();
    config.backup.target = Some(url.clone());
    let data = t.data_dir();
    let out = turva_at(&data, &config, &["backup", "run"]).await.unwrap();
    assert!(out.starts_with("backup "), "{out}");
    let id = out
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(':')
        .to_string();
    assert_eq!(
        turva_at(&data, &config, &["backup", "list"]).await.unwrap(),
        format!("{id}\n")
    );
    let out = turva_at(&data, &config, &["backup", "verify", &id])
        .await
        .unwrap();
    assert!(out.contains("is sound"), "{out}");
    assert!(
        !data.join("backups").exists(),
        "nothing went to the local default"
    );

    // Every object in the bucket, read back: no plaintext.
    let endpoint = turva_testkit::s3::endpoint().unwrap();
    let bucket = url
        .trim_start_matches("s3://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let http = reqwest::Client::new();
    let listing = http
        .get(format!("{endpoint}/{bucket}?list-type=2&max-keys=1000"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let keys: Vec<&str> = listing
        .split("<Key>")
        .skip(1)
        .filter_map(|k| k.split("</Key>").next())
        .collect();
    assert!(
        keys.iter().any(|k| k.starts_with("turva/manifests/")),
        "{listing}"
    );
    for k in &keys {
        let body = http
            .get(format!("{endpoint}/{bucket}/{k}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        for needle in [
            &b"Zyxwtitle"[..],
            b"PLAINCLOUD42",
            b"pilvi.owner@example.test",
        ] {
            assert!(
                !body.windows(needle.len()).any(|w| w == needle),
                "{k} holds plaintext"
            );
        }
    }

    // Restored from the bucket into a new directory.
    let (dir, restored, args) = restore_target(&t, "from-s3").await;
    let mut restore = vec!["backup", "restore", id.as_str()];
    restore.extend(args.iter().map(String::as_str));
    let out = turva_at(&data, &config, &restore).await.unwrap();
    assert!(out.starts_with("restored backup"), "{out}");
    let served = Served::open(restored, &dir).await;
    let c = served.client();
    assert_eq!(
        c.login("pilvi.owner@example.test", PASSWORD).await.status,
        200
    );
    let r = c.get(&format!("/api/v1/documents/{did}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    served.stop().await;

    // An unreachable bucket is a clear error, and the backups stay.
    let mut down = config.clone();
    down.backup.target = Some(
        "s3://nowhere/x?endpoint=http://127.0.0.1:9&region=us-east-1&allow_http=true&access_key_id=a&secret_access_key=b"
            .into(),
    );
    let err = turva_at(&data, &down, &["backup", "run"])
        .await
        .unwrap_err();
    assert!(
        err.contains("backup target") && err.contains("s3://nowhere/x"),
        "{err}"
    );
    assert!(
        !err.contains("secret_access_key"),
        "no secret in messages: {err}"
    );
    assert_eq!(
        turva_at(&data, &config, &["backup", "list"]).await.unwrap(),
        format!("{id}\n")
    );
}

both!(a_new_machine_restores_from_the_master_key_and_the_newest_key_ring_copy);
async fn a_new_machine_restores_from_the_master_key_and_the_newest_key_ring_copy(t: TestApp) {
    let s = staff(&t, "uusi").await;
    let fid = folder(&s.owner, &s.cid, json!({ "name": "Kansio" })).await;
    let did = doc(&s.owner, &fid, "Katastrofi").await;
    let id = backup_id(&t).await;

    // The machine is lost; the operator kept the master key and the
    // signing key, and the backups and key-ring copies were elsewhere.
    let old = t.data_dir();
    let new_machine = t.dir.path().join("new-machine");
    std::fs::create_dir_all(&new_machine).unwrap();
    for f in ["master.key", "audit-signing.key"] {
        std::fs::copy(old.join(f), new_machine.join(f)).unwrap();
    }
    let mut config = Config::default();
    config.backup.target = Some(old.join("backups").to_string_lossy().into_owned());
    config.backup.keyring_target = Some(old.join("keyring-copies").to_string_lossy().into_owned());
    let (dir, restored, args) = restore_target(&t, "rebuilt").await;
    let mut restore = vec!["backup", "restore", id.as_str()];
    restore.extend(args.iter().map(String::as_str));
    let out = turva_at(&new_machine, &config, &restore).await.unwrap();
    assert!(out.contains("keys from key-ring copy"), "{out}");
    let served = Served::open(restored, &dir).await;
    let c = served.client();
    assert_eq!(
        c.login("uusi.owner@example.test", PASSWORD).await.status,
        200
    );
    assert_eq!(c.get(&format!("/api/v1/documents/{did}")).await.status, 200);
    served.stop().await;
}

both!(a_backup_without_its_manifest_is_never_listed);
async fn a_backup_without_its_manifest_is_never_listed(t: TestApp) {
    let s = staff(&t, "kesken").await;
    let _ = folder(&s.owner, &s.cid, json!({ "name": "Kansio" })).await;
    let id = backup_id(&t).await;
    // As if killed before its last write: the chunks are there, the
    // manifest is not.
    let manifests = t.data_dir().join("backups").join("manifests");
    std::fs::remove_file(manifests.join(&id)).unwrap();
    assert_eq!(turva(&t, &["backup", "list"], "").await.unwrap(), "");
    let err = turva(&t, &["backup", "verify", &id], "").await.unwrap_err();
    assert!(err.contains("no backup"), "{err}");
    // The next backup is whole on its own (it writes what no listed
    // backup names), and restores.
    let next = backup_id(&t).await;
    assert_eq!(
        turva(&t, &["backup", "list"], "").await.unwrap(),
        format!("{next}\n")
    );
    let out = turva(&t, &["backup", "verify", &next], "").await.unwrap();
    assert!(out.contains("is sound"), "{out}");
}

/// The manifest of backup `id` in the default target, as JSON.
fn manifest_json(t: &TestApp, id: &str) -> serde_json::Value {
    let text =
        std::fs::read_to_string(t.data_dir().join("backups").join("manifests").join(id)).unwrap();
    serde_json::from_str(text.lines().nth(2).unwrap()).unwrap()
}

/// The platform part's chunks of `table` that carry a span, in order.
fn log_chunks(manifest: &serde_json::Value, table: &str) -> Vec<serde_json::Value> {
    part_chunks(manifest, "platform", table)
}

/// The chunks of `owner`'s part that hold rows of `table` and carry a
/// span, in order.
fn part_chunks(manifest: &serde_json::Value, owner: &str, table: &str) -> Vec<serde_json::Value> {
    manifest["owners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["owner"] == owner)
        .unwrap()["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["span"]["table"] == table)
        .cloned()
        .collect()
}

both!(the_next_backup_names_the_logs_earlier_chunks_instead_of_reading_them);
async fn the_next_backup_names_the_logs_earlier_chunks_instead_of_reading_them(t: TestApp) {
    let s = staff(&t, "loki").await;
    let fid = folder(&s.owner, &s.cid, json!({ "name": "Kansio" })).await;
    let did = doc(&s.owner, &fid, "Dokumentti").await;
    // Views are events: enough of them for several chunks of the log.
    for _ in 0..150 {
        let r = s.member.get(&format!("/api/v1/documents/{did}")).await;
        assert_eq!(r.status, 200);
    }
    let first = backup_id(&t).await;
    for _ in 0..60 {
        let r = s.owner.get(&format!("/api/v1/documents/{did}")).await;
        assert_eq!(r.status, 200);
    }
    let second = backup_id(&t).await;
    let (m1, m2) = (manifest_json(&t, &first), manifest_json(&t, &second));
    let size1 = m1["audit_size"].as_i64().unwrap();
    assert!(m2["audit_size"].as_i64().unwrap() > size1 + 60);

    for table in ["audit_events", "audit_nodes"] {
        let (c1, c2) = (log_chunks(&m1, table), log_chunks(&m2, table));
        assert!(c1.len() >= 3, "{table}: {} chunks", c1.len());
        // Every chunk of the first backup within its tree is named again
        // as it was (same pack and place): not read, not written.
        let within = |c: &serde_json::Value| {
            let last = c["span"]["last"].as_i64().unwrap();
            match c["span"]["level"].as_i64() {
                Some(level) => last < size1 >> level,
                None => last <= size1,
            }
        };
        let old: Vec<&serde_json::Value> = c1.iter().filter(|c| within(c)).collect();
        assert!(!old.is_empty());
        for c in &old {
            assert!(c2.contains(c), "{table}: {c} is not in the second backup");
        }
        // Within each segment the chunks cover consecutive keys.
        let mut next: std::collections::HashMap<i64, i64> = Default::default();
        for c in &c2 {
            let level = c["span"]["level"].as_i64().unwrap_or(-1);
            let (first, last) = (
                c["span"]["first"].as_i64().unwrap(),
                c["span"]["last"].as_i64().unwrap(),
            );
            if let Some(n) = next.get(&level) {
                assert_eq!(first, *n, "{table} level {level}: a gap or an overlap");
            }
            next.insert(level, last + 1);
        }
    }
    // The second backup wrote only what is new, and it is whole: a drill
    // restores it, finds every row the manifest counts, and its log
    // verifies.
    let out = turva(&t, &["backup", "verify", &second], "").await.unwrap();
    assert!(out.contains("is sound"), "{out}");
    let out = turva(&t, &["backup", "drill"], "").await.unwrap();
    assert!(
        out.starts_with(&format!("drill of backup {second} passed: ")),
        "{out}"
    );
    let (dir, config, args) = restore_target(&t, "restored").await;
    let mut restore = vec!["backup", "restore", second.as_str()];
    restore.extend(args.iter().map(String::as_str));
    turva(&t, &restore, "").await.unwrap();
    let out = turva_at(&dir, &config, &["audit", "verify"]).await.unwrap();
    assert!(out.starts_with("verified "), "{out}");
}

/// Rows of the content tables as text, in one order (the same query on
/// both backends), to compare a restored database with the live one.
async fn content_rows(app: &App) -> Vec<String> {
    use turva_testkit::turva_store_db::Db;
    let mut out = Vec::new();
    for sql in [
        "SELECT 'd ' || id || ' ' || title FROM documents ORDER BY id",
        "SELECT 'v ' || document_id || ' ' || CAST(version AS TEXT) || ' ' || title
         FROM document_versions ORDER BY document_id, version",
        "SELECT 'p ' || folder_id || ' ' || ancestor_id FROM folder_paths ORDER BY 1",
        "SELECT 's ' || object_id FROM search_entries ORDER BY object_id",
        "SELECT 'f ' || id FROM files ORDER BY id",
    ] {
        let rows: Vec<String> = match app.db() {
            Db::Sqlite { write, .. } => sqlx::query_scalar(sql).fetch_all(write).await,
            Db::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await,
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
        out.extend(rows);
    }
    out
}

both!(an_incremental_backup_reads_again_only_the_buckets_that_changed);
async fn an_incremental_backup_reads_again_only_the_buckets_that_changed(t: TestApp) {
    let s = staff(&t, "lohko").await;
    let fid = folder(&s.member, &s.cid, json!({ "name": "Lohkot" })).await;
    // 224 documents: seven buckets of 32 rowids, and rowid 224.
    let mut docs = Vec::new();
    for i in 0..224 {
        docs.push(doc(&s.member, &fid, &format!("Dokumentti {i}")).await);
    }
    let first = backup_id(&t).await;

    // One edited (bucket 0), one gone for good (bucket 3: its versions
    // and index entry go with it), one new (after the last bucket).
    let r = s
        .member
        .patch(
            &format!("/api/v1/documents/{}", docs[5]),
            json!({ "version": 1, "title": "Muokattu" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sqlite = t.app.config().database.url.is_none();
    let gone_for_good = &docs[100];
    let mut purge = Vec::new();
    if sqlite {
        purge.push(format!(
            "DELETE FROM search_text WHERE rowid IN
             (SELECT rowid FROM search_entries WHERE object_id = '{gone_for_good}')"
        ));
    }
    purge.push(format!(
        "DELETE FROM search_entries WHERE object_id = '{gone_for_good}'"
    ));
    purge.push(format!(
        "DELETE FROM documents WHERE id = '{gone_for_good}'"
    ));
    let purge: Vec<&str> = purge.iter().map(String::as_str).collect();
    crate::audit::tamper(&t.app, &purge).await;
    let late = doc(&s.member, &fid, "Uusi").await;
    let second = backup_id(&t).await;
    let (m1, m2) = (manifest_json(&t, &first), manifest_json(&t, &second));

    let (c1, c2) = (
        part_chunks(&m1, &format!("company:{}", s.cid), "documents"),
        part_chunks(&m2, &format!("company:{}", s.cid), "documents"),
    );
    if sqlite {
        assert!(
            m2["lineage"].is_string() && m2["generation"].is_i64(),
            "{m2}"
        );
        let shift = turva_testkit::turva_store_db::BUCKET_SHIFT;
        assert_eq!(m2["bucket_shift"], shift, "the bucket size is on record");
        // Rowids 1 ..= 224: buckets 0 ..= 224 >> shift, one chunk each.
        let last_bucket = 224 >> shift;
        assert_eq!(c1.len() as i64, last_bucket + 1, "one chunk per bucket");
        let bucket = |c: &serde_json::Value| c["span"]["first"].as_i64().unwrap() >> shift;
        for c in &c1 {
            assert_eq!(bucket(c), c["span"]["last"].as_i64().unwrap() >> shift);
        }
        // The unmarked buckets' chunks are named again as they were; the
        // marked ones are new.
        let kept: Vec<&serde_json::Value> = c2.iter().filter(|c| c1.contains(c)).collect();
        let kept_buckets: Vec<i64> = kept.iter().map(|c| bucket(c)).collect();
        // Exactly three buckets were marked: the edited document's (rowid
        // 6), the deleted one's (101) and the new one's (rowid 225 joins
        // rowid 224's bucket).
        let marked = vec![6 >> shift, 101 >> shift, 225 >> shift];
        assert_eq!(225 >> shift, last_bucket);
        let mut read_again: Vec<i64> = c1.iter().filter(|c| !c2.contains(c)).map(bucket).collect();
        read_again.sort_unstable();
        assert_eq!(read_again, marked, "kept {kept_buckets:?}");
        let unmarked: Vec<i64> = (0..=last_bucket).filter(|b| !marked.contains(b)).collect();
        assert_eq!(kept_buckets, unmarked);
        assert!(c2.len() >= c1.len(), "{} then {}", c1.len(), c2.len());
    } else {
        assert!(c1.is_empty() && c2.is_empty(), "PostgreSQL reads every row");
    }

    // The second backup is whole: it restores into a system holding
    // exactly the live rows, and one document from a named-again chunk
    // comes back alone.
    let live = content_rows(&t.app).await;
    assert!(live.iter().any(|r| r.ends_with(" Muokattu")));
    assert!(!live.iter().any(|r| r.contains(gone_for_good.as_str())));
    assert!(live.iter().any(|r| r.contains(late.as_str())));
    let out = turva(&t, &["backup", "verify", &second], "").await.unwrap();
    assert!(out.contains("is sound"), "{out}");
    let (dir, config, args) = restore_target(&t, "restored").await;
    let mut restore = vec!["backup", "restore", second.as_str()];
    restore.extend(args.iter().map(String::as_str));
    turva(&t, &restore, "").await.unwrap();
    {
        let (app, _) = App::open(config.clone(), &dir, Arc::new(turva_app::SystemClock))
            .await
            .unwrap_or_else(|e| panic!("the restored system does not open: {e}"));
        assert_eq!(content_rows(&app).await, live, "restored rows differ");
        if let turva_testkit::turva_store_db::Db::Sqlite { write, .. } = app.db() {
            // The load marked nothing, and the triggers are back.
            let (marks, triggers): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM backup_changes)
                        + (SELECT count(*) FROM backup_owner_changes),
                        (SELECT count(*) FROM sqlite_master
                         WHERE type = 'trigger' AND name LIKE 'backup_changes_%')",
            )
            .fetch_one(write)
            .await
            .unwrap();
            assert_eq!((marks, triggers), (0, 60));
            // The full-text index, built beside the load with a larger
            // write buffer, is copied in whole and sound (FTS5 checks the
            // index against the text it holds), and its write buffer is
            // FTS5's default.
            sqlx::query(
                "INSERT INTO search_text (search_text, rank) VALUES ('integrity-check', 1)",
            )
            .execute(write)
            .await
            .unwrap_or_else(|e| panic!("the restored full-text index is unsound: {e}"));
            let (hash, indexed): (i64, i64) = sqlx::query_as(
                "SELECT coalesce((SELECT v FROM search_text_config WHERE k = 'hashsize'), 1048576),
                        (SELECT count(*) FROM search_text)",
            )
            .fetch_one(write)
            .await
            .unwrap();
            assert_eq!(hash, 1 << 20);
            let entries = content_rows(&app)
                .await
                .iter()
                .filter(|r| r.starts_with("s "))
                .count();
            assert!(entries > 40, "{entries}");
            assert_eq!(indexed, i64::try_from(entries).unwrap());
            // No file of the build is left beside it.
            assert!(!dir.join("search-build.db").exists());
        }
        app.close().await;
    }
    let gone = &docs[40];
    let r = s.member.delete(&format!("/api/v1/documents/{gone}")).await;
    assert_eq!(r.status, 204);
    let out = turva(&t, &["backup", "restore", &second, "--object", gone], "")
        .await
        .unwrap();
    assert!(
        out.starts_with(&format!("restored document {gone} from backup {second}")),
        "{out}"
    );
    let r = s.member.get(&format!("/api/v1/documents/{gone}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["title"], "Dokumentti 40");

    // A backup of the restored system builds on nothing of this one's:
    // its database is of another lineage.
    let out = turva_at(&dir, &config, &["backup", "run"]).await.unwrap();
    assert!(out.starts_with("backup "), "{out}");
}

both!(a_company_grown_large_since_the_last_backup_is_read_whole);
async fn a_company_grown_large_since_the_last_backup_is_read_whole(t: TestApp) {
    // A small company's rows are not in bucket chunks; once it has a
    // quarter of the documents, its next backup must not take the missing
    // bucket chunks for unchanged buckets.
    let a = staff(&t, "kasvu").await;
    let afid = folder(&a.member, &a.cid, json!({ "name": "A" })).await;
    for i in 0..33 {
        doc(&a.member, &afid, &format!("Vanha {i}")).await;
    }
    let b = staff(&t, "suuri").await;
    let bfid = folder(&b.member, &b.cid, json!({ "name": "B" })).await;
    for i in 0..200 {
        doc(&b.member, &bfid, &format!("Toinen {i}")).await;
    }
    backup_id(&t).await;
    for i in 0..100 {
        doc(&a.member, &afid, &format!("Uusi {i}")).await;
    }
    let second = backup_id(&t).await;
    let live = content_rows(&t.app).await;
    let restored = restored_rows(&t, &second).await;
    assert_eq!(restored.len(), live.len(), "rows restored");
    assert_eq!(restored, live);
}

/// Restores backup `id` whole into a new place through the CLI and gives
/// the restored system's content rows.
async fn restored_rows(t: &TestApp, id: &str) -> Vec<String> {
    let (dir, config, args) = restore_target(t, "restored").await;
    let mut restore = vec!["backup", "restore", id];
    restore.extend(args.iter().map(String::as_str));
    turva(t, &restore, "").await.unwrap();
    let (app, _) = App::open(config, &dir, Arc::new(turva_app::SystemClock))
        .await
        .unwrap_or_else(|e| panic!("the restored system does not open: {e}"));
    let restored = content_rows(&app).await;
    app.close().await;
    restored
}

/// The part of `owner` in a manifest.
fn part_of(manifest: &serde_json::Value, owner: &str) -> serde_json::Value {
    manifest["owners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["owner"] == owner)
        .unwrap_or_else(|| panic!("no part of {owner}"))
        .clone()
}

both!(an_incremental_backup_reads_only_the_owners_that_changed);
async fn an_incremental_backup_reads_only_the_owners_that_changed(t: TestApp) {
    // A: a document edited through the API; B: only a row reached through
    // its parent changed (a document version); C: nothing, but it has an
    // attachment; one of A's people renamed.
    let a = staff(&t, "muuttuu").await;
    let b = staff(&t, "lapsi").await;
    let c = staff(&t, "ennallaan").await;
    let mut docs = Vec::new();
    for s in [&a, &b, &c] {
        let fid = folder(&s.member, &s.cid, json!({ "name": "Kansio" })).await;
        docs.push(doc(&s.member, &fid, "Raportti").await);
    }
    let up = upload(
        &c.member,
        &docs[2],
        "c.txt",
        "text/plain",
        b"kept as it was",
    )
    .await;
    assert_eq!(up.status, 201, "{}", up.body);
    let first = backup_id(&t).await;

    let r = a
        .member
        .patch(
            &format!("/api/v1/documents/{}", docs[0]),
            json!({ "version": 1, "title": "Muokattu" }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    crate::audit::tamper(
        &t.app,
        &[
            &format!(
                "UPDATE document_versions SET created_at = created_at + 1 WHERE document_id = '{}'",
                docs[1]
            ),
            &format!(
                "UPDATE users SET name = 'Uusi Nimi' WHERE id = '{}'",
                a.owner_id
            ),
        ],
    )
    .await;
    let second = backup_id(&t).await;
    let (m1, m2) = (manifest_json(&t, &first), manifest_json(&t, &second));
    let company = |s: &crate::content::Staff| format!("company:{}", s.cid);
    let sqlite = t.app.config().database.url.is_none();
    // The changed owners are read again (their rows differ), whatever the
    // backend.
    for owner in [company(&a), company(&b), format!("user:{}", a.owner_id)] {
        assert_ne!(part_of(&m1, &owner), part_of(&m2, &owner), "{owner}");
    }
    // C's attachment is in the second backup either way.
    let c_files = |m: &serde_json::Value| -> Vec<serde_json::Value> {
        m["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["company"] == c.cid)
            .cloned()
            .collect()
    };
    assert_eq!(c_files(&m1).len(), 1);
    assert_eq!(c_files(&m2), c_files(&m1));
    let live = content_rows(&t.app).await;
    let restored = restored_rows(&t, &second).await;
    assert_eq!(restored, live, "restored rows differ");
    if !sqlite {
        return;
    }

    // On SQLite an unmarked owner's part is named again unread: a change
    // made with its mark taken away does not reach the next backup, which
    // names C's part of the first backup as it was.
    crate::audit::tamper(
        &t.app,
        &[
            &format!(
                "UPDATE documents SET title = 'Ohi kirjanpidon' WHERE id = '{}'",
                docs[2]
            ),
            &format!(
                "DELETE FROM backup_owner_changes WHERE owner = '{}'",
                company(&c)
            ),
        ],
    )
    .await;
    let third = backup_id(&t).await;
    let m3 = manifest_json(&t, &third);
    assert_eq!(part_of(&m3, &company(&c)), part_of(&m1, &company(&c)));
    // The people nobody changed are named again as they were too.
    for owner in [
        format!("user:{}", b.owner_id),
        format!("user:{}", c.owner_id),
    ] {
        assert_eq!(part_of(&m3, &owner), part_of(&m1, &owner), "{owner}");
    }
    // A mark brings the owner back into the next backup.
    crate::audit::tamper(
        &t.app,
        &[&format!(
            "UPDATE documents SET title = 'Kirjattu' WHERE id = '{}'",
            docs[2]
        )],
    )
    .await;
    let fourth = backup_id(&t).await;
    let m4 = manifest_json(&t, &fourth);
    assert_ne!(part_of(&m4, &company(&c)), part_of(&m1, &company(&c)));
}
