//! A real HTTP/1.1 backend on loopback for the forwarding tests: it records every request it
//! receives (method, target, headers, body byte for byte) and answers as the test tells it
//! (status, body, a delay), with keep-alive, as a user's backend would.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as the backend received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// When it arrived.
    pub at: Instant,
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Lowercase names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The status it was answered with.
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `X-Recmon-Seq`.
    pub fn seq(&self) -> u64 {
        self.header("x-recmon-seq")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no X-Recmon-Seq on {self:?}"))
    }
}

/// How the backend answers.
#[derive(Debug, Clone)]
pub struct Behavior {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
    /// Requests whose body contains this text get this status instead.
    pub refuse: Option<(String, u16)>,
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior {
            status: 200,
            body: r#"{"ok":true}"#.into(),
            delay: Duration::ZERO,
            refuse: None,
        }
    }
}

/// A running backend; stops accepting when dropped.
pub struct Backend {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub behavior: Arc<Mutex<Behavior>>,
    stop: Arc<AtomicBool>,
}

impl Backend {
    /// A backend on a free loopback port.
    pub fn start() -> Backend {
        Self::start_on("127.0.0.1:0".parse().unwrap())
    }

    /// A backend on `addr` (a port a test reserved earlier, to bring a backend "back up").
    pub fn start_on(addr: SocketAddr) -> Backend {
        let listener = TcpListener::bind(addr).expect("bind the backend");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let behavior = Arc::new(Mutex::new(Behavior::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, b, s) = (received.clone(), behavior.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (r, b, s) = (r.clone(), b.clone(), s.clone());
                        std::thread::spawn(move || serve(conn, &r, &b, &s));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Backend {
            addr,
            received,
            behavior,
            stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn set(&self, f: impl FnOnce(&mut Behavior)) {
        f(&mut self.behavior.lock().unwrap());
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The requests answered 2xx.
    pub fn delivered(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .collect()
    }

    /// Waits (up to `limit`) until `cond` holds for what was received.
    pub fn wait(&self, limit: Duration, mut cond: impl FnMut(&[Received]) -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if cond(&self.received()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        cond(&self.received())
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A free loopback port, not listened on (a backend that is down).
pub fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

fn serve(
    conn: TcpStream,
    received: &Mutex<Vec<Received>>,
    behavior: &Mutex<Behavior>,
    stop: &AtomicBool,
) {
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut writer = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let at = Instant::now();
        let mut parts = line.trim_end().splitn(3, ' ');
        let (method, target) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut b = behavior.lock().unwrap().clone();
        if let Some((text, status)) = &b.refuse {
            if String::from_utf8_lossy(&body).contains(text.as_str()) {
                b.status = *status;
            }
        }
        if !b.delay.is_zero() {
            std::thread::sleep(b.delay);
        }
        received.lock().unwrap().push(Received {
            at,
            method,
            target,
            headers,
            body,
            answered: b.status,
        });
        let resp = format!(
            "HTTP/1.1 {} Backend\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
            b.status,
            b.body.len(),
            b.body
        );
        if writer.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}
