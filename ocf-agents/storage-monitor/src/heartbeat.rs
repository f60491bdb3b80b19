//! The shared-storage path check: a heartbeat file on the NFS/CephFS mount.
//!
//! Pinging a storage server proves the network; it does not prove that the
//! mount the VMs' disks live on still answers. So, like vSphere HA's
//! datastore heartbeat, each node writes `<dir>/<node>.heartbeat` (node name
//! and time), flushes it to the server and reads it back. Read-only shares
//! get a directory listing instead. Other tools (the evacuator) can read
//! these files to tell a node that lost only its management network (its
//! heartbeat is fresh) from a dead or isolated one.
//!
//! **A hung mount must not hang the agent.** I/O on a dead NFS server blocks,
//! sometimes uninterruptibly (a thread waiting for NFS writeback cannot even
//! be killed). A thread of the agent stuck like that would keep the agent
//! process from ever exiting, and Pacemaker would count a timeout. The check
//! therefore runs in a child process (this same binary, re-executed with a
//! hidden argument), which the agent waits for until its deadline, then
//! kills and leaves behind if it will not die.
//!
//! **No pile-up.** The child holds an exclusive `flock` on a per-resource,
//! per-node lock file in `HA_RSCTMP` for as long as it lives: the lock is
//! passed to it as its standard input, so it is released only when the child
//! is really gone. A monitor that finds the lock still held does not start
//! another checker; it reports the path as hung straight away. However long
//! the mount stays dead, at most one checker per resource is stuck on it,
//! and the first monitor after the server comes back runs a fresh check.
//!
//! **Reading other nodes' heartbeats** ([`Checker::peek`]) goes through the
//! same child-and-lock machinery, for the same reason: the evacuator reads
//! a lost node's file from the controllers' mount of the same share, and a
//! dead share must not hang it either. Any binary whose `main` hands
//! [`CHECKER_ARG`] to [`checker_main`] can be the checker.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use umha_common::Deadline;

/// The hidden first argument that turns the agent binary into the checker.
pub const CHECKER_ARG: &str = "--heartbeat-check";

/// First line of every heartbeat file, with the format version.
const MAGIC: &str = "umha-storage-heartbeat 1";

/// More than any heartbeat file we write; a bigger one is not ours.
const MAX_FILE_BYTES: u64 = 4096;

/// Directory entries read in read-only mode; enough to reach the server,
/// bounded so a huge directory costs nothing extra.
const MAX_LISTED: usize = 10_000;

/// What the check does on the share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Write this node's heartbeat file, flush it to the server, read it back.
    Write,
    /// List the directory only (read-only shares).
    Read,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Write => "write",
            Mode::Read => "read",
        }
    }

    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "write" => Some(Mode::Write),
            "read" => Some(Mode::Read),
            _ => None,
        }
    }
}

/// The result of one path check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStatus {
    Ok,
    /// No answer in time; `still_stuck` when an earlier checker has not died yet
    /// (and no new one was started).
    Hung {
        still_stuck: bool,
    },
    /// The directory is not there: usually the share is not mounted.
    Missing(String),
    /// There but unusable this way: read-only, permission denied, not a
    /// directory. A configuration problem when seen at start.
    Unusable(String),
    /// Any other error (EIO, ESTALE, ENOSPC, ...), or a local problem running the check.
    Failed(String),
}

impl PathStatus {
    pub fn is_ok(&self) -> bool {
        matches!(self, PathStatus::Ok)
    }

