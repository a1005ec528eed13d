//! Whole-screen snapshots of the terminal UI: a store built from journal entries (as the
//! sequencer builds it), keys pressed through the real key handler, one frame rendered into
//! a `TestBackend`. Times are fixed (a fixed `now`, fixed receive times, UTC), so the
//! snapshots are deterministic without masking.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use recmon::callback::{classify_request, Callback, Method, RecordingGenerated, StreamId};
use recmon::journal::{encode_body, write_line, JournalEntry, Outcome};
use recmon::sanitize::is_unsafe_char;
use recmon::store::{Deduper, Store};
use recmon::tui::state::Panel;
use recmon::tui::theme::Theme;
use recmon::tui::{handle_key, render, HeaderInfo, ViewState};

/// 2026-11-27T12:00:00Z: every time in these tests is an offset from it.
fn base() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_780_800, 0).unwrap()
}

fn at(secs: i64) -> DateTime<Utc> {
    base() + Duration::seconds(secs)
}

fn ctx() -> HeaderInfo {
    HeaderInfo {
        listen: "127.0.0.1:8080".parse::<SocketAddr>().unwrap(),
        loopback_only: true,
        signature_checking: false,
        journal_path: Some(PathBuf::from("recmon-20261127-120000.jsonl")),
        started_at: base(),
    }
}

fn view() -> ViewState {
    ViewState::new(Theme { color: false }, true)
}

/// Feeds requests through the classifier, the deduper and the store, like the sequencer.
struct Feed {
    store: Store,
    dedup: Deduper,
    seq: u64,
}

impl Feed {
    fn new() -> Self {
        Feed {
            store: Store::default(),
            dedup: Deduper::default(),
            seq: 0,
        }
    }

    fn request(&mut self, t: i64, method: &str, path: &str, body: &str) {
        self.seq += 1;
        let received_at = at(t);
        let query = path.split_once('?').map(|(_, q)| q);
        let (verdict, parsed) = classify_request(Method::from_name(method), query, body.as_bytes());
        let (outcome, status, error, cb) = match verdict {
            Ok(cb) => {
                let (o, _) = self.dedup.decide(&cb, received_at);
                (o, 200, None, Some(cb))
            }
            Err(r) => (Outcome::Rejected, r.status, Some(r.error), None),
        };
        let enc = encode_body(body.as_bytes(), parsed);
        let mut headers = BTreeMap::new();
        headers.insert("host".to_string(), "rec.example.com:8080".to_string());
        headers.insert("user-agent".to_string(), "aliyun-live-callback".to_string());
        if !body.is_empty() {
            headers.insert("content-length".to_string(), body.len().to_string());
        }
        let entry = JournalEntry {
            seq: self.seq,
            received_at,
            remote: "203.0.113.7:40123".into(),
            method: method.into(),
            path: path.into(),
            headers,
            outcome,
            status,
            kind: cb.as_ref().map(|c| c.kind().to_string()),
            error,
            body_bytes: body.len() as u64,
            body: None,
            body_text: enc.body_text,
            body_base64: enc.body_base64,
            body_truncated: None,
            auth: None,
        };
        // Written and read back exactly as the sequencer and the journal reader do.
        let mut line = Vec::new();
        write_line(&mut line, &entry, enc.inline);
        let line = String::from_utf8(line).unwrap();
        let line = line.trim_end();
        let entry: JournalEntry = serde_json::from_str(line).unwrap();
        self.store.apply(&entry, cb.as_ref(), Arc::from(line));
    }

    fn status(&mut self, t: i64, stream: &str, event: &str) {
        let body = format!(
            r#"{{"domain":"live.example.com","app":"studio","stream":"{stream}","event":"{event}"}}"#
        );
        self.request(t, "POST", "/recmon", &body);
    }

    fn recording(&mut self, t: i64, stream: &str, n: u32, start: i64, secs: i64, duration: f64) {
        let body = format!(
            r#"{{"domain":"live.example.com","app":"studio","stream":"{stream}","uri":"record/studio/{stream}/{n}_{start}.m3u8","duration":{duration},"start_time":{start},"stop_time":{},"push_args":{{"callback_show":"evening-news","callback_take":"{n}"}}}}"#,
            start + secs
        );
        self.request(t, "POST", "/recmon", &body);
    }

    fn ingest(&mut self, t: i64, stream: &str, action: &str) {
        let path = format!(
            "/pub?action={action}&app=live.example.com&appname=studio&id={stream}&ip=198.51.100.20&node=edge7&time={}",
            at(t).timestamp()
        );
        self.request(t, "GET", &path, "");
    }
}

