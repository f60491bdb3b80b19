//! One authenticated HTTP session: the TLS client, the token, retries.
//!
//! Every request gets a total timeout no longer than what is left of the
//! caller's [`Deadline`] (and at most [`SessionOptions::request_timeout`]),
//! which bounds connect, send and the body read together. Answers are read
//! up to [`SessionOptions::max_body`] bytes and no further.
//!
//! Retries follow [`Retry`]: reads and idempotent updates are retried on
//! 5xx, connection failures and timeouts, with backoff, while the deadline
//! allows. A request that is not idempotent (evacuate) is resent only when
//! the connection could not be made at all, so Nova cannot have seen it; any
//! other failure is returned for the caller to check the server's state
//! first. A 401 on an authenticated request drops the token, authenticates
//! once more and repeats the request once: a 401 means it was not processed.
//!
//! The session is `Sync`: threads of a bounded pool share one token.

use std::io::Read;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use reqwest::blocking::Client;
use reqwest::{Method, Url};
use serde_json::Value;
use umha_common::{Deadline, Secret};

use crate::auth::{self, MAX_TOKEN_LEN, Token};
use crate::clouds::CloudConfig;
use crate::error::{Error, MAX_QUOTE, Result, api_message, bounded, chain};

/// Knobs with defaults that suit an agent under Pacemaker.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Longest single attempt (connect + request + answer).
    pub request_timeout: Duration,
    /// Longest TCP+TLS connect.
    pub connect_timeout: Duration,
    /// Largest answer body read.
    pub max_body: usize,
    /// Attempts per request, first one included.
    pub max_attempts: u32,
    /// First backoff; doubles per attempt, capped at 4 s, with jitter.
    pub backoff: Duration,
    /// Honour `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`, as the openstack CLI does.
    pub use_env_proxy: bool,
    /// Keep connections open between requests. Off by default: a server
    /// that closes an idle connection just as we reuse it (the lab's uwsgi
    /// did, about 1 request in 20) fails the request after it may have been
    /// sent, and for an evacuate that means "unknown, check and retry next
    /// time" instead of "done". A fresh connection costs a millisecond or
    /// two; an ambiguous evacuate costs a monitor interval.
    pub reuse_connections: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body: 16 << 20,
            max_attempts: 4,
            backoff: Duration::from_millis(250),
            use_env_proxy: true,
            reuse_connections: false,
        }
    }
}

/// When a failed attempt may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Repeating is harmless (GET, setting a service flag, asking a token).
    Idempotent,
    /// Only if the connection could not be made (evacuate).
    ConnectOnly,
}

/// A request to send.
#[derive(Debug)]
pub struct Call<'a> {
    pub method: Method,
    pub url: Url,
    pub body: Option<&'a Value>,
    pub headers: &'a [(&'static str, String)],
    pub retry: Retry,
    /// What this is, for messages ("list services on cmp1").
    pub what: &'a str,
}

/// A complete answer (any status).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    subject_token: Option<String>,
    attempts: u32,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// How many attempts it took (1 unless 5xx answers were retried), so
    /// that an error after the last one can say retries were spent.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

/// " (after N attempts)" when more than one was made: an error the caller
/// sees after retries should say so, or an operator reads one 503 as bad
/// luck instead of a service that stayed down.
pub(crate) fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

/// Why one attempt produced no answer.
enum Failure {
    Transport {
        message: String,
        connect: bool,
        timeout: bool,
        tls: bool,
    },
    Fatal(Error),
}

