/*
 * A thin SQLite VFS over the default one that gathers the writes to a WAL file into a few
 * large writes per commit.
 *
 * SQLite writes every WAL frame as two writes, the 24-byte frame header and then the page, at
 * offsets that are not page aligned: a commit of 40 pages was 80 pwrite calls, each locking the
 * inode and touching one or two page-cache pages. Those calls were about a fifth of the group
 * commit writer's CPU time, on the one thread every durable write waits for. Here, a write to a
 * WAL file that continues the previous one is appended to a buffer instead, and the buffer is
 * written in one call before anything that needs it on disk:
 * - xSync (a commit at synchronous=FULL syncs the WAL before it publishes the new frames in
 *   the wal-index, so readers of other connections never look for frames still in a buffer);
 * - xShmBarrier, which SQLite calls between writing the two copies of the wal-index header
 *   (and when reading it): a safety net for a commit without a sync, which Polku does not
 *   make (every connection is synchronous=FULL). It flushes the buffers of the database's
 *   WAL that the calling thread filled, never another connection's;
 * - xRead of a range the buffer holds, xTruncate, xFileSize, xFileControl and xClose;
 * - a write that does not continue the buffer (SQLite rewrites a frame), or a full buffer.
 * A failed flush is returned by the call that needed it, so SQLite sees the I/O error where
 * it would have seen it without the buffer. Files other than WAL files pass straight through.
 *
 * Threads: a buffer is only touched through its own file handle, by its connection, which
 * SQLite (and Polku's locks) give to one thread at a time; so buffers need no lock. The list of
 * buffers holding bytes, which xShmBarrier searches, has a mutex of its own.
 */
#include "store_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* A longer run of writes is written in pieces of this size. Keep it under 128 KiB: the unix
 * VFS's write masks every length with 0x1ffff (SQLite 3.40 seekAndWriteFd), so a 128 KiB
 * write writes nothing and fails as SQLITE_FULL. */
#define WALBUF_MAX (120 * 1024)

struct wb_file {
    sqlite3_file base;  /* pMethods is &wb_methods */
    sqlite3_file *real; /* the default VFS's file, allocated just after this struct */
    const char *name;   /* SQLite's name of the file (WAL: the database's name and "-wal") */
    int wal;            /* a WAL file: writes are gathered */
    unsigned char *buf; /* len bytes to be written at off */
    size_t len;
    sqlite3_int64 off;
    pthread_t owner;                              /* the thread that filled the buffer */
    struct wb_file *next_pending, **prev_pending; /* in the pending list while len > 0 */
};

static sqlite3_vfs *wb_real; /* the default VFS at registration */
static sqlite3_io_methods wb_methods;

/* WAL files with bytes in their buffer, for xShmBarrier. */
static pthread_mutex_t wb_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wb_file *wb_pending;
static _Atomic uint64_t wb_gathered, wb_written; /* WAL writes taken into buffers; flushes */
static _Atomic int wb_fail_syncs;                /* tests: WAL syncs still to fail */
static _Atomic int wb_fail_writes;               /* tests: WAL writes still to fail (disk full) */

static struct wb_file *wb(sqlite3_file *f)
{
    return (struct wb_file *)(void *)f;
}

/* Takes one of the failures a test asked for in *counter, if any is left. */
static int wb_take_failure(const struct wb_file *f, _Atomic int *counter)
{
    int fail = atomic_load(counter);

    while (f->wal && fail > 0)
        if (atomic_compare_exchange_weak(counter, &fail, fail - 1))
            return 1;
    return 0;
}

/* Writes to the file itself; a test's full disk fails the write before anything is written. */
static int wb_write_real(struct wb_file *f, const void *data, int amt, sqlite3_int64 off)
{
    if (wb_take_failure(f, &wb_fail_writes))
        return SQLITE_FULL;
    return f->real->pMethods->xWrite(f->real, data, amt, off);
}

/* Writes the buffer of f, if it holds anything. On failure the bytes are dropped, not kept for
 * a later flush: SQLite rolls the transaction back and writes its frames again at the same
 * offsets, which stale bytes written later would overwrite. */
static int wb_flush(struct wb_file *f)
{
    int rc;

    if (f->len == 0)
        return SQLITE_OK;
    rc = wb_write_real(f, f->buf, (int)f->len, f->off);
    if (rc == SQLITE_OK)
        atomic_fetch_add(&wb_written, 1);
    f->len = 0;
    pthread_mutex_lock(&wb_lock);
    *f->prev_pending = f->next_pending;
    if (f->next_pending)
        f->next_pending->prev_pending = f->prev_pending;
    f->next_pending = NULL;
    f->prev_pending = NULL;
    pthread_mutex_unlock(&wb_lock);
    return rc;
}

static int wb_close(sqlite3_file *pf)
{
    struct wb_file *f = wb(pf);
    int rc = wb_flush(f), rc2 = f->real->pMethods->xClose(f->real);

    free(f->buf);
    f->buf = NULL;
    return rc != SQLITE_OK ? rc : rc2;
}

