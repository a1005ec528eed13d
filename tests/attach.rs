//! `recmon attach` over loopback: real receivers (the binary), callbacks over real HTTP, and
//! `recmon attach --json` as a child process whose stdout is compared with the receivers'
//! journals.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use common::*;

/// A running `recmon attach --json URL...`.
struct Attach {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Attach {
    fn start(urls: &[String], extra: &[&str]) -> Attach {
        let mut child = Command::new(bin())
            .arg("attach")
            .arg("--json")
            .args(extra)
            .args(urls)
            .env_remove("RECMON_API_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn recmon attach");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let (l, e) = (lines.clone(), stderr.clone());
        let readers = vec![
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    l.lock().unwrap().push(line);
                }
            }),
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    let mut b = e.lock().unwrap();
                    b.push_str(&line);
                    b.push('\n');
                }
            }),
        ];
        Attach {
            child,
            lines,
            stderr,
            readers,
        }
    }

    /// Waits (up to 20 s) for at least `n` lines on stdout, and returns them all.
    fn wait_lines(&self, n: usize) -> Vec<String> {
        let ok = wait_until(Duration::from_secs(20), || {
            self.lines.lock().unwrap().len() >= n
        });
        let lines = self.lines.lock().unwrap().clone();
        assert!(
            ok,
            "attach printed {} line(s), not {n}, within 20 s:\n{}\nstderr:\n{}",
            lines.len(),
            lines.join("\n"),
            self.stderr.lock().unwrap()
        );
        lines
    }

    fn wait_stderr(&self, needle: &str) {
        let ok = wait_until(Duration::from_secs(20), || {
            self.stderr.lock().unwrap().contains(needle)
        });
        assert!(
            ok,
            "attach's stderr never showed {needle:?}:\n{}",
            self.stderr.lock().unwrap()
        );
    }

    /// SIGTERM, wait, and return (stdout lines, stderr).
    fn stop(mut self) -> (Vec<String>, String) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let status = wait_timeout(&mut self.child, Duration::from_secs(20))
            .expect("attach did not exit within 20 s of SIGTERM");
        for r in self.readers.drain(..) {
            r.join().unwrap();
        }
        let err = self.stderr.lock().unwrap().clone();
        assert!(status.success(), "attach exited with {status}: {err}");
        (self.lines.lock().unwrap().clone(), err)
    }
}

impl Drop for Attach {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The journal's complete lines, as text.
fn raw_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete.lines().map(str::to_string).collect()
}

fn status(stream: &str, event: &str) -> String {
    format!(r#"{{"domain":"live.example.com","app":"app","stream":"{stream}","event":"{event}"}}"#)
}

fn recording(stream: &str, uri: &str) -> String {
    format!(
        r#"{{"domain":"live.example.com","app":"app","stream":"{stream}","uri":"{uri}","duration":10.0,"start_time":1700000000,"stop_time":1700000010}}"#
    )
}

fn url(r: &Recmon) -> String {
    format!("http://{}", r.addr)
}

#[test]
fn catch_up_then_live_entries_arrive_in_order_and_equal_the_journal() {
    let rx = Recmon::start(&[]);
    for i in 0..5 {
        assert_eq!(
            rx.post("/cb", &status(&format!("s{i}"), "record_started"))
                .0,
            200
        );
    }
    assert_eq!(rx.post("/cb", "not json").0, 400);
    let attach = Attach::start(&[url(&rx)], &[]);
    attach.wait_lines(6);
    for i in 0..5 {
        assert_eq!(
            rx.post("/cb", &recording(&format!("s{i}"), &format!("r/{i}.flv")))
                .0,
            200
        );
    }
    // A retry on the same receiver: its own duplicate, trusted as it is.
    assert_eq!(rx.post("/cb", &recording("s0", "r/0.flv")).0, 200);
    // The receiver had 6 when the view connected: it caught up on them, then went live.
    attach.wait_stderr("connected; catching up on 6 entries after #0");
    attach.wait_stderr("live after #6");
    let got = attach.wait_lines(12);
    let journal = raw_lines(&rx.journal);
    assert_eq!(journal.len(), 12);
    assert_eq!(
        got, journal,
        "one source: every line exactly as the receiver wrote it"
    );
    let (got, _) = attach.stop();
    assert_eq!(got.len(), 12, "nothing more after the last entry");
}

#[test]
fn a_receiver_restarted_with_resume_is_followed_with_nothing_repeated_or_missed() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let mut rx = Recmon::start_in(dir.path(), &journal, &[]);
    let addr = rx.addr.to_string();
    for i in 0..3 {
        assert_eq!(
            rx.post("/cb", &status(&format!("s{i}"), "record_started"))
                .0,
            200
        );
    }
    // The saved copy holds every entry the view applied (the --json printer follows the log
    // by seq, so it would not show a repeat that the view counted).
    let save = dir.path().join("copy.jsonl");
    let attach = Attach::start(&[url(&rx)], &["--save", &save.display().to_string()]);
    attach.wait_lines(3);
    rx.kill9();
    attach.wait_stderr("disconnected");
    let rx = Recmon::start_in(
        dir.path(),
        &journal,
        &[
            "--listen",
            &addr,
            "--resume",
            &journal.display().to_string(),
        ],
    );
    for i in 0..3 {
        assert_eq!(
            rx.post("/cb", &recording(&format!("s{i}"), "r/1.flv")).0,
            200
        );
    }
    let got = attach.wait_lines(6);
    let journal = raw_lines(&journal);
    assert_eq!(journal.len(), 6);
    assert_eq!(got, journal);
    let (got, err) = attach.stop();
    assert_eq!(got, journal, "no entry repeated after the reconnect: {err}");
    assert_eq!(raw_lines(&save), journal, "every entry applied once: {err}");
    assert!(err.contains("resuming after #3"), "{err}");
}

