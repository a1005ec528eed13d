//! Signature verification over real HTTP: good, bad, missing, stale and future-dated
//! signatures, Host with and without a port, and --auth-host. A failure is 403, journaled,
//! counted, and never changes state; neither the key nor the expected signature leaks.

mod common;

use common::*;
use recmon::providers::aliyun::auth::signature;

const KEY: &str = "k3yForTests0123456789";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn signed(r: &Recmon, host: &str, ts: i64, sig: &str, body: &str) -> (u16, String) {
    let ts = ts.to_string();
    request(
        r.addr,
        "POST",
        "/cb",
        &[
            ("Host", host),
            ("ALI-LIVE-TIMESTAMP", &ts),
            ("ALI-LIVE-SIGNATURE", sig),
        ],
        body.as_bytes(),
    )
}

/// A request with only the headers given (the harness adds its own Host otherwise).
fn raw_post(r: &Recmon, headers: &str, body: &str) -> u16 {
    let raw = format!(
        "POST /cb HTTP/1.1\r\n{headers}Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    parse_response(&raw_exchange(r.addr, raw.as_bytes()))
        .unwrap()
        .0
}

#[test]
fn signatures_are_checked() {
    let mut r = Recmon::start(&["--auth-key", KEY]);
    let t = now();
    let good = signature("rec.example.com", t, KEY);

    // Good, with and without a port in Host.
    assert_eq!(
        signed(&r, "rec.example.com", t, &good, STATUS_SAMPLE).0,
        200
    );
    assert_eq!(
        signed(&r, "rec.example.com:8080", t, &good, RECORDING_SAMPLE).0,
        200
    );

    // Bad: wrong key, wrong host, tampered.
    let paused = STATUS_SAMPLE.replace("record_started", "record_paused");
    let wrong_key = signature("rec.example.com", t, "someOtherKey000000");
    let (status, body) = signed(&r, "rec.example.com", t, &wrong_key, &paused);
    assert_eq!(status, 403);
    assert!(body.contains("does not match"), "{body}");
    assert!(!body.contains(&good));
    assert_eq!(signed(&r, "evil.example.com", t, &good, &paused).0, 403);

    // Missing headers.
    assert_eq!(raw_post(&r, "Host: rec.example.com\r\n", &paused), 403);
    assert_eq!(
        raw_post(
            &r,
            &format!("Host: rec.example.com\r\nALI-LIVE-TIMESTAMP: {t}\r\n"),
            &paused
        ),
        403
    );

    // Stale and future-dated beyond --auth-max-age (300 s).
    let old = t - 600;
    assert_eq!(
        signed(
            &r,
            "rec.example.com",
            old,
            &signature("rec.example.com", old, KEY),
            &paused
        )
        .0,
        403
    );
    let future = t + 600;
    let (status, body) = signed(
        &r,
        "rec.example.com",
        future,
        &signature("rec.example.com", future, KEY),
        &paused,
    );
    assert_eq!(status, 403);
    assert!(body.contains("future"), "{body}");

    // No forged callback changed the state.
    let st = r.state();
    let gs = st["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"] == "gs_stream")
        .unwrap()
        .clone();
    assert_eq!(gs["state"], "started");
    assert_eq!(gs["pauses"], 0);
    assert_eq!(st["requests"]["accepted"], 2);
    assert_eq!(st["requests"]["rejected"], 6);
    assert_eq!(st["auth_failures"], 6);

    let lines = r.journal_lines();
    assert_eq!(lines.len(), 8);
    assert_eq!(lines[0]["auth"], "ok");
    for l in &lines[2..] {
        assert_eq!(l["status"], 403);
        assert_eq!(l["auth"], "failed");
        assert!(l["error"]
            .as_str()
            .unwrap()
            .starts_with("signature check failed"));
    }

    let journal_text = std::fs::read_to_string(&r.journal).unwrap();
    let (status, out, err) = r.stop();
    assert!(status.success());
    assert!(out.contains("[bad signatures so far: 6]"), "{out}");
    assert!(err.contains("6 bad signature"), "{err}");
    // The key never appears anywhere; the expected signature for a forged request never does.
    for text in [&journal_text, &out, &err] {
        assert!(!text.contains(KEY), "key leaked");
        assert!(
            !text.contains(&signature("evil.example.com", t, KEY)),
            "expected signature leaked"
        );
    }
}

