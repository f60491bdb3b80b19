//! The decision of one reconcile step, from a snapshot of the cluster.
//!
//! This is pure: the same snapshot gives the same plan, whoever runs it, and
//! it can be replayed on captured states (tests, `umha simulate`). The
//! executor ([`crate::step`]) carries the plan out: CIB writes first, Nova
//! work after.
//!
//! The safety gate, in full. An incident (an evacuation owed for node N
//! fenced at F) exists only when one of these holds:
//! 1. N carries the marker F, and F is newer than the last incident closed
//!    for N. The marker is written by a umha fence agent only after it read
//!    back that the power is off, or by this code under rule 2;
//! 2. N is a Pacemaker Remote node that is not online, the controller
//!    recorded it as fenced and not reconnected since (`node_fenced`), and
//!    the fence history has a successful off/reboot of N that completed
//!    after N was lost (the connection failure Pacemaker recorded) and
//!    after the last incident closed for N, and no more than
//!    [`FENCE_RECORD_SKEW`] before `node_fenced`.
//!
//! A full cluster node used as a compute node needs rule 1: its CIB entry
//! does not say "fenced and not back since". Nothing is evacuated without
//! quorum, and the Nova service must be down or forced down before the
//! first evacuate (the executor forces it down itself, after the gate).

use std::collections::BTreeSet;

use cib::{Cib, FenceHistory, Node};

use crate::record::{self, NodeRecord, Phase};
use crate::recovery::{self, NodeRecovery};
use crate::storage::{self, NodeStorage};
use crate::valve::{Valve, Verdict};

/// How far the controller's `node_fenced` may lag behind the fence's
/// completion in the history (different daemons, possibly different nodes'
/// clocks) and still be the same fence.
pub const FENCE_RECORD_SKEW: i64 = 300;

/// Which nodes are compute nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Every Pacemaker Remote node (not guest nodes): the usual Instance-HA layout.
    Remote,
    Names(BTreeSet<String>),
    /// Nodes whose attribute `name` is set (to `value`, when given).
    Attribute {
        name: String,
        value: Option<String>,
    },
}

impl Selector {
    pub fn matches(&self, node: &Node) -> bool {
        match self {
            Selector::Remote => node.kind == cib::NodeKind::Remote,
            Selector::Names(names) => names.contains(&node.name),
            Selector::Attribute { name, value } => match node.attribute(name) {
                None => false,
                Some(v) => value.as_deref().is_none_or(|want| want == v),
            },
        }
    }
}

/// One compute node as the step sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputeNode {
    pub name: String,
    pub online: bool,
    pub remote: bool,
    /// `node_fenced`: fenced, and not reconnected since.
    pub node_fenced: Option<i64>,
    /// When Pacemaker saw its connection fail (may be old; see cib).
    pub last_failure: Option<i64>,
    pub marker: Option<String>,
    pub handled: Option<i64>,
    pub record: Option<NodeRecord>,
    pub status: Option<String>,
    /// storage-monitor's attributes and the storage episode ([`crate::storage`]).
    pub storage: NodeStorage,
    /// Segment, reserved host, maintenance ([`crate::recovery`]).
    pub recovery: NodeRecovery,
}

impl ComputeNode {
    /// An online Pacemaker Remote node with no umha record at all (tests,
    /// simulations).
    pub fn online_remote(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            online: true,
            remote: true,
            node_fenced: None,
            last_failure: None,
            marker: None,
            handled: None,
            record: None,
            status: None,
            storage: NodeStorage::default(),
            recovery: NodeRecovery::default(),
        }
    }

    pub fn from_node(node: &Node, marker_name: &str) -> Self {
        Self {
            name: node.name.clone(),
            online: node.state.is_online(),
            remote: node.is_remote(),
            node_fenced: node.fenced_at().map(|t| t.secs()),
            last_failure: node
                .connection
                .as_ref()
                .and_then(|c| c.last_failure)
                .map(|t| t.secs()),
            marker: node
                .persistent_attribute(marker_name)
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
            handled: node
                .persistent_attribute(record::HANDLED)
                .and_then(record::parse_epoch),
            record: node
                .persistent_attribute(record::STATE)
                .and_then(NodeRecord::parse),
            status: node.persistent_attribute(record::STATUS).map(str::to_owned),
            storage: NodeStorage::from_node(node, storage::DEFAULT_ATTRIBUTE),
            recovery: NodeRecovery::from_node(node, &recovery::Policy::default()),
        }
    }
}

