//! Placement: how much room a compute host has left, for choosing a
//! reserved host that can take a failed host's instances.
//!
//! A compute node is a resource provider whose UUID is the compute node's
//! (the hypervisor `id` from compute microversion 2.53), named after its
//! hypervisor hostname. Its room per resource class (`VCPU`, `MEMORY_MB`,
//! `DISK_GB`, ...) is Placement's own rule: `(total - reserved) *
//! allocation_ratio` minus what is allocated (its usages), and one
//! allocation must also respect `min_unit`, `max_unit` and `step_size`.
//! What an instance needs is derived from its flavor as Nova's scheduler
//! derives it ([`flavor_resources`]).
//!
//! Placement's own answer is the exact one; Nova's hypervisor statistics
//! ignore allocation ratios and reservations. It is still only a forecast:
//! the scheduler decides when the evacuate runs, and an evacuation accepted
//! a moment ago may not be allocated yet.
//!
//! Only microversion 1.0 requests are made (provider listing by name,
//! inventories, usages, and one inventory update for tests and labs), so
//! any Placement answers them.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::{Value, json};
use umha_common::Deadline;

use crate::error::{Error, Result, bounded};
use crate::server::Flavor;
use crate::session::{Call, Retry, Session, attempts_note, parse_url};

/// The microversion every request is sent with.
const VERSION: &str = "placement 1.0";

/// The resource classes a flavor asks for: class → amount. Classes with a
/// zero amount are left out.
pub type Resources = BTreeMap<String, u64>;

/// A resource provider (`GET /resource_providers`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ResourceProvider {
    pub uuid: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub generation: Option<i64>,
}

/// One inventory record of a provider.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Inventory {
    pub total: u64,
    #[serde(default)]
    pub reserved: u64,
    #[serde(default = "one")]
    pub min_unit: u64,
    #[serde(default)]
    pub max_unit: Option<u64>,
    #[serde(default = "one")]
    pub step_size: u64,
    #[serde(default = "ratio_one")]
    pub allocation_ratio: f64,
}

fn one() -> u64 {
    1
}

fn ratio_one() -> f64 {
    1.0
}

impl Inventory {
    /// An inventory of `total` with Placement's defaults (no reservation,
    /// ratio 1, any unit).
    pub fn new(total: u64) -> Self {
        Self {
            total,
            reserved: 0,
            min_unit: 1,
            max_unit: Some(total),
            step_size: 1,
            allocation_ratio: 1.0,
        }
    }

    /// What may be allocated in total: `(total - reserved) *
    /// allocation_ratio`, rounded down as Placement does.
    pub fn capacity(&self) -> u64 {
        let base = self.total.saturating_sub(self.reserved) as f64;
        let ratio = if self.allocation_ratio.is_finite() && self.allocation_ratio > 0.0 {
            self.allocation_ratio
        } else {
            0.0
        };
        // Float to integer casts saturate; the product is never negative.
        (base * ratio).floor() as u64
    }
}

/// `GET /resource_providers/{uuid}/inventories`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Inventories {
    #[serde(rename = "inventories")]
    pub classes: BTreeMap<String, Inventory>,
    /// Needed to update an inventory (optimistic concurrency).
    pub resource_provider_generation: i64,
}

#[derive(Deserialize)]
struct UsagesBody {
    usages: BTreeMap<String, u64>,
}

#[derive(Deserialize)]
struct ProvidersBody {
    resource_providers: Vec<ResourceProvider>,
}

/// One resource class of a provider: how much is left, and the per-
/// allocation limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassRoom {
    pub capacity: u64,
    pub used: u64,
    pub min_unit: u64,
    pub max_unit: u64,
    pub step_size: u64,
}

impl ClassRoom {
    pub fn free(&self) -> u64 {
        self.capacity.saturating_sub(self.used)
    }
}

/// The room left on one provider, per resource class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Room {
    pub classes: BTreeMap<String, ClassRoom>,
}

