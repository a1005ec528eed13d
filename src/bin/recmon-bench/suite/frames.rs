//! `frames`: frame cost with 1,000 against many recordings (TestBackend 200×50), in this
//! process; and the stores the in-process measurements build.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use recmon::core::journal::JournalEntry;
use recmon::core::store::Store;
use recmon::event::Outcome;
use recmon::event::{Callback, RecordingGenerated, StatusEvent, StreamId};
use recmon::views::tui::state::Source;
use recmon::views::tui::theme::Theme;
use recmon::views::tui::{handle_key, render, HeaderInfo, ViewState};

use super::report::{Row, Verdict};
use super::{median, Suite};

/// Median milliseconds per frame in three situations.
pub struct FrameCost {
    /// Following the newest rows.
    pub follow: f64,
    /// From setting a filter on.
    pub filter: FilterFrames,
    /// Scrolled to the middle of the recordings, streams sorted by state.
    pub middle: f64,
}

/// Frame times from the moment a filter is set.
pub struct FilterFrames {
    /// Median over every frame from setting the filter to 200 frames after it was applied.
    pub median: f64,
    /// Milliseconds of each frame drawn while the filter was still being applied.
    pub filtering: Vec<f64>,
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_780_800 + secs, 0).unwrap()
}

fn entry(seq: u64, t: DateTime<Utc>) -> JournalEntry {
    JournalEntry {
        seq,
        received_at: t,
        remote: "203.0.113.7:40000".into(),
        method: "POST".into(),
        path: "/cb".into(),
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
    }
}

/// A journal entry for the memory measurement.
pub fn entry_for_memory(seq: u64, t: DateTime<Utc>, outcome: Outcome) -> JournalEntry {
    let mut e = entry(seq, t);
    e.outcome = outcome;
    e
}

/// A store of `streams` streams in every state (recording, paused, live without
/// recording, offline), each with two files (a gap and a short file among them), and the
/// alert rules on: what one evaluation tick of the alert engine goes over.
pub fn alerting_store(streams: usize) -> Store {
    let mut store = Store::default();
    store.set_alert_config(recmon::core::alerts::AlertConfig::default());
    let line: Arc<str> = Arc::from("{}");
    let mut seq = 0;
    for s in 0..streams {
        let id = StreamId {
            domain: format!("live{}.example.com", s % 10),
            app: "studio".into(),
            stream: format!("cam-{s}"),
        };
        let event = ["record_started", "record_paused", "record_resumed", "none"][s % 4];
        if event != "none" {
            seq += 1;
            let cb = Callback::Status(StatusEvent {
                id: id.clone(),
                event: event.into(),
                detail: None,
                time: None,
            });
            store.apply(&entry(seq, at(0)), Some(&cb), line.clone());
        }
        for n in 0..2i64 {
            seq += 1;
            let start = 1_795_780_800 + n * 610;
            let cb = Callback::Recording(RecordingGenerated {
                id: id.clone(),
                uri: format!("record/{}/{n}.m3u8", id.stream),
                duration: Some(if s % 5 == 0 && n == 1 { 4.0 } else { 600.0 }),
                start_time: Some(start),
                stop_time: Some(start + 600),
                push_args: Vec::new(),
                file_size: None,
            });
            store.apply(&entry(seq, at(n * 600)), Some(&cb), line.clone());
        }
    }
    store
}

/// A store with `n` recordings over 20 streams.
pub fn store_with(n: usize) -> Store {
    let mut store = Store::default();
    let line: Arc<str> = Arc::from("{}");
    let ids: Vec<StreamId> = (0..20)
        .map(|s| StreamId {
            domain: "live.example.com".into(),
            app: "studio".into(),
            stream: format!("cam-{s}"),
        })
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let cb = Callback::Status(StatusEvent {
            id: id.clone(),
            event: ["record_started", "record_paused", "record_resumed"][i % 3].into(),
            detail: None,
            time: None,
        });
        store.apply(&entry(i as u64 + 1, at(0)), Some(&cb), line.clone());
    }
    for n_ in 0..n {
        let id = &ids[n_ % ids.len()];
        let cb = Callback::Recording(RecordingGenerated {
            id: id.clone(),
            uri: format!(
                "record/studio/{}/{n_}_1795780800_1795781100.m3u8",
                id.stream
            ),
            duration: Some(300.0 + (n_ % 7) as f64),
            start_time: Some(1_795_780_800 + n_ as i64),
            stop_time: Some(1_795_781_100 + n_ as i64),
            push_args: vec![("callback_show".into(), format!("show-{}", n_ % 13))],
            file_size: None,
        });
        store.apply(
            &entry(n_ as u64 + 100, at(n_ as i64)),
            Some(&cb),
            line.clone(),
        );
    }
    store
}

fn header() -> HeaderInfo {
    HeaderInfo {
        listen: "0.0.0.0:8080".parse().unwrap(),
        loopback_only: false,
        signature_checking: true,
        journal_path: Some("recmon.jsonl".into()),
        started_at: at(0),
    }
}

fn draw_timed(
    term: &mut Terminal<TestBackend>,
    store: &Store,
    view: &mut ViewState,
    now: DateTime<Utc>,
) -> f64 {
    let ctx = header();
    let start = Instant::now();
    term.draw(|f| render(f, store, view, now, &ctx)).unwrap();
    start.elapsed().as_secs_f64() * 1000.0
}

