//! Helpers for the component tests: the built agent, a recording stand-in
//! for `attrd_updater` on PATH, and bounded runs.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use umha_common::{Command, Output};

pub const AGENT: &str = env!("CARGO_BIN_EXE_storage-monitor");

/// A private `HA_RSCTMP`, a `bin/` with a fake `attrd_updater` that appends
/// its arguments to `calls`, and room for test files.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rsc")).unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        let calls = dir.path().join("calls");
        write_script(
            &dir.path().join("bin/attrd_updater"),
            &format!("#!/bin/sh\necho \"$*\" >> '{}'\n", calls.display()),
        );
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn rsctmp(&self) -> PathBuf {
        self.path("rsc")
    }

    /// PATH with the fake attrd_updater first.
    pub fn path_var(&self) -> String {
        format!(
            "{}:{}",
            self.path("bin").display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into())
        )
    }

    /// The attrd_updater calls so far, and forget them.
    pub fn take_calls(&self) -> Vec<String> {
        let path = self.path("calls");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let _ = std::fs::remove_file(&path);
        text.lines().map(str::to_owned).collect()
    }

    /// The agent's environment for node `node` plus `extra` parameters.
    pub fn env(&self, node: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = vec![
            ("PATH".to_owned(), self.path_var()),
            ("HA_RSCTMP".to_owned(), self.rsctmp().display().to_string()),
            ("HA_LOGFACILITY".to_owned(), "none".to_owned()),
            (
                "HA_LOGFILE".to_owned(),
                self.path("ha.log").display().to_string(),
            ),
            ("HA_debug".to_owned(), "1".to_owned()),
            ("OCF_ROOT".to_owned(), "/usr/lib/ocf".to_owned()),
            ("OCF_RESOURCE_INSTANCE".to_owned(), "storage".to_owned()),
            ("OCF_RESKEY_CRM_meta_on_node".to_owned(), node.to_owned()),
            (
                "OCF_RESKEY_CRM_meta_interval".to_owned(),
                "10000".to_owned(),
            ),
            ("OCF_RESKEY_ping_interval".to_owned(), "50ms".to_owned()),
            ("OCF_RESKEY_ping_timeout".to_owned(), "300ms".to_owned()),
        ];
        for (k, v) in extra {
            env.retain(|(e, _)| e != k);
            env.push(((*k).to_owned(), (*v).to_owned()));
        }
        env
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("ha.log")).unwrap_or_default()
    }

    /// The agent's state file of `node`.
    pub fn state(&self, node: &str) -> Option<String> {
        std::fs::read_to_string(
            self.rsctmp()
                .join(format!("storage-monitor@storage@{node}.state")),
        )
        .ok()
    }
}

/// Run `action` of the agent, `prefix` (e.g. `ip netns exec ns`) first.
pub fn run_agent(
    prefix: &[&str],
    action: &str,
    env: &[(String, String)],
    timeout: Duration,
) -> Outcome {
    let (program, args): (&str, Vec<&str>) = match prefix {
        [] => (AGENT, vec![action]),
        [first, rest @ ..] => {
            let mut a = rest.to_vec();
            a.push(AGENT);
            a.push(action);
            (first, a)
        }
    };
    let mut cmd = Command::new(program).args(&args).timeout(timeout);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let started = Instant::now();
    let output = cmd.run().unwrap();
    Outcome {
        output,
        took: started.elapsed(),
    }
}

pub struct Outcome {
    pub output: Output,
    pub took: Duration,
}

impl Outcome {
    pub fn code(&self) -> i32 {
        self.output.code()
    }

    pub fn reason(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr)
            .lines()
            .find_map(|l| l.strip_prefix("ocf-exit-reason:"))
            .unwrap_or("")
            .to_owned()
    }
}

/// Write an executable script from a separate process, so no file
/// descriptor open for writing can leak into a child another test thread
/// forks meanwhile (exec would then fail with "Text file busy").
pub fn write_script(path: &Path, body: &str) {
    let out = Command::new("sh")
        .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
        .arg(path)
        .stdin(body.as_bytes().to_vec())
        .timeout(Duration::from_secs(10))
        .run()
        .unwrap();
    assert!(out.success(), "{}", out.stderr_summary());
}

/// Run a command to completion (bounded); its output.
pub fn sh(script: &str) -> Output {
    Command::new("sh")
        .args(["-c", script])
        .timeout(Duration::from_secs(30))
        .run()
        .unwrap()
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
