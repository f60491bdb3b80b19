//! The mail settings. The same names serve as the evacuator's OCF
//! parameters and as `umha-alert`'s instance attributes (Pacemaker passes
//! those as environment variables), so an administrator learns them once.
//!
//! Secrets are never settings: the SMTP password is read from a file
//! (`smtp_password_file`, readable only by the agent's user: root for the
//! evacuator, hacluster for umha-alert), as fence agents read theirs from
//! a script, so it never shows in the CIB, `ps`, or a log.

use std::path::{Path, PathBuf};
use std::time::Duration;

use agent_core::value::{parse_duration, parse_list};

use crate::AlertError;

/// Every setting's name, as OCF parameter and alert instance attribute.
pub const SETTINGS: &[&str] = &[
    "mail_to",
    "mail_from",
    "smtp_server",
    "smtp_tls",
    "smtp_user",
    "smtp_password_file",
    "smtp_ca_file",
    "smtp_tls_verify",
    "mail_subject_prefix",
    "send_interval",
    "mail_batch_delay",
    "mail_spool",
];

pub const DEFAULT_SPOOL: &str = "/var/lib/umha/mail-spool";
pub const DEFAULT_SUBJECT_PREFIX: &str = "[umha]";
/// UMHA's `send_interval_hours`.
pub const DEFAULT_SEND_INTERVAL: Duration = Duration::from_secs(3 * 3600);
pub const DEFAULT_BATCH_DELAY: Duration = Duration::from_secs(10);
/// An SMTP conversation gets at most this long per step.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(20);
/// A password file bigger than this is not a password file.
const MAX_SECRET: u64 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS, required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only when named, and never with a password.
    None,
}

impl TlsMode {
    fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "starttls" => Some(Self::StartTls),
            "tls" | "smtps" => Some(Self::Tls),
            "none" | "plain" => Some(Self::None),
            _ => None,
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::StartTls => 587,
            Self::Tls => 465,
            Self::None => 25,
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct MailConfig {
    pub to: Vec<String>,
    pub from: String,
    pub server: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    /// Certificate verification; off only by `smtp_tls_verify=false`.
    pub verify: bool,
    pub subject_prefix: String,
    pub send_interval: Duration,
    pub batch_delay: Duration,
    pub spool: PathBuf,
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("to", &self.to)
            .field("server", &self.server)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field("spool", &self.spool)
            .finish_non_exhaustive()
    }
}

fn bad(text: String) -> AlertError {
    AlertError::Config(text)
}

/// A mail address as SMTP takes it: `local@domain`, nothing that could
/// smuggle a header or a second address.
fn check_address(what: &str, addr: &str) -> Result<(), AlertError> {
    let ok = addr.len() <= 254
        && addr
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'))
        && !addr.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
        });
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "{what} {addr:?} is not a mail address (user@domain)"
        )))
    }
}

fn duration(name: &str, text: Option<String>, default: Duration) -> Result<Duration, AlertError> {
    match text.filter(|t| !t.trim().is_empty()) {
        None => Ok(default),
        Some(t) => parse_duration(&t).ok_or_else(|| {
            bad(format!(
                "{name} {t:?} is not a duration (such as 30s, 10min, 3h)"
            ))
        }),
    }
}

