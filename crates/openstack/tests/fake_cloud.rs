//! The client against the stateful fake cloud (`openstack::testing`), and
//! the fake against the lab's captured answers: what the evacuator's
//! component tests rely on must behave like the real Zed Nova.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

mod mock;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use openstack::migration::MigrationQuery;
use openstack::testing::{
    EvacuationOutcome, FakeCloud, FakeCloudConfig, ImageSpec, Route, ServerSpec,
};
use openstack::{
    CloudConfig, Compute, ComputeOptions, Error, EvacuateOptions, EvacuationStatus, Glance,
    GlanceOptions, Microversion, NovaId, Placement, Progress, Session,
};
use serde_json::Value;
use umha_common::Deadline;

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(20))
}

fn lab() -> FakeCloud {
    let cloud = FakeCloud::start().unwrap();
    cloud.add_hosts(&["cmp1", "cmp2", "cmp3"]);
    cloud
}

fn compute_at(cloud: &FakeCloud, minor: u16, page_size: u32) -> Compute {
    Compute::connect(
        cloud.session().unwrap(),
        ComputeOptions {
            max_version: Some(Microversion::new(2, minor)),
            page_size,
            ..ComputeOptions::default()
        },
        deadline(),
    )
    .unwrap()
}

#[test]
fn a_whole_host_failure_at_2_87() {
    let cloud = lab();
    let active = cloud.add_server(
        ServerSpec::new("vm-a", "cmp1")
            .metadata("HA_Enabled", "True")
            .extra_spec("evacuable", "true"),
    );
    let stopped = cloud.add_server(ServerSpec::new("vm-s", "cmp1").stopped().tag("umha-test"));
    let bfv = cloud.add_server(ServerSpec::new("vm-v", "cmp1").boot_from_volume("vol-1"));
    cloud.add_server(ServerSpec::new("elsewhere", "cmp2"));
    // Long enough to see REBUILD right after the calls, even on a busy box.
    cloud.set_evacuation_time(Duration::from_millis(1500));
    let nova = compute_at(&cloud, 87, 2);
    assert_eq!(nova.version(), Microversion::new(2, 87));
    assert_eq!(nova.server_versions().max, Microversion::new(2, 93));

    // The host dies; Nova still counts it up.
    cloud.kill_service("cmp1");
    let svc = nova.compute_service("cmp1", deadline()).unwrap();
    assert!(svc.is_up() && !svc.forced_down);
    assert!(matches!(svc.id, Some(NovaId::Uuid(_))));
    let err = nova
        .evacuate(&active, &EvacuateOptions::default(), deadline())
        .unwrap_err();
    assert!(matches!(err, Error::ServiceStillInUse { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("Compute service of cmp1 is still in use.")
    );
    assert_eq!(cloud.accepted_evacuations(&active), 0);

    // Force down first, then disable.
    nova.force_down(&svc, deadline()).unwrap();
    nova.disable(&svc, "umha: cmp1 fenced", deadline()).unwrap();
    let svc = nova.compute_service("cmp1", deadline()).unwrap();
    assert!(svc.is_down() && svc.forced_down && svc.is_disabled());
    assert_eq!(svc.disabled_reason.as_deref(), Some("umha: cmp1 fenced"));

    // Three servers, two per page: paged by marker.
    let servers = nova.servers_on_host("cmp1", deadline()).unwrap();
    assert_eq!(servers.len(), 3);
    let details = cloud
        .requests()
        .into_iter()
        .filter(|r| r.route == Route::Servers)
        .collect::<Vec<_>>();
    assert_eq!(details.len(), 2);
    assert_eq!(details[1].param("marker"), Some(servers[1].id.as_str()));
    let a = servers.iter().find(|s| s.id == active).unwrap();
    assert_eq!(a.flavor_extra_spec("evacuable"), Some("true"));
    assert_eq!(a.host_status.as_deref(), Some("DOWN"));
    assert_eq!(
        a.metadata.get("HA_Enabled").map(String::as_str),
        Some("True")
    );
    let v = servers.iter().find(|s| s.id == bfv).unwrap();
    assert!(v.is_boot_from_volume() && v.volumes_attached.len() == 1);

    for s in &servers {
        assert_eq!(
            nova.evacuation_status(s, "cmp1", None, deadline()).unwrap(),
            EvacuationStatus::NotEvacuated
        );
        nova.evacuate(&s.id, &EvacuateOptions::default(), deadline())
            .unwrap();
    }
    // Right after: REBUILD, migration accepted, in progress.
    let s = nova.server(&active, deadline()).unwrap();
    assert!(s.is_rebuilding(), "{s:?}");
    assert!(matches!(
        nova.evacuation_status(&s, "cmp1", None, deadline())
            .unwrap(),
        EvacuationStatus::InProgress { .. }
    ));
    let from = nova
        .migrations(&MigrationQuery::evacuations_from("cmp1"), deadline())
        .unwrap();
    assert_eq!(from.len(), 3);

    for (id, status) in [(&active, "ACTIVE"), (&stopped, "SHUTOFF"), (&bfv, "ACTIVE")] {
        let p = nova
            .wait_for_evacuation(id, "cmp1", Duration::from_millis(40), deadline())
            .unwrap();
        match p {
            Progress::Landed { host, status: st } => {
                assert!(host == "cmp2" || host == "cmp3", "{host}");
                assert_eq!(st, status);
            }
            other => panic!("{id}: {other:?}"),
        }
        let s = nova.server(id, deadline()).unwrap();
        match nova
            .evacuation_status(&s, "cmp1", None, deadline())
            .unwrap()
        {
            EvacuationStatus::Done { migration } => assert_eq!(migration.status, "done"),
            other => panic!("{other:?}"),
        }
        assert_eq!(cloud.accepted_evacuations(id), 1);
    }
    // Spread: cmp2 already had one, so cmp3 got two.
    assert_eq!(cloud.servers_on("cmp3").len(), 2);
    assert!(nova.servers_on_host("cmp1", deadline()).unwrap().is_empty());

    // Coming back: un-force refused while `done` records remain.
    let err = nova.unforce_down(&svc, deadline()).unwrap_err();
    assert!(
        matches!(err, Error::EvacuationsNotCompleted { .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    cloud.revive_service("cmp1");
    assert!(
        cloud.migrations().iter().all(|m| m.status == "completed"),
        "{:?}",
        cloud.migrations()
    );
    nova.unforce_down(&svc, deadline()).unwrap();
    let svc = nova.compute_service("cmp1", deadline()).unwrap();
    assert!(svc.is_up() && !svc.forced_down && svc.is_disabled());
    nova.enable(&svc, deadline()).unwrap();
    assert!(!cloud.service("cmp1").unwrap().disabled);

    // Nova's own journal: create, then evacuate, newest first.
    let actions = nova.instance_actions(&active, deadline()).unwrap();
    let names: Vec<&str> = actions.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(names, ["evacuate", "create"]);
    let call = cloud
        .evacuate_calls()
        .into_iter()
        .find(|c| c.server_id == active && c.status == 200)
        .unwrap();
    assert_eq!(actions[0].request_id, call.request_id);
}

#[test]
fn duplicate_evacuate_is_accepted_and_sticks() {
    let cloud = lab();
    let id = cloud.add_server(ServerSpec::new("vm", "cmp1"));
    cloud.mark_service_down("cmp1");
    cloud.set_evacuation_time(Duration::from_secs(60));
    let nova = cloud.compute(deadline()).unwrap();
    nova.evacuate(&id, &EvacuateOptions::default(), deadline())
        .unwrap();
    // The real Nova answers 200 to the second call too.
    nova.evacuate(&id, &EvacuateOptions::default(), deadline())
        .unwrap();
    assert_eq!(cloud.accepted_evacuations(&id), 2);
    assert!(cloud.evacuate_calls()[1].duplicate);
    cloud.finish_evacuations();
    let s = cloud.server(&id).unwrap();
    assert_eq!(s.status, "REBUILD", "stuck, as the lab saw");
    assert_eq!(cloud.migrations().len(), 2);
}

#[test]
fn outcomes_fail_and_no_valid_host() {
    let cloud = lab();
    let failing = cloud.add_server(ServerSpec::new("f", "cmp1"));
    let nowhere = cloud.add_server(ServerSpec::new("n", "cmp2"));
    cloud.set_evacuation_outcome(&failing, EvacuationOutcome::Fail);
    cloud.mark_service_down("cmp1");
    let nova = cloud.compute(deadline()).unwrap();
    nova.evacuate(&failing, &EvacuateOptions::default(), deadline())
        .unwrap();
    assert_eq!(
        nova.wait_for_evacuation(&failing, "cmp1", Duration::from_millis(30), deadline())
            .unwrap(),
        Progress::Failed
    );
    let s = nova.server(&failing, deadline()).unwrap();
    assert!(matches!(
        nova.evacuation_status(&s, "cmp1", None, deadline()).unwrap(),
        EvacuationStatus::Failed { migration } if migration.status == "failed"
    ));

    // cmp2 down, cmp1 down, cmp3 disabled: nowhere to go.
    cloud.mark_service_down("cmp2");
    cloud.set_disabled("cmp3", true, Some("maintenance"));
    nova.evacuate(&nowhere, &EvacuateOptions::default(), deadline())
        .unwrap();
    cloud.finish_evacuations();
    let s = cloud.server(&nowhere).unwrap();
    assert_eq!(
        (s.status.as_str(), s.host.as_deref()),
        ("ERROR", Some("cmp2"))
    );
    let m = cloud
        .migrations()
        .into_iter()
        .find(|m| m.instance_uuid == nowhere)
        .unwrap();
    assert_eq!(m.status, "error");
}

#[test]
fn targeted_host_and_refusals() {
    let cloud = lab();
    let id = cloud.add_server(ServerSpec::new("vm", "cmp1"));
    let shelved = cloud.add_server(ServerSpec::new("sh", "cmp1").vm_state("shelved_offloaded"));
    cloud.mark_service_down("cmp1");
    let nova = cloud.compute(deadline()).unwrap();
    let to = |h: &str| EvacuateOptions {
        host: Some(h.to_owned()),
        on_shared_storage: false,
    };
    let err = nova.evacuate(&id, &to("cmp9"), deadline()).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let err = nova.evacuate(&id, &to("cmp1"), deadline()).unwrap_err();
    assert!(matches!(err, Error::BadRequest { .. }), "{err:?}");
    let err = nova
        .evacuate(&shelved, &EvacuateOptions::default(), deadline())
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    let err = nova
        .evacuate("nope", &EvacuateOptions::default(), deadline())
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    nova.evacuate(&id, &to("cmp2"), deadline()).unwrap();
    cloud.finish_evacuations();
    assert_eq!(cloud.server(&id).unwrap().host.as_deref(), Some("cmp2"));
    assert_eq!(cloud.accepted_evacuations(&id), 1);
    assert_eq!(cloud.evacuate_calls().len(), 5);
}

#[test]
fn before_2_53_the_legacy_forms() {
    let cloud = lab();
    let id = cloud.add_server(ServerSpec::new("vm", "cmp2"));
    cloud.kill_service("cmp2");
    for minor in [11, 52] {
        let nova = compute_at(&cloud, minor, 1000);
        let svc = nova.compute_service("cmp2", deadline()).unwrap();
        assert!(matches!(svc.id, Some(NovaId::Number(_))), "{svc:?}");
        nova.force_down(&svc, deadline()).unwrap();
        nova.disable(&svc, "fenced", deadline()).unwrap();
        let svc = nova.compute_service("cmp2", deadline()).unwrap();
        assert!(svc.forced_down && svc.is_disabled() && svc.is_down());
        nova.unforce_down(&svc, deadline()).unwrap();
        nova.enable(&svc, deadline()).unwrap();
        assert!(!cloud.service("cmp2").unwrap().forced_down);
    }
    let paths: BTreeSet<String> = cloud
        .requests()
        .into_iter()
        .filter(|r| r.route == Route::ServiceUpdate)
        .map(|r| r.path)
        .collect();
    assert_eq!(
        paths.into_iter().collect::<Vec<_>>(),
        [
            "/v2.1/os-services/disable-log-reason",
            "/v2.1/os-services/enable",
            "/v2.1/os-services/force-down"
        ]
    );
    // 2.11: onSharedStorage required, adminPass answered (and dropped).
    let nova = compute_at(&cloud, 11, 1000);
    let svc = nova.compute_service("cmp2", deadline()).unwrap();
    nova.force_down(&svc, deadline()).unwrap();
    nova.evacuate(&id, &EvacuateOptions::default(), deadline())
        .unwrap();
    let call = cloud.evacuate_calls().pop().unwrap();
    assert_eq!(call.status, 200);
    assert_eq!(call.body, serde_json::json!({"onSharedStorage": false}));
    // Not paged before 2.59, no uuid.
    let list = nova
        .migrations(&MigrationQuery::evacuations_of(&id), deadline())
        .unwrap();
    assert!(list.len() == 1 && list[0].uuid.is_none());
}

#[test]
fn a_dead_service_goes_down_after_service_down_time() {
    let cloud = FakeCloud::with_config(FakeCloudConfig {
        service_down_time: Duration::from_millis(200),
        ..FakeCloudConfig::default()
    })
    .unwrap();
    cloud.add_hosts(&["cmp1", "cmp2"]);
    cloud.kill_service("cmp1");
    assert!(cloud.service("cmp1").unwrap().up);
    std::thread::sleep(Duration::from_millis(250));
    let s = cloud.service("cmp1").unwrap();
    assert!(!s.up && !s.forced_down && !s.alive);
    cloud.revive_service("cmp1");
    assert!(cloud.service("cmp1").unwrap().up);
}

#[test]
fn disabling_a_dead_but_up_service_waits_for_the_rpc() {
    let cloud = FakeCloud::with_config(FakeCloudConfig {
        rpc_timeout: Duration::from_millis(400),
        ..FakeCloudConfig::default()
    })
    .unwrap();
    cloud.add_hosts(&["cmp1", "cmp2"]);
    cloud.kill_service("cmp1");
    let nova = cloud.compute(deadline()).unwrap();
    let svc = nova.compute_service("cmp1", deadline()).unwrap();
    let started = std::time::Instant::now();
    nova.disable(&svc, "wrong order", deadline()).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(400));
    // Forced down first, the disable is immediate.
    nova.force_down(&svc, deadline()).unwrap();
    let started = std::time::Instant::now();
    nova.disable(&svc, "right order", deadline()).unwrap();
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[test]
fn application_credential_and_bad_password() {
    let cloud = lab();
    let cfg = CloudConfig::parse_clouds_yaml(
        "ha",
        &cloud.clouds_yaml_application_credential("ha"),
        "test",
        None,
    )
    .unwrap();
    let session = Arc::new(Session::new(cfg, FakeCloud::session_options()).unwrap());
    let nova = Compute::connect(session, ComputeOptions::default(), deadline()).unwrap();
    assert_eq!(nova.compute_services(None, deadline()).unwrap().len(), 3);
    let token = cloud.requests()[0].json();
    assert_eq!(
        token["auth"]["identity"]["methods"],
        serde_json::json!(["application_credential"])
    );

    let yaml = cloud
        .clouds_yaml("bad")
        .replace(&cloud.config().password, "wrong");
    let cfg = CloudConfig::parse_clouds_yaml("bad", &yaml, "clouds.yaml", None).unwrap();
    let session = Arc::new(Session::new(cfg, FakeCloud::session_options()).unwrap());
    let err = Compute::connect(session, ComputeOptions::default(), deadline()).unwrap_err();
    assert!(err.is_configuration() && !err.is_retryable(), "{err:?}");
    assert_eq!(cloud.count(Route::Token), 2, "a 401 is not retried");

    // The openrc form works too.
    let env = cloud.openrc();
    let cfg =
        CloudConfig::from_env_lookup(|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
            .unwrap();
    let session = Arc::new(Session::new(cfg, FakeCloud::session_options()).unwrap());
    Compute::connect(session, ComputeOptions::default(), deadline()).unwrap();
}

#[test]
fn glance_evacuable_images_paged_hidden_included() {
    let cloud = lab();
    let tagged = cloud.add_image(ImageSpec::new("tagged").tag("evacuable"));
    let prop = cloud.add_image(ImageSpec::new("prop").property("evacuable", "True"));
    cloud.add_image(ImageSpec::new("no").property("evacuable", "false"));
    cloud.add_image(ImageSpec::new("plain").tag("other"));
    let hidden = cloud.add_image(ImageSpec::new("old").tag("evacuable").hidden());
    for i in 0..5 {
        cloud.add_image(ImageSpec::new(&format!("filler{i}")));
    }
    let glance = Glance::connect(
        cloud.session().unwrap(),
        GlanceOptions {
            page_size: 3,
            ..GlanceOptions::default()
        },
        deadline(),
    )
    .unwrap();
    assert_eq!(glance.endpoint(), format!("{}/v2", cloud.url()));
    let all = glance.images(deadline()).unwrap();
    assert_eq!(all.len(), 10);
    let mut ids = glance.evacuable_image_ids(deadline()).unwrap();
    ids.sort();
    let mut want = vec![tagged, prop, hidden];
    want.sort();
    assert_eq!(ids, want);
    // 9 visible at 3 a page: 3 full pages, then an empty one (the last
    // full page carries a next link); 1 hidden page.
    assert!(
        cloud.count(Route::Images) >= 5,
        "{}",
        cloud.count(Route::Images)
    );
    // Endpoint forms.
    for ep in [
        cloud.url(),
        format!("{}/", cloud.url()),
        format!("{}/v2", cloud.url()),
    ] {
        let g =
            Glance::connect_to(cloud.session().unwrap(), &ep, GlanceOptions::default()).unwrap();
        assert_eq!(g.endpoint(), format!("{}/v2", cloud.url()));
    }
}

#[test]
fn instance_actions_paged_from_2_58() {
    let cloud = lab();
    let id = cloud.add_server(ServerSpec::new("vm", "cmp1"));
    cloud.mark_service_down("cmp1");
    let nova = compute_at(&cloud, 87, 1);
    nova.evacuate(&id, &EvacuateOptions::default(), deadline())
        .unwrap();
    let actions = nova.instance_actions(&id, deadline()).unwrap();
    assert_eq!(actions.len(), 2);
    assert!(actions.iter().all(|a| a.request_id.starts_with("req-")));
    assert!(cloud.count(Route::InstanceActions) >= 2);
    let nova = compute_at(&cloud, 53, 1);
    assert_eq!(nova.instance_actions(&id, deadline()).unwrap().len(), 2);
    let err = nova.instance_actions("nope", deadline()).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }));
}

#[test]
fn hypervisors_with_capacity() {
    let cloud = lab();
    cloud.add_server(ServerSpec::new("vm", "cmp1"));
    let nova = compute_at(&cloud, 87, 2);
    let list = nova.hypervisors(deadline()).unwrap();
    assert_eq!(list.len(), 3);
    let cmp1 = list.iter().find(|h| h.host() == Some("cmp1")).unwrap();
    assert_eq!(cmp1.running_vms, Some(1));
    assert!(cmp1.free_ram_mb.unwrap() > 0);
}

#[test]
fn placement_room_and_the_scheduler_agree() {
    let cloud = lab();
    let flavor = openstack::testing::FlavorSpec::default();
    let vm = cloud.add_server(ServerSpec::new("vm", "cmp1"));
    let vm2 = cloud.add_server(ServerSpec::new("vm2", "cmp1"));
    cloud.add_server(ServerSpec::new("on3", "cmp3"));
    // cmp3 has room for exactly one more m1.tiny; cmp2 is disabled.
    cloud.set_room_for("cmp3", 1, &flavor);
    cloud.set_disabled("cmp2", true, Some("umha: reserved host"));
    let placement = Placement::connect(cloud.session().unwrap(), deadline()).unwrap();
    assert!(placement.endpoint().ends_with("/placement"));
    let nova = cloud.compute(deadline()).unwrap();
    // The hypervisor id (2.53+) is the resource provider's UUID.
    let rp = nova
        .hypervisors(deadline())
        .unwrap()
        .into_iter()
        .find(|h| h.host() == Some("cmp3"))
        .map(|h| h.id.to_string())
        .unwrap();
    assert_eq!(Some(rp.clone()), cloud.resource_provider("cmp3"));
    let named = placement.providers_named("cmp3", deadline()).unwrap();
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].uuid, rp);
    let room = placement.room(&rp, deadline()).unwrap();
    assert_eq!(room.free("MEMORY_MB"), 64);
    assert_eq!(room.free("VCPU"), 1);
    let need = openstack::placement::flavor_resources(
        nova.server(&vm, deadline())
            .unwrap()
            .flavor
            .as_ref()
            .unwrap(),
        false,
    )
    .unwrap();
    assert_eq!(room.shortfall(&need), None);
    // The first fills cmp3; the second finds no valid host (cmp2 disabled).
    cloud.mark_service_down("cmp1");
    let to3 = EvacuateOptions {
        host: Some("cmp3".into()),
        on_shared_storage: false,
    };
    nova.evacuate(&vm, &to3, deadline()).unwrap();
    cloud.finish_evacuations();
    assert_eq!(cloud.server(&vm).unwrap().host.as_deref(), Some("cmp3"));
    let room = placement.room(&rp, deadline()).unwrap();
    assert!(room.shortfall(&need).is_some(), "{room}");
    nova.evacuate(&vm2, &EvacuateOptions::default(), deadline())
        .unwrap();
    cloud.finish_evacuations();
    let s = cloud.server(&vm2).unwrap();
    assert_eq!(
        (s.status.as_str(), s.host.as_deref()),
        ("ERROR", Some("cmp1"))
    );
    let m = cloud.migrations();
    assert_eq!(m.last().map(|m| m.status.as_str()), Some("error"));
    // Room made through the API (guarded by the generation): it lands.
    let inv = placement.inventories(&rp, deadline()).unwrap();
    let mut mem = inv.classes["MEMORY_MB"].clone();
    mem.total += 64;
    let err = placement
        .set_inventory(
            &rp,
            "MEMORY_MB",
            inv.resource_provider_generation - 1,
            &mem,
            deadline(),
        )
        .unwrap_err();
    assert_eq!(err.status(), Some(409), "{err}");
    placement
        .set_inventory(
            &rp,
            "MEMORY_MB",
            inv.resource_provider_generation,
            &mem,
            deadline(),
        )
        .unwrap();
    let mut vcpu = inv.classes["VCPU"].clone();
    vcpu.total += 1;
    let g = placement
        .inventories(&rp, deadline())
        .unwrap()
        .resource_provider_generation;
    placement
        .set_inventory(&rp, "VCPU", g, &vcpu, deadline())
        .unwrap();
    let mut disk = inv.classes["DISK_GB"].clone();
    disk.total += 1;
    let g = placement
        .inventories(&rp, deadline())
        .unwrap()
        .resource_provider_generation;
    placement
        .set_inventory(&rp, "DISK_GB", g, &disk, deadline())
        .unwrap();
    nova.evacuate(&vm2, &to3, deadline()).unwrap();
    cloud.finish_evacuations();
    assert_eq!(cloud.server(&vm2).unwrap().host.as_deref(), Some("cmp3"));
    let err = placement.room("no-such-rp", deadline()).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("No resource provider"), "{err}");
}

