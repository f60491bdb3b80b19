//! Masakari's recovery methods, whole steps against the fake cloud (Nova
//! and Placement) and the in-memory cluster: reserved hosts kept idle,
//! taken, filled by room, the fallbacks each way, what cannot be placed
//! reported, dry runs that enable nothing, and maintenance after an
//! incident.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use openstack::testing::{FlavorSpec, Route};
use umha_common::Deadline;
use umha_evacuator::config::{Config, OnRecovery};
use umha_evacuator::maintenance::{self, MaintenanceError};
use umha_evacuator::plan::{ComputeNode, Write};
use umha_evacuator::record::Phase;
use umha_evacuator::recovery::{Policy, RecoveryMethod};
use umha_evacuator::selection::Mode;

use common::Rig;

const RESERVED: &str = "cmp3";

fn node(name: &str, segment: &str) -> ComputeNode {
    let mut n = ComputeNode::online_remote(name);
    n.recovery.segment = Some(segment.to_owned());
    n
}

impl Rig {
    /// cmp1..cmp4 in segment az1 with `method`, cmp3 flagged reserved,
    /// `n` servers on cmp2. Nothing has failed yet.
    fn new(n: usize, method: RecoveryMethod) -> Self {
        let mut cmp3 = node(RESERVED, "az1");
        cmp3.recovery.reserved = true;
        let mut rig = Rig::with(
            &["cmp1", "cmp2", "cmp3", "cmp4"],
            vec![
                node("cmp1", "az1"),
                node("cmp2", "az1"),
                cmp3,
                node("cmp4", "az1"),
            ],
            Mode::All,
        );
        // As with on_recovery=enable set: the default's maintenance in
        // reserved-host segments has its own test.
        rig.config.recovery = Policy {
            method: RecoveryMethod::Auto,
            segments: [("az1".to_owned(), method)].into(),
            maintain_reserved_segments: false,
            ..Policy::default()
        };
        rig.boot(n, "cmp2")
    }

    /// The first step: the idle reserved host is disabled in Nova.
    fn keep_reserve(&self) {
        self.step();
        let svc = self.cloud.service(RESERVED).unwrap();
        assert!(svc.disabled, "{svc:?}");
        assert!(
            svc.disabled_reason
                .as_deref()
                .unwrap_or_default()
                .starts_with("umha: reserved host"),
            "{svc:?}"
        );
        assert!(self.node(RESERVED).recovery.reserve_kept.is_some());
    }

    /// cmp2 dies and is fenced (marker set).
    fn fail_cmp2(&self) {
        self.cloud.kill_service("cmp2");
        let fence = chrono::Utc::now().timestamp() - 5;
        self.update("cmp2", |n| {
            n.online = false;
            n.marker = Some(fence.to_string());
        });
    }

    /// Steps until cmp2's incident is closed or failed.
    fn run_incident(&self) -> ComputeNode {
        for _ in 0..6 {
            self.step();
            let phase = self.node("cmp2").record.map(|r| r.phase);
            if matches!(phase, Some(Phase::Restoring | Phase::Done | Phase::Failed)) {
                break;
            }
        }
        self.node("cmp2")
    }

    /// cmp2 fails; steps until its incident ends, which must be in `phase`.
    fn incident_ends(&self, phase: Phase) -> ComputeNode {
        self.fail_cmp2();
        let cmp2 = self.run_incident();
        assert_eq!(cmp2.record.map(|r| r.phase), Some(phase), "{cmp2:?}");
        cmp2
    }

    fn host_of(&self, id: &str) -> String {
        self.cloud.server(id).unwrap().host.unwrap_or_default()
    }

    /// Where the accepted evacuates of `id` were sent (`None`: scheduler).
    fn targets_of(&self, id: &str) -> Vec<Option<String>> {
        self.cloud
            .evacuate_calls()
            .into_iter()
            .filter(|c| c.server_id == id && c.status == 200)
            .map(|c| c.body["host"].as_str().map(str::to_owned))
            .collect()
    }
}

fn tiny() -> FlavorSpec {
    FlavorSpec::default()
}

