//! Storage-driven recovery: UMHA's own scenario.
//!
//! A compute node that lost its storage is not dead. Pacemaker still sees
//! it online, so nothing fences it, and its VMs sit on disks they can no
//! longer reach. storage-monitor publishes `<attribute>-red-count`, the
//! number of consecutive red checks; when it reaches `storage_error_count`
//! (UMHA's `error_count`) on a node that is still online, the node is
//! **sick** and this module asks Pacemaker to fence it. From there the
//! normal path takes over: the fence is confirmed (the marker written by a
//! umha fence agent with `evacuate=1`, or the fence history) and the
//! instances are evacuated by [`crate::plan`]'s gate, unchanged.
//!
//! **One request per sick episode.** The request time is kept in the
//! persistent node attribute `umha-storage-fence`, written before the
//! request is made, so a restarted or failed-over evacuator does not ask
//! again. It is asked again only when `storage_fence_timeout` passed with no
//! confirmed fence after it and none pending. A node that was fenced after
//! the request and comes back still red is not fenced again: its instances
//! are gone already, and fencing it in a loop fixes nothing; an alert says
//! so. The episode ends (both attributes deleted) when the node is online
//! with its storage score above 0 again.
//!
//! **Never** for an offline node (Pacemaker fences those itself), a node
//! with an open incident (its instances are being handled), without quorum,
//! while the hold is set, with `storage_fencing=false`, or in a dry run
//! (which reports "would fence").
//!
//! **Storage valve.** When many nodes are red at once, the storage system
//! is at fault, not the nodes: fencing them would take every VM down for
//! nothing. Before any request, the nodes that are red now or had a fence
//! requested for their storage within `failure_window` are counted against
//! `max_storage_failed_hosts` / `max_storage_failed_ratio` (UMHA's
//! `storage_number` / `storage_ratio`); a trip fences nothing, sets the hold
//! and raises an alert. As with the failure valve, one node alone never
//! trips the ratio.
//!
//! **Isolated, not dead.** storage-monitor's path check writes
//! `<node>.heartbeat` on the shared storage. With `heartbeat_dir` set (the
//! controllers' mount of the same directory), the heartbeat of a node
//! Pacemaker lost is read (in a child process, so a dead share cannot hang
//! the step). A heartbeat written after the loss and no older than
//! `heartbeat_max_age` means the node still runs and reaches its storage:
//! its status line, the log and the alert say "isolated, not dead". This
//! is reporting only: the gate still needs the fence, exactly as before. A
//! stale or missing heartbeat is never taken as proof of death either (a
//! node stuck on a hung mount writes nothing and may still run its VMs).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use cib::{Cib, FenceHistory, Node};
use storage_monitor::heartbeat::{Checker, Peek};
use umha_common::Deadline;

use crate::plan::{ComputeNode, Event, Plan, Snapshot, Write};
use crate::record;
use crate::valve::{Category, Valve, Verdict};

/// Persistent node attribute: when this evacuator last asked Pacemaker to
/// fence the node for its storage (epoch seconds). Kept until the node's
/// storage is back.
pub const FENCE_REQUEST: &str = "umha-storage-fence";
/// Persistent node attribute: one line on the node's storage episode.
pub const STATUS: &str = "umha-storage-status";
/// storage-monitor's default attribute name.
pub const DEFAULT_ATTRIBUTE: &str = "umha-storage";

/// How long a heartbeat read may take before the share counts as hung.
const HEARTBEAT_READ: Duration = Duration::from_secs(2);

/// A heartbeat written this long after a confirmed fence, by a node that is
/// still offline, is a warning sign (clocks of node and fencer may differ
/// and a write in flight may land late, hence the margin).
const HEARTBEAT_AFTER_FENCE: i64 = 30;

