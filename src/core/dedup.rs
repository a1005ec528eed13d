//! Duplicates: the provider retries a callback up to 5 times when it gets no timely 2xx, so a
//! repeat is normal and must not be counted twice.
//!
//! [`Deduper::sequence`] is the one pure "sequence one request" step: given what the
//! classifier made of a request and when it arrived, it decides accepted, duplicate or
//! rejected, and the status to answer. The sequencer, the attach merge, the tests and the
//! benchmark all call it; a rebuild trusts the journal's recorded outcomes instead
//! ([`Deduper::observe_accepted`]).

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use chrono::{DateTime, Utc};

use crate::event::{Callback, IngestAction, Outcome, Provider, Rejection, StreamId};

/// How long a repeated status or ingest event counts as a provider retry.
pub const DUPLICATE_WINDOW_SECS: i64 = 30;

/// What sequencing one request decided.
#[derive(Debug)]
pub struct Decision {
    /// Accepted, duplicate or rejected.
    pub outcome: Outcome,
    /// The HTTP status to answer: 200 for a callback (accepted or duplicate), the
    /// rejection's status otherwise.
    pub status: u16,
    /// The rejection's message, journaled and sent as `{"error": ...}`.
    pub error: Option<String>,
    /// How to take an accepted decision back if its journal write fails.
    pub undo: Option<Undo>,
}

/// Decides whether a callback is a provider retry. Owned by the sequencer, which consults it
/// in commit order; if a batch cannot be journaled its decisions are undone, so a retry of a
/// request that got 503 is accepted, not taken for a duplicate.
#[derive(Debug, Default)]
pub struct Deduper {
    recordings: HashSet<u128, BuildHasherDefault<KeyHasher>>,
    /// Two independent random SipHash keys per process: together a 128-bit key that nobody
    /// outside the process can aim a collision at (the set is rebuilt on resume anyway).
    key_hashers: (RandomState, RandomState),
    last_status: HashMap<StreamId, Last<String>>,
    last_ingest: HashMap<StreamId, Last<IngestAction>>,
}

/// A stream's last status or ingest event: what, when it arrived, and when the provider says
/// it happened, where it says so (Tencent's `event_time`: Tencent retries a minute apart for
/// twelve minutes, far outside the window, and a repeat with the same event time is its
/// retry however late it comes).
type Last<T> = (T, DateTime<Utc>, Option<i64>);

/// What to restore if a decision has to be taken back.
#[derive(Debug)]
pub enum Undo {
    /// Forget a recording key.
    Recording(u128),
    /// Restore the previous last status event.
    Status(StreamId, Option<Last<String>>),
    /// Restore the previous last ingest event.
    Ingest(StreamId, Option<Last<IngestAction>>),
}

/// Whether a provider re-sends a callback it got no timely 2xx for. nginx-rtmp and SRS never
/// do: each of their file callbacks is a file, even one that reuses the previous one's path
/// (nginx-rtmp's `record_unique off`, an SRS `dvr_path` without a timestamp).
fn retries(provider: Provider) -> bool {
    !matches!(provider, Provider::NginxRtmp | Provider::Srs)
}

/// File and segment callbacks of a provider that never retries: never a duplicate.
fn never_repeated(provider: Provider, cb: &Callback) -> bool {
    !retries(provider) && matches!(cb, Callback::Recording(_) | Callback::Segment(_))
}

impl Deduper {
    /// [`Deduper::decide`] for `provider`'s callback.
    pub fn decide_from(
        &mut self,
        provider: Provider,
        cb: &Callback,
        at: DateTime<Utc>,
    ) -> (Outcome, Option<Undo>) {
        if never_repeated(provider, cb) {
            return (Outcome::Accepted, None);
        }
        self.decide(cb, at)
    }

    /// [`Deduper::observe_accepted`] for `provider`'s callback.
    pub fn observe_accepted_from(&mut self, provider: Provider, cb: &Callback, at: DateTime<Utc>) {
        if !never_repeated(provider, cb) {
            self.observe_accepted(cb, at);
        }
    }

