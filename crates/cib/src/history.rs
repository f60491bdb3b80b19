//! What a resource's operation history (`lrm_rsc_op` entries) says about it.
//!
//! A remote node is online exactly when Pacemaker believes its connection
//! resource is started, and that belief comes from replaying the connection's
//! operation history on the cluster nodes. This module is a reduced port of
//! the scheduler's replay (`unpack_lrm_resource`, `unpack_rsc_op`,
//! `remap_operation`, `update_resource_state` and `process_rsc_state` in
//! Pacemaker 2.1's `lib/pengine/unpack.c`), enough for node state:
//!
//! * ops are replayed in call-id order (then `last-rc-change`), pending last;
//! * a result is judged against the expected result in `transition-key`;
//! * a failure picks Pacemaker's default `on-fail` (a remote connection's
//!   monitor or stop failure means "fence the remote node");
//! * a later success clears earlier failures as Pacemaker does.
//!
//! Not modelled, and why it is acceptable here:
//! * failure expiry (`failure-timeout`, and `reconnect_interval` on remote
//!   connections) needs the current time and fail counts; an expired failure
//!   still counts here, which errs towards "failed/not online";
//! * explicit `on-fail` settings on operations, and `migrate_to`'s partial
//!   migration states (a `migrate_to` success leaves the role unchanged; the
//!   source's later stop ends it);
//! * bundles, whose containers and connections are implicit.

use roxmltree::Node;

use crate::xml;

/// Pacemaker's resource roles, in its order (`enum rsc_role_e`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Role {
    #[default]
    Unknown,
    Stopped,
    Started,
    Unpromoted,
    Promoted,
}

impl Role {
    pub fn is_active(self) -> bool {
        self > Role::Stopped
    }
}

/// Failure handling, ordered by severity as Pacemaker compares it. Only the
/// values Pacemaker's defaults can produce are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum OnFail {
    Ignore,
    Demote,
    Recover,
    ResetRemote,
    RestartContainer,
    // (migrate sits here in Pacemaker's order)
    Block,
    Stop,
    // (standby sits here)
    Fence,
}

// Executor statuses (`enum pcmk_exec_status`).
const EXEC_PENDING: i64 = -1;
const EXEC_DONE: i64 = 0;
const EXEC_CANCELLED: i64 = 1;
const EXEC_ERROR: i64 = 4;
const EXEC_ERROR_HARD: i64 = 5;
const EXEC_ERROR_FATAL: i64 = 6;
const EXEC_NOT_INSTALLED: i64 = 7;
const EXEC_MAX: i64 = 11;

// OCF results.
const OCF_OK: i64 = 0;
const OCF_INVALID_PARAM: i64 = 2;
const OCF_UNIMPLEMENTED: i64 = 3;
const OCF_INSUFFICIENT_PRIV: i64 = 4;
const OCF_NOT_INSTALLED: i64 = 5;
const OCF_NOT_CONFIGURED: i64 = 6;
const OCF_NOT_RUNNING: i64 = 7;
const OCF_RUNNING_PROMOTED: i64 = 8;
const OCF_FAILED_PROMOTED: i64 = 9;
const OCF_DEGRADED: i64 = 190;
const OCF_DEGRADED_PROMOTED: i64 = 191;

/// One `lrm_rsc_op`, reduced to what the replay reads.
#[derive(Debug, Clone)]
struct Op<'a> {
    task: &'a str,
    key: &'a str,
    call_id: i64,
    last_rc_change: i64,
    rc: i64,
    status: i64,
    interval_ms: i64,
    target_rc: i64,
}

