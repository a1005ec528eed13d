//! Issue 9, "smaller correctness": the request-head limit to the byte, recmon's own endpoints
//! answering 404/405 and journaling them, output pipes that close, and what the summaries of
//! `simulate` and `replay` say. Everything runs the real binary over loopback.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The documented limit (docs/operations.md, Limits): request line + headers + the blank line.
const HEAD_LIMIT: usize = 64 * 1024;

/// A request whose head is exactly `head_len` bytes, carrying the spec's status sample.
fn request_with_head_of(head_len: usize, stream: &str) -> Vec<u8> {
    let body = STATUS_SAMPLE.replace("gs_stream", stream);
    let base = format!(
        "POST /cb HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\nX-Pad: \r\n\r\n",
        body.len()
    );
    let pad = head_len - base.len();
    let head = base.replace("X-Pad: ", &format!("X-Pad: {}", "a".repeat(pad)));
    assert_eq!(head.len(), head_len);
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// The value of response header `name` in a raw HTTP response.
fn header<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
    let head = resp.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn a_request_head_over_64_kib_gets_431_to_the_byte_and_is_journaled_before_the_answer() {
    let r = Recmon::start(&[]);
    for (len, stream) in [(HEAD_LIMIT - 1, "under"), (HEAD_LIMIT, "at")] {
        let resp = raw_exchange(r.addr, &request_with_head_of(len, stream));
        let (status, body) = parse_response(&resp).expect("an answer");
        assert_eq!(status, 200, "head of {len} bytes: {body}");
    }
    for len in [HEAD_LIMIT + 1, 100_000] {
        let resp = raw_exchange(r.addr, &request_with_head_of(len, "over"));
        let (status, body) = parse_response(&resp).expect("an answer");
        assert_eq!(status, 431, "head of {len} bytes: {body}");
        assert!(body.contains("65,536"), "{body}");
        // Read at once, no waiting: the line was written before the answer was sent.
        let lines = r.journal_lines();
        let last = lines.last().expect("journaled");
        assert_eq!(last["status"], 431, "{last}");
        assert_eq!(last["outcome"], "rejected");
        assert_eq!(last["method"], "POST");
        assert_eq!(last["path"], "/cb");
        assert!(
            last["error"].as_str().unwrap().contains(&format!(
                "{} bytes",
                recmon::util::human::thousands(len as u64)
            )),
            "{last}"
        );
    }
    let state = r.state();
    assert_eq!(state["requests"]["accepted"], 2, "{state}");
    assert_eq!(state["requests"]["rejected"], 2, "{state}");
}

#[test]
fn own_endpoints_answer_404_and_405_with_allow_and_journal_them() {
    let r = Recmon::start(&[]);
    struct Case {
        method: &'static str,
        path: &'static str,
        status: u16,
        allow: Option<&'static str>,
        error: &'static str,
    }
    let cases = [
        Case {
            method: "GET",
            path: "/api/other",
            status: 404,
            allow: None,
            error: "unknown API path",
        },
        Case {
            method: "GET",
            path: "/api",
            status: 404,
            allow: None,
            error: "unknown API path",
        },
        Case {
            method: "POST",
            path: "/api/state",
            status: 405,
            allow: Some("GET, HEAD"),
            error: "method POST not allowed on /api/state",
        },
        Case {
            method: "DELETE",
            path: "/healthz",
            status: 405,
            allow: Some("GET, HEAD"),
            error: "method DELETE not allowed on /healthz",
        },
        Case {
            method: "PUT",
            path: "/recmon",
            status: 405,
            allow: Some("GET, POST"),
            error: "method not allowed",
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        let raw = format!(
            "{} {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            c.method, c.path
        );
        let resp = raw_exchange(r.addr, raw.as_bytes());
        let (status, body) = parse_response(&resp).expect("an answer");
        assert_eq!(status, c.status, "{} {}: {resp}", c.method, c.path);
        assert!(body.contains(c.error), "{} {}: {body}", c.method, c.path);
        assert_eq!(header(&resp, "allow"), c.allow, "{} {}", c.method, c.path);
        let lines = r.journal_lines();
        assert_eq!(lines.len(), i + 1, "{} {} journaled", c.method, c.path);
        let line = &lines[i];
        assert_eq!(line["outcome"], "rejected", "{line}");
        assert_eq!(line["status"], c.status, "{line}");
        assert_eq!(line["method"], c.method, "{line}");
        assert_eq!(line["path"], c.path, "{line}");
        assert!(line["error"].as_str().unwrap().contains(c.error), "{line}");
    }
    // A successful read of recmon's own endpoints is not a callback: not journaled.
    assert_eq!(r.get("/healthz").0, 200);
    assert_eq!(r.get("/api/state").0, 200);
    let (status, _) = request(r.addr, "HEAD", "/api/state", &[], b"");
    assert_eq!(status, 200);
    assert_eq!(r.journal_lines().len(), cases.len());
    assert_eq!(r.state()["requests"]["rejected"], cases.len() as u64);
}

/// Runs `recmon ARGS` to its end (within `limit`); returns its exit code and stderr.
fn run_recmon(args: &[&str], limit: Duration) -> (Option<i32>, String) {
    let mut child = Command::new(bin())
        .args(args)
        .env_remove("RECMON_AUTH_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn recmon");
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = wait_timeout(&mut child, limit).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("recmon {args:?} did not end within {limit:?}")
    });
    (status.code(), reader.join().unwrap())
}

