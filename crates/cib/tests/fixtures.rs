//! Real captures from the lab (see each fixture's `.cmd` for how it was made).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use cib::{
    Cib, CrmMon, FenceAction, FenceHistory, FenceStatus, NodeKind, NodeState, Role, UnixTime,
};

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cib(name: &str) -> Cib {
    Cib::parse(&fixture(name)).unwrap()
}

/// Every CIB fixture agrees with the crm_mon capture taken at the same moment.
#[test]
fn cib_derivation_matches_crm_mon_captures() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut scenarios: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix("-cib.xml").map(str::to_owned)
        })
        .filter(|s| dir.join(format!("{s}-crm_mon.xml")).exists())
        .collect();
    scenarios.sort();
    assert!(scenarios.len() >= 4, "{scenarios:?}");
    for scenario in &scenarios {
        let cib = cib(&format!("{scenario}-cib.xml"));
        let mon = CrmMon::parse(&fixture(&format!("{scenario}-crm_mon.xml"))).unwrap();
        assert_eq!(cib.nodes().len(), mon.nodes().len(), "{scenario}");
        for seen in mon.nodes() {
            let node = cib
                .node(&seen.name)
                .unwrap_or_else(|| panic!("{scenario}: {} missing", seen.name));
            assert_eq!(node.kind, seen.kind, "{scenario} {}", seen.name);
            assert_eq!(node.flags, seen.flags, "{scenario} {}", seen.name);
            assert_eq!(node.state, seen.state(), "{scenario} {}", seen.name);
        }
    }
}

#[test]
fn healthy() {
    let cib = cib("healthy-cib.xml");
    assert!(cib.have_quorum());
    assert!(cib.stonith_enabled());
    assert_eq!(cib.property("cluster-name"), Some("umha-lab"));
    assert_eq!(cib.property("dc-version"), Some("2.1.5-a3f44794f94"));
    assert_eq!(cib.dc_uuid(), Some("1"));
    assert_eq!(cib.dc().map(|n| n.name.as_str()), Some("ctl1"));

    let ctl1 = cib.node("ctl1").unwrap();
    assert_eq!(ctl1.kind, NodeKind::Cluster);
    assert_eq!(ctl1.state, NodeState::Online);
    assert_eq!(ctl1.id, "1");
    let status = ctl1.status.as_ref().unwrap();
    assert_eq!(status.join.as_deref(), Some("member"));
    assert_eq!(status.expected.as_deref(), Some("member"));
    assert!(status.in_ccm.unwrap().is_yes() && status.crmd.unwrap().is_yes());

    for (name, server) in [
        ("cmp1", "169.254.77.11"),
        ("cmp2", "169.254.77.12"),
        ("cmp3", "169.254.77.13"),
    ] {
        let node = cib.node(name).unwrap();
        assert_eq!(node.kind, NodeKind::Remote, "{name}");
        assert_eq!(node.state, NodeState::Online, "{name}");
        assert_eq!(node.fenced_at(), None, "{name}");
        let conn = node.connection.as_ref().unwrap();
        assert_eq!(conn.resource, name);
        assert_eq!(conn.server, server);
        assert_eq!(conn.port, 3121);
        assert_eq!(conn.reconnect_interval.as_deref(), Some("10s"));
        assert_eq!(conn.role, Role::Started);
        assert!(!conn.failed);
        assert_eq!(conn.running_on, ["ctl1"]);
    }
    let fence = cib.resource("fence-cmp1").unwrap();
    assert!(fence.is_stonith());
    assert_eq!(fence.agent.as_deref(), Some("fence_ipmilan"));

    let history = FenceHistory::parse(&fixture("healthy-fence-history.xml")).unwrap();
    assert!(history.events().is_empty());
}

