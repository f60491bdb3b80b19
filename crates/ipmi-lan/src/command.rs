//! The few IPMI commands fencing needs, as typed request and response data
//! (IPMI v2.0 §22 App commands, §28 chassis commands). Each type encodes and
//! decodes both ways, so the client and the test BMC share one definition.

use std::fmt;

use crate::crypto::{AuthType, CipherSuite};
use crate::error::DecodeError;
use crate::message::net_fn;
use crate::wire::Reader;

/// A command's network function, code and name (for messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command {
    pub net_fn: u8,
    pub cmd: u8,
    pub name: &'static str,
}

pub const GET_DEVICE_ID: Command = Command {
    net_fn: net_fn::APP,
    cmd: 0x01,
    name: "Get Device ID",
};
pub const GET_CHANNEL_AUTH_CAPS: Command = Command {
    net_fn: net_fn::APP,
    cmd: 0x38,
    name: "Get Channel Authentication Capabilities",
};
pub const GET_SESSION_CHALLENGE: Command = Command {
    net_fn: net_fn::APP,
    cmd: 0x39,
    name: "Get Session Challenge",
};
pub const ACTIVATE_SESSION: Command = Command {
    net_fn: net_fn::APP,
    cmd: 0x3A,
    name: "Activate Session",
};
pub const SET_SESSION_PRIVILEGE: Command = Command {
    net_fn: net_fn::APP,
    cmd: 0x3B,
    name: "Set Session Privilege Level",
};
pub const CLOSE_SESSION: Command = Command {
    net_fn: net_fn::APP,
    cmd: 0x3C,
    name: "Close Session",
};
pub const GET_CHANNEL_CIPHER_SUITES: Command = Command {
    net_fn: net_fn::APP,
    cmd: 0x54,
    name: "Get Channel Cipher Suites",
};
pub const GET_CHASSIS_STATUS: Command = Command {
    net_fn: net_fn::CHASSIS,
    cmd: 0x01,
    name: "Get Chassis Status",
};
pub const CHASSIS_CONTROL: Command = Command {
    net_fn: net_fn::CHASSIS,
    cmd: 0x02,
    name: "Chassis Control",
};

/// The channel number meaning "the channel this request arrived on".
pub const CURRENT_CHANNEL: u8 = 0x0E;

/// Session privilege levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Privilege {
    Callback,
    User,
    Operator,
    Administrator,
}

impl Privilege {
    pub fn code(self) -> u8 {
        match self {
            Privilege::Callback => 1,
            Privilege::User => 2,
            Privilege::Operator => 3,
            Privilege::Administrator => 4,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code & 0x0F {
            1 => Some(Privilege::Callback),
            2 => Some(Privilege::User),
            3 => Some(Privilege::Operator),
            4 => Some(Privilege::Administrator),
            _ => None,
        }
    }

    /// The names fence_ipmilan's `privlvl` and ipmitool's `-L` accept.
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "callback" => Some(Privilege::Callback),
            "user" => Some(Privilege::User),
            "operator" => Some(Privilege::Operator),
            "administrator" | "admin" => Some(Privilege::Administrator),
            _ => None,
        }
    }
}

impl fmt::Display for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Privilege::Callback => "callback",
            Privilege::User => "user",
            Privilege::Operator => "operator",
            Privilege::Administrator => "administrator",
        })
    }
}

/// Get Channel Authentication Capabilities request data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthCapsRequest {
    /// Ask for the IPMI 2.0 extended data (bit 7 of the channel byte).
    pub v2: bool,
    pub channel: u8,
    pub privilege: Privilege,
}

impl AuthCapsRequest {
    pub fn encode(&self) -> Vec<u8> {
        vec![
            (self.channel & 0x0F) | if self.v2 { 0x80 } else { 0 },
            self.privilege.code(),
        ]
    }

    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data, "Get Channel Auth Caps request");
        let ch = r.u8()?;
        let p = r.u8()?;
        Ok(Self {
            v2: ch & 0x80 != 0,
            channel: ch & 0x0F,
            privilege: Privilege::from_code(p).ok_or(DecodeError::Unexpected {
                what: "requested privilege level",
                value: p.into(),
            })?,
        })
    }
}

/// Get Channel Authentication Capabilities response data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthCaps {
    pub channel: u8,
    /// Bit mask of IPMI 1.5 auth types (see [`AuthType::mask`]).
    pub auth_types: u8,
    /// The BMC has a non-zero Kg (BMC key) set.
    pub kg_set: bool,
    pub per_message_auth_disabled: bool,
    pub user_level_auth_disabled: bool,
    pub non_null_users: bool,
    pub null_users: bool,
    pub anonymous: bool,
    pub ipmi15: bool,
    pub ipmi20: bool,
    pub oem_id: u32,
    pub oem_aux: u8,
}

