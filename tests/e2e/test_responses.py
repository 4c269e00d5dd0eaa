"""Responses: create with every field, defaults, Idempotency-Key, read, delete, listing with
filters checked against Python, limits, and paging by cursor and by Link header."""

import threading
import time
import unittest
import urllib.parse

import model
from harness import Server, ServerTestCase, stop_pair
from model import TOUCHPOINTS
from test_touchpoints import link_next

FULL = {
    "touchpoint": "installation",
    "nps": 9,
    "csat": 4,
    "ces": 6,
    "expectation": "exceeded",
    "ratings": {"interaction": 5, "content": 4, "recovery": 3, "value": 2},
    "comment": "Fitter was on time.\nKiitos! ✓ \"quoted\" <tag>",
    "channel": "app",
    "language": "fi-FI",
    "customer": "crm-4711",
    "segment": "enterprise",
    "properties": {"order": "A-17", "amount": 149.9, "repeat": True, "coupon": None, "n": 3},
    "submitted_at": "2026-01-15T10:30:00Z",
}


class ResponsesTest(ServerTestCase):
    @classmethod
    def prepare(cls):
        for key, journey, phase in TOUCHPOINTS:
            cls.make_touchpoint(key, journey, phase)

    def test_create_with_all_fields(self):
        before = model.now_ms()
        r = self.admin.post("/v1/responses", FULL)
        after = model.now_ms()
        self.assertEqual(r.status, 201, r)
        b = r.body
        self.assertIsInstance(b["id"], int)
        self.assertEqual(r.header("Location"), "/v1/responses/%d" % b["id"])
        self.assertEqual(b["journey"], "purchase")
        self.assertEqual(b["phase"], "ownership")
        for k, v in FULL.items():
            if k == "submitted_at":
                self.assertEqual(model.parse_time(b[k]), model.parse_time(v))
            else:
                self.assertEqual(b[k], v, k)
        received = model.parse_time(b["received_at"])
        self.assertTrue(before - 1000 <= received <= after + 1000, b["received_at"])
        g = self.admin.get("/v1/responses/%d" % b["id"])
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.body, b)

    def test_submitted_at_defaults_to_receipt(self):
        before = model.now_ms()
        r = self.admin.post("/v1/responses", {"touchpoint": "checkout", "csat": 3})
        after = model.now_ms()
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.body["submitted_at"], r.body["received_at"])
        t = model.parse_time(r.body["submitted_at"])
        self.assertTrue(before - 1000 <= t <= after + 1000)
        self.assertIsNone(r.body.get("nps"))
        self.assertIsNone(r.body.get("comment"))

    def test_submitted_at_spellings(self):
        ms = model.parse_time("2026-02-03T04:05:06.789Z")
        for text in ("2026-02-03T04:05:06.789Z", "2026-02-03T06:05:06.789+02:00",
                     "2026-02-02T23:05:06.789-05:00", "2026-02-03t04:05:06.789z"):
            with self.subTest(text=text):
                r = self.admin.post("/v1/responses", {"touchpoint": "checkout", "nps": 5,
                                                      "submitted_at": text})
                self.assertEqual(r.status, 201, r)
                self.assertEqual(model.parse_time(r.body["submitted_at"]), ms)

    def test_submitted_at_is_never_silently_replaced(self):
        """A submitted_at the server accepts is stored as sent; one it cannot store is
        refused (422). It must never be swapped for the receipt time."""
        for text in ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00.001Z",
                     "1970-01-01T00:30:00+01:00", "1970-01-01T00:00:00+14:00",
                     "2000-02-29T12:00:00-12:00"):
            with self.subTest(submitted_at=text):
                r = self.admin.post("/v1/responses", {"touchpoint": "checkout", "nps": 5,
                                                      "submitted_at": text})
                if r.status == 201:
                    self.assertEqual(model.parse_time(r.body["submitted_at"]),
                                     model.parse_time(text),
                                     "stored %s for submitted_at %s" % (r.body["submitted_at"], text))
                    stored = self.admin.get("/v1/responses/%d" % r.body["id"]).body
                    self.assertEqual(stored["submitted_at"], r.body["submitted_at"])
                else:
                    self.assertProblem(r, 422, "/submitted_at")

    def test_each_metric_alone_is_enough(self):
        for body in ({"nps": 0}, {"nps": 10}, {"csat": 1}, {"csat": 5}, {"ces": 1}, {"ces": 7},
                     {"expectation": "below"}, {"expectation": "met"},
                     {"ratings": {"recovery": 1}}, {"ratings": {"value": 5}}):
            with self.subTest(body=body):
                r = self.admin.post("/v1/responses", dict(body, touchpoint="invoice"))
                self.assertEqual(r.status, 201, r)
                for k, v in body.items():
                    self.assertEqual(r.body[k], v)

    def test_idempotency_replays(self):
        body = {"touchpoint": "delivery", "nps": 6, "comment": "late"}
        key = {"Idempotency-Key": "order-981-delivery"}
        first = self.admin.post("/v1/responses", body, headers=key)
        self.assertEqual(first.status, 201, first)
        count = self.count_responses()
        for _ in range(3):
            again = self.admin.post("/v1/responses", body, headers=key)
            self.assertEqual(again.status, 201, again)
            self.assertEqual(again.body, first.body)
            self.assertEqual(again.body["id"], first.body["id"])
        # the same JSON with members reordered and other whitespace is the same request
        reordered = '{ "comment": "late",  "nps": 6, "touchpoint": "delivery" }'
        again = self.admin.post("/v1/responses", data=reordered, headers=key)
        self.assertEqual(again.status, 201, again)
        self.assertEqual(again.body["id"], first.body["id"])
        self.assertEqual(self.count_responses(), count)

    def test_idempotency_key_reused_with_other_body(self):
        key = {"Idempotency-Key": "form-42"}
        first = self.admin.post("/v1/responses", {"touchpoint": "delivery", "nps": 9},
                                headers=key)
        self.assertEqual(first.status, 201, first)
        before = self.snapshot()
        r = self.admin.post("/v1/responses", {"touchpoint": "delivery", "nps": 3}, headers=key)
        self.assertProblem(r, 422)
        self.assertEqual(self.snapshot(), before)
        # the original is untouched
        self.assertEqual(self.admin.get("/v1/responses/%d" % first.body["id"]).body["nps"], 9)

    def test_distinct_idempotency_keys_store_separately(self):
        body = {"touchpoint": "delivery", "ces": 5}
        a = self.admin.post("/v1/responses", body, headers={"Idempotency-Key": "k-a"})
        b = self.admin.post("/v1/responses", body, headers={"Idempotency-Key": "k-b"})
        c = self.admin.post("/v1/responses", body)
        self.assertEqual({a.status, b.status, c.status}, {201})
        self.assertEqual(len({a.body["id"], b.body["id"], c.body["id"]}), 3)

    def test_idempotency_under_concurrency(self):
        """Eight clients send the same keyed request at once while others post unrelated
        responses: one response is stored, every keyed request gets its id, and the
        unrelated writes all succeed."""
        body = {"touchpoint": "webinar", "nps": 10, "comment": "same request, many times"}
        count = self.count_responses()
        results, others, errors = [], [], []
        lock = threading.Lock()
        start = threading.Barrier(12)

        def keyed():
            c = self.server.client()
            try:
                start.wait(10)
                for _ in range(3):
                    r = c.post("/v1/responses", body, headers={"Idempotency-Key": "burst-1"})
                    with lock:
                        results.append(r)
            except Exception as err:
                errors.append(err)
            finally:
                c.close()

        def unrelated(i):
            c = self.server.client()
            try:
                start.wait(10)
                for j in range(10):
                    r = c.post("/v1/responses", {"touchpoint": "webinar", "csat": 1 + j % 5,
                                                 "customer": "other-%d" % i})
                    with lock:
                        others.append(r)
            except Exception as err:
                errors.append(err)
            finally:
                c.close()

        threads = [threading.Thread(target=keyed) for _ in range(8)]
        threads += [threading.Thread(target=unrelated, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertFalse(errors, errors)
        self.assertEqual(len(results), 24)
        self.assertEqual({r.status for r in results}, {201}, [r for r in results if r.status != 201][:3])
        ids = {r.body["id"] for r in results}
        self.assertEqual(len(ids), 1, "one Idempotency-Key stored %d responses" % len(ids))
        self.assertEqual({r.status for r in others}, {201}, [r for r in others if r.status != 201][:3])
        self.assertEqual(len({r.body["id"] for r in others}), 40)
        self.assertEqual(self.count_responses(), count + 1 + 40)

    def test_get_and_delete(self):
        r = self.admin.post("/v1/responses", {"touchpoint": "renewal", "expectation": "met"})
        self.assertEqual(r.status, 201, r)
        rid = r.body["id"]
        self.assertEqual(self.admin.get("/v1/responses/%d" % rid).status, 200)
        d = self.admin.delete("/v1/responses/%d" % rid)
        self.assertEqual(d.status, 204, d)
        self.assertFalse(d.raw)
        self.assertProblem(self.admin.get("/v1/responses/%d" % rid), 404)
        self.assertProblem(self.admin.delete("/v1/responses/%d" % rid), 404)
        self.assertNotIn(rid, [x["id"] for x in self.list_all("/v1/responses")])

    def test_ids_never_reused(self):
        """Deleting the newest response does not hand its id to the next one: the replay of
        its Idempotency-Key and a retried DELETE must not reach another customer's response."""
        a_body = {"touchpoint": "renewal", "nps": 10, "comment": "first, from A"}
        a = self.admin.post("/v1/responses", a_body, headers={"Idempotency-Key": "reuse-a"})
        self.assertEqual(a.status, 201, a)
        rid = a.body["id"]
        self.assertEqual(self.admin.delete("/v1/responses/%d" % rid).status, 204)
        b = self.admin.post("/v1/responses", {"touchpoint": "renewal", "nps": 0,
                                              "comment": "second, from B"},
                            headers={"Idempotency-Key": "reuse-b"})
        self.assertEqual(b.status, 201, b)
        self.assertGreater(b.body["id"], rid)
        again = self.admin.post("/v1/responses", a_body, headers={"Idempotency-Key": "reuse-a"})
        self.assertEqual(again.header("Idempotent-Replayed"), "true")
        self.assertEqual(again.body["id"], rid)
        self.assertProblem(self.admin.get("/v1/responses/%d" % rid), 404)
        self.assertProblem(self.admin.delete("/v1/responses/%d" % rid), 404)
        self.assertEqual(self.admin.get("/v1/responses/%d" % b.body["id"]).body["comment"],
                         "second, from B")

    def test_unknown_ids(self):
        for path in ("/v1/responses/999999", "/v1/responses/0", "/v1/responses/-1",
                     "/v1/responses/abc", "/v1/responses/1.5",
                     "/v1/responses/99999999999999999999999"):
            with self.subTest(path=path):
                self.assertProblem(self.admin.get(path), 404)


class IdempotencyExpiryTest(ServerTestCase):
    """With --idempotency-ttl 1 a key is replayed for a second, then forgotten: a retry after
    that stores the request again, like a new one."""

    server_args = ("--idempotency-ttl", "1")

    @classmethod
    def prepare(cls):
        cls.make_touchpoint("delivery", "purchase", "ownership")

    def test_keys_expire(self):
        body = {"touchpoint": "delivery", "nps": 8}
        key = {"Idempotency-Key": "expiring-1"}
        first = self.admin.post("/v1/responses", body, headers=key)
        self.assertEqual(first.status, 201, first)
        self.assertIsNone(first.header("Idempotent-Replayed"))
        again = self.admin.post("/v1/responses", body, headers=key)
        self.assertEqual(again.status, 201, again)
        self.assertEqual(again.header("Idempotent-Replayed"), "true")
        self.assertEqual(again.body["id"], first.body["id"])
        time.sleep(1.3)
        # the first write after expiry: the old record is not purged yet, and does not count
        late = self.admin.post("/v1/responses", dict(body, nps=2), headers=key)
        self.assertEqual(late.status, 201, late)
        self.assertIsNone(late.header("Idempotent-Replayed"))
        self.assertGreater(late.body["id"], first.body["id"])
        self.assertEqual(late.body["nps"], 2)
        # and the new record replays in its turn
        again = self.admin.post("/v1/responses", dict(body, nps=2), headers=key)
        self.assertEqual(again.header("Idempotent-Replayed"), "true")
        self.assertEqual(again.body["id"], late.body["id"])


class IdempotencyTwoServersTest(unittest.TestCase):
    """Two servers on one database (a deploy that overlaps the old and the new one): a key
    recorded by either is replayed by the other, also once records were merged into the
    on-disk index, after the newest records were purged, and after a restart (each server
    keeps recent fingerprints in memory: server/store_idem.c; found by a review helper)."""

    def test_keys_recorded_by_the_other_server_replay(self):
        a = Server(["--idempotency-memory", "5", "--idempotency-ttl", "2"]).start()
        b = None
        try:
            admin_a = a.client()
            r = admin_a.post("/v1/touchpoints", {"key": "delivery", "name": "Delivery",
                                                 "journey": "purchase", "phase": "ownership"})
            self.assertEqual(r.status, 201, r)
            b = Server(["--idempotency-memory", "5", "--idempotency-ttl", "2"],
                       admin_key=a.admin_key, tmpdir=a.tmpdir).start()
            admin_b = b.client()
            first = {}
            for round_ in range(2):
                for i in range(12):  # more than either server keeps in memory
                    key = "two-%d-%d" % (round_, i)
                    body = {"touchpoint": "delivery", "nps": i % 11}
                    one, other = (admin_a, admin_b) if i % 2 else (admin_b, admin_a)
                    r = one.post("/v1/responses", body, headers={"Idempotency-Key": key})
                    self.assertEqual(r.status, 201, r)
                    self.assertIsNone(r.header("Idempotent-Replayed"))
                    first[key] = (body, r.body["id"])
                    again = other.post("/v1/responses", body, headers={"Idempotency-Key": key})
                    self.assertEqual(again.status, 201, again)
                    self.assertEqual(again.header("Idempotent-Replayed"), "true", key)
                    self.assertEqual(again.body["id"], r.body["id"])
                for key, (body, rid) in first.items():
                    if key.startswith("two-%d-" % round_):
                        for c in (admin_a, admin_b):
                            again = c.post("/v1/responses", body,
                                           headers={"Idempotency-Key": key})
                            self.assertEqual(again.header("Idempotent-Replayed"), "true", key)
                            self.assertEqual(again.body["id"], rid)
                time.sleep(2.5)  # every record expires; the next writes purge them all
            stored = admin_a.get("/v1/responses", params={"limit": 100}).body["items"]
            self.assertEqual(len(stored), 24)
            admin_a.close()
            admin_b.close()
        finally:
            stop_pair(a, b)


class ResponseListingTest(ServerTestCase):
    """Several hundred random responses, listed with filters and paged."""

    N = 420

    @classmethod
    def prepare(cls):
        for key, journey, phase in TOUCHPOINTS:
            cls.make_touchpoint(key, journey, phase)
        rng = model.seeded("listing")
        now = model.now_ms()
        cls.rows = []
        for _ in range(cls.N):
            body, row = model.random_response(rng, TOUCHPOINTS, now=now, time_required=True)
            r = cls.admin.post("/v1/responses", body)
            if r.status != 201:
                raise AssertionError("seeding: %r for %r" % (r, body))
            row["id"] = r.body["id"]
            cls.rows.append(row)
        cls.lo = min(r["submitted_ms"] for r in cls.rows)
        cls.hi = max(r["submitted_ms"] for r in cls.rows)
        cls.tz = model.UTC

    def listed(self, params, limit=1000):
        return self.list_all("/v1/responses", params, limit=limit)

    def expect_ids(self, params):
        return [r["id"] for r in model.filter_rows(self.rows, params, self.tz)]

    def test_everything_listed_in_id_order(self):
        items = self.listed({})
        ids = [i["id"] for i in items]
        self.assertEqual(ids, sorted(r["id"] for r in self.rows))
        by_id = {r["id"]: r for r in self.rows}
        for item in items:
            row = by_id[item["id"]]
            self.assertEqual(model.parse_time(item["submitted_at"]), row["submitted_ms"])
            for f in ("touchpoint", "journey", "phase", "nps", "csat", "ces", "expectation",
                      "channel", "segment", "customer"):
                self.assertEqual(item[f], row[f], (item["id"], f))

    def test_single_filters(self):
        values = {
            "touchpoint": [t[0] for t in TOUCHPOINTS] + ["nope"],
            "phase": sorted({t[2] for t in TOUCHPOINTS}),
            "journey": ["purchase", "rean"],
            "channel": model.CHANNELS,
            "segment": model.SEGMENTS + ["nobody"],
            "customer": model.CUSTOMERS,
        }
        for name, vals in values.items():
            for v in vals:
                with self.subTest(filter=name, value=v):
                    got = [i["id"] for i in self.listed({name: v})]
                    self.assertEqual(got, self.expect_ids({name: v}))

    def test_time_filters(self):
        rng = model.seeded("listing-ranges")
        for i in range(25):
            params = model.random_range(rng, self.lo - model.DAY_MS, self.hi + model.DAY_MS, self.tz)
            with self.subTest(params=params):
                got = [x["id"] for x in self.listed(params)]
                self.assertEqual(got, self.expect_ids(params))

    def test_from_inclusive_to_exclusive(self):
        row = self.rows[len(self.rows) // 2]
        at = model.format_time(row["submitted_ms"], "ms")
        got = [x["id"] for x in self.listed({"from": at})]
        self.assertIn(row["id"], got)
        got = [x["id"] for x in self.listed({"to": at})]
        self.assertNotIn(row["id"], got)
        self.assertEqual(got, self.expect_ids({"to": at}))
        nxt = model.format_time(row["submitted_ms"] + 1, "ms")
        got = [x["id"] for x in self.listed({"from": at, "to": nxt})]
        self.assertEqual(got, self.expect_ids({"from": at, "to": nxt}))
        self.assertIn(row["id"], got)

    def test_combined_filters(self):
        rng = model.seeded("listing-combos")
        for i in range(30):
            params = {}
            if rng.random() < 0.5:
                params["journey"] = rng.choice(["purchase", "rean"])
            if rng.random() < 0.3:
                params["phase"] = rng.choice([t[2] for t in TOUCHPOINTS])
            if rng.random() < 0.3:
                params["touchpoint"] = rng.choice(TOUCHPOINTS)[0]
            if rng.random() < 0.5:
                params["channel"] = rng.choice(model.CHANNELS)
            if rng.random() < 0.5:
                params["segment"] = rng.choice(model.SEGMENTS)
            if rng.random() < 0.3:
                params["customer"] = rng.choice(model.CUSTOMERS)
            if rng.random() < 0.6:
                params.update(model.random_range(rng, self.lo, self.hi, self.tz))
            with self.subTest(params=params):
                got = [x["id"] for x in self.listed(params)]
                self.assertEqual(got, self.expect_ids(params))

    def test_limits(self):
        r = self.admin.get("/v1/responses")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.body["items"]), 100)
        self.assertTrue(r.body.get("next_cursor"))
        r = self.admin.get("/v1/responses", params={"limit": "1000"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.body["items"]), self.N)
        self.assertIsNone(r.body.get("next_cursor"))
        self.assertIsNone(link_next(r))
        r = self.admin.get("/v1/responses", params={"limit": "1"})
        self.assertEqual(len(r.body["items"]), 1)
        for bad in ("1001", "0", "-1", "abc", "", "10.5", "1e3"):
            with self.subTest(limit=bad):
                self.assertProblem(self.admin.get("/v1/responses", params={"limit": bad}), 400)

    def test_bad_filters(self):
        for params in ({"cursor": "not-a-cursor"}, {"from": "yesterday"},
                       {"to": "2026-13-01"}, {"channel": "pigeon"},
                       {"from": "2026-05-02", "to": "2026-05-01"}, {"journey": "UPPER"},
                       {"sort": "id"}):
            with self.subTest(params=params):
                self.assertProblem(self.admin.get("/v1/responses", params=params), 400)

    def page_by_cursor(self, params, limit):
        ids, cursor = [], None
        for _ in range(1000):
            p = dict(params, limit=str(limit))
            if cursor:
                p["cursor"] = cursor
            r = self.admin.get("/v1/responses", params=p)
            self.assertEqual(r.status, 200, r)
            self.assertLessEqual(len(r.body["items"]), limit)
            ids += [x["id"] for x in r.body["items"]]
            cursor = r.body.get("next_cursor")
            if not cursor:
                self.assertIsNone(link_next(r), "the last page must not link further")
                return ids
            self.assertEqual(len(r.body["items"]), limit, "a page short of the limit with a cursor")
        self.fail("paging did not end")

    def page_by_link(self, params, limit):
        ids = []
        url = "/v1/responses?" + urllib.parse.urlencode(dict(params, limit=str(limit)),
                                                        quote_via=urllib.parse.quote)
        for _ in range(1000):
            r = self.admin.get(url)
            self.assertEqual(r.status, 200, r)
            ids += [x["id"] for x in r.body["items"]]
            nxt = link_next(r)
            if not nxt:
                self.assertIsNone(r.body.get("next_cursor"))
                return ids
            u = urllib.parse.urlsplit(nxt)
            self.assertEqual(u.scheme, "http", nxt)
            self.assertEqual(u.netloc, "127.0.0.1:%d" % self.port, nxt)
            self.assertEqual(u.path, "/v1/responses", nxt)
            q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
            self.assertEqual(q.get("limit"), [str(limit)], nxt)
            for k, v in params.items():
                self.assertEqual(q.get(k), [v], "Link lost filter %s: %s" % (k, nxt))
            url = u.path + "?" + u.query
        self.fail("paging did not end")

    def test_paging_by_cursor(self):
        ids = self.page_by_cursor({}, 37)
        self.assertEqual(len(ids), len(set(ids)), "a response appeared twice")
        self.assertEqual(ids, sorted(r["id"] for r in self.rows))

    def test_paging_by_link(self):
        ids = self.page_by_link({}, 37)
        self.assertEqual(len(ids), len(set(ids)), "a response appeared twice")
        self.assertEqual(ids, sorted(r["id"] for r in self.rows))

    def test_paging_with_filters(self):
        rng = model.seeded("listing-paging")
        cases = [{"customer": "Müller & Söhne/42"}, {"customer": "a+b=c?d"},
                 {"segment": "public sector"}, {"journey": "purchase", "channel": "web"}]
        cases.append(dict(model.random_range(rng, self.lo, self.hi, self.tz), journey="rean"))
        cases.append({"from": model.format_time(self.lo + 1234567, "offset", 330)})
        for params in cases:
            want = self.expect_ids(params)
            with self.subTest(params=params, how="cursor"):
                self.assertEqual(self.page_by_cursor(params, 7), want)
            with self.subTest(params=params, how="link"):
                self.assertEqual(self.page_by_link(params, 7), want)

    def test_paging_sees_new_responses_once(self):
        """Keyset paging: a response added while paging shows up once, at the end."""
        first = self.admin.get("/v1/responses", params={"limit": "50"})
        added = self.admin.post("/v1/responses", {"touchpoint": "checkout", "nps": 1,
                                                  "customer": "late-comer"})
        self.assertEqual(added.status, 201, added)
        try:
            ids = [x["id"] for x in first.body["items"]]
            cursor = first.body["next_cursor"]
            while cursor:
                r = self.admin.get("/v1/responses", params={"limit": "50", "cursor": cursor})
                ids += [x["id"] for x in r.body["items"]]
                cursor = r.body.get("next_cursor")
            self.assertEqual(len(ids), len(set(ids)))
            self.assertEqual(ids[-1], added.body["id"])
            self.assertEqual(ids, sorted(ids))
        finally:
            self.admin.delete("/v1/responses/%d" % added.body["id"])


if __name__ == "__main__":
    unittest.main()
