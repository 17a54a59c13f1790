//! The audit writer: one event per action, gap-free sequence numbers,
//! personal data sealed under the person's key, credentials named.

use serde_json::json;
use turva_testkit::TestApp;

use crate::both;

both!(events_are_gap_free_and_personal_data_is_sealed);
async fn events_are_gap_free_and_personal_data_is_sealed(t: TestApp) {
    let (cid, owner) = t.company_with_owner("A", "owner@example.test").await;
    let c = t.client();
    let _ = c
        .post(
            "/api/v1/auth/login",
            json!({"email": "owner@example.test", "password": "wrong wrong wrong"}),
        )
        .await;
    let _ = c
        .post(
            "/api/v1/auth/login",
            json!({"email": "ghost@example.test", "password": "wrong wrong wrong"}),
        )
        .await;
    // A refused change (last owner) writes nothing and leaves no gap.
    let me = owner.get("/api/v1/me").await.body["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        owner
            .delete(&format!("/api/v1/companies/{cid}/members/{me}"))
            .await
            .status,
        409
    );
    let _ = owner.get(&format!("/api/v1/companies/{cid}")).await;

    let events = turva_app::audit::events(&t.app, 0, 1000)
        .await
        .unwrap_or_default();
    let seqs: Vec<i64> = events.iter().map(|e| e.row.seq).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "gap-free from 1"
    );
    for e in &events {
        let p = e.personal.as_ref();
        assert!(p.is_some(), "seq {} has an opened personal part", e.row.seq);
        let sealed = e.row.personal.clone().unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&sealed).contains("example.test"),
            "no plaintext email in the row"
        );
    }
    let by_action = |a: &str| {
        events
            .iter()
            .filter(|e| e.row.action == a)
            .collect::<Vec<_>>()
    };
    let login = by_action("auth.login");
    assert!(login
        .iter()
        .all(|e| e.row.credential.as_deref() == Some("session") && e.row.company_id.is_none()));
    let view = by_action("company.view");
    assert_eq!(view.len(), 1);
    assert_eq!(view[0].row.actor_id.as_deref(), Some(me.as_str()));
    assert_eq!(view[0].row.object_id.as_deref(), Some(cid.as_str()));
    let p = view[0].personal.as_ref();
    assert_eq!(
        p.map(|p| (p.email.as_deref(), p.ip.as_str(), p.user_agent.as_str())),
        Some((Some("owner@example.test"), "127.0.0.1", "turva-tests"))
    );
    assert!(view[0]
        .row
        .request_id
        .as_deref()
        .is_some_and(|r| r.len() >= 16));
    let failed = by_action("auth.login_failed");
    assert_eq!(failed.len(), 2);
    assert!(failed
        .iter()
        .all(|e| e.row.actor_id.is_none() && e.row.credential.is_none()));
    let emails: Vec<Option<&str>> = failed
        .iter()
        .map(|e| e.personal.as_ref().and_then(|p| p.email.as_deref()))
        .collect();
    assert_eq!(
        emails,
        vec![Some("owner@example.test"), Some("ghost@example.test")]
    );
    // The failed sign-in to a known account is sealed under that person's key,
    // the one for an unknown address under the month's key.
    assert_ne!(failed[0].row.personal_key_id, failed[1].row.personal_key_id);
    assert_eq!(failed[0].row.personal_key_id, view[0].row.personal_key_id);
    assert!(by_action("company.create")
        .iter()
        .all(|e| e.row.credential.as_deref() == Some("cli")));
    assert_eq!(t.count("audit_events").await, events.len() as i64);
}

/// An encoded event as it waits (staged or pended) to be moved into the
/// log, as a process that then crashed would have left it.
fn waiting_event(cid: &str, action: &str, ip: &str, request_id: &str) -> String {
    json!({
        "time": 1_700_000_000_000_i64, "action": action, "outcome": "allowed",
        "company_id": cid, "actor_id": null, "credential": "session",
        "object_type": "company", "object_id": cid, "object_version": null,
        "reason": null, "email": "crash@example.test", "subject_id": null,
        "ip": ip, "user_agent": "crash-test", "request_id": request_id
    })
    .to_string()
}

