//! Helpers shared by the lab integration tests (`tests/lab_*.rs`).
//!
//! The tests run against the real Pacemaker lab that `tests/lab/up.sh` brings
//! up (cluster node `ctl1`, remote nodes `cmp1..cmpN`, state in
//! `/run/umha-lab`). Every wait here is bounded and says what it waits for;
//! every external command runs under `timeout`.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cib::{Cib, NodeKind, NodeState};

pub mod evac;
pub mod nova;

/// The lab's default state dir (pid files, logs, BMC power logs).
pub const STATE_DIR: &str = "/run/umha-lab";

/// The lab's state dir: `UMHA_LAB_STATE` if set (as `lib.sh` reads it), else
/// [`STATE_DIR`].
pub fn state_dir() -> PathBuf {
    std::env::var_os("UMHA_LAB_STATE")
        .filter(|s| !s.is_empty())
        .map_or_else(|| PathBuf::from(STATE_DIR), PathBuf::from)
}

/// Longest a single external command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// What the tests know about the running lab.
#[derive(Debug, Clone)]
pub struct Lab {
    /// Compute (remote) node names, `cmp1..cmpN`.
    pub nodes: Vec<String>,
    /// The fence agent of the per-node stonith devices (umha's `fence_ipmi`
    /// unless the lab was started with `UMHA_LAB_FENCE_AGENT`).
    pub fence_agent: String,
}

/// `tests/lab`, where the lab's scripts live.
pub fn lab_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lab")
}

