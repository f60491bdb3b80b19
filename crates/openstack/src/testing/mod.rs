//! A stateful fake of the lab's cloud (Keystone v3, Nova Zed up to 2.93,
//! Glance v2, Placement) on 127.0.0.1, for component tests of the evacuator
//! and of this crate. Feature `testing`.
//!
//! It keeps state the way Nova does, so a test exercises the protocol and
//! not a script: services go down when forced down or when a test kills
//! them, an evacuate is refused with "Compute service of X is still in
//! use." while the source is up, an accepted one creates an `accepted`
//! migration and puts the server in REBUILD, and after
//! [`FakeCloudConfig::evacuation_time`] the server lands on another up and
//! enabled host (ACTIVE, or SHUTOFF if it was stopped) with the migration
//! `done`; `completed` follows once the source's service is revived. Like
//! the real Nova it **accepts a duplicate evacuate** of a server already
//! rebuilding (and, by default, leaves it stuck, as the lab saw): every
//! call is recorded so a test can assert "evacuated exactly once"
//! ([`FakeCloud::accepted_evacuations`]).
//!
//! Every host is a Placement resource provider (its hypervisor's UUID,
//! named after the host) with `VCPU`, `MEMORY_MB` and `DISK_GB`
//! inventories ([`FakeCloud::set_inventory`]); its usages are the flavors
//! of the servers on it. The scheduler, for an evacuation with or without a
//! requested `host`, only picks an up, enabled host other than the source
//! with room for the server's flavor; with none, NoValidHost (the server in
//! ERROR on the source, the migration `error`), as the real conductor does.
//!
//! Answers follow the shapes of the captured lab fixtures
//! (`tests/lab/openstack/fixtures`), field sets by microversion: service
//! ids integer before 2.53 and UUID from it, `forced_down` from 2.11,
//! `host_status` 2.16, `tags` 2.26, the embedded flavor with `extra_specs`
//! 2.47, migration `uuid` and paging 2.59, `user_id`/`project_id` 2.80,
//! instance-action paging 2.58, hypervisor capacity up to 2.87.
//!
//! Faults are injected per [`Route`] ([`FakeCloud::inject`]): HTTP errors,
//! stalls, resets before or after the request took effect, clean closes,
//! slow and truncated bodies, hostile bodies, oversized bodies; and
//! [`FakeCloud::go_offline`] makes connections be refused at connect.
//! Every request is counted per route and logged
//! ([`FakeCloud::requests`]), so tests can assert retries and backoff.
//!
//! State moves lazily: transitions due by now are applied whenever a
//! request or a test looks, so there is no background thread to race with,
//! and [`FakeCloud::finish_evacuations`] lands everything at once.
//!
//! ```no_run
//! use openstack::testing::{FakeCloud, ServerSpec};
//! use openstack::EvacuateOptions;
//! use umha_common::Deadline;
//! use std::time::Duration;
//!
//! let cloud = FakeCloud::start()?;
//! cloud.add_hosts(&["cmp1", "cmp2", "cmp3"]);
//! let vm = cloud.add_server(ServerSpec::new("vm1", "cmp1").extra_spec("evacuable", "true"));
//! cloud.kill_service("cmp1");
//! let deadline = Deadline::after(Duration::from_secs(10));
//! let nova = cloud.compute(deadline)?;
//! let svc = nova.compute_service("cmp1", deadline)?;
//! nova.force_down(&svc, deadline)?;
//! nova.evacuate(&vm, &EvacuateOptions::default(), deadline)?;
//! cloud.finish_evacuations();
//! assert_eq!(cloud.accepted_evacuations(&vm), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use umha_common::Deadline;

use crate::microversion::Microversion;
use crate::{CloudConfig, Compute, ComputeOptions, Session, SessionOptions};

mod api;
pub mod http;
mod state;
pub mod tls;

use state::{Shared, lock};

/// The image id servers get unless their spec says otherwise.
pub const DEFAULT_IMAGE: &str = "1547a970-8465-4630-b3ec-5bc75db20ecd";
/// The project every token is scoped to and servers belong to by default.
pub const PROJECT_ID: &str = "6a2f03807d4844679311f7abc15e500e";
/// The admin user's id.
pub const USER_ID: &str = "fadaa10a98174ac59cab2daa834634ad";
/// The application credential's name (its id and secret are in the config).
pub const APP_CREDENTIAL_NAME: &str = "umha-evacuator";

