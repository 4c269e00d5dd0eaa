/*
 * Responses and the metrics scan in the store (idempotency records: store_idem.c).
 */
#include "store_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void response_init(struct response *r)
{
    memset(r, 0, sizeof(*r));
    r->nps = r->csat = r->ces = r->expectation = RESPONSE_ABSENT;
    r->submitted_at = -1;
    for (int i = 0; i < RATING_AREAS; i++)
        r->rating[i] = RESPONSE_ABSENT;
}

void response_release(struct response *r)
{
    if (!r)
        return;
    free(r->touchpoint);
    free(r->journey);
    free(r->phase);
    free(r->comment);
    free(r->channel);
    free(r->language);
    free(r->customer);
    free(r->segment);
    free(r->properties);
    response_init(r);
}

#define RESPONSE_FROM                                                                              \
    " FROM responses r JOIN touchpoints t ON t.id = r.touchpoint_id "                              \
    "JOIN phases p ON p.id = t.phase_id JOIN journeys j ON j.id = p.journey_id "

#define RESPONSE_SELECT                                                                            \
    "SELECT r.id, t.key, j.key, p.key, r.nps, r.csat, r.ces, r.expectation, r.r_interaction, "     \
    "r.r_content, r.r_recovery, r.r_value, r.comment, r.channel, r.language, r.customer, "         \
    "r.segment, r.properties, r.submitted_at, r.received_at" RESPONSE_FROM

static int col_opt_int(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? RESPONSE_ABSENT : sqlite3_column_int(st, i);
}

static void response_from_row(sqlite3_stmt *st, void *item)
{
    struct response *r = item;
    response_init(r);
    r->id = sqlite3_column_int64(st, 0);
    r->touchpoint = col_text(st, 1);
    r->journey = col_text(st, 2);
    r->phase = col_text(st, 3);
    r->nps = col_opt_int(st, 4);
    r->csat = col_opt_int(st, 5);
    r->ces = col_opt_int(st, 6);
    r->expectation = col_opt_int(st, 7);
    for (int i = 0; i < RATING_AREAS; i++)
        r->rating[i] = col_opt_int(st, 8 + i);
    r->comment = col_text(st, 12);
    r->channel = col_text(st, 13);
    r->language = col_text(st, 14);
    r->customer = col_text(st, 15);
    r->segment = col_text(st, 16);
    r->properties = col_text(st, 17);
    r->submitted_at = sqlite3_column_int64(st, 18);
    r->received_at = sqlite3_column_int64(st, 19);
}

/* The text filters of a response_filter and their SQL, in binding order. */
static const struct {
    size_t offset;
    const char *sql;
} text_filters[] = {
    {offsetof(struct response_filter, journey), " AND j.key = ?"},
    {offsetof(struct response_filter, phase), " AND p.key = ?"},
    {offsetof(struct response_filter, touchpoint), " AND t.key = ?"},
    {offsetof(struct response_filter, channel), " AND r.channel = ?"},
    {offsetof(struct response_filter, segment), " AND r.segment = ?"},
    {offsetof(struct response_filter, customer), " AND r.customer = ?"},
};

static const char *filter_text(const struct response_filter *f, size_t i)
{
    return *(const char *const *)(const void *)((const char *)f + text_filters[i].offset);
}

/* Appends the text conditions of f to sql (constant fragments only; the values are bound by
 * filter_bind in the same order). */
static void filter_sql(const struct response_filter *f, char *sql, size_t len)
{
    for (size_t i = 0; i < sizeof(text_filters) / sizeof(text_filters[0]); i++)
        if (filter_text(f, i))
            strncat(sql, text_filters[i].sql, len - strlen(sql) - 1);
}

/* Binds the text conditions of f from parameter i on; returns the next parameter. */
static int filter_bind(sqlite3_stmt *st, const struct response_filter *f, int i)
{
    for (size_t k = 0; k < sizeof(text_filters) / sizeof(text_filters[0]); k++)
        if (filter_text(f, k))
            bind_text(st, i++, filter_text(f, k));
    return i;
}

