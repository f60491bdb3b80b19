//! Flavors with their extra specs, for "is anything in this cloud marked
//! evacuable" (fence_compute's rule: when any flavor or image is marked,
//! only marked instances are evacuated).
//!
//! `GET /flavors/detail` carries `extra_specs` from 2.61; below that they
//! are absent and every flavor reads as unmarked.

use std::collections::BTreeMap;

use serde::Deserialize;
use umha_common::Deadline;

use crate::compute::{Compute, Link, decode, has_next};
use crate::error::Result;

/// One row of `GET /flavors/detail`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FlavorInfo {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::server::string_map")]
    pub extra_specs: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct FlavorsPage {
    flavors: Vec<FlavorInfo>,
    #[serde(default)]
    flavors_links: Option<Vec<Link>>,
}

/// Parse one page of `GET /flavors/detail`.
pub fn parse_flavors_page(body: &[u8]) -> Result<(Vec<FlavorInfo>, bool)> {
    let page: FlavorsPage = decode(body, "flavor list")?;
    let next = has_next(&page.flavors_links);
    Ok((page.flavors, next))
}

impl Compute {
    /// Every flavor, public and private (`is_public=None`, admin only).
    pub fn flavors(&self, deadline: Deadline) -> Result<Vec<FlavorInfo>> {
        self.paged(
            &["flavors", "detail"],
            &[("is_public", "None")],
            true,
            self.version(),
            parse_flavors_page,
            |f: &FlavorInfo| Some(f.id.clone()),
            "list flavors",
            deadline,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn extra_specs_are_read_when_present() {
        let body = br#"{"flavors": [
            {"id": "1", "name": "m1.tiny", "extra_specs": {"evacuable": "true", "n": 2}},
            {"id": "2", "name": "old"}],
            "flavors_links": [{"rel": "next", "href": "x"}]}"#;
        let (list, next) = parse_flavors_page(body).unwrap_or_default();
        assert!(next);
        assert_eq!(
            list[0].extra_specs.get("evacuable").map(String::as_str),
            Some("true")
        );
        assert_eq!(list[0].extra_specs.get("n").map(String::as_str), Some("2"));
        assert!(list[1].extra_specs.is_empty());
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_flavors_page(&body);
        }
    }
}
