//! Whole-screen snapshot of the screen after `recmon reconcile --backfill`: the recordings
//! filled in from the provider's records marked `⟲`, and the header's last reconcile.

use ratatui::crossterm::event::KeyCode;
use recmon::core::reconciled::{Reconciled, ReconciledLine};
use recmon::event::Provider;
use serde_json::value::RawValue;

mod tui_fixture;
use tui_fixture::*;

fn file(n: u32) -> String {
    format!(
        r#"{{"domain":"live.example.com","app":"live","stream":"cam-1","uri":"record/live/cam-1/{n}.flv","duration":600,"start_time":{},"stop_time":{}}}"#,
        1_800_000_000 + n * 600,
        1_800_000_600 + n * 600
    )
}

/// A reconciled line, written and read back, applied as a backfill's sequencer applies it.
fn backfilled(f: &mut Feed, t: i64, sent: i64, body: &str) {
    f.seq += 1;
    let line = ReconciledLine {
        seq: f.seq,
        received_at: at(t),
        reconciled: Reconciled {
            provider: Provider::Aliyun,
            sent_at: at(sent),
            notify_url: "https://rec.example.com/recmon".into(),
            notify_result: "failed".into(),
            notify_type: Some("record".into()),
            body: RawValue::from_string(body.to_string()).unwrap(),
        },
    };
    let text = serde_json::to_string(&line).unwrap();
    let back: ReconciledLine = serde_json::from_str(&text).unwrap();
    let cb = back.reconciled.callback().expect("a callback");
    f.store.apply_reconciled(&back, &cb);
}

#[test]
fn backfilled_recordings_are_marked_and_the_header_says_when() {
    let mut f = Feed::new();
    status(&mut f, 0, "cam-1", "record_started");
    f.request(600, "POST", "/recmon", &file(1));
    // The receiver was down from 1,000 s to 2,500 s: files 2 and 3 never came.
    f.request(2_400, "POST", "/recmon", &file(4));
    backfilled(&mut f, 3_000, 1_200, &file(2));
    backfilled(&mut f, 3_000, 1_800, &file(3));
    let now = at(3_010);
    let mut v = view();
    press(&mut v, &f.store, now, &[KeyCode::Tab]);
    let screen = draw_session(&f.store, &mut v, 160, 30, now);
    let text = screen.to_string();
    assert!(
        text.contains("⟲ 2 missed callbacks filled in from the provider's records (last reconcile"),
        "{text}"
    );
    assert!(text.contains("⟲ reconciled"), "{text}");
    assert_eq!(
        text.matches("⟲1").count() + text.matches("⟲0").count() + text.matches("⟲2").count(),
        2,
        "{text}"
    );
    // Backfilled lines are not requests received.
    assert!(text.contains("✓ 3 accepted"), "{text}");
    insta::assert_snapshot!(screen);
}