/// How the cloud behaves; [`Default`] is the lab's Zed with fast
/// evacuations. Fields marked "live" can also be changed on a running cloud.
#[derive(Debug, Clone)]
pub struct FakeCloudConfig {
    pub min_version: Microversion,
    pub max_version: Microversion,
    pub region: String,
    pub username: String,
    pub password: String,
    pub project_name: String,
    /// Name of the user's and project's domain (id `default`).
    pub domain: String,
    pub application_credential_id: String,
    pub application_credential_secret: String,
    pub token_lifetime: Duration,
    /// From an accepted evacuate to the server landing (a third in
    /// `rebuilding` on the source, a third in `rebuild_block_device_mapping`
    /// on the destination with the migration `pre-migrating`, a third in
    /// `rebuild_spawning`). Live: [`FakeCloud::set_evacuation_time`].
    pub evacuation_time: Duration,
    /// How the evacuations end unless set per server.
    pub evacuation_outcome: EvacuationOutcome,
    /// Nova's `service_down_time`: a killed service still counts as up this
    /// long (unless forced down or [`FakeCloud::mark_service_down`]).
    pub service_down_time: Duration,
    /// From a revived source service to its `done` evacuations becoming
    /// `completed` (about 4–5 s in the lab).
    pub cleanup_delay: Duration,
    /// Disabling or enabling a service Nova counts as up but whose host is
    /// dead waits for an RPC that never answers: this long (60 s in real
    /// Nova; 0 here unless a test wants to see the trap).
    pub rpc_timeout: Duration,
    /// A second evacuate of a server already rebuilding leaves it stuck in
    /// REBUILD (what the lab saw). False: the duplicate is recorded only.
    pub duplicate_evacuate_sticks: bool,
    /// Nova's `max_limit` (page size cap).
    pub max_limit: usize,
    /// Glance's default page size when no `limit` is given.
    pub image_default_limit: usize,
}

impl Default for FakeCloudConfig {
    fn default() -> Self {
        Self {
            min_version: Microversion::new(2, 1),
            max_version: Microversion::new(2, 93),
            region: "RegionOne".into(),
            username: "admin".into(),
            password: "fake-admin-password".into(),
            project_name: "admin".into(),
            domain: "Default".into(),
            application_credential_id: "0b9c6f3d8e7a4c5b9d2e1f0a3b4c5d6e".into(),
            application_credential_secret: "fake-app-cred-secret".into(),
            token_lifetime: Duration::from_secs(3600),
            evacuation_time: Duration::from_millis(300),
            evacuation_outcome: EvacuationOutcome::Land,
            service_down_time: Duration::from_secs(60),
            cleanup_delay: Duration::ZERO,
            rpc_timeout: Duration::ZERO,
            duplicate_evacuate_sticks: true,
            max_limit: 1000,
            image_default_limit: 25,
        }
    }
}

/// How an accepted evacuation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvacuationOutcome {
    /// On another up and enabled host, ACTIVE (SHUTOFF if it was stopped),
    /// migration `done`. With no such host: NoValidHost, the server in
    /// ERROR on the source and the migration `error`.
    Land,
    /// The rebuild fails on the destination: server ERROR, migration
    /// `failed`.
    Fail,
    /// Never finishes: REBUILD forever, migration `accepted`.
    Stuck,
}

/// The flavor embedded in a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlavorSpec {
    /// Shown only before 2.47 (`{"id", "links"}`).
    pub id: String,
    pub name: String,
    pub vcpus: u32,
    pub ram: u32,
    pub disk: u32,
    /// Shown from 2.47.
    pub extra_specs: BTreeMap<String, String>,
}

impl Default for FlavorSpec {
    fn default() -> Self {
        Self {
            id: "1".into(),
            name: "m1.tiny".into(),
            vcpus: 1,
            ram: 64,
            disk: 1,
            extra_specs: BTreeMap::new(),
        }
    }
}

/// One Placement inventory of a host (min_unit and step_size 1, max_unit
/// the total).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FakeInventory {
    pub total: u64,
    pub reserved: u64,
    pub allocation_ratio: f64,
}

impl FakeInventory {
    pub fn new(total: u64) -> Self {
        Self {
            total,
            reserved: 0,
            allocation_ratio: 1.0,
        }
    }

    /// Placement's rule: `(total - reserved) * allocation_ratio`, rounded down.
    pub fn capacity(&self) -> u64 {
        (self.total.saturating_sub(self.reserved) as f64 * self.allocation_ratio.max(0.0)).floor()
            as u64
    }
}

