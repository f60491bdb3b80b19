//! Mail alerts in the real lab: `umha-alert` configured as a Pacemaker alert
//! (as `crm configure alert` makes it) mails a fencing, and the evacuator
//! mails the evacuation that follows, both to a real SMTP server on
//! loopback (Debian's aiosmtpd, STARTTLS + AUTH, a per-run CA).
//!
//! Needs the lab with umha-alert installed (tests/lab/install-agents.sh);
//! the evacuation mail needs the OpenStack lab joined (up.sh --with-openstack).

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use alert::testing::{Server, available};
use umha_lab_tests::{require_lab, run, run_ok, wait_healthy};

const ALERT_ID: &str = "umha-lab-mail";
const EVACUATOR: &str = "evacuator";

/// Pacemaker runs alert agents as hacluster: what it reads and writes must
/// be its own.
fn give_to_hacluster(path: &Path) {
    run_ok(
        "chown",
        &["-R", "hacluster:haclient", path.to_str().unwrap()],
    );
}

struct AlertGuard;

impl Drop for AlertGuard {
    fn drop(&mut self) {
        run(
            "cibadmin",
            &[
                "--delete",
                "--scope",
                "alerts",
                "--xml-text",
                &format!("<alert id=\"{ALERT_ID}\"/>"),
            ],
        );
    }
}

/// The evacuator's mail parameters, deleted on drop.
struct EvacuatorMail(Vec<&'static str>);

impl Drop for EvacuatorMail {
    fn drop(&mut self) {
        for name in &self.0 {
            run(
                "crm_resource",
                &["--resource", EVACUATOR, "--delete-parameter", name],
            );
        }
    }
}

fn evacuator_exists() -> bool {
    run("crm_resource", &["--resource", EVACUATOR, "--query-xml"])
        .status
        .success()
}

#[test]
#[ignore = "needs the lab: tests/lab/up.sh"]
fn a_fencing_and_its_evacuation_are_mailed() {
    let lab = require_lab();
    if !available() {
        panic!("the lab test needs python3-aiosmtpd and openssl (tests/lab/install.sh)");
    }
    assert!(
        Path::new("/usr/sbin/umha-alert").exists(),
        "/usr/sbin/umha-alert is missing: run tests/lab/install-agents.sh"
    );
    wait_healthy(&lab);
    let server = Server::start("starttls", true);
    // The server's directory holds the CA and the password file, read by
    // hacluster (the alert) and root (the evacuator).
    std::fs::set_permissions(server.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let alert_spool = server.dir.path().join("alert-spool");
    std::fs::create_dir(&alert_spool).unwrap();
    give_to_hacluster(&alert_spool);
    give_to_hacluster(&server.dir.path().join("password"));
    let mut settings = server.settings(
        "starttls",
        // The node-lost and fencing events of one fence come seconds apart:
        // gathered into one mail, as an operator would want them.
        &[("mail_batch_delay", "15s"), ("send_interval", "1h")],
    );
    settings.insert("mail_spool".into(), alert_spool.display().to_string());
    settings.insert("mail_to".into(), "ops@example.org".into());

    let nvpairs: String = settings
        .iter()
        .map(|(k, v)| format!("<nvpair id=\"{ALERT_ID}-{k}\" name=\"{k}\" value=\"{v}\"/>"))
        .collect();
    let _alert = AlertGuard;
    // The alerts section exists only once an alert was configured.
    let alert_xml = format!(
        "<alert id=\"{ALERT_ID}\" path=\"/usr/sbin/umha-alert\">\
         <instance_attributes id=\"{ALERT_ID}-ia\">{nvpairs}</instance_attributes>\
         <recipient id=\"{ALERT_ID}-to\" value=\"oncall@example.org\"/></alert>"
    );
    if run("cibadmin", &["--query", "--scope", "alerts"])
        .status
        .success()
    {
        run_ok(
            "cibadmin",
            &["--create", "--scope", "alerts", "--xml-text", &alert_xml],
        );
    } else {
        run_ok(
            "cibadmin",
            &[
                "--create",
                "--scope",
                "configuration",
                "--xml-text",
                &format!("<alerts>{alert_xml}</alerts>"),
            ],
        );
    }

    // The evacuator, when the lab has one, mails through its own spool.
    let _evacuator_mail = evacuator_exists().then(|| {
        let spool = server.dir.path().join("evacuator-spool");
        for (k, v) in settings.iter().filter(|(k, _)| k.as_str() != "mail_spool") {
            run_ok(
                "crm_resource",
                &[
                    "--resource",
                    EVACUATOR,
                    "--set-parameter",
                    k,
                    "--parameter-value",
                    v,
                ],
            );
        }
        run_ok(
            "crm_resource",
            &[
                "--resource",
                EVACUATOR,
                "--set-parameter",
                "mail_spool",
                "--parameter-value",
                spool.to_str().unwrap(),
            ],
        );
        EvacuatorMail(
            [
                "mail_to",
                "mail_from",
                "smtp_server",
                "smtp_tls",
                "smtp_ca_file",
                "mail_spool",
                "smtp_user",
                "smtp_password_file",
                "mail_batch_delay",
                "send_interval",
            ]
            .to_vec(),
        )
    });
    // Let the parameter change restart the evacuator before the fence.
    std::thread::sleep(Duration::from_secs(5));

    println!("stonith_admin --reboot cmp1, with umha-alert configured");
    run_ok("stonith_admin", &["--reboot", "cmp1", "--timeout", "60"]);
    let mails = server.wait_mails(1, Duration::from_secs(60));
    assert_eq!(
        mails.len(),
        1,
        "the fence's events came as more than one mail: {mails:?}"
    );
    let fencing = mails
        .iter()
        .find(|m| m.contains("fencing succeeded"))
        .unwrap_or_else(|| panic!("no fencing mail; got {mails:?}"));
    assert!(fencing.contains("cmp1"), "{fencing}");
    assert!(
        fencing.contains("oncall@example.org"),
        "the recipient was not mailed: {fencing}"
    );

    if _evacuator_mail.is_some() {
        // fence_ipmi (evacuate=1) wrote the marker: the evacuator handles the
        // incident (cmp1 has no instances here) and mails it.
        let mails = server.wait_mails(2, Duration::from_secs(90));
        assert!(
            mails
                .iter()
                .any(|m| m.contains("umha-evacuator") && m.contains("cmp1")),
            "no evacuation mail from the evacuator; got {mails:?}"
        );
    } else {
        println!("no evacuator in this lab: only the fencing mail is checked");
    }
    wait_healthy(&lab);
}
