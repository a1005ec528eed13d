//! Per-connection time limits: idle keep-alive, slow headers (slowloris).
//!
//! hyper's own `header_read_timeout` starts as soon as a connection waits for its next
//! request, so it cannot tell an idle keep-alive connection from one trickling its headers a
//! byte at a time. recmon needs both limits separately: the provider may keep a connection
//! open between callbacks, while a slowloris client must be cut quickly. The connection's IO
//! is wrapped so the first byte of a new request is noticed, and the service marks when a
//! request is being handled; a watchdog closes the connection when a phase lasts too long.
//!
//! The same wrapper measures each request head (request line, headers and the blank line
//! that ends them) byte for byte as it arrives, because hyper's `max_buf_size` bounds its
//! read buffer, not the head: a read can overshoot it, so heads somewhat over the limit got
//! through. The listener compares the exact size with its limit.
//!
//! It also keeps one client from holding every connection slot ([`PerIp`]): the listener
//! faces the internet, and a thousand idle half-sent requests from one address would
//! otherwise leave a real callback waiting in the kernel's queue until they time out.
//!
//! And it percent-encodes the bytes of a request target that HTTP forbids there but senders
//! put there all the same ([`TargetEscaper`]): nginx-rtmp's `notify_method get` copies the
//! publisher's RTMP URL arguments into the query unescaped, and hyper refuses a `"`, `<` or
//! `>` in a target with a 400 of its own, which makes nginx-rtmp refuse the publish.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const IDLE: u8 = 0;
const HEADERS: u8 = 1;
const HANDLING: u8 = 2;

fn now_ms() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// What a connection is doing, shared between its IO wrapper, its service and its watchdog.
#[derive(Debug)]
pub struct Activity {
    phase: AtomicU8,
    since_ms: AtomicU64,
    /// Bytes of the current request's head seen so far (see [`HeadScanner`]).
    head_bytes: AtomicUsize,
    /// Header lines of the current request's head seen so far (request line not counted).
    head_fields: AtomicUsize,
}

impl Activity {
    /// A fresh connection: idle since now.
    pub fn new() -> Arc<Self> {
        Arc::new(Activity {
            phase: AtomicU8::new(IDLE),
            since_ms: AtomicU64::new(now_ms()),
            head_bytes: AtomicUsize::new(0),
            head_fields: AtomicUsize::new(0),
        })
    }

    fn set(&self, phase: u8) {
        self.since_ms.store(now_ms(), Ordering::Relaxed);
        self.phase.store(phase, Ordering::Release);
    }

    /// The service started handling a request (its headers are complete).
    pub fn request_started(&self) {
        self.set(HANDLING);
    }

    /// The service produced its response; the connection waits for the next request.
    pub fn request_finished(&self) {
        self.set(IDLE);
    }

    /// The size of the request head just read, in bytes, and forgets it. 0 when unknown: a
    /// pipelined request whose head hyper read ahead while the previous one was handled
    /// (hyper's own buffer cap still bounds it).
    pub fn take_head_bytes(&self) -> usize {
        self.head_bytes.swap(0, Ordering::Relaxed)
    }

    /// The header lines of the request head being read (or the last one read) seen so far:
    /// what tells a head refused for its number of headers from one refused for its size.
    pub fn head_fields(&self) -> usize {
        self.head_fields.load(Ordering::Relaxed)
    }

    /// New bytes arrived; true when they start a new request.
    fn bytes_arrived(&self) -> bool {
        if self.phase.load(Ordering::Acquire) == IDLE {
            self.set(HEADERS);
            true
        } else {
            false
        }
    }

    fn in_headers(&self) -> bool {
        self.phase.load(Ordering::Acquire) == HEADERS
    }
}

/// Why the watchdog closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// No new request within the idle timeout.
    Idle,
    /// A request's headers took longer than the header timeout.
    SlowHeaders,
}

/// Resolves when the connection has been idle longer than `idle`, or has been sending one
/// request's headers for longer than `headers`. Never resolves while a request is handled
/// (the body read has its own timeout in the handler).
pub async fn watchdog(activity: Arc<Activity>, idle: Duration, headers: Duration) -> Expired {
    loop {
        let phase = activity.phase.load(Ordering::Acquire);
        let since = activity.since_ms.load(Ordering::Relaxed);
        let limit = match phase {
            IDLE => Some((idle, Expired::Idle)),
            HEADERS => Some((headers, Expired::SlowHeaders)),
            _ => None,
        };
        let wait = match limit {
            Some((limit, why)) => {
                let elapsed = now_ms().saturating_sub(since);
                let limit_ms = limit.as_millis() as u64;
                if elapsed >= limit_ms {
                    return why;
                }
                Duration::from_millis(limit_ms - elapsed).min(Duration::from_secs(1))
            }
            None => Duration::from_secs(1),
        };
        tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
    }
}