/// Why an allocation does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    pub class: String,
    pub needed: u64,
    pub free: u64,
    /// When it is not the amount left but a unit rule (`max_unit`, ...).
    pub rule: Option<String>,
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.rule {
            Some(rule) => write!(f, "{} {}: {rule}", self.class, self.needed),
            None => write!(
                f,
                "{} needs {}, {} free",
                self.class, self.needed, self.free
            ),
        }
    }
}

impl Room {
    /// From a provider's inventories and usages.
    pub fn new(inventories: &BTreeMap<String, Inventory>, usages: &BTreeMap<String, u64>) -> Self {
        let classes = inventories
            .iter()
            .map(|(class, inv)| {
                let room = ClassRoom {
                    capacity: inv.capacity(),
                    used: usages.get(class).copied().unwrap_or(0),
                    min_unit: inv.min_unit.max(1),
                    max_unit: inv.max_unit.unwrap_or(inv.total),
                    step_size: inv.step_size.max(1),
                };
                (class.clone(), room)
            })
            .collect();
        Self { classes }
    }

    /// `None` when `need` fits as one allocation; else the first class
    /// that does not.
    pub fn shortfall(&self, need: &Resources) -> Option<Shortfall> {
        for (class, &amount) in need.iter().filter(|(_, a)| **a > 0) {
            let short = |free: u64, rule: Option<String>| Shortfall {
                class: class.clone(),
                needed: amount,
                free,
                rule,
            };
            let Some(room) = self.classes.get(class) else {
                return Some(short(
                    0,
                    Some("the provider has no such inventory".to_owned()),
                ));
            };
            if amount > room.free() {
                return Some(short(room.free(), None));
            }
            if amount > room.max_unit {
                return Some(short(
                    room.free(),
                    Some(format!("above max_unit {}", room.max_unit)),
                ));
            }
            if amount < room.min_unit {
                return Some(short(
                    room.free(),
                    Some(format!("below min_unit {}", room.min_unit)),
                ));
            }
            if amount % room.step_size != 0 {
                return Some(short(
                    room.free(),
                    Some(format!("not a multiple of step_size {}", room.step_size)),
                ));
            }
        }
        None
    }

    /// Count `need` as allocated.
    pub fn take(&mut self, need: &Resources) {
        for (class, amount) in need {
            if let Some(room) = self.classes.get_mut(class) {
                room.used = room.used.saturating_add(*amount);
            }
        }
    }

    /// What is left of `class` (0 when there is no such inventory).
    pub fn free(&self, class: &str) -> u64 {
        self.classes.get(class).map_or(0, ClassRoom::free)
    }
}

impl fmt::Display for Room {
    /// `VCPU 12/128 MEMORY_MB 448/24576 ...`: free/capacity per class.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (class, room) in &self.classes {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{class} {}/{} free", room.free(), room.capacity)?;
        }
        Ok(())
    }
}

/// What an instance of `flavor` allocates, as Nova's scheduler derives it:
/// `VCPU` (or `PCPU` with `hw:cpu_policy=dedicated`), `MEMORY_MB`, and
/// `DISK_GB` = root disk (none when booted from a volume) + ephemeral +
/// swap rounded up to whole GB; `resources:<CLASS>=<n>` extra specs replace
/// or add a class (0 removes it). `None` when the flavor's sizes are not
/// known (the server was read below compute microversion 2.47).
pub fn flavor_resources(flavor: &Flavor, boot_from_volume: bool) -> Option<Resources> {
    let vcpus = flavor.vcpus?;
    let ram = flavor.ram?;
    let disk = if boot_from_volume {
        0
    } else {
        flavor.disk.unwrap_or(0)
    };
    let swap_gb = flavor.swap.unwrap_or(0).div_ceil(1024);
    let disk = disk
        .saturating_add(flavor.ephemeral.unwrap_or(0))
        .saturating_add(swap_gb);
    let dedicated = flavor
        .extra_specs
        .get("hw:cpu_policy")
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("dedicated"));
    let mut need = Resources::new();
    need.insert((if dedicated { "PCPU" } else { "VCPU" }).to_owned(), vcpus);
    need.insert("MEMORY_MB".to_owned(), ram);
    need.insert("DISK_GB".to_owned(), disk);
    for (key, value) in &flavor.extra_specs {
        if let Some(class) = key.strip_prefix("resources:")
            && let Ok(amount) = value.trim().parse::<u64>()
            && !class.is_empty()
        {
            need.insert(class.to_owned(), amount);
        }
    }
    need.retain(|_, amount| *amount > 0);
    Some(need)
}

