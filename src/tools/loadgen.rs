//! A load generator for recmon and for the benchmark baselines: many keep-alive HTTP/1.1
//! connections over loopback, each sending callbacks as fast as answers come back (closed
//! loop) or at a fixed total rate (open loop, for latency at a given load).
//!
//! Every request carries a recording of its own (unique uri), so a run measures the path a
//! new recording takes, not the cheaper duplicate answer; retries are mixed in only when
//! asked for. In an open-loop run a request's latency is counted from the instant the
//! schedule meant it to be sent, not from when a busy connection got round to sending it:
//! otherwise a stalled server delays the requests behind the stall and that wait is never
//! counted (coordinated omission).
//!
//! It speaks raw HTTP/1.1 on tokio sockets so the client side costs little and is the same
//! for every server it is pointed at. It records every acknowledgement (`seq` and outcome from
//! recmon's answer), so tests can check that nothing acknowledged was lost.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Target address.
    pub addr: SocketAddr,
    /// Request path.
    pub path: String,
    /// Simultaneous connections.
    pub connections: usize,
    /// Total requests.
    pub count: u64,
    /// Every Nth request repeats the previous recording (a provider retry); 0 = never.
    pub dup_every: u64,
    /// Total requests per second across all connections; None = as fast as possible.
    pub rate: Option<f64>,
    /// Where to write one line per acknowledged request (`index seq outcome`).
    pub acked_file: Option<PathBuf>,
}

/// The body of request `i` of a run: a unique recording on one of 64 streams, a status
/// event now and then, and every `dup_every`-th request a retry of the previous recording.
pub fn body_for(i: u64, dup_every: u64) -> String {
    let i = if dup_every > 0 && i % dup_every == dup_every - 1 && i > 0 {
        i - 1
    } else {
        i
    };
    let stream = i % 64;
    if i % 97 == 0 {
        // A first event for a fresh stream name: always accepted, never a duplicate.
        return format!(
            r#"{{"domain":"load.example.com","app":"live","stream":"status-{i}","event":"record_started"}}"#
        );
    }
    let start = 1_700_000_000 + i as i64 * 10;
    format!(
        r#"{{"domain":"load.example.com","app":"live","stream":"s{stream}","uri":"live/s{stream}/{i}_{start}_{}.flv","duration":10.0,"start_time":{start},"stop_time":{},"push_args":{{"callback_myid":"{i}"}}}}"#,
        start + 10,
        start + 10
    )
}

/// Whether `body_for(i)` is a retry of an earlier request.
pub fn is_retry(i: u64, dup_every: u64) -> bool {
    dup_every > 0 && i > 0 && i % dup_every == dup_every - 1
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    /// Requests written.
    pub sent: u64,
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer (connection broken).
    pub errors: u64,
    /// 200 answers whose body said accepted.
    pub accepted: u64,
    /// 200 answers whose body said duplicate.
    pub duplicate: u64,
    /// Answers with a 2xx status: the requests the server took.
    pub ok: u64,
    /// Wall time of the run.
    pub elapsed_s: f64,
    /// 2xx answers per second (an error page answered quickly is not throughput).
    pub rps: f64,
    /// Latency percentiles in microseconds of the 2xx answers, from the scheduled send
    /// instant (open loop) or from writing the request (closed loop) to reading the answer.
    /// `None` (JSON `null`) when no request got a 2xx answer: nothing was measured.
    pub latency_us: Option<Percentiles>,
}

/// Latency percentiles.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Worst.
    pub max: u64,
}

impl Percentiles {
    /// Computes percentiles from samples (sorted in place); `None` without samples, so that
    /// a run that measured nothing cannot read as a run with no latency.
    pub fn of(samples: &mut [u64]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
        Some(Percentiles {
            p50: at(0.50),
            p99: at(0.99),
            max: *samples.last()?,
        })
    }
}

#[derive(Default)]
struct WorkerResult {
    sent: u64,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    accepted: u64,
    duplicate: u64,
    latencies: Vec<u64>,
    acked: Vec<(u64, u64, bool)>,
}

