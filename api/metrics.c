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
#include "blocks.h"
#include "targets.h"
#include "util.h"
#include "validate.h"

enum dim {
    DIM_JOURNEY,
    DIM_PHASE,
    DIM_TOUCHPOINT,
    DIM_CHANNEL,
    DIM_SEGMENT,
    DIM_DAY,
    DIM_WEEK,
    DIM_MONTH,
    DIM_COUNT
};

static const char *const dim_names[DIM_COUNT] = {"journey", "phase", "touchpoint", "channel",
                                                 "segment", "day",   "week",       "month"};

#define GROUP_DIMS_MAX 2
#define GROUPS_MAX     100000

/* One output group: its dimension values, what it is known to be limited to, and counts. */
struct group {
    char *id;                    /* the values joined, for lookup */
    char *value[GROUP_DIMS_MAX]; /* NULL for a null dimension value */
    char *journey;               /* the journey, when the grouping fixes one */
    char *phase;                 /* the phase, when the grouping fixes one */
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

/* Puts gr into slots (n of them, a power of two, with room) by linear probing on its id. */
static void grouping_place(struct group **slots, size_t n, struct group *gr)
{
    size_t j = hash_str(gr->id) & (n - 1);

    while (slots[j])
        j = (j + 1) & (n - 1);
    slots[j] = gr;
}

static void grouping_grow(struct grouping *g)
{
    size_t n = g->nslots ? g->nslots * 2 : 64;
    struct group **slots = xcalloc(n, sizeof(*slots));

    for (size_t i = 0; i < g->nslots; i++)
        if (g->slots[i])
            grouping_place(slots, n, g->slots[i]);
    free(g->slots);
    g->slots = slots;
    g->nslots = n;
}

static void group_free(struct group *gr)
{
    free(gr->id);
    for (int k = 0; k < GROUP_DIMS_MAX; k++)
        free(gr->value[k]);
    free(gr->journey);
    free(gr->phase);
    free(gr);
}

/* Drops the groups whose count came to 0: a part of a day can be read as the day's rollup less
 * the rest of the day (store_metrics_scan), which leaves a group with nothing in the part at
 * 0; a raw computation would not have it. No group of responses counts 0 otherwise. */
static void grouping_drop_empty(struct grouping *g)
{
    struct group **old = g->slots;
    size_t n = g->nslots;

    g->slots = xcalloc(n, sizeof(*g->slots));
    g->ngroups = 0;
    for (size_t i = 0; i < n; i++) {
        struct group *gr = old[i];

        if (!gr)
            continue;
        if (gr->h.n <= 0) { /* below 0 only if the rollups were inconsistent */
            group_free(gr);
            continue;
        }
        grouping_place(g->slots, n, gr);
        g->ngroups++;
    }
    free(old);
}

static int is_time_dim(enum dim d)
{
    return d == DIM_DAY || d == DIM_WEEK || d == DIM_MONTH;
}

/* The calendar key of time ms for a time dimension, into buf. */
static void time_key(enum dim d, int64_t ms, char *buf, size_t len)
{
    struct tm tm;

    util_local_tm(ms, &tm);
    strftime(buf, len, d == DIM_DAY ? "%Y-%m-%d" : d == DIM_WEEK ? "%G-W%V" : "%Y-%m", &tm);
}

/* The value of dimension d for row into buf; NULL for a null value. */
static const char *dim_value(enum dim d, const struct metric_row *row, char *buf, size_t len)
{
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
        time_key(d, row->time, buf, len);
        return buf;
    }
}

/* Appends s to the id of len characters in a buffer of size bytes, cut to fit. */
static size_t id_put(char *id, size_t size, size_t len, const char *s)
{
    size_t n = strlen(s);

    if (n > size - 1 - len)
        n = size - 1 - len;
    memcpy(id + len, s, n);
    id[len + n] = '\0';
    return len + n;
}

