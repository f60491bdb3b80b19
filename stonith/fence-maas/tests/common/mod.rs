//! Helpers of fence_maas's tests: a MAAS simulator on 127.0.0.1 (an
//! ephemeral port each) and bounded runs of the fence_maas binary with its
//! options on stdin, as pacemaker-fenced runs it (`stonith_core::testing`).

#![allow(dead_code, clippy::expect_used)] // test helpers: a failed setup should panic loudly

use std::path::Path;
use std::time::Duration;

use maas_sim::{MachineSpec, SimConfig, Simulator};
pub use stonith_core::testing::{Run, run_with};

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

/// Neither the output nor any command line of the run holds a key part.
pub fn assert_no_key(run: &Run) {
    for part in [CONSUMER_KEY, TOKEN_KEY, TOKEN_SECRET] {
        assert!(
            !run.stdout.contains(part) && !run.stderr.contains(part),
            "key part {part} leaked:\n{}",
            run.describe()
        );
    }
    assert!(!run.stderr.contains("panicked"), "{}", run.describe());
}

/// The command lines of `pid` and its children, while it runs.
fn command_lines(pid: u32) -> Vec<String> {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    std::iter::once(pid.to_string())
        .chain(children.split_whitespace().map(str::to_owned))
        .filter_map(|p| std::fs::read(format!("/proc/{p}/cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .collect()
}

/// fence_maas with `args` and exactly `stdin`, as pacemaker-fenced runs
/// it, bounded to 90 s; its command line and its children's are sampled
/// all along and must never show the key.
pub fn run_stdin(stdin: &str, args: &[&str]) -> Run {
    let key_on_argv = args.iter().any(|a| a.contains(TOKEN_SECRET));
    run_with(
        Path::new(AGENT),
        args,
        stdin,
        &[("PCMK_service", "pacemaker-fenced")],
        Duration::from_secs(90),
        |pid| {
            if key_on_argv {
                return;
            }
            for line in command_lines(pid) {
                for part in [CONSUMER_KEY, TOKEN_KEY, TOKEN_SECRET] {
                    assert!(!line.contains(part), "key part on a command line: {line}");
                }
            }
        },
    )
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
