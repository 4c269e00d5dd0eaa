/*
 * Idempotency records (migrations 11 and 15): what an Idempotency-Key was first answered with.
 *
 * Records are appended in id order to idempotency_records. A record is found by fp, a 64-bit
 * fingerprint of (principal, key); two keys with the same fp are told apart by the principal
 * and key stored in the row. Only the writer records keys, after checking in the same
 * transaction that the key is not recorded, so nothing needs a UNIQUE constraint. Records
 * older than the store's idem_ttl_ms are deleted by the writer, oldest first.
 *
 * Where the fingerprints are (migration 15): those of recent records in memory, in struct
 * idem_mem, a hash table of (fp, id) that only the writer touches (under write_lock); older
 * ones in the partial index idempotency_records_merged_fp (merged = 1). An index entry lands
 * on a random page, so a flood of keyed requests with random keys used to dirty most of the
 * index between two checkpoints, and the writer's last step of each checkpoint synced those
 * scattered pages while every write waited. Now records are merged into the index only once
 * the table holds more than opts.idem_mem_max (STORE_IDEM_MEM_MAX) fingerprints, the oldest first,
 * a few hundred per transaction, so memory stays bounded (16 bytes a slot, at most half full: 16
 * MiB at the default) and a flood of up to that many keyed requests writes no index page. Every
 * record after the newest merged one is unmerged (merges go in id order and ids never go back), so
 * the table is rebuilt at open from the end of the records. Another process on the same database
 * (another server, during a deploy) records keys too: each write transaction first takes in the
 * records after the newest this table has seen (idem_mem_begin: one seek when there are none),
 * inside the transaction, so no key recorded by either is missed. The table changes with the
 * transaction: its records are added at once (a second write of the same key in the same
 * transaction must find the first) and taken out again if it fails; the purged and merged ones are
 * taken out once it has committed (idem_mem_end).
 */
#include "store_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sha256.h"
#include "util.h"

struct idem_ent {
    int64_t fp;
    int64_t id; /* 0: an empty slot (ids start at 1) */
};

/* A growing array of entries. */
struct idem_list {
    struct idem_ent *e;
    size_t n, cap;
};

struct idem_mem {
    struct idem_ent *slot; /* open addressing, linear probing; cap slots, a power of two */
    size_t cap, n, max;
    uint64_t seed;           /* mixed into the slot of a fingerprint: clients choose their keys */
    int64_t merged;          /* the newest merged record's id: every record after it is here */
    int64_t merging;         /* the new value of merged once this transaction commits, or 0 */
    int64_t top, top_before; /* the newest record id the table has seen (idem_mem_begin) */
    struct idem_list added, gone; /* this transaction's: undone if it fails; removed after */
};

static void list_push(struct idem_list *l, int64_t fp, int64_t id)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->e = xrealloc(l->e, l->cap * sizeof(*l->e));
    }
    l->e[l->n++] = (struct idem_ent){fp, id};
}

static size_t mem_home(const struct idem_mem *m, int64_t fp)
{
    /* 0 while the table has no slots (cap 0) */
    return (size_t)((((uint64_t)fp ^ m->seed) * 0x9E3779B97F4A7C15ULL) >> 32) & (m->cap - 1);
}

static void mem_put(struct idem_mem *m, int64_t fp, int64_t id);

static void mem_grow(struct idem_mem *m)
{
    struct idem_ent *old = m->slot;
    size_t ocap = m->cap;

    m->cap = ocap ? ocap * 2 : 1024;
    m->slot = xcalloc(m->cap, sizeof(*m->slot));
    m->n = 0;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].id)
            mem_put(m, old[i].fp, old[i].id);
    free(old);
}

static void mem_put(struct idem_mem *m, int64_t fp, int64_t id)
{
    size_t i;

    if ((m->n + 1) * 2 > m->cap)
        mem_grow(m);
    for (i = mem_home(m, fp); m->slot[i].id; i = (i + 1) & (m->cap - 1))
        ;
    m->slot[i] = (struct idem_ent){fp, id};
    m->n++;
}

