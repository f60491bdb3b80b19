//! Servers (instances): listing by host, reading one, evacuating, and
//! telling how far an evacuation has got.
//!
//! **Nova does not refuse a duplicate evacuate** in every window (the lab saw
//! a second call answer 200 and the instance end stuck), so never call
//! [`Compute::evacuate`] without first asking
//! [`Compute::evacuation_status`](crate::migration) whether one is in
//! progress or done.
//!
//! Evacuate bodies by microversion:
//! - before 2.14, `{"evacuate": {"onSharedStorage": bool}}`, required; the
//!   200 answer carries a generated `adminPass`, which we drop unread;
//! - from 2.14, `{"evacuate": {}}` with an optional `host`; Nova checks the
//!   storage itself;
//! - `force` (2.29–2.67) is never sent: bypassing the scheduler is not ours
//!   to decide;
//! - 2.95+ would leave instances STOPPED; the microversion cap keeps us below
//!   it (see [`crate::microversion`]).

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use umha_common::Deadline;

use crate::bulk;
use crate::compute::{Compute, Link, decode, has_next, nullable};
use crate::error::{Error, Result, bounded};
use crate::microversion::Microversion;
use crate::session::Retry;

/// The image a server booted from; `None` for boot-from-volume (Nova sends
/// `""` there).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Image {
    #[default]
    None,
    Id(String),
}

impl<'de> Deserialize<'de> for Image {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Object {
                #[serde(default)]
                id: Option<String>,
            },
        }
        Ok(match Option::<Raw>::deserialize(d)? {
            None => Image::None,
            Some(Raw::Text(s)) if s.is_empty() => Image::None,
            Some(Raw::Text(s)) => Image::Id(s),
            Some(Raw::Object { id: Some(id) }) if !id.is_empty() => Image::Id(id),
            Some(Raw::Object { .. }) => Image::None,
        })
    }
}

/// The flavor as embedded in a server: `{id, links}` before 2.47, the copy
/// with `original_name`, sizes and `extra_specs` from 2.47.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Flavor {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub original_name: Option<String>,
    #[serde(default)]
    pub vcpus: Option<u64>,
    #[serde(default)]
    pub ram: Option<u64>,
    #[serde(default)]
    pub disk: Option<u64>,
    #[serde(default)]
    pub ephemeral: Option<u64>,
    /// Swap in MB (Nova shows `""` for none in some versions).
    #[serde(default, deserialize_with = "swap_mb")]
    pub swap: Option<u64>,
    /// Absent before 2.47, or when policy hides them.
    #[serde(default, deserialize_with = "string_map")]
    pub extra_specs: BTreeMap<String, String>,
}

/// `swap`: a number of MB, or `""`/`null` for none.
fn swap_mb<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A volume attached to a server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VolumeAttachment {
    pub id: String,
    #[serde(default)]
    pub delete_on_termination: Option<bool>,
}

/// `{"k": "v"}`; a non-string value is kept as its JSON text rather than
/// failing the whole listing (metadata values are strings in Nova).
pub(crate) fn string_map<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<BTreeMap<String, String>, D::Error> {
    let raw: Option<BTreeMap<String, Value>> = Option::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => (k, s),
            other => (k, other.to_string()),
        })
        .collect())
}

/// One server, as `GET /servers/detail` and `GET /servers/{id}` give it.
/// Unknown fields are ignored; what older microversions or down cells leave
/// out is `None`/empty.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Server {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// ACTIVE, SHUTOFF, REBUILD, ERROR, ... ("UNKNOWN" in a down cell).
    #[serde(default, deserialize_with = "nullable")]
    pub status: String,
    #[serde(rename = "OS-EXT-STS:vm_state", default)]
    pub vm_state: Option<String>,
    /// `rebuilding`, `rebuild_block_device_mapping`, `rebuild_spawning`
    /// during an evacuation; `None` when idle.
    #[serde(rename = "OS-EXT-STS:task_state", default)]
    pub task_state: Option<String>,
    /// The compute host (admin only).
    #[serde(rename = "OS-EXT-SRV-ATTR:host", default)]
    pub host: Option<String>,
    #[serde(rename = "OS-EXT-SRV-ATTR:hypervisor_hostname", default)]
    pub hypervisor_hostname: Option<String>,
    /// UP, DOWN, MAINTENANCE, UNKNOWN or "" (2.16+).
    #[serde(default)]
    pub host_status: Option<String>,
    /// 2.9+.
    #[serde(default)]
    pub locked: Option<bool>,
    #[serde(default)]
    pub flavor: Option<Flavor>,
    #[serde(default)]
    pub image: Image,
    #[serde(default, deserialize_with = "string_map")]
    pub metadata: BTreeMap<String, String>,
    /// 2.26+.
    #[serde(default, deserialize_with = "nullable")]
    pub tags: Vec<String>,
    #[serde(
        rename = "os-extended-volumes:volumes_attached",
        default,
        deserialize_with = "nullable"
    )]
    pub volumes_attached: Vec<VolumeAttachment>,
    #[serde(rename = "OS-EXT-AZ:availability_zone", default)]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub updated: Option<String>,
}

