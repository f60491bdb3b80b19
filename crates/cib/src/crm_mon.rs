//! `crm_mon --output-as=xml`: Pacemaker's own view, fully computed.
//!
//! This runs the whole scheduler, so at a thousand remote nodes one call
//! costs seconds of CPU and hundreds of MiB. Fine for `umha status` and
//! tests; agents that run every few seconds read the [`Cib`](crate::Cib).

use umha_common::Deadline;

use crate::fencing::FenceHistory;
use crate::node::{NodeFlags, NodeKind, NodeState};
use crate::{CibError, tool, xml};

/// A node as crm_mon reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmMonNode {
    pub name: String,
    pub id: String,
    pub kind: NodeKind,
    pub flags: NodeFlags,
    pub resources_running: Option<u32>,
}

impl CrmMonNode {
    pub fn state(&self) -> NodeState {
        self.flags.state()
    }
}

/// Parsed `crm_mon --output-as=xml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmMon {
    nodes: Vec<CrmMonNode>,
    dc: Option<String>,
    with_quorum: Option<bool>,
    stonith_enabled: Option<bool>,
    maintenance_mode: Option<bool>,
    fence_history: FenceHistory,
}

impl CrmMon {
    pub fn query() -> Result<Self, CibError> {
        Self::query_with_deadline(Deadline::after(tool::DEFAULT_TIMEOUT))
    }

    /// Run `crm_mon --output-as=xml` (one-shot). Fence history is included
    /// by default.
    pub fn query_with_deadline(deadline: Deadline) -> Result<Self, CibError> {
        let output = tool::run("crm_mon", &["--output-as=xml"], deadline)?;
        let text = tool::stdout_text("crm_mon", output)?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, CibError> {
        let doc = xml::parse_document(text, "crm_mon output")?;
        let root = doc.root_element();
        if let Some(code) = tool::xml_status_code(&doc).filter(|c| *c != 0) {
            return Err(CibError::ToolFailed {
                tool: "crm_mon".to_owned(),
                code: i32::try_from(code).unwrap_or(-1),
                message: tool::xml_status_message(text.as_bytes()).unwrap_or_default(),
            });
        }
        let nodes_el = xml::child(root, "nodes").ok_or(CibError::Unexpected {
            what: "crm_mon output",
            detail: "no <nodes> element".to_owned(),
        })?;
        let nodes = xml::children(nodes_el, "node")
            .filter_map(read_node)
            .collect();

        let summary = xml::child(root, "summary");
        let dc_el = summary
            .and_then(|s| xml::child(s, "current_dc"))
            .filter(|d| xml::is_true(d.attribute("present")));
        let options = summary.and_then(|s| xml::child(s, "cluster_options"));
        let flag = |el: Option<roxmltree::Node<'_, '_>>, name: &str| {
            el.and_then(|e| e.attribute(name)).and_then(xml::parse_bool)
        };
        Ok(CrmMon {
            nodes,
            dc: dc_el.and_then(|d| xml::owned_attr(d, "name")),
            with_quorum: flag(dc_el, "with_quorum"),
            stonith_enabled: flag(options, "stonith-enabled"),
            maintenance_mode: flag(options, "maintenance-mode"),
            fence_history: xml::child(root, "fence_history")
                .map(FenceHistory::from_element)
                .unwrap_or_default(),
        })
    }

    pub fn nodes(&self) -> &[CrmMonNode] {
        &self.nodes
    }

    pub fn node(&self, name: &str) -> Option<&CrmMonNode> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The DC's name, if one is elected.
    pub fn dc(&self) -> Option<&str> {
        self.dc.as_deref()
    }

    /// `with_quorum` of the current DC; `None` without a DC.
    pub fn with_quorum(&self) -> Option<bool> {
        self.with_quorum
    }

    pub fn stonith_enabled(&self) -> Option<bool> {
        self.stonith_enabled
    }

    pub fn maintenance_mode(&self) -> Option<bool> {
        self.maintenance_mode
    }

    /// The `<fence_history>` section; empty when crm_mon omitted it.
    pub fn fence_history(&self) -> &FenceHistory {
        &self.fence_history
    }
}

fn read_node(node: roxmltree::Node<'_, '_>) -> Option<CrmMonNode> {
    let name = node.attribute("name")?;
    let flag = |attr: &str| xml::is_true(node.attribute(attr));
    let kind = if node.attribute("id_as_resource").is_some() {
        NodeKind::Guest
    } else {
        match node.attribute("type") {
            Some("remote") => NodeKind::Remote,
            Some("ping") => NodeKind::Ping,
            _ => NodeKind::Cluster,
        }
    };
    Some(CrmMonNode {
        name: name.to_owned(),
        id: node.attribute("id").unwrap_or(name).to_owned(),
        kind,
        flags: NodeFlags {
            online: flag("online"),
            standby: flag("standby"),
            standby_onfail: flag("standby_onfail"),
            maintenance: flag("maintenance"),
            pending: flag("pending"),
            unclean: flag("unclean"),
            shutdown: flag("shutdown"),
            expected_up: flag("expected_up"),
            is_dc: flag("is_dc"),
        },
        resources_running: node
            .attribute("resources_running")
            .and_then(|r| r.parse().ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nodes_summary_and_fence_history() {
        let text = r#"<pacemaker-result api-version="2.25" request="crm_mon --output-as=xml">
  <summary>
    <current_dc present="true" version="2.1.5" name="ctl1" id="1" with_quorum="true" mixed_version="false"/>
    <cluster_options stonith-enabled="true" maintenance-mode="false"/>
  </summary>
  <nodes>
    <node name="cmp1" id="cmp1" online="false" standby="false" standby_onfail="false" maintenance="false" pending="false" unclean="true" health="green" shutdown="false" expected_up="false" is_dc="false" resources_running="0" type="remote"/>
    <node name="ctl1" id="1" online="true" standby="false" standby_onfail="false" maintenance="false" pending="false" unclean="false" shutdown="false" expected_up="true" is_dc="true" resources_running="6" type="member"/>
    <node name="vm1" id="vm1" online="true" type="remote" id_as_resource="vm-rsc"/>
  </nodes>
  <fence_history>
    <fence_event action="reboot" target="cmp1" client="pacemaker-controld.1" origin="ctl1" status="pending" extended-status="1"/>
  </fence_history>
  <status code="0" message="OK"/>
</pacemaker-result>"#;
        let mon = CrmMon::parse(text).unwrap();
        assert_eq!(mon.dc(), Some("ctl1"));
        assert_eq!(mon.with_quorum(), Some(true));
        assert_eq!(mon.stonith_enabled(), Some(true));
        let cmp1 = mon.node("cmp1").unwrap();
        assert_eq!(cmp1.kind, NodeKind::Remote);
        assert_eq!(cmp1.state(), NodeState::Unclean);
        let ctl1 = mon.node("ctl1").unwrap();
        assert_eq!(ctl1.kind, NodeKind::Cluster);
        assert!(ctl1.flags.is_dc && ctl1.flags.expected_up);
        assert_eq!(ctl1.resources_running, Some(6));
        assert_eq!(mon.node("vm1").unwrap().kind, NodeKind::Guest);
        assert_eq!(mon.fence_history().pending_for("cmp1").count(), 1);
    }

    #[test]
    fn without_nodes_is_unexpected() {
        let err = CrmMon::parse("<pacemaker-result/>").unwrap_err();
        assert!(matches!(err, CibError::Unexpected { .. }));
    }
}
