//! UMHA's rate limit: at most one mail per `send_interval`; what happens in
//! between is gathered into the next mail, never dropped.
//!
//! A mail goes out when there are pending events and now is past both
//! `oldest + mail_batch_delay` (a burst of events within a few seconds
//! becomes one mail, not one mail for its first event and one for the
//! rest) and `last_sent + send_interval`. Events leave the spool only
//! after the server accepted the mail carrying them.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::AlertError;
use crate::config::MailConfig;
use crate::spool::{Event, Severity, Spool};

/// Delivers one composed mail. The real one is [`crate::smtp::Smtp`].
pub trait Sender {
    fn send(&self, config: &MailConfig, subject: &str, body: &str) -> Result<(), AlertError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flushed {
    /// Nothing pending.
    Nothing,
    /// Pending events wait for this time (epoch seconds).
    NotYet(i64),
    /// One mail with this many events went out.
    Sent(usize),
}

#[derive(Debug)]
pub struct Outbox {
    config: MailConfig,
    spool: Spool,
}

impl Outbox {
    pub fn open(config: MailConfig) -> Result<Self, AlertError> {
        let spool = Spool::open(&config.spool)?;
        Ok(Self { config, spool })
    }

    pub fn config(&self) -> &MailConfig {
        &self.config
    }

    pub fn submit(&self, event: &Event) -> Result<(), AlertError> {
        self.spool.add(event)
    }

    /// When the pending events may go out, if any are pending.
    pub fn due(&self) -> Result<Option<i64>, AlertError> {
        let locked = self.spool.lock()?;
        let (events, bad) = locked.pending()?;
        Ok(self.due_for(events.first().map(|e| e.1.time), bad, locked.last_sent()))
    }

    fn due_for(&self, oldest: Option<i64>, bad: usize, last_sent: Option<i64>) -> Option<i64> {
        let oldest = match (oldest, bad, last_sent) {
            (Some(t), _, _) => t,
            // Only unreadable entries: every mail mentions them, so on their
            // own they make a mail only when none ever went out. Saying
            // "nothing due" here (not in flush alone) keeps a flusher that
            // asks `due` from looping on them.
            (None, 0, _) | (None, _, Some(_)) => return None,
            (None, _, None) => 0,
        };
        let delay = secs(self.config.batch_delay);
        let interval = secs(self.config.send_interval);
        let after_batch = oldest.saturating_add(delay);
        Some(match last_sent {
            Some(t) => after_batch.max(t.saturating_add(interval)),
            None => after_batch,
        })
    }

    /// Send what is due at `now`. A failed send keeps every event.
    pub fn flush(&self, now: i64, sender: &dyn Sender) -> Result<Flushed, AlertError> {
        self.flush_inner(now, false, sender)
    }

    /// Send whatever is pending now, interval or not (an operator asked).
    pub fn flush_now(&self, now: i64, sender: &dyn Sender) -> Result<Flushed, AlertError> {
        self.flush_inner(now, true, sender)
    }

