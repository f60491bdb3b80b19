//! Shared plumbing for umha's OCF and fence agents.
//!
//! Both agent families run as short-lived children of Pacemaker, log through the
//! same HA conventions, shell out to Pacemaker's CLI tools and handle secrets.
//! Keeping that here means `agent-core` and `stonith-core` differ only where the
//! OCF and fence-agents contracts really differ.

pub mod deadline;
pub mod exec;
pub mod log;
pub mod panic;
pub mod percent;
pub mod secret;

pub use deadline::Deadline;
pub use exec::{Command, ExecError, Output};
pub use log::{Level, Logger};
pub use secret::Secret;
