//! An authenticated session with a BMC: what a fence agent uses.
//!
//! A status query costs five request/response exchanges with an explicit
//! cipher suite (Open Session, RAKP 1, RAKP 3, Get Chassis Status, Close
//! Session), against about eleven for `ipmitool` (which also sends
//! Get Channel Authentication Capabilities, Set Session Privilege Level and
//! several capability probes). The privilege level is raised only before a
//! command that needs it (Chassis Control), and Get Channel Cipher Suites is
//! sent only when the suite is chosen automatically.
//!
//! If an established session stops answering (the BMC closed or forgot it),
//! a new one is opened once per request, inside the same deadline.

use std::time::Duration;

use umha_common::Deadline;

use crate::command::{
    self, ActivateRequest, Activated, AuthCaps, AuthCapsRequest, CURRENT_CHANNEL, Challenge,
    ChallengeRequest, ChassisControl, ChassisStatus, CipherSuitesChunk, CipherSuitesRequest,
    Command, Privilege,
};
use crate::config::{Config, Credentials};
use crate::crypto::{AuthType, CipherSuite, Key, RakpContext, SessionKeys, random, v15_auth_code};
use crate::error::{AuthFailure, CompletionCode, DecodeError, IpmiError, RakpStatus};
use crate::message::{Request, Response};
use crate::packet::{self, Frame, PayloadType, V15Frame, encode_v20};
use crate::rakp::{
    Algorithms, NAME_ONLY_LOOKUP, OpenSessionRequest, OpenSessionResponse, Rakp1, Rakp2, Rakp3,
    Rakp4,
};
use crate::transport::{Accept, Exchange, Link, Policy, Stats, resolve};

/// Tries of an in-session request before the session is presumed lost and reopened.
const TRIES_BEFORE_REOPEN: u32 = 4;
/// Tries of RAKP 1 or RAKP 3 before the handshake starts over.
const RAKP_TRIES: u32 = 4;
/// Whole handshakes tried before giving up (within the deadline anyway).
const HANDSHAKE_ROUNDS: u32 = 4;
/// Non-idempotent chassis actions wait this long before a retransmission.
const NON_IDEMPOTENT_FIRST_TIMEOUT: Duration = Duration::from_secs(1);
/// Budget of the Close Session sent when a session is dropped or closed.
const CLOSE_BUDGET: Duration = Duration::from_millis(1000);
const DROP_CLOSE_BUDGET: Duration = Duration::from_millis(500);

/// Which protocol the session speaks, with its state.
#[derive(Debug)]
enum Proto {
    Lanplus(Lanplus),
    V15(V15),
}

#[derive(Debug)]
struct Lanplus {
    console_sid: u32,
    bmc_sid: u32,
    keys: SessionKeys,
    /// Last session sequence number sent.
    seq: u32,
}

impl Lanplus {
    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }
}

#[derive(Debug)]
struct V15 {
    session_id: u32,
    auth: AuthType,
    /// Next session sequence number to send.
    seq: u32,
    per_message_auth_disabled: bool,
}

/// A live session. Dropping it closes it (bounded to half a second).
#[derive(Debug)]
pub struct Session {
    link: Link,
    config: Config,
    creds: Credentials,
    deadline: Deadline,
    proto: Proto,
    /// Last 6-bit request sequence number used.
    rq_seq: u8,
    /// Current operating privilege of the session.
    privilege: Privilege,
    /// Set once the configured privilege was reached, so a reopened session
    /// gets it back at once.
    raised: bool,
    suite: Option<u8>,
    reopened: u32,
    closed: bool,
}

