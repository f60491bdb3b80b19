//! Delivery against a real SMTP server on loopback: Debian's aiosmtpd
//! (tests/lab/smtp/server.py), with STARTTLS or TLS, AUTH, and a CA and
//! server certificate made per run with openssl. Skipped, saying so, where
//! python3-aiosmtpd is missing (tests/lab/install.sh installs it).
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::Duration;

use alert::outbox::Sender;
use alert::smtp::Smtp;
use alert::testing::{Server, available};
use alert::{Event, Flushed, Outbox, Severity};

fn event(n: usize) -> Event {
    Event {
        time: 1_000 + n as i64,
        source: "umha-evacuator".into(),
        kind: "evacuate".into(),
        node: Some("cmp2".into()),
        severity: Severity::Warning,
        text: format!("instance vm-{n} evacuated"),
    }
}

#[test]
fn starttls_with_auth_reaches_every_receiver() {
    if !available() {
        return;
    }
    let server = Server::start("starttls", true);
    let config = server.config("starttls", &[]);
    config.validate().unwrap();
    Smtp.send(&config, "[umha] test", "body line\n").unwrap();
    let mails = server.wait_mails(1, Duration::from_secs(5));
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].contains("X-Envelope-To: ops@example.org, oncall@example.org"),
        "{}",
        mails[0]
    );
    assert!(mails[0].contains("Subject: [umha] test"));
}

#[test]
fn implicit_tls_and_verification_on_by_default() {
    if !available() {
        return;
    }
    let server = Server::start("tls", true);
    Smtp.send(&server.config("tls", &[]), "s", "b").unwrap();
    assert_eq!(server.wait_mails(1, Duration::from_secs(5)).len(), 1);
    // Without the test CA the server's certificate is refused...
    let mut untrusted = server.config("tls", &[]);
    untrusted.ca_file = None;
    let e = Smtp.send(&untrusted, "s", "b").unwrap_err().to_string();
    assert!(e.contains("127.0.0.1"), "{e}");
    // ...unless verification is turned off by name.
    let mut insecure = server.config("tls", &[("smtp_tls_verify", "false")]);
    insecure.ca_file = None;
    Smtp.send(&insecure, "s", "b").unwrap();
    assert_eq!(server.wait_mails(2, Duration::from_secs(5)).len(), 2);
}

#[test]
fn a_wrong_password_keeps_the_alerts_for_the_next_try() {
    if !available() {
        return;
    }
    let server = Server::start("starttls", true);
    let wrong = server.dir.path().join("wrong");
    std::fs::write(&wrong, "wrong-password\n").unwrap();
    let bad = server.config(
        "starttls",
        &[("smtp_password_file", wrong.to_str().unwrap())],
    );
    let outbox = Outbox::open(bad).unwrap();
    outbox.submit(&event(1)).unwrap();
    let e = outbox.flush(5_000, &Smtp).unwrap_err().to_string();
    assert!(!e.contains("wrong-password"), "the secret leaked: {e}");
    assert!(server.mails().is_empty());
    let good = Outbox::open(server.config("starttls", &[])).unwrap();
    assert_eq!(good.flush(5_001, &Smtp).unwrap(), Flushed::Sent(1));
    assert_eq!(server.wait_mails(1, Duration::from_secs(5)).len(), 1);
}

#[test]
fn a_burst_of_ten_is_one_mail_and_the_next_waits_for_the_interval() {
    if !available() {
        return;
    }
    let server = Server::start("starttls", true);
    let outbox = Outbox::open(server.config(
        "starttls",
        &[("send_interval", "1h"), ("mail_batch_delay", "10s")],
    ))
    .unwrap();
    for n in 0..10 {
        outbox.submit(&event(n)).unwrap();
    }
    assert_eq!(outbox.flush(1_005, &Smtp).unwrap(), Flushed::NotYet(1_010));
    assert_eq!(outbox.flush(1_010, &Smtp).unwrap(), Flushed::Sent(10));
    outbox.submit(&event(20)).unwrap();
    assert_eq!(
        outbox.flush(1_100, &Smtp).unwrap(),
        Flushed::NotYet(1_010 + 3600)
    );
    let mails = server.wait_mails(1, Duration::from_secs(5));
    assert_eq!(mails.len(), 1);
    for n in 0..10 {
        assert!(
            mails[0].contains(&format!("instance vm-{n} evacuated")),
            "{}",
            mails[0]
        );
    }
    assert_eq!(outbox.flush(1_010 + 3600, &Smtp).unwrap(), Flushed::Sent(1));
    assert_eq!(server.wait_mails(2, Duration::from_secs(5)).len(), 2);
}