static int wb_read(sqlite3_file *pf, void *out, int amt, sqlite3_int64 off)
{
    struct wb_file *f = wb(pf);

    if (f->len > 0 && off < f->off + (sqlite3_int64)f->len && off + amt > f->off) {
        int rc = wb_flush(f);

        if (rc != SQLITE_OK)
            return rc;
    }
    return f->real->pMethods->xRead(f->real, out, amt, off);
}

static int wb_write(sqlite3_file *pf, const void *data, int amt, sqlite3_int64 off)
{
    struct wb_file *f = wb(pf);
    int rc;

    if (f->wal && !f->buf)
        f->buf = malloc(WALBUF_MAX); /* without it, writes go straight through */
    if (!f->wal || !f->buf || amt <= 0 || amt > WALBUF_MAX) {
        rc = wb_flush(f);
        return rc != SQLITE_OK ? rc : wb_write_real(f, data, amt, off);
    }
    if (f->len > 0 &&
        (off != f->off + (sqlite3_int64)f->len || f->len + (size_t)amt > WALBUF_MAX)) {
        rc = wb_flush(f);
        if (rc != SQLITE_OK)
            return rc;
    }
    if (f->len == 0) {
        f->off = off;
        f->owner = pthread_self();
        pthread_mutex_lock(&wb_lock);
        f->next_pending = wb_pending;
        if (wb_pending)
            wb_pending->prev_pending = &f->next_pending;
        f->prev_pending = &wb_pending;
        wb_pending = f;
        pthread_mutex_unlock(&wb_lock);
    }
    memcpy(f->buf + f->len, data, (size_t)amt);
    f->len += (size_t)amt;
    atomic_fetch_add(&wb_gathered, 1);
    return SQLITE_OK;
}

static int wb_truncate(sqlite3_file *pf, sqlite3_int64 size)
{
    struct wb_file *f = wb(pf);
    int rc = wb_flush(f);

    return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int wb_sync(sqlite3_file *pf, int flags)
{
    struct wb_file *f = wb(pf);
    int rc = wb_flush(f);

    if (rc != SQLITE_OK)
        return rc;
    /* a test's failed fsync, as the disk would report it (after the writes were made) */
    if (wb_take_failure(f, &wb_fail_syncs))
        return SQLITE_IOERR_FSYNC;
    return f->real->pMethods->xSync(f->real, flags);
}

static int wb_file_size(sqlite3_file *pf, sqlite3_int64 *size)
{
    struct wb_file *f = wb(pf);
    int rc = wb_flush(f);

    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int wb_lock_file(sqlite3_file *pf, int level)
{
    return wb(pf)->real->pMethods->xLock(wb(pf)->real, level);
}

static int wb_unlock_file(sqlite3_file *pf, int level)
{
    return wb(pf)->real->pMethods->xUnlock(wb(pf)->real, level);
}

static int wb_check_reserved(sqlite3_file *pf, int *out)
{
    return wb(pf)->real->pMethods->xCheckReservedLock(wb(pf)->real, out);
}

static int wb_file_control(sqlite3_file *pf, int op, void *arg)
{
    struct wb_file *f = wb(pf);
    int rc = wb_flush(f);

    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int wb_sector_size(sqlite3_file *pf)
{
    return wb(pf)->real->pMethods->xSectorSize(wb(pf)->real);
}

static int wb_device_characteristics(sqlite3_file *pf)
{
    return wb(pf)->real->pMethods->xDeviceCharacteristics(wb(pf)->real);
}

static int wb_shm_map(sqlite3_file *pf, int region, int size, int extend, void volatile **out)
{
    return wb(pf)->real->pMethods->xShmMap(wb(pf)->real, region, size, extend, out);
}

static int wb_shm_lock(sqlite3_file *pf, int offset, int n, int flags)
{
    return wb(pf)->real->pMethods->xShmLock(wb(pf)->real, offset, n, flags);
}

/* Whether wal is the WAL file of the database db. */
static int wb_wal_of(const struct wb_file *wal, const struct wb_file *db)
{
    size_t n = db->name ? strlen(db->name) : 0;

    return n > 0 && wal->name && strncmp(wal->name, db->name, n) == 0 &&
           strcmp(wal->name + n, "-wal") == 0;
}

static void wb_shm_barrier(sqlite3_file *pf)
{
    for (;;) {
        struct wb_file *p;

        pthread_mutex_lock(&wb_lock);
        for (p = wb_pending; p; p = p->next_pending)
            if (pthread_equal(p->owner, pthread_self()) && wb_wal_of(p, wb(pf)))
                break;
        pthread_mutex_unlock(&wb_lock);
        if (!p)
            break;
        if (wb_flush(p) != SQLITE_OK) {
            /* Cannot be reported from here, and the wal-index is about to name frames that
             * are not in the file. Only a commit without a sync (synchronous=OFF or NORMAL)
             * gets here with bytes to write; Polku's connections are all FULL. */
            log_flush(); /* the access lines gathered so far */
            fprintf(stderr, "polku: cannot write the WAL before publishing it; stopping\n");
            abort();
        }
    }
    wb(pf)->real->pMethods->xShmBarrier(wb(pf)->real);
}

static int wb_shm_unmap(sqlite3_file *pf, int del)
{
    return wb(pf)->real->pMethods->xShmUnmap(wb(pf)->real, del);
}

static int wb_fetch(sqlite3_file *pf, sqlite3_int64 off, int amt, void **out)
{
    struct wb_file *f = wb(pf);
    int rc = wb_flush(f);

    return rc != SQLITE_OK ? rc : f->real->pMethods->xFetch(f->real, off, amt, out);
}

static int wb_unfetch(sqlite3_file *pf, sqlite3_int64 off, void *p)
{
    return wb(pf)->real->pMethods->xUnfetch(wb(pf)->real, off, p);
}

static int wb_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *pf, int flags, int *out_flags)
{
    struct wb_file *f = wb(pf);
    int rc;

    (void)vfs;
    memset(f, 0, sizeof(*f));
    f->real = (sqlite3_file *)(void *)(f + 1);
    f->name = name;
    f->wal = (flags & SQLITE_OPEN_WAL) != 0; /* its buffer is allocated at its first write */
    rc = wb_real->xOpen(wb_real, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK)
        return rc;
    if (!f->real->pMethods)
        return SQLITE_CANTOPEN;
    if (f->real->pMethods->iVersion < 3) { /* the wrapper forwards the shm and mmap methods */
        f->real->pMethods->xClose(f->real);
        return SQLITE_CANTOPEN;
    }
    pf->pMethods = &wb_methods;
    return SQLITE_OK;
}

/* The rest of the VFS is the default one's. */
static int wb_delete(sqlite3_vfs *v, const char *name, int sync)
{
    (void)v;
    return wb_real->xDelete(wb_real, name, sync);
}

static int wb_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return wb_real->xAccess(wb_real, name, flags, out);
}

static int wb_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return wb_real->xFullPathname(wb_real, name, n, out);
}

