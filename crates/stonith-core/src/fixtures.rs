//! The made-up agent the unit tests share: an IPMI-like fence agent, so
//! that option, input and meta-data tests see the same table.

use crate::agent::{AgentInfo, Capabilities, PlugMode};
use crate::input::{RawInput, RawValue};
use crate::spec::{OptionTable, common};

/// `fence_test`, with `plugs`, list and cycle but no diag.
pub(crate) fn info(plugs: PlugMode) -> AgentInfo {
    AgentInfo {
        plugs,
        capabilities: Capabilities {
            list: true,
            cycle: true,
            diag: false,
            ..Capabilities::default()
        },
        ..AgentInfo::new("fence_test", "test")
    }
}

/// The login options of an IPMI-like agent: ip, ipport (623), username,
/// password and password_script.
pub(crate) fn add_login(table: &mut OptionTable) -> &mut OptionTable {
    table
        .add(common::ip())
        .add(common::ipport("623"))
        .add(common::username())
        .add(common::password())
        .add(common::password_script())
}

/// What was read, as (name, text) pairs; a bare flag is `+`.
pub(crate) fn pairs(input: &RawInput) -> Vec<(&str, String)> {
    input
        .entries
        .iter()
        .map(|e| {
            let text = match &e.value {
                RawValue::Text(t) => t.to_string(),
                RawValue::Present => "+".into(),
            };
            (e.name, text)
        })
        .collect()
}
