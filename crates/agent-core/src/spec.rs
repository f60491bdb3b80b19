//! The one table that describes an agent.
//!
//! Meta-data, usage text, the man page, parameter validation and which
//! actions are answered all come from this static value, so they cannot
//! drift apart. [`AgentSpec::check`] catches tables Pacemaker or the OCF 1.0
//! DTD would reject; every agent runs it in a unit test.

use std::time::Duration;

use crate::{Action, ParamDefault, ParamSpec, ParamType};

/// The default timeout of an action that lists none elsewhere, as Pacemaker's.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// Everything about an agent that is not code.
#[derive(Debug)]
pub struct AgentSpec {
    /// The OCF provider directory: `umha`.
    pub provider: &'static str,
    /// The agent's type name, e.g. `storage-monitor` (`ocf:umha:storage-monitor`).
    pub name: &'static str,
    /// The agent's own version (usually `env!("CARGO_PKG_VERSION")`).
    pub version: &'static str,
    pub shortdesc: &'static str,
    /// Free text; blank lines separate paragraphs.
    pub longdesc: &'static str,
    pub params: &'static [ParamSpec],
    /// What the agent supports, with default timeouts. Only these are
    /// answered; anything else gets OCF_ERR_UNIMPLEMENTED.
    pub actions: &'static [ActionSpec],
    /// Shown in the man page.
    pub examples: &'static [Example],
    /// Man page references, e.g. `crm_resource(8)`.
    pub see_also: &'static [&'static str],
}

/// One advertised action (monitors may appear more than once, e.g. per role).
#[derive(Debug, Clone, Copy)]
pub struct ActionSpec {
    pub action: Action,
    pub timeout: Duration,
    /// Suggested interval (monitors).
    pub interval: Option<Duration>,
    /// Monitor depth, as in the DTD.
    pub depth: Option<u32>,
    /// `Promoted`/`Unpromoted` for role-specific monitors.
    pub role: Option<&'static str>,
}

impl ActionSpec {
    pub const fn new(action: Action, timeout: Duration) -> Self {
        Self {
            action,
            timeout,
            interval: None,
            depth: None,
            role: None,
        }
    }

    pub const fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    pub const fn depth(mut self, depth: u32) -> Self {
        self.depth = Some(depth);
        self
    }

    pub const fn role(mut self, role: &'static str) -> Self {
        self.role = Some(role);
        self
    }
}

/// Which tool an example is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Pcs,
    Crm,
    Shell,
}

impl Tool {
    pub const fn name(self) -> &'static str {
        match self {
            Tool::Pcs => "pcs",
            Tool::Crm => "crmsh",
            Tool::Shell => "shell",
        }
    }
}

/// A configuration snippet for the man page.
#[derive(Debug, Clone, Copy)]
pub struct Example {
    pub title: &'static str,
    pub tool: Tool,
    /// The command(s), one per line.
    pub command: &'static str,
}

impl AgentSpec {
    /// `ocf:<provider>:<name>`, as pcs and crmsh spell it.
    pub fn full_name(&self) -> String {
        format!("ocf:{}:{}", self.provider, self.name)
    }

    pub fn param(&self, name: &str) -> Option<&'static ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Whether `action` is answered. Meta-data and usage always are;
    /// `reload-agent` is whenever `reload` is.
    pub fn supports(&self, action: Action) -> bool {
        action.is_informational()
            || self
                .actions
                .iter()
                .any(|a| a.action == action.advertised_as())
    }

    /// The advertised timeout of `action` (the first entry), if listed.
    pub fn timeout(&self, action: Action) -> Option<Duration> {
        self.actions
            .iter()
            .find(|a| a.action == action.advertised_as())
            .map(|a| a.timeout)
    }

    /// Whether `param` is advertised as `unique`. Pacemaker treats an agent
    /// with the OCF 1.0 `reload` action the legacy way: a change to a
    /// `unique="1"` parameter restarts, any other change reloads. So when
    /// `reload` is supported, every parameter that is not reloadable is
    /// advertised as unique, even if sharing its value would be harmless.
    pub fn advertised_unique(&self, param: &ParamSpec) -> bool {
        param.unique || (self.supports(Action::Reload) && !param.reloadable)
    }

