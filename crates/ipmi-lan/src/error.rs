//! What can go wrong, in words an administrator can act on.
//!
//! A fence agent's failure reason ends up in `crm_mon` and in the fencer's
//! log; "RAKP status 0x0d" helps nobody at 3 a.m., "the BMC does not know user
//! 'admin'" does. Secrets never appear here: errors carry user names and
//! addresses, never passwords or keys.

use std::fmt;

/// Why a datagram could not be decoded. Decoders return this for any input,
/// so a fuzzer or a hostile peer can only ever produce one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{what}: truncated (needs {wanted} bytes, {available} available)")]
    Truncated {
        what: &'static str,
        wanted: usize,
        available: usize,
    },
    #[error("{what}: unexpected value {value:#04x}")]
    Unexpected { what: &'static str, value: u32 },
    #[error("{what}: bad checksum")]
    Checksum { what: &'static str },
    #[error("{what}: length field says {declared} bytes, {actual} present")]
    Length {
        what: &'static str,
        declared: usize,
        actual: usize,
    },
    #[error("integrity check failed (wrong session key, or a forged or corrupted packet)")]
    Integrity,
    #[error("cannot decrypt payload: {0}")]
    Decrypt(&'static str),
}

/// An IPMI completion code (IPMI v2.0 table 5-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CompletionCode(pub u8);

impl CompletionCode {
    pub const OK: Self = Self(0x00);
    pub const NODE_BUSY: Self = Self(0xC0);
    pub const INVALID_COMMAND: Self = Self(0xC1);
    pub const INSUFFICIENT_PRIVILEGE: Self = Self(0xD4);
    pub const UNSPECIFIED: Self = Self(0xFF);

    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// The generic meaning; command-specific codes (0x80–0xBE) are named by
    /// the command that got them, see [`IpmiError::Completion`].
    pub fn description(self) -> &'static str {
        match self.0 {
            0x00 => "command completed normally",
            0xC0 => "node busy",
            0xC1 => "invalid or unsupported command",
            0xC2 => "command invalid for given LUN",
            0xC3 => "timeout while processing command",
            0xC4 => "out of space",
            0xC5 => "reservation canceled or invalid",
            0xC6 => "request data truncated",
            0xC7 => "request data length invalid",
            0xC8 => "request data field length limit exceeded",
            0xC9 => "parameter out of range",
            0xCA => "cannot return number of requested data bytes",
            0xCB => "requested sensor, data or record not present",
            0xCC => "invalid data field in request",
            0xCD => "command illegal for specified sensor or record type",
            0xCE => "command response could not be provided",
            0xCF => "cannot execute duplicated request",
            0xD0 => "SDR repository in update mode",
            0xD1 => "device in firmware update mode",
            0xD2 => "BMC initialization in progress",
            0xD3 => "destination unavailable",
            0xD4 => "insufficient privilege level",
            0xD5 => "command not supported in present state",
            0xD6 => "command sub-function disabled or unavailable",
            0xFF => "unspecified error",
            0x01..=0x7E => "device-specific (OEM) error",
            0x80..=0xBE => "command-specific error",
            _ => "reserved completion code",
        }
    }
}

impl fmt::Display for CompletionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#04x} ({})", self.0, self.description())
    }
}

/// An RMCP+ status code from Open Session or RAKP messages (IPMI v2.0 table 13-15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RakpStatus(pub u8);

