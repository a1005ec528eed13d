//! The `recmon` binary: parse the command line, pick a mode, wire it, map errors to exit codes.
//!
//! The receiver is a [`Service`]; the terminal UI and the headless printer are views given a
//! [`ViewSource`]. This file is the only place that connects the two, and [`pick_view`] the
//! only place that decides which view a session gets (the receiver's and `recmon attach`'s).

use clap::Parser;
use recmon::attach::Attachment;
use recmon::cli::{AttachArgs, Cli, Command, RunArgs, ViewArgs};
use recmon::core::store::{SharedStore, Store};
use recmon::error::AppError;
use recmon::service::Service;
use recmon::signals::ShutdownSignal;
use recmon::tools::{export, replay, report, simulate};
use recmon::util::human::count;
use recmon::util::output::eline;
use recmon::util::output::{reader_gone, Stream};
use recmon::views::{headless::HeadlessView, tui, AttachedInfo, Notice, Origin, ViewSource};

// mimalloc: the request path allocates many small short-lived buffers across threads, which
// glibc's malloc serves with arena lock contention (seen in perf under load).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What `e` in the terminal UI runs: the session-log export in the folder typed (at first
/// the journal's).
fn session_exporter() -> tui::Exporter {
    std::sync::Arc::new(|src: &tui::ExportSource| {
        let journal = src.journal_path.as_ref().ok_or_else(|| {
            "nothing to export: recmon runs with --no-journal, so no session log is kept"
                .to_string()
        })?;
        export::export_session_in(journal, src.folder.as_deref())
            .map(|e| e.paths())
            .map_err(|e| e.to_string())
    })
}

/// The view a session gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    /// The terminal UI.
    Tui,
    /// The headless printer, one human-readable line per request.
    Lines,
    /// The headless printer, each journal line as it is (NDJSON).
    Json,
}

impl View {
    fn is_headless(self) -> bool {
        self != View::Tui
    }
}

/// Picks the view, for the receiver and `recmon attach` alike: headless when asked for
/// (`--headless`, or `--json`, which implies it) or when stdout is not a terminal.
fn pick_view(headless: bool, json: bool) -> View {
    use std::io::IsTerminal;
    if json {
        View::Json
    } else if headless || !std::io::stdout().is_terminal() {
        View::Lines
    } else {
        View::Tui
    }
}

/// With a headless view: waits for Ctrl-C, SIGTERM or SIGHUP, or for stdout's reader to go
/// away (`recmon … | head -2` after head exits), which ends the session like SIGTERM: nobody
/// reads the stream any more, and it must not keep running unseen. Says why, for the
/// shutdown line ("" for a signal).
async fn headless_until_stopped(signals: &mut ShutdownSignal) -> &'static str {
    tokio::select! {
        _ = signals.wait() => "",
        _ = reader_gone(Stream::Stdout) => "stdout was closed (its reader exited); ",
    }
}

fn init_tracing(args: &ViewArgs, headless: bool) -> Result<(), AppError> {
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(if args.log_file.is_some() {
                "info"
            } else {
                "warn"
            })
        })
    };
    // `try_init`: when a subscriber is already set (tests, embedding), keep it.
    match &args.log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| {
                    AppError::new(
                        1,
                        format!(
                            "cannot open the log file {}: {e}. Pick a writable path with --log-file",
                            path.display()
                        ),
                    )
                })?;
            let _ = tracing_subscriber::fmt()
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false)
                .with_env_filter(filter())
                .try_init();
        }
        None if headless => {
            let _ = tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .with_env_filter(filter())
                .try_init();
        }
        None => {}
    }
    Ok(())
}

