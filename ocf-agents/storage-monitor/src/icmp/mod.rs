//! ICMP echo to every storage address at once, in-process.
//!
//! `ocf:pacemaker:ping` forks `ping` once per address (or `fping`), plus a
//! shell pipeline around it; that is most of its 30 ms of CPU per monitor.
//! Here one socket per address family sends round `k` of echoes to every
//! address at `k × interval`, and a single `poll` loop collects the replies
//! until every echo is answered or has timed out, or the operation's
//! deadline comes. Nothing blocks: a network that swallows everything costs
//! `(count − 1) × interval + timeout` of wall time and almost no CPU.

pub mod packet;
pub mod socket;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use umha_common::Deadline;

pub use packet::Family;
pub use socket::{EchoSocket, OpenError, SocketKind};

use packet::{EchoId, echo_request, parse_reply};

/// How each address is probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoPlan {
    /// Echoes per address (UMHA `ping_count`, ping's `attempts`).
    pub count: u32,
    /// Between two echoes to the same address.
    pub interval: Duration,
    /// How long a reply may take before that echo counts as lost.
    pub timeout: Duration,
}

impl EchoPlan {
    /// The longest a check can take: every echo sent on schedule, the last
    /// one waited for until its timeout.
    pub fn duration(&self) -> Duration {
        self.interval
            .saturating_mul(self.count.saturating_sub(1))
            .saturating_add(self.timeout)
    }
}

/// Why echoes could not be sent; shown to operators in the detail attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFailure {
    /// No route, or a blackhole/unreachable route (ENETUNREACH, EHOSTUNREACH, EINVAL).
    NoRoute,
    /// A local firewall or a `prohibit` route (EPERM, EACCES).
    Denied,
    /// No ICMP socket of this family could be opened.
    NoSocket,
    /// Anything else (e.g. a full send buffer).
    Other,
}

impl SendFailure {
    pub fn from_io(err: &io::Error) -> SendFailure {
        match err.kind() {
            io::ErrorKind::NetworkUnreachable | io::ErrorKind::HostUnreachable => {
                SendFailure::NoRoute
            }
            io::ErrorKind::PermissionDenied => SendFailure::Denied,
            // A `blackhole` route answers local senders with EINVAL.
            _ if err.raw_os_error() == Some(22) => SendFailure::NoRoute,
            _ => SendFailure::Other,
        }
    }

    /// One word for the detail attribute.
    pub fn token(self) -> &'static str {
        match self {
            SendFailure::NoRoute => "no-route",
            SendFailure::Denied => "denied",
            SendFailure::NoSocket => "no-socket",
            SendFailure::Other => "send-error",
        }
    }
}

/// What happened to the echoes of one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoOutcome {
    pub address: IpAddr,
    /// Handed to the kernel.
    pub sent: u32,
    /// Replies that came back within the timeout.
    pub answered: u32,
    /// Sent, but no reply within the timeout.
    pub timed_out: u32,
    /// Could not be sent at all.
    pub failed: u32,
    /// Why the last failed one failed.
    pub failure: Option<SendFailure>,
}

impl EchoOutcome {
    pub fn new(address: IpAddr) -> Self {
        Self {
            address,
            sent: 0,
            answered: 0,
            timed_out: 0,
            failed: 0,
            failure: None,
        }
    }

    /// Echoes with a result; an echo still in flight when the deadline came
    /// is not one of them (it is neither answered nor known to be lost).
    pub fn completed(&self) -> u32 {
        self.answered + self.timed_out + self.failed
    }

    pub fn lost(&self) -> u32 {
        self.timed_out + self.failed
    }
}

/// Something that can tell which addresses answer: ICMP for real, a fake in tests.
pub trait Prober {
    /// One outcome per target, in order. Must return by `deadline`.
    /// Targets × `plan.count` must stay below 65536 (one sequence number
    /// each); the parameters' bounds keep it far below.
    fn probe(&self, targets: &[IpAddr], plan: &EchoPlan, deadline: Deadline) -> Vec<EchoOutcome>;

