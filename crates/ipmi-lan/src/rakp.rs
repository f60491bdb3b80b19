//! RMCP+ session establishment payloads (IPMI v2.0 §13.17–13.23): Open
//! Session Request/Response and RAKP messages 1 to 4.

use crate::crypto::{AuthAlgorithm, CipherSuite, ConfidentialityAlgorithm, IntegrityAlgorithm};
use crate::error::{DecodeError, RakpStatus};
use crate::wire::Reader;

/// Role bit of RAKP1: look the user up by name only (not name and privilege),
/// as ipmitool does by default.
pub const NAME_ONLY_LOOKUP: u8 = 0x10;

/// Longest IPMI user name.
pub const MAX_USER_LEN: usize = 16;

/// The algorithms as proposed or negotiated, as raw codes so that a BMC's
/// answer can be decoded even when it names an algorithm we do not implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithms {
    pub auth: u8,
    pub integrity: u8,
    pub confidentiality: u8,
}

impl Algorithms {
    pub fn of(suite: CipherSuite) -> Self {
        Self {
            auth: suite.auth.code(),
            integrity: suite.integrity.code(),
            confidentiality: suite.confidentiality.code(),
        }
    }

    /// The supported suite these codes make, if any.
    pub fn suite(&self) -> Option<CipherSuite> {
        CipherSuite::from_algorithms(
            AuthAlgorithm::from_code(self.auth)?,
            IntegrityAlgorithm::from_code(self.integrity)?,
            ConfidentialityAlgorithm::from_code(self.confidentiality)?,
        )
    }

    fn encode(&self, out: &mut Vec<u8>) {
        for (kind, alg) in [
            (0u8, self.auth),
            (1, self.integrity),
            (2, self.confidentiality),
        ] {
            out.extend_from_slice(&[kind, 0, 0, 8, alg & 0x3F, 0, 0, 0]);
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut algs = [0u8; 3];
        for (kind, slot) in algs.iter_mut().enumerate() {
            let rec = r.array::<8>()?;
            let [ptype, _, _, len, alg, _, _, _] = rec;
            if usize::from(ptype) != kind {
                return Err(DecodeError::Unexpected {
                    what: "algorithm payload type",
                    value: ptype.into(),
                });
            }
            // ipmitool accepts length 0 for a "null" payload; be as lenient.
            if len != 8 && len != 0 {
                return Err(DecodeError::Unexpected {
                    what: "algorithm payload length",
                    value: len.into(),
                });
            }
            *slot = alg & 0x3F;
        }
        let [auth, integrity, confidentiality] = algs;
        Ok(Self {
            auth,
            integrity,
            confidentiality,
        })
    }
}

/// Open Session Request (payload type 0x10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenSessionRequest {
    pub tag: u8,
    /// Requested maximum privilege (0 = highest the proposal allows).
    pub max_privilege: u8,
    pub console_sid: u32,
    pub algorithms: Algorithms,
}

impl OpenSessionRequest {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.tag, self.max_privilege & 0x0F, 0, 0];
        out.extend_from_slice(&self.console_sid.to_le_bytes());
        self.algorithms.encode(&mut out);
        out
    }

    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data, "Open Session Request");
        let tag = r.u8()?;
        let max_privilege = r.u8()? & 0x0F;
        r.skip(2)?;
        let console_sid = r.u32_le()?;
        let algorithms = Algorithms::decode(&mut r)?;
        Ok(Self {
            tag,
            max_privilege,
            console_sid,
            algorithms,
        })
    }
}

/// Open Session Response (payload type 0x11). On error the BMC may stop
/// after the console session ID; the later fields are then `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenSessionResponse {
    pub tag: u8,
    pub status: RakpStatus,
    pub max_privilege: u8,
    pub console_sid: u32,
    pub bmc_sid: Option<u32>,
    pub algorithms: Option<Algorithms>,
}

