//! The client against an in-process fake of Keystone + Nova on 127.0.0.1,
//! answering with the lab's captured JSON (tests/lab/openstack/fixtures)
//! where the scenario was captured, and with synthetic answers for the
//! faults a real cloud will not produce on demand.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

mod mock;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use mock::{MockServer, Reply, Request, fixture, need_fixture};
use openstack::migration::MigrationQuery;
use openstack::{
    CloudConfig, Compute, ComputeOptions, Error, EvacuateOptions, EvacuationStatus, Microversion,
    NovaId, Progress, Session, SessionOptions,
};
use serde_json::json;
use umha_common::Deadline;

const PASSWORD: &str = "lab-admin-pw";

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(20))
}

fn options() -> SessionOptions {
    SessionOptions {
        request_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        backoff: Duration::from_millis(10),
        use_env_proxy: false,
        ..SessionOptions::default()
    }
}

fn version_doc(max: &str) -> String {
    json!({"version": {"id": "v2.1", "status": "CURRENT", "version": max, "min_version": "2.1"}})
        .to_string()
}

/// The token body: the lab's, with its endpoints moved to the fake.
fn token_body(base: &str) -> String {
    match fixture("keystone-token") {
        Some(t) => t
            .replace("http://127.0.0.1:8774", base)
            .replace("http://127.0.0.1:5000", base),
        None => json!({"token": {
            "expires_at": "2099-01-01T01:00:00.000000Z", "issued_at": "2099-01-01T00:00:00.000000Z",
            "project": {"id": "p1"}, "user": {"id": "u1"},
            "catalog": [{"type": "compute", "name": "nova", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": format!("{base}/v2.1")},
                {"interface": "internal", "region_id": "RegionOne", "region": "RegionOne", "url": format!("{base}/v2.1")}]}]}})
        .to_string(),
    }
}

/// A fake cloud: Keystone (tokens tok-1, tok-2, ...), the version document,
/// and `nova` for everything else.
struct Fake {
    server: MockServer,
    auths: Arc<AtomicUsize>,
}

impl Fake {
    fn start(version: String, nova: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        let base: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
        let auths = Arc::new(AtomicUsize::new(0));
        let server = {
            let (base, auths) = (base.clone(), auths.clone());
            MockServer::start(move |req| {
                let base = base.get().cloned().unwrap_or_default();
                match (req.method.as_str(), req.path.as_str()) {
                    ("POST", "/v3/auth/tokens") => {
                        let n = auths.fetch_add(1, Ordering::SeqCst) + 1;
                        let body = req.json();
                        let pw = &body["auth"]["identity"]["password"]["user"]["password"];
                        let secret = &body["auth"]["identity"]["application_credential"]["secret"];
                        if pw != PASSWORD && secret != PASSWORD {
                            let refusal = fixture("error-401-keystone-bad-password").unwrap_or_else(|| {
                                r#"{"error":{"code":401,"message":"The request you have made requires authentication.","title":"Unauthorized"}}"#.into()
                            });
                            return Reply::new(401, refusal);
                        }
                        Reply::new(201, token_body(&base))
                            .header("X-Subject-Token", &format!("tok-{n}"))
                    }
                    ("GET", "/v2.1/") => Reply::new(200, version.clone()),
                    _ => nova(req),
                }
            })
        };
        base.set(server.url()).unwrap();
        Self { server, auths }
    }

    fn clouds_yaml(&self) -> String {
        format!(
            "clouds:\n  lab:\n    auth:\n      auth_url: {}/v3\n      username: admin\n      password: {PASSWORD}\n      \
             project_name: admin\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: RegionOne\n",
            self.server.url()
        )
    }

    fn session(&self) -> Arc<Session> {
        let cloud =
            CloudConfig::parse_clouds_yaml("lab", &self.clouds_yaml(), "test", None).unwrap();
        Arc::new(Session::new(cloud, options()).unwrap())
    }

    fn compute(&self, options: ComputeOptions) -> Result<Compute, Error> {
        Compute::connect(self.session(), options, deadline())
    }

    fn auths(&self) -> usize {
        self.auths.load(Ordering::SeqCst)
    }
}

/// Ids change with every capture: read them from the fixture.
fn ids(fixture_json: &str, collection: &str, field: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(fixture_json).unwrap();
    v[collection]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            x[field]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| x[field].to_string())
        })
        .collect()
}

fn service_id(list: &str, host: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(list).unwrap();
    let s = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["host"] == host)
        .unwrap();
    s["id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| s["id"].to_string())
}

fn not_found(req: &Request) -> Reply {
    Reply::new(
        404,
        format!(
            r#"{{"itemNotFound": {{"code": 404, "message": "no route {}"}}}}"#,
            req.path
        ),
    )
}

fn capped(minor: u16) -> ComputeOptions {
    ComputeOptions {
        max_version: Some(Microversion::new(2, minor)),
        ..ComputeOptions::default()
    }
}

// ---------------------------------------------------------------- Keystone