    fn flush_inner(
        &self,
        now: i64,
        force: bool,
        sender: &dyn Sender,
    ) -> Result<Flushed, AlertError> {
        let locked = self.spool.lock()?;
        let (events, bad) = locked.pending()?;
        let last = locked.last_sent();
        let Some(due) = self.due_for(events.first().map(|e| e.1.time), bad, last) else {
            return Ok(Flushed::Nothing);
        };
        if now < due && !force {
            return Ok(Flushed::NotYet(due));
        }
        let list: Vec<&Event> = events.iter().map(|e| &e.1).collect();
        let (subject, body) = compose(&self.config, &list, bad);
        sender.send(&self.config, &subject, &body)?;
        let paths: Vec<PathBuf> = events.iter().map(|e| e.0.clone()).collect();
        locked.remove(&paths)?;
        locked.set_last_sent(now)?;
        Ok(Flushed::Sent(events.len()))
    }
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn when(t: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(t, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| t.to_string())
}

/// One line per event, oldest first; the subject names the worst and the
/// count, so a mail client's list already tells an operator what to open.
pub fn compose(config: &MailConfig, events: &[&Event], bad: usize) -> (String, String) {
    let worst = events
        .iter()
        .map(|e| e.severity)
        .max()
        .unwrap_or(Severity::Warning);
    let headline = |e: &Event| {
        let mut t = match &e.node {
            Some(n) => format!("{n}: {}", e.text),
            None => e.text.clone(),
        };
        if t.chars().count() > 100 {
            t = t.chars().take(97).collect::<String>() + "...";
        }
        t
    };
    let subject = match events {
        [] => format!(
            "{} {bad} unreadable alert(s) in the spool",
            config.subject_prefix
        ),
        [one] => format!(
            "{} {}: {}",
            config.subject_prefix,
            worst.as_str(),
            headline(one)
        ),
        [first, rest @ ..] => format!(
            "{} {}: {} events: {} (+{} more)",
            config.subject_prefix,
            worst.as_str(),
            events.len(),
            headline(first),
            rest.len()
        ),
    };
    let mut body = String::new();
    let _ = writeln!(
        body,
        "{} event(s) from umha (mail at most every {}s; events in between are gathered here).\n",
        events.len(),
        config.send_interval.as_secs()
    );
    for e in events {
        let _ = writeln!(
            body,
            "{} [{}] {} {}{}: {}",
            when(e.time),
            e.severity.as_str(),
            e.source,
            e.kind,
            e.node
                .as_deref()
                .map(|n| format!(" {n}"))
                .unwrap_or_default(),
            e.text
        );
    }
    if bad > 0 {
        let _ = writeln!(
            body,
            "\n{bad} spooled alert(s) could not be read; they are kept as *.bad in {}.",
            config.spool.display()
        );
    }
    (subject.replace(['\r', '\n'], " "), body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::time::Duration;

    #[derive(Default)]
    struct Recorder {
        mails: RefCell<Vec<(String, String)>>,
        fail: bool,
    }

    impl Sender for Recorder {
        fn send(&self, _: &MailConfig, subject: &str, body: &str) -> Result<(), AlertError> {
            if self.fail {
                return Err(AlertError::Send {
                    server: "m".into(),
                    detail: "refused".into(),
                });
            }
            self.mails.borrow_mut().push((subject.into(), body.into()));
            Ok(())
        }
    }

    fn outbox(dir: &std::path::Path) -> Outbox {
        let mut c = crate::MailConfig::from_lookup(|k| match k {
            "mail_to" => Some("a@x.org".into()),
            "smtp_server" => Some("m".into()),
            _ => None,
        })
        .unwrap()
        .unwrap();
        c.spool = dir.to_owned();
        c.send_interval = Duration::from_secs(3600);
        c.batch_delay = Duration::from_secs(10);
        Outbox::open(c).unwrap()
    }

    fn ev(time: i64, n: usize) -> Event {
        Event {
            time,
            source: "test".into(),
            kind: "fencing".into(),
            node: Some(format!("cmp{n}")),
            severity: if n.is_multiple_of(2) {
                Severity::Critical
            } else {
                Severity::Info
            },
            text: format!("event {n}"),
        }
    }

    #[test]
    fn a_burst_is_one_mail_and_the_interval_gathers_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let o = outbox(dir.path());
        let r = Recorder::default();
        assert_eq!(o.flush(1000, &r).unwrap(), Flushed::Nothing);
        for n in 0..10 {
            o.submit(&ev(1000 + n as i64 / 3, n)).unwrap();
        }
        assert_eq!(o.flush(1005, &r).unwrap(), Flushed::NotYet(1010));
        assert_eq!(o.flush(1010, &r).unwrap(), Flushed::Sent(10));
        let mails = r.mails.borrow().clone();
        assert_eq!(mails.len(), 1);
        assert!(
            mails[0].0.contains("10 events") && mails[0].0.starts_with("[umha] critical"),
            "{}",
            mails[0].0
        );
        assert_eq!(
            mails[0].1.lines().filter(|l| l.contains("event ")).count(),
            10
        );
        // Within the interval: gathered until last + interval.
        o.submit(&ev(1100, 1)).unwrap();
        o.submit(&ev(2000, 3)).unwrap();
        assert_eq!(o.flush(2000, &r).unwrap(), Flushed::NotYet(4610));
        assert_eq!(o.flush(4610, &r).unwrap(), Flushed::Sent(2));
        assert_eq!(r.mails.borrow().len(), 2);
    }

    #[test]
    fn a_failed_send_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let o = outbox(dir.path());
        o.submit(&ev(0, 1)).unwrap();
        let failing = Recorder {
            fail: true,
            ..Recorder::default()
        };
        assert!(o.flush(100, &failing).is_err());
        let r = Recorder::default();
        assert_eq!(o.flush(101, &r).unwrap(), Flushed::Sent(1));
    }

    /// A flush holds the lock for a whole SMTP conversation; an alert
    /// agent submitting meanwhile must not wait for it.
    #[test]
    fn submitting_does_not_wait_for_a_flush() {
        let dir = tempfile::tempdir().unwrap();
        let o = outbox(dir.path());
        let held = o.spool.lock().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let path = dir.path().to_owned();
        std::thread::spawn(move || {
            let _ = tx.send(outbox(&path).submit(&ev(0, 1)).is_ok());
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
        drop(held);
        let r = Recorder::default();
        assert_eq!(o.flush(100, &r).unwrap(), Flushed::Sent(1));
    }

    /// Unreadable entries alone: one mail when none went out yet, then
    /// nothing due, so a flusher asking `due` does not spin on them.
    #[test]
    fn unreadable_entries_alone_are_mailed_once() {
        let dir = tempfile::tempdir().unwrap();
        let o = outbox(dir.path());
        std::fs::write(dir.path().join("pending/x.json"), "garbage").unwrap();
        let r = Recorder::default();
        assert_eq!(o.flush(100, &r).unwrap(), Flushed::Sent(0));
        assert!(r.mails.borrow()[0].0.contains("unreadable"));
        assert_eq!(o.due().unwrap(), None);
        assert_eq!(o.flush(100_000, &r).unwrap(), Flushed::Nothing);
        o.submit(&ev(200_000, 1)).unwrap();
        assert_eq!(o.flush(200_010, &r).unwrap(), Flushed::Sent(1));
        assert!(r.mails.borrow()[1].1.contains("could not be read"));
    }

    #[test]
    fn subject_cannot_carry_headers() {
        let dir = tempfile::tempdir().unwrap();
        let o = outbox(dir.path());
        let mut e = ev(0, 1);
        e.text = "x\r\nBcc: evil@example.org".into();
        let (subject, _) = compose(o.config(), &[&e], 0);
        assert!(!subject.contains('\n') && !subject.contains('\r'));
    }
}
