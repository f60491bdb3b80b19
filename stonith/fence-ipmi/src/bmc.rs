//! The BMC as stonith-core sees it: one RMCP+ or IPMI 1.5 session, answering
//! single power requests. Waiting, read-back, retries and the deadline are
//! the runner's.
//!
//! The states are reported as the BMC gives them. Some BMCs report stale or
//! wrong states for a while (after a reset, a firmware hiccup); the runner's
//! fencing policy covers that for every agent: an OFF read before this run
//! has requested power off is not believed, and power off is sent anyway.
//! IPMI's Chassis Control power down is harmless on a chassis that is off, so
//! fence_ipmi keeps that policy (it leaves
//! `Capabilities::redundant_off_unsafe` unset).

use ipmi_lan::{ChassisControl, CompletionCode, IpmiError, RakpStatus, Session};
use stonith_core::{DeviceError, PowerDevice, PowerState};
use umha_common::Deadline;

/// A session with one BMC.
#[derive(Debug)]
pub struct Bmc {
    /// `None` once closed.
    session: Option<Session>,
}

impl Bmc {
    pub fn new(session: Session) -> Self {
        Self {
            session: Some(session),
        }
    }

    fn session(&mut self, deadline: Deadline) -> Result<&mut Session, DeviceError> {
        let session = self
            .session
            .as_mut()
            .ok_or_else(|| DeviceError::Protocol("the IPMI session is closed".into()))?;
        session.set_deadline(deadline);
        Ok(session)
    }

    fn control(&mut self, action: ChassisControl, deadline: Deadline) -> Result<(), DeviceError> {
        self.session(deadline)?
            .chassis_control(action)
            .map_err(|e| device_error_for(e, action))
    }
}

impl PowerDevice for Bmc {
    fn status(
        &mut self,
        _plug: Option<&str>,
        deadline: Deadline,
    ) -> Result<PowerState, DeviceError> {
        let status = self
            .session(deadline)?
            .chassis_status()
            .map_err(device_error)?;
        Ok(if status.power_on {
            PowerState::On
        } else {
            PowerState::Off
        })
    }

    fn power_on(&mut self, _plug: Option<&str>, deadline: Deadline) -> Result<(), DeviceError> {
        self.control(ChassisControl::PowerOn, deadline)
    }

    fn power_off(&mut self, _plug: Option<&str>, deadline: Deadline) -> Result<(), DeviceError> {
        self.control(ChassisControl::PowerOff, deadline)
    }

    fn power_cycle(&mut self, _plug: Option<&str>, deadline: Deadline) -> Result<(), DeviceError> {
        self.control(ChassisControl::PowerCycle, deadline)
    }

    fn diag(&mut self, _plug: Option<&str>, deadline: Deadline) -> Result<(), DeviceError> {
        self.control(ChassisControl::DiagnosticInterrupt, deadline)
    }

    fn close(&mut self, deadline: Deadline) {
        if let Some(mut session) = self.session.take() {
            session.set_deadline(deadline);
            if let Err(err) = session.close() {
                log::debug!("closing the IPMI session: {err}");
            }
        }
    }
}

/// What the runner should make of a client error: retry (the BMC did not
/// answer, or answered nonsense or a transient error) or stop (credentials,
/// configuration, unsupported). The text is the client's, which names user
/// and address but never a secret.
pub fn device_error(err: IpmiError) -> DeviceError {
    let text = err.to_string();
    match err {
        IpmiError::NoAnswer { .. } | IpmiError::DeadlinePassed { .. } => DeviceError::Timeout(text),
        IpmiError::Resolve { .. } | IpmiError::Unreachable { .. } | IpmiError::Io { .. } => {
            DeviceError::Unreachable(text)
        }
        IpmiError::Config(_) | IpmiError::AuthFailed(_) | IpmiError::NoCipherSuite { .. } => {
            DeviceError::AuthFailed(text)
        }
        IpmiError::OpenSessionRefused(status) if status == RakpStatus::INSUFFICIENT_RESOURCES => {
            DeviceError::Protocol(text)
        }
        IpmiError::OpenSessionRefused(_) => DeviceError::AuthFailed(text),
        IpmiError::Completion { code, .. } if code == CompletionCode::INSUFFICIENT_PRIVILEGE => {
            DeviceError::AuthFailed(format!(
                "{text}; the account or privlvl cannot control the chassis (operator or administrator needed)"
            ))
        }
        IpmiError::Completion { .. } | IpmiError::Malformed { .. } | IpmiError::Closed => {
            DeviceError::Protocol(text)
        }
        IpmiError::Unsupported(_) => DeviceError::Unsupported(text),
    }
}

/// As [`device_error`], except that a BMC refusing a cycle or a diagnostic
/// interrupt outright says it cannot do it (so the runner falls back to off
/// and on), rather than failing transiently.
fn device_error_for(err: IpmiError, action: ChassisControl) -> DeviceError {
    let optional = matches!(
        action,
        ChassisControl::PowerCycle | ChassisControl::DiagnosticInterrupt
    );
    match err {
        IpmiError::Completion { code, .. }
            if optional && matches!(code.0, 0xC1 | 0xCC | 0xD5 | 0xD6) =>
        {
            DeviceError::Unsupported(format!("{action}: {err}"))
        }
        other => device_error(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipmi_lan::AuthFailure;

    #[test]
    fn silence_is_a_timeout_and_says_so() {
        let e = device_error(IpmiError::NoAnswer {
            addr: "127.0.0.1:623".into(),
            waiting_for: "RAKP 2",
            tries: 4,
        });
        assert!(matches!(e, DeviceError::Timeout(_)));
        assert!(e.to_string().contains("timed out"), "{e}");
        assert!(e.is_transient());
    }

    #[test]
    fn credentials_end_the_operation_with_clear_words() {
        let e = device_error(IpmiError::AuthFailed(AuthFailure::WrongPassword {
            user: "admin".into(),
        }));
        assert!(!e.is_transient());
        assert_eq!(
            e.to_string(),
            "Unable to login to fencing device: authentication with BMC failed: wrong password for user 'admin' (the BMC's RAKP2 key exchange code does not match)"
        );
        let e = device_error(IpmiError::Completion {
            command: "Chassis Control",
            code: CompletionCode::INSUFFICIENT_PRIVILEGE,
            hint: "",
        });
        assert!(!e.is_transient());
        assert!(e.to_string().contains("operator or administrator"), "{e}");
    }

    #[test]
    fn a_failing_command_is_retried() {
        let e = device_error(IpmiError::Completion {
            command: "Chassis Control",
            code: CompletionCode::UNSPECIFIED,
            hint: "",
        });
        assert!(e.is_transient());
        assert!(device_error(IpmiError::Closed).is_transient());
        assert!(
            device_error(IpmiError::OpenSessionRefused(
                RakpStatus::INSUFFICIENT_RESOURCES
            ))
            .is_transient()
        );
        assert!(
            !device_error(IpmiError::OpenSessionRefused(RakpStatus::INVALID_ROLE)).is_transient()
        );
    }

    #[test]
    fn a_refused_cycle_is_unsupported_but_a_refused_off_is_not() {
        let refused = || IpmiError::Completion {
            command: "Chassis Control",
            code: CompletionCode(0xD5),
            hint: "",
        };
        assert!(matches!(
            device_error_for(refused(), ChassisControl::PowerCycle),
            DeviceError::Unsupported(_)
        ));
        assert!(matches!(
            device_error_for(refused(), ChassisControl::PowerOff),
            DeviceError::Protocol(_)
        ));
    }
}
