//! The command line: arguments (clap), dispatch, exit codes. Exit 0 on
//! success, 1 when the command failed, 2 for a usage error (clap's own).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::Shell;

use umha_common::Deadline;
use umha_evacuator::cluster::Pacemaker;

use crate::context::{self, State};
use crate::render::Format;
use crate::status::NovaView;
use crate::{CliError, admin, history, nova, simulate, status, when};

/// umha: compute-node high availability for OpenStack inside Pacemaker.
///
/// Reports and controls the state the umha agents keep in the CIB: the
/// evacuator's incidents, the valve's hold, maintenance of failed hosts.
/// Run it on a cluster node, as root or as a member of haclient. The
/// evacuator's settings (cloud, compute nodes, valve, history file) are
/// read from its primitive in the CIB.
#[derive(Debug, Parser)]
#[command(name = "umha", version, propagate_version = true, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Shown after `umha --help` and as the man page's EXAMPLES.
const EXAMPLES: &str = "Examples:
  umha status                          every compute node, as crm_mon shows the cluster
  umha status --output-as=json --no-nova
  umha history --node cmp2 --since 2d  what was evacuated from cmp2 in the last two days
  umha hold --reason 'switch upgrade'  no evacuation starts until `umha release`
  umha host enable cmp2                cmp2 repaired: back into Nova's service
  cibadmin --query > cib.xml; stonith_admin --history '*' --verbose --output-as=xml > fh.xml
  umha snapshot-nova > nova.json
  umha simulate --cib cib.xml --fence-history fh.xml --nova nova.json";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute nodes with their Pacemaker, storage, Nova and evacuation state.
    ///
    /// One row per compute node: Pacemaker's state, storage-monitor's
    /// verdict, the nova-compute service (when Nova answers), the
    /// evacuation's phase, and the segment/reserved/maintenance flags; then
    /// the valve's hold and one note per node that needs attention. Reads
    /// the CIB once; Nova is asked at most 15 s, and a Nova that does not
    /// answer is reported, not fatal.
    Status {
        /// Output format, as `crm_mon --output-as`.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        output_as: Format,
        /// Read this CIB (the output of `cibadmin --query`) instead of the
        /// live cluster's.
        #[arg(long, value_name = "FILE")]
        cib: Option<PathBuf>,
        /// Do not ask Nova (the cloud settings come from the evacuator's
        /// parameters in the CIB).
        #[arg(long)]
        no_nova: bool,
        /// The cloud in clouds.yaml (default: the evacuator's `cloud`).
        #[arg(long)]
        cloud: Option<String>,
        /// The clouds.yaml to read (default: the evacuator's `clouds_yaml`).
        #[arg(long, value_name = "FILE")]
        clouds_yaml: Option<PathBuf>,
    },
    /// The evacuation history (what was evacuated, when, where to).
    ///
    /// Read from the evacuator's history file (JSON lines) on this
    /// controller; after a controller failover each controller holds the
    /// part it ran. Lines that are not history entries are counted and
    /// skipped.
    History {
        /// Only this node's entries.
        #[arg(long)]
        node: Option<String>,
        /// Entries at or after this time: RFC 3339, epoch seconds, or an
        /// age such as 2h or 3d.
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// The history file (default: the evacuator's `history_file`).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Output format, as `crm_mon --output-as`.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        output_as: Format,
    },
    /// Hold the valve: no evacuation starts until `umha release`.
    ///
    /// Sets the cluster property the evacuator sets itself when its valve
    /// trips (umha-hold in property set umha-valve). Fencing and
    /// evacuations already running go on.
    Hold {
        /// Why, for the other operators (shown by `umha status`).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Release the valve's hold; held nodes are evacuated at the next step.
    ///
    /// Do this once the cause of the hold is understood: every node the
    /// valve held is evacuated at the evacuator's next monitor.
    Release,
    /// Hosts after repair.
    Host {
        #[command(subcommand)]
        action: HostAction,
    },
    /// What the evacuator would decide on a captured state; writes nothing.
    ///
    /// Runs the evacuator's own decision on a CIB (and optionally the fence
    /// history and a Nova snapshot): per compute node the safety gate's
    /// verdict and why, the valve, the CIB writes, the Nova work, fence
    /// requests, events and alerts, and, with a Nova snapshot, which
    /// instances would go. The evacuator's parameters come from its
    /// primitive in that CIB; --param overrides them.
    Simulate {
        /// The CIB (`cibadmin --query > cib.xml`).
        #[arg(long, value_name = "FILE")]
        cib: PathBuf,
        /// The fence history (`stonith_admin --history '*' --verbose
        /// --output-as=xml`).
        #[arg(long, value_name = "FILE")]
        fence_history: Option<PathBuf>,
        /// A Nova snapshot (`umha snapshot-nova > nova.json`): one JSON
        /// object {"services": [...], "servers": [...]} holding Nova's
        /// os-services?binary=nova-compute and servers/detail?all_tenants=1
        /// answers.
        #[arg(long, value_name = "FILE")]
        nova: Option<PathBuf>,
        /// The time to decide at: RFC 3339 or epoch seconds (default: now).
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
        /// Decide as if the valve's hold were released (`umha release`).
        #[arg(long)]
        release: bool,
        /// Override an evacuator parameter, as NAME=VALUE (repeatable).
        #[arg(long = "param", value_name = "NAME=VALUE", value_parser = context::parse_param)]
        params: Vec<(String, String)>,
        /// Output format, as `crm_mon --output-as`.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        output_as: Format,
    },
    /// Save Nova's compute services and servers for `umha simulate --nova`.
    ///
    /// Prints one JSON object: Nova's own answers to
    /// os-services?binary=nova-compute and servers/detail?all_tenants=1
    /// (every page), at the microversion the evacuator would use, with the
    /// evacuator's cloud settings. Read-only.
    SnapshotNova {
        /// The cloud in clouds.yaml (default: the evacuator's `cloud`).
        #[arg(long)]
        cloud: Option<String>,
        /// The clouds.yaml to read (default: the evacuator's `clouds_yaml`).
        #[arg(long, value_name = "FILE")]
        clouds_yaml: Option<PathBuf>,
        /// Take the evacuator's settings from this CIB instead of the live
        /// cluster's.
        #[arg(long, value_name = "FILE")]
        cib: Option<PathBuf>,
    },
    /// Print a shell completion script.
    ///
    /// bash: umha completions bash > /etc/bash_completion.d/umha
    Completions {
        /// The shell to complete for.
        shell: Shell,
    },
    /// Print the man page (roff), as installed as umha(8).
    #[command(hide = true)]
    Man,
}

