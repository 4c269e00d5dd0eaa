"""The command line: --help, --version, bad options, `polku key create` on the database file,
the bootstrap admin key printed once on the first start of an empty database, and a bad
reporting time zone refused at start.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import Client, Server, binary_path, rollup_zone


def run(*args, env=None, timeout=60):
    e = {k: v for k, v in os.environ.items() if not k.startswith("POLKU_")}
    e.update(env or {})
    return subprocess.run([binary_path()] + list(args), capture_output=True, timeout=timeout,
                          env=e)


class CliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="polku-cli-")
        self.db = os.path.join(self.tmp, "polku.db")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_help_and_version(self):
        p = run("--help")
        self.assertEqual(p.returncode, 0)
        for word in (b"serve", b"POLKU_LISTEN", b"POLKU_DB", b"POLKU_TZ", b"POLKU_ADMIN_KEY",
                     b"--commit-mode", b"--idempotency-ttl", b"POLKU_IDEMPOTENCY_TTL",
                     b"--idempotency-memory", b"POLKU_IDEMPOTENCY_MEMORY",
                     b"key create", b"rollup rebuild"):
            self.assertIn(word, p.stdout)
        p = run("--version")
        self.assertEqual(p.returncode, 0)
        self.assertRegex(p.stdout.decode(), r"^polku \d+\.\d+\.\d+\n$")

    def test_bad_usage(self):
        self.assertEqual(run("serve", "--bogus", "1").returncode, 2)
        self.assertEqual(run("serve", "--threads", "zero").returncode, 2)
        p = run("serve", "--checkpoint-pages", "10")
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"--checkpoint-pages", p.stderr)
        self.assertEqual(run("serve", "--checkpoint-stall-ms", "-1").returncode, 2)
        p = run("serve", "--idempotency-ttl", "0")
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"--idempotency-ttl", p.stderr)
        p = run("serve", "--idempotency-memory", "0")
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"--idempotency-memory", p.stderr)
        self.assertEqual(run("frobnicate").returncode, 2)
        p = run("key", "create", "--scope", "root", "--db", self.db)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"--scope", p.stderr)

    def test_key_create_works_against_the_server(self):
        p = run("key", "create", "--scope", "read", "--name", "dash", "--db", self.db)
        self.assertEqual(p.returncode, 0, p.stderr)
        key = p.stdout.decode().strip()
        self.assertRegex(key, r"^plk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$")
        server = Server(tmpdir=self.tmp).start()
        try:
            c = Client(server.port, key)
            self.assertEqual(c.get("/v1/journeys").status, 200)
            self.assertEqual(c.get("/v1/keys").status, 403)  # a read key
            c.close()
        finally:
            server.stop(cleanup=False)

    def test_key_create_leaves_the_rollups_of_a_server_of_another_zone(self):
        """`polku key create` without the server's POLKU_TZ: the rollups stay of the server's
        zone (the command used to rebuild them for its own, and the server then back)."""
        server = Server(["--tz", "Europe/Helsinki"], tmpdir=self.tmp).start()
        try:
            admin = server.client()
            etag = admin.get("/v1/keys").header("ETag")
            p = run("key", "create", "--scope", "read", "--db", self.db)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(rollup_zone(self.db), "Europe/Helsinki")
            # the server's checkpointer has seen the other process's commit (the ETag moves
            # when it looks; polled, a loaded machine is slower), and a tick later it would
            # have logged a rebuild had the command changed the rollups' zone
            deadline = time.monotonic() + 30
            while (admin.get("/v1/keys", headers={"If-None-Match": etag}).status == 304
                   and time.monotonic() < deadline):
                time.sleep(0.05)
            admin.close()
            time.sleep(1)
            self.assertEqual(rollup_zone(self.db), "Europe/Helsinki")
            self.assertNotIn("rebuilding them", server.stderr_text())
            c = Client(server.port, p.stdout.decode().strip())
            self.assertEqual(c.get("/v1/metrics").status, 200)
            c.close()
        finally:
            server.stop(cleanup=False)

    def test_bootstrap_admin_key_printed_once(self):
        def start():
            env = {k: v for k, v in os.environ.items() if not k.startswith("POLKU_")}
            proc = subprocess.Popen([binary_path(), "serve", "--listen", "127.0.0.1:0", "--db",
                                     self.db], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env=env)
            deadline = time.monotonic() + 30
            line = b""
            while time.monotonic() < deadline:
                line = proc.stderr.readline()
                if b'"listening"' in line:
                    break
            proc.terminate()
            out, _ = proc.communicate(timeout=30)
            self.assertEqual(proc.returncode, 0)
            port = int(re.search(rb'"port":(\d+)', line).group(1))
            return out.decode(), port

        out, _ = start()
        keys = re.findall(r"plk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", out)
        self.assertEqual(len(keys), 1, out)
        again, _ = start()
        self.assertNotIn("plk_", again)  # shown only on the first start
        server = Server(tmpdir=self.tmp).start()
        try:
            c = Client(server.port, keys[0])
            self.assertEqual(c.get("/v1/keys").status, 200)  # it is an admin key
            c.close()
        finally:
            server.stop(cleanup=False)

    def test_unknown_time_zone_refused(self):
        p = run("serve", "--listen", "127.0.0.1:0", "--db", self.db,
                env={"POLKU_TZ": "Mars/Olympus_Mons", "POLKU_ADMIN_KEY": "x"})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"time zone", p.stderr)


if __name__ == "__main__":
    unittest.main()
