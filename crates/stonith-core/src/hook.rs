//! The extension point after a verified power-off.
//!
//! Once the runner has read back that the target is off, the target can no
//! longer write to shared storage or run its instances; that is the moment to
//! record facts others act on (umha records an evacuation marker,
//! `umha-evacuate=<epoch>`, so its evacuation controller may rebuild the
//! node's instances elsewhere). Hooks run before any power-on of a reboot,
//! so they never observe a node that is already coming back.
//!
//! A hook failure is logged and never fails the fencing: the node is off
//! either way, and Pacemaker must be told so.

use std::time::{Duration, SystemTime};

use umha_common::Deadline;

use crate::action::Action;

/// The longest a hook may take, on top of the overall deadline. Hooks record
/// facts; anything slower belongs to the daemon that acts on them.
pub const HOOK_BUDGET: Duration = Duration::from_secs(5);

/// What the hooks learn about the fencing they follow.
#[derive(Debug, Clone)]
pub struct FenceEvent<'a> {
    /// `off` or `reboot`.
    pub action: Action,
    /// The node Pacemaker fences (`nodename=`), if it said.
    pub nodename: Option<&'a str>,
    /// The plugs switched off (empty on a single-target device).
    pub plugs: &'a [String],
    /// When the power was read back as off.
    pub off_at: SystemTime,
    /// The device's first reading, before this run requested power off, said
    /// off: the target was probably down already (crashed, or powered off by
    /// an earlier attempt). Only the device's word, so it changes nothing
    /// about the fencing: power off was still requested and read back (see
    /// [`crate::Capabilities::redundant_off_unsafe`] for the one exception,
    /// where nothing was switched).
    pub reported_off_at_start: bool,
}

impl FenceEvent<'_> {
    /// Seconds since the epoch of [`FenceEvent::off_at`], as the marker records it.
    pub fn off_epoch(&self) -> u64 {
        self.off_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// The error a hook reports; logged, never fatal.
pub type HookError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Something to do right after power-off has been verified.
pub trait AfterOffHook: std::fmt::Debug {
    /// A short name for the log.
    fn name(&self) -> &str;

    /// Do it within `deadline` (at most [`HOOK_BUDGET`] from now).
    fn run(&mut self, event: &FenceEvent<'_>, deadline: Deadline) -> Result<(), HookError>;
}

/// Run every hook in order; failures are logged and do not stop the others.
pub(crate) fn run_all(
    hooks: &mut [Box<dyn AfterOffHook + '_>],
    event: &FenceEvent<'_>,
    overall: Deadline,
) {
    for hook in hooks.iter_mut() {
        let deadline = overall.min(Deadline::after(HOOK_BUDGET));
        match hook.run(event, deadline) {
            Ok(()) => log::debug!("after-off hook {} done", hook.name()),
            Err(err) => log::error!(
                "after-off hook {} failed (fencing still succeeded): {err}",
                hook.name()
            ),
        }
    }
}
