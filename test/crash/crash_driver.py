#!/usr/bin/env python3
"""Crash consistency and full disks for breakglass (issue 17; test/crash/README.md).

  crash_driver.py kills --bg BIN --work DIR [--kills N] [--seed S]
      The real server with the exec connector (connector.sh); lifecycles through the HTTP API
      while the server is SIGKILLed N times at random moments, restarted each time, and every
      invariant checked after every restart.
  crash_driver.py disk --bg BIN --work DIR --fs MOUNTPOINT
      The data directory on a small file system the caller mounted (and may remount): filled while
      requests are made, then the space returned; then the file system made read-only.

Python 3 standard library only. Exit status 0 when every invariant held, 1 with "FAIL: ..." when
one did not.
"""
import argparse
import base64
import ctypes
import hashlib
import hmac
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import ssl
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONNECTOR = os.path.join(HERE, "connector.sh")
REQUESTERS = ["alice", "bob"]
APPROVERS = ["carol", "dave", "erin"]
AUDITOR = "sam"
# Deadlines for what the server does by itself after a restart or once space returns. Generous:
# the machines that run this are loaded; the figures actually taken are reported.
SETTLE_DEADLINE = 90.0


class Fail(Exception):
    pass


def fail(msg):
    raise Fail(msg)


def log(msg):
    print(msg, flush=True)


# ---- small tools ------------------------------------------------------------------------------

