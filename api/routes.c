/*
 * The route table: every operation Polku serves, in the order of openapi.yaml. A unit test
 * compares this table with the spec so that neither drifts.
 */
#include "api.h"

static const char *const q_journeys[] = {NULL};
static const char *const q_touchpoints[] = {"journey", "phase", "limit", "cursor", NULL};
static const char *const q_responses[] = {"touchpoint", "phase",    "journey", "channel",
                                          "segment",    "customer", "from",    "to",
                                          "limit",      "cursor",   NULL};
static const char *const q_metrics[] = {"journey", "phase", "touchpoint", "channel", "segment",
                                        "from",    "to",    "group_by",   "fill",    NULL};
static const char *const q_overview[] = {"from", "to", "min_n", NULL};
static const char *const q_drivers[] = {"from", "to", "driver", NULL};

/* method, path template, handler, permission, operationId, allowed query parameters */
/* clang-format off */
#define ROUTE(m, path, fn, perm, op, query) {m, path, fn, perm, op, query, 0}
/* a handler that suspends the request itself (writes for the group commit) */
#define ROUTE_SELF(m, path, fn, perm, op, query) {m, path, fn, perm, op, query, ROUTE_ASYNC}
/* the same, for bodies up to the batch limit */
#define ROUTE_LARGE(m, path, fn, perm, op, query) {m, path, fn, perm, op, query, ROUTE_LARGE_BODY | ROUTE_ASYNC}
/* the same, for answers that depend on the clock (a default period ending now) */
#define ROUTE_TIMED(m, path, fn, perm, op, query) {m, path, fn, perm, op, query, ROUTE_CLOCK}

const struct route api_routes[] = {
    ROUTE(HTTP_GET, "/healthz", api_healthz, PERM_NONE, "getHealth", NULL),
    ROUTE(HTTP_GET, "/readyz", api_readyz, PERM_NONE, "getReady", NULL),
    ROUTE(HTTP_GET, "/v1/journeys", api_journeys_list, PERM_READ, "listJourneys", q_journeys),
    ROUTE(HTTP_POST, "/v1/journeys", api_journey_create, PERM_WRITE, "createJourney", NULL),
    ROUTE(HTTP_GET, "/v1/journeys/{key}", api_journey_get, PERM_READ, "getJourney", NULL),
    ROUTE(HTTP_PATCH, "/v1/journeys/{key}", api_journey_update, PERM_WRITE, "updateJourney", NULL),
    ROUTE(HTTP_DELETE, "/v1/journeys/{key}", api_journey_delete, PERM_WRITE, "deleteJourney", NULL),
    ROUTE_TIMED(HTTP_GET, "/v1/journeys/{key}/overview", api_journey_overview, PERM_READ,
          "getJourneyOverview", q_overview),
    ROUTE(HTTP_GET, "/v1/journeys/{key}/drivers", api_journey_drivers, PERM_READ,
          "getJourneyDrivers", q_drivers),
    ROUTE(HTTP_GET, "/v1/touchpoints", api_touchpoints_list, PERM_READ, "listTouchpoints",
          q_touchpoints),
    ROUTE(HTTP_POST, "/v1/touchpoints", api_touchpoint_create, PERM_WRITE, "createTouchpoint",
          NULL),
    ROUTE(HTTP_GET, "/v1/touchpoints/{key}", api_touchpoint_get, PERM_READ, "getTouchpoint", NULL),
    ROUTE(HTTP_PATCH, "/v1/touchpoints/{key}", api_touchpoint_update, PERM_WRITE,
          "updateTouchpoint", NULL),
    ROUTE(HTTP_DELETE, "/v1/touchpoints/{key}", api_touchpoint_delete, PERM_WRITE,
          "deleteTouchpoint", NULL),
    ROUTE(HTTP_GET, "/v1/responses", api_responses_list, PERM_READ, "listResponses", q_responses),
    ROUTE_SELF(HTTP_POST, "/v1/responses", api_response_create, PERM_SUBMIT, "createResponse", NULL),
    ROUTE_LARGE(HTTP_POST, "/v1/responses/batch", api_responses_batch, PERM_SUBMIT,
                "createResponseBatch", NULL),
    ROUTE(HTTP_GET, "/v1/responses/{id}", api_response_get, PERM_READ, "getResponse", NULL),
    ROUTE(HTTP_DELETE, "/v1/responses/{id}", api_response_delete, PERM_WRITE, "deleteResponse",
          NULL),
    ROUTE(HTTP_GET, "/v1/metrics", api_metrics_get, PERM_READ, "getMetrics", q_metrics),
    ROUTE(HTTP_GET, "/v1/targets", api_targets_list, PERM_READ, "listTargets", NULL),
    ROUTE(HTTP_POST, "/v1/targets", api_target_create, PERM_WRITE, "createTarget", NULL),
    ROUTE(HTTP_DELETE, "/v1/targets/{id}", api_target_delete, PERM_WRITE, "deleteTarget", NULL),
    ROUTE(HTTP_GET, "/v1/keys", api_keys_list, PERM_ADMIN, "listKeys", NULL),
    ROUTE(HTTP_POST, "/v1/keys", api_key_create, PERM_ADMIN, "createKey", NULL),
    ROUTE(HTTP_DELETE, "/v1/keys/{id}", api_key_delete, PERM_ADMIN, "deleteKey", NULL),
};
/* clang-format on */

const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);
