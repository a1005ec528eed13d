#!/usr/bin/env bash
# Journal reading speed (issue 6): resume and export, in journal lines per second, against a
# plain buffered line count of the same file in the same run (the baseline).
#
#   bench/journal_read.sh [--generate] [JOURNAL] [RUNS]
#
# BIN selects the recmon binary (default target/release/recmon), e.g. a baseline build.
# JOURNAL defaults to /tmp/recmon-bench-1m.jsonl. With --generate (or when JOURNAL does not
# exist) it is first written by a real release recmon (headless, --fsync never) driven by
# `recmon simulate --rate max --count $LINES --streams 50 --domains 3 --seed 42` (LINES
# defaults to 1000000; ~2 minutes): a realistic mix of status, recording and ingest callbacks
# with provider retries. Each measurement is run RUNS times (default 3), interleaved; the
# median is reported. The page cache is warmed first, so this measures CPU, not the disk.
#
# Measured:
#   linecount     bench/linecount.rs (rustc -O): BufReader 1 MiB + read_until, counting lines
#   export-jsonl  recmon export J --format jsonl -o /dev/null          (all events)
#   export-csv-r  recmon export J --format csv --what recordings -o /dev/null
#   export-csv-e  recmon export J --format csv --what events -o /dev/null
#   resume        recmon --headless --resume COPY: from start until /healthz answers (the
#                 store is rebuilt before the listener serves); COPY is a fresh copy each run
set -euo pipefail
cd "$(dirname "$0")/.."

generate=0
if [[ "${1:-}" == "--generate" ]]; then generate=1; shift; fi
journal="${1:-/tmp/recmon-bench-1m.jsonl}"
runs="${2:-3}"
lines_wanted="${LINES:-1000000}"
port="${PORT:-$((20000 + $$ % 20000))}"
bin="${BIN:-target/release/recmon}"
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s%N; }

# recmon can miss a SIGINT that arrives while it is still installing its handler (right after
# it starts serving): ask again, then SIGKILL, so that a run never hangs.
stop_server() {
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        kill -INT "$server_pid" 2>/dev/null || break
        sleep 0.5
        kill -0 "$server_pid" 2>/dev/null || break
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

[[ "${SKIP_BUILD:-0}" == 1 ]] || cargo build --release --quiet
mkdir -p target/bench
rustc -O --edition 2021 -o target/bench/linecount bench/linecount.rs

if [[ "$generate" == 1 || ! -s "$journal" ]]; then
    echo "generating $lines_wanted lines into $journal ..." >&2
    rm -f "$journal"
    "$bin" --headless --fsync never --journal "$journal" --listen "127.0.0.1:$port" \
        >/dev/null 2>"$work/gen.err" &
    server_pid=$!
    until curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; do sleep 0.05; done
    "$bin" simulate --to "http://127.0.0.1:$port/cb" --rate max --count "$lines_wanted" \
        --streams 50 --domains 3 --seed 42 >&2
    stop_server
fi

cat "$journal" >/dev/null # warm the page cache
lines=$(wc -l <"$journal")
bytes=$(stat -c %s "$journal")

declare -A results
record() { results[$1]+="$2 "; }

time_cmd() { # name, command...
    local name=$1; shift
    local t0 t1
    t0=$(now); "$@" >/dev/null 2>"$work/$name.err"; t1=$(now)
    record "$name" $(( (t1 - t0) / 1000 ))
}

time_resume() {
    cp "$journal" "$work/resume.jsonl"
    local t0 t1
    t0=$(now)
    "$bin" --headless --fsync never --resume "$work/resume.jsonl" --listen "127.0.0.1:$port" \
        >/dev/null 2>"$work/resume.err" &
    server_pid=$!
    # The listener is bound before the rebuild and serves after it: a connection made during
    # the rebuild waits in the backlog and is answered as soon as serving starts.
    until curl -s -o /dev/null --max-time 600 "http://127.0.0.1:$port/healthz"; do sleep 0.005; done
    t1=$(now)
    stop_server

    record resume $(( (t1 - t0) / 1000 ))
}

for ((i = 1; i <= runs; i++)); do
    time_cmd linecount target/bench/linecount "$journal"
    time_cmd export-jsonl "$bin" export "$journal" --format jsonl -o /dev/null
    time_cmd export-csv-r "$bin" export "$journal" --format csv --what recordings -o /dev/null
    time_cmd export-csv-e "$bin" export "$journal" --format csv --what events -o /dev/null
    time_resume
    echo "run $i/$runs done" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
minimum() { tr ' ' '\n' | grep -v '^$' | sort -n | head -1; }

base_us=$(echo "${results[linecount]}" | median)
printf '# journal reading: %s (%s lines, %s bytes), %s run(s), median; %s (tree %s), %s cores\n' \
    "$journal" "$lines" "$bytes" "$runs" "$bin" "$(git rev-parse --short HEAD)" "$(nproc)"
printf '%-14s %10s %14s %12s %14s   %s\n' measurement "time_s" "lines_per_s" "vs_linecount" "best_lines_s" "all runs (us)"
for name in linecount export-jsonl export-csv-r export-csv-e resume; do
    us=$(echo "${results[$name]}" | median)
    best=$(echo "${results[$name]}" | minimum)
    awk -v n="$name" -v us="$us" -v best="$best" -v l="$lines" -v b="$base_us" -v all="${results[$name]}" \
        'BEGIN { printf "%-14s %10.3f %14.0f %12.3f %14.0f   %s\n", n, us / 1e6, l / (us / 1e6), b / us, l / (best / 1e6), all }'
done
