//! One UDP "link" to a BMC and the retransmission loop every exchange runs.
//!
//! What ipmitool does badly under loss is what this module does differently:
//! - the first timeout is short (250 ms) and doubles up to a ceiling, and
//!   once the BMC's round-trip time is known it follows it;
//! - every retransmission is a new packet with new sequence numbers, and a
//!   late answer to an *earlier* try still counts;
//! - all waits are cut by the caller's one deadline;
//! - the socket is connected, so an ICMP port-unreachable arrives as
//!   `ConnectionRefused` and ends the wait at once.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use umha_common::Deadline;

use crate::config::Timing;
use crate::error::IpmiError;

/// Largest datagram read; IPMI LAN packets for these commands are far smaller.
const RECV_BUFFER: usize = 2048;

/// What an exchange makes of a received datagram.
#[derive(Debug)]
pub(crate) enum Accept<T> {
    /// The answer, and which try (0-based) it answers, if known.
    Done(T, Option<u32>),
    /// Not for us (stray, late duplicate, other session): keep waiting.
    Ignore,
}

/// One request/response exchange, retried by [`Link::run`].
pub(crate) trait Exchange {
    type Output;
    /// Name for messages ("Open Session Request", "Get Chassis Status", …).
    fn name(&self) -> &'static str;
    /// The datagram of try number `attempt` (fresh sequence numbers each time).
    fn packet(&mut self, attempt: u32) -> Vec<u8>;
    fn accept(&mut self, datagram: &[u8]) -> Accept<Self::Output>;
}

/// Limits for one exchange.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Policy {
    /// At least this long before the first retransmission (non-idempotent requests).
    pub min_first_timeout: Option<Duration>,
    /// Override the adaptive first timeout (probes that should give up fast).
    pub first_timeout: Option<Duration>,
    /// Give up after this many tries even if the deadline allows more.
    pub max_tries: Option<u32>,
}

/// Counters for one session, for logs and measurements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Exchanges that got their answer.
    pub exchanges: u32,
    /// Datagrams sent, retransmissions included.
    pub datagrams_sent: u32,
    /// Smoothed round-trip time, once measured.
    pub srtt: Option<Duration>,
}

#[derive(Debug)]
pub(crate) struct Link {
    sock: UdpSocket,
    peer: SocketAddr,
    timing: Timing,
    pub stats: Stats,
}

/// The addresses of `host`, IPv6 literals with or without brackets.
pub(crate) fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, IpmiError> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.is_empty() {
        return Err(IpmiError::Config("no BMC address given".into()));
    }
    let addrs: Vec<SocketAddr> = (bare, port)
        .to_socket_addrs()
        .map_err(|e| IpmiError::Resolve {
            host: host.to_string(),
            detail: e.to_string(),
        })?
        .collect();
    if addrs.is_empty() {
        return Err(IpmiError::Resolve {
            host: host.to_string(),
            detail: "no addresses".into(),
        });
    }
    Ok(addrs)
}