/// Runs the receiver with one view (the terminal UI, or the headless printer) until the view
/// is closed, Ctrl-C or SIGTERM; then drains the receiver and prints the summary.
async fn run_receiver(args: RunArgs) -> Result<(), AppError> {
    // Before anything starts: a signal during start-up still means a graceful shutdown. SIGHUP
    // (a closed terminal, a dropped ssh session) too, unless it was ignored (nohup).
    let mut signals = ShutdownSignal::register_with_hangup();
    let view = pick_view(args.view.headless, args.view.json);
    init_tracing(&args.view, view.is_headless())?;
    // Started before the screen is taken over, so that an error (port in use, journal not
    // writable) is printed on a normal terminal.
    let service = Service::start(args.service_config(chrono::Utc::now())?).await?;
    // Once the listener verifies signatures (--auth-key, --tencent-key), the demo signs with
    // the same keys.
    let demo = args.demo.then(|| {
        tokio::spawn(simulate::run_demo(
            service.addr,
            args.auth.auth_key.clone(),
            args.auth.tencent_key.clone(),
        ))
    });
    let demo_line = format!(
        "recmon: demo: simulating {} against http://{}/recmon; Ctrl-C to stop",
        simulate::demo_description(),
        service.addr
    );
    // Where the journal ended at start (the views print only what comes after).
    let after_seq = service.facts.last_seq;
    let view_result = if view.is_headless() {
        for l in service.banner() {
            eline(&l);
        }
        if demo.is_some() {
            eline(&demo_line);
        }
        // --json prints the receiver's feed; the human lines, the store's log.
        let feed = (view == View::Json).then(|| service.feed.clone());
        let printer = HeadlessView::start(service.shared.clone(), feed, after_seq);
        let why = headless_until_stopped(&mut signals).await;
        eline(&format!(
            "recmon: {why}shutting down: finishing requests in flight, syncing the journal"
        ));
        if let Some(d) = &demo {
            d.abort();
        }
        let summary = service.shutdown().await;
        printer.finish().await;
        for l in summary.lines() {
            eline(&l);
        }
        return summary.exit_status();
    } else {
        let source = ViewSource {
            shared: service.shared.clone(),
            feed: service.feed.clone(),
            origin: Origin::Local(tui::HeaderInfo {
                listen: service.addr,
                loopback_only: service.loopback_only,
                signature_checking: service.auth.is_some(),
                journal_path: service.journal_path.clone(),
                started_at: service.facts.started_at,
            }),
            journal_path: service.journal_path.clone(),
            // The resume report went to stderr before the screen took over; repeat it where
            // the operator can see it.
            notice: service.resumed.as_ref().map(|r| Notice {
                text: format!(
                    "resumed {} from {}; seq continues at {}{}",
                    count(r.entries, "entry", "entries"),
                    r.journal.display(),
                    r.last_seq + 1,
                    if r.problems.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " ({} skipped; details on exit and in the log)",
                            count(r.problems.len() as u64, "damaged line", "damaged lines")
                        )
                    }
                ),
                error: !r.problems.is_empty(),
            }),
            bell: args.alerts.bell,
        };
        tui::run(source, Some(session_exporter()), &mut signals).await
    };
    if let Some(d) = &demo {
        d.abort();
    }
    eline("recmon: shutting down: finishing requests in flight, syncing the journal");
    let summary = service.shutdown().await;
    for l in summary.lines() {
        eline(&l);
    }
    view_result.map_err(|message| AppError::new(1, message))?;
    summary.exit_status()
}

