//! The client against OpenIPMI's ipmi_sim, an independent BMC implementation:
//! RMCP+ suite 3 and IPMI 1.5, admin and operator accounts, wrong
//! credentials, power status/off/on/cycle, loss in front of it, and a rough
//! timing comparison with ipmitool. Skipped (with a message) without ipmi_sim.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

mod common;

use std::time::{Duration, Instant};

use common::sim;
use ipmi_lan::{
    AuthFailure, AuthType, ChassisControl, CompletionCode, Config, IpmiError, Privilege, Session,
};
use ipmi_testbmc::harness::{ADMIN, IpmiSim, OPERATOR, PLAIN_USER, ipmitool, require};
use umha_common::{Deadline, Secret};

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(20))
}

fn wait_power(sim: &IpmiSim, cfg: &Config, want: bool) -> bool {
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        let mut s = Session::open(cfg, deadline()).expect("open");
        if s.chassis_status().expect("status").power_on == want && sim.power_on() == want {
            return true;
        }
        drop(s);
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn power_cycle_checks(sim: &IpmiSim, cfg: &Config) {
    sim.set_power(true);
    let mut s = Session::open(cfg, deadline()).expect("open");
    assert!(s.chassis_status().expect("status").power_on);
    s.chassis_control(ChassisControl::PowerOff).expect("off");
    assert!(!s.chassis_status().expect("status").power_on);
    assert!(!sim.power_on());
    s.chassis_control(ChassisControl::PowerOn).expect("on");
    assert!(s.chassis_status().expect("status").power_on);
    s.chassis_control(ChassisControl::PowerCycle)
        .expect("cycle");
    s.close().expect("close");
    // ipmi_sim turns the power back on about a second after a cycle.
    assert!(wait_power(sim, cfg, true), "power back on after cycle");
}

#[test]
fn lanplus_suite3_admin_status_off_on_cycle() {
    let Some(sim) = sim(&[ADMIN]) else { return };
    let mut cfg = sim.config(&ADMIN);
    cfg.cipher = Some(3);
    let mut s = Session::open(&cfg, deadline()).expect("open");
    assert_eq!(s.cipher_suite(), Some(3));
    assert!(s.chassis_status().expect("status").power_on);
    // Open Session, RAKP 1, RAKP 3, Get Chassis Status (+ Close Session).
    assert_eq!(s.stats().exchanges, 4);
    s.close().expect("close");
    power_cycle_checks(&sim, &cfg);
}

#[test]
fn lanplus_automatic_suite_picks_3_quickly() {
    let Some(sim) = sim(&[ADMIN]) else { return };
    let cfg = sim.config(&ADMIN);
    let t0 = Instant::now();
    let mut s = Session::open(&cfg, deadline()).expect("open");
    assert!(s.chassis_status().expect("status").power_on);
    let took = t0.elapsed();
    assert_eq!(s.cipher_suite(), Some(3));
    println!(
        "automatic suite against ipmi_sim: suite {:?} in {took:?}, {} exchanges",
        s.cipher_suite(),
        s.stats().exchanges
    );
    assert!(took < Duration::from_secs(2), "no long stall: {took:?}");
}

#[test]
fn ipmi15_md5_and_straight_password() {
    let Some(sim) = sim(&[ADMIN]) else { return };
    for auth in [None, Some(AuthType::Md5), Some(AuthType::Password)] {
        let mut cfg = sim.config(&ADMIN);
        cfg.lanplus = false;
        cfg.v15_auth = auth;
        let mut s = Session::open(&cfg, deadline()).expect("open 1.5");
        assert_eq!(s.cipher_suite(), None);
        assert!(s.chassis_status().expect("status").power_on);
        // Auth caps, challenge, activate, status.
        assert_eq!(s.stats().exchanges, 4);
        s.close().expect("close");
        power_cycle_checks(&sim, &cfg);
    }
}

#[test]
fn operator_account_can_fence() {
    let Some(sim) = sim(&[ADMIN, OPERATOR]) else {
        return;
    };
    for lanplus in [true, false] {
        let mut cfg = sim.config(&OPERATOR);
        cfg.privilege = Privilege::Operator;
        cfg.lanplus = lanplus;
        cfg.cipher = lanplus.then_some(3);
        let mut s = Session::open(&cfg, deadline()).expect("open");
        s.chassis_control(ChassisControl::PowerOff).expect("off");
        assert_eq!(s.privilege(), Privilege::Operator);
        assert!(!s.chassis_status().expect("status").power_on);
        s.chassis_control(ChassisControl::PowerOn).expect("on");
        assert!(s.chassis_status().expect("status").power_on);
        s.close().expect("close");
    }
    // ipmi_sim's quirk: it lets an operator open an administrator session.
    let mut cfg = sim.config(&OPERATOR);
    cfg.cipher = Some(3);
    match Session::open(&cfg, deadline()).and_then(|mut s| s.ensure_privilege().map(|_| s)) {
        Ok(s) => println!(
            "ipmi_sim quirk confirmed: operator account got privilege {}",
            s.privilege()
        ),
        Err(e) => println!("ipmi_sim refused administrator for an operator: {e}"),
    }
}

#[test]
fn user_privilege_session_cannot_control_power() {
    let Some(sim) = sim(&[ADMIN, PLAIN_USER]) else {
        return;
    };
    let mut cfg = sim.config(&PLAIN_USER);
    cfg.privilege = Privilege::User;
    cfg.cipher = Some(3);
    let mut s = Session::open(&cfg, deadline()).expect("open");
    assert!(s.chassis_status().expect("status").power_on);
    let err = s.chassis_control(ChassisControl::PowerOff).unwrap_err();
    match &err {
        IpmiError::Completion { code, .. } => {
            assert_eq!(*code, CompletionCode::INSUFFICIENT_PRIVILEGE)
        }
        other => panic!("expected 0xD4, got {other}"),
    }
    println!("{err}");
    assert!(err.to_string().contains("privlvl"));
    assert!(sim.power_on());
}

#[test]
fn wrong_password_and_wrong_user_are_clear_errors() {
    let Some(sim) = sim(&[ADMIN]) else { return };
    for lanplus in [true, false] {
        let mut cfg = sim.config(&ADMIN);
        cfg.lanplus = lanplus;
        cfg.cipher = lanplus.then_some(3);
        cfg.password = Secret::new("not-the-password");
        let t0 = Instant::now();
        let err = Session::open(&cfg, deadline()).unwrap_err();
        println!(
            "lanplus={lanplus}, wrong password: {err} ({:?})",
            t0.elapsed()
        );
        assert!(!err.to_string().contains("not-the-password"));
        match (lanplus, &err) {
            (true, IpmiError::AuthFailed(AuthFailure::WrongPassword { .. })) => {
                assert!(t0.elapsed() < Duration::from_secs(1))
            }
            // ipmi_sim drops an activation with a wrong AuthCode silently.
            (false, IpmiError::AuthFailed(AuthFailure::ActivationUnanswered { .. })) => {
                assert!(t0.elapsed() < Duration::from_secs(8))
            }
            _ => panic!("unexpected error: {err:?}"),
        }

        let mut cfg = sim.config(&ADMIN);
        cfg.lanplus = lanplus;
        cfg.cipher = lanplus.then_some(3);
        cfg.username = "nobody".into();
        let err = Session::open(&cfg, deadline()).unwrap_err();
        println!("lanplus={lanplus}, wrong user: {err}");
        assert!(
            matches!(err, IpmiError::AuthFailed(AuthFailure::UnknownUser { .. })),
            "{err:?}"
        );
    }
}

#[test]
fn completes_through_a_lossy_relay() {
    let Some(sim) = sim(&[ADMIN]) else { return };
    let target = format!("127.0.0.1:{}", sim.port).parse().expect("addr");
    for seed in 1..=3 {
        let relay =
            ipmi_testbmc::Relay::start("127.0.0.1:0".parse().expect("addr"), target, 0.2, seed)
                .expect("relay");
        let mut cfg = sim.config(&ADMIN);
        cfg.port = relay.addr().port();
        cfg.cipher = Some(3);
        let t0 = Instant::now();
        let mut s = Session::open(&cfg, deadline()).expect("open through loss");
        s.chassis_control(ChassisControl::PowerOff).expect("off");
        assert!(!s.chassis_status().expect("status").power_on);
        s.chassis_control(ChassisControl::PowerOn).expect("on");
        let stats = s.stats();
        let reopened = s.reopened();
        let _ = s.close();
        let dropped = relay.captured().iter().filter(|c| c.dropped).count();
        println!(
            "ipmi_sim behind 20% loss (seed {seed}): off/status/on in {:?}, {} exchanges, {} datagrams sent, {dropped} dropped, {reopened} reopened",
            t0.elapsed(),
            stats.exchanges,
            stats.datagrams_sent,
        );
        assert!(sim.power_on());
    }
}

#[test]
fn timing_against_ipmitool() {
    let Some(sim) = sim(&[ADMIN]) else { return };
    if require("ipmitool").is_none() {
        return;
    }
    let mut cfg = sim.config(&ADMIN);
    cfg.cipher = Some(3);
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..10 {
        let t0 = Instant::now();
        let mut s = Session::open(&cfg, deadline()).expect("open");
        assert!(s.chassis_status().expect("status").power_on);
        s.close().expect("close");
        ours.push(t0.elapsed());

        let t0 = Instant::now();
        let (code, out) = ipmitool(
            sim.port,
            ADMIN.name,
            ADMIN.password,
            &["-I", "lanplus", "-C", "3", "chassis", "power", "status"],
        );
        theirs.push(t0.elapsed());
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("Chassis Power is on"), "{out}");
    }
    println!(
        "status query (open, status, close) against ipmi_sim, median of 10: ipmi-lan {:?} (5 exchanges), ipmitool -I lanplus -C 3 {:?} (about 11 exchanges, plus process start)",
        common::median(ours),
        common::median(theirs)
    );
}
