//! Every decoder survives arbitrary bytes (returns an error, never panics),
//! and mutated valid packets too. These are the entry points a cargo-fuzz
//! target would call.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

use ipmi_lan::command::{
    ActivateRequest, Activated, AuthCaps, AuthCapsRequest, Challenge, ChallengeRequest,
    ChassisStatus, CipherSuitesChunk, CipherSuitesRequest, parse_cipher_suite_records,
};
use ipmi_lan::crypto::{CipherSuite, Key, SessionKeys};
use ipmi_lan::message::{Request, Response};
use ipmi_lan::packet::{self, Frame, PayloadType, encode_v20};
use ipmi_lan::rakp::{OpenSessionRequest, OpenSessionResponse, Rakp1, Rakp2, Rakp3, Rakp4};
use proptest::prelude::*;

fn all_keys() -> Vec<SessionKeys> {
    CipherSuite::SUPPORTED
        .iter()
        .filter_map(|id| CipherSuite::from_id(*id))
        .map(|s| SessionKeys::derive(s, &Key::from_slice(b"fuzz sik")))
        .collect()
}

/// Everything a received datagram can go through.
fn decode_everything(bytes: &[u8], keys: &[SessionKeys]) {
    match packet::decode(bytes) {
        Ok(Frame::V20(f)) => {
            let _ = f.open(None);
            for k in keys {
                if let Ok(p) = f.open(Some(k)) {
                    let _ = Response::decode(&p);
                    let _ = Request::decode(&p);
                }
            }
            let _ = OpenSessionRequest::decode(f.payload);
            let _ = OpenSessionResponse::decode(f.payload);
            let _ = Rakp1::decode(f.payload);
            let _ = Rakp2::decode(f.payload);
            let _ = Rakp3::decode(f.payload);
            let _ = Rakp4::decode(f.payload);
        }
        Ok(Frame::V15(f)) => {
            let _ = Response::decode(f.message);
            let _ = Request::decode(f.message);
        }
        Err(_) => {}
    }
    let _ = Request::decode(bytes);
    let _ = Response::decode(bytes);
    let _ = AuthCaps::decode(bytes);
    let _ = AuthCapsRequest::decode(bytes);
    let _ = CipherSuitesRequest::decode(bytes);
    let _ = CipherSuitesChunk::decode(bytes);
    let _ = parse_cipher_suite_records(bytes);
    let _ = ChassisStatus::decode(bytes);
    let _ = Challenge::decode(bytes);
    let _ = ChallengeRequest::decode(bytes);
    let _ = ActivateRequest::decode(bytes);
    let _ = Activated::decode(bytes);
    let _ = OpenSessionRequest::decode(bytes);
    let _ = OpenSessionResponse::decode(bytes);
    let _ = Rakp1::decode(bytes);
    let _ = Rakp2::decode(bytes);
    let _ = Rakp3::decode(bytes);
    let _ = Rakp4::decode(bytes);
    for k in keys {
        let _ = k.decrypt(bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        decode_everything(&bytes, &all_keys());
    }

    #[test]
    fn arbitrary_bytes_behind_a_valid_rmcp_header(
        auth in prop_oneof![Just(0x06u8), Just(0x00), Just(0x02), any::<u8>()],
        ptype in any::<u8>(),
        rest in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut bytes = vec![0x06, 0x00, 0xFF, 0x07, auth, ptype];
        bytes.extend(rest);
        decode_everything(&bytes, &all_keys());
    }

    #[test]
    fn mutated_valid_session_packets(
        suite in prop::sample::select(CipherSuite::SUPPORTED.to_vec()),
        msg in proptest::collection::vec(any::<u8>(), 0..64),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
    ) {
        let keys = SessionKeys::derive(CipherSuite::from_id(suite).unwrap(), &Key::from_slice(b"k"));
        let mut bytes = encode_v20(PayloadType::Ipmi, 1, 2, &msg, Some(&keys));
        // The unmutated packet opens to the message.
        if let Ok(Frame::V20(f)) = packet::decode(&bytes) {
            prop_assert_eq!(f.open(Some(&keys)).unwrap(), msg.clone());
        } else {
            prop_assert!(false, "valid packet did not decode");
        }
        let len = bytes.len();
        for (i, x) in flips {
            bytes[i % len] ^= x | 1;
        }
        bytes.truncate(cut % (len + 1));
        decode_everything(&bytes, std::slice::from_ref(&keys));
        // A mutated authenticated packet never opens to something else.
        if keys.suite.integrity.auth_code_len() > 0
            && let Ok(Frame::V20(f)) = packet::decode(&bytes)
            && let Ok(p) = f.open(Some(&keys))
        {
            prop_assert_eq!(p, msg);
        }
    }

    #[test]
    fn request_response_round_trip(
        net_fn in 0u8..0x40, cmd in any::<u8>(), seq in 0u8..0x40,
        data in proptest::collection::vec(any::<u8>(), 0..40), cc in any::<u8>(),
    ) {
        let rq = Request::new(net_fn, cmd, seq, data.clone());
        prop_assert_eq!(Request::decode(&rq.encode()).unwrap(), rq.clone());
        let rs = rq.response(ipmi_lan::CompletionCode(cc), data);
        prop_assert_eq!(Response::decode(&rs.encode()).unwrap(), rs);
    }
}
