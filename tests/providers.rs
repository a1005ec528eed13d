//! nginx-rtmp, SRS and Tencent Cloud callbacks beside ApsaraVideo Live's, over real loopback
//! HTTP to the real binary: the real nginx-rtmp requests replayed byte for byte, the providers'
//! documented samples, each provider's answer, Tencent's signature, `--provider` pins, and
//! the journal's `provider` read back by resume and export.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

/// Runs `recmon ARGS...`, requires it to succeed (saying why not), and returns its stdout.
fn recmon_ok<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>) -> String {
    let out = Command::new(bin()).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn stream<'a>(state: &'a Value, stream: &str) -> &'a Value {
    state["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"] == stream)
        .unwrap_or_else(|| panic!("no stream {stream} in {state:#}"))
}

fn requests(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|l| l.get("method").is_some()).collect()
}

fn post_json(r: &Recmon, path: &str, body: &str) -> (u16, String) {
    request(
        r.addr,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

#[test]
fn the_real_nginx_rtmp_requests_are_answered_2xx_and_drive_the_stream() {
    let r = Recmon::start(&[]);
    let run = capture_run("nginx-rtmp");
    assert_eq!(run.len(), 21);
    for (file, bytes) in &run {
        let resp = raw_exchange(r.addr, bytes);
        let (status, body) = parse_response(&resp).unwrap();
        assert!((200..300).contains(&status), "{file}: {status} {body}");
    }
    let state = r.state();
    let cam = stream(&state, "cam1");
    assert_eq!(cam["provider"], "nginx-rtmp");
    assert_eq!(cam["domain"], "127.0.0.1", "the tcurl host");
    assert_eq!(cam["app"], "live");
    assert_eq!(cam["ingest"], "offline");
    assert_eq!(cam["recordings"], 3, "one per record_done");
    assert_eq!(cam["viewers"], 0, "the viewer came and went");
    let last = &cam["last_recording"];
    assert_eq!(last["uri"], "/srv/rec/cam1-1795812680.flv");
    assert_eq!(last["times_derived"], true);
    assert_eq!(state["requests"]["rejected"], 0, "{state:#}");

    let lines = r.wait_journal_lines(21);
    let reqs = requests(&lines);
    assert_eq!(reqs.len(), 21);
    for l in &reqs {
        assert_eq!(l["provider"], "nginx-rtmp", "{l}");
        assert_eq!(l["status"], 200, "{l}");
        assert_eq!(l["outcome"], "accepted", "{l}");
    }
    let kinds: Vec<&str> = reqs.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "recording").count(), 3);
    assert_eq!(kinds.iter().filter(|k| **k == "play").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "ingest").count(), 2);
    // Headless lines say whose request it was (ApsaraVideo's look as they always did).
    let mut out = String::new();
    assert!(
        wait_until(std::time::Duration::from_secs(10), || {
            out = r.stdout.lock().unwrap().clone();
            out.contains("ingest    [ngx] 127.0.0.1/live/cam1  publish")
        }),
        "{out}"
    );
}

#[test]
fn notify_method_get_refused_publish_and_failed_update_runs_are_all_answered_2xx() {
    let r = Recmon::start(&[]);
    let mut n = 0;
    for run in [
        "nginx-rtmp-get",
        "nginx-rtmp-publish-403",
        "nginx-rtmp-publish-delay12",
        "nginx-rtmp-update-500",
        "recmon-runs-capture",
    ] {
        for (file, bytes) in capture_run(run) {
            let resp = raw_exchange(r.addr, &bytes);
            let (status, body) = parse_response(&resp).unwrap();
            assert!(
                (200..300).contains(&status),
                "{run}/{file}: {status} {body}"
            );
            n += 1;
        }
    }
    let lines = r.wait_journal_lines(n);
    assert!(requests(&lines)
        .iter()
        .all(|l| l["provider"] == "nginx-rtmp" && l["status"] == 200));
    // GET mode: the stream went live and offline, its two files listed.
    let state = r.state();
    let cam5 = stream(&state, "cam5");
    assert_eq!(cam5["ingest"], "offline");
    assert_eq!(cam5["recordings"], 2);
}