/// What the CIB (and the shared directory) say about one node's storage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeStorage {
    /// storage-monitor's score (`umha-storage`): 0 when red, above 0 when
    /// storage works; `None` when the node publishes none.
    pub score: Option<i64>,
    /// `umha-storage-red-count`: consecutive red checks, only while red.
    pub red_checks: Option<u32>,
    /// [`FENCE_REQUEST`].
    pub fence_requested: Option<i64>,
    /// [`STATUS`].
    pub status: Option<String>,
    /// When the node's storage heartbeat was written (epoch seconds), if it
    /// was read and is no older than `heartbeat_max_age`. Read only for
    /// nodes Pacemaker lost.
    pub heartbeat: Option<i64>,
}

impl NodeStorage {
    /// From a node's attributes, `attribute` being storage-monitor's `name`.
    pub fn from_node(node: &Node, attribute: &str) -> Self {
        let red_name = storage_monitor::attributes::red_count_name(attribute);
        Self {
            score: node
                .transient_attribute(attribute)
                .and_then(|v| v.trim().parse().ok()),
            red_checks: node
                .transient_attribute(&red_name)
                .and_then(|v| v.trim().parse().ok())
                .filter(|c| *c > 0),
            fence_requested: node
                .persistent_attribute(FENCE_REQUEST)
                .and_then(record::parse_epoch),
            status: node
                .persistent_attribute(STATUS)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            heartbeat: None,
        }
    }

    /// Red now: a red streak, or a score of 0.
    pub fn is_red(&self) -> bool {
        self.red_checks.is_some() || self.score == Some(0)
    }

    /// Storage works: a score above 0 and no red streak.
    pub fn is_healthy(&self) -> bool {
        self.score.is_some_and(|s| s > 0) && self.red_checks.is_none()
    }

    /// Nothing here depends on the clock: no request waiting for its
    /// timeout. (Everything else changes only with the CIB.)
    pub fn is_calm(&self) -> bool {
        self.fence_requested.is_none()
    }
}

/// The storage settings (parameters of the agent).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// storage-monitor's attribute name (`storage_attribute`).
    pub attribute: String,
    /// Consecutive red checks that make an online node sick (`storage_error_count`).
    pub error_count: u32,
    /// Ask Pacemaker to fence sick nodes (`storage_fencing`).
    pub fencing: bool,
    /// The fencing operation's timeout, and how long a request waits for a
    /// confirmed fence before it is made again (`storage_fence_timeout`).
    pub fence_timeout: Duration,
    /// The storage valve (`max_storage_failed_hosts`, 0 disables).
    pub max_failed_hosts: u32,
    /// The storage valve (`max_storage_failed_ratio`, 0 disables).
    pub max_failed_ratio: f64,
    /// The shared heartbeat directory as the controllers see it (`heartbeat_dir`).
    pub heartbeat_dir: Option<PathBuf>,
    /// Older heartbeats say nothing (`heartbeat_max_age`).
    pub heartbeat_max_age: Duration,
}

impl Default for Policy {
    /// UMHA's values: error_count 3, storage_number 6, storage_ratio 0.6.
    fn default() -> Self {
        Self {
            attribute: DEFAULT_ATTRIBUTE.to_owned(),
            error_count: 3,
            fencing: true,
            fence_timeout: Duration::from_secs(120),
            max_failed_hosts: 6,
            max_failed_ratio: 0.6,
            heartbeat_dir: None,
            heartbeat_max_age: Duration::from_secs(60),
        }
    }
}

impl Policy {
    /// The storage valve, over the failure valve's window.
    pub fn valve(&self, window: Duration) -> Valve {
        Valve {
            max_failed_hosts: self.max_failed_hosts,
            max_failed_ratio: self.max_failed_ratio,
            window,
        }
    }

    /// Sick per the rule: online, and red for at least `error_count`
    /// consecutive checks.
    pub fn is_sick(&self, node: &ComputeNode) -> bool {
        node.online
            && node
                .storage
                .red_checks
                .is_some_and(|c| c >= self.error_count)
    }
}

impl Snapshot {
    /// Read the storage attributes under `attribute` (storage-monitor's
    /// `name`), replacing those [`Snapshot::from_cib`] read under the default.
    pub fn with_storage(mut self, cib: &Cib, attribute: &str) -> Self {
        for n in &mut self.nodes {
            if let Some(node) = cib.node(&n.name) {
                n.storage = NodeStorage::from_node(node, attribute);
            }
        }
        self
    }
}

