//! Where the credentials come from: a cloud in `clouds.yaml` (plus
//! `secure.yaml`), or the `OS_*` environment of an openrc file.
//!
//! Administrators already have one of these for the `openstack` CLI; the
//! evacuator takes the same thing, with the same search order and key names
//! as openstacksdk, so that "it works with `openstack --os-cloud X`" carries
//! over. Only what umha needs is supported: Keystone v3 password and
//! application-credential auth. Anything else is refused with a reason
//! rather than half-understood.
//!
//! TLS verification is on unless the administrator turns it off by name
//! (`verify: false` or `insecure: true`, `OS_INSECURE=true`); a garbled value
//! is an error, never "off".

use std::path::{Path, PathBuf};

use serde_json::Value;
use umha_common::Secret;

use crate::error::{Error, Result, bounded};
use crate::microversion::{MAXIMUM_CAP, Microversion};

/// Largest clouds.yaml/secure.yaml we read.
const MAX_FILE: u64 = 1 << 20;

/// A Keystone domain, by id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Domain {
    Id(String),
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum User {
    Id(String),
    Name { name: String, domain: Domain },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Project {
    Id(String),
    Name { name: String, domain: Domain },
}

/// Which application credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppCredential {
    Id(String),
    /// A name is only unique per user.
    Name {
        name: String,
        user: User,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// `project: None` asks Keystone for the user's default project.
    Password {
        user: User,
        password: Secret,
        project: Option<Project>,
    },
    /// Scoped by the credential itself.
    ApplicationCredential {
        credential: AppCredential,
        secret: Secret,
    },
}

impl Credential {
    /// The secrets to scrub from anything quoted back from the server.
    pub(crate) fn secret(&self) -> &Secret {
        match self {
            Credential::Password { password, .. } => password,
            Credential::ApplicationCredential { secret, .. } => secret,
        }
    }
}

/// Which catalog endpoint to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interface {
    #[default]
    Public,
    Internal,
    Admin,
}

impl Interface {
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }

    /// "internal", also "internalURL" as old openrc files say.
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim();
        let t = t.strip_suffix("URL").unwrap_or(t);
        match t.to_ascii_lowercase().as_str() {
            "public" => Ok(Interface::Public),
            "internal" => Ok(Interface::Internal),
            "admin" => Ok(Interface::Admin),
            _ => Err(Error::Config(format!(
                "interface {:?}: expected public, internal or admin",
                bounded(s, 40)
            ))),
        }
    }
}

/// Everything needed to reach one cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudConfig {
    /// The cloud's name in clouds.yaml, or "envvars".
    pub name: String,
    /// Where it was read, for messages: a file path or "OS_* environment".
    pub origin: String,
    /// Keystone v3 base URL, ending in `/v3`.
    pub auth_url: String,
    pub credential: Credential,
    pub region: Option<String>,
    pub interface: Interface,
    /// CA bundle (PEM) that replaces the system one.
    pub cacert: Option<PathBuf>,
    /// False only when the administrator said so by name.
    pub verify: bool,
    /// Cap (or pin) on the compute microversion.
    pub compute_api_version: Option<Microversion>,
}

/// A view over the settings of one cloud, whichever their source.
trait Settings {
    /// A key under `auth:` (clouds.yaml) / `OS_<KEY>` (environment).
    fn auth(&self, key: &str) -> Result<Option<String>>;
    /// A top-level key of the cloud / `OS_<KEY>`.
    fn top(&self, key: &str) -> Result<Option<String>>;
    /// The region list (`regions:`), clouds.yaml only.
    fn regions(&self) -> Vec<String> {
        Vec::new()
    }
}

