"""API keys: creation (shown once), listing without secrets, deletion, the scope matrix,
authentication failures and origin-bound submit keys."""

import unittest

from harness import ServerTestCase

SCOPES = ("submit", "read", "write", "admin")


class KeyLifecycleTest(ServerTestCase):
    def test_create_each_scope_shows_key_once(self):
        for scope in SCOPES:
            with self.subTest(scope=scope):
                r = self.admin.post("/v1/keys", {"scope": scope, "name": "k-" + scope})
                self.assertEqual(r.status, 201, r)
                self.assertEqual(r.body["scope"], scope)
                self.assertEqual(r.body["name"], "k-" + scope)
                self.assertIsInstance(r.body["id"], int)
                self.assertIsInstance(r.body.get("key"), str)
                self.assertGreaterEqual(len(r.body["key"]), 20)
                # the new key works at once
                c = self.server.client(r.body["key"])
                probe = "/v1/journeys" if scope != "submit" else "/v1/keys"
                expect = 200 if scope != "submit" else 403
                self.assertEqual(c.get(probe).status, expect)
                c.close()

    def test_list_has_no_secrets(self):
        created = self.make_key("read", name="listed")
        r = self.admin.get("/v1/keys")
        self.assertEqual(r.status, 200, r)
        items = r.body["items"]
        mine = [k for k in items if k["id"] == created["id"]]
        self.assertEqual(len(mine), 1, items)
        self.assertEqual(mine[0]["scope"], "read")
        self.assertEqual(mine[0]["name"], "listed")
        for k in items:
            self.assertNotIn("key", k)
            self.assertNotIn("hash", k)
            self.assertNotIn("secret", k)
            for v in k.values():
                self.assertNotEqual(v, created["key"])
        self.assertNotIn(created["key"], r.raw.decode())

    def test_get_of_created_key_never_repeats_secret(self):
        created = self.make_key("write", name="once")
        self.assertNotIn(created["key"], self.admin.get("/v1/keys").raw.decode())

    def test_delete_revokes(self):
        created = self.make_key("read", name="doomed")
        c = self.server.client(created["key"])
        self.assertEqual(c.get("/v1/journeys").status, 200)
        r = self.admin.delete("/v1/keys/%d" % created["id"])
        self.assertEqual(r.status, 204, r)
        self.assertFalse(r.raw)
        r = c.get("/v1/journeys")
        self.assertProblem(r, 401)
        self.assertIn("Bearer", r.header("WWW-Authenticate") or "")
        ids = [k["id"] for k in self.admin.get("/v1/keys").body["items"]]
        self.assertNotIn(created["id"], ids)
        # deleting again: 404
        self.assertProblem(self.admin.delete("/v1/keys/%d" % created["id"]), 404)
        c.close()

    def test_deleted_key_id_never_reused(self):
        """A DELETE retried after its answer was lost must not revoke a key made since."""
        doomed = self.make_key("read", name="newest")
        self.assertEqual(self.admin.delete("/v1/keys/%d" % doomed["id"]).status, 204)
        fresh = self.make_key("read", name="after")
        self.assertGreater(fresh["id"], doomed["id"])
        self.assertProblem(self.admin.delete("/v1/keys/%d" % doomed["id"]), 404)
        c = self.server.client(fresh["key"])
        self.assertEqual(c.get("/v1/journeys").status, 200)
        c.close()

    def test_delete_unknown_key(self):
        self.assertProblem(self.admin.delete("/v1/keys/987654"), 404)
        self.assertProblem(self.admin.delete("/v1/keys/not-a-number"), 404)

    def test_create_validation(self):
        before = self.admin.get("/v1/keys").body["items"]
        cases = [
            ({"scope": "root", "name": "x"}, "/scope"),
            ({"name": "x"}, "/scope"),
            ({"scope": "read"}, "/name"),
            ({"scope": "read", "name": "x", "colour": "red"}, "/colour"),
            ({"scope": "submit", "name": "x", "origins": "https://a.example"}, "/origins"),
            ({"scope": "submit", "name": "x", "origins": ["javascript:alert(1)"]}, "/origins/0"),
            ({"scope": 7, "name": "x"}, "/scope"),
        ]
        for body, pointer in cases:
            with self.subTest(body=body):
                self.assertProblem(self.admin.post("/v1/keys", body), 422, pointer)
        self.assertEqual(self.admin.get("/v1/keys").body["items"], before)


