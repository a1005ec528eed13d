//! The fixture both screen test files share: fixed times, a store fed through the real
//! classifier, deduper, journal line and store (as the sequencer does), keys through the real
//! key handler, and one frame drawn into a `TestBackend`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use recmon::core::dedup::Deduper;
use recmon::core::journal::{encode_body, write_line, JournalEntry};
use recmon::core::outbox::{Delivery, DeliveryLine, DeliveryResult, ForwardMode};
use recmon::core::store::Store;
use recmon::event::{Callback, Method, Provider, Rejection};
use recmon::providers::aliyun::classify_request;
use recmon::providers::classify;
use recmon::views::tui::theme::Theme;
use recmon::views::tui::{handle_key, render, HeaderInfo, ViewState};

/// 2026-11-27T12:00:00Z: every time in these tests is an offset from it.
pub fn base() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_780_800, 0).unwrap()
}

/// `secs` past [`base`].
pub fn at(secs: i64) -> DateTime<Utc> {
    base() + Duration::seconds(secs)
}

/// The header facts of a loopback session without signature checking, writing `journal`.
pub fn header_info(journal: &str) -> HeaderInfo {
    HeaderInfo {
        listen: "127.0.0.1:8080".parse::<SocketAddr>().unwrap(),
        loopback_only: true,
        signature_checking: false,
        journal_path: Some(PathBuf::from(journal)),
        started_at: base(),
    }
}

/// A view without colour, times in UTC.
pub fn view() -> ViewState {
    ViewState::new(Theme { color: false }, true)
}

/// Feeds requests through the classifier, the deduper and the store, like the sequencer.
pub struct Feed {
    pub store: Store,
    pub dedup: Deduper,
    pub seq: u64,
    /// The async `--forward-to` targets every callback is owed to (none by default).
    pub forward: Vec<String>,
}

impl Feed {
    /// An empty store.
    pub fn new() -> Self {
        Feed {
            store: Store::default(),
            dedup: Deduper::default(),
            seq: 0,
            forward: Vec::new(),
        }
    }

    /// Forwards every later callback to `targets` (async), as `--forward-to` does.
    pub fn forwarding(&mut self, targets: &[&str]) {
        self.forward = targets.iter().map(|t| t.to_string()).collect();
        for t in targets {
            self.store.forward_target(t, ForwardMode::Async);
        }
    }

    /// One delivery attempt's line at `t`, written and read back as the journal does.
    #[allow(clippy::too_many_arguments)]
    pub fn delivery(
        &mut self,
        t: i64,
        of: u64,
        target: &str,
        attempt: u32,
        result: DeliveryResult,
        status: Option<u16>,
        ms: u64,
        error: Option<&str>,
    ) {
        self.seq += 1;
        let line = DeliveryLine {
            seq: self.seq,
            received_at: at(t),
            delivery: Delivery {
                of,
                target: target.into(),
                mode: ForwardMode::Async,
                attempt,
                result,
                status,
                ms,
                error: error.map(str::to_string),
                reply: (result != DeliveryResult::Delivered).then(|| {
                    "\u{1b}[2J\u{1b}]0;pwned\u{7}<h1>503 Service Unavailable</h1>".to_string()
                }),
                retry_in_s: (result == DeliveryResult::Retry)
                    .then(|| recmon::forward::backoff(attempt).as_secs()),
                answered: None,
            },
        };
        let text = serde_json::to_string(&line).unwrap();
        let back: DeliveryLine = serde_json::from_str(&text).unwrap();
        self.store.apply_delivery(&back, Arc::from(text.as_str()));
    }

    /// One ApsaraVideo Live request at `t` seconds past [`base`], journaled, read back and
    /// applied.
    pub fn request(&mut self, t: i64, method: &str, path: &str, body: &str) {
        let query = path.split_once('?').map(|(_, q)| q);
        let verdict = classify_request(Method::from_name(method), query, body.as_bytes());
        self.apply(Provider::Aliyun, verdict, t, method, path, body);
    }

