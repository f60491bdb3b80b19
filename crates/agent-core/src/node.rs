//! Which cluster node an action runs for.
//!
//! The node name keys per-node state and node attributes, so it must be the
//! name Pacemaker uses. `uname -n` is not it: on a cluster node whose
//! corosync name differs from the hostname, and on pacemaker-remote nodes in
//! their own UTS namespace, the two disagree. Pacemaker passes the name as
//! `OCF_RESKEY_CRM_meta_on_node`; when run by hand, `crm_node -n` asks the
//! cluster (and is proxied on remote nodes).

use std::time::Duration;

use umha_common::{Command, Deadline};

use crate::{OcfError, OcfResult};

/// How long `crm_node -n` may take before we give up on it.
pub const CRM_NODE_TIMEOUT: Duration = Duration::from_secs(5);

/// The node name from `on_node` (the meta attribute), else from `crm_node -n`.
pub fn node_name(on_node: Option<&str>, deadline: &Deadline) -> OcfResult<String> {
    resolve(on_node, "crm_node", deadline)
}

pub(crate) fn resolve(
    on_node: Option<&str>,
    crm_node: &str,
    deadline: &Deadline,
) -> OcfResult<String> {
    if let Some(name) = on_node.map(str::trim).filter(|n| !n.is_empty()) {
        return Ok(name.to_owned());
    }
    let fail = |why: String| {
        OcfError::generic(format!(
            "cannot tell which node this is: OCF_RESKEY_CRM_meta_on_node is not set and {why}"
        ))
    };
    let output = Command::new(crm_node)
        .arg("-n")
        .deadline(Deadline::after(deadline.clamp(CRM_NODE_TIMEOUT)))
        .max_output(64 * 1024)
        .run()
        .map_err(|e| fail(e.to_string()))?;
    if !output.success() {
        return Err(fail(format!(
            "{crm_node} -n failed with exit code {}: {}",
            output.code(),
            output.stderr_summary()
        )));
    }
    let text = output.stdout_lossy();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    match (lines.next(), lines.next()) {
        (Some(name), None) if !name.contains(char::is_whitespace) => Ok(name.to_owned()),
        _ => Err(fail(format!("{crm_node} -n gave no usable node name"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OcfStatus;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &tempfile::TempDir, body: &str) -> String {
        let path = dir.path().join("crm_node");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// Another test thread forking while the script was open for writing
    /// makes exec fail with ETXTBSY for a moment; that is the test's race, not
    /// the code's.
    fn resolve(on_node: Option<&str>, tool: &str, d: &Deadline) -> OcfResult<String> {
        let mut last = super::resolve(on_node, tool, d);
        for _ in 0..20 {
            match &last {
                Err(e) if e.reason().contains("busy") => {
                    std::thread::sleep(Duration::from_millis(20));
                    last = super::resolve(on_node, tool, d);
                }
                _ => break,
            }
        }
        last
    }

    #[test]
    fn on_node_wins_and_tools_are_not_run() {
        let d = Deadline::after(Duration::from_secs(5));
        let name = resolve(Some(" cmp1 "), "/nonexistent/crm_node", &d).unwrap();
        assert_eq!(name, "cmp1");
    }

    #[test]
    fn falls_back_to_crm_node() {
        let dir = tempfile::tempdir().unwrap();
        let tool = script(&dir, "[ \"$1\" = -n ] && echo ctl1");
        let d = Deadline::after(Duration::from_secs(5));
        assert_eq!(resolve(None, &tool, &d).unwrap(), "ctl1");
        assert_eq!(resolve(Some(""), &tool, &d).unwrap(), "ctl1");
    }

    #[test]
    fn errors_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let d = Deadline::after(Duration::from_secs(5));
        let failing = script(&dir, "echo 'not connected' >&2; exit 102");
        let err = resolve(None, &failing, &d).unwrap_err();
        assert_eq!(err.status(), OcfStatus::ErrGeneric);
        assert!(err.reason().contains("not connected"), "{}", err.reason());
        let missing = resolve(None, "/nonexistent/crm_node", &d).unwrap_err();
        assert!(missing.reason().contains("OCF_RESKEY_CRM_meta_on_node"));
        let dir2 = tempfile::tempdir().unwrap();
        let empty = script(&dir2, "exit 0");
        assert!(resolve(None, &empty, &d).is_err());
    }

    #[test]
    fn a_hung_crm_node_is_cut_off_by_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let hung = script(&dir, "sleep 30");
        let started = std::time::Instant::now();
        let d = Deadline::after(Duration::from_millis(300));
        assert!(resolve(None, &hung, &d).is_err());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
