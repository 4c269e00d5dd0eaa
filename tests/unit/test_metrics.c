/*
 * server/metrics.c: table-driven checks against values computed by hand (DESIGN section 3).
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "metrics.h"

#define TOL 1e-9

static void hist_nps(struct hist *h, const int *scores, int n)
{
    memset(h, 0, sizeof(*h));
    for (int i = 0; i < n; i++) {
        h->nps[scores[i]]++;
        h->n++;
    }
}

static const struct {
    int scores[12];
    int n;
    int promoters, passives, detractors;
    int has_score;
    double score;
    int has_moe;
    double moe;
} nps_cases[] = {
    /* empty group: n 0, no score, no margin */
    {{0}, 0, 0, 0, 0, 0, 0.0, 0, 0.0},
    /* one response: a score but no margin (n < 2) */
    {{10}, 1, 1, 0, 0, 1, 100.0, 0, 0.0},
    /* 3 promoters (10, 9, 10), 2 passives (8, 7), 3 detractors (6, 0, 5): NPS 0;
     * p = d = 0.375: 1.96 * 100 * sqrt(0.75 / 8) = 60.01249869818786 */
    {{10, 9, 8, 7, 6, 0, 10, 5}, 8, 3, 2, 3, 1, 0.0, 1, 60.01249869818786},
    /* 3 promoters, 1 detractor: NPS 50; p = .75, d = .25: var = 1 - .25 = .75;
     * 196 * sqrt(.75 / 4) = 84.87048957087498 */
    {{9, 9, 9, 6}, 4, 3, 0, 1, 1, 50.0, 1, 84.87048957087498},
    /* all detractors: NPS -100, var = 1 - 1 = 0: margin 0 */
    {{0, 3, 6}, 3, 0, 0, 3, 1, -100.0, 1, 0.0},
    /* boundaries: 6 is a detractor, 7 and 8 passives, 9 a promoter. NPS = 100*(1-1)/4 = 0;
     * p = d = .25: var = .5; 196 * sqrt(.5 / 4) = 69.29646455628166 */
    {{6, 7, 8, 9}, 4, 1, 2, 1, 1, 0.0, 1, 69.29646455628166},
    /* 2 promoters 1 passive: NPS 66.666...; p = 2/3, d = 0: var = 2/3 - 4/9 = 2/9;
     * 196 * sqrt(2/27) = 53.344443287278104 */
    {{10, 10, 8}, 3, 2, 1, 0, 1, 200.0 / 3.0, 1, 53.344443287278104},
};

START_TEST(test_nps_table)
{
    struct hist h;
    struct nps_result r;

    hist_nps(&h, nps_cases[_i].scores, nps_cases[_i].n);
    metrics_nps(&h, &r);
    ck_assert_int_eq(r.n, nps_cases[_i].n);
    ck_assert_int_eq(r.promoters, nps_cases[_i].promoters);
    ck_assert_int_eq(r.passives, nps_cases[_i].passives);
    ck_assert_int_eq(r.detractors, nps_cases[_i].detractors);
    ck_assert_int_eq(r.score.has, nps_cases[_i].has_score);
    if (r.score.has)
        ck_assert_double_eq_tol(r.score.value, nps_cases[_i].score, TOL);
    ck_assert_int_eq(r.moe95.has, nps_cases[_i].has_moe);
    if (r.moe95.has)
        ck_assert_double_eq_tol(r.moe95.value, nps_cases[_i].moe, TOL);
    ck_assert(!isnan(r.score.value) && !isnan(r.moe95.value));
}
END_TEST

START_TEST(test_csat)
{
    struct hist h;
    struct csat_result r;

    memset(&h, 0, sizeof(h));
    metrics_csat(&h, &r);
    ck_assert_int_eq(r.n, 0);
    ck_assert(!r.score.has && !r.mean.has);
    /* 5, 4, 3, 1, 2: two of five satisfied (>= 4) = 40; mean 15 / 5 = 3 */
    h.csat[4] = 1, h.csat[3] = 1, h.csat[2] = 1, h.csat[0] = 1, h.csat[1] = 1;
    metrics_csat(&h, &r);
    ck_assert_int_eq(r.n, 5);
    ck_assert_double_eq_tol(r.score.value, 40.0, TOL);
    ck_assert_double_eq_tol(r.mean.value, 3.0, TOL);
    /* 4, 4, 4: all satisfied = 100, mean 4 */
    memset(&h, 0, sizeof(h));
    h.csat[3] = 3;
    metrics_csat(&h, &r);
    ck_assert_double_eq_tol(r.score.value, 100.0, TOL);
    ck_assert_double_eq_tol(r.mean.value, 4.0, TOL);
}
END_TEST

