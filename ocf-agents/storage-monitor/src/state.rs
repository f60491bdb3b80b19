//! What one node remembers between monitors, in its state file under `HA_RSCTMP`.
//!
//! The file exists while the resource is started on this node (and vanishes
//! at reboot with `/run`). Besides "started", it holds the last verdict, to
//! log only changes, and the attribute values attrd last accepted, to write
//! only changes. It is keyed by node name (agent-core's [`StateFile`]), since
//! an anonymous clone has the same resource name on every node.
//!
//! Anything unreadable in it is ignored rather than fatal: the worst a lost
//! line costs is one extra attribute write.
//!
//! [`StateFile`]: agent_core::StateFile

use std::time::{SystemTime, UNIX_EPOCH};

use crate::attributes::Values;
use crate::verdict::{Health, Summary};

const MAGIC: &str = "storage-monitor-state 1";

/// One node's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeState {
    /// When start ran, in seconds since the epoch.
    pub started: u64,
    /// When every attribute was last written unconditionally.
    pub republished: u64,
    /// `None` until a check has completed.
    pub last: Option<Summary>,
    /// Consecutive red checks up to and including the last one (0 when it
    /// was not red); published as `<name>-red-count`.
    pub red_checks: u64,
    /// Values attrd has accepted.
    pub published: Values,
}

impl NodeState {
    pub fn started_now() -> NodeState {
        NodeState {
            started: now(),
            ..NodeState::default()
        }
    }

    pub fn render(&self) -> String {
        let mut out = format!(
            "{MAGIC}\nstarted={}\nrepublished={}\n",
            self.started, self.republished
        );
        if let Some(s) = &self.last {
            out.push_str(&format!(
                "health={}\nscore={}\ndetail={}\n",
                s.health,
                s.score,
                one_line(&s.detail)
            ));
        }
        if self.red_checks > 0 {
            out.push_str(&format!("red_checks={}\n", self.red_checks));
        }
        for (name, value) in &self.published {
            out.push_str(&format!("attr {} {}\n", one_line(name), one_line(value)));
        }
        out
    }

    /// Never fails: whatever cannot be read is left at its default.
    pub fn parse(text: &str) -> NodeState {
        let mut state = NodeState::default();
        let (mut health, mut score, mut detail) = (None, None, None);
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("attr ") {
                if let Some((name, value)) = rest.split_once(' ')
                    && !name.is_empty()
                {
                    state.published.insert(name.to_owned(), value.to_owned());
                }
                continue;
            }
            match line.split_once('=') {
                Some(("started", v)) => state.started = v.parse().unwrap_or(0),
                Some(("republished", v)) => state.republished = v.parse().unwrap_or(0),
                Some(("health", v)) => health = Health::parse(v),
                Some(("score", v)) => score = v.parse().ok(),
                Some(("detail", v)) => detail = Some(v.to_owned()),
                Some(("red_checks", v)) => state.red_checks = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        if let (Some(health), Some(score), Some(detail)) = (health, score, detail) {
            state.last = Some(Summary {
                health,
                score,
                detail,
            });
        }
        state
    }
}

/// Seconds since the epoch (0 if the clock is before it).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> NodeState {
        let mut published = Values::new();
        published.insert("umha-storage".into(), "1000".into());
        published.insert("#health-umha-storage".into(), "yellow".into());
        published.insert(
            "umha-storage-detail".into(),
            "127.0.0.1=ok,::1=lost 4/4".into(),
        );
        NodeState {
            started: 1_700_000_000,
            republished: 1_700_000_100,
            last: Some(Summary {
                health: Health::Yellow,
                score: 1000,
                detail: "127.0.0.1=ok,::1=lost 4/4".into(),
            }),
            red_checks: 0,
            published,
        }
    }

    #[test]
    fn round_trip() {
        let s = sample();
        let text = s.render();
        assert!(
            text.starts_with("storage-monitor-state 1\nstarted=1700000000\n"),
            "{text}"
        );
        assert!(
            text.contains("attr umha-storage-detail 127.0.0.1=ok,::1=lost 4/4\n"),
            "{text}"
        );
        assert_eq!(NodeState::parse(&text), s);
        let fresh = NodeState::started_now();
        assert_eq!(NodeState::parse(&fresh.render()), fresh);
        let red = NodeState { red_checks: 7, ..s };
        assert!(red.render().contains("\nred_checks=7\n"));
        assert_eq!(NodeState::parse(&red.render()), red);
    }

    #[test]
    fn garbage_is_ignored() {
        let s =
            NodeState::parse("junk\nstarted=soon\nattr lonely\nhealth=blue\nscore=1\ndetail=x\n");
        assert_eq!(s, NodeState::default());
        // An empty value is a value.
        let s = NodeState::parse("attr name \n");
        assert_eq!(s.published.get("name").map(String::as_str), Some(""));
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = NodeState::parse(&text);
        }

        #[test]
        fn published_values_round_trip(name in "[#a-z0-9._-]{1,20}", value in "[^\r\n]{0,40}") {
            let mut s = NodeState::default();
            s.published.insert(name, value);
            prop_assert_eq!(NodeState::parse(&s.render()), s);
        }
    }
}
