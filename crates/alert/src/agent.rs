//! The alert agent's whole logic, apart from `main`.

use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use umha_common::log::{Logger, StderrPolicy};

use crate::config::MailConfig;
use crate::outbox::{Flushed, Outbox};
use crate::pacemaker::{self, DEFAULT_KINDS};
use crate::smtp::Smtp;

/// A flusher sleeps at most this long between checks, so a spool whose
/// due time moved (new events) is looked at again in time.
const FLUSHER_NAP: Duration = Duration::from_secs(60);

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Pacemaker runs alert agents as hacluster, who cannot write the root
/// agents' spool; this one is hacluster's own.
pub const ALERT_SPOOL: &str = "/var/lib/pacemaker/umha-alert-spool";

/// The settings: the alert's instance attributes, plus the recipient
/// Pacemaker names (`to ...`) among the receivers.
fn settings() -> Result<Option<MailConfig>, crate::AlertError> {
    MailConfig::from_lookup(|name| {
        let value = env(name);
        if name == "mail_spool" {
            return value.or_else(|| Some(ALERT_SPOOL.to_owned()));
        }
        if name != "mail_to" {
            return value;
        }
        let recipient = env("CRM_alert_recipient").filter(|r| r.contains('@'));
        match (value, recipient) {
            (Some(v), Some(r)) => Some(format!("{v} {r}")),
            (v, r) => v.or(r),
        }
    })
}

pub fn main() -> ExitCode {
    umha_common::log::init(Logger::from_env("umha-alert", None, StderrPolicy::HaLog));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match settings() {
        Ok(Some(c)) => c,
        Ok(None) => {
            log::warn!("umha-alert: mail_to is empty and no recipient was given: nothing to do");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            log::error!("umha-alert: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = config.validate() {
        log::error!("umha-alert: {e}");
        return ExitCode::FAILURE;
    }
    let outbox = match Outbox::open(config) {
        Ok(o) => o,
        Err(e) => {
            log::error!("umha-alert: {e}");
            return ExitCode::FAILURE;
        }
    };
    match args.first().map(String::as_str) {
        Some("--flush") => flush(&outbox),
        Some("--flush-at") => flusher(&outbox),
        Some("--help") | Some("-h") => {
            println!(
                "usage: umha-alert            (run by Pacemaker as an alert agent)\n       umha-alert --flush    (send what is spooled now, ignoring the interval)"
            );
            ExitCode::SUCCESS
        }
        Some(other) => {
            log::error!("umha-alert: unknown argument {other:?}");
            ExitCode::from(2)
        }
        None => on_event(&outbox),
    }
}

fn on_event(outbox: &Outbox) -> ExitCode {
    let kinds: Vec<String> = env("umha_alert_kinds")
        .map(|k| agent_core::value::parse_list(&k))
        .unwrap_or_else(|| DEFAULT_KINDS.iter().map(|s| (*s).to_owned()).collect());
    let Some(event) = pacemaker::event(&env, &kinds, now()) else {
        return ExitCode::SUCCESS;
    };
    if let Err(e) = outbox.submit(&event) {
        log::error!("umha-alert: cannot spool the alert ({e}): {}", event.text);
        return ExitCode::FAILURE;
    }
    // Pacemaker waits for us: never send here; the flusher does.
    spawn_flusher();
    ExitCode::SUCCESS
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
/// A failed send is retried every [`FLUSHER_NAP`].
fn flusher(outbox: &Outbox) -> ExitCode {
    let Some(_only) = crate::spool::try_flusher_lock(&outbox.config().spool) else {
        return ExitCode::SUCCESS;
    };
    loop {
        // A spool that was removed (an uninstall, a test's directory) has
        // nothing left to send: do not retry forever.
        if !outbox.config().spool.is_dir() {
            return ExitCode::SUCCESS;
        }
        match outbox.flush(now(), &Smtp) {
            Ok(Flushed::Nothing) => return ExitCode::SUCCESS,
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
    let started = Command::new("setsid")
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
