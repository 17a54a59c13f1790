//! The user's own page: name and language, second factors (an
//! authenticator app enrolled with its QR code, recovery codes shown once,
//! removal), the password, and live sessions with their end. A user whom a
//! company's `require_mfa` holds back reaches only the second-factor part.
//! Sensitive steps need a recent sign-in: the operation says so and the
//! page sends the user to `/reauth`, then back.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use turva_app::{api_tokens, auth, mfa, App, AppError};

use super::i18n::Texts;
use super::{
    csrf_checked, error_page, refused_value, render, value, Bar, Fields, Frame, Viewer,
    ASSET_VERSION,
};

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    csrf: &'a str,
    /// Why the user is held to enrolling a second factor, if they are.
    must_enrol: Option<&'static str>,
    /// A refused new address and why.
    email_error: Option<(&'a str, String)>,
    name: &'a str,
    email: &'a str,
    language: &'a str,
    languages: [(&'static str, &'static str); 3],
    /// (id, name, added)
    factors: Vec<(String, String, String)>,
    recovery_left: i64,
    /// (id, address, browser, last seen, this one)
    sessions: Vec<(String, String, String, String, bool)>,
    /// (id, name, company, read only, expires, last used)
    tokens: Vec<(String, String, String, bool, String, String)>,
    /// The companies a token can be for: (id, name).
    companies: Vec<(String, String)>,
    notice: Option<&'static str>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "totp_enrol.html")]
struct TotpPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    csrf: &'a str,
    id: &'a str,
    secret: &'a str,
    qr: &'a str,
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct CodesPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    codes: &'a [String],
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// Sensitive steps without a recent sign-in go through `/reauth`.
fn or_reauth(frame: &Frame, e: &AppError) -> Response {
    match e {
        AppError::ReauthRequired => Redirect::to("/reauth?next=/profile").into_response(),
        e => error_page(frame, e),
    }
}

async fn profile_page(
    app: &App,
    viewer: &Viewer,
    notice: Option<&'static str>,
    error: Option<String>,
) -> Response {
    profile_page_with(app, viewer, notice, error, None).await
}

/// The profile page; `email_error`: a new address that was refused, with
/// why, kept in its field.
async fn profile_page_with(
    app: &App,
    viewer: &Viewer,
    notice: Option<&'static str>,
    error: Option<String>,
    email_error: Option<(&str, String)>,
) -> Response {
    let frame = match viewer.frame(app, None).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = frame.t;
    let overview = match mfa::overview(app, &viewer.actor).await {
        Ok(o) => o,
        Err(e) => return error_page(&frame, &e),
    };
    let (sessions, tokens) = if viewer.actor.must_enrol {
        (Vec::new(), Vec::new())
    } else {
        let sessions = match auth::list_sessions(app, &viewer.actor).await {
            Ok(s) => s,
            Err(e) => return error_page(&frame, &e),
        };
        // A token cannot list or make tokens: its own page is empty here.
        let tokens = if viewer.actor.token.is_some() {
            Vec::new()
        } else {
            match api_tokens::list(app, &viewer.actor, None, 200).await {
                Ok(p) => p.items,
                Err(e) => return error_page(&frame, &e),
            }
        };
        (sessions, tokens)
    };
    let companies: Vec<(String, String)> = frame
        .bar
        .as_ref()
        .map(|b| {
            b.companies
                .iter()
                .map(|c| (c.id.clone(), c.name.clone()))
                .collect()
        })
        .unwrap_or_default();
    let company_name = |id: &str| {
        companies
            .iter()
            .find(|(c, _)| c == id)
            .map_or_else(|| id.to_string(), |(_, n)| n.clone())
    };
    render(
        if error.is_some() || email_error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        &ProfilePage {
            t,
            bar: frame.bar.as_ref(),
            asset_version: &ASSET_VERSION,
            csrf: &viewer.actor.csrf_token,
            must_enrol: viewer
                .actor
                .must_enrol
                .then_some(if viewer.actor.is_operator {
                    t.operator_mfa_lead
                } else {
                    t.mfa_required_lead
                }),
            email_error,
            name: &viewer.actor.name,
            email: &viewer.actor.email,
            language: &viewer.actor.language,
            languages: [("en", "English"), ("fi", "Suomi"), ("de", "Deutsch")],
            factors: overview
                .factors
                .iter()
                .map(|f| (f.id.clone(), f.name.clone(), t.moment(f.created_at)))
                .collect(),
            recovery_left: overview.recovery_codes_left,
            sessions: sessions
                .iter()
                .map(|s| {
                    (
                        s.row.id.clone(),
                        s.row.ip.clone(),
                        s.row.user_agent.chars().take(80).collect(),
                        t.moment(s.row.last_seen_at),
                        s.current,
                    )
                })
                .collect(),
            tokens: tokens
                .iter()
                .map(|k| {
                    (
                        k.id.clone(),
                        k.name.clone(),
                        company_name(&k.company_id),
                        k.read_only,
                        t.moment(k.expires_at),
                        k.last_used_at
                            .map_or_else(|| t.never.to_string(), |u| t.moment(u)),
                    )
                })
                .collect(),
            companies: companies.clone(),
            notice,
            error,
        },
    )
}

#[derive(Template)]
#[template(path = "token_created.html")]
struct TokenPage<'a> {
    t: &'static Texts,
    bar: Option<&'a Bar>,
    asset_version: &'a str,
    name: &'a str,
    token: &'a str,
}

