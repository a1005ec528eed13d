//! Forwarding (`--forward-to`) against a real backend over loopback: what the backend
//! receives, byte for byte; an outage; a `kill -9` in the middle of one; sync pass-through
//! with its timeout; giving up and resending by hand.

mod backend;
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use backend::{free_addr, Backend};
use common::{request, Recmon, RECORDING_SAMPLE, STATUS_SAMPLE};

fn status_body(stream: &str, event: &str) -> String {
    format!(r#"{{"domain":"d.example","app":"live","stream":"{stream}","event":"{event}"}}"#)
}

fn recording_body(stream: &str, n: u32) -> String {
    format!(
        r#"{{"domain":"d.example","app":"live","stream":"{stream}","uri":"live/{stream}/{n}.flv","duration":60.0,"start_time":{},"stop_time":{}}}"#,
        1_700_000_000 + n * 60,
        1_700_000_060 + n * 60
    )
}

/// The journal's request lines by seq.
fn requests_by_seq(r: &Recmon) -> BTreeMap<u64, serde_json::Value> {
    r.journal_lines()
        .into_iter()
        .filter(|l| l.get("delivery").is_none())
        .map(|l| (l["seq"].as_u64().unwrap(), l))
        .collect()
}

fn delivery_lines(r: &Recmon) -> Vec<serde_json::Value> {
    r.journal_lines()
        .into_iter()
        .filter_map(|l| l.get("delivery").cloned())
        .collect()
}

#[test]
fn the_backend_gets_each_callback_byte_for_byte_with_its_query_and_signature() {
    let backend = Backend::start();
    let target = backend.url("/hook?token=abc");
    let mut r = Recmon::start(&["--forward-to", &target]);

    let signed = [
        ("ALI-LIVE-TIMESTAMP", "1764265953"),
        ("ALI-LIVE-SIGNATURE", "5f6c3f1b6b0a4f3c9b1d2e3f4a5b6c7d"),
        ("Content-Type", "application/json"),
    ];
    let seq_of = |(status, body): (u16, String)| {
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        (
            v["seq"].as_u64().unwrap(),
            v["outcome"].as_str().unwrap().to_string(),
        )
    };
    let (s1, _) = seq_of(request(
        r.addr,
        "POST",
        "/recmon",
        &signed,
        STATUS_SAMPLE.as_bytes(),
    ));
    let (s2, _) = seq_of(request(
        r.addr,
        "POST",
        "/recmon",
        &[],
        RECORDING_SAMPLE.as_bytes(),
    ));
    let ingest = "/pub?action=publish&app=example.com&appname=test01&id=test01&ip=42.120.0.1";
    let (s3, _) = seq_of(request(r.addr, "GET", ingest, &[], b""));
    // A provider retry of the status callback: a duplicate, forwarded all the same.
    let (s4, o4) = seq_of(request(
        r.addr,
        "POST",
        "/recmon",
        &signed,
        STATUS_SAMPLE.as_bytes(),
    ));
    assert_eq!(o4, "duplicate");
    // Rejected requests are not callbacks: never forwarded.
    let (s5, b5) = request(r.addr, "POST", "/recmon", &[], b"{not json");
    assert_eq!(s5, 400, "{b5}");

    assert!(
        backend.wait(Duration::from_secs(20), |got| got.len() >= 4),
        "the backend got {:?}",
        backend.received()
    );
    std::thread::sleep(Duration::from_millis(300));
    let got = backend.received();
    assert_eq!(got.len(), 4, "exactly the four callbacks: {got:?}");
    let journal = requests_by_seq(&r);
    let mut by_seq: BTreeMap<u64, &backend::Received> = BTreeMap::new();
    for g in &got {
        by_seq.insert(g.seq(), g);
    }
    assert_eq!(by_seq.keys().copied().collect::<Vec<_>>(), [s1, s2, s3, s4]);

    let status = by_seq[&s1];
    assert_eq!(status.method, "POST");
    assert_eq!(status.target, "/hook?token=abc");
    assert_eq!(status.body, STATUS_SAMPLE.as_bytes(), "body byte for byte");
    assert_eq!(status.header("ali-live-timestamp"), Some("1764265953"));
    assert_eq!(
        status.header("ali-live-signature"),
        Some("5f6c3f1b6b0a4f3c9b1d2e3f4a5b6c7d")
    );
    assert_eq!(status.header("content-type"), Some("application/json"));
    assert_eq!(status.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(
        status.header("x-forwarded-host"),
        Some(r.addr.to_string().as_str())
    );
    assert_eq!(status.header("x-forwarded-proto"), Some("http"));
    assert_eq!(
        status.header("host"),
        Some(backend.addr.to_string().as_str()),
        "the target's own Host"
    );

    let rec = by_seq[&s2];
    assert_eq!(rec.body, RECORDING_SAMPLE.as_bytes());
    let ing = by_seq[&s3];
    assert_eq!(ing.method, "GET");
    assert_eq!(
        ing.target,
        "/hook?token=abc&action=publish&app=example.com&appname=test01&id=test01&ip=42.120.0.1",
        "the callback's query after the target's own"
    );
    assert!(ing.body.is_empty());
    assert_eq!(by_seq[&s4].body, STATUS_SAMPLE.as_bytes());
    assert_eq!(journal[&s4]["outcome"], "duplicate");

    // The journal: each forwarded request lists the target; each attempt is its own line.
    for seq in [s1, s2, s3, s4] {
        assert_eq!(journal[&seq]["forward"][0], target, "seq {seq}");
    }
    let rejected = journal
        .values()
        .find(|l| l["outcome"] == "rejected")
        .unwrap();
    assert!(rejected.get("forward").is_none(), "{rejected}");
    let deliveries = delivery_lines(&r);
    assert_eq!(deliveries.len(), 4, "{deliveries:?}");
    for d in &deliveries {
        assert_eq!(d["result"], "delivered");
        assert_eq!(d["status"], 200);
        assert_eq!(d["attempt"], 1);
        assert_eq!(d["target"], target);
    }
    let state = r.state();
    let f = &state["forward"][0];
    assert_eq!(f["url"], target);
    assert_eq!(f["mode"], "async");
    assert_eq!(
        (f["delivered"].as_u64(), f["pending"].as_u64()),
        (Some(4), Some(0))
    );
    assert_eq!(f["failed"], 0);
    assert!(f["oldest_pending_s"].is_null());

    let (status, _, err) = r.stop();
    assert!(status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "forward to {target} (async): 4 delivered, 0 pending"
        )),
        "{err}"
    );
}

