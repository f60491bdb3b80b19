//! `umha` end to end: the binary's exit codes; the live-cluster paths
//! (`cibadmin`, `crm_attribute`) on a CIB file through Pacemaker's own
//! `CIB_file`, without a cluster (skipped when Pacemaker's tools are not
//! installed); and Nova through `openstack::testing`'s fake cloud on
//! 127.0.0.1.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use openstack::testing::{FakeCloud, FakeCloudConfig, ServerSpec};
use umha_cli::cli::{Command, run};
use umha_cli::render::Format;
use umha_common::Command as Child;

fn cib_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cib/fixtures")
        .join(name)
}

/// `umha ARGS` with `CIB_file` (when given) and nothing else of ours in
/// its environment.
fn umha(args: &[&str], cib_file: Option<&Path>) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_umha"));
    cmd.args(args).env_remove("CIB_file");
    if let Some(f) = cib_file {
        cmd.env("CIB_file", f);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn pacemaker_tools() -> bool {
    ["cibadmin", "crm_attribute"]
        .iter()
        .all(|t| umha_common::exec::find_in_path(t))
}

#[test]
fn exit_codes() {
    let help = umha(&["--help"], None);
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).contains("Examples:"));
    for usage in [
        &[][..],
        &["status", "--output-as=yaml"][..],
        &["frobnicate"][..],
        &["simulate"][..],
        &["host", "enable"][..],
        &["completions", "tcsh"][..],
    ] {
        let out = umha(usage, None);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{usage:?}: {}",
            text(&out.stderr)
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("cib.xml");
    std::fs::write(&bad, "<cib><configuration><nodes>").unwrap();
    for args in [
        vec!["simulate", "--cib", bad.to_str().unwrap()],
        vec!["status", "--no-nova", "--cib", bad.to_str().unwrap()],
        vec!["simulate", "--cib", "/nonexistent/cib.xml"],
    ] {
        let out = umha(&args, None);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.starts_with("umha: error: "), "{err}");
        assert!(
            err.contains("cib.xml") && !err.contains("panicked"),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
    for shell in ["bash", "zsh", "fish"] {
        let out = umha(&["completions", shell], None);
        assert_eq!(out.status.code(), Some(0));
        assert!(text(&out.stdout).contains("snapshot-nova"), "{shell}");
    }
}

/// status, hold and release on a CIB file as on a live cluster: what
/// `umha hold` writes is the property the evacuator reads.
#[test]
fn hold_and_release_on_a_cib_file() {
    if !pacemaker_tools() {
        eprintln!("Pacemaker's tools are not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cib.xml");
    std::fs::copy(cib_fixture("healthy-cib.xml"), &file).unwrap();
    let status = |file: &Path| {
        let out = umha(&["status", "--no-nova"], Some(file));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let before = status(&file);
    assert!(before.starts_with("Cluster: live cluster"), "{before}");
    assert!(before.contains("Valve: open"), "{before}");

    let out = umha(&["hold", "--reason", "switch upgrade"], Some(&file));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(status(&file).contains("Valve: HELD: held by the operator: switch upgrade"));
    let cib = std::fs::read_to_string(&file).unwrap();
    let doc = roxmltree::Document::parse(&cib).unwrap();
    let set = doc
        .descendants()
        .find(|n| {
            n.has_tag_name("cluster_property_set")
                && n.attribute("id") == Some(umha_evacuator::record::HOLD_SET)
        })
        .unwrap();
    assert!(set.children().any(
        |n| n.attribute("name") == Some(umha_evacuator::record::HOLD)
            && n.attribute("value") == Some("held by the operator: switch upgrade")
    ));
    // The evacuator's own reading of the CIB sees the hold.
    let parsed = cib::Cib::parse(&cib).unwrap();
    assert_eq!(
        parsed.property(umha_evacuator::record::HOLD),
        Some("held by the operator: switch upgrade")
    );

    for _ in 0..2 {
        // Releasing twice is not an error.
        let out = umha(&["release"], Some(&file));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(status(&file).contains("Valve: open"));
    }
}

fn clouds_yaml(cloud: &FakeCloud, dir: &Path) -> PathBuf {
    let path = dir.join("clouds.yaml");
    std::fs::write(&path, cloud.clouds_yaml("fake")).unwrap();
    path
}

/// `umha host enable` through the real `crm_attribute` (CIB file) and the
/// fake Nova: un-forced, enabled, maintenance deleted.
#[test]
fn host_enable_on_a_cib_file() {
    if !pacemaker_tools() {
        eprintln!("Pacemaker's tools are not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cib.xml");
    std::fs::copy(cib_fixture("recovered-cib.xml"), &file).unwrap();
    let set = Child::new("crm_attribute")
        .args([
            "--node",
            "cmp3",
            "--name",
            "umha-maintenance",
            "--update",
            "1795316900 repair",
            "--lifetime",
            "forever",
        ])
        .env("CIB_file", &file)
        .timeout(Duration::from_secs(30))
        .run()
        .unwrap();
    assert!(set.success(), "{}", set.stderr_summary());
    let cloud = FakeCloud::start().unwrap();
    cloud.add_hosts(&["cmp1", "cmp2", "cmp3"]);
    cloud.set_forced_down("cmp3", true);
    cloud.set_disabled(
        "cmp3",
        true,
        Some("umha: cmp3 fenced at 1795316800, evacuating"),
    );
    let yaml = clouds_yaml(&cloud, dir.path());
    let nova = ["--cloud", "fake", "--clouds-yaml", yaml.to_str().unwrap()];

    let mut args = vec!["host", "enable", "cmp9"];
    args.extend(nova);
    let out = umha(&args, Some(&file));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not a compute node"),
        "{}",
        text(&out.stderr)
    );

    let mut args = vec!["host", "enable", "cmp3"];
    args.extend(nova);
    let out = umha(&args, Some(&file));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("forced_down cleared"), "{stdout}");
    assert!(stdout.contains("nova-compute on cmp3: enabled"), "{stdout}");
    assert!(
        stdout.contains("umha-maintenance cleared on cmp3"),
        "{stdout}"
    );
    let svc = cloud.service("cmp3").unwrap();
    assert!(!svc.forced_down && !svc.disabled, "{svc:?}");
    let cib = std::fs::read_to_string(&file).unwrap();
    assert!(!cib.contains("umha-maintenance"), "maintenance still set");
}

fn status_with_nova(cib: &Path, yaml: &Path) -> String {
    run(Command::Status {
        output_as: Format::Text,
        cib: Some(cib.to_owned()),
        no_nova: false,
        cloud: Some("fake".to_owned()),
        clouds_yaml: Some(yaml.to_owned()),
    })
    .unwrap()
}

/// Nova's side of `umha status`, and a Nova that does not answer: reported,
/// and the rest of the status is still there.
#[test]
fn status_with_nova_and_without() {
    let cloud = FakeCloud::start().unwrap();
    cloud.add_hosts(&["cmp1", "cmp2", "cmp3"]);
    cloud.set_forced_down("cmp1", true);
    cloud.set_disabled(
        "cmp1",
        true,
        Some("umha: cmp1 fenced at 1795318563, evacuating"),
    );
    let dir = tempfile::tempdir().unwrap();
    let yaml = clouds_yaml(&cloud, dir.path());
    let cib = cib_fixture("fenced-off-cib.xml");
    let out = status_with_nova(&cib, &yaml);
    assert!(out.contains("Nova: read"), "{out}");
    assert!(out.contains("down/disabled forced-down"), "{out}");
    assert!(
        out.contains("cmp1: nova-compute disabled: umha: cmp1 fenced at 1795318563, evacuating"),
        "{out}"
    );
    assert_eq!(out.matches("up/enabled").count(), 2, "{out}");

    cloud.go_offline();
    let out = status_with_nova(&cib, &yaml);
    assert!(out.contains("Nova: unreachable ("), "{out}");
    assert!(
        out.contains("offline (fenced 2026-11-22T03:36:03Z)"),
        "{out}"
    );
    // A cloud that is not in clouds.yaml is a Nova failure too, not fatal.
    let out = run(Command::Status {
        output_as: Format::Xml,
        cib: Some(cib.clone()),
        no_nova: false,
        cloud: Some("nowhere".to_owned()),
        clouds_yaml: Some(yaml.clone()),
    })
    .unwrap();
    let doc = roxmltree::Document::parse(&out).unwrap();
    let nova = doc.descendants().find(|n| n.has_tag_name("nova")).unwrap();
    assert_eq!(nova.attribute("state"), Some("unreachable"));
    assert!(
        nova.attribute("reason").unwrap().contains("nowhere"),
        "{out}"
    );
}

/// `umha snapshot-nova` (every page) replayed by `umha simulate --nova`.
#[test]
fn snapshot_nova_feeds_simulate() {
    let cloud = FakeCloud::with_config(FakeCloudConfig {
        max_limit: 2,
        ..FakeCloudConfig::default()
    })
    .unwrap();
    cloud.add_hosts(&["cmp1", "cmp2", "cmp3"]);
    let mut on_cmp1 = Vec::new();
    for i in 0..2 {
        on_cmp1.push(cloud.add_server(
            ServerSpec::new(&format!("vm{i}"), "cmp1").boot_from_volume(&format!("vol{i}")),
        ));
    }
    // Its disk is local: the evacuator's default leaves it.
    on_cmp1.push(cloud.add_server(ServerSpec::new("local", "cmp1")));
    cloud.add_server(ServerSpec::new("elsewhere", "cmp2"));
    let dir = tempfile::tempdir().unwrap();
    let yaml = clouds_yaml(&cloud, dir.path());
    let cib = cib_fixture("fenced-off-cib.xml");
    let json = run(Command::SnapshotNova {
        cloud: Some("fake".to_owned()),
        clouds_yaml: Some(yaml.clone()),
        cib: Some(cib.clone()),
    })
    .unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["services"].as_array().unwrap().len(), 3);
    assert_eq!(value["servers"].as_array().unwrap().len(), 4, "every page");
    assert!(value["microversion"].as_str().unwrap().starts_with("2."));
    let snapshot = dir.path().join("nova.json");
    std::fs::write(&snapshot, &json).unwrap();
    let out = run(Command::Simulate {
        cib,
        fence_history: Some(cib_fixture("fenced-off-fence-history.xml")),
        nova: Some(snapshot),
        now: Some("1795320000".to_owned()),
        release: false,
        params: vec![],
        output_as: Format::Text,
    })
    .unwrap();
    for id in &on_cmp1 {
        assert!(out.contains(&format!("({id})")), "{out}");
    }
    assert_eq!(out.matches("cmp1 evacuate vm").count(), 2, "{out}");
    assert!(out.contains("cmp1 keep local ("), "{out}");
    assert!(!out.contains("elsewhere"), "{out}");

    cloud.go_offline();
    let e = run(Command::SnapshotNova {
        cloud: Some("fake".to_owned()),
        clouds_yaml: Some(yaml),
        cib: Some(cib_fixture("fenced-off-cib.xml")),
    })
    .unwrap_err();
    assert!(e.to_string().contains("OpenStack"), "{e}");
}

/// An evacuator primitive whose parameters the agent would refuse: status
/// says so and still shows the cluster.
#[test]
fn status_survives_invalid_evacuator_parameters() {
    let own = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recovery-cib.xml");
    let cib = std::fs::read_to_string(own)
        .unwrap()
        .replace("value=\"rh_priority\"", "value=\"rh_prio\"");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cib.xml");
    std::fs::write(&file, cib).unwrap();
    let out = umha(
        &["status", "--no-nova", "--cib", file.to_str().unwrap()],
        None,
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains("INVALID PARAMETERS") && stdout.contains("rh_prio"),
        "{stdout}"
    );
    assert!(stdout.contains("segment=az1,reserved(idle)"), "{stdout}");
    // simulate, which decides as the agent would, refuses them as it would.
    let out = umha(&["simulate", "--cib", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("rh_prio"),
        "{}",
        text(&out.stderr)
    );
}
