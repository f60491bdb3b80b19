//! fence_ipmilan's options, under its names, letters, older names and
//! defaults, so that a `stonith:fence_ipmilan` device keeps working when only
//! its agent name changes.
//!
//! The authoritative list is `fence_ipmilan -o metadata` (fence-agents 4.12);
//! `tests/agent.rs` compares both agents' metadata parameter by parameter.
//! Options that only steer ipmitool (its path, its retransmission interval,
//! sudo) are accepted and ignored: fence_ipmi speaks IPMI itself and keeps
//! its own deadline.

use stonith_core::spec::common;
use stonith_core::{OptionSpec, OptionTable};

/// The IPMI 1.5 authentication types fence_ipmilan offers (`-A`).
pub const AUTH_TYPES: &[&str] = &["md5", "password", "none"];

/// The privilege levels of `privlvl` (`-L`), lowest first.
pub const PRIVILEGE_LEVELS: &[&str] = &["callback", "user", "operator", "administrator"];

/// Options that only make sense for ipmitool; accepted and ignored.
pub const IGNORED: &[&str] = &["ipmitool_path", "ipmitool_timeout", "use_sudo", "sudo_path"];

/// Add fence_ipmilan's device options to `table` and its defaults
/// (`power_wait` 2, `ipport` 623).
pub fn add(table: &mut OptionTable) {
    table
        .add(common::ip())
        .add(common::ipport("623"))
        .add(common::username())
        .add(common::password())
        .add(common::password_script())
        .add(lanplus())
        .add(auth())
        .add(cipher())
        .add(privlvl())
        .add(hexadecimal_kg())
        .add(target())
        .add(ipmitool_path())
        .add(ipmitool_timeout())
        .add(use_sudo())
        .add(sudo_path())
        .set_default("power_wait", "2");
}

/// IPMI 2.0 (RMCP+). Off by default, as in fence_ipmilan: a device
/// configured without `lanplus` keeps speaking IPMI 1.5.
pub fn lanplus() -> OptionSpec {
    OptionSpec::flag("lanplus", "Use Lanplus to improve security of connection")
        .short('P')
        .default("0")
}

pub fn auth() -> OptionSpec {
    OptionSpec::select(
        "auth",
        AUTH_TYPES,
        "IPMI Lan Auth type (IPMI 1.5 only, ignored with lanplus)",
    )
    .short('A')
    .placeholder("auth")
}

pub fn cipher() -> OptionSpec {
    OptionSpec::string(
        "cipher",
        "Ciphersuite to use (same as ipmitool -C parameter); 3 or 17, chosen automatically when unset",
    )
    .short('C')
    .placeholder("cipher")
}

pub fn privlvl() -> OptionSpec {
    OptionSpec::select(
        "privlvl",
        PRIVILEGE_LEVELS,
        "Privilege level on IPMI device",
    )
    .short('L')
    .default("administrator")
    .placeholder("level")
}

/// The BMC key Kg: a secret like the password, never logged.
pub fn hexadecimal_kg() -> OptionSpec {
    OptionSpec::string(
        "hexadecimal_kg",
        "Hexadecimal-encoded Kg key for IPMIv2 authentication",
    )
    .placeholder("key")
    .secret()
}

/// ipmitool's `-t`: bridging to another controller behind the BMC. Refused
/// when set (see [`crate::config::ConfigError::Bridging`]).
pub fn target() -> OptionSpec {
    OptionSpec::string(
        "target",
        "Bridge IPMI requests to the remote target address (not supported by fence_ipmi: refused when set)",
    )
    .placeholder("targetaddress")
}

pub fn ipmitool_path() -> OptionSpec {
    OptionSpec::string(
        "ipmitool_path",
        "Path to ipmitool binary (ignored: fence_ipmi does not use ipmitool)",
    )
    .default("/usr/bin/ipmitool")
    .placeholder("path")
    .order(200)
}

pub fn ipmitool_timeout() -> OptionSpec {
    OptionSpec::string(
        "ipmitool_timeout",
        "Timeout (sec) for IPMI operation (ignored: fence_ipmi retransmits adaptively within login_timeout and shell_timeout)",
    )
    .default("2")
    .placeholder("timeout")
    .order(201)
}

pub fn use_sudo() -> OptionSpec {
    OptionSpec::flag(
        "use_sudo",
        "Use sudo (without password) when calling 3rd party software (ignored: fence_ipmi calls none)",
    )
    .long("use-sudo")
    .obsoletes("sudo")
    .order(205)
}

pub fn sudo_path() -> OptionSpec {
    OptionSpec::string(
        "sudo_path",
        "Path to sudo binary (ignored: fence_ipmi calls no other program)",
    )
    .default("/usr/bin/sudo")
    .placeholder("path")
    .order(300)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getopt_text_is_fence_ipmilans() {
        assert_eq!(lanplus().getopt_mixed(), "-P, --lanplus");
        assert_eq!(auth().getopt_mixed(), "-A, --auth=[auth]");
        assert_eq!(cipher().getopt_mixed(), "-C, --cipher=[cipher]");
        assert_eq!(privlvl().getopt_mixed(), "-L, --privlvl=[level]");
        assert_eq!(hexadecimal_kg().getopt_mixed(), "--hexadecimal-kg=[key]");
        assert_eq!(target().getopt_mixed(), "--target=[targetaddress]");
        assert_eq!(ipmitool_path().getopt_mixed(), "--ipmitool-path=[path]");
        assert_eq!(
            ipmitool_timeout().getopt_mixed(),
            "--ipmitool-timeout=[timeout]"
        );
        assert_eq!(use_sudo().getopt_mixed(), "--use-sudo");
        assert_eq!(sudo_path().getopt_mixed(), "--sudo-path=[path]");
    }

    #[test]
    fn every_ignored_option_exists() {
        let mut table = OptionTable::empty();
        add(&mut table);
        for name in IGNORED {
            assert!(table.contains(name), "{name}");
        }
        assert_eq!(
            table.get("power_wait").map(|s| s.name),
            None,
            "power_wait is common; set_default only changes it"
        );
        assert_eq!(table.lookup("sudo").map(|s| s.name), Some("use_sudo"));
        assert_eq!(table.lookup("ipaddr").map(|s| s.name), Some("ip"));
        assert_eq!(table.lookup("login").map(|s| s.name), Some("username"));
        assert_eq!(table.lookup("passwd").map(|s| s.name), Some("password"));
    }
}
