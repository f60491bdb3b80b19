//! Helpers of fence_ipmi's tests: ipmi_sim instances from the shared harness
//! (`ipmi_testbmc::harness`) on UDP ports 9201-9299, never the lab's
//! 9001-9003, and bounded runs of fence_ipmi and fence_ipmilan.

#![allow(dead_code, clippy::expect_used)] // test helpers: a failed setup should panic loudly

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ipmi_testbmc::harness::{IpmiSim, PortRange, SimUser};

pub const AGENT: &str = env!("CARGO_BIN_EXE_fence_ipmi");

static PORTS: PortRange = PortRange::new(9201, 9300);

/// An ipmi_sim with these users on this suite's ports, power on; `None`
/// (after a `SKIPPED:` line) when ipmi_sim is missing.
pub fn sim(users: &[SimUser]) -> Option<IpmiSim> {
    IpmiSim::start(&PORTS, users)
}

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

/// Run `program` with `stdin` as its input (as pacemaker-fenced does: no
/// argv), bounded by `limit`, calling `watch(pid)` every few milliseconds
/// while it runs.
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
    for var in [
        "HA_LOGFACILITY",
        "HA_LOGFILE",
        "HA_DEBUGLOG",
        "HA_debug",
        "HA_LOGTAG",
        "PCMK_service",
    ] {
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

/// fence_ipmi with `stdin`, bounded to 60 s.
pub fn fence_ipmi(stdin: &str) -> Run {
    run_with(
        Path::new(AGENT),
        &[],
        stdin,
        &[],
        Duration::from_secs(60),
        |_| {},
    )
}

/// fence_ipmi with command-line arguments.
pub fn fence_ipmi_argv(args: &[&str]) -> Run {
    run_with(
        Path::new(AGENT),
        args,
        "",
        &[],
        Duration::from_secs(60),
        |_| {},
    )
}

/// Debian's fence_ipmilan with `stdin`, bounded to 90 s.
pub fn fence_ipmilan(program: &Path, stdin: &str) -> Run {
    run_with(program, &[], stdin, &[], Duration::from_secs(90), |_| {})
}
