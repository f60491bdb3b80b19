//! Every response decoder against structurally valid but hostile JSON.
//!
//! The unit tests beside each decoder already feed it arbitrary bytes; most
//! arbitrary bytes are not JSON and stop at the parser. Here real answers
//! (the lab's fixtures, plus synthetic ones where the lab captured none) are
//! mutated where it hurts: a field of the wrong type, a huge or
//! out-of-range number, deep nesting, a very long or control-laden string,
//! a missing field. Each mutated document goes through *every* decoder, and
//! whatever decodes goes through the methods the evacuator calls next
//! (progress, classify, catalog lookup, ...). Nothing may panic, and the
//! error-message extractor must stay bounded and free of control
//! characters whatever it is given.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

mod mock;

use std::sync::OnceLock;
use std::time::Instant;

use openstack::Interface;
use openstack::action::parse_instance_actions_page;
use openstack::auth::parse_token;
use openstack::error::{MAX_QUOTE, api_message};
use openstack::glance::{EVACUABLE, parse_images_page};
use openstack::hypervisor::parse_hypervisors_page;
use openstack::microversion::{DEFAULT_CAP, negotiate, parse_version_document};
use openstack::migration::{classify, parse_migrations_page};
use openstack::server::{parse_server, parse_servers_page};
use openstack::service::parse_services;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Answers of every kind: the lab's fixtures when present, and synthetic
/// ones for what the lab did not capture (images, instance actions,
/// hypervisors) or in case the fixtures are absent.
fn templates() -> &'static Vec<(String, Value)> {
    static T: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    T.get_or_init(|| {
        let mut out: Vec<(String, Value)> = Vec::new();
        if let Ok(entries) = std::fs::read_dir(mock::fixtures_dir()) {
            let mut names: Vec<_> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            names.sort();
            for p in names {
                if let Ok(v) = serde_json::from_slice::<Value>(&std::fs::read(&p).unwrap()) {
                    out.push((p.display().to_string(), v));
                }
            }
        }
        let synthetic = [
            json!({"images": [
                {"id": "i1", "name": "cirros", "status": "active", "visibility": "public", "tags": ["evacuable"],
                 "os_hidden": false, "size": 1024, "evacuable": "true", "hw_disk_bus": "scsi"}],
                "first": "/v2/images", "next": "/v2/images?marker=i1"}),
            json!({"instanceActions": [
                {"action": "evacuate", "instance_uuid": "i1", "message": null, "project_id": "p",
                 "request_id": "req-2", "start_time": "2024-05-01T12:00:05.000000", "user_id": "u",
                 "updated_at": null}], "links": [{"rel": "next", "href": "x"}]}),
            json!({"hypervisors": [
                {"id": "5d343e1d-938e-4284-b98b-6a2b5406ba76", "hypervisor_hostname": "cmp1", "state": "up",
                 "status": "enabled", "service": {"host": "cmp1", "id": 7, "disabled_reason": null},
                 "vcpus": 8, "memory_mb": 16000, "free_ram_mb": -5, "running_vms": 2}],
                "hypervisors_links": [{"rel": "next", "href": "x"}]}),
            json!({"token": {"expires_at": "2030-01-01T01:00:00Z", "issued_at": "2030-01-01T00:00:00Z",
                "project": {"id": "p"}, "user": {"id": "u"},
                "catalog": [{"type": "compute", "endpoints": [
                    {"interface": "public", "region_id": "RegionOne", "url": "http://n/v2.1"}]}]}}),
            json!({"servers": [{"id": "s", "status": "REBUILD", "OS-EXT-STS:task_state": "rebuilding",
                "OS-EXT-SRV-ATTR:host": "cmp1", "image": "", "flavor": {"extra_specs": {"evacuable": "true"}},
                "metadata": {}, "tags": [], "os-extended-volumes:volumes_attached": [{"id": "v"}]}],
                "servers_links": [{"rel": "next", "href": "x"}]}),
            json!({"migrations": [{"id": 1, "uuid": "m", "instance_uuid": "s", "status": "accepted",
                "migration_type": "evacuation", "source_compute": "cmp1", "created_at": "2024-05-01T12:00:00.000000"}],
                "migrations_links": [{"rel": "next", "href": "x"}]}),
            json!({"services": [{"id": 3, "binary": "nova-compute", "host": "cmp1", "status": "enabled",
                "state": "up", "forced_down": false}]}),
            json!({"version": {"id": "v2.1", "status": "CURRENT", "version": "2.93", "min_version": "2.1"}}),
            json!({"badRequest": {"code": 400, "message": "Compute service of cmp1 is still in use."}}),
        ];
        for (i, v) in synthetic.into_iter().enumerate() {
            out.push((format!("synthetic-{i}"), v));
        }
        out
    })
}