/// Puts `event` back into `table` with the id of one already moved (as a
/// crash between a move's commit and its clean-up leaves it) and checks
/// that the next move does not take it again.
async fn left_behind_is_not_moved_again(
    t: &TestApp,
    pool: &sqlx::SqlitePool,
    table: &str,
    id: i64,
    event: &str,
) {
    let before = t.count("audit_events").await;
    sqlx::query(&format!("INSERT INTO {table} (id, event) VALUES ($1, $2)"))
        .bind(id)
        .bind(event)
        .execute(pool)
        .await
        .unwrap_or_default();
    assert_eq!(
        t.count("audit_events").await,
        before,
        "no event is moved twice"
    );
}

/// How many events of request `id` are in the log, after a move.
async fn in_log(t: &TestApp, write: &sqlx::SqlitePool, id: &str) -> usize {
    t.audit_rows().await;
    let rows: Vec<(i64,)> = sqlx::query_as("SELECT seq FROM audit_events WHERE request_id = $1")
        .bind(id)
        .fetch_all(write)
        .await
        .unwrap_or_default();
    rows.len()
}

/// On SQLite the events of reads are appended to an encrypted journal and
/// moved into the log by the mover or by whoever reads the log; an event
/// is moved exactly once, whatever stopped its process (before the move,
/// between the move and the clean-up, in the middle of a write), and
/// events that an older version left staged in `turva-audit-stage.db` are
/// moved the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journalled_read_events_are_moved_exactly_once() {
    use turva_testkit::turva_store_db::Db;
    let Some(t) = TestApp::start(turva_testkit::Backend::Sqlite).await else {
        panic!("no app")
    };
    let (cid, owner) = t.company_with_owner("A", "owner@example.test").await;
    let views = |rows: &[turva_testkit::AuditRow]| {
        rows.iter().filter(|r| r.action == "company.view").count()
    };
    let before = views(&t.audit_rows().await);
    for _ in 0..5 {
        assert_eq!(
            owner.get(&format!("/api/v1/companies/{cid}")).await.status,
            200
        );
    }
    assert_eq!(
        views(&t.audit_rows().await),
        before + 5,
        "every acknowledged view is in the log"
    );
    let Db::Sqlite { write, stage, .. } = t.app.db().clone() else {
        panic!("sqlite")
    };
    let (staged,): (i64,) = sqlx::query_as("SELECT count(*) FROM staged_events")
        .fetch_one(&stage)
        .await
        .unwrap_or_default();
    assert_eq!(staged, 0, "nothing is staged any more");

    // Other processes of the data directory, each with a segment of its
    // own. (The server's mover closes and moves the server's own segment
    // every turn, so the checks below look only at theirs.)
    let data = t.data_dir();
    let segments = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(data.join("audit-journal"))
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let journal = || t.app.audit_journal().unwrap_or_else(|| panic!("a journal"));
    let appended = |j: &turva_app::AuditJournal, ip: &str, id: &str| {
        let before = segments();
        let event = waiting_event(&cid, "company.view", ip, id);
        j.append(event.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let new: Vec<_> = segments()
            .into_iter()
            .filter(|p| !before.contains(p))
            .collect();
        assert_eq!(new.len(), 1, "a segment of its own: {new:?}");
        new[0].clone()
    };

    // A process that journalled an event and died before moving it: the
    // next move takes it, once, and deletes its segment.
    let other = journal();
    let segment = appended(&other, "192.0.2.5", "req-dead-0001");
    let bytes = std::fs::read(&segment).unwrap_or_default();
    assert!(
        !bytes.windows(18).any(|w| w == b"crash@example.test") && !bytes.is_empty(),
        "the journal is encrypted"
    );
    drop(other);
    assert_eq!(in_log(&t, &write, "req-dead-0001").await, 1);
    assert_eq!(
        in_log(&t, &write, "req-dead-0001").await,
        1,
        "not moved again"
    );
    assert!(!segment.exists(), "its segment is deleted");

    // A live process's events are moved while it runs; once it ends, its
    // segment is deleted without moving them again.
    let other = journal();
    let segment = appended(&other, "192.0.2.6", "req-live-0001");
    assert_eq!(in_log(&t, &write, "req-live-0001").await, 1);
    assert!(segment.exists(), "a live segment is kept");
    other.close();
    assert_eq!(
        in_log(&t, &write, "req-live-0001").await,
        1,
        "not moved again"
    );
    assert!(!segment.exists());

    // A process that died in the middle of a write: its whole events are
    // moved, the torn one (never acknowledged) is not.
    let other = journal();
    let torn = appended(&other, "192.0.2.7", "req-torn-0001");
    drop(other);
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&torn)
            .unwrap_or_else(|e| panic!("{e}"));
        f.write_all(&[200, 1, 0, 0, 7, 7, 7])
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(in_log(&t, &write, "req-torn-0001").await, 1);
    assert!(!torn.exists());

    // An event an older version staged is moved once.
    let old = waiting_event(&cid, "company.view", "192.0.2.8", "req-staged-0001");
    sqlx::query("INSERT INTO staged_events (event) VALUES ($1)")
        .bind(&old)
        .execute(&stage)
        .await
        .unwrap_or_default();
    assert_eq!(in_log(&t, &write, "req-staged-0001").await, 1);
    let (through,): (i64,) = sqlx::query_as("SELECT staged_through FROM audit_head")
        .fetch_one(&write)
        .await
        .unwrap_or_default();
    assert!(through >= 1, "the move is marked: {through}");

    // A crash after that move's commit but before the deletion leaves the
    // staged event behind: it is not moved again.
    let event = waiting_event(&cid, "company.view", "192.0.2.9", "req-crash-0001");
    left_behind_is_not_moved_again(&t, &stage, "staged_events", through, &event).await;

    // One journalled by a process that then died (after the server
    // stopped) is moved when the data directory is next opened.
    let other = journal();
    let (dir, config) = t.stop_keep().await;
    other
        .append(event.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    drop(other);
    let data = dir.path().join("data");
    let (app, _) = turva_app::App::open(config, &data, std::sync::Arc::new(turva_app::SystemClock))
        .await
        .unwrap_or_else(|e| panic!("reopen: {e}"));
    let events = turva_app::audit::events(&app, 0, 10_000)
        .await
        .unwrap_or_default();
    let crashed: Vec<_> = events
        .iter()
        .filter(|e| e.row.request_id.as_deref() == Some("req-crash-0001"))
        .collect();
    assert_eq!(crashed.len(), 1, "moved once, at the next start");
    let p = crashed[0].personal.as_ref();
    assert_eq!(
        p.map(|p| (p.ip.as_str(), p.email.as_deref())),
        Some(("192.0.2.9", Some("crash@example.test")))
    );
    let left: Vec<_> = std::fs::read_dir(data.join("audit-journal"))
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "every segment is moved and deleted: {left:?}"
    );
    let seqs: Vec<i64> = events.iter().map(|e| e.row.seq).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "still gap-free"
    );
    app.close().await;
}

