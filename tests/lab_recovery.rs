//! Masakari's recovery methods in the joined lab (real Pacemaker, fence_ipmi,
//! Nova with Placement, the `evacuator` primitive from `up.sh
//! --with-openstack`): cmp3 is the reserved host, kept disabled in Nova by
//! the evacuator until cmp1 fails; then cmp1's instances go to cmp3 and
//! cmp3 stops being reserved. With too little room on cmp3 (its
//! `MEMORY_MB` allocation ratio cut through Placement, which nova-compute
//! keeps since the lab pins no ratio), `rh_priority` sends the rest to the
//! scheduler. When the scheduler finds no host, `auto_priority` turns to
//! the reserved host.
//!
//! With `on_recovery` unset, a failed node of a segment whose method uses
//! reserved hosts stays under maintenance (`umha-maintenance`, nova-compute
//! forced down and disabled), as Masakari leaves it: the first test checks
//! that and then puts cmp1 back as `umha host enable` does; the second sets
//! `on_recovery=enable`, so cmp1 comes back on its own.
//!
//! Every test starts and ends with every node online, every nova-compute up
//! and enabled, no marker, no reserved host, and the evacuator's
//! parameters and cmp3's Placement inventory as they were.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use openstack::{Inventory, NovaId, Placement};
use umha_common::Deadline;
use umha_lab_tests::evac::{
    Incident, Params, assert_once_each, attr, history_since, wait_closed, wait_evacuated,
    wait_recovered,
};
use umha_lab_tests::nova::{Nova, evacuate_marker, healthy_nova, wait_nova_healthy};
use umha_lab_tests::{crash, require_lab, wait_for, wait_healthy};

const RESERVED: &str = "cmp3";
const FAILING: &str = "cmp1";
const RESERVED_ATTR: &str = "umha-reserved";
const RESERVE_KEPT: &str = "umha-reserved-disabled";
const MAINTENANCE: &str = "umha-maintenance";
/// The lab's flavor "1": 64 MB.
const FLAVOR_RAM: u64 = 64;

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(30))
}

/// Placement's view of one host.
struct Provider {
    placement: Placement,
    uuid: String,
}

impl Provider {
    fn of(nova: &Nova, host: &str) -> Self {
        let compute = nova.compute();
        let uuid = compute
            .hypervisors(deadline())
            .unwrap()
            .into_iter()
            .find(|h| h.host() == Some(host))
            .map(|h| match h.id {
                NovaId::Uuid(u) => u,
                NovaId::Number(n) => panic!("hypervisor id {n}: the lab's Nova speaks 2.53+"),
            })
            .unwrap_or_else(|| panic!("no hypervisor for {host}"));
        let placement = Placement::connect(compute.shared_session(), deadline()).unwrap();
        Self { placement, uuid }
    }

    fn memory(&self) -> (Inventory, i64, u64) {
        let inv = self.placement.inventories(&self.uuid, deadline()).unwrap();
        let used = self
            .placement
            .usages(&self.uuid, deadline())
            .unwrap()
            .get("MEMORY_MB")
            .copied()
            .unwrap_or(0);
        (
            inv.classes["MEMORY_MB"].clone(),
            inv.resource_provider_generation,
            used,
        )
    }

    /// Set MEMORY_MB's allocation ratio, retrying when nova-compute's own
    /// update moved the generation meanwhile.
    fn set_memory_ratio(&self, ratio: f64) {
        for attempt in 0..5 {
            let (mut inv, generation, _) = self.memory();
            inv.allocation_ratio = ratio;
            match self.placement.set_inventory(
                &self.uuid,
                "MEMORY_MB",
                generation,
                &inv,
                deadline(),
            ) {
                Ok(()) => return,
                Err(e) if e.status() == Some(409) && attempt < 4 => {
                    println!("generation moved ({e}); again");
                }
                Err(e) => panic!("set MEMORY_MB allocation_ratio {ratio}: {e}"),
            }
        }
    }
}

/// Put `node` back into service as `umha host enable` does
/// (`umha_evacuator::maintenance::end_maintenance`, which this crate does not
/// link): un-force its nova-compute once Nova completed the evacuations from
/// it, wait until it reports up, enable it, then delete `umha-maintenance`.
fn end_maintenance(nova: &Nova, node: &str) {
    let compute = nova.compute();
    wait_for(
        &format!("nova-compute on {node} un-forced (evacuations from it completed)"),
        Duration::from_secs(120),
        || {
            let svc = nova.compute_service(node)?;
            if !svc.forced_down {
                return Ok(());
            }
            compute
                .unforce_down(&svc, deadline())
                .map_err(|e| e.to_string())
        },
    );
    let (svc, _) = nova.wait_service(node, "up", Duration::from_secs(60), |s| s.is_up());
    if svc.is_disabled() {
        compute.enable(&svc, deadline()).unwrap();
    }
    cib::attr::delete_persistent(node, MAINTENANCE, deadline()).unwrap();
}

