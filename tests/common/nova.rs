//! Helpers for lab tests that need Nova: the lab brought up with
//! `tests/lab/up.sh --with-openstack`, where each compute node's nova-compute
//! is the clone `nova-compute-clone` running inside the node.
//!
//! Nova is reached with the workspace's own `openstack` crate (admin
//! credentials from the OpenStack lab's `clouds.yaml`), so these tests also
//! exercise the client the evacuator uses against a real Nova. The calls it
//! has no method for (boot, delete, instance actions, quotas) go through its
//! [`Session::call`], with the token and retries it manages.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openstack::session::{Call, Retry};
use openstack::{CloudConfig, Compute, ComputeOptions, Server, Service, Session, SessionOptions};
use reqwest::{Method, Url};
use serde_json::{Value, json};
use umha_common::Deadline;

use crate::{
    Lab, alive, now_epoch, read_pid, resource_locations, state_dir, wait_for, wait_healthy,
};

/// The OpenStack lab's default control-plane state dir.
pub const OS_STATE_DIR: &str = "/run/umha-openstack";
/// The cloud's name in its `clouds.yaml`.
pub const CLOUD: &str = "umha-lab";
/// The clone of the lab's nova-compute agent.
pub const NOVA_COMPUTE_CLONE: &str = "nova-compute-clone";
/// The location constraint that keeps nova-compute off a node awaiting evacuation.
pub const GATE_CONSTRAINT: &str = "nova-compute-gate";
/// The evacuation marker: a node attribute set while a node's evacuation is pending.
pub const EVACUATE_ATTR: &str = "umha-evacuate";
/// The lab's `service_down_time` (tests/lab/openstack/up.sh): Nova counts a
/// nova-compute down this long after its last heartbeat.
pub const SERVICE_DOWN_TIME: Duration = Duration::from_secs(20);
/// The lab's `report_interval`: one heartbeat every 5 s.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(5);

/// Longest single Nova request sequence (token included).
const CALL_BUDGET: Duration = Duration::from_secs(60);

/// The OpenStack lab's state dir: `UMHA_OS_STATE` if set (as its `lib.sh`
/// reads it), else [`OS_STATE_DIR`].
pub fn os_state_dir() -> PathBuf {
    std::env::var_os("UMHA_OS_STATE")
        .filter(|s| !s.is_empty())
        .map_or_else(|| PathBuf::from(OS_STATE_DIR), PathBuf::from)
}

/// The cloud's `clouds.yaml` (cloud [`CLOUD`], user admin).
pub fn clouds_yaml() -> PathBuf {
    os_state_dir().join("clouds.yaml")
}

/// A `KEY=value` of the running cloud's parameters (`$UMHA_OS_STATE/env`).
fn cloud_param(key: &str) -> Option<String> {
    let env = std::fs::read_to_string(os_state_dir().join("env")).ok()?;
    env.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix('='))
            .map(|v| v.trim().trim_matches('\'').to_owned())
    })
}

/// Where the compute hosts keep config, pid file and log (one dir per host).
pub fn hosts_dir() -> PathBuf {
    cloud_param("OS_HOSTS_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(
            || PathBuf::from("/var/lib/umha-lab/openstack/hosts"),
            PathBuf::from,
        )
}

/// Is the cloud's control plane up (its MariaDB alive)?
pub fn cloud_up() -> bool {
    read_pid(&os_state_dir().join("mariadb").join("mariadb.pid")).is_some_and(alive)
}

/// Was the lab started with the OpenStack lab joined (`up.sh --with-openstack`)?
pub fn lab_has_openstack() -> bool {
    state_dir().join("openstack").exists() && cloud_up()
}

/// Nova through the `openstack` crate, plus what the tests need beyond it.
#[derive(Debug)]
pub struct Nova {
    session: Arc<Session>,
    compute: Compute,
    /// The compute endpoint from the catalog, without a trailing slash.
    endpoint: String,
    /// The lab's 1 KiB raw image.
    image: String,
}

