//! The fencer's history: which fencing actions ran, against whom, how they
//! ended and when.
//!
//! This is the evidence the evacuator's safety gate rests on: evacuating a
//! node's VMs while the node still runs them means two hosts write the same
//! disk. [`FenceHistory::confirmed_fence_after`] is the one question it needs
//! answered, with every condition spelled out in one place.
//!
//! Read with `stonith_admin --history '*' --verbose --output-as=xml` (without
//! `--verbose` only the latest event per target is shown). The XML follows
//! Pacemaker's `fence-event` schema: `status` is `success`, `failed` or
//! `pending` (with `extended-status` for the pending state), and `completed`
//! is a calendar date such as `2026-11-22 03:29:17Z`, present only for
//! finished events.
//!
//! Limits of this evidence, for callers to weigh:
//! * the history lives in the fencers' memory: it is lost when every cluster
//!   node restarts, and a missing event proves nothing;
//! * times come from the clock of the node that recorded them, so cluster
//!   nodes must keep their clocks in sync (Pacemaker assumes so too);
//! * Pacemaker 2.1 records whole seconds.

use umha_common::Deadline;

use crate::time::UnixTime;
use crate::{CibError, tool, xml};

/// A fencing action as the fencer names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FenceAction {
    Off,
    On,
    Reboot,
    /// Anything else, verbatim (never treated as a power-off).
    Other(String),
}

impl FenceAction {
    fn parse(text: &str) -> Self {
        match text {
            "off" => FenceAction::Off,
            "on" => FenceAction::On,
            "reboot" => FenceAction::Reboot,
            other => FenceAction::Other(other.to_owned()),
        }
    }

    /// Off and reboot both cut the node's power: whatever ran there before
    /// is gone. On does not.
    pub fn cuts_power(&self) -> bool {
        matches!(self, FenceAction::Off | FenceAction::Reboot)
    }
}

/// How a fencing action ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FenceStatus {
    Success,
    Failed,
    /// Still running; `extended-status` is the fencer's internal state.
    Pending,
    /// A status this crate does not know, verbatim (never a success).
    Other(String),
}

impl FenceStatus {
    fn parse(text: &str) -> Self {
        match text {
            "success" => FenceStatus::Success,
            "failed" => FenceStatus::Failed,
            "pending" => FenceStatus::Pending,
            other => FenceStatus::Other(other.to_owned()),
        }
    }
}

/// One fencing action from the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FenceEvent {
    /// The node fenced (or to be fenced), as the request named it.
    pub target: String,
    pub action: FenceAction,
    pub status: FenceStatus,
    /// For pending events: the fencer's state number (`extended-status`).
    pub extended_status: Option<i64>,
    /// The node that executed the action.
    pub delegate: Option<String>,
    /// The node the request came from.
    pub origin: Option<String>,
    /// The requesting client, e.g. `pacemaker-controld.11959` or `stonith_admin.12465`.
    pub client: Option<String>,
    /// When a finished action completed; `None` while pending, or if the
    /// date could not be read (then the event never confirms anything).
    pub completed: Option<UnixTime>,
    pub exit_reason: Option<String>,
}

impl FenceEvent {
    /// A finished, successful off or reboot with a known completion time.
    pub fn confirms_power_cut(&self) -> bool {
        self.status == FenceStatus::Success && self.action.cuts_power() && self.completed.is_some()
    }

    fn read(node: roxmltree::Node<'_, '_>) -> Option<Self> {
        let target = node.attribute("target")?;
        let action = node.attribute("action")?;
        let status = node.attribute("status")?;
        let completed = match node.attribute("completed") {
            None => None,
            Some(text) => {
                let parsed = UnixTime::parse_pacemaker(text);
                if parsed.is_none() {
                    log::warn!(
                        "fence history: cannot read completion time {text:?} of {action} of {target}"
                    );
                }
                parsed
            }
        };
        Some(FenceEvent {
            target: target.to_owned(),
            action: FenceAction::parse(action),
            status: FenceStatus::parse(status),
            extended_status: node.attribute("extended-status").and_then(xml::leading_int),
            delegate: xml::owned_attr(node, "delegate"),
            origin: xml::owned_attr(node, "origin"),
            client: xml::owned_attr(node, "client"),
            completed,
            exit_reason: xml::owned_attr(node, "exit-reason").filter(|r| !r.is_empty()),
        })
    }
}

/// The fencing history, in the order the tool printed it (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FenceHistory {
    events: Vec<FenceEvent>,
}

impl FenceHistory {
    /// Run `stonith_admin --history '*' --verbose --output-as=xml` with the
    /// default timeout.
    pub fn query() -> Result<Self, CibError> {
        Self::query_with_deadline(Deadline::after(tool::DEFAULT_TIMEOUT))
    }

    pub fn query_with_deadline(deadline: Deadline) -> Result<Self, CibError> {
        let timeout = format!("--timeout={}", tool::seconds_left(deadline));
        let output = tool::run(
            "stonith_admin",
            &["--history=*", "--verbose", "--output-as=xml", &timeout],
            deadline,
        )?;
        let text = tool::stdout_text("stonith_admin", output)?;
        Self::parse(&text)
    }

