//! Keystone v3: the token request, the token and its service catalog.
//!
//! The token's lifetime is taken from Keystone's own `issued_at`/`expires_at`
//! difference and counted on our monotonic clock from the moment the answer
//! arrived, so a controller whose wall clock is off does not reuse an expired
//! token (or throw away a good one).

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};
use umha_common::Secret;

use crate::clouds::{AppCredential, Credential, Domain, Interface, Project, User};
use crate::error::{Error, Result, bounded};

/// A token is not reused in its last tenth of life, at most this long.
const MAX_MARGIN: Duration = Duration::from_secs(120);
/// Reuse window when Keystone's answer has no usable lifetime.
const UNKNOWN_LIFETIME: Duration = Duration::from_secs(60);
/// Longest `X-Subject-Token` accepted (Fernet tokens are ~200 bytes; PKI
/// tokens were a few KiB).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// A Keystone token: the secret plus what came with it.
#[derive(Debug)]
pub struct Token {
    value: Secret,
    /// Keystone's `expires_at`, as sent.
    pub expires_at: Option<String>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub catalog: Catalog,
    valid_until: Instant,
}

impl Token {
    pub fn secret(&self) -> &Secret {
        &self.value
    }

    /// Still good for a request (not in its last tenth of life).
    pub fn is_fresh(&self) -> bool {
        Instant::now() < self.valid_until
    }
}

/// The service catalog of a token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    pub services: Vec<CatalogService>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CatalogService {
    #[serde(rename = "type")]
    pub service_type: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Endpoint {
    pub interface: String,
    #[serde(default)]
    pub region_id: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    pub url: String,
}

impl Endpoint {
    fn region_name(&self) -> Option<&str> {
        self.region_id.as_deref().or(self.region.as_deref())
    }
}

impl Catalog {
    /// The URL of `service_type` for this interface and region. Without a
    /// region, several regions offering the service is an error: guessing
    /// would evacuate through the wrong cloud.
    pub fn url_for(
        &self,
        service_type: &str,
        interface: Interface,
        region: Option<&str>,
    ) -> Result<String> {
        let mut offered = Vec::new();
        let mut found: Vec<&Endpoint> = Vec::new();
        for svc in self
            .services
            .iter()
            .filter(|s| s.service_type == service_type)
        {
            for ep in &svc.endpoints {
                offered.push(format!(
                    "{}@{}",
                    ep.interface,
                    ep.region_name().unwrap_or("(no region)")
                ));
                let iface_ok = ep
                    .interface
                    .trim_end_matches("URL")
                    .eq_ignore_ascii_case(interface.as_str());
                let region_ok = match region {
                    None => true,
                    Some(r) => {
                        ep.region_id.as_deref() == Some(r) || ep.region.as_deref() == Some(r)
                    }
                };
                if iface_ok && region_ok {
                    found.push(ep);
                }
            }
        }
        let Some(first) = found.first() else {
            offered.sort_unstable();
            offered.dedup();
            let offered = if offered.is_empty() {
                "none".to_owned()
            } else {
                offered.join(", ")
            };
            return Err(Error::Config(bounded(
                &format!(
                    "the catalog has no {service_type} endpoint for interface {} in region {} (it has: {offered})",
                    interface.as_str(),
                    region.unwrap_or("(any)"),
                ),
                400,
            )));
        };
        if region.is_none() {
            let mut regions: Vec<&str> = found.iter().filter_map(|e| e.region_name()).collect();
            regions.sort_unstable();
            regions.dedup();
            if regions.len() > 1 {
                return Err(Error::Config(bounded(
                    &format!(
                        "several regions offer {service_type} ({}): set region_name",
                        regions.join(", ")
                    ),
                    400,
                )));
            }
        }
        Ok(first.url.clone())
    }
}

fn domain_json(d: &Domain) -> Value {
    match d {
        Domain::Id(id) => json!({ "id": id }),
        Domain::Name(name) => json!({ "name": name }),
    }
}

fn user_json(u: &User) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    match u {
        User::Id(id) => {
            m.insert("id".into(), json!(id));
        }
        User::Name { name, domain } => {
            m.insert("name".into(), json!(name));
            m.insert("domain".into(), domain_json(domain));
        }
    }
    m
}