def totp(secret_b32, now=None):
    """RFC 6238 with SHA-1, 6 digits, 30 s steps (what oathtool --totp computes)."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int(now if now is not None else time.time()) // 30
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_parallel(count, threads, fn):
    """Calls fn(k) for every k in range(count), on `threads` threads; returns the wall time."""
    lock = threading.Lock()
    counter = iter(range(count))

    def worker():
        while True:
            with lock:
                k = next(counter, None)
            if k is None:
                return
            fn(k)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    t0 = time.monotonic()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.monotonic() - t0


def write_private(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def parse_time(rfc3339):
    return time.mktime(time.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone


_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: no server outlives the driver


class CompactRange:
    """RFC 6962 Merkle tree head over appended leaf hashes, kept as perfect subtree roots."""

    def __init__(self):
        self.size = 0
        self.nodes = []  # (height, hash), heights decreasing

    def append(self, leaf_hash):
        self.size += 1
        node = (0, leaf_hash)
        while self.nodes and self.nodes[-1][0] == node[0]:
            left = self.nodes.pop()
            node = (node[0] + 1, hashlib.sha256(b"\x01" + left[1] + node[1]).digest())
        self.nodes.append(node)

    def root(self):
        if not self.nodes:
            return hashlib.sha256(b"").digest()
        r = self.nodes[-1][1]
        for _, h in reversed(self.nodes[:-1]):
            r = hashlib.sha256(b"\x01" + h + r).digest()
        return r


# ---- the server -------------------------------------------------------------------------------

class Unsent(Exception):
    """The request never reached a server (connection refused): it had no effect."""


class Unknown(Exception):
    """The connection broke after the request was sent: it may or may not have had an effect."""


class Server:
    def __init__(self, bg, work, config, data_dir):
        self.bg, self.work, self.config, self.data_dir = bg, work, config, data_dir
        self.proc = None
        self.port = None
        self.pids = []  # every server started, in order
        self.spawned_at = []  # wall time each was spawned
        self.by_pid = {}  # pid -> indexes into pids
        self.started_at = []  # wall time each began to listen
        self.ctx = None

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def start(self, expect_failure=False):
        """Starts `serve` on a free loopback port and waits until it listens. With
        expect_failure, returns (exit status, stderr tail) if it exits before listening."""
        for _ in range(5):
            port = free_port()
            out_path = os.path.join(self.work, "serve.out")
            err_path = os.path.join(self.work, "serve.err")
            with open(out_path, "w") as out, open(err_path, "a") as err:
                err.write("--- start on port %d\n" % port)
                err.flush()
                err_offset = err.tell()
                spawned = time.time()
                p = subprocess.Popen([self.bg, "serve", "--config", self.config, "--listen",
                                      "127.0.0.1:%d" % port],
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                     cwd=self.work, preexec_fn=_die_with_parent)
            deadline = time.monotonic() + 300
            while True:
                with open(out_path) as f:
                    if "listening on" in f.read():
                        break
                if p.poll() is not None:
                    with open(err_path) as f:
                        f.seek(err_offset)
                        tail = f.read()[-2000:]
                    if "in use" in tail and not expect_failure:
                        break  # the port was taken meanwhile: another one
                    if expect_failure:
                        return p.returncode, tail
                    fail("the server exited (status %s) before listening: %s" % (p.returncode, tail))
                if time.monotonic() > deadline:
                    p.kill()
                    fail("the server did not listen within 300 s")
                time.sleep(0.01)
            if p.poll() is None:
                self.proc, self.port = p, port
                self.by_pid.setdefault(p.pid, []).append(len(self.pids))
                self.pids.append(p.pid)
                self.spawned_at.append(spawned)
                self.started_at.append(time.time())
                if self.ctx is None:
                    self.ctx = ssl.create_default_context(
                        cafile=os.path.join(self.data_dir, "tls.crt"))
                if expect_failure:
                    return None, ""
                return
        fail("no free port for the server after 5 tries")

    def lifetime_of(self, pid, t):
        """Which server (its index in pids) made a connector call recorded with `pid` at `t`:
        pids are reused (pid_max may be 32768), so the latest one of that pid spawned before t."""
        k = None
        for i in self.by_pid.get(pid, []):
            if self.spawned_at[i] <= t:
                k = i
        return k

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.proc is None:
            return
        try:
            self.proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None

    def stop(self):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            fail("the server did not stop within 120 s of SIGTERM")
        rc = self.proc.returncode
        self.proc = None
        if rc != 0:
            fail("the server exited with status %s after SIGTERM" % rc)


class Api:
    """HTTPS calls with one kept-alive connection per thread; knows unsent from unknown."""

    def __init__(self, server):
        self.server = server
        self.local = threading.local()

    def _conn(self):
        c = getattr(self.local, "conn", None)
        gen = len(self.server.pids)
        # A connection of an earlier server, or idle long enough for the server to close it
        # (http_idle_timeout, 30 s), is not reused: a request on it would fail after being sent.
        if c is not None and self.local.gen == gen and time.monotonic() - self.local.used < 20:
            return c
        if c is not None:
            c.close()
        c = http.client.HTTPSConnection("127.0.0.1", self.server.port, context=self.server.ctx,
                                        timeout=120)
        self.local.conn, self.local.gen = c, gen
        return c

    def _drop(self):
        c = getattr(self.local, "conn", None)
        if c is not None:
            c.close()
        self.local.conn = None

    def call(self, method, path, body=None, token=None):
        """-> (status, parsed JSON or text). Raises Unsent or Unknown."""
        if self.server.port is None:
            raise Unsent("no server")
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        data = json.dumps(body) if body is not None else None
        c = self._conn()
        try:
            if c.sock is None:
                c.connect()
                self.local.used = time.monotonic()
        except (ConnectionRefusedError, ConnectionResetError, ssl.SSLError, OSError) as e:
            self._drop()
            raise Unsent(str(e))
        try:
            c.request(method, path, data, headers)
            r = c.getresponse()
            raw = r.read()
            self.local.used = time.monotonic()
        except (http.client.HTTPException, OSError, ssl.SSLError) as e:
            self._drop()
            raise Unknown("%s %s: %r" % (method, path, e))
        if r.getheader("Connection", "").lower() == "close":
            self._drop()
        text = raw.decode("utf-8", "replace")
        if r.getheader("Content-Type", "").startswith("application/json"):
            try:
                return r.status, json.loads(text)
            except ValueError:
                fail("%s %s: HTTP %d with a body that is not JSON: %r" % (method, path, r.status,
                                                                         text[:200]))
        return r.status, text


# ---- the set-up: configuration, policy, accounts ----------------------------------------------

class Setup:
    def __init__(self, bg, work, data_dir, state_file, extra_config=()):
        """`extra_config`: more lines of the server configuration (a storage URI)."""
        self.bg, self.work, self.data_dir, self.state_file = bg, work, data_dir, state_file
        self.config = os.path.join(work, "bg.toml")
        self.secrets = {}
        os.makedirs(data_dir, mode=0o700, exist_ok=True)
        os.chmod(data_dir, 0o700)
        write_private(state_file, "")
        policy = os.path.join(work, "policy.toml")
        write_private(self.config, "\n".join([
            'data_dir = "%s"' % data_dir,
            'policy = "%s"' % policy,
            'token_ttl = "12h"'] + list(extra_config) + [
            '[connectors.app]',
            'kind = "exec"',
            'grant = ["/bin/sh", "%s", "grant", "%s"]' % (CONNECTOR, state_file),
            'revoke = ["/bin/sh", "%s", "revoke", "%s"]' % (CONNECTOR, state_file),
            'timeout = "60s"',
            ""]))
        write_private(policy, "\n".join([
            'version = 1',
            '[settings]',
            'timezone = "UTC"',
            'reason_min_length = 5',
            '[groups]',
            'sre = [%s]' % ", ".join('"%s"' % u for u in REQUESTERS),
            '[pools]',
            'approvers = [%s]' % ", ".join('"%s"' % u for u in APPROVERS),
            '[[resources]]',
            'name = "app"',
            'connector = "app"',
            'privileges = ["read", "admin"]',
            '[[rules]]',
            'resource = "app"',
            'privileges = ["read"]',
            'requesters = ["group:sre"]',
            'tier = 1',
            'max_duration = "1h"',
            'review_within = "72h"',
            '[[rules]]',
            'resource = "app"',
            'privileges = ["admin"]',
            'requesters = ["group:sre"]',
            'tier = 2',
            'pool = "approvers"',
            'approvals = 2',
            'max_duration = "1h"',
            'approval_window = "1h"',
            'mfa_max_age = "12h"',
            ""]))
        roles = {u: "requester" for u in REQUESTERS}
        roles.update({u: "approver" for u in APPROVERS})
        roles[AUDITOR] = "auditor"
        for user, role in roles.items():
            p = subprocess.run([self.bg, "user", "add", user, "--role", role, "--password-stdin",
                                "--config", self.config, "--json"],
                               input=user + "-long-password\n", capture_output=True, text=True)
            try:
                uri = json.loads(p.stdout)["otpauth_uri"]
            except (ValueError, KeyError):
                fail("user add %s: exit %d: %s %s" % (user, p.returncode, p.stdout, p.stderr))
            self.secrets[user] = uri.split("secret=")[1].split("&")[0]


def login_all(api, secrets):
    """One login per account for the whole run: tokens outlive restarts (and a code may be used
    once only)."""
    tokens = {}
    for user, secret in secrets.items():
        st, body = api.call("POST", "/v1/auth/login", {"username": user,
                                                       "password": user + "-long-password",
                                                       "totp": totp(secret)})
        if st != 200:
            fail("login %s: HTTP %d %s" % (user, st, body))
        tokens[user] = body["token"]
    return tokens


# ---- what the driver knows: requests, acknowledged changes ------------------------------------

class Req:
    def __init__(self, tag, kind, requester, duration):
        self.tag, self.kind, self.requester, self.duration = tag, kind, requester, duration
        self.rid = None
        self.create_acked = False
        self.approvers = []  # who will approve, in order (tier 2)
        self.approved_acked = set()
        self.approve_resolved = set()  # acknowledged, or refused as no longer pending
        self.revoke_at = None  # monotonic time of the planned revocation
        self.revoke_acked = False
        self.revoke_resolved = False
        self.cancel_acked = False
        self.cancel_resolved = False
        self.busy = False
        self.done = False


class Model:
    def __init__(self, rng):
        self.rng = rng
        self.lock = threading.Condition()
        self.reqs = {}  # tag -> Req
        self.open = {}  # tag -> Req whose lifecycle the driver has not finished
        self.by_rid = {}
        self.next_tag = 0
        self.inflight = 0
        self.counts = {k: 0 for k in ["created", "approved", "revoked", "cancelled", "unknown",
                                      "unsent", "refused_503", "refused_409"]}
        self.refused_tags = []
        self.messages_503 = {}  # each distinct 503 message -> the first write it refused
        self.conflicts = {}  # "action: message" of each 409 -> how many  # tags of writes the server refused with 503 (disk mode)

    def new_req(self, kind, requester, duration):
        with self.lock:
            self.next_tag += 1
            r = Req("L%05d" % self.next_tag, kind, requester, duration)
            self.reqs[r.tag] = r
            self.open[r.tag] = r
            r.busy = True
            return r

    def finish(self, r):
        with self.lock:
            r.done = True
            self.open.pop(r.tag, None)

    def begin(self):
        with self.lock:
            self.inflight += 1

    def end(self):
        with self.lock:
            self.inflight -= 1
            self.lock.notify_all()

    def wait_idle(self, secs):
        deadline = time.monotonic() + secs
        with self.lock:
            while self.inflight > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    fail("%d calls still in flight %d s after the kill" % (self.inflight, secs))
                self.lock.wait(left)

    def count(self, key):
        with self.lock:
            self.counts[key] += 1


class Driver:
    """Makes lifecycles: tier-1 grants that expire or are revoked, tier-2 requests approved by two
    of three approvers that expire or are revoked, tier-2 requests cancelled while pending."""

    def __init__(self, api, tokens, model, rng, allow_503=False):
        self.api, self.tokens, self.m, self.rng = api, tokens, model, rng
        self.allow_503 = allow_503
        self.up = threading.Event()
        self.stop = threading.Event()
        self.errors = []  # what failed on a thread of the driver: raised by check()

    def guarded(self, fn, *a):
        try:
            fn(*a)
        except Exception as e:  # a Fail, or a bug of the driver: either ends the test
            self.errors.append("%s: %s" % (type(e).__name__, e))
            self.stop.set()

    def check(self):
        if self.errors:
            fail("on a driver thread: " + self.errors[0])

    def _call(self, user, method, path, body):
        self.m.begin()
        try:
            return self.api.call(method, path, body, self.tokens[user])
        except Unsent:
            self.m.count("unsent")
            return None, None
        except Unknown:
            self.m.count("unknown")
            return None, None
        finally:
            self.m.end()

    def _unexpected(self, what, st, body):
        """Any answer but 2xx and the documented 409s fails the test, except, where the store is
        made to fail (disk mode), a 503 that says so in JSON."""
        if st == 503 and self.allow_503:
            err = body.get("error", {}) if isinstance(body, dict) else {}
            if err.get("code") != "unavailable" or not err.get("message"):
                fail("%s: a 503 without a clear JSON error: %r" % (what, body))
            self.m.messages_503.setdefault(err["message"], what)
            self.m.count("refused_503")
            return
        fail("%s: unexpected HTTP %s %r" % (what, st, body))

    def create(self, kind, requester=None, duration=None):
        rng = self.rng
        requester = requester or rng.choice(REQUESTERS)
        if duration is None:
            duration = {"t1_expire": rng.randint(1, 5), "t2_expire": rng.randint(2, 8),
                        "t1_revoke": rng.randint(30, 90), "t2_revoke": rng.randint(30, 90),
                        "t2_cancel": 600}[kind]
        r = self.m.new_req(kind, requester, duration)
        if kind.startswith("t2"):  # two approvals grant it; a cancelled one gets one first
            r.approvers = rng.sample(APPROVERS, 1 if kind == "t2_cancel" else 2)
        if kind.endswith("revoke"):
            r.revoke_at = time.monotonic() + rng.uniform(0.2, 4.0)
        self.try_create(r)
        return r

    def try_create(self, r):
        body = {"resource": "app", "privilege": "read" if r.kind.startswith("t1") else "admin",
                "duration": "%ds" % r.duration, "reason": "crash test lifecycle %s" % r.tag,
                "ticket": "CRASH-%s" % r.tag[1:]}
        st, out = self._call(r.requester, "POST", "/v1/requests", body)
        with self.m.lock:
            r.busy = False
            if st == 201:
                r.rid, r.create_acked = out["id"], True
                self.m.by_rid[r.rid] = r
                self.m.counts["created"] += 1
                return
            if st is None:
                return  # unknown or unsent: the listing after the restart tells
        self._unexpected("create %s" % r.tag, st, out)
        if st == 503:
            with self.m.lock:
                self.m.refused_tags.append(r.tag)
            self.m.finish(r)  # never retried under this tag: it must leave no trace

    def step(self, r):
        """One step of r's lifecycle (approve, revoke, cancel), or nothing if none is due."""
        now = time.monotonic()
        if r.rid is None:
            return False
        for a in r.approvers:
            if a not in r.approve_resolved:
                return self._decide(r, a, "approve", {"comment": "crash test %s %s" % (r.tag, a)})
        if r.kind == "t2_cancel" and not r.cancel_resolved:
            return self._decide(r, r.requester, "cancel", {"reason": "crash test %s" % r.tag})
        if r.revoke_at is not None and not r.revoke_resolved:
            if now < r.revoke_at:
                return False
            return self._decide(r, r.requester, "revoke", {"reason": "crash test %s" % r.tag})
        self.m.finish(r)
        return False

    def _decide(self, r, user, action, body):
        with self.m.lock:
            if r.busy:
                return False
            r.busy = True
        st, out = self._call(user, "POST", "/v1/requests/%s/%s" % (r.rid, action), body)
        with self.m.lock:
            r.busy = False
            if st is None:
                return True
            if st == 200:
                if action == "approve":
                    r.approved_acked.add(user)
                    r.approve_resolved.add(user)
                    self.m.counts["approved"] += 1
                elif action == "revoke":
                    r.revoke_acked = r.revoke_resolved = True
                    self.m.counts["revoked"] += 1
                else:
                    r.cancel_acked = r.cancel_resolved = True
                    self.m.counts["cancelled"] += 1
                return True
            if st == 409:
                # No longer possible (the grant ended, a retried approval after the request was
                # approved): not acknowledged, nothing to retry; the request's state must say so.
                self.m.counts["refused_409"] += 1
                msg = out.get("error", {}).get("message", "") if isinstance(out, dict) else ""
                key = "%s: %s" % (action, msg)
                self.m.conflicts[key] = self.m.conflicts.get(key, 0) + 1
                if action == "approve":
                    r.approve_resolved.add(user)
                elif action == "revoke":
                    r.revoke_resolved = True
                else:
                    r.cancel_resolved = True
        if st == 409:
            self._explained_409(r, action, out)
            return True
        self._unexpected("%s %s as %s" % (action, r.rid, user), st, out)
        return True

    # A 409 is explained when the request has left the states the action applies to.
    APPLIES_TO = {"approve": ("pending",), "cancel": ("pending",), "revoke": ("approved", "active")}

    def _explained_409(self, r, action, out):
        self.m.begin()
        try:
            st, now = self.api.call("GET", "/v1/requests/%s" % r.rid, None, self.tokens[AUDITOR])
        except (Unsent, Unknown):
            return  # the server went down meanwhile: the checks after the restart see the state
        finally:
            self.m.end()
        if st == 200 and now["state"] in self.APPLIES_TO[action]:
            fail("%s of %s refused with 409 while it is %s: %r" % (action, r.rid, now["state"], out))

    def pick_kind(self):
        return self.rng.choices(["t1_expire", "t2_expire", "t1_revoke", "t2_revoke", "t2_cancel"],
                                [4, 3, 2, 2, 1])[0]

    def worker(self, wid):
        rng = random.Random(self.rng.random())
        while not self.stop.is_set():
            if not self.up.wait(0.2):
                continue
            with self.m.lock:
                mine = [r for r in self.m.open.values()
                        if not r.busy and r.rid is not None and hash(r.tag) % self.workers == wid]
            did = False
            for r in mine:
                if self.stop.is_set() or not self.up.is_set():
                    break
                did = self.step(r) or did
            open_ones = sum(1 for r in mine if not r.done)
            if not did and open_ones < 4 and self.up.is_set():
                self.create(self.pick_kind())
            time.sleep(rng.uniform(0.01, 0.05))

    def start_workers(self, n):
        self.workers = n
        self.threads = [threading.Thread(target=self.guarded, args=(self.worker, i), daemon=True)
                        for i in range(n)]
        for t in self.threads:
            t.start()

    def burst(self, n):
        """n requests at once, each on its own thread (the kill lands among them)."""
        threads = [threading.Thread(target=self.guarded, args=(self.create, self.pick_kind()),
                                    daemon=True) for _ in range(n)]
        for t in threads:
            t.start()
        return threads


