//! The trait every umha resource agent implements.
//!
//! An agent declares its table ([`AgentSpec`]) and implements only the
//! callbacks it supports; agent-core does the rest: argument handling,
//! parameter checks, meta-data, exit-code rules, logging and the exit reason.

use crate::{Action, AgentSpec, Context, Notification, OcfError, OcfResult, OcfStatus, Params};

/// What a monitor found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    /// Cleanly stopped: OCF_NOT_RUNNING (7).
    Stopped,
    /// OCF_SUCCESS.
    Running,
    /// OCF_RUNNING_PROMOTED.
    Promoted,
    /// Running with a problem worth showing: OCF_DEGRADED; the text becomes the exit reason.
    Degraded(String),
    /// OCF_DEGRADED_PROMOTED.
    DegradedPromoted(String),
}

impl RunState {
    pub fn status(&self) -> OcfStatus {
        match self {
            RunState::Stopped => OcfStatus::NotRunning,
            RunState::Running => OcfStatus::Success,
            RunState::Promoted => OcfStatus::RunningPromoted,
            RunState::Degraded(_) => OcfStatus::Degraded,
            RunState::DegradedPromoted(_) => OcfStatus::DegradedPromoted,
        }
    }

    pub fn is_running(&self) -> bool {
        !matches!(self, RunState::Stopped)
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            RunState::Degraded(r) | RunState::DegradedPromoted(r) => Some(r),
            _ => None,
        }
    }
}

/// The error the default callbacks return; reaching it means the table lists
/// an action the code does not implement.
pub fn not_implemented(action: Action) -> OcfError {
    OcfError::unimplemented(format!("action {action} is not implemented by this agent"))
}

/// An OCF resource agent.
///
/// Contracts agent-core relies on (and tests with [`crate::testing`]):
/// - `start` on a running resource and `stop` on a stopped one succeed;
/// - `stop` leaves nothing behind that `monitor` would call running;
/// - `monitor` answers [`RunState::Stopped`] when cleanly stopped, never an error;
/// - every wait is bounded by [`Context::deadline`].
///
/// Callbacks take `&self` so an agent value can carry test doubles (a fake
/// Nova, a fake clock); production agents are usually unit structs.
pub trait ResourceAgent {
    /// The agent's table.
    const SPEC: &'static AgentSpec;

    /// What the agent makes of its parameters.
    type Config;

    /// Turn checked parameters into a configuration: cross-parameter rules,
    /// paths that must be absolute, and so on. Must not touch the system (it
    /// runs before stop and probes too); a configuration error is
    /// OCF_ERR_CONFIGURED. Environment checks go in [`ResourceAgent::validate`].
    fn configure(&self, ctx: &Context<'_>, params: &Params) -> OcfResult<Self::Config>;

    /// Check that this node can run the resource (tools installed,
    /// permissions, reachable endpoints). Runs before `validate-all`, start,
    /// reload, promote and migrate_from; never before stop or monitor, which
    /// must work with whatever is there.
    fn validate(&self, _ctx: &Context<'_>, _config: &Self::Config) -> OcfResult<()> {
        Ok(())
    }

    fn start(&self, ctx: &Context<'_>, config: &Self::Config) -> OcfResult<()>;

    /// Returning OCF_NOT_RUNNING here is turned into success: a stop that
    /// finds nothing running has done its job.
    fn stop(&self, ctx: &Context<'_>, config: &Self::Config) -> OcfResult<()>;

    /// Also runs probes (`ctx.is_probe()`), which must be cheap and tolerate
    /// a node where the resource never ran.
    fn monitor(&self, ctx: &Context<'_>, config: &Self::Config) -> OcfResult<RunState>;

    /// Apply changed reloadable parameters without a restart (both `reload`
    /// and `reload-agent`).
    fn reload(&self, _ctx: &Context<'_>, _config: &Self::Config) -> OcfResult<()> {
        Err(not_implemented(Action::Reload))
    }

    fn notify(
        &self,
        _ctx: &Context<'_>,
        _config: &Self::Config,
        _notification: &Notification,
    ) -> OcfResult<()> {
        Err(not_implemented(Action::Notify))
    }

    fn promote(&self, _ctx: &Context<'_>, _config: &Self::Config) -> OcfResult<()> {
        Err(not_implemented(Action::Promote))
    }

    fn demote(&self, _ctx: &Context<'_>, _config: &Self::Config) -> OcfResult<()> {
        Err(not_implemented(Action::Demote))
    }

    fn migrate_to(&self, _ctx: &Context<'_>, _config: &Self::Config) -> OcfResult<()> {
        Err(not_implemented(Action::MigrateTo))
    }

    fn migrate_from(&self, _ctx: &Context<'_>, _config: &Self::Config) -> OcfResult<()> {
        Err(not_implemented(Action::MigrateFrom))
    }

    /// Stop with parameters that fail [`Params`] checks or
    /// [`ResourceAgent::configure`] (OCF_ERR_CONFIGURED). See
    /// [`crate::InvalidConfigPolicy`]: the default succeeds, because start
    /// refuses such parameters, so nothing can be running with them, and a
    /// failed stop would get the node fenced. Override it when the agent can
    /// find and stop its work without a configuration (state keyed by node).
    fn stop_unconfigured(&self, _ctx: &Context<'_>, _problem: &OcfError) -> OcfResult<()> {
        Ok(())
    }

    /// A probe with parameters that fail checks. The default answers
    /// "stopped", for the same reason as [`ResourceAgent::stop_unconfigured`].
    fn probe_unconfigured(&self, _ctx: &Context<'_>, _problem: &OcfError) -> OcfResult<RunState> {
        Ok(RunState::Stopped)
    }
}
