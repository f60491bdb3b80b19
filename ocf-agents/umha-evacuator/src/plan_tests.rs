use std::time::Duration;

use super::*;

const T: i64 = 1_795_318_154;

fn when(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%SZ")
        .to_string()
}

fn history(events: &[(&str, &str, &str, i64)]) -> FenceHistory {
    let body: String = events
        .iter()
        .map(|(target, action, status, t)| {
            format!(
                r#"<fence_event action="{action}" target="{target}" client="c" origin="ctl1" status="{status}" exit-reason="BMC said no" completed="{}"/>"#,
                when(*t)
            )
        })
        .collect();
    FenceHistory::parse(&format!(
        r#"<pacemaker-result api-version="2.25" request="stonith_admin"><list name="fencing history">{body}</list><status code="0" message="OK"/></pacemaker-result>"#
    ))
    .unwrap()
}

fn node(name: &str) -> ComputeNode {
    ComputeNode::online_remote(name)
}

fn snapshot(nodes: Vec<ComputeNode>) -> Snapshot {
    Snapshot {
        version: cib::CibVersion::default(),
        now: T + 100,
        quorum: true,
        nodes,
        hold: None,
        history: Some(history(&[])),
    }
}

fn valve(ratio: f64) -> Valve {
    Valve {
        max_failed_hosts: 6,
        max_failed_ratio: ratio,
        window: Duration::from_secs(600),
    }
}

fn lost_and_fenced(name: &str) -> ComputeNode {
    ComputeNode {
        online: false,
        last_failure: Some(T),
        node_fenced: Some(T + 5),
        ..node(name)
    }
}

fn work_nodes(plan: &Plan) -> Vec<(&str, Phase)> {
    plan.work
        .iter()
        .map(|w| (w.node.as_str(), w.phase))
        .collect()
}

#[test]
fn settled_cluster_needs_nothing() {
    let s = snapshot(vec![node("cmp1"), node("cmp2")]);
    assert!(!s.needs_history());
    assert_eq!(plan(&s, &valve(0.6)), Plan::default());
}

#[test]
fn marker_opens_an_incident_even_when_the_node_is_back() {
    let mut n = node("cmp1");
    n.marker = Some((T + 4).to_string());
    let s = snapshot(vec![n, node("cmp2"), node("cmp3")]);
    let p = plan(&s, &valve(0.6));
    assert_eq!(work_nodes(&p), [("cmp1", Phase::Evacuating)]);
    assert!(p.writes.contains(&Write::SetRecord {
        node: "cmp1".into(),
        record: NodeRecord {
            phase: Phase::Evacuating,
            fence: T + 4
        }
    }));
    assert!(
        !p.writes
            .iter()
            .any(|w| matches!(w, Write::SetMarker { .. }))
    );
}

#[test]
fn stale_marker_is_cleared_not_acted_on() {
    let mut n = node("cmp1");
    n.marker = Some(T.to_string());
    n.handled = Some(T);
    let p = plan(&snapshot(vec![n]), &valve(0.6));
    assert!(p.work.is_empty());
    assert_eq!(
        p.writes,
        [Write::ClearMarker {
            node: "cmp1".into()
        }]
    );
}

#[test]
fn unreadable_marker_blocks_with_a_reason() {
    let mut n = node("cmp1");
    n.marker = Some("yes".into());
    let p = plan(&snapshot(vec![n]), &valve(0.6));
    assert!(p.work.is_empty());
    assert!(p.events[0].alert);
    assert!(p.events[0].message.contains("not a fence time"));
}

#[test]
fn lost_but_not_fenced_waits_and_says_why() {
    let mut n = lost_and_fenced("cmp1");
    n.node_fenced = None;
    let mut s = snapshot(vec![n, node("cmp2"), node("cmp3")]);
    s.history = Some(history(&[("cmp1", "reboot", "failed", T + 3)]));
    let p = plan(&s, &valve(0.6));
    assert!(p.work.is_empty());
    let Write::SetStatus { text, .. } = &p.writes[0] else {
        panic!("{p:?}")
    };
    assert!(text.contains("waiting for fencing"), "{text}");
    assert!(text.contains("BMC said no"), "{text}");
    // Said once: the status in the CIB keeps it from repeating.
    let mut s2 = s.clone();
    s2.nodes[0].status = Some(text.clone());
    assert_eq!(plan(&s2, &valve(0.6)), Plan::default());
}

