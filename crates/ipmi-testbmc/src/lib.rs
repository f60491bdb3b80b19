//! A small BMC for tests: the server side of the `ipmi-lan` codec.
//!
//! It speaks RMCP+ with cipher suites 3 and 17 (ipmi_sim, the other BMC we
//! can run here, has no suite 17), keeps a power state, enforces per-user
//! privilege limits, and has fault modes for what real BMCs do to a fence
//! agent: lose packets, answer slowly, forget sessions, fail commands, lie
//! about or ignore power changes. It listens on loopback only.
//!
//! It was checked against `ipmitool -I lanplus -C 3|17` (see the tests), so
//! it is an independent check of the client, not just its mirror image.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod bmc;
#[cfg(feature = "harness")]
pub mod harness;
pub mod relay;
mod rng;

pub use bmc::{BmcConfig, BmcStats, CcFault, Event, Faults, TestBmc, User};
pub use relay::{Captured, Direction, Relay};
pub use rng::SplitMix64;