#[derive(Debug, Subcommand)]
pub enum HostAction {
    /// Put a repaired host back into service: clear its maintenance
    /// attribute, un-force-down and enable its nova-compute.
    ///
    /// In the order Nova needs: un-force-down the service, wait (30 s at
    /// most) until Nova counts it up, enable it, and only then delete
    /// umha-maintenance, so an interrupted run leaves the host visibly under
    /// maintenance and can simply be run again. Start nova-compute on the
    /// host first. Refused while the node still carries its evacuation
    /// marker. Exit status 1 when something is still waited for.
    Enable {
        /// The Pacemaker node name.
        node: String,
        /// Go ahead although the node carries an evacuation marker (an
        /// evacuation you abandoned). The marker itself is left alone.
        #[arg(long)]
        force: bool,
        /// The cloud in clouds.yaml (default: the evacuator's `cloud`).
        #[arg(long)]
        cloud: Option<String>,
        /// The clouds.yaml to read (default: the evacuator's `clouds_yaml`).
        #[arg(long, value_name = "FILE")]
        clouds_yaml: Option<PathBuf>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`umha status | head`) is not an error.
            let _ = out.write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            if let CliError::NotFinished { done, .. } = &e {
                let mut out = std::io::stdout().lock();
                for line in done {
                    let _ = writeln!(out, "{line}");
                }
            }
            eprintln!("umha: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--cloud` and `--clouds-yaml` as evacuator parameters.
fn cloud_overrides(cloud: Option<String>, clouds_yaml: Option<PathBuf>) -> Vec<(String, String)> {
    let mut overrides = Vec::new();
    if let Some(c) = cloud {
        overrides.push(("cloud".to_owned(), c));
    }
    if let Some(p) = clouds_yaml {
        overrides.push(("clouds_yaml".to_owned(), p.display().to_string()));
    }
    overrides
}

/// One command, its output as text. Separate from [`main`] so the tests run
/// commands without a process.
pub fn run(command: Command) -> Result<String, CliError> {
    match command {
        Command::Status {
            output_as,
            cib,
            no_nova,
            cloud,
            clouds_yaml,
        } => {
            let state = State::load(cib.as_deref())?;
            let overrides = cloud_overrides(cloud, clouds_yaml);
            // A primitive whose parameters the agent would refuse must not
            // hide the cluster: the report says so and goes on with the
            // defaults (and the command-line overrides).
            let (config, config_error) = match state.config(&overrides) {
                Ok(c) => (c, None),
                Err(e) => (
                    context::config_from(&overrides.iter().cloned().collect())?,
                    Some(e.to_string()),
                ),
            };
            let (nova, services) = if no_nova {
                (NovaView::Skipped, BTreeMap::new())
            } else {
                match nova::services(&config, Deadline::after(nova::STATUS_TIMEOUT)) {
                    Ok(s) => (NovaView::Read, s),
                    Err(e) => (
                        NovaView::Unreachable {
                            reason: e.to_string(),
                        },
                        BTreeMap::new(),
                    ),
                }
            };
            let mut report = status::build(&state, &config, nova, &services);
            report.config_error = config_error;
            Ok(report.render(output_as))
        }
        Command::History {
            node,
            since,
            file,
            output_as,
        } => {
            let now = when::now();
            let since = since.map(|s| when::parse_time(&s, now)).transpose()?;
            let file = match file {
                Some(f) => f,
                None => history_file()?,
            };
            Ok(history::read(&file, &history::Filter { node, since })?.render(output_as))
        }
        Command::Hold { reason } => {
            admin::hold(&reason, context::deadline())?;
            Ok("valve held: the evacuator starts no evacuation until `umha release`\n".to_owned())
        }
        Command::Release => {
            admin::release(context::deadline())?;
            Ok(
                "valve released: held nodes are evacuated at the evacuator's next step\n"
                    .to_owned(),
            )
        }
        Command::Host {
            action:
                HostAction::Enable {
                    node,
                    force,
                    cloud,
                    clouds_yaml,
                },
        } => {
            let config = State::load(None)?.config(&cloud_overrides(cloud, clouds_yaml))?;
            let steps = admin::host_enable(&Pacemaker, &config, &node, force, context::deadline())?;
            Ok(steps.iter().map(|s| format!("{s}\n")).collect())
        }
        Command::SnapshotNova {
            cloud,
            clouds_yaml,
            cib,
        } => {
            let config =
                State::load(cib.as_deref())?.config(&cloud_overrides(cloud, clouds_yaml))?;
            nova::snapshot(&config, context::deadline())
        }
        Command::Simulate {
            cib,
            fence_history,
            nova,
            now,
            release,
            params,
            output_as,
        } => {
            let state = State::load(Some(&cib))?;
            let config = state.config(&params)?;
            let now = match now {
                Some(t) => when::parse_time(&t, when::now())?,
                None => when::now(),
            };
            let history = fence_history
                .as_deref()
                .map(simulate::read_history)
                .transpose()?;
            let nova = nova
                .as_deref()
                .map(simulate::NovaSnapshot::read)
                .transpose()?;
            let sim = simulate::run(simulate::Inputs {
                state: &state,
                config: &config,
                history,
                nova,
                now,
                release,
            });
            Ok(sim.render(output_as))
        }
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "umha", &mut buf);
            Ok(String::from_utf8_lossy(&buf).into_owned())
        }
        Command::Man => man_page(),
    }
}

