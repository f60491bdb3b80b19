//! From fence_ipmilan's options to an [`ipmi_lan::Config`].
//!
//! fence_ipmilan turns its options into ipmitool arguments (`-I lan|lanplus`,
//! `-C`, `-L`, `-A`, `-y`, `-t`); this is the same translation for our own
//! client, with the checks ipmitool would only make on the wire done up front,
//! so that validate-all already reports them. Where ipmitool silently ignores
//! an option (a cipher suite without lanplus), fence_ipmi ignores it too, and
//! says so in a note: the same configuration must keep fencing the same way.

use ipmi_lan::crypto::CipherSuite;
use ipmi_lan::rakp::MAX_USER_LEN;
use ipmi_lan::{AuthType, Config, Privilege};
use stonith_core::Options;
use umha_common::Secret;

use crate::options::IGNORED;

/// Why the options cannot make a working configuration. Messages never
/// contain the password or the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("no BMC address: set ip (or plug with port_as_ip)")]
    NoAddress,
    #[error("ipport must be a UDP port number (1-65535), not {0}")]
    BadPort(i64),
    #[error("cipher must be a cipher suite number such as 3 or 17, not '{0}'")]
    BadCipher(String),
    #[error(
        "cipher suite 0 has no authentication at all (anyone on the network could fence or fake this node's power state); use 3 or 17"
    )]
    CipherZero,
    #[error("cipher suite {0} is not supported (supported: 17, 3, 16, 2, 15, 1)")]
    UnsupportedCipher(u8),
    #[error("hexadecimal_kg must be an even number of hexadecimal digits, at most 40 (20 bytes)")]
    BadKg,
    #[error("username '{0}' is longer than the 16 bytes IPMI allows")]
    UserTooLong(String),
    #[error("the password is longer than the {max} bytes IPMI {version} allows")]
    PasswordTooLong { max: usize, version: &'static str },
    #[error(
        "target={0} asks for IPMI bridging (ipmitool -t), which fence_ipmi does not support; \
         without it the commands would reach the BMC's own chassis instead of the bridged \
         controller, so nothing is done. Use fence_ipmilan for this device"
    )]
    Bridging(String),
}

/// The client configuration, and what the operator should know about how
/// the options were read.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    /// Options that are accepted but have no effect, as sentences for the log.
    pub notes: Vec<String>,
}

/// Translate the options; the password may still be missing (it comes
/// from `password_script` after validation).
pub fn lan_config(options: &Options) -> Result<Settings, ConfigError> {
    let mut notes = Vec::new();

    if let Some(target) = options.string("target").map(str::trim)
        && !target.is_empty()
    {
        return Err(ConfigError::Bridging(target.to_owned()));
    }

    let host = options.ip().ok_or(ConfigError::NoAddress)?;
    let port = match options.integer("ipport") {
        None => ipmi_lan::DEFAULT_PORT,
        Some(p) => u16::try_from(p)
            .ok()
            .filter(|p| *p != 0)
            .ok_or(ConfigError::BadPort(p))?,
    };
    let username = options.username().unwrap_or("");
    if username.len() > MAX_USER_LEN {
        return Err(ConfigError::UserTooLong(username.to_owned()));
    }
    let password = options.password().cloned().unwrap_or_default();
    let lanplus = options.flag("lanplus");
    let (max, version) = if lanplus { (20, "2.0") } else { (16, "1.5") };
    if password.expose().len() > max {
        return Err(ConfigError::PasswordTooLong { max, version });
    }

    let mut config = Config::new(host, username, password);
    config.port = port;
    config.lanplus = lanplus;
    config.privilege = options
        .choice("privlvl")
        .and_then(Privilege::parse)
        .unwrap_or(Privilege::Administrator);

    let cipher = options
        .string("cipher")
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let kg = options.secret("hexadecimal_kg").filter(|k| !k.is_empty());
    let auth = options.choice("auth");
    if lanplus {
        config.cipher = cipher.map(parse_cipher).transpose()?;
        config.kg = kg.map(check_kg).transpose()?;
        if auth.is_some() {
            notes.push("auth is ignored with lanplus (it is IPMI 1.5's, as in ipmitool)".into());
        }
    } else {
        if cipher.is_some() {
            notes.push(
                "cipher is ignored without lanplus: the session is IPMI 1.5, as ipmitool -I lan makes it"
                    .into(),
            );
        }
        if kg.is_some() {
            notes.push("hexadecimal_kg is ignored without lanplus (Kg is IPMI 2.0's)".into());
        }
        config.v15_auth = auth.map(|a| match a {
            "md5" => AuthType::Md5,
            "password" => AuthType::Password,
            _ => AuthType::None,
        });
    }

    for name in IGNORED {
        if options.is_set(name) {
            notes.push(format!(
                "{name} is ignored: fence_ipmi speaks IPMI itself, without ipmitool"
            ));
        }
    }
    Ok(Settings { config, notes })
}

