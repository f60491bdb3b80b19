//! IPMI 1.5 session set-up: Get Session Challenge and Activate Session
//! (requests and responses).
#![no_main]

use ipmi_lan::command::{ActivateRequest, Activated, Challenge, ChallengeRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ChallengeRequest::decode(data);
    let _ = Challenge::decode(data);
    let _ = ActivateRequest::decode(data);
    let _ = Activated::decode(data);
});
