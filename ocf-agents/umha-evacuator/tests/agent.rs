//! The OCF actions with bad input: what an administrator sees for a broken
//! clouds.yaml or wrong credentials, and that the secret never shows.

#![allow(clippy::unwrap_used)]

mod common;

use agent_core::OcfStatus;
use agent_core::testing::run_action;
use openstack::testing::FakeCloud;
use umha_evacuator::Evacuator;
use umha_evacuator::cluster::Memory;
use umha_evacuator::plan::Snapshot;

fn agent() -> Evacuator<Memory> {
    Evacuator::with(common::memory(Vec::new()))
}

fn validate(yaml: &str, dir: &tempfile::TempDir) -> agent_core::Outcome {
    let path = dir.path().join("clouds.yaml");
    std::fs::write(&path, yaml).unwrap();
    common::validate_all(&path, dir.path(), &[])
}

#[test]
fn good_credentials_validate() {
    let cloud = FakeCloud::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = validate(&cloud.clouds_yaml("fake"), &dir);
    assert_eq!(out.status, OcfStatus::Success, "{out:?}");
}

#[test]
fn wrong_credentials_are_err_configured_without_the_secret() {
    let cloud = FakeCloud::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let password = cloud.config().password.clone();
    let yaml = cloud
        .clouds_yaml("fake")
        .replace(&format!("password: {password}"), "password: S3cr3t-wrong");
    let out = validate(&yaml, &dir);
    assert_eq!(out.status, OcfStatus::ErrConfigured, "{out:?}");
    let reason = out.reason.unwrap_or_default();
    assert!(reason.contains("authentication failed"), "{reason}");
    assert!(!format!("{reason}{}{}", out.stdout, out.stderr).contains("S3cr3t"));
}

#[test]
fn malformed_clouds_yaml_is_err_configured_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    for yaml in [
        "clouds: [unclosed",
        "clouds:\n  other:\n    auth: {}\n",
        "clouds:\n  fake:\n    auth:\n      auth_url: http://127.0.0.1:9/v3\n",
        "\u{0}\u{1}garbage",
    ] {
        let out = validate(yaml, &dir);
        assert_eq!(out.status, OcfStatus::ErrConfigured, "{yaml:?}: {out:?}");
        assert!(
            out.reason.as_deref().is_some_and(|r| !r.is_empty()),
            "{yaml:?}"
        );
    }
}

#[test]
fn bad_parameters_are_err_configured() {
    let dir = tempfile::tempdir().unwrap();
    let rsctmp = dir.path().join("rsc");
    std::fs::create_dir_all(&rsctmp).unwrap();
    for (name, value) in [
        ("max_failed_ratio", "1.5"),
        ("host_map", "cmp1"),
        ("history_file", "relative.jsonl"),
        ("instance_selection", "some"),
        ("compute_attribute", "=x"),
    ] {
        let key = format!("OCF_RESKEY_{name}");
        let out = run_action(
            &agent(),
            "validate-all",
            &[
                ("OCF_ROOT", "/usr/lib/ocf"),
                ("HA_RSCTMP", rsctmp.to_str().unwrap()),
                ("OCF_RESOURCE_INSTANCE", "evacuator"),
                ("HA_LOGFACILITY", "none"),
                (&key, value),
            ],
        );
        assert_eq!(
            out.status,
            OcfStatus::ErrConfigured,
            "{name}={value}: {out:?}"
        );
    }
}

#[test]
fn monitor_before_start_is_not_running_and_meta_data_validates() {
    let dir = tempfile::tempdir().unwrap();
    let rsctmp = dir.path().join("rsc");
    std::fs::create_dir_all(&rsctmp).unwrap();
    let env = [
        ("OCF_ROOT", "/usr/lib/ocf"),
        ("HA_RSCTMP", rsctmp.to_str().unwrap()),
        ("OCF_RESOURCE_INSTANCE", "evacuator"),
        ("OCF_RESKEY_CRM_meta_on_node", "ctl1"),
        ("HA_LOGFACILITY", "none"),
    ];
    assert_eq!(
        run_action(&agent(), "monitor", &env).status,
        OcfStatus::NotRunning
    );
    let meta = run_action(&agent(), "meta-data", &env);
    assert_eq!(meta.status, OcfStatus::Success);
    if let Some(r) = agent_core::testing::xmllint_dtd(&meta.stdout) {
        r.unwrap();
    }
}

#[test]
fn a_quiet_cluster_is_not_read_again_until_its_cib_changes() {
    use umha_evacuator::plan::ComputeNode;
    let cloud = FakeCloud::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("clouds.yaml");
    std::fs::write(&yaml, cloud.clouds_yaml("fake")).unwrap();
    let rsctmp = dir.path().join("rsc");
    std::fs::create_dir_all(&rsctmp).unwrap();
    let history = dir.path().join("h.jsonl");
    let node = ComputeNode::online_remote("cmp1");
    let agent = Evacuator::with(Memory::new(Snapshot {
        version: cib::CibVersion {
            admin_epoch: 0,
            epoch: 7,
            num_updates: 1,
        },
        now: 0,
        quorum: true,
        nodes: vec![node],
        hold: None,
        history: None,
    }));
    let env = [
        ("OCF_ROOT", "/usr/lib/ocf"),
        ("HA_RSCTMP", rsctmp.to_str().unwrap()),
        ("OCF_RESOURCE_INSTANCE", "evacuator"),
        ("OCF_RESKEY_CRM_meta_on_node", "ctl1"),
        ("OCF_RESKEY_CRM_meta_interval", "5000"),
        ("OCF_RESKEY_CRM_meta_timeout", "20000"),
        ("OCF_RESKEY_cloud", "fake"),
        ("OCF_RESKEY_clouds_yaml", yaml.to_str().unwrap()),
        ("OCF_RESKEY_history_file", history.to_str().unwrap()),
        ("HA_LOGFACILITY", "none"),
    ];
    assert_eq!(run_action(&agent, "start", &env).status, OcfStatus::Success);
    assert_eq!(
        run_action(&agent, "monitor", &env).status,
        OcfStatus::Success
    );
    let quiet = || {
        std::fs::read_dir(&rsctmp)
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| e.file_name().to_string_lossy().contains("quiet"))
    };
    assert!(quiet(), "a quiet step is remembered");
    // A marker appears: a new CIB version, so the next step reads it and
    // is no longer quiet.
    let cluster = agent_cluster(&agent);
    cluster.update(|s| {
        s.version.num_updates += 1;
        s.nodes[0].marker = Some("1795318563".into());
    });
    assert_eq!(
        run_action(&agent, "monitor", &env).status,
        OcfStatus::Success
    );
    assert!(!quiet(), "a step with work is not remembered as quiet");
    assert!(!cluster.written().is_empty(), "the marker was acted on");
    assert_eq!(run_action(&agent, "stop", &env).status, OcfStatus::Success);
}

fn agent_cluster(agent: &Evacuator<Memory>) -> &Memory {
    agent.cluster()
}
