//! fence_ipmi and Debian's fence_ipmilan, run with identical stdin against
//! the same ipmi_sim, must end with the same exit codes (and print the same
//! `Status:` lines). fence_ipmilan needs `lanplus=1 cipher=3` here: without a
//! cipher it stalls 14 s on ipmi_sim's missing Get Channel Cipher Suites.
//! Skipped with a message without ipmi_sim, ipmitool or fence_ipmilan.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

mod common;

use std::path::Path;

use common::{Run, fence_ipmi, fence_ipmilan, sim};
use ipmi_testbmc::harness::{ADMIN, IpmiSim, require};

#[derive(Debug, Clone, Copy)]
struct Step {
    what: &'static str,
    action: &'static str,
    /// Extra stdin lines (e.g. a wrong password; the last occurrence wins).
    extra: &'static str,
    /// Expected power state afterwards.
    power_on: bool,
}

const SEQUENCE: &[Step] = &[
    Step {
        what: "status (on)",
        action: "status",
        extra: "",
        power_on: true,
    },
    Step {
        what: "off",
        action: "off",
        extra: "",
        power_on: false,
    },
    Step {
        what: "status (off)",
        action: "status",
        extra: "",
        power_on: false,
    },
    Step {
        what: "off again",
        action: "off",
        extra: "",
        power_on: false,
    },
    Step {
        what: "on",
        action: "on",
        extra: "",
        power_on: true,
    },
    Step {
        what: "reboot",
        action: "reboot",
        extra: "",
        power_on: true,
    },
    Step {
        what: "monitor",
        action: "monitor",
        extra: "",
        power_on: true,
    },
    Step {
        what: "wrong password",
        action: "off",
        extra: "password=Zq8-not-the-password\n",
        power_on: true,
    },
];

fn status_line(run: &Run) -> Option<&str> {
    run.stdout.lines().find(|l| l.starts_with("Status:"))
}

/// Run `steps` with both agents, each on its own ipmi_sim (so one agent's
/// actions cannot hide the other's), and compare step by step.
fn compare(fence_ipmilan_bin: &Path, proto: &str, steps: &[Step]) {
    let (Some(ours), Some(theirs)) = (sim(&[ADMIN]), sim(&[ADMIN])) else {
        return;
    };
    let mut table = String::new();
    for step in steps {
        let input = |sim: &IpmiSim| {
            format!(
                "{}{proto}power_wait=0\naction={}\n{}",
                sim.options(&ADMIN),
                step.action,
                step.extra
            )
        };
        let a = fence_ipmi(&input(&ours));
        let b = fence_ipmilan(fence_ipmilan_bin, &input(&theirs));
        table.push_str(&format!(
            "{:<16} fence_ipmi {} ({:.2?})  fence_ipmilan {} ({:.2?})\n",
            step.what, a.code, a.elapsed, b.code, b.elapsed
        ));
        assert_eq!(
            a.code,
            b.code,
            "{proto}step '{}': exit codes differ\n{table}\nfence_ipmi: {}\nfence_ipmilan: {}",
            step.what,
            a.describe(),
            b.describe()
        );
        assert_eq!(status_line(&a), status_line(&b), "step '{}'", step.what);
        assert_eq!(ours.power_on(), step.power_on, "fence_ipmi: {}", step.what);
        assert_eq!(
            theirs.power_on(),
            step.power_on,
            "fence_ipmilan: {}",
            step.what
        );
    }
    println!("{}\n{table}", proto.replace('\n', " "));
}

#[test]
fn same_exit_codes_as_fence_ipmilan_lanplus() {
    let (Some(agent), Some(_)) = (require("fence_ipmilan"), require("ipmitool")) else {
        return;
    };
    compare(&agent, "lanplus=1\ncipher=3\n", SEQUENCE);
}

#[test]
fn same_exit_codes_as_fence_ipmilan_ipmi15() {
    let (Some(agent), Some(_)) = (require("fence_ipmilan"), require("ipmitool")) else {
        return;
    };
    // Without the wrong password: ipmitool -I lan takes 8 s to give up on it.
    let steps: Vec<Step> = SEQUENCE
        .iter()
        .copied()
        .filter(|s| s.extra.is_empty())
        .collect();
    compare(&agent, "lanplus=0\n", &steps);
}
