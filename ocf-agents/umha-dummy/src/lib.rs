//! `ocf:umha:umha-dummy`: a resource that is "running" while its state file
//! exists, like `ocf:pacemaker:Dummy`, built on agent-core.
//!
//! It is the lab's test resource (location rules, clones on remote nodes) and
//! agent-core's living example: one parameter of each type, reload, the
//! per-node state file, and the fallbacks for stop and probe with invalid
//! parameters.

use std::path::{Path, PathBuf};
use std::time::Duration;

use agent_core::{
    Action, ActionSpec, AgentSpec, Context, Example, OcfError, OcfResult, ParamSpec, Params,
    ResourceAgent, RunState, StateFile, Tool,
};

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub static SPEC: AgentSpec = AgentSpec {
    provider: agent_core::PROVIDER,
    name: "umha-dummy",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "Test resource that only records its state in a file",
    longdesc: "A resource that does nothing but keep a state file: it is running on a node while \
its file exists there. umha's lab uses it to test location rules, clones on pacemaker-remote \
nodes and reloads, without any real service.

The state file is kept per node (under HA_RSCTMP, /run/resource-agents by default), so an \
anonymous clone has one file per node even though every instance has the same resource name.",
    params: &[
        ParamSpec::string(
            "state",
            "State file",
            "Absolute path of the file that marks the resource as running. By default a file \
under HA_RSCTMP named after the resource and the node.",
        )
        .computed_default("${HA_RSCTMP}/umha-dummy@${OCF_RESOURCE_INSTANCE}@<node>.state")
        .unique(),
        ParamSpec::string(
            "fake",
            "Fake attribute",
            "Any text; it is written into the state file. Change it to cause a reload.",
        )
        .default("dummy")
        .reloadable(),
        ParamSpec::duration(
            "op_sleep",
            "Operation delay",
            "How long start, stop and monitor wait before they act, to simulate a slow \
service. Always cut short before the operation's timeout.",
        )
        .default("0s")
        .reloadable(),
        ParamSpec::boolean(
            "fail_start",
            "Fail every start",
            "When true, start fails with OCF_ERR_GENERIC.",
        )
        .default("false")
        .reloadable(),
        ParamSpec::list(
            "fail_start_on",
            "Nodes where start fails",
            "Node names (separated by commas or blanks) on which start fails with \
OCF_ERR_GENERIC, for testing recovery and location decisions.",
        )
        .reloadable(),
        ParamSpec::integer(
            "weight",
            "Recorded number",
            "A number written into the state file, to check that reloads apply integer \
parameters.",
        )
        .default("0")
        .range(-1_000_000, 1_000_000)
        .reloadable(),
    ],
    actions: &[
        ActionSpec::new(Action::Start, secs(20)),
        ActionSpec::new(Action::Stop, secs(20)),
        ActionSpec::new(Action::Monitor, secs(20))
            .interval(secs(10))
            .depth(0),
        ActionSpec::new(Action::Reload, secs(20)),
        ActionSpec::new(Action::MetaData, secs(5)),
        ActionSpec::new(Action::ValidateAll, secs(20)),
    ],
    examples: &[
        Example {
            title: "A test resource that prefers one node",
            tool: Tool::Pcs,
            command: "pcs resource create dummy1 ocf:umha:umha-dummy fake=hello \\
    op monitor interval=10s timeout=20s
pcs constraint location dummy1 prefers cmp1=100",
        },
        Example {
            title: "The same with crmsh",
            tool: Tool::Crm,
            command: "crm configure primitive dummy1 ocf:umha:umha-dummy params fake=hello \\
    op monitor interval=10s timeout=20s
crm configure location dummy1-prefers-cmp1 dummy1 100: cmp1",
        },
        Example {
            title: "A clone on every node, refusing cmp3",
            tool: Tool::Pcs,
            command: "pcs resource create dummy-c ocf:umha:umha-dummy fail_start_on=cmp3 clone",
        },
    ],
    see_also: &["ocf_pacemaker_Dummy(7)"],
};

