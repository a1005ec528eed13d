//! Snapshots of an attached view (`recmon attach`): the header's source states (connected and
//! live, catching up, reconnecting with its reason, two sources with one down) at 80 and 120
//! columns, and a merged screen whose request rows show their source. The store is built the
//! way the attach loop builds it: journal lines through [`Merge::apply`].

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use recmon::attach::merge::Merge;
use recmon::attach::status::{label, Link, SourceStatus};
use recmon::core::store::Store;
use recmon::views::tui::render_origin;
use recmon::views::{AttachedInfo, Origin};

mod tui_fixture;
use tui_fixture::*;

const A: &str = "http://127.0.0.1:8080";
const B: &str = "https://recmon-eu.example.com";

/// Journal lines of a short broadcast, written by the fixture as the sequencer writes them.
fn lines() -> Vec<String> {
    let mut f = Feed::new();
    let s = |stream: &str, event: &str| {
        format!(
            r#"{{"domain":"live.example.com","app":"studio","stream":"{stream}","event":"{event}"}}"#
        )
    };
    f.request(1, "POST", "/recmon", &s("cam-1", "record_started"));
    f.request(2, "POST", "/recmon", &s("cam-2", "record_started"));
    f.request(
        600,
        "POST",
        "/recmon",
        r#"{"domain":"live.example.com","app":"studio","stream":"cam-1","uri":"record/studio/cam-1/0.m3u8","duration":600,"start_time":1795780800,"stop_time":1795781400}"#,
    );
    f.request(620, "POST", "/recmon", &s("cam-2", "record_paused"));
    f.store.log().iter().map(|e| e.line.to_string()).collect()
}

/// The attached store: `lines` from the sources given, in that order, through the merge.
fn attached(urls: &[&str], from: &[usize], lines: &[String]) -> Store {
    let mut merge = Merge::new(urls.iter().map(|u| u.to_string()).collect());
    let mut store = Store::default();
    for (line, &source) in lines.iter().zip(from) {
        merge.apply(&mut store, source, line).unwrap();
    }
    store
}

fn status(urls: &[&str], i: usize, link: Link, last_seq: u64, catch_up_to: u64) -> SourceStatus {
    let mut s = SourceStatus::new(urls[i].to_string(), label(i, urls.len()), at(0));
    s.link = link;
    s.last_seq = last_seq;
    s.catch_up_to = catch_up_to;
    s.signature_checking = Some(true);
    s
}

fn draw(
    store: &Store,
    sources: Vec<SourceStatus>,
    w: u16,
    h: u16,
    now: DateTime<Utc>,
) -> TestBackend {
    let origin = Origin::Attached(AttachedInfo {
        sources: Arc::new(Mutex::new(sources)),
        copy_path: PathBuf::from("/tmp/recmon-attach-20261127-120000-x1y2z3.jsonl"),
    });
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut v = view();
    t.draw(|f| render_origin(f, store, &mut v, now, &origin))
        .unwrap();
    t.backend().clone()
}

/// The header's three lines at 80 and at 120 columns.
fn header_at_80_and_120(store: &Store, sources: Vec<SourceStatus>, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    for (w, h) in [(80u16, 24u16), (120, 30)] {
        let b = draw(store, sources.clone(), w, h, now);
        out.push_str(&format!("── {w}×{h} ──\n"));
        for y in 0..3 {
            let row: String = (0..w)
                .map(|x| b.buffer()[(x, y)].symbol().to_string())
                .collect();
            out.push_str(row.trim_end());
            out.push('\n');
        }
    }
    out
}

fn now() -> DateTime<Utc> {
    at(700)
}

#[test]
fn one_source_connected_and_live() {
    let l = lines();
    let store = attached(&[A], &[0; 4], &l);
    let sources = vec![status(&[A], 0, Link::Connected { since: at(0) }, 4, 4)];
    insta::assert_snapshot!(header_at_80_and_120(&store, sources, now()));
}

#[test]
fn one_source_catching_up() {
    let l = lines();
    let store = attached(&[A], &[0; 2], &l[..2]);
    let sources = vec![status(
        &[A],
        0,
        Link::Connected { since: at(0) },
        2,
        123_456,
    )];
    insta::assert_snapshot!(header_at_80_and_120(&store, sources, now()));
}

#[test]
fn one_source_reconnecting_with_its_reason() {
    let l = lines();
    let store = attached(&[A], &[0; 4], &l);
    let sources = vec![status(
        &[A],
        0,
        Link::Reconnecting {
            since: now() - Duration::seconds(75),
            reason:
                "cannot connect to 127.0.0.1:8080: connection refused (is the receiver running?)"
                    .into(),
        },
        4,
        4,
    )];
    insta::assert_snapshot!(header_at_80_and_120(&store, sources, now()));
}

#[test]
fn two_sources_one_down() {
    let l = lines();
    let store = attached(&[A, B], &[0, 1, 0, 1], &l);
    let sources = vec![
        status(&[A, B], 0, Link::Connected { since: at(0) }, 2, 2),
        status(
            &[A, B],
            1,
            Link::Reconnecting {
                since: now() - Duration::seconds(12),
                reason: "the receiver closed the connection mid-stream".into(),
            },
            2,
            2,
        ),
    ];
    insta::assert_snapshot!(header_at_80_and_120(&store, sources, now()));
}

#[test]
fn two_sources_merged_screen_shows_each_rows_source() {
    let l = lines();
    // The first status reaches A, and the provider's retry of it lands on B.
    let mut from_both = vec![l[0].clone()];
    from_both.extend(l.iter().cloned());
    let store = attached(&[A, B], &[0, 1, 1, 0, 0], &from_both);
    let c = store.counters();
    assert_eq!(
        (c.accepted, c.duplicate),
        (4, 1),
        "the retry across receivers counts once"
    );
    let sources = vec![
        status(&[A, B], 0, Link::Connected { since: at(0) }, 3, 3),
        status(&[A, B], 1, Link::Connected { since: at(0) }, 2, 2),
    ];
    insta::assert_snapshot!(draw(&store, sources, 120, 30, now()));
}
