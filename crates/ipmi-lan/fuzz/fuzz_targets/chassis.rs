//! Get Chassis Status responses: the answer fencing decisions rest on.
#![no_main]

use ipmi_lan::command::{ChassisControl, ChassisStatus};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(status) = ChassisStatus::decode(data) {
        // Only bit 0 of the first byte says whether the power is on.
        assert_eq!(status.power_on, data.first().is_some_and(|b| b & 1 == 1));
    }
    if let Some(b) = data.first() {
        let _ = ChassisControl::from_code(*b);
    }
});
