//! The headless view: one line per request on stdout, human-readable or the journal line
//! itself (`--json`, NDJSON). Used with `--headless`, and automatically when stdout is not a
//! terminal.
//!
//! `--json` prints the feed: each committed entry's line as the feed carries it, in seq
//! order, and nothing else on stdout. A printer behind the feed's memory reads on from the
//! journal (the receiver's, or an attached view's copy), so it never skips a line; only
//! without a journal (`--no-journal`) does one that falls out of the feed's memory say how
//! many lines it skipped.
//!
//! The human lines follow the store's request log by `seq` (they show what the store made of
//! each request: the stream, the summary). The log is bounded, so a printer that falls far
//! behind (a very slow pipe under heavy load) says how many lines it skipped instead of
//! blocking ingest; the journal has them all. Both print what is not a journal entry (alerts,
//! forwarding notes, journal failures, a rebuild's progress) on stderr, from the store.
//!
//! With `--forward-mode sync` a callback's answer is the backend's, known only once its
//! delivery line is journaled (after the request line): a human line waits for it, so that
//! it says what the provider got (a 502 is not printed as `accepted 200`), at most
//! [`HOLD_MAX`] (and not past a journal failure, which may keep the delivery line from coming).

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::core::feed::{Feed, FeedItem, Next, Subscription};
use crate::core::outbox::ForwardMode;
use crate::core::store::{DeliveryState, LogEntry, Store};
use crate::event::Outcome;
use crate::util::sanitize::terminal;

/// Longest text field printed, in characters.
const FIELD_MAX: usize = 160;

/// Longest a human line waits for its sync delivery (the answer the provider got).
pub const HOLD_MAX: Duration = Duration::from_secs(60);

/// How often a printer holding a line looks again without a change in the store.
const HOLD_TICK: Duration = Duration::from_millis(250);

/// Formats the log entries that arrived since the last call.
pub struct Printer {
    json: bool,
    /// The request lines come from the feed ([`FeedPrinter`]), not the store's log: only
    /// stderr is taken from the store.
    from_feed: bool,
    last_seq: u64,
    journal_failures_seen: u64,
    /// The seq of the last forwarding note printed.
    last_note_seq: u64,
    /// The number of the last alert event printed.
    last_alert: u64,
    /// The request whose line waits for its sync delivery: its seq, since when, and the
    /// journal failures counted then.
    held: Option<(u64, Instant, u64)>,
    /// Print everything now, held or not (the last round).
    flush: bool,
    /// The last tenth of a background rebuild said (see [`Printer::take_new`]).
    rebuilding_said: Option<u8>,
}

/// Text to write after releasing the store lock.
#[derive(Debug, Default)]
pub struct Output {
    /// For stdout: one line per request.
    pub stdout: String,
    /// For stderr: journal failure alarms, forwarding failures and recoveries.
    pub stderr: String,
    /// A line waits for its sync delivery: look again soon even if nothing changes.
    pub holding: bool,
}

impl Printer {
    /// A printer starting after `last_seq` (non-zero when resuming, so that old entries are
    /// not printed again).
    pub fn new(json: bool, last_seq: u64) -> Self {
        Printer {
            json,
            from_feed: false,
            last_seq,
            journal_failures_seen: 0,
            last_note_seq: last_seq,
            last_alert: 0,
            held: None,
            flush: false,
            rebuilding_said: None,
        }
    }

    /// From now on, print every line at once, even one still waiting for its sync delivery
    /// (the receiver has drained: whatever did not come will not).
    pub fn flush(&mut self) {
        self.flush = true;
    }

    /// Whether `e`'s human line waits for its sync delivery (see the module's doc).
    fn awaits_answer(&mut self, e: &LogEntry, store: &Store) -> bool {
        let sync = store
            .forward_targets()
            .iter()
            .any(|t| t.mode == ForwardMode::Sync);
        if self.json
            || self.flush
            || !sync
            || e.outcome == Outcome::Rejected
            || !e.delivery.is_empty()
            || settles_a_pending_line(&e.line)
        {
            return false;
        }
        let failures = store.journal_failures().0;
        match self.held {
            Some((seq, since, before)) if seq == e.seq => {
                since.elapsed() < HOLD_MAX && failures == before
            }
            _ => {
                self.held = Some((e.seq, Instant::now(), failures));
                true
            }
        }
    }

