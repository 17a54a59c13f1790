//! Configuration: one typed TOML file plus `TURVA_<SECTION>_<KEY>`
//! environment overrides (which win), read once at start-up, validated as a
//! whole and passed down explicitly.
//!
//! Every option is listed once, with its documentation, in [`OPTIONS`]; the
//! sample file `docs/turva.sample.toml` is generated from that table and a
//! test keeps it current. Unknown keys in the file are an error; unknown
//! `TURVA_` variables are returned as warnings.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A secret value (a URL with a password, a key): its `Debug` and `Display`
/// never show it.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: Server,
    pub database: Database,
    pub storage: Storage,
    pub keys: Keys,
    pub auth: Auth,
    pub smtp: Smtp,
    pub audit: Audit,
    pub backup: Backup,
    pub log: Log,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub listen: String,
    pub public_url: Option<String>,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    pub url: Option<Secret>,
    /// A file holding `url` (a mounted secret), read at start-up.
    pub url_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Storage {
    pub url: Option<String>,
    /// Largest attachment, in bytes.
    pub max_file_bytes: u64,
    /// Most bytes of attachments one company may store.
    pub company_quota_bytes: u64,
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            url: None,
            max_file_bytes: 100 * 1024 * 1024,
            company_quota_bytes: 50 * 1024 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Keys {
    pub master_key_file: Option<PathBuf>,
    /// A new master-key version this many days after the newest; 0: never.
    pub rotate_days: u32,
}

impl Default for Keys {
    fn default() -> Self {
        Keys {
            master_key_file: None,
            rotate_days: 90,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    pub reauth_seconds: u64,
    pub session_idle_seconds: u64,
    pub session_absolute_seconds: u64,
    /// The longest life an API token may be given.
    pub token_max_days: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Smtp {
    pub url: Option<Secret>,
    /// A file holding `url` (a mounted secret), read at start-up.
    pub url_file: Option<PathBuf>,
    pub from: String,
    pub per_recipient_per_hour: u32,
    pub per_company_per_hour: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    pub retention_days: u32,
    pub checkpoint_seconds: u32,
    pub alert_failed_signins: u32,
    pub alert_failed_signins_minutes: u32,
    pub alert_downloads: u32,
    pub alert_downloads_minutes: u32,
    pub email_checkpoints: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Backup {
    pub target: Option<String>,
    pub retention_days: u32,
    pub schedule: String,
    pub keyring_target: Option<String>,
    pub keyring_retention_days: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    pub format: String,
    pub level: String,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: "127.0.0.1:8443".into(),
            public_url: None,
            tls_cert_file: None,
            tls_key_file: None,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            reauth_seconds: 600,
            session_idle_seconds: 43_200,
            session_absolute_seconds: 604_800,
            token_max_days: 365,
        }
    }
}

impl Default for Smtp {
    fn default() -> Self {
        Smtp {
            url: None,
            url_file: None,
            from: "Turva <turva@localhost>".into(),
            per_recipient_per_hour: 20,
            per_company_per_hour: 1000,
        }
    }
}

impl Default for Audit {
    fn default() -> Self {
        Audit {
            retention_days: 400,
            checkpoint_seconds: 5,
            alert_failed_signins: 10,
            alert_failed_signins_minutes: 15,
            alert_downloads: 100,
            alert_downloads_minutes: 10,
            email_checkpoints: false,
        }
    }
}

impl Default for Backup {
    fn default() -> Self {
        Backup {
            target: None,
            retention_days: 90,
            schedule: "02:00".into(),
            keyring_target: None,
            keyring_retention_days: 7,
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Log {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

/// How an option's environment value is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    /// `true` or `false`.
    Bool,
    /// A comma-separated list in the environment.
    List,
}

/// One option: where it lives, how it parses, its default and what it does.
pub struct Opt {
    pub section: &'static str,
    pub key: &'static str,
    pub kind: Kind,
    /// The default as a TOML literal, or empty when unset by default.
    pub default: &'static str,
    pub doc: &'static str,
}

/// Every option Turva reads. The sample config is generated from this.
pub const OPTIONS: &[Opt] = &[
    Opt { section: "server", key: "listen", kind: Kind::Text, default: "\"127.0.0.1:8443\"", doc: "Address and port of the HTTPS listener." },
    Opt { section: "server", key: "public_url", kind: Kind::Text, default: "", doc: "Base URL of every link in an email (never taken from a request's Host). Default: https://localhost:<port>." },
    Opt { section: "server", key: "tls_cert_file", kind: Kind::Text, default: "", doc: "PEM certificate chain. Default: a self-signed certificate for localhost kept in the data directory." },
    Opt { section: "server", key: "tls_key_file", kind: Kind::Text, default: "", doc: "PEM private key of tls_cert_file." },
    Opt { section: "server", key: "trusted_proxies", kind: Kind::List, default: "[]", doc: "Addresses or CIDR ranges whose X-Forwarded-For header is believed." },
    Opt { section: "database", key: "url", kind: Kind::Text, default: "", doc: "postgres://… switches to PostgreSQL. Default: the SQLCipher database DIR/turva.db." },
    Opt { section: "database", key: "url_file", kind: Kind::Text, default: "", doc: "A file holding database.url (e.g. a mounted secret), instead of url." },
    Opt { section: "storage", key: "url", kind: Kind::Text, default: "", doc: "Where attachments live: a directory (s3:// comes later). Default: DIR/files." },
    Opt { section: "storage", key: "max_file_bytes", kind: Kind::Integer, default: "104857600", doc: "Largest attachment, in bytes (100 MiB by default); larger uploads are refused with 413." },
    Opt { section: "storage", key: "company_quota_bytes", kind: Kind::Integer, default: "53687091200", doc: "Most bytes of attachments one company may store (50 GiB by default); an upload past it is refused with 413." },
    Opt { section: "keys", key: "master_key_file", kind: Kind::Text, default: "", doc: "The master key file. Default: DIR/master.key (keep it outside the data directory in production)." },
    Opt { section: "keys", key: "rotate_days", kind: Kind::Integer, default: "90", doc: "The server adds a master-key version and rewraps every data key under it this many days after the newest version was made (as `turva keys rotate` does); 0 turns the schedule off." },
    Opt { section: "auth", key: "reauth_seconds", kind: Kind::Integer, default: "600", doc: "How long a password or second factor counts as recent, for sensitive actions." },
    Opt { section: "auth", key: "session_idle_seconds", kind: Kind::Integer, default: "43200", doc: "A session unused this long ends." },
    Opt { section: "auth", key: "session_absolute_seconds", kind: Kind::Integer, default: "604800", doc: "A session ends this long after sign-in." },
    Opt { section: "auth", key: "token_max_days", kind: Kind::Integer, default: "365", doc: "The longest life an API token may be given (its expires_at may be at most this far ahead)." },
    Opt { section: "smtp", key: "url", kind: Kind::Text, default: "", doc: "smtp:// or smtps:// URL with credentials. Default: emails are written to DIR/outbox/ as .eml files." },
    Opt { section: "smtp", key: "url_file", kind: Kind::Text, default: "", doc: "A file holding smtp.url, instead of url." },
    Opt { section: "smtp", key: "from", kind: Kind::Text, default: "\"Turva <turva@localhost>\"", doc: "The From address of every email." },
    Opt { section: "smtp", key: "per_recipient_per_hour", kind: Kind::Integer, default: "20", doc: "Most emails one address receives in an hour; more are refused with 429." },
    Opt { section: "smtp", key: "per_company_per_hour", kind: Kind::Integer, default: "1000", doc: "Most emails sent on behalf of one company in an hour." },
    Opt { section: "audit", key: "retention_days", kind: Kind::Integer, default: "400", doc: "How long audit events are kept; at least 365." },
    Opt { section: "audit", key: "checkpoint_seconds", kind: Kind::Integer, default: "5", doc: "A signed checkpoint at least this often while events arrive." },
    Opt { section: "audit", key: "alert_failed_signins", kind: Kind::Integer, default: "10", doc: "A company's owners and admins are alerted when this many sign-ins to one member's account fail ..." },
    Opt { section: "audit", key: "alert_failed_signins_minutes", kind: Kind::Integer, default: "15", doc: "... within this many minutes." },
    Opt { section: "audit", key: "alert_downloads", kind: Kind::Integer, default: "100", doc: "A company's owners and admins are alerted when one person downloads this many of its files ..." },
    Opt { section: "audit", key: "alert_downloads_minutes", kind: Kind::Integer, default: "10", doc: "... within this many minutes." },
    Opt { section: "audit", key: "email_checkpoints", kind: Kind::Bool, default: "false", doc: "Once a day, email the newest signed checkpoint to every company's owners and admins: a copy of it outside this machine." },
    Opt { section: "backup", key: "target", kind: Kind::Text, default: "", doc: "A directory or an S3-compatible bucket for backups: s3://BUCKET[/PREFIX][?endpoint=URL&region=R&allow_http=true] (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or access_key_id= and secret_access_key= in the query). Default: DIR/backups." },
    Opt { section: "backup", key: "retention_days", kind: Kind::Integer, default: "90", doc: "How long backups are kept." },
    Opt { section: "backup", key: "schedule", kind: Kind::Text, default: "\"02:00\"", doc: "Daily backup time (HH:MM, UTC), or \"off\"." },
    Opt { section: "backup", key: "keyring_target", kind: Kind::Text, default: "", doc: "Where copies of the key ring go, apart from the data backups (a directory or an s3:// URL as for target). Default: DIR/keyring-copies." },
    Opt { section: "backup", key: "keyring_retention_days", kind: Kind::Integer, default: "7", doc: "A destroyed key is gone from every key-ring copy after this many days." },
    Opt { section: "log", key: "format", kind: Kind::Text, default: "\"text\"", doc: "\"text\" or \"json\" (one JSON object a line)." },
    Opt { section: "log", key: "level", kind: Kind::Text, default: "\"info\"", doc: "error, warn, info, debug or trace (RUST_LOG overrides)." },
];

/// Environment variables that start with `TURVA_` but are not configuration.
const NOT_CONFIG: &[&str] = &[
    "TURVA_PASSWORD",
    "TURVA_REQUIRE_POSTGRES",
    "TURVA_REQUIRE_S3",
    "TURVA_MOTO_SERVER",
    "TURVA_LOG",
];

impl Config {
    /// Reads `file` (if given) and the environment `vars`; returns the
    /// config and warnings about ignored variables.
    pub fn load(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Config, Vec<String>), String> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
                text.parse::<toml::Table>()
                    .map_err(|e| format!("config file {}: {e}", path.display()))?
            }
            None => toml::Table::new(),
        };
        let warnings = apply_env(&mut table, vars)?;
        let mut config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| format!("configuration: {}", e.message()))?;
        config.database.url = secret_from(
            config.database.url.take(),
            config.database.url_file.as_deref(),
            "database",
        )?;
        config.smtp.url = secret_from(
            config.smtp.url.take(),
            config.smtp.url_file.as_deref(),
            "smtp",
        )?;
        config.validate()?;
        Ok((config, warnings))
    }

    /// Checks the config as a whole, including combinations of options.
    pub fn validate(&self) -> Result<(), String> {
        self.listen_addr()?;
        if let Some(u) = &self.server.public_url {
            if !(u.starts_with("https://")
                || u.starts_with("http://localhost")
                || u.starts_with("http://127.0.0.1"))
            {
                return Err("server.public_url must be an https:// URL".into());
            }
        }
        if self.server.tls_cert_file.is_some() != self.server.tls_key_file.is_some() {
            return Err("server.tls_cert_file and server.tls_key_file must be set together".into());
        }
        for p in &self.server.trusted_proxies {
            parse_cidr(p).ok_or_else(|| {
                format!("server.trusted_proxies: {p:?} is not an address or CIDR range")
            })?;
        }
        if let Some(u) = &self.database.url {
            let u = u.expose();
            if !(u.starts_with("postgres://") || u.starts_with("postgresql://")) {
                return Err("database.url must start with postgres:// (leave it unset for the embedded database)".into());
            }
        }
        if let Some(u) = &self.storage.url {
            if u.contains("://") {
                return Err(
                    "storage.url: only a directory is supported yet (s3:// comes later)".into(),
                );
            }
        }
        if self.storage.max_file_bytes == 0 || self.storage.company_quota_bytes == 0 {
            return Err(
                "storage.max_file_bytes and storage.company_quota_bytes must be positive".into(),
            );
        }
        if let Some(u) = &self.smtp.url {
            if !(u.expose().starts_with("smtp://") || u.expose().starts_with("smtps://")) {
                return Err("smtp.url must start with smtp:// or smtps://".into());
            }
        }
        let positive = [
            ("auth.reauth_seconds", self.auth.reauth_seconds),
            ("auth.session_idle_seconds", self.auth.session_idle_seconds),
            ("auth.token_max_days", self.auth.token_max_days),
            (
                "auth.session_absolute_seconds",
                self.auth.session_absolute_seconds,
            ),
            (
                "audit.checkpoint_seconds",
                u64::from(self.audit.checkpoint_seconds),
            ),
            (
                "audit.alert_failed_signins",
                u64::from(self.audit.alert_failed_signins),
            ),
            (
                "audit.alert_failed_signins_minutes",
                u64::from(self.audit.alert_failed_signins_minutes),
            ),
            (
                "audit.alert_downloads",
                u64::from(self.audit.alert_downloads),
            ),
            (
                "audit.alert_downloads_minutes",
                u64::from(self.audit.alert_downloads_minutes),
            ),
            (
                "smtp.per_recipient_per_hour",
                u64::from(self.smtp.per_recipient_per_hour),
            ),
            (
                "smtp.per_company_per_hour",
                u64::from(self.smtp.per_company_per_hour),
            ),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(format!("{name} must be a positive number"));
            }
        }
        if self.audit.retention_days < 365 {
            return Err(format!(
                "audit.retention_days is {}, but audit events must be kept at least 365 days",
                self.audit.retention_days
            ));
        }
        if self.backup.schedule != "off" && parse_hh_mm(&self.backup.schedule).is_none() {
            return Err("backup.schedule must be HH:MM (UTC) or \"off\"".into());
        }
        if !["text", "json"].contains(&self.log.format.as_str()) {
            return Err("log.format must be \"text\" or \"json\"".into());
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        self.server.listen.parse().map_err(|_| {
            format!(
                "server.listen {:?} is not an address:port",
                self.server.listen
            )
        })
    }

    /// The base of links in emails.
    pub fn public_url(&self) -> String {
        match &self.server.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => {
                let port = self.listen_addr().map(|a| a.port()).unwrap_or(8443);
                format!("https://localhost:{port}")
            }
        }
    }

    /// Whether `peer` is a trusted proxy (its X-Forwarded-For is believed).
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        self.server
            .trusted_proxies
            .iter()
            .filter_map(|p| parse_cidr(p))
            .any(|(net, bits)| in_net(peer, net, bits))
    }

    /// The sample configuration file, generated from [`OPTIONS`].
    pub fn sample() -> String {
        let mut out = String::from(
            "# Turva configuration. Every key is optional; the values shown are the defaults.\n\
             # Each key can also be set by the environment variable TURVA_<SECTION>_<KEY>,\n\
             # which wins over this file. Unknown keys are an error.\n",
        );
        let mut section = "";
        for o in OPTIONS {
            if o.section != section {
                section = o.section;
                out.push_str(&format!("\n[{section}]\n"));
            }
            out.push_str(&format!("# {}\n", o.doc));
            if o.default.is_empty() {
                out.push_str(&format!("# {} =\n", o.key));
            } else {
                out.push_str(&format!("{} = {}\n", o.key, o.default));
            }
        }
        out
    }
}

