//! The OCF actions: checks in, node attributes out.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use agent_core::value::format_duration;
use agent_core::{
    Action, AgentSpec, Context, OcfError, OcfResult, Params, ResourceAgent, RunState, StateFile,
};
use umha_common::Deadline;

use crate::attributes::{self, Attrd, AttributeWriter, Values};
use crate::config::{self, Config};
use crate::heartbeat::{self, Checker, Mode, PathStatus};
use crate::icmp::{IcmpProber, Prober};
use crate::state::{self, NodeState};
use crate::verdict::{self, Health, Summary, Verdict};

/// Time kept back from the checks for writing attributes: a quarter of
/// what is left, at most this.
const PUBLISH_RESERVE: Duration = Duration::from_secs(2);

/// The agent, over its three dependencies so that tests can replace them.
#[derive(Debug, Clone)]
pub struct StorageMonitor<P = IcmpProber, W = Attrd> {
    prober: P,
    writer: W,
    checker: Checker,
}

impl Default for StorageMonitor {
    fn default() -> Self {
        Self::with(IcmpProber, Attrd, Checker::default())
    }
}

impl<P: Prober, W: AttributeWriter> StorageMonitor<P, W> {
    pub fn with(prober: P, writer: W, checker: Checker) -> Self {
        Self {
            prober,
            writer,
            checker,
        }
    }

    pub fn writer(&self) -> &W {
        &self.writer
    }

    fn state_file(ctx: &Context<'_>) -> OcfResult<StateFile> {
        ctx.state_file("state")
    }

    fn lock_path(ctx: &Context<'_>) -> OcfResult<PathBuf> {
        Ok(ctx.state_file("heartbeat-lock")?.path().to_owned())
    }

    /// Both checks at once, done before the deadline with time left to publish.
    fn check(
        &self,
        ctx: &Context<'_>,
        config: &Config,
    ) -> OcfResult<(Verdict, Option<PathStatus>)> {
        let node = ctx.node_name()?;
        let checks = checks_deadline(ctx.deadline());
        if let Some(left) = checks.remaining()
            && config.plan.duration() > left
        {
            log::warn!(
                "the echo schedule takes up to {}, but this {} has {} left: echoes still in flight then are not counted. Lengthen the operation timeout, or shorten ping_count, ping_interval or ping_timeout",
                format_duration(config.plan.duration()),
                ctx.action(),
                format_duration(left)
            );
        }
        let heartbeat = match &config.heartbeat {
            Some(hb) => {
                let lock = Self::lock_path(ctx)?;
                let until = Deadline::after(hb.timeout).min(checks);
                Some((self.checker.start(&lock, &hb.dir, hb.mode, node), until))
            }
            None => None,
        };
        let outcomes = self.prober.probe(&config.addresses, &config.plan, checks);
        let path = heartbeat.map(|(pending, until)| pending.wait(until));
        let verdict = verdict::judge(&config.rules, &outcomes, path.as_ref());
        Ok((verdict, path))
    }

    /// Write what differs from what attrd was last told (everything when
    /// `force`d), and remember what it accepted.
    fn publish(
        &self,
        ctx: &Context<'_>,
        config: &Config,
        state: &mut NodeState,
        desired: &Values,
        force: bool,
    ) -> OcfResult<()> {
        let changes = attributes::changes(desired, &state.published, force);
        if changes.is_empty() {
            return Ok(());
        }
        let node = ctx.node_name()?;
        // The red count is written undampened: it changes at every red
        // check, and a dampening delay at least as long as the monitor
        // interval would keep postponing it for the whole outage. It is a
        // streak itself, so it needs no smoothing.
        let (count, rest) = changes.partition(&[config.names.red_count.as_str()]);
        let mut failures = attributes::apply(
            &self.writer,
            node,
            &rest,
            config.dampen,
            ctx.deadline(),
            &mut state.published,
        );
        failures.extend(attributes::apply(
            &self.writer,
            node,
            &count,
            None,
            ctx.deadline(),
            &mut state.published,
        ));
        if failures.is_empty() {
            log::debug!(
                "published {} attribute change(s)",
                rest.set.len() + rest.delete.len() + count.set.len() + count.delete.len()
            );
            if force {
                state.republished = state::now();
            }
        } else {
            log::error!(
                "cannot publish node attributes, retrying at the next monitor: {}",
                failures.join("; ")
            );
        }
        Ok(())
    }

