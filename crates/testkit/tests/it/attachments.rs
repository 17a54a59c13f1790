//! Attachments at their limits: size and quota refusals, malformed uploads
//! and location data in photos. Each refusal leaves nothing behind.

use serde_json::json;
use turva_testkit::{TestApp, PASSWORD};

use crate::both;
use crate::content::{doc, folder, staff, text, upload};

/// Every file under `dir`, at any depth.
pub(crate) fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out
}

/// Every file under the blob directory.
pub(crate) fn blob_files(t: &TestApp) -> Vec<std::path::PathBuf> {
    files_under(&t.data_dir().join("files"))
}

async fn limits_and_malformed_uploads_leave_nothing(t: TestApp) {
    let s = staff(&t, "limits").await;
    let fid = folder(&s.member, &s.cid, json!({ "name": "Site" })).await;
    let did = doc(&s.member, &fid, "Diary").await;
    let path = format!("/api/v1/documents/{did}");
    let v0 = s.member.get(&path).await.body["version"].as_i64();

    // Over the per-file limit: 413, nothing stored, no new version.
    let r = upload(
        &s.member,
        &did,
        "big.bin",
        "application/octet-stream",
        &[7u8; 1001],
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (413, "payload_too_large"),
        "{}",
        r.body
    );
    assert_eq!(t.count("files").await, 0);
    assert!(blob_files(&t).is_empty(), "{:?}", blob_files(&t));
    assert_eq!(s.member.get(&path).await.body["version"].as_i64(), v0);

    // At the limit: stored. The quota (2,500 bytes) takes two such files.
    for i in 0..2 {
        let r = upload(&s.member, &did, &format!("f{i}.bin"), "x/y", &[i; 1000]).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = upload(&s.member, &did, "third.bin", "x/y", &[9u8; 1000]).await;
    assert_eq!(
        (r.status, r.code()),
        (413, "payload_too_large"),
        "{}",
        r.body
    );
    assert_eq!(t.count("files").await, 2);
    assert_eq!(blob_files(&t).len(), 2);

    // Not multipart: 415; multipart without a `file` part or broken: 400.
    let path = format!("/api/v1/documents/{did}/files");
    let r = s
        .member
        .post_raw(&path, "application/json", b"{}".to_vec())
        .await;
    assert_eq!((r.status, r.code()), (415, "unsupported_media_type"));
    let other =
        b"--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--\r\n".to_vec();
    let r = s
        .member
        .post_raw(&path, "multipart/form-data; boundary=b", other)
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_input"), "{}", r.body);
    let broken =
        b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nno end"
            .to_vec();
    let r = s
        .member
        .post_raw(&path, "multipart/form-data; boundary=b", broken)
        .await;
    assert_eq!((r.status, r.code()), (400, "invalid_input"), "{}", r.body);
    assert_eq!(t.count("files").await, 2);
    assert_eq!(blob_files(&t).len(), 2);
}
both!(limits_and_malformed_uploads_leave_nothing, |c| {
    c.storage.max_file_bytes = 1000;
    c.storage.company_quota_bytes = 2500;
});

/// A JPEG with an APP1 Exif segment holding `marker` (as GPS data would be).
fn jpeg_with_exif(marker: &[u8]) -> Vec<u8> {
    let mut exif = b"Exif\0\0MM\0*\0\0\0\x08".to_vec();
    exif.extend_from_slice(marker);
    let mut out = vec![0xFF, 0xD8];
    out.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x10]);
    out.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&u16::try_from(exif.len() + 2).unwrap().to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 1, 1, 0, 0, 0x3F, 0]);
    out.extend_from_slice(&[0x12, 0x34, 0x56]);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

