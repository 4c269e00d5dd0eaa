/*
 * The SQLite store: opening, migrations, connections and transactions. Journeys and
 * touchpoints live in store_catalog.c, responses and metrics in store_responses.c, API keys in
 * store_keys.c.
 *
 * Durability: WAL with synchronous=FULL, so a committed write survives power loss; a write call
 * returns only after COMMIT. The writer is one connection behind a mutex (the group-commit
 * writer thread of store_writer.c and the other writes share it); readers come from a pool of
 * read-only connections, so reads never wait for the writer. Every connection opens through
 * the VFS of store_vfs.c, which gathers WAL writes and writes them before the sync.
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

static const char *store_vfs; /* STORE_VFS, or NULL (the default VFS) if it cannot be had */

int conn_open(const char *path, int readonly, struct conn **out, struct err *e)
{
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_NOMUTEX;
    struct conn *c = xcalloc(1, sizeof(*c));
    int rc;

    rc = sqlite3_open_v2(path, &c->db, flags, store_vfs);
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
    rollup_register(c->db);
    idem_register(c->db);
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
    for (int i = 0; i < CONN_TEXT_CACHE; i++) {
        sqlite3_finalize(c->text_cache[i].stmt);
        free(c->text_cache[i].sql);
    }
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

sqlite3_stmt *conn_stmt_text(struct conn *c, const char *sql, struct err *e)
{
    int i, slot = -1, rc;
    sqlite3_stmt *st;

    for (i = 0; i < CONN_TEXT_CACHE; i++) {
        if (c->text_cache[i].sql && strcmp(c->text_cache[i].sql, sql) == 0) {
            sqlite3_reset(c->text_cache[i].stmt);
            sqlite3_clear_bindings(c->text_cache[i].stmt);
            return c->text_cache[i].stmt;
        }
        if (!c->text_cache[i].sql && slot < 0)
            slot = i;
    }
    rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        store_sqlerr(e, c->db, rc, "prepare");
        return NULL;
    }
    if (slot < 0) {
        slot = (int)(c->text_next++ % CONN_TEXT_CACHE);
        sqlite3_finalize(c->text_cache[slot].stmt);
        free(c->text_cache[slot].sql);
    }
    c->text_cache[slot].sql = xstrdup(sql);
    c->text_cache[slot].stmt = st;
    return st;
}

/* The read connection store_read_pin holds for this thread, and for which store. */
static __thread struct conn *pinned;
static __thread const struct store *pinned_store;

struct conn *reader_get(struct store *s, struct err *e)
{
    struct conn *c;

    if (pinned && pinned_store == s)
        return pinned; /* inside store_read_pin: the same snapshot */

    pthread_mutex_lock(&s->pool_lock);
    c = s->idle;
    if (c)
        s->idle = c->next;
    pthread_mutex_unlock(&s->pool_lock);
    if (!c) {
        if (conn_open(s->path, 1, &c, e) < 0)
            return NULL;
        conn_exec(c, "PRAGMA query_only=ON", NULL);
        pthread_mutex_lock(&s->pool_lock);
        s->all = xrealloc(s->all, (s->nall + 1) * sizeof(*s->all));
        s->all[s->nall++] = c;
        pthread_mutex_unlock(&s->pool_lock);
    }
    /* Everything read through one borrowing is one snapshot: a journey and its phases, a
     * metrics scan's parts, never half of a commit (reader_put ends it). */
    if (sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        store_sqlerr(e, c->db, sqlite3_errcode(c->db), "read transaction");
        pthread_mutex_lock(&s->pool_lock);
        c->next = s->idle;
        s->idle = c;
        pthread_mutex_unlock(&s->pool_lock);
        return NULL;
    }
    return c;
}

void reader_put(struct store *s, struct conn *c)
{
    if (!c)
        return;
    /* Leave no statement open: an open read statement would pin an old WAL snapshot. */
    for (int i = 0; i < CONN_STMT_CACHE && c->cache[i].sql; i++)
        sqlite3_reset(c->cache[i].stmt);
    for (int i = 0; i < CONN_TEXT_CACHE; i++)
        if (c->text_cache[i].stmt)
            sqlite3_reset(c->text_cache[i].stmt);
    if (c == pinned)
        return; /* store_read_unpin ends the read transaction */
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    pthread_mutex_lock(&s->pool_lock);
    c->next = s->idle;
    s->idle = c;
    pthread_mutex_unlock(&s->pool_lock);
}

/* Turns the writer's foreign-key checks back on after writer_begin_unchecked (outside a
 * transaction, the write lock held). */
static void writer_checks_on(struct store *s)
{
    if (!s->writer_unchecked)
        return;
    if (sqlite3_exec(s->writer->db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL) != SQLITE_OK)
        abort(); /* only out of memory; writing on without the checks would be worse */
    s->writer_unchecked = 0;
}

