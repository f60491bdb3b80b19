//! The entry point: what every umha fence agent's `main` calls.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use umha_common::log::{Logger, StderrPolicy};
use umha_common::{Deadline, Secret};

use crate::action::Action;
use crate::agent::Agent;
use crate::docs;
use crate::input::{cmdline, stdin};
use crate::metadata;
use crate::options::Options;
use crate::password;
use crate::runner::{Outcome, Plan, Runner};
use crate::spec::OptionTable;

/// Run agent `A` as Pacemaker or a person invoked it: options from argv when
/// there are arguments, else from stdin; exit code as fence-agents'.
///
/// ```text
/// fn main() -> std::process::ExitCode {
///     stonith_core::run::<FenceIpmi>()
/// }
/// ```
pub fn run<A: Agent>() -> ExitCode {
    umha_common::panic::install_hook(i32::from(Outcome::Failed.exit_code()));
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    let code = main_with::<A>(&args, stdin.lock(), &mut stdout);
    let _ = stdout.flush();
    ExitCode::from(code)
}

/// The agent's full option table: common options, the agent's, and what
/// follows from them.
pub fn option_table<A: Agent>() -> OptionTable {
    let info = A::info();
    let mut table = OptionTable::common(&info);
    A::options(&mut table);
    table.finish(&info);
    table
}

/// Everything [`run`] does, with explicit arguments, stdin and stdout; the
/// process-wide logger is set up on the first call.
pub fn main_with<A: Agent>(args: &[OsString], input: impl Read, out: &mut dyn Write) -> u8 {
    let failed = Outcome::Failed.exit_code();
    let info = A::info();
    let table = option_table::<A>();

    let raw = if args.is_empty() {
        if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            eprintln!(
                "{}: reading name=value options from stdin (end with Ctrl-D; -h for help)",
                info.name
            );
        }
        stdin::read(input, &table)
    } else {
        cmdline::parse(args, &table)
    };
    let raw = match raw {
        Ok(raw) => raw,
        Err(err) => {
            init_logging(info.name, None, false, None, false);
            usage_failure(&err.to_string());
            return failed;
        }
    };
    let mut options = Options::resolve(&table, info.plugs, raw);
    init_logging(
        info.name,
        options.instance(),
        options.verbose(),
        options.debug_file(),
        options.quiet(),
    );
    for secret in options.secrets() {
        redact(secret);
    }
    for warning in options.warnings() {
        log::warn!("{warning}");
    }

    // As fence-agents' show_docs(): help, then metadata/manpage, then version,
    // all before any validation.
    if options.help_requested() {
        print(out, &docs::usage(&info, &table));
        return 0;
    }
    match options.action() {
        Ok(Action::Metadata) => {
            print(out, &metadata::render(&info, &table));
            return 0;
        }
        Ok(Action::Manpage) => {
            print(out, &docs::manpage(&info, &table));
            return 0;
        }
        _ => {}
    }
    if options.version_requested() {
        print(out, &format!("{}\n", info.version));
        return 0;
    }

    let action = match options.action() {
        Ok(action) => action,
        Err(err) => {
            usage_failure(&err.to_string());
            return failed;
        }
    };
    if let Err(err) = options.check(action, &info) {
        usage_failure(&err.to_string());
        return failed;
    }
    if let Err(message) = A::validate(&options) {
        usage_failure(&format!("Failed: {message}"));
        return failed;
    }
    if let Some(path) = options.debug_file()
        && let Err(err) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        usage_failure(&format!("Failed: Unable to create file {path}: {err}"));
        return failed;
    }
    match action {
        Action::ValidateAll => return 0,
        Action::Start | Action::Stop => {
            log::info!("{action}: nothing to do for a fence agent");
            return 0;
        }
        _ => {}
    }

    let plan = Plan::new(action, &options, &info);
    let budget = plan.budget();
    let deadline = Deadline::after(budget);
    log_timing(&options, &plan, budget);

    if let Some(script) = options.password_script().map(str::to_owned) {
        let script_deadline = deadline.min(Deadline::after(plan.timing.login_timeout));
        match password::run_script(&script, script_deadline) {
            Ok(secret) => {
                redact(&secret);
                options.set_secret("password", secret);
            }
            Err(err) => {
                log::error!("{err}");
                return failed;
            }
        }
    }

    let hooks = A::after_off_hooks(&options);
    let options = &options;
    Runner::new(plan, |deadline: Deadline| A::connect(options, deadline))
        .hooks(hooks)
        .run(deadline, out)
        .exit_code()
}

fn log_timing(options: &Options, plan: &Plan, budget: Duration) {
    log::debug!("{}: deadline {:.1?} ({})", plan.action, budget, plan.timing);
    if plan.timing.exceeds_ceiling(plan.action, plan.method) {
        log::warn!(
            "the timing options need {:.0?} for {}: make sure pcmk_{}_timeout is larger",
            budget,
            plan.action,
            plan.action
        );
    }
    if options.is_set("disable_timeout") {
        log::warn!("disable_timeout is ignored: umha always keeps its own deadline");
    }
    if std::env::var("PCMK_service").is_ok_and(|s| s == "pacemaker-fenced") {
        log::debug!(
            "run by pacemaker-fenced: keeping umha's own deadline (fence-agents would disable its timeouts)"
        );
    }
}

fn init_logging(
    agent: &str,
    instance: Option<&str>,
    verbose: bool,
    debug_file: Option<&str>,
    quiet: bool,
) {
    // `quiet` cannot silence stderr entirely with umha-common's logger: it
    // falls back to ha_log's rule (stderr only when there is no other destination).
    let policy = if quiet {
        StderrPolicy::HaLog
    } else {
        StderrPolicy::Always
    };
    let mut logger = Logger::from_env(agent, instance, policy);
    if verbose {
        logger.set_debug(true);
    }
    if let Some(path) = debug_file {
        logger.set_debuglog(Some(path.into()));
    }
    umha_common::log::init(logger);
}

fn redact(secret: &Secret) {
    if let Some(logger) = umha_common::log::global() {
        logger.redact(secret);
    }
}

fn usage_failure(message: &str) {
    log::error!("{message}");
    log::error!("Please use '-h' for usage");
}

fn print(out: &mut dyn Write, text: &str) {
    let _ = out.write_all(text.as_bytes());
}