impl AuthCaps {
    pub fn supports(&self, t: AuthType) -> bool {
        self.auth_types & t.mask() != 0
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut b2 = self.auth_types & 0x3F;
        if self.ipmi20 {
            b2 |= 0x80;
        }
        let b3 = u8::from(self.kg_set) << 5
            | u8::from(self.per_message_auth_disabled) << 4
            | u8::from(self.user_level_auth_disabled) << 3
            | u8::from(self.non_null_users) << 2
            | u8::from(self.null_users) << 1
            | u8::from(self.anonymous);
        let b4 = u8::from(self.ipmi20) << 1 | u8::from(self.ipmi15);
        let oem = self.oem_id.to_le_bytes();
        vec![
            self.channel,
            b2,
            b3,
            b4,
            oem[0],
            oem[1],
            oem[2],
            self.oem_aux,
        ]
    }

    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data, "Get Channel Auth Caps response");
        let channel = r.u8()?;
        let b2 = r.u8()?;
        let b3 = r.u8()?;
        // An IPMI 1.5-only BMC may stop here or send zeros for the v2 byte.
        let b4 = if r.is_empty() { 0 } else { r.u8()? };
        let oem = r.take(3).unwrap_or(&[0, 0, 0]);
        let oem_aux = if r.is_empty() { 0 } else { r.u8()? };
        let mut oem_bytes = [0u8; 4];
        for (o, b) in oem_bytes.iter_mut().zip(oem) {
            *o = *b;
        }
        let v2_data = b2 & 0x80 != 0;
        Ok(Self {
            channel,
            auth_types: b2 & 0x3F,
            kg_set: b3 & 0x20 != 0,
            per_message_auth_disabled: b3 & 0x10 != 0,
            user_level_auth_disabled: b3 & 0x08 != 0,
            non_null_users: b3 & 0x04 != 0,
            null_users: b3 & 0x02 != 0,
            anonymous: b3 & 0x01 != 0,
            ipmi15: !v2_data || b4 & 0x01 != 0,
            ipmi20: v2_data && b4 & 0x02 != 0,
            oem_id: u32::from_le_bytes(oem_bytes),
            oem_aux,
        })
    }
}

/// Get Channel Cipher Suites request data (IPMI v2.0 §22.15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CipherSuitesRequest {
    pub channel: u8,
    /// Payload type whose suites are listed (0 = IPMI).
    pub payload_type: u8,
    /// Index of the 16-byte chunk of the record list (0..=63).
    pub index: u8,
}

impl CipherSuitesRequest {
    pub fn encode(&self) -> Vec<u8> {
        // Bit 7 of the index: list by cipher suite (not by algorithm).
        vec![
            self.channel & 0x0F,
            self.payload_type,
            0x80 | (self.index & 0x3F),
        ]
    }

    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data, "Get Channel Cipher Suites request");
        Ok(Self {
            channel: r.u8()? & 0x0F,
            payload_type: r.u8()?,
            index: r.u8()? & 0x3F,
        })
    }
}

/// One chunk of the cipher suite record list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CipherSuitesChunk {
    pub channel: u8,
    /// Up to 16 bytes of record data; fewer means the list ends here.
    pub records: Vec<u8>,
}

impl CipherSuitesChunk {
    pub const MAX: usize = 16;

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.channel];
        out.extend(self.records.iter().take(Self::MAX));
        out
    }

    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data, "Get Channel Cipher Suites response");
        let channel = r.u8()?;
        let records = r.rest();
        if records.len() > Self::MAX {
            return Err(DecodeError::Length {
                what: "cipher suite records chunk",
                declared: Self::MAX,
                actual: records.len(),
            });
        }
        Ok(Self {
            channel,
            records: records.to_vec(),
        })
    }
}

/// The cipher suite IDs in a concatenated record list. Records are
/// `C0 id auth integ conf` (standard) or `C1 id iana×3 auth integ conf` (OEM);
/// the algorithm bytes are told apart by their top two bits.
pub fn parse_cipher_suite_records(data: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut ids = Vec::new();
    let mut r = Reader::new(data, "cipher suite records");
    while !r.is_empty() {
        let start = r.u8()?;
        match start {
            0xC0 => ids.push(r.u8()?),
            0xC1 => {
                ids.push(r.u8()?);
                r.skip(3)?;
            }
            other => {
                return Err(DecodeError::Unexpected {
                    what: "cipher suite record start",
                    value: other.into(),
                });
            }
        }
        // Algorithm bytes: anything below 0xC0.
        while let Some(&b) = data.get(r.position()) {
            if b >= 0xC0 {
                break;
            }
            r.skip(1)?;
        }
    }
    Ok(ids)
}

