/*
 * The route table (api/routes.c) and the contract (openapi.yaml) list the same operations:
 * the same method, path template and operationId, in the same order.
 *
 * The spec is read with a small line parser that relies on its layout: under "paths:", path
 * keys at two spaces, methods at four, "operationId:" at six.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "check_main.h"

#define SPEC_MAX_OPS 256

struct spec_op {
    char method[16];
    char path[128];
    char operation_id[96];
};

static const char *method_name(enum http_method m)
{
    static const char *const names[] = {"get",   "head",   "post",    "put",
                                        "patch", "delete", "options", "other"};
    return names[m];
}

static size_t spec_read(struct spec_op *ops)
{
    const char *file = getenv("POLKU_SPEC") ? getenv("POLKU_SPEC") : "openapi.yaml";
    FILE *f = fopen(file, "r");
    char line[512], path[128] = "";
    int in_paths = 0;
    size_t n = 0;

    ck_assert_msg(f != NULL, "cannot open %s (run from the project root)", file);
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] && line[0] != ' ' && line[0] != '#') {
            in_paths = strcmp(line, "paths:") == 0;
            continue;
        }
        if (!in_paths)
            continue;
        if (strncmp(line, "  /", 3) == 0) {
            snprintf(path, sizeof(path), "%.127s", line + 2);
            path[strcspn(path, ":")] = '\0';
            /* quoted keys: strip the quotes */
            if (path[0] == '\'' || path[0] == '"')
                memmove(path, path + 1, strlen(path));
            path[strcspn(path, "'\"")] = '\0';
        } else if (strncmp(line, "    ", 4) == 0 && line[4] != ' ') {
            static const char *const methods[] = {"get", "post", "put", "patch", "delete"};

            for (size_t i = 0; i < 5; i++) {
                size_t l = strlen(methods[i]);

                if (strncmp(line + 4, methods[i], l) == 0 && line[4 + l] == ':') {
                    ck_assert_uint_lt(n, SPEC_MAX_OPS);
                    snprintf(ops[n].method, sizeof(ops[n].method), "%s", methods[i]);
                    snprintf(ops[n].path, sizeof(ops[n].path), "%s", path);
                    ops[n].operation_id[0] = '\0';
                    n++;
                }
            }
        } else if (strncmp(line, "      operationId:", 18) == 0 && n > 0) {
            const char *v = line + 18;

            while (*v == ' ')
                v++;
            snprintf(ops[n - 1].operation_id, sizeof(ops[n - 1].operation_id), "%.95s", v);
        }
    }
    fclose(f);
    return n;
}

START_TEST(test_routes_match_spec)
{
    static struct spec_op ops[SPEC_MAX_OPS];
    size_t n = spec_read(ops);

    for (size_t i = 0; i < api_nroutes && i < n; i++) {
        const struct route *r = &api_routes[i];

        ck_assert_msg(strcmp(ops[i].method, method_name(r->method)) == 0 &&
                          strcmp(ops[i].path, r->path) == 0,
                      "operation %zu: spec has %s %s, the route table %s %s", i, ops[i].method,
                      ops[i].path, method_name(r->method), r->path);
        ck_assert_msg(strcmp(ops[i].operation_id, r->operation_id) == 0,
                      "%s %s: spec operationId %s, route table %s", r->path, method_name(r->method),
                      ops[i].operation_id, r->operation_id);
    }
    ck_assert_msg(n == api_nroutes, "the spec lists %zu operations, the route table %zu", n,
                  api_nroutes);
}
END_TEST

START_TEST(test_routes_unique)
{
    for (size_t i = 0; i < api_nroutes; i++)
        for (size_t j = i + 1; j < api_nroutes; j++)
            ck_assert_msg(api_routes[i].method != api_routes[j].method ||
                              strcmp(api_routes[i].path, api_routes[j].path) != 0,
                          "route %s listed twice", api_routes[i].path);
}
END_TEST

static Suite *spec_suite(void)
{
    Suite *s = suite_create("spec");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_routes_match_spec);
    tcase_add_test(tc, test_routes_unique);
    suite_add_tcase(s, tc);
    return s;
}

CHECK_MAIN(spec_suite)
