/*
 * api/blocks.c: the metric blocks written as text are, byte for byte, what jansson dumps for
 * the same blocks built as a tree (the way GET /v1/metrics rendered them before; built here
 * again as the reference), with and without targets in scope, for empty and random
 * histograms; blocks_add gives the same members as a tree.
 */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "blocks.h"
#include "check_main.h"
#include "util.h"

static json_t *ref_opt(struct opt o)
{
    return o.has ? json_real(o.value) : json_null();
}

/* "target" for the block of metric, as the reference adds it. */
static void ref_target(json_t *block, const char *metric, struct opt score,
                       const struct target_set *ts, const struct scope *sc)
{
    const struct target *t = ts ? targets_find(ts, metric, sc) : NULL;

    if (t)
        json_object_set_new(
            block, "target",
            json_pack("{s:f, s:o}", "value", t->value, "met",
                      score.has ? json_boolean(score.value >= t->value) : json_null()));
}

static json_t *ref_blocks(const struct hist *h, const struct target_set *ts, const struct scope *sc)
{
    struct nps_result nps;
    struct csat_result csat;
    struct ces_result ces;
    struct expectation_result ex;
    json_t *obj = json_object(), *ratings = json_object(), *b;

    metrics_nps(h, &nps);
    metrics_csat(h, &csat);
    metrics_ces(h, &ces);
    metrics_expectation(h, &ex);
    json_object_set_new(obj, "n", json_integer(h->n));
    b = json_pack("{s:o, s:I, s:I, s:I, s:I, s:o}", "score", ref_opt(nps.score), "n",
                  (json_int_t)nps.n, "promoters", (json_int_t)nps.promoters, "passives",
                  (json_int_t)nps.passives, "detractors", (json_int_t)nps.detractors, "moe95",
                  ref_opt(nps.moe95));
    ref_target(b, "nps", nps.score, ts, sc);
    json_object_set_new(obj, "nps", b);
    b = json_pack("{s:o, s:o, s:I}", "score", ref_opt(csat.score), "mean", ref_opt(csat.mean), "n",
                  (json_int_t)csat.n);
    ref_target(b, "csat", csat.score, ts, sc);
    json_object_set_new(obj, "csat", b);
    b = json_pack("{s:o, s:o, s:I}", "mean", ref_opt(ces.mean), "easy", ref_opt(ces.easy), "n",
                  (json_int_t)ces.n);
    ref_target(b, "ces", ces.mean, ts, sc);
    json_object_set_new(obj, "ces", b);
    b = json_pack("{s:o, s:I, s:I, s:I, s:I}", "index", ref_opt(ex.index), "below",
                  (json_int_t)ex.below, "met", (json_int_t)ex.met, "exceeded",
                  (json_int_t)ex.exceeded, "n", (json_int_t)ex.n);
    ref_target(b, "expectation", ex.index, ts, sc);
    json_object_set_new(obj, "expectation", b);
    for (int a = 0; a < RATING_AREAS; a++) {
        struct rating_result r;

        metrics_rating(h, (enum rating_area)a, &r);
        json_object_set_new(ratings, metrics_rating_name((enum rating_area)a),
                            json_pack("{s:o, s:I}", "mean", ref_opt(r.mean), "n", (json_int_t)r.n));
    }
    json_object_set_new(obj, "ratings", ratings);
    return obj;
}

static uint64_t rng = 88172645463325252ULL;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Random counts, many of them 0 (so that some blocks have no score). */
static void random_hist(struct hist *h)
{
    int64_t *v = (int64_t *)(void *)h;
    size_t n = sizeof(*h) / sizeof(int64_t);

    memset(h, 0, sizeof(*h));
    for (size_t i = 1; i < n; i++)
        v[i] = next() % 3 == 0 ? 0 : (int64_t)(next() % 5000);
    h->n = (int64_t)(next() % 100000);
}

static struct target target(const char *metric, double value, const char *journey,
                            const char *phase, const char *touchpoint)
{
    struct target t = {0};

    t.metric = xstrdup(metric);
    t.value = value;
    t.journey = journey ? xstrdup(journey) : NULL;
    t.phase = phase ? xstrdup(phase) : NULL;
    t.touchpoint = touchpoint ? xstrdup(touchpoint) : NULL;
    return t;
}

/* The text of blocks_write as an object, and the reference's dump, compared. */
static void check_same(const struct hist *h, const struct target_set *ts, const struct scope *sc)
{
    json_t *ref = ref_blocks(h, ts, sc), *added = json_object();
    char *want = json_dumps(ref, JSON_COMPACT), *got, *got_tree;
    struct jw w;

    jw_init(&w);
    jw_raw(&w, "{");
    blocks_write(&w, h, ts, sc);
    jw_raw(&w, "}");
    got = jw_take(&w);
    ck_assert_str_eq(got, want);
    blocks_add(added, h, ts, sc);
    got_tree = json_dumps(added, JSON_COMPACT);
    ck_assert_str_eq(got_tree, want);
    free(want);
    free(got);
    free(got_tree);
    json_decref(ref);
    json_decref(added);
}

START_TEST(test_blocks_match_the_tree)
{
    struct target items[5];
    struct target_set ts = {items, 5};
    static const struct scope scopes[] = {
        {NULL, NULL, NULL},
        {"purchase", NULL, NULL},
        {"purchase", "purchase", NULL},
        {"purchase", "purchase", "checkout"},
        {"service", "aftercare", "support-call"},
    };
    struct hist h;

    items[0] = target("nps", 20, NULL, NULL, NULL);
    items[1] = target("csat", 70.5, NULL, NULL, "checkout");
    items[2] = target("ces", 4.25, "purchase", NULL, NULL);
    items[3] = target("expectation", -5, NULL, NULL, NULL);
    items[4] = target("nps", 33.3, "purchase", "purchase", NULL);
    memset(&h, 0, sizeof(h));
    for (size_t s = 0; s < sizeof(scopes) / sizeof(scopes[0]); s++) {
        check_same(&h, &ts, &scopes[s]); /* empty: every score null, met null */
        check_same(&h, NULL, &scopes[s]);
    }
    /* NPS exactly at the global target (3 promoters, 6 passives, 1 detractor: 20): met */
    h.n = 10;
    h.nps[10] = 3;
    h.nps[7] = 6;
    h.nps[0] = 1;
    check_same(&h, &ts, &scopes[0]);
    {
        struct jw w;
        char *text;

        jw_init(&w);
        blocks_write(&w, &h, &ts, &scopes[0]);
        text = jw_take(&w);
        ck_assert_ptr_nonnull(strstr(text, "\"target\":{\"value\":20.0,\"met\":true}"));
        free(text);
    }
    for (int i = 0; i < 2000; i++) {
        random_hist(&h);
        check_same(&h, &ts, &scopes[i % 5]);
        check_same(&h, NULL, &scopes[i % 5]);
    }
    for (size_t i = 0; i < ts.n; i++)
        target_release(&items[i]);
}
END_TEST

static Suite *blocks_suite(void)
{
    Suite *s = suite_create("blocks");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_blocks_match_the_tree);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(blocks_suite)