/// The record list a BMC offering `suites` sends.
pub fn cipher_suite_records(suites: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for id in suites {
        if let Some(s) = CipherSuite::from_id(*id) {
            out.extend_from_slice(&[
                0xC0,
                s.id,
                s.auth.code(),
                0x40 | s.integrity.code(),
                0x80 | s.confidentiality.code(),
            ]);
        }
    }
    out
}

/// Chassis power state from Get Chassis Status (IPMI v2.0 §28.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChassisStatus {
    pub power_on: bool,
    pub power_overload: bool,
    pub interlock: bool,
    pub power_fault: bool,
    pub power_control_fault: bool,
    /// Power restore policy: 0 stay off, 1 restore, 2 always on, 3 unknown.
    pub restore_policy: u8,
    pub last_power_event: u8,
    pub misc: u8,
}

impl ChassisStatus {
    pub fn encode(&self) -> Vec<u8> {
        let b1 = u8::from(self.power_on)
            | u8::from(self.power_overload) << 1
            | u8::from(self.interlock) << 2
            | u8::from(self.power_fault) << 3
            | u8::from(self.power_control_fault) << 4
            | (self.restore_policy & 3) << 5;
        vec![b1, self.last_power_event, self.misc]
    }

    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data, "Get Chassis Status response");
        let b1 = r.u8()?;
        // The other bytes are mandatory by the spec, but only byte 1 matters
        // for fencing: do not fail a power check over them.
        let last_power_event = r.u8().unwrap_or(0);
        let misc = r.u8().unwrap_or(0);
        Ok(Self {
            power_on: b1 & 0x01 != 0,
            power_overload: b1 & 0x02 != 0,
            interlock: b1 & 0x04 != 0,
            power_fault: b1 & 0x08 != 0,
            power_control_fault: b1 & 0x10 != 0,
            restore_policy: (b1 >> 5) & 3,
            last_power_event,
            misc,
        })
    }
}

/// Chassis Control actions (IPMI v2.0 §28.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChassisControl {
    PowerOff,
    PowerOn,
    PowerCycle,
    HardReset,
    DiagnosticInterrupt,
    /// ACPI soft shutdown (the OS may ignore it).
    SoftShutdown,
}

impl ChassisControl {
    pub fn code(self) -> u8 {
        match self {
            ChassisControl::PowerOff => 0,
            ChassisControl::PowerOn => 1,
            ChassisControl::PowerCycle => 2,
            ChassisControl::HardReset => 3,
            ChassisControl::DiagnosticInterrupt => 4,
            ChassisControl::SoftShutdown => 5,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code & 0x0F {
            0 => Some(ChassisControl::PowerOff),
            1 => Some(ChassisControl::PowerOn),
            2 => Some(ChassisControl::PowerCycle),
            3 => Some(ChassisControl::HardReset),
            4 => Some(ChassisControl::DiagnosticInterrupt),
            5 => Some(ChassisControl::SoftShutdown),
            _ => None,
        }
    }

    /// Whether doing it twice is the same as once. A retransmitted request
    /// whose first copy did arrive is executed twice, so the others get a
    /// longer first timeout.
    pub fn is_idempotent(self) -> bool {
        matches!(self, ChassisControl::PowerOff | ChassisControl::PowerOn)
    }
}

impl fmt::Display for ChassisControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChassisControl::PowerOff => "power off",
            ChassisControl::PowerOn => "power on",
            ChassisControl::PowerCycle => "power cycle",
            ChassisControl::HardReset => "hard reset",
            ChassisControl::DiagnosticInterrupt => "diagnostic interrupt",
            ChassisControl::SoftShutdown => "soft shutdown",
        })
    }
}

/// Get Session Challenge request (IPMI 1.5 session start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRequest {
    pub auth_type: u8,
    /// User name, zero padded to 16 bytes on the wire.
    pub user: Vec<u8>,
}

