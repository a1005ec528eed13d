//! The detail popup's content: one request in full (raw body pretty-printed, headers,
//! outcome, journal `seq`), or a stream or recording with the request behind it.
//!
//! Built once when the popup opens, from the journal line the store keeps for each request
//! in its log; every line is sanitized here, where it enters the view model.

use chrono::{DateTime, Utc};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::source::{shown_state, Source};
use super::state::{Detail, Panel, ViewState, STREAM_RECORDINGS_MAX};
use super::text::{clean, date_time, hms, hms_ms, thousands, unix_date_time, unix_stop_time};
use super::theme::{ingest_label, outcome_label, state_label, Theme};
use crate::core::alerts::Severity;
use crate::core::journal::{format_time, JournalEntry};
use crate::core::store::{DeliveryState, ForwardTarget, LogEntry, Recording, Store, Stream};
use crate::util::human::{bytes, count};

/// Longest line kept in the popup (it wraps); longer ones are cut with an ellipsis.
const LINE_MAX: usize = 2000;

/// Most body lines shown; the journal has the rest.
const BODY_LINES_MAX: usize = 5000;

/// The detail of the selected row of the focused panel, if there is one.
pub fn open(view: &ViewState, src: &Source, store: &Store) -> Option<Detail> {
    let theme = view.theme;
    let utc = view.utc;
    // With one provider the detail is as it always was; with several it says whose.
    let several = view.several_providers();
    let mut b = Builder {
        lines: Vec::new(),
        theme,
    };
    let mut name = None;
    let title = match view.focus {
        Panel::Streams => {
            let idx = *view.stream_order().get(view.streams.selected)? as usize;
            let s = src.streams.get(idx)?;
            stream_lines(&mut b, s, src.now, utc, several);
            b.blank();
            stream_recordings(&mut b, s, src.recordings, utc);
            let last = src.log.iter().rev().find(|e| e.stream == Some(idx as u32));
            match last {
                Some(e) => {
                    b.blank();
                    b.heading("last request for this stream");
                    request_lines(&mut b, e, src.forward, utc, several);
                }
                None => b.note("No request for this stream is in the in-memory log any more; the journal has them all."),
            }
            name = Some(view.stream_label(idx).to_owned());
            "stream".to_string()
        }
        Panel::Recordings => {
            let i = view.recording_at(view.recordings.selected)?;
            let r = src.recordings.get(i)?;
            let stream = src.streams.get(r.stream as usize);
            recording_lines(&mut b, r, stream, utc, several);
            b.blank();
            if let Some(v) = src.checks.of(r.seq) {
                b.heading("the file (--verify)");
                file_lines(&mut b, v);
                b.blank();
            } else if src.checks.on() {
                b.heading("the file (--verify)");
                b.field("verdict", "… being checked");
                b.blank();
            }
            match find_by_seq(src, r.seq) {
                Some(e) => {
                    b.heading("the request");
                    request_lines(&mut b, e, src.forward, utc, several);
                }
                None => b.note(&format!(
                    "The raw request is no longer in the in-memory request log (it keeps the newest {}); it is in the journal at seq {}.",
                    store.log().len(),
                    r.seq
                )),
            }
            format!("recording · seq {}", r.seq)
        }
        Panel::Requests => {
            let pos = *view.log_rows().get(view.requests.selected)?;
            let e = src.log.get(pos)?;
            request_lines(&mut b, e, src.forward, utc, several);
            format!("request · seq {}", e.seq)
        }
    };
    Some(Detail {
        title,
        name,
        lines: b.lines,
        scroll: 0,
        live_alerts: false,
    })
}

