"""End-to-end harness: starts the real polku binary on loopback and talks HTTP to it.

A Server runs `BINARY serve --listen 127.0.0.1:0 --db TMP/polku.db` with a random
POLKU_ADMIN_KEY, waits for the JSON log line {"msg":"listening","port":N} on stderr and keeps
draining stderr into a buffer. stop() sends SIGTERM and checks that the process exits 0 without
any sanitizer report. ServerTestCase gives every TestCase class one server (setUpClass).

Only the Python standard library is used.
"""

import atexit
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0

_live = set()
_tmpdirs = set()  # every directory a Server made; removed when the run ends


def rollup_zone(db_path):
    """The time zone the database's rollups were built for (meta.rollup_tz), read directly."""
    import sqlite3
    db = sqlite3.connect(db_path)
    try:
        row = db.execute("SELECT value FROM meta WHERE name = 'rollup_tz'").fetchone()
    finally:
        db.close()
    return row[0] if row else None


def stop_pair(first, second):
    """Stops two servers on one database: second (if it was started) leaves the directory they
    share, then first removes it."""
    if second:
        second.stop(cleanup=False)
    first.stop()


def binary_path():
    """The binary under test: $POLKU_E2E_BINARY (set by run.py) or build/polku-san."""
    path = os.environ.get("POLKU_E2E_BINARY") or os.path.join(REPO, "build", "polku-san")
    return os.path.abspath(path)


@atexit.register
def _kill_leftovers():
    for proc in list(_live):
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for path in list(_tmpdirs):
        shutil.rmtree(path, ignore_errors=True)


class Response:
    """One HTTP reply. Unpacks as (status, headers, body); body is parsed JSON for JSON
    content types, text otherwise, None when empty."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers  # http.client.HTTPMessage: case-insensitive get()
        self.raw = raw
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        self.content_type = ctype
        if not raw:
            self.body = None
        elif ctype in ("application/json", "application/problem+json"):
            self.body = json.loads(raw.decode("utf-8"))
        else:
            self.body = raw.decode("utf-8", "replace")

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def header(self, name):
        return self.headers.get(name)

    def __repr__(self):
        text = self.raw[:400].decode("utf-8", "replace") if self.raw else ""
        return "<%d %s>" % (self.status, text)


_DEFAULT = object()


class Client:
    """A keep-alive HTTP/1.1 client for one server and (by default) one API key."""

    def __init__(self, port, key=None, host="127.0.0.1", timeout=60):
        self.host = host
        self.port = port
        self.key = key
        self.timeout = timeout
        self._conn = None

    def with_key(self, key):
        return Client(self.port, key, self.host, self.timeout)

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self):
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            return self._conn, True
        return self._conn, False

    def request(self, method, path, body=None, headers=None, key=_DEFAULT, data=None,
                params=None, content_type="application/json"):
        """Sends one request. body (dict/list/...) is sent as JSON; data (bytes/str) is sent
        as is; params are appended as a percent-encoded query. key=None sends no
        Authorization header; by default the client's key is used."""
        if params:
            sep = "&" if "?" in path else "?"
            path = path + sep + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        hdrs = {}
        key = self.key if key is _DEFAULT else key
        if key is not None:
            hdrs["Authorization"] = "Bearer " + key
        payload = None
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
        elif data is not None:
            payload = data.encode("utf-8") if isinstance(data, str) else data
        if payload is not None and content_type is not None:
            hdrs["Content-Type"] = content_type
        if headers:
            hdrs.update(headers)
        for attempt in (0, 1):
            conn, fresh = self._connection()
            try:
                try:
                    conn.request(method, path, body=payload, headers=hdrs)
                except (BrokenPipeError, ConnectionResetError) as err:
                    # The server may answer (413) and close before reading a large body:
                    # what it sent is still readable unless the connection was reset.
                    if not payload or len(payload) < 65536:
                        raise
                    try:
                        resp = conn.getresponse()
                        raw = resp.read()
                    except (OSError, http.client.HTTPException):
                        raise err from None
                    self.close()
                    return Response(resp.status, resp.headers, raw)
                resp = conn.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                self.close()
                if fresh or attempt == 1:
                    raise
                continue  # a kept-alive connection the server closed meanwhile: retry once
            if resp.will_close:
                self.close()
            return Response(resp.status, resp.headers, raw)
        raise AssertionError("unreachable")

    # shorthands
    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def raw_exchange(self, data, timeout=10.0, shutdown_write=False):
        """Writes raw bytes on a fresh socket and returns everything read until the server
        closes or the timeout passes. Errors while writing (the server may close early) are
        ignored; what was read is returned."""
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        out = b""
        try:
            try:
                if isinstance(data, (bytes, bytearray)):
                    data = [data]
                for piece in data:
                    sock.sendall(piece)
                if shutdown_write:
                    sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    break
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
                if _complete_http_response(out):
                    break
        finally:
            sock.close()
        return out