    /// Whether this node can send echoes of these families at all.
    fn check_access(&self, families: &[Family]) -> Result<(), OpenError>;
}

/// The real prober.
#[derive(Debug, Clone, Copy, Default)]
pub struct IcmpProber;

impl Prober for IcmpProber {
    fn probe(&self, targets: &[IpAddr], plan: &EchoPlan, deadline: Deadline) -> Vec<EchoOutcome> {
        let mut outcomes: Vec<EchoOutcome> = targets.iter().map(|a| EchoOutcome::new(*a)).collect();
        if targets.is_empty() || plan.count == 0 {
            return outcomes;
        }
        let mut sockets = Vec::new();
        for family in [Family::V4, Family::V6] {
            if !targets.iter().any(|a| Family::of(a) == family) {
                continue;
            }
            match EchoSocket::open(family) {
                Ok(s) => {
                    log::debug!("{} echo via {:?} socket", family.name(), s.kind);
                    sockets.push(s);
                }
                Err(e) => {
                    log::warn!("{e}");
                    for o in outcomes
                        .iter_mut()
                        .filter(|o| Family::of(&o.address) == family)
                    {
                        o.failed = plan.count;
                        o.failure = Some(SendFailure::NoSocket);
                    }
                }
            }
        }
        if !sockets.is_empty() {
            Round::new(&sockets, targets, plan).run(deadline, &mut outcomes);
        }
        outcomes
    }

    fn check_access(&self, families: &[Family]) -> Result<(), OpenError> {
        for family in families {
            EchoSocket::open(*family)?;
        }
        Ok(())
    }
}

/// One check: the identifiers of this run and the echoes in flight.
struct Round<'a> {
    sockets: &'a [EchoSocket],
    targets: &'a [IpAddr],
    plan: &'a EchoPlan,
    /// For raw sockets; ping sockets get theirs from the kernel.
    ident: u16,
    /// Sequence numbers of this run are `base + slot`, `slot = target × count + echo`.
    base: u16,
    cookie: u64,
    /// When each slot's echo was sent, while it is in flight.
    in_flight: Vec<Option<Instant>>,
    pending: usize,
}

impl<'a> Round<'a> {
    fn new(sockets: &'a [EchoSocket], targets: &'a [IpAddr], plan: &'a EchoPlan) -> Self {
        let r = random_u64();
        Self {
            sockets,
            targets,
            plan,
            ident: (r >> 48) as u16,
            base: (r >> 32) as u16,
            cookie: random_u64(),
            in_flight: vec![None; targets.len() * plan.count as usize],
            pending: 0,
        }
    }

    fn run(mut self, deadline: Deadline, outcomes: &mut [EchoOutcome]) {
        let count = self.plan.count as usize;
        let start = Instant::now();
        let far = start + Duration::from_secs(86_400);
        let send_time = |round: usize| {
            let offset =
                (self.plan.interval).saturating_mul(u32::try_from(round).unwrap_or(u32::MAX));
            start.checked_add(offset).unwrap_or(far)
        };
        let mut round = 0usize;
        let mut buf = [0u8; 2048];
        loop {
            while round < count && Instant::now() >= send_time(round) {
                self.send_round(round, outcomes);
                round += 1;
            }
            let now = Instant::now();
            self.expire(now, outcomes);
            if round >= count && self.pending == 0 {
                break;
            }
            // Deadline::never() only happens when run by hand; still wake up now and then.
            let left = deadline.remaining().unwrap_or(Duration::from_secs(3600));
            if left.is_zero() {
                break;
            }
            let mut wake = left;
            if round < count {
                wake = wake.min(send_time(round).saturating_duration_since(now));
            }
            if let Some(next_expiry) = self.next_expiry(now) {
                wake = wake.min(next_expiry);
            }
            self.wait(wake);
            for socket in self.sockets {
                self.drain(socket, &mut buf, outcomes);
            }
        }
    }