    /// The seq of the last request formatted.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Formats everything newer than what was formatted before. Cheap enough to run under the
    /// store lock; the caller writes the text after releasing it.
    ///
    /// While `--resume` rebuilds the state in the background, a line on stderr says how far,
    /// at each tenth (stdout stays the request stream: the requests answered meanwhile are
    /// printed when they are applied, once it is done).
    pub fn take_new(&mut self, store: &Store) -> Output {
        let mut out = Output::default();
        if let Some(p) = store.rebuilding() {
            let tenth = p.percent() / 10;
            if self.rebuilding_said != Some(tenth) {
                self.rebuilding_said = Some(tenth);
                out.stderr.push_str(&format!(
                    "recmon: rebuilding {}%: the state is being read from the journal; callbacks are answered meanwhile and applied when it is done\n",
                    p.percent()
                ));
            }
        }
        if !self.from_feed {
            self.take_requests(store, &mut out);
        }
        self.take_stderr(store, &mut out);
        out
    }

    /// The request lines (stdout) newer than those taken before, from the store's log.
    fn take_requests(&mut self, store: &Store, out: &mut Output) {
        let log = store.log();
        if let Some(first) = log.front().map(|e| e.seq) {
            if first > self.last_seq + 1 && (self.last_seq > 0 || first > 1) {
                let missed = first - self.last_seq - 1;
                out.stdout.push_str(&format!(
                    "# {} not shown: the printer fell behind (all are in the journal)\n",
                    crate::util::human::count(missed, "request", "requests")
                ));
            }
        }
        let start = log.partition_point(|e| e.seq <= self.last_seq);
        // --json prints every journal line: the delivery lines of forwarding go between the
        // requests, in seq order.
        let deliveries = store.delivery_log();
        let mut d = deliveries.partition_point(|(seq, _)| *seq <= self.last_seq);
        // (Human lines leave them out: the forwarding notes say what matters, on stderr.)
        for e in log.range(start..) {
            if self.awaits_answer(e, store) {
                out.holding = true;
                break;
            }
            while let Some((seq, line)) = deliveries.get(d).filter(|(seq, _)| *seq < e.seq) {
                if self.json {
                    out.stdout.push_str(line);
                    out.stdout.push('\n');
                }
                self.last_seq = *seq;
                d += 1;
            }
            if self.json {
                out.stdout.push_str(&e.line);
            } else {
                out.stdout.push_str(&human_line(e, store));
                if e.auth_failed {
                    out.stdout.push_str(&format!(
                        "  [bad signatures so far: {}]",
                        crate::util::human::thousands(store.auth_failures())
                    ));
                }
            }
            out.stdout.push('\n');
            self.last_seq = e.seq;
        }
        // (Not past a line held back: it is printed next time, after what came before it.)
        for (seq, line) in deliveries.range(d..).take_while(|_| !out.holding) {
            if self.json {
                out.stdout.push_str(line);
                out.stdout.push('\n');
            }
            self.last_seq = *seq;
        }
    }

    /// What goes to stderr: forwarding notes, alerts, journal failures.
    fn take_stderr(&mut self, store: &Store, out: &mut Output) {
        let notes = store.forward_notes();
        let start = notes.partition_point(|n| n.seq <= self.last_note_seq);
        for n in notes.range(start..) {
            out.stderr.push_str("recmon: ");
            out.stderr.push_str(&terminal(&n.text, 600));
            out.stderr.push('\n');
            self.last_note_seq = n.seq;
        }
        // Alerts firing and resolving, on stderr like the other alarms (stdout stays the
        // request stream).
        let alerts = store.alerts().log();
        let start = alerts.partition_point(|(n, _)| *n <= self.last_alert);
        for (n, e) in alerts.range(start..) {
            out.stderr.push_str("recmon: ");
            out.stderr.push_str(&terminal(&e.line(), 600));
            out.stderr.push('\n');
            self.last_alert = *n;
        }
        let (failures, last_error) = store.journal_failures();
        if failures > self.journal_failures_seen {
            self.journal_failures_seen = failures;
            out.stderr += &format!(
                "recmon: JOURNAL WRITE FAILED ({} so far): {}; requests are being answered 503 (nginx-rtmp and SRS: 200, so that their streams go on)\n",
                crate::util::human::thousands(failures),
                terminal(last_error.unwrap_or("unknown error"), 400)
            );
        }
    }
}

