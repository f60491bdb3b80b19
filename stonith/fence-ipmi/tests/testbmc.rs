//! fence_ipmi against the test BMC (`ipmi-testbmc`, in this process, port 0):
//! cipher suite 17, which ipmi_sim lacks; privilege checks; dead and silent
//! BMCs; and **zero false successes** across the faulty BMCs: `off` and
//! `reboot` exit 0 only when the BMC's real power is off.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Run, fence_ipmi};
use ipmi_lan::{ChassisControl, Privilege};
use ipmi_testbmc::harness::{ipmitool, tool};
use ipmi_testbmc::{BmcConfig, CcFault, Event, Faults, TestBmc, User};

const PASSWORD: &str = "Zq8-bmc-pw";

fn bmc(users: Vec<User>, faults: Faults) -> TestBmc {
    TestBmc::start(BmcConfig {
        users,
        faults,
        ..BmcConfig::default()
    })
    .expect("test BMC")
}

fn admin() -> Vec<User> {
    vec![User::new("admin", PASSWORD, Privilege::Administrator)]
}

/// stdin for `user` on `bmc`, RMCP+.
fn options(bmc: &TestBmc, user: &str) -> String {
    format!(
        "ip=127.0.0.1\nipport={}\nusername={user}\npassword={PASSWORD}\nlanplus=1\n\
         power_wait=0\nstonith_status_sleep=0.1\npower_timeout=3\n",
        bmc.port()
    )
}

fn expect(run: &Run, code: i32) {
    assert_eq!(run.code, code, "{}", run.describe());
}

#[test]
fn suite_17_explicit_and_automatic() {
    let b = bmc(admin(), Faults::default());
    for cipher in ["cipher=17\n", ""] {
        let r = fence_ipmi(&format!(
            "{}{cipher}action=status\nverbose=1\n",
            options(&b, "admin")
        ));
        expect(&r, 0);
        assert!(
            r.stderr.contains("RMCP+ cipher suite 17"),
            "{}",
            r.describe()
        );
    }
    let events_before = b.events().len();
    let r = fence_ipmi(&format!(
        "{}cipher=17\naction=reboot\n",
        options(&b, "admin")
    ));
    expect(&r, 0);
    let controls: Vec<ChassisControl> = b.events()[events_before..]
        .iter()
        .filter_map(|e| match e {
            Event::Control(c) => Some(*c),
            _ => None,
        })
        .collect();
    assert_eq!(
        controls,
        [ChassisControl::PowerOff, ChassisControl::PowerOn]
    );
    expect(
        &fence_ipmi(&format!(
            "{}cipher=17\naction=monitor\n",
            options(&b, "admin")
        )),
        0,
    );
    expect(
        &fence_ipmi(&format!("{}cipher=17\naction=off\n", options(&b, "admin"))),
        0,
    );
    assert!(!b.power_on());
    expect(
        &fence_ipmi(&format!(
            "{}cipher=17\naction=status\n",
            options(&b, "admin")
        )),
        2,
    );

    // ipmitool, an independent client, agrees with what fence_ipmi left behind.
    if tool("ipmitool").is_some() {
        let (_, out) = ipmitool(
            b.port(),
            "admin",
            PASSWORD,
            &["-I", "lanplus", "-C", "17", "chassis", "power", "status"],
        );
        assert!(out.contains("Chassis Power is off"), "{out}");
    }
}

#[test]
fn suite_17_over_ipv6() {
    let Ok(b) = TestBmc::start(BmcConfig {
        bind: "[::1]:0".parse().unwrap(),
        users: admin(),
        ..BmcConfig::default()
    }) else {
        eprintln!("SKIPPED: no IPv6 loopback here");
        return;
    };
    let r = fence_ipmi(&format!(
        "ip=::1\nipport={}\nusername=admin\npassword={PASSWORD}\nlanplus=1\ncipher=17\naction=status\n",
        b.port()
    ));
    expect(&r, 0);
}

