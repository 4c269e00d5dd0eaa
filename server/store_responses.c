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

    if (c->next_response_id == 0) {
        /* Once per transaction: the writer is the only one inserting responses. */
        st = conn_stmt(c, "SELECT " FRESH_ID("responses"), e);
        if (!st)
            return -1;
        rc = sqlite3_step(st);
        c->next_response_id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        if (c->next_response_id <= 0)
            return store_sqlerr(e, c->db, rc, "response id");
    }
    st = conn_stmt(c,
                   "INSERT INTO responses (touchpoint_id, nps, csat, ces, expectation, "
                   "r_interaction, r_content, r_recovery, r_value, comment, channel, language, "
                   "customer, segment, properties, submitted_at, received_at, id) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
    sqlite3_bind_int64(st, 18, c->next_response_id);
    if ((rc = sqlite3_step(st)) != SQLITE_DONE)
        return store_sqlerr(e, c->db, rc, "response insert");
    r->id = c->next_response_id++;
    return 0;
}

/* Everything that can refuse a write is checked before its first change (the writer is the
 * only one writing, so nothing changes in between): a refused write leaves the transaction as
 * it was and needs no savepoint. A failure after the first change is storage trouble, and the
 * whole transaction goes (STORE_WRITE_BROKEN). */
int store_write_apply(struct conn *c, struct idem_mem *m, struct store_write *w, int64_t now,
                      int64_t idem_ttl_ms)
{
    int64_t fp = w->idem ? idem_fp(w->idem->principal, w->idem->key) : 0;
    int exists = 0;

    if (w->idem) {
        if (idem_find(c, m, w->idem, fp, now - idem_ttl_ms, &exists, &w->err) < 0)
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
    if (w->idem && idem_record(c, m, w->idem, fp, w->responses, w->n, now, &w->err) < 0)
        return STORE_WRITE_BROKEN;
    return 0;
}

int store_response_delete(struct store *s, int64_t id, struct err *e)
{
    return store_delete_id(s, "DELETE FROM responses WHERE id = ?", id, "response", e);
}

#define HOUR_MS 3600000LL

/* Local days before and after any stored response. */
#define DAY_MIN (-1000000LL)
#define DAY_MAX 10000000LL

/* The ids a list of f walks, (*after, *last]: from the smallest to the largest id of the range's
 * local days (rollup_day_arrival), or of the days of the touchpoints a journey, phase or
 * touchpoint filter picks (rollup_day_tp). No index of responses starts with the touchpoint, and
 * the day index holds all touchpoints in order of arrival, not ids. Both are bounds (deletes
 * leave them). rollup_day_arrival keeps its own per day: taken from rollup_day_tp, a list over
 * a year read 7,300 rows (13 ms at 10M responses) instead of 365 (0.1 ms). Not while the
 * rollups' days are of another zone (rebuilt by `polku rollup rebuild` with another POLKU_TZ
 * while this server runs): then every id. Returns 1 when no response can match. */
static int list_id_bounds(struct conn *c, const struct response_filter *f, int64_t *after,
                          int64_t *last, struct err *e)
{
    int by_tp = f->journey || f->phase || f->touchpoint;
    sqlite3_stmt *st;
    int64_t first = INT64_MAX, largest = INT64_MAX;
    int rc;

    if (!by_tp && !f->has_from && !f->has_to)
        return 0; /* every id */
    if ((rc = rollup_zone_same(c, NULL, 0, e)) <= 0)
        return rc; /* another zone's days: every id */
    st = conn_stmt(c,
                   by_tp ? "SELECT min(d.min_id), max(d.max_id) FROM rollup_day_tp d "
                           "JOIN touchpoints t ON t.id = d.touchpoint_id "
                           "JOIN phases p ON p.id = t.phase_id "
                           "JOIN journeys j ON j.id = p.journey_id "
                           "WHERE d.day >= ?1 AND d.day <= ?2 AND (?3 IS NULL OR j.key = ?3) "
                           "AND (?4 IS NULL OR p.key = ?4) AND (?5 IS NULL OR t.key = ?5)"
                         : "SELECT min(min_id), max(max_id) FROM rollup_day_arrival "
                           "WHERE day >= ?1 AND day <= ?2",
                   e);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, f->has_from ? util_local_day(f->from) : DAY_MIN);
    sqlite3_bind_int64(st, 2, f->has_to ? util_local_day(f->to - 1) : DAY_MAX);
    if (by_tp) {
        bind_text(st, 3, f->journey);
        bind_text(st, 4, f->phase);
        bind_text(st, 5, f->touchpoint);
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        first = sqlite3_column_int64(st, 0);
        largest = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return store_sqlerr(e, c->db, rc, "response list");
    if (first == INT64_MAX)
        return 1; /* no responses on those days */
    if (first - 1 > *after)
        *after = first - 1;
    *last = largest;
    return 0;
}

/* The touchpoints and UTC hours a list by touchpoint or time covers (rollup_hour_tp; ?1 and ?2
 * the hours, ?3 to ?5 the journey, phase and touchpoint keys). CROSS JOIN: touchpoints outside,
 * each one's hours by its primary key (SQLite preferred the index on hour alone and joined the
 * catalog for every hour: 25 ms for a touchpoint's year at 10M responses, against 1 ms). */
#define LIST_HOURS                                                                                 \
    "FROM touchpoints t JOIN phases p ON p.id = t.phase_id "                                       \
    "JOIN journeys j ON j.id = p.journey_id CROSS JOIN rollup_hour_tp h "                          \
    "WHERE h.touchpoint_id = t.id AND h.hour >= ?1 AND h.hour <= ?2 "                              \
    "AND (?3 IS NULL OR j.key = ?3) AND (?4 IS NULL OR p.key = ?4) AND (?5 IS NULL OR t.key = ?5)"

static void list_hours_bind(sqlite3_stmt *st, const struct response_filter *f)
{
    sqlite3_bind_int64(st, 1, f->has_from ? f->from / HOUR_MS : 0);
    sqlite3_bind_int64(st, 2, f->has_to ? (f->to - 1) / HOUR_MS : INT64_MAX);
    bind_text(st, 3, f->journey);
    bind_text(st, 4, f->phase);
    bind_text(st, 5, f->touchpoint);
}

/* How a list of responses finds its rows (store_responses_list). LIST_WALK walks the ids in
 * order from the cursor, testing each row: cheap when the matches are dense in the ids it
 * walks. LIST_GATHER gathers the ids of the list's touchpoints and UTC hours from the day
 * index (within rollup_hour_tp's received_at bounds), sorts them and reads those rows: for a
 * rare touchpoint, or an old range whose days also hold responses imported much later (their
 * ids are the newest, so the walk crossed the whole table). A list first walks
 * LIST_WALK_FIRST ids (or 8 times its limit); if that does not fill the page, list_plan
 * compares walk, an estimate of the ids the rest of the walk would read, with gathering, from
 * the rollups' counts: LIST_WALK, LIST_GATHER, or -1 on error. */
#define LIST_WALK_FIRST       4096
#define LIST_WALK_STEPS       6     /* SQLite VM steps a walked row costs, about */
#define LIST_GATHER_MAX       65536 /* ids gathered at most, else the walk */
#define LIST_GATHER_HOURS     1024  /* hours read at most, else the walk */
#define LIST_GATHER_HOURS_SQL "1025"
#define LIST_GATHER_RATIO     4 /* the gathering must look this much cheaper */

static int list_plan(struct conn *c, const struct response_filter *f, int64_t walk, struct err *e)
{
    sqlite3_stmt *st = conn_stmt(c,
                                 "SELECT coalesce(sum(n), 0), count(*) FROM (SELECT h.n " LIST_HOURS
                                 " LIMIT " LIST_GATHER_HOURS_SQL ")",
                                 e);
    int64_t found, hours;
    int rc;

    if (!st)
        return -1;
    if (!f->journey && !f->phase && !f->touchpoint && !f->has_from && !f->has_to)
        return LIST_WALK; /* every hour of every touchpoint */
    list_hours_bind(st, f);
    rc = sqlite3_step(st);
    found = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    hours = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return store_sqlerr(e, c->db, rc, "response list");
    if (hours > LIST_GATHER_HOURS || found > LIST_GATHER_MAX)
        return LIST_WALK;
    /* the gathering reads the found index entries, and a statement per hour costs about as
     * much as 16 entries */
    return (found + 16 * hours) * LIST_GATHER_RATIO < walk ? LIST_GATHER : LIST_WALK;
}

static int id_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* The ids above after of the responses f's touchpoints hold in f's range, in order, from the day
 * index: per UTC hour of rollup_hour_tp, between the smallest recv_min and the largest recv_max
 * of its touchpoints (bounds: deletes leave them), with the times and the touchpoint tested on
 * the index entries. The seek is by (received_at, submitted_at): where an hour's rows share one
 * received_at (a batch), only the batch's entries of that hour are read, not all of the batch's
 * on that day. A new array in *ids. */
static int list_gather(struct conn *c, const struct response_filter *f, int64_t after,
                       int64_t budget, int64_t **ids, size_t *n, struct err *e)
{
    sqlite3_stmt *hs = conn_stmt(c,
                                 "SELECT h.hour, min(h.recv_min), max(h.recv_max) " LIST_HOURS
                                 " GROUP BY h.hour",
                                 e),
                 *st;
    size_t cap = 0;
    int rc;

    *ids = NULL;
    *n = 0;
    if (!hs)
        return -1;
    st = conn_stmt(
        c,
        "SELECT r.id FROM responses r INDEXED BY responses_day_arrival WHERE " RESPONSE_DAY " = ?1 "
        "AND (r.received_at, r.submitted_at) >= (?2, ?4) AND (r.received_at, r.submitted_at) < "
        "(?3, ?5) AND r.submitted_at >= ?4 AND r.submitted_at < ?5 AND r.id > ?6 "
        "AND r.touchpoint_id IN "
        "(SELECT t.id FROM touchpoints t JOIN phases p ON p.id = t.phase_id "
        "JOIN journeys j ON j.id = p.journey_id WHERE (?7 IS NULL OR j.key = ?7) "
        "AND (?8 IS NULL OR p.key = ?8) AND (?9 IS NULL OR t.key = ?9))",
        e);
    if (!st)
        return -1;
    list_hours_bind(hs, f);
    bind_text(st, 7, f->journey);
    bind_text(st, 8, f->phase);
    bind_text(st, 9, f->touchpoint);
    sqlite3_bind_int64(st, 6, after);
    sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 1); /* counts from 0 */
    while ((rc = sqlite3_step(hs)) == SQLITE_ROW) {
        int64_t hour = sqlite3_column_int64(hs, 0), x = hour * HOUR_MS, y = x + HOUR_MS;

        if (f->has_from && f->from > x)
            x = f->from;
        if (f->has_to && f->to < y)
            y = f->to;
        sqlite3_bind_int64(st, 1, response_day_of(x));
        sqlite3_bind_int64(st, 2, sqlite3_column_int64(hs, 1));
        sqlite3_bind_int64(st, 3, sqlite3_column_int64(hs, 2));
        sqlite3_bind_int64(st, 4, x);
        sqlite3_bind_int64(st, 5, y);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (*n == cap) {
                cap = cap ? 2 * cap : 256;
                *ids = xrealloc(*ids, cap * sizeof(**ids));
            }
            (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            break;
        if (budget && sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 0) > budget) {
            sqlite3_reset(hs);
            return 1; /* the hours' stretches hold many other rows: walk instead */
        }
    }
    sqlite3_reset(hs);
    if (rc != SQLITE_DONE)
        return store_sqlerr(e, c->db, rc, "response list");
    if (*n > 1)
        qsort(*ids, *n, sizeof(**ids), id_cmp);
    return 0;
}

