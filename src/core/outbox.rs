//! The forwarding outbox, as the journal keeps it. recmon passes every callback on to the
//! user's backends (`--forward-to`); the journal, durable before any callback is answered, is
//! the outbox:
//!
//! - a request line that is owed to backends lists them in `"forward":[TARGET, ...]`
//!   (written in the same line, so it is owed exactly when it is journaled);
//! - every delivery attempt's result is a line of its own, a [`DeliveryLine`]:
//!   `{"seq":N,"received_at":T,"delivery":{"of":SEQ,"target":TARGET,"mode":"async",
//!   "attempt":1,"result":"delivered","status":200,"ms":3}}`.
//!
//! A request is still owed to a target until a `delivered` or `failed` line for it
//! (`of` = its seq, same `target`) follows; `--resume` sends those again. Plain data, no I/O:
//! the sending is done in [`crate::forward`], above the core.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::StreamId;

/// Headers that belong to one connection (RFC 9110 §7.6.1): never forwarded, and not kept
/// for forwarding in the journal.
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

/// How callbacks are passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ForwardMode {
    /// The provider gets recmon's own answer at once; the backend gets each callback at least
    /// once, from the outbox, retried until it answers 2xx or `--forward-give-up` passes.
    #[default]
    Async,
    /// Pass-through: the provider gets the backend's answer (or 502/504), and its own retries
    /// are the redelivery.
    Sync,
}

impl ForwardMode {
    /// `async` or `sync`.
    pub fn as_str(self) -> &'static str {
        match self {
            ForwardMode::Async => "async",
            ForwardMode::Sync => "sync",
        }
    }
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryResult {
    /// The backend answered 2xx: done.
    Delivered,
    /// This attempt failed (non-2xx, timeout, connection error); another one follows.
    Retry,
    /// Given up: `--forward-give-up` passed (async), or the one attempt failed (sync, where
    /// the provider retries). Listed, and resent by hand with `recmon replay --seq`.
    Failed,
}

impl DeliveryResult {
    /// The lowercase name used in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryResult::Delivered => "delivered",
            DeliveryResult::Retry => "retry",
            DeliveryResult::Failed => "failed",
        }
    }

    /// Whether no further attempt follows.
    pub fn is_final(self) -> bool {
        self != DeliveryResult::Retry
    }
}

/// One attempt's result, the `delivery` object of a [`DeliveryLine`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The seq of the forwarded request.
    pub of: u64,
    /// The target, as named in the request line's `forward` list (its URL without any
    /// user:password).
    pub target: String,
    /// async or sync.
    #[serde(default)]
    pub mode: ForwardMode,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// delivered, retry or failed.
    pub result: DeliveryResult,
    /// The backend's HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// How long the attempt took, in milliseconds.
    #[serde(default)]
    pub ms: u64,
    /// Why it failed: the backend's status text, a timeout, a connection error (capped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The start of the backend's answer body (capped at [`REPLY_MAX`] bytes, lossy UTF-8).
    /// Untrusted text: views and exports sanitize it like any callback field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// Seconds until the next attempt (with `retry`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_in_s: Option<u64>,
    /// Sync mode: the status the provider was answered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<u16>,
}

/// The largest part of a backend's answer kept in a delivery line.
pub const REPLY_MAX: usize = 256;

/// Caps a backend's text (status reason, body) for the journal: at most `max` bytes, cut on a
/// character boundary, with `…` when cut.
pub fn cap_text(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(max + 4)]);
    if text.len() <= max && bytes.len() <= max {
        return text.into_owned();
    }
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A delivery journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryLine {
    /// Its own journal seq (delivery lines are numbered with the requests, in one order).
    pub seq: u64,
    /// When the attempt's result was known (RFC 3339, UTC, milliseconds).
    #[serde(with = "crate::core::time::rfc3339_ms")]
    pub received_at: DateTime<Utc>,
    /// The attempt.
    pub delivery: Delivery,
}

