#!/usr/bin/env python3
"""A webhook receiver for tests: records every POST as a JSON line and answers from a script.

usage: http-receiver.py LOG STATUSES
  LOG       file to append {"path", "headers", "body"} lines to
  STATUSES  comma-separated answers for the first requests (e.g. "429,200"); then 200.
            A 429 carries "Retry-After: 1".
Prints PORT=<port> once listening on 127.0.0.1.
"""
import http.server
import json
import sys
import threading

log_path, statuses = sys.argv[1], [int(s) for s in sys.argv[2].split(",") if s]
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            status = statuses.pop(0) if statuses else 200
            with open(log_path, "a") as log:
                log.write(json.dumps({"path": self.path, "status": status, "headers": dict(self.headers), "body": body.decode()}) + "\n")
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"PORT={server.server_address[1]}", flush=True)
server.serve_forever()
