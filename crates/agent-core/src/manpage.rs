//! The agent's man page, `ocf_<provider>_<name>(7)`, in roff.
//!
//! Named and laid out like resource-agents' pages (`ocf_heartbeat_IPaddr2(7)`),
//! so `man -k ocf_` finds umha agents next to the others.

use std::fmt::Write as _;

use crate::value::format_duration;
use crate::{Action, AgentSpec, usage};

/// The page name without section: `ocf_umha_storage-monitor`.
pub fn page_name(spec: &AgentSpec) -> String {
    format!("ocf_{}_{}", spec.provider, spec.name)
}

/// The complete page.
pub fn render(spec: &AgentSpec) -> String {
    let mut m = String::with_capacity(8192);
    let _ = writeln!(
        m,
        ".TH {} 7 \"\" \"umha {}\" \"OCF resource agents\"",
        roff_line(&page_name(spec).to_uppercase()),
        roff_line(spec.version)
    );
    m.push_str(".SH NAME\n");
    let _ = writeln!(
        m,
        "{} \\- {}",
        roff_line(&page_name(spec)),
        roff_line(spec.shortdesc.trim())
    );

    m.push_str(".SH SYNOPSIS\n");
    let _ = writeln!(
        m,
        "[\\fBOCF_RESKEY_\\fR\\fIname\\fR=\\fIvalue\\fR ...] \\fB{}\\fR {}",
        roff_line(spec.name),
        roff_line(&format!(
            "{{ {} }}",
            usage::supported_actions(spec)
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(" | ")
        ))
    );

    m.push_str(".SH DESCRIPTION\n");
    paragraphs(&mut m, spec.longdesc);
    m.push_str(".PP\n");
    let _ = writeln!(
        m,
        "The agent follows OCF 1.1 exit codes. A failure's reason is printed on standard error as \\fBocf-exit-reason:\\fR\\fItext\\fR, which \\fBcrm_mon\\fR(8) shows; details go to the cluster log, tagged \\fB{}(\\fR\\fIresource\\fR\\fB)\\fR.",
        roff_line(spec.name)
    );

    if !spec.params.is_empty() {
        m.push_str(".SH PARAMETERS\n");
        for p in spec.params {
            let _ = writeln!(
                m,
                ".TP\n\\fB{}\\fR ({})",
                roff_line(p.name),
                roff_line(&usage::param_summary(p))
            );
            let _ = writeln!(m, "{}", roff_line(p.shortdesc.trim()));
            m.push_str(".IP\n");
            paragraphs_in_item(&mut m, p.longdesc);
            if let Some(note) = p.format_note() {
                let _ = writeln!(m, ".IP\n{}", roff_line(&note));
            }
            if spec.supports(Action::Reload) {
                let _ = writeln!(
                    m,
                    ".IP\n{}",
                    if p.reloadable {
                        "A change is applied by a reload, without restarting the resource."
                    } else {
                        "A change restarts the resource."
                    }
                );
            }
        }
    }

    m.push_str(".SH OPERATIONS\n");
    m.push_str("Default timeouts and intervals; set your own with the operation definitions of the resource.\n");
    for a in spec.actions {
        let mut what = format!("timeout {}", format_duration(a.timeout));
        if let Some(i) = a.interval {
            let _ = write!(what, ", interval {}", format_duration(i));
        }
        if let Some(d) = a.depth {
            let _ = write!(what, ", depth {d}");
        }
        if let Some(r) = a.role {
            let _ = write!(what, ", role {r}");
        }
        let _ = writeln!(m, ".TP\n\\fB{}\\fR\n{}", a.action.name(), roff_line(&what));
    }
    if spec.supports(Action::Reload) {
        m.push_str(".TP\n\\fBreload-agent\\fR\nThe OCF 1.1 name of \\fBreload\\fR; answered the same way.\n");
    }

    if !spec.examples.is_empty() {
        m.push_str(".SH EXAMPLES\n");
        for e in spec.examples {
            let _ = writeln!(m, ".SS {} ({})", roff_line(e.title), e.tool.name());
            m.push_str(".PP\n.nf\n.RS 4\n");
            for line in e.command.trim().lines() {
                let _ = writeln!(m, "{}", roff_line(line));
            }
            m.push_str(".RE\n.fi\n");
        }
    }

    m.push_str(".SH SEE ALSO\n");
    let mut refs: Vec<&str> = spec.see_also.to_vec();
    for r in ["ocf-tester(8)", "crm_resource(8)", "pcs(8)", "crm(8)"] {
        if !refs.contains(&r) {
            refs.push(r);
        }
    }
    let refs: Vec<String> = refs.iter().map(|r| man_ref(r)).collect();
    let _ = writeln!(m, "{}", refs.join(",\n"));
    m
}

