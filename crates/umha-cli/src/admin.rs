//! The operator's writes: the valve's hold, and putting a repaired host
//! back into service. Each goes through the same names and CIB calls as the
//! evacuator, so the agent sees exactly what it would have written itself.

use cib::{CibError, attr};
use umha_common::Deadline;
use umha_evacuator::cluster::Cluster;
use umha_evacuator::config::Config;
use umha_evacuator::maintenance::{self, MaintenanceError};
use umha_evacuator::plan::{Snapshot, Write};
use umha_evacuator::record;

use crate::CliError;

/// Hold the valve: the evacuator starts no evacuation until released.
pub fn hold(reason: &str, deadline: Deadline) -> Result<(), CliError> {
    attr::set_property(record::HOLD_SET, record::HOLD, &hold_text(reason), deadline)
        .map_err(|e| CliError::cib("setting the hold", e))
}

/// The hold's value: what `umha status` and the evacuator's log show.
pub fn hold_text(reason: &str) -> String {
    if reason.trim().is_empty() {
        "held by the operator (umha hold)".to_owned()
    } else {
        format!("held by the operator: {}", reason.trim())
    }
}

/// Release the hold; held nodes are evacuated at the evacuator's next step.
pub fn release(deadline: Deadline) -> Result<(), CliError> {
    attr::delete_property(record::HOLD_SET, record::HOLD, deadline)
        .map_err(|e| CliError::cib("deleting the hold", e))
}

/// Back into service after repair, through the evacuator's own
/// [`maintenance::end_maintenance`]: un-force-down, wait for the service to
/// be up, enable it, and only then delete `umha-maintenance`.
///
/// Refused while the node carries its evacuation marker: its instances may
/// be being rebuilt elsewhere right now, and Nova must keep counting the
/// host down until they are. `force` overrides that (a marker left by an
/// evacuation the operator abandoned), and nothing else.
///
/// `Ok` lists what was done; [`CliError::NotFinished`] what was done and
/// what it waits for (run it again).
pub fn host_enable<C: Cluster>(
    cluster: &C,
    config: &Config,
    node: &str,
    force: bool,
    deadline: Deadline,
) -> Result<Vec<String>, CliError> {
    let snapshot = cluster
        .snapshot(config, crate::when::now(), deadline)
        .map_err(|e| CliError::cib("reading the CIB", e))?;
    let Some(known) = snapshot.nodes.iter().find(|n| n.name == node) else {
        let names: Vec<&str> = snapshot.nodes.iter().map(|n| n.name.as_str()).collect();
        return Err(CliError::Invalid(format!(
            "{node:?} is not a compute node of this cluster (compute nodes: {})",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        )));
    };
    let mut lines = Vec::new();
    let result = match (&known.marker, force) {
        (Some(marker), true) => {
            lines.push(format!(
                "--force: ignoring the evacuation marker {}={marker} on {node} (left in place; the evacuator still owns it)",
                config.marker
            ));
            let forced = IgnoreMarker {
                inner: cluster,
                node,
            };
            maintenance::end_maintenance(&forced, config, node, deadline)
        }
        _ => maintenance::end_maintenance(cluster, config, node, deadline),
    };
    let end = result.map_err(|e| match e {
        MaintenanceError::EvacuationOpen { node, marker } => CliError::Refused(format!(
            "{node} still carries the evacuation marker {marker}: its evacuation is not finished, and Nova must count the host down until it is. `umha status` shows where it stands; the evacuator clears the marker once every instance is settled. Use --force only for an evacuation you abandoned."
        )),
        other => CliError::Refused(other.to_string()),
    })?;
    lines.extend(end.steps);
    match end.waiting {
        None => Ok(lines),
        Some(why) => Err(CliError::NotFinished {
            done: lines,
            why: format!("{why}; run `umha host enable {node}` again"),
        }),
    }
}

/// A cluster whose snapshot does not show one node's evacuation marker:
/// `umha host enable --force` runs the evacuator's own procedure unchanged
/// but for that one check. Writes go to the real cluster; the marker
/// itself stays in the CIB.
#[derive(Debug)]
struct IgnoreMarker<'a, C: Cluster> {
    inner: &'a C,
    node: &'a str,
}

