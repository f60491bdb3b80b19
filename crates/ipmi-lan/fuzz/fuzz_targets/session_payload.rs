//! In-session payloads: decryption of arbitrary ciphertext for every suite,
//! and the round trip a session relies on (encrypt and sign, then verify and
//! decrypt, gives the payload back) for arbitrary payloads, IVs and keys.
#![no_main]

use ipmi_lan::crypto::{CipherSuite, Key, SessionKeys};
use ipmi_lan::packet::{self, Frame, PayloadType, encode_v20};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let suites = CipherSuite::SUPPORTED;
    let id = suites[usize::from(selector) % suites.len()];
    let Some(suite) = CipherSuite::from_id(id) else {
        return;
    };
    let (key, payload) = rest.split_at(rest.len().min(20));
    let keys = SessionKeys::derive(suite, &Key::from_slice(key));

    let _ = keys.decrypt(payload);
    let mut iv = [0u8; 16];
    for (i, b) in iv.iter_mut().zip(key.iter().cycle()) {
        *i = *b;
    }
    if keys.k2().len() >= 16 {
        let sealed = keys.encrypt(payload, iv);
        assert_eq!(keys.decrypt(&sealed).ok().as_deref(), Some(payload));
    }
    let datagram = encode_v20(PayloadType::Ipmi, 0x0102_0304, 7, payload, Some(&keys));
    match packet::decode(&datagram) {
        Ok(Frame::V20(frame)) => {
            assert_eq!(frame.open(Some(&keys)).ok().as_deref(), Some(payload));
        }
        other => panic!("our own datagram did not decode: {other:?}"),
    }
});
