//! A **simulator** of the MAAS 2.0 REST API, limited to what fence_maas
//! uses. No MAAS server can be installed in umha's test and lab
//! environments, so this follows MAAS's published API documentation (and
//! the facts in umha's reference notes), not a captured server:
//!
//! - OAuth 1.0 PLAINTEXT against one configured key
//!   (`consumer_key:token_key:token_secret`); a missing or wrong key is 401;
//! - `GET /MAAS/api/2.0/machines/` (with `hostname=` filters, every machine
//!   at once, as MAAS 2.0 does) and `GET machines/{system_id}/`;
//! - `POST machines/{system_id}/?op=power_off` (`stop_mode`) and
//!   `?op=power_on`, asynchronous: accepted at once, the power changes
//!   after a configurable delay, a later request supersedes a pending one;
//! - `GET machines/{system_id}/?op=query_power_state` with a configurable
//!   latency, answering `{"state": "on|off|unknown|error"}`;
//! - `GET users/?op=whoami`.
//!
//! `op` is taken from the query string or the form, as MAAS does, and also
//! as the documentation's `op-NAME` path segment.
//!
//! Faults for tests: per-machine forced `unknown`/`error`, and queued
//! faults for the next API requests (an HTTP status such as 503, silence,
//! hostile bodies). Tests drive them through [`Simulator`]; the binary
//! `umha-maas-sim` offers the same on a control interface under `/_sim/`
//! that answers this host only (loopback, or a connection from one of its
//! own addresses). With `--power-cmd` the power is not
//! simulated but delegated (`PROGRAM <hostname> on|off|status`), which is
//! how the Pacemaker lab wires it to its simulated BMCs.

pub mod http;
pub mod sim;

pub use sim::{
    API_PREFIX, CONTROL_PREFIX, Counters, Forced, Garbage, MachineSpec, SimConfig, SimError,
    Simulator,
};
