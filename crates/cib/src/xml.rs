//! Small readers shared by the CIB, fence-history and crm_mon parsers.
//!
//! Pacemaker's own readers are forgiving: a missing or garbled attribute falls
//! back to a default rather than failing the whole document. These helpers do
//! the same, and never index or unwrap, so hostile input cannot panic.

use roxmltree::{Document, Node, ParsingOptions};

use crate::CibError;

/// Parse text as XML. DTDs stay disabled: Pacemaker never emits one, and it
/// is how entity-expansion bombs get in.
pub(crate) fn parse_document<'i>(
    text: &'i str,
    what: &'static str,
) -> Result<Document<'i>, CibError> {
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(text, options).map_err(|e| CibError::Malformed {
        what,
        detail: e.to_string(),
    })
}

/// Element children named `name`.
pub(crate) fn children<'a, 'i>(
    node: Node<'a, 'i>,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'i>> + use<'a, 'i> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The first element child named `name`.
pub(crate) fn child<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> Option<Node<'a, 'i>> {
    children(node, name).next()
}

/// Pacemaker's `crm_is_true`: "true", "on", "yes", "y" and "1", in any case.
pub(crate) fn is_true(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        ["true", "on", "yes", "y", "1"]
            .iter()
            .any(|t| v.eq_ignore_ascii_case(t))
    })
}

/// Pacemaker's `pcmk__parse_bool`: `Some` only for a recognised spelling.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    if is_true(Some(value)) {
        Some(true)
    } else if ["false", "off", "no", "n", "0"]
        .iter()
        .any(|f| value.eq_ignore_ascii_case(f))
    {
        Some(false)
    } else {
        None
    }
}

/// A leading integer as C's `strtoll` reads it (`"12abc"` is 12), which is
/// what Pacemaker's scanners accept. `None` when no digits lead.
pub(crate) fn leading_int(value: &str) -> Option<i64> {
    let t = value.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, t.get(1..)?),
        Some(b'+') => (false, t.get(1..)?),
        _ => (false, t),
    };
    let end = digits
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    let number = digits.get(..end).filter(|d| !d.is_empty())?;
    // Saturate like strtoll on overflow.
    let magnitude = number.parse::<i64>().unwrap_or(i64::MAX);
    Some(if neg {
        magnitude.saturating_neg()
    } else {
        magnitude
    })
}

/// An integer attribute, `default` when absent or unreadable.
pub(crate) fn int_attr(node: Node<'_, '_>, name: &str, default: i64) -> i64 {
    node.attribute(name)
        .and_then(leading_int)
        .unwrap_or(default)
}

/// An attribute as an owned string.
pub(crate) fn owned_attr(node: Node<'_, '_>, name: &str) -> Option<String> {
    node.attribute(name).map(str::to_owned)
}

/// Pacemaker's `char2score`: INFINITY is one million.
pub(crate) fn score(value: Option<&str>) -> i64 {
    const INFINITY: i64 = 1_000_000;
    let Some(v) = value.map(str::trim) else {
        return 0;
    };
    if v.eq_ignore_ascii_case("INFINITY") || v.eq_ignore_ascii_case("+INFINITY") {
        INFINITY
    } else if v.eq_ignore_ascii_case("-INFINITY") {
        -INFINITY
    } else if v.eq_ignore_ascii_case("red") {
        // node-health scores; not meaningful here, but keep the order sane.
        -INFINITY
    } else {
        leading_int(v).unwrap_or(0).clamp(-INFINITY, INFINITY)
    }
}

