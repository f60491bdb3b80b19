//! Meta attributes: what Pacemaker says about the operation itself.
//!
//! They arrive as `OCF_RESKEY_CRM_meta_*`. Pacemaker always sets them, but an
//! administrator running an agent by hand may not, or may set nonsense; a bad
//! meta attribute is therefore logged and treated as absent rather than
//! failing the action.

use std::time::Duration;

use umha_common::Deadline;

use crate::Env;
use crate::value::{parse_boolean, parse_integer, parse_list};

/// The meta attributes umha agents use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Meta {
    /// The monitor interval; `Some(0)` on a monitor means a probe.
    pub interval: Option<Duration>,
    /// How long Pacemaker waits before it kills the agent.
    pub timeout: Option<Duration>,
    /// The node the action runs for (the only trustworthy node name).
    pub on_node: Option<String>,
    pub on_node_uuid: Option<String>,
    /// This clone instance's number.
    pub clone: Option<u32>,
    pub clone_max: Option<u32>,
    pub clone_node_max: Option<u32>,
    pub globally_unique: Option<bool>,
    /// Whether the clone wants notify actions.
    pub notify: Option<bool>,
    pub promotable: Option<bool>,
    /// The nodes of a live migration (migrate_to/migrate_from).
    pub migrate_source: Option<String>,
    pub migrate_target: Option<String>,
    /// Meta attributes that were set but could not be read, for the log.
    pub problems: Vec<String>,
}

impl Meta {
    pub fn from_env(env: &Env) -> Meta {
        let mut problems = Vec::new();
        let mut millis = |name: &str| {
            let text = env.meta(name)?;
            match parse_integer(&text).and_then(|n| u64::try_from(n).ok()) {
                Some(ms) => Some(Duration::from_millis(ms)),
                None => {
                    problems.push(format!(
                        "ignoring meta attribute {name}='{text}': not a number of milliseconds"
                    ));
                    None
                }
            }
        };
        let interval = millis("interval");
        let timeout = millis("timeout");
        let mut count = |name: &str| {
            let text = env.meta(name)?;
            let n = parse_integer(&text).and_then(|n| u32::try_from(n).ok());
            if n.is_none() {
                problems.push(format!(
                    "ignoring meta attribute {name}='{text}': not a count"
                ));
            }
            n
        };
        let clone = count("clone");
        let clone_max = count("clone_max");
        let clone_node_max = count("clone_node_max");
        let mut flag = |name: &str| {
            let text = env.meta(name)?;
            let b = parse_boolean(&text);
            if b.is_none() {
                problems.push(format!(
                    "ignoring meta attribute {name}='{text}': not a boolean"
                ));
            }
            b
        };
        let globally_unique = flag("globally_unique");
        let notify = flag("notify");
        let promotable = flag("promotable");
        Meta {
            interval,
            timeout,
            on_node: env.meta("on_node").map(|s| s.trim().to_owned()),
            on_node_uuid: env.meta("on_node_uuid"),
            clone,
            clone_max,
            clone_node_max,
            globally_unique,
            notify,
            promotable,
            migrate_source: env.meta("migrate_source").map(|s| s.trim().to_owned()),
            migrate_target: env.meta("migrate_target").map(|s| s.trim().to_owned()),
            problems,
        }
    }

    /// Whether a monitor with these attributes is a probe, as `ocf_is_probe`
    /// decides it: interval set and zero.
    pub fn is_probe_interval(&self) -> bool {
        self.interval == Some(Duration::ZERO)
    }
}

/// The time an agent gives itself for an operation with this `timeout`.
///
/// Pacemaker kills an agent at its timeout and records a timeout failure,
/// with no reason and, for a stop, a fence. An agent that stops a little
/// earlier can still clean up, log and say why. The margin is a tenth of the
/// timeout, between 200 ms and 5 s, and never more than half the timeout.
pub fn budget(timeout: Duration) -> Duration {
    let margin = (timeout / 10)
        .clamp(Duration::from_millis(200), Duration::from_secs(5))
        .min(timeout / 2);
    timeout.saturating_sub(margin)
}

/// The deadline of an operation: the meta timeout if Pacemaker gave one,
/// else the agent's advertised default, less the safety margin of [`budget`].
pub fn deadline(meta_timeout: Option<Duration>, advertised: Duration) -> Deadline {
    Deadline::after(budget(meta_timeout.unwrap_or(advertised)))
}