/// The connections each client address holds (`--max-conns-per-ip`). An IPv4 client (also
/// as an IPv4-mapped IPv6 address) is counted by its address; an IPv6 client by its /64, the
/// block one host is usually given whole (counted by address, it could open a connection from
/// each of its 2^64 addresses).
#[derive(Debug)]
pub struct PerIp {
    limit: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its client's limit, until dropped.
#[derive(Debug)]
pub struct IpSlot {
    owner: Arc<PerIp>,
    key: IpAddr,
}

impl PerIp {
    /// A limit of `limit` connections per client; 0 means no limit.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(PerIp {
            limit,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// The limit (0: none).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// What a client address is counted as.
    pub fn key(ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let mut seg = v6.segments();
                    seg[4..].fill(0);
                    IpAddr::V6(std::net::Ipv6Addr::from(seg))
                }
            },
        }
    }

    /// A slot for one more connection from `ip`, or `None` when it already holds `limit`.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        let key = Self::key(ip);
        if self.limit > 0 {
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            let n = open.entry(key).or_insert(0);
            if *n >= self.limit {
                return None;
            }
            *n += 1;
        }
        Some(IpSlot {
            owner: self.clone(),
            key,
        })
    }

    /// Connections `ip` holds now.
    pub fn holding(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.get(&Self::key(ip)).copied().unwrap_or(0)
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        if self.owner.limit == 0 {
            return;
        }
        let mut open = self.owner.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Counts the bytes of one request head: everything up to and including the first empty
/// line that follows a non-empty one. Line ends may be CRLF or a bare LF, as hyper's parser
/// accepts both; empty lines before the request line are counted but do not end the head.
#[derive(Debug, Default, Clone)]
pub struct HeadScanner {
    bytes: usize,
    /// Complete lines with text (the request line, then each header line).
    lines: usize,
    at_line_start: bool,
    seen_text: bool,
    done: bool,
}

impl HeadScanner {
    /// Feeds the next bytes of the connection; bytes after the head's end are ignored.
    pub fn feed(&mut self, data: &[u8]) {
        // Line by line (memchr finds each LF), not byte by byte: this runs on every read of
        // every connection, and a byte loop cost about 1,300 instructions per request.
        let mut rest = data;
        while !self.done && !rest.is_empty() {
            let (line, end) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], Some(i)),
                None => (rest, None),
            };
            if line.iter().any(|&b| b != b'\r') {
                self.at_line_start = false;
                self.seen_text = true;
            }
            match end {
                Some(i) => {
                    self.bytes += i + 1;
                    if self.at_line_start && self.seen_text {
                        self.done = true;
                    } else {
                        // Not the end, so a line with text (leading empty lines have none).
                        if self.seen_text {
                            self.lines += 1;
                        }
                        self.at_line_start = true;
                    }
                    rest = &rest[i + 1..];
                }
                None => {
                    self.bytes += rest.len();
                    rest = &[];
                }
            }
        }
    }

    /// Head bytes seen so far (the whole head once [`HeadScanner::complete`]).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Header lines seen so far (complete lines after the request line).
    pub fn fields(&self) -> usize {
        self.lines.saturating_sub(1)
    }

    /// Whether the head's closing empty line has been seen.
    pub fn complete(&self) -> bool {
        self.done
    }
}

/// Where a [`TargetEscaper`] is in the request line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum LinePart {
    /// Empty lines before the request line.
    #[default]
    Start,
    /// The method.
    Method,
    /// The request target.
    Target,
    /// Past the target: nothing more to do for this request.
    Done,
}

