//! The OCF side of umha: the contract every umha resource agent shares.
//!
//! An agent is a static table ([`AgentSpec`]: name, parameters, actions,
//! examples) plus an implementation of [`ResourceAgent`] with only the
//! callbacks it supports. Its `main` is `agent_core::run(MyAgent)`.
//!
//! ```
//! use std::time::Duration;
//! use agent_core::*;
//!
//! static SPEC: AgentSpec = AgentSpec {
//!     provider: PROVIDER,
//!     name: "example",
//!     version: "1.0",
//!     shortdesc: "An example",
//!     longdesc: "Running while its state file exists.",
//!     params: &[ParamSpec::duration("delay", "Delay", "How long start waits.").default("0s")],
//!     actions: &[
//!         ActionSpec::new(Action::Start, Duration::from_secs(20)),
//!         ActionSpec::new(Action::Stop, Duration::from_secs(20)),
//!         ActionSpec::new(Action::Monitor, Duration::from_secs(20)).interval(Duration::from_secs(10)),
//!         ActionSpec::new(Action::MetaData, Duration::from_secs(5)),
//!         ActionSpec::new(Action::ValidateAll, Duration::from_secs(20)),
//!     ],
//!     examples: &[],
//!     see_also: &[],
//! };
//!
//! struct Example;
//!
//! impl ResourceAgent for Example {
//!     const SPEC: &'static AgentSpec = &SPEC;
//!     type Config = Duration;
//!
//!     fn configure(&self, _ctx: &Context<'_>, params: &Params) -> OcfResult<Duration> {
//!         params.get("delay")
//!     }
//!     fn start(&self, ctx: &Context<'_>, delay: &Duration) -> OcfResult<()> {
//!         ctx.deadline().sleep(*delay);
//!         ctx.state_file("state")?.write("up")
//!     }
//!     fn stop(&self, ctx: &Context<'_>, _: &Duration) -> OcfResult<()> {
//!         ctx.state_file("state")?.remove()
//!     }
//!     fn monitor(&self, ctx: &Context<'_>, _: &Duration) -> OcfResult<RunState> {
//!         Ok(if ctx.state_file("state")?.exists()? { RunState::Running } else { RunState::Stopped })
//!     }
//! }
//!
//! // fn main() -> std::process::ExitCode { agent_core::run(Example) }
//!
//! let dir = std::env::temp_dir().join(format!("agent-core-doc-{}", std::process::id()));
//! let dir = dir.to_string_lossy();
//! let env = [
//!     ("HA_RSCTMP", &*dir),
//!     ("OCF_RESOURCE_INSTANCE", "ex1"),
//!     ("OCF_RESKEY_CRM_meta_on_node", "node1"),
//! ];
//! testing::check_spec(&SPEC).unwrap();
//! testing::check_lifecycle(&Example, &env).unwrap();
//! let bad = testing::run_action(&Example, "validate-all", &[("OCF_RESKEY_delay", "soon")]);
//! assert_eq!(bad.status, OcfStatus::ErrConfigured);
//! # std::fs::remove_dir_all(&*dir).ok();
//! ```
//!
//! agent-core then owns everything that must be the same in every agent:
//! - argv handling, usage text and OCF 1.1 exit codes ([`OcfStatus`]), with
//!   the failure reason printed as `ocf-exit-reason:<text>` ([`OcfError`]);
//! - `OCF_RESKEY_*` parameters checked against the table ([`Params`]) and the
//!   meta attributes ([`Meta`], [`Context::is_probe`], [`Context::deadline`]);
//! - meta-data valid against the OCF 1.0 DTD, the help text and the man page,
//!   all generated from the table;
//! - the safe handling of stops and probes with an invalid configuration
//!   ([`InvalidConfigPolicy`]);
//! - the node name (never `uname`) and per-node state files ([`StateFile`]);
//! - HA logging (`ocf-shellfuncs` conventions) and the panic hook.
//!
//! [`execute`] runs an invocation against an injected [`Env`], so every exit
//! code is testable without a cluster; [`testing`] has ready-made checks.

mod action;
mod agent;
mod context;
mod env;
mod error;
#[cfg(test)]
mod fixtures;
pub mod manpage;
pub mod meta;
pub mod metadata;
mod node;
mod param;
mod params;
mod run;
mod spec;
mod state;
mod status;
pub mod testing;
pub mod usage;
pub mod value;

pub use action::Action;
pub use agent::{ResourceAgent, RunState, not_implemented};
pub use context::Context;
pub use env::Env;
pub use error::{EXIT_REASON_MAX_CHARS, OcfError, OcfResult, exit_reason_line};
pub use meta::{Meta, Notification, NotifyPhase};
pub use node::{CRM_NODE_TIMEOUT, node_name};
pub use param::{ParamDefault, ParamSpec, ParamType};
pub use params::{FromParam, Params};
pub use run::{InvalidConfigPolicy, Outcome, execute, perform, run};
pub use spec::{ActionSpec, AgentSpec, DEFAULT_TIMEOUT, Example, Tool};
pub use state::{DEFAULT_RSCTMP, StateFile};
pub use status::OcfStatus;

/// The OCF provider of every umha agent (`/usr/lib/ocf/resource.d/umha`).
pub const PROVIDER: &str = "umha";

impl AgentSpec {
    /// The `meta-data` XML.
    pub fn metadata_xml(&self) -> String {
        metadata::render(self)
    }

    /// The `usage`/`--help` text.
    pub fn usage(&self) -> String {
        usage::render(self)
    }

    /// The roff man page, `ocf_<provider>_<name>(7)`.
    pub fn man_page(&self) -> String {
        manpage::render(self)
    }
}