class ScopeMatrixTest(ServerTestCase):
    @classmethod
    def prepare(cls):
        cls.make_touchpoint("checkout", "purchase", "purchase")
        cls.keys = {s: cls.make_key(s) for s in SCOPES}
        cls.clients = {s: cls.server.client(cls.keys[s]["key"]) for s in SCOPES}
        r = cls.admin.post("/v1/responses", {"touchpoint": "checkout", "nps": 7})
        assert r.status == 201, r
        cls.response_id = r.body["id"]
        cls.counter = 0

    @classmethod
    def tearDownClass(cls):
        for c in getattr(cls, "clients", {}).values():
            c.close()
        super().tearDownClass()

    def unique(self, prefix):
        type(self).counter += 1
        return "%s-%d" % (prefix, self.counter)

    def check(self, scope, expect, method, path, body=None):
        r = self.clients[scope].request(method, path, body=body)
        if expect == 403:
            self.assertProblem(r, 403, msg="%s %s %s" % (scope, method, path))
        else:
            self.assertEqual(r.status, expect, "%s %s %s: %r" % (scope, method, path, r))
        return r

    def test_submit_scope(self):
        before = self.snapshot()
        r = self.check("submit", 201, "POST", "/v1/responses", {"touchpoint": "checkout", "csat": 5})
        after_ok = self.snapshot()
        self.assertEqual(len(after_ok["responses"]), len(before["responses"]) + 1)
        for method, path, body in [
            ("GET", "/v1/responses", None),
            ("GET", "/v1/responses/%d" % self.response_id, None),
            ("GET", "/v1/metrics", None),
            ("GET", "/v1/journeys", None),
            ("GET", "/v1/touchpoints", None),
            ("POST", "/v1/touchpoints", {"key": self.unique("s"), "name": "S",
                                         "journey": "purchase", "phase": "purchase"}),
            ("DELETE", "/v1/responses/%d" % r.body["id"], None),
            ("GET", "/v1/keys", None),
            ("POST", "/v1/keys", {"scope": "admin", "name": "escalate"}),
        ]:
            with self.subTest(method=method, path=path):
                self.check("submit", 403, method, path, body)
        self.assertEqual(self.snapshot(), after_ok)

    def test_read_scope(self):
        for path in ("/v1/journeys", "/v1/journeys/purchase", "/v1/touchpoints",
                     "/v1/touchpoints/checkout", "/v1/responses",
                     "/v1/responses/%d" % self.response_id, "/v1/metrics",
                     "/v1/metrics?group_by=touchpoint"):
            with self.subTest(path=path):
                self.check("read", 200, "GET", path)
        before = self.snapshot()
        for method, path, body in [
            ("GET", "/v1/keys", None),
            ("POST", "/v1/keys", {"scope": "read", "name": "x"}),
            ("POST", "/v1/responses", {"touchpoint": "checkout", "nps": 3}),
            ("POST", "/v1/touchpoints", {"key": self.unique("r"), "name": "R",
                                         "journey": "purchase", "phase": "purchase"}),
            ("PATCH", "/v1/touchpoints/checkout", {"name": "Renamed by read"}),
            ("DELETE", "/v1/responses/%d" % self.response_id, None),
            ("POST", "/v1/journeys", {"key": self.unique("j"), "name": "J",
                                      "phases": [{"key": "a", "name": "A"}]}),
        ]:
            with self.subTest(method=method, path=path):
                self.check("read", 403, method, path, body)
        self.assertEqual(self.snapshot(), before)

    def test_write_scope(self):
        for path in ("/v1/journeys", "/v1/touchpoints", "/v1/responses", "/v1/metrics"):
            with self.subTest(path=path):
                self.check("write", 200, "GET", path)
        r = self.check("write", 201, "POST", "/v1/responses", {"touchpoint": "checkout", "ces": 6})
        self.check("write", 204, "DELETE", "/v1/responses/%d" % r.body["id"])
        jkey = self.unique("wj")
        self.check("write", 201, "POST", "/v1/journeys",
                   {"key": jkey, "name": "W", "phases": [{"key": "one", "name": "One"}]})
        self.check("write", 200, "PATCH", "/v1/journeys/" + jkey, {"name": "W2"})
        tkey = self.unique("wt")
        self.check("write", 201, "POST", "/v1/touchpoints",
                   {"key": tkey, "name": "T", "journey": jkey, "phase": "one"})
        self.check("write", 200, "PATCH", "/v1/touchpoints/" + tkey, {"name": "T2"})
        self.check("write", 204, "DELETE", "/v1/touchpoints/" + tkey)
        self.check("write", 204, "DELETE", "/v1/journeys/" + jkey)
        before = self.snapshot()
        for method, path, body in [
            ("GET", "/v1/keys", None),
            ("POST", "/v1/keys", {"scope": "admin", "name": "escalate"}),
            ("DELETE", "/v1/keys/%d" % self.keys["read"]["id"], None),
        ]:
            with self.subTest(method=method, path=path):
                self.check("write", 403, method, path, body)
        self.assertEqual(self.snapshot(), before)

    def test_admin_scope(self):
        c = "admin"
        for path in ("/v1/journeys", "/v1/touchpoints", "/v1/responses", "/v1/metrics",
                     "/v1/keys"):
            with self.subTest(path=path):
                self.check(c, 200, "GET", path)
        r = self.check(c, 201, "POST", "/v1/responses", {"touchpoint": "checkout", "nps": 10})
        self.check(c, 204, "DELETE", "/v1/responses/%d" % r.body["id"])
        k = self.check(c, 201, "POST", "/v1/keys", {"scope": "read", "name": "by-admin-key"})
        self.check(c, 204, "DELETE", "/v1/keys/%d" % k.body["id"])
        tkey = self.unique("at")
        self.check(c, 201, "POST", "/v1/touchpoints",
                   {"key": tkey, "name": "A", "journey": "rean", "phase": "reach"})
        self.check(c, 204, "DELETE", "/v1/touchpoints/" + tkey)


