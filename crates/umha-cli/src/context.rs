//! The state a command works on: a CIB (live, or a captured file as
//! `crm_simulate -x` takes one), and the evacuator's configuration as the
//! running agent sees it, read from its primitive in that CIB.
//!
//! Reading the parameters from the CIB, rather than asking the operator to
//! repeat them, is what keeps `umha status` and `umha simulate` honest: they
//! use the same cloud, compute-node selector, valve and history file as the
//! agent, through the agent's own parameter parsing and defaults.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use agent_core::{Env, Params};
use cib::Cib;
use umha_common::Deadline;
use umha_common::exec::Command;
use umha_evacuator::config::{self, Config};

use crate::CliError;

/// A CIB read takes at most this long (the cluster may be in trouble; the
/// operator should get an answer, not a hang).
pub const CIB_TIMEOUT: Duration = Duration::from_secs(30);

/// The evacuator's type name in the CIB (`ocf:umha:umha-evacuator`).
const EVACUATOR_TYPE: &str = "umha-evacuator";

/// A parsed CIB and where it came from.
#[derive(Debug)]
pub struct State {
    pub cib: Cib,
    /// The evacuator primitive, when the CIB has one.
    pub evacuator: Option<EvacuatorResource>,
    /// "live cluster" or the file name, for reports and errors.
    pub source: String,
}

/// The evacuator's primitive: its id and the instance attributes set on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvacuatorResource {
    pub id: String,
    pub params: BTreeMap<String, String>,
}

impl State {
    /// `file`, or the live CIB through `cibadmin --query`.
    pub fn load(file: Option<&Path>) -> Result<Self, CliError> {
        match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
                Self::parse(&text, &path.display().to_string())
            }
            None => {
                let out = Command::new("cibadmin")
                    .arg("--query")
                    .timeout(CIB_TIMEOUT)
                    .max_output(256 << 20)
                    .run()
                    .map_err(|e| CliError::Invalid(format!("cibadmin --query: {e}")))?;
                if !out.success() {
                    return Err(CliError::Invalid(format!(
                        "cibadmin --query failed (is this a cluster node, and are you root or in haclient?): {}",
                        out.stderr_summary()
                    )));
                }
                Self::parse(&out.stdout_lossy(), "live cluster")
            }
        }
    }

    pub fn parse(text: &str, source: &str) -> Result<Self, CliError> {
        let cib = Cib::parse(text).map_err(|e| CliError::cib(format!("CIB from {source}"), e))?;
        let evacuator = find_evacuator(text);
        Ok(Self {
            cib,
            evacuator,
            source: source.to_owned(),
        })
    }

    /// The evacuator's configuration: its primitive's parameters, then
    /// `overrides` (`--param k=v`), through the agent's own checks.
    pub fn config(&self, overrides: &[(String, String)]) -> Result<Config, CliError> {
        let mut params = self
            .evacuator
            .as_ref()
            .map(|r| r.params.clone())
            .unwrap_or_default();
        for (k, v) in overrides {
            params.insert(k.clone(), v.clone());
        }
        config_from(&params)
    }
}

/// The agent's [`Config`] from parameter values, with its defaults for the
/// rest, exactly as `OCF_RESKEY_*` would give them.
pub fn config_from(params: &BTreeMap<String, String>) -> Result<Config, CliError> {
    let env = Env::from_pairs(
        params
            .iter()
            .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.clone())),
    );
    let checked = Params::from_env(umha_evacuator::SPEC.params, &env)
        .map_err(|e| CliError::Config(e.to_string()))?;
    config::from_params(&checked).map_err(|e| CliError::Config(e.to_string()))
}

/// The first `ocf:umha:umha-evacuator` primitive (also inside groups and
/// clones) and its plain instance attributes. Rule-based attribute sets
/// are skipped: which one applies depends on where the resource runs.
/// Nothing here is secret: the evacuator takes credentials only from
/// clouds.yaml.
fn find_evacuator(text: &str) -> Option<EvacuatorResource> {
    let doc = roxmltree::Document::parse(text).ok()?;
    let primitive = doc.descendants().find(|n| {
        n.has_tag_name("primitive")
            && n.attribute("class") == Some("ocf")
            && n.attribute("provider") == Some("umha")
            && n.attribute("type") == Some(EVACUATOR_TYPE)
    })?;
    let mut params = BTreeMap::new();
    for set in primitive
        .children()
        .filter(|c| c.has_tag_name("instance_attributes"))
        .filter(|c| !c.children().any(|r| r.has_tag_name("rule")))
    {
        for nv in set.children().filter(|c| c.has_tag_name("nvpair")) {
            if let (Some(k), Some(v)) = (nv.attribute("name"), nv.attribute("value")) {
                params.entry(k.to_owned()).or_insert_with(|| v.to_owned());
            }
        }
    }
    Some(EvacuatorResource {
        id: primitive.attribute("id").unwrap_or_default().to_owned(),
        params,
    })
}

/// A deadline for one command's cluster and cloud work.
pub fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(60))
}

/// `--param k=v`.
pub fn parse_param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("{text:?} is not NAME=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CIB: &str = r#"<cib><configuration><crm_config/><nodes/><resources>
      <group id="g"><primitive id="evac" class="ocf" provider="umha" type="umha-evacuator">
        <instance_attributes id="a"><nvpair id="a1" name="cloud" value="prod"/>
          <nvpair id="a2" name="max_failed_hosts" value="3"/></instance_attributes>
        <instance_attributes id="b"><rule id="r" score="0"/><nvpair id="b1" name="cloud" value="other"/></instance_attributes>
      </primitive></group></resources><constraints/></configuration><status/></cib>"#;

    #[test]
    fn finds_the_evacuator_and_its_plain_parameters() {
        let r = find_evacuator(CIB).unwrap();
        assert_eq!(r.id, "evac");
        assert_eq!(r.params.get("cloud").map(String::as_str), Some("prod"));
        let config = config_from(&r.params).unwrap();
        assert_eq!(config.cloud, "prod");
        assert_eq!(config.valve.max_failed_hosts, 3);
        assert!(find_evacuator("<cib/>").is_none());
        assert!(find_evacuator("not xml").is_none());
    }

    #[test]
    fn bad_parameters_are_named() {
        let mut p = BTreeMap::new();
        p.insert("max_failed_ratio".to_owned(), "lots".to_owned());
        let e = config_from(&p).unwrap_err().to_string();
        assert!(e.contains("max_failed_ratio"), "{e}");
        assert!(parse_param("a=b=c").unwrap() == ("a".into(), "b=c".into()));
        assert!(parse_param("=x").is_err());
    }
}