static int response_get_on(struct conn *c, int64_t id, struct response *out, struct err *e)
{
    sqlite3_stmt *st = conn_stmt(c, RESPONSE_SELECT "WHERE r.id = ?", e);
    int rc;

    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return err_set(e, ERR_NOT_FOUND, "response %lld not found", (long long)id);
    if (rc != SQLITE_ROW)
        return store_sqlerr(e, c->db, rc, "response lookup");
    response_from_row(st, out);
    sqlite3_reset(st);
    return 0;
}

int store_response_get(struct store *s, int64_t id, struct response *out, struct err *e)
{
    struct conn *c = reader_get(s, e);
    int ret;

    if (!c)
        return -1;
    ret = response_get_on(c, id, out, e);
    reader_put(s, c);
    return ret;
}

/* Finds r's touchpoint: fills touchpoint_id, journey and phase. Writes nothing. An unknown key
 * is ERR_VALIDATION on /touchpoint, or on /items/<item>/touchpoint when item >= 0 (a batch). */
static int response_resolve(struct conn *c, struct response *r, long item, struct err *e)
{
    sqlite3_stmt *st;
    int rc;

    st = conn_stmt(c,
                   "SELECT t.id, j.key, p.key FROM touchpoints t JOIN phases p ON p.id = "
                   "t.phase_id JOIN journeys j ON j.id = p.journey_id WHERE t.key = ?",
                   e);
    if (!st)
        return -1;
    bind_text(st, 1, r->touchpoint);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        char pointer[48];

        sqlite3_reset(st);
        if (item < 0)
            snprintf(pointer, sizeof(pointer), "/touchpoint");
        else
            snprintf(pointer, sizeof(pointer), "/items/%ld/touchpoint", item);
        return err_field(e, pointer, "unknown touchpoint %s", r->touchpoint);
    }
    if (rc != SQLITE_ROW)
        return store_sqlerr(e, c->db, rc, "touchpoint lookup");
    r->touchpoint_id = sqlite3_column_int64(st, 0);
    free(r->journey);
    free(r->phase);
    r->journey = col_text(st, 1);
    r->phase = col_text(st, 2);
    sqlite3_reset(st);
    return 0;
}

