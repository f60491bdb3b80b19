//! RMCP datagrams and the two IPMI session wrappers inside them
//! (IPMI v2.0 §13.6 and table 13-8): the IPMI 1.5 session header, and the
//! RMCP+ (IPMI 2.0) session header with its integrity trailer and optional
//! AES-CBC-128 payload encryption.
//!
//! Decoding is split in two steps so both are fuzzable: [`decode`] parses the
//! frame without keys, [`V20Frame::open`] then checks the AuthCode and
//! decrypts with the session keys.

use crate::crypto::{SessionKeys, random};
use crate::error::DecodeError;
use crate::wire::Reader;

/// RMCP version 1.0, reserved, sequence 0xFF (no RMCP ACK), class IPMI.
pub const RMCP_HEADER: [u8; 4] = [0x06, 0x00, 0xFF, 0x07];

/// Auth type byte that marks an RMCP+ session header.
pub const AUTH_TYPE_RMCP_PLUS: u8 = 0x06;

const PAYLOAD_ENCRYPTED: u8 = 0x80;
const PAYLOAD_AUTHENTICATED: u8 = 0x40;

/// RMCP+ payload types (IPMI v2.0 table 13-16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadType {
    Ipmi,
    Sol,
    OemExplicit,
    OpenSessionRequest,
    OpenSessionResponse,
    Rakp1,
    Rakp2,
    Rakp3,
    Rakp4,
    Other(u8),
}

impl PayloadType {
    pub fn code(self) -> u8 {
        match self {
            PayloadType::Ipmi => 0x00,
            PayloadType::Sol => 0x01,
            PayloadType::OemExplicit => 0x02,
            PayloadType::OpenSessionRequest => 0x10,
            PayloadType::OpenSessionResponse => 0x11,
            PayloadType::Rakp1 => 0x12,
            PayloadType::Rakp2 => 0x13,
            PayloadType::Rakp3 => 0x14,
            PayloadType::Rakp4 => 0x15,
            PayloadType::Other(c) => c & 0x3F,
        }
    }

    pub fn from_code(code: u8) -> Self {
        match code & 0x3F {
            0x00 => PayloadType::Ipmi,
            0x01 => PayloadType::Sol,
            0x02 => PayloadType::OemExplicit,
            0x10 => PayloadType::OpenSessionRequest,
            0x11 => PayloadType::OpenSessionResponse,
            0x12 => PayloadType::Rakp1,
            0x13 => PayloadType::Rakp2,
            0x14 => PayloadType::Rakp3,
            0x15 => PayloadType::Rakp4,
            c => PayloadType::Other(c),
        }
    }
}

/// A decoded datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<'a> {
    V15(V15Frame<'a>),
    V20(V20Frame<'a>),
}

/// Parse one RMCP datagram carrying IPMI (either session format).
pub fn decode(buf: &[u8]) -> Result<Frame<'_>, DecodeError> {
    let mut r = Reader::new(buf, "RMCP header");
    let header = r.array::<4>()?;
    let [version, _reserved, _seq, class] = header;
    if version != 0x06 {
        return Err(DecodeError::Unexpected {
            what: "RMCP version",
            value: version.into(),
        });
    }
    if class & 0x1F != 0x07 || class & 0x80 != 0 {
        return Err(DecodeError::Unexpected {
            what: "RMCP message class (not IPMI)",
            value: class.into(),
        });
    }
    let session = r.rest();
    match session.first() {
        Some(&AUTH_TYPE_RMCP_PLUS) => V20Frame::decode_session(session).map(Frame::V20),
        Some(_) => V15Frame::decode_session(session).map(Frame::V15),
        None => Err(DecodeError::Truncated {
            what: "session header",
            wanted: 1,
            available: 0,
        }),
    }
}

/// An IPMI 1.5 session wrapper (also used by RMCP+ for pre-session messages
/// with auth type none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V15Frame<'a> {
    pub auth_type: u8,
    pub session_seq: u32,
    pub session_id: u32,
    /// Present unless the auth type is none.
    pub auth_code: Option<[u8; 16]>,
    /// The IPMI message (see [`crate::message`]).
    pub message: &'a [u8],
}

