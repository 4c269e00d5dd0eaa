"""Liveness, readiness and a clean stop on SIGTERM."""

import http.client
import signal
import threading
import time
import unittest

from harness import Server, ServerTestCase


class HealthTest(ServerTestCase):
    def test_healthz_needs_no_key(self):
        r = self.anon.get("/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.content_type, "application/json")
        self.assertEqual(r.body.get("status"), "ok")

    def test_readyz_needs_no_key(self):
        r = self.anon.get("/readyz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.content_type, "application/json")
        self.assertIsInstance(r.body, dict)

    def test_health_ignores_a_bad_key(self):
        # public endpoints must not start failing because a probe sends some header
        r = self.anon.get("/healthz", headers={"Authorization": "Bearer nonsense"})
        self.assertEqual(r.status, 200, r)

    def test_listening_log_line_is_json(self):
        self.assertEqual(self.server.listening.get("msg"), "listening")
        self.assertEqual(self.server.listening.get("port"), self.port)
        for rec in self.server.log_records():
            self.assertIn("msg", rec)


class SigtermTest(unittest.TestCase):
    def test_sigterm_exits_zero(self):
        s = Server().start()
        try:
            c = s.client()
            self.assertEqual(c.get("/healthz").status, 200)
            self.assertEqual(c.get("/v1/journeys").status, 200)
            c.close()
        finally:
            code, text = s.stop(signal.SIGTERM)  # raises unless exit 0 and sanitizer-clean
        self.assertEqual(code, 0)

    def test_sigterm_with_an_idle_keepalive_connection_exits_zero(self):
        s = Server().start()
        c = s.client()
        try:
            self.assertEqual(c.get("/healthz").status, 200)  # connection stays open
        finally:
            code, _ = s.stop(signal.SIGTERM)
            c.close()
        self.assertEqual(code, 0)

    def test_sigterm_during_traffic_exits_zero(self):
        """SIGTERM while keep-alive clients keep posting: exit 0, and every acknowledged
        response survives a restart. (Five rounds: the stop races with the traffic.)"""
        problems = []
        for round_ in range(5):
            try:
                self.sigterm_during_traffic()
            except AssertionError as err:
                problems.append("round %d: %s" % (round_ + 1, err))
        self.assertFalse(problems, "\n".join(problems))

    def sigterm_during_traffic(self):
        s = Server().start()
        admin = s.client()
        r = admin.post("/v1/touchpoints", {"key": "checkout", "name": "Checkout",
                                            "journey": "purchase", "phase": "purchase"})
        self.assertEqual(r.status, 201, r)
        admin.close()
        stop = threading.Event()
        acked = []
        lock = threading.Lock()

        def traffic():
            c = s.client()
            while not stop.is_set():
                try:
                    resp = c.post("/v1/responses", {"touchpoint": "checkout", "nps": 9})
                except (OSError, http.client.HTTPException):
                    return
                if resp.status == 201:
                    with lock:
                        acked.append(resp.body["id"])
            c.close()

        threads = [threading.Thread(target=traffic, daemon=True) for _ in range(6)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acked) < 100 and time.monotonic() < deadline:
            time.sleep(0.01)
        try:
            code, _ = s.stop(signal.SIGTERM, cleanup=False)
        except AssertionError:
            s.cleanup_dir()
            raise
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        self.assertEqual(code, 0)
        self.assertGreaterEqual(len(acked), 100)
        # every acknowledged response is still there after a restart on the same database
        again = Server(tmpdir=s.tmpdir, admin_key=s.admin_key).start()
        try:
            c = again.client()
            stored = {x["id"] for x in _list_all(c, "/v1/responses")}
            self.assertEqual(set(acked) - stored, set(), "acknowledged responses were lost")
            c.close()
        finally:
            again.stop()  # removes the directory it shares with the first server


def _list_all(client, path):
    items, cursor = [], None
    while True:
        r = client.get(path, params=dict({"limit": "1000"}, **({"cursor": cursor} if cursor else {})))
        assert r.status == 200, r
        items += r.body["items"]
        cursor = r.body.get("next_cursor")
        if not cursor:
            return items


if __name__ == "__main__":
    unittest.main()