#[test]
fn srs_hooks_are_answered_code_0_as_srs_requires() {
    let r = Recmon::start(&[]);
    for (name, kind) in [("srs_on_publish", "ingest"), ("srs_on_dvr", "recording")] {
        let (status, body) = post_json(&r, "/srs", &sample(name));
        // SRS's own test (SrsHttpHooks::do_post): 200, a non-empty body, an object whose
        // integer code is 0.
        assert_eq!(status, 200, "{name}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["code"].as_i64(), Some(0), "{name}: {body}");
        let line = r.journal_lines().into_iter().last().unwrap();
        assert_eq!(
            (line["provider"].as_str(), line["kind"].as_str()),
            (Some("srs"), Some(kind))
        );
    }
    // A hook recmon cannot use is journaled as rejected with the reason, and still code 0.
    let (status, body) = post_json(
        &r,
        "/srs",
        r#"{"action":"on_publish","vhost":"v","app":"live","stream":["x"]}"#,
    );
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["code"], 0);
    let line = r.journal_lines().into_iter().last().unwrap();
    assert_eq!(line["outcome"], "rejected");
    assert!(
        line["error"]
            .as_str()
            .unwrap()
            .starts_with("field stream must be a string, got an array"),
        "{line}"
    );
    let state = r.state();
    let s = stream(&state, "livestream");
    assert_eq!(s["provider"], "srs");
    assert_eq!(s["domain"], "video.test.com");
    assert_eq!(
        s["last_recording"]["uri"],
        "/usr/local/srs/objs/nginx/html/live/livestream.1420254068776.flv"
    );
}

#[test]
fn tencent_signatures_are_checked_with_the_key_and_t_is_an_expiry() {
    let key = "tencent-test-key";
    let r = Recmon::start(&["--tencent-key", key]);
    let now = chrono::Utc::now().timestamp();
    let body = |t: i64, sign: &str| {
        format!(
            r#"{{"app":"push.example.com","appname":"live","stream_id":"tc1","event_type":1,"t":{t},"sign":"{sign}"}}"#
        )
    };
    let good = recmon::providers::tencent::sign(key, now + 600);
    let (status, text) = post_json(&r, "/tencent", &body(now + 600, &good));
    assert_eq!((status, text.contains("\"code\":0")), (200, true), "{text}");
    let (status, text) = post_json(
        &r,
        "/tencent",
        &body(now + 600, "0123456789abcdef0123456789abcdef"),
    );
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("sign is not md5(key + t)"), "{text}");
    let stale = recmon::providers::tencent::sign(key, now - 60);
    let (status, text) = post_json(&r, "/tencent", &body(now - 60, &stale));
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("expired"), "{text}");
    // The documented sample's sign is masked: refused with a key set.
    let (status, _) = post_json(&r, "/tencent", &sample("tencent_push_1"));
    assert_eq!(status, 403);
    let state = r.state();
    assert_eq!(state["auth_failures"], 3);
    assert_eq!(stream(&state, "tc1")["ingest"], "live");
    // The ApsaraVideo signature (--auth-key, not given) is not asked of Tencent's callbacks,
    // and Tencent's key is not asked of ApsaraVideo's.
    let (status, _) = post_json(&r, "/cb", STATUS_SAMPLE);
    assert_eq!(status, 200);
}

#[test]
fn tencent_samples_without_a_key_and_their_wrong_shapes() {
    let r = Recmon::start(&[]);
    let (status, text) = post_json(&r, "/tencent", &sample("tencent_push_1"));
    assert_eq!(status, 200, "{text}");
    let (status, text) = post_json(&r, "/tencent", &sample("tencent_record_100"));
    assert_eq!(status, 200, "{text}");
    let (status, text) = post_json(
        &r,
        "/tencent",
        r#"{"event_type":100,"app":"d","appname":"live","stream_id":"s","video_url":"u","file_size":"big"}"#,
    );
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("file_size"), "{text}");
    let state = r.state();
    let rec = stream(
        &state,
        "marketflashtest_1966232762_user_627052_983041_1506308688",
    );
    assert_eq!(rec["provider"], "tencent");
    assert_eq!(rec["last_recording"]["file_size"], 1349);
    assert_eq!(rec["last_recording"]["duration"], 63.0);
    assert_eq!(rec["last_recording"]["times_derived"], false);
}

#[test]
fn a_pinned_path_reads_every_request_as_that_providers() {
    let r = Recmon::start(&[
        "--provider",
        "/hooks/srs=srs",
        "--provider",
        "/hooks=tencent",
    ]);
    // No action: by its shape an ApsaraVideo status; pinned, an SRS hook that cannot be used
    // (answered code 0, so that SRS does not refuse the client).
    let (status, body) = post_json(&r, "/hooks/srs/x", STATUS_SAMPLE);
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("{\"code\":0"), "{body}");
    let (status, body) = post_json(&r, "/hooks/t", STATUS_SAMPLE);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("missing field: event_type"), "{body}");
    let lines = r.wait_journal_lines(2);
    assert_eq!(lines[0]["provider"], "srs");
    assert_eq!(lines[1]["provider"], "tencent");
    // Unpinned paths are still told by shape.
    assert_eq!(post_json(&r, "/cb", STATUS_SAMPLE).0, 200);
    assert_eq!(r.wait_journal_lines(3)[2]["provider"], "aliyun");
}

