//! One reconcile step: snapshot, plan, CIB writes, then Nova work within
//! the step's time.

use std::collections::BTreeMap;

use openstack::{Compute, Service};
use thiserror::Error;
use umha_common::Deadline;

use crate::cluster::Cluster;
use crate::config::{Config, OnRecovery};
use crate::history::{Entry, History};
use crate::nova::{self, Fate, Incident, Nova, Tally};
use crate::plan::{self, ComputeNode, Event, Plan, Snapshot, Work, Write};
use crate::record::{NodeRecord, Phase};
use crate::selection::TagIndex;
use crate::storage::{self, HeartbeatReader};

#[derive(Debug, Error)]
pub enum StepError {
    #[error("cannot read the cluster state: {0}")]
    Cluster(#[from] cib::CibError),
}

/// How a step connects to Nova (a closure so tests can point it at a fake
/// cloud). Called only when there is Nova work.
pub type Connect<'a> = dyn Fn(Deadline) -> Result<(Compute, TagIndex), openstack::Error> + 'a;

/// What a step did, for the log and the tests.
#[derive(Debug, Default)]
pub struct Report {
    pub plan: Plan,
    /// The CIB version, when the step found nothing to do and wrote nothing.
    pub quiet: Option<cib::CibVersion>,
    pub write_errors: Vec<String>,
    pub settled: Vec<String>,
}

#[derive(Debug)]
pub struct Stepper<'a, C: Cluster> {
    pub cluster: &'a C,
    pub config: &'a Config,
    pub history: History,
    /// How lost nodes' storage heartbeats are read (`heartbeat_dir`).
    pub heartbeats: HeartbeatReader,
}

fn log_event(event: &Event) {
    let who = event
        .node
        .as_deref()
        .map(|n| format!("{n}: "))
        .unwrap_or_default();
    if event.alert {
        log::error!("ALERT {who}{}", event.message);
    } else {
        log::info!("{who}{}", event.message);
    }
}

/// An instance's entry in the log too (the history has it already).
fn log_entry(node: &str, e: &Entry) {
    let instance = e.instance.as_deref().unwrap_or("?");
    if e.event.ends_with("-error") {
        log::warn!("{node}: {instance}: {}", e.message);
    } else {
        log::info!("{node}: {instance}: {}", e.message);
    }
}

impl<'a, C: Cluster> Stepper<'a, C> {
    pub fn new(cluster: &'a C, config: &'a Config) -> Self {
        Self {
            cluster,
            config,
            history: History::new(&config.history_file),
            heartbeats: HeartbeatReader::default(),
        }
    }

    pub(crate) fn record(&self, entry: Entry) {
        if matches!(entry.event.as_str(), "incident-done" | "recovered") {
            self.mail(&entry.event, entry.node.as_deref(), &entry.message, false);
        }
        if let Err(e) = self.history.append(&entry) {
            log::error!("{e}");
        }
    }

    /// Spool a mail for an alert or an incident's milestone (started,
    /// released, done, recovered); the monitor sends it when due.
    fn mail(&self, kind: &str, node: Option<&str>, text: &str, alert: bool) {
        let Some(config) = &self.config.mail else {
            return;
        };
        let event = alert::Event {
            time: crate::nova::now(),
            source: "umha-evacuator".to_owned(),
            kind: kind.to_owned(),
            node: node.map(str::to_owned),
            severity: if alert {
                alert::Severity::Critical
            } else {
                alert::Severity::Info
            },
            text: if self.config.dry_run {
                format!("[dry run] {text}")
            } else {
                text.to_owned()
            },
        };
        if let Err(e) = alert::Outbox::open(config.clone()).and_then(|o| o.submit(&event)) {
            log::error!("alert mail not spooled ({e}): {text}");
        }
    }

