//! Each listener limit has a flag, a documented default (docs/operations.md, Limits), and a test here.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::*;

fn keepalive_request(s: &mut TcpStream, body: &str) -> u16 {
    s.write_all(
        format!(
            "POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    text[9..12].parse().unwrap()
}

/// Reads until EOF; returns how long it took.
fn time_to_close(s: &mut TcpStream) -> Duration {
    let start = Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return start.elapsed(),
            Ok(_) => {}
            Err(e) => panic!("connection not closed: {e}"),
        }
    }
}

#[test]
fn idle_keepalive_connection_is_closed_after_idle_timeout_not_before() {
    let r = Recmon::start(&["--idle-timeout", "2", "--header-timeout", "1"]);
    let mut s = TcpStream::connect(r.addr).unwrap();
    assert_eq!(keepalive_request(&mut s, STATUS_SAMPLE), 200);
    // Idle longer than the header timeout: still open (idle and slow headers are apart).
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(keepalive_request(&mut s, RECORDING_SAMPLE), 200);
    let waited = time_to_close(&mut s);
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(5),
        "closed after {waited:?}"
    );
    // An idle close is not a request: nothing journaled for it.
    assert_eq!(r.request_lines().len(), 2);
}

#[test]
fn slow_headers_are_cut_at_header_timeout_and_journaled() {
    let r = Recmon::start(&["--header-timeout", "1", "--idle-timeout", "30"]);
    let mut s = TcpStream::connect(r.addr).unwrap();
    s.write_all(b"POST /cb HTTP/1.1\r\nHost: x\r\n").unwrap();
    let waited = time_to_close(&mut s);
    assert!(waited < Duration::from_secs(4), "closed after {waited:?}");
    // The line is written as the connection ends: wait for it, then check there is only one.
    r.wait_journal_lines(1);
    let lines = r.journal_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["status"], 408);
    assert!(lines[0]["error"]
        .as_str()
        .unwrap()
        .contains("--header-timeout"));
}

#[test]
fn slow_body_gets_408_at_request_timeout() {
    let r = Recmon::start(&["--request-timeout", "1"]);
    let mut s = TcpStream::connect(r.addr).unwrap();
    s.write_all(b"POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"domain\":")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let start = Instant::now();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(start.elapsed() < Duration::from_secs(4));
    assert_eq!(parse_response(&out).unwrap().0, 408, "{out}");
    let lines = r.journal_lines();
    assert_eq!(lines[0]["status"], 408);
    assert_eq!(lines[0]["body_text"], "{\"domain\":");
}

