//! Every body the lab captured (tests/lab/openstack/fixtures/*.json) goes
//! through the decoder for its kind: the decoders must accept what a real
//! Zed Nova and Keystone send, whatever ids and times the capture had.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

mod mock;

use std::time::Instant;

use openstack::auth::parse_token;
use openstack::error::api_message;
use openstack::microversion::parse_version_document;
use openstack::migration::parse_migrations_page;
use openstack::server::{parse_server, parse_servers_page};
use openstack::service::parse_services;
use openstack::{Interface, Microversion, Service};

fn status_of(cmd: &str) -> Option<u16> {
    cmd.lines()
        .find_map(|l| l.strip_prefix("# HTTP status: "))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
}

#[test]
fn every_lab_fixture_decodes() {
    let dir = mock::fixtures_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("SKIPPED: no lab fixtures in {}", dir.display());
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".json").map(str::to_owned))
        .collect();
    names.sort();
    let mut checked = 0;
    for name in &names {
        let body = std::fs::read(dir.join(format!("{name}.json"))).unwrap();
        let cmd = std::fs::read_to_string(dir.join(format!("{name}.cmd"))).unwrap_or_default();
        let status = status_of(&cmd);
        let ctx = format!("fixture {name}");
        if name.starts_with("error-") {
            let message = api_message(&body);
            assert!(
                !message.starts_with('{') && message.len() > 10,
                "{ctx}: {message}"
            );
            assert!(status.is_some_and(|s| s >= 400), "{ctx}: status {status:?}");
        } else if name == "keystone-token" {
            let token = parse_token(Some("gAAAAA-test-token"), &body, Instant::now()).expect(&ctx);
            assert!(token.is_fresh(), "{ctx}: an hour of life counted from now");
            let url = token
                .catalog
                .url_for("compute", Interface::Public, Some("RegionOne"))
                .expect(&ctx);
            assert!(url.ends_with("/v2.1"), "{ctx}: {url}");
            token
                .catalog
                .url_for("compute", Interface::Internal, None)
                .expect(&ctx);
        } else if name.starts_with("compute-version") {
            let range = parse_version_document(&body).expect(&ctx).expect(&ctx);
            assert_eq!(range.max, Microversion::new(2, 93), "{ctx}");
        } else if name.starts_with("services-") {
            let list = parse_services(&body).expect(&ctx);
            assert!(!list.is_empty(), "{ctx}");
            let ids_are_uuids = name.contains("2.53");
            for s in &list {
                let uuid = matches!(s.id, Some(openstack::NovaId::Uuid(_)));
                assert_eq!(uuid, ids_are_uuids, "{ctx}: {s:?}");
            }
        } else if name.ends_with("-response") && body.starts_with(br#"{"service""#) {
            let v: serde_json::Value = serde_json::from_slice(&body).expect(&ctx);
            let s: Service = serde_json::from_value(v["service"].clone()).expect(&ctx);
            assert_eq!(s.binary, "nova-compute", "{ctx}");
        } else if name.starts_with("servers-detail") {
            let (servers, _) = parse_servers_page(&body).expect(&ctx);
            for s in &servers {
                assert!(s.host.is_some() && !s.status.is_empty(), "{ctx}: {s:?}");
            }
        } else if name.starts_with("server-") {
            let s = parse_server(&body).expect(&ctx);
            assert!(!s.id.is_empty(), "{ctx}");
        } else if name.starts_with("migrations-") {
            let (list, _) = parse_migrations_page(&body).expect(&ctx);
            assert!(!list.is_empty(), "{ctx}");
            assert!(
                list.iter()
                    .all(|m| m.is_evacuation() && m.created().is_some()),
                "{ctx}: {list:?}"
            );
            if name.ends_with("-completed") {
                assert!(list.iter().all(|m| m.status == "completed"), "{ctx}");
            }
        } else if name.starts_with("evacuate-") {
            // 200 with the generated adminPass (redacted in the capture):
            // the client drops it unread.
            assert_eq!(status, Some(200), "{ctx}");
        } else {
            println!("note: fixture {name} has no decoder check");
            continue;
        }
        checked += 1;
    }
    println!("{checked} lab fixtures decoded");
    assert!(checked > 0 || names.is_empty());
}
