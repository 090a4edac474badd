#!/usr/bin/env python3
"""Full lifecycles per second through the HTTP API with 1, 2 and 3 replicas on one PostgreSQL,
beside one server on SQLite, in one run; authenticated reads with one and two replicas (wrk);
and where the CPU went (issue 16). Run by bench/replicas_bench.sh, which starts PostgreSQL.

  replicas_bench.py --bg BIN --work DIR --pg-base postgresql://bg:PW@127.0.0.1:PORT
                    [--lifecycles 400] [--clients 16] [--read-seconds 10]

A lifecycle: create (tier 2) on replica k, the two approvals on the next two replicas, then
the revocation once the background replica's connector call made it active (retried on 409).
Each configuration gets a fresh database and data directory. Prints one line per figure and
writes DIR/results.json.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "crash"))
from crash_driver import Api, Fail, Server, Setup, fail, in_parallel, log, login_all  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_of(pids):
    total = 0.0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
        except (OSError, IndexError, ValueError):
            pass
    return total


def postgres_pids():
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/comm" % d) as f:
                    if f.read().strip() in ("postgres", "postmaster"):
                        out.append(int(d))
            except OSError:
                pass
    return out


def lifecycles(apis, tokens, total, clients):
    n = len(apis)
    lock = threading.Lock()
    errors = []

    def one(k):
        body = {"resource": "app", "privilege": "admin", "duration": "30m",
                "reason": "bench lifecycle %d" % k, "ticket": "B-%d" % k}
        st, r = apis[k % n].call("POST", "/v1/requests", body, tokens["alice"])
        if st != 201:
            return "create: %s %s" % (st, r)
        rid = r["id"]
        for i, who in enumerate(("carol", "dave")):
            st, r = apis[(k + 1 + i) % n].call("POST", "/v1/requests/%s/approve" % rid,
                                               {"comment": "bench"}, tokens[who])
            if st != 200:
                return "approve: %s %s" % (st, r)
        while True:  # active once the background replica's connector call returned
            st, r = apis[k % n].call("POST", "/v1/requests/%s/revoke" % rid,
                                     {"reason": "bench done"}, tokens["alice"])
            if st == 200:
                return None
            if st != 409:
                return "revoke: %s %s" % (st, r)
            time.sleep(0.02)

    def run(k):
        e = one(k)
        if e:
            with lock:
                errors.append(e)

    wall = in_parallel(total, clients, run)
    if errors:
        fail("%d lifecycles failed, e.g. %s" % (len(errors), errors[:3]))
    return wall


def wrk(url, token, seconds, path):
    return subprocess.Popen(["wrk", "-t1", "-c32", "-d%ds" % seconds, "-H",
                             "Authorization: Bearer " + token, url + path],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def rps(proc):
    out = proc.communicate()[0]
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    fail("wrk said: %s" % out[-500:])


def run_config(args, name, storage, replicas, results):
    work = os.path.join(args.work, name)
    os.makedirs(work)
    data = os.path.join(work, "data")
    setup = Setup(args.bg, work, data, os.path.join(work, "connector.log"),
                  ['storage = "%s"' % storage] if storage else [])
    servers = []
    try:
        for i in range(replicas):
            d = os.path.join(work, "r%d" % i)
            os.makedirs(d)
            s = Server(args.bg, d, setup.config, data)
            s.start()
            servers.append(s)
        apis = [Api(s) for s in servers]
        tokens = login_all(apis[0], setup.secrets)
        lifecycles(apis, tokens, 20, 4)  # warm: connections, caches
        pg_before = cpu_of(postgres_pids())
        srv_before = cpu_of([s.proc.pid for s in servers])
        me_before = resource.getrusage(resource.RUSAGE_SELF)
        wall = lifecycles(apis, tokens, args.lifecycles, args.clients)
        me = resource.getrusage(resource.RUSAGE_SELF)
        row = {"config": name, "replicas": replicas, "lifecycles": args.lifecycles,
               "seconds": wall, "per_s": args.lifecycles / wall,
               "cpu_servers_s": cpu_of([s.proc.pid for s in servers]) - srv_before,
               "cpu_postgres_s": (cpu_of(postgres_pids()) - pg_before) if storage else 0.0,
               "cpu_client_s": (me.ru_utime + me.ru_stime) - (me_before.ru_utime +
                                                               me_before.ru_stime),
               "load": os.getloadavg()[0]}
        results["lifecycles"].append(row)
        log("%-10s %d replica(s): %5.0f lifecycles/s (%d in %.1f s); CPU s: servers %.1f, "
            "postgres %.1f, client %.1f; load %.1f" % (
                name, replicas, row["per_s"], args.lifecycles, wall, row["cpu_servers_s"],
                row["cpu_postgres_s"], row["cpu_client_s"], row["load"]))
        if storage and replicas == 2 and args.read_seconds > 0:
            body = {"resource": "app", "privilege": "read", "duration": "30m",
                    "reason": "bench read target", "ticket": "B-READ"}
            st, r = apis[0].call("POST", "/v1/requests", body, tokens["alice"])
            if st != 201:
                fail("read target: %s %s" % (st, r))
            path = "/v1/requests/%s" % r["id"]
            one = rps(wrk(servers[0].url, tokens["alice"], args.read_seconds, path))
            procs = [wrk(s.url, tokens["alice"], args.read_seconds, path) for s in servers]
            both = [rps(p) for p in procs]
            results["reads"] = {"one_replica": one, "two_replicas": sum(both),
                                "per_replica": both, "ratio": sum(both) / one}
            log("reads      GET %s: 1 replica %.0f/s, 2 replicas %.0f/s (%s), ratio %.2f" % (
                "/v1/requests/{id}", one, sum(both), " + ".join("%.0f" % b for b in both),
                sum(both) / one))
    finally:
        for s in servers:
            s.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bg", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--pg-base", required=True, help="postgresql://USER:PW@HOST:PORT (no database)")
    ap.add_argument("--lifecycles", type=int, default=400)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--read-seconds", type=int, default=10)
    ap.add_argument("--createdb", required=True, help="a command that creates database $1")
    args = ap.parse_args()
    results = {"lifecycles": [], "cores": os.cpu_count()}
    run_config(args, "sqlite", None, 1, results)
    for n in (1, 2, 3):
        db = "bench_r%d" % n
        subprocess.run(["bash", "-c", args.createdb, "createdb", db], check=True)
        run_config(args, "postgres%d" % n, "%s/%s" % (args.pg_base, db), n, results)
    anchor = results["lifecycles"][0]["per_s"]
    for row in results["lifecycles"]:
        row["ratio_to_sqlite"] = row["per_s"] / anchor
    log("ratios to SQLite's %.0f/s: %s" % (anchor, ", ".join(
        "%s %.2f" % (r["config"], r["ratio_to_sqlite"]) for r in results["lifecycles"])))
    with open(os.path.join(args.work, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    try:
        main()
    except Fail as e:
        print("FAIL: %s" % e, file=sys.stderr)
        sys.exit(1)
