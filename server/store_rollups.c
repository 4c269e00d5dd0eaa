/*
 * Rollups for the responses a write transaction inserts: the writer adds every committed
 * write's responses to an accumulator keyed by (touchpoint, local day or month, channel,
 * segment) and upserts each bucket once just before COMMIT, so a transaction of many
 * responses costs one upsert per bucket (DESIGN section 4: histograms maintained in the same
 * transaction as the responses).
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define HIST_VALUES (sizeof(struct hist) / sizeof(int64_t))

/* How the rows of a local day arrived (rollup_day_arrival, migration 14), in the order of the
 * index responses_day_arrival: received_at, then submitted_at. */
struct arrival {
    int64_t sub_min, sub_max, recv_min;
    int64_t recv_cur; /* the largest received_at so far */
    int64_t max_cur;  /* the largest submitted_at of the rows received at recv_cur */
    int64_t max_prev; /* the largest submitted_at of the rows received before recv_cur */
    int64_t late;     /* how far a row's submitted_at lay below max_prev, at most */
};

struct bucket {
    int64_t touchpoint_id, key;
    const char *channel, *segment; /* borrowed from the responses, "" for none */
    struct hist h;
    struct arrival arr;       /* arrival days only */
    int64_t recv_lo, recv_hi; /* hours only: the received_at of their rows */
    int64_t min_id, max_id;   /* coarse and arrival days: the smallest and largest ids */
};

/* The five rollup tables: detailed days and months (per channel and segment), coarse days and
 * months (per touchpoint only; their buckets have channel and segment ""), and coarse UTC
 * hours (migration 12); and how the rows of each local day arrived (touchpoint 0, migration
 * 14). */
#define ACC_TABLES  6
#define ACC_ARRIVAL 5
#define HOUR_MS     3600000LL

struct rollup_acc {
    struct bucket *slots[ACC_TABLES]; /* open addressing; a slot is used when channel is set */
    size_t *order[ACC_TABLES];        /* the used slots' indexes, in the order they were taken */
    size_t cap[ACC_TABLES], used[ACC_TABLES];
};

struct rollup_acc *rollup_acc_new(void)
{
    return xcalloc(1, sizeof(struct rollup_acc));
}

void rollup_acc_free(struct rollup_acc *a)
{
    if (!a)
        return;
    for (int t = 0; t < ACC_TABLES; t++) {
        free(a->slots[t]);
        free(a->order[t]);
    }
    free(a);
}

/* Clears only the used slots: a batch of 1,000 leaves the tables large, and every later
 * transaction of a few writes would clear all of them (no throughput difference measured at
 * the bench's sizes, 38.3k against 38.4k/s; it is less work). */
void rollup_acc_reset(struct rollup_acc *a)
{
    for (int t = 0; t < ACC_TABLES; t++) {
        for (size_t k = 0; k < a->used[t]; k++)
            a->slots[t][a->order[t][k]].channel = NULL;
        a->used[t] = 0;
    }
}

