//! The `X-Hub-Signature-256` check on webhook deliveries.
//!
//! Meta signs the raw body bytes with the app secret (HMAC-SHA256). The check
//! runs on those exact bytes before any parsing, because re-serialized JSON
//! hashes differently, and compares in constant time so the signature cannot
//! be guessed byte by byte.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The scheme prefix of the header value.
const PREFIX: &str = "sha256=";

/// Why a delivery's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Hub-Signature-256 header is missing")]
    Missing,
    #[error("the X-Hub-Signature-256 header is not `sha256=<64 hex digits>`")]
    Malformed,
    #[error("the X-Hub-Signature-256 header does not match the body")]
    Mismatch,
}

/// Checks `header_value` (`sha256=<hex>`) against the HMAC-SHA256 of `body`.
pub fn verify_signature(
    app_secret: &[u8],
    header_value: Option<&str>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let value = header_value.ok_or(SignatureError::Missing)?.trim();
    let hex_digest = value
        .strip_prefix(PREFIX)
        .or_else(|| value.strip_prefix("SHA256="))
        .ok_or(SignatureError::Malformed)?;
    let expected = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)?;
    if expected.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    mac(app_secret, body)
        .verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The header value Meta would send for `body`: `sha256=<lowercase hex>`.
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    format!(
        "{PREFIX}{}",
        hex::encode(mac(app_secret, body).finalize().into_bytes())
    )
}

fn mac(app_secret: &[u8], body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = HmacSha256::new_from_slice(app_secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"app-secret";
    const BODY: &[u8] = br#"{"object":"page","entry":[]}"#;

    #[test]
    fn signed_body_verifies() {
        let header = sign(SECRET, BODY);
        assert!(header.starts_with("sha256="));
        assert_eq!(header.len(), "sha256=".len() + 64);
        assert_eq!(verify_signature(SECRET, Some(&header), BODY), Ok(()));
    }

    #[test]
    fn known_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn missing_header() {
        assert_eq!(
            verify_signature(SECRET, None, BODY),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn malformed_headers() {
        for header in [
            "",
            "sha1=abcdef",
            "sha256=zz",
            "sha256=abcd",
            "5bdcc146bf60754e6a042426089575c7",
        ] {
            assert_eq!(
                verify_signature(SECRET, Some(header), BODY),
                Err(SignatureError::Malformed),
                "{header:?}"
            );
        }
    }

    #[test]
    fn mismatches() {
        let header = sign(SECRET, BODY);
        assert_eq!(
            verify_signature(b"other-secret", Some(&header), BODY),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(SECRET, Some(&header), br#"{"object":"page","entry":[ ]}"#),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn uppercase_hex_is_accepted() {
        let header = sign(SECRET, BODY)
            .to_uppercase()
            .replacen("SHA256=", "sha256=", 1);
        assert_eq!(verify_signature(SECRET, Some(&header), BODY), Ok(()));
    }
}
