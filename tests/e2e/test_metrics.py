"""GET /v1/metrics against values computed independently in Python (DESIGN section 3).

Several hundred random responses (random subsets of fields, random times over ~90 days,
random channel and segment, touchpoints in phases of both seeded journeys) are posted through
a submit key and the admin key; every grouping, combination, filter and random time range is
then compared group by group with the model in model.py.
"""

import datetime as dt
import re
import threading
import unittest

import model
from harness import Server, ServerTestCase
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

    def check_random_ranges(self, seed, count, groupings):
        """count random ranges from a day before the data to a day after, each grouped by
        one of groupings."""
        rng = model.seeded(seed)
        tz = model.tzinfo(self.tz_name)
        for _ in range(count):
            params = model.random_range(rng, self.lo - model.DAY_MS, self.hi + model.DAY_MS, tz)
            params["group_by"] = rng.choice(groupings)
            with self.subTest(params=params):
                self.check(params)

    def check_parts_of_days(self, days):
        """Ranges that start or end inside the given local days. Such a part is read as raw
        rows, or, when it is more than half of its day, as the day's rollup less the rest of
        the day: groups seen only in the rest must not show, and the counts are the part's."""
        tz = model.tzinfo(self.tz_name)
        for d in days:
            start = model.local_midnight_ms(d, tz)
            end = model.local_midnight_ms(d + dt.timedelta(days=1), tz)
            span = end - start
            for a, b in ((start + 1, end), (start + span * 6 // 10, end),
                         (start + 1, start + span * 9 // 10),
                         (start + span // 10, start + span * 3 // 10),
                         (start + span // 2, end + span // 3),
                         (start - span // 3, start + span * 9 // 10),
                         (start + span // 2, start + span)):
                for extra in ({"group_by": "channel"}, {"group_by": "segment,day"},
                              {"group_by": "touchpoint"}, {"group_by": "phase,week"},
                              {"group_by": "month"}, {"group_by": "channel,day"},
                              {"group_by": "segment", "channel": "web"}):
                    params = dict(extra, **{"from": model.format_time(a, "ms"),
                                            "to": model.format_time(b, "ms")})
                    with self.subTest(params=params):
                        self.check(params)
                # fill: its templates are the channels present, never one seen only in the
                # rest of the day
                params = {"group_by": "channel,day", "fill": "true",
                          "from": model.format_time(a, "ms"), "to": model.format_time(b, "ms")}
                with self.subTest(params=params):
                    want = {r["channel"] for r in model.filter_rows(self.rows, params, tz)}
                    groups = self.fetch(params)["groups"]
                    self.assertEqual({g["key"]["channel"] for g in groups}, want, params)
                    first = model.utc_of(a).astimezone(tz).date()
                    last = model.utc_of(b - 1).astimezone(tz).date()
                    days = (last - first).days + 1
                    self.assertEqual(len(groups), len(want) * days, params)
            for params in ({"from": model.format_time(start + span // 5, "ms"),
                            "group_by": "channel"},
                           {"to": model.format_time(start + span * 4 // 5, "ms"),
                            "group_by": "channel"}):
                with self.subTest(params=params):
                    self.check(params)


class MetricsTest(MetricsCheck, ServerTestCase):
    N = 640
    # the seeded touchpoints plus one in an operator's journey whose phase key "engage"
    # collides with a phase of the seeded rean journey
    PLACES = TOUCHPOINTS + [("support-chat", "support", "engage")]

    @classmethod
    def prepare(cls):
        r = cls.admin.post("/v1/journeys", {"key": "support", "name": "Support", "phases": [
            {"key": "contact", "name": "Contact"}, {"key": "engage", "name": "Engage"}]})
        assert r.status == 201, r
        for key, journey, phase in cls.PLACES:
            cls.make_touchpoint(key, journey, phase)
        cls.make_touchpoint("only-nps", "rean", "engage")
        submit_key = cls.make_key("submit")["key"]
        cls.reader = cls.client_for("read")
        rng = model.seeded("metrics")
        now = model.now_ms()
        work = [model.random_response(rng, cls.PLACES, now=now) for _ in range(cls.N)]
        # four keep-alive clients at once, two with a submit key and two with the admin key
        lanes = [(cls.server.client(submit_key if lane % 2 else cls.server.admin_key),
                  work[lane::4]) for lane in range(4)]
        failures = []
        before = model.now_ms()

        def post_all(client, items):
            try:
                for body, row in items:
                    resp = client.post("/v1/responses", body)
                    if resp.status != 201:
                        failures.append((resp, body))
                        return
                    if row["submitted_ms"] is None:
                        # no submitted_at sent: it is the time of receipt
                        row["submitted_ms"] = model.parse_time(resp.body["submitted_at"])
                        if resp.body["submitted_at"] != resp.body["received_at"] or not (
                                before - 1000 <= row["submitted_ms"] <= model.now_ms() + 1000):
                            failures.append(("submitted_at is not the receipt time", resp))
                    elif model.parse_time(resp.body["submitted_at"]) != row["submitted_ms"]:
                        failures.append(("submitted_at changed", body, resp))
                    row["id"] = resp.body["id"]
            except Exception as err:  # reported below
                failures.append((err, None))
            finally:
                client.close()

        threads = [threading.Thread(target=post_all, args=lane) for lane in lanes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failures:
            raise AssertionError("seeding: %r" % (failures[:3],))
        cls.rows = [row for _, row in work]
        assert any("submitted_at" not in body for body, _ in work), "some times are left out"
        assert len({r["id"] for r in cls.rows}) == cls.N
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
        for name in ("reader",):
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
        engage = []
        for g in self.fetch({"group_by": "phase"})["groups"]:
            self.assertEqual(set(g["key"]), {"phase", "journey"}, g["key"])
            if g["key"]["phase"] == "engage":
                engage.append(g["key"]["journey"])
        self.assertEqual(sorted(engage), ["rean", "support"],
                         "a phase key shared by two journeys must make two groups")
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
                   {"phase": "engage"}, {"journey": "rean", "phase": "engage"}, {"touchpoint": "installation"},
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
                                   ("journey", "support"), ("phase", "engage"),
                                   ("channel", rng.choice(model.CHANNELS)),
                                   ("segment", rng.choice(model.SEGMENTS)),
                                   ("touchpoint", rng.choice(TOUCHPOINTS)[0]),
                                   ("phase", rng.choice(TOUCHPOINTS)[2])])
                params[k] = v
            with self.subTest(params=params):
                self.check(params)

    def test_extreme_ranges(self):
        for params in ({"from": "1970-01-01"}, {"to": "9999-12-31"},
                       {"from": "1970-01-01", "to": "9999-12-31", "group_by": "month"},
                       {"from": "1970-01-01T00:00:00+14:00", "group_by": "week"},
                       {"to": "9999-12-31T23:59:59.999-12:00", "group_by": "day"},
                       {"from": "2000-02-29", "to": "2100-03-01", "group_by": "touchpoint"}):
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

    def test_parts_of_days(self):
        tz = model.tzinfo(self.tz_name)
        days = sorted({model.utc_of(r["submitted_ms"]).astimezone(tz).date() for r in self.rows})
        self.check_parts_of_days(days[::9])

    def test_zz_metrics_follow_writes(self):
        """Deleting responses and moving a touchpoint to another phase show in the metrics at
        once (runs last: it changes the data set, and the model with it)."""
        rng = model.seeded("metrics-writes")
        doomed = rng.sample([r for r in self.rows if r["touchpoint"] != "only-nps"], 25)
        for row in doomed:
            r = self.admin.delete("/v1/responses/%d" % row["id"])
            self.assertEqual(r.status, 204, r)
        gone = {r["id"] for r in doomed}
        type(self).rows = [r for r in self.rows if r["id"] not in gone]
        r = self.admin.patch("/v1/touchpoints/invoice", {"phase": "aftercare"})
        self.assertEqual(r.status, 200, r)
        for row in self.rows:
            if row["touchpoint"] == "invoice":
                row["phase"] = "aftercare"
        tz = model.tzinfo(self.tz_name)
        checks = [{}, {"group_by": "phase"}, {"group_by": "phase,week"},
                  {"phase": "aftercare", "group_by": "touchpoint"},
                  {"phase": "ownership", "group_by": "month"}, {"group_by": "day"},
                  {"group_by": "touchpoint,month"}]
        for i in range(12):
            params = model.random_range(rng, self.lo, self.hi, tz)
            params["group_by"] = rng.choice(["phase", "day", "touchpoint,month", "phase,week"])
            checks.append(params)
        for params in checks:
            with self.subTest(params=params):
                self.check(params)
        self.assertEqual(self.count_responses(), len(self.rows))

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
                       {"channel": "pigeon"}, {"journey": "No"}, {"bucket": "day"}):
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
        # around the last two daylight saving changes: local days of 23 and 25 hours
        cls.dst_days = model.offset_changes(tz, today)[:2]
        for d in cls.dst_days:
            start = model.local_midnight_ms(d, tz)
            end = model.local_midnight_ms(d + dt.timedelta(days=1), tz)
            for i, at in enumerate([start - 60_000, start, start + 90 * 60_000,
                                    start + 150 * 60_000, start + 5 * 3600_000,
                                    end - 60_000, end, end + 60_000]):
                post("dst-%s-%d" % (d, i), at, {"touchpoint": "renewal", "ces": 1 + i % 7,
                                                 "segment": "dst"})
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

    def test_parts_of_days_of_23_and_25_hours(self):
        self.check_parts_of_days(list(self.dst_days) + [self.monday])

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

    def test_daylight_saving_days(self):
        self.assertTrue(self.dst_days, "no daylight saving change found in the last 400 days")
        tz = model.tzinfo(self.tz_name)
        for d in self.dst_days:
            hours = (model.local_midnight_ms(d + dt.timedelta(days=1), tz)
                     - model.local_midnight_ms(d, tz)) / 3600_000
            self.assertIn(hours, (23, 25))
            for params in ({"from": d.isoformat(),
                            "to": (d + dt.timedelta(days=1)).isoformat(), "group_by": "day"},
                           {"from": (d - dt.timedelta(days=1)).isoformat(),
                            "to": (d + dt.timedelta(days=2)).isoformat(),
                            "group_by": "day"},
                           {"from": (d - dt.timedelta(days=3)).isoformat(),
                            "to": (d + dt.timedelta(days=3)).isoformat(),
                            "touchpoint": "renewal", "group_by": "week"},
                           {"from": d.replace(day=1).isoformat(), "group_by": "day"},
                           {"from": d.replace(day=1).isoformat(), "group_by": "month"},
                           {"to": (d + dt.timedelta(days=1)).isoformat(),
                            "group_by": "touchpoint,month"}):
                with self.subTest(params=params):
                    body = self.check(params)
            # the day itself holds exactly the marks posted inside it
            body = self.fetch({"from": d.isoformat(), "to": (d + dt.timedelta(days=1)).isoformat(),
                               "touchpoint": "renewal", "segment": "dst"})
            self.assertEqual(body["total"]["n"], 5, d)

    def test_groupings_match_model(self):
        for g in model.DIMS + [",".join(c) for c in COMBOS]:
            with self.subTest(group_by=g):
                self.check({"group_by": g})

    def test_random_ranges(self):
        self.check_random_ranges("metrics-tz-ranges", 24, ["day", "week", "month",
                                                           "touchpoint,month", "phase,week"])


class MetricsInTimeOrderTest(MetricsCheck, ServerTestCase):
    """Responses that arrive nearly in time order, as live ones do: a part of a day then stops
    reading where no row of the part can follow (migration 12). A tenth arrive up to three
    hours late, some within a batch and some in later requests; the zone's days (+05:30) span
    two UTC days of the index. Everything must equal the model as before."""

    tz_name = "Asia/Kolkata"
    server_env = {"POLKU_TZ": "Asia/Kolkata"}

    @classmethod
    def prepare(cls):
        cls.reader = cls.admin
        for key, journey, phase in TOUCHPOINTS:
            cls.make_touchpoint(key, journey, phase)
        rng = model.seeded("metrics-in-order")
        now = model.now_ms()
        start = now - 4 * model.DAY_MS
        times = sorted(start + rng.randrange(3 * model.DAY_MS) for _ in range(900))
        for i in range(0, len(times), 10):
            times[i] -= rng.randrange(3 * 3600_000)
        work = []
        for at in times:
            body, row = model.random_response(rng, TOUCHPOINTS, now=now)
            body["submitted_at"] = model.format_time(at, "ms")
            row["submitted_ms"] = at
            work.append((body, row))
        # batches of 30, and every fifth item also as a request of its own
        singles = []
        for k in range(0, len(work), 30):
            chunk = [w for i, w in enumerate(work[k:k + 30]) if (k + i) % 5]
            singles += [w for i, w in enumerate(work[k:k + 30]) if (k + i) % 5 == 0]
            r = cls.admin.post("/v1/responses/batch", {"items": [b for b, _ in chunk]})
            assert r.status == 201, r
            for (_, row), item in zip(chunk, r.body["items"]):
                row["id"] = item["id"]
            for body, row in singles:
                r = cls.admin.post("/v1/responses", body)
                assert r.status == 201, r
                row["id"] = r.body["id"]
            singles = []
        cls.rows = [row for _, row in work]
        cls.lo = min(times)
        cls.hi = max(times)

    def test_parts_of_days(self):
        tz = model.tzinfo(self.tz_name)
        first = model.utc_of(self.lo).astimezone(tz).date()
        self.check_parts_of_days([first + dt.timedelta(days=k) for k in range(4)])

    def test_random_ranges(self):
        self.check_random_ranges("metrics-in-order-ranges", 40, ["touchpoint", "day", "channel",
                                                                 "segment,day", "phase"])

    def test_zz_after_deletes(self):
        rng = model.seeded("metrics-in-order-deletes")
        for row in rng.sample(self.rows, 60):
            r = self.admin.delete("/v1/responses/%d" % row["id"])
            self.assertEqual(r.status, 204, r)
            self.rows.remove(row)
        self.test_random_ranges()


class CalendarEdgesTest(MetricsCheck, ServerTestCase):
    """Day, ISO week and month keys at year ends, leap days and week-year boundaries."""

    INSTANTS = {
        "2020-12-31T23:59:59.999Z": ("2020-12-31", "2020-W53", "2020-12"),
        "2021-01-01T00:00:00Z": ("2021-01-01", "2020-W53", "2021-01"),
        "2021-01-03T23:59:59Z": ("2021-01-03", "2020-W53", "2021-01"),
        "2021-01-04T00:00:00Z": ("2021-01-04", "2021-W01", "2021-01"),
        "2024-02-29T12:00:00Z": ("2024-02-29", "2024-W09", "2024-02"),
        "2024-12-30T08:00:00Z": ("2024-12-30", "2025-W01", "2024-12"),
        "2025-12-28T22:00:00Z": ("2025-12-28", "2025-W52", "2025-12"),
        "2025-12-29T01:00:00Z": ("2025-12-29", "2026-W01", "2025-12"),
        "2026-01-01T00:00:00.001Z": ("2026-01-01", "2026-W01", "2026-01"),
    }

    @classmethod
    def prepare(cls):
        cls.reader = cls.admin
        cls.make_touchpoint("checkout", "purchase", "purchase")
        cls.rows = []
        cls.ids = {}
        for i, (text, _) in enumerate(sorted(cls.INSTANTS.items())):
            body = {"touchpoint": "checkout", "nps": i % 11, "submitted_at": text}
            r = cls.admin.post("/v1/responses", body)
            assert r.status == 201, r
            row = model.model_row(body, "purchase", "purchase")
            row["submitted_ms"] = model.parse_time(text)
            row["id"] = r.body["id"]
            cls.rows.append(row)
            cls.ids[text] = r.body["id"]

    def test_model_agrees_with_the_table(self):
        for text, (day, week, month) in self.INSTANTS.items():
            ms = model.parse_time(text)
            self.assertEqual((model.bucket(ms, "day", model.UTC), model.bucket(ms, "week", model.UTC),
                              model.bucket(ms, "month", model.UTC)), (day, week, month))

    def test_each_instant_in_its_buckets(self):
        for text, expected in self.INSTANTS.items():
            ms = model.parse_time(text)
            for dim, want in zip(("day", "week", "month"), expected):
                with self.subTest(at=text, dim=dim):
                    body = self.fetch({"from": model.format_time(ms, "ms"),
                                       "to": model.format_time(ms + 1, "ms"), "group_by": dim})
                    self.assertEqual([g["key"] for g in body["groups"]], [{dim: want}])

    def test_groupings(self):
        for g in ("day", "week", "month", "touchpoint,week", "phase,month"):
            with self.subTest(group_by=g):
                self.check({"group_by": g})
        for params in ({"from": "2021-01-01", "to": "2021-01-04", "group_by": "week"},
                       {"from": "2020-12-31", "to": "2021-01-01", "group_by": "day"},
                       {"from": "2024-02-29", "to": "2024-03-01", "group_by": "month"},
                       {"from": "2024-12-01", "to": "2026-01-02", "group_by": "week"}):
            with self.subTest(params=params):
                self.check(params)


class TimeZoneChangeTest(MetricsCheck, unittest.TestCase):
    """The same database served under another reporting time zone: buckets and date bounds
    follow the zone the server runs with now."""

    def run_checks(self, server, tz_name, rows, seed):
        self.reader = server.client()
        self.admin = self.reader
        self.rows = rows
        self.tz_name = tz_name
        tz = model.tzinfo(tz_name)
        lo = min(r["submitted_ms"] for r in rows)
        hi = max(r["submitted_ms"] for r in rows)
        try:
            for g in ["day", "week", "month", "touchpoint,month", "phase,week"]:
                with self.subTest(tz=tz_name, group_by=g):
                    self.check({"group_by": g})
            rng = model.seeded(seed)
            for _ in range(12):
                params = model.random_range(rng, lo, hi, tz)
                params["group_by"] = rng.choice(["day", "week", "month", "channel"])
                with self.subTest(tz=tz_name, params=params):
                    self.check(params)
        finally:
            self.reader.close()

    def test_restart_in_other_time_zones(self):
        first = Server().start()
        try:
            admin = first.client()
            for key, journey, phase in TOUCHPOINTS:
                r = admin.post("/v1/touchpoints", {"key": key, "name": key, "journey": journey,
                                                   "phase": phase})
                self.assertEqual(r.status, 201, r)
            rng = model.seeded("tz-change")
            now = model.now_ms()
            rows = []
            for _ in range(200):
                body, row = model.random_response(rng, TOUCHPOINTS, now=now, time_required=True)
                r = admin.post("/v1/responses", body)
                self.assertEqual(r.status, 201, r)
                row["id"] = r.body["id"]
                rows.append(row)
            admin.close()
            self.run_checks(first, "UTC", rows, "tz-change-utc")
        finally:
            first.stop(cleanup=False)
        tmpdir, key = first.tmpdir, first.admin_key
        for zone, how in (("Asia/Kathmandu", "env"), ("America/New_York", "flag"),
                          ("UTC", "env")):
            if how == "env":
                server = Server(env={"POLKU_TZ": zone}, tmpdir=tmpdir, admin_key=key)
            else:
                server = Server(args=("--tz", zone), tmpdir=tmpdir, admin_key=key)
            server.start()
            try:
                self.run_checks(server, zone, rows, "tz-change-" + zone)
                # new responses after the change land in the new zone's buckets too
                c = server.client()
                body, row = model.random_response(rng, TOUCHPOINTS, time_required=True)
                r = c.post("/v1/responses", body)
                self.assertEqual(r.status, 201, r)
                row["id"] = r.body["id"]
                rows.append(row)
                c.close()
                self.run_checks(server, zone, rows, "tz-change-after-" + zone)
            finally:
                server.stop(cleanup=(zone == "UTC"))

    def test_unknown_time_zone_refused(self):
        s = Server(env={"POLKU_TZ": "Mars/Olympus_Mons"})
        with self.assertRaises(RuntimeError):
            s.start()
        s.cleanup_dir()


if __name__ == "__main__":
    unittest.main()
