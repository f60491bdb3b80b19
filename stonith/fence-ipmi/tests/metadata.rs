//! fence_ipmi's metadata: valid against fence-agents' RelaxNG schema, and a
//! superset of `fence_ipmilan -o metadata` parameter by parameter (name,
//! getopt letters, type, choices, default, older names), which is what
//! makes it a drop-in replacement. Skipped with a message when xmllint or
//! fence_ipmilan is missing.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{fence_ipmi_argv, run_with};
use ipmi_testbmc::harness::require;

const SCHEMA: &str = "/usr/share/cluster/relaxng/metadata.rng";

fn ours() -> String {
    let r = fence_ipmi_argv(&["-o", "metadata"]);
    assert_eq!(r.code, 0, "{}", r.describe());
    r.stdout
}

#[test]
fn valid_against_fence_agents_schema() {
    let Some(xmllint) = require("xmllint") else {
        return;
    };
    if !Path::new(SCHEMA).is_file() {
        eprintln!("SKIPPED: {SCHEMA} is missing (fence-agents not installed)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fence_ipmi.xml");
    std::fs::write(&file, ours()).unwrap();
    let file = file.display().to_string();
    let r = run_with(
        &xmllint,
        &["--noout", "--relaxng", SCHEMA, &file],
        "",
        &[],
        Duration::from_secs(30),
        |_| {},
    );
    assert_eq!(r.code, 0, "{}", r.describe());
}

/// What must match, per parameter name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Param {
    getopt: String,
    kind: String,
    default: Option<String>,
    options: Vec<String>,
    required: String,
    obsoletes: Option<String>,
    deprecated: Option<String>,
}

fn params(xml: &str) -> (BTreeMap<String, Param>, Vec<String>) {
    let doc = roxmltree::Document::parse(xml).expect("metadata is XML");
    let mut map = BTreeMap::new();
    for p in doc.descendants().filter(|n| n.has_tag_name("parameter")) {
        let child = |tag: &str| p.children().find(|c| c.has_tag_name(tag));
        let content = child("content").expect("content");
        map.insert(
            p.attribute("name").unwrap().to_owned(),
            Param {
                getopt: child("getopt")
                    .and_then(|g| g.attribute("mixed"))
                    .unwrap_or("")
                    .to_owned(),
                kind: content.attribute("type").unwrap_or("").to_owned(),
                default: content.attribute("default").map(str::to_owned),
                options: content
                    .children()
                    .filter_map(|o| o.attribute("value"))
                    .map(str::to_owned)
                    .collect(),
                required: p.attribute("required").unwrap_or("").to_owned(),
                obsoletes: p.attribute("obsoletes").map(str::to_owned),
                deprecated: p.attribute("deprecated").map(str::to_owned),
            },
        );
    }
    let actions = doc
        .descendants()
        .filter(|n| n.has_tag_name("action"))
        .filter_map(|a| a.attribute("name"))
        .map(str::to_owned)
        .collect();
    (map, actions)
}

/// stonith-core's own common options, which no fence-agents agent has:
/// the evacuation marker (off by default, so fence_ipmilan's behaviour is kept).
const UMHA_ONLY: &[&str] = &["evacuate", "evacuate_attribute"];

#[test]
fn every_fence_ipmilan_parameter_and_action_is_there_unchanged() {
    let Some(fence_ipmilan) = require("fence_ipmilan") else {
        return;
    };
    let theirs = run_with(
        &fence_ipmilan,
        &["-o", "metadata"],
        "",
        &[],
        Duration::from_secs(30),
        |_| {},
    );
    assert_eq!(theirs.code, 0, "{}", theirs.describe());
    let (theirs, their_actions) = params(&theirs.stdout);
    let (ours, our_actions) = params(&ours());
    assert!(
        theirs.len() > 40,
        "fence_ipmilan lists {} parameters",
        theirs.len()
    );

    let mut differences = Vec::new();
    for (name, want) in &theirs {
        let Some(got) = ours.get(name) else {
            differences.push(format!("{name}: missing"));
            continue;
        };
        let mut want = want.clone();
        // stonith-core prints `--verbose-level=[level]` for fence-agents'
        // `--verbose-level` (which takes a value all the same).
        if name == "verbose_level" {
            want.getopt = got.getopt.clone();
        }
        if *got != want {
            differences.push(format!(
                "{name}:\n  fence_ipmilan {want:?}\n  fence_ipmi    {got:?}"
            ));
        }
    }
    for name in ours
        .keys()
        .filter(|n| !theirs.contains_key(*n) && !UMHA_ONLY.contains(&n.as_str()))
    {
        differences.push(format!("{name}: not in fence_ipmilan"));
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    for action in &their_actions {
        assert!(our_actions.contains(action), "action {action} missing");
    }
}