impl OpenSessionResponse {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.tag, self.status.0, self.max_privilege, 0];
        out.extend_from_slice(&self.console_sid.to_le_bytes());
        if let (Some(sid), Some(algs)) = (self.bmc_sid, self.algorithms) {
            out.extend_from_slice(&sid.to_le_bytes());
            algs.encode(&mut out);
        }
        out
    }

    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data, "Open Session Response");
        let tag = r.u8()?;
        let status = RakpStatus(r.u8()?);
        let max_privilege = r.u8()? & 0x0F;
        r.skip(1)?;
        let console_sid = r.u32_le()?;
        if !status.is_ok() && r.remaining() < 4 + 24 {
            return Ok(Self {
                tag,
                status,
                max_privilege,
                console_sid,
                bmc_sid: None,
                algorithms: None,
            });
        }
        let bmc_sid = r.u32_le()?;
        let algorithms = Algorithms::decode(&mut r)?;
        Ok(Self {
            tag,
            status,
            max_privilege,
            console_sid,
            bmc_sid: Some(bmc_sid),
            algorithms: Some(algorithms),
        })
    }
}

/// RAKP Message 1 (payload type 0x12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rakp1 {
    pub tag: u8,
    pub bmc_sid: u32,
    pub console_rand: [u8; 16],
    /// Requested role: privilege level, plus [`NAME_ONLY_LOOKUP`].
    pub role: u8,
    pub user: Vec<u8>,
}

impl Rakp1 {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.tag, 0, 0, 0];
        out.extend_from_slice(&self.bmc_sid.to_le_bytes());
        out.extend_from_slice(&self.console_rand);
        out.extend_from_slice(&[self.role, 0, 0]);
        let user = self.user.get(..MAX_USER_LEN).unwrap_or(&self.user);
        out.push(user.len() as u8);
        out.extend_from_slice(user);
        out
    }

    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data, "RAKP Message 1");
        let tag = r.u8()?;
        r.skip(3)?;
        let bmc_sid = r.u32_le()?;
        let console_rand = r.array()?;
        let role = r.u8()?;
        r.skip(2)?;
        let len = usize::from(r.u8()?);
        if len > MAX_USER_LEN {
            return Err(DecodeError::Unexpected {
                what: "RAKP1 user name length",
                value: len as u32,
            });
        }
        let user = r.take(len)?.to_vec();
        Ok(Self {
            tag,
            bmc_sid,
            console_rand,
            role,
            user,
        })
    }
}

/// RAKP Messages 2, 3 and 4 start alike: tag, status, two reserved bytes and
/// the peer's session id.
fn encode_header(tag: u8, status: RakpStatus, session_id: u32) -> Vec<u8> {
    let mut out = vec![tag, status.0, 0, 0];
    out.extend_from_slice(&session_id.to_le_bytes());
    out
}

fn decode_header(r: &mut Reader<'_>) -> Result<(u8, RakpStatus, u32), DecodeError> {
    let tag = r.u8()?;
    let status = RakpStatus(r.u8()?);
    r.skip(2)?;
    Ok((tag, status, r.u32_le()?))
}

/// RAKP Message 2 (payload type 0x13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rakp2 {
    pub tag: u8,
    pub status: RakpStatus,
    pub console_sid: u32,
    pub bmc_rand: [u8; 16],
    pub bmc_guid: [u8; 16],
    /// Key exchange authentication code (empty on error).
    pub auth_code: Vec<u8>,
}

impl Rakp2 {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = encode_header(self.tag, self.status, self.console_sid);
        if self.status.is_ok() {
            out.extend_from_slice(&self.bmc_rand);
            out.extend_from_slice(&self.bmc_guid);
            out.extend_from_slice(&self.auth_code);
        }
        out
    }

    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data, "RAKP Message 2");
        let (tag, status, console_sid) = decode_header(&mut r)?;
        if !status.is_ok() && r.remaining() < 32 {
            return Ok(Self {
                tag,
                status,
                console_sid,
                bmc_rand: [0; 16],
                bmc_guid: [0; 16],
                auth_code: Vec::new(),
            });
        }
        Ok(Self {
            tag,
            status,
            console_sid,
            bmc_rand: r.array()?,
            bmc_guid: r.array()?,
            auth_code: r.rest().to_vec(),
        })
    }
}