impl ComputeNode {
    /// Pacemaker lost the node, but its storage heartbeat is fresh and was
    /// written after the loss (when the loss time is known): the node still
    /// runs and reaches its storage.
    pub fn isolated(&self) -> bool {
        !self.online
            && self
                .storage
                .heartbeat
                .is_some_and(|h| self.last_failure.is_none_or(|lost| h > lost))
    }
}

/// What the status line and the alert add for an isolated node. Fixed
/// text: the status line is rewritten (and alerted) only when it changes.
pub const ISOLATED: &str = "isolated, not dead: it still writes its storage heartbeat, so its instances may still be running";

/// `why` with the isolation note, when the node is isolated.
pub fn with_isolation(node: &ComputeNode, why: String) -> String {
    if node.isolated() {
        format!("{why}; {ISOLATED}")
    } else {
        why
    }
}

/// What the approval of `node`'s evacuation after the fence at `fence`
/// should add: that it was isolated until the fence, or (an alert) that its
/// heartbeat goes on after the fence while it is still offline.
pub fn fence_note(node: &ComputeNode, fence: i64) -> Option<(String, bool)> {
    let hb = node.storage.heartbeat?;
    if !node.isolated() {
        return None;
    }
    if hb > fence + HEARTBEAT_AFTER_FENCE {
        return Some((
            format!(
                "WARNING: its storage heartbeat was written at {hb}, after the fence at {fence}, while the node is still offline: check that its fence device powers off this very machine"
            ),
            true,
        ));
    }
    Some((
        format!(
            "it was isolated, not dead: its storage heartbeat (at {hb}) was written after Pacemaker lost it"
        ),
        false,
    ))
}

/// Whether a heartbeat is worth reading for `node`: lost by Pacemaker, and
/// no incident opened or closed for this loss yet.
pub fn wants_heartbeat(node: &ComputeNode) -> bool {
    !node.online
        && node.marker.is_none()
        && node
            .handled
            .is_none_or(|h| h < node.last_failure.unwrap_or(i64::MAX))
}

/// Reads other nodes' heartbeats through a checker child (this binary
/// re-executed with storage-monitor's checker argument; see [`crate::main`]).
#[derive(Debug, Clone)]
pub struct HeartbeatReader {
    pub checker: Checker,
    /// Held by the reading child, so a read stuck on a dead share is never
    /// joined by another.
    pub lock: PathBuf,
}

impl Default for HeartbeatReader {
    fn default() -> Self {
        Self {
            checker: Checker::default(),
            lock: std::env::temp_dir().join("umha-evacuator.heartbeat-lock"),
        }
    }
}

/// Fill in the fresh heartbeats of the nodes that want one.
pub fn observe_heartbeats(
    snapshot: &mut Snapshot,
    policy: &Policy,
    reader: &HeartbeatReader,
    deadline: Deadline,
) {
    let Some(dir) = &policy.heartbeat_dir else {
        return;
    };
    let now = snapshot.now;
    let max_age = i64::try_from(policy.heartbeat_max_age.as_secs()).unwrap_or(i64::MAX);
    for node in snapshot.nodes.iter_mut().filter(|n| wants_heartbeat(n)) {
        let until = Deadline::after(HEARTBEAT_READ).min(deadline);
        node.storage.heartbeat = match reader.checker.peek(&reader.lock, dir, &node.name, until) {
            Peek::Found(hb) => {
                let at = hb.epoch_secs();
                // A heartbeat from the future (a node clock ahead) is fresh.
                (now - at <= max_age).then_some(at)
            }
            Peek::Absent => None,
            Peek::Failed(status) => {
                log::warn!(
                    "{}: cannot read its storage heartbeat in {}: {}",
                    node.name,
                    dir.display(),
                    status.describe()
                );
                None
            }
        };
    }
}

