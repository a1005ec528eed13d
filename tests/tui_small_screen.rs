//! What issue 20 found on the screen: a stream that went offline read as still recording
//! (`▶ resumed` beside `▼ offline`), the filter could not find offline streams, 80×24
//! showed three streams, popups broke words in two, a journal-failure banner lost its end
//! (and its fix) at the screen's edge, `?` did not say what the symbols mean, and the export
//! could neither be put in another folder nor its message closed.
//!
//! The store is built from journal entries, as the sequencer builds it; keys go through the
//! real key handler; every time is fixed, so the snapshots are deterministic.

use chrono::{DateTime, Utc};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use recmon::core::store::Store;
use recmon::views::tui::state::{Panel, Toast};
use recmon::views::tui::{handle_key, Effect, ViewState};

mod tui_fixture;
use tui_fixture::*;

const DOMAIN: &str = "domain.example.com";

impl Feed {
    fn status(&mut self, t: i64, stream: &str, event: &str) {
        let body = format!(
            r#"{{"domain":"{DOMAIN}","app":"studio","stream":"{stream}","event":"{event}"}}"#
        );
        self.request(t, "POST", "/recmon", &body);
    }

    fn ingest(&mut self, t: i64, stream: &str, action: &str) {
        let path = format!(
            "/pub?action={action}&app={DOMAIN}&appname=studio&id={stream}&ip=198.51.100.20&node=edge7&time={}",
            at(t).timestamp()
        );
        self.request(t, "GET", &path, "");
    }

    fn recording(&mut self, t: i64, stream: &str, start: i64, secs: i64) {
        let body = format!(
            r#"{{"domain":"{DOMAIN}","app":"studio","stream":"{stream}","uri":"record/studio/{stream}/{start}.m3u8","duration":{secs},"start_time":{start},"stop_time":{}}}"#,
            start + secs
        );
        self.request(t, "POST", "/recmon", &body);
    }
}

/// Seven streams of one studio; cam2 was recording (paused, then resumed) when its
/// publisher stopped (publish_done at 300 s).
fn studio() -> Feed {
    let mut f = Feed::new();
    let t0 = base().timestamp();
    f.ingest(0, "cam1", "publish");
    f.status(1, "cam1", "record_started");
    f.ingest(2, "cam2", "publish");
    f.status(3, "cam2", "record_started");
    f.status(5, "cam3", "record_paused");
    f.ingest(6, "cam4", "publish");
    f.status(7, "cam4", "record_started");
    f.status(10, "cam2", "record_paused");
    f.status(20, "cam2", "record_resumed");
    f.status(30, "cam5", "record_resumed");
    f.ingest(40, "cam6", "publish");
    f.status(50, "cam7", "record_started");
    f.recording(100, "cam4", t0 + 7, 90);
    f.recording(200, "cam2", t0 + 3, 190);
    f.ingest(300, "cam2", "publish_done");
    f
}

