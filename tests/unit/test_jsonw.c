/*
 * api/jsonw.c: the hand-written JSON text is what jansson's json_dumps(JSON_COMPACT) gives for
 * the same values (strings with every kind of escape, UTF-8, integers at the int64 limits,
 * reals of every magnitude, null), and it parses back to them.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "jsonw.h"

static const char *const strings[] = {
    "",
    "plain",
    "quote \" and backslash \\",
    "tab\tnewline\ncr\rbackspace\bformfeed\f",
    "\x01\x02\x1f control",
    "slash / stays",
    "UTF-8: \xc3\xa4\xc3\xb6 \xe2\x82\xac \xf0\x9f\x98\x80",
    "del \x7f stays",
};

START_TEST(test_strings_match_jansson)
{
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        struct jw w;
        json_t *v = json_string(strings[i]);
        char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY), *got;
        json_t *back;

        jw_init(&w);
        jw_str(&w, strings[i]);
        got = jw_take(&w);
        ck_assert_str_eq(got, want);
        back = json_loads(got, JSON_DECODE_ANY, NULL);
        ck_assert_ptr_nonnull(back);
        ck_assert_str_eq(json_string_value(back), strings[i]);
        json_decref(back);
        json_decref(v);
        free(want);
        free(got);
    }
}
END_TEST

START_TEST(test_integers_and_null)
{
    static const int64_t values[] = {0, 7, -7, 1234567890123LL, INT64_MAX, INT64_MIN};
    struct jw w;
    char *got;

    jw_init(&w);
    jw_raw(&w, "[");
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        jw_int(&w, values[i]);
        jw_raw(&w, ",");
    }
    jw_str(&w, NULL);
    jw_raw(&w, "]");
    got = jw_take(&w);
    ck_assert_str_eq(got, "[0,7,-7,1234567890123,9223372036854775807,-9223372036854775808,null]");
    free(got);
}
END_TEST

/* jansson's own text for a real, from json_dumps */
static char *jansson_real(double v)
{
    json_t *j = json_real(v);
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

    json_decref(j);
    return text;
}

static void check_real(double v)
{
    struct jw w;
    char *want = jansson_real(v), *got;

    jw_init(&w);
    jw_real(&w, v);
    got = jw_take(&w);
    ck_assert_msg(strcmp(got, want) == 0, "%.17g: jw_real wrote %s, jansson %s", v, got, want);
    free(want);
    free(got);
}

/* Numbers as jansson writes reals: integral values with ".0", exponents without "+" or
 * leading zeros, 17 significant digits (rounded as glibc's printf rounds); random bit patterns
 * of every magnitude. */
START_TEST(test_reals_match_jansson)
{
    static const double values[] = {0.0,      -0.0,
                                    1.0,      -1.0,
                                    100.0,    50.5,
                                    1.0 / 3,  200.0 / 3,
                                    1e16,     1e17,
                                    1.5e300,  -2.5e-300,
                                    1e-5,     123456789.25,
                                    5e-324,   1e-7,
                                    4.9e-324, 1.7976931348623157e308,
                                    0.1,      42.857142857142854};
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    struct jw w;
    char *got;

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        check_real(values[i]);
    for (int i = 0; i < 20000; i++) {
        double v;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(&v, &x, sizeof(v));
        if (isfinite(v))
            check_real(v);
        check_real((double)(int64_t)(x % 2000001) / 1000.0 - 1000.0); /* scores, means */
    }
    /* where jw_real converts by itself (1e-3 to 1e14): every magnitude, and exact ties at the
     * 17th digit (13 integer digits and an odd number of 32nds), which glibc rounds to even */
    for (int i = 0; i < 200000; i++) {
        double mag, v;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        mag = pow(10.0, -3.5 + 18.0 * (double)(x >> 11) / 9007199254740992.0);
        v = (x & 1) ? -mag : mag;
        check_real(v);
        check_real((double)(1000000000000LL + (int64_t)(x % 9000000000000ULL)) +
                   (double)((x >> 45) % 16 * 2 + 1) / 32.0);
        check_real((double)(int64_t)(x % 100000) / 8.0);
    }
    /* jansson has no infinite or NaN reals: null */
    jw_init(&w);
    jw_real(&w, INFINITY);
    jw_real(&w, NAN);
    got = jw_take(&w);
    ck_assert_str_eq(got, "nullnull");
    free(got);
}
END_TEST

START_TEST(test_grows_past_the_first_buffer)
{
    struct jw w;
    char *got;
    size_t n = 0;

    jw_init(&w);
    for (int i = 0; i < 5000; i++)
        jw_str(&w, "abc\n");
    got = jw_take(&w);
    ck_assert_uint_eq(strlen(got), 5000 * strlen("\"abc\\n\""));
    for (const char *p = got; (p = strstr(p, "\"abc\\n\"")); p++)
        n++;
    ck_assert_uint_eq(n, 5000);
    free(got);
}
END_TEST

START_TEST(test_time_is_rfc3339)
{
    struct jw w;
    char *got;

    jw_init(&w);
    jw_time(&w, 1795644000123LL);
    got = jw_take(&w);
    ck_assert_str_eq(got, "\"2026-11-25T22:00:00.123Z\"");
    free(got);
}
END_TEST

static Suite *jsonw_suite(void)
{
    Suite *s = suite_create("jsonw");
    TCase *tc = tcase_create("core");

    /* about 640k numbers under ASan: 2 s here, over Check's 4 s default on a loaded machine */
    tcase_set_timeout(tc, 60);

    tcase_add_test(tc, test_strings_match_jansson);
    tcase_add_test(tc, test_integers_and_null);
    tcase_add_test(tc, test_reals_match_jansson);
    tcase_add_test(tc, test_grows_past_the_first_buffer);
    tcase_add_test(tc, test_time_is_rfc3339);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(jsonw_suite)
