"""Shared plumbing of the OpenAPI stand-ins (aliyun_live.py, tencent_live.py).

Not a stand-in itself: the command line, the fixture (re-read when its file changes, so a test
can change the provider's records between two runs of the client), the JSON-lines request log,
the throttling counters and the clock.

Command line of every stand-in:
    PYTHON STANDIN.py --fixture FIXTURE.json --log REQUESTS.jsonl [--port N] [--host 127.0.0.1]
--port 0 (the default) lets the kernel choose; the stand-in prints `listening on PORT` on stdout
(flushed) once it accepts connections, and nothing else on stdout. It never prints a secret.
"""

import argparse
import datetime as dt
import json
import os
import sys
import threading
import time
import uuid
from http.server import ThreadingHTTPServer


def parse_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--fixture", required=True, help="JSON fixture file (see the stand-in's docstring)")
    p.add_argument("--log", required=True, help="JSON-lines file: one line per request received")
    p.add_argument("--port", type=int, default=0, help="0: any free port, printed on stdout")
    p.add_argument("--host", default="127.0.0.1")
    return p.parse_args()


class Fixture:
    """The fixture file, re-read whenever its modification time or size changes."""

    def __init__(self, path):
        self.path = path
        self._stamp = None
        self._data = {}
        self._lock = threading.Lock()
        self.get()

    def get(self):
        with self._lock:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp != self._stamp:
                with open(self.path, encoding="utf-8") as f:
                    self._data = json.load(f)
                self._stamp = stamp
            return self._data


class RequestLog:
    def __init__(self, path):
        self._f = open(path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, entry):
        entry = dict(entry)
        entry["ts"] = time.time()
        with self._lock:
            self._f.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
            self._f.flush()


class Limiter:
    """Two kinds of throttling, per action:

    - scripted: the fixture's `throttle` says "the first N requests of this action (or "*": of
      any action) are throttled"; counted from the stand-in's start (a fixture reload does not
      reset the count; a changed `throttle` entry does);
    - rate: at most `qps` requests of the action in any sliding window of one second (the
      provider's documented QPS); the requests over it are throttled (and not counted).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._seen = {}  # (key, json of the rule) -> requests counted
        self._times = {}  # action -> recent accepted request times

    def scripted(self, throttle, action):
        """Returns the rule that throttles this request, or None."""
        if not throttle:
            return None
        with self._lock:
            hit = None
            for key in (action, "*"):
                rule = throttle.get(key)
                if not rule:
                    continue
                ident = (key, json.dumps(rule, sort_keys=True))
                n = self._seen.get(ident, 0)
                self._seen[ident] = n + 1
                if hit is None and n < int(rule.get("first", 0)):
                    hit = rule
            return hit

    def over_rate(self, action, qps):
        if not qps:
            return False
        now = time.monotonic()
        with self._lock:
            times = [t for t in self._times.get(action, []) if now - t < 1.0]
            if len(times) >= qps:
                self._times[action] = times
                return True
            times.append(now)
            self._times[action] = times
            return False


def request_id():
    return str(uuid.uuid4()).upper()


def now_utc(fixture):
    """The provider's clock for its history limits: the fixture's `now` (ISO 8601 UTC) if set."""
    if fixture.get("now"):
        return parse_iso_z(fixture["now"])
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def parse_iso_z(s):
    """yyyy-MM-ddTHH:mm:ssZ (UTC), the format both providers document; None if it is not."""
    try:
        return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    except (TypeError, ValueError):
        return None


def iso_z(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def serve(handler_cls, args, **attrs):
    for k, v in attrs.items():
        setattr(handler_cls, k, v)
    server = ThreadingHTTPServer((args.host, args.port), handler_cls)
    server.daemon_threads = True
    sys.stdout.write("listening on %d\n" % server.server_address[1])
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
