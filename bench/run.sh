#!/usr/bin/env bash
# The benchmark suite: builds the release binaries, then measures every figure of issue 6
# as a ratio against a baseline in the same run, and writes BENCHMARKS.md.
#   bash bench/run.sh                 # full size, a few minutes
#   bash bench/run.sh --smoke         # seconds; only checks that every part works
#   bash bench/run.sh --only ingest   # one section (ingest, tui, latency, screen, frames,
#                                     #   memory, journal, load)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v tmux >/dev/null || { echo "bench: tmux is needed (apt-get install -y tmux)" >&2; exit 1; }
cargo build --release --locked --bins
exec target/release/recmon-bench run "$@"
