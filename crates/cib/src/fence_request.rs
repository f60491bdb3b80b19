//! Asking the fencer to fence a node, without waiting for the fence.
//!
//! `stonith_admin --fence` blocks until the fence is done, which can take
//! minutes (a BMC that does not answer is retried until `pcmk_off_timeout`,
//! then the next topology level gets its turn). A caller that runs inside a
//! bounded operation (an OCF monitor) cannot wait that long, and does not
//! need to: the request is handed to the fencer, which carries it out
//! whether or not its client stays. So [`request_fence`] starts
//! `stonith_admin`, waits a short moment to catch what fails at once (no
//! device can fence the node, the fencer is not running), and otherwise
//! leaves it running in a process group of its own (so that the caller's
//! timeout, which kills the caller's group, does not kill it), reaped by a
//! thread while the caller lives and by init after.
//!
//! The outcome is the fencer's business: read it from
//! [`crate::FenceHistory`] (pending, then success or failure), never from
//! this call.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{CibError, FenceAction};

const STONITH_ADMIN: &str = "stonith_admin";

/// How a request went, as far as the caller can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FenceRequested {
    /// `stonith_admin` reported success within the wait: the fence is done.
    Done,
    /// Still running when the wait ended; the fencer carries on.
    InProgress,
}

/// Ask the fencer to `action` (off or reboot) `target`, with `timeout` for
/// the whole fencing operation (`stonith_admin --timeout`), and wait at
/// most `wait` for an early answer. `Err` when `stonith_admin` cannot be
/// started or fails within `wait` (its message is kept); a request that is
/// still running after `wait` is [`FenceRequested::InProgress`].
pub fn request_fence(
    target: &str,
    action: &FenceAction,
    timeout: Duration,
    wait: Duration,
) -> Result<FenceRequested, CibError> {
    request_with(STONITH_ADMIN, target, action, timeout, wait)
}

/// The arguments of a fence request (for tests and logs).
pub fn fence_args(
    target: &str,
    action: &FenceAction,
    timeout: Duration,
) -> Result<Vec<String>, CibError> {
    if target.trim().is_empty() || target.contains('\0') || target.starts_with('-') {
        return Err(CibError::InvalidInput {
            what: "fence target",
            detail: format!("{target:?} is not a node name"),
        });
    }
    let verb = match action {
        FenceAction::Off => "fence",
        FenceAction::Reboot => "reboot",
        other => {
            return Err(CibError::InvalidInput {
                what: "fence action",
                detail: format!("{other:?} does not cut the power; use off or reboot"),
            });
        }
    };
    // Whole seconds, at least one: stonith_admin takes no fractions.
    let secs = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    Ok(vec![
        format!("--{verb}={target}"),
        format!("--timeout={}", secs.max(1)),
    ])
}

pub(crate) fn request_with(
    program: &str,
    target: &str,
    action: &FenceAction,
    timeout: Duration,
    wait: Duration,
) -> Result<FenceRequested, CibError> {
    let args = fence_args(target, action, timeout)?;
    // stderr goes to an unlinked file: a pipe would be closed when the
    // caller exits and kill a stonith_admin still waiting with SIGPIPE.
    let (mut errors, for_child) = scratch_file()?;
    log::debug!("running {program} {} in the background", args.join(" "));
    let mut spawned = None;
    for attempt in 0..5u32 {
        let result = Command::new(program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(for_child.try_clone().map_err(|e| {
                CibError::Io {
                    path: "scratch file".to_owned(),
                    source: e,
                }
            })?))
            .process_group(0)
            .spawn();
        match result {
            // ETXTBSY: the program file was just replaced (a package
            // upgrade) and is still open for writing somewhere.
            Err(e) if e.raw_os_error() == Some(26) && attempt < 4 => {
                std::thread::sleep(Duration::from_millis(20 << attempt));
            }
            other => {
                spawned = Some(other);
                break;
            }
        }
    }
    drop(for_child);
    let mut child = match spawned {
        Some(Ok(child)) => child,
        Some(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CibError::ToolMissing {
                tool: program.to_owned(),
            });
        }
        Some(Err(e)) => {
            return Err(CibError::Io {
                path: program.to_owned(),
                source: e,
            });
        }
        None => {
            return Err(CibError::InvalidInput {
                what: "fence request",
                detail: format!("{program} could not be started"),
            });
        }
    };
    let until = Instant::now() + wait;
    let mut pause = Duration::from_millis(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(FenceRequested::Done),
            Ok(Some(status)) => {
                let mut message = String::new();
                let _ = errors.seek(SeekFrom::Start(0));
                let _ = (&mut errors).take(4096).read_to_string(&mut message);
                let message: String = message
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("; ")
                    .chars()
                    .take(300)
                    .collect();
                return Err(CibError::ToolFailed {
                    tool: program.to_owned(),
                    code: status.code().unwrap_or(-1),
                    message: if message.is_empty() {
                        "(no message)".to_owned()
                    } else {
                        message
                    },
                });
            }
            Ok(None) if Instant::now() >= until => break,
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            Err(e) => {
                return Err(CibError::Io {
                    path: program.to_owned(),
                    source: e,
                });
            }
        }
    }
    // Reap it if this process lives long enough; init does otherwise.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(FenceRequested::InProgress)
}

