//! `GET /api/events` over real loopback HTTP against the real binary: catch-up plus live equals
//! the journal byte for byte, `Last-Event-ID` / `?after=`, access like `/api/state`, a
//! subscriber that never reads while 100k callbacks arrive, 50 subscribers, keep-alive,
//! shutdown with subscribers connected, and connection slots.
//!
//! The SSE stream is read with a raw TCP client (de-chunking the HTTP/1.1 body itself), so
//! what is checked is exactly what goes over the wire.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// How long any one wait may take before a test fails: generous, it only bounds how long a
/// broken build takes to fail on a loaded machine.
const CEILING: Duration = Duration::from_secs(120);

/// One Server-Sent Event (or comment) as received.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    id: Option<String>,
    event: String,
    data: String,
    comment: Option<String>,
}

/// A raw `GET /api/events` client.
struct Sse {
    stream: TcpStream,
    status: u16,
    head: String,
    raw: Vec<u8>,
    /// The de-chunked body not yet parsed into events.
    body: Vec<u8>,
    /// Bytes left in the current chunk, or `None` between chunks.
    chunk_left: Option<usize>,
    /// The terminating chunk arrived, or the connection closed.
    ended: bool,
}

impl Sse {
    /// Connects and sends the request; reads nothing.
    fn open(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> Sse {
        let mut stream = TcpStream::connect(addr).expect("connect");
        let mut req =
            format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).unwrap();
        Sse {
            stream,
            status: 0,
            head: String::new(),
            raw: Vec::new(),
            body: Vec::new(),
            chunk_left: None,
            ended: false,
        }
    }

    /// Connects and reads the response head; panics unless it is a 200 event stream.
    fn connect(addr: SocketAddr, target: &str, headers: &[(&str, &str)]) -> Sse {
        let mut s = Sse::open(addr, target, headers);
        s.read_head();
        assert_eq!(s.status, 200, "{}", s.head);
        assert!(
            s.head
                .to_ascii_lowercase()
                .contains("content-type: text/event-stream"),
            "{}",
            s.head
        );
        s
    }