#[test]
fn skip_duplicates_leaves_provider_retries_out() {
    let backend = Backend::start();
    let r = Recmon::start(&[
        "--forward-to",
        &backend.url("/cb"),
        "--forward-skip-duplicates",
    ]);
    for _ in 0..3 {
        assert_eq!(r.post("/cb", STATUS_SAMPLE).0, 200);
    }
    assert_eq!(r.post("/cb", RECORDING_SAMPLE).0, 200);
    assert!(backend.wait(Duration::from_secs(20), |g| g.len() >= 2));
    std::thread::sleep(Duration::from_millis(300));
    let seqs: Vec<u64> = backend.received().iter().map(|g| g.seq()).collect();
    assert_eq!(seqs.len(), 2, "{seqs:?}");
    assert!(seqs.contains(&1), "{seqs:?}");
}

#[test]
fn an_outage_delays_no_ack_and_every_callback_arrives_in_stream_order() {
    let backend = Backend::start();
    backend.set(|b| b.status = 500);
    let r = Recmon::start(&["--forward-to", &backend.url("/cb")]);
    let outage_started = Instant::now();

    let streams = ["cam-a", "cam-b", "cam-c"];
    let mut worst_ack = Duration::ZERO;
    let mut sent = Vec::new();
    for n in 0..20u32 {
        for s in streams {
            let body = if n % 4 == 0 {
                status_body(
                    s,
                    ["record_started", "record_paused", "record_resumed"][(n / 4 % 3) as usize],
                )
            } else {
                recording_body(s, n)
            };
            let t0 = Instant::now();
            let (status, answer) = r.post("/cb", &body);
            worst_ack = worst_ack.max(t0.elapsed());
            assert_eq!(status, 200, "{answer}");
            let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
            sent.push((s, v["seq"].as_u64().unwrap(), v["outcome"].clone()));
        }
    }
    let acked_within = outage_started.elapsed();
    // Every callback was answered while the backend was still failing: forwarding never
    // held an answer back (it has its own journaled outbox).
    assert!(
        acked_within < Duration::from_secs(10),
        "60 acks took {acked_within:?} during the outage"
    );
    assert!(
        worst_ack < Duration::from_secs(2),
        "slowest ack {worst_ack:?}"
    );
    assert!(
        backend.wait(Duration::from_secs(10), |g| g.len() >= 3),
        "no attempt reached the backend"
    );
    // The backend recovers 10 s into the outage.
    let until = Duration::from_secs(10).saturating_sub(outage_started.elapsed());
    std::thread::sleep(until);
    backend.set(|b| b.status = 200);
    let forwardable: Vec<u64> = sent.iter().map(|(_, seq, _)| *seq).collect();
    assert!(
        backend.wait(Duration::from_secs(60), |_| {
            let got: std::collections::HashSet<u64> =
                backend.delivered().iter().map(|g| g.seq()).collect();
            forwardable.iter().all(|s| got.contains(s))
        }),
        "not every callback was delivered after the backend came back: {:?}",
        backend
            .delivered()
            .iter()
            .map(|g| g.seq())
            .collect::<Vec<_>>()
    );
    // Per stream, the successful deliveries came in seq order, each once.
    let stream_of = |g: &backend::Received| {
        let v: serde_json::Value = serde_json::from_slice(&g.body).unwrap();
        v["stream"].as_str().unwrap().to_string()
    };
    for s in streams {
        let got: Vec<u64> = backend
            .delivered()
            .iter()
            .filter(|g| stream_of(g) == s)
            .map(|g| g.seq())
            .collect();
        let want: Vec<u64> = sent
            .iter()
            .filter(|(st, _, _)| *st == s)
            .map(|(_, seq, _)| *seq)
            .collect();
        assert_eq!(got, want, "stream {s}: delivered out of order or twice");
        // And every failed attempt of a stream came before its later callbacks were tried.
        let tried: Vec<u64> = backend
            .received()
            .iter()
            .filter(|g| stream_of(g) == s)
            .map(|g| g.seq())
            .collect();
        assert!(
            tried.windows(2).all(|w| w[0] <= w[1]),
            "stream {s}: {tried:?}"
        );
    }
    let deliveries = delivery_lines(&r);
    assert!(deliveries
        .iter()
        .any(|d| d["result"] == "retry" && d["status"] == 500));
    let state = r.state();
    assert_eq!(state["forward"][0]["pending"], 0, "{}", state["forward"]);
    assert_eq!(state["forward"][0]["delivered"], 60);
}

