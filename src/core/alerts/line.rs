//! What the journal says about alerts: each transition (an alert fired, its message changed,
//! it resolved) and each page's outcome at a sink (`--alert-exec`, `--alert-webhook`) is a
//! journal line of its own kind, committed through the sequencer like a forwarding delivery or
//! a file's verdict. The store applies them to its [`AlertBook`](super::AlertBook), so that
//! `--resume` knows what was firing and which pages no sink took yet (it sends those, and
//! nothing else, again), and every subscriber of the feed sees them in journal order.
//!
//! ```text
//! {"seq":42,"received_at":"…","alert":{"state":"firing","rule":"paused_too_long","severity":"warning",
//!  "stream":"d/a/s","fired_at":"…","resolved_at":null,"message":"…","text":"recmon: ALERT …",
//!  "stream_index":0,"version":0,"sinks":["webhook"]}}
//! {"seq":43,"received_at":"…","alert_sent":{"of":42,"sink":"webhook","delivered":true}}
//! ```
//!
//! The `alert` object is the alert's JSON as `/api/alerts`, `--alert-exec` and
//! `--alert-webhook` give it (plus what the book needs to carry on: `stream_index`, `version`
//! and the `sinks` the page is owed to). Lines whose state is `updated` (a firing alert about
//! something newer, such as the next short file) change the message only: nobody is paged.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::book::AlertChange;
#[cfg(test)]
use super::book::{Change, Rule, Severity};

/// What became of one page at one sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSent {
    /// The seq of the alert line paged.
    pub of: u64,
    /// `exec` or `webhook`.
    pub sink: String,
    /// Delivered (`false`: given up after its attempts, or dropped from a full queue).
    pub delivered: bool,
    /// Why it was not (capped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What an alert line holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertNote {
    /// A transition.
    Alert(Box<AlertChange>),
    /// A page's outcome at a sink.
    AlertSent(AlertSent),
}

/// An alert's journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertLine {
    /// Its own journal seq (numbered with the requests, in one order).
    pub seq: u64,
    /// When it was decided (RFC 3339, UTC, milliseconds).
    #[serde(with = "crate::core::time::rfc3339_ms")]
    pub received_at: DateTime<Utc>,
    /// The transition or the outcome.
    #[serde(flatten)]
    pub note: AlertNote,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(state: Change) -> AlertChange {
        AlertChange {
            state,
            rule: Rule::PausedTooLong,
            severity: Severity::Warning,
            stream: Some("d/a/s".into()),
            fired_at: "2026-12-04T10:00:00.123Z".parse().unwrap(),
            resolved_at: None,
            message: "paused".into(),
            text: "recmon: ALERT warning paused_too_long: paused".into(),
            stream_index: Some(0),
            version: 3,
            sinks: vec!["webhook".into()],
        }
    }

    #[test]
    fn alert_lines_round_trip_and_name_their_kind() {
        let line = AlertLine {
            seq: 9,
            received_at: "2026-12-04T10:00:00.123Z".parse().unwrap(),
            note: AlertNote::Alert(Box::new(change(Change::Firing))),
        };
        let text = serde_json::to_string(&line).unwrap();
        assert!(
            text.starts_with(
                r#"{"seq":9,"received_at":"2026-12-04T10:00:00.123Z","alert":{"state":"firing","rule":"paused_too_long""#
            ),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<AlertLine>(&text).unwrap(), line);
        let sent = AlertLine {
            seq: 10,
            received_at: line.received_at,
            note: AlertNote::AlertSent(AlertSent {
                of: 9,
                sink: "webhook".into(),
                delivered: false,
                error: Some("HTTP 500".into()),
            }),
        };
        let text = serde_json::to_string(&sent).unwrap();
        assert!(
            text.contains(r#","alert_sent":{"of":9,"sink":"webhook""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<AlertLine>(&text).unwrap(), sent);
    }

    #[test]
    fn an_update_pages_nobody_and_a_resolution_is_resolved() {
        assert!(change(Change::Updated).event().is_none());
        let mut r = change(Change::Resolved);
        r.resolved_at = Some(r.fired_at + chrono::Duration::seconds(5));
        let e = r.event().unwrap();
        assert!(e.resolved());
        assert_eq!(e.alert.state, "resolved");
    }

    #[test]
    fn a_book_rebuilt_from_its_lines_is_the_book_that_decided_them_and_owes_what_was_not_sent() {
        use super::super::book::{AlertBook, Condition};
        let t = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
        let cond = |rule, stream, version, message: &str| Condition {
            rule,
            stream,
            version,
            message: Some(message.to_string()),
        };
        let name = |i: u32| format!("d/a/s{i}");
        let rounds = vec![
            (t(0), vec![cond(Rule::PausedTooLong, Some(0), 0, "paused")]),
            (
                t(1),
                vec![
                    cond(Rule::PausedTooLong, Some(0), 0, "paused"),
                    cond(Rule::ShortFile, Some(1), 4, "short 4"),
                ],
            ),
            // A newer short file: the same alert, a new message.
            (t(2), vec![cond(Rule::ShortFile, Some(1), 5, "short 5")]),
            (t(3), vec![]),
        ];
        let mut memory = AlertBook::default();
        let mut journaled = AlertBook::default();
        let mut lines = Vec::new();
        let mut seq = 0;
        for (at, conditions) in rounds {
            let expected = memory.apply(conditions.clone(), at, name);
            let mut got = Vec::new();
            for mut c in journaled.decide(conditions, at, name) {
                seq += 1;
                if c.state != Change::Updated {
                    c.sinks = vec!["webhook".into()];
                }
                got.extend(journaled.apply_change(&c, Some(seq)));
                lines.push(AlertLine {
                    seq,
                    received_at: at,
                    note: AlertNote::Alert(Box::new(c)),
                });
            }
            assert_eq!(got, expected, "at {at}");
        }
        assert_eq!(journaled.firing(), memory.firing());
        assert_eq!(journaled.recent(), memory.recent());
        // Four pages (two fired, two resolved), one update; the first page was sent.
        assert_eq!(lines.len(), 5);
        lines.push(AlertLine {
            seq: 99,
            received_at: t(4),
            note: AlertNote::AlertSent(AlertSent {
                of: 1,
                sink: "webhook".into(),
                delivered: true,
                error: None,
            }),
        });
        // Read back from text, as `--resume` does.
        let mut rebuilt = AlertBook::default();
        for l in &lines {
            let back: AlertLine = serde_json::from_str(&serde_json::to_string(l).unwrap()).unwrap();
            match &back.note {
                AlertNote::Alert(c) => {
                    rebuilt.apply_change(c, Some(back.seq));
                }
                AlertNote::AlertSent(s) => rebuilt.apply_sent(s.of, &s.sink),
            }
        }
        assert_eq!(rebuilt.recent(), memory.recent());
        assert_eq!(rebuilt.fired_total(), memory.fired_total());
        let owed: Vec<u64> = rebuilt.owed().map(|(seq, _, _)| seq).collect();
        assert_eq!(owed.len(), 3, "the three pages no sink took: {owed:?}");
        assert!(!owed.contains(&1));
        // Nothing more to decide on a rebuilt book whose conditions still hold.
        assert!(rebuilt.decide(vec![], t(5), name).is_empty());
    }
}
