//! The test BMC checked against an independent client, ipmitool: if this
//! passes, the BMC speaks RMCP+ suites 3 and 17 as ipmitool does, so the
//! client tests that run against it test interoperability, not a mirror.
//! Skipped (with a message) when ipmitool is not installed.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

use ipmi_lan::Privilege;
use ipmi_testbmc::harness::{ipmitool, require};
use ipmi_testbmc::{BmcConfig, TestBmc, User};

/// ipmitool -I lanplus -C `suite` against `bmc`, bounded.
fn run(bmc: &TestBmc, suite: &str, user: &str, pw: &str, args: &[&str]) -> (i32, String) {
    let mut all = vec!["-I", "lanplus", "-C", suite];
    all.extend_from_slice(args);
    ipmitool(bmc.port(), user, pw, &all)
}

#[test]
fn ipmitool_drives_the_test_bmc_with_suites_17_and_3() {
    if require("ipmitool").is_none() {
        return;
    }
    let bmc = TestBmc::start(BmcConfig::default()).expect("bmc");
    for suite in ["17", "3"] {
        let admin = |args: &[&str]| run(&bmc, suite, "admin", "admin-pw", args);
        let (code, out) = admin(&["chassis", "power", "status"]);
        assert_eq!(code, 0, "suite {suite}: {out}");
        assert!(out.contains("Chassis Power is on"), "{out}");

        let (code, out) = admin(&["chassis", "power", "off"]);
        assert_eq!(code, 0, "{out}");
        assert!(!bmc.power_on());
        let (_, out) = admin(&["chassis", "power", "status"]);
        assert!(out.contains("Chassis Power is off"), "{out}");

        let (code, out) = admin(&["chassis", "power", "on"]);
        assert_eq!(code, 0, "{out}");
        assert!(bmc.power_on());
        println!("ipmitool -C {suite}: status/off/status/on OK");
    }
    // ipmitool closes its sessions.
    assert_eq!(bmc.stats().active_sessions, 0);
}

#[test]
fn ipmitool_sees_our_refusals() {
    if require("ipmitool").is_none() {
        return;
    }
    let bmc = TestBmc::start(BmcConfig {
        users: vec![
            User::new("admin", "admin-pw", Privilege::Administrator),
            User::new("op", "op-pw", Privilege::Operator),
        ],
        ..BmcConfig::default()
    })
    .expect("bmc");
    let status = ["chassis", "power", "status"];
    let (code, _) = run(&bmc, "17", "admin", "wrong-pw", &status);
    assert_ne!(code, 0, "wrong password must fail");
    let (code, _) = run(&bmc, "17", "nobody", "admin-pw", &status);
    assert_ne!(code, 0, "unknown user must fail");
    // An operator may fence when it asks for operator, not administrator.
    let (code, out) = run(
        &bmc,
        "3",
        "op",
        "op-pw",
        &["-L", "OPERATOR", "chassis", "power", "off"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(!bmc.power_on());
    let (code, _) = run(&bmc, "3", "op", "op-pw", &["chassis", "power", "on"]);
    assert_ne!(code, 0, "operator asking for administrator is refused");
    assert!(!bmc.power_on());
}

#[test]
fn ipmitool_automatic_suite_uses_our_cipher_list() {
    if require("ipmitool").is_none() {
        return;
    }
    let bmc = TestBmc::start(BmcConfig::default()).expect("bmc");
    let (code, text) = ipmitool(
        bmc.port(),
        "admin",
        "admin-pw",
        &["-I", "lanplus", "channel", "getciphers", "ipmi"],
    );
    println!("{text}");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("hmac_sha256"), "{text}");
    assert!(text.contains("aes_cbc_128"), "{text}");
}
