//! `umha`, the administrator's command line: what `crm_mon`, `crm_simulate`
//! and `crm_resource` are for Pacemaker, for umha's own state.
//!
//! - [`context`]: the cluster state a command works on (the live CIB or a
//!   captured one) and the evacuator's parameters found in it;
//! - [`status`]: `umha status`, one row per compute node;
//! - [`history`]: `umha history`, the evacuation history filtered;
//! - [`admin`]: `umha hold`, `umha release`, `umha host enable`;
//! - [`simulate`]: `umha simulate`, the evacuator's decision on a captured
//!   state, with no writes;
//! - [`nova`]: Nova's services for `status`, and `umha snapshot-nova`;
//! - [`render`]: text tables and XML, shared by the reports;
//! - [`cli`]: the arguments, and the completions and man page made from them.
//!
//! Everything below [`cli`] returns typed errors and takes its inputs as
//! values, so the reports are tested on captured states without a cluster.

pub mod admin;
pub mod cli;
pub mod context;
pub mod history;
pub mod nova;
pub mod render;
pub mod simulate;
pub mod status;
pub mod when;

pub use cli::main;

use thiserror::Error;

/// Why a command failed. Every variant names what it was about; none
/// carries document text or secrets.
#[derive(Debug, Error)]
pub enum CliError {
    #[error("{what}: {source}")]
    Cib {
        what: String,
        #[source]
        source: cib::CibError,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("the evacuator's parameters: {0}")]
    Config(String),
    #[error("OpenStack: {0}")]
    OpenStack(#[from] openstack::Error),
    #[error("refused: {0}")]
    Refused(String),
    /// Part of the work is done (`done`, printed on standard output) and the
    /// rest waits for something outside umha (`why`); running the command
    /// again continues.
    #[error("not finished: {why}")]
    NotFinished { done: Vec<String>, why: String },
}

impl CliError {
    pub fn cib(what: impl Into<String>, source: cib::CibError) -> Self {
        Self::Cib {
            what: what.into(),
            source,
        }
    }

    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}