#[test]
fn pacemaker_style_stdin_with_port_and_nodename() {
    let b = bmc(admin(), Faults::default());
    let r = common::run_with(
        std::path::Path::new(common::AGENT),
        &[],
        &format!(
            "# written by pacemaker-fenced\naction=status\nport=cmp1\nnodename=cmp1\n\
             pcmk_host_list=cmp1\n{}",
            options(&b, "admin")
        ),
        &[("PCMK_service", "pacemaker-fenced")],
        Duration::from_secs(30),
        |_| {},
    );
    expect(&r, 0);
    assert_eq!(r.stdout.trim(), "Status: ON");
}

#[test]
fn diag_sends_a_diagnostic_interrupt() {
    let b = bmc(admin(), Faults::default());
    let r = fence_ipmi(&format!("{}action=diag\n", options(&b, "admin")));
    expect(&r, 0);
    assert_eq!(b.controls(), [ChassisControl::DiagnosticInterrupt]);
    assert!(b.power_on());
}

#[test]
fn a_cycle_never_seen_off_is_not_a_reboot() {
    // The test BMC cycles instantly: the power never reads off, so the
    // reboot cannot be confirmed (fence_ipmilan would report success).
    let b = bmc(admin(), Faults::default());
    let r = fence_ipmi(&format!(
        "{}method=cycle\nretry_on=0\npower_timeout=0.5\naction=reboot\n",
        options(&b, "admin")
    ));
    expect(&r, 1);
    assert!(
        r.stderr.contains("power OFF was never observed"),
        "{}",
        r.describe()
    );
    assert_eq!(b.controls(), [ChassisControl::PowerCycle]);
}

#[test]
fn monitor_fails_when_the_account_cannot_fence() {
    let b = bmc(
        vec![
            User::new("admin", PASSWORD, Privilege::Administrator),
            User::new("viewer", PASSWORD, Privilege::User),
        ],
        Faults {
            // As ipmi_sim: the session opens, the privilege raise is refused.
            lenient_role: true,
            ..Faults::default()
        },
    );
    let r = fence_ipmi(&format!("{}action=status\n", options(&b, "viewer")));
    expect(&r, 0);
    let r = fence_ipmi(&format!("{}action=monitor\n", options(&b, "viewer")));
    expect(&r, 1);
    assert!(
        r.stderr
            .contains("refused privilege level administrator for user 'viewer'"),
        "{}",
        r.describe()
    );
    let r = fence_ipmi(&format!("{}action=off\n", options(&b, "viewer")));
    expect(&r, 1);
    assert!(b.power_on());
    expect(
        &fence_ipmi(&format!("{}action=monitor\n", options(&b, "admin"))),
        0,
    );
}

#[test]
fn bridging_is_refused_before_anything_is_sent() {
    let b = bmc(admin(), Faults::default());
    let r = fence_ipmi(&format!(
        "{}target=0x82\naction=off\n",
        options(&b, "admin")
    ));
    expect(&r, 1);
    assert!(r.stderr.contains("IPMI bridging"), "{}", r.describe());
    assert_eq!(b.stats().received, 0);
    assert!(b.power_on());
}

#[test]
fn a_dead_bmc_fails_at_once_and_a_silent_one_within_login_timeout() {
    // Nothing listens: ICMP port unreachable, reported at once.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = fence_ipmi(&format!(
        "ip=127.0.0.1\nipport={port}\nusername=admin\npassword=x\nlanplus=1\naction=off\n"
    ));
    expect(&r, 1);
    assert!(
        r.stderr.contains("Unable to connect to fencing device"),
        "{}",
        r.describe()
    );
    assert!(r.elapsed < Duration::from_secs(2), "{:?}", r.elapsed);

    // Something holds the port and never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = silent.local_addr().unwrap();
    let r = fence_ipmi(&format!(
        "ip=127.0.0.1\nipport={}\nusername=admin\npassword=x\nlanplus=1\nlogin_timeout=1\naction=off\n",
        addr.port()
    ));
    expect(&r, 1);
    assert!(r.stderr.contains("timed out"), "{}", r.describe());
    assert!(r.elapsed < Duration::from_secs(3), "{:?}", r.elapsed);
}