#[test]
fn a_bad_pin_is_a_usage_error() {
    let out = Command::new(bin())
        .args(["--headless", "--no-journal", "--provider", "/x=wowza"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown provider \"wowza\""), "{err}");
}

#[test]
fn other_providers_are_named_and_the_on_demand_question_is_answered() {
    let r = Recmon::start(&[]);
    for (name, who) in [
        ("ivs_recording_end", "AWS IVS"),
        ("mux_live_active", "Mux"),
        ("cloudflare_live_disconnected", "Cloudflare Stream"),
    ] {
        let (status, body) = post_json(&r, "/cb", &sample(name));
        assert_eq!(status, 400, "{name}");
        assert!(body.contains(who), "{name}: {body}");
    }
    let (status, body) = request(
        r.addr,
        "GET",
        "/?app=seq_all&domain=demo.aliyundoc.com&stream=ondemand8&vbitrate=2000&codec=h264",
        &[("User-Agent", "Go-http-client/1.1")],
        b"",
    );
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["NeedRecord"], true, "{body}");
    let line = r.wait_journal_lines(4).pop().unwrap();
    assert_eq!(line["kind"], "notice");
    // An undocumented ApsaraVideo error event puts the stream in error.
    let (status, _) = post_json(&r, "/cb", &sample("ali_status_record_error"));
    assert_eq!(status, 200);
    let state = r.state();
    let s = stream(&state, "gs_stream");
    assert_eq!(s["state"], "error");
    assert_eq!(s["errors"], 1);
    assert_eq!(s["last_error"]["error"], "record_error");
}

#[test]
fn resume_and_export_read_each_line_with_its_own_provider() {
    let mut a = Recmon::start(&[]);
    for (_, bytes) in capture_run("nginx-rtmp") {
        raw_exchange(a.addr, &bytes);
    }
    post_json(&a, "/srs", &sample("srs_on_dvr"));
    post_json(&a, "/tc", &sample("tencent_record_100"));
    post_json(&a, "/cb", RECORDING_SAMPLE);
    let before = a.state();
    a.stop();
    let journal = a.journal.display().to_string();
    let mut b = Recmon::start_in(&a.dir, &a.journal, &["--resume", &journal]);
    let after = b.state();
    let strip = |v: &Value| {
        let mut v = v["streams"].clone();
        for s in v.as_array_mut().unwrap() {
            s.as_object_mut().unwrap().remove("state_since");
        }
        v
    };
    assert_eq!(strip(&before), strip(&after));
    assert_eq!(before["recordings_total"], 6);
    b.stop();

    let text = recmon_ok([
        "export",
        &journal,
        "--what",
        "recordings",
        "--format",
        "csv",
    ]);
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6);
    let providers: Vec<&str> = rows.iter().map(|r| &r[col("provider")]).collect();
    assert_eq!(
        providers,
        [
            "nginx-rtmp",
            "nginx-rtmp",
            "nginx-rtmp",
            "srs",
            "tencent",
            "aliyun"
        ]
    );
    assert_eq!(&rows[4][col("file_size")], "1349");
    assert_eq!(&rows[0][col("times_derived")], "true");
    assert_eq!(&rows[5][col("times_derived")], "false");

    // One provider's part of the journal.
    let lines: Vec<Value> = recmon_ok([
        "export",
        &journal,
        "--what",
        "events",
        "--provider",
        "nginx-rtmp",
    ])
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
    assert_eq!(lines.len(), 21);
    assert!(lines.iter().all(|l| l["provider"] == "nginx-rtmp"));
    // A tag names a provider too.
    let csv = recmon_ok([
        "export",
        &journal,
        "--what",
        "streams",
        "--format",
        "csv",
        "--provider",
        "tc",
    ]);
    assert_eq!(csv.lines().count(), 2);
    let out = Command::new(bin())
        .args(["export", &journal, "--provider", "wowza"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("one of aliyun, nginx-rtmp, srs, tencent")
    );
}

