//! Nodes as Pacemaker sees them: kind, derived state, raw status facts and
//! attributes.

use crate::history::Role;
use crate::time::UnixTime;

/// What kind of node this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NodeKind {
    /// A full cluster member running corosync and the whole Pacemaker stack.
    Cluster,
    /// A Pacemaker Remote node reached through an `ocf:pacemaker:remote`
    /// connection resource (umha's compute nodes).
    Remote,
    /// A Pacemaker Remote node inside a resource (a VM or container), made by
    /// the `remote-node` meta-attribute.
    Guest,
    /// A deprecated `type="ping"` node: a quorum member that never runs resources.
    Ping,
}

/// Pacemaker's summary of a node, in the precedence its status display uses
/// (`node_text_status`): unclean first, then pending, then online.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NodeState {
    /// Up and able to run resources (it may still be in standby or maintenance:
    /// see [`NodeFlags`]).
    Online,
    /// A cluster node that is a member but has not finished joining the
    /// controller group yet.
    Pending,
    /// Down, and Pacemaker knows it is safely down (cleanly stopped, or fenced).
    Offline,
    /// Pacemaker does not know the node is safely down and wants to fence it
    /// (lost unexpectedly, a lost remote connection not yet fenced, never seen
    /// since start-up with `startup-fencing`). [`NodeFlags::online`] tells
    /// crm_mon's "UNCLEAN (online)" from "UNCLEAN (offline)".
    Unclean,
}

impl NodeState {
    pub fn is_online(self) -> bool {
        self == NodeState::Online
    }
}

/// Pacemaker's per-node flags, the ones `crm_mon --output-as=xml` prints
/// (`pe_node_t.details`). Kept verbatim so they compare with crm_mon.
///
/// Note Pacemaker's own quirks, kept on purpose: a pending node also has
/// `standby` set, and an unclean cluster node still in the membership has
/// `online` set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NodeFlags {
    pub online: bool,
    pub standby: bool,
    pub standby_onfail: bool,
    pub maintenance: bool,
    pub pending: bool,
    pub unclean: bool,
    pub shutdown: bool,
    pub expected_up: bool,
    pub is_dc: bool,
}

impl NodeFlags {
    pub fn state(&self) -> NodeState {
        if self.unclean {
            NodeState::Unclean
        } else if self.pending {
            NodeState::Pending
        } else if self.online {
            NodeState::Online
        } else {
            NodeState::Offline
        }
    }
}

/// A membership fact as recorded in `node_state` (`in_ccm`, `crmd`).
///
/// Pacemaker before 2.1.7 records booleans (`true`/`false`,
/// `online`/`offline`); 2.1.7 and later record since when (an epoch) or `0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Membership {
    No,
    /// Yes, since an unknown time (the older boolean form).
    Yes,
    /// Yes, since this time.
    Since(UnixTime),
}

impl Membership {
    pub fn is_yes(self) -> bool {
        !matches!(self, Membership::No)
    }

    /// `in_ccm` as Pacemaker 2.1.7+ reads it (`unpack_node_member`); `None`
    /// for a value it does not recognise (treated like a missing one).
    pub(crate) fn parse_in_ccm(value: &str) -> Option<Self> {
        if let Some(b) = crate::xml::parse_bool(value) {
            return Some(if b { Membership::Yes } else { Membership::No });
        }
        let n = parse_whole_number(value)?;
        Some(if n == 0 {
            Membership::No
        } else {
            Membership::Since(UnixTime::from_secs(n))
        })
    }

    /// `crmd` as Pacemaker reads it (`unpack_node_online`): `online`,
    /// `offline`, or an epoch; anything else counts as offline.
    pub(crate) fn parse_crmd(value: &str) -> Self {
        if value.eq_ignore_ascii_case("online") {
            Membership::Yes
        } else if value.eq_ignore_ascii_case("offline") {
            Membership::No
        } else {
            match parse_whole_number(value) {
                Some(n) if n > 0 => Membership::Since(UnixTime::from_secs(n)),
                _ => Membership::No,
            }
        }
    }
}

fn parse_whole_number(value: &str) -> Option<i64> {
    crate::xml::leading_int(value).filter(|n| *n >= 0)
}

/// The raw facts of a node's `<node_state>` entry in the status section,
/// unchanged apart from parsing. Pacemaker derives node state from them (and
/// more); they are here for callers that need the evidence itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeStatus {
    /// `in_ccm`: cluster-layer (corosync) membership. Written for remote nodes
    /// too, but Pacemaker ignores it there.
    pub in_ccm: Option<Membership>,
    /// `crmd`: controller process-group membership (cluster nodes only).
    pub crmd: Option<Membership>,
    /// `join`: controller join state (`member`, `down`, `pending`, `banned`...).
    pub join: Option<String>,
    /// `expected`: the state the DC expects (`member` or `down`).
    pub expected: Option<String>,
    /// `node_fenced` for remote nodes: when the controller recorded a
    /// successful fencing of the node; `None` when absent or `0` (Pacemaker
    /// resets it to 0 when the node's connection comes back).
    pub node_fenced: Option<UnixTime>,
    /// `remote_node="true"`.
    pub remote_node: bool,
}