/// umha(8), from the same argument definitions as `--help`: clap_mangen's
/// title, synopsis, description and options, then one section per command
/// (the pages clap_mangen would name per subcommand are not shipped).
pub fn man_page() -> Result<String, CliError> {
    let io = |e| CliError::io("man page", e);
    let top = Cli::command();
    let man = clap_mangen::Man::new(top.clone())
        .section("8")
        .manual("umha")
        .source(concat!("umha ", env!("CARGO_PKG_VERSION")));
    let mut buf = Vec::new();
    man.render_title(&mut buf).map_err(io)?;
    man.render_name_section(&mut buf).map_err(io)?;
    man.render_synopsis_section(&mut buf).map_err(io)?;
    man.render_description_section(&mut buf).map_err(io)?;
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    text.push_str(".SH COMMANDS\n");
    for sub in top.get_subcommands().filter(|s| !s.is_hide_set()) {
        let nested: Vec<&clap::Command> = sub.get_subcommands().collect();
        if nested.is_empty() {
            man_command(&mut text, &format!("umha {}", sub.get_name()), sub);
        } else {
            for n in nested {
                man_command(
                    &mut text,
                    &format!("umha {} {}", sub.get_name(), n.get_name()),
                    n,
                );
            }
        }
    }
    text.push_str(".SH EXAMPLES\n.nf\n");
    for line in EXAMPLES.lines().skip(1) {
        text.push_str(&roff_text(line.trim_start()));
        text.push('\n');
    }
    text.push_str(".fi\n");
    text.push_str(SEE_ALSO);
    Ok(text)
}

