/*
 * The REST resources. Each api/<resource>.c holds the handlers of one resource: they validate
 * the JSON, call the store and the metrics, and render JSON. The route table (routes.c) lists
 * every operation in the order of openapi.yaml.
 */
#ifndef POLKU_API_H
#define POLKU_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "router.h"
#include "store.h"

/* The context every handler receives. */
struct app {
    struct store *store; /* borrowed */
    const char *tz;      /* reporting time zone name, for display */
};

extern const struct route api_routes[];
extern const size_t api_nroutes;

/* Handlers, by resource. */
int api_healthz(struct req *req, struct app *app);
int api_readyz(struct req *req, struct app *app);

int api_journeys_list(struct req *req, struct app *app);
int api_journey_create(struct req *req, struct app *app);
int api_journey_get(struct req *req, struct app *app);
int api_journey_update(struct req *req, struct app *app);
int api_journey_delete(struct req *req, struct app *app);

int api_journey_overview(struct req *req, struct app *app);
int api_journey_drivers(struct req *req, struct app *app);

int api_touchpoints_list(struct req *req, struct app *app);
int api_touchpoint_create(struct req *req, struct app *app);
int api_touchpoint_get(struct req *req, struct app *app);
int api_touchpoint_update(struct req *req, struct app *app);
int api_touchpoint_delete(struct req *req, struct app *app);

int api_responses_list(struct req *req, struct app *app);
int api_response_create(struct req *req, struct app *app);
int api_responses_batch(struct req *req, struct app *app);
int api_response_get(struct req *req, struct app *app);
int api_response_delete(struct req *req, struct app *app);

/* Reads the response filters (journey, phase, touchpoint, channel, segment, customer, from, to)
 * from the query into f (strings borrowed from the request). */
int api_response_filter(struct req *req, struct response_filter *f);

int api_metrics_get(struct req *req, struct app *app);

int api_targets_list(struct req *req, struct app *app);
int api_target_create(struct req *req, struct app *app);
int api_target_delete(struct req *req, struct app *app);

int api_keys_list(struct req *req, struct app *app);
int api_key_create(struct req *req, struct app *app);
int api_key_delete(struct req *req, struct app *app);

#endif