impl<'a> V15Frame<'a> {
    fn decode_session(session: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(session, "IPMI 1.5 session header");
        let auth_type = r.u8()?;
        if auth_type & 0xF0 != 0 {
            return Err(DecodeError::Unexpected {
                what: "IPMI 1.5 auth type",
                value: auth_type.into(),
            });
        }
        let session_seq = r.u32_le()?;
        let session_id = r.u32_le()?;
        let auth_code = if auth_type == 0 {
            None
        } else {
            Some(r.array::<16>()?)
        };
        let len = usize::from(r.u8()?);
        let available = r.remaining();
        let message = r.take(len).map_err(|_| DecodeError::Length {
            what: "IPMI 1.5 message",
            declared: len,
            actual: available,
        })?;
        // A trailing legacy pad byte may follow; it carries nothing.
        Ok(Self {
            auth_type,
            session_seq,
            session_id,
            auth_code,
            message,
        })
    }

    /// The whole datagram, RMCP header included.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 10 + 16 + self.message.len());
        out.extend_from_slice(&RMCP_HEADER);
        out.push(self.auth_type);
        out.extend_from_slice(&self.session_seq.to_le_bytes());
        out.extend_from_slice(&self.session_id.to_le_bytes());
        if self.auth_type != 0 {
            out.extend_from_slice(&self.auth_code.unwrap_or([0; 16]));
        }
        out.push(u8::try_from(self.message.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(self.message);
        out
    }
}

/// An RMCP+ session wrapper, as received (payload possibly still encrypted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V20Frame<'a> {
    pub payload_type: PayloadType,
    pub encrypted: bool,
    pub authenticated: bool,
    /// OEM IANA number and OEM payload ID, for OEM explicit payloads.
    pub oem: Option<(u32, u16)>,
    pub session_id: u32,
    pub session_seq: u32,
    /// The payload field as on the wire.
    pub payload: &'a [u8],
    /// What follows the payload: integrity pad, pad length, next header, AuthCode.
    pub trailer: &'a [u8],
    /// The datagram from the auth type byte to the end, for the AuthCode check.
    session_bytes: &'a [u8],
}

impl<'a> V20Frame<'a> {
    fn decode_session(session: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(session, "RMCP+ session header");
        let _auth_type = r.u8()?;
        let type_byte = r.u8()?;
        let payload_type = PayloadType::from_code(type_byte);
        let oem = if payload_type == PayloadType::OemExplicit {
            Some((r.u32_le()?, r.u16_le()?))
        } else {
            None
        };
        let session_id = r.u32_le()?;
        let session_seq = r.u32_le()?;
        let len = usize::from(r.u16_le()?);
        let available = r.remaining();
        let payload = r.take(len).map_err(|_| DecodeError::Length {
            what: "RMCP+ payload",
            declared: len,
            actual: available,
        })?;
        let trailer = r.rest();
        Ok(Self {
            payload_type,
            encrypted: type_byte & PAYLOAD_ENCRYPTED != 0,
            authenticated: type_byte & PAYLOAD_AUTHENTICATED != 0,
            oem,
            session_id,
            session_seq,
            payload,
            trailer,
            session_bytes: session,
        })
    }

    /// Check the AuthCode (when the packet claims one) and decrypt (when
    /// encrypted); returns the clear payload. A packet whose flags do not
    /// match the negotiated algorithms is refused: a forger would otherwise
    /// just clear the flags.
    pub fn open(&self, keys: Option<&SessionKeys>) -> Result<Vec<u8>, DecodeError> {
        let Some(keys) = keys else {
            if self.encrypted || self.authenticated {
                return Err(DecodeError::Unexpected {
                    what: "protected payload outside a session",
                    value: self.payload_type.code().into(),
                });
            }
            return Ok(self.payload.to_vec());
        };
        let wants_auth = keys.suite.integrity.auth_code_len() > 0;
        let wants_enc = keys.suite.confidentiality != crate::crypto::ConfidentialityAlgorithm::None;
        if self.authenticated != wants_auth {
            return Err(DecodeError::Integrity);
        }
        if self.encrypted != wants_enc {
            return Err(DecodeError::Unexpected {
                what: "encryption flag differs from the negotiated suite",
                value: u32::from(self.encrypted),
            });
        }
        if wants_auth {
            let n = keys.suite.integrity.auth_code_len();
            // pad length + next header + AuthCode, at least.
            let min = n + 2;
            if self.trailer.len() < min || self.trailer.len() > min + 3 {
                return Err(DecodeError::Length {
                    what: "RMCP+ integrity trailer",
                    declared: min,
                    actual: self.trailer.len(),
                });
            }
            let (signed, code) = self
                .session_bytes
                .split_at_checked(self.session_bytes.len().saturating_sub(n))
                .ok_or(DecodeError::Integrity)?;
            if !keys.verify_auth_code(signed, code) {
                return Err(DecodeError::Integrity);
            }
            let pad_len = usize::from(crate::wire::byte_at(
                self.trailer,
                self.trailer.len() - n - 2,
                "pad length",
            )?);
            if pad_len != self.trailer.len() - min {
                return Err(DecodeError::Length {
                    what: "RMCP+ integrity pad",
                    declared: pad_len,
                    actual: self.trailer.len() - min,
                });
            }
        }
        if wants_enc {
            keys.decrypt(self.payload)
        } else {
            Ok(self.payload.to_vec())
        }
    }
}