async fn photo_location_is_stripped_unless_turned_off(t: TestApp) {
    let s = staff(&t, "gps").await;
    let fid = folder(&s.member, &s.cid, json!({ "name": "Photos" })).await;
    let did = doc(&s.member, &fid, "Roof").await;
    let marker = b"GPS-60.1699N-24.9384E";
    let photo = jpeg_with_exif(marker);

    let r = upload(&s.member, &did, "roof.jpg", "text/html", &photo).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        text(&r.body["content_type"]),
        "image/jpeg",
        "sniffed, not trusted"
    );
    let id = text(&r.body["id"]);
    let (status, _, bytes) = crate::content::download(&s.reader, &id).await;
    assert_eq!(status, 200);
    assert!(bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9]));
    assert!(
        !bytes.windows(marker.len()).any(|w| w == marker),
        "location data kept"
    );

    // Images are shown inline only in a sandbox; other files never.
    let res = s
        .reader
        .raw()
        .get(s.reader.url(&format!("/api/v1/files/{id}/inline")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let h = |n: &str| {
        res.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        h("content-security-policy").starts_with("sandbox"),
        "{}",
        h("content-security-policy")
    );
    assert!(h("content-disposition").starts_with("inline"));
    assert_eq!(h("content-type"), "image/jpeg");
    assert_eq!(h("x-content-type-options"), "nosniff");
    let r = upload(
        &s.member,
        &did,
        "page.html",
        "image/png",
        b"<html><script>alert(1)</script>",
    )
    .await;
    let html = text(&r.body["id"]);
    let r = s.reader.get(&format!("/api/v1/files/{html}/inline")).await;
    assert_eq!(r.status, 422, "{}", r.body);

    // A company that keeps location data turns stripping off.
    let r = s
        .owner
        .patch(
            &format!("/api/v1/companies/{}", s.cid),
            json!({ "settings": { "strip_photo_location": false } }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = upload(&s.member, &did, "roof2.jpg", "image/jpeg", &photo).await;
    let (_, _, bytes) = crate::content::download(&s.member, &text(&r.body["id"])).await;
    assert_eq!(bytes, photo);
}
both!(photo_location_is_stripped_unless_turned_off);

async fn the_trash_is_emptied_after_30_days(t: TestApp) {
    let s = staff(&t, "purge").await;
    let fid = folder(&s.member, &s.cid, json!({ "name": "Old site" })).await;
    let kept = folder(&s.member, &s.cid, json!({ "name": "Kept" })).await;
    let did = doc(&s.member, &fid, "Old diary").await;
    let r = upload(&s.member, &did, "a.txt", "text/plain", b"old bytes").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let kept_doc = doc(&s.member, &kept, "Kept diary").await;
    let r = upload(
        &s.member,
        &kept_doc,
        "b.txt",
        "text/plain",
        b"detached bytes",
    )
    .await;
    let detached = text(&r.body["id"]);
    let r = upload(&s.member, &kept_doc, "c.txt", "text/plain", b"kept bytes").await;
    assert_eq!(r.status, 201);
    assert_eq!(
        s.member
            .delete(&format!("/api/v1/files/{detached}"))
            .await
            .status,
        204
    );
    assert_eq!(
        s.member
            .delete(&format!("/api/v1/folders/{fid}"))
            .await
            .status,
        204
    );
    assert_eq!(blob_files(&t).len(), 3);

    // Within 30 days nothing goes; after them, the folder, its document,
    // its file's bytes and the detached file do; the rest stays.
    t.clock.advance_secs(29 * 24 * 3600);
    assert_eq!(turva_app::trash::purge(&t.app).await.unwrap(), 0);
    // (Sessions ended long ago: sign in again.)
    for (c, who) in [(&s.owner, "owner"), (&s.member, "member")] {
        let r = c
            .login(&format!("purge.{who}@example.test"), PASSWORD)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = s
        .owner
        .post(&format!("/api/v1/trash/{fid}/restore"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        s.member
            .delete(&format!("/api/v1/folders/{fid}"))
            .await
            .status,
        204
    );
    t.clock.advance_secs(31 * 24 * 3600);
    assert_eq!(turva_app::trash::purge(&t.app).await.unwrap(), 2);
    for (c, who) in [(&s.owner, "owner"), (&s.member, "member")] {
        let r = c
            .login(&format!("purge.{who}@example.test"), PASSWORD)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(blob_files(&t).len(), 1);
    assert_eq!(t.count("documents").await, 1);
    let r = s
        .owner
        .post(&format!("/api/v1/trash/{fid}/restore"), json!({}))
        .await;
    assert_eq!(r.status, 404);
    let r = s.member.get(&format!("/api/v1/documents/{kept_doc}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["files"].as_array().map(Vec::len), Some(1));
    let hits = s.owner.get("/api/v1/search?q=old").await;
    assert_eq!(
        hits.body["items"].as_array().map(Vec::len),
        Some(0),
        "{}",
        hits.body
    );
}
both!(the_trash_is_emptied_after_30_days);
