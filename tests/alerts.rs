//! Alerts end to end: the real binary with tiny thresholds, callbacks over loopback, the
//! alert seen firing and then resolved in /api/alerts, by an --alert-exec program, by a
//! webhook, in the headless lines and on the terminal UI (tmux). A stream name that is
//! shell syntax runs nothing.

mod backend;
mod common;
mod tmux;

use std::time::Duration;

use backend::Backend;
use common::*;

const HOSTILE: &str = "x;touch /tmp/pwned-recmon;";

fn paused_body(event: &str) -> String {
    format!(r#"{{"domain":"d.example","app":"live","stream":"{HOSTILE}","event":"{event}"}}"#)
}

#[test]
fn an_alert_fires_and_resolves_everywhere_and_a_hostile_stream_name_runs_nothing() {
    let _ = std::fs::remove_file("/tmp/pwned-recmon");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exec.out");
    let script = dir.path().join("hook.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s|%s|%s|%s|%s\\n' \"$RECMON_ALERT_RULE\" \"$RECMON_ALERT_STATE\" \"$RECMON_ALERT_SEVERITY\" \"$RECMON_ALERT_STREAM\" \"$RECMON_ALERT_SINCE\" >> {out}\ncat >> {out}.json\n",
            out = out.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x", script.to_str().unwrap()])
        .status()
        .unwrap();
    let hook = Backend::start();
    let r = Recmon::start(&[
        "--alert-paused",
        "2s",
        "--alert-exec",
        script.to_str().unwrap(),
        "--alert-webhook",
        &hook.url("/slack"),
    ]);
    assert_eq!(r.post("/cb", &paused_body("record_paused")).0, 200);
    let firing = |r: &Recmon| {
        let (status, body) = r.get("/api/alerts");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    };
    assert!(wait_until(Duration::from_secs(20), || {
        firing(&r)["firing"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    }));
    let doc = firing(&r);
    let a = &doc["firing"][0];
    assert_eq!(a["rule"], "paused_too_long");
    assert_eq!(a["state"], "firing");
    assert_eq!(a["severity"], "warning");
    assert_eq!(a["stream"], format!("d.example/live/{HOSTILE}"));
    assert!(a["resolved_at"].is_null());
    assert!(a["message"]
        .as_str()
        .unwrap()
        .contains("has been paused for"));

    assert_eq!(r.post("/cb", &paused_body("record_resumed")).0, 200);
    assert!(wait_until(Duration::from_secs(20), || {
        let d = firing(&r);
        d["firing"].as_array().is_some_and(|a| a.is_empty())
            && d["recent"].as_array().is_some_and(|a| !a.is_empty())
    }));
    let doc = firing(&r);
    assert_eq!(doc["recent"][0]["state"], "resolved");
    assert!(doc["recent"][0]["resolved_at"].is_string());

    // The program ran twice, directly: its environment holds the name as text.
    assert!(wait_until(Duration::from_secs(20), || {
        std::fs::read_to_string(&out).is_ok_and(|t| t.lines().count() == 2)
    }));
    let lines = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = lines.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "paused_too_long|firing|warning|d.example/live/{HOSTILE}|"
        )),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("paused_too_long|resolved|warning|"),
        "{lines:?}"
    );
    let json = std::fs::read_to_string(format!("{}.json", out.display())).unwrap();
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["rule"], "paused_too_long");
    assert!(
        !std::path::Path::new("/tmp/pwned-recmon").exists(),
        "a stream name ran a command"
    );

    // The webhook got both, with a text field a chat shows.
    assert!(hook.wait(Duration::from_secs(20), |g| g.len() >= 2));
    let posts = hook.received();
    let body: serde_json::Value = serde_json::from_slice(&posts[0].body).unwrap();
    assert_eq!(posts[0].method, "POST");
    assert!(body["text"]
        .as_str()
        .unwrap()
        .starts_with("recmon: ALERT warning paused_too_long"));
    let body: serde_json::Value = serde_json::from_slice(&posts[1].body).unwrap();
    assert_eq!(body["state"], "resolved");

    // And the headless lines said so, on stderr.
    let err = r.wait_stderr("RESOLVED warning paused_too_long");
    assert!(err.contains("ALERT warning paused_too_long"), "{err}");
}

#[test]
fn the_terminal_ui_shows_an_alert_firing_and_going() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let pane = tmux::Pane::start();
    pane.run(&format!(
        "{} --listen {addr} --journal j.jsonl --alert-paused 2s",
        bin()
    ));
    pane.wait_for("the screen", tmux::CEILING, |s| s.contains("Streams"));
    assert_eq!(
        request(
            addr,
            "POST",
            "/cb",
            &[],
            paused_body("record_paused").as_bytes()
        )
        .0,
        200
    );
    let screen = pane.wait_for("the alert in the header", tmux::CEILING, |s| {
        s.contains("⚠ 1 alert")
    });
    assert!(
        screen.contains("▲"),
        "the stream's row is marked:\n{screen}"
    );
    pane.keys(&["a"]);
    let screen = pane.wait_for("the alerts list", tmux::CEILING, |s| {
        s.contains("alerts · 1 firing") && s.contains("paused_too_long")
    });
    assert!(screen.contains("x;touch /tmp/pwned-recmon;"), "{screen}");
    pane.keys(&["Escape"]);
    assert_eq!(
        request(
            addr,
            "POST",
            "/cb",
            &[],
            paused_body("record_resumed").as_bytes()
        )
        .0,
        200
    );
    pane.wait_for("the alert gone", tmux::CEILING, |s| {
        !s.contains("⚠ 1 alert") && s.contains("▶ resumed")
    });
    pane.keys(&["q"]);
    pane.wait_for("the summary", tmux::CEILING, |s| {
        s.contains("recmon: stopped.")
    });
}

#[test]
fn simulate_chaos_makes_every_rule_fire() {
    let key = "chaosKey0123456789abcdef";
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let r = Recmon::start_with(
        dir.path(),
        &journal,
        &[
            "--alert-paused",
            "5s",
            "--alert-not-recording",
            "5s",
            "--alert-not-recorded",
            "5s",
            "--alert-file-overdue",
            "5s",
            "--alert-silence",
            "12s",
        ],
        |cmd| {
            cmd.env("RECMON_AUTH_KEY", key);
        },
    );
    let out = std::process::Command::new(bin())
        .args([
            "simulate",
            "--chaos",
            "--to",
            &format!("http://{}/cb", r.addr),
        ])
        .env("RECMON_AUTH_KEY", key)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("run the receiver with --alert-paused 5s"),
        "{err}"
    );
    let mut seen = std::collections::BTreeSet::new();
    let all = [
        "paused_too_long",
        "live_not_recording",
        "not_recorded",
        "file_overdue",
        "short_file",
        "gap",
        "duration_mismatch",
        "silence",
        "bad_signature",
    ];
    let fired = wait_until(Duration::from_secs(60), || {
        let (_, body) = r.get("/api/alerts");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        for list in ["firing", "recent"] {
            for a in v[list].as_array().into_iter().flatten() {
                seen.insert(a["rule"].as_str().unwrap_or("").to_string());
            }
        }
        all.iter().all(|rule| seen.contains(*rule))
    });
    assert!(
        fired,
        "rules that never fired: {:?}",
        all.iter()
            .filter(|r| !seen.contains(**r))
            .collect::<Vec<_>>()
    );
    // The duplicated callbacks were taken for the provider's retries.
    assert!(r.state()["requests"]["duplicate"].as_u64().unwrap() >= 2);
}
