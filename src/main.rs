//! The `recmon` binary: parse the command line, pick a mode, run it, map errors to exit codes.

use clap::Parser;

// mimalloc: the request path allocates many small short-lived buffers across threads, which
// glibc's malloc serves with arena lock contention (seen in perf under load).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use recmon::app;
use recmon::cli::Cli;

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
            // The terminal UI arrives with its own issue; until then plain `recmon` is headless.
            app::run_headless(cli.run).await
        }
    });
    if let Err(e) = result {
        eprintln!("recmon: {e}");
        std::process::exit(e.code);
    }
}