#[test]
fn fence_history_after_the_loss_opens_and_marks() {
    let mut s = snapshot(vec![lost_and_fenced("cmp1"), node("cmp2"), node("cmp3")]);
    s.history = Some(history(&[("cmp1", "reboot", "success", T + 4)]));
    let p = plan(&s, &valve(0.6));
    assert_eq!(work_nodes(&p), [("cmp1", Phase::Evacuating)]);
    assert_eq!(
        p.writes[0],
        Write::SetMarker {
            node: "cmp1".into(),
            fence: T + 4
        }
    );
}

#[test]
fn a_fence_before_the_loss_does_not_count() {
    let mut s = snapshot(vec![lost_and_fenced("cmp1"), node("cmp2"), node("cmp3")]);
    s.history = Some(history(&[
        ("cmp1", "reboot", "success", T - 50),
        ("cmp1", "reboot", "success", T),
        ("cmp1", "on", "success", T + 4),
        ("cmp1", "off", "failed", T + 4),
        ("cmp9", "off", "success", T + 4),
    ]));
    let p = plan(&s, &valve(0.6));
    assert!(p.work.is_empty(), "{p:?}");
    assert!(p.events[0].message.contains("no successful off/reboot"));
}

#[test]
fn a_fence_already_handled_does_not_count() {
    let mut n = lost_and_fenced("cmp1");
    n.handled = Some(T + 4);
    let mut s = snapshot(vec![n, node("cmp2"), node("cmp3")]);
    s.history = Some(history(&[("cmp1", "reboot", "success", T + 4)]));
    assert!(plan(&s, &valve(0.6)).work.is_empty());
}

#[test]
fn controller_record_far_newer_than_history_is_doubt() {
    let mut n = lost_and_fenced("cmp1");
    n.last_failure = None;
    n.node_fenced = Some(T + 4 + FENCE_RECORD_SKEW + 1);
    let mut s = snapshot(vec![n, node("cmp2"), node("cmp3")]);
    s.history = Some(history(&[("cmp1", "off", "success", T + 4)]));
    let p = plan(&s, &valve(0.6));
    assert!(p.work.is_empty());
    assert!(p.events[0].message.contains("until they agree"));
}

#[test]
fn no_history_no_evacuation() {
    let mut s = snapshot(vec![lost_and_fenced("cmp1"), node("cmp2"), node("cmp3")]);
    s.history = None;
    assert!(plan(&s, &valve(0.6)).work.is_empty());
}

#[test]
fn full_cluster_nodes_need_the_marker() {
    let mut n = lost_and_fenced("cmp1");
    n.remote = false;
    let mut s = snapshot(vec![n, node("cmp2"), node("cmp3")]);
    s.history = Some(history(&[("cmp1", "reboot", "success", T + 4)]));
    let p = plan(&s, &valve(0.6));
    assert!(p.work.is_empty());
    assert!(p.events[0].message.contains("marker"));
}

#[test]
fn no_quorum_no_evacuation() {
    let mut n = node("cmp1");
    n.marker = Some((T + 4).to_string());
    let mut s = snapshot(vec![n, node("cmp2"), node("cmp3")]);
    s.quorum = false;
    let p = plan(&s, &valve(0.6));
    assert!(p.work.is_empty());
    assert!(
        !p.writes
            .iter()
            .any(|w| matches!(w, Write::SetRecord { .. }))
    );
}