/// Where a server stands with respect to an evacuation from `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Still on the source host, idle.
    OnSource,
    /// REBUILD / a `rebuild*` task state: Nova is on it.
    Rebuilding,
    /// On another host with no task running; `status` tells ACTIVE/SHUTOFF.
    Landed { host: String, status: String },
    /// ERROR.
    Failed,
    /// Some other task is running (deleting, migrating...).
    Busy { task_state: String },
    /// No host known (down cell, shelved-offloaded).
    Unknown,
}

/// What [`Server::flavor_extra_specs`] lends when there is no flavor.
static NO_SPECS: BTreeMap<String, String> = BTreeMap::new();

impl Server {
    /// The flavor's extra specs as embedded in the server (2.47+); empty
    /// before 2.47, when policy hides them, or when the flavor has none.
    /// From 2.47 the embedded flavor has no id, so this is the only way to
    /// read a flavor-level flag such as `evacuable` without a second call.
    pub fn flavor_extra_specs(&self) -> &BTreeMap<String, String> {
        self.flavor.as_ref().map_or(&NO_SPECS, |f| &f.extra_specs)
    }

    /// One extra spec of the flavor, see [`Server::flavor_extra_specs`].
    pub fn flavor_extra_spec(&self, key: &str) -> Option<&str> {
        self.flavor_extra_specs().get(key).map(String::as_str)
    }

    /// The image id; `None` for boot-from-volume.
    pub fn image_id(&self) -> Option<&str> {
        match &self.image {
            Image::Id(id) => Some(id),
            Image::None => None,
        }
    }

    pub fn is_boot_from_volume(&self) -> bool {
        self.image == Image::None
    }

    pub fn is_error(&self) -> bool {
        self.status.eq_ignore_ascii_case("ERROR")
    }

    pub fn is_rebuilding(&self) -> bool {
        self.status.eq_ignore_ascii_case("REBUILD")
            || self
                .task_state
                .as_deref()
                .is_some_and(|t| t.starts_with("rebuild"))
    }

    /// See [`Progress`].
    pub fn progress(&self, source: &str) -> Progress {
        if self.is_rebuilding() {
            return Progress::Rebuilding;
        }
        if self.is_error() {
            return Progress::Failed;
        }
        if let Some(t) = self.task_state.as_deref().filter(|t| !t.is_empty()) {
            return Progress::Busy {
                task_state: t.to_owned(),
            };
        }
        match self.host.as_deref() {
            Some(h) if h == source => Progress::OnSource,
            Some(h) if !h.is_empty() => Progress::Landed {
                host: h.to_owned(),
                status: self.status.clone(),
            },
            _ => Progress::Unknown,
        }
    }
}

/// How to evacuate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvacuateOptions {
    /// Target host; `None` lets the scheduler choose (recommended). Only
    /// from compute microversion 2.29, where Nova's scheduler still checks
    /// the host (room, filters) unless `force`, which this client never
    /// sends (2.68 dropped it); before 2.29 a named host bypasses every
    /// check, so [`Compute::evacuate`](crate::Compute::evacuate) refuses it.
    pub host: Option<String>,
    /// Only for microversions before 2.14, where Nova must be told. `false`
    /// (the default) rebuilds from the image; Nova refuses it with a 400 if
    /// the disk is in fact on shared storage, which is safe. `true` on
    /// storage that is not shared leaves the instance in ERROR.
    pub on_shared_storage: bool,
}

