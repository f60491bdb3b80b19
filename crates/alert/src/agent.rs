//! The alert agent's whole logic, apart from `main`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use umha_common::log::{Logger, StderrPolicy};

use crate::AlertError;
use crate::config::{MailConfig, SETTINGS};
use crate::outbox::{Flushed, Outbox};
use crate::pacemaker::{self, DEFAULT_KINDS};
use crate::smtp::Smtp;

/// A flusher sleeps at most this long between checks, so a spool whose
/// due time moved (new events) is looked at again in time.
const FLUSHER_NAP: Duration = Duration::from_secs(60);

/// Pacemaker runs alert agents as hacluster, who cannot write the root
/// agents' spool; this one is hacluster's own.
pub const ALERT_SPOOL: &str = "/var/lib/pacemaker/umha-alert-spool";

/// The settings of the last event, kept in the spool so an operator's
/// `umha-alert --flush` (no instance attributes in its environment) mails
/// exactly as the alert would. Names only files, never a secret.
const SAVED_SETTINGS: &str = "settings";

const USAGE: &str = "usage: umha-alert                      (run by Pacemaker as an alert agent)
       umha-alert --flush [--spool DIR]  (mail what is spooled now, ignoring send_interval;
                                          settings from the environment, else those the
                                          alert saved in the spool; as root, runs as the
                                          spool's owner)";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[derive(Debug, PartialEq, Eq)]
enum Mode {
    /// Pacemaker's call: spool the event, leave a flusher.
    Event,
    /// An operator's: send now.
    Flush {
        spool: Option<PathBuf>,
    },
    /// The detached flusher (`--flush-at`, started by [`spawn_flusher`]).
    Flusher,
    Help,
}

fn parse_args(args: &[String]) -> Result<Mode, String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] => Ok(Mode::Event),
        ["--flush"] => Ok(Mode::Flush { spool: None }),
        ["--flush", "--spool", dir] => Ok(Mode::Flush {
            spool: Some(PathBuf::from(dir)),
        }),
        ["--flush-at"] => Ok(Mode::Flusher),
        ["--help" | "-h"] => Ok(Mode::Help),
        other => Err(format!("unknown arguments {other:?}")),
    }
}

/// The settings as Pacemaker gives them: the alert's instance attributes,
/// plus the recipient (`to ...`) among the receivers.
fn event_settings() -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = SETTINGS
        .iter()
        .filter_map(|name| env(name).map(|v| ((*name).to_owned(), v)))
        .collect();
    m.entry("mail_spool".to_owned())
        .or_insert_with(|| ALERT_SPOOL.to_owned());
    if let Some(r) = env("CRM_alert_recipient").filter(|r| r.contains('@')) {
        let to = match m.get("mail_to") {
            Some(v) => format!("{v} {r}"),
            None => r,
        };
        m.insert("mail_to".to_owned(), to);
    }
    m
}

fn config_from(settings: &BTreeMap<String, String>) -> Result<Option<MailConfig>, AlertError> {
    MailConfig::from_lookup(|name| settings.get(name).cloned())
}

fn save_settings(settings: &BTreeMap<String, String>, spool: &Path) -> Result<(), AlertError> {
    let text: String = settings
        .iter()
        .map(|(k, v)| format!("{k}={}\n", v.replace(['\r', '\n'], " ")))
        .collect();
    let path = spool.join(SAVED_SETTINGS);
    crate::spool::write_synced(&path, text.as_bytes()).map_err(|e| AlertError::spool(&path, e))
}

fn load_settings(spool: &Path) -> Result<BTreeMap<String, String>, AlertError> {
    let path = spool.join(SAVED_SETTINGS);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        AlertError::Config(format!(
            "no mail_to in the environment and no saved settings ({}: {e}); \
             umha-alert saves them with the first event",
            path.display()
        ))
    })?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| SETTINGS.contains(k))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