/* The responses of ids (in order) that pass f's other conditions, up to f's limit. */
static int list_fetch(struct conn *c, const struct response_filter *f, const int64_t *ids,
                      size_t nids, struct response **items, size_t *n, struct err *e)
{
    char sql[1024] = RESPONSE_SELECT "WHERE r.id = ?";
    sqlite3_stmt *st;

    filter_sql(f, sql, sizeof(sql));
    if (!(st = conn_stmt_text(c, sql, e)))
        return -1;
    filter_bind(st, f, 2);
    for (size_t k = 0; k < nids && *n < (size_t)f->limit; k++) {
        sqlite3_bind_int64(st, 1, ids[k]);
        if (stmt_collect(c, st, (void **)items, n, sizeof(**items), response_from_row,
                         "response list", e) < 0)
            return -1;
        sqlite3_reset(st);
    }
    return 0;
}

/* Appends to *items the responses of f with ids in (after, last], in order, until f's limit. */
static int list_walk(struct conn *c, const struct response_filter *f, int64_t after, int64_t last,
                     struct response **items, size_t *n, struct err *e)
{
    char sql[1024] = RESPONSE_SELECT "WHERE r.id > ? AND r.id <= ?";
    sqlite3_stmt *st;
    int i = 3, ret;

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
    if (!(st = conn_stmt_text(c, sql, e)))
        return -1;
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, last);
    if (f->has_from) {
        sqlite3_bind_int64(st, i++, f->from);
        sqlite3_bind_int64(st, i++, response_day_of(f->from));
    }
    if (f->has_to) {
        sqlite3_bind_int64(st, i++, f->to);
        sqlite3_bind_int64(st, i++, response_day_of(f->to - 1));
    }
    sqlite3_bind_int(st, filter_bind(st, f, i), f->limit - (int)*n);
    ret = stmt_collect(c, st, (void **)items, n, sizeof(**items), response_from_row,
                       "response list", e);
    sqlite3_reset(st);
    return ret;
}

