/*
 * Journey analytics: GET /v1/journeys/{key}/overview (phases in order with their metrics and
 * touchpoints, the change against the previous period, peaks, the end of the journey, targets
 * and priorities) and GET /v1/journeys/{key}/drivers (which touchpoints move the overall
 * recommendation score, crossed with how well they perform).
 *
 * The math (significance, correlation, medians, quadrants) is in server/metrics.c; this file
 * gathers the counts from the store and renders JSON.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "blocks.h"
#include "targets.h"
#include "util.h"
#include "validate.h"

#define DAY_MS                (24 * 3600 * 1000LL)
#define OVERVIEW_DEFAULT_DAYS 30
#define MIN_N_DEFAULT         30
#define DRIVER_MIN_N          10

enum driver { DRIVER_CSAT, DRIVER_CES, DRIVER_NPS };
static const char *const driver_names[] = {"csat", "ces", "nps"};

/* The touchpoints of one journey with their counts in the current and previous period. */
struct tp_stat {
    struct touchpoint tp;
    int phase_index;
    struct hist cur, prev;
    /* key drivers: one (driver, NPS) pair per customer */
    double *x, *y;
    int64_t npairs, cap;
    struct opt importance, performance;
    int64_t performance_n;
};

struct journey_stats {
    struct journey j;
    struct tp_stat *tps;
    size_t ntps;
    struct hist *phase_cur, *phase_prev; /* per phase, in journey order */
    struct hist total_cur, total_prev;
    int filling_prev; /* which period the scan callback fills */
};

static void stats_release(struct journey_stats *st)
{
    for (size_t i = 0; i < st->ntps; i++) {
        touchpoint_release(&st->tps[i].tp);
        free(st->tps[i].x);
        free(st->tps[i].y);
    }
    free(st->tps);
    free(st->phase_cur);
    free(st->phase_prev);
    journey_release(&st->j);
}

static struct tp_stat *stats_find(struct journey_stats *st, const char *key)
{
    for (size_t i = 0; i < st->ntps; i++)
        if (strcmp(st->tps[i].tp.key, key) == 0)
            return &st->tps[i];
    return NULL;
}

/* Loads the journey and all its touchpoints. */
static int stats_load(struct app *app, const char *key, struct journey_stats *st, struct err *e)
{
    struct touchpoint_filter f = {.journey = key, .limit = 1000};
    char after[KEY_MAX + 1];

    memset(st, 0, sizeof(*st));
    if (!valid_key(key))
        return err_set(e, ERR_NOT_FOUND, "journey %.64s not found", key);
    if (store_journey_get(app->store, key, &st->j, e) < 0)
        return -1;
    st->phase_cur = xcalloc(st->j.nphases + 1, sizeof(struct hist));
    st->phase_prev = xcalloc(st->j.nphases + 1, sizeof(struct hist));
    for (;;) {
        struct touchpoint *items;
        size_t n;

        if (store_touchpoints_list(app->store, &f, &items, &n, e) < 0)
            return -1;
        st->tps = xrealloc(st->tps, (st->ntps + n + 1) * sizeof(*st->tps));
        for (size_t i = 0; i < n; i++) {
            struct tp_stat *t = &st->tps[st->ntps++];

            memset(t, 0, sizeof(*t));
            t->tp = items[i];
            for (size_t p = 0; p < st->j.nphases; p++)
                if (strcmp(st->j.phases[p].key, t->tp.phase) == 0)
                    t->phase_index = (int)p;
        }
        free(items);
        if (n < (size_t)f.limit)
            break;
        snprintf(after, sizeof(after), "%s", st->tps[st->ntps - 1].tp.key);
        f.after = after;
    }
    return 0;
}

static void stats_add(const struct metric_row *row, void *ctx)
{
    struct journey_stats *st = ctx;
    struct tp_stat *t = stats_find(st, row->touchpoint);

    if (!t)
        return; /* a touchpoint created after the journey was read */
    metrics_hist_add(st->filling_prev ? &t->prev : &t->cur, row->hist);
    metrics_hist_add(st->filling_prev ? &st->phase_prev[t->phase_index]
                                      : &st->phase_cur[t->phase_index],
                     row->hist);
    metrics_hist_add(st->filling_prev ? &st->total_prev : &st->total_cur, row->hist);
}

