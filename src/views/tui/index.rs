//! The row index: which stream, recording and request each row of the three panels shows,
//! in what order, kept up to date incrementally so that a frame costs the same with ten
//! recordings or a million. New streams are labelled once, new recordings examined once
//! (a new filter re-examines them a budget per frame), the bounded request log re-filtered
//! only when it changed.

use super::filter::{seq_stream, FilterQuery, FilterTerms};
use super::source::{shown_state, Source};
use super::text::{clean, FIELD_MAX};
use crate::core::store::{Recording, Stream};
use crate::event::{Provider, RecordState};

/// Recordings the filter examines per frame: about 1 ms in a release build. A new filter
/// over a million rows is spread over about 500 frames, drawn back to back while it is
/// pending (under a second in all), so the store lock, which the sequencer needs to
/// apply callbacks, is never held for more than one chunk.
pub const FILTER_BUDGET: usize = 2_048;

/// The order of the streams panel (`s` cycles it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamSort {
    /// Recording first (started, resumed), then paused, then none; by name within a state.
    State,
    /// domain/app/stream.
    Name,
    /// Most recent event first.
    LastEvent,
}

impl StreamSort {
    /// The next order in the cycle.
    pub fn next(self) -> StreamSort {
        match self {
            StreamSort::State => StreamSort::Name,
            StreamSort::Name => StreamSort::LastEvent,
            StreamSort::LastEvent => StreamSort::State,
        }
    }

    /// Shown in the streams panel title.
    pub fn label(self) -> &'static str {
        match self {
            StreamSort::State => "state",
            StreamSort::Name => "name",
            StreamSort::LastEvent => "last event",
        }
    }
}

/// The recordings that match the filter, as indices into the recordings, kept up to date
/// incrementally: new recordings are examined once when they arrive, and the whole list is
/// rebuilt (a budget per frame) only when the filter text changes.
#[derive(Debug, Default)]
pub struct RecordingIndex {
    query: FilterQuery,
    matches: Vec<u32>,
    scanned: usize,
    /// Per stream, [`FilterQuery::recordings_of`].
    stream_match: Vec<Option<bool>>,
    every_recording: bool,
}

impl RecordingIndex {
    /// Starts over with a new filter.
    fn reset(&mut self, query: &FilterQuery) {
        self.query = query.clone();
        self.matches.clear();
        self.scanned = 0;
        self.stream_match.clear();
        self.every_recording = query.terms.matches_every_recording();
    }

    /// Examines up to `budget` recordings not examined yet; returns how many it examined.
    fn advance(&mut self, streams: &[Stream], recordings: &[Recording], budget: usize) -> usize {
        if self.query.is_all() {
            self.scanned = recordings.len();
            return 0;
        }
        if self.scanned > recordings.len() {
            // Only possible if the source shrank (a new store): start over.
            let query = std::mem::take(&mut self.query);
            self.reset(&query);
        }
        if let FilterTerms::Seq(n) = self.query.terms {
            // Recordings are in seq order: one binary search instead of a scan.
            let new = &recordings[self.scanned..];
            let i = new.partition_point(|r| r.seq < n);
            let of_provider = |r: &Recording| {
                streams
                    .get(r.stream as usize)
                    .is_some_and(|s| self.query.provider_matches(s.provider))
            };
            if new.get(i).is_some_and(|r| r.seq == n && of_provider(r)) {
                self.matches.push((self.scanned + i) as u32);
            }
            self.scanned = recordings.len();
            return 0;
        }
        for s in &streams[self.stream_match.len().min(streams.len())..] {
            self.stream_match.push(self.query.recordings_of(s));
        }
        let end = recordings.len().min(self.scanned.saturating_add(budget));
        let start = self.scanned;
        for (i, r) in recordings[start..end].iter().enumerate() {
            let stream = self.stream_match.get(r.stream as usize).copied();
            let Some(stream_hit) = stream.unwrap_or(Some(false)) else {
                continue;
            };
            if self
                .query
                .terms
                .matches_recording(r, stream_hit, self.every_recording)
            {
                self.matches.push((start + i) as u32);
            }
        }
        self.scanned = end;
        end - start
    }