    /// One word for the detail attribute.
    pub fn token(&self) -> &'static str {
        match self {
            PathStatus::Ok => "ok",
            PathStatus::Hung { .. } => "hung",
            PathStatus::Missing(_) => "missing",
            PathStatus::Unusable(_) => "unusable",
            PathStatus::Failed(_) => "error",
        }
    }

    /// A sentence for logs and exit reasons.
    pub fn describe(&self) -> String {
        match self {
            PathStatus::Ok => "ok".to_owned(),
            PathStatus::Hung { still_stuck: false } => "no answer in time (hung mount?)".to_owned(),
            PathStatus::Hung { still_stuck: true } => {
                "the previous check is still stuck (hung mount?); no new check started".to_owned()
            }
            PathStatus::Missing(m) | PathStatus::Unusable(m) | PathStatus::Failed(m) => m.clone(),
        }
    }

    fn from_io(path: &Path, err: &io::Error) -> PathStatus {
        let text = format!("{}: {err}", path.display());
        match err.kind() {
            io::ErrorKind::NotFound => PathStatus::Missing(text),
            io::ErrorKind::PermissionDenied
            | io::ErrorKind::ReadOnlyFilesystem
            | io::ErrorKind::NotADirectory
            | io::ErrorKind::IsADirectory => PathStatus::Unusable(text),
            _ => PathStatus::Failed(text),
        }
    }

    /// The checker's one-line answer.
    fn to_line(&self) -> String {
        let one_line = |m: &str| m.replace(['\n', '\r'], " ");
        match self {
            PathStatus::Ok => "ok".to_owned(),
            PathStatus::Hung { .. } => "failed hung".to_owned(),
            PathStatus::Missing(m) => format!("missing {}", one_line(m)),
            PathStatus::Unusable(m) => format!("unusable {}", one_line(m)),
            PathStatus::Failed(m) => format!("failed {}", one_line(m)),
        }
    }

    fn from_line(line: &str) -> PathStatus {
        let line = line.trim();
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "ok" => PathStatus::Ok,
            "missing" => PathStatus::Missing(rest.to_owned()),
            "unusable" => PathStatus::Unusable(rest.to_owned()),
            "failed" => PathStatus::Failed(rest.to_owned()),
            "" => PathStatus::Failed("the heartbeat checker gave no answer".to_owned()),
            _ => PathStatus::Failed(format!(
                "unexpected answer from the heartbeat checker: {}",
                line.chars().take(200).collect::<String>()
            )),
        }
    }
}

/// What a heartbeat file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub node: String,
    /// When it was written, to the millisecond.
    pub time: SystemTime,
}

impl Heartbeat {
    pub fn now(node: &str) -> Heartbeat {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        // Millisecond precision, so render and parse round-trip exactly.
        let time = UNIX_EPOCH + Duration::from_millis(since.as_millis() as u64);
        Heartbeat {
            node: node.to_owned(),
            time,
        }
    }

    pub fn render(&self) -> String {
        format!(
            "{MAGIC}\nnode={}\ntime={}\n",
            self.node.replace(['\n', '\r'], " "),
            self.time_text()
        )
    }

    /// `None` for anything that is not a heartbeat file of this format.
    pub fn parse(text: &str) -> Option<Heartbeat> {
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let (mut node, mut time) = (None, None);
        for line in lines {
            match line.split_once('=') {
                Some(("node", v)) => node = Some(v.to_owned()),
                Some(("time", v)) => time = Some(parse_time(v)?),
                _ => {}
            }
        }
        Some(Heartbeat {
            node: node.filter(|n| !n.is_empty())?,
            time: time?,
        })
    }

    /// Seconds since the epoch, with milliseconds, as the file writes it.
    fn time_text(&self) -> String {
        let since = self.time.duration_since(UNIX_EPOCH).unwrap_or_default();
        format!("{}.{:03}", since.as_secs(), since.subsec_millis())
    }

