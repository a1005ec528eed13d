//! What a journal still owes each target: read during `--resume`'s one pass over the journal
//! (fed every line by [`crate::core::rebuild::rebuild_observing`]).
//!
//! A request line with `"forward":[...]` is owed to each target it lists (and so is a
//! reconciled line that lists them, `--forward-reconciled`); a `delivered` or
//! `failed` delivery line for it and a target settles that target. Whatever is left is
//! delivered again, in seq order per stream, with its attempt count carried on.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::core::journal::EntryRef;
use crate::core::outbox::{ForwardedRequest, Owed};
use crate::core::rebuild::LineRef;
use crate::core::reconciled::ReconciledLine;
use crate::event::Callback;

/// What a journal owes each target (name → callbacks with their attempts so far, in seq
/// order).
pub type Outbox = HashMap<String, Vec<(Arc<Owed>, u32)>>;

/// One owed request while the journal is read.
struct Open {
    owed: Arc<Owed>,
    /// Targets not settled yet, with the attempts made so far.
    targets: Vec<(String, u32)>,
}

/// The outbox as the journal leaves it.
#[derive(Default)]
pub struct Recovery {
    open: BTreeMap<u64, Open>,
}

impl Recovery {
    /// Reads one journal line (`cb` is a request's callback, when it is one).
    pub fn observe(&mut self, line: LineRef, cb: Option<&Callback>) {
        match line {
            LineRef::Request(..) | LineRef::Reconciled(..) => {
                let owed = match line {
                    LineRef::Request(e) => owed_of(e, cb),
                    LineRef::Reconciled(r, _) => owed_of_reconciled(r, cb),
                    _ => None,
                };
                let Some(owed) = owed else {
                    return;
                };
                let seq = owed.seq;
                let targets = owed.targets.clone();
                self.open.insert(
                    seq,
                    Open {
                        owed: Arc::new(owed),
                        targets: targets.into_iter().map(|t| (t, 0)).collect(),
                    },
                );
            }
            LineRef::Delivery(d, _) => {
                let d = &d.delivery;
                let Some(open) = self.open.get_mut(&d.of) else {
                    return;
                };
                let Some(i) = open.targets.iter().position(|(t, _)| *t == d.target) else {
                    return;
                };
                if d.result.is_final() {
                    open.targets.swap_remove(i);
                    if open.targets.is_empty() {
                        self.open.remove(&d.of);
                    }
                } else {
                    open.targets[i].1 = open.targets[i].1.max(d.attempt);
                }
            }
            LineRef::Verdict(..) | LineRef::ReconcileRun(..) | LineRef::Alert(..) => {}
        }
    }

    /// How many requests are still owed to some target.
    pub fn owed(&self) -> usize {
        self.open.len()
    }

    /// What is owed to each target, in seq order with its attempts so far. Targets no longer
    /// given (`configured`) come back separately with their counts, to be reported.
    pub fn into_outbox(self, configured: &[String]) -> (Outbox, BTreeMap<String, u64>) {
        let mut out: Outbox = HashMap::new();
        let mut dropped: BTreeMap<String, u64> = BTreeMap::new();
        for (_, open) in self.open {
            for (target, attempts) in open.targets {
                if configured.contains(&target) {
                    out.entry(target)
                        .or_default()
                        .push((open.owed.clone(), attempts));
                } else {
                    *dropped.entry(target).or_default() += 1;
                }
            }
        }
        (out, dropped)
    }
}

/// The callback a request line owes to the targets it lists (`"forward":[...]`), as the
/// forwarder sends it; `None` when it lists none or is not a callback. `cb` is the line's
/// callback: the feed carries it for what this run committed; a line read back from the
/// journal is classified again (see [`crate::core::rebuild::callback_of_ref`]).
pub fn owed_of(e: &EntryRef, cb: Option<&Callback>) -> Option<Owed> {
    if e.forward.is_empty() {
        return None;
    }
    let reclassified;
    let cb = match cb {
        Some(cb) => cb,
        None => {
            reclassified = crate::core::rebuild::callback_of_ref(e)?;
            &reclassified
        }
    };
    Some(Owed {
        seq: e.seq,
        received_at: e.received_at,
        // A notice that names no stream is delivered in a lane of its own.
        stream: cb.stream_id().cloned().unwrap_or_default(),
        request: ForwardedRequest {
            method: e.method.to_string(),
            path: e.path.to_string(),
            headers: e
                .headers
                .0
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            remote: e.remote.to_string(),
            body: bytes::Bytes::from(e.body_raw().into_owned()),
        },
        targets: e.forward.iter().map(|t| t.to_string()).collect(),
    })
}

/// Marks a forwarded callback that was filled in from the provider's records
/// (`--forward-reconciled`): its value is the provider's send time.
pub const RECONCILED_HEADER: &str = "x-recmon-reconciled";