/* BEGIN IMMEDIATE, the write lock held; releases it on failure. With zoned, also refuses
 * (ERR_UNAVAILABLE) while the rollups are of another zone: looked at inside the transaction,
 * so no other process can change them before this one commits. */
static struct conn *writer_begin_locked(struct store *s, int zoned, struct err *e)
{
    int rc = sqlite3_exec(s->writer->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

    if (rc != SQLITE_OK) {
        store_sqlerr(e, s->writer->db, rc, "begin");
        writer_checks_on(s);
        pthread_mutex_unlock(&s->write_lock);
        return NULL;
    }
    if (zoned && store_rollup_zone_ok(s, s->writer, e) < 0) {
        if (!atomic_exchange(&s->zone_stale, 1))
            ckpt_wake(s);
        writer_end(s, 0, NULL);
        return NULL;
    }
    s->writer->next_response_id = 0;
    return s->writer;
}

struct conn *writer_begin(struct store *s, struct err *e)
{
    pthread_mutex_lock(&s->write_lock);
    return writer_begin_locked(s, 1, e);
}

/* writer_begin without the zone guard: migrations, and the rebuilds that set the zone. */
static struct conn *writer_begin_unzoned(struct store *s, struct err *e)
{
    pthread_mutex_lock(&s->write_lock);
    return writer_begin_locked(s, 0, e);
}

struct conn *writer_begin_unchecked(struct store *s, struct err *e)
{
    int rc;

    pthread_mutex_lock(&s->write_lock);
    /* A no-op inside a transaction, so before BEGIN. It expires the writer's prepared
     * statements: SQLite prepares each again, without the checks now, with them after. */
    rc = sqlite3_exec(s->writer->db, "PRAGMA foreign_keys=OFF", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        store_sqlerr(e, s->writer->db, rc, "foreign keys off");
        pthread_mutex_unlock(&s->write_lock);
        return NULL;
    }
    s->writer_unchecked = 1;
    return writer_begin_locked(s, 1, e);
}

int writer_end(struct store *s, int ok, struct err *e)
{
    sqlite3 *db = s->writer->db;
    int rc, ret = -1;

    for (int i = 0; i < CONN_STMT_CACHE && s->writer->cache[i].sql; i++)
        sqlite3_reset(s->writer->cache[i].stmt);
    if (ok) {
        /* commits_begun runs ahead of version while a commit may become visible: a read that
         * finds them different may have seen it (store_snapshot_exact). A failed commit is
         * not visible (SQLite publishes a WAL commit after its sync) and is taken back. */
        atomic_fetch_add(&s->commits_begun, 1);
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            atomic_fetch_add(&s->version, 1);
            ret = 0;
        } else {
            atomic_fetch_sub(&s->commits_begun, 1);
            store_sqlerr(e, db, rc, "commit");
        }
    }
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    writer_checks_on(s);
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
        if (!writer_begin_unzoned(s, e))
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

/* ---- rollups ------------------------------------------------------------------------------ */

static const char *const rollup_tables[] = {"rollup_day",     "rollup_month",
                                            "rollup_day_tp",  "rollup_month_tp",
                                            "rollup_hour_tp", "rollup_day_arrival"};
#define NROLLUP_TABLES (sizeof(rollup_tables) / sizeof(rollup_tables[0]))
/* The columns that must agree between rebuilt and incremental rollups, per table (NULL: bounds
 * only, checked below). */
static const char *const rollup_columns[] = {"touchpoint_id, day, channel, segment, n, h",
                                             "touchpoint_id, month, channel, segment, n, h",
                                             "touchpoint_id, day, n, h",
                                             "touchpoint_id, month, n, h",
                                             "touchpoint_id, hour, n, h",
                                             NULL};

/* Empties the rollups and fills them again: the statements after the line "-- rebuild: ..."
 * of the newest migration that has one (now migration 14's, which fill all six tables; older
 * sections fill tables of their time and only run within their own migration). */
static int rollup_rebuild_on(struct conn *c, struct err *e)
{
    const char *fill = NULL;
    char sql[128];
    int rc = SQLITE_OK, sections = 0;

    for (size_t m = 0; m < schema_count; m++) {
        const char *at = strstr(schema_sql[m], "\n-- rebuild:"); /* at a line start */

        if (at) {
            fill = at;
            sections++;
        }
    }
    for (size_t t = 0; rc == SQLITE_OK && t < NROLLUP_TABLES; t++) {
        /* table names are our own constants, not input */
        snprintf(sql, sizeof(sql), "DELETE FROM %s", rollup_tables[t]);
        rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK && fill)
        rc = sqlite3_exec(c->db, fill, NULL, NULL, NULL);
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
    struct conn *c = writer_begin_unzoned(s, e);
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
        const char *name = rollup_tables[t], *cols = rollup_columns[t];

        if (!cols)
            continue;
        snprintf(sql, sizeof(sql),
                 "SELECT (SELECT count(*) FROM (SELECT %s FROM %s EXCEPT "
                 "SELECT %s FROM temp.incremental_%s)) + (SELECT count(*) FROM (SELECT %s FROM "
                 "temp.incremental_%s EXCEPT SELECT %s FROM %s))",
                 cols, name, cols, name, cols, name, cols, name);
        rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
            break;
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) != 0)
            equal = 0;
        sqlite3_finalize(st);
    }
    /* How rows arrived: the writer's figures are bounds, never tighter than the exact ones
     * (they are looser after deletes, or when rows of a day came in more than one
     * transaction), and it has a day's row wherever the rebuild has one (it keeps the rows of
     * days whose responses were all deleted). */
    if (rc == SQLITE_OK) {
        sqlite3_stmt *st;

        rc = sqlite3_prepare_v2(
            c->db,
            "SELECT (SELECT count(*) FROM rollup_day_arrival r LEFT JOIN "
            "temp.incremental_rollup_day_arrival i USING (day) "
            "WHERE i.day IS NULL OR i.late < r.late OR i.sub_max < r.sub_max "
            "OR i.recv_max < r.recv_max OR i.min_id > r.min_id OR i.max_id < r.max_id) + "
            "(SELECT count(*) FROM rollup_day_tp r JOIN "
            "temp.incremental_rollup_day_tp i USING (touchpoint_id, day) "
            "WHERE i.min_id > r.min_id OR i.max_id < r.max_id) + (SELECT count(*) FROM "
            "rollup_hour_tp r JOIN temp.incremental_rollup_hour_tp i "
            "USING (touchpoint_id, hour) WHERE i.recv_min > r.recv_min "
            "OR i.recv_max < r.recv_max)",
            -1, &st, NULL);
        if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) != 0)
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
    (void)argc;
    (void)argv;
    sqlite3_result_text(ctx, store_tz_name(), -1, SQLITE_TRANSIENT);
}

