//! The runner against a scripted device: exit codes of every action and the
//! timing rules, with millisecond timings so the suite stays fast.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use umha_common::Deadline;

use super::*;
use crate::device::Outlet;
use crate::hook::{AttributeWriter, HookError};

/// The device's world, shared between the test and every session it opens.
#[derive(Debug)]
struct World {
    state: HashMap<String, PowerState>,
    /// Power-off requests are accepted and do nothing.
    ignore_off: bool,
    /// The first N power-on requests are accepted and do nothing.
    ignore_on_first: u32,
    /// Power-on requests fail outright.
    on_error: Option<DeviceError>,
    /// After a change, report the previous state for this many reads.
    lie_reads: u32,
    /// Report off for this many reads while the power is on, from the
    /// start (a BMC's stale state after a reset).
    false_off_reads: u32,
    /// Power-off requests fail with this while the power is off.
    off_when_off_error: Option<DeviceError>,
    stale: HashMap<String, (PowerState, u32)>,
    /// After a cycle, read off this many times, then on.
    cycle_off_reads: u32,
    cycling: HashMap<String, u32>,
    cycle_supported: bool,
    /// Status fails this many times with this error before answering.
    status_errors: Vec<DeviceError>,
    /// Moved to `status_errors` by a power-off request.
    errors_after_switch: Vec<DeviceError>,
    /// Connecting fails with this.
    connect_error: Option<DeviceError>,
    connects: u32,
    calls: Vec<String>,
}

impl Default for World {
    fn default() -> Self {
        Self {
            state: HashMap::from([(String::new(), PowerState::On)]),
            ignore_off: false,
            ignore_on_first: 0,
            on_error: None,
            lie_reads: 0,
            false_off_reads: 0,
            off_when_off_error: None,
            stale: HashMap::new(),
            cycle_off_reads: 3,
            cycling: HashMap::new(),
            cycle_supported: true,
            status_errors: Vec::new(),
            errors_after_switch: Vec::new(),
            connect_error: None,
            connects: 0,
            calls: Vec::new(),
        }
    }
}

type Shared = Rc<RefCell<World>>;

#[derive(Debug)]
struct Mock(Shared);

fn key(plug: Option<&str>) -> String {
    plug.unwrap_or("").to_owned()
}

impl World {
    fn set(&mut self, plug: &str, new: PowerState) {
        let old = self.state.get(plug).copied().unwrap_or(PowerState::Unknown);
        self.state.insert(plug.to_owned(), new);
        if self.lie_reads > 0 && old != new {
            self.stale.insert(plug.to_owned(), (old, self.lie_reads));
        }
    }
}

impl PowerDevice for Mock {
    fn status(
        &mut self,
        plug: Option<&str>,
        _deadline: Deadline,
    ) -> Result<PowerState, DeviceError> {
        let mut w = self.0.borrow_mut();
        let k = key(plug);
        w.calls.push(format!("status{k}"));
        if !w.status_errors.is_empty() {
            return Err(w.status_errors.remove(0));
        }
        if let Some(left) = w.cycling.get(&k).copied() {
            if left == 0 {
                w.cycling.remove(&k);
                w.state.insert(k.clone(), PowerState::On);
            } else {
                w.cycling.insert(k.clone(), left - 1);
                return Ok(PowerState::Off);
            }
        }
        if let Some((old, left)) = w.stale.get(&k).copied()
            && left > 0
        {
            w.stale.insert(k, (old, left - 1));
            return Ok(old);
        }
        match w.state.get(&k).copied() {
            Some(PowerState::On) if w.false_off_reads > 0 => {
                w.false_off_reads -= 1;
                Ok(PowerState::Off)
            }
            Some(state) => Ok(state),
            None => Err(DeviceError::NoSuchPlug(k)),
        }
    }

    fn power_on(&mut self, plug: Option<&str>, _deadline: Deadline) -> Result<(), DeviceError> {
        let mut w = self.0.borrow_mut();
        let k = key(plug);
        w.calls.push(format!("on{k}"));
        if let Some(err) = w.on_error.clone() {
            return Err(err);
        }
        if w.ignore_on_first > 0 {
            w.ignore_on_first -= 1;
            return Ok(());
        }
        w.set(&k, PowerState::On);
        Ok(())
    }

    fn power_off(&mut self, plug: Option<&str>, _deadline: Deadline) -> Result<(), DeviceError> {
        let mut w = self.0.borrow_mut();
        let k = key(plug);
        w.calls.push(format!("off{k}"));
        if w.state.get(&k) == Some(&PowerState::Off)
            && let Some(err) = w.off_when_off_error.clone()
        {
            return Err(err);
        }
        let errors = std::mem::take(&mut w.errors_after_switch);
        w.status_errors.extend(errors);
        if !w.ignore_off {
            w.set(&k, PowerState::Off);
        }
        Ok(())
    }

