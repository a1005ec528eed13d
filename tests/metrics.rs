//! `/metrics` against a real Prometheus (Debian's `prometheus` package, installed by
//! `.ci/run`): it scrapes recmon with a Bearer token, and a PromQL query through its HTTP API
//! returns the request count recmon served; `promtool check metrics` passes on the document.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const TOKEN: &str = "metrics-test-token-0123456789";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn metrics(r: &Recmon, token: Option<&str>) -> (u16, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    request(r.addr, "GET", "/metrics", &headers, b"")
}

#[test]
fn prometheus_scrapes_recmon_with_a_token_and_counts_its_requests() {
    for tool in ["prometheus", "promtool"] {
        assert!(
            Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success()),
            "{tool} is required (bash .ci/run installs Debian's prometheus package)"
        );
    }
    let r = Recmon::start(&["--api-token", TOKEN]);
    for i in 0..3 {
        let body =
            format!(r#"{{"domain":"d","app":"a","stream":"s{i}","event":"record_started"}}"#);
        assert_eq!(r.post("/cb", &body).0, 200);
    }
    assert_eq!(r.post("/cb", "{not json").0, 400);
    // The API's access rule: without the token, refused (and journaled as rejected).
    assert_eq!(metrics(&r, None).0, 401);
    let (status, text) = metrics(&r, Some(TOKEN));
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains(r#"recmon_requests_total{outcome="accepted"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"recmon_stream_recording{domain="d",app="a",stream="s0"} 1"#),
        "{text}"
    );

    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: recmon\n    authorization:\n      type: Bearer\n      credentials: {TOKEN}\n    static_configs:\n      - targets: ['{}']\n",
            r.addr
        ),
    )
    .unwrap();
    let port = free_port();
    let prom = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _prometheus = Kill(prom);
    let prom_addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let query = "/api/v1/query?query=recmon_requests_total%7Boutcome%3D%22accepted%22%7D";
    let mut last = String::new();
    let found = wait_until(Duration::from_secs(60), || {
        let Ok((200, body)) = try_request(prom_addr, "GET", query, &[], b"") else {
            return false;
        };
        last = body.clone();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        v["data"]["result"][0]["value"][1] == "3"
    });
    assert!(found, "Prometheus never returned the count: {last}");
    // It scraped with the token: the target is up.
    let (_, up) = try_request(prom_addr, "GET", "/api/v1/query?query=up", &[], b"").unwrap();
    let v: serde_json::Value = serde_json::from_str(&up).unwrap();
    assert_eq!(v["data"]["result"][0]["value"][1], "1", "{up}");
}
