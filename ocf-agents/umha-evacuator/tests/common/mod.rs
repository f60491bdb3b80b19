//! What the component tests share: a fake cloud (`openstack::testing`), an
//! in-memory cluster and the configuration the agent would read, so that
//! each test file says only what differs in its scenario.

// Each test file includes this module and uses only part of it.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use openstack::testing::{FakeCloud, ServerSpec};
use umha_common::Deadline;
use umha_evacuator::cluster::{Cluster, Memory};
use umha_evacuator::config::{Config, OnRecovery};
use umha_evacuator::history::History;
use umha_evacuator::hostmap::HostMap;
use umha_evacuator::plan::{ComputeNode, Selector, Snapshot};
use umha_evacuator::selection::{Mode, Selection};
use umha_evacuator::step::{Report, Stepper};
use umha_evacuator::storage::HeartbeatReader;
use umha_evacuator::valve::Valve;

/// The agent's configuration for the cloud `fake` of `clouds_yaml`: the
/// defaults of a small cluster, instances chosen by `mode`, local disks
/// evacuated (the fake cloud's servers boot from an image).
pub fn config(clouds_yaml: &Path, history: PathBuf, mode: Mode) -> Config {
    Config {
        cloud: "fake".into(),
        clouds_yaml: Some(clouds_yaml.to_owned()),
        selector: Selector::Remote,
        host_map: HostMap::default(),
        marker: "umha-evacuate".into(),
        valve: Valve {
            max_failed_hosts: 6,
            max_failed_ratio: 0.6,
            window: Duration::from_secs(600),
        },
        selection: Selection {
            mode,
            evacuate_error: false,
            evacuate_local_disk: true,
            exclude: BTreeSet::new(),
        },
        max_parallel: 2,
        max_attempts: 3,
        instance_timeout: Duration::from_secs(60),
        on_recovery: OnRecovery::Enable,
        dry_run: false,
        history_file: history,
        step_time: Duration::from_secs(15),
        storage: Default::default(),
        recovery: Default::default(),
        mail: None,
    }
}

/// An in-memory cluster with quorum, no hold and these compute nodes.
pub fn memory(nodes: Vec<ComputeNode>) -> Memory {
    Memory::new(Snapshot {
        version: cib::CibVersion::default(),
        now: 0,
        quorum: true,
        nodes,
        hold: None,
        history: None,
    })
}

/// A fake cloud with its `clouds.yaml` written in a fresh directory.
pub fn cloud() -> (FakeCloud, tempfile::TempDir, PathBuf) {
    let cloud = FakeCloud::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("clouds.yaml");
    std::fs::write(&yaml, cloud.clouds_yaml("fake")).unwrap();
    (cloud, dir, yaml)
}

/// The agent's whole world in a test: the fake cloud, the cluster, the
/// configuration, and the directory of its history. Each test file adds
/// its own constructor (`Rig::new`) and checks in an `impl Rig` of its own.
pub struct Rig {
    pub cloud: FakeCloud,
    pub dir: tempfile::TempDir,
    pub cluster: Memory,
    pub config: Config,
    /// The servers `boot` added.
    pub servers: Vec<String>,
    /// Set, the stepper reads heartbeats with it instead of its default.
    pub heartbeats: Option<HeartbeatReader>,
}

impl Rig {
    /// A cloud with `hosts` and no server, a cluster of `nodes`, instances
    /// chosen by `mode`.
    pub fn with(hosts: &[&str], nodes: Vec<ComputeNode>, mode: Mode) -> Self {
        let (cloud, dir, yaml) = cloud();
        cloud.add_hosts(hosts);
        let config = config(&yaml, dir.path().join("history.jsonl"), mode);
        Rig {
            cloud,
            dir,
            cluster: memory(nodes),
            config,
            servers: Vec::new(),
            heartbeats: None,
        }
    }

    /// Add `n` servers `vm0..` on `host`.
    pub fn boot(mut self, n: usize, host: &str) -> Self {
        for i in 0..n {
            let id = self
                .cloud
                .add_server(ServerSpec::new(&format!("vm{i}"), host));
            self.servers.push(id);
        }
        self
    }

    /// One reconcile step, as the agent's monitor runs it.
    pub fn step(&self) -> Report {
        self.step_on(&self.cluster)
    }

    /// One step against another cluster (one that fails on purpose, say).
    pub fn step_on<C: Cluster>(&self, cluster: &C) -> Report {
        let mut stepper = Stepper::new(cluster, &self.config);
        if let Some(h) = &self.heartbeats {
            stepper.heartbeats = h.clone();
        }
        let connect = |d: Deadline| umha_evacuator::agent::connect(&self.config, d);
        stepper
            .step(&connect, Deadline::after(Duration::from_secs(50)))
            .unwrap()
    }

    /// The compute node `name` as the cluster has it now.
    pub fn node(&self, name: &str) -> ComputeNode {
        self.cluster
            .snapshot_now()
            .nodes
            .into_iter()
            .find(|n| n.name == name)
            .unwrap()
    }

    /// Change compute node `name` in the cluster (nothing when absent).
    pub fn update(&self, name: &str, f: impl FnOnce(&mut ComputeNode)) {
        self.cluster.update(|s| {
            if let Some(n) = s.nodes.iter_mut().find(|n| n.name == name) {
                f(n);
            }
        });
    }

    /// The history so far (empty before the first entry).
    pub fn history(&self) -> Vec<serde_json::Value> {
        History::read(&self.dir.path().join("history.jsonl")).unwrap_or_default()
    }

    /// History entries of one kind.
    pub fn events(&self, kind: &str) -> Vec<serde_json::Value> {
        self.history()
            .into_iter()
            .filter(|e| e["event"] == kind)
            .collect()
    }
}

/// The agent's `validate-all` against an empty cluster, with the cloud
/// `fake` of `clouds_yaml` and `extra` in the environment.
pub fn validate_all(clouds_yaml: &Path, dir: &Path, extra: &[(&str, &str)]) -> agent_core::Outcome {
    let rsctmp = dir.join("rsc");
    std::fs::create_dir_all(&rsctmp).unwrap();
    let agent = umha_evacuator::Evacuator::with(memory(Vec::new()));
    let mut env = vec![
        ("OCF_ROOT", "/usr/lib/ocf"),
        ("HA_RSCTMP", rsctmp.to_str().unwrap()),
        ("OCF_RESOURCE_INSTANCE", "evacuator"),
        ("OCF_RESKEY_CRM_meta_on_node", "ctl1"),
        ("OCF_RESKEY_CRM_meta_timeout", "20000"),
        ("OCF_RESKEY_cloud", "fake"),
        ("OCF_RESKEY_clouds_yaml", clouds_yaml.to_str().unwrap()),
        ("HA_LOGFACILITY", "none"),
    ];
    env.extend_from_slice(extra);
    agent_core::testing::run_action(&agent, "validate-all", &env)
}
