//! `ocf:umha:storage-monitor` in the lab: cloned on the compute nodes, it
//! pings the storage network (a network of its own, `tests/lab/storage`
//! cuts one node's link) and publishes `umha-storage` (a score, 0 when red)
//! and `#health-umha-storage`; the test resource `storage-test` (a location
//! rule: `not_defined umha-storage or umha-storage lte 0` → -INFINITY,
//! prefers cmp2) follows the storage. Attributes are read through the `cib`
//! crate. Also: a hung heartbeat path (a FIFO where the node writes) turns
//! the node red while the monitor keeps returning in time, and a node's
//! storage link comes back with it after a fencing reboot.
//!
//! Lab settings (tests/lab/up.sh): monitor every 2 s, dampen 1 s, 4 echoes
//! 200 ms apart with a 1 s reply timeout, heartbeat timeout 2 s: a change
//! shows within about interval + 1.6 s + dampen ≈ 5 s. The waits below are
//! bounded far above that; the measured times are printed.
//!
//! Each test starts and ends with the lab healthy (every node online and
//! green, the cluster settled); a guard restores what a test broke even when
//! it fails.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cib::Cib;
use umha_lab_tests::{
    Lab, lab_dir, lab_sh, now_epoch, require_lab, resource_locations, run, run_ok, state_dir,
    wait_for, wait_healthy,
};

const SCORE: &str = "umha-storage";
const HEALTH: &str = "#health-umha-storage";
const DETAIL: &str = "umha-storage-detail";
const MONITOR: &str = "storage-monitor";
const TEST_RESOURCE: &str = "storage-test";
/// The storage servers (tests/lab/lib.sh, `LAB_STOR_ADDRS`).
const STORAGE_ADDRESSES: [&str; 3] = ["169.254.78.1", "169.254.78.2", "fd75:6d68:6100:78::1"];
/// The score of a node that reaches all three storage addresses (multiplier
/// 1000 × 3).
const FULL_SCORE: i64 = 3000;
/// The monitor operation's timeout in the lab's CIB.
const MONITOR_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound of every wait for an attribute change (expected: about 5 s).
const FLIP_BOUND: Duration = Duration::from_secs(30);

/// What a node publishes, as the CIB has it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Storage {
    score: Option<i64>,
    health: Option<String>,
    detail: Option<String>,
}

impl Storage {
    fn is_green(&self) -> bool {
        self.score.is_some_and(|s| s > 0) && self.health.as_deref() == Some("green")
    }

    fn is_full_green(&self) -> bool {
        self.score == Some(FULL_SCORE) && self.health.as_deref() == Some("green")
    }

    fn is_red(&self) -> bool {
        self.score == Some(0) && self.health.as_deref() == Some("red")
    }

    /// Red, and the detail (dampened on its own, so it may lag the score by a
    /// moment) shows no storage address answering.
    fn is_red_unreachable(&self) -> bool {
        let detail = self.detail.as_deref().unwrap_or_default();
        self.is_red()
            && STORAGE_ADDRESSES
                .iter()
                .all(|a| detail.contains(&format!("{a}=")) && !detail.contains(&format!("{a}=ok")))
    }
}

fn storage_of(cib: &Cib, node: &str) -> Result<Storage, String> {
    let n = cib
        .node(node)
        .ok_or_else(|| format!("{node} is not in the CIB"))?;
    Ok(Storage {
        score: n
            .transient_attribute(SCORE)
            .and_then(|v| v.parse::<i64>().ok()),
        health: n.transient_attribute(HEALTH).map(str::to_owned),
        detail: n.transient_attribute(DETAIL).map(str::to_owned),
    })
}

/// Every node's published storage state (`cibadmin --query` via the cib crate).
fn storage_all(nodes: &[String]) -> Result<Vec<(String, Storage)>, String> {
    let cib = Cib::query().map_err(|e| e.to_string())?;
    nodes
        .iter()
        .map(|n| storage_of(&cib, n).map(|s| (n.clone(), s)))
        .collect()
}

