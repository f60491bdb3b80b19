//! Small per-node state files under `HA_RSCTMP`.
//!
//! `HA_RSCTMP` (default `/run/resource-agents`) is cleared at boot, which is
//! exactly the lifetime of "this resource is started on this node". Files are
//! keyed by agent, resource instance AND node name: anonymous clones get the
//! same `OCF_RESOURCE_INSTANCE` on every node, and several pacemaker-remote
//! nodes may share one `/run` (containers, the lab). Writes are atomic
//! (temporary file, fsync, rename), so a monitor never reads half a file and
//! an agent killed mid-write leaves the old state intact.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::{OcfError, OcfResult};

/// Where state lives when `HA_RSCTMP` is unset, as in `ocf-shellfuncs`.
pub const DEFAULT_RSCTMP: &str = "/run/resource-agents";

/// State files larger than this are not ours; refuse to read them.
const MAX_STATE_BYTES: u64 = 1024 * 1024;

/// One state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// The file for `purpose` (e.g. `state`) of this agent, instance and node,
    /// in `dir`: `<agent>@<instance>@<node>.<purpose>`. Every part is
    /// percent-encoded outside `[A-Za-z0-9._:+-]`, so every key maps to its
    /// own file and none can escape `dir`.
    pub fn keyed(dir: &Path, agent: &str, instance: &str, node: &str, purpose: &str) -> Self {
        let name = format!(
            "{}@{}@{}.{}",
            encode(agent),
            encode(instance),
            encode(node),
            encode(purpose).replace('.', "%2E"),
        );
        Self {
            path: dir.join(name),
        }
    }

    /// A file at an explicit path (e.g. one the administrator configured).
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn exists(&self) -> OcfResult<bool> {
        match fs::symlink_metadata(&self.path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.error("cannot check", &e)),
        }
    }

    /// The contents, or `None` if there is no file.
    pub fn read(&self) -> OcfResult<Option<String>> {
        let file = match fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error("cannot read", &e)),
        };
        let mut text = String::new();
        let mut limited = std::io::Read::take(file, MAX_STATE_BYTES + 1);
        std::io::Read::read_to_string(&mut limited, &mut text)
            .map_err(|e| self.error("cannot read", &e))?;
        if text.len() as u64 > MAX_STATE_BYTES {
            return Err(OcfError::generic(format!(
                "state file {} is larger than {MAX_STATE_BYTES} bytes",
                self.path.display()
            )));
        }
        Ok(Some(text))
    }

    /// Replace the contents atomically, creating the directory if needed.
    pub fn write(&self, contents: &str) -> OcfResult<()> {
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| {
            OcfError::generic(format!(
                "cannot create state directory {}: {e}",
                dir.display()
            ))
        })?;
        let file_name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            f.write_all(contents.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)?;
            // Make the rename itself durable; /run is tmpfs, so best effort.
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok::<(), std::io::Error>(())
        })();
        result.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            self.error("cannot write", &e)
        })
    }

    /// Remove the file; a file that is already gone is fine.
    pub fn remove(&self) -> OcfResult<()> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.error("cannot remove", &e)),
        }
    }

    fn error(&self, what: &str, e: &std::io::Error) -> OcfError {
        OcfError::generic(format!("{what} state file {}: {e}", self.path.display()))
    }
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'+' | b'-') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push('%');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keyed_by_agent_instance_and_node() {
        let dir = Path::new("/run/resource-agents");
        let a = StateFile::keyed(dir, "storage-monitor", "sm", "cmp1", "state");
        assert_eq!(
            a.path(),
            Path::new("/run/resource-agents/storage-monitor@sm@cmp1.state")
        );
        let b = StateFile::keyed(dir, "storage-monitor", "sm", "cmp2", "state");
        assert_ne!(a, b);
        let odd = StateFile::keyed(dir, "x", "../../etc", "a/b@c", "state");
        assert_eq!(odd.path().parent(), Some(dir));
        assert!(
            odd.path()
                .to_string_lossy()
                .contains("..%2F..%2Fetc@a%2Fb%40c")
        );
    }

    #[test]
    fn write_read_remove() {
        let dir = tempfile::tempdir().unwrap();
        let f = StateFile::keyed(&dir.path().join("sub"), "d", "r", "n", "state");
        assert!(!f.exists().unwrap());
        assert_eq!(f.read().unwrap(), None);
        f.write("one\n").unwrap();
        assert!(f.exists().unwrap());
        f.write("two\n").unwrap();
        assert_eq!(f.read().unwrap().as_deref(), Some("two\n"));
        f.remove().unwrap();
        f.remove().unwrap();
        assert!(!f.exists().unwrap());
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("sub")).unwrap().collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn write_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        fs::write(&blocker, "x").unwrap();
        let f = StateFile::at(blocker.join("state"));
        let err = f.write("x").unwrap_err();
        assert!(
            err.reason().contains("cannot create state directory"),
            "{err}"
        );
    }

    proptest! {
        #[test]
        fn keys_never_escape_the_directory(instance in any::<String>(), node in any::<String>()) {
            let dir = Path::new("/x");
            let f = StateFile::keyed(dir, "a", &instance, &node, "state");
            prop_assert_eq!(f.path().parent(), Some(dir));
        }

        #[test]
        fn distinct_keys_give_distinct_files(a in "[a-z@%/.]{0,6}", b in "[a-z@%/.]{0,6}", c in "[a-z@%/.]{0,6}", d in "[a-z@%/.]{0,6}") {
            let dir = Path::new("/x");
            let f1 = StateFile::keyed(dir, "a", &a, &b, "state");
            let f2 = StateFile::keyed(dir, "a", &c, &d, "state");
            prop_assert_eq!(f1 == f2, a == c && b == d);
        }
    }
}
