//! `ocf:umha:storage-monitor`: a compute node's storage-network health, as
//! node attributes Pacemaker can act on.
//!
//! UMHA's one detection signal was storage connectivity: a compute node that
//! cannot reach its storage servers is a node whose VMs are dying, even when
//! it still answers on the management network. This agent runs as a clone
//! on the compute nodes and turns that signal into node attributes:
//!
//! - [`icmp`]: echoes to every storage address at once, in-process, with
//!   UMHA's per-address loss ratio ([`ratio`]);
//! - [`heartbeat`]: an optional heartbeat file on the shared-storage mount,
//!   checked in a child process so a hung mount cannot hang the agent;
//! - [`verdict`]: reachable addresses, health colour, score, detail;
//! - [`attributes`]: `attrd_updater` writes, only when a value changes;
//! - [`state`]: what each node remembers between monitors;
//! - [`agent`]: the OCF actions, on agent-core.
//!
//! The point of doing this in-process is cost: `ocf:pacemaker:ping` forks
//! 16–25 processes and spends about 30 ms of CPU per monitor; a monitor of
//! this agent that changes nothing forks nothing at all (one child when the
//! path check is on).

pub mod address;
pub mod agent;
pub mod attributes;
pub mod config;
pub mod heartbeat;
pub mod icmp;
pub mod ratio;
pub mod spec;
pub mod state;
pub mod verdict;

pub use agent::StorageMonitor;
pub use spec::SPEC;

/// The binary's whole `main`: the heartbeat checker when re-executed as
/// one, the OCF agent otherwise.
pub fn main() -> std::process::ExitCode {
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == heartbeat::CHECKER_ARG) {
        let rest: Vec<_> = args.collect();
        return heartbeat::checker_main(&rest);
    }
    agent_core::run(StorageMonitor::default())
}
