//! How long parsing takes, printed rather than asserted: timing belongs in
//! benchmarks. Run with `cargo test -p cib --release --test parse_cost -- --nocapture`
//! for meaningful numbers.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cib::{Cib, NodeState};

fn best_of<T>(runs: u32, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let value = f();
        best = best.min(start.elapsed());
        last = Some(value);
    }
    (best, last.expect("at least one run"))
}

/// A CIB shaped like the lab's, scaled: one cluster node, `n` remote nodes,
/// each with a connection, a fence device, a location rule, the
/// connection's and device's history on the cluster node, and a node_state
/// with a transient attribute.
fn synthetic_cib(n: usize) -> String {
    let mut resources = String::new();
    let mut constraints = String::new();
    let mut lrm = String::new();
    let mut states = String::new();
    for i in 1..=n {
        let node = format!("cmp{i}");
        let _ = write!(
            resources,
            r#"<primitive id="{node}" class="ocf" provider="pacemaker" type="remote"><instance_attributes id="{node}-ia"><nvpair id="{node}-server" name="server" value="169.254.{a}.{b}"/><nvpair id="{node}-port" name="port" value="3121"/><nvpair id="{node}-reconnect" name="reconnect_interval" value="10s"/></instance_attributes><operations><op id="{node}-monitor-5s" name="monitor" interval="5s" timeout="15s"/></operations></primitive>
<primitive id="fence-{node}" class="stonith" type="fence_ipmilan"><instance_attributes id="fence-{node}-ia"><nvpair id="fence-{node}-ip" name="ip" value="127.0.0.1"/><nvpair id="fence-{node}-username" name="username" value="admin"/><nvpair id="fence-{node}-password" name="password" value="pw"/><nvpair id="fence-{node}-hostlist" name="pcmk_host_list" value="{node}"/></instance_attributes><operations><op id="fence-{node}-monitor-60s" name="monitor" interval="60s" timeout="20s"/></operations></primitive>
"#,
            a = i / 250,
            b = i % 250
        );
        let _ = writeln!(
            constraints,
            r#"<rsc_location id="fence-{node}-on-cluster-nodes" rsc="fence-{node}"><rule id="fence-{node}-rule" score="-INFINITY"><expression id="fence-{node}-expr" attribute="\#kind" operation="ne" value="cluster"/></rule></rsc_location>"#
        );
        for (rsc, kind, class, provider) in [
            (node.clone(), "remote", "ocf", r#" provider="pacemaker""#),
            (format!("fence-{node}"), "fence_ipmilan", "stonith", ""),
        ] {
            let _ = writeln!(
                lrm,
                r#"<lrm_resource id="{rsc}" type="{kind}" class="{class}"{provider}><lrm_rsc_op id="{rsc}_last_0" operation_key="{rsc}_start_0" operation="start" crm-debug-origin="do_update_resource" crm_feature_set="3.16.1" transition-key="{i}:1:0:44924a33-ca41-43a0-9b45-543656c8317f" transition-magic="0:0;{i}:1:0:44924a33-ca41-43a0-9b45-543656c8317f" exit-reason="" on_node="ctl1" call-id="{c1}" rc-code="0" op-status="0" interval="0" last-rc-change="1795318146" exec-time="0" queue-time="0" op-digest="5d1e8f94c80527846b539f9040b1e7e2"/><lrm_rsc_op id="{rsc}_monitor_5000" operation_key="{rsc}_monitor_5000" operation="monitor" crm-debug-origin="do_update_resource" crm_feature_set="3.16.1" transition-key="{i}:2:0:44924a33-ca41-43a0-9b45-543656c8317f" transition-magic="0:0;{i}:2:0:44924a33-ca41-43a0-9b45-543656c8317f" exit-reason="" on_node="ctl1" call-id="{c2}" rc-code="0" op-status="0" interval="5000" last-rc-change="1795318146" exec-time="0" queue-time="0" op-digest="b47d9b14ee5a720758a3c6979c8ee910"/></lrm_resource>"#,
                c1 = 4 * i,
                c2 = 4 * i + 1
            );
        }
        let _ = writeln!(
            states,
            r#"<node_state remote_node="true" id="{node}" uname="{node}" in_ccm="true" crm-debug-origin="remote_node_up" node_fenced="0"><transient_attributes id="{node}"><instance_attributes id="status-{node}"><nvpair id="status-{node}-umha-storage" name="umha-storage" value="100"/></instance_attributes></transient_attributes></node_state>"#
        );
    }
    format!(
        r#"<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="18" num_updates="46" admin_epoch="0" have-quorum="1" dc-uuid="1">
  <configuration>
    <crm_config><cluster_property_set id="cib-bootstrap-options"><nvpair id="o1" name="stonith-enabled" value="true"/></cluster_property_set></crm_config>
    <nodes><node id="1" uname="ctl1"/></nodes>
    <resources>
{resources}    </resources>
    <constraints>
{constraints}    </constraints>
  </configuration>
  <status>
    <node_state id="1" uname="ctl1" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="1"><lrm_resources>
{lrm}    </lrm_resources></lrm></node_state>
{states}  </status>
</cib>
"#
    )
}

#[test]
fn parse_cost() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let largest = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("-cib.xml"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.len(), p)))
        .max();
    if let Some((size, path)) = largest {
        let text = std::fs::read_to_string(&path).unwrap();
        let (t, cib) = best_of(20, || Cib::parse(&text).unwrap());
        println!(
            "{}: {size} bytes, {} nodes, parsed in {t:.2?}",
            path.file_name().unwrap().to_string_lossy(),
            cib.nodes().len()
        );
    }

    let text = synthetic_cib(1000);
    if let Some(path) = std::env::var_os("CIB_SYNTHETIC_OUT") {
        std::fs::write(path, &text).unwrap();
    }
    let (t, cib) = best_of(3, || Cib::parse(&text).unwrap());
    println!(
        "synthetic CIB: {} bytes, {} nodes, parsed in {t:.2?}",
        text.len(),
        cib.nodes().len()
    );
    assert_eq!(cib.nodes().len(), 1001);
    assert!(cib.nodes().iter().all(|n| n.state == NodeState::Online));
    assert_eq!(
        cib.node("cmp1000").unwrap().attribute("umha-storage"),
        Some("100")
    );
}
