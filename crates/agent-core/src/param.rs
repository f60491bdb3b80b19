//! Declaring an agent's parameters: one row of its table per parameter.
//!
//! The same row produces the meta-data entry, the help and man page text and
//! the validation of `OCF_RESKEY_<name>`, so what an administrator reads is
//! exactly what the agent enforces.

/// How a parameter's value is read.
///
/// The OCF 1.0 DTD knows only `string`, `integer` and `boolean`; durations and
/// lists are declared as `string` in meta-data and explained in their long
/// description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    Integer,
    /// 1/0, true/false, yes/no, on/off (see [`crate::value::parse_boolean`]).
    Boolean,
    /// `10s`, `500ms`, `2min`; a bare number is seconds.
    Duration,
    /// Items separated by commas or blanks.
    List,
}

impl ParamType {
    /// The `content type` written in meta-data.
    pub const fn dtd_type(self) -> &'static str {
        match self {
            ParamType::Integer => "integer",
            ParamType::Boolean => "boolean",
            ParamType::String | ParamType::Duration | ParamType::List => "string",
        }
    }

    /// The type as help and man pages name it.
    pub const fn name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Boolean => "boolean",
            ParamType::Duration => "duration",
            ParamType::List => "list",
        }
    }

    /// What a valid value looks like, for error messages and descriptions.
    pub const fn expected(self) -> &'static str {
        match self {
            ParamType::String => "a string",
            ParamType::Integer => "an integer",
            ParamType::Boolean => "a boolean (1/0, true/false, yes/no, on/off)",
            ParamType::Duration => {
                "a duration: a whole number with a unit, e.g. 10s, 500ms, 2min (no unit means seconds)"
            }
            ParamType::List => "a list of items separated by commas or blanks",
        }
    }
}

/// What an unset (or empty) parameter means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamDefault {
    /// Unset stays unset; the agent decides.
    None,
    /// This text is used as if the administrator had written it, and shown in meta-data.
    Value(&'static str),
    /// The agent computes the default at run time (e.g. a path under
    /// `HA_RSCTMP`); the text describes it in meta-data and the man page.
    Computed(&'static str),
}

/// One parameter of an agent.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamType,
    pub shortdesc: &'static str,
    /// Free text; blank lines separate paragraphs in the man page.
    pub longdesc: &'static str,
    pub default: ParamDefault,
    pub required: bool,
    /// No two resources may share the value (pcs and crmsh check it).
    pub unique: bool,
    /// A change is applied by `reload` instead of a restart.
    pub reloadable: bool,
    /// A password or key: its value never appears in messages.
    pub secret: bool,
    /// The only values accepted (strings), empty for any.
    pub choices: &'static [&'static str],
    /// Inclusive bounds (integers).
    pub range: Option<(i64, i64)>,
}

impl ParamSpec {
    pub const fn new(
        name: &'static str,
        kind: ParamType,
        shortdesc: &'static str,
        longdesc: &'static str,
    ) -> Self {
        Self {
            name,
            kind,
            shortdesc,
            longdesc,
            default: ParamDefault::None,
            required: false,
            unique: false,
            reloadable: false,
            secret: false,
            choices: &[],
            range: None,
        }
    }

    pub const fn string(
        name: &'static str,
        shortdesc: &'static str,
        longdesc: &'static str,
    ) -> Self {
        Self::new(name, ParamType::String, shortdesc, longdesc)
    }

    pub const fn integer(
        name: &'static str,
        shortdesc: &'static str,
        longdesc: &'static str,
    ) -> Self {
        Self::new(name, ParamType::Integer, shortdesc, longdesc)
    }

    pub const fn boolean(
        name: &'static str,
        shortdesc: &'static str,
        longdesc: &'static str,
    ) -> Self {
        Self::new(name, ParamType::Boolean, shortdesc, longdesc)
    }

    pub const fn duration(
        name: &'static str,
        shortdesc: &'static str,
        longdesc: &'static str,
    ) -> Self {
        Self::new(name, ParamType::Duration, shortdesc, longdesc)
    }

    pub const fn list(name: &'static str, shortdesc: &'static str, longdesc: &'static str) -> Self {
        Self::new(name, ParamType::List, shortdesc, longdesc)
    }

    pub const fn default(mut self, value: &'static str) -> Self {
        self.default = ParamDefault::Value(value);
        self
    }

