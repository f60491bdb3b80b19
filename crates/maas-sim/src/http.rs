//! A small std-only HTTP/1.1 server: a thread per connection, one request
//! per connection (`Connection: close`), at most [`MAX_CONNECTIONS`] at
//! once. Requests are read by the parser umha's simulators share
//! ([`http_testkit::read_request`], bounded: heads ≤ 64 KiB, bodies ≤
//! 4 MiB); what is MAAS's own is the form decoding (MAAS takes POST
//! parameters as multipart) and the faults, which are whole answers (an
//! HTTP status, garbage, silence) decided by the simulator.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

pub use http_testkit::{HttpRequest, percent_decode, read_request, reason};

const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// More connections than this at once are closed unanswered.
pub const MAX_CONNECTIONS: usize = 128;

/// A parsed request, with the form fields of its body.
#[derive(Debug, Clone)]
pub struct Request {
    pub http: HttpRequest,
    /// Fields of a urlencoded or multipart body, percent-decoded.
    pub form: Vec<(String, String)>,
    pub peer: Option<SocketAddr>,
    /// The address the connection came in on.
    pub local: Option<SocketAddr>,
}

impl Request {
    /// The peer is this host: a loopback address, or one of the host's own
    /// addresses (the lab reaching a simulator that listens on its bridge).
    pub fn from_this_host(&self) -> bool {
        match (self.peer, self.local) {
            (Some(peer), _) if peer.ip().is_loopback() => true,
            (Some(peer), Some(local)) => peer.ip() == local.ip(),
            _ => false,
        }
    }
}

impl Request {
    pub fn method(&self) -> &str {
        &self.http.method
    }

    pub fn path(&self) -> &str {
        &self.http.path
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.http.header(name)
    }

    /// A query parameter, else a form field, as MAAS (Django) looks them up.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.http.param(name).or_else(|| {
            self.form
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        })
    }

    pub fn params<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.http.params(name)
    }

    pub fn segments(&self) -> Vec<String> {
        self.http.segments()
    }
}

/// What to do with a connection.
#[derive(Debug, Clone)]
pub enum Reply {
    Answer(Response),
    /// Say nothing for this long, then close: a hung server.
    Silence(Duration),
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
        }
    }

    pub fn text(status: u16, text: &str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: text.as_bytes().to_vec(),
        }
    }

    pub fn raw(status: u16, content_type: &'static str, body: Vec<u8>) -> Self {
        Self {
            status,
            content_type,
            body,
        }
    }
}

/// Something that answers requests.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, request: &Request) -> Reply;
}

/// The listener thread.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(
        addr: SocketAddr,
        handler: Arc<dyn Handler>,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let accept = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("maas-sim-accept".into())
                .spawn(move || accept_loop(&listener, &handler, &stop))?
        };
        Ok(Self {
            addr,
            stop,
            accept: Some(accept),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop accepting; connections in flight end on their own (their
    /// sleeps watch the same flag).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(500));
        if let Some(thread) = self.accept.take() {
            let _ = thread.join();
        }
    }

    /// Block until the accept loop ends (the binary's main thread).
    pub fn wait(&mut self) {
        if let Some(thread) = self.accept.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: &TcpListener, handler: &Arc<dyn Handler>, stop: &Arc<AtomicBool>) {
    let connections = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        if connections.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            connections.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let (handler, stop, count) = (
            Arc::clone(handler),
            Arc::clone(stop),
            Arc::clone(&connections),
        );
        let spawned = std::thread::Builder::new()
            .name("maas-sim-conn".into())
            .spawn(move || {
                connection(&*handler, &stop, &stream);
                count.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            connections.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn connection(handler: &dyn Handler, stop: &AtomicBool, stream: &TcpStream) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let Some(http) = read_request(stream) else {
        let _ = write_response(stream, &Response::text(400, "bad request\n"));
        return;
    };
    let content_type = http.header("content-type").unwrap_or("").to_owned();
    let form = parse_form(&content_type, &http.body);
    let request = Request {
        http,
        form,
        peer: stream.peer_addr().ok(),
        local: stream.local_addr().ok(),
    };
    match handler.handle(&request) {
        Reply::Answer(response) => {
            let _ = write_response(stream, &response);
        }
        Reply::Silence(d) => {
            sleep_unless(stop, d);
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Sleep `d` in short steps, cut short when `stop` is set. False if stopped.
pub fn sleep_unless(stop: &AtomicBool, d: Duration) -> bool {
    let end = std::time::Instant::now() + d;
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = std::time::Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(20)));
    }
}

fn write_response(mut stream: &TcpStream, response: &Response) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {} {}\r\nConnection: close\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&response.body)?;
    stream.flush()?;
    stream.shutdown(Shutdown::Write)
}

fn parse_urlencoded(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

/// Form fields from a urlencoded or multipart body (text parts only).
fn parse_form(content_type: &str, body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return parse_urlencoded(&text);
    }
    let Some(boundary) = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
    else {
        return Vec::new();
    };
    let boundary = boundary.trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut fields = Vec::new();
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let name = head
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("name="))
            .next()
            .map(|n| n.trim_matches('"').to_owned());
        if let Some(name) = name {
            fields.push((name, value.strip_suffix("\r\n").unwrap_or(value).to_owned()));
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_requests_come_from_this_host_only() {
        let request = |peer: &str, local: &str| Request {
            http: HttpRequest {
                method: "GET".into(),
                path: "/_sim/state".into(),
                query: Vec::new(),
                headers: Vec::new(),
                body: Vec::new(),
            },
            form: Vec::new(),
            peer: peer.parse().ok(),
            local: local.parse().ok(),
        };
        assert!(request("127.0.0.1:4000", "127.0.0.1:5240").from_this_host());
        assert!(request("[::1]:4000", "[::1]:5240").from_this_host());
        assert!(request("10.77.0.1:4000", "10.77.0.1:5240").from_this_host());
        assert!(!request("10.77.0.12:4000", "10.77.0.1:5240").from_this_host());
        assert!(!request("", "").from_this_host());
    }

    #[test]
    fn multipart_and_urlencoded_forms() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"stop_mode\"\r\n\r\nsoft\r\n--XyZ\r\nContent-Disposition: form-data; name=\"op\"\r\n\r\npower_off\r\n--XyZ--\r\n";
        let fields = parse_form("multipart/form-data; boundary=XyZ", body);
        assert_eq!(
            fields,
            vec![
                ("stop_mode".to_owned(), "soft".to_owned()),
                ("op".to_owned(), "power_off".to_owned())
            ]
        );
        let fields = parse_form(
            "application/x-www-form-urlencoded",
            b"stop_mode=hard&a=%26b+c",
        );
        assert_eq!(fields[1], ("a".to_owned(), "&b c".to_owned()));
        assert!(parse_form("text/plain", b"x=y").is_empty());
    }
}
