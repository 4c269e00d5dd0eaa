"""Caching for pollers: strong ETags on every read, 304 on If-None-Match, new ETag after a
write."""

import os
import re
import subprocess
import time
import unittest

from harness import ServerTestCase, binary_path

STRONG = re.compile(r'^"[\x21\x23-\x7e]+"$')  # RFC 9110 entity-tag without W/


class ETagTest(ServerTestCase):
    @classmethod
    def prepare(cls):
        cls.make_touchpoint("checkout", "purchase", "purchase")
        cls.make_touchpoint("onboarding", "rean", "activate")
        r = cls.admin.post("/v1/responses", {"touchpoint": "checkout", "nps": 9,
                                             "channel": "web"})
        assert r.status == 201, r
        cls.rid = r.body["id"]
        cls.reader = cls.client_for("read")
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "reader"):
            cls.reader.close()
        super().tearDownClass()

    READS = [
        "/v1/journeys",
        "/v1/journeys/purchase",
        "/v1/touchpoints",
        "/v1/touchpoints?journey=purchase&limit=5",
        "/v1/touchpoints/checkout",
        "/v1/responses",
        "/v1/responses?channel=web&limit=10",
        "/v1/responses/{rid}",
        "/v1/metrics",
        "/v1/metrics?group_by=touchpoint,month",
        "/v1/metrics?journey=purchase&group_by=phase&from=2020-01-01",
    ]

    def write(self):
        type(self).n += 1
        r = self.admin.post("/v1/responses", {"touchpoint": "onboarding", "csat": 4})
        self.assertEqual(r.status, 201, r)

    def paths(self):
        return [p.replace("{rid}", str(self.rid)) for p in self.READS]

    def test_reads_have_strong_etags(self):
        for path in self.paths() + ["/v1/keys"]:
            client = self.admin if path == "/v1/keys" else self.reader
            with self.subTest(path=path):
                r = client.get(path)
                self.assertEqual(r.status, 200, r)
                etag = r.header("ETag")
                self.assertIsNotNone(etag, "no ETag on GET " + path)
                self.assertRegex(etag, STRONG)
                # the same request again, nothing written: the same tag
                self.assertEqual(client.get(path).header("ETag"), etag)

    def test_if_none_match_gives_304(self):
        for path in self.paths():
            with self.subTest(path=path):
                r = self.reader.get(path)
                etag = r.header("ETag")
                self.assertIsNotNone(etag)
                n = self.reader.get(path, headers={"If-None-Match": etag})
                self.assertEqual(n.status, 304, n)
                self.assertFalse(n.raw, "a 304 carries no body")
                self.assertEqual(n.header("ETag"), etag)
                # a list of tags containing ours also matches
                n = self.reader.get(path, headers={"If-None-Match": '"nope", ' + etag})
                self.assertEqual(n.status, 304, n)
                # another tag does not
                o = self.reader.get(path, headers={"If-None-Match": '"not-the-tag"'})
                self.assertEqual(o.status, 200, o)
                self.assertEqual(o.body, r.body)

    def test_write_changes_etag(self):
        before = {}
        for path in self.paths():
            r = self.reader.get(path)
            before[path] = (r.header("ETag"), r.body)
        self.write()
        for path in self.paths():
            with self.subTest(path=path):
                etag, _ = before[path]
                r = self.reader.get(path, headers={"If-None-Match": etag})
                self.assertEqual(r.status, 200, "stale 304 after a write: %r" % r)
                self.assertIsNotNone(r.header("ETag"))
                self.assertNotEqual(r.header("ETag"), etag)
                self.assertIsNotNone(r.body)

    def test_etag_changes_with_content(self):
        r1 = self.reader.get("/v1/metrics")
        self.write()
        r2 = self.reader.get("/v1/metrics")
        self.assertNotEqual(r1.header("ETag"), r2.header("ETag"))
        self.assertEqual(r2.body["total"]["n"], r1.body["total"]["n"] + 1)
        # a rename is a write too
        j1 = self.reader.get("/v1/touchpoints/checkout")
        p = self.admin.patch("/v1/touchpoints/checkout", {"name": "Checkout %d" % self.n})
        self.assertEqual(p.status, 200, p)
        j2 = self.reader.get("/v1/touchpoints/checkout", headers={"If-None-Match": j1.header("ETag")})
        self.assertEqual(j2.status, 200, j2)
        self.assertEqual(j2.body["name"], "Checkout %d" % self.n)

    def test_if_none_match_syntax(self):
        """RFC 9110 13.1.2: a list of entity-tags with optional whitespace (spaces or tabs),
        weak ones compared weakly; "*" matches any current representation; something that is
        not an entity-tag matches nothing."""
        path = "/v1/metrics?group_by=touchpoint"
        etag = self.reader.get(path).header("ETag")
        for value, status in ((etag + "\t", 304), ('"a",\t' + etag, 304), ("W/" + etag, 304),
                              (' "a" , W/' + etag + ' ', 304), ("*", 304), (" * ", 304),
                              ("x" + etag, 200), (etag[:-1], 200), ('"a", x' + etag, 200),
                              (etag + "x", 200), ("*, " + etag, 200)):
            with self.subTest(value=value):
                r = self.reader.get(path, headers={"If-None-Match": value})
                self.assertEqual(r.status, status, r)
                if status == 304:
                    self.assertEqual(r.header("ETag"), etag)
                    self.assertFalse(r.raw)

    def test_write_by_another_process_changes_etag(self):
        """A key made with `polku key create` on the database of the running server is a
        commit Polku did not make: the ETags must move all the same (within a second)."""
        r = self.admin.get("/v1/keys")
        etag = r.header("ETag")
        env = {k: v for k, v in os.environ.items() if not k.startswith("POLKU_")}
        p = subprocess.run([binary_path(), "key", "create", "--scope", "read", "--name",
                            "from-the-cli", "--db", self.server.db_path], capture_output=True,
                           timeout=60, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        deadline = time.monotonic() + 30  # the server looks every 250 ms; a loaded CI is slower
        while True:
            n = self.admin.get("/v1/keys", headers={"If-None-Match": etag})
            if n.status != 304 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(n.status, 200, "stale 304 after another process wrote: %r" % n)
        self.assertIn("from-the-cli", [k["name"] for k in n.body["items"]])
        self.assertNotEqual(n.header("ETag"), etag)

    def test_if_none_match_on_missing_resource(self):
        for path in ("/v1/responses/999999", "/v1/touchpoints/nope", "/v1/journeys/nope"):
            with self.subTest(path=path):
                self.assertProblem(self.reader.get(path, headers={"If-None-Match": "*"}), 404)
                self.assertProblem(self.reader.get(path), 404)

    def test_distinct_requests_have_distinct_etags(self):
        tags = {}
        for path in self.paths():
            tags.setdefault(self.reader.get(path).header("ETag"), []).append(path)
        for tag, paths in tags.items():
            self.assertEqual(len(paths), 1, "one ETag for different reads: %s" % paths)


if __name__ == "__main__":
    unittest.main()
