//! Whole-screen snapshots of forwarding (`--forward-to`) on the terminal UI: the delivery
//! column of the request log, the target in the header (pending, the oldest's age, failed),
//! and a request's attempts in its detail, from delivery lines applied as the sequencer
//! applies them.

use ratatui::crossterm::event::KeyCode;
use recmon::core::outbox::DeliveryResult::{Delivered, Failed, Retry};

mod tui_fixture;
use tui_fixture::*;

const BACKEND: &str = "http://10.0.0.5:9000/callbacks";

/// A broadcast forwarded to a backend that fails from t=20 s: early callbacks delivered, one
/// given up on, one retrying, later ones waiting behind it, and a rejected request (never
/// forwarded).
fn outage() -> Feed {
    let mut f = Feed::new();
    f.forwarding(&[BACKEND]);
    status(&mut f, 0, "cam-1", "record_started"); // 1
    f.delivery(0, 1, BACKEND, 1, Delivered, Some(200), 3, None); // 2
    status(&mut f, 10, "cam-2", "record_started"); // 3
    f.delivery(10, 3, BACKEND, 1, Delivered, Some(200), 4, None); // 4
    f.request(15, "POST", "/recmon", "{not json"); // 5
    status(&mut f, 20, "cam-1", "record_paused"); // 6
    f.delivery(
        20,
        6,
        BACKEND,
        1,
        Retry,
        Some(503),
        12,
        Some("503 Service Unavailable"),
    ); // 7
    f.delivery(
        21,
        6,
        BACKEND,
        2,
        Retry,
        None,
        10000,
        Some("no answer within 10000 ms"),
    ); // 8
    f.delivery(
        33,
        6,
        BACKEND,
        3,
        Retry,
        Some(503),
        9,
        Some("503 Service Unavailable"),
    ); // 9
    status(&mut f, 40, "cam-1", "record_resumed"); // 10, waits behind 6
    status(&mut f, 45, "cam-2", "record_paused"); // 11
    f.delivery(
        45,
        11,
        BACKEND,
        1,
        Failed,
        Some(500),
        7,
        Some("500 Internal Server Error; given up 0s after it arrived (--forward-give-up)"),
    ); // 12
    f
}

#[test]
fn the_request_log_shows_each_delivery_and_the_header_the_outbox() {
    let f = outage();
    let now = at(60);
    let mut v = view();
    let screen = draw_session(&f.store, &mut v, 140, 32, now);
    let text = screen.to_string();
    assert!(text.contains("✓ 200 3ms"), "{text}");
    assert!(text.contains("↻ retrying 3"), "{text}");
    assert!(text.contains("✗ failed 500"), "{text}");
    assert!(text.contains("… pending"), "{text}");
    assert!(text.contains("2 pending (oldest 0:00:40)"), "{text}");
    assert!(text.contains("1 failed"), "{text}");
    insta::assert_snapshot!(screen);
}

#[test]
fn forwarding_fits_80_by_24() {
    let f = outage();
    let mut v = view();
    let screen = draw_session(&f.store, &mut v, 80, 24, at(60));
    let text = screen.to_string();
    assert!(text.contains("2 pending"), "{text}");
    assert!(text.contains("? help") && text.contains("q quit"), "{text}");
    insta::assert_snapshot!(screen);
}

#[test]
fn the_detail_of_a_request_lists_its_attempts() {
    let f = outage();
    let now = at(60);
    let mut v = view();
    // The request log; from the newest request up to seq 6 (record_paused of cam-1): 11, 10, 6.
    press(
        &mut v,
        &f.store,
        now,
        &[KeyCode::BackTab, KeyCode::Up, KeyCode::Up, KeyCode::Enter],
    );
    let screen = draw_session(&f.store, &mut v, 140, 40, now);
    let text = screen.to_string();
    assert!(text.contains("request · seq 6"), "{text}");
    assert!(text.contains("retrying: 3 attempts so far"), "{text}");
    assert!(text.contains("no answer within 10000 ms"), "{text}");
    // The backend's answer is shown inert: its escape sequences as text.
    assert!(
        text.contains("answer: \\x1b[2J\\x1b]0;pwned\\x07<h1>"),
        "{text}"
    );
    for cell in screen.buffer().content() {
        assert!(
            !cell
                .symbol()
                .chars()
                .any(recmon::util::sanitize::is_unsafe_char),
            "a raw control character reached the screen: {:?}",
            cell.symbol()
        );
    }
    insta::assert_snapshot!(screen);
}
