//! The one pure step of an attached view: a journal line received from a source becomes a
//! store change. Parsed with the journal's own [`EntryRef`], re-classified with the one
//! classifier ([`callback_of_ref`]), and applied to the local [`Store`], exactly as a rebuild
//! applies a journal.
//!
//! With one source the receiver's outcome is trusted and the line is kept exactly as received.
//! With several, the receivers cannot see each other: a provider retry that landed on the other
//! receiver is "accepted" on both. So every callback is decided again by the one
//! [`Deduper`], in arrival order, and the entries are numbered again in that order: the merged
//! lines form one journal of their own (seq 1, 2, ...), each with the receiver it came from
//! (`source`, `source_seq`, and `source_outcome` when the merge decided otherwise), which
//! export, replay and a rebuild read like any journal.

use std::sync::Arc;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::core::checks::VerdictLine;
use crate::core::dedup::Deduper;
use std::collections::HashMap;

use crate::core::journal::{describe_line_error, parse_line, Line};
use crate::core::outbox::DeliveryLine;
use crate::core::rebuild::callback_of_ref;
use crate::core::store::{Request, Store};
use crate::event::Outcome;

/// Applies received entries to a store, merging several sources into one sequence.
#[derive(Debug)]
pub struct Merge {
    /// The sources' URLs; more than one means merging.
    urls: Vec<String>,
    deduper: Deduper,
    /// The merged sequence's last number.
    seq: u64,
    /// (source, its seq) → merged seq, for the callbacks a delivery line may refer to: the
    /// newest [`RENUMBERED_KEPT`] (a delivery follows its callback within seconds, or, after an
    /// outage, within the outbox's backlog).
    renumbered: HashMap<(usize, u64), u64>,
    renumbered_order: std::collections::VecDeque<(usize, u64)>,
}

/// Callbacks whose merged seq a merge remembers for their delivery lines.
const RENUMBERED_KEPT: usize = 1 << 20;

/// What one entry became.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The line kept in the store's log, printed by `--json` and saved for export.
    pub line: Arc<str>,
    /// The outcome the view counts it with (delivery lines, which are no request, count as
    /// accepted: they are recmon's own record of a forwarded callback).
    pub outcome: Outcome,
}

impl Merge {
    /// A merge of the given sources (in command-line order).
    pub fn new(urls: Vec<String>) -> Self {
        Merge {
            urls,
            deduper: Deduper::default(),
            seq: 0,
            renumbered: HashMap::new(),
            renumbered_order: std::collections::VecDeque::new(),
        }
    }

    /// Whether entries are re-decided and renumbered (more than one source).
    pub fn merging(&self) -> bool {
        self.urls.len() > 1
    }

    /// Applies one entry, received from source `source`, to `store`. `Err` says why a line is
    /// not a journal entry (the store is unchanged).
    pub fn apply(
        &mut self,
        store: &mut Store,
        source: usize,
        line: &str,
    ) -> Result<Applied, String> {
        let entry = match parse_line(line).map_err(|e| describe_line_error(&e, line.as_bytes()))? {
            Line::Request(e) => e,
            Line::Delivery(d) => return Ok(self.apply_delivery(store, source, line, d)),
            Line::Verdict(v) => return Ok(self.apply_verdict(store, source, line, v)),
            Line::Alert(mut a) => {
                // The view runs its own alert engine on what it merges (see the module's
                // documentation): a receiver's alert line is kept in the log, renumbered when
                // merging, and changes nothing here.
                let kept: Arc<str> = if self.merging() {
                    self.seq += 1;
                    a.seq = self.seq;
                    Arc::from(serde_json::to_string(&a).expect("an alert line serializes"))
                } else {
                    Arc::from(line)
                };
                return Ok(Applied {
                    line: kept,
                    outcome: Outcome::Accepted,
                });
            }
            Line::ReconcileRun(mut r) => {
                // A run's summary: the store keeps the newest (each receiver's runs count),
                // renumbered when merging.
                let kept: Arc<str> = if self.merging() {
                    self.seq += 1;
                    r.seq = self.seq;
                    Arc::from(serde_json::to_string(&r).expect("a run line serializes"))
                } else {
                    Arc::from(line)
                };
                store.apply_reconcile_run(&r);
                return Ok(Applied {
                    line: kept,
                    outcome: Outcome::Accepted,
                });
            }
            Line::Reconciled(mut r) => {
                // Applied like the callback it carries (not a request received), renumbered
                // when merging; the merge's deduper observes it as accepted.
                let cb = r.reconciled.callback();
                let kept: Arc<str> = if self.merging() {
                    self.seq += 1;
                    r.seq = self.seq;
                    Arc::from(serde_json::to_string(&r).expect("a reconciled line serializes"))
                } else {
                    Arc::from(line)
                };
                if let Some(cb) = &cb {
                    self.deduper.observe_accepted_from(
                        r.reconciled.provider,
                        cb,
                        r.reconciled.sent_at,
                    );
                    store.apply_reconciled(&r, cb);
                }
                return Ok(Applied {
                    line: kept,
                    outcome: Outcome::Accepted,
                });
            }
        };
        if entry.outcome == Outcome::Pending {
            // Answered while the receiver was rebuilding its state: it changes nothing, the
            // line that settles it (decided, later in the feed) does. One source's copy keeps
            // it as the receiver's journal has it; a merged copy, renumbered, has no place
            // for it (an empty line, not written).
            let line = if self.merging() { "" } else { line };
            return Ok(Applied {
                line: Arc::from(line),
                outcome: Outcome::Pending,
            });
        }
        let cb = callback_of_ref(&entry);
        let mut req = Request::from(&entry);
        let kept: Arc<str> = if self.merging() {
            // Rejections stay rejected; a callback is accepted or a duplicate by the same
            // rules as on one receiver, across all of them.
            if entry.outcome != Outcome::Rejected {
                if let Some(cb) = &cb {
                    req.outcome = self
                        .deduper
                        .decide_from(entry.provider, cb, entry.received_at)
                        .0;
                }
            }
            self.seq += 1;
            req.seq = self.seq;
            if cb.is_some() {
                if self.renumbered_order.len() == RENUMBERED_KEPT {
                    if let Some(old) = self.renumbered_order.pop_front() {
                        self.renumbered.remove(&old);
                    }
                }
                self.renumbered.insert((source, entry.seq), self.seq);
                self.renumbered_order.push_back((source, entry.seq));
            }
            req.source = Some(source.min(u16::MAX as usize) as u16);
            let url = self.urls.get(source).map_or("", String::as_str);
            Arc::from(merged_line(
                line,
                self.seq,
                req.outcome,
                entry.outcome,
                url,
                entry.seq,
            )?)
        } else {
            Arc::from(line)
        };
        store.apply_request(&req, cb.as_ref(), kept.clone());
        Ok(Applied {
            line: kept,
            outcome: req.outcome,
        })
    }
}