static uint64_t bucket_hash(int64_t tp, int64_t key, const char *channel, const char *segment)
{
    uint64_t h = (uint64_t)tp * 0x9e3779b97f4a7c15ULL ^ (uint64_t)key * 0xc2b2ae3d27d4eb4fULL;

    for (const char *p = channel; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = segment; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

static struct bucket *acc_slot(struct rollup_acc *a, int t, int64_t tp, int64_t key,
                               const char *channel, const char *segment)
{
    size_t i;

    if ((a->used[t] + 1) * 2 > a->cap[t]) {
        size_t cap = a->cap[t] ? a->cap[t] * 2 : 256;
        struct bucket *old = a->slots[t], *fresh = xcalloc(cap, sizeof(*fresh));
        size_t *order = xcalloc(cap / 2, sizeof(*order));

        for (size_t k = 0; k < a->used[t]; k++) {
            const struct bucket *b = &old[a->order[t][k]];

            i = bucket_hash(b->touchpoint_id, b->key, b->channel, b->segment) & (cap - 1);
            while (fresh[i].channel)
                i = (i + 1) & (cap - 1);
            fresh[i] = *b;
            order[k] = i;
        }
        free(old);
        free(a->order[t]);
        a->slots[t] = fresh;
        a->order[t] = order;
        a->cap[t] = cap;
    }
    i = bucket_hash(tp, key, channel, segment) & (a->cap[t] - 1);
    for (;;) {
        struct bucket *b = &a->slots[t][i];

        if (!b->channel) {
            b->touchpoint_id = tp;
            b->key = key;
            b->channel = channel;
            b->segment = segment;
            memset(&b->h, 0, sizeof(b->h));
            a->order[t][a->used[t]++] = i;
            return b;
        }
        if (b->touchpoint_id == tp && b->key == key && strcmp(b->channel, channel) == 0 &&
            strcmp(b->segment, segment) == 0)
            return b;
        i = (i + 1) & (a->cap[t] - 1);
    }
}

void rollup_hist_count(const struct response *r, int64_t k, struct hist *h)
{
    h->n += k;
    if (r->nps >= 0 && r->nps <= 10)
        h->nps[r->nps] += k;
    if (r->csat >= 1 && r->csat <= 5)
        h->csat[r->csat - 1] += k;
    if (r->ces >= 1 && r->ces <= 7)
        h->ces[r->ces - 1] += k;
    if (r->expectation >= 0 && r->expectation < EXPECT_VALUES)
        h->expectation[r->expectation] += k;
    for (int a = 0; a < RATING_AREAS; a++)
        if (r->rating[a] >= 1 && r->rating[a] <= 5)
            h->rating[a][r->rating[a] - 1] += k;
}

void rollup_hist_one(const struct response *r, struct hist *h)
{
    memset(h, 0, sizeof(*h));
    rollup_hist_count(r, 1, h);
}

/* Counts a row (submitted sub, received recv) that arrived after those already counted in x
 * (none when first). Rows received at the same millisecond are sorted by submitted_at in the
 * index, so they are late only against rows received before them. */
static void arrival_add(struct arrival *x, int first, int64_t sub, int64_t recv)
{
    if (first) {
        *x = (struct arrival){.sub_min = sub,
                              .sub_max = sub,
                              .recv_min = recv,
                              .recv_cur = recv,
                              .max_cur = sub,
                              .max_prev = INT64_MIN,
                              .late = 0};
        return;
    }
    if (recv < x->recv_cur) {
        x->late = ROLLUP_LATE_UNKNOWN; /* the clock went back: the index order is not ours */
    } else if (recv > x->recv_cur) {
        if (x->max_cur > x->max_prev)
            x->max_prev = x->max_cur;
        x->recv_cur = recv;
        x->max_cur = sub;
    } else if (sub > x->max_cur) {
        x->max_cur = sub;
    }
    if (x->max_prev != INT64_MIN && x->max_prev - sub > x->late)
        x->late = x->max_prev - sub;
    if (sub < x->sub_min)
        x->sub_min = sub;
    if (sub > x->sub_max)
        x->sub_max = sub;
}

/* Counts response id in b's smallest and largest ids (before b's count moves: the first sets
 * them). */
static void bucket_ids_add(struct bucket *b, int64_t id)
{
    if (b->h.n == 0 || id < b->min_id)
        b->min_id = id;
    if (b->h.n == 0 || id > b->max_id)
        b->max_id = id;
}

void rollup_acc_add(struct rollup_acc *a, const struct response *r)
{
    const char *channel = r->channel ? r->channel : "";
    const char *segment = r->segment ? r->segment : "";
    struct hist one;

    rollup_hist_one(r, &one);
    {
        int64_t day = util_local_day(r->submitted_at), month = util_local_month(r->submitted_at);
        struct bucket *arrival = acc_slot(a, ACC_ARRIVAL, 0, day, "", ""), *coarse, *hour;

        metrics_hist_add(&acc_slot(a, 0, r->touchpoint_id, day, channel, segment)->h, &one);
        metrics_hist_add(&acc_slot(a, 1, r->touchpoint_id, month, channel, segment)->h, &one);
        arrival_add(&arrival->arr, arrival->h.n == 0, r->submitted_at, r->received_at);
        bucket_ids_add(arrival, r->id);
        arrival->h.n++; /* only counts the rows, to tell the first */
        coarse = acc_slot(a, 2, r->touchpoint_id, day, "", "");
        bucket_ids_add(coarse, r->id);
        metrics_hist_add(&coarse->h, &one);
        metrics_hist_add(&acc_slot(a, 3, r->touchpoint_id, month, "", "")->h, &one);
        hour = acc_slot(a, 4, r->touchpoint_id, r->submitted_at / HOUR_MS, "", "");
        if (hour->h.n == 0 || r->received_at < hour->recv_lo)
            hour->recv_lo = r->received_at;
        if (hour->h.n == 0 || r->received_at > hour->recv_hi)
            hour->recv_hi = r->received_at;
        metrics_hist_add(&hour->h, &one);
    }
}

/* ---- the histogram BLOB (migration 8) ------------------------------------------------------
 *
 * h holds the counts of struct hist after n, in order, as zigzag LEB128 varints: canonical, so
 * equal histograms have equal BLOBs (store_rollup_check compares them as values). */

#define HIST_COUNTS   (HIST_VALUES - 1)
#define HIST_BLOB_MAX (HIST_COUNTS * 10)

_Static_assert(HIST_VALUES == 1 + 11 + 5 + 7 + EXPECT_VALUES + RATING_AREAS * 5,
               "struct hist is n then the counts, all int64_t, without padding");

/* The counts of h as one array (n at index 0). */
static int64_t *hist_values(struct hist *h)
{
    return (int64_t *)(void *)h;
}

static size_t hist_encode(const struct hist *h, unsigned char *out)
{
    const int64_t *v = (const int64_t *)(const void *)h + 1;
    size_t len = 0;

    for (size_t i = 0; i < HIST_COUNTS; i++) {
        uint64_t z = ((uint64_t)v[i] << 1) ^ (uint64_t)(v[i] >> 63);

        while (z >= 0x80) {
            out[len++] = (unsigned char)(z | 0x80);
            z >>= 7;
        }
        out[len++] = (unsigned char)z;
    }
    return len;
}

/* Adds the counts of blob (len bytes) to h; -1 when it is not a histogram. */
static int hist_decode_add(const unsigned char *blob, size_t len, struct hist *h)
{
    int64_t *v = hist_values(h) + 1;
    size_t k = 0;

    for (size_t i = 0; i < HIST_COUNTS; i++) {
        uint64_t z = 0;
        int shift = 0;

        for (;;) {
            if (k >= len || shift > 63)
                return -1;
            z |= (uint64_t)(blob[k] & 0x7f) << shift;
            shift += 7;
            if (!(blob[k++] & 0x80))
                break;
        }
        v[i] += (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
    }
    return k == len ? 0 : -1;
}

int rollup_hist_read(sqlite3_stmt *st, int col_n, int col_h, struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->n = sqlite3_column_int64(st, col_n);
    return hist_decode_add(sqlite3_column_blob(st, col_h), (size_t)sqlite3_column_bytes(st, col_h),
                           h);
}

/* The one-response histogram of the eight metric columns in argv (NULL or out of range:
 * not counted). */
static void hist_of_values(sqlite3_value **argv, struct hist *h)
{
    struct response r;

    response_init(&r);
    r.nps =
        sqlite3_value_type(argv[0]) == SQLITE_NULL ? RESPONSE_ABSENT : sqlite3_value_int(argv[0]);
    r.csat =
        sqlite3_value_type(argv[1]) == SQLITE_NULL ? RESPONSE_ABSENT : sqlite3_value_int(argv[1]);
    r.ces =
        sqlite3_value_type(argv[2]) == SQLITE_NULL ? RESPONSE_ABSENT : sqlite3_value_int(argv[2]);
    r.expectation =
        sqlite3_value_type(argv[3]) == SQLITE_NULL ? RESPONSE_ABSENT : sqlite3_value_int(argv[3]);
    for (int a = 0; a < RATING_AREAS; a++)
        r.rating[a] = sqlite3_value_type(argv[4 + a]) == SQLITE_NULL
                          ? RESPONSE_ABSENT
                          : sqlite3_value_int(argv[4 + a]);
    rollup_hist_one(&r, h);
}

static void hist_result(sqlite3_context *ctx, const struct hist *h)
{
    unsigned char out[HIST_BLOB_MAX];

    sqlite3_result_blob(ctx, out, (int)hist_encode(h, out), SQLITE_TRANSIENT);
}

static int hist_arg(sqlite3_context *ctx, sqlite3_value *v, struct hist *h)
{
    if (hist_decode_add(sqlite3_value_blob(v), (size_t)sqlite3_value_bytes(v), h) == 0)
        return 0;
    sqlite3_result_error(ctx, "not a rollup histogram", -1);
    return -1;
}

/* polku_hist_add(h1, h2): the sum of two histograms. */
static void sql_hist_add(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    struct hist h;

    (void)argc;
    memset(&h, 0, sizeof(h));
    if (hist_arg(ctx, argv[0], &h) == 0 && hist_arg(ctx, argv[1], &h) == 0)
        hist_result(ctx, &h);
}

/* polku_hist_sub(h, nps, csat, ces, expectation, r_interaction, r_content, r_recovery,
 * r_value): h without one response. */
static void sql_hist_sub(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    struct hist h, one;
    int64_t *v = hist_values(&h), *o = hist_values(&one);

    (void)argc;
    memset(&h, 0, sizeof(h));
    if (hist_arg(ctx, argv[0], &h) < 0)
        return;
    hist_of_values(argv + 1, &one);
    for (size_t i = 1; i < HIST_VALUES; i++)
        v[i] -= o[i];
    hist_result(ctx, &h);
}

/* polku_hist(nps, csat, ces, expectation, r_interaction, r_content, r_recovery, r_value):
 * aggregate, the histogram of the rows. */
static void sql_hist_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    struct hist *acc = sqlite3_aggregate_context(ctx, sizeof(*acc)), one;

    (void)argc;
    if (!acc) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    hist_of_values(argv, &one);
    metrics_hist_add(acc, &one);
}

static void sql_hist_final(sqlite3_context *ctx)
{
    struct hist *acc = sqlite3_aggregate_context(ctx, 0), none;

    if (!acc) {
        memset(&none, 0, sizeof(none));
        acc = &none;
    }
    hist_result(ctx, acc);
}

void rollup_register(sqlite3 *db)
{
    const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;

    sqlite3_create_function(db, "polku_hist_add", 2, flags, NULL, sql_hist_add, NULL, NULL);
    sqlite3_create_function(db, "polku_hist_sub", 9, flags, NULL, sql_hist_sub, NULL, NULL);
    sqlite3_create_function(db, "polku_hist", 8, flags, NULL, NULL, sql_hist_step, sql_hist_final);
}

/* The upsert of one bucket per table: n and h added to what the bucket holds. */
static const char *const upsert_sql[ACC_TABLES] = {
    "INSERT INTO rollup_day (touchpoint_id, day, channel, segment, n, h) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (touchpoint_id, day, channel, segment) "
    "DO UPDATE SET n = n + excluded.n, h = polku_hist_add(h, excluded.h)",
    "INSERT INTO rollup_month (touchpoint_id, month, channel, segment, n, h) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (touchpoint_id, month, channel, segment) "
    "DO UPDATE SET n = n + excluded.n, h = polku_hist_add(h, excluded.h)",
    "INSERT INTO rollup_day_tp (touchpoint_id, day, n, h, min_id, max_id) "
    "VALUES (?1, ?2, ?5, ?6, ?12, ?13) ON CONFLICT (touchpoint_id, day) "
    "DO UPDATE SET n = n + excluded.n, h = polku_hist_add(h, excluded.h), "
    "min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id)",
    "INSERT INTO rollup_month_tp (touchpoint_id, month, n, h) "
    "VALUES (?1, ?2, ?5, ?6) ON CONFLICT (touchpoint_id, month) "
    "DO UPDATE SET n = n + excluded.n, h = polku_hist_add(h, excluded.h)",
    "INSERT INTO rollup_hour_tp (touchpoint_id, hour, n, h, recv_min, recv_max) "
    "VALUES (?1, ?2, ?5, ?6, ?7, ?8) ON CONFLICT (touchpoint_id, hour) "
    "DO UPDATE SET n = n + excluded.n, h = polku_hist_add(h, excluded.h), "
    "recv_min = min(recv_min, excluded.recv_min), recv_max = max(recv_max, excluded.recv_max)",
    /* ?10 and ?11: the smallest received_at and submitted_at of the rows added. They come
     * after every row counted before unless one was received earlier than recv_max. */
    "INSERT INTO rollup_day_arrival (day, sub_max, recv_max, late, min_id, max_id) "
    "VALUES (?2, ?7, ?8, ?9, ?12, ?13) ON CONFLICT (day) DO UPDATE SET "
    "late = CASE WHEN ?10 < recv_max THEN " ROLLUP_LATE_UNKNOWN_SQL " "
    "ELSE max(late, excluded.late, sub_max - ?11) END, "
    "sub_max = max(sub_max, excluded.sub_max), recv_max = max(recv_max, excluded.recv_max), "
    "min_id = min(min_id, excluded.min_id), max_id = max(max_id, excluded.max_id)",
};

int rollup_acc_flush(struct conn *c, struct rollup_acc *a, struct err *e)
{
    for (int t = 0; t < ACC_TABLES; t++) {
        sqlite3_stmt *st = conn_stmt(c, upsert_sql[t], e);

        if (!st)
            return -1;
        for (size_t k = 0; k < a->used[t]; k++) {
            const struct bucket *b = &a->slots[t][a->order[t][k]];
            unsigned char blob[HIST_BLOB_MAX];
            int rc;

            sqlite3_bind_int64(st, 2, b->key);
            if (t != ACC_ARRIVAL) {
                sqlite3_bind_int64(st, 1, b->touchpoint_id);
                sqlite3_bind_int64(st, 5, b->h.n);
                sqlite3_bind_blob(st, 6, blob, (int)hist_encode(&b->h, blob), SQLITE_STATIC);
            }
            if (t < 2) {
                bind_text(st, 3, b->channel);
                bind_text(st, 4, b->segment);
            }
            if (t == 2 || t == ACC_ARRIVAL) {
                sqlite3_bind_int64(st, 12, b->min_id);
                sqlite3_bind_int64(st, 13, b->max_id);
            }
            if (t == 4) {
                sqlite3_bind_int64(st, 7, b->recv_lo);
                sqlite3_bind_int64(st, 8, b->recv_hi);
            }
            if (t == ACC_ARRIVAL) {
                sqlite3_bind_int64(st, 7, b->arr.sub_max);
                sqlite3_bind_int64(st, 8, b->arr.recv_cur);
                sqlite3_bind_int64(st, 9, b->arr.late);
                sqlite3_bind_int64(st, 10, b->arr.recv_min);
                sqlite3_bind_int64(st, 11, b->arr.sub_min);
            }
            rc = sqlite3_step(st);
            sqlite3_reset(st);
            if (rc != SQLITE_DONE)
                return store_sqlerr(e, c->db, rc, "rollup update");
        }
    }
    return 0;
}
