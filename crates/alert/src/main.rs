//! `umha-alert`: a Pacemaker alert agent (`crm configure alert umha-alert
//! /usr/sbin/umha-alert meta ... to admin@example.org`).
//!
//! Pacemaker runs it once per event with `CRM_alert_*` and the alert's
//! instance attributes (the mail settings of `umha_alert::config`) in the
//! environment. It spools the event and, when a mail is not due yet,
//! leaves one detached flusher to send it when it is.

use std::process::ExitCode;

fn main() -> ExitCode {
    alert::agent::main()
}
