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
    let folder = dir.path().join("no/such/dir");
    assert!(
        err.contains(&format!("the folder {} does not exist", folder.display())),
        "{err}"
    );
    assert!(err.contains("mkdir -p"), "{err}");
}

#[test]
fn resume_into_a_missing_folder_names_the_folder_not_the_file() {
    // `--resume` creates a missing journal, so "No such file or directory" alone would read as
    // if it wanted the file to exist; the folder is what is missing.
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin())
        .args(["--headless", "--listen", "127.0.0.1:0", "--resume"])
        .arg(dir.path().join("state/j.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let folder = dir.path().join("state");
    assert!(
        err.contains(&format!(
            "the folder {} does not exist. Create it first (mkdir -p {})",
            folder.display(),
            folder.display()
        )),
        "{err}"
    );
    assert!(!err.contains("os error"), "{err}");
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
    let (status, _, err) = r.stop();
    assert!(err.contains("JOURNAL WRITE FAILED"), "{err}");
    // A script running recmon learns that callbacks were refused: exit 1, and why.
    assert_eq!(status.code(), Some(1), "{err}");
    // (Worded loosely on purpose: the summary's plural is being reworded elsewhere.)
    assert!(
        err.contains("journal write") && err.contains("failed during the session"),
        "{err}"
    );
}

/// Starts recmon whose journal writes fail with EFBIG once the file would pass `limit` bytes:
/// RLIMIT_FSIZE set in the child (its SIGXFSZ ignored, so the write fails instead of killing
/// the process). A real write failure, which [`set_file_limit`] lifts later.
#[cfg(target_os = "linux")]
fn start_with_file_limit(extra: &[&str], limit: u64) -> (Recmon, tempfile::TempDir) {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let r = Recmon::start_with(dir.path(), &journal, extra, move |cmd| unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: libc::RLIM_INFINITY,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    });
    (r, dir)
}