#[test]
fn auth_host_overrides_the_host_header() {
    let r = Recmon::start(&["--auth-key", KEY, "--auth-host", "public.example.com"]);
    let t = now();
    let sig = signature("public.example.com", t, KEY);
    // Behind a proxy, Host is the internal address; the signature is over the public name.
    assert_eq!(signed(&r, "10.0.0.5:8080", t, &sig, STATUS_SAMPLE).0, 200);
    let internal = signature("10.0.0.5", t, KEY);
    assert_eq!(
        signed(&r, "10.0.0.5:8080", t, &internal, RECORDING_SAMPLE).0,
        403
    );
}

#[test]
fn max_age_zero_skips_the_age_check() {
    let r = Recmon::start(&["--auth-key", KEY, "--auth-max-age", "0"]);
    let old = now() - 86_400;
    let sig = signature("h.example.com", old, KEY);
    assert_eq!(signed(&r, "h.example.com", old, &sig, STATUS_SAMPLE).0, 200);
}

/// What recmon prints at start-up (stderr) when listening on `listen` with `env` set; it is
/// stopped with SIGTERM once it says it is listening (its start-up banner is then printed),
/// and everything it printed up to its exit is returned.
fn startup_stderr(listen: &str, env: &[(&str, &str)]) -> String {
    use std::io::{BufRead, Read};
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(bin())
        .args(["--headless", "--no-journal", "--listen", listen])
        .envs(env.iter().copied())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .current_dir(dir.path())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut text = String::new();
    // read_line returns 0 at EOF: a recmon that exits without listening ends the loop too.
    while !text.contains("recmon: listening on") && err.read_line(&mut text).unwrap() > 0 {}
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    err.read_to_string(&mut text).unwrap();
    let status = wait_timeout(&mut child, std::time::Duration::from_secs(20))
        .expect("recmon did not exit within 20 s of SIGTERM");
    assert!(status.success(), "{status:?}: {text}");
    text
}

#[test]
fn key_from_environment_and_warning_without_key_on_public_address() {
    let err = startup_stderr("0.0.0.0:0", &[]);
    assert!(
        err.contains("WARNING") && err.contains("no signature checking"),
        "{err}"
    );

    // RECMON_AUTH_KEY is read from the environment (so it stays out of `ps`).
    let err = startup_stderr("127.0.0.1:0", &[("RECMON_AUTH_KEY", KEY)]);
    assert!(err.contains("signature checking: on"), "{err}");
    assert!(!err.contains(KEY));
}

#[test]
fn api_is_refused_and_journaled_for_a_non_loopback_client_without_a_token() {
    let Some(ip) = non_loopback_ipv4().into_iter().next() else {
        // Only a machine with nothing but loopback gets here; say so where it shows.
        skip_unless_ci(
            "this machine has no non-loopback IPv4 address, so the API's loopback-only rule \
             could not be tested over a real non-loopback connection",
        );
        return;
    };
    let r = Recmon::start(&["--listen", "0.0.0.0:0"]);
    let outside = std::net::SocketAddr::new(ip.into(), r.addr.port());
    let (status, body) = request(outside, "GET", "/api/state", &[], b"");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("loopback clients only"), "{body}");
    assert!(body.contains("--api-token"), "{body}");
    assert!(!body.contains("streams"), "no state leaks: {body}");
    // The same request over loopback is served: the refusal is about where it came from.
    assert_eq!(r.get("/api/state").0, 200);
    let lines = r.wait_journal_lines(1);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["status"], 403);
    assert_eq!(lines[0]["outcome"], "rejected");
    assert_eq!(lines[0]["path"], "/api/state");
    let remote: std::net::SocketAddr = lines[0]["remote"].as_str().unwrap().parse().unwrap();
    assert_eq!(remote.ip(), std::net::IpAddr::from(ip), "{}", lines[0]);
    // Callbacks from outside are still welcome.
    let (status, body) = request(outside, "POST", "/cb", &[], STATUS_SAMPLE.as_bytes());
    assert_eq!(status, 200, "{body}");
}