/// `--json`'s stdout: the feed's lines, in seq order.
pub struct FeedPrinter {
    feed: Arc<Feed>,
    sub: Subscription,
    /// The feed ended (closed at shutdown) or the subscription lagged and was renewed.
    open: bool,
    /// After a lag (no journal): the position the skipped lines are counted from.
    lagged_at: Option<u64>,
    /// Lines read and not yet handed out.
    text: String,
}

impl FeedPrinter {
    /// Prints the entries after `after`.
    pub fn new(feed: Arc<Feed>, after: u64) -> FeedPrinter {
        let sub = feed.subscribe(after);
        FeedPrinter {
            feed,
            sub,
            open: true,
            lagged_at: None,
            text: String::new(),
        }
    }

    /// The last seq printed.
    pub fn position(&self) -> u64 {
        self.sub.position()
    }

    /// The next entries as stdout text, waiting for them; `None` once the feed is closed (or,
    /// draining, once everything published is printed). Cancel-safe.
    pub async fn next(&mut self) -> Option<String> {
        loop {
            // Whatever is already published goes in the same write. Kept in `self` between
            // reads, so that a call dropped while it waits loses nothing.
            if !self.text.is_empty()
                && (self.sub.position() >= self.feed.last_seq() || self.text.len() >= 1 << 20)
            {
                return Some(std::mem::take(&mut self.text));
            }
            match self.sub.next().await {
                Next::Items(items) => self.push_lines(&items),
                Next::Lagged => {
                    // Without a journal: go on from the oldest entry still held, and say how
                    // many were not shown.
                    self.lagged_at = Some(self.sub.position());
                    self.sub = self.feed.subscribe(self.sub.position());
                }
                Next::Closed => {
                    self.open = false;
                    if self.text.is_empty() {
                        return None;
                    }
                    return Some(std::mem::take(&mut self.text));
                }
            }
        }
    }

    /// From now on, print what was published, even after the feed closed, then end.
    pub fn drain(&mut self) {
        self.sub.drain();
        self.open = true;
    }

    fn push_lines(&mut self, items: &[FeedItem]) {
        let out = &mut self.text;
        out.reserve(items.iter().map(|i| i.line.len() + 1).sum());
        if let (Some(at), Some(first)) = (self.lagged_at.take(), items.first()) {
            if first.seq > at + 1 {
                out.push_str(&format!(
                    "# {} not shown: the printer fell behind\n",
                    crate::util::human::count(first.seq - at - 1, "request", "requests")
                ));
            }
        }
        for item in items {
            out.push_str(&item.line);
            out.push('\n');
        }
    }
}

/// Whether this round printed entries from the feed and nothing else is due: the store
/// (stderr's alerts, notes and failures) is looked at on its own wake-ups, not once per
/// chunk of entries.
fn from_feed_only(out: &Output, last_round: bool) -> bool {
    !out.stdout.is_empty() && !last_round
}

/// Whether a journal line is the decided copy of a callback answered during a background
/// rebuild (its last field is `"settles":N`, see [`crate::core::journal::write_settled_line`]):
/// its answer went out with the pending line, whose seq its sync delivery names, so there is
/// nothing to wait for.
fn settles_a_pending_line(line: &str) -> bool {
    line.rfind(",\"settles\":").is_some_and(|i| {
        line[i + 11..]
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'}')
    })
}

/// Writes a printer's output; false when stdout is closed (e.g. piped into `head`).
pub fn write_output(out: &Output) -> bool {
    if !out.stderr.is_empty() {
        let _ = io::stderr().write_all(out.stderr.as_bytes());
    }
    if out.stdout.is_empty() {
        return true;
    }
    let mut so = io::stdout().lock();
    so.write_all(out.stdout.as_bytes())
        .and_then(|_| so.flush())
        .is_ok()
}

/// RFC 3339 UTC with milliseconds, written by hand: chrono's general formatter parses its
/// format string on every call, which showed up as a tenth of the per-request cost.
fn push_time(out: &mut String, t: chrono::DateTime<chrono::Utc>) {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write as _;
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.timestamp_subsec_millis().min(999)
    );
}