/// SQLite keeps the log in a file of its own, so that moving the events of
/// reads never commits to `turva.db` (a commit there would make every
/// reader drop its page cache); a change's event commits with the change,
/// in `turva.db`, and is moved into the log exactly once, even when a crash
/// comes between the move and the clean-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_has_a_file_of_its_own_and_reads_leave_the_main_file_alone() {
    use turva_testkit::turva_store_db::Db;
    let Some(t) = TestApp::start(turva_testkit::Backend::Sqlite).await else {
        panic!("no app")
    };
    let (cid, owner) = t.company_with_owner("A", "owner@example.test").await;
    let _ = t.count("audit_events").await; // moves what the set-up pended
    let Db::Sqlite { read, write, .. } = t.app.db().clone() else {
        panic!("sqlite")
    };
    let mut reader = read.acquire().await.unwrap_or_else(|e| panic!("{e}"));
    async fn versions(c: &mut sqlx::SqliteConnection) -> (i64, i64) {
        let (m,): (i64,) = sqlx::query_as("PRAGMA main.data_version")
            .fetch_one(&mut *c)
            .await
            .unwrap_or_default();
        let (a,): (i64,) = sqlx::query_as("PRAGMA audit.data_version")
            .fetch_one(&mut *c)
            .await
            .unwrap_or_default();
        (m, a)
    }
    let before = versions(&mut reader).await;
    let events_before = t.count("audit_events").await;
    for _ in 0..5 {
        let r = owner.get(&format!("/api/v1/companies/{cid}")).await;
        assert_eq!(r.status, 200);
    }
    assert_eq!(t.count("audit_events").await, events_before + 5);
    let after = versions(&mut reader).await;
    assert_eq!(after.0, before.0, "turva.db was not written");
    assert_ne!(after.1, before.1, "the log's file was");

    // A change pends its event in turva.db, in its own transaction.
    let r = owner
        .patch(&format!("/api/v1/companies/{cid}"), json!({"name": "B"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (pended,): (i64,) = sqlx::query_as("SELECT count(*) FROM main.audit_pending")
        .fetch_one(&write)
        .await
        .unwrap_or_default();
    assert!(pended >= 1, "{pended}");
    let updates = t.audit_rows_where("action = 'company.update'").await;
    assert_eq!(updates.len(), 1);
    let (left, through): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM main.audit_pending), pending_through FROM audit_head",
    )
    .fetch_one(&write)
    .await
    .unwrap_or_default();
    assert_eq!(left, 0, "moved events are deleted");

    // A crash after the move, before the clean-up: not moved twice.
    let event = waiting_event(&cid, "company.update", "192.0.2.8", "req-crash-0002");
    left_behind_is_not_moved_again(&t, &write, "audit_pending", through, &event).await;

    // One committed by a process that died before the move: moved once,
    // at the next start.
    sqlx::query("INSERT INTO audit_pending (event) VALUES ($1)")
        .bind(&event)
        .execute(&write)
        .await
        .unwrap_or_default();
    drop(reader);
    let (_dir, app) = t.stop_and_reopen().await;
    let events = turva_app::audit::events(&app, 0, 10_000)
        .await
        .unwrap_or_default();
    let crashed = events
        .iter()
        .filter(|e| e.row.request_id.as_deref() == Some("req-crash-0002"))
        .count();
    assert_eq!(crashed, 1);
    let seqs: Vec<i64> = events.iter().map(|e| e.row.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    let verified = turva_app::audit_verify::verify(&app).await;
    assert!(verified.is_ok(), "{verified:?}");
    app.close().await;
}

/// After a power loss that kept the log's file but not the last commits of
/// `turva.db` or the stage, the next ids of waiting events would fall back
/// below the marks of what was moved and be skipped for good; opening the
/// data directory raises them first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_ids_never_fall_back_below_what_the_log_moved() {
    let Some(t) = TestApp::start(turva_testkit::Backend::Sqlite).await else {
        panic!("no app")
    };
    let _ = t.company_with_owner("A", "owner@example.test").await;
    let _ = t.count("audit_events").await;
    tamper(
        &t.app,
        &["UPDATE audit_head SET pending_through = pending_through + 50, staged_through = staged_through + 50"],
    )
    .await;
    let (_dir, app) = t.stop_and_reopen().await;
    let ctx = turva_app::Ctx::cli();
    let op =
        turva_app::operators::create(&app, &ctx, "op@example.test", turva_testkit::PASSWORD).await;
    assert!(op.is_ok(), "{op:?}");
    let read = turva_app::audit::record_read(
        &app,
        &ctx,
        turva_app::audit::Event::new(
            turva_model::audit::AuditAction::CompanyView,
            turva_model::audit::Outcome::Allowed,
        ),
    )
    .await;
    assert!(read.is_ok(), "{read:?}");
    let events = turva_app::audit::events(&app, 0, 10_000)
        .await
        .unwrap_or_default();
    let actions: Vec<&str> = events.iter().map(|e| e.row.action.as_str()).collect();
    assert!(actions.contains(&"operator.create"), "{actions:?}");
    assert_eq!(actions.last(), Some(&"company.view"), "{actions:?}");
    app.close().await;
}

