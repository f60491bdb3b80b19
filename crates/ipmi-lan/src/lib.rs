//! IPMI over LAN, client side: the subset a fence agent needs.
//!
//! - RMCP+ ("lanplus", IPMI 2.0) with cipher suites 3 and 17 (and 1, 2, 15,
//!   16), chosen explicitly or automatically; IPMI 1.5 sessions with MD5 or
//!   straight-password authentication.
//! - Get Chassis Status, Chassis Control, Set Session Privilege Level, Close
//!   Session; any other command through [`Session::request`].
//! - One deadline bounds everything; retransmissions are adaptive and use
//!   fresh sequence numbers; an ICMP port-unreachable is reported at once.
//!
//! Every decoder takes `&[u8]` and returns a typed error for any input (see
//! [`packet::decode`], [`message::Response::decode`], [`rakp`], [`command`]),
//! so they can be fuzzed directly. The test BMC (`ipmi-testbmc`) builds the
//! server side from the same codec.
//!
//! Cost: a status query with an explicit cipher suite is five exchanges
//! (Open Session, RAKP 1, RAKP 3, Get Chassis Status, Close Session); a
//! power action adds Set Session Privilege Level and Chassis Control. The
//! automatic suite choice adds Get Channel Cipher Suites (one exchange per 16
//! bytes of suite records: 1 for a BMC offering 3 and 17, 5 for ipmi_sim).
//!
//! Tests: `tests/interop_ipmi_sim.rs` starts its own `ipmi_sim` instances
//! (ports 9101+); `tests/against_testbmc.rs` covers suite 17 and the fault
//! modes; `tests/known_answers.rs` checks the key exchange against captures
//! of ipmitool made by `tests/fixtures/capture.sh`. Tests that need
//! `ipmi_sim` or `ipmitool` print `SKIPPED:` and pass when they are missing.
//!
//! ```no_run
//! use ipmi_lan::{ChassisControl, Config, Session};
//! use umha_common::{Deadline, Secret};
//! use std::time::Duration;
//!
//! let config = Config::new("bmc1.example", "admin", Secret::new("pw"));
//! let mut s = Session::open(&config, Deadline::after(Duration::from_secs(20)))?;
//! if s.chassis_status()?.power_on {
//!     s.chassis_control(ChassisControl::PowerOff)?;
//! }
//! s.close()?;
//! # Ok::<(), ipmi_lan::IpmiError>(())
//! ```

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

pub mod command;
pub mod config;
pub mod crypto;
pub mod error;
pub mod message;
pub mod packet;
pub mod rakp;
pub mod session;
pub mod transport;
pub mod wire;

pub use command::{ChassisControl, ChassisStatus, Privilege};
pub use config::{Config, DEFAULT_PORT, Timing};
pub use crypto::AuthType;
pub use error::{AuthFailure, CompletionCode, DecodeError, ErrorClass, IpmiError, RakpStatus};
pub use session::Session;
pub use transport::Stats;
