//! A blocking Keystone v3 + Nova client: just what compute-node HA needs.
//!
//! - [`clouds`]: credentials from `clouds.yaml` (+ `secure.yaml`) or `OS_*`.
//! - [`auth`]: the Keystone token and its catalog.
//! - [`session`]: TLS (rustls, no OpenSSL), token reuse and re-auth on 401,
//!   bounded timeouts from a [`Deadline`](umha_common::Deadline), bounded
//!   reads, retries only where repeating is harmless.
//! - [`microversion`]: negotiation from `GET /` (2.11 to 2.87 by default).
//! - [`compute`]: the Nova client; the concepts on it: [`service`] (force
//!   down, disable, enable), [`server`] (paged listing by host, evacuate,
//!   progress), [`migration`] (the exactly-once pre-check), [`hypervisor`],
//!   [`action`] (the instance-action journal).
//! - [`glance`]: image listing, for images flagged `evacuable`.
//! - [`placement`]: resource providers' inventories and usages, for the
//!   room left on a host, and what a flavor needs there.
//! - [`bulk`]: bounded parallelism on scoped threads.
//! - `testing` (feature `testing`): a stateful fake Keystone, Nova, Glance
//!   and Placement on 127.0.0.1, with fault injection, for component tests.
//!
//! Every decoder takes `&[u8]` and returns a typed error for any input; no
//! secret (password, application-credential secret, token) is ever in a
//! `Debug` output, a log line or an error message.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use openstack::{CloudConfig, Compute, ComputeOptions, EvacuateOptions, EvacuationStatus, Session, SessionOptions};
//! use umha_common::Deadline;
//!
//! let deadline = Deadline::after(Duration::from_secs(60));
//! let cloud = CloudConfig::load(Some("lab"), None)?;
//! let session = Arc::new(Session::new(cloud, SessionOptions::default())?);
//! let nova = Compute::connect(session, ComputeOptions::default(), deadline)?;
//! let svc = nova.compute_service("cmp1", deadline)?;
//! nova.force_down(&svc, deadline)?;
//! nova.disable(&svc, "umha: cmp1 fenced", deadline)?;
//! for server in nova.servers_on_host("cmp1", deadline)? {
//!     if nova.evacuation_status(&server, "cmp1", None, deadline)? == EvacuationStatus::NotEvacuated {
//!         nova.evacuate(&server.id, &EvacuateOptions::default(), deadline)?;
//!     }
//! }
//! # Ok::<(), openstack::Error>(())
//! ```

pub mod action;
pub mod auth;
pub mod bulk;
pub mod clouds;
pub mod compute;
pub mod error;
pub mod flavor;
pub mod glance;
pub mod hypervisor;
pub mod microversion;
pub mod migration;
pub mod placement;
pub mod server;
pub mod service;
pub mod session;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;

pub use action::InstanceAction;
pub use auth::{Catalog, Token};
pub use clouds::{CloudConfig, Credential, Interface};
pub use compute::{Compute, ComputeOptions, NovaId};
pub use error::{Error, Result};
pub use glance::{Glance, GlanceImage, GlanceOptions};
pub use hypervisor::Hypervisor;
pub use microversion::{Microversion, VersionRange};
pub use migration::{EvacuationStatus, Migration, MigrationQuery};
pub use placement::{Inventory, Placement, Resources, Room};
pub use server::{EvacuateOptions, Progress, Server};
pub use service::{Service, ServiceState, ServiceStatus};
pub use session::{Retry, Session, SessionOptions};
