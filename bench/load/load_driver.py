#!/usr/bin/env python3
"""Mixed load against one breakglass server on loopback (issue 17), standard library only.

  load_driver.py capacity --server URL --cacert FILE --users DIR [--workers N] [--seconds S]
  load_driver.py soak     --server URL --cacert FILE --users DIR --rate R [--seconds S] --pid PID

Operations, each worker on its own keep-alive HTTPS connections with one requester's and one
approver's token:
  read     GET /v1/requests/{id}                   (a request this run created)
  list     GET /v1/requests?limit=20
  create   POST /v1/requests                       (tier 2, pending until approved)
  approve  POST /v1/requests/{id}/approve          (a pending request of another requester)
plus SSE clients on GET /v1/events that read every event.

capacity: closed loop, as fast as the workers go; prints throughput and p50/p99 per operation.
soak: open loop at R operations per second; samples the server's resident memory and open file
descriptors every 10 s (from /proc/PID); prints the first minute, the minute after the warm-up
(the first third of the run) and the last minute.
Every answer that is not the expected 2xx is counted per operation and status: a run with
errors says so (and exits 1).

Users: DIR/NAME.totp (base32 TOTP secret) for requesters r01.. and approvers a01.., the
password NAME-long-password (bench/load/load_bench.sh makes them with `breakglass user add`).
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import json
import multiprocessing as mp
import os
import queue
import random
import ssl
import statistics
import struct
import sys
import threading
import time
import urllib.parse

MIX = [("read", 60), ("list", 10), ("create", 15), ("approve", 15)]


def totp(secret_b32, at=None, step=30):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int((at if at is not None else time.time()) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    o = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[o:o + 4])[0] & 0x7FFFFFFF) % 1000000
    return f"{code:06d}"


class Client:
    def __init__(self, server, cacert):
        u = urllib.parse.urlparse(server)
        self.host, self.port = u.hostname, u.port
        self.ctx = ssl.create_default_context(cafile=cacert)
        self.ctx.check_hostname = False  # the server's self-signed certificate names no host
        self.conn = None

    def call(self, method, path, token=None, body=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                                        timeout=60)
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = "Bearer " + token
            data = json.dumps(body).encode() if body is not None else None
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, raw
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    return 0, b""
        return 0, b""


def login(server, cacert, users_dir, name):
    secret = open(os.path.join(users_dir, name + ".totp")).read().strip()
    c = Client(server, cacert)
    # A TOTP step is good once per account: wait for the next one if this one was used.
    for _ in range(3):
        status, raw = c.call("POST", "/v1/auth/login",
                             body={"username": name, "password": name + "-long-password",
                                   "totp": totp(secret)})
        if status == 200:
            return json.loads(raw)["token"]
        time.sleep(31 - time.time() % 30)
    raise SystemExit(f"login {name}: {status} {raw[:200]!r}")


def worker(index, args, tokens, pending, stop_at, rate, out):
    lat, errors = {op: [] for op, _ in MIX}, {"worker crashed": 1}
    # Ids still queued at the end are nobody's: exit without waiting to hand them over (else
    # the queue's feeder blocks on a full pipe and the worker never exits).
    pending.cancel_join_thread()
    try:
        lat, errors = work(index, args, tokens, pending, stop_at, rate)
    finally:
        out.put((lat, errors))


def work(index, args, tokens, pending, stop_at, rate):
    requester_token, approver_token = tokens
    c = Client(args.server, args.cacert)
    rnd = random.Random(index)
    lat = {op: [] for op, _ in MIX}
    errors = {}
    mine = []  # ids this worker created, for reads
    ops = [op for op, w in MIX for _ in range(w)]
    interval = 1.0 / rate if rate else 0.0
    next_at = time.monotonic()
    n = 0
    while True:
        now = time.monotonic()
        if now >= stop_at:
            break
        if interval:
            if now < next_at:
                time.sleep(next_at - now)
            next_at += interval
        op = rnd.choice(ops)
        if op == "read" and not mine:
            op = "list"
        if op == "approve":
            try:
                target = pending.get_nowait()
            except queue.Empty:
                op = "list"
        t0 = time.perf_counter()
        if op == "read":
            status, _ = c.call("GET", f"/v1/requests/{rnd.choice(mine)}", requester_token)
            ok = status == 200
        elif op == "list":
            status, _ = c.call("GET", "/v1/requests?limit=20", requester_token)
            ok = status == 200
        elif op == "create":
            status, raw = c.call("POST", "/v1/requests", requester_token, {
                "resource": "prod-db", "privilege": "dba", "duration": "2m",
                "reason": f"load test worker {index} op {n}", "ticket": f"INC-{1000 + n}"})
            ok = status == 201
            if ok:
                rid = json.loads(raw)["id"]
                mine.append(rid)
                if len(mine) > 200:
                    mine.pop(0)
                try:
                    pending.put_nowait(rid)
                except queue.Full:
                    pass
        else:
            status, _ = c.call("POST", f"/v1/requests/{target}/approve", approver_token,
                               {"comment": "load test"})
            ok = status == 200
        dt = time.perf_counter() - t0
        n += 1
        if ok:
            lat[op].append(dt)
        else:
            errors[f"{op} {status}"] = errors.get(f"{op} {status}", 0) + 1
    return lat, errors


def sse_client(args, token, stop_at, out):
    u = urllib.parse.urlparse(args.server)
    ctx = ssl.create_default_context(cafile=args.cacert)
    ctx.check_hostname = False
    events = 0
    try:
        # The socket's timeout bounds each read, so the client notices the end of the run.
        conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=5)
        conn.request("GET", "/v1/events", headers={"Authorization": "Bearer " + token})
        r = conn.getresponse()
        if r.status != 200:
            events = -r.status
            return
        while time.monotonic() < stop_at:
            try:
                line = r.fp.readline()
            except (TimeoutError, OSError):
                continue
            if not line:
                break
            if line.startswith(b"data:"):
                events += 1
        conn.close()
    except (http.client.HTTPException, OSError):
        pass
    finally:
        out.put(("sse", events))


def proc_sample(pid):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])  # kB
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


def run(args, rate_per_worker):
    names_r = sorted(f[:-5] for f in os.listdir(args.users) if f.startswith("r") and f.endswith(".totp"))
    names_a = sorted(f[:-5] for f in os.listdir(args.users) if f.startswith("a") and f.endswith(".totp"))
    tokens_r = {n: login(args.server, args.cacert, args.users, n) for n in names_r}
    tokens_a = {n: login(args.server, args.cacert, args.users, n) for n in names_a}
    ctx = mp.get_context("fork")
    pending = ctx.Queue(maxsize=10000)
    out = ctx.Queue()
    stop_at = time.monotonic() + args.seconds
    procs = []
    for i in range(args.sse):
        procs.append(ctx.Process(target=sse_client,
                                 args=(args, tokens_a[names_a[i % len(names_a)]], stop_at, out)))
    for i in range(args.workers):
        tok = (tokens_r[names_r[i % len(names_r)]], tokens_a[names_a[i % len(names_a)]])
        procs.append(ctx.Process(target=worker,
                                 args=(i, args, tok, pending, stop_at, rate_per_worker, out)))
    samples = []
    started = time.monotonic()
    for p in procs:
        p.start()
    if args.pid:
        while time.monotonic() < stop_at:
            samples.append((time.monotonic() - started,) + proc_sample(args.pid))
            time.sleep(min(10, max(0.1, stop_at - time.monotonic())))
        samples.append((time.monotonic() - started,) + proc_sample(args.pid))
    lat = {op: [] for op, _ in MIX}
    errors = {}
    sse_events = []
    for _ in procs:
        item = out.get()
        if item[0] == "sse":
            sse_events.append(item[1])
            continue
        l, e = item
        for op in lat:
            lat[op] += l[op]
        for k, v in e.items():
            errors[k] = errors.get(k, 0) + v
    elapsed = time.monotonic() - started
    for p in procs:
        p.join(timeout=30)
        if p.is_alive():
            p.terminate()
    return lat, errors, sse_events, samples, elapsed


def report(kind, args, lat, errors, sse_events, samples, elapsed):
    total = sum(len(v) for v in lat.values())
    result = {"mode": kind, "seconds": round(elapsed, 1), "workers": args.workers,
              "sse_clients": args.sse, "ops": total, "ops_per_s": round(total / elapsed, 1),
              "per_op": {}, "errors": errors, "sse_events": sse_events}
    for op, v in lat.items():
        result["per_op"][op] = {"count": len(v), "per_s": round(len(v) / elapsed, 1),
                                "p50_ms": round(pct(v, 50) * 1000, 2),
                                "p99_ms": round(pct(v, 99) * 1000, 2)}
    if samples:
        # Warm-up: the first third of the run (the grants made at its start have ended and
        # their state is in steady turnover by then), compared with the last minute.
        end = samples[-1][0]
        first = [s for s in samples if s[0] <= 60] or samples[:1]
        warm = [s for s in samples if end / 3 <= s[0] <= end / 3 + 60] or samples[:1]
        last = [s for s in samples if s[0] >= end - 60] or samples[-1:]
        for key, col in (("rss_kb", 1), ("fds", 2)):
            result[key] = {"first_minute": round(statistics.mean(s[col] for s in first)),
                           "after_warmup": round(statistics.mean(s[col] for s in warm)),
                           "last_minute": round(statistics.mean(s[col] for s in last)),
                           "max": max(s[col] for s in samples)}
        result["samples"] = [[round(s[0]), s[1], s[2]] for s in samples]
    print(json.dumps(result))
    print(f"{kind}: {total} ops in {elapsed:.1f} s = {total / elapsed:.0f} ops/s "
          f"({args.workers} workers, {args.sse} SSE clients)", file=sys.stderr)
    for op, s in result["per_op"].items():
        print(f"  {op:<8} {s['per_s']:>8.1f}/s  p50 {s['p50_ms']:>8.2f} ms  p99 {s['p99_ms']:>8.2f} ms",
              file=sys.stderr)
    if "rss_kb" in result:
        r, f = result["rss_kb"], result["fds"]
        print(f"  server RSS {r['first_minute']} kB first minute, {r['after_warmup']} kB after "
              f"warm-up, {r['last_minute']} kB last minute (max {r['max']}); fds "
              f"{f['first_minute']} / {f['after_warmup']} / {f['last_minute']} (max {f['max']})",
              file=sys.stderr)
    if errors:
        print(f"  errors: {errors}", file=sys.stderr)
    return 1 if errors else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["capacity", "soak"])
    ap.add_argument("--server", required=True)
    ap.add_argument("--cacert", required=True)
    ap.add_argument("--users", required=True)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--sse", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--rate", type=float, default=0, help="soak: operations per second, in all")
    ap.add_argument("--pid", type=int, default=0, help="the server's pid (memory, descriptors)")
    args = ap.parse_args()
    if args.mode == "soak" and args.rate <= 0:
        ap.error("soak needs --rate")
    per_worker = args.rate / args.workers if args.mode == "soak" else 0
    lat, errors, sse, samples, elapsed = run(args, per_worker)
    sys.exit(report(args.mode, args, lat, errors, sse, samples, elapsed))


if __name__ == "__main__":
    main()
