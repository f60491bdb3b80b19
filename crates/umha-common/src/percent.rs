//! Percent-encoding (RFC 3986), for the few places umha builds URLs and
//! OAuth headers by hand (fence_maas) and for the test servers that read
//! them back.

/// Every byte but RFC 3986's unreserved characters as `%XX`: the encoding
/// OAuth 1.0 (RFC 5849 §3.6) requires for header values, and safe in a
/// query value.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `%XX` back to bytes; a `%` not followed by two hex digits is kept as it
/// is, and invalid UTF-8 is replaced, so any input decodes.
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%'
            && let Some(v) = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        assert_eq!(encode("a b/é~&"), "a%20b%2F%C3%A9~%26");
        assert_eq!(decode(&encode("a b/é~&")), "a b/é~&");
        assert_eq!(decode("%26ts%zz%4"), "&ts%zz%4");
        assert_eq!(decode("%+1"), "%+1");
    }
}
