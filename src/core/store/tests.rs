//! The store's tests, and the helpers other modules' tests use
//! (`crate::core::store::tests::{entry, run, status, recording}`).

use super::streams::NonMaxIndex;
use super::*;
use crate::core::dedup::Deduper;
use crate::event::RecordState;

#[test]
fn spans_of_extreme_provider_times_do_not_overflow() {
    assert_eq!(span_s(Some(i64::MIN), Some(i64::MAX)), None);
    assert_eq!(span_s(Some(i64::MAX), Some(i64::MIN)), None);
    assert_eq!(span_s(Some(10), Some(70)), Some(60));
    assert_eq!(span_s(None, Some(70)), None);
}
use crate::event::Method;
use crate::providers::aliyun::classify;
use std::collections::BTreeMap;

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
}

/// A journal entry of a POST at `t` with this outcome (the tests' own requests).
pub(crate) fn entry(seq: u64, t: DateTime<Utc>, outcome: Outcome) -> JournalEntry {
    JournalEntry {
        seq,
        received_at: t,
        remote: "127.0.0.1:1".into(),
        method: "POST".into(),
        path: "/".into(),
        headers: BTreeMap::new(),
        outcome,
        status: 200,
        provider: Default::default(),
        kind: None,
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

pub(crate) fn status(stream: &str, event: &str) -> Callback {
    classify(
        Method::Post,
        None,
        format!(r#"{{"domain":"d","app":"a","stream":"{stream}","event":"{event}"}}"#).as_bytes(),
    )
    .unwrap()
}

pub(crate) fn recording(stream: &str, uri: &str, dur: f64) -> Callback {
    classify(
        Method::Post,
        None,
        format!(
            r#"{{"domain":"d","app":"a","stream":"{stream}","uri":"{uri}","duration":{dur},"start_time":100,"stop_time":110}}"#
        )
        .as_bytes(),
    )
    .unwrap()
}

/// Runs callbacks through a deduper and a store like the sequencer does.
pub(crate) fn run(cbs: &[(i64, Callback)]) -> (Store, Vec<Outcome>) {
    let mut store = Store::default();
    let mut dedup = Deduper::default();
    let mut outcomes = vec![];
    for (i, (t, cb)) in cbs.iter().enumerate() {
        let (o, _) = dedup.decide(cb, at(*t));
        store.apply(&entry(i as u64 + 1, at(*t), o), Some(cb), Arc::from(""));
        outcomes.push(o);
    }
    (store, outcomes)
}

#[test]
fn states_follow_status_events_and_unknown_events_keep_state() {
    let (store, _) = run(&[
        (0, status("s", "record_started")),
        (5, status("s", "record_paused")),
        (9, status("s", "record_stopped")),
    ]);
    let s = &store.streams()[0];
    assert_eq!(s.state, RecordState::Paused);
    assert_eq!(s.state_since, Some(at(5)));
    assert_eq!(s.last_event.as_deref(), Some("record_stopped"));
    assert_eq!(s.last_event_at, Some(at(9)));
    assert_eq!(s.pauses, 1);
}

#[test]
fn resumed_without_start_is_resumed() {
    let (store, _) = run(&[(0, status("s", "record_resumed"))]);
    assert_eq!(store.streams()[0].state, RecordState::Resumed);
}

#[test]
fn recording_for_unseen_stream_creates_it_with_state_none() {
    let (store, _) = run(&[(0, recording("x", "u1", 10.0))]);
    let s = &store.streams()[0];
    assert_eq!(s.state, RecordState::None);
    assert_eq!(s.recordings, 1);
    assert_eq!(s.total_duration_s, 10.0);
    assert_eq!(s.last_recording, Some(0));
}

#[test]
fn duplicate_recordings_count_once() {
    let (store, outcomes) = run(&[
        (0, recording("s", "u1", 10.0)),
        (1, recording("s", "u1", 10.0)),
        (500, recording("s", "u1", 10.0)),
        (2, recording("t", "u1", 10.0)),
    ]);
    assert_eq!(
        outcomes,
        vec![
            Outcome::Accepted,
            Outcome::Duplicate,
            Outcome::Duplicate,
            Outcome::Accepted
        ]
    );
    assert_eq!(store.recordings().len(), 2);
    assert_eq!(
        store.counters(),
        Counters {
            accepted: 2,
            duplicate: 2,
            rejected: 0
        }
    );
}

#[test]
fn repeated_status_within_window_is_duplicate_after_it_is_not() {
    let (_, outcomes) = run(&[
        (0, status("s", "record_paused")),
        (1, status("s", "record_paused")),
        (29, status("s", "record_paused")),
        (31, status("s", "record_paused")),
        (32, status("s", "record_resumed")),
        (33, status("s", "record_paused")),
    ]);
    use Outcome::*;
    assert_eq!(
        outcomes,
        vec![Accepted, Duplicate, Duplicate, Accepted, Accepted, Accepted]
    );
}

/// Ingest callbacks as (stream, action, milliseconds from a fixed start).
type IngestEvents<'a> = &'a [(&'a str, &'a str, i64)];

fn ingest(stream: &str, action: &str) -> Callback {
    let query = format!("action={action}&app=d&appname=a&id={stream}");
    classify(Method::Get, Some(&query), b"").unwrap()
}

/// The ingest rule, written out independently: a callback is a retry when the stream's
/// last *accepted* ingest callback had the same action and arrived less than 30 000 ms
/// before or after it. Exactly 30 s apart is a new event.
fn ingest_oracle(events: &[(&str, &str, i64)]) -> Vec<Outcome> {
    let mut last: Vec<(&str, &str, i64)> = Vec::new();
    events
        .iter()
        .map(|&(stream, action, ms)| {
            let prev = last.iter().position(|(s, _, _)| *s == stream);
            let retry =
                prev.is_some_and(|i| last[i].1 == action && (ms - last[i].2).abs() < 30_000);
            if retry {
                return Outcome::Duplicate;
            }
            match prev {
                Some(i) => last[i] = (stream, action, ms),
                None => last.push((stream, action, ms)),
            }
            Outcome::Accepted
        })
        .collect()
}

fn decide_ingest(events: &[(&str, &str, i64)]) -> Vec<Outcome> {
    let mut d = Deduper::default();
    let t0 = at(0);
    events
        .iter()
        .map(|&(stream, action, ms)| {
            d.decide(
                &ingest(stream, action),
                t0 + chrono::Duration::milliseconds(ms),
            )
            .0
        })
        .collect()
}

#[test]
fn ingest_retries_within_30_s_are_duplicates_and_30_s_is_not() {
    use Outcome::{Accepted as A, Duplicate as D};
    // The boundary, by hand: 29.999 s is a retry, 30.000 s is not, either way in time.
    let cases: &[(IngestEvents, &[Outcome])] = &[
        (&[("s", "publish", 0), ("s", "publish", 29_999)], &[A, D]),
        (&[("s", "publish", 0), ("s", "publish", 30_000)], &[A, A]),
        (&[("s", "publish", 0), ("s", "publish", 30_001)], &[A, A]),
        (&[("s", "publish", 30_000), ("s", "publish", 1)], &[A, D]),
        (&[("s", "publish", 30_000), ("s", "publish", 0)], &[A, A]),
        // Another action is news, and it resets the window.
        (
            &[
                ("s", "publish", 0),
                ("s", "publish_done", 1_000),
                ("s", "publish", 2_000),
            ],
            &[A, A, A],
        ),
        // Another stream is news.
        (&[("s", "publish", 0), ("t", "publish", 1)], &[A, A]),
        // A duplicate does not move the window: measured from the last accepted one.
        (
            &[
                ("s", "publish", 0),
                ("s", "publish", 20_000),
                ("s", "publish", 35_000),
            ],
            &[A, D, A],
        ),
    ];
    for (events, want) in cases {
        assert_eq!(&ingest_oracle(events), want, "the oracle, on {events:?}");
        assert_eq!(&decide_ingest(events), want, "{events:?}");
    }
    // And on many sequences around the boundary, the deduper agrees with the oracle.
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let offsets = [
        0, 1, 999, 1_000, 29_000, 29_999, 30_000, 30_001, 31_000, 59_999, 60_000,
    ];
    for _ in 0..500 {
        let mut ms = 0i64;
        let events: Vec<(&str, &str, i64)> = (0..8)
            .map(|_| {
                ms += offsets[next(offsets.len() as u64) as usize];
                let stream = ["s", "t"][next(2) as usize];
                let action = ["publish", "publish_done"][next(2) as usize];
                (stream, action, ms)
            })
            .collect();
        assert_eq!(decide_ingest(&events), ingest_oracle(&events), "{events:?}");
    }
}

#[test]
fn undo_takes_decisions_back() {
    let mut d = Deduper::default();
    let cb = recording("s", "u", 1.0);
    let (o, u) = d.decide(&cb, at(0));
    assert_eq!(o, Outcome::Accepted);
    d.undo(u.unwrap());
    assert_eq!(d.decide(&cb, at(1)).0, Outcome::Accepted);
    let st = status("s", "record_started");
    let (_, u) = d.decide(&st, at(0));
    d.undo(u.unwrap());
    assert_eq!(d.decide(&st, at(1)).0, Outcome::Accepted);
}

#[test]
fn each_stream_lists_its_own_recordings_newest_first() {
    let (store, _) = run(&[
        (0, recording("a", "a1", 1.0)),
        (1, recording("b", "b1", 1.0)),
        (2, recording("a", "a2", 1.0)),
        (3, recording("b", "b1", 1.0)), // duplicate: not a recording
        (4, recording("b", "b2", 1.0)),
        (5, recording("a", "a3", 1.0)),
    ]);
    let uris = |s: &Stream, recs: &[Recording]| -> Vec<String> {
        s.recordings_newest_first(recs)
            .map(|(_, r)| r.uri.to_string())
            .collect()
    };
    let recs = store.recordings();
    assert_eq!(uris(&store.streams()[0], recs), ["a3", "a2", "a1"]);
    assert_eq!(uris(&store.streams()[1], recs), ["b2", "b1"]);
    // A prefix of the recordings (a frozen view) with the stream as it was then.
    let mut frozen_a = store.streams()[0].clone();
    frozen_a.last_recording = Some(2);
    assert_eq!(uris(&frozen_a, &recs[..3]), ["a2", "a1"]);
    // The link costs no memory: it fits in the padding.
    assert_eq!(std::mem::size_of::<Option<NonMaxIndex>>(), 4);
    #[cfg(target_pointer_width = "64")]
    assert_eq!(
        std::mem::size_of::<Recording>(),
        120,
        "as before the link, plus the file size"
    );
    assert_eq!(NonMaxIndex::new(0).map(NonMaxIndex::get), Some(0));
    assert_eq!(NonMaxIndex::new(u32::MAX as usize), None);
}

#[test]
fn log_is_bounded_counters_are_not() {
    let mut store = Store::new(3);
    for i in 0..10 {
        store.apply(&entry(i + 1, at(0), Outcome::Rejected), None, Arc::from(""));
    }
    assert_eq!(store.log().len(), 3);
    assert_eq!(store.log().front().unwrap().seq, 8);
    assert_eq!(store.counters().rejected, 10);
}

#[test]
fn the_log_keeps_typed_facts_not_words() {
    let (store, _) = run(&[
        (0, status("s", "no_such_event")),
        (1, recording("s", "u1", 10.0)),
    ]);
    let log = store.log();
    assert_eq!(log[0].facts, RequestDetail::UnknownEvent);
    assert_eq!(
        log[1].facts,
        RequestDetail::Recording {
            duration: Some(10.0),
            times: Some((100, 110)),
            size: None,
            mismatch: false,
        }
    );
    // The compatibility text is the renderer's, word for word.
    for e in log {
        assert_eq!(e.detail, crate::describe::request_detail(&e.facts));
    }
}