/// Starts `recmon ARGS` with stderr piped, reads its first stderr line, then closes the pipe
/// as `head -1` does. Returns the line and how the process ended (within `limit`).
fn close_stderr_after_first_line(args: &[&str], limit: Duration) -> (String, Option<i32>) {
    let mut child = Command::new(bin())
        .args(args)
        .env_remove("RECMON_AUTH_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn recmon");
    let mut first = String::new();
    {
        let mut err = BufReader::new(child.stderr.take().unwrap());
        err.read_line(&mut first).unwrap();
        // Dropped here: the only reader of the pipe is gone.
    }
    let status = wait_timeout(&mut child, limit).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("recmon {args:?} kept running {limit:?} after its stderr was closed")
    });
    (first, status.code())
}

#[test]
fn simulate_stops_quietly_with_exit_0_when_its_output_pipe_closes() {
    let r = Recmon::start(&["--fsync", "never"]);
    let to = format!("http://{}", r.addr);
    let count = 200_000;
    let (first, code) = close_stderr_after_first_line(
        &[
            "simulate",
            "--to",
            &to,
            "--rate",
            "max",
            "--count",
            &count.to_string(),
        ],
        Duration::from_secs(60),
    );
    assert!(
        first.starts_with("recmon simulate: 3 streams on 1 domain"),
        "{first}"
    );
    // Not 101 (a panic on EPIPE): the normal code for what was sent, all answered 200.
    assert_eq!(code, Some(0));
    // It stopped sending when nobody read its report any more, far short of the count.
    let sent = r.state()["requests"]["accepted"].as_u64().unwrap()
        + r.state()["requests"]["duplicate"].as_u64().unwrap();
    assert!(sent < count, "sent all {sent}");
}

#[test]
fn replay_stops_quietly_when_its_output_pipe_closes() {
    let source = Recmon::start(&["--fsync", "never"]);
    let (code, err) = run_recmon(
        &[
            "simulate",
            "--to",
            &format!("http://{}", source.addr),
            "--rate",
            "max",
            "--count",
            "300",
            "--seed",
            "5",
        ],
        Duration::from_secs(120),
    );
    assert_eq!(code, Some(0), "{err}");
    let target = Recmon::start(&["--fsync", "never"]);
    let (first, code) = close_stderr_after_first_line(
        &[
            "replay",
            source.journal.to_str().unwrap(),
            "--to",
            &format!("http://{}", target.addr),
            "--speed",
            "max",
        ],
        Duration::from_secs(60),
    );
    assert!(first.starts_with("recmon replay: "), "{first}");
    assert_eq!(code, Some(0));
}

#[test]
fn headless_shuts_down_gracefully_when_stdout_is_closed_without_another_request() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let mut child = Command::new(bin())
        .args(["--headless", "--listen", "127.0.0.1:0", "--journal"])
        .arg(&journal)
        .env_remove("RECMON_LISTEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn recmon");
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if let Some(a) = line.strip_prefix("recmon: listening on http://") {
                let _ = tx.send(a.trim().to_string());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let addr = rx.recv_timeout(Duration::from_secs(20)).expect("started");
    let addr = addr.parse().unwrap();
    // `| head -2`: read two request lines, then close the pipe.
    {
        let mut out = BufReader::new(child.stdout.take().unwrap());
        for stream in ["one", "two"] {
            let (status, body) = request(
                addr,
                "POST",
                "/cb",
                &[],
                STATUS_SAMPLE.replace("gs_stream", stream).as_bytes(),
            );
            assert_eq!(status, 200, "{body}");
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            assert!(line.contains(stream), "{line}");
        }
    }
    // No further request: recmon notices the closed pipe by itself and stops like SIGTERM.
    let started = Instant::now();
    let status = wait_timeout(&mut child, Duration::from_secs(30)).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("recmon kept running after its stdout was closed")
    });
    assert_eq!(status.code(), Some(0), "after {:?}", started.elapsed());
    let err = stderr.join().unwrap();
    assert!(
        err.contains("recmon: stdout was closed (its reader exited); shutting down"),
        "{err}"
    );
    assert!(err.contains("recmon: stopped."), "{err}");
    let lines = journal_lines(&journal);
    assert_eq!(lines.len(), 2, "journal synced with both requests");
}