/// `name(8)` as `\fBname\fR(8)`.
fn man_ref(r: &str) -> String {
    match r.split_once('(') {
        Some((name, rest)) => format!("\\fB{}\\fR({}", roff_line(name), roff_line(rest)),
        None => roff_line(r),
    }
}

fn paragraphs(m: &mut String, text: &str) {
    for (i, para) in split_paragraphs(text).iter().enumerate() {
        if i > 0 {
            m.push_str(".PP\n");
        }
        let _ = writeln!(m, "{}", roff_line(para));
    }
}

fn paragraphs_in_item(m: &mut String, text: &str) {
    for (i, para) in split_paragraphs(text).iter().enumerate() {
        if i > 0 {
            m.push_str(".IP\n");
        }
        let _ = writeln!(m, "{}", roff_line(para));
    }
}

/// Paragraphs separated by blank lines, each joined into one line.
fn split_paragraphs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(current.join(" "));
                current.clear();
            }
        } else {
            current.push(line.trim());
        }
    }
    if !current.is_empty() {
        out.push(current.join(" "));
    }
    out
}

/// One line of text made safe for roff: backslashes and hyphens escaped, a
/// leading control character neutralised, no embedded newlines.
pub fn roff_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    if out.starts_with('.') || out.starts_with('\'') {
        out.insert_str(0, "\\&");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn roff_escapes() {
        assert_eq!(roff_line(".SH evil"), "\\&.SH evil");
        assert_eq!(roff_line("a\\b - c"), "a\\eb \\- c");
        assert_eq!(roff_line("x\ny"), "x y");
    }

    #[test]
    fn paragraphs_split_on_blank_lines() {
        assert_eq!(split_paragraphs("a\nb\n\n  \nc\n"), ["a b", "c"]);
    }

    proptest! {
        #[test]
        fn roff_lines_cannot_start_requests(s in any::<String>()) {
            let line = roff_line(&s);
            prop_assert!(!line.contains('\n'));
            prop_assert!(!line.starts_with('.') && !line.starts_with('\''));
        }
    }
}

#[cfg(test)]
mod page_tests {
    use super::*;
    use crate::fixtures::RICH;

    #[test]
    fn page_has_the_usual_sections() {
        let m = render(&RICH);
        assert!(
            m.starts_with(
                ".TH OCF_UMHA_RICH\\-TEST 7 \"\" \"umha 1.2.3\" \"OCF resource agents\"\n"
            ),
            "{m}"
        );
        assert!(m.contains(".SH NAME\nocf_umha_rich\\-test \\- Tests <everything> & more\n"));
        let order = [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH DESCRIPTION",
            ".SH PARAMETERS",
            ".SH OPERATIONS",
            ".SH EXAMPLES",
            ".SH SEE ALSO",
        ];
        let mut last = 0;
        for s in order {
            let at = m.find(s).unwrap_or_else(|| panic!("{s} missing"));
            assert!(at >= last, "{s} out of order");
            last = at;
        }
        assert!(m.contains(".TP\n\\fBwait\\fR (duration, default 500ms)\nWait\n"));
        assert!(m.contains("A change restarts the resource."));
        assert!(m.contains("A change is applied by a reload"));
        assert!(m.contains(".TP\n\\fBmonitor\\fR\ntimeout 20s, interval 10s, depth 0\n"));
        assert!(m.contains(".SS Create it (pcs)\n.PP\n.nf\n.RS 4\npcs resource create rt ocf:umha:rich\\-test name=x \\e\n    op monitor interval=10s\n.RE\n.fi\n"));
        assert!(m.contains("\\fBcrm_mon\\fR(8),\n"));
        assert!(m.contains("\\fBocf\\-tester\\fR(8)"));
        // The description's ".SH" line is text, not a request.
        assert!(!m.lines().any(|l| l.starts_with(".SH not")));
        assert!(m.contains("back\\eslash"));
        for line in m.lines() {
            assert!(!line.starts_with('\''), "{line}");
        }
    }

    #[test]
    fn page_renders_with_groff_when_available() {
        let out = umha_common::Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .stdin(render(&RICH).into_bytes())
            .timeout(std::time::Duration::from_secs(30))
            .run();
        match out {
            Err(umha_common::ExecError::NotFound { .. }) => {
                println!("SKIPPED: groff not installed")
            }
            Err(e) => panic!("{e}"),
            Ok(o) => {
                assert!(o.success(), "{}", String::from_utf8_lossy(&o.stderr));
                let warnings = String::from_utf8_lossy(&o.stderr);
                assert!(warnings.trim().is_empty(), "groff warnings:\n{warnings}");
            }
        }
    }
}
