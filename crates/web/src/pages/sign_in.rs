//! Signing in (password, then a TOTP or recovery code when the account
//! has a second factor) and out, through the same operations as
//! `/api/v1/auth/…`.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use turva_app::{auth, mfa, App, AppError};

use super::i18n::{self, Texts};
use super::ASSET_VERSION;
use super::{error_page, render, safe_next, same_origin, with_cookie, Bar, Frame, Viewer};
use crate::extract::{session_cookie, ClientCtx, SESSION_COOKIE};

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    notice: Option<&'static str>,
    error: Option<&'static str>,
    email: &'a str,
    next: &'a str,
}

#[derive(Template)]
#[template(path = "sign_in_code.html")]
struct CodePage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    error: Option<&'static str>,
    mfa_token: &'a str,
    next: &'a str,
    /// The WebAuthn options of the user's passkeys (JSON), when they have
    /// any: the page's script offers them as the second step.
    passkey: Option<String>,
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
    /// Which notice to show (never text from the address itself).
    notice: Option<String>,
}

fn sign_in_page(
    status: StatusCode,
    t: &'static Texts,
    error: Option<&'static str>,
    email: &str,
    next: &str,
) -> Response {
    render(
        status,
        &SignInPage {
            t,
            bar: None,
            asset_version: &ASSET_VERSION,
            notice: None,
            error,
            email,
            next: safe_next(next),
        },
    )
}

