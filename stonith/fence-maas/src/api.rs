//! The few MAAS 2.0 calls fencing needs, over a blocking reqwest client.
//!
//! MAAS names its non-RESTful calls with an `op` parameter: the wire form
//! is `GET machines/{id}/?op=query_power_state` and `POST
//! machines/{id}/?op=power_off`, which MAAS's documentation writes
//! `op-query_power_state`. POST parameters go as `multipart/form-data`, the
//! encoding the MAAS API documentation asks for.
//!
//! Every answer is read with a size cap and parsed into the handful of
//! fields used, so a broken proxy, a hostile server or a huge listing gives
//! a clear error instead of a panic or an exhausted heap. Requests that
//! fail in a way worth another try (no connection, 502/503/504, other 5xx
//! for reads) are retried here with a short backoff until the request's
//! deadline; a power request is retried only when it cannot have been
//! carried out (no connection, 503), since MAAS's power on is a hard cycle
//! on some drivers.

use std::io::Read;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde::Deserialize;
use stonith_core::{DeviceError, PowerState};
use umha_common::Deadline;

use crate::config::Config;

/// The most a single-machine answer may weigh (a real one is a few KiB).
pub const MAX_BODY: usize = 1 << 20;
/// The most a machine listing may weigh: about 5 KiB a machine in MAAS 2.x,
/// so room for several thousand.
pub const MAX_LIST_BODY: usize = 64 << 20;
/// Per request when the caller has no deadline (tools run by hand).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Bounds the retries of a request without a deadline (tools run by hand).
const MAX_ATTEMPTS: u32 = 30;

/// What went wrong with a MAAS request. Never contains the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("MAAS refused the API key (HTTP {0})")]
    Refused(u16),
    #[error("{0}")]
    NotFound(String),
    #[error("MAAS is unavailable (HTTP {status}){detail}")]
    Unavailable { status: u16, detail: String },
    #[error("MAAS failed (HTTP {status}){detail}")]
    Server { status: u16, detail: String },
    #[error("MAAS refused the request (HTTP {status}){detail}")]
    Rejected { status: u16, detail: String },
    #[error("cannot reach MAAS: {0}")]
    Connect(String),
    #[error("MAAS did not answer in time: {0}")]
    Timeout(String),
    #[error(
        "cannot verify MAAS's TLS certificate (set ssl_ca_file to its CA, or ssl_insecure=1): {0}"
    )]
    Tls(String),
    #[error("MAAS's answer is larger than {} KiB", .0 / 1024)]
    TooLarge(usize),
    #[error("MAAS's answer is not what the MAAS 2.0 API documents: {0}")]
    Malformed(String),
    #[error(
        "ambiguous machine '{plug}': {count} MAAS machines match ({ids}); use the system_id or the FQDN"
    )]
    Ambiguous {
        plug: String,
        count: usize,
        ids: String,
    },
}

impl ApiError {
    /// Worth another try within the same request's deadline.
    fn retry(&self, method: &reqwest::Method) -> bool {
        match self {
            ApiError::Connect(_) => true,
            ApiError::Unavailable { status, .. } => {
                *method == reqwest::Method::GET || *status == 503
            }
            ApiError::Server { .. } | ApiError::Timeout(_) => *method == reqwest::Method::GET,
            _ => false,
        }
    }
}

impl From<ApiError> for DeviceError {
    fn from(err: ApiError) -> Self {
        let text = err.to_string();
        match err {
            ApiError::Refused(_) | ApiError::Tls(_) => DeviceError::AuthFailed(text),
            ApiError::NotFound(_) | ApiError::Ambiguous { .. } => DeviceError::NoSuchPlug(text),
            ApiError::Unavailable { .. } | ApiError::Connect(_) => DeviceError::Unreachable(text),
            ApiError::Timeout(_) => DeviceError::Timeout(text),
            ApiError::Rejected { .. } => DeviceError::Unsupported(text),
            ApiError::Server { .. } | ApiError::TooLarge(_) | ApiError::Malformed(_) => {
                DeviceError::Protocol(text)
            }
        }
    }
}

/// A machine as the listing and the read answer describe it; other fields
/// are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Machine {
    pub system_id: String,
    pub hostname: String,
    #[serde(default)]
    pub fqdn: Option<String>,
    /// MAAS's cached state, from its last query; only good for listings.
    #[serde(default)]
    pub power_state: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PowerReply {
    state: String,
}

/// A power state as MAAS words it: only `on` and `off` are states;
/// `unknown`, `error` and anything else are never taken for off.
pub fn power_state(word: &str) -> PowerState {
    match word.trim() {
        w if w.eq_ignore_ascii_case("on") => PowerState::On,
        w if w.eq_ignore_ascii_case("off") => PowerState::Off,
        _ => PowerState::Unknown,
    }
}

