/*
 * Internals shared by the SQLite store files (store.c, store_writer.c, store_catalog.c,
 * store_responses.c, store_keys.c, store_rollups.c, store_targets.c). Nothing outside those files
 * includes this header.
 */
#ifndef POLKU_STORE_INT_H
#define POLKU_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "store.h"

#define CONN_STMT_CACHE 64

#define CONN_TEXT_CACHE 32

/* SQL for an id that table (responses, api_keys or targets) has never held: one more than both
 * its largest id and the largest id ever deleted from it (ids_retired, migration 13). Without
 * it SQLite gives a deleted newest row's id to the next row. */
#define FRESH_ID(table)                                                                            \
    "(SELECT max(coalesce((SELECT max(id) FROM " table "), 0), "                                   \
    "coalesce((SELECT id FROM ids_retired WHERE name = '" table "'), 0)) + 1)"

/* One SQLite connection with its caches of prepared statements: one keyed by the SQL text's
 * address (string literals), one by the text (statements put together per request, such as a
 * metrics scan's with its filters; the least recently prepared goes when it is full). */
struct conn {
    sqlite3 *db;
    struct conn *next; /* in the store's free list */
    struct {
        const char *sql;
        sqlite3_stmt *stmt;
    } cache[CONN_STMT_CACHE];
    struct {
        char *sql; /* owned */
        sqlite3_stmt *stmt;
    } text_cache[CONN_TEXT_CACHE];
    unsigned text_next;       /* the entry a statement not cached yet replaces when all are taken */
    int64_t next_response_id; /* writer: the next response's id, 0 until looked up in this
                               * transaction (writer_begin clears it) */
};

struct store {
    char *path;
    struct conn *writer;
    pthread_mutex_t write_lock;
    pthread_mutex_t pool_lock;
    struct conn *idle; /* read connections not in use */
    struct conn **all; /* every read connection, for closing */
    size_t nall;
    _Atomic uint64_t version;
    _Atomic uint64_t commits_begun; /* incremented before each COMMIT, version after it */
    _Atomic uint64_t keys_version;
    struct store_options opts;
    /* the group-commit writer */
    pthread_t writer_thread;
    int writer_running;
    pthread_mutex_t queue_lock;
    pthread_cond_t queue_cond;
    struct store_write *queue_head, *queue_tail;
    int stopping;
    struct rollup_acc *rollups; /* the writer's, reset for every transaction */
    struct idem_mem *idem;      /* recent idempotency fingerprints (store_idem.c), write_lock */
    int writer_unchecked;       /* under write_lock: foreign keys off (writer_begin_unchecked) */
    /* The rollups' zone (store_rollup_zone_check): */
    _Atomic int zone_stale;  /* a write found them of another zone: check now */
    _Atomic int zone_lost;   /* another server keeps them in its zone: writes refused */
    int64_t zone_rebuilt_ms; /* when this server last rebuilt them back (monotonic) */
    _Atomic int closing;     /* store_close has begun: a rebuild stops */
    /* the checkpointer (store_checkpoint.c) */
    struct conn *ckpt;
    pthread_t ckpt_thread;
    int ckpt_running, ckpt_init;
    pthread_mutex_t ckpt_lock;
    pthread_cond_t ckpt_cond;
    int ckpt_wanted, ckpt_stopping; /* under ckpt_lock */
    _Atomic int ckpt_finish;        /* the writer copies the last pages after its next commit */
    _Atomic int ckpt_background;    /* checkpoints are left to the checkpointer */
    _Atomic uint64_t ckpt_by_writer, ckpt_by_thread;
};

/* Rollup deltas of the responses a transaction inserts (store_rollups.c). The accumulator
 * borrows the channel and segment strings of the responses added: they must outlive it (or its
 * next reset). */
struct rollup_acc;
struct rollup_acc *rollup_acc_new(void);
void rollup_acc_free(struct rollup_acc *a);
void rollup_acc_reset(struct rollup_acc *a);
/* Counts r (stored: id, touchpoint_id and submitted_at set) in its buckets. */
void rollup_acc_add(struct rollup_acc *a, const struct response *r);
/* rollup_day_arrival.late when the order of a day's rows is not known (migration 14): longer than
 * any day, so that no scan stops early. */
#define ROLLUP_LATE_UNKNOWN     1000000000000000LL
#define ROLLUP_LATE_UNKNOWN_SQL "1000000000000000"
/* Adds every bucket to the rollup tables, on the writer's open transaction. */
int rollup_acc_flush(struct conn *c, struct rollup_acc *a, struct err *e);
/* The histogram of the one response r (its metric fields only); absent or out-of-range values
 * are not counted. The writer, the SQL functions and the raw scan all count through it. */
void rollup_hist_one(const struct response *r, struct hist *h);
/* Adds k (1, or -1 to take it out) times the response r to h. */
void rollup_hist_count(const struct response *r, int64_t k, struct hist *h);
/* Registers the SQL functions of the rollup histograms (polku_hist_add, polku_hist_sub, the
 * aggregate polku_hist) on db. */