    /// Parse `stonith_admin --output-as=xml` history output, or any document
    /// whose root holds a `<fence_history>` (crm_mon's output).
    pub fn parse(text: &str) -> Result<Self, CibError> {
        let doc = xml::parse_document(text, "fence history")?;
        let root = doc.root_element();
        if let Some(code) = tool::xml_status_code(&doc).filter(|c| *c != 0) {
            return Err(CibError::ToolFailed {
                tool: "stonith_admin".to_owned(),
                code: i32::try_from(code).unwrap_or(-1),
                message: tool::xml_status_message(text.as_bytes()).unwrap_or_default(),
            });
        }
        let list = xml::children(root, "list")
            .find(|l| l.attribute("name") == Some("fencing history"))
            .or_else(|| xml::child(root, "fence_history"))
            .or_else(|| (root.tag_name().name() == "fence_history").then_some(root))
            .ok_or(CibError::Unexpected {
                what: "fence history",
                detail: "no <list name=\"fencing history\"> or <fence_history> element".to_owned(),
            })?;
        Ok(Self::from_element(list))
    }

    pub(crate) fn from_element(list: roxmltree::Node<'_, '_>) -> Self {
        let events = xml::children(list, "fence_event")
            .filter_map(|e| {
                let event = FenceEvent::read(e);
                if event.is_none() {
                    log::warn!("fence history: skipping an event without target, action or status");
                }
                event
            })
            .collect();
        FenceHistory { events }
    }

    pub fn events(&self) -> &[FenceEvent] {
        &self.events
    }

