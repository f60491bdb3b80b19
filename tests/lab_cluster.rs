//! The lab cluster itself, read through the `cib` crate: nodes, quorum,
//! fencing configuration, and what runs inside a compute node.
//!
//! Needs the lab: `sudo tests/lab/up.sh`, then
//! `cargo test -p umha-lab-tests -- --ignored --test-threads=1`.

use cib::{Cib, CrmMon, NodeKind, NodeState};
use umha_lab_tests::{lab_sh, not_online_remote, require_lab, wait_healthy};

#[test]
#[ignore = "needs the lab: tests/lab/up.sh"]
fn lab_has_three_remote_online_compute_nodes() {
    let lab = require_lab();
    wait_healthy(&lab);
    let cib = Cib::query().unwrap();

    assert!(cib.have_quorum(), "the lab has no quorum");
    assert!(cib.stonith_enabled(), "fencing is disabled");
    assert_eq!(
        lab.nodes,
        ["cmp1", "cmp2", "cmp3"],
        "the lab runs 3 compute nodes by default"
    );
    let bad = not_online_remote(&cib, &lab.nodes);
    assert!(bad.is_empty(), "compute nodes not RemoteOnline: {bad:?}");

    let ctl1 = cib.node("ctl1").expect("cluster node ctl1 in the CIB");
    assert_eq!(ctl1.kind, NodeKind::Cluster);
    assert_eq!(ctl1.state, NodeState::Online);
    assert_eq!(cib.dc().map(|n| n.name.as_str()), Some("ctl1"));

    let remote: Vec<&str> = cib
        .nodes()
        .iter()
        .filter(|n| n.kind == NodeKind::Remote)
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(remote, ["cmp1", "cmp2", "cmp3"]);

    // One remote connection and one stonith device per compute node.
    for node in &lab.nodes {
        let conn = cib.resource(node).expect("remote connection resource");
        assert!(
            conn.is_remote_connection(),
            "{node} is not an ocf:pacemaker:remote"
        );
        let dev = cib
            .resource(&format!("fence-{node}"))
            .expect("stonith device");
        assert!(dev.is_stonith());
        assert_eq!(dev.agent.as_deref(), Some(lab.fence_agent.as_str()));
    }
}

#[test]
#[ignore = "needs the lab: tests/lab/up.sh"]
fn cib_node_states_agree_with_crm_mon() {
    let lab = require_lab();
    wait_healthy(&lab);
    let cib = Cib::query().unwrap();
    let mon = CrmMon::query().unwrap();
    for node in mon.nodes() {
        let ours = cib
            .node(&node.name)
            .unwrap_or_else(|| panic!("{} missing from the CIB", node.name));
        assert_eq!(ours.kind, node.kind, "{}", node.name);
        assert_eq!(ours.state, node.state(), "{}", node.name);
    }
    assert_eq!(mon.with_quorum(), Some(cib.have_quorum()));
}

#[test]
#[ignore = "needs the lab: tests/lab/up.sh"]
fn compute_nodes_are_their_own_hosts() {
    let lab = require_lab();
    wait_healthy(&lab);
    for node in &lab.nodes {
        // Own UTS namespace: the hostname is the node name.
        let hostname = lab_sh(&format!("lab_node_exec {node} hostname"));
        assert_eq!(hostname.trim(), node);
        // Pacemaker's tools inside the node talk to its pacemaker-remoted,
        // which proxies them to the cluster: crm_node -n names the node.
        let name = lab_sh(&format!("lab_node_exec {node} crm_node -n"));
        assert_eq!(name.trim(), node);
        // Private /run: the cluster node's lab state dir is not visible.
        let seen = lab_sh(&format!(
            "lab_node_exec {node} sh -c 'test -e /run/umha-lab && echo shared || echo private'"
        ));
        assert_eq!(seen.trim(), "private", "{node} sees the host's /run");
    }
}
