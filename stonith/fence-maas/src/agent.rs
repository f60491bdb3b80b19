//! fence_maas as a stonith-core agent: who it is, its options, and how a
//! MAAS session is opened.

use std::time::Duration;

use openstack::tls::{Trust, client_builder};
use stonith_core::{Agent, AgentInfo, Capabilities, DeviceError, OptionTable, Options, PlugMode};
use umha_common::Deadline;

use crate::api::Maas;
use crate::config::{self, Config};
use crate::device::MaasDevice;
use crate::options;

/// The agent.
#[derive(Debug)]
pub struct FenceMaas;

const LONGDESC: &str = "fence_maas powers machines managed by Canonical MAAS off and on \
through the MAAS 2.0 REST API (OAuth 1.0 PLAINTEXT with a MAAS API key, as `maas apikey` prints \
it). One stonith device serves every machine of a MAAS: plug names the machine by its MAAS \
hostname, FQDN or system_id. Pacemaker passes the node name as the plug; when node names and \
MAAS hostnames differ, map them with pcmk_host_map (\"node1:maas-host1;node2:4y3h7n\"), and \
with matching names pcmk_host_check=dynamic-list lets Pacemaker ask the device which nodes it \
can fence (list prints hostname,system_id). MAAS power calls are asynchronous, so power off, \
and the off part of reboot, succeed only once MAAS's live query of the BMC \
(op=query_power_state, never the cached power_state) reads the power back as off, within \
power_timeout; MAAS's unknown and error are never taken for off, and status exits 1 on them. \
The defaults (shell_timeout 10, power_timeout 25) keep an off within Pacemaker's default 60 s \
pcmk_off_timeout; raise both together for a slow MAAS. Unavailable (5xx) and unreachable MAAS \
answers are retried with a short backoff within the deadline; a refused key (HTTP 401/403) \
fails at once. The key is read from stdin (api_key) or from api_key_script, never from the \
command line, and never appears in the log. https urls are verified against the system CA \
bundle or ssl_ca_file unless ssl_insecure is set.";

/// The longest a connection may take to set up, within the request's deadline.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Agent for FenceMaas {
    type Device = MaasDevice;

    fn info() -> AgentInfo {
        AgentInfo {
            longdesc: LONGDESC,
            vendor_url: "https://maas.io",
            plugs: PlugMode::Multiple,
            capabilities: Capabilities {
                list: true,
                ..Capabilities::default()
            },
            ..AgentInfo::new("fence_maas", "Fence agent for Canonical MAAS (API 2.0)")
        }
    }

    fn options(table: &mut OptionTable) {
        options::add(table);
    }

    fn validate(options: &Options) -> Result<(), String> {
        config::check(options).map_err(|e| e.to_string())
    }

    fn connect(options: &Options, deadline: Deadline) -> Result<MaasDevice, DeviceError> {
        let config = config::config(options, deadline)
            .map_err(|e| DeviceError::AuthFailed(e.to_string()))?;
        if let Some(logger) = umha_common::log::global() {
            for part in config.key.parts() {
                logger.redact(part);
            }
        }
        let http = http_client(&config).map_err(DeviceError::AuthFailed)?;
        log::debug!("MAAS API at {}", config.api_root);
        Ok(MaasDevice::new(Maas::new(http, config)))
    }
}

/// The HTTP client, with umha's shared TLS rules (openstack::tls): the
/// system bundle or ssl_ca_file, verification off only by name.
pub fn http_client(config: &Config) -> Result<reqwest::blocking::Client, String> {
    let subject = format!("fence_maas url {}", config.api_root);
    let trust = Trust {
        verify: config.verify_tls,
        ca_file: config.ca_file.as_deref(),
        subject: &subject,
        https: config.api_root.starts_with("https:"),
    };
    client_builder(&trust)
        .map_err(|e| e.to_string())?
        .connect_timeout(CONNECT_TIMEOUT)
        // Fencing talks to MAAS directly: a proxy from the environment of
        // pacemaker-fenced would be a surprise, and one more thing to fail.
        .no_proxy()
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_offers_list_and_plug() {
        let info = FenceMaas::info();
        let table = stonith_core::option_table::<FenceMaas>();
        let xml = stonith_core::metadata::render(&info, &table);
        assert!(xml.contains("<action name=\"list\" />"));
        assert!(xml.contains("<action name=\"list-status\" />"));
        assert!(xml.contains("<parameter name=\"plug\" unique=\"0\" required=\"1\""));
        assert!(xml.contains("pcmk_host_map"));
        assert!(!xml.contains("name=\"method\""), "MAAS has no cycle");
        assert!(xml.contains("<parameter name=\"evacuate\""));
    }

    #[test]
    fn maas_timing_defaults_fit_under_pacemakers_timeout() {
        let table = stonith_core::option_table::<FenceMaas>();
        let o = Options::resolve(
            &table,
            PlugMode::Multiple,
            stonith_core::input::stdin::parse(b"", &table),
        );
        let t = o.timing();
        assert_eq!(t.power_timeout, Duration::from_secs(25));
        assert_eq!(t.shell_timeout, Duration::from_secs(10));
        for action in [stonith_core::Action::Off, stonith_core::Action::Reboot] {
            assert!(
                !t.exceeds_ceiling(action, stonith_core::Method::OnOff),
                "{action}"
            );
        }
    }

    fn config(verify_tls: bool) -> Config {
        Config {
            api_root: "https://maas.invalid/MAAS/api/2.0/".into(),
            key: crate::oauth::ApiKey::parse(&umha_common::Secret::new("a:b:c")).unwrap(),
            verify_tls,
            ca_file: None,
            stop_mode: "hard",
        }
    }

    #[test]
    fn tls_verification_is_off_only_with_ssl_insecure() {
        let table = stonith_core::option_table::<FenceMaas>();
        let verify = |text: &str| {
            let o = Options::resolve(
                &table,
                PlugMode::Multiple,
                stonith_core::input::stdin::parse(text.as_bytes(), &table),
            );
            config::config(&o, Deadline::never()).unwrap().verify_tls
        };
        let base = "url=https://maas/MAAS\napi_key=a:b:c\n";
        assert!(verify(base));
        assert!(verify(&format!("{base}ssl=1\nssl_secure=1\n")));
        assert!(verify(&format!("{base}ssl_insecure=0\n")));
        assert!(!verify(&format!("{base}ssl_insecure=1\n")));
        assert!(!verify(&format!("{base}ssl-insecure=yes\n")));
        assert!(http_client(&config(true)).is_ok());
        assert!(http_client(&config(false)).is_ok());
    }
}