/// One kind of faulty BMC.
struct Fault {
    name: &'static str,
    faults: fn(seed: u64) -> Faults,
    /// Timing lines for fence_ipmi.
    timing: &'static str,
    expect: Expect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The power never goes off: every run must fail.
    NeverOff,
    /// The agent copes: every run must succeed.
    Always,
    /// Loss: at least this many of the runs succeed.
    AtLeast(usize),
}

const QUICK: &str = "power_wait=0.05\nstonith_status_sleep=0.1\npower_timeout=1.5\nlogin_timeout=2\nshell_timeout=1\n";
const PATIENT: &str = "power_wait=0.05\nstonith_status_sleep=0.1\npower_timeout=3\nlogin_timeout=3\nshell_timeout=2\n";

fn control_fails(code: u8, times: Option<u32>) -> Vec<CcFault> {
    vec![CcFault {
        net_fn: 0x00,
        cmd: 0x02,
        code,
        times,
    }]
}

const FAULTS: &[Fault] = &[
    Fault {
        name: "ignores power off",
        faults: |_| Faults {
            ignore_power_off: true,
            ..Faults::default()
        },
        timing: QUICK,
        expect: Expect::NeverOff,
    },
    Fault {
        name: "says off while on (3 reads)",
        faults: |_| Faults {
            lie_off_reads: 3,
            ..Faults::default()
        },
        timing: QUICK,
        expect: Expect::Always,
    },
    Fault {
        // The stale OFF comes before the request, the truth after it: only
        // not believing the first reading keeps this from a false success.
        name: "says off while on, ignores off",
        faults: |_| Faults {
            lie_off_reads: 1,
            ignore_power_off: true,
            ..Faults::default()
        },
        timing: QUICK,
        expect: Expect::NeverOff,
    },
    Fault {
        name: "powers off 3 reads late",
        faults: |_| Faults {
            off_after_reads: 3,
            ..Faults::default()
        },
        timing: QUICK,
        expect: Expect::Always,
    },
    Fault {
        name: "drops 25% of datagrams",
        faults: |seed| Faults {
            drop_ratio: 0.25,
            seed,
            ..Faults::default()
        },
        timing: PATIENT,
        expect: Expect::AtLeast(15),
    },
    Fault {
        name: "answers 300 ms late",
        faults: |_| Faults {
            delay: Duration::from_millis(300),
            ..Faults::default()
        },
        timing: PATIENT,
        expect: Expect::Always,
    },
    Fault {
        name: "chassis control 0xff once",
        faults: |_| Faults {
            completion_codes: control_fails(0xFF, Some(1)),
            ..Faults::default()
        },
        timing: QUICK,
        expect: Expect::Always,
    },
    Fault {
        name: "status 0xff once, control 0xc3",
        faults: |_| Faults {
            completion_codes: vec![
                CcFault {
                    net_fn: 0x00,
                    cmd: 0x01,
                    code: 0xFF,
                    times: Some(1),
                },
                CcFault {
                    net_fn: 0x00,
                    cmd: 0x02,
                    code: 0xC3,
                    times: Some(1),
                },
            ],
            ..Faults::default()
        },
        timing: QUICK,
        expect: Expect::Always,
    },
    Fault {
        name: "chassis control always 0xff",
        faults: |_| Faults {
            completion_codes: control_fails(0xFF, None),
            ..Faults::default()
        },
        timing: QUICK,
        expect: Expect::NeverOff,
    },
    Fault {
        name: "closes the session mid-way",
        faults: |_| Faults {
            close_session_after: Some(2),
            ..Faults::default()
        },
        timing: QUICK,
        expect: Expect::Always,
    },
];