/* Inserts one resolved response on the writer's connection. */
static int response_insert_on(struct conn *c, struct response *r, int64_t now, struct err *e)
{
    sqlite3_stmt *st;
    int rc;

    st = conn_stmt(c,
                   "INSERT INTO responses (touchpoint_id, nps, csat, ces, expectation, "
                   "r_interaction, r_content, r_recovery, r_value, comment, channel, language, "
                   "customer, segment, properties, submitted_at, received_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   e);
    if (!st)
        return -1;
    r->received_at = now;
    if (r->submitted_at < 0)
        r->submitted_at = r->received_at;
    sqlite3_bind_int64(st, 1, r->touchpoint_id);
    bind_opt_int(st, 2, r->nps);
    bind_opt_int(st, 3, r->csat);
    bind_opt_int(st, 4, r->ces);
    bind_opt_int(st, 5, r->expectation);
    for (int i = 0; i < RATING_AREAS; i++)
        bind_opt_int(st, 6 + i, r->rating[i]);
    bind_text(st, 10, r->comment);
    bind_text(st, 11, r->channel);
    bind_text(st, 12, r->language);
    bind_text(st, 13, r->customer);
    bind_text(st, 14, r->segment);
    bind_text(st, 15, r->properties);
    sqlite3_bind_int64(st, 16, r->submitted_at);
    sqlite3_bind_int64(st, 17, r->received_at);
    if ((rc = sqlite3_step(st)) != SQLITE_DONE)
        return store_sqlerr(e, c->db, rc, "response insert");
    r->id = sqlite3_last_insert_rowid(c->db);
    return 0;
}

/* Everything that can refuse a write is checked before its first change (the writer is the
 * only one writing, so nothing changes in between): a refused write leaves the transaction as
 * it was and needs no savepoint. A failure after the first change is storage trouble, and the
 * whole transaction goes (STORE_WRITE_BROKEN). */
int store_write_apply(struct conn *c, struct store_write *w)
{
    int64_t now = util_now_ms();
    int exists = 0;

    if (w->idem) {
        if (idem_exists(c, w->idem, &exists, &w->err) < 0)
            return -1;
        if (exists)
            return err_set(&w->err, ERR_CONFLICT, "Idempotency-Key %s is already recorded",
                           w->idem->key);
    }
    for (size_t i = 0; i < w->n; i++)
        if (response_resolve(c, &w->responses[i], w->batch ? (long)i : -1, &w->err) < 0)
            return -1;
    for (size_t i = 0; i < w->n; i++)
        if (response_insert_on(c, &w->responses[i], now, &w->err) < 0)
            return STORE_WRITE_BROKEN;
    if (w->idem && idem_record(c, w->idem, w->responses, w->n, now, &w->err) < 0)
        return STORE_WRITE_BROKEN;
    return 0;
}

int store_response_delete(struct store *s, int64_t id, struct err *e)
{
    return store_delete_id(s, "DELETE FROM responses WHERE id = ?", id, "response", e);
}

int store_responses_list(struct store *s, const struct response_filter *f, struct response **items,
                         size_t *n, struct err *e)
{
    struct conn *c = reader_get(s, e);
    sqlite3_stmt *st = NULL;
    char sql[1024] = RESPONSE_SELECT "WHERE r.id > ?";
    int rc, i = 2, ret = -1;

    *items = NULL;
    *n = 0;
    if (!c)
        return -1;
    /* Time conditions only when given: a full-range condition on submitted_at could lead the
     * planner to its index and a sort, where paging wants the rowid order. */
    if (f->has_from)
        strncat(sql, " AND r.submitted_at >= ? AND " RESPONSE_DAY " >= ?",
                sizeof(sql) - strlen(sql) - 1);
    if (f->has_to)
        strncat(sql, " AND r.submitted_at < ? AND " RESPONSE_DAY " <= ?",
                sizeof(sql) - strlen(sql) - 1);
    filter_sql(f, sql, sizeof(sql));
    strncat(sql, " ORDER BY r.id LIMIT ?", sizeof(sql) - strlen(sql) - 1);
    rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        store_sqlerr(e, c->db, rc, "response list");
        goto done;
    }
    sqlite3_bind_int64(st, 1, f->after_id);
    if (f->has_from) {
        sqlite3_bind_int64(st, i++, f->from);
        sqlite3_bind_int64(st, i++, response_day_of(f->from));
    }
    if (f->has_to) {
        sqlite3_bind_int64(st, i++, f->to);
        sqlite3_bind_int64(st, i++, response_day_of(f->to - 1));
    }
    sqlite3_bind_int(st, filter_bind(st, f, i), f->limit);
    ret = stmt_collect(c, st, (void **)items, n, sizeof(**items), response_from_row,
                       "response list", e);
done:
    sqlite3_finalize(st);
    reader_put(s, c);
    return ret;
}

/* ---- the metrics scan ---------------------------------------------------------------------
 *
 * A range [from, to) is split into whole local months (read from rollup_month), whole local
 * days around them (rollup_day), and the partial days at the edges (raw responses). Callers
 * that bucket by day or week get days instead of months. Everything is read in one read
 * transaction, so the parts form one consistent snapshot.
 */

#define DAY_MIN (-1000000LL)
#define DAY_MAX 10000000LL

static void scan_emit(sqlite3_stmt *st, int64_t time, const struct hist *h,
                      void (*cb)(const struct metric_row *row, void *ctx), void *ctx)
{
    struct metric_row row;
    const char *channel = (const char *)sqlite3_column_text(st, 4);
    const char *segment = (const char *)sqlite3_column_text(st, 5);

    row.journey = (const char *)sqlite3_column_text(st, 0);
    row.phase = (const char *)sqlite3_column_text(st, 1);
    row.phase_position = sqlite3_column_int(st, 2);
    row.touchpoint = (const char *)sqlite3_column_text(st, 3);
    row.channel = channel && *channel ? channel : NULL;
    row.segment = segment && *segment ? segment : NULL;
    row.time = time;
    row.hist = h;
    cb(&row, ctx);
}

