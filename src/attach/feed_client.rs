//! Following one receiver's `GET /api/events` feed: the network half of `recmon attach`.
//!
//! A receiver publishes every committed journal entry as a Server-Sent Event (`event: hello`
//! first, then `id: <seq>` / `event: entry` / `data: <journal line>`, `: keep-alive` comments
//! when idle, and `event: lagged` before it closes on a subscriber that fell too far behind).
//! [`spawn_source`] starts one task per receiver that connects, hands each entry to the view in
//! seq order, and reconnects by itself with `Last-Event-ID` set to the last entry it delivered,
//! so a cut connection, a lag or a receiver restart neither loses nor repeats an entry.
//!
//! The SSE framing is a pure incremental parser ([`SseParser`]): bytes in, events out, no I/O,
//! so it is tested on its own, including a frame split at every byte boundary.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{HeaderValue, ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Request, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;

use crate::util::http_client;
use crate::util::sanitize;

/// Where one receiver is and how to reach it (`recmon attach URL --api-token T --ca-cert F`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceConfig {
    /// The receiver's base URL, e.g. `http://127.0.0.1:8080` or `https://host/prefix` (a
    /// trailing slash is fine); `/api/events` is added to it.
    pub url: String,
    /// Sent as `Authorization: Bearer TOKEN` when the receiver runs with `--api-token`.
    pub token: Option<String>,
    /// A PEM file of extra CA certificates to trust besides the system's roots (a private CA).
    pub ca_cert: Option<PathBuf>,
}

/// What a source task reports to the view, tagged with the source's index on the channel.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceEvent {
    /// The receiver answered 200 and sent its `hello`: the JSON object of session facts
    /// (version, listen, journal, started_at, signature_checking, last_seq).
    Connected {
        /// The `hello` event's data, a JSON object.
        hello: serde_json::Value,
    },
    /// One journal entry, newer than every entry delivered before on this source.
    Entry {
        /// The entry's sequence number (its SSE `id`).
        seq: u64,
        /// The journal line exactly as the receiver sent it (one line, no newline).
        line: String,
    },
    /// The connection ended or could not be made; the task tries again after `retry_in`.
    Disconnected {
        /// Why, in plain words, already safe for a terminal (no control characters).
        reason: String,
        /// How long the task waits before connecting again.
        retry_in: Duration,
    },
}

/// The timings and limits of a source task. [`Tuning::default`] is what `recmon attach` uses;
/// tests shorten the dead-connection timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuning {
    /// With no byte at all for this long (the receiver sends a keep-alive at least every 15 s),
    /// the connection is taken as dead and made again. Also bounds waiting for the response.
    pub idle_timeout: Duration,
    /// The first wait before reconnecting, and the wait after a connection that got its hello.
    pub backoff_start: Duration,
    /// The wait doubles after each failed attempt up to this.
    pub backoff_max: Duration,
    /// The largest single SSE event accepted; a bigger one ends the connection (a journal line
    /// holds one callback body, which the receiver caps far below this).
    pub max_event_bytes: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            idle_timeout: Duration::from_secs(45),
            backoff_start: Duration::from_millis(250),
            backoff_max: Duration::from_secs(5),
            max_event_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Starts a task that follows one receiver until `tx` is closed: connect, get entries with seq
/// greater than `after`, and reconnect with backoff (250 ms, doubling, capped at 5 s; back to
/// 250 ms after a connection that got its hello), always resuming with `Last-Event-ID` = the
/// last entry seq it delivered. Sends `(index, event)` on `tx`.
///
/// Errors are configuration mistakes found before any connection: a URL that is not an http or
/// https base URL, an unreadable or invalid `--ca-cert` file, a token that cannot be a header.
/// Must be called from within a Tokio runtime.
pub fn spawn_source(
    index: usize,
    cfg: SourceConfig,
    after: u64,
    tx: mpsc::Sender<(usize, SourceEvent)>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    spawn_source_tuned(index, cfg, after, tx, Tuning::default())
}

