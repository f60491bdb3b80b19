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
pub(crate) fn run_all<'r, 'h: 'r>(
    hooks: impl IntoIterator<Item = &'r mut (dyn AfterOffHook + 'h)>,
    event: &FenceEvent<'_>,
    overall: Deadline,
) {
    for hook in hooks {
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

/// The attribute [`EvacuationMarker`] writes unless `evacuate_attribute` says otherwise.
pub const EVACUATION_ATTRIBUTE: &str = "umha-evacuate";

/// How the marker reaches the CIB: `(node, attribute, value, deadline)`.
/// Injectable so that the runner's tests need no cluster.
pub type AttributeWriter<'a> =
    Box<dyn FnMut(&str, &str, &str, Deadline) -> Result<(), HookError> + 'a>;

/// The writer agents use: a persistent attribute through `crm_attribute`
/// (nodes section, so it survives the node's reboot and the evacuator sees
/// it whichever controller runs it).
pub fn cib_writer<'a>() -> AttributeWriter<'a> {
    Box::new(|node, name, value, deadline| {
        cib::attr::set_persistent(node, name, value, deadline).map_err(HookError::from)
    })
}

/// The fencing half of evacuation (`evacuate=1`): once power-off has been
/// read back, record `<attribute>=<epoch of the verified off>` on the fenced
/// node, so umha's evacuator knows the node cannot touch its instances'
/// disks any more. The evacuator also reads Pacemaker's fencing history, so
/// a lost marker delays nothing that the history does not cover; that is
/// why a failure is only logged (by the runner).
///
/// The node is the one Pacemaker names (`nodename=`). Without it (a manual
/// run), nothing is written: a plug or an address is not a node name, and a
/// marker on the wrong node would evacuate a running host.
pub struct EvacuationMarker<'a> {
    attribute: String,
    writer: AttributeWriter<'a>,
}

impl<'a> EvacuationMarker<'a> {
    /// A marker written with [`cib_writer`].
    pub fn new(attribute: impl Into<String>) -> Self {
        Self::with_writer(attribute, cib_writer())
    }

    pub fn with_writer(attribute: impl Into<String>, writer: AttributeWriter<'a>) -> Self {
        Self {
            attribute: attribute.into(),
            writer,
        }
    }

    pub fn attribute(&self) -> &str {
        &self.attribute
    }
}

impl std::fmt::Debug for EvacuationMarker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvacuationMarker")
            .field("attribute", &self.attribute)
            .finish_non_exhaustive()
    }
}

impl AfterOffHook for EvacuationMarker<'_> {
    fn name(&self) -> &str {
        "evacuation marker"
    }

    fn run(&mut self, event: &FenceEvent<'_>, deadline: Deadline) -> Result<(), HookError> {
        let Some(node) = event.nodename.filter(|n| !n.trim().is_empty()) else {
            log::warn!(
                "evacuate is set but no nodename was given (not run by pacemaker-fenced?): \
                 no {} marker written; the evacuator relies on the fencing history alone",
                self.attribute
            );
            return Ok(());
        };
        let value = event.off_epoch().to_string();
        (self.writer)(node, &self.attribute, &value, deadline)?;
        log::info!("recorded {}={value} on node {node}", self.attribute);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::Duration;

    use super::*;

    fn event(nodename: Option<&str>) -> FenceEvent<'_> {
        FenceEvent {
            action: Action::Off,
            nodename,
            plugs: &[],
            off_at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_900),
            reported_off_at_start: false,
        }
    }

    fn marker(fail: bool) -> (EvacuationMarker<'static>, Rc<RefCell<Vec<String>>>) {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let log = seen.clone();
        let writer: AttributeWriter<'static> = Box::new(move |node, name, value, _deadline| {
            log.borrow_mut().push(format!("{node} {name}={value}"));
            if fail {
                Err("crm_attribute: Could not connect to the CIB".into())
            } else {
                Ok(())
            }
        });
        (EvacuationMarker::with_writer("umha-evacuate", writer), seen)
    }

    #[test]
    fn marker_records_the_epoch_of_the_verified_off_on_the_node() {
        let (mut hook, seen) = marker(false);
        hook.run(&event(Some("cmp1")), Deadline::never()).unwrap();
        assert_eq!(seen.borrow().as_slice(), ["cmp1 umha-evacuate=1700000000"]);
    }

    #[test]
    fn marker_without_a_node_name_writes_nothing() {
        let (mut hook, seen) = marker(false);
        hook.run(&event(None), Deadline::never()).unwrap();
        hook.run(&event(Some(" ")), Deadline::never()).unwrap();
        assert!(seen.borrow().is_empty());
    }

    #[test]
    fn marker_write_failure_is_reported_to_the_runner() {
        let (mut hook, seen) = marker(true);
        let err = hook
            .run(&event(Some("cmp1")), Deadline::never())
            .unwrap_err();
        assert!(err.to_string().contains("Could not connect"), "{err}");
        assert_eq!(seen.borrow().len(), 1);
        // run_all logs it and carries on.
        let mut hooks: Vec<Box<dyn AfterOffHook>> = vec![Box::new(hook)];
        run_all(
            hooks.iter_mut().map(|h| &mut **h),
            &event(Some("cmp1")),
            Deadline::never(),
        );
        assert_eq!(seen.borrow().len(), 2);
    }

    /// The real writer's command line is shown end to end, with a stand-in
    /// `crm_attribute`, by fence_umha_dummy's tests; here only that its
    /// refusals come back as errors.
    #[test]
    fn cib_writer_reports_errors() {
        let mut write = cib_writer();
        assert!(write("", "umha-evacuate", "1", Deadline::never()).is_err());
    }
}