/// Everything one step decides on.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The CIB this was read from (default for snapshots made in tests).
    pub version: cib::CibVersion,
    pub now: i64,
    pub quorum: bool,
    pub nodes: Vec<ComputeNode>,
    pub hold: Option<String>,
    /// Queried only when [`Snapshot::needs_history`]; `None` otherwise.
    pub history: Option<FenceHistory>,
}

impl Snapshot {
    pub fn from_cib(cib: &Cib, selector: &Selector, marker_name: &str, now: i64) -> Self {
        let nodes = cib
            .nodes()
            .iter()
            .filter(|n| selector.matches(n))
            .map(|n| ComputeNode::from_node(n, marker_name))
            .collect();
        let hold = cib
            .property(record::HOLD)
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        Self {
            version: cib.version(),
            now,
            quorum: cib.have_quorum(),
            nodes,
            hold,
            history: None,
        }
    }

    /// Whether the fence history can change anything: only a node that is
    /// down or owed an evacuation needs it. A settled cluster's step then
    /// costs one CIB read and nothing else.
    pub fn needs_history(&self) -> bool {
        self.nodes
            .iter()
            .any(|n| !n.online || n.marker.is_some() || n.storage.fence_requested.is_some())
    }

    /// Nothing can be owed: every compute node online, no marker, no hold,
    /// no incident being closed. While the CIB keeps this version, a step
    /// would find the same (see [`crate::agent`]).
    pub fn is_quiet(&self) -> bool {
        self.hold.is_none()
            && !self.needs_history()
            && self
                .nodes
                .iter()
                .all(|n| n.record.is_none_or(|r| r.phase != Phase::Restoring))
            && self.nodes.iter().all(|n| n.storage.is_calm())
    }

    /// The snapshot as the CIB will read once `writes` are in.
    pub fn after(&self, writes: &[Write]) -> Self {
        let mut s = self.clone();
        for w in writes {
            s.apply(w);
        }
        s
    }

    /// `write` as the CIB will show it, so that what a step does after its
    /// plan's writes sees them (a marker written from the fence history
    /// makes its segment busy at once, for instance).
    pub fn apply(&mut self, write: &Write) {
        let node = match write {
            Write::SetHold { text } => {
                self.hold = Some(text.clone());
                return;
            }
            Write::SetMarker { node, .. }
            | Write::ClearMarker { node }
            | Write::SetHandled { node, .. }
            | Write::SetRecord { node, .. }
            | Write::SetStatus { node, .. }
            | Write::SetFenceRequest { node, .. }
            | Write::SetStorageStatus { node, .. }
            | Write::ClearStorage { node }
            | Write::ClearReserved { node }
            | Write::SetReserveKept { node, .. }
            | Write::ClearReserveKept { node }
            | Write::SetMaintenance { node, .. }
            | Write::ClearMaintenance { node } => node,
        };
        let Some(n) = self.nodes.iter_mut().find(|n| &n.name == node) else {
            return;
        };
        match write {
            Write::SetMarker { fence, .. } => n.marker = Some(fence.to_string()),
            Write::ClearMarker { .. } => n.marker = None,
            Write::SetHandled { fence, .. } => n.handled = Some(*fence),
            Write::SetRecord { record, .. } => n.record = Some(*record),
            Write::SetStatus { text, .. } => n.status = Some(text.clone()),
            Write::SetFenceRequest { at, .. } => n.storage.fence_requested = Some(*at),
            Write::SetStorageStatus { text, .. } => n.storage.status = Some(text.clone()),
            Write::ClearStorage { .. } => {
                n.storage.fence_requested = None;
                n.storage.status = None;
            }
            Write::ClearReserved { .. } => {
                n.recovery.reserved = false;
                n.recovery.reserve_kept = None;
            }
            Write::SetReserveKept { text, .. } => n.recovery.reserve_kept = Some(text.clone()),
            Write::ClearReserveKept { .. } => n.recovery.reserve_kept = None,
            Write::SetMaintenance { text, .. } => n.recovery.maintenance = Some(text.clone()),
            Write::ClearMaintenance { .. } => n.recovery.maintenance = None,
            Write::SetHold { .. } => {}
        }
    }
}