fn press(view: &mut ViewState, store: &Store, now: DateTime<Utc>, keys: &[KeyCode]) {
    for &k in keys {
        handle_key(view, &KeyEvent::new(k, KeyModifiers::NONE), store, now);
    }
}

fn draw(store: &Store, view: &mut ViewState, w: u16, h: u16, now: DateTime<Utc>) -> TestBackend {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(f, store, view, now, &ctx())).unwrap();
    t.backend().clone()
}

/// A broadcast with every state: started, paused, resumed (without a start before it), none
/// (a recording for a stream never announced), ingest live and offline, a duplicate and a
/// rejected request.
fn broadcast() -> Feed {
    let mut f = Feed::new();
    f.ingest(0, "cam-1", "publish");
    f.status(1, "cam-1", "record_started");
    f.ingest(2, "cam-2", "publish");
    f.status(3, "cam-2", "record_started");
    f.status(4, "cam-2", "record_started"); // provider retry
    f.recording(600, "cam-1", 0, base().timestamp(), 600, 600.0);
    f.status(620, "cam-2", "record_paused");
    f.status(700, "cam-3", "record_resumed");
    f.request(710, "POST", "/recmon", "{not json");
    f.recording(1200, "cam-1", 1, base().timestamp() + 600, 600, 612.25);
    f.recording(1300, "backup", 0, base().timestamp() + 300, 54, 69.403);
    f.ingest(1310, "cam-2", "publish_done");
    f
}

#[test]
fn empty_start_screen() {
    let store = Store::default();
    let mut v = view();
    insta::assert_snapshot!(draw(&store, &mut v, 140, 32, at(5)));
}

#[test]
fn streams_in_all_four_states() {
    let f = broadcast();
    let mut v = view();
    let screen = draw(&f.store, &mut v, 140, 36, at(1400));
    let text = screen.to_string();
    for state in ["● started", "‖ paused", "▶ resumed", "○ none"] {
        assert!(text.contains(state), "{state} missing:\n{text}");
    }
    insta::assert_snapshot!(screen);
}

#[test]
fn long_recordings_table_scrolled_to_the_middle() {
    let mut f = Feed::new();
    f.status(0, "cam-1", "record_started");
    for n in 0..1000u32 {
        let start = base().timestamp() + n as i64 * 60;
        f.recording(n as i64 * 60 + 61, "cam-1", n, start, 60, 60.0);
    }
    let now = at(60_100);
    let mut v = view();
    draw(&f.store, &mut v, 140, 36, now);
    // Tab to the recordings, then page up from the end to the middle.
    press(&mut v, &f.store, now, &[KeyCode::Tab]);
    let page = v.areas.page(Panel::Recordings);
    let pages = 500 / page;
    press(&mut v, &f.store, now, &vec![KeyCode::PageUp; pages]);
    assert!(!v.follow, "paging up stops following");
    let screen = draw(&f.store, &mut v, 140, 36, now);
    let table = area_text(&screen, v.areas.recordings);
    let mid = format!("/{}_", 999 - pages * page);
    assert!(table.contains(&mid), "row {mid} not shown:\n{table}");
    assert!(!table.contains("/999_"), "the table still shows the end");
    insta::assert_snapshot!(screen);
}

#[test]
fn filter_active() {
    let f = broadcast();
    let now = at(1400);
    let mut v = view();
    press(&mut v, &f.store, now, &[KeyCode::Char('/')]);
    for c in "CAM-1".chars() {
        press(&mut v, &f.store, now, &[KeyCode::Char(c)]);
    }
    press(&mut v, &f.store, now, &[KeyCode::Enter]);
    let screen = draw(&f.store, &mut v, 140, 36, now);
    let text = screen.to_string();
    assert!(text.contains("filter: \"CAM-1\""));
    assert!(
        !text.contains("cam-2"),
        "cam-2 should be filtered out:\n{text}"
    );
    insta::assert_snapshot!(screen);
    // Esc clears it.
    press(&mut v, &f.store, now, &[KeyCode::Esc]);
    assert!(draw(&f.store, &mut v, 140, 36, now)
        .to_string()
        .contains("cam-2"));
}