/* Finds or creates the group of the values vals. journey (for phase groups, the phase's) and
 * phase are recorded on creation when the grouping fixes them. NULL when there are too many
 * groups. */
static struct group *grouping_get(struct grouping *g, const char *const *vals, const char *journey,
                                  const char *phase, int position)
{
    char id[512];
    size_t j, len = 0;
    struct group *gr;
    int fixes_journey = 0, fixes_phase = 0;

    id[0] = '\0';
    for (int i = 0; i < g->ndims; i++) {
        /* \x1e marks null, \x1f separates; neither can occur in stored values (this runs for
         * every rollup row a scan reads: no snprintf) */
        if (g->dims[i] == DIM_PHASE) {
            len = id_put(id, sizeof(id), len, journey ? journey : "\x1e");
            len = id_put(id, sizeof(id), len, "\x1f");
        }
        len = id_put(id, sizeof(id), len, vals[i] ? vals[i] : "\x1e");
        len = id_put(id, sizeof(id), len, "\x1f");
        if (g->dims[i] == DIM_JOURNEY || g->dims[i] == DIM_PHASE || g->dims[i] == DIM_TOUCHPOINT)
            fixes_journey = 1;
        if (g->dims[i] == DIM_PHASE || g->dims[i] == DIM_TOUCHPOINT)
            fixes_phase = 1;
    }
    if (g->nslots == 0 || (g->ngroups + 1) * 2 > g->nslots)
        grouping_grow(g);
    j = hash_str(id) & (g->nslots - 1);
    while (g->slots[j] && strcmp(g->slots[j]->id, id) != 0)
        j = (j + 1) & (g->nslots - 1);
    if (g->slots[j])
        return g->slots[j];
    if (g->ngroups >= 2 * GROUPS_MAX) { /* during the scan; GROUPS_MAX applies after the drop */
        g->overflow = 1;
        return NULL;
    }
    gr = xcalloc(1, sizeof(*gr));
    gr->id = xstrdup(id);
    for (int i = 0; i < g->ndims; i++)
        gr->value[i] = vals[i] ? xstrdup(vals[i]) : NULL;
    gr->journey = fixes_journey && journey ? xstrdup(journey) : NULL;
    gr->phase = fixes_phase && phase ? xstrdup(phase) : NULL;
    gr->position = position;
    g->slots[j] = gr;
    g->ngroups++;
    return gr;
}

static void grouping_add(const struct metric_row *row, void *ctx)
{
    struct grouping *g = ctx;
    const char *vals[GROUP_DIMS_MAX] = {NULL};
    char bufs[GROUP_DIMS_MAX][16];
    struct group *gr;

    metrics_hist_add(&g->total, row->hist);
    if (g->ndims == 0)
        return;
    for (int i = 0; i < g->ndims; i++)
        vals[i] = dim_value(g->dims[i], row, bufs[i], sizeof(bufs[i]));
    gr = grouping_get(g, vals, row->journey, row->phase, row->phase_position);
    if (gr)
        metrics_hist_add(&gr->h, row->hist);
}

static int cmp_values(const char *a, const char *b)
{
    if (!a || !b)
        return (a == NULL) - (b == NULL); /* nulls last */
    return strcmp(a, b);
}

#define FILL_DAYS_MAX 3700

/* The first (or, with end, the last) local day of a bucket key. */
static int64_t day_of_key(enum dim d, const char *key, int end)
{
    int y = 0, m = 1, dd = 1, w = 1;

    if (d == DIM_DAY) {
        sscanf(key, "%d-%d-%d", &y, &m, &dd);
    } else if (d == DIM_MONTH) {
        sscanf(key, "%d-%d", &y, &m);
        if (end)
            return util_month_first_day((int64_t)y * 12 + m) - 1;
    } else {
        /* ISO week: its Monday is 3 days before the Thursday of that week */
        int64_t jan4;
        int wd;

        sscanf(key, "%d-W%d", &y, &w);
        jan4 = util_month_first_day((int64_t)y * 12) + 3;
        wd = (int)((jan4 + 3) % 7); /* 1970-01-01 was a Thursday: day 0 -> 3 (Mon = 0) */
        if (wd < 0)
            wd += 7;
        return jan4 - wd + (int64_t)(w - 1) * 7 + (end ? 6 : 0);
    }
    {
        int64_t first = util_month_first_day((int64_t)y * 12 + (m - 1));

        return first + (d == DIM_DAY ? dd - 1 : 0);
    }
}

