//! `recmon reconcile` against a stand-in of ApsaraVideo Live's OpenAPI built from Alibaba
//! Cloud's own Python SDK (tests/standin/aliyun_live.py, in the virtual environment
//! scripts/sdk-venv.sh makes; `.ci/run` makes it). A scripted broadcast where the receiver is
//! down for a stretch: reconcile finds exactly the callbacks sent in that stretch, backfills
//! them, a second run adds nothing, and the final state equals a receiver that never went
//! down. And in the running receiver: `POST /api/reconcile` (a run now, its summary
//! journaled and answered), `/metrics` and `recmon report` from the journaled runs, and
//! `--forward-reconciled`.

mod backend;
mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use common::Recmon;

const KEY_ID: &str = "LTAI-reconcile-test";
const SECRET: &str = "reconcile-test-secret-0123456789";

fn venv_python() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/sdk-venv/bin/python");
    if p.exists() {
        Some(p)
    } else {
        common::skip_unless_ci(
            "the providers' SDKs are needed (bash scripts/sdk-venv.sh makes target/sdk-venv)",
        );
        None
    }
}

struct StandIn {
    child: Child,
    port: u16,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stand_in(python: &Path, fixture: &Path, log: &Path) -> StandIn {
    let mut child = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standin/aliyun_live.py"))
        .arg("--fixture")
        .arg(fixture)
        .arg("--log")
        .arg(log)
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the stand-in");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the stand-in said {line:?}"));
    StandIn { child, port }
}

