/*
 * The benchmark's bulk loader: fills a Polku database with N realistic responses through
 * Polku's own store (server/store.h), so the rollup triggers and their polku_day() and
 * polku_month() functions run exactly as in the server. Built and run by tests/bench/run.sh.
 *
 *   load DB N [NOW_MS]
 *
 * Creates DB (which must not exist), 20 touchpoints spread over the phases of the seeded
 * journeys `purchase` and `rean`, then N responses, BATCH at a time and INFLIGHT batches queued
 * at once; the group-commit writer takes every queued write into one transaction. Each batch
 * is queued as BATCH writes of one response (WRITE_ROWS), which keeps SQLite's statement
 * journal small (see main).
 * submitted_at is spread uniformly over the 365 days before NOW_MS (default: now), in time
 * order as responses arrive in life; 8 channels, 4 segments, random subsets of the metric
 * fields. The data are deterministic for a given N and NOW_MS (fixed seed).
 *
 * Prints one JSON line: {"rows", "seconds", "rows_per_s", "now_ms", "touchpoints"}.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

#define BATCH      5000
#define INFLIGHT   4
#define WRITE_ROWS 1 /* see the statement journal note in main */
#define DAY_MS     (86400LL * 1000)
#define SPAN_MS    (365 * DAY_MS)
#define CUSTOMERS  400000

/* key, name, journey, phase, NPS bias (-2 .. +2: how well this touchpoint performs) */
static const struct {
    const char *key, *name, *journey, *phase;
    int bias;
} touchpoints[] = {
    {"ad-campaign", "Ad campaign", "purchase", "awareness", 0},
    {"website-visit", "Website visit", "purchase", "awareness", 1},
    {"product-page", "Product page", "purchase", "consideration", 1},
    {"comparison-tool", "Comparison tool", "purchase", "consideration", -1},
    {"store-visit", "Store visit", "purchase", "consideration", 2},
    {"checkout", "Checkout", "purchase", "purchase", 0},
    {"payment", "Payment", "purchase", "purchase", -1},
    {"order-confirmation", "Order confirmation", "purchase", "purchase", 1},
    {"delivery", "Delivery", "purchase", "ownership", -2},
    {"installation", "Installation", "purchase", "ownership", 1},
    {"first-use", "First use", "purchase", "ownership", 0},
    {"support-call", "Support call", "purchase", "aftercare", -1},
    {"returns", "Returns", "purchase", "aftercare", -2},
    {"warranty-claim", "Warranty claim", "purchase", "aftercare", -1},
    {"social-ad", "Social ad", "rean", "reach", 0},
    {"newsletter", "Newsletter", "rean", "engage", 1},
    {"webinar", "Webinar", "rean", "engage", 2},
    {"trial-signup", "Trial signup", "rean", "activate", 0},
    {"onboarding", "Onboarding", "rean", "activate", -1},
    {"loyalty-program", "Loyalty program", "rean", "nurture", 2},
};
#define NTOUCHPOINTS (sizeof(touchpoints) / sizeof(touchpoints[0]))

static const char *const channels[] = {"web",   "email", "sms", "phone",
                                       "store", "chat",  "app", "api"};
static const char *const segments[] = {"consumer", "smb", "enterprise", "public"};
static const char *const languages[] = {"fi", "sv", "en", "de"};
static const char *const comments[] = {
    "Quick and tidy",      "Took far too long",
    "Friendly staff",      "Could not find what I needed",
    "Great value",         "The app crashed twice",
    "Exactly as promised", "Nobody called back",
};

/* ---- deterministic random numbers (splitmix64) ---------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static int rng_below(int n)
{
    return (int)(rng_next() % (uint64_t)n);
}

/* True with probability pct / 100. */
static int rng_pct(int pct)
{
    return rng_below(100) < pct;
}

static int clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- generation ---------------------------------------------------------------------------- */