#[test]
fn two_receivers_merge_into_one_view_and_a_retry_across_them_counts_once() {
    let a = Recmon::start(&[]);
    let b = Recmon::start(&[]);
    let save_dir = tempfile::tempdir().unwrap();
    let save = save_dir.path().join("merged.jsonl");
    let attach = Attach::start(
        &[url(&a), url(&b)],
        &["--save", &save.display().to_string()],
    );
    attach.wait_stderr("A (");
    attach.wait_stderr("B (");
    // The provider's first try reaches A; its retry (A answered too late) lands on B.
    assert_eq!(a.post("/cb", &recording("s", "r/1.flv")).0, 200);
    attach.wait_lines(1);
    assert_eq!(b.post("/cb", &recording("s", "r/1.flv")).0, 200);
    attach.wait_lines(2);
    // Entries from two receivers arrive in the order their streams deliver them, which two
    // posts to two receivers do not fix: wait for each before the next across receivers.
    assert_eq!(b.post("/cb", &status("s", "record_paused")).0, 200);
    attach.wait_lines(3);
    assert_eq!(a.post("/cb", &status("t", "record_started")).0, 200);
    assert_eq!(a.post("/cb", "{").0, 400);
    let got = attach.wait_lines(5);
    // Both receivers accepted the recording: neither saw the other's copy.
    assert_eq!(a.journal_lines()[0]["outcome"], "accepted");
    assert_eq!(b.journal_lines()[0]["outcome"], "accepted");
    let v: Vec<serde_json::Value> = got
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let outcomes: Vec<&str> = v.iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(
        outcomes,
        ["accepted", "duplicate", "accepted", "accepted", "rejected"]
    );
    let sources: Vec<&str> = v.iter().map(|e| e["source"].as_str().unwrap()).collect();
    assert_eq!(sources, [url(&a), url(&b), url(&b), url(&a), url(&a)]);
    let seqs: Vec<u64> = v.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5], "one merged sequence");
    let source_seqs: Vec<u64> = v
        .iter()
        .map(|e| e["source_seq"].as_u64().unwrap())
        .collect();
    assert_eq!(source_seqs, [1, 1, 2, 2, 3]);
    assert_eq!(v[1]["source_outcome"], "accepted");
    // Every other field is the receiver's.
    let b0 = &b.journal_lines()[0];
    for field in [
        "received_at",
        "remote",
        "path",
        "headers",
        "body",
        "kind",
        "status",
    ] {
        assert_eq!(v[1][field], b0[field], "{field}");
    }
    let (_, err) = attach.stop();
    assert!(err.contains("5 entries received; all kept in"), "{err}");

    // The saved copy is a journal that export and replay read.
    let saved = raw_lines(&save);
    assert_eq!(saved, got);
    let out = Command::new(bin())
        .args(["export", "--what", "recordings", "--format", "csv"])
        .arg(&save)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        csv.lines().count(),
        2,
        "a header and the one recording: {csv}"
    );
    let target = Recmon::start(&[]);
    let out = Command::new(bin())
        .arg("replay")
        .arg(&save)
        .args(["--to", &format!("http://{}/cb", target.addr)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replayed = target.wait_journal_lines(3);
    let kinds: Vec<&str> = replayed
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["recording", "status", "status"],
        "the retry is not resent"
    );
    let state = target.state();
    assert_eq!(state["requests"]["accepted"], 3, "{state}");
}

#[test]
fn nothing_but_the_feed_is_asked_of_the_receiver() {
    let rx = Recmon::start(&[]);
    assert_eq!(rx.post("/cb", &status("s", "record_started")).0, 200);
    let attach = Attach::start(&[url(&rx)], &[]);
    attach.wait_lines(1);
    attach.stop();
    // The receiver's journal holds the callbacks only: the attach sent no request that a
    // receiver journals (every non-API request is journaled, even a refused one).
    assert_eq!(rx.journal_lines().len(), 1);
    let state = rx.state();
    assert_eq!(state["requests"]["accepted"], 1, "{state}");
}