#[test]
fn valve_trips_on_two_of_three_and_holds_both() {
    let mut s = snapshot(vec![
        lost_and_fenced("cmp1"),
        lost_and_fenced("cmp2"),
        node("cmp3"),
    ]);
    s.history = Some(history(&[
        ("cmp1", "reboot", "success", T + 4),
        ("cmp2", "reboot", "success", T + 6),
    ]));
    let p = plan(&s, &valve(0.5));
    assert!(p.work.is_empty(), "{p:?}");
    let hold = p
        .writes
        .iter()
        .position(|w| matches!(w, Write::SetHold { .. }))
        .unwrap();
    let first_held = p
        .writes
        .iter()
        .position(|w| {
            matches!(
                w,
                Write::SetRecord {
                    record: NodeRecord {
                        phase: Phase::Held,
                        ..
                    },
                    ..
                }
            )
        })
        .unwrap();
    assert!(
        hold < first_held,
        "the hold is written before any node is held"
    );
    let held: Vec<_> = p
        .writes
        .iter()
        .filter_map(|w| match w {
            Write::SetRecord { node, record } if record.phase == Phase::Held => Some(node.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(held, ["cmp1", "cmp2"]);
    assert_eq!(
        p.writes
            .iter()
            .filter(|w| matches!(w, Write::SetHold { .. }))
            .count(),
        1
    );
    assert!(p.events.iter().any(|e| e.kind == "valve" && e.alert));
}

#[test]
fn a_lost_unfenced_node_counts_for_the_valve() {
    // cmp2 is still waiting for its fence: cmp1 must not be evacuated alone.
    let mut cmp2 = lost_and_fenced("cmp2");
    cmp2.node_fenced = None;
    let mut s = snapshot(vec![lost_and_fenced("cmp1"), cmp2, node("cmp3")]);
    s.history = Some(history(&[("cmp1", "reboot", "success", T + 4)]));
    assert!(plan(&s, &valve(0.5)).work.is_empty());
}

#[test]
fn a_node_evacuated_earlier_in_the_window_counts() {
    let mut earlier = node("cmp2");
    earlier.handled = Some(T - 200);
    let mut s = snapshot(vec![lost_and_fenced("cmp1"), earlier, node("cmp3")]);
    s.history = Some(history(&[("cmp1", "reboot", "success", T + 4)]));
    assert!(plan(&s, &valve(0.5)).work.is_empty());
    // Outside the window it does not.
    s.nodes[1].handled = Some(T - 1000);
    assert_eq!(plan(&s, &valve(0.5)).work.len(), 1);
}

#[test]
fn release_resumes_held_nodes_and_hold_holds_new_ones() {
    let mut held = node("cmp1");
    held.marker = Some((T + 4).to_string());
    held.record = Some(NodeRecord {
        phase: Phase::Held,
        fence: T + 4,
    });
    let mut fresh = node("cmp2");
    fresh.marker = Some((T + 6).to_string());
    let mut s = snapshot(vec![held, fresh, node("cmp3")]);
    s.hold = Some("set".into());
    let p = plan(&s, &valve(0.5));
    assert!(p.work.is_empty());
    assert!(p.writes.contains(&Write::SetRecord {
        node: "cmp2".into(),
        record: NodeRecord {
            phase: Phase::Held,
            fence: T + 6
        }
    }));
    // Released: both held nodes go, without asking the valve again.
    s.hold = None;
    s.nodes[1].record = Some(NodeRecord {
        phase: Phase::Held,
        fence: T + 6,
    });
    let p = plan(&s, &valve(0.5));
    assert_eq!(
        work_nodes(&p),
        [("cmp1", Phase::Evacuating), ("cmp2", Phase::Evacuating)]
    );
}

#[test]
fn incidents_in_progress_continue_and_failed_ones_wait() {
    let mut a = node("cmp1");
    a.marker = Some((T + 4).to_string());
    a.record = Some(NodeRecord {
        phase: Phase::Evacuating,
        fence: T + 4,
    });
    let mut b = node("cmp2");
    b.marker = Some((T + 4).to_string());
    b.record = Some(NodeRecord {
        phase: Phase::Failed,
        fence: T + 4,
    });
    let mut c = node("cmp3");
    c.record = Some(NodeRecord {
        phase: Phase::Restoring,
        fence: T - 10,
    });
    c.handled = Some(T - 10);
    let p = plan(&snapshot(vec![a, b, c]), &valve(0.0));
    assert_eq!(
        work_nodes(&p),
        [("cmp1", Phase::Evacuating), ("cmp3", Phase::Restoring)]
    );
    assert!(p.writes.is_empty(), "{p:?}");
}

#[test]
fn an_older_record_does_not_hide_a_new_incident() {
    let mut n = node("cmp1");
    n.marker = Some((T + 4).to_string());
    n.handled = Some(T - 500);
    n.record = Some(NodeRecord {
        phase: Phase::Done,
        fence: T - 500,
    });
    let p = plan(&snapshot(vec![n, node("cmp2"), node("cmp3")]), &valve(0.6));
    assert_eq!(work_nodes(&p), [("cmp1", Phase::Evacuating)]);
}

#[test]
fn selector_kinds() {
    let cib = cib::Cib::from_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../crates/cib/fixtures/attributes-cib.xml"
    ))
    .unwrap();
    let names = |sel: &Selector| -> Vec<String> {
        Snapshot::from_cib(&cib, sel, "umha-evacuate", T)
            .nodes
            .into_iter()
            .map(|n| n.name)
            .collect()
    };
    assert_eq!(names(&Selector::Remote), ["cmp1", "cmp2", "cmp3"]);
    assert_eq!(
        names(&Selector::Names(["cmp2".to_owned()].into())),
        ["cmp2"]
    );
    assert_eq!(
        names(&Selector::Attribute {
            name: "umha-test".into(),
            value: Some("42".into())
        }),
        ["cmp2"]
    );
}

#[test]
fn real_capture_of_a_fenced_node_is_an_incident_by_the_history_rule() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../crates/cib/fixtures");
    let cib = cib::Cib::from_file(format!("{dir}/fenced-off-cib.xml")).unwrap();
    let mut s = Snapshot::from_cib(&cib, &Selector::Remote, "umha-evacuate", T + 10_000);
    assert!(s.needs_history());
    let cmp1 = s.nodes.iter().find(|n| n.name == "cmp1").unwrap();
    assert!(!cmp1.online);
    assert!(cmp1.node_fenced.is_some());
    let text = std::fs::read_to_string(format!("{dir}/fenced-off-fence-history.xml")).unwrap();
    s.history = Some(FenceHistory::parse(&text).unwrap());
    let p = plan(&s, &valve(0.6));
    assert_eq!(work_nodes(&p), [("cmp1", Phase::Evacuating)]);
}