/* Takes (fp, id) out, moving later entries of the probe run back into the hole. */
static void mem_del(struct idem_mem *m, int64_t fp, int64_t id)
{
    size_t i, j, k, mask = m->cap - 1;

    if (!m->cap)
        return;
    for (i = mem_home(m, fp); m->slot[i].id; i = (i + 1) & mask)
        if (m->slot[i].id == id && m->slot[i].fp == fp)
            break;
    if (!m->slot[i].id)
        return; /* not here */
    m->n--;
    for (j = i;;) {
        m->slot[i].id = 0;
        for (;;) {
            j = (j + 1) & mask;
            if (!m->slot[j].id)
                return;
            k = mem_home(m, m->slot[j].fp);
            /* the entry at j stays when its home lies cyclically in (i, j] */
            if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
                continue;
            m->slot[i] = m->slot[j];
            i = j;
            break;
        }
    }
}

struct idem_mem *idem_mem_new(size_t max)
{
    struct idem_mem *m = xcalloc(1, sizeof(*m));
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    m->seed = ((uint64_t)t.tv_nsec << 32 ^ (uint64_t)t.tv_sec ^ (uint64_t)(uintptr_t)m) *
              0xD6E8FEB86659FD93ULL;
    m->max = max ? max : STORE_IDEM_MEM_MAX;
    return m;
}

void idem_mem_free(struct idem_mem *m)
{
    if (!m)
        return;
    free(m->slot);
    free(m->added.e);
    free(m->gone.e);
    free(m);
}

size_t idem_mem_count(const struct idem_mem *m)
{
    return m->n;
}

int idem_mem_load(struct conn *c, struct idem_mem *m, struct err *e)
{
    sqlite3_stmt *st =
        conn_stmt(c, "SELECT id, fp, merged FROM idempotency_records ORDER BY id DESC", e);
    int rc;

    if (!st)
        return -1;
    m->merged = 0;
    m->top = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!m->top)
            m->top = sqlite3_column_int64(st, 0);
        if (sqlite3_column_int(st, 2)) {
            m->merged = sqlite3_column_int64(st, 0);
            break;
        }
        mem_put(m, sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 0));
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_sqlerr(e, c->db, rc, "idempotency fingerprints");
    return 0;
}

int idem_mem_begin(struct conn *c, struct idem_mem *m, struct err *e)
{
    sqlite3_stmt *st = conn_stmt(c, "SELECT coalesce(max(id), 0) FROM idempotency_records", e);
    int64_t top;
    int rc;

    m->top_before = m->top;
    if (!st)
        return -1;
    rc = sqlite3_step(st);
    top = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return store_sqlerr(e, c->db, rc, "idempotency fingerprints");
    if (top > m->top) {
        /* records of another process on this database (another server during a deploy):
         * after every id this table has seen, since ids never go back (migration 15) */
        st = conn_stmt(c, "SELECT id, fp, merged FROM idempotency_records WHERE id > ?", e);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, m->top);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            if (!sqlite3_column_int(st, 2))
                mem_put(m, sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 0));
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return store_sqlerr(e, c->db, rc, "idempotency fingerprints");
    }
    /* lower when the newest records were purged: the next ones are still above top */
    m->top = m->top_before = top;
    return 0;
}

void idem_mem_end(struct idem_mem *m, int committed)
{
    if (committed) {
        for (size_t i = 0; i < m->gone.n; i++)
            mem_del(m, m->gone.e[i].fp, m->gone.e[i].id);
        if (m->merging)
            m->merged = m->merging;
    } else {
        for (size_t i = 0; i < m->added.n; i++)
            mem_del(m, m->added.e[i].fp, m->added.e[i].id);
        m->top = m->top_before;
    }
    m->added.n = m->gone.n = 0;
    m->merging = 0;
}

