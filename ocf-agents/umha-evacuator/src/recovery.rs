//! Masakari's recovery methods, natively: segments, reserved hosts and the
//! four ways of choosing where a failed host's instances go.
//!
//! - A **segment** is a group of compute nodes (Masakari's failover
//!   segment): the nodes whose attribute `segment_attribute` (default
//!   `umha-segment`) has the same value. Nodes without it form the default
//!   segment. A failed node's instances only go to reserved hosts of its
//!   own segment.
//! - A **reserved host** is a compute node whose persistent attribute
//!   `reserved_attribute` (default `umha-reserved`) is true. It is kept
//!   disabled in Nova while idle, so the scheduler puts nothing on it (see
//!   [`crate::reserve`]), and taken when a node of its segment fails: the
//!   evacuator enables it, evacuates to it by name and removes the
//!   attribute, as Masakari sets `reserved=False` on a host it used.
//! - The **method** of a segment ([`RecoveryMethod`]): `recovery_method`
//!   for every segment, `segment_recovery_methods` per segment.
//!
//! Everything here is pure: what a node's attributes say, which reserved
//! hosts may take a failed node's instances, and how instances are packed
//! onto them given the room Placement reports.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use cib::{Cib, Node};
use openstack::placement::{Resources, Room};
use thiserror::Error;

use crate::plan::{ComputeNode, Snapshot};
use crate::record::Phase;
use crate::selection::truthy;

/// Default of `segment_attribute`.
pub const SEGMENT_ATTRIBUTE: &str = "umha-segment";
/// Default of `reserved_attribute`.
pub const RESERVED_ATTRIBUTE: &str = "umha-reserved";
/// Persistent node attribute: the evacuator has put this reserved host in
/// reserve (disabled it in Nova, or found it disabled), with when and how.
/// While it is set, a quiet step does not ask Nova about the host again.
pub const RESERVE_KEPT: &str = "umha-reserved-disabled";
/// Persistent node attribute: the node is under maintenance after an
/// incident (`<epoch> <reason>`), cleared by `umha host enable`
/// ([`crate::maintenance::end_maintenance`]).
pub const MAINTENANCE: &str = "umha-maintenance";
/// The `disabled_reason` of an idle reserved host. It starts with
/// [`crate::nova::DISABLED_PREFIX`], and is the only reason under which the
/// evacuator enables a reserved host: a host disabled for anything else
/// (an operator's maintenance) is never taken.
pub const RESERVED_REASON: &str = "umha: reserved host";

/// Where a failed host's instances go (Masakari's `recovery_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecoveryMethod {
    /// Nova's scheduler picks a host for each instance.
    Auto,
    /// Only the segment's reserved hosts; what they cannot take stays.
    ReservedHost,
    /// Reserved hosts first; what they cannot take goes to the scheduler.
    RhPriority,
    /// The scheduler first; an instance it finds no host for goes to a
    /// reserved host.
    AutoPriority,
}

impl RecoveryMethod {
    pub const ALL: [RecoveryMethod; 4] = [
        RecoveryMethod::Auto,
        RecoveryMethod::ReservedHost,
        RecoveryMethod::RhPriority,
        RecoveryMethod::AutoPriority,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryMethod::Auto => "auto",
            RecoveryMethod::ReservedHost => "reserved_host",
            RecoveryMethod::RhPriority => "rh_priority",
            RecoveryMethod::AutoPriority => "auto_priority",
        }
    }

    pub fn uses_reserved_hosts(self) -> bool {
        self != RecoveryMethod::Auto
    }
}

impl fmt::Display for RecoveryMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PolicyError {
    #[error("recovery method {0:?} is not auto, reserved_host, rh_priority or auto_priority")]
    Method(String),
    #[error("segment_recovery_methods entry {0:?} is not SEGMENT:METHOD")]
    Entry(String),
    #[error("segment_recovery_methods names segment {0} twice")]
    Duplicate(String),
}

impl FromStr for RecoveryMethod {
    type Err = PolicyError;

    /// Masakari's names; `-` for `_` and any case are accepted.
    fn from_str(s: &str) -> Result<Self, PolicyError> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        RecoveryMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == norm)
            .ok_or_else(|| PolicyError::Method(s.to_owned()))
    }
}

