//! What the evacuator keeps in the CIB, so that any instance of the agent,
//! on any controller, continues where another one stopped.
//!
//! Per compute node, persistent node attributes (nodes section, kept across
//! reboots and controller failover):
//! - the **marker** (`umha-evacuate` = fence epoch): an evacuation is owed.
//!   Written by a umha fence agent with `evacuate=1` after a verified off,
//!   or by the evacuator when the fence history proves the fence. While it
//!   is set, the crm snippets' location rule keeps nova-compute off the node,
//!   so a returning node cannot restart instances that are being rebuilt
//!   elsewhere. Cleared only when every instance is settled;
//! - `umha-evac-handled` = the fence epoch of the last incident closed, so a
//!   marker or fence at or before it is never acted on twice;
//! - `umha-evac-state` = `<phase> <fence epoch>`: where the incident stands;
//! - `umha-evac-status`: one line for operators (`crm_mon -A` shows it);
//! - for recovery methods ([`crate::recovery`]): the segment and reserved
//!   flags the operator sets, `umha-reserved-disabled` while the evacuator
//!   keeps a reserved host idle, and `umha-maintenance` after an incident
//!   with `on_recovery=manual` (unset: in reserved-host segments).
//!
//! Cluster-wide, in the `umha-valve` cluster property set: `umha-hold`,
//! the valve's hold, which the operator deletes to release it.

use std::fmt;
use std::str::FromStr;

pub const HANDLED: &str = "umha-evac-handled";
pub const STATE: &str = "umha-evac-state";
pub const STATUS: &str = "umha-evac-status";
pub const HOLD: &str = "umha-hold";
/// Not `umha-evacuator`: CIB ids are unique across the whole CIB, and that is
/// the name operators (and the crm-snippets) give the evacuator's primitive.
/// A property set of the same id made the hold impossible to set, and a
/// configuration with such a primitive impossible to load once a hold had
/// been set.
pub const HOLD_SET: &str = "umha-valve";

/// Where one node's incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Stopped by the valve; waits for the operator to release the hold.
    Held,
    /// Instances are being evacuated.
    Evacuating,
    /// Every instance is settled and the marker cleared; waiting for
    /// nova-compute to come back to re-enable the service.
    Restoring,
    /// Closed.
    Done,
    /// Some instance could not be evacuated; the marker stays and the
    /// operator decides.
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Held => "held",
            Phase::Evacuating => "evacuating",
            Phase::Restoring => "restoring",
            Phase::Done => "done",
            Phase::Failed => "failed",
        }
    }
}

impl FromStr for Phase {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "held" => Phase::Held,
            "evacuating" => Phase::Evacuating,
            "restoring" => Phase::Restoring,
            "done" => Phase::Done,
            "failed" => Phase::Failed,
            _ => return Err(()),
        })
    }
}

/// `umha-evac-state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeRecord {
    pub phase: Phase,
    pub fence: i64,
}

impl NodeRecord {
    /// `None` for anything unreadable: an unreadable record is treated as
    /// absent, which at worst re-runs the valve for an open incident.
    pub fn parse(text: &str) -> Option<Self> {
        let (phase, fence) = text.trim().split_once(' ')?;
        Some(Self {
            phase: phase.parse().ok()?,
            fence: parse_epoch(fence)?,
        })
    }
}

impl fmt::Display for NodeRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.phase.as_str(), self.fence)
    }
}

/// An epoch as the fence agents and the evacuator write it: whole seconds,
/// positive. Anything else is not a time.
pub fn parse_epoch(text: &str) -> Option<i64> {
    text.trim().parse::<i64>().ok().filter(|t| *t > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for phase in [
            Phase::Held,
            Phase::Evacuating,
            Phase::Restoring,
            Phase::Done,
            Phase::Failed,
        ] {
            let r = NodeRecord {
                phase,
                fence: 1_795_318_563,
            };
            assert_eq!(NodeRecord::parse(&r.to_string()), Some(r));
        }
        assert_eq!(NodeRecord::parse("evacuating"), None);
        assert_eq!(NodeRecord::parse("bogus 12"), None);
        assert_eq!(NodeRecord::parse("done -1"), None);
        assert_eq!(parse_epoch(" 17 "), Some(17));
        assert_eq!(parse_epoch("0"), None);
    }
}
