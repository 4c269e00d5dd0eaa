/*
 * The SQLite store: opening, migrations, connections and transactions. Journeys and
 * touchpoints live in store_catalog.c, responses and metrics in store_responses.c, API keys in
 * store_keys.c.
 *
 * Durability: WAL with synchronous=FULL, so a committed write survives power loss; a write call
 * returns only after COMMIT. The writer is one connection behind a mutex; readers come from a
 * pool of read-only connections, so reads never wait for the writer.
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

extern const char *const schema_sql[];
extern const size_t schema_count;

int store_sqlerr(struct err *e, sqlite3 *db, int rc, const char *what)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);

    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
        return err_set(e, ERR_UNAVAILABLE, "storage unavailable during %s: %s", what, msg);
    case SQLITE_CONSTRAINT:
        return err_set(e, ERR_CONFLICT, "%s conflicts with stored data", what);
    default:
        return err_set(e, ERR_INTERNAL, "storage error during %s: %s", what, msg);
    }
}

int store_delete_id(struct store *s, const char *sql, int64_t id, const char *what, struct err *e)
{
    struct conn *c = writer_begin(s, e);
    sqlite3_stmt *st;
    int rc, ok = 0;

    if (!c)
        return -1;
    st = conn_stmt(c, sql, e);
    if (!st)
        goto done;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = sqlite3_step(st)) != SQLITE_DONE) {
        store_sqlerr(e, c->db, rc, what);
        goto done;
    }
    if (sqlite3_changes(c->db) == 0) {
        err_set(e, ERR_NOT_FOUND, "%s %lld not found", what, (long long)id);
        goto done;
    }
    ok = 1;
done:
    return writer_end(s, ok, e);
}

int stmt_collect(struct conn *c, sqlite3_stmt *st, void **items, size_t *n, size_t size,
                 void (*from_row)(sqlite3_stmt *st, void *item), const char *what, struct err *e)
{
    size_t cap = *n;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            *items = xrealloc(*items, cap * size);
        }
        from_row(st, (char *)*items + (*n)++ * size);
    }
    return rc == SQLITE_DONE ? 0 : store_sqlerr(e, c->db, rc, what);
}

void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

void bind_opt_int(sqlite3_stmt *st, int i, int v)
{
    if (v == RESPONSE_ABSENT)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_int(st, i, v);
}

char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return t ? xstrdup((const char *)t) : NULL;
}

/* polku_day(ms), polku_month(ms): the local calendar bucket of an instant, in the reporting
 * time zone; the rollup triggers and rebuild use them. */
static void sql_local_day(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
        sqlite3_result_null(ctx);
    else
        sqlite3_result_int64(ctx, util_local_day(sqlite3_value_int64(argv[0])));
}

static void sql_local_month(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
        sqlite3_result_null(ctx);
    else
        sqlite3_result_int64(ctx, util_local_month(sqlite3_value_int64(argv[0])));
}

static int conn_exec(struct conn *c, const char *sql, struct err *e)
{
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);

    return rc == SQLITE_OK ? 0 : store_sqlerr(e, c->db, rc, "setup");
}

