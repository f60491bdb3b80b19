//! Pacemaker and Nova joined: each compute node's nova-compute is the clone
//! `nova-compute-clone` (agent `ocf:umha-lab:nova-compute`), started by the
//! node's pacemaker-remoted inside the node, so it lives and dies with the
//! node; the constraint `nova-compute-gate` keeps it off a node that carries
//! the evacuation marker `umha-evacuate`. Nova is read through umha's own
//! `openstack` crate.
//!
//! Needs the lab with OpenStack: `sudo tests/lab/up.sh --with-openstack`, then
//! `cargo test -p umha-lab-tests -- --ignored --test-threads=1`. On a lab
//! without it the tests say SKIPPED and pass, unless `UMHA_LAB_OPENSTACK=1`.
//! Each test starts and ends with every node online, the cluster settled,
//! nova-compute running everywhere and Nova reporting it up; servers a test
//! boots are deleted and markers it sets are removed, even when it fails.

use std::time::{Duration, Instant};

use cib::{Cib, FenceHistory, UnixTime};
use openstack::ServiceState;
use umha_lab_tests::nova::{
    GATE_CONSTRAINT, MarkerGuard, NOVA_COMPUTE_CLONE, REPORT_INTERVAL, SERVICE_DOWN_TIME,
    ServersGuard, clear_evacuate_marker, describe_service, evacuate_marker, heartbeat_epoch,
    nova_compute_nodes, nova_compute_pid, nova_compute_running, nova_lab, service_healthy,
    set_evacuate_marker, wait_nova_healthy,
};
use umha_lab_tests::{
    alive, lab_dir, now_epoch, remoted_pid, require_lab, run, run_ok, wait_for, wait_healthy,
};

/// The node whose evacuation marker test (b) sets.
const GATED_NODE: &str = "cmp3";
/// The node whose power test (c) cuts.
const CUT_NODE: &str = "cmp1";

/// The evacuator's valve hold, for the length of a test.
struct HoldGuard;

impl HoldGuard {
    fn set() -> Self {
        let deadline = umha_common::Deadline::after(Duration::from_secs(20));
        cib::attr::set_property("umha-valve", "umha-hold", "lab_nova: gate test", deadline)
            .unwrap_or_else(|e| panic!("set the valve hold: {e}"));
        HoldGuard
    }
}

impl Drop for HoldGuard {
    fn drop(&mut self) {
        let deadline = umha_common::Deadline::after(Duration::from_secs(20));
        let _ = cib::attr::delete_property("umha-valve", "umha-hold", deadline);
    }
}

