//! `ocf:umha:umha-evacuator`: evacuate a failed compute node's instances
//! through Nova, only once the node is confirmed fenced, never during a
//! storm, and exactly once per instance.
//!
//! - [`plan`]: the safety gate and the decision of one step, pure;
//! - [`valve`]: the mass-failure brake;
//! - [`storage`]: fencing nodes that lost their storage, the storage valve,
//!   isolated-not-dead reports;
//! - [`hostmap`]: Pacemaker node → Nova host;
//! - [`selection`]: which instances go;
//! - [`recovery`]: Masakari's recovery methods: segments, reserved hosts,
//!   where instances go; [`reserve`]: reserved hosts taken and kept idle;
//!   [`maintenance`]: a failed host kept out until the operator says;
//! - [`nova`]: the Nova side of an incident;
//! - [`record`]: what is kept in the CIB;
//! - [`history`]: the append-only evacuation history;
//! - [`step`]: one reconcile step; [`agent`]: the OCF actions.

pub mod agent;
pub mod cluster;
pub mod config;
pub mod history;
pub mod hostmap;
pub mod maintenance;
pub mod nova;
pub mod plan;
pub mod record;
pub mod recovery;
pub mod reserve;
pub mod selection;
pub mod spec;
pub mod step;
pub mod storage;
pub mod tags;
pub mod valve;

pub use agent::Evacuator;
pub use spec::SPEC;

/// The binary's whole `main`: the OCF agent, or, re-executed with
/// storage-monitor's checker argument, the child that reads a lost node's
/// storage heartbeat (see [`storage::HeartbeatReader`]).
pub fn main() -> std::process::ExitCode {
    let mut args = std::env::args_os().skip(1);
    if args
        .next()
        .is_some_and(|a| a == storage_monitor::heartbeat::CHECKER_ARG)
    {
        let rest: Vec<_> = args.collect();
        return storage_monitor::heartbeat::checker_main(&rest);
    }
    agent_core::run(Evacuator::<cluster::Pacemaker>::default())
}