/// The evacuate action body for microversion `version`.
pub fn evacuate_body(version: Microversion, options: &EvacuateOptions) -> Value {
    let mut inner = serde_json::Map::new();
    if !version.at_least(2, 14) {
        inner.insert("onSharedStorage".into(), json!(options.on_shared_storage));
    }
    if let Some(h) = &options.host {
        inner.insert("host".into(), json!(h));
    }
    json!({ "evacuate": Value::Object(inner) })
}

#[derive(Deserialize)]
struct ServersPage {
    servers: Vec<Server>,
    #[serde(default)]
    servers_links: Option<Vec<Link>>,
}

#[derive(Deserialize)]
struct ServerBody {
    server: Server,
}

/// Parse one page of `GET /servers/detail`: the servers and whether a
/// `next` link follows.
pub fn parse_servers_page(body: &[u8]) -> Result<(Vec<Server>, bool)> {
    let page: ServersPage = decode(body, "server list")?;
    if let Some(s) = page.servers.iter().find(|s| s.id.is_empty()) {
        return Err(Error::malformed(
            "server list",
            format!("a server without id (name {:?})", bounded(&s.name, 60)),
        ));
    }
    let next = has_next(&page.servers_links);
    Ok((page.servers, next))
}

/// Parse `GET /servers/{id}`.
pub fn parse_server(body: &[u8]) -> Result<Server> {
    Ok(decode::<ServerBody>(body, "server")?.server)
}

impl Compute {
    /// Every server on `host`, all projects, every page.
    pub fn servers_on_host(&self, host: &str, deadline: Deadline) -> Result<Vec<Server>> {
        let what = format!("list servers on {}", bounded(host, 80));
        let servers = self.paged(
            &["servers", "detail"],
            &[("host", host), ("all_tenants", "1")],
            true,
            self.version(),
            parse_servers_page,
            |s: &Server| Some(s.id.clone()),
            &what,
            deadline,
        )?;
        // Nova filters by host for admins; a non-admin's filter is ignored
        // silently, which would list the wrong servers.
        if let Some(other) = servers
            .iter()
            .find(|s| s.host.as_deref().is_some_and(|h| h != host))
        {
            return Err(Error::malformed(
                &what,
                format!(
                    "server {} is on {:?}: the host filter was ignored (is the user admin?)",
                    bounded(&other.id, 60),
                    bounded(other.host.as_deref().unwrap_or(""), 60)
                ),
            ));
        }
        Ok(servers)
    }

    /// `GET /servers/{id}`.
    pub fn server(&self, id: &str, deadline: Deadline) -> Result<Server> {
        let what = format!("show server {}", bounded(id, 60));
        let url = self.url(&["servers", id], &[])?;
        let body = self.get(url, &what, deadline)?;
        parse_server(&body)
    }

    /// Several servers, at most `max_in_flight` requests at once; results
    /// in the order of `ids`.
    pub fn servers(
        &self,
        ids: &[String],
        max_in_flight: usize,
        deadline: Deadline,
    ) -> Vec<Result<Server>> {
        bulk::map_bounded(ids, max_in_flight, |id| self.server(id, deadline))
    }

    /// `POST /servers/{id}/action` `{"evacuate": ...}`.
    ///
    /// Not retried unless the connection could not be made: after any other
    /// failure Nova may have accepted it, and the caller must look at
    /// [`Compute::evacuation_status`] before trying again.
    /// "Compute service of X is still in use." comes back as
    /// [`Error::ServiceStillInUse`]; an instance in a task state that forbids
    /// it as [`Error::Conflict`].
    pub fn evacuate(&self, id: &str, options: &EvacuateOptions, deadline: Deadline) -> Result<()> {
        let what = format!("evacuate server {}", bounded(id, 60));
        if options.host.is_some() && !self.version().at_least(2, 29) {
            return Err(Error::VersionNotSupported {
                what,
                message: format!(
                    "evacuating to a named host needs compute microversion 2.29 (before it Nova skips the scheduler's checks of the host); Nova speaks {}",
                    self.version()
                ),
            });
        }
        let url = self.url(&["servers", id, "action"], &[])?;
        let body = evacuate_body(self.version(), options);
        // The pre-2.14 answer holds a generated adminPass: dropped unread.
        match self.send(
            Method::POST,
            url,
            Some(&body),
            Retry::ConnectOnly,
            &what,
            deadline,
        ) {
            Ok(_) => Ok(()),
            Err(Error::BadRequest { what, message }) if message.contains("still in use") => {
                Err(Error::ServiceStillInUse { what, message })
            }
            Err(e) => Err(e),
        }
    }