/// When [`studio`] is drawn: 100 s after cam2's publish_done.
fn now() -> DateTime<Utc> {
    at(400)
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

/// The rows of the streams panel (without its column header).
fn stream_rows(text: &[String]) -> Vec<String> {
    let top = text
        .iter()
        .position(|l| l.starts_with("╭ Streams"))
        .unwrap_or_else(|| panic!("no streams panel:\n{}", text.join("\n")));
    text[top + 2..]
        .iter()
        .take_while(|l| !l.starts_with('╰'))
        .cloned()
        .collect()
}

/// The rows of the open popup, inside its double border.
fn popup_rows(text: &[String]) -> Vec<String> {
    let top = text
        .iter()
        .position(|l| l.contains('╔'))
        .unwrap_or_else(|| panic!("no popup:\n{}", text.join("\n")));
    text[top + 1..]
        .iter()
        .take_while(|l| !l.contains('╚'))
        .map(|l| {
            let inner: String = l.chars().skip_while(|&c| c != '║').skip(1).collect();
            let end = inner.rfind('║').unwrap_or(inner.len());
            inner[..end].to_string()
        })
        .collect()
}

fn type_text(v: &mut ViewState, store: &Store, text: &str) {
    for c in text.chars() {
        handle_key(
            v,
            &KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
            store,
            now(),
        );
    }
}

fn filter(v: &mut ViewState, store: &Store, text: &str) {
    press(v, store, now(), &[KeyCode::Esc, KeyCode::Char('/')]);
    type_text(v, store, text);
    press(v, store, now(), &[KeyCode::Enter]);
}

#[test]
fn an_offline_stream_shows_ended_since_its_publish_done() {
    let f = studio();
    let mut v = view();
    let screen = draw_session(&f.store, &mut v, 80, 24, now());
    let text = lines(&screen);
    let rows = stream_rows(&text);
    let cam2 = rows
        .iter()
        .find(|r| r.contains("/studio/cam2"))
        .unwrap_or_else(|| panic!("cam2 not shown:\n{}", text.join("\n")));
    assert!(cam2.contains("■ ended"), "{cam2}");
    assert!(
        cam2.contains(" 0:01:40 "),
        "for counts from publish_done: {cam2}"
    );
    assert!(cam2.contains("▼ offline"), "{cam2}");
    assert!(
        !cam2.contains("resumed"),
        "reads as still recording: {cam2}"
    );
    // The live ones are untouched.
    let cam1 = rows.iter().find(|r| r.contains("/studio/cam1")).unwrap();
    assert!(
        cam1.contains("● started") && cam1.contains("▲ live"),
        "{cam1}"
    );
    insta::assert_snapshot!(screen);

    // Its detail says it ended and what it was doing before.
    let at_cam2 = v
        .stream_order()
        .iter()
        .position(|&i| f.store.streams()[i as usize].id.stream == "cam2")
        .unwrap();
    v.streams.selected = at_cam2;
    press(&mut v, &f.store, now(), &[KeyCode::Enter]);
    let detail = popup_rows(&lines(&draw_session(&f.store, &mut v, 100, 40, now()))).join("\n");
    assert!(
        detail
            .contains("state         ■ ended for 0:01:40 (offline since 2026-11-27 12:05:00 UTC)"),
        "{detail}"
    );
    assert!(
        detail.contains("last state    ▶ resumed for 0:06:20"),
        "{detail}"
    );
}

#[test]
fn the_filter_matches_the_ingest_state_and_the_ended_state() {
    let f = studio();
    let mut v = view();
    let shown = |v: &mut ViewState| -> Vec<String> {
        let text = lines(&draw_session(&f.store, v, 120, 40, now()));
        let mut names: Vec<String> = stream_rows(&text)
            .iter()
            .filter_map(|r| r.split("/studio/").nth(1))
            .map(|r| r.split_whitespace().next().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    filter(&mut v, &f.store, "offline");
    assert_eq!(shown(&mut v), ["cam2"]);
    filter(&mut v, &f.store, "ENDED");
    assert_eq!(shown(&mut v), ["cam2"]);
    filter(&mut v, &f.store, "live");
    assert_eq!(shown(&mut v), ["cam1", "cam4", "cam6"]);
    filter(&mut v, &f.store, "unknown");
    assert_eq!(shown(&mut v), ["cam3", "cam5", "cam7"]);
    // Its last recording state is not what it shows any more.
    filter(&mut v, &f.store, "resumed");
    assert_eq!(shown(&mut v), ["cam5"]);
    filter(&mut v, &f.store, "offline");
    insta::assert_snapshot!(draw_session(&f.store, &mut v, 80, 24, now()));
}

#[test]
fn at_80_by_24_six_streams_show_and_each_name_keeps_its_end() {
    let f = studio();
    let mut v = view();
    let text = lines(&draw_session(&f.store, &mut v, 80, 24, now()));
    let rows = stream_rows(&text);
    assert!(
        rows.len() >= 6,
        "{} stream rows:\n{}",
        rows.len(),
        text.join("\n")
    );
    for r in &rows {
        assert!(r.contains("…/studio/cam"), "not the name's end: {r}");
        assert!(!r.contains("domain.exa"), "{r}");
    }
    // The other two panels keep rows of their own.
    for title in ["╭ Recordings", "╭ Requests"] {
        let top = text.iter().position(|l| l.starts_with(title)).unwrap();
        let inner = text[top + 1..]
            .iter()
            .take_while(|l| !l.starts_with('╰'))
            .count();
        assert!(inner >= 3, "{title}: {inner} lines:\n{}", text.join("\n"));
    }
    // At every size from 80×24 up the panel shows six streams or all of them.
    for (w, h) in [(80, 24), (90, 26), (100, 30), (120, 40)] {
        let text = lines(&draw_session(&f.store, &mut v, w, h, now()));
        assert!(
            stream_rows(&text).len() >= 6,
            "{w}×{h}:\n{}",
            text.join("\n")
        );
    }
}

#[test]
fn a_stream_detail_title_keeps_the_end_of_a_long_name() {
    let mut f = Feed::new();
    let body = r#"{"domain":"broadcast-ingest-eu-west-1.cdn.domain.example.com","app":"championship-finals-2026","stream":"cam2","event":"record_started"}"#;
    f.request(0, "POST", "/recmon", body);
    let mut v = view();
    press(&mut v, &f.store, at(10), &[KeyCode::Enter]);
    let text = lines(&draw_session(&f.store, &mut v, 80, 24, at(10)));
    let title = text.iter().find(|l| l.contains('╔')).unwrap();
    assert!(
        title.contains(" stream …") && title.contains("/championship-finals-2026/cam2 "),
        "{title}"
    );
    assert!(!title.contains("broadcast-ingest"), "{title}");
}

#[test]
fn popups_wrap_at_spaces_never_in_the_middle_of_a_word() {
    let mut f = studio();
    // Words of many lengths, so that rows cannot end at a word's end by chance.
    let words: Vec<String> = (1..=40).map(|i| format!("part{}", i * 37)).collect();
    let token = format!("https://cdn.{DOMAIN}/{}", "x".repeat(150));
    let body = format!(
        r#"{{"domain":"{DOMAIN}","app":"studio","stream":"cam8","event":"record_started","note":"{}","link":"{token}"}}"#,
        words.join(" ")
    );
    f.request(500, "POST", "/recmon", &body);
    let mut v = view();
    v.focus = Panel::Requests;
    press(&mut v, &f.store, at(510), &[KeyCode::Enter]);
    // A tall screen, so that the whole body is on it.
    let screen = draw_session(&f.store, &mut v, 80, 60, at(510));
    let rows = popup_rows(&lines(&screen));
    for w in &words {
        assert!(
            rows.iter().any(|r| r
                .split_whitespace()
                .any(|t| t.trim_matches(['"', ',']) == w)),
            "{w} was broken across rows:\n{}",
            rows.join("\n")
        );
    }
    // A word wider than a row is broken where the row ends, the break marked with `…`.
    let start = rows
        .iter()
        .position(|r| r.contains("https://cdn."))
        .unwrap_or_else(|| panic!("{}", rows.join("\n")));
    assert!(rows[start].trim_end().ends_with('…'), "{}", rows[start]);
    // The field values wrap under themselves.
    insta::assert_snapshot!(draw_session(&f.store, &mut v, 80, 24, at(510)));
}

#[test]
fn a_journal_failure_that_does_not_fit_ends_with_an_ellipsis_and_keeps_its_fix() {
    let mut f = studio();
    f.store.note_journal_failure(
        "journal write failed (/var/lib/recmon/journals/recmon-20261127-120000.jsonl): No space left on device (os error 28)".into(),
    );
    let mut v = view();
    for w in [60, 80, 120] {
        let text = lines(&draw_session(&f.store, &mut v, w, 24, now()));
        let banner = text[3].trim_end();
        assert!(banner.contains("JOURNAL"), "{w}: {banner}");
        assert!(
            banner.contains("fix: free space or permissions"),
            "{w}: no fix: {banner}"
        );
        assert!(banner.ends_with('…'), "{w}: cut without a mark: {banner}");
    }
    let text = lines(&draw_session(&f.store, &mut v, 320, 24, now()));
    assert!(
        text[3].contains("No space left on device (os error 28)") && !text[3].contains('…'),
        "{}",
        text[3]
    );
    insta::assert_snapshot!(draw_session(&f.store, &mut v, 80, 24, now()));

    // After a failed fsync nothing is written until a restart: the fix says so.
    f.store.note_journal_failure(
        "journal fsync failed (/var/lib/recmon/j.jsonl): Input/output error (os error 5); every request is answered 503 until recmon is restarted".into(),
    );
    let text = lines(&draw_session(&f.store, &mut v, 80, 24, now()));
    assert!(
        text[3].contains("fix: fix the disk, then restart recmon"),
        "{}",
        text[3]
    );
}

/// Everything the help holds, from a screen tall enough to show it whole.
fn help_text(f: &Feed) -> String {
    let mut v = view();
    press(&mut v, &f.store, now(), &[KeyCode::Char('?')]);
    let text = lines(&draw_session(&f.store, &mut v, 160, 120, now()));
    popup_rows(&text).join("\n")
}

#[test]
fn help_explains_every_symbol_on_the_screen() {
    let f = studio();
    let help = help_text(&f);
    let legend = help
        .split("What the symbols mean:")
        .nth(1)
        .unwrap_or_else(|| panic!("no symbol legend:\n{help}"));
    // The issue's list, the ended mark, and what the drawing code draws besides.
    for glyph in [
        "·", "▲", "●", "~", "≠", "■", "▼", "▶", "‖", "✗", "○", "?", "✓", "↻", "⚠", "…", "→", "◐",
        "▁", "█", "▏", "+1d", "-",
    ] {
        assert!(
            legend.lines().any(|l| l.trim_start().starts_with(glyph)
                || l.split("  ").next().is_some_and(|k| k.contains(glyph))),
            "the legend lacks {glyph}:\n{legend}"
        );
    }
    // Every non-ASCII symbol in the drawing code (outside comments and tests) is in the
    // legend, but for lines, typography and the arrow keys the help lists as keys.
    let not_symbols = "─│╭╮╰╯║═╔╗╚╝−×–—↑↓";
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/views/tui");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        let code = source.split("#[cfg(test)]").next().unwrap();
        for line in code.lines() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for c in line
                .chars()
                .filter(|c| !c.is_ascii() && !not_symbols.contains(*c))
            {
                assert!(
                    legend.contains(c),
                    "{} draws {c:?}, which the help does not explain:\n{line}",
                    path.display()
                );
            }
        }
    }
    // At 80×24 the legend is reached by scrolling; its last page.
    let mut v = view();
    press(&mut v, &f.store, now(), &[KeyCode::Char('?'), KeyCode::End]);
    insta::assert_snapshot!(draw_session(&f.store, &mut v, 80, 24, now()));
}

#[test]
fn e_asks_for_the_folder_and_esc_closes_the_message() {
    let f = studio();
    let mut v = view();
    v.export_folder = Some("/srv/broadcasts/2026-11-27".into());
    press(&mut v, &f.store, now(), &[KeyCode::Char('e')]);
    let text = lines(&draw_session(&f.store, &mut v, 80, 24, now()));
    let footer = text.last().unwrap();
    assert!(
        footer.contains("export to folder: /srv/broadcasts/2026-11-27▏"),
        "{footer}"
    );
    assert!(
        footer.contains("Enter") && footer.contains("Esc"),
        "{footer}"
    );
    type_text(&mut v, &f.store, "/finals");
    insta::assert_snapshot!(
        "export_prompt",
        draw_session(&f.store, &mut v, 80, 24, now())
    );
    let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
    assert_eq!(handle_key(&mut v, &enter, &f.store, now()), Effect::Export);
    assert_eq!(
        v.export_folder.as_deref(),
        Some("/srv/broadcasts/2026-11-27/finals")
    );

    // The run loop shows where it wrote; Esc closes the message and the panels get their
    // rows back.
    v.toast = Some(Toast {
        text: "export written: /srv/broadcasts/2026-11-27/finals/recmon-20261127-120000-export-20261127-120640/recordings.csv, /srv/broadcasts/2026-11-27/finals/recmon-20261127-120000-export-20261127-120640/events.jsonl".into(),
        until: now() + chrono::Duration::seconds(16),
        error: false,
    });
    let screen = draw_session(&f.store, &mut v, 80, 24, now());
    let text = lines(&screen);
    assert!(
        text.last().unwrap().contains("Esc close"),
        "{}",
        text.join("\n")
    );
    insta::assert_snapshot!("export_message", screen);
    press(&mut v, &f.store, now(), &[KeyCode::Esc]);
    assert!(v.toast.is_none());
    let text = lines(&draw_session(&f.store, &mut v, 80, 24, now()));
    assert!(!text.join("\n").contains("export written"));
    assert!(text[text.len() - 2].starts_with('╰'));
    assert!(v.popup.is_none());
}

#[test]
fn a_refused_callback_keeps_the_stream_it_could_read_on_its_row() {
    let mut f = studio();
    // A 422: `duration` is text, but domain, app and stream read fine.
    f.request(
        390,
        "POST",
        "/recmon",
        &format!(
            r#"{{"domain":"{DOMAIN}","app":"studio","stream":"cam9","uri":"x.m3u8","duration":"long","start_time":1,"stop_time":2}}"#
        ),
    );
    // Nothing of a stream can be read from this one.
    f.request(395, "POST", "/recmon", "{junk");
    let mut v = view();
    let text = lines(&draw_session(&f.store, &mut v, 120, 40, now()));
    let rows: Vec<&String> = text.iter().filter(|l| l.contains("✗ rejected")).collect();
    assert_eq!(rows.len(), 2, "{}", text.join("\n"));
    assert!(rows[0].contains("/studio/cam9"), "{}", rows[0]);
    assert!(rows[0].contains(" 422 "), "{}", rows[0]);
    assert!(!rows[1].contains("cam"), "{}", rows[1]);
    // Shown, not applied: no stream was made for it.
    assert!(f.store.streams().iter().all(|s| s.id.stream != "cam9"));
}
