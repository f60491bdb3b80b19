//! How long each part of an operation may take, and the one deadline over all of it.
//!
//! **The timeout trap.** fence-agents' library sets `power_timeout`,
//! `login_timeout` and `shell_timeout` to 0 ("no timeout") whenever
//! `PCMK_service=pacemaker-fenced` is set. A dead or stuck BMC then holds the
//! agent until pacemaker-fenced kills it at `pcmk_off_timeout` (60 s by
//! default), retries it, and only then lets a fencing topology try its next
//! level. Pacemaker does not tell the agent its timeout (no `pcmk_*_timeout`
//! and no `CRM_meta_timeout` on stdin, see [`crate::input::stdin`]), so umha
//! keeps its own: one [`Deadline`](umha_common::Deadline) for the whole run, derived from the
//! options, and normally below Pacemaker's default:
//!
//! ```text
//! session  = login_timeout + shell_timeout            (connect, first status read)
//! off part = shell_timeout + power_wait + power_timeout
//! on part  = shell_timeout + power_wait + power_timeout
//! off      = delay + session + off part + margin
//! reboot   = delay + session + off part + retry_on × on part + margin
//! on       = session + (1 + retry_on) × on part + margin
//! status, monitor, list = session + shell_timeout + margin
//! ```
//!
//! The result is capped at [`CEILING`] (55 s, under the 60 s default), except
//! that the part fencing needs to succeed (everything up to a verified off)
//! is never cut: if the options alone ask for more, the options win and the
//! operator must raise `pcmk_off_timeout`/`pcmk_reboot_timeout` to match (a
//! warning says so). With the defaults an `off` gets 33 s (35 s with
//! fence_ipmilan's `power_wait=2`), so a stuck BMC fails early enough for
//! Pacemaker's own retry (made only while 30 % of its timeout is left) and
//! a dead one fails after `login_timeout`.
//!
//! `power_timeout=0` means one read-back and no waiting, never "forever".
//! `disable_timeout` is accepted and ignored.

use std::time::Duration;

use crate::action::Action;

/// Pacemaker's default `pcmk_off_timeout`/`pcmk_reboot_timeout`/`stonith-timeout`.
pub const PACEMAKER_DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The cap on the overall budget, under [`PACEMAKER_DEFAULT_TIMEOUT`].
pub const CEILING: Duration = Duration::from_secs(55);

/// Room for process start, logging and the after-off hooks.
pub const MARGIN: Duration = Duration::from_secs(2);

/// How often to read the state while waiting for a power cycle to show off:
/// a BMC keeps the power off for about a second during a cycle (the IPMI
/// specification asks for at least one), so the usual `stonith_status_sleep`
/// of 1 s could miss it.
pub const CYCLE_POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Never poll faster than this, whatever `stonith_status_sleep` says.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);

/// How reboot is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// Off, verify off, on, verify on.
    #[default]
    OnOff,
    /// The device's own cycle; success needs off to be observed during it.
    Cycle,
}

/// The timing options, typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Before fencing (off and reboot only).
    pub delay: Duration,
    /// For connecting and logging in (and for `password_script`).
    pub login_timeout: Duration,
    /// For each request once connected.
    pub shell_timeout: Duration,
    /// After a power change, before the first read-back.
    pub power_wait: Duration,
    /// For the read-back to show the new state, after `power_wait`.
    pub power_timeout: Duration,
    /// Between read-backs.
    pub status_sleep: Duration,
    /// Extra power-on attempts (`on` makes 1 + retry_on, reboot's on part retry_on).
    pub retry_on: u32,
}

impl Default for Timing {
    /// fence-agents' defaults.
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            login_timeout: Duration::from_secs(5),
            shell_timeout: Duration::from_secs(3),
            power_wait: Duration::ZERO,
            power_timeout: Duration::from_secs(20),
            status_sleep: Duration::from_secs(1),
            retry_on: 1,
        }
    }
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "delay={:?} login_timeout={:?} shell_timeout={:?} power_wait={:?} power_timeout={:?} stonith_status_sleep={:?} retry_on={}",
            self.delay,
            self.login_timeout,
            self.shell_timeout,
            self.power_wait,
            self.power_timeout,
            self.status_sleep,
            self.retry_on
        )
    }
}