START_TEST(test_ces)
{
    struct hist h;
    struct ces_result r;

    memset(&h, 0, sizeof(h));
    metrics_ces(&h, &r);
    ck_assert_int_eq(r.n, 0);
    ck_assert(!r.mean.has && !r.easy.has);
    /* 7, 5, 4, 1: mean 17 / 4 = 4.25; easy (>= 5) 2 of 4 = 50 */
    h.ces[6] = 1, h.ces[4] = 1, h.ces[3] = 1, h.ces[0] = 1;
    metrics_ces(&h, &r);
    ck_assert_int_eq(r.n, 4);
    ck_assert_double_eq_tol(r.mean.value, 4.25, TOL);
    ck_assert_double_eq_tol(r.easy.value, 50.0, TOL);
}
END_TEST

START_TEST(test_expectation)
{
    struct hist h;
    struct expectation_result r;

    memset(&h, 0, sizeof(h));
    metrics_expectation(&h, &r);
    ck_assert_int_eq(r.n, 0);
    ck_assert(!r.index.has);
    /* below 2, met 3, exceeded 5: 100 * (5 - 2) / 10 = 30 */
    h.expectation[EXPECT_BELOW] = 2, h.expectation[EXPECT_MET] = 3;
    h.expectation[EXPECT_EXCEEDED] = 5;
    metrics_expectation(&h, &r);
    ck_assert_int_eq(r.n, 10);
    ck_assert_int_eq(r.below, 2);
    ck_assert_int_eq(r.met, 3);
    ck_assert_int_eq(r.exceeded, 5);
    ck_assert_double_eq_tol(r.index.value, 30.0, TOL);
    /* only below: -100 */
    memset(&h, 0, sizeof(h));
    h.expectation[EXPECT_BELOW] = 4;
    metrics_expectation(&h, &r);
    ck_assert_double_eq_tol(r.index.value, -100.0, TOL);
}
END_TEST

START_TEST(test_ratings)
{
    struct hist h;
    struct rating_result r;

    memset(&h, 0, sizeof(h));
    /* interaction 5 and 4: mean 4.5; value 1, 1, 2: mean 4 / 3 */
    h.rating[RATING_INTERACTION][4] = 1, h.rating[RATING_INTERACTION][3] = 1;
    h.rating[RATING_VALUE][0] = 2, h.rating[RATING_VALUE][1] = 1;
    metrics_rating(&h, RATING_INTERACTION, &r);
    ck_assert_int_eq(r.n, 2);
    ck_assert_double_eq_tol(r.mean.value, 4.5, TOL);
    metrics_rating(&h, RATING_VALUE, &r);
    ck_assert_int_eq(r.n, 3);
    ck_assert_double_eq_tol(r.mean.value, 4.0 / 3.0, TOL);
    metrics_rating(&h, RATING_RECOVERY, &r);
    ck_assert_int_eq(r.n, 0);
    ck_assert(!r.mean.has);
    ck_assert_str_eq(metrics_rating_name(RATING_CONTENT), "content");
    ck_assert_str_eq(metrics_expectation_name(EXPECT_EXCEEDED), "exceeded");
}
END_TEST

START_TEST(test_hist_add_sub)
{
    struct hist a, b, sum;
    struct nps_result r;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.n = 2, a.nps[10] = 1, a.nps[0] = 1, a.csat[4] = 2;
    b.n = 1, b.nps[10] = 1, b.ces[6] = 1, b.rating[RATING_CONTENT][2] = 1;
    sum = a;
    metrics_hist_add(&sum, &b);
    ck_assert_int_eq(sum.n, 3);
    ck_assert_int_eq(sum.nps[10], 2);
    ck_assert_int_eq(sum.ces[6], 1);
    ck_assert_int_eq(sum.rating[RATING_CONTENT][2], 1);
    metrics_nps(&sum, &r);
    /* 2 promoters, 1 detractor of 3: 100 / 3 */
    ck_assert_double_eq_tol(r.score.value, 100.0 / 3.0, TOL);
    metrics_hist_sub(&sum, &b);
    ck_assert_int_eq(memcmp(&sum, &a, sizeof(a)), 0);
}
END_TEST

static void nps_counts(struct nps_result *r, int64_t p, int64_t passive, int64_t d)
{
    struct hist h;

    memset(&h, 0, sizeof(h));
    h.nps[10] = p;
    h.nps[7] = passive;
    h.nps[0] = d;
    metrics_nps(&h, r);
}

