//! Outgoing email: SMTP through lettre when `[smtp] url` is set, otherwise
//! an RFC 5322 `.eml` file per message in `DIR/outbox/`.
//!
//! Links carry one-time tokens as the `token` query parameter and always
//! start at `[server] public_url`, never at a request's Host. Messages are
//! sent after the transaction that caused them commits; the rate limits are
//! checked inside it (see `throttle::mail_limits`). The log records that a
//! message went out, never its content or address.

use std::path::PathBuf;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use turva_model::Language;

use crate::AppError;

pub enum Mailer {
    Outbox(PathBuf),
    Smtp(Box<AsyncSmtpTransport<Tokio1Executor>>),
}

/// A message ready to send.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    /// What kind of message, for the log.
    pub kind: &'static str,
}

impl Mailer {
    pub fn from_config(smtp_url: Option<&str>, outbox: PathBuf) -> Result<Self, String> {
        match smtp_url {
            Some(url) => AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map(|b| Mailer::Smtp(Box::new(b.build())))
                .map_err(|e| format!("smtp.url: {e}")),
            None => Ok(Mailer::Outbox(outbox)),
        }
    }

    /// Sends `mail` from `from`.
    pub async fn send(&self, from: &str, mail: &Mail) -> Result<(), AppError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| AppError::Internal(format!("smtp.from: {e}")))?;
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|_| AppError::invalid("email", "is not an email address"))?;
        let html = format!(
            "<!doctype html><html><body><pre style=\"font-family:sans-serif;white-space:pre-wrap\">{}</pre></body></html>",
            escape_html(&mail.text)
        );
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(&mail.subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(mail.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html),
                    ),
            )
            .map_err(|e| AppError::Internal(format!("building email: {e}")))?;
        match self {
            Mailer::Outbox(dir) => {
                let name = format!(
                    "{}-{}.eml",
                    crate::clock::SystemClock.now_millis_padded(),
                    crate::secret::new_id()
                );
                let path = dir.join(name);
                let bytes = message.formatted();
                tokio::task::spawn_blocking(move || {
                    turva_store::keys::write_private_file(&path, &bytes)
                })
                .await
                .map_err(|e| AppError::Internal(e.to_string()))??;
            }
            Mailer::Smtp(t) => {
                t.send(message)
                    .await
                    .map_err(|e| AppError::Unavailable(format!("smtp: {e}")))?;
            }
        }
        tracing::info!(kind = mail.kind, "email sent");
        Ok(())
    }
}

