//! The checked configuration: every parameter, with cross-parameter rules.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use agent_core::{OcfError, OcfResult, Params};

use crate::hostmap::HostMap;
use crate::plan::Selector;
use crate::recovery::{self, RecoveryMethod};
use crate::selection::{Mode, Selection};
use crate::storage;
use crate::valve::Valve;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRecovery {
    Enable,
    Manual,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub cloud: String,
    pub clouds_yaml: Option<PathBuf>,
    pub selector: Selector,
    pub host_map: HostMap,
    pub marker: String,
    pub valve: Valve,
    pub selection: Selection,
    pub max_parallel: usize,
    pub max_attempts: u32,
    pub instance_timeout: Duration,
    pub on_recovery: OnRecovery,
    pub dry_run: bool,
    pub history_file: PathBuf,
    pub step_time: Duration,
    /// Storage-driven fencing, the storage valve, isolation reports.
    pub storage: storage::Policy,
    /// Segments, reserved hosts, recovery methods ([`crate::recovery`]).
    pub recovery: recovery::Policy,
    /// Alert mails (`mail_to` empty: none). See the `alert` crate.
    pub mail: Option<alert::MailConfig>,
}

impl Config {
    /// What becomes of a failed node of `segment` after its evacuation:
    /// `on_recovery` as set; unset, `manual` (maintenance) in segments whose
    /// recovery method uses reserved hosts, as Masakari leaves every failed
    /// host on maintenance there, and `enable` elsewhere.
    pub fn on_recovery_for(&self, segment: Option<&str>) -> OnRecovery {
        if self.recovery.maintain_reserved_segments
            && self.recovery.method_for(segment).uses_reserved_hosts()
        {
            OnRecovery::Manual
        } else {
            self.on_recovery
        }
    }
}

/// "0.6" or "60%", from 0 to 1.
pub fn parse_ratio(text: &str) -> Option<f64> {
    let text = text.trim();
    let value = match text.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().ok()? / 100.0,
        None => text.parse::<f64>().ok()?,
    };
    (value.is_finite() && (0.0..=1.0).contains(&value)).then_some(value)
}

fn attribute_selector(text: &str) -> OcfResult<Selector> {
    let (name, value) = match text.split_once('=') {
        Some((n, v)) => (n.trim(), Some(v.trim().to_owned())),
        None => (text.trim(), None),
    };
    if name.is_empty() {
        return Err(OcfError::configured(format!(
            "compute_attribute {text:?} is not NAME or NAME=VALUE"
        )));
    }
    Ok(Selector::Attribute {
        name: name.to_owned(),
        value,
    })
}

pub fn from_params(params: &Params) -> OcfResult<Config> {
    let nodes: Vec<String> = params.get("compute_nodes")?;
    let attribute: Option<String> = params.get("compute_attribute")?;
    let selector = match (
        nodes.is_empty(),
        attribute.as_deref().filter(|a| !a.is_empty()),
    ) {
        (false, Some(_)) => {
            return Err(OcfError::configured(
                "set compute_nodes or compute_attribute, not both",
            ));
        }
        (false, None) => Selector::Names(nodes.into_iter().collect()),
        (true, Some(a)) => attribute_selector(a)?,
        (true, None) => Selector::Remote,
    };
    let host_map = HostMap::parse(
        &params
            .get::<Option<String>>("host_map")?
            .unwrap_or_default(),
    )
    .map_err(|e| OcfError::configured(e.to_string()))?;
    let ratio_text: String = params.get("max_failed_ratio")?;
    let max_failed_ratio = parse_ratio(&ratio_text).ok_or_else(|| {
        OcfError::configured(format!(
            "max_failed_ratio {ratio_text:?} is not a number from 0 to 1 or a percentage"
        ))
    })?;
    let mode = match params.get::<String>("instance_selection")?.as_str() {
        "metadata" => Mode::Metadata {
            key: params.get("ha_metadata_key")?,
        },
        "all" => Mode::All,
        _ => Mode::Tagged {
            tag: params.get("evacuable_tag")?,
        },
    };
    let exclude: Vec<String> = params.get("exclude_instances")?;
    let marker: String = params.get("marker_attribute")?;
    if marker.trim().is_empty() {
        return Err(OcfError::configured("marker_attribute is empty"));
    }
    let history_file = PathBuf::from(params.get::<String>("history_file")?);
    if !history_file.is_absolute() {
        return Err(OcfError::configured(format!(
            "history_file {} is not an absolute path",
            history_file.display()
        )));
    }
    let clouds_yaml = params
        .get::<Option<String>>("clouds_yaml")?
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    if let Some(p) = clouds_yaml.as_ref().filter(|p| !p.is_absolute()) {
        return Err(OcfError::configured(format!(
            "clouds_yaml {} is not an absolute path",
            p.display()
        )));
    }
    let step_time: Duration = params.get("step_time")?;
    if step_time < Duration::from_secs(1) {
        return Err(OcfError::configured("step_time must be at least 1s"));
    }
    let storage = storage_policy(params)?;
    let recovery = recovery_policy(params)?;
    let max_attempts: u32 = params.get("max_attempts")?;
    if recovery.uses(RecoveryMethod::AutoPriority) && max_attempts < 2 {
        return Err(OcfError::configured(
            "auto_priority needs max_attempts of at least 2: the attempt after the scheduler found no host goes to a reserved host",
        ));
    }
    let mail =
        alert::MailConfig::from_lookup(|name| params.get::<Option<String>>(name).ok().flatten())
            .map_err(|e| OcfError::configured(e.to_string()))?;
    Ok(Config {
        cloud: params.get("cloud")?,
        clouds_yaml,
        selector,
        host_map,
        marker,
        valve: Valve {
            max_failed_hosts: params.get("max_failed_hosts")?,
            max_failed_ratio,
            window: params.get("failure_window")?,
        },
        selection: Selection {
            mode,
            evacuate_error: params.get("evacuate_error_instances")?,
            evacuate_local_disk: params.get("evacuate_local_disk")?,
            exclude: exclude.into_iter().collect::<BTreeSet<_>>(),
        },
        max_parallel: params.get("max_parallel")?,
        max_attempts,
        instance_timeout: params.get("instance_timeout")?,
        on_recovery: if params.get::<Option<String>>("on_recovery")?.as_deref() == Some("manual") {
            OnRecovery::Manual
        } else {
            OnRecovery::Enable
        },
        dry_run: params.get("dry_run")?,
        history_file,
        step_time,
        storage,
        recovery,
        mail,
    })
}