/// Undo what a test changed, whatever happened: the evacuator's
/// parameters, cmp3's reserve, its Placement ratio, cmp1's maintenance.
struct Restore {
    params: Params,
    ratio: Option<(Provider, f64)>,
}

impl Drop for Restore {
    fn drop(&mut self) {
        self.params.restore();
        // Removing the flag hands the host back: the evacuator enables it
        // and forgets it kept it (wait for that, then make sure).
        let _ = cib::attr::delete_persistent(RESERVED, RESERVED_ATTR, deadline());
        let released = (0..60).any(|_| {
            std::thread::sleep(Duration::from_secs(1));
            attr(RESERVED, RESERVE_KEPT).is_none()
        });
        if !released {
            println!("cleanup: the evacuator did not release {RESERVED}; doing it here");
            let _ = cib::attr::delete_persistent(RESERVED, RESERVE_KEPT, deadline());
        }
        if let Ok(nova) = Nova::try_connect() {
            let compute = nova.compute();
            if let Ok(svc) = compute.compute_service(RESERVED, deadline())
                && svc.is_disabled()
                && svc
                    .disabled_reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("umha: reserved host"))
            {
                println!("cleanup: enabling {RESERVED} in Nova");
                let _ = compute.enable(&svc, deadline());
            }
        }
        if let Some((provider, ratio)) = self.ratio.take() {
            provider.set_memory_ratio(ratio);
        }
        if attr(FAILING, MAINTENANCE).is_some()
            && evacuate_marker(FAILING).is_none()
            && let Ok(nova) = Nova::try_connect()
        {
            println!("cleanup: ending {FAILING}'s maintenance");
            end_maintenance(&nova, FAILING);
        }
        // Then `params`, dropped, cleans up the evacuator.
    }
}

/// Make cmp3 the reserved host under `method`, and wait until the
/// evacuator has disabled it in Nova.
fn reserve(nova: &Nova, method: &str, restore: &mut Restore) {
    restore.params.add("recovery_method", method);
    cib::attr::set_persistent(RESERVED, RESERVED_ATTR, "true", deadline()).unwrap();
    let kept = wait_for(
        &format!("the evacuator keeping {RESERVED} in reserve ({RESERVE_KEPT})"),
        Duration::from_secs(90),
        || attr(RESERVED, RESERVE_KEPT).ok_or("not yet"),
    );
    println!("{RESERVED}: {RESERVE_KEPT}={kept}");
    let (svc, _) = nova.wait_service(
        RESERVED,
        "disabled as a reserved host",
        Duration::from_secs(30),
        |s| {
            s.is_disabled()
                && s.disabled_reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("umha: reserved host"))
        },
    );
    println!("{RESERVED} in Nova: {:?}", svc.disabled_reason);
}

/// Wait until every instance is ACTIVE off `source`; returns where each is.
fn wait_landed(nova: &Nova, ids: &[String], source: &str) -> BTreeMap<String, String> {
    wait_evacuated(nova, ids, source, Duration::from_secs(240));
    ids.iter()
        .map(|id| {
            let host = nova.server(id).unwrap().host.unwrap_or_default();
            (id.clone(), host)
        })
        .collect()
}

#[test]
#[ignore = "needs the lab with OpenStack: tests/lab/up.sh --with-openstack"]
fn reserved_host_takes_the_failed_node_s_instances() {
    let lab = require_lab();
    let Some(nova) = healthy_nova(&lab) else {
        return;
    };
    let mut restore = Restore {
        params: Params::default(),
        ratio: None,
    };
    reserve(&nova, "reserved_host", &mut restore);
    let incident = Incident::boot(&nova, FAILING, 4, "rh-reserved");
    let (ids, from) = (&incident.ids, incident.from);
    crash(FAILING);
    let at = wait_landed(&nova, ids, FAILING);
    println!("instances now on: {at:?}");
    assert!(
        at.values().all(|h| h == RESERVED),
        "every instance on the reserved host: {at:?}"
    );
    assert_once_each(&nova, ids);
    // on_recovery unset in a reserved_host segment: cmp1 under maintenance.
    wait_closed(FAILING, Duration::from_secs(150));
    let why = attr(FAILING, MAINTENANCE).expect("cmp1 under maintenance");
    println!("{FAILING}: {MAINTENANCE}={why}");
    let svc = nova.compute_service(FAILING).unwrap();
    assert!(svc.forced_down && svc.is_disabled(), "{svc:?}");
    assert!(
        attr(FAILING, "umha-evac-status")
            .unwrap_or_default()
            .contains("under maintenance"),
    );
    end_maintenance(&nova, FAILING);
    // cmp3 was taken: enabled, no longer reserved.
    let svc = nova.compute_service(RESERVED).unwrap();
    assert!(!svc.is_disabled(), "{svc:?}");
    assert_eq!(attr(RESERVED, RESERVED_ATTR), None);
    assert_eq!(attr(RESERVED, RESERVE_KEPT), None);
    let entries = history_since(from);
    for kind in ["reserve-enable", "reserved-host", "reserve-taken"] {
        assert!(
            entries.iter().any(|e| e["event"] == kind),
            "no {kind} in the history: {entries:?}"
        );
    }
    nova.delete_servers(ids);
    drop(restore);
    wait_healthy(&lab);
    wait_nova_healthy(&lab, &nova);
}

