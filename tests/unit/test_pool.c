/*
 * server/pool.c: every queued job runs exactly once, in order of arrival on one thread, and
 * pool_free() runs what is still queued before it returns.
 */
#include <check.h>
#include <stdatomic.h>
#include <time.h>

#include "check_main.h"
#include "pool.h"

static _Atomic int ran;
static int order[1000], norder;

static void count_job(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ran, 1);
}

static void order_job(void *arg)
{
    struct timespec ts = {0, 1000};

    nanosleep(&ts, NULL);
    order[norder++] = (int)(long)arg;
}

START_TEST(test_all_jobs_run_once)
{
    struct pool *p;

    atomic_store(&ran, 0);
    ck_assert_int_eq(pool_new(3, &p), 0);
    for (int i = 0; i < 1000; i++)
        pool_submit(p, count_job, NULL);
    pool_free(p); /* drains */
    ck_assert_int_eq(atomic_load(&ran), 1000);
}
END_TEST

START_TEST(test_fifo_on_one_thread)
{
    struct pool *p;

    norder = 0;
    ck_assert_int_eq(pool_new(1, &p), 0);
    for (long i = 0; i < 200; i++)
        pool_submit(p, order_job, (void *)i);
    pool_free(p);
    ck_assert_int_eq(norder, 200);
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq(order[i], i);
    pool_free(NULL);
}
END_TEST

static Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_all_jobs_run_once);
    tcase_add_test(tc, test_fifo_on_one_thread);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(pool_suite)
