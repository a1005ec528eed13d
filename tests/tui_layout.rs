//! The screen at the sizes operators use (80×24 up to 200×50): one fixture with long,
//! realistic names drawn at four sizes, plain assertions that what identifies a row, its
//! state and its duration stay visible at every size, and the pieces the issue named
//! (recording durations, footer messages, the sparkline's scale, the last-callback clock,
//! freeze counts, time zones in the column headers).
//!
//! The store is built from journal entries, as the sequencer builds it, and keys go through
//! the real key handler; every time is fixed, so the snapshots are deterministic.

use chrono::{DateTime, Duration, Utc};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;
use ratatui::style::Color;
use recmon::core::store::Store;
use recmon::views::tui::state::Toast;
use recmon::views::tui::theme::Theme;
use recmon::views::tui::{HeaderInfo, ViewState};

mod tui_fixture;
use tui_fixture::*;

fn ctx() -> HeaderInfo {
    header_info("/var/lib/recmon/journals/recmon-20261127-120000.jsonl")
}

impl Feed {
    fn status(&mut self, t: i64, app: &str, stream: &str, event: &str) {
        let body = format!(
            r#"{{"domain":"live.example.com","app":"{app}","stream":"{stream}","event":"{event}"}}"#
        );
        self.request(t, "POST", "/recmon", &body);
    }

    /// A recording as the provider sends it: the uri carries the provider's local time
    /// (UTC+8) of the file's start and stop.
    fn recording(&mut self, t: i64, app: &str, stream: &str, start: i64, duration: f64) {
        let stop = start + duration.max(0.0) as i64;
        let local = |s: i64| {
            (DateTime::from_timestamp(s, 0).unwrap() + Duration::hours(8))
                .format("%Y-%m-%d-%H-%M-%S")
                .to_string()
        };
        let body = format!(
            r#"{{"domain":"live.example.com","app":"{app}","stream":"{stream}","uri":"record/{app}/{stream}/{}_{}.m3u8","duration":{duration},"start_time":{start},"stop_time":{stop},"push_args":{{"callback_show":"champions-league-final","callback_take":"{t}","region":"eu-west"}}}}"#,
            local(start),
            local(stop),
        );
        self.request(t, "POST", "/recmon", &body);
    }

    fn ingest(&mut self, t: i64, app: &str, stream: &str, action: &str) {
        let path = format!(
            "/pub?action={action}&app=live.example.com&appname={app}&id={stream}&ip=198.51.100.20&node=edge7&time={}",
            at(t).timestamp()
        );
        self.request(t, "GET", &path, "");
    }
}

/// The fixture every size draws: four streams with long names in all four states, five
/// recordings whose durations span 4.2 s to 25 h (and one negative), a duplicate and a
/// rejected request.
fn match_day() -> Feed {
    let mut f = Feed::new();
    let t0 = base().timestamp();
    f.ingest(0, "sports", "match-cam-1", "publish");
    f.status(1, "sports", "match-cam-1", "record_started");
    f.ingest(2, "sports", "match-cam-2", "publish");
    f.status(3, "sports", "match-cam-2", "record_started");
    f.status(4, "sports", "match-cam-2", "record_started"); // provider retry
    f.recording(10, "sports", "match-cam-1", t0, 4.2);
    f.recording(3700, "sports", "match-cam-1", t0 + 10, 3599.9);
    f.status(3720, "sports", "match-cam-2", "record_paused");
    f.status(3800, "sports", "match-cam-3", "record_resumed");
    f.request(3810, "POST", "/recmon", "{not json");
    f.recording(3900, "news", "evening-desk-backup", t0 - 36_000, 36_000.5);
    f.recording(3950, "sports", "match-cam-3", t0 - 86_400, 90_061.2);
    f.recording(4000, "sports", "match-cam-1", t0 + 3700, -5.5);
    f.ingest(4010, "sports", "match-cam-2", "publish_done");
    f
}

/// When [`match_day`] is drawn.
fn match_day_now() -> DateTime<Utc> {
    at(4100)
}

fn draw(store: &Store, view: &mut ViewState, w: u16, h: u16, now: DateTime<Utc>) -> TestBackend {
    draw_with(store, view, w, h, now, &ctx())
}

/// The screen as lines of text.
fn lines(screen: &TestBackend) -> Vec<String> {
    let buf = screen.buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        })
        .collect()
}

