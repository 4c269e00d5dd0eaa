/*
 * api/targets.c: the most specific target in scope wins (touchpoint, then phase, then journey,
 * then global), and metric blocks (api/blocks.c) carry its value and whether it is met.
 */
#include <check.h>
#include <string.h>

#include "blocks.h"
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

/* h with NPS from promoters (10), passives (7) and detractors (0), and csat_high of csat_n
 * answers at 5 (the rest at 1). */
static void hist_of(struct hist *h, int promoters, int passives, int detractors, int csat_high,
                    int csat_n)
{
    memset(h, 0, sizeof(*h));
    h->nps[10] = promoters;
    h->nps[7] = passives;
    h->nps[0] = detractors;
    h->csat[4] = csat_high;
    h->csat[0] = csat_n - csat_high;
    h->n = promoters + passives + detractors;
}

/* The "target" member blocks_add gives metric's block in scope sc, or NULL. */
static json_t *target_of(json_t *group, const char *metric)
{
    return json_object_get(json_object_get(group, metric), "target");
}

START_TEST(test_blocks_annotated)
{
    struct scope sc = {"rean", "ownership", NULL};
    json_t *group = json_object(), *t;
    struct hist h;

    /* nps 30 (4 promoters, 5 passives, 1 detractor) against the rean/ownership target 35: not
     * met; csat 79.5 (159 of 200) against 80: not met */
    hist_of(&h, 4, 5, 1, 159, 200);
    blocks_add(group, &h, &set, &sc);
    t = target_of(group, "nps");
    ck_assert_double_eq_tol(json_number_value(json_object_get(t, "value")), 35, 1e-9);
    ck_assert(json_is_false(json_object_get(t, "met")));
    ck_assert(json_is_false(json_object_get(target_of(group, "csat"), "met")));
    /* no ces target: no annotation */
    ck_assert_ptr_null(target_of(group, "ces"));
    json_decref(group);

    /* csat exactly 80 (160 of 200): met */
    group = json_object();
    hist_of(&h, 4, 5, 1, 160, 200);
    blocks_add(group, &h, &set, &sc);
    ck_assert(json_is_true(json_object_get(target_of(group, "csat"), "met")));
    json_decref(group);

    /* nps 40 (5, 4, 1) against the installation target 40: met */
    group = json_object();
    sc.journey = "purchase";
    sc.phase = "ownership";
    sc.touchpoint = "installation";
    hist_of(&h, 5, 4, 1, 0, 0);
    blocks_add(group, &h, &set, &sc);
    ck_assert(json_is_true(json_object_get(target_of(group, "nps"), "met")));
    json_decref(group);

    /* no NPS answers: met unknown */
    group = json_object();
    sc.touchpoint = NULL;
    hist_of(&h, 0, 0, 0, 0, 0);
    blocks_add(group, &h, &set, &sc);
    t = target_of(group, "nps");
    ck_assert_double_eq_tol(json_number_value(json_object_get(t, "value")), 30, 1e-9);
    ck_assert(json_is_null(json_object_get(t, "met")));
    json_decref(group);
}
END_TEST

static Suite *targets_suite(void)
{
    Suite *s = suite_create("targets");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_most_specific_wins, 0, sizeof(cases) / sizeof(cases[0]));
    tcase_add_test(tc, test_blocks_annotated);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(targets_suite)