impl Session {
    /// Open a session with the BMC of `config`, all within `deadline`, which
    /// also bounds every later call until [`Session::set_deadline`].
    pub fn open(config: &Config, deadline: Deadline) -> Result<Session, IpmiError> {
        let creds = config.credentials()?;
        let addrs = resolve(&config.host, config.port)?;
        let mut last_err = None;
        for addr in addrs {
            let mut link = Link::connect(addr, config.timing)?;
            let mut rq_seq = 0u8;
            match establish(&mut link, config, &creds, &deadline, &mut rq_seq) {
                Ok((proto, suite)) => {
                    let session = Session {
                        link,
                        config: config.clone(),
                        creds,
                        deadline,
                        proto,
                        rq_seq,
                        privilege: config.privilege.min(Privilege::User),
                        raised: false,
                        suite,
                        reopened: 0,
                        closed: false,
                    };
                    log::debug!(
                        "BMC {}: session open ({}), {} exchanges, {} datagrams",
                        session.link.peer(),
                        session.protocol_name(),
                        session.link.stats.exchanges,
                        session.link.stats.datagrams_sent
                    );
                    return Ok(session);
                }
                // Another address of the same name may answer (localhost → ::1 and 127.0.0.1).
                Err(e @ IpmiError::Unreachable { .. }) => {
                    log::debug!("{e}; trying the next address if any");
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| IpmiError::Resolve {
            host: config.host.clone(),
            detail: "no addresses".into(),
        }))
    }

    /// Bound the following calls by another deadline (e.g. one per fence action).
    pub fn set_deadline(&mut self, deadline: Deadline) {
        self.deadline = deadline;
    }

    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// The RMCP+ cipher suite in use (`None` for IPMI 1.5).
    pub fn cipher_suite(&self) -> Option<u8> {
        self.suite
    }

    /// Exchanges and datagrams so far, including the session's opening.
    pub fn stats(&self) -> Stats {
        self.link.stats
    }

    /// How many times the session was found lost and opened again.
    pub fn reopened(&self) -> u32 {
        self.reopened
    }

    /// The session's current operating privilege.
    pub fn privilege(&self) -> Privilege {
        self.privilege
    }

    fn protocol_name(&self) -> String {
        match (&self.proto, self.suite) {
            (Proto::Lanplus(_), Some(s)) => format!("RMCP+, cipher suite {s}"),
            (Proto::Lanplus(_), None) => "RMCP+".into(),
            (Proto::V15(v), _) => format!("IPMI 1.5, auth {:?}", v.auth),
        }
    }

    /// Get Chassis Status.
    pub fn chassis_status(&mut self) -> Result<ChassisStatus, IpmiError> {
        let data = self.request(command::GET_CHASSIS_STATUS, &[])?;
        ChassisStatus::decode(&data).map_err(|source| IpmiError::Malformed {
            waiting_for: command::GET_CHASSIS_STATUS.name,
            source,
        })
    }

    /// Chassis Control, after raising the session to the configured privilege.
    /// Success means the BMC accepted the request; read the power state back
    /// to know it happened.
    pub fn chassis_control(&mut self, action: ChassisControl) -> Result<(), IpmiError> {
        self.ensure_privilege()?;
        let policy = Policy {
            min_first_timeout: (!action.is_idempotent()).then_some(NON_IDEMPOTENT_FIRST_TIMEOUT),
            ..Policy::default()
        };
        log::debug!("BMC {}: chassis control: {action}", self.link.peer());
        self.request_with(command::CHASSIS_CONTROL, &[action.code()], policy)
            .map(|_| ())
    }

    /// Raise the session to the configured privilege level now (Set Session
    /// Privilege Level) if it is not there yet. Chassis control does this by
    /// itself; a monitor can call it to prove the account may fence.
    pub fn ensure_privilege(&mut self) -> Result<(), IpmiError> {
        if self.privilege >= self.config.privilege {
            self.raised = true;
            return Ok(());
        }
        let target = self.config.privilege;
        let result = self.request(command::SET_SESSION_PRIVILEGE, &[target.code()]);
        self.after_set_privilege(target, result)
    }

    fn after_set_privilege(
        &mut self,
        target: Privilege,
        result: Result<Vec<u8>, IpmiError>,
    ) -> Result<(), IpmiError> {
        match result {
            Ok(data) => {
                self.privilege = data
                    .first()
                    .and_then(|b| Privilege::from_code(*b))
                    .unwrap_or(target);
                self.raised = true;
                log::debug!(
                    "BMC {}: session privilege now {}",
                    self.link.peer(),
                    self.privilege
                );
                Ok(())
            }
            Err(IpmiError::Completion { code, .. }) if (0x80..=0x82).contains(&code.0) => {
                Err(IpmiError::AuthFailed(AuthFailure::PrivilegeRefused {
                    user: self.config.username.clone(),
                    requested: target,
                    code,
                }))
            }
            Err(e) => Err(e),
        }
    }

    /// Any IPMI command in the session; returns the response data after the
    /// completion code, or a [`IpmiError::Completion`] for a non-zero code.
    pub fn request(&mut self, cmd: Command, data: &[u8]) -> Result<Vec<u8>, IpmiError> {
        self.request_with(cmd, data, Policy::default())
    }

    fn request_with(
        &mut self,
        cmd: Command,
        data: &[u8],
        policy: Policy,
    ) -> Result<Vec<u8>, IpmiError> {
        if self.closed {
            return Err(IpmiError::Closed);
        }
        let mut busy = 0u32;
        loop {
            let rsp = self.exchange_reopening(cmd, data, policy)?;
            if rsp.completion.is_ok() {
                return Ok(rsp.data);
            }
            // "Node busy" is transient by definition: try again shortly.
            if rsp.completion == CompletionCode::NODE_BUSY && busy < 5 && !self.deadline.expired() {
                busy += 1;
                self.deadline.sleep(Duration::from_millis(100) * busy);
                continue;
            }
            return Err(IpmiError::Completion {
                command: cmd.name,
                code: rsp.completion,
                hint: hint(cmd, rsp.completion),
            });
        }
    }

    /// One exchange; if the session seems lost, reopen it once and retry.
    fn exchange_reopening(
        &mut self,
        cmd: Command,
        data: &[u8],
        policy: Policy,
    ) -> Result<Response, IpmiError> {
        let first_policy = Policy {
            max_tries: Some(policy.max_tries.unwrap_or(TRIES_BEFORE_REOPEN)),
            ..policy
        };
        match self.exchange(cmd, data, first_policy) {
            Err(IpmiError::NoAnswer { .. }) if !self.deadline.expired() => {
                log::warn!(
                    "BMC {}: no answer to {} in session; opening a new session",
                    self.link.peer(),
                    cmd.name
                );
                self.reopen()?;
                self.exchange(cmd, data, policy)
            }
            other => other,
        }
    }

    fn reopen(&mut self) -> Result<(), IpmiError> {
        // Tell the BMC to drop the old session, in case it still has it.
        let close = self.close_packet();
        self.link.send_only(&close);
        let (proto, suite) = establish(
            &mut self.link,
            &self.config,
            &self.creds,
            &self.deadline,
            &mut self.rq_seq,
        )?;
        self.proto = proto;
        self.suite = suite;
        self.reopened += 1;
        self.privilege = self.config.privilege.min(Privilege::User);
        if self.raised && self.privilege < self.config.privilege {
            let target = self.config.privilege;
            let result = self
                .exchange(
                    command::SET_SESSION_PRIVILEGE,
                    &[target.code()],
                    Policy::default(),
                )
                .and_then(|rsp| completion(command::SET_SESSION_PRIVILEGE, rsp));
            self.after_set_privilege(target, result)?;
        }
        Ok(())
    }

    fn exchange(
        &mut self,
        cmd: Command,
        data: &[u8],
        policy: Policy,
    ) -> Result<Response, IpmiError> {
        match &mut self.proto {
            Proto::Lanplus(lp) => {
                let mut ex = LanplusRequest {
                    cmd,
                    data,
                    state: lp,
                    rq_seq: &mut self.rq_seq,
                    sent: Vec::new(),
                };
                self.link.run(&mut ex, &self.deadline, policy)
            }
            Proto::V15(v) => {
                let mut ex = V15Request {
                    cmd,
                    data,
                    header: V15Header::Session(v),
                    password: &self.creds.password,
                    rq_seq: &mut self.rq_seq,
                    sent: Vec::new(),
                };
                self.link.run(&mut ex, &self.deadline, policy)
            }
        }
    }

    fn close_packet(&mut self) -> Vec<u8> {
        match &mut self.proto {
            Proto::Lanplus(lp) => {
                let sid = lp.bmc_sid;
                let rq = next_rq_seq(&mut self.rq_seq);
                let msg = Request::new(
                    command::CLOSE_SESSION.net_fn,
                    command::CLOSE_SESSION.cmd,
                    rq,
                    sid.to_le_bytes().to_vec(),
                )
                .encode();
                let seq = lp.next_seq();
                encode_v20(PayloadType::Ipmi, lp.bmc_sid, seq, &msg, Some(&lp.keys))
            }
            Proto::V15(v) => {
                let rq = next_rq_seq(&mut self.rq_seq);
                let msg = Request::new(
                    command::CLOSE_SESSION.net_fn,
                    command::CLOSE_SESSION.cmd,
                    rq,
                    v.session_id.to_le_bytes().to_vec(),
                )
                .encode();
                v15_session_packet(v, &self.creds.password, &msg)
            }
        }
    }

    /// Close Session. Always bounded (one second at most, less if the
    /// deadline is nearer); with no time left, one datagram is still sent.
    pub fn close(mut self) -> Result<(), IpmiError> {
        self.close_within(CLOSE_BUDGET)
    }

    fn close_within(&mut self, budget: Duration) -> Result<(), IpmiError> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let deadline = self.deadline.min(Deadline::after(budget));
        if deadline.expired() {
            let close = self.close_packet();
            self.link.send_only(&close);
            return Ok(());
        }
        let sid = match &self.proto {
            Proto::Lanplus(lp) => lp.bmc_sid,
            Proto::V15(v) => v.session_id,
        };
        let saved = std::mem::replace(&mut self.deadline, deadline);
        let result = self.exchange(
            command::CLOSE_SESSION,
            &sid.to_le_bytes(),
            Policy {
                max_tries: Some(3),
                ..Policy::default()
            },
        );
        self.deadline = saved;
        match result {
            Ok(rsp) if rsp.completion.is_ok() => Ok(()),
            // 0x87: invalid session ID — it is gone already, which is what we wanted.
            Ok(rsp) if rsp.completion.0 == 0x87 => Ok(()),
            Ok(rsp) => Err(IpmiError::Completion {
                command: command::CLOSE_SESSION.name,
                code: rsp.completion,
                hint: "",
            }),
            Err(e) => Err(e),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Err(e) = self.close_within(DROP_CLOSE_BUDGET) {
            log::debug!("closing the IPMI session on drop: {e}");
        }
    }
}

/// Advice added to a completion code error.
fn hint(cmd: Command, code: CompletionCode) -> &'static str {
    match (cmd, code.0) {
        (c, 0xD4) if c == command::CHASSIS_CONTROL => {
            " (the session privilege is too low for chassis control: use privlvl=operator or administrator with a user the BMC allows it)"
        }
        (_, 0xD4) => " (check privlvl and the user's privilege limit on the BMC)",
        (c, 0xFF) if c == command::CHASSIS_CONTROL => {
            " (the BMC could not carry out the power action)"
        }
        (c, 0xD5) if c == command::CHASSIS_CONTROL => {
            " (the BMC refuses this power action in the present state)"
        }
        _ => "",
    }
}

