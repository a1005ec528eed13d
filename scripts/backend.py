#!/usr/bin/env python3
"""A stand-in for a user's backend behind `recmon --forward-to`, for the screenshots: it
answers the first N requests 200 and then 503 ("down"), so the screen shows deliveries, then
an outage with retries and a backlog.

usage: backend.py PORT [N]
"""
import http.server
import sys

LIMIT = int(sys.argv[2]) if len(sys.argv) > 2 else 150
seen = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self):
        global seen
        n = int(self.headers.get("content-length") or 0)
        self.rfile.read(n)
        seen += 1
        up = seen <= LIMIT
        body = b'{"ok":true}' if up else b"<h1>503 Service Unavailable</h1>"
        self.send_response(200 if up else 503)
        self.send_header("content-type", "application/json" if up else "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = answer
    do_POST = answer

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
