/*
 * The HTTP front end: libmicrohttpd with its own polling threads (epoll), one struct req per
 * request kept in *req_cls and freed in the completion callback.
 *
 * Traps handled here (see STYLE.md): replies are queued on a later call than the first, or
 * libmicrohttpd 0.9.75 answers "Connection: close"; connection timeouts and per-IP limits are
 * set, since the library's defaults (no timeout, no per-IP limit) are unsafe; thread stacks are
 * 1 MiB, enough for jansson and SQLite.
 */
#include "http.h"

#include <arpa/inet.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#define REQ_MAX_HEADERS 16
/* How much of a body over the limit is read and dropped so that the client still gets its 413
 * (a chunked upload cannot be answered before it ends); past this the connection is closed. */
#define DISCARD_MAX (8u << 20)

struct http {
    struct MHD_Daemon *daemon;
    struct http_config cfg;
    unsigned port;
    _Atomic int inflight;
    _Atomic int stopping; /* new requests get 503: nothing may be suspended any more */
};

struct req {
    struct http *http;
    struct MHD_Connection *conn;
    enum http_method method;
    const char *method_name; /* borrowed from libmicrohttpd */
    char *path;
    char *body;
    size_t len, cap;
    int too_large; /* the body is over the limit: answer 413, close */
    int answered;  /* a reply is queued already */
    size_t discarded;
    int dispatched;
    size_t limit;
    /* suspension */
    void (*start)(struct req *r, void *ctx);
    int (*finish)(struct req *r, void *ctx);
    void *suspend_ctx;
    int suspended;
    void *state;
    void (*state_free)(void *state);
    json_t *json;
    struct err err;
    char *params[REQ_MAX_PARAMS];
    char principal[64];
    int64_t start_ms;
    /* the reply */
    int status;
    const char *content_type;
    char *reply;
    size_t reply_len;
    int nheaders;
    char *hname[REQ_MAX_HEADERS], *hvalue[REQ_MAX_HEADERS];
};

static enum http_method http_method_of(const char *m)
{
    static const struct {
        const char *name;
        enum http_method method;
    } methods[] = {{"GET", HTTP_GET},        {"HEAD", HTTP_HEAD},   {"POST", HTTP_POST},
                   {"PUT", HTTP_PUT},        {"PATCH", HTTP_PATCH}, {"DELETE", HTTP_DELETE},
                   {"OPTIONS", HTTP_OPTIONS}};

    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(m, methods[i].name) == 0)
            return methods[i].method;
    return HTTP_OTHER;
}

static void req_free(struct req *r)
{
    if (!r)
        return;
    if (r->state_free)
        r->state_free(r->state);
    free(r->path);
    free(r->body);
    json_decref(r->json);
    err_release(&r->err);
    for (int i = 0; i < REQ_MAX_PARAMS; i++)
        free(r->params[i]);
    free(r->reply);
    for (int i = 0; i < r->nheaders; i++) {
        free(r->hname[i]);
        free(r->hvalue[i]);
    }
    free(r);
}

/* ---- request accessors -------------------------------------------------------------------- */

enum http_method req_method(const struct req *r)
{
    return r->method;
}

const char *req_method_name(const struct req *r)
{
    return r->method_name;
}

const char *req_path(const struct req *r)
{
    return r->path;
}

const char *req_header(struct req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *req_query(struct req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct query_iter {
    int (*fn)(const char *name, const char *value, void *ctx);
    void *ctx;
    int ret;
};

static enum MHD_Result query_iter_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct query_iter *it = cls;

    (void)kind;
    it->ret = it->fn(key, value, it->ctx);
    return it->ret ? MHD_NO : MHD_YES;
}

int req_query_each(struct req *r, int (*fn)(const char *name, const char *value, void *ctx),
                   void *ctx)
{
    struct query_iter it = {fn, ctx, 0};

    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_iter_cb, &it);
    return it.ret;
}

const char *req_body(const struct req *r, size_t *len)
{
    *len = r->len;
    return r->body ? r->body : "";
}

void req_base_url(struct req *r, char *buf, size_t len)
{
    const char *host = req_header(r, "Host");
    char fallback[64];

    /* The Host header is client input: accept only host[:port] characters. */
    if (!host || !*host || strlen(host) > 255 ||
        strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") !=
            strlen(host)) {
        snprintf(fallback, sizeof(fallback), "127.0.0.1:%u", r->http->port);
        host = fallback;
    }
    snprintf(buf, len, "http://%s", host);
}