    pub(crate) fn event(&mut self, event: &Event) {
        log_event(event);
        if event.alert || matches!(event.kind, "approved" | "released") {
            self.mail(
                event.kind,
                event.node.as_deref(),
                &event.message,
                event.alert,
            );
        }
        let mut entry = Entry::new(event.kind, event.message.clone());
        entry.node = event.node.clone();
        entry.dry_run = self.config.dry_run;
        if event.alert {
            entry.event = format!("alert:{}", event.kind);
        }
        self.record(entry);
    }

    fn write(&mut self, write: &Write, deadline: Deadline) -> Result<(), String> {
        self.cluster
            .apply(self.config, write, deadline)
            .map_err(|e| format!("{write:?}: {e}"))
    }

    fn write_all(&mut self, writes: &[Write], deadline: Deadline) -> Result<(), String> {
        for w in writes {
            self.write(w, deadline)?;
        }
        Ok(())
    }

    /// The status line, written when it changes.
    fn status(&mut self, node: &ComputeNode, text: String, deadline: Deadline) {
        if node.status.as_deref() == Some(text.as_str()) {
            return;
        }
        let write = Write::SetStatus {
            node: node.name.clone(),
            text,
        };
        if let Err(e) = self.write(&write, deadline) {
            log::error!("{e}");
        }
    }

    /// Run one step, stopping Nova work when `deadline` nears.
    pub fn step(&mut self, connect: &Connect<'_>, deadline: Deadline) -> Result<Report, StepError> {
        let now = nova::now();
        let mut snapshot = self.cluster.snapshot(self.config, now, deadline)?;
        storage::observe_heartbeats(
            &mut snapshot,
            &self.config.storage,
            &self.heartbeats,
            deadline,
        );
        let plan = plan::decide(
            &snapshot,
            &self.config.valve,
            &self.config.storage,
            self.config.dry_run,
        );
        let mut report = Report::default();
        if snapshot.is_quiet()
            && plan.writes.is_empty()
            && plan.work.is_empty()
            && plan.fence_requests.is_empty()
        {
            report.quiet = Some(snapshot.version);
        }
        for event in &plan.events {
            self.event(event);
        }
        if let Err(e) = self.write_all(&plan.writes, deadline) {
            // Never do Nova work on a plan the CIB did not take: a hold or
            // a marker that was not written must not be acted on.
            log::error!("CIB write failed, no Nova work this step: {e}");
            report.write_errors.push(e);
            report.plan = plan;
            self.sync();
            return Ok(report);
        }
        // After the writes: the request time is in the CIB before the
        // request is made, so no other step makes it again.
        self.request_fences(&plan.fence_requests, deadline);
        if !plan.work.is_empty() {
            self.work(&snapshot, &plan.work, connect, deadline, &mut report);
        }
        // Idle reserved hosts disabled in Nova (crate::reserve), judged on
        // the CIB as this step's plan left it: a marker it wrote makes the
        // segment busy, so a reserved host it may have just taken is not
        // put back into reserve in the same step.
        self.keep_reserved(&snapshot.after(&plan.writes), connect, deadline);
        report.plan = plan;
        self.sync();
        Ok(report)
    }

    fn request_fences(&mut self, nodes: &[String], deadline: Deadline) {
        for node in nodes {
            if let Err(e) =
                self.cluster
                    .request_fence(node, self.config.storage.fence_timeout, deadline)
            {
                self.event(&Event {
                    node: Some(node.clone()),
                    kind: "storage-fence-error",
                    message: format!(
                        "the fence request was refused: {e}; asking again after storage_fence_timeout"
                    ),
                    alert: true,
                });
            }
        }
    }

    fn sync(&mut self) {
        if let Err(e) = self.history.sync() {
            log::error!("{e}");
        }
    }

