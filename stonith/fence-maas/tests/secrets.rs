//! The MAAS API key never leaves fence_maas: not in its output or log
//! (also with verbose and a debug file), not in an error when MAAS refuses
//! it, not on any command line; and api_key_script's key is as private as
//! api_key's.

#![allow(clippy::unwrap_used)]

mod common;

use common::{CONSUMER_KEY, TOKEN_KEY, TOKEN_SECRET, agent, assert_no_key, key, run_stdin, sim};

#[test]
fn a_refused_key_is_a_clear_error_without_the_key() {
    let sim = sim();
    // The right key parts but the wrong secret, and the wrong parts with
    // the right secret: each part must stay out of the output.
    for wrong in [
        format!("{CONSUMER_KEY}:{TOKEN_KEY}:wrongSecret"),
        format!("otherConsumer:otherToken:{TOKEN_SECRET}"),
    ] {
        for action in ["status", "off", "reboot", "monitor", "list"] {
            let r = agent(
                &sim,
                &format!("action={action}\nplug=cmp1\napi_key={wrong}\nverbose=1\n"),
            );
            assert_eq!(r.code, 1, "{action}: {}", r.describe());
            assert!(
                r.stderr.contains("MAAS refused the API key (HTTP 401)"),
                "{action}: {}",
                r.describe()
            );
            assert_no_key(&r);
            assert!(!r.stderr.contains("wrongSecret"), "{}", r.describe());
        }
    }
    assert_eq!(sim.counters().power_off, 0);
    assert_eq!(sim.power("cmp1"), Some(true));
}

#[test]
fn verbose_runs_and_debug_files_never_show_the_key() {
    let sim = sim();
    let dir = tempfile::tempdir().unwrap();
    let debug = dir.path().join("debug.log");
    let r = agent(
        &sim,
        &format!(
            "action=reboot\nplug=cmp2\nverbose=1\ndebug_file={}\n",
            debug.display()
        ),
    );
    assert_eq!(r.code, 0, "{}", r.describe());
    assert_no_key(&r);
    let log = std::fs::read_to_string(&debug).unwrap();
    assert!(log.contains("power off requested"), "{log}");
    for part in [CONSUMER_KEY, TOKEN_KEY, TOKEN_SECRET] {
        assert!(!log.contains(part), "{part} in the debug file");
    }
}

#[test]
fn api_key_script_gives_the_key_and_keeps_it_private() {
    let sim = sim();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("maas.key");
    std::fs::write(&file, format!("{}\nsecond line\n", key())).unwrap();
    let input = format!(
        "url={}\napi_key_script=cat {}\naction=status\nplug=cmp1\nverbose=1\n",
        sim.url(),
        file.display()
    );
    let r = run_stdin(&input, &[]);
    assert_eq!(r.code, 0, "{}", r.describe());
    assert_no_key(&r);

    // On the command line, as an operator tests by hand.
    let url = format!("--url={}", sim.url());
    let script = format!("--api-key-script=cat {}", file.display());
    let r = run_stdin("", &[&url, &script, "-n", "cmp1", "-o", "status", "-v"]);
    assert_eq!(r.code, 0, "{}", r.describe());
    assert_no_key(&r);

    let input = format!(
        "url={}\napi_key_script=echo vault: denied >&2; exit 3\naction=status\nplug=cmp1\n",
        sim.url()
    );
    let r = run_stdin(&input, &[]);
    assert_eq!(r.code, 1, "{}", r.describe());
    assert!(
        r.stderr.contains("exited with status 3"),
        "{}",
        r.describe()
    );
}

#[test]
fn api_key_is_not_accepted_on_the_command_line() {
    let sim = sim();
    let url = format!("--url={}", sim.url());
    let key_arg = format!("--api-key={}", key());
    let r = run_stdin("", &[&url, &key_arg, "-n", "cmp1", "-o", "status"]);
    assert_eq!(r.code, 1, "{}", r.describe());
    assert!(
        r.stderr
            .contains("api_key is not accepted on the command line"),
        "{}",
        r.describe()
    );
    assert_no_key(&r);
    assert_eq!(sim.counters().requests, 0);
}

#[test]
fn malformed_keys_are_refused_before_any_request() {
    let sim = sim();
    let r = agent(
        &sim,
        &format!("action=status\nplug=cmp1\napi_key={TOKEN_SECRET}\n"),
    );
    assert_eq!(r.code, 1, "{}", r.describe());
    assert!(r.stderr.contains("three parts"), "{}", r.describe());
    assert_no_key(&r);
    assert_eq!(sim.counters().requests, 0);
}
