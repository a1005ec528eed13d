//! Request signing for the providers' OpenAPIs, pure (no clock, no randomness: the caller
//! passes the date, the nonce and the timestamp), byte for byte what the providers' own SDKs
//! compute for the same inputs (`tests/reconcile_sign.rs` compares them with the SDKs):
//!
//! - [`acs3`]: Alibaba Cloud's **ACS3-HMAC-SHA256** (OpenAPI V3 signature), as
//!   `alibabacloud_tea_openapi.utils.Utils.get_authorization` (and the identical
//!   `alibabacloud_openapi_util.client.Client.get_authorization`) compute it;
//! - [`tc3`]: Tencent Cloud's **TC3-HMAC-SHA256** (API 3.0), as
//!   `tencentcloud.common.abstract_client.AbstractClient._get_tc3_signature` and
//!   `tencentcloud.common.sign.Sign.sign_tc3` compute it for a JSON POST.
//!
//! Secrets are borrowed, used for the HMAC and never copied into any returned string.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The ACS3 signature algorithm's name, as it appears in the string to sign and the
/// `Authorization` header.
pub const ACS3_ALGORITHM: &str = "ACS3-HMAC-SHA256";
/// The TC3 signature algorithm's name.
pub const TC3_ALGORITHM: &str = "TC3-HMAC-SHA256";
/// The hex SHA-256 of an empty payload: what an ApsaraVideo RPC request (parameters in the
/// query, no body) signs as its payload and sends as `x-acs-content-sha256`.
pub const EMPTY_SHA256_HEX: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// What a signature is made of, for tests and diagnostics: the canonical request, the string
/// to sign, and the `Authorization` header value. None of them contains the secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    /// The canonical request, exactly as hashed.
    pub canonical_request: String,
    /// The string to sign, exactly as HMAC'd.
    pub string_to_sign: String,
    /// The lower-cased, `;`-joined names of the signed headers.
    pub signed_headers: String,
    /// The value of the `Authorization` header.
    pub authorization: String,
}

/// The lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length; new_from_slice cannot fail for it.
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// ACS3-HMAC-SHA256, Alibaba Cloud's OpenAPI V3 signature.
pub mod acs3 {
    use super::{hex, hmac_sha256, sha256_hex, Signed, ACS3_ALGORITHM};

