//! The evacuator's view of and writes to Pacemaker, behind a trait so that
//! the whole step can be tested without a cluster.

use std::time::Duration;

use cib::{Cib, CibError, FenceHistory, attr};
use umha_common::Deadline;

use crate::config::Config;
use crate::plan::{Snapshot, Write};
use crate::{record, recovery, storage};

pub trait Cluster: std::fmt::Debug {
    /// The compute nodes, quorum and hold, plus the fence history when the
    /// snapshot needs it.
    fn snapshot(&self, config: &Config, now: i64, deadline: Deadline)
    -> Result<Snapshot, CibError>;
    fn apply(&self, config: &Config, write: &Write, deadline: Deadline) -> Result<(), CibError>;
    /// The CIB's version and quorum, cheaply (see [`cib::CibVersion::query`]).
    fn version(&self, deadline: Deadline) -> Result<(cib::CibVersion, bool), CibError>;
    /// Ask Pacemaker to fence (power off) `node`, the fencing operation
    /// taking at most `timeout`, and return without waiting for the fence:
    /// its outcome shows in the fence history and the marker. `Err` only
    /// for a request refused at once. Clusters that cannot fence refuse.
    fn request_fence(
        &self,
        node: &str,
        timeout: Duration,
        deadline: Deadline,
    ) -> Result<(), CibError> {
        let _ = (timeout, deadline);
        Err(CibError::InvalidInput {
            what: "fence request",
            detail: format!("this cluster cannot fence {node}"),
        })
    }
}

/// The real cluster: `cibadmin --query` and `stonith_admin --history`, and
/// `crm_attribute` for writes (only on change, so a quiet step forks once).
#[derive(Debug, Default, Clone, Copy)]
pub struct Pacemaker;