/// The recovery parameters ([`crate::recovery`]).
fn recovery_policy(params: &Params) -> OcfResult<recovery::Policy> {
    let name = |param: &str| -> OcfResult<String> {
        let v: String = params.get(param)?;
        let v = v.trim().to_owned();
        if v.is_empty() || v.contains(char::is_whitespace) {
            return Err(OcfError::configured(format!(
                "{param} {v:?} is not a node attribute name"
            )));
        }
        Ok(v)
    };
    let segment_attribute = name("segment_attribute")?;
    let reserved_attribute = name("reserved_attribute")?;
    let configured = |e: recovery::PolicyError| OcfError::configured(e.to_string());
    let method: RecoveryMethod = params
        .get::<String>("recovery_method")?
        .parse()
        .map_err(configured)?;
    let entries: Vec<String> = params.get("segment_recovery_methods")?;
    let segments = recovery::Policy::parse_segments(&entries).map_err(configured)?;
    Ok(recovery::Policy {
        segment_attribute,
        reserved_attribute,
        method,
        segments,
        maintain_reserved_segments: !params.is_set("on_recovery"),
    })
}

/// The storage parameters ([`crate::storage`]).
fn storage_policy(params: &Params) -> OcfResult<storage::Policy> {
    let attribute: String = params.get("storage_attribute")?;
    let attribute = attribute.trim().to_owned();
    if attribute.is_empty() {
        return Err(OcfError::configured("storage_attribute is empty"));
    }
    let ratio_text: String = params.get("max_storage_failed_ratio")?;
    let max_failed_ratio = parse_ratio(&ratio_text).ok_or_else(|| {
        OcfError::configured(format!(
            "max_storage_failed_ratio {ratio_text:?} is not a number from 0 to 1 or a percentage"
        ))
    })?;
    let fence_timeout: Duration = params.get("storage_fence_timeout")?;
    if fence_timeout < Duration::from_secs(10) {
        return Err(OcfError::configured(
            "storage_fence_timeout must be at least 10s",
        ));
    }
    let heartbeat_dir = params
        .get::<Option<String>>("heartbeat_dir")?
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    if let Some(d) = heartbeat_dir.as_ref().filter(|d| !d.is_absolute()) {
        return Err(OcfError::configured(format!(
            "heartbeat_dir {} is not an absolute path",
            d.display()
        )));
    }
    Ok(storage::Policy {
        attribute,
        error_count: params.get("storage_error_count")?,
        fencing: params.get("storage_fencing")?,
        fence_timeout,
        max_failed_hosts: params.get("max_storage_failed_hosts")?,
        max_failed_ratio,
        heartbeat_dir,
        heartbeat_max_age: params.get("heartbeat_max_age")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios() {
        assert_eq!(parse_ratio("0.6"), Some(0.6));
        assert_eq!(parse_ratio("50%"), Some(0.5));
        assert_eq!(parse_ratio("0"), Some(0.0));
        assert_eq!(parse_ratio("1.5"), None);
        assert_eq!(parse_ratio("NaN"), None);
        assert_eq!(parse_ratio("-0.1"), None);
        assert_eq!(parse_ratio("x"), None);
    }

    #[test]
    fn attribute_forms() {
        assert_eq!(
            attribute_selector("role=compute").unwrap(),
            Selector::Attribute {
                name: "role".into(),
                value: Some("compute".into())
            }
        );
        assert_eq!(
            attribute_selector("compute").unwrap(),
            Selector::Attribute {
                name: "compute".into(),
                value: None
            }
        );
        assert!(attribute_selector("=x").is_err());
    }
}
