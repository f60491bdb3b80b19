//! The test BMC survives garbage: random datagrams, with and without a
//! valid RMCP header, then still serves a real client.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

use std::net::UdpSocket;
use std::time::Duration;

use ipmi_lan::{Config, Session};
use ipmi_testbmc::{BmcConfig, SplitMix64, TestBmc};
use umha_common::{Deadline, Secret};

#[test]
fn garbage_then_service_as_usual() {
    let bmc = TestBmc::start(BmcConfig::default()).expect("bmc");
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.connect(bmc.addr()).expect("connect");
    let mut rng = SplitMix64::new(42);
    for i in 0..3000u32 {
        let len = (rng.next_u64() % 120) as usize;
        let mut d: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        if i % 2 == 0 && d.len() >= 6 {
            // A valid RMCP header and an RMCP+ or IPMI 1.5 session header start.
            d[..4].copy_from_slice(&[0x06, 0x00, 0xFF, 0x07]);
            d[4] = if i % 4 == 0 { 0x06 } else { 0x00 };
        }
        let _ = sock.send(&d);
    }
    // Let it chew through them, then a real session.
    std::thread::sleep(Duration::from_millis(200));
    let mut cfg = Config::new("127.0.0.1", "admin", Secret::new("admin-pw"));
    cfg.port = bmc.port();
    cfg.cipher = Some(17);
    let mut s = Session::open(&cfg, Deadline::after(Duration::from_secs(10))).expect("open");
    assert!(s.chassis_status().expect("status").power_on);
    let got = bmc.stats().received;
    println!(
        "the BMC read {got} of 3000 garbage datagrams (the rest overflowed the socket buffer)"
    );
    assert!(got > 100);
}