/// Response data after a zero completion code, else the error.
fn completion(cmd: Command, rsp: Response) -> Result<Vec<u8>, IpmiError> {
    if rsp.completion.is_ok() {
        Ok(rsp.data)
    } else {
        Err(IpmiError::Completion {
            command: cmd.name,
            code: rsp.completion,
            hint: hint(cmd, rsp.completion),
        })
    }
}

fn next_rq_seq(rq_seq: &mut u8) -> u8 {
    *rq_seq = (rq_seq.wrapping_add(1)) & 0x3F;
    *rq_seq
}

/// A random non-zero 32-bit value (session IDs, sequence numbers).
fn random_nonzero_u32() -> u32 {
    u32::from_le_bytes(random::<4>()).max(1)
}

/// Open a session on an existing link: RMCP+ or IPMI 1.5 as configured.
fn establish(
    link: &mut Link,
    config: &Config,
    creds: &Credentials,
    deadline: &Deadline,
    rq_seq: &mut u8,
) -> Result<(Proto, Option<u8>), IpmiError> {
    if config.lanplus {
        let (lp, suite) = open_lanplus(link, config, creds, deadline, rq_seq)?;
        Ok((Proto::Lanplus(lp), Some(suite)))
    } else {
        Ok((
            Proto::V15(open_v15(link, config, creds, deadline, rq_seq)?),
            None,
        ))
    }
}

