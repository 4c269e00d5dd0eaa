"""An independent model of Polku's data for the end-to-end tests: random responses, time
helpers, response filtering and the metric definitions of DESIGN section 3, computed in plain
Python from the raw responses (never from the server's aggregates).
"""

import datetime as dt
import json
import math
import random
import time
import zoneinfo

UTC = dt.timezone.utc
DAY_MS = 86400 * 1000

CHANNELS = ["web", "email", "sms", "phone", "store", "chat", "app", "api"]
SEGMENTS = ["smb", "enterprise", "consumer", "public sector"]
CUSTOMERS = ["cust-%03d" % i for i in range(1, 16)] + ["Müller & Söhne/42", "a+b=c?d"]
LANGUAGES = ["fi", "en-GB", "sv", "de"]
AREAS = ["interaction", "content", "recovery", "value"]
EXPECTATIONS = ["below", "met", "exceeded"]
DIMS = ["journey", "phase", "touchpoint", "channel", "segment", "day", "week", "month"]
METRIC_FIELDS = ("nps", "csat", "ces", "expectation", "ratings")

# Touchpoints across the phases of both seeded journeys: (key, journey, phase).
TOUCHPOINTS = [
    ("ad-campaign", "purchase", "awareness"),
    ("web-compare", "purchase", "consideration"),
    ("store-visit", "purchase", "consideration"),
    ("checkout", "purchase", "purchase"),
    ("delivery", "purchase", "ownership"),
    ("installation", "purchase", "ownership"),
    ("invoice", "purchase", "ownership"),
    ("complaint-handling", "purchase", "aftercare"),
    ("newsletter", "rean", "reach"),
    ("webinar", "rean", "engage"),
    ("onboarding", "rean", "activate"),
    ("renewal", "rean", "nurture"),
]


def now_ms():
    return int(time.time() * 1000)


def tzinfo(name):
    return UTC if name in (None, "UTC", "Etc/UTC") else zoneinfo.ZoneInfo(name)


def parse_time(text):
    """RFC 3339 text (as the server renders it) -> epoch milliseconds."""
    return ms_of(dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")))


def ms_of(d):
    delta = d - dt.datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * DAY_MS + delta.seconds * 1000 + delta.microseconds // 1000


def utc_of(ms):
    return dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=ms)