#[test]
fn reserved_host_takes_everything_is_enabled_and_loses_its_flag() {
    let rig = Rig::new(4, RecoveryMethod::ReservedHost);
    // A reserved host of another segment, with room, is never used.
    rig.cloud.add_host("cmp5");
    rig.cluster.update(|s| {
        let mut cmp5 = node("cmp5", "az2");
        cmp5.recovery.reserved = true;
        s.nodes.push(cmp5);
    });
    rig.keep_reserve();
    assert!(rig.cloud.service("cmp5").unwrap().disabled);
    // A quiet cluster with its reserve kept does not ask Nova again.
    rig.cloud.reset_log();
    rig.step();
    assert_eq!(rig.cloud.count(Route::Any), 0, "{:?}", rig.cloud.requests());

    let cmp2 = rig.incident_ends(Phase::Restoring);
    assert_eq!(cmp2.marker, None);
    for id in &rig.servers {
        assert_eq!(rig.host_of(id), RESERVED);
        assert_eq!(rig.targets_of(id), [Some(RESERVED.to_owned())]);
        assert_eq!(rig.cloud.server(id).unwrap().status, "ACTIVE");
    }
    let svc = rig.cloud.service(RESERVED).unwrap();
    assert!(!svc.disabled, "the reserved host was enabled: {svc:?}");
    let cmp3 = rig.node(RESERVED);
    assert!(!cmp3.recovery.reserved, "flag moved off the used host");
    assert_eq!(cmp3.recovery.reserve_kept, None);
    assert_eq!(rig.events("reserve-enable").len(), 1);
    assert_eq!(rig.events("reserve-taken").len(), 1);
    assert!(
        rig.events("reserved-host")[0]["message"]
            .as_str()
            .unwrap()
            .contains("reserved_host: 4 instance(s) to reserved host cmp3")
    );
    // After the incident: cmp3 is an ordinary host, left enabled; cmp5
    // stays in reserve.
    rig.step();
    assert!(!rig.cloud.service(RESERVED).unwrap().disabled);
    assert!(rig.cloud.service("cmp5").unwrap().disabled);
    assert!(rig.node("cmp5").recovery.reserved);
}

/// The evacuator writes a Remote node's marker itself from the fence
/// history. That marker makes the segment busy in the same step: a host
/// flagged reserved just then is not put into reserve (disabled) while
/// the evacuation may be taking it.
#[test]
fn a_marker_from_the_fence_history_leaves_a_fresh_reserved_host_usable() {
    let rig = Rig::new(2, RecoveryMethod::RhPriority);
    let now = chrono::Utc::now().timestamp();
    let completed = chrono::DateTime::from_timestamp(now - 20, 0)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%SZ");
    let history = cib::FenceHistory::parse(&format!(
        r#"<pacemaker-result api-version="2.25" request="stonith_admin"><list name="fencing history"><fence_event action="off" target="cmp2" client="c" origin="ctl1" status="success" completed="{completed}"/></list><status code="0" message="OK"/></pacemaker-result>"#
    ))
    .unwrap();
    rig.cloud.kill_service("cmp2");
    rig.cluster.update(|s| {
        s.history = Some(history);
        let cmp2 = s.nodes.iter_mut().find(|n| n.name == "cmp2").unwrap();
        cmp2.online = false;
        cmp2.last_failure = Some(now - 60);
        cmp2.node_fenced = Some(now - 15);
    });
    let report = rig.step();
    assert!(
        matches!(&report.plan.writes[0], Write::SetMarker { node, .. } if node == "cmp2"),
        "{report:?}"
    );
    assert_eq!(rig.node(RESERVED).recovery.reserve_kept, None);
    let cmp2 = rig.run_incident();
    assert_eq!(cmp2.record.map(|r| r.phase), Some(Phase::Restoring));
    for id in &rig.servers {
        assert_eq!(rig.host_of(id), RESERVED);
    }
    let svc = rig.cloud.service(RESERVED).unwrap();
    assert!(!svc.disabled, "taken, then disabled again: {svc:?}");
}

#[test]
fn an_operator_removing_the_flag_gets_the_host_back() {
    let rig = Rig::new(0, RecoveryMethod::RhPriority);
    rig.keep_reserve();
    rig.update(RESERVED, |n| n.recovery.reserved = false);
    rig.step();
    let svc = rig.cloud.service(RESERVED).unwrap();
    assert!(!svc.disabled, "{svc:?}");
    assert_eq!(rig.node(RESERVED).recovery.reserve_kept, None);
    // A host disabled by someone else is noted, and left alone.
    rig.cloud
        .set_disabled("cmp4", true, Some("disk replacement"));
    rig.update("cmp4", |n| n.recovery.reserved = true);
    rig.step();
    let svc = rig.cloud.service("cmp4").unwrap();
    assert_eq!(svc.disabled_reason.as_deref(), Some("disk replacement"));
    assert!(
        rig.node("cmp4")
            .recovery
            .reserve_kept
            .unwrap()
            .contains("disabled in Nova by someone else")
    );
}

