//! Master-key rotation: a new version, every data key rewrapped, while the
//! server serves and without it restarting.

use turva_testkit::{TestApp, PASSWORD};

use crate::both;
use crate::cli::turva;

both!(rotation_rewraps_every_key_while_the_server_serves);
async fn rotation_rewraps_every_key_while_the_server_serves(t: TestApp) {
    let (cid, owner) = t.company_with_owner("Avain Oy", "avain@example.test").await;
    assert_eq!(
        owner.get(&format!("/api/v1/companies/{cid}")).await.status,
        200
    );
    let before = turva_app::keys::status(&t.app).await.unwrap_or_default();
    assert_eq!(before.len(), 1, "{before:?}");
    let v1 = &before[0];
    assert!(v1.version == 1 && v1.newest && v1.key_ring, "{v1:?}");
    assert!(
        v1.data_keys >= 3,
        "company, owner and platform keys: {v1:?}"
    );
    let out = turva(&t, &["keys", "status"], "").await.unwrap_or_default();
    assert!(
        out.starts_with("v1 age 0d newest needs: key ring, ")
            && out.trim_end().ends_with(" data keys"),
        "{out}"
    );

    // Rotated by another process, the CLI, while this server runs.
    let out = turva(&t, &["keys", "rotate"], "").await.unwrap_or_default();
    assert!(
        out.starts_with("master key version 2 is the newest; ")
            && out
                .trim_end()
                .ends_with(" data keys and the key ring rewrapped under it"),
        "{out}"
    );
    let file = std::fs::read_to_string(t.data_dir().join("master.key")).unwrap_or_default();
    assert_eq!(file.lines().filter(|l| l.starts_with('v')).count(), 2);

    // The server had read only version 1; it serves on, re-reading the
    // file when it meets version 2.
    assert_eq!(
        owner.get(&format!("/api/v1/companies/{cid}")).await.status,
        200
    );
    let again = t.client();
    let r = again
        .post(
            "/api/v1/auth/login",
            serde_json::json!({"email": "avain@example.test", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Keys made now are wrapped by version 2.
    let _ = t.company_with_owner("Uusi Oy", "uusi@example.test").await;
    let after = turva_app::keys::status(&t.app).await.unwrap_or_default();
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(
        after[0].version == 1 && !after[0].newest && !after[0].key_ring && after[0].data_keys == 0,
        "version 1 wraps nothing now: {after:?}"
    );
    assert!(
        after[1].version == 2
            && after[1].newest
            && after[1].key_ring
            && after[1].data_keys > v1.data_keys,
        "{after:?}"
    );
    let out = turva(&t, &["keys", "status"], "").await.unwrap_or_default();
    assert!(
        out.starts_with("v1 age 0d needs: nothing\nv2 age 0d newest needs: key ring, "),
        "{out}"
    );

    // Audited, as the platform's.
    let rotations = t.audit_rows_where("action = 'key.rotate'").await;
    assert_eq!(rotations.len(), 1);
    assert_eq!(rotations[0].company_id, None);
    assert!(
        rotations[0].reason.as_deref().is_some_and(
            |r| r.starts_with("master key version 2; ") && r.ends_with(" data keys rewrapped")
        ),
        "{:?}",
        rotations[0].reason
    );

    // After a restart with the rotated file, everything opens: the personal
    // fields of every event (sealed under user and period keys) and the log.
    let (_dir, app) = t.stop_and_reopen().await;
    let events = turva_app::audit::events(&app, 0, 10_000)
        .await
        .unwrap_or_default();
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| e.personal.is_some()),
        "every personal field opens"
    );
    let verified = turva_app::audit_verify::verify(&app).await;
    assert!(verified.is_ok(), "{verified:?}");
    app.close().await;
}

both!(housekeeping_finishes_an_interrupted_rotation_and_rotates_on_schedule);
/// A rotation that wrote the new version and then stopped (a crash)
/// rewrapped nothing; the server's housekeeping rewraps every key under it.
/// And once `[keys] rotate_days` (90) have passed, it rotates by itself.
async fn housekeeping_finishes_an_interrupted_rotation_and_rotates_on_schedule(t: TestApp) {
    let _ = t.company_with_owner("A", "a@example.test").await;
    assert_eq!(
        turva_app::keys::housekeeping(&t.app).await.ok(),
        Some(None),
        "not due"
    );
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).unwrap_or_default();
    let path = t.data_dir().join("master.key");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text.push_str(&format!(
        "v2 {} created={}\n",
        hex::encode(bytes),
        t.app.now() / 1000
    ));
    std::fs::write(&path, text).unwrap_or_default();
    let status = turva_app::keys::status(&t.app).await.unwrap_or_default();
    assert!(status[0].key_ring && status[0].data_keys > 0, "{status:?}");
    assert!(status[1].newest && status[1].data_keys == 0, "{status:?}");

    assert_eq!(turva_app::keys::housekeeping(&t.app).await.ok(), Some(None));
    // Everything is under version 2 now, and no backup's key-ring copy
    // names version 1: it is retired in the same turn.
    let status = turva_app::keys::status(&t.app).await.unwrap_or_default();
    assert!(
        status.len() == 1 && status[0].version == 2 && status[0].key_ring,
        "{status:?}"
    );
    assert_eq!(t.audit_rows_where("action = 'key.retire'").await.len(), 1);

    t.clock.advance_secs(91 * 86_400);
    let rotated = turva_app::keys::housekeeping(&t.app).await;
    assert!(
        matches!(&rotated, Ok(Some(r)) if r.version == 3),
        "{rotated:?}"
    );
    let status = turva_app::keys::status(&t.app).await.unwrap_or_default();
    assert_eq!(
        status
            .iter()
            .map(|v| (v.version, v.newest, v.data_keys > 0))
            .collect::<Vec<_>>(),
        vec![(3, true, true)]
    );
    let rows = t.audit_rows_where("action = 'key.rotate'").await;
    assert_eq!(rows.len(), 1);
    // The server's own request still opens every key.
    let verified = turva_app::audit::events(&t.app, 0, 10_000).await;
    assert!(verified.is_ok_and(|e| e.iter().all(|e| e.personal.is_some())));
}
