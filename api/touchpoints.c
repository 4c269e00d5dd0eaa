/*
 * Touchpoints: where customer and company meet; each belongs to one phase of one journey.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "paging.h"
#include "util.h"
#include "validate.h"

#define NAME_MAX_LEN    200
#define DESCRIPTION_MAX 2000
#define LIST_DEFAULT    100
#define LIST_MAX        1000

static json_t *touchpoint_render(const struct touchpoint *t)
{
    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:o, s:o}", "key", t->key, "name", t->name,
                     "description", json_opt_string(t->description), "journey", t->journey, "phase",
                     t->phase, "created_at", json_time(t->created_at), "updated_at",
                     json_time(t->updated_at));
}

int api_touchpoints_list(struct req *req, struct app *app)
{
    struct err *e = req_err(req);
    struct touchpoint_filter f = {0};
    struct touchpoint *items = NULL;
    const char *cursor = req_query(req, "cursor"), *limit = req_query(req, "limit");
    char after[KEY_MAX + 1], next[256];
    long long lim = LIST_DEFAULT;
    size_t n = 0;
    json_t *arr, *body;

    f.journey = req_query(req, "journey");
    f.phase = req_query(req, "phase");
    if (f.journey)
        q_key("journey", f.journey, e);
    if (f.phase)
        q_key("phase", f.phase, e);
    if (limit)
        q_int("limit", limit, 1, LIST_MAX, &lim, e);
    if (cursor) {
        if (cursor_decode(cursor, 't', after, sizeof(after)) < 0 || !valid_key(after))
            err_param(e, "cursor", "is not a cursor this server issued");
        else
            f.after = after;
    }
    if (e->code != ERR_NONE)
        return -1;
    f.limit = (int)lim + 1; /* one more tells whether another page exists */
    if (store_touchpoints_list(app->store, &f, &items, &n, e) < 0)
        return -1;
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if ((long long)i < lim)
            json_array_append_new(arr, touchpoint_render(&items[i]));
    }
    body = json_pack("{s:o}", "items", arr);
    if ((long long)n > lim) {
        cursor_encode('t', items[lim - 1].key, next, sizeof(next));
        json_object_set_new(body, "next_cursor", json_string(next));
        paging_link_next(req, next);
    } else {
        json_object_set_new(body, "next_cursor", json_null());
    }
    for (size_t i = 0; i < n; i++)
        touchpoint_release(&items[i]);
    free(items);
    req_reply_json(req, HTTP_OK, body);
    return 0;
}

static int touchpoint_reply(struct req *req, struct app *app, const char *key, int status)
{
    struct touchpoint t = {0};
    char location[128];

    if (store_touchpoint_get(app->store, key, &t, req_err(req)) < 0)
        return -1;
    req_reply_json(req, status, touchpoint_render(&t));
    if (status == HTTP_CREATED) {
        snprintf(location, sizeof(location), "/v1/touchpoints/%s", key);
        req_add_header(req, "Location", location);
    }
    touchpoint_release(&t);
    return 0;
}

int api_touchpoint_create(struct req *req, struct app *app)
{
    static const char *const allowed[] = {"key", "name", "journey", "phase", "description", NULL};
    json_t *body = req_json(req);
    struct err *e = req_err(req);
    const char *key, *name, *journey, *phase, *description;
    struct touchpoint t = {0};
    int ret;

    if (v_object(body, "", allowed, e) < 0 && !json_is_object(body))
        return -1;
    v_keyfield(body, "", "key", 1, &key, e);
    v_string(body, "", "name", 1, NAME_MAX_LEN, &name, e);
    v_keyfield(body, "", "journey", 1, &journey, e);
    v_keyfield(body, "", "phase", 1, &phase, e);
    v_string(body, "", "description", 0, DESCRIPTION_MAX, &description, e);
    if (e->code != ERR_NONE)
        return -1;
    t.key = xstrdup(key);
    t.name = xstrdup(name);
    t.journey = xstrdup(journey);
    t.phase = xstrdup(phase);
    t.description = description ? xstrdup(description) : NULL;
    ret = store_touchpoint_create(app->store, &t, e);
    touchpoint_release(&t);
    if (ret < 0)
        return -1;
    return touchpoint_reply(req, app, key, HTTP_CREATED);
}

int api_touchpoint_get(struct req *req, struct app *app)
{
    const char *key = req_param(req, 0);

    if (!valid_key(key))
        return err_set(req_err(req), ERR_NOT_FOUND, "touchpoint %.64s not found", key);
    return touchpoint_reply(req, app, key, HTTP_OK);
}

int api_touchpoint_update(struct req *req, struct app *app)
{
    static const char *const allowed[] = {"name", "journey", "phase", "description", NULL};
    const char *key = req_param(req, 0);
    json_t *body = req_json(req);
    struct err *e = req_err(req);
    const char *name, *journey, *phase, *description;
    struct touchpoint t = {0};
    int ret;

    if (!valid_key(key))
        return err_set(e, ERR_NOT_FOUND, "touchpoint %.64s not found", key);
    if (v_object(body, "", allowed, e) < 0 && !json_is_object(body))
        return -1;
    v_string(body, "", "name", 0, NAME_MAX_LEN, &name, e);
    v_keyfield(body, "", "journey", 0, &journey, e);
    v_keyfield(body, "", "phase", 0, &phase, e);
    v_string(body, "", "description", 0, DESCRIPTION_MAX, &description, e);
    if (journey && !phase)
        err_field(e, "/phase", "is required when the journey changes");
    if (e->code != ERR_NONE)
        return -1;
    t.name = name ? xstrdup(name) : NULL;
    t.journey = journey ? xstrdup(journey) : NULL;
    t.phase = phase ? xstrdup(phase) : NULL;
    t.description = description ? xstrdup(description) : NULL;
    ret = store_touchpoint_update(app->store, key, &t, json_object_get(body, "description") != NULL,
                                  e);
    if (ret == 0)
        req_reply_json(req, HTTP_OK, touchpoint_render(&t));
    touchpoint_release(&t);
    return ret;
}

int api_touchpoint_delete(struct req *req, struct app *app)
{
    const char *key = req_param(req, 0);

    if (!valid_key(key))
        return err_set(req_err(req), ERR_NOT_FOUND, "touchpoint %.64s not found", key);
    if (store_touchpoint_delete(app->store, key, req_err(req)) < 0)
        return -1;
    req_reply_json(req, HTTP_NO_CONTENT, NULL);
    return 0;
}
