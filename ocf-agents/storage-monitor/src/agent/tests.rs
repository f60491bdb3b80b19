//! The agent against a fake network, a recording attrd and stand-in heartbeat checkers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use agent_core::OcfStatus;
use agent_core::testing::{check_lifecycle, run_action};

use super::*;
use crate::attributes::fake::Recorder;
use crate::icmp::{EchoOutcome, EchoPlan, Family, OpenError};

/// Answers per address: how many of the plan's echoes come back.
#[derive(Debug, Default)]
struct FakeNet {
    answered: Mutex<HashMap<IpAddr, u32>>,
    probes: Mutex<u32>,
    denied: Mutex<bool>,
}

impl FakeNet {
    fn set(&self, addr: &str, answered: u32) {
        self.answered
            .lock()
            .unwrap()
            .insert(addr.parse().unwrap(), answered);
    }

    fn probes(&self) -> u32 {
        *self.probes.lock().unwrap()
    }
}

impl Prober for FakeNet {
    fn probe(&self, targets: &[IpAddr], plan: &EchoPlan, _deadline: Deadline) -> Vec<EchoOutcome> {
        *self.probes.lock().unwrap() += 1;
        let answers = self.answered.lock().unwrap();
        targets
            .iter()
            .map(|a| {
                let mut o = EchoOutcome::new(*a);
                o.sent = plan.count;
                o.answered = answers
                    .get(a)
                    .copied()
                    .unwrap_or(plan.count)
                    .min(plan.count);
                o.timed_out = plan.count - o.answered;
                o
            })
            .collect()
    }

    fn check_access(&self, _families: &[Family]) -> Result<(), OpenError> {
        if *self.denied.lock().unwrap() {
            Err(OpenError {
                family: Family::V4,
                ping: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
                raw: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            })
        } else {
            Ok(())
        }
    }
}

type Agent = StorageMonitor<FakeNet, Recorder>;

fn agent() -> Agent {
    agent_with_checker(Checker::new("sh", ["-c", "echo ok", "checker"]))
}

fn agent_with_checker(checker: Checker) -> Agent {
    StorageMonitor::with(FakeNet::default(), Recorder::default(), checker)
}

struct Lab {
    dir: tempfile::TempDir,
    rsctmp: String,
}

impl Lab {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let rsctmp = dir.path().to_string_lossy().into_owned();
        Self { dir, rsctmp }
    }

    fn env<'a>(&'a self, node: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = vec![
            ("HA_RSCTMP", self.rsctmp.as_str()),
            ("OCF_RESOURCE_INSTANCE", "storage"),
            ("OCF_RESKEY_CRM_meta_on_node", node),
            ("OCF_RESKEY_storage_server_address", "127.0.0.1 ::1"),
            ("OCF_RESKEY_CRM_meta_interval", "10000"),
        ];
        for (k, v) in extra {
            env.retain(|(e, _)| e != k);
            env.push((k, v));
        }
        env
    }

    fn state(&self, node: &str) -> Option<NodeState> {
        let path = self
            .dir
            .path()
            .join(format!("storage-monitor@storage@{node}.state"));
        std::fs::read_to_string(path)
            .ok()
            .map(|t| NodeState::parse(&t))
    }

    fn write_state(&self, node: &str, state: &NodeState) {
        let path = self
            .dir
            .path()
            .join(format!("storage-monitor@storage@{node}.state"));
        std::fs::write(path, state.render()).unwrap();
    }
}

const PROBE: (&str, &str) = ("OCF_RESKEY_CRM_meta_interval", "0");

fn status(agent: &Agent, action: &str, env: &[(&str, &str)]) -> OcfStatus {
    let o = run_action(agent, action, env);
    o.status
}

#[test]
fn follows_the_ocf_contract() {
    let lab = Lab::new();
    check_lifecycle(&agent(), &lab.env("cmp1", &[])).unwrap();
}