/// The agent. It holds nothing: everything comes from the invocation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dummy;

/// The parameters, checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// An explicit `state` path; `None` for the per-node default.
    state: Option<PathBuf>,
    fake: String,
    op_sleep: Duration,
    fail_start: bool,
    fail_start_on: Vec<String>,
    weight: i64,
}

impl Dummy {
    fn state_file(ctx: &Context<'_>, config: &Config) -> OcfResult<StateFile> {
        match &config.state {
            Some(path) => Ok(StateFile::at(path)),
            None => ctx.state_file("state"),
        }
    }

    /// The state file as far as it can be known without valid parameters:
    /// the `state` text if it is an absolute path, else the default. `None`
    /// when the text is a path start would have refused.
    fn unconfigured_state_file(ctx: &Context<'_>) -> OcfResult<Option<StateFile>> {
        match ctx.env().reskey("state").filter(|s| !s.trim().is_empty()) {
            Some(p) if Path::new(&p).is_absolute() => Ok(Some(StateFile::at(p))),
            Some(_) => Ok(None),
            None => ctx.state_file("state").map(Some),
        }
    }

    fn contents(ctx: &Context<'_>, config: &Config) -> String {
        format!(
            "fake={}\nweight={}\nnode={}\n",
            config.fake,
            config.weight,
            ctx.node_name().unwrap_or("?")
        )
    }

    fn op_sleep(ctx: &Context<'_>, config: &Config) {
        if !config.op_sleep.is_zero() {
            ctx.deadline().sleep(config.op_sleep);
        }
    }
}

impl ResourceAgent for Dummy {
    const SPEC: &'static AgentSpec = &SPEC;
    type Config = Config;

    fn configure(&self, _ctx: &Context<'_>, params: &Params) -> OcfResult<Config> {
        let state: Option<PathBuf> = params.get::<Option<String>>("state")?.map(PathBuf::from);
        if let Some(path) = &state
            && (!path.is_absolute() || path.file_name().is_none())
        {
            return Err(OcfError::configured(format!(
                "parameter state: '{}' is not an absolute file path",
                path.display()
            )));
        }
        Ok(Config {
            state,
            fake: params.get("fake")?,
            op_sleep: params.get("op_sleep")?,
            fail_start: params.get("fail_start")?,
            fail_start_on: params.get("fail_start_on")?,
            weight: params.get("weight")?,
        })
    }

    /// Only checks what needs no node name, so pcs can validate a new
    /// resource from any node.
    fn validate(&self, ctx: &Context<'_>, config: &Config) -> OcfResult<()> {
        let dir = match &config.state {
            Some(path) => path.parent().unwrap_or(Path::new("/")),
            None => ctx.rsctmp(),
        };
        if dir.exists() && !dir.is_dir() {
            return Err(OcfError::args(format!(
                "{} is not a directory; cannot keep the state file there",
                dir.display()
            )));
        }
        Ok(())
    }

    fn start(&self, ctx: &Context<'_>, config: &Config) -> OcfResult<()> {
        Self::op_sleep(ctx, config);
        let file = Self::state_file(ctx, config)?;
        if file.exists()? {
            return Ok(());
        }
        if config.fail_start {
            return Err(OcfError::generic("fail_start is set"));
        }
        let node = ctx.node_name()?;
        if config.fail_start_on.iter().any(|n| n == node) {
            return Err(OcfError::generic(format!(
                "fail_start_on lists this node ({node})"
            )));
        }
        file.write(&Self::contents(ctx, config))
    }

    fn stop(&self, ctx: &Context<'_>, config: &Config) -> OcfResult<()> {
        Self::op_sleep(ctx, config);
        Self::state_file(ctx, config)?.remove()
    }

