#!/usr/bin/env python3
"""Plays a realistic evening of ApsaraVideo Live callbacks against a running recmon, for the
screenshots and for trying the UI by hand.

Two apps on one domain, six streams ending in different states: recording, paused, resumed
after a drop, pushed but never announced, finished and offline. Recording files arrive every
few "minutes" (compressed in time), some with the provider's duration/start-stop mismatch,
plus provider retries (duplicates) and a few requests that recmon must reject.

Usage: broadcast.py http://127.0.0.1:8080 [--fast]
"""

import json
import sys
import hashlib
import os
import time
import urllib.error
import urllib.parse
import urllib.request

DOMAIN = "live.example.com"


def send(base, method, path, body=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("User-Agent", "aliyun-live-callback/1.0")
    key = os.environ.get("RECMON_AUTH_KEY")
    if key:
        # Signed as the provider signs: md5hex("{host}|{timestamp}|{key}").
        host = urllib.parse.urlsplit(base).hostname
        ts = str(int(time.time()))
        req.add_header("ALI-LIVE-TIMESTAMP", ts)
        req.add_header("ALI-LIVE-SIGNATURE", hashlib.md5(f"{host}|{ts}|{key}".encode()).hexdigest())
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def status(base, app, stream, event):
    return send(base, "POST", "/recmon", {"domain": DOMAIN, "app": app, "stream": stream, "event": event})


def ingest(base, app, stream, action, ip, when):
    # `time` is the provider's clock, the one the recordings' start and stop times are on: the
    # evening is compressed in sending, not in its times.
    q = (f"/pub?action={action}&app={DOMAIN}&appname={app}&id={stream}&ip={ip}"
         f"&node=cdnvideocenter16011.cm3&time={int(when)}&usrargs=vhost%3D{DOMAIN}")
    return send(base, "GET", q)


def recording(base, app, stream, seq, start, secs, duration=None, show="evening-news"):
    stop = start + secs
    fmt = lambda t: time.strftime("%Y-%m-%d-%H:%M:%S", time.gmtime(t))
    return send(base, "POST", "/recmon", {
        "domain": DOMAIN, "app": app, "stream": stream,
        "uri": f"record/{app}/{stream}/{seq}_{fmt(start)}_{fmt(stop)}.m3u8",
        "duration": duration if duration is not None else float(secs),
        "start_time": start, "stop_time": stop,
        "push_args": {"callback_show": show, "callback_operator": "ops-7"},
    })


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    base = sys.argv[1].rstrip("/")
    pause = 0.0 if "--fast" in sys.argv else 0.08
    now = int(time.time())
    t0 = now - 3 * 3600

    streams = [
        ("news", "main-anchor"), ("news", "studio-b"), ("news", "field-cam"),
        ("sports", "match-cam-1"), ("sports", "match-cam-2"), ("sports", "backup-feed"),
    ]
    for i, (app, s) in enumerate(streams):
        ingest(base, app, s, "publish", f"198.51.100.{20 + i}", t0 + (sum(map(ord, s)) % 30) - 2)
        time.sleep(pause)
    for app, s in streams[:4]:
        status(base, app, s, "record_started")
        time.sleep(pause)
    status(base, "news", "main-anchor", "record_started")  # a provider retry

    # Recording files, oldest first: a six-minute cycle per stream, compressed in time.
    seq = {s: 0 for _, s in streams}
    for k in range(24):
        for app, s in streams[:4] + [streams[5]]:
            start = t0 + k * 360 + (sum(map(ord, s)) % 30)
            mismatch = (k % 7 == 3 and s == "field-cam")
            recording(base, app, s, seq[s], start, 360,
                      duration=373.418 if mismatch else 360.0 + (k % 5) * 0.125,
                      show="evening-news" if app == "news" else "cup-final")
            seq[s] += 1
        if k % 6 == 5:
            recording(base, "news", "main-anchor", seq["main-anchor"] - 1,
                      t0 + k * 360 + (sum(map(ord, "main-anchor")) % 30), 360)  # retry of the last
        time.sleep(pause)

    status(base, "news", "studio-b", "record_paused")
    time.sleep(pause)
    # field-cam's last file stops at t0 + 24 * 360 + 26; backup-feed's at + 29.
    ingest(base, "news", "field-cam", "publish_done", "198.51.100.22", t0 + 24 * 360 + 28)
    status(base, "news", "field-cam", "record_paused")
    status(base, "sports", "match-cam-1", "record_paused")
    time.sleep(pause)
    status(base, "sports", "match-cam-1", "record_resumed")
    ingest(base, "sports", "backup-feed", "publish_done", "198.51.100.25", t0 + 24 * 360 + 31)


    # The newest recordings, a few seconds apart, so the rate sparkline shows them.
    for k in range(24, 30):
        recording(base, "news", "main-anchor", seq["main-anchor"], t0 + k * 360, 360,
                  duration=360.0 + k * 0.011)
        seq["main-anchor"] += 1
        recording(base, "sports", "match-cam-1", seq["match-cam-1"], t0 + k * 360 + 7, 353)
        seq["match-cam-1"] += 1
        time.sleep(pause * 5)
        if k == 27:
            # What a misconfigured sender or a scanner looks like.
            send(base, "POST", "/recmon", b"{\"domain\":\"live.example.com\",\"app\":\"news\"")
            send(base, "DELETE", "/recmon")
            send(base, "POST", "/recmon", {"domain": DOMAIN, "app": "news", "event": "record_started"})


if __name__ == "__main__":
    main()