/// Pacemaker's fail count of nova-compute on `node` (0 when none).
fn failcount(node: &str) -> u64 {
    let out = run(
        "crm_failcount",
        &["--query", "--resource", "nova-compute", "--node", node],
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find_map(|w| w.strip_prefix("value="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
#[ignore = "needs the lab with OpenStack: tests/lab/up.sh --with-openstack"]
fn nova_compute_runs_inside_every_compute_node_and_nova_reports_each_up() {
    let lab = require_lab();
    wait_healthy(&lab);
    let Some(nova) = nova_lab(&lab) else { return };
    wait_nova_healthy(&lab, &nova);

    // The CIB: the lab's agent, cloned, gated on the evacuation marker.
    let cib = Cib::query().unwrap();
    let rsc = cib
        .resource("nova-compute")
        .expect("nova-compute in the CIB");
    assert_eq!(rsc.class.as_deref(), Some("ocf"));
    assert_eq!(rsc.provider.as_deref(), Some("umha-lab"));
    assert_eq!(rsc.agent.as_deref(), Some("nova-compute"));
    assert_eq!(rsc.parents, [NOVA_COMPUTE_CLONE]);
    let gate = format!(
        "//rsc_location[@id='{GATE_CONSTRAINT}'][@rsc='{NOVA_COMPUTE_CLONE}']\
         /rule[@score='-INFINITY']/expression[@attribute='umha-evacuate'][@operation='defined']"
    );
    run_ok("cibadmin", &["--query", "--xpath", &gate]);
    // Pacemaker finds the agent, and its meta-data is valid OCF 1.0.
    let meta = run_ok(
        "crm_resource",
        &["--show-metadata", "ocf:umha-lab:nova-compute"],
    );
    assert!(
        meta.contains("<parameter name=\"compute_script\""),
        "{meta}"
    );
    run_ok(
        "bash",
        &[
            "-c",
            "cd /usr/share/resource-agents && \
             /usr/lib/ocf/resource.d/umha-lab/nova-compute meta-data | xmllint --noout --valid -",
        ],
    );

    // Pacemaker runs it on every compute node (never on ctl1), and each
    // process is the node's own: inside the node's network namespace, with
    // that node's config.
    assert_eq!(nova_compute_nodes(), lab.nodes);
    for node in &lab.nodes {
        let pid = nova_compute_pid(node)
            .unwrap_or_else(|| panic!("{node}'s nova-compute does not run inside {node}"));
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(
            cmdline.contains(&format!("/{node}/nova.conf")),
            "{node}'s nova-compute (pid {pid}) runs another host's config: {cmdline}"
        );
        let svc = nova.compute_service(node).unwrap();
        assert!(service_healthy(&svc), "{}", describe_service(&svc));
        println!("{node}: pid {pid}, Nova: {}", describe_service(&svc));
    }

    // End to end: a server booted onto each node lands there.
    let mut guard = ServersGuard::default();
    for node in &lab.nodes {
        let ids = nova.boot_servers(node, 1, &format!("umha-lab-nova-a-{node}"));
        guard.0.extend(ids.iter().cloned());
        let on_host: Vec<String> = nova
            .servers_on_host(node)
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert!(on_host.contains(&ids[0]), "{node}: {on_host:?}");
        assert_eq!(nova.instance_actions(&ids[0]), ["create"]);
        assert_eq!(nova.evacuations(&ids[0]), 0);
    }
    nova.delete_servers(&guard.0);
    guard.0.clear();
    wait_healthy(&lab);
}

#[test]
#[ignore = "needs the lab with OpenStack: tests/lab/up.sh --with-openstack"]
fn the_evacuation_marker_keeps_nova_compute_off_cmp3_until_it_is_removed() {
    let lab = require_lab();
    wait_healthy(&lab);
    let Some(nova) = nova_lab(&lab) else { return };
    wait_nova_healthy(&lab, &nova);
    let node = GATED_NODE;
    assert_eq!(evacuate_marker(node), None, "{node} is already gated");
    let pid = nova_compute_pid(node).expect("cmp3's nova-compute runs");
    let others: Vec<(String, u32)> = lab
        .nodes
        .iter()
        .filter(|n| *n != node)
        .map(|n| (n.clone(), nova_compute_pid(n).expect("nova-compute runs")))
        .collect();
    let failures = failcount(node);

    // The lab's evacuator takes a marker set by hand as a request to
    // evacuate the node, and clears it as soon as that is done. A valve hold
    // keeps it waiting, so only the gate acts here.
    let _hold = HoldGuard::set();
    println!("umha-evacuate set on {node}: Pacemaker must stop its nova-compute");
    let guard = MarkerGuard(node.to_owned());
    let t0 = Instant::now();
    set_evacuate_marker(node);
    assert!(evacuate_marker(node).is_some());
    wait_for(
        "nova-compute-clone stopped on cmp3 (and its process gone)",
        Duration::from_secs(45),
        || {
            let on = nova_compute_nodes();
            if on.iter().any(|n| n == node) || alive(pid) {
                Err(format!(
                    "Pacemaker: {on:?}; pid {pid} alive: {}",
                    alive(pid)
                ))
            } else {
                Ok(())
            }
        },
    );
    let stopped = t0.elapsed();
    // Only cmp3's: the others keep running, untouched.
    for (n, p) in &others {
        assert_eq!(
            nova_compute_pid(n),
            Some(*p),
            "{n}'s nova-compute was disturbed"
        );
    }

    // Nova counts it down once service_down_time has passed since its last
    // heartbeat (one report_interval at most before the stop).
    let bound = SERVICE_DOWN_TIME + REPORT_INTERVAL + Duration::from_secs(15);
    let (svc, _) = nova.wait_service(node, "down", bound, |s| s.state == Some(ServiceState::Down));
    let down = t0.elapsed();
    assert!(
        !svc.forced_down,
        "nobody forced it down: {}",
        describe_service(&svc)
    );

    // The gate is a placement rule, not a failure.
    assert_eq!(failcount(node), failures, "the stop counted as a failure");
    assert!(!nova_compute_running(node));
    // It stays stopped while the marker is there.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !nova_compute_running(node),
        "nova-compute came back on a gated node"
    );

    println!("umha-evacuate removed from {node}: Pacemaker must start nova-compute again");
    let t1 = Instant::now();
    clear_evacuate_marker(node);
    drop(guard);
    let new_pid = wait_for(
        "nova-compute-clone running on cmp3 again",
        Duration::from_secs(60),
        || {
            nova_compute_pid(node)
                .filter(|_| nova_compute_nodes().iter().any(|n| n == node))
                .ok_or("not yet")
        },
    );
    assert_ne!(new_pid, pid);
    let restarted = t1.elapsed();
    nova.wait_service(node, "up again", Duration::from_secs(90), service_healthy);
    let up = t1.elapsed();
    println!(
        "MEASURED: marker set -> nova-compute stopped {:.1}s, Nova reports down {:.1}s \
         (service_down_time {}s); marker removed -> running {:.1}s, Nova reports up {:.1}s",
        stopped.as_secs_f64(),
        down.as_secs_f64(),
        SERVICE_DOWN_TIME.as_secs(),
        restarted.as_secs_f64(),
        up.as_secs_f64()
    );
    wait_healthy(&lab);
    wait_nova_healthy(&lab, &nova);
}

#[test]
#[ignore = "needs the lab with OpenStack: tests/lab/up.sh --with-openstack"]
fn a_power_cut_kills_nova_compute_with_cmp1_and_it_comes_back_with_the_node() {
    let lab = require_lab();
    wait_healthy(&lab);
    let Some(nova) = nova_lab(&lab) else { return };
    wait_nova_healthy(&lab, &nova);
    let node = CUT_NODE;
    let pid = nova_compute_pid(node).expect("cmp1's nova-compute runs");
    let remoted = remoted_pid(node).expect("cmp1's pacemaker-remoted runs");
    let cut_at = UnixTime::from_secs(now_epoch());

    println!("power cut of {node} (tests/lab/power {node} off)");
    let t0 = Instant::now();
    let power = lab_dir().join("power");
    run_ok(&power.to_string_lossy(), &[node, "off"]);
    // Everything in the node dies at once, nova-compute included.
    wait_for(
        "cmp1's nova-compute and pacemaker-remoted dead",
        Duration::from_secs(5),
        || {
            if alive(pid) || alive(remoted) {
                Err(format!(
                    "nova-compute alive: {}, remoted alive: {}",
                    alive(pid),
                    alive(remoted)
                ))
            } else {
                Ok(())
            }
        },
    );
    let dead = t0.elapsed();

    // Pacemaker fences it (a reboot through its BMC), which powers it on.
    let event = wait_for(
        "Pacemaker fencing cmp1 after the cut",
        Duration::from_secs(60),
        || {
            let history = FenceHistory::query().map_err(|e| e.to_string())?;
            history
                .confirmed_fence_after(node, cut_at)
                .cloned()
                .ok_or_else(|| format!("{} events for {node}", history.events_for(node).count()))
        },
    );
    let fenced = t0.elapsed();
    println!("fence event: {event:?}");

    // Back online, Pacemaker starts the clone instance inside it again.
    wait_healthy(&lab);
    let new_pid = wait_for(
        "nova-compute running inside cmp1 again",
        Duration::from_secs(60),
        || nova_compute_pid(node).ok_or("not yet"),
    );
    assert_ne!(new_pid, pid);
    let back = t0.elapsed();
    // A heartbeat from the new process: "up" alone may still be the dead
    // one's last heartbeat (the node was back within service_down_time).
    // Heartbeats have whole seconds; the old process died within a second.
    let (svc, _) = nova.wait_service(
        node,
        "up with a heartbeat after the cut",
        Duration::from_secs(90),
        |s| service_healthy(s) && heartbeat_epoch(s).is_some_and(|t| t >= cut_at.secs() + 2),
    );
    let up = t0.elapsed();
    println!(
        "MEASURED: power cut -> nova-compute dead {:.2}s, fenced {:.1}s, nova-compute running \
         again {:.1}s, Nova reports up {:.1}s ({})",
        dead.as_secs_f64(),
        fenced.as_secs_f64(),
        back.as_secs_f64(),
        up.as_secs_f64(),
        describe_service(&svc)
    );
    wait_nova_healthy(&lab, &nova);
}

/// Not a lab test: the heartbeat parser the power-cut test relies on.
#[test]
fn heartbeat_epoch_reads_novas_updated_at() {
    let service = |updated: &str| -> openstack::Service {
        serde_json::from_value(serde_json::json!({
            "binary": "nova-compute", "host": "cmp1", "updated_at": updated
        }))
        .unwrap()
    };
    // date -u -d 2026-11-22T06:25:04 +%s
    assert_eq!(
        heartbeat_epoch(&service("2026-11-22T06:25:04.000000")),
        Some(1_795_328_704)
    );
    assert_eq!(heartbeat_epoch(&service("1970-01-01T00:00:00")), Some(0));
    assert_eq!(
        heartbeat_epoch(&service("2000-02-29 23:59:59Z")),
        Some(951_868_799)
    );
    assert_eq!(heartbeat_epoch(&service("garbage")), None);
}
