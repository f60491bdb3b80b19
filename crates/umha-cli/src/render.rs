//! Output shared by the reports: `--output-as`, aligned text tables, and
//! XML written by hand (a handful of elements does not need a library, and
//! escaping is the one thing to get right).

use std::fmt::Write as _;

use clap::ValueEnum;

/// `--output-as`, named as in `crm_mon --output-as`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Xml,
    Json,
}

/// Columns padded to the widest cell; the last column is not padded, so no
/// line ends in blanks.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let cells: Vec<&str> = cells.collect();
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == last {
                text.push_str(cell);
            } else {
                let _ = write!(
                    text,
                    "{cell:<w$}  ",
                    w = widths.get(i).copied().unwrap_or(0)
                );
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// Text safe in an XML attribute or element.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// `<name a="1" b="2"/>`, attributes whose value is `None` left out.
pub fn xml_empty(indent: usize, name: &str, attrs: &[(&str, Option<String>)]) -> String {
    format!("{}<{name}{}/>\n", "  ".repeat(indent), xml_attrs(attrs))
}

pub fn xml_open(indent: usize, name: &str, attrs: &[(&str, Option<String>)]) -> String {
    format!("{}<{name}{}>\n", "  ".repeat(indent), xml_attrs(attrs))
}

pub fn xml_close(indent: usize, name: &str) -> String {
    format!("{}</{name}>\n", "  ".repeat(indent))
}

fn xml_attrs(attrs: &[(&str, Option<String>)]) -> String {
    let mut out = String::new();
    for (k, v) in attrs {
        if let Some(v) = v {
            let _ = write!(out, " {k}=\"{}\"", xml_escape(v));
        }
    }
    out
}

/// JSON, pretty and with a final newline (stable across runs: struct
/// fields keep their order, maps are sorted).
pub fn json<T: serde::Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value)
        .unwrap_or_else(|e| format!("{{\"error\": \"{}\"}}", xml_escape(&e.to_string())));
    text.push('\n');
    text
}

pub fn or_dash(value: Option<&str>) -> String {
    value.filter(|v| !v.is_empty()).unwrap_or("-").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_without_trailing_blanks() {
        let t = table(
            &["NODE", "STATE"],
            &[
                vec!["cmp1".into(), "online".into()],
                vec!["c".into(), "".into()],
            ],
        );
        assert_eq!(t, "NODE  STATE\ncmp1  online\nc\n");
    }

    #[test]
    fn xml_escapes_everything_dangerous() {
        assert_eq!(xml_escape("a<b>&\"'\u{1}"), "a&lt;b&gt;&amp;&quot;&apos;?");
        assert_eq!(
            xml_empty(1, "n", &[("a", Some("x".into())), ("b", None)]),
            "  <n a=\"x\"/>\n"
        );
    }
}