/// The recovery parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub segment_attribute: String,
    pub reserved_attribute: String,
    /// `recovery_method`: every segment not in `segments`, the default
    /// segment included.
    pub method: RecoveryMethod,
    /// `segment_recovery_methods`.
    pub segments: BTreeMap<String, RecoveryMethod>,
    /// `on_recovery` is unset: failed nodes of segments whose method uses
    /// reserved hosts stay under maintenance
    /// ([`crate::config::Config::on_recovery_for`]).
    pub maintain_reserved_segments: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            segment_attribute: SEGMENT_ATTRIBUTE.to_owned(),
            reserved_attribute: RESERVED_ATTRIBUTE.to_owned(),
            method: RecoveryMethod::Auto,
            segments: BTreeMap::new(),
            maintain_reserved_segments: true,
        }
    }
}

impl Policy {
    /// `SEGMENT:METHOD` entries (`=` also separates).
    pub fn parse_segments<S: AsRef<str>>(
        entries: &[S],
    ) -> Result<BTreeMap<String, RecoveryMethod>, PolicyError> {
        let mut out = BTreeMap::new();
        for entry in entries.iter().map(AsRef::as_ref).filter(|e| !e.is_empty()) {
            let (segment, method) = entry
                .split_once([':', '='])
                .map(|(s, m)| (s.trim(), m.trim()))
                .filter(|(s, m)| !s.is_empty() && !m.is_empty())
                .ok_or_else(|| PolicyError::Entry(entry.to_owned()))?;
            let method: RecoveryMethod = method.parse()?;
            if out.insert(segment.to_owned(), method).is_some() {
                return Err(PolicyError::Duplicate(segment.to_owned()));
            }
        }
        Ok(out)
    }

    /// The method of a segment (`None`: the default segment).
    pub fn method_for(&self, segment: Option<&str>) -> RecoveryMethod {
        segment
            .and_then(|s| self.segments.get(s))
            .copied()
            .unwrap_or(self.method)
    }

    /// Some segment uses `method`.
    pub fn uses(&self, method: RecoveryMethod) -> bool {
        self.method == method || self.segments.values().any(|m| *m == method)
    }
}

/// A segment's name in messages.
pub fn segment_name(segment: Option<&str>) -> &str {
    segment.unwrap_or("(default)")
}

/// What a node's attributes say for recovery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeRecovery {
    /// `None`: the default segment.
    pub segment: Option<String>,
    /// Flagged reserved (persistent attribute, true/yes/1/on).
    pub reserved: bool,
    /// [`RESERVE_KEPT`].
    pub reserve_kept: Option<String>,
    /// [`MAINTENANCE`].
    pub maintenance: Option<String>,
}

impl NodeRecovery {
    pub fn from_node(node: &Node, policy: &Policy) -> Self {
        let text = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Self {
            segment: text(node.attribute(&policy.segment_attribute)),
            reserved: node
                .persistent_attribute(&policy.reserved_attribute)
                .is_some_and(truthy),
            reserve_kept: text(node.persistent_attribute(RESERVE_KEPT)),
            maintenance: text(node.persistent_attribute(MAINTENANCE)),
        }
    }
}

impl Snapshot {
    /// Read the recovery attributes under the configured names, replacing
    /// those [`Snapshot::from_cib`] read under the defaults.
    pub fn with_recovery(mut self, cib: &Cib, policy: &Policy) -> Self {
        for n in &mut self.nodes {
            if let Some(node) = cib.node(&n.name) {
                n.recovery = NodeRecovery::from_node(node, policy);
            }
        }
        self
    }
}

/// Why a reserved host of the segment cannot be taken now, or `None` when
/// it may be (Pacemaker's side only; Nova and Placement are asked next).
pub fn unavailable(node: &ComputeNode) -> Option<&'static str> {
    if !node.online {
        Some("not online in Pacemaker")
    } else if node.marker.is_some() {
        Some("its own evacuation is open")
    } else if node.recovery.maintenance.is_some() {
        Some("under maintenance")
    } else {
        None
    }
}

/// The reserved hosts of `failed`'s segment, by name, each with why it
/// cannot be taken (`None`: it can, as far as Pacemaker knows).
pub fn reserved_hosts<'a>(
    nodes: impl IntoIterator<Item = &'a ComputeNode>,
    failed: &ComputeNode,
) -> Vec<(&'a ComputeNode, Option<&'static str>)> {
    let mut out: Vec<_> = nodes
        .into_iter()
        .filter(|n| n.name != failed.name)
        .filter(|n| n.recovery.reserved && n.recovery.segment == failed.recovery.segment)
        .map(|n| (n, unavailable(n)))
        .collect();
    out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    out
}

/// An instance to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub id: String,
    pub name: String,
    /// `None` when its flavor's size is unknown.
    pub resources: Option<Resources>,
}

/// A reserved host that may take instances, with its room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub node: String,
    /// Its Nova host.
    pub host: String,
    pub room: Room,
}