    /// Evacuate each of `ids`, at most `max_in_flight` at once; results in
    /// the order of `ids`. The caller has checked each one first.
    pub fn evacuate_many(
        &self,
        ids: &[String],
        options: &EvacuateOptions,
        max_in_flight: usize,
        deadline: Deadline,
    ) -> Vec<Result<()>> {
        bulk::map_bounded(ids, max_in_flight, |id| {
            self.evacuate(id, options, deadline)
        })
    }

    /// Poll `id` every `interval` until it has landed off `source`, failed,
    /// or the deadline passes; returns the last progress seen. A server that
    /// disappears (404) is reported as the error.
    pub fn wait_for_evacuation(
        &self,
        id: &str,
        source: &str,
        interval: Duration,
        deadline: Deadline,
    ) -> Result<Progress> {
        loop {
            let progress = self.server(id, deadline)?.progress(source);
            match progress {
                Progress::Landed { .. } | Progress::Failed => return Ok(progress),
                _ if !deadline.sleep(interval) || deadline.expired() => return Ok(progress),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DETAIL: &str = r#"{"servers": [
      {"id": "0a4b1f1e-8e2f-4d4c-9d2b-3d7c1e6b5a01", "name": "vm1", "status": "ACTIVE",
       "OS-EXT-STS:vm_state": "active", "OS-EXT-STS:task_state": null, "OS-EXT-STS:power_state": 1,
       "OS-EXT-SRV-ATTR:host": "cmp1", "OS-EXT-SRV-ATTR:hypervisor_hostname": "cmp1", "host_status": "DOWN",
       "locked": false, "image": {"id": "a1f0c6b2-0000-4000-8000-000000000001", "links": []},
       "flavor": {"vcpus": 1, "ram": 64, "disk": 1, "ephemeral": 0, "swap": 0, "original_name": "tiny",
                  "extra_specs": {"hw:cpu_policy": "shared", "trait:CUSTOM_HA": "required"}},
       "metadata": {"HA_Enabled": "True"}, "tags": ["evacuable"],
       "os-extended-volumes:volumes_attached": [], "some-future-field": {"x": 1}},
      {"id": "0a4b1f1e-8e2f-4d4c-9d2b-3d7c1e6b5a02", "name": "bfv", "status": "REBUILD",
       "OS-EXT-STS:task_state": "rebuild_spawning", "OS-EXT-SRV-ATTR:host": "cmp2",
       "image": "", "flavor": {"id": "1", "links": []}, "metadata": {},
       "os-extended-volumes:volumes_attached": [{"id": "v1", "delete_on_termination": false}]}
    ], "servers_links": [{"href": "http://elsewhere/v2.1/servers/detail?marker=x", "rel": "next"}]}"#;

    #[test]
    fn detail_page_parses_both_shapes() {
        let (servers, next) = parse_servers_page(DETAIL.as_bytes()).unwrap_or_default();
        assert!(next);
        assert_eq!(servers.len(), 2);
        let a = &servers[0];
        assert_eq!(a.host.as_deref(), Some("cmp1"));
        assert_eq!(a.host_status.as_deref(), Some("DOWN"));
        assert_eq!(a.locked, Some(false));
        assert!(!a.is_boot_from_volume());
        assert_eq!(a.tags, vec!["evacuable".to_owned()]);
        assert_eq!(
            a.metadata.get("HA_Enabled").map(String::as_str),
            Some("True")
        );
        let flavor = a.flavor.clone().unwrap_or_default();
        assert_eq!(flavor.original_name.as_deref(), Some("tiny"));
        assert_eq!(
            (flavor.vcpus, flavor.ram, flavor.swap),
            (Some(1), Some(64), Some(0))
        );
        let odd: Flavor = serde_json::from_str(r#"{"swap": "", "ram": 8}"#).unwrap_or_default();
        assert_eq!((odd.swap, odd.ram), (None, Some(8)));
        assert_eq!(
            flavor
                .extra_specs
                .get("trait:CUSTOM_HA")
                .map(String::as_str),
            Some("required")
        );
        assert_eq!(a.flavor_extra_spec("hw:cpu_policy"), Some("shared"));
        assert_eq!(a.flavor_extra_spec("evacuable"), None);
        assert_eq!(a.image_id(), Some("a1f0c6b2-0000-4000-8000-000000000001"));
        assert_eq!(a.progress("cmp1"), Progress::OnSource);
        assert_eq!(
            a.progress("cmp9"),
            Progress::Landed {
                host: "cmp1".into(),
                status: "ACTIVE".into()
            }
        );
        let b = &servers[1];
        assert!(b.is_boot_from_volume());
        assert_eq!(b.image_id(), None);
        assert!(b.flavor_extra_specs().is_empty());
        assert_eq!(b.flavor.as_ref().and_then(|f| f.id.as_deref()), Some("1"));
        assert!(b.tags.is_empty());
        assert_eq!(b.volumes_attached.len(), 1);
        assert_eq!(b.progress("cmp1"), Progress::Rebuilding);
    }

    #[test]
    fn minimal_and_partial_servers() {
        // A down cell (2.69+) answers id, status and links only.
        let body = br#"{"servers": [{"id": "x", "status": "UNKNOWN", "links": []}]}"#;
        let (s, next) = parse_servers_page(body).unwrap_or_default();
        assert!(!next);
        assert_eq!(s[0].progress("cmp1"), Progress::Unknown);
        assert!(s[0].is_boot_from_volume());
        let body = br#"{"server": {"id": "x", "name": null, "status": "ERROR", "metadata": null, "tags": null, "image": null}}"#;
        assert!(parse_server(body).is_ok_and(|s| s.progress("a") == Progress::Failed));
        assert!(parse_servers_page(br#"{"servers": [{"id": ""}]}"#).is_err());
        assert!(parse_servers_page(br#"{"servers": [{"name": "no id"}]}"#).is_err());
        assert!(parse_servers_page(br#"{"server": []}"#).is_err());
    }

    #[test]
    fn evacuate_bodies_per_version() {
        let default = EvacuateOptions::default();
        let to = EvacuateOptions {
            host: Some("cmp2".into()),
            on_shared_storage: true,
        };
        let v = |a, b| Microversion::new(a, b);
        assert_eq!(
            evacuate_body(v(2, 11), &default),
            json!({"evacuate": {"onSharedStorage": false}})
        );
        assert_eq!(
            evacuate_body(v(2, 13), &to),
            json!({"evacuate": {"onSharedStorage": true, "host": "cmp2"}})
        );
        assert_eq!(evacuate_body(v(2, 14), &default), json!({"evacuate": {}}));
        assert_eq!(
            evacuate_body(v(2, 53), &to),
            json!({"evacuate": {"host": "cmp2"}})
        );
        assert_eq!(evacuate_body(v(2, 87), &default), json!({"evacuate": {}}));
        // Never "force", whatever the version.
        for minor in 1..=94 {
            assert!(
                !evacuate_body(v(2, minor), &to)
                    .to_string()
                    .contains("force")
            );
        }
    }

    proptest! {
        #[test]
        fn page_never_panics(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_servers_page(&body);
            let _ = parse_server(&body);
        }

        #[test]
        fn odd_field_types_never_panic(
            image in prop_oneof![Just("\"\"".to_owned()), Just("null".to_owned()), Just("{}".to_owned()), Just("{\"id\": 3}".to_owned()), "[0-9a-z\"{}\\[\\]]{0,10}"],
            meta in prop_oneof![Just("{\"a\": 1}".to_owned()), Just("null".to_owned()), Just("[]".to_owned()), "[0-9a-z\"{}:]{0,10}"],
            task in prop_oneof![Just("null".to_owned()), Just("\"rebuilding\"".to_owned()), Just("7".to_owned())],
        ) {
            let body = format!(r#"{{"servers": [{{"id": "s", "image": {image}, "metadata": {meta}, "OS-EXT-STS:task_state": {task}}}]}}"#);
            if let Ok((s, _)) = parse_servers_page(body.as_bytes()) {
                let _ = s[0].progress("h");
            }
        }
    }
}
