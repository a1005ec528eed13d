//! `--resume`: where the journal's tail is, the background rebuild, and what it reports.

use super::*;

/// What `--resume` found in the journal it rebuilt the state from.
#[derive(Debug, Clone)]
pub struct ResumeReport {
    /// The journal.
    pub journal: PathBuf,
    /// Entries applied.
    pub entries: u64,
    /// The highest seq in the journal; new requests continue after it.
    pub last_seq: u64,
    /// Garbled middle lines and a cut-off last line, described (line number, byte offset).
    pub problems: Vec<String>,
    /// Callbacks the journal still owed the forwarding targets (sent again now).
    pub owed: usize,
}

impl ResumeReport {
    /// The closing line: how many entries, from where, and where seq continues.
    pub fn summary_line(&self) -> String {
        let mut line = format!(
            "recmon: resumed {} from {}; new requests continue at seq {}",
            count(self.entries, "entry", "entries"),
            self.journal.display(),
            thousands(self.last_seq + 1)
        );
        if !self.problems.is_empty() {
            line.push_str(&format!(
                "; {} skipped, listed above",
                count(self.problems.len() as u64, "damaged line", "damaged lines")
            ));
        }
        line
    }
}

/// Damaged lines printed one by one at resume before the rest are only counted.
pub(super) const PROBLEMS_SHOWN: usize = 20;

/// Damaged lines quoted when a file is refused as not a journal.
pub(super) const REFUSAL_LINES_SHOWN: usize = 3;

/// How long [`Service::start`] waits for a background rebuild before it returns anyway (the
/// banner, then the views, come after it). A journal that rebuilds within it starts as it
/// always did: its report printed first, the views on the whole state. A longer rebuild goes
/// on behind the views, which say "rebuilding N%". Callbacks are answered from the start
/// either way: the listener does not wait for this.
pub const RESUME_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// What `--resume` learns before the listener answers, without reading the journal: its
/// length now (the rebuild reads that much; this receiver appends after it), the seq to
/// continue from (read from its tail), and when the file was last written.
pub(super) struct ResumeStart {
    pub(super) path: PathBuf,
    pub(super) len: u64,
    pub(super) last_seq: u64,
}

/// Why `--resume` cannot read `path`, and what to do.
pub(super) fn cannot_resume(path: &Path, e: &dyn fmt::Display) -> AppError {
    AppError::new(
        1,
        format!(
            "cannot resume from {}: {e}. Expected an existing recmon journal; to start a new one use --journal PATH",
            path.display()
        ),
    )
}

/// The part of `--resume` done before the listener answers: a file that has lines but not
/// one journal entry (a CSV, a log, the wrong file) is refused, untouched (resuming it would
/// append journal lines to someone else's file); it reads lines only up to the first entry,
/// so a journal is told at once. Then the last seq, from the tail.
pub(super) fn start_resume(path: &Path) -> Result<ResumeStart, AppError> {
    let meta = std::fs::metadata(path).map_err(|e| cannot_resume(path, &e))?;
    let len = meta.len();
    if let Some(lines) = lines_before_an_entry(path, len).map_err(|e| cannot_resume(path, &e))? {
        return Err(not_a_journal(path, lines));
    }
    let last_seq =
        crate::core::journal::tail_seq(path, len).map_err(|e| cannot_resume(path, &e))?;
    Ok(ResumeStart {
        path: path.to_path_buf(),
        len,
        last_seq,
    })
}

/// `Some(n)` when the first `len` bytes of `path` hold `n` > 0 damaged lines and no journal
/// line; `None` as soon as a journal line is read (or for an empty file).
pub(super) fn lines_before_an_entry(path: &Path, len: u64) -> std::io::Result<Option<u64>> {
    let mut damaged = 0;
    let mut reader = JournalReader::open_prefix(path, len)?;
    while let Some(item) = reader.next_ref() {
        match item? {
            crate::core::journal::ItemRef::Damaged(_) => damaged += 1,
            _ => return Ok(None),
        }
    }
    Ok((damaged > 0).then_some(damaged))
}

/// What a background rebuild made, for the hand-over.
pub(super) struct Rebuild {
    pub(super) store: Store,
    pub(super) deduper: Deduper,
    pub(super) unsettled: Vec<crate::core::rebuild::Unsettled>,
    pub(super) report: ResumeReport,
    pub(super) recovery: Recovery,
}