    fn send_round(&mut self, round: usize, outcomes: &mut [EchoOutcome]) {
        let count = self.plan.count as usize;
        for (i, addr) in self.targets.iter().enumerate() {
            let family = Family::of(addr);
            let Some(socket) = self.sockets.iter().find(|s| s.family == family) else {
                continue; // No socket: already counted as failed.
            };
            let slot = i * count + round;
            let id = EchoId {
                ident: self.ident,
                seq: self.base.wrapping_add(slot as u16),
                cookie: self.cookie,
            };
            let packet = echo_request(family, id);
            match socket.socket.send_to(&packet, SocketAddr::new(*addr, 0)) {
                Ok(_) => {
                    outcomes[i].sent += 1;
                    self.in_flight[slot] = Some(Instant::now());
                    self.pending += 1;
                }
                Err(e) => {
                    log::debug!("echo to {addr}: {e}");
                    outcomes[i].failed += 1;
                    outcomes[i].failure = Some(SendFailure::from_io(&e));
                }
            }
        }
    }

    fn expire(&mut self, now: Instant, outcomes: &mut [EchoOutcome]) {
        let count = self.plan.count as usize;
        for (slot, sent) in self.in_flight.iter_mut().enumerate() {
            if let Some(at) = *sent
                && now.saturating_duration_since(at) >= self.plan.timeout
            {
                *sent = None;
                self.pending -= 1;
                outcomes[slot / count].timed_out += 1;
            }
        }
    }

    fn next_expiry(&self, now: Instant) -> Option<Duration> {
        self.in_flight
            .iter()
            .flatten()
            .map(|at| {
                self.plan
                    .timeout
                    .saturating_sub(now.saturating_duration_since(*at))
            })
            .min()
    }

    /// Sleep until a socket is readable or `wake` has passed.
    fn wait(&self, wake: Duration) {
        // Round up: a 0 ms poll for a 0.4 ms wait would spin.
        let ms = wake.as_micros().div_ceil(1000).min(60_000);
        let timeout = PollTimeout::try_from(ms as u32).unwrap_or(PollTimeout::MAX);
        let mut fds: Vec<PollFd<'_>> = self
            .sockets
            .iter()
            .map(|s| PollFd::new(s.socket.as_fd(), PollFlags::POLLIN))
            .collect();
        // EINTR or anything else: the loop re-evaluates the clock and retries.
        let _ = nix::poll::poll(&mut fds, timeout);
    }

    fn drain(&mut self, socket: &EchoSocket, buf: &mut [u8], outcomes: &mut [EchoOutcome]) {
        // Bounded, so a flood of foreign ICMP on a raw socket cannot keep us here.
        for _ in 0..4096 {
            let (len, from) = match socket.socket.recv_from(buf) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // Ping sockets may report a queued ICMP error here.
                    log::debug!("{} ICMP socket: {e}", socket.family.name());
                    return;
                }
            };
            let Some(data) = buf.get(..len) else { return };
            self.receive(socket, data, from, outcomes);
        }
    }

    fn receive(
        &mut self,
        socket: &EchoSocket,
        data: &[u8],
        from: SocketAddr,
        outcomes: &mut [EchoOutcome],
    ) {
        let Some((ident, seq)) =
            parse_reply(socket.family, socket.has_ip_header(), data, self.cookie)
        else {
            return;
        };
        if !socket.kernel_sets_ident() && ident != self.ident {
            return;
        }
        let slot = usize::from(seq.wrapping_sub(self.base));
        let count = self.plan.count as usize;
        let Some(target) = self.targets.get(slot / count) else {
            return;
        };
        if from.ip().to_canonical() != *target {
            return;
        }
        if let Some(at) = self.in_flight.get_mut(slot).and_then(Option::take) {
            self.pending -= 1;
            let outcome = &mut outcomes[slot / count];
            if at.elapsed() <= self.plan.timeout {
                outcome.answered += 1;
            } else {
                outcome.timed_out += 1;
            }
        }
    }
}

