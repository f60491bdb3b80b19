//! One overall time budget per operation.
//!
//! Pacemaker kills an agent that overruns its operation timeout and counts the
//! operation as failed; a fencing topology only falls through to its next level
//! after that. Every wait inside an agent therefore draws from one shared
//! deadline, so the agent can fail cleanly, early and with a reason instead.

use std::time::{Duration, Instant};

/// A point in time after which an operation must give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Option<Instant>,
}

impl Deadline {
    /// A deadline `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self {
            at: Instant::now().checked_add(budget),
        }
    }

    /// No limit. Only for tools run by hand; agents under Pacemaker always have one.
    pub fn never() -> Self {
        Self { at: None }
    }

    /// Time left, zero once expired; `None` for [`Deadline::never`].
    pub fn remaining(&self) -> Option<Duration> {
        self.at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_some_and(|left| left.is_zero())
    }

    /// `wanted`, shortened so that it ends no later than the deadline.
    pub fn clamp(&self, wanted: Duration) -> Duration {
        match self.remaining() {
            Some(left) => wanted.min(left),
            None => wanted,
        }
    }

    /// The earlier of two deadlines.
    pub fn min(self, other: Deadline) -> Deadline {
        match (self.at, other.at) {
            (Some(a), Some(b)) => Deadline { at: Some(a.min(b)) },
            (Some(_), None) => self,
            _ => other,
        }
    }

    /// Sleep for `wanted`, cut short by the deadline. Returns false if the
    /// deadline had already passed, so loops can stop without another check.
    pub fn sleep(&self, wanted: Duration) -> bool {
        if self.expired() {
            return false;
        }
        std::thread::sleep(self.clamp(wanted));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_budget_is_expired() {
        let d = Deadline::after(Duration::ZERO);
        assert!(d.expired());
        assert!(!d.sleep(Duration::from_secs(10)));
    }

    #[test]
    fn never_does_not_expire_and_clamps_nothing() {
        let d = Deadline::never();
        assert!(!d.expired());
        assert_eq!(d.clamp(Duration::from_secs(3)), Duration::from_secs(3));
    }

    #[test]
    fn clamp_and_min_pick_the_earlier() {
        let short = Deadline::after(Duration::from_millis(50));
        let long = Deadline::after(Duration::from_secs(60));
        assert!(short.clamp(Duration::from_secs(5)) <= Duration::from_millis(50));
        assert_eq!(short.min(long), short);
        assert_eq!(Deadline::never().min(long), long);
    }
}
