//! umha's alerts by mail, shared by the evacuator and the Pacemaker alert
//! agent `umha-alert`.
//!
//! - [`config`]: the mail settings (one set of names for the evacuator's
//!   OCF parameters and the alert's instance attributes) and their checks;
//! - [`spool`]: events kept on disk until a mail server accepted them;
//! - [`outbox`]: UMHA's rate limit (`send_interval`): events within the
//!   interval go out together in one mail, never dropped;
//! - [`smtp`]: delivery over SMTP with STARTTLS or TLS (rustls);
//! - [`pacemaker`]: what Pacemaker hands an alert agent, as an event.

pub mod agent;
pub mod config;
pub mod outbox;
pub mod pacemaker;
pub mod params;
pub mod smtp;
pub mod spool;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{MailConfig, TlsMode};
pub use outbox::{Flushed, Outbox};
pub use spool::{Event, Severity};

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum AlertError {
    /// A setting is wrong; the message names it (never a secret's value).
    #[error("mail settings: {0}")]
    Config(String),
    #[error("mail spool {path}: {source}")]
    Spool {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The mail server refused or could not be reached; the events stay
    /// in the spool for the next attempt.
    #[error("sending mail through {server}: {detail}")]
    Send { server: String, detail: String },
}

impl AlertError {
    pub(crate) fn spool(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Spool {
            path: path.into(),
            source,
        }
    }
}
