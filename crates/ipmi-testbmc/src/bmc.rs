//! The BMC: one UDP socket served by one thread.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ipmi_lan::command::{
    self, AuthCaps, AuthCapsRequest, ChassisControl, ChassisStatus, CipherSuitesChunk,
    CipherSuitesRequest, Privilege,
};
use ipmi_lan::crypto::{AuthType, CipherSuite, Key, RakpContext, SessionKeys, random};
use ipmi_lan::error::{CompletionCode, RakpStatus};
use ipmi_lan::message::{Request, Response, net_fn};
use ipmi_lan::packet::{self, Frame, PayloadType, V15Frame, encode_v20};
use ipmi_lan::rakp::{
    Algorithms, OpenSessionRequest, OpenSessionResponse, Rakp1, Rakp2, Rakp3, Rakp4,
};

use crate::rng::SplitMix64;

/// A BMC account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub password: String,
    /// The most this user may get.
    pub max_privilege: Privilege,
}

impl User {
    pub fn new(name: &str, password: &str, max_privilege: Privilege) -> Self {
        Self {
            name: name.into(),
            password: password.into(),
            max_privilege,
        }
    }
}

/// Make the BMC answer a command with a completion code instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CcFault {
    pub net_fn: u8,
    pub cmd: u8,
    pub code: u8,
    /// Only the first `times` requests; `None` for all.
    pub times: Option<u32>,
}

/// Misbehaviours, all off by default.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Faults {
    /// Answer power off (and soft off) with success and do nothing.
    pub ignore_power_off: bool,
    /// Report power off for this many status reads while the power is on.
    pub lie_off_reads: u32,
    /// A power off takes effect only after this many status reads.
    pub off_after_reads: u32,
    /// Drop this share of datagrams, in each direction (seeded).
    pub drop_ratio: f64,
    pub seed: u64,
    /// Delay every answer by this much.
    pub delay: Duration,
    pub completion_codes: Vec<CcFault>,
    /// Forget the first session that has served this many requests (it is
    /// closed mid-way: later packets for it are dropped, like ipmi_sim does).
    pub close_session_after: Option<u32>,
    /// Do not answer Get Channel Cipher Suites (as some BMCs).
    pub no_cipher_suites_answer: bool,
    /// Accept any role in RAKP and enforce the user's limit only at Set
    /// Session Privilege Level (as ipmi_sim does, more leniently).
    pub lenient_role: bool,
}

/// What the BMC is and whom it knows.
#[derive(Debug, Clone)]
pub struct BmcConfig {
    /// Loopback address to bind, port 0 for any.
    pub bind: SocketAddr,
    pub users: Vec<User>,
    /// Cipher suites offered, of 1, 2, 3, 15, 16, 17.
    pub suites: Vec<u8>,
    pub guid: [u8; 16],
    /// BMC key Kg; `None` uses the user passwords.
    pub kg: Option<Vec<u8>>,
    pub power_on: bool,
    pub faults: Faults,
}

impl Default for BmcConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            users: vec![User::new("admin", "admin-pw", Privilege::Administrator)],
            suites: vec![3, 17],
            guid: *b"umha-test-bmc-01",
            kg: None,
            power_on: true,
            faults: Faults::default(),
        }
    }
}

/// Something the BMC did, for tests to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Control(ChassisControl),
    /// A power off request ignored by [`Faults::ignore_power_off`].
    IgnoredOff,
    SessionOpened {
        suite: u8,
    },
    SessionClosed,
    SessionDroppedByFault,
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BmcStats {
    pub received: u64,
    pub dropped_in: u64,
    pub dropped_out: u64,
    pub sent: u64,
    pub status_reads: u64,
    pub active_sessions: usize,
}