/// Root flushing hacluster's spool would leave files hacluster cannot read
/// (`last-sent` is replaced, not rewritten), and the next alert would lose
/// the rate limit: act as the spool's owner instead.
fn become_spool_owner(spool: &Path) -> Result<(), AlertError> {
    use nix::unistd::{Gid, Uid, geteuid, setgid, setgroups, setuid};
    use std::os::unix::fs::MetadataExt;
    if !geteuid().is_root() {
        return Ok(());
    }
    let Ok(meta) = std::fs::metadata(spool) else {
        return Ok(());
    };
    if meta.uid() == 0 {
        return Ok(());
    }
    let (uid, gid) = (Uid::from_raw(meta.uid()), Gid::from_raw(meta.gid()));
    setgroups(&[gid])
        .and_then(|()| setgid(gid))
        .and_then(|()| setuid(uid))
        .map_err(|e| {
            AlertError::spool(
                spool,
                std::io::Error::other(format!("becoming its owner {uid}: {e}")),
            )
        })
}

pub fn main() -> ExitCode {
    umha_common::log::init(Logger::from_env("umha-alert", None, StderrPolicy::HaLog));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match parse_args(&args) {
        Ok(m) => m,
        Err(e) => {
            log::error!("umha-alert: {e}");
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match mode {
        Mode::Help => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Mode::Event => on_event(),
        Mode::Flush { spool } => flush_mode(spool, false),
        Mode::Flusher => flush_mode(None, true),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            log::error!("umha-alert: {e}");
            ExitCode::FAILURE
        }
    }
}

fn open(settings: &BTreeMap<String, String>) -> Result<Option<Outbox>, AlertError> {
    let Some(config) = config_from(settings)? else {
        return Ok(None);
    };
    config.validate()?;
    Outbox::open(config).map(Some)
}

fn on_event() -> Result<ExitCode, AlertError> {
    let settings = event_settings();
    let kinds: Vec<String> = env("umha_alert_kinds")
        .map(|k| agent_core::value::parse_list(&k))
        .unwrap_or_else(|| DEFAULT_KINDS.iter().map(|s| (*s).to_owned()).collect());
    let Some(event) = pacemaker::event(&env, &kinds, now()) else {
        return Ok(ExitCode::SUCCESS);
    };
    let config = match config_from(&settings) {
        Ok(None) => {
            log::warn!("umha-alert: mail_to is empty and no recipient was given: nothing to do");
            return Ok(ExitCode::SUCCESS);
        }
        Ok(Some(c)) => Ok(c),
        Err(e) => Err(e),
    };
    // Spool first, whatever else is wrong with the settings: once they are
    // fixed, `umha-alert --flush` or the next event's flusher sends it.
    let dir = config.as_ref().map_or_else(
        |_| {
            PathBuf::from(
                settings
                    .get("mail_spool")
                    .map_or(ALERT_SPOOL, String::as_str),
            )
        },
        |c| c.spool.clone(),
    );
    let spooled = if dir.is_absolute() {
        crate::spool::Spool::open(&dir).and_then(|s| s.add(&event))
    } else {
        Err(AlertError::Config(format!(
            "mail_spool {} is not an absolute path",
            dir.display()
        )))
    };
    if let Err(e) = &spooled {
        log::error!("umha-alert: cannot spool the alert ({e}): {}", event.text);
    }
    if config.is_ok()
        && spooled.is_ok()
        && let Err(e) = save_settings(&settings, &dir)
    {
        log::warn!(
            "umha-alert: {e}; `umha-alert --flush` will need the settings in its environment"
        );
    }
    if let Err(e) = config.and_then(|c| c.validate()) {
        log::error!(
            "umha-alert: {e}; {}",
            if spooled.is_ok() {
                "the alert waits in the spool until `umha-alert --flush` after the fix"
            } else {
                "the alert is lost"
            }
        );
        return Ok(ExitCode::FAILURE);
    }
    if spooled.is_err() {
        return Ok(ExitCode::FAILURE);
    }
    // Pacemaker waits for us: never send here; the flusher does.
    spawn_flusher();
    Ok(ExitCode::SUCCESS)
}

/// `--flush` and the flusher: the spool named, else the environment's,
/// else umha-alert's own; the settings from the environment (the flusher
/// inherits the alert's), else those saved in that spool.
fn flush_mode(spool: Option<PathBuf>, detached: bool) -> Result<ExitCode, AlertError> {
    let dir = spool
        .or_else(|| env("mail_spool").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(ALERT_SPOOL));
    become_spool_owner(&dir)?;
    let mut settings = if env("mail_to").is_some() || env("CRM_alert_recipient").is_some() {
        event_settings()
    } else {
        load_settings(&dir)?
    };
    settings.insert("mail_spool".to_owned(), dir.display().to_string());
    let Some(outbox) = open(&settings)? else {
        return Err(AlertError::Config(
            "mail_to is empty: nowhere to send the spooled alerts".to_owned(),
        ));
    };
    Ok(if detached {
        flusher(&outbox)
    } else {
        flush(&outbox)
    })
}

/// `--flush`: now, whatever the interval says (an operator asked).
fn flush(outbox: &Outbox) -> ExitCode {
    match outbox.flush_now(now(), &Smtp) {
        Ok(Flushed::Sent(n)) => {
            log::info!("umha-alert: mailed {n} alert(s)");
            ExitCode::SUCCESS
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("umha-alert: {e}; the alerts stay spooled");
            ExitCode::FAILURE
        }
    }
}

/// The detached flusher: one per spool (a lock), it sleeps until the
/// pending alerts are due, sends them, and exits when nothing is pending.
fn flusher(outbox: &Outbox) -> ExitCode {
    let dir = &outbox.config().spool;
    loop {
        let Some(only) = crate::spool::try_flusher_lock(dir) else {
            return ExitCode::SUCCESS;
        };
        flush_until_empty(outbox);
        drop(only);
        // An event spooled after our last look started a flusher that gave
        // way to us, since we held the lock: look again now that it is
        // free, or that event would wait for the next one.
        match outbox.due() {
            Ok(Some(_)) if dir.is_dir() => {}
            _ => return ExitCode::SUCCESS,
        }
    }
}

/// A failed send is retried every [`FLUSHER_NAP`]: alerts are never dropped.
fn flush_until_empty(outbox: &Outbox) {
    loop {
        // A spool that was removed (an uninstall, a test's directory) has
        // nothing left to send: do not retry forever.
        if !outbox.config().spool.is_dir() {
            return;
        }
        match outbox.flush(now(), &Smtp) {
            Ok(Flushed::Nothing) => return,
            Ok(Flushed::Sent(n)) => log::info!("umha-alert: mailed {n} alert(s)"),
            Ok(Flushed::NotYet(due)) => {
                let wait = u64::try_from(due.saturating_sub(now())).unwrap_or(0);
                std::thread::sleep(Duration::from_secs(wait.clamp(1, FLUSHER_NAP.as_secs())));
            }
            Err(e) => {
                log::error!("umha-alert: {e}; retrying in {}s", FLUSHER_NAP.as_secs());
                std::thread::sleep(FLUSHER_NAP);
            }
        }
    }
}

/// Start the flusher detached (`setsid -f`, its own session, no pipes to
/// Pacemaker, which would otherwise wait for it).
pub fn spawn_flusher() {
    let Ok(exe) = std::env::current_exe() else {
        log::error!("umha-alert: cannot find its own binary to start the flusher");
        return;
    };
    // Pacemaker's environment may have no useful PATH.
    let setsid = ["/usr/bin/setsid", "/bin/setsid"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("setsid");
    let started = Command::new(setsid)
        .arg("-f")
        .arg(exe)
        .arg("--flush-at")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !started.is_ok_and(|s| s.success()) {
        log::error!(
            "umha-alert: could not start the flusher; alerts stay spooled until `umha-alert --flush`"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn arguments() {
        assert_eq!(parse_args(&args(&[])), Ok(Mode::Event));
        assert_eq!(
            parse_args(&args(&["--flush", "--spool", "/s"])),
            Ok(Mode::Flush {
                spool: Some("/s".into())
            })
        );
        assert_eq!(parse_args(&args(&["--flush-at"])), Ok(Mode::Flusher));
        assert!(parse_args(&args(&["--flush", "x"])).is_err());
    }

    #[test]
    fn saved_settings_round_trip_without_stray_keys_or_lines() {
        let dir = tempfile::tempdir().unwrap();
        let m: BTreeMap<String, String> = [
            ("mail_to", "a@x.org\nb@y.org"),
            ("smtp_server", "m:25"),
            ("smtp_password_file", "/etc/umha/pw"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        save_settings(&m, dir.path()).unwrap();
        let mut text = std::fs::read_to_string(dir.path().join(SAVED_SETTINGS)).unwrap();
        text.push_str("PATH=/evil\n");
        std::fs::write(dir.path().join(SAVED_SETTINGS), text).unwrap();
        let back = load_settings(dir.path()).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back["mail_to"], "a@x.org b@y.org");
        assert!(load_settings(&dir.path().join("none")).is_err());
    }
}
