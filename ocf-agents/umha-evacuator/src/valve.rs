//! The mass-failure brake (UMHA's `[valve]`).
//!
//! When many compute nodes fail together, the cause is rarely the nodes:
//! a switch, a storage outage or a bad rollout. Evacuating then moves the
//! load onto the survivors of the same fault and can take them down too, so
//! the valve stops all evacuation and waits for a human.
//!
//! A node counts as failed when it is down now, or was fenced or lost
//! within the window, even if it has since been evacuated and come back: a
//! slow cascade, one node every few minutes, trips it as surely as a burst.
//!
//! The same thresholds, set apart (UMHA's `storage_number` and
//! `storage_ratio`), guard storage-driven fencing ([`Category::Storage`],
//! see [`crate::storage`]): when many nodes lose their storage together,
//! the storage system failed, and nothing is fenced.

use std::collections::BTreeSet;
use std::time::Duration;

/// The thresholds. A zero disables a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Valve {
    /// UMHA's `power_off_number` (default 6): this many failed nodes trip it.
    pub max_failed_hosts: u32,
    /// UMHA's `power_off_ratio` (default 0.6): this share of all compute
    /// nodes failed trips it. It needs at least two failed nodes, so that a
    /// single failure in a cluster of one or two compute nodes is handled.
    pub max_failed_ratio: f64,
    pub window: Duration,
}

/// What the nodes counted against a valve failed of: the wording of its
/// verdict and the parameters it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Down, fenced or lost (`max_failed_hosts`, `max_failed_ratio`).
    Failed,
    /// Lost their storage (`max_storage_failed_hosts`,
    /// `max_storage_failed_ratio`): when many go at once, the storage
    /// system is at fault, and fencing them would take every VM down for
    /// nothing.
    Storage,
}

impl Category {
    fn what(self) -> &'static str {
        match self {
            Category::Failed => "failed",
            Category::Storage => "lost their storage",
        }
    }

    fn params(self) -> (&'static str, &'static str) {
        match self {
            Category::Failed => ("max_failed_hosts", "max_failed_ratio"),
            Category::Storage => ("max_storage_failed_hosts", "max_storage_failed_ratio"),
        }
    }
}

/// What the valve says about the failures it was shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Open,
    Trip {
        failed: Vec<String>,
        total: usize,
        reason: String,
    },
}

impl Valve {
    /// `failed` are the compute nodes that count as failed within the
    /// window (see the module doc); `total` is the number of compute nodes.
    pub fn evaluate(&self, failed: &BTreeSet<String>, total: usize) -> Verdict {
        self.evaluate_as(Category::Failed, failed, total)
    }

    /// [`Valve::evaluate`] for nodes failed in the way `category` says, with
    /// its wording.
    pub fn evaluate_as(
        &self,
        category: Category,
        failed: &BTreeSet<String>,
        total: usize,
    ) -> Verdict {
        let (hosts_param, ratio_param) = category.params();
        let what = category.what();
        let count = failed.len();
        let names = || failed.iter().cloned().collect::<Vec<_>>();
        let list = || names().join(", ");
        let window = self.window.as_secs();
        if self.max_failed_hosts > 0 && count >= self.max_failed_hosts as usize {
            return Verdict::Trip {
                failed: names(),
                total,
                reason: format!(
                    "{count} compute nodes {what} within {window}s ({}), {hosts_param} is {}",
                    list(),
                    self.max_failed_hosts
                ),
            };
        }
        if self.max_failed_ratio > 0.0 && count >= 2 && total > 0 {
            let ratio = count as f64 / total as f64;
            if ratio >= self.max_failed_ratio {
                return Verdict::Trip {
                    failed: names(),
                    total,
                    reason: format!(
                        "{count} of {total} compute nodes {what} within {window}s ({}), {ratio_param} is {}",
                        list(),
                        self.max_failed_ratio
                    ),
                };
            }
        }
        Verdict::Open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn valve(hosts: u32, ratio: f64) -> Valve {
        Valve {
            max_failed_hosts: hosts,
            max_failed_ratio: ratio,
            window: Duration::from_secs(600),
        }
    }

    #[test]
    fn umha_defaults() {
        let v = valve(6, 0.6);
        assert_eq!(v.evaluate(&set(&["a"]), 3), Verdict::Open);
        assert!(matches!(
            v.evaluate(&set(&["a", "b"]), 3),
            Verdict::Trip { .. }
        ));
        assert_eq!(v.evaluate(&set(&["a", "b"]), 10), Verdict::Open);
        let six = set(&["a", "b", "c", "d", "e", "f"]);
        assert!(matches!(v.evaluate(&six, 100), Verdict::Trip { .. }));
    }

    #[test]
    fn one_failure_never_trips_the_ratio() {
        assert_eq!(valve(0, 0.5).evaluate(&set(&["a"]), 1), Verdict::Open);
        assert_eq!(valve(0, 0.5).evaluate(&set(&["a"]), 2), Verdict::Open);
    }

    #[test]
    fn half_of_three_with_ratio_one_half() {
        let Verdict::Trip { reason, failed, .. } =
            valve(0, 0.5).evaluate(&set(&["cmp1", "cmp2"]), 3)
        else {
            panic!("expected a trip");
        };
        assert_eq!(failed, vec!["cmp1", "cmp2"]);
        assert!(reason.contains("2 of 3"), "{reason}");
    }

    #[test]
    fn the_storage_category_names_its_own_parameters() {
        let v = valve(6, 0.5);
        let Verdict::Trip { reason, .. } =
            v.evaluate_as(Category::Storage, &set(&["cmp1", "cmp2"]), 3)
        else {
            panic!("expected a trip");
        };
        assert!(
            reason.contains("2 of 3 compute nodes lost their storage"),
            "{reason}"
        );
        assert!(
            reason.contains("max_storage_failed_ratio is 0.5"),
            "{reason}"
        );
        assert_eq!(
            v.evaluate_as(Category::Storage, &set(&["cmp1"]), 1),
            Verdict::Open
        );
        let Verdict::Trip { reason, .. } =
            valve(2, 0.0).evaluate_as(Category::Storage, &set(&["a", "b"]), 100)
        else {
            panic!("expected a trip");
        };
        assert!(reason.contains("max_storage_failed_hosts is 2"), "{reason}");
        // The failure valve's wording is unchanged.
        let Verdict::Trip { reason, .. } = v.evaluate(&set(&["a", "b"]), 3) else {
            panic!("expected a trip");
        };
        assert!(reason.contains("compute nodes failed within"), "{reason}");
        assert!(reason.contains("max_failed_ratio"), "{reason}");
    }

    #[test]
    fn zero_disables() {
        let all = set(&["a", "b", "c"]);
        assert_eq!(valve(0, 0.0).evaluate(&all, 3), Verdict::Open);
    }
}