/// The connection failure time Pacemaker recorded for a remote node:
/// `last-failure-<conn>#monitor_<ms>` on the cluster node running it.
fn last_failure(cib: &Cib, conn: &str) -> Option<UnixTime> {
    let prefix = format!("last-failure-{conn}#monitor_");
    cib.nodes()
        .iter()
        .flat_map(|n| n.transient_attributes())
        .filter(|(name, _)| name.starts_with(&prefix))
        .filter_map(|(_, v)| v.parse().ok())
        .map(UnixTime::from_secs)
        .max()
}

#[test]
fn fenced_off() {
    let cib = cib("fenced-off-cib.xml");
    let cmp1 = cib.node("cmp1").unwrap();
    assert_eq!(cmp1.state, NodeState::Offline);
    assert!(!cmp1.flags.unclean);
    let fenced_at = cmp1.fenced_at().expect("node_fenced is set while down");
    let status = cmp1.status.as_ref().unwrap();
    assert!(status.remote_node);
    assert_eq!(status.in_ccm.map(|m| m.is_yes()), Some(false));
    let conn = cmp1.connection.as_ref().unwrap();
    assert_eq!(conn.role, Role::Stopped);
    assert!(
        conn.failed,
        "the lost connection stays failed until reconnect_interval"
    );
    assert!(conn.running_on.is_empty());
    for name in ["cmp2", "cmp3", "ctl1"] {
        assert_eq!(cib.node(name).unwrap().state, NodeState::Online, "{name}");
    }

    // The fencer: the "off" and the controller's follow-up reboot.
    let history = FenceHistory::parse(&fixture("fenced-off-fence-history.xml")).unwrap();
    let events: Vec<_> = history.events_for("cmp1").collect();
    assert!(!events.is_empty());
    let off = events
        .iter()
        .find(|e| {
            e.client
                .as_deref()
                .is_some_and(|c| c.starts_with("stonith_admin"))
        })
        .unwrap();
    assert_eq!(off.action, FenceAction::Off);
    assert_eq!(off.status, FenceStatus::Success);
    assert_eq!(off.delegate.as_deref(), Some("ctl1"));
    assert_eq!(off.origin.as_deref(), Some("ctl1"));
    assert!(off.completed.is_some());
    for e in &events {
        match e.status {
            FenceStatus::Pending => assert_eq!(e.completed, None),
            _ => assert!(e.completed.is_some()),
        }
    }

    // The safety gate against the failure time Pacemaker recorded. The
    // history and the fail-count attribute (written a moment later by the
    // controller) may differ by a second; take the later, as a careful
    // caller would.
    let in_history = conn.last_failure.expect("the lost connection is recorded");
    let in_attribute = last_failure(&cib, "cmp1").expect("fail-count attributes are set");
    assert!((0..=5).contains(&(in_attribute.secs() - in_history.secs())));
    let failed_at = in_history.max(in_attribute);
    let confirmed = history.confirmed_fence_after("cmp1", failed_at).unwrap();
    assert!(confirmed.completed.unwrap() > failed_at);
    assert!(confirmed.action.cuts_power());
    // Nothing completed after the latest power cut itself.
    let latest = history.latest_power_cut("cmp1").unwrap().completed.unwrap();
    assert_eq!(history.confirmed_fence_after("cmp1", latest), None);
    assert_eq!(
        history.confirmed_fence_after("cmp2", UnixTime::from_secs(0)),
        None
    );
    // The controller records node_fenced once a fence of the node completed.
    assert!(fenced_at > failed_at);
    assert!(fenced_at >= off.completed.unwrap());

    // crm_mon shows the same history.
    let mon = CrmMon::parse(&fixture("fenced-off-crm_mon.xml")).unwrap();
    assert_eq!(mon.node("cmp1").unwrap().state(), NodeState::Offline);
    assert!(
        mon.fence_history()
            .confirmed_fence_after("cmp1", failed_at)
            .is_some()
    );
}