/* fill=true: every calendar bucket of the time dimension between from and to (or between the
 * first and last bucket present), for every combination of the other dimension present (or
 * the one empty combination), so that charts have no gaps. Missing buckets get n = 0. */
static int grouping_fill(struct grouping *g, const struct response_filter *f, struct err *e)
{
    int t = -1;
    int64_t first = INT64_MAX, last = INT64_MIN, day;
    struct group **templates;
    size_t ntemplates = 0, cap;
    char key[16], prev[16] = "";

    for (int i = 0; i < g->ndims; i++)
        if (is_time_dim(g->dims[i]))
            t = i;
    if (t < 0)
        return err_param(e, "fill", "needs a group_by of day, week or month");
    if (f->has_from)
        first = util_local_day(f->from);
    if (f->has_to)
        last = util_local_day(f->to - 1);
    /* combinations of the other dimension, and (without bounds) the span of buckets present */
    cap = g->ngroups + 1;
    templates = xcalloc(cap, sizeof(*templates));
    for (size_t i = 0; i < g->nslots; i++) {
        struct group *gr = g->slots[i];
        int seen = 0;

        if (!gr)
            continue;
        for (size_t k = 0; k < ntemplates && g->ndims == 2; k++)
            if (cmp_values(templates[k]->value[1 - t], gr->value[1 - t]) == 0 &&
                (g->dims[1 - t] != DIM_PHASE || strcmp(templates[k]->journey, gr->journey) == 0))
                seen = 1;
        if (g->ndims == 2 && !seen)
            templates[ntemplates++] = gr;
    }
    if (!f->has_from || !f->has_to) {
        /* the span of what is present: bucket keys sort in time order */
        const char *lo = NULL, *hi = NULL;

        for (size_t i = 0; i < g->nslots; i++) {
            struct group *gr = g->slots[i];

            if (!gr)
                continue;
            if (!lo || strcmp(gr->value[t], lo) < 0)
                lo = gr->value[t];
            if (!hi || strcmp(gr->value[t], hi) > 0)
                hi = gr->value[t];
        }
        if (!lo) {
            free(templates);
            return 0; /* nothing present and no range given: nothing to fill */
        }
        if (!f->has_from)
            first = day_of_key(g->dims[t], lo, 0);
        if (!f->has_to)
            last = day_of_key(g->dims[t], hi, 1);
    }
    if (last - first > FILL_DAYS_MAX) {
        free(templates);
        return err_param(e, "fill", "covers more than %d days; narrow from and to", FILL_DAYS_MAX);
    }
    for (day = first; day <= last; day++) {
        time_key(g->dims[t], util_day_start(day) + 12 * 3600 * 1000LL, key, sizeof(key));
        if (strcmp(key, prev) == 0)
            continue;
        snprintf(prev, sizeof(prev), "%s", key);
        for (size_t k = 0; k < (g->ndims == 2 ? ntemplates : 1); k++) {
            const char *vals[GROUP_DIMS_MAX] = {NULL};
            const struct group *tp = g->ndims == 2 ? templates[k] : NULL;

            vals[t] = key;
            if (tp)
                vals[1 - t] = tp->value[1 - t];
            if (!grouping_get(g, vals, tp ? tp->journey : NULL, tp ? tp->phase : NULL,
                              tp ? tp->position : 0) ||
                g->ngroups > GROUPS_MAX) {
                free(templates);
                return err_param(e, "fill", "yields more than %d groups", GROUPS_MAX);
            }
        }
    }
    free(templates);
    return 0;
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
            c = cmp_values(a->value[i], b->value[i]);
        }
        if (c)
            return c;
    }
    return 0;
}