/// A change to the CIB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    SetMarker { node: String, fence: i64 },
    ClearMarker { node: String },
    SetHandled { node: String, fence: i64 },
    SetRecord { node: String, record: NodeRecord },
    SetStatus { node: String, text: String },
    SetHold { text: String },
    // A storage episode (crate::storage): when a fence was asked for
    // (storage::FENCE_REQUEST), its status line (storage::STATUS), and the
    // end of the episode, which deletes both.
    SetFenceRequest { node: String, at: i64 },
    SetStorageStatus { node: String, text: String },
    ClearStorage { node: String },
    // Recovery (crate::recovery, crate::reserve, crate::maintenance): a
    // reserved host taken (its reserved attribute and recovery::RESERVE_KEPT
    // deleted), put in or out of reserve (RESERVE_KEPT), and the node's
    // maintenance attribute (recovery::MAINTENANCE).
    ClearReserved { node: String },
    SetReserveKept { node: String, text: String },
    ClearReserveKept { node: String },
    SetMaintenance { node: String, text: String },
    ClearMaintenance { node: String },
}

/// Nova work for one incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Work {
    pub node: String,
    pub fence: i64,
    pub phase: Phase,
}

/// Something worth a line in the log and the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub node: Option<String>,
    pub kind: &'static str,
    pub message: String,
    /// An operator must look (also logged at error level).
    pub alert: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub writes: Vec<Write>,
    pub work: Vec<Work>,
    pub events: Vec<Event>,
    /// Nodes to ask Pacemaker to fence for their storage, once the writes
    /// (which record the request) are in the CIB.
    pub fence_requests: Vec<String>,
}

impl Plan {
    fn event(&mut self, node: Option<&str>, kind: &'static str, message: String, alert: bool) {
        self.events.push(Event {
            node: node.map(str::to_owned),
            kind,
            message,
            alert,
        });
    }

    /// Set a node's status line, with an event when it changes (the status
    /// in the CIB is what keeps a waiting node from logging every step).
    fn status(&mut self, node: &ComputeNode, kind: &'static str, text: String, alert: bool) {
        if node.status.as_deref() != Some(text.as_str()) {
            self.event(Some(&node.name), kind, text.clone(), alert);
            self.writes.push(Write::SetStatus {
                node: node.name.clone(),
                text,
            });
        }
    }

    fn record(&mut self, node: &str, phase: Phase, fence: i64) {
        self.writes.push(Write::SetRecord {
            node: node.to_owned(),
            record: NodeRecord { phase, fence },
        });
    }
}