/// Changes a running recmon's file size limit (the hard limit stays unlimited, so raising it
/// needs no privilege).
#[cfg(target_os = "linux")]
fn set_file_limit(r: &Recmon, limit: u64) {
    let lim = libc::rlimit {
        rlim_cur: limit,
        rlim_max: libc::RLIM_INFINITY,
    };
    let rc = unsafe {
        libc::prlimit(
            r.child.id() as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

fn outcome_of(body: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("answer {body:?}: {e}"));
    v["outcome"].as_str().unwrap_or_default().to_string()
}

#[cfg(target_os = "linux")]
#[test]
fn a_retry_after_503_is_accepted_not_a_duplicate() {
    // The journal cannot grow at all: every write fails for real (EFBIG).
    let (mut r, _dir) = start_with_file_limit(&["--fsync", "never"], 0);
    let (status, body) = r.post("/cb", RECORDING_SAMPLE);
    assert_eq!(status, 503, "{body}");
    let (status, body) = r.post("/cb", STATUS_SAMPLE);
    assert_eq!(status, 503, "{body}");
    // The disk gets space again; the provider retries both.
    set_file_limit(&r, libc::RLIM_INFINITY);
    let (status, body) = r.post("/cb", RECORDING_SAMPLE);
    assert_eq!(
        (status, outcome_of(&body)),
        (200, "accepted".into()),
        "{body}"
    );
    let (status, body) = r.post("/cb", STATUS_SAMPLE);
    assert_eq!(
        (status, outcome_of(&body)),
        (200, "accepted".into()),
        "{body}"
    );
    let st = r.state();
    assert_eq!(st["requests"]["accepted"], 2);
    assert_eq!(st["requests"]["duplicate"], 0);
    assert_eq!(st["recordings_total"], 1);
    let outcomes: Vec<_> = r
        .journal_lines()
        .iter()
        .map(|l| l["outcome"].clone())
        .collect();
    assert_eq!(outcomes, ["accepted", "accepted"]);
    let (status, _, err) = r.stop();
    assert_eq!(status.code(), Some(1), "two writes failed: {err}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_half_written_batch_is_cut_back_so_the_journal_holds_only_whole_lines() {
    let (mut r, _dir) = start_with_file_limit(&["--fsync", "never"], libc::RLIM_INFINITY);
    assert_eq!(r.post("/cb", STATUS_SAMPLE).0, 200);
    let first = std::fs::read(&r.journal).unwrap();
    assert!(first.ends_with(b"\n"));
    // Room for 40 more bytes: the next line is written in part, then the write fails.
    set_file_limit(&r, first.len() as u64 + 40);
    let (status, body) = r.post("/cb", RECORDING_SAMPLE);
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        std::fs::read(&r.journal).unwrap(),
        first,
        "the part of the failed batch that was written must be cut off"
    );
    // Space again: the retry lands on a fresh line, and every line reads back.
    set_file_limit(&r, libc::RLIM_INFINITY);
    let (status, body) = r.post("/cb", RECORDING_SAMPLE);
    assert_eq!(
        (status, outcome_of(&body)),
        (200, "accepted".into()),
        "{body}"
    );
    let lines = r.journal_lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[1]["outcome"], "accepted");
    let (status, _, err) = r.stop();
    assert_eq!(status.code(), Some(1), "{err}");
}

/// A FIFO as the journal: writes succeed (recmon holds it open for reading too, and the pipe
/// buffers 64 KiB), but fdatasync on a FIFO fails with EINVAL. A real fsync failure.
#[cfg(target_os = "linux")]
#[test]
fn an_ack_waits_for_fdatasync_and_a_failed_fsync_poisons_the_journal() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("journal.fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let mut r = Recmon::start_in(dir.path(), &fifo, &["--fsync", "batch"]);

    // Written, but its fdatasync failed: not acknowledged.
    let (status, body) = r.post("/cb", STATUS_SAMPLE);
    assert_eq!(
        status, 503,
        "an ack must wait for the fsync's result: {body}"
    );
    assert!(body.contains("journal fsync failed"), "{body}");
    // After a failed fsync the file cannot be trusted: nothing more is written or acked.
    let (status, body) = r.post("/cb", RECORDING_SAMPLE);
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("an earlier fsync of the journal failed"),
        "{body}"
    );
    let st = r.state();
    assert_eq!(st["requests"]["accepted"], 0);
    assert_eq!(st["recordings_total"], 0);

    // What reached the file: the first request's line only.
    use std::os::unix::fs::OpenOptionsExt;
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 65536];
    while let Ok(n) = std::io::Read::read(&mut reader, &mut chunk) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8(got).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "written after the failed fsync: {text}");
    assert_eq!(lines[0]["seq"], 1);
    assert!(lines[0].to_string().contains("record_started"), "{text}");

    let (status, _, err) = r.stop();
    assert_eq!(status.code(), Some(1), "{err}");
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
fn shutdown_leaves_a_complete_journal() {
    let mut r = Recmon::start(&[]);
    let addr = r.addr;
    let acked = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..8)
        .map(|t| {
            let acked = acked.clone();
            std::thread::spawn(move || {
                for i in 0..40 {
                    let body =
                        format!(r#"{{"domain":"d","app":"a","stream":"s","uri":"{t}_{i}.flv"}}"#);
                    match try_request(addr, "POST", "/cb", &[], body.as_bytes()) {
                        Ok((200, _)) => acked.fetch_add(1, Ordering::SeqCst),
                        _ => break,
                    };
                }
            })
        })
        .collect();
    // SIGTERM while requests are being acknowledged, not before the first one.
    assert!(
        wait_until(std::time::Duration::from_secs(20), || acked
            .load(Ordering::SeqCst)
            >= 8),
        "no request acknowledged within 20 s"
    );
    let journal = r.journal.clone();
    let (status, out, err) = r.stop();
    for s in senders {
        s.join().unwrap();
    }
    let acked = acked.load(Ordering::SeqCst);
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
fn a_request_mid_body_at_sigterm_is_answered_and_journaled() {
    use std::io::{Read, Write};
    let mut r = Recmon::start(&[]);
    let body = RECORDING_SAMPLE.replace("liveStream****", "held-across-sigterm");
    let mut s = std::net::TcpStream::connect(r.addr).unwrap();
    // Expect: 100-continue makes the server say when it starts reading the body, so the
    // request is known to be in the server's hands before the signal.
    write!(
        s,
        "POST /cb HTTP/1.1\r\nHost: x\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut interim = Vec::new();
    let mut byte = [0u8; 1];
    while !interim.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).expect("100 Continue within 20 s"), 1);
        interim.push(byte[0]);
    }
    assert!(
        interim.starts_with(b"HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&interim)
    );
    let (first, rest) = body.split_at(body.len() / 2);
    s.write_all(first.as_bytes()).unwrap();

    r.sigterm();
    r.wait_stderr("recmon: shutting down");
    // The listener is closed (the shutdown is under way) while the request is still open.
    assert!(
        wait_until(std::time::Duration::from_secs(20), || {
            std::net::TcpStream::connect(r.addr).is_err()
        }),
        "the listener still accepts 20 s after SIGTERM"
    );
    s.write_all(rest.as_bytes()).unwrap();
    let answer = read_until_closed(&mut s, std::time::Duration::from_secs(20))
        .unwrap_or_else(|(e, got)| panic!("{e}: {got}"));
    let (status, reply) = parse_response(&answer).expect(&answer);
    assert_eq!(
        (status, outcome_of(&reply)),
        (200, "accepted".into()),
        "{answer}"
    );

    let (status, _, err) = r.wait_exit();
    assert!(status.success(), "{err}");
    let lines = r.journal_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["outcome"], "accepted");
    assert!(
        lines[0].to_string().contains("held-across-sigterm"),
        "{}",
        lines[0]
    );
}

