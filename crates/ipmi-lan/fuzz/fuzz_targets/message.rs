//! IPMI messages inside a session: requests (the BMC side) and responses
//! (the client side), checksums included.
#![no_main]

use ipmi_lan::message::{Request, Response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(rsp) = Response::decode(data) {
        let _ = rsp.answers(0x06, 0x3B, 1);
    }
    let _ = Request::decode(data);
});
