/*
 * server/router.c: path templates and the JSON nesting guard; server/err.c: the error table
 * and problem documents.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "err.h"
#include "router.h"

static const struct {
    const char *tmpl, *path;
    int match;
} match_cases[] = {
    {"/v1/journeys", "/v1/journeys", 1},
    {"/v1/journeys", "/v1/journeys/", 0},
    {"/v1/journeys", "/v1/journey", 0},
    {"/v1/journeys/{key}", "/v1/journeys/purchase", 1},
    {"/v1/journeys/{key}", "/v1/journeys/", 0},
    {"/v1/journeys/{key}", "/v1/journeys/a/b", 0},
    {"/v1/journeys/{key}/overview", "/v1/journeys/rean/overview", 1},
    {"/v1/journeys/{key}/overview", "/v1/journeys/rean/drivers", 0},
    {"/healthz", "/healthz", 1},
    {"/healthz", "/healthzz", 0},
};

START_TEST(test_match)
{
    ck_assert_int_eq(router_match(match_cases[_i].tmpl, match_cases[_i].path, NULL),
                     match_cases[_i].match);
}
END_TEST

static const struct {
    const char *json;
    int max;
    int ok;
} depth_cases[] = {
    {"{}", 1, 1},
    {"[[]]", 1, 0},
    {"[[]]", 2, 1},
    {"{\"a\":\"[[[[[[\"}", 1, 1},  /* brackets inside strings do not count */
    {"{\"a\":\"\\\"[[[\"}", 1, 1}, /* nor after an escaped quote */
    {"[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]", 16, 0},
    {"[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]", 16, 1},
};

START_TEST(test_json_depth)
{
    const char *j = depth_cases[_i].json;

    ck_assert_int_eq(router_json_depth_ok(j, strlen(j), depth_cases[_i].max) == 0,
                     depth_cases[_i].ok);
}
END_TEST

START_TEST(test_err_table)
{
    ck_assert_int_eq(err_http_status(ERR_BAD_JSON), 400);
    ck_assert_int_eq(err_http_status(ERR_UNAUTHORIZED), 401);
    ck_assert_int_eq(err_http_status(ERR_FORBIDDEN), 403);
    ck_assert_int_eq(err_http_status(ERR_NOT_FOUND), 404);
    ck_assert_int_eq(err_http_status(ERR_METHOD), 405);
    ck_assert_int_eq(err_http_status(ERR_CONFLICT), 409);
    ck_assert_int_eq(err_http_status(ERR_TOO_LARGE), 413);
    ck_assert_int_eq(err_http_status(ERR_MEDIA_TYPE), 415);
    ck_assert_int_eq(err_http_status(ERR_VALIDATION), 422);
    ck_assert_int_eq(err_http_status(ERR_UNAVAILABLE), 503);
    ck_assert_str_eq(err_slug(ERR_VALIDATION), "validation-error");
}
END_TEST

START_TEST(test_err_problem)
{
    struct err e;
    json_t *doc, *errors;

    err_init(&e);
    ck_assert_int_eq(err_field(&e, "/nps", "must be an integer %d-%d", 0, 10), -1);
    err_field(&e, "/csat", "must be an integer 1-5");
    ck_assert_int_eq(e.code, ERR_VALIDATION);
    doc = err_problem(&e);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "type")), "/problems/validation-error");
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "status")), 422);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "detail")),
                     "/nps: must be an integer 0-10");
    errors = json_object_get(doc, "errors");
    ck_assert_int_eq(json_array_size(errors), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(errors, 1), "pointer")),
                     "/csat");
    json_decref(doc);
    err_release(&e);

    /* the first code and detail win; later ones do not overwrite */
    err_init(&e);
    err_set(&e, ERR_NOT_FOUND, "touchpoint %s not found", "x");
    err_set(&e, ERR_CONFLICT, "other");
    ck_assert_int_eq(e.code, ERR_NOT_FOUND);
    ck_assert_str_eq(e.detail, "touchpoint x not found");
    err_release(&e);
}
END_TEST

START_TEST(test_err_field_cap)
{
    struct err e;
    json_t *doc;

    err_init(&e);
    for (int i = 0; i < ERR_MAX_FIELDS + 5; i++)
        err_field(&e, "/items", "bad");
    doc = err_problem(&e);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "errors")), ERR_MAX_FIELDS);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "errors_total")), ERR_MAX_FIELDS + 5);
    json_decref(doc);
    err_release(&e);
}
END_TEST

/* Text quoted from a request that is not UTF-8, or is cut inside a character by a detail's
 * length, still makes a problem document (jansson refuses such strings: the server aborted). */
START_TEST(test_err_problem_from_bad_text)
{
    static const char *const names[] = {"\xff", "a\xc3", "\xed\xa0\x80x", "ok\xf4\x90\x80\x80"};
    char longname[200];
    struct err e;
    json_t *doc;
    char *text;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        err_init(&e);
        err_param(&e, names[i], "unknown query parameter");
        doc = err_problem(&e);
        ck_assert_ptr_nonnull(doc);
        ck_assert_int_eq(json_array_size(json_object_get(doc, "errors")), 1);
        json_decref(doc);
        err_release(&e);
        err_init(&e);
        err_set(&e, ERR_NOT_FOUND, "no resource at %s", names[i]);
        doc = err_problem(&e);
        text = json_dumps(doc, 0);
        ck_assert_ptr_nonnull(text);
        free(text);
        json_decref(doc);
        err_release(&e);
    }
    /* a two-byte character across the 100-byte cut of the detail's field name */
    memset(longname, 'a', 99);
    memcpy(longname + 99, "\xc3\xa9", 3);
    err_init(&e);
    err_field(&e, longname, "unknown field");
    doc = err_problem(&e);
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(doc, "errors"), 0), "pointer")),
                     longname);
    ck_assert_int_eq(json_string_value(json_object_get(doc, "detail"))[99], '?');
    json_decref(doc);
    err_release(&e);
}
END_TEST

static Suite *router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_match, 0, sizeof(match_cases) / sizeof(match_cases[0]));
    tcase_add_loop_test(tc, test_json_depth, 0, sizeof(depth_cases) / sizeof(depth_cases[0]));
    tcase_add_test(tc, test_err_table);
    tcase_add_test(tc, test_err_problem);
    tcase_add_test(tc, test_err_field_cap);
    tcase_add_test(tc, test_err_problem_from_bad_text);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(router_suite)