int rollup_zone_same(struct conn *c, char *built, size_t size, struct err *e)
{
    sqlite3_stmt *st = conn_stmt(c, "SELECT value FROM meta WHERE name = 'rollup_tz'", e);
    const unsigned char *value;
    int rc, same;

    if (!st)
        return -1;
    rc = sqlite3_step(st);
    value = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    same = value && strcmp((const char *)value, store_tz_name()) == 0;
    if (built)
        snprintf(built, size, "%s", value ? (const char *)value : "");
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_sqlerr(e, c->db, rc, "rollup time zone");
    return same;
}

int store_rollup_zone_ok(struct store *s, struct conn *c, struct err *e)
{
    int same;

    if (s->opts.leave_rollups)
        return 0;
    if ((same = rollup_zone_same(c, NULL, 0, e)) != 0)
        return same > 0 ? 0 : -1;
    if (atomic_load(&s->zone_lost))
        return err_set(e, ERR_UNAVAILABLE,
                       "another server reports in another time zone on this database: this one "
                       "(%s) takes no writes until the rollups are of its zone again",
                       store_tz_name());
    return err_set(e, ERR_UNAVAILABLE,
                   "the rollups are being rebuilt for the reporting time zone %s", store_tz_name());
}

/* A rebuild started by the checkpointer stops when the store closes (SIGTERM): it would hold
 * the shutdown for as long as it takes, about a minute at 10M responses. */
static int rebuild_stop(void *arg)
{
    return atomic_load(&((struct store *)arg)->closing);
}

int store_rollup_zone_check(struct store *s, struct err *e)
{
    struct conn *c = writer_begin_unzoned(s, e);
    char built[64] = "";
    int same, ok = 0, ret = -1;

    if (!c)
        return -1;
    /* one transaction: no commit of another process can come between the look and the
     * rebuild */
    if ((same = rollup_zone_same(c, built, sizeof(built), e)) < 0)
        goto done;
    if (same) {
        if (atomic_exchange(&s->zone_lost, 0))
            log_info("the rollups are of the time zone %s again: taking writes", store_tz_name());
        ret = 0; /* nothing to do, nothing to commit */
        goto done;
    }
    if (atomic_load(&s->zone_lost)) {
        ret = 0; /* given way already */
        goto done;
    }
    if (s->zone_rebuilt_ms && util_mono_ms() - s->zone_rebuilt_ms < ZONE_FIGHT_MS) {
        atomic_store(&s->zone_lost, 1);
        log_error("the rollups were rebuilt for the time zone %s again soon after this server "
                  "rebuilt them for %s: another server of that zone uses this database. This one "
                  "takes no writes until they are of its zone again (restart it with POLKU_TZ=%s, "
                  "or stop the other)",
                  built, store_tz_name(), built);
        ret = 0;
        goto done;
    }
    if (built[0])
        log_info("the rollups were built for the time zone %s, this server reports in %s: "
                 "rebuilding them",
                 built, store_tz_name());
    sqlite3_progress_handler(c->db, 100000, rebuild_stop, s);
    ok = rollup_rebuild_on(c, e) == 0;
    sqlite3_progress_handler(c->db, 0, NULL, NULL);
done:
    if (!ok) {
        writer_end(s, 0, NULL); /* nothing to commit (or an error set in e) */
        return ret;
    }
    if (writer_end(s, 1, e) < 0)
        return -1;
    s->zone_rebuilt_ms = util_mono_ms();
    return 1;
}