/// One human-readable line: time, outcome, status, kind, stream, key fields.
/// Written into one buffer (no intermediate strings): it runs once per request.
pub fn human_line(e: &LogEntry, store: &Store) -> String {
    use std::fmt::Write as _;
    let mut line = String::with_capacity(192);
    push_time(&mut line, e.received_at);
    let _ = write!(line, "  #{:<6} ", e.seq);
    // Merged from several receivers (`recmon attach A B`): which one it reached, by the
    // letter the attach's messages name it with.
    if let Some(source) = e.source {
        let _ = write!(
            line,
            "{} ",
            crate::attach::status::label(source as usize, usize::MAX)
        );
    }
    let _ = write!(
        line,
        "{:<9} {}  {:<9} ",
        e.outcome.as_str(),
        e.status,
        e.kind.as_deref().unwrap_or("-"),
    );
    // The other providers' requests say whose they are (ApsaraVideo's look as they always did).
    if e.provider != crate::event::Provider::Aliyun {
        let _ = write!(line, "[{}] ", e.provider.tag());
    }
    let named;
    let id = match e.stream.and_then(|i| store.streams().get(i as usize)) {
        Some(s) => Some(&s.id),
        // A refused request still names the stream it could be read to name.
        None if e.outcome == Outcome::Rejected => {
            named = super::named_in_line(&e.line);
            named.as_ref()
        }
        None => None,
    };
    match id {
        Some(id) => {
            line.push_str(&terminal(&id.domain, FIELD_MAX));
            line.push('/');
            line.push_str(&terminal(&id.app, FIELD_MAX));
            line.push('/');
            line.push_str(&terminal(&id.stream, FIELD_MAX));
        }
        None => line.push('-'),
    }
    for text in [&e.summary, &e.detail] {
        if !text.is_empty() {
            line.push_str("  ");
            line.push_str(&terminal(text, FIELD_MAX));
        }
    }
    if e.outcome == Outcome::Duplicate {
        line.push_str("  (provider retry, not counted again)");
    }
    if let Some(err) = &e.error {
        let _ = write!(
            line,
            "  {} {}: {}",
            terminal(&e.method, 16),
            terminal(&e.path, 80),
            terminal(err, FIELD_MAX)
        );
    }
    // --forward-mode sync: the status above is what the provider got; say whose it was.
    for td in &e.delivery {
        let sync = store
            .forward_targets()
            .get(td.target as usize)
            .is_some_and(|t| t.mode == ForwardMode::Sync);
        if !sync {
            continue;
        }
        let _ = match td.state {
            DeliveryState::Delivered { status, .. } => {
                write!(line, "  (the backend's {status}, passed on)")
            }
            DeliveryState::Failed { status: Some(s) } if s == e.status => {
                write!(line, "  (the backend's {s}, passed on)")
            }
            DeliveryState::Failed { status: Some(s) } => write!(
                line,
                "  (the backend answered {s}; {} so that the stream goes on)",
                e.status
            ),
            DeliveryState::Failed { status: None } if (200..300).contains(&e.status) => {
                write!(
                    line,
                    "  (no answer from the backend; {} so that the stream goes on)",
                    e.status
                )
            }
            DeliveryState::Failed { status: None } => {
                write!(line, "  (no answer from the backend)")
            }
            DeliveryState::Pending | DeliveryState::Retrying => Ok(()),
        };
    }
    line
}

/// The headless view running: a task that prints what the store logs, as it is logged.
pub struct HeadlessView {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    progress: tokio::sync::watch::Receiver<u64>,
}

impl HeadlessView {
    /// Starts printing the entries of `shared` newer than `after_seq` (non-zero after
    /// `--resume`, so that old entries are not printed again): with `json` (a feed given),
    /// each line of `feed`, else the human lines of the store's log. Formats the store's
    /// part under the store lock and writes outside it, so ingest never waits on stdout; a
    /// closed stdout stops the printing, not the receiver.
    pub fn start(
        shared: Arc<crate::core::store::SharedStore>,
        feed: Option<Arc<Feed>>,
        after_seq: u64,
    ) -> HeadlessView {
        let (progress_tx, _) = tokio::sync::watch::channel(after_seq);
        Self::start_reporting(shared, feed, after_seq, progress_tx)
    }