int conn_open(const char *path, int readonly, struct conn **out, struct err *e)
{
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_NOMUTEX;
    struct conn *c = xcalloc(1, sizeof(*c));
    int rc;

    rc = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        err_set(e, ERR_UNAVAILABLE, "cannot open database %s: %s", path,
                c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, 5000);
    sqlite3_create_function(c->db, "polku_day", 1, SQLITE_UTF8, NULL, sql_local_day, NULL, NULL);
    sqlite3_create_function(c->db, "polku_month", 1, SQLITE_UTF8, NULL, sql_local_month, NULL,
                            NULL);
    if (!readonly && conn_exec(c, "PRAGMA journal_mode=WAL", e) < 0)
        goto fail;
    if (conn_exec(c, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", e) < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    conn_close(c);
    return -1;
}

void conn_close(struct conn *c)
{
    if (!c)
        return;
    for (int i = 0; i < CONN_STMT_CACHE; i++)
        sqlite3_finalize(c->cache[i].stmt);
    sqlite3_close(c->db);
    free(c);
}

sqlite3_stmt *conn_stmt(struct conn *c, const char *sql, struct err *e)
{
    int i, rc;

    for (i = 0; i < CONN_STMT_CACHE && c->cache[i].sql; i++) {
        if (c->cache[i].sql == sql) {
            sqlite3_reset(c->cache[i].stmt);
            sqlite3_clear_bindings(c->cache[i].stmt);
            return c->cache[i].stmt;
        }
    }
    if (i == CONN_STMT_CACHE) {
        /* Full: the cache is sized for every literal in the store; a BUG if reached. */
        err_set(e, ERR_INTERNAL, "statement cache full");
        return NULL;
    }
    rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->cache[i].stmt, NULL);
    if (rc != SQLITE_OK) {
        store_sqlerr(e, c->db, rc, "prepare");
        return NULL;
    }
    c->cache[i].sql = sql;
    return c->cache[i].stmt;
}

struct conn *reader_get(struct store *s, struct err *e)
{
    struct conn *c;

    pthread_mutex_lock(&s->pool_lock);
    c = s->idle;
    if (c)
        s->idle = c->next;
    pthread_mutex_unlock(&s->pool_lock);
    if (c)
        return c;
    if (conn_open(s->path, 1, &c, e) < 0)
        return NULL;
    conn_exec(c, "PRAGMA query_only=ON", NULL);
    pthread_mutex_lock(&s->pool_lock);
    s->all = xrealloc(s->all, (s->nall + 1) * sizeof(*s->all));
    s->all[s->nall++] = c;
    pthread_mutex_unlock(&s->pool_lock);
    return c;
}

void reader_put(struct store *s, struct conn *c)
{
    if (!c)
        return;
    /* Leave no statement open: an open read statement would pin an old WAL snapshot. */
    for (int i = 0; i < CONN_STMT_CACHE && c->cache[i].sql; i++)
        sqlite3_reset(c->cache[i].stmt);
    pthread_mutex_lock(&s->pool_lock);
    c->next = s->idle;
    s->idle = c;
    pthread_mutex_unlock(&s->pool_lock);
}

struct conn *writer_begin(struct store *s, struct err *e)
{
    int rc;

    pthread_mutex_lock(&s->write_lock);
    rc = sqlite3_exec(s->writer->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        store_sqlerr(e, s->writer->db, rc, "begin");
        pthread_mutex_unlock(&s->write_lock);
        return NULL;
    }
    return s->writer;
}

int writer_end(struct store *s, int ok, struct err *e)
{
    sqlite3 *db = s->writer->db;
    int rc, ret = -1;

    for (int i = 0; i < CONN_STMT_CACHE && s->writer->cache[i].sql; i++)
        sqlite3_reset(s->writer->cache[i].stmt);
    if (ok) {
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            atomic_fetch_add(&s->version, 1);
            ret = 0;
        } else {
            store_sqlerr(e, db, rc, "commit");
        }
    }
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->write_lock);
    return ret;
}

static int store_migrate(struct store *s, struct err *e)
{
    sqlite3 *db = s->writer->db;
    int version = store_schema_version(s);
    char sql[64];

    if (version < 0)
        return err_set(e, ERR_UNAVAILABLE, "cannot read the schema version of %s", s->path);
    if ((size_t)version > schema_count)
        return err_set(e, ERR_UNAVAILABLE,
                       "database %s has schema %d, newer than this binary's %zu", s->path, version,
                       schema_count);
    for (size_t i = (size_t)version; i < schema_count; i++) {
        if (!writer_begin(s, e))
            return -1;
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %zu", i + 1);
        int rc = sqlite3_exec(db, schema_sql[i], NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            err_set(e, ERR_INTERNAL, "migration %zu failed: %s", i + 1, sqlite3_errmsg(db));
            writer_end(s, 0, NULL);
            return -1;
        }
        if (writer_end(s, 1, e) < 0)
            return -1;
    }
    return 0;
}

/* ---- the group-commit writer -------------------------------------------------------------
 *
 * One thread owns the write transactions of responses. It takes every write queued while the
 * previous transaction was committing and commits them together: one fsync for all. Each write
 * runs in its own savepoint, so a failing write (unknown touchpoint, reused idempotency key)
 * is rolled back alone. Writers are told the outcome only after COMMIT has returned, and then
 * by their done callback, so HTTP threads never wait for a commit. With commit_each, every
 * write gets a transaction of its own instead (the baseline the benchmark compares with).
 */