/// The cloud joined to the lab, or `None` (with a SKIPPED line) when the lab
/// runs without it. With `UMHA_LAB_OPENSTACK=1` in the environment (as
/// `tests/run-all.sh` sets it), a lab without it is a failure instead.
pub fn nova_lab(lab: &Lab) -> Option<Nova> {
    if !lab_has_openstack() {
        let required = std::env::var("UMHA_LAB_OPENSTACK").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "UMHA_LAB_OPENSTACK=1 but the lab runs without the OpenStack lab: start it with `sudo tests/lab/up.sh --with-openstack`"
        );
        println!(
            "SKIPPED: the lab runs without OpenStack (start it with `sudo tests/lab/up.sh --with-openstack`)"
        );
        return None;
    }
    assert_eq!(
        lab.nodes.len(),
        cloud_param("OS_COMPUTES")
            .map(|c| c.split_whitespace().count())
            .unwrap_or(0),
        "the cloud's compute hosts are not the lab's nodes"
    );
    Some(Nova::connect())
}

impl Nova {
    /// Connect as the lab's admin (`clouds.yaml`, cloud `umha-lab`).
    pub fn connect() -> Self {
        Self::try_connect().unwrap_or_else(|e| panic!("{e}"))
    }

    /// As [`Nova::connect`], without panicking (for cleanup paths).
    pub fn try_connect() -> Result<Self, String> {
        let path = clouds_yaml();
        let cloud = CloudConfig::from_clouds_yaml(CLOUD, Some(&path))
            .map_err(|e| format!("cloud {CLOUD} from {}: {e}", path.display()))?;
        let session = Arc::new(
            Session::new(cloud, SessionOptions::default())
                .map_err(|e| format!("session for {CLOUD}: {e}"))?,
        );
        let compute = Compute::connect(
            Arc::clone(&session),
            ComputeOptions::default(),
            Deadline::after(CALL_BUDGET),
        )
        .map_err(|e| format!("connect to Nova: {e}"))?;
        let endpoint = compute.endpoint().trim_end_matches('/').to_owned();
        let image_file = os_state_dir().join("image-id");
        let image = std::fs::read_to_string(&image_file)
            .map(|s| s.trim().to_owned())
            .map_err(|e| format!("the lab's image id ({}): {e}", image_file.display()))?;
        Ok(Self {
            session,
            compute,
            endpoint,
            image,
        })
    }

    /// The `openstack` crate's Nova client.
    pub fn compute(&self) -> &Compute {
        &self.compute
    }