impl CloudConfig {
    /// The cloud named `cloud` from `clouds.yaml`: `explicit` if given, else
    /// the first file that exists among `$OS_CLIENT_CONFIG_FILE`,
    /// `./clouds.yaml`, `~/.config/openstack/clouds.yaml`,
    /// `/etc/openstack/clouds.yaml`; merged with `secure.yaml` from the same
    /// places (`$OS_CLIENT_SECURE_FILE` first).
    pub fn from_clouds_yaml(cloud: &str, explicit: Option<&Path>) -> Result<Self> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let home = env("HOME").map(PathBuf::from);
        let candidates = match explicit {
            Some(p) => vec![p.to_path_buf()],
            None => search_paths("clouds.yaml", env("OS_CLIENT_CONFIG_FILE"), home.as_deref()),
        };
        let secure = search_paths("secure.yaml", env("OS_CLIENT_SECURE_FILE"), home.as_deref());
        Self::from_files(cloud, &candidates, &secure)
    }

    /// As [`CloudConfig::from_clouds_yaml`], over explicit candidate lists.
    pub fn from_files(cloud: &str, candidates: &[PathBuf], secure: &[PathBuf]) -> Result<Self> {
        let Some(path) = candidates.iter().find(|p| p.is_file()) else {
            let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
            return Err(Error::Config(format!(
                "no clouds.yaml found (looked at {})",
                tried.join(", ")
            )));
        };
        let text = read_bounded(path)?;
        let secure_text = match secure.iter().find(|p| p.is_file()) {
            Some(p) => Some((p.clone(), read_bounded(p)?)),
            None => None,
        };
        warn_if_readable_by_others(path);
        Self::parse_clouds_yaml(
            cloud,
            &text,
            &path.display().to_string(),
            secure_text
                .as_ref()
                .map(|(p, t)| (t.as_str(), p.display().to_string())),
        )
    }

    /// Parse clouds.yaml text (and secure.yaml text, merged over it).
    pub fn parse_clouds_yaml(
        cloud: &str,
        clouds_yaml: &str,
        origin: &str,
        secure_yaml: Option<(&str, String)>,
    ) -> Result<Self> {
        let mut doc = parse_yaml(clouds_yaml, origin)?;
        if let Some((text, secure_origin)) = secure_yaml {
            let secure = parse_yaml(text, &secure_origin)?;
            merge(&mut doc, secure);
        }
        let clouds = doc
            .get("clouds")
            .and_then(Value::as_object)
            .ok_or_else(|| Error::Config(format!("{origin}: no \"clouds:\" mapping")))?;
        let Some(entry) = clouds.get(cloud) else {
            let mut names: Vec<&str> = clouds.keys().map(String::as_str).take(20).collect();
            names.sort_unstable();
            return Err(Error::Config(format!(
                "cloud {:?} not found in {origin} (it has: {})",
                bounded(cloud, 60),
                bounded(&names.join(", "), 300)
            )));
        };
        let entry = entry
            .as_object()
            .ok_or_else(|| Error::Config(format!("{origin}: cloud {cloud:?} is not a mapping")))?;
        if entry.contains_key("profile") {
            return Err(Error::Config(format!(
                "{origin}: cloud {cloud:?} uses a vendor \"profile\", which umha does not support: \
                 write auth_url and region_name out"
            )));
        }
        let settings = YamlCloud {
            entry,
            origin,
            cloud,
        };
        build(cloud, &format!("{origin} (cloud {cloud:?})"), &settings)
    }

    /// From the `OS_*` variables of the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_env_lookup(|k| std::env::var(k).ok())
    }

    /// From `OS_*` variables looked up by `lookup`.
    pub fn from_env_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let settings = EnvCloud { lookup: &lookup };
        build("envvars", "OS_* environment", &settings)
    }

    /// `cloud` (or `$OS_CLOUD`) from clouds.yaml, else the `OS_*` environment.
    pub fn load(cloud: Option<&str>, explicit: Option<&Path>) -> Result<Self> {
        let from_env = std::env::var("OS_CLOUD").ok().filter(|c| !c.is_empty());
        match cloud.map(str::to_owned).or(from_env) {
            Some(c) => Self::from_clouds_yaml(&c, explicit),
            None if explicit.is_some() => Err(Error::Config(
                "a clouds.yaml path was given without a cloud name".to_owned(),
            )),
            None => Self::from_env(),
        }
    }
}