/* Commits the writes of list (linked by next) in one transaction, then calls their done. */
static void writer_commit(struct store *s, struct store_write *list)
{
    struct store_write *w, *next;
    struct conn *c;
    struct err e;
    int ok = 0;

    err_init(&e);
    c = writer_begin(s, &e);
    rollup_acc_reset(s->rollups);
    for (w = list; c && w; w = w->next) {
        w->rc = store_write_apply(c, w);
        if (w->rc == STORE_WRITE_BROKEN) {
            /* Storage trouble half way through a write: the transaction cannot stand. */
            err_set(&e, w->err.code, "%s", w->err.detail);
            w->rc = -1;
            ok = 0;
            break;
        }
        if (w->rc == 0) {
            ok = 1;
            for (size_t i = 0; i < w->n; i++)
                rollup_acc_add(s->rollups, &w->responses[i]);
        }
    }
    if (c && e.code != ERR_NONE)
        ok = 0;
    /* The rollups of everything that stays, in the same transaction: if they cannot be
     * written, nothing is. */
    if (c && ok && e.code == ERR_NONE && rollup_acc_flush(c, s->rollups, &e) < 0)
        ok = 0;
    if (c && !ok && e.code != ERR_NONE) {
        for (w = list; w; w = w->next) {
            if (w->rc == 0) {
                w->rc = -1;
                err_set(&w->err, e.code, "%s", e.detail);
            }
        }
    }
    if (c && writer_end(s, ok, &e) < 0 && ok) {
        /* The commit failed: nothing of this batch is stored. */
        for (w = list; w; w = w->next) {
            if (w->rc == 0) {
                w->rc = -1;
                err_set(&w->err, e.code, "%s", e.detail);
            }
        }
    }
    for (w = list; w; w = next) {
        next = w->next;
        if (!c) {
            w->rc = -1;
            err_set(&w->err, e.code, "%s", e.detail);
        }
        w->done(w); /* may free w */
    }
    err_release(&e);
}

static void *writer_main(void *arg)
{
    struct store *s = arg;
    struct store_write *list;

    pthread_mutex_lock(&s->queue_lock);
    for (;;) {
        while (!s->queue_head && !s->stopping)
            pthread_cond_wait(&s->queue_cond, &s->queue_lock);
        if (!s->queue_head)
            break; /* stopping, and nothing left to write */
        if (s->opts.commit_each) {
            list = s->queue_head;
            s->queue_head = list->next;
            list->next = NULL;
        } else {
            list = s->queue_head;
            s->queue_head = NULL;
        }
        if (!s->queue_head)
            s->queue_tail = NULL;
        pthread_mutex_unlock(&s->queue_lock);
        writer_commit(s, list);
        pthread_mutex_lock(&s->queue_lock);
    }
    pthread_mutex_unlock(&s->queue_lock);
    return NULL;
}

void store_write_submit(struct store *s, struct store_write *w)
{
    w->rc = 0;
    err_init(&w->err);
    w->next = NULL;
    pthread_mutex_lock(&s->queue_lock);
    if (s->queue_tail)
        s->queue_tail->next = w;
    else
        s->queue_head = w;
    s->queue_tail = w;
    pthread_cond_signal(&s->queue_cond);
    pthread_mutex_unlock(&s->queue_lock);
}

struct write_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
};

static void write_wait_done(struct store_write *w)
{
    struct write_wait *ww = w->ctx;

    pthread_mutex_lock(&ww->lock);
    ww->done = 1;
    pthread_cond_signal(&ww->cond);
    pthread_mutex_unlock(&ww->lock);
}

int store_response_insert(struct store *s, struct response *r, const struct idem *idem,
                          struct err *e)
{
    struct write_wait ww = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    struct store_write w = {
        .responses = r, .n = 1, .idem = idem, .done = write_wait_done, .ctx = &ww};

