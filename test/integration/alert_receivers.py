#!/usr/bin/env python3
"""Loopback receivers for the alert sinks test: one HTTP server with a generic webhook
(/webhook: checks X-Breakglass-Signature with the shared key and refuses a t more than 300 s
from its clock, as the contract tells receivers to), a Slack-shaped hook (/slack/...) and a
PagerDuty Events v2-shaped endpoint (/pagerduty: answers 202 like PagerDuty), and an SMTP
server (aiosmtpd). Every message received is appended as one JSON line to OUT_DIR/<kind>.jsonl.
While OUT_DIR/down.<kind> exists (kind webhook, slack or pagerduty), that endpoint answers 503
(a receiver that is down).

usage: alert_receivers.py HTTP_PORT_FILE SMTP_PORT_FILE OUT_DIR KEY_FILE
"""
import hashlib, hmac, json, os, socket, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

http_port_file, smtp_port_file, out, key_file = sys.argv[1:5]
with open(key_file, "rb") as f:
    key = f.read()
if key.endswith(b"\n"):
    key = key[:-1]  # the contract: one trailing newline removed
lock = threading.Lock()


def record(kind, entry):
    with lock, open(os.path.join(out, kind + ".jsonl"), "a") as f:
        f.write(json.dumps(entry) + "\n")


class Hooks(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=b"{}"):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        kind = self.path.strip("/").split("/")[0]
        if os.path.exists(os.path.join(out, "down." + kind)):
            record("refused", {"path": kind})
            return self.answer(503)
        if self.path == "/webhook":
            sig = dict(p.split("=", 1) for p in self.headers.get("X-Breakglass-Signature", "").split(","))
            t = int(sig.get("t", "0"))
            want = hmac.new(key, str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(want, sig.get("v1", "")) and abs(time.time() - t) <= 300
            if not ok:
                record("bad_signature", {"headers": dict(self.headers)})
                return self.answer(401)
            record("webhook", {"body": json.loads(body), "raw": body.decode(), "t": t,
                               "rx": time.time()})
            return self.answer(200)
        if self.path.startswith("/slack/"):
            record("slack", {"body": json.loads(body), "path": self.path})
            return self.answer(200, b"ok")
        if self.path == "/pagerduty":
            event = json.loads(body)
            record("pagerduty", {"body": event})
            return self.answer(202, json.dumps({"status": "success", "message": "Event processed",
                                                "dedup_key": event.get("dedup_key")}).encode())
        self.answer(404)


class Mail:
    async def handle_DATA(self, server, session, envelope):
        record("smtp", {"from": envelope.mail_from, "to": envelope.rcpt_tos,
                        "data": envelope.content.decode("utf-8", "replace")})
        return "250 OK"


def publish(path, port):
    with open(path + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(path + ".tmp", path)


httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
s = socket.socket()
s.bind(("127.0.0.1", 0))
smtp_port = s.getsockname()[1]
s.close()
mail = Controller(Mail(), hostname="127.0.0.1", port=smtp_port)
mail.start()
publish(smtp_port_file, smtp_port)
publish(http_port_file, httpd.server_address[1])
httpd.serve_forever()
