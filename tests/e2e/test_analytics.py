"""Journey analytics over a seeded data set, compared with values computed here independently:
targets and their attainment, the overview (phases, previous period, change and significance,
peaks, end, priorities), key drivers (Pearson correlation, n, quadrants) and fill=true.
"""

import math
import random
import statistics

from harness import ServerTestCase

PHASES = [("contact", "Contact"), ("resolution", "Resolution"), ("followup", "Follow-up")]
TOUCHPOINTS = [("phone", "contact"), ("chat", "contact"), ("fix", "resolution"),
               ("callback", "resolution"), ("survey", "followup")]
CUR_FROM, CUR_TO = "2026-10-11T00:00:00Z", "2026-10-21T00:00:00Z"
PREV_FROM = "2026-10-01T00:00:00Z"


def nps_counts(scores):
    p = sum(1 for s in scores if s >= 9)
    d = sum(1 for s in scores if s <= 6)
    return p, d, len(scores)


def nps(scores):
    p, d, n = nps_counts(scores)
    return None if n == 0 else 100.0 * (p - d) / n


def se(scores):
    p, d, n = nps_counts(scores)
    ps, ds = p / n, d / n
    return 100.0 * math.sqrt(max(ps + ds - (ps - ds) ** 2, 0) / n)


def change(cur, prev):
    if not cur or not prev:
        return None, False
    d = nps(cur) - nps(prev)
    if len(cur) < 30 or len(prev) < 30:
        return d, False
    s = math.sqrt(se(cur) ** 2 + se(prev) ** 2)
    return d, (abs(d) / s > 1.96) if s > 0 else d != 0


def pearson(xs, ys):
    n = len(xs)
    if n < 10:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / math.sqrt(sxx * syy)