    /// One request to sign. `query` holds the parameters *decoded* (the canonical form encodes
    /// them); `headers` holds every header to sign (the SDK signs every header it sends; recmon
    /// signs `host` and the `x-acs-*` ones, see [`headers`]). Names need not be lower-case.
    #[derive(Clone, Debug)]
    pub struct Request<'a> {
        /// `POST` for the RPC-style actions.
        pub method: &'a str,
        /// The canonical URI: `/` for RPC-style actions (an empty path signs as `/`).
        pub path: &'a str,
        /// The query parameters, decoded, names unique.
        pub query: &'a [(String, String)],
        /// The headers to sign (not `Authorization`).
        pub headers: &'a [(String, String)],
        /// The hex SHA-256 of the body ([`super::EMPTY_SHA256_HEX`] without one).
        pub payload_sha256_hex: &'a str,
    }

    /// The values of the `x-acs-*` headers of one request, and its host.
    #[derive(Clone, Debug)]
    pub struct HeaderValues<'a> {
        /// The endpoint's host (with `:port` when not the scheme's default).
        pub host: &'a str,
        /// The action, e.g. `DescribeLiveRecordNotifyRecords`.
        pub action: &'a str,
        /// The API version, e.g. `2016-11-01`.
        pub version: &'a str,
        /// ISO 8601 UTC, `YYYY-MM-DDTHH:MM:SSZ` (see [`date`]).
        pub date: &'a str,
        /// A value unique to this request (the SDK uses 32 hex digits).
        pub nonce: &'a str,
        /// The hex SHA-256 of the body.
        pub content_sha256: &'a str,
        /// The AccessKey ID, sent as `x-acs-accesskey-id` with a security token (as the SDK).
        pub access_key_id: &'a str,
        /// The STS security token, when the credentials have one.
        pub security_token: Option<&'a str>,
    }

    /// The headers the SDK sends and signs for an RPC action, less its `user-agent` and
    /// `accept` (which recmon sends unsigned): `host`, `x-acs-action`, `x-acs-version`,
    /// `x-acs-date`, `x-acs-signature-nonce`, `x-acs-content-sha256`, and with a token
    /// `x-acs-accesskey-id` and `x-acs-security-token`.
    pub fn headers(v: &HeaderValues<'_>) -> Vec<(String, String)> {
        let mut h = vec![
            ("host".to_string(), v.host.to_string()),
            ("x-acs-action".to_string(), v.action.to_string()),
            ("x-acs-version".to_string(), v.version.to_string()),
            ("x-acs-date".to_string(), v.date.to_string()),
            ("x-acs-signature-nonce".to_string(), v.nonce.to_string()),
            (
                "x-acs-content-sha256".to_string(),
                v.content_sha256.to_string(),
            ),
        ];
        if let Some(token) = v.security_token.filter(|t| !t.is_empty()) {
            h.push((
                "x-acs-accesskey-id".to_string(),
                v.access_key_id.to_string(),
            ));
            h.push(("x-acs-security-token".to_string(), token.to_string()));
        }
        h
    }

    /// `x-acs-date` for a Unix time: `YYYY-MM-DDTHH:MM:SSZ` in UTC.
    pub fn date(unix_seconds: i64) -> String {
        chrono::DateTime::from_timestamp(unix_seconds, 0)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }

    /// Percent-encodes as Python's `urllib.parse.quote(s, safe='~')` does over UTF-8: every
    /// byte but `A-Z a-z 0-9 - _ . ~` becomes `%XX` (upper-case hex), so a space is `%20`, `+`
    /// is `%2B`, `*` is `%2A`, `/` is `%2F`.
    pub fn percent_encode(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for &b in s.as_bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(b as char);
            } else {
                out.push('%');
                out.push_str(&hex(&[b]).to_ascii_uppercase());
            }
        }
        out
    }

    /// The canonical query string: names sorted (by code point, as Python sorts), each
    /// `name=encoded value` joined by `&`. The SDK leaves names unencoded; an empty value
    /// gives `name=`.
    pub fn canonical_query(query: &[(String, String)]) -> String {
        let mut sorted: Vec<&(String, String)> = query.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = String::new();
        for (i, (k, v)) in sorted.into_iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(&percent_encode(v));
        }
        out
    }

    /// Python's `str.strip()` with no argument: the characters `str.isspace()` accepts.
    fn py_strip(s: &str) -> &str {
        s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
    }

    /// The canonical headers (`name:value\n` each, names lower-cased and sorted, values
    /// trimmed, a repeated name's values sorted and joined by `,`) and the signed headers list.
    pub fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
        let mut names: Vec<String> = Vec::new();
        let mut values: Vec<Vec<String>> = Vec::new();
        for (k, v) in headers {
            let name = k.to_lowercase();
            let value = py_strip(v).to_string();
            match names.iter().position(|n| *n == name) {
                Some(i) => values[i].push(value),
                None => {
                    names.push(name);
                    values.push(vec![value]);
                }
            }
        }
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|&a, &b| names[a].cmp(&names[b]));
        let mut canonical = String::new();
        let mut signed = String::new();
        for (n, &i) in order.iter().enumerate() {
            let mut vals = values[i].clone();
            vals.sort();
            canonical.push_str(&names[i]);
            canonical.push(':');
            canonical.push_str(&vals.join(","));
            canonical.push('\n');
            if n > 0 {
                signed.push(';');
            }
            signed.push_str(&names[i]);
        }
        (canonical, signed)
    }

    /// Signs `req` with the AccessKey pair: the canonical request
    /// `METHOD\nURI\nQUERY\nHEADERS\nSIGNED\nPAYLOAD_HASH` (HEADERS ends in its own `\n`), the
    /// string to sign `ACS3-HMAC-SHA256\n<hex sha256(canonical request)>`, the hex
    /// HMAC-SHA256 of it with the secret, and
    /// `ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<list>,Signature=<hex>`.
    pub fn sign(req: &Request<'_>, access_key_id: &str, access_key_secret: &str) -> Signed {
        let uri = if req.path.is_empty() { "/" } else { req.path };
        let query = canonical_query(req.query);
        let (headers, signed_headers) = canonical_headers(req.headers);
        let canonical_request = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            req.method, uri, query, headers, signed_headers, req.payload_sha256_hex
        );
        let string_to_sign = format!(
            "{ACS3_ALGORITHM}\n{}",
            sha256_hex(canonical_request.as_bytes())
        );
        let signature = hex(&hmac_sha256(
            access_key_secret.as_bytes(),
            string_to_sign.as_bytes(),
        ));
        let authorization = format!(
            "{ACS3_ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"
        );
        Signed {
            canonical_request,
            string_to_sign,
            signed_headers,
            authorization,
        }
    }

    /// The query string sent on the wire: the canonical one (every value percent-encoded, so
    /// the server decodes exactly the values that were signed).
    pub fn wire_query(query: &[(String, String)]) -> String {
        canonical_query(query)
    }
}

