#!/usr/bin/env bash
# User-space instructions per request, for recmon headless and the bare hyper baseline, from
# valgrind's callgrind: instruction counts are repeatable on a noisy machine, where
# requests/s are not. Same load for both: 20,000 POSTs over 8 keep-alive connections, each a
# new recording with a unique uri (recmon-bench load --dup-every 0), so recmon's figure is
# the new-recording path, not the cheaper duplicate answer.
#   bash bench/callgrind.sh            # prints both figures and their ratio
# Needs valgrind (apt-get install -y valgrind). Kernel time (TCP, syscalls) is not counted.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "callgrind.sh: needs valgrind" >&2; exit 1; }
cargo build --release --locked --bins >/dev/null
BIN=target/release
N=20000
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$1/healthz" && return; sleep 0.1; done; echo "server did not start" >&2; exit 1; }
per_request() { python3 - "$1" "$N" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r'summary: (\d+)', t) or re.search(r'totals: (\d+)', t)
print(int(m.group(1)) // int(sys.argv[2]))
PY
}

measure() { # name, command...
  local name=$1; shift
  local p; p=$(port)
  valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.out" "$@" --listen "127.0.0.1:$p" >/dev/null 2>&1 &
  local pid=$!
  wait_up "$p"
  "$BIN/recmon-bench" load --to "127.0.0.1:$p" --count $N --connections 8 --dup-every 0 >/dev/null
  kill -TERM $pid; wait $pid 2>/dev/null || true
  per_request "$WORK/$name.out"
}

base=$(measure baseline "$BIN/recmon-bench" baseline)
ours=$(measure recmon "$BIN/recmon" --headless --fsync never --journal "$WORK/j.jsonl")
echo "instructions per request (user space): baseline $base, recmon $ours, ratio $(python3 -c "print(round($ours/$base, 2))")"