#[test]
fn kill_9_mid_outage_then_resume_delivers_every_acknowledged_callback() {
    let addr = free_addr();
    let target = format!("http://{addr}/cb");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let j = journal.to_str().unwrap().to_string();
    let mut first = Recmon::start_in(dir.path(), &journal, &["--forward-to", &target]);
    let mut acked = Vec::new();
    for n in 0..30u32 {
        let stream = format!("s{}", n % 4);
        let (status, answer) = first.post("/cb", &recording_body(&stream, n));
        assert_eq!(status, 200, "{answer}");
        let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
        acked.push(v["seq"].as_u64().unwrap());
    }
    // Attempts fail (nothing listens) and are journaled as retries.
    assert!(common::wait_until(Duration::from_secs(20), || {
        delivery_lines(&first)
            .iter()
            .any(|d| d["result"] == "retry")
    }));
    first.kill9();

    let backend = Backend::start_on(addr);
    let second = Recmon::start_in(
        dir.path(),
        &journal,
        &["--resume", &j, "--forward-to", &target],
    );
    let _ = &second;
    let err = second.wait_stderr("owed from the journal");
    assert!(err.contains("30 callbacks owed from the journal"), "{err}");
    assert!(
        backend.wait(Duration::from_secs(30), |_| {
            let got: std::collections::HashSet<u64> =
                backend.delivered().iter().map(|g| g.seq()).collect();
            acked.iter().all(|s| got.contains(s))
        }),
        "lost callbacks: acked {acked:?}, delivered {:?}",
        backend
            .delivered()
            .iter()
            .map(|g| g.seq())
            .collect::<Vec<_>>()
    );
    // The attempt count carries on from the first run's retries.
    assert!(common::wait_until(Duration::from_secs(10), || {
        second.state()["forward"][0]["pending"] == 0
    }));
    let lines = common::journal_lines(&journal);
    let later = lines
        .iter()
        .filter_map(|l| l.get("delivery"))
        .filter(|d| d["result"] == "delivered")
        .map(|d| d["attempt"].as_u64().unwrap())
        .max()
        .unwrap();
    assert!(later >= 2, "attempts did not carry over");
}