/// The standard search list for `file` (clouds.yaml / secure.yaml).
pub fn search_paths(file: &str, env_override: Option<String>, home: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = env_override {
        out.push(PathBuf::from(p));
    }
    out.push(PathBuf::from(file));
    if let Some(h) = home {
        out.push(h.join(".config/openstack").join(file));
    }
    out.push(Path::new("/etc/openstack").join(file));
    out
}

fn read_bounded(path: &Path) -> Result<String> {
    use std::io::Read;
    let fail = |e: std::io::Error| Error::Config(format!("{}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(fail)?;
    let mut text = String::new();
    file.take(MAX_FILE + 1)
        .read_to_string(&mut text)
        .map_err(fail)?;
    if text.len() as u64 > MAX_FILE {
        return Err(Error::Config(format!(
            "{}: larger than {MAX_FILE} bytes",
            path.display()
        )));
    }
    Ok(text)
}

fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o004 != 0
    {
        log::warn!(
            "{} is readable by every user; it may hold a password (chmod 600, or move secrets to secure.yaml)",
            path.display()
        );
    }
}

/// YAML to a JSON tree. Only the location of a syntax error is reported: the
/// parser's own message may quote the line, and the line may be a password.
fn parse_yaml(text: &str, origin: &str) -> Result<Value> {
    if text.trim().is_empty() {
        return Err(Error::Config(format!("{origin}: empty file")));
    }
    serde_saphyr::from_str::<Value>(text).map_err(|e| {
        let at = e
            .location()
            .map(|l| format!(" at line {} column {}", l.line(), l.column()))
            .unwrap_or_default();
        Error::Config(format!("{origin}: not valid YAML{at}"))
    })
}

/// secure.yaml's values win, mappings merge recursively.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// A scalar as a string; mappings and lists are refused.
fn scalar(v: &Value, key: &str, origin: &str) -> Result<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(Error::Config(format!(
            "{origin}: {key} must be a single value"
        ))),
    }
}

struct YamlCloud<'a> {
    entry: &'a serde_json::Map<String, Value>,
    origin: &'a str,
    cloud: &'a str,
}

impl Settings for YamlCloud<'_> {
    fn auth(&self, key: &str) -> Result<Option<String>> {
        match self.entry.get("auth") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(a)) => match a.get(key) {
                Some(v) => scalar(v, &format!("auth.{key}"), self.origin),
                None => Ok(None),
            },
            Some(_) => Err(Error::Config(format!(
                "{}: cloud {:?}: auth must be a mapping",
                self.origin, self.cloud
            ))),
        }
    }

    fn top(&self, key: &str) -> Result<Option<String>> {
        match self.entry.get(key) {
            Some(v) => scalar(v, key, self.origin),
            None => Ok(None),
        }
    }

    fn regions(&self) -> Vec<String> {
        let Some(Value::Array(list)) = self.entry.get("regions") else {
            return Vec::new();
        };
        list.iter()
            .filter_map(|r| match r {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("name").and_then(Value::as_str).map(str::to_owned),
                _ => None,
            })
            .collect()
    }
}

struct EnvCloud<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl EnvCloud<'_> {
    fn get(&self, key: &str) -> Option<String> {
        (self.lookup)(&format!("OS_{}", key.to_ascii_uppercase())).filter(|v| !v.is_empty())
    }
}

impl Settings for EnvCloud<'_> {
    fn auth(&self, key: &str) -> Result<Option<String>> {
        Ok(self.get(key))
    }
    fn top(&self, key: &str) -> Result<Option<String>> {
        Ok(self.get(key))
    }
}

fn parse_bool(v: &str, key: &str, origin: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(Error::Config(format!(
            "{origin}: {key} must be true or false, not {:?}",
            bounded(v, 20)
        ))),
    }
}

