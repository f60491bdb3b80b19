//! From echo counts and the path check to what the cluster is told.
//!
//! - An address is **reachable** unless more of its echoes were lost than
//!   `ping_loss_ratio` allows (UMHA: down when lost/count > ratio); an
//!   address that answered nothing is never reachable, which makes
//!   `ping_loss_ratio=1` mean what `ocf:pacemaker:ping` does (one reply is enough).
//! - **Health** is red when fewer than `min_reachable` addresses are
//!   reachable or the path check failed, yellow when some (not enough to
//!   matter) are unreachable, green otherwise.
//! - The **score** is `multiplier × reachable addresses`, like
//!   `ocf:pacemaker:ping`, except that red is always 0: "`umha-storage` lte 0"
//!   then means exactly "this node lost its storage", whatever the reason.

use std::fmt;

use crate::address;
use crate::heartbeat::PathStatus;
use crate::icmp::EchoOutcome;
use crate::ratio::LossRatio;

/// Pacemaker's node-health colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    Green,
    Yellow,
    Red,
}

impl Health {
    /// The value of a `#health-*` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Green => "green",
            Health::Yellow => "yellow",
            Health::Red => "red",
        }
    }

    pub fn parse(text: &str) -> Option<Health> {
        match text {
            "green" => Some(Health::Green),
            "yellow" => Some(Health::Yellow),
            "red" => Some(Health::Red),
            _ => None,
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The last verdict, as much as logging needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub health: Health,
    pub score: u64,
    pub detail: String,
}

impl Summary {
    /// Whether going from `self` to `next` is worth an info line: health,
    /// score, or which addresses are up, changed. "lost 3/4" becoming
    /// "lost 4/4" is not (it happens all the time on a lossy link).
    pub fn differs_for_log(&self, next: &Summary) -> bool {
        self.health != next.health
            || self.score != next.score
            || detail_shape(&self.detail) != detail_shape(&next.detail)
    }
}

/// The detail without loss counts.
fn detail_shape(detail: &str) -> String {
    detail
        .split(',')
        .map(|item| match item.split_once("=lost ") {
            Some((addr, _)) => format!("{addr}=lost"),
            None => item.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The judging rules, from the parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub loss_ratio: LossRatio,
    /// Reachable addresses needed for anything but red (1 ..= number of addresses).
    pub min_reachable: usize,
    pub multiplier: u32,
}

/// One check's conclusion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub health: Health,
    pub score: u64,
    pub reachable: usize,
    pub total: usize,
    /// Per address, then the path: `10.0.0.1=ok,10.0.0.2=lost 4/4,path=hung`.
    pub detail: String,
    /// The addresses judged unreachable, for logs.
    pub unreachable: Vec<String>,
    /// Why it is red, for logs.
    pub reasons: Vec<String>,
}

impl Verdict {
    /// What is published and remembered.
    pub fn summary(&self) -> Summary {
        Summary {
            health: self.health,
            score: self.score,
            detail: self.detail.clone(),
        }
    }
}

/// Whether `outcome` counts as reachable under `ratio`.
pub fn reachable(outcome: &EchoOutcome, ratio: LossRatio) -> bool {
    outcome.answered > 0 && !ratio.exceeded(outcome.lost(), outcome.completed())
}

/// The detail word(s) for one address.
fn address_state(outcome: &EchoOutcome, up: bool) -> String {
    if up {
        return "ok".to_owned();
    }
    match (outcome.completed(), outcome.failure) {
        (0, _) => "no-result".to_owned(),
        // Nothing could even be sent: say why rather than "lost".
        (c, Some(failure)) if outcome.failed == c => failure.token().to_owned(),
        (c, _) => format!("lost {}/{c}", outcome.lost()),
    }
}

/// Judge one check. `path` is `None` when no path check is configured.
pub fn judge(rules: &Rules, outcomes: &[EchoOutcome], path: Option<&PathStatus>) -> Verdict {
    let mut detail = Vec::with_capacity(outcomes.len() + 1);
    let mut unreachable = Vec::new();
    let mut reachable_count = 0usize;
    for o in outcomes {
        let up = reachable(o, rules.loss_ratio);
        let state = address_state(o, up);
        if up {
            reachable_count += 1;
        } else {
            unreachable.push(format!("{} ({state})", address::display(&o.address)));
        }
        detail.push(format!("{}={state}", address::display(&o.address)));
    }
    if let Some(p) = path {
        detail.push(format!("path={}", p.token()));
    }
    let total = outcomes.len();
    let mut reasons = Vec::new();
    if reachable_count < rules.min_reachable {
        reasons.push(format!(
            "{reachable_count} of {total} storage addresses reachable, {} needed",
            rules.min_reachable
        ));
    }
    if let Some(p) = path.filter(|p| !p.is_ok()) {
        reasons.push(format!("heartbeat path: {}", p.describe()));
    }
    let health = if !reasons.is_empty() {
        Health::Red
    } else if reachable_count < total {
        Health::Yellow
    } else {
        Health::Green
    };
    let score = if health == Health::Red {
        0
    } else {
        u64::from(rules.multiplier) * reachable_count as u64
    };
    Verdict {
        health,
        score,
        reachable: reachable_count,
        total,
        detail: detail.join(","),
        unreachable,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::icmp::SendFailure;

    fn outcome(addr: &str, answered: u32, timed_out: u32, failed: u32) -> EchoOutcome {
        let mut o = EchoOutcome::new(addr.parse().unwrap());
        o.sent = answered + timed_out;
        o.answered = answered;
        o.timed_out = timed_out;
        o.failed = failed;
        if failed > 0 {
            o.failure = Some(SendFailure::NoRoute);
        }
        o
    }

    const UMHA: Rules = Rules {
        loss_ratio: LossRatio::UMHA_DEFAULT,
        min_reachable: 1,
        multiplier: 1000,
    };

    #[test]
    fn umha_loss_ratio_per_address() {
        let half = LossRatio::UMHA_DEFAULT;
        assert!(reachable(&outcome("10.9.9.9", 4, 0, 0), half));
        assert!(
            reachable(&outcome("10.9.9.9", 2, 2, 0), half),
            "2/4 lost is not > 0.5"
        );
        assert!(!reachable(&outcome("10.9.9.9", 1, 3, 0), half));
        assert!(!reachable(&outcome("10.9.9.9", 0, 4, 0), half));
        assert!(
            !reachable(&outcome("10.9.9.9", 0, 0, 0), half),
            "nothing judged"
        );
        let one = LossRatio::from_ppm(1_000_000).unwrap();
        assert!(
            reachable(&outcome("10.9.9.9", 1, 3, 0), one),
            "ping's semantics at 1"
        );
        assert!(!reachable(&outcome("10.9.9.9", 0, 4, 0), one));
        assert!(!reachable(&outcome("10.9.9.9", 3, 1, 0), LossRatio::ZERO));
    }

    #[test]
    fn all_reachable_is_green_with_the_full_score() {
        let v = judge(
            &UMHA,
            &[outcome("127.0.0.1", 4, 0, 0), outcome("::1", 4, 0, 0)],
            None,
        );
        assert_eq!(v.health, Health::Green);
        assert_eq!(v.score, 2000);
        assert_eq!((v.reachable, v.total), (2, 2));
        assert_eq!(v.detail, "127.0.0.1=ok,::1=ok");
        assert!(v.reasons.is_empty() && v.unreachable.is_empty());
    }

    #[test]
    fn some_unreachable_is_yellow_and_scores_what_is_left() {
        let v = judge(
            &UMHA,
            &[outcome("127.0.0.1", 4, 0, 0), outcome("::1", 0, 4, 0)],
            None,
        );
        assert_eq!(v.health, Health::Yellow);
        assert_eq!(v.score, 1000);
        assert_eq!(v.detail, "127.0.0.1=ok,::1=lost 4/4");
        assert_eq!(v.unreachable, ["::1 (lost 4/4)"]);
    }

    #[test]
    fn fewer_than_min_reachable_is_red_and_zero() {
        let rules = Rules {
            min_reachable: 2,
            ..UMHA
        };
        let v = judge(
            &rules,
            &[outcome("127.0.0.1", 4, 0, 0), outcome("::1", 1, 3, 0)],
            None,
        );
        assert_eq!(v.health, Health::Red);
        assert_eq!(v.score, 0);
        assert_eq!(v.reasons, ["1 of 2 storage addresses reachable, 2 needed"]);
        let none = judge(&UMHA, &[outcome("127.0.0.1", 0, 0, 4)], None);
        assert_eq!(none.health, Health::Red);
        assert_eq!(none.detail, "127.0.0.1=no-route");
        let mixed = judge(&UMHA, &[outcome("127.0.0.1", 0, 2, 2)], None);
        assert_eq!(mixed.detail, "127.0.0.1=lost 4/4");
        let cut = judge(&UMHA, &[outcome("127.0.0.1", 0, 0, 0)], None);
        assert_eq!(cut.detail, "127.0.0.1=no-result");
    }

    #[test]
    fn a_failed_path_is_red_even_with_every_address_up() {
        let ok = [outcome("127.0.0.1", 4, 0, 0)];
        let v = judge(&UMHA, &ok, Some(&PathStatus::Ok));
        assert_eq!((v.health, v.score), (Health::Green, 1000));
        assert_eq!(v.detail, "127.0.0.1=ok,path=ok");
        let hung = PathStatus::Hung { still_stuck: false };
        let v = judge(&UMHA, &ok, Some(&hung));
        assert_eq!((v.health, v.score), (Health::Red, 0));
        assert_eq!(v.detail, "127.0.0.1=ok,path=hung");
        assert!(
            v.reasons[0].starts_with("heartbeat path: no answer in time"),
            "{:?}",
            v.reasons
        );
    }

    #[test]
    fn log_worthy_changes() {
        let a = Summary {
            health: Health::Red,
            score: 0,
            detail: "a=lost 3/4,b=ok,path=ok".into(),
        };
        let counts_only = Summary {
            detail: "a=lost 4/4,b=ok,path=ok".into(),
            ..a.clone()
        };
        assert!(!a.differs_for_log(&counts_only));
        let other_down = Summary {
            detail: "a=ok,b=lost 4/4,path=ok".into(),
            ..a.clone()
        };
        assert!(a.differs_for_log(&other_down));
        let why = Summary {
            detail: "a=no-route,b=ok,path=ok".into(),
            ..a.clone()
        };
        assert!(a.differs_for_log(&why));
        let green = Summary {
            health: Health::Green,
            ..a.clone()
        };
        assert!(a.differs_for_log(&green));
    }

    #[test]
    fn health_names() {
        for h in [Health::Green, Health::Yellow, Health::Red] {
            assert_eq!(Health::parse(h.as_str()), Some(h));
        }
        assert_eq!(Health::parse("blue"), None);
        assert!(Health::Red > Health::Yellow);
    }
}