int64_t idem_fp(const char *principal, const char *key)
{
    struct sha256 h;
    unsigned char d[SHA256_LEN];
    uint64_t v = 0;

    sha256_init(&h);
    sha256_update(&h, principal, strlen(principal) + 1);
    sha256_update(&h, key, strlen(key));
    sha256_final(&h, d);
    for (int i = 0; i < 8; i++)
        v = v << 8 | d[i];
    return (int64_t)v;
}

/* polku_idem_fp(principal, key): idem_fp for migration 11, which fills fp of existing records. */
static void sql_idem_fp(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const unsigned char *p = sqlite3_value_text(argv[0]), *k = sqlite3_value_text(argv[1]);

    (void)argc;
    if (!p || !k)
        sqlite3_result_null(ctx);
    else
        sqlite3_result_int64(ctx, idem_fp((const char *)p, (const char *)k));
}

void idem_register(sqlite3 *db)
{
    sqlite3_create_function(db, "polku_idem_fp", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                            sql_idem_fp, NULL, NULL);
}

/* Records younger than the TTL only: an expired one may wait a while for the purge. */
#define IDEM_MATCH "principal = ? AND idem_key = ? AND created_at >= ?"
#define IDEM_COLS  "SELECT request_hash, status, body FROM idempotency_records "

/* Fills out from the row of a lookup (request_hash, status, body). */
static void idem_replay_of(sqlite3_stmt *st, struct idem_replay *out)
{
    const void *h = sqlite3_column_blob(st, 0);

    out->found = 1;
    memset(out->hash, 0, sizeof(out->hash));
    if (h && sqlite3_column_bytes(st, 0) == (int)sizeof(out->hash))
        memcpy(out->hash, h, sizeof(out->hash));
    out->status = sqlite3_column_int(st, 1);
    free(out->body);
    out->body = col_text(st, 2);
}

/* Steps st (bound up to the key: principal, key and since follow at from), filling replay. */
static int idem_step(struct conn *c, sqlite3_stmt *st, int from, const struct idem *idem,
                     int64_t since, int *exists, struct err *e)
{
    int rc;

    bind_text(st, from, idem->principal);
    bind_text(st, from + 1, idem->key);
    sqlite3_bind_int64(st, from + 2, since);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && idem->replay)
        idem_replay_of(st, idem->replay);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_sqlerr(e, c->db, rc, "idempotency lookup");
    *exists = rc == SQLITE_ROW;
    return 0;
}

int idem_find(struct conn *c, struct idem_mem *m, const struct idem *idem, int64_t fp,
              int64_t since, int *exists, struct err *e)
{
    sqlite3_stmt *st;

    *exists = 0;
    /* recent records: the ids the table holds for fp (more than one when fingerprints collide) */
    for (size_t i = mem_home(m, fp); m->cap && m->slot[i].id; i = (i + 1) & (m->cap - 1)) {
        if (m->slot[i].fp != fp)
            continue;
        st = conn_stmt(c, IDEM_COLS "WHERE id = ? AND fp = ? AND " IDEM_MATCH, e);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, m->slot[i].id);
        sqlite3_bind_int64(st, 2, fp);
        if (idem_step(c, st, 3, idem, since, exists, e) < 0)
            return -1;
        if (*exists)
            return 0;
    }
    /* older ones, through the index of merged records */
    st = conn_stmt(c, IDEM_COLS "WHERE fp = ? AND merged = 1 AND " IDEM_MATCH, e);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, fp);
    return idem_step(c, st, 2, idem, since, exists, e);
}

