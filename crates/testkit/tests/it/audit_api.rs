//! Reading the audit log over HTTP: a company's events for its admins,
//! filtered and paged; exports that no value can forge a line of; the
//! platform's events for operators; usage per day; checkpoints and proofs
//! that verify with the public key alone, and falsified ones that do not.

use serde_json::{json, Value};
use turva_app::model::merkle;
use turva_testkit::{Client, TestApp, PASSWORD};

use crate::both;

fn items(v: &Value) -> Vec<Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

fn strs<'a>(events: &'a [Value], key: &str) -> Vec<&'a str> {
    events
        .iter()
        .map(|e| e[key].as_str().unwrap_or_default())
        .collect()
}

/// Every page of `path` (which has a query string), following cursors.
async fn all_pages(c: &Client, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut url = path.to_string();
    for _ in 0..100 {
        let r = c.get(&url).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        out.extend(items(&r.body));
        match r.body["next_cursor"].as_str() {
            Some(next) => url = format!("{path}&cursor={next}"),
            None => return out,
        }
    }
    panic!("more than 100 pages");
}

both!(company_admins_read_their_own_audit_filtered_and_paged);
async fn company_admins_read_their_own_audit_filtered_and_paged(t: TestApp) {
    let (cid, owner) = t.company_with_owner("Loki Oy", "loki@example.test").await;
    let (member, mid) = t.member(&owner, &cid, "m@example.test", "member").await;
    let (other_cid, other) = t.company_with_owner("Muu Oy", "muu@example.test").await;
    let f = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({"name": "Työmaa"}),
        )
        .await;
    let fid = f.body["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        member.get(&format!("/api/v1/folders/{fid}")).await.status,
        200
    );
    // A failed sign-in to the member's account; a denied probe by the
    // member of the other company's folder.
    let r = t
        .client()
        .post(
            "/api/v1/auth/login",
            json!({"email": "m@example.test", "password": "not the password at all"}),
        )
        .await;
    assert_eq!(r.status, 401);
    let of = other
        .post(
            &format!("/api/v1/companies/{other_cid}/folders"),
            json!({"name": "Salainen"}),
        )
        .await;
    let ofid = of.body["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        member.get(&format!("/api/v1/folders/{ofid}")).await.status,
        404
    );

    let base = format!("/api/v1/companies/{cid}/audit");
    let all = all_pages(&owner, &format!("{base}?limit=200")).await;
    let seqs: Vec<i64> = all.iter().map(|e| e["seq"].as_i64().unwrap_or(0)).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seqs:?}"
    );
    for e in &all {
        let own = e["company_id"] == json!(cid);
        let sign_in = e["company_id"].is_null()
            && e["action"].as_str().is_some_and(|a| a.starts_with("auth."));
        assert!(own || sign_in, "only the company's events: {e}");
        for key in [
            "seq",
            "time",
            "actor_id",
            "actor_email",
            "company_id",
            "object_type",
            "object_id",
            "object_version",
            "action",
            "outcome",
            "ip",
            "user_agent",
            "request_id",
            "credential",
        ] {
            assert!(e.get(key).is_some(), "{key} in {e}");
        }
    }
    let actions = strs(&all, "action");
    assert!(actions.contains(&"folder.create") && actions.contains(&"folder.view"));
    assert!(
        actions.contains(&"auth.login"),
        "members' sign-ins are shown"
    );
    assert!(
        actions.contains(&"auth.login_failed"),
        "failed sign-ins to members' accounts too"
    );
    assert!(
        !all.iter().any(|e| e["object_id"] == json!(ofid)),
        "the probe of the other company's folder is not this company's"
    );
    // The other company's owner sees that probe in theirs.
    let theirs = other
        .get(&format!(
            "/api/v1/companies/{other_cid}/audit?object={ofid}&outcome=denied"
        ))
        .await;
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    let probe = items(&theirs.body);
    assert_eq!(probe.len(), 1, "{}", theirs.body);
    assert_eq!(probe[0]["actor_id"], json!(mid));
    assert_eq!(probe[0]["action"], "folder.view");
    assert_eq!(probe[0]["ip"], "127.0.0.1");

    // Filters.
    let got = |q: String| {
        let owner = &owner;
        let base = base.clone();
        async move {
            let r = owner.get(&format!("{base}?limit=200&{q}")).await;
            assert_eq!(r.status, 200, "{q}: {}", r.body);
            items(&r.body)
        }
    };
    let by_member = got(format!("actor={mid}")).await;
    assert!(!by_member.is_empty());
    assert!(by_member.iter().all(|e| e["actor_id"] == json!(mid)
        || (e["action"] == "auth.login_failed" && e["actor_email"] == "m@example.test")));
    assert!(
        strs(&by_member, "action").contains(&"auth.login_failed"),
        "a failed sign-in to their account is about them"
    );
    let by_email = got("actor=M%40example.test".into()).await;
    assert_eq!(strs(&by_email, "seq").len(), by_member.len());
    assert!(got("actor=nobody%40example.test".into()).await.is_empty());
    let views = got(format!("action=folder.view&object={fid}")).await;
    assert_eq!(views.len(), 1);
    assert_eq!(views[0]["actor_id"], json!(mid));
    assert_eq!(views[0]["object_type"], "folder");
    let family = got("action=auth.*".into()).await;
    assert!(
        !family.is_empty()
            && strs(&family, "action")
                .iter()
                .all(|a| a.starts_with("auth."))
    );
    assert!(got("outcome=denied".into())
        .await
        .iter()
        .all(|e| e["outcome"] == "denied"));
    assert_eq!(
        got("ip=127.0.0.1&action=folder.*".into()).await.len(),
        got("action=folder.*".into()).await.len()
    );
    assert!(got("ip=10.9.8.7".into()).await.is_empty());
    assert!(got("since=2999-01-01T00:00:00Z".into()).await.is_empty());
    assert!(got("until=2000-01-01".into()).await.is_empty());

    // Pages: every event once.
    let paged = all_pages(&owner, &format!("{base}?limit=3&action=folder.create")).await;
    let whole = got("action=folder.create".into()).await;
    assert_eq!(strs(&paged, "request_id"), strs(&whole, "request_id"));
    let mut in_pages = all_pages(&owner, &format!("{base}?limit=2&actor={mid}")).await;
    in_pages.retain(|e| e["action"] != "audit.view");
    assert!(in_pages.len() >= by_member.len());

    // Reading the log is itself an event.
    let reads = got("action=audit.view".into()).await;
    assert!(!reads.is_empty());
    assert!(reads.iter().all(|e| e["object_id"] == json!(cid)));

    // Who may not: a member (403), another company's owner (404), anonymous.
    let r = member.get(&base).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    assert_eq!(other.get(&base).await.status, 404);
    assert_eq!(t.client().get(&base).await.status, 401);
    let denied = got("action=audit.view&outcome=denied".into()).await;
    let reasons: Vec<(&str, &str)> = denied
        .iter()
        .map(|e| {
            (
                e["actor_email"].as_str().unwrap_or(""),
                e["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("muu@example.test", "not_visible"),
            ("m@example.test", "forbidden")
        ],
        "refused reads are recorded, in the company whose log was asked for"
    );

    // Bad filters are 400 and change nothing.
    for q in [
        "action=document.nonsense",
        "action=auth*",
        "ip=not-an-ip",
        "since=yesterday",
        "outcome=maybe",
        "cursor=%%%",
        "limit=0",
        "limit=500",
        "actor=nobody",
        "format=xml",
        "colour=red",
    ] {
        let r = owner.get(&format!("{base}?{q}")).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_input"),
            "{q}: {}",
            r.body
        );
    }
}

