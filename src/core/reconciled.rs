//! What the journal says about callbacks filled in from a provider's own records
//! (`recmon reconcile --backfill`): one line per callback the provider sent and this
//! receiver never received, marked as such.
//!
//! ```text
//! {"seq":57,"received_at":"…","reconciled":{"provider":"aliyun","sent_at":"…","notify_url":"https://…",
//!  "notify_result":"failed","notify_type":"record","body":{…the callback as the provider sent it…}}}
//! ```
//!
//! The store applies it like the callback it carries (a stream's state, a recording), dated
//! by the provider's send time, but it is not a request received: the request counters do not
//! count it and the request log does not list it; the recordings it adds are marked. The
//! deduper observes it, so reconciling twice adds nothing and a late real retry of the same
//! callback is a duplicate. Backfilled lines are never forwarded, and `recmon replay` never
//! sends them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::event::{Callback, Method, Provider};

/// A callback filled in from the provider's records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reconciled {
    /// Whose callback it is.
    pub provider: Provider,
    /// When the provider says it sent it.
    #[serde(with = "crate::core::journal::rfc3339_ms")]
    pub sent_at: DateTime<Utc>,
    /// Where the provider sent it (its evidence; untrusted text).
    #[serde(default)]
    pub notify_url: String,
    /// What the provider recorded of the answer (`failed`, a timeout…).
    #[serde(default)]
    pub notify_result: String,
    /// The provider's name for its kind (`NotifyType`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_type: Option<String>,
    /// The callback's body as the provider sent it (JSON).
    pub body: Box<RawValue>,
}

impl PartialEq for Reconciled {
    fn eq(&self, other: &Self) -> bool {
        self.provider == other.provider
            && self.sent_at == other.sent_at
            && self.notify_url == other.notify_url
            && self.notify_result == other.notify_result
            && self.notify_type == other.notify_type
            && self.body.get() == other.body.get()
    }
}

impl Reconciled {
    /// The callback it carries, read as its provider's (a POSTed JSON body).
    pub fn callback(&self) -> Option<Callback> {
        crate::providers::classify(
            self.provider,
            Method::Post,
            None,
            self.body.get().as_bytes(),
        )
        .0
        .ok()
    }
}

/// A reconciled callback's journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconciledLine {
    /// Its own journal seq.
    pub seq: u64,
    /// When it was filled in.
    #[serde(with = "crate::core::journal::rfc3339_ms")]
    pub received_at: DateTime<Utc>,
    /// What was filled in.
    pub reconciled: Reconciled,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reconciled_line_round_trips_and_carries_its_callback() {
        let line = ReconciledLine {
            seq: 5,
            received_at: "2026-12-04T10:00:00.000Z".parse().unwrap(),
            reconciled: Reconciled {
                provider: Provider::Aliyun,
                sent_at: "2026-12-04T09:00:00.000Z".parse().unwrap(),
                notify_url: "https://rec.example.com/recmon".into(),
                notify_result: "failed".into(),
                notify_type: Some("record".into()),
                body: RawValue::from_string(
                    r#"{"domain":"d","app":"a","stream":"s","uri":"a/s/1.flv","duration":60,"start_time":1,"stop_time":61}"#.into(),
                )
                .unwrap(),
            },
        };
        let text = serde_json::to_string(&line).unwrap();
        assert!(text.starts_with(r#"{"seq":5,"received_at":"2026-12-04T10:00:00.000Z","reconciled":{"provider":"aliyun""#), "{text}");
        let back: ReconciledLine = serde_json::from_str(&text).unwrap();
        assert_eq!(back, line);
        assert!(matches!(
            back.reconciled.callback(),
            Some(Callback::Recording(_))
        ));
    }
}