/// Build an RMCP+ datagram. With `keys`, the payload is encrypted and
/// authenticated as the suite says; without, it goes in the clear (the
/// pre-session payloads: Open Session and RAKP).
pub fn encode_v20(
    payload_type: PayloadType,
    session_id: u32,
    session_seq: u32,
    payload: &[u8],
    keys: Option<&SessionKeys>,
) -> Vec<u8> {
    let (encrypt, authenticate) = match keys {
        Some(k) => (
            k.suite.confidentiality != crate::crypto::ConfidentialityAlgorithm::None,
            k.suite.integrity.auth_code_len() > 0,
        ),
        None => (false, false),
    };
    let body = match keys {
        Some(k) if encrypt => k.encrypt(payload, random::<16>()),
        _ => payload.to_vec(),
    };
    let mut type_byte = payload_type.code();
    if encrypt {
        type_byte |= PAYLOAD_ENCRYPTED;
    }
    if authenticate {
        type_byte |= PAYLOAD_AUTHENTICATED;
    }
    let mut out = Vec::with_capacity(4 + 12 + body.len() + 24);
    out.extend_from_slice(&RMCP_HEADER);
    out.push(AUTH_TYPE_RMCP_PLUS);
    out.push(type_byte);
    out.extend_from_slice(&session_id.to_le_bytes());
    out.extend_from_slice(&session_seq.to_le_bytes());
    out.extend_from_slice(&u16::try_from(body.len()).unwrap_or(u16::MAX).to_le_bytes());
    out.extend_from_slice(&body);
    if let Some(k) = keys.filter(|_| authenticate) {
        // Pad so that auth type .. next header is a multiple of 4 bytes.
        let signed = out.len() - RMCP_HEADER.len() + 2;
        let pad = (4 - signed % 4) % 4;
        out.extend(std::iter::repeat_n(0xFF, pad));
        out.push(pad as u8);
        out.push(0x07);
        let code = k.auth_code(out.get(RMCP_HEADER.len()..).unwrap_or(&[]));
        out.extend_from_slice(&code);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{CipherSuite, Key};

    fn keys(id: u8) -> SessionKeys {
        SessionKeys::derive(CipherSuite::from_id(id).unwrap(), &Key::from_slice(b"sik"))
    }

    #[test]
    fn v20_round_trip_for_each_suite() {
        for id in CipherSuite::SUPPORTED {
            let k = keys(id);
            let dgram = encode_v20(PayloadType::Ipmi, 0x1234, 7, b"hello world", Some(&k));
            let Frame::V20(frame) = decode(&dgram).unwrap() else {
                panic!("not v2")
            };
            assert_eq!(frame.session_id, 0x1234);
            assert_eq!(frame.session_seq, 7);
            assert_eq!(frame.open(Some(&k)).unwrap(), b"hello world", "suite {id}");
            if k.suite.integrity.auth_code_len() > 0 {
                assert_eq!((dgram.len() - 4 - k.suite.integrity.auth_code_len()) % 4, 0);
                // A flipped bit anywhere is caught.
                let mut bad = dgram.clone();
                bad[10] ^= 1;
                let Frame::V20(frame) = decode(&bad).unwrap() else {
                    panic!()
                };
                assert!(frame.open(Some(&k)).is_err());
                // Another session's keys do not open it.
                let other = SessionKeys::derive(k.suite, &Key::from_slice(b"other"));
                let Frame::V20(frame) = decode(&dgram).unwrap() else {
                    panic!()
                };
                assert_eq!(frame.open(Some(&other)), Err(DecodeError::Integrity));
            }
        }
    }

    #[test]
    fn v15_round_trip() {
        let f = V15Frame {
            auth_type: 2,
            session_seq: 9,
            session_id: 0xdead,
            auth_code: Some([3; 16]),
            message: &[1, 2, 3],
        };
        let bytes = f.encode();
        assert_eq!(decode(&bytes).unwrap(), Frame::V15(f));
    }

    #[test]
    fn refuses_non_ipmi_rmcp() {
        assert!(decode(&[0x06, 0, 0xff, 0x06, 0, 0, 0, 0]).is_err());
        assert!(decode(&[]).is_err());
        assert!(decode(&[0x06, 0, 0xff, 0x07]).is_err());
    }
}
