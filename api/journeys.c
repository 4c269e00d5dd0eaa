/*
 * Journeys: ordered phases, created and edited through the API; two are seeded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "util.h"
#include "validate.h"

#define NAME_MAX_LEN 200
#define PHASES_MAX   50

static json_t *api_journey_render(const struct journey *j)
{
    json_t *phases = json_array();

    for (size_t i = 0; i < j->nphases; i++)
        json_array_append_new(phases, json_pack("{s:s, s:s, s:I}", "key", j->phases[i].key, "name",
                                                j->phases[i].name, "position", (json_int_t)i));
    return json_pack("{s:s, s:s, s:o, s:o, s:o}", "key", j->key, "name", j->name, "phases", phases,
                     "created_at", json_time(j->created_at), "updated_at",
                     json_time(j->updated_at));
}

int api_journeys_list(struct req *req, struct app *app)
{
    struct journey *items;
    size_t n;
    json_t *arr;

    if (store_journeys_list(app->store, &items, &n, req_err(req)) < 0)
        return -1;
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, api_journey_render(&items[i]));
        journey_release(&items[i]);
    }
    free(items);
    req_reply_json(req, HTTP_OK, json_pack("{s:o, s:n}", "items", arr, "next_cursor"));
    return 0;
}

/* Validates a phases array into a new array of borrowed strings. */
static int journey_parse_phases(json_t *arr, struct phase **out, size_t *n, struct err *e)
{
    static const char *const allowed[] = {"key", "name", NULL};
    struct phase *phases;
    size_t i;
    json_t *v;
    int ret = 0;

    *out = NULL;
    *n = 0;
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > PHASES_MAX)
        return err_field(e, "/phases", "must be an array of 1-%d phases", PHASES_MAX);
    phases = xcalloc(json_array_size(arr), sizeof(*phases));
    json_array_foreach (arr, i, v) {
        char base[32];
        const char *key = NULL, *name = NULL;

        snprintf(base, sizeof(base), "/phases/%zu", i);
        if (v_object(v, base, allowed, e) < 0) {
            ret = -1;
            continue;
        }
        if (v_keyfield(v, base, "key", 1, &key, e) < 0)
            ret = -1;
        if (v_string(v, base, "name", 1, NAME_MAX_LEN, &name, e) < 0)
            ret = -1;
        for (size_t k = 0; key && k < i; k++) {
            if (phases[k].key && strcmp(phases[k].key, key) == 0) {
                char ptr[48];

                snprintf(ptr, sizeof(ptr), "%s/key", base);
                ret = err_field(e, ptr, "duplicate phase key %s", key);
            }
        }
        /* borrowed from the JSON; cast away const for the shared struct */
        phases[i].key = (char *)(uintptr_t)key;
        phases[i].name = (char *)(uintptr_t)name;
    }
    if (ret < 0) {
        free(phases);
        return -1;
    }
    *out = phases;
    *n = json_array_size(arr);
    return 0;
}

static int journey_reply(struct req *req, struct app *app, const char *key, int status)
{
    struct journey j = {0};
    char location[128];

    if (store_journey_get(app->store, key, &j, req_err(req)) < 0)
        return -1;
    req_reply_json(req, status, api_journey_render(&j));
    if (status == HTTP_CREATED) {
        snprintf(location, sizeof(location), "/v1/journeys/%s", key);
        req_add_header(req, "Location", location);
    }
    journey_release(&j);
    return 0;
}

int api_journey_create(struct req *req, struct app *app)
{
    static const char *const allowed[] = {"key", "name", "phases", NULL};
    json_t *body = req_json(req);
    struct err *e = req_err(req);
    const char *key = NULL, *name = NULL;
    struct journey j = {0};
    int bad = 0;

    if (v_object(body, "", allowed, e) < 0 && !json_is_object(body))
        return -1;
    bad |= v_keyfield(body, "", "key", 1, &key, e);
    bad |= v_string(body, "", "name", 1, NAME_MAX_LEN, &name, e);
    bad |= journey_parse_phases(json_object_get(body, "phases"), &j.phases, &j.nphases, e);
    if (bad || e->code != ERR_NONE) {
        free(j.phases);
        return -1;
    }
    j.key = (char *)(uintptr_t)key;
    j.name = (char *)(uintptr_t)name;
    bad = store_journey_create(app->store, &j, e);
    free(j.phases);
    if (bad < 0)
        return -1;
    return journey_reply(req, app, key, HTTP_CREATED);
}

int api_journey_get(struct req *req, struct app *app)
{
    const char *key = req_param(req, 0);

    if (!valid_key(key))
        return err_set(req_err(req), ERR_NOT_FOUND, "journey %.64s not found", key);
    return journey_reply(req, app, key, HTTP_OK);
}

int api_journey_update(struct req *req, struct app *app)
{
    static const char *const allowed[] = {"name", "phases", NULL};
    const char *key = req_param(req, 0);
    json_t *body = req_json(req);
    struct err *e = req_err(req);
    const char *name = NULL;
    struct phase *phases = NULL;
    size_t nphases = 0;
    int bad = 0;

    if (!valid_key(key))
        return err_set(e, ERR_NOT_FOUND, "journey %.64s not found", key);
    if (v_object(body, "", allowed, e) < 0 && !json_is_object(body))
        return -1;
    bad |= v_string(body, "", "name", 0, NAME_MAX_LEN, &name, e);
    if (json_object_get(body, "phases"))
        bad |= journey_parse_phases(json_object_get(body, "phases"), &phases, &nphases, e);
    if (bad || e->code != ERR_NONE) {
        free(phases);
        return -1;
    }
    bad = store_journey_update(app->store, key, name, phases, nphases, e);
    free(phases);
    if (bad < 0)
        return -1;
    return journey_reply(req, app, key, HTTP_OK);
}

int api_journey_delete(struct req *req, struct app *app)
{
    const char *key = req_param(req, 0);

    if (!valid_key(key))
        return err_set(req_err(req), ERR_NOT_FOUND, "journey %.64s not found", key);
    if (store_journey_delete(app->store, key, req_err(req)) < 0)
        return -1;
    req_reply_json(req, HTTP_NO_CONTENT, NULL);
    return 0;
}