#[test]
fn token_catalog_and_negotiation_against_lab_answers() {
    let doc = fixture("compute-version-v2.1").unwrap_or_else(|| version_doc("2.93"));
    let fake = Fake::start(doc, |req| match req.path.as_str() {
        "/v2.1/os-services" => Reply::new(200, r#"{"services": []}"#),
        _ => not_found(req),
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    assert_eq!(nova.version(), openstack::microversion::DEFAULT_CAP);
    assert_eq!(nova.server_versions().max, Microversion::new(2, 93));
    assert!(nova.endpoint().ends_with("/v2.1"), "{}", nova.endpoint());
    nova.compute_services(None, deadline()).unwrap();
    nova.compute_services(Some("cmp1"), deadline()).unwrap();

    let reqs = fake.server.requests();
    // One authentication, its token reused for every call.
    assert_eq!(fake.auths(), 1);
    let auth = &reqs[0];
    assert_eq!(auth.json()["auth"]["scope"]["project"]["name"], "admin");
    let calls: Vec<&Request> = reqs
        .iter()
        .filter(|r| r.path.starts_with("/v2.1"))
        .collect();
    assert!(calls.iter().all(|r| r.token() == Some("tok-1")));
    // Discovery sends no microversion; every later call does, both headers.
    assert_eq!(calls[0].microversion(), None);
    assert_eq!(calls[1].microversion(), Some("compute 2.87"));
    assert_eq!(
        calls[1].header("X-OpenStack-Nova-API-Version"),
        Some("2.87")
    );
    assert_eq!(calls[1].param("binary"), Some("nova-compute"));
    assert_eq!(calls[2].param("host"), Some("cmp1"));
}

#[test]
fn wrong_password_is_a_clear_configuration_error() {
    let fake = Fake::start(version_doc("2.93"), not_found);
    let yaml = fake.clouds_yaml().replace(PASSWORD, "wrong-password-xyz");
    let cloud = CloudConfig::parse_clouds_yaml("lab", &yaml, "clouds.yaml", None).unwrap();
    let session = Arc::new(Session::new(cloud, options()).unwrap());
    let err = Compute::connect(session, ComputeOptions::default(), deadline()).unwrap_err();
    assert!(matches!(err, Error::AuthFailed { .. }), "{err:?}");
    assert!(err.is_configuration() && !err.is_retryable());
    let text = err.to_string();
    assert!(text.contains("requires authentication"), "{text}");
    assert!(text.contains("clouds.yaml"), "{text}");
    assert!(
        !text.contains("wrong-password-xyz") && !format!("{err:?}").contains("wrong-password-xyz")
    );
    // A 401 from Keystone is not retried.
    assert_eq!(fake.auths(), 1);
}

#[test]
fn application_credential_from_clouds_yaml_file() {
    let fake = Fake::start(version_doc("2.93"), not_found);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clouds.yaml");
    std::fs::write(
        &path,
        format!(
            "clouds:\n  ha:\n    auth_type: v3applicationcredential\n    auth:\n      auth_url: {}\n      \
             application_credential_id: 0123abcd\n      application_credential_secret: {PASSWORD}\n",
            fake.server.url()
        ),
    )
    .unwrap();
    let cloud = CloudConfig::from_clouds_yaml("ha", Some(&path)).unwrap();
    assert_eq!(cloud.auth_url, format!("{}/v3", fake.server.url()));
    let nova = Compute::connect(
        Arc::new(Session::new(cloud, options()).unwrap()),
        ComputeOptions::default(),
        deadline(),
    );
    assert!(nova.is_ok(), "{nova:?}");
    let body = fake.server.requests()[0].json();
    assert_eq!(
        body["auth"]["identity"]["methods"],
        json!(["application_credential"])
    );
    assert_eq!(
        body["auth"]["identity"]["application_credential"]["id"],
        "0123abcd"
    );
    assert!(body["auth"].get("scope").is_none());
}

#[test]
fn expired_token_is_renewed_once_on_401() {
    // Nova refuses tok-1 (as if revoked), accepts tok-2.
    let refused =
        fixture("error-401-nova-bad-token").unwrap_or_else(|| r#"{"error": {"code": 401}}"#.into());
    let fake = Fake::start(version_doc("2.93"), move |req| match req.token() {
        Some("tok-1") => Reply::new(401, refused.clone()),
        _ if req.path == "/v2.1/os-services" => Reply::new(200, r#"{"services": []}"#),
        _ => not_found(req),
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    assert_eq!(fake.auths(), 1);
    nova.compute_services(None, deadline()).unwrap();
    assert_eq!(fake.auths(), 2);
    nova.compute_services(None, deadline()).unwrap();
    assert_eq!(fake.auths(), 2, "the renewed token is reused");
    let tokens: Vec<Option<String>> = fake
        .server
        .requests()
        .iter()
        .filter(|r| r.path == "/v2.1/os-services")
        .map(|r| r.token().map(str::to_owned))
        .collect();
    assert_eq!(
        tokens,
        [
            Some("tok-1".to_owned()),
            Some("tok-2".to_owned()),
            Some("tok-2".to_owned())
        ]
    );
}

#[test]
fn a_token_refused_twice_is_an_error_not_a_loop() {
    let fake = Fake::start(version_doc("2.93"), |req| match req.path.as_str() {
        "/v2.1/os-services" => Reply::new(401, r#"{"error": {"code": 401, "message": "no"}}"#),
        _ => not_found(req),
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    let err = nova.compute_services(None, deadline()).unwrap_err();
    assert!(matches!(err, Error::AuthFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("fresh token was refused too"));
    assert_eq!(fake.auths(), 2);
    assert_eq!(fake.server.count("GET", "/os-services"), 2);
}

#[test]
fn parallel_401s_authenticate_once() {
    let fake = Fake::start(version_doc("2.93"), |req| {
        match (req.token(), req.path.as_str()) {
            (Some("tok-2"), "/v2.1/os-services") => {
                Reply::new(200, r#"{"services": []}"#).delayed(Duration::from_millis(20))
            }
            (Some("tok-1"), "/v2.1/os-services") => {
                Reply::new(401, "{}").delayed(Duration::from_millis(20))
            }
            _ => not_found(req),
        }
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    let hosts: Vec<String> = (0..8).map(|i| format!("cmp{i}")).collect();
    let out =
        openstack::bulk::map_bounded(&hosts, 8, |h| nova.compute_services(Some(h), deadline()));
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    assert_eq!(fake.auths(), 2, "eight threads share one renewal");
}

// ---------------------------------------------------------- microversions

fn negotiated(max: &str) -> Result<Microversion, Error> {
    let fake = Fake::start(version_doc(max), not_found);
    fake.compute(ComputeOptions::default()).map(|c| c.version())
}

#[test]
fn negotiation_follows_the_server() {
    assert_eq!(negotiated("2.93").unwrap(), Microversion::new(2, 87));
    assert_eq!(negotiated("2.52").unwrap(), Microversion::new(2, 52));
    assert_eq!(negotiated("2.11").unwrap(), Microversion::new(2, 11));
    assert!(matches!(
        negotiated("2.10"),
        Err(Error::VersionNotSupported { .. })
    ));
    assert!(matches!(
        negotiated(""),
        Err(Error::VersionNotSupported { .. })
    ));
}

#[test]
fn root_version_list_and_pins() {
    if let Some(doc) = need_fixture("compute-versions") {
        let fake = Fake::start(doc, not_found);
        // The catalog points at /v2.1 here, but the root list parses too.
        let range = openstack::microversion::parse_version_document(
            fixture("compute-versions").unwrap().as_bytes(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(range.max, Microversion::new(2, 93));
        drop(fake);
    }
    let fake = Fake::start(version_doc("2.93"), not_found);
    assert_eq!(
        fake.compute(capped(53)).unwrap().version(),
        Microversion::new(2, 53)
    );
    // A pin above 2.94 is lowered to 2.94: never 2.95+ (evacuated → STOPPED).
    assert_eq!(
        Fake::start(version_doc("2.99"), not_found)
            .compute(capped(99))
            .unwrap()
            .version(),
        Microversion::new(2, 94)
    );
}

#[test]
fn a_406_is_version_not_supported() {
    let refusal = fixture("error-406-microversion").unwrap_or_else(|| {
        r#"{"computeFault": {"code": 406, "message": "Version 2.999 is not supported by the API."}}"#.into()
    });
    let fake = Fake::start(version_doc("2.93"), move |_| {
        Reply::new(406, refusal.clone())
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    let err = nova.compute_services(None, deadline()).unwrap_err();
    assert!(matches!(err, Error::VersionNotSupported { .. }), "{err:?}");
    assert!(err.to_string().contains("is not supported"), "{err}");
}

// ---------------------------------------------------------------- services

#[test]
fn services_force_down_disable_enable_at_2_53_plus() {
    let Some(list) = need_fixture("services-2.53-healthy") else {
        return;
    };
    let uuid = service_id(&list, "cmp2");
    let unforce = need_fixture("unforce-2.53-response").unwrap_or_default();
    let fake = Fake::start(version_doc("2.93"), move |req| {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/v2.1/os-services") => Reply::new(200, list.clone()),
            ("PUT", p) if p.starts_with("/v2.1/os-services/") => Reply::new(200, unforce.clone()),
            _ => not_found(req),
        }
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    let cmp2 = nova.compute_service("cmp2", deadline()).unwrap();
    assert_eq!(cmp2.id, Some(NovaId::Uuid(uuid.clone())));
    assert!(cmp2.is_up());
    nova.force_down(&cmp2, deadline()).unwrap();
    nova.disable(
        &cmp2,
        &format!("umha: host fenced {}", "x".repeat(400)),
        deadline(),
    )
    .unwrap();
    nova.unforce_down(&cmp2, deadline()).unwrap();
    nova.enable(&cmp2, deadline()).unwrap();
    let puts: Vec<Request> = fake
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert!(
        puts.iter()
            .all(|r| r.path == format!("/v2.1/os-services/{uuid}"))
    );
    assert_eq!(puts[0].json(), json!({"forced_down": true}));
    assert_eq!(puts[1].json()["status"], "disabled");
    assert_eq!(
        puts[1].json()["disabled_reason"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        255
    );
    assert_eq!(puts[2].json(), json!({"forced_down": false}));
    assert_eq!(puts[3].json(), json!({"status": "enabled"}));
    // A host Nova does not know.
    assert!(matches!(
        nova.compute_service("cmp9", deadline()),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn services_force_down_disable_enable_before_2_53() {
    let Some(list) = need_fixture("services-2.11-healthy") else {
        return;
    };
    let id = service_id(&list, "cmp2");
    let answer = need_fixture("force-down-2.11-response").unwrap_or_default();
    let fake = Fake::start(version_doc("2.52"), move |req| {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/v2.1/os-services") => Reply::new(200, list.clone()),
            ("PUT", "/v2.1/os-services/force-down")
            | ("PUT", "/v2.1/os-services/disable-log-reason")
            | ("PUT", "/v2.1/os-services/enable") => Reply::new(200, answer.clone()),
            _ => not_found(req),
        }
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    assert_eq!(nova.version(), Microversion::new(2, 52));
    let cmp2 = nova.compute_service("cmp2", deadline()).unwrap();
    assert_eq!(cmp2.id, Some(NovaId::Number(id.parse().unwrap())));
    nova.force_down(&cmp2, deadline()).unwrap();
    nova.disable(&cmp2, "umha: fenced", deadline()).unwrap();
    nova.unforce_down(&cmp2, deadline()).unwrap();
    nova.enable(&cmp2, deadline()).unwrap();
    let puts: Vec<Request> = fake
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(puts[0].path, "/v2.1/os-services/force-down");
    assert_eq!(
        puts[0].json(),
        json!({"host": "cmp2", "binary": "nova-compute", "forced_down": true})
    );
    assert_eq!(puts[1].path, "/v2.1/os-services/disable-log-reason");
    assert_eq!(
        puts[1].json(),
        json!({"host": "cmp2", "binary": "nova-compute", "disabled_reason": "umha: fenced"})
    );
    assert_eq!(puts[2].json()["forced_down"], false);
    assert_eq!(puts[3].path, "/v2.1/os-services/enable");
    assert!(
        puts.iter()
            .all(|r| r.microversion() == Some("compute 2.52"))
    );
}

#[test]
fn forced_down_listing_reads_state() {
    for (name, minor) in [
        ("services-2.53-forced-down", 93),
        ("services-2.11-forced-down", 52),
    ] {
        let Some(list) = need_fixture(name) else {
            return;
        };
        let fake = Fake::start(version_doc(&format!("2.{minor}")), move |_| {
            Reply::new(200, list.clone())
        });
        let nova = fake.compute(ComputeOptions::default()).unwrap();
        let cmp2 = nova.compute_service("cmp2", deadline()).unwrap();
        assert!(
            cmp2.forced_down && cmp2.is_down() && cmp2.is_disabled(),
            "{name}: {cmp2:?}"
        );
        assert_eq!(
            cmp2.disabled_reason.as_deref(),
            Some("umha: host fenced, evacuating")
        );
    }
}

#[test]
fn unforce_with_done_evacuations_is_typed_and_retryable() {
    let refusal = fixture("error-400-unforce-migrations-pending").unwrap_or_else(|| {
        r#"{"badRequest": {"code": 400, "message": "Unable to force up host cmp2 as `done` evacuation migration records remain associated with the host."}}"#.into()
    });
    let list = r#"{"services": [{"binary": "nova-compute", "host": "cmp2", "id": "e943d190-ae5d-4a39-897a-e47a019299ef", "state": "down", "status": "disabled", "forced_down": true}]}"#;
    let fake = Fake::start(version_doc("2.93"), move |req| match req.method.as_str() {
        "GET" => Reply::new(200, list),
        _ => Reply::new(400, refusal.clone()),
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    let cmp2 = nova.compute_service("cmp2", deadline()).unwrap();
    let err = nova.unforce_down(&cmp2, deadline()).unwrap_err();
    assert!(
        matches!(err, Error::EvacuationsNotCompleted { .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    // Not retried by the client: the caller decides when.
    assert_eq!(
        fake.server
            .count("PUT", "/os-services/e943d190-ae5d-4a39-897a-e47a019299ef"),
        1
    );
}

// ----------------------------------------------------------------- servers

#[test]
fn servers_on_host_follow_pages_by_marker() {
    let (Some(page1), Some(page2)) = (
        need_fixture("servers-detail-host-page1"),
        need_fixture("servers-detail-host-page2"),
    ) else {
        return;
    };
    let first = ids(&page1, "servers", "id");
    let last = first.last().cloned().unwrap();
    let expected = first.len() + ids(&page2, "servers", "id").len();
    let marker = last.clone();
    let fake = Fake::start(version_doc("2.93"), move |req| {
        match (req.path.as_str(), req.param("marker")) {
            ("/v2.1/servers/detail", None) => Reply::new(200, page1.clone()),
            ("/v2.1/servers/detail", Some(m)) if m == marker => Reply::new(200, page2.clone()),
            _ => not_found(req),
        }
    });
    let nova = fake
        .compute(ComputeOptions {
            page_size: 3,
            ..ComputeOptions::default()
        })
        .unwrap();
    let servers = nova.servers_on_host("cmp2", deadline()).unwrap();
    assert_eq!(servers.len(), expected);
    assert!(
        servers
            .iter()
            .all(|s| s.host.as_deref() == Some("cmp2") && s.status == "ACTIVE")
    );
    assert!(
        servers
            .iter()
            .all(|s| s.metadata.contains_key("HA_Enabled"))
    );
    let lists: Vec<Request> = fake
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v2.1/servers/detail")
        .collect();
    assert_eq!(lists.len(), 2);
    for r in &lists {
        assert_eq!(r.param("host"), Some("cmp2"));
        assert_eq!(r.param("all_tenants"), Some("1"));
        assert_eq!(r.param("limit"), Some("3"));
    }
    // The next link pointed at the same host; the request was ours anyway.
    assert_eq!(lists[1].param("marker"), Some(last.as_str()));
}

fn page(ids: &[String], host: &str, next: bool) -> String {
    let servers: Vec<_> = ids
        .iter()
        .map(|id| json!({"id": id, "name": id, "status": "ACTIVE", "OS-EXT-SRV-ATTR:host": host}))
        .collect();
    let mut v = json!({ "servers": servers });
    if next {
        v["servers_links"] = json!([{"rel": "next", "href": "http://elsewhere.invalid/next"}]);
    }
    v.to_string()
}

#[test]
fn a_page_that_repeats_forever_is_an_error() {
    let fake = Fake::start(version_doc("2.93"), |req| match req.path.as_str() {
        "/v2.1/servers/detail" => Reply::new(200, page(&["a".into(), "b".into()], "cmp1", true)),
        _ => not_found(req),
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    let err = nova.servers_on_host("cmp1", deadline()).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    assert!(err.to_string().contains("does not advance"), "{err}");
    assert_eq!(fake.server.count("GET", "/servers/detail"), 2);
    // The server's next link (another host) was never followed.
    assert!(
        fake.server
            .requests()
            .iter()
            .all(|r| !r.path.contains("next"))
    );
}

#[test]
fn endless_fresh_pages_stop_at_the_page_limit() {
    let n = Arc::new(AtomicUsize::new(0));
    let fake = Fake::start(version_doc("2.93"), move |req| match req.path.as_str() {
        "/v2.1/servers/detail" => {
            let i = n.fetch_add(1, Ordering::SeqCst);
            Reply::new(200, page(&[format!("s{i}")], "cmp1", true))
        }
        _ => not_found(req),
    });
    let nova = fake
        .compute(ComputeOptions {
            max_pages: 5,
            page_size: 1,
            ..ComputeOptions::default()
        })
        .unwrap();
    let err = nova.servers_on_host("cmp1", deadline()).unwrap_err();
    assert!(err.to_string().contains("more than 5 pages"), "{err}");
    assert_eq!(fake.server.count("GET", "/servers/detail"), 5);
}

#[test]
fn an_ignored_host_filter_is_refused() {
    let fake = Fake::start(version_doc("2.93"), |req| match req.path.as_str() {
        "/v2.1/servers/detail" => Reply::new(200, page(&["a".into()], "cmp3", false)),
        _ => not_found(req),
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    let err = nova.servers_on_host("cmp1", deadline()).unwrap_err();
    assert!(err.to_string().contains("host filter was ignored"), "{err}");
}

#[test]
fn a_server_at_the_maximum_microversion() {
    let Some(list) = need_fixture("servers-detail-host-2.93") else {
        return;
    };
    let fake = Fake::start(version_doc("2.93"), move |_| Reply::new(200, list.clone()));
    let nova = fake.compute(capped(93)).unwrap();
    assert_eq!(nova.version(), Microversion::new(2, 93));
    let servers = nova.servers_on_host("cmp1", deadline()).unwrap();
    assert_eq!(servers.len(), 1);
    let s = &servers[0];
    assert_eq!(s.tags, vec!["umha-test".to_owned()]);
    assert_eq!(
        s.metadata.get("HA_Enabled").map(String::as_str),
        Some("True")
    );
    assert_eq!(s.host_status.as_deref(), Some("UP"));
    assert_eq!(s.locked, Some(false));
    assert!(!s.is_boot_from_volume());
    let flavor = s.flavor.clone().unwrap();
    assert!(flavor.original_name.is_some() && flavor.vcpus.is_some());
    assert_eq!(s.progress("cmp1"), Progress::OnSource);
}

#[test]
fn empty_host_after_evacuation() {
    let Some(empty) = need_fixture("servers-detail-host-after-evacuation") else {
        return;
    };
    let fake = Fake::start(version_doc("2.93"), move |_| Reply::new(200, empty.clone()));
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    assert!(nova.servers_on_host("cmp2", deadline()).unwrap().is_empty());
}

#[test]
fn server_progress_and_404() {
    let Some(rebuilding) = need_fixture("server-rebuild-evacuating") else {
        return;
    };
    let missing = fixture("error-404-server").unwrap_or_default();
    let fake = Fake::start(version_doc("2.93"), move |req| {
        if req.path.ends_with("/00000000-0000-0000-0000-000000000000") {
            Reply::new(404, missing.clone())
        } else {
            Reply::new(200, rebuilding.clone())
        }
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    let s = nova.server("any", deadline()).unwrap();
    assert_eq!(s.progress("cmp2"), Progress::Rebuilding);
    assert_eq!(s.host_status.as_deref(), Some("DOWN"));
    let err = nova
        .server("00000000-0000-0000-0000-000000000000", deadline())
        .unwrap_err();
    assert!(
        matches!(err, Error::NotFound { .. }) && err.to_string().contains("could not be found"),
        "{err}"
    );
}

// ---------------------------------------------------------------- evacuate

fn evacuation_cloud(max: &str) -> Fake {
    let admin_pass =
        fixture("evacuate-2.11-response").unwrap_or_else(|| r#"{"adminPass": "x"}"#.into());
    Fake::start(version_doc(max), move |req| match req.path.as_str() {
        p if p.ends_with("/action") => {
            let minor: u32 = req
                .microversion()
                .and_then(|v| v.strip_prefix("compute 2."))
                .and_then(|m| m.parse().ok())
                .unwrap_or(99);
            if minor < 14 {
                Reply::new(200, admin_pass.clone())
            } else {
                Reply::new(200, "")
            }
        }
        _ => not_found(req),
    })
}

#[test]
fn evacuate_bodies_follow_the_microversion() {
    let fake = evacuation_cloud("2.11");
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    nova.evacuate("s1", &EvacuateOptions::default(), deadline())
        .unwrap();
    let fake2 = evacuation_cloud("2.93");
    let nova2 = fake2.compute(ComputeOptions::default()).unwrap();
    nova2
        .evacuate(
            "s2",
            &EvacuateOptions {
                host: Some("cmp3".into()),
                on_shared_storage: true,
            },
            deadline(),
        )
        .unwrap();
    nova2
        .evacuate("s3", &EvacuateOptions::default(), deadline())
        .unwrap();
    let r = fake
        .server
        .requests()
        .into_iter()
        .find(|r| r.path == "/v2.1/servers/s1/action")
        .unwrap();
    assert_eq!(r.json(), json!({"evacuate": {"onSharedStorage": false}}));
    assert_eq!(r.microversion(), Some("compute 2.11"));
    let rs: Vec<Request> = fake2
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/action"))
        .collect();
    assert_eq!(rs[0].json(), json!({"evacuate": {"host": "cmp3"}}));
    assert_eq!(rs[1].json(), json!({"evacuate": {}}));
}

#[test]
fn a_named_host_before_2_29_is_refused_unsent() {
    let fake = evacuation_cloud("2.28");
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    let to = EvacuateOptions {
        host: Some("cmp3".into()),
        on_shared_storage: false,
    };
    let err = nova.evacuate("s1", &to, deadline()).unwrap_err();
    assert!(
        matches!(err, openstack::Error::VersionNotSupported { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("2.29"), "{err}");
    assert!(
        !fake
            .server
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/action")),
        "nothing sent"
    );
}

#[test]
fn evacuate_refused_while_the_source_is_up() {
    let refusal = fixture("error-400-evacuate-source-up").unwrap_or_else(|| {
        r#"{"badRequest": {"code": 400, "message": "Compute service of cmp1 is still in use."}}"#.into()
    });
    let fake = Fake::start(version_doc("2.93"), move |_| {
        Reply::new(400, refusal.clone())
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    let err = nova
        .evacuate("s1", &EvacuateOptions::default(), deadline())
        .unwrap_err();
    assert!(matches!(err, Error::ServiceStillInUse { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("Compute service of cmp1 is still in use."),
        "{err}"
    );
}

#[test]
fn evacuate_is_never_retried_on_an_answer_but_gets_are() {
    let gets = Arc::new(AtomicUsize::new(0));
    let g = gets.clone();
    let fake = Fake::start(version_doc("2.93"), move |req| match req.method.as_str() {
        "POST" => Reply::new(503, "<html>Service Unavailable</html>"),
        _ if req.path == "/v2.1/os-services" => {
            // Two 503s, then the answer.
            if g.fetch_add(1, Ordering::SeqCst) < 2 {
                Reply::new(503, "busy").header("Retry-After", "0")
            } else {
                Reply::new(200, r#"{"services": []}"#)
            }
        }
        _ => not_found(req),
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    let err = nova
        .evacuate("s1", &EvacuateOptions::default(), deadline())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unavailable {
                status: Some(503),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(fake.server.count("POST", "/servers/s1/action"), 1);
    nova.compute_services(None, deadline()).unwrap();
    assert_eq!(gets.load(Ordering::SeqCst), 3);
}

#[test]
fn a_connection_lost_after_sending_is_retried_for_gets_only() {
    let fake = Fake::start(version_doc("2.93"), |req| match req.method.as_str() {
        "POST" | "GET" => Reply::hang_up(),
        _ => not_found(req),
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    let err = nova
        .evacuate("s1", &EvacuateOptions::default(), deadline())
        .unwrap_err();
    assert!(
        matches!(err, Error::Unavailable { status: None, .. }),
        "{err:?}"
    );
    assert_eq!(
        fake.server.count("POST", "/servers/s1/action"),
        1,
        "never resent"
    );
    assert!(nova.compute_services(None, deadline()).is_err());
    assert_eq!(
        fake.server.count("GET", "/os-services"),
        options().max_attempts as usize
    );
}

#[test]
fn an_evacuate_that_could_not_connect_is_sent_when_nova_returns() {
    let doc = version_doc("2.93");
    let nova_up = |doc: String| {
        move |req: &Request| match req.method.as_str() {
            "GET" => Reply::new(200, doc.clone()),
            _ => Reply::new(200, ""),
        }
    };
    let first = MockServer::start(nova_up(doc.clone()));
    let port = first.port();
    let keystone = Fake::start(version_doc("2.93"), not_found);
    let cloud =
        CloudConfig::parse_clouds_yaml("lab", &keystone.clouds_yaml(), "test", None).unwrap();
    let session = Session::new(
        cloud,
        SessionOptions {
            backoff: Duration::from_millis(150),
            ..options()
        },
    )
    .unwrap();
    let nova = Compute::connect_to(
        Arc::new(session),
        &format!("{}/v2.1", first.url()),
        ComputeOptions::default(),
        deadline(),
    )
    .unwrap();
    // Nova goes away (connection refused), and comes back 200 ms later.
    drop(first);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let back = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        let again = MockServer::start_on(port, nova_up(doc))?;
        let _ = rx.recv_timeout(Duration::from_secs(10));
        Some(again.count("POST", "/servers/s1/action"))
    });
    let result = nova.evacuate("s1", &EvacuateOptions::default(), deadline());
    let _ = tx.send(());
    let Some(posts) = back.join().unwrap() else {
        println!("SKIPPED: loopback port {port} was taken in between");
        return;
    };
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(posts, 1);
}

#[test]
fn five_hundreds_give_up_after_the_attempts() {
    let fake = Fake::start(version_doc("2.93"), |req| match req.path.as_str() {
        "/v2.1/os-services" => Reply::new(
            500,
            r#"{"computeFault": {"code": 500, "message": "Unexpected API Error."}}"#,
        ),
        _ => not_found(req),
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    let err = nova.compute_services(None, deadline()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unavailable {
                status: Some(500),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("Unexpected API Error."));
    assert_eq!(
        fake.server.count("GET", "/os-services"),
        options().max_attempts as usize
    );
}

#[test]
fn evacuate_many_is_bounded() {
    let fake = Fake::start(version_doc("2.93"), |req| match req.path.as_str() {
        p if p.ends_with("/action") => Reply::new(200, "").delayed(Duration::from_millis(60)),
        _ => not_found(req),
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    let ids: Vec<String> = (0..12).map(|i| format!("s{i}")).collect();
    let started = Instant::now();
    let results = nova.evacuate_many(&ids, &EvacuateOptions::default(), 3, deadline());
    assert_eq!(results.len(), 12);
    assert!(results.iter().all(Result::is_ok));
    assert!(
        fake.server.peak.load(Ordering::SeqCst) <= 3,
        "peak {}",
        fake.server.peak.load(Ordering::SeqCst)
    );
    // 12 calls of 60 ms, 3 at a time: about 4 rounds, not 12.
    assert!(
        started.elapsed() < Duration::from_millis(12 * 60),
        "{:?}",
        started.elapsed()
    );
    for id in &ids {
        assert_eq!(
            fake.server.count("POST", &format!("/servers/{id}/action")),
            1
        );
    }
}

// -------------------------------------------------------------- migrations

#[test]
fn evacuation_precheck_from_lab_answers() {
    let (Some(done), Some(running), Some(server)) = (
        need_fixture("migrations-evacuation-done"),
        need_fixture("migrations-evacuation-in-progress"),
        need_fixture("server-rebuild-evacuating"),
    ) else {
        return;
    };
    let done_instance = ids(&done, "migrations", "instance_uuid")[0].clone();
    let rebuilding_id = {
        let v: serde_json::Value = serde_json::from_str(&server).unwrap();
        v["server"]["id"].as_str().unwrap().to_owned()
    };
    let from_host: Vec<String> = ids(&running, "migrations", "status");
    let d = done_instance.clone();
    let fake = Fake::start(version_doc("2.93"), move |req| {
        match (req.path.as_str(), req.param("instance_uuid")) {
            ("/v2.1/os-migrations", Some(i)) if i == d => Reply::new(200, done.clone()),
            ("/v2.1/os-migrations", _) => Reply::new(200, running.clone()),
            _ => Reply::new(200, server.clone()),
        }
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    let mut s = nova.server(&rebuilding_id, deadline()).unwrap();
    // While REBUILD: in progress whatever the records say.
    assert!(matches!(
        nova.evacuation_status(&s, "cmp2", None, deadline())
            .unwrap(),
        EvacuationStatus::InProgress { .. }
    ));
    // Another server of the lab, landed on cmp3, migration done.
    s.id = done_instance;
    s.status = "ACTIVE".into();
    s.task_state = None;
    s.host = Some("cmp3".into());
    match nova
        .evacuation_status(&s, "cmp2", None, deadline())
        .unwrap()
    {
        EvacuationStatus::Done { migration } => {
            assert_eq!(migration.dest_compute.as_deref(), Some("cmp3"))
        }
        other => panic!("{other:?}"),
    }
    let q = fake
        .server
        .requests()
        .into_iter()
        .find(|r| r.path == "/v2.1/os-migrations")
        .unwrap();
    assert_eq!(q.param("migration_type"), Some("evacuation"));
    assert_eq!(q.param("limit"), Some("1000"), "paged from 2.59");
    // From the host, right after the calls: accepted/pre-migrating are in
    // progress, done succeeded.
    let from = nova
        .migrations(&MigrationQuery::evacuations_from("cmp2"), deadline())
        .unwrap();
    assert_eq!(from.len(), from_host.len());
    for m in &from {
        let expect = match m.status.as_str() {
            "done" | "completed" => openstack::migration::Phase::Succeeded,
            "failed" | "error" => openstack::migration::Phase::Failed,
            _ => openstack::migration::Phase::InProgress,
        };
        assert_eq!(m.phase(), expect, "{m:?}");
    }
}

#[test]
fn migrations_before_2_59_are_not_paged() {
    let Some(list) = need_fixture("migrations-evacuation-host-2.23") else {
        return;
    };
    let fake = Fake::start(version_doc("2.52"), move |_| Reply::new(200, list.clone()));
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    let all = nova
        .migrations(&MigrationQuery::evacuations_from("cmp2"), deadline())
        .unwrap();
    assert_eq!(all.len(), 4);
    assert!(all.iter().all(|m| m.status == "done" && m.uuid.is_none()));
    let q = fake
        .server
        .requests()
        .into_iter()
        .find(|r| r.path == "/v2.1/os-migrations")
        .unwrap();
    assert_eq!(q.param("limit"), None);
}

// ------------------------------------------------------------------ hostile

#[test]
fn slow_answers_time_out_within_the_deadline() {
    let fake = Fake::start(version_doc("2.93"), |_| {
        Reply::new(200, "{}").delayed(Duration::from_secs(3))
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    let started = Instant::now();
    let err = nova
        .compute_services(None, Deadline::after(Duration::from_millis(400)))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn huge_answers_are_cut() {
    let big = format!(r#"{{"services": [], "pad": "{}"}}"#, "x".repeat(64 * 1024));
    let big2 = big.clone();
    let fake = Fake::start(version_doc("2.93"), move |req| match req.path.as_str() {
        "/v2.1/os-services" if req.param("host").is_some() => {
            let mut r = Reply::new(200, big2.clone());
            r.no_length = true;
            r
        }
        _ => Reply::new(200, big.clone()),
    });
    let cloud = CloudConfig::parse_clouds_yaml("lab", &fake.clouds_yaml(), "test", None).unwrap();
    let session = Session::new(
        cloud,
        SessionOptions {
            max_body: 16 * 1024,
            ..options()
        },
    )
    .unwrap();
    let nova = Compute::connect(Arc::new(session), ComputeOptions::default(), deadline()).unwrap();
    for host in [None, Some("cmp1")] {
        let err = nova.compute_services(host, deadline()).unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
        assert!(err.to_string().contains("larger than 16384 bytes"), "{err}");
    }
}

#[test]
fn errors_never_echo_the_token_or_the_password() {
    let fake = Fake::start(version_doc("2.93"), |req| {
        let token = req.token().unwrap_or("").to_owned();
        let echo = format!(
            r#"{{"badRequest": {{"code": 400, "message": "bad token {token} and password {PASSWORD}\n\u001b[31mforged log line"}}}}"#
        );
        if req.path == "/v2.1/os-services" {
            Reply::new(400, echo)
        } else {
            // A wrong type carrying the token in a field.
            Reply::new(
                200,
                format!(r#"{{"server": {{"id": "{token}-{PASSWORD}", "locked": "{token}"}}}}"#),
            )
        }
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    for err in [
        nova.compute_services(None, deadline()).unwrap_err(),
        nova.server("x", deadline()).unwrap_err(),
    ] {
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains("tok-1") && !text.contains(PASSWORD),
            "{text}"
        );
        assert!(!text.contains('\n') && !text.contains('\u{1b}'), "{text}");
    }
    assert!(!format!("{:?}", nova.session()).contains(PASSWORD));
    assert!(!format!("{:?}", nova.session().token(deadline()).unwrap()).contains("tok-1"));
}

#[test]
fn redirects_to_another_origin_are_not_followed() {
    let elsewhere = MockServer::start(|_| Reply::new(200, r#"{"services": []}"#));
    let target = format!("{}/v2.1/os-services", elsewhere.url());
    let fake = Fake::start(version_doc("2.93"), move |req| match req.path.as_str() {
        "/v2.1/os-services" => Reply::new(302, "").header("Location", &target),
        _ => not_found(req),
    });
    let nova = fake.compute(ComputeOptions::default()).unwrap();
    let err = nova.compute_services(None, deadline()).unwrap_err();
    assert_eq!(err.status(), Some(302), "{err:?}");
    assert!(elsewhere.requests().is_empty(), "the token went elsewhere");
}

#[test]
fn nothing_listening_is_unavailable_and_bounded() {
    // Bind then drop: a loopback port with nobody behind it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let yaml = format!(
        "clouds:\n  lab:\n    auth:\n      auth_url: http://127.0.0.1:{port}/v3\n      user_id: u\n      password: p\n"
    );
    let cloud = CloudConfig::parse_clouds_yaml("lab", &yaml, "test", None).unwrap();
    let session = Arc::new(Session::new(cloud, options()).unwrap());
    let started = Instant::now();
    let err = Compute::connect(
        session,
        ComputeOptions::default(),
        Deadline::after(Duration::from_secs(5)),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::Unavailable { status: None, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn tls_to_a_plain_http_port_fails_cleanly() {
    let fake = Fake::start(version_doc("2.93"), not_found);
    let yaml = fake.clouds_yaml().replace("http://", "https://");
    let cloud = CloudConfig::parse_clouds_yaml("lab", &yaml, "test", None).unwrap();
    let session = Arc::new(Session::new(cloud, options()).unwrap());
    let err = Compute::connect(
        session,
        ComputeOptions::default(),
        Deadline::after(Duration::from_secs(5)),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::Tls { .. } | Error::Unavailable { .. }),
        "{err:?}"
    );
}

#[test]
fn bad_cacert_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    for cacert in [
        empty.display().to_string(),
        "/nonexistent/ca.pem".to_owned(),
    ] {
        let yaml = format!(
            "clouds:\n  lab:\n    auth:\n      auth_url: https://ks.invalid/v3\n      user_id: u\n      password: p\n    cacert: {cacert}\n"
        );
        let cloud = CloudConfig::parse_clouds_yaml("lab", &yaml, "test", None).unwrap();
        let err = Session::new(cloud, options()).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
        assert!(
            err.to_string().contains("ca") || err.to_string().contains("CA"),
            "{err}"
        );
    }
}

mod hostile_bodies {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Arbitrary answers to every listing: an error or a value, never a
        /// panic, never a hang.
        #[test]
        fn arbitrary_answers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), status in prop_oneof![Just(200u16), Just(400), Just(404), Just(500), Just(201), Just(302)]) {
            let body = Arc::new(body);
            let b = body.clone();
            let fake = Fake::start(version_doc("2.93"), move |_| Reply::new(status, (*b).clone()));
            let nova = fake.compute(ComputeOptions::default()).unwrap();
            let d = Deadline::after(Duration::from_secs(5));
            let _ = nova.compute_services(Some("cmp1"), d);
            let _ = nova.servers_on_host("cmp1", d);
            let _ = nova.server("s1", d);
            let _ = nova.migrations(&MigrationQuery::evacuations_of("s1"), d);
            let _ = nova.hypervisors(d);
            let _ = nova.evacuate("s1", &EvacuateOptions::default(), d);
        }

        /// Arbitrary version documents and token bodies.
        #[test]
        fn arbitrary_discovery_never_panics(doc in proptest::collection::vec(any::<u8>(), 0..256)) {
            let doc = String::from_utf8_lossy(&doc).into_owned();
            let fake = Fake::start(doc, not_found);
            let _ = fake.compute(ComputeOptions::default());
        }
    }
}
