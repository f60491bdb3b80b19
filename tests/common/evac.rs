//! Helpers of the tests that watch the evacuator: its history, its node
//! attributes, its parameters and hold, and the exactly-once checks on Nova.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::nova::{
    MarkerGuard, Nova, ServersGuard, evacuate_marker, healthy_nova, nova_compute_running,
};
use crate::{Lab, resource_locations, run, run_ok, state_dir, wait_for};

/// The evacuator's primitive, as `up.sh --with-openstack` creates it.
pub const EVACUATOR: &str = "evacuator";

/// The evacuator's history in the lab (its `history_file`); a second
/// controller sees the same file (the lab binds /run/umha-lab into it).
pub fn history_file() -> PathBuf {
    state_dir().join("evacuations.jsonl")
}

pub fn history_len() -> usize {
    std::fs::read_to_string(history_file())
        .unwrap_or_default()
        .lines()
        .count()
}

/// History entries after the first `from` lines.
pub fn history_since(from: usize) -> Vec<serde_json::Value> {
    std::fs::read_to_string(history_file())
        .unwrap_or_default()
        .lines()
        .skip(from)
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// History entries of kind `kind` since line `from`, of `node` only when given.
pub fn events(from: usize, kind: &str, node: Option<&str>) -> Vec<serde_json::Value> {
    history_since(from)
        .into_iter()
        .filter(|e| e["event"] == kind)
        .filter(|e| node.is_none_or(|n| e["node"] == n))
        .collect()
}

/// How many evacuations the history shows accepted since line `from`.
pub fn evacuations_issued(from: usize) -> usize {
    events(from, "evacuate", None).len()
}

/// A persistent node attribute (`None` when unset or unreadable).
pub fn attr(node: &str, name: &str) -> Option<String> {
    cib::attr::query_persistent(
        node,
        name,
        umha_common::Deadline::after(Duration::from_secs(20)),
    )
    .unwrap_or(None)
}

/// The valve's hold (`umha-hold` in the `umha-valve` cluster property
/// set), if one is set.
pub fn hold() -> Option<String> {
    let out = run(
        "crm_attribute",
        &[
            "--type",
            "crm_config",
            "--set-name",
            "umha-valve",
            "--name",
            "umha-hold",
            "--query",
            "--quiet",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// Release the hold, as an operator does (fine when none is set).
pub fn release_hold() {
    let _ = cib::attr::delete_property(
        "umha-valve",
        "umha-hold",
        umha_common::Deadline::after(Duration::from_secs(20)),
    );
}

/// An evacuator parameter as the CIB has it (`None` when unset).
fn get_param(name: &str) -> Option<String> {
    let out = run(
        "crm_resource",
        &["--resource", EVACUATOR, "--get-parameter", name, "--quiet"],
    );
    let value = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !value.is_empty()).then_some(value)
}

/// `crm_resource` arguments that set an evacuator parameter.
fn set_param_args<'a>(name: &'a str, value: &'a str) -> [&'a str; 6] {
    [
        "--resource",
        EVACUATOR,
        "--set-parameter",
        name,
        "--parameter-value",
        value,
    ]
}

/// Forget the evacuator's failed actions, so the next test starts with a
/// clean fail count.
pub fn cleanup_evacuator() {
    run("crm_resource", &["--cleanup", "--resource", EVACUATOR]);
}

/// The evacuator's parameters a test changed, with what they were before.
/// Dropped (also on panic), it puts them back, releases any hold and cleans
/// up the evacuator: every test leaves the evacuator as it found it.
#[derive(Debug, Default)]
pub struct Params(Vec<(&'static str, Option<String>)>);

impl Params {
    /// Set each of `values`, remembering what it was.
    pub fn set(values: &[(&'static str, &str)]) -> Self {
        let mut params = Params::default();
        for (name, value) in values {
            params.add(name, value);
        }
        params
    }

    /// Set one more parameter, remembering what it was.
    pub fn add(&mut self, name: &'static str, value: &str) {
        self.0.push((name, get_param(name)));
        run_ok("crm_resource", &set_param_args(name, value));
    }

    /// Put the parameters back now (the most recent change first), before
    /// whatever else a test's own cleanup undoes.
    pub fn restore(&mut self) {
        while let Some((name, old)) = self.0.pop() {
            match old {
                Some(v) => run("crm_resource", &set_param_args(name, &v)),
                None => run(
                    "crm_resource",
                    &["--resource", EVACUATOR, "--delete-parameter", name],
                ),
            };
        }
    }
}

impl Drop for Params {
    fn drop(&mut self) {
        self.restore();
        release_hold();
        cleanup_evacuator();
    }
}

/// The cloud ready for an evacuator test: every node online, Nova healthy,
/// the evacuator on ctl1 and no hold left by an earlier test. `None` when
/// the lab runs without OpenStack.
pub fn start(lab: &Lab) -> Option<Nova> {
    let nova = healthy_nova(lab)?;
    // An earlier test may have killed it: Pacemaker restarts it.
    wait_for(
        "the evacuator running on ctl1",
        Duration::from_secs(60),
        || {
            let on = resource_locations(EVACUATOR);
            if on.iter().any(|n| n == "ctl1") {
                Ok(())
            } else {
                Err(format!("running on {on:?}"))
            }
        },
    );
    assert_eq!(hold(), None, "no hold left by an earlier test");
    Some(nova)
}

/// Instances booted on a node about to fail. Dropped, it deletes them (on a
/// failing test) and removes the node's marker.
#[derive(Debug)]
pub struct Incident {
    pub ids: Vec<String>,
    /// History lines before the failure.
    pub from: usize,
    _servers: ServersGuard,
    _marker: MarkerGuard,
}

impl Incident {
    /// Boot `n` instances named `prefix-*` on `node`.
    pub fn boot(nova: &Nova, node: &str, n: usize, prefix: &str) -> Self {
        let ids = nova.boot_servers(node, n, prefix);
        Incident {
            _servers: ServersGuard(ids.clone()),
            _marker: MarkerGuard(node.to_owned()),
            from: history_len(),
            ids,
        }
    }
}

/// Wait until `node`'s incident is closed (`umha-evac-state` done).
pub fn wait_closed(node: &str, timeout: Duration) {
    wait_for(
        &format!("{node}'s incident closed (umha-evac-state done)"),
        timeout,
        || match attr(node, "umha-evac-state") {
            Some(s) if s.starts_with("done ") => Ok(()),
            other => Err(format!(
                "state {other:?}, status {:?}",
                attr(node, "umha-evac-status")
            )),
        },
    );
}

/// The incident closes (within 150 s) and `node`'s nova-compute is back in
/// service: up, un-forced and enabled.
pub fn wait_recovered(nova: &Nova, node: &str) {
    wait_closed(node, Duration::from_secs(150));
    let svc = nova
        .compute_service(node)
        .unwrap_or_else(|e| panic!("{node}'s nova-compute service: {e}"));
    assert!(
        svc.is_up() && !svc.forced_down && !svc.is_disabled(),
        "{svc:?}"
    );
}

/// Wait until each of `ids` is ACTIVE on a host other than `source`,
/// checking all along that nova-compute never runs on `source` while its
/// marker is set. Returns how long it took.
pub fn wait_evacuated(nova: &Nova, ids: &[String], source: &str, timeout: Duration) -> Duration {
    let t0 = Instant::now();
    let mut gate_checks = 0;
    wait_for(
        &format!("{} servers ACTIVE off {source}", ids.len()),
        timeout,
        || {
            if evacuate_marker(source).is_some() {
                assert!(
                    !nova_compute_running(source),
                    "nova-compute runs on {source} while its evacuation marker is set"
                );
                gate_checks += 1;
            }
            let mut pending = Vec::new();
            for id in ids {
                let s = nova.server(id)?;
                if s.status != "ACTIVE"
                    || s.host.as_deref() == Some(source)
                    || s.task_state.is_some()
                {
                    pending.push(format!("{} {} {:?}", s.name, s.status, s.host));
                }
            }
            if pending.is_empty() {
                Ok(())
            } else {
                Err(format!("{} pending: {}", pending.len(), pending.join(", ")))
            }
        },
    );
    println!("gate checked {gate_checks} times while the marker was set");
    t0.elapsed()
}

/// Every instance has exactly one `evacuate` action.
pub fn assert_once_each(nova: &Nova, ids: &[String]) {
    let counts: BTreeMap<&str, usize> = ids
        .iter()
        .map(|id| (id.as_str(), nova.evacuations(id)))
        .collect();
    assert!(
        counts.values().all(|c| *c == 1),
        "evacuate actions per instance: {counts:?}"
    );
}
