//! `umha status`: one row per compute node with everything umha knows about
//! it, from the CIB and, when reachable, Nova. Like `crm_mon`, it reports;
//! a part that cannot be read (Nova down) is shown as such, never fatal.

use std::collections::BTreeMap;

use cib::{Node, NodeState};
use serde::Serialize;
use umha_evacuator::config::Config;
use umha_evacuator::record::{self, NodeRecord};
use umha_evacuator::recovery::NodeRecovery;
use umha_evacuator::storage::NodeStorage;

use crate::context::State;
use crate::render::{self, Format};
use crate::when::format_epoch;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Status {
    pub source: String,
    pub quorum: bool,
    pub dc: Option<String>,
    /// The valve's hold (`umha-hold`): evacuations wait while it is set.
    pub hold: Option<String>,
    /// The evacuator primitive's id, if the CIB has one.
    pub evacuator: Option<String>,
    /// Why the evacuator's parameters in the CIB do not validate (the
    /// report then uses the defaults).
    pub config_error: Option<String>,
    pub dry_run: bool,
    pub nova: NovaView,
    pub nodes: Vec<NodeRow>,
}

/// What Nova said, or why it was not asked.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum NovaView {
    Skipped,
    Unreachable { reason: String },
    Read,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NodeRow {
    pub name: String,
    pub kind: &'static str,
    pub pacemaker: String,
    pub storage: String,
    pub storage_detail: Option<String>,
    pub nova: Option<ServiceView>,
    /// The evacuation marker (fence epoch), when an evacuation is owed.
    pub marker: Option<String>,
    pub phase: Option<String>,
    pub status: Option<String>,
    /// Segment, reserved host and maintenance, read as the evacuator reads
    /// them ([`NodeRecovery`]).
    pub segment: Option<String>,
    pub reserved: bool,
    /// The evacuator keeps this reserved host disabled in Nova while idle
    /// (`umha-reserved-disabled`).
    pub reserve_kept: Option<String>,
    pub maintenance: Option<String>,
    /// The evacuator's storage episode: when it asked for a fence, and its
    /// status line (`umha-storage-fence`, `umha-storage-status`).
    pub storage_fence_requested: Option<i64>,
    pub storage_status: Option<String>,
}

/// A nova-compute service as `openstack compute service list` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ServiceView {
    pub host: String,
    pub state: String,
    pub status: String,
    pub forced_down: bool,
    pub disabled_reason: Option<String>,
}

impl ServiceView {
    pub fn from_service(s: &openstack::service::Service) -> Self {
        Self {
            host: s.host.clone(),
            state: if s.is_up() { "up" } else { "down" }.to_owned(),
            status: if s.is_disabled() {
                "disabled"
            } else {
                "enabled"
            }
            .to_owned(),
            forced_down: s.forced_down,
            disabled_reason: s.disabled_reason.clone().filter(|r| !r.is_empty()),
        }
    }

    fn summary(&self) -> String {
        let mut text = format!("{}/{}", self.state, self.status);
        if self.forced_down {
            text.push_str(" forced-down");
        }
        text
    }
}

/// Pacemaker's state of a node in crm_mon's words.
pub fn pacemaker_state(node: &Node) -> String {
    let mut text = match node.state {
        NodeState::Online => "online".to_owned(),
        NodeState::Pending => "pending".to_owned(),
        NodeState::Unclean if node.flags.online => "UNCLEAN (online)".to_owned(),
        NodeState::Unclean => "UNCLEAN (offline)".to_owned(),
        NodeState::Offline => match node.fenced_at() {
            Some(t) => format!("offline (fenced {})", format_epoch(t.secs())),
            None => "offline".to_owned(),
        },
        _ => "unknown".to_owned(),
    };
    if node.state == NodeState::Online {
        if node.flags.standby {
            text.push_str(" (standby)");
        }
        if node.flags.maintenance {
            text.push_str(" (maintenance)");
        }
    }
    text
}

fn storage_text(s: &NodeStorage) -> String {
    match (s.score, s.red_checks) {
        (_, Some(n)) => format!("red ({n} checks)"),
        (Some(0), None) => "red".to_owned(),
        (Some(score), None) => format!("ok ({score})"),
        (None, None) => "-".to_owned(),
    }
}

/// `umha-maintenance` (`<epoch> <reason>`) for people, with the way out.
fn maintenance_note(node: &str, value: &str) -> String {
    let (since, reason) = match value.split_once(' ') {
        Some((t, r)) if record::parse_epoch(t).is_some() => {
            (record::parse_epoch(t).map(format_epoch), r.trim())
        }
        _ => (None, value.trim()),
    };
    let mut text = match since {
        Some(t) => format!("under maintenance since {t}: {reason}"),
        None => format!("under maintenance: {reason}"),
    };
    if !reason.contains("umha host enable") {
        text.push_str(&format!(" (`umha host enable {node}` once repaired)"));
    }
    text
}

