//! Security alerts to a company's owners and admins, by email: a new owner
//! or admin, `require_mfa` turned off, many failed sign-ins to one of its
//! members' accounts, one person downloading an unusual number of its files
//! in a short time. Each alert is itself an event in the company's log
//! (`alert.*`), recorded in the transaction of the change that caused it
//! (or, for downloads, in its own); the emails go out after the commit.
//!
//! Thresholds are `[audit] alert_failed_signins` within
//! `alert_failed_signins_minutes`, and `alert_downloads` within
//! `alert_downloads_minutes`. An alert goes out when the count within the
//! window reaches the threshold, and then not again for one window length
//! however long it stays above. Failed sign-ins are counted in
//! the database (`throttle_events`, per account); downloads are counted in
//! the memory of the process that served them.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use turva_model::audit::{AuditAction, ObjectType, Outcome};
use turva_model::{Language, Role};
use turva_store::{members, throttle as counters, Tx};

use crate::audit::{self, Event};
use crate::mail::Mail;
use crate::{App, AppError, Ctx};

/// What happened.
#[derive(Debug, Clone)]
pub enum Alert {
    /// `email` became an owner or admin.
    PrivilegedMember { email: String, role: Role },
    /// `by` turned `require_mfa` off.
    RequireMfaOff { by: String },
    /// `count` failed sign-ins to `email`'s account within `minutes`.
    FailedSignins {
        email: String,
        count: i64,
        minutes: i64,
    },
    /// `email` downloaded `count` files within `minutes`.
    Downloads {
        email: String,
        count: i64,
        minutes: i64,
    },
}

impl Alert {
    fn action(&self) -> AuditAction {
        match self {
            Alert::PrivilegedMember { .. } => AuditAction::AlertPrivilegedMember,
            Alert::RequireMfaOff { .. } => AuditAction::AlertRequireMfaOff,
            Alert::FailedSignins { .. } => AuditAction::AlertFailedSignins,
            Alert::Downloads { .. } => AuditAction::AlertDownloads,
        }
    }

    /// The subject and text of the email, in `lang`.
    fn text(&self, lang: Language, company: &str) -> (String, String) {
        let what = match (self, lang) {
            (Alert::PrivilegedMember { email, role }, Language::En) => format!("{email} is now {} of {company}.", role_en(*role)),
            (Alert::PrivilegedMember { email, role }, Language::Fi) => format!("{email} on nyt yrityksen {company} {}.", role_fi(*role)),
            (Alert::PrivilegedMember { email, role }, Language::De) => format!("{email} ist jetzt {} von {company}.", role_de(*role)),
            (Alert::RequireMfaOff { by }, Language::En) => format!("{by} turned off the rule that every member of {company} must use a second factor."),
            (Alert::RequireMfaOff { by }, Language::Fi) => format!("{by} poisti käytöstä säännön, jonka mukaan jokaisen yrityksen {company} jäsenen on käytettävä toista tunnistustekijää."),
            (Alert::RequireMfaOff { by }, Language::De) => format!("{by} hat die Regel abgeschaltet, dass jedes Mitglied von {company} einen zweiten Faktor verwenden muss."),
            (Alert::FailedSignins { email, count, minutes }, Language::En) => format!("There were {count} failed sign-ins to the account of {email}, a member of {company}, within {minutes} minutes. Someone may be guessing its password."),
            (Alert::FailedSignins { email, count, minutes }, Language::Fi) => format!("Yrityksen {company} jäsenen {email} tilille yritettiin kirjautua {count} kertaa epäonnistuneesti {minutes} minuutin aikana. Joku saattaa arvata salasanaa."),
            (Alert::FailedSignins { email, count, minutes }, Language::De) => format!("Es gab {count} fehlgeschlagene Anmeldungen am Konto von {email}, Mitglied von {company}, innerhalb von {minutes} Minuten. Jemand versucht möglicherweise, das Passwort zu erraten."),
            (Alert::Downloads { email, count, minutes }, Language::En) => format!("{email} downloaded {count} files of {company} within {minutes} minutes."),
            (Alert::Downloads { email, count, minutes }, Language::Fi) => format!("{email} latasi {count} yrityksen {company} tiedostoa {minutes} minuutin aikana."),
            (Alert::Downloads { email, count, minutes }, Language::De) => format!("{email} hat innerhalb von {minutes} Minuten {count} Dateien von {company} heruntergeladen."),
        };
        let (subject, tail) = match lang {
            Language::En => (
                format!("Turva security alert: {company}"),
                "If this was expected, nothing needs to be done. Otherwise, look at the company's audit log in Turva.",
            ),
            Language::Fi => (
                format!("Turvan tietoturvahälytys: {company}"),
                "Jos tämä oli odotettua, mitään ei tarvitse tehdä. Muuten tarkista yrityksen tapahtumaloki Turvassa.",
            ),
            Language::De => (
                format!("Turva-Sicherheitswarnung: {company}"),
                "Wenn das erwartet war, ist nichts zu tun. Andernfalls sehen Sie sich das Audit-Protokoll des Unternehmens in Turva an.",
            ),
        };
        let hello = match lang {
            Language::En => "Hello,",
            Language::Fi => "Hei,",
            Language::De => "Hallo,",
        };
        (subject, format!("{hello}\n\n{what}\n\n{tail}\n"))
    }
}

