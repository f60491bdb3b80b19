//! Nova API microversions: parse the version document, pick the version to
//! speak.
//!
//! We ask for the highest version both sides support, capped at
//! [`DEFAULT_CAP`], and refuse below [`MINIMUM`]. Why these bounds:
//!
//! - **2.11** (the floor) added `forced_down`; without it the only way to make
//!   Nova accept an evacuation is to wait `service_down_time`, and we cannot
//!   tell a forced-down service from a dead one.
//! - **2.14** made `onSharedStorage` implicit in evacuate; before it the
//!   caller must say (see [`crate::server::EvacuateOptions`]).
//! - **2.16** adds `host_status`, 2.26 `tags`, 2.47 the embedded flavor with
//!   its `extra_specs` (evacuable-flavor tags without a second call).
//! - **2.53** gives services UUID ids and the `PUT /os-services/{id}` form;
//!   2.59 gives migrations a `uuid` and paging.
//! - **2.87** (the default cap) is the last version whose
//!   `/os-hypervisors/detail` still reports capacity (2.88 removed it), and it
//!   stays clear of **2.95**, from which an evacuated instance is left
//!   STOPPED instead of in its original state. The evacuator must bring
//!   running instances back running, so it must never speak 2.95+.
//!
//! A cloud may pin a lower cap (`compute_api_version` in clouds.yaml,
//! `OS_COMPUTE_API_VERSION`); a cap above [`MAXIMUM_CAP`] is refused.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::error::{Error, Result};

/// A `major.minor` microversion; ordered numerically (2.9 < 2.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Microversion {
    pub major: u16,
    pub minor: u16,
}

impl Microversion {
    pub const fn new(major: u16, minor: u16) -> Self {
        Self { major, minor }
    }

    /// At least `other`.
    pub fn at_least(self, major: u16, minor: u16) -> bool {
        self >= Microversion::new(major, minor)
    }
}

/// The lowest version we can work with (`forced_down`).
pub const MINIMUM: Microversion = Microversion::new(2, 11);
/// The version we speak unless the cloud's configuration pins a lower one.
pub const DEFAULT_CAP: Microversion = Microversion::new(2, 87);
/// No configuration may raise the cap to 2.95 or above (evacuate → STOPPED).
pub const MAXIMUM_CAP: Microversion = Microversion::new(2, 94);

impl fmt::Display for Microversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for Microversion {
    type Err = Error;

    /// "2.53" (a leading "v" is tolerated, as in "v2.1").
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::Config(format!(
                "not a microversion: {:?}",
                crate::error::bounded(s, 40)
            ))
        };
        let t = s.trim();
        let t = t.strip_prefix('v').unwrap_or(t);
        let (major, minor) = t.split_once('.').ok_or_else(bad)?;
        let digits =
            |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(major) || !digits(minor) {
            return Err(bad());
        }
        Ok(Microversion::new(
            major.parse().map_err(|_| bad())?,
            minor.parse().map_err(|_| bad())?,
        ))
    }
}

/// What the compute endpoint supports, from `GET <compute endpoint>/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRange {
    pub min: Microversion,
    pub max: Microversion,
}

#[derive(Deserialize)]
struct VersionEntry {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    min_version: Option<String>,
}

#[derive(Deserialize)]
struct VersionDoc {
    #[serde(default)]
    version: Option<VersionEntry>,
    #[serde(default)]
    versions: Option<Vec<VersionEntry>>,
}

/// Parse the version document. `Ok(None)` means the endpoint has no
/// microversions at all (the legacy v2.0 API answers an empty `version`).
///
/// Accepts both shapes: `{"version": {...}}` from `/v2.1/`, and
/// `{"versions": [...]}` from the bare root, where the v2.1 entry (or the
/// CURRENT one with a version) is taken.
pub fn parse_version_document(body: &[u8]) -> Result<Option<VersionRange>> {
    const WHAT: &str = "compute version document";
    let doc: VersionDoc = serde_json::from_slice(body).map_err(|e| Error::json(WHAT, &e))?;
    let entry = match (doc.version, doc.versions) {
        (Some(v), _) => v,
        (None, Some(list)) => {
            let mut list = list;
            let pos = list
                .iter()
                .position(|v| v.id.as_deref() == Some("v2.1"))
                .or_else(|| {
                    list.iter().position(|v| {
                        v.status.as_deref() == Some("CURRENT")
                            && v.version.as_deref().is_some_and(|s| !s.is_empty())
                    })
                })
                .ok_or_else(|| Error::malformed(WHAT, "no v2.1 entry in \"versions\""))?;
            list.swap_remove(pos)
        }
        (None, None) => {
            return Err(Error::malformed(
                WHAT,
                "neither \"version\" nor \"versions\"",
            ));
        }
    };
    let max = entry.version.unwrap_or_default();
    let min = entry.min_version.unwrap_or_default();
    if max.is_empty() {
        return Ok(None);
    }
    let parse = |s: &str| {
        s.parse::<Microversion>().map_err(|_| {
            Error::malformed(
                WHAT,
                format!("bad version {:?}", crate::error::bounded(s, 40)),
            )
        })
    };
    let max = parse(&max)?;
    let min = if min.is_empty() { max } else { parse(&min)? };
    if min > max {
        return Err(Error::malformed(
            WHAT,
            format!("min_version {min} above version {max}"),
        ));
    }
    Ok(Some(VersionRange { min, max }))
}

