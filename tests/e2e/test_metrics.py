"""GET /v1/metrics against values computed independently in Python (DESIGN section 3).

Several hundred random responses (random subsets of fields, random times over ~90 days,
random channel and segment, touchpoints in phases of both seeded journeys) are posted through
a submit key and the admin key; every grouping, combination, filter and random time range is
then compared group by group with the model in model.py.
"""

import datetime as dt
import re
import unittest

import model
from harness import ServerTestCase
from model import TOUCHPOINTS

COMBOS = [("touchpoint", "month"), ("phase", "week"), ("channel", "segment")]
KEY_SHAPES = {
    "day": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "week": re.compile(r"^\d{4}-W\d{2}$"),
    "month": re.compile(r"^\d{4}-\d{2}$"),
}


class MetricsCheck:
    """Mixin: fetch /v1/metrics and compare it with the model."""

    tz_name = "UTC"

    def fetch(self, params):
        r = self.reader.get("/v1/metrics", params=params)
        self.assertEqual(r.status, 200, "%s: %r" % (params, r))
        self.assertIsInstance(r.body.get("groups"), list, r)
        self.assertIsInstance(r.body.get("total"), dict, r)
        return r.body

    def check(self, params, dims=None):
        """Compares one metrics request with the model; returns the served body."""
        if dims is None:
            dims = params["group_by"].split(",") if params.get("group_by") else []
        tz = model.tzinfo(self.tz_name)
        body = self.fetch(params)
        rows = model.filter_rows(self.rows, params, tz)
        want = model.expected_metrics(rows, dims, tz)
        problems = model.diff_blocks(body["total"], want["total"], "total")
        served = {}
        for g in body["groups"]:
            c = model.canon(g.get("key"))
            if c in served:
                problems.append("group %s appears twice" % c)
            served[c] = g
        missing = sorted(set(want["groups"]) - set(served))
        extra = sorted(set(served) - set(want["groups"]))
        if missing:
            problems.append("missing groups: %s" % missing[:10])
        if extra:
            problems.append("unexpected groups: %s" % extra[:10])
        for c, (key, blocks) in sorted(want["groups"].items()):
            if c in served:
                problems += model.diff_blocks(served[c], blocks, c)
        if not dims:
            self.assertEqual(body["groups"], [], params)
        self.assertFalse(problems, "%s:\n  %s" % (params, "\n  ".join(problems[:25])))
        self.assertEqual(body["total"]["n"], len(rows))
        return body


