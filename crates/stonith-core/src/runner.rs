//! The action flow: what `on`, `off`, `reboot`, `status`, `monitor`, `list`
//! and `diag` do with a device, and which exit code they end with.
//!
//! The rules, after fence-agents' `fence_action()` and FenceAgentAPI:
//! - `off` succeeds only once every plug has been **read back** as off
//!   after this run requested power off. After the request: wait
//!   `power_wait`, then read back every `stonith_status_sleep` until
//!   `power_timeout`; a timeout is a failure.
//! - While fencing (`off`, `reboot`), an OFF the device reports **before**
//!   this run has requested power off is not believed: a device that says off
//!   while the node still runs (stale state after a controller reset, a
//!   firmware hiccup) would otherwise end the fencing at once with two hosts
//!   writing to one disk. Power off is sent anyway (harmless on a machine
//!   that is off, for IPMI, MAAS and PDUs) and read back as above; a target
//!   that really was off costs one request and `power_wait`. fence-agents
//!   instead reports "Already OFF" without a request; an agent whose device
//!   cannot take a redundant off may opt back into that, at that risk
//!   ([`Capabilities::redundant_off_unsafe`]).
//! - `on`: the same towards on, with `1 + retry_on` attempts.
//! - `reboot`, method onoff: off as above (a failure is exit 1), then the
//!   after-off hooks, then on with `retry_on` attempts (fence-agents' count:
//!   `retry_on=0` leaves the node off); a failing on part is logged and the
//!   reboot still succeeds, because the node was fenced.
//! - `reboot`, method cycle: the device's own cycle; success needs off to be
//!   **observed** during the cycle, polled every [`CYCLE_POLL_INTERVAL`] (not
//!   after `power_wait`, which would miss it) within `power_timeout`;
//!   fence-agents only checks that the cycle command was accepted. Then the
//!   hooks run and the runner waits, within what is left, for on (logged,
//!   never a failure). A target whose first reading is off is not cycled
//!   (a cycle of an off chassis may be refused, and the reading is not
//!   believed): it gets an explicit off, read back, then on, as with onoff.
//!   A device that turns out not to support cycling is rebooted with onoff.
//! - `status`: 0 on, 2 off, 1 unknown or unreachable. With several plugs the
//!   target is on when any plug is on, as in fence-agents.
//! - `monitor`: 0 when the device answers (`list` on a multi-plug device that
//!   can list, `status` otherwise), else 1.
//! - `delay` is slept before connecting, for `off` and `reboot` only.
//! - Device errors: transient ones (no answer, garbage) drop the session and
//!   are retried, with a new connection, until the deadline or the wait ends;
//!   the others (login refused, unsupported, no such plug) end the operation.
//!   A failed connection before anything was switched ends it at once: a dead
//!   device fails after `login_timeout`, not after `power_timeout`.
//!
//! [`CYCLE_POLL_INTERVAL`]: crate::timing::CYCLE_POLL_INTERVAL

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use umha_common::Deadline;

use crate::action::Action;
use crate::agent::{AgentInfo, Capabilities, PlugMode};
use crate::device::{DeviceError, PowerDevice, PowerState};
use crate::hook::{self, AfterOffHook, AttributeWriter, EvacuationMarker, FenceEvent};
use crate::options::Options;
use crate::timing::{Method, Timing};

/// How a run ended, as an exit code Pacemaker understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 2: `status` found the target off.
    StatusOff,
    /// Exit 1: every failure, as in fence-agents (bad arguments, login
    /// refused, timeouts, unknown state).
    Failed,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::StatusOff => 2,
            Outcome::Failed => 1,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(outcome.exit_code())
    }
}

/// Why an action failed; logged as the agent's last word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Device(#[from] DeviceError),
    #[error("Failed: Timed out waiting to power OFF")]
    TimedOutOff,
    #[error("Failed: Timed out waiting to power ON")]
    TimedOutOn,
    #[error(
        "Failed: power OFF was never observed during the power cycle; the reboot is not confirmed"
    )]
    CycleNotObservedOff,
    #[error("Failed: Unable to obtain correct plug status or plug is not available")]
    StatusUnknown,
    #[error("Failed: cannot write the output: {0}")]
    Output(String),
}

