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
