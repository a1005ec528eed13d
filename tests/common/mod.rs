//! Test harness: runs the real `recmon` binary and talks to it over real loopback HTTP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The spec's recording status sample.
pub const STATUS_SAMPLE: &str = r#"{
"domain": "gs_domain",
"app": "gs_app",
"stream": "gs_stream",
"event": "record_started"
}"#;

/// The spec's recording generation sample.
pub const RECORDING_SAMPLE: &str = r#"{
  "domain": "demo.aliyundoc.com",
  "app": "liveApp****",
  "stream": "liveStream****",
  "uri": "liveApp****/liveStream****/0_2017-03-08-23:09:46_2017-03-08-23:10:40.flv",
  "duration": 69.403,
  "start_time": 1488985786,
  "stop_time": 1488985840,
  "push_args": {
    "callback_args1": "value1",
    "callback_myid": "1231389741"
  }
}"#;

/// A running recmon process.
pub struct Recmon {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub journal: PathBuf,
    pub stderr: Arc<Mutex<String>>,
    pub stdout: Arc<Mutex<String>>,
    /// The threads copying the child's stdout and stderr; joined by [`Recmon::stop`] so that
    /// it returns everything the process printed, not what arrived within some sleep.
    readers: Vec<JoinHandle<()>>,
    _tmp: Option<tempfile::TempDir>,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_recmon")
}

impl Recmon {
    /// Starts recmon headless on a free loopback port with a journal in a fresh temp dir.
    pub fn start(extra: &[&str]) -> Recmon {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let journal = dir.join("journal.jsonl");
        let mut r = Self::start_in(&dir, &journal, extra);
        r._tmp = Some(tmp);
        r
    }

    /// Starts recmon with an explicit journal path (which may be unwritable).
    pub fn start_in(dir: &Path, journal: &Path, extra: &[&str]) -> Recmon {
        Self::start_with(dir, journal, extra, |_| {})
    }