#[test]
fn start_publishes_everything_and_quiet_monitors_write_nothing() {
    let lab = Lab::new();
    let a = agent();
    let env = lab.env("cmp1", &[]);
    assert_eq!(status(&a, "start", &env), OcfStatus::Success);
    assert_eq!(
        a.writer().take(),
        [
            "set cmp1 umha-storage=2000 d=5",
            "set cmp1 umha-storage-detail=127.0.0.1=ok,::1=ok d=5",
        ]
    );
    for _ in 0..3 {
        assert_eq!(status(&a, "monitor", &env), OcfStatus::Success);
    }
    assert!(
        a.writer().take().is_empty(),
        "nothing changed, nothing written"
    );
    assert_eq!(a.prober.probes(), 4);
    let state = lab.state("cmp1").unwrap();
    assert_eq!(
        state.published.get("umha-storage").map(String::as_str),
        Some("2000")
    );
    assert!(state.republished > 0);
}

#[test]
fn storage_loss_turns_the_score_to_zero_and_back() {
    let lab = Lab::new();
    let a = agent();
    let env = lab.env("cmp2", &[("OCF_RESKEY_health", "yes")]);
    assert_eq!(status(&a, "start", &env), OcfStatus::Success);
    a.writer().take();

    // One address down: yellow, the score of what is left.
    a.prober.set("::1", 0);
    assert_eq!(status(&a, "monitor", &env), OcfStatus::Success);
    assert_eq!(
        a.writer().take(),
        [
            "set cmp2 #health-umha-storage=yellow d=5",
            "set cmp2 umha-storage=1000 d=5",
            "set cmp2 umha-storage-detail=127.0.0.1=ok,::1=lost 4/4 d=5",
        ]
    );
    // Both down: red and 0, and monitor still succeeds.
    a.prober.set("127.0.0.1", 1);
    assert_eq!(status(&a, "monitor", &env), OcfStatus::Success);
    assert_eq!(
        a.writer().take(),
        [
            "set cmp2 #health-umha-storage=red d=5",
            "set cmp2 umha-storage=0 d=5",
            "set cmp2 umha-storage-detail=127.0.0.1=lost 3/4,::1=lost 4/4 d=5",
            // Undampened: it changes at every red check.
            "set cmp2 umha-storage-red-count=1",
        ]
    );
    // Still red: only the streak moves.
    assert_eq!(status(&a, "monitor", &env), OcfStatus::Success);
    assert_eq!(a.writer().take(), ["set cmp2 umha-storage-red-count=2"]);
    assert_eq!(lab.state("cmp2").unwrap().red_checks, 2);
    // A probe says it again without checking, and does not count.
    assert_eq!(
        status(
            &a,
            "monitor",
            &lab.env("cmp2", &[("OCF_RESKEY_health", "yes"), PROBE])
        ),
        OcfStatus::Success
    );
    let probed = a.writer().take();
    assert!(
        probed.contains(&"set cmp2 umha-storage-red-count=2".to_owned()),
        "{probed:?}"
    );
    assert_eq!(lab.state("cmp2").unwrap().red_checks, 2);
    // Back: the streak ends and its attribute goes.
    a.prober.set("127.0.0.1", 4);
    a.prober.set("::1", 3);
    assert_eq!(status(&a, "monitor", &env), OcfStatus::Success);
    assert_eq!(
        a.writer().take(),
        [
            "set cmp2 #health-umha-storage=green d=5",
            "set cmp2 umha-storage=2000 d=5",
            "set cmp2 umha-storage-detail=127.0.0.1=ok,::1=ok d=5",
            "delete cmp2 umha-storage-red-count",
        ]
    );
    assert_eq!(lab.state("cmp2").unwrap().red_checks, 0);
}