    /// Events whose target is exactly `target`.
    pub fn events_for<'s>(&'s self, target: &'s str) -> impl Iterator<Item = &'s FenceEvent> + 's {
        self.events.iter().filter(move |e| e.target == target)
    }

    /// Actions against `target` still in flight.
    pub fn pending_for<'s>(&'s self, target: &'s str) -> impl Iterator<Item = &'s FenceEvent> + 's {
        self.events_for(target)
            .filter(|e| e.status == FenceStatus::Pending)
    }

    /// The safety gate: the latest fencing of `target` that proves whatever
    /// ran there when it failed is gone. All of these must hold:
    ///
    /// * the target is exactly `target` (no case folding: a name that only
    ///   looks alike is not evidence);
    /// * the action is `off` or `reboot` (an `on` proves nothing);
    /// * the status is `success` (failed, pending and unknown never count);
    /// * it completed **strictly after** `failed_at`. A fence that finished
    ///   before the failure was of an earlier incarnation of the node.
    ///   Times are whole seconds, so a fence completing within the same
    ///   second as the failure is rejected too: the caller should then
    ///   request a fresh fence rather than guess.
    ///
    /// `failed_at` is when the node was seen failing: take it from the same
    /// cluster's records (for example the failed connection monitor's
    /// `last-rc-change`) or from the caller's own observation, never later
    /// than the moment it stopped trusting the node.
    pub fn confirmed_fence_after(&self, target: &str, failed_at: UnixTime) -> Option<&FenceEvent> {
        self.events
            .iter()
            .filter(|e| e.target == target)
            .filter(|e| e.confirms_power_cut())
            .filter(|e| e.completed.is_some_and(|t| t > failed_at))
            .max_by_key(|e| e.completed)
    }

    /// The most recent successful off or reboot of `target`, whenever it was.
    pub fn latest_power_cut(&self, target: &str) -> Option<&FenceEvent> {
        self.events
            .iter()
            .filter(|e| e.target == target)
            .filter(|e| e.confirms_power_cut())
            .max_by_key(|e| e.completed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(events: &str) -> FenceHistory {
        FenceHistory::parse(&format!(
            r#"<pacemaker-result api-version="2.25" request="stonith_admin">
  <list name="fencing history" count="9">{events}</list>
  <status code="0" message="OK"/>
</pacemaker-result>"#
        ))
        .unwrap()
    }

    const T: i64 = 1_795_318_154; // 2026-11-22 03:29:14Z

    #[test]
    fn reads_every_field() {
        let h = history(
            r#"<fence_event action="off" target="cmp3" client="stonith_admin.13010" origin="ctl1" status="failed" exit-reason="Fence agent did not complete within 10s" delegate="ctl1" completed="2026-11-22 03:29:37Z"/>
               <fence_event action="reboot" target="cmp1" client="pacemaker-controld.11959" origin="ctl1" status="pending" extended-status="1"/>"#,
        );
        let [failed, pending] = h.events() else {
            panic!("{h:?}")
        };
        assert_eq!(failed.action, FenceAction::Off);
        assert_eq!(failed.status, FenceStatus::Failed);
        assert_eq!(failed.completed, Some(UnixTime::from_secs(T + 23)));
        assert_eq!(failed.delegate.as_deref(), Some("ctl1"));
        assert_eq!(failed.origin.as_deref(), Some("ctl1"));
        assert_eq!(failed.client.as_deref(), Some("stonith_admin.13010"));
        assert_eq!(
            failed.exit_reason.as_deref(),
            Some("Fence agent did not complete within 10s")
        );
        assert_eq!(pending.status, FenceStatus::Pending);
        assert_eq!(pending.extended_status, Some(1));
        assert_eq!(pending.completed, None);
        assert_eq!(h.pending_for("cmp1").count(), 1);
    }

    #[test]
    fn gate_requires_success_power_cut_strictly_after() {
        let h = history(
            r#"<fence_event action="on" target="cmp1" client="c" origin="ctl1" status="success" completed="2026-11-22 03:29:30Z"/>
               <fence_event action="reboot" target="cmp1" client="c" origin="ctl1" status="failed" completed="2026-11-22 03:29:25Z"/>
               <fence_event action="reboot" target="cmp1" client="c" origin="ctl1" status="pending" extended-status="2"/>
               <fence_event action="off" target="cmp1" client="c" origin="ctl1" status="success" completed="2026-11-22 03:29:14Z"/>
               <fence_event action="reboot" target="CMP1" client="c" origin="ctl1" status="success" completed="2026-11-22 03:29:40Z"/>
               <fence_event action="reboot" target="cmp2" client="c" origin="ctl1" status="success" completed="2026-11-22 03:29:40Z"/>"#,
        );
        let at = |s: i64| UnixTime::from_secs(s);
        // The off at T counts for a failure before T...
        let e = h.confirmed_fence_after("cmp1", at(T - 1)).unwrap();
        assert_eq!(e.action, FenceAction::Off);
        // ...but not for a failure in the same second, or later.
        assert_eq!(h.confirmed_fence_after("cmp1", at(T)), None);
        assert_eq!(h.confirmed_fence_after("cmp1", at(T + 5)), None);
        // The "on", the failed reboot, the pending one and "CMP1" never count.
        assert_eq!(h.latest_power_cut("cmp1").unwrap().completed, Some(at(T)));
        assert_eq!(h.confirmed_fence_after("cmp9", at(0)), None);
    }

    #[test]
    fn gate_picks_the_latest_match() {
        let h = history(
            r#"<fence_event action="off" target="cmp1" client="c" origin="o" status="success" completed="2026-11-22 03:29:14Z"/>
               <fence_event action="reboot" target="cmp1" client="c" origin="o" status="success" completed="2026-11-22 03:29:17Z"/>"#,
        );
        let e = h
            .confirmed_fence_after("cmp1", UnixTime::from_secs(T - 100))
            .unwrap();
        assert_eq!(e.action, FenceAction::Reboot);
    }

    #[test]
    fn unreadable_completion_never_confirms() {
        let h = history(
            r#"<fence_event action="off" target="cmp1" client="c" origin="o" status="success" completed="yesterday"/>"#,
        );
        assert_eq!(h.events().len(), 1);
        assert_eq!(
            h.confirmed_fence_after("cmp1", UnixTime::from_secs(0)),
            None
        );
    }

    #[test]
    fn unknown_words_are_kept_not_guessed() {
        let h = history(
            r#"<fence_event action="poweroff" target="n" client="c" origin="o" status="done" completed="2026-11-22 03:29:14Z"/>"#,
        );
        let [e] = h.events() else { panic!() };
        assert_eq!(e.action, FenceAction::Other("poweroff".into()));
        assert_eq!(e.status, FenceStatus::Other("done".into()));
        assert!(!e.confirms_power_cut());
    }

    #[test]
    fn events_missing_required_fields_are_skipped() {
        let h = history(r#"<fence_event action="off" status="success"/>"#);
        assert!(h.events().is_empty());
    }

    #[test]
    fn failed_tool_status_is_an_error() {
        let err = FenceHistory::parse(
            r#"<pacemaker-result api-version="2.25" request="stonith_admin --history *">
  <status code="102" message="Not connected">
    <errors><error>Could not connect to fencer: Transport endpoint is not connected</error></errors>
  </status>
</pacemaker-result>"#,
        )
        .unwrap_err();
        match err {
            CibError::ToolFailed { code, message, .. } => {
                assert_eq!(code, 102);
                assert!(message.contains("Could not connect to fencer"), "{message}");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn missing_list_is_unexpected_not_empty() {
        let err = FenceHistory::parse(r#"<pacemaker-result><status code="0"/></pacemaker-result>"#)
            .unwrap_err();
        assert!(matches!(err, CibError::Unexpected { .. }), "{err}");
    }

    #[test]
    fn accepts_crm_mon_and_bare_fence_history() {
        let h = FenceHistory::parse(
            r#"<pacemaker-result><fence_history><fence_event action="off" target="a" client="c" origin="o" status="success" completed="2026-11-22 03:29:14Z"/></fence_history><status code="0"/></pacemaker-result>"#,
        )
        .unwrap();
        assert_eq!(h.events().len(), 1);
        let h = FenceHistory::parse("<fence_history/>").unwrap();
        assert!(h.events().is_empty());
    }
}