    /// Reads more bytes (false at the end of the connection).
    fn fill(&mut self, deadline: Instant) -> bool {
        let mut buf = [0u8; 65536];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "nothing more from the stream within {CEILING:?}"
            );
            self.stream.set_read_timeout(Some(left)).unwrap();
            match self.stream.read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => {
                    self.raw.extend_from_slice(&buf[..n]);
                    return true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return false,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => panic!("reading the stream: {e}"),
            }
        }
    }

    fn read_head(&mut self) {
        let deadline = Instant::now() + CEILING;
        loop {
            if let Some(end) = find(&self.raw, b"\r\n\r\n") {
                self.head = String::from_utf8_lossy(&self.raw[..end]).into_owned();
                self.raw.drain(..end + 4);
                self.status = self.head.split(' ').nth(1).unwrap().parse().unwrap();
                return;
            }
            assert!(
                self.fill(deadline),
                "closed before the head: {:?}",
                self.raw
            );
        }
    }

    /// Moves whole chunks' data from `raw` to `body`.
    fn dechunk(&mut self) {
        loop {
            match self.chunk_left {
                Some(0) => {
                    if self.raw.len() < 2 {
                        return;
                    }
                    assert_eq!(&self.raw[..2], b"\r\n", "chunk not ended by CRLF");
                    self.raw.drain(..2);
                    self.chunk_left = None;
                }
                Some(n) => {
                    let take = n.min(self.raw.len());
                    if take == 0 {
                        return;
                    }
                    self.body.extend(self.raw.drain(..take));
                    self.chunk_left = Some(n - take);
                }
                None => {
                    let Some(eol) = find(&self.raw, b"\r\n") else {
                        return;
                    };
                    let line = std::str::from_utf8(&self.raw[..eol]).unwrap();
                    let size = usize::from_str_radix(line.split(';').next().unwrap().trim(), 16)
                        .unwrap_or_else(|_| panic!("bad chunk size line {line:?}"));
                    self.raw.drain(..eol + 2);
                    if size == 0 {
                        self.ended = true;
                        return;
                    }
                    self.chunk_left = Some(size);
                }
            }
        }
    }

    /// The next event, or `None` once the stream has ended.
    fn next_event(&mut self) -> Option<Event> {
        let deadline = Instant::now() + CEILING;
        loop {
            self.dechunk();
            if let Some(end) = find(&self.body, b"\n\n") {
                let block = String::from_utf8(self.body.drain(..end + 2).collect())
                    .expect("events are UTF-8");
                let mut ev = Event {
                    id: None,
                    event: "message".into(),
                    data: String::new(),
                    comment: None,
                };
                for line in block.trim_end_matches('\n').split('\n') {
                    if let Some(c) = line.strip_prefix(':') {
                        ev.comment = Some(c.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        ev.id = Some(v.to_string());
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        ev.event = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        assert!(ev.data.is_empty(), "one data line per event: {block:?}");
                        ev.data = v.to_string();
                    } else {
                        panic!("unexpected line {line:?} in {block:?}");
                    }
                }
                return Some(ev);
            }
            if self.ended {
                assert!(
                    self.body.is_empty(),
                    "a partial event at the end: {:?}",
                    self.body
                );
                return None;
            }
            if !self.fill(deadline) {
                self.ended = true;
            }
        }
    }

    /// The `hello` event's facts (the first event).
    fn hello(&mut self) -> serde_json::Value {
        let ev = self.next_event().expect("a hello");
        assert_eq!(ev.event, "hello", "{ev:?}");
        serde_json::from_str(&ev.data).unwrap()
    }

    /// Entries (seq, line) until one with seq >= `upto`, skipping comments; panics on any
    /// other event or an early end.
    fn entries_until(&mut self, upto: u64) -> Vec<(u64, String)> {
        let mut got: Vec<(u64, String)> = Vec::new();
        while got.last().is_none_or(|e| e.0 < upto) {
            let ev = self.next_event().unwrap_or_else(|| {
                panic!(
                    "the stream ended at {:?}, before seq {upto}",
                    got.last().map(|e| e.0)
                )
            });
            // Alerts firing and resolving come between the entries (live only): a consumer
            // of entries passes them by, as it does any event type it does not know.
            if ev.comment.is_some() || ev.event == "alert" {
                continue;
            }
            assert_eq!(ev.event, "entry", "{ev:?}");
            let seq: u64 = ev.id.as_deref().expect("an id").parse().unwrap();
            let line: serde_json::Value = serde_json::from_str(&ev.data).unwrap();
            assert_eq!(line["seq"], seq, "the id is the entry's seq");
            got.push((seq, ev.data));
        }
        got
    }
}

/// Request headers as (name, value) pairs.
type Headers<'a> = &'a [(&'a str, &'a str)];

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The journal's complete lines, as text.
fn journal_text_lines(r: &Recmon) -> Vec<String> {
    let text = std::fs::read_to_string(&r.journal).unwrap();
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete.lines().map(str::to_string).collect()
}

/// Entries seq `from..=to`, each once, in order, each the journal's line exactly.
fn assert_every_entry_once(got: &[(u64, String)], from: u64, to: u64, journal: &[String]) {
    let seqs: Vec<u64> = got.iter().map(|e| e.0).collect();
    if seqs != (from..=to).collect::<Vec<_>>() {
        let repeats = seqs.windows(2).filter(|w| w[1] <= w[0]).count();
        let gaps = seqs.windows(2).filter(|w| w[1] > w[0] + 1).count();
        panic!(
            "expected seq {from}..={to} each once in order; got {} entries from {:?} to {:?}, {repeats} out of order or repeated, {gaps} gaps",
            seqs.len(),
            seqs.first(),
            seqs.last()
        );
    }
    for (seq, line) in got {
        assert!(
            journal[*seq as usize - 1] == *line,
            "seq {seq} differs from its journal line"
        );
    }
}

fn bench_bin() -> &'static str {
    env!("CARGO_BIN_EXE_recmon-bench")
}

