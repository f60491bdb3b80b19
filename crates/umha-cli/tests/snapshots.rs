//! `umha status` and `umha simulate` on the lab's captured cluster states
//! (crates/cib/fixtures, each with the .cmd that made it), compared with
//! the expected output under tests/snapshots/. After an intended change:
//! `UMHA_UPDATE_SNAPSHOTS=1 cargo test -p umha-cli --test snapshots`, then
//! review the diff.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use umha_cli::cli::{Command, run};
use umha_cli::render::Format;

/// 2026-11-22T04:00:00Z, shortly after the captures were made: the valve's
/// window sees the fenced node as a recent failure.
const NOW: &str = "1795320000";
/// 20 s after the held capture (its .cmd has the time).
const HELD_NOW: &str = "1795342700";

/// The lab's captures: the cib crate's (plain cluster states) and this
/// crate's own (umha incidents, with Nova snapshots; tests/fixtures/capture.sh).
fn fixture(name: &str) -> PathBuf {
    let own = own_fixtures().join(name);
    if own.exists() {
        return own;
    }
    cib_fixtures().join(name)
}

fn own_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn cib_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cib/fixtures")
}

/// Snapshots must not depend on where the checkout is.
fn relative(out: &str) -> String {
    out.replace(own_fixtures().to_str().unwrap(), "FIXTURES")
        .replace(cib_fixtures().to_str().unwrap(), "FIXTURES")
}

fn check(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UMHA_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (UMHA_UPDATE_SNAPSHOTS=1 writes it)",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{name} differs from {}:\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

fn ext(format: Format) -> &'static str {
    match format {
        Format::Text => "txt",
        Format::Xml => "xml",
        Format::Json => "json",
    }
}

const STATES: &[&str] = &[
    "healthy",
    "fenced-off",
    "recovered",
    "quorum-lost",
    "attributes",
    "recovery",
];

#[test]
fn status_on_captured_states() {
    for state in STATES {
        for format in [Format::Text, Format::Xml, Format::Json] {
            let out = run(Command::Status {
                output_as: format,
                cib: Some(fixture(&format!("{state}-cib.xml"))),
                no_nova: true,
                cloud: None,
                clouds_yaml: None,
            })
            .unwrap();
            let out = relative(&out);
            if format == Format::Xml {
                roxmltree::Document::parse(&out).unwrap();
            }
            if format == Format::Json {
                serde_json::from_str::<serde_json::Value>(&out).unwrap();
            }
            check(&format!("status-{state}.{}", ext(format)), &out);
        }
    }
}

fn simulate(state: &str, history: bool, params: &[(&str, &str)], format: Format) -> String {
    simulate_at(state, history, false, NOW, params, format)
}

/// The fence history captured with a state's CIB. `recovery` is derived
/// from fenced-off (tests/fixtures/recovery-cib.cmd).
fn history_of(state: &str) -> PathBuf {
    let state = if state == "recovery" {
        "fenced-off"
    } else {
        state
    };
    fixture(&format!("{state}-fence-history.xml"))
}

fn simulate_at(
    state: &str,
    history: bool,
    release: bool,
    now: &str,
    params: &[(&str, &str)],
    format: Format,
) -> String {
    let history_file = history_of(state);
    let nova_file = fixture(&format!("{state}-nova.json"));
    let out = run(Command::Simulate {
        cib: fixture(&format!("{state}-cib.xml")),
        fence_history: (history && history_file.exists()).then_some(history_file),
        nova: nova_file.exists().then_some(nova_file),
        now: Some(now.to_owned()),
        release,
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        output_as: format,
    })
    .unwrap();
    relative(&out)
}