fn first(s: &dyn Settings, keys: &[&str], auth: bool) -> Result<Option<String>> {
    for k in keys {
        let v = if auth { s.auth(k)? } else { s.top(k)? };
        if v.is_some() {
            return Ok(v);
        }
    }
    Ok(None)
}

fn domain(s: &dyn Settings, prefix: &str) -> Result<Option<Domain>> {
    // `<prefix>_domain_*`, falling back to `domain_*` as openstacksdk does.
    let id = first(s, &[&format!("{prefix}_domain_id"), "domain_id"], true)?;
    let name = first(s, &[&format!("{prefix}_domain_name"), "domain_name"], true)?;
    Ok(match (id, name) {
        (Some(id), _) => Some(Domain::Id(id)),
        (None, Some(n)) => Some(Domain::Name(n)),
        (None, None) => None,
    })
}

fn user(s: &dyn Settings, origin: &str) -> Result<Option<User>> {
    if let Some(id) = s.auth("user_id")? {
        return Ok(Some(User::Id(id)));
    }
    let Some(name) = s.auth("username")? else {
        return Ok(None);
    };
    let domain = domain(s, "user")?.ok_or_else(|| {
        Error::Config(format!(
            "{origin}: username {name:?} needs user_domain_name or user_domain_id"
        ))
    })?;
    Ok(Some(User::Name { name, domain }))
}

fn project(s: &dyn Settings, origin: &str) -> Result<Option<Project>> {
    if let Some(id) = first(s, &["project_id", "tenant_id"], true)? {
        return Ok(Some(Project::Id(id)));
    }
    let Some(name) = first(s, &["project_name", "tenant_name"], true)? else {
        return Ok(None);
    };
    let domain = domain(s, "project")?.ok_or_else(|| {
        Error::Config(format!(
            "{origin}: project_name {name:?} needs project_domain_name or project_domain_id"
        ))
    })?;
    Ok(Some(Project::Name { name, domain }))
}

fn build(name: &str, origin: &str, s: &dyn Settings) -> Result<CloudConfig> {
    let auth_url = s
        .auth("auth_url")?
        .ok_or_else(|| Error::Config(format!("{origin}: auth_url is missing")))?;
    let auth_url = normalize_auth_url(&auth_url, origin)?;

    let auth_type = s.top("auth_type")?;
    let has_app_secret = s.auth("application_credential_secret")?.is_some();
    let app = match auth_type.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => has_app_secret,
        Some("password" | "v3password") => false,
        Some("v3applicationcredential" | "application_credential" | "applicationcredential") => {
            true
        }
        Some(other) => {
            return Err(Error::Config(format!(
                "{origin}: auth_type {:?} is not supported (use password or v3applicationcredential)",
                bounded(other, 40)
            )));
        }
    };

    let credential = if app {
        let secret = s.auth("application_credential_secret")?.ok_or_else(|| {
            Error::Config(format!(
                "{origin}: application_credential_secret is missing"
            ))
        })?;
        let credential = if let Some(id) = s.auth("application_credential_id")? {
            AppCredential::Id(id)
        } else if let Some(name) = s.auth("application_credential_name")? {
            let user = user(s, origin)?.ok_or_else(|| {
                Error::Config(format!(
                    "{origin}: application_credential_name needs user_id or username"
                ))
            })?;
            AppCredential::Name { name, user }
        } else {
            return Err(Error::Config(format!(
                "{origin}: application_credential_id (or _name) is missing"
            )));
        };
        Credential::ApplicationCredential {
            credential,
            secret: Secret::new(secret),
        }
    } else {
        let user = user(s, origin)?
            .ok_or_else(|| Error::Config(format!("{origin}: username (or user_id) is missing")))?;
        let password = s
            .auth("password")?
            .ok_or_else(|| Error::Config(format!("{origin}: password is missing")))?;
        Credential::Password {
            user,
            password: Secret::new(password),
            project: project(s, origin)?,
        }
    };

    let region = match s.top("region_name")? {
        Some(r) => Some(r),
        None => s.regions().into_iter().next(),
    };
    let interface = match first(s, &["interface", "endpoint_type"], false)? {
        Some(i) => Interface::parse(&i)?,
        None => Interface::default(),
    };
    let verify = match s.top("verify")? {
        Some(v) => parse_bool(&v, "verify", origin)?,
        None => true,
    };
    let insecure = match s.top("insecure")? {
        Some(v) => parse_bool(&v, "insecure", origin)?,
        None => false,
    };
    let verify = verify && !insecure;
    let cacert = s.top("cacert")?.map(PathBuf::from);
    let compute_api_version = match s.top("compute_api_version")? {
        None => None,
        Some(v) if v.eq_ignore_ascii_case("latest") => None,
        Some(v) => {
            let mv: Microversion = v.parse()?;
            if mv > MAXIMUM_CAP {
                return Err(Error::Config(format!(
                    "{origin}: compute_api_version {mv} is too high: from 2.95 Nova leaves \
                     evacuated instances stopped; umha speaks at most {MAXIMUM_CAP}"
                )));
            }
            Some(mv)
        }
    };
    if let Some(v) = s.top("identity_api_version")?
        && v.trim_start_matches('v') != "3"
    {
        return Err(Error::Config(format!(
            "{origin}: identity_api_version {:?}: only Keystone v3 is supported",
            bounded(&v, 10)
        )));
    }
    Ok(CloudConfig {
        name: name.to_owned(),
        origin: origin.to_owned(),
        auth_url,
        credential,
        region,
        interface,
        cacert,
        verify,
        compute_api_version,
    })
}