/// Raw rows of `audit_nodes` and the tree size, on either backend.
async fn stored_tree(
    t: &TestApp,
) -> (
    u64,
    std::collections::HashMap<turva_model::merkle::NodeId, turva_model::merkle::Hash>,
) {
    use turva_testkit::turva_store_db::Db;
    let q_nodes = "SELECT CAST(level AS BIGINT), CAST(idx AS BIGINT), hash FROM audit_nodes";
    let q_size = "SELECT CAST(tree_size AS BIGINT) FROM audit_head";
    type Rows = Vec<(i64, i64, Vec<u8>)>;
    let (rows, size): (Rows, (i64,)) = match t.app.db() {
        Db::Sqlite { read, .. } => (
            sqlx::query_as(q_nodes)
                .fetch_all(read)
                .await
                .unwrap_or_default(),
            sqlx::query_as(q_size)
                .fetch_one(read)
                .await
                .unwrap_or_default(),
        ),
        Db::Postgres(p) => (
            sqlx::query_as(q_nodes)
                .fetch_all(p)
                .await
                .unwrap_or_default(),
            sqlx::query_as(q_size)
                .fetch_one(p)
                .await
                .unwrap_or_default(),
        ),
    };
    let nodes = rows
        .into_iter()
        .map(|(l, i, h)| {
            let h: [u8; 32] = h.try_into().unwrap_or([0; 32]);
            ((l as u32, i as u64), h)
        })
        .collect();
    (size.0 as u64, nodes)
}