/// TC3-HMAC-SHA256, Tencent Cloud's API 3.0 signature, for a JSON POST to `/`.
pub mod tc3 {
    use super::{hex, hmac_sha256, sha256_hex, Signed, TC3_ALGORITHM};

    /// The `Content-Type` the SDK sends (and signs) with a JSON POST: exactly
    /// `application/json` (`_json_content` in `abstract_client.py`), no charset.
    pub const JSON_CONTENT_TYPE: &str = "application/json";

    /// One request to sign.
    #[derive(Clone, Debug)]
    pub struct Request<'a> {
        /// The endpoint's host, as sent in `Host` (with `:port` when not the default).
        pub host: &'a str,
        /// The `Content-Type` sent ([`JSON_CONTENT_TYPE`]).
        pub content_type: &'a str,
        /// The JSON body, exactly as sent.
        pub payload: &'a [u8],
        /// `X-TC-Timestamp`: Unix seconds; its UTC date is the credential scope's date.
        pub timestamp: i64,
        /// The service, `live` for CSS.
        pub service: &'a str,
    }

    /// The UTC date (`YYYY-MM-DD`) of a Unix time, as the credential scope uses it.
    pub fn date(timestamp: i64) -> String {
        chrono::DateTime::from_timestamp(timestamp, 0)
            .unwrap_or_default()
            .format("%Y-%m-%d")
            .to_string()
    }

    /// The `X-TC-*` headers the SDK sends besides `Authorization`, `Content-Type` and `Host`:
    /// `X-TC-Action`, `X-TC-Timestamp`, `X-TC-Version`, `X-TC-Region` (when given) and
    /// `X-TC-Token` (when a token is set). None of them is signed.
    pub fn headers(
        action: &str,
        version: &str,
        timestamp: i64,
        region: Option<&str>,
        token: Option<&str>,
    ) -> Vec<(String, String)> {
        let mut h = vec![
            ("X-TC-Action".to_string(), action.to_string()),
            ("X-TC-Timestamp".to_string(), timestamp.to_string()),
            ("X-TC-Version".to_string(), version.to_string()),
        ];
        if let Some(region) = region.filter(|r| !r.is_empty()) {
            h.push(("X-TC-Region".to_string(), region.to_string()));
        }
        if let Some(token) = token.filter(|t| !t.is_empty()) {
            h.push(("X-TC-Token".to_string(), token.to_string()));
        }
        h
    }

    /// Signs `req`: the canonical request
    /// `POST\n/\n\ncontent-type:<ct>\nhost:<host>\n\ncontent-type;host\n<hex sha256(payload)>`,
    /// the scope `<date>/<service>/tc3_request`, the string to sign
    /// `TC3-HMAC-SHA256\n<timestamp>\n<scope>\n<hex sha256(canonical request)>`, the key chain
    /// HMAC("TC3"+secret, date) → service → "tc3_request", and
    /// `TC3-HMAC-SHA256 Credential=<id>/<scope>, SignedHeaders=content-type;host, Signature=<hex>`.
    pub fn sign(req: &Request<'_>, secret_id: &str, secret_key: &str) -> Signed {
        let signed_headers = "content-type;host".to_string();
        let canonical_request = format!(
            "POST\n/\n\ncontent-type:{}\nhost:{}\n\n{}\n{}",
            req.content_type,
            req.host,
            signed_headers,
            sha256_hex(req.payload)
        );
        let date = date(req.timestamp);
        let scope = format!("{date}/{}/tc3_request", req.service);
        let string_to_sign = format!(
            "{TC3_ALGORITHM}\n{}\n{scope}\n{}",
            req.timestamp,
            sha256_hex(canonical_request.as_bytes())
        );
        let mut key = Vec::with_capacity(3 + secret_key.len());
        key.extend_from_slice(b"TC3");
        key.extend_from_slice(secret_key.as_bytes());
        let k_date = hmac_sha256(&key, date.as_bytes());
        let k_service = hmac_sha256(&k_date, req.service.as_bytes());
        let k_signing = hmac_sha256(&k_service, b"tc3_request");
        let signature = hex(&hmac_sha256(&k_signing, string_to_sign.as_bytes()));
        let authorization = format!(
            "{TC3_ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
        );
        Signed {
            canonical_request,
            string_to_sign,
            signed_headers,
            authorization,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn empty_payload_hash() {
        assert_eq!(sha256_hex(b""), EMPTY_SHA256_HEX);
    }

    #[test]
    fn percent_encoding_is_pythons_quote_with_tilde_safe() {
        assert_eq!(acs3::percent_encode("a b+c*d~e/f"), "a%20b%2Bc%2Ad~e%2Ff");
        assert_eq!(acs3::percent_encode("é"), "%C3%A9");
        assert_eq!(acs3::percent_encode("A-z_0.9"), "A-z_0.9");
        assert_eq!(acs3::percent_encode(""), "");
    }

    #[test]
    fn canonical_query_sorts_names_and_keeps_empty_values() {
        let query = q(&[("b", "2"), ("A", ""), ("a", "x y")]);
        assert_eq!(acs3::canonical_query(&query), "A=&a=x%20y&b=2");
    }

    #[test]
    fn canonical_headers_lowercase_sort_trim_and_join_repeats() {
        let headers = q(&[("X-Acs-B", " 2 "), ("host", "h"), ("x-acs-b", "1")]);
        let (canonical, signed) = acs3::canonical_headers(&headers);
        assert_eq!(canonical, "host:h\nx-acs-b:1,2\n");
        assert_eq!(signed, "host;x-acs-b");
    }

    #[test]
    fn acs3_date_format() {
        assert_eq!(acs3::date(0), "1970-01-01T00:00:00Z");
        assert_eq!(acs3::date(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn acs3_token_adds_the_two_headers() {
        let mut v = acs3::HeaderValues {
            host: "live.aliyuncs.com",
            action: "A",
            version: "2016-11-01",
            date: "d",
            nonce: "n",
            content_sha256: EMPTY_SHA256_HEX,
            access_key_id: "id",
            security_token: None,
        };
        assert_eq!(acs3::headers(&v).len(), 6);
        v.security_token = Some("tok");
        let h = acs3::headers(&v);
        assert!(h.contains(&("x-acs-security-token".to_string(), "tok".to_string())));
        assert!(h.contains(&("x-acs-accesskey-id".to_string(), "id".to_string())));
    }

    #[test]
    fn the_secret_is_in_no_output() {
        let query = q(&[("DomainName", "example.com")]);
        let headers = q(&[("host", "live.aliyuncs.com")]);
        let secret = "VERY-SECRET-VALUE";
        let s = acs3::sign(
            &acs3::Request {
                method: "POST",
                path: "/",
                query: &query,
                headers: &headers,
                payload_sha256_hex: EMPTY_SHA256_HEX,
            },
            "AKID",
            secret,
        );
        for text in [&s.canonical_request, &s.string_to_sign, &s.authorization] {
            assert!(!text.contains(secret));
        }
        let t = tc3::sign(
            &tc3::Request {
                host: "live.tencentcloudapi.com",
                content_type: tc3::JSON_CONTENT_TYPE,
                payload: b"{}",
                timestamp: 1_700_000_000,
                service: "live",
            },
            "SID",
            secret,
        );
        for text in [&t.canonical_request, &t.string_to_sign, &t.authorization] {
            assert!(!text.contains(secret));
        }
        assert!(t
            .authorization
            .starts_with("TC3-HMAC-SHA256 Credential=SID/2023-11-14/live/tc3_request, SignedHeaders=content-type;host, Signature="));
    }
}
