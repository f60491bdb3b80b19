//! Helpers of fence_ipmi's tests: our own ipmi_sim instances (UDP ports
//! 9201+, never the lab's 9001-9003; temporary directories; killed by PID
//! when the guard drops, also when a test panics), in-process test BMCs on
//! port 0, and bounded runs of fence_ipmi and fence_ipmilan.

#![allow(dead_code, clippy::expect_used)] // test helpers: a failed setup should panic loudly

use std::io::{Read, Write};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

pub const AGENT: &str = env!("CARGO_BIN_EXE_fence_ipmi");

/// The program on PATH (or in /usr/sbin), if installed.
pub fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// `Some(path)`, or a `SKIPPED:` line and `None`.
pub fn require(name: &str) -> Option<PathBuf> {
    let found = tool(name);
    if found.is_none() {
        eprintln!("SKIPPED: {name} is not installed");
    }
    found
}

static NEXT_PORT: AtomicU16 = AtomicU16::new(9201);

/// A UDP port of 9201+ that is free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    loop {
        let p = NEXT_PORT.fetch_add(1, Ordering::SeqCst);
        assert!(p < 9300, "ran out of test ports");
        if UdpSocket::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
}

/// An ipmi_sim account.
#[derive(Debug, Clone, Copy)]
pub struct SimUser {
    pub name: &'static str,
    pub password: &'static str,
    /// ipmi_sim's word: callback, user, operator or admin.
    pub privilege: &'static str,
}

pub const ADMIN: SimUser = SimUser {
    name: "admin",
    password: "Zq8-admin-pw",
    privilege: "admin",
};
pub const OPERATOR: SimUser = SimUser {
    name: "oper",
    password: "Zq8-oper-pw",
    privilege: "operator",
};

/// One ipmi_sim, killed (by PID) when dropped.
#[derive(Debug)]
pub struct IpmiSim {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl IpmiSim {
    /// An ipmi_sim with these users, power on; `None` (after a `SKIPPED:`
    /// line) when ipmi_sim is missing.
    pub fn start(users: &[SimUser]) -> Option<IpmiSim> {
        let bin = require("ipmi_sim")?;
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let d = dir.path();
        std::fs::create_dir_all(d.join("state")).expect("state dir");
        // The chassis_control program: the power state in a file, answered at once.
        let script = d.join("power");
        std::fs::write(
            &script,
            "#!/bin/sh\n\
             f=\"$(dirname \"$0\")/power-state\"\n\
             [ -f \"$f\" ] || echo 1 >\"$f\"\n\
             case \"$2\" in\n\
             get) echo \"power:$(cat \"$f\")\" ;;\n\
             set) [ \"$3\" = power ] && echo \"$4\" >\"$f\" ;;\n\
             esac\n\
             echo \"$*\" >>\"$(dirname \"$0\")/power.log\"\n\
             exit 0\n",
        )
        .expect("power script");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let mut conf = format!(
            "name \"fence-ipmi-test\"\n\
             set_working_mc 0x20\n\
             \x20 startlan 1\n\
             \x20   addr 127.0.0.1 {port}\n\
             \x20   priv_limit admin\n\
             \x20   allowed_auths_callback none md2 md5 straight\n\
             \x20   allowed_auths_user none md2 md5 straight\n\
             \x20   allowed_auths_operator none md2 md5 straight\n\
             \x20   allowed_auths_admin none md2 md5 straight\n\
             \x20   guid a123456789abcdefa123456789abcd02\n\
             \x20 endlan\n\
             \x20 chassis_control \"{} node\"\n",
            script.display()
        );
        for (i, u) in users.iter().enumerate() {
            conf.push_str(&format!(
                "user {} true \"{}\" \"{}\" {} 10 none md2 md5 straight\n",
                i + 2,
                u.name,
                u.password,
                u.privilege
            ));
        }
        std::fs::write(d.join("lan.conf"), conf).expect("lan.conf");
        std::fs::write(
            d.join("bmc.emu"),
            "mc_setbmc 0x20\n\
             mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n\
             sel_enable 0x20 1000 0x0a\n\
             mc_enable 0x20\n",
        )
        .expect("bmc.emu");
        std::fs::write(d.join("power-state"), "1\n").expect("power-state");
        let log = std::fs::File::create(d.join("ipmi_sim.log")).expect("log");
        let child = Command::new(bin)
            .arg("-n")
            .arg("-c")
            .arg(d.join("lan.conf"))
            .arg("-f")
            .arg(d.join("bmc.emu"))
            .arg("-s")
            .arg(d.join("state"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("spawn ipmi_sim");
        let mut sim = IpmiSim { port, dir, child };
        // Ready once it holds the port.
        let start = Instant::now();
        while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            if let Ok(Some(status)) = sim.child.try_wait() {
                panic!("ipmi_sim exited at start ({status}): {}", sim.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "ipmi_sim did not bind port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(sim)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ipmi_sim.log")).unwrap_or_default()
    }

    /// The power state the chassis_control script keeps.
    pub fn power_on(&self) -> bool {
        std::fs::read_to_string(self.dir.path().join("power-state"))
            .map(|s| s.trim() != "0")
            .unwrap_or(true)
    }

    pub fn set_power(&self, on: bool) {
        std::fs::write(
            self.dir.path().join("power-state"),
            if on { "1\n" } else { "0\n" },
        )
        .expect("power-state");
    }

    /// stdin lines for `user` on this BMC (no action, no timing).
    pub fn options(&self, user: &SimUser) -> String {
        format!(
            "ip=127.0.0.1\nipport={}\nusername={}\npassword={}\n",
            self.port, user.name, user.password
        )
    }
}

impl Drop for IpmiSim {
    fn drop(&mut self) {
        // SIGKILL to our own child, by PID; then reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