/// `https://ks:5000`, `.../v3/` → `.../v3`; v2.0 refused.
fn normalize_auth_url(raw: &str, origin: &str) -> Result<String> {
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|e| Error::Config(format!("{origin}: auth_url {:?}: {e}", bounded(raw, 100))))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::Config(format!(
            "{origin}: auth_url {:?} must be an http(s) URL",
            bounded(raw, 100)
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(format!(
            "{origin}: auth_url must not carry credentials"
        )));
    }
    let trimmed = url.as_str().trim_end_matches('/').to_owned();
    if trimmed.ends_with("/v2.0") {
        return Err(Error::Config(format!(
            "{origin}: auth_url is Keystone v2.0; umha needs v3"
        )));
    }
    if trimmed.ends_with("/v3") {
        Ok(trimmed)
    } else {
        Ok(format!("{trimmed}/v3"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const CLOUDS: &str = r#"
clouds:
  lab:
    auth:
      auth_url: http://127.0.0.1:5000
      username: admin
      password: s3cret-pw
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: internal
    identity_api_version: 3
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example:5000/v3/
      application_credential_id: 21dced0fd20347869b93710d2b98aae0
      application_credential_secret: app-s3cret
    regions:
      - name: RegionTwo
    cacert: /etc/ssl/private-ca.pem
    compute_api_version: "2.60"
  insecure:
    auth:
      auth_url: https://ks:5000/v3
      user_id: 7e2b
      password: x
      project_id: 0badc0de
    verify: false
  bogus-verify:
    auth: {auth_url: "https://ks/v3", user_id: u, password: p}
    verify: perhaps
  v2:
    auth: {auth_url: "http://ks:5000/v2.0", user_id: u, password: p}
  noproject-domain:
    auth: {auth_url: "http://ks/v3", user_id: u, password: p, project_name: demo}
  domain-default:
    auth: {auth_url: "http://ks/v3", username: u, password: p, project_name: demo, domain_id: default}
  token:
    auth_type: token
    auth: {auth_url: "http://ks/v3", token: t}
"#;

    fn cloud(name: &str) -> Result<CloudConfig> {
        CloudConfig::parse_clouds_yaml(name, CLOUDS, "clouds.yaml", None)
    }

    #[test]
    fn password_cloud() {
        let c = cloud("lab").ok();
        let c = c.as_ref().expect("lab parses");
        assert_eq!(c.auth_url, "http://127.0.0.1:5000/v3");
        assert_eq!(c.region.as_deref(), Some("RegionOne"));
        assert_eq!(c.interface, Interface::Internal);
        assert!(c.verify);
        match &c.credential {
            Credential::Password {
                user,
                password,
                project,
            } => {
                assert_eq!(
                    user,
                    &User::Name {
                        name: "admin".into(),
                        domain: Domain::Name("Default".into())
                    }
                );
                assert_eq!(password.expose(), "s3cret-pw");
                assert_eq!(
                    project,
                    &Some(Project::Name {
                        name: "admin".into(),
                        domain: Domain::Name("Default".into())
                    })
                );
            }
            other => panic!("{other:?}"),
        }
        // Debug never shows the password.
        assert!(!format!("{c:?}").contains("s3cret-pw"));
    }

    #[test]
    fn application_credential_cloud() {
        let c = cloud("appcred").ok();
        let c = c.as_ref().expect("appcred parses");
        assert_eq!(c.auth_url, "https://keystone.example:5000/v3");
        assert_eq!(c.region.as_deref(), Some("RegionTwo"));
        assert_eq!(
            c.cacert.as_deref(),
            Some(Path::new("/etc/ssl/private-ca.pem"))
        );
        assert_eq!(c.compute_api_version, Some(Microversion::new(2, 60)));
        assert!(matches!(
            &c.credential,
            Credential::ApplicationCredential { credential: AppCredential::Id(id), secret }
                if id == "21dced0fd20347869b93710d2b98aae0" && secret.expose() == "app-s3cret"
        ));
        assert!(!format!("{c:?}").contains("app-s3cret"));
    }

    #[test]
    fn verification_off_only_by_name() {
        assert!(!cloud("insecure").map(|c| c.verify).unwrap_or(true));
        let e = cloud("bogus-verify")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("verify must be true or false"), "{e}");
    }

    #[test]
    fn refusals_are_clear() {
        let msg = |n: &str| cloud(n).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg("missing").contains("cloud \"missing\" not found"),
            "{}",
            msg("missing")
        );
        assert!(msg("missing").contains("appcred"));
        assert!(msg("v2").contains("v3"));
        assert!(msg("noproject-domain").contains("project_domain_name"));
        assert!(msg("token").contains("auth_type \"token\" is not supported"));
        // domain_id is the default for both domains.
        assert!(cloud("domain-default").is_ok());
    }

    #[test]
    fn malformed_yaml_does_not_quote_the_file() {
        let text = "clouds:\n  lab:\n    auth:\n      password: \"hunter2\n   - [oops\n";
        let e = CloudConfig::parse_clouds_yaml("lab", text, "c.yaml", None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("not valid YAML"), "{e}");
        assert!(!e.contains("hunter2"));
        for text in [
            "",
            "clouds: 3",
            "[1, 2]",
            "clouds:\n  lab: 7\n",
            "clouds:\n  lab:\n    auth: [1]\n",
        ] {
            assert!(matches!(
                CloudConfig::parse_clouds_yaml("lab", text, "c.yaml", None),
                Err(Error::Config(_))
            ));
        }
    }

    #[test]
    fn secure_yaml_merges_over_clouds_yaml() {
        let clouds = "clouds:\n  lab:\n    auth:\n      auth_url: http://ks/v3\n      user_id: u\n";
        let secure = "clouds:\n  lab:\n    auth:\n      password: from-secure\n";
        let c = CloudConfig::parse_clouds_yaml(
            "lab",
            clouds,
            "c.yaml",
            Some((secure, "s.yaml".into())),
        );
        assert!(matches!(
            c.map(|c| c.credential),
            Ok(Credential::Password { password, .. }) if password.expose() == "from-secure"
        ));
    }

    #[test]
    fn files_and_search_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("clouds.yaml");
        std::fs::write(&p, CLOUDS).expect("write");
        let missing = dir.path().join("nope.yaml");
        let c = CloudConfig::from_files("lab", &[missing.clone(), p.clone()], &[]);
        assert!(c.is_ok());
        let e = CloudConfig::from_files("lab", std::slice::from_ref(&missing), &[])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("no clouds.yaml found") && e.contains("nope.yaml"),
            "{e}"
        );
        let list = search_paths(
            "clouds.yaml",
            Some("/x/c.yaml".into()),
            Some(Path::new("/home/a")),
        );
        assert_eq!(
            list,
            vec![
                PathBuf::from("/x/c.yaml"),
                PathBuf::from("clouds.yaml"),
                PathBuf::from("/home/a/.config/openstack/clouds.yaml"),
                PathBuf::from("/etc/openstack/clouds.yaml"),
            ]
        );
    }

    #[test]
    fn environment() {
        let env: BTreeMap<&str, &str> = [
            ("OS_AUTH_URL", "http://127.0.0.1:5000/v3"),
            ("OS_USERNAME", "admin"),
            ("OS_PASSWORD", "pw"),
            ("OS_PROJECT_NAME", "admin"),
            ("OS_USER_DOMAIN_NAME", "Default"),
            ("OS_PROJECT_DOMAIN_ID", "default"),
            ("OS_REGION_NAME", "RegionOne"),
            ("OS_ENDPOINT_TYPE", "internalURL"),
            ("OS_INSECURE", "true"),
            ("OS_COMPUTE_API_VERSION", "2.53"),
        ]
        .into_iter()
        .collect();
        let c = CloudConfig::from_env_lookup(|k| env.get(k).map(|v| v.to_string()));
        let c = c.ok();
        let c = c.as_ref().expect("env parses");
        assert_eq!(c.interface, Interface::Internal);
        assert!(!c.verify);
        assert_eq!(c.compute_api_version, Some(Microversion::new(2, 53)));
        assert!(
            matches!(&c.credential, Credential::Password { project: Some(Project::Name { domain: Domain::Id(d), .. }), .. } if d == "default")
        );

        let app: BTreeMap<&str, &str> = [
            ("OS_AUTH_URL", "http://ks:5000"),
            ("OS_AUTH_TYPE", "v3applicationcredential"),
            ("OS_APPLICATION_CREDENTIAL_NAME", "ha"),
            ("OS_APPLICATION_CREDENTIAL_SECRET", "s"),
            ("OS_USER_ID", "u1"),
        ]
        .into_iter()
        .collect();
        let c = CloudConfig::from_env_lookup(|k| app.get(k).map(|v| v.to_string()));
        assert!(matches!(
            c.map(|c| c.credential),
            Ok(Credential::ApplicationCredential { credential: AppCredential::Name { user: User::Id(u), .. }, .. }) if u == "u1"
        ));
        let e = CloudConfig::from_env_lookup(|_| None)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("configuration: OS_* environment: auth_url is missing")
        );
        let high: BTreeMap<&str, &str> = [
            ("OS_AUTH_URL", "http://ks/v3"),
            ("OS_USER_ID", "u"),
            ("OS_PASSWORD", "p"),
            ("OS_COMPUTE_API_VERSION", "2.95"),
        ]
        .into_iter()
        .collect();
        assert!(CloudConfig::from_env_lookup(|k| high.get(k).map(|v| v.to_string())).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_yaml_never_panics(text in "[ -~\n]{0,400}") {
            let _ = CloudConfig::parse_clouds_yaml("lab", &text, "fuzz.yaml", None);
        }

        #[test]
        fn arbitrary_clouds_entries_never_panic(key in "[a-z_]{1,30}", value in "[ -~]{0,30}") {
            let text = format!("clouds:\n  lab:\n    auth:\n      auth_url: http://ks/v3\n      {key}: {value:?}\n    {key}: {value:?}\n");
            let _ = CloudConfig::parse_clouds_yaml("lab", &text, "fuzz.yaml", None);
        }
    }
}