#[test]
fn state_is_per_node_for_anonymous_clones() {
    let lab = Lab::new();
    let a = agent();
    assert_eq!(
        status(&a, "start", &lab.env("cmp1", &[])),
        OcfStatus::Success
    );
    assert_eq!(
        status(&a, "monitor", &lab.env("cmp1", &[])),
        OcfStatus::Success
    );
    assert_eq!(
        status(&a, "monitor", &lab.env("cmp2", &[])),
        OcfStatus::NotRunning
    );
    assert_eq!(
        status(&a, "monitor", &lab.env("cmp2", &[PROBE])),
        OcfStatus::NotRunning
    );
    assert!(lab.state("cmp2").is_none());
}

#[test]
fn probes_republish_without_checking() {
    let lab = Lab::new();
    let a = agent();
    assert_eq!(
        status(&a, "start", &lab.env("cmp1", &[])),
        OcfStatus::Success
    );
    a.writer().take();
    let probes = a.prober.probes();
    assert_eq!(
        status(&a, "monitor", &lab.env("cmp1", &[PROBE])),
        OcfStatus::Success
    );
    assert_eq!(a.prober.probes(), probes, "a probe does not ping");
    assert_eq!(a.writer().take().len(), 2, "but re-writes every attribute");
}

#[test]
fn republishing_is_periodic() {
    let lab = Lab::new();
    let a = agent();
    let env = lab.env("cmp1", &[]);
    assert_eq!(status(&a, "start", &env), OcfStatus::Success);
    a.writer().take();
    let mut state = lab.state("cmp1").unwrap();
    state.republished -= 601;
    lab.write_state("cmp1", &state);
    assert_eq!(status(&a, "monitor", &env), OcfStatus::Success);
    assert_eq!(a.writer().take().len(), 2);
    assert_eq!(status(&a, "monitor", &env), OcfStatus::Success);
    assert!(a.writer().take().is_empty());
    // Disabled: never.
    let never = lab.env("cmp1", &[("OCF_RESKEY_republish_interval", "0")]);
    let mut state = lab.state("cmp1").unwrap();
    state.republished = 0;
    lab.write_state("cmp1", &state);
    assert_eq!(status(&a, "monitor", &never), OcfStatus::Success);
    assert!(a.writer().take().is_empty());
}

#[test]
fn an_unreachable_attrd_is_retried_not_fatal() {
    let lab = Lab::new();
    let a = agent();
    let env = lab.env("cmp1", &[]);
    a.writer().set_failing(true);
    assert_eq!(status(&a, "start", &env), OcfStatus::Success);
    assert_eq!(a.writer().take().len(), 2);
    assert!(lab.state("cmp1").unwrap().published.is_empty());
    assert_eq!(status(&a, "monitor", &env), OcfStatus::Success);
    assert_eq!(a.writer().take().len(), 2, "retried");
    a.writer().set_failing(false);
    assert_eq!(status(&a, "monitor", &env), OcfStatus::Success);
    assert_eq!(a.writer().take().len(), 2);
    assert_eq!(status(&a, "monitor", &env), OcfStatus::Success);
    assert!(a.writer().take().is_empty());
    // Stop succeeds even when deleting fails.
    a.writer().set_failing(true);
    assert_eq!(status(&a, "stop", &env), OcfStatus::Success);
    assert_eq!(status(&a, "monitor", &env), OcfStatus::NotRunning);
}

