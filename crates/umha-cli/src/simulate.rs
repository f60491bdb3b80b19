//! `umha simulate`: what the evacuator would decide on a captured cluster
//! state, in the spirit of `crm_simulate -x`. It runs the agent's own pure
//! decision ([`umha_evacuator::plan::decide`]) on the capture and writes
//! nothing anywhere.
//!
//! Inputs: the CIB (`cibadmin --query > cib.xml`), optionally the fence
//! history (`stonith_admin --history '*' --verbose --output-as=xml`), which
//! the gate needs for Pacemaker Remote nodes lost without a marker, and
//! optionally a Nova snapshot: one JSON object with Nova's own
//! `os-services` and `servers/detail` answers side by side,
//! `{"services": [...], "servers": [...]}`, as `umha snapshot-nova` writes
//! it ([`crate::nova`]), or, without umha at hand:
//!
//! ```text
//! T=$(openstack token issue -f value -c id); N=$(openstack endpoint list --service compute --interface public -f value -c URL)
//! H='-H X-OpenStack-Nova-API-Version:2.60 -H X-Auth-Token:'$T
//! jq -n --argjson s "$(curl -s $H $N/os-services?binary=nova-compute)" \
//!       --argjson v "$(curl -s $H "$N/servers/detail?all_tenants=1")" \
//!       '{services: $s.services, servers: $v.servers}' > nova.json
//! ```
//!
//! With it, each evacuation the plan starts lists the instances the node's
//! host has and whether they would go.

use std::collections::BTreeSet;
use std::path::Path;

use cib::FenceHistory;
use openstack::{Server, Service};
use serde::Serialize;
use umha_evacuator::config::{Config, OnRecovery};
use umha_evacuator::plan::{self, Plan, Snapshot, Write};
use umha_evacuator::record::Phase;
use umha_evacuator::recovery::{self, RecoveryMethod, ReserveAction};
use umha_evacuator::selection::TagIndex;
use umha_evacuator::valve::Verdict;

use crate::CliError;
use crate::context::State;
use crate::render::{self, Format};
use crate::when::format_epoch;

/// A Nova snapshot (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct NovaSnapshot {
    pub services: Vec<Service>,
    pub servers: Vec<Server>,
}

impl NovaSnapshot {
    pub fn read(path: &Path) -> Result<Self, CliError> {
        let text = std::fs::read(path).map_err(|e| CliError::io(path, e))?;
        Self::parse(&text).map_err(|e| CliError::Invalid(format!("{}: {e}", path.display())))
    }

    /// Each half goes through the client's own decoder of that Nova answer.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
        let half = |key: &str| -> Result<Vec<u8>, String> {
            let part = value.get(key).ok_or_else(|| {
                format!("no \"{key}\" list (expected {{\"services\": [...], \"servers\": [...]}})")
            })?;
            serde_json::to_vec(&serde_json::json!({ key: part })).map_err(|e| e.to_string())
        };
        let services =
            openstack::service::parse_services(&half("services")?).map_err(|e| e.to_string())?;
        let (servers, _) =
            openstack::server::parse_servers_page(&half("servers")?).map_err(|e| e.to_string())?;
        Ok(Self { services, servers })
    }
}

/// The gate's answer for one node.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Gate {
    pub node: String,
    pub online: bool,
    /// `evacuate` (owed, fence time given), `none` (nothing owed) or `blocked`.
    pub verdict: &'static str,
    pub fence: Option<i64>,
    pub reason: Option<String>,
}

/// One instance of a node the plan would start evacuating.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Candidate {
    pub node: String,
    pub host: Option<String>,
    pub instance: String,
    pub name: String,
    pub go: bool,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Simulation {
    pub source: String,
    pub now: i64,
    pub quorum: bool,
    pub hold: Option<String>,
    pub dry_run: bool,
    pub fence_history: bool,
    pub gates: Vec<Gate>,
    pub valve: String,
    pub writes: Vec<String>,
    pub work: Vec<String>,
    /// Where the instances of each evacuation go and what becomes of the
    /// failed host after it (segments, reserved hosts, maintenance), and
    /// the reserved hosts the step would put in or out of reserve.
    pub recovery: Vec<String>,
    pub fence_requests: Vec<String>,
    pub events: Vec<String>,
    pub alerts: Vec<String>,
    pub instances: Option<Vec<Candidate>>,
}