    fn monitor(&self, ctx: &Context<'_>, config: &Config) -> OcfResult<RunState> {
        Self::op_sleep(ctx, config);
        Ok(if Self::state_file(ctx, config)?.exists()? {
            RunState::Running
        } else {
            RunState::Stopped
        })
    }

    fn reload(&self, ctx: &Context<'_>, config: &Config) -> OcfResult<()> {
        let file = Self::state_file(ctx, config)?;
        if file.exists()? {
            file.write(&Self::contents(ctx, config))?;
            log::info!("reloaded: fake={} weight={}", config.fake, config.weight);
        }
        Ok(())
    }

    /// Whatever else is wrong, the state file can usually still be found and
    /// removed, so a resource started with earlier, valid parameters really stops.
    fn stop_unconfigured(&self, ctx: &Context<'_>, _problem: &OcfError) -> OcfResult<()> {
        match Self::unconfigured_state_file(ctx)? {
            Some(file) => file.remove(),
            None => Ok(()),
        }
    }

    fn probe_unconfigured(&self, ctx: &Context<'_>, _problem: &OcfError) -> OcfResult<RunState> {
        Ok(match Self::unconfigured_state_file(ctx)? {
            Some(file) if file.exists()? => RunState::Running,
            _ => RunState::Stopped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_core::OcfStatus;
    use agent_core::testing::{check_lifecycle, check_spec, run_action, xmllint_dtd};

    struct Lab {
        dir: tempfile::TempDir,
    }

    impl Lab {
        fn new() -> Self {
            Self {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn rsctmp(&self) -> String {
            self.dir.path().to_string_lossy().into_owned()
        }

        /// A node's environment with extra variables.
        fn env<'a>(
            &'a self,
            rsctmp: &'a str,
            node: &'a str,
            extra: &[(&'a str, &'a str)],
        ) -> Vec<(&'a str, &'a str)> {
            let mut env = vec![
                ("HA_RSCTMP", rsctmp),
                ("OCF_RESOURCE_INSTANCE", "dummy1"),
                ("OCF_RESKEY_CRM_meta_on_node", node),
            ];
            env.extend_from_slice(extra);
            env
        }
    }

    #[test]
    fn table_is_valid() {
        check_spec(&SPEC).unwrap();
    }

    #[test]
    fn meta_data_is_valid_against_the_dtd() {
        let xml = SPEC.metadata_xml();
        match xmllint_dtd(&xml) {
            None => println!("SKIPPED: xmllint or the OCF DTD is not installed"),
            Some(r) => r.unwrap(),
        }
    }

    #[test]
    fn lifecycle_with_the_default_state_file() {
        let lab = Lab::new();
        let tmp = lab.rsctmp();
        check_lifecycle(&Dummy, &lab.env(&tmp, "cmp1", &[])).unwrap();
    }

    #[test]
    fn lifecycle_with_an_explicit_state_file() {
        let lab = Lab::new();
        let tmp = lab.rsctmp();
        let state = format!("{tmp}/sub/explicit.state");
        check_lifecycle(
            &Dummy,
            &lab.env(
                &tmp,
                "cmp1",
                &[
                    ("OCF_RESKEY_state", &state),
                    ("OCF_RESKEY_op_sleep", "10ms"),
                ],
            ),
        )
        .unwrap();
    }

    #[test]
    fn state_is_per_node_for_anonymous_clones() {
        let lab = Lab::new();
        let tmp = lab.rsctmp();
        let on1 = lab.env(&tmp, "cmp1", &[]);
        let on2 = lab.env(&tmp, "cmp2", &[]);
        assert_eq!(run_action(&Dummy, "start", &on1).status, OcfStatus::Success);
        assert_eq!(
            run_action(&Dummy, "monitor", &on1).status,
            OcfStatus::Success
        );
        assert_eq!(
            run_action(&Dummy, "monitor", &on2).status,
            OcfStatus::NotRunning
        );
        let file = lab.dir.path().join("umha-dummy@dummy1@cmp1.state");
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text, "fake=dummy\nweight=0\nnode=cmp1\n");
    }

    #[test]
    fn failing_starts() {
        let lab = Lab::new();
        let tmp = lab.rsctmp();
        let o = run_action(
            &Dummy,
            "start",
            &lab.env(&tmp, "cmp1", &[("OCF_RESKEY_fail_start", "on")]),
        );
        assert_eq!(o.status, OcfStatus::ErrGeneric);
        assert_eq!(o.reason.as_deref(), Some("fail_start is set"));
        let on = [("OCF_RESKEY_fail_start_on", "cmp2, cmp3")];
        assert_eq!(
            run_action(&Dummy, "start", &lab.env(&tmp, "cmp1", &on)).status,
            OcfStatus::Success
        );
        let o = run_action(&Dummy, "start", &lab.env(&tmp, "cmp3", &on));
        assert_eq!(o.status, OcfStatus::ErrGeneric);
        assert_eq!(
            o.reason.as_deref(),
            Some("fail_start_on lists this node (cmp3)")
        );
    }

    #[test]
    fn bad_parameters_are_not_configured() {
        let lab = Lab::new();
        let tmp = lab.rsctmp();
        for (name, value, reason) in [
            (
                "op_sleep",
                "fast",
                "parameter op_sleep: 'fast' is not a duration",
            ),
            (
                "fail_start",
                "maybe",
                "parameter fail_start: 'maybe' is not a boolean",
            ),
            (
                "weight",
                "heavy",
                "parameter weight: 'heavy' is not an integer",
            ),
            (
                "weight",
                "9999999",
                "parameter weight: '9999999' is not between",
            ),
            (
                "state",
                "relative/path",
                "parameter state: 'relative/path' is not an absolute file path",
            ),
        ] {
            for action in ["validate-all", "start", "reload"] {
                let o = run_action(
                    &Dummy,
                    action,
                    &lab.env(&tmp, "cmp1", &[(&format!("OCF_RESKEY_{name}"), value)]),
                );
                assert_eq!(
                    o.status,
                    OcfStatus::ErrConfigured,
                    "{action} {name}={value}"
                );
                let got = o.reason.unwrap_or_default();
                assert!(got.starts_with(reason), "{action}: {got}");
            }
        }
    }

    #[test]
    fn stop_and_probe_with_bad_parameters_still_find_the_state() {
        let lab = Lab::new();
        let tmp = lab.rsctmp();
        let good = lab.env(&tmp, "cmp1", &[]);
        assert_eq!(
            run_action(&Dummy, "start", &good).status,
            OcfStatus::Success
        );
        let bad = lab.env(
            &tmp,
            "cmp1",
            &[
                ("OCF_RESKEY_weight", "heavy"),
                ("OCF_RESKEY_CRM_meta_interval", "0"),
            ],
        );
        // The probe sees it running although the parameters are now invalid.
        assert_eq!(
            run_action(&Dummy, "monitor", &bad).status,
            OcfStatus::Success
        );
        // A recurring monitor reports the configuration error.
        let bad_recurring = lab.env(
            &tmp,
            "cmp1",
            &[
                ("OCF_RESKEY_weight", "heavy"),
                ("OCF_RESKEY_CRM_meta_interval", "10000"),
            ],
        );
        assert_eq!(
            run_action(&Dummy, "monitor", &bad_recurring).status,
            OcfStatus::ErrConfigured
        );
        // Stop succeeds and really stops.
        assert_eq!(run_action(&Dummy, "stop", &bad).status, OcfStatus::Success);
        assert_eq!(
            run_action(&Dummy, "monitor", &good).status,
            OcfStatus::NotRunning
        );
        assert_eq!(
            run_action(&Dummy, "monitor", &bad).status,
            OcfStatus::NotRunning
        );
        // A relative state path can never have been started: nothing to do.
        let rel = lab.env(&tmp, "cmp1", &[("OCF_RESKEY_state", "rel")]);
        assert_eq!(run_action(&Dummy, "stop", &rel).status, OcfStatus::Success);
    }

    #[test]
    fn reload_rewrites_the_state_of_a_running_resource() {
        let lab = Lab::new();
        let tmp = lab.rsctmp();
        assert_eq!(
            run_action(&Dummy, "start", &lab.env(&tmp, "cmp1", &[])).status,
            OcfStatus::Success
        );
        let changed = lab.env(
            &tmp,
            "cmp1",
            &[("OCF_RESKEY_fake", "new"), ("OCF_RESKEY_weight", "-5")],
        );
        for action in ["reload", "reload-agent"] {
            assert_eq!(
                run_action(&Dummy, action, &changed).status,
                OcfStatus::Success
            );
        }
        let file = lab.dir.path().join("umha-dummy@dummy1@cmp1.state");
        assert_eq!(
            std::fs::read_to_string(file).unwrap(),
            "fake=new\nweight=-5\nnode=cmp1\n"
        );
        // Reload of a stopped resource changes nothing and succeeds.
        let other = lab.env(&tmp, "cmp2", &[]);
        assert_eq!(
            run_action(&Dummy, "reload", &other).status,
            OcfStatus::Success
        );
        assert_eq!(
            run_action(&Dummy, "monitor", &other).status,
            OcfStatus::NotRunning
        );
    }

    #[test]
    fn validate_refuses_a_state_directory_that_is_a_file() {
        let lab = Lab::new();
        let tmp = lab.rsctmp();
        let blocker = format!("{tmp}/file");
        std::fs::write(&blocker, "x").unwrap();
        let state = format!("{blocker}/state");
        let o = run_action(
            &Dummy,
            "validate-all",
            &lab.env(&tmp, "cmp1", &[("OCF_RESKEY_state", &state)]),
        );
        assert_eq!(o.status, OcfStatus::ErrArgs);
        // validate-all needs no node name (pcs runs it from any node).
        let o = run_action(&Dummy, "validate-all", &[("HA_RSCTMP", tmp.as_str())]);
        assert_eq!(o.status, OcfStatus::Success);
    }

    #[test]
    fn op_sleep_is_cut_short_by_the_timeout() {
        let lab = Lab::new();
        let tmp = lab.rsctmp();
        let started = std::time::Instant::now();
        let o = run_action(
            &Dummy,
            "monitor",
            &lab.env(
                &tmp,
                "cmp1",
                &[
                    ("OCF_RESKEY_op_sleep", "1h"),
                    ("OCF_RESKEY_CRM_meta_timeout", "1000"),
                ],
            ),
        );
        assert_eq!(o.status, OcfStatus::NotRunning);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn unsupported_actions() {
        for action in ["promote", "demote", "notify", "migrate_to", "migrate_from"] {
            assert_eq!(
                run_action(&Dummy, action, &[]).status,
                OcfStatus::ErrUnimplemented,
                "{action}"
            );
        }
        let o = run_action(&Dummy, "status", &[]);
        assert_eq!(o.status, OcfStatus::ErrUnimplemented);
        assert!(o.stderr.starts_with("usage: umha-dummy {start|stop|monitor|reload|reload-agent|validate-all|meta-data|usage}"));
    }

    #[test]
    fn help_and_man_page() {
        let help = run_action(&Dummy, "--help", &[]);
        assert_eq!(help.status, OcfStatus::Success);
        assert!(
            help.stdout.lines().any(|l| l.starts_with("  op_sleep ")
                && l.ends_with(" duration, default 0s, reloadable")),
            "{}",
            help.stdout
        );
        let man = run_action(&Dummy, "--man", &[]).stdout;
        assert!(man.starts_with(".TH OCF_UMHA_UMHA\\-DUMMY 7"));
        assert!(man.contains("pcs constraint location dummy1 prefers cmp1=100"));
        assert!(man.contains("\\fBocf_pacemaker_Dummy\\fR(7)"));
    }
}