#[test]
fn help_popup() {
    let f = broadcast();
    let now = at(1400);
    let mut v = view();
    press(&mut v, &f.store, now, &[KeyCode::Char('?')]);
    let screen = draw(&f.store, &mut v, 140, 36, now);
    let text = screen.to_string();
    for b in recmon::tui::keys::BINDINGS {
        assert!(text.contains(b.help), "help lacks {:?}", b.label);
    }
    insta::assert_snapshot!(screen);
}

#[test]
fn detail_popup_of_a_recording_request() {
    let f = broadcast();
    let now = at(1400);
    let mut v = view();
    // The request log, then up from the last request (publish_done) to the recording.
    press(
        &mut v,
        &f.store,
        now,
        &[KeyCode::BackTab, KeyCode::Up, KeyCode::Enter],
    );
    let screen = draw(&f.store, &mut v, 140, 40, now);
    let text = screen.to_string();
    assert!(text.contains("request · seq 11"), "{text}");
    assert!(
        text.contains("\"callback_show\": \"evening-news\""),
        "{text}"
    );
    assert!(text.contains("content-length 239"), "{text}");
    insta::assert_snapshot!(screen);
}

#[test]
fn freeze_counts_arrivals_and_keeps_the_view() {
    let mut f = broadcast();
    let now = at(1400);
    let mut v = view();
    draw(&f.store, &mut v, 140, 36, now);
    press(&mut v, &f.store, now, &[KeyCode::Char(' ')]);
    // Ingest goes on while frozen.
    f.status(1401, "cam-1", "record_paused");
    f.recording(1402, "cam-1", 2, base().timestamp() + 1200, 200, 200.0);
    f.request(1403, "DELETE", "/recmon", "");
    let screen = draw(&f.store, &mut v, 140, 36, at(1500));
    let text = screen.to_string();
    assert!(
        text.contains("FROZEN · 3 requests arrived meanwhile (1 rejected, 1 recording)"),
        "{text}"
    );
    assert!(
        !text.contains("‖ paused    0:00"),
        "cam-1 must not change while frozen"
    );
    insta::assert_snapshot!(screen);
    // Unfreezing shows what arrived.
    press(&mut v, &f.store, at(1500), &[KeyCode::Char(' ')]);
    let text = draw(&f.store, &mut v, 140, 36, at(1500)).to_string();
    assert!(text.contains("2_"), "{text}");
    assert!(text.contains("DELETE"), "{text}");
}

#[test]
fn tiny_terminal() {
    let f = broadcast();
    let mut v = view();
    let screen = draw(&f.store, &mut v, 20, 5, at(1400));
    assert!(screen.to_string().contains("too small"));
    insta::assert_snapshot!(screen);
    // Every size from nothing up to the minimum renders without panicking.
    for w in 0..70u16 {
        for h in [0u16, 1, 3, 14, 15, 16] {
            draw(&f.store, &mut v, w, h, at(1400));
        }
    }
}

#[test]
fn hostile_names_and_push_args_are_shown_escaped() {
    let mut f = Feed::new();
    let evil_stream = "cam\u{1b}[31mRED\u{1b}[0m\u{202e}txt.exe\u{200b}";
    let body = serde_json::json!({
        "domain": "live.example.com",
        "app": "st\u{9b}2Jdio",
        "stream": evil_stream,
        "uri": "record/\u{1b}]0;pwned\u{7}/0.flv",
        "duration": 10.0, "start_time": 1, "stop_time": 11,
        "push_args": {"callback_\u{1b}[2Jx": "v\u{2066}al\u{2069}\r\nue"}
    })
    .to_string();
    f.request(1, "POST", "/recmon", &body);
    let status = serde_json::json!({
        "domain": "live.example.com", "app": "st\u{9b}2Jdio", "stream": evil_stream,
        "event": "record_\u{1b}[5mstarted"
    })
    .to_string();
    f.request(2, "POST", "/recmon", &status);
    let now = at(10);
    let mut v = view();
    let screen = draw(&f.store, &mut v, 140, 36, now);
    assert_no_raw_controls(&screen);
    let text = screen.to_string();
    assert!(
        text.contains("st\\x9b2Jdio/cam\\x1b[31mRED\\x1b[0m"),
        "{text}"
    );
    assert!(text.contains("\\u{202e}txt.exe\\u{200b}"), "{text}");
    assert!(text.contains("record/\\x1b]0;pwned\\x07/0.flv"), "{text}");
    assert!(text.contains("record_\\x1b[5mstarted"), "{text}");
    insta::assert_snapshot!(screen);

    // The detail popup shows the same text escaped, headers and body included.
    press(&mut v, &f.store, now, &[KeyCode::Tab, KeyCode::Enter]);
    let detail = draw(&f.store, &mut v, 140, 40, now);
    assert_no_raw_controls(&detail);
    let text = detail.to_string();
    assert!(text.contains("recording · seq 1"), "{text}");
    assert!(
        text.contains("callback_\\x1b[2Jx = v\\u{2066}al\\u{2069}\\x0d\\x0aue"),
        "{text}"
    );
    insta::assert_snapshot!("hostile_detail", detail);
}

