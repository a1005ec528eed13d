//! The live terminal UI: the view an operator keeps open for hours during a broadcast.
//!
//! One async loop waits on four things at once — terminal input, store changes (the store's
//! watch channel), a one-second clock tick, and Ctrl-C/SIGTERM — and redraws only when one of
//! them changed something, at most about 30 times a second. Rendering reads the store under
//! its lock for the time it takes to build the visible rows (never the terminal I/O), so
//! ingest never waits on the screen.
//!
//! The terminal is restored in every case: on quit, on SIGTERM, on a panic in any thread or
//! task (a panic hook restores it before the panic message is printed), and on start-up
//! errors (the listener is started before the screen is taken over).
//!
//! Files: [`state`] (view state only), [`filter`] (the `/` filter language), [`index`] (the
//! row lists the panels show, kept up to date incrementally), [`source`] (what a frame
//! reads from the store), [`keys`] (bindings as data + actions), `screen` (the prepare step
//! and the render entry point and layout), and one small file per part of the screen.

mod detail;
pub mod filter;
mod footer;
mod header;
pub mod index;
pub mod keys;
mod popup;
mod recordings;
mod requests;
mod screen;
pub mod source;
pub mod state;
mod streams;
pub mod text;
pub mod theme;
mod widgets;

use std::io::{self, Stdout};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use chrono::Utc;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event, EventStream, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use futures::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::sync::{mpsc, Notify};
use tokio::time::{Instant, MissedTickBehavior};

pub use header::Context;
pub use header::HeaderInfo;
pub use keys::{handle_key, handle_mouse, Action, Effect};
pub use screen::{busy, draw_origin, prepare, render, render_origin};
pub use state::{Panel, ViewState};
pub use widgets::{MIN_HEIGHT, MIN_WIDTH};

use crate::core::store::SharedStore;
use crate::signals::ShutdownSignal;
use crate::views::ViewSource;
use state::{Toast, TOAST_SECS};
use text::clean;
use theme::Theme;

/// Shortest time between two frames (about 30 frames a second).
const FRAME: Duration = Duration::from_millis(33);

/// What an exporter gets to work with.
pub struct ExportSource {
    /// The session's journal, if it writes one.
    pub journal_path: Option<PathBuf>,
    /// The live store.
    pub shared: Arc<SharedStore>,
    /// The folder the export goes in, as typed after `e` (`None`: beside the journal).
    pub folder: Option<PathBuf>,
}

/// Writes the session-log export and returns the files written, or a message for the user.
/// Run off the UI loop (on a blocking thread), so it may take its time.
pub type Exporter = Arc<dyn Fn(&ExportSource) -> Result<Vec<PathBuf>, String> + Send + Sync>;

/// Runs the terminal UI on `source` until `q`, Ctrl-C or SIGTERM (or a panic elsewhere).
/// `exporter` is what `e` runs; with `None` the key says that export is not available. It
/// starts and stops nothing else: the caller owns the receiver (or the attach client) and
/// shuts it down afterwards. `Err` is a message for the user (the terminal could not be set
/// up).
pub async fn run(
    source: ViewSource,
    exporter: Option<Exporter>,
    signals: &mut ShutdownSignal,
) -> Result<(), String> {
    let export_source = Arc::new(ExportSource {
        journal_path: source.journal_path.clone(),
        shared: source.shared.clone(),
        folder: None,
    });
    let mut view = ViewState::new(Theme::from_env(), false);
    view.bell = source.bell;
    // `e` asks where to write, starting from the journal's folder.
    if exporter.is_some() {
        view.export_folder = source.journal_path.as_deref().map(journal_folder);
    }
    if let Some(notice) = &source.notice {
        view.toast = Some(Toast {
            // The footer wraps it: the whole text (a path, say) is shown.
            text: crate::util::sanitize::terminal(&notice.text, 4096).into_owned(),
            until: Utc::now() + chrono::Duration::seconds(20),
            error: notice.error,
        });
    }
    match TerminalGuard::enter() {
        Ok((guard, mut terminal)) => {
            debug_panic_trigger();
            let r = event_loop(
                &mut terminal,
                &source.shared,
                &source.origin,
                &mut view,
                exporter,
                export_source,
                signals,
            )
            .await;
            drop(terminal);
            drop(guard);
            r
        }
        Err(e) => Err(format!("cannot set up the terminal: {e}")),
    }
}