/// The fence that makes an evacuation of `node` owed, if any (the gate).
/// `Err` carries why not, for the status line.
pub fn fence_evidence(
    node: &ComputeNode,
    history: Option<&FenceHistory>,
) -> Result<Option<i64>, String> {
    let handled = node.handled.unwrap_or(0);
    if let Some(raw) = &node.marker {
        return match record::parse_epoch(raw) {
            Some(f) if f > handled => Ok(Some(f)),
            Some(_) => Ok(None),
            None => Err(format!(
                "marker value {raw:?} is not a fence time (epoch seconds); not evacuating"
            )),
        };
    }
    if node.online {
        return Ok(None);
    }
    if !node.remote {
        return Err("a full cluster node is evacuated only on the marker written by a umha fence agent with evacuate=1".to_owned());
    }
    let lost = node.last_failure.unwrap_or(0);
    let Some(fenced) = node.node_fenced else {
        return Err(waiting_for_fence(node, history));
    };
    let Some(history) = history else {
        return Err("fence history unavailable; not evacuating".to_owned());
    };
    let since = cib::UnixTime::from_secs(lost.max(handled));
    match history.confirmed_fence_after(&node.name, since) {
        Some(event) => {
            let f = event.completed.map(|t| t.secs()).unwrap_or(0);
            if f + FENCE_RECORD_SKEW < fenced {
                Err(format!(
                    "the controller recorded a fence at {fenced} but the fence history's latest successful off/reboot is at {f}; not evacuating until they agree (or set the marker after checking the node is off)"
                ))
            } else {
                Ok(Some(f))
            }
        }
        None => Err(format!(
            "recorded as fenced at {fenced}, but the fence history has no successful off/reboot after {}; not evacuating",
            lost.max(handled)
        )),
    }
}

fn waiting_for_fence(node: &ComputeNode, history: Option<&FenceHistory>) -> String {
    let mut text = "lost, not fenced yet: waiting for fencing before any evacuation".to_owned();
    if let Some(last) = history.and_then(|h| {
        h.events_for(&node.name)
            .filter(|e| e.status == cib::FenceStatus::Failed)
            .filter(|e| {
                e.completed
                    .is_some_and(|t| t.secs() > node.last_failure.unwrap_or(0))
            })
            .max_by_key(|e| e.completed)
    }) {
        text.push_str(&format!(
            " (last fence attempt failed{})",
            last.exit_reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ));
    }
    text
}

/// The nodes that count as failed for the valve (see [`crate::valve`]).
pub fn failed_in_window(snapshot: &Snapshot, window: i64) -> BTreeSet<String> {
    let since = snapshot.now - window;
    snapshot
        .nodes
        .iter()
        .filter(|n| {
            !n.online
                || n.marker.is_some()
                || n.handled.is_some_and(|h| h >= since)
                || n.last_failure.is_some_and(|t| t >= since)
        })
        .map(|n| n.name.clone())
        .collect()
}

/// Decide one whole step: storage-driven fencing ([`storage::plan`]) first,
/// then the evacuations ([`plan`]), which see a hold the storage valve set
/// in the same step. What the agent runs; [`plan`] alone leaves storage out.
pub fn decide(
    snapshot: &Snapshot,
    valve: &Valve,
    storage_policy: &storage::Policy,
    dry_run: bool,
) -> Plan {
    let hold_set = |p: &Plan| {
        p.writes.iter().find_map(|w| match w {
            Write::SetHold { text } => Some(text.clone()),
            _ => None,
        })
    };
    let under_hold = |text: String| {
        let mut s = snapshot.clone();
        s.hold = Some(text);
        s
    };
    let mut first = storage::plan(snapshot, valve.window, storage_policy, dry_run);
    let then = match hold_set(&first) {
        Some(text) => plan(&under_hold(text), valve),
        None => {
            let then = plan(snapshot, valve);
            // The failure valve tripped in this step: no fence requests
            // either (a storm is no time to fence more nodes).
            if let Some(text) = hold_set(&then) {
                first = storage::plan(&under_hold(text), valve.window, storage_policy, dry_run);
            }
            then
        }
    };
    first.writes.extend(then.writes);
    first.work.extend(then.work);
    first.events.extend(then.events);
    first.fence_requests.extend(then.fence_requests);
    first
}

