//! What can go wrong talking to Keystone and Nova, typed so the evacuator can
//! decide: give up and report `OCF_ERR_CONFIGURED` (bad configuration, wrong
//! credentials), try again on the next monitor (service unavailable, timeout,
//! evacuations not yet completed), or treat an instance as settled elsewhere.
//!
//! Every message that quotes the server is cut to a bounded length and cleaned
//! of control characters: an API answer is untrusted input and ends up in
//! Pacemaker's logs and in the CIB. Tokens and passwords are scrubbed by the
//! session before an error is built (see `Session::scrub`).

use std::fmt::Write as _;

/// Longest quote of a server's answer kept in an error message.
pub const MAX_QUOTE: usize = 300;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `clouds.yaml`, the `OS_*` environment or an option is missing or wrong.
    #[error("configuration: {0}")]
    Config(String),

    /// Keystone refused the credentials, or a fresh token was refused too.
    #[error("authentication failed ({what}): {message}")]
    AuthFailed { what: String, message: String },

    /// 403: the credentials work but lack the role (usually `admin`).
    #[error("forbidden ({what}): {message}")]
    Forbidden { what: String, message: String },

    /// 404.
    #[error("not found ({what}): {message}")]
    NotFound { what: String, message: String },

    /// 409, e.g. an instance in a task state that forbids the action.
    #[error("conflict ({what}): {message}")]
    Conflict { what: String, message: String },

    /// 400 with Nova's explanation.
    #[error("bad request ({what}): {message}")]
    BadRequest { what: String, message: String },

    /// Evacuate refused because Nova still counts the source compute service
    /// as up ("Compute service of X is still in use."): force it down first.
    #[error("compute service still in use ({what}): {message}")]
    ServiceStillInUse { what: String, message: String },

    /// Un-forcing a compute service refused while `done` evacuation
    /// migrations remain; they become `completed` a few seconds after the
    /// source nova-compute restarts. Retry later.
    #[error("evacuations not yet completed ({what}): {message}")]
    EvacuationsNotCompleted { what: String, message: String },

    /// 406, or no microversion both sides support.
    #[error("API version not supported ({what}): {message}")]
    VersionNotSupported { what: String, message: String },

    /// 5xx (after the retries allowed), or a connection that failed.
    #[error("service unavailable ({what}): {message}")]
    Unavailable {
        what: String,
        status: Option<u16>,
        message: String,
    },

    /// The deadline passed, or one request ran out of time.
    #[error("timed out ({what}): {message}")]
    Timeout { what: String, message: String },

    /// Certificate or handshake failure: wrong `cacert`, self-signed
    /// endpoint, hostname mismatch.
    #[error("TLS ({what}): {message}")]
    Tls { what: String, message: String },

    /// An answer we cannot use: not JSON, missing fields, too large, paging
    /// that does not advance.
    #[error("malformed answer ({what}): {message}")]
    Malformed { what: String, message: String },

    /// Any other status.
    #[error("unexpected HTTP {status} ({what}): {message}")]
    Http {
        what: String,
        status: u16,
        message: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Worth trying again later (next monitor, next attempt), as opposed to
    /// a configuration or permission problem that needs the administrator.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Unavailable { .. }
                | Error::Timeout { .. }
                | Error::EvacuationsNotCompleted { .. }
                | Error::ServiceStillInUse { .. }
        )
    }

    /// Errors an administrator must fix (maps to `OCF_ERR_CONFIGURED` or
    /// `OCF_ERR_PERM` at the agent edge).
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            Error::Config(_)
                | Error::AuthFailed { .. }
                | Error::Forbidden { .. }
                | Error::Tls { .. }
                | Error::VersionNotSupported { .. }
        )
    }

    /// The HTTP status behind this error, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::AuthFailed { .. } => Some(401),
            Error::Forbidden { .. } => Some(403),
            Error::NotFound { .. } => Some(404),
            Error::Conflict { .. } => Some(409),
            Error::BadRequest { .. }
            | Error::ServiceStillInUse { .. }
            | Error::EvacuationsNotCompleted { .. } => Some(400),
            Error::VersionNotSupported { .. } => None,
            Error::Unavailable { status, .. } => *status,
            Error::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(crate) fn malformed(what: &str, message: impl Into<String>) -> Self {
        Error::Malformed {
            what: what.to_owned(),
            message: bounded(&message.into(), MAX_QUOTE),
        }
    }

    /// A JSON decoding failure. serde_json quotes offending strings, and a
    /// hostile answer could put a token there: quoted text is dropped, only
    /// the kind of problem and its position are kept.
    pub(crate) fn json(what: &str, e: &serde_json::Error) -> Self {
        Error::malformed(what, unquote(&e.to_string()))
    }

    pub(crate) fn timeout(what: &str, message: impl Into<String>) -> Self {
        Error::Timeout {
            what: what.to_owned(),
            message: message.into(),
        }
    }

    /// The error for a non-success `status`; `message` is the server's,
    /// already scrubbed and bounded (see `Session::quote`).
    pub(crate) fn from_status(what: &str, status: u16, message: String) -> Self {
        let what = what.to_owned();
        match status {
            400 => Error::BadRequest { what, message },
            401 => Error::AuthFailed { what, message },
            403 => Error::Forbidden { what, message },
            404 => Error::NotFound { what, message },
            409 => Error::Conflict { what, message },
            406 => Error::VersionNotSupported { what, message },
            500..=599 => Error::Unavailable {
                what,
                status: Some(status),
                message,
            },
            _ => Error::Http {
                what,
                status,
                message,
            },
        }
    }
}

