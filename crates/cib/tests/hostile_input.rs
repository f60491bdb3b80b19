//! Every parser takes untrusted text: arbitrary strings and damaged real
//! captures must give a value or an error, never a panic.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use cib::{Cib, CrmMon, FenceHistory};
use proptest::prelude::*;

fn fixtures() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut all: Vec<(String, String)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "xml"))
                .filter_map(|p| {
                    let text = std::fs::read_to_string(&p).ok()?;
                    Some((p.file_name()?.to_string_lossy().into_owned(), text))
                })
                .collect()
        })
        .unwrap_or_default();
    all.sort();
    all
}

fn parse_all(text: &str) {
    let _ = Cib::parse(text);
    let _ = FenceHistory::parse(text);
    let _ = CrmMon::parse(text);
}

/// A damaging edit to a document: byte-level and XML-aware.
#[derive(Debug, Clone)]
enum Edit {
    Truncate(usize),
    DeleteRange(usize, usize),
    Duplicate(usize, usize),
    Insert(usize, String),
    ReplaceValue(usize, String),
}

fn apply(text: &str, edit: &Edit) -> String {
    let len = text.len();
    let at = |i: usize| {
        let mut i = i % (len + 1);
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    match edit {
        Edit::Truncate(i) => text[..at(*i)].to_owned(),
        Edit::DeleteRange(a, b) => {
            let (a, b) = (at(*a).min(at(*b)), at(*a).max(at(*b)));
            format!("{}{}", &text[..a], &text[b..])
        }
        Edit::Duplicate(a, b) => {
            let (a, b) = (at(*a).min(at(*b)), at(*a).max(at(*b)));
            format!("{}{}", &text[..b], &text[a..])
        }
        Edit::Insert(i, s) => {
            let i = at(*i);
            format!("{}{}{}", &text[..i], s, &text[i..])
        }
        Edit::ReplaceValue(n, s) => {
            // Replace the n-th attribute value (between quotes) with s.
            let quotes: Vec<usize> = text.match_indices('"').map(|(i, _)| i).collect();
            let pairs = quotes.len() / 2;
            if pairs == 0 {
                return text.to_owned();
            }
            let k = n % pairs;
            let (a, b) = (quotes[2 * k] + 1, quotes[2 * k + 1]);
            format!("{}{}{}", &text[..a], s, &text[b..])
        }
    }
}

fn edit() -> impl Strategy<Value = Edit> {
    let interesting = prop_oneof![
        Just(String::new()),
        Just("-1".to_owned()),
        Just("0".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("9999999999999999999999".to_owned()),
        Just("online".to_owned()),
        Just("member".to_owned()),
        Just("banned".to_owned()),
        Just("&amp;".to_owned()),
        Just("2026-11-22 03:29:14Z".to_owned()),
        Just("2026-02-30 25:61:61Z".to_owned()),
        "\\PC{0,12}",
    ];
    let fragment = prop_oneof![
        Just("<node_state id=\"x\" uname=\"cmp1\"/>".to_owned()),
        Just("<lrm_rsc_op operation=\"start\" op-status=\"0\" call-id=\"-7\"/>".to_owned()),
        Just(
            "<fence_event action=\"off\" target=\"cmp1\" status=\"success\" completed=\"x\"/>"
                .to_owned()
        ),
        Just("<nvpair name=\"standby\" value=\"on\"/>".to_owned()),
        Just("<!DOCTYPE x [<!ENTITY a \"b\">]>".to_owned()),
        Just("<![CDATA[".to_owned()),
        Just("</".to_owned()),
        "\\PC{0,20}",
    ];
    prop_oneof![
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::DeleteRange(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Duplicate(a, b)),
        (any::<usize>(), fragment).prop_map(|(i, s)| Edit::Insert(i, s)),
        (any::<usize>(), interesting).prop_map(|(n, s)| Edit::ReplaceValue(n, s)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(text in "\\PC{0,400}") {
        parse_all(&text);
    }

    #[test]
    fn arbitrary_xml_shaped_strings_never_panic(
        text in "(<(cib|status|node_state|lrm|lrm_resource|lrm_rsc_op|fence_event|list|nodes|node|pacemaker-result)( [a-z_-]{1,12}=\"[-0-9a-z :]{0,12}\"){0,4}/?>|</[a-z_]{1,12}>|[a-z0-9 ]{0,5}){0,40}"
    ) {
        parse_all(&text);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let all = fixtures();
        prop_assume!(!all.is_empty());
        let (_, text) = which.get(&all);
        let mut text = text.clone();
        for e in &edits {
            text = apply(&text, e);
        }
        parse_all(&text);
    }
}

/// Attribute-value mutations of real CIBs still parse (values are read
/// leniently, like Pacemaker does), and node lookups stay consistent.
#[test]
fn every_value_of_every_cib_fixture_can_be_garbage() {
    let garbage = ["", "-1", "x", "99999999999999999999", "TRUE", "0"];
    for (name, text) in fixtures() {
        if !name.ends_with("-cib.xml") {
            continue;
        }
        let quotes = text.matches('"').count() / 2;
        for n in 0..quotes {
            let g = garbage[n % garbage.len()];
            let mutated = apply(&text, &Edit::ReplaceValue(n, g.to_owned()));
            if let Ok(cib) = Cib::parse(&mutated) {
                for node in cib.nodes() {
                    assert!(cib.node(&node.name).is_some(), "{name} value {n}");
                }
            }
        }
    }
}