#[test]
fn stop_deletes_every_attribute_it_published() {
    let lab = Lab::new();
    let a = agent();
    let env = lab.env(
        "cmp3",
        &[("OCF_RESKEY_health", "1"), ("OCF_RESKEY_name", "st")],
    );
    assert_eq!(status(&a, "start", &env), OcfStatus::Success);
    a.writer().take();
    assert_eq!(status(&a, "stop", &env), OcfStatus::Success);
    assert_eq!(
        a.writer().take(),
        [
            "delete cmp3 #health-st",
            "delete cmp3 st",
            "delete cmp3 st-detail",
            "delete cmp3 st-red-count"
        ]
    );
    assert!(lab.state("cmp3").is_none());
    let left: Vec<_> = std::fs::read_dir(lab.dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn reload_applies_new_parameters_and_drops_unwanted_attributes() {
    let lab = Lab::new();
    let a = agent();
    let env = lab.env("cmp1", &[("OCF_RESKEY_health", "true")]);
    assert_eq!(status(&a, "start", &env), OcfStatus::Success);
    a.writer().take();
    let changed = lab.env(
        "cmp1",
        &[
            ("OCF_RESKEY_health", "false"),
            ("OCF_RESKEY_multiplier", "1"),
        ],
    );
    assert_eq!(status(&a, "reload", &changed), OcfStatus::Success);
    assert_eq!(
        a.writer().take(),
        [
            "delete cmp1 #health-umha-storage",
            "set cmp1 umha-storage=2 d=5"
        ]
    );
    // Reload of a stopped resource: nothing.
    assert_eq!(
        status(&a, "reload", &lab.env("cmp2", &[])),
        OcfStatus::Success
    );
    assert!(a.writer().take().is_empty());
}

#[test]
fn bad_configurations_are_not_configured_with_a_reason() {
    let lab = Lab::new();
    let a = agent();
    for (name, value, reason) in [
        (
            "storage_server_address",
            "",
            "required parameter storage_server_address is not set",
        ),
        (
            "storage_server_address",
            "storage1",
            "parameter storage_server_address: 'storage1' is not an IP address",
        ),
        (
            "storage_server_address",
            "127.0.0.1 10.0.0.300",
            "'10.0.0.300' is not an IP address",
        ),
        (
            "ping_loss_ratio",
            "-1",
            "parameter ping_loss_ratio: '-1' is not a number",
        ),
        (
            "ping_loss_ratio",
            "2",
            "parameter ping_loss_ratio: '2' is outside 0 to 1",
        ),
        (
            "ping_count",
            "0",
            "parameter ping_count: '0' is not between 1 and 100",
        ),
        (
            "min_reachable",
            "3",
            "parameter min_reachable: 3 is more than the 2",
        ),
        (
            "heartbeat_path",
            "nfs/dir",
            "parameter heartbeat_path: 'nfs/dir' is not an absolute path",
        ),
    ] {
        for action in ["validate-all", "start"] {
            let key = format!("OCF_RESKEY_{name}");
            let o = run_action(&a, action, &lab.env("cmp1", &[(&key, value)]));
            assert_eq!(
                o.status,
                OcfStatus::ErrConfigured,
                "{action} {name}={value}"
            );
            let got = o.reason.unwrap_or_default();
            assert!(got.contains(reason), "{action} {name}={value}: {got}");
        }
    }
}

#[test]
fn stop_and_probe_with_bad_parameters_still_find_the_state() {
    let lab = Lab::new();
    let a = agent();
    assert_eq!(
        status(&a, "start", &lab.env("cmp1", &[])),
        OcfStatus::Success
    );
    a.writer().take();
    let bad = lab.env("cmp1", &[("OCF_RESKEY_ping_count", "0"), PROBE]);
    assert_eq!(status(&a, "monitor", &bad), OcfStatus::Success);
    assert_eq!(status(&a, "stop", &bad), OcfStatus::Success);
    assert_eq!(
        a.writer().take(),
        [
            "delete cmp1 umha-storage",
            "delete cmp1 umha-storage-detail"
        ]
    );
    assert_eq!(status(&a, "monitor", &bad), OcfStatus::NotRunning);
}

#[test]
fn missing_privileges_are_reported_before_start() {
    let lab = Lab::new();
    let a = agent();
    *a.prober.denied.lock().unwrap() = true;
    let o = run_action(&a, "start", &lab.env("cmp1", &[]));
    assert_eq!(o.status, OcfStatus::ErrPerm);
    assert!(o.reason.unwrap_or_default().contains("ICMP socket"));
    assert!(lab.state("cmp1").is_none());
}

#[test]
fn a_schedule_longer_than_start_is_a_configuration_error() {
    let lab = Lab::new();
    let a = agent();
    let env = lab.env(
        "cmp1",
        &[
            ("OCF_RESKEY_ping_count", "20"),
            ("OCF_RESKEY_ping_interval", "1s"),
            ("OCF_RESKEY_CRM_meta_timeout", "10000"),
        ],
    );
    let o = run_action(&a, "start", &env);
    assert_eq!(o.status, OcfStatus::ErrConfigured);
    assert!(
        o.reason
            .unwrap_or_default()
            .starts_with("a check takes up to 20s")
    );
}

#[test]
fn the_path_check_takes_part() {
    let lab = Lab::new();
    let hb = [
        ("OCF_RESKEY_heartbeat_path", "/srv/share/.hb"),
        ("OCF_RESKEY_heartbeat_timeout", "300ms"),
    ];

    // The checker gets mode, directory and node.
    let args = lab.dir.path().join("args");
    let a = agent_with_checker(Checker::new(
        "sh",
        [
            "-c",
            &format!("echo \"$@\" > '{}'; echo ok", args.display()),
            "checker",
        ],
    ));
    assert_eq!(
        status(&a, "start", &lab.env("cmp1", &hb)),
        OcfStatus::Success
    );
    assert_eq!(
        std::fs::read_to_string(&args).unwrap(),
        "write /srv/share/.hb cmp1\n"
    );
    assert_eq!(
        lab.state("cmp1").unwrap().last.unwrap().detail,
        "127.0.0.1=ok,::1=ok,path=ok"
    );

    // A hung share: red within the heartbeat timeout, monitor still 0.
    let hung = agent_with_checker(Checker::new("sh", ["-c", "exec sleep 30", "checker"]));
    let started = std::time::Instant::now();
    assert_eq!(
        status(&hung, "monitor", &lab.env("cmp1", &hb)),
        OcfStatus::Success
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        hung.writer().take(),
        [
            "set cmp1 umha-storage=0 d=5",
            "set cmp1 umha-storage-detail=127.0.0.1=ok,::1=ok,path=hung d=5",
            "set cmp1 umha-storage-red-count=1",
        ]
    );
}

#[test]
fn an_unusable_share_refuses_start_and_validate_but_a_missing_one_does_not() {
    let lab = Lab::new();
    let hb = [("OCF_RESKEY_heartbeat_path", "/srv/share/.hb")];
    let ro = agent_with_checker(Checker::new(
        "sh",
        [
            "-c",
            "echo 'unusable /srv/share/.hb/.cmp1.heartbeat.tmp: Read-only file system (os error 30)'",
            "checker",
        ],
    ));
    for action in ["validate-all", "start"] {
        let o = run_action(&ro, action, &lab.env("cmp1", &hb));
        assert_eq!(o.status, OcfStatus::ErrConfigured, "{action}");
        let reason = o.reason.unwrap_or_default();
        assert!(
            reason.starts_with("heartbeat_path is unusable: /srv/share/.hb"),
            "{reason}"
        );
    }
    assert!(lab.state("cmp1").is_none());

    let missing = agent_with_checker(Checker::new(
        "sh",
        [
            "-c",
            "echo 'missing /srv/share/.hb: No such file'",
            "checker",
        ],
    ));
    assert_eq!(
        status(&missing, "validate-all", &lab.env("cmp1", &hb)),
        OcfStatus::Success
    );
    assert_eq!(
        status(&missing, "start", &lab.env("cmp1", &hb)),
        OcfStatus::Success
    );
    assert_eq!(lab.state("cmp1").unwrap().last.unwrap().health, Health::Red);
    // Once started, an unusable share is red, not an error.
    assert_eq!(
        status(&ro, "monitor", &lab.env("cmp1", &hb)),
        OcfStatus::Success
    );
    assert_eq!(
        lab.state("cmp1").unwrap().last.unwrap().detail,
        "127.0.0.1=ok,::1=ok,path=unusable"
    );
}