    /// Number of rows the recordings panel has, given how many recordings the source holds.
    /// While a new filter is still being applied this counts the matches found so far.
    pub fn rows(&self, total: usize) -> usize {
        if self.query.is_all() {
            total
        } else {
            self.matches.len()
        }
    }

    /// The recording shown at row `row`.
    pub fn recording_at(&self, row: usize) -> Option<usize> {
        if self.query.is_all() {
            Some(row)
        } else {
            self.matches.get(row).map(|&i| i as usize)
        }
    }

    /// How many recordings remain to be examined for the current filter.
    pub fn pending(&self, total: usize) -> usize {
        total.saturating_sub(self.scanned)
    }
}

/// Streams whose recording failed sort first, then those that are recording.
fn state_rank(s: RecordState) -> u8 {
    match s {
        RecordState::Error => 0,
        RecordState::Started => 1,
        RecordState::Resumed => 2,
        RecordState::Paused => 3,
        RecordState::Ended => 4,
        RecordState::None => 5,
    }
}

/// The row lists of the three panels, derived from the source and the filter.
#[derive(Debug, Default)]
pub struct RowIndex {
    /// Sanitized (`domain/app/stream`, `app/stream`) per stream, made once per stream.
    stream_labels: Vec<String>,
    /// The providers of the streams labelled so far, in [`Provider::ALL`] order.
    providers_seen: [bool; Provider::ALL.len()],
    stream_order: Vec<u32>,
    query: FilterQuery,
    recordings: RecordingIndex,
    log_rows: Vec<usize>,
    log_key: Option<(u64, u64, usize, u64)>,
    filter_generation: u64,
}

impl RowIndex {
    /// Starts over with the filter `text`: the row lists are rebuilt by the next
    /// [`RowIndex::sync`].
    pub fn set_filter(&mut self, text: &str) {
        self.query = FilterQuery::parse(text);
        self.filter_generation += 1;
        self.recordings.reset(&self.query);
        self.log_key = None;
    }

