//! The pages' words in English, Finnish and German, and dates and numbers
//! written the way each language writes them.
//!
//! Each language is one `Texts` value: a missing word is a compile error,
//! not an English word on a Finnish page.

use axum::http::HeaderMap;

/// Every word a page shows.
pub struct Texts {
    /// The `lang` attribute.
    pub lang: &'static str,
    pub product: &'static str,
    pub skip_to_content: &'static str,
    pub main_menu: &'static str,
    pub sign_in: &'static str,
    pub sign_in_lead: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub forgot_password: &'static str,
    pub second_factor: &'static str,
    pub second_factor_lead: &'static str,
    pub code: &'static str,
    pub code_hint: &'static str,
    pub verify: &'static str,
    pub start_over: &'static str,
    pub sign_out: &'static str,
    pub signed_in_as: &'static str,
    pub wrong_credentials: &'static str,
    pub wrong_code: &'static str,
    pub code_expired: &'static str,
    pub too_many_attempts: &'static str,
    pub stale_form: &'static str,
    pub companies: &'static str,
    pub company: &'static str,
    pub switch_company: &'static str,
    pub no_companies: &'static str,
    pub folders: &'static str,
    pub top_level: &'static str,
    pub up_folder: &'static str,
    pub contents: &'static str,
    pub name: &'static str,
    pub kind: &'static str,
    pub updated: &'static str,
    pub status: &'static str,
    pub kind_folder: &'static str,
    pub kind_document: &'static str,
    pub status_draft: &'static str,
    pub status_completed: &'static str,
    pub restricted: &'static str,
    pub empty_folder: &'static str,
    pub no_folders: &'static str,
    pub next_page: &'static str,
    pub first_page: &'static str,
    pub breadcrumbs: &'static str,
    pub not_found_title: &'static str,
    pub not_found_body: &'static str,
    pub forbidden_title: &'static str,
    pub forbidden_body: &'static str,
    pub error_title: &'static str,
    pub error_body: &'static str,
    pub unavailable_body: &'static str,
    pub back_home: &'static str,
    pub version: &'static str,
    pub no_fields: &'static str,
    pub required: &'static str,
    pub signature_of: &'static str,
    pub attachments: &'static str,
    pub no_attachments: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub accept_title: &'static str,
    pub accept_lead_company: &'static str,
    pub accept_lead_share: &'static str,
    pub accept_lead_existing: &'static str,
    pub your_name: &'static str,
    pub new_password: &'static str,
    pub new_password_hint: &'static str,
    pub repeat_password: &'static str,
    pub passwords_differ: &'static str,
    pub password_refused: &'static str,
    pub accept_button: &'static str,
    pub invalid_link: &'static str,
    pub forgot_title: &'static str,
    pub forgot_lead: &'static str,
    pub send_link: &'static str,
    pub link_sent: &'static str,
    pub reset_title: &'static str,
    pub reset_lead: &'static str,
    pub set_password: &'static str,
    pub password_set: &'static str,
    pub confirm_email_title: &'static str,
    pub confirm_email_lead: &'static str,
    pub confirm_button: &'static str,
    pub email_confirmed: &'static str,
    pub to_sign_in: &'static str,
    pub edit: &'static str,
    pub save: &'static str,
    pub cancel: &'static str,
    pub new_folder: &'static str,
    pub new_document: &'static str,
    pub create: &'static str,
    pub template_label: &'static str,
    pub no_template: &'static str,
    pub title_label: &'static str,
    pub completed_label: &'static str,
    pub conflict: &'static str,
    pub newest_saved: &'static str,
    pub not_a_number: &'static str,
    pub fix_errors: &'static str,
    pub required_msg: &'static str,
    pub choose: &'static str,
    pub signed_by: &'static str,
    pub saved: &'static str,
    pub upload: &'static str,
    pub add_attachment: &'static str,
    pub take_photo: &'static str,
    pub file_label: &'static str,
    pub upload_failed: &'static str,
    pub too_large: &'static str,
    pub sharing: &'static str,
    pub share_button: &'static str,
    pub share_with: &'static str,
    pub right_label: &'static str,
    pub right_view: &'static str,
    pub right_edit: &'static str,
    pub right_manage: &'static str,
    pub expires: &'static str,
    pub no_expiry: &'static str,
    pub notify_label: &'static str,
    pub invitation_language: &'static str,
    pub current_shares: &'static str,
    pub no_shares: &'static str,
    pub revoke: &'static str,
    pub change: &'static str,
    pub status_pending: &'static str,
    pub status_active: &'static str,
    pub shared_with_you: &'static str,
    pub nothing_shared: &'static str,
    pub share_saved: &'static str,
    pub share_revoked: &'static str,
    pub share_changed: &'static str,
    pub restricted_hint: &'static str,
    pub months: [&'static str; 12],
}

pub static EN: Texts = Texts {
    lang: "en",
    product: "Turva",
    skip_to_content: "Skip to content",
    main_menu: "Main menu",
    sign_in: "Sign in",
    sign_in_lead: "Sign in with your email address and password.",
    email: "Email address",
    password: "Password",
    forgot_password: "Forgot your password?",
    second_factor: "Second step",
    second_factor_lead:
        "Enter the code from your authenticator app, or one of your recovery codes.",
    code: "Code",
    code_hint: "6 digits, or a recovery code",
    verify: "Verify",
    start_over: "Start over",
    sign_out: "Sign out",
    signed_in_as: "Signed in as",
    wrong_credentials: "The email address or password is wrong.",
    wrong_code: "The code is wrong or already used. Try again.",
    code_expired: "The sign-in took too long. Enter your password again.",
    too_many_attempts: "Too many attempts. Wait a while and try again.",
    stale_form: "The page was open too long. Try again.",
    companies: "Companies",
    company: "Company",
    switch_company: "Switch company",
    no_companies: "You do not belong to any company yet. Ask for an invitation.",
    folders: "Folders",
    top_level: "All folders",
    up_folder: "Folder above",
    contents: "Contents",
    name: "Name",
    kind: "Type",
    updated: "Updated",
    status: "Status",
    kind_folder: "Folder",
    kind_document: "Document",
    status_draft: "Draft",
    status_completed: "Completed",
    restricted: "Restricted",
    empty_folder: "This folder is empty.",
    no_folders: "There are no folders you can see yet.",
    next_page: "Next page",
    first_page: "First page",
    breadcrumbs: "Where you are",
    not_found_title: "Not found",
    not_found_body: "This page does not exist, or you do not have access to it.",
    forbidden_title: "Not allowed",
    forbidden_body: "You do not have the right to do this.",
    error_title: "Something went wrong",
    error_body: "The request could not be completed. Nothing was changed. Try again in a moment.",
    unavailable_body:
        "The service is busy or a part of it cannot be reached. Try again in a moment.",
    back_home: "Back to the front page",
    version: "Version",
    no_fields: "This document has no fields.",
    required: "required",
    signature_of: "Signature of",
    attachments: "Attachments",
    no_attachments: "No attachments.",
    yes: "Yes",
    no: "No",
    accept_title: "Accept the invitation",
    accept_lead_company: "You were invited to join",
    accept_lead_share: "Something was shared with you in",
    accept_lead_existing: "Enter the password of your account to accept.",
    your_name: "Your name",
    new_password: "New password",
    new_password_hint: "At least 12 characters. A long phrase of several words is best.",
    repeat_password: "Repeat the password",
    passwords_differ: "The two passwords differ.",
    password_refused: "The password was not accepted:",
    accept_button: "Accept",
    invalid_link: "This link is invalid, already used or expired. Ask for a new one.",
    forgot_title: "Forgotten password",
    forgot_lead: "Give your email address and we will send a link for setting a new password.",
    send_link: "Send the link",
    link_sent: "If an account has this address, a link for setting a new password is on its way. It is valid for a short time.",
    reset_title: "Set a new password",
    reset_lead: "Your second factor, if you have one, stays as it is. Every session ends.",
    set_password: "Set the password",
    password_set: "Your password is set. Sign in with it.",
    confirm_email_title: "Confirm your new email address",
    confirm_email_lead: "Confirm that this address is the new sign-in address of your account.",
    confirm_button: "Confirm",
    email_confirmed: "Your email address is changed.",
    to_sign_in: "Go to sign-in",
    edit: "Edit",
    save: "Save",
    cancel: "Cancel",
    new_folder: "New folder",
    new_document: "New document",
    create: "Create",
    template_label: "Template",
    no_template: "No template",
    title_label: "Title",
    completed_label: "Completed",
    conflict: "Someone saved a newer version while you were editing. Nothing of yours was lost or saved: your values are in the form, and the newest saved value is shown under each field that differs. Save again to keep yours.",
    newest_saved: "Newest saved:",
    not_a_number: "Give a number.",
    fix_errors: "Correct the marked fields.",
    required_msg: "This field is required.",
    choose: "— choose —",
    signed_by: "Signed by",
    saved: "Saved.",
    sharing: "Sharing",
    share_button: "Share",
    share_with: "Share with (email address)",
    right_label: "Right",
    right_view: "View",
    right_edit: "Edit",
    right_manage: "Manage",
    expires: "Expires",
    no_expiry: "No expiry",
    notify_label: "Send an email about it",
    invitation_language: "Language of the invitation",
    current_shares: "Shared with",
    no_shares: "Not shared with anyone.",
    revoke: "Revoke",
    change: "Change",
    status_pending: "Invited",
    status_active: "Active",
    shared_with_you: "Shared with you",
    nothing_shared: "Nothing is shared with you now.",
    share_saved: "Shared. An invitation goes to an address that has not accepted yet.",
    share_revoked: "The share is revoked.",
    share_changed: "The share is changed.",
    restricted_hint: "Restricted: members of the company see this folder only through a share.",
    upload: "Upload",
    add_attachment: "Add an attachment",
    take_photo: "Take or choose a photo",
    file_label: "File",
    upload_failed: "The upload did not succeed. Nothing was saved.",
    too_large: "The file is too large, or the company's storage is full.",
    months: [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ],
};

pub static FI: Texts = Texts {
    lang: "fi",
    product: "Turva",
    skip_to_content: "Siirry sisältöön",
    main_menu: "Päävalikko",
    sign_in: "Kirjaudu sisään",
    sign_in_lead: "Kirjaudu sähköpostiosoitteellasi ja salasanallasi.",
    email: "Sähköpostiosoite",
    password: "Salasana",
    forgot_password: "Unohditko salasanasi?",
    second_factor: "Toinen vaihe",
    second_factor_lead: "Anna todennussovelluksesi koodi tai jokin varakoodeistasi.",
    code: "Koodi",
    code_hint: "6 numeroa tai varakoodi",
    verify: "Vahvista",
    start_over: "Aloita alusta",
    sign_out: "Kirjaudu ulos",
    signed_in_as: "Kirjautuneena",
    wrong_credentials: "Sähköpostiosoite tai salasana on väärin.",
    wrong_code: "Koodi on väärä tai jo käytetty. Yritä uudelleen.",
    code_expired: "Kirjautuminen kesti liian kauan. Anna salasanasi uudelleen.",
    too_many_attempts: "Liian monta yritystä. Odota hetki ja yritä uudelleen.",
    stale_form: "Sivu oli auki liian kauan. Yritä uudelleen.",
    companies: "Yritykset",
    company: "Yritys",
    switch_company: "Vaihda yritystä",
    no_companies: "Et kuulu vielä mihinkään yritykseen. Pyydä kutsu.",
    folders: "Kansiot",
    top_level: "Kaikki kansiot",
    up_folder: "Yläkansio",
    contents: "Sisältö",
    name: "Nimi",
    kind: "Tyyppi",
    updated: "Muokattu",
    status: "Tila",
    kind_folder: "Kansio",
    kind_document: "Asiakirja",
    status_draft: "Luonnos",
    status_completed: "Valmis",
    restricted: "Rajattu",
    empty_folder: "Kansio on tyhjä.",
    no_folders: "Näkyvissäsi ei ole vielä kansioita.",
    next_page: "Seuraava sivu",
    first_page: "Ensimmäinen sivu",
    breadcrumbs: "Sijaintisi",
    not_found_title: "Ei löytynyt",
    not_found_body: "Sivua ei ole, tai sinulla ei ole siihen pääsyä.",
    forbidden_title: "Ei sallittu",
    forbidden_body: "Sinulla ei ole oikeutta tähän.",
    error_title: "Jokin meni vikaan",
    error_body: "Pyyntöä ei voitu suorittaa. Mitään ei muutettu. Yritä hetken kuluttua uudelleen.",
    unavailable_body:
        "Palvelu on kiireinen tai osa siitä ei vastaa. Yritä hetken kuluttua uudelleen.",
    back_home: "Takaisin etusivulle",
    version: "Versio",
    no_fields: "Asiakirjassa ei ole kenttiä.",
    required: "pakollinen",
    signature_of: "Allekirjoitus:",
    attachments: "Liitteet",
    no_attachments: "Ei liitteitä.",
    yes: "Kyllä",
    no: "Ei",
    accept_title: "Hyväksy kutsu",
    accept_lead_company: "Sinut on kutsuttu yritykseen",
    accept_lead_share: "Kanssasi on jaettu sisältöä yrityksessä",
    accept_lead_existing: "Hyväksy antamalla tilisi salasana.",
    your_name: "Nimesi",
    new_password: "Uusi salasana",
    new_password_hint: "Vähintään 12 merkkiä. Pitkä usean sanan lause on paras.",
    repeat_password: "Toista salasana",
    passwords_differ: "Salasanat eroavat toisistaan.",
    password_refused: "Salasanaa ei hyväksytty:",
    accept_button: "Hyväksy",
    invalid_link: "Linkki on virheellinen, jo käytetty tai vanhentunut. Pyydä uusi.",
    forgot_title: "Unohtunut salasana",
    forgot_lead: "Anna sähköpostiosoitteesi, niin lähetämme linkin uuden salasanan asettamiseen.",
    send_link: "Lähetä linkki",
    link_sent: "Jos osoitteella on tili, linkki uuden salasanan asettamiseen on tulossa. Se on voimassa lyhyen ajan.",
    reset_title: "Aseta uusi salasana",
    reset_lead: "Toinen tunnistautumistapasi pysyy ennallaan. Kaikki istunnot päättyvät.",
    set_password: "Aseta salasana",
    password_set: "Salasanasi on asetettu. Kirjaudu sillä sisään.",
    confirm_email_title: "Vahvista uusi sähköpostiosoitteesi",
    confirm_email_lead: "Vahvista, että tämä osoite on tilisi uusi kirjautumisosoite.",
    confirm_button: "Vahvista",
    email_confirmed: "Sähköpostiosoitteesi on vaihdettu.",
    to_sign_in: "Siirry kirjautumaan",
    edit: "Muokkaa",
    save: "Tallenna",
    cancel: "Peruuta",
    new_folder: "Uusi kansio",
    new_document: "Uusi asiakirja",
    create: "Luo",
    template_label: "Pohja",
    no_template: "Ei pohjaa",
    title_label: "Otsikko",
    completed_label: "Valmis",
    conflict: "Joku tallensi uudemman version muokkauksesi aikana. Mitään kirjoittamaasi ei menetetty eikä tallennettu: arvosi ovat lomakkeella, ja uusin tallennettu arvo näkyy jokaisen eroavan kentän alla. Tallenna uudelleen pitääksesi omasi.",
    newest_saved: "Uusin tallennettu:",
    not_a_number: "Anna luku.",
    fix_errors: "Korjaa merkityt kentät.",
    required_msg: "Tämä kenttä on pakollinen.",
    choose: "— valitse —",
    signed_by: "Allekirjoittanut",
    saved: "Tallennettu.",
    sharing: "Jakaminen",
    share_button: "Jaa",
    share_with: "Jaa osoitteeseen (sähköposti)",
    right_label: "Oikeus",
    right_view: "Katselu",
    right_edit: "Muokkaus",
    right_manage: "Hallinta",
    expires: "Päättyy",
    no_expiry: "Ei päättymispäivää",
    notify_label: "Lähetä siitä sähköposti",
    invitation_language: "Kutsun kieli",
    current_shares: "Jaettu",
    no_shares: "Ei jaettu kenellekään.",
    revoke: "Peru",
    change: "Muuta",
    status_pending: "Kutsuttu",
    status_active: "Voimassa",
    shared_with_you: "Sinulle jaettu",
    nothing_shared: "Sinulle ei ole nyt jaettu mitään.",
    share_saved: "Jaettu. Kutsu lähtee osoitteeseen, joka ei ole vielä hyväksynyt.",
    share_revoked: "Jako on peruttu.",
    share_changed: "Jakoa on muutettu.",
    restricted_hint: "Rajattu: yrityksen jäsenet näkevät kansion vain jaon kautta.",
    upload: "Lähetä",
    add_attachment: "Lisää liite",
    take_photo: "Ota tai valitse kuva",
    file_label: "Tiedosto",
    upload_failed: "Lähetys epäonnistui. Mitään ei tallennettu.",
    too_large: "Tiedosto on liian suuri, tai yrityksen tallennustila on täynnä.",
    months: [
        "tammi", "helmi", "maalis", "huhti", "touko", "kesä", "heinä", "elo", "syys", "loka",
        "marras", "joulu",
    ],
};

pub static DE: Texts = Texts {
    lang: "de",
    product: "Turva",
    skip_to_content: "Zum Inhalt springen",
    main_menu: "Hauptmenü",
    sign_in: "Anmelden",
    sign_in_lead: "Melden Sie sich mit Ihrer E-Mail-Adresse und Ihrem Passwort an.",
    email: "E-Mail-Adresse",
    password: "Passwort",
    forgot_password: "Passwort vergessen?",
    second_factor: "Zweiter Schritt",
    second_factor_lead: "Geben Sie den Code Ihrer Authenticator-App oder einen Ihrer Wiederherstellungscodes ein.",
    code: "Code",
    code_hint: "6 Ziffern oder ein Wiederherstellungscode",
    verify: "Bestätigen",
    start_over: "Von vorn beginnen",
    sign_out: "Abmelden",
    signed_in_as: "Angemeldet als",
    wrong_credentials: "E-Mail-Adresse oder Passwort ist falsch.",
    wrong_code: "Der Code ist falsch oder wurde schon verwendet. Bitte erneut versuchen.",
    code_expired: "Die Anmeldung hat zu lange gedauert. Geben Sie Ihr Passwort erneut ein.",
    too_many_attempts: "Zu viele Versuche. Bitte warten Sie eine Weile.",
    stale_form: "Die Seite war zu lange geöffnet. Bitte erneut versuchen.",
    companies: "Unternehmen",
    company: "Unternehmen",
    switch_company: "Unternehmen wechseln",
    no_companies: "Sie gehören noch zu keinem Unternehmen. Bitten Sie um eine Einladung.",
    folders: "Ordner",
    top_level: "Alle Ordner",
    up_folder: "Übergeordneter Ordner",
    contents: "Inhalt",
    name: "Name",
    kind: "Art",
    updated: "Geändert",
    status: "Status",
    kind_folder: "Ordner",
    kind_document: "Dokument",
    status_draft: "Entwurf",
    status_completed: "Abgeschlossen",
    restricted: "Eingeschränkt",
    empty_folder: "Dieser Ordner ist leer.",
    no_folders: "Es gibt noch keine Ordner, die Sie sehen können.",
    next_page: "Nächste Seite",
    first_page: "Erste Seite",
    breadcrumbs: "Sie sind hier",
    not_found_title: "Nicht gefunden",
    not_found_body: "Diese Seite gibt es nicht, oder Sie haben keinen Zugriff darauf.",
    forbidden_title: "Nicht erlaubt",
    forbidden_body: "Dazu haben Sie keine Berechtigung.",
    error_title: "Etwas ist schiefgelaufen",
    error_body: "Die Anfrage konnte nicht ausgeführt werden. Es wurde nichts geändert. Bitte versuchen Sie es gleich noch einmal.",
    unavailable_body: "Der Dienst ist ausgelastet oder teilweise nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.",
    back_home: "Zur Startseite",
    version: "Version",
    no_fields: "Dieses Dokument hat keine Felder.",
    required: "Pflichtfeld",
    signature_of: "Unterschrift von",
    attachments: "Anhänge",
    no_attachments: "Keine Anhänge.",
    yes: "Ja",
    no: "Nein",
    accept_title: "Einladung annehmen",
    accept_lead_company: "Sie wurden eingeladen zu",
    accept_lead_share: "Mit Ihnen wurde etwas geteilt bei",
    accept_lead_existing: "Geben Sie zum Annehmen das Passwort Ihres Kontos ein.",
    your_name: "Ihr Name",
    new_password: "Neues Passwort",
    new_password_hint: "Mindestens 12 Zeichen. Am besten ein langer Satz aus mehreren Wörtern.",
    repeat_password: "Passwort wiederholen",
    passwords_differ: "Die beiden Passwörter sind verschieden.",
    password_refused: "Das Passwort wurde nicht akzeptiert:",
    accept_button: "Annehmen",
    invalid_link: "Dieser Link ist ungültig, schon verwendet oder abgelaufen. Fordern Sie einen neuen an.",
    forgot_title: "Passwort vergessen",
    forgot_lead: "Geben Sie Ihre E-Mail-Adresse ein; wir senden Ihnen einen Link zum Setzen eines neuen Passworts.",
    send_link: "Link senden",
    link_sent: "Wenn ein Konto diese Adresse hat, ist ein Link zum Setzen eines neuen Passworts unterwegs. Er gilt kurze Zeit.",
    reset_title: "Neues Passwort setzen",
    reset_lead: "Ihr zweiter Faktor bleibt, wie er ist. Alle Sitzungen enden.",
    set_password: "Passwort setzen",
    password_set: "Ihr Passwort ist gesetzt. Melden Sie sich damit an.",
    confirm_email_title: "Neue E-Mail-Adresse bestätigen",
    confirm_email_lead: "Bestätigen Sie, dass diese Adresse die neue Anmeldeadresse Ihres Kontos ist.",
    confirm_button: "Bestätigen",
    email_confirmed: "Ihre E-Mail-Adresse ist geändert.",
    to_sign_in: "Zur Anmeldung",
    edit: "Bearbeiten",
    save: "Speichern",
    cancel: "Abbrechen",
    new_folder: "Neuer Ordner",
    new_document: "Neues Dokument",
    create: "Anlegen",
    template_label: "Vorlage",
    no_template: "Keine Vorlage",
    title_label: "Titel",
    completed_label: "Abgeschlossen",
    conflict: "Jemand hat während Ihrer Bearbeitung eine neuere Version gespeichert. Nichts von Ihnen ging verloren oder wurde gespeichert: Ihre Werte stehen im Formular, und unter jedem abweichenden Feld steht der neueste gespeicherte Wert. Speichern Sie erneut, um Ihre zu behalten.",
    newest_saved: "Zuletzt gespeichert:",
    not_a_number: "Geben Sie eine Zahl ein.",
    fix_errors: "Korrigieren Sie die markierten Felder.",
    required_msg: "Dieses Feld ist erforderlich.",
    choose: "— auswählen —",
    signed_by: "Unterschrieben von",
    saved: "Gespeichert.",
    sharing: "Teilen",
    share_button: "Teilen",
    share_with: "Teilen mit (E-Mail-Adresse)",
    right_label: "Recht",
    right_view: "Ansehen",
    right_edit: "Bearbeiten",
    right_manage: "Verwalten",
    expires: "Läuft ab",
    no_expiry: "Kein Ablauf",
    notify_label: "Per E-Mail benachrichtigen",
    invitation_language: "Sprache der Einladung",
    current_shares: "Geteilt mit",
    no_shares: "Mit niemandem geteilt.",
    revoke: "Widerrufen",
    change: "Ändern",
    status_pending: "Eingeladen",
    status_active: "Aktiv",
    shared_with_you: "Mit Ihnen geteilt",
    nothing_shared: "Derzeit ist nichts mit Ihnen geteilt.",
    share_saved: "Geteilt. Eine Einladung geht an eine Adresse, die noch nicht angenommen hat.",
    share_revoked: "Die Freigabe ist widerrufen.",
    share_changed: "Die Freigabe ist geändert.",
    restricted_hint: "Eingeschränkt: Mitglieder des Unternehmens sehen diesen Ordner nur über eine Freigabe.",
    upload: "Hochladen",
    add_attachment: "Anhang hinzufügen",
    take_photo: "Foto aufnehmen oder wählen",
    file_label: "Datei",
    upload_failed: "Das Hochladen ist fehlgeschlagen. Es wurde nichts gespeichert.",
    too_large: "Die Datei ist zu groß, oder der Speicher des Unternehmens ist voll.",
    months: [
        "Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sep.", "Okt.", "Nov.",
        "Dez.",
    ],
};

/// The texts of a language code (`en`, `fi`, `de`), if Turva speaks it.
pub fn texts(code: &str) -> Option<&'static Texts> {
    match code.get(..2).map(str::to_ascii_lowercase).as_deref() {
        Some("en") => Some(&EN),
        Some("fi") => Some(&FI),
        Some("de") => Some(&DE),
        _ => None,
    }
}

