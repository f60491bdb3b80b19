//! The fake's answers: Keystone tokens, Nova (services, servers, evacuate,
//! migrations, instance actions, hypervisors, version documents) and
//! Glance images, shaped like the lab's captured answers.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::http::{HttpRequest, HttpResponse, percent_encode};
use super::state::{HostRec, ImageRec, MigRec, ServerRec, State, TokenRec, db_time, iso_z, wall};
use super::{EvacuateCall, EvacuationOutcome, FakeInventory, PROJECT_ID, Route, USER_ID};
use crate::microversion::Microversion;

const UNAUTHORIZED: &str = "The request you have made requires authentication.";

fn v(major: u16, minor: u16) -> Microversion {
    Microversion::new(major, minor)
}

/// Nova's error body: `{"<kind>": {"code", "message"}}`.
pub(crate) fn nova_error(status: u16, message: &str) -> HttpResponse {
    let kind = match status {
        400 => "badRequest",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "HTTPMethodNotAllowed",
        409 => "conflictingRequest",
        413 => "overLimit",
        _ => "computeFault",
    };
    HttpResponse::json(
        status,
        &json!({ kind: { "code": status, "message": message } }),
    )
}

/// keystonemiddleware's and Keystone's error body.
fn keystone_error(status: u16, title: &str, message: &str) -> HttpResponse {
    HttpResponse::json(
        status,
        &json!({"error": {"code": status, "message": message, "title": title}}),
    )
}

/// What the fake answers for an injected status.
pub(crate) fn fault_response(route: Route, status: u16) -> HttpResponse {
    let reason = super::http::reason(status);
    match (route, status) {
        (Route::Token, _) => keystone_error(status, reason, &format!("Injected {status} {reason}")),
        (Route::Images, _) => HttpResponse::html(status, "Injected fault."),
        (_, 502..=504) => {
            // What haproxy in front of nova-api answers.
            let body = format!(
                "<html><body><h1>{status} {reason}</h1>\nNo server is available to handle this request.\n</body></html>\n"
            );
            HttpResponse {
                status,
                headers: vec![("Content-Type".into(), "text/html".into())],
                body: body.into_bytes(),
                delay: Duration::ZERO,
            }
        }
        (_, 500) => nova_error(
            500,
            "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\n<class 'oslo_db.exception.DBConnectionError'>",
        ),
        _ => nova_error(status, &format!("Injected {status} {reason}")),
    }
}

fn json_body(req: &HttpRequest) -> Option<Value> {
    serde_json::from_slice(&req.body).ok()
}

fn text(v: &Value) -> Option<&str> {
    v.as_str()
}

/// `limit` as Nova and Glance validate it.
fn limit_param(req: &HttpRequest, default: usize, max: usize) -> Result<usize, String> {
    match req.param("limit") {
        None => Ok(default.min(max)),
        Some(l) => l
            .parse::<usize>()
            .map(|n| n.min(max))
            .map_err(|_| {
                format!("Invalid input for query parameters limit. Value: {l}. '{l}' does not match '^[0-9]*$'")
            }),
    }
}

/// The page after `marker`, and whether it is full (Nova and Glance add a
/// `next` link whenever a page is full, even the last one). `Err` when the
/// marker is unknown.
fn paginate<T>(
    items: Vec<T>,
    id_of: impl Fn(&T) -> String,
    limit: usize,
    marker: Option<&str>,
) -> Result<(Vec<T>, bool), ()> {
    let start = match marker {
        None => 0,
        Some(m) => items.iter().position(|i| id_of(i) == m).ok_or(())? + 1,
    };
    let page: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let full = limit > 0 && page.len() == limit;
    Ok((page, full))
}

/// The query of a next link: the request's own filters, then limit and
/// marker.
fn next_query(req: &HttpRequest, limit: usize, marker: &str) -> String {
    let mut parts: Vec<String> = req
        .query
        .iter()
        .filter(|(k, _)| k != "limit" && k != "marker")
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect();
    parts.push(format!("limit={limit}"));
    parts.push(format!("marker={}", percent_encode(marker)));
    parts.join("&")
}

fn truthy(s: &str) -> bool {
    matches!(
        s.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on" | "t" | "y"
    )
}

impl State {
    pub(crate) fn handle(
        &mut self,
        req: &HttpRequest,
        route: Route,
        request_id: &str,
        now: Instant,
    ) -> HttpResponse {
        let segs = req.segments();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        match route {
            Route::Token => self.issue_token(req, now),
            Route::Version => match segs.as_slice() {
                [] => self.nova_versions(),
                ["v3"] => self.keystone_version(),
                _ => self.nova_version(),
            },
            Route::Images => {
                if let Err(r) = self.authorize(req, now, true) {
                    return r;
                }
                match segs.as_slice() {
                    [_, _, id] => self.show_image(id),
                    _ => self.list_images(req),
                }
            }
            Route::Placement => {
                if let Err(r) = self.authorize(req, now, false) {
                    return r;
                }
                self.placement(req, &segs)
            }
            Route::Other | Route::Any => {
                let known = matches!(
                    segs.as_slice(),
                    ["v3", "auth", "tokens"]
                        | ["v2.1", "os-services", ..]
                        | ["v2.1", "servers", ..]
                        | ["v2.1", "os-migrations"]
                        | ["v2.1", "os-hypervisors", ..]
                        | ["v2", "images", ..]
                );
                if known {
                    nova_error(
                        405,
                        "The method specified is not allowed for this resource.",
                    )
                } else {
                    nova_error(404, "The resource could not be found.")
                }
            }
            _ => {
                if let Err(r) = self.authorize(req, now, false) {
                    return r;
                }
                let version = match self.microversion(req) {
                    Ok(v) => v,
                    Err(r) => return r,
                };
                let resp = self.nova(req, route, &segs, version, request_id, now);
                resp.header("OpenStack-API-Version", &format!("compute {version}"))
                    .header("X-OpenStack-Nova-API-Version", &version.to_string())
                    .header(
                        "Vary",
                        "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
                    )
                    .header("x-compute-request-id", request_id)
            }
        }
    }

    fn nova(
        &mut self,
        req: &HttpRequest,
        route: Route,
        segs: &[&str],
        version: Microversion,
        request_id: &str,
        now: Instant,
    ) -> HttpResponse {
        let id = segs.get(2).copied().unwrap_or("");
        match route {
            Route::Services => self.list_services(req, version, now),
            Route::ServiceUpdate => self.update_service(id, req, version, now),
            Route::Servers => self.list_servers(req, version, now, segs.len() == 3),
            Route::Server => match self.servers.iter().find(|s| s.id == id) {
                Some(s) => {
                    HttpResponse::json(200, &json!({"server": self.server_json(s, version, now)}))
                }
                None => not_found_instance(id),
            },
            Route::ServerAction => self.server_action(id, req, version, request_id, now),
            Route::InstanceActions => self.instance_actions(id, req, version),
            Route::Migrations => self.list_migrations(req, version),
            Route::Hypervisors => self.list_hypervisors(req, version, now, segs.len() == 3),
            Route::Flavors => self.list_flavors(version),
            _ => nova_error(404, "The resource could not be found."),
        }
    }

