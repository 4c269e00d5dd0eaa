/*
 * The metric blocks of a group (n, nps, csat, ces, expectation, ratings), with the targets in
 * its scope, written as JSON text (blocks.h).
 *
 * GET /v1/metrics renders every group this way. It used to build a jansson tree per group
 * (json_pack for each block) and dump it: that was more than half of a metrics request's CPU
 * at 10M responses (wrk -c64 on group_by=touchpoint: 4,544 requests/s rendered, 9,218/s with
 * the reply left out; group_by=phase,month, 117 groups: 1,280/s against 6,586/s). The text is
 * what json_dumps(..., JSON_COMPACT) gave for the tree (jw_real formats numbers as jansson does;
 * tests/unit/test_blocks.c compares the two).
 */
#include "blocks.h"

#include <stdlib.h>

#include "util.h"

static void jw_opt(struct jw *w, struct opt o)
{
    if (o.has)
        jw_real(w, o.value);
    else
        jw_raw(w, "null");
}

/* Closes a block: its "target" member first, when a target for metric is in scope (met: the
 * score at or above the target's value; null without a score). */
static void block_end(struct jw *w, const char *metric, struct opt score,
                      const struct target_set *ts, const struct scope *sc)
{
    const struct target *t = ts ? targets_find(ts, metric, sc) : NULL;

    if (t) {
        jw_raw(w, ",\"target\":{\"value\":");
        jw_real(w, t->value);
        jw_raw(w, ",\"met\":");
        jw_raw(w, !score.has ? "null" : score.value >= t->value ? "true" : "false");
        jw_raw(w, "}");
    }
    jw_raw(w, "}");
}

static void member_int(struct jw *w, const char *name, int64_t v)
{
    jw_raw(w, name);
    jw_int(w, v);
}

static void member_opt(struct jw *w, const char *name, struct opt v)
{
    jw_raw(w, name);
    jw_opt(w, v);
}

void blocks_write(struct jw *w, const struct hist *h, const struct target_set *ts,
                  const struct scope *sc)
{
    struct nps_result nps;
    struct csat_result csat;
    struct ces_result ces;
    struct expectation_result ex;

    metrics_nps(h, &nps);
    metrics_csat(h, &csat);
    metrics_ces(h, &ces);
    metrics_expectation(h, &ex);
    member_int(w, "\"n\":", h->n);
    member_opt(w, ",\"nps\":{\"score\":", nps.score);
    member_int(w, ",\"n\":", nps.n);
    member_int(w, ",\"promoters\":", nps.promoters);
    member_int(w, ",\"passives\":", nps.passives);
    member_int(w, ",\"detractors\":", nps.detractors);
    member_opt(w, ",\"moe95\":", nps.moe95);
    block_end(w, "nps", nps.score, ts, sc);
    member_opt(w, ",\"csat\":{\"score\":", csat.score);
    member_opt(w, ",\"mean\":", csat.mean);
    member_int(w, ",\"n\":", csat.n);
    block_end(w, "csat", csat.score, ts, sc);
    member_opt(w, ",\"ces\":{\"mean\":", ces.mean);
    member_opt(w, ",\"easy\":", ces.easy);
    member_int(w, ",\"n\":", ces.n);
    block_end(w, "ces", ces.mean, ts, sc);
    member_opt(w, ",\"expectation\":{\"index\":", ex.index);
    member_int(w, ",\"below\":", ex.below);
    member_int(w, ",\"met\":", ex.met);
    member_int(w, ",\"exceeded\":", ex.exceeded);
    member_int(w, ",\"n\":", ex.n);
    block_end(w, "expectation", ex.index, ts, sc);
    jw_raw(w, ",\"ratings\":{");
    for (int a = 0; a < RATING_AREAS; a++) {
        struct rating_result r;

        metrics_rating(h, (enum rating_area)a, &r);
        jw_raw(w, a ? ",\"" : "\"");
        jw_raw(w, metrics_rating_name((enum rating_area)a));
        member_opt(w, "\":{\"mean\":", r.mean);
        member_int(w, ",\"n\":", r.n);
        jw_raw(w, "}");
    }
    jw_raw(w, "}");
}

void blocks_add(json_t *obj, const struct hist *h, const struct target_set *ts,
                const struct scope *sc)
{
    struct jw w;
    json_t *blocks;

    jw_init(&w);
    jw_raw(&w, "{");
    blocks_write(&w, h, ts, sc);
    jw_raw(&w, "}");
    /* Numbers of 17 significant digits read back as the same doubles, so the tree dumps as
     * the text did. */
    blocks = json_loadb(w.buf, w.len, 0, NULL);
    free(w.buf);
    if (!blocks)
        abort(); /* our own text: only out of memory */
    json_object_update(obj, blocks);
    json_decref(blocks);
}
