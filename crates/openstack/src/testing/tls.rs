//! A private PKI and a TLS peer for TLS tests of umha's HTTP clients (the
//! evacuator's session, fence_maas): Debian's `openssl` CLI makes the
//! certificates and runs `s_server`, only as a test peer. Callers print
//! SKIPPED and pass when it is missing ([`make_pki`] false, or
//! [`TlsServer::start`] `None`).

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
pub fn make_pki(dir: &Path) -> bool {
    let ext = std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    );
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
    ext.is_ok()
        && ca("ca")
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
#[derive(Debug)]
pub struct TlsServer {
    child: Child,
    pub port: u16,
    /// The CA that signed the server's certificate (for `localhost`), and
    /// one that signed nothing, as paths a configuration takes.
    pub ca: String,
    pub other_ca: String,
}

impl TlsServer {
    /// [`make_pki`] in `dir`, then [`TlsServer::start`]; `None` after a
    /// `SKIPPED:` line when the openssl CLI cannot do either.
    pub fn with_new_pki(dir: &Path) -> Option<Self> {
        if !make_pki(dir) {
            println!("SKIPPED: the openssl CLI could not make test certificates");
            return None;
        }
        let server = Self::start(dir);
        if server.is_none() {
            println!("SKIPPED: openssl s_server did not start");
        }
        server
    }

    /// Serve `srv.pem`/`srv.key` of [`make_pki`]'s `dir` with `s_server -www`
    /// (an HTML page for any GET, nothing for a POST).
    pub fn start(dir: &Path) -> Option<Self> {
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
        let path = |name: &str| dir.join(name).display().to_string();
        let server = Self {
            child,
            port,
            ca: path("ca.pem"),
            other_ca: path("otherca.pem"),
        };
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