    fn power_cycle(&mut self, plug: Option<&str>, _deadline: Deadline) -> Result<(), DeviceError> {
        let mut w = self.0.borrow_mut();
        let k = key(plug);
        w.calls.push(format!("cycle{k}"));
        if !w.cycle_supported {
            return Err(DeviceError::Unsupported("chassis cycle".into()));
        }
        let reads = w.cycle_off_reads;
        w.cycling.insert(k, reads);
        Ok(())
    }

    fn list(&mut self, with_status: bool, _deadline: Deadline) -> Result<Vec<Outlet>, DeviceError> {
        let mut w = self.0.borrow_mut();
        w.calls.push("list".into());
        let mut plugs: Vec<(String, PowerState)> =
            w.state.iter().map(|(k, v)| (k.clone(), *v)).collect();
        plugs.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(plugs
            .into_iter()
            .map(|(plug, state)| Outlet {
                alias: Some(format!("node-{plug}")),
                state: with_status.then_some(state),
                plug,
            })
            .collect())
    }

    fn close(&mut self, _deadline: Deadline) {
        self.0.borrow_mut().calls.push("close".into());
    }
}

fn fast_timing() -> Timing {
    Timing {
        delay: Duration::ZERO,
        login_timeout: Duration::from_secs(1),
        shell_timeout: Duration::from_secs(1),
        power_wait: Duration::ZERO,
        power_timeout: Duration::from_millis(200),
        status_sleep: Duration::from_millis(10),
        retry_on: 1,
    }
}

fn plan(action: Action) -> Plan {
    Plan {
        timing: fast_timing(),
        ..Plan::simple(
            action,
            PlugMode::Single,
            Capabilities {
                list: false,
                cycle: true,
                diag: false,
                ..Capabilities::default()
            },
        )
    }
}

fn multi_plan(action: Action, plugs: &[&str]) -> Plan {
    Plan {
        plugs: plugs.iter().map(|p| p.to_string()).collect(),
        plug_mode: PlugMode::Multiple,
        capabilities: Capabilities {
            list: true,
            cycle: true,
            diag: false,
            ..Capabilities::default()
        },
        ..plan(action)
    }
}

struct Run {
    outcome: Outcome,
    stdout: String,
    elapsed: Duration,
}

fn run_with(plan: Plan, world: &Shared, hooks: Vec<Box<dyn AfterOffHook + '_>>) -> Run {
    run_within(plan, world, hooks, Deadline::after(Duration::from_secs(10)))
}

fn run_within(
    plan: Plan,
    world: &Shared,
    hooks: Vec<Box<dyn AfterOffHook + '_>>,
    deadline: Deadline,
) -> Run {
    let connect_world = world.clone();
    let connect = move |_deadline: Deadline| {
        let mut w = connect_world.borrow_mut();
        w.connects += 1;
        w.calls.push("connect".into());
        match w.connect_error.clone() {
            Some(err) => Err(err),
            None => Ok(Mock(connect_world.clone())),
        }
    };
    let mut stdout = Vec::new();
    let started = Instant::now();
    let outcome = Runner::new(plan, connect)
        .hooks(hooks)
        .run(deadline, &mut stdout);
    Run {
        outcome,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        elapsed: started.elapsed(),
    }
}

fn run(plan: Plan, world: &Shared) -> Run {
    run_with(plan, world, Vec::new())
}

fn world(configure: impl FnOnce(&mut World)) -> Shared {
    let mut w = World::default();
    configure(&mut w);
    Rc::new(RefCell::new(w))
}

fn state(world: &Shared) -> PowerState {
    world.borrow().state[""]
}

fn calls(world: &Shared) -> Vec<String> {
    world.borrow().calls.clone()
}

/// Records when it ran, relative to the device calls.
#[derive(Debug)]
struct Recorder {
    world: Shared,
    seen: Rc<RefCell<Vec<String>>>,
    fail: bool,
}

impl AfterOffHook for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }

    fn run(&mut self, event: &FenceEvent<'_>, _deadline: Deadline) -> Result<(), HookError> {
        let at = self.world.borrow().calls.len();
        self.seen.borrow_mut().push(format!(
            "{} after {at} calls, reported_off_at_start={}, node={:?}",
            event.action, event.reported_off_at_start, event.nodename
        ));
        self.world.borrow_mut().calls.push("HOOK".into());
        if self.fail {
            Err("attrd unreachable".into())
        } else {
            Ok(())
        }
    }
}

fn recorder(world: &Shared, fail: bool) -> (Box<dyn AfterOffHook>, Rc<RefCell<Vec<String>>>) {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let hook = Recorder {
        world: world.clone(),
        seen: seen.clone(),
        fail,
    };
    (Box::new(hook), seen)
}

