//! The checked configuration: everything the parameters say, with every
//! cross-parameter rule applied, or OCF_ERR_CONFIGURED naming every mistake.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use agent_core::value::format_duration;
use agent_core::{OcfError, OcfResult, Params};

use crate::address::parse_addresses;
use crate::attributes::AttributeNames;
use crate::heartbeat::Mode;
use crate::icmp::{EchoPlan, Family};
use crate::ratio::LossRatio;
use crate::verdict::Rules;

/// The path check, when configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatConfig {
    pub dir: PathBuf,
    pub mode: Mode,
    pub timeout: Duration,
}

/// What the parameters say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub addresses: Vec<IpAddr>,
    pub plan: EchoPlan,
    pub rules: Rules,
    pub names: AttributeNames,
    /// `None` for 0: write at once.
    pub dampen: Option<Duration>,
    pub heartbeat: Option<HeartbeatConfig>,
    /// `None` for 0: only at start and probes.
    pub republish: Option<Duration>,
}

impl Config {
    /// The address families the checks need sockets for.
    pub fn families(&self) -> Vec<Family> {
        let mut f: Vec<Family> = self.addresses.iter().map(Family::of).collect();
        f.sort();
        f.dedup();
        f
    }
}

/// `min_reachable`: a number of addresses, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinReachable {
    All,
    AtLeast(usize),
}

impl MinReachable {
    pub fn parse(text: &str) -> Result<MinReachable, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("all") {
            return Ok(MinReachable::All);
        }
        match agent_core::value::parse_integer(t) {
            Some(n) if n >= 1 => usize::try_from(n)
                .map(MinReachable::AtLeast)
                .map_err(|_| format!("parameter min_reachable: '{t}' is too large")),
            _ => Err(format!(
                "parameter min_reachable: '{t}' is not 'all' or a number of addresses from 1"
            )),
        }
    }

    pub fn resolve(self, addresses: usize) -> Result<usize, String> {
        match self {
            MinReachable::All => Ok(addresses),
            MinReachable::AtLeast(n) if n <= addresses => Ok(n),
            MinReachable::AtLeast(n) => Err(format!(
                "parameter min_reachable: {n} is more than the {addresses} storage addresses given"
            )),
        }
    }
}

/// Attribute names Pacemaker and the shells around it take without quoting.
pub fn check_attribute_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && name.as_bytes()[0].is_ascii_alphabetic();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "parameter name: '{name}' must start with a letter and hold only letters, digits, '_', '-' and '.' (at most 100)"
        ))
    }
}

fn within(name: &str, value: Duration, min: Duration, max: Duration, problems: &mut Vec<String>) {
    if value < min || value > max {
        problems.push(format!(
            "parameter {name}: {} is not between {} and {}",
            format_duration(value),
            format_duration(min),
            format_duration(max)
        ));
    }
}