/// The user's language from their profile; else the browser's first
/// `Accept-Language` choice that Turva speaks (by its `q` weight); else
/// English.
pub fn choose(profile: Option<&str>, headers: &HeaderMap) -> &'static Texts {
    if let Some(t) = profile.and_then(texts) {
        return t;
    }
    let header = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut best: Option<(f32, &'static Texts)> = None;
    for part in header.split(',') {
        let mut bits = part.split(';');
        let tag = bits.next().unwrap_or("").trim();
        let q = bits
            .find_map(|b| b.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        if let Some(t) = texts(tag) {
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, t));
            }
        }
    }
    best.map_or(&EN, |(_, t)| t)
}

impl Texts {
    /// A moment (Unix milliseconds, shown in UTC) as the language writes
    /// it: `3 Dec 2026, 17:49`, `3.12.2026 klo 17.49`, `03.12.2026, 17:49`.
    pub fn moment(&self, unix_ms: i64) -> String {
        let Ok(t) =
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        else {
            return String::new();
        };
        let (d, m, y, h, min) = (t.day(), u8::from(t.month()), t.year(), t.hour(), t.minute());
        match self.lang {
            "fi" => format!("{d}.{m}.{y} klo {h}.{min:02}"),
            "de" => format!("{d:02}.{m:02}.{y}, {h:02}:{min:02}"),
            _ => format!(
                "{d} {} {y}, {h:02}:{min:02}",
                self.months.get(usize::from(m) - 1).copied().unwrap_or("")
            ),
        }
    }

