#!/usr/bin/env bash
# Makes screenshots/*.png from scratch: the release binary in a real terminal (tmux,
# 160×45, and 80×24 for small.png; TERM=xterm-256color) fed a realistic broadcast (scripts/broadcast.py), captured
# with `tmux capture-pane -e` and drawn to PNG by scripts/ansi2png.py. Nothing is edited by
# hand. Rerun it whenever the screen changes.
#
# `scripts/screenshots.sh providers` makes only providers.png and providers-filter.png (every
# provider at once, from `recmon --demo`), leaving the others as they are;
# `scripts/screenshots.sh verify` only verify.png and verify-detail.png (recording proof);
# `scripts/screenshots.sh reconcile` only reconcile.png (after a backfill; needs the providers'
# SDKs: bash scripts/sdk-venv.sh).
#
# Needs: tmux, python3 with Pillow, DejaVu fonts. On Debian/Ubuntu this installs them:
#   apt-get install -y tmux python3-pil fonts-dejavu-core
set -euo pipefail
ONLY=${1:-all}
case "$ONLY" in
  all | providers | verify | reconcile) ;;
  *) echo "usage: scripts/screenshots.sh [providers|verify|reconcile]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/screenshots"

# A python3 with Pillow: the one on PATH, or the system one (where python3-pil installs).
pick_python() {
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import PIL' >/dev/null 2>&1; then
      echo "$p"
      return
    fi
  done
}
missing=()
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
[ -n "$(pick_python)" ] || missing+=(python3-pil)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || missing+=(fonts-dejavu-core)
if [ ${#missing[@]} -gt 0 ]; then
  echo "screenshots.sh: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" || {
    echo "screenshots.sh: please install: ${missing[*]} (Debian package names)" >&2
    exit 1
  }
fi

PY=$(pick_python)
[ -n "$PY" ] || { echo "screenshots.sh: no python3 with Pillow found" >&2; exit 1; }

cargo build --release --locked
BIN="$ROOT/target/release/recmon"
WORK=$(mktemp -d)
SOCKET="recmon-shots-$$"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() { tmux -L "$SOCKET" kill-server 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

T() { tmux -L "$SOCKET" "$@"; }
key() { T send-keys -t shots "$@"; sleep 0.4; }
COLS=160
ROWS=45
shot() {
  sleep 1.2 # let the screen settle (it redraws on change and on the 1 s tick)
  T capture-pane -p -e -t "${2:-shots}" >"$WORK/$1.ans"
  "$PY" "$ROOT/scripts/ansi2png.py" "$WORK/$1.ans" "$OUT/$1.png" --cols "$COLS" --rows "$ROWS"
  echo "screenshots/$1.png"
}
# The terminal's size from now on (recmon redraws on the resize).
size() {
  COLS=$1
  ROWS=$2
  T resize-window -t shots -x "$COLS" -y "$ROWS"
}

# Waits (up to $2 seconds) until every extended regex after it matches the screen of tmux
# session $1; fails with the screen if they do not.
wait_screen() {
  local session=$1 limit=$2 screen pattern ok
  shift 2
  for _ in $(seq $((limit * 5))); do
    screen=$(T capture-pane -p -t "$session")
    ok=1
    for pattern in "$@"; do
      grep -Eq -- "$pattern" <<<"$screen" || { ok=0; break; }
    done
    [ "$ok" = 1 ] && return 0
    sleep 0.2
  done
  echo "screenshots.sh: not on screen within ${limit} s: $*" >&2
  echo "$screen" >&2
  return 1
}

# Listening on all interfaces with signature checking on, as in real use (the header then
# has no loopback or unsigned warning); broadcast.py signs its callbacks with the same key.
export RECMON_AUTH_KEY=screenshotKey0123456789
mkdir -p "$OUT"

# Recording proof (--verify): files made by ffmpeg where an ApsaraVideo rule says they are
# (file:///DIR joined with each callback's uri): one whole, one cut short (3 s of a claimed
# minute), one never written (missing once --verify-missing-for has passed), and the newest
# still being looked for. Then the detail of the short one: claimed against measured.
verify_shots() {
  local vport media
  vport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  media="$WORK/media"
  mkdir -p "$media/record/live/cam-1" "$media/record/live/cam-2"
  ffmpeg -v error -y -f lavfi -i testsrc=size=320x240:rate=25:duration=60 -f lavfi \
    -i sine=frequency=440:duration=60 -c:v flv1 -c:a aac -shortest "$media/record/live/cam-1/0001.flv"
  ffmpeg -v error -y -f lavfi -i testsrc=size=320x240:rate=25:duration=3 -f lavfi \
    -i sine=frequency=440:duration=3 -c:v flv1 -c:a aac -shortest "$media/record/live/cam-2/0001.flv"
  T -f /dev/null new-session -d -x 160 -y 45 -s verify -c "$WORK" \
    "env -u NO_COLOR -u RECMON_AUTH_KEY TERM=xterm-256color '$BIN' --listen 127.0.0.1:$vport --journal verify.jsonl --verify 'aliyun=file://$media' --verify-missing-for 4s; sleep 30"
  wait_screen verify 20 "Streams"
  post() {
    curl -s -o /dev/null -H 'Content-Type: application/json' -H 'User-Agent: aliyun-live-callback' \
      --data "{\"domain\":\"live.example.com\",\"app\":\"live\",\"stream\":\"$1\",\"uri\":\"record/live/$1/0001.flv\",\"duration\":$2,\"start_time\":$(($(date +%s) - $2)),\"stop_time\":$(date +%s)}" \
      "http://127.0.0.1:$vport/recmon"
  }
  post cam-1 60
  post cam-2 60
  post cam-3 600
  sleep 6
  post cam-4 300
  wait_screen verify 10 "Recordings 4"
  T send-keys -t verify Tab; sleep 0.4
  shot verify verify
  T send-keys -t verify Up; sleep 0.3; T send-keys -t verify Up; sleep 0.3
  T send-keys -t verify Enter; sleep 0.4
  shot verify-detail verify
  T send-keys -t verify q
}
# After an outage and `recmon reconcile --backfill` against the stand-in of ApsaraVideo's
# OpenAPI (built from its own SDK): a receiver took the first and last files of a stream, the
# provider's records also hold the two it sent while the receiver was down; the resumed
# receiver shows them marked ⟲ and the header's last reconcile.
reconcile_shots() {
  local rport sport py="$ROOT/target/sdk-venv/bin/python"
  [ -x "$py" ] || bash "$ROOT/scripts/sdk-venv.sh" >/dev/null
  rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  env -u RECMON_AUTH_KEY "$BIN" --headless --listen 127.0.0.1:$rport --journal "$WORK/rec.jsonl" >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$rport/healthz" && break; sleep 0.1; done
  python3 - "$rport" "$WORK" <<'PY'
import json, sys, time, urllib.request, datetime
port, work = sys.argv[1], sys.argv[2]
def body(n):
    stop = int(time.time()) - (5 - n) * 600
    return json.dumps({"domain": "live.example.com", "app": "live", "stream": "cam-1",
                       "uri": f"record/live/cam-1/{n}.flv", "duration": 600,
                       "start_time": stop - 600, "stop_time": stop}, separators=(",", ":"))
records = []
now = datetime.datetime.now(datetime.timezone.utc)
for n in (1, 2, 3, 4):
    sent = (now - datetime.timedelta(seconds=(5 - n))).strftime("%Y-%m-%dT%H:%M:%SZ")
    ok = n in (1, 4)
    if ok:
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/recmon",
            data=body(n).encode(), headers={"Content-Type": "application/json"})).read()
    records.append({"DomainName": "live.example.com", "AppName": "live", "StreamName": "cam-1",
        "NotifyType": "record", "NotifyTime": sent, "NotifyUrl": f"http://127.0.0.1:{port}/recmon",
        "NotifyContent": body(n), "NotifyHeader": "", "NotifyResponse": "ok" if ok else "",
        "NotifyResult": "success" if ok else "failed", "Description": "", "StorageType": "oss"})
json.dump({"access_key_id": "LTAI-shots", "access_key_secret": "shots-secret",
           "notify_records": records,
           "notify_config": {"live.example.com": {"NotifyUrl": f"http://127.0.0.1:{port}/recmon",
               "OnDemandUrl": "", "NeedStatusNotify": True, "NotifyReqAuth": "yes", "NotifyAuthKey": "k"}}},
          open(f"{work}/fixture.json", "w"))
PY
  kill "$pid"; wait "$pid" 2>/dev/null || true
  "$py" "$ROOT/tests/standin/aliyun_live.py" --fixture "$WORK/fixture.json" --log "$WORK/api.jsonl" --port 0 >"$WORK/standin.out" &
  local spid=$!
  for _ in $(seq 50); do grep -q listening "$WORK/standin.out" 2>/dev/null && break; sleep 0.1; done
  sport=$(sed -n 's/listening on //p' "$WORK/standin.out")
  ALIBABA_CLOUD_ACCESS_KEY_ID=LTAI-shots ALIBABA_CLOUD_ACCESS_KEY_SECRET=shots-secret \
    "$BIN" reconcile "$WORK/rec.jsonl" --aliyun-endpoint "http://127.0.0.1:$sport" --backfill
  kill "$spid" 2>/dev/null || true
  T -f /dev/null new-session -d -x 160 -y 45 -s recon -c "$WORK" \
    "env -u NO_COLOR -u RECMON_AUTH_KEY TERM=xterm-256color '$BIN' --listen 127.0.0.1:$rport --resume rec.jsonl; sleep 30"
  wait_screen recon 20 "Recordings 4"
  T send-keys -t recon Tab; sleep 0.4
  shot reconcile recon
  T send-keys -t recon q
}
if [ "$ONLY" = reconcile ]; then
  reconcile_shots
  exit 0
fi
if [ "$ONLY" = verify ]; then
  verify_shots
  exit 0
fi

# Every provider at once: `recmon --demo` speaks ApsaraVideo Live, nginx-rtmp, SRS and
# Tencent Cloud against its own listener (signing with the keys it is given), in real time.
# Taken once a file of each provider's kind has arrived (the first ones at about 20 s):
# Tencent's with its size, nginx-rtmp's and SRS's with their derived (`~`) durations.
# 44 rows: all ten streams fit, so every provider's tag shows.
COLS=120
ROWS=44
DPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
T -f /dev/null new-session -d -x "$COLS" -y "$ROWS" -s prov -c "$WORK" \
  "env -u NO_COLOR TERM=xterm-256color RECMON_AUTH_KEY=$RECMON_AUTH_KEY RECMON_TENCENT_KEY=screenshotTencentKey '$BIN' --demo --listen 0.0.0.0:$DPORT --journal providers.jsonl; sleep 30"
wait_screen prov 90 "Streams 10 " " ali  live" " ngx  rtmp\\." " srs  srs\\." " tc   push\\." \
  "~0:00:[0-9]" " [0-9.]+ MB "
shot providers prov
# `p` three times: ApsaraVideo Live's rows, nginx-rtmp's, then SRS's (viewers, HLS segments
# and DVR files), the provider shown in the header's filter and in the footer.
for _ in 1 2 3; do T send-keys -t prov p; sleep 0.4; done
wait_screen prov 20 'filter: "provider:srs"' "Streams 2 of 10 "
shot providers-filter prov
T send-keys -t prov q
COLS=160
ROWS=45
if [ "$ONLY" = providers ]; then
  exit 0
fi
T -f /dev/null new-session -d -x 160 -y 45 -s shots -c "$WORK" \
  "env -u NO_COLOR TERM=xterm-256color RECMON_AUTH_KEY=$RECMON_AUTH_KEY '$BIN' --listen 0.0.0.0:$PORT --journal broadcast.jsonl --alert-paused 5s; sleep 30"
for _ in $(seq 50); do
  T capture-pane -p -t shots | grep -q "Streams" && break
  sleep 0.2
done

python3 "$ROOT/scripts/broadcast.py" "http://127.0.0.1:$PORT"
shot main

# The same broadcast in the smallest common terminal: what an operator sees in a split.
size 80 24
shot small
size 160 45

# The detail of a recording a few rows up: its request, headers and pretty-printed body.
key Tab; key Up; key Up; key Enter
shot detail
key Escape

key /; for c in m a t c h; do key "$c"; done; key Enter
shot filter
key Escape

key '?'
shot help
key Escape

# The alerts list (a stream left paused past --alert-paused 5s, the duration mismatches).
key a
shot alerts
key Escape

# A second terminal attached to the running receiver (recmon attach): the same screens, fed
# by its /api/events feed, with the receiver's state in the header.
T -f /dev/null new-session -d -x 160 -y 45 -s attach -c "$WORK" \
  "env -u NO_COLOR TERM=xterm-256color '$BIN' attach http://127.0.0.1:$PORT; sleep 30"
for _ in $(seq 50); do
  T capture-pane -p -t attach | grep -q "live" && break
  sleep 0.2
done
shot attach attach
T send-keys -t attach q
key q

# recmon report's HTML page of this broadcast, in Debian's headless chromium.
"$BIN" report "$WORK/broadcast.jsonl" --format html -o "$WORK/report.html"
if command -v chromium >/dev/null 2>&1; then
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --no-first-run --user-data-dir="$WORK/chromium" \
    --hide-scrollbars --window-size=1200,1100 --screenshot="$OUT/report.png" \
    "file://$WORK/report.html" >/dev/null 2>&1
  echo "screenshots/report.png"
else
  echo "screenshots.sh: no chromium (apt-get install chromium): report.png not made" >&2
fi

# Forwarding (--forward-to): a second receiver passes the same broadcast on to a backend
# (scripts/backend.py) that answers 200 at first and then goes down: deliveries, then
# retries and a backlog, as the request log's delivery column and the header show them.
BPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
FPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$ROOT/scripts/backend.py" "$BPORT" 150 &
BACKEND=$!
trap 'kill $BACKEND 2>/dev/null || true; cleanup' EXIT
T -f /dev/null new-session -d -x 160 -y 45 -s fwd -c "$WORK" \
  "env -u NO_COLOR TERM=xterm-256color RECMON_AUTH_KEY=$RECMON_AUTH_KEY '$BIN' --listen 0.0.0.0:$FPORT --journal forward.jsonl --forward-to http://127.0.0.1:$BPORT/hooks/aliyun; sleep 30"
for _ in $(seq 50); do
  T capture-pane -p -t fwd | grep -q "Streams" && break
  sleep 0.2
done
python3 "$ROOT/scripts/broadcast.py" "http://127.0.0.1:$FPORT" --fast
sleep 3
shot forward fwd
T send-keys -t fwd q

verify_shots
reconcile_shots
