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
        let count = failed.len();
        let names = || failed.iter().cloned().collect::<Vec<_>>();
        let list = || names().join(", ");
        let window = self.window.as_secs();
        if self.max_failed_hosts > 0 && count >= self.max_failed_hosts as usize {
            return Verdict::Trip {
                failed: names(),
                total,
                reason: format!(
                    "{count} compute nodes failed within {window}s ({}), max_failed_hosts is {}",
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
                        "{count} of {total} compute nodes failed within {window}s ({}), max_failed_ratio is {}",
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
    fn zero_disables() {
        let all = set(&["a", "b", "c"]);
        assert_eq!(valve(0, 0.0).evaluate(&all, 3), Verdict::Open);
    }
}