/// `POST /profile/tokens`: a new API token, shown once.
pub async fn create_token(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let frame = match viewer.frame(&app, None).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = frame.t;
    let date = value(&form, "expires").unwrap_or_default();
    let expires = format!("{date}T23:59:59Z");
    let new = api_tokens::NewToken {
        name: value(&form, "name").unwrap_or_default(),
        company_id: value(&form, "company_id").unwrap_or_default(),
        expires_at: &expires,
        read_only: value(&form, "read_only") == Some("true"),
    };
    match api_tokens::create(&app, &viewer.ctx, &viewer.actor, &new).await {
        Ok(created) => render(
            StatusCode::OK,
            &TokenPage {
                t,
                bar: frame.bar.as_ref(),
                asset_version: &ASSET_VERSION,
                name: &created.row.name,
                token: &created.token,
            },
        ),
        Err(e) => match refused_value(viewer.t, &e) {
            Some(why) => profile_page(&app, &viewer, None, Some(why)).await,
            None => or_reauth(&frame, &e),
        },
    }
}

/// `POST /profile/tokens/{id}/revoke`.
pub async fn revoke_token(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    match api_tokens::revoke(&app, &viewer.ctx, &viewer.actor, &id).await {
        Ok(()) => Redirect::to("/profile?done=token").into_response(),
        Err(e) => or_reauth(&viewer.bare(), &e),
    }
}

/// `GET /profile`.
pub async fn page(State(app): State<App>, viewer: Viewer, Query(q): Query<Done>) -> Response {
    let t = viewer.t;
    let notice = match q.done.as_deref() {
        Some("saved") => Some(t.profile_saved),
        Some("totp") => Some(t.enrolled),
        Some("removed") => Some(t.factor_removed),
        Some("password") => Some(t.password_changed),
        Some("email") => Some(t.email_link_sent),
        Some("passkey") => Some(t.passkey_added),
        Some("token") => Some(t.token_revoked),
        _ => None,
    };
    profile_page(&app, &viewer, notice, None).await
}