void rollup_register(sqlite3 *db);

/* The VFS every connection opens with (store_vfs.c): the default one, with the writes to a
 * WAL file gathered into one write per commit. Registered once; -1 if it cannot be. */
#define STORE_VFS "polku"
int store_vfs_register(void);
/* Since start: WAL writes SQLite made (gathered), and writes of gathered runs to the file. */
void store_vfs_counts(uint64_t *gathered, uint64_t *written);
/* Tests: the next n syncs of a WAL file fail with SQLITE_IOERR_FSYNC, as a disk's failed fsync
 * would (the writes before them are made). A commit at synchronous=FULL syncs the WAL before it
 * publishes its frames, so that commit fails; so may a checkpoint, which syncs the WAL too. */
void store_vfs_fail_syncs(int n);
/* Tests: the next n writes to a WAL file (gathered runs) fail with SQLITE_FULL before writing
 * anything, as on a full disk. A commit writes its frames at its sync, so that commit fails. */
void store_vfs_fail_writes(int n);
/* Reads a rollup row's n (column col_n) and histogram BLOB (col_h) into h; -1 when the BLOB
 * is not a histogram. */
int rollup_hist_read(sqlite3_stmt *st, int col_n, int col_h, struct hist *h);

/* Runs one queued write inside the writer's open transaction (store_responses.c), received at
 * now (ms; keys recorded longer than idem_ttl_ms before count as not recorded): 0, -1 when
 * the write was refused before changing anything, or STORE_WRITE_BROKEN when it failed half
 * way (the transaction must be rolled back). */
#define STORE_WRITE_BROKEN (-2)
int store_write_apply(struct conn *c, struct idem_mem *m, struct store_write *w, int64_t now,
                      int64_t idem_ttl_ms);

/* Idempotency records (store_idem.c). idem_fp is the 64-bit fingerprint of (principal, key);
 * idem_register adds it as polku_idem_fp(principal, key). The fingerprints of recent records
 * are in the writer's struct idem_mem (under write_lock), older ones in the partial index of
 * merged records (migration 15). fp is idem_fp of the key, computed once by the caller.
 * idem_find tells whether a key is recorded since `since` (ms; committed or earlier in the
 * open transaction) and fills idem->replay, if set, from the record; idem_record records one
 * with the body rendered from the n stored responses; idem_purge deletes up to limit of the
 * oldest records created before `before` (ms) and returns how many it deleted; idem_merge
 * moves up to limit of the oldest recent records into the index when the table holds more
 * than its maximum. These run on the writer's open transaction, after idem_mem_begin, and
 * idem_mem_end settles the table when it ends (committed or not). */
struct idem_mem;
struct idem_mem *idem_mem_new(size_t max);
void idem_mem_free(struct idem_mem *m);
/* Fills the table with the records after the newest merged one (at open). */
int idem_mem_load(struct conn *c, struct idem_mem *m, struct err *e);
/* At the start of each write transaction: takes in the records other processes added. */
int idem_mem_begin(struct conn *c, struct idem_mem *m, struct err *e);
void idem_mem_end(struct idem_mem *m, int committed);
size_t idem_mem_count(const struct idem_mem *m); /* for tests */
int64_t idem_fp(const char *principal, const char *key);
void idem_register(sqlite3 *db);
int idem_find(struct conn *c, struct idem_mem *m, const struct idem *idem, int64_t fp,
              int64_t since, int *exists, struct err *e);
int idem_record(struct conn *c, struct idem_mem *m, const struct idem *idem, int64_t fp,
                const struct response *r, size_t n, int64_t now, struct err *e);
int idem_purge(struct conn *c, struct idem_mem *m, int64_t before, int limit, struct err *e);
int idem_merge(struct conn *c, struct idem_mem *m, int limit, struct err *e);

/* The writer's clock: opts.clock_ms when a test set it, else util_now_ms(). */
int64_t store_now(const struct store *s);

/* Opens a connection with Polku's pragmas. */
int conn_open(const char *path, int readonly, struct conn **out, struct err *e);
void conn_close(struct conn *c);
/* A cached prepared statement for a string literal, reset and unbound; NULL on error (e set). */
sqlite3_stmt *conn_stmt(struct conn *c, const char *sql, struct err *e);
/* The same for SQL text built at run time (compared as text; the cache keeps a copy). Reset
 * the statement after use; never finalize it. Step one such statement at a time: asking for the
 * same text again resets it, and asking for 32 others may finalize it. */
sqlite3_stmt *conn_stmt_text(struct conn *c, const char *sql, struct err *e);

/* Borrows a read connection (returned by reader_put). NULL on error. */
struct conn *reader_get(struct store *s, struct err *e);
void reader_put(struct store *s, struct conn *c);