/// A stand-in for `crm_attribute`: records `node name=value` in `seen` and
/// `MARK` among the device calls, so tests see when it ran.
fn marker_writer(
    world: &Shared,
    fail: bool,
) -> (AttributeWriter<'static>, Rc<RefCell<Vec<String>>>) {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    let world = world.clone();
    let writer: AttributeWriter<'static> = Box::new(move |node, name, value, deadline| {
        assert!(!deadline.expired());
        world.borrow_mut().calls.push("MARK".into());
        log.borrow_mut().push(format!("{node} {name}={value}"));
        if fail {
            Err("Could not connect to the CIB: Transport endpoint is not connected".into())
        } else {
            Ok(())
        }
    });
    (writer, seen)
}

fn evacuating(mut plan: Plan, nodename: Option<&str>) -> Plan {
    plan.evacuate = Some("umha-evacuate".into());
    plan.nodename = nodename.map(str::to_owned);
    plan
}

fn run_marked(
    plan: Plan,
    world: &Shared,
    writer: AttributeWriter<'static>,
    hooks: Vec<Box<dyn AfterOffHook>>,
) -> Run {
    let connect_world = world.clone();
    let connect = move |_deadline: Deadline| {
        connect_world.borrow_mut().calls.push("connect".into());
        Ok(Mock(connect_world.clone()))
    };
    let mut stdout = Vec::new();
    let started = Instant::now();
    let outcome = Runner::new(plan, connect)
        .attribute_writer(writer)
        .hooks(hooks)
        .run(Deadline::after(Duration::from_secs(10)), &mut stdout);
    Run {
        outcome,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        elapsed: started.elapsed(),
    }
}

fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `cmp1 umha-evacuate=<epoch>` with the epoch between `before` and now.
fn assert_marked_once(seen: &Rc<RefCell<Vec<String>>>, before: u64) {
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let epoch: u64 = seen[0]
        .strip_prefix("cmp1 umha-evacuate=")
        .and_then(|e| e.parse().ok())
        .unwrap_or_else(|| panic!("unexpected marker {seen:?}"));
    assert!((before..=epoch_now()).contains(&epoch), "{epoch}");
}

#[test]
fn evacuation_marker_after_a_verified_off() {
    let w = world(|_| {});
    let (writer, seen) = marker_writer(&w, false);
    let before = epoch_now();
    let r = run_marked(
        evacuating(plan(Action::Off), Some("cmp1")),
        &w,
        writer,
        Vec::new(),
    );
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(
        calls(&w),
        vec!["connect", "status", "off", "status", "MARK", "close"]
    );
    assert_marked_once(&seen, before);
}

#[test]
fn evacuation_marker_before_the_power_on_of_a_reboot_and_before_agent_hooks() {
    let w = world(|_| {});
    let (writer, seen) = marker_writer(&w, false);
    let (hook, hook_seen) = recorder(&w, false);
    let before = epoch_now();
    let r = run_marked(
        evacuating(plan(Action::Reboot), Some("cmp1")),
        &w,
        writer,
        vec![hook],
    );
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(
        calls(&w),
        vec![
            "connect", "status", "off", "status", "MARK", "HOOK", "on", "status", "close"
        ]
    );
    assert_marked_once(&seen, before);
    assert_eq!(hook_seen.borrow().len(), 1);
    assert_eq!(state(&w), PowerState::On);
}

#[test]
fn evacuation_marker_once_in_a_power_cycle() {
    let w = world(|_| {});
    let (writer, seen) = marker_writer(&w, false);
    let p = Plan {
        method: Method::Cycle,
        ..evacuating(plan(Action::Reboot), Some("cmp1"))
    };
    let before = epoch_now();
    let r = run_marked(p, &w, writer, Vec::new());
    assert_eq!(r.outcome, Outcome::Success);
    assert_marked_once(&seen, before);
    let c = calls(&w);
    let mark = c.iter().position(|x| x == "MARK").unwrap();
    assert_eq!(&c[..mark], ["connect", "status", "cycle", "status"]);
}

#[test]
fn no_evacuation_marker_when_the_off_is_never_verified() {
    for action in [Action::Off, Action::Reboot] {
        let w = world(|w| w.ignore_off = true);
        let (writer, seen) = marker_writer(&w, false);
        let r = run_marked(
            evacuating(plan(action), Some("cmp1")),
            &w,
            writer,
            Vec::new(),
        );
        assert_eq!(r.outcome.exit_code(), 1, "{action}");
        assert!(seen.borrow().is_empty(), "{action}");
        assert!(!calls(&w).contains(&"MARK".to_owned()));
    }
}

#[test]
fn no_evacuation_marker_without_evacuate() {
    let w = world(|_| {});
    let (writer, seen) = marker_writer(&w, false);
    let mut p = plan(Action::Reboot);
    p.nodename = Some("cmp1".into());
    let r = run_marked(p, &w, writer, Vec::new());
    assert_eq!(r.outcome, Outcome::Success);
    assert!(seen.borrow().is_empty());
}