#[test]
fn sync_mode_passes_the_backends_answer_and_a_slow_backend_gets_504_in_time() {
    let backend = Backend::start();
    backend.set(|b| {
        b.status = 201;
        b.body = r#"{"backend":"yes"}"#.into();
    });
    let r = Recmon::start(&[
        "--forward-to",
        &backend.url("/cb"),
        "--forward-mode",
        "sync",
    ]);
    let (status, body) = r.post("/cb", STATUS_SAMPLE);
    assert_eq!((status, body.as_str()), (201, r#"{"backend":"yes"}"#));
    backend.set(|b| {
        b.status = 503;
        b.body = "busy".into();
    });
    let (status, body) = r.post("/cb", RECORDING_SAMPLE);
    assert_eq!((status, body.as_str()), (503, "busy"));

    backend.set(|b| {
        b.status = 200;
        b.delay = Duration::from_secs(6);
    });
    let t0 = Instant::now();
    let (status, body) = r.post("/cb", &status_body("slow", "record_paused"));
    let took = t0.elapsed();
    assert_eq!(status, 504, "{body}");
    assert!(took < Duration::from_millis(4500), "504 after {took:?}");
    assert!(
        took >= Duration::from_millis(3900),
        "504 after only {took:?}"
    );
    assert!(body.contains("did not answer within 4000 ms"), "{body}");

    // Nothing listening: 502, at once.
    let down = free_addr();
    let r2 = Recmon::start(&[
        "--forward-to",
        &format!("http://{down}/cb"),
        "--forward-mode",
        "sync",
    ]);
    let (status, body) = r2.post("/cb", STATUS_SAMPLE);
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("connection refused"), "{body}");

    // Every answer is journaled: the request, then its delivery line with what the provider
    // got.
    let d = delivery_lines(&r);
    let answered: Vec<u64> = d.iter().map(|d| d["answered"].as_u64().unwrap()).collect();
    assert_eq!(answered, [201, 503, 504]);
    assert_eq!(d[0]["result"], "delivered");
    assert_eq!(d[1]["result"], "failed");
    assert_eq!(d[2]["result"], "failed");
    let reqs = requests_by_seq(&r);
    assert!(
        reqs.values().all(|l| l.get("forward").is_none()),
        "sync owes nothing later"
    );
    assert_eq!(r.state()["forward"][0]["mode"], "sync");
}

#[test]
fn a_callback_given_up_on_is_listed_and_replay_seq_resends_it() {
    let backend = Backend::start();
    backend.set(|b| b.status = 500);
    let target = backend.url("/cb");
    let mut r = Recmon::start(&["--forward-to", &target, "--forward-give-up", "2s"]);
    let (_, answer) = r.post("/cb", RECORDING_SAMPLE);
    let seq: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let seq = seq["seq"].as_u64().unwrap();
    assert!(common::wait_until(Duration::from_secs(20), || {
        r.state()["forward"][0]["failed"] == 1
    }));
    let state = r.state();
    assert_eq!(state["forward"][0]["failed_seqs"], serde_json::json!([seq]));
    assert_eq!(state["forward"][0]["pending"], 0);
    let err = r.wait_stderr("GAVE UP");
    assert!(err.contains(&format!("replay --seq {seq}")), "{err}");
    let (_, _, err) = r.stop();
    assert!(err.contains("1 failed"), "{err}");

    backend.set(|b| b.status = 200);
    let before = backend.received().len();
    let out = std::process::Command::new(common::bin())
        .args(["replay", r.journal.to_str().unwrap(), "--to"])
        .arg(&target)
        .args(["--seq", &seq.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = backend.received();
    assert_eq!(got.len(), before + 1);
    let last = got.last().unwrap();
    assert_eq!(last.seq(), seq);
    assert_eq!(last.body, RECORDING_SAMPLE.as_bytes());
}

#[test]
fn the_feed_carries_delivery_lines_and_an_attached_view_reads_them() {
    let backend = Backend::start();
    let target = backend.url("/cb");
    let r = Recmon::start(&["--forward-to", &target]);
    assert_eq!(r.post("/cb", STATUS_SAMPLE).0, 200);
    assert!(backend.wait(Duration::from_secs(20), |g| g.len() == 1));
    let mut attach = std::process::Command::new(common::bin())
        .args([
            "attach",
            &format!("http://{}", r.addr),
            "--headless",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = attach.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    while lines.len() < 2 {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => lines.push(l),
            Err(_) => break,
        }
    }
    let _ = attach.kill();
    let _ = attach.wait();
    // The journal's two lines, byte for byte: the callback, then its delivery.
    let journal = std::fs::read_to_string(&r.journal).unwrap();
    let want: Vec<&str> = journal.lines().collect();
    assert_eq!(lines, want, "the attached view printed other lines");
    let d: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(d["delivery"]["result"], "delivered");
    assert_eq!(d["delivery"]["of"], 1);
}

#[test]
fn headless_says_when_forwarding_fails_and_when_it_recovers() {
    let backend = Backend::start();
    backend.set(|b| b.status = 500);
    let target = backend.url("/cb");
    let r = Recmon::start(&["--forward-to", &target]);
    assert_eq!(r.post("/cb", STATUS_SAMPLE).0, 200);
    let err = r.wait_stderr("failing");
    assert!(
        err.contains(&format!(
            "forward to {target} failing: #1 attempt 1: 500 Internal Server Error; retrying in 1 s"
        )),
        "{err}"
    );
    backend.set(|b| b.status = 200);
    let err = r.wait_stderr("recovered");
    assert!(
        err.contains(&format!(
            "forward to {target} recovered: #1 delivered (200) on attempt 2; 0 pending"
        )),
        "{err}"
    );
}

#[test]
fn a_callback_given_up_on_during_an_outage_does_not_stall_the_next_ones() {
    let addr = free_addr();
    let r = Recmon::start(&[
        "--forward-to",
        &format!("http://{addr}/cb"),
        "--forward-give-up",
        "2s",
    ]);
    assert_eq!(
        r.post("/cb", &status_body("first", "record_started")).0,
        200
    );
    assert!(common::wait_until(Duration::from_secs(20), || {
        r.state()["forward"][0]["failed"] == 1
    }));
    // The backend comes up; a callback of another stream arrives after the give-up.
    let backend = Backend::start_on(addr);
    let (_, answer) = r.post("/cb", &status_body("second", "record_started"));
    let seq = serde_json::from_str::<serde_json::Value>(&answer).unwrap()["seq"]
        .as_u64()
        .unwrap();
    assert!(
        backend.wait(Duration::from_secs(10), |g| g
            .iter()
            .any(|g| g.seq() == seq)),
        "the callback after the give-up was never delivered: {}",
        r.state()["forward"]
    );
}

#[test]
fn a_callback_the_backend_refuses_holds_back_only_its_own_stream() {
    let backend = Backend::start();
    backend.set(|b| b.refuse = Some(("\"bad\"".into(), 422)));
    let r = Recmon::start(&["--forward-to", &backend.url("/cb")]);
    assert_eq!(r.post("/cb", &status_body("bad", "record_started")).0, 200);
    assert!(backend.wait(Duration::from_secs(10), |g| g
        .iter()
        .any(|g| g.answered == 422)));
    let (_, answer) = r.post("/cb", &status_body("good", "record_started"));
    let seq = serde_json::from_str::<serde_json::Value>(&answer).unwrap()["seq"]
        .as_u64()
        .unwrap();
    assert!(
        backend.wait(Duration::from_secs(3), |g| g
            .iter()
            .any(|g| g.seq() == seq && g.answered == 200)),
        "a healthy stream waited behind a refused one: {}",
        r.state()["forward"]
    );
    // The refused one is retried on its own backoff meanwhile.
    let deliveries = delivery_lines(&r);
    assert!(deliveries
        .iter()
        .any(|d| d["status"] == 422 && d["result"] == "retry"));
}

#[test]
fn forwarding_to_itself_is_refused_as_a_loop_not_repeated_for_ever() {
    // The listener's own port: reserve one, then give it to recmon and its --forward-to.
    let addr = free_addr();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("j.jsonl");
    let mut r = Recmon::start_in(
        dir.path(),
        &journal,
        &[
            "--listen",
            &addr.to_string(),
            "--forward-to",
            &format!("http://{addr}/loop"),
        ],
    );
    assert_eq!(r.post("/cb", STATUS_SAMPLE).0, 200);
    assert!(common::wait_until(Duration::from_secs(20), || {
        r.state()["forward"][0]["failed"] == 1
    }));
    std::thread::sleep(Duration::from_millis(1500));
    let lines = r.journal_lines();
    assert!(lines.len() <= 4, "the loop went on: {} lines", lines.len());
    let refused = lines
        .iter()
        .find(|l| l["status"] == 508)
        .expect("the copy was refused");
    assert!(refused["error"]
        .as_str()
        .unwrap()
        .contains("forwarding loop"));
    assert!(
        refused.get("forward").is_none(),
        "a refused copy is not forwarded"
    );
    let d = delivery_lines(&r);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        (d[0]["status"].as_u64(), d[0]["result"].as_str()),
        (Some(508), Some("failed"))
    );
    let (_, _, err) = r.stop();
    assert!(err.contains("GAVE UP"), "{err}");
}

#[test]
fn replay_seq_names_the_seqs_that_are_no_callback() {
    let backend = Backend::start();
    let r = Recmon::start(&["--forward-to", &backend.url("/cb")]);
    assert_eq!(r.post("/cb", STATUS_SAMPLE).0, 200);
    assert!(backend.wait(Duration::from_secs(20), |g| g.len() == 1));
    let out = std::process::Command::new(common::bin())
        .args([
            "replay",
            r.journal.to_str().unwrap(),
            "--to",
            &backend.url("/cb"),
        ])
        .args(["--seq", "2,99"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("2 seqs are not a callback"), "{err}");
    assert!(err.contains(": 2, 99"), "{err}");
}

/// nginx-rtmp's `on_publish`, as nginx-rtmp POSTs it (a form).
fn nginx_publish(r: &Recmon, name: &str) -> (u16, String) {
    let body = format!(
        "app=live&flashver=FMLE/3.0&swfurl=&tcurl=rtmp://127.0.0.1:1935/live&pageurl=&addr=127.0.0.1&clientid=7&call=publish&name={name}&type=live"
    );
    request(
        r.addr,
        "POST",
        "/ngx",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
}

/// SRS's `on_publish` hook, with SRS's User-Agent.
fn srs_publish(r: &Recmon, stream: &str) -> (u16, String) {
    let body = format!(
        r#"{{"server_id":"vid-1","action":"on_publish","client_id":"9308h583","ip":"127.0.0.1","vhost":"__defaultVhost__","app":"live","tcUrl":"rtmp://127.0.0.1/live","stream":"{stream}","param":"","stream_url":"/live/{stream}","stream_id":"vid-2"}}"#
    );
    request(
        r.addr,
        "POST",
        "/srs",
        &[
            ("Content-Type", "application/json"),
            ("User-Agent", "SRS/6.0.157(Bee)"),
        ],
        body.as_bytes(),
    )
}

/// SRS reads an answer as success only when it is 200 and an object whose `code` is 0.
fn srs_success((status, body): &(u16, String)) -> bool {
    *status == 200 && serde_json::from_str::<serde_json::Value>(body).is_ok_and(|v| v["code"] == 0)
}

#[cfg(target_os = "linux")]
#[test]
fn nginx_and_srs_get_their_success_answer_on_a_failing_journal_async_and_sync() {
    // /dev/full takes the journal's open and fails every write (ENOSPC): a full disk.
    let backend = Backend::start();
    // A backend in front of SRS answers as SRS needs (sync mode passes its answer on).
    backend.set(|b| b.body = r#"{"code":0}"#.into());
    let target = backend.url("/cb");
    for mode in ["no forwarding", "async", "sync"] {
        // (No alert engine: its journal_failure alert would be one more failed write.)
        let mut extra: Vec<&str> = vec!["--fsync", "never", "--no-alerts"];
        if mode != "no forwarding" {
            extra.extend(["--forward-to", &target, "--forward-mode", mode]);
        }
        let dir = tempfile::tempdir().unwrap();
        let r = Recmon::start_in(dir.path(), std::path::Path::new("/dev/full"), &extra);
        let before = backend.received().len();
        let (status, body) = nginx_publish(&r, &format!("cam-{}", mode.len()));
        assert!(
            (200..300).contains(&status),
            "{mode}: nginx-rtmp's on_publish got {status} (a non-2xx drops the publisher): {body}"
        );
        let srs = srs_publish(&r, &format!("cam-{}", mode.len()));
        assert!(srs_success(&srs), "{mode}: SRS's on_publish got {srs:?}");
        // A provider that retries is told to retry.
        let (status, body) = r.post("/cb", STATUS_SAMPLE);
        assert_eq!(status, 503, "{mode}: {body}");
        assert_eq!(r.state()["journal_failures"], 3, "{mode}");
        if mode == "sync" {
            // The backend still decides for nginx-rtmp and SRS: both reached it (no seq to
            // give them), and its answer was theirs.
            let got = backend.received();
            assert_eq!(got.len(), before + 2, "{mode}: {got:?}");
            assert!(got[before..]
                .iter()
                .all(|g| g.header("x-recmon-seq").is_none()));
        }
    }
}

#[test]
fn sync_mode_nginx_and_srs_go_on_when_the_backend_fails_and_headless_says_what_each_got() {
    // Nothing listening: ApsaraVideo gets 502 (it retries), nginx-rtmp and SRS a success.
    let down = free_addr();
    let mut r = Recmon::start(&[
        "--forward-to",
        &format!("http://{down}/cb"),
        "--forward-mode",
        "sync",
    ]);
    let (status, body) = r.post("/cb", STATUS_SAMPLE);
    assert_eq!(status, 502, "{body}");
    let (status, body) = nginx_publish(&r, "cam-down");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("could not be reached"), "{body}");
    let srs = srs_publish(&r, "cam-down");
    assert!(srs_success(&srs), "{srs:?}");
    let d = delivery_lines(&r);
    let answered: Vec<u64> = d.iter().map(|d| d["answered"].as_u64().unwrap()).collect();
    assert_eq!(answered, [502, 200, 200], "{d:?}");
    assert!(d.iter().all(|d| d["result"] == "failed"));
    let (_, out, err) = r.stop();
    let line = |what: &str| {
        out.lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no line with {what}:\n{out}"))
            .to_string()
    };
    // The headless lines say what each provider got: not `accepted  200` for the 502.
    let ali = line("gs_stream");
    assert!(ali.contains("accepted  502 "), "{ali}");
    assert!(ali.contains("(no answer from the backend)"), "{ali}");
    let ngx = line("[ngx] 127.0.0.1/live/cam-down");
    assert!(ngx.contains("accepted  200 "), "{ngx}");
    assert!(
        ngx.contains("no answer from the backend; 200 so that the stream goes on"),
        "{ngx}"
    );
    assert!(
        err.contains("answered 200 so that the stream goes on"),
        "{err}"
    );

    // A backend that answers: a 5xx is its failure (nginx-rtmp and SRS go on), a 4xx its
    // decision (passed on: the backend's on_publish may refuse a publisher).
    let backend = Backend::start();
    let mut r = Recmon::start(&[
        "--forward-to",
        &backend.url("/cb"),
        "--forward-mode",
        "sync",
    ]);
    backend.set(|b| {
        b.status = 500;
        b.body = "down".into();
    });
    let (status, body) = nginx_publish(&r, "cam-500");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("the backend answered 500"), "{body}");
    assert!(srs_success(&srs_publish(&r, "cam-500")));
    let (status, _) = r.post("/cb", STATUS_SAMPLE);
    assert_eq!(status, 500, "ApsaraVideo gets the backend's answer");
    backend.set(|b| {
        b.status = 403;
        b.body = "no such key".into();
    });
    let (status, body) = nginx_publish(&r, "cam-403");
    assert_eq!((status, body.as_str()), (403, "no such key"));
    let (_, out, _) = r.stop();
    let ngx = out
        .lines()
        .find(|l| l.contains("/live/cam-500"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        ngx.contains("accepted  200 ")
            && ngx.contains("(the backend answered 500; 200 so that the stream goes on)"),
        "{ngx}"
    );
    let refused = out
        .lines()
        .find(|l| l.contains("/live/cam-403"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        refused.contains("accepted  403 ") && refused.contains("(the backend's 403, passed on)"),
        "{refused}"
    );
}

#[test]
fn a_backend_back_after_a_long_outage_gets_the_backlog_within_seconds_not_after_the_backoff() {
    // Nothing listens on the target's port for long enough that a stream's backoff has
    // grown to 16 s; then a backend comes up there.
    let addr = free_addr();
    let r = Recmon::start(&["--forward-to", &format!("http://{addr}/cb")]);
    assert_eq!(
        r.post("/cb", &status_body("cam-early", "record_started")).0,
        200
    );
    let fifth = common::wait_until(Duration::from_secs(40), || {
        delivery_lines(&r)
            .iter()
            .any(|d| d["attempt"] == 5 && d["result"] == "retry")
    });
    assert!(fifth, "no fifth attempt: {:?}", delivery_lines(&r));
    // Another stream's callback arrives during the outage.
    assert_eq!(r.post("/cb", &recording_body("cam-late", 1)).0, 200);
    let retry_in = delivery_lines(&r)
        .iter()
        .filter_map(|d| d["retry_in_s"].as_u64())
        .max()
        .unwrap();
    assert_eq!(retry_in, 16, "the backoff the old behaviour waited out");
    let backend = Backend::start_on(addr);
    let up = Instant::now();
    assert!(
        backend.wait(Duration::from_secs(30), |g| g.len() >= 2),
        "the backlog was not delivered: {:?}",
        backend.received()
    );
    let took = up.elapsed();
    // A probe every 2 s finds it; waiting out the backoff took up to 16 s.
    assert!(
        took < Duration::from_secs(8),
        "the backlog started {took:?} after the backend came back"
    );
    let got: Vec<u64> = backend.received().iter().map(|g| g.seq()).collect();
    assert_eq!(got.len(), 2, "each callback once: {got:?}");
}
