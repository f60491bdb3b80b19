//! Reserved hosts at work (see [`crate::recovery`] for the model): where
//! each instance of an incident goes under its segment's recovery method,
//! taking reserved hosts, and keeping the idle ones disabled in Nova.
//!
//! Taking a reserved host, in this order, each step safe to repeat after a
//! crash at any point:
//! 1. delete [`RESERVE_KEPT`] (CIB), then enable the host in Nova if it is
//!    disabled as a reserved host: after the incident an unused host is put
//!    back in reserve by [`Stepper::keep_reserved`];
//! 2. evacuate to it by name (compute microversion 2.29 or later: Nova's
//!    scheduler still checks the host, `force` is never sent);
//! 3. once Nova accepted an evacuation to it, delete its reserved attribute:
//!    it is an ordinary compute host from then on, as in Masakari.
//!
//! Room is read from Placement only while none of the incident's instances
//! (nor another incident's of the same segment) is being rebuilt: Nova
//! allocates on the destination when it schedules, a moment after the
//! evacuate is accepted, so a reading in between would count the same room
//! twice. Instances that need a reserved host wait meanwhile; Nova's own
//! check stays the last word, and an evacuation it refuses for lack of room
//! is retried like any failed one.

use std::collections::{BTreeMap, BTreeSet};

use openstack::placement::flavor_resources;
use openstack::{NovaId, Placement, Service};
use umha_common::Deadline;

use crate::cluster::Cluster;
use crate::history::Entry;
use crate::nova::{self, Fate, Incident, Nova, Tally};
use crate::plan::{ComputeNode, Event, Snapshot, Write};
use crate::recovery::{
    self, Need, Offer, RESERVE_KEPT, RESERVED_REASON, RecoveryMethod, ReserveAction, segment_name,
};
use crate::step::{Connect, Stepper};

/// What the rounds of one step learned, across incidents.
#[derive(Debug, Default)]
pub struct Rounds {
    /// Incident node → (its segment, some instance being rebuilt while its
    /// method uses reserved hosts).
    busy: BTreeMap<String, (Option<String>, bool)>,
    /// Reserved hosts (nodes) whose attribute was removed in this step.
    taken: BTreeSet<String>,
    /// Incidents whose reserved hosts could not be read, already logged.
    warned: BTreeSet<String>,
}

/// Where this round sends the instances to evacuate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// Instance → reserved Nova host; others go where the scheduler says.
    pub hosts: BTreeMap<String, String>,
    /// Instances that wait for a later round.
    pub deferred: BTreeSet<String>,
    /// Reserved Nova host → its node, for those in `hosts`.
    pub used: BTreeMap<String, String>,
}

impl Targets {
    /// The instances to evacuate now.
    pub fn ready(&self, tally: &Tally) -> Vec<String> {
        tally
            .to_evacuate()
            .into_iter()
            .filter(|id| !self.deferred.contains(id))
            .collect()
    }
}

/// A usable reserved host as Nova sees it.
struct Usable<'a> {
    node: &'a ComputeNode,
    host: String,
    service: Service,
}

/// The reserved hosts that may take instances, with their room, and why the
/// others may not.
struct Offers<'a> {
    offers: Vec<Offer>,
    services: BTreeMap<String, Usable<'a>>,
    excluded: Vec<String>,
}

/// `node`, and its Nova host when the names differ.
fn named(node: &str, host: &str) -> String {
    if node == host {
        node.to_owned()
    } else {
        format!("{node} (Nova host {host})")
    }
}

/// The disabled reason of an idle reserved host.
fn reserve_reason(attribute: &str) -> String {
    format!("{RESERVED_REASON} ({attribute}), kept idle by umha-evacuator")
}

fn is_reserve_reason(service: &Service) -> bool {
    service
        .disabled_reason
        .as_deref()
        .is_some_and(|r| r.starts_with(RESERVED_REASON))
}

