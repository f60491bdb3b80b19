//! The `usage`/`--help` text: what someone at a shell needs to run the agent.

use std::fmt::Write as _;

use crate::value::format_duration;
use crate::{Action, AgentSpec, ParamSpec};

/// The actions the agent answers, in the order of [`Action::ALL`].
pub fn supported_actions(spec: &AgentSpec) -> Vec<Action> {
    Action::ALL
        .into_iter()
        .filter(|a| spec.supports(*a))
        .collect()
}

/// `{start|stop|...}`.
pub fn action_synopsis(spec: &AgentSpec) -> String {
    let names: Vec<&str> = supported_actions(spec).iter().map(|a| a.name()).collect();
    format!("{{{}}}", names.join("|"))
}

/// The full help text.
pub fn render(spec: &AgentSpec) -> String {
    let mut u = String::new();
    let _ = writeln!(u, "usage: {} {}", spec.name, action_synopsis(spec));
    let _ = writeln!(
        u,
        "\n{} {} - {}\n",
        spec.full_name(),
        spec.version,
        spec.shortdesc.trim()
    );
    let _ = writeln!(u, "{}\n", spec.longdesc.trim());
    u.push_str("Actions (the only argument):\n");
    for a in spec.actions {
        let mut line = format!(
            "  {:<14}timeout {}",
            a.action.name(),
            format_duration(a.timeout)
        );
        if let Some(i) = a.interval {
            let _ = write!(line, ", interval {}", format_duration(i));
        }
        if let Some(r) = a.role {
            let _ = write!(line, ", role {r}");
        }
        let _ = writeln!(u, "{line}");
    }
    if spec.supports(Action::Reload) {
        u.push_str("  reload-agent  same as reload\n");
    }
    u.push_str("  usage         this text (also help, --help)\n");
    u.push_str("  --man         the man page, in roff\n");
    u.push_str("  --version     the agent's version\n");
    if !spec.params.is_empty() {
        u.push_str("\nParameters (environment variables OCF_RESKEY_<name>):\n");
        // Long names get their own column width, so they never run into the summary.
        let width = spec
            .params
            .iter()
            .map(|p| p.name.len() + 2)
            .max()
            .unwrap_or(0)
            .max(14);
        for p in spec.params {
            let _ = writeln!(u, "  {:<width$}{}", p.name, param_summary(p));
            let _ = writeln!(u, "  {:<width$}{}", "", p.shortdesc.trim());
        }
    }
    let _ = writeln!(
        u,
        "\nExit codes follow OCF 1.1; a failure's reason is printed on stderr as\n\
         ocf-exit-reason:<text>. The meta-data action prints the full descriptions;\n\
         see also ocf_{}_{}(7).",
        spec.provider, spec.name
    );
    u
}

/// `duration, default 10s, required, unique, reloadable`.
pub fn param_summary(p: &ParamSpec) -> String {
    let mut parts = vec![p.kind.name().to_owned()];
    if let Some(d) = p.default_text() {
        parts.push(format!("default {d}"));
    }
    if p.required {
        parts.push("required".into());
    }
    if p.unique {
        parts.push("unique".into());
    }
    if p.reloadable {
        parts.push("reloadable".into());
    }
    if !p.choices.is_empty() {
        parts.push(format!("one of {}", p.choices.join("|")));
    }
    if let Some((min, max)) = p.range {
        parts.push(format!("{min}..{max}"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::RICH;

    #[test]
    fn usage_lists_actions_and_parameters() {
        let u = render(&RICH);
        assert!(u.starts_with(
            "usage: rich-test {start|stop|monitor|promote|demote|notify|reload|reload-agent|migrate_to|migrate_from|validate-all|meta-data|usage}\n"
        ), "{u}");
        assert!(u.contains("ocf:umha:rich-test 1.2.3 - Tests <everything> & more"));
        assert!(u.contains("  monitor       timeout 20s, interval 11s, role Promoted\n"));
        assert!(u.contains("  count         integer, default 3, reloadable, 0..10\n"));
        assert!(u.contains("  name          string, required\n"));
        assert!(u.contains("  mode          string, default fast, one of fast|slow\n"));
        assert!(u.contains("ocf_umha_rich-test(7)"));
    }
}
