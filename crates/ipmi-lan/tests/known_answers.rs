//! Known-answer tests from captured real exchanges (tests/fixtures, made by
//! tests/fixtures/capture.sh): ipmitool ↔ ipmi_sim with suite 3, and
//! ipmitool ↔ the test BMC with suite 17. The SIK, K1 and K2 that ipmitool
//! printed (computed with OpenSSL) are the expected values; the RAKP codes
//! were computed by ipmitool and by the BMC. Every in-session datagram of
//! both directions must pass the AuthCode check and decrypt.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

use ipmi_lan::crypto::{CipherSuite, Key, RakpContext, SessionKeys};
use ipmi_lan::message::{Request, Response};
use ipmi_lan::packet::{self, Frame, PayloadType};
use ipmi_lan::rakp::{OpenSessionRequest, OpenSessionResponse, Rakp1, Rakp2, Rakp3, Rakp4};

struct Fixture {
    suite: u8,
    user: String,
    password: String,
    sik: Vec<u8>,
    k1: Vec<u8>,
    k2: Vec<u8>,
    /// (from client?, datagram)
    datagrams: Vec<(bool, Vec<u8>)>,
}

fn unhex(s: &str) -> Vec<u8> {
    let s = s.trim();
    assert!(s.len().is_multiple_of(2), "odd hex: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn load(name: &str) -> Fixture {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture");
    let mut f = Fixture {
        suite: 0,
        user: String::new(),
        password: String::new(),
        sik: vec![],
        k1: vec![],
        k2: vec![],
        datagrams: vec![],
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (key, value) = line.split_once(' ').expect("key value");
        match key {
            "suite:" => f.suite = value.trim().parse().expect("suite"),
            "user:" => f.user = value.trim().into(),
            "password:" => f.password = value.trim().into(),
            "ipmitool-sik:" => f.sik = unhex(value),
            "ipmitool-k1:" => f.k1 = unhex(value),
            "ipmitool-k2:" => f.k2 = unhex(value),
            "C>S" => f.datagrams.push((true, unhex(value))),
            "S>C" => f.datagrams.push((false, unhex(value))),
            other => panic!("unknown fixture line {other}"),
        }
    }
    f
}

/// The clear payload of the last pre-session datagram of this type.
fn last_payload(f: &Fixture, from_client: bool, ty: PayloadType) -> Vec<u8> {
    f.datagrams
        .iter()
        .filter(|(c, _)| *c == from_client)
        .filter_map(|(_, d)| match packet::decode(d) {
            Ok(Frame::V20(fr)) if fr.payload_type == ty => fr.open(None).ok(),
            _ => None,
        })
        .next_back()
        .unwrap_or_else(|| panic!("no {ty:?} in fixture"))
}

fn check(name: &str) {
    let f = load(name);
    let suite = CipherSuite::from_id(f.suite).expect("suite");
    let open = OpenSessionRequest::decode(&last_payload(&f, true, PayloadType::OpenSessionRequest))
        .expect("open request");
    let opened =
        OpenSessionResponse::decode(&last_payload(&f, false, PayloadType::OpenSessionResponse))
            .expect("open response");
    assert_eq!(opened.algorithms.and_then(|a| a.suite()), Some(suite));
    let r1 = Rakp1::decode(&last_payload(&f, true, PayloadType::Rakp1)).expect("rakp1");
    let r2 = Rakp2::decode(&last_payload(&f, false, PayloadType::Rakp2)).expect("rakp2");
    let r3 = Rakp3::decode(&last_payload(&f, true, PayloadType::Rakp3)).expect("rakp3");
    let r4 = Rakp4::decode(&last_payload(&f, false, PayloadType::Rakp4)).expect("rakp4");
    assert_eq!(r1.user, f.user.as_bytes());
    assert_eq!(
        r1.role, 0x14,
        "ipmitool: administrator with name-only lookup"
    );

    let ctx = RakpContext {
        auth: suite.auth,
        console_sid: open.console_sid,
        bmc_sid: opened.bmc_sid.expect("bmc sid"),
        console_rand: r1.console_rand,
        bmc_rand: r2.bmc_rand,
        bmc_guid: r2.bmc_guid,
        role: r1.role,
        user: &r1.user,
    };
    let pw = Key::from_slice(f.password.as_bytes());
    assert_eq!(
        ctx.rakp2_code(&pw),
        r2.auth_code,
        "{name}: RAKP2 (by the BMC)"
    );
    assert_eq!(
        ctx.rakp3_code(&pw),
        r3.auth_code,
        "{name}: RAKP3 (by ipmitool)"
    );
    let sik = ctx.sik(&pw);
    assert_eq!(sik.as_bytes(), f.sik, "{name}: SIK (ipmitool's)");
    assert_eq!(
        ctx.rakp4_icv(&sik),
        r4.icv,
        "{name}: RAKP4 ICV (by the BMC)"
    );
    let keys = SessionKeys::derive(suite, &sik);
    assert_eq!(keys.k1().as_bytes(), f.k1, "{name}: K1 (ipmitool's)");
    assert_eq!(keys.k2().as_bytes(), f.k2, "{name}: K2 (ipmitool's)");

    // Every in-session datagram opens with these keys and holds an IPMI message.
    let mut commands = Vec::new();
    for (from_client, d) in &f.datagrams {
        let Ok(Frame::V20(fr)) = packet::decode(d) else {
            continue;
        };
        if fr.payload_type != PayloadType::Ipmi || !fr.authenticated {
            continue;
        }
        let plain = fr
            .open(Some(&keys))
            .unwrap_or_else(|e| panic!("{name}: datagram does not open: {e}"));
        if *from_client {
            let rq = Request::decode(&plain).expect("request");
            commands.push((rq.net_fn, rq.cmd));
        } else {
            let rs = Response::decode(&plain).expect("response");
            if (rs.net_fn, rs.cmd) == (0x01, 0x01) {
                assert!(rs.completion.is_ok());
                assert_eq!(rs.data.first().map(|b| b & 1), Some(1), "power is on");
            }
        }
    }
    assert_eq!(
        commands.first(),
        Some(&(0x06, 0x3B)),
        "Set Session Privilege first"
    );
    assert!(commands.contains(&(0x00, 0x01)), "Get Chassis Status");
    assert_eq!(commands.last(), Some(&(0x06, 0x3C)), "Close Session last");
    println!("{name}: {} in-session requests checked", commands.len());
}

#[test]
fn suite3_ipmitool_with_ipmi_sim() {
    check("suite3-ipmitool-ipmi_sim.txt");
}

#[test]
fn suite17_ipmitool_with_test_bmc() {
    check("suite17-ipmitool-testbmc.txt");
}
