//! The fence-agent side of umha: what fence-agents' `lib/fencing.py` is to
//! `fence_ipmilan`, this crate is to umha's fence agents.
//!
//! An agent declares who it is ([`AgentInfo`]), its options (picked from
//! [`spec::common`] plus its own) and how to reach its device
//! ([`Agent::connect`] returning a [`PowerDevice`]); [`run`] does the rest:
//! - options from stdin (Pacemaker) or the command line, with fence-agents'
//!   names, letters, older names and defaults ([`input`], [`options`]);
//! - metadata valid against fence-agents' RelaxNG schema, `--help` and a man
//!   page, all from the same table ([`metadata`], [`docs`]);
//! - `password_script`, bounded and never logged ([`password`]);
//! - the actions and their exit codes, with power-off always requested and
//!   read back (an OFF the device reports before this run asked for one is
//!   not believed while fencing), one overall deadline below Pacemaker's
//!   timeout, and hooks after a verified off ([`runner`], [`timing`],
//!   [`hook`]);
//! - with `evacuate=1`, umha's evacuation marker on the fenced node after the
//!   verified off, for every agent without code of its own
//!   ([`hook::EvacuationMarker`]).
//!
//! A minimal agent:
//!
//! ```no_run
//! use stonith_core::{Agent, AgentInfo, DeviceError, OptionTable, Options, PowerDevice, PowerState};
//! use stonith_core::spec::common;
//! use umha_common::Deadline;
//!
//! struct FenceExample;
//! struct Bmc;
//!
//! impl PowerDevice for Bmc {
//!     fn status(&mut self, _plug: Option<&str>, _d: Deadline) -> Result<PowerState, DeviceError> {
//!         Ok(PowerState::On)
//!     }
//!     fn power_on(&mut self, _plug: Option<&str>, _d: Deadline) -> Result<(), DeviceError> { Ok(()) }
//!     fn power_off(&mut self, _plug: Option<&str>, _d: Deadline) -> Result<(), DeviceError> { Ok(()) }
//! }
//!
//! impl Agent for FenceExample {
//!     type Device = Bmc;
//!     fn info() -> AgentInfo {
//!         AgentInfo::new("fence_example", "Fence agent for an example BMC")
//!     }
//!     fn options(table: &mut OptionTable) {
//!         table.add(common::ip()).add(common::username()).add(common::password())
//!             .add(common::password_script()).set_default("power_wait", "2");
//!     }
//!     fn connect(options: &Options, _deadline: Deadline) -> Result<Bmc, DeviceError> {
//!         let _address = options.ip();
//!         Ok(Bmc)
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     stonith_core::run::<FenceExample>()
//! }
//! ```

pub mod action;
pub mod agent;
pub mod device;
pub mod docs;
pub mod error;
#[cfg(test)]
mod fixtures;
pub mod hook;
pub mod input;
pub mod metadata;
pub mod options;
pub mod password;
mod run;
pub mod runner;
pub mod spec;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timing;

pub use action::Action;
pub use agent::{Agent, AgentInfo, Capabilities, PlugMode};
pub use device::{DeviceError, Outlet, PowerDevice, PowerState};
pub use error::UsageError;
pub use hook::{
    AfterOffHook, AttributeWriter, EVACUATION_ATTRIBUTE, EvacuationMarker, FenceEvent, HOOK_BUDGET,
    HookError,
};
pub use options::{Options, Tls};
pub use run::{main_with, option_table, run};
pub use runner::{Failure, Outcome, Plan, Runner};
pub use spec::{OptionSpec, OptionTable, ValueType};
pub use timing::{Method, Timing};
