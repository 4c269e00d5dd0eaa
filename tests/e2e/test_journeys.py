"""Journeys: the seeded ones, create, read, rename, reorder and edit phases, delete."""

import unittest

from harness import ServerTestCase

SEEDED = {
    "purchase": ["awareness", "consideration", "purchase", "ownership", "aftercare"],
    "rean": ["reach", "engage", "activate", "nurture"],
}


def phase_keys(journey):
    return [p["key"] for p in journey["phases"]]


class JourneysTest(ServerTestCase):
    def create(self, key, phases, name=None, expect=201):
        body = {"key": key, "name": name or key.title(),
                "phases": [{"key": p, "name": p.title()} for p in phases]}
        r = self.admin.post("/v1/journeys", body)
        self.assertEqual(r.status, expect, r)
        return r

    def test_seeded_journeys_in_order(self):
        r = self.admin.get("/v1/journeys")
        self.assertEqual(r.status, 200, r)
        by_key = {j["key"]: j for j in r.body["items"]}
        for key, phases in SEEDED.items():
            with self.subTest(journey=key):
                self.assertIn(key, by_key)
                self.assertEqual(phase_keys(by_key[key]), phases)
                one = self.admin.get("/v1/journeys/" + key)
                self.assertEqual(one.status, 200, one)
                self.assertEqual(phase_keys(one.body), phases)
                for p in one.body["phases"]:
                    self.assertIsInstance(p.get("name"), str)
                    self.assertTrue(p["name"])

    def test_create_and_get(self):
        r = self.create("support", ["contact", "diagnosis", "resolution"], name="Support")
        self.assertEqual(r.header("Location"), "/v1/journeys/support")
        self.assertEqual(r.body["key"], "support")
        self.assertEqual(r.body["name"], "Support")
        self.assertEqual(phase_keys(r.body), ["contact", "diagnosis", "resolution"])
        self.assertEqual([p["name"] for p in r.body["phases"]],
                         ["Contact", "Diagnosis", "Resolution"])
        g = self.admin.get("/v1/journeys/support")
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.body, r.body)
        listed = [j for j in self.admin.get("/v1/journeys").body["items"] if j["key"] == "support"]
        self.assertEqual(len(listed), 1)
        self.assertEqual(phase_keys(listed[0]), ["contact", "diagnosis", "resolution"])

    def test_duplicate_key_conflicts(self):
        self.create("dup-journey", ["a"])
        before = self.snapshot()
        r = self.create("dup-journey", ["b", "c"], expect=409)
        self.assertProblem(r, 409)
        self.assertEqual(phase_keys(self.admin.get("/v1/journeys/dup-journey").body), ["a"])
        r = self.create("purchase", ["x"], expect=409)
        self.assertProblem(r, 409)
        self.assertEqual(self.snapshot(), before)

    def test_create_validation(self):
        before = self.snapshot()
        cases = [
            ({"name": "No key", "phases": [{"key": "a", "name": "A"}]}, "/key"),
            ({"key": "Bad Key", "name": "x", "phases": [{"key": "a", "name": "A"}]}, "/key"),
            ({"key": "nophases", "name": "x"}, "/phases"),
            ({"key": "emptyphases", "name": "x", "phases": []}, "/phases"),
            ({"key": "dupphase", "name": "x",
              "phases": [{"key": "a", "name": "A"}, {"key": "a", "name": "B"}]}, "/phases/1/key"),
            ({"key": "badphase", "name": "x", "phases": [{"key": "a"}]}, "/phases/0/name"),
            ({"key": "extra", "name": "x", "phases": [{"key": "a", "name": "A"}], "x": 1}, "/x"),
        ]
        for body, pointer in cases:
            with self.subTest(pointer=pointer, body=body):
                self.assertProblem(self.admin.post("/v1/journeys", body), 422, pointer)
        self.assertEqual(self.snapshot(), before)

    def test_unknown_journey(self):
        self.assertProblem(self.admin.get("/v1/journeys/nope"), 404)
        self.assertProblem(self.admin.patch("/v1/journeys/nope", {"name": "x"}), 404)
        self.assertProblem(self.admin.delete("/v1/journeys/nope"), 404)

    def test_patch_name(self):
        self.create("rename-me", ["one", "two"])
        r = self.admin.patch("/v1/journeys/rename-me", {"name": "Renamed"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["name"], "Renamed")
        self.assertEqual(phase_keys(r.body), ["one", "two"])
        self.assertEqual(self.admin.get("/v1/journeys/rename-me").body["name"], "Renamed")

    def test_reorder_phases_keeps_touchpoints(self):
        self.create("reorder", ["first", "second", "third"])
        self.make_touchpoint("reorder-tp", "reorder", "second")
        new = [{"key": "third", "name": "Third!"}, {"key": "first", "name": "First"},
               {"key": "second", "name": "Second"}]
        r = self.admin.patch("/v1/journeys/reorder", {"phases": new})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(phase_keys(r.body), ["third", "first", "second"])
        self.assertEqual(r.body["phases"][0]["name"], "Third!")
        g = self.admin.get("/v1/journeys/reorder")
        self.assertEqual(phase_keys(g.body), ["third", "first", "second"])
        tp = self.admin.get("/v1/touchpoints/reorder-tp")
        self.assertEqual(tp.status, 200, tp)
        self.assertEqual((tp.body["journey"], tp.body["phase"]), ("reorder", "second"))
        # a touchpoint in the reordered journey still takes responses
        resp = self.admin.post("/v1/responses", {"touchpoint": "reorder-tp", "nps": 8})
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.body["phase"], "second")

    def test_add_and_drop_empty_phase(self):
        self.create("grow", ["a", "b"])
        r = self.admin.patch("/v1/journeys/grow", {"phases": [
            {"key": "a", "name": "A"}, {"key": "b", "name": "B"}, {"key": "c", "name": "C"}]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(phase_keys(r.body), ["a", "b", "c"])
        r = self.admin.patch("/v1/journeys/grow", {"phases": [
            {"key": "c", "name": "C"}, {"key": "a", "name": "A"}]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(phase_keys(r.body), ["c", "a"])

    def test_dropping_phase_with_touchpoints_conflicts(self):
        self.create("keepers", ["alpha", "beta"])
        self.make_touchpoint("keepers-tp", "keepers", "beta")
        before = self.admin.get("/v1/journeys/keepers").body
        r = self.admin.patch("/v1/journeys/keepers", {"name": "Changed",
                                                      "phases": [{"key": "alpha", "name": "A"}]})
        self.assertProblem(r, 409)
        after = self.admin.get("/v1/journeys/keepers").body
        self.assertEqual(after, before)  # neither the name nor the phases changed
        self.assertEqual(self.admin.get("/v1/touchpoints/keepers-tp").body["phase"], "beta")

    def test_delete(self):
        self.create("short-lived", ["only"])
        r = self.admin.delete("/v1/journeys/short-lived")
        self.assertEqual(r.status, 204, r)
        self.assertFalse(r.raw)
        self.assertProblem(self.admin.get("/v1/journeys/short-lived"), 404)
        keys = [j["key"] for j in self.admin.get("/v1/journeys").body["items"]]
        self.assertNotIn("short-lived", keys)
        self.assertProblem(self.admin.delete("/v1/journeys/short-lived"), 404)

    def test_delete_with_responses_conflicts(self):
        self.create("busy", ["p1"])
        self.make_touchpoint("busy-tp", "busy", "p1")
        resp = self.admin.post("/v1/responses", {"touchpoint": "busy-tp", "csat": 4})
        self.assertEqual(resp.status, 201, resp)
        before = self.snapshot()
        self.assertProblem(self.admin.delete("/v1/journeys/busy"), 409)
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(self.admin.get("/v1/journeys/busy").status, 200)
        # once its responses are gone it can go
        self.assertEqual(self.admin.delete("/v1/responses/%d" % resp.body["id"]).status, 204)
        self.assertEqual(self.admin.delete("/v1/journeys/busy").status, 204)
        self.assertProblem(self.admin.get("/v1/touchpoints/busy-tp"), 404)


if __name__ == "__main__":
    unittest.main()
