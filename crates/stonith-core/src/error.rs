//! Errors in what the operator or Pacemaker gave the agent.
//!
//! fence-agents exits 1 on every one of these (after "Please use '-h' for
//! usage"), and so does umha; the messages follow fence-agents' wording where
//! it has one, so an operator grepping a log finds the familiar text. No
//! message ever contains the value of a secret option.

/// A problem with the options; the agent exits 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error("Parse error: option {0} not recognized")]
    UnknownOption(String),
    #[error("Parse error: option {0} is ambiguous")]
    AmbiguousOption(String),
    #[error("Parse error: option {0} requires argument")]
    MissingArgument(String),
    #[error("Parse error: option {0} must not have an argument")]
    UnexpectedArgument(String),
    #[error("Parse error: command-line argument {0} is not valid UTF-8")]
    NotUtf8(usize),
    #[error("Failed: input on stdin is larger than {limit} bytes")]
    InputTooLarge { limit: usize },
    #[error("Failed: cannot read stdin: {0}")]
    Read(String),
    #[error("Failed: Unrecognised action '{0}'")]
    UnknownAction(String),
    #[error("Failed: The value you have entered for {option} is not a valid {kind}")]
    InvalidValue { option: String, kind: &'static str },
    #[error(
        "Failed: You have to enter a valid choice for {option} from the valid values: {choices}"
    )]
    InvalidChoice { option: String, choices: String },
    #[error("Failed: You have to enter fence address")]
    MissingAddress,
    #[error("Failed: You have to enter plug number or machine identification")]
    MissingPlug,
    #[error("Failed: You have to set {0}")]
    MissingRequired(String),
    #[error("Failed: You have to enter {0}")]
    MissingOneOf(String),
    #[error("Failed: {0}")]
    Agent(String),
}