int idem_record(struct conn *c, struct idem_mem *m, const struct idem *idem, int64_t fp,
                const struct response *r, size_t n, int64_t now, struct err *e)
{
    sqlite3_stmt *st;
    char *body;
    int rc;

    /* An id after every id ever given, even when the purge emptied the table: so every
     * record after the newest merged one is unmerged, and idem_mem_begin finds another
     * process's records after the newest this table has seen. */
    st = conn_stmt(c,
                   "INSERT INTO idempotency_records (id, fp, principal, idem_key, request_hash, "
                   "status, body, created_at, merged) VALUES (" FRESH_ID(
                       "idempotency_records") ", ?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)",
                   e);
    if (!st)
        return -1;
    body = idem->render(r, n, idem->ctx);
    sqlite3_bind_int64(st, 1, fp);
    bind_text(st, 2, idem->principal);
    bind_text(st, 3, idem->key);
    sqlite3_bind_blob(st, 4, idem->hash, sizeof(idem->hash), SQLITE_STATIC);
    sqlite3_bind_int(st, 5, idem->status);
    sqlite3_bind_text(st, 6, body, -1, free);
    sqlite3_bind_int64(st, 7, now);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st); /* frees body now, not at the next use */
    if (rc != SQLITE_DONE)
        return store_sqlerr(e, c->db, rc, "idempotency insert");
    m->top = sqlite3_last_insert_rowid(c->db);
    mem_put(m, fp, m->top);
    list_push(&m->added, fp, m->top);
    return 0;
}

int idem_purge(struct conn *c, struct idem_mem *m, int64_t before, int limit, struct err *e)
{
    sqlite3_stmt *st;
    int64_t last = -1;
    size_t gone = m->gone.n;
    int rc, n = 0;

    /* The oldest records, in id order, as long as they are older than before: one step down
     * the left edge of the table when none is. */
    st = conn_stmt(c, "SELECT id, created_at, fp FROM idempotency_records ORDER BY id LIMIT ?", e);
    if (!st)
        return -1;
    sqlite3_bind_int(st, 1, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && sqlite3_column_int64(st, 1) < before) {
        last = sqlite3_column_int64(st, 0);
        if (last > m->merged) /* in the table: out of it once this transaction commits */
            list_push(&m->gone, sqlite3_column_int64(st, 2), last);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        m->gone.n = gone;
        return store_sqlerr(e, c->db, rc, "idempotency expiry");
    }
    if (last < 0)
        return 0;
    st = conn_stmt(c, "DELETE FROM idempotency_records WHERE id <= ? AND created_at < ?", e);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, last);
    sqlite3_bind_int64(st, 2, before);
    rc = sqlite3_step(st);
    n = sqlite3_changes(c->db);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_sqlerr(e, c->db, rc, "idempotency expiry");
    return n;
}

int idem_merge(struct conn *c, struct idem_mem *m, int limit, struct err *e)
{
    sqlite3_stmt *st;
    int64_t last = 0;
    int rc, n = 0;

    if (m->n <= m->max)
        return 0;
    st = conn_stmt(c, "SELECT id, fp FROM idempotency_records WHERE id > ? ORDER BY id LIMIT ?", e);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, m->merged);
    sqlite3_bind_int(st, 2, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        last = sqlite3_column_int64(st, 0);
        list_push(&m->gone, sqlite3_column_int64(st, 1), last);
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_sqlerr(e, c->db, rc, "idempotency merge");
    if (n == 0)
        return 0;
    st = conn_stmt(c, "UPDATE idempotency_records SET merged = 1 WHERE id > ? AND id <= ?", e);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, m->merged);
    sqlite3_bind_int64(st, 2, last);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_sqlerr(e, c->db, rc, "idempotency merge");
    m->merging = last;
    return n;
}

int store_idem_get(struct store *s, const char *principal, const char *key, struct idem_replay *out,
                   struct err *e)
{
    struct idem idem = {.principal = principal, .key = key, .replay = out};
    int exists = 0, rc;

    /* the table of recent fingerprints is the writer's: look on its connection, under its lock */
    pthread_mutex_lock(&s->write_lock);
    rc = idem_find(s->writer, s->idem, &idem, idem_fp(principal, key),
                   store_now(s) - s->opts.idem_ttl_ms, &exists, e);
    pthread_mutex_unlock(&s->write_lock);
    return rc < 0 ? -1 : exists;
}