impl<C: Cluster> Stepper<'_, C> {
    /// Decide where this round's instances of `incident` go, taking the
    /// reserved hosts used (see the module documentation). Instances no
    /// reserved host can take become [`Fate::Unplaced`] under
    /// `reserved_host` and `auto_priority`, and go to the scheduler under
    /// `rh_priority`.
    pub(crate) fn targets(
        &mut self,
        nova: &Nova<'_>,
        nodes: &BTreeMap<&str, &ComputeNode>,
        incident: &Incident<'_>,
        tally: &mut Tally,
        rounds: &mut Rounds,
        deadline: Deadline,
    ) -> Targets {
        let mut targets = Targets::default();
        let Some(failed) = nodes.get(incident.node).copied() else {
            return targets;
        };
        let segment = failed.recovery.segment.as_deref();
        let method = self.config.recovery.method_for(segment);
        if !method.uses_reserved_hosts() {
            return targets;
        }
        let rebuilding = tally.fates.values().any(|(_, f)| *f == Fate::Rebuilding);
        rounds.busy.insert(
            incident.node.to_owned(),
            (segment.map(str::to_owned), rebuilding),
        );
        let want: Vec<String> = tally
            .to_evacuate()
            .into_iter()
            .filter(|id| {
                method != RecoveryMethod::AutoPriority
                    || tally
                        .migrations
                        .get(id)
                        .is_some_and(|m| nova::no_valid_host(m))
            })
            .collect();
        if want.is_empty() {
            return targets;
        }
        let busy = rounds
            .busy
            .values()
            .any(|(s, b)| *b && s.as_deref() == segment);
        if busy {
            targets.deferred = want.into_iter().collect();
            return targets;
        }
        let mut found = match self.offers(nova, nodes, failed, deadline) {
            Ok(o) => o,
            Err(e) => {
                if rounds.warned.insert(incident.node.to_owned()) {
                    log::warn!(
                        "{}: cannot size the reserved hosts of segment {} ({e}); {} instance(s) wait",
                        incident.node,
                        segment_name(segment),
                        want.len()
                    );
                }
                targets.deferred = want.into_iter().collect();
                return targets;
            }
        };
        let needs: Vec<Need> =
            want.iter()
                .map(|id| Need {
                    id: id.clone(),
                    name: tally
                        .fates
                        .get(id)
                        .map(|(n, _)| n.clone())
                        .unwrap_or_default(),
                    resources: tally.servers.get(id).and_then(|s| {
                        flavor_resources(s.flavor.as_ref()?, s.is_boot_from_volume())
                    }),
                })
                .collect();
        // Place, taking each host used; one that cannot be taken is dropped
        // and the instances placed again without it.
        let mut prepared = BTreeSet::new();
        let placed = loop {
            let mut trial = found.offers.clone();
            let placed = recovery::place(&needs, &mut trial);
            let refused = placed.hosts().into_iter().find_map(|host| {
                if prepared.contains(host) {
                    return None;
                }
                let usable = found.services.get(host)?;
                match self.take(nova, usable, incident, deadline) {
                    Ok(()) => {
                        prepared.insert(host.to_owned());
                        None
                    }
                    Err(why) => Some((host.to_owned(), format!("{}: {why}", usable.node.name))),
                }
            });
            match refused {
                None => break placed,
                Some((host, why)) => {
                    found.excluded.push(why);
                    found.offers.retain(|o| o.host != host);
                }
            }
        };
        for (id, host) in &placed.assigned {
            targets.hosts.insert(id.clone(), host.clone());
            if let Some(u) = found.services.get(host) {
                targets.used.insert(host.clone(), u.node.name.clone());
            }
        }
        let dry = self.config.dry_run;
        for (host, node) in &targets.used {
            let n = placed.assigned.values().filter(|h| *h == host).count();
            let room = found
                .offers
                .iter()
                .find(|o| &o.host == host)
                .map(|o| o.room.to_string())
                .unwrap_or_default();
            self.record(incident.entry(
                "reserved-host",
                format!(
                    "{method}: {n} instance(s) to reserved host {} of segment {}; room before: {room}",
                    named(node, host),
                    segment_name(segment)
                ),
                dry,
            ));
        }
        if placed.unplaced.is_empty() {
            return targets;
        }
        let also = if found.excluded.is_empty() {
            String::new()
        } else {
            format!("; not usable: {}", found.excluded.join("; "))
        };
        match method {
            RecoveryMethod::RhPriority => {
                self.record(incident.entry(
                    "reserved-host",
                    format!(
                        "rh_priority: {} instance(s) do not fit on the reserved hosts of segment {}: left to Nova's scheduler{also}",
                        placed.unplaced.len(),
                        segment_name(segment)
                    ),
                    dry,
                ));
            }
            _ => {
                for (id, why) in placed.unplaced {
                    if let Some((_, fate)) = tally.fates.get_mut(&id) {
                        *fate = Fate::Unplaced(format!(
                            "{method} in segment {}: {why}{also}",
                            segment_name(segment)
                        ));
                    }
                }
            }
        }
        targets
    }

    /// The reserved hosts of `failed`'s segment that may take instances now,
    /// with their room. `Err` only when Nova or Placement cannot be read
    /// (try again later); a host that cannot be used is named in `excluded`.
    fn offers<'n>(
        &self,
        nova: &Nova<'_>,
        nodes: &BTreeMap<&str, &'n ComputeNode>,
        failed: &ComputeNode,
        deadline: Deadline,
    ) -> Result<Offers<'n>, openstack::Error> {
        let mut found = Offers {
            offers: Vec::new(),
            services: BTreeMap::new(),
            excluded: Vec::new(),
        };
        let flagged = recovery::reserved_hosts(nodes.values().copied(), failed);
        if flagged.is_empty() {
            found.excluded.push(format!(
                "segment {} has no reserved host ({}=true)",
                segment_name(failed.recovery.segment.as_deref()),
                self.config.recovery.reserved_attribute
            ));
            return Ok(found);
        }
        let compute = nova.compute;
        if !compute.version().at_least(2, 29) {
            found.excluded.push(format!(
                "evacuating to a named host needs compute microversion 2.29 (the scheduler checks the host); Nova speaks {}",
                compute.version()
            ));
            return Ok(found);
        }
        let services = compute.compute_services(None, deadline)?;
        let names: Vec<&str> = services.iter().map(|s| s.host.as_str()).collect();
        let mut usable = Vec::new();
        for (node, why) in flagged {
            if let Some(why) = why {
                found.excluded.push(format!("{}: {why}", node.name));
                continue;
            }
            let host = match self.config.host_map.resolve(&node.name, &names) {
                Ok(h) => h.to_owned(),
                Err(e) => {
                    found.excluded.push(format!("{}: {e}", node.name));
                    continue;
                }
            };
            let Some(service) = services.iter().find(|s| s.host == host).cloned() else {
                continue;
            };
            let why = if !service.is_up() || service.forced_down {
                Some("nova-compute is down".to_owned())
            } else if service.is_disabled() && !is_reserve_reason(&service) {
                Some(format!(
                    "disabled in Nova by someone else ({})",
                    service
                        .disabled_reason
                        .as_deref()
                        .unwrap_or("no reason given")
                ))
            } else {
                None
            };
            match why {
                Some(why) => found.excluded.push(format!("{}: {why}", node.name)),
                None => usable.push(Usable {
                    node,
                    host,
                    service,
                }),
            }
        }
        if usable.is_empty() {
            return Ok(found);
        }
        // A cloud without Placement in its catalog, or credentials that may
        // not read it, will not change by waiting: no reserved host then.
        let unusable = |e: openstack::Error, found: &mut Offers<'n>| {
            if e.is_configuration() {
                found
                    .excluded
                    .push(format!("cannot size reserved hosts: {e}"));
                Ok(())
            } else {
                Err(e)
            }
        };
        let hypervisors = match compute.hypervisors(deadline) {
            Ok(h) => h,
            Err(e) => return unusable(e, &mut found).map(|()| found),
        };
        let placement = match Placement::connect(compute.shared_session(), deadline) {
            Ok(p) => p,
            Err(e) => return unusable(e, &mut found).map(|()| found),
        };
        for u in usable {
            let mine: Vec<_> = hypervisors
                .iter()
                .filter(|h| h.host() == Some(u.host.as_str()))
                .collect();
            let provider = match mine.as_slice() {
                [one] => match &one.id {
                    NovaId::Uuid(uuid) => Some(uuid.clone()),
                    NovaId::Number(_) => {
                        let name = one.hypervisor_hostname.as_deref().unwrap_or(&u.host);
                        match placement.providers_named(name, deadline)?.as_slice() {
                            [p] => Some(p.uuid.clone()),
                            _ => None,
                        }
                    }
                },
                _ => None,
            };
            let Some(provider) = provider else {
                found.excluded.push(format!(
                    "{}: no single resource provider for {} ({} hypervisors)",
                    u.node.name,
                    u.host,
                    mine.len()
                ));
                continue;
            };
            let room = match placement.room(&provider, deadline) {
                Ok(r) => r,
                Err(openstack::Error::NotFound { .. }) => {
                    found.excluded.push(format!(
                        "{}: Placement has no resource provider {provider}",
                        u.node.name
                    ));
                    continue;
                }
                Err(e) => return Err(e),
            };
            found.offers.push(Offer {
                node: u.node.name.clone(),
                host: u.host.clone(),
                room,
            });
            found.services.insert(u.host.clone(), u);
        }
        Ok(found)
    }

    /// Take a reserved host for `incident`: forget that it was kept in
    /// reserve, then enable it in Nova (a dry run only says so).
    fn take(
        &mut self,
        nova: &Nova<'_>,
        usable: &Usable<'_>,
        incident: &Incident<'_>,
        deadline: Deadline,
    ) -> Result<(), String> {
        let (node, host) = (&usable.node.name, &usable.host);
        if !usable.service.is_disabled() {
            return Ok(());
        }
        if self.config.dry_run {
            self.record(incident.entry(
                "reserve-enable",
                format!(
                    "dry run: would enable reserved host {} in Nova",
                    named(node, host)
                ),
                true,
            ));
            return Ok(());
        }
        if usable.node.recovery.reserve_kept.is_some() {
            self.cluster
                .apply(
                    self.config,
                    &Write::ClearReserveKept { node: node.clone() },
                    deadline,
                )
                .map_err(|e| format!("cannot delete {RESERVE_KEPT}: {e}"))?;
        }
        nova.compute
            .enable(&usable.service, deadline)
            .map_err(|e| format!("cannot enable it in Nova: {e}"))?;
        self.record(incident.entry(
            "reserve-enable",
            format!(
                "reserved host {} enabled in Nova for the instances of {}",
                named(node, host),
                incident.node
            ),
            false,
        ));
        Ok(())
    }

    /// After this round's evacuations: a reserved host that Nova accepted
    /// an evacuation to is no longer in reserve (its attribute goes).
    pub(crate) fn taken(
        &mut self,
        incident: &Incident<'_>,
        targets: &Targets,
        entries: &[Entry],
        rounds: &mut Rounds,
        deadline: Deadline,
    ) {
        if self.config.dry_run {
            return;
        }
        for (host, node) in &targets.used {
            if rounds.taken.contains(node) {
                continue;
            }
            let accepted = entries
                .iter()
                .filter(|e| e.event == "evacuate")
                .filter(|e| {
                    e.instance
                        .as_ref()
                        .is_some_and(|i| targets.hosts.get(i) == Some(host))
                })
                .count();
            if accepted == 0 {
                continue;
            }
            let write = Write::ClearReserved { node: node.clone() };
            match self.cluster.apply(self.config, &write, deadline) {
                Ok(()) => {
                    rounds.taken.insert(node.clone());
                    self.record(incident.entry(
                        "reserve-taken",
                        format!(
                            "reserved host {} took instances of {}: {} removed, it is an ordinary compute host now",
                            named(node, host),
                            incident.node,
                            self.config.recovery.reserved_attribute
                        ),
                        false,
                    ));
                }
                Err(e) => log::error!(
                    "{node}: cannot remove {}: {e}",
                    self.config.recovery.reserved_attribute
                ),
            }
        }
    }

    /// Keep idle reserved hosts disabled in Nova, and enable those whose
    /// flag an operator removed ([`recovery::reserve_actions`]). Asks Nova
    /// only when the CIB says something is due; a dry run does nothing.
    pub(crate) fn keep_reserved(
        &mut self,
        snapshot: &Snapshot,
        connect: &Connect<'_>,
        deadline: Deadline,
    ) {
        if self.config.dry_run {
            return;
        }
        let due = recovery::reserve_actions(&snapshot.nodes);
        if due.is_empty() {
            return;
        }
        let compute = match connect(deadline) {
            Ok((c, _)) => c,
            Err(e) => {
                log::warn!("reserved hosts: cannot reach Nova ({e}); trying again later");
                return;
            }
        };
        let services = match compute.compute_services(None, deadline) {
            Ok(s) => s,
            Err(e) => {
                log::warn!("reserved hosts: cannot list nova-compute services ({e})");
                return;
            }
        };
        let names: Vec<&str> = services.iter().map(|s| s.host.as_str()).collect();
        let attribute = self.config.recovery.reserved_attribute.clone();
        for action in due {
            let node = match &action {
                ReserveAction::Keep(n) | ReserveAction::Release(n) => n.clone(),
            };
            let Some(service) = self
                .config
                .host_map
                .resolve(&node, &names)
                .ok()
                .and_then(|h| services.iter().find(|s| s.host == h))
            else {
                log::warn!("{node}: reserved host without a matching nova-compute service");
                continue;
            };
            let host = service.host.clone();
            let done = match action {
                ReserveAction::Keep(_) if !service.is_disabled() => compute
                    .disable(service, &reserve_reason(&attribute), deadline)
                    .map(|()| format!("disabled in Nova ({RESERVED_REASON})")),
                ReserveAction::Keep(_) if is_reserve_reason(service) => {
                    Ok("found disabled as a reserved host".to_owned())
                }
                ReserveAction::Keep(_) => Ok(format!(
                    "left as it is: disabled in Nova by someone else ({})",
                    service
                        .disabled_reason
                        .as_deref()
                        .unwrap_or("no reason given")
                )),
                ReserveAction::Release(_)
                    if service.is_disabled() && is_reserve_reason(service) =>
                {
                    if !service.is_up() {
                        log::info!(
                            "{node}: no longer reserved; enabled once nova-compute on {host} is up"
                        );
                        continue;
                    }
                    compute
                        .enable(service, deadline)
                        .map(|()| "enabled in Nova".to_owned())
                }
                ReserveAction::Release(_) => {
                    Ok("not disabled as a reserved host: left as it is".to_owned())
                }
            };
            let (write, text) = match (done, &action) {
                (Err(e), _) => {
                    log::warn!("{node}: reserved host on {host}: {e}; trying again later");
                    continue;
                }
                (Ok(t), ReserveAction::Keep(_)) => (
                    Write::SetReserveKept {
                        node: node.clone(),
                        text: format!("{} {t}", nova::now()),
                    },
                    format!("reserved host ({attribute}=true), kept idle: {t}"),
                ),
                (Ok(t), ReserveAction::Release(_)) => (
                    Write::ClearReserveKept { node: node.clone() },
                    format!("no longer a reserved host ({attribute} removed): {t}"),
                ),
            };
            if let Err(e) = self.cluster.apply(self.config, &write, deadline) {
                log::error!("{node}: {e}");
                continue;
            }
            self.event(&Event {
                node: Some(node),
                kind: "reserve",
                message: text,
                alert: false,
            });
        }
    }
}