#[derive(Debug)]
pub struct Inputs<'a> {
    pub state: &'a State,
    pub config: &'a Config,
    pub history: Option<FenceHistory>,
    pub nova: Option<NovaSnapshot>,
    pub now: i64,
    /// Decide as if the hold were released.
    pub release: bool,
}

pub fn read_history(path: &Path) -> Result<FenceHistory, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
    FenceHistory::parse(&text)
        .map_err(|e| CliError::cib(format!("fence history {}", path.display()), e))
}

fn describe(write: &Write) -> String {
    match write {
        Write::SetMarker { node, fence } => format!("set marker on {node} = {fence}"),
        Write::ClearMarker { node } => format!("clear marker on {node}"),
        Write::SetHandled { node, fence } => format!("{node}: incident of fence {fence} closed"),
        Write::SetRecord { node, record } => format!(
            "{node}: state {} (fence {})",
            record.phase.as_str(),
            record.fence
        ),
        Write::SetStatus { node, text } => format!("{node}: status \"{text}\""),
        Write::SetHold { text } => format!("HOLD the valve: {text}"),
        other => format!("{other:?}"),
    }
}

pub fn run(inputs: Inputs<'_>) -> Simulation {
    let Inputs {
        state,
        config,
        history,
        nova,
        now,
        release,
    } = inputs;
    let cib = &state.cib;
    // Built as the agent builds it (cluster::Pacemaker::snapshot), but for
    // the storage heartbeats of lost nodes, which only the live shared
    // directory has.
    let mut snapshot = Snapshot::from_cib(cib, &config.selector, &config.marker, now)
        .with_storage(cib, &config.storage.attribute)
        .with_recovery(cib, &config.recovery);
    let fence_history = history.is_some();
    snapshot.history = history;
    if release {
        snapshot.hold = None;
    }
    let gates = snapshot
        .nodes
        .iter()
        .map(|n| {
            let (verdict, fence, reason) = match plan::fence_evidence(n, snapshot.history.as_ref())
            {
                Ok(Some(f)) => ("evacuate", Some(f), None),
                Ok(None) => ("none", None, None),
                Err(why) => ("blocked", None, Some(why)),
            };
            Gate {
                node: n.name.clone(),
                online: n.online,
                verdict,
                fence,
                reason,
            }
        })
        .collect();
    let window = i64::try_from(config.valve.window.as_secs()).unwrap_or(i64::MAX);
    let failed = plan::failed_in_window(&snapshot, window);
    let valve = match config.valve.evaluate(&failed, snapshot.nodes.len()) {
        Verdict::Open => format!(
            "open ({} of {} compute nodes failed within {}s)",
            failed.len(),
            snapshot.nodes.len(),
            window
        ),
        Verdict::Trip { reason, .. } => format!("TRIPS: {reason}"),
    };
    let decided: Plan = plan::decide(&snapshot, &config.valve, &config.storage, config.dry_run);
    let instances = nova.map(|nova| candidates(config, &nova, &decided));
    let recovery = recovery_lines(config, &snapshot, &decided);
    Simulation {
        source: state.source.clone(),
        now,
        quorum: snapshot.quorum,
        hold: snapshot.hold.clone(),
        dry_run: config.dry_run,
        fence_history,
        gates,
        valve,
        writes: decided.writes.iter().map(describe).collect(),
        work: decided
            .work
            .iter()
            .map(|w| format!("{}: {} (fence {})", w.node, w.phase.as_str(), w.fence))
            .collect(),
        recovery,
        fence_requests: decided.fence_requests.clone(),
        events: decided
            .events
            .iter()
            .filter(|e| !e.alert)
            .map(|e| format!("{}: {}", e.node.as_deref().unwrap_or("cluster"), e.message))
            .collect(),
        alerts: decided
            .events
            .iter()
            .filter(|e| e.alert)
            .map(|e| format!("{}: {}", e.node.as_deref().unwrap_or("cluster"), e.message))
            .collect(),
        instances,
    }
}

