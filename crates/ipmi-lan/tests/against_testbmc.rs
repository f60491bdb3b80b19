//! The client against the test BMC (checked itself against ipmitool in
//! ipmi-testbmc's tests): suites 17 and 3, the automatic choice, privilege
//! limits, Kg, and the faults a fence agent must survive: loss, slowness,
//! sessions closed mid-way, completion codes, nothing listening, nothing answering.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use ipmi_lan::{
    AuthFailure, ChassisControl, CompletionCode, Config, ErrorClass, IpmiError, Privilege,
    RakpStatus, Session, command,
};
use ipmi_testbmc::{BmcConfig, CcFault, Event, Faults, TestBmc, User};
use umha_common::{Deadline, Secret};

const PW: &str = "admin-pw";

fn bmc(cfg: BmcConfig) -> TestBmc {
    TestBmc::start(cfg).expect("test BMC")
}

fn client(bmc: &TestBmc, cipher: Option<u8>) -> Config {
    let mut c = Config::new(bmc.addr().ip().to_string(), "admin", Secret::new(PW));
    c.port = bmc.port();
    c.cipher = cipher;
    c
}

fn deadline(secs: u64) -> Deadline {
    Deadline::after(Duration::from_secs(secs))
}

#[test]
fn suites_17_and_3_status_and_every_control() {
    let b = bmc(BmcConfig::default());
    for suite in [17, 3] {
        let mut s = Session::open(&client(&b, Some(suite)), deadline(10)).expect("open");
        assert_eq!(s.cipher_suite(), Some(suite));
        assert!(s.chassis_status().expect("status").power_on);
        assert_eq!(s.stats().exchanges, 4, "open (3) + status");
        s.chassis_control(ChassisControl::PowerOff).expect("off");
        assert!(!b.power_on());
        assert!(!s.chassis_status().expect("status").power_on);
        s.chassis_control(ChassisControl::PowerOn).expect("on");
        assert!(b.power_on());
        for c in [
            ChassisControl::PowerCycle,
            ChassisControl::HardReset,
            ChassisControl::SoftShutdown,
            ChassisControl::PowerOn,
        ] {
            s.chassis_control(c).expect("control");
        }
        assert_eq!(s.privilege(), Privilege::Administrator);
        s.close().expect("close");
        assert_eq!(b.stats().active_sessions, 0);
    }
    assert!(b.controls().contains(&ChassisControl::SoftShutdown));
}

