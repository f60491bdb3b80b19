//! Storage-driven recovery on the joined lab (UMHA's own scenario): a node
//! that loses only its storage stays online for Pacemaker, so the evacuator
//! asks Pacemaker to fence it once storage-monitor has reported it red for
//! `storage_error_count` checks in a row; the normal path then evacuates
//! it. Two nodes losing their storage at once trip the storage valve:
//! nothing is fenced, the hold is set with the reason, an alert is logged.
//!
//! Needs `tests/lab/up.sh --with-openstack` (the evacuator runs only there)
//! with the agents of this tree installed (`tests/lab/install-agents.sh`).
//! Lab settings: storage-monitor checks every 2 s (dampen 1 s), so three red
//! checks take about 4 to 8 s after a cut; the evacuator steps every 5 s.
//!
//! Each test starts and ends with every node online and green, no hold, no
//! storage episode on record, and the evacuator's parameters as they were.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cib::{Cib, FenceHistory, UnixTime};
use umha_common::Deadline;
use umha_lab_tests::evac::{
    Incident, Params, assert_once_each, attr, events, history_len, hold, release_hold, wait_closed,
    wait_evacuated,
};
use umha_lab_tests::nova::{Nova, wait_nova_healthy};
use umha_lab_tests::{
    Lab, lab_dir, now_epoch, require_lab, run, run_ok, state_dir, wait_for, wait_healthy,
};

const SCORE: &str = "umha-storage";
const RED_COUNT: &str = "umha-storage-red-count";
const FENCE_REQUEST: &str = "umha-storage-fence";
const STORAGE_STATUS: &str = "umha-storage-status";

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(20))
}

/// A node's storage score and red count, as published.
type Published = (Option<i64>, Option<String>);

/// Every compute node's storage-monitor attributes, from one CIB read.
fn storage_attrs(lab: &Lab) -> Result<BTreeMap<String, Published>, String> {
    let cib = Cib::query().map_err(|e| e.to_string())?;
    lab.nodes
        .iter()
        .map(|n| {
            let node = cib.node(n).ok_or_else(|| format!("{n} not in the CIB"))?;
            Ok((
                n.clone(),
                (
                    node.transient_attribute(SCORE).and_then(|v| v.parse().ok()),
                    node.transient_attribute(RED_COUNT).map(str::to_owned),
                ),
            ))
        })
        .collect()
}

/// Wait until `nodes` publish a working storage score and no red count.
fn wait_green(lab: &Lab, nodes: &[&str], bound: Duration) {
    wait_for(
        &format!("{} green ({SCORE} > 0, no {RED_COUNT})", nodes.join(", ")),
        bound,
        || {
            let all = storage_attrs(lab)?;
            let bad: Vec<String> = nodes
                .iter()
                .filter(|n| {
                    all.get(**n)
                        .is_none_or(|(score, red)| score.is_none_or(|s| s <= 0) || red.is_some())
                })
                .map(|n| format!("{n}: {:?}", all.get(*n)))
                .collect();
            if bad.is_empty() {
                Ok(())
            } else {
                Err(bad.join("; "))
            }
        },
    );
}

/// Cuts nodes' storage links; restores them when dropped (also on panic).
struct Cut(Vec<String>);

impl Cut {
    fn new(nodes: &[&str]) -> Self {
        let script = lab_dir().join("storage");
        for n in nodes {
            run_ok("bash", &[&script.to_string_lossy(), n, "cut"]);
        }
        Cut(nodes.iter().map(|n| (*n).to_owned()).collect())
    }

    fn restore(&mut self) {
        let script = lab_dir().join("storage");
        for n in self.0.drain(..) {
            run_ok("bash", &[&script.to_string_lossy(), &n, "restore"]);
        }
    }
}

impl Drop for Cut {
    fn drop(&mut self) {
        let script = lab_dir().join("storage");
        for n in &self.0 {
            let _ = run("bash", &[&script.to_string_lossy(), n, "restore"]);
        }
    }
}