#[test]
fn simulate_on_captured_states() {
    for state in STATES {
        check(
            &format!("simulate-{state}.txt"),
            &simulate(state, true, &[], Format::Text),
        );
    }
    // Without the fence history a lost remote node is still evacuated on
    // node_fenced + history only: no history, no evacuation.
    check(
        "simulate-fenced-off-no-history.txt",
        &simulate("fenced-off", false, &[], Format::Text),
    );
    // One failed node of three trips a ratio of 0.3: held, not evacuated.
    check(
        "simulate-fenced-off-held.txt",
        &simulate(
            "fenced-off",
            true,
            &[("max_failed_ratio", "0.3"), ("max_failed_hosts", "1")],
            Format::Text,
        ),
    );
    // The held incident, as it would go on release: the three instances
    // from the Nova snapshot, each through the agent's selection.
    let released = simulate_at("held", true, true, HELD_NOW, &[], Format::Text);
    assert_eq!(
        released.matches(" evacuate fixture-").count(),
        3,
        "{released}"
    );
    check("simulate-held-released.txt", &released);
    check(
        "simulate-held.txt",
        &simulate_at("held", true, false, HELD_NOW, &[], Format::Text),
    );
    // The captured fence histories without a CIB of their own, with the
    // CIB of the cluster they were taken from. The failed, pending and
    // timed-out fences of cmp3 left it up (their .cmd), so the cluster
    // looked as in recovered-cib.xml, captured 2 s before the first; and
    // the timed-out fence's history is the history at quorum-lost-cib.xml's
    // capture 5 s later (nothing was fenced in between).
    for (name, cib, history) in [
        ("fence-failed", "recovered", "fence-failed"),
        ("fence-pending", "recovered", "fence-pending"),
        ("quorum-lost-fence-timeout", "quorum-lost", "fence-timeout"),
    ] {
        let out = run(Command::Simulate {
            cib: fixture(&format!("{cib}-cib.xml")),
            fence_history: Some(fixture(&format!("{history}-fence-history.xml"))),
            nova: None,
            now: Some(NOW.to_owned()),
            release: false,
            params: vec![],
            output_as: Format::Text,
        })
        .unwrap();
        check(&format!("simulate-{name}.txt"), &relative(&out));
    }
    // reserved_host with no reserved host to take (the flag read under
    // another name): the instances stay; and cmp2, kept idle as a reserved
    // host but no longer flagged under that name, is put back into service.
    check(
        "simulate-recovery-reserved-host-none.txt",
        &simulate(
            "recovery",
            true,
            &[
                ("recovery_method", "reserved_host"),
                ("reserved_attribute", "no-such-attribute"),
            ],
            Format::Text,
        ),
    );
    let xml = simulate("fenced-off", true, &[], Format::Xml);
    roxmltree::Document::parse(&xml).unwrap();
    check("simulate-fenced-off.xml", &xml);
    let json = simulate("fenced-off", true, &[], Format::Json);
    serde_json::from_str::<serde_json::Value>(&json).unwrap();
    check("simulate-fenced-off.json", &json);
}

#[test]
fn malformed_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.xml");
    for (text, want) in [
        ("<cib><configuration>", "CIB from"),
        ("not xml at all", "CIB from"),
        ("", "CIB from"),
    ] {
        std::fs::write(&bad, text).unwrap();
        let e = run(Command::Simulate {
            cib: bad.clone(),
            fence_history: None,
            nova: None,
            now: Some(NOW.to_owned()),
            release: false,
            params: vec![],
            output_as: Format::Text,
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains(want) && e.contains("bad.xml"), "{e}");
        let e = run(Command::Status {
            output_as: Format::Text,
            cib: Some(bad.clone()),
            no_nova: true,
            cloud: None,
            clouds_yaml: None,
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("bad.xml"), "{e}");
    }
    let missing = run(Command::Simulate {
        cib: dir.path().join("nope.xml"),
        fence_history: None,
        nova: None,
        now: None,
        release: false,
        params: vec![],
        output_as: Format::Text,
    })
    .unwrap_err()
    .to_string();
    assert!(missing.contains("nope.xml"), "{missing}");
    // A parameter the agent would refuse is refused the same way.
    let e = run(Command::Simulate {
        cib: fixture("healthy-cib.xml"),
        fence_history: None,
        nova: None,
        now: Some(NOW.to_owned()),
        release: false,
        params: vec![("max_failed_ratio".into(), "lots".into())],
        output_as: Format::Text,
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("max_failed_ratio"), "{e}");
    // A malformed fence history and Nova snapshot.
    std::fs::write(&bad, "<pacemaker-result><fence_history><fence_event").unwrap();
    let e = run(Command::Simulate {
        cib: fixture("fenced-off-cib.xml"),
        fence_history: Some(bad.clone()),
        nova: None,
        now: Some(NOW.to_owned()),
        release: false,
        params: vec![],
        output_as: Format::Text,
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("fence history"), "{e}");
    let nova = dir.path().join("nova.json");
    for text in [
        "{",
        "{\"services\": []}",
        "{\"services\": 3, \"servers\": []}",
        "[]",
    ] {
        std::fs::write(&nova, text).unwrap();
        let e = run(Command::Simulate {
            cib: fixture("fenced-off-cib.xml"),
            fence_history: None,
            nova: Some(nova.clone()),
            now: Some(NOW.to_owned()),
            release: false,
            params: vec![],
            output_as: Format::Text,
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("nova.json"), "{e}");
    }
}

/// `umha status` with Nova's side, from the Nova snapshot captured with the
/// CIB (live Nova is not needed to check the rendering).
#[test]
fn status_with_nova_on_captured_states() {
    use umha_cli::context::State;
    use umha_cli::simulate::NovaSnapshot;
    use umha_cli::status::{self, NovaView, ServiceView};
    for state in ["held", "evacuated"] {
        let cib = fixture(&format!("{state}-cib.xml"));
        let loaded = State::load(Some(&cib)).unwrap();
        let config = loaded.config(&[]).unwrap();
        let nova = NovaSnapshot::read(&fixture(&format!("{state}-nova.json"))).unwrap();
        let services = nova
            .services
            .iter()
            .map(|s| (s.host.clone(), ServiceView::from_service(s)))
            .collect();
        let report = status::build(&loaded, &config, NovaView::Read, &services);
        for format in [Format::Text, Format::Xml, Format::Json] {
            check(
                &format!("status-{state}-nova.{}", ext(format)),
                &relative(&report.render(format)),
            );
        }
    }
}
