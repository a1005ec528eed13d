//! The session log end to end: export, resume, replay, simulate and demo, with the real binary
//! over loopback. Set RECMON_TEST_SCALE (default 1) to multiply the request counts.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::*;
use recmon::core::dedup::Deduper;
use recmon::core::journal::{JournalEntry, JournalReader, ReadItem};
use recmon::core::store::Store;
use recmon::event::Method;
use recmon::providers::aliyun::classify;
use recmon::tools::simulate::{Generator, SimParams, SimRequest};
use serde_json::{json, Value};

fn scale() -> u64 {
    std::env::var("RECMON_TEST_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// Runs `recmon ARGS` to completion.
fn recmon(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run recmon")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn url(r: &Recmon) -> String {
    format!("http://{}/recmon", r.addr)
}

/// `recmon simulate --to r --seed S --count N --rate max` plus extra args; asserts success.
fn simulate(r: &Recmon, seed: u64, count: u64, extra: &[&str]) -> Output {
    let (seed, count) = (seed.to_string(), count.to_string());
    let mut args = vec![
        "simulate", "--to", "", "--seed", &seed, "--count", &count, "--rate", "max",
    ];
    let to = url(r);
    args[2] = &to;
    args.extend_from_slice(extra);
    let out = recmon(&args);
    assert!(
        out.status.success(),
        "simulate failed: {}",
        text(&out.stderr)
    );
    out
}

fn entries(path: &Path) -> Vec<JournalEntry> {
    JournalReader::open(path)
        .unwrap()
        .map(|i| match i.unwrap() {
            ReadItem::Entry(e) => *e,
            other => panic!("unexpected damaged line in {}: {other:?}", path.display()),
        })
        .collect()
}

/// The parts of `/api/state` that do not depend on when requests arrived: what replay and a
/// re-computation from the callbacks must reproduce.
fn stable(state: &Value) -> Value {
    let mut streams: Vec<Value> = state["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let last = &s["last_recording"];
            json!({
                "id": format!("{}/{}/{}", s["domain"], s["app"], s["stream"]),
                "state": s["state"], "ingest": s["ingest"], "recordings": s["recordings"],
                "pauses": s["pauses"], "total_duration_s": s["total_duration_s"],
                "last_event": s["last_event"],
                "last_recording": if last.is_null() { Value::Null } else { json!({
                    "uri": last["uri"], "duration": last["duration"],
                    "start_time": last["start_time"], "stop_time": last["stop_time"],
                    "duration_mismatch": last["duration_mismatch"],
                })},
            })
        })
        .collect();
    streams.sort_by_key(|s| s["id"].as_str().unwrap().to_string());
    json!({
        "streams": streams,
        "recordings_total": state["recordings_total"],
        "requests": state["requests"],
    })
}

/// The state recmon must show after the first `n` requests of a simulation, computed here
/// from the generated callbacks through the classifier, the deduper and the store. All
/// requests count as arriving at one instant: the tests send them within seconds, well inside
/// the 30 s duplicate window, so the duplicate decisions are the same.
fn expected_state(params: SimParams, n: usize) -> Value {
    let mut store = Store::default();
    let mut dedup = Deduper::default();
    let now = Utc::now();
    for (i, req) in Generator::new(params).take(n).enumerate() {
        let verdict = classify(
            Method::from_name(req.method),
            req.query.as_deref(),
            &req.body,
        );
        let outcome = dedup.sequence(&verdict, now).outcome;
        let cb = verdict.expect("generated requests are valid callbacks");
        let entry: JournalEntry = serde_json::from_value(json!({
            "seq": i + 1, "received_at": "2026-01-01T00:00:00.000Z", "remote": "-",
            "method": req.method, "path": "/", "outcome": outcome, "status": 200,
        }))
        .unwrap();
        store.apply(&entry, Some(&cb), Arc::from(""));
    }
    recmon::server::api::state_document(&store)
}

fn count_params(seed: u64, streams: u32) -> SimParams {
    let mut p = SimParams::new(seed, streams, 1);
    p.broadcasts = None; // what `--count` does
    p
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------
// Export

#[test]
fn export_jsonl_round_trips_the_journal() {
    let mut r = Recmon::start(&[]);
    simulate(&r, 5, 120 * scale(), &["--streams", "4", "--domains", "2"]);
    assert_eq!(
        r.post("/cb", "{not json").0,
        400,
        "a rejected entry is exported too"
    );
    r.stop();
    let journal = std::fs::read(&r.journal).unwrap();

    let out = recmon(&["export", r.journal.to_str().unwrap(), "--format", "jsonl"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        text(&journal),
        "jsonl export must be the journal, byte for byte"
    );
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "wrote {} event rows",
            recmon::util::human::thousands(120 * scale() + 1)
        )),
        "{err}"
    );

    // Filtered: every line is a journal line verbatim, and exactly the matching ones.
    let out = recmon(&[
        "export",
        r.journal.to_str().unwrap(),
        "--stream",
        "live2.example.com/",
    ]);
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    let journal_text = text(&journal);
    let expected: Vec<&str> = journal_text
        .lines()
        .filter(|l| l.contains("live2.example.com") && !l.contains("\"rejected\""))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(lines, expected);

    // JSON: one array of the same entries.
    let out = recmon(&["export", r.journal.to_str().unwrap(), "--format", "json"]);
    let array: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(array, journal_lines(&r.journal));

    // Time filters are half-open: [since, until).
    let all = journal_lines(&r.journal);
    let mid = all[all.len() / 2]["received_at"]
        .as_str()
        .unwrap()
        .to_string();
    let before = recmon(&["export", r.journal.to_str().unwrap(), "--until", &mid]);
    let after = recmon(&["export", r.journal.to_str().unwrap(), "--since", &mid]);
    let (b, a) = (text(&before.stdout), text(&after.stdout));
    assert_eq!(b.lines().count() + a.lines().count(), all.len());
    let at = |l: &str| {
        serde_json::from_str::<Value>(l).unwrap()["received_at"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(b.lines().all(|l| at(l) < mid) && a.lines().all(|l| at(l) >= mid));
    assert!(a.lines().count() > 0 && b.lines().count() > 0);
}

#[derive(Debug, serde::Deserialize)]
struct RecordingCsv {
    seq: u64,
    received_at: String,
    received_at_unix: f64,
    domain: String,
    app: String,
    stream: String,
    uri: String,
    format: String,
    duration_s: Option<f64>,
    start_time: String,
    start_time_unix: Option<i64>,
    stop_time: String,
    stop_time_unix: Option<i64>,
    span_s: Option<i64>,
    duration_mismatch: bool,
    push_args: String,
}

#[test]
fn export_csv_recordings_read_back_into_the_same_recordings() {
    let mut r = Recmon::start(&[]);
    simulate(&r, 6, 150 * scale(), &["--streams", "3"]);
    let state = r.state();
    r.stop();
    let out = recmon(&[
        "export",
        r.journal.to_str().unwrap(),
        "--format",
        "csv",
        "--what",
        "recordings",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<RecordingCsv> = csv::Reader::from_reader(&out.stdout[..])
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap();

    // The oracle is the journal itself: every accepted recording callback, in order.
    let expected: Vec<(JournalEntry, Value)> = entries(&r.journal)
        .into_iter()
        .filter(|e| e.outcome == recmon::event::Outcome::Accepted)
        .filter(|e| e.kind.as_deref() == Some("recording"))
        .map(|e| {
            let body = serde_json::from_slice(&e.body_raw()).unwrap();
            (e, body)
        })
        .collect();
    assert_eq!(rows.len(), expected.len());
    assert_eq!(
        rows.len() as u64,
        state["recordings_total"].as_u64().unwrap()
    );
    let mut mismatches = 0;
    for (row, (entry, body)) in rows.iter().zip(&expected) {
        assert_eq!(row.seq, entry.seq);
        assert_eq!(
            row.received_at,
            recmon::core::journal::format_time(entry.received_at)
        );
        assert_eq!(
            (row.received_at_unix * 1000.0).round() as i64,
            entry.received_at.timestamp_millis()
        );
        assert_eq!(row.domain, body["domain"].as_str().unwrap());
        assert_eq!(row.app, body["app"].as_str().unwrap());
        assert_eq!(row.stream, body["stream"].as_str().unwrap());
        assert_eq!(row.uri, body["uri"].as_str().unwrap());
        assert!(row.uri.ends_with(&format!(".{}", row.format)));
        assert_eq!(row.duration_s, body["duration"].as_f64());
        assert_eq!(row.start_time_unix, body["start_time"].as_i64());
        assert_eq!(row.stop_time_unix, body["stop_time"].as_i64());
        let start: DateTime<Utc> = row.start_time.parse().unwrap();
        assert_eq!(Some(start.timestamp()), row.start_time_unix);
        let stop: DateTime<Utc> = row.stop_time.parse().unwrap();
        assert_eq!(Some(stop.timestamp()), row.stop_time_unix);
        let span = row.stop_time_unix.unwrap() - row.start_time_unix.unwrap();
        assert_eq!(row.span_s, Some(span));
        let d = row.duration_s.unwrap();
        assert_eq!(row.duration_mismatch, (d - span as f64).abs() > 1.0);
        mismatches += usize::from(row.duration_mismatch);
        let args: Value = serde_json::from_str(&row.push_args).unwrap();
        assert_eq!(args, *body.get("push_args").unwrap_or(&json!({})));
    }
    assert!(
        mismatches > 0,
        "the simulation should produce duration mismatches"
    );
}

#[test]
fn csv_cells_are_formula_safe_and_negative_numbers_stay_numbers() {
    let mut r = Recmon::start(&[]);
    let evil = [
        "=HYPERLINK(\"http://x\")",
        "+1+1",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=tab",
        "\r=cr",
    ];
    for (i, e) in evil.iter().enumerate() {
        let body = json!({
            "domain": e, "app": e, "stream": format!("{e}{i}"), "uri": format!("{e}/{i}.flv"),
            "duration": -5.5, "start_time": -100, "stop_time": -40,
            "push_args": { *e: *e },
        });
        assert_eq!(r.post("/cb", &body.to_string()).0, 200);
        let status = json!({"domain": e, "app": e, "stream": format!("{e}{i}"), "event": e});
        assert_eq!(r.post("/cb", &status.to_string()).0, 200);
    }
    // A rejected request whose path and body start with a formula character.
    assert_eq!(r.post("/=cmd", "=1+2").0, 400);
    r.stop();

    let journal = r.journal.to_str().unwrap();
    let numeric = [
        "seq",
        "received_at_unix",
        "status",
        "body_bytes",
        "duration_s",
        "start_time_unix",
        "stop_time_unix",
        "span_s",
        "recordings",
        "total_duration_s",
        "pauses",
        "state_since_unix",
        "last_event_at_unix",
    ];
    for what in ["events", "recordings", "streams"] {
        let out = recmon(&["export", journal, "--format", "csv", "--what", what]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let mut rdr = csv::Reader::from_reader(&out.stdout[..]);
        let headers = rdr.headers().unwrap().clone();
        let mut rows = 0;
        for rec in rdr.records() {
            let rec = rec.unwrap();
            rows += 1;
            for (name, cell) in headers.iter().zip(rec.iter()) {
                if numeric.contains(&name) {
                    assert!(
                        cell.is_empty() || cell.parse::<f64>().is_ok(),
                        "{what}.{name} is not a number: {cell:?}"
                    );
                } else {
                    assert!(
                        !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                        "{what}.{name} could run as a formula: {cell:?}"
                    );
                    assert!(!cell.contains(['\t', '\r']), "{what}.{name}: {cell:?}");
                }
            }
            let get = |n: &str| {
                rec.get(headers.iter().position(|h| h == n).unwrap())
                    .unwrap()
            };
            if what == "recordings" {
                assert_eq!(get("duration_s"), "-5.500");
                assert_eq!(get("start_time_unix"), "-100");
                assert_eq!(get("stop_time_unix"), "-40");
                assert_eq!(get("span_s"), "60");
                assert!(get("domain").starts_with('\''), "{}", get("domain"));
            }
            if what == "streams" {
                assert_eq!(get("total_duration_s"), "-5.500");
            }
        }
        let expected = match what {
            "events" => 2 * evil.len() + 1,
            _ => evil.len(),
        };
        assert_eq!(rows, expected, "{what}");
    }
}

#[test]
fn export_session_writes_a_folder_beside_the_journal() {
    let mut r = Recmon::start(&[]);
    simulate(&r, 8, 60, &[]);
    let recordings = r.state()["recordings_total"].as_u64().unwrap();
    r.stop();
    let first = recmon::tools::export::export_session(&r.journal).unwrap();
    let second = recmon::tools::export::export_session(&r.journal).unwrap();
    assert_ne!(
        first.dir, second.dir,
        "a second export never overwrites the first"
    );
    for ex in [&first, &second] {
        assert_eq!(ex.dir.parent(), r.journal.parent());
        let name = ex.dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("journal-export-"), "{name}");
        assert_eq!(
            ex.paths(),
            vec![ex.recordings_csv.clone(), ex.events_jsonl.clone()]
        );
        assert_eq!(
            std::fs::read(&ex.events_jsonl).unwrap(),
            std::fs::read(&r.journal).unwrap()
        );
        let rows = csv::Reader::from_path(&ex.recordings_csv)
            .unwrap()
            .records()
            .count();
        assert_eq!(rows as u64, recordings);
        assert_eq!(ex.recordings, recordings);
        assert_eq!(ex.events, 60);
        assert!(ex.problems.is_empty());
    }
    let err = recmon::tools::export::export_session(Path::new("/no/such/dir/j.jsonl")).unwrap_err();
    assert!(err.to_string().contains("export folder"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Resume

// Journals that hold the callbacks only: `--no-alerts`, since an alert is a journal line too
// (the samples' short files would fire some).
#[test]
fn resume_after_kill9_keeps_every_acknowledged_callback() {
    let n = 150 * scale();
    let mut a = Recmon::start(&["--no-alerts"]);
    simulate(&a, 21, n, &["--streams", "4"]);
    let before = a.state();
    // Mid-broadcast: some stream is still live when recmon dies.
    assert!(before["streams"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["ingest"] == "live"));
    assert_eq!(
        stable(&before),
        stable(&expected_state(count_params(21, 4), n as usize)),
        "the live state is the state of the acknowledged callbacks"
    );
    a.kill9();

    let journal = a.journal.to_str().unwrap().to_string();
    let mut b = Recmon::start_in(&a.dir, &a.journal, &["--no-alerts", "--resume", &journal]);
    let after = b.state();
    assert_eq!(
        after, before,
        "the resumed state is exactly the state before the kill"
    );
    assert!(
        b.stderr.lock().unwrap().contains(&format!(
            "resumed {} entries from",
            recmon::util::human::thousands(n)
        )),
        "{}",
        b.stderr.lock().unwrap()
    );

    // New requests continue the seq and are appended to the same file; the printer shows
    // only them.
    let (status, body) = b.post("/cb", STATUS_SAMPLE);
    assert_eq!(status, 200);
    assert!(body.contains(&format!("\"seq\":{}", n + 1)), "{body}");
    let (_, out, err) = b.stop();
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains(&format!("#{}", n + 1)), "{out}");
    assert!(err.contains("1 line written this run"), "{err}");
    let seqs: Vec<u64> = entries(&a.journal).iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=n + 1).collect::<Vec<_>>());
}

#[test]
fn resume_after_kill9_during_a_running_simulation() {
    let mut a = Recmon::start(&[]);
    let journal = a.journal.clone();
    let sim = Command::new(bin())
        .args([
            "simulate",
            "--to",
            &url(&a),
            "--seed",
            "33",
            "--streams",
            "5",
        ])
        .args(["--count", "1000000", "--rate", "max"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let target = 80 * scale() as usize;
    wait_for(
        "the simulation to get going",
        Duration::from_secs(30),
        || {
            std::fs::read_to_string(&journal)
                .unwrap_or_default()
                .lines()
                .count()
                >= target
        },
    );
    a.kill9();
    let sim_out = sim.wait_with_output().unwrap();
    let sim_err = text(&sim_out.stderr);
    assert_eq!(sim_out.status.code(), Some(1), "{sim_err}");
    assert!(sim_err.contains("simulate stopped early"), "{sim_err}");
    // "sent N requests": N answers came back, all 200 (the summary would list others).
    let acked: usize = sim_err
        .split("sent ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("no count in {sim_err}"));
    assert!(
        sim_err.contains(&format!(
            "answers: 200 ×{};",
            recmon::util::human::thousands(acked as u64)
        )),
        "{sim_err}"
    );

    let j = journal.to_str().unwrap().to_string();
    let b = Recmon::start_in(&a.dir, &journal, &["--resume", &j]);
    let state = b.state();
    let c = &state["requests"];
    let journaled = (c["accepted"].as_u64().unwrap() + c["duplicate"].as_u64().unwrap()) as usize;
    // One request at a time: at most the one in flight was journaled but not acknowledged.
    assert!(
        journaled == acked || journaled == acked + 1,
        "{journaled} journaled vs {acked} acknowledged"
    );
    assert_eq!(
        stable(&state),
        stable(&expected_state(count_params(33, 5), journaled)),
        "the resumed state is the state of exactly the journaled prefix"
    );
}

#[test]
fn crash_cut_journal_is_resumed_with_each_problem_reported() {
    let mut a = Recmon::start(&["--no-alerts"]);
    simulate(&a, 4, 40, &[]);
    a.stop();
    let path = a.journal.clone();
    let original = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    assert_eq!(lines.len(), 40);

    // Line 10 garbled in the middle; a crash cut the last line half way.
    let mut damaged = String::new();
    let mut garbled_offset = 0;
    for (i, l) in lines.iter().enumerate() {
        if i == 9 {
            garbled_offset = damaged.len();
            damaged.push_str("{\"seq\":10,\"rec\u{0}\u{1}garbage\n");
        } else {
            damaged.push_str(l);
            damaged.push('\n');
        }
    }
    let partial_offset = damaged.len();
    damaged.push_str("{\"seq\":41,\"received_at\":\"2026-");
    std::fs::write(&path, &damaged).unwrap();

    // The expected state: the same journal without the two damaged lines.
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.jsonl");
    let kept: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 9)
        .map(|(_, l)| *l)
        .collect();
    std::fs::write(&clean, kept.join("\n") + "\n").unwrap();
    let mut expected = Store::default();
    recmon::core::rebuild::rebuild(&clean, &mut expected, &mut Deduper::default(), |_| {}).unwrap();

    let j = path.to_str().unwrap().to_string();
    let b = Recmon::start_in(&a.dir, &path, &["--no-alerts", "--resume", &j]);
    let err = b.stderr.lock().unwrap().clone();
    assert!(
        err.contains(&format!(
            "line 10 (byte {garbled_offset}) is not a journal entry"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "line 41 at byte offset {partial_offset} was cut off mid-line"
        )),
        "{err}"
    );
    assert!(err.contains("resumed 39 entries"), "{err}");
    assert_eq!(b.state(), recmon::server::api::state_document(&expected));

    let (status, body) = b.post("/cb", RECORDING_SAMPLE);
    assert_eq!(status, 200);
    assert!(
        body.contains("\"seq\":41"),
        "seq continues after the last good entry: {body}"
    );
    let now = std::fs::read_to_string(&path).unwrap();
    assert!(
        now.starts_with(&damaged),
        "earlier bytes are never rewritten"
    );
    let appended = &now[damaged.len()..];
    assert!(
        appended.starts_with('\n'),
        "the new entry starts on a fresh line"
    );
    let last: Value = serde_json::from_str(appended.trim()).unwrap();
    assert_eq!(last["seq"], 41);
    // Read back: the old cut line is now a garbled middle line, and nothing else is lost.
    let items: Vec<ReadItem> = JournalReader::open(&path)
        .unwrap()
        .map(|i| i.unwrap())
        .collect();
    let good = items
        .iter()
        .filter(|i| matches!(i, ReadItem::Entry(_)))
        .count();
    assert_eq!(good, 40);
    assert!(matches!(items.last(), Some(ReadItem::Entry(e)) if e.seq == 41));
}

/// One command line works on a service's first start and on every restart: `--resume` of a
/// path with no file yet starts the journal there (and says so), and the next start with the
/// same command continues it.
#[test]
fn resume_starts_a_missing_journal_and_the_same_command_continues_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("service.jsonl");
    let resume = ["--resume", path.to_str().unwrap()];
    let mut first = Recmon::start_in(dir.path(), &path, &resume);
    first.wait_stderr("no journal there yet, so a new one is started");
    assert_eq!(
        first
            .post(
                "/cb",
                r#"{"domain":"d","app":"a","stream":"s1","event":"record_started"}"#
            )
            .0,
        200
    );
    let (status, _, _) = first.stop();
    assert!(status.success());
    let mut second = Recmon::start_in(dir.path(), &path, &resume);
    second.wait_stderr("resumed 1 entry");
    assert_eq!(
        second
            .post(
                "/cb",
                r#"{"domain":"d","app":"a","stream":"s1","event":"record_paused"}"#
            )
            .0,
        200
    );
    second.stop();
    let seqs: Vec<u64> = journal_lines(&path)
        .iter()
        .map(|l| l["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2]);
}

#[test]
fn resume_where_no_journal_can_be_started_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir").join("nope.jsonl");
    let out = recmon(&[
        "--headless",
        "--listen",
        "127.0.0.1:0",
        "--resume",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("cannot start the journal") && err.contains("nope.jsonl"),
        "{err}"
    );
    let out = recmon(&["--resume", "a.jsonl", "--journal", "b.jsonl"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--resume names the journal already"
    );
}

// ---------------------------------------------------------------------------------------
// Replay

/// (method, path, body) of each accepted or duplicate entry.
fn sent(path: &Path) -> Vec<(String, String, Vec<u8>)> {
    entries(path)
        .into_iter()
        .filter(|e| e.outcome != recmon::event::Outcome::Rejected)
        .map(|e| (e.method.clone(), e.path.clone(), e.body_raw()))
        .collect()
}

#[test]
fn replay_into_a_second_recmon_reproduces_its_state() {
    let mut a = Recmon::start(&[]);
    simulate(&a, 12, 200 * scale(), &["--streams", "4", "--domains", "2"]);
    // Bodies that are not one-line JSON must come back byte for byte too.
    assert_eq!(a.post("/pretty?x=1", STATUS_SAMPLE).0, 200);
    assert_eq!(a.post("/cb", "rejected, not resent").0, 400);
    let state_a = a.state();
    assert!(state_a["requests"]["duplicate"].as_u64().unwrap() > 0);
    a.stop();
    let journal = a.journal.to_str().unwrap();

    let mut b = Recmon::start(&[]);
    let out = recmon(&[
        "replay",
        journal,
        "--to",
        &format!("http://{}", b.addr),
        "--speed",
        "max",
        "--with-duplicates",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("1 journal entry not resent"), "{err}");
    let state_b = b.state();
    let mut expected = stable(&state_a);
    expected["requests"]["rejected"] = json!(0);
    assert_eq!(stable(&state_b), expected);
    b.stop();
    assert_eq!(
        sent(&b.journal),
        sent(&a.journal),
        "method, path and body byte for byte"
    );

    // Without --with-duplicates: the same streams, no retries.
    let c = Recmon::start(&[]);
    let out = recmon(&[
        "replay",
        journal,
        "--to",
        &format!("http://{}", c.addr),
        "--speed",
        "max",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut expected = stable(&state_a);
    expected["requests"]["rejected"] = json!(0);
    expected["requests"]["duplicate"] = json!(0);
    assert_eq!(stable(&c.state()), expected);
}

#[test]
fn replay_reports_non_2xx_answers_and_fails() {
    let mut a = Recmon::start(&[]);
    assert_eq!(a.post("/cb", STATUS_SAMPLE).0, 200);
    assert_eq!(a.post("/cb", RECORDING_SAMPLE).0, 200);
    a.stop();
    // A receiver that refuses the large body.
    let b = Recmon::start(&["--max-body", "100"]);
    let out = recmon(&[
        "replay",
        a.journal.to_str().unwrap(),
        "--to",
        &format!("http://{}/hook", b.addr),
        "--speed",
        "max",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("#2 POST /cb -> 413"), "{err}");
    assert!(err.contains("answers: 200 ×1, 413 ×1"), "{err}");
    assert!(err.contains("1 request was not answered 2xx"), "{err}");
    // --to with a path: every request goes there.
    let paths: Vec<String> = b
        .journal_lines()
        .iter()
        .map(|l| l["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(paths, ["/hook", "/hook"]);

    // Nobody listening: a clear error, not a hang.
    let out = recmon(&[
        "replay",
        a.journal.to_str().unwrap(),
        "--to",
        "http://127.0.0.1:1",
        "--speed",
        "max",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is the receiver running"),
        "{}",
        text(&out.stderr)
    );
}

/// Seconds between the first and the last of `lines`, by their `received_at`.
fn span_secs(lines: &[Value]) -> f64 {
    let at = |l: &Value| {
        DateTime::parse_from_rfc3339(l["received_at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    (at(&lines[lines.len() - 1]) - at(&lines[0])).num_milliseconds() as f64 / 1000.0
}

#[test]
fn replay_keeps_the_recorded_pace_scaled_by_speed() {
    let mut a = Recmon::start(&["--no-alerts"]);
    for i in 0..3 {
        let body = format!(r#"{{"domain":"d","app":"a","stream":"s","uri":"{i}.flv"}}"#);
        assert_eq!(a.post("/cb", &body).0, 200);
        if i < 2 {
            std::thread::sleep(Duration::from_millis(1000));
        }
    }
    a.stop();
    let recorded = span_secs(&a.journal_lines());
    assert!(recorded >= 1.9, "{recorded}");
    // The pace is measured where it matters, at the receiver (its journal's arrival times),
    // so process start-up does not count. Both bounds: a replay that ignores --speed (or
    // applies it twice) lands outside them. The upper slack (0.6 s) is for a loaded machine;
    // the pacer schedules from the start, so lateness does not add up.
    let b = Recmon::start(&["--no-alerts"]);
    let to = format!("http://{}", b.addr);
    for (i, speed) in ["1", "4"].into_iter().enumerate() {
        let out = recmon(&[
            "replay",
            a.journal.to_str().unwrap(),
            "--to",
            &to,
            "--speed",
            speed,
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let lines = b.wait_journal_lines(3 * (i + 1));
        let got = span_secs(&lines[3 * i..3 * (i + 1)]);
        let want = recorded / speed.parse::<f64>().unwrap();
        assert!(
            got >= want - 0.05 && got <= want + 0.6,
            "--speed {speed}: the replay took {got} s for {recorded} s recorded (want {want} s)"
        );
    }
    assert_eq!(b.state()["requests"]["accepted"], 3);
    assert_eq!(b.state()["requests"]["duplicate"], 3);

    // Ctrl-C during a slow replay: it stops, and still says what it sent.
    let child = Command::new(bin())
        .args([
            "replay",
            a.journal.to_str().unwrap(),
            "--to",
            &to,
            "--speed",
            "0.01",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(
        "the first replayed request",
        Duration::from_secs(10),
        || b.state()["requests"]["duplicate"] == 4,
    );
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("resent 1 request ") && err.contains("interrupted"),
        "{err}"
    );
}

/// Asserts that every line of `r`'s journal is a request whose signature the receiver
/// checked and accepted, and that there are `n` of them.
fn all_signed_and_accepted(r: &Recmon, n: usize) {
    let lines = r.wait_journal_lines(n);
    assert_eq!(lines.len(), n, "{lines:?}");
    for l in &lines {
        assert_eq!(l["auth"], "ok", "{l}");
        assert_eq!(l["status"], 200, "{l}");
        assert_ne!(l["outcome"], "rejected", "{l}");
    }
}

const KEY_A: &str = "yourkey0123456789";
const KEY_B: &str = "otherkey0123456789";

#[test]
fn replay_and_simulate_sign_with_the_auth_key() {
    // Receivers that check signatures, so that signer and verifier must agree.
    let mut a = Recmon::start(&["--auth-key", KEY_A]);
    simulate(&a, 2, 5, &["--auth-key", KEY_A]);
    a.stop();
    all_signed_and_accepted(&a, 5);
    // Replay resends the accepted ones (not the duplicates).
    let accepted = a
        .journal_lines()
        .iter()
        .filter(|l| l["outcome"] == "accepted")
        .count();
    for l in a.journal_lines() {
        let ts: i64 = l["headers"]["ali-live-timestamp"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((Utc::now().timestamp() - ts).abs() < 60);
    }
    let replay_to = |r: &Recmon, key: &str| {
        Command::new(bin())
            .args([
                "replay",
                a.journal.to_str().unwrap(),
                "--to",
                &format!("http://{}", r.addr),
                "--speed",
                "max",
            ])
            .env("RECMON_AUTH_KEY", key)
            .output()
            .unwrap()
    };
    // Replay re-signs with the key it is given.
    let b = Recmon::start(&["--auth-key", KEY_B]);
    let out = replay_to(&b, KEY_B);
    assert!(out.status.success(), "{}", text(&out.stderr));
    all_signed_and_accepted(&b, accepted);
    // And the receiver does check: signed with another key, all are refused.
    let c = Recmon::start(&["--auth-key", KEY_B]);
    let out = replay_to(&c, KEY_A);
    assert!(!out.status.success(), "{}", text(&out.stderr));
    let lines = c.wait_journal_lines(accepted);
    assert!(
        lines
            .iter()
            .all(|l| l["status"] == 403 && l["auth"] == "failed"),
        "{lines:?}"
    );
}

/// Whether this machine can listen on IPv6 loopback.
fn has_ipv6_loopback() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn signatures_over_ipv6_loopback_use_the_bracketed_host() {
    if !has_ipv6_loopback() {
        skip_unless_ci(
            "this machine has no IPv6 loopback ([::1]); the IPv6 signing case did not run",
        );
        return;
    }
    // The signed host is the callback URL's host, which for an IPv6 literal is `[::1]` (the
    // form the Host header carries). simulate and replay must sign what the receiver checks.
    let mut r = Recmon::start(&["--listen", "[::1]:0", "--auth-key", KEY_A]);
    assert!(r.addr.is_ipv6(), "{}", r.addr);
    let to = format!("http://{}/recmon", r.addr);
    let out = recmon(&[
        "simulate",
        "--to",
        &to,
        "--seed",
        "4",
        "--count",
        "5",
        "--rate",
        "max",
        "--auth-key",
        KEY_A,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    r.stop();
    all_signed_and_accepted(&r, 5);
    // Replay resends the accepted ones (not the duplicates).
    let accepted = r
        .journal_lines()
        .iter()
        .filter(|l| l["outcome"] == "accepted")
        .count();

    let b = Recmon::start(&["--listen", "[::1]:0", "--auth-key", KEY_B]);
    let out = Command::new(bin())
        .args([
            "replay",
            r.journal.to_str().unwrap(),
            "--to",
            &format!("http://{}", b.addr),
            "--speed",
            "max",
        ])
        .env("RECMON_AUTH_KEY", KEY_B)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    all_signed_and_accepted(&b, accepted);
}

// ---------------------------------------------------------------------------------------
// Simulate and demo

fn as_sent(reqs: &[SimRequest]) -> Vec<(String, String, Vec<u8>)> {
    reqs.iter()
        .map(|r| {
            let path = match &r.query {
                Some(q) => format!("/recmon?{q}"),
                None => "/recmon".to_string(),
            };
            (r.method.to_string(), path, r.body.to_vec())
        })
        .collect()
}

#[test]
fn simulate_with_a_fixed_seed_sends_the_same_sequence_twice() {
    let n = 80 * scale();
    let mut runs: Vec<PathBuf> = Vec::new();
    let mut keep = Vec::new();
    for seed in [99, 99, 100] {
        let mut r = Recmon::start(&[]);
        let out = simulate(&r, seed, n, &["--streams", "3", "--domains", "2"]);
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!(
                "sent {}",
                recmon::util::human::count(n, "request", "requests")
            )),
            "{err}"
        );
        assert!(err.contains(&format!("--seed {seed}")), "{err}");
        r.stop();
        runs.push(r.journal.clone());
        keep.push(r);
    }
    let first = sent(&runs[0]);
    assert_eq!(first.len() as u64, n);
    assert_eq!(
        first,
        sent(&runs[1]),
        "same seed, same requests, in the same order"
    );
    assert_ne!(first, sent(&runs[2]), "another seed, another sequence");
    // And it is exactly what the generator produces.
    let mut params = SimParams::new(99, 3, 2);
    params.broadcasts = None;
    let generated: Vec<SimRequest> = Generator::new(params).take(n as usize).collect();
    assert_eq!(first, as_sent(&generated));
}

#[test]
fn simulate_without_count_runs_each_broadcast_to_its_end() {
    let r = Recmon::start(&[]);
    let out = recmon(&[
        "simulate",
        "--to",
        &url(&r),
        "--seed",
        "3",
        "--rate",
        "max",
        "--streams",
        "2",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let state = r.state();
    for s in state["streams"].as_array().unwrap() {
        assert_eq!(s["ingest"], "offline", "{s}");
        assert_eq!(s["last_event"], "publish_done", "{s}");
        assert!(s["recordings"].as_u64().unwrap() >= 2, "{s}");
    }
    let bad = recmon(&["simulate", "--to", "https://example.com"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("https is not supported"));
}

#[test]
fn demo_callbacks_pass_the_receivers_own_signature_check() {
    let mut r = Recmon::start(&["--demo", "--auth-key", KEY_A]);
    wait_for("demo callbacks", Duration::from_secs(20), || {
        r.state()["requests"]["accepted"].as_u64().unwrap() >= 3
    });
    let (status, _, err) = r.stop();
    assert!(status.success(), "{err}");
    let lines = r.journal_lines();
    assert!(lines.len() >= 3);
    // The demo mixes providers: ApsaraVideo's callbacks carry its signature; nginx-rtmp's and
    // SRS's sign nothing; Tencent's are checked only with --tencent-key.
    let aliyun: Vec<_> = lines.iter().filter(|l| l["provider"] == "aliyun").collect();
    assert!(!aliyun.is_empty(), "{lines:?}");
    for l in aliyun {
        assert_eq!(l["auth"], "ok", "{l}");
    }
    for l in &lines {
        assert_eq!(l["status"], 200, "{l}");
    }
}

#[test]
fn demo_drives_the_monitor_by_itself() {
    let mut r = Recmon::start(&["--demo"]);
    wait_for("demo callbacks", Duration::from_secs(20), || {
        r.state()["requests"]["accepted"].as_u64().unwrap() >= 3
    });
    let (status, out, err) = r.stop();
    assert!(status.success(), "{err}");
    assert!(err.contains("recmon: demo: simulating"), "{err}");
    assert!(out.contains("publish"), "{out}");
    assert!(!err.contains("ERROR"), "{err}");
}

#[test]
fn subcommands_do_not_take_monitor_flags() {
    let out = recmon(&["--headless", "export", "x.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
    // An env var for the monitor does not get in the way of a subcommand.
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.jsonl");
    std::fs::write(&j, "").unwrap();
    let out = Command::new(bin())
        .args(["export", j.to_str().unwrap()])
        .env("RECMON_LISTEN", "127.0.0.1:9")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn a_refused_callback_names_the_stream_it_could_read_on_its_line_and_in_the_export() {
    let mut r = Recmon::start(&[]);
    // A recording callback whose duration is not a number: 422, but its stream is plain.
    let refused = r#"{"domain":"d.example","app":"live","stream":"cam-422","uri":"live/cam-422/1.flv","duration":"long","start_time":1,"stop_time":2}"#;
    let (status, body) = r.post("/recmon", refused);
    assert_eq!(status, 422, "{body}");
    // One whose stream name is not text names nothing.
    let nameless = r#"{"domain":"d.example","app":"live","stream":7,"event":"record_started"}"#;
    assert_eq!(r.post("/recmon", nameless).0, 422);
    let (_, out, _) = r.stop();
    let line = out
        .lines()
        .find(|l| l.contains("#1 "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains(
            "rejected  422  -         d.example/live/cam-422  POST /recmon: field duration"
        ),
        "{line}"
    );
    let line = out
        .lines()
        .find(|l| l.contains("#2 "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("rejected  422  -         -  POST"), "{line}");
    // Still nothing applied: no stream, no recording.
    let journal = r.journal.to_str().unwrap().to_string();
    let streams = recmon(&["export", &journal, "--what", "streams", "--format", "json"]);
    assert_eq!(text(&streams.stdout).trim(), "[]");
    // The export's row names it, and --stream finds it.
    let csv = recmon(&["export", &journal, "--format", "csv", "--stream", "cam-422"]);
    assert!(csv.status.success(), "{}", text(&csv.stderr));
    let mut rows = csv::Reader::from_reader(csv.stdout.as_slice());
    let header = rows.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let col = |name: &str| &rows[0][header.iter().position(|h| h == name).unwrap()];
    assert_eq!(
        (col("status"), col("domain"), col("app"), col("stream")),
        ("422", "d.example", "live", "cam-422")
    );
}