/* Counts the journey's responses in [from, to) into the current or previous slots. */
static int stats_scan(struct app *app, struct journey_stats *st, int64_t from, int64_t to, int prev,
                      struct err *e)
{
    struct response_filter f = {0};

    f.journey = st->j.key;
    f.has_from = f.has_to = 1;
    f.from = from;
    f.to = to;
    st->filling_prev = prev;
    return store_metrics_scan(app->store, &f, SCAN_ANY, stats_add, st, e);
}

/* Reads from and to (RFC 3339 or dates); defaults: the last `days` days, or all time when days
 * is 0. */
static int analytics_range(struct req *req, int days, struct response_filter *f)
{
    struct err *e = req_err(req);
    const char *from = req_query(req, "from"), *to = req_query(req, "to");

    memset(f, 0, sizeof(*f));
    if (from) {
        if (util_parse_time(from, 1, &f->from) < 0)
            err_param(e, "from", "must be an RFC 3339 date-time or a date (YYYY-MM-DD)");
        f->has_from = 1;
    }
    if (to) {
        if (util_parse_time(to, 1, &f->to) < 0)
            err_param(e, "to", "must be an RFC 3339 date-time or a date (YYYY-MM-DD)");
        f->has_to = 1;
    }
    if (e->code != ERR_NONE)
        return -1;
    if (days) {
        if (!f->has_to) {
            /* now, rounded up to the minute: the answer (and its ETag) hold for a minute */
            f->to = (util_now_ms() / 60000 + 1) * 60000;
            f->has_to = 1;
        }
        if (!f->has_from) {
            f->from = f->to - days * DAY_MS;
            f->has_from = 1;
        }
    }
    if (f->has_from && f->has_to && f->to <= f->from) {
        if (!to) /* to is now: name what the client sent */
            return err_param(e, "from", "must be earlier than now (to defaults to now)");
        return err_param(e, "to", "must be later than from");
    }
    return 0;
}

/* ---- key drivers ------------------------------------------------------------------------- */

struct customer_acc {
    struct journey_stats *st;
    enum driver driver;
    char current[256];
    double nps_sum;
    int64_t nps_n;
    double *dsum; /* per touchpoint: the driver's sum and count for this customer */
    int64_t *dn;
};

static void pair_add(struct tp_stat *t, double x, double y)
{
    if (t->npairs == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->x = xrealloc(t->x, (size_t)t->cap * sizeof(*t->x));
        t->y = xrealloc(t->y, (size_t)t->cap * sizeof(*t->y));
    }
    t->x[t->npairs] = x;
    t->y[t->npairs] = y;
    t->npairs++;
}

/* One customer's means become one pair per touchpoint where they gave a driver score, when
 * they gave at least one NPS anywhere in the journey. */
static void customer_flush(struct customer_acc *acc)
{
    for (size_t i = 0; i < acc->st->ntps; i++) {
        if (acc->dn[i] > 0 && acc->nps_n > 0)
            pair_add(&acc->st->tps[i], acc->dsum[i] / (double)acc->dn[i],
                     acc->nps_sum / (double)acc->nps_n);
        acc->dsum[i] = 0;
        acc->dn[i] = 0;
    }
    acc->nps_sum = 0;
    acc->nps_n = 0;
}

static void customer_add(const char *customer, const char *touchpoint, int nps, int csat, int ces,
                         void *ctx)
{
    struct customer_acc *acc = ctx;
    struct tp_stat *t = stats_find(acc->st, touchpoint);
    int v = acc->driver == DRIVER_CSAT ? csat : acc->driver == DRIVER_CES ? ces : nps;

    if (strncmp(customer, acc->current, sizeof(acc->current)) != 0) {
        customer_flush(acc);
        snprintf(acc->current, sizeof(acc->current), "%s", customer);
    }
    if (nps != RESPONSE_ABSENT) {
        acc->nps_sum += nps;
        acc->nps_n++;
    }
    if (t && v != RESPONSE_ABSENT) {
        size_t i = (size_t)(t - acc->st->tps);

        acc->dsum[i] += v;
        acc->dn[i]++;
    }
}

