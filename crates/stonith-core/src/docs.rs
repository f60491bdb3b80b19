//! `--help` and the man page, made from the same table as the metadata.

use std::fmt::Write as _;

use crate::action::Action;
use crate::agent::AgentInfo;
use crate::metadata::{advertised_actions, entries};
use crate::options::action_available;
use crate::spec::{OptionSpec, OptionTable, ValueType};
use crate::timing::CEILING;

/// The longer story of `evacuate`, for the man page (the metadata has room
/// for a shortdesc only).
const EVACUATION_MARKER: &str = "With evacuate=1, once the power-off has been read back \
    (and, for reboot, before the node is powered on again), the agent records the persistent \
    node attribute umha-evacuate=<epoch seconds of the verified off> (the name is \
    evacuate_attribute) on the fenced node, with crm_attribute --lifetime=forever. umha's \
    evacuator uses it together with Pacemaker's fencing history to decide that the node's \
    instances may be rebuilt on other hosts, and clears it once they are. The node is the one \
    pacemaker-fenced names (nodename): run by hand without nodename, nothing is written. \
    Nothing is written when the power-off was not verified. The write is bounded (5 s), and a \
    failure is logged, never a fencing failure: the node is off either way.";

fn description(spec: &OptionSpec) -> String {
    let mut text = spec.shortdesc.to_string();
    if let ValueType::Select(choices) = spec.value {
        let _ = write!(text, " ({})", choices.join("|"));
    }
    if let Some(default) = &spec.default {
        let _ = write!(text, " (Default Value: {default})");
    }
    text
}

fn action_list(info: &AgentInfo) -> String {
    let names: Vec<String> = Action::ALL
        .iter()
        .filter(|a| action_available(**a, info) && !matches!(a, Action::Start | Action::Stop))
        .filter(|a| advertised_actions(info).contains(a))
        .map(|a| {
            if *a == Action::Reboot {
                "reboot (default)".to_owned()
            } else {
                a.name().to_owned()
            }
        })
        .collect();
    names.join(", ")
}

/// `--help`, laid out as fence-agents' `usage()`.
pub fn usage(info: &AgentInfo, table: &OptionTable) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "Usage:\n\t{} [options]\nOptions:", info.name);
    for spec in table.documented() {
        if spec.long.is_none() && spec.short.is_none() {
            continue;
        }
        let desc = if spec.name == "action" {
            format!("Action: {}", action_list(info))
        } else {
            description(spec)
        };
        let _ = writeln!(text, "   {:<31}{desc}", spec.getopt_mixed());
    }
    let _ = writeln!(
        text,
        "\nWithout arguments, options are read from stdin as name=value lines \
         (as pacemaker-fenced sends them).\nExit status: 0 success, 1 failure, 2 status found the power off."
    );
    text
}

