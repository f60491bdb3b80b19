//! A typed reader of Pacemaker cluster state, and node-attribute writers.
//!
//! * [`Cib`] parses `cibadmin --query` and derives each node's state the way
//!   Pacemaker's scheduler does. This is the primary, cheap path: a
//!   thousand-node CIB parses in tens of milliseconds, where `crm_mon` takes
//!   seconds of CPU.
//! * [`FenceHistory`] parses `stonith_admin --history '*' --verbose`, and
//!   answers the evacuator's safety question with
//!   [`FenceHistory::confirmed_fence_after`].
//! * [`CrmMon`] parses `crm_mon --output-as=xml`, for tools where its cost
//!   does not matter.
//! * [`attr`] sets, queries and deletes node attributes through
//!   `attrd_updater` and `crm_attribute`.
//! * [`request_fence`] hands a fence request to the fencer without waiting
//!   for the fence (`stonith_admin` left running in the background).
//!
//! # How node state is derived
//!
//! A cluster node's state comes from its `node_state` entry (`in_ccm`,
//! `crmd`, `join`, `expected`) and its `shutdown`/`terminate` attributes. A
//! remote node's comes from its connection resource: Pacemaker replays that
//! resource's operation history on the cluster nodes, and so does this crate.
//! A lost connection leaves the node [`NodeState::Unclean`] until it is
//! fenced (`node_fenced`), then [`NodeState::Offline`]. The rules are a
//! reduced port of Pacemaker 2.1's `unpack.c`, checked against `crm_mon` on
//! the lab's captures and on thousands of generated CIBs. A reader of the CIB
//! alone cannot see failure expiry (it needs the clock), rules, or what the
//! DC knows but has not written yet; [`Node::flags`] keeps Pacemaker's raw
//! flags and [`Node::status`] the raw facts for callers who need them.
//!
//! # Example: the evacuator's gate
//!
//! ```no_run
//! use cib::{Cib, FenceHistory, NodeState, UnixTime};
//!
//! # fn main() -> Result<(), cib::CibError> {
//! let cib = Cib::query()?;
//! let history = FenceHistory::query()?;
//! let failed_at = UnixTime::now(); // when this caller saw cmp1 fail
//! if let Some(node) = cib.node("cmp1") {
//!     let fenced = history.confirmed_fence_after(&node.name, failed_at);
//!     if node.state == NodeState::Offline && fenced.is_some() {
//!         // cmp1 was powered off after it failed: safe to evacuate.
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Every parser takes untrusted text: malformed or hostile XML yields a
//! [`CibError`], never a panic. The CIB contains fence-device passwords; this
//! crate never copies resource parameters other than a remote connection's
//! address, and never puts document text into errors or logs.

mod cib;
mod crm_mon;
mod error;
mod fence_request;
mod fencing;
mod history;
mod node;
mod time;
mod tool;
mod xml;

pub mod attr;

pub use cib::{Cib, CibVersion, Resource};
pub use crm_mon::{CrmMon, CrmMonNode};
pub use error::CibError;
pub use fence_request::{FenceRequested, fence_args, request_fence};
pub use fencing::{FenceAction, FenceEvent, FenceHistory, FenceStatus};
pub use history::Role;
pub use node::{Connection, Membership, Node, NodeFlags, NodeKind, NodeState, NodeStatus};
pub use time::UnixTime;
pub use tool::DEFAULT_TIMEOUT;
