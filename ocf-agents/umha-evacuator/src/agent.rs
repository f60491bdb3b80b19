//! The OCF actions, on agent-core.

use std::fs::OpenOptions;
use std::sync::Arc;
use std::time::Duration;

use agent_core::{
    Action, AgentSpec, Context, OcfError, OcfResult, Params, ResourceAgent, RunState,
};
use openstack::{CloudConfig, Compute, ComputeOptions, Session, SessionOptions};
use umha_common::Deadline;

use crate::cluster::{Cluster, Pacemaker};
use crate::config::{self, Config};
use crate::selection::{Mode, TagIndex};
use crate::step::Stepper;

/// Time kept back from the operation's deadline for the CIB writes that
/// close a step.
const MARGIN: Duration = Duration::from_secs(5);

/// Even in a quiet cluster, read the whole CIB this often (seconds).
const FULL_READ_EVERY: i64 = 60;

#[derive(Debug, Default)]
pub struct Evacuator<C: Cluster = Pacemaker> {
    cluster: C,
}

impl<C: Cluster> Evacuator<C> {
    pub fn with(cluster: C) -> Self {
        Self { cluster }
    }

    pub fn cluster(&self) -> &C {
        &self.cluster
    }
}

/// Load clouds.yaml and open a session; configuration problems (a broken
/// file, an unknown cloud) are `Err`.
pub fn session(config: &Config) -> Result<Arc<Session>, openstack::Error> {
    let cloud = CloudConfig::load(Some(&config.cloud), config.clouds_yaml.as_deref())?;
    Ok(Arc::new(Session::new(cloud, SessionOptions::default())?))
}

/// The Nova client and the cloud-wide tag index for one step.
pub fn connect(
    config: &Config,
    deadline: Deadline,
) -> Result<(Compute, TagIndex), openstack::Error> {
    let session = session(config)?;
    let compute = Compute::connect(session, ComputeOptions::default(), deadline)?;
    let tags = match &config.selection.mode {
        Mode::Tagged { tag } => crate::tags::index(&compute, tag, deadline)?,
        _ => TagIndex::default(),
    };
    Ok((compute, tags))
}

/// Send the spooled alert mails that are due. A mail server that does not
/// answer costs at most one SMTP timeout per step, and the alerts stay
/// spooled for the next one.
fn flush_mail(mail: &alert::MailConfig) {
    match alert::Outbox::open(mail.clone())
        .and_then(|o| o.flush(crate::nova::now(), &alert::smtp::Smtp))
    {
        Ok(alert::Flushed::Sent(n)) => log::info!("mailed {n} alert(s) to {}", mail.to.join(", ")),
        Ok(_) => {}
        Err(e) => log::error!("alert mail: {e}; the alerts stay spooled"),
    }
}

fn configuration_error(e: &openstack::Error) -> OcfError {
    if e.is_configuration() {
        OcfError::configured(format!("OpenStack: {e}"))
    } else {
        OcfError::generic(format!("OpenStack: {e}"))
    }
}

impl<C: Cluster> Evacuator<C> {
    /// Authenticate and negotiate with Nova. Wrong credentials, an unknown
    /// cloud or a TLS failure is OCF_ERR_CONFIGURED; an unreachable cloud
    /// is only a warning at start, because the evacuator needs Nova only
    /// during an incident and must not be kept from running by an outage
    /// that may be over by then.
    fn check_cloud(&self, config: &Config, deadline: Deadline, strict: bool) -> OcfResult<()> {
        let session = session(config).map_err(|e| configuration_error(&e))?;
        match Compute::connect(session, ComputeOptions::default(), deadline) {
            Ok(c) => {
                log::info!(
                    "Nova at {} answers, microversion {}",
                    c.endpoint(),
                    c.version()
                );
                Ok(())
            }
            Err(e) if e.is_configuration() || strict => Err(configuration_error(&e)),
            Err(e) => {
                log::warn!("Nova is not reachable now (will retry at each incident): {e}");
                Ok(())
            }
        }
    }

    /// The last step found nothing to do, and the CIB has not changed
    /// since, nor has [`FULL_READ_EVERY`] passed: this step would find the
    /// same, so it is skipped for the price of one tiny CIB query. At a
    /// thousand nodes the full read costs most of a second of CPU.
    fn still_quiet(&self, quiet: &agent_core::StateFile) -> bool {
        let Ok(Some(text)) = quiet.read() else {
            return false;
        };
        let fields: Vec<i64> = text
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        let [admin_epoch, epoch, num_updates, at] = fields[..] else {
            return false;
        };
        let age = crate::nova::now() - at;
        if !(0..FULL_READ_EVERY).contains(&age) {
            return false;
        }
        let deadline = Deadline::after(Duration::from_secs(10));
        matches!(
            self.cluster.version(deadline),
            Ok((v, true)) if v == cib::CibVersion { admin_epoch, epoch, num_updates }
        )
    }

