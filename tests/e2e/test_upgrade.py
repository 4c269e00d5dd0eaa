"""Upgrading a database with responses: a file at schema 7 (built here from schema/001-007 with
Python's sqlite3, the rollups filled by those migrations as they were) is opened by the binary
under test, which applies the later migrations (8: rollup histograms in a BLOB, 9: the
touchpoint/day index; 11: idempotency records in arrival order). The metrics must then equal
Python's own arithmetic over the rows, and stay equal after deletes and a rebuild; an
idempotency record of the old table must still be replayed.
"""

import datetime as dt
import glob
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

import model
from harness import REPO, Server, binary_path

OLD_SCHEMA = 7
TOUCHPOINTS = [("checkout", "purchase", "purchase"), ("delivery", "purchase", "ownership"),
               ("onboarding", "rean", "activate")]
EXPECTATIONS = ["below", "met", "exceeded"]


def polku_day(ms):
    return ms // 86400000  # UTC: the server runs with POLKU_TZ unset


def polku_month(ms):
    d = dt.datetime.fromtimestamp(ms // 1000, dt.timezone.utc)
    return d.year * 12 + d.month - 1


OLD_KEY = "order-17-checkout"
OLD_BODY = {"touchpoint": "checkout", "nps": 10}
OLD_REPLY = {"id": 1, "touchpoint": "checkout", "nps": 10, "recorded": "by schema 1"}


def request_hash(path, body):
    """The server's request fingerprint: SHA-256 of the path, a NUL and the canonical JSON."""
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(path.encode() + b"\0" + canon.encode()).digest()


def build_old_database(path, rng, count):
    """A schema-7 database holding count random responses; returns their model rows."""
    migrations = sorted(glob.glob(os.path.join(REPO, "schema", "[0-9][0-9][0-9]_*.sql")))
    db = sqlite3.connect(path, isolation_level=None)
    db.create_function("polku_day", 1, polku_day)
    db.create_function("polku_month", 1, polku_month)
    db.execute("PRAGMA journal_mode=WAL")
    for sql_file in migrations[:2]:
        db.executescript(open(sql_file).read())
    now = model.now_ms()
    for key, journey, phase in TOUCHPOINTS:
        db.execute("INSERT INTO touchpoints (key, name, phase_id, created_at, updated_at) "
                   "SELECT ?, ?, p.id, ?, ? FROM phases p JOIN journeys j ON j.id = p.journey_id "
                   "WHERE j.key = ? AND p.key = ?", (key, key, now, now, journey, phase))
    rows = []
    for i in range(count):
        key, journey, phase = rng.choice(TOUCHPOINTS)
        body = {"touchpoint": key, "channel": rng.choice(["web", "email", None]),
                "segment": rng.choice(["smb", "enterprise", None])}
        if rng.random() < 0.8:
            body["nps"] = rng.randint(0, 10)
        if rng.random() < 0.6:
            body["csat"] = rng.randint(1, 5)
        if rng.random() < 0.4:
            body["ces"] = rng.randint(1, 7)
        if rng.random() < 0.5:
            body["expectation"] = rng.choice(EXPECTATIONS)
        if rng.random() < 0.3:
            body["ratings"] = {a: rng.randint(1, 5) for a in model.AREAS if rng.random() < 0.6}
        submitted = now - rng.randint(0, 120 * 86400000)
        ratings = body.get("ratings") or {}
        cur = db.execute(
            "INSERT INTO responses (touchpoint_id, nps, csat, ces, expectation, r_interaction, "
            "r_content, r_recovery, r_value, channel, segment, submitted_at, received_at) "
            "SELECT id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM touchpoints WHERE key = ?",
            (body.get("nps"), body.get("csat"), body.get("ces"),
             EXPECTATIONS.index(body["expectation"]) if "expectation" in body else None,
             *[ratings.get(a) for a in model.AREAS], body["channel"], body["segment"],
             submitted, now, key))
        row = model.model_row(body, journey, phase)
        row["submitted_ms"] = submitted
        row["id"] = cur.lastrowid
        rows.append(row)
    # an Idempotency-Key recorded by the old binary (for the bootstrap admin key)
    db.execute("INSERT INTO idempotency (principal, idem_key, request_hash, status, body, "
               "created_at) VALUES ('admin-env', ?, ?, 201, ?, ?)",
               (OLD_KEY, request_hash("/v1/responses", OLD_BODY), json.dumps(OLD_REPLY), now))
    # the later migrations of the old binary, whose rebuild sections fill the rollups
    for sql_file in migrations[2:OLD_SCHEMA]:
        db.executescript("BEGIN;" + open(sql_file).read() + ";COMMIT;")
    db.execute("PRAGMA user_version = %d" % OLD_SCHEMA)
    old_sum = db.execute("SELECT sum(n) FROM rollup_month_tp").fetchone()[0]
    assert old_sum == count, (old_sum, count)
    db.close()
    return rows


class UpgradeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="polku-e2e-upgrade-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.rng = model.seeded("upgrade")
        self.rows = build_old_database(os.path.join(self.tmp, "polku.db"), self.rng, 400)
        self.server = Server(tmpdir=self.tmp).start()
        self.addCleanup(lambda: self.server.stop(cleanup=False))
        self.client = self.server.client()

    def check(self, params):
        dims = params["group_by"].split(",") if params.get("group_by") else []
        tz = model.tzinfo("UTC")
        r = self.client.get("/v1/metrics", params=params)
        self.assertEqual(r.status, 200, r)
        rows = model.filter_rows(self.rows, params, tz)
        want = model.expected_metrics(rows, dims, tz)
        problems = model.diff_blocks(r.body["total"], want["total"], "total")
        served = {model.canon(g.get("key")): g for g in r.body["groups"]}
        self.assertEqual(sorted(served), sorted(want["groups"]), params)
        for c, (key, blocks) in want["groups"].items():
            problems += model.diff_blocks(served[c], blocks, c)
        self.assertFalse(problems, "%s:\n  %s" % (params, "\n  ".join(problems[:20])))

    def check_all(self):
        lo = min(r["submitted_ms"] for r in self.rows)
        hi = max(r["submitted_ms"] for r in self.rows) + 1
        tz = model.tzinfo("UTC")
        for params in ({"group_by": "touchpoint"}, {"group_by": "phase,month"},
                       {"group_by": "channel,segment"}, {"group_by": "touchpoint,week"},
                       {"touchpoint": "checkout", "group_by": "day"}):
            self.check(params)
        for _ in range(8):
            params = model.random_range(self.rng, lo, hi, tz)
            params["group_by"] = self.rng.choice(["touchpoint", "day", "segment", "phase"])
            self.check(params)

    def test_upgraded_metrics_equal_the_raw_rows(self):
        r = self.client.get("/readyz")
        self.assertEqual(r.status, 200, r)
        self.assertGreater(r.body["schema_version"], OLD_SCHEMA)
        self.check_all()
        # the old record replays, and still refuses another body
        key = {"Idempotency-Key": OLD_KEY}
        r = self.client.post("/v1/responses", OLD_BODY, headers=key)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.header("Idempotent-Replayed"), "true")
        self.assertEqual(r.body, OLD_REPLY)
        r = self.client.post("/v1/responses", dict(OLD_BODY, nps=0), headers=key)
        self.assertEqual(r.status, 422, r)
        self.check_all()
        # deletes subtract through the new triggers
        for row in self.rng.sample(self.rows, 30):
            self.assertEqual(self.client.delete("/v1/responses/%d" % row["id"]).status, 204)
            self.rows.remove(row)
        self.check_all()
        # and the rebuild from raw rows gives the same
        self.client.close()
        self.server.stop(cleanup=False)
        p = subprocess.run([binary_path(), "rollup", "rebuild", "--db",
                            os.path.join(self.tmp, "polku.db")], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.server = Server(tmpdir=self.tmp, admin_key=self.server.admin_key).start()
        self.client = self.server.client()
        self.check_all()
        self.client.close()


if __name__ == "__main__":
    unittest.main()
