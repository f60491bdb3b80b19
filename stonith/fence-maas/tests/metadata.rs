//! fence_maas's metadata: valid against fence-agents' RelaxNG schema (what
//! pcs and Pacemaker read), with the plug and list support Pacemaker looks
//! for, and fence-agents' names for every common option. Skipped with a
//! message when xmllint or the schema is missing.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use umha_common::exec::{Command, find_in_path};

const SCHEMA: &str = "/usr/share/cluster/relaxng/metadata.rng";

fn ours() -> String {
    let r = common::run_stdin("", &["-o", "metadata"]);
    assert_eq!(r.code, 0, "{}", r.describe());
    r.stdout
}

#[test]
fn valid_against_fence_agents_schema() {
    if !find_in_path("xmllint") {
        eprintln!("SKIPPED: xmllint is not installed");
        return;
    }
    if !Path::new(SCHEMA).is_file() {
        eprintln!("SKIPPED: {SCHEMA} is missing (fence-agents not installed)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fence_maas.xml");
    std::fs::write(&file, ours()).unwrap();
    let out = Command::new("xmllint")
        .args(["--noout", "--relaxng", SCHEMA])
        .arg(&file)
        .timeout(Duration::from_secs(30))
        .run()
        .unwrap();
    assert!(
        out.success(),
        "{}\n{}",
        out.stdout_lossy(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn parameters_and_actions_pacemaker_reads() {
    let xml = ours();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let param = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("parameter") && n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no parameter {name}"))
    };
    let default = |name: &str| {
        param(name)
            .children()
            .find(|c| c.has_tag_name("content"))
            .and_then(|c| c.attribute("default"))
            .map(str::to_owned)
    };
    assert_eq!(param("plug").attribute("required"), Some("1"));
    assert_eq!(param("plug").attribute("obsoletes"), Some("port"));
    assert_eq!(param("port").attribute("deprecated"), Some("1"));
    assert_eq!(param("url").attribute("required"), Some("1"));
    assert_eq!(default("stop_mode").as_deref(), Some("hard"));
    assert_eq!(default("power_timeout").as_deref(), Some("25"));
    assert_eq!(default("shell_timeout").as_deref(), Some("10"));
    assert_eq!(default("evacuate").as_deref(), Some("0"));
    for name in [
        "api_key",
        "api_key_script",
        "ssl_insecure",
        "ssl_ca_file",
        "power_wait",
        "delay",
        "retry_on",
        "evacuate_attribute",
    ] {
        param(name);
    }
    let actions: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("action"))
        .filter_map(|a| a.attribute("name"))
        .collect();
    for action in [
        "on",
        "off",
        "reboot",
        "status",
        "list",
        "list-status",
        "monitor",
        "metadata",
        "validate-all",
    ] {
        assert!(actions.contains(&action), "action {action} missing");
    }
    assert!(xml.contains("pcmk_host_map"));
}