/* The touchpoint's own score for the driver over the period: CSAT score, CES mean or NPS. */
static void driver_performance(enum driver d, const struct hist *h, struct opt *out, int64_t *n)
{
    if (d == DRIVER_CSAT) {
        struct csat_result r;

        metrics_csat(h, &r);
        *out = r.score;
        *n = r.n;
    } else if (d == DRIVER_CES) {
        struct ces_result r;

        metrics_ces(h, &r);
        *out = r.mean;
        *n = r.n;
    } else {
        struct nps_result r;

        metrics_nps(h, &r);
        *out = r.score;
        *n = r.n;
    }
}

/* Importance, performance and the medians for every touchpoint (over the current period's
 * counts, which must be scanned already). */
static int drivers_compute(struct app *app, struct journey_stats *st, enum driver d,
                           const struct response_filter *range, double *med_imp, double *med_perf,
                           int *has_medians, struct err *e)
{
    struct customer_acc acc = {.st = st, .driver = d};
    double *imp = xcalloc(st->ntps + 1, sizeof(double));
    double *perf = xcalloc(st->ntps + 1, sizeof(double));
    size_t k = 0;
    int ret = -1;

    acc.dsum = xcalloc(st->ntps + 1, sizeof(double));
    acc.dn = xcalloc(st->ntps + 1, sizeof(int64_t));
    if (store_customer_scores(app->store, st->j.key, range, customer_add, &acc, e) < 0)
        goto done;
    customer_flush(&acc);
    for (size_t i = 0; i < st->ntps; i++) {
        struct tp_stat *t = &st->tps[i];

        t->importance = metrics_pearson(t->x, t->y, t->npairs, DRIVER_MIN_N);
        driver_performance(d, &t->cur, &t->performance, &t->performance_n);
        if (t->importance.has && t->performance.has) {
            imp[k] = t->importance.value;
            perf[k] = t->performance.value;
            k++;
        }
    }
    *has_medians = k > 0;
    if (k > 0) {
        *med_imp = metrics_median(imp, k);
        *med_perf = metrics_median(perf, k);
    }
    ret = 0;
done:
    free(imp);
    free(perf);
    free(acc.dsum);
    free(acc.dn);
    return ret;
}

static json_t *opt_json(struct opt o)
{
    return o.has ? json_real(o.value) : json_null();
}

static int parse_driver(struct req *req, enum driver *d)
{
    const char *s = req_query(req, "driver");

    *d = DRIVER_CSAT;
    if (!s)
        return 0;
    for (int i = 0; i < 3; i++)
        if (strcmp(s, driver_names[i]) == 0) {
            *d = (enum driver)i;
            return 0;
        }
    return err_param(req_err(req), "driver", "must be csat, ces or nps");
}

static const char *quadrant_of(const struct tp_stat *t, int has_medians, double med_imp,
                               double med_perf)
{
    if (!has_medians || !t->importance.has || !t->performance.has)
        return NULL;
    return metrics_quadrant_name(
        metrics_quadrant(t->importance.value, t->performance.value, med_imp, med_perf));
}

