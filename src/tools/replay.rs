//! `recmon replay JOURNAL --to URL`: resends the accepted callbacks of a journal (and the
//! duplicates with `--with-duplicates`) to a receiver, in journal order, with their original
//! method, query and body byte for byte, at the recorded pace scaled by `--speed`.
//!
//! The journal is read on a blocking thread through [`pipeline::for_each_entry`] (the one
//! reader) and handed over a bounded channel, so a journal of any size replays in constant
//! memory. Rejected requests are never resent: they were not callbacks.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::cli::ReplayArgs;
use crate::core::journal::JournalEntry;
use crate::core::rebuild::for_each_entry;
use crate::error::AppError;
use crate::event::Outcome;
use crate::tools::client::{CallbackSender, Outgoing, Pacer, Stop, Tally, Target};
use crate::util::human;
use crate::util::output;
use crate::util::progress::{eprint_line, journal_bar};
use crate::util::sanitize::terminal;

/// Entries read ahead of the sender.
const READ_AHEAD: usize = 1024;

/// Whether an entry is resent.
pub fn is_replayed(entry: &JournalEntry, with_duplicates: bool) -> bool {
    replays(entry.outcome, with_duplicates)
}

fn replays(outcome: Outcome, with_duplicates: bool) -> bool {
    match outcome {
        Outcome::Accepted => true,
        Outcome::Duplicate => with_duplicates,
        // Never read (readers skip pending lines): its settled copy is the one resent.
        Outcome::Rejected | Outcome::Pending => false,
    }
}

/// The request an entry is resent as.
pub fn outgoing_for(entry: &JournalEntry, target: &Target) -> Result<Outgoing, String> {
    Ok(Outgoing {
        method: entry.method.clone(),
        uri: target.uri_for_recorded(&entry.path)?,
        content_type: entry.headers.get("content-type").cloned(),
        body: entry.body_raw().into(),
        headers: vec![("x-recmon-seq".to_string(), entry.seq.to_string())],
    })
}

