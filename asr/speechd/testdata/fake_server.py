#!/usr/bin/env python3
"""A stand-in for speechserver/server.py that the supervisor tests run.

It takes the same flags, answers GET /healthz, and misbehaves on demand,
through environment variables:
  FAKE_COUNT=FILE     appends a line to FILE at each start (counts starts)
  FAKE_EXIT_AFTER=N   exits at once with an error on start number N and later
  FAKE_UNHEALTHY=FILE /healthz answers 503 while FILE exists
  FAKE_CHILD=FILE     forks a long sleep into its process group, writing its pid to FILE
  FAKE_IGNORE_TERM=1  ignores SIGTERM
"""
import argparse, os, signal, subprocess, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

p = argparse.ArgumentParser()
p.add_argument("--model"); p.add_argument("--addr"); p.add_argument("--model-name")
p.add_argument("--drain"); p.add_argument("--threads")
a = p.parse_args()

n = 1
if os.environ.get("FAKE_COUNT"):
    with open(os.environ["FAKE_COUNT"], "a") as f:
        f.write("start\n")
    with open(os.environ["FAKE_COUNT"]) as f:
        n = len(f.readlines())
after = int(os.environ.get("FAKE_EXIT_AFTER", "0"))
if after and n >= after:
    sys.stderr.write(f"fake: model file is corrupt (start {n})\n")
    sys.exit(2)
if os.environ.get("FAKE_CHILD"):
    c = subprocess.Popen(["sleep", "300"])
    with open(os.environ["FAKE_CHILD"], "w") as f:
        f.write(str(c.pid))
if os.environ.get("FAKE_IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        bad = os.environ.get("FAKE_UNHEALTHY")
        code = 503 if bad and os.path.exists(bad) else 200
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass

host, _, port = a.addr.rpartition(":")
srv = HTTPServer((host, int(port)), H)
print(f"READY http://{a.addr}", flush=True)
srv.serve_forever()
