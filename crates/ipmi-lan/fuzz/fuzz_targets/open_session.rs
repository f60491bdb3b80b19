//! RMCP+ Open Session Request and Response payloads.
#![no_main]

use ipmi_lan::rakp::{OpenSessionRequest, OpenSessionResponse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = OpenSessionRequest::decode(data);
    if let Ok(rsp) = OpenSessionResponse::decode(data) {
        let _ = rsp.encode();
    }
});