#[test]
fn recovered() {
    let cib = cib("recovered-cib.xml");
    for name in ["cmp1", "cmp2", "cmp3", "ctl1"] {
        assert_eq!(cib.node(name).unwrap().state, NodeState::Online, "{name}");
    }
    let cmp1 = cib.node("cmp1").unwrap();
    assert_eq!(
        cmp1.fenced_at(),
        None,
        "node_fenced resets to 0 on reconnect"
    );
    let conn = cmp1.connection.as_ref().unwrap();
    assert!(!conn.failed);
    assert_eq!(conn.last_failure, None, "the reconnect cleared the failure");

    let history = FenceHistory::parse(&fixture("recovered-fence-history.xml")).unwrap();
    assert!(history.latest_power_cut("cmp1").is_some());
    assert_eq!(history.pending_for("cmp1").count(), 0);
}

#[test]
fn failed_pending_and_timed_out_fences() {
    let failed = FenceHistory::parse(&fixture("fence-failed-fence-history.xml")).unwrap();
    let cmp3: Vec<_> = failed.events_for("cmp3").collect();
    assert_eq!(cmp3.len(), 1);
    assert_eq!(cmp3[0].status, FenceStatus::Failed);
    assert_eq!(cmp3[0].action, FenceAction::Off);
    assert!(
        cmp3[0].completed.is_some(),
        "failed events have a completion time"
    );
    assert_eq!(
        failed.confirmed_fence_after("cmp3", UnixTime::from_secs(0)),
        None
    );

    let pending = FenceHistory::parse(&fixture("fence-pending-fence-history.xml")).unwrap();
    let in_flight: Vec<_> = pending.pending_for("cmp3").collect();
    assert_eq!(in_flight.len(), 1);
    assert_eq!(in_flight[0].completed, None);
    assert!(in_flight[0].extended_status.is_some());
    assert_eq!(
        pending.confirmed_fence_after("cmp3", UnixTime::from_secs(0)),
        None
    );

    let timeout = FenceHistory::parse(&fixture("fence-timeout-fence-history.xml")).unwrap();
    let latest = timeout.events_for("cmp3").next().unwrap();
    assert_eq!(latest.status, FenceStatus::Failed);
    assert!(
        latest
            .exit_reason
            .as_deref()
            .is_some_and(|r| r.contains("did not complete")),
        "{latest:?}"
    );
    assert_eq!(
        timeout.confirmed_fence_after("cmp3", UnixTime::from_secs(0)),
        None
    );
    // cmp1's earlier fences are still there and still count for cmp1 only.
    assert!(
        timeout
            .confirmed_fence_after("cmp1", UnixTime::from_secs(0))
            .is_some()
    );

    // crm_mon carries the same history; cmp3 stayed up throughout.
    for scenario in ["fence-failed", "fence-pending"] {
        let mon = CrmMon::parse(&fixture(&format!("{scenario}-crm_mon.xml"))).unwrap();
        let stonith_admin =
            FenceHistory::parse(&fixture(&format!("{scenario}-fence-history.xml"))).unwrap();
        assert_eq!(
            mon.fence_history().events(),
            stonith_admin.events(),
            "{scenario}"
        );
        assert_eq!(
            mon.node("cmp3").unwrap().state(),
            NodeState::Online,
            "{scenario}"
        );
        assert_eq!(mon.dc(), Some("ctl1"));
        assert_eq!(mon.with_quorum(), Some(true));
    }
}

#[test]
fn quorum_lost() {
    let cib = cib("quorum-lost-cib.xml");
    assert!(!cib.have_quorum());
    assert_eq!(cib.node("ctl1").unwrap().state, NodeState::Online);
    for name in ["cmp1", "cmp2", "cmp3"] {
        let node = cib.node(name).unwrap();
        // no-quorum-policy=stop stopped the connections: cleanly offline, not fenced.
        assert_eq!(node.state, NodeState::Offline, "{name}");
        assert_eq!(node.fenced_at(), None, "{name}");
        assert_eq!(
            node.connection.as_ref().unwrap().role,
            Role::Stopped,
            "{name}"
        );
    }
    let mon = CrmMon::parse(&fixture("quorum-lost-crm_mon.xml")).unwrap();
    assert_eq!(mon.with_quorum(), Some(false));
}