/* Fills r as response number i of n; submitted_at rises with i, uniform over the span. */
static void gen_response(struct response *r, int64_t i, int64_t n, int64_t start_ms)
{
    size_t t = (size_t)rng_below((int)NTOUCHPOINTS);
    int bias = touchpoints[t].bias;
    char buf[32];
    int any = 0;

    response_init(r);
    r->touchpoint = xstrdup(touchpoints[t].key);
    if (rng_pct(80)) {
        /* skewed to the top like real NPS answers, shifted per touchpoint */
        static const int dist[] = {0, 1, 2, 3, 4, 5, 6, 6, 7, 7, 8, 8, 8, 9, 9, 9, 10, 10, 10, 10};
        r->nps = clamp(dist[rng_below(20)] + bias + rng_below(3) - 1, 0, 10);
        any = 1;
    }
    if (rng_pct(60)) {
        r->csat = clamp(rng_below(5) + 1 + (bias > 0) - (bias < -1), 1, 5);
        any = 1;
    }
    if (rng_pct(40)) {
        r->ces = clamp(rng_below(7) + 1 + bias / 2, 1, 7);
        any = 1;
    }
    if (rng_pct(50)) {
        r->expectation = clamp(rng_below(3) + (bias > 1) - (bias < -1), 0, 2);
        any = 1;
    }
    for (int a = 0; a < RATING_AREAS; a++) {
        if (rng_pct(30)) {
            r->rating[a] = clamp(rng_below(5) + 1 + bias / 2, 1, 5);
            any = 1;
        }
    }
    if (!any)
        r->nps = clamp(7 + bias, 0, 10);
    if (rng_pct(92))
        r->channel = xstrdup(channels[rng_below(8)]);
    if (rng_pct(90))
        r->segment = xstrdup(segments[rng_below(4)]);
    if (rng_pct(60)) {
        snprintf(buf, sizeof(buf), "crm-%d", rng_below(CUSTOMERS));
        r->customer = xstrdup(buf);
    }
    if (rng_pct(30))
        r->language = xstrdup(languages[rng_below(4)]);
    if (rng_pct(10))
        r->comment = xstrdup(comments[rng_below(8)]);
    /* stratified: uniform over the span, increasing with i */
    r->submitted_at = start_ms + (int64_t)(((double)i + (double)(rng_next() % 1000) / 1000.0) *
                                           (double)SPAN_MS / (double)n);
}

/* ---- writes in flight ---------------------------------------------------------------------- */

struct slot {
    struct response rs[BATCH];
    struct store_write ws[BATCH]; /* one write per WRITE_ROWS responses */
    size_t n, nwrites;
    size_t pending; /* writes not yet committed */
};

static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slot_cond = PTHREAD_COND_INITIALIZER;
static int failed;

/* Writer thread: a write committed (or failed). */
static void slot_done(struct store_write *w)
{
    struct slot *sl = w->ctx;

    pthread_mutex_lock(&slot_lock);
    if (w->rc != 0) {
        fprintf(stderr, "load: a write failed: %s\n", w->err.detail);
        failed = 1;
    }
    if (--sl->pending == 0)
        pthread_cond_broadcast(&slot_cond);
    pthread_mutex_unlock(&slot_lock);
}

/* Waits until every write of sl has committed and releases what it held. */
static void slot_wait(struct slot *sl)
{
    pthread_mutex_lock(&slot_lock);
    while (sl->pending)
        pthread_cond_wait(&slot_cond, &slot_lock);
    pthread_mutex_unlock(&slot_lock);
    for (size_t i = 0; i < sl->n; i++)
        response_release(&sl->rs[i]);
    for (size_t i = 0; i < sl->nwrites; i++)
        err_release(&sl->ws[i].err);
    sl->n = sl->nwrites = 0;
}

