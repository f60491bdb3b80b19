//! The Nova client: endpoint, negotiated microversion, and the plumbing the
//! concept modules ([`crate::service`], [`crate::server`],
//! [`crate::migration`], [`crate::hypervisor`]) share: URLs, status mapping
//! and guarded paging.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::Value;
use umha_common::Deadline;

use crate::error::{Error, Result, bounded};
use crate::microversion::{self, DEFAULT_CAP, MAXIMUM_CAP, Microversion, VersionRange};
use crate::session::{Answer, Call, Retry, Session, parse_url};

/// Paging and version knobs.
#[derive(Debug, Clone)]
pub struct ComputeOptions {
    /// Cap on the microversion; default: the cloud's `compute_api_version`,
    /// else [`DEFAULT_CAP`]. Never above [`MAXIMUM_CAP`].
    pub max_version: Option<Microversion>,
    /// `limit` per page (Nova caps it at its `max_limit`, 1000 by default).
    pub page_size: u32,
    /// A listing that needs more pages than this is refused, so an API that
    /// keeps answering "next" cannot keep us forever.
    pub max_pages: u32,
}

impl Default for ComputeOptions {
    fn default() -> Self {
        Self {
            max_version: None,
            page_size: 1000,
            max_pages: 200,
        }
    }
}

/// A Nova id: an integer before 2.53, a UUID from 2.53 (services and
/// hypervisors changed at that version).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(untagged)]
pub enum NovaId {
    Number(i64),
    Uuid(String),
}

impl fmt::Display for NovaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NovaId::Number(n) => write!(f, "{n}"),
            NovaId::Uuid(u) => f.write_str(u),
        }
    }
}

/// One Nova request.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    pub method: Method,
    pub url: Url,
    pub body: Option<&'a Value>,
    /// `None` sends no microversion headers (version discovery).
    pub version: Option<Microversion>,
    pub retry: Retry,
    pub what: &'a str,
}

/// A Nova client bound to one compute endpoint and microversion.
#[derive(Debug)]
pub struct Compute {
    session: Arc<Session>,
    endpoint: Url,
    version: Microversion,
    range: VersionRange,
    options: ComputeOptions,
}

#[derive(Deserialize)]
pub(crate) struct Link {
    #[serde(default)]
    pub rel: Option<String>,
}

pub(crate) fn has_next(links: &Option<Vec<Link>>) -> bool {
    links
        .as_deref()
        .is_some_and(|l| l.iter().any(|l| l.rel.as_deref() == Some("next")))
}

impl Compute {
    /// Find the compute endpoint in the catalog and negotiate the
    /// microversion with `GET <endpoint>/`.
    pub fn connect(
        session: Arc<Session>,
        options: ComputeOptions,
        deadline: Deadline,
    ) -> Result<Self> {
        let endpoint = session.endpoint("compute", deadline)?;
        Self::connect_to(session, &endpoint, options, deadline)
    }