#[test]
fn evacuation_marker_failure_leaves_the_fencing_successful() {
    for action in [Action::Off, Action::Reboot] {
        let w = world(|_| {});
        let (writer, seen) = marker_writer(&w, true);
        let r = run_marked(
            evacuating(plan(action), Some("cmp1")),
            &w,
            writer,
            Vec::new(),
        );
        assert_eq!(r.outcome.exit_code(), 0, "{action}");
        assert_eq!(seen.borrow().len(), 1, "{action}");
    }
}

#[test]
fn evacuation_marker_is_skipped_without_a_node_name() {
    let w = world(|_| {});
    let (writer, seen) = marker_writer(&w, false);
    let r = run_marked(evacuating(plan(Action::Off), None), &w, writer, Vec::new());
    assert_eq!(r.outcome, Outcome::Success);
    assert!(seen.borrow().is_empty());
    assert_eq!(
        calls(&w),
        vec!["connect", "status", "off", "status", "close"]
    );
}

// status

#[test]
fn status_on_is_0() {
    let w = world(|_| {});
    let r = run(plan(Action::Status), &w);
    assert_eq!(r.outcome.exit_code(), 0);
    assert_eq!(r.stdout, "Status: ON\n");
}

#[test]
fn status_off_is_2() {
    let w = world(|w| {
        w.state.insert(String::new(), PowerState::Off);
    });
    let r = run(plan(Action::Status), &w);
    assert_eq!(r.outcome.exit_code(), 2);
    assert_eq!(r.stdout, "Status: OFF\n");
}

#[test]
fn status_unknown_is_1() {
    let w = world(|w| {
        w.state.insert(String::new(), PowerState::Unknown);
    });
    assert_eq!(run(plan(Action::Status), &w).outcome.exit_code(), 1);
}

#[test]
fn status_unreachable_is_1_after_one_connect() {
    let w = world(|w| w.connect_error = Some(DeviceError::Unreachable("no route".into())));
    let r = run(plan(Action::Status), &w);
    assert_eq!(r.outcome.exit_code(), 1);
    assert_eq!(w.borrow().connects, 1);
}

#[test]
fn status_of_several_plugs_is_on_when_any_is_on() {
    let w = world(|w| {
        w.state = HashMap::from([("1".into(), PowerState::Off), ("2".into(), PowerState::On)]);
    });
    let r = run(multi_plan(Action::Status, &["1", "2"]), &w);
    assert_eq!(r.outcome.exit_code(), 0);
}

// off

#[test]
fn off_switches_reads_back_and_is_0() {
    let w = world(|_| {});
    let r = run(plan(Action::Off), &w);
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(r.stdout, "Success: Powered OFF\n");
    assert_eq!(state(&w), PowerState::Off);
    assert_eq!(
        calls(&w),
        vec!["connect", "status", "off", "status", "close"]
    );
}

fn off_world() -> Shared {
    world(|w| {
        w.state.insert(String::new(), PowerState::Off);
    })
}

/// A plan whose agent opted out of the policy: its device cannot take a
/// power off while already off.
fn trusting(mut plan: Plan) -> Plan {
    plan.capabilities.redundant_off_unsafe = true;
    plan
}

#[test]
fn reported_off_is_not_believed_off_is_still_sent_and_read_back() {
    let w = off_world();
    let r = run(plan(Action::Off), &w);
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(r.stdout, "Success: Powered OFF\n");
    assert_eq!(
        calls(&w),
        vec!["connect", "status", "off", "status", "close"]
    );
}

#[test]
fn reported_off_waits_power_wait_before_reading_back() {
    let w = off_world();
    let mut p = plan(Action::Off);
    p.timing.power_wait = Duration::from_millis(150);
    let r = run(p, &w);
    assert_eq!(r.outcome, Outcome::Success);
    assert!(r.elapsed >= Duration::from_millis(150), "{:?}", r.elapsed);
}

#[test]
fn says_off_while_on_is_powered_off_and_verified() {
    let w = world(|w| w.false_off_reads = 1);
    let r = run(plan(Action::Off), &w);
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(r.stdout, "Success: Powered OFF\n");
    assert_eq!(state(&w), PowerState::Off);
    assert_eq!(
        calls(&w),
        vec!["connect", "status", "off", "status", "close"]
    );
}