    /// Problems that would make the meta-data invalid or the agent behave
    /// against the OCF standard. Empty means fine.
    pub fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut problem = |p: String| problems.push(p);
        let token_ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        };
        if !token_ok(self.provider) {
            problem(format!("provider {:?} is not a plain name", self.provider));
        }
        if !token_ok(self.name) {
            problem(format!("agent name {:?} is not a plain name", self.name));
        }
        if self.version.trim().is_empty() {
            problem("version is empty".into());
        }
        if self.shortdesc.trim().is_empty() || self.longdesc.trim().is_empty() {
            problem("shortdesc and longdesc must not be empty".into());
        }
        if self.shortdesc.contains('\n') {
            problem("shortdesc must be one line".into());
        }
        for required in [
            Action::Start,
            Action::Stop,
            Action::Monitor,
            Action::MetaData,
            Action::ValidateAll,
        ] {
            if !self.actions.iter().any(|a| a.action == required) {
                problem(format!("action {required} must be listed"));
            }
        }
        for (i, a) in self.actions.iter().enumerate() {
            if !a.action.is_advertisable() {
                problem(format!(
                    "action {} cannot be listed: the OCF 1.0 DTD does not know it",
                    a.action
                ));
            }
            if a.timeout.is_zero() {
                problem(format!("action {} needs a timeout", a.action));
            }
            if a.action != Action::Monitor && self.actions[..i].iter().any(|b| b.action == a.action)
            {
                problem(format!("action {} is listed twice", a.action));
            }
            if a.interval.is_some() && a.action != Action::Monitor {
                problem(format!("only monitor takes an interval, not {}", a.action));
            }
        }
        let promote = self.supports(Action::Promote);
        if promote != self.supports(Action::Demote) {
            problem("promote and demote must be supported together".into());
        }
        if self.supports(Action::MigrateTo) != self.supports(Action::MigrateFrom) {
            problem("migrate_to and migrate_from must be supported together".into());
        }
        for (i, p) in self.params.iter().enumerate() {
            if !p
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                || p.name.is_empty()
                || p.name.starts_with("CRM_meta")
            {
                problem(format!(
                    "parameter {:?} must be letters, digits and _ (OCF_RESKEY_<name> is an environment variable)",
                    p.name
                ));
            }
            if self.params[..i].iter().any(|q| q.name == p.name) {
                problem(format!("parameter {} is declared twice", p.name));
            }
            if p.shortdesc.trim().is_empty() || p.longdesc.trim().is_empty() {
                problem(format!(
                    "parameter {} needs a shortdesc and a longdesc",
                    p.name
                ));
            }
            if p.shortdesc.contains('\n') {
                problem(format!("parameter {}: shortdesc must be one line", p.name));
            }
            if p.required && !matches!(p.default, ParamDefault::None) {
                problem(format!(
                    "parameter {} is required and has a default",
                    p.name
                ));
            }
            if let ParamDefault::Value(v) = p.default
                && let Err(why) = p.check(v)
            {
                problem(format!("default of {why}"));
            }
            if p.range.is_some() && p.kind != ParamType::Integer {
                problem(format!("parameter {}: only integers take a range", p.name));
            }
            if p.reloadable && !self.supports(Action::Reload) {
                problem(format!(
                    "parameter {} is reloadable but the agent does not support reload",
                    p.name
                ));
            }
            if p.secret && p.default_value().is_some() {
                problem(format!(
                    "secret parameter {} must not have a default",
                    p.name
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(20);

    static GOOD: AgentSpec = AgentSpec {
        provider: "umha",
        name: "t",
        version: "1",
        shortdesc: "Test",
        longdesc: "A test agent.",
        params: &[
            ParamSpec::string("a", "A", "The a.").reloadable(),
            ParamSpec::string("b", "B", "The b."),
        ],
        actions: &[
            ActionSpec::new(Action::Start, S),
            ActionSpec::new(Action::Stop, S),
            ActionSpec::new(Action::Monitor, S).interval(Duration::from_secs(10)),
            ActionSpec::new(Action::Reload, S),
            ActionSpec::new(Action::MetaData, Duration::from_secs(5)),
            ActionSpec::new(Action::ValidateAll, S),
        ],
        examples: &[],
        see_also: &[],
    };

    #[test]
    fn a_good_table_passes() {
        assert_eq!(GOOD.check(), Vec::<String>::new());
        assert_eq!(GOOD.full_name(), "ocf:umha:t");
        assert!(GOOD.supports(Action::ReloadAgent));
        assert!(GOOD.supports(Action::Usage));
        assert!(!GOOD.supports(Action::Promote));
        assert_eq!(GOOD.timeout(Action::MetaData), Some(Duration::from_secs(5)));
    }

    #[test]
    fn non_reloadable_params_are_advertised_unique_when_reload_exists() {
        assert!(!GOOD.advertised_unique(&GOOD.params[0]));
        assert!(GOOD.advertised_unique(&GOOD.params[1]));
    }

    #[test]
    fn bad_tables_are_caught() {
        static BAD: AgentSpec = AgentSpec {
            provider: "umha",
            name: "bad name",
            version: "1",
            shortdesc: "Bad",
            longdesc: "Bad.",
            params: &[
                ParamSpec::integer("n", "N", "n").default("x"),
                ParamSpec::string("n", "N", "n").reloadable(),
                ParamSpec::string("o-k", "", ""),
                ParamSpec::string("r", "R", "r").required().default("1"),
            ],
            actions: &[
                ActionSpec::new(Action::Start, Duration::ZERO),
                ActionSpec::new(Action::ReloadAgent, S),
                ActionSpec::new(Action::Promote, S),
                ActionSpec::new(Action::Start, S),
            ],
            examples: &[],
            see_also: &[],
        };
        let problems = BAD.check().join("\n");
        for expected in [
            "agent name",
            "action stop must be listed",
            "action meta-data must be listed",
            "reload-agent cannot be listed",
            "start needs a timeout",
            "start is listed twice",
            "promote and demote",
            "default of parameter n",
            "declared twice",
            "reloadable but",
            "\"o-k\"",
            "needs a shortdesc",
            "required and has a default",
        ] {
            assert!(problems.contains(expected), "{expected}:\n{problems}");
        }
    }
}