/// The body of `POST /v3/auth/tokens`. It holds the clear secret: send it,
/// never log it.
pub(crate) fn token_request(credential: &Credential) -> Value {
    match credential {
        Credential::Password {
            user,
            password,
            project,
        } => {
            let mut u = user_json(user);
            u.insert("password".into(), json!(password.expose()));
            let mut auth = json!({
                "identity": { "methods": ["password"], "password": { "user": Value::Object(u) } }
            });
            if let (Some(p), Some(obj)) = (project, auth.as_object_mut()) {
                let project = match p {
                    Project::Id(id) => json!({ "id": id }),
                    Project::Name { name, domain } => {
                        json!({ "name": name, "domain": domain_json(domain) })
                    }
                };
                obj.insert("scope".into(), json!({ "project": project }));
            }
            json!({ "auth": auth })
        }
        Credential::ApplicationCredential { credential, secret } => {
            let mut ac = serde_json::Map::new();
            match credential {
                AppCredential::Id(id) => {
                    ac.insert("id".into(), json!(id));
                }
                AppCredential::Name { name, user } => {
                    ac.insert("name".into(), json!(name));
                    ac.insert("user".into(), Value::Object(user_json(user)));
                }
            }
            ac.insert("secret".into(), json!(secret.expose()));
            json!({ "auth": { "identity": {
                "methods": ["application_credential"],
                "application_credential": Value::Object(ac),
            } } })
        }
    }
}

#[derive(Deserialize)]
struct IdOnly {
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct TokenInfo {
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    issued_at: Option<String>,
    #[serde(default)]
    user: Option<IdOnly>,
    #[serde(default)]
    project: Option<IdOnly>,
    #[serde(default)]
    catalog: Option<Vec<CatalogService>>,
}

#[derive(Deserialize)]
struct TokenBody {
    token: TokenInfo,
}

/// The token from a 201 answer: `X-Subject-Token` and the JSON body.
pub fn parse_token(subject_token: Option<&str>, body: &[u8], received: Instant) -> Result<Token> {
    const WHAT: &str = "Keystone token";
    let value = subject_token
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::malformed(WHAT, "no X-Subject-Token header"))?;
    if value.len() > MAX_TOKEN_LEN || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::malformed(
            WHAT,
            "X-Subject-Token is not a plausible token",
        ));
    }
    // serde_json's message names a position and type, never the content of
    // long strings, so it is safe to quote.
    let body: TokenBody = serde_json::from_slice(body).map_err(|e| Error::json(WHAT, &e))?;
    let info = body.token;
    let catalog = Catalog {
        services: info.catalog.unwrap_or_default(),
    };
    let lifetime = lifetime(info.issued_at.as_deref(), info.expires_at.as_deref());
    let valid_until = match lifetime {
        Some(l) => received + l.saturating_sub((l / 10).min(MAX_MARGIN)),
        None => received + UNKNOWN_LIFETIME,
    };
    Ok(Token {
        value: Secret::new(value),
        expires_at: info.expires_at,
        user_id: info.user.and_then(|u| u.id),
        project_id: info.project.and_then(|p| p.id),
        catalog,
        valid_until,
    })
}