#[test]
fn a_recording_resent_after_a_restart_with_resume_is_a_duplicate() {
    let mut r = Recmon::start(&[]);
    assert_eq!(r.post("/cb", RECORDING_SAMPLE).0, 200);
    assert_eq!(r.post("/cb", STATUS_SAMPLE).0, 200);
    let (status, _, err) = r.stop();
    assert!(status.success(), "{err}");
    let journal = r.journal.clone();
    let dir = r.dir.clone();

    let mut again = Recmon::start_in(
        &dir,
        &journal,
        &["--resume", &journal.display().to_string()],
    );
    // The provider retries both after the restart (the status within its 30 s window).
    let (status, body) = again.post("/cb", RECORDING_SAMPLE);
    assert_eq!(
        (status, outcome_of(&body)),
        (200, "duplicate".into()),
        "{body}"
    );
    let (status, body) = again.post("/cb", STATUS_SAMPLE);
    assert_eq!(
        (status, outcome_of(&body)),
        (200, "duplicate".into()),
        "{body}"
    );
    // A new recording is still accepted.
    let other = RECORDING_SAMPLE.replace("0_2017", "1_2017");
    let (status, body) = again.post("/cb", &other);
    assert_eq!(
        (status, outcome_of(&body)),
        (200, "accepted".into()),
        "{body}"
    );
    assert_eq!(again.state()["recordings_total"], 2);
    let outcomes: Vec<_> = again
        .request_lines()
        .iter()
        .map(|l| l["outcome"].clone())
        .collect();
    assert_eq!(
        outcomes,
        ["accepted", "accepted", "duplicate", "duplicate", "accepted"]
    );
    let (status, _, err) = again.stop();
    assert!(status.success(), "{err}");
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

/// The pids whose parent is `parent` (from /proc/*/stat).
#[cfg(target_os = "linux")]
fn children_of(parent: u32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces, so split after its ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            out.push(pid);
        }
    }
    out
}