def _complete_http_response(buf):
    head, sep, rest = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return len(rest) >= int(value.strip())
            except ValueError:
                return False
    return False


def parse_raw_response(buf):
    """(status, {lower-case header: value}, body bytes) of a raw HTTP/1.1 response, or None."""
    head, sep, rest = buf.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("iso-8859-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        return None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers, rest


class Server:
    """One polku process with its own temporary database."""

    def __init__(self, args=(), env=None, binary=None, tmpdir=None, admin_key=None):
        self.binary = binary or binary_path()
        self.args = list(args)
        self.extra_env = dict(env or {})
        self.admin_key = admin_key or ("e2e-admin-" + secrets.token_hex(16))
        self.tmpdir = tmpdir  # reuse a stopped server's directory (and database) when given
        self.proc = None
        self.port = None
        self.listening = None
        self._stderr = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._reader = None

    @property
    def db_path(self):
        return os.path.join(self.tmpdir, "polku.db")

    def start(self):
        if not os.access(self.binary, os.X_OK):
            raise RuntimeError("binary %s is missing; build it with make build/polku-san"
                               % self.binary)
        if self.tmpdir is None:
            self.tmpdir = tempfile.mkdtemp(prefix="polku-e2e-")
            _tmpdirs.add(self.tmpdir)
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        for name in [n for n in env if n.startswith("POLKU_")]:
            del env[name]  # only what the test asks for
        env["POLKU_ADMIN_KEY"] = self.admin_key
        env.update(self.extra_env)
        cmd = [self.binary, "serve", "--listen", "127.0.0.1:0", "--db", self.db_path] + self.args
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _live.add(self.proc)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        if not self._ready.wait(START_TIMEOUT) or self.port is None:
            exited = self.proc.poll()
            self.proc.kill()
            self.proc.wait()
            _live.discard(self.proc)
            why = ("exited with code %s before listening" % exited if exited is not None
                   else "did not report listening within %ss" % START_TIMEOUT)
            raise RuntimeError("polku %s; stderr:\n%s" % (why, self.stderr_text()[-4000:]))
        return self

    def _drain(self):
        for line in iter(self.proc.stderr.readline, b""):
            text = line.decode("utf-8", "replace")
            with self._lock:
                self._stderr.append(text)
            if self.port is None:
                try:
                    doc = json.loads(text)
                except ValueError:
                    continue
                if isinstance(doc, dict) and doc.get("msg") == "listening":
                    self.listening = doc
                    self.port = int(doc["port"])
                    self._ready.set()
        self._ready.set()  # the process ended: wake start() either way

    def cleanup_dir(self):
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def stderr_text(self):
        with self._lock:
            return "".join(self._stderr)

    def log_records(self):
        out = []
        for line in self.stderr_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def client(self, key=_DEFAULT):
        return Client(self.port, self.admin_key if key is _DEFAULT else key)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, cleanup=True):
        """Stops the server; returns (exit code, stderr). Raises AssertionError unless it
        exits 0 within STOP_TIMEOUT seconds and printed no sanitizer report."""
        if self.proc is None:
            return None, ""
        problems = []
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problems.append("did not exit within %ss of SIGTERM" % STOP_TIMEOUT)
        else:
            problems.append("had already exited (code %s) before SIGTERM" % self.proc.returncode)
        _live.discard(self.proc)
        if self._reader is not None:
            self._reader.join(5)
        code = self.proc.returncode
        text = self.stderr_text()
        if code != 0 and not problems:
            problems.append("exited with code %s" % code)
        for marker in SANITIZER_MARKERS:
            if marker in text:
                problems.append("stderr contains %r" % marker)
        self.proc = None
        if self.tmpdir and cleanup:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        if problems:
            tail = "\n".join(l for l in text.splitlines() if '"msg":"request"' not in l)
            raise AssertionError("polku %s\n--- stderr (request lines omitted) ---\n%s"
                                 % ("; ".join(problems), tail[-6000:]))
        return code, text


