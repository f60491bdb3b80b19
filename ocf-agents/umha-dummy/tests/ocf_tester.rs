//! resource-agents' `ocf-tester` against the built agent: meta-data against
//! the OCF 1.0 DTD, validate-all, probes, start/stop twice, monitor, reload.

// A test: a failed setup step is a failed test.
#![allow(clippy::unwrap_used)]

use std::ffi::OsStr;

use agent_core::testing;

/// ocf-tester as resource `umha-test` with `extra` parameters: the
/// HA_RSCTMP left behind and the log, `None` when it is not installed.
fn ocf_tester(extra: &[&str]) -> Option<(tempfile::TempDir, String)> {
    let agent = env!("CARGO_BIN_EXE_umha-dummy");
    let rsctmp = tempfile::tempdir().unwrap();
    let log = rsctmp.path().join("ha.log");
    let mut params = vec!["CRM_meta_on_node=lab1", "fake=x y & <z>"];
    params.extend_from_slice(extra);
    let env = [
        ("HA_RSCTMP", rsctmp.path().as_os_str()),
        ("HA_LOGFILE", OsStr::new(&log)),
    ];
    if let Err(e) = testing::ocf_tester(agent, "umha-test", &params, &env)? {
        panic!("{e}");
    }
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