impl<'a> Op<'a> {
    fn read(node: Node<'a, '_>) -> Option<Self> {
        let task = node.attribute("operation")?;
        // Pacemaker skips entries whose status is missing or out of range.
        let status = node.attribute("op-status").and_then(xml::leading_int)?;
        if !(EXEC_PENDING..=EXEC_MAX).contains(&status) {
            return None;
        }
        Some(Op {
            task,
            key: node
                .attribute("operation_key")
                .or_else(|| node.attribute("id"))
                .unwrap_or(""),
            call_id: xml::int_attr(node, "call-id", -1),
            last_rc_change: xml::int_attr(node, "last-rc-change", -1),
            rc: xml::int_attr(node, "rc-code", 0),
            status,
            interval_ms: xml::int_attr(node, "interval", 0),
            target_rc: node
                .attribute("transition-key")
                .and_then(target_rc_from_key)
                .unwrap_or(-1),
        })
    }

    fn is_probe(&self) -> bool {
        self.task == "monitor" && self.interval_ms == 0
    }

    /// Probe results Pacemaker reads as "not running" (the agent or its
    /// configuration is missing on that node).
    fn is_maskable_probe_failure(&self) -> bool {
        self.is_probe()
            && (self.rc == OCF_NOT_INSTALLED
                || self.rc == OCF_INVALID_PARAM
                || self.status == EXEC_NOT_INSTALLED)
    }
}

/// The expected result: third field of `action:transition:target_rc:uuid`.
fn target_rc_from_key(key: &str) -> Option<i64> {
    let mut fields = key.split(':');
    let _action = fields.next()?;
    let _transition = fields.next()?;
    let rc = fields.next()?;
    fields.next()?; // the uuid must be there too
    let digits_only = !rc.is_empty() && rc.bytes().all(|b| b.is_ascii_digit());
    if digits_only { rc.parse().ok() } else { None }
}

/// What kind of resource the history belongs to; changes default failure handling.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context {
    pub remote_connection: bool,
    pub reconnect_interval_set: bool,
    pub managed: bool,
    pub stonith_enabled: bool,
    /// The resource is the container of a guest node.
    pub container: bool,
}

/// The replay's result for one resource on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub role: Role,
    pub on_fail: OnFail,
    /// Pacemaker's `pe_rsc_failed` as `process_rsc_state` sets it (before
    /// the "node is unclean, ignore" rule, which the caller applies).
    pub failed: bool,
    /// `last-rc-change` of the latest failed operation in the history,
    /// whether or not a later success cleared it.
    pub last_failure: Option<i64>,
}