// ---------------------------------------------------------------------------
// RMCP+ session establishment

/// The suites to try, best first.
fn suite_candidates(
    link: &mut Link,
    config: &Config,
    deadline: &Deadline,
    rq_seq: &mut u8,
) -> Result<Vec<u8>, IpmiError> {
    if let Some(id) = config.cipher {
        return Ok(vec![id]);
    }
    match query_cipher_suites(link, config, deadline, rq_seq) {
        Ok(listed) => {
            let ids: Vec<u8> = CipherSuite::SUPPORTED
                .iter()
                .copied()
                .filter(|id| listed.contains(id))
                .collect();
            log::debug!(
                "BMC {}: lists cipher suites {listed:?}; trying {ids:?}",
                link.peer()
            );
            if ids.is_empty() {
                return Err(IpmiError::Unsupported(format!(
                    "the BMC offers cipher suites {listed:?}, none of which this agent supports (17, 3, 16, 2, 15, 1)"
                )));
            }
            Ok(ids)
        }
        Err(e @ IpmiError::Unreachable { .. }) => Err(e),
        Err(e) => {
            // Like ipmitool, assume the common suite 3; 17 comes next if the
            // BMC refuses 3 (so a suite-17-only BMC still works).
            log::debug!(
                "BMC {}: Get Channel Cipher Suites: {e}; assuming suite 3",
                link.peer()
            );
            Ok(vec![3, 17])
        }
    }
}

/// Get Channel Cipher Suites, all chunks, with the short probe timeout.
fn query_cipher_suites(
    link: &mut Link,
    config: &Config,
    deadline: &Deadline,
    rq_seq: &mut u8,
) -> Result<Vec<u8>, IpmiError> {
    let mut records = Vec::new();
    let probe = Policy {
        first_timeout: Some(config.timing.cipher_probe_timeout),
        max_tries: Some(2),
        ..Policy::default()
    };
    for index in 0..=0x3Fu8 {
        let data = CipherSuitesRequest {
            channel: CURRENT_CHANNEL,
            payload_type: 0,
            index,
        }
        .encode();
        let mut ex = V15Request {
            cmd: command::GET_CHANNEL_CIPHER_SUITES,
            data: &data,
            header: V15Header::PreSession,
            password: &Key::default(),
            rq_seq,
            sent: Vec::new(),
        };
        let rsp = link.run(&mut ex, deadline, probe)?;
        let chunk = completion(command::GET_CHANNEL_CIPHER_SUITES, rsp).and_then(|d| {
            CipherSuitesChunk::decode(&d).map_err(|source| IpmiError::Malformed {
                waiting_for: command::GET_CHANNEL_CIPHER_SUITES.name,
                source,
            })
        })?;
        let last = chunk.records.len() < CipherSuitesChunk::MAX;
        records.extend_from_slice(&chunk.records);
        if last {
            break;
        }
    }
    command::parse_cipher_suite_records(&records).map_err(|source| IpmiError::Malformed {
        waiting_for: command::GET_CHANNEL_CIPHER_SUITES.name,
        source,
    })
}

fn open_lanplus(
    link: &mut Link,
    config: &Config,
    creds: &Credentials,
    deadline: &Deadline,
    rq_seq: &mut u8,
) -> Result<(Lanplus, u8), IpmiError> {
    let candidates = suite_candidates(link, config, deadline, rq_seq)?;
    let mut refused: Vec<String> = Vec::new();
    let mut last_status = RakpStatus::NO_CIPHER_SUITE_MATCH;
    for id in &candidates {
        let Some(suite) = CipherSuite::from_id(*id) else {
            continue;
        };
        match handshake_rounds(link, config, creds, deadline, suite) {
            Ok(lp) => return Ok((lp, *id)),
            Err(IpmiError::NoCipherSuite { status, .. }) => {
                log::debug!("BMC {}: cipher suite {id} refused: {status}", link.peer());
                refused.push(id.to_string());
                last_status = status;
            }
            Err(e) => return Err(e),
        }
    }
    Err(IpmiError::NoCipherSuite {
        tried: refused.join(", "),
        status: last_status,
    })
}

enum Round {
    /// Start the handshake over (a step went unanswered, or the BMC lost track).
    Retry(IpmiError),
    Fatal(IpmiError),
}

