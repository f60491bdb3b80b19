//! Running Pacemaker's command-line tools with a deadline.
//!
//! The child inherits our environment on purpose: `CIB_file`, `CIB_shadow`
//! and the `CIB_user`/`CIB_port` family select which CIB the tools talk to,
//! exactly as they would for an administrator running the same command.

use std::time::Duration;

use umha_common::{Command, Deadline, Output};

use crate::CibError;
use crate::xml;

/// How long a query may take when the caller does not say. A healthy CIB
/// answers in milliseconds even at a thousand nodes; anything near this
/// means the CIB manager is stuck, and an agent must not hang with it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Run `program args...`, turning exec problems and non-zero exits into
/// [`CibError`]s. `Ok` carries the output of a successful run.
pub(crate) fn run(program: &str, args: &[&str], deadline: Deadline) -> Result<Output, CibError> {
    let output = run_unchecked(program, args, deadline)?;
    if output.success() {
        Ok(output)
    } else {
        Err(failed(program, &output))
    }
}

/// Like [`run`], but a non-zero exit is returned for the caller to judge
/// (for example "no such attribute").
pub(crate) fn run_unchecked(
    program: &str,
    args: &[&str],
    deadline: Deadline,
) -> Result<Output, CibError> {
    log::debug!("running {program} {}", args.join(" "));
    Ok(Command::new(program).args(args).deadline(deadline).run()?)
}

/// The error for a failed run. Tools run with `--output-as=xml` put their
/// complaint into `<status message=...><errors><error>` on stdout and print
/// nothing on stderr, so look there first.
pub(crate) fn failed(program: &str, output: &Output) -> CibError {
    let message = xml_status_message(&output.stdout)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| output.stderr_summary());
    CibError::ToolFailed {
        tool: program.to_owned(),
        code: output.code(),
        message: if message.is_empty() {
            "(no message)".to_owned()
        } else {
            message
        },
    }
}

/// `message` plus any `<error>` lines from a `<pacemaker-result>`'s status.
pub(crate) fn xml_status_message(stdout: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(stdout).ok()?;
    let doc = xml::parse_document(text, "tool output").ok()?;
    let status = xml::child(doc.root_element(), "status")?;
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = status.attribute("message") {
        parts.push(m.to_owned());
    }
    if let Some(errors) = xml::child(status, "errors") {
        for e in xml::children(errors, "error") {
            if let Some(t) = e.text() {
                parts.push(t.trim().to_owned());
            }
        }
    }
    let joined: String = parts.join(": ").chars().take(300).collect();
    Some(joined)
}

/// A tool's `<pacemaker-result><status code=.../>`: 0 is success.
pub(crate) fn xml_status_code(doc: &roxmltree::Document<'_>) -> Option<i64> {
    xml::child(doc.root_element(), "status").map(|s| xml::int_attr(s, "code", -1))
}

/// Whole seconds left, at least 1, for tools that take their own `--timeout`:
/// they then give up (with a message) just before we would kill them.
pub(crate) fn seconds_left(deadline: Deadline) -> u64 {
    deadline
        .remaining()
        .map_or(120, |left| left.as_secs().saturating_sub(1).max(1))
}

pub(crate) fn stdout_text(program: &str, output: Output) -> Result<String, CibError> {
    String::from_utf8(output.stdout).map_err(|_| CibError::Unexpected {
        what: "tool output",
        detail: format!("{program} printed something that is not UTF-8"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tool_is_tool_missing() {
        let err = run(
            "/nonexistent/cibadmin",
            &[],
            Deadline::after(DEFAULT_TIMEOUT),
        )
        .unwrap_err();
        assert!(matches!(err, CibError::ToolMissing { .. }), "{err}");
        assert!(!err.is_transient());
    }

    #[test]
    fn failure_carries_code_and_stderr() {
        let err = run(
            "sh",
            &["-c", "echo 'Could not connect to the CIB: Transport endpoint is not connected' >&2; exit 102"],
            Deadline::after(DEFAULT_TIMEOUT),
        )
        .unwrap_err();
        match &err {
            CibError::ToolFailed { code, message, .. } => {
                assert_eq!(*code, 102);
                assert!(message.contains("Could not connect"), "{message}");
            }
            other => panic!("{other}"),
        }
        assert!(err.is_transient());
    }

    #[test]
    fn failure_prefers_the_xml_status() {
        let script = r#"cat <<'X'
<pacemaker-result api-version="2.25" request="attrd_updater -Q -n x --output-as=xml">
  <status code="105" message="No such object">
    <errors><error>Could not query value of x: attribute does not exist</error></errors>
  </status>
</pacemaker-result>
X
exit 105"#;
        let err = run("sh", &["-c", script], Deadline::after(DEFAULT_TIMEOUT)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("attribute does not exist"), "{text}");
        assert!(text.contains("105"), "{text}");
    }

    #[test]
    fn hung_tool_times_out() {
        let err = run(
            "sleep",
            &["10"],
            Deadline::after(Duration::from_millis(100)),
        )
        .unwrap_err();
        assert!(matches!(err, CibError::Timeout { .. }), "{err}");
    }

    #[test]
    fn seconds_left_keeps_a_margin() {
        assert_eq!(seconds_left(Deadline::never()), 120);
        assert_eq!(seconds_left(Deadline::after(Duration::from_secs(30))), 28);
        assert_eq!(seconds_left(Deadline::after(Duration::ZERO)), 1);
    }
}