fn status(event: &str) -> String {
    format!(r#"{{"domain":"live.example.com","app":"live","stream":"cam1","event":"{event}"}}"#)
}

fn file(n: u32) -> String {
    format!(
        r#"{{"domain":"live.example.com","app":"live","stream":"cam1","uri":"record/live/cam1/{n}.flv","duration":60,"start_time":{},"stop_time":{}}}"#,
        1_800_000_000 + n * 60,
        1_800_000_060 + n * 60
    )
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One provider record: what it sent, when, and whether it saw it answered.
fn record(at: DateTime<Utc>, body: &str, url: &str, ok: bool) -> serde_json::Value {
    serde_json::json!({
        "DomainName": "live.example.com", "AppName": "live", "StreamName": "cam1",
        "NotifyType": if body.contains("\"uri\"") { "record" } else { "status" },
        "NotifyTime": time(at), "NotifyUrl": url, "NotifyContent": body, "NotifyHeader": "",
        "NotifyResponse": if ok { "ok" } else { "" },
        "NotifyResult": if ok { "success" } else { "failed" },
        "Description": if ok { "success" } else { "connect timeout" }, "StorageType": "oss",
    })
}

fn reconcile(journal: &Path, endpoint: &str, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(common::bin())
        .arg("reconcile")
        .arg(journal)
        .args(["--aliyun-endpoint", endpoint])
        .args(extra)
        .env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN")
        .env_remove("TENCENTCLOUD_SECRET_ID")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn kinds(json: &str) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["evidence"]["notify_content"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

/// The streams' states and the recordings, as `/api/state` says.
fn shape(state: &serde_json::Value) -> (Vec<(String, String)>, u64) {
    let streams = state["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stream"].as_str().unwrap_or_default().to_string(),
                s["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    (streams, state["recordings_total"].as_u64().unwrap())
}

#[test]
fn a_receiver_down_for_a_stretch_gets_exactly_that_stretch_back() {
    let Some(python) = venv_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let sent_to = "https://rec.example.com/recmon";
    let mut records = Vec::new();

    // Before the outage: started, and the first file.
    let mut r = Recmon::start_in(dir.path(), &journal, &[]);
    for body in [status("record_started"), file(1)] {
        let at = Utc::now();
        assert_eq!(r.post("/recmon", &body).0, 200);
        records.push(record(at, &body, sent_to, true));
    }
    r.stop();
    // The outage: the provider sends a file and a pause, and gets no answer.
    let down = [file(2), status("record_paused")];
    for body in &down {
        records.push(record(Utc::now(), body, sent_to, false));
        std::thread::sleep(Duration::from_millis(50));
    }
    // After it: resumed, the third file.
    let jtext = journal.display().to_string();
    let mut r = Recmon::start_in(dir.path(), &journal, &["--resume", &jtext]);
    for body in [status("record_resumed"), file(3)] {
        let at = Utc::now();
        assert_eq!(r.post("/recmon", &body).0, 200);
        records.push(record(at, &body, sent_to, true));
    }
    r.stop();

    let fixture = dir.path().join("fixture.json");
    let index: Vec<serde_json::Value> = (1..=3)
        .map(|n| {
            serde_json::json!({
                "RecordId": format!("r{n}"), "DomainName": "live.example.com", "AppName": "live",
                "StreamName": "cam1", "RecordUrl": format!("http://oss/record/live/cam1/{n}.flv"),
                "OssBucket": "rec", "OssEndpoint": "oss-cn-shanghai.aliyuncs.com",
                "OssObject": format!("record/live/cam1/{n}.flv"),
                "StartTime": time(Utc::now() - chrono::Duration::minutes(5)),
                "EndTime": time(Utc::now()), "Duration": 60.0, "Width": 1280, "Height": 720,
                "Format": "flv", "CreateTime": time(Utc::now()),
            })
        })
        .collect();
    std::fs::write(
        &fixture,
        serde_json::to_string(&serde_json::json!({
            "access_key_id": KEY_ID, "access_key_secret": SECRET,
            "notify_records": records, "index_files": index,
            "notify_config": {"live.example.com": {"NotifyUrl": sent_to, "OnDemandUrl": "",
                "NeedStatusNotify": true, "NotifyReqAuth": "yes", "NotifyAuthKey": "k"}},
        }))
        .unwrap(),
    )
    .unwrap();
    let log = dir.path().join("requests.jsonl");
    let api = stand_in(&python, &fixture, &log);
    let endpoint = format!("http://127.0.0.1:{}", api.port);

    // Exactly the outage's two callbacks, nothing else.
    let (code, out, err) = reconcile(&journal, &endpoint, &["--json"]);
    assert_eq!(code, 0, "{err}");
    let got = kinds(&out);
    assert_eq!(
        got,
        down.iter()
            .map(|b| ("missed".to_string(), b.clone()))
            .collect::<Vec<_>>(),
        "{out}"
    );
    // Every request the stand-in took was signed right (it answers 400 otherwise).
    let requests = std::fs::read_to_string(&log).unwrap();
    assert!(requests.lines().count() >= 3, "{requests}");
    assert!(!requests.contains(SECRET) && !out.contains(SECRET) && !err.contains(SECRET));

    // Backfilled: two lines, marked reconciled; a second run adds nothing.
    let (code, out, err) = reconcile(&journal, &endpoint, &["--json", "--backfill"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["backfilled"]["written"], 2, "{out}");
    let lines = common::journal_lines(&journal);
    let reconciled: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l.get("reconciled").is_some())
        .collect();
    assert_eq!(reconciled.len(), 2);
    assert_eq!(reconciled[0]["reconciled"]["notify_result"], "failed");
    let (code, out, err) = reconcile(&journal, &endpoint, &["--json", "--backfill"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(kinds(&out), Vec::<(String, String)>::new(), "{out}");
    assert_eq!(
        common::journal_lines(&journal)
            .iter()
            .filter(|l| l.get("reconciled").is_some())
            .count(),
        2
    );

    // The final state equals a receiver that never went down; the provider's late retry of a
    // backfilled file is a duplicate.
    let mut resumed = Recmon::start_in(dir.path(), &journal, &["--resume", &jtext]);
    assert!(common::wait_until(Duration::from_secs(10), || resumed
        .state()
        .get("rebuilding")
        .is_none()));
    let after = resumed.state();
    let mut whole = Recmon::start(&[]);
    for body in [
        status("record_started"),
        file(1),
        file(2),
        status("record_paused"),
        status("record_resumed"),
        file(3),
    ] {
        assert_eq!(whole.post("/recmon", &body).0, 200);
    }
    assert_eq!(shape(&after), shape(&whole.state()));
    // Backfilled lines are not requests received.
    assert_eq!(after["requests"]["accepted"], 4, "{after:#}");
    // /metrics counts them; the report says which files were filled in.
    let (_, metrics) = resumed.get("/metrics");
    assert!(
        metrics.contains("recmon_reconciled_callbacks 2"),
        "{metrics}"
    );
    let out = Command::new(common::bin())
        .arg("report")
        .arg(&journal)
        .output()
        .unwrap();
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(
        md.contains("- 1 file never received here, filled in from the provider's records"),
        "{md}"
    );
    let (_, text) = resumed.post("/recmon", &file(2));
    assert!(text.contains("duplicate"), "{text}");
    resumed.stop();
    whole.stop();
}

#[test]
fn backfill_refuses_a_journal_a_receiver_holds() {
    let Some(python) = venv_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let mut r = Recmon::start_in(dir.path(), &journal, &[]);
    assert_eq!(r.post("/recmon", &file(1)).0, 200);
    let fixture = dir.path().join("fixture.json");
    std::fs::write(
        &fixture,
        serde_json::to_string(&serde_json::json!({
            "access_key_id": KEY_ID, "access_key_secret": SECRET,
            "notify_records": [record(Utc::now(), &file(9), "https://rec.example.com/recmon", false)],
        }))
        .unwrap(),
    )
    .unwrap();
    let api = stand_in(&python, &fixture, &dir.path().join("log.jsonl"));
    let (code, _, err) = reconcile(
        &journal,
        &format!("http://127.0.0.1:{}", api.port),
        &["--backfill"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("held by a running receiver"), "{err}");
    r.stop();
}

#[test]
fn the_receiver_reconciles_every_so_often_and_fills_in_what_it_missed() {
    let Some(python) = venv_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    // The provider sent two files 12 minutes ago, while this receiver was not there.
    let earlier = Utc::now() - chrono::Duration::minutes(12);
    let missed = [file(7), file(8)];
    let records: Vec<serde_json::Value> = missed
        .iter()
        .enumerate()
        .map(|(i, b)| {
            record(
                earlier + chrono::Duration::seconds(i as i64),
                b,
                "https://rec.example.com/recmon",
                false,
            )
        })
        .collect();
    let fixture = dir.path().join("fixture.json");
    std::fs::write(
        &fixture,
        serde_json::to_string(&serde_json::json!({
            "access_key_id": KEY_ID, "access_key_secret": SECRET, "notify_records": records,
            "notify_config": {"live.example.com": {"NotifyUrl": "https://rec.example.com/recmon",
                "OnDemandUrl": "", "NeedStatusNotify": true, "NotifyReqAuth": "yes", "NotifyAuthKey": "k"}},
        }))
        .unwrap(),
    )
    .unwrap();
    let api = stand_in(&python, &fixture, &dir.path().join("log.jsonl"));
    let endpoint = format!("http://127.0.0.1:{}", api.port);
    let mut r = Recmon::start_with(
        dir.path(),
        &journal,
        &["--reconcile-every", "10s", "--aliyun-endpoint", &endpoint],
        |c| {
            c.env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
                .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET);
        },
    );
    // A callback now: the journal names the domain.
    assert_eq!(r.post("/recmon", &file(9)).0, 200);
    assert!(
        common::wait_until(Duration::from_secs(40), || {
            common::journal_lines(&journal)
                .iter()
                .filter(|l| l.get("reconciled").is_some())
                .count()
                == 2
        }),
        "{}",
        r.stderr.lock().unwrap()
    );
    let state = r.state();
    assert_eq!(state["recordings_total"], 3, "{state:#}");
    assert_eq!(state["requests"]["accepted"], 1, "{state:#}");
    let (_, _, err) = r.stop();
    assert!(
        err.contains("2 missed") && err.contains("2 filled in"),
        "{err}"
    );
    assert!(!err.contains(SECRET));
}

/// A stand-in whose records say two files were sent 12 minutes ago, never answered (this
/// receiver was not there), with the domain's configuration pointing here.
fn two_missed(python: &Path, dir: &Path) -> (StandIn, String) {
    let earlier = Utc::now() - chrono::Duration::minutes(12);
    let records: Vec<serde_json::Value> = [file(7), file(8)]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            record(
                earlier + chrono::Duration::seconds(i as i64),
                b,
                "https://rec.example.com/recmon",
                false,
            )
        })
        .collect();
    let fixture = dir.join("fixture.json");
    std::fs::write(
        &fixture,
        serde_json::to_string(&serde_json::json!({
            "access_key_id": KEY_ID, "access_key_secret": SECRET, "notify_records": records,
            "notify_config": {"live.example.com": {"NotifyUrl": "https://rec.example.com/recmon",
                "OnDemandUrl": "", "NeedStatusNotify": true, "NotifyReqAuth": "yes", "NotifyAuthKey": "k"}},
        }))
        .unwrap(),
    )
    .unwrap();
    let api = stand_in(python, &fixture, &dir.join("log.jsonl"));
    let endpoint = format!("http://127.0.0.1:{}", api.port);
    (api, endpoint)
}

fn with_keys(c: &mut Command) {
    c.env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
        .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN")
        .env_remove("TENCENTCLOUD_SECRET_ID");
}

/// One metric's value in a `/metrics` scrape (the first series whose name and labels start
/// with `series`).
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn post_api_reconcile_runs_now_journals_its_summary_and_metrics_and_report_count_it() {
    let Some(python) = venv_python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let (_api, endpoint) = two_missed(&python, dir.path());
    const TOKEN: &str = "api-token-for-the-reconcile-test";
    let args = [
        "--reconcile-every",
        "1h",
        "--aliyun-endpoint",
        &endpoint,
        "--api-token",
        TOKEN,
    ];
    let mut r = Recmon::start_with(dir.path(), &journal, &args, with_keys);
    assert_eq!(r.post("/recmon", &file(9)).0, 200);
    let auth = format!("Bearer {TOKEN}");
    let bearer = [("Authorization", auth.as_str())];

    // Token-protected like the rest of /api.
    let (code, body) = common::request(r.addr, "POST", "/api/reconcile", &[], b"");
    assert_eq!(code, 401, "{body}");
    // POST only.
    let (code, body) = common::request(r.addr, "GET", "/api/reconcile", &bearer, b"");
    assert_eq!(code, 405, "{body}");
    // A window that is not one.
    let (code, body) = common::request(
        r.addr,
        "POST",
        "/api/reconcile",
        &bearer,
        br#"{"from":"2026-12-04T10:00:00Z"}"#,
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("both"), "{body}");

    // A run now over the last half hour: the two files the provider sent are missed, and
    // filled in.
    let window = serde_json::json!({
        "from": time(Utc::now() - chrono::Duration::minutes(30)),
        "to": time(Utc::now()),
    })
    .to_string();
    let (code, body) =
        common::request(r.addr, "POST", "/api/reconcile", &bearer, window.as_bytes());
    assert_eq!(code, 200, "{body}");
    let run: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(run["by"], "api", "{run:#}");
    assert_eq!(run["findings"]["missed"], 2, "{run:#}");
    assert_eq!(run["filled"], 2, "{run:#}");
    assert_eq!(run["domains"]["live.example.com"]["missed"], 2, "{run:#}");

    // Again, with no body: one --reconcile-every tick's window (which holds those records);
    // nothing is missed any more.
    let (code, body) = common::request(r.addr, "POST", "/api/reconcile", &bearer, b"");
    assert_eq!(code, 200, "{body}");
    let run: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(run["findings"].get("missed"), None, "{run:#}");
    assert_eq!(run["filled"], 0, "{run:#}");

    let lines = common::journal_lines(&journal);
    let runs: Vec<&serde_json::Value> = lines
        .iter()
        .filter_map(|l| l.get("reconcile_run"))
        .collect();
    assert_eq!(runs.len(), 2, "{lines:#?}");
    assert_eq!(runs[0]["findings"]["missed"], 2);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.get("reconciled").is_some())
            .count(),
        2
    );
    // Neither the runs nor the filled-in callbacks are requests received.
    let (_, state) = common::request(r.addr, "GET", "/api/state", &bearer, b"");
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(state["recordings_total"], 3, "{state:#}");
    assert_eq!(state["requests"]["accepted"], 1, "{state:#}");

    // /metrics, scraped over HTTP: two runs, the last one's findings by kind.
    let (code, text) = common::request(r.addr, "GET", "/metrics", &bearer, b"");
    assert_eq!(code, 200);
    assert_eq!(
        metric(&text, "recmon_reconcile_runs_total"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "recmon_reconcile_findings{kind=\"missed\"}"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "recmon_reconcile_findings{kind=\"config\"}"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "recmon_reconciled_callbacks"),
        Some(2.0),
        "{text}"
    );
    let (_, _, err) = r.stop();
    assert!(!err.contains(SECRET), "{err}");

    // Read back by --resume: the runs count again.
    let mut r = Recmon::start_with(
        dir.path(),
        &journal,
        &["--resume", journal.to_str().unwrap(), "--api-token", TOKEN],
        with_keys,
    );
    assert!(common::wait_until(Duration::from_secs(20), || {
        let (_, text) = common::request(r.addr, "GET", "/metrics", &bearer, b"");
        metric(&text, "recmon_reconcile_runs_total") == Some(2.0)
    }));
    // Without --reconcile-every there is nothing to run it: 409, naming the flag.
    let (code, body) = common::request(r.addr, "POST", "/api/reconcile", &bearer, b"");
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("--reconcile-every"), "{body}");
    r.stop();

    // The report: a section on reconciliation, per domain.
    let out = Command::new(common::bin())
        .arg("report")
        .arg(&journal)
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{md}");
    assert!(
        md.contains("## Reconciliation with the providers' records"),
        "{md}"
    );
    assert!(md.contains("2 reconcile runs, the last at"), "{md}");
    assert!(
        md.contains("| live.example.com | none | missed 2 | 2 |"),
        "{md}"
    );
}

#[test]
fn reconciled_callbacks_are_forwarded_only_with_forward_reconciled() {
    let Some(python) = venv_python() else {
        return;
    };
    for opt_in in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("j.jsonl");
        let (_api, endpoint) = two_missed(&python, dir.path());
        let be = backend::Backend::start();
        let target = be.url("/hook");
        let mut args = vec![
            "--reconcile-every",
            "1h",
            "--aliyun-endpoint",
            &endpoint,
            "--forward-to",
            &target,
        ];
        if opt_in {
            args.push("--forward-reconciled");
        }
        let mut r = Recmon::start_with(dir.path(), &journal, &args, with_keys);
        assert_eq!(r.post("/recmon", &file(9)).0, 200);
        let (code, body) = common::request(r.addr, "POST", "/api/reconcile", &[], b"");
        assert_eq!(code, 200, "{body}");
        assert!(body.contains(r#""filled":2"#), "{body}");
        let want = if opt_in { 3 } else { 1 };
        assert!(
            be.wait(Duration::from_secs(20), |got| got.len() >= want),
            "{:?}",
            be.received()
        );
        // Time for anything more to come (it must not).
        std::thread::sleep(Duration::from_millis(1500));
        let got = be.received();
        assert_eq!(got.len(), want, "opt-in {opt_in}: {got:?}");
        let reconciled: Vec<_> = got
            .iter()
            .filter(|g| g.header("x-recmon-reconciled").is_some())
            .collect();
        assert_eq!(reconciled.len(), want - 1, "{got:?}");
        for g in &reconciled {
            assert!(
                String::from_utf8_lossy(&g.body).contains("record/live/cam1/"),
                "{g:?}"
            );
            assert!(g.header("x-recmon-seq").is_some());
        }
        // Each forwarded one is delivered (a delivery line names it).
        let lines = common::journal_lines(&journal);
        let delivered = lines
            .iter()
            .filter(|l| l["delivery"]["result"] == "delivered")
            .count();
        assert_eq!(delivered, want, "{lines:#?}");
        r.stop();
    }
}
