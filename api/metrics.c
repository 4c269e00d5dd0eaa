/*
 * GET /v1/metrics: NPS, CSAT, CES, expectation index and ratings per group. The store hands
 * over units of counted responses with their dimensions; this file buckets them by the
 * requested grouping (calendar buckets in the reporting time zone) and feeds the histograms to
 * the pure functions of server/metrics.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "util.h"
#include "validate.h"

enum dim { DIM_JOURNEY, DIM_PHASE, DIM_TOUCHPOINT, DIM_CHANNEL, DIM_SEGMENT, DIM_DAY, DIM_WEEK,
           DIM_MONTH, DIM_COUNT };

static const char *const dim_names[DIM_COUNT] = {"journey", "phase", "touchpoint", "channel",
                                                 "segment", "day",   "week",       "month"};

#define GROUP_DIMS_MAX 2
#define GROUPS_MAX 100000

/* One output group: its dimension values and counts. */
struct group {
    char *id; /* the values joined, for lookup */
    char *value[GROUP_DIMS_MAX]; /* NULL for a null dimension value */
    char *journey;               /* for phase groups: the phase's journey */
    int position;                /* for phase groups: the phase's position */
    struct hist h;
};

struct grouping {
    enum dim dims[GROUP_DIMS_MAX];
    int ndims;
    struct hist total;
    struct group **slots; /* open addressing on id */
    size_t nslots, ngroups;
    int overflow;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void grouping_grow(struct grouping *g)
{
    size_t n = g->nslots ? g->nslots * 2 : 64;
    struct group **slots = xcalloc(n, sizeof(*slots));

    for (size_t i = 0; i < g->nslots; i++) {
        struct group *gr = g->slots[i];

        if (!gr)
            continue;
        size_t j = hash_str(gr->id) & (n - 1);
        while (slots[j])
            j = (j + 1) & (n - 1);
        slots[j] = gr;
    }
    free(g->slots);
    g->slots = slots;
    g->nslots = n;
}

/* The value of dimension d for row into buf; NULL for a null value. */
static const char *dim_value(enum dim d, const struct metric_row *row, char *buf, size_t len)
{
    time_t t;
    struct tm tm;

    switch (d) {
    case DIM_JOURNEY:
        return row->journey;
    case DIM_PHASE:
        return row->phase;
    case DIM_TOUCHPOINT:
        return row->touchpoint;
    case DIM_CHANNEL:
        return row->channel;
    case DIM_SEGMENT:
        return row->segment;
    default:
        break;
    }
    t = (time_t)(row->time >= 0 ? row->time / 1000 : (row->time - 999) / 1000);
    localtime_r(&t, &tm);
    strftime(buf, len, d == DIM_DAY ? "%Y-%m-%d" : d == DIM_WEEK ? "%G-W%V" : "%Y-%m", &tm);
    return buf;
}

static void grouping_add(const struct metric_row *row, void *ctx)
{
    struct grouping *g = ctx;
    const char *vals[GROUP_DIMS_MAX] = {NULL};
    char bufs[GROUP_DIMS_MAX][16], id[512];
    size_t j, len = 0;

    metrics_hist_add(&g->total, row->hist);
    if (g->ndims == 0)
        return;
    for (int i = 0; i < g->ndims; i++) {
        vals[i] = dim_value(g->dims[i], row, bufs[i], sizeof(bufs[i]));
        /* \x1e marks null, \x1f separates; neither can occur in stored values */
        len += (size_t)snprintf(id + len, sizeof(id) - len, "%s%s\x1f",
                                g->dims[i] == DIM_PHASE ? row->journey : "",
                                vals[i] ? vals[i] : "\x1e");
        if (len >= sizeof(id))
            len = sizeof(id) - 1;
    }
    if (g->nslots == 0 || (g->ngroups + 1) * 2 > g->nslots)
        grouping_grow(g);
    j = hash_str(id) & (g->nslots - 1);
    while (g->slots[j] && strcmp(g->slots[j]->id, id) != 0)
        j = (j + 1) & (g->nslots - 1);
    if (!g->slots[j]) {
        struct group *gr;

        if (g->ngroups >= GROUPS_MAX) {
            g->overflow = 1;
            return;
        }
        gr = xcalloc(1, sizeof(*gr));
        gr->id = xstrdup(id);
        for (int i = 0; i < g->ndims; i++) {
            gr->value[i] = vals[i] ? xstrdup(vals[i]) : NULL;
            if (g->dims[i] == DIM_PHASE) {
                gr->journey = xstrdup(row->journey);
                gr->position = row->phase_position;
            }
        }
        g->slots[j] = gr;
        g->ngroups++;
    }
    metrics_hist_add(&g->slots[j]->h, row->hist);
}

static int cmp_opt(const char *a, const char *b)
{
    if (!a || !b)
        return (a == NULL) - (b == NULL); /* nulls last */
    return strcmp(a, b);
}

static int group_cmp(const void *pa, const void *pb, void *ctx)
{
    const struct grouping *sort_grouping = ctx;
    const struct group *a = *(const struct group *const *)pa;
    const struct group *b = *(const struct group *const *)pb;

    for (int i = 0; i < sort_grouping->ndims; i++) {
        int c;

        if (sort_grouping->dims[i] == DIM_PHASE) {
            c = strcmp(a->journey, b->journey);
            if (c == 0)
                c = (a->position > b->position) - (a->position < b->position);
        } else {
            c = cmp_opt(a->value[i], b->value[i]);
        }
        if (c)
            return c;
    }
    return 0;
}

static json_t *opt_real(struct opt o)
{
    return o.has ? json_real(o.value) : json_null();
}

void api_metrics_blocks(json_t *obj, const struct hist *h)
{
    struct nps_result nps;
    struct csat_result csat;
    struct ces_result ces;
    struct expectation_result ex;
    json_t *ratings = json_object();

    metrics_nps(h, &nps);
    metrics_csat(h, &csat);
    metrics_ces(h, &ces);
    metrics_expectation(h, &ex);
    json_object_set_new(obj, "n", json_integer(h->n));
    json_object_set_new(obj, "nps",
                        json_pack("{s:o, s:I, s:I, s:I, s:I, s:o}", "score", opt_real(nps.score),
                                  "n", (json_int_t)nps.n, "promoters", (json_int_t)nps.promoters,
                                  "passives", (json_int_t)nps.passives, "detractors",
                                  (json_int_t)nps.detractors, "moe95", opt_real(nps.moe95)));
    json_object_set_new(obj, "csat",
                        json_pack("{s:o, s:o, s:I}", "score", opt_real(csat.score), "mean",
                                  opt_real(csat.mean), "n", (json_int_t)csat.n));
    json_object_set_new(obj, "ces",
                        json_pack("{s:o, s:o, s:I}", "mean", opt_real(ces.mean), "easy",
                                  opt_real(ces.easy), "n", (json_int_t)ces.n));
    json_object_set_new(obj, "expectation",
                        json_pack("{s:o, s:I, s:I, s:I, s:I}", "index", opt_real(ex.index),
                                  "below", (json_int_t)ex.below, "met", (json_int_t)ex.met,
                                  "exceeded", (json_int_t)ex.exceeded, "n", (json_int_t)ex.n));
    for (int a = 0; a < RATING_AREAS; a++) {
        struct rating_result r;

        metrics_rating(h, (enum rating_area)a, &r);
        json_object_set_new(ratings, metrics_rating_name((enum rating_area)a),
                            json_pack("{s:o, s:I}", "mean", opt_real(r.mean), "n",
                                      (json_int_t)r.n));
    }
    json_object_set_new(obj, "ratings", ratings);
}

/* Parses group_by ("touchpoint", "touchpoint,month") into g. */
static int metrics_parse_group_by(const char *s, struct grouping *g, struct err *e)
{
    char buf[64];
    char *save = NULL, *tok;

    if (!s)
        return 0;
    if (strlen(s) >= sizeof(buf) || !*s)
        return err_param(e, "group_by", "must name one or two of journey, phase, touchpoint, "
                                        "channel, segment, day, week, month");
    snprintf(buf, sizeof(buf), "%s", s);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int found = -1;

        for (int d = 0; d < DIM_COUNT; d++)
            if (strcmp(tok, dim_names[d]) == 0)
                found = d;
        if (found < 0)
            return err_param(e, "group_by", "unknown grouping %.32s; use journey, phase, "
                                            "touchpoint, channel, segment, day, week or month",
                             tok);
        for (int i = 0; i < g->ndims; i++)
            if (g->dims[i] == (enum dim)found)
                return err_param(e, "group_by", "%s is given twice", tok);
        if (g->ndims == GROUP_DIMS_MAX)
            return err_param(e, "group_by", "at most %d groupings may be combined",
                             GROUP_DIMS_MAX);
        g->dims[g->ndims++] = (enum dim)found;
    }
    if (g->ndims == 0 || s[strlen(s) - 1] == ',' || s[0] == ',' || strstr(s, ",,"))
        return err_param(e, "group_by", "must be a comma-separated list without empty items");
    return 0;
}

