//! Real fencing in the lab: Pacemaker → fence agent (umha's fence_ipmi, or
//! what the lab was started with in `UMHA_LAB_FENCE_AGENT`) → simulated BMC
//! (ipmi_sim) → power cut of the compute node, and the node coming back.
//! The fence history is read through the `cib` crate.
//!
//! Needs the lab: `sudo tests/lab/up.sh`, then
//! `cargo test -p umha-lab-tests -- --ignored --test-threads=1`.
//! Each test starts and ends with the lab healthy (all compute nodes online,
//! cluster settled), so they can run in any order.

use std::time::Duration;

use cib::{Cib, FenceAction, FenceEvent, FenceHistory, FenceStatus, NodeState, UnixTime};
use umha_lab_tests::{
    alive, bmc_requests, kill9, now_epoch, remoted_pid, require_lab, run, wait_for, wait_healthy,
};

/// What the history holds for `target`, for failure messages.
fn describe(history: &FenceHistory, target: &str) -> String {
    let events: Vec<String> = history
        .events_for(target)
        .map(|e| format!("{:?} {:?} completed={:?}", e.action, e.status, e.completed))
        .collect();
    format!("events for {target}: {events:?}")
}

#[test]
#[ignore = "needs the lab: tests/lab/up.sh"]
fn stonith_admin_reboot_fences_cmp1_through_its_bmc() {
    let lab = require_lab();
    wait_healthy(&lab);
    let node = "cmp1";
    let old_pid = remoted_pid(node).expect("cmp1's pacemaker-remoted runs");
    let power_offs = bmc_requests(node, "set power 0");
    let since = now_epoch();

    println!(
        "stonith_admin --reboot {node} (agent {}, through its BMC)",
        lab.fence_agent
    );
    let out = run("stonith_admin", &["--reboot", node, "--timeout", "60"]);
    assert!(
        out.status.success(),
        "stonith_admin --reboot {node} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // It went through the BMC: a power-off request reached it and cut the node.
    assert!(
        bmc_requests(node, "set power 0") > power_offs,
        "{node}'s BMC was not asked to power off"
    );
    assert!(
        !alive(old_pid),
        "{node}'s old pacemaker-remoted survived the power cut"
    );

    let event: FenceEvent = wait_for(
        "a successful reboot of cmp1 in the fence history (cib::FenceHistory)",
        Duration::from_secs(30),
        || {
            let history = FenceHistory::query().map_err(|e| e.to_string())?;
            history
                .events_for(node)
                .find(|e| {
                    e.action == FenceAction::Reboot
                        && e.status == FenceStatus::Success
                        && e.completed.is_some_and(|c| c.secs() >= since)
                })
                .cloned()
                .ok_or_else(|| describe(&history, node))
        },
    );
    println!("fence event: {event:?}");
    assert_eq!(event.delegate.as_deref(), Some("ctl1"));

    wait_healthy(&lab);
    assert!(
        remoted_pid(node).is_some_and(|p| p != old_pid),
        "{node} did not boot again"
    );
}

#[test]
#[ignore = "needs the lab: tests/lab/up.sh"]
fn crash_of_remoted_gets_cmp2_fenced_and_back() {
    let lab = require_lab();
    wait_healthy(&lab);
    let node = "cmp2";
    let pid = remoted_pid(node).expect("cmp2's pacemaker-remoted runs");
    let killed_at = UnixTime::from_secs(now_epoch());

    println!("kill -9 of {node}'s pacemaker-remoted (pid {pid}): a crash");
    kill9(pid);

    // The evacuator's safety gate, on real data: a successful off/reboot of
    // the node completed strictly after the failure.
    let event = wait_for(
        "Pacemaker to fence cmp2 on its own (FenceHistory::confirmed_fence_after the kill)",
        Duration::from_secs(60),
        || {
            let history = FenceHistory::query().map_err(|e| e.to_string())?;
            history
                .confirmed_fence_after(node, killed_at)
                .cloned()
                .ok_or_else(|| describe(&history, node))
        },
    );
    println!("fence event: {event:?}");
    assert!(
        event
            .client
            .as_deref()
            .is_some_and(|c| c.starts_with("pacemaker-controld"))
    );

    wait_healthy(&lab);
    assert!(remoted_pid(node).is_some_and(|p| p != pid));
    let cib = Cib::query().unwrap();
    let n = cib.node(node).unwrap();
    assert_eq!(n.state, NodeState::Online);
    assert_eq!(
        n.fenced_at(),
        None,
        "node_fenced is reset when the node reconnects"
    );
}
