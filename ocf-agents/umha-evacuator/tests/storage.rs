//! Storage-driven recovery, whole steps against the in-memory cluster and
//! the fake cloud: a node red for storage_error_count checks is fenced once
//! and evacuated once; many red nodes trip the storage valve; dry runs and
//! refusals; a lost node still writing its heartbeat is "isolated, not dead"
//! (read through this package's own binary, as the agent does).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use cib::CibError;
use umha_common::Deadline;
use umha_evacuator::cluster::{Cluster, Memory};
use umha_evacuator::config::Config;
use umha_evacuator::plan::{ComputeNode, Snapshot, Write};
use umha_evacuator::record::Phase;
use umha_evacuator::selection::Mode;
use umha_evacuator::storage::{HeartbeatReader, ISOLATED};

use common::Rig;

const HOSTS: [&str; 3] = ["cmp1", "cmp2", "cmp3"];

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn healthy(name: &str) -> ComputeNode {
    let mut n = ComputeNode::online_remote(name);
    n.storage.score = Some(3000);
    n
}

/// A cluster that refuses every fence request, as stonith_admin does for a
/// node no device can fence.
#[derive(Debug)]
struct Refusing(Memory);

impl Cluster for Refusing {
    fn snapshot(&self, c: &Config, now: i64, d: Deadline) -> Result<Snapshot, CibError> {
        self.0.snapshot(c, now, d)
    }
    fn apply(&self, c: &Config, w: &Write, d: Deadline) -> Result<(), CibError> {
        self.0.apply(c, w, d)
    }
    fn version(&self, d: Deadline) -> Result<(cib::CibVersion, bool), CibError> {
        self.0.version(d)
    }
    fn request_fence(&self, node: &str, _: Duration, _: Deadline) -> Result<(), CibError> {
        Err(CibError::ToolFailed {
            tool: "stonith_admin".into(),
            code: 105,
            message: format!("Could not fence {node}: No such device"),
        })
    }
}

impl Rig {
    /// `n` servers on cmp1; every node online with working storage.
    fn new(n: usize) -> Self {
        let mut rig = Rig::with(
            &HOSTS,
            HOSTS.iter().map(|h| healthy(h)).collect(),
            Mode::All,
        )
        .boot(n, "cmp1");
        // The agent's own binary as the heartbeat reader, as in production.
        rig.heartbeats = Some(HeartbeatReader {
            checker: storage_monitor::heartbeat::Checker::new(
                env!("CARGO_BIN_EXE_umha-evacuator"),
                [storage_monitor::heartbeat::CHECKER_ARG],
            ),
            lock: rig.dir.path().join("heartbeat.lock"),
        });
        rig
    }

    fn red(&self, name: &str, checks: u32) {
        self.update(name, |n| {
            n.storage.score = Some(0);
            n.storage.red_checks = Some(checks);
        });
    }
}

#[test]
fn a_node_red_for_three_checks_is_fenced_once_and_evacuated_once() {
    let rig = Rig::new(4);
    for checks in [1, 2] {
        rig.red("cmp1", checks);
        rig.step();
        assert!(
            rig.cluster.fenced().is_empty(),
            "{checks} checks are not enough"
        );
    }
    rig.red("cmp1", 3);
    let report = rig.step();
    assert_eq!(report.plan.fence_requests, ["cmp1"]);
    assert_eq!(rig.cluster.fenced(), ["cmp1"]);
    let requested = rig.node("cmp1").storage.fence_requested.unwrap();
    assert!((now() - requested).abs() < 10);
    assert_eq!(rig.events("alert:storage-fence").len(), 1);
    // The next steps (a restarted agent reads the same CIB) do not ask again.
    for checks in [4, 5] {
        rig.red("cmp1", checks);
        assert!(rig.step().plan.fence_requests.is_empty());
    }
    assert_eq!(rig.cluster.fenced(), ["cmp1"]);
    assert!(
        rig.node("cmp1")
            .storage
            .status
            .unwrap()
            .contains("fence requested at")
    );

    // Pacemaker fences it: offline, its transient attributes gone, and the
    // fence agent (evacuate=1) writes the marker.
    let fenced_at = now();
    rig.cloud.kill_service("cmp1");
    rig.update("cmp1", |n| {
        n.online = false;
        n.storage.score = None;
        n.storage.red_checks = None;
        n.marker = Some(fenced_at.to_string());
    });
    let report = rig.step();
    assert_eq!(report.settled, ["cmp1"], "{report:?}");
    for s in rig.cloud.servers() {
        assert_ne!(s.host.as_deref(), Some("cmp1"), "{s:?}");
        assert_eq!(rig.cloud.accepted_evacuations(&s.id), 1, "{s:?}");
    }
    assert_eq!(
        rig.node("cmp1").record.map(|r| r.phase),
        Some(Phase::Restoring)
    );

    // Back, still without storage (the cut outlives the reboot): fenced
    // after the request, so not fenced again; one alert says so.
    rig.update("cmp1", |n| n.online = true);
    for checks in [1, 2, 3, 4] {
        rig.red("cmp1", checks);
        assert!(rig.step().plan.fence_requests.is_empty());
    }
    assert_eq!(rig.cluster.fenced(), ["cmp1"]);
    assert_eq!(rig.events("alert:storage-red-again").len(), 1);

    // Storage back: the episode is over.
    rig.update("cmp1", |n| {
        n.storage.score = Some(3000);
        n.storage.red_checks = None;
    });
    rig.step();
    let st = rig.node("cmp1").storage;
    assert_eq!((st.fence_requested, st.status), (None, None));
    assert_eq!(rig.events("storage-back").len(), 1);
    assert_eq!(rig.cluster.fenced(), ["cmp1"]);
}