    // ------------------------------------------------------------ Keystone

    fn authorize(&self, req: &HttpRequest, now: Instant, glance: bool) -> Result<(), HttpResponse> {
        let refused = || {
            keystone_error(401, "Unauthorized", UNAUTHORIZED).header(
                "WWW-Authenticate",
                &format!("Keystone uri=\"{}/v3\"", self.base),
            )
        };
        let token = req.header("X-Auth-Token").ok_or_else(refused)?;
        match self.tokens.get(token) {
            Some(t) if !t.revoked && t.expires > now && !self.refuse_all_tokens => {
                if t.scoped {
                    Ok(())
                } else if glance {
                    Err(HttpResponse::html(
                        403,
                        "You are not authorized to complete this action.",
                    ))
                } else {
                    Err(nova_error(
                        403,
                        "Policy doesn't allow os_compute_api:os-services:list to be performed.",
                    ))
                }
            }
            _ => Err(refused()),
        }
    }

    fn domain_ok(&self, d: &Value) -> bool {
        d.get("id").and_then(text) == Some("default")
            || d.get("name").and_then(text) == Some(self.cfg.domain.as_str())
    }

    fn user_ok(&self, u: &Value) -> bool {
        u.get("id").and_then(text) == Some(USER_ID)
            || (u.get("name").and_then(text) == Some(self.cfg.username.as_str())
                && u.get("domain").is_some_and(|d| self.domain_ok(d)))
    }

