//! `recmon export`, and [`export_session`] for the terminal UI's `e` key.
//!
//! Every export reads the journal once through [`pipeline::for_each_entry`] (the one reader).
//! Events are written as they are read; recordings and streams come from a [`Store`] rebuilt
//! from the entries, trusting each entry's recorded outcome, so provider retries are excluded
//! exactly as they were live.
//!
//! CSV text cells go through [`csv_cell`] so that no spreadsheet runs them as formulas;
//! numeric cells are written as plain numbers and never pass through it, so negative numbers
//! stay numbers.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cli::{ExportArgs, ExportFormat, ExportWhat};
use crate::core::journal::{format_time, EntryRef, JournalEntry};
use crate::core::outbox::DeliveryLine;
use crate::core::rebuild::{callback_of_ref, for_each_line, LineRef, Rebuilt};
use crate::core::store::{Recording, Request, Store, Stream};
use crate::error::AppError;
use crate::event::{Callback, Provider, StreamId};
use crate::util::human;
use crate::util::progress::{eprint_line, journal_bar};
use crate::util::sanitize::csv_cell;

/// Problem lines printed one by one before the rest are only counted.
const PROBLEMS_SHOWN: usize = 20;

/// An export that could not be written, with what to do about it.
#[derive(Debug)]
pub struct ExportError {
    message: String,
    /// The output was closed by its reader (`recmon export ... | head`): not a failure.
    broken_pipe: bool,
}

impl ExportError {
    fn new(message: impl Into<String>) -> Self {
        ExportError {
            message: message.into(),
            broken_pipe: false,
        }
    }
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExportError {}

impl From<ExportError> for AppError {
    fn from(e: ExportError) -> Self {
        AppError::new(1, e.message)
    }
}

/// Parses a time given on the command line: RFC 3339 (`2026-11-27T17:54:13Z`) or Unix
/// seconds (`1764265953`, fractions allowed).
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        let ms = (secs * 1000.0).round();
        if ms.is_finite() && ms.abs() < 1e17 {
            if let Some(t) = DateTime::from_timestamp_millis(ms as i64) {
                return Ok(t);
            }
        }
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!(
                "{s:?} is not a time; expected RFC 3339 (e.g. 2026-11-27T17:54:13Z) or Unix seconds (e.g. 1764265953)"
            )
        })
}

/// Which entries and streams an export covers.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Keep streams whose `domain/app/stream` contains this text.
    pub stream: Option<String>,
    /// Keep requests received at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Keep requests received before this time.
    pub until: Option<DateTime<Utc>>,
    /// Keep one provider's requests, streams and recordings.
    pub provider: Option<Provider>,
}

impl Filter {
    fn admits_time(&self, t: DateTime<Utc>) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }

    fn admits_provider(&self, p: Provider) -> bool {
        self.provider.is_none_or(|want| want == p)
    }

    fn admits_stream(&self, id: Option<&StreamId>) -> bool {
        match (&self.stream, id) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(text), Some(id)) => {
                format!("{}/{}/{}", id.domain, id.app, id.stream).contains(text.as_str())
            }
        }
    }
}

/// What an export wrote.
#[derive(Debug, Default)]
pub struct ExportCount {
    /// Journal entries read.
    pub entries: u64,
    /// Rows (or lines) written.
    pub rows: u64,
    /// Garbled or partial journal lines that were skipped, described.
    pub problems: Vec<String>,
}

/// Writes `what` from `journal` in `format` to `out`. Blocking. A progress bar is drawn on
/// stderr when it is a terminal; damaged journal lines are reported there and skipped.
pub fn export_to(
    journal: &Path,
    format: ExportFormat,
    what: ExportWhat,
    filter: &Filter,
    out: &mut dyn Write,
) -> Result<ExportCount, ExportError> {
    let (rows, read) = if what == ExportWhat::Deliveries {
        write_deliveries(journal, filter, format, &mut *out)?
    } else if what == ExportWhat::Events {
        let mut sink = EventSink::new(format, &mut *out);
        let (_, read) = read_pass(journal, filter, Some(&mut sink), false)?;
        (sink.finish()?, read)
    } else {
        let (store, read) = read_pass(journal, filter, None, true)?;
        let store = store.unwrap_or_default();
        let rows = if what == ExportWhat::Recordings {
            write_recordings(&store, filter, format, out)?
        } else {
            write_streams(&store, filter, format, out)?
        };
        (rows, read)
    };
    out.flush().map_err(write_error)?;
    Ok(ExportCount {
        entries: read.entries,
        rows,
        problems: read.problems,
    })
}