fn describe(all: &[(String, Storage)]) -> String {
    all.iter()
        .map(|(n, s)| format!("{n}: {s:?}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Wait until every compute node reaches every storage address (score 3000,
/// green) and has for 15 s on end, then until the cluster settles. A node
/// just back from a power cut (lab_nova cuts one) can lose echoes for a
/// minute or two while its services start on the 2 busy cores; a test that
/// asserts "the others stay green" must not start in that window.
fn wait_all_green(lab: &Lab) {
    let mut green_since: Option<Instant> = None;
    wait_for(
        &format!(
            "{} publishing {SCORE}={FULL_SCORE} and {HEALTH}=green for 15 s on end",
            lab.nodes.join(", ")
        ),
        Duration::from_secs(240),
        || {
            let all = storage_all(&lab.nodes)?;
            if all.iter().all(|(_, s)| s.is_full_green()) {
                let since = *green_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= Duration::from_secs(15) {
                    return Ok(());
                }
                Err(format!("green for {:.0} s", since.elapsed().as_secs_f64()))
            } else {
                green_since = None;
                Err(describe(&all))
            }
        },
    );
    wait_healthy(lab);
}

/// `tests/lab/storage NODE ACTION`.
fn storage_cmd(node: &str, action: &str) -> String {
    let script = lab_dir().join("storage");
    run_ok("bash", &[&script.to_string_lossy(), node, action])
        .trim()
        .to_owned()
}

/// Cuts a node's storage link; restores it when dropped (also on panic).
struct Cut<'a>(&'a str);

impl<'a> Cut<'a> {
    fn new(node: &'a str) -> Self {
        storage_cmd(node, "cut");
        Cut(node)
    }
}

impl Drop for Cut<'_> {
    fn drop(&mut self) {
        let script = lab_dir().join("storage");
        let _ = run("bash", &[&script.to_string_lossy(), self.0, "restore"]);
    }
}

/// Wait until `node` publishes what `want` accepts, while every node in
/// `steady` stays green at every poll. Returns how long it took.
fn wait_node(
    lab: &Lab,
    what: &str,
    node: &str,
    steady: &[&str],
    want: impl Fn(&Storage) -> bool,
) -> Duration {
    let start = Instant::now();
    wait_for(what, FLIP_BOUND, || {
        let all = storage_all(&lab.nodes)?;
        for (n, s) in &all {
            if steady.contains(&n.as_str()) {
                assert!(
                    s.is_green(),
                    "{n} left green while only {node}'s storage changed: {}",
                    describe(&all)
                );
            }
        }
        match all.iter().find(|(n, _)| n == node) {
            Some((_, s)) if want(s) => Ok(()),
            _ => Err(describe(&all)),
        }
    });
    start.elapsed()
}

/// Wait until `storage-test` runs on exactly one node accepted by `want`.
fn wait_test_resource(what: &str, want: impl Fn(&str) -> bool) -> String {
    wait_for(what, FLIP_BOUND, || {
        let nodes = resource_locations(TEST_RESOURCE);
        match nodes.as_slice() {
            [one] if want(one) => Ok(one.clone()),
            _ => Err(format!("{TEST_RESOURCE} runs on {nodes:?}")),
        }
    })
}

#[test]
#[ignore = "needs the lab: tests/lab/up.sh"]
fn storage_monitor_publishes_green_on_every_compute_node() {
    let lab = require_lab();
    wait_healthy(&lab);
    wait_all_green(&lab);

    let cib = Cib::query().expect("cibadmin --query");
    for node in &lab.nodes {
        let s = storage_of(&cib, node).unwrap_or_else(|e| panic!("{e}"));
        println!("{node}: {s:?}");
        let detail = s.detail.unwrap_or_default();
        for addr in STORAGE_ADDRESSES {
            assert!(
                detail.contains(&format!("{addr}=ok")),
                "{node}'s detail lacks {addr}=ok: {detail}"
            );
        }
        assert!(detail.contains("path=ok"), "{node}: {detail}");
    }
    // The clone runs on the compute nodes only: nothing on the cluster node.
    let ctl1 = cib.node("ctl1").expect("ctl1 in the CIB");
    assert_eq!(ctl1.transient_attribute(SCORE), None);
    let mut on = resource_locations(&format!("{MONITOR}-clone"));
    on.sort();
    assert_eq!(on, lab.nodes, "{MONITOR}-clone runs on {on:?}");
    // The test resource is where it prefers to be.
    assert_eq!(resource_locations(TEST_RESOURCE), ["cmp2"]);
    // And the heartbeat files of the path check are there, one per node.
    let share = state_dir().join("storage/share");
    for node in &lab.nodes {
        let file: PathBuf = share.join(format!("{node}.heartbeat"));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(text.contains(&format!("node={node}\n")), "{text}");
    }
}

#[test]
#[ignore = "needs the lab: tests/lab/up.sh"]
fn cutting_cmp2_storage_turns_it_red_and_moves_the_test_resource_off() {
    let lab = require_lab();
    wait_healthy(&lab);
    wait_all_green(&lab);
    let node = "cmp2";
    let others: Vec<&str> = lab
        .nodes
        .iter()
        .map(String::as_str)
        .filter(|n| *n != node)
        .collect();
    wait_test_resource("storage-test on cmp2 (its preferred node)", |n| n == node);
    let failures = failcount(node);

    println!("cutting {node}'s storage link (tests/lab/storage {node} cut)");
    let cut_at = Instant::now();
    let cut = Cut::new(node);
    assert_eq!(storage_cmd(node, "status"), "cut");
    // The Pacemaker link is another network: the node stays online.
    let flip = wait_node(
        &lab,
        "cmp2 red: umha-storage=0, #health-umha-storage=red",
        node,
        &others,
        Storage::is_red,
    );
    wait_node(
        &lab,
        "cmp2's umha-storage-detail: no storage address answering",
        node,
        &others,
        Storage::is_red_unreachable,
    );
    let to = wait_test_resource("storage-test off cmp2", |n| n != node);
    println!(
        "MEASURED: cut -> cmp2 red {:.1}s (interval 2s + echoes 1.6s + dampen 1s); \
         storage-test on {to} {:.1}s after the cut",
        flip.as_secs_f64(),
        cut_at.elapsed().as_secs_f64()
    );
    assert!(
        Cib::query()
            .expect("cibadmin --query")
            .node(node)
            .is_some_and(|n| n.state.is_online()),
        "{node} went offline: the storage cut touched the Pacemaker link"
    );
    // Storage down is an attribute, not a failure of the monitor.
    assert_eq!(
        failcount(node),
        failures,
        "storage-monitor failed on {node}"
    );

    println!("restoring {node}'s storage link");
    let restored_at = Instant::now();
    drop(cut);
    assert_eq!(storage_cmd(node, "status"), "connected");
    let back = wait_node(
        &lab,
        "cmp2 green again with all 3 addresses",
        node,
        &others,
        Storage::is_full_green,
    );
    wait_test_resource("storage-test back on cmp2", |n| n == node);
    println!(
        "MEASURED: restore -> cmp2 green {:.1}s; storage-test back on cmp2 {:.1}s after the restore",
        back.as_secs_f64(),
        restored_at.elapsed().as_secs_f64()
    );
    wait_all_green(&lab);
}

/// The fail count of storage-monitor on `node`.
fn failcount(node: &str) -> u64 {
    let out = run_ok(
        "crm_failcount",
        &["--query", "--resource", MONITOR, "--node", node, "--quiet"],
    );
    out.trim().parse().unwrap_or(u64::MAX)
}

/// A FIFO named like the node's temporary heartbeat file: opening it for
/// writing blocks like a dead NFS server. Removed when dropped.
struct HungPath(PathBuf);

impl HungPath {
    fn new(node: &str) -> Self {
        let path = state_dir()
            .join("storage/share")
            .join(format!(".{node}.heartbeat.tmp"));
        let _ = std::fs::remove_file(&path);
        run_ok("mkfifo", &[&path.to_string_lossy()]);
        HungPath(path)
    }
}

impl Drop for HungPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
#[ignore = "needs the lab: tests/lab/up.sh"]
fn a_hung_heartbeat_path_turns_cmp3_red_and_monitor_still_returns() {
    let lab = require_lab();
    wait_healthy(&lab);
    wait_all_green(&lab);
    let node = "cmp3";
    let others: Vec<&str> = lab
        .nodes
        .iter()
        .map(String::as_str)
        .filter(|n| *n != node)
        .collect();
    let failures = failcount(node);

    println!("hanging {node}'s heartbeat path (a FIFO where it writes)");
    let hung = HungPath::new(node);
    let flip = wait_node(&lab, "cmp3 red with path=hung", node, &others, |s| {
        s.is_red() && s.detail.as_deref().is_some_and(|d| d.contains("path=hung"))
    });
    println!("MEASURED: hung path -> cmp3 red {:.1}s", flip.as_secs_f64());

    // One monitor by hand, inside the node, with the lab's monitor timeout:
    // it must come back in time (the checker is killed at heartbeat_timeout),
    // with success (the attribute carries the outage).
    let timeout_ms = MONITOR_TIMEOUT.as_millis().to_string();
    let start = Instant::now();
    let out = lab_sh(&format!(
        "lab_node_exec {node} crm_resource --force-check --resource {MONITOR} --timeout {timeout_ms}"
    ));
    let took = start.elapsed();
    println!(
        "MEASURED: monitor on a hung path returned in {:.1}s: {}",
        took.as_secs_f64(),
        out.trim()
    );
    assert!(
        took < MONITOR_TIMEOUT,
        "monitor took {took:?}, beyond its timeout"
    );
    // Pacemaker's own monitors kept returning in time: no failure recorded.
    assert_eq!(
        failcount(node),
        failures,
        "storage-monitor failed on {node}"
    );

    drop(hung);
    let back = wait_node(
        &lab,
        "cmp3 green again (path=ok)",
        node,
        &others,
        Storage::is_full_green,
    );
    println!(
        "MEASURED: path answering again -> cmp3 green {:.1}s",
        back.as_secs_f64()
    );
    wait_all_green(&lab);
}

#[test]
#[ignore = "needs the lab: tests/lab/up.sh"]
fn the_storage_link_comes_back_with_a_fenced_node() {
    let lab = require_lab();
    wait_healthy(&lab);
    wait_all_green(&lab);
    let node = "cmp3";
    let since = now_epoch();
    println!("stonith_admin --reboot {node}: a power cycle through its BMC");
    let out = run("stonith_admin", &["--reboot", node, "--timeout", "60"]);
    assert!(
        out.status.success(),
        "stonith_admin --reboot {node} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The node's netns (and its storage link) outlives the power cut.
    assert_eq!(storage_cmd(node, "status"), "connected");
    let addrs = lab_sh(&format!("lab_node_exec {node} ip -o addr show dev st0"));
    assert!(addrs.contains("169.254.78.13/24"), "{addrs}");
    assert!(addrs.contains("fd75:6d68:6100:78::13/64"), "{addrs}");
    wait_healthy(&lab);
    let start = Instant::now();
    wait_all_green(&lab);
    println!(
        "MEASURED: {node} green again {:.1}s after it was back online and settled",
        start.elapsed().as_secs_f64()
    );
    // Green from a check of the new boot, not a value left from the old one:
    // the agent's state file lives in the node's /run, which the power cut
    // wiped.
    let state = lab_sh(&format!(
        "lab_node_exec {node} cat /run/resource-agents/{MONITOR}@{MONITOR}@{node}.state"
    ));
    let started: i64 = state
        .lines()
        .find_map(|l| l.strip_prefix("started="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no started= in the state file:\n{state}"));
    assert!(
        started >= since,
        "{MONITOR} on {node} was not restarted by the reboot:\n{state}"
    );
    assert!(
        state.contains("health=green\n") && state.contains("score=3000\n"),
        "{state}"
    );
    // Its heartbeat directory is mounted again in the new boot.
    let seen = lab_sh(&format!(
        "lab_node_exec {node} sh -c 'test -f /run/umha-share/{node}.heartbeat && echo mounted'"
    ));
    assert_eq!(seen.trim(), "mounted");
}

/// What an administrator sees before configuring the agent: `crm ra info`,
/// `pcs resource describe` and Pacemaker's own meta-data reader all render
/// the installed agent.
#[test]
#[ignore = "lab test: needs tests/lab/install-agents.sh"]
fn storage_monitor_is_described_by_crmsh_pcs_and_pacemaker() {
    const AGENT: &str = "ocf:umha:storage-monitor";
    let listed = run_ok("crm_resource", &["--list-agents", "ocf:umha"]);
    assert!(
        listed.lines().any(|l| l.trim() == MONITOR),
        "crm_resource --list-agents ocf:umha: {listed}"
    );
    let meta = run_ok("crm_resource", &["--show-metadata", AGENT]);
    assert!(meta.contains("name=\"storage_server_address\""), "{meta}");
    for (tool, args) in [
        ("crm", &["ra", "info", AGENT][..]),
        ("pcs", &["resource", "describe", AGENT][..]),
    ] {
        let out = run(tool, args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("storage_server_address") && text.contains("ping_loss_ratio"),
            "{tool} {args:?}: {text}"
        );
    }
}
