//! From fence_maas's options to a client configuration, with every check
//! that needs no network done here, so validate-all reports it.

use std::path::PathBuf;
use std::sync::OnceLock;

use stonith_core::Options;
use stonith_core::input::Source;
use stonith_core::password::{self, PasswordError};
use umha_common::{Deadline, Secret};

use crate::oauth::{ApiKey, KeyError};

/// The path every MAAS 2.0 request starts from, below the endpoint.
pub const API_PATH: &str = "api/2.0/";

/// Why the options cannot make a working client. Never contains the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "url must be http:// or https:// followed by the MAAS host, e.g. http://maas:5240/MAAS, not '{0}'"
    )]
    BadUrl(String),
    #[error("url must not carry a user name, password, query or fragment: put the key in api_key")]
    UrlExtras,
    #[error("no MAAS API key: set api_key or api_key_script")]
    NoKey,
    #[error("{0}")]
    Key(#[from] KeyError),
    #[error("api_key_script: {0}")]
    Script(String),
    #[error(
        "api_key is not accepted on the command line, where every user sees it in ps: \
         use --api-key-script, or options on stdin"
    )]
    KeyOnCommandLine,
    #[error("ssl_ca_file {0} is not a readable file")]
    CaFile(String),
}

/// What the client needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The API root, ending in `/api/2.0/`.
    pub api_root: String,
    pub key: ApiKey,
    /// False only with `ssl_insecure`.
    pub verify_tls: bool,
    pub ca_file: Option<PathBuf>,
    pub stop_mode: &'static str,
}

/// Everything but the key, which may come from a script (see [`key`]).
pub fn check(options: &Options) -> Result<(), ConfigError> {
    if options.source() == Source::CommandLine && options.is_set("api_key") {
        return Err(ConfigError::KeyOnCommandLine);
    }
    api_root(options.string("url").unwrap_or(""))?;
    if let Some(key) = options.secret("api_key").filter(|k| !k.is_empty()) {
        ApiKey::parse(key)?;
    } else if options
        .string("api_key_script")
        .is_none_or(|s| s.trim().is_empty())
    {
        return Err(ConfigError::NoKey);
    }
    if let Some(path) = ca_file(options)
        && !path.is_file()
    {
        return Err(ConfigError::CaFile(path.display().to_string()));
    }
    Ok(())
}

/// The configuration, running `api_key_script` (at most once per process,
/// since the runner reconnects after transient errors) when there is no
/// `api_key`.
pub fn config(options: &Options, deadline: Deadline) -> Result<Config, ConfigError> {
    check(options)?;
    let key = key(options, deadline)?;
    Ok(Config {
        api_root: api_root(options.string("url").unwrap_or(""))?,
        key,
        verify_tls: !options.flag("ssl_insecure"),
        ca_file: ca_file(options),
        stop_mode: options.choice("stop_mode").unwrap_or("hard"),
    })
}

