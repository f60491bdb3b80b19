//! MAAS API keys and the OAuth 1.0 PLAINTEXT header they sign requests with.
//!
//! MAAS hands out keys as `consumer_key:token_key:token_secret` (`maas
//! apikey`); the consumer secret is always empty. With PLAINTEXT the
//! signature is the two secrets joined by `&`, so `&<token_secret>`: no
//! hashing, which is why the key is only as safe as the transport (use https).
//!
//! Values are percent-encoded in the header as RFC 5849 §3.5.1 asks, as
//! MAAS's own CLI (oauthlib) sends them: the signature travels as
//! `%26<token_secret>` and MAAS decodes it back to `&<token_secret>`.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use umha_common::Secret;
use umha_common::percent::encode as percent_encode;

/// Why a key is unusable. Never contains any part of the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the MAAS API key must be three parts separated by ':' (consumer_key:token_key:token_secret, as `maas apikey` prints it), this one has {0}"
    )]
    Parts(usize),
    #[error("the MAAS API key has an empty part")]
    EmptyPart,
    #[error("the MAAS API key contains whitespace or control characters")]
    BadCharacter,
}

/// A parsed API key; every part is kept as a secret, since the consumer and
/// token keys together identify the account.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    consumer_key: Secret,
    token_key: Secret,
    token_secret: Secret,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(********)")
    }
}

impl ApiKey {
    pub fn parse(key: &Secret) -> Result<Self, KeyError> {
        let text = key.expose().trim();
        let parts: Vec<&str> = text.split(':').collect();
        let [consumer_key, token_key, token_secret] = parts.as_slice() else {
            return Err(KeyError::Parts(parts.len()));
        };
        if parts.iter().any(|p| p.is_empty()) {
            return Err(KeyError::EmptyPart);
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(KeyError::BadCharacter);
        }
        Ok(Self {
            consumer_key: Secret::new(*consumer_key),
            token_key: Secret::new(*token_key),
            token_secret: Secret::new(*token_secret),
        })
    }

    /// The parts, for the logger to redact wherever one shows up alone.
    pub fn parts(&self) -> [&Secret; 3] {
        [&self.consumer_key, &self.token_key, &self.token_secret]
    }

    /// The `Authorization` header value for one request. A fresh nonce each
    /// time: MAAS rejects a nonce it has seen with the same timestamp.
    pub fn authorization(&self) -> Secret {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.authorization_with(&nonce(), timestamp)
    }

    fn authorization_with(&self, nonce: &str, timestamp: u64) -> Secret {
        let signature = format!("&{}", percent_encode(self.token_secret.expose()));
        let fields = [
            ("oauth_version", "1.0"),
            ("oauth_signature_method", "PLAINTEXT"),
            ("oauth_consumer_key", self.consumer_key.expose()),
            ("oauth_token", self.token_key.expose()),
            ("oauth_signature", &signature),
            ("oauth_nonce", nonce),
            ("oauth_timestamp", &timestamp.to_string()),
        ];
        let text = fields
            .iter()
            .map(|(name, value)| format!("{name}=\"{}\"", percent_encode(value)))
            .collect::<Vec<_>>()
            .join(", ");
        Secret::new(format!("OAuth {text}"))
    }
}

/// 128 random bits in hex; a clock-based value if the system has no
/// randomness to give (the nonce only guards against replays).
fn nonce() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes = (now ^ u128::from(std::process::id())).to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> Result<ApiKey, KeyError> {
        ApiKey::parse(&Secret::new(text))
    }

    #[test]
    fn plaintext_header_signs_with_the_token_secret() {
        let k = key("ck1:tk2:ts3").unwrap();
        let header = k.authorization_with("n0nce", 1_700_000_000);
        assert_eq!(
            header.expose(),
            "OAuth oauth_version=\"1.0\", oauth_signature_method=\"PLAINTEXT\", \
             oauth_consumer_key=\"ck1\", oauth_token=\"tk2\", oauth_signature=\"%26ts3\", \
             oauth_nonce=\"n0nce\", oauth_timestamp=\"1700000000\""
        );
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(nonce(), nonce());
        assert_eq!(nonce().len(), 32);
    }

    #[test]
    fn malformed_keys_are_refused_without_echoing_them() {
        for (text, want) in [
            ("only-one", KeyError::Parts(1)),
            ("a:b", KeyError::Parts(2)),
            ("a:b:c:d", KeyError::Parts(4)),
            ("a::c", KeyError::EmptyPart),
            ("a:b c:d", KeyError::BadCharacter),
        ] {
            let err = key(text).unwrap_err();
            assert_eq!(err, want, "{text}");
            assert!(!err.to_string().contains(text), "{err}");
        }
        assert!(key(" a:b:c\n").is_ok(), "surrounding blanks are trimmed");
        assert_eq!(format!("{:?}", key("a:b:c").unwrap()), "ApiKey(********)");
    }
}