fn median_of(mut times: Vec<f64>) -> f64 {
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    times[times.len() / 2]
}

fn time_frames(store: &Store, view: &mut ViewState, now: DateTime<Utc>) -> f64 {
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    for _ in 0..30 {
        draw_timed(&mut term, store, view, now);
    }
    median_of(
        (0..200)
            .map(|_| draw_timed(&mut term, store, view, now))
            .collect(),
    )
}

/// Sets `needle` as the filter on a warmed-up view and times every frame from then on:
/// the frames that apply it, then 200 more.
pub fn time_filter(
    store: &Store,
    view: &mut ViewState,
    now: DateTime<Utc>,
    needle: &str,
) -> FilterFrames {
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    for _ in 0..30 {
        draw_timed(&mut term, store, view, now);
    }
    view.set_filter(needle.into());
    let mut filtering = Vec::new();
    // The filter is applied a budget per frame; a ceiling keeps a broken index from
    // looping for ever.
    while view.filter_pending(&Source::new(store, None, now)) > 0 && filtering.len() < 100_000 {
        filtering.push(draw_timed(&mut term, store, view, now));
    }
    let mut all = filtering.clone();
    all.extend((0..200).map(|_| draw_timed(&mut term, store, view, now)));
    FilterFrames {
        median: median_of(all),
        filtering,
    }
}

/// Measures the three frame costs for a store of `n` recordings.
pub fn measure(n: usize) -> FrameCost {
    let store = store_with(n);
    let now = at(n as i64 + 10);
    let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
    let mut view = ViewState::new(Theme { color: true }, true);
    let follow = time_frames(&store, &mut view, now);

    let mut view = ViewState::new(Theme { color: true }, true);
    let filter = time_filter(&store, &mut view, now, "show-7");

    let mut view = ViewState::new(Theme { color: true }, true);
    handle_key(&mut view, &key(KeyCode::Char('s')), &store, now);
    handle_key(&mut view, &key(KeyCode::Tab), &store, now);
    handle_key(&mut view, &key(KeyCode::Home), &store, now);
    // Select the middle row (not following), as the user would with PgDn.
    view.recordings.move_by((n / 2) as isize, n);
    let middle = time_frames(&store, &mut view, now);
    FrameCost {
        follow,
        filter,
        middle,
    }
}

impl Suite {
    /// Frame cost with 1,000 vs many recordings (TestBackend 200×50), in this process.
    pub fn frame_cost(&mut self) {
        let small = measure(1_000);
        let big = measure(self.size.big);
        for (label, s, b) in [
            ("following the newest rows", small.follow, big.follow),
            (
                "scrolled to the middle, sorted by state",
                small.middle,
                big.middle,
            ),
        ] {
            let ratio = b / s;
            self.rows.push(Row {
                what: format!("Frame cost, {label}"),
                value: format!("{:.3} ms with {} recordings", b, self.size.big),
                baseline: format!("{s:.3} ms with 1,000"),
                ratio: format!("{ratio:.2}×"),
                target: "ratio near 1, ≤ 2 ms".into(),
                verdict: Verdict::of(b <= 2.0 && ratio <= 1.5),
                raw: format!("median of 200 frames each; small {s:.4} ms, big {b:.4} ms"),
            });
        }
        // The filter row counts every frame from the key press on, the frames that apply
        // the filter to the recordings (a budget per frame) included.
        let (s, b) = (&small.filter, &big.filter);
        let ratio = b.median / s.median;
        self.rows.push(Row {
            what: "Frame cost, filter active (from setting it)".into(),
            value: format!(
                "{:.3} ms with {} recordings; the {}: median {:.3} ms, worst {:.3} ms",
                b.median,
                self.size.big,
                recmon::util::human::count(
                    b.filtering.len() as u64,
                    "frame that filters",
                    "frames that filter"
                ),
                median(&mut b.filtering.clone()),
                b.filtering.iter().cloned().fold(0.0, f64::max),
            ),
            baseline: format!("{:.3} ms with 1,000", s.median),
            ratio: format!("{ratio:.2}×"),
            target: "ratio near 1, ≤ 2 ms (filtering frames too)".into(),
            verdict: Verdict::of(
                b.median <= 2.0 && ratio <= 1.5 && median(&mut b.filtering.clone()) <= 2.0,
            ),
            raw: format!(
                "median of all frames from setting the filter to 200 frames after it was \
                 applied; small {:.4} ms, big {:.4} ms; frames that filter: small {:.3?} ms, \
                 big {:.3?} ms",
                s.median, b.median, s.filtering, b.filtering
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_row_times_the_frames_that_apply_the_filter() {
        use recmon::views::tui::state::FILTER_BUDGET;
        use recmon::views::tui::theme::Theme;
        use recmon::views::tui::ViewState;
        // More recordings than one frame's budget: applying the filter takes two frames,
        // and both must be among the timed ones.
        let n = FILTER_BUDGET + 10;
        let store = store_with(n);
        let now = chrono::DateTime::from_timestamp(1_795_780_800 + n as i64, 0).unwrap();
        let mut view = ViewState::new(Theme { color: false }, true);
        let timed = time_filter(&store, &mut view, now, "show-7");
        assert_eq!(timed.filtering.len(), 2, "{:?}", timed.filtering);
        assert!(timed.filtering.iter().all(|ms| *ms > 0.0));
    }
}
