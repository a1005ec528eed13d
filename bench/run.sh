#!/usr/bin/env bash
# The benchmark suite: builds the release binaries, then measures every figure of issue 6
# as a ratio against a baseline in the same run, and writes BENCHMARKS.md.
#   bash bench/run.sh                 # full size, a few minutes
#   bash bench/run.sh --smoke         # seconds; only checks that every part works
#   bash bench/run.sh --only ingest   # one section (ingest, tui, latency, screen, frames,
#                                     #   memory, journal, load, attach)
#   bash bench/run.sh --only ingest --compare-ref 0e561f3
#                                     # also builds that commit's recmon (once, cached under
#                                     #   target/compare/) and runs it interleaved with this
#                                     #   build's in every ingest round: after/before rows
set -euo pipefail
cd "$(dirname "$0")/.."
command -v tmux >/dev/null || { echo "bench: tmux is needed (apt-get install -y tmux)" >&2; exit 1; }
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --compare-ref)
            ref=${2:?--compare-ref needs a commit, e.g. --compare-ref 0e561f3}
            shift 2
            ;;
        --compare-ref=*)
            ref=${1#--compare-ref=}
            shift
            ;;
        *)
            args+=("$1")
            shift
            ;;
    esac
done
if [ -n "${ref:-}" ]; then
    before=$(bash bench/compare.sh "$ref")
    args+=(--before-bin "$before" --before-label "$ref")
fi
cargo build --release --locked --bins
exec target/release/recmon-bench run "${args[@]}"
