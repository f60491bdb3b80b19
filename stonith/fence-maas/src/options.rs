//! fence_maas's options, and the timing defaults MAAS needs.
//!
//! There is no fence-agents MAAS agent to match, so the common options keep
//! fence-agents' names (`plug`, `ssl_insecure`, `power_timeout`, ...) and the
//! MAAS ones follow the names MAAS itself uses (`url`, `api_key`,
//! `stop_mode`). `api_key` is read from stdin only (Pacemaker's way, never
//! argv, where `ps` shows it to every user); by hand, use `--api-key-script`.

use stonith_core::spec::common;
use stonith_core::{OptionSpec, OptionTable};

/// MAAS's `stop_mode` values for `op=power_off`.
pub const STOP_MODES: &[&str] = &["hard", "soft"];

/// Add fence_maas's options to `table` and set MAAS-sized timing defaults.
///
/// A `query_power_state` goes from the region to a rack controller to the
/// BMC and back, so one request gets `shell_timeout` 10 s instead of 3, and
/// the asynchronous power change gets `power_timeout` 25 s. With
/// `login_timeout` 5 an `off` then needs 5+10+10+25+2 = 52 s, under
/// Pacemaker's default 60 s `pcmk_off_timeout`, so a stuck MAAS fails here
/// and the next fencing level gets its turn; raise `power_timeout` only
/// together with `pcmk_off_timeout`/`pcmk_reboot_timeout`.
pub fn add(table: &mut OptionTable) {
    table
        .add(url())
        .add(api_key())
        .add(api_key_script())
        .add(common::ssl_insecure())
        .add(ssl_ca_file())
        .add(stop_mode())
        .add(plug())
        .require_one_of(&["api_key", "api_key_script"])
        .set_default("shell_timeout", "10")
        .set_default("power_timeout", "25")
        .set_default("stonith_status_sleep", "2");
}

pub fn url() -> OptionSpec {
    OptionSpec::string(
        "url",
        "MAAS API endpoint, e.g. http://maas.example.com:5240/MAAS (with or without /api/2.0)",
    )
    .required()
    .placeholder("url")
}

/// A secret, redacted from every log line and error. It keeps its long
/// name only so that `--api-key=…` is refused by name (see
/// [`crate::config::check`]) instead of matching `--api-key-script` as a
/// prefix, which would run the key as a command.
pub fn api_key() -> OptionSpec {
    OptionSpec::string(
        "api_key",
        "MAAS API key consumer_key:token_key:token_secret (stdin only; on the command line use --api-key-script)",
    )
    .placeholder("key")
    .secret()
}

pub fn api_key_script() -> OptionSpec {
    OptionSpec::string(
        "api_key_script",
        "Script to run to retrieve the MAAS API key (its first line)",
    )
    .placeholder("script")
}

/// fence_openstack calls the same thing `cacert`; accepted as an alias.
pub fn ssl_ca_file() -> OptionSpec {
    OptionSpec::string(
        "ssl_ca_file",
        "PEM file of the CA certificates to trust for an https url, instead of the system bundle",
    )
    .aliases(&["cacert"])
    .placeholder("file")
}

pub fn stop_mode() -> OptionSpec {
    OptionSpec::select(
        "stop_mode",
        STOP_MODES,
        "How MAAS powers the machine off: hard (immediate, the fencing default) or soft (ACPI shutdown, which a hung node never finishes)",
    )
    .default("hard")
    .placeholder("mode")
}

/// The common multi-plug `plug`, described for MAAS.
pub fn plug() -> OptionSpec {
    common::plug().shortdesc(
        "MAAS machine to fence: its hostname, FQDN or system_id (Pacemaker passes the node name; map it with pcmk_host_map)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getopt_text() {
        assert_eq!(url().getopt_mixed(), "--url=[url]");
        assert_eq!(api_key().getopt_mixed(), "--api-key=[key]");
        assert_eq!(api_key_script().getopt_mixed(), "--api-key-script=[script]");
        assert_eq!(ssl_ca_file().getopt_mixed(), "--ssl-ca-file=[file]");
        assert_eq!(stop_mode().getopt_mixed(), "--stop-mode=[mode]");
        assert_eq!(plug().getopt_mixed(), "-n, --plug=[id]");
    }

    #[test]
    fn older_and_foreign_names() {
        let mut table = OptionTable::empty();
        add(&mut table);
        assert_eq!(table.lookup("port").map(|s| s.name), Some("plug"));
        assert_eq!(table.lookup("cacert").map(|s| s.name), Some("ssl_ca_file"));
        assert_eq!(
            table.lookup("api-key-script").map(|s| s.name),
            Some("api_key_script")
        );
    }
}
