//! The whole reconcile step against the fake cloud (`openstack::testing`)
//! and an in-memory cluster: every scenario of the lab, without a lab, and
//! the faults the lab cannot make on demand.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use openstack::testing::{EvacuationOutcome, Fault, Route, ServerSpec};
use umha_evacuator::hostmap::HostMap;
use umha_evacuator::plan::ComputeNode;
use umha_evacuator::record::Phase;
use umha_evacuator::selection::Mode;

use common::Rig;

const HOSTS: [&str; 3] = ["cmp1", "cmp2", "cmp3"];

fn node(name: &str) -> ComputeNode {
    ComputeNode::online_remote(name)
}

impl Rig {
    /// `n` servers on cmp2; cmp2 dead in Nova and carrying the marker.
    fn new(n: usize) -> Self {
        let mut cmp2 = node("cmp2");
        cmp2.online = false;
        cmp2.marker = Some(fence().to_string());
        let rig = Rig::with(
            &HOSTS,
            vec![node("cmp1"), cmp2, node("cmp3")],
            Mode::Tagged {
                tag: "evacuable".into(),
            },
        )
        .boot(n, "cmp2");
        rig.cloud.kill_service("cmp2");
        rig
    }

    fn cmp2(&self) -> ComputeNode {
        self.node("cmp2")
    }

    fn assert_all_once_elsewhere(&self) {
        for s in self.cloud.servers() {
            assert_ne!(s.host.as_deref(), Some("cmp2"), "{s:?}");
            assert_eq!(s.status, "ACTIVE", "{s:?}");
            assert_eq!(self.cloud.accepted_evacuations(&s.id), 1, "{s:?}");
        }
    }
}

fn fence() -> i64 {
    chrono::Utc::now().timestamp() - 5
}

#[test]
fn evacuates_every_instance_exactly_once_then_restores_in_order() {
    let rig = Rig::new(10);
    let report = rig.step();
    assert_eq!(report.settled, ["cmp2"], "{report:?}");
    rig.assert_all_once_elsewhere();
    let svc = rig.cloud.service("cmp2").unwrap();
    assert!(svc.forced_down && svc.disabled, "{svc:?}");
    assert!(svc.disabled_reason.unwrap_or_default().starts_with("umha:"));
    let cmp2 = rig.cmp2();
    assert_eq!(cmp2.marker, None, "marker cleared once all settled");
    assert_eq!(cmp2.record.map(|r| r.phase), Some(Phase::Restoring));
    assert_eq!(rig.events("evacuate").len(), 10);
    assert_eq!(rig.events("landed").len(), 10);

    // The node is back but nova-compute is not: nothing is un-forced.
    rig.cluster.update(|s| s.nodes[1].online = true);
    rig.step();
    assert!(rig.cloud.service("cmp2").unwrap().forced_down);
    // nova-compute returns and completes its migrations: un-force, then
    // wait for up, then enable.
    rig.cloud.revive_service("cmp2");
    rig.step();
    rig.step();
    let svc = rig.cloud.service("cmp2").unwrap();
    assert!(!svc.forced_down && !svc.disabled, "{svc:?}");
    assert_eq!(rig.cmp2().record.map(|r| r.phase), Some(Phase::Done));
    // Settled: a further step writes nothing.
    let before = rig.cluster.written().len();
    rig.step();
    assert_eq!(rig.cluster.written().len(), before);
}

#[test]
fn dry_run_never_writes_to_nova_and_records_everything() {
    let mut rig = Rig::new(4);
    rig.config.dry_run = true;
    rig.step();
    assert_eq!(rig.cloud.count(Route::ServerAction), 0);
    assert_eq!(rig.cloud.count(Route::ServiceUpdate), 0);
    assert_eq!(rig.cloud.servers_on("cmp2").len(), 4);
    assert_eq!(
        rig.events("would-evacuate").len(),
        8,
        "one at the decision, one in the summary"
    );
    assert!(
        rig.history()
            .iter()
            .all(|e| e["dry_run"] == true || e.get("dry_run").is_none())
    );
    let cmp2 = rig.cmp2();
    assert_eq!(cmp2.record.map(|r| r.phase), Some(Phase::Done));
    assert!(cmp2.status.unwrap().starts_with("dry run"));
}

#[test]
fn api_faults_are_ridden_out_without_duplicates() {
    let rig = Rig::new(6);
    rig.cloud.inject(Route::Servers, Fault::Status(503), 2);
    rig.cloud.inject(Route::Migrations, Fault::Reset, 2);
    // Two evacuates whose answers are lost after Nova took them: the next
    // check sees them in progress and does not send them again.
    rig.cloud
        .inject(Route::ServerAction, Fault::ResetAfterProcessing, 2);
    rig.cloud
        .inject(Route::Server, Fault::Stall(Duration::from_millis(200)), 3);
    let mut settled = false;
    for _ in 0..3 {
        if rig.step().settled == ["cmp2"] {
            settled = true;
            break;
        }
    }
    assert!(settled);
    rig.assert_all_once_elsewhere();
}