#define SCAN_JOIN                                                                                  \
    " r JOIN touchpoints t ON t.id = r.touchpoint_id JOIN phases p ON p.id = t.phase_id "          \
    "JOIN journeys j ON j.id = p.journey_id "

/* Rollup buckets [lo, hi) of the day or month rollups, detailed (per channel and segment) or
 * coarse (per touchpoint). With timed, each row carries its bucket's start. */
static int scan_rollup(struct conn *c, const struct response_filter *f, int month, int detailed,
                       int timed, int64_t lo, int64_t hi,
                       void (*cb)(const struct metric_row *row, void *ctx), void *ctx,
                       struct err *e)
{
    static const char *const tables[2][2] = {{"rollup_day_tp", "rollup_day"},
                                             {"rollup_month_tp", "rollup_month"}};
    const char *bucket_col = month ? "month" : "day";
    char sql[1024];
    sqlite3_stmt *st = NULL;
    int64_t last_bucket = INT64_MIN, last_start = 0;
    int rc;

    /* the table and column names are our own constants, not input */
    snprintf(sql, sizeof(sql),
             "SELECT j.key, p.key, p.position, t.key, %s, r.%s, r.n, r.h FROM %s%s"
             "WHERE r.%s >= ? AND r.%s < ?",
             detailed ? "r.channel, r.segment" : "NULL, NULL", bucket_col, tables[month][detailed],
             SCAN_JOIN, bucket_col, bucket_col);
    filter_sql(f, sql, sizeof(sql));
    rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return store_sqlerr(e, c->db, rc, "metrics scan");
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    filter_bind(st, f, 3);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct hist h;
        int64_t bucket = sqlite3_column_int64(st, 6);

        if (timed && bucket != last_bucket) {
            last_bucket = bucket;
            last_start = month ? util_month_start(bucket) : util_day_start(bucket);
        }
        if (rollup_hist_read(st, 7, 8, &h) < 0) {
            sqlite3_finalize(st);
            return err_set(e, ERR_INTERNAL, "a %s row holds no histogram (polku rollup rebuild)",
                           tables[month][detailed]);
        }
        scan_emit(st, last_start, &h, cb, ctx);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : store_sqlerr(e, c->db, rc, "metrics scan");
}

/* The raw rows of one touchpoint gathered by channel and segment (RAW_KEYS at most, then
 * emitted and started again), so that a part of a day reaches the consumer as a few rows. */
#define RAW_KEYS 64

struct raw_acc {
    char *journey, *phase, *touchpoint;
    int position;
    int64_t tp_id, time;
    size_t n;
    struct {
        char *channel, *segment;
        struct hist h;
    } keys[RAW_KEYS];
};

static void raw_acc_emit(struct raw_acc *a, void (*cb)(const struct metric_row *row, void *ctx),
                         void *ctx)
{
    for (size_t i = 0; i < a->n; i++) {
        struct metric_row row = {.journey = a->journey,
                                 .phase = a->phase,
                                 .touchpoint = a->touchpoint,
                                 .channel = a->keys[i].channel,
                                 .segment = a->keys[i].segment,
                                 .phase_position = a->position,
                                 .time = a->time,
                                 .hist = &a->keys[i].h};

        cb(&row, ctx);
        free(a->keys[i].channel);
        free(a->keys[i].segment);
    }
    a->n = 0;
}

static int str_eq(const char *x, const char *y)
{
    return x == y || (x && y && strcmp(x, y) == 0);
}

/* Raw responses with submitted_at in [from, to), a part of one local day (every row's time
 * counts as the first one's: the consumer's buckets are whole days or longer); with sign -1,
 * taken out (of the day's rollup row emitted alongside). channel and segment only when
 * detailed. */