/// A cipher suite number as ipmitool's `-C` takes it.
fn parse_cipher(text: &str) -> Result<u8, ConfigError> {
    let id: u8 = text
        .parse()
        .map_err(|_| ConfigError::BadCipher(text.to_owned()))?;
    match id {
        0 => Err(ConfigError::CipherZero),
        _ if CipherSuite::from_id(id).is_none() => Err(ConfigError::UnsupportedCipher(id)),
        _ => Ok(id),
    }
}

/// Check the Kg's form here, where the error can name the option; the
/// client parses it again.
fn check_kg(kg: &Secret) -> Result<Secret, ConfigError> {
    let text = kg.expose().trim();
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let well_formed = digits.len().is_multiple_of(2)
        && digits.len() <= 40
        && digits.bytes().all(|b| b.is_ascii_hexdigit());
    if well_formed {
        Ok(Secret::new(digits))
    } else {
        Err(ConfigError::BadKg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FenceIpmi;
    use stonith_core::input::{cmdline, stdin};
    use stonith_core::{Agent, PlugMode};

    fn stdin_options(text: &str) -> Options {
        let table = stonith_core::option_table::<FenceIpmi>();
        let plugs = FenceIpmi::info().plugs;
        Options::resolve(&table, plugs, stdin::parse(text.as_bytes(), &table))
    }

    fn config(text: &str) -> Result<Settings, ConfigError> {
        lan_config(&stdin_options(text))
    }

    #[test]
    fn fence_ipmilan_defaults() {
        let s = config("ip=bmc1\nusername=admin\npassword=pw\n").unwrap();
        let c = &s.config;
        assert_eq!(c.host, "bmc1");
        assert_eq!(c.port, 623);
        assert_eq!(c.username, "admin");
        assert_eq!(c.password.expose(), "pw");
        assert!(!c.lanplus, "fence_ipmilan's default is IPMI 1.5");
        assert_eq!(c.privilege, Privilege::Administrator);
        assert_eq!(c.cipher, None);
        assert_eq!(c.v15_auth, None);
        assert_eq!(c.kg, None);
        assert!(s.notes.is_empty(), "{:?}", s.notes);
    }

    #[test]
    fn lab_device_attributes() {
        let s = config(
            "ipaddr=127.0.0.1\nipport=9001\nlogin=admin\npasswd=pw\nlanplus=1\ncipher=3\nprivlvl=OPERATOR\n",
        )
        .unwrap();
        assert_eq!(s.config.port, 9001);
        assert!(s.config.lanplus);
        assert_eq!(s.config.cipher, Some(3));
        assert_eq!(s.config.privilege, Privilege::Operator);
    }

    #[test]
    fn command_line_letters() {
        let table = stonith_core::option_table::<FenceIpmi>();
        let argv: Vec<std::ffi::OsString> = [
            "-a",
            "::1",
            "-u",
            "6230",
            "-l",
            "op",
            "-p",
            "pw",
            "-P",
            "-C",
            "17",
            "-L",
            "user",
            "--hexadecimal-kg=0x0A0b",
            "-o",
            "status",
        ]
        .iter()
        .map(Into::into)
        .collect();
        let o = Options::resolve(
            &table,
            PlugMode::Single,
            cmdline::parse(&argv, &table).unwrap(),
        );
        let c = lan_config(&o).unwrap().config;
        assert_eq!((c.host.as_str(), c.port), ("::1", 6230));
        assert!(c.lanplus);
        assert_eq!(c.cipher, Some(17));
        assert_eq!(c.privilege, Privilege::User);
        assert_eq!(c.kg.unwrap().expose(), "0A0b");
    }

    #[test]
    fn ipmi15_auth_types() {
        for (text, want) in [
            ("md5", AuthType::Md5),
            ("password", AuthType::Password),
            ("none", AuthType::None),
        ] {
            let s = config(&format!("ip=h\nauth={text}\n")).unwrap();
            assert_eq!(s.config.v15_auth, Some(want));
        }
        let s = config("ip=h\nlanplus=1\nauth=md5\n").unwrap();
        assert_eq!(s.config.v15_auth, None);
        assert!(s.notes.iter().any(|n| n.contains("auth is ignored")));
    }

    #[test]
    fn ipmitool_only_options_are_noted_not_refused() {
        let s = config(
            "ip=h\ncipher=3\nhexadecimal_kg=00\nipmitool_path=/opt/ipmitool\nipmitool_timeout=5\nsudo=1\nsudo_path=/bin/sudo\n",
        )
        .unwrap();
        assert_eq!(s.config.cipher, None);
        assert_eq!(s.config.kg, None);
        for name in [
            "cipher",
            "hexadecimal_kg",
            "ipmitool_path",
            "ipmitool_timeout",
            "use_sudo",
            "sudo_path",
        ] {
            assert!(
                s.notes.iter().any(|n| n.starts_with(name)),
                "{name}: {:?}",
                s.notes
            );
        }
    }

    #[test]
    fn port_as_ip_gives_the_address() {
        let s = config("port=10.0.0.9\nport_as_ip=1\n").unwrap();
        assert_eq!(s.config.host, "10.0.0.9");
        assert_eq!(config("plug=cmp1\n").unwrap_err(), ConfigError::NoAddress);
    }

    #[test]
    fn refusals() {
        assert_eq!(
            config("ip=h\nlanplus=1\ncipher=three\n").unwrap_err(),
            ConfigError::BadCipher("three".into())
        );
        assert_eq!(
            config("ip=h\nlanplus=1\ncipher=0\n").unwrap_err(),
            ConfigError::CipherZero
        );
        assert_eq!(
            config("ip=h\nlanplus=1\ncipher=8\n").unwrap_err(),
            ConfigError::UnsupportedCipher(8)
        );
        assert_eq!(
            config("ip=h\nipport=70000\n").unwrap_err(),
            ConfigError::BadPort(70000)
        );
        assert_eq!(
            config("ip=h\nipport=0\n").unwrap_err(),
            ConfigError::BadPort(0)
        );
        assert!(matches!(
            config("ip=h\ntarget=0x82\n").unwrap_err(),
            ConfigError::Bridging(t) if t == "0x82"
        ));
        assert!(
            config("ip=h\ntarget=\n").is_ok(),
            "an empty target is no target"
        );
        assert!(matches!(
            config("ip=h\nusername=seventeen-letters\n").unwrap_err(),
            ConfigError::UserTooLong(_)
        ));
    }

    #[test]
    fn secrets_stay_out_of_errors() {
        for kg in ["xyz-secret", "abc", &"ab".repeat(21)] {
            let err = config(&format!("ip=h\nlanplus=1\nhexadecimal_kg={kg}\n")).unwrap_err();
            assert_eq!(err, ConfigError::BadKg);
            assert!(!err.to_string().contains(kg));
        }
        let pw = "p".repeat(17);
        let err = config(&format!("ip=h\npassword={pw}\n")).unwrap_err();
        assert_eq!(
            err,
            ConfigError::PasswordTooLong {
                max: 16,
                version: "1.5"
            }
        );
        assert!(!err.to_string().contains(&pw));
        assert!(config(&format!("ip=h\nlanplus=1\npassword={pw}\n")).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn any_stdin_maps_or_refuses_without_panicking(text in "[a-z_=0-9.\\n:x-]{0,200}") {
            let _ = config(&text);
        }
    }
}
