//! A real storage network in miniature: two network namespaces of our own
//! ("node" and "storage") joined by a veth pair, with IPv4 and IPv6 storage
//! addresses. The agent runs inside the node namespace; cutting the veth
//! must turn the score to 0 and restoring it must bring it back. Nothing
//! leaves the two namespaces (they have no other interface and no route out).
//!
//! This is the layout recommended for the lab too (see the README).

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::{Sandbox, is_root, run_agent, sh};

const STORAGE_V4: &str = "169.254.251.2";
const STORAGE_V6: &str = "fd55:5d:1::2";

/// The two namespaces; deleted on drop.
struct StorageNet {
    node: String,
    storage: String,
}

impl StorageNet {
    /// `None` (test skipped) where namespaces cannot be made.
    fn new(tag: &str) -> Option<StorageNet> {
        if !is_root() || !sh("command -v ip").success() {
            println!("SKIPPED: needs root and iproute2 for network namespaces");
            return None;
        }
        let base = format!("umha-smtest-{}-{tag}", std::process::id());
        let net = StorageNet {
            node: format!("{base}-n"),
            storage: format!("{base}-s"),
        };
        let setup = format!(
            "set -e
ip netns add {n}
ip netns add {s}
# Linux drops IPv6 addresses of an interface that goes down, unless told not to.
ip netns exec {n} sysctl -qw net.ipv6.conf.all.keep_addr_on_down=1 net.ipv6.conf.default.keep_addr_on_down=1
ip netns exec {s} sysctl -qw net.ipv6.conf.all.keep_addr_on_down=1 net.ipv6.conf.default.keep_addr_on_down=1
ip -n {n} link set lo up
ip -n {s} link set lo up
ip -n {n} link add v-node type veth peer name v-stor netns {s}
ip -n {n} addr add 169.254.251.1/29 dev v-node
ip -n {s} addr add {v4}/29 dev v-stor
ip -n {n} -6 addr add fd55:5d:1::1/64 dev v-node nodad
ip -n {s} -6 addr add {v6}/64 dev v-stor nodad
ip -n {n} link set v-node up
ip -n {s} link set v-stor up",
            n = net.node,
            s = net.storage,
            v4 = STORAGE_V4,
            v6 = STORAGE_V6
        );
        let out = sh(&setup);
        if !out.success() {
            println!(
                "SKIPPED: cannot build the namespaces: {}",
                out.stderr_summary()
            );
            return None;
        }
        Some(net)
    }

    fn exec(&self) -> [&str; 4] {
        ["ip", "netns", "exec", &self.node]
    }

    /// Cut or restore the storage side of the link.
    fn link(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        let out = sh(&format!("ip -n {} link set v-stor {state}", self.storage));
        assert!(out.success(), "{}", out.stderr_summary());
    }

    fn sysctl_in_node(&self, key_path: &str, value: &str) {
        let out = sh(&format!(
            "ip netns exec {} sh -c 'echo \"{value}\" > /proc/sys/{key_path}'",
            self.node
        ));
        assert!(out.success(), "{}", out.stderr_summary());
    }
}

impl Drop for StorageNet {
    fn drop(&mut self) {
        let _ = sh(&format!(
            "ip netns del {} 2>/dev/null; ip netns del {} 2>/dev/null; true",
            self.node, self.storage
        ));
    }
}

fn both() -> String {
    format!("{STORAGE_V4} {STORAGE_V6}")
}

