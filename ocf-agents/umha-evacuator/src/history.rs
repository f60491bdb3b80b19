//! The evacuation history: one JSON object per line, appended, never
//! rewritten (UMHA kept an `evacuate_history` table; this is its file).
//!
//! Every decision and every instance outcome goes here, with the node, the
//! Nova host, the incident's fence time and whether it was a dry run, so
//! that "what happened to VM X last night" has one answer. A line is
//! written with a single `write` on an `O_APPEND` descriptor, so lines from
//! overlapping writers never interleave, and the file is synced once per
//! step. The CIB keeps only a one-line summary per node.
//!
//! The file lives on the controller that ran the step; after a controller
//! failover each controller has the part it ran.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error)]
#[error("evacuation history {path}: {source}")]
pub struct HistoryError {
    path: PathBuf,
    source: std::io::Error,
}

/// One line. `Deserialize` is for readers of the file (`umha history`):
/// absent optional fields read as `None`/`false`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// RFC 3339, UTC.
    pub time: String,
    pub event: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The incident: the fence epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fence: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_name: Option<String>,
    pub message: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl Entry {
    pub fn new(event: &str, message: impl Into<String>) -> Self {
        Self {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            event: event.to_owned(),
            node: None,
            host: None,
            fence: None,
            instance: None,
            instance_name: None,
            message: message.into(),
            dry_run: false,
        }
    }
}

/// The append-only file. Shared by the threads of a step (`&self`), so
/// an evacuate is on record as soon as Nova accepted it, not when its batch
/// ends: a step killed midway leaves every call it made in the history.
#[derive(Debug)]
pub struct History {
    path: PathBuf,
    file: std::sync::Mutex<Option<File>>,
}

impl History {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            file: std::sync::Mutex::new(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: std::io::Error) -> HistoryError {
        HistoryError {
            path: self.path.clone(),
            source,
        }
    }

    fn create(&self) -> Result<File, HistoryError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o750)
                .create(dir)
                .map_err(|e| self.err(e))?;
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(&self.path)
            .map_err(|e| self.err(e))
    }

    pub fn append(&self, entry: &Entry) -> Result<(), HistoryError> {
        let mut line = serde_json::to_vec(entry).map_err(|e| self.err(e.into()))?;
        line.push(b'\n');
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(self.create()?);
        }
        match guard.as_mut() {
            Some(file) => file.write_all(&line).map_err(|e| self.err(e)),
            None => Ok(()),
        }
    }

    /// Make what was appended durable (once per step).
    pub fn sync(&self) -> Result<(), HistoryError> {
        let guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = guard.as_ref() {
            f.sync_data().map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Every entry, for `umha history` and the tests; unreadable lines are
    /// skipped (a torn last line after a crash must not hide the rest).
    pub fn read(path: &Path) -> Result<Vec<serde_json::Value>, HistoryError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(HistoryError {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_lines_and_skips_torn_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/evacuations.jsonl");
        let h = History::new(&path);
        let mut e = Entry::new("evacuate", "issued");
        e.node = Some("cmp1".into());
        e.fence = Some(17);
        h.append(&e).unwrap();
        h.append(&Entry::new("done", "all settled")).unwrap();
        h.sync().unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"torn")
            .unwrap();
        let all = History::read(&path).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0]["node"], "cmp1");
        assert_eq!(all[0]["fence"], 17);
        assert!(all[1].get("node").is_none());
        assert!(all[1].get("dry_run").is_none());
    }
}