impl MailConfig {
    /// The settings from `get` (parameter name → value). `Ok(None)` when
    /// `mail_to` is empty: mail is off, and nothing else is looked at.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, AlertError> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let to = parse_list(&get("mail_to").unwrap_or_default());
        if to.is_empty() {
            return Ok(None);
        }
        for addr in &to {
            check_address("mail_to", addr)?;
        }
        let tls_text = get("smtp_tls").unwrap_or_default();
        let tls = TlsMode::parse(&tls_text).ok_or_else(|| {
            bad(format!(
                "smtp_tls {tls_text:?} is not starttls, tls or none"
            ))
        })?;
        let server_text = get("smtp_server")
            .ok_or_else(|| bad("mail_to is set but smtp_server is not".to_owned()))?;
        let (server, port) = split_server(&server_text, tls.default_port())?;
        let from = get("mail_from").unwrap_or_else(|| format!("umha@{}", local_host()));
        check_address("mail_from", &from)?;
        let user = get("smtp_user");
        let password_file = get("smtp_password_file").map(PathBuf::from);
        if user.is_some() != password_file.is_some() {
            return Err(bad(
                "smtp_user and smtp_password_file go together".to_owned()
            ));
        }
        if tls == TlsMode::None && user.is_some() {
            return Err(bad(
                "smtp_tls=none with smtp_user would send the password in clear; use starttls or tls".to_owned(),
            ));
        }
        let verify = match get("smtp_tls_verify")
            .as_deref()
            .map(str::to_ascii_lowercase)
        {
            None => true,
            Some(v) if matches!(v.as_str(), "true" | "yes" | "1" | "on") => true,
            Some(v) if matches!(v.as_str(), "false" | "no" | "0" | "off") => false,
            Some(v) => return Err(bad(format!("smtp_tls_verify {v:?} is not true or false"))),
        };
        let spool = PathBuf::from(get("mail_spool").unwrap_or_else(|| DEFAULT_SPOOL.to_owned()));
        if !spool.is_absolute() {
            return Err(bad(format!(
                "mail_spool {} is not an absolute path",
                spool.display()
            )));
        }
        Ok(Some(Self {
            to,
            from,
            server,
            port,
            tls,
            user,
            password_file,
            ca_file: get("smtp_ca_file").map(PathBuf::from),
            verify,
            subject_prefix: get("mail_subject_prefix")
                .unwrap_or_else(|| DEFAULT_SUBJECT_PREFIX.to_owned()),
            send_interval: duration("send_interval", get("send_interval"), DEFAULT_SEND_INTERVAL)?,
            batch_delay: duration(
                "mail_batch_delay",
                get("mail_batch_delay"),
                DEFAULT_BATCH_DELAY,
            )?,
            spool,
        }))
    }

    /// What `validate-all` adds to the parsing: the files the settings name
    /// can be read, so a typo fails at configuration time rather than at
    /// the first incident.
    pub fn validate(&self) -> Result<(), AlertError> {
        if let Some(path) = &self.password_file {
            self.password_from(path)?;
        }
        if let Some(ca) = &self.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| bad(format!("smtp_ca_file {}: {e}", ca.display())))?;
            let none = || {
                bad(format!(
                    "smtp_ca_file {}: no PEM certificate in it",
                    ca.display()
                ))
            };
            if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                return Err(none());
            }
            lettre::transport::smtp::client::Certificate::from_pem(&pem).map_err(|_| none())?;
        }
        Ok(())
    }

    /// The password: the file's first line. Its content is never put in an
    /// error.
    pub fn password(&self) -> Result<Option<String>, AlertError> {
        self.password_file
            .as_deref()
            .map(|p| self.password_from(p))
            .transpose()
    }

    fn password_from(&self, path: &Path) -> Result<String, AlertError> {
        let what =
            |e: &dyn std::fmt::Display| bad(format!("smtp_password_file {}: {e}", path.display()));
        let meta = std::fs::metadata(path).map_err(|e| what(&e))?;
        if !meta.is_file() || meta.len() > MAX_SECRET {
            return Err(what(&"not a small regular file"));
        }
        let text = std::fs::read_to_string(path).map_err(|e| what(&e))?;
        let line = text.lines().next().unwrap_or_default().to_owned();
        if line.is_empty() {
            return Err(what(&"empty"));
        }
        Ok(line)
    }
}

fn split_server(text: &str, default_port: u16) -> Result<(String, u16), AlertError> {
    let invalid = || bad(format!("smtp_server {text:?} is not HOST or HOST:PORT"));
    // [v6]:port, v6 alone, host:port, host.
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or_else(invalid)?;
        match after.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if after.is_empty() => (h, None),
            None => return Err(invalid()),
        }
    } else if text.matches(':').count() == 1 {
        let (h, p) = text.split_once(':').ok_or_else(invalid)?;
        (h, Some(p))
    } else {
        (text, None)
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(invalid());
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(invalid)?,
    };
    Ok((host.to_owned(), port))
}

