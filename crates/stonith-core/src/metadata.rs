//! `-o metadata`: the XML Pacemaker and pcs read, in fence-agents' format.
//!
//! Valid against fence-agents' `metadata.rng` (`/usr/share/cluster/relaxng/`).
//! Pacemaker reads from it whether the agent takes `plug` (then it passes the
//! target as `plug=`) and whether it can `list` (then it may ask the device
//! which nodes it fences), so both are advertised only when true. Options
//! with an older name appear twice, as fence-agents prints them: the new name
//! with `obsoletes="old"` and the old one with `deprecated="1"`.

use std::fmt::Write as _;

use crate::action::Action;
use crate::agent::{AgentInfo, PlugMode};
use crate::spec::{OptionSpec, OptionTable, ValueType};

/// The actions the metadata lists for `info`, in fence-agents' order.
pub fn advertised_actions(info: &AgentInfo) -> Vec<Action> {
    let mut actions = vec![Action::On, Action::Off, Action::Reboot, Action::Status];
    if info.plugs == PlugMode::Multiple && info.capabilities.list {
        actions.extend([Action::List, Action::ListStatus]);
    }
    actions.extend([
        Action::Monitor,
        Action::Metadata,
        Action::Manpage,
        Action::ValidateAll,
    ]);
    if info.capabilities.diag {
        actions.push(Action::Diag);
    }
    actions
}

/// One `<parameter>`: an option under its name, or under its older name.
pub(crate) struct Entry<'a> {
    pub name: &'a str,
    pub spec: &'a OptionSpec,
    pub deprecated: bool,
}

/// Every documented name, sorted as fence-agents sorts them: by order, then name.
pub(crate) fn entries(table: &OptionTable) -> Vec<Entry<'_>> {
    let mut list = Vec::new();
    for spec in table.documented() {
        list.push(Entry {
            name: spec.name,
            spec,
            deprecated: false,
        });
        if let Some(old) = spec.obsoletes {
            list.push(Entry {
                name: old,
                spec,
                deprecated: true,
            });
        }
    }
    list.sort_by(|a, b| (a.spec.order, a.name).cmp(&(b.spec.order, b.name)));
    list
}

/// The metadata document.
pub fn render(info: &AgentInfo, table: &OptionTable) -> String {
    let mut xml = String::new();
    xml.push_str("<?xml version=\"1.0\" ?>\n");
    let _ = writeln!(
        xml,
        "<resource-agent name=\"{}\" shortdesc=\"{}\" >",
        escape(info.name),
        escape(info.shortdesc)
    );
    for (name, shortdesc) in info.symlinks {
        let _ = writeln!(
            xml,
            "<symlink name=\"{}\" shortdesc=\"{}\"/>",
            escape(name),
            escape(shortdesc)
        );
    }
    let _ = writeln!(xml, "<longdesc>{}</longdesc>", escape(info.longdesc));
    let _ = writeln!(xml, "<vendor-url>{}</vendor-url>", escape(info.vendor_url));
    xml.push_str("<parameters>\n");
    for entry in entries(table) {
        let spec = entry.spec;
        let extra = if entry.deprecated {
            " deprecated=\"1\"".to_owned()
        } else if let Some(old) = spec.obsoletes {
            format!(" obsoletes=\"{}\"", escape(old))
        } else {
            String::new()
        };
        let _ = writeln!(
            xml,
            "\t<parameter name=\"{}\" unique=\"0\" required=\"{}\"{extra}>",
            escape(entry.name),
            u8::from(spec.required)
        );
        let _ = writeln!(
            xml,
            "\t\t<getopt mixed=\"{}\" />",
            escape(&spec.getopt_mixed())
        );
        let default = spec
            .default
            .as_ref()
            .map(|d| format!(" default=\"{}\"", escape(d)))
            .unwrap_or_default();
        match spec.value {
            ValueType::Select(choices) => {
                let _ = writeln!(xml, "\t\t<content type=\"select\"{default} >");
                for choice in choices {
                    let _ = writeln!(xml, "\t\t\t<option value=\"{}\" />", escape(choice));
                }
                xml.push_str("\t\t</content>\n");
            }
            other => {
                let _ = writeln!(
                    xml,
                    "\t\t<content type=\"{}\"{default} />",
                    other.metadata_name()
                );
            }
        }
        let _ = writeln!(
            xml,
            "\t\t<shortdesc lang=\"en\">{}</shortdesc>",
            escape(&spec.shortdesc)
        );
        xml.push_str("\t</parameter>\n");
    }
    xml.push_str("</parameters>\n<actions>\n");
    for action in advertised_actions(info) {
        if action == Action::On {
            xml.push_str("\t<action name=\"on\" automatic=\"0\"/>\n");
        } else {
            let _ = writeln!(xml, "\t<action name=\"{}\" />", action.name());
        }
    }
    xml.push_str("</actions>\n</resource-agent>\n");
    xml
}

pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Not allowed in XML 1.0 at all.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::Capabilities;
    use crate::fixtures::add_login;

    fn ipmi_like() -> (AgentInfo, OptionTable) {
        let info = AgentInfo {
            capabilities: Capabilities {
                cycle: true,
                diag: true,
                list: false,
                ..Capabilities::default()
            },
            ..AgentInfo::new("fence_x", "Fence agent for <X> & co")
        };
        let mut table = OptionTable::common(&info);
        add_login(&mut table);
        table.finish(&info);
        (info, table)
    }

    #[test]
    fn obsoleted_names_appear_twice() {
        let (info, table) = ipmi_like();
        let xml = render(&info, &table);
        assert!(
            xml.contains(
                "<parameter name=\"ip\" unique=\"0\" required=\"0\" obsoletes=\"ipaddr\">"
            )
        );
        assert!(
            xml.contains(
                "<parameter name=\"ipaddr\" unique=\"0\" required=\"0\" deprecated=\"1\">"
            )
        );
        assert!(
            xml.contains(
                "<parameter name=\"plug\" unique=\"0\" required=\"0\" obsoletes=\"port\">"
            )
        );
        assert!(xml.contains("<parameter name=\"port_as_ip\""));
        assert!(xml.contains("name=\"passwd\" unique=\"0\" required=\"0\" deprecated=\"1\""));
    }

    #[test]
    fn hidden_options_are_not_documented() {
        let (info, table) = ipmi_like();
        let xml = render(&info, &table);
        for hidden in ["\"nodename\"", "\"nodeid\"", "\"option\""] {
            assert!(!xml.contains(hidden), "{hidden}");
        }
    }

    #[test]
    fn text_is_escaped_and_selects_have_options() {
        let (info, table) = ipmi_like();
        let xml = render(&info, &table);
        assert!(xml.contains("shortdesc=\"Fence agent for &lt;X&gt; &amp; co\""));
        assert!(xml.contains("<content type=\"select\" default=\"onoff\" >"));
        assert!(xml.contains("\t\t\t<option value=\"cycle\" />"));
        assert!(xml.contains("Make &quot;port/plug&quot; to be an alias"));
    }

    #[test]
    fn actions_follow_capabilities() {
        let (info, _) = ipmi_like();
        let names: Vec<&str> = advertised_actions(&info).iter().map(|a| a.name()).collect();
        assert_eq!(
            names,
            [
                "on",
                "off",
                "reboot",
                "status",
                "monitor",
                "metadata",
                "manpage",
                "validate-all",
                "diag"
            ]
        );
        let multi = AgentInfo {
            plugs: PlugMode::Multiple,
            capabilities: Capabilities {
                list: true,
                ..Capabilities::default()
            },
            ..AgentInfo::new("fence_y", "y")
        };
        let names: Vec<&str> = advertised_actions(&multi)
            .iter()
            .map(|a| a.name())
            .collect();
        assert!(names.contains(&"list") && names.contains(&"list-status"));
        assert!(!names.contains(&"diag") && !names.contains(&"start"));
    }

    /// The single-target shape fence_ipmi will have, against the real schema.
    #[test]
    fn single_target_metadata_validates_against_the_schema() {
        let schema = std::path::Path::new("/usr/share/cluster/relaxng/metadata.rng");
        let xmllint = std::process::Command::new("xmllint")
            .arg("--version")
            .output()
            .is_ok();
        if !schema.exists() || !xmllint {
            eprintln!("SKIPPED: xmllint or {} missing", schema.display());
            return;
        }
        let (mut info, table) = ipmi_like();
        info.symlinks = &[("fence_x_plus", "Fence agent for X+")];
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("metadata.xml");
        std::fs::write(&file, render(&info, &table)).unwrap();
        let out = std::process::Command::new("xmllint")
            .args(["--noout", "--relaxng"])
            .arg(schema)
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn order_is_fence_agents_order() {
        let (info, table) = ipmi_like();
        let xml = render(&info, &table);
        let pos = |name: &str| {
            xml.find(&format!("<parameter name=\"{name}\""))
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        assert!(pos("action") < pos("ip"));
        assert!(pos("ip") < pos("ipaddr"));
        assert!(pos("ipaddr") < pos("ipport"));
        assert!(pos("username") < pos("quiet"));
        assert!(pos("help") < pos("plug_separator"));
        assert!(pos("stonith_status_sleep") < pos("retry_on"));
    }
}