/// Decide one step's evacuations.
pub fn plan(snapshot: &Snapshot, valve: &Valve) -> Plan {
    let mut plan = Plan::default();
    let window = i64::try_from(valve.window.as_secs()).unwrap_or(i64::MAX);
    let mut hold = snapshot.hold.clone();
    for node in &snapshot.nodes {
        let evidence = fence_evidence(node, snapshot.history.as_ref());
        let fence = match evidence {
            Err(why) => {
                plan.status(node, "blocked", storage::with_isolation(node, why), true);
                continue;
            }
            Ok(None) => {
                if let (Some(raw), Some(handled)) = (&node.marker, node.handled)
                    && record::parse_epoch(raw).is_some_and(|f| f <= handled)
                {
                    plan.event(
                        Some(&node.name),
                        "stale-marker",
                        format!("marker {raw} is not newer than the incident closed at {handled}; cleared"),
                        false,
                    );
                    plan.writes.push(Write::ClearMarker {
                        node: node.name.clone(),
                    });
                }
                if let Some(r) = node.record.filter(|r| r.phase == Phase::Restoring) {
                    plan.work.push(Work {
                        node: node.name.clone(),
                        fence: r.fence,
                        phase: Phase::Restoring,
                    });
                }
                continue;
            }
            Ok(Some(f)) => f,
        };
        if node.marker.is_none() {
            // Rule 2: write the marker now, so the incident survives the
            // node's return and nova-compute stays off it.
            plan.writes.push(Write::SetMarker {
                node: node.name.clone(),
                fence,
            });
            plan.event(
                Some(&node.name),
                "fenced",
                format!("fence confirmed by the fence history (completed at {fence}); marker set"),
                false,
            );
        }
        if !snapshot.quorum {
            plan.status(
                node,
                "no-quorum",
                "fenced; the cluster has no quorum: waiting".to_owned(),
                true,
            );
            continue;
        }
        let phase = node.record.filter(|r| r.fence == fence).map(|r| r.phase);
        match phase {
            None => {
                let verdict = if hold.is_some() {
                    None
                } else {
                    Some(valve.evaluate(&failed_in_window(snapshot, window), snapshot.nodes.len()))
                };
                match verdict {
                    Some(Verdict::Open) => {
                        plan.record(&node.name, Phase::Evacuating, fence);
                        let (note, alert) = storage::fence_note(node, fence)
                            .map(|(n, a)| (format!("; {n}"), a))
                            .unwrap_or_default();
                        plan.event(
                            Some(&node.name),
                            "approved",
                            format!("fenced at {fence}: evacuating{note}"),
                            alert,
                        );
                        plan.work.push(Work {
                            node: node.name.clone(),
                            fence,
                            phase: Phase::Evacuating,
                        });
                    }
                    Some(Verdict::Trip { reason, .. }) => {
                        let text = format!("{} {reason}", snapshot.now);
                        plan.writes.push(Write::SetHold { text: text.clone() });
                        plan.event(None, "valve", format!("valve tripped: {reason}; nothing is evacuated until the hold is released (umha release, or crm_attribute --type crm_config --set-name {} --name {} --delete)", record::HOLD_SET, record::HOLD), true);
                        hold = Some(text);
                        plan.record(&node.name, Phase::Held, fence);
                        plan.status(
                            node,
                            "held",
                            format!("fenced; held by the valve: {reason}"),
                            true,
                        );
                    }
                    None => {
                        plan.record(&node.name, Phase::Held, fence);
                        plan.status(
                            node,
                            "held",
                            "fenced; held: the valve's hold is set".to_owned(),
                            true,
                        );
                    }
                }
            }
            Some(Phase::Held) if hold.is_none() => {
                plan.record(&node.name, Phase::Evacuating, fence);
                plan.event(
                    Some(&node.name),
                    "released",
                    "the valve's hold was released: evacuating".to_owned(),
                    false,
                );
                plan.work.push(Work {
                    node: node.name.clone(),
                    fence,
                    phase: Phase::Evacuating,
                });
            }
            Some(Phase::Held) | Some(Phase::Failed) => {}
            // Restoring/Done with the marker still set: the close was
            // interrupted before the marker went; finish it.
            Some(phase) => plan.work.push(Work {
                node: node.name.clone(),
                fence,
                phase: if phase == Phase::Evacuating {
                    Phase::Evacuating
                } else {
                    Phase::Restoring
                },
            }),
        }
    }
    plan
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
