//! What can go wrong when reading cluster state or writing node attributes.
//!
//! Messages name the tool and what it said, never the document: the CIB holds
//! fence-device passwords, so no error (or log line) quotes CIB content.

use std::time::Duration;

use umha_common::ExecError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CibError {
    /// The Pacemaker tool is not installed or not on PATH.
    #[error("{tool}: not found (is Pacemaker's command-line tools package installed?)")]
    ToolMissing { tool: String },

    /// The tool ran but reported failure.
    #[error("{tool} failed with exit code {code}: {message}")]
    ToolFailed {
        tool: String,
        code: i32,
        message: String,
    },

    /// The tool did not answer within the deadline and was killed.
    #[error("{tool}: no answer within {after:.1?}, killed")]
    Timeout { tool: String, after: Duration },

    /// Starting or talking to the tool failed in some other way.
    #[error(transparent)]
    Exec(ExecError),

    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },

    /// The text is not well-formed XML (or uses a DTD, which is refused).
    #[error("{what} is not well-formed XML: {detail}")]
    Malformed { what: &'static str, detail: String },

    /// Well-formed XML, but not the document expected.
    #[error("unexpected {what}: {detail}")]
    Unexpected { what: &'static str, detail: String },

    /// A caller passed something the tools cannot take (an empty name, a NUL).
    #[error("invalid {what}: {detail}")]
    InvalidInput { what: &'static str, detail: String },
}

impl From<ExecError> for CibError {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::NotFound { program } => CibError::ToolMissing { tool: program },
            ExecError::TimedOut { program, after } => CibError::Timeout {
                tool: program,
                after,
            },
            other => CibError::Exec(other),
        }
    }
}

impl CibError {
    /// True when retrying later could help (a hung or failing daemon), false
    /// for problems that will not go away by themselves (missing tool, bad input).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            CibError::ToolFailed { .. } | CibError::Timeout { .. } | CibError::Exec(_)
        )
    }
}