/// Percent-encodes, in the request target of a connection's first request, the bytes URIs
/// may not hold raw but sloppy senders send raw: `"` `<` `>` `\` `^` `` ` `` `{` `|` `}`,
/// `#` (a client never sends a fragment, so a `#` is data: unescaped, everything after it
/// would be lost), control bytes, and bytes over 0x7E (a Latin-1 `é` is not UTF-8). Every
/// reader of a query decodes `%XX`, so the values read are the bytes sent. The method, the
/// version and the headers pass untouched. Only the first request: nginx-rtmp sends one per
/// connection, and a later request's line cannot be told from the previous one's body
/// without the framing that hyper alone knows.
#[derive(Debug, Default, Clone)]
pub struct TargetEscaper {
    part: LinePart,
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn needs_escape(b: u8) -> bool {
    matches!(
        b,
        b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}' | b'#'
    ) || !(0x20..=0x7e).contains(&b)
}

impl TargetEscaper {
    /// The next bytes of the connection, rewritten when the target in them needs it (`None`
    /// when they pass as they are, which is almost always).
    pub fn rewrite(&mut self, data: &[u8]) -> Option<Vec<u8>> {
        let mut out: Option<Vec<u8>> = None;
        for (i, &b) in data.iter().enumerate() {
            if self.part == LinePart::Done {
                if let Some(o) = out.as_mut() {
                    o.extend_from_slice(&data[i..]);
                }
                return out;
            }
            let escape = match self.part {
                LinePart::Start if b == b'\r' || b == b'\n' => false,
                LinePart::Start | LinePart::Method => {
                    self.part = if b == b' ' {
                        LinePart::Target
                    } else {
                        LinePart::Method
                    };
                    false
                }
                LinePart::Target => {
                    if matches!(b, b' ' | b'\r' | b'\n') {
                        self.part = LinePart::Done;
                        false
                    } else {
                        needs_escape(b)
                    }
                }
                LinePart::Done => false,
            };
            if escape {
                let o = out.get_or_insert_with(|| data[..i].to_vec());
                o.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
            } else if let Some(o) = out.as_mut() {
                o.push(b);
            }
        }
        out
    }

    /// Whether the request line's target is behind it.
    pub fn done(&self) -> bool {
        self.part == LinePart::Done
    }
}

/// A stream that reports arriving bytes to its [`Activity`], measures request heads and
/// escapes what hyper would refuse in request targets.
pub struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
    head: HeadScanner,
    target: TargetEscaper,
    /// Rewritten bytes that did not fit the reader's buffer yet.
    pending: Vec<u8>,
}

