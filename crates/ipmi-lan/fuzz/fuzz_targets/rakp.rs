//! RAKP messages 1 to 4 (the key exchange).
#![no_main]

use ipmi_lan::rakp::{Rakp1, Rakp2, Rakp3, Rakp4};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Rakp1::decode(data);
    let _ = Rakp2::decode(data);
    let _ = Rakp3::decode(data);
    let _ = Rakp4::decode(data);
});