fn storage_red(name: &str, checks: u32) -> ComputeNode {
    let mut n = node(name);
    n.storage.score = Some(0);
    n.storage.red_checks = Some(checks);
    n
}

#[test]
fn decide_fences_a_sick_node_and_evacuates_a_fenced_one_in_one_step() {
    let mut fenced = node("cmp2");
    fenced.marker = Some((T + 4).to_string());
    let s = snapshot(vec![
        storage_red("cmp1", 3),
        fenced,
        node("cmp3"),
        node("cmp4"),
    ]);
    let p = decide(&s, &valve(0.0), &crate::storage::Policy::default(), false);
    assert_eq!(p.fence_requests, ["cmp1"]);
    assert_eq!(work_nodes(&p), [("cmp2", Phase::Evacuating)]);
    // plan() alone leaves storage out.
    assert!(plan(&s, &valve(0.0)).fence_requests.is_empty());
}

#[test]
fn a_storage_trip_holds_this_step_s_evacuations_too() {
    let mut fenced = lost_and_fenced("cmp3");
    fenced.marker = Some((T + 4).to_string());
    let s = snapshot(vec![
        storage_red("cmp1", 3),
        storage_red("cmp2", 3),
        fenced,
        node("cmp4"),
    ]);
    let policy = crate::storage::Policy {
        max_failed_ratio: 0.5,
        ..crate::storage::Policy::default()
    };
    let p = decide(&s, &valve(0.0), &policy, false);
    assert!(p.fence_requests.is_empty());
    assert!(p.work.is_empty(), "{p:?}");
    assert_eq!(
        p.writes
            .iter()
            .filter(|w| matches!(w, Write::SetHold { .. }))
            .count(),
        1
    );
    assert!(p.writes.contains(&Write::SetRecord {
        node: "cmp3".into(),
        record: NodeRecord {
            phase: Phase::Held,
            fence: T + 4
        }
    }));
}

#[test]
fn a_failure_valve_trip_stops_fence_requests_in_the_same_step() {
    let s = snapshot(vec![
        storage_red("cmp1", 3),
        lost_and_fenced("cmp2"),
        lost_and_fenced("cmp3"),
    ]);
    let mut s = s;
    s.history = Some(history(&[
        ("cmp2", "reboot", "success", T + 4),
        ("cmp3", "reboot", "success", T + 6),
    ]));
    let p = decide(&s, &valve(0.5), &crate::storage::Policy::default(), false);
    assert!(p.writes.iter().any(|w| matches!(w, Write::SetHold { .. })));
    assert!(p.fence_requests.is_empty(), "{p:?}");
}

