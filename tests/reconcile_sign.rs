//! recmon's ACS3-HMAC-SHA256 and TC3-HMAC-SHA256 signatures against the providers' own SDKs,
//! byte for byte: for each input, the canonical request, the string to sign and the
//! Authorization header recmon computes must equal what `tests/standin/sign_vectors.py`
//! computes with the SDKs' code (`target/sdk-venv`, made by `scripts/sdk-venv.sh`).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use recmon::reconcile::sign::{acs3, sha256_hex, tc3};
use serde_json::{json, Value};

/// The venv's python, or `None` (skipped loudly; under CI, where `.ci/run` makes it, a failure).
fn sdk_python() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("target/sdk-venv/bin/python");
    if python.exists() {
        Some(python)
    } else {
        common::skip_unless_ci(
            "target/sdk-venv is missing (scripts/sdk-venv.sh makes it): the SDKs' signatures cannot be computed",
        );
        None
    }
}

/// Runs the SDK vector script over `inputs` (an array) and returns its array of outputs.
fn sdk_vectors(python: &Path, inputs: &Value) -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(python)
        .arg(root.join("tests/standin/sign_vectors.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sign_vectors.py");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(inputs.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sign_vectors.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("sign_vectors.py prints JSON");
    v.as_array().expect("an array for an array").clone()
}

const AK: &str = "LTAI5tTestOnlyKeyId";
const SECRET: &str = "test-only-secret/+=~ é";

struct AcsCase {
    name: &'static str,
    query: Vec<(&'static str, &'static str)>,
    token: Option<&'static str>,
    host: &'static str,
    action: &'static str,
    date: &'static str,
    nonce: &'static str,
}

fn acs_cases() -> Vec<AcsCase> {
    vec![
        AcsCase {
            name: "plain notify records",
            query: vec![
                ("DomainName", "example.com"),
                ("StartTime", "2026-01-10T00:00:00Z"),
                ("EndTime", "2026-01-10T23:59:59Z"),
                ("PageNumber", "1"),
                ("PageSize", "500"),
            ],
            token: None,
            host: "live.aliyuncs.com",
            action: "DescribeLiveRecordNotifyRecords",
            date: "2026-01-10T12:00:00Z",
            nonce: "3f1c2e0a9b8d7c6e5f4a3b2c1d0e9f8a",
        },
        AcsCase {
            name: "spaces, plus, star, tilde, slash, reserved characters",
            query: vec![
                ("StreamName", "a b+c*d~e/f"),
                ("AppName", "x&y=z%20?#[]@!$'(),;"),
                ("DomainName", "example.com"),
            ],
            token: None,
            host: "127.0.0.1:8080",
            action: "DescribeLiveStreamRecordIndexFiles",
            date: "2026-02-28T23:59:59Z",
            nonce: "n1",
        },
        AcsCase {
            name: "unicode and empty values",
            query: vec![
                ("StreamName", "直播流-é-😀"),
                ("AppName", ""),
                ("Status", ""),
                ("DomainName", "例子.com"),
            ],
            token: None,
            host: "live.aliyuncs.com",
            action: "DescribeLiveRecordNotifyRecords",
            date: "2026-01-01T00:00:00Z",
            nonce: "nonce-with-dash",
        },
        AcsCase {
            name: "an STS security token",
            query: vec![("DomainName", "example.com")],
            token: Some("CAIS+token/with=odd chars~"),
            host: "live.aliyuncs.com",
            action: "DescribeLiveRecordNotifyConfig",
            date: "2026-03-15T08:30:00Z",
            nonce: "abc",
        },
        AcsCase {
            name: "names that sort by code point (upper before lower)",
            query: vec![
                ("b", "1"),
                ("B", "2"),
                ("a_b", "3"),
                ("aB", "4"),
                ("A", "5"),
            ],
            token: None,
            host: "live.aliyuncs.com",
            action: "DescribeLiveRecordNotifyRecords",
            date: "2026-01-10T12:00:00Z",
            nonce: "n",
        },
    ]
}

#[test]
fn acs3_matches_the_alibaba_cloud_sdk_byte_for_byte() {
    let Some(python) = sdk_python() else {
        return;
    };
    let cases = acs_cases();
    let mut inputs = Vec::new();
    let mut ours = Vec::new();
    for c in &cases {
        let query: Vec<(String, String)> = c
            .query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let payload = sha256_hex(b"");
        let headers = acs3::headers(&acs3::HeaderValues {
            host: c.host,
            action: c.action,
            version: "2016-11-01",
            date: c.date,
            nonce: c.nonce,
            content_sha256: &payload,
            access_key_id: AK,
            security_token: c.token,
        });
        let signed = acs3::sign(
            &acs3::Request {
                method: "POST",
                path: "/",
                query: &query,
                headers: &headers,
                payload_sha256_hex: &payload,
            },
            AK,
            SECRET,
        );
        let query_obj: serde_json::Map<String, Value> = c
            .query
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        let header_obj: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        inputs.push(json!({
            "method": "POST", "host": c.host, "path": "/", "query": query_obj,
            "headers": header_obj, "body": "", "access_key_id": AK,
            "access_key_secret": SECRET,
        }));
        ours.push(signed);
    }
    let sdk = sdk_vectors(&python, &Value::Array(inputs));
    assert_eq!(sdk.len(), cases.len());
    for ((c, o), s) in cases.iter().zip(&ours).zip(&sdk) {
        let s = &s["acs3"];
        assert_eq!(
            o.canonical_request,
            s["canonical_request"].as_str().unwrap(),
            "{}: canonical request",
            c.name
        );
        assert_eq!(
            o.string_to_sign,
            s["string_to_sign"].as_str().unwrap(),
            "{}: string to sign",
            c.name
        );
        assert_eq!(
            o.signed_headers,
            s["signed_headers"].as_str().unwrap(),
            "{}: signed headers",
            c.name
        );
        assert_eq!(
            o.authorization,
            s["authorization"].as_str().unwrap(),
            "{}: Authorization",
            c.name
        );
        assert!(!o.authorization.contains(SECRET));
    }
    // The token case signs the two STS headers, as the SDK does.
    assert!(ours[3]
        .signed_headers
        .contains("x-acs-accesskey-id;x-acs-action"));
    assert!(ours[3]
        .signed_headers
        .ends_with("x-acs-security-token;x-acs-signature-nonce;x-acs-version"));
}

#[test]
fn acs3_header_canonicalization_matches_the_sdk() {
    // Headers with odd case and padding, and a content-type, signed as given.
    let Some(python) = sdk_python() else {
        return;
    };
    let headers: Vec<(String, String)> = vec![
        ("Host".into(), "live.aliyuncs.com".into()),
        (
            "X-Acs-Action".into(),
            "  DescribeLiveRecordNotifyRecords ".into(),
        ),
        ("x-acs-version".into(), "2016-11-01".into()),
        (
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ),
        ("x-acs-date".into(), "2026-01-10T12:00:00Z".into()),
        ("x-acs-signature-nonce".into(), "\tn\t".into()),
    ];
    let body = "DomainName=example.com&PageSize=500";
    let payload = sha256_hex(body.as_bytes());
    let mut with_hash = headers.clone();
    with_hash.push(("x-acs-content-sha256".into(), payload.clone()));
    let query: Vec<(String, String)> = vec![];
    let ours = acs3::sign(
        &acs3::Request {
            method: "POST",
            path: "/",
            query: &query,
            headers: &with_hash,
            payload_sha256_hex: &payload,
        },
        AK,
        SECRET,
    );
    let header_obj: serde_json::Map<String, Value> = with_hash
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let sdk = sdk_vectors(
        &python,
        &json!([{
            "method": "POST", "host": "live.aliyuncs.com", "path": "/", "query": {},
            "headers": header_obj, "body": body, "access_key_id": AK, "access_key_secret": SECRET,
        }]),
    );
    let s = &sdk[0]["acs3"];
    assert_eq!(
        ours.canonical_request,
        s["canonical_request"].as_str().unwrap()
    );
    assert_eq!(ours.string_to_sign, s["string_to_sign"].as_str().unwrap());
    assert_eq!(ours.authorization, s["authorization"].as_str().unwrap());
}

#[test]
fn tc3_matches_the_tencent_cloud_sdk_byte_for_byte() {
    let Some(python) = sdk_python() else {
        return;
    };
    let sid = "AKIDtestOnlySecretId";
    let key = "test-only-key+/=é";
    // (name, host, body, timestamp)
    let cases: Vec<(&str, &str, String, i64)> = vec![
        (
            "a page of callback records",
            "live.tencentcloudapi.com",
            json!({"StartTime": "2026-01-10T00:00:00Z", "EndTime": "2026-01-10T23:59:59Z",
                   "StreamName": "s1", "PageNum": 1, "PageSize": 100})
            .to_string(),
            1_768_046_400,
        ),
        (
            "unicode, spaces and escapes in the body",
            "127.0.0.1:9001",
            json!({"StreamName": "直播 流+*~/\"\\", "EventType": 100, "ResultCode": 0,
                   "StartTime": "2026-01-10 08:00:00", "EndTime": "2026-01-10 09:00:00"})
            .to_string(),
            1_768_089_599,
        ),
        (
            "just after UTC midnight (the scope's date)",
            "live.tencentcloudapi.com",
            "{}".to_string(),
            1_768_089_600,
        ),
        (
            "an empty body",
            "live.tencentcloudapi.com",
            String::new(),
            1_700_000_000,
        ),
    ];
    let mut inputs = Vec::new();
    let mut ours = Vec::new();
    for (_, host, body, ts) in &cases {
        ours.push(tc3::sign(
            &tc3::Request {
                host,
                content_type: tc3::JSON_CONTENT_TYPE,
                payload: body.as_bytes(),
                timestamp: *ts,
                service: "live",
            },
            sid,
            key,
        ));
        inputs.push(json!({
            "method": "POST", "host": host, "path": "/", "body": body,
            "access_key_id": "unused", "access_key_secret": "unused",
            "secret_id": sid, "secret_key": key, "timestamp": ts, "service": "live",
        }));
    }
    let sdk = sdk_vectors(&python, &Value::Array(inputs));
    for (((name, ..), o), s) in cases.iter().zip(&ours).zip(&sdk) {
        let s = &s["tc3"];
        assert_eq!(
            o.canonical_request,
            s["canonical_request"].as_str().unwrap(),
            "{name}: canonical request"
        );
        assert_eq!(
            o.string_to_sign,
            s["string_to_sign"].as_str().unwrap(),
            "{name}: string to sign"
        );
        assert_eq!(
            o.authorization,
            s["authorization"].as_str().unwrap(),
            "{name}: Authorization"
        );
        assert!(!o.authorization.contains(key));
    }
}

#[test]
fn tc3_region_and_token_headers_are_sent_but_not_signed() {
    // The SDK signs content-type;host only: a region and a token change the headers sent,
    // never the signature (the stand-in checks the whole request in tests/reconcile_clients.rs).
    let h = tc3::headers(
        "DescribeCallbackRecordsList",
        "2018-08-01",
        1_768_046_400,
        Some("ap-guangzhou"),
        Some("tok"),
    );
    let names: Vec<&str> = h.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "X-TC-Action",
            "X-TC-Timestamp",
            "X-TC-Version",
            "X-TC-Region",
            "X-TC-Token"
        ]
    );
    let bare = tc3::headers("A", "2018-08-01", 1, None, Some(""));
    assert_eq!(bare.len(), 3);
}
