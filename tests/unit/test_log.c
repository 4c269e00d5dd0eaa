/*
 * server/log.c: the hand-formatted access line is the JSON jansson gives for the same fields,
 * stays valid JSON for paths that are not UTF-8 or too long, and lines written by many threads
 * at once never interleave.
 */
#include <check.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "log.h"
#include "util.h"

#define NOW_MS 1790856000123LL

/* What log_access printed when it built the line with jansson. */
static char *expected_line(const char *method, const char *path, int status, int64_t ms,
                           const char *note)
{
    char ts[40], *text, *line;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I}", "level", "info", "msg", "request",
                          "method", method, "path", path, "status", status, "ms", (json_int_t)ms);

    ck_assert_ptr_nonnull(o);
    if (note)
        json_object_set_new(o, "note", json_string(note));
    util_format_time(NOW_MS, ts, sizeof(ts));
    json_object_set_new(o, "ts", json_string(ts));
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    line = malloc(strlen(text) + 2);
    sprintf(line, "%s\n", text);
    free(text);
    return line;
}

START_TEST(test_access_line_matches_jansson)
{
    static const char *const paths[] = {"/v1/responses",
                                        "/",
                                        "/v1/touchpoints/checkout-page",
                                        "/q\"uote\\back",
                                        "/ctl\x01\x1f\t\n\r\x7f",
                                        "/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80",
                                        ""};
    static const char *const notes[] = {NULL, "terminated early"};
    char buf[LOG_ACCESS_LINE_MAX];

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        for (size_t j = 0; j < 2; j++) {
            char *want = expected_line("POST", paths[i], 201 + (int)i, (int64_t)i * 1000, notes[j]);
            size_t n = log_access_line(buf, "POST", paths[i], 201 + (int)i, (int64_t)i * 1000,
                                       notes[j], NOW_MS);

            ck_assert_uint_eq(n, strlen(want));
            ck_assert_str_eq(buf, want);
            free(want);
        }
    }
}
END_TEST

/* The path in a line, parsed back. */
static char *line_path(const char *buf, size_t n)
{
    json_error_t jerr;
    json_t *o = json_loadb(buf, n, 0, &jerr);
    char *path;

    ck_assert_msg(o != NULL, "not JSON: %.*s (%s)", (int)n, buf, jerr.text);
    path = strdup(json_string_value(json_object_get(o, "path")));
    json_decref(o);
    return path;
}

START_TEST(test_access_line_of_bytes_that_are_not_utf8)
{
    /* a lone byte, an overlong '/', a surrogate, a cut sequence at the end */
    const char *path = "/a\xff"
                       "b\xc0\xaf"
                       "c\xed\xa0\x80"
                       "d\xe2\x82";
    char buf[LOG_ACCESS_LINE_MAX];
    size_t n = log_access_line(buf, "G\xffT", path, 404, 0, NULL, NOW_MS);
    char *got = line_path(buf, n);

    ck_assert_str_eq(got, "/a\xef\xbf\xbd"
                          "b\xef\xbf\xbd\xef\xbf\xbd"
                          "c\xef\xbf\xbd\xef\xbf\xbd"
                          "\xef\xbf\xbd"
                          "d\xef\xbf\xbd\xef\xbf\xbd");
    free(got);
}
END_TEST

START_TEST(test_access_line_cuts_long_paths)
{
    char path[5001], buf[LOG_ACCESS_LINE_MAX];
    size_t n;
    char *got;

    memset(path, '"', 5000); /* each byte escapes to two */
    path[5000] = '\0';
    n = log_access_line(buf, "GET", path, 414, 1, "terminated early", NOW_MS);
    ck_assert_uint_lt(n, LOG_ACCESS_LINE_MAX);
    ck_assert_int_eq(buf[n - 1], '\n');
    got = line_path(buf, n);
    ck_assert_uint_eq(strlen(got), 1024 + 3);
    ck_assert_str_eq(got + 1024, "...");
    free(got);
    /* a cut that would fall inside a character falls before it */
    memset(path, 'a', 1023);
    strcpy(path + 1023, "\xc3\xa9 and more");
    n = log_access_line(buf, "GET", path, 414, 1, NULL, NOW_MS);
    got = line_path(buf, n);
    ck_assert_uint_eq(strlen(got), 1023 + 3);
    ck_assert_str_eq(got + 1023, "...");
    free(got);
}
END_TEST