impl Timing {
    fn session(&self) -> Duration {
        self.login_timeout + self.shell_timeout
    }

    fn power_part(&self) -> Duration {
        self.shell_timeout + self.power_wait + self.power_timeout
    }

    fn cycle_part(&self) -> Duration {
        self.shell_timeout + self.power_timeout
    }

    /// What `action` needs to succeed, and what it would like in all.
    fn parts(&self, action: Action, method: Method) -> (Duration, Duration) {
        let retries = self.retry_on;
        match action {
            Action::Off => {
                let need = self.delay + self.session() + self.power_part() + MARGIN;
                (need, need)
            }
            Action::Reboot => match method {
                Method::OnOff => {
                    let need = self.delay + self.session() + self.power_part() + MARGIN;
                    (need, need + self.power_part().saturating_mul(retries))
                }
                Method::Cycle => {
                    let need = self.delay + self.session() + self.cycle_part() + MARGIN;
                    (need, need + self.cycle_part().saturating_mul(retries))
                }
            },
            Action::On => {
                let need = self.session() + self.power_part() + MARGIN;
                (need, need + self.power_part().saturating_mul(retries))
            }
            _ => {
                let need = self.session() + self.shell_timeout + MARGIN;
                (need, need)
            }
        }
    }

    /// The overall budget for `action`, see the module documentation.
    pub fn budget(&self, action: Action, method: Method) -> Duration {
        let (need, want) = self.parts(action, method);
        want.min(CEILING.max(need))
    }

    /// Whether the options alone ask for more than [`CEILING`]: the operator
    /// must then raise Pacemaker's timeout for this device.
    pub fn exceeds_ceiling(&self, action: Action, method: Method) -> bool {
        self.parts(action, method).0 > CEILING
    }

    /// The interval between read-backs.
    pub fn poll_interval(&self) -> Duration {
        self.status_sleep.max(MIN_POLL_INTERVAL)
    }

    /// The interval between read-backs while a cycle should show off.
    pub fn cycle_poll_interval(&self) -> Duration {
        self.poll_interval().min(CYCLE_POLL_INTERVAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_keep_off_well_under_pacemaker() {
        let t = Timing::default();
        assert_eq!(
            t.budget(Action::Off, Method::OnOff),
            Duration::from_secs(33)
        );
        let ipmi = Timing {
            power_wait: Duration::from_secs(2),
            ..t
        };
        assert_eq!(
            ipmi.budget(Action::Off, Method::OnOff),
            Duration::from_secs(35)
        );
        assert!(ipmi.budget(Action::Reboot, Method::OnOff) <= CEILING);
        assert!(ipmi.budget(Action::On, Method::OnOff) <= CEILING);
        assert_eq!(
            t.budget(Action::Status, Method::OnOff),
            Duration::from_secs(13)
        );
    }

    #[test]
    fn reboot_on_part_is_what_gets_cut() {
        let t = Timing {
            power_wait: Duration::from_secs(2),
            ..Timing::default()
        };
        // 0 + 8 + 25 + 2 = 35 needed, 60 wanted, 55 granted.
        assert_eq!(t.budget(Action::Reboot, Method::OnOff), CEILING);
    }

    #[test]
    fn options_that_need_more_than_the_ceiling_win() {
        let t = Timing {
            delay: Duration::from_secs(30),
            power_timeout: Duration::from_secs(60),
            ..Timing::default()
        };
        assert!(t.exceeds_ceiling(Action::Off, Method::OnOff));
        assert_eq!(
            t.budget(Action::Off, Method::OnOff),
            Duration::from_secs(103)
        );
        assert_eq!(
            t.budget(Action::Reboot, Method::OnOff),
            Duration::from_secs(103)
        );
    }

    #[test]
    fn polling_never_spins() {
        let t = Timing {
            status_sleep: Duration::ZERO,
            ..Timing::default()
        };
        assert_eq!(t.poll_interval(), MIN_POLL_INTERVAL);
        assert_eq!(Timing::default().cycle_poll_interval(), CYCLE_POLL_INTERVAL);
    }
}