/// [`spawn_source`] with other timings and limits.
pub fn spawn_source_tuned(
    index: usize,
    cfg: SourceConfig,
    after: u64,
    tx: mpsc::Sender<(usize, SourceEvent)>,
    tuning: Tuning,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let uri = events_uri(&cfg.url)?;
    let auth = match cfg.token.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(token) => {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                "the --api-token contains characters that cannot be sent in an HTTP header \
                 (control characters or non-ASCII); copy the token the receiver was started with"
                    .to_string()
            })?;
            value.set_sensitive(true);
            Some(value)
        }
    };
    let https = uri.scheme_str() == Some("https");
    let client = build_client(https, cfg.ca_cert.as_deref())?;
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| "the attach client needs a running async runtime".to_string())?;
    let follower = Follower {
        index,
        uri,
        auth,
        client,
        tuning,
        last_seq: after,
        session: None,
        tx,
    };
    Ok(runtime.spawn(follower.run()))
}

/// `{base}/api/events` from the base URL the user typed, or why it is not one.
fn events_uri(url: &str) -> Result<Uri, String> {
    let shown = sanitize::terminal(url, 200);
    let example = "e.g. http://127.0.0.1:8080 or https://host/prefix";
    let uri: Uri = url.trim().parse().map_err(|_| {
        format!("{shown:?} is not a URL; expected the receiver's base URL, {example}")
    })?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        Some(other) => {
            let other = sanitize::terminal(other, 40);
            return Err(format!(
                "{shown:?}: the scheme must be http or https, not {other}; {example}"
            ));
        }
        None => {
            return Err(format!(
                "{shown:?} has no scheme: write http:// or https:// before the host, {example}"
            ))
        }
    }
    let authority = uri
        .authority()
        .ok_or_else(|| format!("{shown:?} has no host; {example}"))?;
    if authority.as_str().contains('@') {
        return Err(format!(
            "{shown:?} has a user name or password in it; give the URL without it ({example}) \
             and the token with --api-token"
        ));
    }
    if uri.query().is_some() {
        return Err(format!(
            "{shown:?} has a query (?...); give the receiver's base URL only, {example} \
             (recmon adds /api/events itself)"
        ));
    }
    let scheme = uri.scheme_str().unwrap_or("http");
    let base = uri.path().trim_end_matches('/');
    // The feed's own URL (copied from a curl line) would 404 forever as .../api/events/api/events.
    if let Some(root) = base
        .strip_suffix("/api/events")
        .or(base.strip_suffix("/api/state"))
    {
        let fixed = format!("{scheme}://{authority}{root}");
        let fixed = sanitize::terminal(&fixed, 200);
        return Err(format!(
            "{shown:?} is an API path; give the receiver's base URL, recmon adds /api/events \
             itself: recmon attach {fixed}"
        ));
    }
    format!("{scheme}://{authority}{base}/api/events")
        .parse()
        .map_err(|_| format!("{shown:?} cannot be followed by /api/events; {example}"))
}

type FeedClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// An HTTP(S) client that trusts the system's roots (for https URLs) plus `ca_cert`.
fn build_client(https: bool, ca_cert: Option<&std::path::Path>) -> Result<FeedClient, String> {
    let connector = http_client::connector(https, ca_cert)?;
    // No pooling: an event stream holds its connection for hours, and after it ends the next
    // attempt should be a fresh connection (the old one may point at a receiver now gone).
    Ok(Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(connector))
}

/// How one connection ended.
enum Ended {
    /// The view closed the channel: stop for good.
    Stopped,
    /// Try again. `connected` is true when this connection got its hello (resets the backoff).
    Lost { reason: String, connected: bool },
}

fn lost(reason: impl Into<String>, connected: bool) -> Ended {
    Ended::Lost {
        reason: reason.into(),
        connected,
    }
}

/// The state of one source task.
struct Follower {
    index: usize,
    uri: Uri,
    auth: Option<HeaderValue>,
    client: FeedClient,
    tuning: Tuning,
    /// The last entry seq delivered (or `after`): the resume point and the repeat filter.
    last_seq: u64,
    /// The session of the first hello: later hellos must continue its journal.
    session: Option<Session>,
    tx: mpsc::Sender<(usize, SourceEvent)>,
}