both!(the_merkle_tree_holds_every_event_and_proves_each);
/// Every event (of a change, of a read, of a failed sign-in) is a leaf of
/// the stored tree, its leaf computed here from the columns alone; every
/// inclusion and consistency proof drawn from the stored nodes verifies.
async fn the_merkle_tree_holds_every_event_and_proves_each(t: TestApp) {
    use turva_model::audit::LeafFields;
    use turva_model::merkle::{self, Frontier};
    let (cid, owner) = t.company_with_owner("Puu Oy", "puu@example.test").await;
    for _ in 0..6 {
        let _ = owner.get(&format!("/api/v1/companies/{cid}")).await;
    }
    let _ = t
        .client()
        .post(
            "/api/v1/auth/login",
            json!({"email": "puu@example.test", "password": "not the password"}),
        )
        .await;
    let events = turva_app::audit::events(&t.app, 0, 10_000)
        .await
        .unwrap_or_default();
    assert!(events.len() >= 9, "{}", events.len());
    let leaves: Vec<merkle::Hash> = events
        .iter()
        .map(|e| {
            let r = &e.row;
            LeafFields {
                seq: r.seq,
                time: r.time,
                company_id: r.company_id.as_deref(),
                actor_id: r.actor_id.as_deref(),
                credential: r.credential.as_deref(),
                object_type: r.object_type.as_deref(),
                object_id: r.object_id.as_deref(),
                object_version: r.object_version,
                action: &r.action,
                outcome: &r.outcome,
                reason: r.reason.as_deref(),
                request_id: r.request_id.as_deref(),
                personal_key_id: r.personal_key_id.as_deref(),
                personal: r.personal.as_deref(),
            }
            .leaf_hash()
        })
        .collect();
    let mut f = Frontier::default();
    for l in &leaves {
        f.push(*l);
    }
    let (size, nodes) = stored_tree(&t).await;
    let n = leaves.len() as u64;
    assert_eq!(size, n, "the tree holds every event");
    let root = merkle::range_hash(0, n, &nodes);
    assert_eq!(
        root,
        Some(f.root()),
        "stored nodes give the recomputed root"
    );
    let root = f.root();
    let hashes = |ranges: Vec<(u64, u64)>| -> Vec<merkle::Hash> {
        ranges
            .into_iter()
            .map(|(a, b)| merkle::range_hash(a, b, &nodes).unwrap_or_default())
            .collect()
    };
    for (m, leaf) in leaves.iter().enumerate() {
        let m = m as u64;
        let proof = hashes(merkle::inclusion_ranges(m, n));
        assert!(
            merkle::verify_inclusion(m, n, leaf, &proof, &root),
            "event {}",
            m + 1
        );
        if m > 0 {
            let old = merkle::range_hash(0, m, &nodes).unwrap_or_default();
            let proof = hashes(merkle::consistency_ranges(m, n));
            assert!(
                merkle::verify_consistency(m, n, &old, &root, &proof),
                "{m} → {n}"
            );
        }
    }
}

