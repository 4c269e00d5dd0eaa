/*
 * server/store_vfs.c: SQLite's WAL writes are gathered into few writes, and nothing a commit
 * wrote is missing for a connection that reads the file through the default VFS, also for a
 * transaction far larger than the buffer, one that spills pages and writes them again, and
 * after a checkpoint.
 */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check_main.h"
#include "store_int.h"

static char dir[64];
static char path[96];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/polku-vfs-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/t.db", dir);
    ck_assert_int_eq(store_vfs_register(), 0);
}

static void teardown(void)
{
    char p[128];

    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
    unlink(path);
    rmdir(dir);
}

static sqlite3 *open_db(const char *vfs)
{
    sqlite3 *db = NULL;

    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs),
                     SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL", NULL, NULL, NULL),
        SQLITE_OK);
    return db;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
}

static sqlite3_int64 one_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    sqlite3_int64 v;

    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void check_ok(sqlite3 *db)
{
    sqlite3_stmt *st;

    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
}

/* A commit of 500 rows of 1,000 bytes (about 130 WAL frames, 530 KiB: several buffers) */
START_TEST(test_commit_is_in_the_file)
{
    sqlite3 *w = open_db(STORE_VFS), *r;
    uint64_t g0, w0, g1, w1;

    exec_ok(w, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    store_vfs_counts(&g0, &w0);
    exec_ok(w, "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < "
               "500) INSERT INTO t SELECT i, printf('%0999d', i) FROM n; COMMIT");
    store_vfs_counts(&g1, &w1);
    /* two writes per frame (header and page) went into the buffers; far fewer reached the
     * file: 530 KiB in pieces of at most 120 KiB */
    ck_assert_uint_ge(g1 - g0, 250);
    ck_assert_uint_ge(w1 - w0, 4);
    ck_assert_uint_le(w1 - w0, 8);

    /* the default VFS, as another process would read it; the writer stays open, so the rows
     * are read from the WAL */
    r = open_db(NULL);
    ck_assert_int_eq(one_int(r, "SELECT count(*) FROM t WHERE v = printf('%0999d', id)"), 500);
    check_ok(r);
    sqlite3_close(r);
    sqlite3_close(w);
}
END_TEST

/* A cache of 8 pages makes SQLite spill pages into the WAL during the transaction and then
 * write the same pages again (a rewrite of frames already written: writes that do not continue
 * the buffer), and read spilled pages back from the WAL. */
START_TEST(test_spills_and_rewrites)
{
    sqlite3 *w = open_db(STORE_VFS), *r;

    exec_ok(w, "PRAGMA cache_size = 8; CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER, v TEXT)");
    exec_ok(w, "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < "
               "3000) INSERT INTO t SELECT i, 0, printf('%0300d', i) FROM n");
    for (int k = 0; k < 5; k++)
        exec_ok(w, "UPDATE t SET n = n + id");
    /* read back inside the transaction: pages come from the WAL and the buffer */
    ck_assert_int_eq(one_int(w, "SELECT sum(n) FROM t"), 5LL * 3000 * 3001 / 2);
    exec_ok(w, "COMMIT");

    r = open_db(NULL);
    ck_assert_int_eq(one_int(r, "SELECT sum(n) FROM t"), 5LL * 3000 * 3001 / 2);
    ck_assert_int_eq(one_int(r, "SELECT count(*) FROM t WHERE v = printf('%0300d', id)"), 3000);
    check_ok(r);
    sqlite3_close(r);

    /* a checkpoint copies the frames into the database; a new WAL starts at its header */
    exec_ok(w, "PRAGMA wal_checkpoint(TRUNCATE); UPDATE t SET n = 0 WHERE id <= 10");
    r = open_db(NULL);
    ck_assert_int_eq(one_int(r, "SELECT sum(n) FROM t"), 5LL * 3000 * 3001 / 2 - 5LL * 55);
    check_ok(r);
    sqlite3_close(r);
    sqlite3_close(w);
}
END_TEST

/* At synchronous=OFF a commit does not sync the WAL: the frames reach the file when SQLite
 * publishes them in the wal-index (xShmBarrier), before any reader can look for them. */
START_TEST(test_commit_without_sync)
{
    sqlite3 *w = open_db(STORE_VFS), *r;

    exec_ok(w, "PRAGMA synchronous=OFF; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    r = open_db(NULL);
    for (int k = 1; k <= 3; k++) {
        exec_ok(w, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) "
                   "INSERT INTO t(v) SELECT printf('%0200d', i) FROM n");
        ck_assert_int_eq(one_int(r, "SELECT count(*) FROM t WHERE length(v) = 200"), 50 * k);
    }
    check_ok(r);
    sqlite3_close(r);
    sqlite3_close(w);
}
END_TEST

/* ---- a recording VFS under the shim: is everything written to a WAL before its sync? ----
 * It is the default VFS with xWrite and xSync counted: its files are the default VFS's own
 * (same size), only their method table is a copy with those calls wrapped. The default VFS
 * has several tables (by locking style), so there is a copy per table. */

#define REC_TABLES 8
static sqlite3_vfs *rec_base, rec_vfs;
static const sqlite3_io_methods *rec_real[REC_TABLES];
static sqlite3_io_methods rec_copy[REC_TABLES];
static sqlite3_file *rec_wal[16];
static long rec_unsynced, rec_syncs; /* bytes written to a WAL since its last sync; syncs */

static const sqlite3_io_methods *rec_orig(sqlite3_file *f)
{
    for (int i = 0; i < REC_TABLES; i++)
        if (f->pMethods == &rec_copy[i])
            return rec_real[i];
    ck_abort_msg("a file without a recorded method table");
    return NULL;
}

static int rec_is_wal(sqlite3_file *f)
{
    for (int i = 0; i < 16; i++)
        if (rec_wal[i] == f)
            return 1;
    return 0;
}

static int rec_write(sqlite3_file *f, const void *p, int amt, sqlite3_int64 off)
{
    if (rec_is_wal(f))
        rec_unsynced += amt;
    return rec_orig(f)->xWrite(f, p, amt, off);
}

static int rec_sync(sqlite3_file *f, int flags)
{
    if (rec_is_wal(f)) {
        rec_unsynced = 0;
        rec_syncs++;
    }
    return rec_orig(f)->xSync(f, flags);
}

static int rec_close(sqlite3_file *f)
{
    for (int i = 0; i < 16; i++)
        if (rec_wal[i] == f)
            rec_wal[i] = NULL;
    return rec_orig(f)->xClose(f);
}

static int rec_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out)
{
    int rc = rec_base->xOpen(rec_base, name, f, flags, out), t;

    (void)v;
    if (rc != SQLITE_OK || !f->pMethods)
        return rc;
    for (t = 0; t < REC_TABLES && rec_real[t] && rec_real[t] != f->pMethods; t++)
        ;
    ck_assert_int_lt(t, REC_TABLES);
    if (!rec_real[t]) {
        rec_real[t] = f->pMethods;
        rec_copy[t] = *f->pMethods;
        rec_copy[t].xWrite = rec_write;
        rec_copy[t].xSync = rec_sync;
        rec_copy[t].xClose = rec_close;
    }
    f->pMethods = &rec_copy[t];
    for (int i = 0; i < 16 && (flags & SQLITE_OPEN_WAL); i++)
        if (!rec_wal[i]) {
            rec_wal[i] = f;
            break;
        }
    return SQLITE_OK;
}