fn man_command(text: &mut String, name: &str, cmd: &clap::Command) {
    let about = cmd
        .get_long_about()
        .or(cmd.get_about())
        .map(|a| a.to_string())
        .unwrap_or_default();
    let mut cmd = cmd.clone().bin_name(name);
    let usage = cmd.render_usage().to_string();
    text.push_str(&format!(
        ".SS \"{}\"\n\\fB{}\\fR\n.PP\n{}\n",
        roff_text(name),
        roff_text(usage.trim_start_matches("Usage: ")),
        roff_paragraphs(&about, ".PP")
    ));
    for arg in cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && a.get_id() != "help")
    {
        let values = arg
            .get_value_names()
            .map(|v| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "));
        let takes = arg.get_action().takes_values();
        let choices: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|p| !p.is_hide_set())
            .map(|p| p.get_name().to_owned())
            .collect();
        let value = match (values, choices.is_empty()) {
            (_, false) => choices.join("|"),
            (Some(v), true) => v,
            (None, true) => arg.get_id().as_str().to_uppercase(),
        };
        let name = match arg.get_long() {
            Some(l) if takes => format!("--{l} {value}"),
            Some(l) => format!("--{l}"),
            None => value,
        };
        let mut help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        if let Some(d) = arg
            .get_default_values()
            .first()
            .filter(|d| takes && !d.is_empty())
        {
            help.push_str(&format!(" (default: {})", d.to_string_lossy()));
        }
        text.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\n",
            roff_text(&name),
            roff_paragraphs(help.trim(), ".IP")
        ));
    }
}

const SEE_ALSO: &str = ".SH \"EXIT STATUS\"\n0 on success, 1 when the command failed (the reason is on standard error), 2 for a usage error.\n.SH \"SEE ALSO\"\n\\fBocf_umha_umha-evacuator\\fR(7), \\fBocf_umha_storage-monitor\\fR(7), \\fBfence_ipmi\\fR(8), \\fBcrm_mon\\fR(8), \\fBcrm_simulate\\fR(8)\n";

/// Paragraphs (blank-line separated, as clap's long help has them) joined
/// by `request` (`.PP`, or `.IP` inside an option's entry): a blank line in
/// roff is a literal blank line, not a paragraph break.
fn roff_paragraphs(text: &str, request: &str) -> String {
    text.split("\n\n")
        .map(|p| roff_text(p.trim()))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(&format!("\n{request}\n"))
}

/// Text safe in roff: backslashes doubled, no line starting with a dot.
fn roff_text(text: &str) -> String {
    text.replace('\\', "\\\\")
        .lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The evacuator's `history_file`: from its primitive in the live CIB,
/// or, when the CIB cannot be read (not a cluster node), the agent's
/// default, with a note on standard error.
fn history_file() -> Result<PathBuf, CliError> {
    match State::load(None).and_then(|s| s.config(&[])) {
        Ok(config) => Ok(config.history_file),
        Err(e) => {
            let default = context::config_from(&BTreeMap::new())?.history_file;
            eprintln!(
                "umha: note: {e}; reading the default history file {}",
                default.display()
            );
            Ok(default)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn man_page_has_every_command() {
        let page = man_page().unwrap();
        for cmd in [
            "status",
            "history",
            "hold",
            "release",
            "host enable",
            "simulate",
            "snapshot-nova",
        ] {
            assert!(page.contains(&format!(".SS \"umha {cmd}\"")), "{cmd}");
        }
    }
}