/// The rows inside a panel: from its top border (whose title starts with `title`) to its
/// bottom border, the column header included.
fn panel(lines: &[String], title: &str) -> Vec<String> {
    let top = lines
        .iter()
        .position(|l| l.starts_with(&format!("╭ {title}")))
        .unwrap_or_else(|| panic!("no {title} panel:\n{}", lines.join("\n")));
    lines[top + 1..]
        .iter()
        .take_while(|l| !l.starts_with('╰'))
        .cloned()
        .collect()
}

/// (stream tail, state label, time in state) for each stream at [`match_day_now`].
const STREAMS: [(&str, &str, &str); 4] = [
    ("/sports/match-cam-1", "● started", "1:08:19"),
    // Paused when its publisher stopped: ended since the publish_done (at 4010 s).
    ("/sports/match-cam-2", "■ ended", "0:01:30"),
    ("/sports/match-cam-3", "▶ resumed", "0:05:00"),
    ("/evening-desk-backup", "○ none", "-"),
];

/// (stream tail, duration as shown) for each recording.
const RECORDINGS: [(&str, &str); 5] = [
    ("match-cam-1", "0:00:04.200"),
    ("match-cam-1", "0:59:59.900"),
    ("evening-desk-backup", "10:00:00.500"),
    ("match-cam-3", "25:01:01.200"),
    ("match-cam-1", "-0:00:05.500 ⚠"),
];

/// At `w`×`h`: every visible stream row shows its name's tail, its state and its time in
/// state; every visible recording row its stream's tail and its whole duration; the
/// header its counts; the footer `? help` and `q quit`. Returns the screen.
fn check_size(w: u16, h: u16) -> TestBackend {
    let f = match_day();
    let mut v = view();
    let screen = draw(&f.store, &mut v, w, h, match_day_now());
    let text = lines(&screen);
    let all = text.join("\n");
    for l in &text {
        assert_eq!(
            l.chars().count(),
            w as usize,
            "wide characters misplaced:\n{all}"
        );
    }

    let streams = panel(&text, "Streams");
    let mut seen = 0;
    for (tail, state, since) in STREAMS {
        let Some(row) = streams.iter().find(|l| l.contains(tail)) else {
            continue;
        };
        seen += 1;
        assert!(row.contains(state), "{w}×{h}: {tail} lacks {state}:\n{all}");
        assert!(
            row.contains(&format!(" {since} ")),
            "{w}×{h}: {tail} lacks its time in state {since}:\n{all}"
        );
    }
    let stream_rows = streams.len() - 1;
    assert_eq!(
        seen,
        stream_rows.min(4),
        "{w}×{h}: a stream row without its name's tail:\n{all}"
    );

    let recordings = panel(&text, "Recordings");
    let mut seen = 0;
    for (tail, duration) in RECORDINGS {
        let Some(row) = recordings.iter().find(|l| l.contains(duration)) else {
            continue;
        };
        seen += 1;
        assert!(
            row.contains(tail),
            "{w}×{h}: {duration} without {tail}:\n{all}"
        );
    }
    assert_eq!(
        seen,
        (recordings.len() - 1).min(5),
        "{w}×{h}: a recording row without its whole duration:\n{all}"
    );
    let header = &recordings[0];
    assert!(header.contains("start (UTC)"), "{w}×{h}: {header}");

    // The request log follows its newest rows; where the rejected request is in view, it
    // says so.
    let requests = panel(&text, "Requests");
    if let Some(row) = requests.iter().find(|l| l.contains(" #10 ")) {
        assert!(row.contains("✗ rejected"), "{w}×{h}: {row}");
    }

    assert!(
        text[2].contains("✗ 1 rejected"),
        "{w}×{h}: counts hidden:\n{all}"
    );
    assert!(
        text[0].contains("⚠ loopback only"),
        "{w}×{h}: the warning is gone:\n{all}"
    );
    // Nothing is drawn over the warning: whatever follows it is a whole item, after a gap.
    let after = text[0].split("⚠ loopback only").nth(1).unwrap();
    let rest = after
        .strip_prefix(": the provider cannot reach it (--listen 0.0.0.0:8080)")
        .or_else(|| after.strip_prefix(" (--listen 0.0.0.0:8080)"))
        .unwrap_or(after);
    assert!(
        rest.trim().is_empty() || rest.starts_with("  "),
        "{w}×{h}: something overwrites the warning: {}",
        text[0]
    );
    let footer = text.last().unwrap();
    assert!(
        footer.contains("? help") && footer.contains("q quit"),
        "{w}×{h}: footer lost help or quit: {footer}"
    );
    // Nothing is cut to a stray letter: a cut cell ends (or starts) in `…`.
    assert!(!all.contains("live.example.com/ "), "{all}");
    screen
}

