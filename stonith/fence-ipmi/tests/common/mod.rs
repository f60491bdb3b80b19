//! Helpers of fence_ipmi's tests: ipmi_sim instances from the shared harness
//! (`ipmi_testbmc::harness`) on UDP ports 9201-9299, never the lab's
//! 9001-9003, and bounded runs of fence_ipmi and fence_ipmilan (through
//! `stonith_core::testing`, which every agent's tests share).

#![allow(dead_code, clippy::expect_used)] // test helpers: a failed setup should panic loudly

use std::path::Path;
use std::time::Duration;

use ipmi_testbmc::harness::{IpmiSim, PortRange, SimUser};
pub use stonith_core::testing::{Run, run_with};

pub const AGENT: &str = env!("CARGO_BIN_EXE_fence_ipmi");

static PORTS: PortRange = PortRange::new(9201, 9300);

/// An ipmi_sim with these users on this suite's ports, power on; `None`
/// (after a `SKIPPED:` line) when ipmi_sim is missing.
pub fn sim(users: &[SimUser]) -> Option<IpmiSim> {
    IpmiSim::start(&PORTS, users)
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