impl Merge {
    /// A delivery line (forwarding's record of one attempt). Merged, it is renumbered, and
    /// its `of` names the merged seq of the callback it delivered.
    fn apply_delivery(
        &mut self,
        store: &mut Store,
        source: usize,
        line: &str,
        mut d: DeliveryLine,
    ) -> Applied {
        let kept: Arc<str> = if self.merging() {
            self.seq += 1;
            d.seq = self.seq;
            match self.renumbered.get(&(source, d.delivery.of)) {
                Some(&merged) => d.delivery.of = merged,
                None => {
                    // Its callback came before this view's feed began (or is long gone): the
                    // receiver's seq would name another receiver's request here, so the line
                    // is kept in the copy but changes nothing in the view.
                    let line: Arc<str> =
                        Arc::from(serde_json::to_string(&d).expect("a delivery line serializes"));
                    return Applied {
                        line,
                        outcome: Outcome::Accepted,
                    };
                }
            }
            Arc::from(serde_json::to_string(&d).expect("a delivery line serializes"))
        } else {
            Arc::from(line)
        };
        store.apply_delivery(&d, kept.clone());
        Applied {
            line: kept,
            outcome: Outcome::Accepted,
        }
    }

    /// A recording file's verdict: renumbered like a delivery line when merging (its `of` then
    /// names the merged recording), applied to the recording it names.
    fn apply_verdict(
        &mut self,
        store: &mut Store,
        source: usize,
        line: &str,
        mut v: VerdictLine,
    ) -> Applied {
        let kept: Arc<str> = if self.merging() {
            self.seq += 1;
            v.seq = self.seq;
            let known = self.renumbered.get(&(source, v.verdict.of)).copied();
            let text = |v: &VerdictLine| -> Arc<str> {
                Arc::from(serde_json::to_string(v).expect("a verdict line serializes"))
            };
            match known {
                Some(merged) => v.verdict.of = merged,
                // Its recording came before this view's feed began: kept in the copy, it
                // changes nothing here (the receiver's seq would name another's recording).
                None => {
                    return Applied {
                        line: text(&v),
                        outcome: Outcome::Accepted,
                    }
                }
            }
            text(&v)
        } else {
            Arc::from(line)
        };
        store.apply_verdict(&v);
        Applied {
            line: kept,
            outcome: Outcome::Accepted,
        }
    }
}