impl RakpStatus {
    pub const OK: Self = Self(0x00);
    pub const INSUFFICIENT_RESOURCES: Self = Self(0x01);
    pub const INVALID_SESSION_ID: Self = Self(0x02);
    pub const INVALID_AUTH_ALGORITHM: Self = Self(0x04);
    pub const INVALID_INTEGRITY_ALGORITHM: Self = Self(0x05);
    pub const INVALID_ROLE: Self = Self(0x09);
    pub const UNAUTHORIZED_ROLE: Self = Self(0x0A);
    pub const INVALID_NAME_LENGTH: Self = Self(0x0C);
    pub const UNAUTHORIZED_NAME: Self = Self(0x0D);
    pub const INVALID_INTEGRITY_CHECK: Self = Self(0x0F);
    pub const INVALID_CONFIDENTIALITY_ALGORITHM: Self = Self(0x10);
    pub const NO_CIPHER_SUITE_MATCH: Self = Self(0x11);
    pub const ILLEGAL_PARAMETER: Self = Self(0x12);

    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    pub fn description(self) -> &'static str {
        match self.0 {
            0x00 => "no errors",
            0x01 => "insufficient resources to create a session",
            0x02 => "invalid session ID",
            0x03 => "invalid payload type",
            0x04 => "invalid authentication algorithm",
            0x05 => "invalid integrity algorithm",
            0x06 => "no matching authentication payload",
            0x07 => "no matching integrity payload",
            0x08 => "inactive session ID",
            0x09 => "invalid role",
            0x0A => "unauthorized role or privilege level requested",
            0x0B => "insufficient resources to create a session at the requested role",
            0x0C => "invalid name length",
            0x0D => "unauthorized name",
            0x0E => "unauthorized GUID",
            0x0F => "invalid integrity check value",
            0x10 => "invalid confidentiality algorithm",
            0x11 => "no cipher suite match with proposed security algorithms",
            0x12 => "illegal or unrecognized parameter",
            _ => "reserved status code",
        }
    }

    /// Whether the BMC refused the proposed algorithms (so another cipher suite may work).
    pub fn is_algorithm_mismatch(self) -> bool {
        matches!(self.0, 0x04 | 0x05 | 0x06 | 0x07 | 0x10 | 0x11)
    }
}

impl fmt::Display for RakpStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#04x} ({})", self.0, self.description())
    }
}

/// Why authentication failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// The BMC does not know the user name (RAKP2 "unauthorized name", or
    /// Get Session Challenge "invalid user name").
    UnknownUser { user: String },
    /// The BMC's RAKP2 key-exchange code does not match the password: the
    /// password is wrong (or the BMC is not who it claims to be).
    WrongPassword { user: String },
    /// The session keys do not match although the password did: the BMC key
    /// (Kg, `hexadecimal_kg`) differs, or the BMC failed RAKP4 verification.
    WrongKg,
    /// The BMC refused the requested privilege level for this user.
    PrivilegeNotAllowed { user: String, status: RakpStatus },
    /// Set Session Privilege Level (or Activate Session) refused the level.
    PrivilegeRefused {
        user: String,
        requested: crate::command::Privilege,
        code: CompletionCode,
    },
    /// The BMC rejected a RAKP step with a status code.
    Rejected {
        step: &'static str,
        status: RakpStatus,
    },
    /// IPMI 1.5: the BMC answered the challenge but never the activation,
    /// which is how many BMCs (ipmi_sim among them) treat a wrong password.
    ActivationUnanswered { user: String },
    /// IPMI 1.5: Activate Session or Get Session Challenge refused.
    V15Refused {
        step: &'static str,
        code: CompletionCode,
    },
}

impl fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthFailure::UnknownUser { user } => {
                write!(f, "the BMC does not know user '{user}' (check the login)")
            }
            AuthFailure::WrongPassword { user } => write!(
                f,
                "wrong password for user '{user}' (the BMC's RAKP2 key exchange code does not match)"
            ),
            AuthFailure::WrongKg => f.write_str(
                "session keys do not match although the password does: wrong BMC key (Kg, hexadecimal_kg)",
            ),
            AuthFailure::PrivilegeNotAllowed { user, status } => write!(
                f,
                "the BMC refused the requested privilege level for user '{user}': {status} (check privlvl)"
            ),
            AuthFailure::PrivilegeRefused {
                user,
                requested,
                code,
            } => write!(
                f,
                "the BMC refused privilege level {requested} for user '{user}': {code} (check privlvl and the user's limit on the BMC)"
            ),
            AuthFailure::Rejected { step, status } => {
                write!(f, "the BMC rejected {step}: {status}")
            }
            AuthFailure::ActivationUnanswered { user } => write!(
                f,
                "the BMC answered Get Session Challenge but not Activate Session for user '{user}': wrong password most likely"
            ),
            AuthFailure::V15Refused { step, code } => write!(f, "{step} failed: {code}"),
        }
    }
}