/// The report, Nova's services (by host) already fetched or not.
pub fn build(
    state: &State,
    config: &Config,
    nova: NovaView,
    services: &BTreeMap<String, ServiceView>,
) -> Status {
    let cib = &state.cib;
    let attribute = &config.storage.attribute;
    let hosts: Vec<&str> = services.keys().map(String::as_str).collect();
    let nodes = cib
        .nodes()
        .iter()
        .filter(|n| config.selector.matches(n))
        .map(|node| {
            let storage = NodeStorage::from_node(node, attribute);
            let recovery = NodeRecovery::from_node(node, &config.recovery);
            let nova = config
                .host_map
                .resolve(&node.name, &hosts)
                .ok()
                .and_then(|h| services.get(h))
                .cloned();
            NodeRow {
                name: node.name.clone(),
                kind: if node.is_remote() {
                    "remote"
                } else {
                    "cluster"
                },
                pacemaker: pacemaker_state(node),
                storage: storage_text(&storage),
                storage_detail: node
                    .transient_attribute(&format!("{attribute}-detail"))
                    .map(str::to_owned),
                nova,
                marker: node
                    .persistent_attribute(&config.marker)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned),
                phase: node
                    .persistent_attribute(record::STATE)
                    .and_then(NodeRecord::parse)
                    .map(|r| format!("{} (fence {})", r.phase.as_str(), format_epoch(r.fence))),
                status: node
                    .persistent_attribute(record::STATUS)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned),
                segment: recovery.segment,
                reserved: recovery.reserved,
                reserve_kept: recovery.reserve_kept,
                maintenance: recovery.maintenance,
                storage_fence_requested: storage.fence_requested,
                storage_status: storage.status.clone(),
            }
        })
        .collect();
    Status {
        source: state.source.clone(),
        quorum: cib.have_quorum(),
        dc: cib.dc().map(|n| n.name.clone()),
        hold: cib
            .property(record::HOLD)
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
        evacuator: state.evacuator.as_ref().map(|e| e.id.clone()),
        config_error: None,
        dry_run: config.dry_run,
        nova,
        nodes,
    }
}