/// Parse a `query_power_state` answer.
pub fn parse_power_reply(body: &[u8]) -> Result<(PowerState, String), ApiError> {
    let reply: PowerReply = serde_json::from_slice(body)
        .map_err(|e| ApiError::Malformed(format!("power state: {e}")))?;
    let word = printable(&reply.state, 40);
    Ok((power_state(&reply.state), word))
}

/// Parse a machine listing; entries whose names could not be printed as a
/// plug (empty, blanks, control characters, commas) are dropped with a
/// warning, so one odd machine does not hide the others.
pub fn parse_machines(body: &[u8]) -> Result<Vec<Machine>, ApiError> {
    let machines: Vec<Machine> = serde_json::from_slice(body)
        .map_err(|e| ApiError::Malformed(format!("machine list: {e}")))?;
    let total = machines.len();
    let kept: Vec<Machine> = machines.into_iter().filter(plausible).collect();
    if kept.len() < total {
        log::warn!(
            "ignored {} MAAS machine(s) with an unusable hostname or system_id",
            total - kept.len()
        );
    }
    Ok(kept)
}

/// Parse a single machine.
pub fn parse_machine(body: &[u8]) -> Result<Machine, ApiError> {
    let machine: Machine =
        serde_json::from_slice(body).map_err(|e| ApiError::Malformed(format!("machine: {e}")))?;
    if plausible(&machine) {
        Ok(machine)
    } else {
        Err(ApiError::Malformed(
            "machine with an unusable hostname or system_id".into(),
        ))
    }
}

fn plausible(m: &Machine) -> bool {
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 255
            && !s
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == ',')
    };
    is_system_id(&m.system_id) && name_ok(&m.hostname) && m.fqdn.as_deref().is_none_or(name_ok)
}