#[test]
fn at_80_by_24() {
    insta::assert_snapshot!(check_size(80, 24));
}

#[test]
fn at_100_by_30() {
    insta::assert_snapshot!(check_size(100, 30));
}

#[test]
fn at_120_by_40() {
    insta::assert_snapshot!(check_size(120, 40));
}

#[test]
fn at_200_by_50() {
    insta::assert_snapshot!(check_size(200, 50));
}

#[test]
fn every_width_from_the_minimum_keeps_names_states_durations_and_help() {
    for w in 60..=220 {
        check_size(w, 40);
    }
}

#[test]
fn recording_durations_keep_every_digit_and_flag_a_negative_one() {
    let f = match_day();
    let mut v = view();
    let screen = draw(&f.store, &mut v, 120, 40, match_day_now());
    let text = lines(&screen);
    let recordings = panel(&text, "Recordings");
    let table = recordings.join("\n");
    for (_, duration) in RECORDINGS {
        assert!(table.contains(duration), "{duration} missing:\n{table}");
    }
    assert!(text.iter().any(|l| l.contains("⚠ impossible duration")));
    // The leading digits were lost before: 10 h read as 0:00:00.500.
    assert!(!table.contains(" 0:00:00.500"), "{table}");
    insta::assert_snapshot!(table);
}

#[test]
fn a_footer_message_shows_its_whole_path_and_keeps_help_and_quit() {
    let f = match_day();
    let now = match_day_now();
    let mut v = view();
    let path = "/home/operator/broadcasts/2026-11-27-champions-league-final/exports/recmon-session-20261127-120000.csv";
    v.toast = Some(Toast {
        text: format!("export written: {path}"),
        until: now + Duration::seconds(16),
        error: false,
    });
    let screen = draw(&f.store, &mut v, 80, 24, now);
    let text = lines(&screen);
    let footer = text.last().unwrap();
    assert!(
        footer.contains("? help") && footer.contains("q quit"),
        "{footer}"
    );
    // The message wraps above the keys; joined, its lines hold the whole path.
    let above: String = text[text.len() - 3..text.len() - 1]
        .iter()
        .map(|l| l.trim())
        .collect();
    assert!(above.contains(path), "path not whole:\n{}", text.join("\n"));
    insta::assert_snapshot!(screen);
    // On the lowest screens drawn the message takes two lines at most, and nothing panics.
    for w in 60..=90 {
        for h in 15..=24 {
            let text = lines(&draw(&f.store, &mut v, w, h, now));
            let footer = text.last().unwrap();
            assert!(
                footer.contains("? help") && footer.contains("q quit"),
                "{footer}"
            );
            if h < 24 {
                assert!(text[text.len() - 4].starts_with('╰'), "{}", text.join("\n"));
            }
        }
    }
    // Once it has expired the panels get the lines back.
    let later = draw(&f.store, &mut v, 80, 24, now + Duration::seconds(17));
    let text = lines(&later);
    assert!(!text.join("\n").contains("export written"));
    assert!(text[text.len() - 2].starts_with('╰'));
}

#[test]
fn a_quiet_second_draws_above_an_idle_one_on_screen() {
    let f = match_day();
    let mut v = view();
    let c = f.store.counters();
    let total = c.accepted + c.duplicate + c.rejected;
    // The view learns the rate from the counters it sees each frame; feed it one busy
    // second (1,000 requests), one quiet (1) and one idle.
    let t = match_day_now();
    let mut fake = |secs: i64, total: u64| v.rate.observe(t + Duration::seconds(secs), total);
    fake(0, total);
    fake(1, total + 1000);
    fake(2, total + 1001);
    fake(3, total + 1001);
    let screen = draw(&f.store, &mut v, 200, 50, t + Duration::seconds(3));
    let header = &lines(&screen)[2];
    assert!(header.contains("·█▁· 0/s"), "{header}");
}

