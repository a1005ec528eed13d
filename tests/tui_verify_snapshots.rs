//! Whole-screen snapshots of recording proof (`--verify`) on the terminal UI: the recordings
//! table's file column (ok, short with measured of claimed, missing, unchecked, and a file
//! still being checked) and a recording's detail with claimed against measured, from verdict
//! lines written and read back as the journal does.

use std::sync::Arc;

use ratatui::crossterm::event::KeyCode;
use recmon::core::checks::{FileVerdict, VerdictLine};
use recmon::verify::media::Container;
use recmon::verify::verdict::{Unchecked, Verdict};

mod tui_fixture;
use tui_fixture::*;

fn file(f: &mut Feed, t: i64, stream: &str, n: u32, duration: f64) -> u64 {
    let body = format!(
        r#"{{"domain":"live.example.com","app":"live","stream":"{stream}","uri":"record/live/{stream}/{n}.flv","duration":{duration},"start_time":{},"stop_time":{}}}"#,
        1_800_000_000 + t - duration as i64,
        1_800_000_000 + t
    );
    f.request(t, "POST", "/recmon", &body);
    f.seq
}

/// A verdict line, written and read back, applied as the sequencer applies it.
fn verdict(f: &mut Feed, t: i64, of: u64, v: Verdict, measured: Option<f64>, claimed: f64) {
    f.seq += 1;
    let line = VerdictLine {
        seq: f.seq,
        received_at: at(t),
        verdict: FileVerdict {
            of,
            verdict: v,
            also: Vec::new(),
            location: format!("oss://rec-bucket/record/live/{of}.flv"),
            claimed_s: Some(claimed),
            measured_s: measured,
            size: measured.map(|m| (m * 250_000.0) as u64),
            container: measured.map(|_| Container::Flv),
            audio: measured.map(|_| true),
            video: measured.map(|_| true),
            bytes_read: if measured.is_some() { 163_840 } else { 0 },
            attempts: if v == Verdict::Missing { 6 } else { 1 },
        },
    };
    let text = serde_json::to_string(&line).unwrap();
    let back: VerdictLine = serde_json::from_str(&text).unwrap();
    f.store.apply_verdict(&back);
    let _ = Arc::<str>::from(text);
}

/// Four cameras' files: one ok, one cut short (21:04 of 3:00:00), one missing, one the store
/// refused to show recmon (403), and the newest still being checked.
fn session() -> Feed {
    let mut f = Feed::new();
    f.store.set_verifying(true);
    let a = file(&mut f, 3_600, "cam-1", 1, 3_600.0);
    verdict(&mut f, 3_610, a, Verdict::Ok, Some(3_600.2), 3_600.0);
    let b = file(&mut f, 10_800, "cam-2", 1, 10_800.0);
    verdict(&mut f, 10_810, b, Verdict::Short, Some(1_264.4), 10_800.0);
    let c = file(&mut f, 10_900, "cam-3", 1, 600.0);
    verdict(&mut f, 11_100, c, Verdict::Missing, None, 600.0);
    let d = file(&mut f, 11_000, "cam-4", 1, 300.0);
    verdict(
        &mut f,
        11_010,
        d,
        Verdict::Unchecked(Unchecked::Forbidden),
        None,
        300.0,
    );
    file(&mut f, 11_200, "cam-1", 2, 7_600.0);
    f
}

#[test]
fn the_recordings_table_says_what_each_file_is() {
    let f = session();
    let now = at(11_205);
    let mut v = view();
    press(&mut v, &f.store, now, &[KeyCode::Tab]);
    let screen = draw_session(&f.store, &mut v, 160, 30, now);
    let text = screen.to_string();
    assert!(text.contains("✓"), "{text}");
    assert!(text.contains("✗ short 0:21:04 of 3:00:00"), "{text}");
    assert!(text.contains("✗ missing"), "{text}");
    assert!(text.contains("? unchecked: 403"), "{text}");
    assert!(text.contains("… checking"), "{text}");
    insta::assert_snapshot!(screen);
}

#[test]
fn the_detail_of_a_short_file_shows_claimed_against_measured() {
    let f = session();
    let now = at(11_205);
    let mut v = view();
    // The recordings, then up from the newest to cam-2's file.
    press(
        &mut v,
        &f.store,
        now,
        &[
            KeyCode::Tab,
            KeyCode::Up,
            KeyCode::Up,
            KeyCode::Up,
            KeyCode::Enter,
        ],
    );
    let screen = draw_session(&f.store, &mut v, 140, 44, now);
    let text = screen.to_string();
    assert!(text.contains("the file (--verify)"), "{text}");
    assert!(text.contains("short"), "{text}");
    assert!(
        text.contains("claimed       3:00:00.000 (10800 s)"),
        "{text}"
    );
    assert!(
        text.contains("measured      0:21:04.400 (1264.4 s)"),
        "{text}"
    );
    assert!(text.contains("-9535.600 s"), "{text}");
    insta::assert_snapshot!(screen);
}