/// Sends `count` callbacks with `recmon-bench load` and checks every one was answered 200.
fn load(r: &Recmon, count: u64, connections: usize) -> serde_json::Value {
    let out = Command::new(bench_bin())
        .args(["load", "--to", &r.addr.to_string(), "--connections"])
        .arg(connections.to_string())
        .args(["--count", &count.to_string(), "--dup-every", "10"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(
        report["statuses"]["200"], count,
        "every callback answered 200: {report}"
    );
    report
}

/// A field of /proc/PID/status in KiB (VmRSS, VmHWM).
fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

#[test]
fn catch_up_then_live_equals_the_journal_byte_for_byte() {
    // The journal holds the load's callbacks only: no alert lines (the load's short files
    // and mismatched durations would fire some).
    let r = Recmon::start(&["--no-alerts"]);
    // More than the feed keeps in memory, so the start comes from the journal file.
    let before = 20_000;
    load(&r, before, 16);
    assert_eq!(r.post("/cb", "not json").0, 400);
    let before = before + 1;
    r.wait_journal_lines(before as usize);

    let mut sub = Sse::connect(r.addr, "/api/events", &[]);
    let hello = sub.hello();
    assert_eq!(hello["version"], env!("CARGO_PKG_VERSION"), "{hello}");
    assert_eq!(hello["listen"], r.addr.to_string(), "{hello}");
    assert_eq!(hello["journal"], r.journal.display().to_string(), "{hello}");
    assert_eq!(hello["signature_checking"], false, "{hello}");
    assert_eq!(hello["last_seq"], before, "{hello}");
    let started = hello["started_at"].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(started).unwrap();
    let mut got = sub.entries_until(before);

    // Live: callbacks (and a refusal) while the subscriber follows.
    let live = 300;
    for i in 0..live {
        let (status, _) = if i % 50 == 0 {
            r.post("/cb", "{broken")
        } else {
            r.post(
                "/cb",
                &format!(
                    r#"{{"domain":"d","app":"a","stream":"live{i}","event":"record_started"}}"#
                ),
            )
        };
        assert!(status == 200 || status == 400);
    }
    got.extend(sub.entries_until(before + live));

    let journal = std::fs::read_to_string(&r.journal).unwrap();
    let streamed: String = got.iter().map(|(_, l)| format!("{l}\n")).collect();
    assert!(
        streamed == journal,
        "the streamed lines differ from the journal ({} vs {} bytes)",
        streamed.len(),
        journal.len()
    );
    assert_every_entry_once(&got, 1, before + live, &journal_text_lines(&r));
}

#[test]
fn last_event_id_and_after_choose_the_start_and_bad_values_are_refused() {
    let r = Recmon::start(&[]);
    for i in 0..30 {
        let body =
            format!(r#"{{"domain":"d","app":"a","stream":"s{i}","event":"record_started"}}"#);
        assert_eq!(r.post("/cb", &body).0, 200);
    }
    let journal = journal_text_lines(&r);
    let cases: [(&str, Headers, u64); 5] = [
        ("/api/events?after=10", &[], 11),
        ("/api/events?after=0", &[], 1),
        ("/api/events?after=5", &[("Last-Event-ID", "20")], 21),
        // The header wins, even over a query that would be refused alone.
        ("/api/events?after=abc", &[("Last-Event-ID", "25")], 26),
        ("/api/events", &[("Last-Event-ID", "29")], 30),
    ];
    for (target, headers, first) in cases {
        let mut sub = Sse::connect(r.addr, target, headers);
        assert_eq!(sub.hello()["last_seq"], 30);
        let got = sub.entries_until(30);
        assert_every_entry_once(&got, first, 30, &journal);
    }

    let bad: [(&str, Headers); 4] = [
        ("/api/events?after=abc", &[]),
        ("/api/events?after=-1", &[]),
        ("/api/events", &[("Last-Event-ID", "x")]),
        ("/api/events?after=3", &[("Last-Event-ID", "1.5")]),
    ];
    for (target, headers) in bad {
        let (status, body) = request(r.addr, "GET", target, headers, b"");
        assert_eq!(status, 400, "{target} {headers:?}: {body}");
        assert!(body.contains("whole number"), "{body}");
    }
    let lines = r.wait_journal_lines(34);
    let refused: Vec<_> = lines[30..].iter().collect();
    assert_eq!(refused.len(), 4, "{refused:?}");
    for l in refused {
        assert_eq!(l["status"], 400, "{l}");
        assert_eq!(l["outcome"], "rejected", "{l}");
        assert!(
            l["path"].as_str().unwrap().starts_with("/api/events"),
            "{l}"
        );
    }
}

#[test]
fn the_api_token_guards_the_feed_and_refusals_are_journaled() {
    let r = Recmon::start(&["--api-token", "s3cret"]);
    let (status, body) = request(r.addr, "GET", "/api/events", &[], b"");
    assert_eq!(status, 401, "{body}");
    let wrong = [("Authorization", "Bearer nope")];
    assert_eq!(request(r.addr, "GET", "/api/events", &wrong, b"").0, 401);
    let lines = r.wait_journal_lines(2);
    for l in &lines {
        assert_eq!(l["status"], 401, "{l}");
        assert_eq!(l["path"], "/api/events", "{l}");
    }
    let token = [("Authorization", "Bearer s3cret")];
    let mut sub = Sse::connect(r.addr, "/api/events", &token);
    assert_eq!(sub.hello()["last_seq"], 2);
    // The refusals are journal entries like any other: the feed carries them.
    assert_every_entry_once(&sub.entries_until(2), 1, 2, &journal_text_lines(&r));

    // Without a token the feed answers loopback clients only; with one, anyone holding it.
    let Some(ip) = non_loopback_ipv4().into_iter().next() else {
        skip_unless_ci(
            "this machine has no non-loopback IPv4 address, so the feed's loopback-only rule \
             could not be tested over a real non-loopback connection",
        );
        return;
    };
    let open = Recmon::start(&["--listen", "0.0.0.0:0"]);
    let outside = SocketAddr::new(ip.into(), open.addr.port());
    let (status, body) = request(outside, "GET", "/api/events", &[], b"");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("loopback clients only"), "{body}");
    let lines = open.wait_journal_lines(1);
    assert_eq!(lines[0]["status"], 403);
    assert_eq!(lines[0]["path"], "/api/events");
    let mut sub = Sse::connect(open.addr, "/api/events", &[]);
    sub.hello();
    assert_eq!(sub.entries_until(1)[0].0, 1);

    let guarded = Recmon::start(&["--listen", "0.0.0.0:0", "--api-token", "s3cret"]);
    let outside = SocketAddr::new(ip.into(), guarded.addr.port());
    assert_eq!(request(outside, "GET", "/api/events", &[], b"").0, 401);
    let mut sub = Sse::connect(outside, "/api/events", &token);
    assert_eq!(sub.hello()["last_seq"], 1);
}

fn load_count() -> u64 {
    std::env::var("RECMON_EVENTS_LOAD_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

#[test]
fn a_subscriber_that_never_reads_costs_bounded_memory_and_gets_every_entry_once_it_reads() {
    // The journal holds the load's callbacks only: no alert lines (the load's short files
    // and mismatched durations would fire some).
    let r = Recmon::start(&["--no-alerts"]);
    let pid = r.child.id();
    // Warm-up: the allocator's pools, the store's first streams, a first subscriber.
    let warm = 5_000;
    load(&r, warm, 64);
    let mut warm_sub = Sse::connect(r.addr, "/api/events", &[]);
    warm_sub.hello();
    warm_sub.entries_until(warm);
    drop(warm_sub);
    let base_kib = proc_kib(pid, "VmRSS");

    // Never reads, not even the response head.
    let mut stalled = Sse::open(r.addr, "/api/events", &[]);
    // Reads the start, then stops reading; later reconnects with Last-Event-ID.
    let mut paused = Sse::connect(r.addr, "/api/events", &[]);
    paused.hello();
    let seen = paused.entries_until(100);
    let last_seen = seen.last().unwrap().0;

    let count = load_count();
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(proc_kib(pid, "VmRSS"));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        })
    };
    let started = Instant::now();
    load(&r, count, 64);
    let load_took = started.elapsed();
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak_kib = sampler.join().unwrap().max(proc_kib(pid, "VmRSS"));
    let total = warm + count;
    r.wait_journal_lines(total as usize);
    let growth_mib = peak_kib.saturating_sub(base_kib) as f64 / 1024.0;
    eprintln!(
        "MEASURED: {count} callbacks in {load_took:?} ({:.0}/s) with a stalled subscriber; RSS after warm-up {:.1} MiB, peak {:.1} MiB, growth {growth_mib:.1} MiB",
        count as f64 / load_took.as_secs_f64(),
        base_kib as f64 / 1024.0,
        peak_kib as f64 / 1024.0
    );
    assert!(
        growth_mib < 64.0,
        "RSS grew by {growth_mib:.1} MiB (from {base_kib} KiB to {peak_kib} KiB) with a stalled subscriber"
    );

    let journal = journal_text_lines(&r);
    assert_eq!(journal.len() as u64, total);
    // The stalled subscriber starts reading: everything, each once, in order.
    let started = Instant::now();
    stalled.read_head();
    assert_eq!(stalled.status, 200);
    stalled.hello();
    let got = stalled.entries_until(total);
    eprintln!(
        "MEASURED: the stalled subscriber got {} entries in {:?} once it read",
        got.len(),
        started.elapsed()
    );
    assert_every_entry_once(&got, 1, total, &journal);

    // The paused one gives up its connection and resumes after what it saw.
    drop(paused);
    let started = Instant::now();
    let id = last_seen.to_string();
    let mut resumed = Sse::connect(r.addr, "/api/events", &[("Last-Event-ID", &id)]);
    resumed.hello();
    let got = resumed.entries_until(total);
    eprintln!(
        "MEASURED: the reconnecting subscriber got {} entries in {:?}",
        got.len(),
        started.elapsed()
    );
    assert_every_entry_once(&got, last_seen + 1, total, &journal);
}

#[test]
fn fifty_subscribers_each_get_every_entry_in_order_and_the_api_still_answers() {
    // Each subscriber holds a connection slot: 50 of them, plus 2 for callbacks and reads.
    let r = Recmon::start(&[
        "--no-alerts",
        "--max-connections",
        "52",
        "--keep-alive-secs",
        "1",
    ]);
    let (tx, rx) = std::sync::mpsc::channel();
    let count = 3_000u64;
    let readers: Vec<_> = (0..50)
        .map(|_| {
            let addr = r.addr;
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut sub = Sse::connect(addr, "/api/events", &[]);
                sub.hello();
                tx.send(()).unwrap();
                sub.entries_until(count)
            })
        })
        .collect();
    for _ in 0..50 {
        rx.recv_timeout(CEILING).expect("50 subscribers connected");
    }
    assert_eq!(r.get("/healthz").0, 200);
    assert_eq!(r.state()["last_seq"], 0);
    load(&r, count, 2);
    let journal = journal_text_lines(&r);
    for reader in readers {
        assert_every_entry_once(&reader.join().unwrap(), 1, count, &journal);
    }
    assert_eq!(r.state()["last_seq"], count);

    // The slots are counted: with 52 streams open, the next request waits for one to end.
    let extra: Vec<Sse> = (0..52)
        .map(|_| {
            let mut s = Sse::connect(r.addr, "/api/events?after=3000", &[]);
            s.hello();
            s
        })
        .collect::<Vec<_>>();
    let mut waiting = TcpStream::connect(r.addr).unwrap();
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    waiting
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let mut buf = [0u8; 256];
    assert!(
        waiting.read(&mut buf).is_err(),
        "a 53rd connection was served while 52 streams held every slot"
    );
    drop(extra);
    // The closed streams free their slots (noticed at the next keep-alive at the latest).
    let answer = read_until_closed(&mut waiting, CEILING).expect("healthz answered");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn an_idle_stream_gets_keep_alive_comments() {
    let r = Recmon::start(&["--keep-alive-secs", "1"]);
    let mut sub = Sse::connect(r.addr, "/api/events", &[]);
    sub.hello();
    let started = Instant::now();
    let ev = sub.next_event().unwrap();
    assert_eq!(ev.comment.as_deref(), Some("keep-alive"), "{ev:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the first keep-alive took {:?} with --keep-alive-secs 1",
        started.elapsed()
    );
    // Entries still come after keep-alives.
    assert_eq!(r.post("/cb", STATUS_SAMPLE).0, 200);
    assert_eq!(sub.entries_until(1)[0].0, 1);
    let ev = sub.next_event().unwrap();
    assert_eq!(ev.comment.as_deref(), Some("keep-alive"), "{ev:?}");
}

