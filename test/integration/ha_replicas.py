#!/usr/bin/env python3
"""Several replicas on one PostgreSQL (issue 16; run by ha_replicas_test.sh, which starts the
database on 127.0.0.1 and checks the log with `audit verify` and Go's sumdb/tlog afterwards).

  ha_replicas.py --bg BIN --work DIR --storage URI [--replicas 3] [--requests 1000]

Every replica is a real `breakglass serve` on its own loopback port, all with one configuration
(the exec connector of test/crash, which records every grant and revocation with the pid of
the server that made it). What is held, in order:
  1. a token issued through one replica works on every one; a change made through one reaches
     an event stream (SSE) of another;
  2. one approver approving one request through two replicas at once counts once;
  3. the two final approvals of a request at two replicas at once: approved once, activated
     once, granted once at the connector;
  4. N requests at once across the replicas: each stored once, granted once, with its leaves;
  5. the replica doing the background work SIGKILLed while grants are about to end: another
     takes the work over, every grant is revoked at the connector, and how late is reported;
  6. PostgreSQL restarted (--pg-restart) while requests go to every replica: 201s or JSON 503s,
     then every replica writes again by itself, every acknowledged request stored and granted;
  7. the signed checkpoint of any replica covers the same log (the entries hash to its root),
     and every request acknowledged was created once.
Python 3 standard library only; exit 1 with "FAIL: ..." when something did not hold.
"""
import argparse
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crash"))
from crash_driver import (Api, CompactRange, ConnectorLog, Fail, Observed, Server, Setup,  # noqa: E402
                          fail, fetch_checkpoint, in_parallel, log, login_all, parse_time,
                          sync_log)

DEADLINE = 120.0  # for what the servers do by themselves; generous, the figures are reported


