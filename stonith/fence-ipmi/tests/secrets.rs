//! The password (and the BMC key) never leave fence_ipmi's memory: not on
//! its command line or any child's while it runs (sampled from /proc every
//! few milliseconds, with the password on stdin as Pacemaker sends it), not
//! in its stderr or debug file with verbose logging, not in error text.
//! fence_ipmilan puts it on ipmitool's command line (`-P`).

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

mod common;

use std::path::Path;
use std::time::Duration;

use common::{AGENT, Run, run_with};
use ipmi_lan::Privilege;
use ipmi_testbmc::{BmcConfig, Faults, TestBmc, User};

const PASSWORD: &str = "Zq8-Sekrit-77";
const KG: &str = "5a71386b6579";

/// What one process looks like from outside: its cmdline and environment.
fn outside_view(pid: u32) -> Vec<String> {
    let mut seen = Vec::new();
    for what in ["cmdline", "environ"] {
        if let Ok(bytes) = std::fs::read(format!("/proc/{pid}/{what}")) {
            seen.push(String::from_utf8_lossy(&bytes).replace('\0', " "));
        }
    }
    seen
}

/// The children of `pid` (all its threads'), from /proc.
fn children(pid: u32) -> Vec<u32> {
    let mut kids = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
                kids.extend(
                    text.split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok()),
                );
            }
        }
    }
    kids
}

/// Run fence_ipmi with `args` and `stdin`, sampling its and its children's
/// cmdline and environment while it runs: the run, the number of samples,
/// and what showed a secret.
fn sample(args: &[&str], stdin: &str, secrets: &[&str]) -> (Run, usize, Vec<String>) {
    let mut samples = 0;
    let mut leaks = Vec::new();
    let run = run_with(
        Path::new(AGENT),
        args,
        stdin,
        &[],
        Duration::from_secs(60),
        |pid| {
            let mut pids = vec![pid];
            pids.extend(children(pid));
            for p in pids {
                for view in outside_view(p) {
                    samples += 1;
                    for secret in secrets {
                        if view.contains(secret) {
                            leaks.push(format!("pid {p}: {view}"));
                        }
                    }
                }
            }
        },
    );
    (run, samples, leaks)
}

/// [`sample`] with options on stdin only, asserting that nothing leaked.
fn sampled_run(stdin: &str, secrets: &[&str]) -> (Run, usize) {
    let (run, samples, leaks) = sample(&[], stdin, secrets);
    assert!(leaks.is_empty(), "secret visible from outside: {leaks:?}");
    (run, samples)
}

fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "{what} shows a secret:\n{text}");
    }
}

fn slow_bmc(kg: Option<&str>) -> TestBmc {
    TestBmc::start(BmcConfig {
        users: vec![User::new("admin", PASSWORD, Privilege::Administrator)],
        kg: kg.map(|k| {
            (0..k.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&k[i..i + 2], 16).unwrap())
                .collect()
        }),
        // Slow answers keep the agent alive long enough to be sampled often.
        faults: Faults {
            delay: Duration::from_millis(60),
            ..Faults::default()
        },
        ..BmcConfig::default()
    })
    .expect("test BMC")
}

#[test]
fn password_and_kg_stay_out_of_argv_environment_and_logs() {
    let bmc = slow_bmc(Some(KG));
    let dir = tempfile::tempdir().unwrap();
    let debug = dir.path().join("debug.log");
    let secrets = [PASSWORD, KG];
    let stdin = format!(
        "ip=127.0.0.1\nipport={}\nusername=admin\npassword={PASSWORD}\nlanplus=1\n\
         hexadecimal_kg={KG}\nverbose=1\ndebug_file={}\naction=reboot\npower_wait=0.2\n\
         stonith_status_sleep=0.1\n",
        bmc.port(),
        debug.display()
    );
    let (run, samples) = sampled_run(&stdin, &secrets);
    assert_eq!(run.code, 0, "{}", run.describe());
    assert!(samples > 50, "only {samples} samples of /proc");
    let log = std::fs::read_to_string(&debug).unwrap();
    assert!(log.contains("DEBUG"), "verbose logging is on: {log}");
    assert!(run.stderr.contains("DEBUG"), "{}", run.describe());
    assert_clean("stderr", &run.stderr, &secrets);
    assert_clean("stdout", &run.stdout, &secrets);
    assert_clean("debug file", &log, &secrets);
}

#[test]
fn the_sampling_would_see_a_password_on_the_command_line() {
    let bmc = slow_bmc(None);
    let port = bmc.port().to_string();
    let password = format!("--password={PASSWORD}");
    let (run, _, leaks) = sample(
        &[
            "-a",
            "127.0.0.1",
            "-u",
            &port,
            "-l",
            "admin",
            &password,
            "-P",
            "-o",
            "status",
        ],
        "",
        &[PASSWORD],
    );
    assert_eq!(run.code, 0, "{}", run.describe());
    assert!(!leaks.is_empty(), "the sampler is blind");
}

#[test]
fn password_script_output_stays_out_too() {
    let bmc = slow_bmc(None);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    let debug = dir.path().join("debug.log");
    let stdin = format!(
        "ip=127.0.0.1\nipport={}\nusername=admin\npassword_script=cat {}\nlanplus=1\n\
         verbose=1\ndebug_file={}\naction=status\n",
        bmc.port(),
        file.display(),
        debug.display()
    );
    let (run, _) = sampled_run(&stdin, &[PASSWORD]);
    assert_eq!(run.code, 0, "{}", run.describe());
    assert_clean("stderr", &run.stderr, &[PASSWORD]);
    assert_clean(
        "debug file",
        &std::fs::read_to_string(&debug).unwrap(),
        &[PASSWORD],
    );
}

#[test]
fn errors_name_the_user_never_the_password() {
    let bmc = slow_bmc(Some(KG));
    let dir = tempfile::tempdir().unwrap();
    let debug = dir.path().join("debug.log");
    let wrong = "Zq8-Wrong-41";
    for (extra, says) in [
        (
            format!("password={wrong}\nhexadecimal_kg={KG}\n"),
            "wrong password for user 'admin'",
        ),
        (
            format!("password={PASSWORD}\nhexadecimal_kg=00ff00ff\n"),
            "wrong BMC key",
        ),
    ] {
        let stdin = format!(
            "ip=127.0.0.1\nipport={}\nusername=admin\nlanplus=1\n{extra}verbose=1\ndebug_file={}\naction=off\n",
            bmc.port(),
            debug.display()
        );
        let (run, _) = sampled_run(&stdin, &[PASSWORD, wrong, KG]);
        assert_eq!(run.code, 1, "{}", run.describe());
        assert!(run.stderr.contains(says), "{}", run.describe());
        assert_clean("stderr", &run.stderr, &[PASSWORD, wrong, KG, "00ff00ff"]);
    }
    assert_clean(
        "debug file",
        &std::fs::read_to_string(&debug).unwrap(),
        &[PASSWORD, wrong, KG, "00ff00ff"],
    );
    assert!(bmc.power_on());
}
