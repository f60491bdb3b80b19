//! The actions Pacemaker (or an administrator) asks of an agent.

use std::fmt;

/// One OCF action, named by the agent's single command-line argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Start,
    Stop,
    Monitor,
    MetaData,
    ValidateAll,
    /// Re-apply changed reloadable parameters without a restart. Advertised in
    /// meta-data (the OCF 1.0 DTD knows only this name); see [`Action::ReloadAgent`].
    Reload,
    /// The OCF 1.1 name of the same job. Not in the OCF 1.0 DTD, so never
    /// advertised, but answered whenever `reload` is supported.
    ReloadAgent,
    Notify,
    Promote,
    Demote,
    MigrateTo,
    MigrateFrom,
    /// `usage`, `help`, `--help`, `-h`: print the usage text.
    Usage,
}

impl Action {
    /// Every action, in the order usage and man pages list them.
    pub const ALL: [Action; 13] = [
        Action::Start,
        Action::Stop,
        Action::Monitor,
        Action::Promote,
        Action::Demote,
        Action::Notify,
        Action::Reload,
        Action::ReloadAgent,
        Action::MigrateTo,
        Action::MigrateFrom,
        Action::ValidateAll,
        Action::MetaData,
        Action::Usage,
    ];

    /// The action named by `arg`, or `None` for anything else.
    pub fn parse(arg: &str) -> Option<Action> {
        Some(match arg {
            "start" => Action::Start,
            "stop" => Action::Stop,
            "monitor" => Action::Monitor,
            "meta-data" => Action::MetaData,
            "validate-all" => Action::ValidateAll,
            "reload" => Action::Reload,
            "reload-agent" => Action::ReloadAgent,
            "notify" => Action::Notify,
            "promote" => Action::Promote,
            "demote" => Action::Demote,
            "migrate_to" => Action::MigrateTo,
            "migrate_from" => Action::MigrateFrom,
            "usage" | "help" | "--help" | "-h" | "-?" => Action::Usage,
            _ => return None,
        })
    }

    /// The name on the command line and in meta-data.
    pub const fn name(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Monitor => "monitor",
            Action::MetaData => "meta-data",
            Action::ValidateAll => "validate-all",
            Action::Reload => "reload",
            Action::ReloadAgent => "reload-agent",
            Action::Notify => "notify",
            Action::Promote => "promote",
            Action::Demote => "demote",
            Action::MigrateTo => "migrate_to",
            Action::MigrateFrom => "migrate_from",
            Action::Usage => "usage",
        }
    }

    /// Whether an [`crate::AgentSpec`] may list it: everything the OCF 1.0 DTD
    /// can name. `reload-agent` and `usage` come with `reload` and for free.
    pub const fn is_advertisable(self) -> bool {
        !matches!(self, Action::ReloadAgent | Action::Usage)
    }

    /// The entry of an agent's table that governs this action.
    pub const fn advertised_as(self) -> Action {
        match self {
            Action::ReloadAgent => Action::Reload,
            other => other,
        }
    }

    /// Actions that answer without reading parameters or touching anything.
    pub const fn is_informational(self) -> bool {
        matches!(self, Action::MetaData | Action::Usage)
    }

    /// Actions that bring the resource (or a role of it) up, and therefore
    /// run the agent's environment checks first. Stop, monitor, demote,
    /// notify and migrate_to do not: they must work on whatever is there.
    pub const fn runs_validation(self) -> bool {
        matches!(
            self,
            Action::Start
                | Action::ValidateAll
                | Action::Reload
                | Action::ReloadAgent
                | Action::Promote
                | Action::MigrateFrom
        )
    }

    /// Monitors run every few seconds; they log at debug, not info.
    pub const fn is_routine(self) -> bool {
        matches!(self, Action::Monitor | Action::MetaData | Action::Usage)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.name()), Some(a));
        }
        assert_eq!(Action::parse("--help"), Some(Action::Usage));
        assert_eq!(Action::parse("status"), None);
        assert_eq!(Action::parse("START"), None);
        assert_eq!(Action::parse(""), None);
    }

    #[test]
    fn reload_agent_is_answered_as_reload() {
        assert_eq!(Action::ReloadAgent.advertised_as(), Action::Reload);
        assert!(!Action::ReloadAgent.is_advertisable());
        assert!(Action::Reload.is_advertisable());
    }
}
