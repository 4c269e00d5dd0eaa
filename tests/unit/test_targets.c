/*
 * api/targets.c: the most specific target in scope wins (touchpoint, then phase, then journey,
 * then global), and metric blocks are annotated with value and met.
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "targets.h"

static struct target set_items[] = {
    {1, (char[]){"nps"}, 10, NULL, NULL, NULL, 0},                                  /* global */
    {2, (char[]){"nps"}, 20, (char[]){"purchase"}, NULL, NULL, 0},                  /* journey */
    {3, (char[]){"nps"}, 30, (char[]){"purchase"}, (char[]){"ownership"}, NULL, 0}, /* phase */
    {4, (char[]){"nps"}, 40, NULL, NULL, (char[]){"installation"}, 0},              /* touchpoint */
    {5, (char[]){"csat"}, 80, (char[]){"rean"}, NULL, NULL, 0},
    {6, (char[]){"nps"}, 35, (char[]){"rean"}, (char[]){"ownership"}, NULL, 0}, /* same key */
};
static const struct target_set set = {set_items, sizeof(set_items) / sizeof(set_items[0])};

static const struct {
    const char *metric, *journey, *phase, *touchpoint;
    int64_t want; /* target id, 0 for none */
} cases[] = {
    {"nps", NULL, NULL, NULL, 1},                         /* nothing fixed: global */
    {"nps", "purchase", NULL, NULL, 2},                   /* the journey's */
    {"nps", "rean", NULL, NULL, 1},                       /* no rean nps journey target */
    {"nps", "purchase", "ownership", NULL, 3},            /* the phase's */
    {"nps", "purchase", "purchase", NULL, 2},             /* other phase: journey's */
    {"nps", "rean", "ownership", NULL, 6},                /* the phase of that journey */
    {"nps", "purchase", "ownership", "installation", 4},  /* touchpoint beats all */
    {"nps", "purchase", "ownership", "delivery", 3},      /* a touchpoint without one */
    {"csat", "purchase", "ownership", "installation", 0}, /* no csat target applies */
    {"csat", "rean", NULL, NULL, 5},
    {"ces", NULL, NULL, NULL, 0},
};

START_TEST(test_most_specific_wins)
{
    struct scope sc = {cases[_i].journey, cases[_i].phase, cases[_i].touchpoint};
    const struct target *t = targets_find(&set, cases[_i].metric, &sc);

    if (cases[_i].want == 0)
        ck_assert_ptr_null(t);
    else
        ck_assert_msg(t && t->id == cases[_i].want, "case %d: got target %lld, want %lld", _i,
                      t ? (long long)t->id : 0LL, (long long)cases[_i].want);
}
END_TEST

START_TEST(test_annotate)
{
    json_t *group = json_pack("{s:{s:f}, s:{s:f}, s:{s:n}}", "nps", "score", 30.0, "csat", "score",
                              79.5, "ces", "mean");
    struct scope sc = {"rean", "ownership", NULL};
    json_t *t;

    targets_annotate(group, &set, &sc);
    /* nps 30 against the rean/ownership target 35: not met */
    t = json_object_get(json_object_get(group, "nps"), "target");
    ck_assert_double_eq_tol(json_number_value(json_object_get(t, "value")), 35, 1e-9);
    ck_assert(json_is_false(json_object_get(t, "met")));
    /* csat 79.5 against 80: not met; at exactly 80 it would be */
    t = json_object_get(json_object_get(group, "csat"), "target");
    ck_assert(json_is_false(json_object_get(t, "met")));
    /* no ces target: no annotation */
    ck_assert_ptr_null(json_object_get(json_object_get(group, "ces"), "target"));
    json_decref(group);

    group = json_pack("{s:{s:f}, s:{s:n}}", "nps", "score", 40.0, "csat", "score");
    sc.journey = "purchase";
    sc.phase = "ownership";
    sc.touchpoint = "installation";
    targets_annotate(group, &set, &sc);
    t = json_object_get(json_object_get(group, "nps"), "target");
    ck_assert(json_is_true(json_object_get(t, "met"))); /* 40 >= 40 */
    json_decref(group);

    group = json_pack("{s:{s:n}}", "nps", "score");
    sc.touchpoint = NULL;
    targets_annotate(group, &set, &sc);
    t = json_object_get(json_object_get(group, "nps"), "target");
    ck_assert(json_is_null(json_object_get(t, "met"))); /* no score: unknown */
    json_decref(group);
}
END_TEST

static Suite *targets_suite(void)
{
    Suite *s = suite_create("targets");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_most_specific_wins, 0, sizeof(cases) / sizeof(cases[0]));
    tcase_add_test(tc, test_annotate);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(targets_suite)