impl Status {
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => self.text(),
            Format::Json => render::json(self),
            Format::Xml => self.xml(),
        }
    }

    fn text(&self) -> String {
        let mut out = format!(
            "Cluster: {} (quorum: {}, DC: {})\n",
            self.source,
            if self.quorum { "yes" } else { "NO" },
            render::or_dash(self.dc.as_deref())
        );
        out.push_str(&match &self.evacuator {
            Some(id) if self.dry_run => {
                format!("Evacuator: {id} (DRY RUN: nothing is evacuated)\n")
            }
            Some(id) => format!("Evacuator: {id}\n"),
            None => "Evacuator: none configured (defaults shown)\n".to_owned(),
        });
        if let Some(e) = &self.config_error {
            out.push_str(&format!(
                "  INVALID PARAMETERS: {e}\n  (the agent refuses to start with them; defaults shown)\n"
            ));
        }
        out.push_str(&match &self.hold {
            Some(h) => {
                format!("Valve: HELD: {h}\n  (umha release, once the cause is understood)\n")
            }
            None => "Valve: open\n".to_owned(),
        });
        out.push_str(&match &self.nova {
            NovaView::Skipped => "Nova: not asked\n".to_owned(),
            NovaView::Unreachable { reason } => format!("Nova: unreachable ({reason})\n"),
            NovaView::Read => "Nova: read\n".to_owned(),
        });
        out.push('\n');
        let rows: Vec<Vec<String>> = self
            .nodes
            .iter()
            .map(|n| {
                let mut flags = Vec::new();
                if let Some(s) = &n.segment {
                    flags.push(format!("segment={s}"));
                }
                match (n.reserved, n.reserve_kept.is_some()) {
                    (true, true) => flags.push("reserved(idle)".to_owned()),
                    (true, false) => flags.push("reserved".to_owned()),
                    // Kept disabled by the evacuator, flag since removed:
                    // the next step enables it again.
                    (false, true) => flags.push("reserve-ending".to_owned()),
                    (false, false) => {}
                }
                if n.maintenance.is_some() {
                    flags.push("MAINTENANCE".to_owned());
                }
                vec![
                    n.name.clone(),
                    n.pacemaker.clone(),
                    n.storage.clone(),
                    n.nova
                        .as_ref()
                        .map(ServiceView::summary)
                        .unwrap_or_else(|| "-".to_owned()),
                    render::or_dash(n.phase.as_deref()),
                    render::or_dash(Some(&flags.join(","))),
                ]
            })
            .collect();
        out.push_str(&render::table(
            &[
                "NODE",
                "PACEMAKER",
                "STORAGE",
                "NOVA",
                "EVACUATION",
                "FLAGS",
            ],
            &rows,
        ));
        let notes: Vec<String> = self
            .nodes
            .iter()
            .flat_map(|n| {
                let mut lines = Vec::new();
                if let Some(m) = &n.marker {
                    lines.push(format!("  {}: evacuation owed (marker {m})", n.name));
                }
                if let Some(s) = &n.status {
                    lines.push(format!("  {}: {s}", n.name));
                }
                if let Some(t) = n.storage_fence_requested {
                    lines.push(format!(
                        "  {}: fence requested for its storage at {}",
                        n.name,
                        format_epoch(t)
                    ));
                }
                if let Some(s) = &n.storage_status {
                    lines.push(format!("  {}: storage: {s}", n.name));
                }
                if let Some(m) = &n.maintenance {
                    lines.push(format!("  {}: {}", n.name, maintenance_note(&n.name, m)));
                }
                if let Some(r) = n.nova.as_ref().and_then(|s| s.disabled_reason.as_ref()) {
                    lines.push(format!("  {}: nova-compute disabled: {r}", n.name));
                }
                lines
            })
            .collect();
        if !notes.is_empty() {
            out.push_str("\nNotes:\n");
            for line in notes {
                out.push_str(&line);
                out.push('\n');
            }
        }
        out
    }

    fn xml(&self) -> String {
        use render::{xml_close, xml_empty, xml_open};
        let yes = |b: bool| Some(b.to_string());
        let mut out = String::from("<?xml version=\"1.0\"?>\n");
        out.push_str(&xml_open(
            0,
            "umha",
            &[("version", Some(env!("CARGO_PKG_VERSION").to_owned()))],
        ));
        out.push_str(&xml_empty(
            1,
            "cluster",
            &[
                ("source", Some(self.source.clone())),
                ("quorum", yes(self.quorum)),
                ("dc", self.dc.clone()),
                ("evacuator", self.evacuator.clone()),
                ("config-error", self.config_error.clone()),
                ("dry-run", yes(self.dry_run)),
            ],
        ));
        out.push_str(&xml_empty(
            1,
            "valve",
            &[
                ("held", yes(self.hold.is_some())),
                ("reason", self.hold.clone()),
            ],
        ));
        let (nova_state, reason) = match &self.nova {
            NovaView::Skipped => ("skipped", None),
            NovaView::Unreachable { reason } => ("unreachable", Some(reason.clone())),
            NovaView::Read => ("read", None),
        };
        out.push_str(&xml_empty(
            1,
            "nova",
            &[("state", Some(nova_state.to_owned())), ("reason", reason)],
        ));
        out.push_str(&xml_open(1, "nodes", &[]));
        for n in &self.nodes {
            out.push_str(&xml_open(
                2,
                "node",
                &[
                    ("name", Some(n.name.clone())),
                    ("type", Some(n.kind.to_owned())),
                    ("pacemaker", Some(n.pacemaker.clone())),
                    ("storage", Some(n.storage.clone())),
                    ("storage-detail", n.storage_detail.clone()),
                    ("segment", n.segment.clone()),
                    ("reserved", yes(n.reserved)),
                    ("reserve-kept", n.reserve_kept.clone()),
                    ("maintenance", n.maintenance.clone()),
                ],
            ));
            if n.storage_fence_requested.is_some() || n.storage_status.is_some() {
                out.push_str(&xml_empty(
                    3,
                    "storage-episode",
                    &[
                        (
                            "fence-requested",
                            n.storage_fence_requested.map(|t| t.to_string()),
                        ),
                        ("status", n.storage_status.clone()),
                    ],
                ));
            }
            if let Some(s) = &n.nova {
                out.push_str(&xml_empty(
                    3,
                    "nova-service",
                    &[
                        ("host", Some(s.host.clone())),
                        ("state", Some(s.state.clone())),
                        ("status", Some(s.status.clone())),
                        ("forced-down", yes(s.forced_down)),
                        ("disabled-reason", s.disabled_reason.clone()),
                    ],
                ));
            }
            out.push_str(&xml_empty(
                3,
                "evacuation",
                &[
                    ("marker", n.marker.clone()),
                    ("phase", n.phase.clone()),
                    ("status", n.status.clone()),
                ],
            ));
            out.push_str(&xml_close(2, "node"));
        }
        out.push_str(&xml_close(1, "nodes"));
        out.push_str(&xml_close(0, "umha"));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintenance_notes_say_since_when_and_the_way_out() {
        assert_eq!(
            maintenance_note("cmp3", "1795316900 repair the PSU"),
            "under maintenance since 2026-11-22T03:08:20Z: repair the PSU (`umha host enable cmp3` once repaired)"
        );
        assert_eq!(
            maintenance_note("cmp3", "1795316900 x until `umha host enable cmp3`"),
            "under maintenance since 2026-11-22T03:08:20Z: x until `umha host enable cmp3`"
        );
        assert_eq!(
            maintenance_note("cmp3", "by hand"),
            "under maintenance: by hand (`umha host enable cmp3` once repaired)"
        );
    }
}