/// The text of one rectangle of the screen.
fn area_text(screen: &TestBackend, area: ratatui::layout::Rect) -> String {
    let buf = screen.buffer();
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn assert_no_raw_controls(screen: &TestBackend) {
    for cell in screen.buffer().content() {
        for c in cell.symbol().chars() {
            assert!(
                !is_unsafe_char(c),
                "raw {c:?} reached the screen:\n{screen}"
            );
        }
    }
}

#[test]
fn a_million_recordings_cost_the_same_per_frame() {
    let mut store = Store::new(1000);
    let id = StreamId {
        domain: "live.example.com".into(),
        app: "studio".into(),
        stream: "cam-1".into(),
    };
    let line: Arc<str> = Arc::from("");
    for n in 0..1_000_000u64 {
        let cb = Callback::Recording(RecordingGenerated {
            id: id.clone(),
            uri: format!("record/studio/cam-1/{n}.flv"),
            duration: Some(60.0),
            start_time: Some(n as i64 * 60),
            stop_time: Some(n as i64 * 60 + 60),
            push_args: vec![],
        });
        let entry = JournalEntry {
            seq: n + 1,
            received_at: at(n as i64),
            remote: "r".into(),
            method: "POST".into(),
            path: "/".into(),
            headers: BTreeMap::new(),
            outcome: Outcome::Accepted,
            status: 200,
            kind: Some("recording".into()),
            error: None,
            body_bytes: 0,
            body: None,
            body_text: None,
            body_base64: None,
            body_truncated: None,
            auth: None,
        };
        store.apply(&entry, Some(&cb), line.clone());
    }
    let now = at(1_000_001);
    let mut v = view();
    let mut term = Terminal::new(TestBackend::new(140, 36)).unwrap();
    term.draw(|f| render(f, &store, &mut v, now, &ctx()))
        .unwrap();
    // A new filter is applied over several frames, a budget at a time, never in one go.
    v.set_filter("/99999".into());
    let mut frames = 0;
    let mut slowest = std::time::Duration::ZERO;
    while recmon::tui::busy(&store, &v) || frames == 0 {
        let t = Instant::now();
        term.draw(|f| render(f, &store, &mut v, now, &ctx()))
            .unwrap();
        slowest = slowest.max(t.elapsed());
        frames += 1;
        assert!(frames < 20, "the filter never finished");
    }
    assert!(
        frames >= 4,
        "a million rows were filtered in {frames} frame(s)"
    );
    let text = term.backend().to_string();
    // Uris are ".../{n}.flv": n = 99999 and 999990..=999999 match.
    assert!(text.contains("Recordings 11 of 1,000,000"), "{text}");
    eprintln!("slowest frame while filtering: {slowest:?} (debug build)");
}

#[test]
fn clearing_the_filter_keeps_the_selected_recording_selected() {
    let mut f = Feed::new();
    for n in 0..200u32 {
        f.recording(
            n as i64,
            "cam-1",
            n,
            base().timestamp() + n as i64 * 60,
            60,
            60.0,
        );
    }
    let now = at(300);
    let mut v = view();
    draw(&f.store, &mut v, 140, 36, now);
    press(&mut v, &f.store, now, &[KeyCode::Tab, KeyCode::Up]);
    press(
        &mut v,
        &f.store,
        now,
        &[KeyCode::Char('/'), KeyCode::Char('7'), KeyCode::Char('_')],
    );
    press(
        &mut v,
        &f.store,
        now,
        &[KeyCode::Enter, KeyCode::Down, KeyCode::Down],
    );
    draw(&f.store, &mut v, 140, 36, now);
    // Matches of "7_": 7, 17, 27, ...; the third is recording 27.
    assert_eq!(v.recording_at(v.recordings.selected), Some(27));
    press(&mut v, &f.store, now, &[KeyCode::Esc]);
    let text = area_text(&draw(&f.store, &mut v, 140, 36, now), v.areas.recordings);
    assert_eq!(v.recordings.selected, 27);
    assert!(text.contains("/27_"), "{text}");
}
