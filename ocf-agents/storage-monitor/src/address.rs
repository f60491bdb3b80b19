//! Storage server addresses: literal IPv4 and IPv6 addresses only.
//!
//! Host names are refused on purpose. Resolving them would make every
//! monitor depend on DNS, and a resolver that hangs (getaddrinfo cannot be
//! cancelled) would hang the agent; a storage network is addressed by IP
//! anyway. Addresses that cannot answer an echo from a storage server
//! (unspecified, multicast, broadcast) are refused too, and so are IPv6
//! link-local ones, which need a zone this agent does not take.

use std::net::{IpAddr, Ipv4Addr};

/// More than this is a mistake, not a storage network (and keeps every
/// echo's sequence number unique within one check).
pub const MAX_ADDRESSES: usize = 128;

/// Why an address was refused; the message completes "'<text>' ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("is not an IP address (host names are not resolved: a monitor must not depend on DNS)")]
    NotAnAddress,
    #[error(
        "has a zone (%...): IPv6 link-local addresses are not supported; use a global or ULA address"
    )]
    Zone,
    #[error("is IPv6 link-local, which needs a zone; use a global or ULA address")]
    LinkLocal,
    #[error("is not a unicast address")]
    NotUnicast,
}

/// One address as an administrator writes it: `10.0.0.1`, `fd00::1`,
/// `[fd00::1]`. IPv4-mapped IPv6 addresses become IPv4.
pub fn parse_address(text: &str) -> Result<IpAddr, AddressError> {
    let t = text.trim();
    let t = t
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(t);
    if t.contains('%') {
        return Err(AddressError::Zone);
    }
    let addr: IpAddr = t
        .parse::<IpAddr>()
        .map_err(|_| AddressError::NotAnAddress)?
        .to_canonical();
    match addr {
        IpAddr::V4(v4) => {
            if v4.is_unspecified() || v4.is_multicast() || v4 == Ipv4Addr::BROADCAST {
                return Err(AddressError::NotUnicast);
            }
        }
        IpAddr::V6(v6) => {
            if v6.is_unspecified() || v6.is_multicast() {
                return Err(AddressError::NotUnicast);
            }
            if v6.is_unicast_link_local() {
                return Err(AddressError::LinkLocal);
            }
        }
    }
    Ok(addr)
}

/// A whole `storage_server_address` list: every problem is reported, and an
/// address listed twice counts once (it would otherwise count twice in the score).
pub fn parse_addresses(items: &[String]) -> Result<Vec<IpAddr>, String> {
    let mut addresses: Vec<IpAddr> = Vec::with_capacity(items.len());
    let mut problems = Vec::new();
    for item in items {
        match parse_address(item) {
            Ok(addr) => {
                if !addresses.contains(&addr) {
                    addresses.push(addr);
                }
            }
            Err(why) => problems.push(format!("'{}' {why}", shorten(item))),
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "parameter storage_server_address: {}",
            problems.join("; ")
        ));
    }
    if addresses.is_empty() {
        return Err("parameter storage_server_address: no address given".to_owned());
    }
    if addresses.len() > MAX_ADDRESSES {
        return Err(format!(
            "parameter storage_server_address: {} addresses; at most {MAX_ADDRESSES} are supported",
            addresses.len()
        ));
    }
    Ok(addresses)
}

/// An address as it appears in attribute values and logs.
pub fn display(addr: &IpAddr) -> String {
    addr.to_string()
}

fn shorten(text: &str) -> String {
    let t = text.trim();
    if t.chars().count() > 60 {
        let mut s: String = t.chars().take(57).collect();
        s.push_str("...");
        s
    } else {
        t.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn both_families_and_brackets() {
        assert_eq!(parse_address("127.0.0.1"), Ok("127.0.0.1".parse().unwrap()));
        assert_eq!(parse_address(" ::1 "), Ok("::1".parse().unwrap()));
        assert_eq!(parse_address("[fd00::5]"), Ok("fd00::5".parse().unwrap()));
        assert_eq!(
            parse_address("::ffff:127.0.0.1"),
            Ok("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            parse_address("169.254.77.2"),
            Ok("169.254.77.2".parse().unwrap())
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(parse_address("nfs1"), Err(AddressError::NotAnAddress));
        assert_eq!(
            parse_address("nfs1.example.org"),
            Err(AddressError::NotAnAddress)
        );
        assert_eq!(parse_address("300.1.1.1"), Err(AddressError::NotAnAddress));
        assert_eq!(
            parse_address("127.0.0.1:80"),
            Err(AddressError::NotAnAddress)
        );
        assert_eq!(parse_address("fe80::1%eth0"), Err(AddressError::Zone));
        assert_eq!(parse_address("fe80::1"), Err(AddressError::LinkLocal));
        assert_eq!(parse_address("0.0.0.0"), Err(AddressError::NotUnicast));
        assert_eq!(parse_address("::"), Err(AddressError::NotUnicast));
        assert_eq!(parse_address("224.0.0.1"), Err(AddressError::NotUnicast));
        assert_eq!(parse_address("ff02::1"), Err(AddressError::NotUnicast));
        assert_eq!(
            parse_address("255.255.255.255"),
            Err(AddressError::NotUnicast)
        );
    }

    #[test]
    fn lists_dedupe_and_report_every_problem() {
        let got = parse_addresses(&list(&[
            "127.0.0.1",
            "::1",
            "127.0.0.1",
            "::ffff:127.0.0.1",
        ]));
        assert_eq!(got.unwrap().len(), 2);
        let err = parse_addresses(&list(&["nfs1", "127.0.0.1", "fe80::1"])).unwrap_err();
        assert!(err.contains("'nfs1' is not an IP address"), "{err}");
        assert!(err.contains("'fe80::1' is IPv6 link-local"), "{err}");
        let err = parse_addresses(&[]).unwrap_err();
        assert_eq!(err, "parameter storage_server_address: no address given");
        let many: Vec<String> = (0..=MAX_ADDRESSES)
            .map(|i| format!("127.0.{}.{}", i / 200, i % 200 + 1))
            .collect();
        assert!(parse_addresses(&many).unwrap_err().contains("at most"));
    }

    proptest! {
        #[test]
        fn never_panics(items in proptest::collection::vec(any::<String>(), 0..5)) {
            let _ = parse_addresses(&items);
        }

        #[test]
        fn every_accepted_address_prints_back(a in any::<std::net::IpAddr>()) {
            if let Ok(addr) = parse_address(&a.to_string()) {
                prop_assert_eq!(parse_address(&display(&addr)), Ok(addr));
            }
        }
    }
}