both!(checkpoints_are_signed_stored_and_written_outside_the_database);
/// Shutdown signs a checkpoint of the whole tree; it is in the database
/// and in the external file, verifies with the public key alone, and a
/// data directory whose signing key is gone refuses to start rather than
/// sign with a new one.
async fn checkpoints_are_signed_stored_and_written_outside_the_database(t: TestApp) {
    use turva_app::checkpoint;
    let (cid, owner) = t.company_with_owner("Leima Oy", "leima@example.test").await;
    for _ in 0..3 {
        let _ = owner.get(&format!("/api/v1/companies/{cid}")).await;
    }
    let name = t.app.signer().name().to_string();
    let public = t.app.signer().public_key().to_vec();
    let (dir, config) = t.stop_keep().await;
    let data = dir.path().join("data");
    let text = std::fs::read_to_string(checkpoint::external_file(&data)).unwrap_or_default();
    let last: serde_json::Value = text
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_default();
    let note = last["note"].as_str().unwrap_or_default();
    let (size, root) = checkpoint::verify_note(note, &name, &public)
        .unwrap_or_else(|| panic!("the external checkpoint verifies: {note:?}"));
    assert_eq!(last["size"].as_u64(), Some(size));

    let (app, _) = turva_app::App::open(
        config.clone(),
        &data,
        std::sync::Arc::new(turva_app::SystemClock),
    )
    .await
    .unwrap_or_else(|e| panic!("reopen: {e}"));
    let events = turva_app::audit::events(&app, 0, 10_000)
        .await
        .unwrap_or_default();
    assert_eq!(
        size,
        events.len() as u64,
        "the shutdown checkpoint covers every event"
    );
    let mut f = turva_model::merkle::Frontier::default();
    for e in &events {
        f.push(turva_app::audit::leaf_hash(&e.row));
    }
    assert_eq!(f.root(), root, "the signed root is the events' root");
    assert_eq!(
        app.signer().public_key(),
        &public[..],
        "the same key after a restart"
    );
    app.close().await;
    drop(app);

    std::fs::remove_file(data.join("audit-signing.key")).unwrap_or_default();
    let err = turva_app::App::open(config, &data, std::sync::Arc::new(turva_app::SystemClock))
        .await
        .err()
        .unwrap_or_default();
    assert!(err.contains("signing key"), "{err}");
}

/// Runs statements straight on the database (as someone with access to it
/// but not to the signing key would).
pub(crate) async fn tamper(app: &turva_app::App, sql: &[&str]) {
    use turva_testkit::turva_store_db::Db;
    for s in sql {
        let r = match app.db() {
            Db::Sqlite { write, .. } => sqlx::query(s).execute(write).await.map(|_| ()),
            Db::Postgres(p) => sqlx::query(s).execute(p).await.map(|_| ()),
        };
        if let Err(e) = r {
            panic!("{s}: {e}");
        }
    }
}

/// A log of some events, checkpointed at shutdown, then reopened: the
/// app, its data directory (kept alive) and the number of events.
async fn checkpointed_log(
    backend: turva_testkit::Backend,
) -> (turva_app::App, tempfile::TempDir, i64) {
    let Some(t) = TestApp::start(backend).await else {
        panic!("no app")
    };
    let (cid, owner) = t
        .company_with_owner("Tarkka Oy", "tarkka@example.test")
        .await;
    for _ in 0..4 {
        let _ = owner.get(&format!("/api/v1/companies/{cid}")).await;
    }
    let (dir, config) = t.stop_keep().await;
    let (app, _) = turva_app::App::open(
        config,
        &dir.path().join("data"),
        std::sync::Arc::new(turva_app::SystemClock),
    )
    .await
    .unwrap_or_else(|e| panic!("reopen: {e}"));
    let n = turva_app::audit::events(&app, 0, 10_000)
        .await
        .unwrap_or_default()
        .len() as i64;
    (app, dir, n)
}