/// What MAAS system ids look like (`4y3h7n`); also what may safely go into
/// a URL path unencoded.
pub fn is_system_id(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// At most `max` characters of `text`, printable ASCII only: what a server
/// said may be logged, but must not forge log lines.
fn printable(text: &str, max: usize) -> String {
    text.chars()
        .take(max)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// A MAAS API session: the configuration and one HTTP client.
#[derive(Debug)]
pub struct Maas {
    http: Client,
    config: Config,
}

impl Maas {
    pub fn new(http: Client, config: Config) -> Self {
        Self { http, config }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `GET machines/`, optionally filtered by hostname. MAAS 2.0 answers
    /// with every machine at once (it has no paging), hence the larger cap.
    pub fn machines(
        &self,
        hostname: Option<&str>,
        deadline: Deadline,
    ) -> Result<Vec<Machine>, ApiError> {
        let mut url = format!("{}machines/", self.config.api_root);
        if let Some(name) = hostname {
            url.push_str("?hostname=");
            url.push_str(&umha_common::percent::encode(name));
        }
        let body = self.send(reqwest::Method::GET, &url, None, MAX_LIST_BODY, deadline)?;
        parse_machines(&body)
    }

    /// `GET machines/{id}/`; a 404 is "no such machine".
    pub fn machine(&self, system_id: &str, deadline: Deadline) -> Result<Machine, ApiError> {
        let url = self.machine_url(system_id, None)?;
        let body = self.send(reqwest::Method::GET, &url, None, MAX_BODY, deadline)?;
        parse_machine(&body)
    }

    /// `GET machines/{id}/?op=query_power_state`: MAAS asks the BMC now
    /// (never the cached `power_state`).
    pub fn query_power_state(
        &self,
        system_id: &str,
        deadline: Deadline,
    ) -> Result<PowerState, ApiError> {
        let url = self.machine_url(system_id, Some("query_power_state"))?;
        let body = self.send(reqwest::Method::GET, &url, None, MAX_BODY, deadline)?;
        let (state, word) = parse_power_reply(&body)?;
        if state == PowerState::Unknown {
            log::warn!("MAAS reports power state '{word}' for {system_id}; not taken as off");
        }
        Ok(state)
    }

    /// `POST machines/{id}/?op=power_off` with `stop_mode`.
    pub fn power_off(&self, system_id: &str, deadline: Deadline) -> Result<(), ApiError> {
        let url = self.machine_url(system_id, Some("power_off"))?;
        let form = multipart(&[("stop_mode", self.config.stop_mode)]);
        self.send(reqwest::Method::POST, &url, Some(form), MAX_BODY, deadline)
            .map(drop)
    }

    /// `POST machines/{id}/?op=power_on`.
    pub fn power_on(&self, system_id: &str, deadline: Deadline) -> Result<(), ApiError> {
        let url = self.machine_url(system_id, Some("power_on"))?;
        self.send(
            reqwest::Method::POST,
            &url,
            Some(multipart(&[])),
            MAX_BODY,
            deadline,
        )
        .map(drop)
    }

    fn machine_url(&self, system_id: &str, op: Option<&str>) -> Result<String, ApiError> {
        if !is_system_id(system_id) {
            return Err(ApiError::NotFound(format!(
                "'{}' is not a MAAS system_id",
                printable(system_id, 80)
            )));
        }
        let mut url = format!("{}machines/{system_id}/", self.config.api_root);
        if let Some(op) = op {
            url.push_str("?op=");
            url.push_str(op);
        }
        Ok(url)
    }

    /// One request, retried while worth it and time is left.
    fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        form: Option<Form>,
        limit: usize,
        deadline: Deadline,
    ) -> Result<Vec<u8>, ApiError> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1u32;
        loop {
            let result = self.attempt(&method, url, form.as_ref(), limit, deadline);
            match result {
                Err(err)
                    if err.retry(&method)
                        && attempt < MAX_ATTEMPTS
                        && deadline.clamp(backoff) == backoff =>
                {
                    log::debug!("{method} {url} (attempt {attempt}): {err}; retrying");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn attempt(
        &self,
        method: &reqwest::Method,
        url: &str,
        form: Option<&Form>,
        limit: usize,
        deadline: Deadline,
    ) -> Result<Vec<u8>, ApiError> {
        let timeout = deadline.remaining().unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(ApiError::Timeout("no time left for the request".into()));
        }
        let authorization = self.config.key.authorization();
        let mut request: RequestBuilder = self
            .http
            .request(method.clone(), url)
            .timeout(timeout)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::AUTHORIZATION, authorization.expose());
        if let Some(form) = form {
            request = request
                .header(reqwest::header::CONTENT_TYPE, form.content_type.as_str())
                .body(form.body.clone());
        }
        let response = request.send().map_err(|e| transport_error(&e))?;
        let status = response.status();
        let body = read_capped(response, limit)?;
        if status.is_success() {
            return Ok(body);
        }
        Err(self.status_error(status, &body))
    }

    fn status_error(&self, status: StatusCode, body: &[u8]) -> ApiError {
        let code = status.as_u16();
        let text = self.scrub(&printable(&String::from_utf8_lossy(body), 200));
        let detail = if text.trim().is_empty() {
            String::new()
        } else {
            format!(": {}", text.trim())
        };
        match code {
            401 | 403 => ApiError::Refused(code),
            404 => ApiError::NotFound(format!("MAAS has no such machine (HTTP 404){detail}")),
            502..=504 => ApiError::Unavailable {
                status: code,
                detail,
            },
            500..=599 => ApiError::Server {
                status: code,
                detail,
            },
            _ => ApiError::Rejected {
                status: code,
                detail,
            },
        }
    }

    /// A server may echo what it was sent; no part of the key leaves here.
    fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for part in self.config.key.parts() {
            if !part.is_empty() {
                text = text.replace(part.expose(), "********");
            }
        }
        text
    }
}

/// A POST body.
#[derive(Debug, Clone)]
struct Form {
    content_type: String,
    body: Vec<u8>,
}

fn multipart(fields: &[(&str, &str)]) -> Form {
    // MAAS's parameters are plain words; this boundary never occurs in them.
    const BOUNDARY: &str = "umha-fence-maas-6f1d2c";
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    Form {
        content_type: format!("multipart/form-data; boundary={BOUNDARY}"),
        body: body.into_bytes(),
    }
}

fn read_capped(response: Response, limit: usize) -> Result<Vec<u8>, ApiError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(ApiError::TooLarge(limit));
    }
    let mut body = Vec::new();
    response
        .take(limit as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut {
                ApiError::Timeout(format!("reading the answer: {e}"))
            } else {
                ApiError::Connect(format!("reading the answer: {}", chain(&e)))
            }
        })?;
    if body.len() > limit {
        return Err(ApiError::TooLarge(limit));
    }
    Ok(body)
}

fn transport_error(err: &reqwest::Error) -> ApiError {
    let text = chain(err);
    if err.is_timeout() {
        ApiError::Timeout(text)
    } else if text.contains("certificate") || text.contains("InvalidCertificate") {
        ApiError::Tls(text)
    } else {
        ApiError::Connect(text)
    }
}