    /// Accepted or duplicate, remembering accepted ones. Returns how to undo it.
    pub fn decide(&mut self, cb: &Callback, at: DateTime<Utc>) -> (Outcome, Option<Undo>) {
        let within = |prev: DateTime<Utc>| (at - prev).num_seconds().abs() < DUPLICATE_WINDOW_SECS;
        // With the provider's own event times on both, they decide; else the window does.
        let repeat = |prev_at: DateTime<Utc>, prev_time: Option<i64>, time: Option<i64>| match (
            prev_time, time,
        ) {
            (Some(a), Some(b)) => a == b,
            _ => within(prev_at),
        };
        match cb {
            Callback::Recording(r) => {
                let key = self.recording_key(&r.id, &r.uri);
                if self.recordings.insert(key) {
                    (Outcome::Accepted, Some(Undo::Recording(key)))
                } else {
                    (Outcome::Duplicate, None)
                }
            }
            Callback::Status(s) => {
                let prev = self.last_status.get(&s.id);
                if prev.is_some_and(|(ev, t, time)| *ev == s.event && repeat(*t, *time, s.time)) {
                    return (Outcome::Duplicate, None);
                }
                let prev = self
                    .last_status
                    .insert(s.id.clone(), (s.event.clone(), at, s.time));
                (Outcome::Accepted, Some(Undo::Status(s.id.clone(), prev)))
            }
            Callback::Ingest(i) => {
                let prev = self.last_ingest.get(&i.id);
                if prev.is_some_and(|(a, t, time)| *a == i.action && repeat(*t, *time, i.time)) {
                    return (Outcome::Duplicate, None);
                }
                let prev = self
                    .last_ingest
                    .insert(i.id.clone(), (i.action, at, i.time));
                (Outcome::Accepted, Some(Undo::Ingest(i.id.clone(), prev)))
            }
            // One HLS segment file is written once: a repeat is a retry.
            Callback::Segment(s) => {
                let key = self.recording_key(&s.id, &s.file);
                if self.recordings.insert(key) {
                    (Outcome::Accepted, Some(Undo::Recording(key)))
                } else {
                    (Outcome::Duplicate, None)
                }
            }
            // Each play is another viewer, and notices change nothing: none is a duplicate
            // (nginx-rtmp and SRS never retry).
            Callback::Play(_) | Callback::Notice(_) => (Outcome::Accepted, None),
        }
    }

    /// Takes a decision back (newest first).
    pub fn undo(&mut self, undo: Undo) {
        match undo {
            Undo::Recording(k) => {
                self.recordings.remove(&k);
            }
            Undo::Status(id, prev) => match prev {
                Some(p) => {
                    self.last_status.insert(id, p);
                }
                None => {
                    self.last_status.remove(&id);
                }
            },
            Undo::Ingest(id, prev) => match prev {
                Some(p) => {
                    self.last_ingest.insert(id, p);
                }
                None => {
                    self.last_ingest.remove(&id);
                }
            },
        }
    }

    /// Remembers a callback that a journal says was accepted (used when rebuilding).
    pub fn observe_accepted(&mut self, cb: &Callback, at: DateTime<Utc>) {
        match cb {
            Callback::Recording(r) => {
                let key = self.recording_key(&r.id, &r.uri);
                self.recordings.insert(key);
            }
            // In place when the stream is known (almost always, over a long journal): no
            // key or event string is allocated again.
            Callback::Status(s) => match self.last_status.get_mut(&s.id) {
                Some((event, t, time)) => {
                    event.clone_from(&s.event);
                    *t = at;
                    *time = s.time;
                }
                None => {
                    self.last_status
                        .insert(s.id.clone(), (s.event.clone(), at, s.time));
                }
            },
            Callback::Ingest(i) => match self.last_ingest.get_mut(&i.id) {
                Some(last) => *last = (i.action, at, i.time),
                None => {
                    self.last_ingest
                        .insert(i.id.clone(), (i.action, at, i.time));
                }
            },
            Callback::Segment(s) => {
                let key = self.recording_key(&s.id, &s.file);
                self.recordings.insert(key);
            }
            Callback::Play(_) | Callback::Notice(_) => {}
        }
    }
}