static void grouping_release(struct grouping *g)
{
    for (size_t i = 0; i < g->nslots; i++) {
        struct group *gr = g->slots[i];

        if (!gr)
            continue;
        free(gr->id);
        for (int k = 0; k < GROUP_DIMS_MAX; k++)
            free(gr->value[k]);
        free(gr->journey);
        free(gr);
    }
    free(g->slots);
}

int api_metrics_get(struct req *req, struct app *app)
{
    struct err *e = req_err(req);
    struct response_filter f = {0};
    struct grouping g;
    struct group **list = NULL;
    json_t *groups, *total, *body;
    enum scan_grain grain = SCAN_MONTH;
    size_t n = 0;
    int ret = -1;

    memset(&g, 0, sizeof(g));
    api_response_filter(req, &f);
    metrics_parse_group_by(req_query(req, "group_by"), &g, e);
    if (e->code != ERR_NONE)
        goto done;
    for (int d = 0; d < g.ndims; d++)
        if (g.dims[d] == DIM_DAY || g.dims[d] == DIM_WEEK)
            grain = SCAN_DAY;
    if (store_metrics_scan(app->store, &f, grain, grouping_add, &g, e) < 0)
        goto done;
    if (g.overflow) {
        err_param(e, "group_by", "yields more than %d groups; narrow the filters", GROUPS_MAX);
        goto done;
    }
    list = xcalloc(g.ngroups, sizeof(*list));
    for (size_t i = 0; i < g.nslots; i++)
        if (g.slots[i])
            list[n++] = g.slots[i];
    qsort_r(list, n, sizeof(*list), group_cmp, &g);
    groups = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *key = json_object(), *obj = json_object();

        for (int d = 0; d < g.ndims; d++) {
            json_object_set_new(key, dim_names[g.dims[d]], json_opt_string(list[i]->value[d]));
            if (g.dims[d] == DIM_PHASE && !json_object_get(key, "journey"))
                json_object_set_new(key, "journey", json_string(list[i]->journey));
        }
        json_object_set_new(obj, "key", key);
        api_metrics_blocks(obj, &list[i]->h);
        json_array_append_new(groups, obj);
    }
    total = json_object();
    api_metrics_blocks(total, &g.total);
    body = json_pack("{s:o, s:o}", "groups", groups, "total", total);
    if (app->tz)
        json_object_set_new(body, "time_zone", json_string(app->tz));
    req_reply_json(req, HTTP_OK, body);
    ret = 0;
done:
    free(list);
    grouping_release(&g);
    return ret;
}
