"""Ingest at speed: the batch endpoint, concurrent writers through the group commit, the
per-request baseline mode, and rollups (rebuild command, time zone change) against raw
computation.
"""

import json
import os
import random
import subprocess
import threading
import unittest

from harness import Client, Server, ServerTestCase, rollup_zone, stop_pair

TOUCHPOINTS = [("checkout", "purchase", "purchase"), ("delivery", "purchase", "ownership"),
               ("onboarding", "rean", "activate")]


def random_response(rng, i):
    r = {"touchpoint": rng.choice(TOUCHPOINTS)[0], "comment": "r%d" % i}
    if rng.random() < 0.8:
        r["nps"] = rng.randint(0, 10)
    if rng.random() < 0.6:
        r["csat"] = rng.randint(1, 5)
    if rng.random() < 0.4:
        r["expectation"] = rng.choice(["below", "met", "exceeded"])
    if "nps" not in r and "csat" not in r and "expectation" not in r:
        r["ces"] = rng.randint(1, 7)
    r["channel"] = rng.choice(["web", "email", "app"])
    day = rng.randint(1, 80)
    r["submitted_at"] = "2026-%02d-%02dT%02d:%02d:00Z" % (
        7 + (day - 1) // 28, (day - 1) % 28 + 1, rng.randint(0, 23), rng.randint(0, 59))
    return r


def seed_touchpoints(client):
    for key, journey, phase in TOUCHPOINTS:
        r = client.post("/v1/touchpoints", {"key": key, "name": key, "journey": journey,
                                            "phase": phase})
        assert r.status == 201, r


class BatchTest(ServerTestCase):
    @classmethod
    def prepare(cls):
        seed_touchpoints(cls.admin)

    def count(self, **params):
        n, cursor = 0, None
        while True:
            p = dict(params, limit=1000)
            if cursor:
                p["cursor"] = cursor
            r = self.admin.get("/v1/responses", params=p)
            self.assertEqual(r.status, 200, r)
            n += len(r.body["items"])
            cursor = r.body["next_cursor"]
            if not cursor:
                return n

    def test_batch_stores_all_in_order(self):
        rng = random.Random(1)
        items = [random_response(rng, i) for i in range(1000)]
        r = self.admin.post("/v1/responses/batch", {"items": items})
        self.assertEqual(r.status, 201, r)
        got = r.body["items"]
        self.assertEqual(len(got), 1000)
        self.assertEqual([g["comment"] for g in got], [i["comment"] for i in items])
        ids = [g["id"] for g in got]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(got[5]["journey"], dict((t[0], t[1]) for t in TOUCHPOINTS)[items[5]["touchpoint"]])

    def test_batch_is_all_or_nothing_with_pointers(self):
        before = self.count()
        items = [{"touchpoint": "checkout", "nps": 5} for _ in range(20)]
        items[17]["nps"] = 11
        items[3]["touchpoint"] = "no-such-touchpoint"
        r = self.admin.post("/v1/responses/batch", {"items": items})
        self.assertEqual(r.status, 422, r)
        pointers = [e["pointer"] for e in r.body["errors"]]
        self.assertIn("/items/17/nps", pointers)
        self.assertEqual(self.count(), before)
        # an unknown touchpoint is only known to the store: it fails the whole write too
        items[17]["nps"] = 10
        r = self.admin.post("/v1/responses/batch", {"items": items})
        self.assertEqual(r.status, 422, r)
        self.assertEqual([e["pointer"] for e in r.body["errors"]], ["/items/3/touchpoint"])
        self.assertEqual(self.count(), before)
        # a batch of one item still points into the batch
        r = self.admin.post("/v1/responses/batch", {"items": [items[3]]})
        self.assertEqual(r.status, 422, r)
        self.assertEqual([e["pointer"] for e in r.body["errors"]], ["/items/0/touchpoint"])
        self.assertEqual(self.count(), before)

    def test_batch_limits(self):
        r = self.admin.post("/v1/responses/batch", {"items": []})
        self.assertEqual(r.status, 422)
        self.assertEqual(r.body["errors"][0]["pointer"], "/items")
        r = self.admin.post("/v1/responses/batch",
                            {"items": [{"touchpoint": "checkout", "nps": 1}] * 1001})
        self.assertEqual(r.status, 422)
        r = self.admin.post("/v1/responses/batch", {"items": [], "extra": 1})
        self.assertEqual(r.status, 422)
        # a batch larger than the single-response limit (64 KiB) is fine under the batch limit
        big = [{"touchpoint": "checkout", "nps": 3, "comment": "x" * 400} for _ in range(400)]
        r = self.admin.post("/v1/responses/batch", {"items": big})
        self.assertEqual(r.status, 201, r)

    def test_batch_idempotency(self):
        body = {"items": [{"touchpoint": "delivery", "csat": 4, "comment": "idem-batch"}] * 3}
        h = {"Idempotency-Key": "batch-1"}
        first = self.admin.post("/v1/responses/batch", body, headers=h)
        self.assertEqual(first.status, 201)
        again = self.admin.post("/v1/responses/batch", body, headers=h)
        self.assertEqual(again.status, 201)
        self.assertEqual(again.body, first.body)
        self.assertEqual(again.header("Idempotent-Replayed"), "true")
        other = self.admin.post("/v1/responses/batch", {"items": body["items"][:1]}, headers=h)
        self.assertEqual(other.status, 422)

    def test_submit_key_may_batch(self):
        key = self.make_key("submit")["key"]
        c = self.server.client(key)
        r = c.post("/v1/responses/batch", {"items": [{"touchpoint": "checkout", "nps": 9}]})
        self.assertEqual(r.status, 201, r)
        c.close()


def metrics(client, **params):
    r = client.get("/v1/metrics", params=params)
    assert r.status == 200, r
    return r.body


class ConcurrentWritersTest(unittest.TestCase):
    """Many connections at once, in both commit modes: every 201 is stored once, with the
    metrics to match."""

    def run_mode(self, args):
        server = Server(args).start()
        try:
            admin = server.client()
            seed_touchpoints(admin)
            acked = []
            lock = threading.Lock()

            def writer(w):
                rng = random.Random(w)
                c = server.client()
                for i in range(60):
                    body = random_response(rng, w * 1000 + i)
                    r = c.post("/v1/responses", body)
                    assert r.status == 201, r
                    with lock:
                        acked.append((r.body["id"], body))
                c.close()

            threads = [threading.Thread(target=writer, args=(w,)) for w in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            ids = [a[0] for a in acked]
            self.assertEqual(len(set(ids)), 16 * 60)
            total = metrics(admin)["total"]
            self.assertEqual(total["n"], 16 * 60)
            nps = [b["nps"] for _, b in acked if "nps" in b]
            p = sum(1 for v in nps if v >= 9)
            d = sum(1 for v in nps if v <= 6)
            self.assertEqual(total["nps"]["n"], len(nps))
            self.assertAlmostEqual(total["nps"]["score"], 100.0 * (p - d) / len(nps), places=9)
            admin.close()
        finally:
            server.stop()

    def test_group_commit(self):
        self.run_mode([])

    def test_commit_each_baseline(self):
        self.run_mode(["--commit-mode", "each"])

    def test_bad_commit_mode_refused(self):
        proc = subprocess.run([Server().binary, "serve", "--commit-mode", "sometimes",
                               "--listen", "127.0.0.1:0", "--db", "/nonexistent/x.db"],
                              capture_output=True, timeout=30)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(b"commit-mode", proc.stderr)


class RollupRebuildTest(unittest.TestCase):
    """Incremental rollups equal rebuilt ones (polku rollup rebuild), and changing the
    reporting time zone rebuilds them so that day buckets follow the new zone."""

    def test_rebuild_and_time_zone_change(self):
        rng = random.Random(5)
        server = Server().start()
        tmpdir, admin_key = server.tmpdir, server.admin_key
        admin = server.client()
        seed_touchpoints(admin)
        items = [random_response(rng, i) for i in range(600)]
        # responses close to midnight UTC, which fall on the previous day in New York
        for i in range(0, 600, 7):
            items[i]["submitted_at"] = "2026-08-%02dT02:30:00Z" % (1 + i % 28)
        r = admin.post("/v1/responses/batch", {"items": items})
        self.assertEqual(r.status, 201)
        ids = [x["id"] for x in r.body["items"]]
        for rid in rng.sample(ids, 80):
            self.assertEqual(admin.delete("/v1/responses/%d" % rid).status, 204)
        queries = [dict(group_by="day"), dict(group_by="touchpoint,month"),
                   dict(group_by="phase,week", from_="2026-07-10", to="2026-09-03T05:00:00Z")]

        def snapshot(client):
            out = []
            for q in queries:
                q = {k.rstrip("_"): v for k, v in q.items()}
                out.append(metrics(client, **q))
            return out

        before = snapshot(admin)
        admin.close()
        server.stop(cleanup=False)

        proc = subprocess.run([server.binary, "rollup", "rebuild", "--db", server.db_path],
                              capture_output=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        server = Server(admin_key=admin_key, tmpdir=tmpdir).start()
        admin = server.client()
        self.assertEqual(snapshot(admin), before)
        admin.close()
        server.stop(cleanup=False)

        # New York: the responses at 02:30 UTC belong to the previous local day.
        server = Server(["--tz", "America/New_York"], admin_key=admin_key, tmpdir=tmpdir).start()
        admin = server.client()
        days = {g["key"]["day"]: g["n"] for g in metrics(admin, group_by="day")["groups"]}
        listed = set()
        cursor = None
        while True:
            p = {"limit": 1000}
            if cursor:
                p["cursor"] = cursor
            page = admin.get("/v1/responses", params=p).body
            listed.update(x["id"] for x in page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        expect = {}
        import datetime
        ny_offset_summer = datetime.timedelta(hours=-4)  # EDT: all data is July-September
        for it, rid in zip(items, ids):
            if rid not in listed:
                continue
            t = datetime.datetime.strptime(it["submitted_at"], "%Y-%m-%dT%H:%M:%SZ")
            local = (t + ny_offset_summer).strftime("%Y-%m-%d")
            expect[local] = expect.get(local, 0) + 1
        self.assertEqual(days, expect)
        admin.close()
        server.stop()

    def test_two_servers_of_two_zones_do_not_rebuild_for_ever(self):
        """Two servers of different zones on one database (a deploy that changes POLKU_TZ, old
        and new running at once): each would rebuild the rollups for its own zone whenever the
        other did. The one that sees them change back soon after its own rebuild gives way: its
        writes and metrics answer 503 and it is not ready; the other goes on, with metrics of
        its zone that count every response."""
        import time
        rng = random.Random(11)
        a = Server().start()
        b = None
        try:
            admin_a = a.client()
            seed_touchpoints(admin_a)
            items = [random_response(rng, i) for i in range(200)]
            self.assertEqual(admin_a.post("/v1/responses/batch", {"items": items}).status, 201)
            b = Server(["--tz", "America/New_York"], admin_key=a.admin_key,
                       tmpdir=a.tmpdir).start()
            admin_b = b.client()
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if admin_a.get("/readyz").status == 503 or admin_b.get("/readyz").status == 503:
                    break
                time.sleep(0.1)
            # some looks of the checkpointers later (polled: a loaded machine is slower), one
            # server has given way and the other is ready
            deadline = time.monotonic() + 30
            while True:
                ready = [admin_a.get("/readyz").status, admin_b.get("/readyz").status]
                if sorted(ready) == [200, 503] or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            time.sleep(1)
            logs = a.stderr_text() + b.stderr_text()
            rebuilds = logs.count("rebuilding them")
            ready = [admin_a.get("/readyz").status, admin_b.get("/readyz").status]
            self.assertEqual(sorted(ready), [200, 503], logs[-3000:])
            self.assertLessEqual(rebuilds, 3, logs[-3000:])
            self.assertIn("another server of that zone uses this database", logs)
            lost, won = (admin_a, admin_b) if ready[0] == 503 else (admin_b, admin_a)
            one = dict(items[0], submitted_at="2026-08-03T02:30:00Z")
            r = lost.post("/v1/responses", one)
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.header("Retry-After"), "1")
            self.assertEqual(lost.get("/v1/metrics", params={"group_by": "day"}).status, 503)
            self.assertEqual(won.post("/v1/responses", one).status, 201)
            self.assertEqual(metrics(won, group_by="day")["total"]["n"], 201)
            time.sleep(1)
            self.assertEqual(logs.count("rebuilding them"),
                             (a.stderr_text() + b.stderr_text()).count("rebuilding them"))
            admin_a.close()
            admin_b.close()
        finally:
            stop_pair(a, b)

    def test_zone_look_tried_again_after_a_lock(self):
        """When another process changes the rollups' zone and then holds the write lock longer
        than the busy timeout, the server's look fails; it tries again at its next tick (not
        only at the next commit of another process) and rebuilds them back."""
        import sqlite3
        import time
        server = Server().start()
        try:
            admin = server.client()
            seed_touchpoints(admin)
            rng = random.Random(12)
            items = [random_response(rng, i) for i in range(50)]
            self.assertEqual(admin.post("/v1/responses/batch", {"items": items}).status, 201)
            before = metrics(admin, group_by="day")
            db = sqlite3.connect(server.db_path, isolation_level=None, timeout=10)
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute("UPDATE meta SET value = 'Asia/Kathmandu' WHERE name = 'rollup_tz'")
                db.execute("COMMIT")
                db.execute("BEGIN IMMEDIATE")
                # held past the server's 5 s busy timeout, until its look has failed (polled:
                # on a loaded machine the look may come later than 5 s after the lock)
                deadline = time.monotonic() + 30
                while ("trying again" not in server.stderr_text()
                       and time.monotonic() < deadline):
                    time.sleep(0.2)
                db.execute("ROLLBACK")
                self.assertIn("trying again", server.stderr_text())
                deadline = time.monotonic() + 10
                zone = None
                while time.monotonic() < deadline:
                    zone = db.execute(
                        "SELECT value FROM meta WHERE name = 'rollup_tz'").fetchone()[0]
                    if zone == "UTC":
                        break
                    time.sleep(0.1)
                self.assertEqual(zone, "UTC")
            finally:
                db.close()
            self.assertEqual(metrics(admin, group_by="day"), before)
            admin.close()
        finally:
            server.stop()

    def test_rebuild_for_another_zone_while_serving(self):
        """`polku rollup rebuild` with another POLKU_TZ while a server runs: the server sees the
        other process's commit and rebuilds the rollups for its own zone (it adds every response
        to its own zone's buckets), so its metrics are right again within a moment and stay
        right for later responses."""
        import time
        rng = random.Random(9)
        server = Server().start()
        try:
            admin = server.client()
            seed_touchpoints(admin)
            items = [random_response(rng, i) for i in range(300)]
            for i in range(0, 300, 5):  # the previous local day in New York
                items[i]["submitted_at"] = "2026-08-%02dT02:30:00Z" % (1 + i % 28)
            self.assertEqual(admin.post("/v1/responses/batch", {"items": items}).status, 201)
            before = metrics(admin, group_by="day")
            env = {k: v for k, v in os.environ.items() if not k.startswith("POLKU_")}
            env["POLKU_TZ"] = "America/New_York"
            proc = subprocess.run([server.binary, "rollup", "rebuild", "--db", server.db_path],
                                  env=env, capture_output=True, timeout=60)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            # until the server has rebuilt them back, metrics answer 503 rather than another
            # zone's days
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                r = admin.get("/v1/metrics", params={"group_by": "day"})
                if r.status == 200 and r.body == before:
                    break
                self.assertEqual(r.status, 503, r)
                self.assertEqual(r.header("Retry-After"), "1")
                time.sleep(0.05)
            self.assertEqual(metrics(admin, group_by="day"), before)
            self.assertEqual(rollup_zone(server.db_path), "UTC")
            item = dict(items[0], submitted_at="2026-08-03T02:30:00Z")
            item.pop("idempotency_key", None)
            self.assertEqual(admin.post("/v1/responses", item).status, 201)
            after = {g["key"]["day"]: g["n"] for g in metrics(admin, group_by="day")["groups"]}
            was = {g["key"]["day"]: g["n"] for g in before["groups"]}
            was["2026-08-03"] = was.get("2026-08-03", 0) + 1
            self.assertEqual(after, was)
            admin.close()
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()


class StorageUnavailableTest(ServerTestCase):
    """A write the store cannot commit (here: another process holds the write lock longer than
    the busy timeout) is answered 503 with Retry-After, stores nothing, and the server recovers
    once the lock is gone."""

    @classmethod
    def prepare(cls):
        seed_touchpoints(cls.admin)

    def test_locked_database_is_503_then_recovers(self):
        import sqlite3
        db = sqlite3.connect(self.server.db_path, timeout=1, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            r = self.admin.post("/v1/responses", {"touchpoint": "checkout", "nps": 7,
                                                  "comment": "while locked"})
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.header("Retry-After"), "1")
            self.assertEqual(r.content_type, "application/problem+json")
            self.assertEqual(r.body["status"], 503)
            r = self.admin.post("/v1/touchpoints", {"key": "locked", "name": "x",
                                                    "journey": "purchase", "phase": "purchase"})
            self.assertEqual(r.status, 503, r)
        finally:
            db.execute("ROLLBACK")
            db.close()
        self.admin.close()
        items = self.admin.get("/v1/responses", params={"limit": 1000}).body["items"]
        self.assertNotIn("while locked", [i["comment"] for i in items])
        self.assertEqual(self.admin.get("/v1/touchpoints/locked").status, 404)
        r = self.admin.post("/v1/responses", {"touchpoint": "checkout", "nps": 7})
        self.assertEqual(r.status, 201, r)