#[test]
fn automatic_suite_choice() {
    // Offers 3 and 17 and answers the query: 17.
    let b = bmc(BmcConfig::default());
    let s = Session::open(&client(&b, None), deadline(10)).expect("open");
    assert_eq!(s.cipher_suite(), Some(17));
    drop(s);

    // Only 3: 3.
    let b = bmc(BmcConfig {
        suites: vec![3],
        ..BmcConfig::default()
    });
    let s = Session::open(&client(&b, None), deadline(10)).expect("open");
    assert_eq!(s.cipher_suite(), Some(3));
    drop(s);

    // Only 17 and silent about it: the probe times out quickly, 3 is
    // refused, 17 works.
    let b = bmc(BmcConfig {
        suites: vec![17],
        faults: Faults {
            no_cipher_suites_answer: true,
            ..Faults::default()
        },
        ..BmcConfig::default()
    });
    let t0 = Instant::now();
    let mut s = Session::open(&client(&b, None), deadline(10)).expect("open");
    assert_eq!(s.cipher_suite(), Some(17));
    assert!(s.chassis_status().expect("status").power_on);
    println!(
        "silent suite-17-only BMC: automatic choice took {:?}",
        t0.elapsed()
    );
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[test]
fn explicit_suite_the_bmc_lacks() {
    let b = bmc(BmcConfig {
        suites: vec![3],
        ..BmcConfig::default()
    });
    let err = Session::open(&client(&b, Some(17)), deadline(5)).unwrap_err();
    println!("{err}");
    assert!(matches!(err, IpmiError::NoCipherSuite { .. }), "{err:?}");
}

/// One lossy run: open, status, off, status, close.
fn lossy_run(seed: u64) -> Duration {
    let b = bmc(BmcConfig {
        faults: Faults {
            drop_ratio: 0.3,
            seed,
            ..Faults::default()
        },
        ..BmcConfig::default()
    });
    let t0 = Instant::now();
    let mut s = Session::open(&client(&b, Some(17)), deadline(20)).expect("open under loss");
    assert!(s.chassis_status().expect("status").power_on);
    s.chassis_control(ChassisControl::PowerOff).expect("off");
    assert!(!s.chassis_status().expect("status").power_on);
    let stats = s.stats();
    let reopened = s.reopened();
    let _ = s.close();
    let took = t0.elapsed();
    let bs = b.stats();
    println!(
        "30% loss each way (seed {seed}): open+status+off+status+close in {took:?}; {} exchanges, {} datagrams sent, {reopened} reopened; BMC dropped {} in, {} out",
        stats.exchanges, stats.datagrams_sent, bs.dropped_in, bs.dropped_out
    );
    assert!(!b.power_on());
    assert!(took < Duration::from_secs(20));
    took
}

#[test]
fn thirty_percent_loss_still_completes() {
    // Independent runs in parallel, each with its own BMC and seed.
    let runs: Vec<_> = (1..=10u64)
        .map(|seed| std::thread::spawn(move || lossy_run(seed)))
        .collect();
    let times: Vec<Duration> = runs.into_iter().map(|r| r.join().expect("run")).collect();
    println!(
        "30% loss each way: median {:?}, worst {:?} over 10 runs",
        common::median(times.clone()),
        times.iter().max()
    );
}

#[test]
fn slow_answers() {
    let b = bmc(BmcConfig {
        faults: Faults {
            delay: Duration::from_millis(600),
            ..Faults::default()
        },
        ..BmcConfig::default()
    });
    let t0 = Instant::now();
    let mut s = Session::open(&client(&b, Some(3)), deadline(20)).expect("open");
    assert!(s.chassis_status().expect("status").power_on);
    s.chassis_control(ChassisControl::PowerOff).expect("off");
    let stats = s.stats();
    println!(
        "600 ms per answer: open+status+off in {:?}, {} exchanges, {} datagrams, srtt {:?}, {} reopened",
        t0.elapsed(),
        stats.exchanges,
        stats.datagrams_sent,
        stats.srtt,
        s.reopened()
    );
    assert!(!b.power_on());
    // After the first exchange the timeout follows the round-trip time:
    // retransmissions stay few.
    assert!(stats.datagrams_sent <= stats.exchanges + 4, "{stats:?}");
}

#[test]
fn session_closed_mid_way_is_reopened() {
    let b = bmc(BmcConfig {
        faults: Faults {
            close_session_after: Some(1),
            ..Faults::default()
        },
        ..BmcConfig::default()
    });
    let mut s = Session::open(&client(&b, Some(17)), deadline(20)).expect("open");
    assert!(s.chassis_status().expect("first status").power_on);
    // The BMC forgot the session after that: this needs a new one.
    let t0 = Instant::now();
    s.chassis_control(ChassisControl::PowerOff)
        .expect("off after reopen");
    println!("session lost mid-way: recovered in {:?}", t0.elapsed());
    assert_eq!(s.reopened(), 1);
    assert!(!b.power_on());
    assert!(b.events().contains(&Event::SessionDroppedByFault));
    s.close().expect("close");
}

#[test]
fn completion_code_errors() {
    let b = bmc(BmcConfig {
        faults: Faults {
            completion_codes: vec![
                CcFault {
                    net_fn: 0x00,
                    cmd: 0x02,
                    code: 0xFF,
                    times: Some(1),
                },
                CcFault {
                    net_fn: 0x00,
                    cmd: 0x01,
                    code: 0xC0,
                    times: Some(2),
                },
            ],
            ..Faults::default()
        },
        ..BmcConfig::default()
    });
    let mut s = Session::open(&client(&b, Some(17)), deadline(10)).expect("open");
    let err = s.chassis_control(ChassisControl::PowerOff).unwrap_err();
    println!("{err}");
    assert!(
        matches!(
            err,
            IpmiError::Completion {
                code: CompletionCode(0xFF),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.class(), ErrorClass::Bmc);
    assert!(b.power_on());
    // "Node busy" twice, then the answer: retried transparently.
    assert!(s.chassis_status().expect("status after busy").power_on);
    // Raw requests: an unknown command.
    let err = s
        .request(
            command::Command {
                net_fn: 0x06,
                cmd: 0x77,
                name: "Nonsense",
            },
            &[],
        )
        .unwrap_err();
    assert!(err.to_string().contains("0xc1"), "{err}");
}

#[test]
fn privilege_limits() {
    let users = vec![
        User::new("admin", PW, Privilege::Administrator),
        User::new("op", "op-pw", Privilege::Operator),
        User::new("viewer", "viewer-pw", Privilege::User),
    ];
    let b = bmc(BmcConfig {
        users: users.clone(),
        ..BmcConfig::default()
    });
    let cfg = |name: &str, pw: &str, p: Privilege| {
        let mut c = client(&b, Some(17));
        c.username = name.into();
        c.password = Secret::new(pw);
        c.privilege = p;
        c
    };
    // Operator asking for administrator: refused in RAKP.
    let err =
        Session::open(&cfg("op", "op-pw", Privilege::Administrator), deadline(5)).unwrap_err();
    println!("{err}");
    assert!(matches!(
        err,
        IpmiError::AuthFailed(AuthFailure::PrivilegeNotAllowed {
            status: RakpStatus::UNAUTHORIZED_ROLE,
            ..
        })
    ));
    // Operator as operator: can fence.
    let mut s = Session::open(&cfg("op", "op-pw", Privilege::Operator), deadline(5)).expect("op");
    s.chassis_control(ChassisControl::PowerOff).expect("off");
    s.chassis_control(ChassisControl::PowerOn).expect("on");
    drop(s);
    // A user-level account: status yes, control no (0xD4).
    let mut s =
        Session::open(&cfg("viewer", "viewer-pw", Privilege::User), deadline(5)).expect("v");
    assert!(s.chassis_status().expect("status").power_on);
    let err = s.chassis_control(ChassisControl::PowerOff).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Auth);
    drop(s);

    // A lenient BMC (like ipmi_sim) lets the operator in, then refuses the raise.
    let b = bmc(BmcConfig {
        users,
        faults: Faults {
            lenient_role: true,
            ..Faults::default()
        },
        ..BmcConfig::default()
    });
    let mut c = client(&b, Some(3));
    c.username = "op".into();
    c.password = Secret::new("op-pw");
    let mut s = Session::open(&c, deadline(5)).expect("open");
    assert!(s.chassis_status().expect("status").power_on);
    let err = s.ensure_privilege().unwrap_err();
    println!("{err}");
    assert!(matches!(
        err,
        IpmiError::AuthFailed(AuthFailure::PrivilegeRefused { .. })
    ));
}

#[test]
fn wrong_credentials() {
    let b = bmc(BmcConfig::default());
    let mut c = client(&b, Some(17));
    c.password = Secret::new("hunter2-wrong");
    let err = Session::open(&c, deadline(5)).unwrap_err();
    assert!(matches!(
        err,
        IpmiError::AuthFailed(AuthFailure::WrongPassword { .. })
    ));
    assert!(!format!("{err} {err:?}").contains("hunter2"));
    let mut c = client(&b, Some(17));
    c.username = "root".into();
    let err = Session::open(&c, deadline(5)).unwrap_err();
    assert!(matches!(
        err,
        IpmiError::AuthFailed(AuthFailure::UnknownUser { .. })
    ));
    // The BMC's half-open sessions were given up.
    assert_eq!(b.stats().active_sessions, 0);
}

#[test]
fn bmc_key_kg() {
    let b = bmc(BmcConfig {
        kg: Some(b"0123456789abcdefghij".to_vec()),
        ..BmcConfig::default()
    });
    let hex: String = b"0123456789abcdefghij"
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    for suite in [3, 17] {
        let mut c = client(&b, Some(suite));
        c.kg = Some(Secret::new(hex.clone()));
        let mut s = Session::open(&c, deadline(5)).expect("open with Kg");
        assert!(s.chassis_status().expect("status").power_on);
        drop(s);
        let mut c = client(&b, Some(suite));
        c.kg = Some(Secret::new("00112233"));
        let err = Session::open(&c, deadline(5)).unwrap_err();
        assert!(
            matches!(err, IpmiError::AuthFailed(AuthFailure::WrongKg)),
            "{err:?}"
        );
        let err = Session::open(&client(&b, Some(suite)), deadline(5)).unwrap_err();
        assert!(
            matches!(err, IpmiError::AuthFailed(AuthFailure::WrongKg)),
            "{err:?}"
        );
    }
}

#[test]
fn nothing_listening_is_unreachable_at_once() {
    let port = {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        s.local_addr().expect("addr").port()
    };
    let mut c = Config::new("127.0.0.1", "admin", Secret::new(PW));
    c.port = port;
    for cipher in [None, Some(17)] {
        c.cipher = cipher;
        let t0 = Instant::now();
        let err = Session::open(&c, deadline(20)).unwrap_err();
        println!("nothing on port {port}: {err} after {:?}", t0.elapsed());
        assert!(matches!(err, IpmiError::Unreachable { .. }), "{err:?}");
        assert!(t0.elapsed() < Duration::from_secs(1));
    }
}

#[test]
fn silent_peer_ends_at_the_deadline() {
    // A socket that never answers: the error comes at the deadline, not later.
    let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let mut c = Config::new("127.0.0.1", "admin", Secret::new(PW));
    c.port = silent.local_addr().expect("addr").port();
    c.cipher = Some(3);
    let t0 = Instant::now();
    let err = Session::open(&c, Deadline::after(Duration::from_millis(1500))).unwrap_err();
    let took = t0.elapsed();
    println!("silent BMC: {err} after {took:?}");
    assert!(matches!(err, IpmiError::NoAnswer { .. }));
    assert!(took >= Duration::from_millis(1400) && took < Duration::from_millis(2500));
}

#[test]
fn ipv6_and_host_names() {
    let b = match TestBmc::start(BmcConfig {
        bind: SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0)),
        ..BmcConfig::default()
    }) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("SKIPPED: no IPv6 loopback here: {e}");
            return;
        }
    };
    for host in ["::1", "[::1]"] {
        let mut c = client(&b, Some(17));
        c.host = host.into();
        let mut s = Session::open(&c, deadline(5)).expect("open over IPv6");
        assert!(s.chassis_status().expect("status").power_on);
    }
    // "localhost" may resolve to ::1 and 127.0.0.1; either way it must work.
    let b4 = bmc(BmcConfig::default());
    let mut c = client(&b4, Some(17));
    c.host = "localhost".into();
    match Session::open(&c, deadline(5)) {
        Ok(mut s) => assert!(s.chassis_status().expect("status").power_on),
        Err(e) => panic!("localhost: {e}"),
    }
}