/// A journaled callback owed to the async targets: what the forwarder sends. Handed over by
/// the sequencer once its line is on disk.
#[derive(Debug, Clone)]
pub struct Owed {
    /// The request's seq (sent as `X-Recmon-Seq`).
    pub seq: u64,
    /// When it arrived (`--forward-give-up` counts from here).
    pub received_at: DateTime<Utc>,
    /// Its stream: callbacks of one stream are delivered in seq order.
    pub stream: StreamId,
    /// The request as received.
    pub request: ForwardedRequest,
    /// The targets it is owed to (their names).
    pub targets: Vec<String>,
}

/// What is forwarded of a request: everything recmon received that a backend needs.
#[derive(Debug, Clone, Default)]
pub struct ForwardedRequest {
    /// HTTP method.
    pub method: String,
    /// Path with query, as received.
    pub path: String,
    /// The headers as journaled (lowercase names).
    pub headers: BTreeMap<String, String>,
    /// The peer's socket address.
    pub remote: String,
    /// The body, byte for byte.
    pub body: bytes::Bytes,
}

impl ForwardedRequest {
    /// The query part of the path, without `?`.
    pub fn query(&self) -> Option<&str> {
        self.path.split_once('?').map(|(_, q)| q)
    }
}

/// What the sequencer needs to know to mark requests owed: the async targets' names, and
/// whether duplicates are skipped.
#[derive(Debug, Clone, Default)]
pub struct ForwardPlan {
    /// Names of the async targets, in command-line order.
    pub targets: Vec<String>,
    /// `--forward-skip-duplicates`.
    pub skip_duplicates: bool,
    /// `--forward-reconciled`: callbacks filled in from the providers' records are owed too
    /// (their reconciled lines list the targets).
    pub reconciled: bool,
}

impl ForwardPlan {
    /// Whether a committed request with this outcome is owed to the targets.
    pub fn owes(&self, outcome: crate::event::Outcome) -> bool {
        use crate::event::Outcome;
        !self.targets.is_empty()
            && match outcome {
                Outcome::Accepted => true,
                Outcome::Duplicate => !self.skip_duplicates,
                // Owed once decided: its settled copy carries the targets.
                Outcome::Rejected | Outcome::Pending => false,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_line_round_trips_and_leaves_out_what_it_lacks() {
        let line = DeliveryLine {
            seq: 9,
            received_at: DateTime::parse_from_rfc3339("2026-12-01T10:00:00.250Z")
                .unwrap()
                .with_timezone(&Utc),
            delivery: Delivery {
                of: 4,
                target: "http://127.0.0.1:9/cb".into(),
                mode: ForwardMode::Async,
                attempt: 2,
                result: DeliveryResult::Retry,
                status: Some(500),
                ms: 3,
                error: Some("500 Internal Server Error".into()),
                reply: None,
                retry_in_s: Some(2),
                answered: None,
            },
        };
        let text = serde_json::to_string(&line).unwrap();
        assert_eq!(
            text,
            r#"{"seq":9,"received_at":"2026-12-01T10:00:00.250Z","delivery":{"of":4,"target":"http://127.0.0.1:9/cb","mode":"async","attempt":2,"result":"retry","status":500,"ms":3,"error":"500 Internal Server Error","retry_in_s":2}}"#
        );
        assert_eq!(serde_json::from_str::<DeliveryLine>(&text).unwrap(), line);
    }

    #[test]
    fn text_from_a_backend_is_capped_on_a_character_boundary() {
        assert_eq!(cap_text(b"ok", 10), "ok");
        assert_eq!(cap_text("ééé".as_bytes(), 3), "é…");
        assert_eq!(cap_text(&[b'a'; 300], 256).chars().count(), 257);
        assert_eq!(cap_text(b"\xff\xfe", 10), "\u{fffd}\u{fffd}");
    }

    #[test]
    fn duplicates_are_owed_unless_skipped_and_rejections_never() {
        use crate::event::Outcome;
        let mut plan = ForwardPlan {
            targets: vec!["http://b/".into()],
            skip_duplicates: false,
            reconciled: false,
        };
        assert!(plan.owes(Outcome::Accepted) && plan.owes(Outcome::Duplicate));
        assert!(!plan.owes(Outcome::Rejected));
        plan.skip_duplicates = true;
        assert!(plan.owes(Outcome::Accepted) && !plan.owes(Outcome::Duplicate));
        plan.targets.clear();
        assert!(!plan.owes(Outcome::Accepted));
    }
}
