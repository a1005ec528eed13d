//! What the suite starts and sends: free ports, servers started and waited for, child
//! processes killed on drop, a tmux server of its own, and plain HTTP requests.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub(super) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(super) fn wait_healthy(addr: SocketAddr, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(mut s) = TcpStream::connect(addr) {
            use std::io::Write;
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if out.starts_with("HTTP/1.1 200") {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Starts a server process and waits until it answers /healthz on `port`.
pub(super) fn start_server(cmd: &mut Command, port: u16, limit: Duration, what: &str) -> Proc {
    let p = Proc(cmd.spawn().unwrap());
    assert!(
        wait_healthy(SocketAddr::from(([127, 0, 0, 1], port)), limit),
        "{what} did not start"
    );
    p
}

/// A child process killed on drop.
pub(super) struct Proc(pub(super) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(super) fn term(p: &mut Proc) {
    unsafe {
        libc::kill(p.0.id() as i32, libc::SIGTERM);
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(Some(_)) = p.0.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A tmux server of our own (its own socket), killed on drop.
pub(super) struct Tmux {
    socket: String,
}

impl Tmux {
    pub(super) fn new(tag: &str) -> Tmux {
        Tmux {
            socket: format!("recmon-bench-{}-{tag}", std::process::id()),
        }
    }

    pub(super) fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket, "-f", "/dev/null"]);
        c
    }

    pub(super) fn start(&self, command: &str) {
        let st = self
            .cmd()
            .args(["new-session", "-d", "-x", "200", "-y", "50", command])
            .env_remove("NO_COLOR")
            .status()
            .expect("tmux is needed for the terminal benchmarks (apt-get install tmux)");
        assert!(st.success(), "tmux new-session failed");
    }

    pub(super) fn capture(&self) -> String {
        let out = self.cmd().args(["capture-pane", "-p"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

pub(super) fn post(addr: SocketAddr, body: &str) {
    use std::io::Write;
    let mut s = TcpStream::connect(addr).unwrap();
    let _ = s.write_all(
        format!(
            "POST /cb HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
}

pub(super) fn get_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    use std::io::Write;
    let mut s = TcpStream::connect(addr).unwrap();
    let _ = s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let body = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
}
