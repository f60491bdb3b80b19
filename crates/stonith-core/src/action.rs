//! The actions a fence agent answers, named as fence-agents and Pacemaker name them.

use std::fmt;

/// One fence-agent action.
///
/// `start` and `stop` are accepted as no-ops for callers that treat the agent
/// like a resource; Pacemaker never sends them and fence-agents 4.12 rejects
/// them, so they are not advertised in the metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    On,
    Off,
    Reboot,
    Status,
    List,
    ListStatus,
    Monitor,
    Metadata,
    Manpage,
    ValidateAll,
    Start,
    Stop,
    /// Pulse a diagnostic interrupt (IPMI NMI); only for agents whose device supports it.
    Diag,
}

impl Action {
    /// Every action, in the order fence-agents lists them.
    pub const ALL: [Action; 13] = [
        Action::On,
        Action::Off,
        Action::Reboot,
        Action::Status,
        Action::List,
        Action::ListStatus,
        Action::Monitor,
        Action::Metadata,
        Action::Manpage,
        Action::ValidateAll,
        Action::Start,
        Action::Stop,
        Action::Diag,
    ];

    /// Parse an action as fence-agents does: case-insensitive, with OCF's
    /// `meta-data` spelling accepted. Surrounding blanks are ignored (fence-agents
    /// would reject them and fall back to its default action, reboot).
    pub fn parse(text: &str) -> Option<Action> {
        let lower = text.trim().to_ascii_lowercase();
        let action = match lower.as_str() {
            "on" => Action::On,
            "off" => Action::Off,
            "reboot" => Action::Reboot,
            "status" => Action::Status,
            "list" => Action::List,
            "list-status" => Action::ListStatus,
            "monitor" => Action::Monitor,
            "metadata" | "meta-data" => Action::Metadata,
            "manpage" => Action::Manpage,
            "validate-all" => Action::ValidateAll,
            "start" => Action::Start,
            "stop" => Action::Stop,
            "diag" => Action::Diag,
            _ => return None,
        };
        Some(action)
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::On => "on",
            Action::Off => "off",
            Action::Reboot => "reboot",
            Action::Status => "status",
            Action::List => "list",
            Action::ListStatus => "list-status",
            Action::Monitor => "monitor",
            Action::Metadata => "metadata",
            Action::Manpage => "manpage",
            Action::ValidateAll => "validate-all",
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Diag => "diag",
        }
    }

    /// Actions that take power away from the target: the only ones `delay` and
    /// the after-off hooks apply to.
    pub fn is_fencing(self) -> bool {
        matches!(self, Action::Off | Action::Reboot)
    }

    /// Actions that need no device and no validated options.
    pub fn is_documentation(self) -> bool {
        matches!(self, Action::Metadata | Action::Manpage)
    }

    /// Actions that talk to the device.
    pub fn uses_device(self) -> bool {
        matches!(
            self,
            Action::On
                | Action::Off
                | Action::Reboot
                | Action::Status
                | Action::List
                | Action::ListStatus
                | Action::Monitor
                | Action::Diag
        )
    }

    /// Actions that act on one target and so need `plug` on a multi-plug device
    /// (fence-agents also asks for it on validate-all).
    pub fn needs_plug(self) -> bool {
        matches!(
            self,
            Action::On
                | Action::Off
                | Action::Reboot
                | Action::Status
                | Action::Diag
                | Action::ValidateAll
        )
    }

    /// One line for the man page.
    pub fn description(self) -> &'static str {
        match self {
            Action::On => "Power on the target and read back that it is on.",
            Action::Off => {
                "Power off the target. Succeeds only once the power has been read back as off."
            }
            Action::Reboot => {
                "Power off the target (verified), then power it on. Succeeds when the off part succeeded."
            }
            Action::Status => "Print the power state: exit 0 when on, 2 when off, 1 when unknown.",
            Action::List => "List the plugs of the device as plug,alias lines.",
            Action::ListStatus => "List the plugs of the device with their power state.",
            Action::Monitor => "Check that the fence device is reachable.",
            Action::Metadata => "Print the XML metadata describing this agent.",
            Action::Manpage => "Print this manual page.",
            Action::ValidateAll => "Check the options without touching the device or the network.",
            Action::Start | Action::Stop => "Accepted for compatibility; does nothing.",
            Action::Diag => {
                "Pulse a diagnostic interrupt. Not a fencing action: its effect cannot be verified."
            }
        }
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
        for action in Action::ALL {
            assert_eq!(Action::parse(action.name()), Some(action));
        }
    }

    #[test]
    fn parse_is_lenient_about_case_and_ocf_spelling() {
        assert_eq!(Action::parse("OFF"), Some(Action::Off));
        assert_eq!(Action::parse(" reboot "), Some(Action::Reboot));
        assert_eq!(Action::parse("meta-data"), Some(Action::Metadata));
        assert_eq!(Action::parse(""), None);
        assert_eq!(Action::parse("poweroff"), None);
    }
}
