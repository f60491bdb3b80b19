//! The IPMI LAN message inside a session wrapper (IPMI v2.0 §13.8): two
//! addresses, a network function and LUN, a 6-bit request sequence number,
//! the command, data and two checksums.

use crate::error::{CompletionCode, DecodeError};
use crate::wire::{Reader, checksum};

/// The BMC's slave address.
pub const BMC_ADDR: u8 = 0x20;
/// Software ID of a remote console (ipmitool uses the same).
pub const CONSOLE_SWID: u8 = 0x81;

/// Network functions (requests; the response adds one).
pub mod net_fn {
    pub const CHASSIS: u8 = 0x00;
    pub const APP: u8 = 0x06;
}

/// A request, as a client sends and the test BMC receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub rs_addr: u8,
    pub net_fn: u8,
    pub rs_lun: u8,
    pub rq_addr: u8,
    /// 6-bit request sequence number, echoed by the response.
    pub rq_seq: u8,
    pub rq_lun: u8,
    pub cmd: u8,
    pub data: Vec<u8>,
}

impl Request {
    /// A request to the BMC from a remote console.
    pub fn new(net_fn: u8, cmd: u8, rq_seq: u8, data: Vec<u8>) -> Self {
        Self {
            rs_addr: BMC_ADDR,
            net_fn,
            rs_lun: 0,
            rq_addr: CONSOLE_SWID,
            rq_seq: rq_seq & 0x3F,
            rq_lun: 0,
            cmd,
            data,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        encode_message(
            [self.rs_addr, (self.net_fn << 2) | (self.rs_lun & 3)],
            [
                self.rq_addr,
                (self.rq_seq << 2) | (self.rq_lun & 3),
                self.cmd,
            ],
            &self.data,
        )
    }

    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let m = RawMessage::decode(buf, "IPMI request")?;
        Ok(Self {
            rs_addr: m.addr1,
            net_fn: m.fn_lun >> 2,
            rs_lun: m.fn_lun & 3,
            rq_addr: m.addr2,
            rq_seq: m.seq_lun >> 2,
            rq_lun: m.seq_lun & 3,
            cmd: m.cmd,
            data: m.body.to_vec(),
        })
    }

    /// The response to this request, addressed back to its sender.
    pub fn response(&self, completion: CompletionCode, data: Vec<u8>) -> Response {
        Response {
            rq_addr: self.rq_addr,
            net_fn: self.net_fn | 1,
            rq_lun: self.rq_lun,
            rs_addr: self.rs_addr,
            rq_seq: self.rq_seq,
            rs_lun: self.rs_lun,
            cmd: self.cmd,
            completion,
            data,
        }
    }
}

/// A response, as the BMC sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub rq_addr: u8,
    /// The response network function (the request's plus one).
    pub net_fn: u8,
    pub rq_lun: u8,
    pub rs_addr: u8,
    pub rq_seq: u8,
    pub rs_lun: u8,
    pub cmd: u8,
    pub completion: CompletionCode,
    pub data: Vec<u8>,
}

impl Response {
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(1 + self.data.len());
        body.push(self.completion.0);
        body.extend_from_slice(&self.data);
        encode_message(
            [self.rq_addr, (self.net_fn << 2) | (self.rq_lun & 3)],
            [
                self.rs_addr,
                (self.rq_seq << 2) | (self.rs_lun & 3),
                self.cmd,
            ],
            &body,
        )
    }

    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let m = RawMessage::decode(buf, "IPMI response")?;
        let mut body = Reader::new(m.body, "IPMI response completion code");
        let completion = CompletionCode(body.u8()?);
        Ok(Self {
            rq_addr: m.addr1,
            net_fn: m.fn_lun >> 2,
            rq_lun: m.fn_lun & 3,
            rs_addr: m.addr2,
            rq_seq: m.seq_lun >> 2,
            rs_lun: m.seq_lun & 3,
            cmd: m.cmd,
            completion,
            data: body.rest().to_vec(),
        })
    }

    /// Whether this answers a request with this network function, command and sequence.
    pub fn answers(&self, net_fn: u8, cmd: u8, rq_seq: u8) -> bool {
        self.net_fn == (net_fn | 1) && self.cmd == cmd && self.rq_seq == (rq_seq & 0x3F)
    }
}

fn encode_message(head: [u8; 2], mid: [u8; 3], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(7 + body.len());
    out.extend_from_slice(&head);
    out.push(checksum(&head));
    let start = out.len();
    out.extend_from_slice(&mid);
    out.extend_from_slice(body);
    let sum = checksum(out.get(start..).unwrap_or(&[]));
    out.push(sum);
    out
}

struct RawMessage<'a> {
    addr1: u8,
    fn_lun: u8,
    addr2: u8,
    seq_lun: u8,
    cmd: u8,
    body: &'a [u8],
}

impl<'a> RawMessage<'a> {
    fn decode(buf: &'a [u8], what: &'static str) -> Result<Self, DecodeError> {
        if buf.len() < 7 {
            return Err(DecodeError::Truncated {
                what,
                wanted: 7,
                available: buf.len(),
            });
        }
        let mut r = Reader::new(buf, what);
        let head = r.take(2)?;
        let chk1 = r.u8()?;
        if checksum(head) != chk1 {
            return Err(DecodeError::Checksum {
                what: "IPMI message header",
            });
        }
        let rest = r.rest();
        let (chk2, signed) = rest.split_last().ok_or(DecodeError::Truncated {
            what,
            wanted: 7,
            available: buf.len(),
        })?;
        if checksum(signed) != *chk2 {
            return Err(DecodeError::Checksum {
                what: "IPMI message data",
            });
        }
        let mut h = Reader::new(head, what);
        let mut s = Reader::new(signed, what);
        Ok(Self {
            addr1: h.u8()?,
            fn_lun: h.u8()?,
            addr2: s.u8()?,
            seq_lun: s.u8()?,
            cmd: s.u8()?,
            body: s.rest(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_channel_auth_caps_request_matches_ipmitool() {
        // ipmitool -vvvv: rsAddr 20, netFn 06, rqAddr 81, rqSeq 0, cmd 38, data 8e 04.
        let r = Request::new(net_fn::APP, 0x38, 0, vec![0x8e, 0x04]);
        assert_eq!(
            r.encode(),
            vec![0x20, 0x18, 0xc8, 0x81, 0x00, 0x38, 0x8e, 0x04, 0xb5]
        );
        assert_eq!(Request::decode(&r.encode()).unwrap(), r);
    }

    #[test]
    fn response_round_trip_and_matching() {
        let req = Request::new(net_fn::CHASSIS, 0x01, 5, vec![]);
        let rsp = req.response(CompletionCode::OK, vec![0x01, 0, 0]);
        let back = Response::decode(&rsp.encode()).unwrap();
        assert_eq!(back, rsp);
        assert!(back.answers(net_fn::CHASSIS, 0x01, 5));
        assert!(!back.answers(net_fn::CHASSIS, 0x01, 6));
        assert!(!back.answers(net_fn::APP, 0x01, 5));
    }

    #[test]
    fn bad_checksums_are_errors() {
        let mut bytes = Request::new(net_fn::APP, 0x38, 0, vec![1]).encode();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        assert!(Request::decode(&bytes).is_err());
        bytes[2] ^= 1;
        assert!(Request::decode(&bytes).is_err());
        assert!(Response::decode(&[0x81, 0x1c, 0x63]).is_err());
    }
}