/// Follows one or more receivers' feeds with one view (the terminal UI, or the headless
/// printer) until the view is closed, Ctrl-C or SIGTERM. Read-only: the receivers only ever
/// get `GET /api/events`.
async fn run_attach(args: AttachArgs) -> Result<(), AppError> {
    // With SIGHUP: a view's terminal is often an ssh session that drops.
    let mut signals = ShutdownSignal::register_with_hangup();
    let view = pick_view(args.headless, args.json);
    // Headless, the printer shows every entry: the attachment waits for it rather than let
    // the bounded request log drop a line before it is printed.
    let mut store = Store::new(args.log_capacity);
    // The same alert engine as a receiver's, on what the receivers send.
    if let Some(cfg) = args.alerts.enabled() {
        store.set_alert_config(cfg);
    }
    let sinks = args.alerts.sinks()?;
    let shared = SharedStore::new(store);
    let alerting = recmon::alerting::start(shared.clone(), sinks);
    // Headless, the attachment is paced by the printer: --json prints the attachment's feed
    // and may be as far behind as the feed's memory; the human lines read the store's log.
    let (printer_view, mut attachment) = match view {
        View::Json => {
            let (progress, pace) = tokio::sync::watch::channel(0);
            let room = recmon::core::feed::RING_CAPACITY;
            let attachment =
                Attachment::start_paced(args.attach_config(), shared.clone(), Some((pace, room)))
                    .map_err(|m| AppError::new(2, m))?;
            let feed = Some(attachment.feed.clone());
            let printer = HeadlessView::start_reporting(shared, feed, 0, progress);
            (Some(printer), attachment)
        }
        View::Lines => {
            let printer = HeadlessView::start(shared.clone(), None, 0);
            let pace = Some((printer.progress(), args.log_capacity));
            let attachment = Attachment::start_paced(args.attach_config(), shared, pace)
                .map_err(|m| AppError::new(2, m))?;
            (Some(printer), attachment)
        }
        View::Tui => {
            let attachment = Attachment::start_paced(args.attach_config(), shared, None)
                .map_err(|m| AppError::new(2, m))?;
            (None, attachment)
        }
    };
    let keep = args.save.is_some();
    let copy_line = |received: u64| {
        if keep {
            format!(
                "recmon: attach: {} received; all kept in {}",
                count(received, "entry", "entries"),
                attachment_copy_display(&args.save)
            )
        } else {
            format!(
                "recmon: attach: {} received (use --save FILE to keep them)",
                count(received, "entry", "entries")
            )
        }
    };
    let view_result = if let Some(printer) = printer_view {
        let urls: Vec<String> = args
            .urls
            .iter()
            .map(|u| recmon::util::sanitize::terminal(u, 300).into_owned())
            .collect();
        eline(&format!(
            "recmon: attached (read-only) to {}; Ctrl-C to stop",
            urls.join(", ")
        ));
        // Source state changes go to stderr, so that stdout stays the entries alone.
        let changes = attachment.changes.take().map(|mut rx| {
            tokio::spawn(async move {
                while let Some(change) = rx.recv().await {
                    eline(&format!("recmon: attach: {}", change.describe()));
                }
            })
        });
        headless_until_stopped(&mut signals).await;
        alerting.abort();
        let summary = attachment.finish().await;
        printer.finish().await;
        if let Some(c) = changes {
            c.abort();
        }
        eline(&copy_line(summary.received));
        return copy_result(summary);
    } else {
        // The header shows the sources' states; the change messages are for a printer only,
        // and must not pile up unread.
        drop(attachment.changes.take());
        let source = ViewSource {
            shared: attachment.shared.clone(),
            feed: attachment.feed.clone(),
            origin: Origin::Attached(AttachedInfo {
                sources: attachment.statuses.clone(),
                copy_path: attachment.copy_path.clone(),
            }),
            journal_path: Some(attachment.copy_path.clone()),
            notice: None,
            bell: args.alerts.bell,
        };
        tui::run(source, Some(session_exporter()), &mut signals).await
    };
    alerting.abort();
    let summary = attachment.finish().await;
    eline(&copy_line(summary.received));
    view_result.map_err(|message| AppError::new(1, message))?;
    copy_result(summary)
}

fn attachment_copy_display(save: &Option<std::path::PathBuf>) -> String {
    save.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// A copy that could not be written is an error at exit (the view itself showed everything).
fn copy_result(summary: recmon::attach::Summary) -> Result<(), AppError> {
    match summary.copy_error {
        None => Ok(()),
        Some(e) => Err(AppError::new(
            1,
            format!("attach: the copy of the received entries could not be written ({e}); `e` and --save miss the entries after that point"),
        )),
    }
}

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("recmon: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Some(Command::Export(args)) => {
                // Installed before the export starts: a Ctrl-C as soon as its temporary file
                // exists must reach the clean-up, not the default action (seen in CI).
                let mut signals = recmon::signals::ShutdownSignal::register();
                let signals = async move { signals.wait().await };
                let export = tokio::task::spawn_blocking(move || export::run(args));
                tokio::select! {
                    done = export => done.unwrap_or_else(|e| {
                        Err(AppError::new(1, format!("export failed: {e}")))
                    }),
                    // The export thread cannot be stopped, but its -o file can be left as it
                    // was: remove the unfinished temporary file, then exit.
                    _ = signals => {
                        export::remove_unfinished();
                        Err(AppError::new(
                            130,
                            "export interrupted; an -o file was left as it was",
                        ))
                    }
                }
            }
            Some(Command::Replay(args)) => replay::run(args).await,
            Some(Command::Report(args)) => tokio::task::spawn_blocking(move || report::run(args))
                .await
                .unwrap_or_else(|e| Err(AppError::new(1, format!("report failed: {e}")))),
            Some(Command::Simulate(args)) => simulate::run(args).await,
            Some(Command::Verify(args)) => recmon::tools::verify::run(args).await,
            Some(Command::Reconcile(args)) => recmon::tools::reconcile::run(args).await,
            Some(Command::Attach(args)) => run_attach(args).await,
            None => run_receiver(cli.run).await,
        }
    });
    if let Err(e) = result {
        // Not eprintln!: it panics when stderr is a closed pipe (`… 2>&1 | head -1`).
        eline(&format!("recmon: {e}"));
        std::process::exit(e.code);
    }
}