/// The callback a reconciled line owes to the targets it lists (`--forward-reconciled`): its
/// body as the provider sent it, POSTed as JSON with [`RECONCILED_HEADER`]; `None` when it
/// lists none or carries no callback. `cb` is its callback when the caller has it.
pub fn owed_of_reconciled(r: &ReconciledLine, cb: Option<&Callback>) -> Option<Owed> {
    if r.forward.is_empty() {
        return None;
    }
    let reclassified;
    let cb = match cb {
        Some(cb) => cb,
        None => {
            reclassified = r.reconciled.callback()?;
            &reclassified
        }
    };
    let headers = [
        ("content-type".to_string(), "application/json".to_string()),
        (
            RECONCILED_HEADER.to_string(),
            crate::core::journal::format_time(r.reconciled.sent_at),
        ),
    ];
    Some(Owed {
        seq: r.seq,
        // `--forward-give-up` counts from the filling-in: the provider sent it long before.
        received_at: r.received_at,
        stream: cb.stream_id().cloned().unwrap_or_default(),
        request: ForwardedRequest {
            method: "POST".into(),
            path: "/".into(),
            headers: headers.into_iter().collect(),
            remote: String::new(),
            body: bytes::Bytes::from(r.reconciled.body.get().as_bytes().to_vec()),
        },
        targets: r.forward.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::journal::{parse_line, Line};
    use crate::core::rebuild::callback_of_ref;

    fn request(seq: u64, stream: &str, forward: &[&str]) -> String {
        let body =
            format!(r#"{{"domain":"d","app":"a","stream":"{stream}","event":"record_started"}}"#);
        let forward = if forward.is_empty() {
            String::new()
        } else {
            format!(",\"forward\":{}", serde_json::to_string(forward).unwrap())
        };
        format!(
            r#"{{"seq":{seq},"received_at":"2026-12-01T10:00:00.000Z","remote":"203.0.113.7:1","method":"POST","path":"/cb?x=1","headers":{{"content-type":"application/json","ali-live-signature":"ab"}},"outcome":"accepted","status":200,"kind":"status"{forward},"body_bytes":{},"body":{body}}}"#,
            body.len()
        )
    }

    fn delivery(seq: u64, of: u64, target: &str, attempt: u32, result: &str) -> String {
        format!(
            r#"{{"seq":{seq},"received_at":"2026-12-01T10:00:01.000Z","delivery":{{"of":{of},"target":"{target}","mode":"async","attempt":{attempt},"result":"{result}","ms":1}}}}"#
        )
    }

    fn observe_all(lines: &[String]) -> Recovery {
        let mut r = Recovery::default();
        for l in lines {
            match parse_line(l).unwrap() {
                Line::Request(e) => {
                    let cb = callback_of_ref(&e);
                    r.observe(LineRef::Request(&e), cb.as_ref());
                }
                Line::Delivery(d) => r.observe(LineRef::Delivery(&d, l), None),
                Line::Verdict(v) => r.observe(LineRef::Verdict(&v, l), None),
                Line::Reconciled(x) => r.observe(LineRef::Reconciled(&x, l), None),
                Line::ReconcileRun(x) => r.observe(LineRef::ReconcileRun(&x, l), None),
                Line::Alert(x) => r.observe(LineRef::Alert(&x, l), None),
            }
        }
        r
    }

    #[test]
    fn what_has_no_final_line_is_owed_again_with_its_attempts() {
        let (a, b) = ("http://a/cb", "http://b/cb");
        let lines = vec![
            request(1, "s1", &[a, b]),
            delivery(2, 1, a, 1, "delivered"),
            request(3, "s1", &[a, b]),
            delivery(4, 1, b, 1, "retry"),
            delivery(5, 3, a, 1, "retry"),
            delivery(6, 3, a, 2, "retry"),
            request(7, "s2", &[]),
            request(8, "s2", &[a]),
            delivery(9, 8, a, 4, "failed"),
        ];
        let r = observe_all(&lines);
        assert_eq!(r.owed(), 2, "seq 1 (to b) and seq 3 (to a and b)");
        let (outbox, dropped) = r.into_outbox(&[a.to_string()]);
        let to_a: Vec<(u64, u32)> = outbox[a].iter().map(|(o, n)| (o.seq, *n)).collect();
        assert_eq!(
            to_a,
            [(3, 2)],
            "seq 3 with its two attempts; 1 delivered, 8 failed"
        );
        assert_eq!(
            dropped.get(b),
            Some(&2),
            "owed to b, which is not given now"
        );
        let owed = &outbox[a][0].0;
        assert_eq!(owed.request.path, "/cb?x=1");
        assert_eq!(owed.request.headers["ali-live-signature"], "ab");
        assert_eq!(owed.stream.stream, "s1");
        assert!(owed.request.body.starts_with(b"{\"domain\":\"d\""));
    }
}
