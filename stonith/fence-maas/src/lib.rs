//! fence_maas: fences machines that Canonical MAAS manages, through the
//! MAAS 2.0 REST API, on stonith-core's runner.
//!
//! MAAS's power calls are asynchronous: `power_off` returns once MAAS has
//! accepted the request, not once the power is off. The MAAS plugins found
//! in the wild report success at that point; fence_maas instead asks MAAS to
//! query the BMC (`query_power_state`, never the cached `power_state`) until
//! it reads off, within `power_timeout`, as stonith-core's runner does for
//! every agent. `unknown` and `error` are never taken for off.
//!
//! - [`options`]: the option table (fence-agents' common names plus `url`,
//!   `api_key`, `api_key_script`, `ssl_ca_file`, `stop_mode`);
//! - [`config`]: options to a client configuration, checked without network;
//! - [`oauth`]: the API key and its OAuth 1.0 PLAINTEXT header;
//! - [`api`]: the MAAS calls, with capped and strictly parsed answers and
//!   bounded retries of transient failures;
//! - [`device`]: plug resolution and the power callbacks.
//!
//! The key is a [`umha_common::Secret`]: on stdin or from a script, never
//! on a command line, in a log line or in an error.

pub mod agent;
pub mod api;
pub mod config;
pub mod device;
pub mod oauth;
pub mod options;

pub use agent::FenceMaas;