/// Every failure of the client API.
#[derive(Debug, thiserror::Error)]
pub enum IpmiError {
    #[error("invalid IPMI configuration: {0}")]
    Config(String),
    #[error("cannot resolve BMC address '{host}': {detail}")]
    Resolve { host: String, detail: String },
    #[error("BMC {addr} unreachable: {detail}")]
    Unreachable { addr: String, detail: String },
    #[error("no answer from BMC {addr} to {waiting_for} after {tries} tries before the deadline")]
    NoAnswer {
        addr: String,
        waiting_for: &'static str,
        tries: u32,
    },
    #[error("the deadline had passed before {waiting_for} could be sent to BMC {addr}")]
    DeadlinePassed {
        addr: String,
        waiting_for: &'static str,
    },
    #[error("network error talking to BMC {addr}: {detail}")]
    Io { addr: String, detail: String },
    #[error("authentication with BMC failed: {0}")]
    AuthFailed(AuthFailure),
    #[error("the BMC accepts none of the cipher suites tried ({tried}): {status}")]
    NoCipherSuite { tried: String, status: RakpStatus },
    #[error("the BMC refused to open a session: {0}")]
    OpenSessionRefused(RakpStatus),
    #[error("{command} failed: {code}{hint}")]
    Completion {
        command: &'static str,
        code: CompletionCode,
        /// Extra advice, e.g. about privilege levels; may be empty.
        hint: &'static str,
    },
    #[error("malformed answer from BMC to {waiting_for}: {source}")]
    Malformed {
        waiting_for: &'static str,
        source: DecodeError,
    },
    #[error("unsupported by the BMC: {0}")]
    Unsupported(String),
    #[error("the session is closed")]
    Closed,
}

/// Coarse classes, for callers that map errors to exit codes or retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Bad options: retrying will not help.
    Config,
    /// The BMC could not be reached, or did not answer before the deadline.
    Unreachable,
    /// Credentials or privilege: retrying will not help.
    Auth,
    /// The BMC answered but refused or failed the request.
    Bmc,
    /// The BMC's answers did not make sense.
    Protocol,
}

impl IpmiError {
    pub fn class(&self) -> ErrorClass {
        match self {
            IpmiError::Config(_) => ErrorClass::Config,
            IpmiError::Resolve { .. }
            | IpmiError::Unreachable { .. }
            | IpmiError::NoAnswer { .. }
            | IpmiError::DeadlinePassed { .. }
            | IpmiError::Io { .. } => ErrorClass::Unreachable,
            IpmiError::AuthFailed(_) => ErrorClass::Auth,
            IpmiError::Completion { code, .. }
                if *code == CompletionCode::INSUFFICIENT_PRIVILEGE =>
            {
                ErrorClass::Auth
            }
            IpmiError::NoCipherSuite { .. }
            | IpmiError::OpenSessionRefused(_)
            | IpmiError::Completion { .. }
            | IpmiError::Unsupported(_)
            | IpmiError::Closed => ErrorClass::Bmc,
            IpmiError::Malformed { .. } => ErrorClass::Protocol,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_codes_read_well() {
        let e = IpmiError::Completion {
            command: "Chassis Control",
            code: CompletionCode(0xD4),
            hint: "",
        };
        assert_eq!(
            e.to_string(),
            "Chassis Control failed: 0xd4 (insufficient privilege level)"
        );
        assert_eq!(e.class(), ErrorClass::Auth);
        assert_eq!(CompletionCode(0x85).description(), "command-specific error");
    }

    #[test]
    fn rakp_status_names() {
        assert_eq!(RakpStatus(0x0D).to_string(), "0x0d (unauthorized name)");
        assert!(RakpStatus(0x11).is_algorithm_mismatch());
        assert!(!RakpStatus(0x0D).is_algorithm_mismatch());
    }
}
