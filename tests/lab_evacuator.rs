//! ocf:umha:umha-evacuator on the joined lab: real Pacemaker, real
//! fence_ipmi (with `evacuate=1`, so it writes the marker after a verified
//! off), real Nova with the fake virt driver, nova-compute as a clone gated
//! on the marker. `up.sh --with-openstack` creates the `evacuator` primitive
//! on ctl1 (defaults, plus `evacuate_local_disk=true`: the lab's servers boot
//! from an image).
//!
//! Every test starts and ends with every node online, nova-compute up
//! everywhere, no marker, no hold and the evacuator's parameters as up.sh
//! set them; servers it boots are deleted.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use umha_lab_tests::nova::{
    MarkerGuard, Nova, ServersGuard, evacuate_marker, nova_compute_running, nova_lab,
    wait_nova_healthy,
};
use umha_lab_tests::{
    Lab, lab_dir, lab_sh, require_lab, run, run_ok, state_dir, wait_for, wait_healthy,
};

const EVACUATOR: &str = "evacuator";

fn history_file() -> PathBuf {
    state_dir().join("evacuations.jsonl")
}

/// History entries appended since `from` lines.
fn history_since(from: usize) -> Vec<serde_json::Value> {
    std::fs::read_to_string(history_file())
        .unwrap_or_default()
        .lines()
        .skip(from)
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn history_len() -> usize {
    std::fs::read_to_string(history_file())
        .unwrap_or_default()
        .lines()
        .count()
}

fn attr(node: &str, name: &str) -> Option<String> {
    cib::attr::query_persistent(
        node,
        name,
        umha_common::Deadline::after(Duration::from_secs(20)),
    )
    .unwrap_or(None)
}

fn hold() -> Option<String> {
    let out = run(
        "crm_attribute",
        &[
            "--type",
            "crm_config",
            "--set-name",
            "umha-evacuator",
            "--name",
            "umha-hold",
            "--query",
            "--quiet",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn release_hold() {
    run(
        "crm_attribute",
        &[
            "--type",
            "crm_config",
            "--set-name",
            "umha-evacuator",
            "--name",
            "umha-hold",
            "--delete",
        ],
    );
}

fn set_param(name: &str, value: &str) {
    run_ok(
        "crm_resource",
        &[
            "--resource",
            EVACUATOR,
            "--set-parameter",
            name,
            "--parameter-value",
            value,
        ],
    );
}

fn delete_param(name: &str) {
    run(
        "crm_resource",
        &["--resource", EVACUATOR, "--delete-parameter", name],
    );
}

fn crash(node: &str) {
    println!("crash of {node}: power cut behind Pacemaker's back");
    run_ok(&lab_dir().join("power").to_string_lossy(), &[node, "off"]);
}

/// Undo what a test changed, whatever happened: parameters, hold, BMCs.
struct Restore {
    params: Vec<&'static str>,
    bmcs: Vec<String>,
}

impl Drop for Restore {
    fn drop(&mut self) {
        for p in &self.params {
            delete_param(p);
        }
        for node in &self.bmcs {
            let _ = std::process::Command::new("bash")
                .arg("-c")
                .arg(format!(
                    ". '{}/lib.sh' && lab_bmc_stop {node}; lab_bmc_start {node}",
                    lab_dir().display()
                ))
                .status();
        }
        release_hold();
        run("crm_resource", &["--cleanup", "--resource", EVACUATOR]);
    }
}

/// Instances booted on a node about to fail, with everything the test must
/// undo: the instances, the node's marker, evacuator parameters.
struct Scenario {
    ids: Vec<String>,
    /// History lines before the failure.
    from: usize,
    _servers: ServersGuard,
    _marker: MarkerGuard,
    _restore: Restore,
}

/// Set `params` on the evacuator (undone on drop), then boot `n` instances
/// on `node`.
fn scenario(
    nova: &Nova,
    node: &str,
    n: usize,
    prefix: &str,
    params: &[(&'static str, &str)],
) -> Scenario {
    let restore = Restore {
        params: params.iter().map(|(k, _)| *k).collect(),
        bmcs: vec![],
    };
    for (k, v) in params {
        set_param(k, v);
    }
    let ids = nova.boot_servers(node, n, prefix);
    Scenario {
        _servers: ServersGuard(ids.clone()),
        _marker: MarkerGuard(node.to_owned()),
        _restore: restore,
        from: history_len(),
        ids,
    }
}

fn start(lab: &Lab) -> Option<Nova> {
    wait_healthy(lab);
    let nova = nova_lab(lab)?;
    wait_nova_healthy(lab, &nova);
    assert!(
        umha_lab_tests::resource_locations(EVACUATOR)
            .iter()
            .any(|n| n == "ctl1"),
        "the evacuator runs on ctl1"
    );
    assert_eq!(hold(), None, "no hold left by an earlier test");
    Some(nova)
}

/// Wait until each of `ids` is ACTIVE on a host other than `source`,
/// checking all along that nova-compute never runs on `source` while its
/// marker is set. Returns when the last landed.
fn wait_evacuated(nova: &Nova, ids: &[String], source: &str, timeout: Duration) -> Duration {
    let t0 = Instant::now();
    let mut gate_checks = 0;
    wait_for(
        &format!("{} servers ACTIVE off {source}", ids.len()),
        timeout,
        || {
            if evacuate_marker(source).is_some() {
                assert!(
                    !nova_compute_running(source),
                    "nova-compute runs on {source} while its evacuation marker is set"
                );
                gate_checks += 1;
            }
            let mut pending = Vec::new();
            for id in ids {
                let s = nova.server(id)?;
                if s.status != "ACTIVE"
                    || s.host.as_deref() == Some(source)
                    || s.task_state.is_some()
                {
                    pending.push(format!("{} {} {:?}", s.name, s.status, s.host));
                }
            }
            if pending.is_empty() {
                Ok(())
            } else {
                Err(format!("{} pending: {}", pending.len(), pending.join(", ")))
            }
        },
    );
    println!("gate checked {gate_checks} times while the marker was set");
    t0.elapsed()
}

fn assert_once_each(nova: &Nova, ids: &[String]) {
    let counts: BTreeMap<&str, usize> = ids
        .iter()
        .map(|id| (id.as_str(), nova.evacuations(id)))
        .collect();
    assert!(
        counts.values().all(|c| *c == 1),
        "evacuate actions per instance: {counts:?}"
    );
}

/// The incident closes: marker gone, service un-forced, up and enabled.
fn wait_recovered(nova: &Nova, node: &str) {
    wait_for(
        &format!("{node}'s incident closed (umha-evac-state done)"),
        Duration::from_secs(150),
        || match attr(node, "umha-evac-state") {
            Some(s) if s.starts_with("done ") => Ok(()),
            other => Err(format!(
                "state {other:?}, status {:?}",
                attr(node, "umha-evac-status")
            )),
        },
    );
    assert_eq!(evacuate_marker(node), None);
    let svc = nova.compute_service(node).unwrap();
    assert!(
        svc.is_up() && !svc.forced_down && !svc.is_disabled(),
        "{svc:?}"
    );
}

#[test]
#[ignore = "needs the lab with OpenStack: tests/lab/up.sh --with-openstack"]
fn a_killed_node_is_fenced_and_its_instances_evacuated_exactly_once() {
    let lab = require_lab();
    let Some(nova) = start(&lab) else { return };
    let node = "cmp2";
    let sc = scenario(&nova, node, 10, "evac-kill", &[]);
    let (ids, from) = (&sc.ids, sc.from);
    crash(node);
    let took = wait_evacuated(&nova, ids, node, Duration::from_secs(180));
    println!(
        "MEASURED: crash -> 10 instances ACTIVE elsewhere in {:.1}s",
        took.as_secs_f64()
    );
    assert_once_each(&nova, ids);
    // Fenced by Pacemaker through fence_ipmi, which wrote the marker.
    let fenced = run_ok("stonith_admin", &["--history", node, "--output-as=xml"]);
    assert!(fenced.contains("status=\"success\""), "{fenced}");
    wait_recovered(&nova, node);
    let entries = history_since(from);
    let evacuated = entries
        .iter()
        .filter(|e| e["event"] == "evacuate" && e["node"] == node)
        .count();
    assert_eq!(evacuated, 10, "one evacuate per instance in the history");
    assert!(entries.iter().any(|e| e["event"] == "recovered"));
    nova.delete_servers(ids);
    wait_healthy(&lab);
}

#[test]
#[ignore = "needs the lab with OpenStack: tests/lab/up.sh --with-openstack"]
fn when_fencing_fails_nothing_is_evacuated_and_the_reason_shows() {
    let lab = require_lab();
    let Some(nova) = start(&lab) else { return };
    let node = "cmp3";
    let sc = scenario(&nova, node, 3, "evac-nofence", &[]);
    let ids = &sc.ids;
    let _bmc = Restore {
        params: vec![],
        bmcs: vec![node.to_owned()],
    };
    // The BMC now refuses the fence device's password.
    lab_sh(&format!(
        "lab_bmc_stop {node} && lab_bmc_start {node} not-the-password"
    ));
    crash(node);
    let status = wait_for(
        &format!("{node}'s status says why"),
        Duration::from_secs(90),
        || match attr(node, "umha-evac-status") {
            Some(s) if s.contains("last fence attempt failed") => Ok(s),
            other => Err(format!("{other:?}")),
        },
    );
    println!("status while fencing fails: {status}");
    // Give it time to do the wrong thing, then check it did not.
    std::thread::sleep(Duration::from_secs(20));
    for id in ids {
        assert_eq!(
            nova.evacuations(id),
            0,
            "{id} evacuated without a confirmed fence"
        );
    }
    assert_eq!(
        evacuate_marker(node),
        None,
        "no marker without a verified off"
    );
    let svc = nova.compute_service(node).unwrap();
    assert!(!svc.forced_down, "Nova left alone: {svc:?}");
    // The BMC repaired: the next fence succeeds and the evacuation follows.
    lab_sh(&format!("lab_bmc_stop {node} && lab_bmc_start {node}"));
    wait_evacuated(&nova, ids, node, Duration::from_secs(240));
    assert_once_each(&nova, ids);
    wait_recovered(&nova, node);
    nova.delete_servers(ids);
    wait_healthy(&lab);
}

#[test]
#[ignore = "needs the lab with OpenStack: tests/lab/up.sh --with-openstack"]
fn two_of_three_failing_together_trip_the_valve_until_released() {
    let lab = require_lab();
    let Some(nova) = start(&lab) else { return };
    let _restore = Restore {
        params: vec!["max_failed_ratio"],
        bmcs: vec![],
    };
    set_param("max_failed_ratio", "0.5");
    let a = nova.boot_servers("cmp1", 2, "evac-valve-a");
    let b = nova.boot_servers("cmp2", 2, "evac-valve-b");
    let all: Vec<String> = a.iter().chain(&b).cloned().collect();
    let _servers = ServersGuard(all.clone());
    let _m1 = MarkerGuard("cmp1".to_owned());
    let _m2 = MarkerGuard("cmp2".to_owned());
    crash("cmp1");
    crash("cmp2");
    let why = wait_for("the valve's hold", Duration::from_secs(90), || {
        hold().ok_or("no hold yet")
    });
    println!("hold: {why}");
    assert!(why.contains("2 of 3"), "{why}");
    wait_for("both nodes held", Duration::from_secs(90), || {
        let states: Vec<_> = ["cmp1", "cmp2"]
            .iter()
            .map(|n| attr(n, "umha-evac-state"))
            .collect();
        if states
            .iter()
            .all(|s| s.as_deref().is_some_and(|s| s.starts_with("held ")))
        {
            Ok(())
        } else {
            Err(format!("{states:?}"))
        }
    });
    std::thread::sleep(Duration::from_secs(15));
    for id in &all {
        assert_eq!(nova.evacuations(id), 0, "evacuated during a hold");
    }
    // Nodes back, nova-compute still gated off by their markers.
    wait_healthy(&lab);
    assert!(!nova_compute_running("cmp1") && !nova_compute_running("cmp2"));
    release_hold();
    wait_evacuated(&nova, &a, "cmp1", Duration::from_secs(180));
    wait_evacuated(&nova, &b, "cmp2", Duration::from_secs(180));
    assert_once_each(&nova, &all);
    wait_recovered(&nova, "cmp1");
    wait_recovered(&nova, "cmp2");
    nova.delete_servers(&all);
    wait_healthy(&lab);
}

fn monitor_pid() -> Option<u32> {
    let out = run("pgrep", &["-f", "resource.d/umha/umha-evacuator monitor"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

#[test]
#[ignore = "needs the lab with OpenStack: tests/lab/up.sh --with-openstack"]
fn an_evacuator_killed_midway_is_recovered_and_finishes_exactly_once() {
    let lab = require_lab();
    let Some(nova) = start(&lab) else { return };
    let node = "cmp1";
    // One at a time, so the kill surely lands in the middle.
    let sc = scenario(&nova, node, 20, "evac-resume", &[("max_parallel", "1")]);
    let (ids, from) = (&sc.ids, sc.from);
    crash(node);
    let pid = wait_for(
        "the evacuator issuing evacuations",
        Duration::from_secs(90),
        || {
            let issued = history_since(from)
                .iter()
                .filter(|e| e["event"] == "evacuate")
                .count();
            match monitor_pid() {
                Some(pid) if issued >= 2 => Ok(pid),
                other => Err(format!("{issued} issued, monitor {other:?}")),
            }
        },
    );
    let issued = history_since(from)
        .iter()
        .filter(|e| e["event"] == "evacuate")
        .count();
    println!("kill -9 of the evacuator's monitor (pid {pid}) after {issued} evacuations");
    run_ok("kill", &["-KILL", &pid.to_string()]);
    assert!(
        issued < ids.len(),
        "the kill came after the last evacuate: not midway"
    );
    wait_evacuated(&nova, ids, node, Duration::from_secs(240));
    assert_once_each(&nova, ids);
    let failed_ops = run_ok(
        "crm_mon",
        &["-1", "--include=failcounts", "--output-as=xml"],
    );
    println!(
        "evacuator failure recorded by Pacemaker: {}",
        failed_ops.contains("evacuator")
    );
    wait_recovered(&nova, node);
    nova.delete_servers(ids);
    wait_healthy(&lab);
}

#[test]
#[ignore = "needs the lab with OpenStack: tests/lab/up.sh --with-openstack"]
fn dry_run_changes_nothing_in_nova_and_records_what_it_would_do() {
    let lab = require_lab();
    let Some(nova) = start(&lab) else { return };
    let node = "cmp3";
    let sc = scenario(&nova, node, 3, "evac-dry", &[("dry_run", "true")]);
    let (ids, from) = (&sc.ids, sc.from);
    crash(node);
    wait_for(
        "the dry run recorded",
        Duration::from_secs(120),
        || match attr(node, "umha-evac-status") {
            Some(s) if s.starts_with("dry run") => Ok(s),
            other => Err(format!("{other:?}")),
        },
    );
    let entries = history_since(from);
    let would: Vec<_> = entries
        .iter()
        .filter(|e| e["event"] == "would-evacuate" && e["dry_run"] == true)
        .filter_map(|e| e["instance"].as_str())
        .collect();
    for id in ids {
        assert!(
            would.contains(&id.as_str()),
            "{id} not in the dry run's record: {would:?}"
        );
        assert_eq!(nova.evacuations(id), 0);
        assert_eq!(nova.server(id).unwrap().host.as_deref(), Some(node));
    }
    let svc = nova.compute_service(node).unwrap();
    assert!(
        !svc.forced_down && !svc.is_disabled(),
        "Nova untouched: {svc:?}"
    );
    // The marker is cleared, so nova-compute comes back and the cloud is as before.
    wait_for(
        "nova-compute back on the node",
        Duration::from_secs(120),
        || {
            if nova_compute_running(node) {
                Ok(())
            } else {
                Err("not yet")
            }
        },
    );
    nova.delete_servers(ids);
    wait_healthy(&lab);
}

#[test]
#[ignore = "needs the lab with OpenStack: tests/lab/up.sh --with-openstack"]
fn ocf_tester_passes_on_the_installed_agent() {
    let lab = require_lab();
    if nova_lab(&lab).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rsctmp = dir.path().join("rsc");
    std::fs::create_dir_all(&rsctmp).unwrap();
    let log = dir.path().join("agent.log");
    let yaml = umha_lab_tests::nova::clouds_yaml();
    let cloud_param = format!("clouds_yaml={}", yaml.display());
    let history = format!("history_file={}", dir.path().join("h.jsonl").display());
    // dry_run: ocf-tester's monitors must never act on the lab's nodes.
    let params = [
        "cloud=umha-lab",
        cloud_param.as_str(),
        history.as_str(),
        "dry_run=true",
        "compute_nodes=none-such",
    ];
    let result = agent_core::testing::ocf_tester(
        "/usr/lib/ocf/resource.d/umha/umha-evacuator",
        "evacuator-ocf-tester",
        &params,
        &[
            ("HA_RSCTMP", rsctmp.as_os_str()),
            ("HA_LOGFILE", log.as_os_str()),
        ],
    );
    match result {
        None => {}
        Some(r) => {
            let out = r.unwrap_or_else(|e| {
                panic!("{e}\n{}", std::fs::read_to_string(&log).unwrap_or_default())
            });
            println!("{out}");
        }
    }
}
