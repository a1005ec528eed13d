//! Test harness: runs the real `recmon` binary and talks to it over real loopback HTTP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
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
        let mut args: Vec<String> =
            vec!["--headless".into(), "--listen".into(), "127.0.0.1:0".into()];
        if !extra.contains(&"--journal")
            && !extra.contains(&"--no-journal")
            && !extra.contains(&"--resume")
        {
            args.push("--journal".into());
            args.push(journal.display().to_string());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = Command::new(bin())
            .args(&args)
            .current_dir(dir)
            .env_remove("RECMON_LISTEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn recmon");
        let stderr = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let err = child.stderr.take().unwrap();
            let buf = stderr.clone();
            std::thread::spawn(move || {
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
            });
        }
        {
            let mut out = child.stdout.take().unwrap();
            let buf = stdout.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 65536];
                while let Ok(n) = out.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    buf.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&chunk[..n]));
                }
            });
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

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(&mut self) -> (ExitStatus, String, String) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let status = wait_timeout(&mut self.child, Duration::from_secs(20))
            .expect("recmon did not exit within 20 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
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

/// Sends raw bytes, reads until the server closes (or 10 s pass).
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    try_raw_exchange(addr, bytes).expect("connect")
}

fn try_raw_exchange(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Status and body of the first response in `resp`.
pub fn parse_response(resp: &str) -> Option<(u16, String)> {
    let status = resp.split(' ').nth(1)?.parse().ok()?;
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}