/* Appends the rest of f's page from the ids above after, gathered from the day index; 1 without
 * appending anything when gathering took more than budget VM steps (0: no limit). */
static int list_by_gathering(struct conn *c, const struct response_filter *f, int64_t after,
                             int64_t budget, struct response **items, size_t *n, struct err *e)
{
    int64_t *ids;
    size_t nids;
    int ret = list_gather(c, f, after, budget, &ids, &nids, e);

    if (ret == 0)
        ret = list_fetch(c, f, ids, nids, items, n, e);
    free(ids);
    return ret;
}

int store_responses_list(struct store *s, const struct response_filter *f, struct response **items,
                         size_t *n, struct err *e)
{
    struct conn *c = reader_get(s, e);
    int64_t after = f->after_id, last = INT64_MAX, stop, stretch;
    int ret = -1, rc, plan;

    *items = NULL;
    *n = 0;
    if (!c)
        return -1;
    if ((rc = list_id_bounds(c, f, &after, &last, e)) != 0) {
        ret = rc > 0 ? 0 : -1;
        goto done;
    }
    if (s->opts.list_plan == LIST_GATHER) {
        ret = list_by_gathering(c, f, after, 0, items, n, e);
        goto done;
    }
    /* Walk a stretch of ids first: dense matches fill the page there. Only when they do not
     * does the rest of the walk, estimated from the matches found so far, compete with
     * gathering the ids from the day index. */
    stretch = f->limit * 8 > LIST_WALK_FIRST ? f->limit * 8 : LIST_WALK_FIRST;
    stop = s->opts.list_plan == LIST_WALK || last - after <= stretch ? last : after + stretch;
    if (f->customer)
        stop = last; /* the walk goes through the index of customers: the customer's rows only */
    if (list_walk(c, f, after, stop, items, n, e) < 0)
        goto done;
    if (*n < (size_t)f->limit && stop < last) {
        /* the rest of the ids, at most (no bound: another zone's rollups); fewer at the
         * density of the matches found in the stretch */
        int64_t walk = last - stop, rest = f->limit - (int64_t)*n;

        if (walk > INT64_MAX / LIST_WALK_STEPS)
            walk = INT64_MAX / LIST_WALK_STEPS;
        if (*n > 0 && rest * (stretch / (int64_t)*n) < walk)
            walk = rest * (stretch / (int64_t)*n);
        if ((plan = list_plan(c, f, walk, e)) < 0)
            goto done;
        /* The gathering may meet many rows of other touchpoints or hours in the day index
         * (those received within an hour's received_at bounds): it gives up once it has cost
         * what the walk is estimated to, so a list costs at most about twice the walk. */
        if (plan == LIST_GATHER)
            plan = list_by_gathering(c, f, stop, walk * LIST_WALK_STEPS, items, n, e);
        if (plan < 0 || (plan > 0 && list_walk(c, f, stop, last, items, n, e) < 0))
            goto done;
    }
    ret = 0;
done:
    reader_put(s, c);
    if (ret < 0) {
        for (size_t k = 0; k < *n; k++)
            response_release(&(*items)[k]);
        free(*items);
        *items = NULL;
        *n = 0;
    }
    return ret;
}

/* ---- the metrics scan ---------------------------------------------------------------------
 *
 * A range [from, to) is split into whole local months (read from rollup_month), whole local
 * days around them (rollup_day), and the partial days at the edges (raw responses). Callers
 * that bucket by day or week get days instead of months. Everything is read in one read
 * transaction, so the parts form one consistent snapshot.
 */

/* A touchpoint a scan reports, with the keys its rows carry. */
struct scan_tp {
    int64_t id;
    char *journey, *phase, *touchpoint;
    int position;
};

/* The touchpoints a scan reports, sorted by id: those matching f's journey, phase and
 * touchpoint, with the keys its rows carry. Rollup rows are read without joining the catalog
 * for every row (three lookups a row were about a tenth of a metrics request). */
struct scan_tps {
    struct scan_tp *tp;
    size_t n;
    int filtered; /* f fixes the journey, phase or touchpoint: only these touchpoints' rows */
};

#define SCAN_TPS                                                                                   \
    "SELECT t.id, j.key, p.key, p.position, t.key FROM touchpoints t "                             \
    "JOIN phases p ON p.id = t.phase_id JOIN journeys j ON j.id = p.journey_id "                   \
    "WHERE (?2 IS NULL OR j.key = ?2) AND (?3 IS NULL OR p.key = ?3) "                             \
    "AND (?4 IS NULL OR t.key = ?4) ORDER BY t.id"