/// An unlinked file, open twice: once to read back here, once for the child.
fn scratch_file() -> Result<(File, File), CibError> {
    let dir = std::env::temp_dir();
    let io_error = |path: &PathBuf, source| CibError::Io {
        path: path.display().to_string(),
        source,
    };
    for attempt in 0..16u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = dir.join(format!(
            ".umha-fence-request.{}.{nanos}.{attempt}",
            std::process::id()
        ));
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path);
        match opened {
            Ok(file) => {
                let _ = std::fs::remove_file(&path);
                let child = file.try_clone().map_err(|e| io_error(&path, e))?;
                return Ok((file, child));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_error(&path, e)),
        }
    }
    Err(CibError::InvalidInput {
        what: "scratch file",
        detail: format!("cannot create one in {}", dir.display()),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn script(dir: &std::path::Path, body: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("stonith_admin");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    }

    #[test]
    fn arguments() {
        assert_eq!(
            fence_args("cmp1", &FenceAction::Off, Duration::from_millis(120_500)).unwrap(),
            ["--fence=cmp1", "--timeout=121"]
        );
        assert_eq!(
            fence_args("cmp1", &FenceAction::Reboot, Duration::ZERO).unwrap(),
            ["--reboot=cmp1", "--timeout=1"]
        );
        assert!(fence_args("cmp1", &FenceAction::On, Duration::from_secs(1)).is_err());
        assert!(fence_args(" ", &FenceAction::Off, Duration::from_secs(1)).is_err());
        assert!(fence_args("-x", &FenceAction::Off, Duration::from_secs(1)).is_err());
    }

    #[test]
    fn quick_success_failure_and_background() {
        let dir = tempfile::tempdir().unwrap();
        let args = dir.path().join("args");
        let ok = script(dir.path(), &format!("echo \"$@\" > '{}'", args.display()));
        let wait = Duration::from_secs(5);
        assert_eq!(
            request_with(
                &ok,
                "cmp2",
                &FenceAction::Off,
                Duration::from_secs(60),
                wait
            )
            .unwrap(),
            FenceRequested::Done
        );
        assert_eq!(
            std::fs::read_to_string(&args).unwrap(),
            "--fence=cmp2 --timeout=60\n"
        );

        let fails = script(
            dir.path(),
            "echo 'error: Could not fence cmp2: No such device' >&2; exit 105",
        );
        match request_with(
            &fails,
            "cmp2",
            &FenceAction::Off,
            Duration::from_secs(60),
            wait,
        ) {
            Err(CibError::ToolFailed { code, message, .. }) => {
                assert_eq!(code, 105);
                assert!(message.contains("No such device"), "{message}");
            }
            other => panic!("{other:?}"),
        }

        // A fence that takes long: the call returns after the wait, and the
        // request goes on (it finishes on its own, in its own group).
        let done = dir.path().join("done");
        let slow = script(
            dir.path(),
            &format!("sleep 1; echo late >&2; touch '{}'", done.display()),
        );
        let started = Instant::now();
        assert_eq!(
            request_with(
                &slow,
                "cmp2",
                &FenceAction::Off,
                Duration::from_secs(60),
                Duration::from_millis(100)
            )
            .unwrap(),
            FenceRequested::InProgress
        );
        assert!(started.elapsed() < Duration::from_millis(900));
        let mut finished = false;
        for _ in 0..100 {
            if done.exists() {
                finished = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(finished, "the background request was not left to finish");

        assert!(matches!(
            request_with(
                "/nonexistent/stonith_admin",
                "cmp2",
                &FenceAction::Off,
                Duration::from_secs(1),
                wait
            ),
            Err(CibError::ToolMissing { .. })
        ));
    }
}