/// What in a `hello` tells one journal from another: a receiver restarted without `--resume`
/// starts a new journal whose seq begins at 1 again, and resuming it with our `Last-Event-ID`
/// would silently skip its first entries, or take the new journal's later entries for the
/// continuation of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Session {
    /// The journal's id (see [`crate::core::journal::JournalId`]), from receivers that say it.
    journal_id: Option<String>,
    /// The receiver's journal path (`None` with `--no-journal`).
    journal: Option<String>,
    /// When that receiver process started; only tells sessions apart without a journal,
    /// since `--resume` continues one journal across processes.
    started_at: Option<String>,
}

impl Session {
    fn of(hello: &serde_json::Value) -> Session {
        let text = |key: &str| hello.get(key).and_then(|v| v.as_str()).map(str::to_string);
        Session {
            journal_id: text("journal_id"),
            journal: text("journal"),
            started_at: text("started_at"),
        }
    }

    /// Whether `later` (a reconnection's hello) continues this session's journal. When both
    /// hellos carry a journal id, the ids decide: a new journal at the same path (the old
    /// file deleted, or emptied, and the receiver started without `--resume`) is another
    /// journal, and a resumed journal renamed is the same one. From receivers without ids
    /// the path decides as the receiver was given it (`--resume j.jsonl`, then
    /// `--resume ./j.jsonl` from elsewhere), so only the file names are compared; a journal
    /// moved away and started again under the same name is then told only by its seq going
    /// back (see the caller).
    fn continued_by(&self, later: &Session) -> bool {
        if let (Some(a), Some(b)) = (&self.journal_id, &later.journal_id) {
            return a == b;
        }
        let name = |p: &String| {
            std::path::Path::new(p)
                .file_name()
                .map(|n| n.to_os_string())
        };
        match (&self.journal, &later.journal) {
            (Some(a), Some(b)) => name(a) == name(b),
            (None, None) => self.started_at == later.started_at,
            _ => false,
        }
    }
}

impl Follower {
    async fn run(mut self) {
        let closed = self.tx.clone();
        let mut backoff = self.tuning.backoff_start;
        loop {
            // Also stop while a connection idles: the view may go away between keep-alives.
            let ended = tokio::select! {
                ended = self.connect_once() => ended,
                _ = closed.closed() => return,
            };
            let Ended::Lost { reason, connected } = ended else {
                return;
            };
            if connected {
                backoff = self.tuning.backoff_start;
            }
            let retry_in = backoff;
            let event = SourceEvent::Disconnected { reason, retry_in };
            if self.tx.send((self.index, event)).await.is_err() {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(retry_in) => {}
                _ = closed.closed() => return,
            }
            backoff = (backoff * 2).min(self.tuning.backoff_max);
        }
    }

    async fn send(&self, event: SourceEvent) -> Result<(), Ended> {
        self.tx
            .send((self.index, event))
            .await
            .map_err(|_| Ended::Stopped)
    }