/// The provider's signature headers as journaled, for a resend by `--seq` without
/// `--auth-key` (a backend checking them against its own key sees what it would have).
fn journaled_signature(entry: &JournalEntry) -> Vec<(String, String)> {
    entry
        .headers
        .iter()
        .filter(|(k, _)| k.starts_with("ali-live-"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// One report line on stderr; a closed stderr is ignored (the replay is stopped by
/// [`output::reader_gone`]).
fn say(line: &str) -> bool {
    output::eline(&format!("recmon replay: {line}"))
}

/// `recmon replay`.
pub async fn run(args: ReplayArgs) -> Result<(), AppError> {
    let target = Target::parse(&args.to).map_err(|e| AppError::new(2, e))?;
    let size = std::fs::metadata(&args.journal).map(|m| m.len()).map_err(|e| {
        AppError::new(
            1,
            format!(
                "cannot read the journal {}: {e}. Expected the path of a recmon journal (recmon-*.jsonl)",
                args.journal.display()
            ),
        )
    })?;
    let bar = journal_bar(size, "replay");
    let offset = Arc::new(AtomicU64::new(0));
    let (tx, mut rx) = mpsc::channel::<JournalEntry>(READ_AHEAD);
    let reader = {
        let path = args.journal.clone();
        let offset = offset.clone();
        let with_duplicates = args.with_duplicates;
        let only = args.seq.clone();
        tokio::task::spawn_blocking(move || {
            let mut skipped = 0u64;
            let mut listed_found: Vec<u64> = Vec::new();
            let read = for_each_entry(
                &path,
                |entry| {
                    let listed = match &only {
                        Some(list) => list.contains(entry.seq),
                        None => true,
                    };
                    let with_duplicates = with_duplicates || only.is_some();
                    if listed && only.is_some() && replays(entry.outcome, true) {
                        listed_found.push(entry.seq);
                    }
                    if !listed || !replays(entry.outcome, with_duplicates) {
                        skipped += 1;
                        return ControlFlow::Continue(());
                    }
                    match tx.blocking_send(entry.to_entry()) {
                        Ok(()) => ControlFlow::Continue(()),
                        // The sender stopped (the receiver went away): stop reading.
                        Err(_) => ControlFlow::Break(()),
                    }
                },
                |o| offset.store(o, Ordering::Relaxed),
            );
            (read, skipped, listed_found)
        })
    };

    let sender = CallbackSender::new(target, args.auth_key.clone(), "recmon-replay");
    say(&format!(
        "{} -> {} (speed {}{})",
        args.journal.display(),
        args.to,
        args.speed,
        if args.with_duplicates {
            ", with duplicates"
        } else {
            ""
        }
    ));
    // Listed seqs are resends of particular callbacks: sent one after the other, not at the
    // pace they were recorded (which could be hours apart).
    let mut pacer = Pacer::new(if args.seq.is_some() {
        crate::cli::Speed::Max
    } else {
        args.speed
    });
    let mut tally = Tally::default();
    tally.start();
    let mut first_at = None;
    let mut stopped: Option<Stop> = None;
    // Ctrl-C stops sending but still prints the summary of what was sent; a closed stderr
    // (nobody reads the report any more) stops it quietly.
    let interrupt = crate::signals::shutdown_signal();
    tokio::pin!(interrupt);
    let output_gone = output::reader_gone(output::Stream::Stderr);
    tokio::pin!(output_gone);
    loop {
        let entry = tokio::select! {
            e = rx.recv() => match e {
                Some(e) => e,
                None => break,
            },
            _ = &mut interrupt => {
                stopped = Some(Stop::Interrupted);
                break;
            }
            _ = &mut output_gone => {
                stopped = Some(Stop::OutputClosed);
                break;
            }
        };
        let t0 = *first_at.get_or_insert(entry.received_at);
        let gap = (entry.received_at - t0).num_milliseconds() as f64 / 1000.0;
        tokio::select! {
            _ = pacer.wait(gap) => {}
            _ = &mut interrupt => {
                stopped = Some(Stop::Interrupted);
                break;
            }
            _ = &mut output_gone => {
                stopped = Some(Stop::OutputClosed);
                break;
            }
        }
        let out = match outgoing_for(&entry, sender.target()) {
            Ok(mut o) => {
                if args.seq.is_some() && args.auth_key.is_none() {
                    o.headers.extend(journaled_signature(&entry));
                }
                o
            }
            Err(e) => {
                stopped = Some(Stop::Failed(e));
                break;
            }
        };
        let what = format!(
            "#{} {} {}",
            entry.seq,
            entry.method,
            terminal(&entry.path, 120)
        );
        match sender.send(out).await {
            Ok(answer) => {
                tally.record(&answer);
                if !answer.is_success() {
                    eprint_line(
                        &bar,
                        &format!(
                            "recmon replay: {what} -> {}: {}",
                            answer.status,
                            answer.body_excerpt()
                        ),
                    );
                }
            }
            Err(e) => {
                tally.failed += 1;
                stopped = Some(Stop::Failed(format!("{what}: {e}")));
                break;
            }
        }
        bar.set_position(offset.load(Ordering::Relaxed));
        bar.set_message(format!("{} sent", human::thousands(tally.answered)));
    }
    drop(rx);
    bar.finish_and_clear();
    let (read, skipped, listed_found) = reader
        .await
        .map_err(|e| AppError::new(1, format!("the journal reader failed: {e}")))?;
    let read = read.map_err(|e| {
        AppError::new(
            1,
            format!("cannot read the journal {}: {e}", args.journal.display()),
        )
    })?;
    for p in &read.problems {
        say(&format!("{}: {p}", args.journal.display()));
    }
    if let Some(list) = &args.seq {
        // Seqs asked for that are no callback of this journal: say which, not "resent 0".
        let mut missing = Vec::new();
        let mut missing_count = 0u64;
        for r in &list.0 {
            for seq in r.clone() {
                if listed_found.binary_search(&seq).is_err() {
                    missing_count += 1;
                    if missing.len() < 20 {
                        missing.push(seq.to_string());
                    }
                }
                if missing_count > 1_000_000 {
                    break;
                }
            }
        }
        if missing_count > 0 {
            say(&format!(
                "--seq: {} not a callback in {} (not there, rejected, or a delivery line): {}{}",
                human::count(missing_count, "seq is", "seqs are"),
                args.journal.display(),
                missing.join(", "),
                if missing_count > missing.len() as u64 {
                    ", …"
                } else {
                    ""
                }
            ));
            if listed_found.is_empty() && stopped.is_none() {
                stopped = Some(Stop::Failed(
                    "none of the seqs given with --seq is a callback in this journal".into(),
                ));
            }
        }
    }
    say(&format!(
        "resent {} to {}; {} not resent ({}); {}",
        human::count(tally.answered, "request", "requests"),
        args.to,
        human::count(skipped, "journal entry", "journal entries"),
        if args.with_duplicates {
            "rejected requests"
        } else {
            "rejected requests and duplicates; add --with-duplicates to send duplicates too"
        },
        tally.summary()
    ));
    tally.outcome("replay", stopped)
}
