/*
 * Errors: one table maps each error code to its HTTP status, problem type and title (X-macro).
 * Fallible functions return 0 or -1 and fill an optional struct err; err_set() always returns
 * -1 so callers can write `return err_set(e, ERR_NOT_FOUND, "touchpoint %s not found", key);`.
 * Only the HTTP layer turns a struct err into an RFC 9457 problem document.
 */
#ifndef POLKU_ERR_H
#define POLKU_ERR_H

#include <jansson.h>

/* X(code, http status, problem type slug, title) */
#define ERR_TABLE(X)                                                                               \
    X(ERR_NONE, 200, "none", "No error")                                                           \
    X(ERR_BAD_JSON, 400, "malformed-json", "Malformed JSON")                                       \
    X(ERR_BAD_REQUEST, 400, "bad-request", "Bad request")                                          \
    X(ERR_UNAUTHORIZED, 401, "unauthorized", "Missing or invalid API key")                         \
    X(ERR_FORBIDDEN, 403, "forbidden", "API key lacks the scope for this operation")               \
    X(ERR_NOT_FOUND, 404, "not-found", "Not found")                                                \
    X(ERR_METHOD, 405, "method-not-allowed", "Method not allowed")                                 \
    X(ERR_CONFLICT, 409, "conflict", "Conflict")                                                   \
    X(ERR_TOO_LARGE, 413, "payload-too-large", "Request body too large")                           \
    X(ERR_MEDIA_TYPE, 415, "unsupported-media-type", "Request body must be application/json")      \
    X(ERR_VALIDATION, 422, "validation-error", "Request body is invalid")                          \
    X(ERR_IDEMPOTENCY, 422, "idempotency-key-reused",                                              \
      "Idempotency-Key was already used with another request")                                     \
    X(ERR_RATE_LIMIT, 429, "rate-limited", "Too many requests")                                    \
    X(ERR_UNAVAILABLE, 503, "unavailable", "Service unavailable")                                  \
    X(ERR_INTERNAL, 500, "internal", "Internal error")

#define ERR_ENUM(code, status, slug, title) code,
enum err_code { ERR_TABLE(ERR_ENUM) ERR_CODE_COUNT };
#undef ERR_ENUM

/* Most validation errors listed in one problem document; more are counted, not listed. */
#define ERR_MAX_FIELDS 100

struct err {
    enum err_code code;
    char detail[256];
    json_t *fields; /* new (owned): array of {pointer|parameter, detail}, or NULL */
    int nfields;    /* all field errors seen, listed or not */
};

void err_init(struct err *e);
void err_release(struct err *e);
/* Sets code and a printf-style detail (first error wins for the detail). Returns -1. e may be
 * NULL. */
int err_set(struct err *e, enum err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds a field error pointing into the JSON body ("/nps", "/items/3/csat"). Sets the code to
 * ERR_VALIDATION unless one is already set. Returns -1. */
int err_field(struct err *e, const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds an error naming a query parameter; sets ERR_BAD_REQUEST unless set. Returns -1. */
int err_param(struct err *e, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int err_http_status(enum err_code code);
const char *err_slug(enum err_code code);
const char *err_title(enum err_code code);

/* Renders the problem document. Returns a new reference. */
json_t *err_problem(const struct err *e);

#endif
