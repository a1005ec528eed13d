//! Whole-screen snapshots of a session with every provider at once: ApsaraVideo Live,
//! nginx-rtmp, SRS and Tencent Cloud streams side by side, each request read by its own
//! provider's classifier and journaled with its provider, as the receiver does. Rows say whose
//! stream they are once there are two providers, `p` (or `/provider:NAME`) shows one
//! provider's rows, sizes and derived durations show in the recordings table, and the details
//! say what only some providers report (viewers, HLS segments, errors, derived times).
//!
//! Times are fixed (a fixed `now`, fixed receive times, UTC), so the snapshots are
//! deterministic without masking.

use chrono::{DateTime, Utc};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::KeyCode;
use recmon::core::store::Store;
use recmon::event::{Provider, RecordState};
use recmon::views::tui::state::Popup;
use recmon::views::tui::ViewState;

mod tui_fixture;
use tui_fixture::*;

/// nginx-rtmp's form fields for `call` on rtmp.example.net/live/stage (as a real
/// nginx-rtmp sends them, see `tests/fixtures/providers/captures`).
fn nginx(f: &mut Feed, t: i64, call: &str, clientid: u32, addr: &str, more: &str) {
    let body = format!(
        "app=live&flashver=FMLE/3.0%20(compatible%3B%20Lavf59.27&swfurl=&tcurl=rtmp://rtmp.example.net:1935/live&pageurl=&addr={addr}&clientid={clientid}&call={call}{more}"
    );
    f.request_as(Provider::NginxRtmp, t, "POST", "/cb/nginx", &body);
}

/// An SRS hook for srs.example.org/live/hall.
fn srs(f: &mut Feed, t: i64, action: &str, more: &str) {
    let body = format!(
        r#"{{"server_id":"vid-0xk3","service_id":"s1","action":"{action}","client_id":"9308h583","ip":"192.0.2.44","vhost":"srs.example.org","app":"live","tcUrl":"rtmp://srs.example.org/live","stream":"hall","param":""{more}}}"#
    );
    f.request_as(Provider::Srs, t, "POST", "/cb/srs", &body);
}

/// A Tencent Cloud event of push.example.cn/live/`stream`.
fn tencent(f: &mut Feed, t: i64, stream: &str, event_type: u32, more: &str) {
    let body = format!(
        r#"{{"app":"push.example.cn","appid":12345678,"appname":"live","stream_id":"{stream}","channel_id":"{stream}","event_type":{event_type},"event_time":{},"t":{},"sign":"0d1f8b0a2c4e6f8091a2b3c4d5e6f708"{more}}}"#,
        at(t).timestamp(),
        at(t).timestamp() + 600,
    );
    f.request_as(Provider::Tencent, t, "POST", "/cb/tencent", &body);
}