    store_write_submit(s, &w);
    pthread_mutex_lock(&ww.lock);
    while (!ww.done)
        pthread_cond_wait(&ww.cond, &ww.lock);
    pthread_mutex_unlock(&ww.lock);
    if (w.rc < 0 && e) {
        err_release(e);
        *e = w.err; /* moves the field list too */
        return -1;
    }
    err_release(&w.err);
    return w.rc;
}

/* ---- rollups ------------------------------------------------------------------------------ */

static const char *const rollup_tables[] = {"rollup_day", "rollup_month", "rollup_day_tp",
                                            "rollup_month_tp"};
#define NROLLUP_TABLES (sizeof(rollup_tables) / sizeof(rollup_tables[0]))

/* Empties the rollups and fills them again: every migration's statements after its line
 * "-- rebuild: ...", in migration order (the detailed rollups from the responses, then the
 * coarse ones from the detailed). */
static int rollup_rebuild_on(struct conn *c, struct err *e)
{
    char sql[128];
    int rc = SQLITE_OK, sections = 0;

    for (size_t t = 0; rc == SQLITE_OK && t < NROLLUP_TABLES; t++) {
        /* table names are our own constants, not input */
        snprintf(sql, sizeof(sql), "DELETE FROM %s", rollup_tables[t]);
        rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    }
    for (size_t m = 0; rc == SQLITE_OK && m < schema_count; m++) {
        const char *fill = strstr(schema_sql[m], "\n-- rebuild:"); /* at a line start */

        if (fill) {
            rc = sqlite3_exec(c->db, fill, NULL, NULL, NULL);
            sections++;
        }
    }
    if (rc == SQLITE_OK && sections == 0)
        return err_set(e, ERR_INTERNAL, "the rollup statements are missing from the schema");
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c->db,
                          "INSERT INTO meta (name, value) VALUES ('rollup_tz', polku_tz()) "
                          "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                          NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : store_sqlerr(e, c->db, rc, "rollup rebuild");
}

int store_rollup_rebuild(struct store *s, struct err *e)
{
    struct conn *c = writer_begin(s, e);
    int ok;

    if (!c)
        return -1;
    ok = rollup_rebuild_on(c, e) == 0;
    return writer_end(s, ok, e);
}

int store_rollup_check(struct store *s, struct err *e)
{
    struct conn *c = writer_begin(s, e);
    int equal = 1, rc = SQLITE_OK;
    char sql[512];

    if (!c)
        return -1;
    /* Keep the incremental rollups aside, rebuild, and compare both ways; then roll back. */
    for (size_t t = 0; rc == SQLITE_OK && t < NROLLUP_TABLES; t++) {
        snprintf(sql, sizeof(sql), "CREATE TEMP TABLE incremental_%s AS SELECT * FROM %s",
                 rollup_tables[t], rollup_tables[t]);
        rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK && rollup_rebuild_on(c, e) < 0)
        rc = SQLITE_ERROR;
    for (size_t t = 0; rc == SQLITE_OK && t < NROLLUP_TABLES; t++) {
        sqlite3_stmt *st;
        const char *name = rollup_tables[t];

        snprintf(sql, sizeof(sql),
                 "SELECT (SELECT count(*) FROM (SELECT * FROM %s EXCEPT "
                 "SELECT * FROM temp.incremental_%s)) + (SELECT count(*) FROM (SELECT * FROM "
                 "temp.incremental_%s EXCEPT SELECT * FROM %s))",
                 name, name, name, name);
        rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
            break;
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) != 0)
            equal = 0;
        sqlite3_finalize(st);
    }
    if (rc != SQLITE_OK)
        store_sqlerr(e, c->db, rc, "rollup check");
    writer_end(s, 0, NULL); /* the rollback drops the temporary tables too */
    if (rc != SQLITE_OK)
        return -1;
    return equal;
}

static void sql_tz(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const char *tz = getenv("TZ");

    (void)argc;
    (void)argv;
    sqlite3_result_text(ctx, tz && *tz ? tz : "UTC", -1, SQLITE_TRANSIENT);
}