/// A remote or guest node's connection resource, and what its operation
/// history says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The connection resource's id (for remote nodes, also the node name).
    pub resource: String,
    /// Address the cluster connects to: `server` (remote nodes) or
    /// `remote-addr` (guests), defaulting to the node name.
    pub server: String,
    /// `port` / `remote-port`, default 3121.
    pub port: u16,
    /// `reconnect_interval` as configured (remote nodes only).
    pub reconnect_interval: Option<String>,
    /// For a guest node: the resource (VM) it lives in.
    pub container: Option<String>,
    /// Whether Pacemaker manages the connection (`is-managed`, maintenance).
    pub managed: bool,
    /// Role replayed from the connection's operation history on cluster nodes.
    pub role: Role,
    /// The history ends in a failure Pacemaker still holds against it.
    pub failed: bool,
    /// Cluster nodes on which the history says the connection is active.
    pub running_on: Vec<String>,
    /// When the latest failed operation of the connection was recorded
    /// (`last-rc-change`; "Lost connection to remote executor" when the node
    /// dies). It stays until the failure is cleaned up, so it may belong to
    /// an earlier incident: a caller timing a new failure should take the
    /// later of this and its own observation.
    pub last_failure: Option<UnixTime>,
}

/// One node, with Pacemaker's derived view and the facts behind it.
#[derive(Debug, Clone)]
pub struct Node {
    /// The node name (`uname`; the id when a node entry has no uname).
    pub name: String,
    /// The node id: corosync's node id for cluster nodes, the name for remote nodes.
    pub id: String,
    pub kind: NodeKind,
    /// Summary of [`Node::flags`].
    pub state: NodeState,
    pub flags: NodeFlags,
    /// The `<node_state>` facts; `None` when the status section has no entry
    /// for this node (never seen since the CIB was created or wiped).
    pub status: Option<NodeStatus>,
    /// Remote and guest nodes' connection (absent for a remote node entry
    /// whose resource was removed: Pacemaker then treats it as offline).
    pub connection: Option<Connection>,
    pub(crate) persistent: Vec<(String, String)>,
    pub(crate) transient: Vec<(String, String)>,
}

impl Node {
    /// A node attribute as Pacemaker resolves it: the transient value
    /// (status section) when set, else the persistent one (nodes section).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.transient_attribute(name)
            .or_else(|| self.persistent_attribute(name))
    }

    /// A transient attribute (`attrd_updater`, lifetime "reboot").
    pub fn transient_attribute(&self, name: &str) -> Option<&str> {
        crate::xml::last_value(&self.transient, name)
    }

    /// A persistent attribute (`crm_attribute -l forever`).
    pub fn persistent_attribute(&self, name: &str) -> Option<&str> {
        crate::xml::first_value(&self.persistent, name)
    }

    /// Transient attributes in document order (later entries win on duplicates).
    pub fn transient_attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.transient.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Persistent attributes in the order Pacemaker applies them (earlier win).
    pub fn persistent_attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.persistent
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn is_remote(&self) -> bool {
        matches!(self.kind, NodeKind::Remote | NodeKind::Guest)
    }

    /// When the controller recorded this remote node as fenced (`node_fenced`).
    ///
    /// This is evidence written by the DC after a successful fence, and is
    /// cleared when the node reconnects; it is not the fencer's own record,
    /// which is [`crate::FenceHistory`].
    pub fn fenced_at(&self) -> Option<UnixTime> {
        self.status.as_ref().and_then(|s| s.node_fenced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_ccm_forms() {
        assert_eq!(Membership::parse_in_ccm("true"), Some(Membership::Yes));
        assert_eq!(Membership::parse_in_ccm("false"), Some(Membership::No));
        assert_eq!(Membership::parse_in_ccm("0"), Some(Membership::No));
        assert_eq!(
            Membership::parse_in_ccm("1795318154"),
            Some(Membership::Since(UnixTime::from_secs(1_795_318_154)))
        );
        assert_eq!(Membership::parse_in_ccm("-5"), None);
        assert_eq!(Membership::parse_in_ccm("maybe"), None);
    }

    #[test]
    fn crmd_forms() {
        assert_eq!(Membership::parse_crmd("online"), Membership::Yes);
        assert_eq!(Membership::parse_crmd("offline"), Membership::No);
        assert_eq!(Membership::parse_crmd("0"), Membership::No);
        assert_eq!(
            Membership::parse_crmd("1795318154"),
            Membership::Since(UnixTime::from_secs(1_795_318_154))
        );
        assert_eq!(Membership::parse_crmd("garbage"), Membership::No);
    }

    #[test]
    fn state_precedence() {
        let f = NodeFlags {
            online: true,
            unclean: true,
            pending: true,
            ..NodeFlags::default()
        };
        assert_eq!(f.state(), NodeState::Unclean);
        let f = NodeFlags {
            online: true,
            pending: true,
            standby: true,
            ..NodeFlags::default()
        };
        assert_eq!(f.state(), NodeState::Pending);
        assert_eq!(NodeFlags::default().state(), NodeState::Offline);
    }
}
