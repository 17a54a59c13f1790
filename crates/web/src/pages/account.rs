//! The pages emails link to: accepting an invitation (a new account or an
//! existing one), a forgotten password and its reset, confirming a new
//! email address; and the first-run set-up that `turva serve` links to
//! while no operator exists. None needs a session; each posts only from
//! this origin, and a token is consumed only by a successful use (as in
//! the API).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use turva_app::{auth, operators, App, AppError};

use super::i18n::{self, Texts};
use super::sign_in::{after_password, failure};
use super::{error_page, render, same_origin, value, Bar, Fields, Frame, ASSET_VERSION};
use crate::extract::ClientCtx;

#[derive(Template)]
#[template(path = "accept_invite.html")]
struct AcceptPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    error: Option<String>,
    token: &'a str,
    email: &'a str,
    name: &'a str,
    company: &'a str,
    new_account: bool,
    is_share: bool,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    title: &'a str,
    body: &'a str,
    alert: bool,
    link: &'a str,
    link_text: &'a str,
}

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    error: Option<String>,
    token: &'a str,
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    error: Option<String>,
    token: &'a str,
    email: &'a str,
}

#[derive(Template)]
#[template(path = "confirm_email.html")]
struct ConfirmPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    token: &'a str,
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

fn message(
    status: StatusCode,
    t: &'static Texts,
    title: &str,
    body: &str,
    alert: bool,
) -> Response {
    render(
        status,
        &MessagePage {
            t,
            bar: None,
            asset_version: &ASSET_VERSION,
            title,
            body,
            alert,
            link: "/sign-in",
            link_text: t.to_sign_in,
        },
    )
}

/// A link whose token is unknown, used or expired.
fn dead_link(t: &'static Texts, title: &str) -> Response {
    message(StatusCode::BAD_REQUEST, t, title, t.invalid_link, true)
}

/// A message for a refused new password, in the user's language where
/// the rule is known (the rule's own words follow).
fn refused_password(t: &'static Texts, e: &AppError) -> Option<String> {
    match e {
        AppError::Invalid { field, reason } if *field == "password" => {
            Some(format!("{} {}", t.password_refused, t.reason(reason)))
        }
        AppError::InvalidValue { field, reason } if field == "password" => {
            Some(format!("{} {}", t.password_refused, t.reason(reason)))
        }
        AppError::Malformed { field, reason } if *field == "password" || *field == "name" => {
            Some(format!("{} {}", t.password_refused, t.reason(reason)))
        }
        _ => None,
    }
}

/// `GET /accept-invite?token=…`.
pub async fn accept_page(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    let t = i18n::choose(None, &headers);
    match auth::invitation(&app, &q.token).await {
        Ok(inv) => render(
            StatusCode::OK,
            &AcceptPage {
                t,
                bar: None,
                asset_version: &ASSET_VERSION,
                error: None,
                token: &q.token,
                email: &inv.email,
                name: "",
                company: &inv.company_name,
                new_account: inv.new_account,
                is_share: inv.is_share,
            },
        ),
        Err(AppError::Invalid { .. }) => dead_link(t, t.accept_title),
        Err(e) => error_page(&Frame { t, bar: None }, &e),
    }
}

