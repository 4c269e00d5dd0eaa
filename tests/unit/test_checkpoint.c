/*
 * server/store_checkpoint.c: with checkpoints due every 64 WAL pages, the WAL stays small
 * whether the writer checkpoints (short checkpoints) or the checkpointer thread does (slow
 * ones, here any), which needs the writer's last catch-up for the WAL to start again; and
 * nothing written is lost on the way.
 */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "store.h"
#include "util.h"

#define WRITES 1500

static char dir[64], path[96];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/polku-ckpt-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/p.db", dir);
}

static void teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Opens a store with checkpoints due at 64 pages, makes WRITES commits of one response each
 * and returns the counts; *wal_bytes is the largest WAL file seen. */
static void run(int stall_us, struct store_ckpt_counts *counts, off_t *wal_bytes)
{
    struct store_options o = {.ckpt_soft_pages = 64, .ckpt_stall_us = stall_us};
    char wal[128];
    struct store *s;
    struct err e;

    err_init(&e);
    ck_assert_int_eq(store_open(path, &o, &s, &e), 0);
    {
        struct touchpoint t = {0};

        t.key = xstrdup("checkout");
        t.name = xstrdup("Checkout");
        t.journey = xstrdup("purchase");
        t.phase = xstrdup("purchase");
        ck_assert_int_eq(store_touchpoint_create(s, &t, &e), 0);
        touchpoint_release(&t);
    }
    snprintf(wal, sizeof(wal), "%s-wal", path);
    *wal_bytes = 0;
    for (int i = 0; i < WRITES; i++) {
        struct response r;
        struct stat sb;

        response_init(&r);
        r.touchpoint = xstrdup("checkout");
        r.nps = i % 11;
        r.customer = xstrdup(i % 2 ? "c-odd" : "c-even");
        r.submitted_at = 1790000000000LL + (int64_t)i * 60000;
        ck_assert_int_eq(store_response_insert(s, &r, NULL, &e), 0);
        response_release(&r);
        if (stat(wal, &sb) == 0 && sb.st_size > *wal_bytes)
            *wal_bytes = sb.st_size;
    }
    store_ckpt_counts(s, counts);
    store_close(s);
    err_release(&e);
}

static void check_stored(void)
{
    sqlite3 *db;
    sqlite3_stmt *st;

    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(
        sqlite3_prepare_v2(db, "SELECT count(*), sum(nps) FROM responses", -1, &st, NULL),
        SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), WRITES);
    /* 1500 = 136 rounds of 0..10 (sum 55) and 0..3 */
    ck_assert_int_eq(sqlite3_column_int(st, 1), 136 * 55 + 6);
    sqlite3_finalize(st);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Short checkpoints (here: under a minute, so that a slow disk on a shared machine does not
 * count as a stall) stay with the writer. */
START_TEST(test_writer_checkpoints_short_ones)
{
    struct store_ckpt_counts c;
    off_t wal;

    run(60000000, &c, &wal);
    ck_assert_uint_gt(c.by_writer, 0);
    ck_assert_uint_eq(c.by_thread, 0);
    ck_assert_int_eq(c.background, 0);
    /* without checkpoints the WAL would hold every commit: thousands of pages */
    ck_assert_int_lt(wal, 400 * 4120);
    check_stored();
}
END_TEST

/* Slow checkpoints (here: longer than 1 us) go to the checkpointer thread; the WAL still starts
 * again, because the writer copies what a pass left. */
START_TEST(test_slow_checkpoints_go_to_the_thread)
{
    struct store_ckpt_counts c;
    off_t wal;

    run(1, &c, &wal);
    ck_assert_uint_gt(c.by_thread, 0);
    ck_assert_uint_gt(c.by_writer, 0);
    ck_assert_int_eq(c.background, 1);
    ck_assert_int_lt(wal, 400 * 4120);
    check_stored();
}
END_TEST

static Suite *checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_writer_checkpoints_short_ones);
    tcase_add_test(tc, test_slow_checkpoints_go_to_the_thread);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(checkpoint_suite)