#[test]
fn sigterm_with_subscribers_connected_ends_promptly_with_the_summary() {
    // The journal holds the load's callbacks only: no alert lines (the load's short files
    // and mismatched durations would fire some).
    let mut r = Recmon::start(&["--no-alerts"]);
    let count = 30_000;
    load(&r, count, 16);
    // One subscriber never reads (its socket buffers fill and the server's write waits);
    // three read to the end.
    let _stalled = Sse::open(r.addr, "/api/events", &[]);
    let (tx, rx) = std::sync::mpsc::channel();
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let addr = r.addr;
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut sub = Sse::connect(addr, "/api/events", &[]);
                sub.hello();
                sub.entries_until(count);
                tx.send(()).unwrap();
                // Then the stream ends at shutdown (keep-alives may come first).
                while let Some(ev) = sub.next_event() {
                    assert!(ev.comment.is_some(), "after the last entry: {ev:?}");
                }
                Instant::now()
            })
        })
        .collect();
    // The readers have everything; the stalled one had as long to fill its buffers.
    for _ in 0..3 {
        rx.recv_timeout(CEILING)
            .expect("the readers got every entry");
    }
    let started = Instant::now();
    let (status, _, err) = r.stop();
    let took = started.elapsed();
    eprintln!("MEASURED: exit {took:?} after SIGTERM with 4 subscribers connected");
    assert!(status.success(), "{status:?}\n{err}");
    assert!(err.contains("recmon: stopped."), "no exit summary:\n{err}");
    assert!(
        took < Duration::from_secs(5),
        "recmon took {took:?} to exit with subscribers connected (the listener's grace is 10 s)"
    );
    for reader in readers {
        let ended = reader.join().unwrap();
        assert!(ended.duration_since(started) < Duration::from_secs(5));
    }
}

