//! nova-compute services: list, force down, disable with a reason, and undo.
//!
//! **Order when a host fails: force down, then disable.** Disabling (or
//! enabling) a compute service makes nova-api sync the
//! `COMPUTE_STATUS_DISABLED` trait by a synchronous RPC *call* to that
//! nova-compute, but only while Nova still counts the service as up. For a
//! dead host inside `service_down_time` that call waits for
//! `rpc_response_timeout` (60 s by default) and our request with it. Forced
//! down first, the service is down at once: evacuate is accepted and the
//! disable is a plain database update.
//!
//! **Order when it comes back: un-force, wait until Nova reports it up, then
//! enable.** Enabling while it still counts as down skips the trait sync, and
//! the stale "disabled" trait in Placement makes boots onto it fail with
//! NoValidHost for about a minute. Un-forcing is refused (400) while `done`
//! evacuation migrations remain from the host; they become `completed` a few
//! seconds after its nova-compute restarts: [`Error::EvacuationsNotCompleted`],
//! retry later.
//!
//! Two API forms: from 2.53 `PUT /os-services/{uuid}`; from 2.11 to 2.52 the
//! action URLs (`force-down`, `disable-log-reason`, `enable`) keyed by host
//! and binary.

use reqwest::Method;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use umha_common::Deadline;

use crate::compute::{Compute, NovaId, decode};
use crate::error::{Error, Result, bounded};
use crate::session::Retry;

const BINARY: &str = "nova-compute";
/// Nova stores `disabled_reason` in a 255-character column.
pub const MAX_REASON: usize = 255;

/// Enabled for scheduling or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceStatus {
    Enabled,
    Disabled,
    /// Anything else, e.g. "UNKNOWN" for a service in a down cell (2.69+).
    Other(String),
}

/// Nova's liveness verdict: heartbeats within `service_down_time`, and not
/// forced down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceState {
    Up,
    Down,
    Other(String),
}

fn status<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<ServiceStatus>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(|s| match s.as_str() {
        "enabled" => ServiceStatus::Enabled,
        "disabled" => ServiceStatus::Disabled,
        _ => ServiceStatus::Other(bounded(&s, 40)),
    }))
}

fn state<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<ServiceState>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(|s| match s.as_str() {
        "up" => ServiceState::Up,
        "down" => ServiceState::Down,
        _ => ServiceState::Other(bounded(&s, 40)),
    }))
}

fn flag<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

/// One row of `GET /os-services`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Service {
    /// Integer before 2.53, UUID from 2.53; absent for a down cell.
    #[serde(default)]
    pub id: Option<NovaId>,
    pub binary: String,
    pub host: String,
    #[serde(default)]
    pub zone: Option<String>,
    #[serde(default, deserialize_with = "status")]
    pub status: Option<ServiceStatus>,
    #[serde(default, deserialize_with = "state")]
    pub state: Option<ServiceState>,
    /// 2.11+.
    #[serde(default, deserialize_with = "flag")]
    pub forced_down: bool,
    #[serde(default)]
    pub disabled_reason: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

impl Service {
    pub fn is_up(&self) -> bool {
        self.state == Some(ServiceState::Up)
    }

    /// Nova will accept evacuations from this host.
    pub fn is_down(&self) -> bool {
        self.forced_down || self.state == Some(ServiceState::Down)
    }

    pub fn is_disabled(&self) -> bool {
        self.status == Some(ServiceStatus::Disabled)
    }
}

#[derive(Deserialize)]
struct ServicesBody {
    services: Vec<Service>,
}

/// Parse a `GET /os-services` answer.
pub fn parse_services(body: &[u8]) -> Result<Vec<Service>> {
    Ok(decode::<ServicesBody>(body, "service list")?.services)
}

/// A reason cut to what Nova stores, on a character boundary.
fn reason(text: &str) -> String {
    text.chars().take(MAX_REASON).collect()
}

impl Compute {
    /// `GET /os-services?binary=nova-compute[&host=H]`.
    pub fn compute_services(&self, host: Option<&str>, deadline: Deadline) -> Result<Vec<Service>> {
        let mut query = vec![("binary", BINARY)];
        if let Some(h) = host {
            query.push(("host", h));
        }
        let what = match host {
            Some(h) => format!("list nova-compute on {}", bounded(h, 80)),
            None => "list nova-compute services".to_owned(),
        };
        let url = self.url(&["os-services"], &query)?;
        let body = self.get(url, &what, deadline)?;
        let mut services = parse_services(&body)?;
        // The filters are applied by Nova, but an old or odd API may ignore
        // them: never act on a row for another host.
        services.retain(|s| s.binary == BINARY && host.is_none_or(|h| s.host == h));
        Ok(services)
    }

    /// The nova-compute service of `host`: exactly one, or an error.
    pub fn compute_service(&self, host: &str, deadline: Deadline) -> Result<Service> {
        let mut list = self.compute_services(Some(host), deadline)?;
        match list.len() {
            1 => Ok(list.remove(0)),
            0 => Err(Error::NotFound {
                what: format!("nova-compute on {}", bounded(host, 80)),
                message: "Nova has no nova-compute service on this host".to_owned(),
            }),
            n => Err(Error::malformed(
                "nova-compute service",
                format!("{n} nova-compute services on host {}", bounded(host, 80)),
            )),
        }
    }

    /// Mark the service down now, without waiting for `service_down_time`.
    /// Do this first (see the module documentation).
    pub fn force_down(&self, service: &Service, deadline: Deadline) -> Result<()> {
        self.set_forced_down(service, true, deadline)
    }

