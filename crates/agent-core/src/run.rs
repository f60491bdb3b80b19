//! The entry point: argv and environment in, exit code out.
//!
//! The OCF rules that do not depend on the agent live here, once:
//! unknown actions, unsupported actions, what a stop or probe does with an
//! invalid configuration, a stop that finds nothing is a success, the exit
//! reason line, and the log lines around each action.

use std::io::Write;
use std::process::ExitCode;

use umha_common::log::{Logger, StderrPolicy};

use crate::error::exit_reason_line;
use crate::{
    Action, Context, Env, OcfError, OcfResult, OcfStatus, Params, ResourceAgent, RunState,
};

/// What an invocation produced, before it is printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: OcfStatus,
    /// Meta-data or usage text.
    pub stdout: String,
    /// Usage text after a bad invocation.
    pub stderr: String,
    /// The one-line exit reason, printed as `ocf-exit-reason:<reason>`.
    pub reason: Option<String>,
}

impl Outcome {
    fn new(status: OcfStatus) -> Self {
        Self {
            status,
            stdout: String::new(),
            stderr: String::new(),
            reason: None,
        }
    }

    fn with_reason(mut self, reason: &str) -> Self {
        let line = exit_reason_line(reason);
        self.reason = (!line.is_empty()).then_some(line);
        self
    }

    fn from_error(err: &OcfError) -> Self {
        Outcome::new(err.status()).with_reason(err.reason())
    }

    /// Write stdout, stderr and the exit reason. Write errors (a closed pipe)
    /// are ignored: the exit code is what Pacemaker reads.
    pub fn print(&self) {
        if !self.stdout.is_empty() {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(self.stdout.as_bytes());
            let _ = out.flush();
        }
        let mut err = std::io::stderr().lock();
        if !self.stderr.is_empty() {
            let _ = err.write_all(self.stderr.as_bytes());
        }
        if let Some(reason) = &self.reason {
            let _ = writeln!(err, "ocf-exit-reason:{reason}");
        }
        let _ = err.flush();
    }
}

/// What an action does when the parameters are invalid (OCF_ERR_CONFIGURED
/// from [`Params`] or [`ResourceAgent::configure`]).
///
/// Start, validate-all, reload and promote refuse invalid parameters, so no
/// resource can be running with them. A stop that failed over them would get
/// the node fenced for nothing, and a probe that failed would stop the
/// resource on every node; both therefore ask the agent's fallback, which by
/// default reports "nothing here". Only OCF_ERR_CONFIGURED takes this path:
/// any other failure (a node name that cannot be found, a tool that hangs)
/// is returned as it is, because then we do not know that nothing runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidConfigPolicy {
    /// Fail with the configuration error.
    Fail,
    /// Call [`ResourceAgent::stop_unconfigured`] (default: success, logged as a warning).
    StopFallback,
    /// Call [`ResourceAgent::probe_unconfigured`] (default: not running).
    ProbeFallback,
}

impl InvalidConfigPolicy {
    pub fn for_action(action: Action, probe: bool) -> Self {
        match action {
            Action::Stop => InvalidConfigPolicy::StopFallback,
            Action::Monitor if probe => InvalidConfigPolicy::ProbeFallback,
            _ => InvalidConfigPolicy::Fail,
        }
    }
}

/// Run an agent as a process: set up HA logging and the panic hook, read
/// argv and the environment, perform the action, print, return the code.
pub fn run<A: ResourceAgent>(agent: A) -> ExitCode {
    let env = Env::from_process();
    let instance = env.non_empty("OCF_RESOURCE_INSTANCE");
    umha_common::log::init(Logger::from_env(
        A::SPEC.name,
        instance.as_deref(),
        StderrPolicy::HaLog,
    ));
    umha_common::panic::install_hook(i32::from(OcfStatus::ErrGeneric.code()));
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let outcome = execute(&agent, &args, &env);
    outcome.print();
    outcome.status.into()
}

