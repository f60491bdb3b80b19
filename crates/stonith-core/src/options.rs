//! Option values, typed, with defaults applied and the checks fence-agents makes.
//!
//! Bad values do not stop the documentation actions (metadata, manpage,
//! `--help`, `--version`), as in fence-agents: they are kept as problems and
//! reported by [`Options::check`], which every other action passes first.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use umha_common::Secret;

use crate::action::Action;
use crate::agent::{AgentInfo, PlugMode};
use crate::error::UsageError;
use crate::input::{RawInput, RawValue, Source};
use crate::spec::{OptionSpec, OptionTable, Rule, ValueType};
use crate::timing::{Method, Timing};

/// A typed option value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Text(String),
    Secret(Secret),
    Bool(bool),
    Int(i64),
    Seconds(Duration),
    Choice(&'static str),
}

/// The longest `second` value accepted: a day. Anything longer is a typo, and
/// would only make the agent sleep past every Pacemaker timeout.
const MAX_SECONDS: f64 = 86_400.0;

/// All option values of one run.
#[derive(Debug, Clone)]
pub struct Options {
    table: OptionTable,
    plug_mode: PlugMode,
    source: Source,
    values: HashMap<&'static str, Value>,
    explicit: HashSet<&'static str>,
    /// Invalid values, by option; a later valid value for the same option clears it.
    problems: BTreeMap<&'static str, UsageError>,
    warnings: Vec<String>,
    verbose_count: u32,
}

impl Options {
    /// Type `input` against `table`, apply defaults and the fence-agents
    /// conventions (`option` → `action`, `port_as_ip`, `verbose` ↔ `verbose_level`).
    pub fn resolve(table: &OptionTable, plug_mode: PlugMode, input: RawInput) -> Self {
        let mut options = Self {
            table: table.clone(),
            plug_mode,
            source: input.source,
            values: HashMap::new(),
            explicit: HashSet::new(),
            problems: BTreeMap::new(),
            warnings: input.warnings,
            verbose_count: 0,
        };
        for entry in input.entries {
            let Some(spec) = table.get(entry.name) else {
                continue;
            };
            if spec.name == "verbose" && entry.value == RawValue::Present {
                options.verbose_count += 1;
            }
            match type_value(spec, &entry.value) {
                Typed::Value(value) => {
                    options.values.insert(spec.name, value);
                    options.explicit.insert(spec.name);
                    options.problems.remove(spec.name);
                }
                Typed::Ignored(warning) => options.warnings.push(warning),
                Typed::Invalid(problem) => {
                    options.problems.insert(spec.name, problem);
                }
            }
        }
        for spec in table.iter() {
            if options.values.contains_key(spec.name) || options.problems.contains_key(spec.name) {
                continue;
            }
            if let Some(default) = &spec.default {
                match type_value(spec, &RawValue::text(default.as_ref())) {
                    Typed::Value(value) => {
                        options.values.insert(spec.name, value);
                    }
                    Typed::Ignored(_) | Typed::Invalid(_) => {
                        options.problems.insert(
                            spec.name,
                            UsageError::Agent(format!("bad built-in default for {}", spec.name)),
                        );
                    }
                }
            }
        }
        options.apply_conventions();
        options
    }

    fn apply_conventions(&mut self) {
        // FenceAgentAPI's deprecated `option`: honoured, but `action` wins
        // whatever the order (pacemaker-fenced writes in hash order).
        if !self.explicit.contains("action")
            && let Some(Value::Text(text)) = self.values.get("option").cloned()
        {
            self.values.insert("action", Value::Text(text));
            self.explicit.insert("action");
            self.warnings
                .push("option 'option' is deprecated, use 'action'".to_owned());
        }
        if self.flag("port_as_ip")
            && let Some(Value::Text(plug)) = self.values.get("plug").cloned()
        {
            self.values.insert("ip", Value::Text(plug));
            self.explicit.insert("ip");
        }
        // As fence-agents: verbose_level defaults to the number of -v (command
        // line) or to 1 for verbose=1 (stdin); verbose_level=0 silences verbose.
        if !self.explicit.contains("verbose_level") {
            let level = match self.source {
                Source::CommandLine => i64::from(self.verbose_count),
                Source::Stdin => i64::from(self.flag("verbose")),
            };
            self.values.insert("verbose_level", Value::Int(level));
        }
        match self.integer("verbose_level") {
            Some(level) if level < 0 => {
                self.warnings.push(
                    "Parse error: Option 'verbose_level' must be an integer greater than or equal to 0. Setting verbose_level to 0.".to_owned(),
                );
                self.values.insert("verbose_level", Value::Int(0));
            }
            _ => {}
        }
        if self.integer("verbose_level") == Some(0) && self.flag("verbose") {
            self.warnings.push(
                "Parse error: Ignoring option 'verbose' because it conflicts with verbose_level=0"
                    .to_owned(),
            );
            self.values.insert("verbose", Value::Bool(false));
        }
    }

