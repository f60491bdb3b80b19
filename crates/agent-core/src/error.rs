//! Failures with an OCF exit code and a reason an administrator can act on.
//!
//! The reason travels to `crm_mon` through the `ocf-exit-reason:` line on
//! stderr, so it must be one short line that says what is wrong and, where it
//! can, what to change. It must never contain a secret: build reasons from
//! names and non-secret values only (secrets live in [`umha_common::Secret`],
//! which prints as asterisks).

use crate::OcfStatus;

/// Pacemaker keeps only a short exit reason; the full text is in the log.
pub const EXIT_REASON_MAX_CHARS: usize = 128;

/// An action failed: the exit code to return and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct OcfError {
    status: OcfStatus,
    reason: String,
}

/// What every agent callback returns.
pub type OcfResult<T> = Result<T, OcfError>;

impl OcfError {
    pub fn new(status: OcfStatus, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
        }
    }

    /// OCF_ERR_GENERIC: Pacemaker restarts or moves the resource.
    pub fn generic(reason: impl Into<String>) -> Self {
        Self::new(OcfStatus::ErrGeneric, reason)
    }

    /// OCF_ERR_ARGS: this node's environment is wrong; the resource is banned here.
    pub fn args(reason: impl Into<String>) -> Self {
        Self::new(OcfStatus::ErrArgs, reason)
    }

    /// OCF_ERR_UNIMPLEMENTED.
    pub fn unimplemented(reason: impl Into<String>) -> Self {
        Self::new(OcfStatus::ErrUnimplemented, reason)
    }

    /// OCF_ERR_PERM: banned from this node.
    pub fn perm(reason: impl Into<String>) -> Self {
        Self::new(OcfStatus::ErrPerm, reason)
    }

    /// OCF_ERR_INSTALLED: a tool or file is missing here; banned from this node.
    pub fn not_installed(reason: impl Into<String>) -> Self {
        Self::new(OcfStatus::ErrInstalled, reason)
    }

    /// OCF_ERR_CONFIGURED: the parameters are wrong; stopped on every node.
    pub fn configured(reason: impl Into<String>) -> Self {
        Self::new(OcfStatus::ErrConfigured, reason)
    }

    /// OCF_NOT_RUNNING, for a monitor that finds the resource stopped deep inside a helper.
    pub fn not_running(reason: impl Into<String>) -> Self {
        Self::new(OcfStatus::NotRunning, reason)
    }

    /// OCF_FAILED_PROMOTED.
    pub fn failed_promoted(reason: impl Into<String>) -> Self {
        Self::new(OcfStatus::FailedPromoted, reason)
    }

    pub fn status(&self) -> OcfStatus {
        self.status
    }

    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The same failure, its reason prefixed with where it happened.
    pub fn context(mut self, what: impl std::fmt::Display) -> Self {
        self.reason = format!("{what}: {}", self.reason);
        self
    }

    /// The same reason with another exit code.
    pub fn with_status(mut self, status: OcfStatus) -> Self {
        self.status = status;
        self
    }
}

/// A tool that could not be run or hung is a generic failure: retrying or
/// moving the resource may help, and nothing about it is a configuration error.
impl From<umha_common::ExecError> for OcfError {
    fn from(err: umha_common::ExecError) -> Self {
        match err {
            umha_common::ExecError::NotFound { .. } => OcfError::not_installed(err.to_string()),
            other => OcfError::generic(other.to_string()),
        }
    }
}

/// `text` as Pacemaker wants an exit reason: one line without control
/// characters, whitespace collapsed, at most [`EXIT_REASON_MAX_CHARS`].
pub fn exit_reason_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len().min(EXIT_REASON_MAX_CHARS + 4));
    for word in text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if line.chars().count() > EXIT_REASON_MAX_CHARS {
        line = line.chars().take(EXIT_REASON_MAX_CHARS - 3).collect();
        line.push_str("...");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn constructors_carry_their_code() {
        assert_eq!(OcfError::configured("x").status(), OcfStatus::ErrConfigured);
        assert_eq!(
            OcfError::not_installed("x").status(),
            OcfStatus::ErrInstalled
        );
        let e = OcfError::generic("no answer").context("crm_node");
        assert_eq!(e.reason(), "crm_node: no answer");
        assert_eq!(e.to_string(), "crm_node: no answer");
    }

    #[test]
    fn exit_reason_is_one_short_line() {
        assert_eq!(exit_reason_line(" a\nb\r\n\tc  d "), "a b c d");
        let long = "x".repeat(500);
        let line = exit_reason_line(&long);
        assert_eq!(line.chars().count(), EXIT_REASON_MAX_CHARS);
        assert!(line.ends_with("..."));
    }

    #[test]
    fn missing_tools_are_not_installed() {
        let err = umha_common::Command::new("/nonexistent/umha-tool")
            .run()
            .unwrap_err();
        assert_eq!(OcfError::from(err).status(), OcfStatus::ErrInstalled);
    }

    proptest! {
        #[test]
        fn exit_reason_never_spans_lines(text in any::<String>()) {
            let line = exit_reason_line(&text);
            prop_assert!(!line.chars().any(|c| c.is_control()));
            prop_assert!(line.chars().count() <= EXIT_REASON_MAX_CHARS);
        }
    }
}
