//! For agents' integration tests (feature `testing`): run an agent binary
//! the way pacemaker-fenced does (options on stdin, no argv) or a person
//! does (argv), bounded, with the developer's HA logging environment kept
//! out, so that every agent's suite reads the same.

#![allow(clippy::expect_used)] // test support: a failed setup should panic loudly

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The developer's HA logging variables, which tests keep away from agents.
pub const HA_ENVIRONMENT: &[&str] = &[
    "HA_LOGFACILITY",
    "HA_LOGFILE",
    "HA_DEBUGLOG",
    "HA_debug",
    "HA_LOGTAG",
];

/// How one run ended.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    pub fn describe(&self) -> String {
        format!(
            "exit {} after {:.2?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// A child of ours, killed by PID if it outlives its guard.
struct ChildGuard(Option<Child>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Run `program` with `args` and `stdin` as its input (as pacemaker-fenced
/// does: no argv), bounded by `limit`, calling `watch(pid)` every few
/// milliseconds while it runs (to sample `/proc/PID/cmdline`, say). The HA
/// logging variables and `PCMK_service` are removed before `env` is applied.
pub fn run_with(
    program: &Path,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
    limit: Duration,
    mut watch: impl FnMut(u32),
) -> Run {
    let started = Instant::now();
    let mut cmd = Command::new(program);
    cmd.args(args);
    for var in HA_ENVIRONMENT.iter().chain(&["PCMK_service"]) {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
    let mut guard = ChildGuard(Some(child));
    let child = guard.0.as_mut().expect("child");
    let pid = child.id();
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    // Drain the pipes on threads so a chatty child cannot block.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let code = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status.code().unwrap_or(-1);
        }
        assert!(
            started.elapsed() < limit,
            "{} did not finish within {limit:?}",
            program.display()
        );
        watch(pid);
        std::thread::sleep(Duration::from_millis(2));
    };
    guard.0 = None;
    Run {
        code,
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
        elapsed: started.elapsed(),
    }
}
