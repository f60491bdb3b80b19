//! fence_maas end to end against the MAAS simulator: the binary with its
//! options on stdin, as pacemaker-fenced runs it.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{agent, assert_no_key, sim};
use maas_sim::{Forced, Garbage, MachineSpec, SimConfig, Simulator};

#[test]
fn off_is_confirmed_by_a_live_query_after_the_asynchronous_delay() {
    let sim = sim();
    sim.set_power_delay(Duration::from_millis(600));
    let r = agent(&sim, "action=off\nplug=cmp1\n");
    assert_eq!(r.code, 0, "{}", r.describe());
    assert!(
        r.stdout.contains("Success: Powered OFF"),
        "{}",
        r.describe()
    );
    assert!(r.elapsed >= Duration::from_millis(600), "{}", r.describe());
    assert_eq!(sim.power("cmp1"), Some(false));
    assert_eq!(sim.power("cmp2"), Some(true));
    assert_eq!(sim.stop_modes("cmp1"), ["hard"]);
    let c = sim.counters();
    assert_eq!(c.power_off, 1);
    assert!(c.queries >= 3, "polled until off: {c:?}");
    assert_no_key(&r);
}

#[test]
fn an_off_machine_is_still_sent_power_off() {
    let sim = sim();
    sim.set_power("cmp2", false);
    let r = agent(&sim, "action=off\nplug=cmp2\n");
    assert_eq!(r.code, 0, "{}", r.describe());
    assert_eq!(
        sim.counters().power_off,
        1,
        "an OFF before asking is not believed"
    );
}

#[test]
fn off_that_never_reads_off_times_out_with_exit_1() {
    let sim = sim();
    sim.set_power_delay(Duration::from_secs(30));
    let r = agent(&sim, "action=off\nplug=cmp1\npower_timeout=1\n");
    assert_eq!(r.code, 1, "{}", r.describe());
    assert!(
        r.stderr.contains("Timed out waiting to power OFF"),
        "{}",
        r.describe()
    );
    assert!(r.elapsed < Duration::from_secs(15), "{}", r.describe());
}

#[test]
fn status_exit_codes_are_0_on_2_off_1_unknown() {
    let sim = sim();
    sim.set_power("cmp2", false);
    sim.force_state("cmp3", Some(Forced::Unknown));
    let on = agent(&sim, "action=status\nplug=cmp1\n");
    assert_eq!(on.code, 0, "{}", on.describe());
    assert!(on.stdout.contains("Status: ON"));
    let off = agent(&sim, "action=status\nplug=cmp2\n");
    assert_eq!(off.code, 2, "{}", off.describe());
    assert!(off.stdout.contains("Status: OFF"));
    let unknown = agent(&sim, "action=status\nplug=cmp3\n");
    assert_eq!(unknown.code, 1, "{}", unknown.describe());
}

#[test]
fn unknown_and_error_are_never_off() {
    for forced in [Forced::Unknown, Forced::Error] {
        let sim = sim();
        // The BMC has the machine off, but MAAS cannot say so.
        sim.set_power("cmp1", false);
        sim.force_state("cmp1", Some(forced));
        let status = agent(&sim, "action=status\nplug=cmp1\n");
        assert_eq!(status.code, 1, "{forced:?}: {}", status.describe());
        assert!(!status.stdout.contains("OFF"), "{}", status.describe());
        let off = agent(&sim, "action=off\nplug=cmp1\npower_timeout=1\n");
        assert_eq!(off.code, 1, "{forced:?}: {}", off.describe());
        let reboot = agent(&sim, "action=reboot\nplug=cmp1\npower_timeout=1\n");
        assert_eq!(reboot.code, 1, "{forced:?}: {}", reboot.describe());
    }
}