impl<S> Watched<S> {
    /// Wraps a stream.
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Watched {
            inner,
            activity,
            head: HeadScanner::default(),
            target: TargetEscaper::default(),
            pending: Vec::new(),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if !this.pending.is_empty() {
            let n = this.pending.len().min(buf.remaining());
            buf.put_slice(&this.pending[..n]);
            this.pending.drain(..n);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            if this.activity.bytes_arrived() {
                this.head = HeadScanner::default();
            }
            if this.activity.in_headers() && !this.head.complete() {
                // The head is measured as it came, before any escaping.
                this.head.feed(&buf.filled()[before..]);
                this.activity
                    .head_bytes
                    .store(this.head.bytes(), Ordering::Relaxed);
                this.activity
                    .head_fields
                    .store(this.head.fields(), Ordering::Relaxed);
            }
            if this.activity.in_headers() && !this.target.done() {
                if let Some(rewritten) = this.target.rewrite(&buf.filled()[before..]) {
                    buf.set_filled(before);
                    let n = rewritten.len().min(buf.remaining());
                    buf.put_slice(&rewritten[..n]);
                    this.pending.extend_from_slice(&rewritten[n..]);
                }
            }
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_slots_are_counted_per_address_and_per_ipv6_64_and_given_back() {
        let per_ip = PerIp::new(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let s1 = per_ip.take(a).unwrap();
        let _s2 = per_ip.take(a).unwrap();
        assert!(per_ip.take(a).is_none(), "a third from one address");
        assert!(per_ip.take(b).is_some(), "another address is not held back");
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert!(
            per_ip.take(mapped).is_none(),
            "IPv4-mapped is the same client"
        );
        drop(s1);
        assert!(per_ip.take(a).is_some(), "a slot given back is free again");
        let v6a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let v6c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let _x = per_ip.take(v6a).unwrap();
        let _y = per_ip.take(v6b).unwrap();
        assert!(per_ip.take(v6a).is_none(), "one /64 is one client");
        assert!(per_ip.take(v6c).is_some(), "another /64 is another");
        let unlimited = PerIp::new(0);
        let held: Vec<_> = (0..1000).map(|_| unlimited.take(a).unwrap()).collect();
        assert_eq!(held.len(), 1000);
    }

    fn measure(parts: &[&[u8]]) -> (usize, bool) {
        let mut h = HeadScanner::default();
        for p in parts {
            h.feed(p);
        }
        (h.bytes(), h.complete())
    }

    #[test]
    fn a_head_ends_at_its_first_empty_line_whatever_the_reads() {
        let head = b"POST /cb HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n";
        let mut with_body = head.to_vec();
        with_body.extend_from_slice(b"\r\n\r\nab");
        assert_eq!(measure(&[&with_body]), (head.len(), true));
        // Split anywhere, even inside the closing CRLFCRLF.
        for cut in 1..head.len() {
            let (a, b) = with_body.split_at(cut);
            assert_eq!(measure(&[a, b]), (head.len(), true), "cut at {cut}");
        }
        let bare_lf = b"GET / HTTP/1.1\nHost: x\n\n";
        assert_eq!(measure(&[bare_lf, b"rest"]), (bare_lf.len(), true));
    }

    fn escaped(parts: &[&[u8]]) -> Vec<u8> {
        let mut e = TargetEscaper::default();
        let mut out = Vec::new();
        for p in parts {
            match e.rewrite(p) {
                Some(r) => out.extend_from_slice(&r),
                None => out.extend_from_slice(p),
            }
        }
        out
    }

    #[test]
    fn only_the_targets_forbidden_bytes_are_escaped_whatever_the_reads() {
        let raw: &[u8] =
            b"\r\nGET /cb?name=cam1&x=<b>&t=a\"c|d#e&l=caf\xe9&c=a\x01b\tc HTTP/1.0\r\nUser-Agent: <\"x\">\r\n\r\n";
        let want: &[u8] = b"\r\nGET /cb?name=cam1&x=%3Cb%3E&t=a%22c%7Cd%23e&l=caf%E9&c=a%01b%09c HTTP/1.0\r\nUser-Agent: <\"x\">\r\n\r\n";
        assert_eq!(escaped(&[raw]), want);
        for cut in 0..raw.len() {
            let (a, b) = raw.split_at(cut);
            assert_eq!(escaped(&[a, b]), want, "cut at {cut}");
        }
        // Nothing to do: nothing allocated.
        let plain = b"POST /cb?a=%3C HTTP/1.1\r\n\r\n{\"<\":1}";
        assert_eq!(TargetEscaper::default().rewrite(plain), None);
    }

    #[test]
    fn header_lines_are_counted_whatever_the_reads() {
        let head = b"\r\nPOST /cb HTTP/1.1\r\nHost: x\r\nA: 1\nB: 2\r\n\r\nbody\r\n";
        for cut in 0..head.len() {
            let mut h = HeadScanner::default();
            h.feed(&head[..cut]);
            h.feed(&head[cut..]);
            assert_eq!(h.fields(), 3, "cut at {cut}");
        }
    }

    #[test]
    fn leading_empty_lines_count_but_do_not_end_the_head() {
        assert_eq!(measure(&[b"\r\n\r\nGET / HTTP/1.1\r\n\r\n"]), (22, true));
        let partial = b"GET / HTTP/1.1\r\nHost: x\r\n";
        assert_eq!(measure(&[partial]), (partial.len(), false));
    }

    /// The byte-at-a-time definition the line-at-a-time scanner must agree with.
    fn reference(data: &[u8]) -> (usize, bool) {
        let (mut bytes, mut at_line_start, mut seen_text) = (0, false, false);
        for &b in data {
            bytes += 1;
            match b {
                b'\n' if at_line_start && seen_text => return (bytes, true),
                b'\n' => at_line_start = true,
                b'\r' => {}
                _ => {
                    at_line_start = false;
                    seen_text = true;
                }
            }
        }
        (bytes, false)
    }

    #[test]
    fn line_at_a_time_agrees_with_byte_at_a_time_on_any_input_and_split() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        for _ in 0..20_000 {
            let len = rng.random_range(0..24);
            let data: Vec<u8> = (0..len)
                .map(|_| [b'\r', b'\n', b'a', b' '][rng.random_range(0..4)])
                .collect();
            let cut = rng.random_range(0..=len);
            let (a, b) = data.split_at(cut);
            assert_eq!(measure(&[a, b]), reference(&data), "{data:?} cut at {cut}");
        }
    }
}
