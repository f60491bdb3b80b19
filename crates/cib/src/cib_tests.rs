use super::*;
use crate::NodeState;

/// A CIB with cluster node ctl1 (id 1), remote node cmp1 and `extra`
/// configuration/status pieces.
fn cib(props: &str, resources: &str, status: &str) -> Cib {
    let xml = format!(
        r#"<cib epoch="7" num_updates="3" admin_epoch="1" have-quorum="1" dc-uuid="1" crm_feature_set="3.16.1" validate-with="pacemaker-3.9">
  <configuration>
    <crm_config><cluster_property_set id="cib-bootstrap-options">{props}</cluster_property_set></crm_config>
    <nodes><node id="1" uname="ctl1"/></nodes>
    <resources>{resources}</resources>
  </configuration>
  <status>{status}</status>
</cib>"#
    );
    Cib::parse(&xml).unwrap()
}

const REMOTE: &str = r#"<primitive id="cmp1" class="ocf" provider="pacemaker" type="remote">
  <instance_attributes id="cmp1-ia">
    <nvpair id="s" name="server" value="192.0.2.11"/>
    <nvpair id="r" name="reconnect_interval" value="10s"/>
  </instance_attributes>
  <instance_attributes id="ignored"><nvpair id="pw" name="password" value="s3cret"/></instance_attributes>
</primitive>"#;

const CTL1_UP: &str = r#"<node_state id="1" uname="ctl1" in_ccm="true" crmd="online" join="member" expected="member">"#;