/// The alerts popup (`a`): what fires now, most severe first, with how long, then what
/// resolved lately, newest first. Messages hold stream names: cleaned like every field.
pub fn alerts(store: &Store, now: DateTime<Utc>, utc: bool, theme: Theme) -> Detail {
    let mut b = Builder {
        lines: Vec::new(),
        theme,
    };
    let book = store.alerts();
    let firing = book.firing();
    let style = |sev: Severity| match sev {
        Severity::Critical => theme.alarm(),
        Severity::Warning => theme.warn(),
        Severity::Info => theme.dim(),
    };
    b.heading(&format!("firing ({})", firing.len()));
    if firing.is_empty() {
        b.raw("Nothing is firing.");
    }
    for a in &firing {
        b.lines.push(Line::from(vec![
            Span::styled(
                format!(
                    "{} {:<8} ",
                    severity_symbol(a.severity),
                    a.severity.as_str()
                ),
                style(a.severity),
            ),
            Span::styled(format!("{:<18} ", a.rule.as_str()), style(a.severity)),
            Span::styled(
                format!(
                    "since {} ({})",
                    time(a.fired_at, utc),
                    crate::util::human::hms((now - a.fired_at).num_seconds())
                ),
                theme.dim(),
            ),
        ]));
        b.raw(&format!("    {}", a.message));
    }
    b.blank();
    let recent: Vec<_> = book.recent().iter().rev().take(50).collect();
    b.heading(&format!("resolved lately ({})", book.recent().len()));
    if recent.is_empty() {
        b.raw("None yet.");
    }
    for a in recent {
        let took = a
            .resolved_at
            .map(|r| crate::util::human::hms((r - a.fired_at).num_seconds()))
            .unwrap_or_default();
        b.lines.push(Line::from(vec![
            Span::styled(format!("✓ {:<8} ", a.severity.as_str()), theme.dim()),
            Span::raw(format!("{:<18} ", a.rule.as_str())),
            Span::styled(
                format!(
                    "{} → {} ({took})",
                    time(a.fired_at, utc),
                    a.resolved_at.map(|r| time(r, utc)).unwrap_or_default()
                ),
                theme.dim(),
            ),
        ]));
        b.raw(&format!("    {}", a.message));
    }
    if let Some(cfg) = store.alert_config() {
        b.blank();
        b.heading("rules");
        let w = |d: Option<std::time::Duration>| {
            d.map_or("off".to_string(), crate::util::human::duration_words)
        };
        b.raw(&format!(
            "paused {} · not recording {} · not recorded {} after the end · file overdue cycle+{} (cycle {} until learned) · short file {} · gap {} · silence {}",
            w(cfg.paused),
            w(cfg.not_recording),
            w(cfg.not_recorded),
            w(cfg.file_overdue),
            crate::util::human::duration_words(cfg.record_cycle),
            w(cfg.short_file),
            w(cfg.gap),
            w(cfg.silence)
        ));
    }
    Detail {
        title: format!("alerts · {} firing", firing.len()),
        name: None,
        lines: b.lines,
        scroll: 0,
        live_alerts: true,
    }
}

/// The symbol of a severity: `●` critical, `▲` warning, `·` info.
pub fn severity_symbol(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "●",
        Severity::Warning => "▲",
        Severity::Info => "·",
    }
}

/// The log entry with this `seq`, if the bounded log still has it (the log is in seq order).
fn find_by_seq<'a>(src: &Source<'a>, seq: u64) -> Option<&'a LogEntry> {
    let i = src.log.partition_point(|e| e.seq < seq);
    src.log.get(i).filter(|e| e.seq == seq)
}

struct Builder {
    lines: Vec<Line<'static>>,
    theme: Theme,
}

impl Builder {
    fn field(&mut self, label: &str, value: &str) {
        self.field_styled(label, value, Style::new());
    }

    fn field_styled(&mut self, label: &str, value: &str, style: Style) {
        self.lines.push(Line::from(vec![
            Span::styled(format!("{label:<13} "), self.theme.dim()),
            Span::styled(clean(value, LINE_MAX), style),
        ]));
    }

    fn heading(&mut self, text: &str) {
        self.lines
            .push(Line::styled(format!("── {text}"), self.theme.header()));
    }

    fn raw(&mut self, text: &str) {
        self.lines.push(Line::raw(clean(text, LINE_MAX)));
    }

    fn note(&mut self, text: &str) {
        self.lines
            .push(Line::styled(clean(text, LINE_MAX), self.theme.warn()));
    }

    fn blank(&mut self) {
        self.lines.push(Line::raw(""));
    }
}

fn time(t: DateTime<Utc>, utc: bool) -> String {
    format!(
        "{} {}",
        date_time(t, utc),
        if utc { "UTC" } else { "local" }
    )
}

