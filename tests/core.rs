//! The core pipeline, end to end: real binary, real HTTP over loopback, real journal file.

mod common;

use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn spec_samples_produce_the_right_state() {
    let mut r = Recmon::start(&[]);
    assert_eq!(r.post("/notify", STATUS_SAMPLE).0, 200);
    assert_eq!(r.post("/any/other/path?x=1", RECORDING_SAMPLE).0, 200);

    let st = r.state();
    let streams = st["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 2);
    let gs = streams.iter().find(|s| s["stream"] == "gs_stream").unwrap();
    assert_eq!(gs["domain"], "gs_domain");
    assert_eq!(gs["app"], "gs_app");
    assert_eq!(gs["state"], "started");
    assert_eq!(gs["ingest"], "unknown");
    assert_eq!(gs["last_event"], "record_started");
    assert!(gs["state_since"].as_str().unwrap().ends_with('Z'));
    let live = streams
        .iter()
        .find(|s| s["stream"] == "liveStream****")
        .unwrap();
    assert_eq!(live["state"], "none");
    assert_eq!(live["recordings"], 1);
    assert_eq!(live["total_duration_s"], 69.403);
    assert_eq!(live["pauses"], 0);
    assert_eq!(live["last_recording"]["duration_mismatch"], true);
    assert_eq!(st["recordings_total"], 1);
    assert_eq!(st["requests"]["accepted"], 2);
    assert_eq!(st["requests"]["duplicate"], 0);
    assert_eq!(st["requests"]["rejected"], 0);

    let (status, _, err) = r.stop();
    assert!(status.success(), "{err}");
}

#[test]
fn malformed_body_gets_400_and_a_journal_line() {
    let r = Recmon::start(&[]);
    let (status, body) = r.post("/cb", "{not json");
    assert_eq!(status, 400);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["error"].as_str().unwrap().contains("not valid JSON"));

    let (status, body) = r.post("/cb", r#"{"domain":"d","event":"record_started"}"#);
    assert_eq!(status, 400);
    assert!(body.contains("app, stream"), "{body}");

    let (status, body) = r.post(
        "/cb",
        r#"{"domain":"d","app":"a","stream":"s","uri":"u","duration":"long"}"#,
    );
    assert_eq!(status, 422);
    assert!(body.contains("duration"), "{body}");

    let (status, _) = request(r.addr, "DELETE", "/cb", &[], b"");
    assert_eq!(status, 405);

    // Still serving after all that.
    assert_eq!(r.post("/cb", STATUS_SAMPLE).0, 200);

    let lines = r.journal_lines();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["outcome"], "rejected");
    assert_eq!(lines[0]["status"], 400);
    assert_eq!(lines[0]["body_text"], "{not json");
    assert!(lines[0]["error"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    assert_eq!(lines[2]["status"], 422);
    assert_eq!(lines[3]["method"], "DELETE");
    assert_eq!(lines[3]["status"], 405);
    assert_eq!(lines[4]["outcome"], "accepted");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["seq"], i as u64 + 1);
        assert!(l["received_at"].as_str().unwrap().ends_with('Z'));
        assert!(l["remote"].as_str().unwrap().starts_with("127.0.0.1:"));
    }
}

#[test]
fn oversize_body_gets_413_and_is_journaled_with_what_was_cut() {
    let r = Recmon::start(&["--max-body", "1024"]);
    let big = format!(
        r#"{{"domain":"d","app":"a","stream":"s","uri":"{}"}}"#,
        "x".repeat(5000)
    );
    let (status, body) = r.post("/cb", &big);
    assert_eq!(status, 413);
    assert!(body.contains("1024"), "{body}");
    assert_eq!(r.post("/cb", STATUS_SAMPLE).0, 200);
    let lines = r.journal_lines();
    assert_eq!(lines[0]["status"], 413);
    assert_eq!(
        lines[0]["body_truncated"]["declared_bytes"],
        big.len() as u64
    );
}