#[test]
fn a_503_burst_is_retried_within_the_deadline() {
    let sim = sim();
    sim.fail_next(6, 503);
    let r = agent(&sim, "action=status\nplug=cmp1\n");
    assert_eq!(r.code, 0, "{}", r.describe());
    assert_eq!(sim.counters().faults, 6);

    sim.fail_next(10, 503);
    let r = agent(&sim, "action=off\nplug=cmp2\npower_timeout=10\n");
    assert_eq!(r.code, 0, "{}", r.describe());
    assert_eq!(sim.power("cmp2"), Some(false));
}

#[test]
fn other_5xx_and_a_hung_maas_are_retried_or_fail_in_time() {
    let sim = sim();
    sim.fail_next(2, 500);
    let r = agent(&sim, "action=status\nplug=cmp1\n");
    assert_eq!(r.code, 0, "{}", r.describe());

    // A request that never answers costs shell_timeout, no more.
    sim.hang_next(1, Duration::from_secs(60));
    let r = agent(&sim, "action=status\nplug=cmp1\nshell_timeout=1\n");
    assert_eq!(r.code, 1, "{}", r.describe());
    assert!(r.stderr.contains("timed out"), "{}", r.describe());
    assert!(r.elapsed < Duration::from_secs(10), "{}", r.describe());

    // During fencing the runner reconnects and the off still goes through.
    sim.hang_next(1, Duration::from_secs(60));
    let r = agent(
        &sim,
        "action=off\nplug=cmp1\nshell_timeout=1\npower_timeout=5\n",
    );
    assert_eq!(r.code, 0, "{}", r.describe());
    assert_eq!(sim.power("cmp1"), Some(false));
}

#[test]
fn reboot_is_off_then_on() {
    let sim = sim();
    let r = agent(&sim, "action=reboot\nplug=cmp3\n");
    assert_eq!(r.code, 0, "{}", r.describe());
    assert!(r.stdout.contains("Success: Rebooted"), "{}", r.describe());
    let c = sim.counters();
    assert_eq!((c.power_off, c.power_on), (1, 1), "{c:?}");
    assert_eq!(sim.power("cmp3"), Some(true));
}

#[test]
fn on_powers_on_and_reads_it_back() {
    let sim = sim();
    sim.set_power("cmp1", false);
    let r = agent(&sim, "action=on\nplug=cmp1\n");
    assert_eq!(r.code, 0, "{}", r.describe());
    assert!(r.stdout.contains("Success: Powered ON"), "{}", r.describe());
    assert_eq!(sim.power("cmp1"), Some(true));
}

#[test]
fn plugs_by_hostname_fqdn_or_system_id() {
    let sim = sim();
    for plug in ["cmp1", "CMP1.maas", "aaa111"] {
        let r = agent(&sim, &format!("action=status\nport={plug}\n"));
        assert_eq!(r.code, 0, "{plug}: {}", r.describe());
    }
    let r = agent(&sim, "action=status\nplug=nosuch\n");
    assert_eq!(r.code, 1, "{}", r.describe());
    assert!(
        r.stderr
            .contains("no MAAS machine has the hostname, FQDN or system_id 'nosuch'"),
        "{}",
        r.describe()
    );
    let r = agent(&sim, "action=off\nplug=cmp1.otherdomain\n");
    assert_eq!(r.code, 1, "{}", r.describe());
    assert_eq!(sim.counters().power_off, 0);
}

#[test]
fn stop_mode_soft_is_passed_on() {
    let sim = sim();
    let r = agent(&sim, "action=off\nplug=cmp2\nstop_mode=soft\n");
    assert_eq!(r.code, 0, "{}", r.describe());
    assert_eq!(sim.stop_modes("cmp2"), ["soft"]);
    assert!(
        r.stderr.contains("hung node never powers off"),
        "{}",
        r.describe()
    );
}

