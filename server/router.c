/*
 * Route matching and the request pipeline shared by every route.
 */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

#define JSON_MAX_DEPTH 16

int router_match(const char *tmpl, const char *path, struct req *req)
{
    const char *t = tmpl, *p = path;
    int nparam = 0;

    while (*t && *p) {
        if (*t == '{') {
            const char *tend = strchr(t, '}');
            const char *pend = strchr(p, '/');
            size_t n = pend ? (size_t)(pend - p) : strlen(p);

            if (!tend || n == 0 || n > 200)
                return 0;
            if (req && nparam < REQ_MAX_PARAMS) {
                char *v = xstrndup(p, n);

                req_set_param(req, nparam, v);
                free(v);
            }
            nparam++;
            t = tend + 1;
            p += n;
            continue;
        }
        if (*t != *p)
            return 0;
        t++;
        p++;
    }
    return *t == '\0' && *p == '\0';
}

int router_json_depth_ok(const char *text, size_t len, int max_depth)
{
    int depth = 0, in_string = 0;

    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return -1;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 0;
}

static int router_origin_allowed(const struct router *rt, const char *origin)
{
    const char *p;
    size_t n;

    if (!origin || !rt->cors_origins || !*rt->cors_origins)
        return 0;
    if (strcmp(rt->cors_origins, "*") == 0)
        return 1;
    n = strlen(origin);
    for (p = rt->cors_origins; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);

        while (len && *p == ' ')
            p++, len--;
        if (len == n && strncasecmp(p, origin, n) == 0)
            return 1;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

static const char *router_method_name(enum http_method m)
{
    static const char *const names[] = {"GET",   "HEAD",   "POST",    "PUT",
                                        "PATCH", "DELETE", "OPTIONS", "OTHER"};
    return names[m];
}

/* Whether route r serves path (and then, with req, sets its parameters). A path that is some
 * route's path without parameters names that resource ("/v1/responses/batch"), not a
 * parameter of another ("/v1/responses/{id}"): GET on it is 405, not a lookup of the response
 * "batch". */
static int router_serves(const struct router *rt, const struct route *r, const char *path,
                         struct req *req)
{
    if (!strchr(r->path, '{'))
        return router_match(r->path, path, req);
    if (!router_match(r->path, path, NULL))
        return 0;
    for (size_t i = 0; i < rt->nroutes; i++)
        if (!strchr(rt->routes[i].path, '{') && strcmp(rt->routes[i].path, path) == 0)
            return 0;
    return router_match(r->path, path, req);
}

/* Fills allow with the methods routed for path ("GET, HEAD, POST"); returns how many. */
static int router_allow(const struct router *rt, const char *path, char *allow, size_t len)
{
    int n = 0;

    allow[0] = '\0';
    for (size_t i = 0; i < rt->nroutes; i++) {
        if (!router_serves(rt, &rt->routes[i], path, NULL))
            continue;
        if (n++)
            strncat(allow, ", ", len - strlen(allow) - 1);
        strncat(allow, router_method_name(rt->routes[i].method), len - strlen(allow) - 1);
        if (rt->routes[i].method == HTTP_GET)
            strncat(allow, ", HEAD", len - strlen(allow) - 1);
    }
    return n;
}

struct query_check {
    const struct route *route;
    struct err *e;
    const char *seen[32];
    int nseen;
};

static int router_query_cb(const char *name, const char *value, void *ctx)
{
    struct query_check *q = ctx;
    int allowed = 0;

    for (const char *const *a = q->route->query; a && *a; a++)
        if (strcmp(*a, name) == 0)
            allowed = 1;
    if (!allowed) {
        err_param(q->e, name, "unknown query parameter");
        return 1;
    }
    if (!value) {
        /* "?limit" without "=": handlers would read it as absent */
        err_param(q->e, name, "has no value; write %s=...", name);
        return 1;
    }
    for (int i = 0; i < q->nseen; i++) {
        if (strcmp(q->seen[i], name) == 0) {
            err_param(q->e, name, "given more than once");
            return 1;
        }
    }
    if (q->nseen < 32)
        q->seen[q->nseen++] = name;
    return 0;
}

static int router_is_json(const char *content_type)
{
    size_t n = strlen("application/json");

    if (!content_type)
        return 0;
    while (*content_type == ' ')
        content_type++;
    return strncasecmp(content_type, "application/json", n) == 0 &&
           (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

/* Parses the request body into req's JSON slot. */
static int router_parse_body(struct req *req, struct err *e)
{
    size_t len;
    const char *body = req_body(req, &len);
    json_error_t jerr;
    json_t *json;

    if (!router_is_json(req_header(req, "Content-Type")))
        return err_set(e, ERR_MEDIA_TYPE, "send the body as Content-Type: application/json");
    if (len == 0)
        return err_set(e, ERR_BAD_JSON, "the request body is empty");
    if (memchr(body, '\0', len))
        return err_set(e, ERR_BAD_JSON, "the request body contains a NUL byte");
    if (router_json_depth_ok(body, len, JSON_MAX_DEPTH) < 0)
        return err_set(e, ERR_BAD_JSON, "JSON nests deeper than %d levels", JSON_MAX_DEPTH);
    json = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json)
        return err_set(e, ERR_BAD_JSON, "malformed JSON at line %d column %d: %s", jerr.line,
                       jerr.column, jerr.text);
    req_set_json(req, json);
    return 0;
}

struct etag_ctx {
    struct sha256 h;
};

static int router_etag_query_cb(const char *name, const char *value, void *ctx)
{
    struct etag_ctx *c = ctx;

    sha256_update(&c->h, name, strlen(name) + 1);
    if (value)
        sha256_update(&c->h, value, strlen(value) + 1);
    sha256_update(&c->h, "&", 1);
    return 0;
}

/* A strong ETag for a read: the data version, the process, and the request. */
static void router_etag(const struct router *rt, const struct route *route, struct req *req,
                        uint64_t version, char *out, size_t len)
{
    struct etag_ctx c;
    unsigned char digest[SHA256_LEN];
    char hex[33];
    uint64_t v[3] = {rt->boot, version,
                     (route->flags & ROUTE_CLOCK) ? (uint64_t)(util_now_ms() / 60000) : 0};

    sha256_init(&c.h);
    sha256_update(&c.h, v, sizeof(v));
    sha256_update(&c.h, req_path(req), strlen(req_path(req)) + 1);
    req_query_each(req, router_etag_query_cb, &c);
    sha256_final(&c.h, digest);
    util_hex(digest, 16, hex);
    snprintf(out, len, "\"%s\"", hex);
}

/* Whether an If-None-Match header lists etag: a comma-separated list of entity-tags, each
 * maybe weak (W/, compared weakly as RFC 9110 wants for If-None-Match), with optional spaces
 * and tabs around them. "*" is handled by the caller. */
static int router_etag_matches(const char *header, const char *etag)
{
    size_t n = strlen(etag);
    const char *p = header;

    if (!header)
        return 0;
    while (*p) {
        const char *end;

        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (*p != '"')
            return 0; /* not an entity-tag: the header is malformed, so no match */
        end = strchr(p + 1, '"');
        if (!end)
            return 0;
        int same = (size_t)(end + 1 - p) == n && memcmp(p, etag, n) == 0;

        p = end + 1;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p && *p != ',')
            return 0;
        if (same)
            return 1;
    }
    return 0;
}

/* Whether an If-None-Match header is "*" (any current representation). */
static int router_etag_any(const char *header)
{
    if (!header)
        return 0;
    while (*header == ' ' || *header == '\t')
        header++;
    if (*header++ != '*')
        return 0;
    while (*header == ' ' || *header == '\t')
        header++;
    return *header == '\0';
}

static void router_cors(const struct router *rt, struct req *req)
{
    const char *origin = req_header(req, "Origin");

    if (!router_origin_allowed(rt, origin))
        return;
    req_add_header(req, "Access-Control-Allow-Origin", origin);
    req_add_header(req, "Vary", "Origin");
    req_add_header(req, "Access-Control-Expose-Headers", "ETag, Link, Location, Retry-After");
}

size_t router_body_limit(const char *method, const char *path, void *ctx)
{
    const struct router *rt = ctx;

    for (size_t i = 0; i < rt->nroutes; i++)
        if ((rt->routes[i].flags & ROUTE_LARGE_BODY) && strcmp(method, "POST") == 0 &&
            rt->routes[i].method == HTTP_POST && router_match(rt->routes[i].path, path, NULL))
            return rt->large_body_limit;
    return 0;
}

/* A write handler running on the worker pool while its connection is suspended. */
struct offload {
    const struct router *rt;
    const struct route *route;
    struct req *req;
    int rc;
};

static void offload_run(void *arg)
{
    struct offload *o = arg;

    o->rc = o->route->handler(o->req, o->rt->app);
    req_resume(o->req);
}

static void offload_start(struct req *req, void *ctx)
{
    struct offload *o = ctx;

    (void)req;
    pool_submit(o->rt->pool, offload_run, o);
}

static int offload_finish(struct req *req, void *ctx)
{
    struct offload *o = ctx;

    if (o->rc < 0 && req_err(req)->code == ERR_NONE)
        err_set(req_err(req), ERR_INTERNAL, "the request failed without an error");
    return o->rc;
}

void router_dispatch(struct req *req, void *ctx)
{
    const struct router *rt = ctx;
    const struct route *route = NULL;
    enum http_method m = req_method(req);
    struct err *e = req_err(req);
    char allow[128], principal[64] = "", etag[40] = "";
    uint64_t version = 0;
    unsigned perms = 0;

    if (m == HTTP_HEAD)
        m = HTTP_GET;
    for (size_t i = 0; i < rt->nroutes; i++) {
        if (rt->routes[i].method == m && router_serves(rt, &rt->routes[i], req_path(req), req)) {
            route = &rt->routes[i];
            break;
        }
    }
    router_cors(rt, req);
    if (!route) {
        int n = router_allow(rt, req_path(req), allow, sizeof(allow));

        if (n == 0) {
            err_set(e, ERR_NOT_FOUND, "no resource at %.200s", req_path(req));
        } else if (m == HTTP_OPTIONS) {
            req_reply_json(req, HTTP_NO_CONTENT, NULL);
            req_add_header(req, "Allow", allow);
            if (router_origin_allowed(rt, req_header(req, "Origin"))) {
                req_add_header(req, "Access-Control-Allow-Methods", allow);
                req_add_header(req, "Access-Control-Allow-Headers",
                               "Authorization, Content-Type, Idempotency-Key, If-None-Match");
                req_add_header(req, "Access-Control-Max-Age", "600");
            }
            return;
        } else {
            err_set(e, ERR_METHOD, "%s is not allowed on %.200s; allowed: %s", req_method_name(req),
                    req_path(req), allow);
            req_reply_error(req, e);
            req_add_header(req, "Allow", allow);
            return;
        }
        goto fail;
    }
    if (route->perm != PERM_NONE) {
        if (auth_check(rt->auth, req_header(req, "Authorization"), req_header(req, "Origin"),
                       principal, sizeof(principal), &perms, e) < 0)
            goto fail;
        if (!(perms & route->perm)) {
            err_set(e, ERR_FORBIDDEN, "this API key may not %s %.200s", req_method_name(req),
                    req_path(req));
            goto fail;
        }
        req_set_principal(req, principal);
    }
    {
        struct query_check q = {.route = route, .e = e};

        if (req_query_each(req, router_query_cb, &q))
            goto fail;
    }
    if (m == HTTP_POST || m == HTTP_PUT || m == HTTP_PATCH) {
        if (router_parse_body(req, e) < 0)
            goto fail;
    }
    if (m == HTTP_GET && route->perm != PERM_NONE) {
        version = store_data_version(rt->store);
        router_etag(rt, route, req, version, etag, sizeof(etag));
        if (router_etag_matches(req_header(req, "If-None-Match"), etag)) {
            req_reply_json(req, HTTP_NOT_MODIFIED, NULL);
            req_add_header(req, "ETag", etag);
            return;
        }
    }
    if (m != HTTP_GET && !(route->flags & ROUTE_ASYNC) && rt->pool) {
        struct offload *o = xcalloc(1, sizeof(*o));

        o->rt = rt;
        o->route = route;
        o->req = req;
        req_set_state(req, o, free);
        req_suspend(req, offload_start, offload_finish, o);
        return;
    }
    if (route->handler(req, rt->app) < 0)
        goto fail;
    /* Only a body read at exactly that version gets its ETag: a commit begun meanwhile may
     * show in it, and a strong ETag names one body. */
    if (etag[0] && req_reply_status(req) == HTTP_OK && store_snapshot_exact(rt->store, version)) {
        if (router_etag_any(req_header(req, "If-None-Match")))
            req_reply_json(req, HTTP_NOT_MODIFIED, NULL); /* it exists: "*" matches */
        req_add_header(req, "ETag", etag);
    }
    return;
fail:
    if (e->code == ERR_NONE)
        err_set(e, ERR_INTERNAL, "the request failed without an error");
    req_reply_error(req, e);
}
