//! The request log: one bounded row per request, with what the views show of it.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::forwarding::{DeliveryState, TargetDelivery};
use super::{Request, Store};
use crate::describe::{request_detail, RequestDetail};
use crate::event::{AuthCheck, Callback, Outcome, Provider};

/// One request, for the request log.
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
    /// Key fields: a recording's duration and times, an ingest's client address (the words
    /// are [`crate::describe::request_detail`]'s).
    pub facts: RequestDetail,
    /// Compatibility: [`request_detail`]'s words for `facts`, which `views::headless` still
    /// reads. To go once it renders `facts`.
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
        let mut facts = callback.map(facts_of).unwrap_or_default();
        // A recording whose times the store derived shows them (the callback had none).
        if let (Some(Callback::Recording(_)), Some(i)) = (callback, stream) {
            let rec = self.streams[i as usize]
                .last_recording
                .and_then(|k| self.recordings.get(k))
                .filter(|r| r.seq == req.seq && r.derived);
            if let Some(r) = rec {
                facts = RequestDetail::Derived {
                    duration: r.duration,
                };
            }
        }
        let detail = request_detail(&facts);
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
            facts,
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

/// A callback's key fields, as the request log keeps them.
fn facts_of(cb: &Callback) -> RequestDetail {
    match cb {
        Callback::Status(s) if s.target_state().is_none() => RequestDetail::UnknownEvent,
        Callback::Status(s) => s
            .detail
            .as_deref()
            .map_or(RequestDetail::None, |d| RequestDetail::Said(d.into())),
        Callback::Recording(r) => RequestDetail::Recording {
            duration: r.duration,
            times: r.start_time.zip(r.stop_time),
            size: r.file_size,
            mismatch: r.duration_mismatch(),
        },
        Callback::Ingest(i) => RequestDetail::Client {
            ip: i.ip.as_deref().map(Into::into),
            node: i.node.as_deref().map(Into::into),
        },
        Callback::Play(p) => RequestDetail::Client {
            ip: p.ip.as_deref().map(Into::into),
            node: None,
        },
        Callback::Segment(s) => RequestDetail::Segment {
            duration: s.duration,
        },
        Callback::Notice(n) => RequestDetail::Said(n.detail.as_str().into()),
    }
}
