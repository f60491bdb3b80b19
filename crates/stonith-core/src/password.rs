//! `password_script`: the password comes from a command instead of the CIB.
//!
//! As in fence-agents the option is a shell command line (fence-agents runs it
//! with `os.popen`). Unlike fence-agents, it is bounded by `login_timeout`
//! (and the overall deadline), it runs in its own process group that is
//! killed on timeout, a non-zero exit or empty output is an error instead of
//! an empty password, and only the first line of its output is used.
//!
//! Neither the command line (it may embed a secret, `echo pw`) nor its output
//! ever reaches a log line or an error message.

use std::time::Duration;

use umha_common::exec::{Command, ExecError};
use umha_common::{Deadline, Secret};

/// The most output a password script may print.
const MAX_OUTPUT: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("Failed: password_script could not be run: {0}")]
    Run(String),
    #[error("Failed: password_script timed out after {0:.1?}")]
    TimedOut(Duration),
    #[error("Failed: password_script exited with status {code}{detail}")]
    Exit { code: i32, detail: String },
    #[error("Failed: password_script printed no password")]
    Empty,
}

/// Run `script` with `/bin/sh -c` within `deadline` and return the first line
/// of its output as the password.
pub fn run_script(script: &str, deadline: Deadline) -> Result<Secret, PasswordError> {
    let output = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .deadline(deadline)
        .max_output(MAX_OUTPUT)
        .run()
        .map_err(|err| match err {
            ExecError::TimedOut { after, .. } => PasswordError::TimedOut(after),
            // The program here is /bin/sh, so these messages name no secret.
            other => PasswordError::Run(other.to_string()),
        })?;
    let stdout = zeroize::Zeroizing::new(output.stdout);
    if !output.status.success() {
        // The script's own complaint helps the operator; it is the script's
        // stderr, not its output, so it should not hold the password.
        let summary = output_summary(&output.stderr);
        let detail = if summary.is_empty() {
            String::new()
        } else {
            format!(": {summary}")
        };
        return Err(PasswordError::Exit {
            code: exit_code(&output.status),
            detail,
        });
    }
    let first_line = stdout.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let first_line = first_line.strip_suffix(b"\r").unwrap_or(first_line);
    if first_line.is_empty() {
        return Err(PasswordError::Empty);
    }
    Ok(Secret::new(
        String::from_utf8_lossy(first_line).into_owned(),
    ))
}

fn exit_code(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

fn output_summary(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    line.trim().chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soon() -> Deadline {
        Deadline::after(Duration::from_secs(5))
    }

    #[test]
    fn first_line_is_the_password() {
        let secret = run_script("printf 'hunter2\\nsecond line\\n'", soon()).unwrap();
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn trailing_carriage_return_is_dropped_but_spaces_kept() {
        let secret = run_script("printf ' pw \\r\\n'", soon()).unwrap();
        assert_eq!(secret.expose(), " pw ");
    }

    #[test]
    fn failures_never_show_the_script_or_its_output() {
        let err = run_script("echo hunter2; exit 3", soon()).unwrap_err();
        assert_eq!(
            err,
            PasswordError::Exit {
                code: 3,
                detail: String::new()
            }
        );
        assert!(!err.to_string().contains("hunter2"));
        let err = run_script("echo 'vault: denied' >&2; exit 1", soon()).unwrap_err();
        assert!(err.to_string().contains("vault: denied"), "{err}");
    }

    #[test]
    fn empty_output_is_an_error() {
        assert_eq!(run_script("true", soon()), Err(PasswordError::Empty));
    }

    #[test]
    fn a_hanging_script_is_killed() {
        let started = std::time::Instant::now();
        let err = run_script(
            "echo hunter2; sleep 30",
            Deadline::after(Duration::from_millis(200)),
        )
        .unwrap_err();
        assert!(matches!(err, PasswordError::TimedOut(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(!err.to_string().contains("hunter2"));
    }
}