/// The line with `seq` renumbered, `outcome` as the merge decided it, and where it came from:
/// `source` (the URL) and `source_seq` after `seq`, and `source_outcome` when the receiver
/// decided otherwise. Every other field is kept as received, in its order.
fn merged_line(
    line: &str,
    seq: u64,
    outcome: Outcome,
    source_outcome: Outcome,
    url: &str,
    source_seq: u64,
) -> Result<String, String> {
    let fields =
        OrderedFields::parse(line).map_err(|e| describe_line_error(&e, line.as_bytes()))?;
    let mut out = String::with_capacity(line.len() + url.len() + 64);
    out.push_str("{\"seq\":");
    out.push_str(&seq.to_string());
    out.push_str(",\"source\":");
    out.push_str(&serde_json::to_string(url).expect("a string serializes"));
    out.push_str(",\"source_seq\":");
    out.push_str(&source_seq.to_string());
    for (key, value) in &fields.0 {
        match key.as_str() {
            // `settles` names a pending line of the source's numbering, which a merged copy
            // does not keep.
            "seq" | "source" | "source_seq" | "source_outcome" | "settles" => continue,
            _ => {}
        }
        out.push(',');
        out.push_str(&serde_json::to_string(key).expect("a string serializes"));
        out.push(':');
        if key == "outcome" {
            out.push('"');
            out.push_str(outcome.as_str());
            out.push('"');
            if outcome != source_outcome {
                out.push_str(",\"source_outcome\":\"");
                out.push_str(source_outcome.as_str());
                out.push('"');
            }
        } else {
            out.push_str(value.get());
        }
    }
    out.push('}');
    Ok(out)
}

/// A JSON object's members in their order, values untouched.
struct OrderedFields<'a>(Vec<(String, &'a RawValue)>);

impl<'a> OrderedFields<'a> {
    fn parse(line: &'a str) -> Result<Self, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(line);
        let fields = (&mut de).deserialize_map(FieldsVisitor)?;
        de.end()?;
        Ok(fields)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = OrderedFields<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
            out.push((k, v));
        }
        Ok(OrderedFields(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64, outcome: &str, body: &str) -> String {
        format!(
            r#"{{"seq":{seq},"received_at":"2026-11-27T12:00:{:02}.000Z","remote":"127.0.0.1:9","method":"POST","path":"/cb","headers":{{"content-type":"application/json"}},"outcome":"{outcome}","status":200,"provider":"aliyun","kind":"recording","body_bytes":{},"body":{body}}}"#,
            seq % 60,
            body.len()
        )
    }

    const REC: &str = r#"{"domain":"d","app":"a","stream":"s","uri":"r/1.flv","duration":3,"start_time":1,"stop_time":4}"#;
    const STARTED: &str = r#"{"domain":"d","app":"a","stream":"s","event":"record_started"}"#;

    #[test]
    fn one_source_keeps_the_line_and_the_receivers_outcome() {
        let mut m = Merge::new(vec!["http://a".into()]);
        let mut store = Store::new(10);
        let l = line(7, "duplicate", REC);
        let got = m.apply(&mut store, 0, &l).unwrap();
        assert_eq!(&*got.line, l.as_str());
        assert_eq!(got.outcome, Outcome::Duplicate);
        assert_eq!(store.counters().duplicate, 1);
        assert_eq!(store.log()[0].seq, 7);
        assert_eq!(store.log()[0].source, None);
    }

    #[test]
    fn a_retry_that_landed_on_the_other_receiver_is_counted_once() {
        let mut m = Merge::new(vec!["http://a".into(), "http://b".into()]);
        let mut store = Store::new(10);
        // Both receivers accepted it: neither saw the other's copy.
        let a = m.apply(&mut store, 0, &line(5, "accepted", REC)).unwrap();
        let b = m.apply(&mut store, 1, &line(9, "accepted", REC)).unwrap();
        let s = m
            .apply(&mut store, 1, &line(10, "accepted", STARTED))
            .unwrap();
        assert_eq!(
            (a.outcome, b.outcome, s.outcome),
            (Outcome::Accepted, Outcome::Duplicate, Outcome::Accepted)
        );
        let c = store.counters();
        assert_eq!((c.accepted, c.duplicate), (2, 1));
        assert_eq!(store.recordings().len(), 1);
        // Renumbered in arrival order, with where each came from.
        let seqs: Vec<u64> = store.log().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(store.log()[1].source, Some(1));
        let v: serde_json::Value = serde_json::from_str(&b.line).unwrap();
        assert_eq!(v["seq"], 2);
        assert_eq!(v["source"], "http://b");
        assert_eq!(v["source_seq"], 9);
        assert_eq!(v["outcome"], "duplicate");
        assert_eq!(v["source_outcome"], "accepted");
        assert_eq!(v["body"]["uri"], "r/1.flv");
        let v: serde_json::Value = serde_json::from_str(&a.line).unwrap();
        assert!(v.get("source_outcome").is_none(), "{v}");
        // The merged line is a journal entry for the journal's own reader.
        let e: crate::core::journal::EntryRef = serde_json::from_str(&b.line).unwrap();
        assert_eq!((e.seq, e.outcome), (2, Outcome::Duplicate));
    }

    #[test]
    fn a_line_that_is_not_an_entry_changes_nothing() {
        let mut m = Merge::new(vec!["http://a".into(), "http://b".into()]);
        let mut store = Store::new(10);
        let err = m.apply(&mut store, 0, "[1,2]").unwrap_err();
        assert!(err.contains("array"), "{err}");
        assert!(!err.contains("EntryRef"), "{err}");
        assert_eq!(store.log().len(), 0);
        assert_eq!(store.last_seq(), 0);
    }
}