# ---- what the server shows: requests, the audit log, the connector ----------------------------

class Observed:
    """The audit log as fetched (checked against signed checkpoints), indexed by request."""

    def __init__(self):
        self.range = CompactRange()  # over the leaves covered by the last checkpoint checked
        self.leaves = []  # every leaf fetched, parsed, by index
        self.types = {}  # request id -> {event type: [index, ...]}
        self.grant_ok = {}  # request id -> [index of connector.grant with outcome ok]
        self.starts = []  # index of each server.started leaf
        self.texts = []  # leaf text, for "no trace of a refused write"

    def add(self, index, leaf_b64):
        raw = base64.b64decode(leaf_b64)
        if index < len(self.leaves):
            if raw.decode("utf-8", "replace") != self.texts[index]:
                fail("audit leaf %d changed between two reads" % index)
            return raw
        if index != len(self.leaves):
            fail("audit entries out of order: got %d, want %d" % (index, len(self.leaves)))
        ev = json.loads(raw)
        self.leaves.append(ev)
        self.texts.append(raw.decode("utf-8", "replace"))
        rid, typ = ev.get("request"), ev["type"]
        if typ == "server.started":
            self.starts.append(index)
        if rid:
            self.types.setdefault(rid, {}).setdefault(typ, []).append(index)
            if typ == "connector.grant" and ev.get("details", {}).get("outcome") == "ok":
                self.grant_ok.setdefault(rid, []).append(index)
        return raw

    def has(self, rid, typ):
        return typ in self.types.get(rid, {})


