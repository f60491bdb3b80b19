//! resource-agents' `ocf-tester` against the built agent: meta-data against
//! the OCF 1.0 DTD, validate-all, probes, start/stop twice, monitor, reload.
//! `attrd_updater` is a recording stand-in: there is no cluster here.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::time::Duration;

use support::{AGENT, Sandbox};
use umha_common::{Command, ExecError};

const OCF_TESTER: &str = "/usr/sbin/ocf-tester";

/// Run ocf-tester with `params`; `None` when it is not installed.
fn ocf_tester(sandbox: &Sandbox, params: &[&str]) -> Option<String> {
    let tester = if Path::new(OCF_TESTER).exists() {
        OCF_TESTER
    } else {
        "ocf-tester"
    };
    let mut args = vec!["-n", "storage", "-o", "CRM_meta_on_node=lab1"];
    for p in params {
        args.extend(["-o", p]);
    }
    args.push(AGENT);
    let out = Command::new(tester)
        .args(&args)
        .env("PATH", sandbox.path_var())
        .env("HA_RSCTMP", sandbox.rsctmp())
        .env("HA_LOGFACILITY", "none")
        .env("HA_LOGFILE", sandbox.path("ha.log"))
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
    assert!(
        out.success(),
        "ocf-tester failed ({}):\n{text}\nlog:\n{}",
        out.code(),
        sandbox.log()
    );
    assert!(text.contains("passed all tests"), "{text}");
    Some(text)
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
    assert_eq!(calls.len(), 12, "{calls:?}");
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
