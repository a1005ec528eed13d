//! The provider's callback signature, in one place: the senders (`replay`, `simulate`) sign
//! with it and the listener verifies with it, so the two can never drift apart.
//!
//! With `NotifyReqAuth` / `NotifyAuthKey` set, ApsaraVideo Live adds two headers to each
//! callback: `ALI-LIVE-TIMESTAMP` (Unix seconds) and `ALI-LIVE-SIGNATURE`, the lowercase hex
//! MD5 of `{host}|{timestamp}|{key}`.

use md5::{Digest, Md5};

/// Name of the header carrying the signing time (Unix seconds).
pub const TIMESTAMP_HEADER: &str = "ALI-LIVE-TIMESTAMP";

/// Name of the header carrying the signature.
pub const SIGNATURE_HEADER: &str = "ALI-LIVE-SIGNATURE";

/// The signature for a callback to `host` (the callback URL's host name, without a port) sent
/// at `timestamp` with the shared `key`: lowercase hex of `md5("{host}|{timestamp}|{key}")`.
pub fn signature(host: &str, timestamp: i64, key: &str) -> String {
    let digest = Md5::digest(format!("{host}|{timestamp}|{key}").as_bytes());
    let mut hex = String::with_capacity(32);
    for b in digest {
        hex.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_example() {
        // printf 'learn.aliyundoc.com|1519375990|yourkey' | md5sum
        assert_eq!(
            signature("learn.aliyundoc.com", 1519375990, "yourkey"),
            "9e226fc2c250be266e3657e156f68c12"
        );
    }

    #[test]
    fn every_input_matters() {
        let base = signature("h", 1, "k");
        assert_ne!(base, signature("h2", 1, "k"));
        assert_ne!(base, signature("h", 2, "k"));
        assert_ne!(base, signature("h", 1, "k2"));
        assert_eq!(base.len(), 32);
        assert!(base
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }
}