impl ChallengeRequest {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.auth_type];
        let mut name = [0u8; 16];
        for (o, b) in name.iter_mut().zip(&self.user) {
            *o = *b;
        }
        out.extend_from_slice(&name);
        out
    }

    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data, "Get Session Challenge request");
        let auth_type = r.u8()? & 0x0F;
        let name = r.array::<16>()?;
        let len = name.iter().position(|b| *b == 0).unwrap_or(16);
        Ok(Self {
            auth_type,
            user: name.get(..len).unwrap_or(&[]).to_vec(),
        })
    }
}

/// Get Session Challenge response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge {
    pub temp_session_id: u32,
    pub challenge: [u8; 16],
}

impl Challenge {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.temp_session_id.to_le_bytes().to_vec();
        out.extend_from_slice(&self.challenge);
        out
    }

    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data, "Get Session Challenge response");
        Ok(Self {
            temp_session_id: r.u32_le()?,
            challenge: r.array()?,
        })
    }
}

/// Activate Session request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivateRequest {
    pub auth_type: u8,
    pub privilege: Privilege,
    pub challenge: [u8; 16],
    /// The sequence number the BMC starts its outbound (our inbound) count at.
    pub initial_outbound_seq: u32,
}

impl ActivateRequest {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.auth_type, self.privilege.code()];
        out.extend_from_slice(&self.challenge);
        out.extend_from_slice(&self.initial_outbound_seq.to_le_bytes());
        out
    }

    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data, "Activate Session request");
        let auth_type = r.u8()? & 0x0F;
        let p = r.u8()?;
        Ok(Self {
            auth_type,
            privilege: Privilege::from_code(p).ok_or(DecodeError::Unexpected {
                what: "requested privilege level",
                value: p.into(),
            })?,
            challenge: r.array()?,
            initial_outbound_seq: r.u32_le()?,
        })
    }
}

/// Activate Session response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activated {
    pub auth_type: u8,
    pub session_id: u32,
    /// The first sequence number the console must use.
    pub initial_inbound_seq: u32,
    pub max_privilege: u8,
}

impl Activated {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.auth_type];
        out.extend_from_slice(&self.session_id.to_le_bytes());
        out.extend_from_slice(&self.initial_inbound_seq.to_le_bytes());
        out.push(self.max_privilege);
        out
    }

    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data, "Activate Session response");
        Ok(Self {
            auth_type: r.u8()? & 0x0F,
            session_id: r.u32_le()?,
            initial_inbound_seq: r.u32_le()?,
            max_privilege: r.u8()? & 0x0F,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_caps_round_trip() {
        let caps = AuthCaps {
            channel: 1,
            auth_types: AuthType::Md5.mask() | AuthType::Password.mask(),
            non_null_users: true,
            ipmi15: true,
            ipmi20: true,
            ..AuthCaps::default()
        };
        assert_eq!(AuthCaps::decode(&caps.encode()).unwrap(), caps);
        assert!(caps.supports(AuthType::Md5));
        assert!(!caps.supports(AuthType::None));
    }

    #[test]
    fn cipher_suite_records_round_trip() {
        let recs = cipher_suite_records(&[3, 17]);
        assert_eq!(parse_cipher_suite_records(&recs).unwrap(), vec![3, 17]);
        // OEM record in between; a real list from a BMC (suites 0..3).
        let real = [
            0xc0, 0x00, 0x00, 0x40, 0x80, 0xc1, 0x05, 0x11, 0x22, 0x33, 0x01, 0x41, 0x81, 0xc0,
            0x03, 0x01, 0x41, 0x81,
        ];
        assert_eq!(parse_cipher_suite_records(&real).unwrap(), vec![0, 5, 3]);
        assert!(parse_cipher_suite_records(&[0x12]).is_err());
        assert!(parse_cipher_suite_records(&[0xc0]).is_err());
    }

    #[test]
    fn chassis_status_power_bit() {
        assert!(ChassisStatus::decode(&[0x01, 0, 0x40]).unwrap().power_on);
        assert!(!ChassisStatus::decode(&[0x60, 0, 0]).unwrap().power_on);
        assert!(ChassisStatus::decode(&[]).is_err());
        let s = ChassisStatus {
            power_on: true,
            restore_policy: 2,
            ..Default::default()
        };
        assert_eq!(ChassisStatus::decode(&s.encode()).unwrap(), s);
    }

    #[test]
    fn privilege_names() {
        assert_eq!(
            Privilege::parse("ADMINISTRATOR"),
            Some(Privilege::Administrator)
        );
        assert_eq!(Privilege::parse("operator"), Some(Privilege::Operator));
        assert_eq!(Privilege::parse("root"), None);
        assert!(Privilege::User < Privilege::Operator);
    }
}