fn handshake_rounds(
    link: &mut Link,
    config: &Config,
    creds: &Credentials,
    deadline: &Deadline,
    suite: CipherSuite,
) -> Result<Lanplus, IpmiError> {
    let mut last = None;
    for round in 0..HANDSHAKE_ROUNDS {
        if round > 0 && deadline.expired() {
            break;
        }
        match handshake(link, config, creds, deadline, suite) {
            Ok(lp) => return Ok(lp),
            Err(Round::Fatal(e)) => return Err(e),
            Err(Round::Retry(e)) => {
                log::debug!(
                    "BMC {}: session handshake round {} failed: {e}; starting over",
                    link.peer(),
                    round + 1
                );
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or(IpmiError::DeadlinePassed {
        addr: link.peer().to_string(),
        waiting_for: "Open Session Request",
    }))
}

fn handshake(
    link: &mut Link,
    config: &Config,
    creds: &Credentials,
    deadline: &Deadline,
    suite: CipherSuite,
) -> Result<Lanplus, Round> {
    let console_sid = random_nonzero_u32();
    let privilege = config.privilege;

    // Open Session
    let mut open = OpenSessionExchange {
        request: OpenSessionRequest {
            tag: 0,
            max_privilege: privilege.code(),
            console_sid,
            algorithms: Algorithms::of(suite),
        },
    };
    let opened = link
        .run(&mut open, deadline, Policy::default())
        .map_err(Round::Fatal)?;
    if !opened.status.is_ok() {
        return Err(Round::Fatal(match opened.status {
            s if s.is_algorithm_mismatch() => IpmiError::NoCipherSuite {
                tried: suite.id.to_string(),
                status: s,
            },
            s @ (RakpStatus::INVALID_ROLE | RakpStatus::UNAUTHORIZED_ROLE) => {
                IpmiError::AuthFailed(AuthFailure::PrivilegeNotAllowed {
                    user: config.username.clone(),
                    status: s,
                })
            }
            s => IpmiError::OpenSessionRefused(s),
        }));
    }
    let (Some(bmc_sid), Some(algs)) = (opened.bmc_sid, opened.algorithms) else {
        return Err(Round::Fatal(IpmiError::Malformed {
            waiting_for: "Open Session Request",
            source: DecodeError::Truncated {
                what: "Open Session Response",
                wanted: 36,
                available: 8,
            },
        }));
    };
    if algs != Algorithms::of(suite) {
        return Err(Round::Fatal(IpmiError::Unsupported(format!(
            "asked for cipher suite {}, the BMC answered with other algorithms ({algs:?})",
            suite.id
        ))));
    }

    // RAKP 1 → 2
    let console_rand = random::<16>();
    let role = privilege.code() | NAME_ONLY_LOOKUP;
    let mut rakp1 = Rakp1Exchange {
        request: Rakp1 {
            tag: 0,
            bmc_sid,
            console_rand,
            role,
            user: creds.user.clone(),
        },
        console_sid,
    };
    let rakp2 = match link.run(
        &mut rakp1,
        deadline,
        Policy {
            max_tries: Some(RAKP_TRIES),
            ..Policy::default()
        },
    ) {
        Ok(r) => r,
        Err(e @ IpmiError::NoAnswer { .. }) if !deadline.expired() => return Err(Round::Retry(e)),
        Err(e) => return Err(Round::Fatal(e)),
    };
    let user = config.username.clone();
    if !rakp2.status.is_ok() {
        return Err(Round::Fatal(IpmiError::AuthFailed(match rakp2.status {
            RakpStatus::UNAUTHORIZED_NAME => AuthFailure::UnknownUser { user },
            s @ (RakpStatus::INVALID_ROLE | RakpStatus::UNAUTHORIZED_ROLE) => {
                AuthFailure::PrivilegeNotAllowed { user, status: s }
            }
            s => AuthFailure::Rejected {
                step: "RAKP Message 1",
                status: s,
            },
        })));
    }
    let ctx = RakpContext {
        auth: suite.auth,
        console_sid,
        bmc_sid,
        console_rand,
        bmc_rand: rakp2.bmc_rand,
        bmc_guid: rakp2.bmc_guid,
        role,
        user: &creds.user,
    };
    if !crate::crypto::ct_eq(&ctx.rakp2_code(&creds.password), &rakp2.auth_code) {
        // Tell the BMC, so it frees the half-open session (as ipmitool does).
        let nack = Rakp3 {
            tag: 0,
            status: RakpStatus::INVALID_INTEGRITY_CHECK,
            bmc_sid,
            auth_code: Vec::new(),
        };
        link.send_only(&encode_v20(PayloadType::Rakp3, 0, 0, &nack.encode(), None));
        return Err(Round::Fatal(IpmiError::AuthFailed(
            AuthFailure::WrongPassword { user },
        )));
    }

    // RAKP 3 → 4
    let sik = ctx.sik(creds.kg.as_ref().unwrap_or(&creds.password));
    let mut rakp3 = Rakp3Exchange {
        request: Rakp3 {
            tag: 0,
            status: RakpStatus::OK,
            bmc_sid,
            auth_code: ctx.rakp3_code(&creds.password),
        },
        console_sid,
    };
    let rakp4 = match link.run(
        &mut rakp3,
        deadline,
        Policy {
            max_tries: Some(RAKP_TRIES),
            ..Policy::default()
        },
    ) {
        Ok(r) => r,
        Err(e @ IpmiError::NoAnswer { .. }) if !deadline.expired() => return Err(Round::Retry(e)),
        Err(e) => return Err(Round::Fatal(e)),
    };
    if !rakp4.status.is_ok() {
        let err = IpmiError::AuthFailed(AuthFailure::Rejected {
            step: "RAKP Message 3",
            status: rakp4.status,
        });
        // These mean the BMC moved on (it answered a retransmitted RAKP 1
        // with a new random number, or dropped the session): start over.
        return Err(match rakp4.status.0 {
            0x02 | 0x08 | 0x0F if !deadline.expired() => Round::Retry(err),
            _ => Round::Fatal(err),
        });
    }
    if !crate::crypto::ct_eq(&ctx.rakp4_icv(&sik), &rakp4.icv) {
        return Err(Round::Fatal(IpmiError::AuthFailed(AuthFailure::WrongKg)));
    }
    Ok(Lanplus {
        console_sid,
        bmc_sid,
        keys: SessionKeys::derive(suite, &sik),
        seq: 0,
    })
}

/// A pre-session RMCP+ datagram carrying an accepted payload of `want` type.
fn presession_payload(datagram: &[u8], want: PayloadType) -> Option<Vec<u8>> {
    match packet::decode(datagram) {
        Ok(Frame::V20(f)) if f.payload_type == want => f.open(None).ok(),
        _ => None,
    }
}

struct OpenSessionExchange {
    request: OpenSessionRequest,
}

impl Exchange for OpenSessionExchange {
    type Output = OpenSessionResponse;

    fn name(&self) -> &'static str {
        "Open Session Request"
    }

    fn packet(&mut self, attempt: u32) -> Vec<u8> {
        self.request.tag = attempt as u8;
        encode_v20(
            PayloadType::OpenSessionRequest,
            0,
            0,
            &self.request.encode(),
            None,
        )
    }

    fn accept(&mut self, datagram: &[u8]) -> Accept<OpenSessionResponse> {
        let Some(payload) = presession_payload(datagram, PayloadType::OpenSessionResponse) else {
            return Accept::Ignore;
        };
        match OpenSessionResponse::decode(&payload) {
            Ok(r) if r.console_sid == self.request.console_sid => {
                Accept::Done(r, Some(u32::from(r.tag)))
            }
            // An error answer may not echo our session ID.
            Ok(r) if !r.status.is_ok() && r.console_sid == 0 => Accept::Done(r, None),
            _ => Accept::Ignore,
        }
    }
}

struct Rakp1Exchange {
    request: Rakp1,
    console_sid: u32,
}

impl Exchange for Rakp1Exchange {
    type Output = Rakp2;

    fn name(&self) -> &'static str {
        "RAKP Message 1"
    }

    fn packet(&mut self, attempt: u32) -> Vec<u8> {
        self.request.tag = attempt as u8;
        encode_v20(PayloadType::Rakp1, 0, 0, &self.request.encode(), None)
    }

    fn accept(&mut self, datagram: &[u8]) -> Accept<Rakp2> {
        let Some(payload) = presession_payload(datagram, PayloadType::Rakp2) else {
            return Accept::Ignore;
        };
        match Rakp2::decode(&payload) {
            Ok(r) => accept_rakp_reply(r.console_sid, self.console_sid, r.status, r.tag, r),
            Err(_) => Accept::Ignore,
        }
    }
}