/// Wait for the link's IPv6 side to be usable after (re)configuration:
/// bounded retries of a monitor until green.
fn monitor_until(sb: &Sandbox, net: &StorageNet, env: &[(String, String)], want: &str) -> String {
    let mut state = String::new();
    for _ in 0..20 {
        let out = run_agent(&net.exec(), "monitor", env, Duration::from_secs(20));
        assert_eq!(out.code(), 0, "{}", out.reason());
        state = sb.state("cmp2").unwrap();
        if state.contains(want) {
            return state;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "never saw {want:?}; last state:\n{state}\nlog:\n{}",
        sb.log()
    );
}

#[test]
fn cutting_the_storage_link_turns_the_score_to_zero_and_back() {
    let Some(net) = StorageNet::new("cut") else {
        return;
    };
    let sb = Sandbox::new();
    let addrs = both();
    let env = sb.env(
        "cmp2",
        &[
            ("OCF_RESKEY_storage_server_address", &addrs),
            ("OCF_RESKEY_health", "true"),
        ],
    );
    let t = Duration::from_secs(20);
    assert_eq!(
        run_agent(&net.exec(), "start", &env, t).code(),
        0,
        "{}",
        sb.log()
    );
    monitor_until(&sb, &net, &env, "health=green\n");
    sb.take_calls();

    net.link(false);
    let state = monitor_until(&sb, &net, &env, "health=red\n");
    assert!(state.contains(&format!("{STORAGE_V4}=")), "{state}");
    assert!(!state.contains("=ok"), "{state}");
    let calls = sb.take_calls();
    assert!(
        calls.contains(&"--name=umha-storage --update-both=0 --delay=5 --node=cmp2".to_owned()),
        "{calls:?}"
    );
    assert!(
        calls.contains(
            &"--name=#health-umha-storage --update-both=red --delay=5 --node=cmp2".to_owned()
        ),
        "{calls:?}"
    );

    // The red streak, undampened, from the first red check on.
    assert!(
        calls.contains(&"--name=umha-storage-red-count --update=1 --node=cmp2".to_owned()),
        "{calls:?}"
    );

    // Still red: only the streak (and a loss count in the detail) moves.
    assert_eq!(run_agent(&net.exec(), "monitor", &env, t).code(), 0);
    let again = sb.take_calls();
    assert!(
        again
            .iter()
            .all(|c| c.contains("-detail")
                || c.starts_with("--name=umha-storage-red-count --update=")),
        "{again:?}"
    );
    assert!(again.iter().any(|c| c.contains("red-count")), "{again:?}");

    net.link(true);
    monitor_until(&sb, &net, &env, "health=green\n");
    let calls = sb.take_calls();
    assert!(
        calls.contains(&"--name=umha-storage --update-both=2000 --delay=5 --node=cmp2".to_owned()),
        "{calls:?}"
    );
    assert!(
        calls.contains(&"--delete --name=umha-storage-red-count --node=cmp2".to_owned()),
        "{calls:?}"
    );
    assert_eq!(run_agent(&net.exec(), "stop", &env, t).code(), 0);
}

#[test]
fn a_partly_reachable_storage_network_is_yellow() {
    let Some(net) = StorageNet::new("part") else {
        return;
    };
    let sb = Sandbox::new();
    // The third address exists nowhere: its echoes go out on the link and die there.
    let addrs = format!("{} 169.254.251.3", both());
    let env = sb.env("cmp2", &[("OCF_RESKEY_storage_server_address", &addrs)]);
    assert_eq!(
        run_agent(&net.exec(), "start", &env, Duration::from_secs(20)).code(),
        0
    );
    // IPv6 neighbour discovery on the fresh link takes a moment.
    let state = monitor_until(&sb, &net, &env, &format!("{STORAGE_V6}=ok"));
    assert!(state.contains("health=yellow\n"), "{state}");
    assert!(state.contains("score=2000\n"), "{state}");
    assert!(
        state.contains("169.254.251.3=") && !state.contains("169.254.251.3=ok"),
        "{state}"
    );
    // min_reachable=all makes the same network red.
    let strict = sb.env(
        "cmp2",
        &[
            ("OCF_RESKEY_storage_server_address", &addrs),
            ("OCF_RESKEY_min_reachable", "all"),
        ],
    );
    monitor_until(&sb, &net, &strict, "health=red\n");
}

#[test]
fn ping_sockets_are_used_where_ping_group_range_allows() {
    let Some(net) = StorageNet::new("dgram") else {
        return;
    };
    // The sysctl is per network namespace: only ours changes.
    net.sysctl_in_node("net/ipv4/ping_group_range", "0 2147483647");
    let sb = Sandbox::new();
    let addrs = format!("{} 127.0.0.1 ::1", both());
    let env = sb.env("cmp2", &[("OCF_RESKEY_storage_server_address", &addrs)]);
    assert_eq!(
        run_agent(&net.exec(), "start", &env, Duration::from_secs(20)).code(),
        0
    );
    monitor_until(&sb, &net, &env, "health=green\n");
    let log = sb.log();
    assert!(log.contains("IPv4 echo via Ping socket"), "{log}");
    assert!(log.contains("IPv6 echo via Ping socket"), "{log}");
}
