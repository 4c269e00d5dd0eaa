/*
 * The router: routes are data (method, path template, handler, permission, allowed query
 * parameters). router_dispatch() runs the pipeline every request shares: match the path (404,
 * 405 with Allow, CORS preflight), authenticate (401, 403), check the query parameters (400),
 * parse a JSON body (415, 400), answer If-None-Match from the data version (304), call the
 * handler, and render its error as a problem document.
 */
#ifndef POLKU_ROUTER_H
#define POLKU_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "http.h"
#include "pool.h"
#include "store.h"

struct app; /* the API's context, defined by api/ */

/* A handler fills a reply and returns 0, or fills req_err(req) and returns -1. */
typedef int (*route_handler)(struct req *req, struct app *app);

struct route {
    enum http_method method;
    const char *path; /* template: "/v1/touchpoints/{key}" */
    route_handler handler;
    unsigned perm;            /* permission needed; PERM_NONE for public routes */
    const char *operation_id; /* as in openapi.yaml */
    const char *const *query; /* NULL-terminated allowed query parameters, or NULL for none */
    unsigned flags;           /* ROUTE_* */
};

/* Bodies up to the router's large_body_limit (batches). */
#define ROUTE_LARGE_BODY 1u
/* The answer depends on the clock as well as the data (a default period ending now): the
 * ETag also changes every minute, and such handlers round "now" to the minute. */
#define ROUTE_CLOCK 2u
/* The handler suspends the request itself (it queues its write for the group commit). Other
 * routes that change data run on the router's worker pool, so that no HTTP thread waits for a
 * commit. */
#define ROUTE_ASYNC 4u

struct router {
    const struct route *routes; /* borrowed */
    size_t nroutes;
    struct auth *auth;        /* borrowed */
    struct store *store;      /* borrowed */
    struct app *app;          /* borrowed, handed to handlers */
    uint64_t boot;            /* random per process: ETags never repeat across restarts */
    const char *cors_origins; /* comma-separated allowed origins, "*" for any, NULL for none */
    size_t large_body_limit;  /* body limit of large_body routes */
    struct pool *pool;        /* borrowed: runs the handlers of writes; NULL runs them inline */
};

/* Matches path against template tmpl; on a match stores the {params} in req (may be NULL) and
 * returns 1. Parameters are single non-empty segments. */
int router_match(const char *tmpl, const char *path, struct req *req);

/* The body_limit_for function for http_config: large_body_limit for large_body routes. */
size_t router_body_limit(const char *method, const char *path, void *router);

/* The dispatch function for http_config. */
void router_dispatch(struct req *req, void *router);

/* Checks that a JSON text nests at most max_depth arrays/objects (cheap scan before parsing,
 * so deep input cannot exhaust the stack). Returns 0 when within the limit. */
int router_json_depth_ok(const char *text, size_t len, int max_depth);

#endif