static void *wb_dlopen(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return wb_real->xDlOpen(wb_real, name);
}

static void wb_dlerror(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    wb_real->xDlError(wb_real, n, out);
}

static void (*wb_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    (void)v;
    return wb_real->xDlSym(wb_real, h, sym);
}

static void wb_dlclose(sqlite3_vfs *v, void *h)
{
    (void)v;
    wb_real->xDlClose(wb_real, h);
}

static int wb_randomness(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return wb_real->xRandomness(wb_real, n, out);
}

static int wb_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return wb_real->xSleep(wb_real, us);
}

static int wb_current_time(sqlite3_vfs *v, double *out)
{
    (void)v;
    return wb_real->xCurrentTime(wb_real, out);
}

static int wb_last_error(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return wb_real->xGetLastError(wb_real, n, out);
}

static int wb_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
    (void)v;
    return wb_real->xCurrentTimeInt64(wb_real, out);
}

static sqlite3_vfs wb_vfs;

void store_vfs_counts(uint64_t *gathered, uint64_t *written)
{
    *gathered = atomic_load(&wb_gathered);
    *written = atomic_load(&wb_written);
}

void store_vfs_fail_syncs(int n)
{
    atomic_store(&wb_fail_syncs, n);
}

void store_vfs_fail_writes(int n)
{
    atomic_store(&wb_fail_writes, n);
}

int store_vfs_register(void)
{
    wb_real = sqlite3_vfs_find(NULL);
    if (!wb_real || wb_real->iVersion < 2 || !wb_real->xCurrentTimeInt64)
        return -1;
    wb_methods = (sqlite3_io_methods){
        .iVersion = 3,
        .xClose = wb_close,
        .xRead = wb_read,
        .xWrite = wb_write,
        .xTruncate = wb_truncate,
        .xSync = wb_sync,
        .xFileSize = wb_file_size,
        .xLock = wb_lock_file,
        .xUnlock = wb_unlock_file,
        .xCheckReservedLock = wb_check_reserved,
        .xFileControl = wb_file_control,
        .xSectorSize = wb_sector_size,
        .xDeviceCharacteristics = wb_device_characteristics,
        .xShmMap = wb_shm_map,
        .xShmLock = wb_shm_lock,
        .xShmBarrier = wb_shm_barrier,
        .xShmUnmap = wb_shm_unmap,
        .xFetch = wb_fetch,
        .xUnfetch = wb_unfetch,
    };
    wb_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(struct wb_file) + wb_real->szOsFile,
        .mxPathname = wb_real->mxPathname,
        .zName = STORE_VFS,
        .xOpen = wb_open,
        .xDelete = wb_delete,
        .xAccess = wb_access,
        .xFullPathname = wb_full_pathname,
        .xDlOpen = wb_dlopen,
        .xDlError = wb_dlerror,
        .xDlSym = wb_dlsym,
        .xDlClose = wb_dlclose,
        .xRandomness = wb_randomness,
        .xSleep = wb_sleep,
        .xCurrentTime = wb_current_time,
        .xGetLastError = wb_last_error,
        .xCurrentTimeInt64 = wb_current_time64,
    };
    return sqlite3_vfs_register(&wb_vfs, 0) == SQLITE_OK ? 0 : -1;
}
