//! The fake cloud's state and how it moves: services, servers and their
//! evacuations, migrations, images, tokens, faults and the request log.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use super::http::{HttpRequest, HttpResponse};
use super::{
    EvacuateCall, EvacuationOutcome, FakeCloudConfig, FakeInventory, FakeMigration, FakeServer,
    FakeService, Fault, FlavorSpec, ImageSpec, PROJECT_ID, RequestRecord, Route, ServerSpec,
    USER_ID,
};

/// Longest request log kept.
const MAX_LOG: usize = 100_000;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Wall-clock time, for the timestamps in answers.
pub(crate) fn wall() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// Nova's database times: whole seconds (MySQL `DATETIME`), no zone.
pub(crate) fn db_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S.000000").to_string()
}

/// Nova's server view times: `2026-11-22T04:44:34Z`.
pub(crate) fn iso_z(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[derive(Debug, Clone)]
pub(crate) struct HostRec {
    pub name: String,
    pub uuid: String,
    pub legacy_id: i64,
    pub hypervisor_uuid: String,
    pub ip: String,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub forced_down: bool,
    /// Heartbeating.
    pub alive: bool,
    /// When the heartbeats stopped.
    pub died: Option<Instant>,
    /// Nova has noticed (service_down_time passed, by the test's say-so).
    pub noticed: bool,
    /// Last write to the service row.
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Placement: the resource provider's inventories and generation.
    pub inventory: BTreeMap<String, FakeInventory>,
    pub generation: i64,
}

impl HostRec {
    /// Nova's `state`: heartbeats recent enough and not forced down.
    pub fn is_up(&self, now: Instant, down_time: Duration) -> bool {
        if self.forced_down {
            return false;
        }
        if self.alive {
            return true;
        }
        !self.noticed
            && self
                .died
                .is_some_and(|d| now.saturating_duration_since(d) < down_time)
    }

    /// The server's `host_status` (2.16+), by Nova's rule.
    pub fn host_status(&self, now: Instant, down_time: Duration) -> &'static str {
        if self.forced_down {
            "DOWN"
        } else if self.disabled {
            "MAINTENANCE"
        } else if self.is_up(now, down_time) {
            "UP"
        } else {
            "UNKNOWN"
        }
    }

    pub fn updated_at_text(&self) -> String {
        if self.alive {
            db_time(wall())
        } else {
            db_time(self.updated_at)
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ActionRec {
    pub action: String,
    pub request_id: String,
    pub start_time: String,
    pub updated_at: Option<String>,
    pub user_id: String,
    pub project_id: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Evacuation {
    pub migration_id: i64,
    pub source: String,
    pub requested_host: Option<String>,
    pub started: Instant,
    pub dest: Option<String>,
    pub outcome: EvacuationOutcome,
    /// vm_state to land in.
    pub land_state: String,
    pub stuck: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct ServerRec {
    pub id: String,
    pub name: String,
    pub vm_state: String,
    pub task_state: Option<String>,
    pub host: Option<String>,
    pub image: Option<String>,
    pub flavor: FlavorSpec,
    pub metadata: BTreeMap<String, String>,
    pub tags: Vec<String>,
    pub volumes: Vec<String>,
    pub locked: bool,
    pub project_id: String,
    pub instance_name: String,
    pub reservation_id: String,
    pub created: String,
    pub updated: String,
    pub launched_at: String,
    pub evacuation: Option<Evacuation>,
    /// Newest last.
    pub actions: Vec<ActionRec>,
}

impl ServerRec {
    /// Nova's `status` from vm_state and task_state.
    pub fn status(&self) -> &'static str {
        let rebuilding = self
            .task_state
            .as_deref()
            .is_some_and(|t| t.starts_with("rebuild"));
        match self.vm_state.as_str() {
            "active" | "stopped" | "error" if rebuilding => "REBUILD",
            "active" => "ACTIVE",
            "stopped" => "SHUTOFF",
            "error" => "ERROR",
            "building" => "BUILD",
            "paused" => "PAUSED",
            "suspended" => "SUSPENDED",
            "shelved" => "SHELVED",
            "shelved_offloaded" => "SHELVED_OFFLOADED",
            "rescued" => "RESCUE",
            "resized" => "VERIFY_RESIZE",
            "soft-delete" => "SOFT_DELETED",
            "deleted" => "DELETED",
            _ => "UNKNOWN",
        }
    }

    pub fn power_state(&self) -> i64 {
        match self.vm_state.as_str() {
            "active" | "rescued" | "resized" => 1,
            "paused" => 3,
            "stopped" | "shelved" => 4,
            "suspended" => 7,
            _ => 0,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct MigRec {
    pub id: i64,
    pub uuid: String,
    pub instance_uuid: String,
    pub source_compute: String,
    pub dest_compute: Option<String>,
    pub dest_host: Option<String>,
    pub status: String,
    pub migration_type: String,
    pub hidden: bool,
    pub project_id: String,
    pub created_at: String,
    pub updated_at: Option<String>,
    /// `done` → `completed` at this time (set when the source revives).
    pub complete_at: Option<Instant>,
}

#[derive(Debug, Clone)]
pub(crate) struct ImageRec {
    pub id: String,
    pub name: String,
    pub tags: Vec<String>,
    pub properties: BTreeMap<String, String>,
    pub hidden: bool,
    pub visibility: String,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub(crate) struct TokenRec {
    pub expires: Instant,
    pub scoped: bool,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct FaultRule {
    pub route: Route,
    pub fault: Fault,
    /// `None`: forever.
    pub remaining: Option<usize>,
}

/// Everything, behind one lock.
#[derive(Debug)]
pub(crate) struct State {
    pub cfg: FakeCloudConfig,
    pub base: String,
    pub hosts: Vec<HostRec>,
    /// Oldest first.
    pub servers: Vec<ServerRec>,
    pub migrations: Vec<MigRec>,
    pub images: Vec<ImageRec>,
    pub tokens: HashMap<String, TokenRec>,
    pub tokens_issued: usize,
    pub refuse_all_tokens: bool,
    pub evacuate_calls: Vec<EvacuateCall>,
    pub outcomes: HashMap<String, EvacuationOutcome>,
    pub faults: Vec<FaultRule>,
    pub counts: BTreeMap<Route, usize>,
    pub log: VecDeque<RequestRecord>,
    next_legacy_id: i64,
    next_migration_id: i64,
    next_instance: u64,
    rng: u64,
}

impl State {
    fn new(cfg: FakeCloudConfig) -> Self {
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Self {
            cfg,
            base: String::new(),
            hosts: Vec::new(),
            servers: Vec::new(),
            migrations: Vec::new(),
            images: Vec::new(),
            tokens: HashMap::new(),
            tokens_issued: 0,
            refuse_all_tokens: false,
            evacuate_calls: Vec::new(),
            outcomes: HashMap::new(),
            faults: Vec::new(),
            counts: BTreeMap::new(),
            log: VecDeque::new(),
            next_legacy_id: 1,
            next_migration_id: 1,
            next_instance: 1,
            rng: seed | 1,
        }
    }

    fn next_u64(&mut self) -> u64 {
        // xorshift64*: ids only need to be distinct.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn hex(&mut self, len: usize) -> String {
        let mut out = String::with_capacity(len + 16);
        while out.len() < len {
            out.push_str(&format!("{:016x}", self.next_u64()));
        }
        out.truncate(len);
        out
    }

    pub fn uuid(&mut self) -> String {
        let h = self.hex(32);
        let variant = ["8", "9", "a", "b"][(self.next_u64() % 4) as usize];
        format!(
            "{}-{}-4{}-{}{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            variant,
            &h[17..20],
            &h[20..32]
        )
    }

    pub fn request_id(&mut self) -> String {
        format!("req-{}", self.uuid())
    }

    pub fn host(&self, name: &str) -> Option<&HostRec> {
        self.hosts.iter().find(|h| h.name == name)
    }

    pub fn host_mut(&mut self, name: &str) -> Option<&mut HostRec> {
        self.hosts.iter_mut().find(|h| h.name == name)
    }

    pub fn host_is_up(&self, name: &str, now: Instant) -> bool {
        self.host(name)
            .is_some_and(|h| h.is_up(now, self.cfg.service_down_time))
    }

    pub fn add_host(&mut self, name: &str) -> String {
        if let Some(h) = self.host(name) {
            return h.uuid.clone();
        }
        let uuid = self.uuid();
        let hypervisor_uuid = self.uuid();
        let legacy_id = self.next_legacy_id;
        self.next_legacy_id += 1;
        self.hosts.push(HostRec {
            name: name.to_owned(),
            uuid: uuid.clone(),
            legacy_id,
            hypervisor_uuid,
            ip: format!("192.168.0.{}", legacy_id % 250 + 1),
            disabled: false,
            disabled_reason: None,
            forced_down: false,
            alive: true,
            died: None,
            noticed: false,
            updated_at: wall(),
            inventory: super::default_inventory(),
            generation: 1,
        });
        uuid
    }

    /// Set (or with `None` remove) one inventory of `host`.
    pub fn set_inventory(&mut self, host: &str, class: &str, inventory: Option<FakeInventory>) {
        if let Some(h) = self.host_mut(host) {
            match inventory {
                Some(i) => h.inventory.insert(class.to_owned(), i),
                None => h.inventory.remove(class),
            };
            h.generation += 1;
        }
    }

    /// What the servers on `host` use (their flavors), per class.
    pub fn usages(&self, host: &str) -> BTreeMap<String, u64> {
        let mut out: BTreeMap<String, u64> = BTreeMap::new();
        if let Some(h) = self.host(host) {
            for class in h.inventory.keys() {
                out.insert(class.clone(), 0);
            }
        }
        for s in self
            .servers
            .iter()
            .filter(|s| s.host.as_deref() == Some(host))
        {
            for (class, amount) in needs(s) {
                *out.entry(class).or_default() += amount;
            }
        }
        out
    }

    /// Whether `host` has room for `need` (Placement's rule).
    fn has_room(&self, host: &HostRec, need: &BTreeMap<String, u64>) -> bool {
        let used = self.usages(&host.name);
        need.iter().filter(|(_, a)| **a > 0).all(|(class, amount)| {
            host.inventory.get(class).is_some_and(|inv| {
                *amount <= inv.total
                    && used.get(class).copied().unwrap_or(0) + amount <= inv.capacity()
            })
        })
    }

    pub fn add_server(&mut self, spec: ServerSpec, now: Instant) -> String {
        self.add_host(&spec.host);
        let id = spec.id.clone().unwrap_or_else(|| self.uuid());
        let n = self.next_instance;
        self.next_instance += 1;
        let t = wall();
        let reservation_id = format!("r-{}", &self.hex(8));
        let request_id = self.request_id();
        let project_id = spec.project_id.unwrap_or_else(|| PROJECT_ID.to_owned());
        let rec = ServerRec {
            id: id.clone(),
            name: spec.name,
            vm_state: spec.vm_state,
            task_state: None,
            host: Some(spec.host),
            image: spec.image,
            flavor: spec.flavor,
            metadata: spec.metadata,
            tags: spec.tags,
            volumes: spec.volumes,
            locked: spec.locked,
            instance_name: format!("instance-{n:08x}"),
            reservation_id,
            created: iso_z(t),
            updated: iso_z(t),
            launched_at: db_time(t),
            evacuation: None,
            actions: vec![ActionRec {
                action: "create".into(),
                request_id,
                start_time: db_time(t),
                updated_at: Some(db_time(t)),
                user_id: USER_ID.into(),
                project_id: project_id.clone(),
            }],
            project_id,
        };
        let _ = now;
        self.servers.retain(|s| s.id != id);
        self.servers.push(rec);
        id
    }

    pub fn add_image(&mut self, spec: ImageSpec) -> String {
        let id = spec.id.unwrap_or_else(|| self.uuid());
        self.images.retain(|i| i.id != id);
        self.images.push(ImageRec {
            id: id.clone(),
            name: spec.name,
            tags: spec.tags,
            properties: spec.properties,
            hidden: spec.hidden,
            visibility: spec.visibility,
            created_at: iso_z(wall()),
        });
        id
    }

    pub fn server_snapshot(&self, id: &str) -> Option<FakeServer> {
        self.servers.iter().find(|s| s.id == id).map(snapshot)
    }

    pub fn servers_snapshot(&self) -> Vec<FakeServer> {
        self.servers.iter().map(snapshot).collect()
    }

    pub fn service_snapshot(&self, host: &str, now: Instant) -> Option<FakeService> {
        self.host(host).map(|h| FakeService {
            id: h.uuid.clone(),
            legacy_id: h.legacy_id,
            host: h.name.clone(),
            up: h.is_up(now, self.cfg.service_down_time),
            alive: h.alive,
            forced_down: h.forced_down,
            disabled: h.disabled,
            disabled_reason: h.disabled_reason.clone(),
        })
    }

    pub fn migrations_snapshot(&self) -> Vec<FakeMigration> {
        self.migrations
            .iter()
            .map(|m| FakeMigration {
                id: m.id,
                uuid: m.uuid.clone(),
                instance_uuid: m.instance_uuid.clone(),
                source_compute: m.source_compute.clone(),
                dest_compute: m.dest_compute.clone(),
                status: m.status.clone(),
                migration_type: m.migration_type.clone(),
            })
            .collect()
    }

    pub fn kill_service(&mut self, host: &str, now: Instant) {
        if let Some(h) = self.host_mut(host)
            && h.alive
        {
            h.alive = false;
            h.died = Some(now);
            h.updated_at = wall();
        }
    }

    pub fn mark_service_down(&mut self, host: &str, now: Instant) {
        self.kill_service(host, now);
        if let Some(h) = self.host_mut(host) {
            h.noticed = true;
        }
    }

    pub fn revive_service(&mut self, host: &str, now: Instant) {
        let Some(h) = self.host_mut(host) else { return };
        h.alive = true;
        h.died = None;
        h.noticed = false;
        h.updated_at = wall();
        let at = now + self.cfg.cleanup_delay;
        for m in &mut self.migrations {
            if m.source_compute == host
                && m.migration_type == "evacuation"
                && m.status == "done"
                && m.complete_at.is_none()
            {
                m.complete_at = Some(at);
            }
        }
        self.advance(now, false);
    }

    pub fn set_service_flags(
        &mut self,
        host: &str,
        forced_down: Option<bool>,
        disabled: Option<(bool, Option<String>)>,
    ) {
        let Some(h) = self.host_mut(host) else { return };
        if let Some(f) = forced_down {
            h.forced_down = f;
        }
        if let Some((d, reason)) = disabled {
            h.disabled = d;
            h.disabled_reason = if d { reason } else { None };
        }
        h.updated_at = wall();
    }

    pub fn set_outcome(&mut self, server_id: &str, outcome: EvacuationOutcome) {
        self.outcomes.insert(server_id.to_owned(), outcome);
        if let Some(ev) = self
            .servers
            .iter_mut()
            .find(|s| s.id == server_id)
            .and_then(|s| s.evacuation.as_mut())
        {
            ev.outcome = outcome;
        }
    }

    pub fn revoke_tokens(&mut self) {
        for t in self.tokens.values_mut() {
            t.revoked = true;
        }
    }

    pub fn inject(&mut self, route: Route, fault: Fault, remaining: Option<usize>) {
        if remaining == Some(0) {
            return;
        }
        self.faults.push(FaultRule {
            route,
            fault,
            remaining,
        });
    }

    /// Count a request and take the first fault that applies.
    pub fn take_fault(&mut self, route: Route) -> Option<Fault> {
        *self.counts.entry(route).or_default() += 1;
        let pos = self.faults.iter().position(|f| f.route.matches(route))?;
        let rule = self.faults.get_mut(pos)?;
        let fault = rule.fault.clone();
        if let Some(n) = rule.remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.faults.remove(pos);
            }
        }
        Some(fault)
    }

    pub fn count(&self, route: Route) -> usize {
        if route == Route::Any {
            self.counts.values().sum()
        } else {
            self.counts.get(&route).copied().unwrap_or(0)
        }
    }

    pub fn log(&mut self, rec: RequestRecord) {
        if self.log.len() >= MAX_LOG {
            self.log.pop_front();
        }
        self.log.push_back(rec);
    }

    pub fn new_migration(&mut self, instance: &str, source: &str, project_id: &str) -> i64 {
        let id = self.next_migration_id;
        self.next_migration_id += 1;
        let uuid = self.uuid();
        self.migrations.push(MigRec {
            id,
            uuid,
            instance_uuid: instance.to_owned(),
            source_compute: source.to_owned(),
            dest_compute: None,
            dest_host: None,
            status: "accepted".into(),
            migration_type: "evacuation".into(),
            hidden: false,
            project_id: project_id.to_owned(),
            created_at: db_time(wall()),
            updated_at: None,
            complete_at: None,
        });
        id
    }

    fn migration_mut(&mut self, id: i64) -> Option<&mut MigRec> {
        self.migrations.iter_mut().find(|m| m.id == id)
    }

    /// The scheduler: an up, enabled host other than `source` with room for
    /// `need`, the least loaded first (name breaks ties); `requested` must
    /// itself qualify (evacuate with a host from 2.29 without force).
    fn schedule(
        &self,
        source: &str,
        requested: Option<&str>,
        need: &BTreeMap<String, u64>,
        now: Instant,
    ) -> Option<String> {
        let eligible = |h: &HostRec| {
            h.name != source
                && !h.disabled
                && h.is_up(now, self.cfg.service_down_time)
                && self.has_room(h, need)
        };
        if let Some(r) = requested {
            return self.host(r).filter(|h| eligible(h)).map(|h| h.name.clone());
        }
        self.hosts
            .iter()
            .filter(|h| eligible(h))
            .min_by_key(|h| {
                let load = self
                    .servers
                    .iter()
                    .filter(|s| s.host.as_deref() == Some(h.name.as_str()))
                    .count();
                (load, h.name.clone())
            })
            .map(|h| h.name.clone())
    }

    pub fn finish_evacuations(&mut self, now: Instant) {
        self.advance(now, true);
    }

    /// Apply every transition due by `now` (all of them when `finish`).
    pub fn advance(&mut self, now: Instant, finish: bool) {
        let total = self.cfg.evacuation_time;
        // The conductor takes requests in the order they came.
        let mut order: Vec<(i64, usize)> = self
            .servers
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.evacuation.as_ref().map(|e| (e.migration_id, i)))
            .collect();
        order.sort_unstable();
        for (_, i) in order {
            let Some(ev) = self.servers.get(i).and_then(|s| s.evacuation.clone()) else {
                continue;
            };
            if ev.stuck || ev.outcome == EvacuationOutcome::Stuck {
                continue;
            }
            let phase = if finish || total.is_zero() {
                3
            } else {
                let elapsed = now.saturating_duration_since(ev.started).as_nanos();
                (elapsed.saturating_mul(3) / total.as_nanos().max(1)).min(3)
            };
            if phase >= 1 && ev.dest.is_none() {
                let need = self.servers.get(i).map(needs).unwrap_or_default();
                match self.schedule(&ev.source, ev.requested_host.as_deref(), &need, now) {
                    None => {
                        self.no_valid_host(i, &ev);
                        continue;
                    }
                    Some(dest) => self.start_rebuild(i, &ev, &dest),
                }
            }
            if phase >= 2
                && let Some(s) = self.servers.get_mut(i)
            {
                s.task_state = Some("rebuild_spawning".into());
            }
            if phase >= 3 {
                self.land(i);
            }
        }
        for m in &mut self.migrations {
            if m.status == "done" && m.complete_at.is_some_and(|t| t <= now || finish) {
                m.status = "completed".into();
                m.updated_at = Some(db_time(wall()));
                m.complete_at = None;
            }
        }
    }

    fn no_valid_host(&mut self, i: usize, ev: &Evacuation) {
        if let Some(s) = self.servers.get_mut(i) {
            s.vm_state = "error".into();
            s.task_state = None;
            s.evacuation = None;
            s.updated = iso_z(wall());
        }
        if let Some(m) = self.migration_mut(ev.migration_id) {
            m.status = "error".into();
            m.updated_at = Some(db_time(wall()));
        }
    }

    fn start_rebuild(&mut self, i: usize, ev: &Evacuation, dest: &str) {
        let ip = self.host(dest).map(|h| h.ip.clone());
        if let Some(s) = self.servers.get_mut(i) {
            s.host = Some(dest.to_owned());
            s.task_state = Some("rebuild_block_device_mapping".into());
            s.updated = iso_z(wall());
            if let Some(e) = s.evacuation.as_mut() {
                e.dest = Some(dest.to_owned());
            }
        }
        if let Some(m) = self.migration_mut(ev.migration_id) {
            m.status = "pre-migrating".into();
            m.dest_compute = Some(dest.to_owned());
            m.dest_host = ip;
            m.updated_at = Some(db_time(wall()));
        }
    }

    fn land(&mut self, i: usize) {
        let Some(s) = self.servers.get_mut(i) else {
            return;
        };
        let Some(ev) = s.evacuation.take() else {
            return;
        };
        s.task_state = None;
        s.updated = iso_z(wall());
        let status = match ev.outcome {
            EvacuationOutcome::Fail => {
                s.vm_state = "error".into();
                "failed"
            }
            _ => {
                s.vm_state = ev.land_state.clone();
                "done"
            }
        };
        let t = db_time(wall());
        if let Some(a) = s.actions.iter_mut().rev().find(|a| a.action == "evacuate") {
            a.updated_at = Some(t.clone());
        }
        if let Some(m) = self.migration_mut(ev.migration_id) {
            m.status = status.into();
            m.updated_at = Some(t);
        }
    }
}

/// What a server allocates: its flavor's VCPU, MEMORY_MB and DISK_GB (no
/// root disk when booted from a volume).
pub(crate) fn needs(s: &ServerRec) -> BTreeMap<String, u64> {
    let f = &s.flavor;
    let disk = if s.image.is_some() { f.disk } else { 0 };
    BTreeMap::from([
        ("VCPU".to_owned(), u64::from(f.vcpus)),
        ("MEMORY_MB".to_owned(), u64::from(f.ram)),
        ("DISK_GB".to_owned(), u64::from(disk)),
    ])
}

fn snapshot(s: &ServerRec) -> FakeServer {
    FakeServer {
        id: s.id.clone(),
        name: s.name.clone(),
        status: s.status().to_owned(),
        vm_state: s.vm_state.clone(),
        task_state: s.task_state.clone(),
        host: s.host.clone(),
        image: s.image.clone(),
        flavor: s.flavor.clone(),
        metadata: s.metadata.clone(),
        tags: s.tags.clone(),
        evacuating: s.evacuation.is_some(),
    }
}

/// The state and the listener's view of it.
#[derive(Debug)]
pub(crate) struct Shared {
    pub state: Mutex<State>,
}

impl Shared {
    pub fn new(cfg: FakeCloudConfig) -> Self {
        Self {
            state: Mutex::new(State::new(cfg)),
        }
    }

    pub fn set_base(&self, base: &str) {
        lock(&self.state).base = base.to_owned();
    }

    /// Run `f` on the state brought up to date.
    pub fn with<R>(&self, f: impl FnOnce(&mut State, Instant) -> R) -> R {
        let mut s = lock(&self.state);
        let now = Instant::now();
        s.advance(now, false);
        f(&mut s, now)
    }

    pub fn take_fault(&self, route: Route) -> Option<Fault> {
        lock(&self.state).take_fault(route)
    }

    pub fn request_id(&self) -> String {
        lock(&self.state).request_id()
    }

    pub fn log(&self, rec: RequestRecord) {
        lock(&self.state).log(rec);
    }

    pub fn process(&self, req: &HttpRequest, route: Route, request_id: &str) -> HttpResponse {
        self.with(|s, now| s.handle(req, route, request_id, now))
    }

    pub fn fault_response(&self, route: Route, status: u16) -> HttpResponse {
        super::api::fault_response(route, status)
    }
}
