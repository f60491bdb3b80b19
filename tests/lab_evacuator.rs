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

use std::time::Duration;

use umha_lab_tests::evac::{
    Incident, Params, assert_once_each, attr, evacuations_issued, history_since, hold,
    release_hold, start, wait_evacuated,
};
use umha_lab_tests::nova::{
    MarkerGuard, Nova, ServersGuard, evacuate_marker, nova_compute_running, nova_lab,
};
use umha_lab_tests::{crash, lab_dir, lab_sh, require_lab, run, run_ok, wait_for, wait_healthy};

/// Restarts BMCs a test broke, whatever happened.
struct RestartBmcs(Vec<String>);

impl Drop for RestartBmcs {
    fn drop(&mut self) {
        for node in &self.0 {
            let _ = std::process::Command::new("bash")
                .arg("-c")
                .arg(format!(
                    ". '{}/lib.sh' && lab_bmc_stop {node}; lab_bmc_start {node}",
                    lab_dir().display()
                ))
                .status();
        }
    }
}

/// Instances booted on a node about to fail, with everything the test must
/// undo: the instances, the node's marker, evacuator parameters.
struct Scenario {
    incident: Incident,
    _params: Params,
}

impl std::ops::Deref for Scenario {
    type Target = Incident;
    fn deref(&self) -> &Incident {
        &self.incident
    }
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
    let params = Params::set(params);
    Scenario {
        incident: Incident::boot(nova, node, n, prefix),
        _params: params,
    }
}

/// The incident closes: marker gone, service un-forced, up and enabled.
fn wait_recovered(nova: &Nova, node: &str) {
    umha_lab_tests::evac::wait_recovered(nova, node);
    assert_eq!(evacuate_marker(node), None);
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
    let _bmc = RestartBmcs(vec![node.to_owned()]);
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
    let _params = Params::set(&[("max_failed_ratio", "0.5")]);
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
            let issued = evacuations_issued(from);
            match monitor_pid() {
                Some(pid) if issued >= 2 => Ok(pid),
                other => Err(format!("{issued} issued, monitor {other:?}")),
            }
        },
    );
    let issued = evacuations_issued(from);
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