#[test]
#[ignore = "needs the lab with OpenStack: tests/lab/up.sh --with-openstack"]
fn rh_priority_sends_what_the_full_reserved_host_cannot_take_to_the_scheduler() {
    let lab = require_lab();
    let Some(nova) = healthy_nova(&lab) else {
        return;
    };
    let provider = Provider::of(&nova, RESERVED);
    let (inv, _, used) = provider.memory();
    let mut restore = Restore {
        params: Params::default(),
        ratio: Some((Provider::of(&nova, RESERVED), inv.allocation_ratio)),
    };
    // Room for two of the lab's flavor on cmp3, not three.
    let base = inv.total.saturating_sub(inv.reserved) as f64;
    let ratio = (used + 2 * FLAVOR_RAM + FLAVOR_RAM / 2) as f64 / base;
    provider.set_memory_ratio(ratio);
    let room = provider.placement.room(&provider.uuid, deadline()).unwrap();
    println!("{RESERVED}'s room with MEMORY_MB allocation_ratio {ratio}: {room}");
    assert_eq!(room.free("MEMORY_MB") / FLAVOR_RAM, 2, "{room}");
    // Set: cmp1 comes back on its own, as in an auto segment.
    restore.params.add("on_recovery", "enable");
    reserve(&nova, "rh_priority", &mut restore);
    let incident = Incident::boot(&nova, FAILING, 5, "rh-priority");
    let (ids, from) = (&incident.ids, incident.from);
    crash(FAILING);
    let at = wait_landed(&nova, ids, FAILING);
    println!("instances now on: {at:?}");
    let on_reserved = at.values().filter(|h| *h == RESERVED).count();
    assert_eq!(on_reserved, 2, "two fit on the reserved host: {at:?}");
    assert_once_each(&nova, ids);
    let entries = history_since(from);
    assert!(
        entries.iter().any(|e| e["event"] == "reserved-host"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("3 instance(s) do not fit"))),
        "{entries:?}"
    );
    wait_recovered(&nova, FAILING);
    nova.delete_servers(ids);
    drop(restore);
    wait_healthy(&lab);
    wait_nova_healthy(&lab, &nova);
}

/// `auto_priority`: the scheduler first; when it finds no host (cmp2 is
/// disabled by an operator, cmp3 is in reserve), Nova's conductor marks the
/// evacuation's migration `error` and the evacuator turns to the reserved
/// host: every instance lands on cmp3, after exactly one failed try by the
/// scheduler.
#[test]
#[ignore = "needs the lab with OpenStack: tests/lab/up.sh --with-openstack"]
fn auto_priority_turns_to_the_reserved_host_when_the_scheduler_finds_none() {
    const OTHER: &str = "cmp2";
    let lab = require_lab();
    let Some(nova) = healthy_nova(&lab) else {
        return;
    };
    let mut restore = Restore {
        params: Params::default(),
        ratio: None,
    };
    restore.params.add("on_recovery", "enable");
    reserve(&nova, "auto_priority", &mut restore);
    let compute = nova.compute();
    let other = nova.compute_service(OTHER).unwrap();
    compute
        .disable(&other, "lab: no room for the scheduler", deadline())
        .unwrap();
    let _enable_other = Reenable(OTHER);
    let incident = Incident::boot(&nova, FAILING, 3, "auto-priority");
    let (ids, from) = (&incident.ids, incident.from);
    crash(FAILING);
    let at = wait_landed(&nova, ids, FAILING);
    println!("instances now on: {at:?}");
    assert!(
        at.values().all(|h| h == RESERVED),
        "every instance on the reserved host: {at:?}"
    );
    for id in ids {
        assert_eq!(
            nova.evacuations(id),
            2,
            "{id}: the scheduler's try, then the reserved host"
        );
    }
    let entries = history_since(from);
    assert!(
        entries.iter().any(|e| e["event"] == "reserved-host"),
        "{entries:?}"
    );
    assert_eq!(attr(RESERVED, RESERVED_ATTR), None, "cmp3 was taken");
    wait_recovered(&nova, FAILING);
    nova.delete_servers(ids);
    drop(_enable_other);
    drop(restore);
    wait_healthy(&lab);
    wait_nova_healthy(&lab, &nova);
}

/// Enables a node's nova-compute again on drop (the test disabled it).
struct Reenable(&'static str);

impl Drop for Reenable {
    fn drop(&mut self) {
        if let Ok(nova) = Nova::try_connect()
            && let Ok(svc) = nova.compute().compute_service(self.0, deadline())
            && svc.is_disabled()
        {
            let _ = nova.compute().enable(&svc, deadline());
        }
    }
}
