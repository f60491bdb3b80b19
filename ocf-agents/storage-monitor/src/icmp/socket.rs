//! ICMP sockets, opened without privileges where the system allows it.
//!
//! Linux "ping sockets" (SOCK_DGRAM + IPPROTO_ICMP/ICMPV6) need no
//! privilege when the process's group is inside `net.ipv4.ping_group_range`
//! (which governs IPv6 too), and the kernel hands each one only its own
//! replies. Otherwise a raw socket does the job as root (CAP_NET_RAW), and
//! sees every ICMP message the host receives, which the packet code filters.
//!
//! The socket is used through `std::net::UdpSocket`: its `send_to` and
//! `recv_from` are plain sendto/recvfrom calls that work on any IPv4/IPv6
//! datagram socket, and they read into initialised buffers, so no `unsafe`
//! is needed.

use std::io;
use std::net::UdpSocket;

use socket2::{Domain, Protocol, Socket, Type};

use super::packet::Family;

/// How the socket was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// SOCK_DGRAM ping socket.
    Ping,
    /// SOCK_RAW.
    Raw,
}

/// A non-blocking ICMP socket of one family.
#[derive(Debug)]
pub struct EchoSocket {
    pub family: Family,
    pub kind: SocketKind,
    pub socket: UdpSocket,
}

/// Neither kind of socket could be opened.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot open an {} ICMP socket: ping socket: {ping} (allowed groups are in net.ipv4.ping_group_range); raw socket: {raw} (needs root or CAP_NET_RAW)",
    family.name()
)]
pub struct OpenError {
    pub family: Family,
    pub ping: io::Error,
    pub raw: io::Error,
}

impl OpenError {
    /// Whether it is only a question of privileges (as opposed to, say,
    /// IPv6 being disabled on this node).
    pub fn is_permission(&self) -> bool {
        let denied = |e: &io::Error| e.kind() == io::ErrorKind::PermissionDenied;
        denied(&self.ping) && denied(&self.raw)
    }
}

impl EchoSocket {
    /// A ping socket if allowed, else a raw socket.
    pub fn open(family: Family) -> Result<EchoSocket, OpenError> {
        let (domain, protocol) = match family {
            Family::V4 => (Domain::IPV4, Protocol::ICMPV4),
            Family::V6 => (Domain::IPV6, Protocol::ICMPV6),
        };
        let ping = match Self::open_kind(domain, Type::DGRAM, protocol) {
            Ok(socket) => {
                return Ok(EchoSocket {
                    family,
                    kind: SocketKind::Ping,
                    socket,
                });
            }
            Err(e) => e,
        };
        match Self::open_kind(domain, Type::RAW, protocol) {
            Ok(socket) => Ok(EchoSocket {
                family,
                kind: SocketKind::Raw,
                socket,
            }),
            Err(raw) => Err(OpenError { family, ping, raw }),
        }
    }

    fn open_kind(domain: Domain, ty: Type, protocol: Protocol) -> io::Result<UdpSocket> {
        let socket = Socket::new(domain, ty, Some(protocol))?;
        socket.set_nonblocking(true)?;
        Ok(UdpSocket::from(socket))
    }

    /// Whether received datagrams start with an IPv4 header.
    pub fn has_ip_header(&self) -> bool {
        self.family == Family::V4 && self.kind == SocketKind::Raw
    }

    /// Whether the kernel filters replies on the identifier (and sets it).
    pub fn kernel_sets_ident(&self) -> bool {
        self.kind == SocketKind::Ping
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_errors_are_recognised() {
        let err = OpenError {
            family: Family::V4,
            ping: io::Error::from(io::ErrorKind::PermissionDenied),
            raw: io::Error::from_raw_os_error(1),
        };
        assert!(err.is_permission());
        let text = err.to_string();
        assert!(text.contains("IPv4 ICMP socket"), "{text}");
        assert!(text.contains("ping_group_range"), "{text}");
        let err = OpenError {
            family: Family::V6,
            ping: io::Error::from_raw_os_error(97),
            raw: io::Error::from_raw_os_error(97),
        };
        assert!(!err.is_permission());
    }
}