    /// A full monitor pass: check, log a change, publish, remember.
    fn observe(
        &self,
        ctx: &Context<'_>,
        config: &Config,
        file: &StateFile,
        mut state: NodeState,
        force: bool,
    ) -> OcfResult<Verdict> {
        let (verdict, _) = self.check(ctx, config)?;
        let summary = verdict.summary();
        log_change(state.last.as_ref(), &verdict, &summary);
        let due = force
            || config.republish.is_some_and(|every| {
                state::now() >= state.republished.saturating_add(every.as_secs())
            });
        let before = state.clone();
        state.red_checks = attributes::next_streak(state.red_checks, summary.health);
        let desired = config.names.desired(&summary, state.red_checks);
        state.last = Some(summary);
        self.publish(ctx, config, &mut state, &desired, due)?;
        if state != before {
            file.write(&state.render())?;
        }
        Ok(verdict)
    }

    /// Delete `names` for this node; failures are logged, never fatal (a
    /// failed stop gets the node fenced).
    fn delete_attributes(&self, ctx: &Context<'_>, names: &BTreeSet<String>) -> OcfResult<()> {
        let node = ctx.node_name()?;
        for name in names {
            let until = Deadline::after(attributes::WRITE_TIMEOUT).min(ctx.deadline());
            if let Err(e) = self.writer.delete(node, name, until) {
                log::error!(
                    "cannot delete node attribute {name}: {e}; it keeps its last value until the cluster forgets it"
                );
            }
        }
        Ok(())
    }

    fn forget_lock(ctx: &Context<'_>) {
        if let Ok(lock) = Self::lock_path(ctx)
            && lock.exists()
            && !heartbeat::lock_is_held(&lock)
        {
            let _ = std::fs::remove_file(&lock);
        }
    }

    /// The validate-all path check: a real check, where only a definite
    /// "unusable" is a configuration error. A share that is down or not
    /// mounted yet is the monitor's business (red), not a reason to refuse.
    fn validate_path(&self, ctx: &Context<'_>, hb: &config::HeartbeatConfig) -> OcfResult<()> {
        // pcs may run validate-all where no node name can be found; listing
        // the directory needs none.
        let (mode, node) = match ctx.node_name() {
            Ok(node) => (hb.mode, node.to_owned()),
            Err(_) => (Mode::Read, String::new()),
        };
        let lock = match Self::lock_path(ctx) {
            Ok(l) => l,
            Err(_) => ctx
                .rsctmp()
                .join(format!("{}@validate.heartbeat-lock", ctx.spec().name)),
        };
        let until = Deadline::after(hb.timeout).min(ctx.deadline());
        match self.checker.start(&lock, &hb.dir, mode, &node).wait(until) {
            PathStatus::Ok => Ok(()),
            PathStatus::Unusable(why) => Err(unusable(&why, hb.mode)),
            other => {
                log::warn!(
                    "heartbeat_path: {} (the monitor will report this node red until it works)",
                    other.describe()
                );
                Ok(())
            }
        }
    }
}

fn unusable(why: &str, mode: Mode) -> OcfError {
    let hint = match mode {
        Mode::Write => "; fix the directory, or set heartbeat_write=false for a read-only share",
        Mode::Read => "",
    };
    OcfError::configured(format!("heartbeat_path is unusable: {why}{hint}"))
}

/// The checks' deadline: the operation's, less time to publish.
fn checks_deadline(op: Deadline) -> Deadline {
    match op.remaining() {
        None => op,
        Some(left) => Deadline::after(left.saturating_sub((left / 4).min(PUBLISH_RESERVE))),
    }
}

fn log_change(before: Option<&Summary>, verdict: &Verdict, after: &Summary) {
    let why = if verdict.reasons.is_empty() {
        String::new()
    } else {
        format!(" ({})", verdict.reasons.join("; "))
    };
    let line = format!(
        "storage {}: score {}, {}/{} addresses reachable [{}]{why}",
        after.health, after.score, verdict.reachable, verdict.total, after.detail
    );
    match before {
        Some(b) if !b.differs_for_log(after) => log::debug!("{line}"),
        Some(b) if after.health == Health::Red && b.health != Health::Red => {
            log::warn!("storage was {}, now {line}", b.health)
        }
        Some(b) => log::info!("storage was {}, now {line}", b.health),
        None if after.health == Health::Red => log::warn!("{line}"),
        None => log::info!("{line}"),
    }
}

impl<P: Prober, W: AttributeWriter> ResourceAgent for StorageMonitor<P, W> {
    const SPEC: &'static AgentSpec = &crate::spec::SPEC;
    type Config = Config;

    fn configure(&self, _ctx: &Context<'_>, params: &Params) -> OcfResult<Config> {
        config::from_params(params)
    }