/// What the runner needs to know, resolved from the options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub action: Action,
    pub method: Method,
    /// The plugs to act on; empty on a single-target device.
    pub plugs: Vec<String>,
    pub timing: Timing,
    /// Between the fields of list lines.
    pub separator: String,
    pub nodename: Option<String>,
    /// The attribute of the evacuation marker when `evacuate` is set (see
    /// [`EvacuationMarker`]); `None` writes no marker.
    pub evacuate: Option<String>,
    pub plug_mode: PlugMode,
    pub capabilities: Capabilities,
}

impl Plan {
    /// The plan for `action` from checked options.
    pub fn new(action: Action, options: &Options, info: &AgentInfo) -> Self {
        Self {
            action,
            method: options.method(),
            plugs: options.plugs(),
            timing: options.timing(),
            separator: options.separator().to_owned(),
            nodename: options.nodename().map(str::to_owned),
            evacuate: options.evacuation_attribute().map(str::to_owned),
            plug_mode: info.plugs,
            capabilities: info.capabilities,
        }
    }

    /// A plan with fence-agents' default timing, for tests and tools.
    pub fn simple(action: Action, plug_mode: PlugMode, capabilities: Capabilities) -> Self {
        Self {
            action,
            method: Method::OnOff,
            plugs: Vec::new(),
            timing: Timing::default(),
            separator: ",".to_owned(),
            nodename: None,
            evacuate: None,
            plug_mode,
            capabilities,
        }
    }

    /// The overall budget of this run (see [`crate::timing`]).
    pub fn budget(&self) -> Duration {
        self.timing.budget(self.action, self.method)
    }
}

/// A device session that reconnects after transient errors.
struct Session<D, C> {
    device: Option<D>,
    connect: C,
    login_timeout: Duration,
    shell_timeout: Duration,
}

impl<D, C> Session<D, C>
where
    D: PowerDevice,
    C: FnMut(Deadline) -> Result<D, DeviceError>,
{
    fn device(&mut self, overall: Deadline) -> Result<&mut D, DeviceError> {
        let device = match self.device.take() {
            Some(device) => device,
            None => {
                if overall.expired() {
                    return Err(DeviceError::Timeout("no time left to connect".into()));
                }
                let deadline = overall.min(Deadline::after(self.login_timeout));
                (self.connect)(deadline)?
            }
        };
        Ok(self.device.insert(device))
    }

    /// One request, bounded by `shell_timeout`; a transient failure drops the
    /// session so the next request starts a new one.
    fn call<T>(
        &mut self,
        overall: Deadline,
        request: impl FnOnce(&mut D, Deadline) -> Result<T, DeviceError>,
    ) -> Result<T, DeviceError> {
        let shell_timeout = self.shell_timeout;
        let device = self.device(overall)?;
        if overall.expired() {
            return Err(DeviceError::Timeout("no time left for the request".into()));
        }
        let result = request(device, overall.min(Deadline::after(shell_timeout)));
        if let Err(err) = &result
            && err.is_transient()
        {
            log::debug!("dropping the device session after: {err}");
            self.device = None;
        }
        result
    }

    fn close(&mut self, overall: Deadline) {
        if let Some(mut device) = self.device.take()
            && !overall.expired()
        {
            device.close(overall.min(Deadline::after(self.shell_timeout)));
        }
    }
}

/// Runs one action against a device; unit-testable with a mock device.
pub struct Runner<'h, D, C> {
    plan: Plan,
    session: Session<D, C>,
    /// The core's own hook, run before the agent's: it records the fact
    /// the evacuator acts on.
    marker: Option<EvacuationMarker<'h>>,
    hooks: Vec<Box<dyn AfterOffHook + 'h>>,
}

impl<D, C> std::fmt::Debug for Runner<'_, D, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("plan", &self.plan)
            .field("marker", &self.marker)
            .field("hooks", &self.hooks)
            .finish_non_exhaustive()
    }
}