/// The human message inside an OpenStack error body, bounded.
///
/// Nova wraps it as `{"badRequest": {"code": 400, "message": "..."}}` (the
/// outer key varies), Keystone as `{"error": {"message": ..., "title": ...}}`,
/// and proxies answer HTML or plain text; anything else is quoted raw.
pub fn api_message(body: &[u8]) -> String {
    if body.is_empty() {
        return "(empty answer)".to_owned();
    }
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) {
        if let Some(m) = map.get("message").and_then(|m| m.as_str()) {
            return bounded(m, MAX_QUOTE);
        }
        for inner in map.values() {
            if let Some(m) = inner.get("message").and_then(|m| m.as_str()) {
                return bounded(m, MAX_QUOTE);
            }
        }
    }
    bounded(&String::from_utf8_lossy(body), MAX_QUOTE)
}

/// `text` with control characters replaced and cut to at most `max`
/// characters, so a hostile answer cannot flood a log line or forge new ones.
pub fn bounded(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 4));
    let mut count = 0;
    let mut last_space = false;
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        // Collapse runs of whitespace (HTML bodies are mostly indentation).
        if c.is_whitespace() {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        if count == max {
            out.push('…');
            return out.trim().to_owned();
        }
        out.push(c);
        count += 1;
    }
    out.trim().to_owned()
}

/// `text` with the content of "double-quoted" strings and long `backticked`
/// words replaced by an ellipsis.
fn unquote(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(400));
    let mut in_quote = false;
    let mut in_tick = String::new();
    let mut ticking = false;
    for c in text.chars() {
        if ticking {
            if c == '`' {
                ticking = false;
                if in_tick.chars().count() <= 40 {
                    out.push_str(&in_tick);
                } else {
                    out.push('…');
                }
                out.push('`');
                in_tick.clear();
            } else if in_tick.len() < 400 {
                in_tick.push(c);
            }
            continue;
        }
        match c {
            '"' if in_quote => {
                in_quote = false;
                out.push_str("…\"");
            }
            '"' => {
                in_quote = true;
                out.push('"');
            }
            _ if in_quote => {}
            '`' => {
                ticking = true;
                out.push('`');
            }
            _ => out.push(c),
        }
    }
    if in_quote || ticking {
        out.push('…');
    }
    out
}

/// A transport error as one bounded line, with its causes (reqwest's own
/// Display hides the interesting part, e.g. the certificate problem).
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    let mut depth = 0;
    while let Some(s) = source {
        let _ = write!(text, ": {s}");
        source = s.source();
        depth += 1;
        if depth > 8 {
            break;
        }
    }
    bounded(&text, MAX_QUOTE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nova_keystone_and_plain_messages() {
        let nova = br#"{"badRequest": {"code": 400, "message": "Compute service of cmp1 is still in use."}}"#;
        assert_eq!(
            api_message(nova),
            "Compute service of cmp1 is still in use."
        );
        let ks = br#"{"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}"#;
        assert_eq!(
            api_message(ks),
            "The request you have made requires authentication."
        );
        assert_eq!(
            api_message(b"<html>\n\n  <h1>502</h1></html>"),
            "<html> <h1>502</h1></html>"
        );
        assert_eq!(api_message(b""), "(empty answer)");
    }

    #[test]
    fn bounded_cuts_and_cleans() {
        let long = "x".repeat(10_000);
        let b = bounded(&long, 20);
        assert_eq!(b.chars().count(), 21);
        assert!(!bounded("a\nb\r\nc\u{1b}[31m", 100).contains(['\n', '\r', '\u{1b}']));
        // Never splits a multi-byte character.
        assert_eq!(bounded("ééé", 2), "éé…");
    }

    #[test]
    fn json_errors_never_quote_values() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            id: u64,
        }
        let secret = "gAAAAABsecret-token-value-0123456789";
        let body = format!(r#"{{"id": "{secret}"}}"#);
        let e = serde_json::from_str::<T>(&body)
            .err()
            .map(|e| Error::json("x", &e).to_string());
        let e = e.unwrap_or_default();
        assert!(!e.contains("secret-token"), "{e}");
        assert!(e.contains("invalid type"), "{e}");
        let e = serde_json::from_str::<T>("{}")
            .err()
            .map(|e| Error::json("x", &e).to_string());
        assert!(e.unwrap_or_default().contains("missing field `id`"));
    }

    #[test]
    fn statuses_map_to_types() {
        assert!(matches!(
            Error::from_status("x", 503, "down".into()),
            Error::Unavailable {
                status: Some(503),
                ..
            }
        ));
        assert!(Error::from_status("x", 503, String::new()).is_retryable());
        assert!(Error::from_status("x", 401, String::new()).is_configuration());
        assert!(matches!(
            Error::from_status("x", 406, String::new()),
            Error::VersionNotSupported { .. }
        ));
        assert_eq!(
            Error::from_status("x", 418, String::new()).status(),
            Some(418)
        );
    }
}
