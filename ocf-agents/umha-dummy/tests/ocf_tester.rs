//! resource-agents' `ocf-tester` against the built agent: meta-data against
//! the OCF 1.0 DTD, validate-all, probes, start/stop twice, monitor, reload.

// A test: a failed setup step is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use umha_common::{Command, ExecError};

const OCF_TESTER: &str = "/usr/sbin/ocf-tester";

fn ocf_tester(extra: &[&str]) -> Option<(tempfile::TempDir, String)> {
    let tester = if Path::new(OCF_TESTER).exists() {
        OCF_TESTER
    } else {
        "ocf-tester"
    };
    let agent = env!("CARGO_BIN_EXE_umha-dummy");
    let rsctmp = tempfile::tempdir().unwrap();
    let log = rsctmp.path().join("ha.log");
    let mut args = vec![
        "-n",
        "umha-test",
        "-o",
        "CRM_meta_on_node=lab1",
        "-o",
        "fake=x y & <z>",
    ];
    for e in extra {
        args.extend(["-o", e]);
    }
    args.push(agent);
    let out = Command::new(tester)
        .args(&args)
        .env("HA_RSCTMP", rsctmp.path())
        .env("HA_LOGFACILITY", "none")
        .env("HA_LOGFILE", &log)
        .env("OCF_ROOT", "/usr/lib/ocf")
        .env_remove("HA_debug")
        .timeout(Duration::from_secs(120))
        .run();
    let out = match out {
        Err(ExecError::NotFound { .. }) => {
            println!("SKIPPED: ocf-tester is not installed (package resource-agents)");
            return None;
        }
        other => other.unwrap(),
    };
    let text = format!(
        "{}{}",
        out.stdout_lossy(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.success(), "ocf-tester failed ({}):\n{text}", out.code());
    assert!(text.contains("passed all tests"), "{text}");
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    Some((rsctmp, logged))
}

#[test]
fn ocf_tester_passes_with_the_per_node_state_file() {
    let Some((rsctmp, log)) = ocf_tester(&[]) else {
        return;
    };
    assert!(log.contains("umha-dummy(umha-test)["), "{log}");
    assert!(log.contains("INFO: start succeeded"), "{log}");
    // Stopped at the end: only the log is left.
    let left: Vec<String> = std::fs::read_dir(rsctmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["ha.log"]);
}

#[test]
fn ocf_tester_passes_with_every_parameter_set() {
    let dir = tempfile::tempdir().unwrap();
    let state = format!("state={}/dummy.state", dir.path().display());
    let Some(_) = ocf_tester(&[
        &state,
        "op_sleep=50ms",
        "fail_start=no",
        "fail_start_on=cmp7,cmp8",
        "weight=-3",
    ]) else {
        return;
    };
    assert!(!dir.path().join("dummy.state").exists());
}