/// What a new host has: 8 VCPU at ratio 16, 16 GiB of memory (512 MB
/// reserved) at ratio 1.5, 100 GB of disk.
pub fn default_inventory() -> BTreeMap<String, FakeInventory> {
    BTreeMap::from([
        (
            "VCPU".to_owned(),
            FakeInventory {
                total: 8,
                reserved: 0,
                allocation_ratio: 16.0,
            },
        ),
        (
            "MEMORY_MB".to_owned(),
            FakeInventory {
                total: 16384,
                reserved: 512,
                allocation_ratio: 1.5,
            },
        ),
        ("DISK_GB".to_owned(), FakeInventory::new(100)),
    ])
}

/// A server to create with [`FakeCloud::add_server`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// Generated (a UUID) when `None`.
    pub id: Option<String>,
    pub name: String,
    pub host: String,
    /// `active`, `stopped`, `error`, `shelved_offloaded`, ...
    pub vm_state: String,
    /// `None`: booted from volume (Nova shows `"image": ""`).
    pub image: Option<String>,
    pub flavor: FlavorSpec,
    pub metadata: BTreeMap<String, String>,
    pub tags: Vec<String>,
    pub volumes: Vec<String>,
    pub locked: bool,
    /// Defaults to [`PROJECT_ID`].
    pub project_id: Option<String>,
}

impl ServerSpec {
    /// An ACTIVE server on `host`, from [`DEFAULT_IMAGE`], flavor m1.tiny.
    pub fn new(name: &str, host: &str) -> Self {
        Self {
            id: None,
            name: name.to_owned(),
            host: host.to_owned(),
            vm_state: "active".into(),
            image: Some(DEFAULT_IMAGE.to_owned()),
            flavor: FlavorSpec::default(),
            metadata: BTreeMap::new(),
            tags: Vec::new(),
            volumes: Vec::new(),
            locked: false,
            project_id: None,
        }
    }

    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.to_owned());
        self
    }

    /// SHUTOFF (vm_state `stopped`).
    pub fn stopped(mut self) -> Self {
        self.vm_state = "stopped".into();
        self
    }

    pub fn in_error(mut self) -> Self {
        self.vm_state = "error".into();
        self
    }

    pub fn vm_state(mut self, vm_state: &str) -> Self {
        self.vm_state = vm_state.to_owned();
        self
    }

    pub fn image(mut self, image_id: &str) -> Self {
        self.image = Some(image_id.to_owned());
        self
    }

    /// No image; `volume_id` attached as the root disk.
    pub fn boot_from_volume(mut self, volume_id: &str) -> Self {
        self.image = None;
        self.volumes.push(volume_id.to_owned());
        self
    }

    pub fn metadata(mut self, key: &str, value: &str) -> Self {
        self.metadata.insert(key.to_owned(), value.to_owned());
        self
    }

    pub fn tag(mut self, tag: &str) -> Self {
        self.tags.push(tag.to_owned());
        self
    }

    /// An extra spec of the server's flavor.
    pub fn extra_spec(mut self, key: &str, value: &str) -> Self {
        self.flavor
            .extra_specs
            .insert(key.to_owned(), value.to_owned());
        self
    }

    pub fn flavor(mut self, flavor: FlavorSpec) -> Self {
        self.flavor = flavor;
        self
    }

    pub fn locked(mut self) -> Self {
        self.locked = true;
        self
    }

    pub fn project(mut self, project_id: &str) -> Self {
        self.project_id = Some(project_id.to_owned());
        self
    }
}

/// A Glance image to create with [`FakeCloud::add_image`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    pub id: Option<String>,
    pub name: String,
    pub tags: Vec<String>,
    /// Custom properties, shown at the top level of the image as Glance does.
    pub properties: BTreeMap<String, String>,
    /// `os_hidden`: left out of listings unless `os_hidden=true` is asked.
    pub hidden: bool,
    /// `public`, `private`, `shared`, `community`.
    pub visibility: String,
}