#[test]
fn attributes() {
    let cib = cib("attributes-cib.xml");
    let cmp2 = cib.node("cmp2").unwrap();
    assert_eq!(
        cmp2.kind,
        NodeKind::Remote,
        "a nodes-section entry of type remote"
    );
    assert_eq!(cmp2.persistent_attribute("umha-test"), Some("42"));
    assert_eq!(cmp2.attribute("umha-test"), Some("42"));
    assert_eq!(cmp2.transient_attribute("umha-test"), None);
    assert!(cmp2.connection.is_some(), "still linked to its connection");
    assert_eq!(cmp2.state, NodeState::Online);

    let cmp3 = cib.node("cmp3").unwrap();
    assert_eq!(cmp3.transient_attribute("umha-test-t"), Some("7"));
    assert_eq!(cmp3.attribute("umha-test-t"), Some("7"));
    assert_eq!(cmp3.persistent_attribute("umha-test-t"), None);
    assert_eq!(
        cmp3.transient_attributes().collect::<Vec<_>>(),
        [("umha-test-t", "7")]
    );

    let ctl1 = cib.node("ctl1").unwrap();
    assert_eq!(ctl1.attribute("#feature-set"), Some("3.16.1"));
    assert_eq!(cib.node("cmp1").unwrap().attribute("umha-test"), None);
}

/// Every fixture parses with the parser its `.cmd` names, and the capture
/// notes are there.
#[test]
fn every_fixture_is_covered() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "xml") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let cmd = path.with_extension("cmd");
        let cmd = std::fs::read_to_string(&cmd).unwrap_or_else(|_| panic!("{name}: no .cmd"));
        // The capture is the last command of the notes.
        let cmd = cmd
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .unwrap_or_else(|| panic!("{name}: .cmd names no command"));
        let text = std::fs::read_to_string(&path).unwrap();
        if cmd.contains("cibadmin") {
            Cib::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        } else if cmd.contains("stonith_admin") {
            FenceHistory::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        } else if cmd.contains("crm_mon") {
            CrmMon::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        } else {
            panic!("{name}: .cmd names no known tool");
        }
        seen += 1;
    }
    assert!(seen >= 14, "only {seen} fixtures");
}

/// `Cib::query` runs the real cibadmin, which reads `CIB_file` when set.
/// Skipped when Pacemaker's tools are not installed.
#[test]
fn from_file_matches_parse() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/healthy-cib.xml");
    let a = Cib::from_file(&path).unwrap();
    let b = cib("healthy-cib.xml");
    assert_eq!(a.version(), b.version());
    assert_eq!(a.nodes().len(), b.nodes().len());
    assert!(matches!(
        Cib::from_file("/nonexistent/cib.xml"),
        Err(cib::CibError::Io { .. })
    ));
}

/// The real `cibadmin --query` reads `CIB_file`, as `Cib::query` relies on
/// (its child inherits the environment). Skipped without Pacemaker's tools.
#[test]
fn cibadmin_honours_cib_file() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/healthy-cib.xml");
    let out = match umha_common::Command::new("cibadmin")
        .arg("--query")
        .env("CIB_file", &path)
        .timeout(std::time::Duration::from_secs(30))
        .run()
    {
        Ok(out) => out,
        Err(umha_common::ExecError::NotFound { .. }) => {
            eprintln!("cibadmin not installed: skipped");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    assert!(out.success(), "{}", out.stderr_summary());
    let via_tool = Cib::parse(&out.stdout_lossy()).unwrap();
    let direct = cib("healthy-cib.xml");
    assert_eq!(via_tool.version(), direct.version());
    let states = |c: &Cib| {
        c.nodes()
            .iter()
            .map(|n| (n.name.clone(), n.state))
            .collect::<Vec<_>>()
    };
    assert_eq!(states(&via_tool), states(&direct));
}