def wait_for(what, pred, deadline=DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        v = pred()
        if v is not None and v is not False:  # 0 is an answer (a replica's index)
            return v
        time.sleep(0.1)
    fail("%s: not within %.0f s" % (what, deadline))


def background_owner(servers):
    """The index of the replica whose log says it took the background work, or None."""
    owners = []
    for i, s in enumerate(servers):
        if not s.alive():
            continue
        with open(os.path.join(s.work, "serve.err")) as f:
            text = f.read()
        # Only this process's lines: after the last "--- start" marker.
        text = text[text.rfind("--- start"):]
        if '"server.background"' in text:
            owners.append(i)
    if len(owners) > 1:
        fail("replicas %s all say they do the background work" % owners)
    return owners[0] if owners else None


def at_once(calls):
    """Runs the calls on threads released together; returns their results in order."""
    barrier = threading.Barrier(len(calls))
    out = [None] * len(calls)

    def run(i, fn):
        barrier.wait()
        out[i] = fn()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def leaves_of(obs, rid, typ):
    return obs.types.get(rid, {}).get(typ, [])


def sse_events(server, token, stop, found):
    """Reads /v1/events of `server` until `stop` is set; appends (event, data) to `found`."""
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=2)
    conn = server.ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    conn.sendall(("GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                  "Accept: text/event-stream\r\n\r\n" % token).encode())
    buf = b""
    event = None
    while not stop.is_set():
        try:
            chunk = conn.recv(65536)
        except (socket.timeout, ssl.SSLError):
            continue
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            line = line.rstrip(b"\r").decode("utf-8", "replace")
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event:
                found.append((event, line[5:].strip()))
    conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bg", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--storage", required=True)
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--pg-restart", default="", help="a command that restarts PostgreSQL")
    args = ap.parse_args()
    work = args.work
    data_dir = os.path.join(work, "data")
    state = os.path.join(work, "connector.log")
    setup = Setup(args.bg, work, data_dir, state,
                  ['storage = "%s"' % args.storage, 'audit = { checkpoint_interval = "1s" }'])
    servers = []
    for i in range(args.replicas):
        rdir = os.path.join(work, "replica%d" % i)
        os.makedirs(rdir, exist_ok=True)
        s = Server(args.bg, rdir, setup.config, data_dir)
        s.start()  # one after the other: the first makes the TLS certificate they share
        servers.append(s)
    apis = [Api(s) for s in servers]
    try:
        run(args, setup, servers, apis, state)
    finally:
        for s in servers:
            s.kill()


def restart_under_load(args, servers, apis, tokens, conn, created):
    """Requests through every replica while PostgreSQL restarts: 201 or a JSON 503, never
    anything else; afterwards every replica serves again by itself (one that lost the lease to
    another exits 75 and is restarted, as its supervisor would)."""
    n = len(servers)
    stop = threading.Event()
    codes, bad, acked = {}, [], []
    lock = threading.Lock()

    def load(i):
        k = 0
        while not stop.is_set():
            k += 1
            b = {"resource": "app", "privilege": "read", "duration": "30m",
                 "reason": "replicas: while the database restarts", "ticket": "HA-R%d-%d" % (i, k)}
            try:
                st, out = apis[i % n].call("POST", "/v1/requests", b, tokens["alice"])
            except Exception as e:  # noqa: BLE001 - unsent/unknown: a replica that exited
                st, out = "conn", repr(e)
            with lock:
                codes[st] = codes.get(st, 0) + 1
                if st == 201:
                    acked.append(out["id"])
                elif st == 503 and isinstance(out, dict) and out.get("error", {}).get("message"):
                    pass
                elif st != "conn":
                    bad.append((st, out))
            time.sleep(0.01)

    threads = [threading.Thread(target=load, args=(i,)) for i in range(2 * n)]
    for t in threads:
        t.start()
    time.sleep(1)
    t0 = time.monotonic()
    subprocess.run(["bash", "-c", args.pg_restart], check=True, stdout=subprocess.DEVNULL)
    restart_s = time.monotonic() - t0

    def restart_superseded():
        """A replica that lost the lease to another while the database was away exits 75 (it
        may notice a little later): restarted, as its supervisor would."""
        for i, srv in enumerate(servers):
            if srv.proc is not None and srv.proc.poll() is not None:
                if srv.proc.returncode != 75:
                    fail("replica %d exited with %s when PostgreSQL restarted" % (
                        i, srv.proc.returncode))
                log("   replica %d lost the lease to another while PostgreSQL was away: exit 75, "
                    "restarted" % i)
                srv.proc = None
                srv.start()

    def all_serve():
        restart_superseded()
        for i, api in enumerate(apis):
            b = {"resource": "app", "privilege": "read", "duration": "30m",
                 "reason": "replicas: after the restart", "ticket": "HA-A%d" % i}
            try:
                st, out = api.call("POST", "/v1/requests", b, tokens["bob"])
            except Exception:  # noqa: BLE001
                return False
            if st != 201:
                return False
            with lock:
                acked.append(out["id"])
        return True
    wait_for("every replica writing again after PostgreSQL restarted", all_serve)
    back_s = time.monotonic() - t0
    stop.set()
    for t in threads:
        t.join()
    if bad:
        fail("while PostgreSQL restarted: %d answers neither 201 nor a JSON 503, e.g. %s" % (
            len(bad), bad[:3]))
    time.sleep(2)  # a holder superseded meanwhile exits within the lease check's second
    restart_superseded()
    wait_for("a background replica again", lambda: background_owner(servers))
    for x in acked:
        st, got = apis[0].call("GET", "/v1/requests/%s" % x, None, tokens["sam"])
        if st != 200:
            fail("request %s acknowledged while PostgreSQL restarted is not there: %s" % (x, st))

    def granted():
        conn.read()
        return all(conn.granted(x) for x in acked)
    wait_for("the requests acknowledged around the restart granted", granted, 300)
    created.extend(acked)
    log("ok - PostgreSQL restarted under load (%.1f s): answers %s; every replica wrote again "
        "%.1f s after the restart began; %d acknowledged requests stored and granted" % (
            restart_s, dict(sorted(codes.items(), key=str)), back_s, len(acked)))


def run(args, setup, servers, apis, state):
    tokens = login_all(apis[0], setup.secrets)
    n = len(servers)
    owner = wait_for("a replica doing the background work", lambda: background_owner(servers))
    for i, api in enumerate(apis):  # what /metrics says agrees with the logs
        st, text = api.call("GET", "/metrics")
        want = "breakglass_background %d" % (1 if i == owner else 0)
        if st != 200 or want not in text.splitlines():
            fail("replica %d's /metrics does not say %r" % (i, want))
    log("ok - %d replicas serve; replica %d does the background work" % (n, owner))

    # ---- 1. one token everywhere; a change through one reaches another's event stream ----
    for i, api in enumerate(apis):
        st, me = api.call("GET", "/v1/me", None, tokens["alice"])
        if st != 200 or me.get("user") != "alice":
            fail("alice's token on replica %d: HTTP %s %s" % (i, st, me))
    stop, found = threading.Event(), []
    watcher = threading.Thread(target=sse_events, args=(servers[n - 1], tokens["carol"], stop, found))
    watcher.start()
    time.sleep(1)  # the stream is open
    body = {"resource": "app", "privilege": "admin", "duration": "10m",
            "reason": "replicas: seen on another replica", "ticket": "HA-1"}
    st, r = apis[0].call("POST", "/v1/requests", body, tokens["alice"])
    if st != 201:
        fail("create on replica 0: HTTP %s %s" % (st, r))
    rid = r["id"]
    t0 = time.monotonic()
    wait_for("the event of a request made on replica 0 on replica %d's stream" % (n - 1),
             lambda: any(e == "request" and json.loads(d).get("id") == rid for e, d in found))
    sse_s = time.monotonic() - t0
    stop.set()
    watcher.join()
    for i, api in enumerate(apis):
        st, got = api.call("GET", "/v1/requests/%s" % rid, None, tokens["alice"])
        if st != 200 or got["state"] != "pending":
            fail("the request on replica %d: HTTP %s %s" % (i, st, got))
    log("ok - a token of replica 0 works on all %d; its request reached replica %d's event stream "
        "in %.2f s" % (n, n - 1, sse_s))

    # ---- 2. the same approver through two replicas at once counts once ----
    def approve_at_once(what, who):
        """Two approvals of rid, through replicas 1 and 2, released together: one must be
        accepted, the other accepted too (the same approver: counted once) or refused (409)."""
        results = at_once([(lambda i=i, w=w: apis[i % n].call(
            "POST", "/v1/requests/%s/approve" % rid, {"comment": "%s, replica %d" % (what, i)},
            tokens[w])) for i, w in zip((1, 2), who)])
        codes = sorted(st for st, _ in results)
        if codes[0] != 200 or codes[1] not in (200, 409):
            fail("%s: %s" % (what, results))
        return codes

    codes = approve_at_once("one approver twice at once", ("carol", "carol"))
    st, got = apis[0].call("GET", "/v1/requests/%s" % rid, None, tokens["alice"])
    if [a["approver"] for a in got["approvals"]] != ["carol"] or got["state"] != "pending":
        fail("one approver twice at once counted %s (state %s)" % (got["approvals"], got["state"]))
    log("ok - carol approving through two replicas at once counted once (answers %s)" % codes)

    # ---- 3. the two final approvals at two replicas at once ----
    codes = approve_at_once("two final approvals at once", ("dave", "erin"))
    wait_for("the request approved at two replicas at once to be active",
             lambda: apis[0].call("GET", "/v1/requests/%s" % rid, None,
                                  tokens["alice"])[1]["state"] == "active")
    conn = ConnectorLog(state)
    conn.read()
    grants = [c for c in conn.calls.get(rid, []) if c[0] == "grant"]
    if len(grants) != 1:
        fail("the request approved at two replicas at once was granted %d times" % len(grants))
    log("ok - two final approvals at two replicas at once (answers %s): one grant" % codes)

    # ---- 4. many requests at once across the replicas ----
    total = args.requests
    created, errors = [], []
    lock = threading.Lock()

    def one(k):
        who = "alice" if k % 2 == 0 else "bob"
        b = {"resource": "app", "privilege": "read", "duration": "30m",
             "reason": "replicas load %d" % k, "ticket": "HA-L%d" % k}
        try:
            st, out = apis[k % n].call("POST", "/v1/requests", b, tokens[who])
        except Exception as e:  # noqa: BLE001 - reported below
            st, out = None, repr(e)
        with lock:
            if st == 201:
                created.append(out["id"])
            else:
                errors.append((k, st, out))

    load_s = in_parallel(total, 48, one)
    if errors:
        fail("%d of %d concurrent requests failed, e.g. %s" % (len(errors), total, errors[:3]))
    if len(set(created)) != total:
        fail("%d ids for %d requests" % (len(set(created)), total))

    def all_granted():
        conn.read()
        return all(conn.granted(x) for x in created)
    wait_for("every one of the %d requests granted at the connector" % total, all_granted, 300)
    doubled = [x for x in created if sum(1 for c in conn.calls[x] if c[0] == "grant") != 1]
    if doubled:
        fail("%d requests granted more than once, e.g. %s" % (len(doubled), doubled[:3]))
    log("ok - %d requests at once across %d replicas in %.1f s (%.0f/s): each stored and granted "
        "once" % (total, n, load_s, total / load_s))

    # ---- 5. the background replica SIGKILLed while grants are about to end ----
    ending = []
    for k in range(12):
        b = {"resource": "app", "privilege": "read", "duration": "1m",
             "reason": "replicas: ends across the kill", "ticket": "HA-E%d" % k}
        api = apis[(owner + 1 + k) % n]
        st, out = api.call("POST", "/v1/requests", b, tokens["alice" if k % 2 else "bob"])
        if st != 201:
            fail("create of an ending grant: HTTP %s %s" % (st, out))
        ending.append(out["id"])
    survivor = apis[(owner + 1) % n]
    ends = {}
    for x in ending:
        got = wait_for("grant %s active" % x,
                       lambda: (lambda g: g if g["state"] == "active" else None)(
                           survivor.call("GET", "/v1/requests/%s" % x, None, tokens["sam"])[1]))
        ends[x] = parse_time(got["ends_at"])
    first_end = min(ends.values())
    time.sleep(max(0.0, first_end - time.time() - 5))
    servers[owner].kill()
    killed_at = time.time()
    new_owner = wait_for("another replica taking the background work over",
                         lambda: background_owner(servers))
    takeover_s = time.time() - killed_at

    def all_revoked():
        conn.read()
        return all(conn.last(x) == "revoke" for x in ending)
    wait_for("every grant that ended across the kill revoked at the connector", all_revoked, 300)
    late = []
    for x in ending:
        revokes = [c for c in conn.calls[x] if c[0] == "revoke"]
        late.append(revokes[0][2] - ends[x])
        st, got = survivor.call("GET", "/v1/requests/%s" % x, None, tokens["sam"])
        if got["state"] != "expired":
            fail("%s is %s after its end, not expired" % (x, got["state"]))
    log("ok - replica %d SIGKILLed %.1f s before the first of %d grants ended: replica %d took the "
        "background work over in %.1f s; each revoked at the connector, %.1f s after its end at "
        "most (median %.1f s)" % (owner, first_end - killed_at, len(ending), new_owner, takeover_s,
                                  max(late), sorted(late)[len(late) // 2]))
    if max(late) > 60:
        fail("a grant was revoked %.0f s after its end" % max(late))

    # The killed replica comes back and serves beside the others, without the background work.
    servers[owner].start()
    st, _ = apis[owner].call("GET", "/v1/me", None, tokens["alice"])
    if st != 200:
        fail("the restarted replica does not serve the tokens: HTTP %s" % st)
    time.sleep(2)
    if background_owner(servers) != new_owner:
        fail("the restarted replica took the background work from replica %d" % new_owner)

    # ---- 6. PostgreSQL restarted under load ----
    if args.pg_restart:
        restart_under_load(args, servers, apis, tokens, conn, created)

    # ---- 7. one log, whichever replica signs or serves it ----
    obs = Observed()
    cp = wait_for("a checkpoint covering the run",
                  lambda: (lambda c: c if c and c["size"] > total else None)(
                      fetch_checkpoint(survivor, tokens["sam"])))
    sync_log(survivor, tokens["sam"], obs, cp)
    for i, api in enumerate(apis):
        other = fetch_checkpoint(api, tokens["sam"])
        if other is None:
            fail("no checkpoint from replica %d" % i)
        rng = CompactRange()
        for text in obs.texts[:other["size"]]:
            rng.append(hashlib.sha256(b"\x00" + text.encode()).digest())
        if other["size"] > len(obs.texts) or rng.root() != other["root"]:
            fail("replica %d's checkpoint (size %d) does not match the log" % (i, other["size"]))
    for x in created + ending + [rid]:
        if len(leaves_of(obs, x, "request.created")) != 1:
            fail("%s has %d request.created leaves" % (x, len(leaves_of(obs, x, "request.created"))))
    if len(leaves_of(obs, rid, "request.approved")) != 1 or \
            len(leaves_of(obs, rid, "request.activated")) != 1:
        fail("the request approved at two replicas at once: approved %d times, activated %d" % (
            len(leaves_of(obs, rid, "request.approved")),
            len(leaves_of(obs, rid, "request.activated"))))
    # Two approvals were needed: carol's (once, though sent twice) and the first of dave's and
    # erin's; the other found the request no longer pending.
    if len(leaves_of(obs, rid, "approval.recorded")) != 2:
        fail("two approvals needed, %d approval.recorded leaves" % len(leaves_of(
            obs, rid, "approval.recorded")))
    # Nothing granted at the connector without its approval in the log.
    conn.read()
    for x, calls in conn.calls.items():
        if any(c[0] == "grant" for c in calls) and not any(
                leaves_of(obs, x, t) for t in ("request.approved", "request.self_approved")):
            fail("%s was granted at the connector without an approval in the log" % x)
    log("ok - %d leaves, one log: every replica's checkpoint matches it; each request created "
        "once; %d granted at the connector, each with its approval in the log" % (
            len(obs.texts), sum(1 for c in conn.calls.values() if any(a == "grant" for a, _, _ in c))))
    with open(os.path.join(args.work, "figures.json"), "w") as f:
        json.dump({"replicas": n, "requests": total, "load_seconds": load_s,
                   "takeover_seconds": takeover_s, "revoke_late_max": max(late),
                   "sse_seconds": sse_s, "leaves": len(obs.texts)}, f)


if __name__ == "__main__":
    try:
        main()
    except Fail as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
