//! The operator's writes: the valve's hold, and putting a repaired host
//! back into service. Each goes through the same names and CIB calls as the
//! evacuator, so the agent sees exactly what it would have written itself.

use cib::attr;
use umha_common::Deadline;
use umha_evacuator::cluster::Pacemaker;
use umha_evacuator::config::Config;
use umha_evacuator::record;

use crate::CliError;

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

/// Back into service after repair, through the evacuator's own
/// [`umha_evacuator::maintenance::end_maintenance`]: refused while an
/// evacuation is owed for the node; un-force-down, wait for the service to
/// be up, enable it, and only then delete `umha-maintenance`.
pub fn host_enable(
    config: &Config,
    node: &str,
    deadline: Deadline,
) -> Result<Vec<String>, CliError> {
    if node.trim().is_empty() {
        return Err(CliError::Invalid("no node given".to_owned()));
    }
    let end = umha_evacuator::maintenance::end_maintenance(&Pacemaker, config, node, deadline)
        .map_err(|e| CliError::Refused(e.to_string()))?;
    let mut lines = end.steps;
    if let Some(why) = end.waiting {
        lines.push(format!(
            "not finished: {why}; run `umha host enable {node}` again"
        ));
    }
    Ok(lines)
}