/// The version to speak: the highest both sides support, at most `cap`.
pub fn negotiate(server: Option<VersionRange>, cap: Microversion) -> Result<Microversion> {
    let unsupported = |message: String| Error::VersionNotSupported {
        what: "compute microversion".to_owned(),
        message,
    };
    let Some(range) = server else {
        return Err(unsupported(format!(
            "the compute endpoint has no microversions (legacy v2.0); umha needs at least {MINIMUM}: \
             point the catalog's compute endpoint at /v2.1"
        )));
    };
    if cap < MINIMUM {
        return Err(Error::Config(format!(
            "compute API version {cap} is below the minimum {MINIMUM} umha needs (forced_down)"
        )));
    }
    let chosen = range.max.min(cap);
    if chosen < range.min {
        return Err(unsupported(format!(
            "Nova supports {}..{}, umha speaks {MINIMUM}..{cap}",
            range.min, range.max
        )));
    }
    if chosen < MINIMUM {
        return Err(unsupported(format!(
            "Nova's maximum microversion {} is below {MINIMUM}, which umha needs (forced_down)",
            range.max
        )));
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mv(s: &str) -> Microversion {
        s.parse().unwrap_or(Microversion::new(0, 0))
    }

    #[test]
    fn ordering_is_numeric() {
        assert!(mv("2.9") < mv("2.10"));
        assert!(mv("2.53") > mv("2.11"));
        assert_eq!(mv("v2.1"), Microversion::new(2, 1));
        assert!("2".parse::<Microversion>().is_err());
        assert!("2.x".parse::<Microversion>().is_err());
        assert!("2.-1".parse::<Microversion>().is_err());
        assert!("99999999.1".parse::<Microversion>().is_err());
    }

    fn range(min: &str, max: &str) -> Option<VersionRange> {
        Some(VersionRange {
            min: mv(min),
            max: mv(max),
        })
    }

    #[test]
    fn negotiation() {
        // The lab's Zed: 2.1..2.93 → our cap.
        assert_eq!(
            negotiate(range("2.1", "2.93"), DEFAULT_CAP).ok(),
            Some(DEFAULT_CAP)
        );
        // Older Nova: its max.
        assert_eq!(
            negotiate(range("2.1", "2.52"), DEFAULT_CAP).ok(),
            Some(mv("2.52"))
        );
        assert_eq!(
            negotiate(range("2.1", "2.11"), DEFAULT_CAP).ok(),
            Some(mv("2.11"))
        );
        // A future Nova beyond 2.95 is capped.
        assert_eq!(
            negotiate(range("2.1", "2.100"), DEFAULT_CAP).ok(),
            Some(DEFAULT_CAP)
        );
        // Too old, no microversions, raised minimum, too low a pin.
        assert!(matches!(
            negotiate(range("2.1", "2.10"), DEFAULT_CAP),
            Err(Error::VersionNotSupported { .. })
        ));
        assert!(matches!(
            negotiate(None, DEFAULT_CAP),
            Err(Error::VersionNotSupported { .. })
        ));
        assert!(matches!(
            negotiate(range("2.90", "2.99"), DEFAULT_CAP),
            Err(Error::VersionNotSupported { .. })
        ));
        assert!(matches!(
            negotiate(range("2.1", "2.93"), mv("2.10")),
            Err(Error::Config(_))
        ));
        // A pin inside the range wins.
        assert_eq!(
            negotiate(range("2.1", "2.93"), mv("2.53")).ok(),
            Some(mv("2.53"))
        );
    }

    #[test]
    fn version_documents() {
        let v21 = br#"{"version": {"id": "v2.1", "status": "CURRENT", "version": "2.93", "min_version": "2.1",
            "updated": "2013-07-23T11:33:21Z", "links": [], "media-types": []}}"#;
        assert_eq!(
            parse_version_document(v21).ok().flatten(),
            range("2.1", "2.93")
        );
        let root = br#"{"versions": [
            {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": ""},
            {"id": "v2.1", "status": "CURRENT", "version": "2.52", "min_version": "2.1"}]}"#;
        assert_eq!(
            parse_version_document(root).ok().flatten(),
            range("2.1", "2.52")
        );
        let legacy = br#"{"version": {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": ""}}"#;
        assert_eq!(parse_version_document(legacy).ok(), Some(None));
        for bad in [
            &b"{}"[..],
            b"[]",
            b"null",
            br#"{"version": {"version": "two"}}"#,
            br#"{"version": {"version": "2.1", "min_version": "2.5"}}"#,
            br#"{"versions": []}"#,
            b"<html>",
        ] {
            assert!(
                matches!(parse_version_document(bad), Err(Error::Malformed { .. })),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    proptest! {
        #[test]
        fn version_document_never_panics(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_version_document(&body);
        }

        #[test]
        fn parse_never_panics(s in ".{0,20}") {
            let _ = s.parse::<Microversion>();
        }
    }
}