/// `--what deliveries`: the delivery lines (forwarding attempts) received in the time filter, as
/// JSON lines (the journal's lines byte for byte), a JSON array, or CSV. The backend's status
/// text and answer are untrusted: CSV cells go through [`csv_cell`] like every text cell.
fn write_deliveries(
    journal: &Path,
    filter: &Filter,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<(u64, Rebuilt), ExportError> {
    let mut kept: Vec<(DeliveryLine, String)> = Vec::new();
    let read = for_each_line(
        journal,
        |line| {
            if let LineRef::Delivery(d, text) = line {
                if filter.admits_time(d.received_at) {
                    kept.push((d.clone(), text.to_string()));
                }
            }
            ControlFlow::Continue(())
        },
        |_| {},
    )
    .map_err(|e| {
        ExportError::new(format!(
            "cannot read the journal {}: {e}",
            journal.display()
        ))
    })?;
    match format {
        ExportFormat::Jsonl => {
            for (_, text) in &kept {
                out.write_all(text.as_bytes()).map_err(write_error)?;
                out.write_all(b"\n").map_err(write_error)?;
            }
        }
        ExportFormat::Json => {
            let all: Vec<&DeliveryLine> = kept.iter().map(|(d, _)| d).collect();
            serde_json::to_writer_pretty(&mut *out, &all)
                .map_err(|e| write_error(io::Error::other(e)))?;
            out.write_all(b"\n").map_err(write_error)?;
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record([
                "seq",
                "received_at",
                "of",
                "target",
                "mode",
                "attempt",
                "result",
                "status",
                "ms",
                "error",
                "reply",
                "retry_in_s",
                "answered",
            ])
            .map_err(csv_error)?;
            for (l, _) in &kept {
                let d = &l.delivery;
                w.write_record([
                    l.seq.to_string(),
                    format_time(l.received_at),
                    d.of.to_string(),
                    csv_cell(&d.target).into_owned(),
                    d.mode.as_str().to_string(),
                    d.attempt.to_string(),
                    d.result.as_str().to_string(),
                    opt_num(d.status),
                    d.ms.to_string(),
                    csv_cell(d.error.as_deref().unwrap_or("")).into_owned(),
                    csv_cell(d.reply.as_deref().unwrap_or("")).into_owned(),
                    opt_num(d.retry_in_s),
                    opt_num(d.answered),
                ])
                .map_err(csv_error)?;
            }
            w.flush().map_err(write_error)?;
        }
    }
    Ok((kept.len() as u64, read))
}

/// One read of the journal: admitted events go to `events`; with `want_store`, admitted
/// entries also rebuild a store (for recordings and streams).
fn read_pass(
    journal: &Path,
    filter: &Filter,
    mut events: Option<&mut EventSink<'_>>,
    want_store: bool,
) -> Result<(Option<Store>, Rebuilt), ExportError> {
    let size = std::fs::metadata(journal).map(|m| m.len()).map_err(|e| {
        ExportError::new(format!(
            "cannot read the journal {}: {e}. Expected the path of a recmon journal (recmon-*.jsonl)",
            journal.display()
        ))
    })?;
    let bar = journal_bar(size, "export");
    // The store is only read for its recordings and streams: its request log is not filled.
    let mut store = want_store.then(|| Store::new(1));
    let mut failed: Option<ExportError> = None;
    // JSON lines and JSON events need no classification unless a stream filter asks for it.
    let classify = store.is_some()
        || filter.stream.is_some()
        || events.as_deref().is_some_and(EventSink::needs_callback);
    let read = for_each_line(
        journal,
        |line| {
            // The lines written back: a file's verdict, a callback filled in from the
            // provider's records; only the store (recordings, streams) has a use for them.
            let entry = match line {
                LineRef::Request(e) => e,
                LineRef::Verdict(v, _) => {
                    if let Some(store) = store.as_mut() {
                        store.apply_verdict(v);
                    }
                    return ControlFlow::Continue(());
                }
                LineRef::Reconciled(r, _) => {
                    let x = &r.reconciled;
                    if let (Some(store), true) = (
                        store.as_mut(),
                        filter.admits_time(x.sent_at) && filter.admits_provider(x.provider),
                    ) {
                        if let Some(cb) = x.callback() {
                            store.apply_reconciled(r, &cb);
                        }
                    }
                    return ControlFlow::Continue(());
                }
                LineRef::Delivery(..) | LineRef::ReconcileRun(..) | LineRef::Alert(..) => {
                    return ControlFlow::Continue(())
                }
            };
            if !filter.admits_time(entry.received_at) || !filter.admits_provider(entry.provider) {
                return ControlFlow::Continue(());
            }
            let cb = if classify {
                callback_of_ref(entry)
            } else {
                None
            };
            if let Some(store) = store.as_mut() {
                store.apply_state(&Request::from(entry), cb.as_ref());
            }
            if let Some(sink) = events.as_deref_mut() {
                // A refused request still names the stream it could be read to name.
                let named = match (&cb, entry.outcome) {
                    (None, crate::event::Outcome::Rejected) if classify => {
                        crate::providers::readable_stream(
                            entry.provider,
                            crate::event::Method::from_name(&entry.method),
                            entry.query(),
                            &entry.body_raw(),
                        )
                    }
                    _ => None,
                };
                let id = cb.as_ref().and_then(Callback::stream_id).or(named.as_ref());
                if filter.admits_stream(id) {
                    if let Err(e) = sink.write(entry, cb.as_ref(), id) {
                        failed = Some(e);
                        return ControlFlow::Break(());
                    }
                }
            }
            ControlFlow::Continue(())
        },
        |offset| bar.set_position(offset),
    )
    .map_err(|e| {
        ExportError::new(format!(
            "cannot read the journal {}: {e}",
            journal.display()
        ))
    })?;
    bar.finish_and_clear();
    if let Some(e) = failed {
        return Err(e);
    }
    for p in read.problems.iter().take(PROBLEMS_SHOWN) {
        eprint_line(&bar, &format!("recmon export: {}: {p}", journal.display()));
    }
    if read.problems.len() > PROBLEMS_SHOWN {
        eprint_line(
            &bar,
            &format!(
                "recmon export: … and {}",
                human::count(
                    (read.problems.len() - PROBLEMS_SHOWN) as u64,
                    "more damaged line",
                    "more damaged lines"
                )
            ),
        );
    }
    Ok((store, read))
}

fn write_error(e: io::Error) -> ExportError {
    ExportError {
        broken_pipe: e.kind() == io::ErrorKind::BrokenPipe,
        message: format!("cannot write the export: {e}"),
    }
}

fn csv_error(e: csv::Error) -> ExportError {
    // Display, not Debug: the message a person reads, without the csv crate's type names.
    let message = format!("cannot write the CSV export: {e}");
    match e.into_kind() {
        csv::ErrorKind::Io(io) => write_error(io),
        _ => ExportError::new(message),
    }
}

/// Unix seconds with milliseconds, as a plain number.
fn unix_ms(t: DateTime<Utc>) -> String {
    format!("{:.3}", t.timestamp_millis() as f64 / 1000.0)
}

fn opt_num<T: ToString>(x: Option<T>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

fn seconds_ms(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.3}")).unwrap_or_default()
}

fn unix_to_rfc3339(secs: Option<i64>) -> Option<String> {
    secs.and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Column names of the events CSV (documented in docs/tools.md, "CSV").
pub const EVENT_COLUMNS: [&str; 16] = [
    "seq",
    "received_at",
    "received_at_unix",
    "remote",
    "method",
    "path",
    "outcome",
    "status",
    "kind",
    "domain",
    "app",
    "stream",
    "event",
    "error",
    "body_bytes",
    "body",
];

/// Column names of the recordings CSV (documented in docs/tools.md, "CSV").
pub const RECORDING_COLUMNS: [&str; 22] = [
    "seq",
    "received_at",
    "received_at_unix",
    "domain",
    "app",
    "stream",
    "uri",
    "format",
    "duration_s",
    "start_time",
    "start_time_unix",
    "stop_time",
    "stop_time_unix",
    "span_s",
    "duration_mismatch",
    "push_args",
    "provider",
    "file_size",
    "times_derived",
    "file_verdict",
    "measured_s",
    "reconciled",
];

/// Column names of the streams CSV (documented in docs/tools.md, "CSV").
pub const STREAM_COLUMNS: [&str; 19] = [
    "domain",
    "app",
    "stream",
    "state",
    "state_since",
    "state_since_unix",
    "ingest",
    "recordings",
    "total_duration_s",
    "pauses",
    "last_event",
    "last_event_at",
    "last_event_at_unix",
    "last_recording_uri",
    "provider",
    "viewers",
    "hls_segments",
    "errors",
    "last_error",
];

enum EventSink<'a> {
    Jsonl(&'a mut dyn Write, u64),
    Json(&'a mut dyn Write, Vec<JournalEntry>),
    Csv(Box<csv::Writer<&'a mut dyn Write>>, u64),
}

impl<'a> EventSink<'a> {
    fn new(format: ExportFormat, out: &'a mut dyn Write) -> Self {
        match format {
            ExportFormat::Jsonl => EventSink::Jsonl(out, 0),
            ExportFormat::Json => EventSink::Json(out, Vec::new()),
            ExportFormat::Csv => {
                let mut w = csv::Writer::from_writer(out);
                // Written eagerly so that an export with no rows still has its header.
                let _ = w.write_record(EVENT_COLUMNS);
                EventSink::Csv(Box::new(w), 0)
            }
        }
    }

    /// Whether rows need the classified callback (the CSV's domain, app, stream, event).
    fn needs_callback(&self) -> bool {
        matches!(self, EventSink::Csv(..))
    }

    /// `id`: the stream the row names (the callback's, or what a refused request could be read
    /// to name, see [`crate::providers::readable_stream`]).
    fn write(
        &mut self,
        entry: &EntryRef,
        cb: Option<&Callback>,
        id: Option<&StreamId>,
    ) -> Result<(), ExportError> {
        match self {
            EventSink::Jsonl(out, n) => {
                // The journal line itself: a filtered export is a valid journal.
                out.write_all(entry.line.as_bytes())
                    .and_then(|_| out.write_all(b"\n"))
                    .map_err(write_error)?;
                *n += 1;
            }
            EventSink::Json(_, all) => all.push(entry.to_entry()),
            EventSink::Csv(w, n) => {
                let event = cb.map_or("", Callback::summary);
                let body = entry.body_raw();
                let body = String::from_utf8_lossy(&body);
                let received_at = format_time(entry.received_at);
                let record: [Cow<str>; 16] = [
                    entry.seq.to_string().into(),
                    csv_cell(&received_at),
                    unix_ms(entry.received_at).into(),
                    csv_cell(&entry.remote),
                    csv_cell(&entry.method),
                    csv_cell(&entry.path),
                    csv_cell(entry.outcome.as_str()),
                    entry.status.to_string().into(),
                    csv_cell(entry.kind.as_deref().unwrap_or("")),
                    csv_cell(id.map_or("", |i| &i.domain)),
                    csv_cell(id.map_or("", |i| &i.app)),
                    csv_cell(id.map_or("", |i| &i.stream)),
                    csv_cell(event),
                    csv_cell(entry.error.as_deref().unwrap_or("")),
                    entry.body_bytes.to_string().into(),
                    csv_cell(&body),
                ];
                w.write_record(record.iter().map(|c| c.as_bytes()))
                    .map_err(csv_error)?;
                *n += 1;
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<u64, ExportError> {
        match self {
            EventSink::Jsonl(out, n) => {
                out.flush().map_err(write_error)?;
                Ok(n)
            }
            EventSink::Json(out, all) => {
                serde_json::to_writer_pretty(&mut *out, &all).map_err(|e| write_error(e.into()))?;
                out.write_all(b"\n").map_err(write_error)?;
                Ok(all.len() as u64)
            }
            EventSink::Csv(mut w, n) => {
                w.flush().map_err(write_error)?;
                Ok(n)
            }
        }
    }
}

/// One recording, as exported to JSON and JSON lines (CSV has the same columns as text).
#[derive(Debug, Clone, Serialize)]
pub struct RecordingRow {
    /// Journal seq of the generation callback.
    pub seq: u64,
    /// When the callback arrived, RFC 3339 UTC.
    pub received_at: String,
    /// The same, Unix seconds with milliseconds.
    pub received_at_unix: f64,
    /// Streaming domain.
    pub domain: String,
    /// Application name.
    pub app: String,
    /// Stream name.
    pub stream: String,
    /// Object path in the OSS bucket.
    pub uri: String,
    /// The uri's extension (flv, m3u8, mp4, cmaf...), empty when it has none.
    pub format: String,
    /// Reported duration, seconds.
    pub duration_s: Option<f64>,
    /// start_time as RFC 3339 UTC.
    pub start_time: Option<String>,
    /// start_time as reported, Unix seconds.
    pub start_time_unix: Option<i64>,
    /// stop_time as RFC 3339 UTC.
    pub stop_time: Option<String>,
    /// stop_time as reported, Unix seconds.
    pub stop_time_unix: Option<i64>,
    /// stop_time - start_time, seconds.
    pub span_s: Option<i64>,
    /// duration differs from the span by more than 1 s.
    pub duration_mismatch: bool,
    /// The `callback_*` ingest parameters.
    pub push_args: serde_json::Value,
    /// Whose callback reported it.
    pub provider: &'static str,
    /// Size in bytes, where the provider reports it.
    pub file_size: Option<u64>,
    /// The provider sent no duration or times; they were derived from arrival times.
    pub times_derived: bool,
    /// The file's verdict (`--verify`): `ok`, `short`, `missing`, `unchecked: 403`…; `None`
    /// when it was not checked.
    pub file_verdict: Option<String>,
    /// The duration measured from the file, seconds.
    pub measured_s: Option<f64>,
    /// Never received: filled in from the provider's records (`recmon reconcile`).
    pub reconciled: bool,
}

impl RecordingRow {
    fn new(r: &Recording, s: &Stream, store: &Store) -> Self {
        let format = uri_format(&r.uri).to_string();
        let check = store.checks().of(r.seq);
        RecordingRow {
            seq: r.seq,
            received_at: format_time(r.received_at),
            received_at_unix: r.received_at.timestamp_millis() as f64 / 1000.0,
            domain: s.id.domain.clone(),
            app: s.id.app.clone(),
            stream: s.id.stream.clone(),
            uri: r.uri.to_string(),
            format,
            duration_s: r.duration,
            start_time: unix_to_rfc3339(r.start_time),
            start_time_unix: r.start_time,
            stop_time: unix_to_rfc3339(r.stop_time),
            stop_time_unix: r.stop_time,
            span_s: r.span_s(),
            duration_mismatch: r.mismatch,
            push_args: serde_json::Value::Object(r.push_args_map()),
            provider: s.provider.as_str(),
            file_size: r.file_size(),
            times_derived: r.derived,
            file_verdict: check.map(|c| c.verdict.to_string()),
            measured_s: check.and_then(|c| c.measured_s),
            reconciled: store.reconciled().contains(r.seq),
        }
    }

    fn csv_record(&self) -> Vec<String> {
        let text = |s: &str| csv_cell(s).into_owned();
        vec![
            self.seq.to_string(),
            text(&self.received_at),
            format!("{:.3}", self.received_at_unix),
            text(&self.domain),
            text(&self.app),
            text(&self.stream),
            text(&self.uri),
            text(&self.format),
            seconds_ms(self.duration_s),
            text(self.start_time.as_deref().unwrap_or("")),
            opt_num(self.start_time_unix),
            text(self.stop_time.as_deref().unwrap_or("")),
            opt_num(self.stop_time_unix),
            opt_num(self.span_s),
            self.duration_mismatch.to_string(),
            text(&self.push_args.to_string()),
            self.provider.to_string(),
            opt_num(self.file_size),
            self.times_derived.to_string(),
            text(self.file_verdict.as_deref().unwrap_or("")),
            seconds_ms(self.measured_s),
            self.reconciled.to_string(),
        ]
    }
}

/// The recordings of `store` that `filter` admits, oldest first.
pub fn recording_rows(store: &Store, filter: &Filter) -> Vec<RecordingRow> {
    store
        .recordings()
        .iter()
        .filter_map(|r| {
            let s = &store.streams()[r.stream as usize];
            (filter.admits_stream(Some(&s.id)) && filter.admits_provider(s.provider))
                .then(|| RecordingRow::new(r, s, store))
        })
        .collect()
}

fn write_rows<T: Serialize>(
    rows: impl Iterator<Item = T>,
    format: ExportFormat,
    columns: &[&str],
    to_csv: impl Fn(&T) -> Vec<String>,
    out: &mut dyn Write,
) -> Result<u64, ExportError> {
    let mut n = 0;
    match format {
        ExportFormat::Jsonl => {
            for row in rows {
                serde_json::to_writer(&mut *out, &row).map_err(|e| write_error(e.into()))?;
                out.write_all(b"\n").map_err(write_error)?;
                n += 1;
            }
        }
        ExportFormat::Json => {
            let all: Vec<T> = rows.collect();
            n = all.len() as u64;
            serde_json::to_writer_pretty(&mut *out, &all)
                .map_err(|e| ExportError::new(format!("cannot write the export: {e}")))?;
            out.write_all(b"\n").map_err(write_error)?;
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(columns).map_err(csv_error)?;
            for row in rows {
                w.write_record(to_csv(&row)).map_err(csv_error)?;
                n += 1;
            }
            w.flush().map_err(write_error)?;
        }
    }
    Ok(n)
}

fn write_recordings(
    store: &Store,
    filter: &Filter,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<u64, ExportError> {
    let rows = store.recordings().iter().filter_map(|r| {
        let s = &store.streams()[r.stream as usize];
        (filter.admits_stream(Some(&s.id)) && filter.admits_provider(s.provider)).then_some((r, s))
    });
    if format != ExportFormat::Csv {
        return write_rows(
            rows.map(|(r, s)| RecordingRow::new(r, s, store)),
            format,
            &RECORDING_COLUMNS,
            RecordingRow::csv_record,
            out,
        );
    }
    // CSV rows are written as they are made, with the text cells borrowed from the store:
    // the same cells as [`RecordingRow::csv_record`].
    let mut w = csv::Writer::from_writer(&mut *out);
    w.write_record(RECORDING_COLUMNS).map_err(csv_error)?;
    let mut n = 0;
    for (r, s) in rows {
        let received_at = format_time(r.received_at);
        let start = unix_to_rfc3339(r.start_time).unwrap_or_default();
        let stop = unix_to_rfc3339(r.stop_time).unwrap_or_default();
        let push_args = r.push_args_json();
        let check = store.checks().of(r.seq);
        let verdict = check.map(|c| c.verdict.to_string()).unwrap_or_default();
        let record: [Cow<str>; 22] = [
            r.seq.to_string().into(),
            csv_cell(&received_at),
            format!("{:.3}", r.received_at.timestamp_millis() as f64 / 1000.0).into(),
            csv_cell(&s.id.domain),
            csv_cell(&s.id.app),
            csv_cell(&s.id.stream),
            csv_cell(&r.uri),
            csv_cell(uri_format(&r.uri)),
            seconds_ms(r.duration).into(),
            csv_cell(&start),
            opt_num(r.start_time).into(),
            csv_cell(&stop),
            opt_num(r.stop_time).into(),
            opt_num(r.span_s()).into(),
            r.mismatch.to_string().into(),
            csv_cell(&push_args),
            s.provider.as_str().into(),
            opt_num(r.file_size()).into(),
            r.derived.to_string().into(),
            csv_cell(&verdict),
            seconds_ms(check.and_then(|c| c.measured_s)).into(),
            store.reconciled().contains(r.seq).to_string().into(),
        ];
        w.write_record(record.iter().map(|c| c.as_bytes()))
            .map_err(csv_error)?;
        n += 1;
    }
    w.flush().map_err(write_error)?;
    Ok(n)
}

/// A uri's extension (flv, m3u8, mp4, cmaf...), empty when it has none.
fn uri_format(uri: &str) -> &str {
    uri.rsplit('/')
        .next()
        .and_then(|f| f.rsplit_once('.'))
        .map_or("", |(_, ext)| ext)
}

fn write_streams(
    store: &Store,
    filter: &Filter,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<u64, ExportError> {
    let state = crate::server::api::state_document(store);
    let docs = state["streams"].as_array().cloned().unwrap_or_default();
    // state_json lists streams in the store's order, so the two zip up.
    let rows =
        store.streams().iter().zip(docs).filter(|(s, _)| {
            filter.admits_stream(Some(&s.id)) && filter.admits_provider(s.provider)
        });
    if format != ExportFormat::Csv {
        return write_rows(rows.map(|(_, doc)| doc), format, &[], |_| vec![], out);
    }
    let text = |s: &str| csv_cell(s).into_owned();
    let time = |t: Option<DateTime<Utc>>| {
        (
            text(&t.map(format_time).unwrap_or_default()),
            t.map(unix_ms).unwrap_or_default(),
        )
    };
    let records: Vec<Vec<String>> = rows
        .map(|(s, _)| {
            let (since, since_unix) = time(s.state_since);
            let (last_at, last_at_unix) = time(s.last_event_at);
            let last_uri = s
                .last_recording
                .map(|i| store.recordings()[i].uri.to_string())
                .unwrap_or_default();
            vec![
                text(&s.id.domain),
                text(&s.id.app),
                text(&s.id.stream),
                text(s.state.as_str()),
                since,
                since_unix,
                text(s.ingest.as_str()),
                s.recordings.to_string(),
                format!("{:.3}", s.total_duration_s),
                s.pauses.to_string(),
                text(s.last_event.as_deref().unwrap_or("")),
                last_at,
                last_at_unix,
                text(&last_uri),
                s.provider.as_str().to_string(),
                s.viewers.to_string(),
                s.segments.to_string(),
                s.errors.to_string(),
                text(s.last_error.as_ref().map_or("", |(what, _)| what.as_str())),
            ]
        })
        .collect();
    write_rows(
        records.into_iter(),
        ExportFormat::Csv,
        &STREAM_COLUMNS,
        |r| r.clone(),
        out,
    )
}

/// An output file that is written whole or not at all: the export goes to a temporary file
/// beside the target (same folder, so same filesystem) and is renamed over the target only
/// when it is complete ([`Self::commit`]). A failed or interrupted export leaves an existing
/// file untouched, and dropping this without committing removes the temporary file.
///
/// A target that is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO) cannot be
/// replaced and is written in place.
pub struct AtomicOutput {
    target: PathBuf,
    kind: OutputKind,
}

enum OutputKind {
    /// The temporary file, and its entry in [`UNFINISHED`] (dropped after it, in this order).
    Staged(tempfile::NamedTempFile, Unfinished),
    InPlace(File),
}

/// Temporary files of exports in progress. An interrupted export (Ctrl-C, SIGTERM) ends the
/// process without running destructors, so [`remove_unfinished`] removes these first.
static UNFINISHED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// A path listed in [`UNFINISHED`] for as long as this lives.
struct Unfinished(PathBuf);

impl Unfinished {
    fn list() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
        UNFINISHED.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register(path: &Path) -> Self {
        Self::list().push(path.to_path_buf());
        Unfinished(path.to_path_buf())
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        Self::list().retain(|p| p != &self.0);
    }
}

/// Removes the temporary files of the exports still being written, for a process about to
/// exit on a signal: the targets stay as they were and nothing is left beside them.
pub fn remove_unfinished() {
    for path in std::mem::take(&mut *Unfinished::list()) {
        let _ = std::fs::remove_file(path);
    }
}

impl AtomicOutput {
    /// Prepares to write `target`. A symlink is followed, so the file it points to is
    /// replaced, not the link.
    pub fn create(target: &Path) -> Result<Self, ExportError> {
        // `/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N` name a descriptor someone holds open
        // (the shell's `>> app.log`): renaming over the file behind it would cut them off it.
        // Appending, as through that descriptor: a `>> app.log` keeps what it held.
        if target.starts_with("/dev") || target.starts_with("/proc") {
            let file = std::fs::OpenOptions::new()
                .append(true)
                .open(target)
                .map_err(|e| ExportError::new(format!("cannot open {}: {e}", target.display())))?;
            return Ok(AtomicOutput {
                target: target.to_path_buf(),
                kind: OutputKind::InPlace(file),
            });
        }
        let is_link = std::fs::symlink_metadata(target).is_ok_and(|m| m.file_type().is_symlink());
        let target = match is_link {
            true => std::fs::canonicalize(target).unwrap_or_else(|_| target.to_path_buf()),
            false => target.to_path_buf(),
        };
        let existing = std::fs::metadata(&target).ok();
        if existing.as_ref().is_some_and(|m| m.is_dir()) {
            return Err(ExportError::new(format!(
                "-o {} is a directory; give a file name, e.g. -o {} (the format follows --format)",
                target.display(),
                target.join("export.jsonl").display()
            )));
        }
        if existing.as_ref().is_some_and(|m| !m.is_file()) {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .map_err(|e| ExportError::new(format!("cannot open {}: {e}", target.display())))?;
            return Ok(AtomicOutput {
                target,
                kind: OutputKind::InPlace(file),
            });
        }
        if existing.is_some() {
            // The rename would replace the file whatever its mode or owner, so first ask
            // what a plain write would: may we write it, and is it a journal another recmon
            // is writing now (replacing it would cut that session off its own journal)?
            match crate::core::journal::LockedJournal::open(&target, false) {
                Ok(_released_on_drop) => {}
                Err(crate::core::journal::OpenError::Io(e)) => {
                    return Err(ExportError::new(format!(
                        "cannot write {}: {e}",
                        target.display()
                    )))
                }
                Err(locked) => {
                    return Err(ExportError::new(format!(
                        "-o {} is a live journal: {locked}. Exporting over it would lose that session's journal; choose another file",
                        target.display()
                    )))
                }
            }
        }
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "export".into());
        // A new file gets what File::create gives (0666 less the umask), not the temporary
        // file's owner-only default; a replaced one keeps its own (set below).
        let mut builder = tempfile::Builder::new();
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let tmp = builder
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|e| {
                ExportError::new(format!(
                    "cannot create {}: cannot write a temporary file in {}: {e}. The folder must exist and be writable",
                    target.display(),
                    dir.display()
                ))
            })?;
        if let Some(m) = existing {
            tmp.as_file()
                .set_permissions(m.permissions())
                .map_err(|e| ExportError::new(format!("cannot write {}: {e}", target.display())))?;
        }
        let unfinished = Unfinished::register(tmp.path());
        Ok(AtomicOutput {
            target,
            kind: OutputKind::Staged(tmp, unfinished),
        })
    }

    /// Where the export is written until it is committed.
    pub fn file(&mut self) -> &mut File {
        match &mut self.kind {
            OutputKind::Staged(tmp, _) => tmp.as_file_mut(),
            OutputKind::InPlace(f) => f,
        }
    }

    /// The file this replaces.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Makes the export durable, then puts it in place of the target in one rename.
    pub fn commit(self) -> Result<(), ExportError> {
        match self.kind {
            OutputKind::InPlace(mut f) => f.flush().map_err(write_error),
            OutputKind::Staged(tmp, _unfinished) => {
                // Synced before the rename: after a crash the target is the old file or the
                // whole new one, never an empty or half-written one.
                tmp.as_file().sync_all().map_err(write_error)?;
                tmp.persist(&self.target).map(drop).map_err(|e| {
                    ExportError::new(format!(
                        "cannot write {}: {}",
                        self.target.display(),
                        e.error
                    ))
                })
            }
        }
    }
}

/// The files written by [`export_session`].
#[derive(Debug, Clone)]
pub struct SessionExport {
    /// The new folder beside the journal.
    pub dir: PathBuf,
    /// Accepted recordings as CSV (columns: [`RECORDING_COLUMNS`]).
    pub recordings_csv: PathBuf,
    /// Every journal entry as JSON lines, byte for byte.
    pub events_jsonl: PathBuf,
    /// Recording rows written.
    pub recordings: u64,
    /// Event lines written.
    pub events: u64,
    /// Garbled or partial journal lines that were skipped (a line being written while the
    /// export read the live journal shows up here as a partial last line).
    pub problems: Vec<String>,
}

impl SessionExport {
    /// The files written, for the UI to show.
    pub fn paths(&self) -> Vec<PathBuf> {
        vec![self.recordings_csv.clone(), self.events_jsonl.clone()]
    }
}

/// Exports a whole session into a new folder beside the journal,
/// `<journal-stem>-export-YYYYmmdd-HHMMSS/` (with `-2`, `-3`... if that exists): accepted
/// recordings as `recordings.csv` and every request as `events.jsonl`, in one read of the
/// journal. Safe while recmon keeps appending to the journal: it exports what is on disk.
/// Blocking (file I/O): from async code, call it inside `tokio::task::spawn_blocking`.
/// This is what the terminal UI's `e` key calls.
pub fn export_session(journal: &Path) -> Result<SessionExport, ExportError> {
    export_session_in(journal, None)
}

/// [`export_session`] into a new folder in `folder` (the one typed after `e`) instead of
/// beside the journal, when given.
pub fn export_session_in(
    journal: &Path,
    folder: Option<&Path>,
) -> Result<SessionExport, ExportError> {
    let parent = match (folder, journal.parent()) {
        (Some(f), _) => f.to_path_buf(),
        (None, Some(p)) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let stem = journal
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "recmon".into());
    let base = format!("{stem}-export-{}", Utc::now().format("%Y%m%d-%H%M%S"));
    let dir = (1..1000)
        .map(|i| {
            parent.join(if i == 1 {
                base.clone()
            } else {
                format!("{base}-{i}")
            })
        })
        .find_map(|d| match std::fs::create_dir(&d) {
            Ok(()) => Some(Ok(d)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => None,
            Err(e) => Some(Err(ExportError::new(format!(
                "cannot create the export folder {}: {e}. The folder it goes in must be writable",
                d.display()
            )))),
        })
        .unwrap_or_else(|| {
            Err(ExportError::new(format!(
                "cannot pick a new export folder in {}: too many exports this second",
                parent.display()
            )))
        })?;
    let events_jsonl = dir.join("events.jsonl");
    let recordings_csv = dir.join("recordings.csv");
    let written = (|| {
        let mut events_out = AtomicOutput::create(&events_jsonl)?;
        let mut rec_out = AtomicOutput::create(&recordings_csv)?;
        let filter = Filter::default();
        let mut events_w = BufWriter::new(events_out.file());
        let mut sink = EventSink::new(ExportFormat::Jsonl, &mut events_w);
        let (store, read) = read_pass(journal, &filter, Some(&mut sink), true)?;
        let events = sink.finish()?;
        events_w.flush().map_err(write_error)?;
        drop(events_w);
        let mut rec_w = BufWriter::new(rec_out.file());
        let recordings = write_recordings(
            &store.unwrap_or_default(),
            &filter,
            ExportFormat::Csv,
            &mut rec_w,
        )?;
        rec_w.flush().map_err(write_error)?;
        drop(rec_w);
        // Both files appear only once both are complete.
        events_out.commit()?;
        rec_out.commit()?;
        Ok((events, recordings, read.problems))
    })();
    let (events, recordings, problems) = written.inspect_err(|_| {
        // The folder is new and holds nothing of ours after a failure: leave no trace.
        let _ = std::fs::remove_dir(&dir);
    })?;
    Ok(SessionExport {
        dir,
        recordings_csv,
        events_jsonl,
        recordings,
        events,
        problems,
    })
}

/// Refuses a file that has lines but not one journal line (a CSV, a log, the wrong file) with
/// exit 2, as `recmon report` does, before anything is written: exporting it would write an
/// empty export and call it a success. Reads up to the first journal line (so a journal costs
/// one line), keeping nothing else. A file that cannot be read is left to the export, which
/// says so.
fn not_a_journal(journal: &Path) -> Result<(), AppError> {
    use crate::core::journal::{JournalReader, ReadItem};
    let Ok(reader) = JournalReader::open(journal) else {
        return Ok(());
    };
    let mut lines: u64 = 0;
    let mut first = None;
    for item in reader {
        let Ok(item) = item else {
            return Ok(());
        };
        match item {
            ReadItem::Entry(_) | ReadItem::Delivery(_) => return Ok(()),
            damaged => {
                lines += 1;
                if first.is_none() {
                    first = crate::core::rebuild::problem_text(&damaged);
                }
            }
        }
    }
    match first {
        None => Ok(()),
        Some(why) => Err(AppError::new(
            2,
            format!(
                "{} is not a recmon journal: {} a journal entry ({}). Give the recmon-*.jsonl file of the session",
                journal.display(),
                if lines == 1 {
                    "its one line is not".to_string()
                } else {
                    format!("none of its {} lines is", human::thousands(lines))
                },
                crate::util::sanitize::terminal(&why, 300)
            ),
        )),
    }
}

/// `recmon export`.
pub fn run(args: ExportArgs) -> Result<(), AppError> {
    let time = |flag: &str, v: &Option<String>| {
        v.as_deref()
            .map(parse_time)
            .transpose()
            .map_err(|e| AppError::new(2, format!("{flag}: {e}")))
    };
    let filter = Filter {
        stream: args.stream.clone(),
        since: time("--since", &args.since)?,
        until: time("--until", &args.until)?,
        provider: args.provider,
    };
    if let Some(out) = &args.output {
        let same = std::fs::canonicalize(out)
            .ok()
            .zip(std::fs::canonicalize(&args.journal).ok())
            .is_some_and(|(a, b)| a == b);
        if same {
            return Err(AppError::new(
                2,
                format!(
                    "-o {} is the journal being exported; pick another output file",
                    out.display()
                ),
            ));
        }
    }
    not_a_journal(&args.journal)?;
    let (count, dest) = match &args.output {
        Some(path) => {
            // Nothing is written to `path` unless the whole export succeeds.
            let mut output = AtomicOutput::create(path)?;
            let mut w = BufWriter::new(output.file());
            let c = export_to(&args.journal, args.format, args.what, &filter, &mut w)?;
            drop(w);
            output.commit()?;
            (c, path.display().to_string())
        }
        None => {
            let stdout = io::stdout();
            let mut lock = BufWriter::new(stdout.lock());
            match export_to(&args.journal, args.format, args.what, &filter, &mut lock) {
                Ok(c) => (c, "stdout".to_string()),
                // `recmon export ... | head`: the reader has what it wanted.
                Err(e) if e.broken_pipe => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    };
    let (row, rows) = match args.what {
        ExportWhat::Events => ("event row", "event rows"),
        ExportWhat::Recordings => ("recording row", "recording rows"),
        ExportWhat::Streams => ("stream row", "stream rows"),
        ExportWhat::Deliveries => ("delivery row", "delivery rows"),
    };
    let mut line = format!(
        "recmon export: read {} from {}; wrote {} to {dest}",
        human::count(count.entries, "journal entry", "journal entries"),
        args.journal.display(),
        human::count(count.rows, row, rows)
    );
    if !count.problems.is_empty() {
        line.push_str(&format!(
            "; skipped {}, listed above",
            human::count(count.problems.len() as u64, "damaged line", "damaged lines")
        ));
    }
    crate::util::output::eline(&line);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_rfc3339_or_unix_seconds() {
        let t = parse_time("2026-11-27T17:54:13Z").unwrap();
        assert_eq!(t.timestamp(), 1_795_802_053);
        assert_eq!(parse_time("1795802053").unwrap(), t);
        assert_eq!(
            parse_time("1795802053.5").unwrap().timestamp_millis(),
            1_795_802_053_500
        );
        assert_eq!(
            parse_time("2026-11-27T19:54:13+02:00").unwrap(),
            t,
            "offsets are converted to UTC"
        );
        let e = parse_time("yesterday").unwrap_err();
        assert!(e.contains("RFC 3339") && e.contains("Unix seconds"), "{e}");
    }

    #[test]
    fn csv_errors_read_without_type_names() {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["a", "b"]).unwrap();
        let e = csv_error(w.write_record(["a"]).unwrap_err()).to_string();
        assert!(e.starts_with("cannot write the CSV export: "), "{e}");
        assert!(!e.contains("UnequalLengths") && !e.contains('{'), "{e}");
    }

    #[test]
    fn filter_matches_domain_app_stream_and_half_open_time() {
        let id = StreamId {
            domain: "live.example.com".into(),
            app: "app".into(),
            stream: "studio-01".into(),
        };
        let f = Filter {
            stream: Some("example.com/app/studio".into()),
            since: Some(parse_time("100").unwrap()),
            until: Some(parse_time("200").unwrap()),
            provider: None,
        };
        assert!(f.admits_stream(Some(&id)));
        assert!(!f.admits_stream(None), "a rejected request has no stream");
        assert!(f.admits_time(parse_time("100").unwrap()));
        assert!(!f.admits_time(parse_time("200").unwrap()));
        assert!(!f.admits_time(parse_time("99.999").unwrap()));
        assert!(Filter::default().admits_stream(None));
    }
}