def fetch_checkpoint(api, token):
    st, body = api.call("GET", "/v1/audit/checkpoint", None, token)
    if st != 200:
        return None
    lines = body.split("\n")
    return {"text": body, "size": int(lines[1]), "root": base64.b64decode(lines[2])}


def sync_log(api, token, obs, cp):
    """Fetches the entries up to cp's size, checks that they hash to cp's root, then the rest."""
    start = obs.range.size
    while start < cp["size"]:
        st, body = api.call("GET", "/v1/audit/entries?start=%d&end=%d" % (start, cp["size"]),
                            None, token)
        if st != 200:
            fail("GET /v1/audit/entries: HTTP %s %s" % (st, body))
        for e in body["entries"]:
            raw = obs.add(e["index"], e["leaf"])
            obs.range.append(hashlib.sha256(b"\x00" + raw).digest())
        start = obs.range.size
    if obs.range.root() != cp["root"]:
        fail("the entries do not hash to the checkpoint's root at size %d" % cp["size"])
    # What was appended after the checkpoint: not hashed yet (the next checkpoint covers it).
    start = len(obs.leaves)
    while True:
        st, body = api.call("GET", "/v1/audit/entries?start=%d" % start, None, token)
        if st != 200:
            fail("GET /v1/audit/entries: HTTP %s %s" % (st, body))
        for e in body["entries"]:
            obs.add(e["index"], e["leaf"])
        start = len(obs.leaves)
        if not body["entries"] or body.get("next") is None:
            break


def list_requests(api, token):
    out, before = {}, None
    while True:
        path = "/v1/requests?limit=1000" + ("&before=%s" % before if before else "")
        st, body = api.call("GET", path, None, token)
        if st != 200:
            fail("GET %s: HTTP %s %s" % (path, st, body))
        for r in body["requests"]:
            out[r["id"]] = r
        if len(body["requests"]) < 1000:
            return out
        before = body["requests"][-1]["id"]


