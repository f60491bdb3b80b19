//! Nova, for the reports: the compute services `umha status` shows, and
//! `umha snapshot-nova`, which saves what `umha simulate --nova` replays.
//!
//! The snapshot keeps Nova's answers as Nova gave them (every field, not
//! just what this version of umha reads), so a capture taken today still
//! says everything to a later `umha simulate`. Its format is one JSON object:
//!
//! ```text
//! {"microversion": "2.93", "captured_at": "2026-11-22T10:18:20Z",
//!  "services": [ ...GET /os-services?binary=nova-compute, "services"... ],
//!  "servers":  [ ...GET /servers/detail?all_tenants=1, "servers", every page... ]}
//! ```
//!
//! Only `services` and `servers` are required; the same file can be made by
//! hand from `curl` answers (see [`crate::simulate`]).

use std::collections::BTreeMap;
use std::time::Duration;

use openstack::session::Call;
use openstack::{Compute, ComputeOptions, Retry};
use reqwest::{Method, Url};
use serde_json::{Value, json};
use umha_common::Deadline;
use umha_evacuator::config::Config;

use crate::CliError;
use crate::simulate::NovaSnapshot;
use crate::status::ServiceView;
use crate::when;

/// How long `umha status` waits for Nova before reporting it unreachable:
/// the CIB part of the report should not wait a minute behind a dead API.
pub const STATUS_TIMEOUT: Duration = Duration::from_secs(15);

/// Servers per page (Nova's default `max_limit`).
const PAGE: usize = 1000;
/// More pages than this is a paging loop, not a cloud.
const MAX_PAGES: usize = 1000;

fn connect(config: &Config, deadline: Deadline) -> Result<Compute, CliError> {
    let session = umha_evacuator::agent::session(config)?;
    Ok(Compute::connect(
        session,
        ComputeOptions::default(),
        deadline,
    )?)
}

/// Nova's compute services by host, for `umha status`.
pub fn services(
    config: &Config,
    deadline: Deadline,
) -> Result<BTreeMap<String, ServiceView>, CliError> {
    let compute = connect(config, deadline)?;
    Ok(compute
        .compute_services(None, deadline)?
        .iter()
        .map(|s| (s.host.clone(), ServiceView::from_service(s)))
        .collect())
}

/// `umha snapshot-nova`: the services and every server, pretty JSON.
pub fn snapshot(config: &Config, deadline: Deadline) -> Result<String, CliError> {
    let compute = connect(config, deadline)?;
    let services = get(
        &compute,
        &["os-services"],
        &[("binary", "nova-compute")],
        deadline,
    )?;
    openstack::service::parse_services(&services)?;
    let services = list(&services, "services")?;
    let mut servers: Vec<Value> = Vec::new();
    let mut marker: Option<String> = None;
    let limit = PAGE.to_string();
    for _ in 0..MAX_PAGES {
        let mut query = vec![("all_tenants", "1"), ("limit", limit.as_str())];
        if let Some(m) = &marker {
            query.push(("marker", m.as_str()));
        }
        let page = get(&compute, &["servers", "detail"], &query, deadline)?;
        // Each page through the client's own decoder: a snapshot that
        // `umha simulate` could not read is refused here, not there.
        let (_, next) = openstack::server::parse_servers_page(&page)?;
        let items = list(&page, "servers")?;
        let last = items
            .last()
            .and_then(|s| s.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        servers.extend(items);
        match last {
            Some(id) if next && marker.as_deref() != Some(id.as_str()) => marker = Some(id),
            _ => {
                let doc = json!({
                    "microversion": compute.version().to_string(),
                    "captured_at": when::format_epoch(when::now()),
                    "services": services,
                    "servers": servers,
                });
                let text = crate::render::json(&doc);
                NovaSnapshot::parse(text.as_bytes())
                    .map_err(|e| CliError::Invalid(format!("the snapshot would not load: {e}")))?;
                return Ok(text);
            }
        }
    }
    Err(CliError::Invalid(format!(
        "Nova's server list has more than {MAX_PAGES} pages of {PAGE}: refusing to go on"
    )))
}

/// One GET at the negotiated microversion: the body of a 2xx answer.
fn get(
    compute: &Compute,
    segments: &[&str],
    query: &[(&str, &str)],
    deadline: Deadline,
) -> Result<Vec<u8>, CliError> {
    let mut url = Url::parse(compute.endpoint())
        .map_err(|e| CliError::Invalid(format!("compute endpoint: {e}")))?;
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|()| CliError::Invalid("compute endpoint cannot take a path".to_owned()))?;
        path.pop_if_empty();
        path.extend(segments);
    }
    url.query_pairs_mut().extend_pairs(query);
    let version = compute.version();
    let headers = [
        ("OpenStack-API-Version", format!("compute {version}")),
        ("X-OpenStack-Nova-API-Version", version.to_string()),
    ];
    let what = format!("GET {}", segments.join("/"));
    let answer = compute.session().call(
        &Call {
            method: Method::GET,
            url,
            body: None,
            headers: &headers,
            retry: Retry::Idempotent,
            what: &what,
        },
        deadline,
    )?;
    if !answer.is_success() {
        return Err(CliError::Invalid(format!(
            "Nova answered HTTP {} to {what}: {}",
            answer.status,
            openstack::error::api_message(&answer.body)
        )));
    }
    Ok(answer.body)
}

/// The list under `key` of an answer the client's decoder already took.
fn list(body: &[u8], key: &str) -> Result<Vec<Value>, CliError> {
    let mut value: Value = serde_json::from_slice(body)
        .map_err(|e| CliError::Invalid(format!("Nova's answer is not JSON: {e}")))?;
    match value.get_mut(key).map(Value::take) {
        Some(Value::Array(items)) => Ok(items),
        _ => Err(CliError::Invalid(format!(
            "Nova's answer has no \"{key}\" list"
        ))),
    }
}
