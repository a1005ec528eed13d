//! Whole-screen snapshots of the terminal UI: a store built from journal entries (as the
//! sequencer builds it), keys pressed through the real key handler, one frame rendered into
//! a `TestBackend`. Times are fixed (a fixed `now`, fixed receive times, UTC), so the
//! snapshots are deterministic without masking.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;
use ratatui::Terminal;
use recmon::core::journal::JournalEntry;
use recmon::core::store::Store;
use recmon::event::Outcome;
use recmon::event::{Callback, RecordingGenerated, StreamId};
use recmon::util::sanitize::is_unsafe_char;
use recmon::views::tui::state::{Panel, Popup, FILTER_BUDGET};
use recmon::views::tui::{render, HeaderInfo, ViewState};

mod tui_fixture;
use tui_fixture::*;

fn ctx() -> HeaderInfo {
    header_info("recmon-20261127-120000.jsonl")
}

impl Feed {
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

fn draw(store: &Store, view: &mut ViewState, w: u16, h: u16, now: DateTime<Utc>) -> TestBackend {
    draw_with(store, view, w, h, now, &ctx())
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
    // cam-2 was paused when its publisher stopped (publish_done): it shows ended since.
    for state in ["● started", "■ ended", "▶ resumed", "○ none"] {
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

/// Types `/`, the text, Enter.
fn type_filter(v: &mut ViewState, store: &Store, now: DateTime<Utc>, text: &str) {
    press(v, store, now, &[KeyCode::Char('/')]);
    for c in text.chars() {
        press(v, store, now, &[KeyCode::Char(c)]);
    }
    press(v, store, now, &[KeyCode::Enter]);
}

#[test]
fn filter_by_outcome_event_and_seq() {
    let f = broadcast();
    let now = at(1400);

    // /rejected: the one rejected request, and nothing in the other panels.
    let mut v = view();
    type_filter(&mut v, &f.store, now, "rejected");
    let screen = draw(&f.store, &mut v, 140, 36, now);
    let requests = area_text(&screen, v.areas.requests);
    assert!(requests.contains("#9 ✗ rejected"), "{requests}");
    assert_eq!(v.log_rows().len(), 1, "{requests}");
    assert!(v.stream_order().is_empty());
    insta::assert_snapshot!("filter_rejected", screen);

    // /record_paused: the pause and the stream whose last event it was... cam-2's last
    // event is publish_done, so only the request matches.
    let mut v = view();
    type_filter(&mut v, &f.store, now, "record_paused");
    let screen = draw(&f.store, &mut v, 140, 36, now);
    let requests = area_text(&screen, v.areas.requests);
    assert!(requests.contains("#7 ✓ accepted"), "{requests}");
    assert_eq!(v.log_rows().len(), 1, "{requests}");

    // /#11: the request with seq 11, the recording it reported and its stream; not #1.
    let mut v = view();
    type_filter(&mut v, &f.store, now, "#11");
    let screen = draw(&f.store, &mut v, 140, 36, now);
    let text = screen.to_string();
    assert_eq!(v.log_rows().len(), 1, "{text}");
    assert!(
        area_text(&screen, v.areas.requests).contains("#11 ✓ accepted"),
        "{text}"
    );
    let recordings = area_text(&screen, v.areas.recordings);
    assert!(recordings.contains("backup/0_"), "{recordings}");
    assert_eq!(
        v.recording_rows(&recmon::views::tui::state::Source::new(&f.store, None, now)),
        1
    );
    let streams = area_text(&screen, v.areas.streams);
    assert!(
        streams.contains("backup") && !streams.contains("cam-1"),
        "{streams}"
    );
    insta::assert_snapshot!("filter_seq", screen);
}

#[test]
fn stream_detail_lists_its_recordings_newest_first_with_the_gaps() {
    let mut f = broadcast();
    let t0 = base().timestamp();
    // cam-1 so far: #6 (12:00–12:10) and #10 (12:10–12:20). Then a 5 s gap (#13), a 15 s
    // overlap (#14), a file that arrives after later ones (#15), one without a stop time
    // (#16) and one after it (#17).
    f.recording(1800, "cam-1", 2, t0 + 1205, 600, 600.0);
    f.recording(2400, "cam-1", 3, t0 + 1790, 600, 600.0);
    f.recording(2410, "cam-1", 4, t0 + 300, 60, 60.0);
    f.request(
        2420,
        "POST",
        "/recmon",
        &format!(
            r#"{{"domain":"live.example.com","app":"studio","stream":"cam-1","uri":"record/studio/cam-1/5.m3u8","duration":36000.5,"start_time":{}}}"#,
            t0 + 2400
        ),
    );
    f.recording(2530, "cam-1", 6, t0 + 2460, 60, 60.0);
    let now = at(2600);
    let mut v = view();
    draw(&f.store, &mut v, 100, 40, now);
    // cam-1 is the first stream (started sorts first).
    press(&mut v, &f.store, now, &[KeyCode::Home, KeyCode::Enter]);
    let screen = draw(&f.store, &mut v, 100, 40, now);
    let text = screen.to_string();
    let popup = area_text(&screen, v.areas.popup);
    assert!(
        popup.contains("stream live.example.com/studio/cam-1"),
        "{text}"
    );
    assert!(
        popup.contains("recordings of this stream, newest first: 7"),
        "{popup}"
    );
    // Newest first, each with the gap since the file listed below it.
    let rows: Vec<String> = popup
        .lines()
        .map(|l| {
            l.trim_matches(|c: char| c == '║' || c.is_whitespace())
                .to_string()
        })
        .filter(|l| l.starts_with('#'))
        .collect();
    let rows: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| r.split_whitespace().collect())
        .collect();
    let expected: [&[&str]; 7] = [
        // seq, start date and time, stop, duration (≠ if it disagrees), gap before
        &[
            "#17",
            "2026-11-27",
            "12:41:00",
            "12:42:00",
            "0:01:00.000",
            "-",
        ],
        &[
            "#16",
            "2026-11-27",
            "12:40:00",
            "-",
            "10:00:00.500",
            "0:34:00",
        ],
        &[
            "#15",
            "2026-11-27",
            "12:05:00",
            "12:06:00",
            "0:01:00.000",
            "-0:34:50",
            "⚠",
            "out",
            "of",
            "order",
        ],
        &[
            "#14",
            "2026-11-27",
            "12:29:50",
            "12:39:50",
            "0:10:00.000",
            "-0:00:15",
            "⚠",
            "overlap",
        ],
        &[
            "#13",
            "2026-11-27",
            "12:20:05",
            "12:30:05",
            "0:10:00.000",
            "0:00:05",
        ],
        &[
            "#10",
            "2026-11-27",
            "12:10:00",
            "12:20:00",
            "0:10:12.250",
            "≠",
            "0:00:00",
        ],
        &[
            "#6",
            "2026-11-27",
            "12:00:00",
            "12:10:00",
            "0:10:00.000",
            "-",
        ],
    ];
    assert_eq!(rows, expected, "{popup}");
    insta::assert_snapshot!(screen);
}

/// Everything the help popup holds, read page by page through its scrolling, with wrapped
/// lines joined: what a reader can reach with the keys, whatever the terminal size.
fn help_content(store: &Store, v: &mut ViewState, w: u16, h: u16, now: DateTime<Utc>) -> String {
    let mut lines: Vec<String> = Vec::new();
    let mut scroll = 0u16;
    loop {
        v.popup = Some(Popup::Help { scroll });
        let screen = draw(store, v, w, h, now);
        let Some(Popup::Help { scroll: shown }) = v.popup else {
            panic!("the help closed")
        };
        let area = v.areas.popup;
        assert!(
            area.right() <= w && area.bottom() <= h,
            "the popup {area:?} is off a {w}×{h} screen"
        );
        let inner = ratatui::layout::Rect {
            x: area.x + 1,
            y: area.y + 1,
            width: area.width - 2,
            height: area.height - 2,
        };
        let rows: Vec<String> = area_text(&screen, inner)
            .lines()
            .map(str::to_owned)
            .collect();
        if shown < scroll {
            // Clamped: the last page is on screen; keep the rows not read yet.
            lines.extend(rows.into_iter().skip(lines.len() - shown as usize));
            break;
        }
        lines.push(rows[0].clone());
        scroll += 1;
        assert!(scroll < 500, "the help never ends");
    }
    lines
        .iter()
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn help_popup() {
    let f = broadcast();
    let now = at(1400);
    let mut v = view();
    press(&mut v, &f.store, now, &[KeyCode::Char('?')]);
    let screen = draw(&f.store, &mut v, 140, 36, now);
    insta::assert_snapshot!(screen);
    let text = help_content(&f.store, &mut v, 140, 36, now);
    for b in recmon::views::tui::keys::BINDINGS {
        assert!(text.contains(b.help), "help lacks {:?}:\n{text}", b.label);
    }
}

#[test]
fn help_popup_fits_80x24_and_pages_through() {
    let f = broadcast();
    let now = at(1400);
    let mut v = view();
    press(&mut v, &f.store, now, &[KeyCode::Char('?')]);
    let first = draw(&f.store, &mut v, 80, 24, now);
    let first_text = first.to_string();
    assert!(
        first_text.contains("PgUp PgDn scroll · lines 1–20 of "),
        "no scroll indicator:\n{first_text}"
    );
    insta::assert_snapshot!("help_80x24_first_page", first);

    // PgDn scrolls (it used to close the popup), PgUp comes back.
    press(&mut v, &f.store, now, &[KeyCode::PageDown]);
    let second = draw(&f.store, &mut v, 80, 24, now);
    let second_text = second.to_string();
    assert!(
        matches!(v.popup, Some(Popup::Help { scroll }) if scroll > 0),
        "PgDn closed or did not scroll the help:\n{second_text}"
    );
    assert!(second_text.contains("lines 19–38 of 81"), "{second_text}");
    assert!(
        second_text.contains("What the filter matches"),
        "{second_text}"
    );
    insta::assert_snapshot!("help_80x24_scrolled", second);
    press(&mut v, &f.store, now, &[KeyCode::PageUp]);
    assert_eq!(draw(&f.store, &mut v, 80, 24, now).to_string(), first_text);

    // Nothing is cut at the right edge or lost below: every line can be read.
    let text = help_content(&f.store, &mut v, 80, 24, now);
    for b in recmon::views::tui::keys::BINDINGS {
        assert!(text.contains(b.help), "help lacks {:?}:\n{text}", b.label);
    }
    for (k, what) in recmon::views::tui::keys::FILTER_SYNTAX {
        assert!(
            text.contains(&format!("{k} {what}")),
            "help lacks {k}:\n{text}"
        );
    }
    // Any other key still closes it.
    press(&mut v, &f.store, now, &[KeyCode::Char('x')]);
    assert!(v.popup.is_none());
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
    // cam-1 as it was at the freeze: started (not the pause that arrived), in that state
    // for 0:23:19 by the frozen clock (not 0:24:59 by the live one), two recordings.
    let streams = area_text(&screen, v.areas.streams);
    let cam1 = streams
        .lines()
        .find(|l| l.contains("cam-1"))
        .unwrap_or_default();
    assert!(
        cam1.contains("● started") && cam1.contains("0:23:19") && !cam1.contains("paused"),
        "cam-1 changed while frozen: {cam1}"
    );
    let recordings = area_text(&screen, v.areas.recordings);
    assert!(
        recordings.contains("Recordings 3 ") && !recordings.contains("/2_"),
        "a recording arrived on screen while frozen:\n{recordings}"
    );
    assert!(
        !area_text(&screen, v.areas.requests).contains("DELETE"),
        "a request arrived on screen while frozen:\n{text}"
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
    // docs/tui.md promises the notice below 60×15, and the panels from there up.
    assert_eq!(
        (
            recmon::views::tui::MIN_WIDTH,
            recmon::views::tui::MIN_HEIGHT
        ),
        (60, 15)
    );
    for w in 0..=70u16 {
        for h in [0u16, 1, 3, 4, 5, 14, 15, 16, 24] {
            let screen = draw(&f.store, &mut v, w, h, at(1400));
            if w == 0 {
                continue; // nothing to read (and TestBackend cannot print it)
            }
            let text = screen.to_string();
            let small = w < 60 || h < 15;
            assert_eq!(
                text.contains("Streams"),
                !small,
                "{w}×{h}: panels {}:\n{text}",
                if small { "drawn" } else { "missing" }
            );
            if small && w >= 18 && h >= 4 {
                // The whole notice: what happened, the size, the size needed, the way out.
                let lines: Vec<&str> = text.lines().map(|l| l.trim_matches(['"', ' '])).collect();
                assert_eq!(
                    lines[..4],
                    [
                        "terminal too small",
                        &format!("{w}×{h}"),
                        "need 60×15",
                        "q quits"
                    ],
                    "{w}×{h}:\n{text}"
                );
            } else if !small {
                assert!(!text.contains("too small"), "{w}×{h}:\n{text}");
            }
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

/// A store with `n` recordings of one stream, one a minute.
fn recordings_store(n: u64) -> Store {
    let mut store = Store::new(1000);
    let id = StreamId {
        domain: "live.example.com".into(),
        app: "studio".into(),
        stream: "cam-1".into(),
    };
    let line: Arc<str> = Arc::from("");
    for n in 0..n {
        add_recording(&mut store, &id, n, &line);
    }
    store
}

fn add_recording(store: &mut Store, id: &StreamId, n: u64, line: &Arc<str>) {
    let cb = Callback::Recording(RecordingGenerated {
        id: id.clone(),
        uri: format!("record/studio/{}/{n}.flv", id.stream),
        duration: Some(60.0),
        start_time: Some(n as i64 * 60),
        stop_time: Some(n as i64 * 60 + 60),
        push_args: vec![],
        file_size: None,
    });
    let entry = JournalEntry {
        seq: store.last_seq() + 1,
        received_at: at(n as i64),
        remote: "r".into(),
        method: "POST".into(),
        path: "/".into(),
        headers: BTreeMap::new(),
        outcome: Outcome::Accepted,
        status: 200,
        provider: Default::default(),
        kind: Some("recording".into()),
        forward: Vec::new(),
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

/// Without timing anything (timings on a loaded machine prove little): the work a frame
/// does, counted by the view state, is the same with a thousand recordings or a million;
/// a new filter examines each recording once, a budget per frame; listing a stream's
/// recordings in its detail stops at the newest few hundred.
#[test]
fn a_frame_touches_the_same_rows_with_a_thousand_or_a_million_recordings() {
    let small = recordings_store(1_000);
    let mut store = recordings_store(1_000_000);
    let now = at(1_000_001);
    let steady = |store: &Store| {
        let mut v = view();
        let mut term = Terminal::new(TestBackend::new(140, 36)).unwrap();
        for _ in 0..2 {
            term.draw(|f| render(f, store, &mut v, now, &ctx()))
                .unwrap();
        }
        (v.work(), v.areas.page(Panel::Recordings))
    };
    let (work_small, page) = steady(&small);
    let (work_large, _) = steady(&store);
    assert_eq!(work_small, work_large, "1k vs 1M recordings");
    assert_eq!(
        work_large.recording_rows_resolved, page,
        "only the visible rows"
    );
    assert_eq!(
        work_large.recordings_examined, 0,
        "no filter: nothing examined"
    );

    let mut v = view();
    let mut term = Terminal::new(TestBackend::new(140, 36)).unwrap();
    term.draw(|f| render(f, &store, &mut v, now, &ctx()))
        .unwrap();
    // A new filter is applied over several frames, a budget at a time, never in one go.
    v.set_filter("/99999".into());
    let mut frames = 0;
    let mut examined = 0;
    while recmon::views::tui::busy(&store, &v) || frames == 0 {
        term.draw(|f| render(f, &store, &mut v, now, &ctx()))
            .unwrap();
        let w = v.work();
        assert!(w.recordings_examined <= FILTER_BUDGET, "{w:?}");
        assert!(w.recording_rows_resolved <= page, "{w:?}");
        examined += w.recordings_examined;
        frames += 1;
        assert!(
            frames <= 1_000_000usize.div_ceil(FILTER_BUDGET),
            "the filter never finished"
        );
    }
    assert_eq!(examined, 1_000_000, "each recording examined once");
    assert_eq!(frames, 1_000_000usize.div_ceil(FILTER_BUDGET));
    let text = term.backend().to_string();
    // Uris are ".../{n}.flv": n = 99999 and 999990..=999999 match.
    assert!(text.contains("Recordings 11 of 1,000,000"), "{text}");
    // Once applied, a frame examines only what arrived since.
    let id = StreamId {
        domain: "live.example.com".into(),
        app: "studio".into(),
        stream: "cam-1".into(),
    };
    add_recording(&mut store, &id, 1_000_000, &Arc::from(""));
    term.draw(|f| render(f, &store, &mut v, now, &ctx()))
        .unwrap();
    assert_eq!(v.work().recordings_examined, 1);

    // The stream's detail lists the newest few hundred, not a million lines.
    let mut v = view();
    term.draw(|f| render(f, &store, &mut v, now, &ctx()))
        .unwrap();
    press(&mut v, &store, now, &[KeyCode::Enter]);
    let Some(Popup::Detail(d)) = &v.popup else {
        panic!("no detail popup")
    };
    let max = recmon::views::tui::state::STREAM_RECORDINGS_MAX;
    assert!(d.lines.len() < max + 100, "{} lines", d.lines.len());
    let text: Vec<String> = d.lines.iter().map(|l| l.to_string()).collect();
    let head = text[..12].join("\n");
    assert!(
        text.iter()
            .any(|l| l.contains(&format!("the newest {max} of 1,000,001"))),
        "{head}"
    );
    assert!(
        text.iter()
            .any(|l| l.contains("… and 999,501 older recordings")),
        "{head}"
    );
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