impl ImageSpec {
    pub fn new(name: &str) -> Self {
        Self {
            id: None,
            name: name.to_owned(),
            tags: Vec::new(),
            properties: BTreeMap::new(),
            hidden: false,
            visibility: "public".into(),
        }
    }

    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.to_owned());
        self
    }

    pub fn tag(mut self, tag: &str) -> Self {
        self.tags.push(tag.to_owned());
        self
    }

    pub fn property(mut self, key: &str, value: &str) -> Self {
        self.properties.insert(key.to_owned(), value.to_owned());
        self
    }

    pub fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    pub fn visibility(mut self, visibility: &str) -> Self {
        self.visibility = visibility.to_owned();
        self
    }
}

/// What kind of request, for counters and fault targeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Route {
    /// Every request (fault targeting and [`FakeCloud::count`] only).
    Any,
    /// `POST /v3/auth/tokens`.
    Token,
    /// `GET /`, `GET /v2.1[/]` (Nova's version documents), `GET /v3[/]`.
    Version,
    /// `GET /v2.1/os-services`.
    Services,
    /// `PUT /v2.1/os-services/...` (both API forms).
    ServiceUpdate,
    /// `GET /v2.1/servers`, `GET /v2.1/servers/detail`.
    Servers,
    /// `GET /v2.1/servers/{id}`.
    Server,
    /// `POST /v2.1/servers/{id}/action`.
    ServerAction,
    /// `GET /v2.1/servers/{id}/os-instance-actions`.
    InstanceActions,
    /// `GET /v2.1/os-migrations`.
    Migrations,
    /// `GET /v2.1/os-hypervisors[/detail]`.
    Hypervisors,
    /// `GET /v2/images[/{id}]`.
    Images,
    /// `GET /v2.1/flavors/detail`.
    Flavors,
    /// `GET`/`PUT /placement/...` (resource providers, inventories, usages).
    Placement,
    /// Anything else (answered 404/405).
    Other,
}

impl Route {
    /// The route of a request.
    pub fn classify(method: &str, path: &str) -> Route {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match (method, segs.as_slice()) {
            ("POST", ["v3", "auth", "tokens"]) => Route::Token,
            ("GET", [] | ["v2.1"] | ["v3"]) => Route::Version,
            ("GET", ["v2.1", "os-services"]) => Route::Services,
            ("PUT", ["v2.1", "os-services", _]) => Route::ServiceUpdate,
            ("GET", ["v2.1", "servers"] | ["v2.1", "servers", "detail"]) => Route::Servers,
            ("GET", ["v2.1", "servers", _]) => Route::Server,
            ("POST", ["v2.1", "servers", _, "action"]) => Route::ServerAction,
            ("GET", ["v2.1", "servers", _, "os-instance-actions"]) => Route::InstanceActions,
            ("GET", ["v2.1", "os-migrations"]) => Route::Migrations,
            ("GET", ["v2.1", "os-hypervisors"] | ["v2.1", "os-hypervisors", "detail"]) => {
                Route::Hypervisors
            }
            ("GET", ["v2", "images"] | ["v2", "images", _]) => Route::Images,
            ("GET", ["v2.1", "flavors", "detail"]) => Route::Flavors,
            ("GET" | "PUT", ["placement", ..]) => Route::Placement,
            _ => Route::Other,
        }
    }

    /// Whether a fault or counter for `self` applies to a request of `route`.
    pub fn matches(self, route: Route) -> bool {
        self == Route::Any || self == route
    }
}

/// A fault to inject instead of (or around) the normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status, the request not processed: 5xx with the body the
    /// real thing sends (Nova's `computeFault` for 500, a proxy's HTML page
    /// for 502/503/504, Keystone's JSON on the token route).
    Status(u16),
    /// Wait, then process and answer as usual. A client that gave up
    /// meanwhile never sees the answer, but the request took effect.
    Stall(Duration),
    /// Reset the connection (RST) after reading the request, which is not
    /// processed.
    Reset,
    /// Close the connection cleanly after reading the request, which is not
    /// processed.
    Close,
    /// Process the request, then reset: it took effect, the answer is lost.
    ResetAfterProcessing,
    /// Process and answer, the body `chunk` bytes every `interval`.
    SlowBody { chunk: usize, interval: Duration },
    /// Process, announce the full length, send half the body, reset.
    Truncated,
    /// Answer these bytes with this status (hostile or garbage JSON); the
    /// request is not processed.
    Body { status: u16, body: Vec<u8> },
    /// Answer 200 with a JSON-looking body of `len` bytes, with or without
    /// `Content-Length`; the request is not processed.
    Oversized { len: usize, declare_length: bool },
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub method: String,
    /// As sent (still percent-encoded).
    pub path: String,
    /// Decoded.
    pub query: Vec<(String, String)>,
    pub route: Route,
    /// The `OpenStack-API-Version` (or legacy Nova) header as sent.
    pub microversion: Option<String>,
    pub token: Option<String>,
    pub body: Vec<u8>,
    /// `None` when no answer was sent (reset, close, truncated).
    pub status: Option<u16>,
    pub fault: Option<Fault>,
    /// The `x-openstack-request-id` answered.
    pub request_id: String,
    /// When the request had been read.
    pub received: Instant,
    /// From reading it to logging the answer (stalls included).
    pub duration: Duration,
}

