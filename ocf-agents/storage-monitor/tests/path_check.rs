//! The heartbeat path check through the real binary: a working share, a
//! read-only one, and a hung one that must fail within the deadline.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::{Sandbox, is_root, run_agent, sh};

const LOOPBACK: (&str, &str) = ("OCF_RESKEY_storage_server_address", "127.0.0.1");

#[test]
fn a_working_share_gets_a_fresh_heartbeat_per_monitor() {
    let sb = Sandbox::new();
    let share = sb.path("share");
    std::fs::create_dir(&share).unwrap();
    let dir = share.display().to_string();
    let env = sb.env("cmp1", &[LOOPBACK, ("OCF_RESKEY_heartbeat_path", &dir)]);
    let t = Duration::from_secs(20);
    assert_eq!(
        run_agent(&[], "validate-all", &env, t).code(),
        0,
        "{}",
        sb.log()
    );
    assert_eq!(run_agent(&[], "start", &env, t).code(), 0, "{}", sb.log());
    let first = std::fs::read_to_string(share.join("cmp1.heartbeat")).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(run_agent(&[], "monitor", &env, t).code(), 0);
    let second = std::fs::read_to_string(share.join("cmp1.heartbeat")).unwrap();
    assert_ne!(first, second, "the timestamp moves on");
    assert!(second.contains("node=cmp1\n"));
    assert!(
        sb.state("cmp1")
            .unwrap()
            .contains("detail=127.0.0.1=ok,path=ok\n")
    );
    // A read-only listing works too.
    let read = sb.env(
        "cmp1",
        &[
            LOOPBACK,
            ("OCF_RESKEY_heartbeat_path", &dir),
            ("OCF_RESKEY_heartbeat_write", "false"),
        ],
    );
    assert_eq!(run_agent(&[], "monitor", &read, t).code(), 0);
    assert_eq!(run_agent(&[], "stop", &env, t).code(), 0);
}

#[test]
fn a_hung_share_is_red_within_the_deadline() {
    let sb = Sandbox::new();
    let share = sb.path("share");
    std::fs::create_dir(&share).unwrap();
    let dir = share.display().to_string();
    let env = sb.env(
        "cmp1",
        &[
            LOOPBACK,
            ("OCF_RESKEY_heartbeat_path", &dir),
            ("OCF_RESKEY_heartbeat_timeout", "1s"),
        ],
    );
    let t = Duration::from_secs(20);
    assert_eq!(run_agent(&[], "start", &env, t).code(), 0, "{}", sb.log());
    sb.take_calls();
    // Opening a FIFO for writing blocks until a reader comes: the writer of
    // the heartbeat's temporary file now hangs like on a dead NFS server.
    let fifo = share.join(".cmp1.heartbeat.tmp");
    assert!(sh(&format!("mkfifo '{}'", fifo.display())).success());

    let out = run_agent(&[], "monitor", &env, t);
    assert_eq!(out.code(), 0, "monitor stays successful: {}", out.reason());
    assert!(out.took < Duration::from_secs(3), "{:?}", out.took);
    assert!(
        sb.state("cmp1")
            .unwrap()
            .contains("detail=127.0.0.1=ok,path=hung\n")
    );
    let calls = sb.take_calls();
    assert!(
        calls.contains(&"--name=umha-storage --update-both=0 --delay=5 --node=cmp1".to_owned()),
        "{calls:?}"
    );
    assert!(
        sb.log()
            .contains("WARNING: storage was green, now storage red: score 0"),
        "{}",
        sb.log()
    );

    // The operation's own timeout bounds the check even with a long heartbeat_timeout.
    let long = sb.env(
        "cmp1",
        &[
            LOOPBACK,
            ("OCF_RESKEY_heartbeat_path", &dir),
            ("OCF_RESKEY_heartbeat_timeout", "10min"),
            ("OCF_RESKEY_CRM_meta_timeout", "3000"),
        ],
    );
    let out = run_agent(&[], "monitor", &long, t);
    assert_eq!(out.code(), 0);
    assert!(out.took < Duration::from_secs(3), "{:?}", out.took);
    // A FIFO open is killable: no checker is left behind.
    assert!(
        sb.log().matches("no new check started").count() == 0,
        "{}",
        sb.log()
    );

    // The share answers again: green at the next monitor.
    std::fs::remove_file(&fifo).unwrap();
    assert_eq!(run_agent(&[], "monitor", &env, t).code(), 0);
    assert!(
        sb.state("cmp1")
            .unwrap()
            .contains("detail=127.0.0.1=ok,path=ok\n")
    );
    assert!(
        sb.log()
            .contains("INFO: storage was red, now storage green"),
        "{}",
        sb.log()
    );
    assert_eq!(run_agent(&[], "stop", &env, t).code(), 0);
}

#[test]
fn a_read_only_share_is_a_configuration_error_for_writing() {
    if !is_root() || !sh("command -v unshare && command -v mount").success() {
        println!("SKIPPED: needs root and unshare to make a read-only mount");
        return;
    }
    let sb = Sandbox::new();
    let share = sb.path("share");
    std::fs::create_dir(&share).unwrap();
    let dir = share.display().to_string();
    // A read-only bind mount in a private mount namespace (root ignores
    // permission bits, not a read-only mount).
    let ro = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        "mount --bind \"$0\" \"$0\" && mount -o remount,bind,ro \"$0\" && exec \"$@\"",
        &dir,
    ];
    let t = Duration::from_secs(20);
    let env = sb.env("cmp1", &[LOOPBACK, ("OCF_RESKEY_heartbeat_path", &dir)]);
    for action in ["validate-all", "start"] {
        let out = run_agent(&ro, action, &env, t);
        assert_eq!(out.code(), 6, "{action}: {}", out.reason());
        let reason = out.reason();
        assert!(
            reason.starts_with("heartbeat_path is unusable:"),
            "{reason}"
        );
        assert!(reason.contains("Read-only file system"), "{reason}");
    }
    assert!(sb.state("cmp1").is_none());
    // Reading a read-only share is fine.
    let read = sb.env(
        "cmp1",
        &[
            LOOPBACK,
            ("OCF_RESKEY_heartbeat_path", &dir),
            ("OCF_RESKEY_heartbeat_write", "no"),
        ],
    );
    assert_eq!(
        run_agent(&ro, "validate-all", &read, t).code(),
        0,
        "{}",
        sb.log()
    );
    assert_eq!(run_agent(&ro, "start", &read, t).code(), 0, "{}", sb.log());
    assert!(sb.state("cmp1").unwrap().contains("health=green\n"));
    assert_eq!(run_agent(&[], "stop", &read, t).code(), 0);
}

#[test]
fn a_share_that_is_not_mounted_is_red_not_an_error() {
    let sb = Sandbox::new();
    let dir = sb.path("not-mounted/.umha").display().to_string();
    let env = sb.env("cmp1", &[LOOPBACK, ("OCF_RESKEY_heartbeat_path", &dir)]);
    let t = Duration::from_secs(20);
    assert_eq!(run_agent(&[], "validate-all", &env, t).code(), 0);
    assert_eq!(run_agent(&[], "start", &env, t).code(), 0);
    let state = sb.state("cmp1").unwrap();
    assert!(
        state.contains("health=red\n") && state.contains("path=missing"),
        "{state}"
    );
    assert_eq!(run_agent(&[], "stop", &env, t).code(), 0);
}
