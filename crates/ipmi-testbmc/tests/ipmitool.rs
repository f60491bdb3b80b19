//! The test BMC checked against an independent client, ipmitool: if this
//! passes, the BMC speaks RMCP+ suites 3 and 17 as ipmitool does, so the
//! client tests that run against it test interoperability, not a mirror.
//! Skipped (with a message) when ipmitool is not installed.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

use std::path::PathBuf;
use std::time::Duration;

use ipmi_lan::Privilege;
use ipmi_testbmc::{BmcConfig, TestBmc, User};

fn ipmitool() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("ipmitool"))
        .find(|p| p.is_file())
}

/// Run ipmitool with the password in its environment (-E), bounded.
fn run(
    bin: &PathBuf,
    bmc: &TestBmc,
    suite: &str,
    user: &str,
    pw: &str,
    args: &[&str],
) -> (i32, String) {
    let port = bmc.port().to_string();
    let mut all = vec![
        "-I",
        "lanplus",
        "-C",
        suite,
        "-N",
        "1",
        "-R",
        "2",
        "-H",
        "127.0.0.1",
        "-p",
        &port,
        "-U",
        user,
        "-E",
    ];
    all.extend_from_slice(args);
    let out = umha_common::Command::new(bin)
        .args(&all)
        .env("IPMI_PASSWORD", pw)
        .timeout(Duration::from_secs(30))
        .run()
        .expect("ipmitool ran");
    (
        out.code(),
        format!("{}{}", out.stdout_lossy(), out.stderr_summary()),
    )
}

#[test]
fn ipmitool_drives_the_test_bmc_with_suites_17_and_3() {
    let Some(bin) = ipmitool() else {
        eprintln!("SKIPPED: ipmitool is not installed");
        return;
    };
    let bmc = TestBmc::start(BmcConfig::default()).expect("bmc");
    for suite in ["17", "3"] {
        let (code, out) = run(
            &bin,
            &bmc,
            suite,
            "admin",
            "admin-pw",
            &["chassis", "power", "status"],
        );
        assert_eq!(code, 0, "suite {suite}: {out}");
        assert!(out.contains("Chassis Power is on"), "{out}");

        let (code, out) = run(
            &bin,
            &bmc,
            suite,
            "admin",
            "admin-pw",
            &["chassis", "power", "off"],
        );
        assert_eq!(code, 0, "{out}");
        assert!(!bmc.power_on());
        let (_, out) = run(
            &bin,
            &bmc,
            suite,
            "admin",
            "admin-pw",
            &["chassis", "power", "status"],
        );
        assert!(out.contains("Chassis Power is off"), "{out}");

        let (code, out) = run(
            &bin,
            &bmc,
            suite,
            "admin",
            "admin-pw",
            &["chassis", "power", "on"],
        );
        assert_eq!(code, 0, "{out}");
        assert!(bmc.power_on());
        println!("ipmitool -C {suite}: status/off/status/on OK");
    }
    // ipmitool closes its sessions.
    assert_eq!(bmc.stats().active_sessions, 0);
}

#[test]
fn ipmitool_sees_our_refusals() {
    let Some(bin) = ipmitool() else {
        eprintln!("SKIPPED: ipmitool is not installed");
        return;
    };
    let bmc = TestBmc::start(BmcConfig {
        users: vec![
            User::new("admin", "admin-pw", Privilege::Administrator),
            User::new("op", "op-pw", Privilege::Operator),
        ],
        ..BmcConfig::default()
    })
    .expect("bmc");
    let (code, _) = run(
        &bin,
        &bmc,
        "17",
        "admin",
        "wrong-pw",
        &["chassis", "power", "status"],
    );
    assert_ne!(code, 0, "wrong password must fail");
    let (code, _) = run(
        &bin,
        &bmc,
        "17",
        "nobody",
        "admin-pw",
        &["chassis", "power", "status"],
    );
    assert_ne!(code, 0, "unknown user must fail");
    // An operator may fence when it asks for operator, not administrator.
    let (code, out) = run(
        &bin,
        &bmc,
        "3",
        "op",
        "op-pw",
        &["-L", "OPERATOR", "chassis", "power", "off"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(!bmc.power_on());
    let (code, _) = run(&bin, &bmc, "3", "op", "op-pw", &["chassis", "power", "on"]);
    assert_ne!(code, 0, "operator asking for administrator is refused");
    assert!(!bmc.power_on());
}

#[test]
fn ipmitool_automatic_suite_uses_our_cipher_list() {
    let Some(bin) = ipmitool() else {
        eprintln!("SKIPPED: ipmitool is not installed");
        return;
    };
    let bmc = TestBmc::start(BmcConfig::default()).expect("bmc");
    let port = bmc.port().to_string();
    let out = umha_common::Command::new(&bin)
        .args([
            "-I",
            "lanplus",
            "-N",
            "1",
            "-R",
            "2",
            "-H",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "admin",
            "-E",
            "channel",
            "getciphers",
            "ipmi",
        ])
        .env("IPMI_PASSWORD", "admin-pw")
        .timeout(Duration::from_secs(30))
        .run()
        .expect("ipmitool ran");
    let text = out.stdout_lossy();
    println!("{text}");
    assert!(out.success(), "{}", out.stderr_summary());
    assert!(text.contains("hmac_sha256"), "{text}");
    assert!(text.contains("aes_cbc_128"), "{text}");
}