#[test]
fn list_and_list_status() {
    let sim = sim();
    sim.set_power("cmp2", false);
    let r = agent(&sim, "action=list\n");
    assert_eq!(r.code, 0, "{}", r.describe());
    assert_eq!(r.stdout, "cmp1,aaa111\ncmp2,bbb222\ncmp3,ccc333\n");
    let r = agent(&sim, "action=list-status\n");
    assert_eq!(r.code, 0, "{}", r.describe());
    assert_eq!(
        r.stdout,
        "cmp1,aaa111,ON\ncmp2,bbb222,OFF\ncmp3,ccc333,ON\n"
    );
    assert_eq!(sim.counters().queries, 0, "listing uses the cached state");
}

#[test]
fn a_large_maas_is_listed_whole() {
    let machines = (0..3000)
        .map(|i| MachineSpec::new(format!("node{i:04}"), format!("id{i:04}")))
        .collect();
    let sim = Simulator::start(SimConfig::new(common::key(), machines)).unwrap();
    let r = agent(&sim, "action=list\n");
    assert_eq!(r.code, 0, "{}", r.describe());
    assert_eq!(r.stdout.lines().count(), 3000);
    assert!(r.stdout.contains("node2999,id2999\n"));
    let r = agent(&sim, "action=status\nplug=node1234\n");
    assert_eq!(r.code, 0, "{}", r.describe());
}

#[test]
fn monitor_checks_the_api_and_the_key() {
    let sim = sim();
    let r = agent(&sim, "action=monitor\n");
    assert_eq!(r.code, 0, "{}", r.describe());
    let r = agent(&sim, "action=monitor\napi_key=umha:not:thekey\n");
    assert_eq!(r.code, 1, "{}", r.describe());
    assert!(
        r.stderr.contains("MAAS refused the API key"),
        "{}",
        r.describe()
    );
    drop(sim);
}

#[test]
fn monitor_fails_when_nothing_listens() {
    let sim = sim();
    let url = sim.url();
    drop(sim);
    let r = common::run_stdin(
        &format!(
            "action=monitor\nurl={url}\napi_key={}\nshell_timeout=1\nlogin_timeout=1\n",
            common::key()
        ),
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.describe());
    assert!(r.stderr.contains("Unable to connect"), "{}", r.describe());
    assert_no_key(&r);
}

#[test]
fn hostile_answers_fail_cleanly() {
    let sim = sim();
    for kind in [
        Garbage::NotJson,
        Garbage::WrongShape,
        Garbage::Deep,
        Garbage::Huge,
    ] {
        // Enough garbage to outlast every retry of a 2 s status.
        sim.garbage_next(1000, kind);
        for action in [
            "status\nplug=cmp1",
            "list",
            "off\nplug=cmp1\npower_timeout=0.5",
        ] {
            let r = agent(
                &sim,
                &format!("action={action}\nshell_timeout=1\nlogin_timeout=1\n"),
            );
            assert_eq!(r.code, 1, "{kind:?} {action}: {}", r.describe());
            assert!(!r.stderr.contains("panicked"), "{}", r.describe());
        }
        sim.clear_faults();
    }
    assert_eq!(sim.power("cmp1"), Some(true));
    let r = agent(&sim, "action=status\nplug=cmp1\n");
    assert_eq!(r.code, 0, "{}", r.describe());
}

#[test]
fn validate_all_checks_without_network() {
    let r = common::run_stdin(
        "action=validate-all\nurl=maas:5240\napi_key=a:b:c\nplug=x\n",
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.describe());
    assert!(r.stderr.contains("url must be"), "{}", r.describe());
    let r = common::run_stdin(
        "action=validate-all\nurl=http://127.0.0.1:9/MAAS\napi_key=a:b:c\nplug=x\n",
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.describe());
    let r = common::run_stdin("action=status\nurl=http://127.0.0.1:9/MAAS\nplug=x\n", &[]);
    assert_eq!(r.code, 1, "{}", r.describe());
    assert!(
        r.stderr.contains("api_key or api_key_script"),
        "{}",
        r.describe()
    );
}
