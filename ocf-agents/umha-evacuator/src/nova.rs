//! The Nova side of one incident: fence the service in Nova's eyes, find
//! the instances, evacuate each exactly once, follow them, and restore the
//! service afterwards.
//!
//! Every round re-derives the state of every instance from Nova (the
//! instances still on the host, and the evacuation migrations away from it
//! since the fence), so nothing the agent remembers can be stale: a round
//! after a crash, a failover or a lost answer sees what Nova sees. The
//! check right before each evacuate reads the instance and its migrations
//! afresh, because Nova accepts a second evacuate of an instance that is
//! already rebuilding and the instance then ends up stuck.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use openstack::migration::Phase as MigrationPhase;
use openstack::{
    Compute, EvacuateOptions, EvacuationStatus, Migration, MigrationQuery, Progress, Server,
    Service,
};
use umha_common::Deadline;

use crate::config::Config;
use crate::history::Entry;
use crate::selection::{Skip, TagIndex};

/// Migration records are stamped by Nova's clock, the fence by the
/// fencer's: this much earlier still belongs to the incident.
const CLOCK_SKEW: i64 = 60;

/// The disabled reason we write, so that restore only re-enables a service
/// we disabled, never one an operator disabled for other reasons.
pub const DISABLED_PREFIX: &str = "umha:";

/// One instance's place in the incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Running (or stopped, as it was) on another host.
    Landed { host: String },
    /// Nova is rebuilding it.
    Rebuilding,
    /// To be evacuated now.
    Evacuate,
    /// Stays: not selected.
    Skipped(Skip),
    /// Given up; the marker stays.
    Failed(String),
    /// Not evacuated: its recovery method allows only reserved hosts, and
    /// none can take it (why); the marker stays, as for a failure.
    Unplaced(String),
    /// Deleted by its owner meanwhile.
    Gone,
}

/// The instances of an incident after one round.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub fates: BTreeMap<String, (String, Fate)>,
    /// The evacuation migrations of each instance still on the host, as the
    /// round read them (for the check before each evacuate).
    pub migrations: BTreeMap<String, Vec<Migration>>,
    /// The instances still on the host, as the round read them (their
    /// flavors size them for reserved hosts).
    pub servers: BTreeMap<String, Server>,
}

impl Tally {
    fn count(&self, f: impl Fn(&Fate) -> bool) -> usize {
        self.fates.values().filter(|(_, fate)| f(fate)).count()
    }

    pub fn landed(&self) -> usize {
        self.count(|f| matches!(f, Fate::Landed { .. }))
    }

    pub fn working(&self) -> usize {
        self.count(|f| matches!(f, Fate::Rebuilding | Fate::Evacuate))
    }

    /// What keeps the incident open: failed and unplaced instances.
    pub fn failed(&self) -> Vec<(&str, &str, &str)> {
        self.fates
            .iter()
            .filter_map(|(id, (name, f))| match f {
                Fate::Failed(why) | Fate::Unplaced(why) => {
                    Some((id.as_str(), name.as_str(), why.as_str()))
                }
                _ => None,
            })
            .collect()
    }

    /// Failed only: a dry run places nothing for real, so what it could
    /// not place does not keep its incident open.
    pub fn failed_only(&self) -> Vec<(&str, &str, &str)> {
        self.fates
            .iter()
            .filter_map(|(id, (name, f))| match f {
                Fate::Failed(why) => Some((id.as_str(), name.as_str(), why.as_str())),
                _ => None,
            })
            .collect()
    }

    pub fn unplaced(&self) -> usize {
        self.count(|f| matches!(f, Fate::Unplaced(_)))
    }

    pub fn skipped(&self) -> usize {
        self.count(|f| matches!(f, Fate::Skipped(_)))
    }

    pub fn to_evacuate(&self) -> Vec<String> {
        self.fates
            .iter()
            .filter(|(_, (_, f))| *f == Fate::Evacuate)
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub fn settled(&self) -> bool {
        self.working() == 0
    }

    /// For the status line.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} landed", self.landed())];
        let working = self.working();
        if working > 0 {
            parts.push(format!("{working} in progress"));
        }
        let failed = self.failed_only().len();
        if failed > 0 {
            parts.push(format!("{failed} failed"));
        }
        let unplaced = self.unplaced();
        if unplaced > 0 {
            parts.push(format!("{unplaced} not placed"));
        }
        let skipped = self.skipped();
        if skipped > 0 {
            parts.push(format!("{skipped} skipped"));
        }
        parts.join(", ")
    }
}

/// One incident being worked on.
#[derive(Debug)]
pub struct Incident<'a> {
    pub node: &'a str,
    pub host: &'a str,
    pub fence: i64,
}