/// `POST /profile`: name and language.
pub async fn save(State(app): State<App>, viewer: Viewer, Form(form): Form<Fields>) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let changes = auth::MeChanges {
        name: value(&form, "name"),
        language: value(&form, "language"),
        email: None,
    };
    match auth::update_me(&app, &viewer.ctx, &viewer.actor, changes).await {
        Ok(_) => Redirect::to("/profile?done=saved").into_response(),
        Err(e) => match refused_value(viewer.t, &e) {
            Some(why) => profile_page(&app, &viewer, None, Some(why)).await,
            None => or_reauth(&viewer.bare(), &e),
        },
    }
}

/// `POST /profile/email`: a link to the new address (recent auth first);
/// the change takes effect when it is used.
pub async fn email(State(app): State<App>, viewer: Viewer, Form(form): Form<Fields>) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let typed = value(&form, "email").unwrap_or_default();
    let refused = |why: String| profile_page_with(&app, &viewer, None, None, Some((typed, why)));
    if typed.trim().eq_ignore_ascii_case(&viewer.actor.email) {
        return refused(viewer.t.email_is_yours.to_string()).await;
    }
    let changes = auth::MeChanges {
        email: Some(typed),
        ..auth::MeChanges::default()
    };
    match auth::update_me(&app, &viewer.ctx, &viewer.actor, changes).await {
        Ok(_) => Redirect::to("/profile?done=email").into_response(),
        Err(AppError::Conflict(why)) => refused(viewer.t.reason(why)).await,
        Err(
            AppError::Invalid { reason, .. }
            | AppError::Malformed { reason, .. }
            | AppError::InvalidValue { reason, .. },
        ) => refused(viewer.t.reason(&reason)).await,
        Err(e) => or_reauth(&viewer.bare(), &e),
    }
}

/// `POST /profile/password`.
pub async fn password(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let t = viewer.t;
    let new = value(&form, "new").unwrap_or_default();
    if value(&form, "repeat") != Some(new) {
        return profile_page(&app, &viewer, None, Some(t.passwords_differ.to_string())).await;
    }
    let current = value(&form, "current").unwrap_or_default();
    match auth::change_password(&app, &viewer.ctx, &viewer.actor, current, new).await {
        Ok(()) => Redirect::to("/profile?done=password").into_response(),
        Err(AppError::InvalidCredentials) => {
            profile_page(&app, &viewer, None, Some(t.wrong_credentials.to_string())).await
        }
        Err(AppError::RateLimited { .. }) => {
            profile_page(&app, &viewer, None, Some(t.too_many_attempts.to_string())).await
        }
        Err(
            AppError::Invalid { reason, .. }
            | AppError::Malformed { reason, .. }
            | AppError::InvalidValue { reason, .. },
        ) => {
            let why = format!("{} {}", t.password_refused, t.reason(&reason));
            profile_page(&app, &viewer, None, Some(why)).await
        }
        Err(e) => error_page(&Frame { t, bar: None }, &e),
    }
}

/// `POST /profile/totp`: a new secret, its QR code and key shown once.
pub async fn start_totp(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let frame = match viewer.frame(&app, None).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match mfa::start_totp(&app, &viewer.ctx, &viewer.actor, None).await {
        Ok(start) => render(
            StatusCode::OK,
            &TotpPage {
                t: frame.t,
                bar: frame.bar.as_ref(),
                asset_version: &ASSET_VERSION,
                csrf: &viewer.actor.csrf_token,
                id: &start.id,
                secret: &start.secret,
                qr: &start.qr,
                error: None,
            },
        ),
        Err(e) => or_reauth(&frame, &e),
    }
}