static int scan_raw(struct conn *c, const struct response_filter *f, int64_t from, int64_t to,
                    int sign, int detailed, void (*cb)(const struct metric_row *row, void *ctx),
                    void *ctx, struct err *e)
{
    /* CROSS JOIN keeps the touchpoints outside, so each one's days are read through
     * responses_touchpoint_day (there is no index on submitted_at alone). */
    char sql[1024] = "SELECT t.id, j.key, p.key, p.position, t.key, r.channel, r.segment, "
                     "r.submitted_at, r.nps, r.csat, r.ces, r.expectation, "
                     "r.r_interaction, r.r_content, r.r_recovery, r.r_value "
                     "FROM touchpoints t JOIN phases p ON p.id = t.phase_id "
                     "JOIN journeys j ON j.id = p.journey_id "
                     "CROSS JOIN responses r ON r.touchpoint_id = t.id "
                     "WHERE r.submitted_at >= ? AND r.submitted_at < ? "
                     "AND " RESPONSE_DAY " BETWEEN ? AND ?";
    struct raw_acc *a = xcalloc(1, sizeof(*a));
    sqlite3_stmt *st = NULL;
    int rc;

    filter_sql(f, sql, sizeof(sql));
    rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        free(a);
        return store_sqlerr(e, c->db, rc, "metrics scan");
    }
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    sqlite3_bind_int64(st, 3, response_day_of(from));
    sqlite3_bind_int64(st, 4, response_day_of(to - 1));
    filter_bind(st, f, 5);
    a->tp_id = -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t tp = sqlite3_column_int64(st, 0);
        const char *channel = NULL, *segment = NULL;
        struct response r;
        size_t i;

        /* Rows come touchpoint by touchpoint: SQLite keeps the left side of a CROSS JOIN
         * outside, and t joins p and j by primary key. Were they not, a touchpoint would only
         * be emitted in more, smaller units, each still right. */
        if (tp != a->tp_id) {
            raw_acc_emit(a, cb, ctx);
            free(a->journey);
            free(a->phase);
            free(a->touchpoint);
            a->journey = col_text(st, 1);
            a->phase = col_text(st, 2);
            a->position = sqlite3_column_int(st, 3);
            a->touchpoint = col_text(st, 4);
            a->tp_id = tp;
            a->time = sqlite3_column_int64(st, 7);
        }
        if (detailed) {
            channel = (const char *)sqlite3_column_text(st, 5);
            segment = (const char *)sqlite3_column_text(st, 6);
            channel = channel && *channel ? channel : NULL;
            segment = segment && *segment ? segment : NULL;
        }
        for (i = 0; i < a->n; i++)
            if (str_eq(a->keys[i].channel, channel) && str_eq(a->keys[i].segment, segment))
                break;
        if (i == a->n) {
            if (a->n == RAW_KEYS)
                raw_acc_emit(a, cb, ctx);
            i = a->n++;
            a->keys[i].channel = channel ? xstrdup(channel) : NULL;
            a->keys[i].segment = segment ? xstrdup(segment) : NULL;
            memset(&a->keys[i].h, 0, sizeof(a->keys[i].h));
        }
        response_init(&r);
        r.nps = col_opt_int(st, 8);
        r.csat = col_opt_int(st, 9);
        r.ces = col_opt_int(st, 10);
        r.expectation = col_opt_int(st, 11);
        for (int k = 0; k < RATING_AREAS; k++)
            r.rating[k] = col_opt_int(st, 12 + k);
        rollup_hist_count(&r, sign, &a->keys[i].h);
    }
    raw_acc_emit(a, cb, ctx);
    free(a->journey);
    free(a->phase);
    free(a->touchpoint);
    free(a);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : store_sqlerr(e, c->db, rc, "metrics scan");
}

/* The responses of [a, b), a part of the local day `day`. The raw rows of the part, or, when
 * the part is more than half of the day, the day's rollup row less the raw rows of the rest of
 * the day: either way at most half a day of raw rows (the index narrows them by submitted_at,
 * migration 10). The consumer drops groups whose count comes to 0 (a channel, say, only seen
 * in the rest of the day). */