class MetricsTest(MetricsCheck, ServerTestCase):
    N = 640

    @classmethod
    def prepare(cls):
        for key, journey, phase in TOUCHPOINTS:
            cls.make_touchpoint(key, journey, phase)
        cls.make_touchpoint("only-nps", "rean", "engage")
        cls.submit = cls.client_for("submit")
        cls.reader = cls.client_for("read")
        rng = model.seeded("metrics")
        now = model.now_ms()
        cls.rows = []
        before = model.now_ms()
        for i in range(cls.N):
            body, row = model.random_response(rng, TOUCHPOINTS, now=now)
            client = cls.submit if i % 2 else cls.admin
            r = client.post("/v1/responses", body)
            if r.status != 201:
                raise AssertionError("seeding through %s: %r for %r"
                                     % ("submit" if i % 2 else "admin", r, body))
            if row["submitted_ms"] is None:
                row["submitted_ms"] = model.parse_time(r.body["received_at"])
                assert before - 1000 <= row["submitted_ms"] <= model.now_ms() + 1000
            row["id"] = r.body["id"]
            cls.rows.append(row)
        # a touchpoint with a single NPS answer: every other metric empty, no margin of error
        r = cls.admin.post("/v1/responses", {"touchpoint": "only-nps", "nps": 10,
                                             "submitted_at": model.format_time(now - 3600_000)})
        assert r.status == 201, r
        row = model.model_row({"touchpoint": "only-nps", "nps": 10}, "rean", "engage")
        row["submitted_ms"] = model.parse_time(r.body["submitted_at"])
        row["id"] = r.body["id"]
        cls.rows.append(row)
        cls.lo = min(r["submitted_ms"] for r in cls.rows)
        cls.hi = max(r["submitted_ms"] for r in cls.rows)

    @classmethod
    def tearDownClass(cls):
        for name in ("submit", "reader"):
            if hasattr(cls, name):
                getattr(cls, name).close()
        super().tearDownClass()

    def test_dataset_is_stored(self):
        self.assertEqual(self.count_responses(), len(self.rows))

    def test_total_without_grouping(self):
        body = self.check({})
        self.assertEqual(body["total"]["n"], len(self.rows))

    def test_group_by_each_dimension(self):
        for dim in model.DIMS:
            with self.subTest(group_by=dim):
                body = self.check({"group_by": dim})
                self.assertGreater(len(body["groups"]), 1)

    def test_group_by_combinations(self):
        for combo in COMBOS:
            with self.subTest(group_by=combo):
                self.check({"group_by": ",".join(combo)})

    def test_group_key_shapes(self):
        body = self.fetch({"group_by": "touchpoint,month"})
        self.assertTrue(body["groups"])
        for g in body["groups"]:
            self.assertEqual(set(g["key"]), {"touchpoint", "month"}, g["key"])
            self.assertRegex(g["key"]["month"], KEY_SHAPES["month"])
            self.assertIn("n", g)
            for block in ("nps", "csat", "ces", "expectation", "ratings"):
                self.assertIn(block, g)
        for dim in ("day", "week", "month"):
            with self.subTest(dim=dim):
                for g in self.fetch({"group_by": dim})["groups"]:
                    self.assertEqual(set(g["key"]), {dim})
                    self.assertRegex(g["key"][dim], KEY_SHAPES[dim])
        for g in self.fetch({"group_by": "phase"})["groups"]:
            self.assertEqual(set(g["key"]), {"phase", "journey"}, g["key"])
        for g in self.fetch({"group_by": "phase,week"})["groups"]:
            self.assertEqual(set(g["key"]), {"phase", "journey", "week"}, g["key"])
        for g in self.fetch({"group_by": "journey"})["groups"]:
            self.assertEqual(set(g["key"]), {"journey"})
        for g in self.fetch({"group_by": "channel,segment"})["groups"]:
            self.assertEqual(set(g["key"]), {"channel", "segment"})

    def test_single_response_group(self):
        body = self.fetch({"touchpoint": "only-nps"})
        t = body["total"]
        self.assertEqual(t["n"], 1)
        self.assertEqual(t["nps"]["n"], 1)
        self.assertEqual(t["nps"]["score"], 100.0)
        self.assertIsNone(t["nps"].get("moe95"))
        for block, score in (("csat", "score"), ("csat", "mean"), ("ces", "mean"),
                             ("ces", "easy"), ("expectation", "index")):
            self.assertEqual(t[block]["n"], 0, block)
            self.assertIsNone(t[block][score], "%s.%s of an empty metric" % (block, score))
        for area in model.AREAS:
            self.assertEqual(t["ratings"][area], {"mean": None, "n": 0})

    def test_empty_selection(self):
        for params in ({"from": "2001-01-01", "to": "2001-02-01"},
                       {"touchpoint": "nope"}, {"segment": "nobody"},
                       {"from": "2001-01-01", "to": "2001-02-01", "group_by": "touchpoint"}):
            with self.subTest(params=params):
                body = self.check(params)
                self.assertEqual(body["groups"], [])
                t = body["total"]
                self.assertEqual(t["n"], 0)
                self.assertEqual(t["nps"]["n"], 0)
                self.assertIsNone(t["nps"]["score"])
                self.assertIsNone(t["nps"].get("moe95"))
                self.assertIsNone(t["csat"]["score"])
                self.assertIsNone(t["ces"]["mean"])
                self.assertIsNone(t["expectation"]["index"])

    def test_filters(self):
        filters = [{"journey": "purchase"}, {"journey": "rean"}, {"phase": "ownership"},
                   {"phase": "engage"}, {"touchpoint": "installation"},
                   {"touchpoint": "complaint-handling"}, {"channel": "web"},
                   {"channel": "store"}, {"segment": "enterprise"},
                   {"segment": "public sector"}, {"journey": "purchase", "channel": "app"},
                   {"phase": "ownership", "segment": "smb"}]
        groupings = [None] + model.DIMS + [",".join(c) for c in COMBOS]
        for f in filters:
            for g in groupings:
                params = dict(f)
                if g:
                    params["group_by"] = g
                with self.subTest(params=params):
                    self.check(params)

    def test_random_ranges(self):
        rng = model.seeded("metrics-ranges")
        tz = model.tzinfo(self.tz_name)
        groupings = [None] + model.DIMS + [",".join(c) for c in COMBOS]
        for i in range(60):
            params = model.random_range(rng, self.lo - model.DAY_MS, self.hi + model.DAY_MS, tz)
            g = groupings[i % len(groupings)]
            if g:
                params["group_by"] = g
            if rng.random() < 0.4:
                k, v = rng.choice([("journey", "purchase"), ("journey", "rean"),
                                   ("channel", rng.choice(model.CHANNELS)),
                                   ("segment", rng.choice(model.SEGMENTS)),
                                   ("touchpoint", rng.choice(TOUCHPOINTS)[0]),
                                   ("phase", rng.choice(TOUCHPOINTS)[2])])
                params[k] = v
            with self.subTest(params=params):
                self.check(params)

    def test_range_edges_exact(self):
        """from is inclusive and to exclusive, to the millisecond."""
        rows = sorted(self.rows, key=lambda r: r["submitted_ms"])
        for row in rows[::97]:
            t = row["submitted_ms"]
            for params in ({"from": model.format_time(t, "ms")},
                           {"to": model.format_time(t, "ms")},
                           {"from": model.format_time(t, "ms"),
                            "to": model.format_time(t + 1, "ms")},
                           {"from": model.format_time(t - 1, "ms"),
                            "to": model.format_time(t, "ms"), "group_by": "day"}):
                with self.subTest(params=params):
                    self.check(params)

    def test_invalid_group_by(self):
        for value in ("colour", "touchpoint,colour", "touchpoint,month,channel",
                      "journey,phase,day", "touchpoint,touchpoint", "month,month",
                      "", ",", "touchpoint,", ",month", "touchpoint,,month", "TOUCHPOINT",
                      "touchpoint month", "day;week"):
            with self.subTest(group_by=value):
                self.assertProblem(self.reader.get("/v1/metrics", params={"group_by": value}),
                                   400)

    def test_invalid_filters(self):
        for params in ({"from": "last week"}, {"to": "2026-02-30"},
                       {"from": "2026-05-02", "to": "2026-05-01"},
                       {"from": "2026-05-01T00:00:00", "to": "2026-06-01"},  # no offset
                       {"channel": "pigeon"}, {"journey": "No"}, {"limit": "10"},
                       {"customer": "cust-001"}, {"bucket": "day"}):
            with self.subTest(params=params):
                self.assertProblem(self.reader.get("/v1/metrics", params=params), 400)


