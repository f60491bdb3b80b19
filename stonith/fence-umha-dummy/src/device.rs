//! The "device": a directory with one state file per plug.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use stonith_core::{
    AfterOffHook, DeviceError, FenceEvent, HookError, Outlet, PowerDevice, PowerState,
};
use umha_common::{Deadline, Secret};

/// How the device misbehaves, from the options.
#[derive(Debug, Clone, Default)]
pub struct Misbehaviour {
    pub ignore_off: bool,
    pub ignore_on: bool,
    pub stale_reads: u32,
    pub false_off_reads: u32,
    pub response_delay: Duration,
    pub unreachable: bool,
    pub cycle_off_reads: u32,
}

/// What the device remembers between requests of one run. Process-wide
/// because the runner opens a new session after a transient error, and a real
/// device would not forget its state then either.
#[derive(Debug, Default)]
struct Memory {
    /// Plug → (state still reported, reads left).
    stale: HashMap<String, (PowerState, u32)>,
    /// Plug → false "off" reads left.
    false_off: HashMap<String, u32>,
    /// Plug → reads left before a cycle turns the power back on.
    cycling: HashMap<String, u32>,
}

fn memory() -> std::sync::MutexGuard<'static, Memory> {
    static MEMORY: OnceLock<Mutex<Memory>> = OnceLock::new();
    MEMORY
        .get_or_init(|| Mutex::new(Memory::default()))
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The longest an "unreachable" device keeps the caller waiting when the
/// caller gave no deadline.
const SILENCE_CAP: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct StateDir {
    dir: PathBuf,
    misbehaviour: Misbehaviour,
}

impl StateDir {
    pub fn new(dir: PathBuf, misbehaviour: Misbehaviour) -> Self {
        Self { dir, misbehaviour }
    }

    /// The session's login: the directory must exist and the password match.
    pub fn login(
        &self,
        password: Option<&Secret>,
        expected: Option<&Secret>,
        deadline: Deadline,
    ) -> Result<(), DeviceError> {
        self.respond(deadline)?;
        if !self.dir.is_dir() {
            return Err(DeviceError::Unreachable(format!(
                "state directory {} does not exist",
                self.dir.display()
            )));
        }
        if let Some(expected) = expected
            && password.map(Secret::expose) != Some(expected.expose())
        {
            return Err(DeviceError::AuthFailed("password refused".into()));
        }
        Ok(())
    }

    /// Every request first goes through this: silence or slowness.
    fn respond(&self, deadline: Deadline) -> Result<(), DeviceError> {
        if self.misbehaviour.unreachable {
            let bounded = deadline.min(Deadline::after(SILENCE_CAP));
            while bounded.sleep(Duration::from_millis(20)) {}
            return Err(DeviceError::Unreachable("no answer from the device".into()));
        }
        let delay = self.misbehaviour.response_delay;
        if !delay.is_zero() {
            if deadline.remaining().is_some_and(|left| left < delay) {
                deadline.sleep(delay);
                return Err(DeviceError::Timeout("no answer in time".into()));
            }
            std::thread::sleep(delay);
        }
        Ok(())
    }

    fn path(&self, plug: Option<&str>) -> Result<PathBuf, DeviceError> {
        let plug = plug.ok_or_else(|| DeviceError::NoSuchPlug("no plug given".into()))?;
        let safe = !plug.is_empty()
            && !plug.starts_with('.')
            && !plug.contains('/')
            && !plug.contains('\0');
        if !safe {
            return Err(DeviceError::NoSuchPlug(format!(
                "invalid plug name {plug:?}"
            )));
        }
        Ok(self.dir.join(plug))
    }

    fn read(&self, plug: Option<&str>) -> Result<PowerState, DeviceError> {
        let path = self.path(plug)?;
        read_state(&path)
    }

    fn write(&self, plug: Option<&str>, state: PowerState) -> Result<(), DeviceError> {
        let path = self.path(plug)?;
        let text = match state {
            PowerState::On => "on\n",
            PowerState::Off => "off\n",
            PowerState::Unknown => "unknown\n",
        };
        // Write and rename, so the lab's scripts never read half a file.
        let tmp = self.dir.join(format!(".{}.tmp", plug.unwrap_or_default()));
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| DeviceError::Protocol(format!("cannot write {}: {e}", path.display())))
    }

    fn switch(
        &mut self,
        plug: Option<&str>,
        target: PowerState,
        deadline: Deadline,
    ) -> Result<(), DeviceError> {
        self.respond(deadline)?;
        let old = self.read(plug)?;
        let ignored = match target {
            PowerState::Off => self.misbehaviour.ignore_off,
            _ => self.misbehaviour.ignore_on,
        };
        if ignored {
            return Ok(());
        }
        self.write(plug, target)?;
        let key = plug.unwrap_or_default().to_owned();
        let mut memory = memory();
        memory.cycling.remove(&key);
        if self.misbehaviour.stale_reads > 0 && old != target {
            memory
                .stale
                .insert(key, (old, self.misbehaviour.stale_reads));
        }
        Ok(())
    }
}