static void scan_tps_release(struct scan_tps *tps)
{
    for (size_t i = 0; i < tps->n; i++) {
        free(tps->tp[i].journey);
        free(tps->tp[i].phase);
        free(tps->tp[i].touchpoint);
    }
    free(tps->tp);
    memset(tps, 0, sizeof(*tps));
}

static int scan_tps_load(struct conn *c, const struct response_filter *f, struct scan_tps *out,
                         struct err *e)
{
    sqlite3_stmt *st = conn_stmt(c, SCAN_TPS, e);
    size_t cap = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    out->filtered = f->journey || f->phase || f->touchpoint;
    if (!st)
        return -1;
    bind_text(st, 2, f->journey);
    bind_text(st, 3, f->phase);
    bind_text(st, 4, f->touchpoint);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct scan_tp *t;

        if (out->n == cap) {
            cap = cap ? cap * 2 : 32;
            out->tp = xrealloc(out->tp, cap * sizeof(*out->tp));
        }
        t = &out->tp[out->n++];
        t->id = sqlite3_column_int64(st, 0);
        t->journey = col_text(st, 1);
        t->phase = col_text(st, 2);
        t->position = sqlite3_column_int(st, 3);
        t->touchpoint = col_text(st, 4);
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    scan_tps_release(out);
    return store_sqlerr(e, c->db, rc, "metrics scan");
}

