//! `recmon report` on a crafted journal, against a hand computation: files, recorded
//! seconds, coverage, gaps, short files, pauses and the alerts replayed with the journal's
//! clock; the HTML page read back by a real headless browser (Debian's chromium).

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

fn journal() -> String {
    let status = |event: &str| {
        format!(r#"{{"domain":"d.example","app":"live","stream":"cam","event":"{event}"}}"#)
    };
    let file = |n: u32, start: i64, stop: i64, d: f64| {
        format!(
            r#"{{"domain":"d.example","app":"live","stream":"cam","uri":"live/cam/{n}.flv","duration":{d},"start_time":{start},"stop_time":{stop}}}"#
        )
    };
    let lines = [
        line(
            1,
            0,
            "GET",
            "/pub?action=publish&app=d.example&appname=live&id=cam",
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
            "/pub?action=publish_done&app=d.example&appname=live&id=cam",
            "ingest",
            "",
        ),
    ];
    lines.join("\n") + "\n"
}

fn report(dir: &std::path::Path, format: &str) -> String {
    let j = dir.join("j.jsonl");
    std::fs::write(&j, journal()).unwrap();
    let out = Command::new(common::bin())
        .args([
            "report",
            j.to_str().unwrap(),
            "--format",
            format,
            "--alert-paused",
            "60s",
        ])
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
        (Some(1000), Some(2868))
    );
    // 1808 / (2868 − 1000).
    let coverage = s["coverage"].as_f64().unwrap();
    assert!((coverage - 1808.0 / 1868.0).abs() < 1e-9, "{coverage}");
    assert_eq!(
        s["gaps"],
        serde_json::json!([{"from": 2200, "to": 2260, "seconds": 60}])
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
        md.contains("| d.example/live/cam | 4 | 0:30:08 | 96.8% | 1 | 1 | 1 (0:01:40) |"),
        "{md}"
    );
    assert!(md.contains("gap") && md.contains(": 60 s"), "{md}");
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
    assert_eq!(dom.matches("class=\"gap\"").count(), 1, "{dom}");
    assert!(dom.contains("<svg"), "{dom}");
    assert!(dom.contains("coverage 96.8%"), "{dom}");
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