/// Unpredictable enough to tell our run's replies from anyone else's.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one((std::process::id(), Instant::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: EchoPlan = EchoPlan {
        count: 4,
        interval: Duration::from_millis(20),
        timeout: Duration::from_millis(500),
    };

    fn can_ping(family: Family) -> bool {
        match EchoSocket::open(family) {
            Ok(_) => true,
            Err(e) => {
                println!("SKIPPED: {e}");
                false
            }
        }
    }

    #[test]
    fn plan_duration() {
        assert_eq!(FAST.duration(), Duration::from_millis(560));
        let one = EchoPlan { count: 1, ..FAST };
        assert_eq!(one.duration(), FAST.timeout);
    }

    #[test]
    fn loopback_answers_on_both_families_in_parallel() {
        if !can_ping(Family::V4) || !can_ping(Family::V6) {
            return;
        }
        let targets: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
        let started = Instant::now();
        let outcomes = IcmpProber.probe(&targets, &FAST, Deadline::after(Duration::from_secs(5)));
        let took = started.elapsed();
        for o in &outcomes {
            assert_eq!((o.sent, o.answered, o.lost()), (4, 4, 0), "{o:?}");
        }
        // Rounds go out together: 3 intervals, not 2 × 3.
        assert!(took < Duration::from_millis(400), "{took:?}");
    }

    #[test]
    fn two_probers_at_once_do_not_steal_each_others_replies() {
        if !can_ping(Family::V4) {
            return;
        }
        let targets: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap()];
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let targets = targets.clone();
                std::thread::spawn(move || {
                    IcmpProber.probe(&targets, &FAST, Deadline::after(Duration::from_secs(5)))
                })
            })
            .collect();
        for h in handles {
            let outcomes = h.join().unwrap();
            assert_eq!(outcomes[0].answered, 4, "{outcomes:?}");
            assert_eq!(outcomes[0].completed(), 4, "{outcomes:?}");
        }
    }

    #[test]
    fn the_deadline_cuts_a_long_plan_short() {
        if !can_ping(Family::V4) {
            return;
        }
        let slow = EchoPlan {
            count: 50,
            interval: Duration::from_millis(100),
            timeout: Duration::from_secs(1),
        };
        let targets: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap()];
        let started = Instant::now();
        let outcomes =
            IcmpProber.probe(&targets, &slow, Deadline::after(Duration::from_millis(300)));
        assert!(
            started.elapsed() < Duration::from_millis(450),
            "{:?}",
            started.elapsed()
        );
        let o = &outcomes[0];
        assert!(o.sent >= 2 && o.sent < 10, "{o:?}");
        assert_eq!(o.lost(), 0, "{o:?}");
        assert!(o.completed() < slow.count);
    }

    #[test]
    fn send_failures_are_classified() {
        assert_eq!(
            SendFailure::from_io(&io::Error::from_raw_os_error(101)),
            SendFailure::NoRoute
        );
        assert_eq!(
            SendFailure::from_io(&io::Error::from_raw_os_error(113)),
            SendFailure::NoRoute
        );
        assert_eq!(
            SendFailure::from_io(&io::Error::from_raw_os_error(22)),
            SendFailure::NoRoute
        );
        assert_eq!(
            SendFailure::from_io(&io::Error::from_raw_os_error(1)),
            SendFailure::Denied
        );
        assert_eq!(
            SendFailure::from_io(&io::Error::from_raw_os_error(105)),
            SendFailure::Other
        );
        assert_eq!(SendFailure::NoRoute.token(), "no-route");
    }

    #[test]
    fn outcome_arithmetic() {
        let mut o = EchoOutcome::new("127.0.0.1".parse().unwrap());
        o.answered = 2;
        o.timed_out = 1;
        o.failed = 1;
        assert_eq!((o.completed(), o.lost()), (4, 2));
    }
}