impl RequestRecord {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// One evacuate call that reached Nova's checks (a faulted request that was
/// never processed is not here).
#[derive(Debug, Clone, PartialEq)]
pub struct EvacuateCall {
    pub server_id: String,
    /// 200 when accepted; 400 ("still in use", bad body), 404, 409.
    pub status: u16,
    /// Accepted while the server was already being evacuated.
    pub duplicate: bool,
    pub microversion: Microversion,
    /// The `evacuate` object as sent.
    pub body: serde_json::Value,
    pub request_id: String,
}

/// A server as the fake holds it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeServer {
    pub id: String,
    pub name: String,
    /// Nova's `status`: ACTIVE, SHUTOFF, REBUILD, ERROR, ...
    pub status: String,
    pub vm_state: String,
    pub task_state: Option<String>,
    pub host: Option<String>,
    pub image: Option<String>,
    pub flavor: FlavorSpec,
    pub metadata: BTreeMap<String, String>,
    pub tags: Vec<String>,
    /// An evacuation is in flight (or stuck).
    pub evacuating: bool,
}

/// A nova-compute service as the fake holds it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeService {
    /// The UUID shown from 2.53.
    pub id: String,
    /// The integer shown before 2.53.
    pub legacy_id: i64,
    pub host: String,
    /// Nova's verdict (`state: up`).
    pub up: bool,
    /// Heartbeating (the test has not killed it).
    pub alive: bool,
    pub forced_down: bool,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
}

/// A migration record as the fake holds it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMigration {
    pub id: i64,
    pub uuid: String,
    pub instance_uuid: String,
    pub source_compute: String,
    pub dest_compute: Option<String>,
    /// accepted, pre-migrating, done, completed, failed, error.
    pub status: String,
    pub migration_type: String,
}

/// The running fake cloud. Dropping it stops the server. `Sync`: tests may
/// drive it from several threads.
#[derive(Debug)]
pub struct FakeCloud {
    shared: Arc<Shared>,
    server: http::Server,
    base: String,
}

impl Drop for FakeCloud {
    fn drop(&mut self) {
        self.server.stop();
    }
}

impl FakeCloud {
    /// A cloud with the default configuration and no hosts.
    pub fn start() -> std::io::Result<Self> {
        Self::with_config(FakeCloudConfig::default())
    }