// ------------------------------------------------------------ shapes

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// GET with a token at a microversion, raw.
fn raw(cloud: &FakeCloud, path: &str, version: &str) -> (u16, Value) {
    let session = cloud.session().unwrap();
    let token = session.token(deadline()).unwrap();
    let resp = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{}{path}", cloud.url()))
        .header("X-Auth-Token", token.secret().expose())
        .header("OpenStack-API-Version", format!("compute {version}"))
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

#[test]
fn answers_have_the_lab_shapes() {
    let cloud = lab();
    let id = cloud.add_server(ServerSpec::new("vm", "cmp1").tag("umha-test"));
    let checks: [(&str, &str, &str, &str); 4] = [
        (
            "servers-detail-host-2.93",
            "/v2.1/servers/detail?host=cmp1&all_tenants=1",
            "2.93",
            "servers",
        ),
        (
            "services-2.53-healthy",
            "/v2.1/os-services?binary=nova-compute",
            "2.53",
            "services",
        ),
        (
            "services-2.11-healthy",
            "/v2.1/os-services?binary=nova-compute",
            "2.11",
            "services",
        ),
        (
            "migrations-evacuation-done",
            "/v2.1/os-migrations?migration_type=evacuation",
            "2.80",
            "migrations",
        ),
    ];
    cloud.mark_service_down("cmp1");
    // Still on cmp1 (rebuilding) while the shapes are compared.
    cloud.set_evacuation_time(Duration::from_secs(600));
    let nova = cloud.compute(deadline()).unwrap();
    nova.evacuate(&id, &EvacuateOptions::default(), deadline())
        .unwrap();
    let mut compared = 0;
    for (fixture, path, version, list) in checks {
        let Some(text) = mock::need_fixture(fixture) else {
            continue;
        };
        let real: Value = serde_json::from_str(&text).unwrap();
        let (status, fake) = raw(&cloud, path, version);
        assert_eq!(status, 200, "{path}");
        let real_keys = keys(&real[list][0]);
        let fake_keys = keys(&fake[list][0]);
        // locked_reason and trusted_image_certificates appear only when set
        // in some captures; every real key must be in ours and vice versa.
        let missing: Vec<_> = real_keys.difference(&fake_keys).collect();
        let extra: Vec<_> = fake_keys
            .difference(&real_keys)
            .filter(|k| !matches!(k.as_str(), "locked_reason" | "trusted_image_certificates"))
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{fixture}: missing {missing:?}, extra {extra:?}"
        );
        compared += 1;
    }
    if let Some(text) = mock::need_fixture("keystone-token") {
        let real: Value = serde_json::from_str(&text).unwrap();
        let body = cloud
            .requests()
            .into_iter()
            .find(|r| r.route == Route::Token)
            .unwrap();
        assert_eq!(body.status, Some(201));
        let token_keys = [
            "methods",
            "user",
            "audit_ids",
            "expires_at",
            "issued_at",
            "project",
            "is_domain",
            "roles",
            "catalog",
        ];
        for k in token_keys {
            assert!(real["token"].get(k).is_some(), "{k}");
        }
        compared += 1;
    }
    // Error bodies: Nova's `{"<kind>": {"code", "message"}}`.
    let (status, body) = raw(
        &cloud,
        "/v2.1/servers/00000000-0000-0000-0000-000000000000",
        "2.93",
    );
    assert_eq!(status, 404);
    assert_eq!(
        body["itemNotFound"]["message"],
        "Instance 00000000-0000-0000-0000-000000000000 could not be found."
    );
    let (status, body) = raw(&cloud, "/v2.1/os-services", "2.999");
    assert_eq!(status, 406);
    assert_eq!(
        body["computeFault"]["message"],
        "Version 2.999 is not supported by the API. Minimum is 2.1 and maximum is 2.93."
    );
    println!("{compared} shapes compared with the lab's");
}
