/*
 * WAL checkpoints that do not stall the writer.
 *
 * A checkpoint copies the newest version of every page in the WAL back into the database file
 * and syncs it. Run by the writer after a commit (SQLite's wal_autocheckpoint), it delays every
 * queued write for as long as it takes. That is short while the pages written are few and hot
 * (rollups, index tails: about 2 ms per 10,000 WAL pages on the bench). It is long when every
 * response dirties a random page, as with random customer ids in the customer index: the sync
 * then writes thousands of scattered blocks, and p99 of durable ingest was 17 ms.
 *
 * So:
 * - the writer's WAL hook checkpoints once the WAL holds ckpt_soft_pages, timing it. A large
 *   mark copies pages rewritten many times once (and 40,000 measured better than 10,000 for
 *   both ingest workloads of the bench);
 * - when one of those takes longer than ckpt_stall_us, checkpoints go to a thread of its own,
 *   the checkpointer: it copies on its own connection (PASSIVE: the writer goes on appending);
 * - then the writer, after its next commit, copies only what was appended during the pass.
 *   The WAL starts again from its beginning only once a checkpoint has caught up with it, at
 *   the next write transaction; without that last step it would grow while writes flow;
 * - after CKPT_QUICK passes in a row shorter than half of ckpt_stall_us, the writer takes the
 *   checkpoints back (the cheaper way when they are short: one sync instead of two);
 * - at ckpt_hard_pages (a checkpointer that cannot keep up, or readers that keep the WAL from
 *   starting again), the writer checkpoints after every commit, as SQLite itself would.
 * Measured (docs/NOTES.md, 3 interleaved 15 s runs each, against SQLite's autocheckpoint at
 * 10,000 pages): random customers 34.1k/s, p99 11.3 ms against 29.3k/s, p99 17.0 ms; the
 * bench's own ingest 38.3k/s, p99 3.1 ms against 34.9k/s, p99 3.9 ms.
 */
#include "store_int.h"

#include <errno.h>
#include <time.h>

#include "log.h"
#include "util.h"

#define CKPT_SOFT     40000  /* pages, about 160 MB of WAL */
#define CKPT_HARD     200000 /* pages, or five times the soft mark if that is more */
#define CKPT_STALL    5000   /* microseconds */
#define CKPT_QUICK    16
#define CKPT_WATCH_MS 250 /* how often commits by other processes are looked for */

/* Whether rc is SQLITE_BUSY (extended result codes are on): another connection checkpoints. */
static int ckpt_busy(int rc)
{
    return (rc & 0xff) == SQLITE_BUSY;
}

/* A checkpoint on the write connection, now: its duration in microseconds, or -1 when it did
 * not run (busy: the checkpointer is copying) or failed (logged). */
static int64_t ckpt_inline(struct store *s, sqlite3 *db, const char *name)
{
    int64_t t0 = util_mono_us();
    int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

    if (rc != SQLITE_OK) {
        if (!ckpt_busy(rc))
            log_error("WAL checkpoint by the writer: %s", sqlite3_errmsg(db));
        return -1;
    }
    atomic_fetch_add(&s->ckpt_by_writer, 1);
    return util_mono_us() - t0;
}

/* The WAL hook of the write connection: runs after each commit, on the committing thread,
 * which holds Polku's write_lock (SQLite's own WAL write lock is already released, and a
 * checkpoint here is what SQLite's default hook does too); frames is the number of pages in
 * the WAL. */
static int ckpt_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct store *s = arg;

    if (atomic_exchange(&s->ckpt_finish, 0)) {
        if (ckpt_inline(s, db, name) < 0)
            atomic_store(&s->ckpt_finish, 1); /* again after the next commit */
        return SQLITE_OK;
    }
    if (frames >= s->opts.ckpt_hard_pages) {
        ckpt_inline(s, db, name);
        return SQLITE_OK;
    }
    if (frames < s->opts.ckpt_soft_pages)
        return SQLITE_OK;
    if (atomic_load(&s->ckpt_background)) {
        pthread_mutex_lock(&s->ckpt_lock);
        if (!s->ckpt_wanted) {
            s->ckpt_wanted = 1;
            pthread_cond_signal(&s->ckpt_cond);
        }
        pthread_mutex_unlock(&s->ckpt_lock);
    } else if (ckpt_inline(s, db, name) > s->opts.ckpt_stall_us) {
        atomic_store(&s->ckpt_background, 1);
    }
    return SQLITE_OK;
}

/* Commits made by another process (`polku key create` on the database of a running server)
 * move SQLite's data_version but not Polku's, and a client's ETag would be answered 304 for
 * the old body. The checkpointer looks every CKPT_WATCH_MS at the write connection's
 * data_version, which moves only for commits of other connections (the readers and the
 * checkpointer commit nothing), so the writer's own commits are not counted twice. */
static void ckpt_watch(struct store *s, int64_t *last, int *zone_pending)
{
    sqlite3_stmt *st;
    int outside = 0;

    pthread_mutex_lock(&s->write_lock); /* the write connection is used under it */
    st = conn_stmt(s->writer, "PRAGMA data_version", NULL);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(st, 0);

        if (*last && v != *last) {
            atomic_fetch_add(&s->commits_begun, 1);
            atomic_fetch_add(&s->version, 1);
            outside = 1;
        }
        *last = v;
    }
    if (st)
        sqlite3_reset(st);
    pthread_mutex_unlock(&s->write_lock);
    /* `polku rollup rebuild` with another POLKU_TZ may have been that commit; a write may have
     * found the rollups of another zone; or the last look failed (the database was locked) */
    if (!s->opts.leave_rollups &&
        (atomic_exchange(&s->zone_stale, 0) || outside || *zone_pending)) {
        struct err e;

        err_init(&e);
        *zone_pending = store_rollup_zone_check(s, &e) < 0;
        if (*zone_pending && !atomic_load(&s->closing))
            log_error("cannot check the rollups' time zone (trying again): %s", e.detail);
        err_release(&e);
    }
}