class ConnectorLog:
    """The exec connector's state file, read incrementally: per request id its calls in order."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.calls = {}  # id -> [(action, server pid, unix time)]
        self.lines = 0
        self.grants = 0
        self.revokes = 0

    def read(self):
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1  # a line being written is read next time
        self.offset += end
        for line in data[:end].decode().splitlines():
            action, rid, pid, t, _ = line.split(" ")
            self.calls.setdefault(rid, []).append((action, int(pid), float(t)))
            self.lines += 1
            if action == "grant":
                self.grants += 1
            else:
                self.revokes += 1

    def last(self, rid):
        c = self.calls.get(rid)
        return c[-1][0] if c else None

    def granted(self, rid):
        return any(a == "grant" for a, _, _ in self.calls.get(rid, []))


# ---- the invariants ---------------------------------------------------------------------------

APPROVAL_EVENTS = ("request.approved", "request.self_approved", "request.auto_approved")
STATE_EVENTS = {"revoked": "request.revoked", "cancelled": "request.cancelled",
                "expired": "request.expired"}


class Checker:
    def __init__(self, api, server, tokens, model, obs, conn, bg, work, strict_once=True):
        self.api, self.server, self.tokens, self.m = api, server, tokens, model
        self.obs, self.conn, self.bg, self.work = obs, conn, bg, work
        self.strict_once = strict_once  # crash mode: no second grant within one server lifetime
        self.stats = {"expiries_checked": 0, "revokes_checked": 0, "activations": 0,
                      "regrants_after_crash": 0, "max_revoke_lag": 0.0, "max_settle": 0.0,
                      "acked_checked": 0, "proofs": 0, "full_verifies": 0}
        self.expiry_seen, self.revoke_seen, self.activation_seen = set(), set(), set()
        self.tok = tokens[AUDITOR]

    # -- the log against the checkpoint held from before --
    def verify_proof(self, trusted_path):
        env = dict(os.environ, BREAKGLASS_TOKEN=self.tok, BREAKGLASS_SERVER=self.server.url,
                   BREAKGLASS_CACERT=os.path.join(self.server.data_dir, "tls.crt"))
        p = subprocess.run([self.bg, "audit", "verify", "--server", self.server.url,
                            "--proof-only", "--trusted-checkpoint", trusted_path],
                           env=env, capture_output=True, text=True)
        if p.returncode != 0:
            fail("audit verify --proof-only against the checkpoint from before the kill: exit %d: %s%s"
                 % (p.returncode, p.stdout, p.stderr))
        self.stats["proofs"] += 1

    def verify_full_offline(self, trusted_path):
        """The server is down: export the data directory and verify every entry."""
        bundle = os.path.join(self.work, "bundle")
        shutil.rmtree(bundle, ignore_errors=True)
        p = subprocess.run([self.bg, "audit", "export", "--data-dir", self.server.data_dir,
                            "--bundle", bundle],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            fail("audit export --data-dir: exit %d: %s" % (p.returncode, p.stderr))
        p = subprocess.run([self.bg, "audit", "verify", "--bundle", bundle,
                            "--trusted-checkpoint", trusted_path], capture_output=True, text=True)
        if p.returncode != 0:
            fail("audit verify --bundle --trusted-checkpoint: exit %d: %s%s"
                 % (p.returncode, p.stdout, p.stderr))
        self.stats["full_verifies"] += 1
        return p.stdout.strip()

    def verify_full_online(self, trusted_path):
        env = dict(os.environ, BREAKGLASS_TOKEN=self.tok,
                   BREAKGLASS_CACERT=os.path.join(self.server.data_dir, "tls.crt"))
        p = subprocess.run([self.bg, "audit", "verify", "--server", self.server.url,
                            "--trusted-checkpoint", trusted_path],
                           env=env, capture_output=True, text=True)
        if p.returncode != 0:
            fail("audit verify --server --trusted-checkpoint: exit %d: %s%s"
                 % (p.returncode, p.stdout, p.stderr))
        self.stats["full_verifies"] += 1

    def sync(self):
        cp = fetch_checkpoint(self.api, self.tok)
        if cp is None:
            fail("GET /v1/audit/checkpoint failed after the restart")
        sync_log(self.api, self.tok, self.obs, cp)
        return cp

    # -- every acknowledged change is there; no state without its audit leaf --
    def check_state(self, reqs):
        m, obs = self.m, self.obs
        with m.lock:
            by_reason = {}
            for r in reqs.values():
                by_reason[r["reason"]] = r
            for tag, q in m.reqs.items():
                seen = by_reason.get("crash test lifecycle %s" % tag)
                if q.rid is None and seen is not None:
                    q.rid = seen["id"]  # an unacknowledged create that committed: adopted
                    m.by_rid[q.rid] = q
                elif q.rid is None and not q.busy:
                    m.open.pop(tag, None)  # cut off before it was stored: nothing to go on with
                    q.done = True
                if q.create_acked and q.rid not in reqs:
                    fail("acknowledged request %s (%s) is gone after the restart" % (q.rid, tag))
                if q.rid is None or q.rid not in reqs:
                    continue
                r = reqs[q.rid]
                got = {a["approver"] for a in r["approvals"]}
                for a in q.approved_acked:
                    if a not in got:
                        fail("the acknowledged approval of %s by %s is gone: %s" % (q.rid, a, r))
                if q.revoke_acked and r["state"] != "revoked":
                    fail("acknowledged revocation of %s is gone: state %s" % (q.rid, r["state"]))
                if q.cancel_acked and r["state"] != "cancelled":
                    fail("acknowledged cancellation of %s is gone: state %s" % (q.rid, r["state"]))
                self.stats["acked_checked"] += (q.create_acked + len(q.approved_acked) +
                                                q.revoke_acked + q.cancel_acked)
        for rid, r in reqs.items():
            if not obs.has(rid, "request.created"):
                fail("request %s is stored without its request.created leaf" % rid)
            for a in r["approvals"]:
                if not any(obs.leaves[i]["actor"] == a["approver"]
                           for i in obs.types[rid].get("approval.recorded", [])):
                    fail("the approval of %s by %s is stored without its leaf" % (rid, a["approver"]))
            if r["state"] in ("approved", "active", "expired", "revoked"):  # revoke needs approved
                if not any(obs.has(rid, t) for t in APPROVAL_EVENTS):
                    fail("request %s is %s without an approval leaf" % (rid, r["state"]))
            if r["starts_at"] is not None and not obs.has(rid, "request.activated"):
                fail("request %s has a grant window without request.activated" % rid)
            ev = STATE_EVENTS.get(r["state"])
            if ev and not obs.has(rid, ev):
                fail("request %s is %s without its %s leaf" % (rid, r["state"], ev))

    # -- the connector: nothing granted twice, nothing granted without the log knowing --
    def check_connector_history(self):
        obs = self.obs
        regrants = 0
        for rid, calls in self.conn.calls.items():
            revoked = False
            grant_lifetimes = []
            for action, pid, t in calls:
                if action == "revoke":
                    revoked = True
                    continue
                if revoked:
                    fail("%s granted at the connector after its revocation: %s" % (rid, calls))
                k = self.server.lifetime_of(pid, t)
                if k is None:
                    fail("%s granted by an unknown process %d" % (rid, pid))
                if k in grant_lifetimes:
                    if self.strict_once:
                        fail("%s granted twice by one server (#%d, pid %d): %s" % (
                            rid, k, pid, calls))
                else:
                    grant_lifetimes.append(k)
                # Granted again by a later server although an earlier one had recorded the grant:
                # a real double grant (a repeat is promised only when the outcome was not stored).
                if k < len(obs.starts):
                    before = [i for i in obs.grant_ok.get(rid, []) if i < obs.starts[k]]
                    if before:
                        fail("%s granted again by server #%d although connector.grant ok was "
                             "logged at %d before it started (leaf %d); calls %s, servers %s" % (
                                 rid, k, before[0], obs.starts[k], calls,
                                 [(i, self.server.pids[i], self.server.spawned_at[i])
                                  for i in sorted({self.server.lifetime_of(p, t) or 0
                                                   for _, p, t in calls})]))
                if not any(obs.has(rid, e) for e in APPROVAL_EVENTS):
                    fail("%s granted at the connector without an approval in the log" % rid)
            regrants += max(0, len(grant_lifetimes) - 1)
        self.stats["regrants_after_crash"] = regrants

    def _get(self, rid):
        st, body = self.api.call("GET", "/v1/requests/%s" % rid, None, self.tok)
        if st != 200:
            fail("GET /v1/requests/%s: HTTP %s %s" % (rid, st, body))
        return body

    def wait_active(self, rid):
        deadline = time.monotonic() + SETTLE_DEADLINE
        while True:
            r = self._get(rid)
            if r["state"] == "active":
                return r
            if time.monotonic() > deadline:
                fail("%s not active %d s after it was approved: %s" % (rid, SETTLE_DEADLINE, r))
            time.sleep(0.1)

    def settle(self, since, reqs, what="the restart"):
        """Polls until what the server owes after `since` (a restart, space back) is done: every
        grant live at the connector has its leaves, every grant past its end or revoked is revoked
        at the connector, nothing stays approved without being granted."""
        t0 = time.monotonic()
        deadline = t0 + SETTLE_DEADLINE
        while True:
            self.conn.read()
            self.check_connector_history()
            open_ids = set()
            for rid, r in reqs.items():
                ends = parse_time(r["ends_at"]) if r["ends_at"] else None
                live = self.conn.last(rid) == "grant"
                if live and not (self.obs.grant_ok.get(rid) and self.obs.has(rid, "request.activated")):
                    open_ids.add(rid)
                if r["state"] in ("expired", "revoked", "cancelled") and live:
                    open_ids.add(rid)
                if r["state"] == "active" and ends is not None and ends <= since:
                    open_ids.add(rid)  # must expire now
                if r["state"] == "approved":
                    open_ids.add(rid)  # must be granted (or ended)
            if not open_ids:
                break
            if time.monotonic() > deadline:
                detail = ["%s %s conn=%s" % (i, reqs[i]["state"], self.conn.calls.get(i))
                          for i in sorted(open_ids)[:5]]
                fail("%d obligations not met %d s after %s: %s" % (
                    len(open_ids), SETTLE_DEADLINE, what, "; ".join(detail)))
            time.sleep(0.1)
            cp = fetch_checkpoint(self.api, self.tok)
            if cp is not None:
                sync_log(self.api, self.tok, self.obs, cp)
            for rid in open_ids:
                reqs[rid] = self._get(rid)
        self.stats["max_settle"] = max(self.stats["max_settle"], time.monotonic() - t0)
        # Figures: how late each grant past its end was revoked at the connector.
        for rid, r in reqs.items():
            if r["starts_at"] is not None and rid not in self.activation_seen:
                self.activation_seen.add(rid)
                self.stats["activations"] += 1
            if not self.conn.granted(rid):
                continue
            if r["state"] == "expired" and rid not in self.expiry_seen:
                ends = parse_time(r["ends_at"])
                _, pid, revoked_at = [c for c in self.conn.calls[rid] if c[0] == "revoke"][0]
                up_since = self.server.started_at[self.server.lifetime_of(pid, revoked_at)]
                lag = revoked_at - max(ends, up_since)
                if lag > SETTLE_DEADLINE:
                    fail("%s was revoked at the connector %.0f s after its end, by a server up"
                         " since before it" % (rid, lag))
                self.stats["max_revoke_lag"] = max(self.stats["max_revoke_lag"], lag)
                self.expiry_seen.add(rid)
                self.stats["expiries_checked"] += 1
            if r["state"] == "revoked" and rid not in self.revoke_seen:
                self.revoke_seen.add(rid)
                self.stats["revokes_checked"] += 1

    def check_all(self, since, what="the restart"):
        """After a restart (workers paused): the listing first, then the log (it only grows, and
        every stored change committed with its leaf), then the connector."""
        self.conn.read()
        reqs = list_requests(self.api, self.tok)
        self.sync()
        self.check_state(reqs)
        self.settle(since, reqs, what)
        return reqs


# ---- mode 1: SIGKILL at random moments ----------------------------------------------------------

def negative_controls(chk, model, obs, conn, server, work):
    """Each check must be able to fail: fed a lost write, a grant after its revocation, leaves
    that do not hash to the checkpoint and a forged trusted checkpoint, it does."""
    def expect_fail(what, fn):
        try:
            fn()
        except Fail:
            return
        fail("negative control: %s was not caught" % what)

    ghost = Req("L-ghost", "t1_expire", "alice", 1)
    ghost.rid, ghost.create_acked = "req_neverstored000000", True
    with model.lock:
        model.reqs[ghost.tag] = ghost
    expect_fail("an acknowledged request that is not stored",
                lambda: chk.check_state(list_requests(chk.api, chk.tok)))
    with model.lock:
        del model.reqs[ghost.tag]
    pid, now = server.pids[-1], time.time()
    conn.calls["req_ghostgrant00000000"] = [("revoke", pid, now), ("grant", pid, now)]
    expect_fail("a grant after its revocation", chk.check_connector_history)
    del conn.calls["req_ghostgrant00000000"]
    cp = fetch_checkpoint(chk.api, chk.tok)
    bad = dict(cp, root=hashlib.sha256(cp["root"]).digest())
    expect_fail("entries that do not hash to the checkpoint",
                lambda: sync_log(chk.api, chk.tok, Observed(), bad))
    lines = cp["text"].split("\n")
    lines[1] = str(int(lines[1]) + 1)
    forged = os.path.join(work, "forged.txt")
    write_private(forged, "\n".join(lines))
    expect_fail("a forged trusted checkpoint", lambda: chk.verify_proof(forged))


def run_kills(args):
    t_start = time.monotonic()
    rng = random.Random(args.seed)
    work = args.work
    data = os.path.join(work, "data")
    state = os.path.join(work, "connector.log")
    setup = Setup(args.bg, work, data, state)
    server = Server(args.bg, work, setup.config, data)
    api = Api(server)
    server.start()
    tokens = login_all(api, setup.secrets)
    model = Model(rng)
    drv = Driver(api, tokens, model, random.Random(rng.random()))
    obs, conn = Observed(), ConnectorLog(state)
    chk = Checker(api, server, tokens, model, obs, conn, args.bg, work)
    trusted = os.path.join(work, "trusted.txt")
    last_cp = {"cp": None}

    def checkpoints():
        tok = tokens[AUDITOR]
        crng = random.Random(rng.random())
        while not drv.stop.is_set():
            if drv.up.wait(0.2):
                model.begin()
                try:
                    cp = fetch_checkpoint(api, tok)
                    if cp is not None:
                        last_cp["cp"] = cp
                except (Unsent, Unknown):
                    pass
                finally:
                    model.end()
            time.sleep(crng.uniform(0.05, 0.3))

    chk.check_all(time.time())
    negative_controls(chk, model, obs, conn, server, work)
    drv.up.set()
    drv.start_workers(3)
    threading.Thread(target=drv.guarded, args=(checkpoints,), daemon=True).start()
    bursts = 0
    for k in range(1, args.kills + 1):
        if rng.random() < 0.3:
            time.sleep(rng.uniform(0.1, 0.6))
            threads = drv.burst(rng.randint(4, 10))
            time.sleep(rng.uniform(0.0, 0.05))  # in the middle of the burst
            bursts += 1
        else:
            threads = []
            time.sleep(rng.uniform(0.05, 1.2))
        drv.check()
        drv.up.clear()
        server.kill()
        for t in threads:
            t.join(120)
        model.wait_idle(120)
        drv.check()
        cp = last_cp["cp"]
        if cp is None:
            fail("no checkpoint was fetched before kill %d" % k)
        write_private(trusted, cp["text"])
        if k % 25 == 0:
            chk.verify_full_offline(trusted)
        restart = time.time()
        server.start()
        chk.verify_proof(trusted)
        chk.check_all(restart)
        drv.up.set()
        if k % 20 == 0 or k == args.kills:
            log("kill %d/%d: %d lifecycles, %d leaves, connector %d grants %d revokes, %.0f s" % (
                k, args.kills, len(model.reqs), len(obs.leaves), conn.grants, conn.revokes,
                time.monotonic() - t_start))
    # The end: no more traffic; end every grant still open, then everything must be revoked.
    drv.stop.set()
    for t in drv.threads:
        t.join(120)
    model.wait_idle(120)
    drv.check()
    # Grants that end with the server up and no restart to come (expiry by the timers alone).
    calm = [drv.create("t1_expire", duration=2) for _ in range(5)]
    last_end = max(parse_time(chk.wait_active(r.rid)["ends_at"]) for r in calm)
    while time.time() < last_end + 0.5:
        time.sleep(0.1)
    chk.check_all(time.time())
    reqs = list_requests(api, tokens[AUDITOR])
    for rid, r in reqs.items():
        q = model.by_rid.get(rid)
        user = q.requester if q else r["requester"]
        if r["state"] in ("approved", "active"):
            st, body = api.call("POST", "/v1/requests/%s/revoke" % rid,
                                {"reason": "crash test: the end"}, tokens[user])
            if st not in (200, 409):
                fail("final revoke of %s: HTTP %s %s" % (rid, st, body))
        elif r["state"] == "pending":
            st, body = api.call("POST", "/v1/requests/%s/cancel" % rid, {}, tokens[user])
            if st not in (200, 409):
                fail("final cancel of %s: HTTP %s %s" % (rid, st, body))
    end = time.time()
    reqs = chk.check_all(end)
    live = [rid for rid in conn.calls if conn.last(rid) == "grant"]
    if live:
        fail("grants still live at the connector after every request ended: %s" % live[:5])
    not_ended = [rid for rid, r in reqs.items() if r["state"] in ("pending", "approved", "active")]
    if not_ended:
        fail("requests not ended at the end: %s" % not_ended[:5])
    cp = fetch_checkpoint(api, tokens[AUDITOR])
    write_private(trusted, cp["text"])
    server.stop()
    verified = chk.verify_full_offline(trusted)
    elapsed = time.monotonic() - t_start
    s, c = chk.stats, model.counts
    acked = c["created"] + c["approved"] + c["revoked"] + c["cancelled"]
    log("crash test ok: %d kills (%d in a burst of requests), %.0f s" % (args.kills, bursts, elapsed))
    log("  lifecycles %d (requests stored %d), acknowledged operations %d (created %d, approved %d,"
        " revoked %d, cancelled %d); cut off by a kill %d, refused while down %d, 409 %d" % (
            len(model.reqs), len(reqs), acked, c["created"], c["approved"], c["revoked"],
            c["cancelled"], c["unknown"], c["unsent"], c["refused_409"]))
    log("  connector: %d grants of %d requests (%d repeated after a crash, as the exec contract"
        " allows), %d revokes; activations %d" % (
            conn.grants, sum(1 for i in conn.calls if conn.granted(i)), s["regrants_after_crash"],
            conn.revokes, s["activations"]))
    log("  checked after every restart: %d consistency proofs, %d full verifications, %d checks of"
        " acknowledged changes (all of them, each time); %d expiries and %d revocations seen"
        " revoked at the connector" % (
            s["proofs"], s["full_verifies"], s["acked_checked"], s["expiries_checked"],
            s["revokes_checked"]))
    log("  latest revoke at the connector after a grant's end (or the restart): %.2f s; longest"
        " settle after a restart %.2f s; audit leaves %d" % (
            s["max_revoke_lag"], s["max_settle"], len(obs.leaves)))
    log("  final verify: %s" % verified.splitlines()[0] if verified else "")
    for msg, n in sorted(model.conflicts.items(), key=lambda kv: -kv[1]):
        log("  409 x%d: %s" % (n, msg))


# ---- mode 2: the disk fills up, then the file system goes read-only ------------------------------

def fill(fs):
    """Fills the file system at fs to the last byte; returns the filler's path."""
    path = os.path.join(fs, "filler")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        st = os.statvfs(fs)
        free = st.f_bavail * st.f_frsize
        if free > 65536:
            os.posix_fallocate(fd, 0, free - 65536)
        os.lseek(fd, 0, os.SEEK_END)
        block = b"\0" * 4096
        while True:
            try:
                os.write(fd, block)
            except OSError:
                break
        for _ in range(64):  # the last partial block
            try:
                os.write(fd, b"\0")
            except OSError:
                break
    finally:
        os.close(fd)
    if os.statvfs(fs).f_bavail != 0:
        fail("the file system at %s is not full after filling" % fs)
    return path