static const struct scan_tp *scan_tps_find(const struct scan_tps *tps, int64_t id)
{
    size_t lo = 0, hi = tps->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (tps->tp[mid].id == id)
            return &tps->tp[mid];
        if (tps->tp[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Touchpoints listed in a rollup query by id (when f picks some): more and the rows are
 * picked here instead. */
#define SCAN_TPS_LISTED 256

/* Appends to sql the condition that picks the touchpoints of tps by id, when f picked some
 * and they are few enough to list; the others are left out by raw_acc_count. */
static void tps_condition(const struct scan_tps *tps, char *sql, size_t size)
{
    size_t len = strlen(sql);

    if (!tps->filtered || tps->n > SCAN_TPS_LISTED)
        return;
    len += (size_t)snprintf(sql + len, size - len, " AND r.touchpoint_id IN (");
    for (size_t i = 0; i < tps->n && len < size; i++)
        len += (size_t)snprintf(sql + len, size - len, "%s%lld", i ? "," : "",
                                (long long)tps->tp[i].id);
    if (len < size)
        snprintf(sql + len, size - len, ")");
}

enum { ROLLUP_DAY, ROLLUP_MONTH, ROLLUP_HOUR };

/* Rollup buckets [lo, hi) of the day, month or UTC hour rollups, detailed (per channel and
 * segment; not hours) or coarse (per touchpoint), of the touchpoints of tps. With timed, each
 * row carries its bucket's start. */
static int scan_rollup(struct conn *c, const struct response_filter *f, const struct scan_tps *tps,
                       int kind, int detailed, int timed, int64_t lo, int64_t hi,
                       void (*cb)(const struct metric_row *row, void *ctx), void *ctx,
                       struct err *e)
{
    static const char *const tables[3][2] = {{"rollup_day_tp", "rollup_day"},
                                             {"rollup_month_tp", "rollup_month"},
                                             {"rollup_hour_tp", "rollup_hour_tp"}};
    static const char *const bucket_cols[3] = {"day", "month", "hour"};
    const char *bucket_col = bucket_cols[kind];
    char sql[SCAN_TPS_LISTED * 24 + 512];
    sqlite3_stmt *st = NULL;
    int64_t last_bucket = INT64_MIN, last_start = 0;
    int rc, param = 3;

    if (tps->n == 0)
        return 0; /* no touchpoint matches */
    /* the table and column names are our own constants, not input; ids are integers */
    snprintf(sql, sizeof(sql),
             "SELECT r.touchpoint_id, %s, r.%s, r.n, r.h FROM %s r WHERE r.%s >= ? AND r.%s < ?",
             detailed ? "r.channel, r.segment" : "NULL, NULL", bucket_col, tables[kind][detailed],
             bucket_col, bucket_col);
    tps_condition(tps, sql, sizeof(sql));
    /* channel, segment (and customer, which rollups do not have) */
    for (size_t k = 3; k < sizeof(text_filters) / sizeof(text_filters[0]); k++)
        if (filter_text(f, k))
            strncat(sql, text_filters[k].sql, sizeof(sql) - strlen(sql) - 1);
    if (!(st = conn_stmt_text(c, sql, e)))
        return -1;
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    for (size_t k = 3; k < sizeof(text_filters) / sizeof(text_filters[0]); k++)
        if (filter_text(f, k))
            bind_text(st, param++, filter_text(f, k));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const struct scan_tp *t = scan_tps_find(tps, sqlite3_column_int64(st, 0));
        const char *channel = (const char *)sqlite3_column_text(st, 1);
        const char *segment = (const char *)sqlite3_column_text(st, 2);
        int64_t bucket = sqlite3_column_int64(st, 3);
        struct hist h;

        if (!t)
            continue; /* not one of f's touchpoints (or not in the catalog) */
        if (timed && bucket != last_bucket) {
            last_bucket = bucket;
            last_start = kind == ROLLUP_MONTH ? util_month_start(bucket)
                         : kind == ROLLUP_DAY ? util_day_start(bucket)
                                              : bucket * HOUR_MS;
        }
        if (rollup_hist_read(st, 4, 5, &h) < 0) {
            sqlite3_reset(st);
            return err_set(e, ERR_INTERNAL, "a %s row holds no histogram (polku rollup rebuild)",
                           tables[kind][detailed]);
        }
        {
            struct metric_row row = {.journey = t->journey,
                                     .phase = t->phase,
                                     .touchpoint = t->touchpoint,
                                     .channel = channel && *channel ? channel : NULL,
                                     .segment = segment && *segment ? segment : NULL,
                                     .phase_position = t->position,
                                     .time = last_start,
                                     .hist = &h};

            cb(&row, ctx);
        }
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_sqlerr(e, c->db, rc, "metrics scan");
}

/* ---- raw rows ------------------------------------------------------------------------------
 *
 * Raw rows are read for all the touchpoints of a scan at once, in the order of the index
 * responses_day_arrival (migration 14: UTC day, received_at, submitted_at, touchpoint_id), and
 * gathered per touchpoint (and channel and segment when detailed), so that a part of a day
 * reaches the consumer as a few rows. The touchpoint and the times are tested in the index:
 * only the rows a scan counts are read from the table.
 */

#define RAW_ROWS                                                                                   \
    "SELECT r.touchpoint_id, r.channel, r.segment, r.nps, r.csat, r.ces, r.expectation, "          \
    "r.r_interaction, r.r_content, r.r_recovery, r.r_value "

struct raw_key {
    const struct scan_tp *tp; /* NULL: a free slot */
    char *channel, *segment;
    struct hist h;
};

/* Keys held at most: then every row gathered is passed on and gathering starts again (the
 * consumer adds rows of a group up), which bounds the memory of a part with many channels and
 * segments (free text). */
#define RAW_KEYS_MAX 4096

struct raw_acc {
    struct raw_key *slots; /* open addressing */
    size_t *order;         /* the used slots, in the order they were taken */
    size_t cap, used;
    /* where the rows go, with the time they carry */
    void (*cb)(const struct metric_row *row, void *ctx);
    void *ctx;
    int64_t time;
};

static int str_eq(const char *x, const char *y)
{
    return x == y || (x && y && strcmp(x, y) == 0);
}

static uint64_t raw_hash(const struct scan_tp *tp, const char *channel, const char *segment)
{
    uint64_t h = (uint64_t)tp->id * 0x9e3779b97f4a7c15ULL;

    for (const char *p = channel ? channel : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = segment ? segment : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h ^ (h >> 29);
}

/* The key of (tp, channel, segment) in a, taken when new. */
static struct raw_key *raw_slot(struct raw_acc *a, const struct scan_tp *tp, const char *channel,
                                const char *segment)
{
    size_t i;

    if ((a->used + 1) * 2 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        struct raw_key *fresh = xcalloc(cap, sizeof(*fresh));
        size_t *order = xcalloc(cap / 2, sizeof(*order));

        for (size_t k = 0; k < a->used; k++) {
            const struct raw_key *old = &a->slots[a->order[k]];

            i = raw_hash(old->tp, old->channel, old->segment) & (cap - 1);
            while (fresh[i].tp)
                i = (i + 1) & (cap - 1);
            fresh[i] = *old;
            order[k] = i;
        }
        free(a->slots);
        free(a->order);
        a->slots = fresh;
        a->order = order;
        a->cap = cap;
    }
    i = raw_hash(tp, channel, segment) & (a->cap - 1);
    for (;;) {
        struct raw_key *k = &a->slots[i];

        if (!k->tp) {
            k->tp = tp;
            k->channel = channel ? xstrdup(channel) : NULL;
            k->segment = segment ? xstrdup(segment) : NULL;
            memset(&k->h, 0, sizeof(k->h));
            a->order[a->used++] = i;
            return k;
        }
        if (k->tp == tp && str_eq(k->channel, channel) && str_eq(k->segment, segment))
            return k;
        i = (i + 1) & (a->cap - 1);
    }
}

/* Passes every row gathered in a on (to a->cb, with a->time), in the order first seen, and
 * empties a. */
static void raw_acc_emit(struct raw_acc *a)
{
    for (size_t i = 0; i < a->used; i++) {
        struct raw_key *k = &a->slots[a->order[i]];
        struct metric_row row = {.journey = k->tp->journey,
                                 .phase = k->tp->phase,
                                 .touchpoint = k->tp->touchpoint,
                                 .channel = k->channel,
                                 .segment = k->segment,
                                 .phase_position = k->tp->position,
                                 .time = a->time,
                                 .hist = &k->h};

        a->cb(&row, a->ctx);
        free(k->channel);
        free(k->segment);
        k->tp = NULL;
    }
    a->used = 0;
}

/* Counts the row at st (RAW_ROWS) sign times into a, under its touchpoint (not at all when
 * that is not one of tps), and under its channel and segment when detailed. */
static void raw_acc_count(struct raw_acc *a, const struct scan_tps *tps, sqlite3_stmt *st, int sign,
                          int detailed)
{
    const struct scan_tp *tp = scan_tps_find(tps, sqlite3_column_int64(st, 0));
    const char *channel = NULL, *segment = NULL;
    struct response r;

    if (!tp)
        return;
    if (a->used == RAW_KEYS_MAX)
        raw_acc_emit(a);
    if (detailed) {
        channel = (const char *)sqlite3_column_text(st, 1);
        segment = (const char *)sqlite3_column_text(st, 2);
        channel = channel && *channel ? channel : NULL;
        segment = segment && *segment ? segment : NULL;
    }
    response_init(&r);
    r.nps = col_opt_int(st, 3);
    r.csat = col_opt_int(st, 4);
    r.ces = col_opt_int(st, 5);
    r.expectation = col_opt_int(st, 6);
    for (int k = 0; k < RATING_AREAS; k++)
        r.rating[k] = col_opt_int(st, 7 + k);
    rollup_hist_count(&r, sign, &raw_slot(a, tp, channel, segment)->h);
}

static void raw_acc_release(struct raw_acc *a)
{
    for (size_t i = 0; i < a->used; i++) {
        free(a->slots[a->order[i]].channel);
        free(a->slots[a->order[i]].segment);
    }
    free(a->slots);
    free(a->order);
    memset(a, 0, sizeof(*a));
}

/* ---- parts of days --------------------------------------------------------------------------
 *
 * The raw rows of a part of a local day are read per UTC day, from the index
 * responses_day_arrival, whose entries of a UTC day are in the order (received_at,
 * submitted_at, touchpoint_id, id). rollup_day_arrival.late (migration 14) bounds how late a
 * row of the local day arrived, in that order, against the rows before it (of any touchpoint).
 * So a row with submitted_at >= y + late means that every later row of the day has
 * submitted_at >= y, and a row with submitted_at < x - late that every earlier one has
 * submitted_at < x: a scan for [x, y) stops at the first such row, found by a query that reads
 * only the index. When rows arrived in time order (late 0), a part costs in proportion to the
 * part; when they did not, up to the whole day.
 */

#define PART_TPS  "SELECT touchpoint_id, n FROM rollup_day_tp WHERE day = ?"
#define PART_LATE "SELECT late FROM rollup_day_arrival WHERE day = ?"

#define PART_DAY                                                                                   \
    "FROM responses r WHERE " RESPONSE_DAY " = ?1 AND r.submitted_at >= ?2 AND r.submitted_at < "  \
    "?3"

/* Where a forward (0) or backward (1) scan stops: the first row in [?2, ?3), index only. */
static const char *const part_stop_sql[2] = {
    "SELECT r.received_at, r.submitted_at " PART_DAY
    " ORDER BY r.received_at, r.submitted_at LIMIT 1",
    "SELECT r.received_at, r.submitted_at " PART_DAY
    " ORDER BY r.received_at DESC, r.submitted_at DESC LIMIT 1"};

/* The rows of [?2, ?3): all of the day, before the stop row (?4, ?5), or after it. */
static const char *const part_bound_sql[3] = {"", " AND (r.received_at, r.submitted_at) < (?4, ?5)",
                                              " AND (r.received_at, r.submitted_at) > (?4, ?5)"};

/* How much more a row read from the table costs than an index entry read (for choosing how
 * to read a part; measured roughly on the bench's data). */
#define PART_ROW_COST 4.0

/* Counts sign times into a the rows of the touchpoints of tps with submitted_at in [x, y), a
 * part of the local day [ds, de) whose rows arrived up to late ms late: per UTC day of the
 * index, read forward from the start or backward from the end, whichever reaches past the part
 * sooner, up to the row where late says to stop. The stop row is looked for within the UTC day
 * only: outside it the query would read the whole day for nothing. */
static int part_rows(struct conn *c, const struct response_filter *f, const struct scan_tps *tps,
                     int64_t late, int64_t ds, int64_t de, int64_t x, int64_t y, int sign,
                     int detailed, struct raw_acc *a, struct err *e)
{
    if (late < 0)
        late = 0;
    for (int64_t g = response_day_of(x); g <= response_day_of(y - 1); g++) {
        /* the part and the day within this UTC day (a local day may span two) */
        int64_t gs = g * 86400000, ge = gs + 86400000;
        int64_t gx = x > gs ? x : gs, gy = y < ge ? y : ge;
        int64_t gds = ds > gs ? ds : gs, gde = de < ge ? de : ge;
        int backward = gde - gx < gy - gds; /* the part is nearer the day's end */
        int64_t lo = backward ? gds : gy + late, hi = backward ? gx - late : gde;
        int64_t stop_recv = 0, stop_sub = 0;
        int bound = 0, rc;
        char sql[SCAN_TPS_LISTED * 24 + 1024];
        sqlite3_stmt *st;

        if (lo < hi && late < de - ds) {
            if (!(st = conn_stmt(c, part_stop_sql[backward], e)))
                return -1;
            sqlite3_bind_int64(st, 1, g);
            sqlite3_bind_int64(st, 2, lo);
            sqlite3_bind_int64(st, 3, hi);
            rc = sqlite3_step(st);
            if (rc == SQLITE_ROW) {
                stop_recv = sqlite3_column_int64(st, 0);
                stop_sub = sqlite3_column_int64(st, 1);
                bound = backward ? 2 : 1;
            }
            sqlite3_reset(st);
            if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return store_sqlerr(e, c->db, rc, "metrics scan");
        }
        snprintf(sql, sizeof(sql), RAW_ROWS PART_DAY "%s", part_bound_sql[bound]);
        tps_condition(tps, sql, sizeof(sql));
        /* after the index's terms, so that only rows inside the part are read from the table */
        strncat(sql,
                " AND (?6 IS NULL OR r.channel = ?6) AND (?7 IS NULL OR r.segment = ?7) "
                "AND (?8 IS NULL OR r.customer = ?8)",
                sizeof(sql) - strlen(sql) - 1);
        if (!(st = conn_stmt_text(c, sql, e)))
            return -1;
        sqlite3_bind_int64(st, 1, g);
        sqlite3_bind_int64(st, 2, gx);
        sqlite3_bind_int64(st, 3, gy);
        if (bound) {
            sqlite3_bind_int64(st, 4, stop_recv);
            sqlite3_bind_int64(st, 5, stop_sub);
        }
        bind_text(st, 6, f->channel);
        bind_text(st, 7, f->segment);
        bind_text(st, 8, f->customer);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            raw_acc_count(a, tps, st, sign, detailed);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return store_sqlerr(e, c->db, rc, "metrics scan");
    }
    return 0;
}

/* The part of [ds, de) that a scan reaches past x (forward) or before it (backward), as a
 * share of the day, for rows that arrived up to late ms late. */
static double part_share(int64_t reach, int64_t late, int64_t span)
{
    double share = ((double)reach + (double)late) / (double)span;

    return share < 1 ? share : 1;
}

/* The responses on the local day `day`: of every touchpoint (*all, the index entries a scan of
 * the whole day reads), and of those of tps (*mine, the rows it reads from the table); and how
 * late they arrived (ROLLUP_LATE_UNKNOWN when not recorded). */
static int part_day_counts(struct conn *c, const struct scan_tps *tps, int64_t day, int64_t *all,
                           int64_t *mine, int64_t *late, struct err *e)
{
    sqlite3_stmt *st = conn_stmt(c, PART_TPS, e);
    int rc;

    *all = *mine = 0;
    *late = ROLLUP_LATE_UNKNOWN;
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, day);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t n = sqlite3_column_int64(st, 1);

        *all += n;
        if (scan_tps_find(tps, sqlite3_column_int64(st, 0)))
            *mine += n;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_sqlerr(e, c->db, rc, "metrics scan");
    if (!(st = conn_stmt(c, PART_LATE, e)))
        return -1;
    sqlite3_bind_int64(st, 1, day);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *late = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_sqlerr(e, c->db, rc, "metrics scan");
}

/* ---- parts of hours (coarse scans) ----------------------------------------------------------
 *
 * A coarse scan (per touchpoint, no channel or segment) reads a part of a day as the whole UTC
 * hours in it (rollup_hour_tp, migration 12) plus the rest of an hour at each edge: raw rows of
 * at most half an hour, since a longer piece is read as its hour's histogram less the other
 * piece. The raw rows of an hour lie between its touchpoints' recv_min and recv_max in the
 * index, which is a short stretch when they arrived close together.
 */

#define HOUR_TPS "SELECT touchpoint_id, n, h, recv_min, recv_max FROM rollup_hour_tp WHERE hour = ?"

/* A touchpoint's row of rollup_hour_tp. */
struct hour_tp {
    const struct scan_tp *tp;
    struct hist h;
};

/* x / d rounded down, for range bounds before 1970 (stored times are never negative, so the
 * writer's and SQL's x / 3600000 need no such care). */
static int64_t floor_div(int64_t x, int64_t d)
{
    return x >= 0 ? x / d : -((-x + d - 1) / d);
}

/* Counts sign times into a the raw rows of the touchpoints of tps with submitted_at in [x, y),
 * inside one UTC hour whose rows were received in [recv_min, recv_max]. */
static int hour_rows(struct conn *c, const struct scan_tps *tps, int64_t recv_min, int64_t recv_max,
                     int64_t x, int64_t y, int sign, struct raw_acc *a, struct err *e)
{
    char sql[SCAN_TPS_LISTED * 24 + 512] =
        RAW_ROWS "FROM responses r WHERE " RESPONSE_DAY
                 " = ?1 AND r.received_at >= ?2 AND r.received_at <= ?3 "
                 "AND r.submitted_at >= ?4 AND r.submitted_at < ?5";
    sqlite3_stmt *st;
    int rc;

    tps_condition(tps, sql, sizeof(sql));
    if (!(st = conn_stmt_text(c, sql, e)))
        return -1;
    sqlite3_bind_int64(st, 1, response_day_of(x));
    sqlite3_bind_int64(st, 2, recv_min);
    sqlite3_bind_int64(st, 3, recv_max);
    sqlite3_bind_int64(st, 4, x);
    sqlite3_bind_int64(st, 5, y);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        raw_acc_count(a, tps, st, sign, 0);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_sqlerr(e, c->db, rc, "metrics scan");
}

/* The responses of [x, y), a piece of one UTC hour, per touchpoint. */
static int scan_part_of_hour(struct conn *c, const struct scan_tps *stps, int64_t x, int64_t y,
                             void (*cb)(const struct metric_row *row, void *ctx), void *ctx,
                             struct err *e)
{
    int64_t hour = floor_div(x, HOUR_MS), hs = hour * HOUR_MS, he = hs + HOUR_MS;
    int64_t recv_min = INT64_MAX, recv_max = INT64_MIN;
    int complement = (y - x) * 2 > HOUR_MS;
    sqlite3_stmt *st = conn_stmt(c, HOUR_TPS, e);
    struct raw_acc acc = {.cb = cb, .ctx = ctx, .time = x};
    struct hour_tp *tps = NULL;
    size_t n = 0, cap = 0;
    int rc, ret = 0;

    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, hour);
    /* The touchpoints first: their raw rows are read with other statements. */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const struct scan_tp *tp = scan_tps_find(stps, sqlite3_column_int64(st, 0));
        struct hour_tp *t;

        if (!tp)
            continue; /* not one of the scan's */
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            tps = xrealloc(tps, cap * sizeof(*tps));
        }
        t = &tps[n++];
        t->tp = tp;
        if (sqlite3_column_int64(st, 3) < recv_min)
            recv_min = sqlite3_column_int64(st, 3);
        if (sqlite3_column_int64(st, 4) > recv_max)
            recv_max = sqlite3_column_int64(st, 4);
        if (rollup_hist_read(st, 1, 2, &t->h) < 0) {
            ret = err_set(e, ERR_INTERNAL,
                          "a rollup_hour_tp row holds no histogram (polku rollup rebuild)");
            break;
        }
    }
    sqlite3_reset(st);
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_sqlerr(e, c->db, rc, "metrics scan");
    if (ret == 0 && n > 0) {
        if (!complement) {
            ret = hour_rows(c, stps, recv_min, recv_max, x, y, 1, &acc, e);
        } else {
            for (size_t i = 0; i < n; i++) {
                struct metric_row row = {.journey = tps[i].tp->journey,
                                         .phase = tps[i].tp->phase,
                                         .touchpoint = tps[i].tp->touchpoint,
                                         .phase_position = tps[i].tp->position,
                                         .time = x,
                                         .hist = &tps[i].h};

                cb(&row, ctx);
            }
            if (hs < x)
                ret = hour_rows(c, stps, recv_min, recv_max, hs, x, -1, &acc, e);
            if (y < he && ret == 0)
                ret = hour_rows(c, stps, recv_min, recv_max, y, he, -1, &acc, e);
        }
        raw_acc_emit(&acc);
    }
    raw_acc_release(&acc);
    free(tps);
    return ret;
}