    /// One connection, from the request to its end.
    async fn connect_once(&mut self) -> Ended {
        let idle = self.tuning.idle_timeout;
        let mut request = Request::get(self.uri.clone())
            .header(ACCEPT, "text/event-stream")
            .header(CACHE_CONTROL, "no-cache");
        if self.last_seq > 0 {
            request = request.header("last-event-id", self.last_seq);
        }
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let request = match request.body(Empty::new()) {
            Ok(r) => r,
            Err(e) => return lost(format!("cannot build the request: {e}"), false),
        };
        let response = match tokio::time::timeout(idle, self.client.request(request)).await {
            Err(_) => {
                return lost(
                    format!(
                        "the receiver did not answer within {}",
                        duration_words(idle)
                    ),
                    false,
                )
            }
            Ok(Err(e)) => return lost(describe_error(&e), false),
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        if status != StatusCode::OK {
            let said = error_body(response, idle).await;
            let said = said.map(|s| format!(" (it said: {s})")).unwrap_or_default();
            let reason = match status {
                StatusCode::UNAUTHORIZED if self.auth.is_none() => {
                    format!("401: the receiver wants --api-token{said}")
                }
                StatusCode::UNAUTHORIZED => {
                    format!("401: the receiver refused our --api-token{said}")
                }
                StatusCode::NOT_FOUND => format!(
                    "404: no /api/events here; the receiver is older than this recmon \
                     (upgrade it) or the URL's path is wrong{said}"
                ),
                other => format!("HTTP {} from the receiver{said}", other.as_u16()),
            };
            return lost(reason, false);
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        if !content_type
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("text/event-stream")
        {
            return lost(
                format!(
                    "the receiver answered 200 but not with an event stream (Content-Type {:?}); \
                     is this URL a recmon receiver?",
                    sanitize::terminal(&content_type, 80)
                ),
                false,
            );
        }
        match self.read_stream(response.into_body()).await {
            Ok(never) => match never {},
            Err(ended) => ended,
        }
    }

    /// Reads events until the connection ends; only ever returns how it ended.
    async fn read_stream(
        &mut self,
        mut body: hyper::body::Incoming,
    ) -> Result<std::convert::Infallible, Ended> {
        let idle = self.tuning.idle_timeout;
        let mut parser = SseParser::new(self.tuning.max_event_bytes);
        let mut events = Vec::new();
        let mut connected = false;
        loop {
            let frame = match tokio::time::timeout(idle, body.frame()).await {
                Err(_) => {
                    return Err(lost(
                        format!(
                            "nothing from the receiver for {}; the connection looks dead",
                            duration_words(idle)
                        ),
                        connected,
                    ))
                }
                Ok(None) => return Err(lost("the receiver closed the connection", connected)),
                Ok(Some(Err(e))) => return Err(lost(describe_error(&e), connected)),
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue; // trailers carry nothing for us
            };
            if let Err(e) = parser.feed(&data, &mut events) {
                return Err(lost(e.to_string(), connected));
            }
            for event in std::mem::take(&mut events) {
                match event.event.as_str() {
                    "hello" => {
                        let hello: serde_json::Value = match serde_json::from_str(&event.data) {
                            Ok(v @ serde_json::Value::Object(_)) => v,
                            _ => {
                                return Err(lost(
                                    "the receiver's hello is not a JSON object; is this URL a recmon receiver?",
                                    connected,
                                ))
                            }
                        };
                        let session = Session::of(&hello);
                        let their_last = hello.get("last_seq").and_then(|v| v.as_u64());
                        let continued = self
                            .session
                            .as_ref()
                            .is_none_or(|first| first.continued_by(&session));
                        if !continued || their_last.is_some_and(|n| n < self.last_seq) {
                            // Not a reconnection to the journal this view holds: its seqs
                            // would collide with ours. Say so (slowly: it will not change by
                            // itself) rather than wait, silently, for seq > ours.
                            let same_path = session.journal.is_some()
                                && self.session.as_ref().map(|s| &s.journal)
                                    == Some(&session.journal);
                            let now = match &session.journal {
                                Some(path) => format!("{:?}", sanitize::terminal(path, 120)),
                                None => "--no-journal".to_string(),
                            };
                            let mut theirs =
                                their_last.map(|n| format!(" at #{n}")).unwrap_or_default();
                            if same_path {
                                theirs.push_str(", a new journal at the same path");
                            }
                            return Err(lost(
                                format!(
                                    "restarted without --resume: quit and attach again to follow its new \
                                     journal ({now}{theirs}; this view holds another, up to #{})",
                                    self.last_seq
                                ),
                                false,
                            ));
                        }
                        self.session.get_or_insert(session);
                        connected = true;
                        self.send(SourceEvent::Connected { hello }).await?;
                    }
                    "entry" => {
                        if !connected {
                            return Err(lost(
                                "the receiver sent an entry before its hello; is this URL a recmon receiver?",
                                false,
                            ));
                        }
                        let Ok(seq) = event.id.parse::<u64>() else {
                            return Err(lost(
                                format!(
                                    "the receiver sent an entry whose id {:?} is not a sequence number",
                                    sanitize::terminal(&event.id, 40)
                                ),
                                connected,
                            ));
                        };
                        // A server that repeats itself (or ignores Last-Event-ID) must not make
                        // the view count an entry twice.
                        if seq <= self.last_seq {
                            continue;
                        }
                        self.last_seq = seq;
                        let line = event.data;
                        self.send(SourceEvent::Entry { seq, line }).await?;
                    }
                    "lagged" => {
                        return Err(lost("the receiver said we fell behind (lagged)", connected))
                    }
                    _ => {} // event types of later receivers
                }
            }
        }
    }
}

/// The `error` text of a refusal body (`{"error": "..."}`), made terminal-safe, if there is one.
async fn error_body(
    response: hyper::Response<hyper::body::Incoming>,
    wait: Duration,
) -> Option<String> {
    let body = Limited::new(response.into_body(), 4096);
    let bytes = tokio::time::timeout(wait, body.collect())
        .await
        .ok()?
        .ok()?
        .to_bytes();
    let doc: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let text = doc.get("error")?.as_str()?.trim();
    (!text.is_empty()).then(|| sanitize::terminal(text, 200).into_owned())
}

/// "45 s", "300 ms": a timeout as a person reads it.
fn duration_words(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// The words for a failed request to the receiver (see [`http_client::describe_error`]).
fn describe_error(err: &(dyn std::error::Error + 'static)) -> String {
    http_client::describe_error(err, "the receiver")
}

/// One Server-Sent Event as dispatched by [`SseParser`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `message` when the event had none.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The stream's last event ID when this event was dispatched: the latest `id:` field seen,
    /// in this event or an earlier one (as in the WHATWG spec); empty if none yet.
    pub id: String,
}

/// One event grew past the parser's limit; the stream cannot be trusted further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTooLarge {
    /// The limit in bytes.
    pub limit: usize,
}

impl fmt::Display for EventTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the receiver sent one event larger than {} bytes; dropped the connection",
            crate::util::human::thousands(self.limit as u64)
        )
    }
}

