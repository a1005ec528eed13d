//! End to end: `recmon attach` in a real terminal (tmux) following real receivers (the binary,
//! headless, outside the pane), callbacks over real HTTP, assertions on what the pane shows.
//! Each test has its own tmux server (`-L`). tmux is required, as for tests/tui_e2e.rs.

mod common;
mod tmux;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use tmux::*;

impl Pane {
    /// Starts `recmon attach URL...` in the pane and waits until every source is live.
    fn attach(&self, urls: &[String]) {
        self.attach_with(urls, "");
    }

    fn attach_with(&self, urls: &[String], extra: &str) {
        self.run(&format!("{} attach {extra} {}", bin(), urls.join(" ")));
        let live = urls.len();
        self.wait_for("every source live", CEILING, |s| {
            header(s).matches("● live").count() == live
        });
    }

    /// `q`, then the prompt again.
    fn quit(&self) {
        self.tmux(&["send-keys", "-t", "e2e", "q"]);
        self.wait_for("the attach summary", CEILING, |s| {
            s.contains("recmon: attach:") && s.trim_end().ends_with(PROMPT)
        });
    }
}

/// The header (the screen's first three lines).
fn header(screen: &str) -> String {
    screen.lines().take(3).collect::<Vec<_>>().join("\n")
}

/// The request rows: the lines after the requests panel's title, up to its bottom border.
fn request_rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .skip_while(|l| !l.contains("Requests "))
        .skip(2)
        .take_while(|l| !l.starts_with('╰'))
        .filter(|l| l.contains(" #"))
        .collect()
}

fn stream_row<'a>(screen: &'a str, stream: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(stream) && l.contains('│') && !l.contains(" #"))
        .unwrap_or_default()
}

fn status_body(stream: &str, event: &str) -> String {
    format!(r#"{{"domain":"live.example.com","app":"app","stream":"{stream}","event":"{event}"}}"#)
}

fn post(addr: SocketAddr, body: &str) {
    assert_eq!(
        request(addr, "POST", "/recmon", &[], body.as_bytes()).0,
        200
    );
}

#[test]
fn an_attached_screen_shows_a_state_change_within_a_second() {
    let rx = Recmon::start(&[]);
    let pane = Pane::start();
    pane.attach(&[format!("http://{}", rx.addr)]);
    let mut took = Vec::new();
    for (event, shown) in [
        ("record_started", "● started"),
        ("record_paused", "‖ paused"),
        ("record_resumed", "▶ resumed"),
    ] {
        // The clock starts before the callback is sent, so it covers its arrival at the
        // receiver and everything after it.
        let start = Instant::now();
        post(rx.addr, &status_body("cam-1", event));
        pane.wait_timed(shown, CEILING, |s| {
            stream_row(s, "live.example.com/app/cam-1").contains(shown)
        });
        took.push(start.elapsed());
    }
    eprintln!("callback to attached screen: {took:?}");
    for t in &took {
        assert!(
            *t <= Duration::from_secs(1),
            "a state change took {t:?} to reach the attached screen (all: {took:?})"
        );
    }
    pane.quit();
}

#[test]
fn an_attached_screen_carries_on_across_a_receiver_restart_with_no_repeated_rows() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let mut rx = Recmon::start_in(dir.path(), &journal, &[]);
    let addr = rx.addr;
    for i in 1..=3 {
        post(addr, &status_body(&format!("cam-{i}"), "record_started"));
    }
    let pane = Pane::start();
    pane.attach(&[format!("http://{addr}")]);
    pane.wait_for("three rows", CEILING, |s| request_rows(s).len() == 3);
    rx.kill9();
    pane.wait_for("the source reconnecting", CEILING, |s| {
        header(s).contains("○ reconnecting")
    });
    let rx = Recmon::start_in(
        dir.path(),
        &journal,
        &[
            "--listen",
            &addr.to_string(),
            "--resume",
            &journal.display().to_string(),
        ],
    );
    for i in 4..=5 {
        post(rx.addr, &status_body(&format!("cam-{i}"), "record_started"));
    }
    let screen = pane.wait_for("live again with the new entries", CEILING, |s| {
        header(s).contains("● live #5") && request_rows(s).len() >= 5
    });
    let rows = request_rows(&screen);
    for seq in 1..=5 {
        let n = rows
            .iter()
            .filter(|r| r.split_whitespace().any(|w| w == format!("#{seq}")))
            .count();
        assert_eq!(n, 1, "row #{seq} shown {n} times:\n{screen}");
    }
    assert_eq!(rows.len(), 5, "{screen}");
    assert!(header(&screen).contains("✓ 5 accepted"), "{screen}");
    pane.quit();
}

#[test]
fn two_receivers_make_one_merged_screen_with_a_cross_receiver_retry_counted_once() {
    let a = Recmon::start(&[]);
    let b = Recmon::start(&[]);
    let pane = Pane::start();
    pane.attach_with(
        &[format!("http://{}", a.addr), format!("http://{}", b.addr)],
        "--save merged.jsonl",
    );
    let recording = r#"{"domain":"live.example.com","app":"app","stream":"cam-1","uri":"r/cam-1/0.m3u8","duration":60,"start_time":1700000000,"stop_time":1700000060}"#;
    post(a.addr, recording);
    pane.wait_for("the recording", CEILING, |s| request_rows(s).len() == 1);
    // The provider's retry of it lands on the other receiver.
    post(b.addr, recording);
    post(b.addr, &status_body("cam-2", "record_started"));
    let screen = pane.wait_for("three merged rows", CEILING, |s| request_rows(s).len() == 3);
    assert!(
        header(&screen).contains("✓ 2 accepted  ↻ 1 duplicate"),
        "{screen}"
    );
    let rows = request_rows(&screen);
    let src = |r: &str| r.split_whitespace().nth(2).unwrap_or_default().to_string();
    assert_eq!(
        rows.iter().map(|r| src(r)).collect::<Vec<_>>(),
        ["A", "B", "B"],
        "{screen}"
    );
    assert!(rows[1].contains("↻ duplicate"), "{screen}");
    // `e` exports what the view holds: the merged entries, each with its source.
    // It asks for the folder, offering the saved copy's: Enter takes it.
    pane.tmux(&["send-keys", "-t", "e2e", "e"]);
    pane.wait_for("the export folder prompt", CEILING, |s| {
        s.contains("export to folder:")
    });
    pane.tmux(&["send-keys", "-t", "e2e", "Enter"]);
    pane.wait_for("the export toast", CEILING, |s| {
        s.contains("export written:")
    });
    let export = std::fs::read_dir(pane.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.is_dir()
                && p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("merged-export-")
        })
        .expect("an export folder beside the saved copy");
    let events = journal_lines(&export.join("events.jsonl"));
    let sources: Vec<&str> = events
        .iter()
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources,
        [
            format!("http://{}", a.addr),
            format!("http://{}", b.addr),
            format!("http://{}", b.addr)
        ]
    );
    let outcomes: Vec<&str> = events
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["accepted", "duplicate", "accepted"]);
    let csv = std::fs::read_to_string(export.join("recordings.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        2,
        "one recording, the retry not again: {csv}"
    );
    pane.quit();
}
