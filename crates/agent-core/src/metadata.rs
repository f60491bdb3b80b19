//! The `meta-data` action: the agent's table as OCF resource-agent XML.
//!
//! The output stays inside the OCF 1.0 DTD (`ra-api-1.dtd`) because
//! `ocf-tester` and some tools validate against it: no `reloadable` or
//! `deprecated` attributes, no `select` type, no `reload-agent` action, and
//! the OCF version element says 1.0. Reloadability is expressed the way
//! Pacemaker reads OCF 1.0 agents (see [`AgentSpec::advertised_unique`]).

use std::fmt::Write as _;

use crate::value::format_duration;
use crate::{AgentSpec, ParamSpec};

/// The OCF standard version the meta-data claims; see the module docs.
pub const OCF_VERSION: &str = "1.0";

/// The complete meta-data document.
pub fn render(spec: &AgentSpec) -> String {
    let mut x = String::with_capacity(4096);
    x.push_str("<?xml version=\"1.0\"?>\n");
    x.push_str("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n");
    let _ = writeln!(
        x,
        "<resource-agent name=\"{}\" version=\"{}\">",
        attr(spec.name),
        attr(spec.version)
    );
    let _ = writeln!(x, "<version>{OCF_VERSION}</version>\n");
    let _ = writeln!(
        x,
        "<longdesc lang=\"en\">\n{}\n</longdesc>",
        text(spec.longdesc.trim())
    );
    let _ = writeln!(
        x,
        "<shortdesc lang=\"en\">{}</shortdesc>\n",
        text(spec.shortdesc.trim())
    );

    x.push_str("<parameters>\n");
    for p in spec.params {
        parameter(&mut x, spec, p);
    }
    x.push_str("</parameters>\n\n<actions>\n");
    for a in spec.actions {
        let _ = write!(
            x,
            "<action name=\"{}\" timeout=\"{}\"",
            a.action.name(),
            format_duration(a.timeout)
        );
        if let Some(interval) = a.interval {
            let _ = write!(x, " interval=\"{}\"", format_duration(interval));
        }
        if let Some(depth) = a.depth {
            let _ = write!(x, " depth=\"{depth}\"");
        }
        if let Some(role) = a.role {
            let _ = write!(x, " role=\"{}\"", attr(role));
        }
        x.push_str(" />\n");
    }
    x.push_str("</actions>\n</resource-agent>\n");
    x
}

fn parameter(x: &mut String, spec: &AgentSpec, p: &ParamSpec) {
    let _ = writeln!(
        x,
        "<parameter name=\"{}\" unique=\"{}\" required=\"{}\">",
        attr(p.name),
        u8::from(spec.advertised_unique(p)),
        u8::from(p.required)
    );
    let mut long = p.longdesc.trim().to_owned();
    if let Some(note) = p.format_note() {
        long.push_str("\n\n");
        long.push_str(&note);
    }
    let _ = writeln!(x, "<longdesc lang=\"en\">\n{}\n</longdesc>", text(&long));
    let _ = writeln!(
        x,
        "<shortdesc lang=\"en\">{}</shortdesc>",
        text(p.shortdesc.trim())
    );
    let _ = write!(x, "<content type=\"{}\"", p.kind.dtd_type());
    if let Some(default) = p.default_text() {
        let _ = write!(x, " default=\"{}\"", attr(default));
    }
    x.push_str(" />\n</parameter>\n\n");
}

/// Character data: markup escaped, characters XML 1.0 forbids dropped.
pub fn text(s: &str) -> String {
    escape(s, false)
}