/// Replay one `lrm_resource`. `None` when it has no usable operations
/// (Pacemaker then ignores the entry). `next_role` is the resource's planned
/// role, which (as in Pacemaker) carries over between the nodes' histories.
pub(crate) fn replay(
    lrm_resource: Node<'_, '_>,
    ctx: Context,
    next_role: &mut Role,
) -> Option<Outcome> {
    // Pacemaker prepends to a list, then sorts stably: ties keep reverse
    // document order.
    let mut ops: Vec<Op<'_>> = xml::children(lrm_resource, "lrm_rsc_op")
        .filter_map(Op::read)
        .collect();
    if ops.is_empty() {
        return None;
    }
    ops.reverse();
    ops.sort_by(|a, b| {
        let pending = |o: &Op<'_>| o.call_id < 0;
        pending(a)
            .cmp(&pending(b))
            .then(a.call_id.cmp(&b.call_id))
            .then(a.last_rc_change.cmp(&b.last_rc_change))
    });

    let mut role = Role::Unknown;
    let mut on_fail = OnFail::Ignore;
    let mut last_failure_key: Option<&str> = None;
    let mut last_failure: Option<i64> = None;

    for op in &ops {
        if op.task == "notify" || op.task == "meta-data" {
            continue;
        }
        let (rc, status) = remap(op, ctx, &mut role, &mut on_fail, next_role);
        if op.is_maskable_probe_failure() {
            role = Role::Stopped;
            continue;
        }
        match status {
            EXEC_CANCELLED => continue,
            EXEC_PENDING => {
                if op.task == "start" {
                    role = role.max(Role::Started);
                } else if op.task == "promote" {
                    role = Role::Promoted;
                }
                continue;
            }
            EXEC_DONE => {
                update_state(
                    op,
                    rc,
                    ctx,
                    last_failure_key,
                    &mut role,
                    &mut on_fail,
                    next_role,
                );
                continue;
            }
            _ => {}
        }
        // A failure.
        let action_on_fail = default_on_fail(op, ctx);
        last_failure_key = Some(op.key);
        if op.last_rc_change > 0 {
            last_failure = last_failure.max(Some(op.last_rc_change));
        }
        on_fail = on_fail.max(action_on_fail);
        // The role to recover to: stopped for a remote connection waiting
        // out its reconnect interval, or one Pacemaker may not manage.
        let stop_after = match action_on_fail {
            OnFail::ResetRemote => ctx.reconnect_interval_set,
            OnFail::Stop => true,
            _ => false,
        };
        if stop_after && *next_role < Role::Stopped {
            *next_role = Role::Stopped;
        }
        match op.task {
            "promote" => role = Role::Promoted,
            "demote" => {
                role = if rc == OCF_NOT_RUNNING {
                    Role::Stopped
                } else {
                    Role::Unpromoted
                }
            }
            _ => {}
        }
        if op.is_probe() && rc == OCF_NOT_INSTALLED {
            role = Role::Stopped;
        } else if role < Role::Started {
            role = Role::Started;
        }
    }

    let failed = match on_fail {
        OnFail::Ignore => false,
        OnFail::ResetRemote | OnFail::RestartContainer => true,
        _ => role.is_active(),
    };
    Some(Outcome {
        role,
        on_fail,
        failed,
        last_failure,
    })
}

/// Pacemaker's `remap_operation`: judge the result against the expectation.
fn remap(
    op: &Op<'_>,
    ctx: Context,
    role: &mut Role,
    on_fail: &mut OnFail,
    next_role: &mut Role,
) -> (i64, i64) {
    let mut rc = op.rc;
    let mut status = op.status;
    if op.task == "monitor" {
        rc = match rc {
            OCF_DEGRADED => OCF_OK,
            OCF_DEGRADED_PROMOTED => OCF_RUNNING_PROMOTED,
            other => other,
        };
    }
    if op.is_maskable_probe_failure() {
        rc = OCF_NOT_RUNNING;
        status = EXEC_DONE;
    }
    if status != EXEC_DONE && status != EXEC_ERROR {
        return (rc, status);
    }
    status = if op.target_rc < 0 || op.target_rc != rc {
        EXEC_ERROR
    } else {
        EXEC_DONE
    };
    let probe = op.is_probe();
    match rc {
        OCF_OK => {
            if probe && op.target_rc == OCF_NOT_RUNNING {
                status = EXEC_DONE;
            }
        }
        OCF_NOT_RUNNING => {
            if probe || op.target_rc == rc || !ctx.managed {
                status = EXEC_DONE;
                *role = Role::Stopped;
                *on_fail = OnFail::Ignore;
                *next_role = Role::Unknown;
            }
        }
        OCF_RUNNING_PROMOTED => {
            if probe && rc != op.target_rc {
                status = EXEC_DONE;
            }
            *role = Role::Promoted;
        }
        OCF_FAILED_PROMOTED | OCF_DEGRADED_PROMOTED => {
            *role = Role::Promoted;
            status = EXEC_ERROR;
        }
        OCF_NOT_CONFIGURED => status = EXEC_ERROR_FATAL,
        OCF_UNIMPLEMENTED | OCF_NOT_INSTALLED | OCF_INVALID_PARAM | OCF_INSUFFICIENT_PRIV => {
            status = EXEC_ERROR_HARD;
        }
        _ => {
            if status == EXEC_DONE {
                status = EXEC_ERROR;
            }
        }
    }
    (rc, status)
}