/* Parses group_by ("touchpoint", "touchpoint,month") into g. */
static int metrics_parse_group_by(const char *s, struct grouping *g, struct err *e)
{
    char buf[64];
    char *save = NULL, *tok;

    if (!s)
        return 0;
    if (strlen(s) >= sizeof(buf) || !*s)
        return err_param(e, "group_by",
                         "must name one or two of journey, phase, touchpoint, "
                         "channel, segment, day, week, month");
    snprintf(buf, sizeof(buf), "%s", s);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int found = -1;

        for (int d = 0; d < DIM_COUNT; d++)
            if (strcmp(tok, dim_names[d]) == 0)
                found = d;
        if (found < 0)
            return err_param(e, "group_by",
                             "unknown grouping %.32s; use journey, phase, "
                             "touchpoint, channel, segment, day, week or month",
                             tok);
        for (int i = 0; i < g->ndims; i++)
            if (g->dims[i] == (enum dim)found)
                return err_param(e, "group_by", "%s is given twice", tok);
        if (g->ndims == GROUP_DIMS_MAX)
            return err_param(e, "group_by", "at most %d groupings may be combined", GROUP_DIMS_MAX);
        g->dims[g->ndims++] = (enum dim)found;
    }
    if (g->ndims == 0 || s[strlen(s) - 1] == ',' || s[0] == ',' || strstr(s, ",,"))
        return err_param(e, "group_by", "must be a comma-separated list without empty items");
    return 0;
}

static void key_member(struct jw *w, int *first, const char *name, const char *value)
{
    jw_raw(w, *first ? "\"" : ",\"");
    jw_raw(w, name);
    jw_raw(w, "\":");
    jw_str(w, value);
    *first = 0;
}

/* A group's "key": its value of each grouping, in the order asked for; a phase brings its
 * journey along right after it (phases are keyed within their journey) unless the journey is
 * asked for before it. */
static void key_write(struct jw *w, const struct grouping *g, const struct group *gr)
{
    int journey_dim = -1, phase_dim = -1, first = 1;

    for (int d = 0; d < g->ndims; d++) {
        if (g->dims[d] == DIM_JOURNEY)
            journey_dim = d;
        if (g->dims[d] == DIM_PHASE)
            phase_dim = d;
    }
    jw_raw(w, "{");
    for (int d = 0; d < g->ndims; d++) {
        if (d == journey_dim && phase_dim >= 0 && phase_dim < journey_dim)
            continue; /* written with the phase */
        key_member(w, &first, dim_names[g->dims[d]], gr->value[d]);
        if (d == phase_dim && journey_dim > phase_dim)
            key_member(w, &first, "journey", gr->value[journey_dim]);
        else if (d == phase_dim && journey_dim < 0 && gr->journey)
            key_member(w, &first, "journey", gr->journey);
    }
    jw_raw(w, "}");
}

static void grouping_release(struct grouping *g)
{
    for (size_t i = 0; i < g->nslots; i++)
        if (g->slots[i])
            group_free(g->slots[i]);
    free(g->slots);
}

