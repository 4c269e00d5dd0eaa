/*
 * The group-commit writer (DESIGN section 4).
 *
 * One thread, the writer, owns the write transactions of responses. It takes every write
 * queued while the previous transaction was committing and commits them together: one
 * transaction and one fsync of the WAL (synchronous=FULL) for all of them. A write that is
 * refused (unknown touchpoint, recorded idempotency key) is refused before it changes
 * anything, so it needs no savepoint; a failure half way through a write fails the whole
 * transaction. Writers are told the outcome only after COMMIT has returned, by their done
 * callback, so HTTP threads never wait for a commit. With commit_each, every write gets a
 * transaction of its own instead (the baseline the benchmark compares with).
 *
 * Tried and measured (the bench's ingest, medians of interleaved runs; server CPU per
 * response and requests/s), and not kept:
 * - a second thread that fdatasyncs the WAL while the writer already builds the next
 *   transaction (COMMIT at synchronous=NORMAL, answers after the sync). Slower on this 2-core
 *   machine, twice: 46.5 us against 42.6 us (28.8k/s against 30.4k/s), and again after the
 *   day index, 39.6 us against 35.4 us (33.4k/s against 36.0k/s). The writer then commits
 *   smaller transactions, and every transaction pays its rollup upserts and WAL pages again.
 * - a thread that runs the done callbacks (each resumes a connection with a system call):
 *   35.3k/s against 35.2k/s, no difference.
 * - sleeping up to 200-500 us before a transaction to gather more writes: less CPU per
 *   response, fewer responses per second (28.2k and 26.3k/s against 32.2k/s).
 * The ceiling of all such schemes here: a build that skips every fsync (not durable) ran the
 * bench's ingest at 41.4k/s against 37.2k/s durable and 6.2k/s with commit_each (interleaved
 * medians), 6.7x: the rest of the way to the 8x is CPU, not the fsync (docs/NOTES.md).
 * At 35k/s a cycle of the writer is about 0.5 ms for 18 writes: 75 us of inserts, 75 us of
 * rollup upserts, 300 us of COMMIT (about 40 WAL pages and the fdatasync) and 40 us waking the
 * connections.
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDEM_PURGE_MIN 256

/* Fails with e every write of list still marked successful, and, when e is an error (not just
 * a transaction where every write was refused), every write refused for a recorded
 * Idempotency-Key: the record may be one this failed transaction wrote. */
static void writes_fail(struct store_write *list, const struct err *e)
{
    for (struct store_write *w = list; w; w = w->next) {
        if (w->rc == 0 || (e->code != ERR_NONE && w->idem && w->err.code == ERR_CONFLICT)) {
            w->rc = -1;
            err_release(&w->err);
            err_init(&w->err);
            err_set(&w->err, e->code, "%s", e->detail);
        }
    }
}

static void writes_done(struct store_write *list)
{
    struct store_write *w, *next;

    for (w = list; w; w = next) {
        next = w->next;
        w->done(w); /* may free w */
    }
}

/* Applies the writes of list (linked by next) in one transaction and commits it; sets every
 * write's rc and err. */
static void writer_commit(struct store *s, struct store_write *list)
{
    struct store_write *w;
    struct conn *c;
    struct err e;
    int ok = 0, keyed = 0;

    err_init(&e);
    c = writer_begin(s, &e);
    if (!c) {
        writes_fail(list, &e);
        err_release(&e);
        return;
    }
    rollup_acc_reset(s->rollups);
    /* Keys recorded by another process first; if they cannot be read, no write is applied and
     * the batch fails below with e. */
    for (w = idem_mem_begin(c, s->idem, &e) == 0 ? list : NULL; w; w = w->next) {
        w->rc = store_write_apply(c, s->idem, w, store_now(s), s->opts.idem_ttl_ms);
        if (w->rc == STORE_WRITE_BROKEN) {
            /* Storage trouble half way through a write: the transaction cannot stand. */
            err_set(&e, w->err.code, "%s", w->err.detail);
            w->rc = -1;
            ok = 0;
            break;
        }
        if (w->rc == 0) {
            ok = 1;
            keyed += w->idem != NULL;
            for (size_t i = 0; i < w->n; i++)
                rollup_acc_add(s->rollups, &w->responses[i]);
        }
    }
    if (e.code != ERR_NONE)
        ok = 0;
    /* The rollups of everything that stays, in the same transaction: if they cannot be
     * written, nothing is. */
    if (ok && rollup_acc_flush(c, s->rollups, &e) < 0)
        ok = 0;
    /* Expired idempotency records go a few at a time, and always more than the transaction
     * added, so that the table stops growing once records expire. */
    if (ok && idem_purge(c, s->idem, store_now(s) - s->opts.idem_ttl_ms, IDEM_PURGE_MIN + 2 * keyed,
                         &e) < 0)
        ok = 0;
    /* Recent fingerprints beyond the memory's share go to the index, faster than keys come. */
    if (ok && idem_merge(c, s->idem, IDEM_PURGE_MIN + 2 * keyed, &e) < 0)
        ok = 0;
    if (writer_end(s, ok, &e) < 0 || e.code != ERR_NONE) {
        writes_fail(list, &e); /* nothing of this batch is stored */
        ok = 0;
    }
    pthread_mutex_lock(&s->write_lock); /* the table is read under it (store_idem_get) */
    idem_mem_end(s->idem, ok);
    pthread_mutex_unlock(&s->write_lock);
    err_release(&e);
}

static void *writer_main(void *arg)
{
    struct store *s = arg;
    struct store_write *list;

    pthread_setname_np(pthread_self(), "polku-writer"); /* for top -H and perf */

    pthread_mutex_lock(&s->queue_lock);
    for (;;) {
        while (!s->queue_head && !s->stopping)
            pthread_cond_wait(&s->queue_cond, &s->queue_lock);
        if (!s->queue_head)
            break; /* stopping, and nothing left to write */
        list = s->queue_head;
        if (s->opts.commit_each) {
            s->queue_head = list->next;
            list->next = NULL;
        } else {
            s->queue_head = NULL;
        }
        if (!s->queue_head)
            s->queue_tail = NULL;
        pthread_mutex_unlock(&s->queue_lock);
        writer_commit(s, list);
        writes_done(list);
        pthread_mutex_lock(&s->queue_lock);
    }
    pthread_mutex_unlock(&s->queue_lock);
    return NULL;
}

int writer_start(struct store *s, struct err *e)
{
    if (pthread_create(&s->writer_thread, NULL, writer_main, s) != 0)
        return err_set(e, ERR_INTERNAL, "cannot start the writer thread");
    s->writer_running = 1;
    return 0;
}

void writer_stop(struct store *s)
{
    if (!s->writer_running)
        return;
    /* The writer finishes what is queued, then stops. */
    pthread_mutex_lock(&s->queue_lock);
    s->stopping = 1;
    pthread_cond_signal(&s->queue_cond);
    pthread_mutex_unlock(&s->queue_lock);
    pthread_join(s->writer_thread, NULL);
    s->writer_running = 0;
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