    fn validate(&self, ctx: &Context<'_>, config: &Config) -> OcfResult<()> {
        self.writer.available().map_err(OcfError::not_installed)?;
        if let Err(e) = self.prober.check_access(&config.families()) {
            return Err(if e.is_permission() {
                OcfError::perm(e.to_string())
            } else {
                OcfError::not_installed(e.to_string())
            });
        }
        if ctx.action() == Action::ValidateAll
            && let Some(hb) = &config.heartbeat
        {
            self.validate_path(ctx, hb)?;
        }
        Ok(())
    }

    fn start(&self, ctx: &Context<'_>, config: &Config) -> OcfResult<()> {
        let file = Self::state_file(ctx)?;
        if file.exists()? {
            log::info!("already started");
            return Ok(());
        }
        if let Some(left) = checks_deadline(ctx.deadline()).remaining()
            && config.plan.duration() > left
        {
            return Err(OcfError::configured(format!(
                "a check takes up to {} ((ping_count - 1) x ping_interval + ping_timeout) but start has {}: shorten them or lengthen the start and monitor timeouts",
                format_duration(config.plan.duration()),
                format_duration(left)
            )));
        }
        let (verdict, path) = self.check(ctx, config)?;
        if let (Some(PathStatus::Unusable(why)), Some(hb)) = (&path, &config.heartbeat) {
            return Err(unusable(why, hb.mode));
        }
        // Recorded before anything is published, so that a stop after a
        // crash here still finds what to clean up.
        let mut state = NodeState::started_now();
        file.write(&state.render())?;
        let summary = verdict.summary();
        log_change(None, &verdict, &summary);
        state.red_checks = attributes::next_streak(0, summary.health);
        let desired = config.names.desired(&summary, state.red_checks);
        state.last = Some(summary);
        self.publish(ctx, config, &mut state, &desired, true)?;
        file.write(&state.render())
    }

    fn stop(&self, ctx: &Context<'_>, config: &Config) -> OcfResult<()> {
        let file = Self::state_file(ctx)?;
        let mut names: BTreeSet<String> = config
            .names
            .enabled()
            .into_iter()
            .map(str::to_owned)
            .collect();
        if let Some(text) = file.read()? {
            names.extend(NodeState::parse(&text).published.into_keys());
        }
        self.delete_attributes(ctx, &names)?;
        file.remove()?;
        Self::forget_lock(ctx);
        Ok(())
    }

    fn monitor(&self, ctx: &Context<'_>, config: &Config) -> OcfResult<RunState> {
        let file = Self::state_file(ctx)?;
        let Some(text) = file.read()? else {
            return Ok(RunState::Stopped);
        };
        let mut state = NodeState::parse(&text);
        match (ctx.is_probe(), state.last.clone()) {
            // A probe comes after the cluster may have lost its attributes
            // (controller restart, reconnection, cleanup): say again what we
            // last saw, without a check, so the probe stays quick.
            (true, Some(last)) => {
                let desired = config.names.desired(&last, state.red_checks);
                let before = state.clone();
                self.publish(ctx, config, &mut state, &desired, true)?;
                if state != before {
                    file.write(&state.render())?;
                }
            }
            (probe, _) => {
                self.observe(ctx, config, &file, state, probe)?;
            }
        }
        Ok(RunState::Running)
    }

    fn reload(&self, ctx: &Context<'_>, config: &Config) -> OcfResult<()> {
        let file = Self::state_file(ctx)?;
        let Some(text) = file.read()? else {
            return Ok(());
        };
        // A check with the new parameters; attributes they no longer want go.
        self.observe(ctx, config, &file, NodeState::parse(&text), false)?;
        log::info!("reloaded");
        Ok(())
    }

    /// Parameters are broken now, but a resource started with earlier good
    /// ones left attributes behind: the state file (keyed by node, not by
    /// parameters) still says which.
    fn stop_unconfigured(&self, ctx: &Context<'_>, _problem: &OcfError) -> OcfResult<()> {
        let file = Self::state_file(ctx)?;
        if let Some(text) = file.read()? {
            let names: BTreeSet<String> = NodeState::parse(&text).published.into_keys().collect();
            self.delete_attributes(ctx, &names)?;
            file.remove()?;
        }
        Self::forget_lock(ctx);
        Ok(())
    }

    fn probe_unconfigured(&self, ctx: &Context<'_>, _problem: &OcfError) -> OcfResult<RunState> {
        Ok(if Self::state_file(ctx)?.exists()? {
            RunState::Running
        } else {
            RunState::Stopped
        })
    }
}

#[cfg(test)]
mod tests;
