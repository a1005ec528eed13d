//! recmon's OpenAPI clients (src/reconcile/) against the local stand-ins of the providers'
//! APIs (tests/standin/aliyun_live.py, tencent_live.py), which check every request's signature
//! with the providers' own SDK code and answer with the SDKs' response models: paging over
//! several pages, a long window split into the allowed spans (a record on a shared boundary
//! counted once), history clipped, throttling retried, and a wrong secret refused as a typed
//! auth error whose words hold no secret.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use recmon::reconcile::transport::Backoff;
use recmon::reconcile::window::parse_time;
use recmon::reconcile::{aliyun, tencent, ReconcileError};
use serde_json::{json, Value};

/// A running stand-in: its URL, request log and fixture; killed on drop.
struct Standin {
    child: Child,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Standin {
    /// Starts `tests/standin/<script>` on a free port with `fixture`, or `None` when the SDK
    /// venv is missing (skipped loudly; a failure under CI).
    fn start(script: &str, fixture: &Value) -> Option<Standin> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = root.join("target/sdk-venv/bin/python");
        if !python.exists() {
            common::skip_unless_ci(
                "target/sdk-venv is missing (scripts/sdk-venv.sh makes it): no provider stand-in",
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let fixture_path = dir.path().join("fixture.json");
        std::fs::write(&fixture_path, fixture.to_string()).unwrap();
        let log = dir.path().join("requests.jsonl");
        let mut child = Command::new(python)
            .arg(root.join("tests/standin").join(script))
            .arg("--fixture")
            .arg(&fixture_path)
            .arg("--log")
            .arg(&log)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the stand-in");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("stand-in said {line:?}"))
            .parse()
            .unwrap();
        Some(Standin {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        })
    }

    /// The request log, once it holds at least `n` lines (the ApsaraVideo stand-in writes its
    /// line just after answering).
    fn requests(&self, n: usize) -> Vec<Value> {
        let mut lines = Vec::new();
        common::wait_until(Duration::from_secs(5), || {
            lines = common::journal_lines(&self.log);
            lines.len() >= n
        });
        lines
    }
}

const NOW: &str = "2026-01-10T12:00:00Z";
const AK: &str = "LTAI-test";
const SECRET: &str = "test-only-secret-Zq9";
const SID: &str = "AKID-test";
const SKEY: &str = "test-only-key-Wp7";

fn t(s: &str) -> DateTime<Utc> {
    parse_time(s, 0).unwrap()
}

fn fast_backoff(max_attempts: u32) -> Backoff {
    Backoff {
        max_attempts,
        base: Duration::from_millis(20),
        max: Duration::from_millis(200),
    }
}

fn aliyun_client(url: &str, secret: &str, token: Option<&str>) -> aliyun::Client {
    aliyun::Client::new(
        aliyun::Credentials::new(AK, secret, token.map(str::to_string)),
        aliyun::Config {
            endpoint: url.to_string(),
            timeout: Duration::from_secs(10),
            backoff: fast_backoff(4),
            now: Some(t(NOW)),
            max_records: 100_000,
        },
    )
    .unwrap()
}

fn notify_record(i: usize, at: DateTime<Utc>) -> Value {
    json!({
        "DomainName": "example.com", "AppName": "live", "StreamName": format!("s{}", i % 3),
        "NotifyType": "file_created", "NotifyTime": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "NotifyUrl": "http://recv.example/cb",
        "NotifyContent": json!({"domain": "example.com", "app": "live", "stream": format!("s{}", i % 3),
                                 "uri": format!("live/s{}/{i}.flv", i % 3), "duration": 60.0}).to_string(),
        "NotifyHeader": "", "NotifyResponse": "ok",
        "NotifyResult": if i.is_multiple_of(7) { "failed" } else { "success" },
        "Description": "success", "StorageType": "oss"
    })
}

fn aliyun_fixture(records: Vec<Value>) -> Value {
    json!({
        "access_key_id": AK, "access_key_secret": SECRET, "now": NOW,
        "notify_records": records, "index_files": [], "notify_config": {}
    })
}

fn notify_query(start: &str, end: &str) -> aliyun::NotifyRecordsQuery {
    aliyun::NotifyRecordsQuery {
        domain: "example.com".to_string(),
        app: None,
        stream: None,
        status: None,
        start: t(start),
        end: t(end),
    }
}

#[tokio::test]
async fn aliyun_notify_records_page_over_several_pages() {
    // 1,200 callbacks in one hour: three pages of 500.
    let base = t("2026-01-10T09:00:00Z");
    let records: Vec<Value> = (0..1200)
        .map(|i| notify_record(i, base + chrono::Duration::seconds(i as i64 * 3)))
        .collect();
    let Some(s) = Standin::start("aliyun_live.py", &aliyun_fixture(records)) else {
        return;
    };
    let client = aliyun_client(&s.url, SECRET, None);
    let got = client
        .notify_records(&notify_query(
            "2026-01-10T09:00:00Z",
            "2026-01-10T10:00:00Z",
        ))
        .await
        .unwrap();
    assert_eq!(got.items.len(), 1200);
    assert_eq!(got.requests, 3);
    assert_eq!(got.retries, 0);
    assert!(got.clipped.is_none());
    assert!(!got.truncated);
    // In time order, each once.
    let contents: std::collections::HashSet<&str> = got
        .items
        .iter()
        .map(|r| r.notify_content.as_str())
        .collect();
    assert_eq!(contents.len(), 1200);
    assert_eq!(got.items.iter().filter(|r| !r.succeeded()).count(), 172);
    let log = s.requests(3);
    let pages: Vec<&str> = log
        .iter()
        .map(|l| l["query"]["PageNumber"].as_str().unwrap())
        .collect();
    assert_eq!(pages, ["1", "2", "3"]);
    assert!(log.iter().all(|l| l["status"] == 200));
    assert!(log.iter().all(|l| l["query"]["PageSize"] == "500"));
}

#[tokio::test]
async fn aliyun_a_long_window_is_split_and_a_boundary_record_counted_once() {
    // Records over three days, one exactly on the boundary between the first two pieces.
    let mut records = vec![
        notify_record(1, t("2026-01-06T13:00:00Z")),
        notify_record(2, t("2026-01-07T12:00:00Z")), // a piece boundary (pieces start at 12:00)
        notify_record(3, t("2026-01-08T01:00:00Z")),
        notify_record(4, t("2026-01-09T11:59:59Z")),
    ];
    // One older than the 7 days kept: the provider could not say, and recmon says so.
    records.push(notify_record(5, t("2026-01-02T00:00:00Z")));
    let Some(s) = Standin::start("aliyun_live.py", &aliyun_fixture(records)) else {
        return;
    };
    let client = aliyun_client(&s.url, SECRET, None);
    let got = client
        .notify_records(&notify_query(
            "2026-01-06T12:00:00Z",
            "2026-01-09T12:00:00Z",
        ))
        .await
        .unwrap();
    let times: Vec<&str> = got.items.iter().map(|r| r.notify_time.as_str()).collect();
    assert_eq!(
        times,
        [
            "2026-01-06T13:00:00Z",
            "2026-01-07T12:00:00Z",
            "2026-01-08T01:00:00Z",
            "2026-01-09T11:59:59Z"
        ]
    );
    assert_eq!(got.plan.pieces.len(), 3);
    assert!(got.clipped.is_none());
    let log = s.requests(3);
    assert_eq!(log.len(), 3);
    for l in &log {
        let start = t(l["query"]["StartTime"].as_str().unwrap());
        let end = t(l["query"]["EndTime"].as_str().unwrap());
        assert!(end - start <= chrono::Duration::days(1));
        assert_eq!(l["status"], 200);
    }

    // Ten days back: clipped to the 7 days kept, no request refused for it.
    let got = client
        .notify_records(&notify_query(
            "2025-12-31T12:00:00Z",
            "2026-01-10T12:00:00Z",
        ))
        .await
        .unwrap();
    let clipped = got.clipped.expect("the window reached past the history");
    assert_eq!(clipped.requested_start, t("2025-12-31T12:00:00Z"));
    assert!(clipped.kept_start > t("2026-01-03T12:00:00Z"));
    assert_eq!(got.items.len(), 4);
    let log = s.requests(3 + got.requests as usize);
    assert!(log.iter().all(|l| l["status"] == 200), "{log:?}");
}

#[tokio::test]
async fn aliyun_throttled_requests_are_retried() {
    let mut fixture = aliyun_fixture(vec![notify_record(1, t("2026-01-10T10:00:00Z"))]);
    fixture["throttle"] = json!({
        "DescribeLiveRecordNotifyRecords": {"first": 1, "status": 503, "code": "ServiceUnavailable"},
        "*": {"first": 2, "status": 400, "code": "Throttling.User", "retry_after": 30}
    });
    let Some(s) = Standin::start("aliyun_live.py", &fixture) else {
        return;
    };
    let client = aliyun_client(&s.url, SECRET, None);
    let got = client
        .notify_records(&notify_query(
            "2026-01-10T09:00:00Z",
            "2026-01-10T11:00:00Z",
        ))
        .await
        .unwrap();
    assert_eq!(got.items.len(), 1);
    assert_eq!(got.retries, 2);
    assert_eq!(got.requests, 3);
    let log = s.requests(3);
    let codes: Vec<&Value> = log.iter().map(|l| &l["code"]).collect();
    assert_eq!(
        codes,
        [
            &json!("ServiceUnavailable"),
            &json!("Throttling.User"),
            &Value::Null
        ]
    );

    // Throttled on every attempt: a typed error after the last one.
    let mut fixture = aliyun_fixture(vec![]);
    fixture["throttle"] = json!({"*": {"first": 100, "status": 400, "code": "Throttling"}});
    let Some(s) = Standin::start("aliyun_live.py", &fixture) else {
        return;
    };
    let client = aliyun_client(&s.url, SECRET, None);
    let err = client.notify_config("example.com").await.unwrap_err();
    match &err {
        ReconcileError::Throttled { attempts, code, .. } => {
            assert_eq!(*attempts, 4);
            assert_eq!(code, "Throttling");
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
    assert_eq!(s.requests(4).len(), 4);
}

#[tokio::test]
async fn aliyun_a_wrong_secret_is_a_typed_auth_error_without_the_secret() {
    let Some(s) = Standin::start("aliyun_live.py", &aliyun_fixture(vec![])) else {
        return;
    };
    let wrong = "wrong-secret-Kx8";
    let client = aliyun_client(&s.url, wrong, Some("an-sts-token-Vb3"));
    let err = client
        .notify_records(&notify_query(
            "2026-01-10T09:00:00Z",
            "2026-01-10T11:00:00Z",
        ))
        .await
        .unwrap_err();
    assert!(err.is_auth(), "{err:?}");
    match &err {
        ReconcileError::Auth { code, .. } => assert_eq!(code, "SignatureDoesNotMatch"),
        _ => unreachable!(),
    }
    for text in [err.to_string(), format!("{err:?}"), format!("{client:?}")] {
        for secret in [wrong, SECRET, "an-sts-token-Vb3"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    // Not retried: one request.
    assert_eq!(s.requests(1).len(), 1);

    // An unknown AccessKey id.
    let client = aliyun::Client::new(
        aliyun::Credentials::new("LTAI-nobody", SECRET, None),
        aliyun::Config {
            endpoint: s.url.clone(),
            now: Some(t(NOW)),
            ..Default::default()
        },
    )
    .unwrap();
    let err = client.notify_config("example.com").await.unwrap_err();
    assert!(
        matches!(&err, ReconcileError::Auth { status: 404, code, .. } if code == "InvalidAccessKeyId.NotFound"),
        "{err:?}"
    );
    assert!(!err.to_string().contains(SECRET));
}

#[tokio::test]
async fn aliyun_index_files_page_and_split_and_the_config_is_read() {
    // 70 files over 6 days: the 4-day span splits the window in two, 30 a page.
    let start = t("2026-01-03T12:00:00Z");
    let files: Vec<Value> = (0..70)
        .map(|i| {
            let s = start + chrono::Duration::minutes(i * 120);
            let e = s + chrono::Duration::minutes(60);
            let f = |d: DateTime<Utc>| d.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            json!({"RecordId": format!("r{i}"), "DomainName": "example.com", "AppName": "live",
                   "StreamName": "s1", "RecordUrl": format!("http://oss/live/s1/{i}.m3u8"),
                   "OssBucket": "b", "OssEndpoint": "oss-cn-shanghai.aliyuncs.com",
                   "OssObject": format!("live/s1/{i}.m3u8"), "StartTime": f(s), "EndTime": f(e),
                   "Duration": 3600.5, "Width": 1280, "Height": 720, "Format": "m3u8",
                   "CreateTime": f(e)})
        })
        .collect();
    let mut fixture = aliyun_fixture(vec![]);
    fixture["index_files"] = Value::Array(files);
    fixture["notify_config"] = json!({"example.com": {
        "NotifyUrl": "http://recv.example/cb", "OnDemandUrl": "", "NeedStatusNotify": false,
        "NotifyReqAuth": "yes", "NotifyAuthKey": "auth-key-Qm2"}});
    let Some(s) = Standin::start("aliyun_live.py", &fixture) else {
        return;
    };
    let client = aliyun_client(&s.url, SECRET, None);
    let got = client
        .index_files(&aliyun::IndexFilesQuery {
            domain: "example.com".into(),
            app: "live".into(),
            stream: "s1".into(),
            start,
            end: t("2026-01-09T12:00:00Z"),
        })
        .await
        .unwrap();
    let ids: Vec<String> = got.items.iter().map(|f| f.record_id.clone()).collect();
    assert_eq!(ids.len(), 70, "{ids:?}");
    assert_eq!(
        ids.iter().collect::<std::collections::HashSet<_>>().len(),
        70
    );
    assert_eq!(got.plan.pieces.len(), 2);
    assert_eq!(got.items[0].duration, Some(3600.5));
    assert_eq!(got.items[0].width, Some(1280));
    // The first 4 days: 49 files (the last on the boundary) → 2 pages of 30; the rest: 22 → 1
    // page (the boundary file again, skipped).
    let log = s.requests(got.requests as usize);
    assert!(log.iter().all(|l| l["query"]["PageSize"] == "30"));
    assert_eq!(got.requests, 3);

    let config = client.notify_config("example.com").await.unwrap().unwrap();
    assert_eq!(config.notify_url, "http://recv.example/cb");
    assert_eq!(config.need_status_notify, Some(false));
    assert!(config.notify_auth_key_set);
    assert!(!format!("{config:?}").contains("auth-key-Qm2"));
    assert_eq!(client.notify_config("other.example").await.unwrap(), None);
}

#[tokio::test]
async fn aliyun_unreachable_is_typed() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = aliyun_client(&format!("http://127.0.0.1:{port}"), SECRET, None);
    let err = client.notify_config("example.com").await.unwrap_err();
    assert!(
        matches!(&err, ReconcileError::Unreachable { detail, .. } if detail.contains("refused")),
        "{err:?}"
    );
    assert!(!err.to_string().contains(SECRET));
}

fn tencent_record(i: usize, at: &str, code: i64) -> Value {
    json!({"StreamId": "s1", "EventTime": at, "EventType": 100,
           "Request": json!({"event_type": 100, "stream_id": "s1", "seq": i}).to_string(),
           "Response": "ok", "ResponseTime": at, "ResultCode": code})
}

fn tencent_fixture(records: Vec<Value>) -> Value {
    json!({"secret_id": SID, "secret_key": SKEY, "now": NOW, "callback_records": records})
}

fn tencent_client(
    url: &str,
    key: &str,
    token: Option<&str>,
    region: Option<&str>,
) -> tencent::Client {
    tencent::Client::new(
        tencent::Credentials::new(SID, key, token.map(str::to_string)),
        tencent::Config {
            endpoint: url.to_string(),
            region: region.map(str::to_string),
            timeout: Duration::from_secs(10),
            backoff: fast_backoff(4),
            now: Some(t(NOW)),
            max_records: 100_000,
        },
    )
    .unwrap()
}

fn tencent_query(start: &str, end: &str) -> tencent::CallbackRecordsQuery {
    tencent::CallbackRecordsQuery {
        stream: "s1".into(),
        event_type: None,
        result_code: None,
        start: t(start),
        end: t(end),
    }
}

#[tokio::test]
async fn tencent_pages_splits_and_counts_a_boundary_record_once() {
    // 250 records on one day (3 pages of 100), and records over two more days, one exactly on
    // a piece boundary.
    let mut records: Vec<Value> = (0..250)
        .map(|i| {
            let at = t("2026-01-09T13:00:00Z") + chrono::Duration::seconds(i as i64 * 60);
            tencent_record(
                i,
                &at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                i64::from(i.is_multiple_of(5)),
            )
        })
        .collect();
    records.push(tencent_record(1000, "2026-01-08T12:00:00Z", 0)); // boundary
    records.push(tencent_record(1001, "2026-01-07 20:30:00", 0)); // Beijing time: 12:30Z
    let Some(s) = Standin::start("tencent_live.py", &tencent_fixture(records)) else {
        return;
    };
    let client = tencent_client(&s.url, SKEY, None, None);
    let got = client
        .callback_records(&tencent_query(
            "2026-01-07T12:00:00Z",
            "2026-01-10T12:00:00Z",
        ))
        .await
        .unwrap();
    assert_eq!(got.items.len(), 252);
    assert_eq!(got.plan.pieces.len(), 3);
    assert_eq!(got.items.iter().filter(|r| !r.succeeded()).count(), 50);
    assert_eq!(
        got.items
            .iter()
            .filter(|r| r.request.contains("\"seq\":1000"))
            .count(),
        1
    );
    let log = s.requests(got.requests as usize);
    assert!(log.iter().all(|l| l["code"].is_null()), "{log:?}");
    // The last day's 250 records in 3 pages.
    let last_day: Vec<i64> = log
        .iter()
        .filter(|l| l["params"]["StartTime"] == "2026-01-09T12:00:00Z")
        .map(|l| l["params"]["PageNum"].as_i64().unwrap())
        .collect();
    assert_eq!(last_day, [1, 2, 3]);
    for l in &log {
        let start = t(l["params"]["StartTime"].as_str().unwrap());
        let end = t(l["params"]["EndTime"].as_str().unwrap());
        assert!(end - start <= chrono::Duration::days(1));
    }

    // Twenty days back: clipped to the 14 kept.
    let got = client
        .callback_records(&tencent_query(
            "2025-12-21T12:00:00Z",
            "2025-12-28T12:00:00Z",
        ))
        .await
        .unwrap();
    assert!(got.clipped.is_some());
    assert!(got.items.is_empty());
}

#[tokio::test]
async fn tencent_throttling_is_retried_and_a_token_and_region_are_sent() {
    let mut fixture = tencent_fixture(vec![tencent_record(1, "2026-01-10T10:00:00Z", 0)]);
    fixture["token"] = json!("session-token-Hj4");
    fixture["throttle"] =
        json!({"DescribeCallbackRecordsList": {"first": 2, "code": "RequestLimitExceeded"}});
    let Some(s) = Standin::start("tencent_live.py", &fixture) else {
        return;
    };
    let client = tencent_client(
        &s.url,
        SKEY,
        Some("session-token-Hj4"),
        Some("ap-guangzhou"),
    );
    let got = client
        .callback_records(&tencent_query(
            "2026-01-10T09:00:00Z",
            "2026-01-10T11:00:00Z",
        ))
        .await
        .unwrap();
    assert_eq!(got.items.len(), 1);
    assert_eq!(got.retries, 2);
    let log = s.requests(3);
    let codes: Vec<&Value> = log.iter().map(|l| &l["code"]).collect();
    assert_eq!(
        codes,
        [
            &json!("RequestLimitExceeded"),
            &json!("RequestLimitExceeded"),
            &Value::Null
        ]
    );
    assert!(log.iter().all(|l| l["region"] == "ap-guangzhou"));

    // Without the token the stand-in refuses it: an auth error.
    let client = tencent_client(&s.url, SKEY, None, None);
    let err = client
        .callback_records(&tencent_query(
            "2026-01-10T09:00:00Z",
            "2026-01-10T11:00:00Z",
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ReconcileError::Auth { code, .. } if code == "AuthFailure.TokenFailure"),
        "{err:?}"
    );
}

#[tokio::test]
async fn tencent_a_wrong_key_is_a_typed_auth_error_without_the_key() {
    let Some(s) = Standin::start("tencent_live.py", &tencent_fixture(vec![])) else {
        return;
    };
    let wrong = "wrong-key-Ty5";
    let client = tencent_client(&s.url, wrong, None, None);
    let err = client
        .callback_records(&tencent_query(
            "2026-01-10T09:00:00Z",
            "2026-01-10T11:00:00Z",
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ReconcileError::Auth { code, .. } if code == "AuthFailure.SignatureFailure"),
        "{err:?}"
    );
    for text in [err.to_string(), format!("{err:?}"), format!("{client:?}")] {
        assert!(!text.contains(wrong) && !text.contains(SKEY), "{text}");
    }
    assert_eq!(s.requests(1).len(), 1);
}
