//! ICMP and ICMPv6 echo messages: the bytes we send, and recognising our replies.
//!
//! A raw socket receives every ICMP message the host gets (other pings, our
//! own requests on loopback, replies meant for an earlier run), so a reply is
//! ours only if type, identifier, sequence range and a per-run random cookie
//! in the payload all match. Ping sockets (SOCK_DGRAM) are filtered by the
//! kernel on the identifier, which it chooses itself.

/// Echo request/reply types.
const V4_ECHO_REQUEST: u8 = 8;
const V4_ECHO_REPLY: u8 = 0;
const V6_ECHO_REQUEST: u8 = 128;
const V6_ECHO_REPLY: u8 = 129;

/// Marks our payload; with the cookie, tells our replies from anyone else's.
const MAGIC: [u8; 8] = *b"umha-stm";

/// ICMP header (8) + cookie (8) + magic (8).
pub const ECHO_LEN: usize = 24;

/// IPv4 or IPv6: they differ in types, checksum and headers seen on receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(addr: &std::net::IpAddr) -> Family {
        match addr {
            std::net::IpAddr::V4(_) => Family::V4,
            std::net::IpAddr::V6(_) => Family::V6,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// What identifies one echo of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoId {
    pub ident: u16,
    pub seq: u16,
    pub cookie: u64,
}

/// An echo request. The IPv4 checksum is ours to compute (raw sockets send
/// it as is; ping sockets recompute it after setting their identifier); the
/// kernel always computes the ICMPv6 one, which covers a pseudo-header.
pub fn echo_request(family: Family, id: EchoId) -> [u8; ECHO_LEN] {
    let mut p = [0u8; ECHO_LEN];
    p[0] = match family {
        Family::V4 => V4_ECHO_REQUEST,
        Family::V6 => V6_ECHO_REQUEST,
    };
    p[4..6].copy_from_slice(&id.ident.to_be_bytes());
    p[6..8].copy_from_slice(&id.seq.to_be_bytes());
    p[8..16].copy_from_slice(&id.cookie.to_be_bytes());
    p[16..24].copy_from_slice(&MAGIC);
    if family == Family::V4 {
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

/// The identifier and sequence of an echo reply carrying `cookie`, or `None`
/// for anything else. `ip_header` says the bytes start with an IPv4 header
/// (raw IPv4 sockets); every other socket delivers the ICMP message alone.
pub fn parse_reply(
    family: Family,
    ip_header: bool,
    bytes: &[u8],
    cookie: u64,
) -> Option<(u16, u16)> {
    let icmp = if ip_header {
        let first = *bytes.first()?;
        if first >> 4 != 4 {
            return None;
        }
        let ihl = usize::from(first & 0x0f) * 4;
        // Protocol 1 = ICMP.
        if ihl < 20 || *bytes.get(9)? != 1 {
            return None;
        }
        bytes.get(ihl..)?
    } else {
        bytes
    };
    if icmp.len() < ECHO_LEN {
        return None;
    }
    let reply_type = match family {
        Family::V4 => V4_ECHO_REPLY,
        Family::V6 => V6_ECHO_REPLY,
    };
    if icmp[0] != reply_type || icmp[1] != 0 {
        return None;
    }
    if family == Family::V4 && checksum(icmp) != 0 {
        return None;
    }
    if icmp[8..16] != cookie.to_be_bytes() || icmp[16..24] != MAGIC {
        return None;
    }
    let ident = u16::from_be_bytes([icmp[4], icmp[5]]);
    let seq = u16::from_be_bytes([icmp[6], icmp[7]]);
    Some((ident, seq))
}

/// The Internet checksum (RFC 1071). Over a message that carries a correct
/// checksum it is 0.
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = bytes.chunks_exact(2);
    for pair in &mut chunks {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ID: EchoId = EchoId {
        ident: 0x1234,
        seq: 0xfffe,
        cookie: 0x0102_0304_0506_0708,
    };

    /// What the peer sends back: the request with the type changed (and, for
    /// IPv4, the checksum fixed), as Linux does.
    fn reply_to(request: &[u8], family: Family) -> Vec<u8> {
        let mut r = request.to_vec();
        r[0] = match family {
            Family::V4 => 0,
            Family::V6 => 129,
        };
        if family == Family::V4 {
            r[2] = 0;
            r[3] = 0;
            let sum = checksum(&r);
            r[2..4].copy_from_slice(&sum.to_be_bytes());
        }
        r
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, checksum 220d.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
        assert_eq!(checksum(&[0xff]), 0x00ff);
    }

    #[test]
    fn v4_request_has_a_valid_checksum_and_our_reply_is_recognised() {
        let req = echo_request(Family::V4, ID);
        assert_eq!(req[0], 8);
        assert_eq!(checksum(&req), 0);
        let reply = reply_to(&req, Family::V4);
        assert_eq!(
            parse_reply(Family::V4, false, &reply, ID.cookie),
            Some((0x1234, 0xfffe))
        );
        // Through a raw socket, behind an IPv4 header.
        let mut with_ip = vec![
            0x45, 0, 0, 44, 0, 0, 0, 0, 64, 1, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        with_ip.extend_from_slice(&reply);
        assert_eq!(
            parse_reply(Family::V4, true, &with_ip, ID.cookie),
            Some((0x1234, 0xfffe))
        );
        // Our own request seen on loopback is not a reply.
        assert_eq!(parse_reply(Family::V4, false, &req, ID.cookie), None);
    }

    #[test]
    fn v6_reply_is_recognised() {
        let req = echo_request(Family::V6, ID);
        assert_eq!(req[0], 128);
        let reply = reply_to(&req, Family::V6);
        assert_eq!(
            parse_reply(Family::V6, false, &reply, ID.cookie),
            Some((0x1234, 0xfffe))
        );
        assert_eq!(parse_reply(Family::V6, false, &req, ID.cookie), None);
    }

    #[test]
    fn foreign_replies_are_ignored() {
        let reply = reply_to(&echo_request(Family::V4, ID), Family::V4);
        assert_eq!(parse_reply(Family::V4, false, &reply, ID.cookie ^ 1), None);
        let mut corrupt = reply.clone();
        corrupt[20] ^= 0xff;
        assert_eq!(parse_reply(Family::V4, false, &corrupt, ID.cookie), None);
        assert_eq!(
            parse_reply(Family::V4, false, &reply[..10], ID.cookie),
            None
        );
        // An IPv6 header where IPv4 is expected.
        let mut v6ish = vec![0x60; 40];
        v6ish.extend_from_slice(&reply);
        assert_eq!(parse_reply(Family::V4, true, &v6ish, ID.cookie), None);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..100), ip in any::<bool>(), v6 in any::<bool>()) {
            let family = if v6 { Family::V6 } else { Family::V4 };
            let _ = parse_reply(family, ip, &bytes, 7);
        }

        #[test]
        fn every_request_round_trips(ident in any::<u16>(), seq in any::<u16>(), cookie in any::<u64>()) {
            let id = EchoId { ident, seq, cookie };
            for family in [Family::V4, Family::V6] {
                let reply = reply_to(&echo_request(family, id), family);
                prop_assert_eq!(parse_reply(family, false, &reply, cookie), Some((ident, seq)));
            }
        }
    }
}