/// What replaces a node.
#[derive(Debug, Clone)]
enum Hostile {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    /// Raw JSON number text (out of range for every Rust number type).
    NumberText(String),
    Text(String),
    LongText {
        unit: String,
        times: usize,
    },
    /// `[[[...]]]` or `{"a":{"a":...}}`, as text: deeper than any parser
    /// recursion limit.
    Deep {
        depth: usize,
        objects: bool,
    },
    EmptyObject,
    EmptyArray,
    ManyNulls(usize),
    /// The node removed (a missing field), when its parent is an object.
    Remove,
}

fn hostile() -> impl Strategy<Value = Hostile> {
    prop_oneof![
        Just(Hostile::Null),
        any::<bool>().prop_map(Hostile::Bool),
        prop_oneof![
            Just(i128::from(i64::MIN)),
            Just(i128::from(u64::MAX)),
            Just(-1i128),
            Just(0),
            any::<i64>().prop_map(i128::from)
        ]
        .prop_map(Hostile::Int),
        prop_oneof![
            Just(1e308),
            Just(-0.0),
            Just(f64::MIN_POSITIVE),
            any::<f64>()
        ]
        .prop_map(Hostile::Float),
        prop_oneof![
            Just("1e999".to_owned()),
            Just("-1e999".to_owned()),
            Just("123456789012345678901234567890".to_owned()),
            Just("0.000000000000000000000000000000000000000000001".to_owned())
        ]
        .prop_map(Hostile::NumberText),
        prop_oneof![
            Just(String::new()),
            Just("\u{0}\u{1b}[31m\r\nforged: line".to_owned()),
            Just("2024-13-45T99:99:99".to_owned()),
            Just("../../etc/passwd?x=1#y".to_owned()),
            Just("\u{202e}evil\u{feff}".to_owned()),
            ".{0,40}"
        ]
        .prop_map(Hostile::Text),
        (
            prop_oneof![
                Just("x".to_owned()),
                Just("é".to_owned()),
                Just("\n".to_owned()),
                Just("\u{1F600}".to_owned())
            ],
            1_000usize..70_000
        )
            .prop_map(|(unit, times)| Hostile::LongText { unit, times }),
        (1usize..3000, any::<bool>()).prop_map(|(depth, objects)| Hostile::Deep { depth, objects }),
        Just(Hostile::EmptyObject),
        Just(Hostile::EmptyArray),
        (1usize..2000).prop_map(Hostile::ManyNulls),
        Just(Hostile::Remove),
    ]
}

const HOLE: &str = "\u{1}HOLE\u{1}";

/// Replace the node at `path` (indices taken modulo the children) with a
/// placeholder, or remove it; returns the raw text for the placeholder.
fn mutate(doc: &mut Value, path: &[u32], what: &Hostile, n: usize) -> Option<(String, String)> {
    enum Step {
        Key(String),
        Index(usize),
    }
    // Resolve the path on a shared borrow first, then walk it mutably.
    let mut steps = Vec::new();
    let mut probe: &Value = doc;
    for step in path {
        match probe {
            Value::Object(map) if !map.is_empty() => {
                let key = map.keys().nth(*step as usize % map.len())?.clone();
                probe = map.get(&key)?;
                steps.push(Step::Key(key));
            }
            Value::Array(list) if !list.is_empty() => {
                let i = *step as usize % list.len();
                probe = list.get(i)?;
                steps.push(Step::Index(i));
            }
            _ => break,
        }
    }
    let last = steps.pop();
    let mut node: &mut Value = doc;
    for step in &steps {
        node = match (node, step) {
            (Value::Object(map), Step::Key(k)) => map.get_mut(k)?,
            (Value::Array(list), Step::Index(i)) => list.get_mut(*i)?,
            _ => return None,
        };
    }
    let node = match (node, last) {
        (Value::Object(map), Some(Step::Key(k))) => {
            if matches!(what, Hostile::Remove) {
                map.remove(&k);
                return None;
            }
            map.get_mut(&k)?
        }
        (Value::Array(list), Some(Step::Index(i))) => list.get_mut(i)?,
        (node, None) => node,
        _ => return None,
    };
    let placeholder = format!("{HOLE}{n}");
    let raw = match what {
        Hostile::Null | Hostile::Remove => "null".to_owned(),
        Hostile::Bool(b) => b.to_string(),
        Hostile::Int(i) => i.to_string(),
        Hostile::Float(f) => serde_json::to_string(f).unwrap_or_else(|_| "null".into()),
        Hostile::NumberText(t) => t.clone(),
        Hostile::Text(t) => serde_json::to_string(t).unwrap(),
        Hostile::LongText { unit, times } => serde_json::to_string(&unit.repeat(*times)).unwrap(),
        Hostile::Deep { depth, objects } => {
            if *objects {
                format!("{}1{}", "{\"a\":".repeat(*depth), "}".repeat(*depth))
            } else {
                format!("{}{}", "[".repeat(*depth), "]".repeat(*depth))
            }
        }
        Hostile::EmptyObject => "{}".to_owned(),
        Hostile::EmptyArray => "[]".to_owned(),
        Hostile::ManyNulls(k) => format!("[{}]", vec!["null"; *k].join(",")),
    };
    *node = Value::String(placeholder.clone());
    Some((
        serde_json::to_string(&Value::String(placeholder)).unwrap(),
        raw,
    ))
}

