//! `recmon-bench`: the load generator and the baseline server used by the load tests and the
//! benchmark suite. Runs as a separate process so that load and server never share a runtime.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use recmon::loadgen::{self, LoadSpec};

#[derive(Parser)]
#[command(
    name = "recmon-bench",
    about = "Load generator and baseline server for recmon"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send callbacks over keep-alive connections and print a JSON report on stdout.
    Load {
        /// Target address, e.g. 127.0.0.1:8080.
        #[arg(long)]
        to: SocketAddr,
        /// Request path.
        #[arg(long, default_value = "/cb")]
        path: String,
        /// Simultaneous connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Total requests.
        #[arg(long, default_value_t = 200_000)]
        count: u64,
        /// Every Nth request is a retry of the previous one (0 = none).
        #[arg(long, default_value_t = 10)]
        dup_every: u64,
        /// Fixed total rate in requests/s (default: as fast as answers come).
        #[arg(long)]
        rate: Option<f64>,
        /// Send the spec's recording sample every time.
        #[arg(long)]
        fixed_body: bool,
        /// Write `index seq outcome` for every acknowledged request here.
        #[arg(long)]
        acked_file: Option<PathBuf>,
    },
    /// Run the bare hyper baseline server (answers 200 to everything).
    Baseline {
        /// Address to listen on (port 0 picks one; the address is printed on stdout).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Also parse each body with serde_json.
        #[arg(long)]
        parse_json: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let code = rt.block_on(async move {
        match cli.command {
            Command::Load {
                to,
                path,
                connections,
                count,
                dup_every,
                rate,
                fixed_body,
                acked_file,
            } => {
                let spec = LoadSpec {
                    addr: to,
                    path,
                    connections,
                    count,
                    dup_every,
                    rate,
                    fixed_body,
                    acked_file,
                };
                match loadgen::run(spec).await {
                    Ok(report) => {
                        println!("{}", serde_json::to_string(&report).unwrap());
                        0
                    }
                    Err(e) => {
                        eprintln!("recmon-bench: load failed: {e}");
                        1
                    }
                }
            }
            Command::Baseline { listen, parse_json } => {
                let listener = match tokio::net::TcpListener::bind(listen).await {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("recmon-bench: cannot listen on {listen}: {e}");
                        return 1;
                    }
                };
                println!("listening on {}", listener.local_addr().unwrap());
                if let Err(e) = loadgen::serve_baseline(listener, parse_json).await {
                    eprintln!("recmon-bench: baseline server failed: {e}");
                    return 1;
                }
                0
            }
        }
    });
    std::process::exit(code);
}
