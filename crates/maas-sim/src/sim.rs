//! The simulated MAAS: machines, their power, the API that reaches them,
//! and the faults a test or the lab asks for.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use umha_common::exec::Command;

use crate::http::{Handler, Reply, Request, Response, Server, percent_decode, sleep_unless};

/// The path prefix of the MAAS 2.0 API, as a region controller serves it.
pub const API_PREFIX: &str = "/MAAS/api/2.0/";
/// The control interface's prefix (this host only, no key).
pub const CONTROL_PREFIX: &str = "/_sim/";
/// How long a `--power-cmd` run may take.
const POWER_CMD_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the simulator cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("the API key must be consumer_key:token_key:token_secret")]
    BadKey,
    #[error("machine {0}: {1}")]
    BadMachine(String, &'static str),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// One machine MAAS manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineSpec {
    pub hostname: String,
    pub system_id: String,
}

impl MachineSpec {
    pub fn new(hostname: impl Into<String>, system_id: impl Into<String>) -> Self {
        Self {
            hostname: hostname.into(),
            system_id: system_id.into(),
        }
    }
}

/// How the simulator starts.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// 127.0.0.1:0 for tests.
    pub listen: SocketAddr,
    /// `consumer_key:token_key:token_secret`.
    pub api_key: String,
    pub machines: Vec<MachineSpec>,
    /// The DNS domain of every machine (its FQDN is `hostname.domain`).
    pub domain: String,
    /// Between an accepted power request and the power change.
    pub power_delay: Duration,
    /// How long `query_power_state` takes (MAAS asks the BMC).
    pub query_latency: Duration,
    /// Run `PROGRAM <hostname> on|off|status` instead of keeping the power in memory.
    pub power_cmd: Option<PathBuf>,
}

impl SimConfig {
    /// A config for tests: 127.0.0.1, an ephemeral port, domain `maas`,
    /// power changes after 300 ms, instant queries.
    pub fn new(api_key: impl Into<String>, machines: Vec<MachineSpec>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_key: api_key.into(),
            machines,
            domain: "maas".into(),
            power_delay: Duration::from_millis(300),
            query_latency: Duration::ZERO,
            power_cmd: None,
        }
    }
}

/// A state that MAAS reports instead of asking the BMC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forced {
    Unknown,
    Error,
}

impl Forced {
    fn word(self) -> &'static str {
        match self {
            Forced::Unknown => "unknown",
            Forced::Error => "error",
        }
    }
}

/// Hostile answers, served instead of the real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Garbage {
    /// Not JSON at all.
    NotJson,
    /// JSON of the wrong shape (`{"state": 7}`, an object for a list).
    WrongShape,
    /// Nesting deep enough to overflow a naive recursive parser.
    Deep,
    /// 80 MiB of a never-ending JSON string.
    Huge,
    /// Every kind in turn.
    Cycle,
}

impl Garbage {
    pub fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "not-json" => Garbage::NotJson,
            "wrong-shape" => Garbage::WrongShape,
            "deep" => Garbage::Deep,
            "huge" => Garbage::Huge,
            "cycle" => Garbage::Cycle,
            _ => return None,
        })
    }
}

/// What a fault does to the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Status(u16),
    Hang(Duration),
    Garbage(Garbage),
}

/// Request counts, for tests to assert retries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub requests: u64,
    pub unauthorized: u64,
    pub faults: u64,
    pub power_off: u64,
    pub power_on: u64,
    pub queries: u64,
}

#[derive(Debug)]
struct Machine {
    spec: MachineSpec,
    /// The power as the BMC has it (memory mode), or as last seen (power-cmd).
    on: bool,
    forced: Option<Forced>,
    /// Bumped by every power request, so a later one supersedes a pending one.
    generation: u64,
    stop_modes: Vec<String>,
}

#[derive(Debug)]
struct State {
    machines: Vec<Machine>,
    faults: VecDeque<Fault>,
    garbage_turn: usize,
    counters: Counters,
    power_delay: Duration,
    query_latency: Duration,
}