/// Before or after the operation a notify action reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyPhase {
    Pre,
    Post,
}

/// A clone notification (`OCF_RESKEY_CRM_meta_notify_*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Notification {
    /// `None` when Pacemaker did not say (e.g. a notify run by hand).
    pub phase: Option<NotifyPhase>,
    /// The operation: start, stop, promote or demote.
    pub operation: Option<String>,
    /// Node names of the instances being started, stopped, ... (`notify_<set>_uname`).
    pub start: Vec<String>,
    pub stop: Vec<String>,
    pub active: Vec<String>,
    pub inactive: Vec<String>,
    pub promote: Vec<String>,
    pub demote: Vec<String>,
    pub all: Vec<String>,
}

impl Notification {
    pub fn from_env(env: &Env) -> Notification {
        let unames = |set: &str| {
            env.meta(&format!("notify_{set}_uname"))
                .map(|v| parse_list(&v))
                .unwrap_or_default()
        };
        Notification {
            phase: match env.meta("notify_type").as_deref().map(str::trim) {
                Some("pre") => Some(NotifyPhase::Pre),
                Some("post") => Some(NotifyPhase::Post),
                _ => None,
            },
            operation: env.meta("notify_operation").map(|s| s.trim().to_owned()),
            start: unames("start"),
            stop: unames("stop"),
            active: unames("active"),
            inactive: unames("inactive"),
            promote: unames("promote"),
            demote: unames("demote"),
            all: unames("all"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta_env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| (format!("OCF_RESKEY_CRM_meta_{k}"), v.to_string())),
        )
    }

    #[test]
    fn reads_pacemaker_meta_attributes() {
        let m = Meta::from_env(&meta_env(&[
            ("interval", "10000"),
            ("timeout", "20000"),
            ("on_node", "cmp1"),
            ("clone", "2"),
            ("clone_max", "3"),
            ("globally_unique", "false"),
            ("notify", "true"),
        ]));
        assert_eq!(m.interval, Some(Duration::from_secs(10)));
        assert_eq!(m.timeout, Some(Duration::from_secs(20)));
        assert_eq!(m.on_node.as_deref(), Some("cmp1"));
        assert_eq!((m.clone, m.clone_max), (Some(2), Some(3)));
        assert_eq!(m.globally_unique, Some(false));
        assert_eq!(m.notify, Some(true));
        assert!(!m.is_probe_interval());
        assert!(m.problems.is_empty());
    }

    #[test]
    fn probe_needs_an_explicit_zero_interval() {
        assert!(Meta::from_env(&meta_env(&[("interval", "0")])).is_probe_interval());
        assert!(!Meta::from_env(&meta_env(&[])).is_probe_interval());
    }

    #[test]
    fn nonsense_is_ignored_and_reported() {
        let m = Meta::from_env(&meta_env(&[
            ("interval", "soon"),
            ("timeout", "-5"),
            ("clone", "x"),
        ]));
        assert_eq!(m.interval, None);
        assert_eq!(m.timeout, None);
        assert_eq!(m.clone, None);
        assert_eq!(m.problems.len(), 3, "{:?}", m.problems);
    }

    #[test]
    fn budget_leaves_a_margin_below_the_timeout() {
        let s = Duration::from_secs;
        assert_eq!(budget(s(20)), s(18));
        assert_eq!(budget(s(120)), s(115));
        assert_eq!(budget(s(1)), Duration::from_millis(800));
        assert_eq!(
            budget(Duration::from_millis(300)),
            Duration::from_millis(150)
        );
        assert_eq!(budget(Duration::ZERO), Duration::ZERO);
        let d = deadline(Some(s(20)), s(60));
        let left = d.remaining().unwrap_or_default();
        assert!(left <= s(18) && left > s(17), "{left:?}");
    }

    #[test]
    fn notifications() {
        let n = Notification::from_env(&meta_env(&[
            ("notify_type", "pre"),
            ("notify_operation", "start"),
            ("notify_start_uname", "cmp1 cmp2 "),
            ("notify_active_uname", ""),
        ]));
        assert_eq!(n.phase, Some(NotifyPhase::Pre));
        assert_eq!(n.operation.as_deref(), Some("start"));
        assert_eq!(n.start, ["cmp1", "cmp2"]);
        assert!(n.active.is_empty());
        assert_eq!(Notification::from_env(&meta_env(&[])).phase, None);
    }
}