/// Pacemaker's `update_resource_state` for a successful operation.
fn update_state(
    op: &Op<'_>,
    rc: i64,
    ctx: Context,
    last_failure_key: Option<&str>,
    role: &mut Role,
    on_fail: &mut OnFail,
    next_role: &mut Role,
) {
    let mut clear = false;
    if rc == OCF_NOT_INSTALLED {
        *role = Role::Stopped;
    } else if rc == OCF_NOT_RUNNING {
        clear = true;
    } else {
        match op.task {
            "monitor" => {
                if last_failure_key == Some(op.key) {
                    clear = true;
                }
                if *role < Role::Started {
                    *role = Role::Started;
                }
            }
            "start" | "migrate_from" => {
                *role = Role::Started;
                clear = true;
            }
            "stop" => {
                *role = Role::Stopped;
                clear = true;
            }
            "promote" => {
                *role = Role::Promoted;
                clear = true;
            }
            "demote" => {
                if *on_fail == OnFail::Demote {
                    clear = true;
                }
                *role = Role::Unpromoted;
            }
            "migrate_to" => {}
            _ => {
                if *role < Role::Started {
                    *role = Role::Started;
                }
            }
        }
    }
    if clear {
        match *on_fail {
            OnFail::Stop | OnFail::Fence => {}
            OnFail::ResetRemote => {
                if !ctx.reconnect_interval_set {
                    *on_fail = OnFail::Ignore;
                    *next_role = Role::Unknown;
                }
            }
            _ => {
                *on_fail = OnFail::Ignore;
                *next_role = Role::Unknown;
            }
        }
    }
}

