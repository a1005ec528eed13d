//! The `recmon` binary: parse the command line, pick a mode, run it, map errors to exit codes.

use clap::Parser;
use recmon::app;
use recmon::cli::{Cli, Command};
use recmon::{export, replay, simulate};

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
                return tokio::task::spawn_blocking(move || export::run(args))
                    .await
                    .unwrap_or_else(|e| Err(app::AppError::new(1, format!("export failed: {e}"))))
            }
            Some(Command::Replay(args)) => return replay::run(args).await,
            Some(Command::Simulate(args)) => return simulate::run(args).await,
            None => {}
        }
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
