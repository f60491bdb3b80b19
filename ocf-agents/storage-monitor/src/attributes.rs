//! The node attributes the agent publishes, and writing only what changed.
//!
//! Each write forks `attrd_updater` (8–10 ms of CPU), which is more than a
//! whole monitor of this agent costs otherwise; `ocf:pacemaker:ping` forks it
//! on every monitor. Here the values last written successfully are kept in
//! the per-node state file, and a monitor writes an attribute only when its
//! value differs. A write that fails is simply not recorded, so the next
//! monitor tries again.
//!
//! What attrd holds can still be lost behind our back: a restart of the
//! cluster node's Pacemaker (its attribute manager starts empty while a
//! pacemaker-remote node keeps running, and our state file with it), an
//! administrator deleting the attribute, a remote node reconnecting. So every
//! attribute is also re-written unconditionally at start, at every probe
//! (Pacemaker probes after exactly those events: controller restart,
//! reconnection, cleanup) and every `republish_interval`.

use std::collections::BTreeMap;
use std::time::Duration;

use umha_common::Deadline;

use crate::verdict::Summary;

/// Attribute name → value.
pub type Values = BTreeMap<String, String>;

/// The longest one `attrd_updater` call may take; it answers in milliseconds
/// when Pacemaker is healthy.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the red-check count stops. Counting on would cost one attribute
/// write (and one CIB update) per monitor for as long as an outage lasts;
/// a reader only needs to know that the streak reached its own threshold
/// (the evacuator's `storage_error_count`, at most this).
pub const RED_COUNT_MAX: u64 = 100;

/// Which attributes this resource publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeNames {
    /// The score (`name`).
    pub score: String,
    /// `#health-<name>`, when enabled.
    pub health: Option<String>,
    /// `<name>-detail`, when enabled.
    pub detail: Option<String>,
    /// `<name>-red-count`: consecutive red checks, present only while red.
    pub red_count: String,
}

impl AttributeNames {
    pub fn new(name: &str, health: bool, detail: bool) -> Self {
        Self {
            score: name.to_owned(),
            health: health.then(|| health_name(name)),
            detail: detail.then(|| detail_name(name)),
            red_count: red_count_name(name),
        }
    }

    /// The enabled names (everything a stop deletes).
    pub fn enabled(&self) -> Vec<&str> {
        let mut names = vec![self.score.as_str()];
        names.extend(self.health.as_deref());
        names.extend(self.detail.as_deref());
        names.push(self.red_count.as_str());
        names
    }

    /// The values a verdict asks for, `red_checks` being the current streak
    /// of red checks (0 when the last one was not red). The red count is
    /// wanted only while it is above 0, so a healthy node carries no such
    /// attribute and costs no write for it.
    pub fn desired(&self, verdict: &Summary, red_checks: u64) -> Values {
        let mut values = Values::new();
        values.insert(self.score.clone(), verdict.score.to_string());
        if let Some(h) = &self.health {
            values.insert(h.clone(), verdict.health.as_str().to_owned());
        }
        if let Some(d) = &self.detail {
            values.insert(d.clone(), verdict.detail.clone());
        }
        if red_checks > 0 {
            values.insert(
                self.red_count.clone(),
                red_checks.min(RED_COUNT_MAX).to_string(),
            );
        }
        values
    }
}

/// The next red streak after a check that judged `health`: one more while
/// red (up to [`RED_COUNT_MAX`]), back to 0 otherwise.
pub fn next_streak(previous: u64, health: crate::verdict::Health) -> u64 {
    if health == crate::verdict::Health::Red {
        previous.saturating_add(1).min(RED_COUNT_MAX)
    } else {
        0
    }
}

/// Pacemaker's node-health strategies read every attribute starting with `#health`.
pub fn health_name(name: &str) -> String {
    format!("#health-{name}")
}

pub fn detail_name(name: &str) -> String {
    format!("{name}-detail")
}

/// The name of the consecutive-red-checks attribute. The evacuator reads
/// it to tell a node whose storage has been gone for several checks (its
/// VMs lost their disks) from one that missed a single check.
pub fn red_count_name(name: &str) -> String {
    format!("{name}-red-count")
}

/// What to write and delete to go from `published` to `desired`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub set: Vec<(String, String)>,
    pub delete: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.delete.is_empty()
    }

    /// Split into (the changes to `names`, the rest), so that the two can be
    /// written with different dampening.
    pub fn partition(self, names: &[&str]) -> (Changes, Changes) {
        let (set_in, set_out) = self
            .set
            .into_iter()
            .partition(|(n, _)| names.contains(&n.as_str()));
        let (delete_in, delete_out) = self
            .delete
            .into_iter()
            .partition(|n| names.contains(&n.as_str()));
        (
            Changes {
                set: set_in,
                delete: delete_in,
            },
            Changes {
                set: set_out,
                delete: delete_out,
            },
        )
    }
}

