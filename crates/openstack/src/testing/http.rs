//! The fake cloud's HTTP/1.1 server: one listener on 127.0.0.1, a thread
//! per connection, one request per connection (`Connection: close`), and
//! the faults a real network and a real proxy produce.
//!
//! Bounded everywhere: request heads ≤ 64 KiB, bodies ≤ 4 MiB, socket reads
//! time out after 5 s, at most [`MAX_CONNECTIONS`] connections at once, and
//! every sleep (stall, slow body) wakes up when the cloud is dropped.
//!
//! The request side (parsing, percent-coding, reason phrases) is
//! `http_testkit`'s, shared with umha's other simulators (maas-sim).

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use http_testkit::{HttpRequest, percent_decode, percent_encode, read_request, reason};

use super::state::{Shared, lock};
use super::{Fault, RequestRecord, Route};

const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// More connections than this at once are closed unanswered.
pub const MAX_CONNECTIONS: usize = 256;

/// An answer to write.
#[derive(Debug, Clone)]
pub(crate) struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long before answering (an RPC Nova waits for).
    pub delay: Duration,
}

impl HttpResponse {
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            delay: Duration::ZERO,
        }
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn html(status: u16, text: &str) -> Self {
        let reason = reason(status);
        let body = format!(
            "<html>\n <head>\n  <title>{status} {reason}</title>\n </head>\n <body>\n  <h1>{status} {reason}</h1>\n  {text}<br /><br />\n\n\n\n </body>\n</html>"
        );
        Self {
            status,
            headers: vec![("Content-Type".into(), "text/html; charset=UTF-8".into())],
            body: body.into_bytes(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// The listener thread and what it needs to go offline and back.
#[derive(Debug)]
pub(crate) struct Server {
    pub addr: SocketAddr,
    control: Arc<Control>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug, Default)]
pub(crate) struct Control {
    pub stop: AtomicBool,
    /// Wanted state: true while the test wants nothing listening.
    offline: Mutex<bool>,
    /// Actual state, for `go_offline` to wait on.
    listening: Mutex<bool>,
    changed: Condvar,
    /// The last failure to listen again, if any.
    bind_error: Mutex<Option<String>>,
    connections: AtomicUsize,
}

impl Control {
    /// Sleep `d`, cut short when the cloud stops. False if it stopped.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(20)));
        }
    }
}

impl Server {
    pub fn start(shared: Arc<Shared>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let control = Arc::new(Control::default());
        *lock(&control.listening) = true;
        let accept = {
            let control = Arc::clone(&control);
            std::thread::Builder::new()
                .name("fake-cloud-accept".into())
                .spawn(move || accept_loop(listener, addr, &shared, &control))?
        };
        Ok(Self {
            addr,
            control,
            accept: Mutex::new(Some(accept)),
        })
    }

    pub fn control(&self) -> &Arc<Control> {
        &self.control
    }