#[test]
fn simulate_count_0_reads_right() {
    let r = Recmon::start(&[]);
    let (code, err) = run_recmon(
        &[
            "simulate",
            "--to",
            &format!("http://{}", r.addr),
            "--count",
            "0",
            "--streams",
            "1",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("recmon simulate: 1 stream on 1 domain ->"),
        "{err}"
    );
    assert!(err.contains(", 0 requests)"), "{err}");
    assert!(err.contains("recmon simulate: sent 0 requests\n"), "{err}");
    assert!(!err.contains("(s)"), "{err}");
}

#[test]
fn replay_summary_says_what_the_receiver_counted_as_duplicates() {
    let source = Recmon::start(&[]);
    for _ in 0..2 {
        assert_eq!(source.post("/cb", RECORDING_SAMPLE).0, 200);
    }
    assert_eq!(source.post("/cb", STATUS_SAMPLE).0, 200);
    let target = Recmon::start(&[]);
    let replay = |extra: &[&str]| {
        let mut args = vec!["replay", source.journal.to_str().unwrap(), "--to"];
        let to = format!("http://{}", target.addr);
        args.push(&to);
        args.extend(["--speed", "max"]);
        args.extend(extra);
        let (code, err) = run_recmon(&args, Duration::from_secs(60));
        assert_eq!(code, Some(0), "{err}");
        err
    };
    // The journal's retry, resent too: the receiver takes it for a duplicate again.
    let err = replay(&["--with-duplicates"]);
    assert!(err.contains("resent 3 requests to"), "{err}");
    assert!(
        err.contains("answers: 200 ×3; the receiver counted 2 accepted, 1 duplicate;"),
        "{err}"
    );
    // Everything again: the receiver already has it all.
    let err = replay(&[]);
    assert!(err.contains("resent 2 requests to"), "{err}");
    assert!(err.contains("1 journal entry not resent"), "{err}");
    assert!(
        err.contains("answers: 200 ×2; the receiver counted 2 duplicates;"),
        "{err}"
    );
}

/// docs/journal.md (What is journaled, and when): what recmon answers itself is journaled before the
/// answer; what hyper's parser refuses on its own is journaled right after hyper's answer.
#[test]
fn journaled_before_the_answer_except_what_the_http_parser_refuses_itself() {
    let r = Recmon::start(&[]);
    // Answered by recmon: the line is on disk when the answer arrives (read at once, no wait).
    let answered: [(&str, &str, u16, &str); 4] = [
        ("POST", RECORDING_SAMPLE, 200, "accepted"),
        ("POST", RECORDING_SAMPLE, 200, "duplicate"),
        ("POST", "{not json", 400, "rejected"),
        ("PUT", "{}", 405, "rejected"),
    ];
    for (i, (method, body, status, outcome)) in answered.iter().enumerate() {
        let (got, text) = request(r.addr, method, "/cb", &[], body.as_bytes());
        assert_eq!(got, *status, "{text}");
        let lines = r.journal_lines();
        assert_eq!(
            lines.len(),
            i + 1,
            "line {} missing when the answer came",
            i + 1
        );
        assert_eq!(lines[i]["outcome"], *outcome);
        assert_eq!(lines[i]["status"], *status);
        assert_eq!(lines[i]["method"], *method);
    }
    // Refused by hyper's parser: hyper's 400 comes first, the line follows.
    let resp = raw_exchange(
        r.addr,
        b"POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    );
    assert_eq!(parse_response(&resp).map(|r| r.0), Some(400), "{resp}");
    let start = Instant::now();
    let line = loop {
        let lines = r.journal_lines();
        if lines.len() > answered.len() {
            break lines[answered.len()].clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the refused request was never journaled"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(line["status"], 400, "{line}");
    assert_eq!(line["outcome"], "rejected");
    assert_eq!(line["method"], "-");
    assert_eq!(line["path"], "-");
    assert!(
        line["error"]
            .as_str()
            .unwrap()
            .starts_with("malformed HTTP request: "),
        "{line}"
    );
}

/// Provider times at the ends of i64 are accepted and shown, not an overflow: the process
/// keeps serving (a debug build used to panic in the store on `stop − start`).
#[test]
fn extreme_start_and_stop_times_do_not_take_the_receiver_down() {
    let mut r = Recmon::start(&[]);
    let body = r#"{"domain":"d","app":"a","stream":"s","uri":"a/s/0.flv","start_time":-9223372036854775808,"stop_time":9223372036854775807}"#;
    let (status, answer) = r.post("/cb", body);
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = r.post("/cb", STATUS_SAMPLE);
    assert_eq!(status, 200, "{answer}");
    let (code, _, err) = r.stop();
    assert!(code.success(), "{err}");
}