/// A broadcast with every provider:
/// - ApsaraVideo Live: live.example.com/studio/cam-1, recording, one 10-minute file;
/// - nginx-rtmp: rtmp.example.net/live/stage, live, one viewer left of two, and a file whose
///   times nginx does not send (derived from the publish and the file's arrival);
/// - SRS: srs.example.org/live/hall, three viewers, six HLS segments and a DVR file (derived
///   too), and a hook recmon cannot use (journaled as rejected, answered 200);
/// - Tencent Cloud: push.example.cn/live/studio-b recording with a file of known size, and
///   studio-c whose push failed (error state).
fn mixed() -> Feed {
    let mut f = Feed::new();
    status(&mut f, 1, "cam-1", "record_started");
    f.request(
        2,
        "GET",
        &format!(
            "/pub?action=publish&app=live.example.com&appname=studio&id=cam-1&ip=198.51.100.20&node=edge7&time={}",
            at(2).timestamp()
        ),
        "",
    );
    nginx(
        &mut f,
        10,
        "connect",
        12,
        "198.51.100.31",
        "&epoch=1795780810&type=nonlive",
    );
    nginx(
        &mut f,
        11,
        "publish",
        12,
        "198.51.100.31",
        "&name=stage&type=live",
    );
    srs(&mut f, 30, "on_publish", "");
    nginx(
        &mut f,
        35,
        "play",
        13,
        "203.0.113.50",
        "&name=stage&start=-2000&duration=0&reset=0",
    );
    nginx(
        &mut f,
        40,
        "play",
        14,
        "203.0.113.51",
        "&name=stage&start=-2000&duration=0&reset=0",
    );
    for (i, t) in [41, 42, 44].into_iter().enumerate() {
        let body = format!(
            r#"{{"action":"on_play","vhost":"srs.example.org","app":"live","stream":"hall","ip":"203.0.113.{}","pageUrl":"","param":""}}"#,
            60 + i
        );
        f.request_as(Provider::Srs, t, "POST", "/cb/srs", &body);
    }
    // One HLS segment every 10 s from t=45, between the Tencent pushes.
    let segment = |f: &mut Feed, n: i64| {
        srs(
            f,
            45 + n * 10,
            "on_hls",
            &format!(
                r#","duration":10.0,"cwd":"/usr/local/srs","file":"./objs/nginx/html/live/hall-{n}.ts","url":"live/hall-{n}.ts","m3u8":"./objs/nginx/html/live/hall.m3u8","seq_no":{n}"#
            ),
        )
    };
    segment(&mut f, 0);
    tencent(
        &mut f,
        50,
        "studio-b",
        1,
        r#","user_ip":"192.0.2.80","node":"42.81.194.37""#,
    );
    tencent(
        &mut f,
        51,
        "studio-b",
        332,
        r#","record_event":"record_started""#,
    );
    segment(&mut f, 1);
    tencent(
        &mut f,
        60,
        "studio-c",
        1,
        r#","user_ip":"192.0.2.81","node":"42.81.194.37""#,
    );
    for n in 2..6 {
        segment(&mut f, n);
    }
    nginx(&mut f, 300, "play_done", 13, "203.0.113.50", "&name=stage");
    // A hook without a stream: SRS's all the same, refused with the reason, answered 200.
    f.request_as(
        Provider::Srs,
        310,
        "POST",
        "/cb/srs",
        r#"{"action":"on_play","app":"live","ip":"203.0.113.99"}"#,
    );
    f.request(
        601,
        "POST",
        "/recmon",
        &format!(
            r#"{{"domain":"live.example.com","app":"studio","stream":"cam-1","uri":"record/studio/cam-1/0_{t0}.m3u8","duration":600.0,"start_time":{t0},"stop_time":{},"push_args":{{"callback_show":"evening-news"}}}}"#,
            base().timestamp() + 600,
            t0 = base().timestamp(),
        ),
    );
    nginx(
        &mut f,
        611,
        "record_done",
        12,
        "198.51.100.31",
        &format!(
            "&recorder=rec1&name=stage&path=/srv/rec/stage-{}.flv",
            at(11).timestamp()
        ),
    );
    srs(
        &mut f,
        630,
        "on_dvr",
        &format!(
            r#","cwd":"/usr/local/srs","file":"./objs/nginx/html/live/hall.{}.flv""#,
            at(30).timestamp()
        ),
    );
    tencent(
        &mut f,
        700,
        "studio-b",
        100,
        &format!(
            r#","video_url":"http://1251457656.vod2.myqcloud.com/9425a3e9/studio-b/playlist.m3u8","duration":645,"start_time":{},"end_time":{},"file_size":268435456,"file_format":"hls","file_id":"9031868223267109922""#,
            at(52).timestamp(),
            at(697).timestamp(),
        ),
    );
    tencent(
        &mut f,
        800,
        "studio-c",
        321,
        r#","errcode":10,"errmsg":"push stream timeout""#,
    );
    f
}

/// When [`mixed`] is drawn.
fn now() -> DateTime<Utc> {
    at(900)
}