/// The nodes that count for the storage valve: red now, or fenced for their
/// storage within the window.
pub fn storage_failed(snapshot: &Snapshot, window: i64) -> BTreeSet<String> {
    let since = snapshot.now.saturating_sub(window);
    snapshot
        .nodes
        .iter()
        .filter(|n| {
            (n.online && n.storage.is_red())
                || n.storage.fence_requested.is_some_and(|r| r >= since)
        })
        .map(|n| n.name.clone())
        .collect()
}

/// Whether `node` was fenced at or after `since`: by the evacuator's own
/// records (marker, closed or open incident) or by the fence history.
fn fenced_since(node: &ComputeNode, since: i64, history: Option<&FenceHistory>) -> Option<i64> {
    let mut times = vec![
        node.marker.as_deref().and_then(record::parse_epoch),
        node.handled,
        node.record.map(|r| r.fence),
    ];
    if let Some(h) = history {
        times.push(
            h.confirmed_fence_after(&node.name, cib::UnixTime::from_secs(since - 1))
                .and_then(|e| e.completed)
                .map(|t| t.secs()),
        );
    }
    times.into_iter().flatten().filter(|t| *t >= since).max()
}

fn fence_pending(node: &ComputeNode, history: Option<&FenceHistory>) -> bool {
    history.is_some_and(|h| h.pending_for(&node.name).next().is_some())
}

struct Out<'a> {
    plan: Plan,
    snapshot: &'a Snapshot,
}

impl Out<'_> {
    fn event(&mut self, node: Option<&str>, kind: &'static str, message: String, alert: bool) {
        self.plan.events.push(Event {
            node: node.map(str::to_owned),
            kind,
            message,
            alert,
        });
    }

    /// The storage status line, with an event when it changes.
    fn status(&mut self, node: &ComputeNode, kind: &'static str, text: String, alert: bool) {
        if node.storage.status.as_deref() != Some(text.as_str()) {
            self.event(Some(&node.name), kind, text.clone(), alert);
            self.plan.writes.push(Write::SetStorageStatus {
                node: node.name.clone(),
                text,
            });
        }
    }

    fn now(&self) -> i64 {
        self.snapshot.now
    }
}

/// Why nothing is fenced under the hold `text`.
fn held(text: &str) -> String {
    format!("not fencing it while the hold is set ({text})")
}

/// A sick node that would be fenced now; `retry` is the earlier request.
struct Candidate<'a> {
    node: &'a ComputeNode,
    retry: Option<i64>,
}