fn read_state(path: &Path) -> Result<PowerState, DeviceError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(match text.trim().to_ascii_lowercase().as_str() {
            "on" => PowerState::On,
            "off" => PowerState::Off,
            _ => PowerState::Unknown,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(DeviceError::NoSuchPlug(
            format!("no state file {}", path.display()),
        )),
        Err(e) => Err(DeviceError::Protocol(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

impl PowerDevice for StateDir {
    fn status(
        &mut self,
        plug: Option<&str>,
        deadline: Deadline,
    ) -> Result<PowerState, DeviceError> {
        self.respond(deadline)?;
        let mut truth = self.read(plug)?;
        let key = plug.unwrap_or_default().to_owned();
        let mut memory = memory();
        if let Some(left) = memory.cycling.get(&key).copied() {
            if left > 0 {
                memory.cycling.insert(key, left - 1);
                return Ok(PowerState::Off);
            }
            memory.cycling.remove(&key);
            drop(memory);
            self.write(plug, PowerState::On)?;
            truth = PowerState::On;
            memory = self::memory();
        }
        if let Some((old, left)) = memory.stale.get(&key).copied()
            && left > 0
        {
            memory.stale.insert(key, (old, left - 1));
            return Ok(old);
        }
        let false_off = self.misbehaviour.false_off_reads;
        let left = memory.false_off.entry(key).or_insert(false_off);
        if truth == PowerState::On && *left > 0 {
            *left -= 1;
            return Ok(PowerState::Off);
        }
        Ok(truth)
    }

    fn power_on(&mut self, plug: Option<&str>, deadline: Deadline) -> Result<(), DeviceError> {
        self.switch(plug, PowerState::On, deadline)
    }

    fn power_off(&mut self, plug: Option<&str>, deadline: Deadline) -> Result<(), DeviceError> {
        self.switch(plug, PowerState::Off, deadline)
    }

    fn power_cycle(&mut self, plug: Option<&str>, deadline: Deadline) -> Result<(), DeviceError> {
        self.respond(deadline)?;
        self.read(plug)?;
        if self.misbehaviour.ignore_off {
            return Ok(());
        }
        let reads = self.misbehaviour.cycle_off_reads;
        if reads == 0 {
            // Off and on again faster than anyone can read.
            return self.write(plug, PowerState::On);
        }
        self.write(plug, PowerState::Off)?;
        memory()
            .cycling
            .insert(plug.unwrap_or_default().to_owned(), reads);
        Ok(())
    }

    fn list(&mut self, with_status: bool, deadline: Deadline) -> Result<Vec<Outlet>, DeviceError> {
        self.respond(deadline)?;
        let entries = std::fs::read_dir(&self.dir).map_err(|e| {
            DeviceError::Unreachable(format!("cannot list {}: {e}", self.dir.display()))
        })?;
        let mut outlets = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !entry.path().is_file() {
                continue;
            }
            let mut outlet = Outlet::new(name);
            if with_status {
                outlet.state = read_state(&entry.path()).ok();
            }
            outlets.push(outlet);
        }
        outlets.sort_by(|a, b| a.plug.cmp(&b.plug));
        Ok(outlets)
    }
}

/// The after-off hook of the dummy: one line per verified off, as the lab's
/// stand-in for umha's evacuation marker.
#[derive(Debug)]
pub struct MarkerFile {
    path: PathBuf,
}

impl MarkerFile {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
}

impl AfterOffHook for MarkerFile {
    fn name(&self) -> &str {
        "after_off_file"
    }

    fn run(&mut self, event: &FenceEvent<'_>, _deadline: Deadline) -> Result<(), HookError> {
        let node = match event.nodename {
            Some(node) => node.to_owned(),
            None if !event.plugs.is_empty() => event.plugs.join(","),
            None => "-".to_owned(),
        };
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        writeln!(file, "{node} {}", event.off_epoch())?;
        Ok(())
    }
}
