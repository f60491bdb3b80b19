//! What an agent declares: who it is, its options, and how to reach its device.
//!
//! As with fence-agents' library, an agent is only a description plus power
//! callbacks; parsing, validation, metadata, timing, verification and exit
//! codes are the core's, so every umha agent behaves the same under Pacemaker.

use umha_common::Deadline;

use crate::device::{DeviceError, PowerDevice};
use crate::hook::AfterOffHook;
use crate::options::Options;
use crate::spec::OptionTable;

/// How the device relates to the machines it fences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlugMode {
    /// One device, one machine (a BMC). `plug` is only an alias of the address
    /// with `port_as_ip`, as in fence_ipmilan; Pacemaker still sends it.
    Single,
    /// One device, many machines (a PDU, MAAS); `plug` names the target and is
    /// required for the power actions.
    Multiple,
}

/// What the device can do beyond status and on/off. Static, because the
/// metadata (which Pacemaker reads to decide whether to call `list`) is
/// printed without a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// [`PowerDevice::list`] works: `list`/`list-status` are advertised
    /// (multi-plug devices only; a single-target device has nothing to list).
    pub list: bool,
    /// [`PowerDevice::power_cycle`] works: `method=cycle` is offered.
    pub cycle: bool,
    /// [`PowerDevice::diag`] works: the `diag` action is offered.
    pub diag: bool,
    /// Opt-out of the core's fencing policy, for a device that cannot take a
    /// power off while the target is already off (it refuses it, or worse,
    /// toggles the power back on). Leave it false: IPMI, MAAS and PDUs
    /// accept a redundant off.
    ///
    /// By default, during `off` and `reboot`, an OFF the device reports
    /// before this run has requested power off is not believed: power off is
    /// sent anyway, then read back. With this set, that first OFF ends the
    /// fencing at once ("Success: Already OFF") on the device's word alone,
    /// and a device that says off while the target still runs (stale state
    /// after a controller reset, a firmware bug) turns into a false fencing
    /// success: two hosts writing to one disk.
    pub redundant_off_unsafe: bool,
}

/// Who the agent is, for the metadata, `--help`, `--version` and the man page.
///
/// Build it as `AgentInfo { plugs: ..., ..AgentInfo::new(name, shortdesc) }`
/// so that fields added later keep their defaults.
#[derive(Debug, Clone)]
pub struct AgentInfo {
    /// The program name: `fence_ipmi`.
    pub name: &'static str,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
    pub vendor_url: &'static str,
    pub version: &'static str,
    /// Other names the binary is installed under, with their shortdesc.
    pub symlinks: &'static [(&'static str, &'static str)],
    pub plugs: PlugMode,
    pub capabilities: Capabilities,
}

impl AgentInfo {
    /// A single-target agent with no optional capability; adjust with struct
    /// update syntax.
    pub const fn new(name: &'static str, shortdesc: &'static str) -> Self {
        Self {
            name,
            shortdesc,
            longdesc: "",
            vendor_url: "",
            version: env!("CARGO_PKG_VERSION"),
            symlinks: &[],
            plugs: PlugMode::Single,
            capabilities: Capabilities {
                list: false,
                cycle: false,
                diag: false,
                redundant_off_unsafe: false,
            },
        }
    }
}

/// A fence agent: implement this and call [`crate::run`] from `main`.
pub trait Agent {
    /// The session with the device that the power callbacks run on.
    type Device: PowerDevice;

    fn info() -> AgentInfo;

    /// Add the agent's options to `table`, which already holds the common ones
    /// ([`OptionTable::common`]). Pick device options from
    /// [`crate::spec::common`] (`ip`, `username`, `password`, ...), add your
    /// own, and adjust defaults (`table.set_default("power_wait", "2")`).
    fn options(table: &mut OptionTable);

    /// Agent-specific checks of the option values; no network, no device.
    /// Runs for validate-all and before every device action. Return a message
    /// for the operator (never containing a secret).
    fn validate(_options: &Options) -> Result<(), String> {
        Ok(())
    }

    /// Open a session with the device within `deadline` (bounded by
    /// `login_timeout`). The password, if any, is already in
    /// [`Options::password`], `password_script` having been run. The runner may
    /// call this again after a transient error, to reconnect.
    fn connect(options: &Options, deadline: Deadline) -> Result<Self::Device, DeviceError>;

    /// Hooks to run once power-off has been read back (see [`crate::hook`]).
    fn after_off_hooks(_options: &Options) -> Vec<Box<dyn AfterOffHook>> {
        Vec::new()
    }
}