/// RAKP Message 3 (payload type 0x14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rakp3 {
    pub tag: u8,
    pub status: RakpStatus,
    pub bmc_sid: u32,
    pub auth_code: Vec<u8>,
}

impl Rakp3 {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = encode_header(self.tag, self.status, self.bmc_sid);
        out.extend_from_slice(&self.auth_code);
        out
    }

    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data, "RAKP Message 3");
        let (tag, status, bmc_sid) = decode_header(&mut r)?;
        Ok(Self {
            tag,
            status,
            bmc_sid,
            auth_code: r.rest().to_vec(),
        })
    }
}

/// RAKP Message 4 (payload type 0x15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rakp4 {
    pub tag: u8,
    pub status: RakpStatus,
    pub console_sid: u32,
    /// Integrity check value (empty on error).
    pub icv: Vec<u8>,
}

impl Rakp4 {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = encode_header(self.tag, self.status, self.console_sid);
        out.extend_from_slice(&self.icv);
        out
    }

    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data, "RAKP Message 4");
        let (tag, status, console_sid) = decode_header(&mut r)?;
        Ok(Self {
            tag,
            status,
            console_sid,
            icv: r.rest().to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_session_round_trip() {
        let req = OpenSessionRequest {
            tag: 3,
            max_privilege: 4,
            console_sid: 0xa0a2a3a4,
            algorithms: Algorithms::of(CipherSuite::from_id(17).unwrap()),
        };
        let bytes = req.encode();
        assert_eq!(bytes.len(), 32);
        assert_eq!(OpenSessionRequest::decode(&bytes).unwrap(), req);

        let rsp = OpenSessionResponse {
            tag: 3,
            status: RakpStatus::OK,
            max_privilege: 4,
            console_sid: 1,
            bmc_sid: Some(2),
            algorithms: Some(req.algorithms),
        };
        assert_eq!(OpenSessionResponse::decode(&rsp.encode()).unwrap(), rsp);
        assert_eq!(rsp.algorithms.unwrap().suite().unwrap().id, 17);

        // A short error answer, as ipmi_sim sends for suite 17.
        let err = [0, 0x04, 0, 0, 0x00, 0x01, 0x97, 0x04];
        let d = OpenSessionResponse::decode(&err).unwrap();
        assert_eq!(d.status, RakpStatus::INVALID_AUTH_ALGORITHM);
        assert_eq!(d.bmc_sid, None);
    }

    #[test]
    fn rakp_round_trips() {
        let r1 = Rakp1 {
            tag: 1,
            bmc_sid: 0x182,
            console_rand: [9; 16],
            role: 0x14,
            user: b"admin".to_vec(),
        };
        assert_eq!(Rakp1::decode(&r1.encode()).unwrap(), r1);
        let r2 = Rakp2 {
            tag: 1,
            status: RakpStatus::OK,
            console_sid: 5,
            bmc_rand: [1; 16],
            bmc_guid: [2; 16],
            auth_code: vec![3; 20],
        };
        assert_eq!(Rakp2::decode(&r2.encode()).unwrap(), r2);
        let r3 = Rakp3 {
            tag: 1,
            status: RakpStatus::OK,
            bmc_sid: 7,
            auth_code: vec![4; 32],
        };
        assert_eq!(Rakp3::decode(&r3.encode()).unwrap(), r3);
        let r4 = Rakp4 {
            tag: 1,
            status: RakpStatus::OK,
            console_sid: 5,
            icv: vec![5; 12],
        };
        assert_eq!(Rakp4::decode(&r4.encode()).unwrap(), r4);
        let mut long = r1.encode();
        long[27] = 17;
        assert!(Rakp1::decode(&long).is_err());
    }
}
