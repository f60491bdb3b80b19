//! Delivery against a real SMTP server on loopback: Debian's aiosmtpd
//! (tests/lab/smtp/server.py), with STARTTLS or TLS, AUTH, and a CA and
//! server certificate made per run with openssl. Skipped, saying so, where
//! python3-aiosmtpd is missing (tests/lab/install.sh installs it).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alert::outbox::Sender;
use alert::smtp::Smtp;
use alert::{Event, Flushed, MailConfig, Outbox, Severity};

const PYTHON: &str = "/usr/bin/python3";

fn available() -> bool {
    let ok = Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        && Command::new("openssl")
            .arg("version")
            .stdout(Stdio::null())
            .status()
            .is_ok();
    if !ok {
        eprintln!(
            "SKIPPED: needs python3-aiosmtpd and openssl (tests/lab/install.sh installs them)"
        );
    }
    ok
}

fn sh(args: &[&str], dir: &Path) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a server certificate for 127.0.0.1 signed by it.
fn certificates(dir: &Path) {
    sh(
        &[
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=umha test CA",
        ],
        dir,
    );
    sh(
        &[
            "openssl",
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
        dir,
    );
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    sh(
        &[
            "openssl",
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext",
        ],
        dir,
    );
}

struct Server {
    child: Child,
    port: u16,
    maildir: PathBuf,
    dir: tempfile::TempDir,
}

impl Server {
    fn start(mode: &str, auth: bool) -> Server {
        let dir = tempfile::tempdir().unwrap();
        certificates(dir.path());
        std::fs::write(dir.path().join("password"), "right-password\n").unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let maildir = dir.path().join("mail");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/lab/smtp/server.py");
        let mut cmd = Command::new(PYTHON);
        cmd.arg(script)
            .args(["--port", &port.to_string(), "--mode", mode])
            .arg("--maildir")
            .arg(&maildir)
            .arg("--cert")
            .arg(dir.path().join("server.pem"))
            .arg("--key")
            .arg(dir.path().join("server.key"))
            .stdout(Stdio::piped());
        if auth {
            cmd.args(["--user", "umha"])
                .arg("--password-file")
                .arg(dir.path().join("password"));
        }
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        Server {
            child,
            port,
            maildir,
            dir,
        }
    }

    fn mails(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.maildir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        names.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        names.sort();
        names
            .iter()
            .map(|p| unfold(&std::fs::read_to_string(p).unwrap()))
            .collect()
    }

    fn wait_mails(&self, n: usize, bound: Duration) -> Vec<String> {
        let start = Instant::now();
        loop {
            let mails = self.mails();
            if mails.len() >= n || start.elapsed() > bound {
                return mails;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn settings(&self, tls: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut m: BTreeMap<String, String> = [
            ("mail_to", "ops@example.org, oncall@example.org".to_owned()),
            ("mail_from", "umha@lab.example.org".to_owned()),
            ("smtp_server", format!("127.0.0.1:{}", self.port)),
            ("smtp_tls", tls.to_owned()),
            (
                "smtp_ca_file",
                self.dir.path().join("ca.pem").display().to_string(),
            ),
            (
                "mail_spool",
                self.dir.path().join("spool").display().to_string(),
            ),
            ("smtp_user", "umha".to_owned()),
            (
                "smtp_password_file",
                self.dir.path().join("password").display().to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, v) in extra {
            m.insert((*k).to_owned(), (*v).to_owned());
        }
        m
    }

    fn config(&self, tls: &str, extra: &[(&str, &str)]) -> MailConfig {
        let m = self.settings(tls, extra);
        MailConfig::from_lookup(|k| m.get(k).cloned())
            .unwrap()
            .unwrap()
    }
}

/// The text of a mail, quoted-printable soft line breaks and `=3D` undone
/// (lettre picks quoted-printable for long lines).
fn unfold(mail: &str) -> String {
    mail.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

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
