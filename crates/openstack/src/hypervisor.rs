//! Hypervisors, for the "is there room elsewhere" check.
//!
//! Capacity fields (`vcpus`, `memory_mb`, `free_ram_mb`...) exist only up to
//! 2.87, so this listing is always asked at 2.87 at most, whatever the
//! session speaks. They ignore allocation ratios and reservations: Placement
//! is the exact source; this is the cheap first look.

use serde::Deserialize;
use umha_common::Deadline;

use crate::compute::{Compute, Link, NovaId, decode, has_next};
use crate::error::Result;
use crate::microversion::Microversion;

/// The last microversion with capacity fields.
const CAPACITY_MAX: Microversion = Microversion::new(2, 87);

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HypervisorService {
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub id: Option<NovaId>,
    #[serde(default)]
    pub disabled_reason: Option<String>,
}

/// One row of `GET /os-hypervisors/detail`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Hypervisor {
    /// Integer before 2.53, UUID from 2.53.
    pub id: NovaId,
    #[serde(default)]
    pub hypervisor_hostname: Option<String>,
    /// up/down.
    #[serde(default)]
    pub state: Option<String>,
    /// enabled/disabled.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub service: Option<HypervisorService>,
    #[serde(default)]
    pub vcpus: Option<i64>,
    #[serde(default)]
    pub vcpus_used: Option<i64>,
    #[serde(default)]
    pub memory_mb: Option<i64>,
    #[serde(default)]
    pub memory_mb_used: Option<i64>,
    /// Negative when overcommitted.
    #[serde(default)]
    pub free_ram_mb: Option<i64>,
    #[serde(default)]
    pub local_gb: Option<i64>,
    #[serde(default)]
    pub local_gb_used: Option<i64>,
    #[serde(default)]
    pub running_vms: Option<i64>,
}

impl Hypervisor {
    /// The compute host (service host) this hypervisor belongs to.
    pub fn host(&self) -> Option<&str> {
        self.service.as_ref().and_then(|s| s.host.as_deref())
    }
}

#[derive(Deserialize)]
struct HypervisorsPage {
    hypervisors: Vec<Hypervisor>,
    #[serde(default)]
    hypervisors_links: Option<Vec<Link>>,
}

/// Parse one page of `GET /os-hypervisors/detail`.
pub fn parse_hypervisors_page(body: &[u8]) -> Result<(Vec<Hypervisor>, bool)> {
    let page: HypervisorsPage = decode(body, "hypervisor list")?;
    let next = has_next(&page.hypervisors_links);
    Ok((page.hypervisors, next))
}

impl Compute {
    /// Every hypervisor, with capacity (paged from 2.33).
    pub fn hypervisors(&self, deadline: Deadline) -> Result<Vec<Hypervisor>> {
        let version = self.version().min(CAPACITY_MAX);
        self.paged(
            &["os-hypervisors", "detail"],
            &[],
            version.at_least(2, 33),
            version,
            parse_hypervisors_page,
            |h: &Hypervisor| Some(h.id.to_string()),
            "list hypervisors",
            deadline,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn both_id_forms() {
        let body = br#"{"hypervisors": [
            {"id": 1, "hypervisor_hostname": "cmp1", "state": "up", "status": "enabled",
             "service": {"host": "cmp1", "id": 7, "disabled_reason": null},
             "vcpus": 8, "vcpus_used": 2, "memory_mb": 16000, "memory_mb_used": 512, "free_ram_mb": 15488,
             "local_gb": 100, "local_gb_used": 1, "running_vms": 2, "cpu_info": "{}"},
            {"id": "5d343e1d-938e-4284-b98b-6a2b5406ba76", "hypervisor_hostname": "cmp2",
             "service": {"host": "cmp2", "id": "c1b6b9a3-6bb7-4b6f-8b0e-0d8d5c2b0a11"}, "free_ram_mb": -100}]}"#;
        let (list, next) = parse_hypervisors_page(body).unwrap_or_default();
        assert!(!next);
        assert_eq!(list[0].id, NovaId::Number(1));
        assert_eq!(list[0].host(), Some("cmp1"));
        assert_eq!(list[1].free_ram_mb, Some(-100));
        assert!(matches!(list[1].id, NovaId::Uuid(_)));
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_hypervisors_page(&body);
        }
    }
}