class ServerTestCase(unittest.TestCase):
    """One server per TestCase class. Subclasses may set server_args / server_env."""

    server_args = ()
    server_env = {}
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Server(cls.server_args, cls.server_env).start()
        cls.port = cls.server.port
        cls.admin = cls.server.client()
        cls.anon = cls.server.client(key=None)
        try:
            cls.prepare()
        except BaseException:
            try:
                cls.server.stop()
            except AssertionError:
                pass
            raise

    @classmethod
    def prepare(cls):
        """Class-level fixtures, run once after the server is up."""

    @classmethod
    def tearDownClass(cls):
        for c in (getattr(cls, "admin", None), getattr(cls, "anon", None)):
            if c is not None:
                c.close()
        cls.server.stop()
        super().tearDownClass()

    # ---- helpers shared by the suites ----------------------------------------------------

    @classmethod
    def make_key(cls, scope, name=None, origins=None):
        body = {"scope": scope, "name": name or ("e2e-" + scope)}
        if origins is not None:
            body["origins"] = origins
        r = cls.admin.post("/v1/keys", body)
        if r.status != 201:
            raise AssertionError("creating a %s key: %r" % (scope, r))
        return r.body

    @classmethod
    def client_for(cls, scope, **kw):
        return cls.server.client(cls.make_key(scope, **kw)["key"])

    @classmethod
    def make_touchpoint(cls, key, journey, phase, name=None, description=None):
        body = {"key": key, "name": name or key.replace("-", " ").title(), "journey": journey,
                "phase": phase}
        if description is not None:
            body["description"] = description
        r = cls.admin.post("/v1/touchpoints", body)
        if r.status != 201:
            raise AssertionError("creating touchpoint %s: %r" % (key, r))
        return r.body

    def list_all(self, path, params=None, client=None, limit=1000):
        """Every item of a paged list, following next_cursor."""
        client = client or self.admin
        params = dict(params or {})
        params["limit"] = str(limit)
        items = []
        for _ in range(10000):
            r = client.get(path, params=params)
            self.assertEqual(r.status, 200, r)
            items.extend(r.body["items"])
            if not r.body.get("next_cursor"):
                return items
            params["cursor"] = r.body["next_cursor"]
        self.fail("paging did not end")

    def count_responses(self):
        return len(self.list_all("/v1/responses"))

    def count_touchpoints(self):
        return len(self.list_all("/v1/touchpoints"))

    def snapshot(self):
        """What is stored, for 'a rejected request changes nothing' checks."""
        return {
            "responses": [r["id"] for r in self.list_all("/v1/responses")],
            "touchpoints": sorted((t["key"], t["name"], t["phase"], t["updated_at"])
                                  for t in self.list_all("/v1/touchpoints")),
            "journeys": json.dumps(self.admin.get("/v1/journeys").body, sort_keys=True),
            "keys": sorted(k["id"] for k in self.admin.get("/v1/keys").body["items"]),
        }

    def assertProblem(self, resp, status, pointer=None, msg=None):
        """resp is an RFC 9457 problem document with the given status (and, when pointer is
        given, a validation error naming it)."""
        ctx = "%s: %r" % (msg, resp) if msg else repr(resp)
        self.assertEqual(resp.status, status, ctx)
        self.assertEqual(resp.content_type, "application/problem+json", ctx)
        body = resp.body
        self.assertIsInstance(body, dict, ctx)
        for field in ("type", "title", "status", "detail"):
            self.assertIn(field, body, ctx)
        self.assertIsInstance(body["type"], str, ctx)
        self.assertIsInstance(body["title"], str, ctx)
        self.assertIsInstance(body["detail"], str, ctx)
        self.assertTrue(body["title"] and body["detail"], ctx)
        self.assertEqual(body["status"], status, ctx)
        if pointer is not None:
            errors = body.get("errors")
            self.assertIsInstance(errors, list, ctx)
            self.assertTrue(errors, ctx)
            for item in errors:
                self.assertIsInstance(item.get("pointer"), str, ctx)
                self.assertIsInstance(item.get("detail"), str, ctx)
            self.assertIn(pointer, [e["pointer"] for e in errors], ctx)
        return body