/// Each write gets at most this long; a CIB that takes longer is in trouble
/// and the next step will try again.
const WRITE_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a fence request is watched for an immediate refusal (no device
/// for the node, no fencer) before it is left to run in the background.
const FENCE_REQUEST_WAIT: Duration = Duration::from_secs(2);

impl Cluster for Pacemaker {
    fn snapshot(
        &self,
        config: &Config,
        now: i64,
        deadline: Deadline,
    ) -> Result<Snapshot, CibError> {
        let cib = Cib::query_with_deadline(deadline)?;
        let mut snapshot = Snapshot::from_cib(&cib, &config.selector, &config.marker, now)
            .with_storage(&cib, &config.storage.attribute)
            .with_recovery(&cib, &config.recovery);
        if snapshot.needs_history() {
            snapshot.history = Some(FenceHistory::query_with_deadline(deadline)?);
        }
        Ok(snapshot)
    }

    fn version(&self, deadline: Deadline) -> Result<(cib::CibVersion, bool), CibError> {
        cib::CibVersion::query(deadline)
    }

    /// `stonith_admin --fence` in the background (see [`cib::request_fence`]),
    /// watched for [`FENCE_REQUEST_WAIT`] to catch an immediate refusal.
    fn request_fence(
        &self,
        node: &str,
        timeout: Duration,
        deadline: Deadline,
    ) -> Result<(), CibError> {
        let wait = deadline
            .remaining()
            .map_or(FENCE_REQUEST_WAIT, |left| left.min(FENCE_REQUEST_WAIT));
        match cib::request_fence(node, &cib::FenceAction::Off, timeout, wait)? {
            cib::FenceRequested::Done => log::info!("{node}: fenced (stonith_admin --fence)"),
            cib::FenceRequested::InProgress => {
                log::info!("{node}: fence requested (stonith_admin --fence, in the background)")
            }
        }
        Ok(())
    }

    fn apply(&self, config: &Config, write: &Write, deadline: Deadline) -> Result<(), CibError> {
        let deadline = deadline.min(Deadline::after(WRITE_TIMEOUT));
        match write {
            Write::SetMarker { node, fence } => {
                attr::set_persistent(node, &config.marker, &fence.to_string(), deadline)
            }
            Write::ClearMarker { node } => attr::delete_persistent(node, &config.marker, deadline),
            Write::SetHandled { node, fence } => {
                attr::set_persistent(node, record::HANDLED, &fence.to_string(), deadline)
            }
            Write::SetRecord { node, record: r } => {
                attr::set_persistent(node, record::STATE, &r.to_string(), deadline)
            }
            Write::SetStatus { node, text } => {
                attr::set_persistent(node, record::STATUS, text, deadline)
            }
            Write::SetHold { text } => {
                attr::set_property(record::HOLD_SET, record::HOLD, text, deadline)
            }
            Write::SetFenceRequest { node, at } => {
                attr::set_persistent(node, storage::FENCE_REQUEST, &at.to_string(), deadline)
            }
            Write::SetStorageStatus { node, text } => {
                attr::set_persistent(node, storage::STATUS, text, deadline)
            }
            Write::ClearStorage { node } => {
                attr::delete_persistent(node, storage::FENCE_REQUEST, deadline)?;
                attr::delete_persistent(node, storage::STATUS, deadline)
            }
            Write::ClearReserved { node } => {
                attr::delete_persistent(node, &config.recovery.reserved_attribute, deadline)?;
                attr::delete_persistent(node, recovery::RESERVE_KEPT, deadline)
            }
            Write::SetReserveKept { node, text } => {
                attr::set_persistent(node, recovery::RESERVE_KEPT, text, deadline)
            }
            Write::ClearReserveKept { node } => {
                attr::delete_persistent(node, recovery::RESERVE_KEPT, deadline)
            }
            Write::SetMaintenance { node, text } => {
                attr::set_persistent(node, recovery::MAINTENANCE, text, deadline)
            }
            Write::ClearMaintenance { node } => {
                attr::delete_persistent(node, recovery::MAINTENANCE, deadline)
            }
        }
    }
}

/// An in-memory cluster for tests: a snapshot that the step's writes
/// change, and a log of those writes.
#[derive(Debug)]
pub struct Memory {
    pub state: std::sync::Mutex<Snapshot>,
    pub writes: std::sync::Mutex<Vec<Write>>,
    /// Nodes whose fence was requested, in order.
    pub fence_requests: std::sync::Mutex<Vec<String>>,
}

impl Memory {
    pub fn new(snapshot: Snapshot) -> Self {
        Self {
            state: std::sync::Mutex::new(snapshot),
            writes: std::sync::Mutex::new(Vec::new()),
            fence_requests: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot_now(&self) -> Snapshot {
        Self::lock(&self.state).clone()
    }

    pub fn update(&self, f: impl FnOnce(&mut Snapshot)) {
        f(&mut Self::lock(&self.state));
    }

    pub fn written(&self) -> Vec<Write> {
        Self::lock(&self.writes).clone()
    }

    /// The nodes whose fence was requested so far.
    pub fn fenced(&self) -> Vec<String> {
        Self::lock(&self.fence_requests).clone()
    }
}

impl Cluster for Memory {
    fn version(&self, _deadline: Deadline) -> Result<(cib::CibVersion, bool), CibError> {
        let s = Self::lock(&self.state);
        Ok((s.version, s.quorum))
    }

    /// Recorded only: the test decides what the fence does.
    fn request_fence(
        &self,
        node: &str,
        _timeout: Duration,
        _deadline: Deadline,
    ) -> Result<(), CibError> {
        Self::lock(&self.fence_requests).push(node.to_owned());
        Ok(())
    }

    fn snapshot(
        &self,
        _config: &Config,
        now: i64,
        _deadline: Deadline,
    ) -> Result<Snapshot, CibError> {
        let mut s = self.snapshot_now();
        s.now = now;
        Ok(s)
    }

    fn apply(&self, _config: &Config, write: &Write, _deadline: Deadline) -> Result<(), CibError> {
        Self::lock(&self.writes).push(write.clone());
        Self::lock(&self.state).apply(write);
        Ok(())
    }
}
