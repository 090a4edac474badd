#!/usr/bin/env python3
"""Slow clients against a live server, with its resident memory before, at peak and after.

Phases (N connections each, all held open at once, then all closed):
  slow-headers  a request line and half a header, then nothing (slowloris)
  slow-body     a complete header announcing a body near the server's limit, a quarter of it,
                then nothing
  slow-readers  GET /v1/events streams that never read, while requests make events
  slow-reading  big responses (GET /v1/requests) that the client never reads
After each phase the client sockets are closed and the server's RSS is read again after a
pause, so what a phase leaves behind shows. Prints one JSON object per phase and a summary.

Usage: slow_clients.py --url https://127.0.0.1:PORT --cacert CA --token TOKEN --pid PID [-n 300]
"""
import argparse
import json
import socket
import ssl
import sys
import time
import urllib.parse
import urllib.request


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Target:
    def __init__(self, url, cacert, token):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port
        self.url = url
        self.token = token
        self.ctx = ssl.create_default_context(cafile=cacert)
        self.ctx.check_hostname = False
        self.opened = 0

    def connect(self, rcvbuf=None):
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        raw.settimeout(30)
        # 50 connections per loopback source address, under the server's per-source limit
        # (http_max_connections_per_source, 64 by default), so that the memory of N open
        # connections is measured rather than the limit.
        if self.host.startswith("127."):
            raw.bind((f"127.0.0.{2 + self.opened // 50 % 250}", 0))
            self.opened += 1
        raw.connect((self.host, self.port))
        return self.ctx.wrap_socket(raw, server_hostname="localhost")

    def api(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
            return json.loads(r.read() or b"null")


def hold(target, n, opener, pid, settle, during=None):
    socks, refused = [], 0
    before = rss_kib(pid)
    for _ in range(n):
        try:
            socks.append(opener())
        except OSError:
            refused += 1
    if during:
        during()
    time.sleep(settle)
    peak = rss_kib(pid)
    for s in socks:
        try:
            s.close()
        except OSError:
            pass
    time.sleep(settle + 2)
    after = rss_kib(pid)
    return {"connections": len(socks), "refused": refused, "rss_before_mib": round(before / 1024, 1),
            "rss_peak_mib": round(peak / 1024, 1), "rss_after_mib": round(after / 1024, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--cacert", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--events", type=int, default=1000, help="requests created during slow-readers")
    ap.add_argument("--body-bytes", type=int, default=1000000)
    a = ap.parse_args()
    t = Target(a.url, a.cacert, a.token)
    auth = f"Authorization: Bearer {a.token}\r\n"
    results = {"start_rss_mib": round(rss_kib(a.pid) / 1024, 1)}

    def slow_headers():
        s = t.connect()
        s.sendall(b"GET /v1/requests HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        return s

    def slow_body():
        s = t.connect()
        s.sendall((f"POST /v1/requests HTTP/1.1\r\nHost: localhost\r\n{auth}"
                   f"Content-Type: application/json\r\nContent-Length: {a.body_bytes}\r\n\r\n{{").encode())
        s.sendall(b" " * (a.body_bytes // 4))
        return s

    def slow_reader():
        s = t.connect(rcvbuf=4096)
        s.sendall(f"GET /v1/events HTTP/1.1\r\nHost: localhost\r\n{auth}\r\n".encode())
        return s

    reason = "slow client memory benchmark " + "x" * 400

    def make_events():
        for i in range(a.events):
            t.api("POST", "/v1/requests", {"resource": "prod-db", "privilege": "read_only",
                                           "duration": "1h", "reason": reason,
                                           "ticket": f"INC-{10000 + i}"})

    def slow_reading():
        s = t.connect(rcvbuf=4096)
        s.sendall(f"GET /v1/requests HTTP/1.1\r\nHost: localhost\r\n{auth}\r\n".encode())
        return s

    for name, opener, during in (("slow_headers", slow_headers, None), ("slow_body", slow_body, None),
                                 ("slow_sse_readers", slow_reader, make_events),
                                 ("slow_response_readers", slow_reading, None)):
        r = hold(t, a.n, opener, a.pid, settle=2, during=during)
        r["phase"] = name
        print(json.dumps(r), flush=True)
        results[name] = r
    results["end_rss_mib"] = round(rss_kib(a.pid) / 1024, 1)
    with urllib.request.urlopen(a.url + "/metrics", context=t.ctx, timeout=30) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("breakglass_sse_streams_dropped_total"):
                results["sse_streams_dropped"] = float(line.split()[-1])
    results["peak_rss_mib"] = max(results[k]["rss_peak_mib"] for k in results if isinstance(results[k], dict))
    print(json.dumps({"summary": {k: v for k, v in results.items() if not isinstance(v, dict)}}))


if __name__ == "__main__":
    sys.exit(main())