/// An attribute value in double quotes.
pub fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, in_attr: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attr => out.push_str("&quot;"),
            '\'' if in_attr => out.push_str("&apos;"),
            '\n' if in_attr => out.push_str("&#10;"),
            '\t' if in_attr => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if is_xml_char(c) => out.push(c),
            _ => {}
        }
    }
    out
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_markup_and_drops_forbidden_characters() {
        assert_eq!(text("a < b && c > d"), "a &lt; b &amp;&amp; c &gt; d");
        assert_eq!(attr("say \"hi\" 'x'"), "say &quot;hi&quot; &apos;x&apos;");
        assert_eq!(text("bell\u{7}\u{FFFE}"), "bell");
        assert_eq!(attr("a\nb"), "a&#10;b");
    }

    proptest! {
        #[test]
        fn escaped_text_has_no_raw_markup(s in any::<String>()) {
            for escaped in [text(&s), attr(&s)] {
                prop_assert!(!escaped.contains('<'));
                prop_assert!(!escaped.contains('>'));
                prop_assert!(escaped.chars().all(|c| c == '\n' || c == '\t' || is_xml_char(c)));
                for (i, _) in escaped.match_indices('&') {
                    let rest = &escaped[i..];
                    prop_assert!(
                        ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#10;", "&#9;", "&#13;"]
                            .iter()
                            .any(|e| rest.starts_with(e))
                    );
                }
            }
            prop_assert!(!attr(&s).contains('"'));
        }
    }
}

#[cfg(test)]
mod document_tests {
    use super::*;
    use crate::fixtures::RICH;
    use crate::testing::xmllint_dtd;

    #[test]
    fn the_rich_table_is_valid() {
        crate::testing::check_spec(&RICH).unwrap();
    }

    #[test]
    fn meta_data_is_valid_against_the_ocf_dtd() {
        let xml = render(&RICH);
        match xmllint_dtd(&xml) {
            None => println!(
                "SKIPPED: xmllint or {} not installed",
                crate::testing::RA_API_DTD
            ),
            Some(result) => {
                if let Err(e) = result {
                    panic!("meta-data is not valid:\n{e}\n{xml}");
                }
            }
        }
    }

    #[test]
    fn meta_data_shape() {
        let xml = render(&RICH);
        assert!(xml.starts_with(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n<resource-agent name=\"rich-test\" version=\"1.2.3\">\n<version>1.0</version>\n"
        ));
        assert!(
            xml.contains("<shortdesc lang=\"en\">Tests &lt;everything&gt; &amp; more</shortdesc>")
        );
        // Durations and lists are strings to the DTD, explained in the text.
        assert!(xml.contains("<content type=\"string\" default=\"500ms\" />"));
        assert!(xml.contains("The value is a duration"));
        assert!(xml.contains("<content type=\"integer\" default=\"3\" />"));
        assert!(xml.contains("<content type=\"boolean\" default=\"true\" />"));
        assert!(
            xml.contains("default=\"${HA_RSCTMP}/rich-test@&lt;instance&gt;@&lt;node&gt;.state\"")
        );
        // Reload exists, so non-reloadable parameters are advertised unique.
        assert!(xml.contains("<parameter name=\"wait\" unique=\"1\" required=\"0\">"));
        assert!(xml.contains("<parameter name=\"count\" unique=\"0\" required=\"0\">"));
        assert!(xml.contains("<parameter name=\"name\" unique=\"1\" required=\"1\">"));
        assert!(
            xml.contains(
                "<action name=\"monitor\" timeout=\"20s\" interval=\"10s\" depth=\"0\" />"
            )
        );
        assert!(xml.contains(
            "<action name=\"monitor\" timeout=\"20s\" interval=\"11s\" role=\"Promoted\" />"
        ));
        assert!(xml.contains("<action name=\"validate-all\" timeout=\"1500ms\" />"));
        for forbidden in [
            "reloadable",
            "reload-agent",
            "deprecated",
            "select",
            "usage",
        ] {
            assert!(!xml.contains(forbidden), "{forbidden}");
        }
        let actions = xml.matches("<action ").count();
        assert_eq!(actions, RICH.actions.len());
        assert_eq!(xml.matches("<parameter ").count(), RICH.params.len());
    }
}