/// Pacemaker's default `on-fail` for a failed operation (`unpack_operation`),
/// assuming none is configured.
fn default_on_fail(op: &Op<'_>, ctx: Context) -> OnFail {
    if ctx.container {
        return OnFail::RestartContainer;
    }
    // A remote connection's failures fence the node, except probes and
    // starts (a failed start means no connection existed to lose).
    if ctx.remote_connection && !op.is_probe() && op.task != "start" {
        return if ctx.managed {
            OnFail::ResetRemote
        } else {
            OnFail::Stop
        };
    }
    if op.task == "stop" {
        return if ctx.stonith_enabled {
            OnFail::Fence
        } else {
            OnFail::Block
        };
    }
    OnFail::Recover
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONN: Context = Context {
        remote_connection: true,
        reconnect_interval_set: true,
        managed: true,
        stonith_enabled: true,
        container: false,
    };
    const PLAIN: Context = Context {
        remote_connection: false,
        reconnect_interval_set: false,
        managed: true,
        stonith_enabled: true,
        container: false,
    };

    fn op(
        id: &str,
        task: &str,
        call: i64,
        rc: i64,
        status: i64,
        interval: i64,
        change: i64,
    ) -> String {
        format!(
            r#"<lrm_rsc_op id="{id}" operation_key="r_{task}_{interval}" operation="{task}" transition-key="1:1:{target}:u" call-id="{call}" rc-code="{rc}" op-status="{status}" interval="{interval}" last-rc-change="{change}"/>"#,
            target = if task == "monitor" && interval == 0 {
                7
            } else {
                0
            }
        )
    }

    fn run(ops: &[String], ctx: Context) -> Option<Outcome> {
        let xml = format!(r#"<lrm_resource id="r">{}</lrm_resource>"#, ops.concat());
        let doc = xml::parse_document(&xml, "test").unwrap();
        replay(doc.root_element(), ctx, &mut Role::Unknown)
    }

    #[test]
    fn started_and_monitored_is_started() {
        let out = run(
            &[
                op("r_last_0", "start", 2, 0, 0, 0, 100),
                op("r_monitor_5000", "monitor", 3, 0, 0, 5000, 100),
            ],
            CONN,
        )
        .unwrap();
        assert_eq!(out.role, Role::Started);
        assert!(!out.failed);
    }

    #[test]
    fn lost_connection_then_stop_is_stopped_but_failed() {
        // The lab's fenced-off capture: monitor ok, same call failed later, stop.
        let out = run(
            &[
                op("r_last_0", "stop", 10, 0, 0, 0, 152),
                op("r_monitor_5000", "monitor", 3, 0, 0, 5000, 146),
                op("r_last_failure_0", "monitor", 3, 1, 4, 5000, 152),
            ],
            CONN,
        )
        .unwrap();
        assert_eq!(out.role, Role::Stopped);
        assert_eq!(out.on_fail, OnFail::ResetRemote);
        assert!(out.failed);
        assert_eq!(out.last_failure, Some(152));
    }

    #[test]
    fn without_reconnect_interval_a_stop_clears_the_failure() {
        let ctx = Context {
            reconnect_interval_set: false,
            ..CONN
        };
        let out = run(
            &[
                op("r_last_failure_0", "monitor", 3, 1, 4, 5000, 152),
                op("r_last_0", "stop", 10, 0, 0, 0, 152),
            ],
            ctx,
        )
        .unwrap();
        assert_eq!(out.role, Role::Stopped);
        assert!(!out.failed);
    }

    #[test]
    fn failed_monitor_leaves_connection_started_and_failed() {
        let out = run(
            &[
                op("r_last_0", "start", 2, 0, 0, 0, 100),
                op("r_last_failure_0", "monitor", 3, 1, 4, 5000, 152),
            ],
            CONN,
        )
        .unwrap();
        assert_eq!(out.role, Role::Started);
        assert!(out.failed);
    }

    #[test]
    fn failed_start_is_recover_not_reset() {
        let out = run(&[op("r_last_0", "start", 2, 1, 4, 0, 100)], CONN).unwrap();
        assert_eq!(out.on_fail, OnFail::Recover);
        assert_eq!(out.role, Role::Started);
        assert!(out.failed);
    }

    #[test]
    fn probe_not_running_is_stopped() {
        let out = run(&[op("r_last_0", "monitor", 1, 7, 0, 0, 100)], PLAIN).unwrap();
        assert_eq!(out.role, Role::Stopped);
        assert!(!out.failed);
    }

    #[test]
    fn probe_not_installed_is_masked() {
        let out = run(&[op("r_last_0", "monitor", 1, 5, 0, 0, 100)], PLAIN).unwrap();
        assert_eq!(out.role, Role::Stopped);
        assert!(!out.failed);
    }

    #[test]
    fn failed_stop_means_fence_when_stonith_is_on() {
        let out = run(
            &[
                op("r_start", "start", 1, 0, 0, 0, 100),
                op("r_last_0", "stop", 2, 1, 4, 0, 101),
            ],
            PLAIN,
        )
        .unwrap();
        assert_eq!(out.on_fail, OnFail::Fence);
        assert_eq!(out.role, Role::Started);
    }

    #[test]
    fn pending_start_counts_as_started() {
        let out = run(&[op("r_last_0", "start", -1, 193, -1, 0, 100)], PLAIN).unwrap();
        assert_eq!(out.role, Role::Started);
    }

    #[test]
    fn no_usable_ops_is_none() {
        assert_eq!(run(&[], PLAIN), None);
        let junk = r#"<lrm_rsc_op id="x" operation="start"/>"#.to_owned();
        assert_eq!(run(&[junk], PLAIN), None);
    }

    #[test]
    fn transition_key_target() {
        assert_eq!(target_rc_from_key("3:5:0:44924a33"), Some(0));
        assert_eq!(target_rc_from_key("3:5:7:u"), Some(7));
        assert_eq!(target_rc_from_key("3:5:x:u"), None);
        assert_eq!(target_rc_from_key("3:5:0"), None);
        assert_eq!(target_rc_from_key(""), None);
    }
}