/* The responses of [a, b) (inside one local day) per touchpoint: whole UTC hours from their
 * rollups, pieces of hours at the edges from raw rows. */
static int scan_part_by_hours(struct conn *c, const struct response_filter *f,
                              const struct scan_tps *tps, int timed, int64_t a, int64_t b,
                              void (*cb)(const struct metric_row *row, void *ctx), void *ctx,
                              struct err *e)
{
    int64_t ha = floor_div(a + HOUR_MS - 1, HOUR_MS), hb = floor_div(b, HOUR_MS);

    if (ha > hb) /* inside one hour */
        return scan_part_of_hour(c, tps, a, b, cb, ctx, e);
    if (ha < hb && scan_rollup(c, f, tps, ROLLUP_HOUR, 0, timed, ha, hb, cb, ctx, e) < 0)
        return -1;
    if (a < ha * HOUR_MS && scan_part_of_hour(c, tps, a, ha * HOUR_MS, cb, ctx, e) < 0)
        return -1;
    if (hb * HOUR_MS < b && scan_part_of_hour(c, tps, hb * HOUR_MS, b, cb, ctx, e) < 0)
        return -1;
    return 0;
}

/* Passes rows on with their counts negated: a part of a day read as the day less the rest. */
struct negate {
    void (*cb)(const struct metric_row *row, void *ctx);
    void *ctx;
};