/// An fdatasync that blocks, for real: recmon runs under strace, which holds every
/// fdatasync at its entry for 2 s (`inject=fdatasync:delay_enter`). The answer to a callback
/// must not come before that sync has returned.
#[cfg(target_os = "linux")]
#[test]
fn an_ack_under_fsync_batch_waits_for_a_slow_fdatasync() {
    use std::io::BufRead;
    let strace_works = std::process::Command::new("strace")
        .args(["--seccomp-bpf", "-f", "-qq", "-o", "/dev/null", "-e"])
        .args(["trace=fdatasync", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !strace_works {
        common::skip_unless_ci(
            "strace is missing or may not trace here, so the slow-fdatasync case did not run \
             (the FIFO test still shows an ack waits for the fsync's result)",
        );
        return;
    }
    const DELAY: std::time::Duration = std::time::Duration::from_secs(2);
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let mut strace = std::process::Command::new("strace")
        .args(["--seccomp-bpf", "-f", "-qq", "-o", "/dev/null", "-e"])
        .arg("trace=fdatasync")
        .arg("-e")
        .arg(format!(
            "inject=fdatasync:delay_enter={}",
            DELAY.as_micros()
        ))
        .arg("--")
        .arg(bin())
        .args([
            "--headless",
            "--listen",
            "127.0.0.1:0",
            "--fsync",
            "batch",
            "--journal",
        ])
        .arg(&journal)
        .current_dir(dir.path())
        .env_remove("RECMON_LISTEN")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Whatever happens below, neither process outlives the test (a tracer killed alone would
    // leave recmon running, detached).
    struct KillOnDrop(Vec<i32>);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            for pid in self.0.iter().rev() {
                unsafe {
                    libc::kill(*pid, libc::SIGKILL);
                }
            }
        }
    }
    let mut guard = KillOnDrop(vec![strace.id() as i32]);
    let mut err = std::io::BufReader::new(strace.stderr.take().unwrap());
    let mut line = String::new();
    let addr: std::net::SocketAddr = loop {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "recmon under strace did not start"
        );
        if let Some(a) = line.trim().strip_prefix("recmon: listening on http://") {
            break a.parse().unwrap();
        }
    };
    let recmon = children_of(strace.id());
    assert_eq!(recmon.len(), 1, "strace's children: {recmon:?}");
    guard.0.push(recmon[0]);

    let started = std::time::Instant::now();
    let (status, body) = request(addr, "POST", "/cb", &[], STATUS_SAMPLE.as_bytes());
    let took = started.elapsed();
    assert_eq!(
        (status, outcome_of(&body)),
        (200, "accepted".into()),
        "{body}"
    );
    assert!(
        took >= DELAY - std::time::Duration::from_millis(50),
        "answered after {took:?}, before the fdatasync (held {DELAY:?}) returned"
    );
    assert_eq!(journal_lines(&journal).len(), 1);

    unsafe {
        libc::kill(recmon[0], libc::SIGTERM);
    }
    let status = wait_timeout(&mut strace, std::time::Duration::from_secs(30))
        .expect("recmon under strace did not stop within 30 s of SIGTERM");
    assert!(status.success(), "{status:?}");
    guard.0.clear();
}

/// A closed terminal or a dropped ssh session sends SIGHUP: the receiver then shuts down as on
/// SIGTERM (requests finished, journal synced, summary, exit 0) instead of dying on the spot.
#[test]
fn a_hangup_shuts_the_receiver_down_gracefully() {
    let mut r = Recmon::start(&[]);
    assert_eq!(
        r.post(
            "/cb",
            r#"{"domain":"d","app":"a","stream":"s","event":"record_started"}"#
        )
        .0,
        200
    );
    unsafe {
        libc::kill(r.child.id() as i32, libc::SIGHUP);
    }
    let (status, _, stderr) = r.wait_exit();
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(
        stderr.contains("shutting down") && stderr.contains("recmon: stopped."),
        "{stderr}"
    );
    assert_eq!(r.journal_lines().len(), 1);
}
