//! Logging the way Pacemaker administrators expect: the conventions of
//! resource-agents' `ocf-shellfuncs` (`ocf_log`, `ha_log`, `ha_debug`).
//!
//! Administrators grep their syslog or `HA_LOGFILE` for `agent(instance)[pid]`
//! tags and turn on debugging with `HA_debug=1`; an agent that logs any other
//! way is invisible to them. Library crates log through the `log` facade, and
//! [`init`] routes it here, so a message from deep inside a protocol crate ends
//! up in the same place with the same tag.
//!
//! Routing, as in `ha_log`:
//! - stderr is a terminal: the line goes to stderr only (someone is watching);
//! - otherwise: syslog when `HA_LOGFACILITY` names a facility (not `none`),
//!   `HA_LOGFILE` when set, stderr when neither is, and `HA_DEBUGLOG` as well;
//! - debug lines only when `HA_debug` is set and not `0`.
//!
//! Fence agents add one rule: Pacemaker's fencer records what they write on
//! stderr, so [`StderrPolicy::Always`] keeps stderr in every case.

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// Severity, named as syslog and `ocf_log` name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Err,
    Warning,
    Notice,
    Info,
    Debug,
}

impl Level {
    /// The prefix `ocf_log` puts before the message.
    pub fn prefix(self) -> &'static str {
        match self {
            Level::Err => "ERROR: ",
            Level::Warning => "WARNING: ",
            Level::Notice => "",
            Level::Info => "INFO: ",
            Level::Debug => "DEBUG: ",
        }
    }

    fn syslog_severity(self) -> u8 {
        match self {
            Level::Err => 3,
            Level::Warning => 4,
            Level::Notice => 5,
            Level::Info => 6,
            Level::Debug => 7,
        }
    }
}

impl From<log::Level> for Level {
    fn from(level: log::Level) -> Self {
        match level {
            log::Level::Error => Level::Err,
            log::Level::Warn => Level::Warning,
            log::Level::Info => Level::Info,
            log::Level::Debug | log::Level::Trace => Level::Debug,
        }
    }
}

/// Whether stderr gets every line or only what `ha_log` would give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StderrPolicy {
    /// OCF agents: stderr on a terminal, or when there is no other destination.
    HaLog,
    /// Fence agents: stderr always, because pacemaker-fenced logs it.
    Always,
}

/// Where lines go, decided once from the environment.
#[derive(Debug)]
pub struct Logger {
    tag: String,
    facility: Option<u8>,
    logfile: Option<PathBuf>,
    debuglog: Option<PathBuf>,
    debug: bool,
    stderr_is_tty: bool,
    stderr_policy: StderrPolicy,
    date_format: String,
    syslog: Mutex<Option<UnixDatagram>>,
    secrets: Mutex<Vec<crate::Secret>>,
}

impl Logger {
    /// A logger configured from `HA_LOGFACILITY`, `HA_LOGFILE`, `HA_DEBUGLOG`,
    /// `HA_debug`, `HA_DATEFMT` and `HA_LOGTAG`, tagged `agent(instance)[pid]`.
    pub fn from_env(agent: &str, instance: Option<&str>, stderr_policy: StderrPolicy) -> Self {
        Self::from_lookup(agent, instance, stderr_policy, |k| std::env::var(k).ok())
    }

    /// As [`Logger::from_env`] with an explicit environment, for tests.
    pub fn from_lookup(
        agent: &str,
        instance: Option<&str>,
        stderr_policy: StderrPolicy,
        env: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let non_empty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let tag = non_empty("HA_LOGTAG").unwrap_or_else(|| {
            let pid = std::process::id();
            match instance.filter(|i| !i.is_empty()) {
                Some(inst) => format!("{agent}({inst})[{pid}]"),
                None => format!("{agent}[{pid}]"),
            }
        });
        let facility = non_empty("HA_LOGFACILITY").and_then(|f| facility_code(&f));
        Self {
            tag,
            facility,
            logfile: non_empty("HA_LOGFILE").map(PathBuf::from),
            debuglog: non_empty("HA_DEBUGLOG").map(PathBuf::from),
            debug: non_empty("HA_debug").is_some_and(|v| v.trim() != "0"),
            stderr_is_tty: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            stderr_policy,
            date_format: env("HA_DATEFMT").unwrap_or_else(|| "%b %d %T ".to_owned()),
            syslog: Mutex::new(None),
            secrets: Mutex::new(Vec::new()),
        }
    }

    pub fn tag(&self) -> &str {
        &self.tag
    }

    pub fn debug_enabled(&self) -> bool {
        self.debug
    }

    /// Turn debug output on, as `verbose` does for fence agents.
    pub fn set_debug(&mut self, on: bool) {
        self.debug = on;
    }

    /// Send every line to this file as well, as fence-agents' `debug_file` does.
    pub fn set_debuglog(&mut self, path: Option<PathBuf>) {
        self.debuglog = path;
    }

    /// Never print this text, whatever a caller formats into a message. A last
    /// line of defence: secrets are kept out of messages by type already.
    pub fn redact(&self, secret: &crate::Secret) {
        if secret.expose().len() >= 3
            && let Ok(mut list) = self.secrets.lock()
        {
            list.push(secret.clone());
        }
    }

    fn scrub(&self, message: &str) -> String {
        let mut text = message.to_owned();
        if let Ok(list) = self.secrets.lock() {
            for s in list.iter() {
                if text.contains(s.expose()) {
                    text = text.replace(s.expose(), "********");
                }
            }
        }
        text
    }