    /// [`Recmon::start_in`], with `setup` applied to the command before it is spawned (e.g. a
    /// `pre_exec` that sets a resource limit, to make the journal fail for real).
    pub fn start_with(
        dir: &Path,
        journal: &Path,
        extra: &[&str],
        setup: impl FnOnce(&mut Command),
    ) -> Recmon {
        let mut args: Vec<String> = vec!["--headless".into()];
        if !extra.contains(&"--listen") {
            args.push("--listen".into());
            args.push("127.0.0.1:0".into());
        }
        if !extra.contains(&"--journal")
            && !extra.contains(&"--no-journal")
            && !extra.contains(&"--resume")
        {
            args.push("--journal".into());
            args.push(journal.display().to_string());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut cmd = Command::new(bin());
        cmd.args(&args)
            .current_dir(dir)
            .env_remove("RECMON_LISTEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        setup(&mut cmd);
        let mut child = cmd.spawn().expect("spawn recmon");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let mut readers = Vec::new();
        {
            let err = child.stderr.take().unwrap();
            let buf = stderr.clone();
            readers.push(std::thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    if let Some(rest) = line.strip_prefix("recmon: listening on http://") {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(rest.trim().to_string());
                        }
                    }
                    let mut b = buf.lock().unwrap();
                    b.push_str(&line);
                    b.push('\n');
                }
            }));
        }
        {
            let mut out = child.stdout.take().unwrap();
            let buf = stdout.clone();
            readers.push(std::thread::spawn(move || {
                let mut chunk = [0u8; 65536];
                while let Ok(n) = out.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    buf.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&chunk[..n]));
                }
            }));
        }
        let addr = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(a) => a.parse().unwrap(),
            Err(_) => {
                let _ = child.kill();
                panic!("recmon did not start; stderr:\n{}", stderr.lock().unwrap());
            }
        };
        Recmon {
            child,
            addr,
            dir: dir.to_path_buf(),
            journal: journal.to_path_buf(),
            stderr,
            stdout,
            readers,
            _tmp: None,
        }
    }

    pub fn post(&self, path: &str, body: &str) -> (u16, String) {
        request(self.addr, "POST", path, &[], body.as_bytes())
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        request(self.addr, "GET", path, &[], b"")
    }

    pub fn state(&self) -> serde_json::Value {
        let (status, body) = self.get("/api/state");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// SIGTERM, then wait for the process to exit and for its output to be read to the end.
    pub fn stop(&mut self) -> (ExitStatus, String, String) {
        self.sigterm();
        self.wait_exit()
    }

    /// Sends SIGTERM without waiting.
    pub fn sigterm(&self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
    }

    /// Waits (up to 20 s) for the process to exit, then for the readers to reach the end of its
    /// stdout and stderr (they end when the pipes close), and returns (status, stdout, stderr).
    pub fn wait_exit(&mut self) -> (ExitStatus, String, String) {
        let status = wait_timeout(&mut self.child, Duration::from_secs(20))
            .expect("recmon did not exit within 20 s of SIGTERM");
        for reader in self.readers.drain(..) {
            reader.join().expect("output reader thread");
        }
        let err = self.stderr.lock().unwrap().clone();
        let out = self.stdout.lock().unwrap().clone();
        (status, out, err)
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn journal_lines(&self) -> Vec<serde_json::Value> {
        journal_lines(&self.journal)
    }

    /// The journal's request lines (see [`request_lines`]).
    pub fn request_lines(&self) -> Vec<serde_json::Value> {
        request_lines(&self.journal)
    }

    /// Waits (up to 20 s) until stderr contains `needle`; panics with what it holds if not.
    pub fn wait_stderr(&self, needle: &str) -> String {
        let mut last = String::new();
        let found = wait_until(Duration::from_secs(20), || {
            last = self.stderr.lock().unwrap().clone();
            last.contains(needle)
        });
        assert!(found, "stderr never showed {needle:?} within 20 s:\n{last}");
        last
    }

    /// Waits (up to 20 s) until the journal holds at least `n` complete lines, and returns them.
    pub fn wait_journal_lines(&self, n: usize) -> Vec<serde_json::Value> {
        let mut lines = Vec::new();
        let found = wait_until(Duration::from_secs(20), || {
            lines = self.journal_lines();
            lines.len() >= n
        });
        assert!(
            found,
            "the journal has {} line(s), not {n}, after 20 s: {lines:?}",
            lines.len()
        );
        lines
    }
}

/// Polls `cond` every 10 ms until it holds (true) or `ceiling` passes (false). The ceiling is
/// generous: it only bounds how long a broken build takes to fail, not how fast a working one
/// must be on a loaded machine.
pub fn wait_until(ceiling: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() >= ceiling {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Drop for Recmon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// The complete lines of a journal. recmon may be writing while a test reads: a last line
/// without its newline is a write in progress, not yet a line, and is left for the next read.
pub fn journal_lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad journal line {l}: {e}")))
        .collect()
}

/// The journal's request lines: recmon's own lines (an alert, a delivery, a verdict, ...) left
/// out. Each request line has a `method`.
pub fn request_lines(path: &Path) -> Vec<serde_json::Value> {
    journal_lines(path)
        .into_iter()
        .filter(|l| l.get("method").is_some())
        .collect()
}

/// One HTTP/1.1 request over a fresh loopback connection (Connection: close).
/// Returns the status and the body.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    try_request(addr, method, path, headers, body)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// Like [`request`], but connection failures are errors, not panics.
pub fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, String), String> {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        raw.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    raw.push_str("\r\n");
    let mut bytes = raw.into_bytes();
    bytes.extend_from_slice(body);
    let resp = try_raw_exchange(addr, &bytes).map_err(|e| e.to_string())?;
    parse_response(&resp).ok_or_else(|| format!("no HTTP response: {resp:?}"))
}

/// Sends raw bytes and reads until the server closes the connection. Panics if it cannot
/// connect, or if the server has not closed within 10 s (a server that never closes must not
/// pass for one that answered and closed).
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    try_raw_exchange(addr, bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// How long the raw client waits for the server to close the connection.
pub const RAW_READ_LIMIT: Duration = Duration::from_secs(10);

fn try_raw_exchange(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    let _ = s.write_all(bytes);
    read_until_closed(&mut s, RAW_READ_LIMIT).map_err(|(e, got)| {
        std::io::Error::new(
            e.kind(),
            format!("reading the answer from {addr}: {e}; received so far: {got:?}"),
        )
    })
}

/// Reads until the peer closes the connection (EOF or reset), within `limit` in all. A
/// connection still open at `limit` is an error (with what was received so far): a read
/// timeout is not an answer.
pub fn read_until_closed(
    s: &mut TcpStream,
    limit: Duration,
) -> Result<String, (std::io::Error, String)> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let text = |out: &[u8]| String::from_utf8_lossy(out).into_owned();
        if left.is_zero() {
            let e = std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the connection was still open after {limit:?}"),
            );
            return Err((e, text(&out)));
        }
        if let Err(e) = s.set_read_timeout(Some(left)) {
            return Err((e, text(&out)));
        }
        match s.read(&mut chunk) {
            Ok(0) => return Ok(text(&out)),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // A reset after the answer is still a close: keep what arrived.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(text(&out)),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err((e, text(&out))),
        }
    }
}

