//! fence_ipmi against OpenIPMI's ipmi_sim, an independent BMC: RMCP+ suite 3
//! and IPMI 1.5, administrator and operator accounts, every action, wrong
//! credentials, and the command-line letters. Each test starts its own
//! ipmi_sim (ports 9201+); skipped with a message when ipmi_sim is missing.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

mod common;

use std::time::Duration;

use common::{Run, fence_ipmi, fence_ipmi_argv};
use ipmi_testbmc::harness::{ADMIN, IpmiSim, OPERATOR, SimUser};

/// Fast timing for a simulator that switches at once.
const FAST: &str = "power_wait=0\nstonith_status_sleep=0.1\npower_timeout=5\n";

fn run(sim: &IpmiSim, user: &SimUser, extra: &str) -> Run {
    fence_ipmi(&format!("{}{FAST}{extra}", sim.options(user)))
}

fn expect(run: &Run, code: i32) {
    assert_eq!(run.code, code, "{}", run.describe());
}

fn power_log(sim: &IpmiSim) -> String {
    std::fs::read_to_string(sim.dir().join("power.log")).unwrap_or_default()
}

/// Every action through one account and protocol.
fn every_action(sim: &IpmiSim, user: &SimUser, proto: &str) {
    expect(&run(sim, user, &format!("{proto}action=status\n")), 0);
    expect(&run(sim, user, &format!("{proto}action=monitor\n")), 0);

    let off = run(sim, user, &format!("{proto}action=off\n"));
    expect(&off, 0);
    assert!(
        off.stdout.contains("Success: Powered OFF"),
        "{}",
        off.describe()
    );
    assert!(!sim.power_on());
    let status = run(sim, user, &format!("{proto}action=status\n"));
    expect(&status, 2);
    assert_eq!(status.stdout.trim(), "Status: OFF");
    expect(&run(sim, user, &format!("{proto}action=off\n")), 0);
    assert!(!sim.power_on());

    expect(&run(sim, user, &format!("{proto}action=on\n")), 0);
    assert!(sim.power_on());
    expect(&run(sim, user, &format!("{proto}action=status\n")), 0);

    let before = power_log(sim).matches("set power 0").count();
    let reboot = run(sim, user, &format!("{proto}action=reboot\n"));
    expect(&reboot, 0);
    assert!(reboot.stdout.contains("Success: Rebooted"));
    assert!(
        power_log(sim).matches("set power 0").count() > before,
        "reboot did not power off: {}",
        power_log(sim)
    );
    assert!(sim.power_on(), "reboot leaves the node on");
}

#[test]
fn lanplus_suite3_administrator() {
    let Some(sim) = common::sim(&[ADMIN]) else {
        return;
    };
    every_action(&sim, &ADMIN, "lanplus=1\ncipher=3\n");
}

#[test]
fn lanplus_automatic_suite_falls_back_to_3_without_a_stall() {
    let Some(sim) = common::sim(&[ADMIN]) else {
        return;
    };
    let r = run(&sim, &ADMIN, "lanplus=1\naction=status\nverbose=1\n");
    expect(&r, 0);
    assert!(r.stderr.contains("cipher suite 3"), "{}", r.describe());
    assert!(
        r.elapsed < Duration::from_secs(2),
        "fence_ipmilan stalls 14 s here; we took {:?}",
        r.elapsed
    );
}

#[test]
fn ipmi15_administrator_and_auth_types() {
    let Some(sim) = common::sim(&[ADMIN]) else {
        return;
    };
    every_action(&sim, &ADMIN, "lanplus=0\n");
    for auth in ["md5", "password"] {
        let r = run(&sim, &ADMIN, &format!("auth={auth}\naction=status\n"));
        expect(&r, 0);
    }
}

#[test]
fn operator_account_with_privlvl_operator() {
    let Some(sim) = common::sim(&[ADMIN, OPERATOR]) else {
        return;
    };
    every_action(&sim, &OPERATOR, "lanplus=1\ncipher=3\nprivlvl=operator\n");
    every_action(&sim, &OPERATOR, "privlvl=operator\n");
}

#[test]
fn method_cycle_sees_the_power_go_off() {
    let Some(sim) = common::sim(&[ADMIN]) else {
        return;
    };
    let r = run(
        &sim,
        &ADMIN,
        "lanplus=1\ncipher=3\nmethod=cycle\naction=reboot\nverbose=1\n",
    );
    expect(&r, 0);
    assert!(
        r.stderr.contains("power OFF observed during the cycle"),
        "{}",
        r.describe()
    );
    assert!(power_log(&sim).contains("set power 0"));
}

#[test]
fn wrong_password_or_user_is_a_clear_error() {
    let Some(sim) = common::sim(&[ADMIN]) else {
        return;
    };
    for proto in ["lanplus=1\ncipher=3\n", "lanplus=1\n", "lanplus=0\n"] {
        let wrong_pw = fence_ipmi(&format!(
            "ip=127.0.0.1\nipport={}\nusername=admin\npassword=Zq8-wrong-pw\n{proto}action=off\n",
            sim.port
        ));
        expect(&wrong_pw, 1);
        assert!(
            wrong_pw
                .stderr
                .contains("Unable to login to fencing device")
                && wrong_pw.stderr.contains("password"),
            "{proto}: {}",
            wrong_pw.describe()
        );
        assert!(!wrong_pw.stderr.contains("Zq8-wrong-pw"));
        assert!(
            wrong_pw.elapsed < Duration::from_secs(8),
            "{proto}: {:?}",
            wrong_pw.elapsed
        );

        let wrong_user = fence_ipmi(&format!(
            "ip=127.0.0.1\nipport={}\nusername=nobody\npassword={}\n{proto}action=status\n",
            sim.port, ADMIN.password
        ));
        expect(&wrong_user, 1);
        assert!(
            wrong_user
                .stderr
                .contains("Unable to login to fencing device"),
            "{proto}: {}",
            wrong_user.describe()
        );
    }
    assert!(sim.power_on(), "nothing was switched");
}

#[test]
fn command_line_letters_as_fence_ipmilan() {
    let Some(sim) = common::sim(&[ADMIN]) else {
        return;
    };
    let port = sim.port.to_string();
    let r = fence_ipmi_argv(&[
        "-a",
        "127.0.0.1",
        "-u",
        &port,
        "-l",
        ADMIN.name,
        "-p",
        ADMIN.password,
        "-P",
        "-C",
        "3",
        "-L",
        "administrator",
        "-o",
        "status",
    ]);
    expect(&r, 0);
    assert_eq!(r.stdout.trim(), "Status: ON");
    let r = fence_ipmi_argv(&[
        "--ip=127.0.0.1",
        &format!("--ipport={port}"),
        "--username=admin",
        &format!("--password={}", ADMIN.password),
        "--lanplus",
        "--cipher=3",
        "--power-wait=0",
        "--action=off",
    ]);
    expect(&r, 0);
    assert!(!sim.power_on());
}