/// Read and check every parameter; report every problem at once.
pub fn from_params(params: &Params) -> OcfResult<Config> {
    let mut problems: Vec<String> = Vec::new();

    let items: Vec<String> = params.get("storage_server_address")?;
    let addresses = parse_addresses(&items).unwrap_or_else(|e| {
        problems.push(e);
        Vec::new()
    });

    let plan = EchoPlan {
        count: params.get("ping_count")?,
        interval: params.get("ping_interval")?,
        timeout: params.get("ping_timeout")?,
    };
    within(
        "ping_interval",
        plan.interval,
        Duration::from_millis(10),
        Duration::from_secs(60),
        &mut problems,
    );
    within(
        "ping_timeout",
        plan.timeout,
        Duration::from_millis(50),
        Duration::from_secs(60),
        &mut problems,
    );

    let ratio_text: String = params.get("ping_loss_ratio")?;
    let loss_ratio = LossRatio::parse(&ratio_text).unwrap_or_else(|e| {
        problems.push(format!(
            "parameter ping_loss_ratio: '{}' {e}",
            ratio_text.trim()
        ));
        LossRatio::default()
    });

    let min_text: String = params.get("min_reachable")?;
    let min_reachable = match MinReachable::parse(&min_text) {
        // Without addresses there is nothing to compare with; that is reported already.
        Ok(_) if addresses.is_empty() => 1,
        Ok(m) => m.resolve(addresses.len()).unwrap_or_else(|e| {
            problems.push(e);
            1
        }),
        Err(e) => {
            problems.push(e);
            1
        }
    };

    let name: String = params.get("name")?;
    let name = name.trim().to_owned();
    if let Err(e) = check_attribute_name(&name) {
        problems.push(e);
    }
    let names = AttributeNames::new(&name, params.get("health")?, params.get("detail")?);

    let dampen: Duration = params.get("dampen")?;
    within(
        "dampen",
        dampen,
        Duration::ZERO,
        Duration::from_secs(3600),
        &mut problems,
    );

    let heartbeat = match params.get::<Option<String>>("heartbeat_path")? {
        None => None,
        Some(text) => {
            let dir = PathBuf::from(text.trim());
            if !dir.is_absolute() {
                problems.push(format!(
                    "parameter heartbeat_path: '{}' is not an absolute path",
                    dir.display()
                ));
            }
            let timeout: Duration = params.get("heartbeat_timeout")?;
            within(
                "heartbeat_timeout",
                timeout,
                Duration::from_millis(100),
                Duration::from_secs(600),
                &mut problems,
            );
            let mode = if params.get("heartbeat_write")? {
                Mode::Write
            } else {
                Mode::Read
            };
            Some(HeartbeatConfig { dir, mode, timeout })
        }
    };

    let republish: Duration = params.get("republish_interval")?;
    if !republish.is_zero() {
        within(
            "republish_interval",
            republish,
            Duration::from_secs(10),
            Duration::from_secs(7 * 24 * 3600),
            &mut problems,
        );
    }

    if !problems.is_empty() {
        return Err(OcfError::configured(problems.join("; ")));
    }
    Ok(Config {
        addresses,
        plan,
        rules: Rules {
            loss_ratio,
            min_reachable,
            multiplier: params.get("multiplier")?,
        },
        names,
        dampen: (!dampen.is_zero()).then_some(dampen),
        heartbeat,
        republish: (!republish.is_zero()).then_some(republish),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_core::{Env, OcfStatus};
    use proptest::prelude::*;

    fn config(pairs: &[(&str, &str)]) -> OcfResult<Config> {
        let env = Env::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string())),
        );
        let params = Params::from_env(crate::spec::SPEC.params, &env)?;
        from_params(&params)
    }

    fn reason(pairs: &[(&str, &str)]) -> String {
        let err = config(pairs).unwrap_err();
        assert_eq!(err.status(), OcfStatus::ErrConfigured, "{err}");
        err.reason().to_owned()
    }

    #[test]
    fn defaults_are_umha_and_ping_compatible() {
        let c = config(&[("storage_server_address", "127.0.0.1 ::1")]).unwrap();
        assert_eq!(c.addresses.len(), 2);
        assert_eq!(c.families(), [Family::V4, Family::V6]);
        assert_eq!(c.plan.count, 4);
        assert_eq!(c.plan.interval, Duration::from_millis(200));
        assert_eq!(c.plan.timeout, Duration::from_secs(1));
        assert_eq!(c.rules.loss_ratio, LossRatio::UMHA_DEFAULT);
        assert_eq!(c.rules.min_reachable, 1);
        assert_eq!(c.rules.multiplier, 1000);
        assert_eq!(c.names, AttributeNames::new("umha-storage", false, true));
        assert_eq!(c.dampen, Some(Duration::from_secs(5)));
        assert_eq!(c.heartbeat, None);
        assert_eq!(c.republish, Some(Duration::from_secs(600)));
    }

    #[test]
    fn everything_set() {
        let c = config(&[
            ("storage_server_address", "127.0.0.1,[::1], 127.0.0.2"),
            ("ping_count", "10"),
            ("ping_interval", "50ms"),
            ("ping_timeout", "2s"),
            ("ping_loss_ratio", "25%"),
            ("min_reachable", "all"),
            ("name", "storage.a"),
            ("multiplier", "1"),
            ("dampen", "0"),
            ("health", "true"),
            ("detail", "false"),
            ("heartbeat_path", "/var/lib/nova/instances/.umha"),
            ("heartbeat_write", "no"),
            ("heartbeat_timeout", "3s"),
            ("republish_interval", "0"),
        ])
        .unwrap();
        assert_eq!(c.rules.min_reachable, 3);
        assert_eq!(c.rules.loss_ratio.ppm(), 250_000);
        assert_eq!(
            c.names.enabled(),
            ["storage.a", "#health-storage.a", "storage.a-red-count"]
        );
        assert_eq!(c.dampen, None);
        assert_eq!(c.republish, None);
        let hb = c.heartbeat.unwrap();
        assert_eq!(hb.mode, Mode::Read);
        assert_eq!(hb.timeout, Duration::from_secs(3));
    }

    #[test]
    fn the_issue_s_bad_configurations() {
        assert_eq!(
            reason(&[]),
            "required parameter storage_server_address is not set"
        );
        assert!(reason(&[("storage_server_address", " , ")]).contains("no address given"));
        assert!(
            reason(&[("storage_server_address", "nfs-server")])
                .contains("'nfs-server' is not an IP address")
        );
        let r = reason(&[
            ("storage_server_address", "127.0.0.1"),
            ("ping_loss_ratio", "1.5"),
        ]);
        assert_eq!(
            r,
            "parameter ping_loss_ratio: '1.5' is outside 0 to 1 (0% to 100%)"
        );
        let r = reason(&[("storage_server_address", "127.0.0.1"), ("ping_count", "0")]);
        assert!(
            r.contains("parameter ping_count: '0' is not between 1 and 100"),
            "{r}"
        );
        let r = reason(&[
            ("storage_server_address", "127.0.0.1"),
            ("heartbeat_path", "relative/dir"),
        ]);
        assert_eq!(
            r,
            "parameter heartbeat_path: 'relative/dir' is not an absolute path"
        );
    }

    #[test]
    fn more_bad_configurations_all_reported_at_once() {
        let r = reason(&[
            ("storage_server_address", "127.0.0.1"),
            ("min_reachable", "2"),
            ("name", "#health-x"),
            ("ping_interval", "1ms"),
            ("republish_interval", "1s"),
        ]);
        for expected in [
            "min_reachable: 2 is more than the 1 storage addresses",
            "parameter name: '#health-x' must start with a letter",
            "parameter ping_interval: 1ms is not between 10ms and 1min",
            "parameter republish_interval: 1s is not between",
        ] {
            assert!(r.contains(expected), "{expected}: {r}");
        }
        let r = reason(&[
            ("storage_server_address", "127.0.0.1"),
            ("min_reachable", "none"),
        ]);
        assert!(r.contains("is not 'all' or a number"), "{r}");
        let r = reason(&[
            ("storage_server_address", "127.0.0.1"),
            ("min_reachable", "0"),
        ]);
        assert!(r.contains("is not 'all' or a number"), "{r}");
    }

    #[test]
    fn min_reachable_forms() {
        assert_eq!(MinReachable::parse(" ALL "), Ok(MinReachable::All));
        assert_eq!(MinReachable::parse("2"), Ok(MinReachable::AtLeast(2)));
        assert_eq!(MinReachable::All.resolve(3), Ok(3));
        assert!(MinReachable::AtLeast(4).resolve(3).is_err());
        assert!(MinReachable::parse("-1").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_values_never_panic(values in proptest::collection::vec(any::<String>(), 8)) {
            let names = ["storage_server_address", "ping_loss_ratio", "min_reachable", "name", "ping_interval", "heartbeat_path", "dampen", "multiplier"];
            let pairs: Vec<(&str, &str)> = names.iter().copied().zip(values.iter().map(String::as_str)).collect();
            if let Err(e) = config(&pairs) {
                prop_assert!(matches!(e.status(), OcfStatus::ErrConfigured | OcfStatus::ErrGeneric), "{}", e);
            }
        }
    }
}
