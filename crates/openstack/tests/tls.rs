//! TLS as administrators configure it: a private CA in `cacert`, the wrong
//! CA, the wrong name, and verification turned off by name. The server is
//! `openssl s_server` (Debian's CLI, only as a test peer); without it the
//! test prints SKIPPED and passes.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openstack::{CloudConfig, Compute, ComputeOptions, Error, Session, SessionOptions};
use umha_common::Deadline;

fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A CA and a server certificate for `localhost` (not 127.0.0.1) signed by it, and
/// another CA that signed nothing.
fn make_pki(dir: &Path) -> bool {
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let ca = |name: &str| {
        let (key, crt, subj) = (
            format!("{name}.key"),
            format!("{name}.pem"),
            format!("/CN=umha test {name}"),
        );
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &crt, "-days", "2", "-subj", &subj]);
        openssl(dir, &args)
    };
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=localhost",
    ]);
    ca("ca")
        && ca("otherca")
        && openssl(dir, &csr)
        && openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "srv.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "srv.pem",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ],
        )
}

/// `openssl s_server` on a free loopback port; killed on drop.
struct TlsServer {
    child: Child,
    port: u16,
}

impl TlsServer {
    fn start(dir: &Path) -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new("openssl")
            .args([
                "s_server", "-quiet", "-www", "-cert", "srv.pem", "-key", "srv.key",
            ])
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let server = Self { child, port };
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn attempt(host: &str, port: u16, extra: &str) -> Error {
    let yaml = format!(
        "clouds:\n  lab:\n    auth:\n      auth_url: https://{host}:{port}/v3\n      user_id: u\n      password: p\n{extra}"
    );
    let cloud = CloudConfig::parse_clouds_yaml("lab", &yaml, "test", None).unwrap();
    let options = SessionOptions {
        use_env_proxy: false,
        max_attempts: 1,
        ..SessionOptions::default()
    };
    let session = match Session::new(cloud, options) {
        Ok(s) => Arc::new(s),
        Err(e) => return e,
    };
    // s_server -www never answers our POST: a timeout means the handshake
    // (and so verification) passed; a refused certificate fails at once.
    Compute::connect(
        session,
        ComputeOptions::default(),
        Deadline::after(Duration::from_millis(1500)),
    )
    .unwrap_err()
}

#[test]
fn cacert_wrong_ca_wrong_name_and_insecure() {
    let dir = tempfile::tempdir().unwrap();
    if !make_pki(dir.path()) {
        println!("SKIPPED: the openssl CLI could not make test certificates");
        return;
    }
    let Some(server) = TlsServer::start(dir.path()) else {
        println!("SKIPPED: openssl s_server did not start");
        return;
    };
    let ca = dir.path().join("ca.pem").display().to_string();
    let other = dir.path().join("otherca.pem").display().to_string();

    // The right CA and name: the handshake passes.
    let e = attempt("localhost", server.port, &format!("    cacert: {ca}\n"));
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");

    // The right CA, but the certificate names localhost, not 127.0.0.1.
    let e = attempt("127.0.0.1", server.port, &format!("    cacert: {ca}\n"));
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("not valid for name"), "{e}");

    // Another CA, or the system store: refused as TLS, a configuration error.
    let e = attempt("localhost", server.port, &format!("    cacert: {other}\n"));
    assert!(
        matches!(e, Error::Tls { .. }) && e.is_configuration(),
        "{e:?}"
    );
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");
    let e = attempt("localhost", server.port, "");
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");

    // verify: false, by name: any certificate is accepted.
    let e = attempt("127.0.0.1", server.port, "    verify: false\n");
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
}
