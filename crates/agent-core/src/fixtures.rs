//! A table that uses every feature, with text that needs escaping, shared by
//! the meta-data, usage and man page tests.

use std::time::Duration;

use crate::{Action, ActionSpec, AgentSpec, Example, ParamSpec, Tool};

const fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

pub(crate) static RICH: AgentSpec = AgentSpec {
    provider: "umha",
    name: "rich-test",
    version: "1.2.3",
    shortdesc: "Tests <everything> & more",
    longdesc: "First paragraph with \"quotes\" & <tags>.\n\n.SH not a request\nsecond line of the second paragraph, with a back\\slash.",
    params: &[
        ParamSpec::string("state", "State file", "Where the state lives.")
            .computed_default("${HA_RSCTMP}/rich-test@<instance>@<node>.state")
            .unique(),
        ParamSpec::string("name", "A name", "A required name.").required(),
        ParamSpec::integer("count", "Count", "How many.")
            .default("3")
            .range(0, 10)
            .reloadable(),
        ParamSpec::boolean("enabled", "Enabled", "Whether.")
            .default("true")
            .reloadable(),
        ParamSpec::duration("wait", "Wait", "How long.").default("500ms"),
        ParamSpec::list("hosts", "Hosts", "Which hosts.").reloadable(),
        ParamSpec::string("mode", "Mode", "Which mode.")
            .choices(&["fast", "slow"])
            .default("fast"),
        ParamSpec::string("password", "Password", "A secret.").secret(),
    ],
    actions: &[
        ActionSpec::new(Action::Start, s(20)),
        ActionSpec::new(Action::Stop, s(20)),
        ActionSpec::new(Action::Monitor, s(20))
            .interval(s(10))
            .depth(0),
        ActionSpec::new(Action::Monitor, s(20))
            .interval(s(11))
            .role("Promoted"),
        ActionSpec::new(Action::Promote, s(30)),
        ActionSpec::new(Action::Demote, s(30)),
        ActionSpec::new(Action::Notify, s(5)),
        ActionSpec::new(Action::Reload, s(20)),
        ActionSpec::new(Action::MigrateTo, s(120)),
        ActionSpec::new(Action::MigrateFrom, s(120)),
        ActionSpec::new(Action::MetaData, s(5)),
        ActionSpec::new(Action::ValidateAll, Duration::from_millis(1500)),
    ],
    examples: &[
        Example {
            title: "Create it",
            tool: Tool::Pcs,
            command: "pcs resource create rt ocf:umha:rich-test name=x \\\n    op monitor interval=10s",
        },
        Example {
            title: "Create it",
            tool: Tool::Crm,
            command: "crm configure primitive rt ocf:umha:rich-test params name=x",
        },
    ],
    see_also: &["crm_mon(8)"],
};