#[test]
fn last_callback_turns_to_a_warning_after_five_minutes_of_silence() {
    let f = match_day();
    let mut v = ViewState::new(Theme { color: true }, true);
    // The newest valid callback is publish_done at 4010 s (the rejected one does not count).
    let style_of_age = |v: &mut ViewState, after: i64| {
        let screen = draw(&f.store, v, 120, 40, at(4010 + after));
        let text = lines(&screen);
        let age = format!("{} ago", recmon::util::human::hms(after));
        let x = text[2]
            .find(&age)
            .map(|byte| text[2][..byte].chars().count())
            .unwrap_or_else(|| panic!("{age} not in {}", text[2]));
        (text[2].clone(), screen.buffer()[(x as u16, 2)].fg)
    };
    let (line, fg) = style_of_age(&mut v, 300);
    assert!(line.contains("last callback 0:05:00 ago"), "{line}");
    assert_ne!(fg, Color::Yellow, "five minutes is not yet silence");
    let (line, fg) = style_of_age(&mut v, 301);
    assert!(line.contains("last callback 0:05:01 ago"), "{line}");
    assert_eq!(fg, Color::Yellow, "silence past five minutes is a warning");
    let mut plain = view();
    insta::assert_snapshot!(lines(&draw(&f.store, &mut plain, 120, 40, at(4311)))[..3].join("\n"));
}

#[test]
fn freeze_says_how_many_of_the_arrivals_were_rejected() {
    let mut f = match_day();
    let now = match_day_now();
    let mut v = view();
    draw(&f.store, &mut v, 120, 40, now);
    press(&mut v, &f.store, now, &[KeyCode::Char(' ')]);
    f.status(4101, "sports", "match-cam-1", "record_paused");
    f.request(4102, "POST", "/recmon", "{still not json");
    f.request(4103, "PUT", "/recmon", "");
    let text = lines(&draw(&f.store, &mut v, 120, 40, at(4110))).join("\n");
    assert!(
        text.contains("FROZEN · 3 requests arrived meanwhile (2 rejected, 0 recordings)"),
        "{text}"
    );
    // At 80 columns the short form still has both numbers.
    let text = lines(&draw(&f.store, &mut v, 80, 24, at(4110))).join("\n");
    assert!(text.contains("FROZEN · 3 new (2 rejected)"), "{text}");
}

#[test]
fn time_columns_name_their_zone() {
    let f = match_day();
    let now = match_day_now();
    let mut v = view();
    let text = lines(&draw(&f.store, &mut v, 120, 40, now)).join("\n");
    assert!(text.contains("start (UTC)") && text.contains("time (UTC)"));
    press(&mut v, &f.store, now, &[KeyCode::Char('t')]);
    let text = lines(&draw(&f.store, &mut v, 120, 40, now)).join("\n");
    assert!(
        text.contains("start (local)") && text.contains("time (local)"),
        "{text}"
    );
}

#[test]
fn a_wide_terminal_shows_a_long_stream_name_whole_and_a_huge_duration_stays_short() {
    let mut f = Feed::new();
    let app = "some-really-long-application-name";
    let stream = "a-stream-with-a-rather-long-name-cam-7";
    f.status(0, app, stream, "record_paused");
    // Finite, so the classifier accepts it; no recording lasts 1e300 s.
    f.request(
        5,
        "POST",
        "/recmon",
        r#"{"domain":"live.example.com","app":"live","stream":"huge","uri":"live/huge/0.flv","duration":1e300}"#,
    );
    let now = at(10);
    let name = format!("live.example.com/{app}/{stream}");
    assert!(
        name.len() > 80,
        "the name must be longer than the column's cap"
    );

    let mut v = view();
    let wide = lines(&draw(&f.store, &mut v, 200, 50, now));
    let streams = panel(&wide, "Streams");
    assert!(
        streams.iter().any(|l| l.contains(&name)),
        "200 columns with blank space, yet the name is cut:\n{}",
        streams.join("\n")
    );
    let huge = "1.000e300 s ⚠";
    assert!(wide.iter().any(|l| l.contains(huge)), "{}", wide.join("\n"));

    // At 80 columns the huge value does not push the uri out of the recordings table.
    let mut v = view();
    let narrow = lines(&draw(&f.store, &mut v, 80, 24, now));
    let recordings = panel(&narrow, "Recordings");
    assert!(recordings[0].contains("uri"), "{}", recordings.join("\n"));
    assert!(
        recordings
            .iter()
            .any(|l| l.contains(huge) && l.contains("0.flv")),
        "{}",
        recordings.join("\n")
    );
}