static int scan_part_of_day(struct conn *c, const struct response_filter *f, int detailed,
                            int timed, int64_t day, int64_t a, int64_t b,
                            void (*cb)(const struct metric_row *row, void *ctx), void *ctx,
                            struct err *e)
{
    int64_t ds = util_day_start(day), de = util_day_start(day + 1);

    if ((b - a) * 2 <= de - ds)
        return scan_raw(c, f, a, b, 1, detailed, cb, ctx, e);
    if (scan_rollup(c, f, 0, detailed, timed, day, day + 1, cb, ctx, e) < 0)
        return -1;
    if (ds < a && scan_raw(c, f, ds, a, -1, detailed, cb, ctx, e) < 0)
        return -1;
    if (b < de && scan_raw(c, f, b, de, -1, detailed, cb, ctx, e) < 0)
        return -1;
    return 0;
}

int store_metrics_scan(struct store *s, const struct response_filter *f, unsigned needs,
                       void (*cb)(const struct metric_row *row, void *ctx), void *ctx,
                       struct err *e)
{
    struct conn *c = reader_get(s, e);
    int64_t from = f->has_from ? f->from : INT64_MIN, to = f->has_to ? f->to : INT64_MAX;
    int64_t d_lo = DAY_MIN, d_hi = DAY_MAX, head = 0, tail = 0;
    int has_head = 0, has_tail = 0;
    /* the coarse rollups serve whoever needs neither channel nor segment */
    int detailed = (needs & SCAN_DETAIL) || f->channel || f->segment || f->customer;
    int timed = (needs & (SCAN_MONTH | SCAN_DAY)) != 0;
    int ret = -1;

    if (!c)
        return -1;
    if (sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        store_sqlerr(e, c->db, sqlite3_errcode(c->db), "metrics scan");
        reader_put(s, c);
        return -1;
    }
    if (from >= to) {
        ret = 0; /* an empty range */
        goto done;
    }
    /* [from, to) is: a part of the day of from (head), whole local days [d_lo, d_hi), a part of
     * the day of to (tail); a range inside one day is its head alone */
    if (f->has_from) {
        head = util_local_day(from);
        d_lo = head;
        if (util_day_start(head) < from) {
            has_head = 1;
            d_lo = head + 1;
        }
    }
    if (f->has_to) {
        tail = util_local_day(to);
        d_hi = tail;
        has_tail = util_day_start(tail) < to;
    }
    if (has_head && has_tail && head == tail)
        has_tail = 0;
    if (has_head &&
        scan_part_of_day(c, f, detailed, timed, head, from,
                         f->has_to && to < util_day_start(head + 1) ? to : util_day_start(head + 1),
                         cb, ctx, e) < 0)
        goto done;
    if (has_tail &&
        scan_part_of_day(c, f, detailed, timed, tail, util_day_start(tail), to, cb, ctx, e) < 0)
        goto done;
    if (d_lo < d_hi) {
        int64_t m_lo = util_day_month(d_lo), m_hi = util_day_month(d_hi);

        if (util_month_first_day(m_lo) < d_lo)
            m_lo++;
        if (!(needs & SCAN_DAY) && m_lo < m_hi) {
            if (scan_rollup(c, f, 1, detailed, timed, m_lo, m_hi, cb, ctx, e) < 0 ||
                scan_rollup(c, f, 0, detailed, timed, d_lo, util_month_first_day(m_lo), cb, ctx,
                            e) < 0 ||
                scan_rollup(c, f, 0, detailed, timed, util_month_first_day(m_hi), d_hi, cb, ctx,
                            e) < 0)
                goto done;
        } else if (scan_rollup(c, f, 0, detailed, timed, d_lo, d_hi, cb, ctx, e) < 0) {
            goto done;
        }
    }
    ret = 0;
done:
    sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    reader_put(s, c);
    return ret;
}