#[test]
fn says_off_while_on_and_ignores_off_fails_after_power_timeout() {
    let w = world(|w| {
        w.false_off_reads = 1;
        w.ignore_off = true;
    });
    let (hook, seen) = recorder(&w, false);
    let r = run_with(plan(Action::Off), &w, vec![hook]);
    assert_eq!(r.outcome.exit_code(), 1);
    assert_eq!(r.stdout, "");
    assert!(r.elapsed >= Duration::from_millis(200), "{:?}", r.elapsed);
    assert!(r.elapsed < Duration::from_secs(2), "{:?}", r.elapsed);
    assert_eq!(state(&w), PowerState::On);
    assert!(seen.borrow().is_empty());
    let c = calls(&w);
    assert_eq!(&c[..3], ["connect", "status", "off"]);
    let reads = c.iter().filter(|c| *c == "status").count();
    assert!(reads >= 5, "polled only {reads} times");
}

#[test]
fn several_plugs_all_saying_off_all_get_off() {
    let w = world(|w| {
        w.state = HashMap::from([("1".into(), PowerState::Off), ("2".into(), PowerState::On)]);
        w.false_off_reads = 1;
    });
    let r = run(multi_plan(Action::Off, &["1", "2"]), &w);
    assert_eq!(r.outcome, Outcome::Success);
    let c = calls(&w);
    assert!(c.contains(&"off1".to_owned()) && c.contains(&"off2".to_owned()));
    assert_eq!(w.borrow().state["2"], PowerState::Off);
}

#[test]
fn a_device_refusing_off_when_off_cannot_confirm_fencing() {
    // Without the opt-out, a refusal that ends the operation is a failure:
    // the OFF it reported is still only its word.
    let refusing = || {
        world(|w| {
            w.state.insert(String::new(), PowerState::Off);
            w.off_when_off_error = Some(DeviceError::Unsupported("already off".into()));
        })
    };
    let w = refusing();
    assert_eq!(run(plan(Action::Off), &w).outcome, Outcome::Failed);

    // A transient refusal: the request may have gone through, the read-back
    // after it decides.
    let w = world(|w| {
        w.state.insert(String::new(), PowerState::Off);
        w.off_when_off_error = Some(DeviceError::Protocol("completion code 0xd5".into()));
    });
    let r = run(plan(Action::Off), &w);
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(r.stdout, "Success: Powered OFF\n");

    // The opt-out: the first OFF is believed and nothing is sent.
    let w = refusing();
    let r = run(trusting(plan(Action::Off)), &w);
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(r.stdout, "Success: Already OFF\n");
    assert_eq!(calls(&w), vec!["connect", "status", "close"]);
}

#[test]
fn the_opt_out_is_the_false_success_it_warns_about() {
    let w = world(|w| w.false_off_reads = 1);
    let r = run(trusting(plan(Action::Off)), &w);
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(state(&w), PowerState::On);
}

#[test]
fn ignored_off_fails_after_power_timeout() {
    let w = world(|w| w.ignore_off = true);
    let r = run(plan(Action::Off), &w);
    assert_eq!(r.outcome.exit_code(), 1);
    assert!(r.elapsed >= Duration::from_millis(200), "{:?}", r.elapsed);
    assert!(r.elapsed < Duration::from_secs(2), "{:?}", r.elapsed);
    let reads = calls(&w).iter().filter(|c| *c == "status").count();
    assert!(reads >= 5, "polled only {reads} times");
}

#[test]
fn device_that_lies_for_a_while_then_tells_the_truth_is_believed_at_the_end() {
    let w = world(|w| w.lie_reads = 4);
    let r = run(plan(Action::Off), &w);
    assert_eq!(r.outcome, Outcome::Success);
    let reads = calls(&w).iter().filter(|c| *c == "status").count();
    assert_eq!(reads, 1 + 5);
}

#[test]
fn device_that_lies_longer_than_power_timeout_fails() {
    let w = world(|w| w.lie_reads = 1000);
    assert_eq!(run(plan(Action::Off), &w).outcome, Outcome::Failed);
}

#[test]
fn power_wait_passes_before_the_first_read_back() {
    let w = world(|_| {});
    let mut p = plan(Action::Off);
    p.timing.power_wait = Duration::from_millis(150);
    let r = run(p, &w);
    assert_eq!(r.outcome, Outcome::Success);
    assert!(r.elapsed >= Duration::from_millis(150));
}

#[test]
fn zero_power_timeout_means_one_read_back() {
    let w = world(|w| w.lie_reads = 1);
    let mut p = plan(Action::Off);
    p.timing.power_timeout = Duration::ZERO;
    assert_eq!(run(p, &w).outcome, Outcome::Failed);
    let reads = calls(&w).iter().filter(|c| *c == "status").count();
    assert_eq!(reads, 2);
}

#[test]
fn unknown_state_before_off_still_switches() {
    let w = world(|w| {
        w.state.insert(String::new(), PowerState::Unknown);
    });
    assert_eq!(run(plan(Action::Off), &w).outcome, Outcome::Success);
    assert_eq!(state(&w), PowerState::Off);
}