/* Rebuilds the rollups when they were built for another reporting time zone. */
static int rollup_check_tz(struct store *s, struct err *e)
{
    sqlite3_stmt *st = NULL;
    int rc, found = 0, same = 0;

    rc = sqlite3_prepare_v2(s->writer->db,
                            "SELECT value = polku_tz() FROM meta WHERE name = 'rollup_tz'", -1, &st,
                            NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        found = 1;
        same = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return store_sqlerr(e, s->writer->db, rc, "rollup time zone");
    if (same)
        return 0;
    if (found)
        log_info("the reporting time zone is now %s: rebuilding the rollups",
                 getenv("TZ") ? getenv("TZ") : "UTC");
    return store_rollup_rebuild(s, e);
}

int store_open(const char *path, const struct store_options *opts, struct store **out,
               struct err *e)
{
    struct store *s = xcalloc(1, sizeof(*s));

    s->path = xstrdup(path);
    if (opts)
        s->opts = *opts;
    pthread_mutex_init(&s->write_lock, NULL);
    pthread_mutex_init(&s->pool_lock, NULL);
    pthread_mutex_init(&s->queue_lock, NULL);
    pthread_cond_init(&s->queue_cond, NULL);
    atomic_init(&s->version, 1);
    atomic_init(&s->keys_version, 1);
    s->rollups = rollup_acc_new();
    if (conn_open(path, 0, &s->writer, e) < 0)
        goto fail;
    sqlite3_create_function(s->writer->db, "polku_tz", 0, SQLITE_UTF8, NULL, sql_tz, NULL, NULL);
    if (store_migrate(s, e) < 0)
        goto fail;
    if (rollup_check_tz(s, e) < 0)
        goto fail;
    /* The writer keeps a larger page cache: its B-tree pages are touched again and again. It
     * checkpoints every 10,000 WAL pages (about 40 MB) rather than SQLite's 1,000: a checkpoint
     * runs inside the commit that crosses the mark, and the hot pages (rollups, index tops)
     * rewritten many times in between are copied once; +19% durable ingest on the bench. (A
     * checkpointer thread beside the writer was tried and made commits slower: its fsyncs of
     * the database compete with the WAL's.) */
    sqlite3_exec(s->writer->db, "PRAGMA cache_size = -16384; PRAGMA wal_autocheckpoint = 10000",
                 NULL, NULL, NULL);
    if (pthread_create(&s->writer_thread, NULL, writer_main, s) != 0) {
        err_set(e, ERR_INTERNAL, "cannot start the writer thread");
        goto fail;
    }
    s->writer_running = 1;
    *out = s;
    return 0;
fail:
    store_close(s);
    return -1;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    if (s->writer_running) {
        /* The writer finishes what is queued, then stops. */
        pthread_mutex_lock(&s->queue_lock);
        s->stopping = 1;
        pthread_cond_signal(&s->queue_cond);
        pthread_mutex_unlock(&s->queue_lock);
        pthread_join(s->writer_thread, NULL);
    }
    for (size_t i = 0; i < s->nall; i++)
        conn_close(s->all[i]);
    free(s->all);
    if (s->writer) {
        /* Fold the WAL back into the database file so a copy of the file alone is complete. */
        sqlite3_exec(s->writer->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        conn_close(s->writer);
    }
    pthread_mutex_destroy(&s->write_lock);
    pthread_mutex_destroy(&s->pool_lock);
    rollup_acc_free(s->rollups);
    pthread_mutex_destroy(&s->queue_lock);
    pthread_cond_destroy(&s->queue_cond);
    free(s->path);
    free(s);
}

int store_ready(struct store *s)
{
    struct conn *c = reader_get(s, NULL);
    sqlite3_stmt *st;
    int ok = 0;

    if (!c)
        return 0;
    st = conn_stmt(c, "SELECT count(*) FROM journeys", NULL);
    ok = st && sqlite3_step(st) == SQLITE_ROW;
    reader_put(s, c);
    return ok;
}

uint64_t store_keys_version(const struct store *s)
{
    return atomic_load(&s->keys_version);
}

uint64_t store_data_version(const struct store *s)
{
    return atomic_load(&s->version);
}

int store_schema_version(struct store *s)
{
    sqlite3_stmt *st;
    int v = -1;

    pthread_mutex_lock(&s->write_lock);
    if (sqlite3_prepare_v2(s->writer->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->write_lock);
    return v;
}
