//! A UDP relay between one client and a BMC: it records every datagram
//! (to capture real exchanges as test fixtures) and can lose a share of
//! them (to put loss in front of a BMC that has no fault modes, ipmi_sim).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::rng::SplitMix64;

/// Which way a datagram went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to BMC.
    ToBmc,
    /// BMC to client.
    ToClient,
}

impl Direction {
    /// `C>S` or `S>C`, as the fixture files write it.
    pub fn tag(self) -> &'static str {
        match self {
            Direction::ToBmc => "C>S",
            Direction::ToClient => "S>C",
        }
    }
}

/// A datagram seen by the relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub direction: Direction,
    pub bytes: Vec<u8>,
    /// Whether the relay dropped it.
    pub dropped: bool,
}

#[derive(Debug, Default)]
struct State {
    captured: Vec<Captured>,
    last_activity: Option<Instant>,
}

/// A running relay; stops when dropped.
#[derive(Debug)]
pub struct Relay {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// Listen on `listen` (loopback) and forward to `target` (loopback),
    /// dropping each datagram with probability `drop_ratio`.
    pub fn start(
        listen: SocketAddr,
        target: SocketAddr,
        drop_ratio: f64,
        seed: u64,
    ) -> io::Result<Relay> {
        if !listen.ip().is_loopback() || !target.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the relay works on loopback only",
            ));
        }
        let front = UdpSocket::bind(listen)?;
        let addr = front.local_addr()?;
        let back_local: SocketAddr = if target.is_ipv4() {
            SocketAddr::from(([127, 0, 0, 1], 0))
        } else {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 0))
        };
        let back = UdpSocket::bind(back_local)?;
        back.connect(target)?;
        front.set_read_timeout(Some(Duration::from_millis(5)))?;
        back.set_read_timeout(Some(Duration::from_millis(5)))?;
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name(format!("relay-{}", addr.port()))
                .spawn(move || run(&front, &back, &state, &stop, drop_ratio, seed))?
        };
        Ok(Relay {
            addr,
            state,
            stop,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn captured(&self) -> Vec<Captured> {
        self.state
            .lock()
            .map(|s| s.captured.clone())
            .unwrap_or_default()
    }

    /// Time since the last datagram (or since start if none yet).
    pub fn idle_for(&self) -> Option<Duration> {
        self.state
            .lock()
            .ok()
            .and_then(|s| s.last_activity.map(|t| t.elapsed()))
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(
    front: &UdpSocket,
    back: &UdpSocket,
    state: &Mutex<State>,
    stop: &AtomicBool,
    drop_ratio: f64,
    seed: u64,
) {
    let mut rng = SplitMix64::new(seed);
    let mut client: Option<SocketAddr> = None;
    let mut buf = [0u8; 4096];
    let record = |direction, bytes: &[u8], dropped| {
        if let Ok(mut s) = state.lock() {
            s.captured.push(Captured {
                direction,
                bytes: bytes.to_vec(),
                dropped,
            });
            s.last_activity = Some(Instant::now());
        }
    };
    while !stop.load(Ordering::SeqCst) {
        if let Ok((n, from)) = front.recv_from(&mut buf) {
            client = Some(from);
            let bytes = buf.get(..n).unwrap_or(&[]);
            let dropped = rng.chance(drop_ratio);
            record(Direction::ToBmc, bytes, dropped);
            if !dropped {
                let _ = back.send(bytes);
            }
        }
        match back.recv(&mut buf) {
            Ok(n) => {
                let bytes = buf.get(..n).unwrap_or(&[]);
                let dropped = rng.chance(drop_ratio);
                record(Direction::ToClient, bytes, dropped);
                if let (false, Some(to)) = (dropped, client) {
                    let _ = front.send_to(bytes, to);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                // The BMC is not there; the client will time out as it would.
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relays_and_records_both_ways() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let relay = Relay::start(
            "127.0.0.1:0".parse().unwrap(),
            server.local_addr().unwrap(),
            0.0,
            1,
        )
        .unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.connect(relay.addr()).unwrap();
        client.send(b"ping").unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ping");
        server.send_to(b"pong", from).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let n = client.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"pong");
        let cap = relay.captured();
        assert_eq!(cap.len(), 2);
        assert_eq!(cap[0].direction, Direction::ToBmc);
        assert_eq!(cap[1].bytes, b"pong");
    }
}
