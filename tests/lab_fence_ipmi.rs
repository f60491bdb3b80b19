//! umha's fence_ipmi in the lab: installed where Pacemaker finds it
//! (`tests/lab/install-agents.sh`), described by stonith_admin and pcs, and
//! fencing compute nodes for real, on request and after a crash, through
//! the simulated BMCs. Proof that fence_ipmi did it: pacemaker-fenced's log
//! names the device and the agent's pid, and that pid's stderr lines are
//! fence_ipmi's.
//!
//! The fencing tests need the lab with fence_ipmi devices (its default):
//! `tests/lab/install-agents.sh && tests/lab/up.sh`, then
//! `cargo test -p umha-lab-tests -- --ignored --test-threads=1`. With another
//! agent (`UMHA_LAB_FENCE_AGENT`) they say so and pass.

use std::time::Duration;

use cib::{FenceHistory, UnixTime};
use umha_lab_tests::{
    Lab, alive, bmc_requests, kill9, now_epoch, remoted_pid, require_lab, run, run_ok, state_dir,
    wait_for, wait_healthy,
};

const AGENT: &str = "fence_ipmi";

/// The lab, when its devices use fence_ipmi.
fn fence_ipmi_lab() -> Option<Lab> {
    let lab = require_lab();
    if lab.fence_agent != AGENT {
        println!(
            "SKIPPED: the lab runs {} (start it with the default UMHA_LAB_FENCE_AGENT=fence_ipmi)",
            lab.fence_agent
        );
        return None;
    }
    Some(lab)
}

/// pacemaker.log from byte `offset` on.
fn pacemaker_log_since(offset: usize) -> String {
    let log = std::fs::read(state_dir().join("pacemaker.log")).unwrap_or_default();
    String::from_utf8_lossy(log.get(offset..).unwrap_or_default()).into_owned()
}

fn pacemaker_log_len() -> usize {
    std::fs::metadata(state_dir().join("pacemaker.log"))
        .ok()
        .and_then(|m| usize::try_from(m.len()).ok())
        .unwrap_or(0)
}

/// The pid of the agent that rebooted `node` successfully with its device
/// `fence-<node>`, from pacemaker-fenced's "Operation 'reboot' [PID] targeting
/// NODE using DEVICE returned 0".
fn successful_reboot_pid(log: &str, node: &str) -> Result<u32, String> {
    let tail = format!("targeting {node} using fence-{node} returned 0");
    log.lines()
        .filter(|l| l.contains(&tail))
        .find_map(|l| {
            let after = l.split("Operation 'reboot' [").nth(1)?;
            after.split(']').next()?.parse().ok()
        })
        .ok_or_else(|| format!("no \"Operation 'reboot' [PID] {tail}\" in pacemaker.log yet"))
}

/// The device's agent in the CIB.
fn device_agent(node: &str) -> String {
    let xml = run_ok(
        "cibadmin",
        &[
            "--query",
            "--scope",
            "resources",
            "--xpath",
            &format!("//primitive[@id='fence-{node}']"),
        ],
    );
    xml.split("type=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

/// The agent process `pid` logged as fence_ipmi, with fence_ipmi's words.
fn assert_agent_was_fence_ipmi(log: &str, pid: u32) {
    let ours: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&format!("{AGENT}[{pid}]")))
        .collect();
    assert!(
        ours.iter().any(|l| l.contains("power off requested")),
        "pacemaker-fenced logged no fence_ipmi output for agent pid {pid}: {ours:#?}"
    );
}