/// Name/value pairs of the `set_name` blocks under `parent`, in the order
/// Pacemaker applies them: `first_id` first, then by descending score, then
/// document order. Blocks carrying a `<rule>` are skipped: evaluating rules
/// (dates, node attributes, resource types) is the scheduler's business, and
/// guessing could report a value the cluster is not using.
pub(crate) fn nvsets(
    parent: Node<'_, '_>,
    set_name: &'static str,
    first_id: Option<&str>,
) -> Vec<(String, String)> {
    let mut sets: Vec<(bool, i64, usize, Node<'_, '_>)> = children(parent, set_name)
        .enumerate()
        .filter(|(_, set)| child(*set, "rule").is_none())
        .map(|(index, set)| {
            let is_first = first_id.is_some() && set.attribute("id") == first_id;
            (is_first, score(set.attribute("score")), index, set)
        })
        .collect();
    sets.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    let mut pairs = Vec::new();
    for (_, _, _, set) in sets {
        for pair in children(set, "nvpair") {
            // An nvpair with id-ref or without a value sets nothing.
            if let (Some(name), Some(value)) = (pair.attribute("name"), pair.attribute("value")) {
                pairs.push((name.to_owned(), value.to_owned()));
            }
        }
    }
    pairs
}

/// First value for `name` (Pacemaker's "do not overwrite" unpacking).
pub(crate) fn first_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Last value for `name` (Pacemaker's "overwrite" unpacking).
pub(crate) fn last_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crm_is_true_spellings() {
        for t in ["true", "TRUE", "on", "yes", "Y", "1"] {
            assert!(is_true(Some(t)), "{t}");
        }
        for f in ["false", "0", "", "2", "tru", "1795318154"] {
            assert!(!is_true(Some(f)), "{f}");
        }
        assert!(!is_true(None));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("17"), None);
    }

    #[test]
    fn leading_int_reads_like_strtoll() {
        assert_eq!(leading_int("42"), Some(42));
        assert_eq!(leading_int(" -7x"), Some(-7));
        assert_eq!(leading_int("+3"), Some(3));
        assert_eq!(leading_int("abc"), None);
        assert_eq!(leading_int("-"), None);
        assert_eq!(leading_int(""), None);
        assert_eq!(leading_int("99999999999999999999999"), Some(i64::MAX));
    }

    #[test]
    fn scores() {
        assert_eq!(score(Some("INFINITY")), 1_000_000);
        assert_eq!(score(Some("-infinity")), -1_000_000);
        assert_eq!(score(Some("50")), 50);
        assert_eq!(score(Some("5000000")), 1_000_000);
        assert_eq!(score(None), 0);
    }

    #[test]
    fn nvsets_order_first_id_then_score_and_skip_rules() {
        let xml = r#"<crm_config>
            <cluster_property_set id="low" score="1"><nvpair name="a" value="low"/></cluster_property_set>
            <cluster_property_set id="ruled"><rule id="r"/><nvpair name="a" value="ruled"/></cluster_property_set>
            <cluster_property_set id="high" score="10"><nvpair name="a" value="high"/><nvpair name="b" value="b"/></cluster_property_set>
            <cluster_property_set id="cib-bootstrap-options"><nvpair name="c" value="c"/><nvpair name="d"/></cluster_property_set>
        </crm_config>"#;
        let doc = parse_document(xml, "test").unwrap();
        let pairs = nvsets(
            doc.root_element(),
            "cluster_property_set",
            Some("cib-bootstrap-options"),
        );
        assert_eq!(
            pairs,
            vec![
                ("c".into(), "c".into()),
                ("a".into(), "high".into()),
                ("b".into(), "b".into()),
                ("a".into(), "low".into()),
            ]
        );
        assert_eq!(first_value(&pairs, "a"), Some("high"));
        assert_eq!(last_value(&pairs, "a"), Some("low"));
        assert_eq!(first_value(&pairs, "d"), None);
    }

    #[test]
    fn dtd_is_refused() {
        let xml = r#"<!DOCTYPE cib [<!ENTITY a "aaaa">]><cib>&a;</cib>"#;
        assert!(matches!(
            parse_document(xml, "CIB"),
            Err(CibError::Malformed { .. })
        ));
    }
}
