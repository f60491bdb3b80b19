//! Instance actions (`GET /servers/{id}/os-instance-actions`): Nova's own
//! journal of what was asked of a server, with the request id of each call.
//!
//! The evacuator reads it to tell an operator which request evacuated an
//! instance (the id to grep for in nova-conductor's log), and as a second
//! witness, beside the migration records, that an evacuate was accepted.
//! Nova records the action only once the request passed its checks, so a
//! refused evacuate (source still up) leaves no entry.

use serde::Deserialize;
use umha_common::Deadline;

use crate::compute::{Compute, Link, decode};
use crate::error::{Error, Result, bounded};

/// One entry, newest first in Nova's answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InstanceAction {
    /// `create`, `evacuate`, `stop`, `rebuild`, ...
    pub action: String,
    /// `req-<uuid>`: the API request that did it.
    pub request_id: String,
    #[serde(default)]
    pub instance_uuid: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
    /// 2.58+.
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub project_id: Option<String>,
}

#[derive(Deserialize)]
struct ActionsPage {
    #[serde(rename = "instanceActions")]
    actions: Vec<InstanceAction>,
    /// 2.58+, named `links` (not `instanceActions_links`).
    #[serde(default)]
    links: Option<Vec<Link>>,
}

/// Parse one page of `GET /servers/{id}/os-instance-actions`: the actions
/// and whether a `next` link follows.
pub fn parse_instance_actions_page(body: &[u8]) -> Result<(Vec<InstanceAction>, bool)> {
    let page: ActionsPage = decode(body, "instance action list")?;
    if page.actions.iter().any(|a| a.request_id.is_empty()) {
        return Err(Error::malformed(
            "instance action list",
            "an action without request_id",
        ));
    }
    let next = crate::compute::has_next(&page.links);
    Ok((page.actions, next))
}

impl Compute {
    /// Every recorded action of server `id`, newest first (paged from 2.58,
    /// by request id).
    pub fn instance_actions(&self, id: &str, deadline: Deadline) -> Result<Vec<InstanceAction>> {
        let what = format!("list actions of server {}", bounded(id, 60));
        self.paged(
            &["servers", id, "os-instance-actions"],
            &[],
            self.version().at_least(2, 58),
            self.version(),
            parse_instance_actions_page,
            |a: &InstanceAction| Some(a.request_id.clone()),
            &what,
            deadline,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pages_with_and_without_links() {
        let body = br#"{"instanceActions": [
            {"action": "evacuate", "instance_uuid": "i1", "message": null, "project_id": "p",
             "request_id": "req-2", "start_time": "2024-05-01T12:00:05.000000", "user_id": "u",
             "updated_at": "2024-05-01T12:00:09.000000"},
            {"action": "create", "instance_uuid": "i1", "message": null, "project_id": "p",
             "request_id": "req-1", "start_time": "2024-05-01T12:00:00.000000", "user_id": "u"}],
            "links": [{"rel": "next", "href": "x"}]}"#;
        let (list, next) = parse_instance_actions_page(body).unwrap_or_default();
        assert!(next);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].action, "evacuate");
        assert_eq!(list[1].request_id, "req-1");
        let (list, next) = parse_instance_actions_page(
            br#"{"instanceActions": [{"action": "stop", "request_id": "req-9"}], "links": null}"#,
        )
        .unwrap_or_default();
        assert!(!next && list.len() == 1);
        for bad in [
            &br#"{"instanceActions": [{"action": "x"}]}"#[..],
            br#"{"instanceActions": [{"action": "x", "request_id": ""}]}"#,
            br#"{"actions": []}"#,
        ] {
            assert!(parse_instance_actions_page(bad).is_err());
        }
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_instance_actions_page(&body);
        }
    }
}
