//! The power callbacks an agent supplies, and what can go wrong with them.
//!
//! A device only answers single requests: read the power state, switch it,
//! cycle it, list plugs. Waiting, polling, verification, retries, delays and
//! the overall deadline are the runner's, so a new agent cannot get the
//! fencing contract wrong.

use std::fmt;

use umha_common::Deadline;

/// A power state as read from the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PowerState {
    On,
    Off,
    /// The device answered but could not tell (MAAS `unknown`/`error`, an
    /// unparsable reply). Never treated as off.
    Unknown,
}

impl PowerState {
    /// As fence-agents prints it in `Status:` and list-status lines.
    pub fn label(self) -> &'static str {
        match self {
            PowerState::On => "ON",
            PowerState::Off => "OFF",
            PowerState::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for PowerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One line of `list`: a plug the device controls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outlet {
    pub plug: String,
    /// A human name; printed empty when there is none.
    pub alias: Option<String>,
    /// Filled when the device learns it for free while listing; list-status
    /// prints UNKNOWN otherwise.
    pub state: Option<PowerState>,
}

impl Outlet {
    pub fn new(plug: impl Into<String>) -> Self {
        Self {
            plug: plug.into(),
            alias: None,
            state: None,
        }
    }
}

/// Why a device request failed. Messages must never contain a secret.
///
/// The kind decides what the runner does next: transient kinds (the device
/// did not answer this time) are retried within the deadline, with a new
/// session; the others end the operation at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// Nothing answers at the address (refused, no route, name not found, no reply at all).
    #[error("Unable to connect to fencing device: {0}")]
    Unreachable(String),
    /// The device answered and refused the credentials or the privilege.
    #[error("Unable to login to fencing device: {0}")]
    AuthFailed(String),
    /// A request got no answer in time. The wording "timed out" is what
    /// pacemaker-fenced looks for to report a timeout.
    #[error("Connection timed out: {0}")]
    Timeout(String),
    /// The device answered something unexpected (malformed reply, error code).
    #[error("Protocol error: {0}")]
    Protocol(String),
    /// The device cannot do this (no cycle, no list, no such command).
    #[error("Not supported by the device: {0}")]
    Unsupported(String),
    /// The plug does not exist on the device.
    #[error("Failed: Unable to obtain correct plug status or plug is not available: {0}")]
    NoSuchPlug(String),
}

impl DeviceError {
    /// Worth another try with a new session within the deadline.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            DeviceError::Unreachable(_) | DeviceError::Timeout(_) | DeviceError::Protocol(_)
        )
    }
}

/// A session with a power device, opened by [`crate::Agent::connect`].
///
/// Every call gets the deadline it must finish by: the runner passes the
/// earlier of the operation's overall deadline and `shell_timeout`. `plug` is
/// `None` on a single-target device and names the target on a multi-plug one.
/// Implementations should not retry on their own beyond their protocol's
/// retransmissions: the runner reconnects and retries transient errors.
pub trait PowerDevice {
    /// Read the power state.
    fn status(&mut self, plug: Option<&str>, deadline: Deadline)
    -> Result<PowerState, DeviceError>;

    /// Ask for power on. Returning Ok means the request was accepted, not that
    /// the power is on: the runner reads it back.
    fn power_on(&mut self, plug: Option<&str>, deadline: Deadline) -> Result<(), DeviceError>;

    /// Ask for a hard power off (never a soft shutdown: the target may be hung).
    fn power_off(&mut self, plug: Option<&str>, deadline: Deadline) -> Result<(), DeviceError>;

    /// The device's own power cycle (IPMI chassis cycle). Only called when
    /// [`crate::Capabilities::cycle`] is set.
    fn power_cycle(&mut self, _plug: Option<&str>, _deadline: Deadline) -> Result<(), DeviceError> {
        Err(DeviceError::Unsupported("power cycle".into()))
    }

    /// The plugs of a multi-plug device. `with_status` says list-status asked;
    /// fill [`Outlet::state`] if it comes cheaply. Only called when
    /// [`crate::Capabilities::list`] is set.
    fn list(
        &mut self,
        _with_status: bool,
        _deadline: Deadline,
    ) -> Result<Vec<Outlet>, DeviceError> {
        Err(DeviceError::Unsupported("list".into()))
    }

    /// Pulse a diagnostic interrupt. Only called when [`crate::Capabilities::diag`] is set.
    fn diag(&mut self, _plug: Option<&str>, _deadline: Deadline) -> Result<(), DeviceError> {
        Err(DeviceError::Unsupported("diag".into()))
    }

    /// End the session politely (logout, close). Best effort; errors are the
    /// device's to log at debug level.
    fn close(&mut self, _deadline: Deadline) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_say_timed_out_for_pacemaker() {
        let text = DeviceError::Timeout("no reply to Get Chassis Status".into()).to_string();
        assert!(text.contains("timed out"), "{text}");
    }

    #[test]
    fn only_silence_and_garbage_are_transient() {
        assert!(DeviceError::Timeout(String::new()).is_transient());
        assert!(DeviceError::Unreachable(String::new()).is_transient());
        assert!(!DeviceError::AuthFailed(String::new()).is_transient());
        assert!(!DeviceError::Unsupported(String::new()).is_transient());
        assert!(!DeviceError::NoSuchPlug(String::new()).is_transient());
    }
}