    /// One Nova request at `microversion`; `Ok((status, body))` for any
    /// answer, JSON body or `Null`.
    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        microversion: &str,
        what: &str,
    ) -> Result<(u16, Value), String> {
        let url = Url::parse(&format!("{}{path}", self.endpoint))
            .map_err(|e| format!("{what}: bad URL {}{path}: {e}", self.endpoint))?;
        // Repeat only what is harmless to repeat: a boot is sent once.
        let retry = if method == Method::POST {
            Retry::ConnectOnly
        } else {
            Retry::Idempotent
        };
        let headers = [
            ("OpenStack-API-Version", format!("compute {microversion}")),
            ("X-OpenStack-Nova-API-Version", microversion.to_owned()),
        ];
        let call = Call {
            method,
            url,
            body,
            headers: &headers,
            retry,
            what,
        };
        let answer = self
            .session
            .call(&call, Deadline::after(CALL_BUDGET))
            .map_err(|e| format!("{what}: {e}"))?;
        let value = if answer.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&answer.body).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&answer.body).into_owned())
            })
        };
        Ok((answer.status, value))
    }

    /// A request that must succeed (2xx); panics with Nova's answer otherwise.
    fn request_ok(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        microversion: &str,
        what: &str,
    ) -> Value {
        match self.request(method, path, body, microversion, what) {
            Ok((status, value)) if (200..300).contains(&status) => value,
            Ok((status, value)) => panic!("{what}: HTTP {status}: {value}"),
            Err(e) => panic!("{e}"),
        }
    }

    /// Lift the default quotas (instances, cores, RAM: unlimited), as
    /// `tests/lab/openstack/up.sh` does; idempotent. For tests that boot many.
    pub fn lift_quotas(&self) {
        let body = json!({"quota_class_set": {
            "instances": -1, "cores": -1, "ram": -1,
            "server_groups": -1, "server_group_members": -1}});
        self.request_ok(
            Method::PUT,
            "/os-quota-class-sets/default",
            Some(&body),
            "2.1",
            "lift the default quotas",
        );
    }

    /// Boot `n` servers named `<prefix>-<i>` on `host` (availability zone
    /// `nova:<host>`, no network), wait until all are ACTIVE there (bounded),
    /// and return their ids. A server in ERROR fails the test with its fault.
    pub fn boot_servers(&self, host: &str, n: usize, prefix: &str) -> Vec<String> {
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let body = json!({"server": {
                "name": format!("{prefix}-{i}"),
                "imageRef": self.image,
                "flavorRef": "1",
                // "none" needs 2.37; Nova still reads ports from Neutron.
                "networks": "none",
                "availability_zone": format!("nova:{host}"),
            }});
            let what = format!("boot {prefix}-{i} on {host}");
            let answer = self.request_ok(Method::POST, "/servers", Some(&body), "2.37", &what);
            let id = answer["server"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{what}: no server id in {answer}"))
                .to_owned();
            ids.push(id);
        }
        let timeout = Duration::from_secs(60 + 10 * u64::try_from(n).unwrap_or(u64::MAX / 20));
        wait_for(
            &format!("{n} servers {prefix}-* ACTIVE on {host}"),
            timeout,
            || {
                let mut pending = Vec::new();
                for id in &ids {
                    let s = self.server(id)?;
                    if s.is_error() {
                        panic!("server {} ({id}) went to ERROR: {}", s.name, self.fault(id));
                    }
                    if s.status != "ACTIVE" || s.host.as_deref() != Some(host) {
                        pending.push(format!(
                            "{} {} on {}",
                            s.name,
                            s.status,
                            s.host.as_deref().unwrap_or("-")
                        ));
                    }
                }
                if pending.is_empty() {
                    Ok(())
                } else {
                    Err(pending.join(", "))
                }
            },
        );
        ids
    }

    /// One server (`GET /servers/{id}` through the crate).
    pub fn server(&self, id: &str) -> Result<Server, String> {
        self.compute
            .server(id, Deadline::after(CALL_BUDGET))
            .map_err(|e| e.to_string())
    }

    /// The `fault` of a server in ERROR, for messages.
    fn fault(&self, id: &str) -> String {
        self.request(
            Method::GET,
            &format!("/servers/{id}"),
            None,
            "2.1",
            "show fault",
        )
        .map(|(_, v)| v["server"]["fault"].to_string())
        .unwrap_or_else(|e| e)
    }

    /// Every server on `host`, all projects (the crate's paged listing).
    pub fn servers_on_host(&self, host: &str) -> Vec<Server> {
        self.compute
            .servers_on_host(host, Deadline::after(CALL_BUDGET))
            .unwrap_or_else(|e| panic!("servers on {host}: {e}"))
    }

    /// The names of a server's instance actions, oldest first
    /// (`GET /servers/{id}/os-instance-actions`): `create`, `evacuate`, ...
    pub fn instance_actions(&self, id: &str) -> Vec<String> {
        let what = format!("instance actions of {id}");
        let answer = self.request_ok(
            Method::GET,
            &format!("/servers/{id}/os-instance-actions"),
            None,
            "2.1",
            &what,
        );
        let mut actions: Vec<(String, String)> = answer["instanceActions"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no instanceActions in {answer}"))
            .iter()
            .map(|a| {
                (
                    a["start_time"].as_str().unwrap_or_default().to_owned(),
                    a["action"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        actions.sort();
        actions.into_iter().map(|(_, name)| name).collect()
    }

    /// How many times a server was evacuated (its `evacuate` instance actions).
    pub fn evacuations(&self, id: &str) -> usize {
        self.instance_actions(id)
            .iter()
            .filter(|a| *a == "evacuate")
            .count()
    }

    /// Delete servers and wait (bounded) until Nova no longer knows them; an
    /// id already gone is fine. Panics with what is left on timeout.
    pub fn delete_servers(&self, ids: &[String]) {
        let start = Instant::now();
        if let Err(e) = self.try_delete_servers(ids) {
            panic!("{e}");
        }
        if !ids.is_empty() {
            println!(
                "  ... {} servers deleted in {:.1}s",
                ids.len(),
                start.elapsed().as_secs_f64()
            );
        }
    }

    /// As [`Nova::delete_servers`], without panicking (for cleanup paths).
    pub fn try_delete_servers(&self, ids: &[String]) -> Result<(), String> {
        for id in ids {
            let what = format!("delete server {id}");
            match self.request(
                Method::DELETE,
                &format!("/servers/{id}"),
                None,
                "2.1",
                &what,
            )? {
                (status, _) if status == 404 || (200..300).contains(&status) => {}
                (status, value) => return Err(format!("{what}: HTTP {status}: {value}")),
            }
        }
        let timeout =
            Duration::from_secs(60 + 5 * u64::try_from(ids.len()).unwrap_or(u64::MAX / 10));
        let deadline = Deadline::after(timeout);
        loop {
            let mut left = Vec::new();
            for id in ids {
                match self.compute.server(id, Deadline::after(CALL_BUDGET)) {
                    Err(e) if e.status() == Some(404) => {}
                    Err(e) => left.push(format!("{id}: {e}")),
                    Ok(s) => left.push(format!("{} {}", s.name, s.status)),
                }
            }
            if left.is_empty() {
                return Ok(());
            }
            if !deadline.sleep(Duration::from_millis(500)) {
                return Err(format!(
                    "servers not deleted after {}s: {}",
                    timeout.as_secs(),
                    left.join(", ")
                ));
            }
        }
    }

    /// The nova-compute service of `host`.
    pub fn compute_service(&self, host: &str) -> Result<Service, String> {
        self.compute
            .compute_service(host, Deadline::after(CALL_BUDGET))
            .map_err(|e| format!("nova-compute service of {host}: {e}"))
    }

    /// Wait (bounded) until `host`'s nova-compute service satisfies `pred`;
    /// returns it and how long that took.
    pub fn wait_service(
        &self,
        host: &str,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Service) -> bool,
    ) -> (Service, Duration) {
        let start = Instant::now();
        let service = wait_for(
            &format!("Nova: nova-compute of {host} {what}"),
            timeout,
            || {
                let s = self.compute_service(host)?;
                if pred(&s) {
                    Ok(s)
                } else {
                    Err(describe_service(&s))
                }
            },
        );
        (service, start.elapsed())
    }
}

/// A service in one line, for messages.
pub fn describe_service(s: &Service) -> String {
    format!(
        "{} state={:?} status={:?} forced_down={} updated_at={}",
        s.host,
        s.state,
        s.status,
        s.forced_down,
        s.updated_at.as_deref().unwrap_or("-")
    )
}

/// The service's last heartbeat (`updated_at`, UTC, e.g.
/// `2026-11-22T06:25:04.000000`) in seconds since the epoch. "Up" alone can
/// be a dead process's last heartbeat, still within `service_down_time`.
pub fn heartbeat_epoch(s: &Service) -> Option<i64> {
    let text = s.updated_at.as_deref()?;
    let (date, time) = text.split_once(['T', ' '])?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.splitn(3, ':');
    let h: i64 = t.next()?.parse().ok()?;
    let min: i64 = t.next()?.parse().ok()?;
    let sec: i64 = t.next()?.split(['.', 'Z', '+']).next()?.parse().ok()?;
    // Days from the civil date (proleptic Gregorian), Howard Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + min * 60 + sec)
}

/// Up, enabled and not forced down: a compute host the scheduler may use.
pub fn service_healthy(s: &Service) -> bool {
    s.is_up() && !s.is_disabled() && !s.forced_down
}

// ---- the evacuation marker ------------------------------------------------------

/// Budget of one attribute write or read.
const ATTR_BUDGET: Duration = Duration::from_secs(30);

/// Set `umha-evacuate=<epoch>` on `node`, as fence_ipmi's `evacuate=1` does
/// (a persistent attribute: `crm_attribute --lifetime forever`, through the
/// `cib` crate).
pub fn set_evacuate_marker(node: &str) {
    cib::attr::set_persistent(
        node,
        EVACUATE_ATTR,
        &now_epoch().to_string(),
        Deadline::after(ATTR_BUDGET),
    )
    .unwrap_or_else(|e| panic!("set {EVACUATE_ATTR} on {node}: {e}"));
}

/// Remove `umha-evacuate` from `node` (fine when it is not set).
pub fn clear_evacuate_marker(node: &str) {
    cib::attr::delete_persistent(node, EVACUATE_ATTR, Deadline::after(ATTR_BUDGET))
        .unwrap_or_else(|e| panic!("delete {EVACUATE_ATTR} on {node}: {e}"));
}

/// The value of `umha-evacuate` on `node`, if set.
pub fn evacuate_marker(node: &str) -> Option<String> {
    cib::attr::query_persistent(node, EVACUATE_ATTR, Deadline::after(ATTR_BUDGET))
        .unwrap_or_else(|e| panic!("query {EVACUATE_ATTR} on {node}: {e}"))
}

/// Removes the evacuation marker from a node when dropped, so a failing test
/// leaves no node gated.
#[derive(Debug)]
pub struct MarkerGuard(pub String);

impl Drop for MarkerGuard {
    fn drop(&mut self) {
        if let Err(e) =
            cib::attr::delete_persistent(&self.0, EVACUATE_ATTR, Deadline::after(ATTR_BUDGET))
        {
            println!(
                "cleanup: could not delete {EVACUATE_ATTR} on {}: {e}",
                self.0
            );
        }
    }
}

/// Deletes its servers when dropped (best effort; a test deletes them
/// itself, with a bounded wait, on its success path).
#[derive(Debug, Default)]
pub struct ServersGuard(pub Vec<String>);

impl Drop for ServersGuard {
    fn drop(&mut self) {
        if self.0.is_empty() || !std::thread::panicking() {
            return;
        }
        // Only on a failing test: a fresh session, nothing that panics.
        match Nova::try_connect().and_then(|nova| nova.try_delete_servers(&self.0)) {
            Ok(()) => println!("cleanup: deleted {} servers", self.0.len()),
            Err(e) => println!("cleanup: could not delete servers {:?}: {e}", self.0),
        }
    }
}

// ---- the nova-compute process ------------------------------------------------------

/// `/proc/<pid>/stat` field 22 (start time), for the pid files' second line.
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(") ")?.1;
    after.split_whitespace().nth(19).map(str::to_owned)
}

fn netns(pid: u32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()
}

/// The pid of `node`'s nova-compute if it runs (pid file of compute.sh, same
/// start time, not a zombie) **inside** the node's network namespace.
pub fn nova_compute_pid(node: &str) -> Option<u32> {
    let file = hosts_dir().join(node).join("nova-compute.pid");
    let text = std::fs::read_to_string(&file).ok()?;
    let mut lines = text.lines();
    let pid: u32 = lines.next()?.trim().parse().ok()?;
    let recorded = lines.next().map(str::trim).unwrap_or_default();
    if !alive(pid) || (!recorded.is_empty() && start_time(pid).as_deref() != Some(recorded)) {
        return None;
    }
    let init =
        read_pid(&state_dir().join("nodes").join(node).join("init.pid")).filter(|p| alive(*p))?;
    (netns(pid)? == netns(init)?).then_some(pid)
}

/// Is `node`'s nova-compute running inside the node?
pub fn nova_compute_running(node: &str) -> bool {
    nova_compute_pid(node).is_some()
}

/// The nodes where Pacemaker runs `nova-compute-clone`, sorted.
pub fn nova_compute_nodes() -> Vec<String> {
    let mut nodes = resource_locations(NOVA_COMPUTE_CLONE);
    nodes.sort();
    nodes.dedup();
    nodes
}

/// Every compute node runs nova-compute (Pacemaker's view and the process in
/// the node) and Nova reports each one up, enabled, not forced down: the
/// state the Nova tests start and end in.
pub fn wait_nova_healthy(lab: &Lab, nova: &Nova) {
    wait_for(
        &format!("{NOVA_COMPUTE_CLONE} running on {}", lab.nodes.join(", ")),
        Duration::from_secs(90),
        || {
            let on = nova_compute_nodes();
            let missing: Vec<&String> = lab
                .nodes
                .iter()
                .filter(|n| !on.contains(n) || !nova_compute_running(n))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("not running on {missing:?} (Pacemaker: {on:?})"))
            }
        },
    );
    for node in &lab.nodes {
        nova.wait_service(
            node,
            "up and enabled",
            Duration::from_secs(90),
            service_healthy,
        );
    }
}

/// Every node online and the cloud healthy, as the tests that crash nodes
/// start: `None` (skipped) when the lab runs without OpenStack.
pub fn healthy_nova(lab: &Lab) -> Option<Nova> {
    wait_healthy(lab);
    let nova = nova_lab(lab)?;
    wait_nova_healthy(lab, &nova);
    Some(nova)
}

/// Path of `node`'s nova-compute log (compute.sh appends to it).
pub fn nova_compute_log(node: &str) -> PathBuf {
    hosts_dir().join(node).join("nova-compute.log")
}