    /// As [`Compute::connect`], with the endpoint given (no catalog lookup).
    pub fn connect_to(
        session: Arc<Session>,
        endpoint: &str,
        options: ComputeOptions,
        deadline: Deadline,
    ) -> Result<Self> {
        let mut endpoint = parse_url(endpoint.trim_end_matches('/'), "compute endpoint")?;
        if endpoint.cannot_be_a_base() || !matches!(endpoint.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "compute endpoint {:?} is not an http(s) URL",
                bounded(endpoint.as_str(), 120)
            )));
        }
        endpoint.set_fragment(None);
        let cap = options
            .max_version
            .or(session.cloud().compute_api_version)
            .unwrap_or(DEFAULT_CAP)
            .min(MAXIMUM_CAP);
        let mut client = Self {
            session,
            endpoint,
            version: microversion::MINIMUM,
            range: VersionRange {
                min: microversion::MINIMUM,
                max: microversion::MINIMUM,
            },
            options,
        };
        let url = client.url(&[""], &[])?;
        let req = Request {
            method: Method::GET,
            url,
            body: None,
            version: None,
            retry: Retry::Idempotent,
            what: "compute version discovery",
        };
        let answer = client.checked(req, deadline)?;
        let range = microversion::parse_version_document(&answer)?;
        client.version = microversion::negotiate(range, cap)?;
        if let Some(r) = range {
            client.range = r;
        }
        log::debug!(
            "nova at {}: microversions {}..{}, speaking {}",
            client.endpoint,
            client.range.min,
            client.range.max,
            client.version
        );
        Ok(client)
    }

    /// The microversion every request is sent with.
    pub fn version(&self) -> Microversion {
        self.version
    }

    /// What the server said it supports.
    pub fn server_versions(&self) -> VersionRange {
        self.range
    }

    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The session itself, to build another client (e.g.
    /// [`crate::Glance`]) that shares its token.
    pub fn shared_session(&self) -> Arc<Session> {
        Arc::clone(&self.session)
    }

    pub fn options(&self) -> &ComputeOptions {
        &self.options
    }

    /// `<endpoint>/<segments...>?<query>`, every segment percent-encoded (ids
    /// come from answers and must not be able to change the path).
    pub(crate) fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url> {
        let mut url = self.endpoint.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| Error::Config("compute endpoint cannot take a path".to_owned()))?;
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

    fn headers(version: Microversion) -> [(&'static str, String); 2] {
        [
            ("OpenStack-API-Version", format!("compute {version}")),
            ("X-OpenStack-Nova-API-Version", version.to_string()),
        ]
    }

    /// Send and return the answer whatever its status.
    pub(crate) fn raw(&self, req: Request<'_>, deadline: Deadline) -> Result<Answer> {
        let headers = req.version.map(Self::headers);
        let call = Call {
            method: req.method,
            url: req.url,
            body: req.body,
            headers: headers.as_ref().map(|h| &h[..]).unwrap_or(&[]),
            retry: req.retry,
            what: req.what,
        };
        self.session.call(&call, deadline)
    }

    /// Send and map a non-2xx status to its error.
    pub(crate) fn checked(&self, req: Request<'_>, deadline: Deadline) -> Result<Vec<u8>> {
        let what = req.what;
        let answer = self.raw(req, deadline)?;
        if answer.is_success() {
            return Ok(answer.body);
        }
        let message = self.session.quote(&answer.body, None)
            + &crate::session::attempts_note(answer.attempts());
        Err(Error::from_status(what, answer.status, message))
    }

    /// Send at the negotiated version.
    pub(crate) fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        retry: Retry,
        what: &str,
        deadline: Deadline,
    ) -> Result<Vec<u8>> {
        let req = Request {
            method,
            url,
            body,
            version: Some(self.version),
            retry,
            what,
        };
        self.checked(req, deadline)
    }

    pub(crate) fn get(&self, url: Url, what: &str, deadline: Deadline) -> Result<Vec<u8>> {
        self.send(Method::GET, url, None, Retry::Idempotent, what, deadline)
    }

    /// Fetch every page of a listing.
    ///
    /// `parse` turns one answer into its items and whether a `next` link
    /// follows. We build the next request ourselves with `marker` = the last
    /// item's id rather than follow the server's link (which could point at
    /// another host and take our token along). A page that repeats an id, a
    /// marker that does not move, or more than `max_pages` pages is an
    /// error: silently truncating a list of instances to evacuate is not an
    /// option.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn paged<T>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        paging: bool,
        version: Microversion,
        parse: impl Fn(&[u8]) -> Result<(Vec<T>, bool)>,
        id_of: impl Fn(&T) -> Option<String>,
        what: &str,
        deadline: Deadline,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut marker: Option<String> = None;
        let limit = self.options.page_size.max(1).to_string();
        for _ in 0..self.options.max_pages.max(1) {
            let mut q: Vec<(&str, &str)> = query.to_vec();
            if paging {
                q.push(("limit", &limit));
                if let Some(m) = &marker {
                    q.push(("marker", m));
                }
            }
            let url = self.url(segments, &q)?;
            let req = Request {
                method: Method::GET,
                url,
                body: None,
                version: Some(version),
                retry: Retry::Idempotent,
                what,
            };
            let body = self.checked(req, deadline)?;
            let (items, next) = parse(&body)?;
            let count = items.len();
            let mut last = None;
            for item in items {
                if let Some(id) = id_of(&item) {
                    if !seen.insert(id.clone()) {
                        return Err(Error::malformed(
                            what,
                            format!(
                                "id {} listed twice: the API's paging does not advance",
                                bounded(&id, 60)
                            ),
                        ));
                    }
                    last = Some(id);
                }
                out.push(item);
            }
            if !paging || !next || count == 0 {
                return Ok(out);
            }
            match last {
                None => return Err(Error::malformed(what, "a page with a next link but no ids")),
                Some(l) => marker = Some(l),
            }
        }
        Err(Error::malformed(
            what,
            format!(
                "more than {} pages of {}: refusing to go on",
                self.options.max_pages, self.options.page_size
            ),
        ))
    }
}

/// `null` (or absent, with `#[serde(default)]`) as the type's default.
pub(crate) fn nullable<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Parse a JSON answer into `T`, naming `what` on failure.
pub(crate) fn decode<'a, T: Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::json(what, &e))
}