#[test]
fn resumes_after_being_killed_midway() {
    let mut rig = Rig::new(12);
    rig.cloud.set_evacuation_time(Duration::from_secs(2));
    rig.config.step_time = Duration::from_secs(1);
    rig.config.max_parallel = 1;
    // Steps cut short, each by a fresh agent (as after kill -9 and recovery).
    for _ in 0..30 {
        if rig.step().settled == ["cmp2"] {
            break;
        }
    }
    rig.assert_all_once_elsewhere();
    assert_eq!(rig.cmp2().marker, None);
}

#[test]
fn selection_rules_keep_what_they_should() {
    let rig = Rig::new(0);
    let tagged = rig
        .cloud
        .add_server(ServerSpec::new("tagged", "cmp2").extra_spec("evacuable", "true"));
    let plain = rig.cloud.add_server(ServerSpec::new("plain", "cmp2"));
    let broken = rig.cloud.add_server(
        ServerSpec::new("broken", "cmp2")
            .extra_spec("evacuable", "true")
            .in_error(),
    );
    assert_eq!(rig.step().settled, ["cmp2"]);
    assert_eq!(rig.cloud.accepted_evacuations(&tagged), 1);
    assert_eq!(rig.cloud.accepted_evacuations(&plain), 0);
    assert_eq!(rig.cloud.accepted_evacuations(&broken), 0);
    let skipped: Vec<String> = rig
        .history()
        .iter()
        .filter(|e| e["event"] == "skipped")
        .map(|e| e["instance_name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
}

#[test]
fn local_disks_stay_by_default() {
    let mut rig = Rig::new(0);
    rig.config.selection.evacuate_local_disk = false;
    let local = rig.cloud.add_server(ServerSpec::new("local", "cmp2"));
    let volume = rig
        .cloud
        .add_server(ServerSpec::new("volume", "cmp2").boot_from_volume("vol-1"));
    assert_eq!(rig.step().settled, ["cmp2"]);
    assert_eq!(rig.cloud.accepted_evacuations(&local), 0);
    assert_eq!(rig.cloud.accepted_evacuations(&volume), 1);
}

fn run_until_failed(rig: &Rig) -> ComputeNode {
    for _ in 0..5 {
        rig.step();
        if rig.cmp2().record.map(|r| r.phase) == Some(Phase::Failed) {
            break;
        }
    }
    let cmp2 = rig.cmp2();
    assert_eq!(
        cmp2.record.map(|r| r.phase),
        Some(Phase::Failed),
        "{cmp2:?}"
    );
    assert!(cmp2.marker.is_some(), "marker kept: nova-compute stays off");
    assert!(
        cmp2.status
            .as_deref()
            .unwrap_or_default()
            .contains("evacuation failed")
    );
    assert_eq!(rig.events("alert:incident-failed").len(), 1);
    cmp2
}

#[test]
fn no_valid_host_is_retried_up_to_max_attempts_then_reported() {
    let rig = Rig::new(1);
    let id = rig.cloud.servers()[0].id.clone();
    // Nowhere to go: the rebuild fails before leaving the source.
    rig.cloud.set_disabled("cmp1", true, Some("maintenance"));
    rig.cloud.set_disabled("cmp3", true, Some("maintenance"));
    run_until_failed(&rig);
    assert_eq!(rig.cloud.accepted_evacuations(&id), 3, "max_attempts");
}

#[test]
fn a_rebuild_failing_on_the_destination_is_reported_not_repeated() {
    let rig = Rig::new(1);
    let id = rig.cloud.servers()[0].id.clone();
    rig.cloud
        .set_evacuation_outcome(&id, EvacuationOutcome::Fail);
    run_until_failed(&rig);
    assert_eq!(rig.cloud.accepted_evacuations(&id), 1);
}

#[test]
fn an_ambiguous_host_name_is_refused() {
    let mut rig = Rig::new(2);
    rig.cloud.add_hosts(&["cmp2.a.example", "cmp2.b.example"]);
    rig.cluster.update(|s| {
        s.nodes[1].name = "cmp2.example".into();
    });
    rig.config.host_map = HostMap::default();
    rig.step();
    assert_eq!(rig.cloud.count(Route::ServerAction), 0);
    let status = rig.cluster.snapshot_now().nodes[1].status.clone().unwrap();
    assert!(status.contains("several Nova hosts"), "{status}");
}

#[test]
fn wrong_credentials_stop_at_connect_and_say_so() {
    let rig = Rig::new(2);
    let yaml = rig.dir.path().join("clouds.yaml");
    let text = std::fs::read_to_string(&yaml).unwrap();
    let password = &rig.cloud.config().password;
    std::fs::write(
        &yaml,
        text.replace(&format!("password: {password}"), "password: wrong"),
    )
    .unwrap();
    rig.step();
    assert_eq!(rig.cloud.count(Route::ServerAction), 0);
    let status = rig.cmp2().status.unwrap();
    assert!(status.contains("authentication failed"), "{status}");
    assert!(
        !status.contains("wrong"),
        "no secret in the status: {status}"
    );
    assert_eq!(rig.cmp2().record.map(|r| r.phase), Some(Phase::Evacuating));
}