fn ca_file(options: &Options) -> Option<PathBuf> {
    options
        .string("ssl_ca_file")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

fn key(options: &Options, deadline: Deadline) -> Result<ApiKey, ConfigError> {
    if let Some(key) = options.secret("api_key").filter(|k| !k.is_empty()) {
        return Ok(ApiKey::parse(key)?);
    }
    let script = options
        .string("api_key_script")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(ConfigError::NoKey)?;
    static FROM_SCRIPT: OnceLock<Result<Secret, PasswordError>> = OnceLock::new();
    let secret = FROM_SCRIPT
        .get_or_init(|| {
            let result = password::run_script(script, deadline);
            if let (Ok(secret), Some(logger)) = (&result, umha_common::log::global()) {
                logger.redact(secret);
            }
            result
        })
        .as_ref()
        .map_err(|e| {
            // PasswordError speaks of password_script; say which script failed.
            ConfigError::Script(
                e.to_string()
                    .replace("password_script", "the script")
                    .trim_start_matches("Failed: ")
                    .to_owned(),
            )
        })?;
    let key = ApiKey::parse(secret)?;
    Ok(key)
}

/// `http(s)://host[:port]/path` → `…/path/api/2.0/`, accepting the URL with
/// or without `/api/2.0` and trailing slashes, as operators copy it from the
/// MAAS UI or from `maas login`.
pub fn api_root(url: &str) -> Result<String, ConfigError> {
    let url = url.trim();
    let bad = || ConfigError::BadUrl(url.chars().take(200).collect());
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(bad)?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err(bad());
    }
    if host.contains('@') || url.contains('?') || url.contains('#') {
        return Err(ConfigError::UrlExtras);
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let mut base = url.trim_end_matches('/').to_owned();
    for suffix in ["/api/2.0", "/api"] {
        if let Some(stripped) = base.strip_suffix(suffix) {
            base = stripped.to_owned();
            break;
        }
    }
    Ok(format!("{base}/{API_PATH}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FenceMaas;
    use stonith_core::input::stdin;
    use stonith_core::{Agent, PlugMode};

    fn options(text: &str) -> Options {
        let table = stonith_core::option_table::<FenceMaas>();
        Options::resolve(
            &table,
            PlugMode::Multiple,
            stdin::parse(text.as_bytes(), &table),
        )
    }

    #[test]
    fn api_root_with_or_without_the_api_path() {
        for url in [
            "http://maas:5240/MAAS",
            "http://maas:5240/MAAS/",
            "http://maas:5240/MAAS/api/2.0",
            "http://maas:5240/MAAS/api/2.0/",
        ] {
            assert_eq!(
                api_root(url).unwrap(),
                "http://maas:5240/MAAS/api/2.0/",
                "{url}"
            );
        }
        assert_eq!(
            api_root("https://maas.example.com").unwrap(),
            "https://maas.example.com/api/2.0/"
        );
    }

    #[test]
    fn bad_urls() {
        for url in [
            "",
            "maas:5240/MAAS",
            "ftp://maas",
            "http://",
            "http:///MAAS",
            "http://:80/",
        ] {
            assert!(
                matches!(api_root(url), Err(ConfigError::BadUrl(_))),
                "{url}"
            );
        }
        assert_eq!(
            api_root("http://admin:pw@maas/MAAS"),
            Err(ConfigError::UrlExtras)
        );
        assert_eq!(
            api_root("http://maas/MAAS?x=1"),
            Err(ConfigError::UrlExtras)
        );
    }

    #[test]
    fn config_from_stdin() {
        let c = config(
            &options("url=http://m:5240/MAAS\napi_key=a:b:c\nplug=cmp1\nssl_insecure=1\n"),
            Deadline::never(),
        )
        .unwrap();
        assert_eq!(c.api_root, "http://m:5240/MAAS/api/2.0/");
        assert!(!c.verify_tls);
        assert_eq!(c.stop_mode, "hard");
        let c = config(
            &options("url=https://m/MAAS\napi_key=a:b:c\nstop_mode=SOFT\n"),
            Deadline::never(),
        )
        .unwrap();
        assert!(c.verify_tls, "verification stays on unless ssl_insecure");
        assert_eq!(c.stop_mode, "soft");
    }

    #[test]
    fn refusals_never_show_the_key() {
        let secret = "ck:tk:super-secret-value:extra";
        let err = check(&options(&format!("url=http://m/MAAS\napi_key={secret}\n"))).unwrap_err();
        assert_eq!(err, ConfigError::Key(KeyError::Parts(4)));
        assert!(!err.to_string().contains("super-secret-value"));
        assert_eq!(
            check(&options("url=http://m/MAAS\n")),
            Err(ConfigError::NoKey)
        );
        assert!(matches!(
            check(&options(
                "url=http://m/MAAS\napi_key=a:b:c\nssl_ca_file=/nonexistent/ca.pem\n"
            )),
            Err(ConfigError::CaFile(_))
        ));
        assert!(matches!(
            check(&options("url=m/MAAS\napi_key=a:b:c\n")),
            Err(ConfigError::BadUrl(_))
        ));
    }

    #[test]
    fn validate_reports_config_errors_without_network() {
        let err = FenceMaas::validate(&options("url=nowhere\napi_key=a:b:c\n")).unwrap_err();
        assert!(err.contains("url must be"), "{err}");
    }
}