/// Whether recmon currently owns the terminal (raw mode, alternate screen, mouse capture).
static TERMINAL_ACTIVE: AtomicBool = AtomicBool::new(false);
/// Set by the panic hook: the loop then stops drawing and shuts down.
static PANICKED: AtomicBool = AtomicBool::new(false);
/// Wakes the loop when a panic happened elsewhere.
static PANIC_WAKE: Notify = Notify::const_new();
static PANIC_HOOK: Once = Once::new();

/// Gives the terminal back: mouse capture off, main screen, cooked mode, cursor shown.
/// Idempotent, and safe from any thread (the panic hook calls it).
fn restore_terminal() {
    if TERMINAL_ACTIVE.swap(false, Ordering::SeqCst) {
        crate::util::progress::set_screen_owned(false);
        let _ = execute!(
            io::stdout(),
            DisableMouseCapture,
            LeaveAlternateScreen,
            crossterm::cursor::Show
        );
        let _ = disable_raw_mode();
    }
}

/// Restores the terminal before any panic message is printed, in whichever thread or task
/// panicked (tokio catches panics in spawned tasks, but the hook still runs first), and
/// tells the loop to shut down rather than draw over the message.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            PANICKED.store(true, Ordering::SeqCst);
            PANIC_WAKE.notify_one();
            previous(info);
        }));
    });
}

/// Owns the terminal while alive; dropping it restores the terminal.
struct TerminalGuard;

type Term = Terminal<CrosstermBackend<Stdout>>;

impl TerminalGuard {
    fn enter() -> io::Result<(TerminalGuard, Term)> {
        install_panic_hook();
        enable_raw_mode()?;
        TERMINAL_ACTIVE.store(true, Ordering::SeqCst);
        crate::util::progress::set_screen_owned(true);
        // From here on, an error drops the guard, which restores what was set.
        let guard = TerminalGuard;
        execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
        let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        terminal.clear()?;
        Ok((guard, terminal))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Debug builds only: `RECMON_DEBUG_PANIC_IN_TASK_MS=N` panics in a spawned task N ms after
/// the screen is up, so that the end-to-end test can check the terminal is restored. Release
/// builds do not contain it.
fn debug_panic_trigger() {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("RECMON_DEBUG_PANIC_IN_TASK_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            panic!("RECMON_DEBUG_PANIC_IN_TASK_MS: deliberate panic in a spawned task");
        });
    }
}

async fn event_loop(
    terminal: &mut Term,
    shared: &Arc<SharedStore>,
    origin: &crate::views::Origin,
    view: &mut ViewState,
    exporter: Option<Exporter>,
    export_source: Arc<ExportSource>,
    signals: &mut crate::signals::ShutdownSignal,
) -> Result<(), String> {
    let mut events = EventStream::new();
    // The alert events already rung for (`--bell`).
    let mut rung = shared.lock().alerts().logged();
    let mut changes = shared.subscribe();
    let mut changes_open = true;
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    clock.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let shutdown = signals.wait();
    tokio::pin!(shutdown);
    let (export_tx, mut export_rx) = mpsc::unbounded_channel::<Result<Vec<PathBuf>, String>>();

    let mut dirty = true;
    // A new filter is still being applied: the next frame (the next chunk of it) is drawn
    // at once rather than a frame period later. The store lock is released between frames,
    // so ingest waits at most one chunk.
    let mut filtering = false;
    let mut last_draw: Option<Instant> = None;
    loop {
        if PANICKED.load(Ordering::SeqCst) {
            return Err("a thread or task panicked (message above); shut down cleanly".into());
        }
        if dirty && (filtering || last_draw.is_none_or(|t| t.elapsed() >= FRAME)) {
            let now = Utc::now();
            let mut more = false;
            let mut ring = false;
            terminal
                .draw(|frame| {
                    // The lock is held to build the frame only; the terminal write happens
                    // after the closure returns.
                    let store = shared.lock();
                    prepare(view, &store, frame.area(), now);
                    draw_origin(frame, &store, view, now, origin);
                    more = busy(&store, view);
                    let log = store.alerts().log();
                    let start = log.partition_point(|(n, _)| *n <= rung);
                    ring = log.range(start..).any(|(_, e)| {
                        !e.resolved() && e.alert.severity == crate::core::alerts::Severity::Critical
                    });
                    rung = store.alerts().logged();
                })
                .map_err(|e| format!("cannot draw on the terminal: {e}"))?;
            if ring && view.bell {
                // BEL moves nothing on the screen; the terminal beeps or flashes.
                let _ = io::Write::write_all(&mut io::stdout(), b"\x07");
                let _ = io::Write::flush(&mut io::stdout());
            }
            last_draw = Some(Instant::now());
            dirty = more;
            filtering = more;
        }
        let next_frame = match last_draw {
            Some(t) if !filtering => t + FRAME,
            _ => Instant::now(),
        };
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            _ = PANIC_WAKE.notified() => {}
            ev = events.next() => {
                dirty = true;
                match ev {
                    Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                        let effect = {
                            let store = shared.lock();
                            handle_key(view, &key, &store, Utc::now())
                        };
                        match effect {
                            Effect::Quit => return Ok(()),
                            Effect::Export => start_export(view, &exporter, &export_source, &export_tx),
                            Effect::Redraw => {}
                        }
                    }
                    Some(Ok(Event::Mouse(m))) => {
                        let store = shared.lock();
                        handle_mouse(view, &m, &store, Utc::now());
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(format!("cannot read the terminal: {e}")),
                    None => return Ok(()),
                }
            }
            r = changes.changed(), if changes_open => {
                changes_open = r.is_ok();
                dirty = true;
            }
            _ = clock.tick() => dirty = true,
            Some(result) = export_rx.recv() => {
                view.toast = Some(export_toast(result));
                dirty = true;
            }
            _ = tokio::time::sleep_until(next_frame), if dirty => {}
        }
    }
}