#[test]
fn two_of_three_red_trip_the_storage_valve_and_nothing_is_fenced() {
    let mut rig = Rig::new(0);
    rig.config.storage.max_failed_ratio = 0.5;
    rig.red("cmp1", 3);
    rig.red("cmp2", 2);
    rig.step();
    assert!(rig.cluster.fenced().is_empty());
    let hold = rig.cluster.snapshot_now().hold.unwrap();
    assert!(
        hold.contains("2 of 3 compute nodes lost their storage"),
        "{hold}"
    );
    assert_eq!(rig.events("alert:valve").len(), 1);
    // More red checks under the hold: still nothing, no new alert.
    rig.red("cmp1", 5);
    rig.red("cmp2", 5);
    rig.step();
    rig.step();
    assert!(rig.cluster.fenced().is_empty());
    assert_eq!(rig.events("alert:valve").len(), 1);
    // One line per sick node, each said once: cmp1 at the trip, cmp2 once
    // it became sick under the hold.
    assert_eq!(rig.events("alert:storage-held").len(), 1);
    assert_eq!(rig.events("alert:storage-not-fencing").len(), 1);
    let line = |n: &str| rig.node(n).storage.status.unwrap();
    assert_eq!(line("cmp1"), line("cmp2"));
    assert!(
        line("cmp1").contains("while the hold is set"),
        "{}",
        line("cmp1")
    );
    // Storage back, hold released: nothing is fenced afterwards.
    for n in ["cmp1", "cmp2"] {
        rig.update(n, |n| {
            n.storage.score = Some(3000);
            n.storage.red_checks = None;
        });
    }
    rig.step();
    rig.cluster.update(|s| s.hold = None);
    for _ in 0..3 {
        rig.step();
    }
    assert!(rig.cluster.fenced().is_empty());
    assert!(rig.cluster.snapshot_now().hold.is_none());
    assert!(
        !rig.cluster
            .written()
            .iter()
            .any(|w| matches!(w, Write::SetFenceRequest { .. }))
    );
}

#[test]
fn dry_run_and_switched_off_report_instead_of_fencing() {
    let mut rig = Rig::new(0);
    rig.config.dry_run = true;
    rig.red("cmp3", 3);
    rig.step();
    rig.step();
    assert!(rig.cluster.fenced().is_empty());
    let would = rig.events("would-fence");
    assert_eq!(would.len(), 1, "said once");
    assert_eq!(would[0]["dry_run"], true);
    assert_eq!(rig.node("cmp3").storage.fence_requested, None);

    let mut rig = Rig::new(0);
    rig.config.storage.fencing = false;
    rig.red("cmp3", 3);
    rig.step();
    assert!(rig.cluster.fenced().is_empty());
    assert_eq!(rig.events("alert:storage-not-fencing").len(), 1);
}

#[test]
fn a_refused_request_is_alerted_and_made_again_after_the_timeout() {
    let rig = Rig::new(0);
    let refusing = Refusing(Memory::new(rig.cluster.snapshot_now()));
    refusing.0.update(|s| {
        let n = &mut s.nodes[1];
        n.storage.score = Some(0);
        n.storage.red_checks = Some(3);
    });
    rig.step_on(&refusing);
    assert_eq!(rig.events("alert:storage-fence-error").len(), 1);
    // Within the timeout: not again.
    rig.step_on(&refusing);
    assert_eq!(rig.events("alert:storage-fence-error").len(), 1);
    // Past it, with no fence in the history: again.
    refusing.0.update(|s| {
        s.nodes[1].storage.fence_requested = Some(now() - 500);
        s.history = Some(cib::FenceHistory::default());
    });
    let report = rig.step_on(&refusing);
    assert_eq!(report.plan.fence_requests, ["cmp2"]);
    assert_eq!(rig.events("alert:storage-fence-error").len(), 2);
}

#[test]
fn a_lost_node_still_writing_its_heartbeat_is_isolated_not_dead() {
    let mut rig = Rig::new(0);
    let share = rig.dir.path().join("share");
    std::fs::create_dir(&share).unwrap();
    rig.config.storage.heartbeat_dir = Some(share.clone());
    let lost = now() - 20;
    rig.update("cmp2", |n| {
        n.online = false;
        n.last_failure = Some(lost);
    });
    // No heartbeat file: plain "lost".
    rig.step();
    let status = rig.node("cmp2").status.unwrap();
    assert!(status.contains("waiting for fencing"), "{status}");
    assert!(!status.contains("isolated"), "{status}");
    // Written after the loss: isolated, in the status line and an alert.
    std::fs::write(
        share.join("cmp2.heartbeat"),
        storage_monitor::heartbeat::Heartbeat::now("cmp2").render(),
    )
    .unwrap();
    rig.step();
    let status = rig.node("cmp2").status.unwrap();
    assert!(status.ends_with(ISOLATED), "{status}");
    let alerts = rig.events("alert:blocked");
    assert!(
        alerts.last().unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("isolated, not dead")
    );
    // Reporting only: nothing was fenced or evacuated because of it.
    assert!(rig.cluster.fenced().is_empty());
    assert!(rig.node("cmp2").marker.is_none());
    // A heartbeat from before the loss says nothing.
    rig.update("cmp2", |n| n.last_failure = Some(now() + 5));
    rig.step();
    assert!(!rig.node("cmp2").status.unwrap().contains("isolated"));
    // An unreadable share neither hangs the step nor claims anything.
    let mut rig2 = Rig::new(0);
    rig2.config.storage.heartbeat_dir = Some(rig2.dir.path().join("not-mounted"));
    rig2.update("cmp2", |n| {
        n.online = false;
        n.last_failure = Some(lost);
    });
    rig2.step();
    assert!(!rig2.node("cmp2").status.unwrap().contains("isolated"));
}