/// `POST /profile/totp/confirm`: a current code confirms it; for a first
/// factor, the recovery codes are shown once.
pub async fn confirm_totp(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let frame = match viewer.frame(&app, None).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = frame.t;
    let id = value(&form, "id").unwrap_or_default();
    let code = value(&form, "code").unwrap_or_default();
    match mfa::confirm_totp(&app, &viewer.ctx, &viewer.actor, id, code).await {
        Ok(Some(codes)) => render(
            StatusCode::OK,
            &CodesPage {
                t,
                bar: frame.bar.as_ref(),
                asset_version: &ASSET_VERSION,
                codes: &codes,
                notice: Some(t.enrolled),
            },
        ),
        Ok(None) => Redirect::to("/profile?done=totp").into_response(),
        // A wrong code: the same QR code again, to try once more.
        Err(
            e @ (AppError::InvalidCredentials
            | AppError::Invalid { .. }
            | AppError::Malformed { .. }
            | AppError::RateLimited { .. }),
        ) => {
            let message = match e {
                AppError::RateLimited { .. } => t.too_many_attempts,
                _ => t.wrong_code,
            };
            render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &TotpPage {
                    t,
                    bar: frame.bar.as_ref(),
                    asset_version: &ASSET_VERSION,
                    csrf: &viewer.actor.csrf_token,
                    id,
                    secret: value(&form, "secret").unwrap_or_default(),
                    qr: value(&form, "qr")
                        .filter(|q| q.starts_with("data:image/svg+xml;base64,"))
                        .unwrap_or_default(),
                    error: Some(message),
                },
            )
        }
        Err(e) => or_reauth(&frame, &e),
    }
}

/// `POST /profile/passkey`: the browser's answer to the registration
/// options (posted by the page's script); for a first factor, the
/// recovery codes are shown once.
pub async fn add_passkey(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let frame = match viewer.frame(&app, None).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let t = frame.t;
    let Ok(answer) =
        serde_json::from_str::<serde_json::Value>(value(&form, "answer").unwrap_or(""))
    else {
        return profile_page(&app, &viewer, None, Some(t.passkey_failed.to_string())).await;
    };
    match turva_app::passkeys::finish_registration(&app, &viewer.ctx, &viewer.actor, &answer).await
    {
        Ok(r) => match r.recovery_codes {
            Some(codes) => render(
                StatusCode::OK,
                &CodesPage {
                    t,
                    bar: frame.bar.as_ref(),
                    asset_version: &ASSET_VERSION,
                    codes: &codes,
                    notice: Some(t.passkey_added),
                },
            ),
            None => Redirect::to("/profile?done=passkey").into_response(),
        },
        Err(AppError::ReauthRequired) => or_reauth(&frame, &AppError::ReauthRequired),
        Err(AppError::Internal(why)) => error_page(&frame, &AppError::Internal(why)),
        Err(e) => {
            tracing::info!(error = %e, "a passkey was not added");
            profile_page(&app, &viewer, None, Some(t.passkey_failed.to_string())).await
        }
    }
}

/// `POST /profile/recovery-codes`: a new set, shown once.
pub async fn renew_codes(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    let frame = match viewer.frame(&app, None).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match mfa::renew_recovery_codes(&app, &viewer.ctx, &viewer.actor).await {
        Ok(codes) => render(
            StatusCode::OK,
            &CodesPage {
                t: frame.t,
                bar: frame.bar.as_ref(),
                asset_version: &ASSET_VERSION,
                codes: &codes,
                notice: None,
            },
        ),
        Err(e) => or_reauth(&frame, &e),
    }
}

/// `POST /profile/factors/{id}/remove`.
pub async fn remove_factor(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    match mfa::remove(&app, &viewer.ctx, &viewer.actor, &id).await {
        Ok(()) => Redirect::to("/profile?done=removed").into_response(),
        Err(e) => or_reauth(&viewer.bare(), &e),
    }
}

/// `POST /profile/sessions/{id}/end`.
pub async fn end_session(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<Fields>,
) -> Response {
    if let Err(r) = csrf_checked(&app, &viewer, &form).await {
        return r;
    }
    match auth::revoke_session(&app, &viewer.ctx, &viewer.actor, &id).await {
        Ok(()) => Redirect::to("/profile").into_response(),
        Err(e) => error_page(&viewer.bare(), &e),
    }
}