/// The recovery side of the plan, from the CIB alone: for each evacuation
/// started or continued, its segment's method and reserved hosts (with why
/// one cannot be taken) and what happens to the host afterwards; then the
/// reserve work ([`recovery::reserve_actions`]), which a dry run skips.
/// Placement's room is not in the capture: a reserved host "may take"
/// instances as far as Pacemaker knows.
fn recovery_lines(config: &Config, snapshot: &Snapshot, decided: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    let evacuating: BTreeSet<&str> = decided
        .work
        .iter()
        .filter(|w| w.phase == Phase::Evacuating)
        .map(|w| w.node.as_str())
        .collect();
    for node in snapshot
        .nodes
        .iter()
        .filter(|n| evacuating.contains(n.name.as_str()))
    {
        let segment = node.recovery.segment.as_deref();
        let method = config.recovery.method_for(segment);
        let mut line = format!(
            "{}: segment {}, recovery_method {method}",
            node.name,
            recovery::segment_name(segment)
        );
        if method.uses_reserved_hosts() {
            let hosts = recovery::reserved_hosts(&snapshot.nodes, node);
            if hosts.is_empty() {
                line.push_str(match method {
                    RecoveryMethod::ReservedHost => {
                        "; no reserved host in the segment: its instances stay where they are"
                    }
                    _ => "; no reserved host in the segment: the scheduler places every instance",
                });
            } else {
                let list: Vec<String> = hosts
                    .iter()
                    .map(|(n, why)| match why {
                        None => format!("{} (may take instances)", n.name),
                        Some(why) => format!("{} (not taken: {why})", n.name),
                    })
                    .collect();
                line.push_str(&format!("; reserved hosts: {}", list.join(", ")));
            }
        } else {
            line.push_str("; the scheduler places every instance");
        }
        line.push_str(match config.on_recovery_for(segment) {
            OnRecovery::Enable => "; afterwards nova-compute is enabled again once it reports up",
            OnRecovery::Manual => {
                "; afterwards the host stays under maintenance until `umha host enable`"
            }
        });
        out.push(line);
    }
    if !config.dry_run {
        // As the evacuator judges it: after the plan's writes.
        let after = snapshot.after(&decided.writes);
        for action in recovery::reserve_actions(&after.nodes) {
            out.push(match action {
                ReserveAction::Keep(n) => format!(
                    "{n}: flagged reserved: its nova-compute disabled (\"{}\") and kept idle",
                    recovery::RESERVED_REASON
                ),
                ReserveAction::Release(n) => {
                    format!("{n}: no longer flagged reserved: its nova-compute enabled again")
                }
            });
        }
    }
    out
}

/// The instances of the nodes the plan works on, through the agent's own
/// selection. Image tags are not in the snapshot: in `tagged` mode only
/// flavor tags and server tags are seen.
fn candidates(config: &Config, nova: &NovaSnapshot, decided: &Plan) -> Vec<Candidate> {
    let hosts: Vec<&str> = nova.services.iter().map(|s| s.host.as_str()).collect();
    let tags = match &config.selection.mode {
        umha_evacuator::selection::Mode::Tagged { tag } => TagIndex {
            images: BTreeSet::new(),
            any_flavor: nova.servers.iter().any(|s| {
                s.flavor_extra_spec(tag)
                    .is_some_and(umha_evacuator::selection::truthy)
            }),
        },
        _ => TagIndex::default(),
    };
    let mut out = Vec::new();
    let nodes: BTreeSet<&str> = decided.work.iter().map(|w| w.node.as_str()).collect();
    for node in nodes {
        let host = config.host_map.resolve(node, &hosts).ok();
        let Some(host) = host else {
            out.push(Candidate {
                node: node.to_owned(),
                host: None,
                instance: "-".to_owned(),
                name: "-".to_owned(),
                go: false,
                reason: Some("no nova-compute service matches this node (see host_map)".to_owned()),
            });
            continue;
        };
        for server in nova
            .servers
            .iter()
            .filter(|s| s.host.as_deref() == Some(host))
        {
            let decision = config.selection.decide(server, &tags, false);
            out.push(Candidate {
                node: node.to_owned(),
                host: Some(host.to_owned()),
                instance: server.id.clone(),
                name: server.name.clone(),
                go: decision.is_ok(),
                reason: decision.err().map(|skip| skip.to_string()),
            });
        }
    }
    out
}

