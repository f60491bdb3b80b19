//! TLS towards MAAS as administrators configure it: verified against the
//! system bundle or ssl_ca_file, and skipped only with ssl_insecure set by
//! name. The peer is `openssl s_server` from openstack's TLS test kit (it
//! answers every GET with an HTML page, so a request that passed the
//! handshake fails on the body instead); without openssl the test prints
//! SKIPPED and passes.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_no_key, key, run_stdin};
use openstack::testing::tls::TlsServer;

const REFUSED: &str = "cannot verify MAAS's TLS certificate";
const PASSED: &str = "not what the MAAS 2.0 API documents";

fn status(host: &str, port: u16, extra: &str) -> common::Run {
    let input = format!(
        "url=https://{host}:{port}/MAAS\napi_key={}\naction=status\nplug=cmp1\nshell_timeout=1\nlogin_timeout=1\n{extra}",
        key()
    );
    let r = run_stdin(&input, &[]);
    assert_eq!(r.code, 1, "{}", r.describe());
    assert_no_key(&r);
    r
}

#[test]
fn verification_is_skipped_only_with_ssl_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let Some(server) = TlsServer::with_new_pki(dir.path()) else {
        return;
    };
    let (ca, other) = (server.ca.clone(), server.other_ca.clone());
    let port = server.port;

    // The system bundle does not know the private CA: refused, at once.
    let r = status("localhost", port, "");
    assert!(r.stderr.contains(REFUSED), "{}", r.describe());
    assert!(r.stderr.contains("UnknownIssuer"), "{}", r.describe());

    // The right CA (also under fence_openstack's name cacert): the handshake passes.
    for option in ["ssl_ca_file", "cacert"] {
        let r = status("localhost", port, &format!("{option}={ca}\n"));
        assert!(r.stderr.contains(PASSED), "{option}: {}", r.describe());
    }

    // Another CA, or the right CA under a name the certificate lacks.
    let r = status("localhost", port, &format!("ssl_ca_file={other}\n"));
    assert!(r.stderr.contains(REFUSED), "{}", r.describe());
    let r = status("127.0.0.1", port, &format!("ssl_ca_file={ca}\n"));
    assert!(r.stderr.contains(REFUSED), "{}", r.describe());

    // Only ssl_insecure, by name, accepts any certificate, and says so.
    let r = status("127.0.0.1", port, "ssl_insecure=0\n");
    assert!(r.stderr.contains(REFUSED), "{}", r.describe());
    let r = status("127.0.0.1", port, "ssl_insecure=1\n");
    assert!(r.stderr.contains(PASSED), "{}", r.describe());
    assert!(
        r.stderr.contains("TLS certificate verification is OFF"),
        "{}",
        r.describe()
    );
}