fn apply_env(
    table: &mut toml::Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix("TURVA_") else {
            continue;
        };
        if NOT_CONFIG.contains(&name.as_str()) {
            continue;
        }
        let opt = OPTIONS
            .iter()
            .find(|o| format!("{}_{}", o.section, o.key).eq_ignore_ascii_case(rest));
        let Some(opt) = opt else {
            warnings.push(format!(
                "environment variable {name} names no configuration key; ignored"
            ));
            continue;
        };
        let v = match opt.kind {
            Kind::Text => toml::Value::String(value),
            Kind::Integer => toml::Value::Integer(
                value
                    .trim()
                    .parse()
                    .map_err(|_| format!("{name}: {value:?} is not a whole number"))?,
            ),
            Kind::Bool => toml::Value::Boolean(
                value
                    .trim()
                    .parse()
                    .map_err(|_| format!("{name}: {value:?} is not true or false"))?,
            ),
            Kind::List => toml::Value::Array(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| toml::Value::String(s.to_string()))
                    .collect(),
            ),
        };
        let section = table
            .entry(opt.section)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match section {
            toml::Value::Table(t) => {
                t.insert(opt.key.to_string(), v);
            }
            _ => return Err(format!("configuration: [{}] must be a table", opt.section)),
        }
    }
    Ok(warnings)
}