/// The running lab, or a panic that says how to start it.
pub fn require_lab() -> Lab {
    let state = state_dir();
    let pid = read_pid(&state.join("corosync.pid"));
    assert!(
        pid.is_some_and(alive),
        "the lab is not up: run `sudo tests/lab/up.sh` first (no live corosync in {}/corosync.pid)",
        state.display()
    );
    let count: usize = std::fs::read_to_string(state.join("nodes.count"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(3);
    let fence_agent = std::fs::read_to_string(state.join("fence-agent"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "fence_ipmilan".to_owned());
    let lab = Lab {
        nodes: (1..=count).map(|i| format!("cmp{i}")).collect(),
        fence_agent,
    };
    forget_evacuations(&lab);
    lab
}

/// In the joined lab the fence devices write the evacuation marker at every
/// fence, so a test that fences nodes for its own reasons (several within the
/// valve's window, say) can leave markers and a valve hold behind, and the
/// marker keeps nova-compute off the node. Every test starts without them;
/// the evacuator's own tests set up what they check.
fn forget_evacuations(lab: &Lab) {
    let deadline = || umha_common::Deadline::after(Duration::from_secs(20));
    let _ = cib::attr::delete_property("umha-valve", "umha-hold", deadline());
    for node in &lab.nodes {
        if cib::attr::query_persistent(node, "umha-evacuate", deadline())
            .ok()
            .flatten()
            .is_some()
        {
            println!("test setup: clearing {node}'s evacuation marker left by an earlier test");
            let _ = cib::attr::delete_persistent(node, "umha-evacuate", deadline());
        }
    }
}

/// Seconds since the epoch, now.
pub fn now_epoch() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Run `program args...` under `timeout`, returning its output whatever the exit.
pub fn run(program: &str, args: &[&str]) -> Output {
    let secs = COMMAND_TIMEOUT.as_secs().to_string();
    Command::new("timeout")
        .args(["-k", "5", &secs, program])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Run `program args...`; panic with its stderr unless it succeeds. Returns stdout.
pub fn run_ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "`{program} {}` failed ({}): {}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run a shell snippet with the lab's `lib.sh` sourced (e.g. `lab_node_exec cmp2 hostname`).
pub fn lab_sh(snippet: &str) -> String {
    let lib = lab_dir().join("lib.sh");
    let script = format!(". '{}' && {snippet}", lib.display());
    run_ok("bash", &["-c", &script])
}

/// What Pacemaker shows now, printed when a wait times out: CI keeps only
/// the test's output, and a timeout without it cannot be explained later.
pub fn print_cluster_state() {
    for (cmd, args) in [
        (
            "crm_mon",
            &["-1", "-r", "-f", "-A", "--include=fencing-history"][..],
        ),
        ("stonith_admin", &["--history", "*", "--verbose"][..]),
    ] {
        match Command::new(cmd).args(args).output() {
            Ok(out) => println!(
                "--- {cmd} {}:\n{}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => println!("--- {cmd}: cannot run: {e}"),
        }
    }
}

/// Poll `probe` every 200 ms until it returns `Ok`, for at most `timeout`.
/// `Err` carries a description of what was seen last, for the panic message.
pub fn wait_for<T, E: Display>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<T, E>,
) -> T {
    println!("waiting up to {}s for: {what}", timeout.as_secs());
    let start = Instant::now();
    loop {
        match probe() {
            Ok(v) => {
                println!(
                    "  ... ok after {:.1}s: {what}",
                    start.elapsed().as_secs_f64()
                );
                return v;
            }
            Err(last) => {
                if start.elapsed() >= timeout {
                    print_cluster_state();
                    panic!(
                        "timed out after {}s waiting for: {what} (last seen: {last})",
                        timeout.as_secs()
                    );
                }
            }
        }
        sleep(Duration::from_millis(200));
    }
}

/// Pid on the first line of a pid file.
pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Is `pid` a live process? A zombie counts as dead.
pub fn alive(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .map(str::trim_start)
        .is_some_and(|s| !s.starts_with('Z') && !s.starts_with('X'))
}

/// The pid of `node`'s pacemaker-remoted, if it runs.
pub fn remoted_pid(node: &str) -> Option<u32> {
    read_pid(&state_dir().join("nodes").join(node).join("remoted.pid")).filter(|p| alive(*p))
}

/// Cut `node`'s power behind Pacemaker's back (the lab's `power` script),
/// as a crashed host looks to the cluster.
pub fn crash(node: &str) {
    println!("crash of {node}: power cut behind Pacemaker's back");
    run_ok(&lab_dir().join("power").to_string_lossy(), &[node, "off"]);
}

/// SIGKILL a process.
pub fn kill9(pid: u32) {
    run_ok("kill", &["-KILL", &pid.to_string()]);
}

/// How many times `node`'s BMC was told `set <what> <value>` (from its power log).
pub fn bmc_requests(node: &str, what: &str) -> usize {
    let log = state_dir().join("nodes").join(node).join("power.log");
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.ends_with(what))
        .count()
}

/// No pending transition (`crm_resource --wait`, bounded).
pub fn settled() -> Result<(), String> {
    let out = run("crm_resource", &["--wait", "--timeout=30s"]);
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "crm_resource --wait: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Names in `nodes` that the CIB (read with the `cib` crate) does not show as
/// online remote nodes, each with what it shows instead.
pub fn not_online_remote(cib: &Cib, nodes: &[String]) -> Vec<String> {
    nodes
        .iter()
        .filter_map(|name| match cib.node(name) {
            None => Some(format!("{name}: not in the CIB")),
            Some(n) if n.kind != NodeKind::Remote => Some(format!("{name}: {:?} node", n.kind)),
            Some(n) if n.state != NodeState::Online => Some(format!("{name}: {:?}", n.state)),
            Some(_) => None,
        })
        .collect()
}

/// Wait until every compute node is online (read through the `cib` crate) and
/// the cluster has settled; tests start and end with this.
pub fn wait_healthy(lab: &Lab) {
    wait_for(
        &format!(
            "{} online (cibadmin --query via the cib crate)",
            lab.nodes.join(", ")
        ),
        Duration::from_secs(90),
        || {
            let cib = Cib::query().map_err(|e| e.to_string())?;
            let bad = not_online_remote(&cib, &lab.nodes);
            if bad.is_empty() {
                Ok(())
            } else {
                Err(bad.join("; "))
            }
        },
    );
    wait_for(
        "cluster settled (crm_resource --wait)",
        Duration::from_secs(90),
        settled,
    );
}

/// The nodes where a resource (or clone) is active (`crm_resource --locate`);
/// empty when it runs nowhere or the query fails.
pub fn resource_locations(resource: &str) -> Vec<String> {
    let out = run(
        "crm_resource",
        &["--locate", "--resource", resource, "--quiet"],
    );
    if !out.status.success() {
        return Vec::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}