struct Rakp3Exchange {
    request: Rakp3,
    console_sid: u32,
}

impl Exchange for Rakp3Exchange {
    type Output = Rakp4;

    fn name(&self) -> &'static str {
        "RAKP Message 3"
    }

    fn packet(&mut self, attempt: u32) -> Vec<u8> {
        self.request.tag = attempt as u8;
        encode_v20(PayloadType::Rakp3, 0, 0, &self.request.encode(), None)
    }

    fn accept(&mut self, datagram: &[u8]) -> Accept<Rakp4> {
        let Some(payload) = presession_payload(datagram, PayloadType::Rakp4) else {
            return Accept::Ignore;
        };
        match Rakp4::decode(&payload) {
            Ok(r) => accept_rakp_reply(r.console_sid, self.console_sid, r.status, r.tag, r),
            Err(_) => Accept::Ignore,
        }
    }
}

/// RAKP 2 and 4 are ours when they name our session; an error reply may
/// name none (session id 0) and is ours too. The tag tells which of our
/// retransmissions it answers.
fn accept_rakp_reply<R>(
    reply_sid: u32,
    our_sid: u32,
    status: RakpStatus,
    tag: u8,
    reply: R,
) -> Accept<R> {
    if reply_sid == our_sid {
        Accept::Done(reply, Some(tag.into()))
    } else if !status.is_ok() && reply_sid == 0 {
        Accept::Done(reply, None)
    } else {
        Accept::Ignore
    }
}

/// An IPMI request inside an RMCP+ session.
struct LanplusRequest<'a> {
    cmd: Command,
    data: &'a [u8],
    state: &'a mut Lanplus,
    rq_seq: &'a mut u8,
    /// Request sequence numbers of the tries so far, by try.
    sent: Vec<u8>,
}