    fn issue_token(&mut self, req: &HttpRequest, now: Instant) -> HttpResponse {
        let refused = || keystone_error(401, "Unauthorized", UNAUTHORIZED);
        let Some(body) = json_body(req) else {
            return keystone_error(
                400,
                "Bad Request",
                "Expecting to find identity in auth. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
            );
        };
        let identity = &body["auth"]["identity"];
        let methods: Vec<&str> = identity["methods"]
            .as_array()
            .map(|m| m.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let (method, app_cred, ok) = if methods.contains(&"password") {
            let user = &identity["password"]["user"];
            let ok = self.user_ok(user)
                && user.get("password").and_then(text) == Some(self.cfg.password.as_str());
            ("password", false, ok)
        } else if methods.contains(&"application_credential") {
            let ac = &identity["application_credential"];
            let which = ac.get("id").and_then(text)
                == Some(self.cfg.application_credential_id.as_str())
                || (ac.get("name").and_then(text) == Some(super::APP_CREDENTIAL_NAME)
                    && ac.get("user").is_some_and(|u| self.user_ok(u)));
            let ok = which
                && ac.get("secret").and_then(text)
                    == Some(self.cfg.application_credential_secret.as_str());
            ("application_credential", true, ok)
        } else {
            return refused();
        };
        if !ok {
            return refused();
        }
        let scope = &body["auth"]["scope"];
        let scoped = if app_cred {
            true
        } else if let Some(p) = scope.get("project") {
            let project_ok = p.get("id").and_then(text) == Some(PROJECT_ID)
                || (p.get("name").and_then(text) == Some(self.cfg.project_name.as_str())
                    && p.get("domain").is_some_and(|d| self.domain_ok(d)));
            if !project_ok {
                return refused();
            }
            true
        } else {
            false
        };
        let value = format!("gAAAAAB{}", self.hex(176));
        self.tokens.insert(
            value.clone(),
            TokenRec {
                expires: now + self.cfg.token_lifetime,
                scoped,
                revoked: false,
            },
        );
        self.tokens_issued += 1;
        let issued = wall();
        let lifetime = chrono::Duration::from_std(self.cfg.token_lifetime)
            .unwrap_or_else(|_| chrono::Duration::hours(1));
        let ks_time =
            |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        let domain = json!({"id": "default", "name": self.cfg.domain});
        let mut token = json!({
            "methods": [method],
            "user": {"domain": domain, "id": USER_ID, "name": self.cfg.username, "password_expires_at": null},
            "audit_ids": [self.hex(22)],
            "expires_at": ks_time(issued + lifetime),
            "issued_at": ks_time(issued),
        });
        if scoped && let Some(t) = token.as_object_mut() {
            t.insert(
                "project".into(),
                json!({"domain": domain, "id": PROJECT_ID, "name": self.cfg.project_name}),
            );
            t.insert("is_domain".into(), json!(false));
            t.insert(
                "roles".into(),
                json!([
                    {"id": "fbef242317e14dd18f2acc3fc891ca53", "name": "member"},
                    {"id": "e4e41ef94e2b4e2cb060ce227d8d1bf5", "name": "reader"},
                    {"id": "e681cc3e663d475bb9e5ae8079b93204", "name": "admin"}
                ]),
            );
            t.insert("catalog".into(), self.catalog());
            if app_cred {
                t.insert(
                    "application_credential".into(),
                    json!({"id": self.cfg.application_credential_id, "name": super::APP_CREDENTIAL_NAME, "restricted": true}),
                );
            }
        }
        HttpResponse::json(201, &json!({ "token": token })).header("X-Subject-Token", &value)
    }

    fn catalog(&mut self) -> Value {
        let region = self.cfg.region.clone();
        let base = self.base.clone();
        let mut services = Vec::new();
        for (ty, name, url, interfaces) in [
            (
                "identity",
                "keystone",
                format!("{base}/v3"),
                &["internal", "admin", "public"][..],
            ),
            (
                "compute",
                "nova",
                format!("{base}/v2.1"),
                &["public", "internal"][..],
            ),
            ("image", "glance", base.clone(), &["internal", "public"][..]),
            (
                "placement",
                "placement",
                format!("{base}/placement"),
                &["public", "internal"][..],
            ),
        ] {
            let endpoints: Vec<Value> = interfaces
                .iter()
                .map(|i| {
                    json!({"id": self.hex(32), "interface": i, "region_id": region, "url": url, "region": region})
                })
                .collect();
            services.push(
                json!({"endpoints": endpoints, "id": self.hex(32), "type": ty, "name": name}),
            );
        }
        Value::Array(services)
    }

    fn keystone_version(&self) -> HttpResponse {
        HttpResponse::json(
            200,
            &json!({"version": {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
                "links": [{"rel": "self", "href": format!("{}/v3/", self.base)}],
                "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]}}),
        )
    }

    // ------------------------------------------------------------ versions

    fn v21_entry(&self) -> Value {
        json!({"id": "v2.1", "status": "CURRENT", "version": self.cfg.max_version.to_string(),
            "min_version": self.cfg.min_version.to_string(), "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": format!("{}/v2.1/", self.base)}]})
    }

    fn nova_versions(&self) -> HttpResponse {
        HttpResponse::json(
            200,
            &json!({"versions": [
                {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
                 "updated": "2011-01-21T11:33:21Z", "links": [{"rel": "self", "href": format!("{}/v2/", self.base)}]},
                self.v21_entry()
            ]}),
        )
    }

    fn nova_version(&self) -> HttpResponse {
        let mut entry = self.v21_entry();
        if let Some(e) = entry.as_object_mut() {
            e.insert(
                "media-types".into(),
                json!([{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}]),
            );
        }
        HttpResponse::json(200, &json!({ "version": entry }))
    }

    fn microversion(&self, req: &HttpRequest) -> Result<Microversion, HttpResponse> {
        let raw = req
            .header("OpenStack-API-Version")
            .and_then(|h| {
                h.split(',').map(str::trim).find_map(|p| {
                    let (service, version) = p.split_once(' ')?;
                    service
                        .eq_ignore_ascii_case("compute")
                        .then(|| version.trim())
                })
            })
            .or_else(|| req.header("X-OpenStack-Nova-API-Version").map(str::trim));
        let (min, max) = (self.cfg.min_version, self.cfg.max_version);
        let Some(raw) = raw else { return Ok(min) };
        if raw.eq_ignore_ascii_case("latest") {
            return Ok(max);
        }
        let version: Microversion = raw.parse().map_err(|_| {
            nova_error(
                400,
                &format!(
                    "API Version String {raw} is of invalid format. Must be of format MajorNum.MinorNum."
                ),
            )
        })?;
        if version < min || version > max {
            return Err(nova_error(
                406,
                &format!(
                    "Version {version} is not supported by the API. Minimum is {min} and maximum is {max}."
                ),
            ));
        }
        Ok(version)
    }

    // ------------------------------------------------------------ services

    fn service_json(
        &self,
        h: &HostRec,
        version: Microversion,
        now: Instant,
        precise: bool,
    ) -> Value {
        let up = h.is_up(now, self.cfg.service_down_time);
        let mut m = Map::new();
        m.insert("binary".into(), json!("nova-compute"));
        m.insert("host".into(), json!(h.name));
        m.insert(
            "id".into(),
            if version >= v(2, 53) {
                json!(h.uuid)
            } else {
                json!(h.legacy_id)
            },
        );
        m.insert("zone".into(), json!("nova"));
        m.insert(
            "status".into(),
            json!(if h.disabled { "disabled" } else { "enabled" }),
        );
        m.insert("state".into(), json!(if up { "up" } else { "down" }));
        let updated = if precise {
            wall().format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
        } else {
            h.updated_at_text()
        };
        m.insert("updated_at".into(), json!(updated));
        m.insert("disabled_reason".into(), json!(h.disabled_reason));
        if version >= v(2, 11) {
            m.insert("forced_down".into(), json!(h.forced_down));
        }
        Value::Object(m)
    }

    fn list_services(
        &self,
        req: &HttpRequest,
        version: Microversion,
        now: Instant,
    ) -> HttpResponse {
        let binary_ok = req.param("binary").is_none_or(|b| b == "nova-compute");
        let services: Vec<Value> = self
            .hosts
            .iter()
            .filter(|_| binary_ok)
            .filter(|h| req.param("host").is_none_or(|w| w == h.name))
            .map(|h| self.service_json(h, version, now, false))
            .collect();
        HttpResponse::json(200, &json!({ "services": services }))
    }

    fn done_evacuations_remain(&self, host: &str) -> bool {
        self.migrations.iter().any(|m| {
            m.source_compute == host && m.migration_type == "evacuation" && m.status == "done"
        })
    }

    fn unforce_refusal(host: &str) -> HttpResponse {
        nova_error(
            400,
            &format!(
                "Unable to force up host {host} as `done` evacuation migration records remain associated with the host. Ensure the compute service has been restarted, allowing these records to move to `completed` before retrying this request."
            ),
        )
    }

    /// Nova syncs the disabled trait by an RPC call to a compute it counts
    /// as up; a dead one never answers.
    fn rpc_delay(&self, host: &str, now: Instant) -> Duration {
        match self.host(host) {
            Some(h) if !h.alive && h.is_up(now, self.cfg.service_down_time) => self.cfg.rpc_timeout,
            _ => Duration::ZERO,
        }
    }

    fn update_service(
        &mut self,
        id: &str,
        req: &HttpRequest,
        version: Microversion,
        now: Instant,
    ) -> HttpResponse {
        let Some(body) = json_body(req).filter(Value::is_object) else {
            return nova_error(400, "The request body is not a JSON object.");
        };
        let legacy_action = matches!(
            id,
            "force-down" | "disable" | "disable-log-reason" | "enable"
        );
        if legacy_action {
            if version >= v(2, 53) || (id == "force-down" && version < v(2, 11)) {
                return nova_error(404, "The resource could not be found.");
            }
            return self.update_service_legacy(id, &body, now);
        }
        if version < v(2, 53) {
            return nova_error(404, "The resource could not be found.");
        }
        let Some(host) = self
            .hosts
            .iter()
            .find(|h| h.uuid == id)
            .map(|h| h.name.clone())
        else {
            return nova_error(404, &format!("Service {id} could not be found."));
        };
        let obj = body.as_object().cloned().unwrap_or_default();
        if let Some(k) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "status" | "disabled_reason" | "forced_down"))
        {
            return nova_error(
                400,
                &format!(
                    "Invalid input for field/attribute body. Value: {body}. Additional properties are not allowed ('{k}' was unexpected)"
                ),
            );
        }
        let status = match obj.get("status") {
            None => None,
            Some(Value::String(s)) if s == "enabled" || s == "disabled" => Some(s.clone()),
            Some(other) => {
                return nova_error(
                    400,
                    &format!(
                        "Invalid input for field/attribute status. Value: {other}. {other} is not one of ['enabled', 'disabled']"
                    ),
                );
            }
        };
        let reason = match obj.get("disabled_reason") {
            None => None,
            Some(Value::String(r)) if r.chars().count() <= 255 && !r.trim().is_empty() => {
                Some(r.clone())
            }
            Some(other) => {
                return nova_error(
                    400,
                    &format!(
                        "Invalid input for field/attribute disabled_reason. Value: {}.",
                        crate::error::bounded(&other.to_string(), 80)
                    ),
                );
            }
        };
        if reason.is_some() && status.as_deref() != Some("disabled") {
            return nova_error(
                400,
                "Specifying 'disabled_reason' with status 'enabled' is invalid.",
            );
        }
        let forced = match obj.get("forced_down") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                return nova_error(
                    400,
                    &format!(
                        "Invalid input for field/attribute forced_down. Value: {other}. {other} is not of type 'boolean'"
                    ),
                );
            }
        };
        if status.is_none() && forced.is_none() {
            return nova_error(
                400,
                "At least one of status or forced_down must be specified.",
            );
        }
        if forced == Some(false) && self.done_evacuations_remain(&host) {
            return Self::unforce_refusal(&host);
        }
        let delay = if status.is_some() {
            self.rpc_delay(&host, now)
        } else {
            Duration::ZERO
        };
        self.set_service_flags(&host, forced, status.map(|s| (s == "disabled", reason)));
        let Some(h) = self.host(&host) else {
            return nova_error(404, &format!("Service {id} could not be found."));
        };
        let mut resp = HttpResponse::json(
            200,
            &json!({"service": self.service_json(h, version, now, true)}),
        );
        resp.delay = delay;
        resp
    }

    fn update_service_legacy(&mut self, action: &str, body: &Value, now: Instant) -> HttpResponse {
        let (Some(host), Some(binary)) = (
            body.get("host").and_then(text).map(str::to_owned),
            body.get("binary").and_then(text).map(str::to_owned),
        ) else {
            return nova_error(
                400,
                &format!(
                    "Invalid input for field/attribute {action}. Value: {body}. 'host' and 'binary' are required properties"
                ),
            );
        };
        if binary != "nova-compute" || self.host(&host).is_none() {
            return nova_error(
                404,
                &format!("Service {binary} on host {host} could not be found."),
            );
        }
        let base = json!({"host": host, "binary": binary});
        let with = |extra: Value| {
            let mut m = base.as_object().cloned().unwrap_or_default();
            if let Some(e) = extra.as_object() {
                m.extend(e.clone());
            }
            json!({ "service": Value::Object(m) })
        };
        match action {
            "force-down" => {
                let Some(forced) = body.get("forced_down").and_then(Value::as_bool) else {
                    return nova_error(
                        400,
                        &format!(
                            "Invalid input for field/attribute forced_down. Value: {}. 'forced_down' is a required boolean",
                            body.get("forced_down").cloned().unwrap_or(Value::Null)
                        ),
                    );
                };
                if !forced && self.done_evacuations_remain(&host) {
                    return Self::unforce_refusal(&host);
                }
                self.set_service_flags(&host, Some(forced), None);
                HttpResponse::json(200, &with(json!({"forced_down": forced})))
            }
            "enable" => {
                let delay = self.rpc_delay(&host, now);
                self.set_service_flags(&host, None, Some((false, None)));
                let mut r = HttpResponse::json(200, &with(json!({"status": "enabled"})));
                r.delay = delay;
                r
            }
            _ => {
                let reason = body
                    .get("disabled_reason")
                    .and_then(text)
                    .map(str::to_owned);
                if action == "disable-log-reason" && reason.is_none() {
                    return nova_error(400, "Missing disabled reason field");
                }
                let delay = self.rpc_delay(&host, now);
                self.set_service_flags(&host, None, Some((true, reason.clone())));
                let mut extra = json!({"status": "disabled"});
                if let (Some(r), Some(m)) = (reason, extra.as_object_mut()) {
                    m.insert("disabled_reason".into(), json!(r));
                }
                let mut r = HttpResponse::json(200, &with(extra));
                r.delay = delay;
                r
            }
        }
    }

    // ------------------------------------------------------------ servers

    fn server_json(&self, s: &ServerRec, version: Microversion, now: Instant) -> Value {
        let base = &self.base;
        let mut m = Map::new();
        let host = s.host.clone();
        m.insert("id".into(), json!(s.id));
        m.insert("name".into(), json!(s.name));
        m.insert("status".into(), json!(s.status()));
        m.insert("tenant_id".into(), json!(s.project_id));
        m.insert("user_id".into(), json!(USER_ID));
        m.insert("metadata".into(), json!(s.metadata));
        m.insert(
            "hostId".into(),
            json!(
                host.as_deref()
                    .map(|h| host_id(&s.project_id, h))
                    .unwrap_or_default()
            ),
        );
        m.insert(
            "image".into(),
            match &s.image {
                Some(i) => json!({"id": i, "links": [{"rel": "bookmark", "href": format!("{base}/images/{i}")}]}),
                None => json!(""),
            },
        );
        let f = &s.flavor;
        m.insert(
            "flavor".into(),
            if version >= v(2, 47) {
                json!({"vcpus": f.vcpus, "ram": f.ram, "disk": f.disk, "ephemeral": 0, "swap": 0,
                       "original_name": f.name, "extra_specs": f.extra_specs})
            } else {
                json!({"id": f.id, "links": [{"rel": "bookmark", "href": format!("{base}/flavors/{}", f.id)}]})
            },
        );
        m.insert("created".into(), json!(s.created));
        m.insert("updated".into(), json!(s.updated));
        m.insert("addresses".into(), json!({}));
        m.insert("accessIPv4".into(), json!(""));
        m.insert("accessIPv6".into(), json!(""));
        m.insert(
            "links".into(),
            json!([{"rel": "self", "href": format!("{base}/v2.1/servers/{}", s.id)},
                   {"rel": "bookmark", "href": format!("{base}/servers/{}", s.id)}]),
        );
        m.insert("OS-DCF:diskConfig".into(), json!("MANUAL"));
        m.insert("progress".into(), json!(0));
        m.insert("OS-EXT-AZ:availability_zone".into(), json!("nova"));
        m.insert("config_drive".into(), json!(""));
        m.insert("key_name".into(), Value::Null);
        m.insert("OS-SRV-USG:launched_at".into(), json!(s.launched_at));
        m.insert("OS-SRV-USG:terminated_at".into(), Value::Null);
        m.insert("OS-EXT-SRV-ATTR:host".into(), json!(host));
        m.insert(
            "OS-EXT-SRV-ATTR:instance_name".into(),
            json!(s.instance_name),
        );
        m.insert("OS-EXT-SRV-ATTR:hypervisor_hostname".into(), json!(host));
        if version >= v(2, 3) {
            m.insert(
                "OS-EXT-SRV-ATTR:reservation_id".into(),
                json!(s.reservation_id),
            );
            m.insert("OS-EXT-SRV-ATTR:launch_index".into(), json!(0));
            m.insert("OS-EXT-SRV-ATTR:hostname".into(), json!(s.name));
            m.insert("OS-EXT-SRV-ATTR:kernel_id".into(), json!(""));
            m.insert("OS-EXT-SRV-ATTR:ramdisk_id".into(), json!(""));
            m.insert("OS-EXT-SRV-ATTR:root_device_name".into(), json!("/dev/sda"));
            m.insert("OS-EXT-SRV-ATTR:user_data".into(), Value::Null);
        }
        m.insert("OS-EXT-STS:task_state".into(), json!(s.task_state));
        m.insert("OS-EXT-STS:vm_state".into(), json!(s.vm_state));
        m.insert("OS-EXT-STS:power_state".into(), json!(s.power_state()));
        let volumes: Vec<Value> = s
            .volumes
            .iter()
            .map(|id| {
                if version >= v(2, 3) {
                    json!({"id": id, "delete_on_termination": false})
                } else {
                    json!({"id": id})
                }
            })
            .collect();
        m.insert(
            "os-extended-volumes:volumes_attached".into(),
            json!(volumes),
        );
        if version >= v(2, 9) {
            m.insert("locked".into(), json!(s.locked));
        }
        if version >= v(2, 73) {
            m.insert("locked_reason".into(), Value::Null);
        }
        if version >= v(2, 19) {
            m.insert("description".into(), Value::Null);
        }
        if version >= v(2, 26) {
            m.insert("tags".into(), json!(s.tags));
        }
        if version >= v(2, 63) {
            m.insert("trusted_image_certificates".into(), Value::Null);
        }
        if version >= v(2, 16) {
            let status = host
                .as_deref()
                .and_then(|h| self.host(h))
                .map_or("", |h| h.host_status(now, self.cfg.service_down_time));
            m.insert("host_status".into(), json!(status));
        }
        Value::Object(m)
    }

    fn list_servers(
        &self,
        req: &HttpRequest,
        version: Microversion,
        now: Instant,
        detail: bool,
    ) -> HttpResponse {
        let limit = match limit_param(req, self.cfg.max_limit, self.cfg.max_limit) {
            Ok(l) => l,
            Err(m) => return nova_error(400, &m),
        };
        let all_tenants = req
            .param("all_tenants")
            .is_some_and(|a| a.is_empty() || truthy(a));
        let status = req.param("status").map(str::to_ascii_uppercase);
        let selected: Vec<&ServerRec> = self
            .servers
            .iter()
            .rev() // newest first, as Nova sorts by created_at desc
            .filter(|s| all_tenants || s.project_id == PROJECT_ID)
            .filter(|s| {
                req.param("host")
                    .is_none_or(|h| s.host.as_deref() == Some(h))
            })
            .filter(|s| status.as_deref().is_none_or(|st| s.status() == st))
            .filter(|s| req.param("name").is_none_or(|n| s.name.contains(n)))
            .collect();
        let Ok((page, full)) = paginate(selected, |s| s.id.clone(), limit, req.param("marker"))
        else {
            return nova_error(
                400,
                &format!("marker [{}] not found", req.param("marker").unwrap_or("")),
            );
        };
        let items: Vec<Value> = page
            .iter()
            .map(|s| {
                if detail {
                    self.server_json(s, version, now)
                } else {
                    json!({"id": s.id, "name": s.name, "links": [
                        {"rel": "self", "href": format!("{}/v2.1/servers/{}", self.base, s.id)}]})
                }
            })
            .collect();
        let mut body = json!({ "servers": items });
        if full && let (Some(last), Some(m)) = (page.last(), body.as_object_mut()) {
            let path = if detail { "servers/detail" } else { "servers" };
            m.insert(
                "servers_links".into(),
                json!([{"rel": "next", "href": format!("{}/v2.1/{path}?{}", self.base, next_query(req, limit, &last.id))}]),
            );
        }
        HttpResponse::json(200, &body)
    }

    fn server_action(
        &mut self,
        id: &str,
        req: &HttpRequest,
        version: Microversion,
        request_id: &str,
        now: Instant,
    ) -> HttpResponse {
        let Some(Value::Object(body)) = json_body(req) else {
            return nova_error(400, "Malformed request body");
        };
        let Some((action, args)) = body.iter().next() else {
            return nova_error(400, "Malformed request body");
        };
        match action.as_str() {
            "evacuate" => self.evacuate(id, args, version, request_id, now),
            "os-stop" | "os-start" => {
                let stop = action == "os-stop";
                let Some(s) = self.servers.iter_mut().find(|s| s.id == id) else {
                    return not_found_instance(id);
                };
                let from = if stop { "active" } else { "stopped" };
                if s.vm_state != from || s.task_state.is_some() {
                    return nova_error(
                        409,
                        &format!(
                            "Cannot '{}' instance {id} while it is in vm_state {}",
                            if stop { "stop" } else { "start" },
                            s.vm_state
                        ),
                    );
                }
                s.vm_state = if stop { "stopped" } else { "active" }.into();
                s.actions.push(super::state::ActionRec {
                    action: if stop { "stop" } else { "start" }.into(),
                    request_id: request_id.to_owned(),
                    start_time: db_time(wall()),
                    updated_at: Some(db_time(wall())),
                    user_id: USER_ID.into(),
                    project_id: s.project_id.clone(),
                });
                HttpResponse::empty(202)
            }
            other => nova_error(400, &format!("There is no such action: {other}")),
        }
    }

    fn evacuate(
        &mut self,
        id: &str,
        args: &Value,
        version: Microversion,
        request_id: &str,
        now: Instant,
    ) -> HttpResponse {
        let mut call = EvacuateCall {
            server_id: id.to_owned(),
            status: 200,
            duplicate: false,
            microversion: version,
            body: args.clone(),
            request_id: request_id.to_owned(),
        };
        let resp = self.evacuate_checked(id, args, version, request_id, now, &mut call);
        call.status = resp.status;
        self.evacuate_calls.push(call);
        resp
    }

    fn evacuate_checked(
        &mut self,
        id: &str,
        args: &Value,
        version: Microversion,
        request_id: &str,
        now: Instant,
        call: &mut EvacuateCall,
    ) -> HttpResponse {
        let invalid = |why: String| {
            nova_error(
                400,
                &format!("Invalid input for field/attribute evacuate. Value: {args}. {why}"),
            )
        };
        let Some(obj) = args.as_object() else {
            return invalid(format!("{args} is not of type 'object'"));
        };
        let allowed = |k: &str| match k {
            "host" | "adminPass" => true,
            "onSharedStorage" => version < v(2, 14),
            "force" => version >= v(2, 29) && version <= v(2, 67),
            _ => false,
        };
        if let Some(k) = obj.keys().find(|k| !allowed(k)) {
            return invalid(format!(
                "Additional properties are not allowed ('{k}' was unexpected)"
            ));
        }
        if version < v(2, 14) && !obj.contains_key("onSharedStorage") {
            return invalid("'onSharedStorage' is a required property".to_owned());
        }
        let requested = match obj.get("host") {
            None => None,
            Some(Value::String(h)) => Some(h.clone()),
            Some(other) => return invalid(format!("{other} is not of type 'string'")),
        };
        if let Some(h) = &requested
            && self.host(h).is_none()
        {
            return nova_error(404, &format!("Compute host {h} could not be found."));
        }
        let Some(idx) = self.servers.iter().position(|s| s.id == id) else {
            return not_found_instance(id);
        };
        let (source, vm_state, project) = match self.servers.get(idx) {
            Some(s) => (
                s.host.clone().unwrap_or_default(),
                s.vm_state.clone(),
                s.project_id.clone(),
            ),
            None => return not_found_instance(id),
        };
        if requested.as_deref() == Some(source.as_str()) {
            return nova_error(400, "The target host can't be the same one.");
        }
        if !matches!(vm_state.as_str(), "active" | "stopped" | "error") {
            return nova_error(
                409,
                &format!("Cannot 'evacuate' instance {id} while it is in vm_state {vm_state}"),
            );
        }
        if self.host_is_up(&source, now) {
            return nova_error(
                400,
                &format!("Compute service of {source} is still in use."),
            );
        }
        // Accepted, like the real Nova, even when already rebuilding.
        let migration_id = self.new_migration(id, &source, &project);
        let outcome = self
            .outcomes
            .get(id)
            .copied()
            .unwrap_or(self.cfg.evacuation_outcome);
        let sticks = self.cfg.duplicate_evacuate_sticks;
        let Some(s) = self.servers.get_mut(idx) else {
            return not_found_instance(id);
        };
        match s.evacuation.as_mut() {
            Some(ev) => {
                call.duplicate = true;
                if sticks {
                    ev.stuck = true;
                }
            }
            None => {
                s.evacuation = Some(super::state::Evacuation {
                    migration_id,
                    source: source.clone(),
                    requested_host: requested,
                    started: now,
                    dest: None,
                    outcome,
                    land_state: if vm_state == "stopped" {
                        "stopped".into()
                    } else {
                        "active".into()
                    },
                    stuck: false,
                });
            }
        }
        s.task_state = Some("rebuilding".into());
        s.updated = iso_z(wall());
        s.actions.push(super::state::ActionRec {
            action: "evacuate".into(),
            request_id: request_id.to_owned(),
            start_time: db_time(wall()),
            updated_at: None,
            user_id: USER_ID.into(),
            project_id: project,
        });
        if outcome == EvacuationOutcome::Stuck
            && let Some(ev) = s.evacuation.as_mut()
        {
            ev.stuck = true;
        }
        if version < v(2, 14) {
            let pass = self.hex(12);
            HttpResponse::json(200, &json!({ "adminPass": pass }))
        } else {
            HttpResponse::empty(200)
        }
    }

    fn instance_actions(&self, id: &str, req: &HttpRequest, version: Microversion) -> HttpResponse {
        let Some(s) = self.servers.iter().find(|s| s.id == id) else {
            return not_found_instance(id);
        };
        let newest_first: Vec<&super::state::ActionRec> = s.actions.iter().rev().collect();
        let paging = version >= v(2, 58);
        let limit = if paging {
            match limit_param(req, self.cfg.max_limit, self.cfg.max_limit) {
                Ok(l) => l,
                Err(m) => return nova_error(400, &m),
            }
        } else {
            usize::MAX
        };
        let marker = if paging { req.param("marker") } else { None };
        let Ok((page, full)) = paginate(newest_first, |a| a.request_id.clone(), limit, marker)
        else {
            return nova_error(
                400,
                &format!("Marker {} could not be found.", marker.unwrap_or("")),
            );
        };
        let items: Vec<Value> = page
            .iter()
            .map(|a| {
                let mut m = json!({"action": a.action, "instance_uuid": id, "message": null,
                    "project_id": a.project_id, "request_id": a.request_id,
                    "start_time": a.start_time, "user_id": a.user_id});
                if paging && let Some(o) = m.as_object_mut() {
                    o.insert("updated_at".into(), json!(a.updated_at));
                }
                m
            })
            .collect();
        let mut body = json!({ "instanceActions": items });
        if paging
            && full
            && let (Some(last), Some(m)) = (page.last(), body.as_object_mut())
        {
            m.insert(
                "links".into(),
                json!([{"rel": "next", "href": format!("{}/v2.1/servers/{id}/os-instance-actions?{}", self.base, next_query(req, limit, &last.request_id))}]),
            );
        }
        HttpResponse::json(200, &body)
    }

    // ------------------------------------------------------------ migrations

    fn migration_json(&self, m: &MigRec, version: Microversion) -> Value {
        let mut o = Map::new();
        o.insert("id".into(), json!(m.id));
        if version >= v(2, 59) {
            o.insert("uuid".into(), json!(m.uuid));
        }
        o.insert("source_compute".into(), json!(m.source_compute));
        o.insert("dest_compute".into(), json!(m.dest_compute));
        o.insert("source_node".into(), json!(m.source_compute));
        o.insert("dest_node".into(), json!(m.dest_compute));
        o.insert("dest_host".into(), json!(m.dest_host));
        o.insert("old_instance_type_id".into(), Value::Null);
        o.insert("new_instance_type_id".into(), Value::Null);
        o.insert("instance_uuid".into(), json!(m.instance_uuid));
        o.insert("status".into(), json!(m.status));
        if version >= v(2, 23) {
            o.insert("migration_type".into(), json!(m.migration_type));
        }
        if version >= v(2, 80) {
            o.insert("user_id".into(), json!(USER_ID));
            o.insert("project_id".into(), json!(m.project_id));
        }
        o.insert("created_at".into(), json!(m.created_at));
        o.insert("updated_at".into(), json!(m.updated_at));
        Value::Object(o)
    }

    fn list_migrations(&self, req: &HttpRequest, version: Microversion) -> HttpResponse {
        let hidden = req.param("hidden").map(truthy);
        let selected: Vec<&MigRec> = self
            .migrations
            .iter()
            .rev() // newest first
            .filter(|m| {
                req.param("instance_uuid")
                    .is_none_or(|i| m.instance_uuid == i)
            })
            .filter(|m| {
                req.param("migration_type")
                    .is_none_or(|t| m.migration_type == t)
            })
            .filter(|m| {
                req.param("source_compute")
                    .is_none_or(|h| m.source_compute == h)
            })
            .filter(|m| {
                req.param("host")
                    .is_none_or(|h| m.source_compute == h || m.dest_compute.as_deref() == Some(h))
            })
            .filter(|m| req.param("status").is_none_or(|s| m.status == s))
            .filter(|m| hidden.is_none_or(|h| m.hidden == h))
            .collect();
        let paging = version >= v(2, 59);
        let limit = if paging {
            match limit_param(req, self.cfg.max_limit, self.cfg.max_limit) {
                Ok(l) => l,
                Err(m) => return nova_error(400, &m),
            }
        } else {
            usize::MAX
        };
        let marker = if paging { req.param("marker") } else { None };
        let Ok((page, full)) = paginate(selected, |m| m.uuid.clone(), limit, marker) else {
            return nova_error(
                400,
                &format!("Marker {} could not be found.", marker.unwrap_or("")),
            );
        };
        let items: Vec<Value> = page
            .iter()
            .map(|m| self.migration_json(m, version))
            .collect();
        let mut body = json!({ "migrations": items });
        if paging
            && full
            && let (Some(last), Some(o)) = (page.last(), body.as_object_mut())
        {
            o.insert(
                "migrations_links".into(),
                json!([{"rel": "next", "href": format!("{}/v2.1/os-migrations?{}", self.base, next_query(req, limit, &last.uuid))}]),
            );
        }
        HttpResponse::json(200, &body)
    }

    // ------------------------------------------------------------ hypervisors

    /// The distinct flavors of the servers, in one page; `extra_specs`
    /// from 2.61 as in Nova.
    fn list_flavors(&self, version: Microversion) -> HttpResponse {
        let mut seen = std::collections::BTreeMap::new();
        for s in &self.servers {
            seen.entry(s.flavor.id.clone())
                .or_insert_with(|| s.flavor.clone());
        }
        let flavors: Vec<Value> = seen
            .values()
            .map(|f| {
                let mut o = json!({"id": f.id, "name": f.name, "vcpus": f.vcpus, "ram": f.ram, "disk": f.disk});
                if version >= v(2, 61) {
                    o["extra_specs"] = json!(f.extra_specs);
                }
                o
            })
            .collect();
        HttpResponse::json(200, &json!({ "flavors": flavors }))
    }

    fn list_hypervisors(
        &self,
        req: &HttpRequest,
        version: Microversion,
        now: Instant,
        detail: bool,
    ) -> HttpResponse {
        let uuid_ids = version >= v(2, 53);
        let id_of = |h: &&HostRec| {
            if uuid_ids {
                h.hypervisor_uuid.clone()
            } else {
                h.legacy_id.to_string()
            }
        };
        let paging = version >= v(2, 33);
        let limit = if paging {
            match limit_param(req, self.cfg.max_limit, self.cfg.max_limit) {
                Ok(l) => l,
                Err(m) => return nova_error(400, &m),
            }
        } else {
            usize::MAX
        };
        let marker = if paging { req.param("marker") } else { None };
        let hosts: Vec<&HostRec> = self.hosts.iter().collect();
        let Ok((page, full)) = paginate(hosts, |h| id_of(h), limit, marker) else {
            return nova_error(400, &format!("marker [{}] not found", marker.unwrap_or("")));
        };
        let items: Vec<Value> = page
            .iter()
            .map(|h| {
                let up = h.is_up(now, self.cfg.service_down_time);
                let mut o = Map::new();
                o.insert(
                    "id".into(),
                    if uuid_ids {
                        json!(h.hypervisor_uuid)
                    } else {
                        json!(h.legacy_id)
                    },
                );
                o.insert("hypervisor_hostname".into(), json!(h.name));
                o.insert("state".into(), json!(if up { "up" } else { "down" }));
                o.insert(
                    "status".into(),
                    json!(if h.disabled { "disabled" } else { "enabled" }),
                );
                if detail {
                    o.insert("host_ip".into(), json!(h.ip));
                    o.insert("hypervisor_type".into(), json!("fake"));
                    o.insert("hypervisor_version".into(), json!(1000));
                    o.insert(
                        "service".into(),
                        json!({"host": h.name, "id": if uuid_ids { json!(h.uuid) } else { json!(h.legacy_id) },
                               "disabled_reason": h.disabled_reason}),
                    );
                    if version <= v(2, 87) {
                        let on: Vec<&ServerRec> = self
                            .servers
                            .iter()
                            .filter(|s| s.host.as_deref() == Some(h.name.as_str()))
                            .collect();
                        let vcpus_used: u64 = on.iter().map(|s| u64::from(s.flavor.vcpus)).sum();
                        let ram_used: u64 = 512 + on.iter().map(|s| u64::from(s.flavor.ram)).sum::<u64>();
                        let disk_used: u64 = on.iter().map(|s| u64::from(s.flavor.disk)).sum();
                        let total = |c: &str| h.inventory.get(c).map_or(0, |i| i.total);
                        let (vcpus, ram, disk) = (total("VCPU"), total("MEMORY_MB"), total("DISK_GB"));
                        o.insert("vcpus".into(), json!(vcpus));
                        o.insert("memory_mb".into(), json!(ram));
                        o.insert("local_gb".into(), json!(disk));
                        o.insert("vcpus_used".into(), json!(vcpus_used));
                        o.insert("memory_mb_used".into(), json!(ram_used));
                        o.insert("local_gb_used".into(), json!(disk_used));
                        o.insert("free_ram_mb".into(), json!(ram as i64 - ram_used as i64));
                        o.insert("free_disk_gb".into(), json!(disk as i64 - disk_used as i64));
                        o.insert("current_workload".into(), json!(0));
                        o.insert("running_vms".into(), json!(on.len()));
                        o.insert("disk_available_least".into(), json!(disk as i64 - disk_used as i64));
                        o.insert(
                            "cpu_info".into(),
                            if version >= v(2, 28) { json!({}) } else { json!("{}") },
                        );
                    } else {
                        o.insert("uptime".into(), Value::Null);
                    }
                }
                Value::Object(o)
            })
            .collect();
        let mut body = json!({ "hypervisors": items });
        if paging
            && full
            && let (Some(last), Some(o)) = (page.last(), body.as_object_mut())
        {
            let path = if detail {
                "os-hypervisors/detail"
            } else {
                "os-hypervisors"
            };
            o.insert(
                "hypervisors_links".into(),
                json!([{"rel": "next", "href": format!("{}/v2.1/{path}?{}", self.base, next_query(req, limit, &id_of(last)))}]),
            );
        }
        HttpResponse::json(200, &body)
    }

    // ------------------------------------------------------------ Placement

    fn placement(&mut self, req: &HttpRequest, segs: &[&str]) -> HttpResponse {
        let provider = |s: &State, uuid: &str| {
            s.hosts
                .iter()
                .find(|h| h.hypervisor_uuid == uuid)
                .map(|h| h.name.clone())
        };
        let inventory_json = |i: &FakeInventory| {
            json!({"total": i.total, "reserved": i.reserved, "min_unit": 1, "max_unit": i.total,
                   "step_size": 1, "allocation_ratio": i.allocation_ratio})
        };
        match (req.method.as_str(), segs) {
            ("GET", ["placement", "resource_providers"]) => {
                let list: Vec<Value> = self
                    .hosts
                    .iter()
                    .filter(|h| req.param("name").is_none_or(|n| n == h.name))
                    .filter(|h| req.param("uuid").is_none_or(|u| u == h.hypervisor_uuid))
                    .map(|h| {
                        json!({"uuid": h.hypervisor_uuid, "name": h.name, "generation": h.generation,
                               "links": [{"rel": "self", "href": format!("/placement/resource_providers/{}", h.hypervisor_uuid)}]})
                    })
                    .collect();
                HttpResponse::json(200, &json!({ "resource_providers": list }))
            }
            ("GET", ["placement", "resource_providers", uuid, "inventories"]) => {
                let Some(h) = provider(self, uuid).and_then(|n| self.host(&n)) else {
                    return placement_error(
                        404,
                        &format!("No resource provider with uuid {uuid} found"),
                    );
                };
                let inventories: Map<String, Value> = h
                    .inventory
                    .iter()
                    .map(|(c, i)| (c.clone(), inventory_json(i)))
                    .collect();
                HttpResponse::json(
                    200,
                    &json!({"inventories": inventories, "resource_provider_generation": h.generation}),
                )
            }
            ("GET", ["placement", "resource_providers", uuid, "usages"]) => {
                let Some(name) = provider(self, uuid) else {
                    return placement_error(
                        404,
                        &format!("No resource provider with uuid {uuid} found"),
                    );
                };
                let generation = self.host(&name).map_or(0, |h| h.generation);
                HttpResponse::json(
                    200,
                    &json!({"usages": self.usages(&name), "resource_provider_generation": generation}),
                )
            }
            (
                "PUT",
                [
                    "placement",
                    "resource_providers",
                    uuid,
                    "inventories",
                    class,
                ],
            ) => {
                let Some(name) = provider(self, uuid) else {
                    return placement_error(
                        404,
                        &format!("No resource provider with uuid {uuid} found"),
                    );
                };
                let Some(body) = json_body(req) else {
                    return placement_error(400, "Malformed JSON");
                };
                let generation = self.host(&name).map_or(0, |h| h.generation);
                if body["resource_provider_generation"].as_i64() != Some(generation) {
                    return placement_error(409, "resource provider generation conflict");
                }
                let Some(total) = body["total"].as_u64().filter(|t| *t > 0) else {
                    return placement_error(400, "'total' is a required property");
                };
                let inv = FakeInventory {
                    total,
                    reserved: body["reserved"].as_u64().unwrap_or(0),
                    allocation_ratio: body["allocation_ratio"].as_f64().unwrap_or(1.0),
                };
                self.set_inventory(&name, class, Some(inv));
                let mut out = inventory_json(&inv);
                if let Some(o) = out.as_object_mut() {
                    o.insert("resource_provider_generation".into(), json!(generation + 1));
                }
                HttpResponse::json(200, &out)
            }
            _ => placement_error(404, "The resource could not be found."),
        }
    }

    // ------------------------------------------------------------ Glance

    fn image_json(&self, i: &ImageRec) -> Value {
        let mut o = Map::new();
        for (k, val) in &i.properties {
            o.insert(k.clone(), json!(val));
        }
        let standard = json!({
            "id": i.id, "name": i.name, "status": "active", "visibility": i.visibility,
            "os_hidden": i.hidden, "tags": i.tags, "protected": false, "owner": PROJECT_ID,
            "size": 1024, "virtual_size": null, "min_ram": 0, "min_disk": 0,
            "disk_format": "raw", "container_format": "bare",
            "checksum": "0f343b0931126a20f133d67c2b018a3b", "os_hash_algo": "sha512",
            "os_hash_value": "8efb4f73c5655351c444eb109230c556d39e2c7624e9c11abc9e3fb4b9b9254218cc5085b454a9698d085cfa92198491f07a723be4574adc70617b73eb0b6461",
            "created_at": i.created_at, "updated_at": i.created_at,
            "self": format!("/v2/images/{}", i.id), "file": format!("/v2/images/{}/file", i.id),
            "schema": "/v2/schemas/image", "stores": "file"
        });
        if let Some(s) = standard.as_object() {
            o.extend(s.clone());
        }
        Value::Object(o)
    }

    fn show_image(&self, id: &str) -> HttpResponse {
        match self.images.iter().find(|i| i.id == id) {
            Some(i) => HttpResponse::json(200, &self.image_json(i)),
            None => HttpResponse::html(404, &format!("No image found with ID {id}")),
        }
    }

    fn list_images(&self, req: &HttpRequest) -> HttpResponse {
        let limit = match limit_param(req, self.cfg.image_default_limit, self.cfg.max_limit) {
            Ok(l) => l,
            Err(_) => return HttpResponse::html(400, "limit param must be an integer"),
        };
        let hidden = req.param("os_hidden").is_some_and(truthy);
        let tags: Vec<&str> = req.params("tag").collect();
        const RESERVED: &[&str] = &[
            "limit",
            "marker",
            "sort",
            "sort_key",
            "sort_dir",
            "visibility",
            "member_status",
            "os_hidden",
            "tag",
            "name",
            "status",
            "owner",
            "protected",
        ];
        let selected: Vec<&ImageRec> = self
            .images
            .iter()
            .rev() // newest first
            .filter(|i| i.hidden == hidden)
            .filter(|i| tags.iter().all(|t| i.tags.iter().any(|it| it == t)))
            .filter(|i| {
                req.param("visibility")
                    .is_none_or(|vis| vis == "all" || vis == i.visibility)
            })
            .filter(|i| req.param("name").is_none_or(|n| n == i.name))
            .filter(|i| {
                req.query
                    .iter()
                    .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
                    .all(|(k, val)| i.properties.get(k) == Some(val))
            })
            .collect();
        let Ok((page, full)) = paginate(selected, |i| i.id.clone(), limit, req.param("marker"))
        else {
            return HttpResponse::html(
                400,
                &format!(
                    "marker could not be found: {}",
                    req.param("marker").unwrap_or("")
                ),
            );
        };
        let items: Vec<Value> = page.iter().map(|i| self.image_json(i)).collect();
        let mut body =
            json!({"images": items, "first": "/v2/images", "schema": "/v2/schemas/images"});
        if full && let (Some(last), Some(o)) = (page.last(), body.as_object_mut()) {
            o.insert(
                "next".into(),
                json!(format!("/v2/images?{}", next_query(req, limit, &last.id))),
            );
        }
        HttpResponse::json(200, &body)
    }
}

/// Placement's error body.
fn placement_error(status: u16, detail: &str) -> HttpResponse {
    let title = super::http::reason(status);
    HttpResponse::json(
        status,
        &json!({"errors": [{"status": status, "title": title, "detail": detail,
                            "request_id": "req-00000000-0000-4000-8000-000000000000"}]}),
    )
}

fn not_found_instance(id: &str) -> HttpResponse {
    nova_error(404, &format!("Instance {id} could not be found."))
}

/// Nova's `hostId`: a hash of project and host (sha224 there; any stable
/// 56-hex-digit value here).
fn host_id(project: &str, host: &str) -> String {
    let mut out = String::with_capacity(56);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for round in 0u8..4 {
        for b in project
            .bytes()
            .chain([b'/'])
            .chain(host.bytes())
            .chain([round])
        {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        out.push_str(&format!("{h:016x}"));
    }
    out.truncate(56);
    out
}