#[test]
fn a_lost_node_writing_its_heartbeat_is_reported_isolated() {
    let mut n = lost_and_fenced("cmp1");
    n.node_fenced = None;
    n.storage.heartbeat = Some(T + 10);
    let s = snapshot(vec![n, node("cmp2"), node("cmp3")]);
    let p = plan(&s, &valve(0.6));
    assert!(p.work.is_empty());
    let e = &p.events[0];
    assert!(e.alert);
    assert!(e.message.contains("waiting for fencing"), "{}", e.message);
    assert!(
        e.message.ends_with(crate::storage::ISOLATED),
        "{}",
        e.message
    );
    // Once fenced, the approval says it was isolated until then.
    let mut s = s;
    s.nodes[0].node_fenced = Some(T + 20);
    s.history = Some(history(&[("cmp1", "off", "success", T + 15)]));
    let p = plan(&s, &valve(0.6));
    assert_eq!(work_nodes(&p), [("cmp1", Phase::Evacuating)]);
    let approved = p.events.iter().find(|e| e.kind == "approved").unwrap();
    assert!(
        approved.message.contains("isolated, not dead"),
        "{}",
        approved.message
    );
}

mod safety {
    //! The gate as a property: whatever the snapshot, no evacuation starts
    //! without fence evidence, quorum, and an open valve or a released hold;
    //! and no fence is requested for a node's storage unless the rule says
    //! it is sick, with quorum and no hold.
    use super::*;
    use crate::storage::{NodeStorage, Policy};
    use proptest::prelude::*;

    fn arb_storage() -> impl Strategy<Value = NodeStorage> {
        (
            proptest::option::of(prop_oneof![Just(0i64), Just(1000), Just(3000)]),
            proptest::option::weighted(0.7, 1u32..6),
            proptest::option::of(0i64..250),
            any::<bool>(),
            proptest::option::of(0i64..250),
        )
            .prop_map(
                |(score, red_checks, requested, status, heartbeat)| NodeStorage {
                    score,
                    red_checks,
                    fence_requested: requested.map(|t| T + t),
                    status: status.then(|| "earlier line".to_owned()),
                    heartbeat: heartbeat.map(|t| T + t),
                },
            )
    }

    fn arb_policy() -> impl Strategy<Value = (Policy, bool)> {
        // Weighted towards fencing being allowed, so requests are common
        // enough for the property to bite.
        (
            1u32..5,
            proptest::bool::weighted(0.8),
            prop_oneof![Just(0u32), Just(2), Just(6)],
            prop_oneof![Just(0.0), Just(0.5), Just(0.6), Just(1.0)],
            proptest::bool::weighted(0.2),
        )
            .prop_map(|(error_count, fencing, hosts, ratio, dry_run)| {
                (
                    Policy {
                        error_count,
                        fencing,
                        max_failed_hosts: hosts,
                        max_failed_ratio: ratio,
                        ..Policy::default()
                    },
                    dry_run,
                )
            })
    }

    fn arb_node(i: usize) -> impl Strategy<Value = ComputeNode> {
        (
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(0i64..200),
            proptest::option::of(0i64..200),
            proptest::option::of(prop_oneof![
                (0i64..200).prop_map(|t| (T + t).to_string()),
                Just("yes".to_owned()),
                Just(String::new()),
            ]),
            proptest::option::of(0i64..200),
            proptest::option::of((0usize..5, 0i64..200)),
            arb_storage(),
        )
            .prop_map(
                move |(online, remote, fenced, lost, marker, handled, record, storage)| {
                    let phases = [
                        Phase::Held,
                        Phase::Evacuating,
                        Phase::Restoring,
                        Phase::Done,
                        Phase::Failed,
                    ];
                    ComputeNode {
                        name: format!("cmp{i}"),
                        online,
                        remote,
                        node_fenced: fenced.map(|t| T + t),
                        last_failure: lost.map(|t| T + t),
                        marker: marker.filter(|m| !m.is_empty()),
                        handled: handled.map(|t| T + t),
                        record: record.map(|(p, t)| NodeRecord {
                            phase: phases[p],
                            fence: T + t,
                        }),
                        status: None,
                        storage,
                        recovery: Default::default(),
                    }
                },
            )
    }

    fn arb_snapshot() -> impl Strategy<Value = Snapshot> {
        (
            (1usize..6).prop_flat_map(|n| (0..n).map(arb_node).collect::<Vec<_>>()),
            proptest::bool::weighted(0.75),
            proptest::bool::weighted(0.25),
            proptest::collection::vec((0usize..6, 0usize..3, 0usize..3, 0i64..200), 0..8),
        )
            .prop_map(|(nodes, quorum, hold, events)| {
                let actions = ["off", "reboot", "on"];
                let list: Vec<(String, &str, &str, i64)> = events
                    .into_iter()
                    .map(|(n, a, status, t)| {
                        (
                            format!("cmp{n}"),
                            actions[a],
                            ["success", "failed", "pending"][status],
                            T + t,
                        )
                    })
                    .collect();
                let refs: Vec<(&str, &str, &str, i64)> = list
                    .iter()
                    .map(|(n, a, s, t)| (n.as_str(), *a, *s, *t))
                    .collect();
                Snapshot {
                    version: cib::CibVersion::default(),
                    now: T + 250,
                    quorum,
                    nodes,
                    hold: hold.then(|| "held".to_owned()),
                    history: Some(history(&refs)),
                }
            })
    }

