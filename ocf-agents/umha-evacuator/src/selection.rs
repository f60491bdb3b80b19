//! Which instances of a failed host are evacuated.
//!
//! The rules are the union of what operators of the three predecessors
//! rely on:
//! - fence_compute/NovaEvacuate: flavors (extra spec) or images (property
//!   or tag) marked `evacuable`; when anything in the cloud is marked, only
//!   marked instances go, otherwise all do;
//! - Masakari: instance metadata `HA_Enabled=True`;
//! - UMHA: `allow_evacuate_local_vm` (an instance on a local disk is
//!   rebuilt from its image elsewhere, losing what it wrote, so by default
//!   it stays);
//! - everyone: ERROR instances stay (evacuating a broken instance rarely
//!   fixes it and hides the original fault), and an exclusion list.

use std::collections::BTreeSet;
use std::fmt;

use openstack::Server;

/// How instances are chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Marked flavors/images only, or all when nothing is marked.
    Tagged {
        tag: String,
    },
    /// Instance metadata `key` true (Masakari's `HA_Enabled`).
    Metadata {
        key: String,
    },
    All,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub mode: Mode,
    pub evacuate_error: bool,
    pub evacuate_local_disk: bool,
    /// Instance ids or names.
    pub exclude: BTreeSet<String>,
}

/// Cloud-wide facts the tagged mode needs: which images carry the tag, and
/// whether any flavor or image does at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagIndex {
    pub images: BTreeSet<String>,
    pub any_flavor: bool,
}

impl TagIndex {
    fn any(&self) -> bool {
        self.any_flavor || !self.images.is_empty()
    }
}

/// Why an instance stays where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    NotTagged(String),
    NoHaMetadata(String),
    Error,
    LocalDisk,
    Excluded,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::NotTagged(tag) => write!(
                f,
                "neither its flavor nor its image is marked {tag}=true (other instances are)"
            ),
            Skip::NoHaMetadata(key) => write!(f, "metadata {key} is not true"),
            Skip::Error => f.write_str("it is in ERROR (evacuate_error_instances=false)"),
            Skip::LocalDisk => f.write_str(
                "it boots from a local disk that would be rebuilt from its image (evacuate_local_disk=false)",
            ),
            Skip::Excluded => f.write_str("it is in exclude_instances"),
        }
    }
}

pub fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "yes" | "1" | "on"
    )
}

impl Selection {
    /// `Ok` to evacuate, or why not. `error_is_ours` says the instance is in
    /// ERROR because one of our evacuations failed, which is retried.
    pub fn decide(
        &self,
        server: &Server,
        tags: &TagIndex,
        error_is_ours: bool,
    ) -> Result<(), Skip> {
        if self.exclude.contains(&server.id) || self.exclude.contains(&server.name) {
            return Err(Skip::Excluded);
        }
        if server.is_error() && !error_is_ours && !self.evacuate_error {
            return Err(Skip::Error);
        }
        if !server.is_boot_from_volume() && !self.evacuate_local_disk {
            return Err(Skip::LocalDisk);
        }
        match &self.mode {
            Mode::All => Ok(()),
            Mode::Metadata { key } => {
                if server.metadata.get(key).is_some_and(|v| truthy(v)) {
                    Ok(())
                } else {
                    Err(Skip::NoHaMetadata(key.clone()))
                }
            }
            Mode::Tagged { tag } => {
                if !tags.any() {
                    return Ok(());
                }
                let flavor = server
                    .flavor
                    .as_ref()
                    .and_then(|f| f.extra_specs.get(tag))
                    .is_some_and(|v| truthy(v));
                let image = match &server.image {
                    openstack::server::Image::Id(id) => tags.images.contains(id),
                    openstack::server::Image::None => false,
                };
                if flavor || image || server.tags.iter().any(|t| t == tag) {
                    Ok(())
                } else {
                    Err(Skip::NotTagged(tag.clone()))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openstack::server::parse_server;

    /// A server like the lab's, with `patch`'s top-level fields replaced.
    fn server(patch: &str) -> Server {
        let mut base = serde_json::json!({"id":"u1","name":"vm1","status":"ACTIVE",
            "image":{"id":"img1"},"flavor":{"original_name":"m1","extra_specs":{}},"metadata":{}});
        if !patch.is_empty() {
            let patch: serde_json::Value =
                serde_json::from_str(&format!("{{{}}}", &patch[1..])).unwrap();
            for (k, v) in patch.as_object().unwrap() {
                base[k] = v.clone();
            }
        }
        parse_server(serde_json::json!({ "server": base }).to_string().as_bytes()).unwrap()
    }

    fn all() -> Selection {
        Selection {
            mode: Mode::All,
            evacuate_error: false,
            evacuate_local_disk: true,
            exclude: BTreeSet::new(),
        }
    }

    #[test]
    fn error_local_disk_and_exclusions() {
        let s = server("");
        assert_eq!(all().decide(&s, &TagIndex::default(), false), Ok(()));
        let err = server(r#","status":"ERROR""#);
        assert_eq!(
            all().decide(&err, &TagIndex::default(), false),
            Err(Skip::Error)
        );
        assert_eq!(all().decide(&err, &TagIndex::default(), true), Ok(()));
        let mut sel = all();
        sel.evacuate_local_disk = false;
        assert_eq!(
            sel.decide(&s, &TagIndex::default(), false),
            Err(Skip::LocalDisk)
        );
        let bfv = server(r#","image":"""#);
        assert_eq!(sel.decide(&bfv, &TagIndex::default(), false), Ok(()));
        let mut sel = all();
        sel.exclude.insert("vm1".into());
        assert_eq!(
            sel.decide(&s, &TagIndex::default(), false),
            Err(Skip::Excluded)
        );
    }

    #[test]
    fn tagged_mode_is_all_until_something_is_tagged() {
        let mut sel = all();
        sel.mode = Mode::Tagged {
            tag: "evacuable".into(),
        };
        let s = server("");
        assert_eq!(sel.decide(&s, &TagIndex::default(), false), Ok(()));
        let tags = TagIndex {
            images: ["other".to_owned()].into(),
            any_flavor: false,
        };
        assert!(matches!(
            sel.decide(&s, &tags, false),
            Err(Skip::NotTagged(_))
        ));
        let tags = TagIndex {
            images: ["img1".to_owned()].into(),
            any_flavor: false,
        };
        assert_eq!(sel.decide(&s, &tags, false), Ok(()));
        let by_flavor = server(r#","flavor":{"extra_specs":{"evacuable":"True"}}"#);
        let tags = TagIndex {
            images: BTreeSet::new(),
            any_flavor: true,
        };
        assert_eq!(sel.decide(&by_flavor, &tags, false), Ok(()));
        assert!(sel.decide(&s, &tags, false).is_err());
    }

    #[test]
    fn metadata_mode() {
        let mut sel = all();
        sel.mode = Mode::Metadata {
            key: "HA_Enabled".into(),
        };
        assert!(
            sel.decide(&server(""), &TagIndex::default(), false)
                .is_err()
        );
        let on = server(r#","metadata":{"HA_Enabled":"True"}"#);
        assert_eq!(sel.decide(&on, &TagIndex::default(), false), Ok(()));
    }
}
