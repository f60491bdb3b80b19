//! Delivery: lettre's SMTP client over rustls (ring), with the system's CA
//! bundle plus `smtp_ca_file` as roots. Verification is on unless the
//! administrator set `smtp_tls_verify=false`.

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

use crate::AlertError;
use crate::config::{MailConfig, SMTP_TIMEOUT, TlsMode};
use crate::outbox::Sender;

/// Debian's bundle (ca-certificates); a missing one leaves only smtp_ca_file.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

#[derive(Debug, Default, Clone, Copy)]
pub struct Smtp;

fn send_error(config: &MailConfig, detail: impl std::fmt::Display) -> AlertError {
    AlertError::Send {
        server: format!("{}:{}", config.server, config.port),
        detail: detail.to_string(),
    }
}

fn tls_parameters(config: &MailConfig) -> Result<TlsParameters, AlertError> {
    let mut builder = TlsParameters::builder(config.server.clone())
        .certificate_store(CertificateStore::None)
        .dangerous_accept_invalid_certs(!config.verify);
    let mut files = vec![std::path::PathBuf::from(SYSTEM_BUNDLE)];
    files.extend(config.ca_file.clone());
    for file in files {
        let Ok(pem) = std::fs::read(&file) else {
            continue;
        };
        match Certificate::from_pem(&pem) {
            Ok(cert) => builder = builder.add_root_certificate(cert),
            Err(e) => log::warn!("CA bundle {}: {e}", file.display()),
        }
    }
    builder.build_rustls().map_err(|e| send_error(config, e))
}

impl Sender for Smtp {
    fn send(&self, config: &MailConfig, subject: &str, body: &str) -> Result<(), AlertError> {
        let bad =
            |what: &str, e: &dyn std::fmt::Display| AlertError::Config(format!("{what}: {e}"));
        let from: Mailbox = config.from.parse().map_err(|e| bad("mail_from", &e))?;
        let mut message = Message::builder().from(from).subject(subject);
        for to in &config.to {
            message = message.to(to.parse().map_err(|e| bad("mail_to", &e))?);
        }
        let message = message
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| bad("mail", &e))?;
        let tls = match config.tls {
            TlsMode::None => Tls::None,
            TlsMode::StartTls => Tls::Required(tls_parameters(config)?),
            TlsMode::Tls => Tls::Wrapper(tls_parameters(config)?),
        };
        let mut transport = SmtpTransport::builder_dangerous(config.server.as_str())
            .port(config.port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT));
        if let (Some(user), Some(password)) = (&config.user, config.password()?) {
            transport = transport.credentials(Credentials::new(user.clone(), password));
        }
        transport
            .build()
            .send(&message)
            .map(|_| ())
            .map_err(|e| send_error(config, e))
    }
}
