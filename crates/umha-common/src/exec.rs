//! Running Pacemaker's tools and administrator scripts with a deadline.
//!
//! Agents lean on `cibadmin`, `crm_node`, `attrd_updater` and scripts such as
//! `password_script`. Any of them can hang (a stuck CIB, a script waiting on a
//! terminal), and a hung agent is the worst outcome under Pacemaker. Every child
//! therefore runs in its own process group, is killed as a group when the
//! deadline passes, and its output is capped so a runaway tool cannot exhaust
//! memory. Secrets go through stdin, never argv.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ExitStatus, Stdio};
use std::thread;
use std::time::Duration;

use crate::Deadline;

/// Large enough for the CIB of a thousand-node cluster (about 7 MB), small
/// enough that a broken tool cannot take the node's memory with it.
pub const DEFAULT_MAX_OUTPUT: usize = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("{program}: not found (is it installed and on PATH?)")]
    NotFound { program: String },
    #[error("{program}: could not start: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{program}: no answer within {after:.1?}, killed")]
    TimedOut { program: String, after: Duration },
    #[error("{program}: {source}")]
    Io {
        program: String,
        source: std::io::Error,
    },
    #[error("{program}: output larger than {limit} bytes")]
    OutputTooLarge { program: String, limit: usize },
}

/// What a finished child left behind.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    /// The exit code, or 128+signal for a child killed by a signal, like a shell reports it.
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .or_else(|| self.status.signal().map(|s| 128 + s))
            .unwrap_or(-1)
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    pub fn stdout_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The first line of stderr, trimmed: what a tool says when it fails.
    pub fn stderr_summary(&self) -> String {
        let text = String::from_utf8_lossy(&self.stderr);
        let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        line.trim().chars().take(300).collect()
    }
}

/// A child process to run to completion within a deadline.
#[derive(Debug)]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    stdin: Option<zeroize::Zeroizing<Vec<u8>>>,
    deadline: Deadline,
    max_output: usize,
}

impl Command {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Self {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            deadline: Deadline::after(Duration::from_secs(30)),
            max_output: DEFAULT_MAX_OUTPUT,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Bytes for the child's stdin; wiped from memory afterwards because this is
    /// how secrets are handed over.
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(zeroize::Zeroizing::new(data.into()));
        self
    }

    pub fn deadline(mut self, deadline: Deadline) -> Self {
        self.deadline = deadline;
        self
    }

    pub fn timeout(self, timeout: Duration) -> Self {
        self.deadline(Deadline::after(timeout))
    }

    pub fn max_output(mut self, bytes: usize) -> Self {
        self.max_output = bytes;
        self
    }

    fn name(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    /// Run to completion. A non-zero exit is not an error here: callers know
    /// what each tool's exit codes mean.
    pub fn run(self) -> Result<Output, ExecError> {
        let program = self.name();
        let mut cmd = std::process::Command::new(&self.program);
        cmd.args(&self.args)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        for (key, value) in &self.env {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        let mut child = cmd.spawn().map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ExecError::NotFound {
                    program: program.clone(),
                }
            } else {
                ExecError::Spawn {
                    program: program.clone(),
                    source,
                }
            }
        })?;
        let pgid = nix::unistd::Pid::from_raw(child.id() as i32);

        let writer = match (child.stdin.take(), self.stdin) {
            (Some(mut pipe), Some(data)) => Some(thread::spawn(move || {
                // A child that exits without reading its stdin is not our error.
                let _ = pipe.write_all(&data);
            })),
            _ => None,
        };
        let limit = self.max_output;
        let out_reader = child.stdout.take().map(|p| spawn_reader(p, limit));
        let err_reader = child.stderr.take().map(|p| spawn_reader(p, 64 * 1024));

        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(1);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(source) => return Err(ExecError::Io { program, source }),
            }
            if self.deadline.expired() {
                let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait();
                return Err(ExecError::TimedOut {
                    program,
                    after: started.elapsed(),
                });
            }
            self.deadline.sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        };
        // A daemon the child left behind may still hold the pipes open; give
        // the readers until the deadline, then take the rest of the group down.
        let readers_done = || {
            out_reader.as_ref().is_none_or(|r| r.is_finished())
                && err_reader.as_ref().is_none_or(|r| r.is_finished())
        };
        while !readers_done() && self.deadline.sleep(Duration::from_millis(2)) {}
        if !readers_done() {
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        }
        if let Some(w) = writer {
            let _ = w.join();
        }
        let stdout = collect(out_reader, &program, limit)?;
        let stderr = collect(err_reader, &program, usize::MAX)?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

type Reader = thread::JoinHandle<std::io::Result<(Vec<u8>, bool)>>;

fn spawn_reader(pipe: impl Read + Send + 'static, limit: usize) -> Reader {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let mut take = pipe.take(limit as u64 + 1);
        take.read_to_end(&mut buf)?;
        let too_large = buf.len() > limit;
        buf.truncate(limit);
        // Drain the rest so the child is not blocked on a full pipe.
        let mut rest = take.into_inner();
        let _ = std::io::copy(&mut rest, &mut std::io::sink());
        Ok((buf, too_large))
    })
}

fn collect(reader: Option<Reader>, program: &str, limit: usize) -> Result<Vec<u8>, ExecError> {
    let Some(reader) = reader else {
        return Ok(Vec::new());
    };
    match reader.join() {
        Ok(Ok((_, true))) => Err(ExecError::OutputTooLarge {
            program: program.to_owned(),
            limit,
        }),
        Ok(Ok((buf, false))) => Ok(buf),
        Ok(Err(source)) => Err(ExecError::Io {
            program: program.to_owned(),
            source,
        }),
        Err(_) => Err(ExecError::Io {
            program: program.to_owned(),
            source: std::io::Error::other("output reader failed"),
        }),
    }
}

/// Whether `program` is an executable file in one of `$PATH`'s directories:
/// the check `validate-all` makes before relying on a cluster tool.
pub fn find_in_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::path::Path::new(&dir)
            .join(program)
            .metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_exit_code() {
        let out = Command::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .run()
            .unwrap();
        assert_eq!(out.code(), 3);
        assert_eq!(out.stdout_lossy(), "out\n");
        assert_eq!(out.stderr_summary(), "err");
    }

    #[test]
    fn stdin_reaches_the_child() {
        let out = Command::new("cat").stdin("s3cret\n").run().unwrap();
        assert_eq!(out.stdout_lossy(), "s3cret\n");
    }

    #[test]
    fn a_hung_child_and_its_group_are_killed_at_the_deadline() {
        let err = Command::new("sh")
            .args(["-c", "sleep 30 & sleep 30"])
            .timeout(Duration::from_millis(200))
            .run()
            .unwrap_err();
        assert!(matches!(err, ExecError::TimedOut { .. }), "{err}");
    }

    #[test]
    fn missing_program_is_not_found() {
        let err = Command::new("/nonexistent/umha-tool").run().unwrap_err();
        assert!(matches!(err, ExecError::NotFound { .. }));
    }

    #[test]
    fn output_is_capped() {
        let err = Command::new("sh")
            .args(["-c", "head -c 5000 /dev/zero"])
            .max_output(100)
            .run()
            .unwrap_err();
        assert!(matches!(err, ExecError::OutputTooLarge { .. }));
    }
}