#[test]
fn transient_errors_reconnect_and_recover() {
    // The initial read fails: switched anyway, with a new session.
    let w = world(|w| w.status_errors = vec![DeviceError::Timeout("lost".into())]);
    assert_eq!(run(plan(Action::Off), &w).outcome, Outcome::Success);
    assert_eq!(w.borrow().connects, 2);

    // Read-backs fail twice (the BMC drops off the shared NIC as the host
    // powers down), then answer.
    let w = world(|w| {
        w.errors_after_switch = vec![
            DeviceError::Unreachable("no reply".into()),
            DeviceError::Timeout("no reply".into()),
        ]
    });
    assert_eq!(run(plan(Action::Off), &w).outcome, Outcome::Success);
    assert_eq!(w.borrow().connects, 3);
}

#[test]
fn login_refused_fails_at_once_without_switching() {
    let w = world(|w| w.connect_error = Some(DeviceError::AuthFailed("bad password".into())));
    let r = run(plan(Action::Off), &w);
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(calls(&w), vec!["connect"]);
    assert!(r.elapsed < Duration::from_millis(100));
}

#[test]
fn dead_device_fails_at_connect_not_after_power_timeout() {
    let w = world(|w| w.connect_error = Some(DeviceError::Unreachable("no answer".into())));
    let mut p = plan(Action::Reboot);
    p.timing.power_timeout = Duration::from_secs(30);
    let r = run(p, &w);
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(w.borrow().connects, 1);
    assert!(r.elapsed < Duration::from_secs(1));
}

#[test]
fn no_such_plug_is_fatal() {
    let w = world(|_| {});
    let r = run(multi_plan(Action::Off, &["9"]), &w);
    assert_eq!(r.outcome, Outcome::Failed);
    assert!(!calls(&w).iter().any(|c| c.starts_with("off")));
}

#[test]
fn several_plugs_all_go_off() {
    let w = world(|w| {
        w.state = HashMap::from([("1".into(), PowerState::On), ("2".into(), PowerState::On)]);
    });
    let r = run(multi_plan(Action::Off, &["1", "2"]), &w);
    assert_eq!(r.outcome, Outcome::Success);
    let w = w.borrow();
    assert_eq!(w.state["1"], PowerState::Off);
    assert_eq!(w.state["2"], PowerState::Off);
}

// delay and deadline

#[test]
fn delay_applies_to_off_and_reboot_only() {
    let delayed = |action| {
        let w = world(|_| {});
        let mut p = plan(action);
        p.timing.delay = Duration::from_millis(300);
        run(p, &w).elapsed
    };
    assert!(delayed(Action::Status) < Duration::from_millis(250));
    assert!(delayed(Action::On) < Duration::from_millis(250));
    assert!(delayed(Action::Monitor) < Duration::from_millis(250));
    assert!(delayed(Action::Off) >= Duration::from_millis(300));
    assert!(delayed(Action::Reboot) >= Duration::from_millis(300));
}

#[test]
fn the_overall_deadline_cuts_a_long_power_timeout() {
    let w = world(|w| w.ignore_off = true);
    let mut p = plan(Action::Off);
    p.timing.power_timeout = Duration::from_secs(30);
    let r = run_within(
        p,
        &w,
        Vec::new(),
        Deadline::after(Duration::from_millis(150)),
    );
    assert_eq!(r.outcome, Outcome::Failed);
    assert!(r.elapsed < Duration::from_secs(1), "{:?}", r.elapsed);
}

#[test]
fn an_expired_deadline_does_not_even_connect() {
    let w = world(|_| {});
    let r = run_within(
        plan(Action::Off),
        &w,
        Vec::new(),
        Deadline::after(Duration::ZERO),
    );
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(w.borrow().connects, 0);
}

// on

#[test]
fn on_is_0_when_read_back_on() {
    let w = world(|w| {
        w.state.insert(String::new(), PowerState::Off);
    });
    let r = run(plan(Action::On), &w);
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(r.stdout, "Success: Powered ON\n");
}

#[test]
fn on_when_already_on() {
    let w = world(|_| {});
    let r = run(plan(Action::On), &w);
    assert_eq!(r.stdout, "Success: Already ON\n");
    assert_eq!(r.outcome, Outcome::Success);
}

#[test]
fn on_retries_retry_on_times() {
    let off_world = |ignored| {
        world(move |w| {
            w.state.insert(String::new(), PowerState::Off);
            w.ignore_on_first = ignored;
        })
    };
    // retry_on=1: two attempts, the second works.
    let w = off_world(1);
    assert_eq!(run(plan(Action::On), &w).outcome, Outcome::Success);
    // retry_on=0: one attempt only.
    let w = off_world(1);
    let mut p = plan(Action::On);
    p.timing.retry_on = 0;
    assert_eq!(run(p, &w).outcome, Outcome::Failed);
    assert_eq!(calls(&w).iter().filter(|c| *c == "on").count(), 1);
}

// reboot

