//! A failed host stays under maintenance until the operator says it is
//! repaired (Masakari's `on_maintenance`).
//!
//! With `on_recovery=manual` (also the default, `on_recovery` unset, in
//! segments whose recovery method uses reserved hosts: see
//! [`crate::config::Config::on_recovery_for`]), an incident that closes
//! leaves the node's nova-compute forced down and disabled, and the
//! persistent node attribute [`MAINTENANCE`] (`<epoch> <reason>`), which
//! `crm_mon -A` and `umha status` show. [`end_maintenance`] is the way back (`umha host enable
//! NODE`): in the order Nova needs (see [`openstack::service`]), un-force
//! the service, wait until Nova counts it up, enable it, and only then
//! delete the attribute, so an interrupted or refused return leaves the
//! node visibly under maintenance and can simply be run again.

use std::time::Duration;

use openstack::{Compute, ComputeOptions, Service};
use thiserror::Error;
use umha_common::Deadline;

use crate::cluster::Cluster;
use crate::config::Config;
use crate::plan::Write;
pub use crate::recovery::MAINTENANCE;
use crate::recovery::RESERVED_REASON;

#[derive(Debug, Error)]
pub enum MaintenanceError {
    #[error("{node} still carries the evacuation marker {marker}: its evacuation is not finished")]
    EvacuationOpen { node: String, marker: String },
    #[error("{node}: {reason}")]
    Host { node: String, reason: String },
    #[error("Nova: {0}")]
    Nova(#[from] openstack::Error),
    #[error("CIB: {0}")]
    Cib(#[from] cib::CibError),
}

/// What [`end_maintenance`] did, one line per change, and whether it is
/// finished (the attribute deleted) or waiting for something.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintenanceEnd {
    pub steps: Vec<String>,
    /// Why it is not finished (run it again later); `None`: done.
    pub waiting: Option<String>,
}

/// How often Nova is asked whether the service is up again.
const POLL: Duration = Duration::from_secs(1);
/// How long to wait for it: a nova-compute that runs reports within its
/// `report_interval` (10 s by default); one that does not never will.
const UP_WAIT: Duration = Duration::from_secs(30);

/// Put `node` back into service: un-force its nova-compute, wait (until
/// `deadline`, 30 s at most) for Nova to count it up, enable it, then delete
/// [`MAINTENANCE`]. Refused while the node's evacuation marker is set: its
/// instances may be being rebuilt elsewhere right now. A service disabled
/// as an idle reserved host while the node is still flagged reserved stays
/// disabled (the reserve is kept, see [`crate::reserve`]); any other reason
/// is the operator's, and asking for this is asking to enable it.
pub fn end_maintenance<C: Cluster>(
    cluster: &C,
    config: &Config,
    node: &str,
    deadline: Deadline,
) -> Result<MaintenanceEnd, MaintenanceError> {
    let now = crate::nova::now();
    let snapshot = cluster.snapshot(config, now, deadline)?;
    let known = snapshot.nodes.iter().find(|n| n.name == node);
    if let Some(marker) = known.and_then(|n| n.marker.clone()) {
        return Err(MaintenanceError::EvacuationOpen {
            node: node.to_owned(),
            marker: format!("{}={marker}", config.marker),
        });
    }
    let reserved = known.is_some_and(|n| n.recovery.reserved);
    let session = crate::agent::session(config)?;
    let compute = Compute::connect(session, ComputeOptions::default(), deadline)?;
    let services = compute.compute_services(None, deadline)?;
    let hosts: Vec<&str> = services.iter().map(|s| s.host.as_str()).collect();
    let host = config
        .host_map
        .resolve(node, &hosts)
        .map_err(|e| MaintenanceError::Host {
            node: node.to_owned(),
            reason: e.to_string(),
        })?
        .to_owned();
    let mut done = MaintenanceEnd::default();
    let mut service = compute.compute_service(&host, deadline)?;
    if service.forced_down {
        match compute.unforce_down(&service, deadline) {
            Ok(()) => done
                .steps
                .push(format!("nova-compute on {host}: forced_down cleared")),
            Err(openstack::Error::EvacuationsNotCompleted { .. }) => {
                done.waiting = Some(format!(
                    "Nova still has evacuations from {host} to complete: they complete once nova-compute runs on {host} again"
                ));
                return Ok(done);
            }
            Err(e) => return Err(e.into()),
        }
    }
    match wait_up(&compute, &host, deadline.min(Deadline::after(UP_WAIT)))? {
        Some(up) => service = up,
        None => {
            done.waiting = Some(format!(
                "nova-compute on {host} does not report up: start it, then run this again"
            ));
            return Ok(done);
        }
    }
    let reserve = service
        .disabled_reason
        .as_deref()
        .is_some_and(|r| r.starts_with(RESERVED_REASON));
    if service.is_disabled() && reserve && reserved {
        done.steps.push(format!(
            "nova-compute on {host} left disabled: {node} is a reserved host ({})",
            config.recovery.reserved_attribute
        ));
    } else if service.is_disabled() {
        compute.enable(&service, deadline)?;
        done.steps.push(format!("nova-compute on {host}: enabled"));
    }
    cluster.apply(
        config,
        &Write::ClearMaintenance {
            node: node.to_owned(),
        },
        deadline,
    )?;
    done.steps.push(format!("{MAINTENANCE} cleared on {node}"));
    Ok(done)
}

/// The service once Nova counts it up, or `None` at the deadline.
fn wait_up(
    compute: &Compute,
    host: &str,
    deadline: Deadline,
) -> Result<Option<Service>, openstack::Error> {
    loop {
        let service = compute.compute_service(host, deadline)?;
        if service.is_up() {
            return Ok(Some(service));
        }
        if !deadline.sleep(POLL) || deadline.expired() {
            return Ok(None);
        }
    }
}
