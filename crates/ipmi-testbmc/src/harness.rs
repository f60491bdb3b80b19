//! What the IPMI test suites share (ipmi-lan's, fence_ipmi's and this
//! crate's): finding the reference tools, OpenIPMI's `ipmi_sim` as an
//! independent BMC, and bounded ipmitool runs.
//!
//! Each suite owns a [`PortRange`] for its ipmi_sim instances, so suites
//! running at the same time, and the Pacemaker lab's fixed ports 9001-9003,
//! never meet. Every child is ours, killed by PID when its guard drops (also
//! when a test panics), and every wait is bounded. A failed setup panics: in
//! a test that is the clearest report.

#![allow(clippy::expect_used)] // test helpers: a failed setup should panic loudly

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use ipmi_lan::Config;
use umha_common::Secret;

/// The program on PATH (or in /usr/sbin, /usr/bin), if installed.
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

/// A suite's own UDP ports on 127.0.0.1, handed out once each: fixed and
/// outside the ephemeral range, so no client socket of the test can take a
/// port between our check and ipmi_sim's bind.
#[derive(Debug)]
pub struct PortRange {
    next: AtomicU16,
    end: u16,
}

impl PortRange {
    /// Ports `first..end`.
    pub const fn new(first: u16, end: u16) -> Self {
        PortRange {
            next: AtomicU16::new(first),
            end,
        }
    }

    /// The next port of the range that is free on 127.0.0.1 right now.
    pub fn free_port(&self) -> u16 {
        loop {
            let p = self.next.fetch_add(1, Ordering::SeqCst);
            assert!(p < self.end, "ran out of test ports");
            if UdpSocket::bind(("127.0.0.1", p)).is_ok() {
                return p;
            }
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
pub const PLAIN_USER: SimUser = SimUser {
    name: "viewer",
    password: "Zq8-user-pw",
    privilege: "user",
};

/// The chassis_control program: the power state in a file, answered at once.
const POWER_SCRIPT: &str = "#!/bin/sh\n\
    f=\"$(dirname \"$0\")/power-state\"\n\
    [ -f \"$f\" ] || echo 1 >\"$f\"\n\
    case \"$2\" in\n\
    get) echo \"power:$(cat \"$f\")\" ;;\n\
    set) [ \"$3\" = power ] && echo \"$4\" >\"$f\" ;;\n\
    esac\n\
    echo \"$*\" >>\"$(dirname \"$0\")/power.log\"\n\
    exit 0\n";

const BMC_EMU: &str = "mc_setbmc 0x20\n\
    mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n\
    sel_enable 0x20 1000 0x0a\n\
    mc_enable 0x20\n";

/// One ipmi_sim in a temporary directory, killed (by PID) when dropped.
#[derive(Debug)]
pub struct IpmiSim {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl IpmiSim {
    /// An ipmi_sim on a port of `ports` with these users, power on; `None`
    /// (after a `SKIPPED:` line) when ipmi_sim is missing.
    pub fn start(ports: &PortRange, users: &[SimUser]) -> Option<IpmiSim> {
        let bin = require("ipmi_sim")?;
        let dir = tempfile::tempdir().expect("temp dir");
        let port = ports.free_port();
        let d = dir.path();
        std::fs::create_dir_all(d.join("state")).expect("state dir");
        let script = d.join("power");
        std::fs::write(&script, POWER_SCRIPT).expect("power script");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let mut conf = format!(
            "name \"umha-test\"\n\
             set_working_mc 0x20\n\
             \x20 startlan 1\n\
             \x20   addr 127.0.0.1 {port}\n\
             \x20   priv_limit admin\n\
             \x20   allowed_auths_callback none md2 md5 straight\n\
             \x20   allowed_auths_user none md2 md5 straight\n\
             \x20   allowed_auths_operator none md2 md5 straight\n\
             \x20   allowed_auths_admin none md2 md5 straight\n\
             \x20   guid a123456789abcdefa123456789abcd01\n\
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
        std::fs::write(d.join("bmc.emu"), BMC_EMU).expect("bmc.emu");
        std::fs::write(d.join("power-state"), "1\n").expect("power-state");
        let log = std::fs::File::create(d.join("ipmi_sim.log")).expect("log");
        let child = std::process::Command::new(bin)
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

    /// The ipmi-lan client configuration for `user` on this BMC.
    pub fn config(&self, user: &SimUser) -> Config {
        let mut c = Config::new("127.0.0.1", user.name, Secret::new(user.password));
        c.port = self.port;
        c
    }

    /// A fence agent's stdin lines for `user` on this BMC (no action, no
    /// timing).
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

/// Run ipmitool against 127.0.0.1:`port` with the password in the
/// environment (-E), bounded to 30 s. Returns (exit code, stdout+stderr).
/// Panics when ipmitool is missing: check with [`require`] first.
pub fn ipmitool(port: u16, user: &str, password: &str, args: &[&str]) -> (i32, String) {
    let bin = tool("ipmitool").expect("ipmitool");
    let port = port.to_string();
    let mut all: Vec<&str> = vec![
        "-N",
        "1",
        "-R",
        "2",
        "-H",
        "127.0.0.1",
        "-p",
        &port,
        "-U",
        user,
        "-E",
    ];
    all.extend_from_slice(args);
    let out = umha_common::Command::new(bin)
        .args(&all)
        .env("IPMI_PASSWORD", password)
        .timeout(Duration::from_secs(30))
        .run()
        .expect("ipmitool ran");
    (
        out.code(),
        format!("{}{}", out.stdout_lossy(), out.stderr_summary()),
    )
}