    pub const fn computed_default(mut self, description: &'static str) -> Self {
        self.default = ParamDefault::Computed(description);
        self
    }

    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub const fn unique(mut self) -> Self {
        self.unique = true;
        self
    }

    pub const fn reloadable(mut self) -> Self {
        self.reloadable = true;
        self
    }

    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    pub const fn choices(mut self, choices: &'static [&'static str]) -> Self {
        self.choices = choices;
        self
    }

    pub const fn range(mut self, min: i64, max: i64) -> Self {
        self.range = Some((min, max));
        self
    }

    /// The literal default, if any.
    pub const fn default_value(&self) -> Option<&'static str> {
        match self.default {
            ParamDefault::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The default as meta-data and man pages show it.
    pub const fn default_text(&self) -> Option<&'static str> {
        match self.default {
            ParamDefault::Value(v) | ParamDefault::Computed(v) => Some(v),
            ParamDefault::None => None,
        }
    }

    /// A sentence on the accepted form of the value beyond the DTD type, for
    /// descriptions: `string`-typed durations and lists, choices, ranges.
    pub fn format_note(&self) -> Option<String> {
        let mut notes = Vec::new();
        if matches!(self.kind, ParamType::Duration | ParamType::List) {
            notes.push(format!("The value is {}.", self.kind.expected()));
        }
        if !self.choices.is_empty() {
            notes.push(format!("One of: {}.", self.choices.join(", ")));
        }
        if let Some((min, max)) = self.range {
            notes.push(format!("From {min} to {max}."));
        }
        (!notes.is_empty()).then(|| notes.join(" "))
    }

    /// Check one value (already known to be present) against this row.
    /// The message names the parameter and, unless it is secret, the value.
    pub fn check(&self, raw: &str) -> Result<(), String> {
        let shown = if self.secret {
            String::from("the given value")
        } else {
            format!("'{}'", raw.trim())
        };
        let bad = |what: String| Err(format!("parameter {}: {shown} is not {what}", self.name));
        match self.kind {
            ParamType::String | ParamType::List => {}
            ParamType::Integer => match crate::value::parse_integer(raw) {
                None => return bad(ParamType::Integer.expected().to_owned()),
                Some(n) => {
                    if let Some((min, max)) = self.range
                        && !(min..=max).contains(&n)
                    {
                        return bad(format!("between {min} and {max}"));
                    }
                }
            },
            ParamType::Boolean => {
                if crate::value::parse_boolean(raw).is_none() {
                    return bad(ParamType::Boolean.expected().to_owned());
                }
            }
            ParamType::Duration => {
                if crate::value::parse_duration(raw).is_none() {
                    return bad(ParamType::Duration.expected().to_owned());
                }
            }
        }
        if !self.choices.is_empty() && !self.choices.contains(&raw.trim()) {
            return bad(format!("one of {}", self.choices.join(", ")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORT: ParamSpec = ParamSpec::integer("port", "Port", "The port.")
        .default("623")
        .range(1, 65535);

    #[test]
    fn builders_are_const_and_compose() {
        assert_eq!(PORT.default_value(), Some("623"));
        assert_eq!(PORT.range, Some((1, 65535)));
        const { assert!(!PORT.required) };
        assert_eq!(PORT.kind.dtd_type(), "integer");
        assert_eq!(ParamType::Duration.dtd_type(), "string");
    }

    #[test]
    fn check_names_parameter_and_value() {
        assert!(PORT.check("80").is_ok());
        let msg = PORT.check("eighty").unwrap_err();
        assert_eq!(msg, "parameter port: 'eighty' is not an integer");
        let msg = PORT.check("0").unwrap_err();
        assert!(msg.contains("between 1 and 65535"), "{msg}");
        let mode = ParamSpec::string("mode", "", "").choices(&["a", "b"]);
        assert!(mode.check("a").is_ok());
        assert!(mode.check("c").unwrap_err().contains("one of a, b"));
    }

    #[test]
    fn secret_values_are_not_echoed() {
        let pw = ParamSpec::integer("pin", "", "").secret();
        let msg = pw.check("hunter2").unwrap_err();
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    #[test]
    fn format_notes_explain_string_typed_values() {
        let d = ParamSpec::duration("t", "", "");
        assert!(d.format_note().unwrap_or_default().contains("10s"));
        assert!(ParamSpec::string("s", "", "").format_note().is_none());
    }
}