    /// Clear `forced_down`. [`Error::EvacuationsNotCompleted`] while `done`
    /// evacuations remain from this host.
    pub fn unforce_down(&self, service: &Service, deadline: Deadline) -> Result<()> {
        self.set_forced_down(service, false, deadline)
            .map_err(|e| match e {
                Error::BadRequest { what, message }
                    if message.contains("evacuation") && message.contains("migration") =>
                {
                    Error::EvacuationsNotCompleted { what, message }
                }
                other => other,
            })
    }

    fn set_forced_down(&self, service: &Service, down: bool, deadline: Deadline) -> Result<()> {
        let what = format!(
            "{} nova-compute on {}",
            if down { "force down" } else { "un-force" },
            bounded(&service.host, 80)
        );
        if self.version().at_least(2, 53) {
            let url = self.service_url(service, &what)?;
            self.put(url, &json!({ "forced_down": down }), &what, deadline)
        } else {
            let url = self.url(&["os-services", "force-down"], &[])?;
            let body = json!({ "host": service.host, "binary": BINARY, "forced_down": down });
            self.put(url, &body, &what, deadline)
        }
    }

    /// Disable scheduling to the host, with a reason an operator will see in
    /// `openstack compute service list --long` (cut to 255 characters).
    pub fn disable(&self, service: &Service, why: &str, deadline: Deadline) -> Result<()> {
        let what = format!("disable nova-compute on {}", bounded(&service.host, 80));
        let why = reason(why);
        if self.version().at_least(2, 53) {
            let url = self.service_url(service, &what)?;
            self.put(
                url,
                &json!({ "status": "disabled", "disabled_reason": why }),
                &what,
                deadline,
            )
        } else {
            let url = self.url(&["os-services", "disable-log-reason"], &[])?;
            let body = json!({ "host": service.host, "binary": BINARY, "disabled_reason": why });
            self.put(url, &body, &what, deadline)
        }
    }

    /// Enable scheduling again. Only once Nova reports the service up (see
    /// the module documentation).
    pub fn enable(&self, service: &Service, deadline: Deadline) -> Result<()> {
        let what = format!("enable nova-compute on {}", bounded(&service.host, 80));
        if self.version().at_least(2, 53) {
            let url = self.service_url(service, &what)?;
            self.put(url, &json!({ "status": "enabled" }), &what, deadline)
        } else {
            let url = self.url(&["os-services", "enable"], &[])?;
            self.put(
                url,
                &json!({ "host": service.host, "binary": BINARY }),
                &what,
                deadline,
            )
        }
    }

    fn service_url(&self, service: &Service, what: &str) -> Result<reqwest::Url> {
        match &service.id {
            Some(NovaId::Uuid(u)) => self.url(&["os-services", u], &[]),
            other => Err(Error::malformed(
                what,
                format!(
                    "at microversion {} the service id must be a UUID, got {}",
                    self.version(),
                    other
                        .as_ref()
                        .map(|i| i.to_string())
                        .unwrap_or_else(|| "none".to_owned())
                ),
            )),
        }
    }

    /// Setting a flag to a value is idempotent: retried like a GET.
    fn put(&self, url: reqwest::Url, body: &Value, what: &str, deadline: Deadline) -> Result<()> {
        self.send(
            Method::PUT,
            url,
            Some(body),
            Retry::Idempotent,
            what,
            deadline,
        )
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn both_id_forms_and_partial_rows() {
        let body = br#"{"services": [
            {"id": 7, "binary": "nova-compute", "host": "cmp1", "zone": "nova", "status": "enabled",
             "state": "up", "updated_at": "2024-05-01T12:00:00.000000", "disabled_reason": null, "forced_down": false},
            {"id": "c1b6b9a3-6bb7-4b6f-8b0e-0d8d5c2b0a11", "binary": "nova-compute", "host": "cmp2",
             "status": "disabled", "state": "down", "forced_down": true, "disabled_reason": "umha: fenced"},
            {"binary": "nova-compute", "host": "cmp3", "status": "UNKNOWN"}]}"#;
        let s = parse_services(body).unwrap_or_default();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].id, Some(NovaId::Number(7)));
        assert!(s[0].is_up() && !s[0].is_down() && !s[0].is_disabled());
        assert_eq!(
            s[1].id,
            Some(NovaId::Uuid("c1b6b9a3-6bb7-4b6f-8b0e-0d8d5c2b0a11".into()))
        );
        assert!(s[1].is_down() && s[1].is_disabled() && s[1].forced_down);
        assert_eq!(s[2].id, None);
        assert_eq!(s[2].status, Some(ServiceStatus::Other("UNKNOWN".into())));
        assert!(!s[2].is_up() && !s[2].is_down());
    }

    #[test]
    fn reasons_are_cut_on_characters() {
        let long = "é".repeat(400);
        assert_eq!(reason(&long).chars().count(), MAX_REASON);
    }

    #[test]
    fn malformed_lists() {
        for bad in [
            &b"{}"[..],
            b"{\"services\": {}}",
            br#"{"services": [{"id": 1}]}"#,
            br#"{"services": [{"binary": "b", "host": "h", "id": 1.5}]}"#,
        ] {
            assert!(
                parse_services(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_services(&body);
        }

        #[test]
        fn never_panics_on_json_shapes(id in prop_oneof![Just("1".to_owned()), Just("\"u\"".to_owned()), Just("null".to_owned()), "[-0-9.e\"a-z]{0,12}"],
                                       state in "[a-z\"]{0,8}", forced in "(true|false|null|1|\"x\")") {
            let body = format!(r#"{{"services": [{{"id": {id}, "binary": "nova-compute", "host": "h", "state": "{state}", "forced_down": {forced}}}]}}"#);
            let _ = parse_services(body.as_bytes());
        }
    }
}