#[derive(Debug)]
enum Phase {
    /// Open Session answered, waiting for RAKP 1.
    Opened,
    /// RAKP 2 sent.
    Rakp2Sent {
        user: usize,
        console_rand: [u8; 16],
        bmc_rand: [u8; 16],
        role: u8,
    },
    Active {
        keys: SessionKeys,
        rakp4: Vec<u8>,
        rakp3_code: Vec<u8>,
        user: usize,
        role_max: Privilege,
    },
}

#[derive(Debug)]
struct BmcSession {
    console_sid: u32,
    suite: CipherSuite,
    requested_max: u8,
    phase: Phase,
    privilege: Privilege,
    out_seq: u32,
    served: u32,
    last_used: Instant,
}

#[derive(Debug)]
struct Inner {
    config: BmcConfig,
    power_on: bool,
    /// Status reads left before a pending power off happens.
    pending_off_reads: Option<u32>,
    lie_reads_left: u32,
    cc_used: Vec<u32>,
    close_after_armed: bool,
    sessions: HashMap<u32, BmcSession>,
    rng: SplitMix64,
    stats: BmcStats,
    events: Vec<Event>,
}

const MAX_SESSIONS: usize = 64;
const SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A running test BMC; stops when dropped.
#[derive(Debug)]
pub struct TestBmc {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestBmc {
    pub fn start(config: BmcConfig) -> io::Result<TestBmc> {
        if !config.bind.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the test BMC listens on loopback only",
            ));
        }
        let sock = UdpSocket::bind(config.bind)?;
        let addr = sock.local_addr()?;
        let inner = Arc::new(Mutex::new(Inner {
            power_on: config.power_on,
            pending_off_reads: None,
            lie_reads_left: config.faults.lie_off_reads,
            cc_used: vec![0; config.faults.completion_codes.len()],
            close_after_armed: config.faults.close_session_after.is_some(),
            sessions: HashMap::new(),
            rng: SplitMix64::new(config.faults.seed),
            stats: BmcStats::default(),
            events: Vec::new(),
            config,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let inner = Arc::clone(&inner);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name(format!("test-bmc-{}", addr.port()))
                .spawn(move || serve(&sock, &inner, &stop))?
        };
        Ok(TestBmc {
            addr,
            inner,
            stop,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn power_on(&self) -> bool {
        self.lock().power_on
    }

    pub fn set_power(&self, on: bool) {
        let mut i = self.lock();
        i.power_on = on;
        i.pending_off_reads = None;
    }

    /// Replace the fault modes (counters restart).
    pub fn set_faults(&self, faults: Faults) {
        let mut i = self.lock();
        i.lie_reads_left = faults.lie_off_reads;
        i.cc_used = vec![0; faults.completion_codes.len()];
        i.close_after_armed = faults.close_session_after.is_some();
        i.rng = SplitMix64::new(faults.seed);
        i.config.faults = faults;
    }

    pub fn stats(&self) -> BmcStats {
        let i = self.lock();
        BmcStats {
            active_sessions: i
                .sessions
                .values()
                .filter(|s| matches!(s.phase, Phase::Active { .. }))
                .count(),
            ..i.stats
        }
    }

    pub fn events(&self) -> Vec<Event> {
        self.lock().events.clone()
    }

    /// The chassis control actions carried out (or ignored) so far.
    pub fn controls(&self) -> Vec<ChassisControl> {
        self.lock()
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Control(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    /// Stop serving and wait for the thread (at most one poll interval).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TestBmc {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(sock: &UdpSocket, inner: &Mutex<Inner>, stop: &AtomicBool) {
    let mut queue: VecDeque<(Instant, SocketAddr, Vec<u8>)> = VecDeque::new();
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        while queue.front().is_some_and(|(due, _, _)| *due <= now) {
            if let Some((_, to, bytes)) = queue.pop_front() {
                let _ = sock.send_to(&bytes, to);
            }
        }
        let wait = queue
            .front()
            .map(|(due, _, _)| due.saturating_duration_since(now))
            .unwrap_or(Duration::from_millis(50))
            .clamp(Duration::from_millis(1), Duration::from_millis(50));
        let _ = sock.set_read_timeout(Some(wait));
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let mut i = inner.lock().unwrap_or_else(|e| e.into_inner());
        i.stats.received += 1;
        let ratio = i.config.faults.drop_ratio;
        if i.rng.chance(ratio) {
            i.stats.dropped_in += 1;
            continue;
        }
        let Some(reply) = i.handle(buf.get(..n).unwrap_or(&[])) else {
            continue;
        };
        if i.rng.chance(ratio) {
            i.stats.dropped_out += 1;
            continue;
        }
        i.stats.sent += 1;
        let due = Instant::now() + i.config.faults.delay;
        drop(i);
        if due <= Instant::now() {
            let _ = sock.send_to(&reply, from);
        } else {
            queue.push_back((due, from, reply));
        }
    }
}

impl Inner {
    fn handle(&mut self, datagram: &[u8]) -> Option<Vec<u8>> {
        match packet::decode(datagram).ok()? {
            Frame::V15(f) if f.session_id == 0 && f.auth_type == 0 => {
                let req = Request::decode(f.message).ok()?;
                let rsp = self.presession(&req)?;
                Some(
                    V15Frame {
                        auth_type: 0,
                        session_seq: 0,
                        session_id: 0,
                        auth_code: None,
                        message: &rsp.encode(),
                    }
                    .encode(),
                )
            }
            // IPMI 1.5 sessions are not implemented: ipmi_sim covers them.
            Frame::V15(_) => None,
            Frame::V20(f) => match f.payload_type {
                PayloadType::Ipmi if f.session_id == 0 && !f.authenticated && !f.encrypted => {
                    let req = Request::decode(f.payload).ok()?;
                    let rsp = self.presession(&req)?;
                    Some(encode_v20(PayloadType::Ipmi, 0, 0, &rsp.encode(), None))
                }
                PayloadType::Ipmi => self.in_session(&f),
                PayloadType::OpenSessionRequest => self.open_session(f.payload),
                PayloadType::Rakp1 => self.rakp1(f.payload),
                PayloadType::Rakp3 => self.rakp3(f.payload),
                _ => None,
            },
        }
    }

    fn cc_fault(&mut self, req: &Request) -> Option<CompletionCode> {
        let faults = &self.config.faults.completion_codes;
        for (i, f) in faults.iter().enumerate() {
            if f.net_fn == req.net_fn && f.cmd == req.cmd {
                let used = self.cc_used.get_mut(i)?;
                if f.times.is_none_or(|t| *used < t) {
                    *used += 1;
                    return Some(CompletionCode(f.code));
                }
            }
        }
        None
    }

    fn presession(&mut self, req: &Request) -> Option<Response> {
        if let Some(code) = self.cc_fault(req) {
            return Some(req.response(code, vec![]));
        }
        let ok = |data: Vec<u8>| Some(req.response(CompletionCode::OK, data));
        match (req.net_fn, req.cmd) {
            (net_fn::APP, 0x38) => {
                let Ok(asked) = AuthCapsRequest::decode(&req.data) else {
                    return Some(req.response(CompletionCode(0xCC), vec![]));
                };
                ok(AuthCaps {
                    channel: 1,
                    auth_types: AuthType::None.mask(),
                    non_null_users: true,
                    ipmi15: true,
                    ipmi20: asked.v2,
                    kg_set: self.config.kg.is_some(),
                    ..AuthCaps::default()
                }
                .encode())
            }
            (net_fn::APP, 0x54) => {
                if self.config.faults.no_cipher_suites_answer {
                    return None;
                }
                let Ok(asked) = CipherSuitesRequest::decode(&req.data) else {
                    return Some(req.response(CompletionCode(0xCC), vec![]));
                };
                let records = command::cipher_suite_records(&self.config.suites);
                let start = usize::from(asked.index) * CipherSuitesChunk::MAX;
                let chunk = records
                    .iter()
                    .skip(start)
                    .take(CipherSuitesChunk::MAX)
                    .copied()
                    .collect();
                ok(CipherSuitesChunk {
                    channel: 1,
                    records: chunk,
                }
                .encode())
            }
            (net_fn::APP, 0x39) => Some(req.response(CompletionCode::INVALID_COMMAND, vec![])),
            _ => Some(req.response(CompletionCode::INVALID_COMMAND, vec![])),
        }
    }

    fn open_session(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        let req = OpenSessionRequest::decode(payload).ok()?;
        let refuse = |status: RakpStatus| {
            let rsp = OpenSessionResponse {
                tag: req.tag,
                status,
                max_privilege: 0,
                console_sid: req.console_sid,
                bmc_sid: None,
                algorithms: None,
            };
            Some(encode_v20(
                PayloadType::OpenSessionResponse,
                0,
                0,
                &rsp.encode(),
                None,
            ))
        };
        let offered: Vec<CipherSuite> = self
            .config
            .suites
            .iter()
            .filter_map(|id| CipherSuite::from_id(*id))
            .collect();
        let algs = req.algorithms;
        let Some(suite) = offered.iter().copied().find(|s| Algorithms::of(*s) == algs) else {
            let status = if !offered.iter().any(|s| s.auth.code() == algs.auth) {
                RakpStatus::INVALID_AUTH_ALGORITHM
            } else if !offered.iter().any(|s| s.integrity.code() == algs.integrity) {
                RakpStatus::INVALID_INTEGRITY_ALGORITHM
            } else if !offered
                .iter()
                .any(|s| s.confidentiality.code() == algs.confidentiality)
            {
                RakpStatus::INVALID_CONFIDENTIALITY_ALGORITHM
            } else {
                RakpStatus::NO_CIPHER_SUITE_MATCH
            };
            return refuse(status);
        };
        if req.max_privilege > Privilege::Administrator.code() {
            return refuse(RakpStatus::INVALID_ROLE);
        }
        self.expire_sessions();
        if self.sessions.len() >= MAX_SESSIONS {
            return refuse(RakpStatus::INSUFFICIENT_RESOURCES);
        }
        let bmc_sid = loop {
            let sid = u32::from_le_bytes(random::<4>());
            if sid != 0 && !self.sessions.contains_key(&sid) {
                break sid;
            }
        };
        let max = if req.max_privilege == 0 {
            Privilege::Administrator.code()
        } else {
            req.max_privilege
        };
        self.sessions.insert(
            bmc_sid,
            BmcSession {
                console_sid: req.console_sid,
                suite,
                requested_max: max,
                phase: Phase::Opened,
                privilege: Privilege::User,
                out_seq: 0,
                served: 0,
                last_used: Instant::now(),
            },
        );
        let rsp = OpenSessionResponse {
            tag: req.tag,
            status: RakpStatus::OK,
            max_privilege: max,
            console_sid: req.console_sid,
            bmc_sid: Some(bmc_sid),
            algorithms: Some(algs),
        };
        Some(encode_v20(
            PayloadType::OpenSessionResponse,
            0,
            0,
            &rsp.encode(),
            None,
        ))
    }

    fn expire_sessions(&mut self) {
        self.sessions
            .retain(|_, s| s.last_used.elapsed() < SESSION_IDLE_TIMEOUT);
    }

    fn rakp1(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        let req = Rakp1::decode(payload).ok()?;
        let reply = |status: RakpStatus, console_sid: u32| {
            let r = Rakp2 {
                tag: req.tag,
                status,
                console_sid,
                bmc_rand: [0; 16],
                bmc_guid: [0; 16],
                auth_code: vec![],
            };
            Some(encode_v20(PayloadType::Rakp2, 0, 0, &r.encode(), None))
        };
        let guid = self.config.guid;
        let lenient = self.config.faults.lenient_role;
        let user_idx = self
            .config
            .users
            .iter()
            .position(|u| u.name.as_bytes() == req.user.as_slice());
        let Some(session) = self.sessions.get_mut(&req.bmc_sid) else {
            return reply(RakpStatus::INVALID_SESSION_ID, 0);
        };
        if matches!(session.phase, Phase::Active { .. }) {
            return reply(RakpStatus::INVALID_SESSION_ID, session.console_sid);
        }
        let console_sid = session.console_sid;
        let Some(user_idx) = user_idx else {
            self.sessions.remove(&req.bmc_sid);
            return reply(RakpStatus::UNAUTHORIZED_NAME, console_sid);
        };
        let user = self.config.users.get(user_idx)?;
        let Some(role_priv) = Privilege::from_code(req.role) else {
            return reply(RakpStatus::INVALID_ROLE, console_sid);
        };
        if !lenient && role_priv > user.max_privilege {
            self.sessions.remove(&req.bmc_sid);
            return reply(RakpStatus::UNAUTHORIZED_ROLE, console_sid);
        }
        let session = self.sessions.get_mut(&req.bmc_sid)?;
        session.last_used = Instant::now();
        let bmc_rand = random::<16>();
        let ctx = RakpContext {
            auth: session.suite.auth,
            console_sid,
            bmc_sid: req.bmc_sid,
            console_rand: req.console_rand,
            bmc_rand,
            bmc_guid: guid,
            role: req.role,
            user: &req.user,
        };
        let code = ctx.rakp2_code(&Key::from_slice(user.password.as_bytes()));
        session.phase = Phase::Rakp2Sent {
            user: user_idx,
            console_rand: req.console_rand,
            bmc_rand,
            role: req.role,
        };
        let r = Rakp2 {
            tag: req.tag,
            status: RakpStatus::OK,
            console_sid,
            bmc_rand,
            bmc_guid: guid,
            auth_code: code,
        };
        Some(encode_v20(PayloadType::Rakp2, 0, 0, &r.encode(), None))
    }

    fn rakp3(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        let req = Rakp3::decode(payload).ok()?;
        let session = self.sessions.get_mut(&req.bmc_sid)?;
        let console_sid = session.console_sid;
        let reply = |status: RakpStatus, icv: Vec<u8>| {
            let r = Rakp4 {
                tag: req.tag,
                status,
                console_sid,
                icv,
            };
            Some(encode_v20(PayloadType::Rakp4, 0, 0, &r.encode(), None))
        };
        if !req.status.is_ok() {
            // The console gave up (e.g. our RAKP 2 did not verify).
            self.sessions.remove(&req.bmc_sid);
            return None;
        }
        match &session.phase {
            Phase::Opened => reply(RakpStatus::INVALID_SESSION_ID, vec![]),
            // A retransmitted RAKP 3 (its RAKP 4 was lost): answer the same.
            Phase::Active {
                rakp4, rakp3_code, ..
            } => {
                if ipmi_lan::crypto::ct_eq(rakp3_code, &req.auth_code) {
                    reply(RakpStatus::OK, rakp4.clone())
                } else {
                    reply(RakpStatus::INVALID_INTEGRITY_CHECK, vec![])
                }
            }
            Phase::Rakp2Sent {
                user,
                console_rand,
                bmc_rand,
                role,
            } => {
                let user_idx = *user;
                let u = self.config.users.get(user_idx)?;
                let password = Key::from_slice(u.password.as_bytes());
                let ctx = RakpContext {
                    auth: session.suite.auth,
                    console_sid,
                    bmc_sid: req.bmc_sid,
                    console_rand: *console_rand,
                    bmc_rand: *bmc_rand,
                    bmc_guid: self.config.guid,
                    role: *role,
                    user: u.name.as_bytes(),
                };
                let want = ctx.rakp3_code(&password);
                if !ipmi_lan::crypto::ct_eq(&want, &req.auth_code) {
                    self.sessions.remove(&req.bmc_sid);
                    return reply(RakpStatus::INVALID_INTEGRITY_CHECK, vec![]);
                }
                let kg = self.config.kg.as_ref().map(|k| Key::from_slice(k));
                let sik = ctx.sik(kg.as_ref().unwrap_or(&password));
                let icv = ctx.rakp4_icv(&sik);
                let role_priv = Privilege::from_code(*role).unwrap_or(Privilege::User);
                let suite_id = session.suite.id;
                session.phase = Phase::Active {
                    keys: SessionKeys::derive(session.suite, &sik),
                    rakp4: icv.clone(),
                    rakp3_code: want,
                    user: user_idx,
                    role_max: role_priv,
                };
                session.privilege = role_priv.min(Privilege::User);
                session.last_used = Instant::now();
                self.events.push(Event::SessionOpened { suite: suite_id });
                reply(RakpStatus::OK, icv)
            }
        }
    }

    fn in_session(&mut self, frame: &ipmi_lan::packet::V20Frame<'_>) -> Option<Vec<u8>> {
        let sid = frame.session_id;
        let session = self.sessions.get_mut(&sid)?;
        let Phase::Active { keys, .. } = &session.phase else {
            return None;
        };
        let payload = frame.open(Some(keys)).ok()?;
        let req = Request::decode(&payload).ok()?;
        session.last_used = Instant::now();
        session.served += 1;
        let served = session.served;
        let (completion, data, close) = self.execute(sid, &req);
        let session = self.sessions.get_mut(&sid)?;
        let Phase::Active { keys, .. } = &session.phase else {
            return None;
        };
        session.out_seq = session.out_seq.wrapping_add(1).max(1);
        let bytes = encode_v20(
            PayloadType::Ipmi,
            session.console_sid,
            session.out_seq,
            &req.response(completion, data).encode(),
            Some(keys),
        );
        if let Some(closed_sid) = close {
            self.sessions.remove(&closed_sid);
            self.events.push(Event::SessionClosed);
        }
        if self.close_after_armed
            && self
                .config
                .faults
                .close_session_after
                .is_some_and(|n| served >= n)
        {
            self.close_after_armed = false;
            self.sessions.remove(&sid);
            self.events.push(Event::SessionDroppedByFault);
        }
        Some(bytes)
    }

    /// Run one in-session command: completion code, data, and a session to close.
    fn execute(&mut self, sid: u32, req: &Request) -> (CompletionCode, Vec<u8>, Option<u32>) {
        const OK: CompletionCode = CompletionCode::OK;
        let none = (CompletionCode::INVALID_COMMAND, vec![], None);
        let Some(session) = self.sessions.get(&sid) else {
            return none;
        };
        let privilege = session.privilege;
        let (user_max, role_max) = match &session.phase {
            Phase::Active { user, role_max, .. } => (
                self.config
                    .users
                    .get(*user)
                    .map_or(Privilege::Callback, |u| u.max_privilege),
                *role_max,
            ),
            _ => return none,
        };
        let requested_max = session.requested_max;
        // Close Session and privilege changes work whatever the fault says.
        if let Some(code) = self.cc_fault(req) {
            return (code, vec![], None);
        }
        match (req.net_fn, req.cmd) {
            (net_fn::APP, 0x01) => (
                OK,
                // Get Device ID: device 0x20, rev 1, fw 1.0, IPMI 2.0, chassis device.
                vec![
                    0x20, 0x01, 0x01, 0x00, 0x02, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
                ],
                None,
            ),
            (net_fn::APP, 0x3B) => {
                let Some(&level) = req.data.first() else {
                    return (CompletionCode(0xC7), vec![], None);
                };
                if level & 0x0F == 0 {
                    return (OK, vec![privilege.code()], None);
                }
                let Some(wanted) = Privilege::from_code(level) else {
                    return (CompletionCode(0xCC), vec![], None);
                };
                let limit = user_max
                    .min(role_max)
                    .min(Privilege::from_code(requested_max).unwrap_or(Privilege::Administrator));
                if wanted > user_max {
                    return (CompletionCode(0x81), vec![], None);
                }
                if wanted > limit {
                    return (CompletionCode(0x80), vec![], None);
                }
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.privilege = wanted;
                }
                (OK, vec![wanted.code()], None)
            }
            (net_fn::APP, 0x3C) => {
                let Some(bytes) = req.data.get(..4) else {
                    return (CompletionCode(0xC7), vec![], None);
                };
                let mut b = [0u8; 4];
                b.copy_from_slice(bytes);
                let target = u32::from_le_bytes(b);
                if self.sessions.contains_key(&target) {
                    (OK, vec![], Some(target))
                } else {
                    (CompletionCode(0x87), vec![], None)
                }
            }
            (net_fn::CHASSIS, 0x01) => {
                if privilege < Privilege::User {
                    return (CompletionCode::INSUFFICIENT_PRIVILEGE, vec![], None);
                }
                self.stats.status_reads += 1;
                if let Some(left) = self.pending_off_reads {
                    if left == 0 {
                        self.power_on = false;
                        self.pending_off_reads = None;
                    } else {
                        self.pending_off_reads = Some(left - 1);
                    }
                }
                let mut on = self.power_on;
                if on && self.lie_reads_left > 0 {
                    self.lie_reads_left -= 1;
                    on = false;
                }
                let status = ChassisStatus {
                    power_on: on,
                    restore_policy: 0,
                    ..ChassisStatus::default()
                };
                (OK, status.encode(), None)
            }
            (net_fn::CHASSIS, 0x02) => {
                if privilege < Privilege::Operator {
                    return (CompletionCode::INSUFFICIENT_PRIVILEGE, vec![], None);
                }
                let Some(action) = req.data.first().and_then(|b| ChassisControl::from_code(*b))
                else {
                    return (CompletionCode(0xCC), vec![], None);
                };
                match action {
                    ChassisControl::PowerOff | ChassisControl::SoftShutdown => {
                        if self.config.faults.ignore_power_off {
                            self.events.push(Event::IgnoredOff);
                        } else if self.config.faults.off_after_reads > 0 && self.power_on {
                            self.pending_off_reads = Some(self.config.faults.off_after_reads);
                            self.events.push(Event::Control(action));
                        } else {
                            self.power_on = false;
                            self.events.push(Event::Control(action));
                        }
                    }
                    ChassisControl::PowerOn => {
                        self.power_on = true;
                        self.pending_off_reads = None;
                        self.events.push(Event::Control(action));
                    }
                    ChassisControl::PowerCycle | ChassisControl::HardReset => {
                        // Off and back on at once: the power state reads on.
                        if action == ChassisControl::PowerCycle && !self.power_on {
                            // IPMI: a cycle of a powered-off chassis may be refused.
                            return (CompletionCode(0xD5), vec![], None);
                        }
                        self.power_on = true;
                        self.events.push(Event::Control(action));
                    }
                    ChassisControl::DiagnosticInterrupt => {
                        self.events.push(Event::Control(action));
                    }
                }
                (OK, vec![], None)
            }
            // Also answered outside a session.
            (net_fn::APP, 0x38 | 0x54) => match self.presession(req) {
                Some(rsp) => (rsp.completion, rsp.data, None),
                None => none,
            },
            _ => none,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_non_loopback() {
        let cfg = BmcConfig {
            bind: SocketAddr::from(([0, 0, 0, 0], 0)),
            ..BmcConfig::default()
        };
        assert!(TestBmc::start(cfg).is_err());
    }

    #[test]
    fn starts_and_stops() {
        let mut bmc = TestBmc::start(BmcConfig::default()).unwrap();
        assert_ne!(bmc.port(), 0);
        assert!(bmc.power_on());
        bmc.set_power(false);
        assert!(!bmc.power_on());
        bmc.stop();
    }
}