impl Exchange for LanplusRequest<'_> {
    type Output = Response;

    fn name(&self) -> &'static str {
        self.cmd.name
    }

    fn packet(&mut self, _attempt: u32) -> Vec<u8> {
        let rq = next_rq_seq(self.rq_seq);
        self.sent.push(rq);
        let msg = Request::new(self.cmd.net_fn, self.cmd.cmd, rq, self.data.to_vec()).encode();
        let seq = self.state.next_seq();
        encode_v20(
            PayloadType::Ipmi,
            self.state.bmc_sid,
            seq,
            &msg,
            Some(&self.state.keys),
        )
    }

    fn accept(&mut self, datagram: &[u8]) -> Accept<Response> {
        let frame = match packet::decode(datagram) {
            Ok(Frame::V20(f))
                if f.payload_type == PayloadType::Ipmi
                    && f.session_id == self.state.console_sid =>
            {
                f
            }
            _ => return Accept::Ignore,
        };
        let payload = match frame.open(Some(&self.state.keys)) {
            Ok(p) => p,
            Err(e) => {
                log::debug!("dropping a packet of our session: {e}");
                return Accept::Ignore;
            }
        };
        match_response(&payload, self.cmd, &self.sent)
    }
}

/// Accept `payload` if it is the response to one of our tries.
fn match_response(payload: &[u8], cmd: Command, sent: &[u8]) -> Accept<Response> {
    let Ok(rsp) = Response::decode(payload) else {
        return Accept::Ignore;
    };
    match sent
        .iter()
        .position(|rq| rsp.answers(cmd.net_fn, cmd.cmd, *rq))
    {
        Some(i) => Accept::Done(rsp, Some(i as u32)),
        None => Accept::Ignore,
    }
}

// ---------------------------------------------------------------------------
// IPMI 1.5

/// How an IPMI 1.5 datagram's session header is filled.
enum V15Header<'a> {
    /// Outside a session: auth type none, session 0, sequence 0.
    PreSession,
    /// Activate Session: the chosen auth type, the temporary session ID, sequence 0.
    Activate { auth: AuthType, temp_sid: u32 },
    /// Inside the session.
    Session(&'a mut V15),
}

struct V15Request<'a> {
    cmd: Command,
    data: &'a [u8],
    header: V15Header<'a>,
    password: &'a Key,
    rq_seq: &'a mut u8,
    sent: Vec<u8>,
}

fn v15_session_packet(v: &mut V15, password: &Key, msg: &[u8]) -> Vec<u8> {
    let seq = v.seq;
    v.seq = v.seq.wrapping_add(1).max(1);
    let code = v15_auth_code(v.auth, password.as_bytes(), v.session_id, seq, msg);
    V15Frame {
        auth_type: v.auth.code(),
        session_seq: seq,
        session_id: v.session_id,
        auth_code: code,
        message: msg,
    }
    .encode()
}

impl Exchange for V15Request<'_> {
    type Output = Response;

    fn name(&self) -> &'static str {
        self.cmd.name
    }

    fn packet(&mut self, _attempt: u32) -> Vec<u8> {
        let rq = next_rq_seq(self.rq_seq);
        self.sent.push(rq);
        let msg = Request::new(self.cmd.net_fn, self.cmd.cmd, rq, self.data.to_vec()).encode();
        match &mut self.header {
            V15Header::PreSession => V15Frame {
                auth_type: 0,
                session_seq: 0,
                session_id: 0,
                auth_code: None,
                message: &msg,
            }
            .encode(),
            V15Header::Activate { auth, temp_sid } => V15Frame {
                auth_type: auth.code(),
                session_seq: 0,
                session_id: *temp_sid,
                auth_code: v15_auth_code(*auth, self.password.as_bytes(), *temp_sid, 0, &msg),
                message: &msg,
            }
            .encode(),
            V15Header::Session(v) => v15_session_packet(v, self.password, &msg),
        }
    }

    fn accept(&mut self, datagram: &[u8]) -> Accept<Response> {
        let Ok(Frame::V15(frame)) = packet::decode(datagram) else {
            return Accept::Ignore;
        };
        if let V15Header::Session(v) = &self.header {
            if frame.session_id != v.session_id {
                return Accept::Ignore;
            }
            let authentic = match (AuthType::from_code(frame.auth_type), frame.auth_code) {
                (Some(AuthType::None), _) => {
                    v.auth == AuthType::None || v.per_message_auth_disabled
                }
                (Some(t), Some(code)) => v15_auth_code(
                    t,
                    self.password.as_bytes(),
                    frame.session_id,
                    frame.session_seq,
                    frame.message,
                )
                .is_some_and(|want| crate::crypto::ct_eq(&want, &code)),
                _ => false,
            };
            if !authentic {
                log::debug!("dropping an IPMI 1.5 packet of our session: bad AuthCode");
                return Accept::Ignore;
            }
        }
        match_response(frame.message, self.cmd, &self.sent)
    }
}

/// One pre-session IPMI 1.5-format request (auth type none).
fn presession_request(
    link: &mut Link,
    deadline: &Deadline,
    rq_seq: &mut u8,
    cmd: Command,
    data: &[u8],
    policy: Policy,
) -> Result<Response, IpmiError> {
    let none = Key::default();
    let mut ex = V15Request {
        cmd,
        data,
        header: V15Header::PreSession,
        password: &none,
        rq_seq,
        sent: Vec::new(),
    };
    link.run(&mut ex, deadline, policy)
}