both!(exports_stream_every_event_and_no_value_forges_a_line);
async fn exports_stream_every_event_and_no_value_forges_a_line(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Vienti Oy", "vienti@example.test")
        .await;
    // A header cannot carry a line break (the unit tests of the formats feed
    // those); it can carry quotes, commas, tabs, backslashes and formulas.
    let evil = "=cmd|' /C calc'!A0,\"q\"\t{\"seq\":1,\"action\":\"auth.login\"}\\";
    owner.set_user_agent(evil);
    for n in 0..3 {
        let r = owner
            .post(
                &format!("/api/v1/companies/{cid}/folders"),
                json!({"name": format!("K{n}")}),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    let base = format!("/api/v1/companies/{cid}/audit");
    // An export needs a recent authentication.
    t.clock.advance_secs(3600);
    let r = owner.get(&format!("{base}?format=jsonl")).await;
    assert_eq!((r.status, r.code()), (403, "reauthentication_required"));
    let r = owner
        .post("/api/v1/auth/reauth", json!({"password": PASSWORD}))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);

    let r = owner.get(&format!("{base}?format=jsonl")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
    assert!(r
        .header("content-disposition")
        .is_some_and(|d| d.starts_with("attachment")));
    let lines: Vec<Value> = r
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let seqs: Vec<i64> = lines
        .iter()
        .map(|e| e["seq"].as_i64().unwrap_or(0))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "oldest first, each once"
    );
    assert!(
        lines.iter().any(|e| e["user_agent"] == evil),
        "the value survives, escaped"
    );
    let mut exported: Vec<&str> = lines
        .iter()
        .filter(|e| e["action"] == "audit.export")
        .map(|e| e["outcome"].as_str().unwrap_or(""))
        .collect();
    // (On SQLite a denial takes its seq when it is moved from the stage.)
    exported.sort_unstable();
    assert_eq!(
        exported,
        ["allowed", "denied"],
        "the refused export, and this one, recorded before its first line"
    );
    // Everything the page API shows (besides its own reads) is in the export.
    let listed = all_pages(&owner, &format!("{base}?limit=200&until=2999-01-01")).await;
    for e in listed
        .iter()
        .filter(|e| e["seq"].as_i64() < seqs.last().copied())
    {
        assert!(seqs.contains(&e["seq"].as_i64().unwrap_or(0)), "{e}");
    }

    let r = owner
        .get(&format!("{base}?format=csv&action=folder.create"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    let rows: Vec<&str> = r.text.lines().collect();
    assert_eq!(rows[0], turva_app::audit_export::CSV_HEADER);
    assert_eq!(
        rows.len(),
        1 + 3,
        "a header and one line per event: {rows:#?}"
    );
    for row in &rows[1..] {
        assert!(
            row.split(',')
                .next()
                .is_some_and(|s| s.parse::<i64>().is_ok()),
            "{row}"
        );
        assert!(row.contains("folder.create"));
        assert!(!row.contains('\t'), "tabs are escaped: {row}");
        assert!(row.contains("'=cmd"), "the formula is defused: {row}");
    }
    // Filters and bad input apply to exports too; nothing is recorded for them.
    let r = owner.get(&format!("{base}?format=jsonl&ip=bad")).await;
    assert_eq!(r.status, 400);
    let r = owner.get(&format!("{base}?format=pdf")).await;
    assert_eq!(r.status, 400);
    let exports = all_pages(
        &owner,
        &format!("{base}?action=audit.export&outcome=allowed"),
    )
    .await;
    assert_eq!(exports.len(), 2);
}

both!(operators_read_platform_events_and_nobody_else_does);
async fn operators_read_platform_events_and_nobody_else_does(t: TestApp) {
    let op = t.operator("op@example.test").await;
    let r = op
        .post(
            "/api/v1/companies",
            json!({"name": "Alusta Oy", "owner_email": "alusta@example.test"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let cid = r.body["id"].as_str().unwrap_or_default().to_string();
    let (_, owner) = t
        .company_with_owner("Toinen Oy", "toinen@example.test")
        .await;
    let events = all_pages(&op, "/api/v1/admin/audit?limit=200").await;
    let actions = strs(&events, "action");
    assert!(actions.contains(&"company.create"), "{actions:?}");
    assert!(actions.contains(&"auth.login"));
    let created = events
        .iter()
        .find(|e| e["action"] == "company.create" && e["company_id"] == json!(cid));
    assert!(created.is_some_and(|e| e["actor_email"] == "op@example.test"));
    assert!(
        events
            .iter()
            .all(|e| e["company_id"].is_null() || e["action"] == "company.create"),
        "no company content"
    );
    let r = owner.get("/api/v1/admin/audit").await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    // An operator sees no company's own audit.
    assert_eq!(
        op.get(&format!("/api/v1/companies/{cid}/audit"))
            .await
            .status,
        404
    );
    t.clock.advance_secs(3600);
    let r = op.get("/api/v1/admin/audit?format=csv").await;
    assert_eq!((r.status, r.code()), (403, "reauthentication_required"));
}

both!(analytics_count_each_days_usage);
async fn analytics_count_each_days_usage(t: TestApp) {
    let (cid, owner) = t.company_with_owner("Luvut Oy", "luvut@example.test").await;
    let (member, _) = t.member(&owner, &cid, "luku@example.test", "member").await;
    let r = t
        .client()
        .post(
            "/api/v1/auth/login",
            json!({"email": "luku@example.test", "password": "wrong password here"}),
        )
        .await;
    assert_eq!(r.status, 401);
    let f = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({"name": "P"}),
        )
        .await;
    let fid = f.body["id"].as_str().unwrap_or_default().to_string();
    for _ in 0..3 {
        assert_eq!(
            member.get(&format!("/api/v1/folders/{fid}")).await.status,
            200
        );
    }
    let d = member
        .post(
            &format!("/api/v1/folders/{fid}/documents"),
            json!({"title": "Raportti"}),
        )
        .await;
    assert_eq!(d.status, 201, "{}", d.body);
    let day1 = turva_app::clock::rfc3339(t.app.now())[..10].to_string();
    t.clock.advance_secs(86_400);
    // (A day is longer than a session stays idle.)
    member.login("luku@example.test", PASSWORD).await;
    owner.login("luvut@example.test", PASSWORD).await;
    let _ = member.get(&format!("/api/v1/folders/{fid}")).await;
    let r = owner
        .get(&format!(
            "/api/v1/companies/{cid}/audit/analytics?since={day1}"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let days = items(&r.body);
    assert_eq!(days.len(), 2, "{}", r.body);
    assert_eq!(days[0]["day"], json!(day1));
    let first = &days[0];
    assert_eq!(first["active_users"], 2, "{first}");
    assert_eq!(first["views"], 3, "{first}");
    assert_eq!(first["edits"], 2, "a folder and a document: {first}");
    assert!(first["sign_ins"].as_i64() >= Some(2), "{first}");
    assert_eq!(first["failed_sign_ins"], 1, "{first}");
    assert_eq!(days[1]["views"], 1);
    assert_eq!(days[1]["sign_ins"], 2);
    assert_eq!(days[1]["active_users"], 2);
    // The default span is the last 30 days, every day listed.
    let r = owner
        .get(&format!("/api/v1/companies/{cid}/audit/analytics"))
        .await;
    assert_eq!(items(&r.body).len(), 30);
    let bad = [
        ("since=2026-13-01", 400),
        ("since=2030-01-02&until=2030-01-01", 422),
        ("since=2000-01-01&until=2030-01-01", 422),
    ];
    for (q, status) in bad {
        let r = owner
            .get(&format!("/api/v1/companies/{cid}/audit/analytics?{q}"))
            .await;
        assert_eq!(r.status, status, "{q}: {}", r.body);
    }
    assert_eq!(
        member
            .get(&format!("/api/v1/companies/{cid}/audit/analytics"))
            .await
            .status,
        403
    );
}

fn unhex(s: &Value) -> merkle::Hash {
    let v = hex::decode(s.as_str().unwrap_or_default()).unwrap_or_default();
    v.try_into().unwrap_or([0; 32])
}

fn proof_of(v: &Value) -> Vec<merkle::Hash> {
    v.as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(unhex)
        .collect()
}

both!(proofs_verify_with_the_public_key_alone_and_falsified_ones_fail);
async fn proofs_verify_with_the_public_key_alone_and_falsified_ones_fail(t: TestApp) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (cid, owner) = t
        .company_with_owner("Todiste Oy", "todiste@example.test")
        .await;
    let (member, _) = t.member(&owner, &cid, "jasen@example.test", "member").await;
    let (_, other) = t
        .company_with_owner("Vieras Oy", "vieras@example.test")
        .await;
    let op = t.operator("valvoja@example.test").await;
    let key = t.client().get("/api/v1/audit/public-key").await.body;
    let name = key["name"].as_str().unwrap_or_default().to_string();
    let public = b64
        .decode(key["public_key"].as_str().unwrap_or_default())
        .unwrap_or_default();

    let _ = owner.get(&format!("/api/v1/companies/{cid}")).await;
    let r = owner.get("/api/v1/audit/checkpoints/latest").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let note1 = r.body["note"].as_str().unwrap_or_default().to_string();
    let (size1, root1) =
        turva_app::checkpoint::verify_note(&note1, &name, &public).unwrap_or_default();
    assert_eq!(Some(size1 as i64), r.body["size"].as_i64());
    assert_eq!(
        hex::encode(root1),
        r.body["root"].as_str().unwrap_or_default()
    );

    let view = owner
        .get(&format!(
            "/api/v1/companies/{cid}/audit?action=company.view"
        ))
        .await;
    let seq = items(&view.body)[0]["seq"].as_i64().unwrap_or(0);
    let r = owner
        .get(&format!("/api/v1/audit/events/{seq}/proof?size={size1}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["checkpoint"], json!(note1));
    assert_eq!(r.body["event"]["action"], "company.view");
    let leaf = b64
        .decode(r.body["leaf"].as_str().unwrap_or_default())
        .unwrap_or_default();
    let leaf_hash = merkle::leaf_hash(&leaf);
    assert_eq!(leaf_hash, unhex(&r.body["leaf_hash"]));
    let index = r.body["leaf_index"].as_u64().unwrap_or(u64::MAX);
    assert_eq!(index, seq as u64 - 1);
    let path = proof_of(&r.body["proof"]);
    assert!(!path.is_empty());
    assert!(merkle::verify_inclusion(
        index, size1, &leaf_hash, &path, &root1
    ));
    // Falsified proofs fail: a flipped bit, a hash left out, one too many,
    // two swapped, the wrong leaf, index, size or root.
    let mut flipped = path.clone();
    flipped[0][0] ^= 1;
    assert!(!merkle::verify_inclusion(
        index, size1, &leaf_hash, &flipped, &root1
    ));
    assert!(!merkle::verify_inclusion(
        index,
        size1,
        &leaf_hash,
        &path[1..],
        &root1
    ));
    let mut longer = path.clone();
    longer.push(root1);
    assert!(!merkle::verify_inclusion(
        index, size1, &leaf_hash, &longer, &root1
    ));
    if path.len() > 1 {
        let mut swapped = path.clone();
        swapped.swap(0, 1);
        assert!(!merkle::verify_inclusion(
            index, size1, &leaf_hash, &swapped, &root1
        ));
    }
    let mut other_leaf = leaf.clone();
    let last = other_leaf.len() - 1;
    other_leaf[last] ^= 1;
    assert!(!merkle::verify_inclusion(
        index,
        size1,
        &merkle::leaf_hash(&other_leaf),
        &path,
        &root1
    ));
    assert!(!merkle::verify_inclusion(
        index ^ 1,
        size1,
        &leaf_hash,
        &path,
        &root1
    ));
    assert!(!merkle::verify_inclusion(
        index,
        size1 + 1,
        &leaf_hash,
        &path,
        &root1
    ));
    let mut wrong_root = root1;
    wrong_root[31] ^= 0x80;
    assert!(!merkle::verify_inclusion(
        index,
        size1,
        &leaf_hash,
        &path,
        &wrong_root
    ));
    // A note whose signature or body was changed does not verify.
    let forged = note1.replacen(&format!("\n{size1}\n"), &format!("\n{}\n", size1 + 1), 1);
    assert!(turva_app::checkpoint::verify_note(&forged, &name, &public).is_none());

    // The log grows; the later checkpoint extends the earlier one.
    for _ in 0..5 {
        let _ = member.get(&format!("/api/v1/companies/{cid}")).await;
    }
    let r = op.get("/api/v1/audit/checkpoints/latest").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let note2 = r.body["note"].as_str().unwrap_or_default().to_string();
    let (size2, root2) =
        turva_app::checkpoint::verify_note(&note2, &name, &public).unwrap_or_default();
    assert!(size2 > size1);
    let r = owner
        .get(&format!(
            "/api/v1/audit/consistency?from={size1}&to={size2}"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["from_checkpoint"], json!(note1));
    assert_eq!(r.body["to_checkpoint"], json!(note2));
    let cons = proof_of(&r.body["proof"]);
    assert!(merkle::verify_consistency(
        size1, size2, &root1, &root2, &cons
    ));
    let mut bad = cons.clone();
    bad[0][5] ^= 4;
    assert!(!merkle::verify_consistency(
        size1, size2, &root1, &root2, &bad
    ));
    assert!(!merkle::verify_consistency(
        size1,
        size2,
        &root1,
        &root2,
        &cons[1..]
    ));
    assert!(!merkle::verify_consistency(
        size1, size2, &root2, &root1, &cons
    ));
    assert!(!merkle::verify_consistency(
        size1 + 1,
        size2,
        &root1,
        &root2,
        &cons
    ));
    // The same event proves into the later tree too.
    let r = owner
        .get(&format!("/api/v1/audit/events/{seq}/proof"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let n = r.body["tree_size"].as_u64().unwrap_or(0);
    assert!(n >= size2);
    let root = unhex(&r.body["root"]);
    assert!(merkle::verify_inclusion(
        index,
        n,
        &leaf_hash,
        &proof_of(&r.body["proof"]),
        &root
    ));
    let listed = owner
        .get(&format!("/api/v1/audit/checkpoints?since={}", size1 - 1))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let notes: Vec<Value> = items(&listed.body)
        .iter()
        .map(|c| c["note"].clone())
        .collect();
    assert!(notes.contains(&json!(note1)) && notes.contains(&json!(note2)));

    // Who may read: the company's admins; not a member, not another
    // company's owner, not an operator (a company's event).
    let path = format!("/api/v1/audit/events/{seq}/proof");
    assert_eq!(member.get(&path).await.status, 404);
    assert_eq!(other.get(&path).await.status, 404);
    assert_eq!(op.get(&path).await.status, 404);
    assert_eq!(
        member.get("/api/v1/audit/checkpoints/latest").await.status,
        403
    );
    assert_eq!(
        t.client()
            .get("/api/v1/audit/checkpoints/latest")
            .await
            .status,
        401
    );
    // An operator proves a platform event (their own sign-in).
    let ops = op
        .get("/api/v1/admin/audit?action=auth.login&limit=1")
        .await;
    let op_seq = items(&ops.body)[0]["seq"].as_i64().unwrap_or(0);
    assert_eq!(
        op.get(&format!("/api/v1/audit/events/{op_seq}/proof"))
            .await
            .status,
        200
    );
    // A member's sign-in is shown to (and provable for) the company's admins.
    let logins = owner
        .get(&format!(
            "/api/v1/companies/{cid}/audit?action=auth.login&actor=jasen%40example.test"
        ))
        .await;
    let login_seq = items(&logins.body)[0]["seq"].as_i64().unwrap_or(0);
    assert_eq!(
        owner
            .get(&format!("/api/v1/audit/events/{login_seq}/proof"))
            .await
            .status,
        200
    );
    assert_eq!(
        other
            .get(&format!("/api/v1/audit/events/{login_seq}/proof"))
            .await
            .status,
        404
    );

    // Bad input.
    for (q, status) in [
        (
            format!("/api/v1/audit/events/{seq}/proof?size={}", seq - 1),
            422,
        ),
        (
            format!("/api/v1/audit/events/{seq}/proof?size=999999999"),
            422,
        ),
        ("/api/v1/audit/events/abc/proof".to_string(), 400),
        ("/api/v1/audit/events/0/proof".to_string(), 400),
        ("/api/v1/audit/events/999999999/proof".to_string(), 404),
        ("/api/v1/audit/consistency?from=0&to=2".to_string(), 422),
        (
            format!("/api/v1/audit/consistency?from={size2}&to={size1}"),
            422,
        ),
        (
            "/api/v1/audit/consistency?from=1&to=999999999".to_string(),
            422,
        ),
        ("/api/v1/audit/consistency".to_string(), 400),
        ("/api/v1/audit/checkpoints?since=soon".to_string(), 400),
    ] {
        let r = owner.get(&q).await;
        assert_eq!(r.status, status, "{q}: {}", r.body);
    }
}

both!(retention_prunes_old_events_and_every_checkpoint_still_verifies);
async fn retention_prunes_old_events_and_every_checkpoint_still_verifies(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Arkisto Oy", "arkisto@example.test")
        .await;
    for _ in 0..5 {
        let _ = owner.get(&format!("/api/v1/companies/{cid}")).await;
    }
    let first = owner.get("/api/v1/audit/checkpoints/latest").await.body;
    let size1 = first["size"].as_i64().unwrap_or(0);
    assert!(size1 > 5);
    // Nothing is old enough yet.
    assert_eq!(
        turva_app::audit_retention::prune(&t.app).await.ok(),
        Some(0)
    );

    t.clock.advance_secs(401 * 86_400);
    owner.login("arkisto@example.test", PASSWORD).await;
    let _ = owner.get(&format!("/api/v1/companies/{cid}")).await;
    let before = t.count("audit_events").await;
    let pruned = turva_app::audit_retention::prune(&t.app).await;
    assert!(pruned.is_ok(), "{pruned:?}");
    let pruned = pruned.unwrap_or(0);
    assert!(
        pruned >= size1,
        "every event of 401 days ago is gone: {pruned} of {before}"
    );
    let left = t.audit_rows().await;
    assert_eq!(
        left.len() as i64,
        before - pruned + 1,
        "the rest, and the prune's own event"
    );
    assert_eq!(
        left.first().map(|e| e.seq),
        Some(pruned + 1),
        "a whole prefix went"
    );
    let prune_event = left.iter().find(|e| e.action == "audit.prune");
    assert!(prune_event.is_some_and(|e| e
        .reason
        .as_deref()
        .is_some_and(|r| r.contains(&format!("through seq {pruned} ")))));

    // Every checkpoint still verifies, and so do proofs across the gap.
    let v = turva_app::audit_verify::verify(&t.app).await;
    assert!(
        matches!(&v, Ok(v) if v.events == left.len() as u64),
        "{v:?}"
    );
    let latest = owner.get("/api/v1/audit/checkpoints/latest").await.body;
    let size2 = latest["size"].as_i64().unwrap_or(0);
    let r = owner
        .get(&format!(
            "/api/v1/audit/consistency?from={size1}&to={size2}"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(merkle::verify_consistency(
        size1 as u64,
        size2 as u64,
        &unhex(&first["root"]),
        &unhex(&latest["root"]),
        &proof_of(&r.body["proof"])
    ));
    let recent = owner
        .get(&format!(
            "/api/v1/companies/{cid}/audit?action=company.view&limit=1"
        ))
        .await;
    let seq = items(&recent.body)[0]["seq"].as_i64().unwrap_or(0);
    assert!(seq > pruned);
    assert_eq!(
        owner
            .get(&format!("/api/v1/audit/events/{seq}/proof"))
            .await
            .status,
        200
    );
    assert_eq!(
        owner.get("/api/v1/audit/events/2/proof").await.status,
        404,
        "a pruned event is gone"
    );

    // Cutting more off by hand is not a prune: verify says so.
    crate::audit::tamper(
        &t.app,
        &[
            &format!("DELETE FROM audit_events WHERE seq = {}", pruned + 1),
            &format!("UPDATE audit_head SET pruned_through = {}", pruned + 1),
        ],
    )
    .await;
    let v = turva_app::audit_verify::verify(&t.app).await;
    assert!(
        matches!(&v, Err(Ok(bad)) if bad.seq == pruned + 2 && bad.why.contains("no retention prune")),
        "{v:?}"
    );
}

both!(a_changed_hash_of_pruned_events_is_found);
async fn a_changed_hash_of_pruned_events_is_found(t: TestApp) {
    let (cid, owner) = t.company_with_owner("Hash Oy", "hash@example.test").await;
    for _ in 0..5 {
        let _ = owner.get(&format!("/api/v1/companies/{cid}")).await;
    }
    assert_eq!(
        owner.get("/api/v1/audit/checkpoints/latest").await.status,
        200
    );
    t.clock.advance_secs(401 * 86_400);
    owner.login("hash@example.test", PASSWORD).await;
    let _ = owner.get(&format!("/api/v1/companies/{cid}")).await;
    let pruned = turva_app::audit_retention::prune(&t.app).await.unwrap_or(0);
    assert!(pruned > 0);
    assert_eq!(
        owner.get("/api/v1/audit/checkpoints/latest").await.status,
        200
    );
    assert!(turva_app::audit_verify::verify(&t.app).await.is_ok());
    // The largest stored subtree of the pruned events gets another hash.
    crate::audit::tamper(
        &t.app,
        &[&format!(
            "UPDATE audit_nodes SET hash = (SELECT hash FROM audit_nodes WHERE level = 0 AND idx = 1)
             WHERE idx = 0 AND level = (SELECT MAX(level) FROM audit_nodes WHERE (idx + 1) * (1 << level) <= {pruned})"
        )],
    )
    .await;
    let v = turva_app::audit_verify::verify(&t.app).await;
    assert!(matches!(&v, Err(Ok(_))), "{v:?}");
}

/// The alert emails in the outbox so far, as (recipient, text).
fn alerts_sent(t: &TestApp) -> Vec<(String, String)> {
    t.outbox()
        .into_iter()
        .filter(|m| m.subject.contains("security alert"))
        .map(|m| (m.to, m.text))
        .collect()
}

both!(
    owners_and_admins_are_alerted_and_each_alert_is_an_event,
    |c| {
        c.audit.alert_failed_signins = 3;
        c.audit.alert_failed_signins_minutes = 15;
        c.audit.alert_downloads = 3;
        c.audit.alert_downloads_minutes = 10;
    }
);
async fn owners_and_admins_are_alerted_and_each_alert_is_an_event(t: TestApp) {
    use crate::content::{doc, folder, staff, upload};
    let s = staff(&t, "halytys").await;
    let owner_mail = "halytys.owner@example.test";
    let admin_mail = "halytys.admin@example.test";
    // Making the staff: the admin's acceptance alerted the owner (and only
    // the owner: the new admin is not told about themselves).
    let sent = alerts_sent(&t);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0].0, owner_mail);
    assert!(
        sent[0].1.contains(admin_mail) && sent[0].1.contains("an admin"),
        "{}",
        sent[0].1
    );

    // A member made admin: the owner and the other admin hear of it.
    let r = s
        .owner
        .patch(
            &format!("/api/v1/companies/{}/members/{}", s.cid, s.member_id),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut to: Vec<String> = alerts_sent(&t)[1..]
        .iter()
        .map(|(to, _)| to.clone())
        .collect();
    to.sort();
    assert_eq!(to, [admin_mail, owner_mail]);

    // Failed sign-ins to one account: one alert at the threshold, however
    // many more follow.
    for _ in 0..5 {
        let r = t
            .client()
            .post(
                "/api/v1/auth/login",
                json!({"email": "halytys.reader@example.test", "password": "guessing guessing"}),
            )
            .await;
        assert_eq!(r.status, 401);
    }
    let failed: Vec<(String, String)> = alerts_sent(&t)
        .into_iter()
        .filter(|(_, text)| text.contains("failed sign-ins"))
        .collect();
    assert_eq!(
        failed.len(),
        3,
        "owner, admin, and the member made admin: {failed:#?}"
    );
    assert!(
        failed
            .iter()
            .all(|(_, text)| text.contains("halytys.reader@example.test")
                && text.contains("3 failed"))
    );

    // Downloads: the third within ten minutes alerts, the fourth does not.
    let fid = folder(&s.member, &s.cid, json!({"name": "Kuvat"})).await;
    let did = doc(&s.member, &fid, "Liitteet").await;
    let up = upload(&s.member, &did, "a.txt", "text/plain", b"hello").await;
    assert_eq!(up.status, 201, "{}", up.body);
    let file = up.body["id"].as_str().unwrap_or_default().to_string();
    for _ in 0..4 {
        assert_eq!(
            s.reader.get(&format!("/api/v1/files/{file}")).await.status,
            200
        );
    }
    let downloads: Vec<(String, String)> = alerts_sent(&t)
        .into_iter()
        .filter(|(_, text)| text.contains("downloaded"))
        .collect();
    assert_eq!(downloads.len(), 3, "{downloads:#?}");
    assert!(downloads
        .iter()
        .all(|(_, text)| text.contains("halytys.reader@example.test downloaded 3 files")));

    // require_mfa turned off (it was on; the way to turn it on comes with
    // second factors).
    crate::audit::tamper(
        &t.app,
        &[&format!(
            "UPDATE companies SET settings = '{{\"require_mfa\":true,\"default_member_access\":\"edit\",\"strip_photo_location\":true}}' WHERE id = '{}'",
            s.cid
        )],
    )
    .await;
    let r = s
        .admin
        .patch(
            &format!("/api/v1/companies/{}", s.cid),
            json!({"settings": {"require_mfa": false}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let off: Vec<(String, String)> = alerts_sent(&t)
        .into_iter()
        .filter(|(_, text)| text.contains("second factor"))
        .collect();
    assert_eq!(off.len(), 3, "{off:#?}");
    assert!(off.iter().all(|(_, text)| text.contains(admin_mail)));
    // Turning it off again is no news.
    let r = s
        .admin
        .patch(
            &format!("/api/v1/companies/{}", s.cid),
            json!({"settings": {"require_mfa": false}}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        alerts_sent(&t)
            .iter()
            .filter(|(_, text)| text.contains("second factor"))
            .count(),
        3
    );

    // Each alert is an event in the company's log.
    let events = all_pages(
        &s.owner,
        &format!("/api/v1/companies/{}/audit?action=alert.*&limit=200", s.cid),
    )
    .await;
    let mut actions: Vec<&str> = strs(&events, "action");
    actions.sort_unstable();
    assert_eq!(
        actions,
        [
            "alert.downloads",
            "alert.failed_signins",
            "alert.privileged_member",
            "alert.privileged_member",
            "alert.privileged_member",
            "alert.require_mfa_off"
        ],
        "the first owner's acceptance is an alert too, with nobody else to tell"
    );
    assert!(events.iter().all(|e| e["credential"] == "system"));
}

both!(
    the_newest_checkpoint_is_mailed_to_owners_and_admins_once_a_day,
    |c| {
        c.audit.email_checkpoints = true;
    }
);
async fn the_newest_checkpoint_is_mailed_to_owners_and_admins_once_a_day(t: TestApp) {
    use base64::Engine;
    let s = crate::content::staff(&t, "paiva").await;
    let _ = s.owner.get("/api/v1/audit/checkpoints/latest").await;
    let key = t.client().get("/api/v1/audit/public-key").await.body;
    let public = base64::engine::general_purpose::STANDARD
        .decode(key["public_key"].as_str().unwrap_or_default())
        .unwrap_or_default();
    let name = key["name"].as_str().unwrap_or_default().to_string();
    let daily = |t: &TestApp| -> Vec<(String, String)> {
        t.outbox()
            .into_iter()
            .filter(|m| m.subject == "Turva audit checkpoint")
            .map(|m| (m.to, m.text))
            .collect()
    };
    // The mover task may have sent it already; either way, once.
    let _ = turva_app::checkpoint::mail_daily(&t.app).await;
    assert_eq!(
        turva_app::checkpoint::mail_daily(&t.app).await.ok(),
        Some(0),
        "once a day"
    );
    for _ in 0..100 {
        if daily(&t).len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let sent = daily(&t);
    let mut to: Vec<&str> = sent.iter().map(|(to, _)| to.as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, ["paiva.admin@example.test", "paiva.owner@example.test"]);
    for (_, text) in &sent {
        let note_start = text.find(&name).unwrap_or(0);
        let note = text[note_start..].replace("\r\n", "\n");
        let note = note.trim_end_matches('\n').to_string() + "\n";
        assert!(
            turva_app::checkpoint::verify_note(&note, &name, &public).is_some(),
            "the mailed note verifies: {note:?}"
        );
    }
    t.clock.advance_secs(86_400);
    let _ = turva_app::checkpoint::mail_daily(&t.app).await;
    for _ in 0..100 {
        if daily(&t).len() >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(daily(&t).len(), 4, "the next day's");
}