/* Starts a write transaction on the writer (BEGIN IMMEDIATE), holding the write lock. */
struct conn *writer_begin(struct store *s, struct err *e);
/* writer_begin without SQLite's foreign-key checks, for deleting journeys and touchpoints.
 * SQLite checks a deleted touchpoint's references by reading an index of responses that starts
 * with touchpoint_id, and no such index exists since migration 14 (it would cost every commit a
 * tail per touchpoint): it read the whole day index, 0.44 s at 10M responses, holding every
 * write. The caller checks for responses itself, from the rollups, and deletes what the foreign
 * keys' cascades would (targets). writer_end turns the checks back on. */
struct conn *writer_begin_unchecked(struct store *s, struct err *e);
/* Commits when ok (returns -1 and rolls back if the commit fails), else rolls back; always
 * releases the write lock. Returns 0 when committed. */
int writer_end(struct store *s, int ok, struct err *e);

/* How a list of responses finds its rows (store_responses_list; store_options.list_plan forces
 * one, for tests): walking the ids in order, or gathering them from the day index. */
enum { LIST_WALK = 1, LIST_GATHER = 2 };

/* Rebuilds the rollups, in one write transaction with the look, when meta.rollup_tz is not
 * this server's zone: at start (POLKU_TZ changed), and when another process rebuilt them for
 * its own zone while this server runs (`polku rollup rebuild` with another POLKU_TZ): the
 * checkpointer looks after every commit of another process, and right away when a write found
 * them of another zone (writer_begin refuses every write then, so no response is ever added to
 * buckets of another zone). When they change zone again within ZONE_FIGHT_MS of its last
 * rebuild, another server of another zone uses the database: rather than rebuild in turn for
 * ever, this one gives way (zone_lost: writes and metrics answer 503, /readyz is not ready,
 * logged) until they are of its zone again. 1 when rebuilt, 0 when nothing was to do, -1 on
 * error (the checkpointer tries again). */
#define ZONE_FIGHT_MS (10 * 60 * 1000)
int store_rollup_zone_check(struct store *s, struct err *e);
/* Whether the rollups are of this process's zone (meta.rollup_tz): 1, or 0 with their zone in
 * built ("" when none is recorded; built may be NULL), or -1 on error. On c, inside a
 * transaction. */
int rollup_zone_same(struct conn *c, char *built, size_t size, struct err *e);
/* 0 when the rollups are of this process's zone (or it leaves them), else -1 with
 * ERR_UNAVAILABLE. On c, inside a transaction. */
int store_rollup_zone_ok(struct store *s, struct conn *c, struct err *e);

/* Starts the group-commit writer thread (store_writer.c); stops it after it has finished
 * everything queued. */
int writer_start(struct store *s, struct err *e);
void writer_stop(struct store *s);
/* The checkpointer thread and the writer's WAL hook that wakes it (store_checkpoint.c). */
int ckpt_start(struct store *s, struct err *e);
void ckpt_stop(struct store *s);
/* Has the checkpointer look at once (for the rollups' zone) instead of at its next tick. */
void ckpt_wake(struct store *s);

/* Maps a SQLite failure to an error: storage trouble is ERR_UNAVAILABLE. Returns -1. */
int store_sqlerr(struct err *e, sqlite3 *db, int rc, const char *what);

/* Runs sql (a DELETE with one parameter, the id) in a write transaction of its own;
 * ERR_NOT_FOUND ("<what> <id> not found") when no row went. */
int store_delete_id(struct store *s, const char *sql, int64_t id, const char *what, struct err *e);
/* Steps st to the end, appending each row to *items (elements of size bytes, grown as needed)
 * through from_row. */
int stmt_collect(struct conn *c, sqlite3_stmt *st, void **items, size_t *n, size_t size,
                 void (*from_row)(sqlite3_stmt *st, void *item), const char *what, struct err *e);

/* The UTC day of a response, as in the index responses_day_arrival (migrations 9, 14): a query
 * with a time range adds RESPONSE_DAY conditions from response_day_of() of its bounds
 * (inclusive) beside the exact ones, so the index narrows it to whole days. */
#define RESPONSE_DAY "r.submitted_at / 86400000"
static inline int64_t response_day_of(int64_t ms)
{
    return ms < 0 ? -1 : ms / 86400000; /* stored times are never negative */
}

/* The reporting time zone the process runs in (TZ, set through util_set_tz), as recorded in
 * meta.rollup_tz for the zone the rollups' days were built in. */
static inline const char *store_tz_name(void)
{
    const char *tz = getenv("TZ");

    return tz && *tz ? tz : "UTC";
}

/* Binding helpers: NULL strings bind SQL NULL. */
void bind_text(sqlite3_stmt *st, int i, const char *s);
void bind_opt_int(sqlite3_stmt *st, int i, int v); /* RESPONSE_ABSENT binds NULL */
/* A new copy of a text column, or NULL when the column is NULL. */
char *col_text(sqlite3_stmt *st, int i);

#endif