class AnalyticsTest(ServerTestCase):
    @classmethod
    def prepare(cls):
        r = cls.admin.post("/v1/journeys", {"key": "support", "name": "Support", "phases": [
            {"key": k, "name": n} for k, n in PHASES]})
        assert r.status == 201, r
        for key, phase in TOUCHPOINTS:
            r = cls.admin.post("/v1/touchpoints", {"key": key, "name": key.title(),
                                                   "journey": "support", "phase": phase})
            assert r.status == 201, r
        rng = random.Random(42)
        items = []
        # 40 customers; each has a latent satisfaction that drives both CSAT at "fix" and "phone"
        # (strongly) and NPS; "chat" CSAT is noise; "callback" has few customers.
        for c in range(40):
            base = rng.uniform(0, 1)
            day = 11 + c % 10
            when = "2026-10-%02dT%02d:00:00Z" % (day, 8 + c % 12)
            cust = "cust-%02d" % c
            nps_v = max(0, min(10, round(base * 10 + rng.uniform(-1, 1))))
            items.append({"touchpoint": "survey", "customer": cust, "nps": nps_v,
                          "submitted_at": when,
                          "expectation": "below" if base < 0.3 else "met"})
            items.append({"touchpoint": "fix", "customer": cust, "csat": 1 + round(base * 4),
                          "nps": nps_v, "submitted_at": when,
                          "expectation": "below" if c % 3 == 0 else "exceeded"})
            items.append({"touchpoint": "phone", "customer": cust,
                          "csat": max(1, min(5, 1 + round(base * 4 + rng.uniform(-1, 1)))),
                          "nps": max(0, min(10, nps_v + rng.randint(-2, 2))),
                          "submitted_at": when})
            items.append({"touchpoint": "chat", "customer": cust, "csat": rng.randint(1, 5),
                          "nps": rng.randint(5, 10), "submitted_at": when})
            if c < 6:
                items.append({"touchpoint": "callback", "customer": cust, "csat": 4, "nps": 9,
                              "submitted_at": when, "expectation": "below"})
        # the previous period: a happier survey, 35 answers
        for c in range(35):
            items.append({"touchpoint": "survey", "customer": "old-%02d" % c,
                          "nps": 10 if c % 5 else 6,
                          "submitted_at": "2026-10-%02dT10:00:00Z" % (1 + c % 10)})
        cls.items = items
        r = cls.admin.post("/v1/responses/batch", {"items": items})
        assert r.status == 201, r
        for body in ({"metric": "nps", "value": 20, "journey": "support"},
                     {"metric": "nps", "value": 50, "phase": "followup", "journey": "support"},
                     {"metric": "csat", "value": 60, "touchpoint": "fix"}):
            r = cls.admin.post("/v1/targets", body)
            assert r.status == 201, r

    def in_period(self, item, start, end):
        return start <= item["submitted_at"] < end

    def scores(self, start, end, touchpoints=None, field="nps"):
        return [it[field] for it in self.items
                if self.in_period(it, start, end) and field in it
                and (touchpoints is None or it["touchpoint"] in touchpoints)]

    def test_targets_crud_and_validation(self):
        r = self.admin.get("/v1/targets")
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.body["items"]), 3)
        phase_target = [t for t in r.body["items"] if t["phase"] == "followup"][0]
        self.assertEqual(phase_target["journey"], "support")
        bad = [({"metric": "nps", "value": 101}, "/value"),
               ({"metric": "speed", "value": 1}, "/metric"),
               ({"metric": "ces", "value": 9}, "/value"),
               ({"metric": "nps", "value": 1, "touchpoint": "nope"}, "/touchpoint"),
               ({"metric": "nps", "value": 1, "phase": "nope", "journey": "support"}, "/phase"),
               ({"metric": "nps", "value": 1, "journey": "nope"}, "/journey"),
               ({"metric": "nps", "value": 1, "touchpoint": "fix", "journey": "support"},
                "/touchpoint"),
               ({"metric": "nps", "value": "1"}, "/value"),
               ({"metric": "nps", "value": 1, "extra": 1}, "/extra")]
        for body, pointer in bad:
            r = self.admin.post("/v1/targets", body)
            self.assertEqual(r.status, 422, (body, r))
            self.assertIn(pointer, [e["pointer"] for e in r.body["errors"]], body)
        # the phase key "purchase" exists once: no journey needed; "ownership" too
        r = self.admin.post("/v1/targets", {"metric": "ces", "value": 5, "phase": "ownership"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.body["journey"], "purchase")
        dup = self.admin.post("/v1/targets", {"metric": "ces", "value": 6, "phase": "ownership"})
        self.assertEqual(dup.status, 409)
        self.assertEqual(self.admin.delete("/v1/targets/%d" % r.body["id"]).status, 204)
        self.assertEqual(self.admin.delete("/v1/targets/%d" % r.body["id"]).status, 404)
        read = self.server.client(self.make_key("read")["key"])
        self.assertEqual(read.get("/v1/targets").status, 200)
        self.assertEqual(read.post("/v1/targets", {"metric": "nps", "value": 1}).status, 403)
        read.close()

    def test_metrics_carry_targets(self):
        r = self.admin.get("/v1/metrics", params={"journey": "support", "group_by": "phase",
                                                  "from": CUR_FROM, "to": CUR_TO})
        self.assertEqual(r.status, 200)
        by_phase = {g["key"]["phase"]: g for g in r.body["groups"]}
        follow = by_phase["followup"]["nps"]
        self.assertEqual(follow["target"]["value"], 50)  # the phase target beats the journey's
        self.assertEqual(follow["target"]["met"], follow["score"] >= 50)
        contact = by_phase["contact"]["nps"]
        self.assertEqual(contact["target"]["value"], 20)
        self.assertNotIn("target", by_phase["contact"]["csat"])
        self.assertEqual(r.body["total"]["nps"]["target"]["value"], 20)
        r = self.admin.get("/v1/metrics", params={"touchpoint": "fix", "from": CUR_FROM,
                                                  "to": CUR_TO})
        csat = r.body["total"]["csat"]
        want = 100.0 * sum(1 for v in self.scores(CUR_FROM, CUR_TO, {"fix"}, "csat") if v >= 4) \
            / len(self.scores(CUR_FROM, CUR_TO, {"fix"}, "csat"))
        self.assertAlmostEqual(csat["score"], want, places=9)
        self.assertEqual(csat["target"], {"value": 60, "met": want >= 60})

    def test_overview(self):
        r = self.admin.get("/v1/journeys/support/overview",
                           params={"from": CUR_FROM, "to": CUR_TO, "min_n": 30})
        self.assertEqual(r.status, 200, r)
        ov = r.body
        self.assertEqual([p["key"] for p in ov["phases"]], [k for k, _ in PHASES])
        self.assertEqual(ov["previous"]["from"], PREV_FROM)
        self.assertEqual(ov["previous"]["to"], CUR_FROM)
        for phase in ov["phases"]:
            tps = {t for t, p in TOUCHPOINTS if p == phase["key"]}
            cur = self.scores(CUR_FROM, CUR_TO, tps)
            prev = self.scores(PREV_FROM, CUR_FROM, tps)
            self.assertEqual(phase["nps"]["n"], len(cur))
            self.assertAlmostEqual(phase["nps"]["score"], nps(cur), places=9)
            d, sig = change(cur, prev)
            if d is None:
                self.assertIsNone(phase["change"]["nps"])
            else:
                self.assertAlmostEqual(phase["change"]["nps"], d, places=9)
            self.assertEqual(phase["change"]["significant"], sig, phase["key"])
            self.assertEqual([t["key"] for t in phase["touchpoints"]], sorted(tps))
        follow = [p for p in ov["phases"] if p["key"] == "followup"][0]
        # the survey fell from the previous period's 35 happy answers: a significant drop
        self.assertLess(follow["change"]["nps"], 0)
        self.assertTrue(follow["change"]["significant"])
        # peaks among touchpoints with at least 30 responses (callback has 6)
        responses = {t: sum(1 for it in self.items if it["touchpoint"] == t
                            and self.in_period(it, CUR_FROM, CUR_TO)) for t, _ in TOUCHPOINTS}
        eligible = {t: nps(self.scores(CUR_FROM, CUR_TO, {t})) for t, _ in TOUCHPOINTS
                    if responses[t] >= 30 and self.scores(CUR_FROM, CUR_TO, {t})}
        self.assertEqual(ov["peaks"]["best"]["responses"], responses[ov["peaks"]["best"]["touchpoint"]])
        self.assertNotIn("callback", eligible)
        self.assertAlmostEqual(ov["peaks"]["best"]["nps"], max(eligible.values()), places=9)
        self.assertEqual(ov["peaks"]["best"]["touchpoint"],
                         max(eligible, key=lambda t: (eligible[t], -sorted(eligible).index(t))))
        self.assertAlmostEqual(ov["peaks"]["worst"]["nps"], min(eligible.values()), places=9)
        self.assertEqual(ov["end"]["phase"], "followup")
        # priorities: the end (survey) is below its phase target of 50 -> end_below_target
        pri = ov["priorities"]
        self.assertEqual(pri[0]["touchpoint"], "survey")
        self.assertEqual(pri[0]["reason"], "end_below_target")
        self.assertEqual(pri[0]["target"], 50)
        self.assertEqual([p["rank"] for p in pri], list(range(1, len(pri) + 1)))
        listed = [p["touchpoint"] for p in pri]
        self.assertEqual(len(listed), len(set(listed)))
        # then the fix quadrant of the CSAT drivers, then expectation: below
        drivers = self.admin.get("/v1/journeys/support/drivers",
                                 params={"from": CUR_FROM, "to": CUR_TO}).body
        fix = [t["touchpoint"] for t in drivers["touchpoints"] if t["quadrant"] == "fix"
               and t["touchpoint"] != "survey"]
        reasons = [p["reason"] for p in pri]
        self.assertEqual([p["touchpoint"] for p in pri if p["reason"] == "driver_below_median"],
                         fix)
        below = {}
        for it in self.items:
            if self.in_period(it, CUR_FROM, CUR_TO) and it.get("expectation") == "below":
                below[it["touchpoint"]] = below.get(it["touchpoint"], 0) + 1
        rest = [p for p in pri if p["reason"] == "expectation_below"]
        want_rest = [t for t in sorted(below, key=lambda t: -below[t])
                     if t not in set(listed[:len(pri) - len(rest)])]
        self.assertEqual([p["touchpoint"] for p in rest], want_rest)
        self.assertEqual(reasons, sorted(reasons, key=["end_below_target", "end_below_journey",
                                                       "driver_below_median",
                                                       "expectation_below"].index))

    def test_drivers(self):
        for driver in ("csat", "nps", "ces"):
            r = self.admin.get("/v1/journeys/support/drivers",
                               params={"from": CUR_FROM, "to": CUR_TO, "driver": driver})
            self.assertEqual(r.status, 200, r)
            got = {t["touchpoint"]: t for t in r.body["touchpoints"]}
            # independent computation: per customer means
            per = {}
            for it in self.items:
                if not self.in_period(it, CUR_FROM, CUR_TO):
                    continue
                c = per.setdefault(it["customer"], {"nps": [], "tp": {}})
                if "nps" in it:
                    c["nps"].append(it["nps"])
                if driver in it:
                    c["tp"].setdefault(it["touchpoint"], []).append(it[driver])
            imps, perfs = {}, {}
            for tp, _ in TOUCHPOINTS:
                xs, ys = [], []
                for c in per.values():
                    if tp in c["tp"] and c["nps"]:
                        xs.append(sum(c["tp"][tp]) / len(c["tp"][tp]))
                        ys.append(sum(c["nps"]) / len(c["nps"]))
                imp = pearson(xs, ys)
                self.assertEqual(got[tp]["n"], len(xs), (driver, tp))
                if imp is None:
                    self.assertIsNone(got[tp]["importance"], (driver, tp))
                else:
                    self.assertAlmostEqual(got[tp]["importance"], imp, places=9)
                vals = self.scores(CUR_FROM, CUR_TO, {tp}, driver)
                if driver == "csat":
                    perf = 100.0 * sum(1 for v in vals if v >= 4) / len(vals) if vals else None
                elif driver == "ces":
                    perf = sum(vals) / len(vals) if vals else None
                else:
                    perf = nps(vals)
                if perf is None:
                    self.assertIsNone(got[tp]["performance"])
                else:
                    self.assertAlmostEqual(got[tp]["performance"], perf, places=9)
                if imp is not None and perf is not None:
                    imps[tp], perfs[tp] = imp, perf
            if not imps:
                self.assertIsNone(r.body["median_importance"])
                self.assertTrue(all(t["quadrant"] is None for t in r.body["touchpoints"]))
                continue
            mi = statistics.median(imps.values())
            mp = statistics.median(perfs.values())
            self.assertAlmostEqual(r.body["median_importance"], mi, places=9)
            self.assertAlmostEqual(r.body["median_performance"], mp, places=9)
            for tp in imps:
                q = ("maintain" if perfs[tp] >= mp else "fix") if imps[tp] >= mi else \
                    ("keep" if perfs[tp] >= mp else "monitor")
                self.assertEqual(got[tp]["quadrant"], q, (driver, tp))
            self.assertIsNone(got["callback"]["importance"])  # 6 customers < 10
            order = [t["importance"] for t in r.body["touchpoints"] if t["importance"] is not None]
            self.assertEqual(order, sorted(order, reverse=True))
        # fix's CSAT follows the latent satisfaction: strongly important
        r = self.admin.get("/v1/journeys/support/drivers",
                           params={"from": CUR_FROM, "to": CUR_TO})
        got = {t["touchpoint"]: t for t in r.body["touchpoints"]}
        self.assertGreater(got["fix"]["importance"], 0.8)
        self.assertLess(abs(got["chat"]["importance"]), 0.5)

    def test_bad_parameters(self):
        for path, params in (("/v1/journeys/support/drivers", {"driver": "speed"}),
                             ("/v1/journeys/support/overview", {"min_n": "0"}),
                             ("/v1/journeys/support/overview", {"from": "yesterday"}),
                             ("/v1/journeys/support/overview", {"from": CUR_TO, "to": CUR_FROM}),
                             ("/v1/metrics", {"fill": "true"}),
                             ("/v1/metrics", {"group_by": "day", "fill": "yes"}),
                             ("/v1/metrics", {"group_by": "day", "fill": "true",
                                              "from": "2000-01-01", "to": "2026-01-01"})):
            r = self.admin.get(path, params=params)
            self.assertEqual(r.status, 400, (path, params, r))
        # a from in the future, with to left to default to now: the problem names from
        r = self.admin.get("/v1/journeys/support/overview", params={"from": "2099-01-01"})
        self.assertEqual(r.status, 400, r)
        self.assertEqual([x["parameter"] for x in r.body["errors"]], ["from"], r)
        self.assertEqual(self.admin.get("/v1/journeys/nope/overview").status, 404)
        self.assertEqual(self.admin.get("/v1/journeys/nope/drivers").status, 404)

    def test_fill(self):
        r = self.admin.get("/v1/metrics", params={"journey": "support", "group_by": "day",
                                                  "fill": "true", "from": "2026-09-28",
                                                  "to": "2026-10-25"})
        self.assertEqual(r.status, 200)
        days = [g["key"]["day"] for g in r.body["groups"]]
        self.assertEqual(days, ["2026-09-%02d" % d for d in range(28, 31)] +
                         ["2026-10-%02d" % d for d in range(1, 25)])
        empty = [g for g in r.body["groups"] if g["key"]["day"] == "2026-09-29"][0]
        self.assertEqual(empty["n"], 0)
        self.assertIsNone(empty["nps"]["score"])
        self.assertEqual(empty["nps"]["n"], 0)
        r = self.admin.get("/v1/metrics", params={"journey": "support",
                                                  "group_by": "touchpoint,week", "fill": "true",
                                                  "from": "2026-09-21", "to": "2026-10-26"})
        weeks = sorted({g["key"]["week"] for g in r.body["groups"]})
        self.assertEqual(weeks, ["2026-W%02d" % w for w in range(39, 44)])
        self.assertEqual(len(r.body["groups"]), 5 * len(TOUCHPOINTS))
        r = self.admin.get("/v1/metrics", params={"journey": "support", "group_by": "month",
                                                  "fill": "true"})
        self.assertEqual([g["key"]["month"] for g in r.body["groups"]], ["2026-10"])