class AuthenticationTest(ServerTestCase):
    @classmethod
    def prepare(cls):
        cls.make_touchpoint("checkout", "purchase", "purchase")

    def assert401(self, headers, path="/v1/journeys", method="GET", body=None):
        r = self.anon.request(method, path, headers=headers, body=body)
        self.assertProblem(r, 401, msg=repr(headers))
        self.assertTrue((r.header("WWW-Authenticate") or "").startswith("Bearer"),
                        "401 without WWW-Authenticate: Bearer for %r" % (headers,))

    def test_missing_authorization(self):
        self.assert401({})
        self.assert401({}, "/v1/responses", "POST", {"touchpoint": "checkout", "nps": 1})
        self.assert401({}, "/v1/keys")

    def test_garbage_keys(self):
        key = self.make_key("admin")["key"]
        for value in ["Bearer nonsense", "Bearer ", "Bearer " + key[:-1] + ("A" if key[-1] != "A" else "B"),
                      "Bearer " + key + "x", "Bearer " + "x" * 300, "Bearer plk_" + "0" * 60]:
            with self.subTest(value=value[:40]):
                self.assert401({"Authorization": value})

    def test_bearerless_authorization(self):
        key = self.make_key("admin")["key"]
        for value in [key, self.server.admin_key, "Basic " + key, "Token " + key, "Bearer"]:
            with self.subTest(value=value[:20]):
                self.assert401({"Authorization": value})

    def test_unauthorized_post_stores_nothing(self):
        before = self.count_responses()
        self.assert401({"Authorization": "Bearer wrong"}, "/v1/responses", "POST",
                       {"touchpoint": "checkout", "nps": 9})
        self.assertEqual(self.count_responses(), before)


class OriginBoundKeyTest(ServerTestCase):
    @classmethod
    def prepare(cls):
        cls.make_touchpoint("checkout", "purchase", "purchase")
        cls.key = cls.make_key("submit", name="shop form", origins=["https://shop.example"])

    def test_key_records_origins(self):
        self.assertEqual(self.key["origins"], ["https://shop.example"])
        listed = [k for k in self.admin.get("/v1/keys").body["items"] if k["id"] == self.key["id"]]
        self.assertEqual(listed[0]["origins"], ["https://shop.example"])

    def test_foreign_origin_refused(self):
        c = self.server.client(self.key["key"])
        before = self.count_responses()
        for origin in ("https://evil.example", "https://shop.example.evil.example",
                       "http://shop.example", "null"):
            with self.subTest(origin=origin):
                r = c.post("/v1/responses", {"touchpoint": "checkout", "nps": 9},
                           headers={"Origin": origin})
                self.assertProblem(r, 403)
        self.assertEqual(self.count_responses(), before)
        c.close()

    def test_listed_origin_accepted(self):
        c = self.server.client(self.key["key"])
        r = c.post("/v1/responses", {"touchpoint": "checkout", "nps": 9},
                   headers={"Origin": "https://shop.example"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.admin.get("/v1/responses/%d" % r.body["id"]).status, 200)
        c.close()


if __name__ == "__main__":
    unittest.main()