    fn started(ctx: &Context<'_>) -> OcfResult<agent_core::StateFile> {
        ctx.state_file("started")
    }
}

impl<C: Cluster> ResourceAgent for Evacuator<C> {
    const SPEC: &'static AgentSpec = &crate::spec::SPEC;
    type Config = Config;

    fn configure(&self, _ctx: &Context<'_>, params: &Params) -> OcfResult<Config> {
        config::from_params(params)
    }

    fn validate(&self, ctx: &Context<'_>, config: &Config) -> OcfResult<()> {
        for tool in ["cibadmin", "crm_attribute", "stonith_admin"] {
            if !umha_common::exec::find_in_path(tool) {
                return Err(OcfError::not_installed(format!("{tool} not found in PATH")));
            }
        }
        if let Some(mail) = &config.mail {
            mail.validate()
                .map_err(|e| OcfError::configured(e.to_string()))?;
        }
        self.check_cloud(config, ctx.deadline(), ctx.action() == Action::ValidateAll)
    }

    fn start(&self, ctx: &Context<'_>, config: &Config) -> OcfResult<()> {
        let file = Self::started(ctx)?;
        if !file.exists()? {
            file.write(&format!("started {}\n", crate::nova::now()))?;
        }
        log::info!(
            "started: watching {:?}{}",
            config.selector,
            if config.dry_run { " (dry run)" } else { "" }
        );
        Ok(())
    }

    fn stop(&self, ctx: &Context<'_>, _config: &Config) -> OcfResult<()> {
        // Everything that matters is in the CIB and in Nova; a step killed
        // midway is picked up by the next instance.
        ctx.state_file("quiet")?.remove()?;
        Self::started(ctx)?.remove()
    }

    fn monitor(&self, ctx: &Context<'_>, config: &Config) -> OcfResult<RunState> {
        let file = Self::started(ctx)?;
        if !file.exists()? {
            return Ok(RunState::Stopped);
        }
        if ctx.is_probe() {
            return Ok(RunState::Running);
        }
        // One step at a time per node, even if an operator runs the agent
        // by hand next to Pacemaker's monitor.
        let lock_path = ctx.state_file("lock")?.path().to_owned();
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| OcfError::generic(format!("{}: {e}", lock_path.display())))?;
        let _guard =
            match nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock) {
                Ok(g) => g,
                Err((_, errno)) => {
                    log::info!("another step is running ({errno}); skipping this one");
                    return Ok(RunState::Running);
                }
            };
        if let Some(mail) = &config.mail {
            flush_mail(mail);
        }
        let quiet = ctx.state_file("quiet")?;
        if self.still_quiet(&quiet) {
            return Ok(RunState::Running);
        }
        let deadline = match ctx.deadline().remaining() {
            Some(left) if left > MARGIN * 2 => Deadline::after(left - MARGIN),
            _ => ctx.deadline(),
        };
        let mut stepper = Stepper::new(&self.cluster, config);
        stepper.heartbeats.lock = ctx.state_file("heartbeat-lock")?.path().to_owned();
        let connect = |d: Deadline| connect(config, d);
        match stepper.step(&connect, deadline) {
            Ok(report) => {
                for e in &report.write_errors {
                    log::error!("{e}");
                }
                let remembered = match report.quiet {
                    Some(v) => quiet.write(&format!(
                        "{} {} {} {}\n",
                        v.admin_epoch,
                        v.epoch,
                        v.num_updates,
                        crate::nova::now()
                    )),
                    None => quiet.remove(),
                };
                if let Err(e) = remembered {
                    log::warn!("{}", e.reason());
                }
            }
            Err(e) => log::error!("{e}; nothing done this step"),
        }
        Ok(RunState::Running)
    }

    fn reload(&self, _ctx: &Context<'_>, config: &Config) -> OcfResult<()> {
        log::info!("reloaded{}", if config.dry_run { " (dry run)" } else { "" });
        Ok(())
    }

    fn stop_unconfigured(&self, ctx: &Context<'_>, _problem: &OcfError) -> OcfResult<()> {
        Self::started(ctx)?.remove()
    }

    fn probe_unconfigured(&self, ctx: &Context<'_>, _problem: &OcfError) -> OcfResult<RunState> {
        Ok(if Self::started(ctx)?.exists()? {
            RunState::Running
        } else {
            RunState::Stopped
        })
    }
}