/* Queues the responses of sl as writes of at most WRITE_ROWS each. */
static void slot_submit(struct store *s, struct slot *sl)
{
    size_t i;

    for (i = 0; i * WRITE_ROWS < sl->n; i++) {
        size_t first = i * WRITE_ROWS;

        sl->ws[i] =
            (struct store_write){.responses = &sl->rs[first],
                                 .n = sl->n - first < WRITE_ROWS ? sl->n - first : WRITE_ROWS,
                                 .done = slot_done,
                                 .ctx = sl};
    }
    sl->nwrites = i;
    pthread_mutex_lock(&slot_lock);
    sl->pending = sl->nwrites;
    pthread_mutex_unlock(&slot_lock);
    for (i = 0; i < sl->nwrites; i++)
        store_write_submit(s, &sl->ws[i]);
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct store *s = NULL;
    struct slot *slots = NULL;
    struct err e;
    long long n = 0, now_ms = 0;
    int64_t start_ms;
    double t0, t1;
    int ret = 1;

    if (argc < 3 || argc > 4 || util_parse_int(argv[2], 0, 1000000000LL, &n) < 0 ||
        (argc == 4 && util_parse_int(argv[3], 1, INT64_MAX, &now_ms) < 0)) {
        fprintf(stderr, "usage: load DB N [NOW_MS]\n");
        return 2;
    }
    if (access(argv[1], F_OK) == 0) {
        fprintf(stderr, "load: %s exists; the loader only fills new databases\n", argv[1]);
        return 2;
    }
    if (argc < 4)
        now_ms = util_now_ms();
    start_ms = now_ms - SPAN_MS;
    /* Every INSERT in the writer's transaction keeps a statement journal of the pages it
     * touches. Past 64 KiB (SQLite's default) the journal spills to a temporary file and stays
     * a file for the rest of the transaction, which here holds thousands of writes: measured,
     * 5 pwrite() calls per row instead of 1, and 30% of the load time. Writes of one row stay
     * far below 1 MiB, so with this limit the journal stays in memory. (Writes of 1,000 rows
     * with this limit failed with SQLITE_FULL on SQLite 3.40.1: keep WRITE_ROWS at 1.) */
    sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, 1 << 20);
    /* The server's default reporting time zone: the rollups are built for it. */
    setenv("TZ", "UTC", 1);
    tzset();
    err_init(&e);
    t0 = mono_s();
    if (store_open(argv[1], NULL, &s, &e) < 0) {
        fprintf(stderr, "load: %s\n", e.detail);
        goto done;
    }
    for (size_t i = 0; i < NTOUCHPOINTS; i++) {
        struct touchpoint t = {0};

        t.key = xstrdup(touchpoints[i].key);
        t.name = xstrdup(touchpoints[i].name);
        t.journey = xstrdup(touchpoints[i].journey);
        t.phase = xstrdup(touchpoints[i].phase);
        if (store_touchpoint_create(s, &t, &e) < 0) {
            fprintf(stderr, "load: touchpoint %s: %s\n", touchpoints[i].key, e.detail);
            touchpoint_release(&t);
            goto done;
        }
        touchpoint_release(&t);
    }
    slots = xcalloc(INFLIGHT, sizeof(*slots));
    for (int64_t i = 0, k = 0; i < n && !failed; k++) {
        struct slot *sl = &slots[k % INFLIGHT];

        slot_wait(sl);
        while (sl->n < BATCH && i < n)
            gen_response(&sl->rs[sl->n++], i++, n, start_ms);
        slot_submit(s, sl);
        if (isatty(2) && (k + 1) % 200 == 0)
            fprintf(stderr, "\rload: %lld of %lld", (long long)i, n);
    }
    for (int k = 0; k < INFLIGHT; k++)
        slot_wait(&slots[k]);
    if (isatty(2) && n >= 200 * BATCH)
        fprintf(stderr, "\r");
    if (failed)
        goto done;
    store_close(s); /* checkpoints the WAL into the file */
    s = NULL;
    t1 = mono_s();
    printf("{\"rows\": %lld, \"seconds\": %.2f, \"rows_per_s\": %.0f, \"now_ms\": %lld, "
           "\"touchpoints\": %zu}\n",
           n, t1 - t0, (double)n / (t1 - t0 > 0 ? t1 - t0 : 1e-9), now_ms, NTOUCHPOINTS);
    ret = 0;
done:
    store_close(s);
    free(slots);
    err_release(&e);
    return ret;
}
