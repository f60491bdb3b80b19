//! fence_maas in the lab: Pacemaker → fence_maas → the MAAS API simulator
//! (umha-maas-sim, started by up.sh on the BMCs' address) → the same power
//! cut and restore as the BMCs (tests/lab/power). The devices `maas-cmpN`
//! and the fencing topology each test needs are created by the test and
//! removed after it; the lab's own `fence-cmpN` (fence_ipmi) devices stay.
//!
//! Which device fenced is read from the simulator's log: it logs
//! "cmpN: power off" when a power-off it accepted takes effect, and nothing
//! else powers through it.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use cib::{FenceAction, FenceHistory, FenceStatus, UnixTime};
use umha_lab_tests::{
    Lab, kill9, lab_sh, now_epoch, remoted_pid, require_lab, run, run_ok, state_dir, wait_for,
    wait_healthy,
};

fn maas_log() -> PathBuf {
    state_dir().join("maas").join("maas-sim.log")
}

/// How many power-offs of `node` the simulator carried out.
fn maas_power_offs(node: &str) -> usize {
    let needle = format!("{node}: power off");
    std::fs::read_to_string(maas_log())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&needle))
        .count()
}

fn require_maas(lab: &Lab) {
    assert!(
        lab_sh("lab_maas_ready && echo yes").trim() == "yes",
        "the MAAS simulator does not answer: tests/lab/up.sh starts it when \
         /usr/sbin/umha-maas-sim is installed (tests/lab/install-agents.sh --test-only)"
    );
    wait_healthy(lab);
}

/// `maas-<node>` fence devices for the given nodes, and a fencing topology;
/// both removed on drop (and a stopped BMC started again).
struct MaasFencing {
    nodes: Vec<String>,
    stopped_bmc: Option<String>,
}

impl MaasFencing {
    fn create(nodes: &[&str]) -> Self {
        let guard = MaasFencing {
            nodes: nodes.iter().map(|n| (*n).to_owned()).collect(),
            stopped_bmc: None,
        };
        let url = lab_sh("lab_maas_url").trim().to_owned();
        let script = lab_sh("lab_maas_key_script").trim().to_owned();
        for node in nodes {
            let id = format!("maas-{node}");
            // The key comes from api_key_script: nothing secret in the CIB.
            let xml = format!(
                "<primitive id=\"{id}\" class=\"stonith\" type=\"fence_maas\">\
                 <instance_attributes id=\"{id}-ia\">\
                 <nvpair id=\"{id}-url\" name=\"url\" value=\"{url}\"/>\
                 <nvpair id=\"{id}-key\" name=\"api_key_script\" value=\"{script}\"/>\
                 <nvpair id=\"{id}-hosts\" name=\"pcmk_host_list\" value=\"{node}\"/>\
                 <nvpair id=\"{id}-timeout\" name=\"power_timeout\" value=\"30\"/>\
                 </instance_attributes>\
                 <operations><op id=\"{id}-monitor\" name=\"monitor\" interval=\"60s\" timeout=\"20s\"/></operations>\
                 </primitive>"
            );
            run_ok(
                "cibadmin",
                &["--create", "--scope", "resources", "--xml-text", &xml],
            );
            let rule = format!(
                "<rsc_location id=\"{id}-on-cluster\" rsc=\"{id}\">\
                 <rule id=\"{id}-on-cluster-rule\" score=\"-INFINITY\">\
                 <expression id=\"{id}-on-cluster-expr\" attribute=\"#kind\" operation=\"ne\" value=\"cluster\"/>\
                 </rule></rsc_location>"
            );
            run_ok(
                "cibadmin",
                &["--create", "--scope", "constraints", "--xml-text", &rule],
            );
        }
        for node in nodes {
            let id = format!("maas-{node}");
            wait_for(
                &format!("{id} (stonith:fence_maas) started"),
                Duration::from_secs(60),
                || {
                    let out = run("crm_resource", &["--locate", "--resource", &id]);
                    let text = String::from_utf8_lossy(&out.stdout).into_owned();
                    if text.contains("is running on") {
                        Ok(())
                    } else {
                        Err(text)
                    }
                },
            );
        }
        guard
    }

    /// `levels`: for each node, its devices in order (level 1, 2, ...).
    fn topology(&self, levels: &[(&str, &[&str])]) {
        let mut xml = String::from("<fencing-topology>");
        for (node, devices) in levels {
            for (i, device) in devices.iter().enumerate() {
                let index = i + 1;
                xml.push_str(&format!(
                    "<fencing-level id=\"fl-{node}-{index}\" target=\"{node}\" index=\"{index}\" devices=\"{device}\"/>"
                ));
            }
        }
        xml.push_str("</fencing-topology>");
        let _ = run(
            "cibadmin",
            &["--delete", "--xml-text", "<fencing-topology/>"],
        );
        run_ok(
            "cibadmin",
            &["--create", "--scope", "configuration", "--xml-text", &xml],
        );
    }

    fn stop_bmc(&mut self, node: &str) {
        lab_sh(&format!("lab_bmc_stop {node}"));
        self.stopped_bmc = Some(node.to_owned());
    }
}

