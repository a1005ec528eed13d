//! Restart without downtime: `--resume` on a journal whose rebuild takes seconds answers
//! callbacks at once (journaled, acknowledged) while the state is rebuilt in the background,
//! and once it is rebuilt the state is the one a receiver that never restarted has, with
//! duplicates counted right: new callbacks, retries of journaled ones and retries of ones
//! answered during the rebuild.
//!
//! The receiver that "never restarted" is the same journal resumed and left to finish its
//! rebuild before the same callbacks are sent: a rebuild gives the store the live session had
//! (tests/sessionlog.rs), so that is a receiver whose state was whole when they came.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{bin, request, wait_until, Recmon};

/// Lines in the journal: enough for a rebuild of seconds in a debug build.
const LINES: u64 = 150_000;

fn make_journal(path: &std::path::Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_recmon-bench"))
        .args(["make-journal", "--lines", &LINES.to_string(), "-o"])
        .arg(path)
        .status()
        .expect("run recmon-bench make-journal");
    assert!(status.success());
}

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// What is sent during the rebuild: (path, body). Retries of journaled callbacks (recordings
/// from the start, middle and end of the journal: duplicates; a status from long ago: a new
/// event; a rejected body: rejected again), new callbacks, and retries of those.
fn callbacks(journal: &std::path::Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(journal).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let body = |v: &serde_json::Value| match &v["body"] {
        serde_json::Value::Null => v["body_text"].as_str().unwrap().to_string(),
        b => b.to_string(),
    };
    let first = |from: usize, what: &dyn Fn(&serde_json::Value) -> bool| {
        lines[from..].iter().find(|v| what(v)).cloned().unwrap()
    };
    let recording = |v: &serde_json::Value| v["kind"] == "recording" && v["outcome"] == "accepted";
    let n = lines.len();
    let mut out = Vec::new();
    for from in [0, n / 2, n - 2000] {
        out.push(("/cb".to_string(), body(&first(from, &recording))));
    }
    out.push((
        "/cb".to_string(),
        body(&first(0, &|v| v["kind"] == "status")),
    ));
    out.push((
        "/cb".to_string(),
        body(&first(0, &|v| {
            v["outcome"] == "rejected" && v["method"] == "POST"
        })),
    ));
    let new_recording = |i: u32| {
        format!(
            r#"{{"domain":"restart.example.com","app":"live","stream":"cam","uri":"live/cam/{i}.mp4","duration":60.0,"start_time":{},"stop_time":{}}}"#,
            1_800_000_000 + i * 60,
            1_800_000_060 + i * 60
        )
    };
    let status = |event: &str| {
        format!(
            r#"{{"domain":"restart.example.com","app":"live","stream":"cam","event":"{event}"}}"#
        )
    };
    out.push(("/cb".to_string(), status("record_started")));
    for i in 0..5 {
        out.push(("/cb".to_string(), new_recording(i)));
        // The provider's retry of a callback answered during the rebuild.
        out.push(("/cb".to_string(), new_recording(i)));
    }
    out.push(("/cb".to_string(), status("record_started")));
    out.push(("/cb".to_string(), status("record_paused")));
    // Retries again, after the new ones.
    out.push(("/cb".to_string(), body(&first(n / 2, &recording))));
    out
}

/// `/api/state` while it answers; `None` when it does not answer 200.
fn state(addr: SocketAddr) -> Option<serde_json::Value> {
    let (status, body) = common::try_request(addr, "GET", "/api/state", &[], b"").ok()?;
    (status == 200).then(|| serde_json::from_str(&body).unwrap())
}

