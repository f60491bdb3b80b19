//! The operator's writes: the valve's hold, and putting a repaired host
//! back into service. Each goes through the same names and CIB calls as the
//! evacuator, so the agent sees exactly what it would have written itself.

use cib::attr;
use openstack::{Compute, ComputeOptions};
use umha_common::Deadline;
use umha_evacuator::config::Config;
use umha_evacuator::record;

use crate::CliError;
use crate::context::State;
use crate::status::MAINTENANCE_ATTRIBUTE;

/// Hold the valve: the evacuator starts no evacuation until released.
pub fn hold(reason: &str, deadline: Deadline) -> Result<(), CliError> {
    let text = if reason.trim().is_empty() {
        "held by the operator (umha hold)".to_owned()
    } else {
        format!("held by the operator: {}", reason.trim())
    };
    attr::set_property(record::HOLD_SET, record::HOLD, &text, deadline)
        .map_err(|e| CliError::cib("setting the hold", e))
}

/// Release the hold; held nodes are evacuated at the evacuator's next step.
pub fn release(deadline: Deadline) -> Result<(), CliError> {
    attr::delete_property(record::HOLD_SET, record::HOLD, deadline)
        .map_err(|e| CliError::cib("deleting the hold", e))
}

/// What `umha host enable` did, for the operator.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Enabled {
    pub steps: Vec<String>,
}

/// Why a host may not be put back yet: an evacuation is still owed for it
/// (its instances may be being rebuilt elsewhere right now), or it is not
/// a node of this cluster.
pub fn check_enable(state: &State, config: &Config, node: &str) -> Result<(), CliError> {
    let Some(n) = state.cib.node(node) else {
        return Err(CliError::Refused(format!(
            "{node} is not a node of this cluster"
        )));
    };
    if let Some(marker) = n
        .persistent_attribute(&config.marker)
        .filter(|m| !m.is_empty())
    {
        return Err(CliError::Refused(format!(
            "{node} still carries the evacuation marker ({}={marker}): its evacuation is not finished; \
             see `umha status`, or use --force if you know it is safe",
            config.marker
        )));
    }
    Ok(())
}

/// Back into service after repair: clear the maintenance attribute, then
/// un-force-down and enable the node's nova-compute.
pub fn host_enable(config: &Config, node: &str, deadline: Deadline) -> Result<Enabled, CliError> {
    let mut done = Enabled::default();
    attr::delete_persistent(node, MAINTENANCE_ATTRIBUTE, deadline)
        .map_err(|e| CliError::cib(format!("clearing {MAINTENANCE_ATTRIBUTE} on {node}"), e))?;
    done.steps
        .push(format!("{MAINTENANCE_ATTRIBUTE} cleared on {node}"));
    let session = umha_evacuator::agent::session(config)?;
    let compute = Compute::connect(session, ComputeOptions::default(), deadline)?;
    let services = compute.compute_services(None, deadline)?;
    let hosts: Vec<&str> = services.iter().map(|s| s.host.as_str()).collect();
    let host = config
        .host_map
        .resolve(node, &hosts)
        .map_err(|e| CliError::Invalid(format!("{node}: {e}")))?
        .to_owned();
    let service = compute.compute_service(&host, deadline)?;
    if service.forced_down {
        compute.unforce_down(&service, deadline)?;
        done.steps
            .push(format!("nova-compute on {host}: forced_down cleared"));
    }
    if service.is_disabled() {
        compute.enable(&service, deadline)?;
        done.steps.push(format!("nova-compute on {host}: enabled"));
    }
    if done.steps.len() == 1 {
        done.steps.push(format!(
            "nova-compute on {host} was already up to Nova's knowledge and enabled"
        ));
    }
    Ok(done)
}
