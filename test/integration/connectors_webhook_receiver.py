#!/usr/bin/env python3
"""A webhook receiver for the connector tests, on 127.0.0.1 (a free port, written to PORT_FILE).

usage: connectors_webhook_receiver.py SECRET STATE_DIR PORT_FILE

Checks X-Breakglass-Signature (HMAC-SHA256 over "timestamp.body", constant-time compare) and
the timestamp's freshness; refuses anything else with 401. grant creates STATE_DIR/<grant_id>
and answers a credential object, revoke removes it (unknown grants are fine), probe answers 200.
Every accepted body is appended to STATE_DIR/log.jsonl.
"""
import hashlib
import hmac
import http.server
import json
import os
import sys
import time

SECRET, STATE, PORT_FILE = sys.argv[1].encode(), sys.argv[2], sys.argv[3]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ts = self.headers.get("X-Breakglass-Timestamp", "")
        sig = self.headers.get("X-Breakglass-Signature", "")
        want = "sha256=" + hmac.new(SECRET, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sig, want) or not ts.isdigit() or abs(time.time() - int(ts)) > 300:
            return self.answer(401, {"error": "bad signature"})
        msg = json.loads(body)
        with open(os.path.join(STATE, "log.jsonl"), "a") as log:
            log.write(json.dumps(msg) + "\n")
        action, gid = msg.get("action"), msg.get("grant_id", "")
        if "/" in gid or gid.startswith("."):
            return self.answer(400, {"error": "bad grant id"})
        if action == "grant":
            open(os.path.join(STATE, gid), "w").close()
            return self.answer(200, {"token": "hook-" + gid})
        if action == "revoke":
            try:
                os.remove(os.path.join(STATE, gid))
            except FileNotFoundError:
                pass
            return self.answer(200, {})
        if action == "probe":
            return self.answer(200, {"ok": True})
        return self.answer(400, {"error": "unknown action"})


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
