//! TLS as administrators configure it: a private CA in `cacert`, the wrong
//! CA, the wrong name, and verification turned off by name. The server is
//! `openssl s_server` (Debian's CLI, only as a test peer); without it the
//! test prints SKIPPED and passes.

#![allow(clippy::expect_used, clippy::unwrap_used)] // tests: a failed expectation is the report

use std::sync::Arc;
use std::time::Duration;

use openstack::testing::tls::TlsServer;
use openstack::{CloudConfig, Compute, ComputeOptions, Error, Session, SessionOptions};
use umha_common::Deadline;

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
    let Some(server) = TlsServer::with_new_pki(dir.path()) else {
        return;
    };
    let (ca, other) = (server.ca.clone(), server.other_ca.clone());

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
