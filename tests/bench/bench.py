#!/usr/bin/env python3
"""Polku's benchmark (make bench; run by tests/bench/run.sh). Only the standard library.

Measures, each figure the median of BENCH_RUNS runs (default 3) taken in this one go:
  1. durable ingest: POST /v1/responses with wrk -t2 -c64 and a unique body per request, for the
     default group commit and for --commit-mode each (the baseline), a fresh database per run,
     alternating the modes; the ratio group/each; the server's peak RSS (VmHWM). A third run
     of group commit has random customer ids (wrk_post.lua ... random), which put every
     response on a random page of the customer index: the costly case for checkpoints. A
     fourth sends an Idempotency-Key on every request (wrk_post.lua ... keys), random like a
     client's UUIDs: one more record per response, on a random page of its table. A fifth
     runs while 8 more connections ask GET /v1/metrics?group_by=touchpoint without pause
     (dashboards during a campaign: every commit moves the data version, so no 304 helps).
  2. POST /v1/responses/batch with 1000-item bodies, a few connections: rows/s.
  3. GET /v1/metrics at every size of BENCH_SIZES (default "1000000 10000000") responses, with
     wrk -t1 -c1 and no If-None-Match (every request computed), beside the same aggregate as a
     raw GROUP BY over the responses table with the sqlite3 CLI (timed by hyperfine); at the
     largest size the same queries again with wrk -t2 -c64 (many dashboards at once).
  4. 304 polls: GET /v1/metrics?group_by=touchpoint with If-None-Match, wrk -t2 -c64.
The databases of step 3 are filled by tests/bench/load.c (Polku's own store) and cached under
BUILD/bench/, keyed by size and by a hash of the schema and the loader; they are made again only
when missing.

Environment: BENCH_SIZES, BENCH_RUNS, BENCH_DURATION (seconds per ingest, batch and 304 run;
default 10), BENCH_METRICS_DURATION (seconds per metrics run; default 5), BENCH_QUICK=1 (one
run of everything at 100,000 responses, short durations: checks that the script works).
Traffic goes to 127.0.0.1 only; every server started here is stopped on exit.
"""

import argparse
import atexit
import datetime
import glob
import hashlib
import http.client
import json
import os
import resource
import secrets
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# The fifth ingest run: this many connections poll this query meanwhile
DASHBOARDS = 8
DASHBOARD_QUERY = "/v1/metrics?group_by=touchpoint"
REPO = os.path.dirname(os.path.dirname(HERE))
DAY_MS = 86400 * 1000

_servers = set()


def log(msg):
    print(msg, flush=True)


def note(msg):
    """Progress on stderr, so stdout stays the report."""
    print("bench: " + msg, file=sys.stderr, flush=True)


# ---- servers --------------------------------------------------------------------------------


class Server:
    """build/polku serve on 127.0.0.1 with a port it picks, a database and an admin key."""

    def __init__(self, binary, db, key, extra=()):
        self.cmd = [binary, "serve", "--listen", "127.0.0.1:0", "--db", db, "--access-log", "0"]
        self.cmd += list(extra)
        env = dict(os.environ, POLKU_ADMIN_KEY=key)
        self.proc = subprocess.Popen(self.cmd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _servers.add(self.proc)
        self.lines = []
        self.port = None
        deadline = time.monotonic() + 60
        ready = threading.Event()

        def drain():
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.lines.append(line)
                del self.lines[:-200]
                if self.port is None:
                    try:
                        obj = json.loads(line)
                    except ValueError:
                        continue
                    if obj.get("msg") == "listening":
                        self.port = int(obj["port"])
                        ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        ready.wait(max(0.0, deadline - time.monotonic()))
        if self.port is None:
            self.stop()
            raise RuntimeError("polku did not start: %s\n%s" % (" ".join(self.cmd),
                                                                "\n".join(self.lines[-20:])))
        self.url = "http://127.0.0.1:%d" % self.port

    @property
    def pid(self):
        return self.proc.pid

    def vm_hwm_kib(self):
        """Peak resident set size so far (VmHWM), KiB."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return None

    def cpu_seconds(self):
        """User and system CPU time the server has used so far."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        _servers.discard(self.proc)
        return self.proc.returncode


@atexit.register
def _kill_leftovers():
    for proc in list(_servers):
        if proc.poll() is None:
            proc.kill()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                pass


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)


def http_get(port, path, key, headers=None, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = {"Authorization": "Bearer " + key}
        h.update(headers or {})
        conn.request("GET", path, headers=h)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, resp, body
    finally:
        conn.close()


# ---- tools ----------------------------------------------------------------------------------


def run(cmd, timeout, **kw):
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, **kw)