/// What must be the same in two receivers' states (not times: the callbacks reached them at
/// different times).
fn comparable(state: &serde_json::Value) -> serde_json::Value {
    let mut streams: Vec<serde_json::Value> = state["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            serde_json::json!([
                s["provider"],
                s["domain"],
                s["app"],
                s["stream"],
                s["state"],
                s["ingest"],
                s["recordings"],
                s["total_duration_s"],
                s["pauses"],
                s["last_event"],
                s["errors"],
                s["last_recording"]["uri"],
            ])
        })
        .collect();
    streams.sort_by_key(|s| s.to_string());
    serde_json::json!({
        "requests": state["requests"],
        "recordings_total": state["recordings_total"],
        "auth_failures": state["auth_failures"],
        "streams": streams,
    })
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn callbacks_during_a_rebuild_are_answered_at_once_and_counted_as_if_never_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    make_journal(&journal);
    let reference = dir.path().join("reference.jsonl");
    std::fs::copy(&journal, &reference).unwrap();
    let sent = callbacks(&journal);
    let before = common::journal_lines(&journal)
        .iter()
        .filter(|l| l["outcome"] == "duplicate")
        .count() as u64;

    // The restart: callbacks are sent from the moment the port answers.
    let addr = free_addr();
    let started = Instant::now();
    let child = Command::new(bin())
        .args(["--headless", "--no-alerts", "--listen", &addr.to_string()])
        .arg("--resume")
        .arg(&journal)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
        .spawn()
        .expect("spawn recmon");
    let mut b = Killed(child);
    let mut answers = Vec::new();
    let (path, body) = &sent[0];
    let first = loop {
        match common::try_request(addr, "POST", path, &[], body.as_bytes()) {
            Ok(answer) => break answer,
            Err(_) if started.elapsed() < Duration::from_secs(20) => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(e) => panic!("recmon never answered: {e}"),
        }
    };
    let first_after = started.elapsed();
    let during = state(addr).expect("/api/state answers during the rebuild");
    assert!(
        during.get("rebuilding").is_some(),
        "the first answer came {first_after:?} after start, but the state was already rebuilt: make the journal longer. {during}"
    );
    answers.push(first);
    let mut slowest = Duration::ZERO;
    for (path, body) in &sent[1..] {
        let t0 = Instant::now();
        answers.push(request(addr, "POST", path, &[], body.as_bytes()));
        slowest = slowest.max(t0.elapsed());
    }
    let still = state(addr).unwrap();
    let progress = still["rebuilding"].clone();
    assert!(
        !progress.is_null(),
        "every callback must be sent during the rebuild: make the journal longer"
    );
    eprintln!(
        "first answer {first_after:?} after start; slowest of {} answers {slowest:?}; rebuild at {}% when all were answered",
        sent.len(),
        progress["percent"]
    );
    // Each answered at once: the rebuild is not waited for. (Generous: a debug build on a
    // loaded machine; the benchmark measures it.)
    assert!(
        slowest < Duration::from_secs(2),
        "slowest answer {slowest:?}"
    );
    for (i, (status, body)) in answers.iter().enumerate() {
        let rejected = i == 4;
        if rejected {
            // Refused as it was the first time: a rejection needs no rebuilt state.
            assert!((400..500).contains(status), "{status} {body}");
        } else {
            assert_eq!(*status, 200, "{body}");
            assert!(body.contains(r#""outcome":"pending""#), "{body}");
        }
    }
    // Nothing is applied before the rebuild is done: the views show the stand-in.
    assert_eq!(during["requests"]["accepted"], 0, "{during}");

    // Then the state is whole.
    let mut restarted = None;
    assert!(
        wait_until(Duration::from_secs(300), || {
            restarted = state(addr).filter(|s| s.get("rebuilding").is_none());
            restarted.is_some()
        }),
        "the rebuild never finished"
    );
    let restarted = restarted.unwrap();
    let _ = Command::new("kill").arg(b.0.id().to_string()).status();
    let _ = b.0.wait();

    // A receiver that never restarted: its state whole before the same callbacks came.
    let a = Recmon::start_in(
        dir.path(),
        &reference,
        &["--no-alerts", "--resume", reference.to_str().unwrap()],
    );
    assert!(wait_until(Duration::from_secs(300), || state(a.addr)
        .is_some_and(|s| s.get("rebuilding").is_none())));
    for (i, (path, body)) in sent.iter().enumerate() {
        let (status, answer) = a.post(path, body);
        assert_eq!(status, answers[i].0, "{answer}");
    }
    let never = a.state();
    assert_eq!(comparable(&restarted), comparable(&never));
    // Duplicates counted right: the retries of journaled callbacks and of those answered
    // during the rebuild.
    let dup = |s: &serde_json::Value| s["requests"]["duplicate"].as_u64().unwrap();
    assert_eq!(dup(&restarted) - before, 3 + 5 + 1 + 1);
    assert_eq!(dup(&never), dup(&restarted));

    // The journal says it all: each callback answered during the rebuild is a pending line,
    // then the line that settles it with the outcome it was given.
    let lines = common::journal_lines(&journal);
    let pending: Vec<u64> = lines
        .iter()
        .filter(|l| l["outcome"] == "pending")
        .map(|l| l["seq"].as_u64().unwrap())
        .collect();
    let settled: Vec<u64> = lines.iter().filter_map(|l| l["settles"].as_u64()).collect();
    assert_eq!(pending.len(), sent.len() - 1);
    assert_eq!(settled, pending);
    assert_eq!(pending[0], LINES + 1);
}
