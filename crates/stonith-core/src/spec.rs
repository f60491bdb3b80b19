//! The option table: one description per option, from which the stdin and
//! command-line parsers, the metadata, `--help` and the man page are all made.
//!
//! fence-agents keeps one global `all_opt` dictionary and lets each agent pick
//! keys from it; administrators know those names, letters and defaults from
//! `pcs stonith describe` and the man pages. umha keeps the same names so that a
//! device configured for a fence-agents agent works unchanged, but builds the
//! table per agent so that nothing is shared mutable state.

use std::borrow::Cow;

use crate::agent::{AgentInfo, PlugMode};

/// What kind of value an option takes; also its `content type` in the metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    String,
    /// A flag: present (command line) or `1|yes|on|true` / `0|no|off|false` (stdin).
    Boolean,
    Integer,
    /// A non-negative number of seconds; umha also accepts decimals such as `0.5`.
    Second,
    /// One of a fixed list, compared case-insensitively.
    Select(&'static [&'static str]),
}

impl ValueType {
    /// The metadata `content type`.
    pub fn metadata_name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::Boolean => "boolean",
            ValueType::Integer => "integer",
            ValueType::Second => "second",
            ValueType::Select(_) => "select",
        }
    }

    pub fn takes_value(self) -> bool {
        self != ValueType::Boolean
    }
}

/// One option of an agent.
///
/// Build with the constructors and the chained setters; the fields are public
/// for reading (metadata, help, man page).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OptionSpec {
    /// The stdin name, as in the metadata: `ip`, `password_script`.
    pub name: &'static str,
    /// The long command-line name without dashes: `ip`, `password-script`.
    pub long: Option<Cow<'static, str>>,
    /// The short command-line letter, as in fence-agents: `a` for `--ip`.
    pub short: Option<char>,
    /// The older name this option replaces (`ipaddr` for `ip`). It is still
    /// accepted on stdin and listed in the metadata as `deprecated="1"`, so
    /// `pcs stonith describe` shows both, as for fence-agents.
    pub obsoletes: Option<&'static str>,
    /// Other names accepted on stdin only and never documented.
    pub aliases: &'static [&'static str],
    pub value: ValueType,
    pub default: Option<Cow<'static, str>>,
    pub required: bool,
    pub shortdesc: Cow<'static, str>,
    /// The word in `--ip=[ip]`.
    pub placeholder: &'static str,
    /// Sort key of the metadata, as fence-agents' `order` (ties sort by name).
    pub order: u16,
    /// The value is a secret: kept as [`umha_common::Secret`], never echoed.
    pub secret: bool,
    /// Accepted on stdin, never documented (`nodename`, `nodeid`, `option`).
    pub hidden: bool,
}

impl OptionSpec {
    fn new(name: &'static str, value: ValueType, shortdesc: &'static str) -> Self {
        Self {
            name,
            // fence-agents spells long options with dashes and stdin names with
            // underscores; deriving one from the other keeps them in step.
            long: Some(dashed(name)),
            short: None,
            obsoletes: None,
            aliases: &[],
            value,
            default: None,
            required: false,
            shortdesc: Cow::Borrowed(shortdesc),
            placeholder: "value",
            order: 1,
            secret: false,
            hidden: false,
        }
    }

    pub fn string(name: &'static str, shortdesc: &'static str) -> Self {
        Self::new(name, ValueType::String, shortdesc)
    }

    pub fn flag(name: &'static str, shortdesc: &'static str) -> Self {
        Self::new(name, ValueType::Boolean, shortdesc)
    }

    pub fn integer(name: &'static str, shortdesc: &'static str) -> Self {
        Self::new(name, ValueType::Integer, shortdesc).placeholder("number")
    }

    pub fn seconds(name: &'static str, shortdesc: &'static str) -> Self {
        Self::new(name, ValueType::Second, shortdesc).placeholder("seconds")
    }

