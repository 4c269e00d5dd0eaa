"""Touchpoints: create, conflicts, unknown journey/phase, list with filters and paging,
read, update, delete."""

import unittest
import urllib.parse

from harness import ServerTestCase
from model import TOUCHPOINTS


def link_next(resp):
    """The URL of Link: <...>; rel="next", or None."""
    value = resp.header("Link")
    if not value:
        return None
    for part in value.split(","):
        url, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
            url = url.strip()
            assert url.startswith("<") and url.endswith(">"), value
            return url[1:-1]
    return None


class TouchpointsTest(ServerTestCase):
    @classmethod
    def prepare(cls):
        for key, journey, phase in TOUCHPOINTS:
            cls.make_touchpoint(key, journey, phase, description="about " + key)

    def test_create_echoes_fields(self):
        body = {"key": "gift-wrap", "name": "Gift wrapping", "journey": "purchase",
                "phase": "purchase", "description": "Wrapping at the till ✓"}
        r = self.admin.post("/v1/touchpoints", body)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.header("Location"), "/v1/touchpoints/gift-wrap")
        for k, v in body.items():
            self.assertEqual(r.body[k], v, k)
        g = self.admin.get("/v1/touchpoints/gift-wrap")
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.body, r.body)

    def test_description_is_optional(self):
        r = self.admin.post("/v1/touchpoints", {"key": "plain", "name": "Plain",
                                                "journey": "rean", "phase": "engage"})
        self.assertEqual(r.status, 201, r)
        self.assertIsNone(r.body.get("description"))

    def test_duplicate_conflicts(self):
        before = self.snapshot()
        r = self.admin.post("/v1/touchpoints", {"key": "checkout", "name": "Other",
                                                "journey": "rean", "phase": "reach"})
        self.assertProblem(r, 409)
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(self.admin.get("/v1/touchpoints/checkout").body["journey"], "purchase")

    def test_unknown_journey_or_phase(self):
        before = self.snapshot()
        r = self.admin.post("/v1/touchpoints", {"key": "lost", "name": "Lost",
                                                "journey": "nowhere", "phase": "reach"})
        self.assertProblem(r, 422, "/journey")
        r = self.admin.post("/v1/touchpoints", {"key": "lost", "name": "Lost",
                                                "journey": "rean", "phase": "purchase"})
        self.assertProblem(r, 422, "/phase")
        r = self.admin.post("/v1/touchpoints", {"key": "lost", "name": "Lost",
                                                "journey": "purchase", "phase": "nowhere"})
        self.assertProblem(r, 422, "/phase")
        self.assertEqual(self.snapshot(), before)
        self.assertProblem(self.admin.get("/v1/touchpoints/lost"), 404)

    def test_create_validation(self):
        before = self.snapshot()
        ok = {"key": "v", "name": "V", "journey": "rean", "phase": "reach"}
        cases = [
            (dict(ok, key=None), "/key"),
            (dict(ok, key="Upper"), "/key"),
            (dict(ok, key="-dash"), "/key"),
            (dict(ok, key="x" * 65), "/key"),
            (dict(ok, name=""), "/name"),
            (dict(ok, name=5), "/name"),
            (dict(ok, journey=None), "/journey"),
            (dict(ok, phase=None), "/phase"),
            (dict(ok, colour="red"), "/colour"),
            (dict(ok, description=["x"]), "/description"),
        ]
        for body, pointer in cases:
            body = {k: v for k, v in body.items() if v is not None}
            with self.subTest(pointer=pointer, body=body):
                self.assertProblem(self.admin.post("/v1/touchpoints", body), 422, pointer)
        self.assertEqual(self.snapshot(), before)

    def test_list_filters(self):
        all_items = self.list_all("/v1/touchpoints")
        keys = [t["key"] for t in all_items]
        self.assertEqual(len(keys), len(set(keys)))
        for key, journey, phase in TOUCHPOINTS:
            self.assertIn(key, keys)
        for journey in ("purchase", "rean"):
            with self.subTest(journey=journey):
                got = self.list_all("/v1/touchpoints", {"journey": journey})
                self.assertTrue(got)
                self.assertEqual(sorted(t["key"] for t in got),
                                 sorted(t["key"] for t in all_items if t["journey"] == journey))
        for journey, phase in {(j, p) for _, j, p in TOUCHPOINTS}:
            with self.subTest(phase=phase):
                want = sorted(t["key"] for t in all_items if t["phase"] == phase)
                got = self.list_all("/v1/touchpoints", {"phase": phase})
                self.assertEqual(sorted(t["key"] for t in got), want)
                got = self.list_all("/v1/touchpoints", {"journey": journey, "phase": phase})
                self.assertEqual(sorted(t["key"] for t in got),
                                 sorted(t["key"] for t in all_items
                                        if t["phase"] == phase and t["journey"] == journey))
        self.assertEqual(self.list_all("/v1/touchpoints", {"journey": "rean", "phase": "ownership"}), [])

    def test_paging(self):
        everything = [t["key"] for t in self.list_all("/v1/touchpoints")]
        self.assertGreater(len(everything), 5)
        # by next_cursor
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": "2"}
            if cursor:
                params["cursor"] = cursor
            r = self.admin.get("/v1/touchpoints", params=params)
            self.assertEqual(r.status, 200, r)
            self.assertLessEqual(len(r.body["items"]), 2)
            seen += [t["key"] for t in r.body["items"]]
            pages += 1
            cursor = r.body.get("next_cursor")
            if cursor:
                self.assertIsNotNone(link_next(r), "a page with next_cursor needs a Link header")
            else:
                self.assertIsNone(link_next(r))
                break
        self.assertEqual(sorted(seen), sorted(everything))
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(pages, (len(everything) + 1) // 2)
        # by Link, with a filter carried along
        want = [t["key"] for t in self.list_all("/v1/touchpoints", {"journey": "purchase"})]
        seen = []
        url = "/v1/touchpoints?journey=purchase&limit=3"
        while url:
            r = self.admin.get(url)
            self.assertEqual(r.status, 200, r)
            seen += [t["key"] for t in r.body["items"]]
            nxt = link_next(r)
            if nxt:
                u = urllib.parse.urlsplit(nxt)
                self.assertEqual(u.scheme, "http")
                self.assertEqual(u.netloc, "127.0.0.1:%d" % self.port)
                url = u.path + "?" + u.query
            else:
                url = None
        self.assertEqual(seen, want)

    def test_list_bad_params(self):
        for params in ({"limit": "0"}, {"limit": "1001"}, {"limit": "x"}, {"cursor": "garbage!"},
                       {"journey": "Not A Key"}, {"colour": "red"}):
            with self.subTest(params=params):
                self.assertProblem(self.admin.get("/v1/touchpoints", params=params), 400)

    def test_get_unknown(self):
        self.assertProblem(self.admin.get("/v1/touchpoints/nope"), 404)
        self.assertProblem(self.admin.patch("/v1/touchpoints/nope", {"name": "x"}), 404)
        self.assertProblem(self.admin.delete("/v1/touchpoints/nope"), 404)

    def test_patch(self):
        self.make_touchpoint("patchable", "purchase", "awareness", description="old")
        r = self.admin.patch("/v1/touchpoints/patchable", {"name": "New name"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["name"], "New name")
        self.assertEqual(r.body["description"], "old")
        self.assertEqual((r.body["journey"], r.body["phase"]), ("purchase", "awareness"))
        r = self.admin.patch("/v1/touchpoints/patchable", {"phase": "consideration",
                                                           "description": "new"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.body["phase"], r.body["description"]), ("consideration", "new"))
        g = self.admin.get("/v1/touchpoints/patchable")
        self.assertEqual(g.body, r.body)
        self.assertEqual(g.body["name"], "New name")
        # to another journey
        r = self.admin.patch("/v1/touchpoints/patchable", {"journey": "rean", "phase": "nurture"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.body["journey"], r.body["phase"]), ("rean", "nurture"))
        # invalid targets change nothing
        before = self.admin.get("/v1/touchpoints/patchable").body
        self.assertProblem(self.admin.patch("/v1/touchpoints/patchable", {"phase": "nowhere"}),
                           422, "/phase")
        self.assertProblem(self.admin.patch("/v1/touchpoints/patchable", {"key": "renamed"}),
                           422, "/key")
        self.assertEqual(self.admin.get("/v1/touchpoints/patchable").body, before)

    def test_delete(self):
        self.make_touchpoint("deletable", "rean", "activate")
        r = self.admin.delete("/v1/touchpoints/deletable")
        self.assertEqual(r.status, 204, r)
        self.assertFalse(r.raw)
        self.assertProblem(self.admin.get("/v1/touchpoints/deletable"), 404)
        self.assertNotIn("deletable", [t["key"] for t in self.list_all("/v1/touchpoints")])

    def test_delete_with_responses_conflicts(self):
        self.make_touchpoint("answered", "rean", "activate")
        resp = self.admin.post("/v1/responses", {"touchpoint": "answered", "nps": 10})
        self.assertEqual(resp.status, 201, resp)
        before = self.snapshot()
        self.assertProblem(self.admin.delete("/v1/touchpoints/answered"), 409)
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(self.admin.get("/v1/touchpoints/answered").status, 200)
        # nor may it move to another journey under its answers
        r = self.admin.patch("/v1/touchpoints/answered", {"journey": "purchase",
                                                          "phase": "aftercare"})
        self.assertProblem(r, 409)
        self.assertEqual(self.snapshot(), before)


if __name__ == "__main__":
    unittest.main()