#[derive(Debug)]
struct Inner {
    key: (String, String, String),
    domain: String,
    power_cmd: Option<PathBuf>,
    state: Mutex<State>,
    stop: Arc<AtomicBool>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running simulator; stops when dropped.
#[derive(Debug)]
pub struct Simulator {
    inner: Arc<Inner>,
    server: Server,
}

impl Simulator {
    pub fn start(config: SimConfig) -> Result<Self, SimError> {
        let mut parts = config.api_key.trim().split(':');
        let key = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), Some(c), None)
                if !a.is_empty() && !b.is_empty() && !c.is_empty() =>
            {
                (a.to_owned(), b.to_owned(), c.to_owned())
            }
            _ => return Err(SimError::BadKey),
        };
        let mut machines: Vec<Machine> = Vec::new();
        for spec in config.machines {
            let valid = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            };
            if !valid(&spec.hostname) || !valid(&spec.system_id) {
                return Err(SimError::BadMachine(
                    spec.hostname,
                    "hostname and system_id must be letters, digits, '-' or '_'",
                ));
            }
            if machines
                .iter()
                .any(|m| m.spec.hostname == spec.hostname || m.spec.system_id == spec.system_id)
            {
                return Err(SimError::BadMachine(spec.hostname, "defined twice"));
            }
            machines.push(Machine {
                spec,
                on: true,
                forced: None,
                generation: 0,
                stop_modes: Vec::new(),
            });
        }
        let stop = Arc::new(AtomicBool::new(false));
        let inner = Arc::new(Inner {
            key,
            domain: config.domain,
            power_cmd: config.power_cmd,
            state: Mutex::new(State {
                machines,
                faults: VecDeque::new(),
                garbage_turn: 0,
                counters: Counters::default(),
                power_delay: config.power_delay,
                query_latency: config.query_latency,
            }),
            stop: Arc::clone(&stop),
        });
        let handler: Arc<dyn Handler> = Arc::new(Api(Arc::clone(&inner)));
        let server =
            Server::start(config.listen, handler, stop).map_err(|source| SimError::Listen {
                addr: config.listen,
                source,
            })?;
        Ok(Self { inner, server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The `url` to give fence_maas: `http://ADDR/MAAS`.
    pub fn url(&self) -> String {
        format!("http://{}/MAAS", self.addr())
    }

    /// Block until the simulator stops (the binary).
    pub fn wait(&mut self) {
        self.server.wait();
    }

    /// The next `count` API requests answer `status`.
    pub fn fail_next(&self, count: usize, status: u16) {
        self.push_faults(count, Fault::Status(status));
    }

    /// The next `count` API requests get no answer for `silence`, then a close.
    pub fn hang_next(&self, count: usize, silence: Duration) {
        self.push_faults(count, Fault::Hang(silence));
    }

    /// The next `count` API requests get `kind` of garbage with a 200.
    pub fn garbage_next(&self, count: usize, kind: Garbage) {
        self.push_faults(count, Fault::Garbage(kind));
    }

    fn push_faults(&self, count: usize, fault: Fault) {
        let mut state = lock(&self.inner.state);
        state.faults.extend(std::iter::repeat_n(fault, count));
    }

    /// Drop queued faults.
    pub fn clear_faults(&self) {
        lock(&self.inner.state).faults.clear();
    }

    /// Make `query_power_state` report `forced` for `hostname` (None: the BMC again).
    pub fn force_state(&self, hostname: &str, forced: Option<Forced>) -> bool {
        self.inner.with_machine(hostname, |m| m.forced = forced)
    }

    /// Set the power at once (memory mode).
    pub fn set_power(&self, hostname: &str, on: bool) -> bool {
        self.inner.with_machine(hostname, |m| {
            m.on = on;
            m.generation += 1;
        })
    }

    /// The power as the simulated BMC has it (memory mode).
    pub fn power(&self, hostname: &str) -> Option<bool> {
        let state = lock(&self.inner.state);
        state.find(hostname).map(|m| m.on)
    }

    /// Every stop_mode a power_off for `hostname` came with.
    pub fn stop_modes(&self, hostname: &str) -> Vec<String> {
        let state = lock(&self.inner.state);
        state
            .find(hostname)
            .map(|m| m.stop_modes.clone())
            .unwrap_or_default()
    }

    pub fn set_power_delay(&self, delay: Duration) {
        lock(&self.inner.state).power_delay = delay;
    }

    pub fn set_query_latency(&self, latency: Duration) {
        lock(&self.inner.state).query_latency = latency;
    }

    pub fn counters(&self) -> Counters {
        lock(&self.inner.state).counters
    }

    /// The control interface's view, as `GET /_sim/state` prints it.
    pub fn snapshot(&self) -> Value {
        self.inner.snapshot()
    }
}

impl State {
    fn find(&self, name: &str) -> Option<&Machine> {
        self.machines
            .iter()
            .find(|m| m.spec.hostname == name || m.spec.system_id == name)
    }

    fn find_mut(&mut self, name: &str) -> Option<&mut Machine> {
        self.machines
            .iter_mut()
            .find(|m| m.spec.hostname == name || m.spec.system_id == name)
    }
}

impl Inner {
    fn with_machine(&self, name: &str, f: impl FnOnce(&mut Machine)) -> bool {
        let mut state = lock(&self.state);
        match state.find_mut(name) {
            Some(m) => {
                f(m);
                true
            }
            None => false,
        }
    }

    fn machine_json(&self, m: &Machine) -> Value {
        json!({
            "system_id": m.spec.system_id,
            "hostname": m.spec.hostname,
            "fqdn": format!("{}.{}", m.spec.hostname, self.domain),
            "domain": {"name": self.domain},
            "power_state": if m.on { "on" } else { "off" },
            "power_type": "ipmi",
            "status_name": "Deployed",
            "resource_uri": format!("{API_PREFIX}machines/{}/", m.spec.system_id),
        })
    }

    fn snapshot(&self) -> Value {
        let state = lock(&self.state);
        let machines: Vec<Value> = state
            .machines
            .iter()
            .map(|m| {
                json!({
                    "hostname": m.spec.hostname,
                    "system_id": m.spec.system_id,
                    "power": if m.on { "on" } else { "off" },
                    "forced": m.forced.map(Forced::word),
                    "stop_modes": m.stop_modes,
                })
            })
            .collect();
        let c = state.counters;
        json!({
            "machines": machines,
            "queued_faults": state.faults.len(),
            "power_delay": state.power_delay.as_secs_f64(),
            "query_latency": state.query_latency.as_secs_f64(),
            "counters": {
                "requests": c.requests, "unauthorized": c.unauthorized, "faults": c.faults,
                "power_off": c.power_off, "power_on": c.power_on, "queries": c.queries,
            },
        })
    }

    /// OAuth 1.0 PLAINTEXT: the consumer key, the token and `&<token_secret>`
    /// after one round of percent-decoding (clients send `%26…` or `&…`).
    fn authorized(&self, request: &Request) -> bool {
        let Some(header) = request.header("Authorization") else {
            return false;
        };
        let Some(fields) = header.trim().strip_prefix("OAuth ") else {
            return false;
        };
        let get = |name: &str| -> Option<String> {
            fields.split(',').find_map(|f| {
                let (k, v) = f.trim().split_once('=')?;
                (k.trim() == name).then(|| percent_decode(v.trim().trim_matches('"')))
            })
        };
        let (ck, tk, ts) = &self.key;
        get("oauth_signature_method").as_deref() == Some("PLAINTEXT")
            && get("oauth_consumer_key").as_deref() == Some(ck.as_str())
            && get("oauth_token").as_deref() == Some(tk.as_str())
            && get("oauth_signature").is_some_and(|s| s == format!("&{ts}"))
            && get("oauth_nonce").is_some_and(|n| !n.is_empty())
            && get("oauth_timestamp").is_some_and(|t| t.parse::<u64>().is_ok())
    }

    fn api(self: &Arc<Self>, request: &Request) -> Reply {
        let fault = {
            let mut state = lock(&self.state);
            state.counters.requests += 1;
            let fault = state.faults.pop_front();
            if fault.is_some() {
                state.counters.faults += 1;
            }
            fault
        };
        match fault {
            Some(Fault::Status(status)) => {
                return Reply::Answer(Response::text(
                    status,
                    &format!("{status} simulated failure\n"),
                ));
            }
            Some(Fault::Hang(d)) => return Reply::Silence(d),
            Some(Fault::Garbage(kind)) => return Reply::Answer(self.garbage(kind)),
            None => {}
        }
        if !self.authorized(request) {
            lock(&self.state).counters.unauthorized += 1;
            return Reply::Answer(Response::text(
                401,
                "Authorization Error: 'Invalid API key'",
            ));
        }
        let segments = request.segments();
        let rest: Vec<&str> = segments.iter().skip(3).map(String::as_str).collect();
        // `op` as MAAS takes it (query or form), or the docs' `op-NAME` segment.
        let (rest, op) = match rest.as_slice() {
            [head @ .., last] if last.starts_with("op-") => (
                head.to_vec(),
                Some(last.trim_start_matches("op-").to_owned()),
            ),
            _ => (rest, request.param("op").map(str::to_owned)),
        };
        let method = request.method();
        Reply::Answer(match (method, rest.as_slice(), op.as_deref()) {
            ("GET", ["machines"], None) => self.list(request),
            ("GET", ["machines", id], None) => self.read(id),
            ("GET", ["machines", id], Some("query_power_state")) => return self.query(id),
            ("POST", ["machines", id], Some(op @ ("power_off" | "power_on"))) => {
                self.power(id, op == "power_on", request.param("stop_mode"))
            }
            ("GET", ["users"], Some("whoami")) | ("GET", ["users", "whoami"], None) => {
                Response::json(200, &json!({"username": "umha", "is_superuser": true}))
            }
            (_, ["machines" | "users", ..], _) => Response::text(400, "Unrecognised signature\n"),
            _ => Response::text(404, "Not Found\n"),
        })
    }

    fn list(&self, request: &Request) -> Response {
        let wanted: Vec<&str> = request.params("hostname").collect();
        let state = lock(&self.state);
        let list: Vec<Value> = state
            .machines
            .iter()
            .filter(|m| wanted.is_empty() || wanted.contains(&m.spec.hostname.as_str()))
            .map(|m| self.machine_json(m))
            .collect();
        Response::json(200, &Value::Array(list))
    }

    fn read(&self, id: &str) -> Response {
        let state = lock(&self.state);
        match state.machines.iter().find(|m| m.spec.system_id == id) {
            Some(m) => Response::json(200, &self.machine_json(m)),
            None => Response::text(404, "Not Found\n"),
        }
    }

    fn query(self: &Arc<Self>, id: &str) -> Reply {
        let (latency, known) = {
            let mut state = lock(&self.state);
            state.counters.queries += 1;
            let latency = state.query_latency;
            let known = state
                .machines
                .iter()
                .find(|m| m.spec.system_id == id)
                .map(|m| (m.spec.hostname.clone(), m.forced, m.on));
            (latency, known)
        };
        let Some((hostname, forced, on)) = known else {
            return Reply::Answer(Response::text(404, "Not Found\n"));
        };
        if !sleep_unless(&self.stop, latency) {
            return Reply::Silence(Duration::ZERO);
        }
        let word = match (forced, &self.power_cmd) {
            (Some(f), _) => f.word(),
            (None, Some(cmd)) => {
                let word = run_power_cmd(cmd, &hostname, "status");
                if let Some(on) = match word {
                    "on" => Some(true),
                    "off" => Some(false),
                    _ => None,
                } {
                    self.with_machine(&hostname, |m| m.on = on);
                }
                word
            }
            (None, None) => {
                if on {
                    "on"
                } else {
                    "off"
                }
            }
        };
        Reply::Answer(Response::json(200, &json!({"state": word})))
    }

    fn power(self: &Arc<Self>, id: &str, on: bool, stop_mode: Option<&str>) -> Response {
        let mut state = lock(&self.state);
        if on {
            state.counters.power_on += 1;
        } else {
            state.counters.power_off += 1;
        }
        let delay = state.power_delay;
        let Some(machine) = state.machines.iter_mut().find(|m| m.spec.system_id == id) else {
            return Response::text(404, "Not Found\n");
        };
        if !on {
            machine
                .stop_modes
                .push(stop_mode.unwrap_or("hard").to_owned());
        }
        machine.generation += 1;
        let generation = machine.generation;
        let hostname = machine.spec.hostname.clone();
        let answer = self.machine_json(machine);
        drop(state);
        let inner = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("maas-sim-power".into())
            .spawn(move || inner.apply_power(&hostname, on, generation, delay));
        if spawned.is_err() {
            return Response::text(500, "cannot schedule the power change\n");
        }
        Response::json(200, &answer)
    }

    /// The asynchronous half of a power request: after the delay, unless a
    /// later request superseded it.
    fn apply_power(&self, hostname: &str, on: bool, generation: u64, delay: Duration) {
        if !sleep_unless(&self.stop, delay) {
            return;
        }
        let current = {
            let state = lock(&self.state);
            state.find(hostname).map(|m| m.generation)
        };
        if current != Some(generation) {
            return;
        }
        if let Some(cmd) = &self.power_cmd {
            let word = run_power_cmd(cmd, hostname, if on { "on" } else { "off" });
            if word == "error" {
                log::warn!(
                    "power {} of {hostname} through {} failed",
                    if on { "on" } else { "off" },
                    cmd.display()
                );
                return;
            }
        }
        self.with_machine(hostname, |m| {
            if m.generation == generation {
                m.on = on;
            }
        });
        log::info!("{hostname}: power {}", if on { "on" } else { "off" });
    }

    fn garbage(&self, kind: Garbage) -> Response {
        let kind = if kind == Garbage::Cycle {
            let mut state = lock(&self.state);
            state.garbage_turn += 1;
            [
                Garbage::NotJson,
                Garbage::WrongShape,
                Garbage::Deep,
                Garbage::Huge,
            ][state.garbage_turn % 4]
        } else {
            kind
        };
        match kind {
            Garbage::NotJson => Response::raw(
                200,
                "application/json",
                b"<html><body>\x00\xff proxy error</body>".to_vec(),
            ),
            Garbage::WrongShape => Response::raw(
                200,
                "application/json",
                br#"{"state": 7, "machines": {"hostname": []}}"#.to_vec(),
            ),
            Garbage::Deep => {
                let depth = 200_000;
                let mut body = vec![b'['; depth];
                body.extend(std::iter::repeat_n(b']', depth));
                Response::raw(200, "application/json", body)
            }
            Garbage::Huge | Garbage::Cycle => {
                let mut body = br#"{"state": ""#.to_vec();
                body.resize(80 << 20, b'x');
                Response::raw(200, "application/json", body)
            }
        }
    }

    fn control(&self, request: &Request) -> Response {
        if !request.from_this_host() {
            return Response::text(403, "the control interface answers this host only\n");
        }
        let count = || {
            request
                .param("count")
                .and_then(|c| c.parse::<usize>().ok())
                .unwrap_or(1)
                .min(10_000)
        };
        let seconds = |name: &str| {
            request
                .param(name)
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|s| s.is_finite() && (0.0..=3600.0).contains(s))
                .map(Duration::from_secs_f64)
        };
        let segments = request.segments();
        let what = segments.get(1).map(String::as_str).unwrap_or("");
        let machine = request.param("machine").unwrap_or("");
        let ok = || Response::text(200, "ok\n");
        let mut state = lock(&self.state);
        match (request.method(), what) {
            ("GET", "state") => {
                drop(state);
                Response::json(200, &self.snapshot())
            }
            ("POST", "fail") => {
                let status = request
                    .param("status")
                    .and_then(|s| s.parse::<u16>().ok())
                    .filter(|s| (100..=599).contains(s))
                    .unwrap_or(503);
                state
                    .faults
                    .extend(std::iter::repeat_n(Fault::Status(status), count()));
                ok()
            }
            ("POST", "hang") => {
                let d = seconds("seconds").unwrap_or(Duration::from_secs(60));
                state
                    .faults
                    .extend(std::iter::repeat_n(Fault::Hang(d), count()));
                ok()
            }
            ("POST", "garbage") => match Garbage::parse(request.param("kind").unwrap_or("cycle")) {
                Some(kind) => {
                    state
                        .faults
                        .extend(std::iter::repeat_n(Fault::Garbage(kind), count()));
                    ok()
                }
                None => Response::text(400, "kind: not-json|wrong-shape|deep|huge|cycle\n"),
            },
            ("POST", "clear") => {
                state.faults.clear();
                ok()
            }
            ("POST", "force") => {
                let forced = match request.param("state") {
                    Some("unknown") => Some(Forced::Unknown),
                    Some("error") => Some(Forced::Error),
                    Some("none") => None,
                    _ => return Response::text(400, "state: unknown|error|none\n"),
                };
                match state.find_mut(machine) {
                    Some(m) => {
                        m.forced = forced;
                        ok()
                    }
                    None => Response::text(404, "no such machine\n"),
                }
            }
            ("POST", "power") => {
                let on = match request.param("state") {
                    Some("on") => true,
                    Some("off") => false,
                    _ => return Response::text(400, "state: on|off\n"),
                };
                match state.find_mut(machine) {
                    Some(m) => {
                        m.on = on;
                        m.generation += 1;
                        ok()
                    }
                    None => Response::text(404, "no such machine\n"),
                }
            }
            ("POST", "delay") => {
                if let Some(d) = seconds("power") {
                    state.power_delay = d;
                }
                if let Some(d) = seconds("query") {
                    state.query_latency = d;
                }
                ok()
            }
            _ => Response::text(
                404,
                "control: GET state; POST fail?count=N&status=S, hang?count=N&seconds=S, \
                 garbage?count=N&kind=K, clear, force?machine=H&state=unknown|error|none, \
                 power?machine=H&state=on|off, delay?power=S&query=S\n",
            ),
        }
    }
}