/// `recmon attach --json --save COPY URL`, stopped once `n` lines are out; returns the lines.
fn attach_and_save(url: &str, save: &Path, n: usize) -> Vec<Value> {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(bin())
        .args(["attach", "--json", "--save"])
        .arg(save)
        .arg(url)
        .env_remove("RECMON_API_TOKEN")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(out).lines().map_while(Result::ok) {
        lines.push(serde_json::from_str::<Value>(&line).unwrap());
        if lines.len() == n {
            break;
        }
    }
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = wait_timeout(&mut child, std::time::Duration::from_secs(20)).unwrap();
    assert!(status.success());
    lines
}

#[test]
fn attach_replay_and_forward_carry_each_providers_callbacks() {
    // The backend is another recmon: it reads what it is forwarded by shape, as the first did.
    let backend = Recmon::start(&[]);
    let forward = format!("http://{}/fwd", backend.addr);
    let a = Recmon::start(&["--forward-to", &forward]);
    let mut n = 0;
    for (_, bytes) in capture_run("nginx-rtmp") {
        raw_exchange(a.addr, &bytes);
        n += 1;
    }
    for (path, name) in [
        ("/srs", "srs_on_publish"),
        ("/srs", "srs_on_dvr"),
        ("/tc", "tencent_record_100"),
    ] {
        assert_eq!(post_json(&a, path, &sample(name)).0, 200);
        n += 1;
    }
    let providers = |state: &Value| -> Vec<String> {
        let mut p: Vec<String> = state["streams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                format!(
                    "{}:{}",
                    s["provider"].as_str().unwrap(),
                    s["stream"].as_str().unwrap()
                )
            })
            .collect();
        p.sort();
        p
    };
    let want = providers(&a.state());
    assert_eq!(
        want,
        [
            "nginx-rtmp:cam1",
            "srs:livestream",
            "tencent:marketflashtest_1966232762_user_627052_983041_1506308688"
        ]
    );

    // Forwarded: the backend got every callback and reads it as the same provider's.
    let mut got = Value::Null;
    assert!(
        wait_until(std::time::Duration::from_secs(20), || {
            got = backend.state();
            got["requests"]["accepted"].as_u64() == Some(n as u64)
        }),
        "{got:#}"
    );
    assert_eq!(providers(&got), want);
    // Attach: every entry with its provider, and a saved copy that export reads the same.
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("copy.jsonl");
    // Each request and its delivery line.
    let lines = attach_and_save(&format!("http://{}", a.addr), &save, 2 * n);
    let requests: Vec<&Value> = lines.iter().filter(|l| l.get("method").is_some()).collect();
    assert!(requests
        .iter()
        .take(21)
        .all(|l| l["provider"] == "nginx-rtmp"));
    assert_eq!(requests[21]["provider"], "srs");
    assert_eq!(requests[23]["provider"], "tencent");

    // Replay the copy to a fresh recmon: the same streams, of the same providers.
    let target = Recmon::start(&[]);
    recmon_ok([
        std::ffi::OsStr::new("replay"),
        save.as_os_str(),
        "--to".as_ref(),
        format!("http://{}/replayed", target.addr).as_ref(),
    ]);
    target.wait_journal_lines(n);
    assert_eq!(providers(&target.state()), want);
}

#[test]
fn a_get_notify_with_the_publishers_unescaped_arguments_is_read_not_refused() {
    // nginx-rtmp's notify_method get copies the RTMP URL's arguments into the query as they
    // came: a `"`, `<` or `>` there made hyper refuse the request (and nginx the publish).
    let r = Recmon::start(&[]);
    let query = "app=live&flashver=FMLE/3.0%20(compatible%3B%20Lavf59.27&swfurl=&tcurl=rtmp://127.0.0.1:19936/live&pageurl=&addr=127.0.0.1&clientid=1&call=publish&name=cam2&type=live&token=ab\"c&x=<b>&y={|}#z";
    let req = format!(
        "GET /nginx?{query} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n"
    );
    let resp = raw_exchange(r.addr, req.as_bytes());
    let (status, body) = parse_response(&resp).unwrap();
    assert_eq!(status, 200, "{body}");
    let line = r.wait_journal_lines(1).remove(0);
    assert_eq!(line["provider"], "nginx-rtmp");
    assert_eq!(line["kind"], "ingest");
    assert!(
        line["path"]
            .as_str()
            .unwrap()
            .ends_with("token=ab%22c&x=%3Cb%3E&y=%7B%7C%7D%23z"),
        "{line}"
    );
    let state = r.state();
    assert_eq!(stream(&state, "cam2")["ingest"], "live");
}