static void negate_row(const struct metric_row *row, void *arg)
{
    const struct negate *ng = arg;
    struct metric_row r = *row;
    struct hist h = {0};

    metrics_hist_sub(&h, row->hist);
    r.hist = &h;
    ng->cb(&r, ng->ctx);
}

/* The responses of [a, b), a part of the local day `day`. Per touchpoint (not detailed): the
 * hours of the part, or when it is more than half of the day, the day's rollup row less the
 * hours of the rest, which are fewer (at most 12 hour rows a touchpoint instead of up to 23).
 * Detailed: its raw rows, or the day's rollup row less the raw rows of the rest of the day,
 * whichever is expected to read less (index entries, and rows from the table, which cost
 * PART_ROW_COST times more). The consumer drops groups whose count comes to 0 (a channel, say, only
 * seen in the rest of the day). */
static int scan_part_of_day(struct conn *c, const struct response_filter *f,
                            const struct scan_tps *stps, int detailed, int timed, int64_t day,
                            int64_t a, int64_t b,
                            void (*cb)(const struct metric_row *row, void *ctx), void *ctx,
                            struct err *e)
{
    int64_t ds = util_day_start(day), de = util_day_start(day + 1), span = de - ds;
    double in = (double)(b - a) / (double)span, direct, rest;
    int64_t all, mine, late;
    struct raw_acc acc = {.cb = cb, .ctx = ctx, .time = a};
    int complement, ret = 0;

