//! The command line: arguments (clap), dispatch, exit codes. Exit 0 on
//! success, 1 when the command failed, 2 for a usage error (clap's own).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::Shell;

use crate::context::{self, State};
use crate::render::Format;
use crate::status::{NovaView, ServiceView};
use crate::{CliError, admin, history, simulate, status, when};

/// umha: compute-node high availability for OpenStack inside Pacemaker.
///
/// Reports and controls the state the umha agents keep in the CIB: the
/// evacuator's incidents, the valve's hold, maintenance of failed hosts.
/// Run it on a cluster node, as root or as a member of haclient.
#[derive(Debug, Parser)]
#[command(name = "umha", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute nodes with their Pacemaker, storage, Nova and evacuation state.
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
    Hold {
        /// Why, for the other operators (shown by `umha status`).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Release the valve's hold; held nodes are evacuated at the next step.
    Release,
    /// Hosts after repair.
    Host {
        #[command(subcommand)]
        action: HostAction,
    },
    /// What the evacuator would decide on a captured state; writes nothing.
    Simulate {
        /// The CIB (`cibadmin --query > cib.xml`).
        #[arg(long, value_name = "FILE")]
        cib: PathBuf,
        /// The fence history (`stonith_admin --history '*' --verbose
        /// --output-as=xml`).
        #[arg(long, value_name = "FILE")]
        fence_history: Option<PathBuf>,
        /// A Nova snapshot: {"services": [...], "servers": [...]} as Nova's
        /// os-services and servers/detail answer them.
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
    /// Print a shell completion script.
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
    Enable {
        /// The Pacemaker node name.
        node: String,
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
            eprintln!("umha: error: {e}");
            ExitCode::FAILURE
        }
    }
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
            let mut overrides = Vec::new();
            if let Some(c) = cloud {
                overrides.push(("cloud".to_owned(), c));
            }
            if let Some(p) = clouds_yaml {
                overrides.push(("clouds_yaml".to_owned(), p.display().to_string()));
            }
            let config = state.config(&overrides)?;
            let (nova, services) = if no_nova {
                (NovaView::Skipped, BTreeMap::new())
            } else {
                match nova_services(&config) {
                    Ok(s) => (NovaView::Read, s),
                    Err(e) => (
                        NovaView::Unreachable {
                            reason: e.to_string(),
                        },
                        BTreeMap::new(),
                    ),
                }
            };
            Ok(status::build(&state, &config, nova, &services).render(output_as))
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
                None => State::load(None)?.config(&[])?.history_file,
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
            action: HostAction::Enable { node },
        } => {
            let config = State::load(None)?.config(&[])?;
            let steps = admin::host_enable(&config, &node, context::deadline())?;
            Ok(steps.iter().map(|s| format!("{s}\n")).collect())
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
        roff_text(&about)
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
            roff_text(help.trim())
        ));
    }
}

const SEE_ALSO: &str = ".SH \"EXIT STATUS\"\n0 on success, 1 when the command failed (the reason is on standard error), 2 for a usage error.\n.SH \"SEE ALSO\"\n\\fBocf_umha_umha-evacuator\\fR(7), \\fBocf_umha_storage-monitor\\fR(7), \\fBfence_ipmi\\fR(8), \\fBcrm_mon\\fR(8), \\fBcrm_simulate\\fR(8)\n";

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

/// Nova's compute services by host.
fn nova_services(
    config: &umha_evacuator::config::Config,
) -> Result<BTreeMap<String, ServiceView>, CliError> {
    let deadline = context::deadline();
    let session = umha_evacuator::agent::session(config)?;
    let compute =
        openstack::Compute::connect(session, openstack::ComputeOptions::default(), deadline)?;
    Ok(compute
        .compute_services(None, deadline)?
        .iter()
        .map(|s| (s.host.clone(), ServiceView::from_service(s)))
        .collect())
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
        ] {
            assert!(page.contains(&format!(".SS \"umha {cmd}\"")), "{cmd}");
        }
    }
}