    /// Warnings gathered while reading and typing; log them once logging is up.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub fn source(&self) -> Source {
        self.source
    }

    pub fn table(&self) -> &OptionTable {
        &self.table
    }

    /// The action asked for (`reboot` when none was given, as fence-agents).
    pub fn action(&self) -> Result<Action, UsageError> {
        let text = self.string("action").unwrap_or("reboot");
        Action::parse(text).ok_or_else(|| UsageError::UnknownAction(text.trim().to_owned()))
    }

    /// Everything fence-agents checks before a device action, plus the
    /// agent's own checks done by the caller. Not needed for metadata,
    /// manpage, `--help` and `--version`.
    pub fn check(&self, action: Action, info: &AgentInfo) -> Result<(), UsageError> {
        if let Some(problem) = self.problems.values().next() {
            return Err(problem.clone());
        }
        if !action_available(action, info) {
            return Err(UsageError::UnknownAction(action.name().to_owned()));
        }
        if matches!(action, Action::Start | Action::Stop) {
            return Ok(());
        }
        if self.plug_mode == PlugMode::Multiple && action.needs_plug() && self.plugs().is_empty() {
            return Err(UsageError::MissingPlug);
        }
        if self.table.contains("ip") && self.string("ip").is_none_or(str::is_empty) {
            return Err(UsageError::MissingAddress);
        }
        for spec in self.table.iter() {
            if !spec.required || matches!(spec.name, "plug" | "ip" | "action") {
                continue;
            }
            if !self.values.contains_key(spec.name) {
                return Err(UsageError::MissingRequired(spec.name.to_owned()));
            }
        }
        for rule in self.table.rules() {
            match rule {
                Rule::OneOf(names) => {
                    if !names.iter().any(|n| self.explicit.contains(n)) {
                        return Err(UsageError::MissingOneOf(names.join(" or ")));
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether the option was given (not just defaulted).
    pub fn is_set(&self, name: &str) -> bool {
        self.explicit.contains(name)
    }

    /// A string option (given or default). `None` for secrets: use [`Options::secret`].
    pub fn string(&self, name: &str) -> Option<&str> {
        match self.values.get(name)? {
            Value::Text(text) => Some(text),
            Value::Choice(choice) => Some(choice),
            _ => None,
        }
    }

    /// A boolean option; false when absent.
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some(Value::Bool(true)))
    }

    pub fn integer(&self, name: &str) -> Option<i64> {
        match self.values.get(name)? {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn seconds(&self, name: &str) -> Option<Duration> {
        match self.values.get(name)? {
            Value::Seconds(d) => Some(*d),
            _ => None,
        }
    }

    /// A select option's value, spelled as in its list of choices.
    pub fn choice(&self, name: &str) -> Option<&'static str> {
        match self.values.get(name)? {
            Value::Choice(choice) => Some(choice),
            _ => None,
        }
    }

    pub fn secret(&self, name: &str) -> Option<&Secret> {
        match self.values.get(name)? {
            Value::Secret(secret) => Some(secret),
            _ => None,
        }
    }

    /// Every secret value, to register with the logger's redaction.
    pub fn secrets(&self) -> impl Iterator<Item = &Secret> {
        self.values.values().filter_map(|v| match v {
            Value::Secret(secret) => Some(secret),
            _ => None,
        })
    }

    /// Store a secret (the password read by `password_script`).
    pub fn set_secret(&mut self, name: &'static str, secret: Secret) {
        self.values.insert(name, Value::Secret(secret));
        self.explicit.insert(name);
    }

    // Common options, typed.

    /// The targets: on a multi-plug device, `plug` split at `plug_separator`
    /// (fence-agents fences several plugs at once this way, e.g. dual power
    /// supplies); empty on a single-target device.
    pub fn plugs(&self) -> Vec<String> {
        if self.plug_mode != PlugMode::Multiple {
            return Vec::new();
        }
        let Some(plug) = self.string("plug") else {
            return Vec::new();
        };
        let separator = self
            .string("plug_separator")
            .filter(|s| !s.is_empty())
            .unwrap_or(",");
        plug.split(separator)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The node Pacemaker fences (`nodename=`).
    pub fn nodename(&self) -> Option<&str> {
        self.string("nodename").filter(|n| !n.is_empty())
    }

    /// The attribute of the evacuation marker, when `evacuate` is set.
    pub fn evacuation_attribute(&self) -> Option<&str> {
        if !self.flag("evacuate") {
            return None;
        }
        Some(
            self.string("evacuate_attribute")
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .unwrap_or(crate::hook::EVACUATION_ATTRIBUTE),
        )
    }

    /// The name to tag log lines with: the plug, else the node name.
    pub fn instance(&self) -> Option<&str> {
        self.string("plug")
            .filter(|p| !p.is_empty())
            .or_else(|| self.nodename())
    }

    pub fn ip(&self) -> Option<&str> {
        self.string("ip").filter(|s| !s.is_empty())
    }

    pub fn ipport(&self) -> Option<u16> {
        self.integer("ipport").and_then(|p| u16::try_from(p).ok())
    }

    pub fn username(&self) -> Option<&str> {
        self.string("username")
    }

    /// The password, from `password` or `password_script`.
    pub fn password(&self) -> Option<&Secret> {
        self.secret("password")
    }

    pub fn password_script(&self) -> Option<&str> {
        self.string("password_script")
            .filter(|s| !s.trim().is_empty())
    }

    pub fn method(&self) -> Method {
        match self.choice("method") {
            Some("cycle") => Method::Cycle,
            _ => Method::OnOff,
        }
    }

    /// TLS as fence-agents reads `ssl`, `ssl_secure` and `ssl_insecure`:
    /// either of the last two implies the first, and insecure wins.
    pub fn tls(&self) -> Tls {
        if self.flag("ssl_insecure") {
            Tls::NoVerify
        } else if self.flag("ssl") || self.flag("ssl_secure") {
            Tls::Verify
        } else {
            Tls::Off
        }
    }

    /// The list separator (`separator`, fence-agents' `-C`).
    pub fn separator(&self) -> &str {
        self.string("separator").unwrap_or(",")
    }

    pub fn timing(&self) -> Timing {
        let defaults = Timing::default();
        let seconds = |name: &str, fallback: Duration| self.seconds(name).unwrap_or(fallback);
        Timing {
            delay: seconds("delay", defaults.delay),
            login_timeout: seconds("login_timeout", defaults.login_timeout),
            shell_timeout: seconds("shell_timeout", defaults.shell_timeout),
            power_wait: seconds("power_wait", defaults.power_wait),
            power_timeout: seconds("power_timeout", defaults.power_timeout),
            status_sleep: seconds("stonith_status_sleep", defaults.status_sleep),
            retry_on: self
                .integer("retry_on")
                .map(|n| u32::try_from(n.clamp(0, 100)).unwrap_or(0))
                .unwrap_or(defaults.retry_on),
        }
    }

    pub fn verbose(&self) -> bool {
        self.flag("verbose") || self.integer("verbose_level").is_some_and(|l| l > 0)
    }

    pub fn quiet(&self) -> bool {
        self.flag("quiet")
    }

    pub fn debug_file(&self) -> Option<&str> {
        self.string("debug_file").filter(|s| !s.is_empty())
    }

    pub fn help_requested(&self) -> bool {
        self.flag("help")
    }

    pub fn version_requested(&self) -> bool {
        self.flag("version")
    }
}

/// Whether to use TLS towards the device, from the `ssl*` options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    Off,
    /// TLS, verifying the certificate.
    Verify,
    /// TLS without verifying the certificate (`ssl_insecure`).
    NoVerify,
}

/// Whether `info`'s agent offers `action`.
pub fn action_available(action: Action, info: &AgentInfo) -> bool {
    match action {
        Action::List | Action::ListStatus => info.plugs == PlugMode::Multiple,
        Action::Diag => info.capabilities.diag,
        _ => true,
    }
}

enum Typed {
    Value(Value),
    /// Not a usable value, but fence-agents only warns (a boolean without 0/1).
    Ignored(String),
    Invalid(UsageError),
}

fn type_value(spec: &OptionSpec, raw: &RawValue) -> Typed {
    let text = match raw {
        RawValue::Present => {
            return match spec.value {
                ValueType::Boolean => Typed::Value(Value::Bool(true)),
                _ => Typed::Invalid(UsageError::MissingArgument(option_label(spec))),
            };
        }
        RawValue::Text(text) => text.as_str(),
    };
    match spec.value {
        ValueType::String if spec.secret => Typed::Value(Value::Secret(Secret::new(text))),
        ValueType::String => Typed::Value(Value::Text(text.to_owned())),
        ValueType::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "1" | "yes" | "on" | "true" => Typed::Value(Value::Bool(true)),
            "0" | "no" | "off" | "false" => Typed::Value(Value::Bool(false)),
            _ => Typed::Ignored(format!(
                "Parse error: Ignoring option '{}' because it does not have value",
                spec.name
            )),
        },
        ValueType::Integer => match text.trim().parse::<i64>() {
            Ok(n) => Typed::Value(Value::Int(n)),
            Err(_) => Typed::Invalid(UsageError::InvalidValue {
                option: option_label(spec),
                kind: "integer",
            }),
        },
        ValueType::Second => match parse_seconds(text) {
            Some(d) => Typed::Value(Value::Seconds(d)),
            None => Typed::Invalid(UsageError::InvalidValue {
                option: option_label(spec),
                kind: "time in seconds",
            }),
        },
        ValueType::Select(choices) => {
            let wanted = text.trim();
            match choices.iter().find(|c| c.eq_ignore_ascii_case(wanted)) {
                Some(choice) => Typed::Value(Value::Choice(choice)),
                None => Typed::Invalid(UsageError::InvalidChoice {
                    option: option_label(spec),
                    choices: choices.join(", "),
                }),
            }
        }
    }
}

/// `power_timeout (--power-timeout)`: both names, since the operator used one of them.
fn option_label(spec: &OptionSpec) -> String {
    match &spec.long {
        Some(long) => format!("{} (--{long})", spec.name),
        None => spec.name.to_owned(),
    }
}

/// A non-negative number of seconds: digits with at most one `.`; fence-agents
/// takes integers only, umha also takes fractions (handy for tests and fast devices).
pub fn parse_seconds(text: &str) -> Option<Duration> {
    let text = text.trim();
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let dots = text.chars().filter(|&c| c == '.').count();
    if digits == 0 || dots > 1 || digits + dots != text.len() {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    (value.is_finite() && (0.0..=MAX_SECONDS).contains(&value))
        .then(|| Duration::from_secs_f64(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{add_login, info};
    use crate::input::{cmdline, stdin};
    use crate::spec::common;

    fn table(plugs: PlugMode) -> OptionTable {
        let info = info(plugs);
        let mut table = OptionTable::common(&info);
        add_login(&mut table).set_default("power_wait", "2");
        table.finish(&info);
        table
    }

    fn from_stdin(text: &str, plugs: PlugMode) -> Options {
        let t = table(plugs);
        Options::resolve(&t, plugs, stdin::parse(text.as_bytes(), &t))
    }

    fn from_argv(args: &[&str], plugs: PlugMode) -> Options {
        let t = table(plugs);
        let argv: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        Options::resolve(&t, plugs, cmdline::parse(&argv, &t).unwrap())
    }

    #[test]
    fn defaults_and_types() {
        let o = from_stdin("ip=h\n", PlugMode::Single);
        assert_eq!(o.action(), Ok(Action::Reboot));
        assert_eq!(o.ipport(), Some(623));
        let t = o.timing();
        assert_eq!(t.power_wait, Duration::from_secs(2));
        assert_eq!(t.power_timeout, Duration::from_secs(20));
        assert_eq!(t.retry_on, 1);
        assert_eq!(o.method(), Method::OnOff);
        assert!(!o.verbose());
    }

    #[test]
    fn last_occurrence_wins_and_clears_earlier_problems() {
        let o = from_stdin(
            "action=on\npower_timeout=abc\naction=OFF\npower_timeout=7\n",
            PlugMode::Single,
        );
        assert_eq!(o.action(), Ok(Action::Off));
        assert_eq!(o.seconds("power_timeout"), Some(Duration::from_secs(7)));
        assert!(o.problems.is_empty());
    }

    #[test]
    fn invalid_values_fail_the_check_but_not_resolution() {
        let o = from_stdin("ip=h\npower_wait=soon\n", PlugMode::Single);
        let err = o.check(Action::Off, &info(PlugMode::Single)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Failed: The value you have entered for power_wait (--power-wait) is not a valid time in seconds"
        );
        let o = from_stdin("ip=h\nmethod=sideways\n", PlugMode::Single);
        assert!(matches!(
            o.check(Action::Off, &info(PlugMode::Single)),
            Err(UsageError::InvalidChoice { .. })
        ));
    }

    #[test]
    fn option_is_a_synonym_of_action_but_action_wins() {
        let o = from_stdin("option=off\nip=h\n", PlugMode::Single);
        assert_eq!(o.action(), Ok(Action::Off));
        let o = from_stdin("action=status\noption=off\nip=h\n", PlugMode::Single);
        assert_eq!(o.action(), Ok(Action::Status));
    }

    #[test]
    fn action_with_blanks_is_understood() {
        let o = from_stdin("action = off\nip=h\n", PlugMode::Single);
        assert_eq!(o.action(), Ok(Action::Off));
    }

    #[test]
    fn empty_or_bad_action_is_an_error() {
        let o = from_stdin("action=\n", PlugMode::Single);
        assert_eq!(o.action(), Err(UsageError::UnknownAction(String::new())));
        let o = from_stdin("action=poweroff\n", PlugMode::Single);
        assert_eq!(
            o.action().unwrap_err().to_string(),
            "Failed: Unrecognised action 'poweroff'"
        );
    }

    #[test]
    fn booleans_from_stdin() {
        let o = from_stdin("verbose=yes\nquiet=0\n", PlugMode::Single);
        assert!(o.verbose());
        assert!(!o.quiet());
        let o = from_stdin("verbose=maybe\n", PlugMode::Single);
        assert!(!o.verbose());
        assert!(o.warnings().iter().any(|w| w.contains("verbose")));
    }

    #[test]
    fn evacuate_is_off_by_default_and_names_its_attribute() {
        let none = from_stdin("ip=h\n", PlugMode::Single);
        assert_eq!(none.evacuation_attribute(), None);
        let off = from_stdin("ip=h\nevacuate=0\nevacuate_attribute=x\n", PlugMode::Single);
        assert_eq!(off.evacuation_attribute(), None);
        let on = from_stdin("ip=h\nevacuate=yes\n", PlugMode::Single);
        assert_eq!(on.evacuation_attribute(), Some("umha-evacuate"));
        let named = from_stdin(
            "ip=h\nevacuate=1\nevacuate-attribute=site-evacuate\n",
            PlugMode::Single,
        );
        assert_eq!(named.evacuation_attribute(), Some("site-evacuate"));
        let blank = from_stdin("ip=h\nevacuate=1\nevacuate_attribute= \n", PlugMode::Single);
        assert_eq!(blank.evacuation_attribute(), Some("umha-evacuate"));
        let argv = from_argv(&["-a", "h", "--evacuate"], PlugMode::Single);
        assert_eq!(argv.evacuation_attribute(), Some("umha-evacuate"));
    }

    #[test]
    fn verbose_counts_on_the_command_line() {
        let o = from_argv(&["-vvv", "-o", "status"], PlugMode::Single);
        assert_eq!(o.integer("verbose_level"), Some(3));
        let o = from_argv(&["-v", "--verbose-level=0"], PlugMode::Single);
        assert!(!o.verbose());
    }

    #[test]
    fn secrets_are_typed_as_secret() {
        let o = from_stdin("passwd=hunter2\n", PlugMode::Single);
        assert_eq!(o.password().map(Secret::expose), Some("hunter2"));
        assert_eq!(o.string("password"), None);
        assert!(!format!("{o:?}").contains("hunter2"));
    }

    #[test]
    fn single_device_needs_an_address_or_port_as_ip() {
        let i = info(PlugMode::Single);
        let o = from_stdin("action=off\nplug=cmp1\n", PlugMode::Single);
        assert_eq!(o.check(Action::Off, &i), Err(UsageError::MissingAddress));
        let o = from_stdin(
            "action=off\nport=10.1.1.1\nport_as_ip=1\n",
            PlugMode::Single,
        );
        assert_eq!(o.check(Action::Off, &i), Ok(()));
        assert_eq!(o.ip(), Some("10.1.1.1"));
        assert!(o.plugs().is_empty());
    }

    #[test]
    fn multi_plug_device_needs_a_plug_for_power_actions_only() {
        let i = info(PlugMode::Multiple);
        let o = from_stdin("ip=h\n", PlugMode::Multiple);
        assert_eq!(o.check(Action::Off, &i), Err(UsageError::MissingPlug));
        assert_eq!(o.check(Action::List, &i), Ok(()));
        assert_eq!(o.check(Action::Monitor, &i), Ok(()));
        let o = from_stdin("ip=h\nplug=1,2\n", PlugMode::Multiple);
        assert_eq!(o.plugs(), vec!["1".to_owned(), "2".to_owned()]);
        let o = from_stdin("ip=h\nplug=1:2\nplug_separator=:\n", PlugMode::Multiple);
        assert_eq!(o.plugs().len(), 2);
    }

    #[test]
    fn list_is_unrecognised_on_a_single_target_device() {
        let o = from_stdin("ip=h\n", PlugMode::Single);
        assert_eq!(
            o.check(Action::List, &info(PlugMode::Single)),
            Err(UsageError::UnknownAction("list".into()))
        );
    }

    #[test]
    fn one_of_rules() {
        let i = info(PlugMode::Single);
        let mut t = table(PlugMode::Single);
        t.require_one_of(&["password", "password_script"]);
        let o = Options::resolve(&t, PlugMode::Single, stdin::parse(b"ip=h\n", &t));
        assert_eq!(
            o.check(Action::Status, &i).unwrap_err().to_string(),
            "Failed: You have to enter password or password_script"
        );
        let o = Options::resolve(
            &t,
            PlugMode::Single,
            stdin::parse(b"ip=h\npassword_script=echo x\n", &t),
        );
        assert_eq!(o.check(Action::Status, &i), Ok(()));
    }

    #[test]
    fn tls_follows_fence_agents() {
        let info = info(PlugMode::Single);
        let mut t = OptionTable::common(&info);
        t.add(common::ssl())
            .add(common::ssl_secure())
            .add(common::ssl_insecure());
        let tls = |text: &str| {
            Options::resolve(&t, PlugMode::Single, stdin::parse(text.as_bytes(), &t)).tls()
        };
        assert_eq!(tls(""), Tls::Off);
        assert_eq!(tls("ssl=1\n"), Tls::Verify);
        assert_eq!(tls("ssl_secure=1\n"), Tls::Verify);
        assert_eq!(tls("ssl_insecure=1\n"), Tls::NoVerify);
        assert_eq!(tls("ssl=1\nssl-insecure=true\n"), Tls::NoVerify);
    }

    #[test]
    fn seconds_accept_fractions_and_nothing_odd() {
        assert_eq!(parse_seconds("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_seconds(" 0.25 "), Some(Duration::from_millis(250)));
        for bad in [
            "", "-1", "1e3", "inf", "NaN", "1.2.3", ".", "5s", "99999999",
        ] {
            assert_eq!(parse_seconds(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn resolving_arbitrary_stdin_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..1024)) {
            let t = table(PlugMode::Multiple);
            let o = Options::resolve(&t, PlugMode::Multiple, stdin::parse(&bytes, &t));
            let _ = o.action();
            let _ = o.check(Action::Off, &info(PlugMode::Multiple));
            let _ = o.timing();
            let _ = o.plugs();
        }
    }
}