/// Rebuilds the store and the deduper from what the journal held at start, on a thread of
/// its own while the listener answers: the stand-in store in `shared` shows how far it got
/// ("rebuilding N%"), and so does `bar` while start-up waits for it ([`RESUME_WAIT`]). Damaged
/// lines, then a count, are printed on stderr (not while the terminal UI owns the screen).
/// `None` when `cancel` stopped it (shutdown).
pub(super) fn rebuild_for_resume(
    start: &ResumeStart,
    log_capacity: usize,
    shared: &SharedStore,
    bar: &indicatif::ProgressBar,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<Option<Rebuild>, AppError> {
    let path = &start.path;
    let mut store = Store::new(log_capacity);
    let mut deduper = Deduper::default();
    // Read whether or not this run forwards: what the journal still owes a target that is
    // not given now is reported.
    let mut recovery = Recovery::default();
    let mut shown = 0;
    let (rebuilt, unsettled) = crate::core::rebuild::rebuild_prefix(
        path,
        start.len,
        &mut store,
        &mut deduper,
        |read| {
            bar.set_position(read);
            let progress = crate::core::rebuild::RebuildProgress {
                read,
                total: start.len,
            };
            if progress.percent() != shown {
                shown = progress.percent();
                shared.lock().set_rebuilding(Some(progress));
                shared.notify();
            }
        },
        |line, cb| recovery.observe(line, cb),
        cancel,
    )
    .map_err(|e| cannot_resume(path, &e))?;
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(None);
    }
    if rebuilt.last_seq > start.last_seq {
        // Only a journal whose lines are out of seq order (not one recmon wrote) gets here.
        tracing::error!(
            "{}: seq {} is in the journal before its last line's seq {}; new lines continue at {}, so seq numbers repeat",
            path.display(),
            rebuilt.last_seq,
            start.last_seq,
            start.last_seq + 1
        );
    }
    let report = ResumeReport {
        journal: path.to_path_buf(),
        entries: rebuilt.entries,
        last_seq: start.last_seq,
        problems: rebuilt.problems,
        owed: recovery.owed(),
    };
    for p in report.problems.iter().take(PROBLEMS_SHOWN) {
        eprint_line(bar, &format!("recmon: resume: {}: {p}", path.display()));
    }
    if report.problems.len() > PROBLEMS_SHOWN {
        eprint_line(
            bar,
            &format!(
                "recmon: resume: … and {}",
                count(
                    (report.problems.len() - PROBLEMS_SHOWN) as u64,
                    "more damaged line",
                    "more damaged lines"
                )
            ),
        );
    }
    Ok(Some(Rebuild {
        store,
        deduper,
        unsettled,
        report,
        recovery,
    }))
}

/// The refusal of a file with `lines` lines, none of them a journal entry: which lines, why,
/// and what a journal line looks like. The file is read again for the first few lines' reasons
/// (only on this error path, so the rebuild keeps no per-line detail it rarely needs).
pub(super) fn not_a_journal(path: &Path, lines: u64) -> AppError {
    let mut reasons = Vec::new();
    if let Ok(reader) = JournalReader::open(path) {
        for item in reader.map_while(Result::ok).take(REFUSAL_LINES_SHOWN) {
            reasons.push(match item {
                ReadItem::Garbled { line, error, .. } => format!("  line {line}: {error}"),
                ReadItem::PartialTail { line, bytes, .. } => format!(
                    "  line {line}: {} with no newline at the end, not a journal entry",
                    count(bytes, "byte", "bytes")
                ),
                ReadItem::Entry(_)
                | ReadItem::Delivery(_)
                | ReadItem::Verdict(_)
                | ReadItem::Reconciled(_)
                | ReadItem::ReconcileRun(_)
                | ReadItem::Alert(_) => continue,
            });
        }
    }
    if lines > reasons.len() as u64 {
        reasons.push(format!(
            "  … {} not shown",
            count(lines - reasons.len() as u64, "more line", "more lines")
        ));
    }
    AppError::new(
        2,
        format!(
            "{} is not a recmon journal: {} a journal entry, so --resume leaves it untouched.\n{}\nA journal holds {}.\nGive --resume the recmon-*.jsonl file of the session to continue, or start a new journal with --journal NEW.jsonl",
            path.display(),
            if lines == 1 {
                "its one line is not".to_string()
            } else {
                format!("none of its {} lines is", thousands(lines))
            },
            reasons.join("\n"),
            LINE_SHAPE
        ),
    )
}