/* synchronous=FULL: when COMMIT returns, no byte reached the WAL file after its last sync (so
 * the gathered frames were written before the sync that makes the commit durable, not after). */
START_TEST(test_frames_are_written_before_the_sync)
{
    sqlite3 *w, *r;

    rec_base = sqlite3_vfs_find(NULL);
    rec_vfs = *rec_base;
    rec_vfs.zName = "polku-test-rec";
    rec_vfs.xOpen = rec_open;
    ck_assert_int_eq(sqlite3_vfs_register(&rec_vfs, 1), SQLITE_OK);
    ck_assert_int_eq(store_vfs_register(), 0); /* the shim now wraps the recording VFS */

    w = open_db(STORE_VFS);
    exec_ok(w, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    for (int k = 0; k < 20; k++) {
        long syncs = rec_syncs;

        exec_ok(w, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40) "
                   "INSERT INTO t(v) SELECT printf('%0500d', i) FROM n");
        ck_assert_int_gt(rec_syncs, syncs);
        ck_assert_int_eq(rec_unsynced, 0);
    }
    r = open_db(NULL);
    ck_assert_int_eq(one_int(r, "SELECT count(*) FROM t"), 800);
    sqlite3_close(r);
    sqlite3_close(w);
    ck_assert_int_eq(sqlite3_vfs_unregister(&rec_vfs), SQLITE_OK);
}
END_TEST

static Suite *vfs_suite(void)
{
    Suite *s = suite_create("vfs");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_commit_is_in_the_file);
    tcase_add_test(tc, test_spills_and_rewrites);
    tcase_add_test(tc, test_commit_without_sync);
    tcase_add_test(tc, test_frames_are_written_before_the_sync);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(vfs_suite)