/// Where each instance goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placed {
    /// Instance id → Nova host.
    pub assigned: BTreeMap<String, String>,
    /// Instance id → why no reserved host could take it.
    pub unplaced: BTreeMap<String, String>,
}

impl Placed {
    /// The Nova hosts used.
    pub fn hosts(&self) -> BTreeSet<&str> {
        self.assigned.values().map(String::as_str).collect()
    }
}

/// Order: largest first (memory, then CPUs, then disk), so that the big
/// ones find room while it is there; unknown sizes last.
fn size_key(need: &Need) -> (bool, u64, u64, u64) {
    match &need.resources {
        None => (true, 0, 0, 0),
        Some(r) => {
            let get = |c: &str| r.get(c).copied().unwrap_or(0);
            (
                false,
                u64::MAX - get("MEMORY_MB"),
                u64::MAX - get("VCPU").max(get("PCPU")),
                u64::MAX - get("DISK_GB"),
            )
        }
    }
}

/// Pack `needs` onto `offers`, first fit in the offers' order, largest
/// instances first: a reserved host takes what fits, the next one the
/// rest. The offers' room is reduced by what is placed.
pub fn place(needs: &[Need], offers: &mut [Offer]) -> Placed {
    let mut order: Vec<&Need> = needs.iter().collect();
    order.sort_by(|a, b| {
        size_key(a)
            .cmp(&size_key(b))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut placed = Placed::default();
    for need in order {
        let Some(resources) = &need.resources else {
            placed.unplaced.insert(
                need.id.clone(),
                "its flavor's size is unknown (Nova shows it from compute microversion 2.47)"
                    .to_owned(),
            );
            continue;
        };
        match offers
            .iter_mut()
            .find(|o| o.room.shortfall(resources).is_none())
        {
            Some(offer) => {
                offer.room.take(resources);
                placed.assigned.insert(need.id.clone(), offer.host.clone());
            }
            None => {
                let why = if offers.is_empty() {
                    "no reserved host can take instances".to_owned()
                } else {
                    let each: Vec<String> = offers
                        .iter()
                        .filter_map(|o| {
                            o.room
                                .shortfall(resources)
                                .map(|s| format!("{}: {s}", o.node))
                        })
                        .collect();
                    format!("no reserved host has room ({})", each.join("; "))
                };
                placed.unplaced.insert(need.id.clone(), why);
            }
        }
    }
    placed
}

/// What keeping the reserve needs for one node ([`crate::reserve`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReserveAction {
    /// Flagged reserved and not yet put in reserve: disable it in Nova
    /// (unless disabled already), then set [`RESERVE_KEPT`].
    Keep(String),
    /// Put in reserve by the evacuator, but no longer flagged (an operator
    /// removed the flag): enable it in Nova if it is still disabled as a
    /// reserved host, then delete [`RESERVE_KEPT`].
    Release(String),
}

/// The reserve's due work, from the CIB alone, so that a quiet cluster
/// never asks Nova. Only for online nodes without an open evacuation or
/// maintenance. No host is put into reserve in a segment where an
/// evacuation is open (its reserved hosts may be being taken right now);
/// a host the operator unflagged is given back at once, as no evacuation
/// counts on it and its room helps the scheduler.
pub fn reserve_actions(nodes: &[ComputeNode]) -> Vec<ReserveAction> {
    let busy: BTreeSet<Option<&str>> = nodes
        .iter()
        .filter(|n| n.marker.is_some())
        .filter(|n| !n.record.is_some_and(|r| r.phase == Phase::Failed))
        .map(|n| n.recovery.segment.as_deref())
        .collect();
    nodes
        .iter()
        .filter(|n| unavailable(n).is_none())
        .filter_map(
            |n| match (n.recovery.reserved, n.recovery.reserve_kept.is_some()) {
                (true, false) if !busy.contains(&n.recovery.segment.as_deref()) => {
                    Some(ReserveAction::Keep(n.name.clone()))
                }
                (false, true) => Some(ReserveAction::Release(n.name.clone())),
                _ => None,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::NodeRecord;

    #[test]
    fn methods_parse_and_print() {
        for m in RecoveryMethod::ALL {
            assert_eq!(m.to_string().parse::<RecoveryMethod>(), Ok(m));
        }
        assert_eq!("RH-Priority".parse(), Ok(RecoveryMethod::RhPriority));
        assert_eq!(" auto ".parse(), Ok(RecoveryMethod::Auto));
        for bad in ["", "reserved", "auto priority", "rh_priority2"] {
            assert!(bad.parse::<RecoveryMethod>().is_err(), "{bad}");
        }
        assert!(!RecoveryMethod::Auto.uses_reserved_hosts());
        assert!(RecoveryMethod::AutoPriority.uses_reserved_hosts());
    }

    #[test]
    fn segment_methods() {
        let segments =
            Policy::parse_segments(&["az1:reserved_host", "az2=rh_priority", ""]).unwrap();
        let policy = Policy {
            method: RecoveryMethod::AutoPriority,
            segments,
            ..Policy::default()
        };
        assert_eq!(policy.method_for(Some("az1")), RecoveryMethod::ReservedHost);
        assert_eq!(policy.method_for(Some("az2")), RecoveryMethod::RhPriority);
        assert_eq!(policy.method_for(Some("az3")), RecoveryMethod::AutoPriority);
        assert_eq!(policy.method_for(None), RecoveryMethod::AutoPriority);
        assert!(policy.uses(RecoveryMethod::RhPriority));
        assert!(!policy.uses(RecoveryMethod::Auto));
        for bad in [
            &["az1"][..],
            &["az1:"],
            &[":auto"],
            &["az1:bogus"],
            &["a:auto", "a:auto"],
        ] {
            assert!(Policy::parse_segments(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Policy::parse_segments(&["az1:auto", "az1:rh_priority"]),
            Err(PolicyError::Duplicate("az1".into()))
        );
    }

    fn node(name: &str, segment: Option<&str>, reserved: bool) -> ComputeNode {
        let mut n = ComputeNode::online_remote(name);
        n.recovery.segment = segment.map(str::to_owned);
        n.recovery.reserved = reserved;
        n
    }

    #[test]
    fn attributes_are_read_from_the_cib() {
        let xml = r#"<cib admin_epoch="0" epoch="1" num_updates="0" have-quorum="1"><configuration>
          <crm_config/><nodes>
            <node id="cmp1" uname="cmp1" type="remote"><instance_attributes id="a1">
              <nvpair id="a1-s" name="rack" value="az1"/>
              <nvpair id="a1-r" name="spare" value="Yes"/>
              <nvpair id="a1-k" name="umha-reserved-disabled" value="1700000000 disabled in Nova"/>
            </instance_attributes></node>
            <node id="cmp2" uname="cmp2" type="remote"><instance_attributes id="a2">
              <nvpair id="a2-r" name="spare" value="no"/>
              <nvpair id="a2-m" name="umha-maintenance" value="1700000000 evacuated"/>
              <nvpair id="a2-s" name="rack" value=" "/>
            </instance_attributes></node>
          </nodes><resources/><constraints/></configuration><status/></cib>"#;
        let cib = Cib::parse(xml).unwrap();
        let policy = Policy {
            segment_attribute: "rack".into(),
            reserved_attribute: "spare".into(),
            ..Policy::default()
        };
        let cmp1 = NodeRecovery::from_node(cib.node("cmp1").unwrap(), &policy);
        assert_eq!(cmp1.segment.as_deref(), Some("az1"));
        assert!(cmp1.reserved);
        assert!(cmp1.reserve_kept.is_some() && cmp1.maintenance.is_none());
        let cmp2 = NodeRecovery::from_node(cib.node("cmp2").unwrap(), &policy);
        assert_eq!(cmp2.segment, None, "blank is the default segment");
        assert!(!cmp2.reserved);
        assert_eq!(cmp2.maintenance.as_deref(), Some("1700000000 evacuated"));
    }

    #[test]
    fn reserved_hosts_of_the_same_segment_only() {
        let failed = node("cmp1", Some("az1"), false);
        let mut gone = node("cmp5", Some("az1"), true);
        gone.online = false;
        let mut kept = node("cmp6", Some("az1"), true);
        kept.recovery.maintenance = Some("1 repair".into());
        let nodes = [
            failed.clone(),
            node("cmp4", Some("az1"), true),
            node("cmp3", Some("az1"), true),
            node("cmp2", Some("az2"), true),
            node("cmp7", None, true),
            node("cmp8", Some("az1"), false),
            gone,
            kept,
        ];
        let found: Vec<(&str, Option<&str>)> = reserved_hosts(&nodes, &failed)
            .into_iter()
            .map(|(n, why)| (n.name.as_str(), why))
            .collect();
        assert_eq!(
            found,
            [
                ("cmp3", None),
                ("cmp4", None),
                ("cmp5", Some("not online in Pacemaker")),
                ("cmp6", Some("under maintenance")),
            ]
        );
        let default = node("cmp9", None, false);
        let found = reserved_hosts(&nodes, &default);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0.name, "cmp7");
    }

    fn res(vcpu: u64, mem: u64, disk: u64) -> Option<Resources> {
        Some(
            [("VCPU", vcpu), ("MEMORY_MB", mem), ("DISK_GB", disk)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }

    fn offer(node: &str, vcpu: u64, mem: u64, disk: u64) -> Offer {
        let inventories = [("VCPU", vcpu), ("MEMORY_MB", mem), ("DISK_GB", disk)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), openstack::Inventory::new(v)))
            .collect();
        Offer {
            node: node.into(),
            host: format!("{node}.nova"),
            room: Room::new(&inventories, &BTreeMap::new()),
        }
    }

    fn need(id: &str, r: Option<Resources>) -> Need {
        Need {
            id: id.into(),
            name: format!("vm-{id}"),
            resources: r,
        }
    }

    #[test]
    fn first_fit_largest_first_then_the_next_host() {
        let needs = [
            need("a", res(1, 64, 1)),
            need("b", res(2, 512, 10)),
            need("c", res(1, 64, 1)),
            need("d", res(1, 256, 1)),
            need("e", None),
        ];
        // cmp3: 600 MB → b (512) then one 64; cmp4 takes d and the other 64.
        let mut offers = [offer("cmp3", 8, 600, 100), offer("cmp4", 8, 400, 100)];
        let placed = place(&needs, &mut offers);
        assert_eq!(placed.assigned["b"], "cmp3.nova");
        assert_eq!(placed.assigned["a"], "cmp3.nova");
        assert_eq!(placed.assigned["d"], "cmp4.nova");
        assert_eq!(placed.assigned["c"], "cmp4.nova");
        assert!(placed.unplaced["e"].contains("size is unknown"));
        assert_eq!(offers[0].room.free("MEMORY_MB"), 24);
        assert_eq!(offers[1].room.free("MEMORY_MB"), 80);
        assert_eq!(placed.hosts().len(), 2);
    }

    #[test]
    fn what_does_not_fit_is_named_with_each_host_s_shortfall() {
        let needs = [need("a", res(1, 64, 1)), need("b", res(1, 64, 1))];
        let mut offers = [offer("cmp3", 1, 1000, 100), offer("cmp4", 8, 10, 100)];
        let placed = place(&needs, &mut offers);
        assert_eq!(placed.assigned.len(), 1);
        let why = placed.unplaced.values().next().unwrap();
        assert_eq!(
            why,
            "no reserved host has room (cmp3: VCPU needs 1, 0 free; cmp4: MEMORY_MB needs 64, 10 free)"
        );
        let placed = place(&needs, &mut []);
        assert_eq!(placed.unplaced.len(), 2);
        assert!(placed.unplaced["a"].contains("no reserved host can take"));
    }

    #[test]
    fn the_reserve_is_kept_from_the_cib_alone() {
        let mut fresh = node("cmp3", Some("az1"), true);
        let mut kept = node("cmp4", Some("az1"), true);
        kept.recovery.reserve_kept = Some("1 disabled".into());
        let mut released = node("cmp5", Some("az2"), false);
        released.recovery.reserve_kept = Some("1 disabled".into());
        let plain = node("cmp6", Some("az1"), false);
        let nodes = vec![fresh.clone(), kept.clone(), released.clone(), plain.clone()];
        assert_eq!(
            reserve_actions(&nodes),
            [
                ReserveAction::Keep("cmp3".into()),
                ReserveAction::Release("cmp5".into())
            ]
        );
        // An open evacuation in az1 holds az1's reserve, not az2's.
        let mut failing = node("cmp1", Some("az1"), false);
        failing.marker = Some("17".into());
        let nodes = vec![fresh.clone(), released.clone(), failing.clone()];
        assert_eq!(
            reserve_actions(&nodes),
            [ReserveAction::Release("cmp5".into())]
        );
        // A host unflagged in the busy segment is given back all the same.
        let mut unflagged = released.clone();
        unflagged.name = "cmp7".into();
        unflagged.recovery.segment = Some("az1".into());
        assert_eq!(
            reserve_actions(&[unflagged, failing.clone()]),
            [ReserveAction::Release("cmp7".into())]
        );
        // ... unless it failed (the operator decides; that may take days).
        failing.record = Some(NodeRecord {
            phase: Phase::Failed,
            fence: 17,
        });
        let nodes = vec![fresh.clone(), failing];
        assert_eq!(reserve_actions(&nodes).len(), 1);
        // Never for an offline node.
        fresh.online = false;
        released.recovery.maintenance = Some("1 x".into());
        assert!(reserve_actions(&[fresh, released]).is_empty());
    }
}