    if (!detailed && (b - a) * 2 <= span)
        return scan_part_by_hours(c, f, stps, timed, a, b, cb, ctx, e);
    if (!detailed) {
        struct negate ng = {cb, ctx};

        if (scan_rollup(c, f, stps, ROLLUP_DAY, 0, timed, day, day + 1, cb, ctx, e) < 0)
            return -1;
        if (ds < a && scan_part_by_hours(c, f, stps, timed, ds, a, negate_row, &ng, e) < 0)
            return -1;
        if (b < de && scan_part_by_hours(c, f, stps, timed, b, de, negate_row, &ng, e) < 0)
            return -1;
        return 0;
    }
    if (part_day_counts(c, stps, day, &all, &mine, &late, e) < 0)
        return -1;
    if (mine == 0)
        return 0; /* none of the scan's touchpoints has responses that day */
    {
        double d = part_share(b - ds < de - a ? b - ds : de - a, late, span);
        double r = (a > ds ? part_share(a - ds, late, span) : 0) +
                   (b < de ? part_share(de - b, late, span) : 0);

        direct = (double)all * d + (double)mine * PART_ROW_COST * in;
        rest = (double)all * r + (double)mine * PART_ROW_COST * (1 - in);
    }
    complement = rest < direct;
    if (complement)
        ret = scan_rollup(c, f, stps, ROLLUP_DAY, detailed, timed, day, day + 1, cb, ctx, e);
    if (ret == 0 && !complement)
        ret = part_rows(c, f, stps, late, ds, de, a, b, 1, detailed, &acc, e);
    if (ret == 0 && complement && ds < a)
        ret = part_rows(c, f, stps, late, ds, de, ds, a, -1, detailed, &acc, e);
    if (ret == 0 && complement && b < de)
        ret = part_rows(c, f, stps, late, ds, de, b, de, -1, detailed, &acc, e);
    if (ret == 0)
        raw_acc_emit(&acc);
    raw_acc_release(&acc);
    return ret;
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
    struct scan_tps tps = {0};
    int ret = -1;

    if (!c)
        return -1; /* reader_get began the read transaction: every part of the scan is one snapshot
                    */
    if (store_rollup_zone_ok(s, c, e) < 0)
        goto done; /* the buckets are another zone's days */
    if (from >= to) {
        ret = 0; /* an empty range */
        goto done;
    }
    if (scan_tps_load(c, f, &tps, e) < 0)
        goto done;
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
        scan_part_of_day(c, f, &tps, detailed, timed, head, from,
                         f->has_to && to < util_day_start(head + 1) ? to : util_day_start(head + 1),
                         cb, ctx, e) < 0)
        goto done;
    if (has_tail && scan_part_of_day(c, f, &tps, detailed, timed, tail, util_day_start(tail), to,
                                     cb, ctx, e) < 0)
        goto done;
    if (d_lo < d_hi) {
        int64_t m_lo = util_day_month(d_lo), m_hi = util_day_month(d_hi);

        if (util_month_first_day(m_lo) < d_lo)
            m_lo++;
        if (!(needs & SCAN_DAY) && m_lo < m_hi) {
            if (scan_rollup(c, f, &tps, ROLLUP_MONTH, detailed, timed, m_lo, m_hi, cb, ctx, e) <
                    0 ||
                scan_rollup(c, f, &tps, ROLLUP_DAY, detailed, timed, d_lo,
                            util_month_first_day(m_lo), cb, ctx, e) < 0 ||
                scan_rollup(c, f, &tps, ROLLUP_DAY, detailed, timed, util_month_first_day(m_hi),
                            d_hi, cb, ctx, e) < 0)
                goto done;
        } else if (scan_rollup(c, f, &tps, ROLLUP_DAY, detailed, timed, d_lo, d_hi, cb, ctx, e) <
                   0) {
            goto done;
        }
    }
    ret = 0;
done:
    scan_tps_release(&tps);
    reader_put(s, c);
    return ret;
}