/* Before SQLite initialises: no memory statistics, which cost a global mutex on every
 * allocation (the writer allocates for every statement step). Then the VFS. */
static void store_sqlite_config(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    if (store_vfs_register() == 0)
        store_vfs = STORE_VFS;
    else
        log_error("the WAL write buffer is not available; using SQLite's default VFS");
}

int64_t store_now(const struct store *s)
{
    return s->opts.clock_ms ? s->opts.clock_ms() : util_now_ms();
}

int store_open(const char *path, const struct store_options *opts, struct store **out,
               struct err *e)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    struct store *s = xcalloc(1, sizeof(*s));

    pthread_once(&once, store_sqlite_config);

    s->path = xstrdup(path);
    if (opts)
        s->opts = *opts;
    if (s->opts.idem_ttl_ms <= 0)
        s->opts.idem_ttl_ms = STORE_IDEM_TTL_MS;
    pthread_mutex_init(&s->write_lock, NULL);
    pthread_mutex_init(&s->pool_lock, NULL);
    pthread_mutex_init(&s->queue_lock, NULL);
    pthread_cond_init(&s->queue_cond, NULL);
    atomic_init(&s->version, 1);
    atomic_init(&s->commits_begun, 1);
    atomic_init(&s->zone_stale, 0);
    atomic_init(&s->zone_lost, 0);
    atomic_init(&s->closing, 0);
    atomic_init(&s->keys_version, 1);
    s->rollups = rollup_acc_new();
    if (conn_open(path, 0, &s->writer, e) < 0)
        goto fail;
    sqlite3_create_function(s->writer->db, "polku_tz", 0, SQLITE_UTF8, NULL, sql_tz, NULL, NULL);
    if (store_migrate(s, e) < 0)
        goto fail;
    if (!s->opts.leave_rollups && store_rollup_zone_check(s, e) < 0)
        goto fail;
    s->idem = idem_mem_new(s->opts.idem_mem_max);
    if (idem_mem_load(s->writer, s->idem, e) < 0)
        goto fail;
    s->zone_rebuilt_ms = 0; /* a rebuild at start is no sign of another server */
    /* The writer keeps a larger page cache: its B-tree pages are touched again and again.
     * Checkpoints: store_checkpoint.c (its WAL hook replaces wal_autocheckpoint). */
    sqlite3_exec(s->writer->db, "PRAGMA cache_size = -16384", NULL, NULL, NULL);
    if (writer_start(s, e) < 0 || ckpt_start(s, e) < 0)
        goto fail;
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
    atomic_store(&s->closing, 1);
    writer_stop(s);
    ckpt_stop(s);
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
    idem_mem_free(s->idem);
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
    if (st)
        sqlite3_reset(st);
    if (ok) {
        struct err e;

        err_init(&e);
        ok = store_rollup_zone_ok(s, c, &e) == 0; /* metrics would be wrong meanwhile */
        err_release(&e);
    }
    reader_put(s, c);
    return ok;
}

uint64_t store_keys_version(const struct store *s)
{
    return atomic_load(&s->keys_version);
}

int store_read_pin(struct store *s, struct err *e)
{
    struct conn *c;

    if (pinned)
        return err_set(e, ERR_INTERNAL, "a read is pinned already on this thread");
    c = reader_get(s, e);
    if (!c)
        return -1;
    pinned = c;
    pinned_store = s;
    return 0;
}

void store_read_unpin(struct store *s)
{
    struct conn *c = pinned;

    if (!c || pinned_store != s)
        return;
    pinned = NULL;
    pinned_store = NULL;
    reader_put(s, c);
}

uint64_t store_data_version(const struct store *s)
{
    return atomic_load(&s->version);
}

int store_snapshot_exact(const struct store *s, uint64_t version)
{
    return atomic_load(&s->commits_begun) == version;
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
