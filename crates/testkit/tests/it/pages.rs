//! The HTML pages over HTTPS, as a browser without JavaScript uses them:
//! sign-in (password, then code), the folder pages, sign-out, the designed
//! error pages, and what protects them (escaping, CSP, CSRF, origin).

use crate::both;
use serde_json::json;
use turva_testkit::{Answer, Client, TestApp, PASSWORD};

async fn page(c: &Client, path: &str) -> Answer {
    c.send(c.raw().get(c.url(path))).await
}

async fn form(c: &Client, path: &str, fields: &[(&str, &str)]) -> Answer {
    c.send(c.raw().post(c.url(path)).form(fields)).await
}

/// A value the page must hold for a hidden form field.
fn hidden(html: &str, name: &str) -> String {
    let at = format!("name=\"{name}\" value=\"");
    html.split(&at)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string()
}

both!(a_browser_signs_in_sees_its_folders_and_signs_out);
async fn a_browser_signs_in_sees_its_folders_and_signs_out(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Rakennus & Co", "pages.owner@example.test")
        .await;
    let payload = "<img src=x onerror=alert(1)>";
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({ "name": payload }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let fid = r.body["id"].as_str().unwrap().to_string();
    let r = owner
        .post(
            &format!("/api/v1/folders/{fid}/documents"),
            json!({ "title": "Pöytäkirja \"1\"" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    // Not signed in: the sign-in page, which remembers where to go.
    let browser = t.client();
    let r = page(&browser, &format!("/folders/{fid}")).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type").unwrap().starts_with("text/html"),
        "{:?}",
        r.headers
    );
    assert!(r.text.contains("action=\"/sign-in\""), "{}", r.text);
    assert_eq!(hidden(&r.text, "next"), format!("/folders/{fid}"));
    let csp = r.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert_eq!(
        r.text.matches("<script").count(),
        r.text.matches("<script src=\"/static/turva.js?v=").count(),
        "no script but the one file from this origin: {}",
        r.text
    );
    let handlers = r.text.split(" on").skip(1).filter(|rest| {
        let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    });
    assert_eq!(handlers.count(), 0, "no event handler attributes");
    assert!(!r.text.contains("style=\""), "no inline style");

    // A wrong password: the message on the page, the address kept.
    let next = format!("/folders/{fid}");
    let r = form(
        &browser,
        "/sign-in",
        &[
            ("email", "pages.owner@example.test"),
            ("password", "wrong password here"),
            ("next", &next),
        ],
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.text.contains("role=\"alert\""), "{}", r.text);
    assert!(r.text.contains("value=\"pages.owner@example.test\""));

    // A sign-in form posted from another site is refused.
    let r = browser
        .send(
            browser
                .raw()
                .post(browser.url("/sign-in"))
                .header("origin", "https://evil.example")
                .form(&[
                    ("email", "pages.owner@example.test"),
                    ("password", PASSWORD),
                ]),
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.header("set-cookie").is_none());

    // The right one: on to the folder, every value escaped.
    let r = form(
        &browser,
        "/sign-in",
        &[
            ("email", "pages.owner@example.test"),
            ("password", PASSWORD),
            ("next", &next),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("&#60;img src=x onerror=alert(1)&#62;"),
        "{}",
        r.text
    );
    assert!(!r.text.contains(payload));
    assert!(r.text.contains("Pöytäkirja &#34;1&#34;"), "{}", r.text);
    assert!(r.text.contains("Rakennus &#38; Co"));
    let views = t
        .audit_rows_where(&format!("action = 'folder.view' AND object_id = '{fid}'"))
        .await;
    assert!(!views.is_empty(), "a page view is audited like the API's");

    // The front page goes to the one company; its folders are listed.
    let r = page(&browser, "/").await;
    assert_eq!(r.status, 200);
    assert!(
        r.text.contains(&format!("href=\"/folders/{fid}\"")),
        "{}",
        r.text
    );

    // Language: the browser's, until the profile says otherwise.
    let r = browser
        .send(
            browser
                .raw()
                .get(browser.url("/sign-in"))
                .header("accept-language", "fi-FI, en;q=0.5"),
        )
        .await;
    assert!(r.text.contains("lang=\"fi\""), "{}", r.text);
    assert!(r.text.contains("Kirjaudu sisään"));

    // Designed error pages, in HTML; the API keeps its problem documents.
    let r = page(&browser, "/folders/00000000-0000-4000-8000-000000000000").await;
    assert_eq!(r.status, 404);
    assert!(r.text.contains("<h1>Not found</h1>"), "{}", r.text);
    let r = page(&browser, "/no/such/page").await;
    assert_eq!(r.status, 404);
    assert!(r.text.contains("<h1>Not found</h1>"));
    let r = page(&browser, "/api/v1/no-such-route").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));

    // Sign-out needs the page's CSRF token.
    let r = form(&browser, "/sign-out", &[("csrf", "forged")]).await;
    assert_eq!(r.status, 403);
    let r = page(&browser, &format!("/folders/{fid}")).await;
    assert!(r.text.contains("<h1>"), "still signed in");
    let csrf = hidden(&r.text, "csrf");
    assert!(!csrf.is_empty(), "{}", r.text);
    let r = form(&browser, "/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("action=\"/sign-in\""));
    let r = page(&browser, &format!("/folders/{fid}")).await;
    assert!(r.text.contains("action=\"/sign-in\""), "signed out");
}

both!(a_second_factor_is_asked_for_on_its_own_page);
async fn a_second_factor_is_asked_for_on_its_own_page(t: TestApp) {
    let (_, owner) = t
        .company_with_owner("Kaksi", "pages.mfa@example.test")
        .await;
    let r = owner.enrol_totp(&t).await;
    assert!(r.status < 300, "{}", r.body);
    let secret = owner.totp_secret();

    let browser = t.client();
    let r = form(
        &browser,
        "/sign-in",
        &[("email", "pages.mfa@example.test"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("action=\"/sign-in/code\""), "{}", r.text);
    let token = hidden(&r.text, "mfa_token");
    assert!(!token.is_empty());
    assert!(
        r.header("set-cookie").is_none(),
        "no session before the code"
    );

    let r = form(
        &browser,
        "/sign-in/code",
        &[("mfa_token", &token), ("code", "000000")],
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.text.contains("role=\"alert\""));
    assert_eq!(hidden(&r.text, "mfa_token"), token, "the step goes on");

    t.clock.advance_secs(30);
    let code = t.totp_now(&secret);
    let r = form(
        &browser,
        "/sign-in/code",
        &[("mfa_token", &token), ("code", &code)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Kaksi"), "{}", r.text);
    assert!(r.text.contains("action=\"/sign-out\""));
}

both!(a_document_page_shows_its_values_under_their_labels);
async fn a_document_page_shows_its_values_under_their_labels(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Dokumentti Oy", "pages.doc@example.test")
        .await;
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/templates"),
            json!({
                "name": "Tarkastus",
                "fields": [
                    {"key": "kohde", "type": "text", "label": "Kohde", "required": true},
                    {"key": "ala", "type": "number", "label": "Pinta-ala", "unit": "m²"},
                    {"key": "ok", "type": "checkbox", "label": "Hyväksytty"},
                    {"key": "kuvat", "type": "file", "label": "Kuvat"},
                    {"key": "huom", "type": "long_text", "label": "Huomiot"}
                ]
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let tid = r.body["id"].as_str().unwrap().to_string();
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({ "name": "Kohteet" }),
        )
        .await;
    let fid = r.body["id"].as_str().unwrap().to_string();
    let r = owner
        .post(
            &format!("/api/v1/folders/{fid}/documents"),
            json!({
                "title": "Tarkastus 1",
                "template_id": tid,
                "fields": {"kohde": "<b>Talo</b>", "ala": 120.5, "ok": true}
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let did = r.body["id"].as_str().unwrap().to_string();
    let up = crate::content::upload(&owner, &did, "kuva<1>.png", "image/png", b"not a png").await;
    assert_eq!(up.status, 201, "{}", up.body);
    let file = up.body["id"].as_str().unwrap().to_string();

    let r = page(&owner, &format!("/documents/{did}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    for want in [
        "<dt>Kohde",
        "&#60;b&#62;Talo&#60;/b&#62;",
        "120.5\u{a0}m²",
        "<dt>Hyväksytty</dt>",
        "Yes",
        &format!("href=\"/api/v1/files/{file}\""),
        "kuva&#60;1&#62;.png",
        "Draft",
    ] {
        assert!(r.text.contains(want), "{want} missing: {}", r.text);
    }
    assert!(!r.text.contains("<b>Talo"));
    let views = t
        .audit_rows_where(&format!("action = 'document.view' AND object_id = '{did}'"))
        .await;
    assert_eq!(views.len(), 1, "one view, as through the API");

    // Someone of another company gets the designed 404, not the document.
    let (_, stranger) = t
        .company_with_owner("Muu Oy", "pages.stranger@example.test")
        .await;
    let r = page(&stranger, &format!("/documents/{did}")).await;
    assert_eq!(r.status, 404);
    assert!(!r.text.contains("Talo"));
}

both!(the_pages_that_emails_link_to_accept_an_invitation_and_reset_a_password);
async fn the_pages_that_emails_link_to_accept_an_invitation_and_reset_a_password(t: TestApp) {
    let email = "pages.invited@example.test";
    let company = turva_app::companies::create(
        &t.app,
        &turva_app::Ctx::cli(),
        turva_app::companies::Creator::Cli,
        "Kutsu & Oy",
        email,
    )
    .await
    .unwrap();
    let token = t.token_arriving(email, "accept-invite").await.unwrap();
    let browser = t.client();

    // The link shows what the invitation is for, and asks for a name.
    let r = page(&browser, &format!("/accept-invite?token={token}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Kutsu &#38; Oy"), "{}", r.text);
    assert!(r.text.contains(&format!("value=\"{email}\"")));
    assert!(
        r.text.contains("name=\"name\""),
        "a new account needs a name"
    );

    // Two different passwords, then a weak one: said on the page, nothing
    // consumed.
    let r = form(
        &browser,
        "/accept-invite",
        &[
            ("token", &token),
            ("name", "Uusi Ihminen"),
            ("password", PASSWORD),
            ("repeat", "something else entirely"),
        ],
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("The two passwords differ."), "{}", r.text);
    assert!(
        r.text.contains("value=\"Uusi Ihminen\""),
        "the name is kept"
    );
    let r = form(
        &browser,
        "/accept-invite",
        &[
            ("token", &token),
            ("name", "Uusi Ihminen"),
            ("password", "short"),
            ("repeat", "short"),
        ],
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(
        r.text.contains("The password was not accepted:"),
        "{}",
        r.text
    );

    // Accepted: signed in, on the company's page.
    let r = form(
        &browser,
        "/accept-invite",
        &[
            ("token", &token),
            ("name", "Uusi Ihminen"),
            ("password", PASSWORD),
            ("repeat", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("action=\"/sign-out\""), "{}", r.text);
    assert!(r.text.contains(&format!("/c/{}", company.id)));
    let accepted = t
        .audit_rows_where("action = 'member.accept' AND outcome = 'allowed'")
        .await;
    assert_eq!(accepted.len(), 1);

    // The link works once.
    let r = page(&t.client(), &format!("/accept-invite?token={token}")).await;
    assert_eq!(r.status, 400);
    assert!(
        r.text.contains("invalid, already used or expired"),
        "{}",
        r.text
    );

    // A forgotten password: the same answer for any address; the link
    // sets a new one, and sign-in says so.
    let stranger = t.client();
    let r = form(
        &stranger,
        "/forgot-password",
        &[("email", "nobody@example.test")],
    )
    .await;
    assert_eq!(r.status, 200);
    let r = form(&stranger, "/forgot-password", &[("email", email)]).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("is on its way"), "{}", r.text);
    let reset = t.token_arriving(email, "reset-password").await.unwrap();
    let r = page(&stranger, &format!("/reset-password?token={reset}")).await;
    assert_eq!(r.status, 200);
    let fresh = "Uusi salasana keväälle 2027 on tämä!";
    let r = form(
        &stranger,
        "/reset-password",
        &[("token", &reset), ("password", fresh), ("repeat", fresh)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Your password is set."), "{}", r.text);
    let r = form(
        &stranger,
        "/sign-in",
        &[("email", email), ("password", fresh)],
    )
    .await;
    assert!(r.text.contains("action=\"/sign-out\""), "{}", r.text);
    // The old session ended with the reset.
    let r = page(&browser, "/").await;
    assert!(r.text.contains("action=\"/sign-in\""), "{}", r.text);
}

both!(a_new_email_address_is_confirmed_by_a_button_not_by_the_link);
async fn a_new_email_address_is_confirmed_by_a_button_not_by_the_link(t: TestApp) {
    let (_, owner) = t
        .company_with_owner("Osoite Oy", "pages.old@example.test")
        .await;
    // Asked for on the profile page: a refused address is said there.
    let csrf = hidden(&page(&owner, "/profile").await.text, "csrf");
    let r = form(
        &owner,
        "/profile/email",
        &[("csrf", &csrf), ("email", "nope")],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text
            .contains("id=\"new-email-error\">is not an email address"),
        "said at the field: {}",
        r.text
    );
    assert!(
        r.text.contains("value=\"nope\""),
        "what was typed stays: {}",
        r.text
    );
    let r = form(
        &owner,
        "/profile/email",
        &[("csrf", &csrf), ("email", "Pages.Old@example.test")],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("is your address already"), "{}", r.text);
    let r = form(
        &owner,
        "/profile/email",
        &[("csrf", &csrf), ("email", "pages.new@example.test")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text
            .contains("A confirmation link went to the new address"),
        "{}",
        r.text
    );
    let token = t
        .token_arriving("pages.new@example.test", "confirm-email")
        .await
        .unwrap();
    let browser = t.client();
    // Following the link (a mail scanner would) changes nothing.
    let r = page(&browser, &format!("/confirm-email?token={token}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(hidden(&r.text, "token"), token);
    let me = owner.get("/api/v1/me").await;
    assert_eq!(me.body["email"], "pages.old@example.test");
    // The button does.
    let r = form(&browser, "/confirm-email", &[("token", &token)]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("Your email address is changed."),
        "{}",
        r.text
    );
    let r = form(&browser, "/confirm-email", &[("token", &token)]).await;
    assert_eq!(r.status, 400, "once only");
}

both!(forms_make_folders_and_documents_and_an_edit_loses_nothing);
async fn forms_make_folders_and_documents_and_an_edit_loses_nothing(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Lomake Oy", "pages.forms@example.test")
        .await;
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/templates"),
            json!({
                "name": "Mittaus",
                "fields": [
                    {"key": "kohde", "type": "text", "label": "Kohde", "required": true},
                    {"key": "ala", "type": "number", "label": "Pinta-ala", "unit": "m²"},
                    {"key": "ok", "type": "checkbox", "label": "Hyväksytty"},
                    {"key": "laji", "type": "choice", "label": "Laji", "options": ["Katto", "Seinä"]},
                    {"key": "huom", "type": "long_text", "label": "Huomiot"}
                ]
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let tid = r.body["id"].as_str().unwrap().to_string();

    // A folder from the company page's form, then one inside it.
    let r = page(&owner, &format!("/c/{cid}")).await;
    let csrf = hidden(&r.text, "csrf");
    let r = form(
        &owner,
        &format!("/c/{cid}/folders"),
        &[("csrf", &csrf), ("name", "Työmaa")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("<h1>Työmaa"), "{}", r.text);
    let fid = r
        .text
        .split("action=\"/folders/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_string();
    let r = form(
        &owner,
        &format!("/folders/{fid}/folders"),
        &[("csrf", &csrf), ("name", "bad/name")],
    )
    .await;
    assert!(
        r.text.contains("role=\"alert\""),
        "a refused name is said: {}",
        r.text
    );
    let r = form(
        &owner,
        &format!("/folders/{fid}/folders"),
        &[("csrf", "forged"), ("name", "Ei")],
    )
    .await;
    assert_eq!(r.status, 403, "no CSRF token, no folder");

    // A document from a template: straight to its form.
    let r = page(&owner, &format!("/folders/{fid}/new-document")).await;
    assert!(r.text.contains(&format!("value=\"{tid}\"")), "{}", r.text);
    let r = form(
        &owner,
        &format!("/folders/{fid}/new-document"),
        &[
            ("csrf", &csrf),
            ("title", "Mittaus 1"),
            ("template_id", &tid),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("name=\"f.ala\""), "{}", r.text);
    let did = r
        .text
        .split("action=\"/documents/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_string();
    let edit = format!("/documents/{did}/edit");

    // Not a number: said next to the field, the rest kept as typed.
    let r = form(
        &owner,
        &edit,
        &[
            ("csrf", &csrf),
            ("version", "1"),
            ("title", "Mittaus 1"),
            ("f.kohde", "Talo <A>"),
            ("f.ala", "paljon"),
            ("f.ok", "false"),
            ("f.ok", "true"),
            ("f.laji", "Katto"),
            ("f.huom", "Rivi 1\nRivi 2"),
        ],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("id=\"f-ala-error\">Give a number."),
        "{}",
        r.text
    );
    assert!(r.text.contains("value=\"Talo &#60;A&#62;\""), "{}", r.text);
    assert!(r.text.contains("value=\"paljon\""));
    assert!(r.text.contains("Rivi 1\nRivi 2</textarea>"));

    // Completed with a required field empty: refused at that field.
    let r = form(
        &owner,
        &edit,
        &[
            ("csrf", &csrf),
            ("version", "1"),
            ("title", "Mittaus 1"),
            ("f.kohde", ""),
            ("completed", "true"),
        ],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text
            .contains("id=\"f-kohde-error\">This field is required."),
        "{}",
        r.text
    );

    // Saved: a new version, the values on the document's page.
    let r = form(
        &owner,
        &edit,
        &[
            ("csrf", &csrf),
            ("version", "1"),
            ("title", "Mittaus 1"),
            ("f.kohde", "Talo A"),
            ("f.ala", "120,5"),
            ("f.ok", "false"),
            ("f.ok", "true"),
            ("f.laji", "Katto"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let doc = owner.get(&format!("/api/v1/documents/{did}")).await;
    assert_eq!(doc.body["version"], 2);
    assert_eq!(doc.body["fields"]["ala"], 120.5);
    assert_eq!(doc.body["fields"]["ok"], true);
    assert_eq!(doc.body["fields"]["laji"], "Katto");

    // Someone saves meanwhile: the edit made against version 2 meets 3.
    let r = owner
        .patch(
            &format!("/api/v1/documents/{did}"),
            json!({"version": 2, "fields": {"kohde": "Talo B"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = form(
        &owner,
        &edit,
        &[
            ("csrf", &csrf),
            ("version", "2"),
            ("title", "Mittaus 1"),
            ("f.kohde", "Talo C"),
            ("f.ala", "120.5"),
            ("f.ok", "true"),
            ("f.laji", "Seinä"),
        ],
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("value=\"Talo C\""), "mine kept: {}", r.text);
    assert!(r.text.contains("Newest saved: Talo B"), "{}", r.text);
    assert_eq!(hidden(&r.text, "version"), "3");
    let doc = owner.get(&format!("/api/v1/documents/{did}")).await;
    assert_eq!(doc.body["fields"]["kohde"], "Talo B", "nothing overwritten");
}

/// A multipart form as a browser sends it: text parts, then the file.
async fn multipart(c: &Client, path: &str, texts: &[(&str, &str)], file: (&str, &[u8])) -> Answer {
    let (content_type, body) = multipart_body(texts, file);
    c.send(
        c.raw()
            .post(c.url(path))
            .header("content-type", content_type)
            .body(body),
    )
    .await
}

/// A multipart form's content type and body: the text fields, then `file`.
fn multipart_body(texts: &[(&str, &str)], file: (&str, &[u8])) -> (String, Vec<u8>) {
    let boundary = "turva-page-form-5b1c";
    let mut body = Vec::new();
    for (name, value) in texts {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: image/png\r\n\r\n",
            file.0
        )
        .as_bytes(),
    );
    body.extend_from_slice(file.1);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

both!(a_photo_taken_on_the_page_lands_in_its_field, |c| {
    c.storage.max_file_bytes = 1024 * 1024;
});
async fn a_photo_taken_on_the_page_lands_in_its_field(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Kuva Oy", "pages.photo@example.test")
        .await;
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/templates"),
            json!({"name": "Kuvaus", "fields": [{"key": "kuvat", "type": "file", "label": "Kuvat"}]}),
        )
        .await;
    let tid = r.body["id"].as_str().unwrap().to_string();
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({ "name": "Kuvat" }),
        )
        .await;
    let fid = r.body["id"].as_str().unwrap().to_string();
    let r = owner
        .post(
            &format!("/api/v1/folders/{fid}/documents"),
            json!({"title": "Julkisivu", "template_id": tid}),
        )
        .await;
    let did = r.body["id"].as_str().unwrap().to_string();

    let r = page(&owner, &format!("/documents/{did}")).await;
    assert!(r.text.contains("capture=\"environment\""), "{}", r.text);
    assert!(r.text.contains("accept=\"image/*\""));
    let csrf = hidden(&r.text, "csrf");
    let photo = b"\x89PNG\r\n\x1a\n a photo from the site".to_vec();
    let path = format!("/documents/{did}/files");

    // Without the CSRF token nothing is stored.
    let r = multipart(&owner, &path, &[("csrf", "forged")], ("kuva.png", &photo)).await;
    assert_eq!(r.status, 403);
    assert_eq!(t.count("files").await, 0);

    let r = multipart(
        &owner,
        &path,
        &[("csrf", &csrf), ("field", "kuvat")],
        ("kuva.png", &photo),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("kuva.png"), "{}", r.text);
    let doc = owner.get(&format!("/api/v1/documents/{did}")).await;
    let file = doc.body["files"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(doc.body["fields"]["kuvat"], json!([file]), "{}", doc.body);
    let (status, _, got) = crate::content::download(&owner, &file).await;
    assert_eq!(status, 200);
    assert!(got == photo, "byte-identical");

    // A file past the size limit: said on the page, nothing kept.
    let big = vec![7u8; 2 * 1024 * 1024];
    let r = multipart(&owner, &path, &[("csrf", &csrf)], ("iso.bin", &big)).await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("role=\"alert\""), "{}", r.text);
    assert_eq!(t.count("files").await, 1);

    // The page's script asks for the end as an address, not a redirect
    // (its XHR would follow one and view the document once more).
    let viewed = format!("action = 'document.view' AND object_id = '{did}'");
    let before = t.audit_rows_where(&viewed).await.len();
    let (content_type, body) = multipart_body(&[("csrf", &csrf)], ("toinen.png", &photo));
    let r = owner
        .send(
            owner
                .raw()
                .post(owner.url(&path))
                .header("content-type", content_type)
                .header("turva-navigate", "manual")
                .body(body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.header("turva-location"),
        Some(format!("/documents/{did}").as_str())
    );
    assert!(r.text.is_empty(), "{}", r.text);
    assert_eq!(t.count("files").await, 2);
    let after = t.audit_rows_where(&viewed).await.len();
    assert_eq!(after, before, "no view of the document on the way");
}

both!(a_document_shared_on_the_page_is_all_the_guest_sees_until_revoked);
async fn a_document_shared_on_the_page_is_all_the_guest_sees_until_revoked(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Jako Oy", "pages.sharer@example.test")
        .await;
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({ "name": "Piha" }),
        )
        .await;
    let fid = r.body["id"].as_str().unwrap().to_string();
    let mut docs = Vec::new();
    for title in ["Jaettu", "Salainen"] {
        let r = owner
            .post(
                &format!("/api/v1/folders/{fid}/documents"),
                json!({ "title": title }),
            )
            .await;
        docs.push(r.body["id"].as_str().unwrap().to_string());
    }
    let (shared, secret) = (&docs[0], &docs[1]);

    // The dialog: a refused address is said; then shared with an expiry.
    let sharing = format!("/documents/{shared}/sharing");
    let r = page(&owner, &sharing).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let csrf = hidden(&r.text, "csrf");
    let r = form(
        &owner,
        &sharing,
        &[
            ("csrf", &csrf),
            ("email", "not an address"),
            ("right", "view"),
        ],
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("role=\"alert\""), "{}", r.text);
    let guest_email = "pages.guest@example.test";
    let r = form(
        &owner,
        &sharing,
        &[
            ("csrf", &csrf),
            ("email", guest_email),
            ("right", "view"),
            ("expires", "2099-12-31"),
            ("language", "de"),
            ("notify", "false"),
            ("notify", "true"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains(guest_email), "listed: {}", r.text);
    assert!(r.text.contains("value=\"2099-12-31\""), "{}", r.text);

    // The guest accepts on the page and sees that one document, in German:
    // the invitation's language became their profile's.
    let token = t
        .token_arriving(guest_email, "accept-invite")
        .await
        .unwrap();
    let guest = t.client();
    let r = form(
        &guest,
        "/accept-invite",
        &[
            ("token", &token),
            ("name", "Vieras"),
            ("password", PASSWORD),
            ("repeat", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("lang=\"de\""), "{}", r.text);
    assert!(r.text.contains("Mit Ihnen geteilt"), "{}", r.text);
    assert!(r.text.contains(&format!("href=\"/documents/{shared}\"")));
    assert!(!r.text.contains(secret.as_str()));
    assert_eq!(
        page(&guest, &format!("/documents/{shared}")).await.status,
        200
    );
    assert_eq!(
        page(&guest, &format!("/documents/{secret}")).await.status,
        404
    );
    assert_eq!(page(&guest, &format!("/folders/{fid}")).await.status, 404);
    assert_eq!(
        page(&guest, &sharing).await.status,
        403,
        "no manage, no dialog"
    );

    // Revoked on the page: gone at once.
    let r = page(&owner, &sharing).await;
    let sid = r
        .text
        .split("action=\"/shares/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_string();
    let r = form(
        &owner,
        &format!("/shares/{sid}/revoke"),
        &[("csrf", &csrf), ("back", &sharing)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("The share is revoked."), "{}", r.text);
    assert_eq!(
        page(&guest, &format!("/documents/{shared}")).await.status,
        404
    );
    let r = page(&guest, "/").await;
    assert!(!r.text.contains(shared.as_str()), "{}", r.text);
    let events = t
        .audit_rows_where("action IN ('share.create', 'share.revoke')")
        .await;
    assert_eq!(events.len(), 2, "{events:?}");
}

both!(admins_read_and_export_the_audit_log_on_its_page);
async fn admins_read_and_export_the_audit_log_on_its_page(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Loki Oy", "pages.auditor@example.test")
        .await;
    let (member, _) = t
        .member(&owner, &cid, "pages.worker@example.test", "member")
        .await;
    let r = member
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({ "name": "Työt" }),
        )
        .await;
    let fid = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(page(&member, &format!("/folders/{fid}")).await.status, 200);

    // The company page offers the log to its owner only.
    let r = page(&owner, &format!("/c/{cid}")).await;
    assert!(
        r.text.contains(&format!("href=\"/c/{cid}/audit\"")),
        "{}",
        r.text
    );
    let r = page(&member, &format!("/c/{cid}")).await;
    assert!(!r.text.contains("/audit\""), "{}", r.text);
    assert_eq!(page(&member, &format!("/c/{cid}/audit")).await.status, 403);

    // The member's view of the folder, found by a filter.
    let r = page(
        &owner,
        &format!("/c/{cid}/audit?action=folder.view&actor=pages.worker%40example.test"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("<code>folder.view</code>"), "{}", r.text);
    assert!(r.text.contains("pages.worker@example.test"));
    assert!(r.text.contains(&format!("folder {fid}")));
    assert!(!r.text.contains("<code>member.accept</code>"), "filtered");
    let r = page(&owner, &format!("/c/{cid}/audit?since=yesterday")).await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("role=\"alert\""));

    // The export: CSV while the sign-in is recent; later, the password
    // first, then the file.
    let r = page(&owner, &format!("/c/{cid}/audit/export?action=folder.view")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.header("content-type").unwrap().starts_with("text/csv"));
    assert!(r.text.starts_with("seq,time,"), "{}", r.text);
    assert!(r.text.contains("folder.view"));
    t.clock.advance_secs(3600);
    let r = page(&owner, &format!("/c/{cid}/audit/export")).await;
    assert!(r.text.contains("action=\"/reauth\""), "{}", r.text);
    let csrf = hidden(&r.text, "csrf");
    let next = hidden(&r.text, "next");
    assert_eq!(next, format!("/c/{cid}/audit/export?"));
    let r = form(
        &owner,
        "/reauth",
        &[
            ("csrf", &csrf),
            ("next", &next),
            ("password", "wrong one, surely"),
        ],
    )
    .await;
    assert_eq!(r.status, 401);
    let r = form(
        &owner,
        "/reauth",
        &[("csrf", &csrf), ("next", &next), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.starts_with("seq,time,"), "{}", r.text);
}

both!(an_operator_sees_the_platform_and_creates_a_company_on_its_page);
async fn an_operator_sees_the_platform_and_creates_a_company_on_its_page(t: TestApp) {
    let op = t.operator("pages.operator@example.test").await;
    let r = page(&op, "/admin").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Master-key versions"), "{}", r.text);
    assert!(r.text.contains("v1"), "{}", r.text);
    assert!(r.text.contains("href=\"/admin\""), "the header offers it");
    let csrf = hidden(&r.text, "csrf");

    let r = form(
        &op,
        "/admin/companies",
        &[
            ("csrf", &csrf),
            ("name", "Uusi Oy"),
            ("owner_email", "nope"),
        ],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("value=\"Uusi Oy\""), "kept: {}", r.text);
    let r = form(
        &op,
        "/admin/companies",
        &[
            ("csrf", &csrf),
            ("name", "Uusi Oy"),
            ("owner_email", "pages.newowner@example.test"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("The company is created"), "{}", r.text);
    assert!(t
        .token_arriving("pages.newowner@example.test", "accept-invite")
        .await
        .is_some());

    // Anyone else: the designed 403, and no company.
    let (_, owner) = t
        .company_with_owner("Tavallinen Oy", "pages.plain@example.test")
        .await;
    let r = page(&owner, "/admin").await;
    assert_eq!(r.status, 403);
    assert!(!r.text.contains("href=\"/admin\""));
    let r = form(
        &owner,
        "/admin/companies",
        &[
            ("csrf", &hidden(&page(&owner, "/").await.text, "csrf")),
            ("name", "Luvaton Oy"),
            ("owner_email", "pages.sneaky@example.test"),
        ],
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(t
        .token_for("pages.sneaky@example.test", "accept-invite")
        .is_none());
}

both!(a_folder_from_a_folder_template_asks_for_its_identifiers);
async fn a_folder_from_a_folder_template_asks_for_its_identifiers(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Pohja Oy", "pages.templates@example.test")
        .await;
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folder-templates"),
            json!({
                "name": "Työmaa",
                "identifiers": [
                    {"key": "numero", "label": "Työmaan numero", "required": true, "names_folder": true},
                    {"key": "osoite", "label": "Osoite"}
                ],
                "folders": [{"name": "Kuvat"}, {"name": "Raportit"}]
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let tid = r.body["id"].as_str().unwrap().to_string();

    let here = format!("/c/{cid}/new-folder");
    let r = page(&owner, &here).await;
    assert!(r.text.contains(&format!("value=\"{tid}\"")), "{}", r.text);
    assert!(!r.text.contains("name=\"i.numero\""));
    let r = page(&owner, &format!("{here}?template={tid}")).await;
    assert!(r.text.contains("name=\"i.numero\""), "{}", r.text);
    assert!(r.text.contains("Työmaan numero"));
    let csrf = hidden(&r.text, "csrf");

    // A required identifier left out: said, and what was typed is kept.
    let r = form(
        &owner,
        &here,
        &[
            ("csrf", &csrf),
            ("template_id", &tid),
            ("name", ""),
            ("i.numero", ""),
            ("i.osoite", "Rantatie 5"),
        ],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("identifiers.numero"), "{}", r.text);
    assert!(r.text.contains("value=\"Rantatie 5\""));

    let r = form(
        &owner,
        &here,
        &[
            ("csrf", &csrf),
            ("template_id", &tid),
            ("name", ""),
            ("i.numero", "T-42"),
            ("i.osoite", "Rantatie 5"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("<h1>T-42"),
        "named by its identifier: {}",
        r.text
    );
    assert!(
        r.text.contains(">Kuvat</a>") && r.text.contains(">Raportit</a>"),
        "{}",
        r.text
    );
}

both!(a_second_factor_is_enrolled_and_used_through_the_pages);
async fn a_second_factor_is_enrolled_and_used_through_the_pages(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Vahva Oy", "pages.strict@example.test")
        .await;
    owner.enrol_totp(&t).await;
    let r = owner
        .patch(
            &format!("/api/v1/companies/{cid}"),
            json!({"settings": {"require_mfa": true}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let email = "pages.enrolling@example.test";
    t.member(&owner, &cid, email, "member").await;

    // Signed in, the member reaches only the enrolment part.
    let browser = t.client();
    let r = form(
        &browser,
        "/sign-in",
        &[("email", email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("requires a second factor"), "{}", r.text);
    let r = page(&browser, &format!("/c/{cid}")).await;
    assert!(
        r.text.contains("requires a second factor"),
        "held back: {}",
        r.text
    );
    let csrf = hidden(&r.text, "csrf");

    // The QR code and the key; a wrong code, then the right one.
    let r = form(&browser, "/profile/totp", &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("src=\"data:image/svg+xml;base64,"),
        "{}",
        r.text
    );
    let secret = r
        .text
        .split("<code class=\"secret\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_string();
    let id = hidden(&r.text, "id");
    let qr = hidden(&r.text, "qr");
    let r = form(
        &browser,
        "/profile/totp/confirm",
        &[
            ("csrf", &csrf),
            ("id", &id),
            ("secret", &secret),
            ("qr", &qr),
            ("code", "000000"),
        ],
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("role=\"alert\""));
    let r = form(
        &browser,
        "/profile/totp/confirm",
        &[("csrf", &csrf), ("id", &id), ("code", &t.totp_now(&secret))],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let codes: Vec<String> = r
        .text
        .split("<li><code>")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .map(str::to_string)
        .collect();
    assert_eq!(codes.len(), 10, "{}", r.text);
    // Enrolled: the company opens at once.
    let r = page(&browser, &format!("/c/{cid}")).await;
    assert!(r.text.contains("<h1>Vahva Oy"), "{}", r.text);

    // Signing in again asks for the code; a recovery code works once.
    let again = t.client();
    let r = form(
        &again,
        "/sign-in",
        &[("email", email), ("password", PASSWORD)],
    )
    .await;
    let token = hidden(&r.text, "mfa_token");
    t.clock.advance_secs(30);
    let r = form(
        &again,
        "/sign-in/code",
        &[("mfa_token", &token), ("code", &t.totp_now(&secret))],
    )
    .await;
    assert!(r.text.contains("<h1>Vahva Oy"), "{}", r.text);
    let third = t.client();
    let r = form(
        &third,
        "/sign-in",
        &[("email", email), ("password", PASSWORD)],
    )
    .await;
    let token = hidden(&r.text, "mfa_token");
    let r = form(
        &third,
        "/sign-in/code",
        &[("mfa_token", &token), ("code", &codes[0])],
    )
    .await;
    assert!(r.text.contains("<h1>Vahva Oy"), "{}", r.text);
}

both!(the_profile_changes_name_language_and_password);
async fn the_profile_changes_name_language_and_password(t: TestApp) {
    let email = "pages.profile@example.test";
    let (_, owner) = t.company_with_owner("Profiili Oy", email).await;
    let r = page(&owner, "/profile").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let csrf = hidden(&r.text, "csrf");
    let r = form(
        &owner,
        "/profile",
        &[
            ("csrf", &csrf),
            ("name", "Pia Profiili"),
            ("language", "fi"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("lang=\"fi\""),
        "the profile's language: {}",
        r.text
    );
    assert!(r.text.contains("Pia Profiili"));

    // The password: both typed the same, the current one right.
    let fresh = "Uusi ja pitkä salasana 2027!";
    let r = form(
        &owner,
        "/profile/password",
        &[
            ("csrf", &csrf),
            ("current", PASSWORD),
            ("new", fresh),
            ("repeat", "eri"),
        ],
    )
    .await;
    assert_eq!(r.status, 422);
    let r = form(
        &owner,
        "/profile/password",
        &[
            ("csrf", &csrf),
            ("current", "väärä salasana"),
            ("new", fresh),
            ("repeat", fresh),
        ],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let other = t.client();
    other.login(email, PASSWORD).await;
    let r = form(
        &owner,
        "/profile/password",
        &[
            ("csrf", &csrf),
            ("current", PASSWORD),
            ("new", fresh),
            ("repeat", fresh),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        other.get("/api/v1/me").await.status,
        401,
        "other sessions end"
    );
    let r = form(
        &t.client(),
        "/sign-in",
        &[("email", email), ("password", fresh)],
    )
    .await;
    assert!(r.text.contains("action=\"/sign-out\""), "{}", r.text);
}

both!(search_marks_the_words_and_the_trash_gives_back);
async fn search_marks_the_words_and_the_trash_gives_back(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Haku Oy", "pages.search@example.test")
        .await;
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({ "name": "Arkisto" }),
        )
        .await;
    let fid = r.body["id"].as_str().unwrap().to_string();
    let r = owner
        .post(
            &format!("/api/v1/folders/{fid}/documents"),
            json!({ "title": "Kattotarkastus <2026>" }),
        )
        .await;
    let did = r.body["id"].as_str().unwrap().to_string();

    let r = page(&owner, "/search?q=kattotarkastus").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains(&format!("href=\"/documents/{did}\"")),
        "{}",
        r.text
    );
    assert!(r.text.contains("<mark>"), "{}", r.text);
    assert!(!r.text.contains("<2026>"), "escaped: {}", r.text);
    let r = page(&owner, "/search?q=olematon").await;
    assert!(r.text.contains("Nothing found."));

    // To the trash from the document's page, and back from the trash.
    let r = page(&owner, &format!("/documents/{did}")).await;
    let csrf = hidden(&r.text, "csrf");
    let r = form(
        &owner,
        &format!("/documents/{did}/trash"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Moved to the trash"), "{}", r.text);
    assert_eq!(page(&owner, &format!("/documents/{did}")).await.status, 404);
    let r = page(&owner, &format!("/c/{cid}/trash")).await;
    assert!(
        r.text.contains("Kattotarkastus &#60;2026&#62;"),
        "{}",
        r.text
    );
    let r = form(&owner, &format!("/trash/{did}/restore"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("<h1>Kattotarkastus"), "{}", r.text);
    let r = form(
        &owner,
        &format!("/trash/{did}/restore"),
        &[("csrf", "forged")],
    )
    .await;
    assert_eq!(r.status, 403);
}

both!(the_history_shows_who_compares_and_restores);
async fn the_history_shows_who_compares_and_restores(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Historia Oy", "pages.history@example.test")
        .await;
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({ "name": "Kansio" }),
        )
        .await;
    let fid = r.body["id"].as_str().unwrap().to_string();
    let r = owner
        .post(
            &format!("/api/v1/folders/{fid}/documents"),
            json!({ "title": "Ensimmäinen" }),
        )
        .await;
    let did = r.body["id"].as_str().unwrap().to_string();
    let r = owner
        .patch(
            &format!("/api/v1/documents/{did}"),
            json!({"version": 1, "title": "Toinen <b>"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let history = format!("/documents/{did}/history");
    let r = page(&owner, &history).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("<td>Test Person</td>"), "who: {}", r.text);
    let r = page(&owner, &format!("{history}?a=1&b=2")).await;
    assert!(
        r.text.contains("class=\"before\">Ensimmäinen"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("class=\"after\">Toinen &#60;b&#62;"),
        "{}",
        r.text
    );

    let csrf = hidden(&page(&owner, &history).await.text, "csrf");
    let r = form(
        &owner,
        &format!("/documents/{did}/versions/1/restore"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("Version restored as the newest."),
        "{}",
        r.text
    );
    let doc = owner.get(&format!("/api/v1/documents/{did}")).await;
    assert_eq!(doc.body["title"], "Ensimmäinen");
    assert_eq!(doc.body["version"], 3);
}

both!(admins_manage_members_and_settings_on_the_page);
async fn admins_manage_members_and_settings_on_the_page(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Jäsen Oy", "pages.admin@example.test")
        .await;
    let (_, uid) = t
        .member(&owner, &cid, "pages.staff@example.test", "member")
        .await;
    let here = format!("/c/{cid}/members");
    let r = page(&owner, &here).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("pages.staff@example.test"), "{}", r.text);
    let csrf = hidden(&r.text, "csrf");

    // Invite: a bad address is said; a good one is on the list, invited.
    let r = form(
        &owner,
        &here,
        &[("csrf", &csrf), ("email", "nope"), ("role", "member")],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = form(
        &owner,
        &here,
        &[
            ("csrf", &csrf),
            ("email", "pages.new@example.test"),
            ("role", "reader"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("The invitation is sent."), "{}", r.text);
    assert!(r.text.contains("pages.new@example.test"));

    // A role, then the member removed.
    let r = form(
        &owner,
        &format!("{here}/{uid}/role"),
        &[("csrf", &csrf), ("role", "reader")],
    )
    .await;
    assert!(r.text.contains("The role is changed."), "{}", r.text);
    let role = t
        .audit_rows_where("action = 'member.role_change' AND outcome = 'allowed'")
        .await;
    assert_eq!(role.len(), 1, "{role:?}");
    let r = form(&owner, &format!("{here}/{uid}/remove"), &[("csrf", &csrf)]).await;
    assert!(r.text.contains("The member is removed."), "{}", r.text);
    assert!(!r.text.contains("pages.staff@example.test"));

    // A reader of the company may not manage it.
    let (reader, _) = t
        .member(&owner, &cid, "pages.reader@example.test", "reader")
        .await;
    assert_eq!(page(&reader, &here).await.status, 403);

    // Settings: requiring a second factor needs the owner to have one.
    let r = form(
        &owner,
        &format!("/c/{cid}/settings"),
        &[
            ("csrf", &csrf),
            ("require_mfa", "false"),
            ("require_mfa", "true"),
            ("default_member_access", "view"),
        ],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(
        r.text.contains("role=\"alert\""),
        "said on the page: {}",
        r.text
    );
    assert!(r.text.contains("<h1>Members</h1>"));
    owner.enrol_totp(&t).await;
    let r = form(
        &owner,
        &format!("/c/{cid}/settings"),
        &[
            ("csrf", &csrf),
            ("require_mfa", "false"),
            ("require_mfa", "true"),
            ("default_member_access", "view"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("The settings are saved."), "{}", r.text);
    let c = owner.get(&format!("/api/v1/companies/{cid}")).await;
    assert_eq!(c.body["settings"]["require_mfa"], true, "{}", c.body);
    assert_eq!(c.body["settings"]["default_member_access"], "view");

    // A member held back by the new rule reaches only the enrolment.
    let r = page(&reader, &here).await;
    assert!(r.text.contains("requires a second factor"), "{}", r.text);
}

both!(the_usage_page_charts_the_company_s_days);
async fn the_usage_page_charts_the_company_s_days(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Käyttö Oy", "pages.usage@example.test")
        .await;
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({ "name": "Yksi" }),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = page(&owner, &format!("/c/{cid}/usage")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.text.matches("class=\"bar\"").count(),
        3 * 30,
        "{}",
        r.text
    );
    // Today: one active user, one edit.
    let today = r
        .text
        .split("<tbody><tr><td>")
        .nth(1)
        .and_then(|s| s.split("</tr>").next())
        .unwrap()
        .to_string();
    assert!(today.contains("</td><td>1</td>"), "{today}");
    let (reader, _) = t
        .member(&owner, &cid, "pages.usage.reader@example.test", "reader")
        .await;
    assert_eq!(page(&reader, &format!("/c/{cid}/usage")).await.status, 403);
}

both!(an_api_token_is_made_shown_once_and_revoked_on_the_profile);
async fn an_api_token_is_made_shown_once_and_revoked_on_the_profile(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Tunniste Oy", "pages.tokens@example.test")
        .await;
    let r = page(&owner, "/profile").await;
    assert!(r.text.contains("No API tokens."), "{}", r.text);
    let csrf = hidden(&r.text, "csrf");
    // A day within [auth] token_max_days (365): 30 days from the test's now.
    let expires = {
        let days = i64::try_from(t.now_secs() / 86_400).unwrap() + 30;
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        format!("{y:04}-{m:02}-{d:02}")
    };
    let r = form(
        &owner,
        "/profile/tokens",
        &[
            ("csrf", &csrf),
            ("name", "Raportit"),
            ("company_id", &cid),
            ("expires", &expires),
            ("read_only", "true"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r
        .text
        .split("<code class=\"secret\" id=\"token\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_string();
    let api = t.client();
    api.use_bearer(&token);
    assert_eq!(
        api.get(&format!("/api/v1/companies/{cid}/folders"))
            .await
            .status,
        200
    );
    let r = page(&owner, "/profile").await;
    assert!(r.text.contains("Raportit"), "listed: {}", r.text);
    assert!(!r.text.contains(&token), "never shown again");
    let id = r
        .text
        .split("action=\"/profile/tokens/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_string();
    let r = form(
        &owner,
        &format!("/profile/tokens/{id}/revoke"),
        &[("csrf", &csrf)],
    )
    .await;
    assert!(r.text.contains("The token is revoked."), "{}", r.text);
    assert_eq!(
        api.get(&format!("/api/v1/companies/{cid}/folders"))
            .await
            .status,
        401
    );
}

both!(admins_edit_document_templates_field_by_field);
async fn admins_edit_document_templates_field_by_field(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Pohjat Oy", "pages.fields@example.test")
        .await;
    let r = page(&owner, &format!("/c/{cid}/templates")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let csrf = hidden(&r.text, "csrf");
    let r = form(
        &owner,
        &format!("/c/{cid}/templates"),
        &[("csrf", &csrf), ("name", "Tarkastus")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r
        .text
        .split("action=\"/templates/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_string();
    let edit = format!("/templates/{id}/edit");

    // Two fields added one by one; the second placed first.
    let r = form(
        &owner,
        &edit,
        &[
            ("csrf", &csrf),
            ("count", "1"),
            ("name", "Tarkastus"),
            ("description", ""),
            ("f0.pos", "1"),
            ("f0.key", "kohde"),
            ("f0.label", "Kohde"),
            ("f0.type", "text"),
            ("f0.required", "true"),
        ],
    )
    .await;
    assert!(r.text.contains("saved as a new version"), "{}", r.text);
    let r = form(
        &owner,
        &edit,
        &[
            ("csrf", &csrf),
            ("count", "2"),
            ("name", "Tarkastus"),
            ("description", ""),
            ("f0.pos", "2"),
            ("f0.key", "kohde"),
            ("f0.label", "Kohde"),
            ("f0.type", "text"),
            ("f0.required", "true"),
            ("f1.pos", "1"),
            ("f1.key", "laji"),
            ("f1.label", "Laji"),
            ("f1.type", "choice"),
            ("f1.options", "Katto, Seinä"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got = owner.get(&format!("/api/v1/templates/{id}")).await;
    assert_eq!(got.body["version"], 3, "{}", got.body);
    assert_eq!(got.body["fields"][0]["key"], "laji");
    assert_eq!(got.body["fields"][0]["options"], json!(["Katto", "Seinä"]));
    assert_eq!(got.body["fields"][1]["required"], true);

    // A bad key is said on the editor; nothing changes.
    let r = form(
        &owner,
        &edit,
        &[
            ("csrf", &csrf),
            ("count", "1"),
            ("name", "Tarkastus"),
            ("f0.key", "Huono avain"),
            ("f0.label", "X"),
            ("f0.type", "text"),
        ],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(
        owner.get(&format!("/api/v1/templates/{id}")).await.body["version"],
        3
    );

    // A member reads the list but may not edit.
    let (member, _) = t
        .member(&owner, &cid, "pages.fields.member@example.test", "member")
        .await;
    let r = page(&member, &format!("/c/{cid}/templates")).await;
    assert!(
        r.text.contains("Tarkastus") && !r.text.contains(&edit),
        "{}",
        r.text
    );
    let r = form(
        &member,
        &edit,
        &[
            ("csrf", &hidden(&r.text, "csrf")),
            ("count", "0"),
            ("name", "Oma"),
        ],
    )
    .await;
    assert_eq!(r.status, 403);
}

both!(the_first_operator_is_made_once_through_the_set_up_link);
async fn the_first_operator_is_made_once_through_the_set_up_link(t: TestApp) {
    let browser = t.client();
    // No link printed yet: nothing to set up, and no hint.
    let r = page(&browser, "/sign-in").await;
    assert!(!r.text.contains("no operator yet"), "{}", r.text);
    // What `turva serve` prints on a fresh installation: a link with 256
    // random bits, a new one each start.
    let notice = turva::first_run_notice(&t.app)
        .await
        .unwrap()
        .expect("no operator: a link");
    let link = notice
        .split_whitespace()
        .find(|w| w.contains("/setup?token="))
        .unwrap_or_default();
    assert!(link.starts_with("https://"), "{notice}");
    let token = link.split("token=").nth(1).unwrap_or_default().to_string();
    assert_eq!(token.len(), 43, "{notice}");
    let again = turva::first_run_notice(&t.app).await.unwrap().unwrap();
    assert!(
        !again.contains(&token),
        "the newest link replaces the one before"
    );
    let token = again
        .split("token=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        page(
            &browser,
            &format!(
                "/setup?token={}",
                link.split("token=").nth(1).unwrap_or_default()
            )
        )
        .await
        .status,
        404,
        "the replaced link is dead"
    );
    let r = page(&browser, "/sign-in").await;
    assert!(
        r.text.contains("This server has no operator yet"),
        "{}",
        r.text
    );

    // A wrong token: the designed message, no form.
    let r = page(&browser, "/setup?token=guess").await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert!(r.text.contains("set-up link is invalid"), "{}", r.text);
    assert!(!r.text.contains("action=\"/setup\""));
    let r = form(
        &browser,
        "/setup",
        &[
            ("token", "guess"),
            ("email", "first.op@example.test"),
            ("password", PASSWORD),
            ("repeat", PASSWORD),
        ],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);

    // The right one: the form; bad input keeps what was typed and makes
    // nobody.
    let r = page(&browser, &format!("/setup?token={token}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(hidden(&r.text, "token"), token);
    let attempt = |email: &'static str, password: &'static str, repeat: &'static str| {
        let token = token.clone();
        let browser = &browser;
        async move {
            form(
                browser,
                "/setup",
                &[
                    ("token", token.as_str()),
                    ("email", email),
                    ("password", password),
                    ("repeat", repeat),
                ],
            )
            .await
        }
    };
    let r = attempt("first.op@example.test", PASSWORD, "something else").await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("value=\"first.op@example.test\""),
        "{}",
        r.text
    );
    let r = attempt("first.op@example.test", "short", "short").await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = attempt("not an address", PASSWORD, PASSWORD).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("role=\"alert\""), "{}", r.text);
    assert_eq!(t.count("users").await, 0, "nobody was made");

    let r = attempt("first.op@example.test", PASSWORD, PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("The operator account is ready"),
        "{}",
        r.text
    );
    let rows = t.audit_rows_where("action = 'operator.create'").await;
    assert_eq!(rows.len(), 1, "{rows:?}");

    // Used: the link is dead, the hint gone, a second try makes no one.
    let r = attempt("second.op@example.test", PASSWORD, PASSWORD).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = page(&browser, &format!("/setup?token={token}")).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert!(!page(&browser, "/sign-in")
        .await
        .text
        .contains("This server has no operator yet"));
    assert_eq!(t.count("users").await, 1);
    assert!(turva::first_run_notice(&t.app).await.unwrap().is_none());

    // The operator signs in and must first enrol a second factor.
    let r = form(
        &browser,
        "/sign-in",
        &[("email", "first.op@example.test"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("action=\"/profile/totp\""), "{}", r.text);
    assert!(
        r.text.contains("Operators must use a second factor"),
        "{}",
        r.text
    );
    assert!(!r.text.contains("href=\"/admin\""), "held back: {}", r.text);
}

both!(an_operator_schedules_a_company_s_deletion_by_typing_its_name);
async fn an_operator_schedules_a_company_s_deletion_by_typing_its_name(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Poistuva Oy", "pages.leaving@example.test")
        .await;
    let op = t.operator("pages.deleter@example.test").await;
    let r = page(&op, "/admin").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("<h3>Poistuva Oy</h3>"), "{}", r.text);
    assert!(r
        .text
        .contains(&format!("action=\"/admin/companies/{cid}/delete\"")));
    let csrf = hidden(&r.text, "csrf");

    // The wrong name: nothing scheduled, the owner still works.
    let path = format!("/admin/companies/{cid}/delete");
    let r = form(&op, &path, &[("csrf", &csrf), ("confirm", "Poistuva")]).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("is not the company&#39;s name"),
        "{}",
        r.text
    );
    let r = owner.get(&format!("/api/v1/companies/{cid}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Without the form's token: refused.
    let r = form(&op, &path, &[("confirm", "Poistuva Oy")]).await;
    assert_eq!(r.status, 403, "{}", r.text);

    let r = form(&op, &path, &[("csrf", &csrf), ("confirm", "Poistuva Oy")]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("deletion is scheduled"), "{}", r.text);
    assert!(
        r.text.contains("Deletion scheduled; destroyed on"),
        "{}",
        r.text
    );
    assert!(
        !r.text.contains(&format!("action=\"{path}\"")),
        "no second button"
    );
    let r = owner.get(&format!("/api/v1/companies/{cid}")).await;
    assert_eq!(r.status, 404, "hidden from its members now: {}", r.body);
    let rows = t.audit_rows_where("action = 'company.delete'").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].outcome, "allowed");

    // Someone else's company is out of an owner's reach: nothing scheduled.
    let (_, plain) = t
        .company_with_owner("Pysyvä Oy", "pages.staying@example.test")
        .await;
    let (third, third_owner) = t
        .company_with_owner("Kolmas Oy", "pages.third@example.test")
        .await;
    let csrf = hidden(&page(&plain, "/").await.text, "csrf");
    let r = form(
        &plain,
        &format!("/admin/companies/{third}/delete"),
        &[("csrf", &csrf), ("confirm", "Kolmas Oy")],
    )
    .await;
    assert!(
        r.status == 404 || r.status == 403,
        "{} {}",
        r.status,
        r.text
    );
    let r = third_owner.get(&format!("/api/v1/companies/{third}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

both!(a_folder_is_renamed_restricted_and_moved_on_its_settings_page);
async fn a_folder_is_renamed_restricted_and_moved_on_its_settings_page(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Siirto Oy", "pages.mover@example.test")
        .await;
    let folder = |name: &'static str, parent: Option<String>| {
        let owner = &owner;
        let cid = &cid;
        async move {
            let r = owner
                .post(
                    &format!("/api/v1/companies/{cid}/folders"),
                    json!({"name": name, "parent_id": parent}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
            r.body["id"].as_str().unwrap_or_default().to_string()
        }
    };
    let a = folder("Työmaa A", None).await;
    let inner = folder("Kuvat", Some(a.clone())).await;
    let b = folder("Työmaa B", None).await;

    let r = page(&owner, &format!("/folders/{a}")).await;
    assert!(
        r.text.contains(&format!("href=\"/folders/{a}/settings\"")),
        "{}",
        r.text
    );
    let r = page(&owner, &format!("/folders/{a}/settings")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let csrf = hidden(&r.text, "csrf");
    assert!(r.text.contains("value=\"Työmaa A\""), "{}", r.text);
    assert!(
        !r.text.contains("value=\"inherit\""),
        "nothing above a top-level folder: {}",
        r.text
    );
    let r = page(&owner, &format!("/folders/{inner}/settings")).await;
    assert!(r.text.contains("value=\"inherit\""), "{}", r.text);

    // A refused name: said next to the field, what was typed kept.
    let r = form(
        &owner,
        &format!("/folders/{a}/rename"),
        &[("csrf", &csrf), ("name", "A/B")],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("id=\"name-error\""), "{}", r.text);
    assert!(r.text.contains("value=\"A/B\""), "{}", r.text);
    let r = form(
        &owner,
        &format!("/folders/{a}/rename"),
        &[("csrf", &csrf), ("name", "Työmaa Alfa")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("The folder is renamed."), "{}", r.text);
    assert!(r.text.contains("<h1>Työmaa Alfa"), "{}", r.text);

    // Restricted, and marked so.
    let r = form(
        &owner,
        &format!("/folders/{a}/access"),
        &[("csrf", &csrf), ("member_access", "none")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("access is saved"), "{}", r.text);
    assert!(r.text.contains("value=\"none\" selected"), "{}", r.text);
    let r = page(&owner, &format!("/folders/{a}")).await;
    assert!(r.text.contains("class=\"badge\">Restricted"), "{}", r.text);
    let r = form(
        &owner,
        &format!("/folders/{a}/access"),
        &[("csrf", &csrf), ("member_access", "everyone")],
    )
    .await;
    assert_eq!(r.status, 422, "not one of the choices: {}", r.text);
    assert!(
        r.text.contains("id=\"access-error\""),
        "said at the field: {}",
        r.text
    );
    assert!(
        r.text.contains("Members&#39; access: must be"),
        "{}",
        r.text
    );
    let r = owner.get(&format!("/api/v1/folders/{a}")).await;
    assert_eq!(r.body["member_access"], json!("none"), "{}", r.body);

    // Moving: the browser lists where it can go, never itself.
    let r = page(&owner, &format!("/folders/{a}/move")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains(&format!("move?to={b}\"")), "{}", r.text);
    assert!(!r.text.contains(&format!("move?to={a}\"")), "{}", r.text);
    let move_form = format!("action=\"/folders/{a}/move\"");
    assert!(
        !r.text.contains(&move_form),
        "already at the top: {}",
        r.text
    );
    // More documents in B than a page holds: no next page of folders.
    for i in 0..55 {
        let r = owner
            .post(
                &format!("/api/v1/folders/{b}/documents"),
                json!({"title": format!("Dokumentti {i:02}")}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = page(&owner, &format!("/folders/{a}/move?to={b}")).await;
    assert!(r.text.contains("Destination: Työmaa B"), "{}", r.text);
    assert!(
        !r.text.contains("rel=\"next\""),
        "documents are no destinations: {}",
        r.text
    );
    assert!(r.text.contains(&move_form), "{}", r.text);
    // Not into itself: the message, nothing moved.
    let r = form(
        &owner,
        &format!("/folders/{a}/move"),
        &[("csrf", &csrf), ("parent", &inner)],
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("cannot go into itself"), "{}", r.text);
    let r = form(
        &owner,
        &format!("/folders/{a}/move"),
        &[("csrf", &csrf), ("parent", &b)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("The folder is moved."), "{}", r.text);
    let r = owner.get(&format!("/api/v1/folders/{a}")).await;
    assert_eq!(r.body["parent_id"], json!(b), "{}", r.body);
    // And back to the top level.
    let r = form(
        &owner,
        &format!("/folders/{a}/move"),
        &[("csrf", &csrf), ("parent", "")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = owner.get(&format!("/api/v1/folders/{a}")).await;
    assert_eq!(r.body["parent_id"], json!(null), "{}", r.body);
    let moves = t
        .audit_rows_where("action = 'folder.update' AND outcome = 'allowed'")
        .await;
    assert_eq!(moves.len(), 4, "rename, access, two moves: {moves:?}");

    // A reader may look, not change: 403 and the name stays.
    let (reader, _) = t
        .member(&owner, &cid, "pages.onlyreads@example.test", "reader")
        .await;
    let r = page(&reader, &format!("/folders/{b}/settings")).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let rcsrf = hidden(&page(&reader, &format!("/c/{cid}")).await.text, "csrf");
    let r = form(
        &reader,
        &format!("/folders/{b}/rename"),
        &[("csrf", &rcsrf), ("name", "Luvaton")],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = form(
        &reader,
        &format!("/folders/{b}/move"),
        &[("csrf", &rcsrf), ("parent", "")],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(
        owner.get(&format!("/api/v1/folders/{b}")).await.body["name"],
        json!("Työmaa B")
    );
    // Another company's owner: not found.
    let (_, stranger) = t
        .company_with_owner("Vieras Oy", "pages.stranger@example.test")
        .await;
    assert_eq!(
        page(&stranger, &format!("/folders/{a}/settings"))
            .await
            .status,
        404
    );
    assert_eq!(
        page(&stranger, &format!("/folders/{a}/move?to={b}"))
            .await
            .status,
        404
    );

    // In Finnish, the refusal is Finnish too.
    let r = owner.patch("/api/v1/me", json!({"language": "fi"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = form(
        &owner,
        &format!("/folders/{a}/rename"),
        &[("csrf", &csrf), ("name", "A/B")],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("Nimi: ei saa sisältää merkkiä / tai"),
        "{}",
        r.text
    );
}

both!(a_folder_page_sorts_by_its_column_headers);
async fn a_folder_page_sorts_by_its_column_headers(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Lajittelu Oy", "pages.sorter@example.test")
        .await;
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({"name": "Kansio"}),
        )
        .await;
    let fid = r.body["id"].as_str().unwrap_or_default().to_string();
    for title in ["Beta", "Alfa", "Gamma"] {
        t.clock.advance_secs(1);
        let r = owner
            .post(
                &format!("/api/v1/folders/{fid}/documents"),
                json!({"title": title}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let order = |html: &str| {
        let mut found: Vec<(usize, &str)> = ["Alfa", "Beta", "Gamma"]
            .into_iter()
            .filter_map(|n| html.find(&format!(">{n}</a>")).map(|at| (at, n)))
            .collect();
        found.sort();
        found
            .into_iter()
            .map(|(_, n)| n)
            .collect::<Vec<_>>()
            .join(" ")
    };

    // By name, the header says so and offers the other way round.
    let r = page(&owner, &format!("/folders/{fid}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(order(&r.text), "Alfa Beta Gamma");
    assert!(
        r.text
            .contains("aria-sort=\"ascending\"><a class=\"sort\" href=\"?sort=-name\""),
        "{}",
        r.text
    );
    assert!(r.text.contains("href=\"?sort=-updated\""), "{}", r.text);
    let r = page(&owner, &format!("/folders/{fid}?sort=-name")).await;
    assert_eq!(order(&r.text), "Gamma Beta Alfa");
    assert!(r.text.contains("aria-sort=\"descending\""), "{}", r.text);
    let r = page(&owner, &format!("/folders/{fid}?sort=-updated")).await;
    assert_eq!(order(&r.text), "Gamma Alfa Beta");
    let r = page(&owner, &format!("/folders/{fid}?sort=updated")).await;
    assert_eq!(order(&r.text), "Beta Alfa Gamma");
    let r = page(&owner, &format!("/c/{cid}?sort=-updated")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // An order that does not exist: the designed error page.
    let r = page(&owner, &format!("/folders/{fid}?sort=size")).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("Nothing was changed"), "{}", r.text);
}

both!(admins_edit_folder_templates_row_by_row);
async fn admins_edit_folder_templates_row_by_row(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Kansiopohjat Oy", "pages.ftemplates@example.test")
        .await;
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/templates"),
            json!({"name": "Aloituskokous", "fields": [{"key": "pvm", "type": "date", "label": "Date"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let doc_template = r.body["id"].as_str().unwrap_or_default().to_string();
    let r = page(&owner, &format!("/c/{cid}/templates")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Folder templates"), "{}", r.text);
    let csrf = hidden(&r.text, "csrf");
    let r = form(
        &owner,
        &format!("/c/{cid}/folder-templates"),
        &[("csrf", &csrf), ("name", "Työmaa")],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r
        .text
        .split("action=\"/folder-templates/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_default()
        .to_string();
    let edit = format!("/folder-templates/{id}/edit");
    assert!(
        r.text
            .contains(&format!("<option value=\"{doc_template}\"")),
        "{}",
        r.text
    );

    // Two identifiers (the second placed first), two sub-folders, a document.
    let filled = |names_a: &'static str| {
        let csrf = csrf.clone();
        let doc_template = doc_template.clone();
        let edit = edit.clone();
        let owner = &owner;
        async move {
            form(
                owner,
                &edit,
                &[
                    ("csrf", csrf.as_str()),
                    ("name", "Työmaa"),
                    ("icount", "2"),
                    ("i0.key", "numero"),
                    ("i0.label", "Site number"),
                    ("i0.pos", "2"),
                    ("i0.required", "true"),
                    ("i0.names_folder", "true"),
                    ("i1.key", "asiakas"),
                    ("i1.label", "Client"),
                    ("i1.pos", "1"),
                    ("i1.names_folder", names_a),
                    ("folders", "Kuvat\nRaportit\n"),
                    ("dcount", "1"),
                    ("d0.title", "Aloituskokous"),
                    ("d0.template_id", doc_template.as_str()),
                ],
            )
            .await
        }
    };
    // Two identifiers may not both name the folder: said, nothing saved.
    let r = filled("true").await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("only one identifier may name the folder"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("value=\"Client\""),
        "what was typed stays: {}",
        r.text
    );
    assert!(r.text.contains(">Kuvat\nRaportit</textarea>"), "{}", r.text);
    let r = filled("").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("The folder template is saved"),
        "{}",
        r.text
    );
    assert!(r.text.contains("(Version 2)"), "{}", r.text);
    let asiakas = r.text.find("value=\"asiakas\"").unwrap_or(usize::MAX);
    let numero = r.text.find("value=\"numero\"").unwrap_or(0);
    assert!(asiakas < numero, "placed by their numbers");
    assert!(r.text.contains(">Kuvat\nRaportit</textarea>"), "{}", r.text);

    // What the template now makes.
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({"template_id": id, "identifiers": {"numero": "T-7"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["name"], json!("T-7"));
    let fid = r.body["id"].as_str().unwrap_or_default().to_string();
    let r = owner.get(&format!("/api/v1/folders/{fid}/children")).await;
    let names: Vec<String> = r.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            i["name"]
                .as_str()
                .or(i["title"].as_str())
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["Kuvat", "Raportit", "Aloituskokous"], "{}", r.body);
    assert_eq!(
        t.audit_rows_where("action = 'folder_template.update'")
            .await
            .len(),
        1,
        "one saved version"
    );

    // A member sees the list, not the editor; a stranger not even that.
    let (member, _) = t
        .member(&owner, &cid, "pages.ftmember@example.test", "member")
        .await;
    let r = page(&member, &format!("/c/{cid}/templates")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains(&format!("href=\"{edit}\"")), "{}", r.text);
    assert_eq!(page(&member, &edit).await.status, 403);
    let mcsrf = hidden(&r.text, "csrf");
    let r = form(&member, &edit, &[("csrf", &mcsrf), ("name", "Oma")]).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let (_, stranger) = t
        .company_with_owner("Muu Oy", "pages.ftstranger@example.test")
        .await;
    assert_eq!(page(&stranger, &edit).await.status, 404);
}

both!(a_signature_drawn_on_the_form_is_saved_with_its_signer);
async fn a_signature_drawn_on_the_form_is_saved_with_its_signer(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Allekirjoitus Oy", "pages.signer@example.test")
        .await;
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/templates"),
            json!({"name": "Luovutus", "fields": [{"key": "kuittaus", "type": "signature", "label": "Kuittaus"}]}),
        )
        .await;
    let tid = r.body["id"].as_str().unwrap_or_default().to_string();
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folders"),
            json!({"name": "Luovutukset"}),
        )
        .await;
    let fid = r.body["id"].as_str().unwrap_or_default().to_string();
    let r = owner
        .post(
            &format!("/api/v1/folders/{fid}/documents"),
            json!({"title": "Avaimet", "template_id": tid}),
        )
        .await;
    let did = r.body["id"].as_str().unwrap_or_default().to_string();
    let edit = format!("/documents/{did}/edit");
    let r = page(&owner, &edit).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("data-signature-pad"), "{}", r.text);
    assert!(r.text.contains("name=\"f.kuittaus.signer\""), "{}", r.text);
    let csrf = hidden(&r.text, "csrf");
    let send = |version: &'static str, signer: &'static str, image: &'static str| {
        let (owner, edit, csrf) = (&owner, &edit, csrf.clone());
        async move {
            form(
                owner,
                edit,
                &[
                    ("csrf", csrf.as_str()),
                    ("version", version),
                    ("title", "Avaimet"),
                    ("f.kuittaus.signer", signer),
                    ("f.kuittaus.image", image),
                ],
            )
            .await
        }
    };
    // A name without a drawing: said next to the field, the name kept.
    let r = send("1", "Maija Vastaanottaja", "").await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("Draw the signature"), "{}", r.text);
    assert!(
        r.text.contains("value=\"Maija Vastaanottaja\""),
        "{}",
        r.text
    );
    // Not a PNG: refused by the document's rules, nothing saved.
    let r = send("1", "Maija Vastaanottaja", "javascript:alert(1)").await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(
        owner.get(&format!("/api/v1/documents/{did}")).await.body["version"],
        1
    );

    let png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    let r = send("1", "Maija Vastaanottaja", png).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("<figure class=\"signature\">"),
        "{}",
        r.text
    );
    let doc = owner.get(&format!("/api/v1/documents/{did}")).await;
    assert_eq!(
        doc.body["fields"]["kuittaus"],
        json!({"signer": "Maija Vastaanottaja", "image": png})
    );
    // The form shows it and keeps it when saved again unchanged.
    let r = page(&owner, &edit).await;
    assert!(r.text.contains("data-signature-now"), "{}", r.text);
    assert_eq!(hidden(&r.text, "f.kuittaus.image"), png);
    // Cleared: no signature any more.
    let r = send("2", "", "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let doc = owner.get(&format!("/api/v1/documents/{did}")).await;
    assert_eq!(doc.body["fields"].get("kuittaus"), None, "{}", doc.body);
}

both!(the_breadcrumbs_name_only_the_folders_the_user_may_see);
async fn the_breadcrumbs_name_only_the_folders_the_user_may_see(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Polku Oy", "pages.path@example.test")
        .await;
    let mut parent: Option<String> = None;
    let mut ids = Vec::new();
    for name in ["Projektit", "Salainen työmaa", "Kuvat"] {
        let r = owner
            .post(
                &format!("/api/v1/companies/{cid}/folders"),
                json!({"name": name, "parent_id": parent}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["id"].as_str().unwrap_or_default().to_string();
        parent = Some(id.clone());
        ids.push(id);
    }
    let (top, middle, photos) = (&ids[0], &ids[1], &ids[2]);
    let r = owner
        .post(
            &format!("/api/v1/folders/{photos}/documents"),
            json!({"title": "Julkisivu"}),
        )
        .await;
    let did = r.body["id"].as_str().unwrap_or_default().to_string();

    let crumbs = |html: &str| {
        html.split("class=\"crumbs\"")
            .nth(1)
            .and_then(|rest| rest.split("</nav>").next())
            .unwrap_or_default()
            .to_string()
    };
    let r = page(&owner, &format!("/folders/{photos}")).await;
    let c = crumbs(&r.text);
    assert!(
        c.contains(&format!("<a href=\"/folders/{top}\">Projektit</a>")),
        "{c}"
    );
    assert!(
        c.contains(&format!(
            "<a href=\"/folders/{middle}\">Salainen työmaa</a>"
        )),
        "{c}"
    );
    assert!(c.contains("aria-current=\"page\">Kuvat<"), "{c}");
    let r = page(&owner, &format!("/documents/{did}")).await;
    let c = crumbs(&r.text);
    assert!(
        c.contains("Projektit") && c.contains("Salainen työmaa"),
        "{c}"
    );
    assert!(
        c.contains(&format!("<a href=\"/folders/{photos}\">Kuvat</a>")),
        "{c}"
    );

    // A guest given only the photos folder: no name from above it.
    let guest = "pages.pathguest@example.test";
    let r = owner
        .post(
            &format!("/api/v1/folders/{photos}/shares"),
            json!({"email": guest, "right": "view"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    t.client().accept(&t, guest).await;
    let visitor = t.client();
    let r = form(
        &visitor,
        "/sign-in",
        &[("email", guest), ("password", PASSWORD)],
    )
    .await;
    assert!(r.text.contains("action=\"/sign-out\""), "{}", r.text);
    let r = page(&visitor, &format!("/folders/{photos}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("<h1>Kuvat"), "{}", r.text);
    let c = crumbs(&r.text);
    assert!(!c.contains("Projektit") && !c.contains("Salainen"), "{c}");
    assert!(!r.text.contains("Salainen työmaa"), "nowhere on the page");
    let r = page(&visitor, &format!("/documents/{did}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = crumbs(&r.text);
    assert!(!c.contains("Projektit") && !c.contains("Salainen"), "{c}");
    assert!(c.contains("Kuvat"), "the shared folder itself: {c}");
}

both!(the_set_up_link_makes_one_operator_however_often_it_is_posted);
async fn the_set_up_link_makes_one_operator_however_often_it_is_posted(t: TestApp) {
    let token = turva_app::operators::first_run_token(&t.app)
        .await
        .unwrap()
        .expect("no operator yet");
    let ctx = turva_app::Ctx::cli();
    let (a, b) = tokio::join!(
        turva_app::operators::create_first(&t.app, &ctx, &token, "one.op@example.test", PASSWORD),
        turva_app::operators::create_first(&t.app, &ctx, &token, "two.op@example.test", PASSWORD),
    );
    assert_eq!(
        usize::from(a.is_ok()) + usize::from(b.is_ok()),
        1,
        "one of the two: {a:?} {b:?}"
    );
    assert_eq!(t.count("users").await, 1);
    // And never again, even after a refused try.
    let r = turva_app::operators::create_first(&t.app, &ctx, &token, "x.op@example.test", "short")
        .await;
    assert!(matches!(r, Err(turva_app::AppError::Forbidden(_))), "{r:?}");
}

both!(the_folder_tree_nests_what_the_user_may_see);
async fn the_folder_tree_nests_what_the_user_may_see(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Puu Oy", "pages.tree@example.test")
        .await;
    let make = |name: &'static str, parent: Option<&str>, access: Option<&'static str>| {
        let (owner, cid, parent) = (&owner, &cid, parent.map(str::to_string));
        async move {
            let r = owner
                .post(
                    &format!("/api/v1/companies/{cid}/folders"),
                    json!({"name": name, "parent_id": parent, "member_access": access}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
            r.body["id"].as_str().unwrap_or_default().to_string()
        }
    };
    let a = make("A-työmaa", None, None).await;
    let a1 = make("A1 kuvat", Some(&a), None).await;
    let _a1x = make("A1x vanhat", Some(&a1), None).await;
    let _a2 = make("A2 raportit", Some(&a), None).await;
    let b = make("B-salainen", None, Some("none")).await;
    let b1 = make("B1 jaettu", Some(&b), None).await;

    // The owner: everything, nested, each level by name.
    let r = page(&owner, &format!("/c/{cid}")).await;
    assert!(
        r.text.contains(&format!("href=\"/c/{cid}/tree\"")),
        "{}",
        r.text
    );
    let r = page(&owner, &format!("/c/{cid}/tree")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r
        .text
        .split("<ul class=\"tree\">")
        .nth(1)
        .unwrap_or_default();
    let list = list.split("</nav>").next().unwrap_or_default();
    let squeezed: String = list.split_whitespace().collect::<Vec<_>>().join(" ");
    let names: Vec<&str> = [
        "A-työmaa",
        "A1 kuvat",
        "A1x vanhat",
        "A2 raportit",
        "B-salainen",
        "B1 jaettu",
    ]
    .into_iter()
    .collect();
    let at: Vec<usize> = names
        .iter()
        .map(|n| squeezed.find(n).unwrap_or(usize::MAX))
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "reading order: {squeezed}"
    );
    assert_eq!(
        squeezed.matches("<ul>").count(),
        3,
        "three nested lists: {squeezed}"
    );
    assert_eq!(
        squeezed.matches("<ul>").count() + 1,
        squeezed.matches("</ul>").count(),
        "balanced, with the outer list's end: {squeezed}"
    );
    assert_eq!(
        squeezed.matches("<li>").count(),
        squeezed.matches("</li>").count()
    );
    assert!(
        squeezed.contains("B-salainen</a> <span class=\"badge\">Restricted"),
        "{squeezed}"
    );
    let listed = t
        .audit_rows_where(&format!("action = 'folder.list' AND object_id = '{cid}'"))
        .await;
    assert!(!listed.is_empty(), "audited as a listing");

    // A member: not the restricted folder, nor what is in it.
    let (member, _) = t
        .member(&owner, &cid, "pages.treemember@example.test", "member")
        .await;
    let r = page(&member, &format!("/c/{cid}/tree")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("A1x vanhat"), "{}", r.text);
    assert!(
        !r.text.contains("B-salainen") && !r.text.contains("B1 jaettu"),
        "{}",
        r.text
    );

    // Shared B1 with the member: it is a root of their tree, B unnamed.
    let r = owner
        .post(
            &format!("/api/v1/folders/{b1}/shares"),
            json!({"email": "pages.treemember@example.test", "right": "view"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = page(&member, &format!("/c/{cid}/tree")).await;
    assert!(r.text.contains("B1 jaettu"), "{}", r.text);
    assert!(!r.text.contains("B-salainen"), "{}", r.text);

    // A guest given B1: B1 alone, as a root.
    let guest = "pages.treeguest@example.test";
    let r = owner
        .post(
            &format!("/api/v1/folders/{b1}/shares"),
            json!({"email": guest, "right": "view"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    t.client().accept(&t, guest).await;
    let visitor = t.client();
    form(
        &visitor,
        "/sign-in",
        &[("email", guest), ("password", PASSWORD)],
    )
    .await;
    let r = page(&visitor, &format!("/c/{cid}/tree")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("B1 jaettu"), "{}", r.text);
    for hidden in ["B-salainen", "A-työmaa", "A1 kuvat"] {
        assert!(!r.text.contains(hidden), "{hidden}: {}", r.text);
    }

    // Another company's owner: not found, nothing listed.
    let (_, stranger) = t
        .company_with_owner("Muu Puu Oy", "pages.treestranger@example.test")
        .await;
    let r = page(&stranger, &format!("/c/{cid}/tree")).await;
    assert!(
        r.status == 404 || r.status == 403,
        "{} {}",
        r.status,
        r.text
    );
    assert!(!r.text.contains("A-työmaa"));
}

both!(a_folder_template_keeps_its_document_template_past_the_first_200);
async fn a_folder_template_keeps_its_document_template_past_the_first_200(t: TestApp) {
    let (cid, owner) = t
        .company_with_owner("Monta Pohjaa Oy", "pages.manytemplates@example.test")
        .await;
    for i in 0..200 {
        let r = owner
            .post(
                &format!("/api/v1/companies/{cid}/templates"),
                json!({"name": format!("A{i:03}"), "fields": []}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/templates"),
            json!({"name": "Zeta", "fields": []}),
        )
        .await;
    let zeta = r.body["id"].as_str().unwrap_or_default().to_string();
    let r = owner
        .post(
            &format!("/api/v1/companies/{cid}/folder-templates"),
            json!({"name": "Työmaa", "documents": [{"title": "Z", "template_id": zeta}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap_or_default().to_string();
    let r = page(&owner, &format!("/folder-templates/{id}/edit")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text
            .contains(&format!("<option value=\"{zeta}\" selected>Zeta</option>")),
        "the 201st template is offered and chosen: {}",
        r.text
    );
}
