//! A received datagram: the RMCP header, both session formats, and opening
//! an RMCP+ payload without keys and with the keys of every suite (the
//! AuthCode check, the integrity pad, decryption).
#![no_main]

use ipmi_lan::crypto::{CipherSuite, Key, SessionKeys};
use ipmi_lan::packet::{self, Frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let keys: Vec<SessionKeys> = CipherSuite::SUPPORTED
        .iter()
        .filter_map(|id| CipherSuite::from_id(*id))
        .map(|s| SessionKeys::derive(s, &Key::from_slice(b"fuzz sik")))
        .collect();
    match packet::decode(data) {
        Ok(Frame::V20(frame)) => {
            let _ = frame.open(None);
            for k in &keys {
                let _ = frame.open(Some(k));
            }
        }
        Ok(Frame::V15(frame)) => {
            let _ = frame.encode();
        }
        Err(_) => {}
    }
});