// ---- The hello's journal id and alert thresholds; `event: alert` (issue 20) ----

#[test]
fn the_hello_says_which_journal_and_which_alert_thresholds_and_an_alert_is_sent_as_it_fires() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let mut r = Recmon::start_in(
        dir.path(),
        &journal,
        &[
            "--alert-paused",
            "1s",
            "--alert-gap",
            "0",
            "--alert-silence",
            "90s",
            "--alert-exec",
            "/bin/true",
        ],
    );
    let mut sub = Sse::connect(r.addr, "/api/events", &[]);
    let hello = sub.hello();
    let id = hello["journal_id"]
        .as_str()
        .expect("a journal id")
        .to_string();
    assert!(id.starts_with("j-") || id.starts_with("f-"), "{hello}");
    let alerts = &hello["alerts"];
    assert_eq!(alerts["paused_s"], 1.0, "{hello}");
    assert!(alerts["gap_s"].is_null(), "a rule that is off: {hello}");
    assert_eq!(alerts["silence_s"], 90.0, "{hello}");
    assert_eq!(alerts["not_recording_s"], 120.0, "the default: {hello}");
    // Where alerts are sent is never said.
    assert!(!hello.to_string().contains("/bin/true"), "{hello}");

    let body = r#"{"domain":"d.example","app":"live","stream":"cam","event":"record_paused"}"#;
    assert_eq!(r.post("/cb", body).0, 200);
    let alert = loop {
        let ev = sub.next_event().expect("the stream goes on");
        if ev.event == "alert" {
            break serde_json::from_str::<serde_json::Value>(&ev.data).unwrap();
        }
        assert!(
            ev.comment.is_some() || ev.event == "entry",
            "an unexpected event: {ev:?}"
        );
    };
    assert_eq!(alert["rule"], "paused_too_long", "{alert}");
    assert_eq!(alert["state"], "firing", "{alert}");
    assert_eq!(alert["stream"], "d.example/live/cam", "{alert}");
    assert!(
        alert["text"]
            .as_str()
            .unwrap()
            .starts_with("recmon: ALERT warning paused_too_long"),
        "{alert}"
    );
    drop(sub);

    // Resumed, the journal is the same one; a new journal at the same path is another.
    r.stop();
    let resume = journal.display().to_string();
    let mut r = Recmon::start_in(dir.path(), &journal, &["--resume", &resume]);
    assert_eq!(
        Sse::connect(r.addr, "/api/events", &[]).hello()["journal_id"],
        id.as_str()
    );
    r.stop();
    std::fs::remove_file(&journal).unwrap();
    let r = Recmon::start_in(dir.path(), &journal, &[]);
    let again = Sse::connect(r.addr, "/api/events", &[]).hello();
    assert_eq!(again["journal"], journal.display().to_string());
    let new_id = again["journal_id"].as_str().expect("a journal id");
    assert_ne!(new_id, id, "a new journal at the same path");
}
