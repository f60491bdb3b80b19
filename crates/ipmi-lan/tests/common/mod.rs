//! Helpers of the interop tests. The ipmi_sim and ipmitool harness is
//! shared with the other IPMI suites (`ipmi_testbmc::harness`); this suite's
//! ipmi_sim instances take ports 9101-9189.

#![allow(dead_code)]

use std::time::Duration;

use ipmi_testbmc::harness::{IpmiSim, PortRange, SimUser};

static PORTS: PortRange = PortRange::new(9101, 9190);

/// An ipmi_sim with these users, on this suite's ports; `None` (after a
/// `SKIPPED:` line) when ipmi_sim is missing.
pub fn sim(users: &[SimUser]) -> Option<IpmiSim> {
    IpmiSim::start(&PORTS, users)
}

/// Median of some durations.
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}