fn draw(store: &Store, view: &mut ViewState, w: u16, h: u16) -> TestBackend {
    draw_session(store, view, w, h, now())
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

/// Typed at the keyboard: `/`, the text, Enter.
fn type_filter(v: &mut ViewState, store: &Store, text: &str) {
    press(v, store, now(), &[KeyCode::Char('/')]);
    for c in text.chars() {
        press(v, store, now(), &[KeyCode::Char(c)]);
    }
    press(v, store, now(), &[KeyCode::Enter]);
}

#[test]
fn the_session_holds_what_the_screens_show() {
    let f = mixed();
    let s = &f.store;
    assert!(s.several_providers());
    let by = |stream: &str| s.streams().iter().find(|x| x.id.stream == stream).unwrap();
    assert_eq!(by("stage").provider, Provider::NginxRtmp);
    assert_eq!(by("stage").viewers, 1);
    assert_eq!(by("hall").viewers, 3);
    assert_eq!(by("hall").segments, 6);
    assert_eq!(by("studio-c").state, RecordState::Error);
    let derived: Vec<_> = s.recordings().iter().filter(|r| r.derived).collect();
    assert_eq!(derived.len(), 2, "nginx-rtmp's and SRS's files");
    assert!(derived.iter().all(|r| r.duration.is_some()));
    let sized: Vec<_> = s
        .recordings()
        .iter()
        .filter_map(|r| r.file_size())
        .collect();
    assert_eq!(sized, [268_435_456]);
    assert_eq!(s.counters().rejected, 1);
}

#[test]
fn mixed_session_at_80_by_24() {
    let f = mixed();
    let mut v = view();
    let screen = draw(&f.store, &mut v, 80, 24);
    let text = lines(&screen);
    // Every stream shown keeps its provider tag, its name's tail and its state (the panel
    // takes a third of the screen: the error first, then the ones recording).
    for (tag, tail, state) in [
        ("tc", "/live/studio-c", "✗ error"),
        ("ali", "/cam-1", "● started"),
        ("tc", "/live/studio-b", "● started"),
    ] {
        assert!(
            text.iter().any(|l| l.starts_with(&format!("│{tag} "))
                && l.contains(tail)
                && l.contains(state)),
            "{tag} {tail} {state}:\n{}",
            text.join("\n")
        );
    }
    // Derived durations read as estimates; nothing is drawn past the right border.
    assert!(
        text.iter().any(|l| l.contains("~0:10:00.000")),
        "{}",
        text.join("\n")
    );
    for l in &text[3..23] {
        assert!(l.ends_with(['│', '█', '╮', '╯']), "past the border: {l}");
    }
    insta::assert_snapshot!(screen);
}

#[test]
fn mixed_session_at_120_by_40() {
    let f = mixed();
    let mut v = view();
    let screen = draw(&f.store, &mut v, 120, 40);
    let text = lines(&screen).join("\n");
    // Viewers, HLS segments and sizes have room here.
    for want in ["viewers", "hls", "size", "268.4 MB", "~ estimated"] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
    // `p` in the footer (short, `p:all`, at this width): there is more than one provider
    // to pick from.
    assert!(text.contains("p:all"), "{text}");
    insta::assert_snapshot!(screen);
}

#[test]
fn provider_filter_active() {
    let f = mixed();
    let mut v = view();
    draw(&f.store, &mut v, 120, 40);
    // `p` steps through the providers seen, in a fixed order: aliyun, nginx-rtmp, srs.
    for want in [Provider::Aliyun, Provider::NginxRtmp, Provider::Srs] {
        press(&mut v, &f.store, now(), &[KeyCode::Char('p')]);
        assert_eq!(v.filter, format!("provider:{}", want.as_str()));
    }
    let screen = draw(&f.store, &mut v, 120, 40);
    let text = lines(&screen).join("\n");
    assert!(text.contains("filter: \"provider:srs\""), "{text}");
    // While a provider is picked, the way back stays in the footer, spelled out here.
    assert!(text.contains("p provider:srs"), "{text}");
    assert_eq!(v.stream_order().len(), 1, "{text}");
    for other in ["cam-1", "stage", "studio-b", "studio-c"] {
        assert!(!text.contains(other), "{other} shown:\n{text}");
    }
    // SRS's requests, the refused one (no stream) included.
    for want in [
        "play  ip=203.0.113.60",
        "✗ rejected",
        "missing fields: vhost, stream",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
    insta::assert_snapshot!(screen);

    // Typed, with text beside it: both must match.
    let mut typed = view();
    type_filter(&mut typed, &f.store, "provider:srs rejected");
    draw(&f.store, &mut typed, 120, 40);
    assert_eq!(typed.log_rows().len(), 1);
    // Then tencent, then every provider again; Esc clears it all.
    press(&mut v, &f.store, now(), &[KeyCode::Char('p')]);
    assert_eq!(v.filter, "provider:tencent");
    press(&mut v, &f.store, now(), &[KeyCode::Char('p')]);
    assert_eq!(v.filter, "");
    type_filter(&mut v, &f.store, "studio p");
    press(&mut v, &f.store, now(), &[KeyCode::Char('p')]);
    assert_eq!(v.filter, "provider:aliyun studio p", "the text is kept");
    press(&mut v, &f.store, now(), &[KeyCode::Esc]);
    assert_eq!(v.filter, "");
}

/// Opens the detail of the recording at `row` (0 is the oldest).
fn open_recording(v: &mut ViewState, store: &Store, row: usize) {
    draw(store, v, 120, 40);
    press(v, store, now(), &[KeyCode::Tab, KeyCode::Home]);
    press(v, store, now(), &vec![KeyCode::Down; row]);
    press(v, store, now(), &[KeyCode::Enter]);
    assert!(matches!(v.popup, Some(Popup::Detail(_))));
}

#[test]
fn recording_detail_of_a_derived_recording() {
    let f = mixed();
    let mut v = view();
    // nginx-rtmp's record_done, the second file.
    open_recording(&mut v, &f.store, 1);
    let screen = draw(&f.store, &mut v, 120, 40);
    let text = lines(&screen).join("\n");
    assert!(text.contains("/srv/rec/stage-"), "{text}");
    assert!(
        text.contains("derived from arrival times (the provider sends none)"),
        "{text}"
    );
    insta::assert_snapshot!(screen);
    // At 80×24 the note wraps inside the popup.
    let small = lines(&draw(&f.store, &mut v, 80, 24)).join("\n");
    assert!(small.contains("~0:10:00.000 (600 s)"), "{small}");
    assert!(small.contains("derived from arrival"), "{small}");
}

#[test]
fn recording_detail_shows_the_size_tencent_reports() {
    let f = mixed();
    let mut v = view();
    open_recording(&mut v, &f.store, 3);
    let text = lines(&draw(&f.store, &mut v, 120, 40)).join("\n");
    assert!(text.contains("268.4 MB (268,435,456 bytes)"), "{text}");
    assert!(!text.contains("derived"), "{text}");
}

/// Opens the detail of the stream named `stream` (sorted by name).
fn open_stream(v: &mut ViewState, store: &Store, stream: &str) -> String {
    press(v, store, now(), &[KeyCode::Char('s')]);
    draw(store, v, 120, 40);
    let row = v
        .stream_order()
        .iter()
        .position(|&i| store.streams()[i as usize].id.stream == stream)
        .unwrap();
    press(v, store, now(), &vec![KeyCode::Down; row]);
    press(v, store, now(), &[KeyCode::Enter]);
    lines(&draw(store, v, 120, 40)).join("\n")
}

#[test]
fn stream_detail_of_a_tencent_stream_in_error() {
    let f = mixed();
    let mut v = view();
    let text = open_stream(&mut v, &f.store, "studio-c");
    for want in [
        "provider      tencent",
        "✗ error",
        "errors        1",
        "last error    push_error: errcode=10 push stream timeout at 2026-11-27 12:13:20 UTC",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
    insta::assert_snapshot!(draw(&f.store, &mut v, 120, 40));
}

#[test]
fn stream_detail_of_an_srs_stream_with_viewers_and_segments() {
    let f = mixed();
    let mut v = view();
    let text = open_stream(&mut v, &f.store, "hall");
    for want in [
        "provider      srs",
        "viewers       3 now",
        "hls segments  6 (their seconds are in the total)",
        "~0:10:00.000",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
    insta::assert_snapshot!(draw(&f.store, &mut v, 120, 40));
}

#[test]
fn one_provider_keeps_the_screen_as_it_was() {
    // Only ApsaraVideo Live: no provider column, no `p` in the footer, no provider line.
    let mut f = Feed::new();
    status(&mut f, 1, "cam-1", "record_started");
    let mut v = view();
    let text = lines(&draw(&f.store, &mut v, 140, 30)).join("\n");
    assert!(!text.contains("│prov "), "{text}");
    assert!(!text.contains("p provider"), "{text}");
    press(&mut v, &f.store, now(), &[KeyCode::Enter]);
    let text = lines(&draw(&f.store, &mut v, 140, 30)).join("\n");
    assert!(text.contains("state         ● started"), "{text}");
    assert!(!text.contains("provider     "), "{text}");
}