def expect_refusal(what, st, body, allowed):
    """A write while the store cannot be written: a 2xx it stored, or a clear JSON 503."""
    if st is None:
        fail("%s: the connection broke (the server died?)" % what)
    if st in allowed:
        return True
    if st != 503:
        fail("%s: HTTP %s, want a 503 (or %s): %r" % (what, st, allowed, body))
    if not (isinstance(body, dict) and body.get("error", {}).get("code") == "unavailable"
            and body["error"].get("message")):
        fail("%s: a 503 without a clear JSON error: %r" % (what, body))
    MESSAGES_503.setdefault(body["error"]["message"], what)
    return False


MESSAGES_503 = {}  # what the server said in its 503s (expect_refusal), for the report


def run_disk(args):
    t_start = time.monotonic()
    rng = random.Random(args.seed)
    work, fs = args.work, args.fs
    data = os.path.join(fs, "data")
    state = os.path.join(work, "connector.log")
    setup = Setup(args.bg, work, data, state)
    server = Server(args.bg, work, setup.config, data)
    api = Api(server)
    server.start()
    tokens = login_all(api, setup.secrets)
    model = Model(rng)
    drv = Driver(api, tokens, model, rng, allow_503=True)
    obs, conn = Observed(), ConnectorLog(state)
    chk = Checker(api, server, tokens, model, obs, conn, args.bg, work, strict_once=False)
    sam = tokens[AUDITOR]
    trusted = os.path.join(work, "trusted.txt")
    figures = {}

    def call(user, method, path, body=None):
        try:
            return api.call(method, path, body, tokens[user])
        except (Unsent, Unknown) as e:
            fail("%s %s: %s (the server died?)" % (method, path, e))

    # Before: lifecycles that end normally, and the ones the full disk will meet.
    for kind in ["t1_expire", "t2_expire", "t1_revoke", "t2_cancel"] * 2:
        drv.create(kind)
    deadline = time.monotonic() + 60
    while any(not r.done for r in model.reqs.values()) and time.monotonic() < deadline:
        for r in list(model.reqs.values()):
            if r.kind.endswith("revoke"):
                r.revoke_at = time.monotonic()
            drv.step(r)
        time.sleep(0.05)
    pending = drv.create("t2_revoke", duration=600)  # its second approval meets the full disk
    drv._decide(pending, pending.approvers[0], "approve", {"comment": "first, before the disk fills"})
    to_revoke = drv.create("t1_revoke", duration=600)  # revoked while the disk is full
    expiring = [drv.create("t1_expire", duration=15) for _ in range(3)]  # end while it is full
    reqs = chk.check_all(time.time())  # all active, the log checked
    for r in expiring + [to_revoke]:
        if reqs[r.rid]["state"] != "active":
            fail("%s not active before the disk fills: %s" % (r.rid, reqs[r.rid]["state"]))
    cp0 = fetch_checkpoint(api, sam)
    write_private(trusted, cp0["text"])
    ends = min(parse_time(reqs[r.rid]["ends_at"]) for r in expiring)
    log("ok - before: %d lifecycles, the log at %d, 3 grants ending in %.0f s" % (
        len(model.reqs), cp0["size"], ends - time.time()))

    # --- the disk is full ---------------------------------------------------------------------
    filler = fill(fs)
    t_full = time.time()
    if ends <= t_full + 1:
        fail("the test was too slow: the grants meant to end on a full disk ended before it filled")
    codes = {}
    refused = 0
    for i in range(400):
        r = drv.create("t1_expire", duration=600)
        st = 201 if r.create_acked else 503
        codes[st] = codes.get(st, 0) + 1
        if st == 503:
            refused += 1
            if refused >= 5:
                break
    if refused < 5:
        fail("the disk is full and still %d of %d creates were stored: %s" % (
            codes.get(201, 0), sum(codes.values()), codes))
    figures["creates_while_full"] = dict(codes)
    second = pending.approvers[1]
    st, body = call(second, "POST", "/v1/requests/%s/approve" % pending.rid,
                    {"comment": "while the disk is full"})
    full_approval_stored = expect_refusal("approve while full", st, body, (200,))
    st, body = call(to_revoke.requester, "POST", "/v1/requests/%s/revoke" % to_revoke.rid,
                    {"reason": "while the disk is full"})
    full_revoke_stored = expect_refusal("revoke while full", st, body, (200,))
    st, body = call(to_revoke.requester, "GET", "/v1/requests/%s" % to_revoke.rid)
    if st != 200:
        fail("reads must work while the disk is full: HTTP %s %s" % (st, body))
    st, body = call(AUDITOR, "GET", "/v1/requests?limit=10")
    if st != 200:
        fail("listing while the disk is full: HTTP %s %s" % (st, body))
    st, body = call(AUDITOR, "GET", "/v1/audit/checkpoint")
    if st not in (200, 503):
        fail("checkpoint while the disk is full: HTTP %s %s" % (st, body))
    # The three grants' ends pass while the disk is still full (their expiry cannot be stored).
    ends = max(parse_time(reqs[r.rid]["ends_at"]) for r in expiring)
    while time.time() < ends + 3:
        time.sleep(0.2)
    if not server.alive():
        fail("the server died while the disk was full")
    st, body = call(AUDITOR, "GET", "/readyz")
    log("ok - disk full: creates %s, approval %s, revoke %s, reads 200, /readyz %s, server up" % (
        codes, "stored" if full_approval_stored else "503", "stored" if full_revoke_stored else "503",
        st))

    # --- space again: recovery without a restart ------------------------------------------------
    os.unlink(filler)
    t_back = time.time()
    deadline = time.monotonic() + SETTLE_DEADLINE
    while True:
        r = drv.create("t1_expire", duration=3)
        if r.create_acked:
            break
        if time.monotonic() > deadline:
            fail("no write succeeded %d s after space returned" % SETTLE_DEADLINE)
        time.sleep(0.5)
    figures["first_write_after_space"] = time.time() - t_back
    if not full_approval_stored:
        st, body = call(second, "POST", "/v1/requests/%s/approve" % pending.rid,
                        {"comment": "after the disk has room"})
        if st != 200:
            fail("approval after recovery: HTTP %s %s" % (st, body))
        pending.approved_acked.add(second)
    pending.approve_resolved.add(second)
    if not full_revoke_stored:
        st, body = call(to_revoke.requester, "POST", "/v1/requests/%s/revoke" % to_revoke.rid,
                        {"reason": "after the disk has room"})
        if st != 200:
            fail("revoke after recovery: HTTP %s %s" % (st, body))
    to_revoke.revoke_acked = to_revoke.revoke_resolved = True
    reqs = chk.check_all(t_back, "space returned")  # the expired grants revoked at the connector, within the deadline
    for r in expiring:
        if reqs[r.rid]["state"] != "expired":
            fail("%s not expired after space returned: %s" % (r.rid, reqs[r.rid]["state"]))
    figures["expired_revoked_after_space"] = max(
        [t for a, _, t in conn.calls[r.rid] if a == "revoke"][0] for r in expiring) - t_back
    # Nothing half-written: a refused write left no request and no leaf.
    leaf_text = "\n".join(obs.texts)
    for tag in model.refused_tags:
        if any(q["reason"].endswith(" " + tag) for q in reqs.values()):
            fail("the refused create %s is stored" % tag)
        if ("lifecycle %s\"" % tag) in leaf_text:
            fail("the refused create %s reached the audit log" % tag)
    if not full_approval_stored and "while the disk is full" in leaf_text:
        fail("a write refused while the disk was full reached the audit log")
    chk.verify_full_online(trusted)
    log("ok - space again: first write %.1f s after, the 3 grants past their end expired and"
        " revoked at the connector %.1f s after, %d refused creates left no trace, the log verifies"
        % (figures["first_write_after_space"], figures["expired_revoked_after_space"],
           len(model.refused_tags)))

    # --- the database locked by another process (a backup holding the write lock) --------------
    # SQLite answers the server SQLITE_BUSY after its 5 s busy timeout: the same refusal as a full
    # disk, reads go on (WAL), and a grant ending meanwhile ends once the lock goes.
    short = drv.create("t1_expire", duration=6)
    short_end = parse_time(chk.wait_active(short.rid)["ends_at"])
    holder = sqlite3.connect(os.path.join(data, "breakglass.db"), isolation_level=None, timeout=60)
    holder.execute("BEGIN IMMEDIATE")
    t_lock = time.time()
    try:
        r = drv.create("t1_expire", duration=600)
        locked_create = "stored" if r.create_acked else "503"
        st, body = call(pending.requester, "POST", "/v1/requests/%s/revoke" % pending.rid,
                        {"reason": "while another process holds the database"})
        locked_revoke = "stored" if expect_refusal("revoke while locked", st, body, (200,)) else "503"
        if locked_revoke == "stored":
            pending.revoke_acked = True
        st, body = call(AUDITOR, "GET", "/v1/requests/%s" % pending.rid)
        if st != 200:
            fail("reads must work while another process holds the write lock: HTTP %s" % st)
        while time.time() < short_end + 2:
            time.sleep(0.2)
        if not server.alive():
            fail("the server died while the database was locked")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    if locked_create == "stored" and locked_revoke == "stored":
        fail("nothing was refused while another process held the write lock")
    t_unlock = time.time()
    if locked_revoke == "503":
        st, body = call(pending.requester, "POST", "/v1/requests/%s/revoke" % pending.rid,
                        {"reason": "after the lock is released"})
        if st != 200:
            fail("revoke after the lock was released: HTTP %s %s" % (st, body))
        pending.revoke_acked = True
    reqs = chk.check_all(t_unlock, "the lock went")
    if reqs[short.rid]["state"] != "expired":
        fail("%s did not expire after the lock was released" % short.rid)
    log("ok - database locked by another process for %.0f s: create %s, revoke %s, reads 200;"
        " after: the grant that ended meanwhile expired and revoked at the connector %.1f s after"
        " the lock went" % (t_unlock - t_lock, locked_create, locked_revoke,
                            [t for a, _, t in conn.calls[short.rid] if a == "revoke"][0] - t_unlock))

    # --- the file system read-only --------------------------------------------------------------
    # Linux refuses to remount a file system read-only while a process has a file open on it for
    # writing (EBUSY), so the running server cannot be made to see EROFS: it is stopped (SIGKILL,
    # as a crash would), the file system remounted read-only, and started again.
    chk.sync()
    write_private(trusted, fetch_checkpoint(api, sam)["text"])
    server.kill()
    subprocess.run(["mount", "-o", "remount,ro", fs], check=True)
    rc, tail = server.start(expect_failure=True)
    if rc is None:  # it started: then it must refuse writes clearly and serve reads
        r = drv.create("t1_expire", duration=600)
        if r.create_acked:
            fail("a request was stored on a read-only file system")
        st, body = call(AUDITOR, "GET", "/v1/requests?limit=10")
        if st != 200:
            fail("reads on a read-only file system: HTTP %s" % st)
        ro_outcome = "started, writes 503, reads 200"
        server.kill()
    else:
        if rc < 0:
            fail("the server died of signal %d on a read-only file system: %s" % (-rc, tail))
        lines = [l for l in tail.splitlines() if l.strip()]
        msg = lines[-1] if lines else ""
        if "read-only" not in msg.lower():
            fail("the server's refusal on a read-only file system does not say so: %r" % tail)
        ro_outcome = "refused to start (exit %d): %s" % (rc, msg[:200])
    subprocess.run(["mount", "-o", "remount,rw", fs], check=True)
    restart = time.time()
    server.start()
    chk.verify_proof(trusted)
    reqs = chk.check_all(restart)
    r = drv.create("t1_expire", duration=2)
    if not r.create_acked:
        fail("no write after the file system is writable again")
    chk.check_all(time.time())
    log("ok - read-only: %s; writable again: restarted, acknowledged changes there, log at %d"
        % (ro_outcome, len(obs.leaves)))
    server.stop()
    chk.verify_full_offline(trusted)
    c = model.counts
    log("disk full test ok in %.0f s: %d lifecycles, %d acknowledged (created %d, approved %d,"
        " revoked %d, cancelled %d), %d refused with 503, connector %d grants / %d revokes" % (
            time.monotonic() - t_start, len(model.reqs),
            c["created"] + c["approved"] + c["revoked"] + c["cancelled"], c["created"],
            c["approved"], c["revoked"], c["cancelled"], c["refused_503"], conn.grants,
            conn.revokes))
    for msg, what in sorted(dict(model.messages_503, **MESSAGES_503).items()):
        log("  503 (first: %s): %s" % (what, msg))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["kills", "disk"])
    ap.add_argument("--bg", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--fs")
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 30)
    log("seed %d (CRASH_SEED=%d repeats the kill schedule; thread timing varies)" % (
        args.seed, args.seed))
    try:
        if args.mode == "kills":
            run_kills(args)
        else:
            if not args.fs:
                ap.error("disk needs --fs")
            run_disk(args)
    except Fail as e:
        print("FAIL: %s" % e, file=sys.stderr, flush=True)
        err = os.path.join(args.work, "serve.err")
        if os.path.exists(err):
            with open(err) as f:
                sys.stderr.write("".join(f.readlines()[-15:]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
