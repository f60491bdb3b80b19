//! The request side of umha's std-only HTTP/1.1 test servers (openstack's
//! fake cloud, maas-sim): one bounded request parser, percent-coding and
//! reason phrases, so the simulators differ only in what they answer.
//!
//! Bounded: request heads ≤ 64 KiB, bodies ≤ 4 MiB; anything else is `None`.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;

pub use umha_common::percent::{decode as percent_decode, encode as percent_encode};

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 4 << 20;

/// A parsed request.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    /// Percent-decoded path segments are produced by [`HttpRequest::segments`].
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn params<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.query
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The path split on `/`, each segment percent-decoded, empty ones
    /// dropped.
    pub fn segments(&self) -> Vec<String> {
        self.path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect()
    }
}

/// The reason phrase of `status`.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        413 => "Request Entity Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// One request from `stream`: `None` when it is not HTTP/1.1 or breaks a bound.
pub fn read_request(stream: &TcpStream) -> Option<HttpRequest> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut head = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        head.push_str(&line);
        if head.len() > MAX_HEAD {
            return None;
        }
    }
    let mut lines = head.lines();
    let start = lines.next()?;
    let mut parts = start.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    if length > MAX_BODY {
        return None;
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (target, String::new()),
    };
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (form_decode(k), form_decode(v))
        })
        .collect();
    Some(HttpRequest {
        method,
        path,
        query,
        headers,
        body,
    })
}

fn form_decode(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    fn parse(raw: &[u8]) -> Option<HttpRequest> {
        let listener = TcpListener::bind("127.0.0.1:0").ok()?;
        let mut client = TcpStream::connect(listener.local_addr().ok()?).ok()?;
        client.write_all(raw).ok()?;
        client.shutdown(std::net::Shutdown::Write).ok()?;
        let (server, _) = listener.accept().ok()?;
        read_request(&server)
    }

    #[test]
    fn requests_with_query_headers_and_body() {
        let r = parse(
            b"POST /a%2Fb/c?x=1&y=a+b&x=2 HTTP/1.1\r\nContent-Length: 3\r\nX-Y: z\r\n\r\nabc",
        )
        .unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/a%2Fb/c"));
        assert_eq!(r.segments(), ["a/b", "c"]);
        assert_eq!(r.params("x").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(r.param("y"), Some("a b"));
        assert_eq!(r.header("x-y"), Some("z"));
        assert_eq!(r.body, b"abc");
    }

    #[test]
    fn oversized_or_truncated_requests_are_refused() {
        let huge = format!("GET / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", MAX_BODY + 1);
        assert!(parse(huge.as_bytes()).is_none());
        assert!(parse(b"GET / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc").is_none());
        assert!(parse(b"").is_none());
    }
}
