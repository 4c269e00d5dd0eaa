/*
 * API keys (admin): created with a scope and shown once; listed without secrets; deleted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "util.h"
#include "validate.h"

#define KEY_NAME_MAX 200
#define ORIGINS_MAX  20
#define ORIGIN_MAX   255

static json_t *key_render(const struct api_key *k)
{
    json_t *origins = k->origins ? json_loads(k->origins, 0, NULL) : NULL;

    return json_pack("{s:I, s:s, s:s, s:s, s:o, s:o}", "id", (json_int_t)k->id, "name", k->name,
                     "scope", k->scope, "prefix", k->prefix, "origins",
                     origins ? origins : json_null(), "created_at", json_time(k->created_at));
}

int api_keys_list(struct req *req, struct app *app)
{
    struct api_key *items;
    size_t n;
    json_t *arr;

    if (store_keys_list(app->store, &items, &n, req_err(req)) < 0)
        return -1;
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, key_render(&items[i]));
        api_key_release(&items[i]);
    }
    free(items);
    req_reply_json(req, HTTP_OK, json_pack("{s:o, s:n}", "items", arr, "next_cursor"));
    return 0;
}

/* An origin as browsers send it: scheme://host[:port], nothing more. */
static int key_origin_ok(const char *s)
{
    const char *host;

    if (strncmp(s, "https://", 8) == 0)
        host = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        host = s + 7;
    else
        return 0;
    if (!*host || strlen(s) > ORIGIN_MAX)
        return 0;
    return strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
           strlen(host);
}

int api_key_create(struct req *req, struct app *app)
{
    static const char *const allowed[] = {"scope", "name", "origins", NULL};
    json_t *body = req_json(req), *origins;
    struct err *e = req_err(req);
    const char *scope, *name;
    char key[AUTH_KEY_LEN + 1], prefix[AUTH_PREFIX_LEN + 1];
    struct api_key k = {0};
    json_t *out;
    size_t i;
    json_t *v;
    int ret;

    if (v_object(body, "", allowed, e) < 0 && !json_is_object(body))
        return -1;
    if (v_string(body, "", "scope", 1, 16, &scope, e) == 0 && scope && !auth_scope_perms(scope))
        err_field(e, "/scope", "must be one of submit, read, write, admin");
    v_string(body, "", "name", 1, KEY_NAME_MAX, &name, e);
    origins = json_object_get(body, "origins");
    if (origins && !json_is_null(origins)) {
        if (!json_is_array(origins) || json_array_size(origins) > ORIGINS_MAX) {
            err_field(e, "/origins", "must be an array of at most %d origins", ORIGINS_MAX);
        } else {
            json_array_foreach (origins, i, v) {
                if (!json_is_string(v) || !key_origin_ok(json_string_value(v))) {
                    char ptr[32];

                    snprintf(ptr, sizeof(ptr), "/origins/%zu", i);
                    err_field(e, ptr, "must be an origin such as https://shop.example");
                }
            }
        }
    }
    if (e->code != ERR_NONE)
        return -1;
    auth_key_generate(key, prefix, k.hash);
    k.prefix = xstrdup(prefix);
    k.scope = xstrdup(scope);
    k.name = xstrdup(name);
    k.origins =
        (origins && json_array_size(origins) > 0) ? json_dumps(origins, JSON_COMPACT) : NULL;
    ret = store_key_insert(app->store, &k, e);
    if (ret == 0) {
        out = key_render(&k);
        json_object_set_new(out, "key", json_string(key));
        req_reply_json(req, HTTP_CREATED, out);
    }
    api_key_release(&k);
    return ret;
}

int api_key_delete(struct req *req, struct app *app)
{
    long long id;

    if (util_parse_int(req_param(req, 0), 1, INT64_MAX, &id) < 0)
        return err_set(req_err(req), ERR_NOT_FOUND, "key %.32s not found", req_param(req, 0));
    if (store_key_delete(app->store, id, req_err(req)) < 0)
        return -1;
    req_reply_json(req, HTTP_NO_CONTENT, NULL);
    return 0;
}