/// Everything [`run`] does except process I/O: for tests and tools.
/// `args` excludes the program name.
pub fn execute<A: ResourceAgent>(agent: &A, args: &[String], env: &Env) -> Outcome {
    let spec = A::SPEC;
    let usage = || crate::usage::render(spec);
    let arg = match args {
        [one] => one.as_str(),
        [] => {
            let mut o = Outcome::new(OcfStatus::ErrArgs).with_reason("no action given");
            o.stderr = usage();
            return o;
        }
        _ => {
            let mut o = Outcome::new(OcfStatus::ErrArgs)
                .with_reason("expected exactly one argument, the action");
            o.stderr = usage();
            return o;
        }
    };
    // Not OCF actions (Pacemaker never passes them): for packaging and humans.
    match arg {
        "--man" => {
            let mut o = Outcome::new(OcfStatus::Success);
            o.stdout = crate::manpage::render(spec);
            return o;
        }
        "--version" => {
            let mut o = Outcome::new(OcfStatus::Success);
            o.stdout = format!("{} {}\n", spec.full_name(), spec.version);
            return o;
        }
        _ => {}
    }
    let Some(action) = Action::parse(arg) else {
        log::warn!("unknown action {:?}", exit_reason_line(arg));
        let mut o = Outcome::new(OcfStatus::ErrUnimplemented)
            .with_reason(&format!("unknown action '{arg}'"));
        o.stderr = usage();
        return o;
    };
    match action {
        Action::MetaData => {
            let mut o = Outcome::new(OcfStatus::Success);
            o.stdout = crate::metadata::render(spec);
            return o;
        }
        Action::Usage => {
            let mut o = Outcome::new(OcfStatus::Success);
            o.stdout = usage();
            return o;
        }
        _ => {}
    }
    if !spec.supports(action) {
        log::debug!("{action} is not supported");
        return Outcome::new(OcfStatus::ErrUnimplemented)
            .with_reason(&format!("{} does not support {action}", spec.full_name()));
    }
    let ctx = Context::new(spec, env, action);
    perform(agent, &ctx)
}

/// Perform a supported, non-informational action in `ctx`.
pub fn perform<A: ResourceAgent>(agent: &A, ctx: &Context<'_>) -> Outcome {
    let action = ctx.action();
    let label = if ctx.is_probe() {
        "probe"
    } else {
        action.name()
    };
    for problem in &ctx.meta().problems {
        log::warn!("{problem}");
    }
    if action.is_routine() {
        log::debug!("{label} requested");
    } else {
        log::info!("{label} requested");
    }

    let config = Params::from_env(A::SPEC.params, ctx.env())
        .and_then(|params| agent.configure(ctx, &params));
    let result: OcfResult<RunState> = match config {
        Err(problem) if problem.status() == OcfStatus::ErrConfigured => {
            match InvalidConfigPolicy::for_action(action, ctx.is_probe()) {
                InvalidConfigPolicy::Fail => Err(problem),
                InvalidConfigPolicy::StopFallback => {
                    log::warn!(
                        "stop with invalid parameters ({}): they cannot have been started, so there is nothing to stop",
                        problem.reason()
                    );
                    agent
                        .stop_unconfigured(ctx, &problem)
                        .map(|()| RunState::Stopped)
                }
                InvalidConfigPolicy::ProbeFallback => {
                    log::warn!(
                        "probe with invalid parameters ({}): they cannot have been started here",
                        problem.reason()
                    );
                    agent.probe_unconfigured(ctx, &problem)
                }
            }
        }
        Err(other) => Err(other),
        Ok(config) => dispatch(agent, ctx, &config),
    };

    let outcome = finish(action, result);
    let status = outcome.status;
    let reason = outcome.reason.as_deref().unwrap_or("");
    match status {
        OcfStatus::Success if action.is_routine() => log::debug!("{label}: running"),
        OcfStatus::Success => log::info!("{label} succeeded"),
        OcfStatus::NotRunning if action == Action::Monitor => log::debug!("{label}: not running"),
        OcfStatus::RunningPromoted if action == Action::Monitor => {
            log::debug!("{label}: running promoted")
        }
        OcfStatus::Degraded | OcfStatus::DegradedPromoted => {
            log::warn!("{label}: {reason} ({status})")
        }
        _ => log::error!("{label} failed: {reason} ({status})"),
    }
    outcome
}

