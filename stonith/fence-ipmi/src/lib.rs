//! fence_ipmi: an IPMI-over-LAN fence agent that takes over
//! `stonith:fence_ipmilan` devices by changing only the agent name.
//!
//! fence_ipmilan is Python running `ipmitool` once per request, with the
//! password on ipmitool's command line. fence_ipmi speaks RMCP+ (suites 3
//! and 17) and IPMI 1.5 itself through [`ipmi_lan`], on stonith-core's
//! runner, so that:
//! - every option of `fence_ipmilan -o metadata` is accepted with the same
//!   names, letters and defaults ([`options`], [`config`]);
//! - power-off is read back before success, and an OFF the BMC reports
//!   before being asked is not believed while fencing (stonith-core's
//!   policy for every agent; see [`bmc`]);
//! - the password stays in memory: never on a command line or in the log;
//! - one deadline below Pacemaker's timeout bounds the whole run, even when
//!   the BMC is dead (fence_ipmilan's timeouts are disabled under Pacemaker).

pub mod agent;
pub mod bmc;
pub mod config;
pub mod options;

pub use agent::FenceIpmi;
