//! Helpers for agents' own tests: run actions against a made-up environment
//! and check the OCF contract without a cluster.
//!
//! ```ignore
//! #[test]
//! fn follows_the_ocf_contract() {
//!     agent_core::testing::check_spec(MyAgent::SPEC).unwrap();
//!     agent_core::testing::check_lifecycle(&MyAgent, &[("OCF_RESKEY_x", "1"), ...]).unwrap();
//! }
//! ```

use std::path::Path;
use std::time::Duration;

use crate::{Action, AgentSpec, Env, OcfStatus, Outcome, ResourceAgent, execute};

/// The OCF 1.0 DTD that resource-agents installs and ocf-tester validates against.
pub const RA_API_DTD: &str = "/usr/share/resource-agents/ra-api-1.dtd";

/// An environment from `(name, value)` pairs.
pub fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

/// Run `action` with `pairs` as the whole environment.
pub fn run_action<A: ResourceAgent>(agent: &A, action: &str, pairs: &[(&str, &str)]) -> Outcome {
    execute(agent, &[action.to_owned()], &env(pairs))
}

/// `Err` listing the table's problems ([`AgentSpec::check`]).
pub fn check_spec(spec: &AgentSpec) -> Result<(), String> {
    let problems = spec.check();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} has problems:\n  {}",
            spec.full_name(),
            problems.join("\n  ")
        ))
    }
}

/// Walk the agent through what Pacemaker and ocf-tester do and check every
/// exit code: probes and monitors 7 while stopped, start and stop
/// idempotent, monitor and probe 0 while running, unsupported actions 3.
/// `pairs` must configure a valid resource (parameters, `OCF_RESOURCE_INSTANCE`,
/// `OCF_RESKEY_CRM_meta_on_node`, a private `HA_RSCTMP`).
pub fn check_lifecycle<A: ResourceAgent>(agent: &A, pairs: &[(&str, &str)]) -> Result<(), String> {
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut all: Vec<(&str, &str)> = pairs
            .iter()
            .copied()
            .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
            .collect();
        all.extend_from_slice(extra);
        all
    };
    let probe = with(&[("OCF_RESKEY_CRM_meta_interval", "0")]);
    let recurring = with(&[("OCF_RESKEY_CRM_meta_interval", "10000")]);
    let plain = with(&[]);
    type Step<'a> = (&'a str, &'a [(&'a str, &'a str)], OcfStatus);
    let steps: [Step<'_>; 13] = [
        ("meta-data", &plain, OcfStatus::Success),
        ("validate-all", &plain, OcfStatus::Success),
        ("monitor", &probe, OcfStatus::NotRunning),
        ("monitor", &recurring, OcfStatus::NotRunning),
        ("stop", &plain, OcfStatus::Success),
        ("start", &plain, OcfStatus::Success),
        ("start", &plain, OcfStatus::Success),
        ("monitor", &recurring, OcfStatus::Success),
        ("monitor", &probe, OcfStatus::Success),
        ("stop", &plain, OcfStatus::Success),
        ("monitor", &recurring, OcfStatus::NotRunning),
        ("stop", &plain, OcfStatus::Success),
        ("monitor", &probe, OcfStatus::NotRunning),
    ];
    for (i, (action, env, expected)) in steps.iter().enumerate() {
        let got = run_action(agent, action, env);
        if got.status != *expected {
            return Err(format!(
                "step {} ({action}{}): expected {expected}, got {} ({})",
                i + 1,
                if env.contains(&("OCF_RESKEY_CRM_meta_interval", "0")) {
                    ", probe"
                } else {
                    ""
                },
                got.status,
                got.reason.unwrap_or_default()
            ));
        }
    }
    for action in Action::ALL {
        if !A::SPEC.supports(action) {
            let got = run_action(agent, action.name(), &plain);
            if got.status != OcfStatus::ErrUnimplemented {
                return Err(format!(
                    "unsupported {action}: expected 3, got {}",
                    got.status
                ));
            }
        }
    }
    let got = run_action(agent, "no-such-action", &plain);
    if got.status != OcfStatus::ErrUnimplemented || got.stderr.is_empty() {
        return Err(format!(
            "unknown action: expected usage and 3, got {}",
            got.status
        ));
    }
    Ok(())
}

/// Validate meta-data XML against the OCF 1.0 DTD with `xmllint`, as
/// ocf-tester does. `None` when xmllint or the DTD is not installed.
pub fn xmllint_dtd(xml: &str) -> Option<Result<(), String>> {
    if !Path::new(RA_API_DTD).exists() {
        return None;
    }
    let out = umha_common::Command::new("xmllint")
        .args(["--noout", "--dtdvalid", RA_API_DTD, "-"])
        .stdin(xml.as_bytes().to_vec())
        .timeout(Duration::from_secs(30))
        .run();
    match out {
        Err(umha_common::ExecError::NotFound { .. }) => None,
        Err(e) => Some(Err(e.to_string())),
        Ok(o) if o.success() => Some(Ok(())),
        Ok(o) => Some(Err(String::from_utf8_lossy(&o.stderr).into_owned())),
    }
}