fn dispatch<A: ResourceAgent>(
    agent: &A,
    ctx: &Context<'_>,
    config: &A::Config,
) -> OcfResult<RunState> {
    let action = ctx.action();
    if action.runs_validation() {
        agent.validate(ctx, config)?;
    }
    let done = |r: OcfResult<()>| r.map(|()| RunState::Running);
    match action {
        Action::ValidateAll => Ok(RunState::Running),
        Action::Start => done(agent.start(ctx, config)),
        Action::Stop => agent.stop(ctx, config).map(|()| RunState::Stopped),
        Action::Monitor => agent.monitor(ctx, config),
        Action::Reload | Action::ReloadAgent => done(agent.reload(ctx, config)),
        Action::Notify => done(agent.notify(ctx, config, &ctx.notification())),
        Action::Promote => done(agent.promote(ctx, config)),
        Action::Demote => done(agent.demote(ctx, config)),
        Action::MigrateTo => done(agent.migrate_to(ctx, config)),
        Action::MigrateFrom => done(agent.migrate_from(ctx, config)),
        Action::MetaData | Action::Usage => Ok(RunState::Running),
    }
}

/// Apply the per-action exit-code rules of OCF 1.1.
fn finish(action: Action, result: OcfResult<RunState>) -> Outcome {
    match (action, result) {
        // Only monitors report a run state.
        (Action::Monitor, Ok(state)) => {
            let o = Outcome::new(state.status());
            match state.reason() {
                Some(r) => o.with_reason(r),
                None => o,
            }
        }
        (_, Ok(_)) => Outcome::new(OcfStatus::Success),
        // A stop that finds it not running has succeeded; a stop never returns 7.
        (Action::Stop, Err(e)) if e.status() == OcfStatus::NotRunning => {
            log::info!("stop: already stopped ({})", e.reason());
            Outcome::new(OcfStatus::Success)
        }
        // "Not running" after any other action is a failure of that action.
        (Action::Monitor, Err(e)) => Outcome::from_error(&e),
        (_, Err(e)) if e.status() == OcfStatus::NotRunning => {
            Outcome::from_error(&e.with_status(OcfStatus::ErrGeneric))
        }
        (_, Err(e)) if e.status().is_success() => {
            // An error carrying code 0 is a bug; never report it as success.
            Outcome::from_error(&e.with_status(OcfStatus::ErrGeneric))
        }
        (_, Err(e)) => Outcome::from_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check_lifecycle, check_spec, run_action};
    use crate::{ActionSpec, AgentSpec, ParamSpec, StateFile};
    use std::cell::Cell;
    use std::time::Duration;

    const T: Duration = Duration::from_secs(20);

    /// A minimal agent on a state file, to test the dispatcher.
    struct Probe {
        stop_calls: Cell<u32>,
    }

    struct Config {
        fail: bool,
        state: Option<String>,
    }

    static SPEC: AgentSpec = AgentSpec {
        provider: "umha",
        name: "core-test",
        version: "0",
        shortdesc: "Test",
        longdesc: "Test agent.",
        params: &[
            ParamSpec::string("state", "State", "State file.").required(),
            ParamSpec::boolean("fail", "Fail", "Fail start.").default("false"),
            ParamSpec::integer("n", "N", "A number.").default("1"),
            ParamSpec::duration("wait", "Wait", "A duration.").default("1s"),
        ],
        actions: &[
            ActionSpec::new(Action::Start, T),
            ActionSpec::new(Action::Stop, T),
            ActionSpec::new(Action::Monitor, T).interval(Duration::from_secs(10)),
            ActionSpec::new(Action::Notify, T),
            ActionSpec::new(Action::MetaData, Duration::from_secs(5)),
            ActionSpec::new(Action::ValidateAll, T),
        ],
        examples: &[],
        see_also: &[],
    };

    impl ResourceAgent for Probe {
        const SPEC: &'static AgentSpec = &SPEC;
        type Config = Config;

        fn configure(&self, _ctx: &Context<'_>, params: &Params) -> OcfResult<Config> {
            let state: String = params.get("state")?;
            if !state.starts_with('/') {
                return Err(OcfError::configured("state must be an absolute path"));
            }
            Ok(Config {
                fail: params.get("fail")?,
                state: Some(state),
            })
        }

        fn start(&self, _ctx: &Context<'_>, c: &Config) -> OcfResult<()> {
            if c.fail {
                return Err(OcfError::generic("told to fail"));
            }
            StateFile::at(c.state.clone().unwrap_or_default()).write("up")
        }

        fn stop(&self, _ctx: &Context<'_>, c: &Config) -> OcfResult<()> {
            self.stop_calls.set(self.stop_calls.get() + 1);
            let f = StateFile::at(c.state.clone().unwrap_or_default());
            if !f.exists()? {
                // Exercise the "stop never returns 7" rule.
                return Err(OcfError::not_running("was not running"));
            }
            f.remove()
        }

        fn monitor(&self, _ctx: &Context<'_>, c: &Config) -> OcfResult<RunState> {
            Ok(
                if StateFile::at(c.state.clone().unwrap_or_default()).exists()? {
                    RunState::Running
                } else {
                    RunState::Stopped
                },
            )
        }

        fn notify(
            &self,
            _ctx: &Context<'_>,
            _c: &Config,
            _n: &crate::Notification,
        ) -> OcfResult<()> {
            Ok(())
        }
    }

    fn agent() -> Probe {
        Probe {
            stop_calls: Cell::new(0),
        }
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        state: String,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("s").to_string_lossy().into_owned();
        Fixture { _dir: dir, state }
    }

    #[test]
    fn the_test_table_is_valid() {
        check_spec(&SPEC).unwrap();
    }

    #[test]
    fn lifecycle_follows_ocf() {
        let f = fixture();
        check_lifecycle(
            &agent(),
            &[
                ("OCF_RESKEY_state", &f.state),
                ("OCF_RESOURCE_INSTANCE", "r"),
            ],
        )
        .unwrap();
    }

    #[test]
    fn argument_errors() {
        let a = agent();
        let none = execute(&a, &[], &Env::from_pairs::<[(String, String); 0], _, _>([]));
        assert_eq!(none.status, OcfStatus::ErrArgs);
        assert!(
            none.stderr.starts_with("usage: core-test {"),
            "{}",
            none.stderr
        );
        let two = execute(
            &a,
            &["start".into(), "stop".into()],
            &crate::testing::env(&[]),
        );
        assert_eq!(two.status, OcfStatus::ErrArgs);
        let unknown = run_action(&a, "frobnicate", &[]);
        assert_eq!(unknown.status, OcfStatus::ErrUnimplemented);
        assert!(unknown.stderr.contains("usage:"));
        assert_eq!(
            unknown.reason.as_deref(),
            Some("unknown action 'frobnicate'")
        );
    }

    #[test]
    fn unsupported_actions_answer_3_and_are_not_advertised() {
        let a = agent();
        for action in [
            "promote",
            "demote",
            "reload",
            "reload-agent",
            "migrate_to",
            "migrate_from",
        ] {
            let o = run_action(&a, action, &[]);
            assert_eq!(o.status, OcfStatus::ErrUnimplemented, "{action}");
            assert!(
                !SPEC.metadata_xml().contains(&format!("\"{action}\"")),
                "{action}"
            );
        }
        assert_eq!(
            run_action(&a, "notify", &[("OCF_RESKEY_state", "/x")]).status,
            OcfStatus::Success
        );
    }

    #[test]
    fn informational_actions_need_no_environment() {
        let a = agent();
        let md = run_action(&a, "meta-data", &[]);
        assert_eq!(md.status, OcfStatus::Success);
        assert!(
            md.stdout
                .starts_with("<?xml version=\"1.0\"?>\n<!DOCTYPE resource-agent")
        );
        for help in ["usage", "help", "--help", "-h"] {
            let u = run_action(&a, help, &[]);
            assert_eq!(u.status, OcfStatus::Success);
            assert!(u.stdout.contains("Parameters"), "{help}");
        }
        let man = run_action(&a, "--man", &[]);
        assert!(
            man.stdout.starts_with(".TH OCF_UMHA_CORE\\-TEST 7"),
            "{}",
            man.stdout
        );
        assert_eq!(
            run_action(&a, "--version", &[]).stdout,
            "ocf:umha:core-test 0\n"
        );
    }

    #[test]
    fn invalid_parameters_are_6_with_a_reason() {
        let a = agent();
        let cases: [(&[(&str, &str)], &str); 5] = [
            (&[], "required parameter state is not set"),
            (
                &[("OCF_RESKEY_state", "/x"), ("OCF_RESKEY_n", "two")],
                "parameter n: 'two' is not an integer",
            ),
            (
                &[("OCF_RESKEY_state", "/x"), ("OCF_RESKEY_fail", "perhaps")],
                "parameter fail: 'perhaps' is not a boolean",
            ),
            (
                &[("OCF_RESKEY_state", "/x"), ("OCF_RESKEY_wait", "5 parsecs")],
                "parameter wait: '5 parsecs' is not a duration",
            ),
            (
                &[("OCF_RESKEY_state", "relative")],
                "state must be an absolute path",
            ),
        ];
        for (env, reason) in cases {
            for action in ["validate-all", "start", "monitor"] {
                let mut env = env.to_vec();
                env.push(("OCF_RESKEY_CRM_meta_interval", "10000"));
                let o = run_action(&a, action, &env);
                assert_eq!(o.status, OcfStatus::ErrConfigured, "{action} {env:?}");
                let got = o.reason.unwrap_or_default();
                assert!(got.contains(reason), "{action}: {got}");
            }
        }
    }

    #[test]
    fn stop_and_probe_with_invalid_parameters_do_not_fail() {
        let a = agent();
        let bad = [("OCF_RESKEY_n", "two"), ("OCF_RESKEY_state", "/x")];
        let stop = run_action(&a, "stop", &bad);
        assert_eq!(stop.status, OcfStatus::Success);
        assert_eq!(a.stop_calls.get(), 0, "the agent's stop must not run");
        let mut probe = bad.to_vec();
        probe.push(("OCF_RESKEY_CRM_meta_interval", "0"));
        assert_eq!(
            run_action(&a, "monitor", &probe).status,
            OcfStatus::NotRunning
        );
        assert_eq!(
            InvalidConfigPolicy::for_action(Action::Monitor, false),
            InvalidConfigPolicy::Fail
        );
    }

    #[test]
    fn a_stop_that_finds_nothing_is_success_never_7() {
        let f = fixture();
        let a = agent();
        let o = run_action(&a, "stop", &[("OCF_RESKEY_state", &f.state)]);
        assert_eq!(o.status, OcfStatus::Success);
        assert_eq!(a.stop_calls.get(), 1);
        assert_eq!(o.reason, None);
    }

    #[test]
    fn start_failure_carries_code_and_reason() {
        let f = fixture();
        let o = run_action(
            &agent(),
            "start",
            &[("OCF_RESKEY_state", &f.state), ("OCF_RESKEY_fail", "yes")],
        );
        assert_eq!(o.status, OcfStatus::ErrGeneric);
        assert_eq!(o.reason.as_deref(), Some("told to fail"));
    }

    #[test]
    fn finish_rules() {
        let fail = |s| Err(OcfError::new(s, "x"));
        assert_eq!(
            finish(Action::Start, fail(OcfStatus::NotRunning)).status,
            OcfStatus::ErrGeneric
        );
        assert_eq!(
            finish(Action::Start, fail(OcfStatus::Success)).status,
            OcfStatus::ErrGeneric
        );
        assert_eq!(
            finish(Action::Stop, fail(OcfStatus::NotRunning)).status,
            OcfStatus::Success
        );
        assert_eq!(
            finish(Action::Monitor, fail(OcfStatus::NotRunning)).status,
            OcfStatus::NotRunning
        );
        let degraded = finish(Action::Monitor, Ok(RunState::Degraded("slow\ndisk".into())));
        assert_eq!(degraded.status, OcfStatus::Degraded);
        assert_eq!(degraded.reason.as_deref(), Some("slow disk"));
        assert_eq!(
            finish(Action::Promote, Ok(RunState::Running)).status,
            OcfStatus::Success
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_invocations_never_panic(
            action in proptest::prelude::any::<String>(),
            state in proptest::prelude::any::<String>(),
            fail in proptest::prelude::any::<String>(),
            interval in proptest::prelude::any::<String>(),
        ) {
            // Whatever the action, writes stay in a private directory.
            let dir = tempfile::tempdir().unwrap();
            let name = state.replace(['/', '\0'], "_");
            let state = dir.path().join(format!("s{name}")).to_string_lossy().into_owned();
            let a = agent();
            for act in [action.as_str(), "validate-all", "monitor", "meta-data"] {
                let o = run_action(&a, act, &[
                    ("OCF_RESKEY_state", &state),
                    ("OCF_RESKEY_fail", &fail),
                    ("OCF_RESKEY_CRM_meta_interval", &interval),
                ]);
                proptest::prop_assert!(o.reason.as_deref().is_none_or(|r| !r.contains('\n')));
            }
        }
    }
}