/// Runs the load and reports. Stops early (counting errors) if the server goes away.
pub async fn run(spec: LoadSpec) -> io::Result<LoadReport> {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let spec = Arc::new(spec);
    let mut tasks = Vec::new();
    for _ in 0..spec.connections.max(1) {
        let next = next.clone();
        let spec = spec.clone();
        tasks.push(tokio::spawn(
            async move { worker(&spec, &next, start).await },
        ));
    }
    let mut total = WorkerResult::default();
    for t in tasks {
        let r = t.await.map_err(io::Error::other)?;
        total.sent += r.sent;
        total.errors += r.errors;
        total.accepted += r.accepted;
        total.duplicate += r.duplicate;
        for (k, v) in r.statuses {
            *total.statuses.entry(k).or_default() += v;
        }
        total.latencies.extend(r.latencies);
        total.acked.extend(r.acked);
    }
    let elapsed = start.elapsed().as_secs_f64();
    if let Some(path) = &spec.acked_file {
        total.acked.sort_unstable();
        let mut text = String::with_capacity(total.acked.len() * 24);
        for (i, seq, dup) in &total.acked {
            text.push_str(&format!(
                "{i} {seq} {}\n",
                if *dup { "duplicate" } else { "accepted" }
            ));
        }
        std::fs::write(path, text)?;
    }
    let ok: u64 = total
        .statuses
        .iter()
        .filter(|(status, _)| (200..300).contains(*status))
        .map(|(_, n)| n)
        .sum();
    Ok(LoadReport {
        sent: total.sent,
        statuses: total.statuses,
        errors: total.errors,
        accepted: total.accepted,
        duplicate: total.duplicate,
        ok,
        elapsed_s: elapsed,
        rps: ok as f64 / elapsed.max(1e-9),
        latency_us: Percentiles::of(&mut total.latencies),
    })
}

async fn connect(addr: SocketAddr) -> io::Result<BufReader<TcpStream>> {
    let s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    Ok(BufReader::with_capacity(16 * 1024, s))
}

async fn worker(spec: &LoadSpec, next: &AtomicU64, start: Instant) -> WorkerResult {
    let mut r = WorkerResult::default();
    let mut conn = connect(spec.addr).await.ok();
    let mut line = String::new();
    let mut body = Vec::new();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= spec.count {
            break;
        }
        let req = request_bytes(spec, &body_for(i, spec.dup_every));
        // Open loop: latency counts from when the schedule meant this request to go out. If
        // this connection was still waiting on a slow answer, that wait is part of what the
        // request experienced (a real sender would not have waited for the connection).
        let scheduled = match spec.rate {
            Some(rate) => {
                let due = start + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
                due
            }
            None => Instant::now(),
        };
        let Some(c) = conn.as_mut() else {
            // The server is gone (or refuses connections): this worker stops.
            r.errors += 1;
            break;
        };
        r.sent += 1;
        match exchange(c, &req, &mut line, &mut body).await {
            Ok((status, keep)) => {
                if (200..300).contains(&status) {
                    r.latencies.push(scheduled.elapsed().as_micros() as u64);
                }
                *r.statuses.entry(status).or_default() += 1;
                if status == 200 {
                    if let Some((seq, dup)) = parse_ack(&body) {
                        if dup {
                            r.duplicate += 1;
                        } else {
                            r.accepted += 1;
                        }
                        if spec.acked_file.is_some() {
                            r.acked.push((i, seq, dup));
                        }
                    }
                }
                if !keep {
                    conn = connect(spec.addr).await.ok();
                }
            }
            Err(_) => {
                r.errors += 1;
                conn = connect(spec.addr).await.ok();
            }
        }
    }
    r
}

fn request_bytes(spec: &LoadSpec, body: &str) -> Vec<u8> {
    format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nUser-Agent: recmon-bench\r\n\r\n{}",
        spec.path,
        spec.addr,
        body.len(),
        body
    )
    .into_bytes()
}

/// Writes one request and reads its answer. Returns the status and whether the connection
/// stays open.
async fn exchange(
    c: &mut BufReader<TcpStream>,
    req: &[u8],
    line: &mut String,
    body: &mut Vec<u8>,
) -> io::Result<(u16, bool)> {
    c.get_mut().write_all(req).await?;
    line.clear();
    if c.read_line(line).await? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    let mut len = 0usize;
    let mut keep = true;
    loop {
        line.clear();
        if c.read_line(line).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            } else if k.eq_ignore_ascii_case("connection") && v.trim().eq_ignore_ascii_case("close")
            {
                keep = false;
            }
        }
    }
    body.resize(len, 0);
    c.read_exact(body).await?;
    Ok((status, keep))
}