#[test]
fn rh_priority_sends_what_the_reserved_host_cannot_take_to_the_scheduler() {
    let rig = Rig::new(5, RecoveryMethod::RhPriority);
    rig.keep_reserve();
    rig.cloud.set_room_for(RESERVED, 2, &tiny());
    rig.incident_ends(Phase::Restoring);
    let on: Vec<String> = rig.servers.iter().map(|id| rig.host_of(id)).collect();
    assert_eq!(on.iter().filter(|h| *h == RESERVED).count(), 2, "{on:?}");
    assert!(on.iter().all(|h| h != "cmp2"), "{on:?}");
    for id in &rig.servers {
        assert_eq!(rig.cloud.accepted_evacuations(id), 1);
        let to = rig.targets_of(id);
        if rig.host_of(id) == RESERVED {
            assert_eq!(to, [Some(RESERVED.to_owned())]);
        } else {
            assert_eq!(to, [None], "the rest went through the scheduler");
        }
    }
    assert!(rig.events("reserved-host").iter().any(|e| {
        e["message"]
            .as_str()
            .unwrap()
            .contains("3 instance(s) do not fit")
    }));
}

#[test]
fn auto_priority_turns_to_the_reserved_host_when_the_scheduler_finds_none() {
    let rig = Rig::new(2, RecoveryMethod::AutoPriority);
    rig.keep_reserve();
    // No host for the scheduler: cmp1 and cmp4 under an operator's
    // maintenance, cmp3 in reserve.
    rig.cloud.set_disabled("cmp1", true, Some("firmware"));
    rig.cloud.set_disabled("cmp4", true, Some("firmware"));
    rig.incident_ends(Phase::Restoring);
    for id in &rig.servers {
        assert_eq!(rig.host_of(id), RESERVED);
        assert_eq!(rig.cloud.server(id).unwrap().status, "ACTIVE");
        // First the scheduler (NoValidHost), then the reserved host.
        assert_eq!(rig.targets_of(id), [None, Some(RESERVED.to_owned())]);
    }
    let errors = rig
        .cloud
        .migrations()
        .iter()
        .filter(|m| m.status == "error")
        .count();
    assert_eq!(errors, 2);
    assert!(!rig.node(RESERVED).recovery.reserved);
}

#[test]
fn reserved_host_without_room_reports_what_stays_and_keeps_the_incident_open() {
    let rig = Rig::new(3, RecoveryMethod::ReservedHost);
    rig.keep_reserve();
    rig.cloud.set_room_for(RESERVED, 1, &tiny());
    let cmp2 = rig.incident_ends(Phase::Failed);
    assert!(cmp2.marker.is_some(), "marker kept: nova-compute stays off");
    let placed: Vec<&String> = rig
        .servers
        .iter()
        .filter(|id| rig.host_of(id) == RESERVED)
        .collect();
    assert_eq!(placed.len(), 1);
    let stayed: Vec<&String> = rig
        .servers
        .iter()
        .filter(|id| rig.host_of(id) == "cmp2")
        .collect();
    assert_eq!(stayed.len(), 2);
    for id in &stayed {
        assert_eq!(rig.cloud.accepted_evacuations(id), 0, "not sent elsewhere");
    }
    // Named in the status, the history and an alert.
    let status = cmp2.status.unwrap();
    assert!(status.contains("2 instance(s)"), "{status}");
    assert!(status.contains("no reserved host has room"), "{status}");
    let unplaced = rig.events("unplaced");
    assert_eq!(unplaced.len(), 2);
    for e in &unplaced {
        assert!(stayed.iter().any(|id| e["instance"] == id.as_str()), "{e}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("no reserved host has room (cmp3: DISK_GB needs 1, 0 free)"),
            "{e}"
        );
    }
    let alerts = rig.events("alert:incident-failed");
    assert_eq!(alerts.len(), 1);
    let alert = alerts[0]["message"].as_str().unwrap();
    for id in &stayed {
        assert!(alert.contains(id.as_str()), "{alert}");
    }
}

#[test]
fn no_usable_reserved_host_is_reported_with_the_reasons() {
    let rig = Rig::new(1, RecoveryMethod::ReservedHost);
    rig.keep_reserve();
    // The reserved host dies too (but is not fenced yet).
    rig.cloud.mark_service_down(RESERVED);
    let cmp2 = rig.incident_ends(Phase::Failed);
    let status = cmp2.status.unwrap();
    assert!(status.contains("cmp3: nova-compute is down"), "{status}");
    assert_eq!(rig.cloud.count(Route::ServerAction), 0);
}