    pub fn log(&self, level: Level, message: &str) {
        if level == Level::Debug && !self.debug {
            return;
        }
        let body = format!("{}{}", level.prefix(), self.scrub(message));
        if self.stderr_is_tty {
            eprintln!("{}: {body}", self.tag);
            if self.stderr_policy == StderrPolicy::HaLog {
                return;
            }
        }
        if let Some(facility) = self.facility {
            self.to_syslog(facility, level, &body);
        }
        let date = chrono::Local::now().format(&self.date_format).to_string();
        let file_line = format!("{}:\t{date}{body}\n", self.tag);
        if let Some(path) = &self.logfile {
            append(path, &file_line);
        }
        if !self.stderr_is_tty
            && (self.stderr_policy == StderrPolicy::Always
                || (self.facility.is_none() && self.logfile.is_none()))
        {
            eprintln!("{date}{body}");
        }
        if let Some(path) = &self.debuglog
            && Some(path) != self.logfile.as_ref()
        {
            append(path, &file_line);
        }
    }

    fn to_syslog(&self, facility: u8, level: Level, body: &str) {
        let pri = u16::from(facility) * 8 + u16::from(level.syslog_severity());
        let stamp = chrono::Local::now().format("%b %e %T");
        let mut line = String::new();
        let _ = write!(line, "<{pri}>{stamp} {}: {body}", self.tag);
        let Ok(mut slot) = self.syslog.lock() else {
            return;
        };
        if slot.is_none() {
            *slot = UnixDatagram::unbound()
                .ok()
                .filter(|s| s.connect("/dev/log").is_ok());
        }
        if let Some(sock) = slot.as_ref()
            && sock.send(line.as_bytes()).is_err()
        {
            // syslogd went away; try to reconnect on the next line.
            *slot = None;
        }
    }
}

fn append(path: &std::path::Path, line: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// Syslog facility numbers by the names `logger -p` accepts.
fn facility_code(name: &str) -> Option<u8> {
    let code = match name.trim().to_ascii_lowercase().as_str() {
        "none" => return None,
        "kern" => 0,
        "user" => 1,
        "mail" => 2,
        "daemon" => 3,
        "auth" | "security" => 4,
        "syslog" => 5,
        "lpr" => 6,
        "news" => 7,
        "uucp" => 8,
        "cron" => 9,
        "authpriv" => 10,
        "ftp" => 11,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        _ => 3,
    };
    Some(code)
}

static GLOBAL: OnceLock<&'static Logger> = OnceLock::new();

struct Facade;

impl log::Log for Facade {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        GLOBAL
            .get()
            .is_some_and(|l| metadata.level() <= log::Level::Info || l.debug)
    }

    fn log(&self, record: &log::Record<'_>) {
        if let Some(logger) = GLOBAL.get() {
            logger.log(record.level().into(), &record.args().to_string());
        }
    }

    fn flush(&self) {}
}

/// Make `logger` the process-wide destination of the `log` facade. The first
/// call wins; agents call it once in `main`.
pub fn init(logger: Logger) -> &'static Logger {
    let logger: &'static Logger = GLOBAL.get_or_init(|| Box::leak(Box::new(logger)));
    if log::set_logger(&Facade).is_ok() {
        log::set_max_level(log::LevelFilter::Trace);
    }
    logger
}

/// The installed logger, if [`init`] ran.
pub fn global() -> Option<&'static Logger> {
    GLOBAL.get().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn tag_follows_ocf_shellfuncs() {
        let l = Logger::from_lookup(
            "storage-monitor",
            Some("sm:0"),
            StderrPolicy::HaLog,
            env(&[]),
        );
        assert_eq!(
            l.tag(),
            format!("storage-monitor(sm:0)[{}]", std::process::id())
        );
        let l = Logger::from_lookup("x", None, StderrPolicy::HaLog, env(&[("HA_LOGTAG", "t")]));
        assert_eq!(l.tag(), "t");
    }

    #[test]
    fn debug_only_with_ha_debug() {
        let off = Logger::from_lookup("a", None, StderrPolicy::HaLog, env(&[("HA_debug", "0")]));
        assert!(!off.debug_enabled());
        let on = Logger::from_lookup("a", None, StderrPolicy::HaLog, env(&[("HA_debug", "1")]));
        assert!(on.debug_enabled());
    }

    #[test]
    fn logfile_gets_tagged_lines_and_no_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ha.log");
        let path = file.to_string_lossy().to_string();
        let l = Logger::from_lookup(
            "a",
            Some("r1"),
            StderrPolicy::HaLog,
            env(&[
                ("HA_LOGFILE", &path),
                ("HA_LOGFACILITY", "none"),
                ("HA_debug", "1"),
            ]),
        );
        l.redact(&crate::Secret::new("hunter2"));
        l.log(Level::Err, "login with hunter2 failed");
        l.log(Level::Debug, "details");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("a(r1)["), "{text}");
        assert!(text.contains("ERROR: login with ******** failed"), "{text}");
        assert!(text.contains("DEBUG: details"));
        assert!(!text.contains("hunter2"));
    }

    #[test]
    fn facility_names() {
        assert_eq!(facility_code("daemon"), Some(3));
        assert_eq!(facility_code("LOCAL7"), Some(23));
        assert_eq!(facility_code("none"), None);
    }
}
