//! Helpers of fence_maas's tests: a MAAS simulator on 127.0.0.1 (an
//! ephemeral port each) and bounded runs of the fence_maas binary with its
//! options on stdin, as pacemaker-fenced runs it.

#![allow(dead_code, clippy::expect_used)] // test helpers: a failed setup should panic loudly

use std::time::{Duration, Instant};

use maas_sim::{MachineSpec, SimConfig, Simulator};
use umha_common::exec::Command;

pub const AGENT: &str = env!("CARGO_BIN_EXE_fence_maas");

/// The simulator's key; every part distinct, so a leak of any one is found.
pub const CONSUMER_KEY: &str = "umhaConsumerKey7q";
pub const TOKEN_KEY: &str = "umhaTokenKey4Lm2";
pub const TOKEN_SECRET: &str = "umhaTokenSecret9XfQ2vB8";

pub fn key() -> String {
    format!("{CONSUMER_KEY}:{TOKEN_KEY}:{TOKEN_SECRET}")
}

/// Machines cmp1 (aaa111), cmp2 (bbb222), cmp3 (ccc333), all on; power
/// changes after 200 ms.
pub fn sim() -> Simulator {
    let mut config = SimConfig::new(
        key(),
        vec![
            MachineSpec::new("cmp1", "aaa111"),
            MachineSpec::new("cmp2", "bbb222"),
            MachineSpec::new("cmp3", "ccc333"),
        ],
    );
    config.power_delay = Duration::from_millis(200);
    Simulator::start(config).expect("start the MAAS simulator")
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

    /// Neither output holds any part of the key.
    pub fn assert_no_key(&self) {
        for part in [CONSUMER_KEY, TOKEN_KEY, TOKEN_SECRET] {
            assert!(
                !self.stdout.contains(part) && !self.stderr.contains(part),
                "key part {part} leaked:\n{}",
                self.describe()
            );
        }
        assert!(!self.stderr.contains("panicked"), "{}", self.describe());
    }
}

/// fence_maas with exactly `stdin`, bounded to 90 s.
pub fn run_stdin(stdin: &str, args: &[&str]) -> Run {
    let started = Instant::now();
    let mut cmd = Command::new(AGENT)
        .args(args)
        .timeout(Duration::from_secs(90));
    for var in [
        "HA_LOGFACILITY",
        "HA_LOGFILE",
        "HA_DEBUGLOG",
        "HA_debug",
        "HA_LOGTAG",
        "http_proxy",
        "https_proxy",
    ] {
        cmd = cmd.env_remove(var);
    }
    let out = cmd
        .env("PCMK_service", "pacemaker-fenced")
        .stdin(stdin.as_bytes().to_vec())
        .run()
        .expect("run fence_maas");
    Run {
        code: out.code(),
        stdout: out.stdout_lossy(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// fence_maas against `sim` with the key and fast polling, then `lines`
/// (later lines win, so they may override any of these).
pub fn agent(sim: &Simulator, lines: &str) -> Run {
    let input = format!(
        "url={}\napi_key={}\nstonith_status_sleep=0.05\n{lines}",
        sim.url(),
        key()
    );
    run_stdin(&input, &[])
}