impl std::error::Error for EventTooLarge {}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// An incremental `text/event-stream` parser (the WHATWG subset a feed needs): fields `id`,
/// `event`, `data`, `retry`; `:` comments; a field without a colon; CRLF, LF or CR line ends;
/// one leading byte order mark. Feed it bytes as they arrive in any split; complete events
/// come out. Invalid UTF-8 becomes U+FFFD, as the spec decodes. After an error, discard it.
#[derive(Debug)]
pub struct SseParser {
    /// The unfinished line carried over from the last feed.
    line: Vec<u8>,
    data: String,
    event: String,
    last_id: String,
    retry: Option<u64>,
    /// The last byte fed was a CR: a LF first in the next feed ends the same line.
    after_cr: bool,
    /// The start of the stream has been checked for a byte order mark.
    bom_checked: bool,
    max_event_bytes: usize,
}

impl SseParser {
    /// A parser for a new stream that refuses any event (and any line) over `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> Self {
        SseParser {
            line: Vec::new(),
            data: String::new(),
            event: String::new(),
            last_id: String::new(),
            retry: None,
            after_cr: false,
            bom_checked: false,
            max_event_bytes,
        }
    }

    /// The latest valid `retry:` value in milliseconds, if the stream sent one.
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// Parses `bytes`, appending every event they complete to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), EventTooLarge> {
        if self.bom_checked {
            return self.process(bytes, out);
        }
        // Hold the first bytes until they show whether the stream starts with a BOM.
        let mut start = std::mem::take(&mut self.line);
        start.extend_from_slice(bytes);
        if start.len() < BOM.len() && BOM.starts_with(&start) {
            self.line = start;
            return Ok(());
        }
        self.bom_checked = true;
        let skip = if start.starts_with(BOM) { BOM.len() } else { 0 };
        self.process(&start[skip..], out)
    }

    fn process(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), EventTooLarge> {
        let mut rest = bytes;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while !rest.is_empty() {
            let Some(end) = memchr::memchr2(b'\n', b'\r', rest) else {
                self.check_size(rest.len())?;
                self.line.extend_from_slice(rest);
                return Ok(());
            };
            if self.line.is_empty() {
                self.check_size(end)?;
                self.take_line(&rest[..end], out)?;
            } else {
                self.check_size(end)?;
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(&rest[..end]);
                let result = self.take_line(&line, out);
                line.clear();
                self.line = line; // keep the allocation
                result?;
            }
            let was_cr = rest[end] == b'\r';
            rest = &rest[end + 1..];
            if was_cr {
                match rest.first() {
                    None => self.after_cr = true,
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Refuses `more` bytes on top of the unfinished line and event when that passes the limit.
    fn check_size(&self, more: usize) -> Result<(), EventTooLarge> {
        let total = self.line.len() + self.data.len() + self.event.len() + more;
        if total > self.max_event_bytes {
            return Err(EventTooLarge {
                limit: self.max_event_bytes,
            });
        }
        Ok(())
    }

    /// Interprets one complete line (without its line end).
    fn take_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), EventTooLarge> {
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(()); // a comment, e.g. the keep-alive
        }
        let (name, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"event" => {
                self.event.clear();
                self.event.push_str(&text(value));
            }
            b"data" => {
                self.check_size(value.len() + 1)?;
                // One allocation of the right size: an entry is one data line.
                self.data.reserve(value.len() + 1);
                self.data.push_str(&text(value));
                self.data.push('\n');
            }
            b"id" if !value.contains(&0) => {
                self.last_id.clear();
                self.last_id.push_str(&text(value));
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                self.retry = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            }
            _ => {} // unknown fields, an id with a NUL, a retry that is not a number
        }
        Ok(())
    }

    /// A blank line: hand out the event being built, if it has data.
    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if self.data.is_empty() {
            self.event.clear();
            return;
        }
        self.data.pop(); // the last data line's \n
        let event = if self.event.is_empty() {
            "message".to_string()
        } else {
            std::mem::take(&mut self.event)
        };
        out.push(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
            id: self.last_id.clone(),
        });
    }
}