void ckpt_wake(struct store *s)
{
    pthread_mutex_lock(&s->ckpt_lock);
    pthread_cond_signal(&s->ckpt_cond);
    pthread_mutex_unlock(&s->ckpt_lock);
}

static void *ckpt_main(void *arg)
{
    struct store *s = arg;
    int64_t stall = s->opts.ckpt_stall_us, data_version = 0;
    int quick = 0, zone_pending = 0;

    pthread_setname_np(pthread_self(), "polku-ckpt");
    ckpt_watch(s, &data_version, &zone_pending);
    pthread_mutex_lock(&s->ckpt_lock);
    for (;;) {
        int64_t t0;
        int rc;

        while (!s->ckpt_wanted && !s->ckpt_stopping) {
            struct timespec until;

            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += CKPT_WATCH_MS * 1000000L;
            until.tv_sec += until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
            if (pthread_cond_timedwait(&s->ckpt_cond, &s->ckpt_lock, &until) == ETIMEDOUT ||
                atomic_load(&s->zone_stale)) {
                pthread_mutex_unlock(&s->ckpt_lock);
                ckpt_watch(s, &data_version, &zone_pending);
                pthread_mutex_lock(&s->ckpt_lock);
            }
        }
        if (s->ckpt_stopping)
            break;
        pthread_mutex_unlock(&s->ckpt_lock);
        t0 = util_mono_us();
        rc = sqlite3_wal_checkpoint_v2(s->ckpt->db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        atomic_fetch_add(&s->ckpt_by_thread, 1);
        if (rc == SQLITE_OK) {
            atomic_store(&s->ckpt_finish, 1);
            quick = (util_mono_us() - t0) * 2 < stall ? quick + 1 : 0;
            if (quick >= CKPT_QUICK) {
                atomic_store(&s->ckpt_background, 0);
                quick = 0;
            }
        } else if (!ckpt_busy(rc) && (rc & 0xff) != SQLITE_INTERRUPT) {
            log_error("WAL checkpoint: %s", sqlite3_errmsg(s->ckpt->db));
        }
        pthread_mutex_lock(&s->ckpt_lock);
        s->ckpt_wanted = 0;
    }
    pthread_mutex_unlock(&s->ckpt_lock);
    return NULL;
}

int ckpt_start(struct store *s, struct err *e)
{
    struct store_options *o = &s->opts;

    if (o->ckpt_soft_pages <= 0)
        o->ckpt_soft_pages = CKPT_SOFT;
    if (o->ckpt_hard_pages <= 0)
        o->ckpt_hard_pages =
            o->ckpt_soft_pages > CKPT_HARD / 5 ? o->ckpt_soft_pages * 5 : CKPT_HARD;
    if (o->ckpt_stall_us == 0)
        o->ckpt_stall_us = CKPT_STALL;
    pthread_mutex_init(&s->ckpt_lock, NULL);
    pthread_cond_init(&s->ckpt_cond, NULL);
    s->ckpt_init = 1;
    atomic_init(&s->ckpt_finish, 0);
    atomic_init(&s->ckpt_background, s->opts.ckpt_stall_us < 0);
    atomic_init(&s->ckpt_by_writer, 0);
    atomic_init(&s->ckpt_by_thread, 0);
    if (conn_open(s->path, 0, &s->ckpt, e) < 0)
        return -1;
    if (pthread_create(&s->ckpt_thread, NULL, ckpt_main, s) != 0)
        return err_set(e, ERR_INTERNAL, "cannot start the checkpointer thread");
    s->ckpt_running = 1;
    sqlite3_wal_hook(s->writer->db, ckpt_wal_hook, s); /* replaces wal_autocheckpoint */
    return 0;
}

void ckpt_stop(struct store *s)
{
    if (s->ckpt_running) {
        pthread_mutex_lock(&s->ckpt_lock);
        s->ckpt_stopping = 1;
        pthread_cond_signal(&s->ckpt_cond);
        pthread_mutex_unlock(&s->ckpt_lock);
        sqlite3_interrupt(s->ckpt->db); /* a pass in progress stops early */
        pthread_join(s->ckpt_thread, NULL);
        s->ckpt_running = 0;
    }
    if (s->writer)
        sqlite3_wal_hook(s->writer->db, NULL, NULL);
    conn_close(s->ckpt);
    s->ckpt = NULL;
    if (s->ckpt_init) {
        pthread_mutex_destroy(&s->ckpt_lock);
        pthread_cond_destroy(&s->ckpt_cond);
        s->ckpt_init = 0;
    }
}

void store_ckpt_counts(struct store *s, struct store_ckpt_counts *out)
{
    out->by_writer = atomic_load(&s->ckpt_by_writer);
    out->by_thread = atomic_load(&s->ckpt_by_thread);
    out->background = atomic_load(&s->ckpt_background);
}