def format_time(ms, style="z", offset_minutes=0):
    """ms as RFC 3339 text in one of several equivalent spellings."""
    d = utc_of(ms)
    if style == "offset":
        d = d.astimezone(dt.timezone(dt.timedelta(minutes=offset_minutes)))
        base = d.strftime("%Y-%m-%dT%H:%M:%S")
        frac = ".%03d" % (ms % 1000) if ms % 1000 else ""
        sign = "+" if offset_minutes >= 0 else "-"
        off = abs(offset_minutes)
        return "%s%s%s%02d:%02d" % (base, frac, sign, off // 60, off % 60)
    base = d.strftime("%Y-%m-%dT%H:%M:%S")
    if style == "ms" or (style == "z" and ms % 1000):
        return base + ".%03dZ" % (ms % 1000)
    return base + "Z"


def local_midnight_ms(date, tz):
    return ms_of(dt.datetime(date.year, date.month, date.day, tzinfo=tz))


def offset_changes(tz, today, days=400):
    """Local dates within `days` before today whose UTC offset differs from the day before
    (daylight saving transitions), newest first."""
    out = []
    for back in range(1, days):
        d = today - dt.timedelta(days=back)
        noon = dt.datetime(d.year, d.month, d.day, 12, tzinfo=tz)
        prev = noon - dt.timedelta(days=1)
        if noon.utcoffset() != prev.astimezone(tz).utcoffset():
            out.append(d)
    return out


def bucket(ms, dim, tz):
    d = utc_of(ms).astimezone(tz)
    if dim == "day":
        return d.strftime("%Y-%m-%d")
    if dim == "week":
        y, w, _ = d.isocalendar()
        return "%04d-W%02d" % (y, w)
    if dim == "month":
        return d.strftime("%Y-%m")
    raise ValueError(dim)


# ---- random responses ---------------------------------------------------------------------

def random_text(rng):
    words = ["great", "slow", "kiitos", "ok", "ÄÖÅ", "€100", "line\nbreak", "tab\there",
             "\"quoted\"", "emoji \U0001F600", "<b>html</b>", "=cmd()", "back\\slash"]
    return " ".join(rng.choice(words) for _ in range(rng.randint(1, 6)))


def random_response(rng, touchpoints, span_days=90, now=None, time_required=False):
    """A random valid response body (dict) and the model row for it.

    The row holds what the server should store: touchpoint, journey, phase, the metric
    fields (None when absent), channel, segment, customer, and the submitted time in ms
    (None when the body leaves it to the server)."""
    now = now if now is not None else now_ms()
    tp_key, journey, phase = rng.choice(touchpoints)
    body = {"touchpoint": tp_key}
    if rng.random() < 0.65:
        body["nps"] = rng.randint(0, 10)
    if rng.random() < 0.5:
        body["csat"] = rng.randint(1, 5)
    if rng.random() < 0.45:
        body["ces"] = rng.randint(1, 7)
    if rng.random() < 0.4:
        body["expectation"] = rng.choice(EXPECTATIONS)
    if rng.random() < 0.35:
        areas = rng.sample(AREAS, rng.randint(1, 4))
        body["ratings"] = {a: rng.randint(1, 5) for a in areas}
    if not any(f in body for f in METRIC_FIELDS):
        body[rng.choice(["nps", "csat", "ces"])] = rng.randint(1, 5)
    if rng.random() < 0.8:
        body["channel"] = rng.choice(CHANNELS)
    if rng.random() < 0.7:
        body["segment"] = rng.choice(SEGMENTS)
    if rng.random() < 0.5:
        body["customer"] = rng.choice(CUSTOMERS)
    if rng.random() < 0.3:
        body["language"] = rng.choice(LANGUAGES)
    if rng.random() < 0.3:
        body["comment"] = random_text(rng)
    if rng.random() < 0.2:
        body["properties"] = {"order": "o-%d" % rng.randint(1, 9999),
                              "amount": rng.choice([12.5, 100, 0, -3]),
                              "vip": rng.random() < 0.5, "note": None}
    submitted = None
    if time_required or rng.random() < 0.95:
        # whole seconds mostly, some with milliseconds; never in the future
        submitted = now - rng.randint(60 * 1000, span_days * DAY_MS)
        if rng.random() < 0.7:
            submitted -= submitted % 1000
        style = rng.choice(["z", "z", "ms", "offset"])
        offset = rng.choice([-300, -240, 0, 120, 180, 330])
        body["submitted_at"] = format_time(submitted, style, offset)
    row = model_row(body, journey, phase)
    row["submitted_ms"] = submitted
    return body, row


def model_row(body, journey, phase):
    ratings = body.get("ratings") or {}
    return {
        "touchpoint": body["touchpoint"],
        "journey": journey,
        "phase": phase,
        "nps": body.get("nps"),
        "csat": body.get("csat"),
        "ces": body.get("ces"),
        "expectation": body.get("expectation"),
        "ratings": {a: ratings.get(a) for a in AREAS},
        "channel": body.get("channel"),
        "segment": body.get("segment"),
        "customer": body.get("customer"),
        "submitted_ms": None,
        "id": None,
    }


# ---- filtering ------------------------------------------------------------------------------

def time_param_ms(text, tz):
    """A from/to query value (date or RFC 3339 date-time) -> ms, dates at local midnight."""
    if len(text) == 10:
        return local_midnight_ms(dt.date.fromisoformat(text), tz)
    return parse_time(text)


def filter_rows(rows, params, tz):
    out = []
    lo = time_param_ms(params["from"], tz) if "from" in params else None
    hi = time_param_ms(params["to"], tz) if "to" in params else None
    for r in rows:
        if any(f in params and r[f] != params[f]
               for f in ("journey", "phase", "touchpoint", "channel", "segment", "customer")):
            continue
        if lo is not None and r["submitted_ms"] < lo:
            continue
        if hi is not None and r["submitted_ms"] >= hi:
            continue
        out.append(r)
    return out


def random_time_param(rng, ms, tz):
    """One spelling of a from/to bound near ms: a local date or a date-time."""
    style = rng.choice(["date", "z", "ms", "offset"])
    if style == "date":
        return utc_of(ms).astimezone(tz).date().isoformat()
    return format_time(ms if style != "z" else ms - ms % 1000, style,
                       rng.choice([-420, -60, 90, 180]))


def random_range(rng, lo_ms, hi_ms, tz):
    """Random from/to params over [lo_ms, hi_ms]: both, only from, or only to."""
    while True:
        a, b = sorted(rng.randint(lo_ms, hi_ms) for _ in range(2))
        params = {"from": random_time_param(rng, a, tz), "to": random_time_param(rng, b, tz)}
        shape = rng.random()
        if shape < 0.15:
            del params["to"]
        elif shape < 0.3:
            del params["from"]
        if "from" in params and "to" in params and \
                time_param_ms(params["to"], tz) <= time_param_ms(params["from"], tz):
            continue
        return params


# ---- metrics (DESIGN section 3) -------------------------------------------------------------

def _share(count, n):
    return 100.0 * count / n


def blocks(rows):
    """The metric blocks of one group of model rows, as the API renders them."""
    out = {"n": len(rows)}
    nps = [r["nps"] for r in rows if r["nps"] is not None]
    n = len(nps)
    p = sum(1 for v in nps if v >= 9)
    d = sum(1 for v in nps if v <= 6)
    moe = None
    if n >= 2:
        ps, ds = p / n, d / n
        var = ps + ds - (ps - ds) ** 2
        moe = 1.96 * 100.0 * math.sqrt(max(var, 0.0) / n)
    out["nps"] = {"score": 100.0 * (p - d) / n if n else None, "n": n, "promoters": p,
                  "passives": n - p - d, "detractors": d, "moe95": moe}
    csat = [r["csat"] for r in rows if r["csat"] is not None]
    n = len(csat)
    out["csat"] = {"score": _share(sum(1 for v in csat if v >= 4), n) if n else None,
                   "mean": sum(csat) / n if n else None, "n": n}
    ces = [r["ces"] for r in rows if r["ces"] is not None]
    n = len(ces)
    out["ces"] = {"mean": sum(ces) / n if n else None,
                  "easy": _share(sum(1 for v in ces if v >= 5), n) if n else None, "n": n}
    ex = [r["expectation"] for r in rows if r["expectation"] is not None]
    n = len(ex)
    below, met, exceeded = (ex.count(v) for v in EXPECTATIONS)
    out["expectation"] = {"index": 100.0 * (exceeded - below) / n if n else None,
                          "below": below, "met": met, "exceeded": exceeded, "n": n}
    out["ratings"] = {}
    for a in AREAS:
        vals = [r["ratings"][a] for r in rows if r["ratings"][a] is not None]
        out["ratings"][a] = {"mean": sum(vals) / len(vals) if vals else None, "n": len(vals)}
    return out


def group_key(row, dims, tz):
    key = {}
    for d in dims:
        if d in ("day", "week", "month"):
            key[d] = bucket(row["submitted_ms"], d, tz)
        elif d == "phase":
            key["phase"] = row["phase"]
            key["journey"] = row["journey"]
        else:
            key[d] = row[d]
    return key


def canon(key):
    return json.dumps(key, sort_keys=True, ensure_ascii=False)


def expected_metrics(rows, dims, tz):
    """{"groups": {canonical key: (key, blocks)}, "total": blocks}."""
    groups = {}
    if dims:
        members = {}
        for r in rows:
            k = group_key(r, dims, tz)
            members.setdefault(canon(k), (k, []))[1].append(r)
        groups = {c: (k, blocks(rs)) for c, (k, rs) in members.items()}
    return {"groups": groups, "total": blocks(rows)}


def close(a, b, rel=1e-9):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)


def diff_blocks(actual, expected, where=""):
    """Human-readable differences between a group as served and as modelled ([] if none)."""
    problems = []

    def walk(a, e, path):
        if isinstance(e, dict):
            if not isinstance(a, dict):
                problems.append("%s%s: expected an object, got %r" % (where, path, a))
                return
            for k, v in e.items():
                if k == "moe95" and v is None and k not in a:
                    continue  # DESIGN: omitted or null when n < 2
                if k not in a:
                    problems.append("%s%s/%s: missing" % (where, path, k))
                    continue
                walk(a[k], v, path + "/" + k)
        elif isinstance(e, float) or isinstance(a, float):
            if not close(a, e):
                problems.append("%s%s: got %r, expected %r" % (where, path, a, e))
        else:
            if a != e or type(a) is not type(e):
                problems.append("%s%s: got %r, expected %r" % (where, path, a, e))

    walk(actual, expected, "")
    return problems


def seeded(name):
    """A deterministic Random for a named test."""
    return random.Random("polku-e2e:" + name)