/// The streams in /api/state, each as (provider, domain/app/stream, state, ingest).
fn streams(r: &Recmon) -> Vec<(String, String, String, String)> {
    r.state()["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let t = |k: &str| s[k].as_str().unwrap_or("").to_string();
            (
                t("provider"),
                format!("{}/{}/{}", t("domain"), t("app"), t("stream")),
                t("state"),
                t("ingest"),
            )
        })
        .collect()
}

#[test]
fn an_unsigned_providers_request_never_touches_a_signed_stream() {
    // With --auth-key, nginx-rtmp and SRS (which sign nothing) are read only on the paths
    // pinned to them; elsewhere their shape is ApsaraVideo's, whose signature it lacks.
    let r = Recmon::start(&["--auth-key", KEY, "--provider", "/ngx=nginx-rtmp"]);
    let t = now();
    let sig = signature("rec.example.com", t, KEY);
    let started =
        r#"{"domain":"live.example.com","app":"live","stream":"cam1","event":"record_started"}"#;
    assert_eq!(signed(&r, "rec.example.com", t, &sig, started).0, 200);
    let ingest = "/cb?action=publish&app=live.example.com&appname=live&id=cam1&ip=1.2.3.4";
    let (status, _) = request(
        r.addr,
        "GET",
        ingest,
        &[
            ("Host", "rec.example.com"),
            ("ALI-LIVE-TIMESTAMP", &t.to_string()),
            ("ALI-LIVE-SIGNATURE", &sig),
        ],
        b"",
    );
    assert_eq!(status, 200);
    let before = streams(&r);
    assert_eq!(
        before,
        [(
            "aliyun".to_string(),
            "live.example.com/live/cam1".to_string(),
            "started".to_string(),
            "live".to_string()
        )]
    );

    // The same stream's end, in nginx-rtmp's and SRS's shapes, on an unpinned path: refused
    // as unsigned ApsaraVideo callbacks, and journaled so.
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let ngx_done =
        "call=publish_done&app=live&name=cam1&tcurl=rtmp://live.example.com/live&addr=6.6.6.6";
    let ngx_get = format!("/cb?{ngx_done}");
    let srs_unpublish = r#"{"action":"on_unpublish","client_id":"x","ip":"6.6.6.6","vhost":"live.example.com","app":"live","stream":"cam1","param":""}"#;
    let srs_headers = [
        ("Content-Type", "application/json"),
        ("User-Agent", "SRS/6.0.157(Bee)"),
    ];
    let tries = [
        request(r.addr, "POST", "/cb", &form, ngx_done.as_bytes()),
        request(r.addr, "GET", &ngx_get, &[], b""),
        request(
            r.addr,
            "POST",
            "/cb",
            &srs_headers,
            srs_unpublish.as_bytes(),
        ),
        request(
            r.addr,
            "POST",
            "/srs",
            &srs_headers,
            srs_unpublish.as_bytes(),
        ),
    ];
    for (i, (status, body)) in tries.iter().enumerate() {
        assert_eq!(*status, 403, "try {i}: {body}");
    }
    let lines = r.journal_lines();
    for l in &lines[2..] {
        assert_eq!(
            (
                l["status"].as_u64(),
                l["provider"].as_str(),
                l["auth"].as_str()
            ),
            (Some(403), Some("aliyun"), Some("failed")),
            "{l}"
        );
    }
    // On its pinned path nginx-rtmp is read as nginx-rtmp: its own stream, not ApsaraVideo's.
    let (status, _) = request(r.addr, "POST", "/ngx", &form, ngx_done.as_bytes());
    assert_eq!(status, 200);
    let after = streams(&r);
    assert_eq!(after[0], before[0], "the signed stream is untouched");
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[1].0, "nginx-rtmp");
    assert_eq!(r.state()["auth_failures"], 4);
}
