//! The HTTP client and whom it trusts.
//!
//! rustls with no built-in roots: we trust the configured `cacert` bundle
//! only, as `requests`/openstacksdk do with `cacert`, or else the system
//! bundle (`SSL_CERT_FILE`, then the usual distribution paths). Loading it
//! ourselves keeps OpenSSL (and openssl-probe) out of the build, so the
//! agents link statically for musl.
//!
//! Redirects are followed only within the same origin: the token travels in
//! `X-Auth-Token`, which a redirect to another host would otherwise carry
//! along.

use std::io::Read;
use std::path::Path;

use reqwest::blocking::{Client, ClientBuilder};
use reqwest::{Certificate, redirect};

use crate::clouds::CloudConfig;
use crate::error::{Error, Result, chain};
use crate::session::SessionOptions;

const MAX_BUNDLE: u64 = 8 << 20;

/// Where distributions keep their CA bundle.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Whom a umha HTTP client trusts. Shared by this crate's Keystone/Nova
/// session and by agents that speak other REST APIs (fence_maas), so that
/// every umha client loads roots, refuses foreign redirects and warns about
/// disabled verification the same way.
#[derive(Debug, Clone, Copy)]
pub struct Trust<'a> {
    /// False only when the operator turned verification off by name
    /// (`verify: false`, `ssl_insecure=1`).
    pub verify: bool,
    /// A PEM bundle that replaces the system one.
    pub ca_file: Option<&'a Path>,
    /// What is being configured, for messages: `cloud "x" (clouds.yaml)`.
    pub subject: &'a str,
    /// The endpoint uses https: without any root, say so.
    pub https: bool,
}

/// A client builder with umha's trust and redirect rules; callers add their
/// timeouts and connection policy.
pub fn client_builder(trust: &Trust<'_>) -> Result<ClientBuilder> {
    let mut builder = Client::builder()
        .user_agent(concat!("umha/", env!("CARGO_PKG_VERSION")))
        .redirect(redirect::Policy::custom(|attempt| {
            if attempt.previous().len() > 3 {
                return attempt.error("too many redirects");
            }
            let same_origin = attempt
                .previous()
                .first()
                .is_some_and(|first| first.origin() == attempt.url().origin());
            if same_origin {
                attempt.follow()
            } else {
                attempt.stop()
            }
        }))
        .tls_built_in_root_certs(false);
    if !trust.verify {
        log::warn!(
            "TLS certificate verification is OFF for {}, as configured: anyone on the path can read the credentials",
            trust.subject
        );
        builder = builder.danger_accept_invalid_certs(true);
    } else {
        for cert in roots(trust)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder)
}

pub(crate) fn client(cloud: &CloudConfig, options: &SessionOptions) -> Result<Client> {
    let subject = format!("cloud {:?} ({})", cloud.name, cloud.origin);
    let trust = Trust {
        verify: cloud.verify,
        ca_file: cloud.cacert.as_deref(),
        subject: &subject,
        https: cloud.auth_url.starts_with("https:"),
    };
    let mut builder = client_builder(&trust)?
        .connect_timeout(options.connect_timeout)
        .timeout(options.request_timeout);
    if !options.reuse_connections {
        builder = builder.pool_max_idle_per_host(0);
    }
    if !options.use_env_proxy {
        builder = builder.no_proxy();
    }
    builder
        .build()
        .map_err(|e| Error::Config(format!("cannot build the HTTP client: {}", chain(&e))))
}

fn roots(trust: &Trust<'_>) -> Result<Vec<Certificate>> {
    if let Some(path) = trust.ca_file {
        let certs = load_bundle(path)?;
        if certs.is_empty() {
            return Err(Error::Config(format!(
                "{}: CA bundle {}: no PEM certificate in it",
                trust.subject,
                path.display()
            )));
        }
        return Ok(certs);
    }
    let env = std::env::var("SSL_CERT_FILE")
        .ok()
        .filter(|p| !p.is_empty());
    let candidates = env
        .iter()
        .map(String::as_str)
        .chain(SYSTEM_BUNDLES.iter().copied());
    for p in candidates {
        let path = Path::new(p);
        if path.is_file() {
            return load_bundle(path);
        }
    }
    if trust.https {
        log::warn!(
            "no system CA bundle found; configure a CA bundle for {}",
            trust.subject
        );
    }
    Ok(Vec::new())
}

fn load_bundle(path: &Path) -> Result<Vec<Certificate>> {
    let fail = |m: String| Error::Config(format!("CA bundle {}: {m}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let mut pem = Vec::new();
    file.take(MAX_BUNDLE + 1)
        .read_to_end(&mut pem)
        .map_err(|e| fail(e.to_string()))?;
    if pem.len() as u64 > MAX_BUNDLE {
        return Err(fail(format!("larger than {MAX_BUNDLE} bytes")));
    }
    Certificate::from_pem_bundle(&pem).map_err(|e| fail(chain(&e)))
}
