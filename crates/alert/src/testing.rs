//! A real SMTP server for tests (feature `testing`): Debian's aiosmtpd
//! (tests/lab/smtp/server.py) on 127.0.0.1, STARTTLS or TLS, AUTH, with a
//! CA and a server certificate made per run by openssl. Used by this
//! crate's tests and the lab's.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::MailConfig;

const PYTHON: &str = "/usr/bin/python3";

pub fn available() -> bool {
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

#[derive(Debug)]
pub struct Server {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
    pub dir: tempfile::TempDir,
}

impl Server {
    pub fn start(mode: &str, auth: bool) -> Server {
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

    pub fn mails(&self) -> Vec<String> {
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

    pub fn wait_mails(&self, n: usize, bound: Duration) -> Vec<String> {
        let start = Instant::now();
        loop {
            let mails = self.mails();
            if mails.len() >= n || start.elapsed() > bound {
                return mails;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn settings(&self, tls: &str, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
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

    pub fn config(&self, tls: &str, extra: &[(&str, &str)]) -> MailConfig {
        let m = self.settings(tls, extra);
        MailConfig::from_lookup(|k| m.get(k).cloned())
            .unwrap()
            .unwrap()
    }
}

/// The text of a mail, quoted-printable soft line breaks and `=3D` undone
/// (lettre picks quoted-printable for long lines).
pub fn unfold(mail: &str) -> String {
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