/// No storage episode left by an earlier run: the records would change what
/// the evacuator decides.
fn forget_storage_episodes(lab: &Lab) {
    for node in &lab.nodes {
        for name in [FENCE_REQUEST, STORAGE_STATUS] {
            let _ = cib::attr::delete_persistent(node, name, deadline());
        }
    }
}

fn start(lab: &Lab) -> Option<Nova> {
    let nova = umha_lab_tests::evac::start(lab)?;
    forget_storage_episodes(lab);
    let all: Vec<&str> = lab.nodes.iter().map(String::as_str).collect();
    wait_green(lab, &all, Duration::from_secs(240));
    Some(nova)
}

/// Fence events against `node` that completed (or are pending) after `since`.
fn fences_since(node: &str, since: i64) -> Vec<String> {
    let history = FenceHistory::query().unwrap();
    history
        .events_for(node)
        .filter(|e| e.completed.is_none_or(|t| t.secs() >= since))
        .map(|e| {
            format!(
                "{:?} {:?} by {} at {:?}",
                e.action,
                e.status,
                e.client.as_deref().unwrap_or("?"),
                e.completed.map(|t| t.secs())
            )
        })
        .collect()
}

#[test]
#[ignore = "needs the lab with OpenStack: tests/lab/up.sh --with-openstack"]
fn a_node_that_lost_its_storage_is_fenced_and_evacuated_exactly_once() {
    let lab = require_lab();
    let Some(nova) = start(&lab) else { return };
    let node = "cmp1";
    let share = state_dir().join("storage/share");
    let _params = Params::set(&[
        ("storage_fencing", "true"),
        ("storage_error_count", "3"),
        ("heartbeat_dir", &share.to_string_lossy()),
    ]);
    let incident = Incident::boot(&nova, node, 4, "stor-evac");
    let (ids, from) = (&incident.ids, incident.from);
    let t0 = now_epoch();

    println!("cutting {node}'s storage link");
    let cut_at = Instant::now();
    let mut cut = Cut::new(&[node]);
    let requested: i64 = wait_for(
        &format!("the evacuator asking Pacemaker to fence {node} ({FENCE_REQUEST})"),
        Duration::from_secs(90),
        || match attr(node, FENCE_REQUEST) {
            Some(v) => v.parse::<i64>().map_err(|e| e.to_string()),
            None => Err(format!(
                "{:?}; storage status {:?}",
                storage_attrs(&lab).ok().and_then(|a| a.get(node).cloned()),
                attr(node, STORAGE_STATUS)
            )),
        },
    );
    println!(
        "MEASURED: storage cut -> fence requested in {:.1}s",
        cut_at.elapsed().as_secs_f64()
    );
    assert!(
        requested >= t0,
        "requested at {requested}, test began at {t0}"
    );
    let asked = events(from, "alert:storage-fence", Some(node));
    assert_eq!(asked.len(), 1, "{asked:?}");
    println!("evacuator: {}", asked[0]["message"]);
    // Fenced by Pacemaker, after the request.
    wait_for(
        &format!("a confirmed fence of {node} after the request"),
        Duration::from_secs(120),
        || {
            let h = FenceHistory::query().map_err(|e| e.to_string())?;
            h.confirmed_fence_after(node, UnixTime::from_secs(requested - 1))
                .map(|e| format!("{:?} by {:?}", e.action, e.client))
                .ok_or_else(|| fences_since(node, t0).join("; "))
        },
    );
    println!(
        "MEASURED: storage cut -> fenced in {:.1}s",
        cut_at.elapsed().as_secs_f64()
    );
    let took = wait_evacuated(&nova, ids, node, Duration::from_secs(240));
    println!(
        "MEASURED: storage cut -> {} instances ACTIVE elsewhere in {:.1}s (evacuation {:.1}s)",
        ids.len(),
        cut_at.elapsed().as_secs_f64(),
        took.as_secs_f64()
    );
    assert_once_each(&nova, ids);
    println!("fences of {node}: {:?}", fences_since(node, t0));

    // The node is back (Pacemaker reboots a lost remote node), still without
    // storage: the evacuator must not fence it again. Give it time to.
    wait_for(
        &format!("{node} back online, red again"),
        Duration::from_secs(120),
        || {
            let a = storage_attrs(&lab)?;
            match a.get(node) {
                Some((_, Some(red))) if red.parse::<u32>().unwrap_or(0) >= 3 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    );
    std::thread::sleep(Duration::from_secs(15));
    assert_eq!(
        events(from, "alert:storage-fence", Some(node)).len(),
        1,
        "one fence request per episode"
    );
    assert_eq!(attr(node, FENCE_REQUEST), Some(requested.to_string()));
    println!("status while red again: {:?}", attr(node, STORAGE_STATUS));

    println!("restoring {node}'s storage link");
    cut.restore();
    wait_green(&lab, &[node], Duration::from_secs(60));
    wait_for(
        &format!("{node}'s storage episode closed"),
        Duration::from_secs(60),
        || match (attr(node, FENCE_REQUEST), attr(node, STORAGE_STATUS)) {
            (None, None) => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    wait_closed(node, Duration::from_secs(180));
    assert_eq!(events(from, "alert:storage-fence", Some(node)).len(), 1);
    assert_once_each(&nova, ids);
    nova.delete_servers(ids);
    wait_healthy(&lab);
    wait_nova_healthy(&lab, &nova);
}

#[test]
#[ignore = "needs the lab with OpenStack: tests/lab/up.sh --with-openstack"]
fn two_of_three_losing_storage_at_once_trip_the_storage_valve() {
    let lab = require_lab();
    let Some(_nova) = start(&lab) else { return };
    let _params = Params::set(&[
        ("storage_fencing", "true"),
        ("max_storage_failed_ratio", "0.5"),
    ]);
    let nodes = ["cmp1", "cmp2"];
    let from = history_len();
    let t0 = now_epoch();
    println!("cutting the storage of {nodes:?} at once");
    let mut cut = Cut::new(&nodes);
    let why = wait_for("the storage valve's hold", Duration::from_secs(60), || {
        hold().ok_or("no hold yet")
    });
    println!("hold: {why}");
    assert!(
        why.contains("2 of 3 compute nodes lost their storage"),
        "{why}"
    );
    assert!(why.contains("max_storage_failed_ratio is 0.5"), "{why}");
    let alerts = events(from, "alert:valve", None);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("storage valve tripped"),
        "{alerts:?}"
    );
    // Both stay red well past storage_error_count: still nothing fenced.
    wait_for(
        "both nodes red for 3 checks or more",
        Duration::from_secs(60),
        || {
            let a = storage_attrs(&lab)?;
            let reds: Vec<u32> = nodes
                .iter()
                .filter_map(|n| a.get(*n)?.1.as_deref()?.parse().ok())
                .collect();
            if reds.len() == 2 && reds.iter().all(|r| *r >= 3) {
                Ok(())
            } else {
                Err(format!("{a:?}"))
            }
        },
    );
    std::thread::sleep(Duration::from_secs(15));
    for n in nodes {
        assert_eq!(fences_since(n, t0), Vec::<String>::new(), "{n} fenced");
        assert_eq!(attr(n, FENCE_REQUEST), None, "{n}: fence requested");
    }
    assert!(events(from, "alert:storage-fence", None).is_empty());
    println!(
        "cmp1's status under the hold: {:?}",
        attr("cmp1", STORAGE_STATUS)
    );
    wait_healthy(&lab);

    println!("restoring both links, then releasing the hold");
    cut.restore();
    wait_green(&lab, &nodes, Duration::from_secs(60));
    release_hold();
    std::thread::sleep(Duration::from_secs(20));
    assert_eq!(hold(), None, "the hold came back");
    for n in nodes {
        assert_eq!(fences_since(n, t0), Vec::<String>::new(), "{n} fenced");
        assert_eq!(attr(n, FENCE_REQUEST), None);
        assert_eq!(attr(n, STORAGE_STATUS), None, "{n}: episode not closed");
    }
    assert!(events(from, "alert:storage-fence", None).is_empty());
    wait_healthy(&lab);
}