    /// One request at `t` read as `provider`'s (as the receiver reads a request it detected
    /// or pinned as that provider's), journaled with its provider, read back and applied.
    pub fn request_as(&mut self, provider: Provider, t: i64, method: &str, path: &str, body: &str) {
        let query = path.split_once('?').map(|(_, q)| q);
        let verdict = classify(provider, Method::from_name(method), query, body.as_bytes());
        self.apply(provider, verdict, t, method, path, body);
    }

    fn apply(
        &mut self,
        provider: Provider,
        (verdict, parsed): (Result<Callback, Rejection>, bool),
        t: i64,
        method: &str,
        path: &str,
        body: &str,
    ) {
        self.seq += 1;
        let received_at = at(t);
        // The sequencer's own step: accepted, duplicate or rejected, and the status.
        let decision = self.dedup.sequence(&verdict, received_at);
        let (outcome, status, error, cb) = (
            decision.outcome,
            decision.status,
            decision.error,
            verdict.ok(),
        );
        let enc = encode_body(body.as_bytes(), parsed);
        let mut headers = BTreeMap::new();
        headers.insert("host".to_string(), "rec.example.com:8080".to_string());
        // What each sender sends (nginx-rtmp sends no User-Agent).
        match provider {
            Provider::Aliyun => {
                headers.insert("user-agent".to_string(), "aliyun-live-callback".to_string());
            }
            Provider::NginxRtmp => {
                headers.insert(
                    "content-type".to_string(),
                    "application/x-www-form-urlencoded".to_string(),
                );
            }
            Provider::Srs => {
                headers.insert("content-type".to_string(), "application/json".to_string());
                headers.insert("user-agent".to_string(), "SRS/5.0.213(Bee)".to_string());
            }
            Provider::Tencent => {
                headers.insert("content-type".to_string(), "application/json".to_string());
            }
        }
        if !body.is_empty() {
            headers.insert("content-length".to_string(), body.len().to_string());
        }
        let entry = JournalEntry {
            seq: self.seq,
            received_at,
            remote: "203.0.113.7:40123".into(),
            method: method.into(),
            path: path.into(),
            headers,
            outcome,
            status,
            provider,
            kind: cb.as_ref().map(|c| c.kind().to_string()),
            forward: if outcome == recmon::event::Outcome::Rejected {
                Vec::new()
            } else {
                self.forward.clone()
            },
            error,
            body_bytes: body.len() as u64,
            body: None,
            body_text: enc.body_text,
            body_base64: enc.body_base64,
            body_truncated: None,
            auth: None,
        };
        // Written and read back exactly as the sequencer and the journal reader do.
        let mut line = Vec::new();
        write_line(&mut line, &entry, enc.inline);
        let line = String::from_utf8(line).unwrap();
        let line = line.trim_end();
        let entry: JournalEntry = serde_json::from_str(line).unwrap();
        self.store.apply(&entry, cb.as_ref(), Arc::from(line));
    }
}

/// A status callback of `stream` on live.example.com/studio at `t`.
pub fn status(f: &mut Feed, t: i64, stream: &str, event: &str) {
    let body = format!(
        r#"{{"domain":"live.example.com","app":"studio","stream":"{stream}","event":"{event}"}}"#
    );
    f.request(t, "POST", "/recmon", &body);
}

/// One frame of the session of `header_info("recmon-20261127-120000.jsonl")`.
pub fn draw_session(
    store: &Store,
    view: &mut ViewState,
    w: u16,
    h: u16,
    now: DateTime<Utc>,
) -> TestBackend {
    draw_with(
        store,
        view,
        w,
        h,
        now,
        &header_info("recmon-20261127-120000.jsonl"),
    )
}

/// Presses `keys` in order through the real key handler.
pub fn press(view: &mut ViewState, store: &Store, now: DateTime<Utc>, keys: &[KeyCode]) {
    for &k in keys {
        handle_key(view, &KeyEvent::new(k, KeyModifiers::NONE), store, now);
    }
}

/// One frame of `w`×`h` cells, drawn at `now`.
pub fn draw_with(
    store: &Store,
    view: &mut ViewState,
    w: u16,
    h: u16,
    now: DateTime<Utc>,
    info: &HeaderInfo,
) -> TestBackend {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(f, store, view, now, info)).unwrap();
    t.backend().clone()
}
