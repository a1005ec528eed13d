//! The `recmon` binary: parse the command line, pick a mode, run it, map errors to exit codes.

use clap::Parser;
use recmon::cli::Cli;
use recmon::{app, tui};

// mimalloc: the request path allocates many small short-lived buffers across threads, which
// glibc's malloc serves with arena lock contention (seen in perf under load).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        if app::wants_headless(&cli.run) {
            app::run_headless(cli.run).await
        } else {
            // No exporter yet: the session-log export comes with its own issue.
            tui::run(cli.run, None).await
        }
    });
    if let Err(e) = result {
        eprintln!("recmon: {e}");
        std::process::exit(e.code);
    }
}