class MetricsTimeZoneTest(MetricsCheck, ServerTestCase):
    """Calendar buckets and date bounds in the reporting time zone."""

    tz_name = "America/New_York"
    server_env = {"POLKU_TZ": "America/New_York"}

    @classmethod
    def prepare(cls):
        cls.reader = cls.admin
        for key, journey, phase in TOUCHPOINTS:
            cls.make_touchpoint(key, journey, phase)
        tz = model.tzinfo(cls.tz_name)
        today = dt.datetime.now(tz).date()
        # a Monday at least five weeks back, and the first of a month at least 40 days back
        monday = today - dt.timedelta(days=35 + today.weekday())
        first = (today - dt.timedelta(days=40)).replace(day=1)
        cls.monday = monday
        cls.first = first
        cls.marks = {}
        rows = []

        def post(name, ms, body):
            body = dict(body, submitted_at=model.format_time(ms))
            r = cls.admin.post("/v1/responses", body)
            assert r.status == 201, r
            row = model.model_row(body, *cls.tp_place(body["touchpoint"]))
            row["submitted_ms"] = ms
            row["id"] = r.body["id"]
            rows.append(row)
            cls.marks[name] = row

        utc_midnight = model.ms_of(dt.datetime(monday.year, monday.month, monday.day,
                                               tzinfo=model.UTC))
        local_midnight = model.local_midnight_ms(monday, tz)
        month_utc = model.ms_of(dt.datetime(first.year, first.month, 1, tzinfo=model.UTC))
        # 01:30 UTC on Monday is still Sunday evening in New York
        post("utc_monday_0130", utc_midnight + 90 * 60_000,
             {"touchpoint": "checkout", "nps": 10, "channel": "web"})
        # five minutes either side of local midnight
        post("local_before", local_midnight - 5 * 60_000,
             {"touchpoint": "checkout", "nps": 0, "channel": "web"})
        post("local_after", local_midnight + 5 * 60_000,
             {"touchpoint": "checkout", "nps": 9, "channel": "store"})
        # 02:00 UTC on the first of a month is still the previous month in New York
        post("utc_first_0200", month_utc + 2 * 3600_000,
             {"touchpoint": "delivery", "csat": 5, "channel": "app"})
        rng = model.seeded("metrics-tz")
        now = model.now_ms()
        for _ in range(150):
            body, row = model.random_response(rng, TOUCHPOINTS, now=now, time_required=True)
            r = cls.admin.post("/v1/responses", body)
            assert r.status == 201, (r, body)
            row["id"] = r.body["id"]
            rows.append(row)
        cls.rows = rows
        cls.lo = min(r["submitted_ms"] for r in rows)
        cls.hi = max(r["submitted_ms"] for r in rows)

    @classmethod
    def tp_place(cls, key):
        for k, j, p in TOUCHPOINTS:
            if k == key:
                return j, p
        raise KeyError(key)

    def day_of(self, name, dim="day"):
        ids = {self.marks[name]["id"]}
        r = self.admin.get("/v1/responses/%d" % self.marks[name]["id"])
        self.assertEqual(r.status, 200)
        t = self.marks[name]["submitted_ms"]
        # ask for exactly that instant, grouped
        body = self.fetch({"from": model.format_time(t, "ms"),
                           "to": model.format_time(t + 1, "ms"), "group_by": dim})
        self.assertEqual(len(body["groups"]), 1, (name, body["groups"], ids))
        return body["groups"][0]["key"][dim]

    def test_time_zone_is_reported(self):
        body = self.fetch({})
        if "time_zone" in body:
            self.assertEqual(body["time_zone"], "America/New_York")

    def test_day_near_utc_midnight_is_local(self):
        sunday = (self.monday - dt.timedelta(days=1)).isoformat()
        self.assertEqual(self.day_of("utc_monday_0130"), sunday)
        self.assertEqual(self.day_of("local_before"), sunday)
        self.assertEqual(self.day_of("local_after"), self.monday.isoformat())

    def test_week_near_midnight_is_local(self):
        y, w, _ = (self.monday - dt.timedelta(days=1)).isocalendar()
        prev_week = "%04d-W%02d" % (y, w)
        y, w, _ = self.monday.isocalendar()
        this_week = "%04d-W%02d" % (y, w)
        self.assertNotEqual(prev_week, this_week)
        self.assertEqual(self.day_of("utc_monday_0130", "week"), prev_week)
        self.assertEqual(self.day_of("local_before", "week"), prev_week)
        self.assertEqual(self.day_of("local_after", "week"), this_week)

    def test_month_near_utc_midnight_is_local(self):
        prev = (self.first - dt.timedelta(days=1)).strftime("%Y-%m")
        self.assertEqual(self.day_of("utc_first_0200", "month"), prev)

    def test_date_bounds_are_local_midnight(self):
        day = self.monday.isoformat()
        nxt = (self.monday + dt.timedelta(days=1)).isoformat()
        ids = {g["id"] for g in self.list_all("/v1/responses", {"from": day, "to": nxt})}
        self.assertIn(self.marks["local_after"]["id"], ids)
        self.assertNotIn(self.marks["local_before"]["id"], ids)
        self.assertNotIn(self.marks["utc_monday_0130"]["id"], ids)
        self.check({"from": day, "to": nxt, "group_by": "day"})
        body = self.check({"from": day, "to": nxt, "group_by": "touchpoint"})
        self.assertGreaterEqual(body["total"]["n"], 1)

    def test_groupings_match_model(self):
        for g in model.DIMS + [",".join(c) for c in COMBOS]:
            with self.subTest(group_by=g):
                self.check({"group_by": g})

    def test_random_ranges(self):
        rng = model.seeded("metrics-tz-ranges")
        tz = model.tzinfo(self.tz_name)
        for i in range(24):
            params = model.random_range(rng, self.lo - model.DAY_MS, self.hi + model.DAY_MS, tz)
            params["group_by"] = rng.choice(["day", "week", "month", "touchpoint,month",
                                             "phase,week"])
            with self.subTest(params=params):
                self.check(params)


if __name__ == "__main__":
    unittest.main()
