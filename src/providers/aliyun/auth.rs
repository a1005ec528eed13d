//! The provider's callback signature (`NotifyReqAuth` / `NotifyAuthKey`), see `docs/providers.md`,
//! "Signature verification":
//! `ALI-LIVE-SIGNATURE = md5hex("{host}|{ALI-LIVE-TIMESTAMP}|{key}")`, lowercase hex.
//!
//! One formula, used both to verify incoming callbacks and to sign what `simulate` and
//! `replay` send. The expected signature is computed, compared in constant time and dropped:
//! it never appears in an answer, a log line or the journal, and neither does the key.

use md5::{Digest, Md5};

/// The signature for `host` (without port), `timestamp` (Unix seconds) and `key`.
pub fn signature(host: &str, timestamp: i64, key: &str) -> String {
    let mut h = Md5::new();
    h.update(host.as_bytes());
    h.update(b"|");
    h.update(timestamp.to_string().as_bytes());
    h.update(b"|");
    h.update(key.as_bytes());
    let digest = h.finalize();
    let mut out = String::with_capacity(32);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Constant-time equality for secrets: the time taken depends only on the lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The host part of a Host header: `example.com:8080` → `example.com`, `[::1]:80` → `[::1]`.
pub fn host_without_port(host: &str) -> &str {
    let host = host.trim();
    if host.starts_with('[') {
        return host.find(']').map_or(host, |i| &host[..=i]);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Signature checking settings (`--auth-key`, `--auth-host`, `--auth-max-age`).
#[derive(Clone)]
pub struct AuthConfig {
    key: String,
    /// Host to check against instead of the Host header (behind a proxy that rewrites Host).
    pub host_override: Option<String>,
    /// Largest accepted distance between the timestamp and now, in seconds; 0 = unchecked.
    pub max_age_secs: u64,
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("AuthConfig")
            .field("key", &"<redacted>")
            .field("host_override", &self.host_override)
            .field("max_age_secs", &self.max_age_secs)
            .finish()
    }
}

impl AuthConfig {
    /// Settings with the given key.
    pub fn new(key: String, host_override: Option<String>, max_age_secs: u64) -> Self {
        AuthConfig {
            key,
            host_override,
            max_age_secs,
        }
    }

    /// Whether the key has the provider's documented shape (16 to 64 letters and digits).
    pub fn key_looks_valid(&self) -> bool {
        (16..=64).contains(&self.key.len()) && self.key.chars().all(|c| c.is_ascii_alphanumeric())
    }

    /// Checks a request's signature headers. `host` is the Host header; `now` Unix seconds.
    /// The error says what is wrong without revealing the expected value.
    pub fn verify(
        &self,
        host: Option<&str>,
        timestamp: Option<&str>,
        signature_header: Option<&str>,
        now: i64,
    ) -> Result<(), String> {
        let ts_text = timestamp.ok_or("missing ALI-LIVE-TIMESTAMP header")?;
        let given = signature_header.ok_or("missing ALI-LIVE-SIGNATURE header")?;
        let ts: i64 = ts_text
            .trim()
            .parse()
            .map_err(|_| "ALI-LIVE-TIMESTAMP is not Unix seconds".to_string())?;
        let given = given.trim().to_ascii_lowercase();
        if given.len() != 32 || !given.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("ALI-LIVE-SIGNATURE is not 32 hex digits".into());
        }
        let host = match (&self.host_override, host) {
            (Some(h), _) => h.as_str(),
            (None, Some(h)) => host_without_port(h),
            (None, None) => {
                return Err(
                    "no Host header to check the signature against (see --auth-host)".into(),
                )
            }
        };
        let expected = signature(host, ts, &self.key);
        if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
            return Err(format!(
                "ALI-LIVE-SIGNATURE does not match (checked for host {host:?}; is the key right, or does a proxy rewrite Host? see --auth-host)"
            ));
        }
        if self.max_age_secs > 0 {
            let age = now - ts;
            if age > self.max_age_secs as i64 {
                return Err(format!(
                    "ALI-LIVE-TIMESTAMP is {age} s old, over --auth-max-age {} s",
                    self.max_age_secs
                ));
            }
            if -age > self.max_age_secs as i64 {
                return Err(format!(
                    "ALI-LIVE-TIMESTAMP is {} s in the future, over --auth-max-age {} s",
                    -age, self.max_age_secs
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "yourkey";

    #[test]
    fn documented_example() {
        // md5hex("learn.aliyundoc.com|1519375990|yourkey"), computed with md5sum.
        assert_eq!(
            signature("learn.aliyundoc.com", 1519375990, KEY),
            "9e226fc2c250be266e3657e156f68c12"
        );
    }

    fn cfg(max_age: u64) -> AuthConfig {
        AuthConfig::new(KEY.into(), None, max_age)
    }

    #[test]
    fn good_signature_with_and_without_port() {
        let now = 1_700_000_000;
        let sig = signature("rec.example.com", now, KEY);
        let c = cfg(300);
        assert_eq!(
            c.verify(
                Some("rec.example.com"),
                Some(&now.to_string()),
                Some(&sig),
                now
            ),
            Ok(())
        );
        assert_eq!(
            c.verify(
                Some("rec.example.com:8080"),
                Some(&now.to_string()),
                Some(&sig),
                now
            ),
            Ok(())
        );
        // Uppercase hex is the same signature.
        assert_eq!(
            c.verify(
                Some("rec.example.com"),
                Some(&now.to_string()),
                Some(&sig.to_uppercase()),
                now
            ),
            Ok(())
        );
    }

    #[test]
    fn bad_missing_malformed() {
        let now = 1_700_000_000;
        let c = cfg(300);
        let ts = now.to_string();
        let wrong = signature("rec.example.com", now, "otherkey");
        let e = c
            .verify(Some("rec.example.com"), Some(&ts), Some(&wrong), now)
            .unwrap_err();
        assert!(e.contains("does not match"));
        assert!(
            !e.contains(&signature("rec.example.com", now, KEY)),
            "leaks the expected value"
        );
        assert!(!e.contains(KEY));
        assert!(c
            .verify(Some("h"), None, Some(&wrong), now)
            .unwrap_err()
            .contains("TIMESTAMP"));
        assert!(c
            .verify(Some("h"), Some(&ts), None, now)
            .unwrap_err()
            .contains("SIGNATURE"));
        assert!(c
            .verify(Some("h"), Some("soon"), Some(&wrong), now)
            .unwrap_err()
            .contains("Unix seconds"));
        assert!(c
            .verify(Some("h"), Some(&ts), Some("xyz"), now)
            .unwrap_err()
            .contains("32 hex"));
        assert!(c
            .verify(None, Some(&ts), Some(&wrong), now)
            .unwrap_err()
            .contains("--auth-host"));
    }

    #[test]
    fn stale_and_future_timestamps() {
        let now = 1_700_000_000;
        let c = cfg(300);
        let old = now - 301;
        let sig = signature("h", old, KEY);
        assert!(c
            .verify(Some("h"), Some(&old.to_string()), Some(&sig), now)
            .unwrap_err()
            .contains("old"));
        let future = now + 301;
        let sig = signature("h", future, KEY);
        assert!(c
            .verify(Some("h"), Some(&future.to_string()), Some(&sig), now)
            .unwrap_err()
            .contains("future"));
        let edge = now - 300;
        let sig = signature("h", edge, KEY);
        assert_eq!(
            c.verify(Some("h"), Some(&edge.to_string()), Some(&sig), now),
            Ok(())
        );
        // --auth-max-age 0: age not checked.
        let ancient = now - 100_000;
        let sig = signature("h", ancient, KEY);
        assert_eq!(
            cfg(0).verify(Some("h"), Some(&ancient.to_string()), Some(&sig), now),
            Ok(())
        );
    }

    #[test]
    fn auth_host_overrides_the_host_header() {
        let now = 1_700_000_000;
        let c = AuthConfig::new(KEY.into(), Some("public.example.com".into()), 300);
        let sig = signature("public.example.com", now, KEY);
        assert_eq!(
            c.verify(
                Some("127.0.0.1:8080"),
                Some(&now.to_string()),
                Some(&sig),
                now
            ),
            Ok(())
        );
        let sig_local = signature("127.0.0.1", now, KEY);
        assert!(c
            .verify(
                Some("127.0.0.1:8080"),
                Some(&now.to_string()),
                Some(&sig_local),
                now
            )
            .is_err());
    }

    #[test]
    fn host_port_stripping() {
        assert_eq!(host_without_port("a.com:80"), "a.com");
        assert_eq!(host_without_port("a.com"), "a.com");
        assert_eq!(host_without_port("[::1]:8080"), "[::1]");
        assert_eq!(host_without_port("[::1]"), "[::1]");
    }

    #[test]
    fn debug_never_shows_the_key() {
        assert!(!format!("{:?}", cfg(1)).contains(KEY));
    }
}