#[test]
fn connections_beyond_max_wait_for_a_slot() {
    let r = Recmon::start(&["--max-connections", "2", "--idle-timeout", "30"]);
    let mut a = TcpStream::connect(r.addr).unwrap();
    let mut b = TcpStream::connect(r.addr).unwrap();
    assert_eq!(keepalive_request(&mut a, STATUS_SAMPLE), 200);
    assert_eq!(keepalive_request(&mut b, RECORDING_SAMPLE), 200);
    // A third client connects (kernel backlog) but is not served while both slots are held.
    let mut c = TcpStream::connect(r.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let body = STATUS_SAMPLE.replace("gs_stream", "third");
    c.write_all(
        format!(
            "POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let mut buf = [0u8; 1024];
    assert!(c.read(&mut buf).is_err(), "served beyond --max-connections");
    // Freeing a slot lets it through.
    drop(a);
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = c.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

#[test]
fn max_body_flag_sets_the_413_limit() {
    let r = Recmon::start(&["--max-body", "200"]);
    let body = format!(
        r#"{{"domain":"d","app":"a","stream":"s","event":"{}"}}"#,
        "e".repeat(200)
    );
    assert_eq!(r.post("/cb", &body).0, 413);
    assert_eq!(r.post("/cb", STATUS_SAMPLE).0, 200);
}

/// A connection to `to` from the loopback address `from` (Linux routes all of 127/8 to the
/// loopback interface, so 127.0.0.2 is another client on the same machine).
fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(to) = to else {
        panic!("an IPv4 listener")
    };
    let sockaddr = |ip: Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let stream = TcpStream::from_raw_fd(fd);
        let local = sockaddr(from, 0);
        let rc = libc::bind(fd, &local as *const _ as *const libc::sockaddr, len);
        assert_eq!(rc, 0, "bind {from}: {}", std::io::Error::last_os_error());
        let remote = sockaddr(*to.ip(), to.port());
        let rc = libc::connect(fd, &remote as *const _ as *const libc::sockaddr, len);
        assert_eq!(rc, 0, "connect {to}: {}", std::io::Error::last_os_error());
        stream
    }
}

/// One request from `from`, answered and closed within `limit`: (status, body).
fn request_from(
    from: Ipv4Addr,
    to: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
    limit: Duration,
) -> (u16, String) {
    let mut s = connect_from(from, to);
    s.write_all(
        format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let out = read_until_closed(&mut s, limit)
        .unwrap_or_else(|(e, got)| panic!("{method} {path} from {from}: {e}; got {got:?}"));
    parse_response(&out).unwrap_or_else(|| panic!("no answer: {out:?}"))
}

const OTHER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

#[test]
fn a_thousand_idle_connections_from_one_address_leave_another_answered_at_once() {
    // The defaults: --max-connections 1024, --max-conns-per-ip 128, --header-timeout 10.
    let r = Recmon::start(&[]);
    // 1,100 requests from 127.0.0.1 that never finish their headers (a slowloris): before the
    // per-address limit they held every slot until --header-timeout, and a real callback
    // waited in the kernel's queue behind them.
    let idle: Vec<TcpStream> = (0..1100)
        .map(|_| {
            let mut s = TcpStream::connect(r.addr).unwrap();
            s.write_all(b"POST /cb HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    let body = STATUS_SAMPLE.replace("gs_stream", "from-another-address");
    let t0 = Instant::now();
    let (status, answer) =
        request_from(OTHER, r.addr, "POST", "/cb", &body, Duration::from_secs(30));
    let took = t0.elapsed();
    assert_eq!(status, 200, "{answer}");
    assert!(
        took < Duration::from_millis(1500),
        "another address's callback waited {took:?} behind one address's idle connections"
    );
    // Every refusal is counted, and journaled (rejected, 429, with the client's address) in
    // one line a second at most, each saying how many it stands for.
    let refused = 1100 - 128;
    let folded = |l: &serde_json::Value| -> u64 {
        let e = l["error"].as_str().unwrap_or("");
        e.rsplit("; ")
            .next()
            .and_then(|t| t.strip_suffix(" refused since the previous line"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count in {l}"))
    };
    let mut lines = Vec::new();
    let all_told = wait_until(Duration::from_secs(15), || {
        lines = r.journal_lines();
        lines
            .iter()
            .filter(|l| l["status"] == 429)
            .map(folded)
            .sum::<u64>()
            == refused as u64
    });
    let refusals: Vec<&serde_json::Value> = lines.iter().filter(|l| l["status"] == 429).collect();
    assert!(
        all_told,
        "the refusal lines do not add up to {refused}: {refusals:?}"
    );
    assert!(
        refusals.len() < 20,
        "{} lines for {refused} refusals within seconds: not one a second",
        refusals.len()
    );
    for l in &refusals {
        assert_eq!(l["outcome"], "rejected");
        assert!(
            l["remote"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{l}"
        );
        assert!(
            l["error"]
                .as_str()
                .unwrap()
                .contains("--max-conns-per-ip 128"),
            "{l}"
        );
    }
    let callback = lines.iter().find(|l| l["status"] == 200).unwrap();
    assert!(callback["remote"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.2:"));
    // 127.0.0.1 holds its 128 slots: the API is read from the other address.
    let (status, metrics) = request_from(
        OTHER,
        r.addr,
        "GET",
        "/metrics",
        "",
        Duration::from_secs(10),
    );
    assert_eq!(status, 200, "{metrics}");
    assert!(
        metrics.contains(&format!(
            "recmon_connections_refused_total{{reason=\"per_ip\"}} {refused}"
        )),
        "{metrics}"
    );
    // The refusal lines are rejected requests like any (a held connection's header timeout
    // may add its own).
    let rejected: usize = metrics
        .lines()
        .find_map(|l| l.strip_prefix("recmon_requests_total{outcome=\"rejected\"} "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(rejected >= refusals.len(), "{metrics}");
    drop(idle);
}

#[test]
fn max_conns_per_ip_refuses_at_once_with_429_and_frees_the_slot_on_close() {
    let r = Recmon::start(&["--max-conns-per-ip", "2", "--idle-timeout", "30"]);
    let mut a = TcpStream::connect(r.addr).unwrap();
    let mut b = TcpStream::connect(r.addr).unwrap();
    assert_eq!(keepalive_request(&mut a, STATUS_SAMPLE), 200);
    assert_eq!(keepalive_request(&mut b, RECORDING_SAMPLE), 200);
    // A third from the same address: refused at once, without sending anything.
    let mut c = TcpStream::connect(r.addr).unwrap();
    let t0 = Instant::now();
    let out = read_until_closed(&mut c, Duration::from_secs(10)).unwrap();
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    let (status, body) = parse_response(&out).unwrap();
    assert_eq!(status, 429, "{out}");
    assert!(out.to_ascii_lowercase().contains("retry-after: 1"), "{out}");
    assert!(
        body.contains("too many connections from 127.0.0.1"),
        "{body}"
    );
    // One that sends its request at once still reads its 429: the refusal reads and drops
    // what was sent before it closes, so the close is no reset that would lose the answer.
    for _ in 0..5 {
        let mut d = TcpStream::connect(r.addr).unwrap();
        d.write_all(&true_length(
            format!("POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n{STATUS_SAMPLE}")
                .as_bytes(),
        ))
        .unwrap();
        let out = read_until_closed(&mut d, Duration::from_secs(10)).unwrap();
        assert_eq!(parse_response(&out).map(|r| r.0), Some(429), "{out}");
    }
    // Another address is not held back.
    let (status, _) = request_from(
        OTHER,
        r.addr,
        "GET",
        "/healthz",
        "",
        Duration::from_secs(10),
    );
    assert_eq!(status, 200);
    // A closed connection gives its slot back.
    drop(a);
    assert!(wait_until(Duration::from_secs(20), || {
        try_request(r.addr, "GET", "/healthz", &[], b"").is_ok_and(|(s, _)| s == 200)
    }));
    let lines = r.wait_journal_lines(3);
    assert_eq!(lines[2]["status"], 429, "{lines:?}");
    assert_eq!(lines[2]["method"], "-");
    assert!(lines[2]["remote"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    drop(b);
}

/// A callback with exactly `headers` header lines (Host, Connection and Content-Length among
/// them), each a few bytes: far under the head's byte limit.
fn with_headers(headers: usize) -> Vec<u8> {
    let body = STATUS_SAMPLE.replace("gs_stream", &format!("h{headers}"));
    let mut raw = String::from("POST /cb HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for i in 0..headers - 3 {
        raw.push_str(&format!("X-{i}: v\r\n"));
    }
    raw.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    raw.into_bytes()
}

#[test]
fn a_hundred_and_one_short_headers_get_431_and_the_server_keeps_serving() {
    let r = Recmon::start(&[]);
    let answer = raw_exchange(r.addr, &with_headers(100));
    assert_eq!(
        parse_response(&answer).unwrap().0,
        200,
        "100 headers: {answer}"
    );
    let answer = raw_exchange(r.addr, &with_headers(101));
    assert_eq!(
        parse_response(&answer).unwrap().0,
        431,
        "101 headers: {answer}"
    );
    assert!(
        with_headers(101).len() < 2_000,
        "a short head: the count is the limit"
    );
    // Journaled, saying which limit it was.
    let lines = r.wait_journal_lines(2);
    assert_eq!(lines[1]["status"], 431);
    assert_eq!(lines[1]["outcome"], "rejected");
    let error = lines[1]["error"].as_str().unwrap();
    assert!(
        error.contains("too many headers: 101 or more, and a request may have at most 100"),
        "{error}"
    );
    // And the next callback is served.
    assert_eq!(r.post("/cb", STATUS_SAMPLE).0, 200);
    assert_eq!(r.wait_journal_lines(3)[2]["status"], 200);
}
