//! Events on disk until a mail server accepted them.
//!
//! One file per event under `pending/`, written to a temporary name, synced
//! and renamed, so a crash leaves either the whole event or none. Several
//! processes share the spool (one `umha-alert` per Pacemaker event, the
//! evacuator's monitor): reading, sending and removing hold `lock` with
//! flock; adding does not, because a flush may hold the lock for a whole
//! SMTP conversation and an alert agent must not wait that long (Pacemaker
//! kills it at the alert timeout, and the event would be lost). A new file
//! appears whole (rename) and a flush removes only the files it listed.
//! A file that does not parse is renamed `*.bad` and reported in the next
//! mail, never silently dropped.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::AlertError;

/// An event file bigger than this is not one of ours.
const MAX_EVENT: u64 = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// One thing an operator should hear about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Epoch seconds.
    pub time: i64,
    /// Who noticed: `umha-evacuator`, `pacemaker` (via umha-alert), ...
    pub source: String,
    pub kind: String,
    #[serde(default)]
    pub node: Option<String>,
    pub severity: Severity,
    pub text: String,
}

#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
}

/// Held while reading and changing the spool.
#[derive(Debug)]
pub struct Locked<'a> {
    spool: &'a Spool,
    _lock: Flock<File>,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl Spool {
    /// The spool in `dir`, created (mode 0700: events name nodes and
    /// instances) if missing.
    pub fn open(dir: &Path) -> Result<Self, AlertError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir.join("pending"))
            .map_err(|e| AlertError::spool(dir, e))?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Spools one event without the lock (see the module's doc).
    pub fn add(&self, event: &Event) -> Result<(), AlertError> {
        let name = format!(
            "{:012}-{}-{}.json",
            event.time.max(0),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let path = self.dir.join("pending").join(name);
        let data = serde_json::to_vec(event).map_err(|e| AlertError::spool(&path, e.into()))?;
        write_synced(&path, &data).map_err(|e| AlertError::spool(&path, e))
    }

    pub fn lock(&self) -> Result<Locked<'_>, AlertError> {
        let path = self.dir.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| AlertError::spool(&path, e))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| AlertError::spool(&path, std::io::Error::from(e)))?;
        Ok(Locked {
            spool: self,
            _lock: lock,
        })
    }
}

pub(crate) fn write_synced(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

impl Locked<'_> {
    fn pending_dir(&self) -> PathBuf {
        self.spool.dir.join("pending")
    }

    /// The pending events, oldest first, and how many files were unreadable
    /// (renamed `*.bad`, kept for the operator).
    pub fn pending(&self) -> Result<(Vec<(PathBuf, Event)>, usize), AlertError> {
        let dir = self.pending_dir();
        let mut events = Vec::new();
        let mut bad = 0;
        for entry in fs::read_dir(&dir).map_err(|e| AlertError::spool(&dir, e))? {
            let path = entry.map_err(|e| AlertError::spool(&dir, e))?.path();
            match path.extension().and_then(|e| e.to_str()) {
                Some("json") => {}
                Some("bad") => {
                    bad += 1;
                    continue;
                }
                _ => continue,
            }
            let parsed = fs::metadata(&path)
                .ok()
                .filter(|m| m.len() <= MAX_EVENT)
                .and_then(|_| fs::read(&path).ok())
                .and_then(|d| serde_json::from_slice::<Event>(&d).ok());
            match parsed {
                Some(e) => events.push((path, e)),
                None => {
                    log::warn!(
                        "mail spool: {} is not an event; kept as .bad",
                        path.display()
                    );
                    let _ = fs::rename(&path, path.with_extension("bad"));
                    bad += 1;
                }
            }
        }
        events.sort_by(|a, b| (a.1.time, &a.0).cmp(&(b.1.time, &b.0)));
        Ok((events, bad))
    }

    pub fn remove(&self, paths: &[PathBuf]) -> Result<(), AlertError> {
        for p in paths {
            match fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(AlertError::spool(p, e)),
            }
        }
        let dir = self.pending_dir();
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| AlertError::spool(&dir, e))
    }

    /// When the last mail went out (epoch seconds), if ever.
    pub fn last_sent(&self) -> Option<i64> {
        fs::read_to_string(self.spool.dir.join("last-sent"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
    }

    pub fn set_last_sent(&self, time: i64) -> Result<(), AlertError> {
        let path = self.spool.dir.join("last-sent");
        write_synced(&path, time.to_string().as_bytes()).map_err(|e| AlertError::spool(&path, e))
    }
}

/// The flusher's lock: `Some` for the one process that may sleep on this
/// spool's behalf, `None` when another already does.
pub fn try_flusher_lock(dir: &Path) -> Option<Flock<File>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(dir.join("flusher.lock"))
        .ok()?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn event(time: i64, text: &str) -> Event {
        Event {
            time,
            source: "test".into(),
            kind: "fencing".into(),
            node: Some("cmp1".into()),
            severity: Severity::Critical,
            text: text.into(),
        }
    }

    #[test]
    fn events_survive_in_order_and_bad_files_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        spool.add(&event(20, "b")).unwrap();
        spool.add(&event(10, "a")).unwrap();
        let l = spool.lock().unwrap();
        fs::write(dir.path().join("pending/junk.json"), "{not json").unwrap();
        let (events, bad) = l.pending().unwrap();
        assert_eq!(bad, 1);
        assert_eq!(
            events.iter().map(|e| e.1.text.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(dir.path().join("pending/junk.bad").exists());
        l.remove(&[events[0].0.clone()]).unwrap();
        assert_eq!(l.pending().unwrap().0.len(), 1);
        assert_eq!(l.last_sent(), None);
        l.set_last_sent(42).unwrap();
        assert_eq!(l.last_sent(), Some(42));
    }
}