#[test]
fn the_alert_agent_mails_a_pacemaker_fencing_event() {
    if !available() {
        return;
    }
    let server = Server::start("starttls", true);
    let settings = server.settings(
        "starttls",
        &[("mail_batch_delay", "1s"), ("send_interval", "1h")],
    );
    let status = Command::new(env!("CARGO_BIN_EXE_umha-alert"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(&settings)
        .env("CRM_alert_kind", "fencing")
        .env("CRM_alert_node", "cmp1")
        .env("CRM_alert_rc", "0")
        .env(
            "CRM_alert_desc",
            "Operation reboot of cmp1 by ctl1 for pacemaker-controld: OK",
        )
        .env("CRM_alert_recipient", "pager@example.org")
        .env("CRM_alert_version", "2.1.5")
        .status()
        .unwrap();
    assert!(status.success());
    // The agent returned at once; its detached flusher sends after the batch delay.
    let mails = server.wait_mails(1, Duration::from_secs(15));
    assert_eq!(mails.len(), 1, "no mail from the flusher");
    assert!(mails[0].contains("fencing succeeded"), "{}", mails[0]);
    assert!(mails[0].contains("pager@example.org"), "{}", mails[0]);
}

/// An operator's `umha-alert --flush`, with nothing in its environment,
/// mails what waits for the interval, using the settings the alert saved;
/// as root on hacluster's spool it acts as the spool's owner, so the
/// alert can still read what the flush wrote.
#[test]
fn an_operator_flush_needs_no_settings_and_keeps_the_spool_its_owners() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !available() {
        return;
    }
    let server = Server::start("starttls", true);
    let settings = server.settings(
        "starttls",
        &[("mail_batch_delay", "1s"), ("send_interval", "1h")],
    );
    let spool = std::path::PathBuf::from(&settings["mail_spool"]);
    let agent = |node: &str, desc: &str| {
        let status = Command::new(env!("CARGO_BIN_EXE_umha-alert"))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .envs(&settings)
            .env("CRM_alert_kind", "node")
            .env("CRM_alert_node", node)
            .env("CRM_alert_desc", desc)
            .status()
            .unwrap();
        assert!(status.success());
    };
    agent("cmp1", "lost");
    assert_eq!(server.wait_mails(1, Duration::from_secs(15)).len(), 1);
    // Within send_interval: held. The test holds the flusher's lock so the
    // one this event starts gives way instead of sleeping for an hour.
    let _flusher = alert::spool::try_flusher_lock(&spool).unwrap();
    agent("cmp2", "lost");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(server.mails().len(), 1, "sent before send_interval");

    let root = nix::unistd::geteuid().is_root();
    if root {
        // As hacluster owns umha-alert's spool; the server's directory
        // (CA, password) must be readable by that owner, as in the lab.
        std::fs::set_permissions(server.dir.path(), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let ok = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(&spool)
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let out = Command::new(env!("CARGO_BIN_EXE_umha-alert"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .arg("--flush")
        .arg("--spool")
        .arg(&spool)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mails = server.wait_mails(2, Duration::from_secs(5));
    assert_eq!(mails.len(), 2);
    assert!(mails[1].contains("cmp2: node is lost"), "{}", mails[1]);
    if root {
        let owner = std::fs::metadata(spool.join("last-sent")).unwrap().uid();
        assert_eq!(
            owner, 65534,
            "the flush left a file the spool's owner cannot read"
        );
    }
}

/// A file the settings name is unreadable (a typo, a wrong owner): the
/// alert fails loudly, yet the event waits in the spool and goes out with
/// the operator's `--flush` once the file is fixed.
#[test]
fn an_unreadable_password_file_keeps_the_event_for_after_the_fix() {
    if !available() {
        return;
    }
    let server = Server::start("starttls", true);
    let later = server.dir.path().join("later");
    let settings = server.settings(
        "starttls",
        &[("smtp_password_file", later.to_str().unwrap())],
    );
    let status = Command::new(env!("CARGO_BIN_EXE_umha-alert"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(&settings)
        .env("CRM_alert_kind", "fencing")
        .env("CRM_alert_node", "cmp3")
        .env("CRM_alert_rc", "1")
        .env(
            "CRM_alert_desc",
            "Operation reboot of cmp3 by ctl1: Timed Out",
        )
        .status()
        .unwrap();
    assert!(!status.success(), "a bad setting must fail the alert");
    std::fs::copy(server.dir.path().join("password"), &later).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_umha-alert"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .args(["--flush", "--spool", &settings["mail_spool"]])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mails = server.wait_mails(1, Duration::from_secs(5));
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("cmp3: fencing FAILED"), "{}", mails[0]);
}