/// Make text safe in a roff line.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// The man page (section 8), in roff.
pub fn manpage(info: &AgentInfo, table: &OptionTable) -> String {
    let name = info.name;
    let mut page = String::new();
    let _ = writeln!(
        page,
        ".TH {} 8 \"\" \"umha {}\" \"System Administration\"",
        name.to_ascii_uppercase(),
        info.version
    );
    let _ = writeln!(
        page,
        ".SH NAME\n{} \\- {}",
        roff(name),
        roff(info.shortdesc)
    );
    for (link, shortdesc) in info.symlinks {
        let _ = writeln!(
            page,
            ".br\n{} \\- {} (symlink)",
            roff(link),
            roff(shortdesc)
        );
    }
    let _ = writeln!(
        page,
        ".SH SYNOPSIS\n.B {n}\n[\\fIOPTIONS\\fR]\n.br\n.B {n}\n< \\fIname=value lines\\fR",
        n = roff(name)
    );
    page.push_str(".SH DESCRIPTION\n");
    if !info.longdesc.is_empty() {
        let _ = writeln!(page, "{}\n.P", roff(info.longdesc));
    }
    let _ = writeln!(
        page,
        "{n} accepts options on the command line as well as from stdin. \
         pacemaker\\-fenced runs it without arguments and writes the options on stdin, \
         one name=value per line; lines starting with # are ignored and the last \
         occurrence of a name wins. The option names, letters and defaults are those \
         of fence\\-agents, so a stonith device configured for a fence\\-agents agent \
         works unchanged.",
        n = roff(name)
    );
    if !info.vendor_url.is_empty() {
        let _ = writeln!(page, ".P\nVendor URL: {}", roff(info.vendor_url));
    }

    page.push_str(".SH PARAMETERS\n");
    for spec in table.documented() {
        if spec.long.is_none() && spec.short.is_none() {
            continue;
        }
        let _ = writeln!(
            page,
            ".TP\n.B {}\n{}",
            roff(&spec.getopt_mixed()),
            roff(&description(spec))
        );
    }

    page.push_str(".SH ACTIONS\n");
    for action in advertised_actions(info) {
        let _ = writeln!(
            page,
            ".TP\n.B {}\n{}",
            roff(action.name()),
            roff(action.description())
        );
    }

    page.push_str(".SH STDIN PARAMETERS\n");
    for entry in entries(table) {
        if entry.deprecated {
            continue;
        }
        let mut desc = description(entry.spec);
        if let Some(old) = entry.spec.obsoletes {
            let _ = write!(desc, " Obsoletes: {old}");
        }
        let _ = writeln!(page, ".TP\n.B {}\n{}", roff(entry.name), roff(&desc));
    }
    page.push_str(
        ".TP\n.B nodename\nThe node being fenced; pacemaker\\-fenced always sends it.\n\
         .TP\n.B option\nDeprecated synonym of action, honoured when no action is given \
         (fence\\-agents 4.12 ignores it and reboots).\n",
    );

    let _ = writeln!(
        page,
        ".SH TIMEOUTS\n\
         Pacemaker does not pass its timeout (pcmk_off_timeout, 60 s by default) to the agent. \
         Unlike fence\\-agents, which disables its own timeouts under pacemaker\\-fenced and is \
         killed at that timeout, {n} keeps one deadline for the whole operation: \
         delay + login_timeout + shell_timeout + (shell_timeout + power_wait + power_timeout) \
         + 2 s for off, plus the on part (retry_on times) for reboot, capped at {cap} s unless \
         the off part alone needs more (then raise pcmk_off_timeout and pcmk_reboot_timeout to \
         match). A dead or stuck device therefore fails cleanly and early, and a fencing \
         topology moves on to its next level sooner. power_timeout=0 means a single \
         read\\-back; disable_timeout is ignored.",
        n = roff(name),
        cap = CEILING.as_secs()
    );
    let first_off = if info.capabilities.redundant_off_unsafe {
        "This device cannot take a power off while the target is already off, so an OFF it \
         reports before any request is believed and nothing is sent (Already OFF): a device \
         reporting a stale state can make a running node look fenced."
    } else {
        "While fencing (off, reboot), an OFF that the device reports before this run has \
         requested power off is not believed: power off is sent anyway and read back, so a \
         device reporting a stale state cannot make a running node look fenced."
    };
    let _ = writeln!(
        page,
        ".SH VERIFICATION\n\
         off succeeds only once the power has been read back as off after power off was \
         requested. {first_off} \
         reboot succeeds when its off part did, even if powering on fails. With method=cycle \
         the device's own power cycle is used, and success still needs power off to be \
         observed during the cycle (polled every 0.2 s within power_timeout); a target that \
         reads off at first is powered off and on instead of being cycled."
    );
    if table.contains("evacuate") {
        let _ = writeln!(page, ".SH EVACUATION MARKER\n{}", roff(EVACUATION_MARKER));
    }
    page.push_str(
        ".SH EXIT STATUS\n\
         .TP\n.B 0\nSuccess; for status, the power is on.\n\
         .TP\n.B 1\nFailure: bad options, device unreachable, login refused, power state not \
         confirmed in time, or unknown power state.\n\
         .TP\n.B 2\nstatus only: the power is off.\n",
    );
    let _ = writeln!(
        page,
        ".SH SEE ALSO\nstonith_admin(8), pcs(8), fence_ipmilan(8)"
    );
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{Capabilities, PlugMode};
    use crate::spec::common;

    fn agent() -> (AgentInfo, OptionTable) {
        let info = AgentInfo {
            plugs: PlugMode::Multiple,
            capabilities: Capabilities {
                list: true,
                cycle: true,
                diag: false,
                ..Capabilities::default()
            },
            ..AgentInfo::new("fence_z", "Fence agent for Z")
        };
        let mut table = OptionTable::common(&info);
        table.add(common::ip()).add(common::password());
        table.finish(&info);
        (info, table)
    }

    #[test]
    fn usage_lists_options_and_actions() {
        let (info, table) = agent();
        let text = usage(&info, &table);
        assert!(text.starts_with("Usage:\n\tfence_z [options]\nOptions:\n"));
        assert!(text.contains("   -a, --ip=[ip]                  IP address"));
        assert!(text.contains("reboot (default)"));
        assert!(text.contains("list-status"));
        assert!(!text.contains("nodename"));
        assert!(text.contains("--evacuate "));
        assert!(text.contains("--evacuate-attribute=[name]"));
        assert!(text.contains("(Default Value: 20)"));
    }

    #[test]
    fn manpage_is_roff_with_every_section() {
        let (info, table) = agent();
        let page = manpage(&info, &table);
        assert!(page.starts_with(".TH FENCE_Z 8 "));
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH PARAMETERS",
            ".SH ACTIONS",
            ".SH STDIN PARAMETERS",
            ".SH TIMEOUTS",
            ".SH EVACUATION MARKER",
            ".SH EXIT STATUS",
        ] {
            assert!(page.contains(section), "{section}");
        }
        assert!(page.contains(".B \\-a, \\-\\-ip=[ip]"));
        assert!(page.contains("is not believed: power off is sent anyway"));
        assert!(page.contains("Obsoletes: ipaddr"));
        // No line may start with a stray roff control character from the text.
        for line in page.lines() {
            if line.starts_with('\'') {
                panic!("unescaped line: {line}");
            }
        }
    }

    #[test]
    fn manpage_names_the_risk_of_the_opt_out() {
        let (mut info, table) = agent();
        info.capabilities.redundant_off_unsafe = true;
        let page = manpage(&info, &table);
        assert!(page.contains("is believed and nothing is sent (Already OFF)"));
        assert!(page.contains("can make a running node look fenced"));
    }
}