    /// [`HeadlessView::start`], saying on `progress_tx` what it has written (see
    /// [`HeadlessView::progress`]): for a feeder started before the printer.
    pub fn start_reporting(
        shared: Arc<crate::core::store::SharedStore>,
        feed: Option<Arc<Feed>>,
        after_seq: u64,
        progress_tx: tokio::sync::watch::Sender<u64>,
    ) -> HeadlessView {
        let progress = progress_tx.subscribe();
        let mut changes = shared.subscribe();
        let (stop, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let mut printer = Printer::new(feed.is_some(), after_seq);
        printer.from_feed = feed.is_some();
        let mut lines = feed.map(|f| FeedPrinter::new(f, after_seq));
        let task = tokio::spawn(async move {
            let mut printing = true;
            let mut holding = false;
            let mut changes_open = true;
            loop {
                let feed_open = lines.as_ref().is_some_and(|l| l.open);
                let (last_round, from_feed) = tokio::select! {
                    r = changes.changed(), if changes_open => {
                        changes_open = r.is_ok();
                        (false, None)
                    }
                    text = async { lines.as_mut().expect("open").next().await }, if feed_open => {
                        (false, text)
                    }
                    _ = &mut stop_rx => (true, None),
                    _ = tokio::time::sleep(HOLD_TICK), if holding => (false, None),
                };
                let mut out = Output::default();
                if let Some(text) = from_feed {
                    out.stdout = text;
                }
                if last_round {
                    printer.flush();
                    if let Some(l) = &mut lines {
                        // Everything the receiver committed before it stopped.
                        l.drain();
                        while let Some(text) = l.next().await {
                            out.stdout.push_str(&text);
                            if out.stdout.len() >= 1 << 20 {
                                if printing && !write_output(&out) {
                                    printing = false;
                                }
                                out.stdout.clear();
                            }
                        }
                    }
                }
                if !from_feed_only(&out, last_round) {
                    let more = printer.take_new(&shared.lock());
                    holding = more.holding;
                    out.stdout.push_str(&more.stdout);
                    out.stderr = more.stderr;
                }
                if printing && !write_output(&out) {
                    printing = false;
                }
                // Written (or, once stdout is gone, never to be): a feeder that paces itself
                // on this may go on.
                let done = match &lines {
                    Some(l) => l.position(),
                    None => printer.last_seq(),
                };
                progress_tx.send_replace(if printing { done } else { u64::MAX });
                if last_round {
                    return;
                }
            }
        });
        HeadlessView {
            stop,
            task,
            progress,
        }
    }

    /// The seq of the last request written to stdout (`u64::MAX` once stdout is closed): a
    /// feeder that can wait (`recmon attach`, which reads a feed it can pause) paces itself on
    /// it, so that the bounded request log never drops a line before it is printed.
    pub fn progress(&self) -> tokio::sync::watch::Receiver<u64> {
        self.progress.clone()
    }

    /// Prints what is left (call after the receiver has drained) and stops.
    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_lines_name_the_receiver_they_reached() {
        let line = |seq: u64| {
            format!(
                r#"{{"seq":{seq},"received_at":"2026-11-27T12:00:00.000Z","remote":"r","method":"POST","path":"/cb","outcome":"accepted","status":200,"body":{{"domain":"d","app":"a","stream":"s","event":"record_started"}}}}"#
            )
        };
        let mut merge =
            crate::attach::merge::Merge::new(vec!["http://a".into(), "http://b".into()]);
        let mut store = Store::new(10);
        merge.apply(&mut store, 0, &line(1)).unwrap();
        merge.apply(&mut store, 1, &line(1)).unwrap();
        let a = human_line(&store.log()[0], &store);
        let b = human_line(&store.log()[1], &store);
        assert!(a.contains("  #1      A accepted "), "{a}");
        assert!(b.contains("  #2      B duplicate "), "{b}");
        // One receiver's own lines are as before: no source.
        let mut one = crate::attach::merge::Merge::new(vec!["http://a".into()]);
        let mut store = Store::new(10);
        one.apply(&mut store, 0, &line(1)).unwrap();
        let l = human_line(&store.log()[0], &store);
        assert!(l.contains("  #1      accepted  200  "), "{l}");
    }

    #[test]
    fn a_settled_line_is_told_by_its_last_field() {
        assert!(settles_a_pending_line(
            r#"{"seq":9,"outcome":"duplicate","body":{"a":1},"settles":7}"#
        ));
        assert!(!settles_a_pending_line(
            r#"{"seq":9,"outcome":"accepted","body":{"note":",\"settles\":7 is text"}}"#
        ));
        assert!(!settles_a_pending_line(r#"{"seq":9,"outcome":"accepted"}"#));
    }

    #[test]
    fn time_matches_the_journal_format() {
        for ms in [0i64, 1, 999, 1_795_780_800_123, 951_782_400_007] {
            let t = chrono::DateTime::from_timestamp_millis(ms).unwrap();
            let mut s = String::new();
            push_time(&mut s, t);
            assert_eq!(s, crate::core::journal::format_time(t));
        }
    }
}