    /// When it was written, in whole seconds since the epoch.
    pub fn epoch_secs(&self) -> i64 {
        self.time
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// `<seconds>[.<milliseconds>]` since the epoch.
fn parse_time(v: &str) -> Option<SystemTime> {
    let (secs, millis) = v.split_once('.').unwrap_or((v, "0"));
    if millis.len() > 3 || secs.is_empty() {
        return None;
    }
    let secs: u64 = secs.parse().ok()?;
    let millis: u64 = format!("{millis:0<3}").parse().ok()?;
    let since = Duration::from_secs(secs).checked_add(Duration::from_millis(millis))?;
    UNIX_EPOCH.checked_add(since)
}

/// What a look at another node's heartbeat file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peek {
    /// The node's heartbeat, as last written.
    Found(Heartbeat),
    /// The directory answers but holds no heartbeat file for this node.
    Absent,
    /// The look itself failed: directory missing or unusable, hung mount,
    /// unreadable or foreign file, or the checker could not run.
    Failed(PathStatus),
}

/// The checker's word for a peek (next to `write` and `read`).
const PEEK: &str = "peek";

/// Read `node`'s heartbeat file in `dir`, blocking. Runs in the checker
/// child, never in the caller.
pub fn peek_here(dir: &Path, node: &str) -> Peek {
    // The directory first: an unmounted share is not "no heartbeat".
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Peek::Failed(PathStatus::Unusable(format!(
                "{}: not a directory",
                dir.display()
            )));
        }
        Err(e) => return Peek::Failed(PathStatus::from_io(dir, &e)),
    }
    let path = dir.join(file_name(node));
    let mut text = String::new();
    let read = File::open(&path).and_then(|f| f.take(MAX_FILE_BYTES).read_to_string(&mut text));
    match read {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Peek::Absent,
        Err(e) => Peek::Failed(PathStatus::from_io(&path, &e)),
        Ok(_) => match Heartbeat::parse(&text) {
            Some(hb) if hb.node == node => Peek::Found(hb),
            Some(hb) => Peek::Failed(PathStatus::Failed(format!(
                "{}: holds the heartbeat of {:?}",
                path.display(),
                hb.node
            ))),
            None => Peek::Failed(PathStatus::Failed(format!(
                "{}: not a heartbeat file",
                path.display()
            ))),
        },
    }
}

impl Peek {
    /// The checker's one-line answer.
    fn to_line(&self) -> String {
        match self {
            Peek::Found(hb) => format!("heartbeat {}", hb.time_text()),
            Peek::Absent => "absent".to_owned(),
            Peek::Failed(status) => status.to_line(),
        }
    }

    fn from_line(line: &str, node: &str) -> Peek {
        let line = line.trim();
        if line == "absent" {
            return Peek::Absent;
        }
        match line.strip_prefix("heartbeat ").map(parse_time) {
            Some(Some(time)) => Peek::Found(Heartbeat {
                node: node.to_owned(),
                time,
            }),
            Some(None) => Peek::Failed(PathStatus::Failed(format!(
                "unexpected answer from the heartbeat checker: {}",
                line.chars().take(200).collect::<String>()
            ))),
            // An "ok" here is a checker that did not understand "peek".
            None => match PathStatus::from_line(line) {
                PathStatus::Ok => Peek::Failed(PathStatus::Failed(
                    "the heartbeat checker does not know how to read a heartbeat".to_owned(),
                )),
                other => Peek::Failed(other),
            },
        }
    }
}

/// The heartbeat file name of `node`: the name itself where it is a safe
/// file name, percent-encoded otherwise.
pub fn file_name(node: &str) -> String {
    let mut out = String::with_capacity(node.len() + 10);
    for (i, b) in node.bytes().enumerate() {
        let safe = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-') || (b == b'.' && i > 0);
        if safe {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push('%');
    }
    out.push_str(".heartbeat");
    out
}

/// The check itself, blocking. Runs in the checker child, never in the agent.
pub fn check_here(dir: &Path, mode: Mode, node: &str) -> PathStatus {
    match mode {
        Mode::Read => list(dir),
        Mode::Write => write_and_read_back(dir, node),
    }
}

fn list(dir: &Path) -> PathStatus {
    // Opening a directory makes an NFS client revalidate it with the server.
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return PathStatus::from_io(dir, &e),
    };
    for entry in entries.take(MAX_LISTED) {
        if let Err(e) = entry {
            return PathStatus::from_io(dir, &e);
        }
    }
    PathStatus::Ok
}

