/*
 * The HTTP front end over libmicrohttpd. The only file that includes <microhttpd.h> is
 * http.c; everything else sees struct req and these accessors.
 *
 * A request's life: http.c creates a struct req on the first callback, collects the body (at
 * most the configured limit; more is answered 413), then calls the dispatch function once.
 * That function must leave a reply on the request (req_reply_*). http.c queues it, logs the
 * request, and frees the struct req when libmicrohttpd reports the request complete.
 */
#ifndef POLKU_HTTP_H
#define POLKU_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum http_method {
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_PATCH,
    HTTP_DELETE,
    HTTP_OPTIONS,
    HTTP_OTHER
};

/* HTTP statuses Polku answers with, by name. */
enum http_status {
    HTTP_OK = 200,
    HTTP_CREATED = 201,
    HTTP_NO_CONTENT = 204,
    HTTP_NOT_MODIFIED = 304,
};

struct req;
struct http;

struct http_config {
    const char *listen;  /* "host:port"; port 0 picks a free port */
    size_t body_limit;   /* bytes */
    unsigned threads;    /* polling threads */
    unsigned conn_limit; /* connections at once */
    unsigned per_ip_limit;
    unsigned timeout_s; /* idle connection timeout */
    int access_log;     /* log one line per request */
    /* The body limit for a request, when it differs from body_limit (0: use body_limit). */
    size_t (*body_limit_for)(const char *method, const char *path, void *ctx);
    /* Called once per request with the whole body collected; must set a reply or suspend. */
    void (*dispatch)(struct req *req, void *ctx);
    void *ctx;
};

/* Starts serving. *out is new. */
int http_start(const struct http_config *cfg, struct http **out, struct err *e);
/* The port actually bound. */
unsigned http_port(const struct http *h);
/* Stops accepting, waits up to grace_ms for requests in flight, then stops. Accepts NULL. */
void http_stop(struct http *h, int grace_ms);

/* ---- requests (all returned strings borrowed, valid until the reply is sent) --------------- */

enum http_method req_method(const struct req *r);
const char *req_method_name(const struct req *r);
const char *req_path(const struct req *r);
const char *req_header(struct req *r, const char *name);
/* The value of query parameter name, or NULL. */
const char *req_query(struct req *r, const char *name);
/* Calls fn for every query parameter (value may be NULL for "?flag"); stops when fn returns
 * non-zero and returns that. */
int req_query_each(struct req *r, int (*fn)(const char *name, const char *value, void *ctx),
                   void *ctx);
const char *req_body(const struct req *r, size_t *len);
/* The absolute base URL of this server as the client addressed it ("http://host:port"). */
void req_base_url(struct req *r, char *buf, size_t len);

/* Per-request slots the dispatcher fills for handlers: path parameters and the caller. */
#define REQ_MAX_PARAMS 4
void req_set_param(struct req *r, int i, const char *value); /* copies value */
const char *req_param(const struct req *r, int i);
void req_set_principal(struct req *r, const char *principal);
const char *req_principal(const struct req *r);
/* Parsed JSON body (borrowed, owned by the request); set by the dispatcher. */
void req_set_json(struct req *r, json_t *json); /* steals */
json_t *req_json(const struct req *r);
/* The request's error slot, for handlers to fill and return -1. */
struct err *req_err(struct req *r);

/* Per-request state a handler keeps across a suspension; freed with free_fn when the request
 * completes. */
void req_set_state(struct req *r, void *state, void (*free_fn)(void *state));

/* Parks the request instead of replying: http.c suspends the connection, then calls
 * start(req, ctx), which hands the work to another thread. That thread calls req_resume(req)
 * when done; finish(req, ctx) then runs on an HTTP thread and sets the reply (returning -1
 * replies with req_err). No HTTP thread waits meanwhile. */
void req_suspend(struct req *r, void (*start)(struct req *r, void *ctx),
                 int (*finish)(struct req *r, void *ctx), void *ctx);
/* Wakes a suspended request; callable from any thread, once. */
void req_resume(struct req *r);

/* ---- replies ------------------------------------------------------------------------------ */

/* Replies with body as JSON (steals body; NULL means no body). */
void req_reply_json(struct req *r, int status, json_t *body);
/* Replies with a pre-rendered body (steals body, a malloc'd string). */
void req_reply_raw(struct req *r, int status, const char *content_type, char *body, size_t len);
/* Replies with the RFC 9457 problem document for e. */
void req_reply_error(struct req *r, const struct err *e);
/* Adds a header to the reply (copied). */
void req_add_header(struct req *r, const char *name, const char *value);
int req_reply_status(const struct req *r);

#endif
