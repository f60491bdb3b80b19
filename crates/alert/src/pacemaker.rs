//! What Pacemaker hands an alert agent (`CRM_alert_*` in the environment;
//! Pacemaker Explained, "Alert agents"), as an [`Event`], and which ones
//! are worth a mail.

use crate::spool::{Event, Severity};

/// The alert kinds that mail by default: fencing and node membership are
/// what umha's operators watch; resource and attribute events are many
/// and mostly routine.
pub const DEFAULT_KINDS: &[&str] = &["fencing", "node"];

/// The event for one invocation, or `None` when it is not to be mailed.
/// `get` reads the environment; `kinds` are the alert kinds to mail
/// (`umha_alert_kinds`), and resource events mail only on failure.
pub fn event(get: &dyn Fn(&str) -> Option<String>, kinds: &[String], now: i64) -> Option<Event> {
    let var = |name: &str| get(&format!("CRM_alert_{name}")).filter(|v| !v.is_empty());
    let kind = var("kind")?;
    if !kinds.iter().any(|k| k == &kind) {
        return None;
    }
    let node = var("node");
    let desc = var("desc").unwrap_or_default();
    let rc = var("rc").and_then(|r| r.parse::<i32>().ok());
    let (severity, text) = match kind.as_str() {
        "fencing" => {
            let ok = rc == Some(0);
            (
                if ok {
                    Severity::Warning
                } else {
                    Severity::Critical
                },
                format!(
                    "fencing {}: {desc}",
                    if ok { "succeeded" } else { "FAILED" }
                ),
            )
        }
        "node" => {
            let lost = matches!(desc.as_str(), "lost" | "member-lost" | "offline");
            (
                if lost {
                    Severity::Critical
                } else {
                    Severity::Info
                },
                format!("node is {desc}"),
            )
        }
        "resource" => {
            let target = var("target_rc").and_then(|r| r.parse::<i32>().ok());
            if rc == target || rc.is_none() {
                return None;
            }
            (
                Severity::Warning,
                format!(
                    "{} {} of {}: {desc}",
                    var("task").unwrap_or_default(),
                    var("status").map(|s| format!("({s})")).unwrap_or_default(),
                    var("rsc").unwrap_or_default()
                ),
            )
        }
        _ => (Severity::Info, format!("{kind}: {desc}")),
    };
    let time = var("timestamp_epoch")
        .and_then(|t| t.parse().ok())
        .unwrap_or(now);
    Some(Event {
        time,
        source: "pacemaker".to_owned(),
        kind,
        node,
        severity,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn with(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (format!("CRM_alert_{k}"), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn kinds() -> Vec<String> {
        DEFAULT_KINDS.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn fencing_and_nodes_mail_resources_only_on_failure() {
        let e = event(
            &with(&[
                ("kind", "fencing"),
                ("node", "cmp1"),
                ("rc", "0"),
                ("desc", "Operation reboot of cmp1 by ctl1: OK"),
                ("timestamp_epoch", "77"),
            ]),
            &kinds(),
            5,
        )
        .unwrap();
        assert_eq!((e.time, e.severity), (77, Severity::Warning));
        assert!(e.text.contains("succeeded"));
        let e = event(
            &with(&[("kind", "fencing"), ("rc", "1"), ("desc", "x")]),
            &kinds(),
            5,
        )
        .unwrap();
        assert_eq!((e.time, e.severity), (5, Severity::Critical));
        assert!(event(&with(&[("kind", "attribute")]), &kinds(), 5).is_none());
        assert!(event(&with(&[]), &kinds(), 5).is_none());
        let all = vec!["resource".to_owned()];
        assert!(
            event(
                &with(&[("kind", "resource"), ("rc", "0"), ("target_rc", "0")]),
                &all,
                5
            )
            .is_none()
        );
        assert!(
            event(
                &with(&[
                    ("kind", "resource"),
                    ("rc", "1"),
                    ("target_rc", "0"),
                    ("rsc", "r")
                ]),
                &all,
                5
            )
            .is_some()
        );
    }
}