impl<'h, D, C> Runner<'h, D, C>
where
    D: PowerDevice,
    C: FnMut(Deadline) -> Result<D, DeviceError>,
{
    /// `connect` opens a session within the deadline it is given; it is
    /// called again after a transient error.
    pub fn new(plan: Plan, connect: C) -> Self {
        let session = Session {
            device: None,
            connect,
            login_timeout: plan.timing.login_timeout,
            shell_timeout: plan.timing.shell_timeout,
        };
        let marker = plan.evacuate.clone().map(EvacuationMarker::new);
        Self {
            plan,
            session,
            marker,
            hooks: Vec::new(),
        }
    }

    /// Write the evacuation marker (when the plan has `evacuate`) with
    /// `writer` instead of `crm_attribute`.
    pub fn attribute_writer(mut self, writer: AttributeWriter<'h>) -> Self {
        if let Some(attribute) = &self.plan.evacuate {
            self.marker = Some(EvacuationMarker::with_writer(attribute.clone(), writer));
        }
        self
    }

    /// Add a hook to run after a verified power-off.
    pub fn hook(mut self, hook: Box<dyn AfterOffHook + 'h>) -> Self {
        self.hooks.push(hook);
        self
    }

    pub fn hooks(mut self, hooks: impl IntoIterator<Item = Box<dyn AfterOffHook + 'h>>) -> Self {
        self.hooks.extend(hooks);
        self
    }

    /// Run the plan's action within `deadline`, printing fence-agents' lines
    /// (`Success: Powered OFF`, `Status: ON`, list lines) to `out` and the
    /// reason of a failure to the log.
    pub fn run(mut self, deadline: Deadline, out: &mut dyn Write) -> Outcome {
        let result = match self.plan.action {
            Action::Status => self.status(deadline, out),
            Action::Monitor => self.monitor(deadline),
            Action::List => self.list(false, deadline, out),
            Action::ListStatus => self.list(true, deadline, out),
            Action::On => self.on(deadline, out),
            Action::Off => self.off(deadline, out),
            Action::Reboot => self.reboot(deadline, out),
            Action::Diag => self.diag(deadline, out),
            Action::Metadata
            | Action::Manpage
            | Action::ValidateAll
            | Action::Start
            | Action::Stop => Ok(Outcome::Success),
        };
        self.session.close(deadline);
        match result {
            Ok(outcome) => outcome,
            Err(failure) => {
                log::error!("{failure}");
                if deadline.expired() {
                    log::error!(
                        "the operation's deadline of {:.1?} was reached (see power_timeout, login_timeout, power_wait, delay)",
                        self.plan.budget()
                    );
                }
                Outcome::Failed
            }
        }
    }

    /// The plugs as the device calls take them: `[None]` on a single-target device.
    fn targets(&self) -> Vec<Option<String>> {
        if self.plan.plugs.is_empty() {
            vec![None]
        } else {
            self.plan.plugs.iter().cloned().map(Some).collect()
        }
    }

    fn read_states(&mut self, deadline: Deadline) -> Result<Vec<PowerState>, DeviceError> {
        let mut states = Vec::new();
        for plug in self.targets() {
            let state = self
                .session
                .call(deadline, |d, dl| d.status(plug.as_deref(), dl))?;
            log::debug!("power state{}: {state}", plug_label(plug.as_deref()));
            states.push(state);
        }
        Ok(states)
    }

    /// The state before switching. Connecting must work; a transient failure
    /// to read the state only means we switch without knowing.
    fn initial_states(&mut self, deadline: Deadline) -> Result<Vec<PowerState>, Failure> {
        self.session.device(deadline)?;
        match self.read_states(deadline) {
            Ok(states) => Ok(states),
            Err(err) if err.is_transient() => {
                log::warn!(
                    "cannot read the power state before switching ({err}); switching anyway"
                );
                Ok(vec![PowerState::Unknown])
            }
            Err(err) => Err(err.into()),
        }
    }

    fn status(&mut self, deadline: Deadline, out: &mut dyn Write) -> Result<Outcome, Failure> {
        let states = self.read_states(deadline)?;
        match combined(&states) {
            PowerState::On => {
                say(out, "Status: ON");
                Ok(Outcome::Success)
            }
            PowerState::Off => {
                say(out, "Status: OFF");
                Ok(Outcome::StatusOff)
            }
            PowerState::Unknown => Err(Failure::StatusUnknown),
        }
    }

    fn monitor(&mut self, deadline: Deadline) -> Result<Outcome, Failure> {
        if self.plan.plug_mode == PlugMode::Multiple && self.plan.capabilities.list {
            self.session.call(deadline, |d, dl| d.list(false, dl))?;
            return Ok(Outcome::Success);
        }
        if self.plan.plug_mode == PlugMode::Multiple && self.plan.plugs.is_empty() {
            self.session.device(deadline)?;
            return Ok(Outcome::Success);
        }
        let states = self.read_states(deadline)?;
        match combined(&states) {
            PowerState::Unknown => Err(Failure::StatusUnknown),
            _ => Ok(Outcome::Success),
        }
    }

    fn list(
        &mut self,
        with_status: bool,
        deadline: Deadline,
        out: &mut dyn Write,
    ) -> Result<Outcome, Failure> {
        if !self.plan.capabilities.list {
            // fence-agents' answer for a multi-plug device without list support.
            say(out, "NOTICE: List option is not working on this device yet");
            return Ok(Outcome::Success);
        }
        let outlets = self
            .session
            .call(deadline, |d, dl| d.list(with_status, dl))?;
        let sep = &self.plan.separator;
        for outlet in outlets {
            let alias = outlet.alias.as_deref().unwrap_or("");
            let line = if with_status {
                let state = outlet.state.unwrap_or(PowerState::Unknown);
                format!("{}{sep}{alias}{sep}{state}", outlet.plug)
            } else {
                format!("{}{sep}{alias}", outlet.plug)
            };
            writeln!(out, "{line}").map_err(|e| Failure::Output(e.to_string()))?;
        }
        Ok(Outcome::Success)
    }

    fn on(&mut self, deadline: Deadline, out: &mut dyn Write) -> Result<Outcome, Failure> {
        let states = self.initial_states(deadline)?;
        if all(&states, PowerState::On) {
            say(out, "Success: Already ON");
            return Ok(Outcome::Success);
        }
        let attempts = 1 + self.plan.timing.retry_on;
        if self.power_on_attempts(attempts, deadline)? {
            say(out, "Success: Powered ON");
            Ok(Outcome::Success)
        } else {
            Err(Failure::TimedOutOn)
        }
    }

    fn off(&mut self, deadline: Deadline, out: &mut dyn Write) -> Result<Outcome, Failure> {
        self.delay(deadline);
        let states = self.initial_states(deadline)?;
        let reported_off = all(&states, PowerState::Off);
        if self.believe_reported_off(reported_off) {
            say(out, "Success: Already OFF");
            self.after_off(true, deadline);
            return Ok(Outcome::Success);
        }
        if !self.switch(PowerState::Off, deadline)? {
            return Err(Failure::TimedOutOff);
        }
        say(out, "Success: Powered OFF");
        self.after_off(reported_off, deadline);
        Ok(Outcome::Success)
    }

    fn reboot(&mut self, deadline: Deadline, out: &mut dyn Write) -> Result<Outcome, Failure> {
        self.delay(deadline);
        let states = self.initial_states(deadline)?;
        let reported_off = all(&states, PowerState::Off);
        let believed_off = self.believe_reported_off(reported_off);
        let cycle = self.plan.method == Method::Cycle && self.plan.capabilities.cycle;
        if cycle && !reported_off {
            match self.cycle(deadline) {
                Err(Failure::Device(DeviceError::Unsupported(what))) => {
                    log::warn!(
                        "the device cannot power-cycle ({what}); rebooting with method onoff"
                    );
                }
                Err(failure) => return Err(failure),
                Ok(()) => {
                    say(out, "Success: Rebooted");
                    return Ok(Outcome::Success);
                }
            }
        }
        if !believed_off && !self.switch(PowerState::Off, deadline)? {
            return Err(Failure::TimedOutOff);
        }
        self.after_off(reported_off, deadline);
        // The node is fenced from here on: the on part can only be logged.
        let powered_on = match self.power_on_attempts(self.plan.timing.retry_on, deadline) {
            Ok(on) => on,
            Err(failure) => {
                log::warn!("power on after the verified off failed: {failure}");
                false
            }
        };
        if !powered_on {
            log::error!(
                "Timed out waiting to power ON; the node was fenced (power off verified) and stays off"
            );
        }
        say(out, "Success: Rebooted");
        Ok(Outcome::Success)
    }

    fn diag(&mut self, deadline: Deadline, out: &mut dyn Write) -> Result<Outcome, Failure> {
        for plug in self.targets() {
            self.session
                .call(deadline, |d, dl| d.diag(plug.as_deref(), dl))?;
        }
        say(
            out,
            "Success: Diagnostic interrupt sent (its effect cannot be verified)",
        );
        Ok(Outcome::Success)
    }

    fn delay(&self, deadline: Deadline) {
        let delay = self.plan.timing.delay;
        if !delay.is_zero() {
            log::info!("Delay {:.1?} before logging in to the fence device", delay);
            deadline.sleep(delay);
        }
    }

    /// Whether an OFF in the first reading of a fencing action ends it
    /// without a power-off request: only when the agent opted out of the
    /// policy (see the module documentation).
    fn believe_reported_off(&self, reported_off: bool) -> bool {
        if !reported_off {
            return false;
        }
        if self.plan.capabilities.redundant_off_unsafe {
            log::warn!(
                "the device reports power OFF; believed without a power off request, since \
                 this agent's device cannot take a redundant off"
            );
            return true;
        }
        log::info!(
            "the device reports power OFF before this run requested it; not believed while \
             fencing: requesting power off anyway, then reading it back"
        );
        false
    }

    fn after_off(&mut self, reported_off_at_start: bool, deadline: Deadline) {
        if self.marker.is_none() && self.hooks.is_empty() {
            return;
        }
        let event = FenceEvent {
            action: self.plan.action,
            nodename: self.plan.nodename.as_deref(),
            plugs: &self.plan.plugs,
            off_at: SystemTime::now(),
            reported_off_at_start,
        };
        let marker = self
            .marker
            .as_mut()
            .map(|m| m as &mut (dyn AfterOffHook + 'h));
        let hooks = self.hooks.iter_mut().map(|h| &mut **h);
        hook::run_all(marker.into_iter().chain(hooks), &event, deadline);
    }

    /// Power on with up to `attempts` tries; Ok(false) when it never read back on.
    fn power_on_attempts(&mut self, attempts: u32, deadline: Deadline) -> Result<bool, Failure> {
        for attempt in 1..=attempts {
            if deadline.expired() {
                break;
            }
            if attempt > 1 {
                log::info!("power on: attempt {attempt} of {attempts}");
            }
            if self.switch(PowerState::On, deadline)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Ask for `target` on every plug, then wait for it to read back.
    /// Ok(false) when it did not within `power_timeout` or the deadline.
    fn switch(&mut self, target: PowerState, deadline: Deadline) -> Result<bool, Failure> {
        for plug in self.targets() {
            let mut tries = 0;
            loop {
                tries += 1;
                let result = self.session.call(deadline, |d, dl| match target {
                    PowerState::Off => d.power_off(plug.as_deref(), dl),
                    _ => d.power_on(plug.as_deref(), dl),
                });
                match result {
                    Ok(()) => {
                        log::info!(
                            "power {} requested{}",
                            verb(target),
                            plug_label(plug.as_deref())
                        );
                        break;
                    }
                    // The request may have gone through with its answer lost:
                    // try once more, then let the read-back decide.
                    Err(err) if err.is_transient() && tries < 2 && !deadline.expired() => {
                        log::warn!("power {} request failed ({err}); retrying", verb(target));
                    }
                    Err(err) if err.is_transient() => {
                        log::warn!(
                            "power {} request failed ({err}); reading back the state anyway",
                            verb(target)
                        );
                        break;
                    }
                    Err(err) => return Err(err.into()),
                }
            }
        }
        self.wait_for(target, deadline)
    }

    /// Wait `power_wait`, then read back every `stonith_status_sleep` until
    /// every plug shows `target` or `power_timeout` has passed.
    fn wait_for(&mut self, target: PowerState, deadline: Deadline) -> Result<bool, Failure> {
        let timing = self.plan.timing;
        if !timing.power_wait.is_zero() {
            deadline.sleep(timing.power_wait);
        }
        let window = deadline.min(Deadline::after(timing.power_timeout));
        loop {
            match self.read_states(deadline) {
                Ok(states) if all(&states, target) => return Ok(true),
                Ok(states) => log::debug!(
                    "waiting for power {}: now {}",
                    verb(target),
                    combined(&states)
                ),
                Err(err) if err.is_transient() => {
                    log::debug!("read-back failed ({err}); trying again");
                }
                Err(err) => return Err(err.into()),
            }
            if window.expired() || deadline.expired() {
                return Ok(false);
            }
            window.sleep(timing.poll_interval());
        }
    }

    /// Cycle every plug and watch each one go off. Ok once every plug has been
    /// seen off; the hooks run then.
    fn cycle(&mut self, deadline: Deadline) -> Result<(), Failure> {
        let timing = self.plan.timing;
        let attempts = 1 + timing.retry_on;
        let targets = self.targets();
        for attempt in 1..=attempts {
            if deadline.expired() {
                break;
            }
            if attempt > 1 {
                log::info!("power cycle: attempt {attempt} of {attempts}");
            }
            let mut issued = true;
            for plug in &targets {
                match self
                    .session
                    .call(deadline, |d, dl| d.power_cycle(plug.as_deref(), dl))
                {
                    Ok(()) => log::info!("power cycle requested{}", plug_label(plug.as_deref())),
                    Err(err) if err.is_transient() => {
                        log::warn!("power cycle request failed: {err}");
                        issued = false;
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            if !issued {
                continue;
            }
            if self.watch_cycle(&targets, deadline)? {
                return Ok(());
            }
            log::warn!("power cycle requested but power OFF was not observed");
        }
        Err(Failure::CycleNotObservedOff)
    }

    /// Poll fast until every plug has been seen off, run the hooks, then wait
    /// (within what is left) to see it on again.
    fn watch_cycle(
        &mut self,
        targets: &[Option<String>],
        deadline: Deadline,
    ) -> Result<bool, Failure> {
        let timing = self.plan.timing;
        let window = deadline.min(Deadline::after(timing.power_timeout));
        let mut seen_off = vec![false; targets.len()];
        let mut seen_on_after = vec![false; targets.len()];
        let mut hooks_done = false;
        loop {
            for (index, plug) in targets.iter().enumerate() {
                match self
                    .session
                    .call(deadline, |d, dl| d.status(plug.as_deref(), dl))
                {
                    Ok(PowerState::Off) => seen_off[index] = true,
                    Ok(PowerState::On) if seen_off[index] => seen_on_after[index] = true,
                    Ok(_) => {}
                    Err(err) if err.is_transient() => log::debug!("read-back failed ({err})"),
                    Err(err) if hooks_done => {
                        log::warn!("cannot confirm power on after the cycle: {err}");
                        return Ok(true);
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            if !hooks_done && seen_off.iter().all(|&s| s) {
                log::info!("power OFF observed during the cycle");
                self.after_off(false, deadline);
                hooks_done = true;
            }
            if hooks_done && seen_on_after.iter().all(|&s| s) {
                log::info!("power ON observed after the cycle");
                return Ok(true);
            }
            if window.expired() || deadline.expired() {
                if hooks_done {
                    log::warn!("power ON not observed after the cycle; the node was fenced");
                }
                return Ok(hooks_done);
            }
            window.sleep(timing.cycle_poll_interval());
        }
    }
}

fn say(out: &mut dyn Write, line: &str) {
    // A closed stdout must not turn a verified fencing into a failure.
    let _ = writeln!(out, "{line}");
}

fn verb(target: PowerState) -> &'static str {
    match target {
        PowerState::Off => "off",
        _ => "on",
    }
}

fn plug_label(plug: Option<&str>) -> String {
    plug.map(|p| format!(" (plug {p})")).unwrap_or_default()
}

fn all(states: &[PowerState], target: PowerState) -> bool {
    !states.is_empty() && states.iter().all(|&s| s == target)
}

/// The target's state from its plugs': on if any is on, as fence-agents.
fn combined(states: &[PowerState]) -> PowerState {
    if states.contains(&PowerState::On) {
        PowerState::On
    } else if states.is_empty() || states.contains(&PowerState::Unknown) {
        PowerState::Unknown
    } else {
        PowerState::Off
    }
}

#[cfg(test)]
#[path = "runner_tests.rs"]
mod tests;
