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

use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

use crate::{Action, AgentSpec, Env, OcfStatus, Outcome, ResourceAgent, execute};

/// The OCF 1.0 DTD that resource-agents installs and ocf-tester validates against.
pub const RA_API_DTD: &str = "/usr/share/resource-agents/ra-api-1.dtd";

/// resource-agents' ocf-tester, used when PATH lacks /usr/sbin.
pub const OCF_TESTER: &str = "/usr/sbin/ocf-tester";

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

/// Run resource-agents' `ocf-tester` on the `agent` binary as resource
/// `name`, each of `params` (`name=value`) as an `-o`, bounded to 120 s.
/// The agent logs only to a file (`HA_LOGFACILITY=none`; pass `HA_LOGFILE`
/// and a private `HA_RSCTMP` in `env`), without `HA_debug`.
///
/// `None` (after a `SKIPPED:` line) when ocf-tester is not installed;
/// otherwise its output, `Err` unless it passed all tests.
pub fn ocf_tester(
    agent: &str,
    name: &str,
    params: &[&str],
    env: &[(&str, &OsStr)],
) -> Option<Result<String, String>> {
    let tester = if Path::new(OCF_TESTER).exists() {
        OCF_TESTER
    } else {
        "ocf-tester"
    };
    let mut args = vec!["-n", name];
    for p in params {
        args.extend(["-o", p]);
    }
    args.push(agent);
    let mut cmd = umha_common::Command::new(tester)
        .args(&args)
        .env("HA_LOGFACILITY", "none")
        .env("OCF_ROOT", "/usr/lib/ocf")
        .env_remove("HA_debug")
        .timeout(Duration::from_secs(120));
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let out = match cmd.run() {
        Err(umha_common::ExecError::NotFound { .. }) => {
            println!("SKIPPED: ocf-tester is not installed (package resource-agents)");
            return None;
        }
        Err(e) => return Some(Err(format!("ocf-tester: {e}"))),
        Ok(out) => out,
    };
    let text = format!(
        "{}{}",
        out.stdout_lossy(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(if !out.success() {
        Err(format!("ocf-tester failed ({}):\n{text}", out.code()))
    } else if !text.contains("passed all tests") {
        Err(format!("ocf-tester did not pass all tests:\n{text}"))
    } else {
        Ok(text)
    })
}
