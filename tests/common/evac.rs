//! Helpers of the tests that watch the evacuator: its history, its node
//! attributes, and the exactly-once checks on Nova.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::nova::{Nova, evacuate_marker, nova_compute_running};
use crate::{state_dir, wait_for};

/// The evacuator's history in the lab (its `history_file`); a second
/// controller sees the same file (the lab binds /run/umha-lab into it).
pub fn history_file() -> PathBuf {
    state_dir().join("evacuations.jsonl")
}

pub fn history_len() -> usize {
    std::fs::read_to_string(history_file())
        .unwrap_or_default()
        .lines()
        .count()
}

/// History entries after the first `from` lines.
pub fn history_since(from: usize) -> Vec<serde_json::Value> {
    std::fs::read_to_string(history_file())
        .unwrap_or_default()
        .lines()
        .skip(from)
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// How many evacuations the history shows accepted since line `from`.
pub fn evacuations_issued(from: usize) -> usize {
    history_since(from)
        .iter()
        .filter(|e| e["event"] == "evacuate")
        .count()
}

/// A persistent node attribute (`None` when unset or unreadable).
pub fn attr(node: &str, name: &str) -> Option<String> {
    cib::attr::query_persistent(
        node,
        name,
        umha_common::Deadline::after(Duration::from_secs(20)),
    )
    .unwrap_or(None)
}

/// Wait until each of `ids` is ACTIVE on a host other than `source`,
/// checking all along that nova-compute never runs on `source` while its
/// marker is set. Returns how long it took.
pub fn wait_evacuated(nova: &Nova, ids: &[String], source: &str, timeout: Duration) -> Duration {
    let t0 = Instant::now();
    wait_for(
        &format!("{} servers ACTIVE off {source}", ids.len()),
        timeout,
        || {
            if evacuate_marker(source).is_some() {
                assert!(
                    !nova_compute_running(source),
                    "nova-compute runs on {source} while its evacuation marker is set"
                );
            }
            let mut pending = Vec::new();
            for id in ids {
                let s = nova.server(id)?;
                if s.status != "ACTIVE"
                    || s.host.as_deref() == Some(source)
                    || s.task_state.is_some()
                {
                    pending.push(format!("{} {} {:?}", s.name, s.status, s.host));
                }
            }
            if pending.is_empty() {
                Ok(())
            } else {
                Err(format!("{} pending: {}", pending.len(), pending.join(", ")))
            }
        },
    );
    t0.elapsed()
}

/// Every instance has exactly one `evacuate` action.
pub fn assert_once_each(nova: &Nova, ids: &[String]) {
    let counts: BTreeMap<&str, usize> = ids
        .iter()
        .map(|id| (id.as_str(), nova.evacuations(id)))
        .collect();
    assert!(
        counts.values().all(|c| *c == 1),
        "evacuate actions per instance: {counts:?}"
    );
}