const RUNS_PER_FAULT: usize = 20;
const WORKERS: usize = 16;

#[derive(Debug)]
struct Outcome {
    fault: usize,
    action: &'static str,
    code: i32,
    power_on_after: bool,
    elapsed: Duration,
    detail: String,
}

fn one_run(fault: &Fault, action: &'static str, seed: u64) -> (i32, bool, Duration, String) {
    let b = bmc(admin(), (fault.faults)(seed));
    // reboot with retry_on=0 stops after the verified off, so the real
    // power after the run shows whether the off part really happened.
    let r = fence_ipmi(&format!(
        "{}{}action={action}\nretry_on=0\n",
        options(&b, "admin"),
        fault.timing
    ));
    let on = b.power_on();
    (r.code, on, r.elapsed, r.describe())
}

#[test]
fn zero_false_successes_across_faulty_bmcs() {
    let started = Instant::now();
    let mut jobs = Vec::new();
    for (f, _) in FAULTS.iter().enumerate() {
        for action in ["off", "reboot"] {
            for run in 0..RUNS_PER_FAULT {
                jobs.push((f, action, run));
            }
        }
    }
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&(f, action, run)) = jobs.get(i) else {
                        break;
                    };
                    let seed = u64::try_from(run * 7919 + f).unwrap();
                    let (code, power_on_after, elapsed, detail) = one_run(&FAULTS[f], action, seed);
                    outcomes.lock().unwrap().push(Outcome {
                        fault: f,
                        action,
                        code,
                        power_on_after,
                        elapsed,
                        detail,
                    });
                }
            });
        }
    });
    let outcomes = outcomes.into_inner().unwrap();
    assert_eq!(outcomes.len(), jobs.len());

    let mut report = String::new();
    let mut problems = Vec::new();
    for (f, fault) in FAULTS.iter().enumerate() {
        for action in ["off", "reboot"] {
            let runs: Vec<&Outcome> = outcomes
                .iter()
                .filter(|o| o.fault == f && o.action == action)
                .collect();
            let ok = runs.iter().filter(|o| o.code == 0).count();
            let slowest = runs.iter().map(|o| o.elapsed).max().unwrap_or_default();
            report.push_str(&format!(
                "{:<32} {action:<6} {ok:>2}/{} exit 0, slowest {slowest:.2?}\n",
                fault.name,
                runs.len()
            ));
            for o in &runs {
                if o.code == 0 && o.power_on_after {
                    problems.push(format!(
                        "FALSE SUCCESS: {} {action}: exit 0 with the power on\n{}",
                        fault.name, o.detail
                    ));
                }
                if o.code != 0 && o.code != 1 {
                    problems.push(format!(
                        "{} {action}: exit {}\n{}",
                        fault.name, o.code, o.detail
                    ));
                }
            }
            let failed = runs.iter().find(|o| o.code != 0);
            let enough = match fault.expect {
                Expect::NeverOff => ok == 0,
                Expect::Always => ok == runs.len(),
                Expect::AtLeast(n) => ok >= n,
            };
            if !enough {
                problems.push(format!(
                    "{} {action}: {ok}/{} successes, expected {:?}; a failed run:\n{}",
                    fault.name,
                    runs.len(),
                    fault.expect,
                    failed.map(|o| o.detail.as_str()).unwrap_or("(none)")
                ));
            }
        }
    }
    println!("{report}total {:.1?}", started.elapsed());
    for o in outcomes.iter().filter(|o| o.code != 0) {
        if FAULTS[o.fault].expect != Expect::NeverOff {
            println!(
                "a failed run ({} {}):\n{}",
                FAULTS[o.fault].name, o.action, o.detail
            );
        }
    }
    assert!(problems.is_empty(), "{report}\n{}", problems.join("\n\n"));
}
