//! Recording proof in the running receiver (`--verify`): real HTTP to the real binary, real
//! files made by ffmpeg; each accepted recording gets one verdict line in the journal, after
//! its answer, and `--resume` and `recmon verify` read the same verdicts.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Recmon;

fn have_ffmpeg() -> bool {
    let ok = Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        common::skip_unless_ci("ffmpeg is needed to make the recordings");
    }
    ok
}

/// An FLV of `secs` seconds with audio and video, at `path`.
fn flv(path: &Path, secs: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let d = secs.to_string();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size=160x120:rate=15:duration={d}"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:duration={d}"))
        .args(["-c:v", "flv1", "-c:a", "aac", "-shortest"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn recording(stream: &str, uri: &str, duration: f64) -> String {
    format!(
        r#"{{"domain":"live.example.com","app":"live","stream":"{stream}","uri":"{uri}","duration":{duration},"start_time":1700000000,"stop_time":{}}}"#,
        1_700_000_000 + duration as i64
    )
}

fn verdicts(lines: &[serde_json::Value]) -> Vec<serde_json::Value> {
    lines
        .iter()
        .filter_map(|l| l.get("verdict").cloned())
        .collect()
}

#[test]
fn every_accepted_recording_gets_one_verdict_line_after_its_answer() {
    if !have_ffmpeg() {
        return;
    }
    let media = tempfile::tempdir().unwrap();
    flv(&media.path().join("record/live/cam1/ok.flv"), 4);
    flv(&media.path().join("record/live/cam2/cut.flv"), 2);
    let rule = format!("file://{}", media.path().display());
    // Requests and verdicts only in the journal (the missing and short files would fire
    // alerts, each a line too).
    let mut r = Recmon::start(&[
        "--verify",
        &rule,
        "--verify-missing-for",
        "3s",
        "--no-alerts",
    ]);
    let ok = recording("cam1", "record/live/cam1/ok.flv", 4.0);
    // Answered at once, whatever the check is doing.
    assert_eq!(r.post("/", &ok).0, 200);
    // A provider retry of the same file: a duplicate, not checked twice.
    assert_eq!(r.post("/", &ok).0, 200);
    assert_eq!(
        r.post("/", &recording("cam2", "record/live/cam2/cut.flv", 60.0))
            .0,
        200
    );
    assert_eq!(
        r.post("/", &recording("cam3", "record/live/cam3/never.flv", 30.0))
            .0,
        200
    );
    // Four requests, then three verdicts (the missing one after its looks for 3 s).
    let lines = r.wait_journal_lines(7);
    let v = verdicts(&lines);
    assert_eq!(v.len(), 3, "{lines:#?}");
    // Verdicts and requests share one seq order: find each file's request by its uri.
    let seq_of = |uri: &str| -> u64 {
        lines
            .iter()
            .find(|l| l["body"]["uri"] == uri && l["outcome"] == "accepted")
            .unwrap_or_else(|| panic!("no request for {uri}"))["seq"]
            .as_u64()
            .unwrap()
    };
    let by_of = |uri: &str| {
        let seq = seq_of(uri);
        v.iter()
            .find(|x| x["of"] == seq)
            .unwrap_or_else(|| panic!("no verdict of #{seq}: {v:#?}"))
    };
    let ok_v = by_of("record/live/cam1/ok.flv");
    assert_eq!(ok_v["verdict"], "ok", "{ok_v}");
    let measured = ok_v["measured_s"].as_f64().unwrap();
    assert!((measured - 4.0).abs() < 0.2, "measured {measured}");
    assert_eq!(ok_v["container"], "flv");
    assert_eq!(ok_v["audio"], true);
    assert_eq!(ok_v["video"], true);
    assert!(ok_v["location"]
        .as_str()
        .unwrap()
        .ends_with("record/live/cam1/ok.flv"));
    assert_eq!(by_of("record/live/cam2/cut.flv")["verdict"], "short");
    let missing = by_of("record/live/cam3/never.flv");
    assert_eq!(missing["verdict"], "missing");
    assert!(missing["attempts"].as_u64().unwrap() > 1, "{missing}");
    // Each verdict line comes after the line of its recording.
    for (i, l) in lines.iter().enumerate() {
        if let Some(of) = l.get("verdict").map(|x| x["of"].as_u64().unwrap()) {
            let pos = lines.iter().position(|x| x["seq"] == of).unwrap();
            assert!(pos < i);
        }
    }
    // /metrics counts them by verdict.
    let (code, metrics) = r.get("/metrics");
    assert_eq!(code, 200);
    for want in [
        "recmon_recordings_verified{verdict=\"ok\"} 1",
        "recmon_recordings_verified{verdict=\"short\"} 1",
        "recmon_recordings_verified{verdict=\"missing\"} 1",
        "recmon_recordings_unverified 0",
    ] {
        assert!(metrics.contains(want), "{want} not in\n{metrics}");
    }
    let (status, _, _) = r.stop();
    assert!(status.success());

    // --resume reads the verdicts back: /api/state's counts by verdict agree.
    let journal = r.journal.display().to_string();
    let mut again = Recmon::start_in(&r.dir, &r.journal, &["--resume", &journal]);
    let ok = common::wait_until(Duration::from_secs(10), || {
        again.state()["verify"]["by_verdict"]["ok"] == 1
    });
    let state = again.state();
    assert!(ok, "{state:#}");
    assert_eq!(state["verify"]["by_verdict"]["short"], 1, "{state:#}");
    assert_eq!(state["verify"]["by_verdict"]["missing"], 1, "{state:#}");
    assert_eq!(state["verify"]["failed"], 2, "{state:#}");
    again.stop();

    // The report: verified against claimed per stream, and every failed file.
    let out = Command::new(common::bin())
        .args(["report", &journal])
        .output()
        .unwrap();
    assert!(out.status.success());
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(
        md.contains(
            "recording proof: 0:00:04 verified of 0:00:04 claimed (1 file checked, 0 failed)"
        ),
        "{md}"
    );
    assert!(
        md.contains(
            "recording proof: 0:00:02 verified of 0:01:00 claimed (1 file checked, 1 failed)"
        ),
        "{md}"
    );
    assert!(
        md.contains("  - record/live/cam3/never.flv: missing (claimed 0:00:30, measured -)"),
        "{md}"
    );
    let out = Command::new(common::bin())
        .args(["report", &journal, "--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cam2 = json["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"] == "cam2")
        .unwrap();
    assert_eq!(cam2["proof"]["failed"], 1, "{cam2:#}");
    assert_eq!(cam2["file_list"][0]["verdict"], "short", "{cam2:#}");

    // `recmon export --what recordings`: each file's verdict and measured duration.
    let out = Command::new(common::bin())
        .args([
            "export",
            &journal,
            "--what",
            "recordings",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    let csv = String::from_utf8(out.stdout).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let cut = rows
        .iter()
        .find(|r| r[col("uri")] == "record/live/cam2/cut.flv")
        .unwrap();
    assert_eq!(cut[col("file_verdict")], "short", "{csv}");
    assert!(cut[col("measured_s")].starts_with("2."), "{csv}");
    assert_eq!(cut[col("reconciled")], "false");

    // `recmon verify` on the finished session: the same verdicts, one JSON object per
    // recording, exit 1 because files failed.
    let out = Command::new(common::bin())
        .args(["verify", &journal, "--verify", &rule, "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(&str, String)> = rows
        .iter()
        .map(|r| {
            (
                r["stream"].as_str().unwrap(),
                r["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("live.example.com/live/cam1", "ok".to_string()),
            ("live.example.com/live/cam2", "short".to_string()),
            ("live.example.com/live/cam3", "missing".to_string()),
        ]
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 recordings of 3 failed"));
    // The table: a row per recording and the counts.
    let out = Command::new(common::bin())
        .args(["verify", &journal, "--verify", &rule])
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("0:00:04") && table.contains("0:01:00"),
        "{table}"
    );
    assert!(
        table.ends_with("3 recordings: 1 missing, 1 ok, 1 short\n"),
        "{table}"
    );
    // Only the files that exist: exit 0.
    let only_ok = format!("{journal}.ok");
    let first: String = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    std::fs::write(&only_ok, first + "\n").unwrap();
    let out = Command::new(common::bin())
        .args(["verify", &only_ok, "--verify", &rule])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No rule for them: exit 3, not 1.
    let out = Command::new(common::bin())
        .args(["verify", &only_ok, "--verify", "srs=local"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_recording_no_rule_covers_is_unchecked_not_failed() {
    let mut r = Recmon::start(&["--verify", "srs=local"]);
    assert_eq!(r.post("/", &recording("cam1", "record/a.flv", 4.0)).0, 200);
    let lines = r.wait_journal_lines(2);
    let v = verdicts(&lines);
    assert_eq!(v.len(), 1, "{lines:#?}");
    assert_eq!(v[0]["verdict"], serde_json::json!({"unchecked": "no_rule"}));
    r.stop();
}