int api_metrics_get(struct req *req, struct app *app)
{
    struct err *e = req_err(req);
    struct response_filter f = {0};
    struct grouping g;
    struct group **list = NULL;
    struct target_set ts = {0};
    struct touchpoint tp = {0};
    struct scope filter_scope = {0};
    const char *fill = req_query(req, "fill");
    struct jw w;
    unsigned needs = SCAN_ANY;
    size_t n = 0, len;
    int ret = -1, pinned = 0;

    memset(&g, 0, sizeof(g));
    api_response_filter(req, &f);
    metrics_parse_group_by(req_query(req, "group_by"), &g, e);
    if (fill && strcmp(fill, "true") != 0 && strcmp(fill, "false") != 0)
        err_param(e, "fill", "must be true or false");
    if (e->code != ERR_NONE)
        goto done;
    for (int d = 0; d < g.ndims; d++) {
        if (g.dims[d] == DIM_DAY || g.dims[d] == DIM_WEEK)
            needs |= SCAN_DAY;
        else if (g.dims[d] == DIM_MONTH)
            needs |= SCAN_MONTH;
        else if (g.dims[d] == DIM_CHANNEL || g.dims[d] == DIM_SEGMENT)
            needs |= SCAN_DETAIL;
    }
    /* the scan, the targets and the filter's touchpoint: one snapshot */
    if (store_read_pin(app->store, e) < 0)
        goto done;
    pinned = 1;
    if (store_metrics_scan(app->store, &f, needs, grouping_add, &g, e) < 0)
        goto done;
    if (g.overflow) {
        err_param(e, "group_by", "yields more than %d groups; narrow the filters", GROUPS_MAX);
        goto done;
    }
    grouping_drop_empty(&g);
    if (g.ngroups > GROUPS_MAX) {
        err_param(e, "group_by", "yields more than %d groups; narrow the filters", GROUPS_MAX);
        goto done;
    }
    if (fill && strcmp(fill, "true") == 0 && grouping_fill(&g, &f, e) < 0)
        goto done;
    if (targets_load(app->store, &ts, e) < 0)
        goto done;
    /* what the filters fix, for targets: a touchpoint brings its phase and journey */
    filter_scope.journey = f.journey;
    filter_scope.phase = f.phase;
    filter_scope.touchpoint = f.touchpoint;
    if (f.touchpoint && ts.n > 0) {
        struct err ignore;

        err_init(&ignore);
        if (store_touchpoint_get(app->store, f.touchpoint, &tp, &ignore) == 0) {
            filter_scope.journey = tp.journey;
            filter_scope.phase = tp.phase;
        }
        err_release(&ignore);
    }
    store_read_unpin(app->store);
    pinned = 0;
    list = xcalloc(g.ngroups + 1, sizeof(*list));
    for (size_t i = 0; i < g.nslots; i++)
        if (g.slots[i])
            list[n++] = g.slots[i];
    qsort_r(list, n, sizeof(*list), group_cmp, &g);
    jw_init(&w);
    jw_raw(&w, "{\"groups\":[");
    for (size_t i = 0; i < n; i++) {
        struct scope sc = filter_scope;

        jw_raw(&w, i ? ",{\"key\":" : "{\"key\":");
        key_write(&w, &g, list[i]);
        for (int d = 0; d < g.ndims; d++)
            if (g.dims[d] == DIM_TOUCHPOINT)
                sc.touchpoint = list[i]->value[d];
        if (list[i]->journey)
            sc.journey = list[i]->journey;
        if (list[i]->phase)
            sc.phase = list[i]->phase;
        jw_raw(&w, ",");
        blocks_write(&w, &list[i]->h, &ts, &sc);
        jw_raw(&w, "}");
    }
    jw_raw(&w, "],\"total\":{");
    blocks_write(&w, &g.total, &ts, &filter_scope);
    jw_raw(&w, "}");
    if (app->tz) {
        jw_raw(&w, ",\"time_zone\":");
        jw_str(&w, app->tz);
    }
    jw_raw(&w, "}");
    len = w.len;
    req_reply_raw(req, HTTP_OK, "application/json", jw_take(&w), len);
    ret = 0;
done:
    if (pinned)
        store_read_unpin(app->store);
    free(list);
    grouping_release(&g);
    targets_release(&ts);
    touchpoint_release(&tp);
    return ret;
}