/// `expires_at - issued_at`, or `expires_at - now` without `issued_at`;
/// `None` when unparseable, zero when already past.
fn lifetime(issued_at: Option<&str>, expires_at: Option<&str>) -> Option<Duration> {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s.trim()).ok();
    let expires = parse(expires_at?)?;
    let from = match issued_at.and_then(parse) {
        Some(i) => i.to_utc(),
        None => chrono::Utc::now(),
    };
    let secs = (expires.to_utc() - from).num_milliseconds();
    Some(Duration::from_millis(u64::try_from(secs).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn catalog() -> Catalog {
        let body = br#"{"token": {"catalog": [
            {"type": "compute", "name": "nova", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": "http://pub:8774/v2.1"},
                {"interface": "internal", "region_id": "RegionOne", "url": "http://int:8774/v2.1"},
                {"interface": "public", "region_id": "RegionTwo", "url": "http://two:8774/v2.1"}]},
            {"type": "identity", "endpoints": [{"interface": "public", "region": "RegionOne", "url": "http://ks:5000/v3"}]}
        ], "expires_at": "2030-01-01T01:00:00.000000Z", "issued_at": "2030-01-01T00:00:00.000000Z"}}"#;
        parse_token(Some("gAAAAtoken"), body, Instant::now())
            .map(|t| t.catalog)
            .unwrap_or_default()
    }

    #[test]
    fn endpoint_selection() {
        let c = catalog();
        assert_eq!(
            c.url_for("compute", Interface::Public, Some("RegionOne"))
                .ok()
                .as_deref(),
            Some("http://pub:8774/v2.1")
        );
        assert_eq!(
            c.url_for("compute", Interface::Internal, None)
                .ok()
                .as_deref(),
            Some("http://int:8774/v2.1")
        );
        let e = c
            .url_for("compute", Interface::Public, None)
            .err()
            .map(|e| e.to_string());
        assert!(
            e.as_deref().unwrap_or("").contains("set region_name"),
            "{e:?}"
        );
        let e = c
            .url_for("compute", Interface::Admin, Some("RegionOne"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("internal@RegionOne") && e.contains("public@RegionTwo"),
            "{e}"
        );
        assert!(c.url_for("placement", Interface::Public, None).is_err());
    }

    #[test]
    fn token_lifetime_uses_keystone_difference() {
        // Issued and expiring in 2030: an hour of life even though "now" is earlier.
        let body = br#"{"token": {"expires_at": "2030-01-01T01:00:00Z", "issued_at": "2030-01-01T00:00:00Z"}}"#;
        let t = parse_token(Some("tok"), body, Instant::now());
        assert!(t.as_ref().is_ok_and(|t| t.is_fresh()));
        // Already expired by its own account: never reused.
        let body = br#"{"token": {"expires_at": "2020-01-01T00:00:00Z", "issued_at": "2020-01-01T00:00:00Z"}}"#;
        assert!(parse_token(Some("tok"), body, Instant::now()).is_ok_and(|t| !t.is_fresh()));
        assert_eq!(lifetime(None, Some("garbage")), None);
    }

    #[test]
    fn token_request_bodies() {
        let c = Credential::Password {
            user: User::Name {
                name: "admin".into(),
                domain: Domain::Name("Default".into()),
            },
            password: Secret::new("pw"),
            project: Some(Project::Id("p1".into())),
        };
        assert_eq!(
            token_request(&c),
            json!({"auth": {"identity": {"methods": ["password"], "password": {"user":
                {"name": "admin", "domain": {"name": "Default"}, "password": "pw"}}},
                "scope": {"project": {"id": "p1"}}}})
        );
        let c = Credential::ApplicationCredential {
            credential: AppCredential::Id("ac1".into()),
            secret: Secret::new("s"),
        };
        assert_eq!(
            token_request(&c),
            json!({"auth": {"identity": {"methods": ["application_credential"],
                "application_credential": {"id": "ac1", "secret": "s"}}}})
        );
    }

    #[test]
    fn bad_tokens() {
        assert!(parse_token(None, b"{}", Instant::now()).is_err());
        assert!(parse_token(Some("a b"), br#"{"token": {}}"#, Instant::now()).is_err());
        assert!(parse_token(Some("t"), b"{}", Instant::now()).is_err());
        let huge = "t".repeat(MAX_TOKEN_LEN + 1);
        assert!(parse_token(Some(&huge), br#"{"token": {}}"#, Instant::now()).is_err());
        // A token whose body is minimal is usable, with an empty catalog.
        assert!(parse_token(Some("t"), br#"{"token": {}}"#, Instant::now()).is_ok());
    }

    proptest! {
        #[test]
        fn token_body_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_token(Some("t"), &body, Instant::now());
        }

        #[test]
        fn catalog_json_never_panics(ty in "[a-z]{0,8}", iface in "[a-zA-Z]{0,10}", url in ".{0,30}") {
            let body = serde_json::json!({"token": {"catalog": [{"type": ty, "endpoints": [{"interface": iface, "url": url}]}]}});
            let t = parse_token(Some("t"), body.to_string().as_bytes(), Instant::now());
            if let Ok(t) = t {
                let _ = t.catalog.url_for("compute", Interface::Public, None);
            }
        }
    }
}