both!(audit_verify_names_the_first_bad_event_of_every_tampering);
/// `audit verify` passes on an untouched log and fails on each tampering
/// act, naming the first bad sequence number.
async fn audit_verify_names_the_first_bad_event_of_every_tampering(t: TestApp) {
    let backend = t.backend;
    t.stop().await;
    let (app, _dir, n) = checkpointed_log(backend).await;
    assert!(n >= 8, "{n}");
    let v = turva_app::audit_verify::verify(&app).await;
    assert!(
        matches!(&v, Ok(v) if v.events == n as u64 && v.checkpoints >= 1 && v.external_checkpoints >= 1),
        "{v:?}"
    );
    app.close().await;

    let last = n;
    let keep = n - 2;
    let cases: Vec<(&str, Vec<String>, i64)> = vec![
        (
            "edited",
            vec!["UPDATE audit_events SET object_id = 'someone-else' WHERE seq = 3".into()],
            3,
        ),
        (
            "deleted",
            vec!["DELETE FROM audit_events WHERE seq = 4".into()],
            4,
        ),
        (
            "reordered",
            vec![
                "UPDATE audit_events SET seq = -5 WHERE seq = 5".into(),
                "UPDATE audit_events SET seq = 5 WHERE seq = 6".into(),
                "UPDATE audit_events SET seq = 6 WHERE seq = -5".into(),
            ],
            5,
        ),
        (
            "truncated",
            vec![format!("DELETE FROM audit_events WHERE seq = {last}")],
            last,
        ),
        (
            // An older copy of the database: events, tree and checkpoints
            // as they were, while the external file remembers more.
            "rolled back",
            vec![
                format!("DELETE FROM audit_events WHERE seq > {keep}"),
                format!("DELETE FROM audit_nodes WHERE (idx + 1) * (1 << level) > {keep}"),
                format!(
                    "UPDATE audit_head SET tree_size = {keep}, next_seq = {}",
                    keep + 1
                ),
                "DELETE FROM audit_checkpoints".into(),
            ],
            keep + 1,
        ),
        (
            // The stored leaves recomputed to match an edit: the signed
            // roots still give it away.
            "edited with its leaf",
            vec!["UPDATE audit_events SET action = 'company.create' WHERE seq = 2".into()],
            1,
        ),
    ];
    for (what, sql, want) in cases {
        let (app, _dir, _) = checkpointed_log(backend).await;
        let sql: Vec<&str> = sql.iter().map(String::as_str).collect();
        tamper(&app, &sql).await;
        if what == "edited with its leaf" {
            // Rewrite leaf 1 (seq 2) and every node above it, as someone
            // without the signing key could.
            let events = turva_app::audit::events(&app, 0, 10_000)
                .await
                .unwrap_or_default();
            let mut f = turva_model::merkle::Frontier::default();
            let mut made = Vec::new();
            for e in &events {
                made.extend(f.push(turva_app::audit::leaf_hash(&e.row)));
            }
            tamper(&app, &["DELETE FROM audit_nodes"]).await;
            for ((level, idx), hash) in made {
                let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
                let lit = match backend {
                    turva_testkit::Backend::Sqlite => format!("X'{hex}'"),
                    turva_testkit::Backend::Postgres => format!("'\\x{hex}'::bytea"),
                };
                let s = format!(
                    "INSERT INTO audit_nodes (level, idx, hash) VALUES ({level}, {idx}, {lit})"
                );
                tamper(&app, &[s.as_str()]).await;
            }
        }
        let v = turva_app::audit_verify::verify(&app).await;
        match v {
            Err(Ok(t)) => assert_eq!(t.seq, want, "{what}: {t}"),
            other => panic!("{what}: not detected: {other:?}"),
        }
        drop(app);
    }
}