static int journey_drivers_read(struct req *req, struct app *app)
{
    struct err *e = req_err(req);
    struct journey_stats st;
    struct response_filter range;
    enum driver d;
    double med_imp = 0, med_perf = 0;
    int has_medians = 0, ret = -1;
    json_t *arr, *body;
    size_t *order = NULL;

    memset(&st, 0, sizeof(st));
    if (analytics_range(req, 0, &range) < 0 || parse_driver(req, &d) < 0)
        return -1;
    if (stats_load(app, req_param(req, 0), &st, e) < 0)
        goto done;
    {
        struct response_filter f = range;

        f.journey = st.j.key;
        st.filling_prev = 0;
        if (store_metrics_scan(app->store, &f, SCAN_ANY, stats_add, &st, e) < 0)
            goto done;
    }
    if (drivers_compute(app, &st, d, &range, &med_imp, &med_perf, &has_medians, e) < 0)
        goto done;
    /* most important first; touchpoints without an importance last, by key */
    order = xcalloc(st.ntps + 1, sizeof(*order));
    for (size_t i = 0; i < st.ntps; i++)
        order[i] = i;
    for (size_t i = 1; i < st.ntps; i++) {
        for (size_t j = i; j > 0; j--) {
            const struct tp_stat *a = &st.tps[order[j - 1]], *b = &st.tps[order[j]];
            int swap = (!a->importance.has && b->importance.has) ||
                       (a->importance.has && b->importance.has &&
                        b->importance.value > a->importance.value);

            if (!swap)
                break;
            size_t tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    }
    arr = json_array();
    for (size_t i = 0; i < st.ntps; i++) {
        const struct tp_stat *t = &st.tps[order[i]];
        const char *q = quadrant_of(t, has_medians, med_imp, med_perf);

        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:o, s:I, s:o, s:I, s:o}", "touchpoint", t->tp.key,
                           "name", t->tp.name, "phase", t->tp.phase, "importance",
                           opt_json(t->importance), "n", (json_int_t)t->npairs, "performance",
                           opt_json(t->performance), "performance_n", (json_int_t)t->performance_n,
                           "quadrant", json_opt_string(q)));
    }
    body = json_pack("{s:s, s:s, s:o, s:o, s:o, s:i, s:o}", "journey", st.j.key, "driver",
                     driver_names[d], "from", range.has_from ? json_time(range.from) : json_null(),
                     "to", range.has_to ? json_time(range.to) : json_null(), "median_importance",
                     has_medians ? json_real(med_imp) : json_null(), "min_n", DRIVER_MIN_N,
                     "median_performance", has_medians ? json_real(med_perf) : json_null());
    json_object_set_new(body, "touchpoints", arr);
    req_reply_json(req, HTTP_OK, body);
    ret = 0;
done:
    free(order);
    stats_release(&st);
    return ret;
}

/* Runs handler with every read of its reply (the periods' scans, the targets) from one
 * snapshot. */
static int read_pinned(struct req *req, struct app *app,
                       int (*handler)(struct req *req, struct app *app))
{
    int ret;

    if (store_read_pin(app->store, req_err(req)) < 0)
        return -1;
    ret = handler(req, app);
    store_read_unpin(app->store);
    return ret;
}

int api_journey_drivers(struct req *req, struct app *app)
{
    return read_pinned(req, app, journey_drivers_read);
}

/* ---- overview ---------------------------------------------------------------------------- */

static double nps_value(const struct hist *h, int64_t *n)
{
    struct nps_result r;

    metrics_nps(h, &r);
    *n = r.n;
    return r.score.has ? r.score.value : NAN;
}

static json_t *change_json(const struct hist *cur, const struct hist *prev)
{
    struct nps_result a, b;
    struct nps_change c;

    metrics_nps(cur, &a);
    metrics_nps(prev, &b);
    metrics_nps_change(&a, &b, &c);
    return json_pack("{s:o, s:b}", "nps", opt_json(c.delta), "significant", c.significant);
}

/* A metrics object with blocks, targets, the previous period and the change. */
static json_t *period_blocks(const struct hist *cur, const struct hist *prev,
                             const struct target_set *ts, const struct scope *sc)
{
    json_t *obj = json_object(), *p = json_object();

    blocks_add(obj, cur, ts, sc);
    blocks_add(p, prev, NULL, NULL);
    json_object_set_new(obj, "previous", p);
    json_object_set_new(obj, "change", change_json(cur, prev));
    return obj;
}

static json_t *peak_json(const struct tp_stat *t)
{
    int64_t n;
    double v;

    if (!t)
        return json_null();
    v = nps_value(&t->cur, &n);
    return json_pack("{s:s, s:s, s:s, s:f, s:I, s:I}", "touchpoint", t->tp.key, "name", t->tp.name,
                     "phase", t->tp.phase, "nps", v, "n", (json_int_t)n, "responses",
                     (json_int_t)t->cur.n);
}

/* Adds a priority for t unless it is listed already. */
static void priority_add(json_t *list, char *listed, const struct journey_stats *st,
                         const struct tp_stat *t, const char *reason, json_t *extra)
{
    size_t i = (size_t)(t - st->tps);
    int64_t n;
    double v = nps_value(&t->cur, &n);
    json_t *obj;

    if (listed[i]) {
        json_decref(extra);
        return;
    }
    listed[i] = 1;
    obj = json_pack("{s:i, s:s, s:s, s:s, s:o, s:I}", "rank", (int)json_array_size(list) + 1,
                    "touchpoint", t->tp.key, "phase", t->tp.phase, "reason", reason, "nps",
                    isnan(v) ? json_null() : json_real(v), "n", (json_int_t)n);
    if (extra) {
        json_object_update(obj, extra);
        json_decref(extra);
    }
    json_array_append_new(list, obj);
}