fn role_en(r: Role) -> &'static str {
    if r == Role::Owner {
        "an owner"
    } else {
        "an admin"
    }
}

fn role_fi(r: Role) -> &'static str {
    if r == Role::Owner {
        "omistaja"
    } else {
        "ylläpitäjä"
    }
}

fn role_de(r: Role) -> &'static str {
    if r == Role::Owner {
        "Eigentümer"
    } else {
        "Administrator"
    }
}

/// Records the alert in `tx` (an event of `company_id` about `subject`, a
/// user id) and returns the emails to its owners and admins, to send once
/// `tx` commits. The subject is not told about themselves.
pub(crate) async fn raise(
    app: &App,
    tx: &mut Tx,
    ctx: &Ctx,
    company_id: &str,
    subject: Option<&str>,
    alert: &Alert,
) -> Result<Vec<Mail>, AppError> {
    let mut ev = Event::new(alert.action(), Outcome::Allowed).company(company_id);
    ev.credential = Some("system");
    ev.subject_id = subject;
    if let Some(uid) = subject {
        ev = ev.object(ObjectType::User, uid);
    }
    audit::record(app, tx, ctx, ev).await?;
    let Some(company) = turva_store::companies::company_by_id(tx, company_id).await? else {
        return Ok(Vec::new());
    };
    let mut mails = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = members::members_of_company(tx, company_id, after.as_deref(), 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.user_id.clone());
        for m in page {
            let privileged = Role::parse("role", &m.role).is_ok_and(Role::is_admin);
            if m.status != "active" || !privileged || Some(m.user_id.as_str()) == subject {
                continue;
            }
            let lang = Language::parse("language", &m.language).unwrap_or_default();
            let (subject, text) = alert.text(lang, &company.name);
            mails.push(Mail {
                to: m.email,
                subject,
                text,
                kind: "security_alert",
            });
        }
    }
    Ok(mails)
}

/// Sends alert emails (after the commit); a failure is logged, not
/// answered: the change stands.
pub(crate) async fn send(app: &App, mails: &[Mail]) {
    for m in mails {
        crate::auth::send_quietly(app, m).await;
    }
}

/// Counts a failed sign-in to `user_id`'s account in `tx`; when that
/// reaches the threshold, raises the alert in every company the user is
/// an active member of. Returns the emails to send after the commit.
pub(crate) async fn failed_signin(
    app: &App,
    tx: &mut Tx,
    ctx: &Ctx,
    user_id: &str,
    email: &str,
) -> Result<Vec<Mail>, AppError> {
    let cfg = &app.config().audit;
    let threshold = i64::from(cfg.alert_failed_signins);
    let minutes = i64::from(cfg.alert_failed_signins_minutes);
    let now = app.now();
    counters::record(
        tx,
        &crate::secret::new_id(),
        "alert_failed_signin",
        user_id,
        now,
    )
    .await?;
    let since = now - minutes * 60_000;
    let (count, _) = counters::window(tx, "alert_failed_signin", user_id, since).await?;
    if count < threshold {
        return Ok(Vec::new());
    }
    let (sent, _) = counters::window(tx, "alert_failed_signin_sent", user_id, since).await?;
    if sent > 0 {
        return Ok(Vec::new());
    }
    counters::record(
        tx,
        &crate::secret::new_id(),
        "alert_failed_signin_sent",
        user_id,
        now,
    )
    .await?;
    let alert = Alert::FailedSignins {
        email: email.to_string(),
        count,
        minutes,
    };
    let mut mails = Vec::new();
    for m in members::memberships_of_user(tx, user_id).await? {
        if m.status == "active" {
            mails.extend(raise(app, tx, ctx, &m.company_id, Some(user_id), &alert).await?);
        }
    }
    Ok(mails)
}