    /// Wake a blocking `accept` so it looks at the flags.
    fn poke(&self) {
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(500));
    }

    pub fn go_offline(&self) {
        *lock(&self.control.offline) = true;
        self.poke();
        let mut listening = lock(&self.control.listening);
        let end = Instant::now() + Duration::from_secs(5);
        while *listening && Instant::now() < end {
            listening = match self
                .control
                .changed
                .wait_timeout(listening, Duration::from_millis(50))
            {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    pub fn go_online(&self) -> std::io::Result<()> {
        wake_online(&self.control);
        let mut listening = lock(&self.control.listening);
        let end = Instant::now() + Duration::from_secs(5);
        while !*listening && Instant::now() < end {
            listening = match self
                .control
                .changed
                .wait_timeout(listening, Duration::from_millis(50))
            {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        if *listening {
            Ok(())
        } else {
            let why = lock(&self.control.bind_error)
                .clone()
                .unwrap_or_else(|| "timed out".to_owned());
            Err(std::io::Error::other(format!(
                "could not listen on {} again: {why}",
                self.addr
            )))
        }
    }

    pub fn stop(&self) {
        self.control.stop.store(true, Ordering::SeqCst);
        *lock(&self.control.offline) = false;
        self.control.changed.notify_all();
        self.poke();
        if let Some(t) = lock(&self.accept).take() {
            let _ = t.join();
        }
    }
}

/// Ask the accept thread to listen again (it binds the same port).
pub(crate) fn wake_online(control: &Control) {
    *lock(&control.offline) = false;
    control.changed.notify_all();
}

fn set_listening(control: &Control, on: bool) {
    *lock(&control.listening) = on;
    control.changed.notify_all();
}

fn accept_loop(
    listener: TcpListener,
    addr: SocketAddr,
    shared: &Arc<Shared>,
    control: &Arc<Control>,
) {
    let mut listener = Some(listener);
    loop {
        if control.stop.load(Ordering::SeqCst) {
            return;
        }
        if *lock(&control.offline) {
            // Nothing listening: connections are refused at connect.
            listener = None;
            set_listening(control, false);
            let mut offline = lock(&control.offline);
            while *offline && !control.stop.load(Ordering::SeqCst) {
                offline = match control
                    .changed
                    .wait_timeout(offline, Duration::from_millis(50))
                {
                    Ok((g, _)) => g,
                    Err(p) => p.into_inner().0,
                };
            }
            drop(offline);
            if control.stop.load(Ordering::SeqCst) {
                return;
            }
        }
        if listener.is_none() {
            let end = Instant::now() + Duration::from_secs(5);
            loop {
                match TcpListener::bind(addr) {
                    Ok(l) => {
                        listener = Some(l);
                        *lock(&control.bind_error) = None;
                        break;
                    }
                    Err(e) if Instant::now() < end => {
                        *lock(&control.bind_error) = Some(e.to_string());
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) => {
                        *lock(&control.bind_error) = Some(e.to_string());
                        break;
                    }
                }
            }
            let Some(_) = &listener else {
                // Stay offline; a later go_online tries again.
                *lock(&control.offline) = true;
                continue;
            };
            set_listening(control, true);
        }
        let Some(l) = &listener else { continue };
        let Ok((stream, _)) = l.accept() else {
            continue;
        };
        if control.stop.load(Ordering::SeqCst) || *lock(&control.offline) {
            drop(stream);
            continue;
        }
        if control.connections.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            control.connections.fetch_sub(1, Ordering::SeqCst);
            drop(stream);
            continue;
        }
        let (shared, control2) = (Arc::clone(shared), Arc::clone(control));
        let spawned = std::thread::Builder::new()
            .name("fake-cloud-conn".into())
            .spawn(move || {
                connection(&shared, &control2, stream);
                control2.connections.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            control.connections.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Close with a TCP reset: the client sees "connection reset by peer".
fn reset(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

fn head_bytes(resp: &HttpResponse, request_id: &str, length: Option<usize>) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nConnection: close\r\nx-openstack-request-id: {request_id}\r\n",
        resp.status,
        reason(resp.status)
    );
    if let Some(n) = length {
        out.push_str(&format!("Content-Length: {n}\r\n"));
    }
    for (k, v) in &resp.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

fn write_all(mut stream: &TcpStream, resp: &HttpResponse, request_id: &str) {
    let mut out = head_bytes(resp, request_id, Some(resp.body.len()));
    out.extend_from_slice(&resp.body);
    let _ = stream.write_all(&out);
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
}

fn connection(shared: &Shared, control: &Control, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let received = Instant::now();
    let Some(req) = read_request(&stream) else {
        return;
    };
    let route = Route::classify(&req.method, &req.path);
    let fault = shared.take_fault(route);
    let request_id = shared.request_id();
    let record = |status: Option<u16>| RequestRecord {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        route,
        microversion: req
            .header("OpenStack-API-Version")
            .or_else(|| req.header("X-OpenStack-Nova-API-Version"))
            .map(str::to_owned),
        token: req.header("X-Auth-Token").map(str::to_owned),
        body: req.body.clone(),
        status,
        fault: fault.clone(),
        request_id: request_id.clone(),
        received,
        duration: received.elapsed(),
    };
    let process = || {
        let resp = shared.process(&req, route, &request_id);
        if !resp.delay.is_zero() {
            control.sleep(resp.delay);
        }
        resp
    };
    match &fault {
        None => {
            let resp = process();
            shared.log(record(Some(resp.status)));
            write_all(&stream, &resp, &request_id);
        }
        Some(Fault::Status(code)) => {
            let resp = shared.fault_response(route, *code);
            shared.log(record(Some(resp.status)));
            write_all(&stream, &resp, &request_id);
        }
        Some(Fault::Body { status, body }) => {
            let resp = HttpResponse {
                status: *status,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: body.clone(),
                delay: Duration::ZERO,
            };
            shared.log(record(Some(*status)));
            write_all(&stream, &resp, &request_id);
        }
        Some(Fault::Reset) => {
            shared.log(record(None));
            reset(stream);
        }
        Some(Fault::Close) => {
            shared.log(record(None));
            let _ = stream.shutdown(Shutdown::Both);
        }
        Some(Fault::Stall(d)) => {
            if !control.sleep(*d) {
                return;
            }
            let resp = process();
            shared.log(record(Some(resp.status)));
            write_all(&stream, &resp, &request_id);
        }
        Some(Fault::ResetAfterProcessing) => {
            let resp = process();
            shared.log(record(None));
            drop(resp);
            reset(stream);
        }
        Some(Fault::SlowBody { chunk, interval }) => {
            let resp = process();
            shared.log(record(Some(resp.status)));
            let mut s = &stream;
            if s.write_all(&head_bytes(&resp, &request_id, Some(resp.body.len())))
                .is_err()
            {
                return;
            }
            for piece in resp.body.chunks((*chunk).max(1)) {
                if s.write_all(piece).and_then(|()| s.flush()).is_err() || !control.sleep(*interval)
                {
                    return;
                }
            }
            let _ = stream.shutdown(Shutdown::Write);
        }
        Some(Fault::Truncated) => {
            let resp = process();
            shared.log(record(None));
            let mut s = &stream;
            let half = resp.body.len() / 2;
            let _ = s.write_all(&head_bytes(
                &resp,
                &request_id,
                Some(resp.body.len().max(2)),
            ));
            let _ = s.write_all(&resp.body[..half]);
            let _ = s.flush();
            reset(stream);
        }
        Some(Fault::Oversized {
            len,
            declare_length,
        }) => {
            shared.log(record(Some(200)));
            let resp = HttpResponse::json(200, &serde_json::Value::Null);
            let declared = declare_length.then_some(*len);
            let mut s = &stream;
            if s.write_all(&head_bytes(&resp, &request_id, declared))
                .is_err()
            {
                return;
            }
            // A JSON-looking body that never ends within `len`.
            let opening = br#"{"servers": [], "pad": ""#;
            let mut sent = 0usize;
            let first = &opening[..opening.len().min(*len)];
            if s.write_all(first).is_err() {
                return;
            }
            sent += first.len();
            let block = [b'x'; 16 * 1024];
            while sent < *len {
                let n = (*len - sent).min(block.len());
                if s.write_all(&block[..n]).is_err() || control.stop.load(Ordering::SeqCst) {
                    return;
                }
                sent += n;
            }
            let _ = s.flush();
            let _ = stream.shutdown(Shutdown::Write);
        }
    }
}