    proptest! {
        // About one case in 25 makes a request: enough cases for the
        // property to see a few dozen.
        #![proptest_config(ProptestConfig::with_cases(2048))]
        #[test]
        fn no_fence_request_unless_sick_with_quorum_and_no_hold(
            s in arb_snapshot(),
            (policy, dry_run) in arb_policy(),
        ) {
            let p = decide(&s, &valve(0.5), &policy, dry_run);
            let tripped = p.writes.iter().any(|w| matches!(w, Write::SetHold { .. }));
            let mut seen = BTreeSet::new();
            for name in &p.fence_requests {
                prop_assert!(seen.insert(name), "{name} requested twice in one step");
                prop_assert!(s.quorum, "without quorum");
                prop_assert!(s.hold.is_none() && !tripped, "while held");
                prop_assert!(policy.fencing && !dry_run);
                let n = s.nodes.iter().find(|n| &n.name == name).unwrap();
                prop_assert!(n.online, "{name} is offline: Pacemaker's to fence");
                prop_assert!(policy.is_sick(n), "{n:?} is not sick");
                prop_assert!(n.marker.is_none(), "{n:?} has an open incident");
                // Recorded in the same plan, before the request is made.
                let recorded = Write::SetFenceRequest {
                    node: name.clone(),
                    at: s.now,
                };
                prop_assert!(p.writes.contains(&recorded), "{:?} not recorded", name);
                // A repeat only after the timeout, with no fence since.
                if let Some(r) = n.storage.fence_requested {
                    let timeout = i64::try_from(policy.fence_timeout.as_secs()).unwrap();
                    prop_assert!(s.now - r >= timeout, "{n:?}");
                    let h = s.history.as_ref();
                    prop_assert!(h.is_none_or(|h| h.pending_for(name).next().is_none()));
                    prop_assert!(h.is_none_or(|h| h
                        .confirmed_fence_after(name, cib::UnixTime::from_secs(r - 1))
                        .is_none()));
                    prop_assert!(n.handled.is_none_or(|x| x < r));
                    prop_assert!(n.record.is_none_or(|x| x.fence < r));
                }
            }
            // Every recorded request is a request made, and the other way round.
            for w in &p.writes {
                if let Write::SetFenceRequest { node, .. } = w {
                    prop_assert!(p.fence_requests.contains(node));
                }
            }
        }
    }

    proptest! {

        #[test]
        fn no_evacuation_without_evidence(
            s in arb_snapshot(),
            (policy, dry_run) in arb_policy(),
        ) {
            let p = decide(&s, &valve(0.5), &policy, dry_run);
            for w in p.work.iter().filter(|w| w.phase == Phase::Evacuating) {
                prop_assert!(s.quorum);
                let n = s.nodes.iter().find(|n| n.name == w.node).unwrap();
                let handled = n.handled.unwrap_or(0);
                prop_assert!(w.fence > handled);
                let by_marker = n.marker.as_deref().and_then(record::parse_epoch) == Some(w.fence);
                let by_history = n.marker.is_none()
                    && n.remote
                    && !n.online
                    && n.node_fenced.is_some()
                    && s.history.as_ref().unwrap().events_for(&n.name).any(|e| {
                        e.confirms_power_cut()
                            && e.completed.map(|t| t.secs()) == Some(w.fence)
                            && w.fence > n.last_failure.unwrap_or(0)
                    });
                prop_assert!(by_marker || by_history, "{n:?} -> {w:?}");
                // Started now only with the valve open or the hold released.
                let was_held = n.record.is_some_and(|r| r.fence == w.fence && r.phase == Phase::Held);
                let continuing = n.record.is_some_and(|r| r.fence == w.fence && r.phase == Phase::Evacuating);
                let tripped = p.writes.iter().any(|x| matches!(x, Write::SetHold { .. }));
                let ok = continuing || (s.hold.is_none() && !tripped) || (was_held && s.hold.is_none());
                prop_assert!(ok, "{:?} started under a hold", w);
            }
        }
    }
}