static int journey_overview_read(struct req *req, struct app *app)
{
    struct err *e = req_err(req);
    struct journey_stats st;
    struct response_filter range;
    struct target_set ts = {0};
    const char *min_n_s = req_query(req, "min_n");
    long long min_n = MIN_N_DEFAULT;
    int64_t len, journey_n;
    double journey_nps, med_imp = 0, med_perf = 0;
    int has_medians = 0, end = -1, ret = -1;
    const struct tp_stat *best = NULL, *worst = NULL;
    char *listed = NULL;
    json_t *phases, *body, *priorities;
    struct scope jscope = {0};

    memset(&st, 0, sizeof(st));
    if (min_n_s)
        q_int("min_n", min_n_s, 1, 1000000000, &min_n, e);
    if (analytics_range(req, OVERVIEW_DEFAULT_DAYS, &range) < 0 || e->code != ERR_NONE)
        return -1;
    if (stats_load(app, req_param(req, 0), &st, e) < 0)
        goto done;
    len = range.to - range.from;
    if (stats_scan(app, &st, range.from, range.to, 0, e) < 0 ||
        stats_scan(app, &st, range.from - len, range.from, 1, e) < 0)
        goto done;
    if (targets_load(app->store, &ts, e) < 0)
        goto done;
    jscope.journey = st.j.key;

    phases = json_array();
    for (size_t p = 0; p < st.j.nphases; p++) {
        struct scope sc = {st.j.key, st.j.phases[p].key, NULL};
        json_t *obj = period_blocks(&st.phase_cur[p], &st.phase_prev[p], &ts, &sc);
        json_t *tps = json_array();

        for (size_t i = 0; i < st.ntps; i++) {
            const struct tp_stat *t = &st.tps[i];
            struct scope tsc = {st.j.key, t->tp.phase, t->tp.key};
            json_t *tobj;

            if (t->phase_index != (int)p)
                continue;
            tobj = period_blocks(&t->cur, &t->prev, &ts, &tsc);
            json_object_set_new(tobj, "key", json_string(t->tp.key));
            json_object_set_new(tobj, "name", json_string(t->tp.name));
            json_array_append_new(tps, tobj);
        }
        json_object_set_new(obj, "key", json_string(st.j.phases[p].key));
        json_object_set_new(obj, "name", json_string(st.j.phases[p].name));
        json_object_set_new(obj, "position", json_integer((json_int_t)p));
        json_object_set_new(obj, "touchpoints", tps);
        json_array_append_new(phases, obj);
        if (st.phase_cur[p].n > 0)
            end = (int)p;
    }

    /* peaks: best and worst NPS among touchpoints with at least min_n responses (and an
     * NPS); ties go to more responses, then to key order */
    for (size_t i = 0; i < st.ntps; i++) {
        const struct tp_stat *t = &st.tps[i];
        int64_t n;
        double v = nps_value(&t->cur, &n);

        if (isnan(v) || t->cur.n < min_n)
            continue;
        if (!best || v > nps_value(&best->cur, &n) ||
            (v == nps_value(&best->cur, &n) && t->cur.n > best->cur.n))
            best = t;
        if (!worst || v < nps_value(&worst->cur, &n) ||
            (v == nps_value(&worst->cur, &n) && t->cur.n > worst->cur.n))
            worst = t;
    }

    /* priorities, in the documented order of reasons */
    priorities = json_array();
    listed = xcalloc(st.ntps + 1, 1);
    journey_nps = nps_value(&st.total_cur, &journey_n);
    if (end >= 0) {
        /* 1. the end of the journey: touchpoints of the last phase with responses whose NPS is
         * below their target, else below the journey's NPS; lowest NPS first */
        for (;;) {
            const struct tp_stat *pick = NULL;
            double pick_v = 0;
            const char *reason = NULL;
            json_t *extra = NULL;

            for (size_t i = 0; i < st.ntps; i++) {
                const struct tp_stat *t = &st.tps[i];
                struct scope tsc = {st.j.key, t->tp.phase, t->tp.key};
                const struct target *tg = targets_find(&ts, "nps", &tsc);
                int64_t n;
                double v = nps_value(&t->cur, &n);

                if (listed[i] || t->phase_index != end || isnan(v))
                    continue;
                if (!((tg && v < tg->value) || (!isnan(journey_nps) && v < journey_nps)))
                    continue;
                if (!pick || v < pick_v) {
                    pick = t;
                    pick_v = v;
                }
            }
            if (!pick)
                break;
            {
                struct scope tsc = {st.j.key, pick->tp.phase, pick->tp.key};
                const struct target *tg = targets_find(&ts, "nps", &tsc);

                if (tg && pick_v < tg->value) {
                    reason = "end_below_target";
                    extra = json_pack("{s:f}", "target", tg->value);
                } else {
                    reason = "end_below_journey";
                    extra = json_pack("{s:f}", "journey_nps", journey_nps);
                }
            }
            priority_add(priorities, listed, &st, pick, reason, extra);
        }
    }
    /* 2. strong drivers performing below the journey median (the "fix" quadrant of the CSAT
     * key-driver analysis), most important first */
    if (drivers_compute(app, &st, DRIVER_CSAT, &range, &med_imp, &med_perf, &has_medians, e) < 0)
        goto done;
    for (;;) {
        const struct tp_stat *pick = NULL;

        for (size_t i = 0; i < st.ntps; i++) {
            const struct tp_stat *t = &st.tps[i];
            const char *q = quadrant_of(t, has_medians, med_imp, med_perf);

            if (listed[i] || !q || strcmp(q, "fix") != 0)
                continue;
            if (!pick || t->importance.value > pick->importance.value)
                pick = t;
        }
        if (!pick)
            break;
        priority_add(priorities, listed, &st, pick, "driver_below_median",
                     json_pack("{s:f, s:f, s:f}", "importance", pick->importance.value,
                               "performance", pick->performance.value, "median_performance",
                               med_perf));
    }
    /* 3. the most "expectation: below" answers */
    for (;;) {
        const struct tp_stat *pick = NULL;

        for (size_t i = 0; i < st.ntps; i++) {
            const struct tp_stat *t = &st.tps[i];

            if (listed[i] || t->cur.expectation[EXPECT_BELOW] == 0)
                continue;
            if (!pick || t->cur.expectation[EXPECT_BELOW] > pick->cur.expectation[EXPECT_BELOW])
                pick = t;
        }
        if (!pick)
            break;
        priority_add(priorities, listed, &st, pick, "expectation_below",
                     json_pack("{s:I}", "expectation_below",
                               (json_int_t)pick->cur.expectation[EXPECT_BELOW]));
    }

    body = json_pack("{s:{s:s, s:s}, s:o, s:o, s:o, s:O}", "journey", "key", st.j.key, "name",
                     st.j.name, "from", json_time(range.from), "to", json_time(range.to), "phases",
                     phases, "total", json_null());
    json_object_set_new(body, "total", period_blocks(&st.total_cur, &st.total_prev, &ts, &jscope));
    {
        json_t *prev = json_object();

        json_object_set_new(prev, "from", json_time(range.from - len));
        json_object_set_new(prev, "to", json_time(range.from));
        blocks_add(prev, &st.total_prev, NULL, NULL);
        json_object_set_new(body, "previous", prev);
    }
    json_object_set_new(body, "peaks",
                        json_pack("{s:I, s:o, s:o}", "min_n", (json_int_t)min_n, "best",
                                  peak_json(best), "worst", peak_json(worst)));
    if (end >= 0) {
        struct scope sc = {st.j.key, st.j.phases[end].key, NULL};
        json_t *obj = period_blocks(&st.phase_cur[end], &st.phase_prev[end], &ts, &sc);

        json_object_set_new(obj, "phase", json_string(st.j.phases[end].key));
        json_object_set_new(obj, "name", json_string(st.j.phases[end].name));
        json_object_set_new(body, "end", obj);
    } else {
        json_object_set_new(body, "end", json_null());
    }
    json_object_set_new(body, "priorities", priorities);
    req_reply_json(req, HTTP_OK, body);
    ret = 0;
done:
    free(listed);
    targets_release(&ts);
    stats_release(&st);
    return ret;
}

int api_journey_overview(struct req *req, struct app *app)
{
    return read_pinned(req, app, journey_overview_read);
}