    pub fn select(
        name: &'static str,
        choices: &'static [&'static str],
        shortdesc: &'static str,
    ) -> Self {
        Self::new(name, ValueType::Select(choices), shortdesc)
    }

    pub fn short(mut self, letter: char) -> Self {
        self.short = Some(letter);
        self
    }

    /// Override the long command-line name (fence-agents' `use-sudo` for `use_sudo`).
    pub fn long(mut self, long: &'static str) -> Self {
        self.long = Some(Cow::Borrowed(long));
        self
    }

    /// Not on the command line at all (stdin only).
    pub fn no_long(mut self) -> Self {
        self.long = None;
        self
    }

    pub fn obsoletes(mut self, old_name: &'static str) -> Self {
        self.obsoletes = Some(old_name);
        self
    }

    pub fn aliases(mut self, names: &'static [&'static str]) -> Self {
        self.aliases = names;
        self
    }

    pub fn default(mut self, value: impl Into<Cow<'static, str>>) -> Self {
        self.default = Some(value.into());
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn placeholder(mut self, word: &'static str) -> Self {
        self.placeholder = word;
        self
    }

    pub fn order(mut self, order: u16) -> Self {
        self.order = order;
        self
    }

    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    pub fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    pub fn shortdesc(mut self, text: impl Into<Cow<'static, str>>) -> Self {
        self.shortdesc = text.into();
        self
    }

    /// fence-agents' `getopt mixed` text: `-a, --ip=[ip]`, `--delay=[seconds]`, `-P, --lanplus`.
    pub fn getopt_mixed(&self) -> String {
        let mut text = String::new();
        if let Some(letter) = self.short {
            text.push('-');
            text.push(letter);
            if self.long.is_some() {
                text.push_str(", ");
            }
        }
        if let Some(long) = &self.long {
            text.push_str("--");
            text.push_str(long);
            if self.value.takes_value() {
                text.push_str("=[");
                text.push_str(self.placeholder);
                text.push(']');
            }
        } else if self.value.takes_value() && self.short.is_some() {
            text.push_str(" [");
            text.push_str(self.placeholder);
            text.push(']');
        }
        text
    }

    /// Whether `input` (a stdin name, `-` or `_` spelling) names this option.
    pub fn answers_to(&self, input: &str) -> bool {
        let wanted = normalize(input);
        normalize(self.name) == wanted
            || self.long.as_deref().is_some_and(|l| normalize(l) == wanted)
            || self.obsoletes.is_some_and(|o| normalize(o) == wanted)
            || self.aliases.iter().any(|a| normalize(a) == wanted)
    }
}

/// `-` and `_` are the same character in option names.
pub(crate) fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

fn dashed(name: &'static str) -> Cow<'static, str> {
    if name.contains('_') {
        Cow::Owned(name.replace('_', "-"))
    } else {
        Cow::Borrowed(name)
    }
}

/// A validation rule across options.
#[derive(Debug, Clone)]
pub enum Rule {
    /// At least one of these must be given (fence-agents' "password or password script").
    OneOf(&'static [&'static str]),
}

/// All options of one agent.
#[derive(Debug, Clone, Default)]
pub struct OptionTable {
    specs: Vec<OptionSpec>,
    rules: Vec<Rule>,
}

impl OptionTable {
    /// An empty table; agents start from [`OptionTable::common`] instead.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The options every fence agent has, as fence-agents' `DEPENDENCY_OPT["default"]`,
    /// plus `plug` (and `separator`) for multi-plug devices and `method` for devices
    /// that can power-cycle.
    pub fn common(info: &AgentInfo) -> Self {
        let mut table = Self::empty();
        for spec in common::all(info) {
            table.add(spec);
        }
        table
    }

    /// Add an option, replacing one of the same name.
    pub fn add(&mut self, spec: OptionSpec) -> &mut Self {
        match self.specs.iter_mut().find(|s| s.name == spec.name) {
            Some(slot) => *slot = spec,
            None => self.specs.push(spec),
        }
        self
    }