#[test]
fn a_journal_from_before_the_providers_resumes_as_it_was_recorded() {
    // recmon's own journal of the nginx-rtmp runs (in tests/fixtures/providers/captures,
    // written before it read nginx-rtmp): no `provider` field, nginx's requests rejected. A resume keeps each
    // line's recorded outcome; nothing is read again as another provider's.
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("old.jsonl");
    std::fs::copy(fixtures().join("captures/recmon-journal.jsonl"), &journal).unwrap();
    let j = journal.display().to_string();
    let r = Recmon::start_in(dir.path(), &journal, &["--resume", &j]);
    let state = r.state();
    assert_eq!(state["requests"]["rejected"], 26, "{state:#}");
    assert_eq!(state["requests"]["accepted"], 1, "{state:#}");
    assert_eq!(state["last_seq"], 27);
    let streams = state["streams"].as_array().unwrap();
    assert!(
        streams.iter().all(|s| s["provider"] == "aliyun"),
        "{state:#}"
    );
}

#[test]
fn the_report_names_the_provider_and_marks_derived_times() {
    let mut r = Recmon::start(&[]);
    for (_, bytes) in capture_run("nginx-rtmp") {
        raw_exchange(r.addr, &bytes);
    }
    post_json(&r, "/tc", &sample("tencent_record_100"));
    r.stop();
    let md = recmon_ok([std::ffi::OsStr::new("report"), r.journal.as_os_str()]);
    assert!(md.contains("- provider: nginx-rtmp\n"), "{md}");
    assert!(
        md.contains("- ~ times of 3 files derived from arrival times"),
        "{md}"
    );
    assert!(md.contains("- provider: tencent\n"), "{md}");
    assert_eq!(
        md.matches("derived from arrival").count(),
        1,
        "Tencent sends its times: {md}"
    );
}

#[test]
fn with_an_auth_key_unsigned_providers_are_read_only_where_pinned_and_never_touch_a_signed_stream()
{
    let key = "abcdefgh12345678";
    let r = Recmon::start(&["--auth-key", key, "--provider", "/nginx=nginx-rtmp"]);
    r.wait_stderr("read only on paths pinned to them");
    let publish = "app=live&tcurl=rtmp://a.example/live&addr=127.0.0.1&call=publish&name=real";
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    // Unpinned: an nginx-rtmp shape is ApsaraVideo's request, and has no signature.
    let (status, body) = request(r.addr, "POST", "/cb", &form, publish.as_bytes());
    assert_eq!(status, 403, "{body}");
    // An SRS shape the same.
    let srs = r#"{"action":"on_unpublish","vhost":"a.example","app":"live","stream":"real"}"#;
    assert_eq!(post_json(&r, "/cb", srs).0, 403);
    // Pinned: read as nginx-rtmp's, answered 200.
    let (status, _) = request(r.addr, "POST", "/nginx", &form, publish.as_bytes());
    assert_eq!(status, 200);
    // nginx-rtmp never retries: a file reusing the path (record_unique off) is a new file.
    for _ in 0..3 {
        let done =
            "app=live&tcurl=rtmp://a.example/live&call=record_done&name=real&path=/rec/real.flv";
        let (status, body) = request(r.addr, "POST", "/nginx", &form, done.as_bytes());
        assert_eq!(status, 200);
        assert!(body.contains("\"outcome\":\"accepted\""), "{body}");
    }
    let state = r.state();
    let streams = state["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1, "{state:#}");
    assert_eq!(streams[0]["provider"], "nginx-rtmp");
    assert_eq!(streams[0]["recordings"], 3);
    assert_eq!(state["auth_failures"], 2);
}

#[test]
fn two_providers_streams_of_one_name_are_two_streams() {
    let r = Recmon::start(&[]);
    let ali = r#"{"domain":"a.example","app":"live","stream":"s","event":"record_started"}"#;
    assert_eq!(post_json(&r, "/cb", ali).0, 200);
    let srs = r#"{"action":"on_unpublish","vhost":"a.example","app":"live","stream":"s"}"#;
    assert_eq!(post_json(&r, "/srs", srs).0, 200);
    let state = r.state();
    let streams = state["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 2, "{state:#}");
    let ali_stream = streams.iter().find(|s| s["provider"] == "aliyun").unwrap();
    assert_eq!(ali_stream["state"], "started");
    assert_eq!(
        ali_stream["ingest"], "unknown",
        "SRS's unpublish is SRS's stream's"
    );
}
