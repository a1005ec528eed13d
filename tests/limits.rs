//! Each listener limit has a flag, a documented default (README), and a test here.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

fn keepalive_request(s: &mut TcpStream, body: &str) -> u16 {
    s.write_all(
        format!(
            "POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    text[9..12].parse().unwrap()
}

/// Reads until EOF; returns how long it took.
fn time_to_close(s: &mut TcpStream) -> Duration {
    let start = Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return start.elapsed(),
            Ok(_) => {}
            Err(e) => panic!("connection not closed: {e}"),
        }
    }
}

#[test]
fn idle_keepalive_connection_is_closed_after_idle_timeout_not_before() {
    let r = Recmon::start(&["--idle-timeout", "2", "--header-timeout", "1"]);
    let mut s = TcpStream::connect(r.addr).unwrap();
    assert_eq!(keepalive_request(&mut s, STATUS_SAMPLE), 200);
    // Idle longer than the header timeout: still open (idle and slow headers are apart).
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(keepalive_request(&mut s, RECORDING_SAMPLE), 200);
    let waited = time_to_close(&mut s);
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(5),
        "closed after {waited:?}"
    );
    // An idle close is not a request: nothing journaled for it.
    assert_eq!(r.journal_lines().len(), 2);
}

#[test]
fn slow_headers_are_cut_at_header_timeout_and_journaled() {
    let r = Recmon::start(&["--header-timeout", "1", "--idle-timeout", "30"]);
    let mut s = TcpStream::connect(r.addr).unwrap();
    s.write_all(b"POST /cb HTTP/1.1\r\nHost: x\r\n").unwrap();
    let waited = time_to_close(&mut s);
    assert!(waited < Duration::from_secs(4), "closed after {waited:?}");
    // The line is written as the connection ends: wait for it, then check there is only one.
    r.wait_journal_lines(1);
    let lines = r.journal_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["status"], 408);
    assert!(lines[0]["error"]
        .as_str()
        .unwrap()
        .contains("--header-timeout"));
}

#[test]
fn slow_body_gets_408_at_request_timeout() {
    let r = Recmon::start(&["--request-timeout", "1"]);
    let mut s = TcpStream::connect(r.addr).unwrap();
    s.write_all(b"POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"domain\":")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let start = Instant::now();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(start.elapsed() < Duration::from_secs(4));
    assert_eq!(parse_response(&out).unwrap().0, 408, "{out}");
    let lines = r.journal_lines();
    assert_eq!(lines[0]["status"], 408);
    assert_eq!(lines[0]["body_text"], "{\"domain\":");
}

#[test]
fn connections_beyond_max_wait_for_a_slot() {
    let r = Recmon::start(&["--max-connections", "2", "--idle-timeout", "30"]);
    let mut a = TcpStream::connect(r.addr).unwrap();
    let mut b = TcpStream::connect(r.addr).unwrap();
    assert_eq!(keepalive_request(&mut a, STATUS_SAMPLE), 200);
    assert_eq!(keepalive_request(&mut b, RECORDING_SAMPLE), 200);
    // A third client connects (kernel backlog) but is not served while both slots are held.
    let mut c = TcpStream::connect(r.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let body = STATUS_SAMPLE.replace("gs_stream", "third");
    c.write_all(
        format!(
            "POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let mut buf = [0u8; 1024];
    assert!(c.read(&mut buf).is_err(), "served beyond --max-connections");
    // Freeing a slot lets it through.
    drop(a);
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = c.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

#[test]
fn max_body_flag_sets_the_413_limit() {
    let r = Recmon::start(&["--max-body", "200"]);
    let body = format!(
        r#"{{"domain":"d","app":"a","stream":"s","event":"{}"}}"#,
        "e".repeat(200)
    );
    assert_eq!(r.post("/cb", &body).0, 413);
    assert_eq!(r.post("/cb", STATUS_SAMPLE).0, 200);
}