void req_set_param(struct req *r, int i, const char *value)
{
    if (i < 0 || i >= REQ_MAX_PARAMS)
        return;
    free(r->params[i]);
    r->params[i] = value ? xstrdup(value) : NULL;
}

const char *req_param(const struct req *r, int i)
{
    return (i >= 0 && i < REQ_MAX_PARAMS) ? r->params[i] : NULL;
}

void req_set_principal(struct req *r, const char *principal)
{
    snprintf(r->principal, sizeof(r->principal), "%s", principal);
}

const char *req_principal(const struct req *r)
{
    return r->principal;
}

void req_set_json(struct req *r, json_t *json)
{
    json_decref(r->json);
    r->json = json;
}

json_t *req_json(const struct req *r)
{
    return r->json;
}

struct err *req_err(struct req *r)
{
    return &r->err;
}

void req_set_state(struct req *r, void *state, void (*free_fn)(void *state))
{
    if (r->state_free)
        r->state_free(r->state);
    r->state = state;
    r->state_free = free_fn;
}

void req_suspend(struct req *r, void (*start)(struct req *r, void *ctx),
                 int (*finish)(struct req *r, void *ctx), void *ctx)
{
    r->start = start;
    r->finish = finish;
    r->suspend_ctx = ctx;
}

void req_resume(struct req *r)
{
    MHD_resume_connection(r->conn);
}

/* ---- replies ------------------------------------------------------------------------------ */

void req_reply_raw(struct req *r, int status, const char *content_type, char *body, size_t len)
{
    free(r->reply);
    r->status = status;
    r->content_type = content_type;
    r->reply = body;
    r->reply_len = body ? len : 0;
}

void req_reply_json(struct req *r, int status, json_t *body)
{
    char *text = NULL;

    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        if (!text)
            abort(); /* out of memory: jansson reports nothing else here */
    }
    req_reply_raw(r, status, "application/json", text, text ? strlen(text) : 0);
}

void req_reply_error(struct req *r, const struct err *e)
{
    enum err_code code = e->code == ERR_NONE ? ERR_INTERNAL : e->code; /* as err_problem */
    json_t *doc = err_problem(e);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

    json_decref(doc);
    if (!text) {
        /* Not expected (err.c keeps every string well-formed UTF-8), but an error reply must
         * never take the server down: the document with its title as the detail. */
        char buf[512];
        int n = snprintf(buf, sizeof(buf),
                         "{\"type\":\"/problems/%s\",\"title\":\"%s\",\"status\":%d,"
                         "\"detail\":\"%s\"}",
                         err_slug(code), err_title(code), err_http_status(code), err_title(code));

        text = xstrdup(n > 0 && (size_t)n < sizeof(buf) ? buf : "{}");
    }
    req_reply_raw(r, err_http_status(code), "application/problem+json", text, strlen(text));
    /* the headers that belong to the status, on every path that answers with it */
    if (code == ERR_UNAUTHORIZED)
        req_add_header(r, "WWW-Authenticate", "Bearer");
    if (err_http_status(code) == 503)
        req_add_header(r, "Retry-After", "1");
}

void req_add_header(struct req *r, const char *name, const char *value)
{
    if (r->nheaders >= REQ_MAX_HEADERS)
        return;
    r->hname[r->nheaders] = xstrdup(name);
    r->hvalue[r->nheaders] = xstrdup(value);
    r->nheaders++;
}

int req_reply_status(const struct req *r)
{
    return r->status;
}

/* ---- libmicrohttpd callbacks ------------------------------------------------------------- */