impl<C: Cluster> Cluster for IgnoreMarker<'_, C> {
    fn snapshot(
        &self,
        config: &Config,
        now: i64,
        deadline: Deadline,
    ) -> Result<Snapshot, CibError> {
        let mut snapshot = self.inner.snapshot(config, now, deadline)?;
        for n in snapshot.nodes.iter_mut().filter(|n| n.name == self.node) {
            n.marker = None;
        }
        Ok(snapshot)
    }

    fn apply(&self, config: &Config, write: &Write, deadline: Deadline) -> Result<(), CibError> {
        self.inner.apply(config, write, deadline)
    }

    fn version(&self, deadline: Deadline) -> Result<(cib::CibVersion, bool), CibError> {
        self.inner.version(deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    use openstack::testing::FakeCloud;
    use umha_evacuator::cluster::Memory;
    use umha_evacuator::plan::ComputeNode;

    fn setup() -> (FakeCloud, tempfile::TempDir, Config) {
        let cloud = FakeCloud::start().unwrap();
        cloud.add_hosts(&["cmp1", "cmp2"]);
        let dir = tempfile::tempdir().unwrap();
        let yaml = dir.path().join("clouds.yaml");
        std::fs::write(&yaml, cloud.clouds_yaml("fake")).unwrap();
        let mut params = BTreeMap::new();
        params.insert("cloud".to_owned(), "fake".to_owned());
        params.insert("clouds_yaml".to_owned(), yaml.display().to_string());
        let config = crate::context::config_from(&params).unwrap();
        (cloud, dir, config)
    }

    fn cluster(marker: Option<&str>) -> Memory {
        let mut cmp1 = ComputeNode::online_remote("cmp1");
        cmp1.marker = marker.map(str::to_owned);
        cmp1.recovery.maintenance = Some("1795342677 kept after the incident".to_owned());
        Memory::new(Snapshot {
            version: cib::CibVersion::default(),
            now: 0,
            quorum: true,
            nodes: vec![cmp1, ComputeNode::online_remote("cmp2")],
            hold: None,
            history: None,
        })
    }

    fn deadline() -> Deadline {
        Deadline::after(Duration::from_secs(30))
    }

    #[test]
    fn enables_forced_down_host_and_clears_maintenance() {
        let (cloud, _dir, config) = setup();
        cloud.set_forced_down("cmp1", true);
        cloud.set_disabled(
            "cmp1",
            true,
            Some("umha: cmp1 fenced at 1795342677, evacuating"),
        );
        let c = cluster(None);
        let lines = host_enable(&c, &config, "cmp1", false, deadline()).unwrap();
        let text = lines.join("\n");
        assert!(text.contains("forced_down cleared"), "{text}");
        assert!(text.contains("enabled"), "{text}");
        assert!(text.contains("umha-maintenance cleared on cmp1"), "{text}");
        let svc = cloud.service("cmp1").unwrap();
        assert!(!svc.forced_down && !svc.disabled, "{svc:?}");
        assert_eq!(
            c.written(),
            vec![Write::ClearMaintenance {
                node: "cmp1".into()
            }]
        );
    }

    #[test]
    fn refuses_an_open_evacuation_unless_forced() {
        let (cloud, _dir, config) = setup();
        cloud.set_forced_down("cmp1", true);
        let c = cluster(Some("1795342677"));
        let e = host_enable(&c, &config, "cmp1", false, deadline())
            .unwrap_err()
            .to_string();
        assert!(e.contains("umha-evacuate=1795342677"), "{e}");
        assert!(e.contains("--force"), "{e}");
        assert!(cloud.service("cmp1").unwrap().forced_down);
        assert!(c.written().is_empty());

        let lines = host_enable(&c, &config, "cmp1", true, deadline()).unwrap();
        assert!(
            lines[0].contains("ignoring the evacuation marker"),
            "{lines:?}"
        );
        assert!(!cloud.service("cmp1").unwrap().forced_down);
        // The marker is the evacuator's: --force leaves it.
        assert_eq!(
            c.snapshot_now().nodes[0].marker.as_deref(),
            Some("1795342677")
        );
    }

    #[test]
    fn unknown_node_and_unfinished_return() {
        let (cloud, _dir, config) = setup();
        let c = cluster(None);
        let e = host_enable(&c, &config, "cmp9", false, deadline())
            .unwrap_err()
            .to_string();
        assert!(e.contains("cmp9") && e.contains("cmp1, cmp2"), "{e}");
        // nova-compute does not run: un-forced, but Nova never counts it up.
        cloud.set_forced_down("cmp1", true);
        cloud.kill_service("cmp1");
        cloud.mark_service_down("cmp1");
        let short = Deadline::after(Duration::from_secs(2));
        match host_enable(&c, &config, "cmp1", false, short) {
            Err(CliError::NotFinished { done, why }) => {
                assert!(
                    done.iter().any(|l| l.contains("forced_down cleared")),
                    "{done:?}"
                );
                assert!(why.contains("does not report up"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            c.written().is_empty(),
            "maintenance kept until the host is up"
        );
    }
}