both!(the_public_key_is_public_and_verifies_the_checkpoints);
/// Anyone may fetch the signing key; with it alone a checkpoint verifies.
async fn the_public_key_is_public_and_verifies_the_checkpoints(t: TestApp) {
    use base64::Engine;
    let _ = t.company_with_owner("Avain Oy", "avain@example.test").await;
    let r = t.client().get("/api/v1/audit/public-key").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["algorithm"], "Ed25519");
    let name = r.body["name"].as_str().unwrap_or_default().to_string();
    let key = base64::engine::general_purpose::STANDARD
        .decode(r.body["public_key"].as_str().unwrap_or_default())
        .unwrap_or_default();
    assert_eq!(key.len(), 32);
    assert!(r.body["verifier_key"]
        .as_str()
        .is_some_and(|v| v.starts_with(&format!("{name}+"))));
    let row = turva_app::checkpoint::make(&t.app).await.ok().flatten();
    let row = match row {
        Some(row) => row,
        // The mover may have signed this size already: take the file's last.
        None => {
            let text = std::fs::read_to_string(turva_app::checkpoint::external_file(&t.data_dir()))
                .unwrap_or_default();
            let v: serde_json::Value = text
                .lines()
                .last()
                .and_then(|l| serde_json::from_str(l).ok())
                .unwrap_or_default();
            turva_app::rows::CheckpointRow {
                size: v["size"].as_i64().unwrap_or(0),
                time: 0,
                root: Vec::new(),
                note: v["note"].as_str().unwrap_or_default().to_string(),
            }
        }
    };
    let verified = turva_app::checkpoint::verify_note(&row.note, &name, &key);
    assert_eq!(
        verified.map(|(s, _)| s as i64),
        Some(row.size),
        "{}",
        row.note
    );
}

both!(erasing_a_users_key_leaves_the_log_verifiable);
/// Crypto-shredding: once a user's data key is destroyed, their events'
/// personal fields read as erased, and the log still verifies (leaves hold
/// only the ciphertext).
async fn erasing_a_users_key_leaves_the_log_verifiable(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Unohdus Oy", "unohdus@example.test")
        .await;
    for _ in 0..3 {
        let _ = owner.get(&format!("/api/v1/companies/{cid}")).await;
    }
    let me = owner.get("/api/v1/me").await.body["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let before = turva_app::audit::events(&t.app, 0, 10_000)
        .await
        .unwrap_or_default();
    let theirs = |events: &[turva_app::audit::EventView]| -> Vec<bool> {
        events
            .iter()
            .filter(|e| e.row.actor_id.as_deref() == Some(me.as_str()))
            .map(|e| e.personal.is_some())
            .collect()
    };
    assert!(!theirs(&before).is_empty() && theirs(&before).iter().all(|p| *p));
    assert!(turva_app::checkpoint::make(&t.app).await.is_ok());
    tamper(
        &t.app,
        &[&format!(
            "UPDATE data_keys SET wrapped = NULL, destroyed_at = 1 WHERE kind = 'user' AND owner_id = '{me}'"
        )],
    )
    .await;
    let after = turva_app::audit::events(&t.app, 0, 10_000)
        .await
        .unwrap_or_default();
    assert!(
        theirs(&after).iter().all(|p| !*p),
        "their personal fields read as erased"
    );
    assert_eq!(after.len(), before.len(), "their events stay in the log");

    // What they do next is logged, without a new key: nothing new about an
    // erased person becomes readable, and the log keeps moving.
    let r = owner.get(&format!("/api/v1/companies/{cid}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let later = turva_app::audit::events(&t.app, 0, 10_000)
        .await
        .unwrap_or_else(|e| panic!("the log reads after an erasure: {e}"));
    assert!(later.len() > after.len(), "the view is in the log");
    let newest = later
        .iter()
        .rev()
        .find(|e| e.row.actor_id.as_deref() == Some(me.as_str()))
        .unwrap_or_else(|| panic!("their view"));
    assert_eq!(newest.row.action, "company.view");
    assert!(
        newest.personal.is_none()
            && newest.row.personal_key_id.is_none()
            && newest.row.ip_index.is_none(),
        "no personal field for an erased person"
    );
    let v = turva_app::audit_verify::verify(&t.app).await;
    assert!(
        matches!(&v, Ok(v) if v.events >= later.len() as u64),
        "{v:?}"
    );
}