START_TEST(test_nps_change)
{
    struct nps_result cur, prev;
    struct nps_change c;

    /* 20/10/10 of 40 (NPS 25) against 10/10/20 (NPS -25): d = 50. Both se:
     * p .5, d .25: var = .75 - .0625 = .6875; 100 * sqrt(.6875 / 40) = 13.110110602126...;
     * z = 50 / (sqrt(2) * 13.1101...) = 2.6968 > 1.96: significant */
    nps_counts(&cur, 20, 10, 10);
    nps_counts(&prev, 10, 10, 20);
    metrics_nps_change(&cur, &prev, &c);
    ck_assert(c.delta.has);
    ck_assert_double_eq_tol(c.delta.value, 50.0, TOL);
    ck_assert_int_eq(c.significant, 1);
    /* the same shares with 29 responses in one period: too few to call */
    nps_counts(&prev, 7, 8, 14);
    metrics_nps_change(&cur, &prev, &c);
    ck_assert_int_eq(c.significant, 0);
    /* 14/16/10 (NPS 10) against 12/18/10 (NPS 5): d = 5, z about 0.4: not significant */
    nps_counts(&cur, 14, 16, 10);
    nps_counts(&prev, 12, 18, 10);
    metrics_nps_change(&cur, &prev, &c);
    ck_assert_double_eq_tol(c.delta.value, 5.0, TOL);
    ck_assert_int_eq(c.significant, 0);
    /* no NPS in the previous period: no change at all */
    nps_counts(&prev, 0, 0, 0);
    metrics_nps_change(&cur, &prev, &c);
    ck_assert(!c.delta.has);
    ck_assert_int_eq(c.significant, 0);
    /* everyone a promoter before, everyone a detractor now: no spread, certain change */
    nps_counts(&cur, 0, 0, 30);
    nps_counts(&prev, 30, 0, 0);
    metrics_nps_change(&cur, &prev, &c);
    ck_assert_double_eq_tol(c.delta.value, -200.0, TOL);
    ck_assert_int_eq(c.significant, 1);
}
END_TEST

START_TEST(test_pearson)
{
    double x[] = {1, 2, 3, 4, 5}, up[] = {2, 4, 6, 8, 10}, down[] = {5, 4, 3, 2, 1};
    double a[] = {1, 2, 3, 4}, b[] = {1, 3, 2, 4}, flat[] = {3, 3, 3, 3};
    struct opt r;

    r = metrics_pearson(x, up, 5, 2);
    ck_assert(r.has);
    ck_assert_double_eq_tol(r.value, 1.0, TOL);
    r = metrics_pearson(x, down, 5, 2);
    ck_assert_double_eq_tol(r.value, -1.0, TOL);
    /* dx = dy' = (-1.5, -.5, .5, 1.5), dy = (-1.5, .5, -.5, 1.5): sxy = 4, sxx = syy = 5 */
    r = metrics_pearson(a, b, 4, 2);
    ck_assert_double_eq_tol(r.value, 0.8, TOL);
    ck_assert(!metrics_pearson(a, flat, 4, 2).has); /* no variance */
    ck_assert(!metrics_pearson(x, up, 5, 10).has);  /* n < min_n */
}
END_TEST

START_TEST(test_median_quadrant)
{
    double odd[] = {3, 1, 2}, even[] = {4, 1, 3, 2}, one[] = {7};

    ck_assert_double_eq_tol(metrics_median(odd, 3), 2.0, TOL);
    ck_assert_double_eq_tol(metrics_median(even, 4), 2.5, TOL);
    ck_assert_double_eq_tol(metrics_median(one, 1), 7.0, TOL);
    ck_assert_int_eq(metrics_quadrant(0.5, 80, 0.4, 70), QUADRANT_MAINTAIN);
    ck_assert_int_eq(metrics_quadrant(0.5, 60, 0.4, 70), QUADRANT_FIX);
    ck_assert_int_eq(metrics_quadrant(0.3, 60, 0.4, 70), QUADRANT_MONITOR);
    ck_assert_int_eq(metrics_quadrant(0.3, 80, 0.4, 70), QUADRANT_KEEP);
    /* at the medians counts as at or above */
    ck_assert_int_eq(metrics_quadrant(0.4, 70, 0.4, 70), QUADRANT_MAINTAIN);
    ck_assert_str_eq(metrics_quadrant_name(QUADRANT_FIX), "fix");
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_nps_table, 0, sizeof(nps_cases) / sizeof(nps_cases[0]));
    tcase_add_test(tc, test_csat);
    tcase_add_test(tc, test_ces);
    tcase_add_test(tc, test_expectation);
    tcase_add_test(tc, test_ratings);
    tcase_add_test(tc, test_hist_add_sub);
    tcase_add_test(tc, test_nps_change);
    tcase_add_test(tc, test_pearson);
    tcase_add_test(tc, test_median_quadrant);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(metrics_suite)
