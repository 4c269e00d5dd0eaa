/*
 * api/validate.c: keys, strict field readers (each error names its JSON pointer), cursors.
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "validate.h"

static const struct {
    const char *key;
    int ok;
} key_cases[] = {
    {"installation", 1},
    {"web-shop_2", 1},
    {"9lives", 1},
    {"", 0},
    {"-lead", 0},
    {"_lead", 0},
    {"Upper", 0},
    {"a b", 0},
    {"a/b", 0},
    {"ä", 0},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1},  /* 64 */
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0}, /* 65 */
};

START_TEST(test_valid_key)
{
    ck_assert_int_eq(valid_key(key_cases[_i].key), key_cases[_i].ok);
}
END_TEST

static json_t *parse(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);

    ck_assert_ptr_nonnull(j);
    return j;
}

static const char *first_pointer(const struct err *e)
{
    return json_string_value(json_object_get(json_array_get(e->fields, 0), "pointer"));
}

START_TEST(test_object_unknown_field)
{
    static const char *const allowed[] = {"a", "b", NULL};
    json_t *j = parse("{\"a\":1,\"zz\":2}");
    struct err e;

    err_init(&e);
    ck_assert_int_eq(v_object(j, "/items/3", allowed, &e), -1);
    ck_assert_int_eq(e.code, ERR_VALIDATION);
    ck_assert_str_eq(first_pointer(&e), "/items/3/zz");
    err_release(&e);
    json_decref(j);

    /* RFC 6901: a member name's "~" and "/" are escaped in its pointer */
    j = parse("{\"a/b~c\":1}");
    err_init(&e);
    ck_assert_int_eq(v_object(j, "/items/0", allowed, &e), -1);
    ck_assert_str_eq(first_pointer(&e), "/items/0/a~1b~0c");
    err_release(&e);
    json_decref(j);

    j = parse("[1]");
    err_init(&e);
    ck_assert_int_eq(v_object(j, "", allowed, &e), -1);
    ck_assert_str_eq(first_pointer(&e), "");
    err_release(&e);
    json_decref(j);
}
END_TEST

static const struct {
    const char *json;
    int ok;
    int value;
} int_cases[] = {
    {"{\"nps\":0}", 1, 0},    {"{\"nps\":10}", 1, 10},   {"{\"nps\":11}", 0, 0},
    {"{\"nps\":-1}", 0, 0},   {"{\"nps\":9.0}", 0, 0},   {"{\"nps\":\"9\"}", 0, 0},
    {"{\"nps\":true}", 0, 0}, {"{\"nps\":null}", 1, -1}, {"{}", 1, -1},
};

START_TEST(test_int_field)
{
    json_t *j = parse(int_cases[_i].json);
    struct err e;
    int v = -1;

    err_init(&e);
    ck_assert_int_eq(v_int(j, "", "nps", 0, 10, &v, &e) == 0, int_cases[_i].ok);
    if (int_cases[_i].ok) {
        ck_assert_int_eq(v, int_cases[_i].value);
    } else {
        ck_assert_str_eq(first_pointer(&e), "/nps");
        ck_assert_int_eq(v, -1); /* untouched on error */
    }
    err_release(&e);
    json_decref(j);
}
END_TEST

START_TEST(test_string_field)
{
    json_t *j = parse("{\"s\":\"ok\",\"empty\":\"\",\"num\":3,\"ctl\":\"a\\u0001b\","
                      "\"comment\":\"line\\nline\",\"name\":\"x\\ny\"}");
    const char *out;
    struct err e;

    err_init(&e);
    ck_assert_int_eq(v_string(j, "", "s", 1, 10, &out, &e), 0);
    ck_assert_str_eq(out, "ok");
    ck_assert_int_eq(v_string(j, "", "s", 1, 1, &out, &e), -1);        /* too long */
    ck_assert_int_eq(v_string(j, "", "empty", 1, 10, &out, &e), -1);   /* empty */
    ck_assert_int_eq(v_string(j, "", "num", 1, 10, &out, &e), -1);     /* type */
    ck_assert_int_eq(v_string(j, "", "ctl", 1, 10, &out, &e), -1);     /* control char */
    ck_assert_int_eq(v_string(j, "", "missing", 1, 10, &out, &e), -1); /* required */
    ck_assert_int_eq(e.nfields, 5);
    err_release(&e);
    err_init(&e);
    ck_assert_int_eq(v_string(j, "", "missing", 0, 10, &out, &e), 0);
    ck_assert_ptr_null(out);
    /* comments may span lines; other fields may not */
    ck_assert_int_eq(v_string(j, "", "comment", 0, 100, &out, &e), 0);
    ck_assert_int_eq(v_string(j, "", "name", 0, 100, &out, &e), -1);
    err_release(&e);
    json_decref(j);
}
END_TEST

START_TEST(test_cursor)
{
    char enc[64], dec[64];

    cursor_encode('r', "12345", enc, sizeof(enc));
    ck_assert_int_eq(cursor_decode(enc, 'r', dec, sizeof(dec)), 0);
    ck_assert_str_eq(dec, "12345");
    ck_assert_int_eq(cursor_decode(enc, 't', dec, sizeof(dec)), -1); /* other kind */
    ck_assert_int_eq(cursor_decode("!!!", 'r', dec, sizeof(dec)), -1);
    ck_assert_int_eq(cursor_decode("", 'r', dec, sizeof(dec)), -1);
}
END_TEST

static Suite *validate_suite(void)
{
    Suite *s = suite_create("validate");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_valid_key, 0, sizeof(key_cases) / sizeof(key_cases[0]));
    tcase_add_test(tc, test_object_unknown_field);
    tcase_add_loop_test(tc, test_int_field, 0, sizeof(int_cases) / sizeof(int_cases[0]));
    tcase_add_test(tc, test_string_field);
    tcase_add_test(tc, test_cursor);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(validate_suite)
