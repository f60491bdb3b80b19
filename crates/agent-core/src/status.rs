//! OCF exit codes.
//!
//! Pacemaker decides what to do next from nothing but the exit code: a 7 from
//! a probe means "not here", a 6 stops the resource everywhere, a failed stop
//! fences the node. The codes are therefore a closed enum rather than bare
//! integers, so an agent cannot invent one Pacemaker would misread.

use std::fmt;
use std::process::ExitCode;

/// Every exit code of the OCF 1.1 standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcfStatus {
    /// 0: the action succeeded (monitor: running).
    Success,
    /// 1: a generic failure; Pacemaker recovers (restart, then move).
    ErrGeneric,
    /// 2: wrong arguments or environment, for this node only.
    ErrArgs,
    /// 3: the action is not implemented by this agent.
    ErrUnimplemented,
    /// 4: insufficient privileges, for this node only.
    ErrPerm,
    /// 5: something the agent needs is missing on this node.
    ErrInstalled,
    /// 6: the configuration is invalid; Pacemaker stops the resource everywhere.
    ErrConfigured,
    /// 7: cleanly not running (monitor and probes only).
    NotRunning,
    /// 8: running in the promoted role.
    RunningPromoted,
    /// 9: failed in the promoted role.
    FailedPromoted,
    /// 190: running, but degraded.
    Degraded,
    /// 191: running promoted, but degraded.
    DegradedPromoted,
}

impl OcfStatus {
    /// All codes, in numeric order.
    pub const ALL: [OcfStatus; 12] = [
        OcfStatus::Success,
        OcfStatus::ErrGeneric,
        OcfStatus::ErrArgs,
        OcfStatus::ErrUnimplemented,
        OcfStatus::ErrPerm,
        OcfStatus::ErrInstalled,
        OcfStatus::ErrConfigured,
        OcfStatus::NotRunning,
        OcfStatus::RunningPromoted,
        OcfStatus::FailedPromoted,
        OcfStatus::Degraded,
        OcfStatus::DegradedPromoted,
    ];

    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            OcfStatus::Success => 0,
            OcfStatus::ErrGeneric => 1,
            OcfStatus::ErrArgs => 2,
            OcfStatus::ErrUnimplemented => 3,
            OcfStatus::ErrPerm => 4,
            OcfStatus::ErrInstalled => 5,
            OcfStatus::ErrConfigured => 6,
            OcfStatus::NotRunning => 7,
            OcfStatus::RunningPromoted => 8,
            OcfStatus::FailedPromoted => 9,
            OcfStatus::Degraded => 190,
            OcfStatus::DegradedPromoted => 191,
        }
    }

    pub fn from_code(code: u8) -> Option<OcfStatus> {
        OcfStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The shell constant administrators know from `ocf-shellfuncs`.
    pub const fn name(self) -> &'static str {
        match self {
            OcfStatus::Success => "OCF_SUCCESS",
            OcfStatus::ErrGeneric => "OCF_ERR_GENERIC",
            OcfStatus::ErrArgs => "OCF_ERR_ARGS",
            OcfStatus::ErrUnimplemented => "OCF_ERR_UNIMPLEMENTED",
            OcfStatus::ErrPerm => "OCF_ERR_PERM",
            OcfStatus::ErrInstalled => "OCF_ERR_INSTALLED",
            OcfStatus::ErrConfigured => "OCF_ERR_CONFIGURED",
            OcfStatus::NotRunning => "OCF_NOT_RUNNING",
            OcfStatus::RunningPromoted => "OCF_RUNNING_PROMOTED",
            OcfStatus::FailedPromoted => "OCF_FAILED_PROMOTED",
            OcfStatus::Degraded => "OCF_DEGRADED",
            OcfStatus::DegradedPromoted => "OCF_DEGRADED_PROMOTED",
        }
    }

    pub const fn is_success(self) -> bool {
        matches!(self, OcfStatus::Success)
    }
}

impl fmt::Display for OcfStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

impl From<OcfStatus> for ExitCode {
    fn from(status: OcfStatus) -> ExitCode {
        ExitCode::from(status.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_ocf_standard() {
        let codes: Vec<u8> = OcfStatus::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 190, 191]);
        for s in OcfStatus::ALL {
            assert_eq!(OcfStatus::from_code(s.code()), Some(s));
        }
        assert_eq!(OcfStatus::from_code(10), None);
        assert_eq!(
            OcfStatus::ErrConfigured.to_string(),
            "OCF_ERR_CONFIGURED (6)"
        );
    }
}