#define THREADS 4
#define LINES   2000

static void *log_many(void *arg)
{
    char path[600];

    memset(path, 'a' + (int)(intptr_t)arg, sizeof(path) - 1);
    path[sizeof(path) - 1] = '\0';
    for (int i = 0; i < LINES; i++)
        log_access("GET", path, 200, i, NULL);
    return NULL;
}

START_TEST(test_lines_from_threads_never_interleave)
{
    char name[] = "/tmp/polku-log-XXXXXX", line[LOG_ACCESS_LINE_MAX];
    int fd = mkstemp(name), saved = dup(STDERR_FILENO);
    pthread_t t[THREADS];
    FILE *f;
    int lines = 0;

    ck_assert_int_ge(fd, 0);
    dup2(fd, STDERR_FILENO);
    for (intptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, log_many, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    log_flush();
    dup2(saved, STDERR_FILENO);
    close(saved);
    f = fdopen(fd, "r");
    rewind(f);
    while (fgets(line, sizeof(line), f)) {
        char *path = line_path(line, strlen(line));

        ck_assert_uint_eq(strlen(path), 599);
        ck_assert_uint_eq(strspn(path, path[0] == 'a'   ? "a"
                                       : path[0] == 'b' ? "b"
                                       : path[0] == 'c' ? "c"
                                                        : "d"),
                          599);
        free(path);
        lines++;
    }
    fclose(f);
    unlink(name);
    ck_assert_int_eq(lines, THREADS * LINES);
}
END_TEST

/* Access lines are buffered, but reach stderr without more logging, and before a later line
 * of another kind. */
START_TEST(test_buffered_lines_reach_stderr_in_order)
{
    char name[] = "/tmp/polku-log-XXXXXX", text[4096];
    int fd = mkstemp(name), saved = dup(STDERR_FILENO);
    ssize_t n = 0;

    ck_assert_int_ge(fd, 0);
    log_flush();
    dup2(fd, STDERR_FILENO);
    log_access("GET", "/first", 200, 0, NULL);
    for (int i = 0; i < 200 && lseek(fd, 0, SEEK_END) == 0; i++)
        usleep(10 * 1000); /* the flusher writes it within 100 ms; this waits up to 2 s */
    ck_assert_int_gt(lseek(fd, 0, SEEK_END), 0);
    log_access("GET", "/second", 200, 0, NULL);
    log_info("after the second");
    dup2(saved, STDERR_FILENO);
    close(saved);
    n = pread(fd, text, sizeof(text) - 1, 0);
    ck_assert_int_gt(n, 0);
    text[n] = '\0';
    ck_assert_ptr_nonnull(strstr(text, "/first"));
    ck_assert_ptr_nonnull(strstr(text, "/second"));
    ck_assert_ptr_nonnull(strstr(text, "after the second"));
    ck_assert(strstr(text, "/second") < strstr(text, "after the second"));
    close(fd);
    unlink(name);
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("core");

    /* a test waits up to 2 s for the flusher thread: room for a loaded machine */
    tcase_set_timeout(tc, 30);

    tcase_add_test(tc, test_access_line_matches_jansson);
    tcase_add_test(tc, test_access_line_of_bytes_that_are_not_utf8);
    tcase_add_test(tc, test_access_line_cuts_long_paths);
    tcase_add_test(tc, test_lines_from_threads_never_interleave);
    tcase_add_test(tc, test_buffered_lines_reach_stderr_in_order);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(log_suite)