    pub fn remove(&mut self, name: &str) -> &mut Self {
        self.specs.retain(|s| s.name != name);
        self
    }

    /// Change a default, e.g. `power_wait` to 2 as fence_ipmilan does.
    pub fn set_default(&mut self, name: &str, value: impl Into<Cow<'static, str>>) -> &mut Self {
        if let Some(spec) = self.specs.iter_mut().find(|s| s.name == name) {
            spec.default = Some(value.into());
        }
        self
    }

    pub fn set_required(&mut self, name: &str, required: bool) -> &mut Self {
        if let Some(spec) = self.specs.iter_mut().find(|s| s.name == name) {
            spec.required = required;
        }
        self
    }

    /// Require at least one of `names` (checked for actions that use the device
    /// and for validate-all).
    pub fn require_one_of(&mut self, names: &'static [&'static str]) -> &mut Self {
        self.rules.push(Rule::OneOf(names));
        self
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The option named exactly `name` (its stdin name).
    pub fn get(&self, name: &str) -> Option<&OptionSpec> {
        self.specs.iter().find(|s| s.name == name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The option a stdin name refers to: its name, long name, older name or
    /// alias, in either `-` or `_` spelling.
    pub fn lookup(&self, input: &str) -> Option<&OptionSpec> {
        self.get(input)
            .or_else(|| self.specs.iter().find(|s| s.answers_to(input)))
    }

    pub fn by_short(&self, letter: char) -> Option<&OptionSpec> {
        self.specs.iter().find(|s| s.short == Some(letter))
    }

    /// The option a `--long` name refers to: exact, else a unique prefix, as
    /// Python's getopt (and so fence-agents) allows.
    pub fn by_long(&self, long: &str) -> Result<&OptionSpec, LongMatch> {
        if let Some(spec) = self.specs.iter().find(|s| s.long.as_deref() == Some(long)) {
            return Ok(spec);
        }
        let mut hits = self
            .specs
            .iter()
            .filter(|s| !long.is_empty() && s.long.as_deref().is_some_and(|l| l.starts_with(long)));
        match (hits.next(), hits.next()) {
            (Some(spec), None) => Ok(spec),
            (Some(_), Some(_)) => Err(LongMatch::Ambiguous),
            _ => Err(LongMatch::Unknown),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &OptionSpec> {
        self.specs.iter()
    }

    /// The documented options in fence-agents' metadata order: by `order`, then name.
    pub fn documented(&self) -> Vec<&OptionSpec> {
        let mut list: Vec<&OptionSpec> = self.specs.iter().filter(|s| !s.hidden).collect();
        list.sort_by(|a, b| (a.order, a.name).cmp(&(b.order, b.name)));
        list
    }

    /// Settle what depends on the agent's own choices; called by the core after
    /// the agent has added its options.
    pub(crate) fn finish(&mut self, info: &AgentInfo) {
        if info.plugs == PlugMode::Single && self.contains("ip") {
            // As fence-agents does for a device without plugs: `plug` may stand
            // in for the address (port_as_ip), so `ip` is no longer required
            // on its own; validation checks that one of them is there.
            self.add(common::plug_as_ip());
            self.add(common::port_as_ip());
            self.set_required("ip", false);
        }
    }
}

/// Why a `--long` name matched no option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongMatch {
    Unknown,
    Ambiguous,
}

/// The options every agent has and the device options an agent can pick.
///
/// Names, letters, defaults and descriptions are fence-agents' (`all_opt` in
/// `fencing.py`), so `pcs stonith describe` reads the same for umha's agents.
pub mod common {
    use super::OptionSpec;
    use crate::agent::{AgentInfo, PlugMode};

    /// Every common option for `info`.
    pub fn all(info: &AgentInfo) -> Vec<OptionSpec> {
        let mut list = vec![
            action(),
            action_synonym(),
            nodename(),
            nodeid(),
            quiet(),
            verbose(),
            verbose_level(),
            debug_file(),
            version(),
            help(),
            plug_separator(),
            delay(),
            disable_timeout(),
            login_timeout(),
            power_timeout(),
            power_wait(),
            shell_timeout(),
            stonith_status_sleep(),
            retry_on(),
            evacuate(),
            evacuate_attribute(),
        ];
        if info.plugs == PlugMode::Multiple {
            list.push(plug());
            list.push(separator());
        }
        if info.capabilities.cycle {
            list.push(method());
        }
        list
    }

    pub fn action() -> OptionSpec {
        OptionSpec::string("action", "Fencing action")
            .short('o')
            .default("reboot")
            .required()
            .placeholder("action")
    }

    /// `option=`: FenceAgentAPI's deprecated synonym of `action`. fence-agents
    /// 4.12 ignores it (and so reboots); umha honours it when no `action` is given.
    pub fn action_synonym() -> OptionSpec {
        OptionSpec::string("option", "Deprecated synonym of action")
            .no_long()
            .hidden()
    }

    /// Pacemaker always sends the target's node name; the after-off hooks use it.
    pub fn nodename() -> OptionSpec {
        OptionSpec::string("nodename", "Name of the node being fenced (from Pacemaker)")
            .no_long()
            .hidden()
    }

    /// Pacemaker sends the target's node id when it knows it.
    pub fn nodeid() -> OptionSpec {
        OptionSpec::string("nodeid", "Id of the node being fenced (from Pacemaker)")
            .no_long()
            .hidden()
    }

    /// The target on a multi-plug device.
    pub fn plug() -> OptionSpec {
        OptionSpec::string(
            "plug",
            "Physical plug number on device, UUID or identification of machine",
        )
        .short('n')
        .obsoletes("port")
        .required()
        .placeholder("id")
    }

    /// `plug` on a one-target device: only used with `port_as_ip`.
    pub fn plug_as_ip() -> OptionSpec {
        OptionSpec::string(
            "plug",
            "IP address or hostname of fencing device (together with --port-as-ip)",
        )
        .short('n')
        .obsoletes("port")
        .placeholder("ip")
    }

    pub fn port_as_ip() -> OptionSpec {
        OptionSpec::flag(
            "port_as_ip",
            "Make \"port/plug\" to be an alias to IP address",
        )
        .order(200)
    }

    pub fn separator() -> OptionSpec {
        OptionSpec::string("separator", "Separator for CSV created by 'list' operation")
            .short('C')
            .default(",")
            .placeholder("char")
            .order(100)
    }

    pub fn plug_separator() -> OptionSpec {
        OptionSpec::string(
            "plug_separator",
            "Separator for plug parameter when specifying more than 1 plug",
        )
        .default(",")
        .placeholder("char")
        .order(100)
    }

    pub fn quiet() -> OptionSpec {
        OptionSpec::flag(
            "quiet",
            "Disable logging to stderr. Does not affect --verbose or --debug-file or logging to syslog.",
        )
        .short('q')
        .order(50)
    }

    pub fn verbose() -> OptionSpec {
        OptionSpec::flag(
            "verbose",
            "Verbose mode. Multiple -v flags can be stacked on the command line (e.g., -vvv) to increase verbosity.",
        )
        .short('v')
        .order(51)
    }

    pub fn verbose_level() -> OptionSpec {
        OptionSpec::integer(
            "verbose_level",
            "Level of debugging detail in output. Defaults to the number of --verbose flags specified on the command line, or to 1 if verbose=1 in a stonith device configuration (i.e., on stdin).",
        )
        .placeholder("level")
        .order(52)
    }

    pub fn debug_file() -> OptionSpec {
        OptionSpec::string("debug_file", "Write debug information to given file")
            .short('D')
            .obsoletes("debug")
            .placeholder("debugfile")
            .order(53)
    }

    pub fn version() -> OptionSpec {
        OptionSpec::flag("version", "Display version information and exit")
            .short('V')
            .order(54)
    }

    pub fn help() -> OptionSpec {
        OptionSpec::flag("help", "Display help and exit")
            .short('h')
            .order(55)
    }

    pub fn delay() -> OptionSpec {
        OptionSpec::seconds("delay", "Wait X seconds before fencing is started")
            .default("0")
            .order(200)
    }

    pub fn disable_timeout() -> OptionSpec {
        OptionSpec::string(
            "disable_timeout",
            "Accepted for compatibility and ignored: umha always keeps its own deadline",
        )
        .placeholder("true/false")
        .order(200)
    }

    pub fn login_timeout() -> OptionSpec {
        OptionSpec::seconds("login_timeout", "Wait X seconds for cmd prompt after login")
            .default("5")
            .order(200)
    }

    pub fn power_timeout() -> OptionSpec {
        OptionSpec::seconds(
            "power_timeout",
            "Test X seconds for status change after ON/OFF",
        )
        .default("20")
        .order(200)
    }

    pub fn power_wait() -> OptionSpec {
        OptionSpec::seconds("power_wait", "Wait X seconds after issuing ON/OFF")
            .default("0")
            .order(200)
    }

    pub fn shell_timeout() -> OptionSpec {
        OptionSpec::seconds(
            "shell_timeout",
            "Wait X seconds for cmd prompt after issuing command",
        )
        .default("3")
        .order(200)
    }

    pub fn stonith_status_sleep() -> OptionSpec {
        OptionSpec::seconds(
            "stonith_status_sleep",
            "Sleep X seconds between status calls during a STONITH action",
        )
        .default("1")
        .order(200)
    }

    pub fn retry_on() -> OptionSpec {
        OptionSpec::integer("retry_on", "Count of attempts to retry power on")
            .default("1")
            .placeholder("attempts")
            .order(201)
    }

    /// umha's own: the fencing half of evacuation (see [`crate::hook::EvacuationMarker`]).
    /// Not in fence-agents; the longer explanation is in the man page.
    pub fn evacuate() -> OptionSpec {
        OptionSpec::flag(
            "evacuate",
            "Record an evacuation marker after a verified power-off: the persistent node \
             attribute evacuate_attribute=<epoch seconds of the off> on the fenced node, for \
             umha's evacuator (a failed write is logged and never fails the fencing)",
        )
        .default("0")
        .order(210)
    }

    pub fn evacuate_attribute() -> OptionSpec {
        OptionSpec::string(
            "evacuate_attribute",
            "Name of the node attribute written when evacuate is set",
        )
        .default(crate::hook::EVACUATION_ATTRIBUTE)
        .placeholder("name")
        .order(211)
    }

    pub fn method() -> OptionSpec {
        OptionSpec::select("method", &["onoff", "cycle"], "Method to fence")
            .short('m')
            .default("onoff")
            .placeholder("method")
    }

    // Device options an agent picks.

    pub fn ip() -> OptionSpec {
        OptionSpec::string("ip", "IP address or hostname of fencing device")
            .short('a')
            .obsoletes("ipaddr")
            .required()
            .placeholder("ip")
    }

    /// The device's port; agents set their protocol's default (623 for IPMI).
    pub fn ipport(default: &'static str) -> OptionSpec {
        OptionSpec::integer("ipport", "TCP/UDP port to use for connection with device")
            .short('u')
            .default(default)
            .placeholder("port")
    }

    pub fn username() -> OptionSpec {
        OptionSpec::string("username", "Login name")
            .short('l')
            .obsoletes("login")
            .placeholder("name")
    }

    pub fn password() -> OptionSpec {
        OptionSpec::string("password", "Login password or passphrase")
            .short('p')
            .obsoletes("passwd")
            .placeholder("password")
            .secret()
    }

    pub fn password_script() -> OptionSpec {
        OptionSpec::string("password_script", "Script to run to retrieve password")
            .short('S')
            .obsoletes("passwd_script")
            .placeholder("script")
    }

    pub fn ssl() -> OptionSpec {
        OptionSpec::flag("ssl", "Use SSL connection with verifying certificate").short('z')
    }

    pub fn ssl_secure() -> OptionSpec {
        OptionSpec::flag(
            "ssl_secure",
            "Use SSL connection with verifying certificate",
        )
    }

    pub fn ssl_insecure() -> OptionSpec {
        OptionSpec::flag(
            "ssl_insecure",
            "Use SSL connection without verifying certificate",
        )
    }

    pub fn inet4_only() -> OptionSpec {
        OptionSpec::flag("inet4_only", "Forces agent to use IPv4 addresses only").short('4')
    }

    pub fn inet6_only() -> OptionSpec {
        OptionSpec::flag("inet6_only", "Forces agent to use IPv6 addresses only").short('6')
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::info;

    #[test]
    fn lookup_accepts_both_spellings_and_old_names() {
        let mut table = OptionTable::common(&info(PlugMode::Multiple));
        table.add(common::ip()).add(common::password_script());
        assert_eq!(table.lookup("ipaddr").map(|s| s.name), Some("ip"));
        assert_eq!(table.lookup("port").map(|s| s.name), Some("plug"));
        assert_eq!(
            table.lookup("passwd-script").map(|s| s.name),
            Some("password_script")
        );
        assert_eq!(
            table.lookup("password-script").map(|s| s.name),
            Some("password_script")
        );
        assert_eq!(
            table.lookup("power-timeout").map(|s| s.name),
            Some("power_timeout")
        );
        assert_eq!(table.lookup("debug").map(|s| s.name), Some("debug_file"));
        assert!(table.lookup("nonsense").is_none());
    }

    #[test]
    fn getopt_mixed_matches_fence_agents() {
        assert_eq!(common::ip().getopt_mixed(), "-a, --ip=[ip]");
        assert_eq!(common::delay().getopt_mixed(), "--delay=[seconds]");
        assert_eq!(common::verbose().getopt_mixed(), "-v, --verbose");
        assert_eq!(
            common::password_script().getopt_mixed(),
            "-S, --password-script=[script]"
        );
    }

    #[test]
    fn long_prefixes_match_only_when_unique() {
        let mut table = OptionTable::common(&info(PlugMode::Multiple));
        table.add(common::password()).add(common::password_script());
        assert_eq!(
            table.by_long("password").map(|s| s.name).ok(),
            Some("password")
        );
        assert_eq!(
            table.by_long("password-s").map(|s| s.name).ok(),
            Some("password_script")
        );
        assert_eq!(table.by_long("pass").err(), Some(LongMatch::Ambiguous));
        assert_eq!(table.by_long("zzz").err(), Some(LongMatch::Unknown));
    }

    #[test]
    fn single_device_with_ip_gets_port_as_ip() {
        let info = info(PlugMode::Single);
        let mut table = OptionTable::common(&info);
        assert!(!table.contains("plug"));
        table.add(common::ip());
        table.finish(&info);
        assert!(table.contains("plug") && table.contains("port_as_ip"));
        assert!(table.get("ip").is_some_and(|s| !s.required));
    }

    #[test]
    fn short_letters_are_unique_in_the_common_table() {
        let mut table = OptionTable::common(&info(PlugMode::Multiple));
        for spec in [
            common::ip(),
            common::ipport("623"),
            common::username(),
            common::password(),
            common::password_script(),
            common::ssl(),
            common::inet4_only(),
            common::inet6_only(),
        ] {
            table.add(spec);
        }
        let mut seen = std::collections::HashSet::new();
        for spec in table.iter() {
            if let Some(letter) = spec.short {
                assert!(seen.insert(letter), "-{letter} used twice");
            }
        }
    }
}