impl crate::clock::SystemClock {
    /// Milliseconds as a fixed-width string, so outbox files sort by time.
    fn now_millis_padded(&self) -> String {
        use crate::Clock;
        format!("{:015}", self.now_millis())
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An invitation to join a company (the link accepts it).
pub fn invitation(lang: Language, to: &str, company: &str, inviter: &str, link: &str) -> Mail {
    let (subject, text) = match lang {
        Language::En => (
            format!("Invitation to {company} on Turva"),
            format!("Hello,\n\n{inviter} has invited you to join {company} on Turva.\n\nAccept the invitation here (the link works for 7 days):\n{link}\n\nIf you did not expect this, you can ignore this message.\n"),
        ),
        Language::Fi => (
            format!("Kutsu: {company} Turvassa"),
            format!("Hei,\n\n{inviter} on kutsunut sinut mukaan yritykseen {company} Turvassa.\n\nHyväksy kutsu tästä (linkki on voimassa 7 päivää):\n{link}\n\nJos et odottanut tätä viestiä, voit jättää sen huomiotta.\n"),
        ),
        Language::De => (
            format!("Einladung zu {company} in Turva"),
            format!("Hallo,\n\n{inviter} hat Sie eingeladen, {company} in Turva beizutreten.\n\nNehmen Sie die Einladung hier an (der Link gilt 7 Tage):\n{link}\n\nWenn Sie diese Nachricht nicht erwartet haben, können Sie sie ignorieren.\n"),
        ),
    };
    Mail {
        to: to.to_string(),
        subject,
        text,
        kind: "invitation",
    }
}

/// A password-reset link.
pub fn password_reset(lang: Language, to: &str, link: &str) -> Mail {
    let (subject, text) = match lang {
        Language::En => (
            "Reset your Turva password".to_string(),
            format!("Hello,\n\nSomeone asked to reset the password of this Turva account. To choose a new password, open this link within 30 minutes:\n{link}\n\nIf it was not you, ignore this message: your password stays as it is.\n"),
        ),
        Language::Fi => (
            "Turva-salasanan vaihto".to_string(),
            format!("Hei,\n\nTämän Turva-tilin salasanan vaihtoa pyydettiin. Valitse uusi salasana 30 minuutin kuluessa tästä linkistä:\n{link}\n\nJos et pyytänyt vaihtoa, jätä viesti huomiotta: salasanasi pysyy ennallaan.\n"),
        ),
        Language::De => (
            "Turva-Passwort zurücksetzen".to_string(),
            format!("Hallo,\n\nJemand hat das Zurücksetzen des Passworts dieses Turva-Kontos angefordert. Wählen Sie innerhalb von 30 Minuten über diesen Link ein neues Passwort:\n{link}\n\nWenn Sie das nicht waren, ignorieren Sie diese Nachricht: Ihr Passwort bleibt unverändert.\n"),
        ),
    };
    Mail {
        to: to.to_string(),
        subject,
        text,
        kind: "password_reset",
    }
}

/// The day's audit checkpoint, for owners and admins to keep.
pub fn daily_checkpoint(lang: Language, to: &str, note: &str, key_link: &str) -> Mail {
    let (subject, text) = match lang {
        Language::En => (
            "Turva audit checkpoint",
            format!("Hello,\n\nThis is today's signed checkpoint of Turva's audit log. Keep it: if the log were ever altered, it would no longer match this checkpoint, and `turva audit verify` or any tool that reads tlog checkpoints would show it. The signing key is at {key_link}\n\n{note}"),
        ),
        Language::Fi => (
            "Turvan tapahtumalokin tarkistuspiste",
            format!("Hei,\n\nTämä on päivän allekirjoitettu tarkistuspiste Turvan tapahtumalokista. Säilytä se: jos lokia joskus muutettaisiin, se ei enää vastaisi tätä tarkistuspistettä, ja `turva audit verify` tai mikä tahansa tlog-tarkistuspisteitä lukeva työkalu näyttäisi sen. Allekirjoitusavain on osoitteessa {key_link}\n\n{note}"),
        ),
        Language::De => (
            "Turva-Audit-Prüfpunkt",
            format!("Hallo,\n\ndies ist der heutige signierte Prüfpunkt des Turva-Audit-Protokolls. Bewahren Sie ihn auf: Würde das Protokoll je verändert, passte es nicht mehr zu diesem Prüfpunkt, und `turva audit verify` oder jedes Werkzeug, das tlog-Prüfpunkte liest, würde es zeigen. Der Signaturschlüssel steht unter {key_link}\n\n{note}"),
        ),
    };
    Mail {
        to: to.to_string(),
        subject: subject.to_string(),
        text,
        kind: "daily_checkpoint",
    }
}

/// A restore drill failed: the operators must look before they need the
/// backups.
pub fn drill_failed(lang: Language, to: &str, backup: &str, why: &str) -> Mail {
    let (subject, text) = match lang {
        Language::En => (
            "Turva restore drill FAILED",
            format!("Hello,\n\nThe restore drill of backup {backup} failed:\n\n{why}\n\nThe backups may not restore. Run `turva backup verify {backup}` and `turva backup drill`, and take a new backup once the cause is fixed.\n"),
        ),
        Language::Fi => (
            "Turvan palautusharjoitus EPÄONNISTUI",
            format!("Hei,\n\nVarmuuskopion {backup} palautusharjoitus epäonnistui:\n\n{why}\n\nVarmuuskopiot eivät ehkä palaudu. Aja `turva backup verify {backup}` ja `turva backup drill`, ja ota uusi varmuuskopio, kun syy on korjattu.\n"),
        ),
        Language::De => (
            "Turva-Wiederherstellungsübung FEHLGESCHLAGEN",
            format!("Hallo,\n\ndie Wiederherstellungsübung der Sicherung {backup} ist fehlgeschlagen:\n\n{why}\n\nDie Sicherungen lassen sich möglicherweise nicht wiederherstellen. Führen Sie `turva backup verify {backup}` und `turva backup drill` aus und erstellen Sie eine neue Sicherung, sobald die Ursache behoben ist.\n"),
        ),
    };
    Mail {
        to: to.to_string(),
        subject: subject.to_string(),
        text,
        kind: "drill_failed",
    }
}

/// A notice that the password was changed (sent to the account's address).
pub fn password_changed(lang: Language, to: &str) -> Mail {
    let (subject, text) = match lang {
        Language::En => ("Your Turva password was changed", "Hello,\n\nThe password of your Turva account was just changed, and every other session was signed out. If this was not you, reset your password at once and tell your administrator.\n"),
        Language::Fi => ("Turva-salasanasi vaihdettiin", "Hei,\n\nTurva-tilisi salasana vaihdettiin juuri, ja kaikki muut istunnot kirjattiin ulos. Jos et tehnyt tätä itse, vaihda salasana heti ja kerro ylläpitäjälle.\n"),
        Language::De => ("Ihr Turva-Passwort wurde geändert", "Hallo,\n\nDas Passwort Ihres Turva-Kontos wurde soeben geändert, und alle anderen Sitzungen wurden abgemeldet. Wenn Sie das nicht waren, setzen Sie Ihr Passwort sofort zurück und informieren Sie Ihren Administrator.\n"),
    };
    Mail {
        to: to.to_string(),
        subject: subject.to_string(),
        text: text.to_string(),
        kind: "password_changed",
    }
}

/// A link that confirms a new email address.
pub fn email_change(lang: Language, to: &str, link: &str) -> Mail {
    let (subject, text) = match lang {
        Language::En => (
            "Confirm your new Turva email address",
            format!("Hello,\n\nTo make this the email address of your Turva account, open this link within 24 hours:\n{link}\n\nIf you did not ask for this, ignore this message.\n"),
        ),
        Language::Fi => (
            "Vahvista uusi sähköpostiosoitteesi Turvassa",
            format!("Hei,\n\nVahvista tämä Turva-tilisi uudeksi sähköpostiosoitteeksi avaamalla linkki 24 tunnin kuluessa:\n{link}\n\nJos et pyytänyt tätä, jätä viesti huomiotta.\n"),
        ),
        Language::De => (
            "Bestätigen Sie Ihre neue E-Mail-Adresse für Turva",
            format!("Hallo,\n\nUm diese Adresse zur E-Mail-Adresse Ihres Turva-Kontos zu machen, öffnen Sie diesen Link innerhalb von 24 Stunden:\n{link}\n\nWenn Sie das nicht angefordert haben, ignorieren Sie diese Nachricht.\n"),
        ),
    };
    Mail {
        to: to.to_string(),
        subject: subject.to_string(),
        text,
        kind: "email_change",
    }
}

/// A notice to the old address that the account's email was changed.
pub fn email_changed(lang: Language, to_old: &str, new: &str) -> Mail {
    let (subject, text) = match lang {
        Language::En => (
            "Your Turva email address was changed",
            format!("Hello,\n\nThe email address of your Turva account was changed to {new}. If this was not you, tell your administrator at once.\n"),
        ),
        Language::Fi => (
            "Turva-sähköpostiosoitteesi vaihdettiin",
            format!("Hei,\n\nTurva-tilisi sähköpostiosoitteeksi vaihdettiin {new}. Jos et tehnyt tätä itse, kerro ylläpitäjälle heti.\n"),
        ),
        Language::De => (
            "Ihre Turva-E-Mail-Adresse wurde geändert",
            format!("Hallo,\n\nDie E-Mail-Adresse Ihres Turva-Kontos wurde in {new} geändert. Wenn Sie das nicht waren, informieren Sie sofort Ihren Administrator.\n"),
        ),
    };
    Mail {
        to: to_old.to_string(),
        subject: subject.to_string(),
        text,
        kind: "email_changed",
    }
}

/// An invitation to see something shared: the link carries the token.
pub fn share_invitation(
    lang: Language,
    to: &str,
    company: &str,
    inviter: &str,
    object: &str,
    link: &str,
) -> Mail {
    let (subject, text) = match lang {
        Language::En => (
            format!("{inviter} shared \"{object}\" with you on Turva"),
            format!("Hello,\n\n{inviter} ({company}) has shared \"{object}\" with you on Turva.\n\nAccept the invitation here (the link works for 7 days):\n{link}\n\nIf you did not expect this, you can ignore this message.\n"),
        ),
        Language::Fi => (
            format!("{inviter} jakoi kanssasi kohteen \"{object}\" Turvassa"),
            format!("Hei,\n\n{inviter} ({company}) on jakanut kanssasi kohteen \"{object}\" Turvassa.\n\nHyväksy kutsu tästä (linkki on voimassa 7 päivää):\n{link}\n\nJos et odottanut tätä viestiä, voit jättää sen huomiotta.\n"),
        ),
        Language::De => (
            format!("{inviter} hat \"{object}\" in Turva mit Ihnen geteilt"),
            format!("Hallo,\n\n{inviter} ({company}) hat \"{object}\" in Turva mit Ihnen geteilt.\n\nNehmen Sie die Einladung hier an (der Link gilt 7 Tage):\n{link}\n\nWenn Sie diese Nachricht nicht erwartet haben, können Sie sie ignorieren.\n"),
        ),
    };
    Mail {
        to: to.to_string(),
        subject,
        text,
        kind: "share_invitation",
    }
}

/// A notice that something was shared with someone who already has access
/// to the company's shares (no acceptance needed).
pub fn share_notice(lang: Language, to: &str, inviter: &str, object: &str, link: &str) -> Mail {
    let (subject, text) = match lang {
        Language::En => (
            format!("{inviter} shared \"{object}\" with you on Turva"),
            format!("Hello,\n\n{inviter} has shared \"{object}\" with you on Turva:\n{link}\n"),
        ),
        Language::Fi => (
            format!("{inviter} jakoi kanssasi kohteen \"{object}\" Turvassa"),
            format!(
                "Hei,\n\n{inviter} on jakanut kanssasi kohteen \"{object}\" Turvassa:\n{link}\n"
            ),
        ),
        Language::De => (
            format!("{inviter} hat \"{object}\" in Turva mit Ihnen geteilt"),
            format!("Hallo,\n\n{inviter} hat \"{object}\" in Turva mit Ihnen geteilt:\n{link}\n"),
        ),
    };
    Mail {
        to: to.to_string(),
        subject,
        text,
        kind: "share_notice",
    }
}

/// What changed about a user's second factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorChange {
    Added,
    Removed,
    RecoveryCodeUsed,
    /// Every factor removed by an administrator or operator.
    Reset,
}

/// Tells a user that their second factors changed or a recovery code was
/// used, so that someone else's doing is noticed.
pub fn factor_notice(lang: Language, to: &str, change: FactorChange, left: i64) -> Mail {
    let (subject, text) = match (lang, change) {
        (Language::En, FactorChange::Added) => ("A second factor was added to your Turva account".to_string(), "Hello,\n\nA second factor (an authenticator app or a passkey) was just added to your Turva account. If this was not you, reset your password at once and tell your administrator.\n".to_string()),
        (Language::Fi, FactorChange::Added) => ("Turva-tiliisi lisättiin toinen tunnistautumistapa".to_string(), "Hei,\n\nTurva-tiliisi lisättiin juuri toinen tunnistautumistapa (todennussovellus tai pääsyavain). Jos et tehnyt tätä itse, vaihda salasana heti ja kerro ylläpitäjälle.\n".to_string()),
        (Language::De, FactorChange::Added) => ("Ihrem Turva-Konto wurde ein zweiter Faktor hinzugefügt".to_string(), "Hallo,\n\nIhrem Turva-Konto wurde soeben ein zweiter Faktor (eine Authenticator-App oder ein Passkey) hinzugefügt. Wenn Sie das nicht waren, setzen Sie Ihr Passwort sofort zurück und informieren Sie Ihren Administrator.\n".to_string()),
        (Language::En, FactorChange::Removed) => ("A second factor was removed from your Turva account".to_string(), "Hello,\n\nA second factor was just removed from your Turva account. If this was not you, reset your password at once and tell your administrator.\n".to_string()),
        (Language::Fi, FactorChange::Removed) => ("Turva-tililtäsi poistettiin toinen tunnistautumistapa".to_string(), "Hei,\n\nTurva-tililtäsi poistettiin juuri toinen tunnistautumistapa. Jos et tehnyt tätä itse, vaihda salasana heti ja kerro ylläpitäjälle.\n".to_string()),
        (Language::De, FactorChange::Removed) => ("Von Ihrem Turva-Konto wurde ein zweiter Faktor entfernt".to_string(), "Hallo,\n\nVon Ihrem Turva-Konto wurde soeben ein zweiter Faktor entfernt. Wenn Sie das nicht waren, setzen Sie Ihr Passwort sofort zurück und informieren Sie Ihren Administrator.\n".to_string()),
        (Language::En, FactorChange::RecoveryCodeUsed) => ("A recovery code of your Turva account was used".to_string(), format!("Hello,\n\nA recovery code was just used to sign in to your Turva account or to confirm an action; {left} unused codes remain. If this was not you, reset your password at once and tell your administrator.\n")),
        (Language::Fi, FactorChange::RecoveryCodeUsed) => ("Turva-tilisi palautuskoodia käytettiin".to_string(), format!("Hei,\n\nTurva-tilisi palautuskoodia käytettiin juuri kirjautumiseen tai toiminnon vahvistamiseen; käyttämättömiä koodeja on jäljellä {left}. Jos et tehnyt tätä itse, vaihda salasana heti ja kerro ylläpitäjälle.\n")),
        (Language::De, FactorChange::RecoveryCodeUsed) => ("Ein Wiederherstellungscode Ihres Turva-Kontos wurde verwendet".to_string(), format!("Hallo,\n\nSoeben wurde ein Wiederherstellungscode verwendet, um sich bei Ihrem Turva-Konto anzumelden oder eine Aktion zu bestätigen; {left} unbenutzte Codes sind übrig. Wenn Sie das nicht waren, setzen Sie Ihr Passwort sofort zurück und informieren Sie Ihren Administrator.\n")),
        (Language::En, FactorChange::Reset) => ("The second factors of your Turva account were reset".to_string(), "Hello,\n\nAn administrator removed every second factor of your Turva account and signed out all its sessions. Sign in with your password and enrol a new factor. If you did not ask for this, tell your administrator at once.\n".to_string()),
        (Language::Fi, FactorChange::Reset) => ("Turva-tilisi toiset tunnistautumistavat nollattiin".to_string(), "Hei,\n\nYlläpitäjä poisti kaikki Turva-tilisi toiset tunnistautumistavat ja kirjasi ulos kaikki sen istunnot. Kirjaudu salasanallasi ja ota käyttöön uusi tunnistautumistapa. Jos et pyytänyt tätä, kerro ylläpitäjälle heti.\n".to_string()),
        (Language::De, FactorChange::Reset) => ("Die zweiten Faktoren Ihres Turva-Kontos wurden zurückgesetzt".to_string(), "Hallo,\n\nEin Administrator hat alle zweiten Faktoren Ihres Turva-Kontos entfernt und alle Sitzungen abgemeldet. Melden Sie sich mit Ihrem Passwort an und richten Sie einen neuen Faktor ein. Wenn Sie das nicht veranlasst haben, informieren Sie sofort Ihren Administrator.\n".to_string()),
    };
    Mail {
        to: to.to_string(),
        subject,
        text,
        kind: match change {
            FactorChange::Added => "factor_added",
            FactorChange::Removed => "factor_removed",
            FactorChange::RecoveryCodeUsed => "recovery_code_used",
            FactorChange::Reset => "mfa_reset",
        },
    }
}

/// Tells a user about a sign-in from an address and device (user agent)
/// their account had not signed in from before.
pub fn new_signin(lang: Language, to: &str, ip: &str, device: &str) -> Mail {
    // The user agent is the client's to choose: one plain line, bounded.
    let device: String = device
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let (subject, text) = match lang {
        Language::En => (
            "New sign-in to your Turva account",
            format!("Hello,\n\nYour Turva account was just signed in to from an address or device it had not used before.\n\nAddress: {ip}\nDevice: {device}\n\nIf this was you, there is nothing to do. If not, change your password at once, review your sessions and tell your administrator.\n"),
        ),
        Language::Fi => (
            "Uusi kirjautuminen Turva-tilillesi",
            format!("Hei,\n\nTurva-tilillesi kirjauduttiin juuri osoitteesta tai laitteesta, jota tili ei ole ennen käyttänyt.\n\nOsoite: {ip}\nLaite: {device}\n\nJos se olit sinä, mitään ei tarvitse tehdä. Jos et, vaihda salasana heti, tarkista istuntosi ja kerro ylläpitäjälle.\n"),
        ),
        Language::De => (
            "Neue Anmeldung bei Ihrem Turva-Konto",
            format!("Hallo,\n\nBei Ihrem Turva-Konto hat sich soeben jemand von einer Adresse oder einem Gerät angemeldet, das bisher nicht verwendet wurde.\n\nAdresse: {ip}\nGerät: {device}\n\nWenn Sie das waren, ist nichts zu tun. Andernfalls ändern Sie sofort Ihr Passwort, prüfen Sie Ihre Sitzungen und informieren Sie Ihren Administrator.\n"),
        ),
    };
    Mail {
        to: to.to_string(),
        subject: subject.to_string(),
        text,
        kind: "new_signin",
    }
}
