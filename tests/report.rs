//! `recmon report` on crafted journals, against hand computations: broadcasts (publish →
//! publish_done) with their live time from the provider's clock, coverage against it, the
//! gaps before, between and after files, the one-line verdict, "live time unknown" without
//! ingest callbacks, short files, pauses and the alerts replayed with the journal's clock; the
//! HTML page read back by a real headless browser (Debian's chromium), with nothing in it that
//! runs or fetches.

mod common;

use std::process::Command;

fn at(t: i64) -> String {
    chrono::DateTime::from_timestamp(1_800_000_000 + t, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A journal line as recmon writes it for an accepted callback.
fn line(seq: u64, t: i64, method: &str, path: &str, kind: &str, body: &str) -> String {
    let body = if body.is_empty() {
        String::new()
    } else {
        format!(",\"body_bytes\":{},\"body\":{body}", body.len())
    };
    format!(
        r#"{{"seq":{seq},"received_at":"{}","remote":"203.0.113.7:1","method":"{method}","path":"{path}","outcome":"accepted","status":200,"kind":"{kind}"{body}}}"#,
        at(t)
    )
}

/// The provider's clock in these journals (any instant: it need not match `received_at`).
const BASE: i64 = 1_790_000_000;

fn journal() -> String {
    let status = |event: &str| {
        format!(r#"{{"domain":"d.example","app":"live","stream":"cam","event":"{event}"}}"#)
    };
    let file = |n: u32, start: i64, stop: i64, d: f64| {
        format!(
            r#"{{"domain":"d.example","app":"live","stream":"cam","uri":"live/cam/{n}.flv","duration":{d},"start_time":{start},"stop_time":{stop}}}"#
        )
    };
    // The provider's clock: files and ingest `time` both count from BASE; the publish is
    // sent at 990 and arrives at 0 of the journal's clock... the report reads the former.
    let b = |t: i64| BASE + t;
    let file = |n: u32, start: i64, stop: i64, d: f64| file(n, b(start), b(stop), d);
    let lines = [
        line(
            1,
            0,
            "GET",
            &format!(
                "/pub?action=publish&app=d.example&appname=live&id=cam&time={}",
                b(990)
            ),
            "ingest",
            "",
        ),
        line(2, 1, "POST", "/cb", "status", &status("record_started")),
        line(
            3,
            600,
            "POST",
            "/cb",
            "recording",
            &file(0, 1000, 1600, 600.0),
        ),
        line(
            4,
            1200,
            "POST",
            "/cb",
            "recording",
            &file(1, 1600, 2200, 600.0),
        ),
        line(5, 2000, "POST", "/cb", "status", &status("record_paused")),
        line(6, 2100, "POST", "/cb", "status", &status("record_resumed")),
        // 60 s after the previous file stopped, and only 8 s long.
        line(
            7,
            2300,
            "POST",
            "/cb",
            "recording",
            &file(2, 2260, 2268, 8.0),
        ),
        line(
            8,
            2900,
            "POST",
            "/cb",
            "recording",
            &file(3, 2268, 2868, 600.0),
        ),
        line(
            9,
            2950,
            "GET",
            &format!(
                "/pub?action=publish_done&app=d.example&appname=live&id=cam&time={}",
                b(2900)
            ),
            "ingest",
            "",
        ),
    ];
    lines.join("\n") + "\n"
}

fn report(dir: &std::path::Path, format: &str) -> String {
    report_of(dir, &journal(), format, &["--alert-paused", "60s"])
}

/// `recmon report` of `journal` (written to a file in `dir`) in `format`.
fn report_of(dir: &std::path::Path, journal: &str, format: &str, flags: &[&str]) -> String {
    let j = dir.join("j.jsonl");
    std::fs::write(&j, journal).unwrap();
    let out = Command::new(common::bin())
        .args(["report", j.to_str().unwrap(), "--format", format])
        .args(flags)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_report_matches_a_hand_computation() {
    let dir = tempfile::tempdir().unwrap();
    let v: serde_json::Value = serde_json::from_str(&report(dir.path(), "json")).unwrap();
    let s = &v["streams"][0];
    assert_eq!(s["stream"], "cam");
    assert_eq!(s["files"], 4);
    // 600 + 600 + 8 + 600.
    assert_eq!(s["recorded_s"], 1808.0);
    assert_eq!(
        (s["first_start"].as_i64(), s["last_stop"].as_i64()),
        (Some(BASE + 1000), Some(BASE + 2868))
    );
    // One broadcast, live from the publish's own time (990) to the publish_done's (2900):
    // 1808 s recorded of 1910 s live.
    assert_eq!(s["provider"], "aliyun");
    let b = &s["broadcasts"][0];
    assert_eq!(s["broadcasts"].as_array().unwrap().len(), 1);
    assert_eq!(
        (b["from"].as_i64(), b["to"].as_i64(), b["clock"].as_str()),
        (Some(BASE + 990), Some(BASE + 2900), Some("provider"))
    );
    assert_eq!(b["live_s"], 1910.0);
    assert_eq!(b["files"], 4);
    let coverage = s["coverage"].as_f64().unwrap();
    assert!((coverage - 1808.0 / 1910.0).abs() < 1e-9, "{coverage}");
    assert_eq!(b["coverage"], s["coverage"]);
    // Before the first file, between two, and after the last.
    let gaps = serde_json::json!([
        {"from": BASE + 990, "to": BASE + 1000, "seconds": 10},
        {"from": BASE + 2200, "to": BASE + 2260, "seconds": 60},
        {"from": BASE + 2868, "to": BASE + 2900, "seconds": 32}
    ]);
    assert_eq!(b["gaps"], gaps);
    assert_eq!(s["gaps"], gaps);
    assert_eq!(b["verdict"], "gaps");
    assert_eq!(v["broadcasts"], 1);
    assert_eq!(
        v["verdict"],
        "1 broadcast, 1 with gaps: cam 14:29–15:01 (94.7%)"
    );
    assert_eq!(s["short_files"], 1);
    assert_eq!(
        (s["pauses"].as_u64(), s["paused_s"].as_f64()),
        (Some(1), Some(100.0))
    );
    // The alerts, replayed with the journal's clock.
    let alerts: Vec<(String, String, Option<String>)> = s["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["rule"].as_str().unwrap().to_string(),
                a["fired_at"].as_str().unwrap().to_string(),
                a["resolved_at"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert!(
        alerts.contains(&("paused_too_long".into(), at(2061), Some(at(2100)))),
        "{alerts:?}"
    );
    assert!(
        alerts.contains(&("short_file".into(), at(2300), Some(at(2900)))),
        "{alerts:?}"
    );
    assert!(
        alerts.contains(&("gap".into(), at(2300), Some(at(2900)))),
        "{alerts:?}"
    );

    let md = report(dir.path(), "md");
    assert!(
        md.contains(
            "| d.example/live/cam | aliyun | 1 | 4 | 0:30:08 | 94.7% | 3 | 1 | 1 (0:01:40) |"
        ),
        "{md}"
    );
    assert!(md.contains("**1 broadcast, 1 with gaps: cam"), "{md}");
    assert!(
        md.contains("### Broadcast 1: 2026-09-21 14:29:50 UTC → 2026-09-21 15:01:40 UTC · gaps"),
        "{md}"
    );
    assert!(md.contains(": 60 s") && md.contains(": 32 s"), "{md}");
}

#[test]
fn the_html_timeline_renders_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, report(dir.path(), "html")).unwrap();
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("chromium is required (bash .ci/run installs Debian's chromium)");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            &format!("--user-data-dir={}", dir.path().join("profile").display()),
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    // The browser parsed the page into the elements drawn: four file bars, one gap.
    assert_eq!(dom.matches("class=\"file\"").count(), 4, "{dom}");
    assert_eq!(dom.matches("class=\"gap\"").count(), 3, "{dom}");
    assert_eq!(dom.matches("class=\"live\"").count(), 1, "{dom}");
    assert!(dom.contains("<svg"), "{dom}");
    assert!(dom.contains("coverage 94.7%"), "{dom}");
    assert!(dom.contains("1 broadcast, 1 with gaps"), "{dom}");
}

#[test]
fn a_file_that_is_not_a_journal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("recordings.csv");
    std::fs::write(&csv, "seq,uri\n1,a.flv\n").unwrap();
    let out = Command::new(common::bin())
        .args(["report", csv.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is not a recmon journal: none of its 2 lines"),
        "{err}"
    );
}

/// An ApsaraVideo ingest GET line, with the provider's `time`.
fn ingest(seq: u64, received: i64, stream: &str, action: &str, time: i64) -> String {
    line(
        seq,
        received,
        "GET",
        &format!("/pub?action={action}&app=d.example&appname=live&id={stream}&time={time}"),
        "ingest",
        "",
    )
}

/// An ApsaraVideo recording line.
fn recording(seq: u64, received: i64, stream: &str, n: u32, start: i64, stop: i64) -> String {
    line(
        seq,
        received,
        "POST",
        "/cb",
        "recording",
        &format!(
            r#"{{"domain":"d.example","app":"live","stream":"{stream}","uri":"live/{stream}/{n}.flv","duration":{},"start_time":{start},"stop_time":{stop}}}"#,
            stop - start
        ),
    )
}

fn json_report(journal: &str, flags: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    serde_json::from_str(&report_of(dir.path(), journal, "json", flags)).unwrap()
}

#[test]
fn a_ten_minute_broadcast_with_one_minute_of_file_is_ten_percent_recorded() {
    // Live from T−600 to T (the provider's times), one 60 s file in the middle.
    let t = BASE;
    let j = [
        ingest(1, 0, "cam", "publish", t - 600),
        recording(2, 400, "cam", 0, t - 300, t - 240),
        ingest(3, 600, "cam", "publish_done", t),
    ]
    .join("\n")
        + "\n";
    let v = json_report(&j, &[]);
    let s = &v["streams"][0];
    let coverage = s["coverage"].as_f64().unwrap();
    assert!((coverage - 0.1).abs() < 1e-9, "{coverage}");
    assert_eq!(
        s["broadcasts"][0]["gaps"],
        serde_json::json!([
            {"from": t - 600, "to": t - 300, "seconds": 300},
            {"from": t - 240, "to": t, "seconds": 240}
        ])
    );
    assert_eq!(s["broadcasts"][0]["verdict"], "gaps");
    let dir = tempfile::tempdir().unwrap();
    let md = report_of(dir.path(), &j, "md", &[]);
    assert!(md.contains("| 10.0% | 2 |"), "{md}");
    assert!(
        md.contains("- coverage: 10.0% of 0:10:00 live, over 1 broadcast"),
        "{md}"
    );
}

#[test]
fn a_broadcast_with_no_file_is_not_recorded_in_the_verdict_line_and_the_alerts() {
    // 2027-01-15 14:00:00 UTC, on the provider's clock and (as a real one is) on recmon's:
    // `r` is when each callback arrives.
    let t = 1_800_021_600;
    let r = |s: i64| 21_600 + s;
    let j = [
        ingest(1, r(0), "cam1", "publish", t),
        ingest(2, r(120), "cam2", "publish", t + 120),
        recording(3, r(1800), "cam1", 0, t, t + 1800),
        ingest(4, r(1800), "cam1", "publish_done", t + 1800),
        ingest(5, r(2100), "cam2", "publish_done", t + 2100),
        ingest(6, r(2200), "cam3", "publish", t + 2200),
        recording(7, r(2800), "cam3", 0, t + 2200, t + 2800),
        ingest(8, r(2800), "cam3", "publish_done", t + 2800),
        // The journal goes on well past the grace for cam2's file.
        ingest(9, r(3000), "cam4", "publish", t + 3000),
    ]
    .join("\n")
        + "\n";
    let v = json_report(&j, &[]);
    assert_eq!(
        v["verdict"],
        "4 broadcasts, 1 not recorded: cam2 14:02–14:35, 1 live at the end"
    );
    let cam2 = &v["streams"][1];
    assert_eq!(cam2["stream"], "cam2");
    assert_eq!(cam2["coverage"], 0.0);
    assert_eq!(cam2["broadcasts"][0]["verdict"], "not_recorded");
    assert_eq!(
        cam2["broadcasts"][0]["gaps"],
        serde_json::json!([{"from": t + 120, "to": t + 2100, "seconds": 1980}])
    );
    let rules: Vec<&str> = cam2["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"not_recorded"), "{rules:?}");
    // Still live at the end with no file yet: its current file's time is neither covered
    // nor a gap, so there is no coverage to tell.
    let cam4 = &v["streams"][3]["broadcasts"][0];
    assert_eq!(cam4["verdict"], "live", "{cam4}");
    assert_eq!(cam4["in_progress_s"], cam4["live_s"], "{cam4}");
    assert!(
        cam4["coverage"].is_null() && cam4["gaps"] == serde_json::json!([]),
        "{cam4}"
    );
    for s in [&v["streams"][0], &v["streams"][2]] {
        assert_eq!(s["coverage"], 1.0, "{s}");
        assert_eq!(s["broadcasts"][0]["verdict"], "recorded");
    }
}

#[test]
fn files_without_ingest_callbacks_say_live_time_unknown() {
    let j = [
        recording(1, 0, "cam", 0, BASE, BASE + 600),
        recording(2, 700, "cam", 1, BASE + 700, BASE + 1300),
    ]
    .join("\n")
        + "\n";
    let v = json_report(&j, &[]);
    let s = &v["streams"][0];
    assert!(s["coverage"].is_null() && s["live_s"].is_null(), "{s}");
    assert_eq!(s["broadcasts"], serde_json::json!([]));
    // The hole between the two files is still told.
    assert_eq!(
        s["gaps"],
        serde_json::json!([{"from": BASE + 600, "to": BASE + 700, "seconds": 100}])
    );
    let dir = tempfile::tempdir().unwrap();
    let md = report_of(dir.path(), &j, "md", &[]);
    assert!(md.contains("| live time unknown |"), "{md}");
    assert!(
        md.contains(
            "no broadcasts: live time unknown (no ingest callbacks) for 1 stream with files"
        ),
        "{md}"
    );
    assert!(!md.contains('%'), "no percentage without live time: {md}");
}

#[test]
fn the_html_page_runs_and_fetches_nothing_even_for_hostile_names() {
    let hostile = r#"<script>alert(1)</script><img src=http://evil.example/x>"#;
    let name = hostile.replace('"', "");
    let body = format!(
        r#"{{"domain":"d.example","app":"live","stream":"{}","uri":"{}","duration":60,"start_time":{},"stop_time":{}}}"#,
        name.replace('<', "\\u003c"),
        name.replace('<', "\\u003c"),
        BASE,
        BASE + 60
    );
    let j = line(1, 0, "POST", "/cb", "recording", &body) + "\n";
    let dir = tempfile::tempdir().unwrap();
    let page = report_of(dir.path(), &j, "html", &[]);
    assert!(
        page.contains("&lt;script&gt;"),
        "the name is shown, escaped: {page}"
    );
    // Every tag of the page: none that runs or loads anything, no attribute that fetches
    // or handles an event. (Text between tags is inert: it holds the escaped name.)
    let lower = page.to_ascii_lowercase();
    let tags: Vec<&str> = lower
        .split('<')
        .skip(1)
        .map(|t| t.split('>').next().unwrap_or(""))
        .collect();
    assert!(tags.len() > 20, "{page}");
    for tag in &tags {
        let name = tag.split([' ', '/']).next().unwrap_or("");
        assert!(
            ![
                "script",
                "img",
                "link",
                "iframe",
                "object",
                "embed",
                "image",
                "use",
                "foreignobject",
                "base",
                "meta http-equiv"
            ]
            .contains(&name),
            "<{tag}> in the page"
        );
        for attr in ["src=", "href=", " on", "url(", "@import", "javascript:"] {
            assert!(!tag.contains(attr), "{attr} in <{tag}>");
        }
        // The only URL is SVG's namespace, which is never fetched.
        if let Some(i) = tag.find("http") {
            assert!(
                tag[i..].starts_with("http://www.w3.org/2000/svg"),
                "<{tag}>"
            );
        }
    }
    assert!(
        !lower.contains("url(") && !lower.contains("@import"),
        "{page}"
    );
}

#[test]
fn tencent_live_time_is_read_from_its_event_time_not_the_arrival() {
    // Tencent's push (1) and push-cut (0) events carry `event_time`; they arrive at other
    // times (a retry, a slow network): the report keeps to the sender's clock, the files'.
    let e = BASE;
    let tc = |seq: u64, received: i64, body: String| {
        line(seq, received, "POST", "/tc", "ingest", &body).replace(
            r#""outcome":"accepted""#,
            r#""provider":"tencent","outcome":"accepted""#,
        )
    };
    let id =
        r#""app":"x.livepush.myqcloud.com","appname":"live","stream_id":"s1","t":1,"sign":"x""#;
    let j = [
        tc(1, 0, format!(r#"{{"event_type":1,"event_time":{e},{id}}}"#)),
        tc(
            2,
            300,
            format!(
                r#"{{"event_type":100,"start_time":{},"end_time":{},"duration":60,"file_size":1,"video_url":"http://v/1.m3u8",{id}}}"#,
                e + 5,
                e + 65
            ),
        )
        .replace(r#""kind":"ingest""#, r#""kind":"recording""#),
        tc(3, 400, format!(r#"{{"event_type":0,"event_time":{},{id}}}"#, e + 120)),
    ]
    .join("\n")
        + "\n";
    let v = json_report(&j, &[]);
    let s = &v["streams"][0];
    assert_eq!(s["provider"], "tencent", "{v}");
    let b = &s["broadcasts"][0];
    assert_eq!(
        (b["from"].as_i64(), b["to"].as_i64(), b["clock"].as_str()),
        (Some(e), Some(e + 120), Some("provider")),
        "{s}"
    );
    assert_eq!(b["coverage"], 0.5, "{s}");
    // The 5 s before the file are not over --alert-gap 5s; the 55 s after it are.
    assert_eq!(
        b["gaps"],
        serde_json::json!([{"from": e + 65, "to": e + 120, "seconds": 55}]),
        "{s}"
    );
}

#[test]
fn one_stretch_recorded_in_several_formats_counts_once() {
    // ApsaraVideo writes flv and mp4 of the same stretch side by side: half of a 10-minute
    // broadcast in two formats is half covered, not all of it.
    let t = BASE;
    let j = [
        ingest(1, 0, "cam", "publish", t),
        recording(2, 300, "cam", 0, t, t + 300),
        line(
            3,
            301,
            "POST",
            "/cb",
            "recording",
            &format!(
                r#"{{"domain":"d.example","app":"live","stream":"cam","uri":"live/cam/0.mp4","duration":300,"start_time":{t},"stop_time":{}}}"#,
                t + 300
            ),
        ),
        ingest(4, 600, "cam", "publish_done", t + 600),
    ]
    .join("\n")
        + "\n";
    let v = json_report(&j, &[]);
    let b = &v["streams"][0]["broadcasts"][0];
    assert_eq!(b["coverage"], 0.5, "{b}");
    assert_eq!(b["recorded_s"], 600.0, "the files' own seconds: {b}");
    assert_eq!(b["verdict"], "gaps", "{b}");
}

#[test]
fn a_live_broadcast_whose_files_stopped_long_ago_has_a_gap_not_a_current_file() {
    // Live for 10 h at the journal's end; its only files cover the first hour. Its current
    // file may take a cycle (learned: 30 min) plus --alert-file-overdue (10 min); the rest
    // is a gap, and the verdict line says so. The provider's clock is recmon's here.
    let t = 1_800_000_000;
    let j = [
        ingest(1, 0, "cam", "publish", t),
        recording(2, 1800, "cam", 0, t, t + 1800),
        recording(3, 3600, "cam", 1, t + 1800, t + 3600),
        ingest(4, 36_000, "other", "publish", t + 36_000),
    ]
    .join("\n")
        + "\n";
    let v = json_report(&j, &[]);
    let b = &v["streams"][0]["broadcasts"][0];
    assert!(b["to"].is_null(), "{b}");
    assert_eq!(b["verdict"], "gaps", "{b}");
    let end = t + 36_000;
    assert_eq!(b["in_progress_s"], 2400.0, "{b}");
    assert_eq!(
        b["gaps"],
        serde_json::json!([{"from": t + 3600, "to": end - 2400, "seconds": end - 2400 - t - 3600}]),
        "{b}"
    );
    assert!(
        v["verdict"].as_str().unwrap().contains("1 with gaps: cam "),
        "{}",
        v["verdict"]
    );
}

#[test]
fn hostile_provider_times_never_crash_the_report() {
    let big = i64::MAX;
    let j = [
        // A `time` no date can hold, then files at the ends of i64.
        ingest(1, 0, "cam", "publish", 99_999_999_999_999),
        line(
            2,
            1,
            "POST",
            "/cb",
            "recording",
            &format!(
                r#"{{"domain":"d.example","app":"live","stream":"cam","uri":"a.flv","duration":1e308,"start_time":{},"stop_time":{big}}}"#,
                i64::MIN
            ),
        ),
        line(
            3,
            2,
            "POST",
            "/cb",
            "recording",
            &format!(
                r#"{{"domain":"d.example","app":"live","stream":"cam","uri":"b.flv","duration":-5,"start_time":{big},"stop_time":{}}}"#,
                i64::MIN
            ),
        ),
        ingest(4, 3, "cam", "publish_done", big),
    ]
    .join("\n")
        + "\n";
    let dir = tempfile::tempdir().unwrap();
    for format in ["md", "json", "html"] {
        let out = report_of(dir.path(), &j, format, &[]);
        assert!(!out.is_empty(), "{format}");
    }
}

#[test]
fn the_alert_clock_runs_to_the_journals_mark_not_only_its_last_line() {
    // A broadcast ended 100 s ago with no file; the journal's last line is its publish_done.
    // A receiver with alerts on marks its journal every second while it runs: here it ran
    // 90 s past that line, well past a 5 s grace, so it fired not_recorded, and so does the
    // report. Marked right at the last line, the grace never passed: no alert.
    let now = chrono::Utc::now().timestamp();
    let r = |ago: i64| now - ago - 1_800_000_000;
    let j = [
        ingest(1, r(400), "cam", "publish", now - 400),
        ingest(2, r(100), "cam", "publish_done", now - 100),
    ]
    .join("\n")
        + "\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.jsonl");
    let rules = |mark_ago: u64| -> Vec<String> {
        std::fs::write(&path, &j).unwrap();
        let mark = std::time::SystemTime::now() - std::time::Duration::from_secs(mark_ago);
        std::fs::File::options()
            .append(true)
            .open(&path)
            .unwrap()
            .set_modified(mark)
            .unwrap();
        let out = Command::new(common::bin())
            .args(["report", path.to_str().unwrap(), "--format", "json"])
            .args(["--alert-not-recorded", "5s"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["streams"][0]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["rule"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(rules(10), ["not_recorded"]);
    assert_eq!(rules(100), Vec::<String>::new());
}