impl Simulation {
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => render::json(self),
            Format::Xml => self.xml(),
            Format::Text => self.text(),
        }
    }

    fn text(&self) -> String {
        let mut out = format!(
            "Simulation of {} at {} ({})\nQuorum: {}   Valve: {}   Hold: {}{}\n",
            self.source,
            format_epoch(self.now),
            self.now,
            if self.quorum { "yes" } else { "NO" },
            self.valve,
            render::or_dash(self.hold.as_deref()),
            if self.dry_run {
                "   (dry_run is set)"
            } else {
                ""
            }
        );
        if !self.fence_history {
            out.push_str("Fence history: not given (--fence-history); lost remote nodes without a marker stay blocked\n");
        }
        out.push_str("\nSafety gate:\n");
        let rows: Vec<Vec<String>> = self
            .gates
            .iter()
            .map(|g| {
                vec![
                    g.node.clone(),
                    if g.online { "online" } else { "down" }.to_owned(),
                    match g.fence {
                        Some(f) => format!("{} (fence {})", g.verdict, format_epoch(f)),
                        None => g.verdict.to_owned(),
                    },
                    render::or_dash(g.reason.as_deref()),
                ]
            })
            .collect();
        out.push_str(&render::table(&["NODE", "STATE", "GATE", "WHY"], &rows));
        let section = |out: &mut String, title: &str, lines: &[String]| {
            out.push_str(&format!("\n{title}:"));
            if lines.is_empty() {
                out.push_str(" none\n");
            } else {
                out.push('\n');
                for l in lines {
                    out.push_str(&format!("  {l}\n"));
                }
            }
        };
        section(&mut out, "CIB writes", &self.writes);
        section(&mut out, "Nova work", &self.work);
        section(&mut out, "Recovery", &self.recovery);
        section(&mut out, "Fence requests", &self.fence_requests);
        section(&mut out, "Events", &self.events);
        section(&mut out, "Alerts", &self.alerts);
        if let Some(instances) = &self.instances {
            let lines: Vec<String> = instances
                .iter()
                .map(|c| {
                    format!(
                        "{} {} {} ({}){}",
                        c.node,
                        if c.go { "evacuate" } else { "keep" },
                        c.name,
                        c.instance,
                        c.reason
                            .as_deref()
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    )
                })
                .collect();
            section(&mut out, "Instances", &lines);
        }
        out
    }

    fn xml(&self) -> String {
        use render::{xml_close, xml_empty, xml_open};
        let mut out = String::from("<?xml version=\"1.0\"?>\n");
        out.push_str(&xml_open(
            0,
            "umha",
            &[("version", Some(env!("CARGO_PKG_VERSION").to_owned()))],
        ));
        out.push_str(&xml_open(
            1,
            "simulation",
            &[
                ("source", Some(self.source.clone())),
                ("now", Some(self.now.to_string())),
                ("quorum", Some(self.quorum.to_string())),
                ("hold", self.hold.clone()),
                ("dry-run", Some(self.dry_run.to_string())),
                ("valve", Some(self.valve.clone())),
            ],
        ));
        for g in &self.gates {
            out.push_str(&xml_empty(
                2,
                "gate",
                &[
                    ("node", Some(g.node.clone())),
                    ("online", Some(g.online.to_string())),
                    ("verdict", Some(g.verdict.to_owned())),
                    ("fence", g.fence.map(|f| f.to_string())),
                    ("reason", g.reason.clone()),
                ],
            ));
        }
        let list = |out: &mut String, name: &str, items: &[String]| {
            for text in items {
                out.push_str(&xml_empty(2, name, &[("text", Some(text.clone()))]));
            }
        };
        list(&mut out, "write", &self.writes);
        list(&mut out, "work", &self.work);
        list(&mut out, "recovery", &self.recovery);
        list(&mut out, "fence-request", &self.fence_requests);
        list(&mut out, "event", &self.events);
        list(&mut out, "alert", &self.alerts);
        for c in self.instances.iter().flatten() {
            out.push_str(&xml_empty(
                2,
                "instance",
                &[
                    ("node", Some(c.node.clone())),
                    ("host", c.host.clone()),
                    ("id", Some(c.instance.clone())),
                    ("name", Some(c.name.clone())),
                    ("evacuate", Some(c.go.to_string())),
                    ("reason", c.reason.clone()),
                ],
            ));
        }
        out.push_str(&xml_close(1, "simulation"));
        out.push_str(&xml_close(0, "umha"));
        out
    }
}
