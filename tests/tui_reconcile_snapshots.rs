//! Whole-screen snapshot of the screen after `recmon reconcile --backfill`: the recordings
//! filled in from the provider's records marked `⟲`, and the header's last reconcile (from
//! the callbacks filled in, or from the journaled run summaries, even a run that found
//! nothing).

use ratatui::crossterm::event::KeyCode;
use std::collections::BTreeMap;

use recmon::core::reconciled::{
    ReconcileRun, ReconcileRunLine, Reconciled, ReconciledLine, RunTrigger,
};
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
        forward: Vec::new(),
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

/// A run's summary line at `t`, written and read back, applied as the sequencer applies it.
fn run(f: &mut Feed, t: i64, findings: &[(&str, u64)], filled: u64) {
    f.seq += 1;
    let line = ReconcileRunLine {
        seq: f.seq,
        received_at: at(t + 2),
        reconcile_run: ReconcileRun {
            at: at(t),
            from: at(t - 4_200),
            to: at(t - 600),
            by: RunTrigger::Every,
            findings: findings
                .iter()
                .map(|(k, n)| (k.to_string(), *n))
                .collect::<BTreeMap<_, _>>(),
            domains: BTreeMap::new(),
            filled,
            notes: Vec::new(),
        },
    };
    let text = serde_json::to_string(&line).unwrap();
    let back: ReconcileRunLine = serde_json::from_str(&text).unwrap();
    f.store.apply_reconcile_run(&back);
}

#[test]
fn a_reconcile_that_found_nothing_shows_in_the_header() {
    let mut f = Feed::new();
    status(&mut f, 0, "cam-1", "record_started");
    f.request(600, "POST", "/recmon", &file(1));
    f.request(1_200, "POST", "/recmon", &file(2));
    run(&mut f, 3_600, &[], 0);
    let now = at(3_610);
    let mut v = view();
    let screen = draw_session(&f.store, &mut v, 160, 30, now);
    let text = screen.to_string();
    assert!(
        text.contains(
            "⟲ last reconcile 13:00:00, missed 0; 0 callbacks filled in from the providers' records"
        ),
        "{text}"
    );
    // A run's summary is not a request received.
    assert!(text.contains("✓ 3 accepted"), "{text}");
    assert_eq!(f.store.reconciled().runs(), 1);
    insta::assert_snapshot!(screen);

    // Narrower: the shorter forms.
    let narrow = draw_session(&f.store, &mut v, 100, 30, now).to_string();
    assert!(narrow.contains("⟲"), "{narrow}");
}

#[test]
fn the_last_run_is_the_one_shown_with_the_total_filled_in() {
    let mut f = Feed::new();
    status(&mut f, 0, "cam-1", "record_started");
    f.request(600, "POST", "/recmon", &file(1));
    f.request(2_400, "POST", "/recmon", &file(4));
    backfilled(&mut f, 3_000, 1_200, &file(2));
    backfilled(&mut f, 3_000, 1_800, &file(3));
    run(&mut f, 3_000, &[("missed", 2), ("config", 1)], 2);
    // An hour later: nothing more missed (the config finding stands).
    run(&mut f, 6_600, &[("config", 1)], 0);
    let now = at(6_610);
    let mut v = view();
    let screen = draw_session(&f.store, &mut v, 160, 30, now);
    let text = screen.to_string();
    assert!(
        text.contains(
            "⟲ last reconcile 13:50:00, missed 0; 2 callbacks filled in from the providers' records"
        ),
        "{text}"
    );
    assert_eq!(f.store.reconciled().runs(), 2);
    insta::assert_snapshot!(screen);
}
