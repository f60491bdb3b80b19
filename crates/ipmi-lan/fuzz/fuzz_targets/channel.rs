//! Pre-session channel commands: Get Channel Authentication Capabilities
//! and Get Channel Cipher Suites (requests, responses, suite records).
#![no_main]

use ipmi_lan::command::{
    AuthCaps, AuthCapsRequest, CipherSuitesChunk, CipherSuitesRequest, parse_cipher_suite_records,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = AuthCapsRequest::decode(data);
    let _ = AuthCaps::decode(data);
    let _ = CipherSuitesRequest::decode(data);
    let _ = CipherSuitesChunk::decode(data);
    let _ = parse_cipher_suite_records(data);
});