def wrk_start(url, script, threads, conns, duration, headers=(), args=()):
    """Starts wrk; returns (the command, the process). wrk_result waits for it."""
    cmd = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % duration, "--timeout", "10s",
           "-s", script]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(url)
    if args:
        cmd += ["--"] + list(args)
    return cmd, subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)


def wrk_result(proc, duration):
    """The dict that wrk's done() printed, with rps and the error total."""
    out, err = proc.communicate(timeout=duration + 120)
    for line in out.splitlines():
        if line.startswith("WRK_JSON "):
            res = json.loads(line[len("WRK_JSON "):])
            res["rps"] = res["requests"] / (res["duration_us"] / 1e6)
            res["errors"] = sum(res[k] for k in ("err_connect", "err_read", "err_write",
                                                 "err_status", "err_timeout"))
            return res
    raise RuntimeError("wrk printed no result (exit %d): %s\n%s" % (proc.returncode, out, err))


def wrk(url, script, threads, conns, duration, headers=(), args=()):
    """Runs wrk; returns (the command, the dict its done() printed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd, proc = wrk_start(url, script, threads, conns, duration, headers, args)
    res = wrk_result(proc, duration)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPUs wrk kept busy (the machine has few; the client competes with the server)
    res["client_cpus"] = ((after.ru_utime - before.ru_utime) +
                          (after.ru_stime - before.ru_stime)) / (res["duration_us"] / 1e6)
    return cmd, res


def show_cmd(cmd, key, port=None, keys=None):
    """The command as a shell line, with $KEY, $PORT and $TOUCHPOINTS for the long parts."""
    text = " ".join(shlex.quote(c) for c in cmd).replace(key, "$KEY")
    if port:
        text = text.replace("127.0.0.1:%d" % port, "127.0.0.1:$PORT")
    if keys:
        text = text.replace(",".join(keys), "$TOUCHPOINTS")
    return text


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ---- databases ------------------------------------------------------------------------------


def cache_tag(build):
    """Hash of what decides a generated database: the embedded schema and the loader."""
    h = hashlib.sha256()
    for path in [os.path.join(build, "gen", "schema_sql.c"), os.path.join(HERE, "load.c")]:
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:12]


def ensure_db(loader, cache_dir, tag, size):
    """The cached database of size responses, made if missing. Returns (path, meta)."""
    path = os.path.join(cache_dir, "responses-%d-%s.db" % (size, tag))
    meta_path = path + ".json"
    if os.path.exists(path) and os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        meta["cached"] = True
        return path, meta
    # another tag of this size is stale now: drop it (they are large)
    for old in glob.glob(os.path.join(cache_dir, "responses-%d-*.db*" % size)):
        os.unlink(old)
    tmp = path + ".part"
    for p in glob.glob(tmp + "*"):
        os.unlink(p)
    note("loading %d responses into %s (cached for later runs)" % (size, path))
    p = run([loader, tmp, str(size)], timeout=4 * 3600)
    if p.returncode != 0:
        raise RuntimeError("load failed: %s%s" % (p.stdout, p.stderr))
    meta = json.loads(p.stdout.strip().splitlines()[-1])
    for suffix in ("-wal", "-shm"):
        if os.path.exists(tmp + suffix):
            raise RuntimeError("load left %s behind" % (tmp + suffix))
    os.rename(tmp, path)
    meta["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    meta["bytes"] = os.path.getsize(path)
    with open(meta_path, "w") as f:
        json.dump(meta, f)
    meta["cached"] = False
    return path, meta


def touchpoint_keys(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        return [r[0] for r in con.execute("SELECT key FROM touchpoints ORDER BY id")]
    finally:
        con.close()


def count_responses(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        return con.execute("SELECT count(*) FROM responses").fetchone()[0]
    finally:
        con.close()


def fresh_db(template, tmp_dir, name):
    path = os.path.join(tmp_dir, name)
    for p in glob.glob(path + "*"):
        os.unlink(p)
    shutil.copyfile(template, path)
    return path


def drop_db(path):
    for p in glob.glob(path + "*"):
        os.unlink(p)


# ---- the raw aggregates ---------------------------------------------------------------------

AGG = ("count(*) AS n, count(nps) AS nps_n, sum(nps >= 9) AS promoters, "
       "sum(nps BETWEEN 7 AND 8) AS passives, sum(nps <= 6) AS detractors, "
       "count(csat) AS csat_n, sum(csat >= 4) AS satisfied, avg(csat) AS csat_mean, "
       "count(ces) AS ces_n, avg(ces) AS ces_mean, sum(ces >= 5) AS easy, "
       "sum(expectation = 0) AS below, sum(expectation = 1) AS met, "
       "sum(expectation = 2) AS exceeded, avg(r_interaction), avg(r_content), "
       "avg(r_recovery), avg(r_value)")


def iso_ms(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


EXTRA = " (extra)"


def raw_days(from_ms):
    """The condition by which a raw query reads only the range's days from Polku's index of
    (UTC day, arrival) rather than the whole table, as an implementation without rollups would
    (migration 14; the same expression as the index)."""
    return "submitted_at / 86400000 >= %d" % (from_ms // DAY_MS)


def queries(now_ms, tp):
    """(label, metrics path, raw SQL) of the measured aggregates; now_ms is the data's now."""
    from_ms = now_ms - 30 * DAY_MS
    from_day_ms = from_ms - from_ms % DAY_MS  # UTC midnight: Polku's default reporting zone
    from_date = iso_ms(from_day_ms)[:10]
    return [
        ("touchpoint, all time", "/v1/metrics?group_by=touchpoint",
         "SELECT touchpoint_id, %s FROM responses GROUP BY touchpoint_id;" % AGG),
        ("touchpoint, last 30 days (from=date)",
         "/v1/metrics?group_by=touchpoint&from=%s" % from_date,
         "SELECT touchpoint_id, %s FROM responses WHERE submitted_at >= %d AND %s "
         "GROUP BY touchpoint_id;" % (AGG, from_day_ms, raw_days(from_day_ms))),
        ("touchpoint, last 30 days (from=instant)",
         "/v1/metrics?group_by=touchpoint&from=%s" % iso_ms(from_ms),
         "SELECT touchpoint_id, %s FROM responses WHERE submitted_at >= %d AND %s "
         "GROUP BY touchpoint_id;" % (AGG, from_ms - from_ms % 1000, raw_days(from_ms))),
        # noon: half of the first day, which was read as raw rows before the hourly rollups of
        # migration 12 (not one of the queries: shown, but not in the targets)
        ("touchpoint, from a noon 30 days ago" + EXTRA,
         "/v1/metrics?group_by=touchpoint&from=%s" % iso_ms(from_day_ms + DAY_MS // 2),
         "SELECT touchpoint_id, %s FROM responses WHERE submitted_at >= %d AND %s "
         "GROUP BY touchpoint_id;" % (AGG, from_day_ms + DAY_MS // 2,
                                      raw_days(from_day_ms + DAY_MS // 2))),
        ("phase, month", "/v1/metrics?group_by=phase,month",
         "SELECT t.phase_id, strftime('%%Y-%%m', r.submitted_at / 1000, 'unixepoch') AS month, "
         "%s FROM responses r JOIN touchpoints t ON t.id = r.touchpoint_id GROUP BY 1, 2;"
         % AGG),
        ("touchpoint=%s, week" % tp, "/v1/metrics?touchpoint=%s&group_by=week" % tp,
         "SELECT (submitted_at / 86400000 + 3) / 7 AS week, %s FROM responses "
         "WHERE touchpoint_id = (SELECT id FROM touchpoints WHERE key = '%s') GROUP BY 1;"
         % (AGG, tp)),
    ]


def check_against_raw(db, body, size):
    """The API's all-time per-touchpoint counts equal a raw GROUP BY (a sanity check)."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        raw = {k: (n, p, d, c) for k, n, p, d, c in con.execute(
            "SELECT t.key, count(*), sum(r.nps >= 9), sum(r.nps <= 6), count(r.csat) "
            "FROM responses r JOIN touchpoints t ON t.id = r.touchpoint_id GROUP BY t.key")}
    finally:
        con.close()
    api = {g["key"]["touchpoint"]: (g["n"], g["nps"]["promoters"], g["nps"]["detractors"],
                                    g["csat"]["n"]) for g in body["groups"]}
    if body["total"]["n"] != size:
        return "total.n is %s, not %d" % (body["total"]["n"], size)
    if api != raw:
        return "per-touchpoint counts differ from a raw GROUP BY"
    return None


# ---- the measurements -----------------------------------------------------------------------


class Bench:
    def __init__(self, opts):
        self.o = opts
        self.key = "bench-" + secrets.token_hex(12)
        self.tmp = os.path.join(opts.cache, "tmp")
        self.cmds = {}
        self.problems = []
        self.results = {}
        self.keys = []

    def server(self, db, extra=()):
        return Server(self.o.binary, db, self.key, extra)

    # 1 + 2: writes on fresh databases

    def ingest(self, template, keys):
        o = self.o
        res = {"group": [], "each": [], "random": [], "keys": [], "dashboards": []}
        url_script = os.path.join(HERE, "wrk_post.lua")
        auth = "Authorization: Bearer " + self.key
        for i in range(o.runs):
            for mode in ("group", "each", "random", "keys", "dashboards"):
                note("ingest %s, run %d of %d" % (mode, i + 1, o.runs))
                db = fresh_db(template, self.tmp, "ingest.db")
                extra = ["--commit-mode", "each"] if mode == "each" else []
                srv = self.server(db, extra)
                try:
                    cpu0 = srv.cpu_seconds()
                    if mode == "dashboards":
                        # DASHBOARDS connections ask for metrics without pause while the
                        # ingest runs: every commit moves the data version, so no 304 helps
                        qcmd, q = wrk_start(srv.url + DASHBOARD_QUERY,
                                            os.path.join(HERE, "wrk_get.lua"), 1, DASHBOARDS,
                                            o.duration, [auth])
                    cmd, r = wrk(srv.url + "/v1/responses", url_script, 2, 64, o.duration,
                                 [auth],
                                 [",".join(keys)] + ([mode] if mode in ("random", "keys") else []))
                    r["server_cpus"] = (srv.cpu_seconds() - cpu0) / (r["duration_us"] / 1e6)
                    r["hwm_kib"] = srv.vm_hwm_kib()
                    if mode == "dashboards":
                        r["queries"] = wrk_result(q, o.duration)
                        r["client_cpus"] = float("nan")  # two clients: not told apart
                        if r["queries"]["errors"]:
                            self.problems.append("ingest dashboards run %d: the metrics "
                                                 "queries saw %d errors" % (
                                                     i + 1, r["queries"]["errors"]))
                        self.cmds["dashboards"] = show_cmd(qcmd, self.key, srv.port)
                finally:
                    rc = srv.stop()
                stored = count_responses(db)
                drop_db(db)
                r["stored"] = stored
                if rc != 0:
                    self.problems.append("ingest %s run %d: polku exited %s" % (mode, i + 1, rc))
                if r["errors"]:
                    self.problems.append("ingest %s run %d: wrk saw %d errors (%s)" % (
                        mode, i + 1, r["errors"], {k: v for k, v in r.items()
                                                   if k.startswith("err_") and v}))
                if stored < r["requests"] - r["errors"]:
                    self.problems.append("ingest %s run %d: %d responses stored, fewer than "
                                         "the %d acknowledged" % (mode, i + 1, stored,
                                                                  r["requests"]))
                res[mode].append(r)
                self.cmds["ingest " + mode] = "%s\n%16s(server: %s)" % (
                    show_cmd(cmd, self.key, srv.port, keys), "",
                    " ".join(["POLKU_ADMIN_KEY=$KEY", "build/polku", "serve", "--listen",
                              "127.0.0.1:0", "--db", "FRESH.db", "--access-log", "0"] + extra))
        self.results["ingest"] = res

    def batch(self, template, keys):
        o = self.o
        out = []
        for i in range(o.runs):
            note("batch, run %d of %d" % (i + 1, o.runs))
            db = fresh_db(template, self.tmp, "batch.db")
            srv = self.server(db)
            try:
                cpu0 = srv.cpu_seconds()
                cmd, r = wrk(srv.url + "/v1/responses/batch",
                             os.path.join(HERE, "wrk_batch.lua"), 2, o.batch_conns, o.duration,
                             ["Authorization: Bearer " + self.key],
                             [",".join(keys), str(o.batch_items)])
                r["server_cpus"] = (srv.cpu_seconds() - cpu0) / (r["duration_us"] / 1e6)
                r["hwm_kib"] = srv.vm_hwm_kib()
            finally:
                rc = srv.stop()
            stored = count_responses(db)
            drop_db(db)
            r["stored"] = stored
            if rc != 0:
                self.problems.append("batch run %d: polku exited %s" % (i + 1, rc))
            if r["errors"]:
                self.problems.append("batch run %d: wrk saw %d errors" % (i + 1, r["errors"]))
            if stored < (r["requests"] - r["errors"]) * o.batch_items:
                self.problems.append("batch run %d: %d stored, fewer than acknowledged" % (
                    i + 1, stored))
            out.append(r)
            self.cmds["batch"] = show_cmd(cmd, self.key, srv.port, keys)
        self.results["batch"] = out

    # 3 + 4: reads over the loaded databases

    def metrics(self, size, db, meta, keys, polls):
        o = self.o
        tp = "checkout" if "checkout" in keys else keys[0]
        qs = queries(meta["now_ms"], tp)
        res = {q[0]: {"api": [], "raw": None, "path": q[1], "sql": q[2]} for q in qs}
        before = (os.path.getsize(db), os.path.getmtime(db))
        srv = self.server(db)
        try:
            st, resp, body = http_get(srv.port, "/v1/metrics?group_by=touchpoint", self.key)
            if st != 200:
                raise RuntimeError("GET /v1/metrics answered %d: %r" % (st, body[:300]))
            problem = check_against_raw(db, json.loads(body), size)
            if problem:
                self.problems.append("metrics at %d: %s" % (size, problem))
            etag = resp.getheader("ETag")
            for label, path, _ in qs:
                st, _, body = http_get(srv.port, path, self.key)
                if st != 200:
                    self.problems.append("metrics at %d: %s answered %d" % (size, path, st))
                res[label]["groups"] = len(json.loads(body).get("groups", [])) if st == 200 \
                    else None
            for i in range(o.runs):
                for label, path, _ in qs:
                    note("metrics at %d: %s, run %d of %d" % (size, label, i + 1, o.runs))
                    cmd, r = wrk(srv.url + path, os.path.join(HERE, "wrk_get.lua"), 1, 1,
                                 o.metrics_duration, ["Authorization: Bearer " + self.key])
                    if r["errors"]:
                        self.problems.append("metrics at %d, %s: %d errors" % (size, label,
                                                                              r["errors"]))
                    res[label]["api"].append(r)
                    self.cmds["metrics"] = show_cmd(cmd, self.key, srv.port)
            if polls:
                self.concurrent(srv, size, qs)
                self.polls(srv, etag)
        finally:
            rc = srv.stop()
        if rc != 0:
            self.problems.append("metrics at %d: polku exited %s" % (size, rc))
        if (os.path.getsize(db), os.path.getmtime(db)) != before:
            self.problems.append("metrics at %d: the server changed the cached database" % size)
        # the same aggregates as raw scans with the sqlite3 CLI, no server running
        for label, _, sql in qs:
            note("raw scan at %d: %s" % (size, label))
            qfile = os.path.join(self.tmp, "q.sql")
            with open(qfile, "w") as f:
                f.write(sql + "\n")
            jfile = os.path.join(self.tmp, "hyperfine.json")
            cmd = ["hyperfine", "-N", "--style", "none", "--warmup", "1", "--runs",
                   str(o.runs), "--export-json", jfile,
                   "sqlite3 -readonly %s %s" % (shlex.quote(db), shlex.quote(".read " + qfile))]
            p = run(cmd, timeout=3600)
            if p.returncode != 0:
                self.problems.append("raw scan %s at %d failed: %s" % (label, size, p.stderr))
                continue
            with open(jfile) as f:
                times = json.load(f)["results"][0]["times"]
            res[label]["raw"] = statistics.median(times)
            res[label]["raw_times"] = times
            self.cmds["raw"] = ("hyperfine -N --warmup 1 --runs %d "
                                "\"sqlite3 -readonly DB '.read QUERY.sql'\"" % o.runs)
        # a read-only sqlite3 leaves an empty WAL and the shared memory file behind
        if os.path.exists(db + "-wal") and os.path.getsize(db + "-wal") == 0:
            for suffix in ("-wal", "-shm"):
                if os.path.exists(db + suffix):
                    os.unlink(db + suffix)
        self.results.setdefault("metrics", {})[size] = res

    def concurrent(self, srv, size, qs):
        """The issue's metrics queries at 64 connections, every request computed: what a
        server can answer per second when many dashboards ask at once without ETags."""
        o = self.o
        res = {}
        for i in range(o.runs):
            for label, path, _ in qs:
                if label.endswith(EXTRA):
                    continue
                note("metrics at %d, 64 connections: %s, run %d of %d" % (size, label, i + 1,
                                                                          o.runs))
                cpu0 = srv.cpu_seconds()
                cmd, r = wrk(srv.url + path, os.path.join(HERE, "wrk_get.lua"), 2, 64,
                             o.metrics_duration, ["Authorization: Bearer " + self.key])
                r["server_cpus"] = (srv.cpu_seconds() - cpu0) / (r["duration_us"] / 1e6)
                if r["errors"]:
                    self.problems.append("metrics at %d, 64 connections, %s: %d errors" % (
                        size, label, r["errors"]))
                res.setdefault(label, []).append(r)
                self.cmds["metrics c64"] = show_cmd(cmd, self.key, srv.port)
        self.results["metrics_c64"] = {"size": size, "res": res}

    def polls(self, srv, etag):
        o = self.o
        path = "/v1/metrics?group_by=touchpoint"
        st, _, _ = http_get(srv.port, path, self.key, {"If-None-Match": etag})
        if st != 304:
            self.problems.append("If-None-Match answered %d, not 304" % st)
        out = []
        for i in range(o.runs):
            note("304 polls, run %d of %d" % (i + 1, o.runs))
            cpu0 = srv.cpu_seconds()
            cmd, r = wrk(srv.url + path, os.path.join(HERE, "wrk_get.lua"), 2, 64, o.duration,
                         ["Authorization: Bearer " + self.key, "If-None-Match: " + etag])
            r["server_cpus"] = (srv.cpu_seconds() - cpu0) / (r["duration_us"] / 1e6)
            if r["errors"]:
                self.problems.append("304 polls run %d: %d errors" % (i + 1, r["errors"]))
            out.append(r)
            self.cmds["polls"] = show_cmd(cmd, self.key, srv.port)
        st, _, _ = http_get(srv.port, path, self.key, {"If-None-Match": etag})
        if st != 304:
            self.problems.append("after the polls If-None-Match answered %d, not 304" % st)
        self.results["polls"] = out


# ---- the report -----------------------------------------------------------------------------


def fmt_ms(us):
    return "-" if us is None else ("%.2f" % (us / 1000.0) if us < 100000 else "%.0f" % (us / 1e3))


def fmt_int(v):
    return "-" if v is None else "{:,}".format(int(round(v)))


def cpus(m):
    """CPUs kept busy by the server and by wrk during the run, e.g. "1.2/0.7"."""
    c = m["client_cpus"]
    return "%.1f/%s" % (m["server_cpus"], "-" if c != c else "%.1f" % c)  # c != c: NaN


def verdict(ok):
    return "ok" if ok else "MISSED"


def table(rows, head):
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    line = lambda r: "  " + "  ".join(str(c).ljust(widths[i]) if i == 0 else
                                      str(c).rjust(widths[i]) for i, c in enumerate(r))
    out = [line(head), "  " + "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def report(b, loads, started):
    o, R = b.o, b.results
    n = o.runs
    targets = []
    log("")
    log("Polku benchmark: every figure is the median of %d run%s measured in this go" % (
        n, "" if n == 1 else "s"))
    log("  machine: %d CPUs, load average at start %.2f; %s; wrk, hyperfine %s, sqlite3 %s" % (
        os.cpu_count(), o.loadavg, os.uname().release, o.hyperfine_version, sqlite3.sqlite_version))
    log("")
    log("Bulk load (tests/bench/load.c through Polku's store; databases cached in %s)" %
        os.path.relpath(o.cache, REPO))
    rows = []
    for size, (path, meta) in sorted(loads.items()):
        rows.append([fmt_int(size), "%.1f" % meta["seconds"], fmt_int(meta["rows_per_s"]),
                     "%.0f MiB" % (meta.get("bytes", os.path.getsize(path)) / 2**20),
                     "cached, made %s" % meta.get("created", "?") if meta["cached"]
                     else "made now"])
    log(table(rows, ["responses", "seconds", "rows/s", "file", ""]))

    if "ingest" in R:
        log("")
        log("1. Durable ingest: POST /v1/responses, wrk -t2 -c64 -d%ds, unique bodies, fresh "
            "database per run" % o.duration)
        rows = []
        meds = {}
        labels = {"group": "group commit (default)", "each": "--commit-mode each",
                  "random": "group commit, random customer ids",
                  "keys": "group commit, Idempotency-Key on each",
                  "dashboards": "group commit, %d dashboards querying" % DASHBOARDS}
        for mode in ("group", "each", "random", "keys", "dashboards"):
            rs = R["ingest"][mode]
            m = {k: med([r[k] for r in rs]) for k in ("rps", "p50_us", "p99_us", "hwm_kib",
                                                      "server_cpus", "client_cpus")}
            meds[mode] = m
            rows.append([labels[mode], fmt_int(m["rps"]), fmt_ms(m["p50_us"]), fmt_ms(m["p99_us"]),
                         "%.1f MiB" % (m["hwm_kib"] / 1024.0), cpus(m),
                         " ".join(fmt_int(r["rps"]) for r in rs)])
        log(table(rows, ["mode", "req/s", "p50 ms", "p99 ms", "peak RSS", "CPUs srv/wrk",
                         "runs (req/s)"]))
        ratio = meds["group"]["rps"] / meds["each"]["rps"] if meds["each"]["rps"] else None
        log("  ratio group/each: %.1fx" % ratio if ratio else "  ratio group/each: -")
        qs = [r["queries"] for r in R["ingest"]["dashboards"]]
        log("  the dashboards meanwhile (wrk -t1 -c%d %s, no If-None-Match): %s queries/s, "
            "p50 %s ms, p99 %s ms" % (DASHBOARDS, DASHBOARD_QUERY,
                                      fmt_int(med([q["rps"] for q in qs])),
                                      fmt_ms(med([q["p50_us"] for q in qs])),
                                      fmt_ms(med([q["p99_us"] for q in qs]))))
        g = meds["group"]
        targets += [("ingest >= 40,000 req/s", fmt_int(g["rps"]), g["rps"] >= 40000),
                    ("ingest p99 <= 10 ms", fmt_ms(g["p99_us"]) + " ms", g["p99_us"] <= 10000),
                    ("group >= 8x each", "%.1fx" % (ratio or 0), (ratio or 0) >= 8),
                    ("RSS <= 64 MiB during ingest", "%.1f MiB" % (g["hwm_kib"] / 1024.0),
                     g["hwm_kib"] <= 64 * 1024)]

    if "batch" in R:
        rs = R["batch"]
        log("")
        log("2. POST /v1/responses/batch: %d items per request, wrk -t2 -c%d -d%ds" % (
            o.batch_items, o.batch_conns, o.duration))
        m = {k: med([r[k] for r in rs]) for k in ("rps", "p50_us", "p99_us", "hwm_kib",
                                                  "server_cpus", "client_cpus")}
        log(table([[fmt_int(m["rps"] * o.batch_items), "%.1f" % m["rps"], fmt_ms(m["p50_us"]),
                    fmt_ms(m["p99_us"]), "%.1f MiB" % (m["hwm_kib"] / 1024.0), cpus(m),
                    " ".join(fmt_int(r["rps"] * o.batch_items) for r in rs)]],
                  ["rows/s", "batches/s", "p50 ms", "p99 ms", "peak RSS", "CPUs srv/wrk",
                   "runs (rows/s)"]))

    for size, res in sorted(R.get("metrics", {}).items()):
        log("")
        log("3. GET /v1/metrics over %s responses: wrk -t1 -c1 -d%ds, no If-None-Match; raw = "
            "the same aggregate as a GROUP BY over responses (sqlite3 CLI, hyperfine)" % (
                fmt_int(size), o.metrics_duration))
        rows = []
        for label, r in res.items():
            m = {k: med([x[k] for x in r["api"]]) for k in ("rps", "p50_us", "p99_us")}
            raw_ms = r["raw"] * 1000 if r["raw"] is not None else None
            ratio = raw_ms / (m["p50_us"] / 1000) if raw_ms and m["p50_us"] else None
            rows.append([label, r.get("groups", "-"), fmt_ms(m["p50_us"]), fmt_ms(m["p99_us"]),
                         fmt_int(m["rps"]), "-" if raw_ms is None else "%.0f" % raw_ms,
                         "-" if ratio is None else "%.0fx" % ratio])
            if size == max(R["metrics"]) and not label.endswith(EXTRA):
                targets.append(("metrics p99 <= 10 ms at %s: %s" % (fmt_int(size), label),
                                fmt_ms(m["p99_us"]) + " ms", m["p99_us"] <= 10000))
                targets.append(("raw/rollup >= 500x at %s: %s" % (fmt_int(size), label),
                                "-" if ratio is None else "%.0fx" % ratio, (ratio or 0) >= 500))
        log(table(rows, ["query", "groups", "p50 ms", "p99 ms", "req/s", "raw ms",
                         "raw/rollup p50"]))

    if "metrics_c64" in R:
        mc = R["metrics_c64"]
        log("")
        log("3b. The same queries over %s responses at 64 connections: wrk -t2 -c64 -d%ds, no "
            "If-None-Match (every request computed)" % (fmt_int(mc["size"]), o.metrics_duration))
        rows = []
        for label, rs in mc["res"].items():
            m = {k: med([r[k] for r in rs]) for k in ("rps", "p50_us", "p99_us", "server_cpus",
                                                      "client_cpus")}
            rows.append([label, fmt_int(m["rps"]), fmt_ms(m["p50_us"]), fmt_ms(m["p99_us"]),
                         cpus(m), " ".join(fmt_int(r["rps"]) for r in rs)])
        log(table(rows, ["query", "req/s", "p50 ms", "p99 ms", "CPUs srv/wrk", "runs (req/s)"]))

    if "polls" in R:
        rs = R["polls"]
        m = {k: med([r[k] for r in rs]) for k in ("rps", "p50_us", "p99_us", "server_cpus",
                                                  "client_cpus")}
        log("")
        log("4. 304 polls: GET /v1/metrics?group_by=touchpoint with If-None-Match, wrk -t2 -c64 "
            "-d%ds" % o.duration)
        log(table([[fmt_int(m["rps"]), fmt_ms(m["p50_us"]), fmt_ms(m["p99_us"]), cpus(m),
                    " ".join(fmt_int(r["rps"]) for r in rs)]],
                  ["polls/s", "p50 ms", "p99 ms", "CPUs srv/wrk", "runs (polls/s)"]))
        targets.append(("304 polls >= 100,000/s", fmt_int(m["rps"]), m["rps"] >= 100000))

    if targets:
        log("")
        log("Targets")
        log(table([[t, v, verdict(ok)] for t, v, ok in targets], ["target", "measured", ""]))
    log("")
    log("Commands ($KEY is POLKU_ADMIN_KEY of the server; $PORT the port it picked)")
    for k, v in b.cmds.items():
        log("  %-14s %s" % (k + ":", v))
    for size, res in sorted(R.get("metrics", {}).items()):
        for label, r in res.items():
            log("  %-14s %s   |   raw: %s" % ("%s:" % fmt_int(size), r["path"], r["sql"]))
        break
    log("  loader:        %s DB N   (compiled by tests/bench/run.sh)" %
        os.path.relpath(o.loader, REPO))
    if b.keys:
        log("  $TOUCHPOINTS = %s" % ",".join(b.keys))
    if b.problems:
        log("")
        log("Problems seen")
        for p in b.problems:
            log("  - " + p)
    log("")
    log("bench: finished in %.0f s" % (time.monotonic() - started))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    started = time.monotonic()
    build = os.path.abspath(args.build)
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")

    class O:
        pass

    o = O()
    o.binary = os.path.join(build, "polku")
    o.loader = os.path.join(build, "bench", "load")
    o.cache = os.path.join(build, "bench")
    o.runs = int(os.environ.get("BENCH_RUNS", "1" if quick else "3"))
    o.duration = int(os.environ.get("BENCH_DURATION", "3" if quick else "10"))
    o.metrics_duration = int(os.environ.get("BENCH_METRICS_DURATION", "2" if quick else "5"))
    o.batch_items = 1000
    o.batch_conns = 4
    sizes = os.environ.get("BENCH_SIZES", "100000" if quick else "1000000 10000000")
    o.sizes = sorted({int(s) for s in sizes.replace(",", " ").split()})
    o.loadavg = os.getloadavg()[0]
    for tool in ("wrk", "hyperfine", "sqlite3"):
        if not shutil.which(tool):
            sys.exit("bench: %s is not installed" % tool)
    o.hyperfine_version = run(["hyperfine", "--version"], 30).stdout.split()[-1]
    for path in (o.binary, o.loader):
        if not os.access(path, os.X_OK):
            sys.exit("bench: %s is missing; run make bench" % path)
    if o.runs < 3 and not quick:
        note("BENCH_RUNS=%d: fewer than 3 runs, medians are not robust" % o.runs)

    b = Bench(o)
    shutil.rmtree(b.tmp, ignore_errors=True)
    os.makedirs(b.tmp)
    loads = {}
    try:
        tag = cache_tag(build)
        template = os.path.join(b.tmp, "empty.db")
        p = run([o.loader, template, "0"], timeout=120)
        if p.returncode != 0:
            sys.exit("bench: the loader failed: %s%s" % (p.stdout, p.stderr))
        keys = b.keys = touchpoint_keys(template)
        b.ingest(template, keys)
        b.batch(template, keys)
        for size in o.sizes:
            loads[size] = ensure_db(o.loader, o.cache, tag, size)
        for size in o.sizes:
            path, meta = loads[size]
            b.metrics(size, path, meta, keys, polls=(size == o.sizes[-1]))
    finally:
        for proc in list(_servers):
            if proc.poll() is None:
                proc.kill()
        shutil.rmtree(b.tmp, ignore_errors=True)
    report(b, loads, started)
    return 1 if b.problems else 0


if __name__ == "__main__":
    sys.exit(main())