/// The writes that bring attrd to `desired`: the changed values, or all of
/// them when `force`d; and the deletion of published names no longer wanted
/// (a reload that turned `health` off).
pub fn changes(desired: &Values, published: &Values, force: bool) -> Changes {
    let set = desired
        .iter()
        .filter(|(name, value)| force || published.get(*name) != Some(*value))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    let delete = published
        .keys()
        .filter(|name| !desired.contains_key(*name))
        .cloned()
        .collect();
    Changes { set, delete }
}

/// Something that writes transient node attributes: attrd for real, a recorder in tests.
pub trait AttributeWriter {
    /// Whether the tool is installed at all.
    fn available(&self) -> Result<(), String>;
    fn set(
        &self,
        node: &str,
        name: &str,
        value: &str,
        dampen: Option<Duration>,
        deadline: Deadline,
    ) -> Result<(), String>;
    fn delete(&self, node: &str, name: &str, deadline: Deadline) -> Result<(), String>;
}

/// `attrd_updater`, through the `cib` crate.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attrd;

impl AttributeWriter for Attrd {
    fn available(&self) -> Result<(), String> {
        if umha_common::exec::find_in_path("attrd_updater") {
            Ok(())
        } else {
            Err(
                "attrd_updater: not found on PATH (install Pacemaker's command-line tools)"
                    .to_owned(),
            )
        }
    }

    fn set(
        &self,
        node: &str,
        name: &str,
        value: &str,
        dampen: Option<Duration>,
        deadline: Deadline,
    ) -> Result<(), String> {
        let options = cib::attr::TransientOptions {
            dampen: dampen.filter(|d| !d.is_zero()),
            private: false,
        };
        cib::attr::set_transient(Some(node), name, value, options, deadline)
            .map_err(|e| e.to_string())
    }

    fn delete(&self, node: &str, name: &str, deadline: Deadline) -> Result<(), String> {
        cib::attr::delete_transient(Some(node), name, deadline).map_err(|e| e.to_string())
    }
}

/// Apply `changes` for `node`, recording every success in `published`.
/// Returns one message per failure; those values stay unrecorded, so the
/// next monitor retries them.
pub fn apply(
    writer: &dyn AttributeWriter,
    node: &str,
    changes: &Changes,
    dampen: Option<Duration>,
    deadline: Deadline,
    published: &mut Values,
) -> Vec<String> {
    let mut failures = Vec::new();
    let budget = || Deadline::after(WRITE_TIMEOUT).min(deadline);
    for name in &changes.delete {
        if deadline.expired() {
            failures.push(format!("no time left to delete {name}"));
            continue;
        }
        match writer.delete(node, name, budget()) {
            Ok(()) => {
                published.remove(name);
            }
            Err(e) => failures.push(format!("cannot delete {name}: {e}")),
        }
    }
    for (name, value) in &changes.set {
        if deadline.expired() {
            failures.push(format!("no time left to set {name}"));
            continue;
        }
        match writer.set(node, name, value, dampen, budget()) {
            Ok(()) => {
                published.insert(name.clone(), value.clone());
            }
            Err(e) => failures.push(format!("cannot set {name}={value}: {e}")),
        }
    }
    failures
}

#[cfg(test)]
pub(crate) mod fake {
    //! A recording attribute writer for tests.

    use std::sync::Mutex;

    use super::*;

    #[derive(Debug, Default)]
    pub struct Recorder {
        pub calls: Mutex<Vec<String>>,
        pub fail: Mutex<bool>,
    }

