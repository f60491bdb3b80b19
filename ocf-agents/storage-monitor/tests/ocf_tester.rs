//! resource-agents' `ocf-tester` against the built agent: meta-data against
//! the OCF 1.0 DTD, validate-all, probes, start/stop twice, monitor, reload.
//! `attrd_updater` is a recording stand-in: there is no cluster here.

#![allow(clippy::unwrap_used)]

mod support;

use std::ffi::OsStr;

use agent_core::testing;
use support::{AGENT, Sandbox};

/// Run ocf-tester with `params`; `None` when it is not installed.
fn ocf_tester(sandbox: &Sandbox, params: &[&str]) -> Option<String> {
    let mut all = vec!["CRM_meta_on_node=lab1"];
    all.extend_from_slice(params);
    let (path, rsctmp, log) = (sandbox.path_var(), sandbox.rsctmp(), sandbox.path("ha.log"));
    let env = [
        ("PATH", OsStr::new(&path)),
        ("HA_RSCTMP", rsctmp.as_os_str()),
        ("HA_LOGFILE", log.as_os_str()),
    ];
    let result = testing::ocf_tester(AGENT, "storage", &all, &env)?;
    Some(result.unwrap_or_else(|e| panic!("{e}\nlog:\n{}", sandbox.log())))
}

#[test]
fn ocf_tester_passes_on_loopback() {
    let sandbox = Sandbox::new();
    if ocf_tester(&sandbox, &["storage_server_address=127.0.0.1 ::1"]).is_none() {
        return;
    }
    let calls = sandbox.take_calls();
    // ocf-tester starts twice, probes once while started and stops three
    // times: every start and probe writes, every stop deletes, and none of
    // its recurring monitors writes anything.
    let score = |c: &&String| *c == "--name=umha-storage --update-both=2000 --delay=5 --node=lab1";
    assert_eq!(calls.iter().filter(score).count(), 3, "{calls:?}");
    let deletes = |c: &&String| *c == "--delete --name=umha-storage --node=lab1";
    assert_eq!(calls.iter().filter(deletes).count(), 3, "{calls:?}");
    // Every stop deletes the red count too, published or not: a stale one
    // left behind would make the evacuator take the node for sick.
    let red = |c: &&String| *c == "--delete --name=umha-storage-red-count --node=lab1";
    assert_eq!(calls.iter().filter(red).count(), 3, "{calls:?}");
    assert_eq!(calls.len(), 15, "{calls:?}");
    let log = sandbox.log();
    assert!(log.contains("storage-monitor(storage)["), "{log}");
    assert!(
        log.contains("INFO: storage green: score 2000, 2/2 addresses reachable"),
        "{log}"
    );
    // Stopped at the end: nothing left in HA_RSCTMP.
    let left: Vec<_> = std::fs::read_dir(sandbox.rsctmp()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn ocf_tester_passes_with_every_parameter_set() {
    let sandbox = Sandbox::new();
    let share = sandbox.path("share");
    std::fs::create_dir(&share).unwrap();
    let heartbeat = format!("heartbeat_path={}", share.display());
    let Some(_) = ocf_tester(
        &sandbox,
        &[
            "storage_server_address=127.0.0.1,[::1]",
            "ping_count=3",
            "ping_interval=20ms",
            "ping_timeout=500ms",
            "ping_loss_ratio=34%",
            "min_reachable=all",
            "name=st-a",
            "multiplier=1",
            "dampen=0",
            "health=true",
            "detail=true",
            &heartbeat,
            "heartbeat_write=true",
            "heartbeat_timeout=2s",
            "republish_interval=1min",
        ],
    ) else {
        return;
    };
    let calls = sandbox.take_calls();
    assert!(
        calls.contains(&"--name=#health-st-a --update=green --node=lab1".to_owned()),
        "{calls:?}"
    );
    assert!(
        calls.contains(
            &"--name=st-a-detail --update=127.0.0.1=ok,::1=ok,path=ok --node=lab1".to_owned()
        ),
        "{calls:?}"
    );
    let hb = std::fs::read_to_string(share.join("lab1.heartbeat")).unwrap();
    assert!(
        hb.starts_with("umha-storage-heartbeat 1\nnode=lab1\ntime="),
        "{hb}"
    );
}