#[test]
fn dry_run_shows_the_reserved_host_and_enables_nothing() {
    let mut rig = Rig::new(3, RecoveryMethod::ReservedHost);
    rig.keep_reserve();
    rig.cloud.set_room_for(RESERVED, 2, &tiny());
    rig.config.dry_run = true;
    rig.fail_cmp2();
    rig.cloud.reset_log();
    rig.step();
    assert_eq!(rig.cloud.count(Route::ServiceUpdate), 0);
    assert_eq!(rig.cloud.count(Route::ServerAction), 0);
    let svc = rig.cloud.service(RESERVED).unwrap();
    assert!(svc.disabled, "{svc:?}");
    assert!(rig.node(RESERVED).recovery.reserved);
    let would: Vec<String> = rig
        .events("would-evacuate")
        .iter()
        .filter_map(|e| e["message"].as_str().map(str::to_owned))
        .filter(|m| m.contains("to reserved host cmp3"))
        .collect();
    assert_eq!(would.len(), 2, "{would:?}");
    let enable = rig.events("reserve-enable");
    assert_eq!(enable.len(), 1);
    assert!(
        enable[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("dry run: would enable")
    );
    assert_eq!(rig.events("unplaced").len(), 1);
    // The dry run closes the incident (the marker goes), as before.
    let cmp2 = rig.node("cmp2");
    assert_eq!(cmp2.record.map(|r| r.phase), Some(Phase::Done));
    let status = cmp2.status.unwrap();
    assert!(
        status.contains("1 not placed on a reserved host"),
        "{status}"
    );
    for id in &rig.servers {
        assert_eq!(rig.host_of(id), "cmp2");
    }
}

#[test]
fn manual_recovery_leaves_the_node_under_maintenance_until_enabled() {
    let mut rig = Rig::new(2, RecoveryMethod::Auto);
    rig.config.on_recovery = OnRecovery::Manual;
    let cmp2 = rig.incident_ends(Phase::Done);
    let why = cmp2.recovery.maintenance.unwrap();
    let (at, reason) = why.split_once(' ').unwrap();
    assert!(at.parse::<i64>().unwrap() > 0, "{why}");
    assert!(reason.contains("umha host enable cmp2"), "{why}");
    let svc = rig.cloud.service("cmp2").unwrap();
    assert!(svc.forced_down && svc.disabled, "{svc:?}");
    // The node comes back: nothing is restored on its own.
    rig.update("cmp2", |n| n.online = true);
    rig.cloud.revive_service("cmp2");
    rig.step();
    assert!(rig.cloud.service("cmp2").unwrap().forced_down);

    let deadline = Deadline::after(Duration::from_secs(20));
    // Refused while an evacuation is owed.
    rig.update("cmp2", |n| n.marker = Some("1".into()));
    let err = maintenance::end_maintenance(&rig.cluster, &rig.config, "cmp2", deadline);
    assert!(
        matches!(err, Err(MaintenanceError::EvacuationOpen { .. })),
        "{err:?}"
    );
    rig.update("cmp2", |n| n.marker = None);
    let done = maintenance::end_maintenance(&rig.cluster, &rig.config, "cmp2", deadline).unwrap();
    assert_eq!(done.waiting, None, "{done:?}");
    assert_eq!(done.steps.len(), 3, "{done:?}");
    let svc = rig.cloud.service("cmp2").unwrap();
    assert!(!svc.forced_down && !svc.disabled && svc.up, "{svc:?}");
    assert_eq!(rig.node("cmp2").recovery.maintenance, None);
}

#[test]
fn unset_on_recovery_keeps_reserved_host_segments_under_maintenance() {
    let mut rig = Rig::new(2, RecoveryMethod::ReservedHost);
    rig.config.recovery.maintain_reserved_segments = true;
    rig.keep_reserve();
    let cmp2 = rig.incident_ends(Phase::Done);
    assert!(cmp2.recovery.maintenance.is_some(), "{cmp2:?}");
    let status = cmp2.status.unwrap();
    assert!(
        status.contains("the default in segment az1 whose recovery method uses reserved hosts"),
        "{status}"
    );
    let svc = rig.cloud.service("cmp2").unwrap();
    assert!(svc.forced_down && svc.disabled, "{svc:?}");
    for id in &rig.servers {
        assert_eq!(rig.host_of(id), RESERVED);
    }
    // The rule itself: unset means manual only where reserved hosts are
    // used; set, it applies everywhere.
    let c = &mut rig.config;
    assert_eq!(c.on_recovery_for(Some("az1")), OnRecovery::Manual);
    assert_eq!(c.on_recovery_for(Some("az2")), OnRecovery::Enable);
    assert_eq!(c.on_recovery_for(None), OnRecovery::Enable);
    c.recovery.maintain_reserved_segments = false;
    assert_eq!(c.on_recovery_for(Some("az1")), OnRecovery::Enable);
    c.on_recovery = OnRecovery::Manual;
    assert_eq!(c.on_recovery_for(None), OnRecovery::Manual);
}

/// The configuration the agent reads from these parameters.
fn from_params(pairs: &[(&str, &str)]) -> Config {
    let mut env = vec![("OCF_RESKEY_cloud", "fake")];
    env.extend_from_slice(pairs);
    let params =
        agent_core::Params::from_env(umha_evacuator::SPEC.params, &agent_core::testing::env(&env))
            .unwrap();
    umha_evacuator::config::from_params(&params).unwrap()
}

#[test]
fn on_recovery_set_or_unset() {
    let unset = from_params(&[("OCF_RESKEY_recovery_method", "rh_priority")]);
    assert_eq!(unset.on_recovery, OnRecovery::Enable);
    assert!(unset.recovery.maintain_reserved_segments);
    assert_eq!(unset.on_recovery_for(None), OnRecovery::Manual);
    let enable = from_params(&[
        ("OCF_RESKEY_recovery_method", "rh_priority"),
        ("OCF_RESKEY_on_recovery", "enable"),
    ]);
    assert_eq!(enable.on_recovery_for(None), OnRecovery::Enable);
    let manual = from_params(&[("OCF_RESKEY_on_recovery", "manual")]);
    assert_eq!(manual.on_recovery_for(None), OnRecovery::Manual);
    // auto everywhere, unset: enable, as before recovery methods.
    assert_eq!(from_params(&[]).on_recovery_for(None), OnRecovery::Enable);
}

#[test]
fn ending_maintenance_waits_for_nova_compute() {
    let mut rig = Rig::new(0, RecoveryMethod::Auto);
    rig.config.on_recovery = OnRecovery::Manual;
    rig.fail_cmp2();
    rig.run_incident();
    // No evacuation to complete, but nova-compute is not back.
    rig.cloud.mark_service_down("cmp2");
    let done = maintenance::end_maintenance(
        &rig.cluster,
        &rig.config,
        "cmp2",
        Deadline::after(Duration::from_secs(3)),
    )
    .unwrap();
    assert!(done.waiting.unwrap().contains("does not report up"));
    assert!(rig.node("cmp2").recovery.maintenance.is_some(), "kept");
}

/// `validate-all` with extra parameters, against a cloud that answers.
fn validate(extra: &[(&str, &str)]) -> agent_core::Outcome {
    let (_cloud, dir, yaml) = common::cloud();
    common::validate_all(&yaml, dir.path(), extra)
}

#[test]
fn recovery_parameters_are_checked_by_validate_all() {
    use agent_core::OcfStatus;
    let good = validate(&[
        ("OCF_RESKEY_recovery_method", "rh_priority"),
        (
            "OCF_RESKEY_segment_recovery_methods",
            "az1:reserved_host, az2:auto_priority",
        ),
        ("OCF_RESKEY_segment_attribute", "rack"),
        ("OCF_RESKEY_reserved_attribute", "spare"),
    ]);
    assert_eq!(good.status, OcfStatus::Success, "{good:?}");
    for (bad, says) in [
        (
            [("OCF_RESKEY_recovery_method", "reserved")],
            "recovery_method",
        ),
        (
            [("OCF_RESKEY_segment_recovery_methods", "az1:bogus")],
            "bogus",
        ),
        (
            [("OCF_RESKEY_segment_recovery_methods", "az1")],
            "SEGMENT:METHOD",
        ),
        (
            [(
                "OCF_RESKEY_segment_recovery_methods",
                "a:auto a:rh_priority",
            )],
            "twice",
        ),
        (
            [("OCF_RESKEY_reserved_attribute", "a b")],
            "reserved_attribute",
        ),
    ] {
        let out = validate(&bad);
        assert_eq!(out.status, OcfStatus::ErrConfigured, "{bad:?}: {out:?}");
        let reason = out.reason.unwrap_or_default();
        assert!(reason.contains(says), "{bad:?}: {reason}");
    }
    let out = validate(&[
        ("OCF_RESKEY_recovery_method", "auto_priority"),
        ("OCF_RESKEY_max_attempts", "1"),
    ]);
    assert_eq!(out.status, OcfStatus::ErrConfigured, "{out:?}");
    assert!(out.reason.unwrap_or_default().contains("max_attempts"));
}