impl Incident<'_> {
    fn since(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(self.fence - CLOCK_SKEW, 0)
    }

    pub fn entry(&self, event: &str, message: impl Into<String>, dry_run: bool) -> Entry {
        let mut e = Entry::new(event, message);
        e.node = Some(self.node.to_owned());
        e.host = Some(self.host.to_owned());
        e.fence = Some(self.fence);
        e.dry_run = dry_run;
        e
    }

    fn instance_entry(
        &self,
        event: &str,
        server: (&str, &str),
        message: impl Into<String>,
        dry_run: bool,
    ) -> Entry {
        let mut e = self.entry(event, message, dry_run);
        e.instance = Some(server.0.to_owned());
        e.instance_name = Some(server.1.to_owned()).filter(|n| !n.is_empty());
        e
    }
}

#[derive(Debug)]
pub struct Nova<'a> {
    pub compute: &'a Compute,
    pub config: &'a Config,
    pub tags: &'a TagIndex,
}

fn epoch_now() -> i64 {
    Utc::now().timestamp()
}

impl Nova<'_> {
    /// Make Nova count the host as down (force-down first, so that it stops
    /// trusting heartbeats at once), then disable it with a reason so the
    /// scheduler sends nothing there. In a dry run only say what would be done.
    pub fn fence_service(
        &self,
        incident: &Incident<'_>,
        service: &Service,
        deadline: Deadline,
    ) -> Result<Vec<Entry>, openstack::Error> {
        let dry = self.config.dry_run;
        let mut out = Vec::new();
        if !service.forced_down {
            if !dry {
                self.compute.force_down(service, deadline)?;
            }
            out.push(incident.entry(
                "force-down",
                format!("nova-compute on {} forced down", incident.host),
                dry,
            ));
        }
        if !service.is_disabled() {
            let why = format!(
                "{DISABLED_PREFIX} {} fenced at {}, evacuating",
                incident.node, incident.fence
            );
            if !dry {
                self.compute.disable(service, &why, deadline)?;
            }
            out.push(incident.entry(
                "disable",
                format!("nova-compute on {} disabled: {why}", incident.host),
                dry,
            ));
        }
        Ok(out)
    }

    /// Where every instance of the incident stands now.
    pub fn round(
        &self,
        incident: &Incident<'_>,
        deadline: Deadline,
    ) -> Result<Tally, openstack::Error> {
        let since = incident.since();
        let on_source = self.compute.servers_on_host(incident.host, deadline)?;
        let migrations: Vec<Migration> = self
            .compute
            .migrations(&MigrationQuery::evacuations_from(incident.host), deadline)?
            .into_iter()
            .filter(|m| match (since, m.created()) {
                (Some(s), Some(c)) => c >= s,
                _ => true,
            })
            .collect();
        let mut by_instance: BTreeMap<&str, Vec<&Migration>> = BTreeMap::new();
        for m in &migrations {
            if let Some(id) = m.instance_uuid.as_deref() {
                by_instance.entry(id).or_default().push(m);
            }
        }
        let here: BTreeSet<&str> = on_source.iter().map(|s| s.id.as_str()).collect();
        let moved: Vec<String> = by_instance
            .keys()
            .filter(|id| !here.contains(*id))
            .map(|id| (*id).to_owned())
            .collect();
        let moved_servers =
            openstack::bulk::map_bounded(&moved, self.config.max_parallel.max(4), |id| match self
                .compute
                .server(id, deadline)
            {
                Ok(s) => Ok(Some(s)),
                Err(openstack::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            });
        let mut tally = Tally::default();
        for server in &on_source {
            let mine: Vec<Migration> = by_instance
                .get(server.id.as_str())
                .map(|v| v.iter().map(|m| (*m).clone()).collect())
                .unwrap_or_default();
            let fate = self.fate_on_source(incident, server, &mine, since);
            tally.migrations.insert(server.id.clone(), mine);
            tally
                .fates
                .insert(server.id.clone(), (server.name.clone(), fate));
            tally.servers.insert(server.id.clone(), server.clone());
        }
        for (id, result) in moved.iter().zip(moved_servers) {
            let mine = by_instance.get(id.as_str()).cloned().unwrap_or_default();
            let fate = match result? {
                None => ("".to_owned(), Fate::Gone),
                Some(server) => {
                    let fate = self.fate_moved(incident, &server, &mine);
                    (server.name, fate)
                }
            };
            tally.fates.insert(id.clone(), fate);
        }
        Ok(tally)
    }

    fn timed_out(&self, migrations: &[&Migration]) -> Option<String> {
        let started = migrations
            .iter()
            .filter(|m| m.phase() == MigrationPhase::InProgress)
            .filter_map(|m| m.created())
            .min()?;
        let limit = chrono::Duration::from_std(self.config.instance_timeout).ok()?;
        (Utc::now() - started > limit).then(|| {
            format!(
                "rebuild not finished {}s after it started",
                self.config.instance_timeout.as_secs()
            )
        })
    }

    fn failed_attempts(migrations: &[&Migration]) -> u32 {
        let n = migrations
            .iter()
            .filter(|m| m.phase() == MigrationPhase::Failed)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn fate_on_source(
        &self,
        incident: &Incident<'_>,
        server: &Server,
        mine: &[Migration],
        since: Option<DateTime<Utc>>,
    ) -> Fate {
        let refs: Vec<&Migration> = mine.iter().collect();
        match openstack::migration::classify(server, mine, incident.host, since) {
            EvacuationStatus::InProgress { .. } | EvacuationStatus::Done { .. } => {
                match self.timed_out(&refs) {
                    Some(why) => Fate::Failed(why),
                    None => Fate::Rebuilding,
                }
            }
            EvacuationStatus::NotEvacuated | EvacuationStatus::Failed { .. } => {
                let attempts = Self::failed_attempts(&refs);
                if let Err(skip) = self
                    .config
                    .selection
                    .decide(server, self.tags, attempts > 0)
                {
                    return Fate::Skipped(skip);
                }
                if attempts >= self.config.max_attempts {
                    Fate::Failed(format!("{attempts} evacuation attempts failed"))
                } else {
                    Fate::Evacuate
                }
            }
        }
    }

    fn fate_moved(&self, incident: &Incident<'_>, server: &Server, mine: &[&Migration]) -> Fate {
        match server.progress(incident.host) {
            Progress::Landed { host, .. } => Fate::Landed { host },
            Progress::Failed => Fate::Failed(format!(
                "in ERROR on {} after its evacuation",
                server.host.as_deref().unwrap_or("?")
            )),
            Progress::OnSource => Fate::Rebuilding,
            Progress::Rebuilding | Progress::Busy { .. } | Progress::Unknown => {
                match self.timed_out(mine) {
                    Some(why) => Fate::Failed(why),
                    None => Fate::Rebuilding,
                }
            }
        }
    }

    /// Evacuate `ids`, each after a fresh read of the instance (its
    /// migrations as the round just listed them), at most `max_parallel` at
    /// once, to the host `targets` names for it (a reserved host), else
    /// wherever the scheduler chooses. Returns the history entries; failures
    /// leave the instance for the next round, whose check sees whether Nova
    /// took it after all.
    pub fn evacuate(
        &self,
        incident: &Incident<'_>,
        ids: &[String],
        targets: &BTreeMap<String, String>,
        migrations: &BTreeMap<String, Vec<Migration>>,
        history: &crate::history::History,
        deadline: Deadline,
    ) -> Vec<Entry> {
        let dry = self.config.dry_run;
        let since = incident.since();
        let one = |id: &String| -> Entry {
            let server = match self.compute.server(id, deadline) {
                Ok(s) => s,
                Err(e) => {
                    return incident.instance_entry(
                        "evacuate-error",
                        (id, ""),
                        format!("check before evacuate failed: {e}"),
                        dry,
                    );
                }
            };
            let who = (server.id.as_str(), server.name.as_str());
            // The instance read afresh: the evacuate API sets its task state
            // and creates the migration in the same request, so any
            // evacuation accepted since the round shows here as REBUILD (or
            // as a host that is no longer the failed one).
            let known = migrations.get(id).map(Vec::as_slice).unwrap_or_default();
            let status = openstack::migration::classify(&server, known, incident.host, since);
            let retry = match &status {
                EvacuationStatus::NotEvacuated => false,
                EvacuationStatus::Failed { .. } => true,
                EvacuationStatus::InProgress { .. } | EvacuationStatus::Done { .. } => {
                    return incident.instance_entry(
                        "evacuate-skipped",
                        who,
                        "already being evacuated; not sent again",
                        dry,
                    );
                }
            };
            if server.host.as_deref() != Some(incident.host) {
                return incident.instance_entry(
                    "evacuate-skipped",
                    who,
                    "no longer on the failed host; not sent",
                    dry,
                );
            }
            let what = if retry {
                "evacuate (retry)"
            } else {
                "evacuate"
            };
            let target = targets.get(id);
            let to = target
                .map(|h| format!(" to reserved host {h}"))
                .unwrap_or_default();
            if dry {
                return incident.instance_entry(
                    "would-evacuate",
                    who,
                    format!(
                        "dry run: would {what} {} ({}){to}",
                        server.name, server.status
                    ),
                    true,
                );
            }
            let options = EvacuateOptions {
                host: target.cloned(),
                ..EvacuateOptions::default()
            };
            match self.compute.evacuate(&server.id, &options, deadline) {
                Ok(()) => incident.instance_entry(
                    "evacuate",
                    who,
                    format!("{what} accepted ({}){to}", server.status),
                    false,
                ),
                Err(e) => incident.instance_entry(
                    "evacuate-error",
                    who,
                    format!("{what} failed: {e}"),
                    false,
                ),
            }
        };
        let run = |ids: &[String]| {
            openstack::bulk::map_bounded(ids, self.config.max_parallel, |id| {
                let entry = one(id);
                if let Err(e) = history.append(&entry) {
                    log::error!("{e}");
                }
                entry
            })
        };
        // Those going to a reserved host first: the scheduler may see that
        // host as soon as it is enabled, and must not take its room before
        // the instances it was chosen for.
        let (to_reserved, rest): (Vec<String>, Vec<String>) =
            ids.iter().cloned().partition(|id| targets.contains_key(id));
        let mut entries = run(&to_reserved);
        entries.extend(run(&rest));
        entries
    }

    /// One step of bringing the service back after the instances are
    /// settled: un-force when Nova allows it (its `done` migrations become
    /// `completed` once nova-compute is back), wait for up, then enable. `Ok(None)`
    /// when finished; `Ok(Some(why))` when waiting.
    pub fn restore(
        &self,
        incident: &Incident<'_>,
        service: &Service,
        deadline: Deadline,
    ) -> Result<(Option<String>, Vec<Entry>), openstack::Error> {
        let mut out = Vec::new();
        let pending = self
            .compute
            .migrations(&MigrationQuery::evacuations_from(incident.host), deadline)?
            .into_iter()
            .filter(|m| m.status == "done")
            .filter(|m| match (incident.since(), m.created()) {
                (Some(s), Some(c)) => c >= s,
                _ => true,
            })
            .count();
        if pending > 0 {
            return Ok((
                Some(format!(
                    "evacuated; waiting for nova-compute on {} to clean up {pending} evacuation(s)",
                    incident.host
                )),
                out,
            ));
        }
        if service.forced_down {
            match self.compute.unforce_down(service, deadline) {
                Ok(()) => out.push(incident.entry(
                    "unforce-down",
                    format!("nova-compute on {} no longer forced down", incident.host),
                    false,
                )),
                Err(openstack::Error::EvacuationsNotCompleted { .. }) => {
                    return Ok((
                        Some("evacuated; Nova still has evacuations to complete".to_owned()),
                        out,
                    ));
                }
                Err(e) => return Err(e),
            }
            return Ok((
                Some(format!(
                    "evacuated; waiting for nova-compute on {} to report up",
                    incident.host
                )),
                out,
            ));
        }
        if !service.is_up() {
            return Ok((
                Some(format!(
                    "evacuated; waiting for nova-compute on {} to report up",
                    incident.host
                )),
                out,
            ));
        }
        let reason = service.disabled_reason.as_deref().unwrap_or_default();
        let ours = reason.starts_with(DISABLED_PREFIX);
        if service.is_disabled() && reason.starts_with(crate::recovery::RESERVED_REASON) {
            // A reserved host that failed while in reserve: back in reserve.
            out.push(incident.entry(
                "enable-skipped",
                format!(
                    "nova-compute on {} left disabled: it was disabled as a reserved host",
                    incident.host
                ),
                false,
            ));
        } else if service.is_disabled() && ours {
            self.compute.enable(service, deadline)?;
            out.push(incident.entry(
                "enable",
                format!("nova-compute on {} enabled again", incident.host),
                false,
            ));
        } else if service.is_disabled() {
            out.push(incident.entry(
                "enable-skipped",
                format!(
                    "nova-compute on {} was disabled by someone else; left disabled",
                    incident.host
                ),
                false,
            ));
        }
        Ok((None, out))
    }
}

/// Whether the latest failed evacuation among `migrations` failed for want
/// of a host: Nova's conductor marks the migration `error` when the
/// scheduler finds no valid host (a rebuild failing on its destination
/// marks it `failed`). That is when `auto_priority` turns to reserved hosts.
pub fn no_valid_host(migrations: &[Migration]) -> bool {
    migrations
        .iter()
        .filter(|m| m.phase() == MigrationPhase::Failed)
        .max_by_key(|m| (m.created(), m.id))
        .is_some_and(|m| m.status == "error")
}

/// How long a round may wait between polls.
pub const POLL: Duration = Duration::from_secs(1);

pub fn now() -> i64 {
    epoch_now()
}