/// Downloads per (user, company) in the current window, in memory, and
/// when the last alert about them went out.
#[derive(Debug, Default)]
pub(crate) struct DownloadCounter {
    seen: Mutex<HashMap<(String, String), Recent>>,
}

/// Download times within the window, and the last alert's time.
type Recent = (VecDeque<i64>, Option<i64>);

impl DownloadCounter {
    /// Counts one download at `now`; true when this one reaches `threshold`
    /// within `window_ms`.
    fn count(&self, user: &str, company: &str, now: i64, window_ms: i64, threshold: usize) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        let start = now - window_ms;
        // Forget windows that have emptied (bounded memory).
        if seen.len() > 10_000 {
            seen.retain(|_, (q, _)| q.back().is_some_and(|t| *t > start));
        }
        let (q, alerted) = seen
            .entry((user.to_string(), company.to_string()))
            .or_default();
        while q.front().is_some_and(|t| *t <= start) {
            q.pop_front();
        }
        q.push_back(now);
        let quiet = alerted.is_none_or(|at| at <= start);
        if q.len() >= threshold && quiet {
            *alerted = Some(now);
            true
        } else {
            false
        }
    }
}

/// Counts a download of one of `company_id`'s files by `actor`; on reaching
/// the threshold, raises the alert in its own transaction.
pub(crate) async fn downloaded(
    app: &App,
    ctx: &Ctx,
    actor: &crate::Actor,
    company_id: &str,
) -> Result<(), AppError> {
    let cfg = &app.config().audit;
    let minutes = i64::from(cfg.alert_downloads_minutes);
    let threshold = usize::try_from(cfg.alert_downloads).unwrap_or(usize::MAX);
    let reached = app.download_counter().count(
        &actor.user_id,
        company_id,
        app.now(),
        minutes * 60_000,
        threshold,
    );
    if !reached {
        return Ok(());
    }
    let alert = Alert::Downloads {
        email: actor.email.clone(),
        count: i64::from(cfg.alert_downloads),
        minutes,
    };
    let mut tx = app.db().write().await?;
    let mails = raise(app, &mut tx, ctx, company_id, Some(&actor.user_id), &alert).await?;
    tx.commit().await?;
    send(app, &mails).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_alert_once_when_the_window_fills() {
        let c = DownloadCounter::default();
        let hits: Vec<bool> = (0..6)
            .map(|i| c.count("u", "c", i * 1000, 60_000, 3))
            .collect();
        assert_eq!(hits, [false, false, true, false, false, false]);
        // A steady stream above the threshold alerts once per window.
        let steady: Vec<bool> = (0..100)
            .map(|i| c.count("u", "c", 6000 + i * 1000, 60_000, 3))
            .collect();
        assert_eq!(steady.iter().filter(|h| **h).count(), 1, "{steady:?}");
        assert!(steady[56], "the next alert comes a window after the first");
        // Another person, another company: counted apart.
        assert!(!c.count("v", "c", 6000, 60_000, 3));
        assert!(!c.count("u", "d", 6000, 60_000, 3));
        // After a quiet window, it alerts again when the count is reached.
        let later: Vec<bool> = (0..3)
            .map(|i| c.count("u", "c", 300_000 + i, 60_000, 3))
            .collect();
        assert_eq!(later, [false, false, true]);
    }

    #[test]
    fn every_alert_has_a_text_in_every_language() {
        let alerts = [
            Alert::PrivilegedMember {
                email: "a@example.test".into(),
                role: Role::Owner,
            },
            Alert::RequireMfaOff {
                by: "b@example.test".into(),
            },
            Alert::FailedSignins {
                email: "c@example.test".into(),
                count: 10,
                minutes: 15,
            },
            Alert::Downloads {
                email: "d@example.test".into(),
                count: 100,
                minutes: 10,
            },
        ];
        for a in &alerts {
            for lang in [Language::En, Language::Fi, Language::De] {
                let (subject, text) = a.text(lang, "Rakenne Oy");
                assert!(subject.contains("Rakenne Oy"));
                assert!(text.contains("example.test"), "{text}");
            }
        }
    }
}
