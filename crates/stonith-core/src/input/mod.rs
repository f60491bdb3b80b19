//! Raw option input, before typing: from stdin (Pacemaker) or argv (a person).
//!
//! fence-agents reads the command line when there are arguments and stdin
//! otherwise; both end up as an ordered list of (option, text) pairs here, so
//! that typing, defaults and validation happen once, in [`crate::options`].

pub mod cmdline;
pub mod stdin;

use zeroize::Zeroizing;

/// Where the options came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Stdin,
    CommandLine,
}

/// The text given for an option. Wiped from memory on drop: it may be a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawValue {
    /// A command-line flag given without a value (`-v`, `--lanplus`).
    Present,
    Text(Zeroizing<String>),
}

impl RawValue {
    pub fn text(value: impl Into<String>) -> Self {
        RawValue::Text(Zeroizing::new(value.into()))
    }
}

/// One `name=value` occurrence, already matched to an option of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The option's canonical (stdin) name.
    pub name: &'static str,
    pub value: RawValue,
}

/// Everything read, in order; later entries win.
#[derive(Debug, Clone)]
pub struct RawInput {
    pub source: Source,
    pub entries: Vec<Entry>,
    /// Things the operator should hear about once logging is up. Never contain values.
    pub warnings: Vec<String>,
}

impl RawInput {
    pub fn new(source: Source) -> Self {
        Self {
            source,
            entries: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// Make a name from the input safe to echo in a warning: printable, bounded.
pub(crate) fn printable(name: &str) -> String {
    let mut shown: String = name
        .chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if name.chars().count() > 64 {
        shown.push_str("...");
    }
    shown
}