fn open_v15(
    link: &mut Link,
    config: &Config,
    creds: &Credentials,
    deadline: &Deadline,
    rq_seq: &mut u8,
) -> Result<V15, IpmiError> {
    let caps_req = AuthCapsRequest {
        v2: false,
        channel: CURRENT_CHANNEL,
        privilege: config.privilege,
    };
    let rsp = presession_request(
        link,
        deadline,
        rq_seq,
        command::GET_CHANNEL_AUTH_CAPS,
        &caps_req.encode(),
        Policy::default(),
    )?;
    let caps = completion(command::GET_CHANNEL_AUTH_CAPS, rsp).and_then(|d| {
        AuthCaps::decode(&d).map_err(|source| IpmiError::Malformed {
            waiting_for: command::GET_CHANNEL_AUTH_CAPS.name,
            source,
        })
    })?;
    let auth = choose_v15_auth(config, creds, &caps)?;
    log::debug!("BMC {}: IPMI 1.5 with auth type {auth:?}", link.peer());
    let user = config.username.clone();

    for round in 0..2 {
        let rsp = presession_request(
            link,
            deadline,
            rq_seq,
            command::GET_SESSION_CHALLENGE,
            &ChallengeRequest {
                auth_type: auth.code(),
                user: creds.user.clone(),
            }
            .encode(),
            Policy::default(),
        )?;
        let challenge = match rsp.completion.0 {
            0x00 => Challenge::decode(&rsp.data).map_err(|source| IpmiError::Malformed {
                waiting_for: command::GET_SESSION_CHALLENGE.name,
                source,
            })?,
            0x81 => return Err(IpmiError::AuthFailed(AuthFailure::UnknownUser { user })),
            code => {
                return Err(IpmiError::AuthFailed(AuthFailure::V15Refused {
                    step: command::GET_SESSION_CHALLENGE.name,
                    code: CompletionCode(code),
                }));
            }
        };
        let initial_outbound_seq = random_nonzero_u32();
        let activate = ActivateRequest {
            auth_type: auth.code(),
            privilege: config.privilege,
            challenge: challenge.challenge,
            initial_outbound_seq,
        }
        .encode();
        let mut ex = V15Request {
            cmd: command::ACTIVATE_SESSION,
            data: &activate,
            header: V15Header::Activate {
                auth,
                temp_sid: challenge.temp_session_id,
            },
            password: &creds.password,
            rq_seq,
            sent: Vec::new(),
        };
        let policy = Policy {
            max_tries: Some(3),
            ..Policy::default()
        };
        let rsp = match link.run(&mut ex, deadline, policy) {
            Ok(rsp) => rsp,
            // Many BMCs drop an activation with a wrong AuthCode silently. Ask
            // for a new challenge once (this proves the BMC is still there)
            // before concluding that the password is wrong.
            Err(IpmiError::NoAnswer { .. }) if round == 0 && !deadline.expired() => continue,
            Err(IpmiError::NoAnswer { .. }) if !deadline.expired() => {
                return Err(IpmiError::AuthFailed(AuthFailure::ActivationUnanswered {
                    user,
                }));
            }
            Err(e) => return Err(e),
        };
        if !rsp.completion.is_ok() {
            return Err(IpmiError::AuthFailed(match rsp.completion.0 {
                0x86 => AuthFailure::PrivilegeRefused {
                    user,
                    requested: config.privilege,
                    code: rsp.completion,
                },
                _ => AuthFailure::V15Refused {
                    step: command::ACTIVATE_SESSION.name,
                    code: rsp.completion,
                },
            }));
        }
        let activated = Activated::decode(&rsp.data).map_err(|source| IpmiError::Malformed {
            waiting_for: command::ACTIVATE_SESSION.name,
            source,
        })?;
        return Ok(V15 {
            session_id: activated.session_id,
            auth: AuthType::from_code(activated.auth_type)
                .filter(|t| *t != AuthType::Md2 && *t != AuthType::Oem)
                .unwrap_or(auth),
            seq: activated.initial_inbound_seq.max(1),
            per_message_auth_disabled: caps.per_message_auth_disabled,
        });
    }
    Err(IpmiError::AuthFailed(AuthFailure::ActivationUnanswered {
        user,
    }))
}

fn choose_v15_auth(
    config: &Config,
    creds: &Credentials,
    caps: &AuthCaps,
) -> Result<AuthType, IpmiError> {
    if let Some(t) = config.v15_auth {
        return if caps.supports(t) {
            Ok(t)
        } else {
            Err(IpmiError::Unsupported(format!(
                "the BMC does not offer IPMI 1.5 authentication type {t:?} (auth type mask {:#04x})",
                caps.auth_types
            )))
        };
    }
    if caps.supports(AuthType::Md5) {
        Ok(AuthType::Md5)
    } else if caps.supports(AuthType::Password) {
        Ok(AuthType::Password)
    } else if caps.supports(AuthType::None) && creds.password.is_empty() {
        Ok(AuthType::None)
    } else {
        Err(IpmiError::Unsupported(format!(
            "the BMC offers no IPMI 1.5 authentication this agent uses (MD5 or password; mask {:#04x}); try lanplus",
            caps.auth_types
        )))
    }
}
