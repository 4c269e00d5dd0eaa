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

struct bucket {
    int64_t touchpoint_id, key;
    const char *channel, *segment; /* borrowed from the responses, "" for none */
    struct hist h;
};

/* The four rollup tables: detailed days and months (per channel and segment), and coarse
 * days and months (per touchpoint only; their buckets have channel and segment ""). */
#define ACC_TABLES 4

struct rollup_acc {
    struct bucket *slots[ACC_TABLES]; /* open addressing; a slot is used when channel is set */
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
    for (int t = 0; t < ACC_TABLES; t++)
        free(a->slots[t]);
    free(a);
}

void rollup_acc_reset(struct rollup_acc *a)
{
    for (int t = 0; t < ACC_TABLES; t++) {
        if (a->slots[t])
            memset(a->slots[t], 0, a->cap[t] * sizeof(struct bucket));
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

        for (size_t k = 0; k < a->cap[t]; k++) {
            if (!old[k].channel)
                continue;
            i = bucket_hash(old[k].touchpoint_id, old[k].key, old[k].channel, old[k].segment) &
                (cap - 1);
            while (fresh[i].channel)
                i = (i + 1) & (cap - 1);
            fresh[i] = old[k];
        }
        free(old);
        a->slots[t] = fresh;
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
            a->used[t]++;
            return b;
        }
        if (b->touchpoint_id == tp && b->key == key && strcmp(b->channel, channel) == 0 &&
            strcmp(b->segment, segment) == 0)
            return b;
        i = (i + 1) & (a->cap[t] - 1);
    }
}

void rollup_acc_add(struct rollup_acc *a, const struct response *r)
{
    const char *channel = r->channel ? r->channel : "";
    const char *segment = r->segment ? r->segment : "";
    struct hist one;

    memset(&one, 0, sizeof(one));
    one.n = 1;
    if (r->nps != RESPONSE_ABSENT)
        one.nps[r->nps] = 1;
    if (r->csat != RESPONSE_ABSENT)
        one.csat[r->csat - 1] = 1;
    if (r->ces != RESPONSE_ABSENT)
        one.ces[r->ces - 1] = 1;
    if (r->expectation != RESPONSE_ABSENT)
        one.expectation[r->expectation] = 1;
    for (int k = 0; k < RATING_AREAS; k++)
        if (r->rating[k] != RESPONSE_ABSENT)
            one.rating[k][r->rating[k] - 1] = 1;
    {
        int64_t day = util_local_day(r->submitted_at), month = util_local_month(r->submitted_at);

        metrics_hist_add(&acc_slot(a, 0, r->touchpoint_id, day, channel, segment)->h, &one);
        metrics_hist_add(&acc_slot(a, 1, r->touchpoint_id, month, channel, segment)->h, &one);
        metrics_hist_add(&acc_slot(a, 2, r->touchpoint_id, day, "", "")->h, &one);
        metrics_hist_add(&acc_slot(a, 3, r->touchpoint_id, month, "", "")->h, &one);
    }
}

/* The count columns of the rollup tables, in the order of struct hist. */
static const char *const hist_columns[] = {
    "n",         "nps0",    "nps1",         "nps2",  "nps3",  "nps4",  "nps5",  "nps6",
    "nps7",      "nps8",    "nps9",         "nps10", "csat1", "csat2", "csat3", "csat4",
    "csat5",     "ces1",    "ces2",         "ces3",  "ces4",  "ces5",  "ces6",  "ces7",
    "exp_below", "exp_met", "exp_exceeded", "ri1",   "ri2",   "ri3",   "ri4",   "ri5",
    "rc1",       "rc2",     "rc3",          "rc4",   "rc5",   "rr1",   "rr2",   "rr3",
    "rr4",       "rr5",     "rv1",          "rv2",   "rv3",   "rv4",   "rv5",
};

/* The upserts of one bucket, day and month: key columns, the counts, and "c = c + excluded.c".
 * Built once from the constant column names above; no value ever goes into the text. */
static char upsert_sql[ACC_TABLES][8192];

static void upsert_append(char *sql, const char *text)
{
    strncat(sql, text, sizeof(upsert_sql[0]) - strlen(sql) - 1);
}

static void rollup_build_sql(void)
{
    static const char *const table[] = {"rollup_day", "rollup_month", "rollup_day_tp",
                                        "rollup_month_tp"};
    static const char *const bucket[] = {"day", "month", "day", "month"};
    const size_t ncols = sizeof(hist_columns) / sizeof(hist_columns[0]);

    for (int t = 0; t < ACC_TABLES; t++) {
        char *sql = upsert_sql[t];
        int detailed = t < 2;

        sql[0] = '\0';
        upsert_append(sql, "INSERT INTO ");
        upsert_append(sql, table[t]);
        upsert_append(sql, " (touchpoint_id, ");
        upsert_append(sql, bucket[t]);
        upsert_append(sql, detailed ? ", channel, segment" : "");
        for (size_t i = 0; i < ncols; i++) {
            upsert_append(sql, ", ");
            upsert_append(sql, hist_columns[i]);
        }
        upsert_append(sql, detailed ? ") VALUES (?1, ?2, ?3, ?4" : ") VALUES (?1, ?2");
        for (size_t i = 0; i < ncols; i++) {
            char param[8];

            snprintf(param, sizeof(param), ", ?%zu", 5 + i);
            upsert_append(sql, param);
        }
        upsert_append(sql, ") ON CONFLICT (touchpoint_id, ");
        upsert_append(sql, bucket[t]);
        upsert_append(sql, detailed ? ", channel, segment) DO UPDATE SET " : ") DO UPDATE SET ");
        for (size_t i = 0; i < ncols; i++) {
            upsert_append(sql, i ? ", " : "");
            upsert_append(sql, hist_columns[i]);
            upsert_append(sql, " = ");
            upsert_append(sql, hist_columns[i]);
            upsert_append(sql, " + excluded.");
            upsert_append(sql, hist_columns[i]);
        }
    }
}

int rollup_acc_flush(struct conn *c, struct rollup_acc *a, struct err *e)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;

    pthread_once(&once, rollup_build_sql);
    _Static_assert(sizeof(hist_columns) / sizeof(hist_columns[0]) == HIST_VALUES,
                   "the rollup columns match struct hist");
    for (int t = 0; t < ACC_TABLES; t++) {
        sqlite3_stmt *st = conn_stmt(c, upsert_sql[t], e);

        if (!st)
            return -1;
        for (size_t k = 0; k < a->cap[t]; k++) {
            const struct bucket *b = &a->slots[t][k];
            const int64_t *counts = (const int64_t *)(const void *)&b->h;
            int rc;

            if (!b->channel)
                continue;
            sqlite3_bind_int64(st, 1, b->touchpoint_id);
            sqlite3_bind_int64(st, 2, b->key);
            if (t < 2) {
                bind_text(st, 3, b->channel);
                bind_text(st, 4, b->segment);
            }
            for (size_t i = 0; i < HIST_VALUES; i++)
                sqlite3_bind_int64(st, 5 + (int)i, counts[i]);
            rc = sqlite3_step(st);
            sqlite3_reset(st);
            if (rc != SQLITE_DONE)
                return store_sqlerr(e, c->db, rc, "rollup update");
        }
    }
    return 0;
}
