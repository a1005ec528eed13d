//! `recmon simulate --provider …` and the mixed `--demo`, end to end: the real binary sends
//! each provider's wire format to a real recmon on loopback, which must read every request as
//! that provider's and end with the streams offline and every file listed.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{bin, wait_until, Recmon};
use recmon::providers::Provider;
use recmon::tools::simulate::{Generator, SimKind, SimParams};

const SEED: u64 = 11;
const STREAMS: u32 = 2;
const TENCENT_KEY: &str = "tencent-template-key";

/// `recmon simulate [--provider PROVIDER] --to RECEIVER/cb --rate max --streams 2 --seed 11`,
/// plus `extra`; keys only as given.
fn simulate(r: &Recmon, provider: Option<&str>, extra: &[&str]) -> Output {
    let to = format!("http://{}/cb", r.addr);
    let seed = SEED.to_string();
    let streams = STREAMS.to_string();
    let mut args = vec!["simulate"];
    if let Some(p) = provider {
        args.extend(["--provider", p]);
    }
    args.extend([
        "--to",
        &to,
        "--rate",
        "max",
        "--streams",
        &streams,
        "--seed",
        &seed,
    ]);
    args.extend_from_slice(extra);
    Command::new(bin())
        .args(&args)
        .env_remove("RECMON_TENCENT_KEY")
        .env_remove("RECMON_AUTH_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("run recmon simulate")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// What the simulator sends for `provider` with the test's seed: (requests, first deliveries
/// of recording files).
fn expected(provider: Provider) -> (usize, usize) {
    let params = SimParams::new(SEED, STREAMS, 1).with_provider(provider);
    let reqs: Vec<_> = Generator::new(params).collect();
    let files = reqs
        .iter()
        .filter(|r| r.kind == SimKind::Recording && r.resend == 0)
        .count();
    (reqs.len(), files)
}

/// Runs the simulator against a fresh receiver and checks what the receiver made of it.
fn run_provider(provider: Provider, receiver: &[&str], sim: &[&str]) -> serde_json::Value {
    let mut r = Recmon::start(receiver);
    let out = simulate(&r, Some(provider.as_str()), sim);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{provider:?}: {err}");
    let (requests, files) = expected(provider);
    assert!(
        err.contains(&format!("sent {requests} requests")),
        "{provider:?}: expected {requests} requests: {err}"
    );
    let state = r.state();
    let streams = state["streams"].as_array().unwrap();
    assert_eq!(streams.len(), STREAMS as usize, "{state}");
    for s in streams {
        assert_eq!(s["provider"], provider.as_str(), "{s}");
        assert_eq!(s["ingest"], "offline", "{s}");
        assert!(s["recordings"].as_u64().unwrap() >= 2, "{s}");
        assert_eq!(s["viewers"], 0, "every viewer left: {s}");
    }
    // One recording per file, however often the provider re-sent it.
    assert_eq!(state["recordings_total"], files, "{state}");
    assert_eq!(state["requests"]["rejected"], 0, "{state}");
    assert_eq!(state["auth_failures"], 0, "{state}");
    let (status, _, stderr) = r.stop();
    assert!(status.success(), "{stderr}");
    let lines = r.journal_lines();
    assert_eq!(lines.len(), requests);
    for l in &lines {
        // The journal leaves the default provider out.
        let journaled = l["provider"].as_str().unwrap_or("aliyun");
        assert_eq!(journaled, provider.as_str(), "{l}");
        assert_eq!(l["status"], 200, "{l}");
    }
    state
}

#[test]
fn nginx_rtmp_simulation_is_read_as_nginx_rtmp() {
    let state = run_provider(Provider::NginxRtmp, &[], &[]);
    for s in state["streams"].as_array().unwrap() {
        assert!(s["domain"].as_str().unwrap().starts_with("rtmp"), "{s}");
        // nginx-rtmp sends no duration or times: the receiver derives them.
        assert_eq!(s["last_recording"]["times_derived"], true, "{s}");
    }
}

#[test]
fn srs_simulation_is_read_as_srs() {
    let state = run_provider(Provider::Srs, &[], &[]);
    for s in state["streams"].as_array().unwrap() {
        assert!(s["hls_segments"].as_u64().unwrap() > 10, "{s}");
        let uri = s["last_recording"]["uri"].as_str().unwrap();
        assert!(uri.starts_with("/usr/local/srs/objs/nginx/html/"), "{uri}");
    }
}

#[test]
fn tencent_simulation_is_read_as_tencent_with_and_without_a_key() {
    let state = run_provider(Provider::Tencent, &[], &[]);
    for s in state["streams"].as_array().unwrap() {
        assert_eq!(s["domain"], "push.example.com", "{s}");
        assert_eq!(s["state"], "ended", "{s}");
        assert_eq!(s["last_recording"]["times_derived"], false, "{s}");
    }
    // Signed with the receiver's key: every callback passes its check.
    run_provider(
        Provider::Tencent,
        &["--tencent-key", TENCENT_KEY],
        &["--tencent-key", TENCENT_KEY],
    );
}

#[test]
fn tencent_simulation_with_a_wrong_key_is_refused_as_forged() {
    let mut r = Recmon::start(&["--tencent-key", TENCENT_KEY]);
    let (requests, _) = expected(Provider::Tencent);
    let out = simulate(&r, Some("tencent"), &["--tencent-key", "not-the-key"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("403 ×{requests}")), "{err}");
    let state = r.state();
    assert_eq!(state["auth_failures"], requests, "{state}");
    assert_eq!(state["streams"].as_array().unwrap().len(), 0, "{state}");
    // And without a key the callbacks carry no sign at all.
    let out = simulate(&r, Some("tencent"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(r.state()["auth_failures"], 2 * requests);
    r.stop();
    let lines = r.journal_lines();
    assert!(lines.iter().all(|l| l["status"] == 403), "{lines:?}");
    let last = lines.last().unwrap().to_string();
    assert!(last.contains("no sign"), "{last}");
}

#[test]
fn provider_flag_is_checked() {
    let out = Command::new(bin())
        .args([
            "simulate",
            "--provider",
            "wowza",
            "--to",
            "http://127.0.0.1:9/",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("aliyun") && err.contains("nginx-rtmp") && err.contains("tencent"),
        "{err}"
    );
    let out = Command::new(bin())
        .args([
            "simulate",
            "--chaos",
            "--provider",
            "srs",
            "--to",
            "http://127.0.0.1:9/",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--chaos"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_demo_shows_every_provider_and_signs_tencent_with_the_receivers_key() {
    let mut r = Recmon::start(&["--demo", "--tencent-key", TENCENT_KEY]);
    let mut providers = BTreeSet::new();
    let all = wait_until(Duration::from_secs(30), || {
        let state = r.state();
        providers = state["streams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["provider"].as_str().unwrap().to_string())
            .collect();
        providers.len() == 4
    });
    assert!(all, "providers seen: {providers:?}");
    let state = r.state();
    assert_eq!(state["auth_failures"], 0, "{state}");
    assert_eq!(state["requests"]["rejected"], 0, "{state}");
    let (status, _, err) = r.stop();
    assert!(status.success(), "{err}");
    assert!(
        err.contains("recmon: demo: simulating 10 streams: 4 ApsaraVideo Live on 2 domains, 2 nginx-rtmp, 2 SRS, 2 Tencent Cloud"),
        "{err}"
    );
}

#[test]
fn aliyun_stays_the_default_and_reads_as_aliyun() {
    let state = run_provider(Provider::Aliyun, &[], &[]);
    for s in state["streams"].as_array().unwrap() {
        assert_eq!(s["last_event"], "publish_done", "{s}");
    }
    // Without --provider: the same requests.
    let r = Recmon::start(&[]);
    let out = simulate(&r, None, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (requests, _) = expected(Provider::Aliyun);
    assert!(text(&out.stderr).contains(&format!("sent {requests} requests")));
    assert_eq!(r.state()["streams"].as_array().unwrap().len(), 2);
}
