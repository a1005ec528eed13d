//! The request log: one bounded row per request, with what the views show of it.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::forwarding::{DeliveryState, TargetDelivery};
use super::streams::span_s;
use super::{Request, Store};
use crate::event::{AuthCheck, Callback, Outcome, Provider};

#[derive(Debug, Clone)]
pub struct LogEntry {
    /// Journal sequence number.
    pub seq: u64,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
    /// Peer address.
    pub remote: String,
    /// HTTP method.
    pub method: String,
    /// Path with query.
    pub path: String,
    /// accepted / duplicate / rejected.
    pub outcome: Outcome,
    /// HTTP status answered.
    pub status: u16,
    /// status / recording / ingest.
    pub kind: Option<String>,
    /// Index into [`Store::streams`] when the request was a recognised callback.
    pub stream: Option<u32>,
    /// The event name, uri or ingest action.
    pub summary: String,
    /// Key fields: a recording's duration and times, an ingest's client address.
    pub detail: String,
    /// Why it was rejected.
    pub error: Option<String>,
    /// Whose format it was read as.
    pub provider: Provider,
    /// Refused for a missing, wrong or stale signature.
    pub auth_failed: bool,
    /// The journal line, for `--json` output and the detail view.
    pub line: Arc<str>,
    /// Which attached receiver it came from (an index into the attach's source list), in a
    /// view merged from several receivers; `None` on a receiver's own store.
    pub source: Option<u16>,
    /// Its delivery to each `--forward-to` target, when it was forwarded.
    pub delivery: Vec<TargetDelivery>,
}

impl Store {
    /// The log half of [`Store::apply`], for a request already applied with
    /// [`Store::apply_state`] (which returned `stream`).
    pub fn push_log(
        &mut self,
        req: &Request,
        callback: Option<&Callback>,
        stream: Option<u32>,
        line: Arc<str>,
    ) {
        let summary = callback.map_or(String::new(), |c| c.summary().to_string());
        let mut detail = callback.map(detail_of).unwrap_or_default();
        // A recording whose times the store derived shows them (the callback had none).
        if let (Some(Callback::Recording(_)), Some(i)) = (callback, stream) {
            let rec = self.streams[i as usize]
                .last_recording
                .and_then(|k| self.recordings.get(k))
                .filter(|r| r.seq == req.seq && r.derived);
            if let Some(r) = rec {
                detail = match r.duration {
                    Some(d) => format!(
                        "duration~{} (derived from arrival times)",
                        crate::util::human::seconds(d)
                    ),
                    None => "duration=- (no publish or earlier file to start from)".to_string(),
                };
            }
        }
        let mut delivery = Vec::new();
        for name in req.forward.names() {
            if let Some(i) = self.forward.iter().position(|t| t.name == name) {
                delivery.push(TargetDelivery {
                    target: i as u16,
                    state: DeliveryState::Pending,
                    attempts: 0,
                    recent: Vec::new(),
                });
            }
        }
        if self.log.len() == self.log_capacity {
            self.log.pop_front();
        }
        self.log.push_back(LogEntry {
            seq: req.seq,
            received_at: req.received_at,
            remote: req.remote.to_string(),
            method: req.method.to_string(),
            path: req.path.to_string(),
            outcome: req.outcome,
            status: req.status,
            kind: req.kind.map(str::to_string),
            stream,
            summary,
            detail,
            error: req.error.map(str::to_string),
            provider: req.provider,
            auth_failed: req.auth == Some(AuthCheck::Failed),
            line,
            source: req.source,
            delivery,
        });
    }

    /// How many requests the log keeps.
    pub fn log_capacity(&self) -> usize {
        self.log_capacity
    }

    /// The newest requests, oldest first (bounded).
    pub fn log(&self) -> &VecDeque<LogEntry> {
        &self.log
    }
}

fn detail_of(cb: &Callback) -> String {
    match cb {
        Callback::Status(s) if s.target_state().is_none() => {
            "unknown event, state unchanged".to_string()
        }
        Callback::Status(s) => s.detail.clone().unwrap_or_default(),
        Callback::Recording(r) => {
            let mut d = match r.duration {
                Some(x) => format!("duration={}", crate::util::human::seconds(x)),
                None => "duration=-".to_string(),
            };
            if let (Some(a), Some(b)) = (r.start_time, r.stop_time) {
                let span = span_s(Some(a), Some(b)).map_or("?".into(), |s| s.to_string());
                d.push_str(&format!(" start={a} stop={b} span={span}s"));
            }
            if let Some(size) = r.file_size {
                d.push_str(&format!(" size={}", crate::util::human::bytes(size)));
            }
            if r.duration_mismatch() {
                d.push_str(" MISMATCH");
            }
            d
        }
        Callback::Ingest(i) => {
            let mut d = String::new();
            if let Some(ip) = &i.ip {
                d.push_str(&format!("ip={ip}"));
            }
            if let Some(n) = &i.node {
                d.push_str(&format!(" node={n}"));
            }
            d
        }
        Callback::Play(p) => p.ip.as_ref().map_or(String::new(), |ip| format!("ip={ip}")),
        Callback::Segment(s) => match s.duration {
            Some(x) => format!("hls segment duration={}", crate::util::human::seconds(x)),
            None => "hls segment duration=-".to_string(),
        },
        Callback::Notice(n) => n.detail.clone(),
    }
}