impl Drop for MaasFencing {
    fn drop(&mut self) {
        let _ = run(
            "cibadmin",
            &["--delete", "--xml-text", "<fencing-topology/>"],
        );
        if let Some(node) = self.stopped_bmc.take() {
            let _ = run(
                "bash",
                &[
                    "-c",
                    &format!(
                        ". '{}' && lab_bmc_start {node} && lab_wait 10 'BMC of {node}' lab_bmc_ready {node}",
                        umha_lab_tests::lab_dir().join("lib.sh").display()
                    ),
                ],
            );
            let _ = run(
                "crm_resource",
                &["--cleanup", "--resource", &format!("fence-{node}")],
            );
        }
        for node in &self.nodes {
            let id = format!("maas-{node}");
            let _ = run(
                "cibadmin",
                &[
                    "--delete",
                    "--xml-text",
                    &format!("<rsc_location id=\"{id}-on-cluster\"/>"),
                ],
            );
            let _ = run(
                "cibadmin",
                &[
                    "--delete",
                    "--xml-text",
                    &format!("<primitive id=\"{id}\"/>"),
                ],
            );
        }
    }
}

/// `stonith_admin --reboot node`, which must succeed.
fn reboot(node: &str, timeout_secs: u32, why: &str) {
    let timeout = timeout_secs.to_string();
    let out = run("stonith_admin", &["--reboot", node, "--timeout", &timeout]);
    assert!(
        out.status.success(),
        "stonith_admin --reboot {node} failed{why}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A successful off or reboot of `node` completed after `since`.
fn fenced_after(node: &str, since: UnixTime, what: &str) {
    wait_for(what, Duration::from_secs(90), || {
        let history = FenceHistory::query().map_err(|e| e.to_string())?;
        history
            .confirmed_fence_after(node, since)
            .map(|_| ())
            .ok_or_else(|| {
                let events: Vec<String> = history
                    .events_for(node)
                    .map(|e| format!("{:?} {:?} {:?}", e.action, e.status, e.completed))
                    .collect();
                format!("events for {node}: {events:?}")
            })
    });
}

#[test]
#[ignore = "lab test: needs tests/lab/install-agents.sh"]
fn fence_maas_is_described_by_pcs_and_listed_by_stonith_admin() {
    let installed = run_ok("stonith_admin", &["--list-installed"]);
    assert!(
        installed.lines().any(|l| l.trim() == "fence_maas"),
        "stonith_admin --list-installed does not show fence_maas"
    );
    let described = run_ok("pcs", &["stonith", "describe", "fence_maas"]);
    for option in [
        "url",
        "api_key_script",
        "power_timeout",
        "stop_mode",
        "plug",
    ] {
        assert!(
            described.contains(option),
            "pcs stonith describe fence_maas does not show {option}:\n{described}"
        );
    }
    println!("{described}");
}

#[test]
#[ignore = "needs the lab: tests/lab/up.sh"]
fn stonith_admin_reboot_fences_cmp1_through_maas() {
    let lab = require_lab();
    require_maas(&lab);
    let node = "cmp1";
    let fencing = MaasFencing::create(&[node]);
    fencing.topology(&[(node, &["maas-cmp1"])]);
    let offs = maas_power_offs(node);
    let old_pid = remoted_pid(node).unwrap();
    let since = now_epoch();

    println!("stonith_admin --reboot {node} with a topology of fence_maas only");
    reboot(node, 90, "");
    assert!(
        maas_power_offs(node) > offs,
        "the MAAS simulator did not power {node} off"
    );
    let history = FenceHistory::query().unwrap();
    assert!(
        history
            .events_for(node)
            .any(|e| e.action == FenceAction::Reboot
                && e.status == FenceStatus::Success
                && e.completed.is_some_and(|c| c.secs() >= since)),
        "no successful reboot of {node} in the fence history"
    );
    wait_healthy(&lab);
    assert!(
        remoted_pid(node).is_some_and(|p| p != old_pid),
        "{node} did not boot again after MAAS powered it on"
    );
}

#[test]
#[ignore = "needs the lab: tests/lab/up.sh"]
fn a_crashed_node_is_fenced_through_maas() {
    let lab = require_lab();
    require_maas(&lab);
    let node = "cmp3";
    let fencing = MaasFencing::create(&[node]);
    fencing.topology(&[(node, &["maas-cmp3"])]);
    let offs = maas_power_offs(node);
    let pid = remoted_pid(node).unwrap();
    let killed_at = UnixTime::from_secs(now_epoch());

    println!("kill -9 of {node}'s pacemaker-remoted (pid {pid}); only fence_maas may fence it");
    kill9(pid);
    fenced_after(
        node,
        killed_at,
        "Pacemaker to fence cmp3 through fence_maas after the crash",
    );
    assert!(
        maas_power_offs(node) > offs,
        "{node} was fenced, but not through the MAAS simulator"
    );
    wait_healthy(&lab);
}

#[test]
#[ignore = "needs the lab: tests/lab/up.sh"]
fn the_topology_falls_back_to_maas_when_the_bmc_is_unreachable() {
    let lab = require_lab();
    require_maas(&lab);
    let node = "cmp2";
    let mut fencing = MaasFencing::create(&[node]);
    // Level 1: the node's IPMI device (fence_ipmi); level 2: MAAS.
    fencing.topology(&[(node, &["fence-cmp2", "maas-cmp2"])]);
    fencing.stop_bmc(node);
    let offs = maas_power_offs(node);
    let since = now_epoch();

    println!("{node}'s BMC stopped; stonith_admin --reboot {node}: level 1 fails, level 2 fences");
    reboot(node, 120, " although MAAS could fence it");
    assert!(
        maas_power_offs(node) > offs,
        "{node} was not fenced through MAAS"
    );
    fenced_after(
        node,
        UnixTime::from_secs(since),
        "a successful reboot of cmp2",
    );
    drop(fencing);
    wait_healthy(&lab);
}