    fn work(
        &mut self,
        snapshot: &Snapshot,
        work: &[Work],
        connect: &Connect<'_>,
        deadline: Deadline,
        report: &mut Report,
    ) {
        let nodes: BTreeMap<&str, &ComputeNode> = snapshot
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n))
            .collect();
        let connected = connect(deadline)
            .map_err(|e| format!("cannot reach Nova: {e}"))
            .and_then(
                |(compute, tags)| match compute.compute_services(None, deadline) {
                    Ok(services) => Ok((compute, tags, services)),
                    Err(e) => Err(format!("cannot list Nova compute services: {e}")),
                },
            );
        let (compute, tags, services) = match connected {
            Ok(c) => c,
            Err(text) => {
                for w in work {
                    if let Some(node) = nodes.get(w.node.as_str()) {
                        self.alert_status(node, "nova-unreachable", text.clone(), deadline);
                    }
                }
                return;
            }
        };
        let hosts: Vec<&str> = services.iter().map(|s| s.host.as_str()).collect();
        let nova = Nova {
            compute: &compute,
            config: self.config,
            tags: &tags,
        };
        let mut active: Vec<(Work, String, Service)> = Vec::new();
        for w in work {
            let Some(node) = nodes.get(w.node.as_str()).copied() else {
                continue;
            };
            let host = match self.config.host_map.resolve(&w.node, &hosts) {
                Ok(h) => h.to_owned(),
                Err(e) => {
                    self.alert_status(node, "host-map", format!("not evacuating: {e}"), deadline);
                    continue;
                }
            };
            let Some(service) = services.iter().find(|s| s.host == host).cloned() else {
                continue;
            };
            let incident = Incident {
                node: &w.node,
                host: &host,
                fence: w.fence,
            };
            match w.phase {
                Phase::Restoring => self.restore(&nova, node, &incident, &service, deadline),
                _ => match nova.fence_service(&incident, &service, deadline) {
                    Ok(entries) => {
                        for e in entries {
                            log::info!("{}: {}", w.node, e.message);
                            self.record(e);
                        }
                        active.push((w.clone(), host.clone(), service));
                    }
                    Err(e) => self.alert_status(
                        node,
                        "nova-service",
                        format!("fenced; cannot force down/disable nova-compute on {host}: {e}"),
                        deadline,
                    ),
                },
            }
        }
        self.evacuate_all(&nova, &nodes, &active, deadline, report);
    }

    fn alert_status(
        &mut self,
        node: &ComputeNode,
        kind: &'static str,
        text: String,
        deadline: Deadline,
    ) {
        if node.status.as_deref() != Some(text.as_str()) {
            self.event(&Event {
                node: Some(node.name.clone()),
                kind,
                message: text.clone(),
                alert: true,
            });
        }
        self.status(node, text, deadline);
    }

    /// Rounds over every active incident until all are settled or the
    /// step's time is used up.
    fn evacuate_all(
        &mut self,
        nova: &Nova<'_>,
        nodes: &BTreeMap<&str, &ComputeNode>,
        active: &[(Work, String, Service)],
        deadline: Deadline,
        report: &mut Report,
    ) {
        let step_end = deadline.min(Deadline::after(self.config.step_time));
        let mut open: Vec<usize> = (0..active.len()).collect();
        let mut last: BTreeMap<usize, Tally> = BTreeMap::new();
        let mut rounds = crate::reserve::Rounds::default();
        while !open.is_empty() {
            let mut still = Vec::new();
            for &i in &open {
                let (w, host, _) = &active[i];
                let incident = Incident {
                    node: &w.node,
                    host,
                    fence: w.fence,
                };
                let mut tally = match nova.round(&incident, deadline) {
                    Ok(t) => t,
                    Err(e) => {
                        log::warn!("{}: reading its instances from Nova failed: {e}", w.node);
                        still.push(i);
                        continue;
                    }
                };
                // The recovery method: reserved hosts, or the scheduler.
                let targets =
                    self.targets(nova, nodes, &incident, &mut tally, &mut rounds, deadline);
                let ids = targets.ready(&tally);
                let (to, migrations) = (&targets.hosts, &tally.migrations);
                if self.config.dry_run {
                    for e in nova.evacuate(&incident, &ids, to, migrations, &self.history, deadline)
                    {
                        log_entry(&w.node, &e);
                    }
                    self.finish(
                        &incident,
                        nodes.get(w.node.as_str()).copied(),
                        &tally,
                        deadline,
                        report,
                    );
                    continue;
                }
                if !ids.is_empty() {
                    let entries =
                        nova.evacuate(&incident, &ids, to, migrations, &self.history, deadline);
                    for e in &entries {
                        log_entry(&w.node, e);
                    }
                    self.taken(&incident, &targets, &entries, &mut rounds, deadline);
                    still.push(i);
                } else if tally.settled() {
                    self.finish(
                        &incident,
                        nodes.get(w.node.as_str()).copied(),
                        &tally,
                        deadline,
                        report,
                    );
                } else {
                    still.push(i);
                }
                last.insert(i, tally);
            }
            open = still;
            if open.is_empty() || !step_end.sleep(nova::POLL) || step_end.expired() {
                break;
            }
        }
        for i in open {
            let (w, _, _) = &active[i];
            if let (Some(node), Some(tally)) = (nodes.get(w.node.as_str()).copied(), last.get(&i)) {
                self.status(node, format!("evacuating: {}", tally.summary()), deadline);
            }
        }
    }

    fn finish(
        &mut self,
        incident: &Incident<'_>,
        node: Option<&ComputeNode>,
        tally: &Tally,
        deadline: Deadline,
        report: &mut Report,
    ) {
        let dry = self.config.dry_run;
        for (id, (name, fate)) in &tally.fates {
            let (event, message) = match fate {
                Fate::Landed { host } => ("landed", format!("running on {host}")),
                Fate::Skipped(why) => ("skipped", format!("not evacuated: {why}")),
                Fate::Failed(why) => ("failed", format!("evacuation failed: {why}")),
                Fate::Unplaced(why) if dry => ("unplaced", format!("dry run: would stay: {why}")),
                Fate::Unplaced(why) => ("unplaced", format!("not evacuated: {why}")),
                Fate::Gone => ("gone", "deleted during the evacuation".to_owned()),
                Fate::Evacuate if dry => {
                    ("would-evacuate", "dry run: would be evacuated".to_owned())
                }
                Fate::Evacuate | Fate::Rebuilding => continue,
            };
            let mut e = incident.entry(event, message, dry);
            e.instance = Some(id.clone());
            e.instance_name = Some(name.clone()).filter(|n| !n.is_empty());
            self.record(e);
        }
        let failed = if dry {
            tally.failed_only()
        } else {
            tally.failed()
        };
        let mut writes = Vec::new();
        let text;
        if failed.is_empty() {
            let segment = node.and_then(|n| n.recovery.segment.as_deref());
            let phase = if dry || self.config.on_recovery_for(segment) == OnRecovery::Manual {
                Phase::Done
            } else {
                Phase::Restoring
            };
            text = if dry {
                format!(
                    "dry run: fenced at {}, would have evacuated {} instance(s) ({} skipped{}); Nova untouched",
                    incident.fence,
                    tally.count_would(),
                    tally.skipped(),
                    match tally.unplaced() {
                        0 => String::new(),
                        n => format!(", {n} not placed on a reserved host"),
                    }
                )
            } else if phase == Phase::Done {
                // Masakari's on_maintenance: the node stays out until the
                // operator puts it back (crate::maintenance).
                writes.push(Write::SetMaintenance {
                    node: incident.node.to_owned(),
                    text: format!(
                        "{} evacuated after the fence at {}; nova-compute on {} forced down and disabled until `umha host enable {}`",
                        nova::now(),
                        incident.fence,
                        incident.host,
                        incident.node
                    ),
                });
                format!(
                    "evacuated: {}; nova-compute on {} left forced down and disabled, node under maintenance (on_recovery=manual{})",
                    tally.summary(),
                    incident.host,
                    if self.config.on_recovery == OnRecovery::Manual {
                        String::new()
                    } else {
                        format!(
                            ", the default in segment {} whose recovery method uses reserved hosts",
                            crate::recovery::segment_name(segment)
                        )
                    }
                )
            } else {
                format!("evacuated: {}", tally.summary())
            };
            // Handled first: a crash between these writes then leaves a
            // stale marker (cleared by the next step), never a closed
            // incident that looks open.
            writes.push(Write::SetHandled {
                node: incident.node.to_owned(),
                fence: incident.fence,
            });
            writes.push(Write::SetRecord {
                node: incident.node.to_owned(),
                record: NodeRecord {
                    phase,
                    fence: incident.fence,
                },
            });
            writes.push(Write::ClearMarker {
                node: incident.node.to_owned(),
            });
            let mut e = incident.entry("incident-done", text.clone(), dry);
            e.message = text.clone();
            self.record(e);
            log::info!("{}: {text}", incident.node);
        } else {
            let what = match (tally.failed_only().len(), tally.unplaced()) {
                (_, 0) => "evacuation failed for",
                (0, _) => "no reserved host could take",
                _ => "evacuation failed, or no reserved host could take,",
            };
            text = format!(
                "{what} {} instance(s) ({}); marker kept, nova-compute stays off this node until an operator decides",
                failed.len(),
                failed
                    .iter()
                    .map(|(id, name, why)| format!(
                        "{} {id}: {why}",
                        if name.is_empty() { "?" } else { name }
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            writes.push(Write::SetRecord {
                node: incident.node.to_owned(),
                record: NodeRecord {
                    phase: Phase::Failed,
                    fence: incident.fence,
                },
            });
            self.event(&Event {
                node: Some(incident.node.to_owned()),
                kind: "incident-failed",
                message: text.clone(),
                alert: true,
            });
        }
        if let Err(e) = self.write_all(&writes, deadline) {
            log::error!("closing the incident of {}: {e}", incident.node);
            report.write_errors.push(e);
            return;
        }
        if let Some(node) = node {
            self.status(node, text, deadline);
        }
        report.settled.push(incident.node.to_owned());
    }

    fn restore(
        &mut self,
        nova: &Nova<'_>,
        node: &ComputeNode,
        incident: &Incident<'_>,
        service: &Service,
        deadline: Deadline,
    ) {
        // A close interrupted before the marker went.
        if node.marker.is_some() {
            let writes = [
                Write::SetHandled {
                    node: node.name.clone(),
                    fence: incident.fence,
                },
                Write::ClearMarker {
                    node: node.name.clone(),
                },
            ];
            if let Err(e) = self.write_all(&writes, deadline) {
                log::error!("{e}");
                return;
            }
        }
        if self.config.dry_run {
            return;
        }
        if !node.online {
            self.status(
                node,
                "evacuated; waiting for the node to return".to_owned(),
                deadline,
            );
            return;
        }
        match nova.restore(incident, service, deadline) {
            Ok((waiting, entries)) => {
                for e in entries {
                    log::info!("{}: {}", node.name, e.message);
                    self.record(e);
                }
                match waiting {
                    Some(why) => self.status(node, why, deadline),
                    None => {
                        let write = Write::SetRecord {
                            node: node.name.clone(),
                            record: NodeRecord {
                                phase: Phase::Done,
                                fence: incident.fence,
                            },
                        };
                        if let Err(e) = self.write(&write, deadline) {
                            log::error!("{e}");
                            return;
                        }
                        let text = format!(
                            "recovered: evacuated after the fence at {}; nova-compute on {} enabled again",
                            incident.fence, incident.host
                        );
                        self.record(incident.entry("recovered", text.clone(), false));
                        self.status(node, text, deadline);
                    }
                }
            }
            Err(e) => log::warn!(
                "{}: restoring nova-compute failed, will retry: {e}",
                node.name
            ),
        }
    }
}

impl Tally {
    fn count_would(&self) -> usize {
        self.fates
            .values()
            .filter(|(_, f)| matches!(f, Fate::Evacuate | Fate::Landed { .. } | Fate::Rebuilding))
            .count()
    }
}