/// The journal's folder, as an absolute path (what `e` offers first).
fn journal_folder(journal: &std::path::Path) -> String {
    let parent = match journal.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let folder = std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf());
    folder.display().to_string()
}

/// The folder typed after `e`: `~/` is the home folder; a relative path is taken from the
/// folder recmon was started in. It must exist (a typo is not silently created).
fn export_folder(typed: &str) -> Result<PathBuf, String> {
    let path = match typed.strip_prefix("~/").or((typed == "~").then_some("")) {
        Some(rest) => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(rest),
            None => PathBuf::from(typed),
        },
        None => PathBuf::from(typed),
    };
    if path.is_dir() {
        Ok(path)
    } else {
        Err(clean(
            &format!(
                "export: no folder {}: type one that exists (e), Esc closes this",
                path.display()
            ),
            4096,
        ))
    }
}

/// Runs the exporter on a blocking thread, in the folder typed after `e`; its result comes
/// back as a toast.
fn start_export(
    view: &mut ViewState,
    exporter: &Option<Exporter>,
    source: &Arc<ExportSource>,
    tx: &mpsc::UnboundedSender<Result<Vec<PathBuf>, String>>,
) {
    let now = Utc::now();
    let folder = match view.export_folder.as_deref().map(export_folder).transpose() {
        Ok(folder) => folder,
        Err(text) => {
            view.toast = Some(Toast {
                text,
                until: now + chrono::Duration::seconds(TOAST_SECS * 2),
                error: true,
            });
            return;
        }
    };
    let Some(exporter) = exporter.clone() else {
        view.toast = Some(Toast {
            text: "export: not available in this build".into(),
            until: now + chrono::Duration::seconds(TOAST_SECS),
            error: false,
        });
        return;
    };
    view.toast = Some(Toast {
        text: "export: writing…".into(),
        until: now + chrono::Duration::seconds(60),
        error: false,
    });
    let source = Arc::new(ExportSource {
        journal_path: source.journal_path.clone(),
        shared: source.shared.clone(),
        folder,
    });
    let tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let _ = tx.send(exporter(&source));
    });
}

fn export_toast(result: Result<Vec<PathBuf>, String>) -> Toast {
    let until = Utc::now() + chrono::Duration::seconds(TOAST_SECS * 2);
    match result {
        Ok(paths) => {
            let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            Toast {
                text: clean(&format!("export written: {}", list.join(", ")), 4096),
                until,
                error: false,
            }
        }
        Err(e) => Toast {
            text: clean(&format!("export failed: {e}"), 4096),
            until,
            error: true,
        },
    }
}