#[test]
fn reboot_onoff_runs_hooks_between_off_and_on() {
    let w = world(|_| {});
    let (hook, seen) = recorder(&w, false);
    let mut p = plan(Action::Reboot);
    p.nodename = Some("cmp1".into());
    let r = run_with(p, &w, vec![hook]);
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(r.stdout, "Success: Rebooted\n");
    assert_eq!(state(&w), PowerState::On);
    assert_eq!(
        calls(&w),
        vec![
            "connect", "status", "off", "status", "HOOK", "on", "status", "close"
        ]
    );
    assert_eq!(
        seen.borrow().as_slice(),
        ["reboot after 4 calls, reported_off_at_start=false, node=Some(\"cmp1\")"]
    );
}

#[test]
fn reboot_succeeds_when_on_fails() {
    let w = world(|w| w.on_error = Some(DeviceError::Protocol("completion code 0xd4".into())));
    let r = run(plan(Action::Reboot), &w);
    assert_eq!(r.outcome.exit_code(), 0);
    assert_eq!(state(&w), PowerState::Off);
}

#[test]
fn reboot_succeeds_when_on_never_reads_back() {
    let w = world(|w| w.ignore_on_first = 100);
    let r = run(plan(Action::Reboot), &w);
    assert_eq!(r.outcome, Outcome::Success);
    // retry_on=1: the on part is tried once, as fence-agents.
    assert_eq!(calls(&w).iter().filter(|c| *c == "on").count(), 1);
}

#[test]
fn reboot_fails_when_off_is_not_verified_and_never_tries_on() {
    let w = world(|w| w.ignore_off = true);
    let (hook, seen) = recorder(&w, false);
    let r = run_with(plan(Action::Reboot), &w, vec![hook]);
    assert_eq!(r.outcome, Outcome::Failed);
    assert!(!calls(&w).contains(&"on".to_owned()));
    assert!(seen.borrow().is_empty());
}

#[test]
fn reboot_of_a_node_reading_off_still_powers_it_off_first() {
    let w = off_world();
    let (hook, seen) = recorder(&w, false);
    let r = run_with(plan(Action::Reboot), &w, vec![hook]);
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(r.stdout, "Success: Rebooted\n");
    assert_eq!(
        calls(&w),
        vec![
            "connect", "status", "off", "status", "HOOK", "on", "status", "close"
        ]
    );
    assert!(seen.borrow()[0].contains("reported_off_at_start=true"));
    assert_eq!(state(&w), PowerState::On);
}

#[test]
fn reboot_says_off_while_on_and_ignores_off_fails_and_never_powers_on() {
    let w = world(|w| {
        w.false_off_reads = 1;
        w.ignore_off = true;
    });
    let (hook, seen) = recorder(&w, false);
    let r = run_with(plan(Action::Reboot), &w, vec![hook]);
    assert_eq!(r.outcome.exit_code(), 1);
    assert!(calls(&w).contains(&"off".to_owned()));
    assert!(!calls(&w).contains(&"on".to_owned()));
    assert!(seen.borrow().is_empty());
}

#[test]
fn reboot_with_the_opt_out_only_powers_an_off_node_on() {
    let w = off_world();
    let (hook, seen) = recorder(&w, false);
    let r = run_with(trusting(plan(Action::Reboot)), &w, vec![hook]);
    assert_eq!(r.outcome, Outcome::Success);
    assert!(!calls(&w).contains(&"off".to_owned()));
    assert!(seen.borrow()[0].contains("reported_off_at_start=true"));
    assert_eq!(state(&w), PowerState::On);
}

#[test]
fn a_failing_hook_does_not_fail_fencing() {
    let w = world(|_| {});
    let (hook, seen) = recorder(&w, true);
    let r = run_with(plan(Action::Off), &w, vec![hook]);
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(seen.borrow().len(), 1);
}

#[test]
fn hooks_learn_the_first_reading_said_off_and_run_after_the_read_back() {
    let w = off_world();
    let (hook, seen) = recorder(&w, false);
    run_with(plan(Action::Off), &w, vec![hook]);
    assert_eq!(
        seen.borrow().as_slice(),
        ["off after 4 calls, reported_off_at_start=true, node=None"]
    );
    assert_eq!(
        calls(&w),
        vec!["connect", "status", "off", "status", "HOOK", "close"]
    );
}

// cycle

fn cycle_plan() -> Plan {
    Plan {
        method: Method::Cycle,
        ..plan(Action::Reboot)
    }
}

#[test]
fn cycle_succeeds_once_off_is_observed() {
    let w = world(|w| w.cycle_off_reads = 2);
    let (hook, seen) = recorder(&w, false);
    let r = run_with(cycle_plan(), &w, vec![hook]);
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(seen.borrow().len(), 1);
    let c = calls(&w);
    let hook_at = c.iter().position(|x| x == "HOOK").unwrap();
    assert_eq!(&c[..hook_at], ["connect", "status", "cycle", "status"]);
    assert!(!c.contains(&"off".to_owned()));
}