#[test]
fn duplicates_are_counted_once() {
    let r = Recmon::start(&[]);
    for _ in 0..5 {
        assert_eq!(r.post("/cb", RECORDING_SAMPLE).0, 200);
        assert_eq!(r.post("/cb", STATUS_SAMPLE).0, 200);
    }
    let st = r.state();
    assert_eq!(st["recordings_total"], 1);
    assert_eq!(st["requests"]["accepted"], 2);
    assert_eq!(st["requests"]["duplicate"], 8);
    let live = st["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"] == "liveStream****")
        .unwrap()
        .clone();
    assert_eq!(live["recordings"], 1);
    assert_eq!(live["total_duration_s"], 69.403);
    let outcomes: Vec<String> = r
        .journal_lines()
        .iter()
        .map(|l| l["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes.len(), 10);
    assert_eq!(outcomes.iter().filter(|o| *o == "duplicate").count(), 8);
}

#[test]
fn five_hundred_concurrent_posts_lose_nothing() {
    let r = Recmon::start(&[]);
    let addr = r.addr;
    let ok = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..50)
        .map(|t| {
            let ok = ok.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    let body = format!(
                        r#"{{"domain":"d","app":"a","stream":"s{}","uri":"a/s/{t}_{i}.flv","duration":10,"start_time":100,"stop_time":110}}"#,
                        t % 7
                    );
                    let (status, _) = request(addr, "POST", "/cb", &[], body.as_bytes());
                    if status == 200 {
                        ok.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(ok.load(Ordering::SeqCst), 500);
    let st = r.state();
    assert_eq!(st["requests"]["accepted"], 500);
    assert_eq!(st["recordings_total"], 500);
    let lines = r.journal_lines();
    assert_eq!(lines.len(), 500);
    let mut seqs: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    seqs.sort();
    assert_eq!(seqs, (1..=500).collect::<Vec<_>>());
}

#[test]
fn unwritable_journal_fails_at_start_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin())
        .args(["--headless", "--listen", "127.0.0.1:0", "--journal"])
        .arg(dir.path().join("no/such/dir/j.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot open the journal"), "{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn journal_write_failure_answers_503_not_200() {
    // /dev/full accepts opens and fails every write with ENOSPC: a full disk on demand.
    let dir = tempfile::tempdir().unwrap();
    let mut r = Recmon::start_in(
        dir.path(),
        std::path::Path::new("/dev/full"),
        &["--fsync", "never"],
    );
    let (status, body) = r.post("/cb", STATUS_SAMPLE);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("journal write failed"), "{body}");
    let st = r.state();
    assert_eq!(
        st["requests"]["accepted"], 0,
        "a 503'd callback must not change state"
    );
    assert_eq!(st["journal_failures"], 1);
    let (_, _, err) = r.stop();
    assert!(err.contains("JOURNAL WRITE FAILED"), "{err}");
}

#[test]
fn removed_journal_answers_503() {
    // Both write paths: direct (never) and through the fsync thread (batch).
    for fsync in ["never", "batch"] {
        let r = Recmon::start(&["--fsync", fsync]);
        assert_eq!(r.post("/cb", STATUS_SAMPLE).0, 200);
        std::fs::remove_file(&r.journal).unwrap();
        let (status, _) = r.post("/cb", RECORDING_SAMPLE);
        assert_eq!(status, 503, "--fsync {fsync}");
        assert_eq!(r.state()["recordings_total"], 0);
    }
}

#[test]
fn a_retry_after_503_is_accepted_not_a_duplicate() {
    let r = Recmon::start(&["--fsync", "never"]);
    std::fs::remove_file(&r.journal).unwrap();
    assert_eq!(r.post("/cb", RECORDING_SAMPLE).0, 503);
    // The operator restores the file; the provider's retry must be applied, not dropped.
    std::fs::write(&r.journal, b"").unwrap();
    // The old handle still points at the removed inode, so writes keep failing: recmon stays
    // honest with 503 rather than writing to a file nobody can read.
    assert_eq!(r.post("/cb", RECORDING_SAMPLE).0, 503);
    assert_eq!(r.state()["requests"]["duplicate"], 0);
}

#[test]
fn shutdown_leaves_a_complete_journal() {
    let mut r = Recmon::start(&[]);
    let addr = r.addr;
    let senders: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                let mut acked = 0;
                for i in 0..40 {
                    let body =
                        format!(r#"{{"domain":"d","app":"a","stream":"s","uri":"{t}_{i}.flv"}}"#);
                    match try_request(addr, "POST", "/cb", &[], body.as_bytes()) {
                        Ok((200, _)) => acked += 1,
                        _ => break,
                    }
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(30));
    let journal = r.journal.clone();
    let (status, out, err) = r.stop();
    let acked: usize = senders.into_iter().map(|s| s.join().unwrap()).sum();
    assert!(status.success(), "{err}");
    assert!(err.contains("recmon: stopped."), "{err}");
    assert!(err.contains(&journal.display().to_string()), "{err}");
    let raw = std::fs::read_to_string(&journal).unwrap();
    assert!(
        raw.is_empty() || raw.ends_with('\n'),
        "journal ends mid-line"
    );
    let lines = journal_lines(&journal);
    let accepted = lines.iter().filter(|l| l["outcome"] == "accepted").count();
    assert!(
        accepted >= acked,
        "{accepted} journaled < {acked} acknowledged"
    );
    // Every journaled request was printed by the headless view.
    assert_eq!(out.lines().count(), lines.len(), "{out}");
}

#[test]
fn port_in_use_exits_1_with_a_clear_message() {
    let r = Recmon::start(&[]);
    let out = std::process::Command::new(bin())
        .args(["--headless", "--no-journal", "--listen"])
        .arg(r.addr.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot listen on") && err.contains("--listen"),
        "{err}"
    );
}

#[test]
fn usage_error_exits_2() {
    let out = std::process::Command::new(bin())
        .args(["--fsync", "sometimes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn healthz_and_api() {
    let r = Recmon::start(&[]);
    assert_eq!(r.get("/healthz").0, 200);
    assert_eq!(r.get("/api/nope").0, 404);
    assert_eq!(r.get("/api/state").0, 200);
    // Only the refused one is journaled: the others are recmon's own endpoints, not callbacks.
    let lines = r.journal_lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["status"], 404);
}

#[test]
fn api_token_is_required_when_set() {
    let r = Recmon::start(&["--api-token", "s3cret-token"]);
    let (status, body) = r.get("/api/state");
    assert_eq!(status, 401);
    assert!(!body.contains("s3cret"));
    let (status, _) = request(
        r.addr,
        "GET",
        "/api/state",
        &[("Authorization", "Bearer s3cret-token")],
        b"",
    );
    assert_eq!(status, 200);
    let lines = r.journal_lines();
    assert_eq!(lines.len(), 1, "the refused API request is journaled");
    assert_eq!(lines[0]["status"], 401);
}

#[test]
fn json_mode_prints_journal_lines() {
    let mut r = Recmon::start(&["--json"]);
    assert_eq!(r.post("/cb", STATUS_SAMPLE).0, 200);
    assert_eq!(r.post("/cb", "nope").0, 400);
    let journal = r.journal.clone();
    let (_, out, _) = r.stop();
    let printed: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(printed, journal_lines(&journal));
}

#[test]
fn ingest_get_callbacks() {
    let r = Recmon::start(&[]);
    let (s, _) = r.get("/pub?action=publish&app=example.com&appname=test01&id=test01&ip=42.120.0.1&node=n&time=1579027784&usrargs=vhost%3Dexample.com");
    assert_eq!(s, 200);
    let st = r.state();
    assert_eq!(st["streams"][0]["ingest"], "live");
    let (s, _) = r.get("/pub?action=publish_done&app=example.com&appname=test01&id=test01");
    assert_eq!(s, 200);
    assert_eq!(r.state()["streams"][0]["ingest"], "offline");
    let (s, body) = r.get("/pub");
    assert_eq!(s, 400);
    assert!(body.contains("action"));
}

#[test]
fn an_existing_journal_is_not_appended_to_without_resume() {
    let mut r = Recmon::start(&[]);
    assert_eq!(r.post("/cb", STATUS_SAMPLE).0, 200);
    let journal = r.journal.clone();
    r.stop();
    let out = std::process::Command::new(bin())
        .args(["--headless", "--listen", "127.0.0.1:0", "--journal"])
        .arg(&journal)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--resume"), "{err}");
    assert_eq!(
        journal_lines(&journal).len(),
        1,
        "the old journal is untouched"
    );
}

#[test]
fn sigterm_right_after_start_still_shuts_down_gracefully() {
    // The handlers are installed before the listener starts, so a signal in the start-up
    // window is not the default (immediate) kill.
    for _ in 0..5 {
        let mut r = Recmon::start(&[]);
        let (status, _, err) = r.stop();
        assert!(status.success(), "{status:?}\n{err}");
        assert!(err.contains("recmon: stopped."), "{err}");
    }
}