fn write_and_read_back(dir: &Path, node: &str) -> PathStatus {
    let name = file_name(node);
    let path = dir.join(&name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let text = Heartbeat::now(node).render();
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        // The proof that the server took it, not just the page cache.
        f.sync_all()
    })();
    if let Err(e) = written {
        return PathStatus::from_io(&tmp, &e);
    }
    // Readers never see a half-written heartbeat.
    if let Err(e) = fs::rename(&tmp, &path) {
        return PathStatus::from_io(&path, &e);
    }
    let mut back = String::new();
    let read = File::open(&path).and_then(|f| f.take(MAX_FILE_BYTES).read_to_string(&mut back));
    if let Err(e) = read {
        return PathStatus::from_io(&path, &e);
    }
    if back != text {
        return PathStatus::Failed(format!(
            "{}: reads back different contents than were just written (another writer?)",
            path.display()
        ));
    }
    PathStatus::Ok
}

/// `storage-monitor --heartbeat-check <write|read> <dir> <node>`: run the
/// check and print the one-line answer.
pub fn checker_main(args: &[OsString]) -> ExitCode {
    if let [word, dir, node] = args
        && word == PEEK
    {
        let peek = match node.to_str() {
            Some(node) => peek_here(Path::new(dir), node),
            None => Peek::Failed(PathStatus::Failed(
                "heartbeat checker: bad arguments".to_owned(),
            )),
        };
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{}", peek.to_line());
        let _ = out.flush();
        return if matches!(peek, Peek::Failed(_)) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
    let status = match args {
        [mode, dir, node] => match (mode.to_str().and_then(Mode::parse), node.to_str()) {
            (Some(mode), Some(node)) => check_here(Path::new(dir), mode, node),
            _ => PathStatus::Failed("heartbeat checker: bad arguments".to_owned()),
        },
        _ => PathStatus::Failed(format!(
            "usage: {CHECKER_ARG} <write|read|peek> <directory> <node>"
        )),
    };
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{}", status.to_line());
    let _ = out.flush();
    if status.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// How to start a checker: this binary in production, a stand-in in tests.
#[derive(Debug, Clone)]
pub struct Checker {
    program: OsString,
    args: Vec<OsString>,
}

impl Default for Checker {
    /// This very binary. `/proc/self/exe` works even while a package upgrade
    /// replaces the file on disk.
    fn default() -> Self {
        Self::new("/proc/self/exe", [CHECKER_ARG])
    }
}

impl Checker {
    /// A checker run as `program args... <mode> <dir> <node>`, answering one line on stdout.
    pub fn new<I, S>(program: impl Into<OsString>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
        }
    }

    /// Start a check unless an earlier checker still holds `lock`. Returns at once.
    pub fn start(&self, lock: &Path, dir: &Path, mode: Mode, node: &str) -> PendingCheck {
        self.spawn(lock, mode.as_str(), dir, node)
    }

    /// Read `node`'s heartbeat in `dir`, by `deadline` at the latest, in a
    /// child holding `lock` (so a read stuck on a dead share is never
    /// joined by a second one: the next call fails at once instead).
    pub fn peek(&self, lock: &Path, dir: &Path, node: &str, deadline: Deadline) -> Peek {
        match self.spawn(lock, PEEK, dir, node).wait_line(deadline) {
            Ok(line) => Peek::from_line(&line, node),
            Err(status) => Peek::Failed(status),
        }
    }

    fn spawn(&self, lock: &Path, word: &str, dir: &Path, node: &str) -> PendingCheck {
        let lock_file = match open_lock(lock) {
            Ok(Some(f)) => f,
            Ok(None) => return PendingCheck::done(PathStatus::Hung { still_stuck: true }),
            Err(e) => {
                return PendingCheck::done(PathStatus::Failed(format!(
                    "heartbeat lock file {}: {e}",
                    lock.display()
                )));
            }
        };
        let spawned = Command::new(&self.program)
            .args(&self.args)
            .arg(word)
            .arg(dir)
            .arg(node)
            // The lock lives as long as the child's stdin does.
            .stdin(Stdio::from(lock_file))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                return PendingCheck::done(PathStatus::Failed(format!(
                    "cannot start the heartbeat checker {}: {e}",
                    PathBuf::from(&self.program).display()
                )));
            }
        };
        let (tx, rx) = mpsc::channel();
        if let Some(mut stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut answer = Vec::new();
                let _ = (&mut stdout).take(MAX_FILE_BYTES).read_to_end(&mut answer);
                let _ = tx.send(answer);
            });
        }
        PendingCheck {
            state: Pending::Running { child, answer: rx },
        }
    }
}