/// A Placement client bound to one endpoint.
#[derive(Debug)]
pub struct Placement {
    session: Arc<Session>,
    base: Url,
}

/// Placement's error body `{"errors": [{"detail": ...}]}`, else the raw text.
fn error_detail(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let e = v.get("errors")?.as_array()?.first()?;
    e.get("detail")
        .or_else(|| e.get("title"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

impl Placement {
    /// The `placement` endpoint from the catalog.
    pub fn connect(session: Arc<Session>, deadline: Deadline) -> Result<Self> {
        let endpoint = session.endpoint("placement", deadline)?;
        Self::connect_to(session, &endpoint)
    }

    /// As [`Placement::connect`], with the endpoint given.
    pub fn connect_to(session: Arc<Session>, endpoint: &str) -> Result<Self> {
        let mut base = parse_url(endpoint.trim_end_matches('/'), "placement endpoint")?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "placement endpoint {:?} is not an http(s) URL",
                bounded(base.as_str(), 120)
            )));
        }
        base.set_fragment(None);
        base.set_query(None);
        Ok(Self { session, base })
    }

    pub fn endpoint(&self) -> &str {
        self.base.as_str()
    }

    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| Error::Config("placement endpoint cannot take a path".to_owned()))?;
            path.pop_if_empty();
            for s in segments {
                path.push(s);
            }
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    fn request(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        what: &str,
        deadline: Deadline,
    ) -> Result<Vec<u8>> {
        let headers = [("OpenStack-API-Version", VERSION.to_owned())];
        let call = Call {
            method,
            url,
            body,
            headers: &headers,
            // Reads, and setting an inventory to a value guarded by the
            // provider's generation: both harmless to repeat.
            retry: Retry::Idempotent,
            what,
        };
        let answer = self.session.call(&call, deadline)?;
        if answer.is_success() {
            return Ok(answer.body);
        }
        let message = match error_detail(&answer.body) {
            Some(d) => bounded(&self.session.scrub(&d, None), crate::error::MAX_QUOTE),
            None => self.session.quote(&answer.body, None),
        } + &attempts_note(answer.attempts());
        Err(Error::from_status(what, answer.status, message))
    }

    /// The providers named `name` (a compute node's hypervisor hostname).
    pub fn providers_named(&self, name: &str, deadline: Deadline) -> Result<Vec<ResourceProvider>> {
        let what = format!("list resource providers named {}", bounded(name, 80));
        let url = self.url(&["resource_providers"], &[("name", name)])?;
        let body = self.request(Method::GET, url, None, &what, deadline)?;
        let list: ProvidersBody =
            serde_json::from_slice(&body).map_err(|e| Error::json(&what, &e))?;
        let mut seen = HashSet::new();
        Ok(list
            .resource_providers
            .into_iter()
            .filter(|p| p.name == name && seen.insert(p.uuid.clone()))
            .collect())
    }

    /// `GET /resource_providers/{uuid}/inventories`.
    pub fn inventories(&self, uuid: &str, deadline: Deadline) -> Result<Inventories> {
        let what = format!("inventories of resource provider {}", bounded(uuid, 60));
        let url = self.url(&["resource_providers", uuid, "inventories"], &[])?;
        let body = self.request(Method::GET, url, None, &what, deadline)?;
        serde_json::from_slice(&body).map_err(|e| Error::json(&what, &e))
    }

    /// `GET /resource_providers/{uuid}/usages`: class → amount allocated.
    pub fn usages(&self, uuid: &str, deadline: Deadline) -> Result<BTreeMap<String, u64>> {
        let what = format!("usages of resource provider {}", bounded(uuid, 60));
        let url = self.url(&["resource_providers", uuid, "usages"], &[])?;
        let body = self.request(Method::GET, url, None, &what, deadline)?;
        let u: UsagesBody = serde_json::from_slice(&body).map_err(|e| Error::json(&what, &e))?;
        Ok(u.usages)
    }

    /// The room left on provider `uuid` (two reads).
    pub fn room(&self, uuid: &str, deadline: Deadline) -> Result<Room> {
        let inventories = self.inventories(uuid, deadline)?;
        let usages = self.usages(uuid, deadline)?;
        Ok(Room::new(&inventories.classes, &usages))
    }

    /// `PUT /resource_providers/{uuid}/inventories/{class}`, guarded by the
    /// provider's `generation` (a conflict, 409, means it changed: read and
    /// try again). For tests and labs that shape a host's room; nova-compute
    /// keeps `allocation_ratio` as set here unless its configuration pins
    /// one, and resets `total` and `reserved` from its own view.
    pub fn set_inventory(
        &self,
        uuid: &str,
        class: &str,
        generation: i64,
        inventory: &Inventory,
        deadline: Deadline,
    ) -> Result<()> {
        let what = format!(
            "update {} inventory of resource provider {}",
            bounded(class, 40),
            bounded(uuid, 60)
        );
        let url = self.url(&["resource_providers", uuid, "inventories", class], &[])?;
        let mut body = json!({
            "resource_provider_generation": generation,
            "total": inventory.total,
            "reserved": inventory.reserved,
            "min_unit": inventory.min_unit,
            "step_size": inventory.step_size,
            "allocation_ratio": inventory.allocation_ratio,
        });
        if let (Some(max), Some(o)) = (inventory.max_unit, body.as_object_mut()) {
            o.insert("max_unit".into(), json!(max));
        }
        self.request(Method::PUT, url, Some(&body), &what, deadline)
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn flavor(vcpus: u64, ram: u64, disk: u64) -> Flavor {
        Flavor {
            vcpus: Some(vcpus),
            ram: Some(ram),
            disk: Some(disk),
            ..Flavor::default()
        }
    }

    fn res(pairs: &[(&str, u64)]) -> Resources {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn capacity_is_placement_s_rule() {
        let mut inv = Inventory::new(16384);
        inv.reserved = 512;
        inv.allocation_ratio = 1.5;
        assert_eq!(inv.capacity(), 23_808);
        inv.allocation_ratio = 0.00084;
        assert_eq!(inv.capacity(), 13);
        inv.allocation_ratio = f64::NAN;
        assert_eq!(inv.capacity(), 0);
        inv.reserved = 20_000;
        inv.allocation_ratio = 2.0;
        assert_eq!(inv.capacity(), 0);
    }

    #[test]
    fn flavors_become_resources_as_nova_counts_them() {
        assert_eq!(
            flavor_resources(&flavor(1, 64, 1), false),
            Some(res(&[("VCPU", 1), ("MEMORY_MB", 64), ("DISK_GB", 1)]))
        );
        // Boot from volume: no root disk; swap rounds up to whole GB.
        let mut f = flavor(2, 2048, 20);
        f.ephemeral = Some(5);
        f.swap = Some(1500);
        assert_eq!(
            flavor_resources(&f, true),
            Some(res(&[("VCPU", 2), ("MEMORY_MB", 2048), ("DISK_GB", 7)]))
        );
        let mut f = flavor(4, 512, 0);
        f.extra_specs
            .insert("hw:cpu_policy".into(), "dedicated".into());
        f.extra_specs
            .insert("resources:CUSTOM_GPU".into(), "1".into());
        f.extra_specs
            .insert("resources:MEMORY_MB".into(), "0".into());
        assert_eq!(
            flavor_resources(&f, false),
            Some(res(&[("PCPU", 4), ("CUSTOM_GPU", 1)]))
        );
        // Below 2.47 the embedded flavor has no sizes.
        assert_eq!(flavor_resources(&Flavor::default(), false), None);
    }

    #[test]
    fn room_checks_amounts_and_units() {
        let mut inventories = BTreeMap::new();
        let mut vcpu = Inventory::new(4);
        vcpu.allocation_ratio = 2.0;
        inventories.insert("VCPU".to_owned(), vcpu);
        let mut mem = Inventory::new(1024);
        mem.max_unit = Some(256);
        inventories.insert("MEMORY_MB".to_owned(), mem);
        let usages = res(&[("VCPU", 6), ("MEMORY_MB", 256)]);
        let mut room = Room::new(&inventories, &usages);
        assert_eq!(room.free("VCPU"), 2);
        assert_eq!(room.free("MEMORY_MB"), 768);
        assert_eq!(
            room.shortfall(&res(&[("VCPU", 2), ("MEMORY_MB", 128)])),
            None
        );
        let too_big = room.shortfall(&res(&[("MEMORY_MB", 300)])).unwrap();
        assert!(too_big.to_string().contains("max_unit 256"), "{too_big}");
        let missing = room.shortfall(&res(&[("DISK_GB", 1)]));
        assert!(missing.is_some_and(|s| s.class == "DISK_GB"));
        room.take(&res(&[("VCPU", 2), ("MEMORY_MB", 128)]));
        let s = room.shortfall(&res(&[("VCPU", 1)]));
        assert_eq!(
            s.map(|s| s.to_string()),
            Some("VCPU needs 1, 0 free".to_owned())
        );
        assert_eq!(room.to_string(), "MEMORY_MB 640/1024 free, VCPU 0/8 free");
        // Zero amounts always fit.
        assert_eq!(room.shortfall(&res(&[("VCPU", 0)])), None);
    }

    #[test]
    fn answers_parse() {
        let inv: Inventories = serde_json::from_slice(
            br#"{"inventories": {"VCPU": {"total": 1000, "reserved": 0, "min_unit": 1, "max_unit": 1000,
                "step_size": 1, "allocation_ratio": 16.0},
                "MEMORY_MB": {"total": 800000, "reserved": 512, "allocation_ratio": 0.00084}},
                "resource_provider_generation": 7}"#,
        )
        .unwrap();
        assert_eq!(inv.resource_provider_generation, 7);
        assert_eq!(inv.classes["VCPU"].capacity(), 16_000);
        assert_eq!(inv.classes["MEMORY_MB"].max_unit, None);
        assert_eq!(inv.classes["MEMORY_MB"].capacity(), 671);
        assert_eq!(
            error_detail(br#"{"errors": [{"status": 404, "title": "Not Found", "detail": "No resource provider with uuid x found"}]}"#),
            Some("No resource provider with uuid x found".to_owned())
        );
        assert_eq!(error_detail(b"<html>"), None);
    }

    proptest! {
        #[test]
        fn decoders_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = serde_json::from_slice::<Inventories>(&body);
            let _ = serde_json::from_slice::<UsagesBody>(&body);
            let _ = serde_json::from_slice::<ProvidersBody>(&body);
            let _ = error_detail(&body);
        }

        #[test]
        fn take_then_shortfall_is_consistent(total in 0u64..10_000, used in 0u64..10_000, need in 0u64..10_000) {
            let mut inv = BTreeMap::new();
            inv.insert("VCPU".to_owned(), Inventory::new(total));
            let usages = res(&[("VCPU", used)]);
            let room = Room::new(&inv, &usages);
            let fits = room.shortfall(&res(&[("VCPU", need)])).is_none();
            prop_assert_eq!(fits, need == 0 || (need <= total && used + need <= total));
        }
    }
}