fn stream_lines(b: &mut Builder, s: &Stream, now: DateTime<Utc>, utc: bool, several: bool) {
    b.field("domain", &s.id.domain);
    b.field("app", &s.id.app);
    b.field("stream", &s.id.stream);
    if several {
        b.field("provider", s.provider.as_str());
    }
    let for_since = |at: Option<DateTime<Utc>>, since: &str| {
        at.map(|t| {
            format!(
                " for {} ({since} {})",
                hms((now - t).num_seconds()),
                time(t, utc)
            )
        })
        .unwrap_or_default()
    };
    let (shown, shown_since) = shown_state(s);
    if shown != s.state {
        // Offline: the row says ended; the last recording state is kept here.
        b.field_styled(
            "state",
            &format!(
                "{}{}",
                state_label(shown),
                for_since(shown_since, "offline since")
            ),
            b.theme.state(shown),
        );
        b.field_styled(
            "last state",
            &format!(
                "{}{}",
                state_label(s.state),
                for_since(s.state_since, "since")
            ),
            b.theme.state(s.state),
        );
    } else {
        b.field_styled(
            "state",
            &format!(
                "{}{}",
                state_label(s.state),
                for_since(s.state_since, "since")
            ),
            b.theme.state(s.state),
        );
    }
    let since = s
        .ingest_since
        .map(|t| format!(" (since {})", time(t, utc)))
        .unwrap_or_default();
    b.field_styled(
        "ingest",
        &format!("{}{since}", ingest_label(s.ingest)),
        b.theme.ingest(s.ingest),
    );
    if s.viewers > 0 {
        b.field("viewers", &format!("{} now", thousands(s.viewers as u64)));
    }
    b.field("recordings", &s.recordings.to_string());
    b.field("total", &hms_ms(s.total_duration_s));
    if s.segments > 0 {
        b.field(
            "hls segments",
            &format!("{} (their seconds are in the total)", thousands(s.segments)),
        );
    }
    b.field("pauses", &s.pauses.to_string());
    if s.errors > 0 {
        let style = b.theme.state(crate::event::RecordState::Error);
        b.field_styled("errors", &thousands(s.errors), style);
        if let Some((what, at)) = &s.last_error {
            b.field_styled(
                "last error",
                &format!("{what} at {}", time(*at, utc)),
                style,
            );
        }
    }
    match (&s.last_event, s.last_event_at) {
        (Some(ev), Some(at)) => b.field("last event", &format!("{ev} at {}", time(at, utc))),
        _ => b.field("last event", "-"),
    }
}