/// `Some(locked file)`, or `None` when another holder (a stuck checker) has it.
fn open_lock(path: &Path) -> io::Result<Option<File>> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Whether a checker still holds `lock` (so the file must stay).
pub fn lock_is_held(lock: &Path) -> bool {
    match OpenOptions::new().read(true).write(true).open(lock) {
        Ok(f) => matches!(f.try_lock(), Err(fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

/// A check in progress.
#[derive(Debug)]
pub struct PendingCheck {
    state: Pending,
}

#[derive(Debug)]
enum Pending {
    Done(PathStatus),
    Running {
        child: Child,
        answer: mpsc::Receiver<Vec<u8>>,
    },
}

impl PendingCheck {
    fn done(status: PathStatus) -> Self {
        Self {
            state: Pending::Done(status),
        }
    }

    /// The result, by `deadline` at the latest. A checker that has not
    /// answered by then is killed (and left to the system if it cannot die).
    pub fn wait(self, deadline: Deadline) -> PathStatus {
        match self.wait_line(deadline) {
            Ok(line) => PathStatus::from_line(&line),
            Err(status) => status,
        }
    }

    /// The checker's answer line, or why there is none.
    fn wait_line(self, deadline: Deadline) -> Result<String, PathStatus> {
        let (mut child, answer) = match self.state {
            Pending::Done(status) => return Err(status),
            Pending::Running { child, answer } => (child, answer),
        };
        let left = deadline.remaining().unwrap_or(Duration::from_secs(3600));
        match answer.recv_timeout(left) {
            Ok(bytes) => {
                reap(&mut child, Duration::from_millis(200));
                Ok(String::from_utf8_lossy(&bytes).into_owned())
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                reap(&mut child, Duration::from_millis(200));
                Err(PathStatus::Failed(
                    "the heartbeat checker gave no answer".to_owned(),
                ))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                reap(&mut child, Duration::from_millis(50));
                Err(PathStatus::Hung { still_stuck: false })
            }
        }
    }
}

/// Collect the child's exit status if it comes within `grace`; never block longer.
fn reap(child: &mut Child, grace: Duration) {
    let until = Instant::now() + grace;
    let mut pause = Duration::from_micros(200);
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) if Instant::now() >= until => return,
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(10));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sh(script: &str) -> Checker {
        // `sh -c SCRIPT checker MODE DIR NODE`: $1..$3 are mode, dir and node.
        Checker::new("sh", ["-c", script, "checker"])
    }

    #[test]
    fn heartbeat_round_trip() {
        let hb = Heartbeat::now("cmp1");
        let text = hb.render();
        assert!(
            text.starts_with("umha-storage-heartbeat 1\nnode=cmp1\ntime="),
            "{text}"
        );
        assert_eq!(Heartbeat::parse(&text), Some(hb));
        let fixed =
            Heartbeat::parse("umha-storage-heartbeat 1\nnode=n\ntime=1700000000.5\n").unwrap();
        assert_eq!(
            fixed.time,
            UNIX_EPOCH + Duration::from_millis(1_700_000_000_500)
        );
        assert_eq!(Heartbeat::parse("node=n\ntime=1\n"), None);
        assert_eq!(Heartbeat::parse("umha-storage-heartbeat 1\ntime=1\n"), None);
        assert_eq!(
            Heartbeat::parse("umha-storage-heartbeat 1\nnode=n\ntime=-1\n"),
            None
        );
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_name("cmp1"), "cmp1.heartbeat");
        assert_eq!(file_name("cmp-1.lab"), "cmp-1.lab.heartbeat");
        assert_eq!(file_name("../x"), "%2E.%2Fx.heartbeat");
        assert_eq!(file_name(".hidden"), "%2Ehidden.heartbeat");
    }

    #[test]
    fn write_mode_writes_a_parsable_heartbeat() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(check_here(dir.path(), Mode::Write, "cmp1"), PathStatus::Ok);
        let text = fs::read_to_string(dir.path().join("cmp1.heartbeat")).unwrap();
        assert_eq!(Heartbeat::parse(&text).unwrap().node, "cmp1");
        // Nothing else is left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["cmp1.heartbeat"]);
        assert_eq!(check_here(dir.path(), Mode::Read, "cmp1"), PathStatus::Ok);
    }

    #[test]
    fn missing_and_unusable_directories() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("not-mounted");
        assert!(matches!(
            check_here(&gone, Mode::Write, "n"),
            PathStatus::Missing(_)
        ));
        assert!(matches!(
            check_here(&gone, Mode::Read, "n"),
            PathStatus::Missing(_)
        ));
        let file = dir.path().join("file");
        fs::write(&file, "x").unwrap();
        let s = check_here(&file, Mode::Write, "n");
        assert!(matches!(s, PathStatus::Unusable(_)), "{s:?}");
        assert!(matches!(
            check_here(&file, Mode::Read, "n"),
            PathStatus::Unusable(_)
        ));
        // A directory where the heartbeat file should be.
        fs::create_dir(dir.path().join("n.heartbeat")).unwrap();
        assert!(matches!(
            check_here(dir.path(), Mode::Write, "n"),
            PathStatus::Unusable(_)
        ));
    }

    #[test]
    fn read_only_directory_is_unusable_for_writing_when_not_root() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o555)).unwrap();
        let status = check_here(dir.path(), Mode::Write, "n");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        if nix::unistd::geteuid().is_root() {
            // Root ignores modes; tests/path_check.rs covers a read-only mount.
            println!("SKIPPED: running as root");
            return;
        }
        assert!(matches!(status, PathStatus::Unusable(_)), "{status:?}");
    }

    #[test]
    fn answer_lines_round_trip() {
        for s in [
            PathStatus::Ok,
            PathStatus::Missing("/x: gone".into()),
            PathStatus::Unusable("/x: Read-only file system (os error 30)".into()),
            PathStatus::Failed("/x: Input/output error".into()),
        ] {
            assert_eq!(PathStatus::from_line(&s.to_line()), s);
        }
        assert!(matches!(PathStatus::from_line(""), PathStatus::Failed(_)));
        assert!(matches!(
            PathStatus::from_line("bogus"),
            PathStatus::Failed(_)
        ));
    }

    #[test]
    fn a_checker_answer_is_returned() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("lock");
        let ok = sh("echo ok").start(&lock, dir.path(), Mode::Write, "n");
        assert_eq!(
            ok.wait(Deadline::after(Duration::from_secs(5))),
            PathStatus::Ok
        );
        let args =
            sh("echo \"failed $1 $2 $3\"").start(&lock, Path::new("/d"), Mode::Read, "cmp 1");
        assert_eq!(
            args.wait(Deadline::after(Duration::from_secs(5))),
            PathStatus::Failed("read /d cmp 1".into())
        );
        let silent = sh("exit 3").start(&lock, dir.path(), Mode::Write, "n");
        assert!(matches!(
            silent.wait(Deadline::after(Duration::from_secs(5))),
            PathStatus::Failed(_)
        ));
        let missing = Checker::new("/nonexistent/checker", Vec::<String>::new()).start(
            &lock,
            dir.path(),
            Mode::Write,
            "n",
        );
        let s = missing.wait(Deadline::after(Duration::from_secs(5)));
        assert!(
            matches!(&s, PathStatus::Failed(m) if m.contains("cannot start")),
            "{s:?}"
        );
        // Every checker is gone, so the lock is free.
        assert!(!lock_is_held(&lock));
    }

    #[test]
    fn a_hung_checker_is_killed_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("lock");
        let started = Instant::now();
        let pending = sh("exec sleep 30").start(&lock, dir.path(), Mode::Write, "n");
        let status = pending.wait(Deadline::after(Duration::from_millis(300)));
        assert_eq!(status, PathStatus::Hung { still_stuck: false });
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        // Killable: the lock is free again and the next check runs.
        let mut freed = false;
        for _ in 0..100 {
            if !lock_is_held(&lock) {
                freed = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(freed);
        let next = sh("echo ok").start(&lock, dir.path(), Mode::Write, "n");
        assert_eq!(
            next.wait(Deadline::after(Duration::from_secs(5))),
            PathStatus::Ok
        );
    }

    #[test]
    fn an_unkillable_checker_is_not_piled_up() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("lock");
        let pid_file = dir.path().join("stuck.pid");
        // A grandchild keeps the lock (stdin) after its parent is killed: what a
        // process stuck in uninterruptible I/O looks like from here.
        let script = format!(
            // (A background job's stdin is /dev/null unless saved first.)
            "exec 3<&0; sleep 30 <&3 3<&- >/dev/null 2>&1 & echo $! > '{}'; exec sleep 30 3<&-",
            pid_file.display()
        );
        let first = sh(&script).start(&lock, dir.path(), Mode::Write, "n");
        assert_eq!(
            first.wait(Deadline::after(Duration::from_millis(300))),
            PathStatus::Hung { still_stuck: false }
        );
        assert!(lock_is_held(&lock));
        let started = Instant::now();
        let marker = dir.path().join("second-ran");
        let second = sh(&format!("touch '{}'; echo ok", marker.display())).start(
            &lock,
            dir.path(),
            Mode::Write,
            "n",
        );
        assert_eq!(
            second.wait(Deadline::after(Duration::from_secs(5))),
            PathStatus::Hung { still_stuck: true }
        );
        assert!(started.elapsed() < Duration::from_millis(200));
        assert!(!marker.exists(), "no second checker may be started");
        // Once the stuck one is gone, checks run again.
        let pid: i32 = fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        let mut status = PathStatus::Hung { still_stuck: true };
        for _ in 0..100 {
            status = sh("echo ok")
                .start(&lock, dir.path(), Mode::Write, "n")
                .wait(Deadline::after(Duration::from_secs(5)));
            if status.is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(status, PathStatus::Ok);
    }

    #[test]
    fn peek_reads_another_node_s_heartbeat() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(peek_here(dir.path(), "cmp1"), Peek::Absent);
        assert_eq!(check_here(dir.path(), Mode::Write, "cmp1"), PathStatus::Ok);
        let Peek::Found(hb) = peek_here(dir.path(), "cmp1") else {
            panic!("no heartbeat")
        };
        assert_eq!(hb.node, "cmp1");
        let age = SystemTime::now().duration_since(hb.time).unwrap();
        assert!(age < Duration::from_secs(5), "{age:?}");
        assert!(hb.epoch_secs() > 1_700_000_000);
        // Round trip through the checker's answer line.
        assert_eq!(
            Peek::from_line(&Peek::Found(hb.clone()).to_line(), "cmp1"),
            Peek::Found(hb)
        );
        assert_eq!(Peek::from_line("absent\n", "n"), Peek::Absent);
        // A file holding another node's heartbeat is not this node's.
        fs::write(
            dir.path().join("cmp2.heartbeat"),
            Heartbeat::now("cmp3").render(),
        )
        .unwrap();
        assert!(matches!(
            peek_here(dir.path(), "cmp2"),
            Peek::Failed(PathStatus::Failed(m)) if m.contains("cmp3")
        ));
        fs::write(dir.path().join("cmp4.heartbeat"), "junk").unwrap();
        assert!(matches!(
            peek_here(dir.path(), "cmp4"),
            Peek::Failed(PathStatus::Failed(_))
        ));
        // No share mounted: a failure, never "absent".
        assert!(matches!(
            peek_here(&dir.path().join("gone"), "cmp1"),
            Peek::Failed(PathStatus::Missing(_))
        ));
        // A checker that does not know "peek" answers "ok": not a heartbeat.
        assert!(matches!(
            Peek::from_line("ok", "n"),
            Peek::Failed(PathStatus::Failed(_))
        ));
        assert!(matches!(
            Peek::from_line("heartbeat soon", "n"),
            Peek::Failed(PathStatus::Failed(_))
        ));
    }

    #[test]
    fn peek_through_a_checker_is_bounded_and_not_piled_up() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("lock");
        let args = dir.path().join("args");
        let d = Deadline::after(Duration::from_secs(5));
        let answer = sh(&format!(
            "echo \"$@\" > '{}'; echo heartbeat 1700000000.250",
            args.display()
        ))
        .peek(&lock, Path::new("/share"), "cmp2", d);
        assert_eq!(
            answer,
            Peek::Found(Heartbeat {
                node: "cmp2".into(),
                time: UNIX_EPOCH + Duration::from_millis(1_700_000_000_250),
            })
        );
        assert_eq!(fs::read_to_string(&args).unwrap(), "peek /share cmp2\n");
        // A read stuck on a dead share: failed in time, and while the stuck
        // one holds the lock, the next peek fails at once without a child.
        let pid_file = dir.path().join("stuck.pid");
        let script = format!(
            "exec 3<&0; sleep 30 <&3 3<&- >/dev/null 2>&1 & echo $! > '{}'; exec sleep 30 3<&-",
            pid_file.display()
        );
        let started = Instant::now();
        let hung = sh(&script).peek(
            &lock,
            dir.path(),
            "cmp2",
            Deadline::after(Duration::from_millis(300)),
        );
        assert_eq!(hung, Peek::Failed(PathStatus::Hung { still_stuck: false }));
        assert!(started.elapsed() < Duration::from_secs(2));
        let marker = dir.path().join("ran");
        let next = sh(&format!("touch '{}'; echo absent", marker.display())).peek(
            &lock,
            dir.path(),
            "cmp2",
            d,
        );
        assert_eq!(next, Peek::Failed(PathStatus::Hung { still_stuck: true }));
        assert!(!marker.exists());
        let pid: i32 = fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        // The real checker entry point answers a peek.
        let real = tempfile::tempdir().unwrap();
        assert_eq!(check_here(real.path(), Mode::Write, "cmp5"), PathStatus::Ok);
        assert!(matches!(peek_here(real.path(), "cmp5"), Peek::Found(_)));
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = Heartbeat::parse(&text);
            let _ = PathStatus::from_line(&text);
            let _ = Peek::from_line(&text, "n");
            let name = file_name(&text);
            prop_assert!(!name.contains('/') && !name.starts_with('.'));
        }

        #[test]
        fn any_node_round_trips(node in "[a-zA-Z0-9._-]{1,40}") {
            let hb = Heartbeat::now(&node);
            prop_assert_eq!(Heartbeat::parse(&hb.render()), Some(hb));
        }
    }
}
