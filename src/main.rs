//! The `recmon` binary: parse the command line, pick a mode, run it, map errors to exit codes.

use clap::Parser;
use recmon::cli::{Cli, Command};
use recmon::{app, export, replay, simulate, tui};

// mimalloc: the request path allocates many small short-lived buffers across threads, which
// glibc's malloc serves with arena lock contention (seen in perf under load).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What `e` in the terminal UI runs: the session-log export beside the journal.
fn session_exporter() -> tui::Exporter {
    std::sync::Arc::new(|src: &tui::ExportSource| {
        let journal = src.journal_path.as_ref().ok_or_else(|| {
            "nothing to export: recmon runs with --no-journal, so no session log is kept"
                .to_string()
        })?;
        export::export_session(journal)
            .map(|e| e.paths())
            .map_err(|e| e.to_string())
    })
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
                let signals = app::shutdown_signal();
                let export = tokio::task::spawn_blocking(move || export::run(args));
                return tokio::select! {
                    done = export => done.unwrap_or_else(|e| {
                        Err(app::AppError::new(1, format!("export failed: {e}")))
                    }),
                    // The export thread cannot be stopped, but its -o file can be left as it
                    // was: remove the unfinished temporary file, then exit.
                    _ = signals => {
                        export::remove_unfinished();
                        Err(app::AppError::new(
                            130,
                            "export interrupted; an -o file was left as it was",
                        ))
                    }
                };
            }
            Some(Command::Replay(args)) => return replay::run(args).await,
            Some(Command::Simulate(args)) => return simulate::run(args).await,
            None => {}
        }
        if app::wants_headless(&cli.run) {
            app::run_headless(cli.run).await
        } else {
            tui::run(cli.run, Some(session_exporter())).await
        }
    });
    if let Err(e) = result {
        // Not eprintln!: it panics when stderr is a closed pipe (`… 2>&1 | head -1`).
        recmon::output::eline(&format!("recmon: {e}"));
        std::process::exit(e.code);
    }
}