/// `PROGRAM <hostname> <verb>`: its first word of output for status
/// (`on`/`off`), "ok" for a successful change, "error" otherwise.
fn run_power_cmd(cmd: &std::path::Path, hostname: &str, verb: &str) -> &'static str {
    let output = Command::new(cmd)
        .arg(hostname)
        .arg(verb)
        .timeout(POWER_CMD_TIMEOUT)
        .max_output(64 * 1024)
        .run();
    match output {
        Ok(out) if out.success() => {
            if verb != "status" {
                return "ok";
            }
            let text = out.stdout_lossy();
            match text.split_whitespace().next() {
                Some("on") => "on",
                Some("off") => "off",
                _ => "error",
            }
        }
        Ok(out) => {
            log::warn!(
                "{} {hostname} {verb}: exit {}: {}",
                cmd.display(),
                out.code(),
                out.stderr_summary()
            );
            "error"
        }
        Err(err) => {
            log::warn!("{} {hostname} {verb}: {err}", cmd.display());
            "error"
        }
    }
}

/// The HTTP side: control requests, then the API.
#[derive(Debug)]
struct Api(Arc<Inner>);

impl Handler for Api {
    fn handle(&self, request: &Request) -> Reply {
        if request.path().starts_with(CONTROL_PREFIX) {
            return Reply::Answer(self.0.control(request));
        }
        if request.path().starts_with(API_PREFIX) {
            return self.0.api(request);
        }
        Reply::Answer(Response::text(404, "Not Found\n"))
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
    }
}