impl Deduper {
    /// A 128-bit key for (domain, app, stream, uri): 16 bytes per recording instead of four
    /// strings. Fields are length-prefixed so that no two different tuples hash the same
    /// input. Two keyed SipHashes instead of md5: a third of the cost (it showed as 6.6% of a
    /// resume), and random keys where md5 is open to chosen collisions.
    fn recording_key(&self, id: &StreamId, uri: &str) -> u128 {
        let half = |state: &RandomState| {
            let mut h = state.build_hasher();
            for part in [&id.domain, &id.app, &id.stream, uri] {
                h.write_usize(part.len());
                h.write(part.as_bytes());
            }
            h.finish()
        };
        ((half(&self.key_hashers.0) as u128) << 64) | half(&self.key_hashers.1) as u128
    }
}

/// Hashes the recording keys, which are already uniformly random 128-bit values, by taking
/// their low 64 bits: hashing them again with SipHash was a further 4% of a resume.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u128 keys are hashed with this hasher; keep a correct fallback anyway.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

impl Deduper {
    /// Sequences one request: a callback is accepted or a duplicate (and remembered), a
    /// rejection stays rejected with its status.
    pub fn sequence(
        &mut self,
        verdict: &Result<Callback, Rejection>,
        at: DateTime<Utc>,
    ) -> Decision {
        self.sequence_from(Provider::default(), verdict, at)
    }

    /// [`Deduper::sequence`] for `provider`'s request.
    pub fn sequence_from(
        &mut self,
        provider: Provider,
        verdict: &Result<Callback, Rejection>,
        at: DateTime<Utc>,
    ) -> Decision {
        match verdict {
            Ok(cb) => {
                let (outcome, undo) = self.decide_from(provider, cb, at);
                Decision {
                    outcome,
                    status: 200,
                    error: None,
                    undo,
                }
            }
            Err(r) => Decision {
                outcome: Outcome::Rejected,
                status: r.status,
                error: Some(r.error.clone()),
                undo: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Method;
    use crate::providers::{classify, Provider};

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn tencent(body: &str) -> Result<Callback, Rejection> {
        classify(Provider::Tencent, Method::Post, None, body.as_bytes()).0
    }

    #[test]
    fn a_tencent_retry_a_minute_later_is_a_duplicate_by_its_event_time() {
        let push = |time: i64| {
            tencent(&format!(
                r#"{{"event_type":1,"app":"d","appname":"live","stream_id":"s","event_time":{time}}}"#
            ))
        };
        let paused = |time: i64| {
            tencent(&format!(
                r#"{{"event_type":332,"domain":"d","appname":"live","stream_id":"s","record_event":"record_paused","event_time":{time}}}"#
            ))
        };
        let mut d = Deduper::default();
        assert_eq!(d.sequence(&push(100), at(0)).outcome, Outcome::Accepted);
        // Tencent's retries: a minute apart, twelve times.
        for k in 1..=12 {
            assert_eq!(
                d.sequence(&push(100), at(60 * k)).outcome,
                Outcome::Duplicate
            );
        }
        assert_eq!(d.sequence(&paused(200), at(800)).outcome, Outcome::Accepted);
        assert_eq!(
            d.sequence(&paused(200), at(860)).outcome,
            Outcome::Duplicate
        );
        // Another push of the stream (another event time) is a new one.
        assert_eq!(d.sequence(&push(900), at(900)).outcome, Outcome::Accepted);
        // A decision taken back forgets the time with the event.
        let mut d = Deduper::default();
        let (o, undo) = d.decide(&push(100).unwrap(), at(0));
        assert_eq!(o, Outcome::Accepted);
        d.undo(undo.unwrap());
        assert_eq!(d.sequence(&push(100), at(60)).outcome, Outcome::Accepted);
    }
}
