//! Pacemaker node name → Nova compute host.
//!
//! The two names often differ (`cmp1` in the cluster, `cmp1.example.com` in
//! Nova, or the other way round), and evacuating the wrong host is the one
//! mistake that cannot be undone. So the rules are strict and ordered: an
//! explicit map wins; then an exact match; then a match on the short name
//! (everything before the first dot), accepted only when exactly one Nova
//! host has it. Anything else is refused with the candidates named.

use std::collections::BTreeMap;

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HostMapError {
    #[error("host_map entry {0:?} is not NODE:HOST")]
    Syntax(String),
    #[error("host_map names node {0} twice")]
    Duplicate(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MapError {
    #[error("host_map maps {node} to {host}, but Nova has no nova-compute service on {host}")]
    MappedNotInNova { node: String, host: String },
    #[error("no nova-compute service matches node {node} (exactly or by short name); set host_map")]
    NotFound { node: String },
    #[error("node {node} matches several Nova hosts by short name ({}); set host_map", candidates.join(", "))]
    Ambiguous {
        node: String,
        candidates: Vec<String>,
    },
}

/// The explicit part of the mapping, `host_map` in pcmk_host_map syntax:
/// `node:host` pairs separated by `;`, `,` or blanks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostMap {
    explicit: BTreeMap<String, String>,
}

fn short(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

impl HostMap {
    pub fn parse(text: &str) -> Result<Self, HostMapError> {
        let mut explicit = BTreeMap::new();
        for entry in text
            .split([';', ',', ' ', '\t', '\n'])
            .filter(|e| !e.is_empty())
        {
            let (node, host) = entry
                .split_once([':', '='])
                .filter(|(n, h)| !n.is_empty() && !h.is_empty() && !h.contains(':'))
                .ok_or_else(|| HostMapError::Syntax(entry.to_owned()))?;
            if explicit.insert(node.to_owned(), host.to_owned()).is_some() {
                return Err(HostMapError::Duplicate(node.to_owned()));
            }
        }
        Ok(Self { explicit })
    }

    pub fn is_empty(&self) -> bool {
        self.explicit.is_empty()
    }

    /// The Nova host of `node` among `nova_hosts` (the hosts of the
    /// nova-compute services). Comparison is case-insensitive for the DNS
    /// part, as host names are.
    pub fn resolve<'h>(&self, node: &str, nova_hosts: &[&'h str]) -> Result<&'h str, MapError> {
        if let Some(host) = self.explicit.get(node) {
            return nova_hosts
                .iter()
                .find(|h| h.eq_ignore_ascii_case(host))
                .copied()
                .ok_or_else(|| MapError::MappedNotInNova {
                    node: node.to_owned(),
                    host: host.clone(),
                });
        }
        let exact: Vec<&str> = nova_hosts
            .iter()
            .copied()
            .filter(|h| h.eq_ignore_ascii_case(node))
            .collect();
        if let [one] = exact[..] {
            return Ok(one);
        }
        let mut by_short: Vec<&str> = nova_hosts
            .iter()
            .copied()
            .filter(|h| short(h).eq_ignore_ascii_case(short(node)))
            .collect();
        by_short.dedup();
        match by_short[..] {
            [one] => Ok(one),
            [] => Err(MapError::NotFound {
                node: node.to_owned(),
            }),
            _ => Err(MapError::Ambiguous {
                node: node.to_owned(),
                candidates: by_short.iter().map(|s| (*s).to_owned()).collect(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOVA: &[&str] = &[
        "cmp1.example.com",
        "cmp2",
        "cmp3.a.example",
        "cmp3.b.example",
    ];

    #[test]
    fn explicit_map_wins_and_must_exist() {
        let map = HostMap::parse("cmp1:cmp2; node9=cmp1.example.com").unwrap();
        assert_eq!(map.resolve("cmp1", NOVA), Ok("cmp2"));
        assert_eq!(map.resolve("node9", NOVA), Ok("cmp1.example.com"));
        let map = HostMap::parse("cmp1:gone").unwrap();
        assert!(matches!(
            map.resolve("cmp1", NOVA),
            Err(MapError::MappedNotInNova { .. })
        ));
    }

    #[test]
    fn exact_then_short_name() {
        let map = HostMap::default();
        assert_eq!(map.resolve("cmp2", NOVA), Ok("cmp2"));
        assert_eq!(map.resolve("CMP2", NOVA), Ok("cmp2"));
        assert_eq!(map.resolve("cmp1", NOVA), Ok("cmp1.example.com"));
        assert_eq!(map.resolve("cmp2.example.com", NOVA), Ok("cmp2"));
    }

    #[test]
    fn ambiguous_and_unknown_are_refused() {
        let map = HostMap::default();
        let err = map.resolve("cmp3", NOVA).unwrap_err();
        assert!(matches!(err, MapError::Ambiguous { .. }));
        assert!(err.to_string().contains("cmp3.a.example, cmp3.b.example"));
        assert!(matches!(
            map.resolve("cmp4", NOVA),
            Err(MapError::NotFound { .. })
        ));
        // An exact match resolves even when short names collide.
        assert_eq!(map.resolve("cmp3.a.example", NOVA), Ok("cmp3.a.example"));
    }

    #[test]
    fn bad_syntax() {
        assert!(HostMap::parse("cmp1").is_err());
        assert!(HostMap::parse("cmp1:").is_err());
        assert!(HostMap::parse("a:b a:c").is_err());
        assert!(HostMap::parse("").unwrap().is_empty());
    }
}
