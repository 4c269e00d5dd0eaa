/*
 * Targets: POST/GET/DELETE /v1/targets, and their resolution for metric blocks (blocks.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "targets.h"
#include "util.h"
#include "validate.h"

/* What a target may be set for (blocks.c compares each with its block's score). */
static const struct {
    const char *metric;
    double min, max;
} target_metrics[] = {
    {"nps", -100, 100},
    {"csat", 0, 100},
    {"ces", 1, 7},
    {"expectation", -100, 100},
};

#define NMETRICS (sizeof(target_metrics) / sizeof(target_metrics[0]))

int targets_load(struct store *s, struct target_set *ts, struct err *e)
{
    return store_targets_list(s, &ts->items, &ts->n, e);
}

void targets_release(struct target_set *ts)
{
    for (size_t i = 0; i < ts->n; i++)
        target_release(&ts->items[i]);
    free(ts->items);
    ts->items = NULL;
    ts->n = 0;
}

static int same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

const struct target *targets_find(const struct target_set *ts, const char *metric,
                                  const struct scope *scope)
{
    const struct target *best = NULL;
    int best_rank = -1;

    for (size_t i = 0; i < ts->n; i++) {
        const struct target *t = &ts->items[i];
        int rank = -1;

        if (strcmp(t->metric, metric) != 0)
            continue;
        if (t->touchpoint)
            rank = same(t->touchpoint, scope->touchpoint) ? 3 : -1;
        else if (t->phase)
            rank = same(t->phase, scope->phase) &&
                           (!scope->journey || same(t->journey, scope->journey))
                       ? 2
                       : -1;
        else if (t->journey)
            rank = same(t->journey, scope->journey) ? 1 : -1;
        else
            rank = 0;
        if (rank > best_rank) {
            best_rank = rank;
            best = t;
        }
    }
    return best;
}

static json_t *target_render(const struct target *t)
{
    return json_pack("{s:I, s:s, s:f, s:o, s:o, s:o, s:o}", "id", (json_int_t)t->id, "metric",
                     t->metric, "value", t->value, "journey", json_opt_string(t->journey), "phase",
                     json_opt_string(t->phase), "touchpoint", json_opt_string(t->touchpoint),
                     "created_at", json_time(t->created_at));
}

int api_targets_list(struct req *req, struct app *app)
{
    struct target_set ts = {0};
    json_t *arr;

    if (targets_load(app->store, &ts, req_err(req)) < 0)
        return -1;
    arr = json_array();
    for (size_t i = 0; i < ts.n; i++)
        json_array_append_new(arr, target_render(&ts.items[i]));
    targets_release(&ts);
    req_reply_json(req, HTTP_OK, json_pack("{s:o, s:n}", "items", arr, "next_cursor"));
    return 0;
}

int api_target_create(struct req *req, struct app *app)
{
    static const char *const allowed[] = {"metric", "value",      "journey",
                                          "phase",  "touchpoint", NULL};
    json_t *body = req_json(req), *value;
    struct err *e = req_err(req);
    const char *metric, *journey, *phase, *touchpoint;
    struct target t = {0};
    size_t m = NMETRICS;
    int ret;

    if (v_object(body, "", allowed, e) < 0 && !json_is_object(body))
        return -1;
    if (v_string(body, "", "metric", 1, 16, &metric, e) == 0 && metric) {
        for (m = 0; m < NMETRICS; m++)
            if (strcmp(metric, target_metrics[m].metric) == 0)
                break;
        if (m == NMETRICS)
            err_field(e, "/metric", "must be one of nps, csat, ces, expectation");
    }
    value = json_object_get(body, "value");
    if (!json_is_number(value))
        err_field(e, "/value", "is required and must be a number");
    else if (m < NMETRICS && (json_number_value(value) < target_metrics[m].min ||
                              json_number_value(value) > target_metrics[m].max))
        err_field(e, "/value", "must be %g to %g for %s", target_metrics[m].min,
                  target_metrics[m].max, target_metrics[m].metric);
    v_keyfield(body, "", "journey", 0, &journey, e);
    v_keyfield(body, "", "phase", 0, &phase, e);
    v_keyfield(body, "", "touchpoint", 0, &touchpoint, e);
    if (touchpoint && (journey || phase))
        err_field(e, "/touchpoint",
                  "a target has one scope: a touchpoint, a phase (with its journey), or a "
                  "journey");
    if (e->code != ERR_NONE)
        return -1;
    t.metric = xstrdup(metric);
    t.value = json_number_value(value);
    t.journey = journey ? xstrdup(journey) : NULL;
    t.phase = phase ? xstrdup(phase) : NULL;
    t.touchpoint = touchpoint ? xstrdup(touchpoint) : NULL;
    ret = store_target_create(app->store, &t, e);
    if (ret == 0)
        req_reply_json(req, HTTP_CREATED, target_render(&t));
    target_release(&t);
    return ret;
}

int api_target_delete(struct req *req, struct app *app)
{
    long long id;

    if (util_parse_int(req_param(req, 0), 1, INT64_MAX, &id) < 0)
        return err_set(req_err(req), ERR_NOT_FOUND, "target %.32s not found", req_param(req, 0));
    if (store_target_delete(app->store, id, req_err(req)) < 0)
        return -1;
    req_reply_json(req, HTTP_NO_CONTENT, NULL);
    return 0;
}