#[test]
#[ignore = "lab test: needs tests/lab/install-agents.sh"]
fn fence_ipmi_is_installed_and_described() {
    let installed = run_ok("stonith_admin", &["--list-installed"]);
    assert!(
        installed.lines().any(|l| l.trim() == AGENT),
        "stonith_admin --list-installed does not list {AGENT} (run tests/lab/install-agents.sh):\n{installed}"
    );
    let meta = run_ok("stonith_admin", &["--metadata", "--agent", AGENT]);
    assert!(
        meta.contains("<resource-agent name=\"fence_ipmi\""),
        "{meta}"
    );
    for option in [
        "lanplus",
        "cipher",
        "privlvl",
        "hexadecimal_kg",
        "ipmitool_path",
    ] {
        assert!(
            meta.contains(&format!("name=\"{option}\"")),
            "{option}: {meta}"
        );
    }
    let out = run("pcs", &["stonith", "describe", AGENT]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pcs stonith describe {AGENT}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("drop-in replacement for fence_ipmilan") && text.contains("lanplus:"),
        "{text}"
    );
}

#[test]
#[ignore = "needs the lab: tests/lab/install-agents.sh && tests/lab/up.sh"]
fn stonith_admin_reboot_fences_cmp3_through_fence_ipmi() {
    let Some(lab) = fence_ipmi_lab() else { return };
    wait_healthy(&lab);
    let node = "cmp3";
    assert_eq!(device_agent(node), AGENT);
    let old_pid = remoted_pid(node).expect("cmp3's pacemaker-remoted runs");
    let power_offs = bmc_requests(node, "set power 0");
    let log_offset = pacemaker_log_len();

    println!("stonith_admin --reboot {node} (device fence-{node}, agent {AGENT})");
    let out = run("stonith_admin", &["--reboot", node, "--timeout", "60"]);
    assert!(
        out.status.success(),
        "stonith_admin --reboot {node} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        bmc_requests(node, "set power 0") > power_offs,
        "{node}'s BMC was not asked to power off"
    );
    assert!(!alive(old_pid), "{node}'s old pacemaker-remoted survived");

    let pid = wait_for(
        "pacemaker-fenced to log the reboot by fence-cmp3",
        Duration::from_secs(10),
        || successful_reboot_pid(&pacemaker_log_since(log_offset), node),
    );
    assert_agent_was_fence_ipmi(&pacemaker_log_since(log_offset), pid);

    wait_healthy(&lab);
    assert!(
        remoted_pid(node).is_some_and(|p| p != old_pid),
        "{node} did not boot again"
    );
}

#[test]
#[ignore = "needs the lab: tests/lab/install-agents.sh && tests/lab/up.sh"]
fn crashed_cmp2_is_fenced_by_pacemaker_through_fence_ipmi() {
    let Some(lab) = fence_ipmi_lab() else { return };
    wait_healthy(&lab);
    let node = "cmp2";
    assert_eq!(device_agent(node), AGENT);
    let pid = remoted_pid(node).expect("cmp2's pacemaker-remoted runs");
    let log_offset = pacemaker_log_len();
    let killed_at = UnixTime::from_secs(now_epoch());

    println!("kill -9 of {node}'s pacemaker-remoted (pid {pid}): a crash");
    kill9(pid);

    let event = wait_for(
        "Pacemaker to fence cmp2 on its own",
        Duration::from_secs(60),
        || {
            let history = FenceHistory::query().map_err(|e| e.to_string())?;
            history
                .confirmed_fence_after(node, killed_at)
                .cloned()
                .ok_or_else(|| format!("no confirmed fence of {node} after the kill yet"))
        },
    );
    println!("fence event: {event:?}");
    assert!(
        event
            .client
            .as_deref()
            .is_some_and(|c| c.starts_with("pacemaker-controld")),
        "fenced on the cluster's own initiative: {event:?}"
    );
    let agent_pid = wait_for(
        "pacemaker-fenced to log the reboot by fence-cmp2",
        Duration::from_secs(10),
        || successful_reboot_pid(&pacemaker_log_since(log_offset), node),
    );
    assert_agent_was_fence_ipmi(&pacemaker_log_since(log_offset), agent_pid);

    wait_healthy(&lab);
    assert!(remoted_pid(node).is_some_and(|p| p != pid));
}
