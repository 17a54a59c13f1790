//! Deleting a company: only an owner (or an operator) with recent auth
//! asks for it; the company is hidden at once, an owner may cancel for 7
//! days, and then its data, its files' bytes and its key are destroyed
//! while every other company stays whole and the audit log still verifies.

use serde_json::json;
use turva_testkit::{TestApp, PASSWORD};

use crate::attachments::blob_files;
use crate::both;
use crate::content::{doc, folder, search, staff, upload, Staff};

/// Two companies, each with a member's document holding one attachment:
/// one to delete (`s`), one to keep.
struct Two {
    s: Staff,
    fid: String,
    did: String,
    keep: Staff,
    kdid: String,
    kept_file: String,
}

async fn two_companies(t: &TestApp, gone: &str, kept: &str) -> Two {
    let s = staff(t, gone).await;
    let keep = staff(t, kept).await;
    let fid = folder(&s.member, &s.cid, json!({ "name": "Työmaa" })).await;
    let did = doc(&s.member, &fid, "Päiväkirja").await;
    let r = upload(&s.member, &did, "a.txt", "text/plain", b"doomed bytes").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let kfid = folder(&keep.member, &keep.cid, json!({ "name": "Työmaa" })).await;
    let kdid = doc(&keep.member, &kfid, "Päiväkirja").await;
    let r = upload(&keep.member, &kdid, "b.txt", "text/plain", b"kept bytes").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let kept_file = r.body["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(blob_files(t).len(), 2);
    Two {
        s,
        fid,
        did,
        keep,
        kdid,
        kept_file,
    }
}

both!(a_company_is_destroyed_seven_days_after_its_deletion_unless_cancelled);
async fn a_company_is_destroyed_seven_days_after_its_deletion_unless_cancelled(t: TestApp) {
    let Two {
        s,
        fid,
        did,
        keep,
        kdid,
        kept_file,
    } = two_companies(&t, "poisto", "pysyy").await;
    let company = format!("/api/v1/companies/{}", s.cid);

    // Admins and members may not; an owner needs a recent password.
    let r = s.admin.delete(&company).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"), "{}", r.body);
    let r = s.member.delete(&company).await;
    assert_eq!(r.status, 403, "{}", r.body);
    t.clock.advance_secs(20 * 60);
    let r = s.owner.delete(&company).await;
    assert_eq!((r.status, r.code()), (403, "reauthentication_required"));
    let r = s
        .owner
        .post("/api/v1/auth/reauth", json!({ "password": PASSWORD }))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // Someone invited before the deletion…
    let r = s
        .owner
        .post(
            &format!("{company}/members"),
            json!({"email": "late@example.test", "role": "member"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let invite = t.token_for("late@example.test", "accept-invite").unwrap();
    let accept = json!({"token": invite, "password": PASSWORD, "name": "Late Comer"});
    let r = s.owner.delete(&company).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(r.body["destroy_at"].as_str().is_some(), "{}", r.body);
    // …cannot join while it is scheduled.
    let late = t.client();
    let r = late
        .post("/api/v1/auth/accept-invite", accept.clone())
        .await;
    assert_eq!(r.status, 422, "{}", r.body);

    // Hidden at once, from everyone; a second delete finds nothing.
    assert_eq!(s.owner.get(&company).await.status, 404);
    assert_eq!(s.owner.delete(&company).await.status, 404);
    let doc_path = format!("/api/v1/documents/{did}");
    assert_eq!(s.member.get(&doc_path).await.status, 404);
    assert_eq!(
        s.member.get(&format!("/api/v1/folders/{fid}")).await.status,
        404
    );
    let mine = s.member.get("/api/v1/companies").await;
    assert_eq!(
        mine.body["items"].as_array().unwrap().len(),
        0,
        "{}",
        mine.body
    );
    let hits = search(&s.member, "Päiväkirja").await;
    assert_eq!(
        hits.body["items"].as_array().unwrap().len(),
        0,
        "{}",
        hits.body
    );

    // Only an owner cancels; then all is as it was.
    let cancel = format!("{company}/cancel-deletion");
    assert_eq!(s.admin.post(&cancel, json!({})).await.status, 403);
    assert_eq!(keep.owner.post(&cancel, json!({})).await.status, 404);
    let r = s.owner.post(&cancel, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(s.member.get(&doc_path).await.status, 200);
    assert_eq!(s.owner.post(&cancel, json!({})).await.status, 404);
    // The invitation works again.
    let r = late.post("/api/v1/auth/accept-invite", accept).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Asked for again; nothing goes within the 7 days.
    let r = s.owner.delete(&company).await;
    assert_eq!(r.status, 202, "{}", r.body);
    t.clock.advance_secs(6 * 24 * 3600);
    assert_eq!(turva_app::companies::destroy_due(&t.app).await.unwrap(), 0);
    assert_eq!(t.count("documents").await, 2);
    // After them: its rows, its files' bytes and its key are gone.
    t.clock.advance_secs(2 * 24 * 3600);
    assert_eq!(turva_app::companies::destroy_due(&t.app).await.unwrap(), 1);
    // (The week outlived the owner's session: they sign in again.)
    let owner = t.client();
    owner.login("poisto.owner@example.test", PASSWORD).await;
    assert_eq!(owner.post(&cancel, json!({})).await.status, 404);
    assert_eq!(t.count("documents").await, 1);
    assert_eq!(t.count("companies").await, 1);
    assert_eq!(blob_files(&t).len(), 1);
    let destroyed = format!(
        "data_keys WHERE kind = 'company' AND owner_id = '{}' AND wrapped IS NULL",
        s.cid
    );
    assert_eq!(t.count(&destroyed).await, 1, "its key is destroyed");
    assert_eq!(turva_app::companies::destroy_due(&t.app).await.unwrap(), 0);

    // The other company is whole.
    let keep_member = t.client();
    keep_member
        .login("pysyy.member@example.test", PASSWORD)
        .await;
    let keep = crate::content::Staff {
        member: keep_member,
        ..keep
    };
    let r = keep.member.get(&format!("/api/v1/documents/{kdid}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = keep
        .member
        .send(
            keep.member
                .raw()
                .get(keep.member.url(&format!("/api/v1/files/{kept_file}"))),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text, "kept bytes");

    // Each step is an event, the destruction one an operator reads; the
    // log still verifies.
    let actions: Vec<String> = t
        .audit_rows_where("action LIKE 'company.de%'")
        .await
        .into_iter()
        .filter(|r| r.outcome == "allowed")
        .map(|r| r.action)
        .collect();
    assert_eq!(
        actions,
        [
            "company.delete",
            "company.delete_cancel",
            "company.delete",
            "company.destroy"
        ]
    );
    let op = t.operator("ops@example.test").await;
    let r = op.get("/api/v1/admin/audit?action=company.destroy").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.body);
    let v = turva_app::audit_verify::verify(&t.app).await;
    assert!(v.is_ok(), "{v:?}");
}

both!(an_operator_deletes_a_company_without_seeing_it);
async fn an_operator_deletes_a_company_without_seeing_it(t: TestApp) {
    let s = staff(&t, "operaattori").await;
    let op = t.operator("ops@example.test").await;
    let company = format!("/api/v1/companies/{}", s.cid);
    assert_eq!(
        op.get(&company).await.status,
        404,
        "operators see no company"
    );
    let r = op.delete(&company).await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(s.owner.get(&company).await.status, 404);
    // An operator cannot cancel; the company's owner can.
    let cancel = format!("{company}/cancel-deletion");
    assert_eq!(op.post(&cancel, json!({})).await.status, 404);
    assert_eq!(s.owner.post(&cancel, json!({})).await.status, 200);
    let r = op
        .delete("/api/v1/companies/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(r.status, 404);
}

both!(the_command_line_deletes_a_company_at_once_after_asking);
async fn the_command_line_deletes_a_company_at_once_after_asking(t: TestApp) {
    use crate::cli::turva;
    let Two {
        s, did, keep, kdid, ..
    } = two_companies(&t, "heti", "jaa").await;
    let (third, _) = t
        .company_with_owner("Kolmas Oy", "kolmas@example.test")
        .await;
    assert_eq!(blob_files(&t).len(), 2);

    // Not confirmed, or no such company: one line, nothing changes.
    let delete = ["company", "delete", "--id", s.cid.as_str()];
    for (args, input, needle) in [
        (&delete[..], "", "not confirmed"),
        (&delete[..], "n\n", "not confirmed"),
        (&delete[..], "maybe\n", "not confirmed"),
        (
            &["company", "delete", "--id", "nope", "--yes"][..],
            "",
            "no company has the id nope",
        ),
        (&["company", "delete", "--yes"][..], "", "required"),
    ] {
        let err = turva(&t, args, input).await.err().unwrap_or_default();
        assert!(err.contains(needle), "{args:?}: {err:?}");
        assert_eq!(err.lines().count(), 1, "{err:?}");
    }
    assert_eq!(t.count("companies").await, 3);
    assert_eq!(t.count("documents").await, 2);
    assert_eq!(blob_files(&t).len(), 2);

    // Confirmed: gone at once, no grace period, while the server runs.
    let out = turva(&t, &delete, "y\n")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let named = format!("deleted company \"heti Oy\" ({})", s.cid);
    assert!(out.starts_with(&named), "{out}");
    assert!(out.contains("1 file and its key destroyed"), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert_eq!(t.count("companies").await, 2);
    assert_eq!(t.count("documents").await, 1);
    assert_eq!(blob_files(&t).len(), 1);
    let destroyed = format!(
        "data_keys WHERE kind = 'company' AND owner_id = '{}' AND wrapped IS NULL",
        s.cid
    );
    assert_eq!(t.count(&destroyed).await, 1, "its key is destroyed");
    let r = s.member.get(&format!("/api/v1/documents/{did}")).await;
    assert_eq!(r.status, 404, "{}", r.body);
    // Again: there is no such company any more.
    let err = turva(&t, &delete, "y\n").await.err().unwrap_or_default();
    assert!(err.contains("no company has the id"), "{err}");

    // `--yes` asks nothing.
    let out = turva(&t, &["company", "delete", "--id", &third, "--yes"], "")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.contains("Kolmas Oy") && out.contains("0 files"),
        "{out}"
    );
    assert_eq!(t.count("companies").await, 1);

    // The other company is whole; each destruction is one event, and the
    // log still verifies.
    let r = keep.member.get(&format!("/api/v1/documents/{kdid}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let destroyed: Vec<_> = t.audit_rows_where("action = 'company.destroy'").await;
    assert_eq!(destroyed.len(), 2);
    assert!(destroyed.iter().all(|r| r.outcome == "allowed"
        && r.reason.as_deref() == Some("deleted at once from the command line")));
    let out = turva(&t, &["audit", "verify"], "").await;
    assert!(out.is_ok(), "{out:?}");
}