/// A secret given inline or as a file (`…_file`), not both.
fn secret_from(
    inline: Option<Secret>,
    file: Option<&Path>,
    section: &str,
) -> Result<Option<Secret>, String> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(format!(
            "{section}.url and {section}.url_file are both set: choose one"
        )),
        (inline, None) => Ok(inline),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("{section}.url_file {}: {e}", path.display()))?;
            Ok(Some(Secret::new(text.trim_end_matches(['\n', '\r']))))
        }
    }
}

pub(crate) fn parse_hh_mm(s: &str) -> Option<(u8, u8)> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u8, u8) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && s.len() == 5).then_some((h, m))
}

/// Parses `addr` or `addr/bits`.
fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a.parse::<IpAddr>().ok()?, b.parse::<u8>().ok()?),
        None => {
            let a: IpAddr = s.parse().ok()?;
            (a, if a.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((addr, bits))
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<(Config, Vec<String>), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("turva.toml");
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        Config::load(
            Some(&path),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn defaults_match_the_contract() -> Result<(), String> {
        let (c, w) = load("", &[])?;
        assert!(w.is_empty());
        assert_eq!(c.server.listen, "127.0.0.1:8443");
        assert_eq!(c.public_url(), "https://localhost:8443");
        assert_eq!(c.auth.reauth_seconds, 600);
        assert_eq!(c.auth.session_idle_seconds, 43_200);
        assert_eq!(c.auth.session_absolute_seconds, 604_800);
        assert_eq!(c.audit.retention_days, 400);
        assert_eq!(c.audit.checkpoint_seconds, 5);
        assert_eq!(c.backup.retention_days, 90);
        assert_eq!(c.backup.schedule, "02:00");
        assert_eq!(c.backup.keyring_retention_days, 7);
        Ok(())
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let err = load("[server]\nlisen = \"x\"\n", &[])
            .err()
            .unwrap_or_default();
        assert!(err.contains("lisen"), "{err}");
        let err = load("[serverr]\n", &[]).err().unwrap_or_default();
        assert!(err.contains("serverr"), "{err}");
    }

    #[test]
    fn the_environment_wins_over_the_file() -> Result<(), String> {
        let (c, w) = load(
            "[auth]\nreauth_seconds = 100\n",
            &[
                ("TURVA_AUTH_REAUTH_SECONDS", "300"),
                ("TURVA_SERVER_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1"),
                ("TURVA_PASSWORD", "not config"),
                ("TURVA_NOPE", "x"),
            ],
        )?;
        assert_eq!(c.auth.reauth_seconds, 300);
        assert!(c.is_trusted_proxy("10.1.2.3".parse().map_err(|_| "ip")?));
        assert!(c.is_trusted_proxy("192.168.1.1".parse().map_err(|_| "ip")?));
        assert!(!c.is_trusted_proxy("192.168.1.2".parse().map_err(|_| "ip")?));
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("TURVA_NOPE"));
        Ok(())
    }

    #[test]
    fn bad_values_are_refused_clearly() {
        for (text, needle) in [
            ("[audit]\nretention_days = 100\n", "365"),
            ("[auth]\nreauth_seconds = 0\n", "reauth_seconds"),
            ("[server]\nlisten = \"nowhere\"\n", "server.listen"),
            ("[database]\nurl = \"mysql://x\"\n", "database.url"),
            ("[backup]\nschedule = \"25:00\"\n", "backup.schedule"),
            ("[server]\ntls_cert_file = \"/x\"\n", "tls_key_file"),
            (
                "[server]\ntrusted_proxies = [\"nope\"]\n",
                "trusted_proxies",
            ),
        ] {
            let err = load(text, &[]).err().unwrap_or_default();
            assert!(err.contains(needle), "{text:?} gave {err:?}");
        }
        let err = load("", &[("TURVA_AUTH_REAUTH_SECONDS", "soon")])
            .err()
            .unwrap_or_default();
        assert!(err.contains("TURVA_AUTH_REAUTH_SECONDS"));
    }

    #[test]
    fn secrets_can_come_from_files() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let secret = dir.path().join("db-url");
        std::fs::write(&secret, "postgres://u:hunter2@db/turva\n").map_err(|e| e.to_string())?;
        let (c, _) = load(
            &format!(
                "[database]\nurl_file = {:?}\n",
                secret.display().to_string()
            ),
            &[],
        )?;
        assert_eq!(
            c.database.url.as_ref().map(Secret::expose),
            Some("postgres://u:hunter2@db/turva")
        );
        let both = format!(
            "[database]\nurl = \"postgres://x\"\nurl_file = {:?}\n",
            secret.display().to_string()
        );
        assert!(load(&both, &[])
            .err()
            .unwrap_or_default()
            .contains("choose one"));
        let missing = load("[smtp]\nurl_file = \"/nonexistent/smtp\"\n", &[])
            .err()
            .unwrap_or_default();
        assert!(missing.contains("smtp.url_file"), "{missing}");
        Ok(())
    }

    #[test]
    fn secrets_never_print() -> Result<(), String> {
        let (c, _) = load("[database]\nurl = \"postgres://u:hunter2@db/turva\"\n", &[])?;
        assert!(!format!("{c:?}").contains("hunter2"));
        Ok(())
    }

    #[test]
    fn the_sample_config_parses_and_is_current() -> Result<(), String> {
        let sample = Config::sample();
        load(&sample, &[])?;
        // The checkout the test runs in (cargo sets it at run time too): a
        // test binary built in another checkout of a shared target
        // directory carries that checkout's path.
        let manifest_dir = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
        let path = format!("{manifest_dir}/../../docs/turva.sample.toml");
        let path = path.as_str();
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        if committed != sample {
            // Regenerate with: TURVA_WRITE_SAMPLE=1 cargo test -p turva-app sample
            if std::env::var_os("TURVA_WRITE_SAMPLE").is_some() {
                std::fs::write(path, &sample).map_err(|e| e.to_string())?;
            } else {
                return Err("docs/turva.sample.toml is stale: run TURVA_WRITE_SAMPLE=1 cargo test -p turva-app sample".into());
            }
        }
        // Every field of every section is documented in OPTIONS.
        let defaults = [
            ("server", 5),
            ("database", 2),
            ("storage", 3),
            ("keys", 2),
            ("auth", 4),
            ("smtp", 5),
            ("audit", 7),
            ("backup", 5),
            ("log", 2),
        ];
        for (section, n) in defaults {
            assert_eq!(
                OPTIONS.iter().filter(|o| o.section == section).count(),
                n,
                "{section}"
            );
        }
        Ok(())
    }
}
