//! Hostile and broken traffic over real sockets. For every case: the documented status, a
//! journal line, and a valid callback served right after. Text that reaches a view is then
//! checked in the rendered screen and the CSV export (see the end of the file).

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use common::*;

/// How a case is sent.
enum Send {
    /// A POST with this body (Connection: close).
    Post(Vec<u8>),
    /// Exactly these bytes; read until the server closes.
    Raw(Vec<u8>),
    /// Custom: returns the statuses it saw.
    Custom(fn(std::net::SocketAddr) -> Vec<u16>),
}

struct Case {
    name: &'static str,
    send: Send,
    /// Statuses expected on the wire (empty: the server closes without an answer).
    statuses: &'static [u16],
    /// Journal lines this case adds, with their statuses.
    journal: &'static [u16],
}

fn post(body: impl Into<Vec<u8>>) -> Send {
    Send::Post(body.into())
}

fn with_field(field: &str, json_value: &str) -> Vec<u8> {
    let mut v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        r#"{"domain":"d.example","app":"live","stream":"s1","uri":"live/s1/0_1_2.flv","duration":10.0,"start_time":100,"stop_time":110,"push_args":{"callback_a":"1"}}"#,
    )
    .unwrap();
    v.remove(field);
    let mut text = serde_json::to_string(&v).unwrap();
    text.pop();
    text.push_str(&format!(r#","{field}":{json_value}}}"#));
    text.into_bytes()
}

fn status_with_event(event_json: &str) -> Vec<u8> {
    format!(r#"{{"domain":"d","app":"a","stream":"s","event":{event_json}}}"#).into_bytes()
}

/// A string field carrying `payload` everywhere text can go.
fn everywhere(payload: &str) -> Vec<u8> {
    let p = serde_json::to_string(payload).unwrap();
    let p = &p[1..p.len() - 1];
    format!(
        r#"{{"domain":"dom{p}","app":"app{p}","stream":"{p}stream","uri":"{p}/live/0_1_2.flv","duration":1,"start_time":1,"stop_time":2,"push_args":{{"callback_{p}":"{p}","callback_x":"{p}value"}}}}"#
    )
    .into_bytes()
}

fn slowloris(addr: std::net::SocketAddr) -> Vec<u16> {
    // Headers trickled one byte every 100 ms: cut at --header-timeout (1 s here), closed
    // without an answer. Between bytes the client listens, so the close is seen when it
    // happens, and anything the server says is caught.
    let mut s = TcpStream::connect(addr).unwrap();
    let start = Instant::now();
    let head = b"POST /cb HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut answer = Vec::new();
    let mut closed = false;
    let mut chunk = [0u8; 4096];
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    for b in head.iter() {
        if start.elapsed() > Duration::from_secs(6) || s.write_all(&[*b]).is_err() {
            break;
        }
        match s.read(&mut chunk) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    if !closed {
        // The writes failed (the server closed first) or the head ran out: the close must
        // still come, and soon.
        let left = Duration::from_secs(6).saturating_sub(start.elapsed());
        match read_until_closed(&mut s, left) {
            Ok(rest) => answer.extend_from_slice(rest.as_bytes()),
            Err((e, rest)) => panic!("slowloris connection was not closed: {e}; got {rest:?}"),
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "slowloris connection was cut only after {:?}",
        start.elapsed()
    );
    assert!(
        answer.is_empty(),
        "slowloris got an answer instead of a close: {:?}",
        String::from_utf8_lossy(&answer)
    );
    vec![]
}

fn half_close_after_request(addr: std::net::SocketAddr) -> Vec<u16> {
    let body = STATUS_SAMPLE.replace("gs_stream", "half-closed");
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(
        format!(
            "POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let out = read_until_closed(&mut s, Duration::from_secs(10))
        .unwrap_or_else(|(e, got)| panic!("half-close after a full request: {e}; got {got:?}"));
    vec![parse_response(&out).map(|r| r.0).unwrap_or(0)]
}

fn half_close_mid_body(addr: std::net::SocketAddr) -> Vec<u16> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"domain\":")
        .unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let out = read_until_closed(&mut s, Duration::from_secs(10))
        .unwrap_or_else(|(e, got)| panic!("half-close mid-body: {e}; got {got:?}"));
    parse_response(&out).map(|r| vec![r.0]).unwrap_or_default()
}

fn pipelined(addr: std::net::SocketAddr) -> Vec<u16> {
    let a = STATUS_SAMPLE.replace("gs_stream", "pipe-1");
    let b = STATUS_SAMPLE.replace("gs_stream", "pipe-2");
    let bytes = format!(
        "POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{a}POST /cb HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{b}",
        a.len(),
        b.len()
    );
    let out = raw_exchange(addr, bytes.as_bytes());
    out.match_indices("HTTP/1.1 ")
        .map(|(i, _)| out[i + 9..i + 12].parse().unwrap())
        .collect()
}

fn chunked_10mb(addr: std::net::SocketAddr) -> Vec<u16> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"POST /cb HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    for _ in 0..160 {
        let head = format!("{:x}\r\n", chunk.len());
        if s.write_all(head.as_bytes()).is_err()
            || s.write_all(&chunk).is_err()
            || s.write_all(b"\r\n").is_err()
        {
            break; // the server stopped reading after the limit: expected
        }
    }
    let out = read_until_closed(&mut s, Duration::from_secs(10))
        .unwrap_or_else(|(e, got)| panic!("10 MB chunked body: {e}; got {got:?}"));
    parse_response(&out).map(|r| vec![r.0]).unwrap_or_default()
}

fn cases() -> Vec<Case> {
    let deep_array = "[".repeat(10_000) + &"]".repeat(10_000);
    let deep_object = r#"{"a":"#.repeat(10_000) + "1" + &"}".repeat(10_000);
    let mega_field = with_field("uri", &format!("\"{}\"", "u".repeat(1_000_000)));
    let ten_mb = vec![b'x'; 10 * 1024 * 1024];
    let many_headers: String = (0..10_000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let mut cases = vec![
        Case { name: "malformed JSON", send: post(r#"{"domain":"d","app":"#), statuses: &[400], journal: &[400] },
        Case { name: "not JSON at all", send: post("domain=d&app=a&stream=s"), statuses: &[400], journal: &[400] },
        Case { name: "empty body", send: post(""), statuses: &[400], journal: &[400] },
        Case { name: "JSON null", send: post("null"), statuses: &[400], journal: &[400] },
        Case { name: "JSON array", send: post("[1,2,3]"), statuses: &[400], journal: &[400] },
        Case { name: "JSON 10,000 arrays deep", send: post(deep_array), statuses: &[400], journal: &[400] },
        Case { name: "JSON 10,000 objects deep", send: post(deep_object), statuses: &[400], journal: &[400] },
        Case { name: "number beyond f64", send: post(with_field("duration", "1e400")), statuses: &[400], journal: &[400] },
        Case { name: "integer beyond i64", send: post(with_field("start_time", "99999999999999999999999")), statuses: &[422], journal: &[422] },
        Case { name: "NaN as text", send: post(with_field("duration", "\"NaN\"")), statuses: &[422], journal: &[422] },
        Case { name: "Infinity as text", send: post(with_field("duration", "\"Infinity\"")), statuses: &[422], journal: &[422] },
        Case { name: "-Infinity as text", send: post(with_field("duration", "\"-inf\"")), statuses: &[422], journal: &[422] },
        Case { name: "NaN bare literal", send: post(with_field("duration", "NaN")), statuses: &[400], journal: &[400] },
        Case { name: "domain wrong type", send: post(with_field("domain", "42")), statuses: &[422], journal: &[422] },
        Case { name: "app wrong type", send: post(with_field("app", "[\"a\"]")), statuses: &[422], journal: &[422] },
        Case { name: "stream wrong type", send: post(with_field("stream", "{}")), statuses: &[422], journal: &[422] },
        Case { name: "uri wrong type", send: post(with_field("uri", "true")), statuses: &[422], journal: &[422] },
        Case { name: "duration wrong type", send: post(with_field("duration", "{\"s\":1}")), statuses: &[422], journal: &[422] },
        Case { name: "start_time wrong type", send: post(with_field("start_time", "false")), statuses: &[422], journal: &[422] },
        Case { name: "stop_time wrong type", send: post(with_field("stop_time", "[1]")), statuses: &[422], journal: &[422] },
        Case { name: "stop_time fractional", send: post(with_field("stop_time", "1.5")), statuses: &[422], journal: &[422] },
        Case { name: "push_args wrong type", send: post(with_field("push_args", "\"callback_a=1\"")), statuses: &[422], journal: &[422] },
        Case { name: "event wrong type", send: post(status_with_event("7")), statuses: &[422], journal: &[422] },
        Case { name: "invalid UTF-8 body", send: post(b"\xff\xfe\xfd garbage".to_vec()), statuses: &[400], journal: &[400] },
        Case { name: "invalid UTF-8 inside a JSON string", send: post(b"{\"domain\":\"\xc3\x28\",\"app\":\"a\",\"stream\":\"s\",\"event\":\"x\"}".to_vec()), statuses: &[400], journal: &[400] },
        Case { name: "lone surrogate escape", send: post(status_with_event("\"\\ud800\"")), statuses: &[400], journal: &[400] },
        Case { name: "1 MB field", send: post(mega_field), statuses: &[413], journal: &[413] },
        Case { name: "10 MB body", send: post(ten_mb), statuses: &[413], journal: &[413] },
        Case { name: "10 MB chunked body", send: Send::Custom(chunked_10mb), statuses: &[413], journal: &[413] },
        Case { name: "10,000 headers", send: Send::Raw(format!("POST /cb HTTP/1.1\r\nHost: x\r\n{many_headers}Connection: close\r\nContent-Length: 0\r\n\r\n").into_bytes()), statuses: &[431], journal: &[431] },
        Case { name: "1 MB header line", send: Send::Raw(format!("POST /cb HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", "a".repeat(1_000_000)).into_bytes()), statuses: &[431], journal: &[431] },
        Case { name: "slowloris", send: Send::Custom(slowloris), statuses: &[], journal: &[408] },
        Case { name: "half-close after a full request", send: Send::Custom(half_close_after_request), statuses: &[200], journal: &[200] },
        Case { name: "half-close mid-body", send: Send::Custom(half_close_mid_body), statuses: &[400], journal: &[400] },
        Case { name: "pipelined requests", send: Send::Custom(pipelined), statuses: &[200, 200], journal: &[200, 200] },
        Case { name: "smuggling: Content-Length and Transfer-Encoding", send: Send::Raw(b"POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled?action=publish HTTP/1.1\r\n\r\n".to_vec()), statuses: &[400], journal: &[400] },
        Case { name: "smuggling: two Content-Lengths", send: Send::Raw(b"POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello!".to_vec()), statuses: &[400], journal: &[400] },
        Case { name: "TLS handshake on the HTTP port", send: Send::Raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec()), statuses: &[400], journal: &[400] },
        Case { name: "non-numeric Content-Length", send: Send::Raw(b"POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\nConnection: close\r\n\r\n".to_vec()), statuses: &[400], journal: &[400] },
        Case { name: "PUT", send: Send::Raw(b"PUT /cb HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}".to_vec()), statuses: &[405], journal: &[405] },
        Case { name: "unknown method", send: Send::Raw(b"BREW /cb HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".to_vec()), statuses: &[405], journal: &[405] },
        Case { name: "GET without action", send: Send::Raw(b"GET /cb?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec()), statuses: &[400], journal: &[400] },
        // httparse refuses C0 controls in header values: the request never reaches recmon's
        // service, and is journaled as a malformed request.
        Case { name: "escape sequences in headers", send: Send::Raw(format!("POST /cb HTTP/1.1\r\nHost: x\r\nUser-Agent: evil\x1b]0;pwned\x07\x1b[2J\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{}", STATUS_SAMPLE.len(), STATUS_SAMPLE).into_bytes()), statuses: &[400], journal: &[400] },
        // Bytes >= 0x80 are legal in header values: C1 controls and bidi overrides in UTF-8
        // get through and must be made inert by the views.
        Case { name: "C1 and bidi in headers", send: Send::Raw(format!("POST /cb HTTP/1.1\r\nHost: x\r\nUser-Agent: ua\u{9b}31m\u{202e}gnp.exe\r\nALI-LIVE-SIGNATURE: \u{85}\u{2066}sig\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{}", STATUS_SAMPLE.len(), STATUS_SAMPLE.replace("gs_stream", "header-c1")).into_bytes()), statuses: &[200], journal: &[200] },
        Case { name: "escape sequences in every field", send: post(everywhere("\x1b[31mred\x1b[0m\x1b]0;title\x07\x1b[2J")), statuses: &[200], journal: &[200] },
        Case { name: "C1 controls in every field", send: post(everywhere("c1\u{9b}31m\u{85}\u{90}x")), statuses: &[200], journal: &[200] },
        Case { name: "bidi overrides in every field", send: post(everywhere("bidi\u{202e}fdp.exe\u{2066}\u{202d}")), statuses: &[200], journal: &[200] },
        Case { name: "zero-width characters in every field", send: post(everywhere("zw\u{200b}\u{200d}\u{feff}\u{2060}x")), statuses: &[200], journal: &[200] },
        Case { name: "NUL and newlines in every field", send: post(everywhere("nul\u{0}line\nbreak\rtab\t")), statuses: &[200], journal: &[200] },
        Case { name: "CSV formula payloads in every field", send: post(everywhere("=HYPERLINK(\"http://evil\",\"x\")")), statuses: &[200], journal: &[200] },
        Case { name: "CSV formula with + and @", send: post(everywhere("+cmd|' /C calc'!A0")), statuses: &[200], journal: &[200] },
        Case { name: "CSV formula with @", send: post(everywhere("@SUM(1+1)*cmd|' /C calc'!A0")), statuses: &[200], journal: &[200] },
        Case { name: "CSV formula with leading minus", send: post(everywhere("-2+3+cmd|' /C calc'!A0")), statuses: &[200], journal: &[200] },
        Case { name: "CSV formula after tab", send: post(everywhere("\t=1+1")), statuses: &[200], journal: &[200] },
        Case { name: "3,000 push_args keys", send: post(format!(r#"{{"domain":"d","app":"a","stream":"many-args","uri":"many.flv","push_args":{{{}}}}}"#, (0..3000).map(|i| format!(r#""callback_{i}":"v""#)).collect::<Vec<_>>().join(","))), statuses: &[200], journal: &[200] },
    ];
    cases.push(Case {
        name: "8 KB path",
        send: Send::Raw(
            format!(
                "POST /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{}",
                "p".repeat(8192),
                STATUS_SAMPLE.len(),
                STATUS_SAMPLE.replace("gs_stream", "long-path")
            )
            .into_bytes(),
        ),
        statuses: &[200],
        journal: &[200],
    });
    cases
}

fn send(addr: std::net::SocketAddr, how: &Send) -> Vec<u16> {
    match how {
        Send::Post(body) => {
            let mut raw = format!(
                "POST /cb HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            raw.extend_from_slice(body);
            vec![parse_response(&raw_exchange(addr, &raw))
                .map(|r| r.0)
                .unwrap_or(0)]
        }
        Send::Raw(bytes) => parse_response(&raw_exchange(addr, bytes))
            .map(|r| vec![r.0])
            .unwrap_or_default(),
        Send::Custom(f) => f(addr),
    }
}

fn wait_for_lines(r: &Recmon, n: usize) -> Vec<serde_json::Value> {
    let start = Instant::now();
    loop {
        let lines = r.journal_lines();
        if lines.len() >= n || start.elapsed() > Duration::from_secs(20) {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn hostile_requests_get_documented_answers_and_are_journaled() {
    let r = Recmon::start(&["--header-timeout", "1", "--request-timeout", "2"]);
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut expected_lines = 0;
    let mut ok_stream = 0;
    for case in &cases {
        let before = expected_lines;
        let got = send(r.addr, &case.send);
        assert_eq!(got, case.statuses, "{}: wrong answer", case.name);

        expected_lines += case.journal.len();
        let lines = wait_for_lines(&r, expected_lines);
        assert_eq!(lines.len(), expected_lines, "{}: journal lines", case.name);
        let statuses: Vec<u64> = lines[before..]
            .iter()
            .map(|l| l["status"].as_u64().unwrap())
            .collect();
        let want: Vec<u64> = case.journal.iter().map(|s| *s as u64).collect();
        assert_eq!(statuses, want, "{}: journaled statuses", case.name);
        for l in &lines[before..] {
            if l["status"] != 200 {
                assert_eq!(l["outcome"], "rejected", "{}", case.name);
                assert!(
                    l["error"].as_str().is_some_and(|e| !e.is_empty()),
                    "{}",
                    case.name
                );
            }
        }

        // Still serving valid callbacks right after.
        ok_stream += 1;
        let valid = STATUS_SAMPLE.replace("gs_stream", &format!("after-{ok_stream}"));
        assert_eq!(
            r.post("/cb", &valid).0,
            200,
            "{}: not serving after",
            case.name
        );
        expected_lines += 1;
    }
    let lines = wait_for_lines(&r, expected_lines);
    assert_eq!(lines.len(), expected_lines);
    // The journal stays one valid JSON object per line however hostile the input.
    let raw = std::fs::read_to_string(&r.journal).unwrap();
    assert_eq!(raw.lines().count(), expected_lines);
    // Text reaching the views is checked by the render and export checks below.
    check_views(&r.journal);
}

/// Where hostile text reaches a view: the rebuilt store renders (headless lines, every panel
/// of the terminal UI, the detail popup of every request) without a raw control character,
/// and the real `recmon export` CSVs hold no control character and no live formula.
fn check_views(journal: &std::path::Path) {
    use recmon::core::dedup::Deduper;
    use recmon::core::rebuild::rebuild;
    use recmon::core::store::Store;
    let mut store = Store::default();
    let mut dedup = Deduper::default();
    let rebuilt = rebuild(journal, &mut store, &mut dedup, |_| {}).unwrap();
    assert!(rebuilt.problems.is_empty(), "{:?}", rebuilt.problems);
    assert!(store.streams().len() > 10);

    let mut printer = recmon::views::headless::Printer::new(false, 0);
    let out = printer.take_new(&store);
    for c in out.stdout.chars() {
        assert!(
            c == '\n' || !recmon::util::sanitize::is_unsafe_char(c),
            "raw {c:?} in headless output"
        );
    }

    check_screens(&store);
    check_csv_exports(journal);
}

fn assert_inert_screen(term: &ratatui::Terminal<ratatui::backend::TestBackend>, what: &str) {
    for cell in term.backend().buffer().content() {
        for c in cell.symbol().chars() {
            assert!(
                !recmon::util::sanitize::is_unsafe_char(c),
                "raw {c:?} on the screen ({what}):\n{}",
                term.backend()
            );
        }
    }
}

fn check_screens(store: &recmon::core::store::Store) {
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::Terminal;
    use recmon::views::tui::theme::Theme;
    use recmon::views::tui::{handle_key, render, HeaderInfo, ViewState};

    let now = chrono::Utc::now();
    let ctx = HeaderInfo {
        listen: "0.0.0.0:8080".parse().unwrap(),
        loopback_only: false,
        signature_checking: false,
        journal_path: Some("journal.jsonl".into()),
        started_at: now,
    };
    let key = |k| KeyEvent::new(k, KeyModifiers::NONE);
    let mut view = ViewState::new(Theme { color: true }, true);
    let mut term = Terminal::new(TestBackend::new(220, 60)).unwrap();
    let mut draw = |view: &mut ViewState, what: &str| {
        term.draw(|f| render(f, store, view, now, &ctx)).unwrap();
        assert_inert_screen(&term, what);
    };
    draw(&mut view, "main screen");
    // Every row of every panel, and the detail popup of each.
    for panel in 0..3 {
        handle_key(&mut view, &key(KeyCode::Home), store, now);
        let rows = match panel {
            0 => store.streams().len(),
            1 => store.recordings().len(),
            _ => store.log().len(),
        };
        for row in 0..rows {
            draw(&mut view, &format!("panel {panel} row {row}"));
            handle_key(&mut view, &key(KeyCode::Enter), store, now);
            draw(&mut view, &format!("detail of panel {panel} row {row}"));
            handle_key(&mut view, &key(KeyCode::Esc), store, now);
            handle_key(&mut view, &key(KeyCode::Down), store, now);
        }
        handle_key(&mut view, &key(KeyCode::Tab), store, now);
    }
}

fn check_csv_exports(journal: &std::path::Path) {
    let dir = journal.parent().unwrap();
    for what in ["events", "recordings", "streams"] {
        let out = dir.join(format!("{what}.csv"));
        let status = std::process::Command::new(bin())
            .args(["export", "--format", "csv", "--what", what, "-o"])
            .arg(&out)
            .arg(journal)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        let mut reader = csv::Reader::from_path(&out).unwrap();
        let headers = reader.headers().unwrap().clone();
        let mut rows = 0;
        for rec in reader.records() {
            let rec = rec.unwrap();
            rows += 1;
            for (name, cell) in headers.iter().zip(rec.iter()) {
                for c in cell.chars() {
                    assert!(
                        !recmon::util::sanitize::is_unsafe_char(c),
                        "{what}.csv column {name}: raw {c:?} in {cell:?}"
                    );
                }
                let live = matches!(cell.chars().next(), Some('=' | '+' | '-' | '@'));
                // A numeric cell may be negative; anything else must not start a formula.
                assert!(
                    !live || cell.parse::<f64>().is_ok(),
                    "{what}.csv column {name}: live formula {cell:?}"
                );
            }
        }
        assert!(rows > 0, "{what}.csv is empty");
    }
}

#[test]
fn the_raw_client_fails_on_a_server_that_answers_but_never_closes() {
    // The harness itself: a server that answers and then holds the connection open must not
    // pass for one that answered and closed (the read timeout is an error, not an answer).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        // Held open until the client gives up.
        let _ = s.read(&mut buf);
    });
    let start = Instant::now();
    let got = try_request(addr, "POST", "/cb", &[], b"{}");
    assert!(got.is_err(), "{got:?}");
    let err = got.unwrap_err();
    assert!(err.contains("still open"), "{err}");
    assert!(err.contains("200 OK"), "what arrived is shown: {err}");
    assert!(start.elapsed() >= RAW_READ_LIMIT);
    server.join().unwrap();
}

/// A stand-in server for checking the slowloris check itself: reads the trickle for 1 s,
/// then answers `reply` (if any) and closes, or (with `close` false) holds the connection.
fn fake_server(reply: Option<&'static [u8]>, close: bool) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let start = Instant::now();
        let mut buf = [0u8; 64];
        while start.elapsed() < Duration::from_secs(1) {
            let _ = s.read(&mut buf);
        }
        if let Some(reply) = reply {
            let _ = s.write_all(reply);
        }
        if !close {
            std::thread::sleep(Duration::from_secs(12));
        }
    });
    addr
}

#[test]
#[should_panic(expected = "slowloris got an answer instead of a close")]
fn the_slowloris_check_fails_on_a_server_that_answers() {
    slowloris(fake_server(
        Some(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"),
        true,
    ));
}

#[test]
#[should_panic(expected = "slowloris connection was not closed")]
fn the_slowloris_check_fails_on_a_server_that_never_closes() {
    slowloris(fake_server(None, false));
}