/// Every decoder, and what the evacuator does with a decoded answer.
fn decode_everything(body: &[u8]) {
    let now = Instant::now();
    if let Ok(t) = parse_token(Some("gAAAAAtoken"), body, now) {
        let _ = t.is_fresh();
        for iface in [Interface::Public, Interface::Internal, Interface::Admin] {
            let _ = t.catalog.url_for("compute", iface, None);
            let _ = t.catalog.url_for("image", iface, Some("RegionOne"));
        }
    }
    if let Ok(range) = parse_version_document(body) {
        let _ = negotiate(range, DEFAULT_CAP);
    }
    if let Ok(list) = parse_services(body) {
        for s in &list {
            let _ = (
                s.is_up(),
                s.is_down(),
                s.is_disabled(),
                s.id.as_ref().map(ToString::to_string),
            );
        }
    }
    let mut servers = Vec::new();
    if let Ok((list, _)) = parse_servers_page(body) {
        servers.extend(list);
    }
    if let Ok(s) = parse_server(body) {
        servers.push(s);
    }
    for s in &servers {
        let _ = (s.progress("cmp1"), s.is_boot_from_volume(), s.image_id());
        let _ = s.flavor_extra_spec("evacuable");
    }
    if let Ok((list, _)) = parse_migrations_page(body) {
        for m in &list {
            let _ = (m.phase(), m.created(), m.is_evacuation());
        }
        if let Some(s) = servers.first() {
            let _ = classify(s, &list, "cmp1", None);
            let _ = classify(s, &list, "cmp1", list.first().and_then(|m| m.created()));
        }
    }
    if let Ok((list, _)) = parse_hypervisors_page(body) {
        for h in &list {
            let _ = (h.host(), h.id.to_string());
        }
    }
    if let Ok((list, _)) = parse_images_page(body) {
        for i in &list {
            let _ = i.is_flagged(EVACUABLE);
        }
    }
    let _ = parse_instance_actions_page(body);
    let message = api_message(body);
    assert!(
        message.chars().count() <= MAX_QUOTE + 1,
        "{}",
        message.len()
    );
    assert!(!message.chars().any(char::is_control), "{message:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn hostile_json_never_panics_any_decoder(
        pick in any::<usize>(),
        mutations in proptest::collection::vec((proptest::collection::vec(any::<u32>(), 0..7), hostile()), 1..4),
    ) {
        let all = templates();
        let (_, template) = &all[pick % all.len()];
        let mut doc = template.clone();
        let mut holes = Vec::new();
        for (n, (path, what)) in mutations.iter().enumerate() {
            if let Some(h) = mutate(&mut doc, path, what, n) {
                holes.push(h);
            }
        }
        let mut text = doc.to_string();
        for (placeholder, raw) in holes {
            text = text.replacen(&placeholder, &raw, 1);
        }
        prop_assert!(!text.contains("\\u0001HOLE"), "a placeholder was left in");
        decode_everything(text.as_bytes());
    }

    /// The error-message extractor on arbitrary bytes and arbitrary JSON
    /// strings: bounded, no control characters.
    #[test]
    fn api_message_is_bounded_and_clean(body in proptest::collection::vec(any::<u8>(), 0..2000), text in ".{0,600}") {
        decode_everything(&body);
        let nova = json!({"badRequest": {"code": 400, "message": text}}).to_string();
        decode_everything(nova.as_bytes());
        let ks = json!({"error": {"code": 401, "title": "x", "message": text}}).to_string();
        decode_everything(ks.as_bytes());
    }
}

#[test]
fn every_template_decodes_unmutated() {
    // The starting points are valid: a mutation is what makes them hostile.
    let all = templates();
    assert!(all.len() >= 9);
    for (name, v) in all {
        let body = v.to_string();
        decode_everything(body.as_bytes());
        let _ = name;
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for depth in [200usize, 10_000, 100_000] {
        let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let body = format!(r#"{{"servers": [{{"id": "s", "metadata": {{"k": {deep}}}}}]}}"#);
        assert!(parse_servers_page(body.as_bytes()).is_err());
        let body = format!(r#"{{"images": [{{"id": "i", "p": {deep}}}]}}"#);
        assert!(parse_images_page(body.as_bytes()).is_err());
        decode_everything(deep.as_bytes());
    }
}