#[test]
fn cycle_never_observed_off_is_1() {
    let w = world(|w| w.cycle_off_reads = 0);
    let (hook, seen) = recorder(&w, false);
    let r = run_with(cycle_plan(), &w, vec![hook]);
    assert_eq!(r.outcome.exit_code(), 1);
    assert!(seen.borrow().is_empty());
    // 1 + retry_on attempts.
    assert_eq!(calls(&w).iter().filter(|c| *c == "cycle").count(), 2);
}

#[test]
fn cycle_unsupported_falls_back_to_onoff() {
    let w = world(|w| w.cycle_supported = false);
    let r = run(cycle_plan(), &w);
    assert_eq!(r.outcome, Outcome::Success);
    let c = calls(&w);
    assert!(c.contains(&"off".to_owned()) && c.contains(&"on".to_owned()));
}

#[test]
fn cycle_of_a_node_reading_off_is_an_explicit_off_then_on() {
    let w = off_world();
    let r = run(cycle_plan(), &w);
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(r.stdout, "Success: Rebooted\n");
    assert_eq!(
        calls(&w),
        vec![
            "connect", "status", "off", "status", "on", "status", "close"
        ]
    );
    assert_eq!(state(&w), PowerState::On);
}

#[test]
fn cycle_of_a_node_saying_off_while_on_powers_it_off_for_real() {
    let w = world(|w| w.false_off_reads = 1);
    let (hook, seen) = recorder(&w, false);
    let r = run_with(cycle_plan(), &w, vec![hook]);
    assert_eq!(r.outcome, Outcome::Success);
    let c = calls(&w);
    assert!(!c.contains(&"cycle".to_owned()));
    assert_eq!(&c[..5], ["connect", "status", "off", "status", "HOOK"]);
    assert!(seen.borrow()[0].contains("reported_off_at_start=true"));

    // And one that ignores the off is not rebooted.
    let w = world(|w| {
        w.false_off_reads = 1;
        w.ignore_off = true;
    });
    let r = run(cycle_plan(), &w);
    assert_eq!(r.outcome, Outcome::Failed);
    assert!(!calls(&w).contains(&"on".to_owned()));
}

#[test]
fn cycle_with_the_opt_out_only_powers_an_off_node_on() {
    let w = off_world();
    let r = run(trusting(cycle_plan()), &w);
    assert_eq!(r.outcome, Outcome::Success);
    let c = calls(&w);
    assert!(!c.contains(&"cycle".to_owned()) && !c.contains(&"off".to_owned()));
    assert_eq!(state(&w), PowerState::On);
}

// monitor and list

#[test]
fn monitor_single_device_reads_status() {
    let w = world(|w| {
        w.state.insert(String::new(), PowerState::Off);
    });
    assert_eq!(run(plan(Action::Monitor), &w).outcome.exit_code(), 0);
    assert!(calls(&w).contains(&"status".to_owned()));
    let w = world(|w| w.connect_error = Some(DeviceError::Timeout("no reply".into())));
    assert_eq!(run(plan(Action::Monitor), &w).outcome.exit_code(), 1);
}

#[test]
fn monitor_multi_plug_device_lists() {
    let w = world(|_| {});
    assert_eq!(
        run(multi_plan(Action::Monitor, &[]), &w).outcome,
        Outcome::Success
    );
    assert!(calls(&w).contains(&"list".to_owned()));
}

#[test]
fn list_and_list_status_lines() {
    let w = world(|w| {
        w.state = HashMap::from([("1".into(), PowerState::On), ("2".into(), PowerState::Off)]);
    });
    let r = run(multi_plan(Action::List, &[]), &w);
    assert_eq!(r.stdout, "1,node-1\n2,node-2\n");
    let r = run(multi_plan(Action::ListStatus, &[]), &w);
    assert_eq!(r.stdout, "1,node-1,ON\n2,node-2,OFF\n");
    let mut p = multi_plan(Action::List, &[]);
    p.separator = ";".into();
    assert_eq!(run(p, &w).stdout, "1;node-1\n2;node-2\n");
}

#[test]
fn list_without_support_prints_fence_agents_notice() {
    let w = world(|_| {});
    let mut p = multi_plan(Action::List, &[]);
    p.capabilities.list = false;
    let r = run(p, &w);
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(
        r.stdout,
        "NOTICE: List option is not working on this device yet\n"
    );
    assert_eq!(w.borrow().connects, 0);
}

#[test]
fn outcome_exit_codes() {
    assert_eq!(Outcome::Success.exit_code(), 0);
    assert_eq!(Outcome::Failed.exit_code(), 1);
    assert_eq!(Outcome::StatusOff.exit_code(), 2);
}