#[derive(Deserialize)]
pub struct AcceptForm {
    token: String,
    password: String,
    #[serde(default)]
    repeat: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /accept-invite`: accepts, then signs in with the same password
/// (a second factor, if the account has one, is asked next).
pub async fn accept(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    headers: HeaderMap,
    Form(form): Form<AcceptForm>,
) -> Response {
    let t = i18n::choose(None, &headers);
    let inv = match auth::invitation(&app, &form.token).await {
        Ok(inv) => inv,
        Err(AppError::Invalid { .. }) => return dead_link(t, t.accept_title),
        Err(e) => return error_page(&Frame { t, bar: None }, &e),
    };
    let again = |error: String| {
        render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &AcceptPage {
                t,
                bar: None,
                asset_version: &ASSET_VERSION,
                error: Some(error),
                token: &form.token,
                email: &inv.email,
                name: form.name.as_deref().unwrap_or(""),
                company: &inv.company_name,
                new_account: inv.new_account,
                is_share: inv.is_share,
            },
        )
    };
    if !same_origin(&headers) {
        return again(t.stale_form.to_string());
    }
    if inv.new_account && form.repeat.as_deref() != Some(form.password.as_str()) {
        return again(t.passwords_differ.to_string());
    }
    let name = if inv.new_account {
        form.name.as_deref()
    } else {
        None
    };
    match auth::accept_invite(&app, &ctx, &form.token, &form.password, name).await {
        Ok(accepted) => {
            after_password(&app, &ctx, t, &accepted.user.email, &form.password, "/").await
        }
        Err(AppError::InvalidCredentials) => {
            let mut r = again(t.wrong_credentials.to_string());
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
        Err(AppError::Invalid { field: "token", .. }) => dead_link(t, t.accept_title),
        Err(e) => match refused_password(t, &e) {
            Some(why) => again(why),
            None => match failure(t, &e) {
                Some((status, msg)) => {
                    let mut r = again(msg.to_string());
                    *r.status_mut() = status;
                    r
                }
                None => error_page(&Frame { t, bar: None }, &e),
            },
        },
    }
}

/// `GET /forgot-password`.
pub async fn forgot_page(headers: HeaderMap) -> Response {
    let t = i18n::choose(None, &headers);
    render(
        StatusCode::OK,
        &ForgotPage {
            t,
            bar: None,
            asset_version: &ASSET_VERSION,
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct EmailForm {
    email: String,
}

/// `POST /forgot-password`: the same answer whether or not the address
/// has an account.
pub async fn forgot(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    headers: HeaderMap,
    Form(form): Form<EmailForm>,
) -> Response {
    let t = i18n::choose(None, &headers);
    let refuse = |status: StatusCode, error: &'static str| {
        render(
            status,
            &ForgotPage {
                t,
                bar: None,
                asset_version: &ASSET_VERSION,
                error: Some(error),
            },
        )
    };
    if !same_origin(&headers) {
        return refuse(StatusCode::FORBIDDEN, t.stale_form);
    }
    match auth::request_password_reset(&app, &ctx, &form.email).await {
        Ok(()) => message(StatusCode::OK, t, t.forgot_title, t.link_sent, false),
        Err(AppError::RateLimited { .. }) => {
            refuse(StatusCode::TOO_MANY_REQUESTS, t.too_many_attempts)
        }
        Err(AppError::Malformed { .. } | AppError::Invalid { .. }) => {
            refuse(StatusCode::UNPROCESSABLE_ENTITY, t.wrong_credentials)
        }
        Err(e) => error_page(&Frame { t, bar: None }, &e),
    }
}

/// `GET /reset-password?token=…`.
pub async fn reset_page(headers: HeaderMap, Query(q): Query<TokenQuery>) -> Response {
    let t = i18n::choose(None, &headers);
    render(
        StatusCode::OK,
        &ResetPage {
            t,
            bar: None,
            asset_version: &ASSET_VERSION,
            error: None,
            token: &q.token,
        },
    )
}

#[derive(Deserialize)]
pub struct ResetForm {
    token: String,
    password: String,
    repeat: String,
}

/// `POST /reset-password`: sets it, ends every session; then sign in.
pub async fn reset(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    headers: HeaderMap,
    Form(form): Form<ResetForm>,
) -> Response {
    let t = i18n::choose(None, &headers);
    let again = |status: StatusCode, error: String| {
        render(
            status,
            &ResetPage {
                t,
                bar: None,
                asset_version: &ASSET_VERSION,
                error: Some(error),
                token: &form.token,
            },
        )
    };
    if !same_origin(&headers) {
        return again(StatusCode::FORBIDDEN, t.stale_form.to_string());
    }
    if form.password != form.repeat {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            t.passwords_differ.to_string(),
        );
    }
    match auth::confirm_password_reset(&app, &ctx, &form.token, &form.password).await {
        Ok(()) => Redirect::to("/sign-in?notice=password-set").into_response(),
        Err(AppError::Invalid { field: "token", .. }) => dead_link(t, t.reset_title),
        Err(e) => match refused_password(t, &e) {
            Some(why) => again(StatusCode::UNPROCESSABLE_ENTITY, why),
            None => match failure(t, &e) {
                Some((status, msg)) => again(status, msg.to_string()),
                None => error_page(&Frame { t, bar: None }, &e),
            },
        },
    }
}

/// `GET /confirm-email?token=…`: a button, so that a mail scanner that
/// follows the link changes nothing.
pub async fn confirm_page(headers: HeaderMap, Query(q): Query<TokenQuery>) -> Response {
    let t = i18n::choose(None, &headers);
    render(
        StatusCode::OK,
        &ConfirmPage {
            t,
            bar: None,
            asset_version: &ASSET_VERSION,
            token: &q.token,
        },
    )
}

#[derive(Deserialize)]
pub struct TokenForm {
    token: String,
}

/// `POST /confirm-email`.
pub async fn confirm(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let t = i18n::choose(None, &headers);
    if !same_origin(&headers) {
        return message(
            StatusCode::FORBIDDEN,
            t,
            t.confirm_email_title,
            t.stale_form,
            true,
        );
    }
    match auth::confirm_email_change(&app, &ctx, &form.token).await {
        Ok(_) => message(
            StatusCode::OK,
            t,
            t.confirm_email_title,
            t.email_confirmed,
            false,
        ),
        Err(AppError::Invalid { field: "token", .. }) => dead_link(t, t.confirm_email_title),
        Err(e) => match failure(t, &e) {
            Some((status, msg)) => message(status, t, t.confirm_email_title, msg, true),
            None => error_page(&Frame { t, bar: None }, &e),
        },
    }
}

/// `GET /setup?token=…`: the first operator's form, while the link that
/// `turva serve` printed is good and no operator exists.
pub async fn setup_page(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    let t = i18n::choose(None, &headers);
    let open = operators::first_run_open(&app).await;
    if !matches!(open, Ok(true)) || !operators::first_run_token_valid(&app, &q.token) {
        return message(
            StatusCode::NOT_FOUND,
            t,
            t.setup_title,
            t.setup_closed,
            true,
        );
    }
    render(
        StatusCode::OK,
        &SetupPage {
            t,
            bar: None,
            asset_version: &ASSET_VERSION,
            error: None,
            token: &q.token,
            email: "",
        },
    )
}

/// `POST /setup`: creates the first operator, then on to signing in (and
/// from there to enrolling the second factor operators must have).
pub async fn setup(
    State(app): State<App>,
    ClientCtx(ctx): ClientCtx,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    let t = i18n::choose(None, &headers);
    let token = value(&form, "token").unwrap_or_default();
    let email = value(&form, "email").unwrap_or_default();
    let password = value(&form, "password").unwrap_or_default();
    let again = |status: StatusCode, error: String| {
        render(
            status,
            &SetupPage {
                t,
                bar: None,
                asset_version: &ASSET_VERSION,
                error: Some(error),
                token,
                email,
            },
        )
    };
    if !same_origin(&headers) {
        return again(StatusCode::FORBIDDEN, t.stale_form.to_string());
    }
    if password != value(&form, "repeat").unwrap_or_default() {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            t.passwords_differ.to_string(),
        );
    }
    match operators::create_first(&app, &ctx, token, email, password).await {
        Ok(_) => Redirect::to("/sign-in?notice=operator-ready").into_response(),
        Err(AppError::Forbidden(_) | AppError::Conflict("an operator already exists")) => message(
            StatusCode::NOT_FOUND,
            t,
            t.setup_title,
            t.setup_closed,
            true,
        ),
        Err(e) => match refused_password(t, &e) {
            Some(why) => again(StatusCode::UNPROCESSABLE_ENTITY, why),
            None => match &e {
                AppError::Invalid { reason, .. } | AppError::Malformed { reason, .. } => again(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("{}: {}", t.email, t.reason(reason)),
                ),
                AppError::Conflict(why) => again(
                    StatusCode::CONFLICT,
                    format!("{}: {}", t.email, t.reason(why)),
                ),
                _ => error_page(&Frame { t, bar: None }, &e),
            },
        },
    }
}
