//! What a caller says about the BMC and how to talk to it.

use std::time::Duration;

use umha_common::Secret;

use crate::command::Privilege;
use crate::crypto::{AuthType, CipherSuite, Key};
use crate::error::IpmiError;
use crate::rakp::MAX_USER_LEN;

/// The RMCP port.
pub const DEFAULT_PORT: u16 = 623;

/// Retransmission timing. Every wait is also cut short by the operation's
/// deadline; these only shape the retries inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// First retransmission timeout while nothing is known about the BMC,
    /// and the floor of the adaptive one afterwards.
    pub first_timeout: Duration,
    /// Ceiling of the timeout as it doubles after each unanswered try.
    pub max_timeout: Duration,
    /// How long the automatic cipher suite choice waits for Get Channel
    /// Cipher Suites (per try, two tries) before assuming suite 3.
    pub cipher_probe_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            first_timeout: Duration::from_millis(250),
            max_timeout: Duration::from_secs(2),
            cipher_probe_timeout: Duration::from_millis(200),
        }
    }
}

/// How to reach and log in to one BMC.
#[derive(Debug, Clone)]
pub struct Config {
    /// Host name, IPv4 or IPv6 address (brackets allowed).
    pub host: String,
    pub port: u16,
    /// IPMI user name; empty for the null user.
    pub username: String,
    pub password: Secret,
    /// BMC key Kg as hexadecimal digits (fence_ipmilan's `hexadecimal_kg`,
    /// ipmitool's `-y`); `None` or all zeros means the password is used.
    pub kg: Option<Secret>,
    /// Privilege level requested for the session (fence_ipmilan's `privlvl`).
    pub privilege: Privilege,
    /// RMCP+ (IPMI 2.0, "lanplus") when true, IPMI 1.5 when false.
    pub lanplus: bool,
    /// RMCP+ cipher suite; `None` chooses automatically (17, else 3).
    pub cipher: Option<u8>,
    /// IPMI 1.5 authentication type; `None` takes the best the BMC offers
    /// (MD5, then straight password).
    pub v15_auth: Option<AuthType>,
    pub timing: Timing,
}

impl Config {
    /// A configuration with fence_ipmilan's defaults except `lanplus`:
    /// port 623, administrator privilege, RMCP+ with automatic cipher suite.
    pub fn new(host: impl Into<String>, username: impl Into<String>, password: Secret) -> Self {
        Self {
            host: host.into(),
            port: DEFAULT_PORT,
            username: username.into(),
            password,
            kg: None,
            privilege: Privilege::Administrator,
            lanplus: true,
            cipher: None,
            v15_auth: None,
            timing: Timing::default(),
        }
    }

    /// Check what can be checked without the network, and turn the secrets
    /// into keys.
    pub(crate) fn credentials(&self) -> Result<Credentials, IpmiError> {
        let user = self.username.as_bytes();
        if user.len() > MAX_USER_LEN {
            return Err(IpmiError::Config(format!(
                "user name '{}' is longer than {MAX_USER_LEN} bytes",
                self.username
            )));
        }
        let password = self.password.expose().as_bytes();
        let max_pw = if self.lanplus { 20 } else { 16 };
        if password.len() > max_pw {
            return Err(IpmiError::Config(format!(
                "the password is longer than {max_pw} bytes, the most IPMI {} allows",
                if self.lanplus { "2.0" } else { "1.5" }
            )));
        }
        let kg = match &self.kg {
            Some(hex) if !hex.is_empty() => {
                let key = parse_kg(hex.expose())?;
                (!key.as_bytes().iter().all(|b| *b == 0)).then_some(key)
            }
            _ => None,
        };
        if let Some(id) = self.cipher {
            if !self.lanplus {
                return Err(IpmiError::Config(
                    "a cipher suite was given but lanplus is off (cipher suites are IPMI 2.0 only)"
                        .into(),
                ));
            }
            if CipherSuite::from_id(id).is_none() {
                return Err(IpmiError::Config(if id == 0 {
                    "cipher suite 0 has no authentication at all; refusing it (use 3 or 17)".into()
                } else {
                    format!("cipher suite {id} is not supported (supported: 17, 3, 16, 2, 15, 1)")
                }));
            }
        }
        if let Some(t) = self.v15_auth
            && matches!(t, AuthType::Md2 | AuthType::Oem)
        {
            return Err(IpmiError::Config(format!(
                "IPMI 1.5 authentication type {t:?} is not supported (use MD5 or password)"
            )));
        }
        Ok(Credentials {
            user: user.to_vec(),
            password: Key::from_slice(password),
            kg,
        })
    }
}

/// Parse a hexadecimal Kg of at most 20 bytes (an optional `0x` prefix allowed).
fn parse_kg(text: &str) -> Result<Key, IpmiError> {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let bad = || {
        IpmiError::Config(
            "the BMC key (hexadecimal_kg) must be an even number of hex digits, at most 40".into(),
        )
    };
    if !t.len().is_multiple_of(2) || t.len() > 40 {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(t.len() / 2);
    let digits = t.as_bytes();
    for pair in digits.chunks_exact(2) {
        let s = std::str::from_utf8(pair).map_err(|_| bad())?;
        out.push(u8::from_str_radix(s, 16).map_err(|_| bad())?);
    }
    Ok(Key::new(out))
}

/// The secrets of a [`Config`], as keys.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    pub user: Vec<u8>,
    pub password: Key,
    pub kg: Option<Key>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config::new("127.0.0.1", "admin", Secret::new("pw"))
    }

    #[test]
    fn kg_parsing() {
        let mut c = cfg();
        c.kg = Some(Secret::new("0x0102ff"));
        assert_eq!(
            c.credentials().unwrap().kg.unwrap().as_bytes(),
            &[1, 2, 0xff]
        );
        c.kg = Some(Secret::new("000000"));
        assert!(
            c.credentials().unwrap().kg.is_none(),
            "all-zero Kg means none"
        );
        for bad in ["abc", "zz", &"00".repeat(21)] {
            c.kg = Some(Secret::new(bad));
            let e = c.credentials().unwrap_err().to_string();
            assert!(!e.contains(bad) || bad.len() < 3, "{e}");
        }
    }

    #[test]
    fn rejects_what_cannot_work() {
        let mut c = cfg();
        c.cipher = Some(0);
        assert!(c.credentials().unwrap_err().to_string().contains("suite 0"));
        c.cipher = Some(3);
        c.lanplus = false;
        assert!(c.credentials().is_err());
        let mut c = cfg();
        c.username = "x".repeat(17);
        assert!(c.credentials().is_err());
        let mut c = cfg();
        c.password = Secret::new("p".repeat(21));
        let e = c.credentials().unwrap_err().to_string();
        assert!(!e.contains("ppp"), "password leaked into {e}");
    }
}
