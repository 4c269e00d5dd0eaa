"""Crash safety: nothing acknowledged is lost, and retries with Idempotency-Key store once.

Several rounds: concurrent writers post responses (each attempt with its own Idempotency-Key
and a unique comment) while the server is killed with SIGKILL at a random moment. After each
restart on the same database file:
- every response that got a 201 is stored, with the id it was acknowledged with;
- retrying every attempted request with its Idempotency-Key answers 201 and, afterwards, every
  attempted request is stored exactly once;
- PRAGMA integrity_check is "ok" and the rollups equal a fresh computation.
The second class does the same with a checkpoint due every 64 WAL pages and always run by the
checkpointer thread, so the kills also land in its passes and in the writer's catch-ups; the
third with room for only 50 recent idempotency fingerprints in memory, so that keys are merged
into the on-disk index throughout.
"""

import json
import random
import sqlite3
import threading
import time
import unittest

from harness import Client, Server, _live

WRITERS = 8
ROUNDS = 3


class CrashTest(unittest.TestCase):
    server_args = ()
    seed = 20261125

    def setUp(self):
        self.rng = random.Random(self.seed)
        self.server = Server(self.server_args).start()
        self.admin_key = self.server.admin_key
        self.tmpdir = self.server.tmpdir
        c = self.server.client()
        r = c.post("/v1/touchpoints", {"key": "checkout", "name": "Checkout",
                                       "journey": "purchase", "phase": "purchase"})
        self.assertEqual(r.status, 201, r)
        c.close()
        self.attempts = {}  # idempotency key -> body
        self.acked = {}  # idempotency key -> id
        self.lock = threading.Lock()
        self.seq = 0

    def tearDown(self):
        if self.server is not None and self.server.alive():
            self.server.stop()

    def _kill(self):
        proc = self.server.proc
        proc.kill()
        proc.wait()
        _live.discard(proc)
        self.server.proc = None

    def _restart(self):
        self.server = Server(self.server_args, admin_key=self.admin_key,
                             tmpdir=self.tmpdir).start()

    def _writer(self, port, stop, wid):
        client = Client(port, self.admin_key, timeout=10)
        while not stop.is_set():
            with self.lock:
                self.seq += 1
                n = self.seq
            key = "crash-%d-%d" % (wid, n)
            body = {"touchpoint": "checkout", "nps": n % 11, "comment": "attempt %s" % key}
            with self.lock:
                self.attempts[key] = body
            try:
                r = client.post("/v1/responses", body, headers={"Idempotency-Key": key})
            except (OSError, Exception):  # the server died mid-request
                break
            if r.status == 201:
                with self.lock:
                    self.acked[key] = r.body["id"]
            elif r.status >= 500:
                break
        client.close()

    def _all_responses(self, client):
        out, cursor = [], None
        while True:
            params = {"limit": 1000}
            if cursor:
                params["cursor"] = cursor
            r = client.get("/v1/responses", params=params)
            self.assertEqual(r.status, 200, r)
            out.extend(r.body["items"])
            cursor = r.body["next_cursor"]
            if not cursor:
                return out

    def _check_db(self):
        db = sqlite3.connect(self.server.db_path)
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        finally:
            db.close()

    def test_sigkill_under_load_loses_nothing_acknowledged(self):
        for rnd in range(ROUNDS):
            stop = threading.Event()
            threads = [threading.Thread(target=self._writer, args=(self.server.port, stop, w))
                       for w in range(WRITERS)]
            for t in threads:
                t.start()
            time.sleep(self.rng.uniform(0.4, 1.5))
            self._kill()
            stop.set()
            for t in threads:
                t.join(30)
            self._check_db()
            self._restart()
            client = self.server.client()
            stored = {item["comment"]: item for item in self._all_responses(client)}
            lost = [k for k, rid in self.acked.items()
                    if stored.get("attempt %s" % k, {}).get("id") != rid]
            self.assertEqual(lost, [], "round %d: acknowledged responses lost" % rnd)
            self.assertGreater(len(self.acked), 0, "round %d: nothing was acknowledged" % rnd)

        # Retry every attempt with its key: each must end up stored exactly once.
        client = self.server.client()
        for key, body in self.attempts.items():
            r = client.post("/v1/responses", body, headers={"Idempotency-Key": key})
            self.assertEqual(r.status, 201, (key, r))
            if key in self.acked:
                self.assertEqual(r.body["id"], self.acked[key], key)
                self.assertEqual(r.header("Idempotent-Replayed"), "true", key)
        items = self._all_responses(client)
        comments = [item["comment"] for item in items]
        self.assertEqual(len(comments), len(set(comments)), "duplicates after retries")
        self.assertEqual(set(comments), {"attempt %s" % k for k in self.attempts})
        client.close()
        self.server.stop(cleanup=False)
        self._check_db()
        db = sqlite3.connect(self.server.db_path)
        try:
            n_raw = db.execute("SELECT count(*) FROM responses").fetchone()[0]
            n_rollup = db.execute("SELECT coalesce(sum(n), 0) FROM rollup_day").fetchone()[0]
            n_month = db.execute("SELECT coalesce(sum(n), 0) FROM rollup_month").fetchone()[0]
        finally:
            db.close()
        self.assertEqual(n_raw, len(self.attempts))
        self.assertEqual(n_rollup, n_raw)
        self.assertEqual(n_month, n_raw)
        print("crash rounds: %d attempted, %d acknowledged before a kill"
              % (len(self.attempts), len(self.acked)))
        self.server = None


class CrashWithBackgroundCheckpointsTest(CrashTest):
    server_args = ("--checkpoint-pages", "64", "--checkpoint-stall-ms", "0")
    seed = 20261126


class CrashWithMergedKeysTest(CrashTest):
    """With room for 50 fingerprints in memory, most keys are merged into the on-disk index
    while the kills land (server/store_idem.c), and the table is rebuilt at every restart."""
    server_args = ("--idempotency-memory", "50")
    seed = 20261127


if __name__ == "__main__":
    unittest.main()