fn ctl1_with(lrm: &str) -> String {
    format!(r#"{CTL1_UP}<lrm id="1"><lrm_resources>{lrm}</lrm_resources></lrm></node_state>"#)
}

fn conn_ops(ops: &str) -> String {
    format!(
        r#"<lrm_resource id="cmp1" type="remote" class="ocf" provider="pacemaker">{ops}</lrm_resource>"#
    )
}

fn op(id: &str, task: &str, call: i64, rc: i64, status: i64, interval: u32) -> String {
    format!(
        r#"<lrm_rsc_op id="{id}" operation_key="cmp1_{task}_{interval}" operation="{task}" transition-key="1:1:0:u" call-id="{call}" rc-code="{rc}" op-status="{status}" interval="{interval}" last-rc-change="100"/>"#
    )
}

fn started() -> String {
    conn_ops(
        &[
            op("cmp1_last_0", "start", 2, 0, 0, 0),
            op("cmp1_monitor_5000", "monitor", 3, 0, 0, 5000),
        ]
        .concat(),
    )
}

fn lost() -> String {
    conn_ops(
        &[
            op("cmp1_last_0", "start", 2, 0, 0, 0),
            op("cmp1_last_failure_0", "monitor", 3, 1, 4, 5000),
        ]
        .concat(),
    )
}

fn cluster_state(attrs: &str) -> NodeState {
    let c = cib(
        "",
        "",
        &format!(r#"<node_state id="1" uname="ctl1" {attrs}/>"#),
    );
    c.node("ctl1").unwrap().state
}

#[test]
fn cluster_node_states() {
    assert_eq!(
        cluster_state(r#"in_ccm="true" crmd="online" join="member" expected="member""#),
        NodeState::Online
    );
    // Member of corosync, controller not joined yet.
    assert_eq!(
        cluster_state(r#"in_ccm="true" crmd="online" join="pending" expected="member""#),
        NodeState::Pending
    );
    // Cleanly stopped.
    assert_eq!(
        cluster_state(r#"in_ccm="false" crmd="offline" join="down" expected="down""#),
        NodeState::Offline
    );
    // Lost while expected up: must be fenced.
    assert_eq!(
        cluster_state(r#"in_ccm="false" crmd="offline" join="member" expected="member""#),
        NodeState::Unclean
    );
    // Pacemaker 2.1.7+ records since-when.
    assert_eq!(
        cluster_state(r#"in_ccm="1795318154" crmd="1795318160" join="member" expected="member""#),
        NodeState::Online
    );
    assert_eq!(
        cluster_state(r#"in_ccm="0" crmd="0" join="member" expected="member""#),
        NodeState::Unclean
    );
    // Never seen by the cluster layer.
    assert_eq!(
        cluster_state(r#"join="member" expected="member""#),
        NodeState::Unclean
    );
}

#[test]
fn unseen_cluster_node_is_unclean_only_with_fencing() {
    let c = cib("", "", "");
    assert_eq!(c.node("ctl1").unwrap().state, NodeState::Unclean);
    assert!(c.node("ctl1").unwrap().status.is_none());
    let c = cib(
        r#"<nvpair id="s" name="stonith-enabled" value="false"/>"#,
        "",
        "",
    );
    assert_eq!(c.node("ctl1").unwrap().state, NodeState::Offline);
    let c = cib(
        r#"<nvpair id="s" name="startup-fencing" value="false"/>"#,
        "",
        "",
    );
    assert_eq!(c.node("ctl1").unwrap().state, NodeState::Offline);
}

#[test]
fn lost_controller_is_unclean_only_with_fencing() {
    let lost = r#"<node_state id="1" uname="ctl1" in_ccm="true" crmd="offline" join="member" expected="member"/>"#;
    let c = cib("", "", lost);
    let n = c.node("ctl1").unwrap();
    assert_eq!(n.state, NodeState::Unclean);
    assert!(n.flags.online, "UNCLEAN (online): still a corosync member");
    let c = cib(
        r#"<nvpair id="s" name="stonith-enabled" value="false"/>"#,
        "",
        lost,
    );
    assert_eq!(c.node("ctl1").unwrap().state, NodeState::Unclean);
}

#[test]
fn remote_node_online_with_started_connection() {
    let status = format!(
        r#"{}<node_state remote_node="true" id="cmp1" uname="cmp1" in_ccm="true" node_fenced="0"/>"#,
        ctl1_with(&started())
    );
    let c = cib("", REMOTE, &status);
    let n = c.node("cmp1").unwrap();
    assert_eq!((n.kind, n.state), (NodeKind::Remote, NodeState::Online));
    let conn = n.connection.as_ref().unwrap();
    assert_eq!(conn.server, "192.0.2.11");
    assert_eq!(conn.running_on, ["ctl1"]);
    assert_eq!(n.fenced_at(), None);
}

#[test]
fn lost_remote_is_unclean_until_fenced() {
    let unfenced = format!(
        r#"{}<node_state remote_node="true" id="cmp1" uname="cmp1" in_ccm="true" node_fenced="0"/>"#,
        ctl1_with(&lost())
    );
    let c = cib("", REMOTE, &unfenced);
    let n = c.node("cmp1").unwrap();
    assert_eq!(n.state, NodeState::Unclean);
    assert!(n.connection.as_ref().unwrap().failed);

    let fenced = format!(
        r#"{}<node_state remote_node="true" id="cmp1" uname="cmp1" in_ccm="false" node_fenced="1795318154"/>"#,
        ctl1_with(&lost())
    );
    let c = cib("", REMOTE, &fenced);
    let n = c.node("cmp1").unwrap();
    assert_eq!(n.state, NodeState::Offline);
    assert_eq!(n.fenced_at(), Some(UnixTime::from_secs(1_795_318_154)));

    // Without fencing Pacemaker just recovers the connection: offline, not unclean.
    let c = cib(
        r#"<nvpair id="s" name="stonith-enabled" value="false"/>"#,
        REMOTE,
        &unfenced,
    );
    assert_eq!(c.node("cmp1").unwrap().state, NodeState::Offline);
}

#[test]
fn remote_never_connected_is_unclean_at_startup() {
    // No history, no node_state: unseen, and start-up fencing applies.
    let c = cib("", REMOTE, CTL1_UP.replace('>', "/>").as_str());
    let n = c.node("cmp1").unwrap();
    assert_eq!(n.state, NodeState::Unclean);
    assert!(n.status.is_none());
    assert_eq!(n.connection.as_ref().unwrap().role, Role::Unknown);
}

#[test]
fn remote_node_entry_without_resource_is_offline() {
    let xml = r#"<cib><configuration><nodes><node id="cmpX" uname="cmpX" type="remote"/></nodes></configuration>
      <status><node_state remote_node="true" id="cmpX" uname="cmpX" in_ccm="true"/></status></cib>"#;
    let c = Cib::parse(xml).unwrap();
    let n = c.node("cmpX").unwrap();
    assert_eq!((n.kind, n.state), (NodeKind::Remote, NodeState::Offline));
    assert!(n.connection.is_none());
}

#[test]
fn guest_node_follows_connection_and_container() {
    let vm = r#"<primitive id="vm1" class="ocf" provider="heartbeat" type="VirtualDomain">
      <meta_attributes id="vm1-meta"><nvpair id="rn" name="remote-node" value="guest1"/><nvpair id="ra" name="remote-addr" value="192.0.2.50"/></meta_attributes>
    </primitive>"#;
    let lrm = r#"<lrm_resource id="vm1" class="ocf" provider="heartbeat" type="VirtualDomain"><lrm_rsc_op id="vm1_last_0" operation_key="vm1_start_0" operation="start" transition-key="1:1:0:u" call-id="1" rc-code="0" op-status="0" interval="0"/></lrm_resource>
      <lrm_resource id="guest1" class="ocf" provider="pacemaker" type="remote"><lrm_rsc_op id="guest1_last_0" operation_key="guest1_start_0" operation="start" transition-key="2:1:0:u" call-id="2" rc-code="0" op-status="0" interval="0"/></lrm_resource>"#;
    let status = format!(
        r#"{}<node_state remote_node="true" id="guest1" uname="guest1" in_ccm="true"/>"#,
        ctl1_with(lrm)
    );
    let c = cib("", vm, &status);
    let n = c.node("guest1").unwrap();
    assert_eq!((n.kind, n.state), (NodeKind::Guest, NodeState::Online));
    let conn = n.connection.as_ref().unwrap();
    assert_eq!(conn.container.as_deref(), Some("vm1"));
    assert_eq!(conn.server, "192.0.2.50");

    // Container not running: the guest is down.
    let c = cib("", vm, &ctl1_with(""));
    assert_eq!(c.node("guest1").unwrap().state, NodeState::Offline);
}

#[test]
fn attributes_transient_over_persistent() {
    let xml = r#"<cib><configuration>
        <nodes><node id="1" uname="ctl1">
          <instance_attributes id="a"><nvpair id="a1" name="site" value="A"/><nvpair id="a2" name="standby" value="off"/></instance_attributes>
        </node></nodes></configuration>
      <status><node_state id="1" uname="ctl1" in_ccm="true" crmd="online" join="member" expected="member">
        <transient_attributes id="1"><instance_attributes id="t">
          <nvpair id="t1" name="standby" value="on"/><nvpair id="t2" name="umha-storage" value="0"/><nvpair id="t3" name="umha-storage" value="100"/>
        </instance_attributes></transient_attributes>
      </node_state></status></cib>"#;
    let c = Cib::parse(xml).unwrap();
    let n = c.node("ctl1").unwrap();
    assert_eq!(n.attribute("site"), Some("A"));
    assert_eq!(n.attribute("standby"), Some("on"));
    assert_eq!(n.persistent_attribute("standby"), Some("off"));
    assert_eq!(
        n.transient_attribute("umha-storage"),
        Some("100"),
        "later wins"
    );
    assert!(n.flags.standby);
    assert_eq!(n.state, NodeState::Online, "standby is a flag, not a state");
}

#[test]
fn cib_level_facts() {
    let c = cib(
        r#"<nvpair id="c" name="cluster-name" value="lab"/><nvpair id="m" name="maintenance-mode" value="true"/>"#,
        REMOTE,
        CTL1_UP.replace('>', "/>").as_str(),
    );
    assert_eq!(
        c.version(),
        CibVersion {
            admin_epoch: 1,
            epoch: 7,
            num_updates: 3
        }
    );
    assert!(c.have_quorum());
    assert_eq!(c.dc_uuid(), Some("1"));
    assert_eq!(c.dc().unwrap().name, "ctl1");
    assert_eq!(c.crm_feature_set(), Some("3.16.1"));
    assert_eq!(c.validate_with(), Some("pacemaker-3.9"));
    assert_eq!(c.property("cluster-name"), Some("lab"));
    assert!(c.stonith_enabled(), "default");
    assert!(c.maintenance_mode());
    assert!(!c.resource("cmp1").unwrap().managed);
    assert!(c.resource("cmp1").unwrap().is_remote_connection());
    assert_eq!(c.node("CMP1").unwrap().name, "cmp1", "lookups ignore case");
}

#[test]
fn no_quorum_suicide_needs_panic_flag() {
    let props = r#"<nvpair id="q" name="no-quorum-policy" value="suicide"/>"#;
    let xml = |panic: &str| {
        format!(
            r#"<cib have-quorum="0" {panic}><configuration><crm_config><cluster_property_set id="cib-bootstrap-options">{props}</cluster_property_set></crm_config>
            <nodes><node id="1" uname="ctl1"/></nodes></configuration>
            <status><node_state id="1" uname="ctl1" in_ccm="true" crmd="online" join="member" expected="member"/></status></cib>"#
        )
    };
    let c = Cib::parse(&xml("")).unwrap();
    assert_eq!(c.node("ctl1").unwrap().state, NodeState::Online);
    let c = Cib::parse(&xml(r#"no-quorum-panic="1""#)).unwrap();
    assert_eq!(c.node("ctl1").unwrap().state, NodeState::Unclean);
}

#[test]
fn secrets_are_not_kept() {
    let c = cib("", REMOTE, "");
    let debug = format!("{c:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
}

#[test]
fn structural_errors() {
    assert!(matches!(
        Cib::parse("<cib"),
        Err(CibError::Malformed { .. })
    ));
    assert!(matches!(
        Cib::parse("<pacemaker-result/>"),
        Err(CibError::Unexpected { .. })
    ));
    assert!(matches!(
        Cib::parse("<cib><status/></cib>"),
        Err(CibError::Unexpected { .. })
    ));
    // A bare configuration is fine: nothing is known about the status.
    let c = Cib::parse("<cib><configuration/></cib>").unwrap();
    assert!(c.nodes().is_empty());
    assert!(!c.have_quorum());
}

#[test]
fn version_from_the_root_element_alone() {
    // What `cibadmin --query --xpath /cib --no-children` printed on the lab.
    let text = r#"<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="225" num_updates="4" admin_epoch="0" cib-last-written="Sun Nov 22 07:37:28 2026" update-origin="ctl1" update-client="crm_attribute" update-user="root" have-quorum="1" dc-uuid="1"/>"#;
    let (version, quorum) = CibVersion::parse_root(text).unwrap();
    assert_eq!(
        version,
        CibVersion {
            admin_epoch: 0,
            epoch: 225,
            num_updates: 4
        }
    );
    assert!(quorum);
    assert!(CibVersion::parse_root("<status/>").is_err());
    let full = Cib::from_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/healthy-cib.xml"
    ))
    .unwrap();
    let root_only = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/healthy-cib.xml"
    ))
    .unwrap();
    assert_eq!(
        CibVersion::parse_root(&root_only).unwrap().0,
        full.version()
    );
}