#[test]
fn json_prints_every_entry_of_a_catch_up_longer_than_the_request_log() {
    let rx = Recmon::start(&[]);
    for i in 0..300 {
        assert_eq!(
            rx.post(
                "/cb",
                &status(
                    &format!("s{}", i % 7),
                    if i % 2 == 0 {
                        "record_started"
                    } else {
                        "record_paused"
                    }
                )
            )
            .0,
            200
        );
    }
    // The request log keeps 5: the catch-up arrives in much larger batches than that, and
    // the printer must still print every one of them.
    let attach = Attach::start(&[url(&rx)], &["--log-capacity", "5"]);
    let got = attach.wait_lines(300);
    assert_eq!(got, raw_lines(&rx.journal));
    let (got, _) = attach.stop();
    assert_eq!(got.len(), 300);
}

#[test]
fn the_api_token_is_sent_and_a_missing_one_is_said_on_stderr() {
    let rx = Recmon::start(&["--api-token", "s3cret-token"]);
    assert_eq!(rx.post("/cb", &status("s", "record_started")).0, 200);
    let without = Attach::start(&[url(&rx)], &[]);
    without.wait_stderr("401: the receiver wants --api-token");
    let (lines, _) = without.stop();
    assert!(lines.is_empty(), "{lines:?}");
    let with = Attach::start(&[url(&rx)], &["--api-token", "s3cret-token"]);
    assert_eq!(with.wait_lines(1), raw_lines(&rx.journal));
    let (_, err) = with.stop();
    assert!(!err.contains("s3cret"), "the token is never printed: {err}");
}

#[test]
fn a_hangup_ends_attach_cleanly_and_removes_its_temporary_copy() {
    // A closed terminal or a dropped ssh session sends SIGHUP: without a handler the process
    // died on the spot and left /tmp/recmon-attach-*.jsonl behind every time.
    let rx = Recmon::start(&[]);
    assert_eq!(rx.post("/cb", &status("s", "record_started")).0, 200);
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin())
        .args(["attach", "--json", &url(&rx)])
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn recmon attach");
    let copies = || {
        std::fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("recmon-attach-")
            })
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(20), || copies() == 1),
        "attach never made its temporary copy in TMPDIR"
    );
    unsafe {
        libc::kill(child.id() as i32, libc::SIGHUP);
    }
    let status = wait_timeout(&mut child, Duration::from_secs(20))
        .expect("attach did not exit within 20 s of SIGHUP");
    assert!(status.success(), "attach exited with {status}");
    assert_eq!(copies(), 0, "the temporary copy was left behind");
}

// ---- The receiver's alert thresholds; one journal per view (issue 20) ----

#[test]
fn an_attached_view_uses_the_receivers_alert_thresholds_not_its_own() {
    // Thresholds far from the defaults (5m): the view fires with the receiver, not minutes
    // later with its own.
    let rx = Recmon::start(&["--alert-paused", "2s"]);
    let plain = Attach::start(&[url(&rx)], &[]);
    // Given thresholds of its own, a view still follows the receiver's (see attach's docs).
    let flagged = Attach::start(&[url(&rx)], &["--alert-paused", "1h"]);
    plain.wait_stderr("connected");
    flagged.wait_stderr("connected");
    assert_eq!(rx.post("/cb", &status("cam", "record_paused")).0, 200);
    rx.wait_stderr("ALERT warning paused_too_long");
    plain.wait_stderr(
        "ALERT warning paused_too_long: live.example.com/app/cam has been paused for over 2s",
    );
    flagged.wait_stderr("ALERT warning paused_too_long");
    assert_eq!(rx.post("/cb", &status("cam", "record_resumed")).0, 200);
    rx.wait_stderr("RESOLVED warning paused_too_long");
    plain.wait_stderr("RESOLVED warning paused_too_long");
    flagged.wait_stderr("RESOLVED warning paused_too_long");
}

#[test]
fn a_new_journal_at_the_same_path_is_named_as_a_restart_and_never_mixed_in() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let mut rx = Recmon::start_in(dir.path(), &journal, &[]);
    let addr = rx.addr.to_string();
    for i in 0..3 {
        assert_eq!(
            rx.post("/cb", &status(&format!("s{i}"), "record_started"))
                .0,
            200
        );
    }
    let attach = Attach::start(&[url(&rx)], &[]);
    attach.wait_lines(3);
    // The view is held still while the receiver is restarted without --resume on a new
    // journal at the same path, which then gets more entries than the view holds: only the
    // journal's identity can tell its #4 from the old journal's.
    unsafe {
        libc::kill(attach.child.id() as i32, libc::SIGSTOP);
    }
    rx.kill9();
    std::fs::remove_file(&journal).unwrap();
    let rx = Recmon::start_in(dir.path(), &journal, &["--listen", &addr]);
    for i in 0..5 {
        assert_eq!(
            rx.post("/cb", &status(&format!("new{i}"), "record_started"))
                .0,
            200
        );
    }
    unsafe {
        libc::kill(attach.child.id() as i32, libc::SIGCONT);
    }
    attach.wait_stderr("restarted without --resume");
    attach.wait_stderr("a new journal at the same path");
    let (got, err) = attach.stop();
    assert_eq!(
        got.len(),
        3,
        "the new journal's entries were mixed in: {err}"
    );
    assert!(got.iter().all(|l| !l.contains("new")), "{got:?}");
}