/// An authenticated session with one cloud.
#[derive(Debug)]
pub struct Session {
    cloud: CloudConfig,
    options: SessionOptions,
    http: Client,
    token: Mutex<Option<Arc<Token>>>,
    /// Held while authenticating, so that threads hitting an expired token
    /// together authenticate once.
    auth_lock: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Session {
    pub fn new(cloud: CloudConfig, options: SessionOptions) -> Result<Self> {
        let http = crate::tls::client(&cloud, &options)?;
        if let Some(logger) = umha_common::log::global() {
            logger.redact(cloud.credential.secret());
        }
        Ok(Self {
            cloud,
            options,
            http,
            token: Mutex::new(None),
            auth_lock: Mutex::new(()),
        })
    }

    pub fn cloud(&self) -> &CloudConfig {
        &self.cloud
    }

    pub fn options(&self) -> &SessionOptions {
        &self.options
    }

    /// The current token, authenticating if there is none or it is about to
    /// expire.
    pub fn token(&self, deadline: Deadline) -> Result<Arc<Token>> {
        if let Some(t) = lock(&self.token).as_ref().filter(|t| t.is_fresh()) {
            return Ok(Arc::clone(t));
        }
        let _auth = lock(&self.auth_lock);
        // Another thread may have authenticated while we waited.
        if let Some(t) = lock(&self.token).as_ref().filter(|t| t.is_fresh()) {
            return Ok(Arc::clone(t));
        }
        let fresh = Arc::new(self.authenticate(deadline)?);
        *lock(&self.token) = Some(Arc::clone(&fresh));
        Ok(fresh)
    }

    /// Forget `stale` (unless another thread already replaced it).
    fn invalidate(&self, stale: &Arc<Token>) {
        let mut current = lock(&self.token);
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, stale)) {
            *current = None;
        }
    }

    /// Ask Keystone for a new token.
    fn authenticate(&self, deadline: Deadline) -> Result<Token> {
        let what = "Keystone authentication";
        let url = parse_url(&format!("{}/auth/tokens", self.cloud.auth_url), what)?;
        let body = auth::token_request(&self.cloud.credential);
        let call = Call {
            method: Method::POST,
            url,
            body: Some(&body),
            headers: &[],
            retry: Retry::Idempotent,
            what,
        };
        let answer = self.send(&call, None, deadline)?;
        drop(body);
        if !answer.is_success() {
            let message = self.quote(&answer.body, None) + &attempts_note(answer.attempts);
            // Keystone answers 400 for an incomplete identity (no domain),
            // 401 for wrong secrets, 404 for an unknown user or credential:
            // all of them are the configuration's fault.
            return Err(match answer.status {
                400 | 401 | 404 => Error::AuthFailed {
                    what: format!("{} as configured in {}", what, self.cloud.origin),
                    message,
                },
                status => Error::from_status(what, status, message),
            });
        }
        let token = auth::parse_token(
            answer.subject_token.as_deref(),
            &answer.body,
            Instant::now(),
        )?;
        if let Some(logger) = umha_common::log::global() {
            logger.redact(token.secret());
        }
        log::debug!(
            "authenticated to {} (project {}, expires {})",
            self.cloud.auth_url,
            token.project_id.as_deref().unwrap_or("-"),
            token.expires_at.as_deref().unwrap_or("-")
        );
        Ok(token)
    }

    /// The endpoint of `service_type` for the configured interface and region.
    pub fn endpoint(&self, service_type: &str, deadline: Deadline) -> Result<String> {
        let token = self.token(deadline)?;
        if token.catalog.services.is_empty() {
            return Err(Error::Config(format!(
                "the token from {} has no service catalog: configure a project (project_name or project_id)",
                self.cloud.auth_url
            )));
        }
        token.catalog.url_for(
            service_type,
            self.cloud.interface,
            self.cloud.region.as_deref(),
        )
    }

    /// Send with the token; on 401, authenticate again and repeat once.
    pub fn call(&self, call: &Call<'_>, deadline: Deadline) -> Result<Answer> {
        let mut renewed = false;
        loop {
            let token = self.token(deadline)?;
            let answer = self.send(call, Some(token.secret()), deadline)?;
            if answer.status != 401 {
                return Ok(answer);
            }
            if renewed {
                return Err(Error::AuthFailed {
                    what: call.what.to_owned(),
                    message: format!(
                        "a fresh token was refused too: {}",
                        self.quote(&answer.body, Some(token.secret()))
                    ),
                });
            }
            log::info!("{}: token refused (401), authenticating again", call.what);
            self.invalidate(&token);
            renewed = true;
        }
    }

    /// Quote an error body: secrets scrubbed first, then bounded.
    pub(crate) fn quote(&self, body: &[u8], token: Option<&Secret>) -> String {
        let text = String::from_utf8_lossy(body);
        let scrubbed = self.scrub(&text, token);
        api_message(scrubbed.as_bytes())
    }

    /// `text` with the password/secret and the tokens (given and current)
    /// replaced.
    pub(crate) fn scrub(&self, text: &str, token: Option<&Secret>) -> String {
        let mut out = text.to_owned();
        let current = lock(&self.token).clone();
        let secrets = [
            Some(self.cloud.credential.secret()),
            token,
            current.as_deref().map(Token::secret),
        ];
        for s in secrets.into_iter().flatten() {
            if s.expose().len() >= 3 && out.contains(s.expose()) {
                out = out.replace(s.expose(), "********");
            }
        }
        out
    }

    /// One request with retries; no 401 handling.
    fn send(&self, call: &Call<'_>, token: Option<&Secret>, deadline: Deadline) -> Result<Answer> {
        let max = self.options.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            if deadline.expired() {
                return Err(Error::timeout(call.what, "the deadline passed"));
            }
            let timeout = deadline.clamp(self.options.request_timeout);
            let started = Instant::now();
            let outcome = self.send_once(call, token, timeout);
            let elapsed = started.elapsed();
            let more = attempt < max;
            match outcome {
                Ok((mut answer, retry_after)) => {
                    answer.attempts = attempt;
                    log::debug!(
                        "{} {} → {} in {} ms",
                        call.method,
                        short_url(&call.url),
                        answer.status,
                        elapsed.as_millis()
                    );
                    let retryable = call.retry == Retry::Idempotent
                        && matches!(answer.status, 500 | 502 | 503 | 504);
                    if retryable && more {
                        let wait = retry_after.unwrap_or_else(|| self.backoff(attempt));
                        if self.pause(
                            call.what,
                            &format!("HTTP {}", answer.status),
                            wait,
                            attempt,
                            max,
                            deadline,
                        ) {
                            continue;
                        }
                    }
                    return Ok(answer);
                }
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Transport {
                    message,
                    connect,
                    timeout: timed_out,
                    tls,
                }) => {
                    let mut message = self.scrub(&message, token);
                    if tls {
                        return Err(Error::Tls {
                            what: call.what.to_owned(),
                            message,
                        });
                    }
                    let retryable = match call.retry {
                        Retry::Idempotent => true,
                        Retry::ConnectOnly => connect,
                    };
                    if retryable
                        && more
                        && self.pause(
                            call.what,
                            &message,
                            self.backoff(attempt),
                            attempt,
                            max,
                            deadline,
                        )
                    {
                        continue;
                    }
                    message.push_str(&attempts_note(attempt));
                    return Err(if timed_out {
                        Error::timeout(call.what, message)
                    } else {
                        Error::Unavailable {
                            what: call.what.to_owned(),
                            status: None,
                            message,
                        }
                    });
                }
            }
        }
    }

    /// Sleep before another attempt; false if the deadline leaves no room.
    fn pause(
        &self,
        what: &str,
        why: &str,
        wait: Duration,
        attempt: u32,
        max: u32,
        deadline: Deadline,
    ) -> bool {
        match deadline.remaining() {
            Some(left) if left <= wait => return false,
            _ => {}
        }
        log::warn!(
            "{what}: {}; retrying in {} ms (attempt {}/{max})",
            bounded(why, 200),
            wait.as_millis(),
            attempt + 1
        );
        deadline.sleep(wait)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .options
            .backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(6))
            .min(Duration::from_secs(4));
        // Up to 25% jitter, so a pool of threads does not retry in lockstep.
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        base + base.mul_f64(f64::from(nanos % 1000) / 4000.0)
    }

    fn send_once(
        &self,
        call: &Call<'_>,
        token: Option<&Secret>,
        timeout: Duration,
    ) -> std::result::Result<(Answer, Option<Duration>), Failure> {
        let mut req = self
            .http
            .request(call.method.clone(), call.url.clone())
            .timeout(timeout)
            .header("Accept", "application/json");
        if let Some(t) = token {
            let mut value = reqwest::header::HeaderValue::from_str(t.expose()).map_err(|_| {
                Failure::Fatal(Error::malformed("token", "not a valid header value"))
            })?;
            value.set_sensitive(true);
            req = req.header("X-Auth-Token", value);
        }
        for (name, value) in call.headers {
            req = req.header(*name, value.as_str());
        }
        if let Some(body) = call.body {
            req = req.json(body);
        }
        let mut resp = req.send().map_err(|e| transport(&e))?;
        let status = resp.status().as_u16();
        let subject_token = resp
            .headers()
            .get("X-Subject-Token")
            .filter(|v| v.len() <= MAX_TOKEN_LEN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let retry_after = resp
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(5)));
        let max = self.options.max_body;
        if resp.content_length().is_some_and(|n| n > max as u64) {
            return Err(Failure::Fatal(Error::malformed(
                call.what,
                format!("answer of HTTP {status} larger than {max} bytes"),
            )));
        }
        let mut body = Vec::new();
        (&mut resp)
            .take(max as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| Failure::Transport {
                timeout: e.kind() == std::io::ErrorKind::TimedOut
                    || chain(&e).contains("timed out"),
                message: format!("reading the answer: {}", chain(&e)),
                connect: false,
                tls: false,
            })?;
        if body.len() > max {
            return Err(Failure::Fatal(Error::malformed(
                call.what,
                format!("answer of HTTP {status} larger than {max} bytes"),
            )));
        }
        Ok((
            Answer {
                status,
                body,
                subject_token,
                attempts: 1,
            },
            retry_after,
        ))
    }
}

fn transport(e: &reqwest::Error) -> Failure {
    let message = chain(e);
    let lower = message.to_ascii_lowercase();
    let tls = e.is_connect()
        && [
            "certificate",
            "tls",
            "handshake",
            "unknownissuer",
            "notvalidforname",
        ]
        .iter()
        .any(|w| lower.contains(w));
    Failure::Transport {
        connect: e.is_connect(),
        timeout: e.is_timeout(),
        tls,
        message: bounded(&message, MAX_QUOTE),
    }
}

pub(crate) fn parse_url(s: &str, what: &str) -> Result<Url> {
    Url::parse(s).map_err(|e| Error::Config(format!("{what}: bad URL {:?}: {e}", bounded(s, 120))))
}

/// The URL for a log line, kept short.
fn short_url(url: &Url) -> String {
    bounded(url.as_str(), 200)
}