/// `seq` and whether recmon called it a duplicate, from `{"ok":true,"seq":N,"outcome":...}`.
fn parse_ack(body: &[u8]) -> Option<(u64, bool)> {
    let text = std::str::from_utf8(body).ok()?;
    let seq_at = text.find("\"seq\":")? + 6;
    let digits: String = text[seq_at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let seq = digits.parse().ok()?;
    Some((seq, text.contains("\"duplicate\"")))
}

/// A bare hyper 1.x server that answers 200 to everything after reading the body: the
/// baseline recmon's ingest is measured against. With `parse_json`, it also parses the body
/// with serde_json (to show what parsing alone costs).
pub async fn serve_baseline(listener: tokio::net::TcpListener, parse_json: bool) -> io::Result<()> {
    use http_body_util::{BodyExt, Full};
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    let counter = Arc::new(Mutex::new(0u64));
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let counter = counter.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let counter = counter.clone();
                async move {
                    let body = req.into_body().collect().await.map(|b| b.to_bytes());
                    if parse_json {
                        if let Ok(b) = &body {
                            let _ = std::hint::black_box(
                                serde_json::from_slice::<serde_json::Value>(b).is_ok(),
                            );
                        }
                    }
                    let seq = {
                        let mut c = counter.lock().unwrap();
                        *c += 1;
                        *c
                    };
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                        bytes::Bytes::from(format!(
                            "{{\"ok\":true,\"seq\":{seq},\"outcome\":\"accepted\"}}"
                        )),
                    )))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_valid_callbacks_and_retries_repeat_the_previous_one() {
        use crate::event::Method;
        use crate::providers::aliyun::classify;
        for i in 0..300 {
            let b = body_for(i, 10);
            assert!(classify(Method::Post, None, b.as_bytes()).is_ok(), "{b}");
            if is_retry(i, 10) {
                assert_eq!(b, body_for(i - 1, 10));
            }
        }
        assert!(!is_retry(0, 10));
        assert!(is_retry(9, 10));
    }

    #[test]
    fn ack_parsing() {
        assert_eq!(
            parse_ack(br#"{"ok":true,"outcome":"accepted","seq":42}"#),
            Some((42, false))
        );
        assert_eq!(
            parse_ack(br#"{"ok":true,"outcome":"duplicate","seq":7}"#),
            Some((7, true))
        );
        assert_eq!(parse_ack(b"{}"), None);
    }

    #[test]
    fn percentiles() {
        let mut v: Vec<u64> = (1..=100).collect();
        let p = Percentiles::of(&mut v).unwrap();
        assert_eq!((p.p50, p.p99, p.max), (51, 99, 100));
        // No answer, no figure: not a latency of 0.
        assert!(Percentiles::of(&mut []).is_none());
    }

    /// A one-connection server on loopback that holds its first answer for `stall` and
    /// answers every later request at once, with `status`.
    async fn stalling_server(stall: Duration, status: u16) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let mut s = BufReader::new(s);
            let mut first = true;
            let mut line = String::new();
            loop {
                let mut len = 0usize;
                loop {
                    line.clear();
                    if s.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let l = line.trim_end().to_ascii_lowercase();
                    if l.is_empty() {
                        break;
                    }
                    if let Some(v) = l.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; len];
                s.read_exact(&mut body).await.unwrap();
                if std::mem::take(&mut first) {
                    tokio::time::sleep(stall).await;
                }
                let body = r#"{"ok":true,"seq":1,"outcome":"accepted"}"#;
                let answer = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                s.get_mut().write_all(answer.as_bytes()).await.unwrap();
            }
        });
        addr
    }

    fn spec(addr: SocketAddr, count: u64, rate: Option<f64>) -> LoadSpec {
        LoadSpec {
            addr,
            path: "/cb".into(),
            connections: 1,
            count,
            dup_every: 0,
            rate,
            acked_file: None,
        }
    }

    #[tokio::test]
    async fn open_loop_latency_counts_from_the_scheduled_send() {
        // 20 requests due over 190 ms; the server holds the first answer 600 ms, so every
        // request waits behind it. Timed from the actual send, only the first would be slow
        // (p50 near zero); timed from its scheduled instant, each request waited at least
        // 600 - 190 ms.
        let addr = stalling_server(Duration::from_millis(600), 200).await;
        let report = run(spec(addr, 20, Some(100.0))).await.unwrap();
        assert_eq!(report.ok, 20, "{report:?}");
        let lat = report.latency_us.unwrap();
        assert!(lat.p50 >= 400_000, "{lat:?}");
        assert!(lat.max >= 600_000, "{lat:?}");
    }

    #[tokio::test]
    async fn only_2xx_answers_count_as_throughput_and_latency() {
        let addr = stalling_server(Duration::ZERO, 503).await;
        let report = run(spec(addr, 10, None)).await.unwrap();
        assert_eq!(report.statuses.get(&503), Some(&10), "{report:?}");
        assert_eq!((report.ok, report.rps), (0, 0.0), "{report:?}");
        assert!(report.latency_us.is_none(), "{report:?}");
    }

    #[test]
    fn every_request_of_a_run_without_retries_is_a_new_recording() {
        let bodies: std::collections::HashSet<String> =
            (0..5_000).map(|i| body_for(i, 0)).collect();
        assert_eq!(bodies.len(), 5_000);
    }
}