/// A stream's recordings, newest first, each with the gap since the file before it (its
/// start − the previous file's stop). Follows the store's per-stream links, so it costs the
/// rows it lists, however many recordings other streams have.
fn stream_recordings(b: &mut Builder, s: &Stream, recordings: &[Recording], utc: bool) {
    if s.last_recording.is_none() {
        b.heading("recordings of this stream: none yet");
        return;
    }
    // One more than is listed: the last listed row's gap needs the file before it.
    let newest: Vec<&Recording> = s
        .recordings_newest_first(recordings)
        .map(|(_, r)| r)
        .take(STREAM_RECORDINGS_MAX + 1)
        .collect();
    let listed = newest.len().min(STREAM_RECORDINGS_MAX);
    let total = s.recordings.max(newest.len() as u64);
    if (listed as u64) < total {
        b.heading(&format!(
            "recordings of this stream: the newest {} of {}",
            thousands(listed as u64),
            thousands(total)
        ));
    } else {
        b.heading(&format!(
            "recordings of this stream, newest first: {}",
            thousands(total)
        ));
    }
    let rows: Vec<[String; 6]> = newest[..listed]
        .iter()
        .enumerate()
        .map(|(i, r)| {
            // `≠` after the number, in a column of its own, so that durations stay aligned;
            // `~` before one derived from arrival times.
            let duration = match r.duration {
                Some(d) if r.derived => format!("~{}", hms_ms(d)),
                Some(d) => hms_ms(d),
                None => "-".into(),
            };
            let mark = if r.mismatch { "≠" } else { " " };
            [
                format!("#{}", r.seq),
                unix_date_time(r.start_time, utc),
                unix_stop_time(r.start_time, r.stop_time, utc),
                duration,
                mark.to_string(),
                gap_text(
                    newest.get(i + 1).map(|p| (p.start_time, p.stop_time)),
                    (r.start_time, r.stop_time),
                ),
            ]
        })
        .collect();
    let header = [
        "seq".to_string(),
        format!("start ({})", if utc { "UTC" } else { "local" }),
        "stop".to_string(),
        "duration".to_string(),
        " ".to_string(),
        "gap before".to_string(),
    ];
    let width = |c: usize| {
        rows.iter()
            .map(|r| r[c].chars().count())
            .chain([header[c].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let w = [width(0), width(1), width(2), width(3)];
    let line = |r: &[String; 6]| {
        format!(
            " {:>w0$}  {:<w1$}  {:<w2$}  {:>w3$} {} {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        )
    };
    b.lines.push(Line::styled(line(&header), b.theme.dim()));
    for r in &rows {
        let style = if r[5].contains('⚠') {
            b.theme.warn()
        } else {
            Style::new()
        };
        b.lines.push(Line::styled(clean(&line(r), LINE_MAX), style));
    }
    if (listed as u64) < total {
        b.note(&format!(
            "… and {}: in the journal, and in the export (e).",
            count(total - listed as u64, "older recording", "older recordings")
        ));
    }
}

/// Start and stop of a file, Unix seconds, when known.
type FileSpan = (Option<i64>, Option<i64>);

/// The gap before a file (`this`): its start − the previous file's stop, when both are
/// known. Negative is flagged: an overlap, or a file that arrived after a later one.
fn gap_text(previous: Option<FileSpan>, this: FileSpan) -> String {
    let Some((prev_start, prev_stop)) = previous else {
        return "-".into();
    };
    let (Some(stop), Some(start)) = (prev_stop, this.0) else {
        return "-".into();
    };
    let gap = start.saturating_sub(stop);
    if gap >= 0 {
        return hms(gap);
    }
    let before_previous = matches!(
        (this.1, prev_start),
        (Some(this_stop), Some(prev_start)) if this_stop <= prev_start
    );
    format!(
        "-{} ⚠ {}",
        hms(gap.saturating_neg()),
        if before_previous {
            "out of order"
        } else {
            "overlap"
        }
    )
}

fn recording_lines(
    b: &mut Builder,
    r: &Recording,
    stream: Option<&Stream>,
    utc: bool,
    several: bool,
) {
    if let Some(s) = stream {
        b.field(
            "stream",
            &format!("{}/{}/{}", s.id.domain, s.id.app, s.id.stream),
        );
        if several {
            b.field("provider", s.provider.as_str());
        }
    }
    b.field("uri", &r.uri);
    let derived = if r.derived { "~" } else { "" };
    b.field(
        "duration",
        &r.duration
            .map(|d| {
                // The value as sent, unless it would print hundreds of digits.
                if d.abs() >= crate::util::human::IMPLAUSIBLE_S {
                    format!("{} ({})", hms_ms(d), crate::util::human::seconds(d))
                } else {
                    format!("{derived}{} ({d} s)", hms_ms(d))
                }
            })
            .unwrap_or_else(|| "-".into()),
    );
    if let Some(size) = r.file_size() {
        b.field(
            "size",
            &format!("{} ({} bytes)", bytes(size), thousands(size)),
        );
    }
    // The provider's Unix times, in the zone the panels use (the uri keeps the provider's
    // own local time as sent).
    let zoned = |t: Option<i64>| match t.and_then(|s| DateTime::from_timestamp(s, 0)) {
        Some(t) => time(t, utc),
        None => unix_date_time(t, utc),
    };
    b.field("start_time", &zoned(r.start_time));
    b.field("stop_time", &zoned(r.stop_time));
    if r.derived {
        b.note("~ derived from arrival times (the provider sends none):");
        b.note(if r.duration.is_some() {
            "  start_time is when the stream's publish or previous file arrived, stop_time when this file did"
        } else {
            "  stop_time is when this file arrived; no publish or earlier file came before it to start from"
        });
    }
    if r.mismatch {
        if let (Some(d), Some(span)) = (r.duration, r.span_s()) {
            let msg = format!(
                "≠ duration {} disagrees with stop_time − start_time = {span} s (kept as reported)",
                crate::util::human::seconds(d)
            );
            b.note(&msg);
        }
    }
    if r.push_args.is_empty() {
        b.field("push_args", "-");
    }
    for (k, v) in r.push_args.iter() {
        b.field("push_args", &format!("{k} = {v}"));
    }
    b.field("received", &time(r.received_at, utc));
}

/// What the file itself said (`--verify`): claimed against measured, and what was found.
fn file_lines(b: &mut Builder, v: &crate::core::checks::FileVerdict) {
    use crate::verify::verdict::Verdict;
    let mut verdict = v.verdict.to_string();
    for also in &v.also {
        verdict.push_str(&format!(", {also}"));
    }
    let style = match v.verdict {
        Verdict::Ok => Style::new(),
        Verdict::Unchecked(_) => b.theme.dim(),
        _ => b.theme.alarm(),
    };
    b.field_styled("verdict", &verdict, style);
    let d =
        |s: Option<f64>| s.map_or_else(|| "-".to_string(), |s| format!("{} ({s} s)", hms_ms(s)));
    b.field("claimed", &d(v.claimed_s));
    b.field("measured", &d(v.measured_s));
    if let (Some(c), Some(m)) = (v.claimed_s, v.measured_s) {
        b.field("difference", &format!("{:+.3} s", m - c));
    }
    if let Some(c) = v.container {
        b.field("container", c.as_str());
    }
    if let Some(size) = v.size {
        b.field(
            "size",
            &format!("{} ({} bytes)", bytes(size), thousands(size)),
        );
    }
    let track = |x: Option<bool>| match x {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    };
    b.field("audio", track(v.audio));
    b.field("video", track(v.video));
    b.field(
        "read at",
        if v.location.is_empty() {
            "-"
        } else {
            &v.location
        },
    );
    b.field(
        "read",
        &format!(
            "{} in {}",
            bytes(v.bytes_read),
            crate::util::human::count(v.attempts as u64, "look", "looks")
        ),
    );
    if matches!(v.verdict, Verdict::Unchecked(_)) {
        b.note("unchecked: recmon could not read the file (its access, not the recording's fault)");
    }
}

fn request_lines(
    b: &mut Builder,
    e: &LogEntry,
    forward: &[ForwardTarget],
    utc: bool,
    several: bool,
) {
    let je = serde_json::from_str::<JournalEntry>(&e.line);
    b.field("seq", &e.seq.to_string());
    b.field(
        "received",
        &format!(
            "{}  ({})",
            time(e.received_at, utc),
            format_time(e.received_at)
        ),
    );
    b.field("from", &e.remote);
    b.field("request", &format!("{} {}", e.method, e.path));
    if let (true, Ok(je)) = (several, &je) {
        b.field("provider", je.provider.as_str());
    }
    b.field_styled(
        "outcome",
        &format!(
            "{}  HTTP {}{}",
            outcome_label(e.outcome),
            e.status,
            e.kind
                .as_deref()
                .map(|k| format!("  ({k})"))
                .unwrap_or_default()
        ),
        b.theme.outcome(e.outcome),
    );
    if let Some(err) = &e.error {
        b.field_styled("reason", err, b.theme.outcome(e.outcome));
    }
    delivery_lines(b, e, forward, utc);
    let Ok(je) = je else {
        b.note(&format!(
            "The journal line for this request could not be read here; see the journal at seq {}.",
            e.seq
        ));
        return;
    };
    b.blank();
    b.heading("headers");
    if je.headers.is_empty() {
        b.raw("(none kept)");
    }
    for (k, v) in &je.headers {
        b.field(k, v);
    }
    b.blank();
    body_lines(b, &je);
}

/// Each target's delivery of the request: where it stands and its newest attempts (the
/// backend's words are untrusted text, cleaned like every other field).
fn delivery_lines(b: &mut Builder, e: &LogEntry, forward: &[ForwardTarget], utc: bool) {
    for d in &e.delivery {
        let name = forward
            .get(d.target as usize)
            .map_or("?", |t| t.name.as_str());
        let state = match d.state {
            DeliveryState::Pending => "pending: not tried yet".to_string(),
            DeliveryState::Retrying => format!("retrying: {} attempts so far", d.attempts),
            DeliveryState::Delivered { status, ms } => {
                format!(
                    "delivered: HTTP {status} in {ms} ms (attempt {})",
                    d.attempts
                )
            }
            DeliveryState::Failed { status } => format!(
                "FAILED after {} attempts{}; resend with recmon replay --seq {}",
                d.attempts,
                status
                    .map(|s| format!(" (last HTTP {s})"))
                    .unwrap_or_default(),
                e.seq
            ),
        };
        let style = match d.state {
            DeliveryState::Delivered { .. } => b.theme.fg(ratatui::style::Color::Green),
            DeliveryState::Failed { .. } => b.theme.outcome(crate::event::Outcome::Rejected),
            DeliveryState::Retrying => b.theme.warn(),
            DeliveryState::Pending => b.theme.dim(),
        };
        b.field_styled("forward", &format!("{name}: {state}"), style);
        if d.attempts as usize > d.recent.len() {
            b.raw(&format!(
                "              … {} earlier attempts (the journal has them all)",
                d.attempts as usize - d.recent.len()
            ));
        }
        for a in &d.recent {
            b.raw(&format!(
                "              #{} {}  {}{}  {} ms{}",
                a.attempt,
                time(a.at, utc),
                a.result.as_str(),
                a.status.map(|s| format!(" HTTP {s}")).unwrap_or_default(),
                a.ms,
                a.error
                    .as_deref()
                    .map(|e| format!("  {e}"))
                    .unwrap_or_default()
            ));
            if let Some(reply) = a.reply.as_deref().filter(|r| !r.trim().is_empty()) {
                // The backend's own words: cleaned (escapes shown, never run) and cut.
                b.raw(&format!("                 answer: {}", clean(reply, 200)));
            }
        }
    }
}

fn body_lines(b: &mut Builder, je: &JournalEntry) {
    let raw = je.body_raw();
    let cut = je
        .body_truncated
        .as_ref()
        .map(|t| {
            format!(
                ", cut: {} bytes received{}",
                t.received_bytes,
                t.declared_bytes
                    .map(|d| format!(", {d} declared"))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_default();
    if raw.is_empty() {
        b.heading(&format!("body: empty{cut}"));
        return;
    }
    let text = if je.body_base64.is_some() {
        b.heading(&format!(
            "body: {} bytes, not UTF-8, shown as base64{cut}",
            raw.len()
        ));
        je.body_base64.clone().unwrap_or_default()
    } else {
        let text = String::from_utf8_lossy(&raw).into_owned();
        if serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok() {
            b.heading(&format!(
                "body: {} bytes, JSON, pretty-printed{cut}",
                raw.len()
            ));
            pretty_json(&text)
        } else {
            b.heading(&format!("body: {} bytes, as received{cut}", raw.len()));
            text
        }
    };
    for (i, line) in text.lines().enumerate() {
        if i == BODY_LINES_MAX {
            b.note("… (more in the journal)");
            break;
        }
        b.raw(line);
    }
}

/// Re-indents valid JSON text without parsing it into values, so that key order and number
/// spelling stay exactly as the provider sent them (serde_json's map would sort the keys).
pub fn pretty_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = text.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                // Skip whitespace to see whether the container is empty.
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                if matches!(chars.peek(), Some('}' | ']')) {
                    out.push(chars.next().unwrap_or(' '));
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_next_start_minus_previous_stop_and_negative_ones_are_flagged() {
        let a = (Some(1000), Some(1600));
        assert_eq!(gap_text(None, a), "-");
        assert_eq!(gap_text(Some(a), (Some(1600), Some(2200))), "0:00:00");
        assert_eq!(gap_text(Some(a), (Some(1605), Some(2200))), "0:00:05");
        assert_eq!(gap_text(Some(a), (Some(5200), None)), "1:00:00");
        assert_eq!(
            gap_text(Some(a), (Some(1590), Some(2200))),
            "-0:00:10 ⚠ overlap"
        );
        assert_eq!(
            gap_text(Some(a), (Some(400), Some(1000))),
            "-0:20:00 ⚠ out of order"
        );
        assert_eq!(gap_text(Some((Some(1), None)), a), "-");
        assert_eq!(gap_text(Some(a), (None, Some(9))), "-");
    }

    #[test]
    fn pretty_json_keeps_order_and_numbers() {
        let s = r#"{"z":1,"a":[1.50,{"k":"v, \"q\" {x}"}],"e":{},"n":[ ]}"#;
        assert_eq!(
            pretty_json(s),
            "{\n  \"z\": 1,\n  \"a\": [\n    1.50,\n    {\n      \"k\": \"v, \\\"q\\\" {x}\"\n    }\n  ],\n  \"e\": {},\n  \"n\": []\n}"
        );
        // Already pretty input comes out the same shape.
        let again = pretty_json(&pretty_json(s));
        assert_eq!(again, pretty_json(s));
    }
}