/// A field's value as text: borrowed when it is UTF-8 (always, from recmon: the fast check),
/// with U+FFFD for invalid bytes otherwise, as the SSE spec decodes.
fn text(value: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(value) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::new(1 << 20);
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out).unwrap();
        }
        out
    }

    fn ev(event: &str, data: &str, id: &str) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
            id: id.into(),
        }
    }

    const STREAM: &[u8] =
        b"\xEF\xBB\xBFevent: hello\ndata: {\"version\":\"0.1.0\"}\n\n: keep-alive\n\n\
id: 1\r\nevent: entry\r\ndata: {\"seq\":1,\"n\":\"\xC3\xA9\"}\r\n\r\n\
id: 2\revent: entry\rdata: {\"seq\":2}\r\r\
data\ndata:x\ndata:  two spaces\n\n\
event: lagged\ndata: {\"last_seq\":2}\n\n";

    fn expected() -> Vec<SseEvent> {
        vec![
            ev("hello", "{\"version\":\"0.1.0\"}", ""),
            ev("entry", "{\"seq\":1,\"n\":\"é\"}", "1"),
            ev("entry", "{\"seq\":2}", "2"),
            ev("message", "\nx\n two spaces", "2"),
            ev("lagged", "{\"last_seq\":2}", "2"),
        ]
    }

    #[test]
    fn whole_stream_with_bom_every_line_end_and_comments() {
        assert_eq!(parse(&[STREAM]), expected());
    }

    #[test]
    fn a_stream_split_at_every_byte_boundary_gives_the_same_events() {
        for cut in 0..=STREAM.len() {
            let (a, b) = STREAM.split_at(cut);
            assert_eq!(parse(&[a, b]), expected(), "split at byte {cut}");
        }
        let bytes: Vec<&[u8]> = STREAM.chunks(1).collect();
        assert_eq!(parse(&bytes), expected(), "one byte at a time");
    }

    #[test]
    fn only_a_leading_bom_is_stripped() {
        let out = parse(&[b"data: a\n\n\xEF\xBB\xBFdata: b\n\n"]);
        assert_eq!(out[0].data, "a");
        // A BOM later is part of the field name, so that line is an unknown field.
        assert_eq!(out.len(), 1);
        let out = parse(&[b"\xEF\xBB", b"\xBFdata: a\n\n"]);
        assert_eq!(out, vec![ev("message", "a", "")]);
        // Bytes that only start like a BOM are kept.
        let out = parse(&[b"\xEF", b"data: a\n\ndata: b\n\n"]);
        assert_eq!(out, vec![ev("message", "b", "")]);
    }

    #[test]
    fn cr_then_lf_in_the_next_chunk_is_one_line_end() {
        // Were the LF taken as a second line end, it would dispatch early and split the event.
        let out = parse(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]);
        assert_eq!(out, vec![ev("message", "a\nb", "")]);
    }

    #[test]
    fn events_without_data_are_not_dispatched_but_ids_stick() {
        let out = parse(&[b"id: 7\nevent: entry\n\nevent: x\ndata: d\n\n"]);
        assert_eq!(out, vec![ev("x", "d", "7")]);
        // An id with a NUL is ignored; `id` alone clears it; `data:` alone is an empty data line.
        let out = parse(&[b"id: 8\0\ndata:\n\nid\ndata: y\n\n"]);
        assert_eq!(out, vec![ev("message", "", ""), ev("message", "y", "")]);
        let out = parse(&[b"id: 7\nid: 8\0\ndata:\n\n"]);
        assert_eq!(out, vec![ev("message", "", "7")]);
    }

    #[test]
    fn an_unfinished_event_is_not_dispatched() {
        assert!(parse(&[b"id: 4\nevent: entry\ndata: {\"seq\":4}\n"]).is_empty());
        assert!(parse(&[b"data: no line end"]).is_empty());
    }

    #[test]
    fn retry_takes_only_digits() {
        let mut parser = SseParser::new(1024);
        let mut out = Vec::new();
        parser.feed(b"retry: 1500\n", &mut out).unwrap();
        assert_eq!(parser.retry(), Some(1500));
        parser.feed(b"retry: 15x\nretry:\n", &mut out).unwrap();
        assert_eq!(parser.retry(), Some(1500));
    }

    #[test]
    fn an_event_over_the_limit_is_an_error_in_any_split() {
        let mut big = b"data: ".to_vec();
        big.extend(std::iter::repeat_n(b'x', 100));
        big.extend(b"\n\n");
        let mut parser = SseParser::new(64);
        assert_eq!(
            parser.feed(&big, &mut Vec::new()),
            Err(EventTooLarge { limit: 64 })
        );
        // Many small data lines add up, and a line with no end yet counts too.
        let mut parser = SseParser::new(64);
        let r = (0..20).try_for_each(|_| parser.feed(b"data: 12345\n", &mut Vec::new()));
        assert!(r.is_err());
        let mut parser = SseParser::new(64);
        let r = big[..90]
            .chunks(7)
            .try_for_each(|c| parser.feed(c, &mut Vec::new()));
        assert!(r.is_err());
        // At the limit is fine, and the limit applies per event.
        let mut parser = SseParser::new(64);
        let mut out = Vec::new();
        for _ in 0..10 {
            parser
                .feed(b"data: 12345678901234567890\n\n", &mut out)
                .unwrap();
        }
        assert_eq!(out.len(), 10);
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let out = parse(&[b"data: a\xFFb\n\n"]);
        assert_eq!(out[0].data, "a\u{FFFD}b");
    }

    #[test]
    fn base_urls_become_the_events_url() {
        let ok = |u: &str| events_uri(u).unwrap().to_string();
        assert_eq!(
            ok("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080/api/events"
        );
        assert_eq!(
            ok("http://127.0.0.1:8080/"),
            "http://127.0.0.1:8080/api/events"
        );
        assert_eq!(
            ok("https://h.example/pre/fix//"),
            "https://h.example/pre/fix/api/events"
        );
        assert_eq!(ok(" http://[::1]:9/ "), "http://[::1]:9/api/events");
    }

    #[test]
    fn bad_urls_say_what_is_expected() {
        for (url, says) in [
            ("ftp://h/x", "must be http or https, not ftp"),
            ("127.0.0.1:8080", "has no scheme"),
            ("http://h/x?after=3", "has a query"),
            ("http://u:p@h/", "user name or password"),
            ("http://h\x1b[2J/", "is not a URL"),
            ("", "is not a URL"),
        ] {
            let err = events_uri(url).unwrap_err();
            assert!(err.contains(says), "{url:?}: {err}");
            assert!(err.contains("http://127.0.0.1:8080"), "{url:?}: {err}");
            assert!(!err.contains('\x1b'), "{url:?}: {err}");
        }
    }
}