/// An error and its causes on one line; reqwest's own message alone says
/// only "error sending request".
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_on_and_off_are_states() {
        assert_eq!(power_state("on"), PowerState::On);
        assert_eq!(power_state("OFF"), PowerState::Off);
        for word in ["unknown", "error", "", "offline", "of f"] {
            assert_eq!(power_state(word), PowerState::Unknown, "{word}");
        }
    }

    #[test]
    fn power_replies() {
        assert_eq!(
            parse_power_reply(br#"{"state": "off"}"#).unwrap().0,
            PowerState::Off
        );
        assert_eq!(
            parse_power_reply(br#"{"state": "error", "x": 1}"#)
                .unwrap()
                .0,
            PowerState::Unknown
        );
        for bad in [
            &b""[..],
            b"null",
            b"[]",
            br#"{"state": 1}"#,
            br#"{"stat": "on"}"#,
            b"<html>",
        ] {
            assert!(
                matches!(parse_power_reply(bad), Err(ApiError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn listings_drop_unprintable_machines() {
        let body = br#"[
            {"system_id": "abc123", "hostname": "cmp1", "fqdn": "cmp1.maas", "power_state": "on", "extra": {"x": [1]}},
            {"system_id": "def456", "hostname": "evil\nline", "fqdn": null},
            {"system_id": "../x", "hostname": "cmp3"},
            {"system_id": "ghi789", "hostname": "cmp4"}
        ]"#;
        let machines = parse_machines(body).unwrap();
        let names: Vec<&str> = machines.iter().map(|m| m.hostname.as_str()).collect();
        assert_eq!(names, ["cmp1", "cmp4"]);
        assert!(matches!(
            parse_machines(br#"{"machines": []}"#),
            Err(ApiError::Malformed(_))
        ));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            parse_machines(deep.as_bytes()),
            Err(ApiError::Malformed(_))
        ));
        assert!(parse_power_reply(deep.as_bytes()).is_err());
    }

    #[test]
    fn system_ids_are_path_safe() {
        assert!(is_system_id("4y3h7n"));
        for bad in ["", "a/b", "..", "a b", "a?op=x", &"x".repeat(65)] {
            assert!(!is_system_id(bad), "{bad}");
        }
    }

    #[test]
    fn errors_map_to_device_errors_runners_understand() {
        let auth: DeviceError = ApiError::Refused(401).into();
        assert!(!auth.is_transient());
        assert!(auth.to_string().contains("MAAS refused the API key"));
        let busy: DeviceError = ApiError::Unavailable {
            status: 503,
            detail: String::new(),
        }
        .into();
        assert!(busy.is_transient());
        let slow: DeviceError = ApiError::Timeout("x".into()).into();
        assert!(slow.to_string().contains("timed out"));
        let gone: DeviceError = ApiError::NotFound("x".into()).into();
        assert!(!gone.is_transient());
    }

    #[test]
    fn power_requests_retry_only_when_nothing_can_have_happened() {
        let post = reqwest::Method::POST;
        let get = reqwest::Method::GET;
        let unavailable = |status| ApiError::Unavailable {
            status,
            detail: String::new(),
        };
        assert!(unavailable(503).retry(&post));
        assert!(!unavailable(504).retry(&post));
        assert!(unavailable(504).retry(&get));
        assert!(ApiError::Connect(String::new()).retry(&post));
        assert!(!ApiError::Timeout(String::new()).retry(&post));
        assert!(ApiError::Timeout(String::new()).retry(&get));
        assert!(!ApiError::Refused(401).retry(&get));
    }

    #[test]
    fn multipart_body() {
        let form = multipart(&[("stop_mode", "hard")]);
        let body = String::from_utf8(form.body).unwrap();
        assert!(
            form.content_type
                .starts_with("multipart/form-data; boundary=")
        );
        assert!(
            body.contains("name=\"stop_mode\"\r\n\r\nhard\r\n"),
            "{body}"
        );
        assert!(body.ends_with("--\r\n"));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_power_reply(&bytes);
            let _ = parse_machines(&bytes);
            let _ = parse_machine(&bytes);
        }

        #[test]
        fn json_shaped_garbage_parses_or_fails_cleanly(text in r#"[\[\]{}",:a-z0-9 \\]{0,300}"#) {
            let _ = parse_power_reply(text.as_bytes());
            let _ = parse_machines(text.as_bytes());
        }

        #[test]
        fn every_state_word_is_on_off_or_unknown(word in ".{0,20}") {
            let state = power_state(&word);
            let t = word.trim();
            proptest::prop_assert_eq!(state == PowerState::Off, t.eq_ignore_ascii_case("off"));
        }
    }
}