#[test]
fn dropping_a_session_closes_it() {
    let b = bmc(BmcConfig::default());
    {
        let mut s = Session::open(&client(&b, Some(17)), deadline(5)).expect("open");
        s.chassis_status().expect("status");
        assert_eq!(b.stats().active_sessions, 1);
    }
    assert_eq!(b.stats().active_sessions, 0);
    assert!(b.events().contains(&Event::SessionClosed));
}

#[test]
fn lying_and_stubborn_bmcs_are_reported_as_they_are() {
    let b = bmc(BmcConfig {
        faults: Faults {
            ignore_power_off: true,
            lie_off_reads: 1,
            ..Faults::default()
        },
        ..BmcConfig::default()
    });
    let mut s = Session::open(&client(&b, Some(17)), deadline(5)).expect("open");
    s.chassis_control(ChassisControl::PowerOff)
        .expect("accepted");
    // First read lies (off), the next ones tell the truth (on).
    assert!(!s.chassis_status().expect("status").power_on);
    assert!(s.chassis_status().expect("status").power_on);
    assert!(b.power_on());
    assert!(b.events().contains(&Event::IgnoredOff));

    let b = bmc(BmcConfig {
        faults: Faults {
            off_after_reads: 2,
            ..Faults::default()
        },
        ..BmcConfig::default()
    });
    let mut s = Session::open(&client(&b, Some(3)), deadline(5)).expect("open");
    s.chassis_control(ChassisControl::PowerOff).expect("off");
    let reads: Vec<bool> = (0..4)
        .map(|_| s.chassis_status().expect("status").power_on)
        .collect();
    assert_eq!(reads, vec![true, true, false, false]);
}

#[test]
fn total_loss_respects_the_deadline() {
    let b = bmc(BmcConfig {
        faults: Faults {
            drop_ratio: 1.0,
            ..Faults::default()
        },
        ..BmcConfig::default()
    });
    let t0 = Instant::now();
    let err =
        Session::open(&client(&b, None), Deadline::after(Duration::from_secs(2))).unwrap_err();
    println!("total loss: {err} after {:?}", t0.elapsed());
    assert!(matches!(err, IpmiError::NoAnswer { .. }));
    assert!(t0.elapsed() < Duration::from_millis(3000));
}