impl Link {
    pub fn connect(peer: SocketAddr, timing: Timing) -> Result<Self, IpmiError> {
        let local: SocketAddr = if peer.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let io = |e: std::io::Error| IpmiError::Io {
            addr: peer.to_string(),
            detail: e.to_string(),
        };
        let sock = UdpSocket::bind(local).map_err(io)?;
        sock.connect(peer).map_err(io)?;
        Ok(Self {
            sock,
            peer,
            timing,
            stats: Stats::default(),
        })
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    fn unreachable(&self, e: &std::io::Error) -> IpmiError {
        IpmiError::Unreachable {
            addr: self.peer.to_string(),
            detail: match e.kind() {
                ErrorKind::ConnectionRefused => {
                    "ICMP port unreachable: nothing listens on that UDP port".to_string()
                }
                _ => e.to_string(),
            },
        }
    }

    fn io_error(&self, e: &std::io::Error) -> IpmiError {
        match e.kind() {
            ErrorKind::ConnectionRefused
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable
            | ErrorKind::AddrNotAvailable => self.unreachable(e),
            _ => IpmiError::Io {
                addr: self.peer.to_string(),
                detail: e.to_string(),
            },
        }
    }

    /// Send once without waiting for anything (a courtesy Close Session, a
    /// RAKP3 that reports a failure). Errors are logged, not returned.
    pub fn send_only(&mut self, datagram: &[u8]) {
        self.stats.datagrams_sent += 1;
        if let Err(e) = self.sock.send(datagram) {
            log::debug!("BMC {}: send failed: {e}", self.peer);
        }
    }

    /// The first timeout of the next exchange: the configured one until the
    /// BMC's round-trip time is known, then four times that (never shorter
    /// than the configured one, never longer than the ceiling).
    fn first_timeout(&self, policy: &Policy) -> Duration {
        if let Some(t) = policy.first_timeout {
            return t;
        }
        let adaptive = match self.stats.srtt {
            Some(srtt) => srtt
                .saturating_mul(4)
                .clamp(self.timing.first_timeout, self.timing.max_timeout),
            None => self.timing.first_timeout,
        };
        match policy.min_first_timeout {
            Some(min) => adaptive.max(min),
            None => adaptive,
        }
    }

    /// How far the timeout may grow by doubling: four first timeouts while
    /// the round-trip time is unknown, then eight round trips but at least
    /// two first timeouts; never above the configured ceiling. An unanswered
    /// try on a BMC that answers fast means a lost datagram, and waiting
    /// seconds for it only burns the deadline. A late answer to an earlier
    /// try is still taken, so a BMC slower than the timeout costs extra
    /// datagrams, not failures.
    fn backoff_cap(&self) -> Duration {
        let first = self.timing.first_timeout;
        match self.stats.srtt {
            Some(srtt) => srtt.saturating_mul(8).max(first.saturating_mul(2)),
            None => first.saturating_mul(4),
        }
        .min(self.timing.max_timeout)
    }

    fn record_rtt(&mut self, sample: Duration) {
        self.stats.srtt = Some(match self.stats.srtt {
            None => sample,
            Some(s) => (s.saturating_mul(7) + sample) / 8,
        });
    }

    /// Run one exchange to its answer, a definite failure, the try limit or the deadline.
    pub fn run<E: Exchange>(
        &mut self,
        ex: &mut E,
        deadline: &Deadline,
        policy: Policy,
    ) -> Result<E::Output, IpmiError> {
        // Drain leftovers (late duplicates of earlier exchanges) so they are
        // not even looked at; matching would ignore them anyway.
        self.drain();
        let mut timeout = self.first_timeout(&policy);
        let cap = self.backoff_cap().max(timeout);
        let mut sent_at: Vec<Instant> = Vec::new();
        let mut buf = [0u8; RECV_BUFFER];
        let mut attempt: u32 = 0;
        loop {
            if attempt == 0 && deadline.expired() {
                return Err(IpmiError::DeadlinePassed {
                    addr: self.peer.to_string(),
                    waiting_for: ex.name(),
                });
            }
            if deadline.expired() || policy.max_tries.is_some_and(|max| attempt >= max) {
                return Err(IpmiError::NoAnswer {
                    addr: self.peer.to_string(),
                    waiting_for: ex.name(),
                    tries: attempt,
                });
            }
            let datagram = ex.packet(attempt);
            log::debug!(
                "BMC {}: → {} (try {}, {} bytes, waiting {} ms)",
                self.peer,
                ex.name(),
                attempt + 1,
                datagram.len(),
                deadline.clamp(timeout).as_millis()
            );
            self.stats.datagrams_sent += 1;
            if let Err(e) = self.sock.send(&datagram) {
                return Err(self.io_error(&e));
            }
            let now = Instant::now();
            sent_at.push(now);
            let wait_until = now + deadline.clamp(timeout);
            loop {
                let left = wait_until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                if let Err(e) = self
                    .sock
                    .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                {
                    return Err(self.io_error(&e));
                }
                match self.sock.recv(&mut buf) {
                    Ok(n) => {
                        let got = buf.get(..n).unwrap_or(&[]);
                        match ex.accept(got) {
                            Accept::Done(out, answered) => {
                                let idx = answered.unwrap_or(attempt) as usize;
                                if let Some(at) = sent_at.get(idx) {
                                    self.record_rtt(at.elapsed());
                                }
                                self.stats.exchanges += 1;
                                log::debug!(
                                    "BMC {}: ← answer to {} (try {})",
                                    self.peer,
                                    ex.name(),
                                    idx + 1
                                );
                                return Ok(out);
                            }
                            Accept::Ignore => {
                                log::debug!(
                                    "BMC {}: ignored a {}-byte datagram while waiting for {}",
                                    self.peer,
                                    n,
                                    ex.name()
                                );
                            }
                        }
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        break;
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(self.io_error(&e)),
                }
            }
            attempt += 1;
            timeout = timeout.saturating_mul(2).min(cap);
        }
    }

    fn drain(&mut self) {
        if self.sock.set_nonblocking(true).is_err() {
            return;
        }
        let mut buf = [0u8; RECV_BUFFER];
        // Bounded: a flood cannot keep us here.
        for _ in 0..64 {
            if self.sock.recv(&mut buf).is_err() {
                break;
            }
        }
        let _ = self.sock.set_nonblocking(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_follow_the_round_trip_time() {
        let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let mut link = Link::connect(peer, Timing::default()).unwrap();
        let ms = Duration::from_millis;
        // Unknown BMC: 250 ms, doubling up to 1 s.
        assert_eq!(link.first_timeout(&Policy::default()), ms(250));
        assert_eq!(link.backoff_cap(), ms(1000));
        // A fast BMC: the floor, and loss is retried every 250–500 ms.
        link.record_rtt(ms(2));
        assert_eq!(link.first_timeout(&Policy::default()), ms(250));
        assert_eq!(link.backoff_cap(), ms(500));
        // A slow one: four round trips first, up to the 2 s ceiling.
        let mut slow = Link::connect(peer, Timing::default()).unwrap();
        slow.record_rtt(ms(400));
        assert_eq!(slow.first_timeout(&Policy::default()), ms(1600));
        assert_eq!(slow.backoff_cap(), ms(2000));
        // Non-idempotent requests wait longer before a second copy.
        let careful = Policy {
            min_first_timeout: Some(ms(1000)),
            ..Policy::default()
        };
        assert_eq!(link.first_timeout(&careful), ms(1000));
    }

    #[test]
    fn resolves_literals_and_brackets() {
        assert_eq!(resolve("127.0.0.1", 623).unwrap()[0].port(), 623);
        assert!(resolve("[::1]", 9).unwrap()[0].is_ipv6());
        assert!(resolve("::1", 9).unwrap()[0].is_ipv6());
        assert!(resolve("", 9).is_err());
        assert!(matches!(
            resolve("no-such-host.invalid", 623),
            Err(IpmiError::Resolve { .. })
        ));
    }
}
