//! fence_umha_dummy end to end: the binary as pacemaker-fenced (stdin) and a
//! person (argv) run it, and its metadata against fence-agents' schema.

// Test helpers outside #[test] functions: a failed setup should panic loudly.
#![allow(clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const AGENT: &str = env!("CARGO_BIN_EXE_fence_umha_dummy");
const SCHEMA: &str = "/usr/share/cluster/relaxng/metadata.rng";

/// A state directory with plugs `n1` (on) and `n2` (off).
struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("n1"), "on\n").expect("write n1");
        std::fs::write(dir.path().join("n2"), "off\n").expect("write n2");
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn state(&self, plug: &str) -> String {
        std::fs::read_to_string(self.path().join(plug))
            .expect("state file")
            .trim()
            .to_owned()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    /// Run with `lines` on stdin, as pacemaker-fenced does (no argv), with
    /// fast timing unless the lines say otherwise.
    fn stdin(&self, lines: &str) -> Run {
        let input = format!(
            "state_dir={}\nstonith_status_sleep=0.05\n{lines}",
            self.path().display()
        );
        run_stdin(input.as_bytes(), &[("PCMK_service", "pacemaker-fenced")])
    }

    /// Run with `args` on the command line.
    fn argv(&self, args: &[&str]) -> Run {
        let state_dir = format!("--state-dir={}", self.path().display());
        let mut all = vec![state_dir.as_str(), "--stonith-status-sleep=0.05"];
        all.extend_from_slice(args);
        run_argv(&all)
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

fn finish(output: Output, started: Instant) -> Run {
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

fn command() -> Command {
    let mut cmd = Command::new(AGENT);
    // Keep the HA logging environment of the developer out of the tests.
    for var in stonith_core::testing::HA_ENVIRONMENT {
        cmd.env_remove(var);
    }
    cmd
}

fn run_stdin(input: &[u8], env: &[(&str, &str)]) -> Run {
    let started = Instant::now();
    let mut child = command()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn agent");
    let mut stdin = child.stdin.take().expect("stdin");
    // The agent may stop reading early (input too large); that is its answer.
    let _ = stdin.write_all(input);
    drop(stdin);
    finish(child.wait_with_output().expect("wait agent"), started)
}

fn run_argv(args: &[&str]) -> Run {
    let started = Instant::now();
    let output = command()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run agent");
    finish(output, started)
}

fn tool_available(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

#[test]
fn metadata_validates_against_fence_agents_schema() {
    let run = run_argv(&["-o", "metadata"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("<?xml version=\"1.0\" ?>\n<resource-agent name=\"fence_umha_dummy\"")
    );
    if !tool_available("xmllint") || !Path::new(SCHEMA).exists() {
        eprintln!(
            "SKIPPED: xmllint or {SCHEMA} missing (apt-get install libxml2-utils fence-agents)"
        );
        return;
    }
    let file = tempfile::NamedTempFile::new().expect("tempfile");
    std::fs::write(file.path(), &run.stdout).expect("write metadata");
    let check = Command::new("xmllint")
        .args(["--noout", "--relaxng", SCHEMA])
        .arg(file.path())
        .output()
        .expect("run xmllint");
    assert!(
        check.status.success(),
        "metadata does not validate:\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn metadata_from_stdin_and_ocf_spelling() {
    let run = run_stdin(b"action=meta-data\nbogus=1\n", &[]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("<action name=\"list-status\" />"));
    assert!(
        run.stdout
            .contains("<parameter name=\"plug\" unique=\"0\" required=\"1\" obsoletes=\"port\">")
    );
}

#[test]
fn manpage_and_help_and_version() {
    let run = run_argv(&["-o", "manpage"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.starts_with(".TH FENCE_UMHA_DUMMY 8"));
    if tool_available("groff") {
        let file = tempfile::NamedTempFile::new().expect("tempfile");
        std::fs::write(file.path(), &run.stdout).expect("write page");
        let check = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww"])
            .arg(file.path())
            .output()
            .expect("run groff");
        assert!(check.status.success());
        assert_eq!(String::from_utf8_lossy(&check.stderr), "", "groff warnings");
    }
    let run = run_argv(&["-h"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("--state-dir=[dir]"));
    let run = run_argv(&["--version"]);
    assert_eq!(run.code, 0);
    assert_eq!(run.stdout.trim(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn status_exit_codes() {
    let lab = Lab::new();
    let on = lab.stdin("action=status\nport=n1\nnodename=n1\n");
    assert_eq!(
        (on.code, on.stdout.as_str()),
        (0, "Status: ON\n"),
        "{}",
        on.stderr
    );
    let off = lab.argv(&["-o", "status", "-n", "n2"]);
    assert_eq!((off.code, off.stdout.as_str()), (2, "Status: OFF\n"));
    let missing = lab.argv(&["-o", "status", "-n", "n9"]);
    assert_eq!(missing.code, 1);
    std::fs::write(lab.file("n3"), "flickering\n").expect("write n3");
    let unknown = lab.argv(&["-o", "status", "-n", "n3"]);
    assert_eq!(unknown.code, 1);
    assert!(
        unknown
            .stderr
            .contains("Unable to obtain correct plug status")
    );
}

#[test]
fn off_reads_back_and_off_again_is_success() {
    let lab = Lab::new();
    let run = lab.stdin("action=off\nplug=n1\n");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "Success: Powered OFF\n");
    assert_eq!(lab.state("n1"), "off");
    // The OFF read first is not believed: off is requested again and read back.
    let again = lab.stdin("action=off\nplug=n1\nverbose=1\n");
    assert_eq!(
        (again.code, again.stdout.as_str()),
        (0, "Success: Powered OFF\n"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("not believed"), "{}", again.stderr);
    assert_eq!(lab.state("n1"), "off");
}

/// The fencing actions, each leaving the plug off after a verified off
/// (`retry_on=0`: reboot stops there), so the state file tells whether the
/// off really happened.
const FENCING: &[&str] = &[
    "action=off\n",
    "action=reboot\nretry_on=0\n",
    "action=reboot\nretry_on=0\nmethod=cycle\n",
];

#[test]
fn says_off_while_on_is_powered_off_for_real() {
    for action in FENCING {
        for reads in 1..=3 {
            let lab = Lab::new();
            let marker = lab.file("marker");
            let run = lab.stdin(&format!(
                "{action}plug=n1\nfalse_off_reads={reads}\nafter_off_file={}\n",
                marker.display()
            ));
            let what = format!("{action:?} false_off_reads={reads}");
            assert_eq!(run.code, 0, "{what}: {}", run.stderr);
            assert_eq!(lab.state("n1"), "off", "{what}: exit 0 with the power on");
            assert!(marker.exists(), "{what}: no after-off marker");
        }
    }
}

#[test]
fn says_off_while_on_and_ignores_off_fails() {
    // The lie covers only the reading before the request, as a BMC's stale
    // state after a reset: the read-backs then tell the truth. (A device that
    // keeps lying after being asked cannot be caught by any agent, see
    // a_lying_device_cannot_be_caught_by_status.)
    for action in FENCING {
        let lab = Lab::new();
        let marker = lab.file("marker");
        let run = lab.stdin(&format!(
            "{action}plug=n1\nfalse_off_reads=1\nignore_off=1\npower_timeout=0.5\nafter_off_file={}\n",
            marker.display()
        ));
        assert_eq!(run.code, 1, "{action:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("Timed out waiting to power OFF"),
            "{action:?}: {}",
            run.stderr
        );
        assert!(run.elapsed >= Duration::from_millis(500), "{action:?}");
        assert!(run.elapsed < Duration::from_secs(5), "{action:?}");
        assert_eq!(lab.state("n1"), "on", "{action:?}");
        assert!(
            !marker.exists(),
            "{action:?}: hook ran without a verified off"
        );
    }
}

#[test]
fn ignored_off_fails_after_power_timeout() {
    let lab = Lab::new();
    let run = lab.stdin("action=off\nplug=n1\nignore_off=1\npower_timeout=0.5\n");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("Timed out waiting to power OFF"),
        "{}",
        run.stderr
    );
    assert!(run.elapsed >= Duration::from_millis(500));
    assert!(run.elapsed < Duration::from_secs(5));
    assert_eq!(lab.state("n1"), "on");
}

#[test]
fn a_lagging_device_is_waited_for() {
    let lab = Lab::new();
    let run = lab.stdin("action=off\nplug=n1\nstale_reads=3\npower_timeout=2\n");
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn unreachable_device_fails_after_login_timeout() {
    let lab = Lab::new();
    let run = lab.stdin("action=reboot\nplug=n1\nunreachable=yes\nlogin_timeout=0.3\n");
    assert_eq!(run.code, 1);
    assert!(run.elapsed < Duration::from_secs(3), "{:?}", run.elapsed);
    let run = lab.argv(&["-o", "monitor", "--unreachable", "--login-timeout=0.3"]);
    assert_eq!(run.code, 1);
}

#[test]
fn slow_device_is_cut_by_shell_timeout() {
    let lab = Lab::new();
    let run = lab.stdin("action=status\nplug=n1\nresponse_delay=0.2\nshell_timeout=5\n");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run =
        lab.stdin("action=status\nplug=n1\nresponse_delay=1\nshell_timeout=0.2\nlogin_timeout=5\n");
    assert_eq!(run.code, 1);
    assert!(run.elapsed < Duration::from_secs(5), "{:?}", run.elapsed);
}

#[test]
fn reboot_runs_the_after_off_hook_and_powers_on() {
    let lab = Lab::new();
    let marker = lab.file("marker");
    let run = lab.stdin(&format!(
        "action=reboot\nnodename=cmp1\nport=n1\nafter_off_file={}\n",
        marker.display()
    ));
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "Success: Rebooted\n"),
        "{}",
        run.stderr
    );
    assert_eq!(lab.state("n1"), "on");
    let line = std::fs::read_to_string(&marker).expect("marker written");
    assert!(line.starts_with("cmp1 "), "{line}");
}

#[test]
fn reboot_with_failing_on_still_succeeds() {
    let lab = Lab::new();
    let run = lab.stdin("action=reboot\nplug=n1\nignore_on=1\npower_timeout=0.3\n");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("Timed out waiting to power ON"));
    assert_eq!(lab.state("n1"), "off");
}

#[test]
fn cycle_needs_off_to_be_observed() {
    let lab = Lab::new();
    let seen = lab.argv(&[
        "-o",
        "reboot",
        "-n",
        "n1",
        "-m",
        "cycle",
        "--cycle-off-reads=2",
    ]);
    assert_eq!(seen.code, 0, "{}", seen.stderr);
    let unseen = lab.argv(&[
        "-o",
        "reboot",
        "-n",
        "n1",
        "--method=CYCLE",
        "--cycle-off-reads=0",
        "--power-timeout=0.3",
    ]);
    assert_eq!(unseen.code, 1);
    assert!(
        unseen.stderr.contains("never observed"),
        "{}",
        unseen.stderr
    );
}

#[test]
fn list_and_list_status() {
    let lab = Lab::new();
    let run = lab.argv(&["-o", "list"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "n1,\nn2,\n"));
    let run = lab.stdin("action=list-status\n");
    assert_eq!((run.code, run.stdout.as_str()), (0, "n1,,ON\nn2,,OFF\n"));
    let run = lab.argv(&["-o", "monitor"]);
    assert_eq!(run.code, 0);
}

#[test]
fn delay_applies_to_off_only() {
    let lab = Lab::new();
    let status = lab.stdin("action=status\nplug=n1\ndelay=1\n");
    assert_eq!(status.code, 0);
    assert!(
        status.elapsed < Duration::from_millis(900),
        "{:?}",
        status.elapsed
    );
    let off = lab.stdin("action=off\nplug=n1\ndelay=1\n");
    assert_eq!(off.code, 0);
    assert!(off.elapsed >= Duration::from_secs(1));
}

#[test]
fn bad_arguments_exit_1() {
    let lab = Lab::new();
    for args in [
        &["--bogus"][..],
        &["-o", "poweroff"],
        &["-o", "off"],
        &["-o", "status", "-n", "n1", "--power-timeout=soon"],
        &["-o", "status", "-n", "n1", "--method=sideways"],
        &["-o", "status", "-n", "n1", "--stale-reads=-1"],
    ] {
        let run = lab.argv(args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("Please use '-h' for usage"),
            "{args:?}: {}",
            run.stderr
        );
    }
    let run = lab.stdin("action=\nplug=n1\n");
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("Unrecognised action ''"));
}

#[test]
fn validate_all_touches_nothing() {
    let lab = Lab::new();
    let run = lab.stdin("action=validate-all\nplug=n1\nunreachable=1\nlogin_timeout=10\n");
    assert_eq!(run.code, 0);
    assert!(run.elapsed < Duration::from_secs(2));
    assert_eq!(lab.state("n1"), "on");
    let run = lab.stdin("action=validate-all\n");
    assert_eq!(
        run.code, 1,
        "plug is required for validate-all, as in fence-agents"
    );
}

#[test]
fn stdin_quirks() {
    let lab = Lab::new();
    // Spaces around the name, the deprecated `option`, comments, blank lines,
    // unknown and non-UTF-8 lines, a line without '='.
    let run =
        lab.stdin("# pacemaker\n\n option = off\nport=n1\npcmk_host_list=n1\n\u{1}junk\nverbose\n");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(lab.state("n1"), "off");
    assert!(
        run.stderr
            .contains("Ignoring unknown option 'pcmk_host_list'")
    );

    let mut bytes = b"action=status\nplug=n2\n".to_vec();
    bytes.extend_from_slice(b"\xff\xfe=\xc3\x28\n");
    bytes.extend_from_slice(format!("state_dir={}\n", lab.path().display()).as_bytes());
    let run = run_stdin(&bytes, &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);

    // Last occurrence wins.
    let run = lab.stdin("action=off\naction=status\nplug=n1\nplug=n2\n");
    assert_eq!(run.code, 2);
}

#[test]
fn huge_stdin_is_refused() {
    let input = vec![b'#'; 2 * 1024 * 1024];
    let run = run_stdin(&input, &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("larger than"), "{}", run.stderr);
}

#[test]
fn passwords_never_reach_stderr_or_the_debug_file() {
    let lab = Lab::new();
    let debug = lab.file("debug.log");
    // Right password from a script, verbose, debug file.
    let run = lab.stdin(&format!(
        "action=reboot\nplug=n1\nverbose=1\ndebug_file={}\npassword_script=echo hunter2\nexpect_password=hunter2\n",
        debug.display()
    ));
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Wrong password given directly; a misspelt password line; a failing script.
    let wrong = lab.stdin(&format!(
        "action=off\nplug=n1\nverbose=1\ndebug_file={}\npasswd=hunter2\npassword_x=hunter2\nexpect_password=other-secret\n",
        debug.display()
    ));
    assert_eq!(wrong.code, 1);
    assert!(wrong.stderr.contains("password refused"));
    let failing = lab.stdin("action=off\nplug=n1\npassword_script=echo hunter2; exit 4\n");
    assert_eq!(failing.code, 1);
    assert!(
        failing
            .stderr
            .contains("password_script exited with status 4"),
        "{}",
        failing.stderr
    );

    let log = std::fs::read_to_string(&debug).expect("debug file");
    assert!(log.contains("DEBUG:"), "{log}");
    for text in [&run.stderr, &wrong.stderr, &failing.stderr, &log] {
        assert!(!text.contains("hunter2"), "secret leaked: {text}");
        assert!(!text.contains("other-secret"), "secret leaked: {text}");
    }
}

#[test]
fn password_script_is_bounded_by_login_timeout() {
    let lab = Lab::new();
    let run = lab.stdin("action=status\nplug=n1\nlogin_timeout=0.3\npassword_script=sleep 20\n");
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("timed out"), "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(3));
}

#[test]
fn a_lying_device_cannot_be_caught_by_status() {
    // status reports the device's word: an agent can only be as truthful as
    // its device. Fencing does not take that word before asking for power
    // off (says_off_while_on_is_powered_off_for_real).
    let lab = Lab::new();
    let run = lab.argv(&["-o", "status", "-n", "n1", "--false-off-reads=1"]);
    assert_eq!(run.code, 2);
    assert_eq!(lab.state("n1"), "on");
}

/// A stand-in `crm_attribute` first on PATH: it appends its arguments and
/// the plug's state at that moment to `crm_attribute.log`, and exits `code`.
fn fake_crm_attribute(lab: &Lab, code: i32) -> (String, PathBuf) {
    let bin = lab.file("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let log = lab.file("crm_attribute.log");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$* n1=$(cat '{state}')\" >> '{log}'\nexit {code}\n",
        state = lab.file("n1").display(),
        log = log.display(),
    );
    let tool = bin.join("crm_attribute");
    std::fs::write(&tool, script).expect("write crm_attribute");
    let mut perms = std::fs::metadata(&tool).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&tool, perms).expect("chmod");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (path, log)
}

fn epoch_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn stdin_with_path(lab: &Lab, path: &str, lines: &str) -> Run {
    let input = format!(
        "state_dir={}\nstonith_status_sleep=0.05\n{lines}",
        lab.path().display()
    );
    run_stdin(
        input.as_bytes(),
        &[("PCMK_service", "pacemaker-fenced"), ("PATH", path)],
    )
}

#[test]
fn evacuate_writes_the_marker_with_crm_attribute_before_power_on() {
    let lab = Lab::new();
    let (path, log) = fake_crm_attribute(&lab, 0);
    let before = epoch_now();
    let run = stdin_with_path(
        &lab,
        &path,
        "action=reboot\nnodename=cmp1\nport=n1\nevacuate=1\n",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(lab.state("n1"), "on");
    let text = std::fs::read_to_string(&log).expect("crm_attribute ran");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let epoch: u64 = lines[0]
        .strip_prefix("--node=cmp1 --name=umha-evacuate --lifetime=forever --update=")
        .and_then(|rest| rest.strip_suffix(" n1=off"))
        .and_then(|e| e.parse().ok())
        .unwrap_or_else(|| panic!("unexpected command line: {text}"));
    assert!((before..=epoch_now()).contains(&epoch), "{epoch}");
    assert!(
        run.stderr.contains("recorded umha-evacuate="),
        "{}",
        run.stderr
    );
}

#[test]
fn evacuate_attribute_names_the_marker() {
    let lab = Lab::new();
    let (path, log) = fake_crm_attribute(&lab, 0);
    let run = stdin_with_path(
        &lab,
        &path,
        "action=off\nnodename=cmp1\nplug=n1\nevacuate=yes\nevacuate_attribute=site-evacuate\n",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&log).expect("crm_attribute ran");
    assert!(
        text.starts_with("--node=cmp1 --name=site-evacuate --lifetime=forever --update="),
        "{text}"
    );
}

#[test]
fn evacuate_marker_failure_is_logged_and_fencing_succeeds() {
    let lab = Lab::new();
    let (path, log) = fake_crm_attribute(&lab, 102);
    let run = stdin_with_path(
        &lab,
        &path,
        "action=off\nnodename=cmp1\nplug=n1\nevacuate=1\n",
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "Success: Powered OFF\n"),
        "{}",
        run.stderr
    );
    assert!(log.exists());
    assert!(
        run.stderr.contains("failed (fencing still succeeded)"),
        "{}",
        run.stderr
    );
}

#[test]
fn evacuate_marker_needs_a_verified_off_evacuate_and_a_node_name() {
    let lab = Lab::new();
    let (path, log) = fake_crm_attribute(&lab, 0);
    let unverified = stdin_with_path(
        &lab,
        &path,
        "action=off\nnodename=cmp1\nplug=n1\nevacuate=1\nignore_off=1\npower_timeout=0.3\n",
    );
    assert_eq!(unverified.code, 1, "{}", unverified.stderr);
    let not_asked = stdin_with_path(&lab, &path, "action=off\nnodename=cmp1\nplug=n1\n");
    assert_eq!(not_asked.code, 0, "{}", not_asked.stderr);
    let by_hand = stdin_with_path(&lab, &path, "action=off\nplug=n1\nevacuate=1\n");
    assert_eq!(by_hand.code, 0, "{}", by_hand.stderr);
    assert!(
        by_hand.stderr.contains("no umha-evacuate marker written"),
        "{}",
        by_hand.stderr
    );
    assert!(!log.exists(), "crm_attribute ran");
}

#[test]
fn evacuate_is_in_the_metadata_help_and_manpage() {
    let metadata = run_argv(&["-o", "metadata"]);
    assert!(metadata.stdout.contains("<parameter name=\"evacuate\""));
    assert!(
        metadata
            .stdout
            .contains("<content type=\"boolean\" default=\"0\" />")
    );
    assert!(
        metadata
            .stdout
            .contains("<content type=\"string\" default=\"umha-evacuate\" />")
    );
    let help = run_argv(&["-h"]);
    assert!(help.stdout.contains("--evacuate "), "{}", help.stdout);
    let man = run_argv(&["-o", "manpage"]);
    assert!(man.stdout.contains(".SH EVACUATION MARKER"));
}
