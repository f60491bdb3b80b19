//! What an action knows about its invocation.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use umha_common::Deadline;

use crate::spec::DEFAULT_TIMEOUT;
use crate::state::DEFAULT_RSCTMP;
use crate::{
    Action, AgentSpec, Env, Meta, Notification, OcfError, OcfResult, StateFile, meta, node,
};

/// One invocation: action, meta attributes, deadline, node and state helpers.
///
/// `Sync`, so an agent can hand `&Context` to scoped worker threads.
#[derive(Debug)]
pub struct Context<'a> {
    spec: &'static AgentSpec,
    env: &'a Env,
    action: Action,
    meta: Meta,
    instance: Option<String>,
    rsctmp: PathBuf,
    deadline: Deadline,
    node: OnceLock<OcfResult<String>>,
}

impl<'a> Context<'a> {
    /// Read everything but the parameters from `env`. The deadline starts now.
    pub fn new(spec: &'static AgentSpec, env: &'a Env, action: Action) -> Self {
        let meta = Meta::from_env(env);
        let advertised = spec.timeout(action).unwrap_or(DEFAULT_TIMEOUT);
        let deadline = meta::deadline(meta.timeout, advertised);
        Self {
            spec,
            env,
            action,
            instance: env
                .non_empty("OCF_RESOURCE_INSTANCE")
                .map(|s| s.trim().to_owned()),
            rsctmp: env
                .non_empty("HA_RSCTMP")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_RSCTMP)),
            meta,
            deadline,
            node: OnceLock::new(),
        }
    }

    pub fn spec(&self) -> &'static AgentSpec {
        self.spec
    }

    /// For variables agent-core does not interpret.
    pub fn env(&self) -> &'a Env {
        self.env
    }

    pub fn action(&self) -> Action {
        self.action
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// A monitor with interval 0: Pacemaker asking "is it running here?"
    /// before it has started anything. Stopped is a normal answer.
    pub fn is_probe(&self) -> bool {
        self.action == Action::Monitor && self.meta.is_probe_interval()
    }

    /// `OCF_RESOURCE_INSTANCE`: the resource id (the same on every node for
    /// anonymous clones).
    pub fn instance(&self) -> Option<&str> {
        self.instance.as_deref()
    }

    /// `HA_RSCTMP`, else `/run/resource-agents`.
    pub fn rsctmp(&self) -> &Path {
        &self.rsctmp
    }

    /// When this action must be done: a little before Pacemaker's timeout
    /// (see [`meta::budget`]), or before the advertised one when run by hand.
    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// The cluster's name for this node; looked up once, on first use.
    pub fn node_name(&self) -> OcfResult<&str> {
        self.node
            .get_or_init(|| node::node_name(self.meta.on_node.as_deref(), &self.deadline))
            .as_deref()
            .map_err(Clone::clone)
    }

    /// This resource's state file for `purpose` on this node, under `HA_RSCTMP`.
    pub fn state_file(&self, purpose: &str) -> OcfResult<StateFile> {
        let instance = self.instance().ok_or_else(|| {
            OcfError::generic("OCF_RESOURCE_INSTANCE is not set; cannot name the state file")
        })?;
        Ok(StateFile::keyed(
            &self.rsctmp,
            self.spec.name,
            instance,
            self.node_name()?,
            purpose,
        ))
    }

    /// The clone notification this `notify` action carries.
    pub fn notification(&self) -> Notification {
        Notification::from_env(self.env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::env;

    static SPEC: AgentSpec = AgentSpec {
        provider: "umha",
        name: "ctx-test",
        version: "0",
        shortdesc: "T",
        longdesc: "T.",
        params: &[],
        actions: &[crate::ActionSpec::new(
            Action::Monitor,
            std::time::Duration::from_secs(60),
        )],
        examples: &[],
        see_also: &[],
    };

    #[test]
    fn context_is_shareable_across_threads() {
        fn is_sync<T: Sync>() {}
        is_sync::<Context<'_>>();
    }

    #[test]
    fn probe_instance_rsctmp_and_deadline() {
        let e = env(&[
            ("OCF_RESKEY_CRM_meta_interval", "0"),
            ("OCF_RESKEY_CRM_meta_on_node", "cmp1"),
            ("OCF_RESOURCE_INSTANCE", "sm"),
            ("HA_RSCTMP", "/tmp/x"),
        ]);
        let ctx = Context::new(&SPEC, &e, Action::Monitor);
        assert!(ctx.is_probe());
        assert_eq!(ctx.instance(), Some("sm"));
        assert_eq!(ctx.node_name().unwrap(), "cmp1");
        assert_eq!(
            ctx.state_file("state").unwrap().path(),
            Path::new("/tmp/x/ctx-test@sm@cmp1.state")
        );
        // No meta timeout: the advertised 60s, less the margin.
        let left = ctx.deadline().remaining().unwrap_or_default();
        assert!(
            left > std::time::Duration::from_secs(50) && left <= std::time::Duration::from_secs(55)
        );
        let start = Context::new(&SPEC, &e, Action::Start);
        assert!(!start.is_probe());
    }

    #[test]
    fn defaults_without_pacemaker() {
        let e = env(&[("OCF_RESKEY_CRM_meta_on_node", "n")]);
        let ctx = Context::new(&SPEC, &e, Action::Monitor);
        assert!(!ctx.is_probe());
        assert_eq!(ctx.rsctmp(), Path::new(DEFAULT_RSCTMP));
        let err = ctx.state_file("state").unwrap_err();
        assert!(err.reason().contains("OCF_RESOURCE_INSTANCE"));
        // An action the table does not list falls back to 20s.
        let left = Context::new(&SPEC, &e, Action::Stop)
            .deadline()
            .remaining()
            .unwrap_or_default();
        assert!(left <= std::time::Duration::from_secs(18));
    }
}