static enum MHD_Result http_queue(struct req *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (!r->status) {
        struct err e;

        err_init(&e);
        err_set(&e, ERR_INTERNAL, "no reply was produced for %s %s", r->method_name, r->path);
        req_reply_error(r, &e);
        err_release(&e);
    }
    if (r->reply) {
        resp = MHD_create_response_from_buffer_with_free_callback(r->reply_len, r->reply, free);
        r->reply = NULL; /* the response owns it now */
    } else {
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    if (!resp)
        return MHD_NO;
    if (r->content_type && r->reply_len)
        MHD_add_response_header(resp, "Content-Type", r->content_type);
    for (int i = 0; i < r->nheaders; i++)
        MHD_add_response_header(resp, r->hname[i], r->hvalue[i]);
    if (r->too_large || r->status == 503)
        MHD_add_response_header(resp, "Connection", "close");
    r->answered = 1;
    ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void http_reply_too_large(struct req *r)
{
    struct err e;

    err_init(&e);
    err_set(&e, ERR_TOO_LARGE, "request body exceeds the limit of %zu bytes", r->limit);
    req_reply_error(r, &e);
    err_release(&e);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decoding of the path and of query names and values, as libmicrohttpd's own, except
 * that %00 stays as those three characters: decoded, the NUL cut the C string, and
 * "touchpoint=a%00b" filtered by "a" or "/healthz%00" answered 200. Kept, they are an unknown
 * path, parameter or value like any other. */
static size_t http_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    char *rd = s, *wr = s;
    int hi, lo;

    (void)cls;
    (void)conn;
    while (*rd) {
        if (rd[0] == '%' && (hi = hex_value(rd[1])) >= 0 && (lo = hex_value(rd[2])) >= 0 &&
            (hi | lo) != 0) {
            *wr++ = (char)(hi * 16 + lo);
            rd += 3;
        } else {
            *wr++ = *rd++;
        }
    }
    *wr = '\0';
    return (size_t)(wr - s);
}

/* Whether a Content-Length header (digits; anything else is libmicrohttpd's to refuse) declares
 * more than limit bytes: read with saturation, so that a length too large for any integer type
 * is refused at once as well instead of waiting for its body. */
static int content_length_over(const char *cl, size_t limit)
{
    unsigned long long v = 0;

    if (!cl || !*cl)
        return 0;
    for (; *cl; cl++) {
        if (*cl < '0' || *cl > '9')
            return 0;
        if (v > (ULLONG_MAX - 9) / 10)
            return 1;
        v = v * 10 + (unsigned long long)(*cl - '0');
        if (v > limit)
            return 1;
    }
    return 0;
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **req_cls)
{
    struct http *h = cls;
    struct req *r = *req_cls;

    (void)version;
    if (!r) {
        const char *cl;
        r = xcalloc(1, sizeof(*r));
        r->http = h;
        r->conn = conn;
        r->method = http_method_of(method);
        r->method_name = method;
        r->path = xstrdup(url);
        r->start_ms = util_mono_ms();
        err_init(&r->err);
        atomic_fetch_add(&h->inflight, 1);
        *req_cls = r;
        r->limit = h->cfg.body_limit;
        if (h->cfg.body_limit_for) {
            size_t limit = h->cfg.body_limit_for(method, url, h->cfg.ctx);

            if (limit)
                r->limit = limit;
        }
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (content_length_over(cl, r->limit)) {
            /* Refuse before reading: queueing now closes the connection after the reply. */
            r->too_large = 1;
            r->discarded = DISCARD_MAX; /* nothing more is read */
            http_reply_too_large(r);
            return http_queue(r);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;

        *upload_data_size = 0;
        if (r->too_large) {
            if (r->answered)
                return MHD_YES;
            r->discarded += n;
            /* libmicrohttpd cannot answer in the middle of a body: drop it up to a bound and
             * answer at its end, or close a client that keeps sending. */
            return r->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
        }
        if (r->len + n > r->limit) {
            r->too_large = 1;
            r->discarded = r->len + n;
            free(r->body);
            r->body = NULL;
            r->len = 0;
            return MHD_YES;
        }
        if (r->len + n + 1 > r->cap) {
            r->cap = (r->len + n + 1) * 2;
            if (r->cap > r->limit + 1)
                r->cap = r->limit + 1;
            r->body = xrealloc(r->body, r->cap);
        }
        memcpy(r->body + r->len, upload_data, n);
        r->len += n;
        r->body[r->len] = '\0';
        return MHD_YES;
    }
    if (r->suspended) {
        /* Resumed: the work handed off is done; finish the reply here. */
        r->suspended = 0;
        if (r->finish(r, r->suspend_ctx) < 0)
            req_reply_error(r, &r->err);
        return http_queue(r);
    }
    if (r->answered || r->dispatched)
        return MHD_YES; /* already answered */
    if (r->too_large) {
        http_reply_too_large(r);
        return http_queue(r);
    }
    r->dispatched = 1;
    if (atomic_load(&h->stopping)) {
        struct err e;

        /* Shutting down: requests in flight finish, new ones are turned away. */
        err_init(&e);
        err_set(&e, ERR_UNAVAILABLE, "the server is shutting down");
        req_reply_error(r, &e);
        err_release(&e);
        return http_queue(r);
    }
    h->cfg.dispatch(r, h->cfg.ctx);
    if (r->start && !r->status) {
        /* Suspend first, then hand off, so that the resume can never come before the
         * suspension. */
        r->suspended = 1;
        MHD_suspend_connection(conn);
        r->start(r, r->suspend_ctx);
        return MHD_YES;
    }
    return http_queue(r);
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                           enum MHD_RequestTerminationCode toe)
{
    struct http *h = cls;
    struct req *r = *req_cls;

    (void)conn;
    if (!r)
        return;
    if (h->cfg.access_log)
        log_access(r->method_name, r->path, r->status, util_mono_ms() - r->start_ms,
                   toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? NULL : "terminated early");
    req_free(r);
    *req_cls = NULL;
    atomic_fetch_sub(&h->inflight, 1);
}

static int http_parse_listen(const char *listen, struct sockaddr_storage *ss, struct err *e)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    long long port;
    size_t hl;

    if (!colon || colon == listen)
        return err_set(e, ERR_BAD_REQUEST, "listen address %s is not host:port", listen);
    if (util_parse_int(colon + 1, 0, 65535, &port) < 0)
        return err_set(e, ERR_BAD_REQUEST, "listen port in %s is not 0-65535", listen);
    hl = (size_t)(colon - listen);
    if (hl >= sizeof(host))
        return err_set(e, ERR_BAD_REQUEST, "listen host in %s is too long", listen);
    memcpy(host, listen, hl);
    host[hl] = '\0';
    memset(ss, 0, sizeof(*ss));
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

        host[hl - 1] = '\0';
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
            return err_set(e, ERR_BAD_REQUEST, "listen host %s is not an IPv6 address", host + 1);
        return 0;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
        return err_set(e, ERR_BAD_REQUEST, "listen host %s is not an IPv4 address", host);
    return 0;
}

/* libmicrohttpd's memory per connection: the request line and headers, and its read and write
 * buffers (bodies are copied out as they arrive). It clears all of it after every request: at
 * 64 KiB that memset was 1.6% of the machine's CPU at full ingest, 0.8% at 32 KiB (its
 * default; perf, the bench's ingest). Headers up to about 16 KiB fit; larger ones get 431. */
#define HTTP_CONN_MEMORY (32 * 1024)

int http_start(const struct http_config *cfg, struct http **out, struct err *e)
{
    struct sockaddr_storage ss;
    struct http *h;
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;

    if (http_parse_listen(cfg->listen, &ss, e) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h = xcalloc(1, sizeof(*h));
    h->cfg = *cfg;
    atomic_init(&h->inflight, 0);
    atomic_init(&h->stopping, 0);
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, http_access, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_NOTIFY_COMPLETED, http_completed, h, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(cfg->threads ? cfg->threads : 2), MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->conn_limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->per_ip_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout_s, MHD_OPTION_THREAD_STACK_SIZE,
        (size_t)(1 << 20), MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_UNESCAPE_CALLBACK, http_unescape,
        NULL, MHD_OPTION_END);
    if (!h->daemon) {
        free(h);
        return err_set(e, ERR_UNAVAILABLE, "cannot listen on %s", cfg->listen);
    }
    info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    *out = h;
    return 0;
}

unsigned http_port(const struct http *h)
{
    return h->port;
}

void http_stop(struct http *h, int grace_ms)
{
    int64_t deadline;

    if (!h)
        return;
    /* Stop accepting; requests already in flight get up to grace_ms to finish, and requests
     * that arrive on open connections meanwhile are answered 503, so that none is suspended
     * when the daemon stops (libmicrohttpd aborts on that). */
    atomic_store(&h->stopping, 1);
    MHD_quiesce_daemon(h->daemon);
    deadline = util_mono_ms() + grace_ms;
    while (atomic_load(&h->inflight) > 0 && util_mono_ms() < deadline) {
        struct timespec ts = {0, 10 * 1000 * 1000};

        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(h->daemon);
    free(h);
}
