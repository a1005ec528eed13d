//! Whole-screen snapshots of alerts on the terminal UI: the count in the header, the marks on
//! the streams they are about, and the `a` list, from alert rules evaluated at a fixed time.

use ratatui::crossterm::event::KeyCode;
use recmon::core::alerts::AlertConfig;

mod tui_fixture;
use tui_fixture::*;

fn file(f: &mut Feed, t: i64, stream: &str, n: u32, start: i64, stop: i64, d: f64) {
    let body = format!(
        r#"{{"domain":"live.example.com","app":"studio","stream":"{stream}","uri":"record/{stream}/{n}.m3u8","duration":{d},"start_time":{start},"stop_time":{stop}}}"#
    );
    f.request(t, "POST", "/recmon", &body);
}

/// A paused stream past its threshold (warning), a live stream that never recorded
/// (critical), a resolved gap, and a healthy stream.
fn alerting() -> Feed {
    let mut f = Feed::new();
    f.store.set_alert_config(AlertConfig::default());
    let b = base().timestamp();
    status(&mut f, 0, "cam-1", "record_started");
    status(&mut f, 10, "cam-2", "record_started");
    status(&mut f, 20, "cam-2", "record_paused");
    f.request(
        30,
        "GET",
        "/pub?action=publish&app=live.example.com&appname=studio&id=cam-3",
        "",
    );
    file(&mut f, 100, "cam-1", 0, b, b + 60, 60.0);
    file(&mut f, 200, "cam-1", 1, b + 90, b + 150, 60.0); // a 30 s gap
    recmon::core::alerts::tick(&mut f.store, at(201));
    file(&mut f, 300, "cam-1", 2, b + 150, b + 210, 60.0); // contiguous: the gap resolves
    recmon::core::alerts::tick(&mut f.store, at(400));
    f
}

#[test]
fn the_header_counts_the_alerts_and_the_streams_are_marked() {
    let f = alerting();
    let mut v = view();
    let screen = draw_session(&f.store, &mut v, 140, 32, at(400));
    let text = screen.to_string();
    assert!(
        text.contains("⚠ 2 alerts (1 critical, a lists them)"),
        "{text}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn the_alerts_list_shows_what_fires_and_what_resolved() {
    let f = alerting();
    let mut v = view();
    press(&mut v, &f.store, at(400), &[KeyCode::Char('a')]);
    let screen = draw_session(&f.store, &mut v, 140, 32, at(400));
    let text = screen.to_string();
    assert!(text.contains("alerts · 2 firing"), "{text}");
    assert!(text.contains("live_not_recording"), "{text}");
    assert!(text.contains("resolved lately (1)"), "{text}");
    insta::assert_snapshot!(screen);
}

#[test]
fn alerts_fit_80_by_24() {
    let f = alerting();
    let mut v = view();
    let screen = draw_session(&f.store, &mut v, 80, 24, at(400));
    let text = screen.to_string();
    assert!(text.contains("⚠ 2"), "{text}");
    assert!(text.contains("? help") && text.contains("q quit"), "{text}");
    insta::assert_snapshot!(screen);
}