    impl Recorder {
        pub fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.calls.lock().unwrap())
        }

        pub fn set_failing(&self, fail: bool) {
            *self.fail.lock().unwrap() = fail;
        }

        fn record(&self, call: String) -> Result<(), String> {
            self.calls.lock().unwrap().push(call);
            if *self.fail.lock().unwrap() {
                Err("Could not connect to attrd: Connection refused".to_owned())
            } else {
                Ok(())
            }
        }
    }

    impl AttributeWriter for Recorder {
        fn available(&self) -> Result<(), String> {
            Ok(())
        }

        fn set(
            &self,
            node: &str,
            name: &str,
            value: &str,
            dampen: Option<Duration>,
            _: Deadline,
        ) -> Result<(), String> {
            let d = dampen.map_or(String::new(), |d| format!(" d={}", d.as_secs()));
            self.record(format!("set {node} {name}={value}{d}"))
        }

        fn delete(&self, node: &str, name: &str, _: Deadline) -> Result<(), String> {
            self.record(format!("delete {node} {name}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::Recorder;
    use super::*;
    use crate::verdict::Health;

    fn verdict(health: Health, score: u64, detail: &str) -> Summary {
        Summary {
            health,
            score,
            detail: detail.to_owned(),
        }
    }

    fn values(pairs: &[(&str, &str)]) -> Values {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_follow_the_score_name() {
        let all = AttributeNames::new("umha-storage", true, true);
        assert_eq!(
            all.enabled(),
            [
                "umha-storage",
                "#health-umha-storage",
                "umha-storage-detail",
                "umha-storage-red-count"
            ]
        );
        let just = AttributeNames::new("s", false, false);
        assert_eq!(just.enabled(), ["s", "s-red-count"]);
        let v = verdict(Health::Yellow, 1000, "a=ok,b=lost 4/4");
        assert_eq!(
            all.desired(&v, 0),
            values(&[
                ("umha-storage", "1000"),
                ("#health-umha-storage", "yellow"),
                ("umha-storage-detail", "a=ok,b=lost 4/4"),
            ])
        );
        let red = verdict(Health::Red, 0, "a=lost 4/4");
        assert_eq!(
            just.desired(&red, 3),
            values(&[("s", "0"), ("s-red-count", "3")])
        );
        assert_eq!(
            just.desired(&red, RED_COUNT_MAX + 5)["s-red-count"],
            RED_COUNT_MAX.to_string()
        );
    }

    #[test]
    fn the_red_streak_counts_consecutive_red_checks_only() {
        let mut streak = 0;
        for (health, want) in [
            (Health::Red, 1),
            (Health::Red, 2),
            (Health::Yellow, 0),
            (Health::Red, 1),
            (Health::Green, 0),
        ] {
            streak = next_streak(streak, health);
            assert_eq!(streak, want, "{health}");
        }
        assert_eq!(next_streak(RED_COUNT_MAX, Health::Red), RED_COUNT_MAX);
        assert_eq!(next_streak(u64::MAX, Health::Red), RED_COUNT_MAX);
    }

    #[test]
    fn changes_split_by_name() {
        let desired = values(&[("s", "0"), ("s-red-count", "2")]);
        let published = values(&[("s", "1000"), ("s-detail", "x")]);
        let (count, rest) = changes(&desired, &published, false).partition(&["s-red-count"]);
        assert_eq!(count.set, [("s-red-count".to_owned(), "2".to_owned())]);
        assert!(count.delete.is_empty());
        assert_eq!(rest.set, [("s".to_owned(), "0".to_owned())]);
        assert_eq!(rest.delete, ["s-detail"]);
    }

    #[test]
    fn only_changed_values_are_written() {
        let desired = values(&[("s", "1000"), ("s-detail", "a=ok")]);
        assert!(changes(&desired, &desired, false).is_empty());
        let published = values(&[("s", "2000"), ("s-detail", "a=ok")]);
        let c = changes(&desired, &published, false);
        assert_eq!(c.set, [("s".to_owned(), "1000".to_owned())]);
        assert!(c.delete.is_empty());
        // Forced: everything, as at start, probes and republishing.
        assert_eq!(changes(&desired, &desired, true).set.len(), 2);
        // Nothing published yet: everything.
        assert_eq!(changes(&desired, &Values::new(), false).set.len(), 2);
    }

    #[test]
    fn attributes_no_longer_wanted_are_deleted() {
        let desired = values(&[("s", "1000")]);
        let published = values(&[("s", "1000"), ("#health-s", "green")]);
        let c = changes(&desired, &published, false);
        assert!(c.set.is_empty());
        assert_eq!(c.delete, ["#health-s"]);
    }

    #[test]
    fn apply_records_successes_and_keeps_failures_for_the_retry() {
        let w = Recorder::default();
        let desired = values(&[("s", "0"), ("#health-s", "red")]);
        let mut published = values(&[("s", "1000"), ("s-detail", "x")]);
        let c = changes(&desired, &published, false);
        let d = Deadline::after(Duration::from_secs(5));
        let failures = apply(
            &w,
            "cmp2",
            &c,
            Some(Duration::from_secs(5)),
            d,
            &mut published,
        );
        assert!(failures.is_empty());
        assert_eq!(
            w.take(),
            [
                "delete cmp2 s-detail",
                "set cmp2 #health-s=red d=5",
                "set cmp2 s=0 d=5"
            ]
        );
        assert_eq!(published, desired);

        w.set_failing(true);
        let desired2 = values(&[("s", "1000"), ("#health-s", "green")]);
        let c = changes(&desired2, &published, false);
        let failures = apply(&w, "cmp2", &c, None, d, &mut published);
        assert_eq!(failures.len(), 2);
        assert!(failures[0].contains("Connection refused"), "{failures:?}");
        assert_eq!(published, desired, "failed writes are not recorded");
        // Next time, the same writes are planned again.
        assert_eq!(changes(&desired2, &published, false).set.len(), 2);
    }

    #[test]
    fn no_writes_after_the_deadline() {
        let w = Recorder::default();
        let mut published = Values::new();
        let c = changes(&values(&[("s", "1")]), &published, false);
        let failures = apply(
            &w,
            "n",
            &c,
            None,
            Deadline::after(Duration::ZERO),
            &mut published,
        );
        assert_eq!(failures, ["no time left to set s"]);
        assert!(w.take().is_empty());
    }
}