/// Decide the storage part of one step: fence requests, the storage valve,
/// the end of episodes. Pure, like [`crate::plan::plan`].
pub fn plan(snapshot: &Snapshot, window: Duration, policy: &Policy, dry_run: bool) -> Plan {
    let mut out = Out {
        plan: Plan::default(),
        snapshot,
    };
    let history = snapshot.history.as_ref();
    let timeout = i64::try_from(policy.fence_timeout.as_secs()).unwrap_or(i64::MAX);
    let lost = format!(
        "storage lost (red for {} or more consecutive checks): its instances lost their disks",
        policy.error_count
    );
    let mut candidates = Vec::new();
    for node in &snapshot.nodes {
        let st = &node.storage;
        // Offline nodes are Pacemaker's to fence; their record stays until
        // they are back with storage.
        if !node.online {
            continue;
        }
        if st.is_healthy() {
            if st.fence_requested.is_some() || st.status.is_some() {
                let text = match st.fence_requested {
                    Some(r) => format!(
                        "storage is back; the episode that asked for a fence at {r} is over"
                    ),
                    None => "storage is back".to_owned(),
                };
                out.event(Some(&node.name), "storage-back", text, false);
                out.plan.writes.push(Write::ClearStorage {
                    node: node.name.clone(),
                });
            }
            continue;
        }
        if !policy.is_sick(node) || node.marker.is_some() {
            continue;
        }
        let Some(requested) = st.fence_requested else {
            candidates.push(Candidate { node, retry: None });
            continue;
        };
        if let Some(f) = fenced_since(node, requested, history) {
            out.status(
                node,
                "storage-red-again",
                format!(
                    "{lost}; fenced at {f} after the request at {requested}, and red again since it came back: not fencing it again until its storage works"
                ),
                true,
            );
        } else if fence_pending(node, history) || out.now() - requested < timeout {
            out.status(
                node,
                "storage-fencing",
                format!("{lost}; fence requested at {requested}, waiting for it"),
                false,
            );
        } else {
            candidates.push(Candidate {
                node,
                retry: Some(requested),
            });
        }
    }
    if candidates.is_empty() {
        return out.plan;
    }
    let refusal = if !policy.fencing {
        Some("storage_fencing=false: not fencing it".to_owned())
    } else if !snapshot.quorum {
        Some("the cluster has no quorum: not fencing it".to_owned())
    } else {
        snapshot.hold.as_deref().map(held)
    };
    if let Some(why) = refusal {
        for c in &candidates {
            out.status(
                c.node,
                "storage-not-fencing",
                format!("{lost}; {why}"),
                true,
            );
        }
        return out.plan;
    }
    let window_secs = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
    let failed = storage_failed(snapshot, window_secs);
    let verdict =
        policy
            .valve(window)
            .evaluate_as(Category::Storage, &failed, snapshot.nodes.len());
    if let Verdict::Trip { reason, .. } = verdict {
        let text = format!("{} {reason}", out.now());
        out.plan.writes.push(Write::SetHold { text: text.clone() });
        out.event(
            None,
            "valve",
            format!(
                "storage valve tripped: {reason}; nothing is fenced or evacuated until the hold is released (umha release, or crm_attribute --type crm_config --set-name {} --name {} --delete)",
                record::HOLD_SET,
                record::HOLD
            ),
            true,
        );
        // The same line the next steps write under the hold, so it is
        // written (and alerted) once.
        for c in &candidates {
            out.status(
                c.node,
                "storage-held",
                format!("{lost}; {}", held(&text)),
                true,
            );
        }
        return out.plan;
    }
    for c in candidates {
        let name = c.node.name.clone();
        if dry_run {
            out.status(
                c.node,
                "would-fence",
                format!("{lost}; dry run: would ask Pacemaker to fence it"),
                false,
            );
            continue;
        }
        let now = out.now();
        let message = match c.retry {
            None => format!("{lost}; asking Pacemaker to fence it"),
            Some(r) => format!(
                "{lost}; no confirmed fence {}s after the request at {r}: asking Pacemaker again",
                now - r
            ),
        };
        out.event(Some(&name), "storage-fence", message, true);
        out.plan.writes.push(Write::SetFenceRequest {
            node: name.clone(),
            at: now,
        });
        // The line the next steps will find, so it is written only once.
        let waiting = format!("{lost}; fence requested at {now}, waiting for it");
        if c.node.storage.status.as_deref() != Some(waiting.as_str()) {
            out.plan.writes.push(Write::SetStorageStatus {
                node: name.clone(),
                text: waiting,
            });
        }
        out.plan.fence_requests.push(name);
    }
    out.plan
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const T: i64 = 1_795_318_154;

    fn node(name: &str) -> ComputeNode {
        let mut n = ComputeNode::online_remote(name);
        n.storage.score = Some(3000);
        n
    }

    fn red(name: &str, checks: u32) -> ComputeNode {
        let mut n = node(name);
        n.storage.score = Some(0);
        n.storage.red_checks = Some(checks);
        n
    }

    fn snapshot(nodes: Vec<ComputeNode>) -> Snapshot {
        Snapshot {
            version: cib::CibVersion::default(),
            now: T,
            quorum: true,
            nodes,
            hold: None,
            history: None,
        }
    }

    fn decide(s: &Snapshot) -> Plan {
        plan(s, Duration::from_secs(600), &Policy::default(), false)
    }

    #[test]
    fn three_red_checks_make_a_node_sick_and_one_request_is_made() {
        let s = snapshot(vec![red("cmp1", 2), node("cmp2"), node("cmp3")]);
        assert_eq!(decide(&s), Plan::default(), "two checks are not enough");
        let s = snapshot(vec![red("cmp1", 3), node("cmp2"), node("cmp3")]);
        let p = decide(&s);
        assert_eq!(p.fence_requests, ["cmp1"]);
        assert_eq!(
            p.writes[0],
            Write::SetFenceRequest {
                node: "cmp1".into(),
                at: T
            }
        );
        assert!(
            p.events
                .iter()
                .any(|e| e.kind == "storage-fence" && e.alert)
        );
        assert!(p.work.is_empty());
    }

    #[test]
    fn a_request_is_not_repeated_until_its_timeout() {
        let mut n = red("cmp1", 5);
        n.storage.fence_requested = Some(T - 30);
        let mut s = snapshot(vec![n, node("cmp2"), node("cmp3")]);
        let p = decide(&s);
        assert!(p.fence_requests.is_empty());
        let Write::SetStorageStatus { text, .. } = &p.writes[0] else {
            panic!("{p:?}")
        };
        assert!(text.contains("waiting"), "{text}");
        // Said once.
        s.nodes[0].storage.status = Some(text.clone());
        assert_eq!(decide(&s), Plan::default());
        // After the timeout, with no fence in the history: again.
        s.now = T + 200;
        s.history = Some(FenceHistory::default());
        let p = decide(&s);
        assert_eq!(p.fence_requests, ["cmp1"]);
        assert!(p.events[0].message.contains("again"), "{p:?}");
    }

    #[test]
    fn a_pending_fence_is_waited_for() {
        let mut n = red("cmp1", 5);
        n.storage.fence_requested = Some(T - 1000);
        let mut s = snapshot(vec![n, node("cmp2"), node("cmp3")]);
        s.history = Some(
            FenceHistory::parse(
                r#"<pacemaker-result><fence_history><fence_event action="off" target="cmp1" client="c" origin="ctl1" status="pending" extended-status="1"/></fence_history><status code="0"/></pacemaker-result>"#,
            )
            .unwrap(),
        );
        assert!(decide(&s).fence_requests.is_empty());
    }

    #[test]
    fn fenced_after_the_request_and_red_again_is_not_fenced_again() {
        let mut n = red("cmp1", 3);
        n.storage.fence_requested = Some(T - 1000);
        n.handled = Some(T - 900);
        let s = snapshot(vec![n, node("cmp2"), node("cmp3")]);
        let p = decide(&s);
        assert!(p.fence_requests.is_empty());
        assert!(p.events[0].alert);
        assert!(p.events[0].message.contains("not fencing it again"));
        // The fence history proves it as well.
        let mut n = red("cmp1", 3);
        n.storage.fence_requested = Some(T - 1000);
        let mut s = snapshot(vec![n, node("cmp2"), node("cmp3")]);
        s.history = Some(
            FenceHistory::parse(&format!(
                r#"<fence_history><fence_event action="off" target="cmp1" client="c" origin="ctl1" status="success" completed="{}"/></fence_history>"#,
                chrono::DateTime::from_timestamp(T - 1000, 0)
                    .unwrap()
                    .format("%Y-%m-%d %H:%M:%SZ")
            ))
            .unwrap(),
        );
        assert!(decide(&s).fence_requests.is_empty());
    }

    #[test]
    fn storage_back_ends_the_episode() {
        let mut n = node("cmp1");
        n.storage.fence_requested = Some(T - 100);
        n.storage.status = Some("x".into());
        let p = decide(&snapshot(vec![n]));
        assert_eq!(
            p.writes,
            [Write::ClearStorage {
                node: "cmp1".into()
            }]
        );
        // Not before the node publishes a working score again.
        let mut back = ComputeNode::online_remote("cmp1");
        back.storage.fence_requested = Some(T - 100);
        assert!(decide(&snapshot(vec![back])).writes.is_empty());
    }

    #[test]
    fn offline_nodes_and_open_incidents_are_left_alone() {
        let mut off = red("cmp1", 9);
        off.online = false;
        let mut marked = red("cmp2", 9);
        marked.marker = Some(T.to_string());
        assert_eq!(decide(&snapshot(vec![off, marked])), Plan::default());
    }

    #[test]
    fn gates_quorum_hold_switch_and_dry_run() {
        let base = snapshot(vec![red("cmp1", 3), node("cmp2"), node("cmp3")]);
        let mut s = base.clone();
        s.quorum = false;
        let p = decide(&s);
        assert!(p.fence_requests.is_empty());
        assert!(p.events[0].message.contains("no quorum"));
        let mut s = base.clone();
        s.hold = Some("x".into());
        assert!(decide(&s).fence_requests.is_empty());
        let off = Policy {
            fencing: false,
            ..Policy::default()
        };
        let p = plan(&base, Duration::from_secs(600), &off, false);
        assert!(p.fence_requests.is_empty());
        assert!(p.events[0].message.contains("storage_fencing=false"));
        let p = plan(&base, Duration::from_secs(600), &Policy::default(), true);
        assert!(p.fence_requests.is_empty());
        assert!(
            !p.writes
                .iter()
                .any(|w| matches!(w, Write::SetFenceRequest { .. }))
        );
        assert!(p.events[0].message.contains("would ask Pacemaker to fence"));
    }

    #[test]
    fn many_red_nodes_trip_the_storage_valve() {
        let ratio = Policy {
            max_failed_ratio: 0.5,
            ..Policy::default()
        };
        // cmp2 only just turned red: it counts.
        let s = snapshot(vec![red("cmp1", 3), red("cmp2", 1), node("cmp3")]);
        let p = plan(&s, Duration::from_secs(600), &ratio, false);
        assert!(p.fence_requests.is_empty());
        let Some(Write::SetHold { text }) = p.writes.first() else {
            panic!("{p:?}")
        };
        assert!(text.contains("2 of 3"), "{text}");
        assert!(text.contains("storage"), "{text}");
        assert!(p.events.iter().any(|e| e.kind == "valve" && e.alert));
        // One sick node alone never trips the ratio.
        let s = snapshot(vec![red("cmp1", 3)]);
        assert_eq!(
            plan(&s, Duration::from_secs(600), &ratio, false).fence_requests,
            ["cmp1"]
        );
        // A node fenced for its storage earlier in the window counts.
        let mut earlier = node("cmp2");
        earlier.online = false;
        earlier.storage.fence_requested = Some(T - 100);
        let s = snapshot(vec![red("cmp1", 3), earlier.clone(), node("cmp3")]);
        assert!(
            plan(&s, Duration::from_secs(600), &ratio, false)
                .fence_requests
                .is_empty()
        );
        earlier.storage.fence_requested = Some(T - 1000);
        let s = snapshot(vec![red("cmp1", 3), earlier, node("cmp3")]);
        assert_eq!(
            plan(&s, Duration::from_secs(600), &ratio, false).fence_requests,
            ["cmp1"]
        );
    }

    #[test]
    fn isolation_needs_a_heartbeat_after_the_loss() {
        let mut n = ComputeNode::online_remote("cmp1");
        n.online = false;
        n.last_failure = Some(T);
        assert!(wants_heartbeat(&n));
        assert!(!n.isolated());
        n.storage.heartbeat = Some(T - 5);
        assert!(!n.isolated(), "written before the loss: says nothing");
        n.storage.heartbeat = Some(T + 5);
        assert!(n.isolated());
        assert!(with_isolation(&n, "lost".into()).ends_with(ISOLATED));
        let (note, alert) = fence_note(&n, T + 20).unwrap();
        assert!(note.contains("isolated, not dead") && !alert, "{note}");
        let (note, alert) = fence_note(&n, T - 100).unwrap();
        assert!(note.contains("WARNING") && alert, "{note}");
        n.online = true;
        assert!(!n.isolated() && !wants_heartbeat(&n));
        // An incident already handled for this loss: no read.
        n.online = false;
        n.handled = Some(T + 10);
        assert!(!wants_heartbeat(&n));
        n.handled = None;
        n.marker = Some((T + 10).to_string());
        assert!(!wants_heartbeat(&n));
    }
}
