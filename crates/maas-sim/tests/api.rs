//! The simulator over HTTP, as fence_maas and the lab see it: OAuth,
//! both spellings of `op`, asynchronous power, the control interface, and
//! `--power-cmd` delegation.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use maas_sim::{MachineSpec, SimConfig, Simulator};
use reqwest::blocking::Client;
use serde_json::Value;

const KEY: &str = "ck:tk:ts";

fn start(config: impl FnOnce(&mut SimConfig)) -> Simulator {
    let mut c = SimConfig::new(KEY, vec![MachineSpec::new("cmp1", "aaa111")]);
    c.power_delay = Duration::from_millis(100);
    config(&mut c);
    Simulator::start(c).unwrap()
}

fn auth(signature: &str) -> String {
    format!(
        "OAuth oauth_version=\"1.0\", oauth_signature_method=\"PLAINTEXT\", oauth_consumer_key=\"ck\", \
         oauth_token=\"tk\", oauth_signature=\"{signature}\", oauth_nonce=\"n1\", oauth_timestamp=\"1700000000\""
    )
}

fn get(sim: &Simulator, path: &str, signature: &str) -> (u16, String) {
    let r = Client::new()
        .get(format!("{}/api/2.0/{path}", sim.url()))
        .header("Authorization", auth(signature))
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

fn post(url: &str, authorization: Option<String>) -> (u16, String) {
    let mut req = Client::new().post(url);
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    let r = req.send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

fn query(sim: &Simulator) -> String {
    let (status, body) = get(sim, "machines/aaa111/?op=query_power_state", "%26ts");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["state"].as_str().unwrap().to_owned()
}

#[test]
fn oauth_plaintext_encoded_or_not_and_401_otherwise() {
    let sim = start(|_| {});
    assert_eq!(get(&sim, "machines/", "%26ts").0, 200);
    assert_eq!(get(&sim, "machines/", "&ts").0, 200);
    assert_eq!(get(&sim, "machines/", "&wrong").0, 401);
    assert_eq!(get(&sim, "machines/", "ts").0, 401);
    let bare = Client::new()
        .get(format!("{}/api/2.0/machines/", sim.url()))
        .send()
        .unwrap();
    assert_eq!(bare.status().as_u16(), 401);
    assert_eq!(sim.counters().unauthorized, 3);
}

#[test]
fn op_as_query_or_documentation_path_segment() {
    let sim = start(|_| {});
    assert_eq!(query(&sim), "on");
    let (status, body) = get(&sim, "machines/aaa111/op-query_power_state", "%26ts");
    assert_eq!((status, body.as_str()), (200, "{\"state\":\"on\"}"));
    let (status, body) = get(&sim, "users/?op=whoami", "%26ts");
    assert_eq!(status, 200, "{body}");
    let (status, _) = get(&sim, "machines/?hostname=cmp1&hostname=nosuch", "%26ts");
    assert_eq!(status, 200);
    assert_eq!(get(&sim, "machines/zzz999/", "%26ts").0, 404);
}

#[test]
fn power_changes_after_the_delay_and_the_latest_request_wins() {
    let sim = start(|c| c.power_delay = Duration::from_millis(300));
    let url = format!("{}/api/2.0/machines/aaa111/?op=power_off", sim.url());
    let started = Instant::now();
    let (status, body) = post(&url, Some(auth("%26ts")));
    assert_eq!(status, 200, "{body}");
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "asynchronous"
    );
    assert_eq!(query(&sim), "on", "not yet");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(query(&sim), "off");

    // off then on at once: on wins, the pending off never lands.
    sim.set_power("cmp1", true);
    post(&url, Some(auth("%26ts")));
    post(&url.replace("power_off", "power_on"), Some(auth("%26ts")));
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(sim.power("cmp1"), Some(true));
}

#[test]
fn control_interface_over_http() {
    let sim = start(|_| {});
    let control = |what: &str| post(&format!("http://{}/_sim/{what}", sim.addr()), None);
    assert_eq!(control("force?machine=cmp1&state=error").0, 200);
    assert_eq!(query(&sim), "error");
    assert_eq!(control("force?machine=cmp1&state=none").0, 200);
    assert_eq!(control("power?machine=cmp1&state=off").0, 200);
    assert_eq!(query(&sim), "off");
    assert_eq!(control("fail?count=2&status=503").0, 200);
    assert_eq!(get(&sim, "machines/", "%26ts").0, 503);
    assert_eq!(get(&sim, "machines/", "%26ts").0, 503);
    assert_eq!(get(&sim, "machines/", "%26ts").0, 200);
    assert_eq!(control("delay?power=0.05&query=0.2").0, 200);
    let started = Instant::now();
    query(&sim);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(control("force?machine=nosuch&state=error").0, 404);
    assert_eq!(control("garbage?kind=bogus").0, 400);
    let state: Value = Client::new()
        .get(format!("http://{}/_sim/state", sim.addr()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(state["machines"][0]["power"], "off");
    assert_eq!(state["counters"]["faults"], 2);
}

#[test]
fn power_cmd_is_told_and_asked() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let state = dir.path().join("state");
    std::fs::write(&state, "on\n").unwrap();
    let script = dir.path().join("power");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" >>{log}\ncase $2 in\n status) cat {state} ;;\n on|off) echo $2 >{state} ;;\n *) exit 2 ;;\nesac\n",
            log = log.display(),
            state = state.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x", &script.display().to_string()])
        .status()
        .unwrap();
    let sim = start(|c| c.power_cmd = Some(script.clone()));
    assert_eq!(query(&sim), "on");
    let url = format!("{}/api/2.0/machines/aaa111/?op=power_off", sim.url());
    assert_eq!(post(&url, Some(auth("%26ts"))).0, 200);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(query(&sim), "off");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(calls, "cmp1 status\ncmp1 off\ncmp1 status\n");
    std::fs::write(&state, "garbage\n").unwrap();
    assert_eq!(query(&sim), "error");
}