fn local_host() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<Option<MailConfig>, AlertError> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        MailConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn off_without_receivers() {
        assert!(parse(&[]).unwrap().is_none());
        assert!(parse(&[("mail_to", " ")]).unwrap().is_none());
    }

    #[test]
    fn defaults_and_forms() {
        let c = parse(&[
            ("mail_to", "a@x.org, b@y.org"),
            ("smtp_server", "mail.x.org"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.to, ["a@x.org", "b@y.org"]);
        assert_eq!(
            (c.server.as_str(), c.port, c.tls),
            ("mail.x.org", 587, TlsMode::StartTls)
        );
        assert_eq!(c.send_interval, DEFAULT_SEND_INTERVAL);
        assert!(c.verify);
        let c = parse(&[
            ("mail_to", "a@x.org"),
            ("smtp_server", "[::1]:2525"),
            ("smtp_tls", "tls"),
            ("send_interval", "10min"),
            ("smtp_tls_verify", "false"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (c.server.as_str(), c.port, c.tls),
            ("::1", 2525, TlsMode::Tls)
        );
        assert_eq!(c.send_interval, Duration::from_secs(600));
        assert!(!c.verify);
    }

    #[test]
    fn every_bad_setting_is_named() {
        let base = [("mail_to", "a@x.org"), ("smtp_server", "m")];
        for (extra, want) in [
            (("mail_to", "not-an-address"), "mail_to"),
            (("mail_to", "a@x.org\r\nBcc: evil@y"), "mail_to"),
            (("smtp_server", "m:99999"), "smtp_server"),
            (("smtp_server", "m:"), "smtp_server"),
            (("smtp_tls", "maybe"), "smtp_tls"),
            (("send_interval", "soon"), "send_interval"),
            (("mail_batch_delay", "-1"), "mail_batch_delay"),
            (("smtp_user", "u"), "smtp_password_file"),
            (("mail_spool", "relative/dir"), "mail_spool"),
            (("smtp_tls_verify", "perhaps"), "smtp_tls_verify"),
            (("mail_from", "x"), "mail_from"),
        ] {
            let mut pairs = base.to_vec();
            pairs.retain(|(k, _)| *k != extra.0);
            pairs.push(extra);
            let e = parse(&pairs).unwrap_err().to_string();
            assert!(e.contains(want), "{extra:?}: {e}");
        }
        let e = parse(&[("mail_to", "a@x.org")]).unwrap_err().to_string();
        assert!(e.contains("smtp_server"), "{e}");
        let e = parse(&[
            ("mail_to", "a@x.org"),
            ("smtp_server", "m"),
            ("smtp_tls", "none"),
            ("smtp_user", "u"),
            ("smtp_password_file", "/p"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("clear"), "{e}");
    }

    #[test]
    fn password_file_checked_and_never_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "s3cret-value\nignored\n").unwrap();
        let c = parse(&[
            ("mail_to", "a@x.org"),
            ("smtp_server", "m"),
            ("smtp_user", "u"),
            ("smtp_password_file", p.to_str().unwrap()),
        ])
        .unwrap()
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.password().unwrap().as_deref(), Some("s3cret-value"));
        assert!(!format!("{c:?}").contains("s3cret"));
        let missing = MailConfig {
            password_file: Some(dir.path().join("nope")),
            ..c.clone()
        };
        let e = missing.validate().unwrap_err().to_string();
        assert!(
            e.contains("smtp_password_file") && !e.contains("s3cret"),
            "{e}"
        );
        let bad_ca = MailConfig {
            ca_file: Some(p.clone()),
            ..c
        };
        let e = bad_ca.validate().unwrap_err().to_string();
        assert!(e.contains("smtp_ca_file") && !e.contains("s3cret"), "{e}");
    }
}