/// Status and body of the first response in `resp`.
pub fn parse_response(resp: &str) -> Option<(u16, String)> {
    let status = resp.split(' ').nth(1)?.parse().ok()?;
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// The IPv4 addresses of this machine's interfaces that are not loopback (getifaddrs).
pub fn non_loopback_ipv4() -> Vec<std::net::Ipv4Addr> {
    let mut found = Vec::new();
    unsafe {
        let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
        if libc::getifaddrs(&mut list) != 0 {
            return found;
        }
        let mut at = list;
        while !at.is_null() {
            let ifa = &*at;
            if !ifa.ifa_addr.is_null() && (*ifa.ifa_addr).sa_family as i32 == libc::AF_INET {
                let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
                if !ip.is_loopback() && !ip.is_unspecified() {
                    found.push(ip);
                }
            }
            at = ifa.ifa_next;
        }
        libc::freeifaddrs(list);
    }
    found
}

// ---- the providers' captured requests and documented samples (tests/fixtures/providers) ----

/// The folder of the providers' fixtures.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/providers")
}

/// The captured request files of one nginx-rtmp run, in order, as sent on the wire (the
/// capture's `#` comment line dropped).
pub fn capture_run(run: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fixtures().join("captures").join(run);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let raw = std::fs::read(&f).unwrap();
            let start = if raw.starts_with(b"#") {
                raw.iter().position(|b| *b == b'\n').unwrap() + 1
            } else {
                0
            };
            (
                f.file_name().unwrap().to_string_lossy().into_owned(),
                true_length(&raw[start..]),
            )
        })
        .collect()
}

/// The request with its Content-Length set to its body's length. The captured record_done
/// requests declare 8 bytes more than their body holds: an artifact of the capture (a real
/// nginx-rtmp 1.2.2 sends matching lengths, 206/206 and 216/216 here, with and without URL
/// arguments), which would leave a server waiting for bytes that never come.
pub fn true_length(req: &[u8]) -> Vec<u8> {
    let split = req
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a blank line after the headers");
    let (head, body) = (&req[..split], &req[split + 4..]);
    let head = String::from_utf8_lossy(head);
    let mut out: Vec<u8> = head
        .split("\r\n")
        .map(|l| {
            if l.to_ascii_lowercase().starts_with("content-length:") {
                format!("Content-Length: {}", body.len())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
        .into_bytes();
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
    out
}

pub fn sample(name: &str) -> String {
    std::fs::read_to_string(fixtures().join("samples").join(format!("{name}.json"))).unwrap()
}

/// A test that cannot run on this machine (a tool or an address it lacks): under CI
/// (`RECMON_CI`, which `.ci/run` sets) that is a failure, since CI installs and has everything
/// the tests need; elsewhere the test is skipped, loudly, on stderr. Returns only when skipping.
pub fn skip_unless_ci(why: &str) {
    if std::env::var_os("RECMON_CI").is_some() {
        panic!("cannot run under CI, where it must: {why}");
    }
    eprintln!("SKIPPED LOUDLY: {why}");
}
