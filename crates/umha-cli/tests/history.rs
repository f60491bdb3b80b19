//! `umha history` on tests/fixtures/evacuations.jsonl (see its .cmd): the
//! filters, the malformed-line count, the three output formats, and that
//! the fixture is what the evacuator writes.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use umha_cli::cli::{Command, run};
use umha_cli::render::Format;
use umha_evacuator::history::{Entry, History};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/evacuations.jsonl")
}

fn history(node: Option<&str>, since: Option<&str>, format: Format) -> String {
    let out = run(Command::History {
        node: node.map(str::to_owned),
        since: since.map(str::to_owned),
        file: Some(fixture()),
        output_as: format,
    })
    .unwrap();
    out.replace(fixture().to_str().unwrap(), "FIXTURES/evacuations.jsonl")
}

fn check(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UMHA_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (UMHA_UPDATE_SNAPSHOTS=1 writes it)",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{name} differs from {}:\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

/// Every line that parses is byte for byte what the agent's
/// [`Entry`] serializes to, and what its [`History`] appends: the fixture
/// is in the real format, not one the reader happens to accept.
#[test]
fn fixture_is_the_agents_format() {
    let text = std::fs::read_to_string(fixture()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let written = dir.path().join("evacuations.jsonl");
    let agent = History::new(&written);
    let mut good = Vec::new();
    for line in text.split('\n') {
        if let Ok(entry) = serde_json::from_str::<Entry>(line) {
            assert_eq!(serde_json::to_string(&entry).unwrap(), line);
            agent.append(&entry).unwrap();
            good.push(line);
        }
    }
    assert_eq!(good.len(), 24);
    let again = std::fs::read_to_string(&written).unwrap();
    assert_eq!(
        again,
        good.iter().map(|l| format!("{l}\n")).collect::<String>()
    );
    // The agent's own reader skips the same lines.
    assert_eq!(History::read(&fixture()).unwrap().len(), 24);
}

#[test]
fn all_entries_in_every_format() {
    let text = history(None, None, Format::Text);
    assert!(
        text.ends_with(
            "warning: 2 line(s) of FIXTURES/evacuations.jsonl are not history entries and were skipped\n"
        ),
        "{text}"
    );
    check("history-all.txt", &text);
    let xml = history(None, None, Format::Xml);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "umha");
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("entry"))
            .count(),
        24
    );
    check("history-all.xml", &xml);
    let json = history(None, None, Format::Json);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["malformed"], 2);
    assert_eq!(value["entries"].as_array().unwrap().len(), 24);
    check("history-all.json", &json);
}

#[test]
fn filters_by_node_and_time() {
    let count = |node: Option<&str>, since: Option<&str>| -> usize {
        let json = history(node, since, Format::Json);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        // Filtering never changes the count of malformed lines.
        assert_eq!(value["malformed"], 2);
        value["entries"].as_array().unwrap().len()
    };
    assert_eq!(count(Some("cmp1"), None), 14);
    assert_eq!(count(Some("cmp2"), None), 3);
    assert_eq!(count(Some("cmp9"), None), 0);
    // cmp1's incident, from its release on: RFC 3339 and epoch seconds.
    assert_eq!(count(None, Some("2026-11-22T10:18:31Z")), 13);
    assert_eq!(count(None, Some("2026-11-22T11:18:31+01:00")), 13);
    assert_eq!(count(None, Some("1795342711")), 13);
    assert_eq!(count(Some("cmp3"), Some("2026-11-22T10:18:31Z")), 0);
    // An age reaching back before the fixture: everything.
    assert_eq!(count(None, Some("100000d")), 24);
    check(
        "history-cmp1-since.txt",
        &history(Some("cmp1"), Some("2026-11-22T10:18:32Z"), Format::Text),
    );
}

#[test]
fn bad_arguments_and_missing_file() {
    let e = run(Command::History {
        node: None,
        since: Some("yesterday".to_owned()),
        file: Some(fixture()),
        output_as: Format::Text,
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("yesterday"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let e = run(Command::History {
        node: None,
        since: None,
        file: Some(dir.path().join("none.jsonl")),
        output_as: Format::Text,
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("no evacuation history at") && e.contains("none.jsonl"),
        "{e}"
    );
}