/// `GET /sign-in`.
pub async fn page(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> Response {
    let t = i18n::choose(None, &headers);
    // That a server waits for its first operator is said only on its own
    // machine, not advertised to anyone who finds it.
    let local = ctx.ip.is_loopback();
    let notice = match q.notice.as_deref() {
        Some("password-set") => Some(t.password_set),
        Some("operator-ready") => Some(t.operator_ready),
        _ if local && matches!(turva_app::operators::first_run_open(&app).await, Ok(true)) => {
            Some(t.setup_pending)
        }
        _ => None,
    };
    render(
        StatusCode::OK,
        &SignInPage {
            t,
            bar: None,
            asset_version: &ASSET_VERSION,
            notice,
            error: None,
            email: "",
            next: safe_next(q.next.as_deref().unwrap_or("/")),
        },
    )
}

#[derive(Deserialize)]
pub struct PasswordForm {
    email: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// Signed in: the session cookie, and on to where the user was going.
fn signed_in(app: &App, token: &str, next: &str) -> Response {
    with_cookie(
        Redirect::to(safe_next(next)).into_response(),
        &session_cookie(app, token),
    )
}

/// The message for a failed step, and its status.
pub(super) fn failure(t: &'static Texts, e: &AppError) -> Option<(StatusCode, &'static str)> {
    match e {
        AppError::InvalidCredentials
        | AppError::Malformed { .. }
        | AppError::Invalid { .. }
        | AppError::InvalidValue { .. } => Some((StatusCode::UNAUTHORIZED, t.wrong_credentials)),
        AppError::RateLimited { .. } => Some((StatusCode::TOO_MANY_REQUESTS, t.too_many_attempts)),
        _ => None,
    }
}

/// `POST /sign-in`: the password step.
pub async fn password(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Response {
    let t = i18n::choose(None, &headers);
    if !same_origin(&headers) {
        return sign_in_page(StatusCode::FORBIDDEN, t, Some(t.stale_form), "", &form.next);
    }
    after_password(&app, &ctx, t, &form.email, &form.password, &form.next).await
}

/// The password step (of the sign-in form, or right after accepting an
/// invitation): the session and on to `next`, or the code page.
pub(super) async fn after_password(
    app: &App,
    ctx: &turva_app::Ctx,
    t: &'static Texts,
    email: &str,
    password: &str,
    next: &str,
) -> Response {
    match auth::login(app, ctx, email, password).await {
        Ok(auth::Login::Session(ok)) => signed_in(app, &ok.token, next),
        Ok(auth::Login::SecondFactor { mfa_token, passkey }) => render(
            StatusCode::OK,
            &CodePage {
                t,
                bar: None,
                asset_version: &ASSET_VERSION,
                error: None,
                mfa_token: &mfa_token,
                next: safe_next(next),
                passkey: passkey.map(|p| p.to_string()),
            },
        ),
        Err(e) => match failure(t, &e) {
            Some((status, message)) => sign_in_page(status, t, Some(message), email.trim(), next),
            None => error_page(&Frame { t, bar: None }, &e),
        },
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    mfa_token: String,
    #[serde(default)]
    code: String,
    /// The browser's answer to the passkey options (posted by the script).
    #[serde(default)]
    passkey: String,
    #[serde(default)]
    next: String,
}

/// `POST /sign-in/code`: the second step, with a TOTP or recovery code.
pub async fn code(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let t = i18n::choose(None, &headers);
    if !same_origin(&headers) {
        return sign_in_page(StatusCode::FORBIDDEN, t, Some(t.stale_form), "", &form.next);
    }
    let answer: Option<serde_json::Value> = (!form.passkey.is_empty())
        .then(|| serde_json::from_str(&form.passkey).ok())
        .flatten();
    let step = match &answer {
        Some(a) => mfa::SecondStep::Passkey(a),
        None => mfa::SecondStep::Code(&form.code),
    };
    match mfa::complete_login(&app, &ctx, &form.mfa_token, step).await {
        Ok(ok) => signed_in(&app, &ok.token, &form.next),
        // The step's token died (too old, or too many wrong codes).
        Err(AppError::Unauthenticated) => sign_in_page(
            StatusCode::UNAUTHORIZED,
            t,
            Some(t.code_expired),
            "",
            &form.next,
        ),
        Err(e) => match failure(t, &e) {
            Some((status, message)) => render(
                status,
                &CodePage {
                    t,
                    bar: None,
                    asset_version: &ASSET_VERSION,
                    error: Some(if status == StatusCode::UNAUTHORIZED {
                        t.wrong_code
                    } else {
                        message
                    }),
                    mfa_token: &form.mfa_token,
                    next: safe_next(&form.next),
                    passkey: None,
                },
            ),
            None => error_page(&Frame { t, bar: None }, &e),
        },
    }
}

#[derive(Deserialize)]
pub struct PasskeyForm {
    answer: String,
    #[serde(default)]
    next: String,
}

/// `POST /sign-in/passkey`: the browser's WebAuthn answer (posted by the
/// page's script) signs in without a password; it counts as a second
/// factor, as through the API.
pub async fn passkey(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    headers: HeaderMap,
    Form(form): Form<PasskeyForm>,
) -> Response {
    let t = i18n::choose(None, &headers);
    if !same_origin(&headers) {
        return sign_in_page(StatusCode::FORBIDDEN, t, Some(t.stale_form), "", &form.next);
    }
    let answer: serde_json::Value = match serde_json::from_str(&form.answer) {
        Ok(v) => v,
        Err(_) => {
            return sign_in_page(
                StatusCode::BAD_REQUEST,
                t,
                Some(t.passkey_failed),
                "",
                &form.next,
            )
        }
    };
    match turva_app::passkeys::finish_login(&app, &ctx, &answer).await {
        Ok(ok) => signed_in(&app, &ok.token, &form.next),
        Err(AppError::RateLimited { .. }) => sign_in_page(
            StatusCode::TOO_MANY_REQUESTS,
            t,
            Some(t.too_many_attempts),
            "",
            &form.next,
        ),
        Err(e @ (AppError::Internal(_) | AppError::Unavailable(_))) => {
            error_page(&Frame { t, bar: None }, &e)
        }
        Err(_) => sign_in_page(
            StatusCode::UNAUTHORIZED,
            t,
            Some(t.passkey_failed),
            "",
            &form.next,
        ),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /sign-out`: ends the session (with the page's CSRF token).
pub async fn sign_out(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<CsrfForm>,
) -> Response {
    let frame = viewer.bare();
    if !auth::csrf_ok(&viewer.actor, Some(&form.csrf)) {
        let e = auth::csrf_denied(&app, &viewer.ctx, &viewer.actor).await;
        return error_page(&frame, &e);
    }
    if let Err(e) = auth::logout(&app, &viewer.ctx, &viewer.actor).await {
        return error_page(&frame, &e);
    }
    with_cookie(
        Redirect::to("/sign-in").into_response(),
        &format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"),
    )
}