    /// Brings the row lists up to date with the source; returns how many recordings the
    /// filter examined (at most [`FILTER_BUDGET`]).
    pub fn sync(&mut self, src: &Source, sort: StreamSort) -> usize {
        for s in &src.streams[self.stream_labels.len().min(src.streams.len())..] {
            let label = format!("{}/{}/{}", s.id.domain, s.id.app, s.id.stream);
            self.stream_labels.push(clean(&label, FIELD_MAX));
            self.providers_seen[s.provider.index()] = true;
        }

        let seq_stream = match self.query.terms {
            FilterTerms::Seq(n) => seq_stream(n, src.log, src.recordings),
            _ => None,
        };
        let query = &self.query;
        self.stream_order = (0..src.streams.len() as u32)
            .filter(|&i| {
                let s = &src.streams[i as usize];
                query.provider_matches(s.provider)
                    && (seq_stream == Some(i) || query.terms.matches_stream(s))
            })
            .collect();
        let streams = src.streams;
        let labels = &self.stream_labels;
        match sort {
            StreamSort::Name => self
                .stream_order
                .sort_by(|&a, &b| labels[a as usize].cmp(&labels[b as usize])),
            StreamSort::State => self.stream_order.sort_by(|&a, &b| {
                let rank = |i: u32| state_rank(shown_state(&streams[i as usize]).0);
                rank(a)
                    .cmp(&rank(b))
                    .then_with(|| labels[a as usize].cmp(&labels[b as usize]))
            }),
            StreamSort::LastEvent => self.stream_order.sort_by(|&a, &b| {
                streams[b as usize]
                    .last_event_at
                    .cmp(&streams[a as usize].last_event_at)
                    .then_with(|| labels[a as usize].cmp(&labels[b as usize]))
            }),
        }

        let examined = self
            .recordings
            .advance(src.streams, src.recordings, FILTER_BUDGET);

        let key = (
            src.log.front().map_or(0, |e| e.seq),
            src.log.back().map_or(0, |e| e.seq),
            src.log.len(),
            self.filter_generation,
        );
        if self.log_key != Some(key) {
            self.log_key = Some(key);
            self.log_rows = if self.query.is_all() {
                (0..src.log.len()).collect()
            } else {
                src.log
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| self.query.matches_request(e, src.streams, e.provider))
                    .map(|(i, _)| i)
                    .collect()
            };
        }
        examined
    }

    /// The providers of the streams seen, in [`Provider::ALL`] order.
    pub fn providers_seen(&self) -> impl Iterator<Item = Provider> + '_ {
        Provider::ALL
            .into_iter()
            .zip(self.providers_seen)
            .filter_map(|(p, seen)| seen.then_some(p))
    }

    /// Whether streams of more than one provider were seen.
    pub fn several_providers(&self) -> bool {
        self.providers_seen.iter().filter(|&&s| s).count() > 1
    }

    /// Sanitized `domain/app/stream` of stream `i`.
    pub fn stream_label(&self, i: usize) -> &str {
        self.stream_labels.get(i).map_or("?", String::as_str)
    }

    /// Stream indices in display order (filtered, sorted).
    pub fn stream_order(&self) -> &[u32] {
        &self.stream_order
    }

    /// Rows in the recordings panel, given how many recordings the source holds.
    pub fn recording_rows(&self, total: usize) -> usize {
        self.recordings.rows(total)
    }

    /// The recording (index into the source's recordings) at a row.
    pub fn recording_at(&self, row: usize) -> Option<usize> {
        self.recordings.recording_at(row)
    }

    /// Recordings the filter has still to examine, of `total`.
    pub fn pending(&self, total: usize) -> usize {
        self.recordings.pending(total)
    }

    /// The parsed filter.
    pub fn query(&self) -> &FilterQuery {
        &self.query
    }

    /// Positions in the source's log, in display order.
    pub fn log_rows(&self) -> &[usize] {
        &self.log_rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use chrono::DateTime;

    use crate::core::journal::JournalEntry;
    use crate::core::store::Store;
    use crate::event::Method;
    use crate::event::Outcome;
    use crate::providers::aliyun::classify;

    /// A store fed like the sequencer feeds it: (seq, outcome, body) per request.
    fn store(requests: &[(u64, Outcome, &str)]) -> Store {
        store_keeping(requests, 100)
    }

    /// Like [`store`], with a request log of `log_capacity`.
    fn store_keeping(requests: &[(u64, Outcome, &str)], log_capacity: usize) -> Store {
        let mut store = Store::new(log_capacity);
        for &(seq, outcome, body) in requests {
            let verdict = classify(Method::Post, None, body.as_bytes());
            let cb = verdict.as_ref().ok();
            let entry = JournalEntry {
                seq,
                received_at: DateTime::from_timestamp(1_700_000_000 + seq as i64, 0).unwrap(),
                remote: "127.0.0.1:1".into(),
                method: "POST".into(),
                path: "/recmon".into(),
                headers: Default::default(),
                outcome: if cb.is_some() {
                    outcome
                } else {
                    Outcome::Rejected
                },
                status: if cb.is_some() { 200 } else { 400 },
                provider: Default::default(),
                kind: cb.map(|c| c.kind().to_string()),
                forward: Vec::new(),
                error: verdict.as_ref().err().map(|r| r.error.clone()),
                body_bytes: body.len() as u64,
                body: None,
                body_text: None,
                body_base64: None,
                body_truncated: None,
                auth: None,
            };
            store.apply(&entry, cb, Arc::from(""));
        }
        store
    }

    const STARTED: &str =
        r#"{"domain":"d.example","app":"studio","stream":"cam-1","event":"record_started"}"#;
    const PAUSED: &str =
        r#"{"domain":"d.example","app":"studio","stream":"cam-2","event":"record_paused"}"#;
    const REC: &str = r#"{"domain":"d.example","app":"studio","stream":"cam-1","uri":"record/x/7_1.m3u8","duration":5,"start_time":1,"stop_time":6,"push_args":{"callback_show":"news"}}"#;

    fn sample() -> Store {
        store(&[
            (1, Outcome::Accepted, STARTED),
            (2, Outcome::Accepted, PAUSED),
            (3, Outcome::Rejected, "{broken"),
            (4, Outcome::Accepted, REC),
            (5, Outcome::Duplicate, PAUSED),
        ])
    }

    /// The seqs of the requests, the stream names and the recording uris a filter keeps.
    fn kept(store: &Store, filter: &str) -> (Vec<u64>, Vec<String>, Vec<String>) {
        let mut v = RowIndex::default();
        v.set_filter(filter);
        let src = Source::new(
            store,
            None,
            DateTime::from_timestamp(1_700_000_100, 0).unwrap(),
        );
        v.sync(&src, StreamSort::State);
        let requests = v.log_rows().iter().map(|&i| src.log[i].seq).collect();
        let mut streams: Vec<String> = v
            .stream_order()
            .iter()
            .map(|&i| src.streams[i as usize].id.stream.clone())
            .collect();
        streams.sort();
        let recordings = (0..v.recording_rows(src.recordings.len()))
            .filter_map(|row| v.recording_at(row))
            .map(|i| src.recordings[i].uri.to_string())
            .collect();
        (requests, streams, recordings)
    }

    #[test]
    fn filter_matches_outcome_in_the_request_log() {
        let s = sample();
        let (requests, streams, recordings) = kept(&s, "rejected");
        assert_eq!(requests, [3]);
        assert!(streams.is_empty() && recordings.is_empty());
        assert_eq!(kept(&s, "DUPLICATE").0, [5], "any case");
        // Every recording was accepted.
        let (requests, _, recordings) = kept(&s, "accepted");
        assert_eq!(requests, [1, 2, 4]);
        assert_eq!(recordings, ["record/x/7_1.m3u8"]);
    }

    #[test]
    fn filter_matches_event_state_and_kind() {
        let s = sample();
        let (requests, streams, recordings) = kept(&s, "record_paused");
        assert_eq!(requests, [2, 5]);
        assert_eq!(streams, ["cam-2"], "its last event");
        assert!(recordings.is_empty());
        assert_eq!(kept(&s, "paused").1, ["cam-2"], "its state");
        let (requests, streams, recordings) = kept(&s, "recording");
        assert_eq!(requests, [4], "the kind");
        assert_eq!(streams, ["cam-1"], "its last event");
        assert_eq!(recordings.len(), 1);
        assert_eq!(kept(&s, "status").0, [1, 2, 5]);
        // The reason a request was rejected.
        assert_eq!(kept(&s, "not valid JSON").0, [3]);
    }

    #[test]
    fn filter_still_matches_identity_uri_and_push_args() {
        let s = sample();
        let (requests, streams, recordings) = kept(&s, "CAM-1");
        assert_eq!(requests, [1, 4]);
        assert_eq!(streams, ["cam-1"]);
        assert_eq!(recordings.len(), 1);
        assert_eq!(kept(&s, "news").2.len(), 1);
        assert_eq!(kept(&s, "7_1.m3u8").0, [4]);
        let (requests, streams, recordings) = kept(&s, "nothing-like-this");
        assert!(requests.is_empty() && streams.is_empty() && recordings.is_empty());
    }

    #[test]
    fn seq_filter_is_exact_and_shows_the_request_its_recording_and_stream() {
        let s = sample();
        let (requests, streams, recordings) = kept(&s, "#4");
        assert_eq!(requests, [4]);
        assert_eq!(streams, ["cam-1"]);
        assert_eq!(recordings, ["record/x/7_1.m3u8"]);
        // #2 is a status event: no recording; not #20-something, not seq 12.
        let (requests, streams, recordings) = kept(&s, "#2");
        assert_eq!(requests, [2]);
        assert_eq!(streams, ["cam-2"]);
        assert!(recordings.is_empty());
        // A rejected request has no stream.
        assert_eq!(kept(&s, "#3"), (vec![3], vec![], vec![]));
        assert_eq!(kept(&s, "#99"), (vec![], vec![], vec![]));
    }

    /// A store of several providers' requests, each journaled with its provider (the line
    /// written as the journal writes it): (provider, method, query, body) per request.
    fn mixed_store(requests: &[(Provider, Method, Option<&str>, &str)]) -> Store {
        let mut store = Store::new(100);
        for (i, &(provider, method, query, body)) in requests.iter().enumerate() {
            let (verdict, _) = crate::providers::classify(provider, method, query, body.as_bytes());
            let cb = verdict.as_ref().ok();
            let entry = JournalEntry {
                seq: i as u64 + 1,
                received_at: DateTime::from_timestamp(1_700_000_000 + i as i64, 0).unwrap(),
                remote: "127.0.0.1:1".into(),
                method: if method == Method::Get { "GET" } else { "POST" }.into(),
                path: "/cb".into(),
                headers: Default::default(),
                outcome: if cb.is_some() {
                    Outcome::Accepted
                } else {
                    Outcome::Rejected
                },
                status: 200,
                provider,
                kind: cb.map(|c| c.kind().to_string()),
                forward: Vec::new(),
                error: verdict.as_ref().err().map(|r| r.error.clone()),
                body_bytes: body.len() as u64,
                body: None,
                body_text: Some(body.to_string()),
                body_base64: None,
                body_truncated: None,
                auth: None,
            };
            let line = serde_json::to_string(&entry).unwrap();
            store.apply(&entry, cb, Arc::from(line.as_str()));
        }
        store
    }

    #[test]
    fn a_provider_filter_keeps_its_streams_their_recordings_and_its_requests_even_without_a_stream()
    {
        let s = mixed_store(&[
            (Provider::Aliyun, Method::Post, None, STARTED),
            (
                Provider::Srs,
                Method::Post,
                None,
                r#"{"action":"on_publish","vhost":"v","app":"live","stream":"hall"}"#,
            ),
            (
                Provider::Srs,
                Method::Post,
                None,
                r#"{"action":"on_dvr","vhost":"v","app":"live","stream":"hall","file":"hall.flv"}"#,
            ),
            // Recognised as SRS's and refused: no stream, but SRS's all the same.
            (Provider::Srs, Method::Post, None, r#"{"action":"on_play"}"#),
            (Provider::Aliyun, Method::Post, None, REC),
        ]);
        assert_eq!(s.log()[3].stream, None);
        let (requests, streams, recordings) = kept(&s, "provider:srs");
        assert_eq!(requests, [2, 3, 4]);
        assert_eq!(streams, ["hall"]);
        assert_eq!(recordings, ["hall.flv"]);
        let (requests, streams, recordings) = kept(&s, "provider:ali");
        assert_eq!(requests, [1, 5]);
        assert_eq!(streams, ["cam-1"]);
        assert_eq!(recordings, ["record/x/7_1.m3u8"]);
        // With text or a seq: both must match.
        assert_eq!(kept(&s, "provider:srs rejected").0, [4]);
        assert_eq!(kept(&s, "provider:srs #3").2, ["hall.flv"]);
        assert_eq!(kept(&s, "provider:ali #3"), (vec![], vec![], vec![]));
        assert_eq!(kept(&s, "provider:tencent"), (vec![], vec![], vec![]));
    }

    #[test]
    fn seq_filter_finds_a_recording_the_bounded_log_has_dropped() {
        let s = store_keeping(
            &[(1, Outcome::Accepted, REC), (2, Outcome::Accepted, STARTED)],
            1,
        );
        assert_eq!(s.log().len(), 1);
        let (requests, streams, recordings) = kept(&s, "#1");
        assert!(requests.is_empty(), "the log no longer has it");
        assert_eq!(streams, ["cam-1"]);
        assert_eq!(recordings.len(), 1);
    }
}