    pub fn with_config(config: FakeCloudConfig) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::new(config));
        let server = http::Server::start(Arc::clone(&shared))?;
        let base = format!("http://{}", server.addr);
        shared.set_base(&base);
        Ok(Self {
            shared,
            server,
            base,
        })
    }

    // ------------------------------------------------------------ where

    /// `http://127.0.0.1:<port>`: also Glance's catalog URL.
    pub fn url(&self) -> String {
        self.base.clone()
    }

    pub fn port(&self) -> u16 {
        self.server.addr.port()
    }

    /// Keystone: `<url>/v3`.
    pub fn auth_url(&self) -> String {
        format!("{}/v3", self.base)
    }

    /// Nova: `<url>/v2.1`.
    pub fn compute_url(&self) -> String {
        format!("{}/v2.1", self.base)
    }

    /// Placement: `<url>/placement`.
    pub fn placement_url(&self) -> String {
        format!("{}/placement", self.base)
    }

    /// Glance: `<url>` (the catalog lists it without a version, as the lab).
    pub fn image_url(&self) -> String {
        self.base.clone()
    }

    pub fn config(&self) -> FakeCloudConfig {
        lock(&self.shared.state).cfg.clone()
    }

    /// A clouds.yaml with one cloud, `name`, authenticating with the
    /// password (project-scoped, region set).
    pub fn clouds_yaml(&self, name: &str) -> String {
        let c = self.config();
        format!(
            "clouds:\n  {name}:\n    auth:\n      auth_url: {}\n      username: {}\n      password: {}\n      \
             project_name: {}\n      user_domain_name: {}\n      project_domain_name: {}\n    \
             region_name: {}\n    interface: public\n    identity_api_version: 3\n",
            self.auth_url(),
            c.username,
            c.password,
            c.project_name,
            c.domain,
            c.domain,
            c.region
        )
    }

    /// The same with the application credential.
    pub fn clouds_yaml_application_credential(&self, name: &str) -> String {
        let c = self.config();
        format!(
            "clouds:\n  {name}:\n    auth_type: v3applicationcredential\n    auth:\n      auth_url: {}\n      \
             application_credential_id: {}\n      application_credential_secret: {}\n    region_name: {}\n",
            self.auth_url(),
            c.application_credential_id,
            c.application_credential_secret,
            c.region
        )
    }

    /// The `OS_*` variables of an openrc file for the password.
    pub fn openrc(&self) -> Vec<(String, String)> {
        let c = self.config();
        [
            ("OS_AUTH_URL", self.auth_url()),
            ("OS_USERNAME", c.username),
            ("OS_PASSWORD", c.password),
            ("OS_PROJECT_NAME", c.project_name),
            ("OS_USER_DOMAIN_NAME", c.domain.clone()),
            ("OS_PROJECT_DOMAIN_NAME", c.domain),
            ("OS_REGION_NAME", c.region),
            ("OS_INTERFACE", "public".to_owned()),
            ("OS_IDENTITY_API_VERSION", "3".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The password cloud, parsed by this crate.
    pub fn cloud_config(&self) -> crate::Result<CloudConfig> {
        CloudConfig::parse_clouds_yaml("fake", &self.clouds_yaml("fake"), "fake cloud", None)
    }

    /// Options suited to tests against the fake: short timeouts, 10 ms
    /// backoff, no proxy from the environment (a proxy would be asked for
    /// 127.0.0.1).
    pub fn session_options() -> SessionOptions {
        SessionOptions {
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            backoff: Duration::from_millis(10),
            use_env_proxy: false,
            ..SessionOptions::default()
        }
    }

    /// A session with [`FakeCloud::session_options`].
    pub fn session(&self) -> crate::Result<Arc<Session>> {
        Ok(Arc::new(Session::new(
            self.cloud_config()?,
            Self::session_options(),
        )?))
    }

    /// A Nova client through the catalog, at the default microversion cap.
    pub fn compute(&self, deadline: Deadline) -> crate::Result<Compute> {
        Compute::connect(self.session()?, ComputeOptions::default(), deadline)
    }

    // ------------------------------------------------------------ topology

    /// A nova-compute service (and hypervisor) on `host`, up and enabled;
    /// returns its UUID. Adding an existing host changes nothing.
    pub fn add_host(&self, host: &str) -> String {
        self.shared.with(|s, _| s.add_host(host))
    }

    pub fn add_hosts(&self, hosts: &[&str]) {
        for h in hosts {
            self.add_host(h);
        }
    }

    /// Create a server (its host is added if new); returns its id. Nova
    /// records a `create` instance action for it.
    pub fn add_server(&self, spec: ServerSpec) -> String {
        self.shared.with(|s, now| s.add_server(spec, now))
    }

    /// Create a Glance image; returns its id.
    pub fn add_image(&self, spec: ImageSpec) -> String {
        self.shared.with(|s, _| s.add_image(spec))
    }

    pub fn server(&self, id: &str) -> Option<FakeServer> {
        self.shared.with(|s, _| s.server_snapshot(id))
    }

    /// Every server, oldest first.
    pub fn servers(&self) -> Vec<FakeServer> {
        self.shared.with(|s, _| s.servers_snapshot())
    }

    pub fn servers_on(&self, host: &str) -> Vec<FakeServer> {
        self.servers()
            .into_iter()
            .filter(|s| s.host.as_deref() == Some(host))
            .collect()
    }

    pub fn service(&self, host: &str) -> Option<FakeService> {
        self.shared.with(|s, now| s.service_snapshot(host, now))
    }

    /// Every migration record, oldest first.
    pub fn migrations(&self) -> Vec<FakeMigration> {
        self.shared.with(|s, _| s.migrations_snapshot())
    }

    // ------------------------------------------------------------ services

    /// The host dies: no more heartbeats. Nova still counts the service up
    /// for `service_down_time`, unless forced down or marked down.
    pub fn kill_service(&self, host: &str) {
        self.shared.with(|s, now| s.kill_service(host, now));
    }

    /// Nova notices the dead service now (as if `service_down_time` had
    /// passed); kills it if it was alive.
    pub fn mark_service_down(&self, host: &str) {
        self.shared.with(|s, now| s.mark_service_down(host, now));
    }

    /// nova-compute is back: heartbeats again (still down while forced
    /// down), and its `done` evacuations become `completed` after
    /// `cleanup_delay`.
    pub fn revive_service(&self, host: &str) {
        self.shared.with(|s, now| s.revive_service(host, now));
    }

    /// Set `forced_down` directly (no API call, no checks).
    pub fn set_forced_down(&self, host: &str, forced_down: bool) {
        self.shared
            .with(|s, _| s.set_service_flags(host, Some(forced_down), None));
    }

    /// Set disabled (with a reason) or enabled directly.
    pub fn set_disabled(&self, host: &str, disabled: bool, reason: Option<&str>) {
        self.shared.with(|s, _| {
            s.set_service_flags(host, None, Some((disabled, reason.map(str::to_owned))))
        });
    }

    // ------------------------------------------------------------ placement

    /// Set one inventory of `host`'s resource provider (bumps its
    /// generation, as Placement does).
    pub fn set_inventory(&self, host: &str, class: &str, inventory: FakeInventory) {
        self.shared
            .with(|s, _| s.set_inventory(host, class, Some(inventory)));
    }

    /// Room for exactly `n` servers of `flavor` more on `host` (memory and
    /// disk at ratio 1, nothing reserved; VCPU as many as memory allows).
    pub fn set_room_for(&self, host: &str, n: u64, flavor: &FlavorSpec) {
        self.shared.with(|s, _| {
            let used = s.usages(host);
            for (class, per) in [
                ("VCPU", u64::from(flavor.vcpus)),
                ("MEMORY_MB", u64::from(flavor.ram)),
                ("DISK_GB", u64::from(flavor.disk)),
            ] {
                let total = used.get(class).copied().unwrap_or(0) + n * per;
                s.set_inventory(host, class, Some(FakeInventory::new(total)));
            }
        });
    }

    /// `host`'s inventories.
    pub fn inventory(&self, host: &str) -> BTreeMap<String, FakeInventory> {
        self.shared.with(|s, _| {
            s.host(host)
                .map(|h| h.inventory.clone())
                .unwrap_or_default()
        })
    }

    /// What the servers on `host` use, per resource class.
    pub fn usages(&self, host: &str) -> BTreeMap<String, u64> {
        self.shared.with(|s, _| s.usages(host))
    }

    /// The UUID of `host`'s resource provider (its hypervisor's).
    pub fn resource_provider(&self, host: &str) -> Option<String> {
        self.shared
            .with(|s, _| s.host(host).map(|h| h.hypervisor_uuid.clone()))
    }

    // ------------------------------------------------------------ evacuation

    /// Outcome of the next evacuations of `server_id` (overrides the
    /// configured default).
    pub fn set_evacuation_outcome(&self, server_id: &str, outcome: EvacuationOutcome) {
        self.shared.with(|s, _| s.set_outcome(server_id, outcome));
    }

    pub fn set_evacuation_time(&self, time: Duration) {
        self.shared.with(|s, _| s.cfg.evacuation_time = time);
    }

    /// Land (or fail) every evacuation in flight now; stuck ones stay.
    pub fn finish_evacuations(&self) {
        self.shared.with(|s, now| s.finish_evacuations(now));
    }

    /// Every evacuate call that reached Nova's checks, in order.
    pub fn evacuate_calls(&self) -> Vec<EvacuateCall> {
        self.shared.with(|s, _| s.evacuate_calls.clone())
    }

    /// How many evacuates of `server_id` Nova accepted (200), duplicates
    /// included: the number an exactly-once evacuator keeps at 1.
    pub fn accepted_evacuations(&self, server_id: &str) -> usize {
        self.shared.with(|s, _| {
            s.evacuate_calls
                .iter()
                .filter(|c| c.server_id == server_id && c.status == 200)
                .count()
        })
    }

    // ------------------------------------------------------------ tokens

    /// Every token issued so far is refused from now on (401): clients must
    /// authenticate again.
    pub fn revoke_tokens(&self) {
        self.shared.with(|s, _| s.revoke_tokens());
    }

    /// While on, every token is refused, new ones included.
    pub fn refuse_all_tokens(&self, on: bool) {
        self.shared.with(|s, _| s.refuse_all_tokens = on);
    }

    /// Tokens issued (successful authentications).
    pub fn tokens_issued(&self) -> usize {
        self.shared.with(|s, _| s.tokens_issued)
    }

    // ------------------------------------------------------------ faults

    /// The next `times` requests matching `route` get `fault`. Rules apply
    /// in the order they were added; each request takes at most one.
    pub fn inject(&self, route: Route, fault: Fault, times: usize) {
        self.shared.with(|s, _| s.inject(route, fault, Some(times)));
    }

    /// Every request matching `route` gets `fault` until
    /// [`FakeCloud::clear_faults`].
    pub fn inject_always(&self, route: Route, fault: Fault) {
        self.shared.with(|s, _| s.inject(route, fault, None));
    }

    pub fn clear_faults(&self) {
        self.shared.with(|s, _| s.faults.clear());
    }

    /// Stop listening: connections are refused at connect (so a client
    /// knows the request was never sent) until [`FakeCloud::go_online`].
    /// Returns once nothing listens.
    pub fn go_offline(&self) {
        self.server.go_offline();
    }

    /// Listen again on the same port.
    pub fn go_online(&self) -> std::io::Result<()> {
        self.server.go_online()
    }

    /// Offline now, online again after `duration` (from another thread).
    pub fn offline_for(&self, duration: Duration) {
        self.go_offline();
        let control = Arc::clone(self.server.control());
        let _ = std::thread::Builder::new()
            .name("fake-cloud-online".into())
            .spawn(move || {
                if control.sleep(duration) {
                    http::wake_online(&control);
                }
            });
    }

    // ------------------------------------------------------------ log

    /// Every request so far (the last 100 000), oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.with(|s, _| s.log.iter().cloned().collect())
    }

    /// Requests received for `route` ([`Route::Any`]: all), faulted ones
    /// included.
    pub fn count(&self, route: Route) -> usize {
        self.shared.with(|s, _| s.count(route))
    }

    /// Forget the request log and the counters (not the state).
    pub fn reset_log(&self) {
        self.shared.with(|s, _| {
            s.log.clear();
            s.counts.clear();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = Route::classify;
        assert_eq!(r("POST", "/v3/auth/tokens"), Route::Token);
        assert_eq!(r("GET", "/"), Route::Version);
        assert_eq!(r("GET", "/v2.1/"), Route::Version);
        assert_eq!(r("GET", "/v2.1/servers/detail"), Route::Servers);
        assert_eq!(r("GET", "/v2.1/servers/abc"), Route::Server);
        assert_eq!(r("POST", "/v2.1/servers/abc/action"), Route::ServerAction);
        assert_eq!(
            r("GET", "/v2.1/servers/a%2Fb/os-instance-actions"),
            Route::InstanceActions
        );
        assert_eq!(
            r("PUT", "/v2.1/os-services/force-down"),
            Route::ServiceUpdate
        );
        assert_eq!(r("GET", "/v2/images"), Route::Images);
        assert_eq!(
            r("GET", "/placement/resource_providers/x/usages"),
            Route::Placement
        );
        assert_eq!(r("POST", "/placement/resource_providers"), Route::Other);
        assert_eq!(r("DELETE", "/v2.1/servers/abc"), Route::Other);
        assert!(Route::Any.matches(Route::Token) && !Route::Server.matches(Route::Servers));
    }

    #[test]
    fn decoding() {
        assert_eq!(http::percent_decode("a%2Fb%zz%4"), "a/b%zz%4");
        assert_eq!(http::percent_decode("%+1"), "%+1");
        assert_eq!(http::percent_encode("a b/é"), "a%20b%2F%C3%A9");
    }

    #[test]
    fn statuses_by_state() {
        let cloud = FakeCloud::start();
        let Ok(cloud) = cloud else { return };
        let id = cloud.add_server(ServerSpec::new("vm", "cmp1").stopped());
        assert_eq!(cloud.server(&id).map(|s| s.status), Some("SHUTOFF".into()));
        assert!(cloud.service("cmp1").is_some_and(|s| s.up && s.alive));
        cloud.kill_service("cmp1");
        assert!(cloud.service("cmp1").is_some_and(|s| s.up && !s.alive));
        cloud.set_forced_down("cmp1", true);
        assert!(cloud.service("cmp1").is_some_and(|s| !s.up));
    }
}