    /// A file size: bytes, kB or MB (powers of 1,000), one decimal in the
    /// language's own decimal mark.
    pub fn size(&self, bytes: u64) -> String {
        let (value, unit) = match bytes {
            0..1_000 => return format!("{bytes} B"),
            1_000..1_000_000 => (bytes as f64 / 1e3, "kB"),
            _ => (bytes as f64 / 1e6, "MB"),
        };
        let text = format!("{value:.1}");
        let text = if self.lang == "en" {
            text
        } else {
            text.replace('.', ",")
        };
        format!("{text}\u{a0}{unit}")
    }

    /// A count with the language's thousands separator.
    pub fn number(&self, n: u64) -> String {
        let sep = match self.lang {
            "fi" => '\u{a0}',
            "de" => '.',
            _ => ',',
        };
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(sep);
            }
            out.push(c);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::ACCEPT_LANGUAGE,
            HeaderValue::from_str(v).unwrap(),
        );
        h
    }

    #[test]
    fn the_profile_wins_then_the_browsers_best_choice_then_english() {
        assert_eq!(choose(Some("fi"), &accept("de")).lang, "fi");
        assert_eq!(
            choose(None, &accept("sv-SE, de;q=0.5, fi;q=0.8")).lang,
            "fi"
        );
        assert_eq!(choose(Some("xx"), &accept("de-AT")).lang, "de");
        assert_eq!(choose(None, &accept("sv, fr;q=0.9")).lang, "en");
        assert_eq!(choose(None, &accept("fi;q=0, de;q=0.1")).lang, "de");
        assert_eq!(choose(None, &HeaderMap::new()).lang, "en");
    }

    #[test]
    fn dates_and_numbers_are_written_as_each_language_writes_them() {
        let ms = 1_764_784_140_000; // 2025-12-03 17:49 UTC
        assert_eq!(EN.moment(ms), "3 Dec 2025, 17:49");
        assert_eq!(FI.moment(ms), "3.12.2025 klo 17.49");
        assert_eq!(DE.moment(ms), "03.12.2025, 17:49");
        assert_eq!(EN.number(1_234_567), "1,234,567");
        assert_eq!(FI.number(1_234_567), "1\u{a0}234\u{a0}567");
        assert_eq!(DE.number(999), "999");
        assert_eq!(DE.number(1000), "1.000");
        assert_eq!(EN.size(999), "999 B");
        assert_eq!(EN.size(1_048_576), "1.0\u{a0}MB");
        assert_eq!(FI.size(15_300), "15,3\u{a0}kB");
    }
}
